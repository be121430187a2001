/*
 * marker.h: owner of the BPF marker (load, attach, rules, counters, detach).
 *
 * The narrow API of the privileged side: everything that crosses it is a
 * fixed-size struct, and marker.c re-checks every field itself, because its
 * caller may be the unprivileged process.
 */
#ifndef SCTAG_MARKER_H
#define SCTAG_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include "marker_abi.h"

/* A rule as user space sees it. Host byte order for ports. */
struct marker_rule {
	uint8_t		proto;		/* IPPROTO_TCP, IPPROTO_UDP, 0 = any */
	uint8_t		src_any;	/* 1: any local address */
	uint8_t		dst_plen;	/* 0..128; 128 = one remote host */
	uint8_t		strategy;	/* enum mk_strategy */
	uint16_t	sport;		/* local port, 0 = any */
	uint16_t	dport;		/* remote port, 0 = any */
	uint8_t		src[16];
	uint8_t		dst[16];
	uint16_t	exp;
	uint8_t		act;
	uint8_t		pad;
};

struct marker_opts {
	const char	*pin_dir;	/* NULL: do not pin */
	uint32_t	 capacity;	/* rules, per map */
	int		 keep_on_exit;	/* leave filters and pins for a restart */
};

/* What marker_rule_add did. */
enum marker_add {
	MARKER_ADDED,		/* new rule */
	MARKER_UNCHANGED,	/* the same rule was there already */
	MARKER_REPLACED,	/* same match, new tag or strategy; entropy kept */
};

struct marker;

/* Errors: negative errno, with a message that names the cause in err. */
int marker_open(struct marker **, const struct marker_opts *, char *err,
    size_t errlen);
int marker_attach(struct marker *, const char *ifname, char *err,
    size_t errlen);
int marker_rule_add(struct marker *, const struct marker_rule *,
    enum marker_add *, char *err, size_t errlen);
int marker_rule_del(struct marker *, const struct marker_rule *, char *err,
    size_t errlen);
/*
 * Add only if no rule has this match: -EEXIST (nothing changed) when one
 * does. The new rule as stored (label with entropy) in *out.
 */
int marker_rule_add_new(struct marker *, const struct marker_rule *,
    struct mk_rule *out, char *err, size_t errlen);
/* Look a rule up by its match; fills *label (with entropy) if found. */
int marker_rule_get(struct marker *, const struct marker_rule *,
    struct mk_rule *out);
/* Counters summed over CPUs. */
int marker_counters(struct marker *, uint64_t out[MK_C_MAX]);
const char *marker_counter_name(enum mk_counter);
/* Rules per hash shape, per LPM shape, and the default (0 or 1). */
void marker_usage(struct marker *, uint32_t hash[MK_NSHAPES],
    uint32_t lpm[MK_NSHAPES], uint32_t *def);
uint32_t marker_capacity(const struct marker *);
/*
 * For benchmarks and tests that run the program with BPF_PROG_TEST_RUN or
 * share its maps: the fd of the Ethernet (has_l2) or L3 program, and of a
 * map by name ("mk_rules", ...). Owned by the marker; -ENOENT if unknown.
 */
int marker_prog_fd(struct marker *, int has_l2);
int marker_map_fd(struct marker *, const char *name);
/* Detach and unpin (unless keep_on_exit), free everything. NULL is fine. */
void marker_close(struct marker *);
/*
 * In a forked child: close every BPF fd and unmap .bss without touching
 * filters or pins, so the child holds nothing of the marker. NULL is fine.
 */
void marker_forget(struct marker *);

/* Validate a rule the way marker_rule_add will. */
int marker_rule_check(const struct marker_rule *, char *err, size_t errlen);

#endif /* SCTAG_MARKER_H */
