/*
 * tag.h: SciTags encodings (notes/scitags.md §1-§3).
 *
 * Pure functions, no I/O. Experiment and activity ids are plain integers
 * here; names live in registry.h.
 */
#ifndef SCTAG_TAG_H
#define SCTAG_TAG_H

#include <stddef.h>
#include <stdint.h>

#define TAG_EXP_MAX_LABEL	511	/* 9 bits in the flow label */
#define TAG_EXP_MAX		1023	/* 10 bits in the scitag integer */
#define TAG_ACT_MAX		63	/* 6 bits */
#define TAG_ENTROPY_MASK	0xC0103u
#define TAG_LABEL_MASK		0xFFFFFu
#define TAG_SCITAG_MIN		65
#define TAG_SCITAG_MAX		65535

/* 9-bit bit reversal, as the label stores the experiment. */
uint32_t tag_rev9(uint32_t v);

/*
 * Build the 20-bit label. Only the bits of `entropy` under TAG_ENTROPY_MASK
 * are used. Returns 0 and sets *label, or -ERANGE when exp > 511 or
 * act > 63 (the label can not carry them).
 */
int tag_label_encode(uint32_t exp, uint32_t act, uint32_t entropy,
    uint32_t *label);

/* Inverse of tag_label_encode; entropy bits are ignored. */
void tag_label_decode(uint32_t label, uint32_t *exp, uint32_t *act);

/* Entropy bits of a label. */
uint32_t tag_label_entropy(uint32_t label);

/* A random entropy value (libsodium randombytes), already masked. */
uint32_t tag_entropy_random(void);

/*
 * The scitag integer that FTS, Rucio and XRootD pass: exp << 6 | act.
 * tag_scitag_split: a value outside 65..65535, or with act 0, is "invalid"
 * and means experiment 0 / activity 0 (returns 0 with both set to 0 and
 * *valid = 0); otherwise *valid = 1. Never fails.
 */
uint32_t tag_scitag_join(uint32_t exp, uint32_t act);
void tag_scitag_split(long scitag, uint32_t *exp, uint32_t *act, int *valid);

/*
 * Check that exp/act can be used for marking. Returns 0, or -ERANGE with
 * a message in err that names the value and the limit, e.g.
 * "experiment 600 does not fit the flow label's 9 bits (max 511)".
 */
int tag_check_markable(uint32_t exp, uint32_t act, char *err, size_t errlen);

/*
 * The 8-byte SciTags option header (notes §3): next header, 0, 0x1e, 3,
 * exp (16 bits, network order), act, 0.
 */
void tag_exthdr_bytes(uint8_t nexthdr, uint16_t exp, uint8_t act,
    uint8_t out[8]);

/* Write the label into IPv6 header bytes 1..3, keeping traffic class/ECN. */
void tag_label_write(uint8_t *ip6hdr, uint32_t label);
uint32_t tag_label_read(const uint8_t *ip6hdr);

/*
 * Marking strategy names: "flow-label", "hop-by-hop", "destination",
 * "hop-by-hop+destination" (case-insensitive). The numbers equal
 * enum mk_strategy in bpf/marker.h (1..4). parse returns -EINVAL if unknown.
 */
#define TAG_STRAT_FLOW_LABEL	1
#define TAG_STRAT_HBH		2
#define TAG_STRAT_DST		3
#define TAG_STRAT_HBH_DST	4
int tag_strategy_parse(const char *name);
const char *tag_strategy_name(int strategy);	/* "?" if out of range */

#endif /* SCTAG_TAG_H */
