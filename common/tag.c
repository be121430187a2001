/*
 * tag.c: SciTags encodings (notes/scitags.md §1-§3).
 */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include <sodium.h>

#include "tag.h"

uint32_t
tag_rev9(uint32_t v)
{
	uint32_t	r = 0;
	int		i;

	for (i = 0; i < 9; i++) {
		r = (r << 1) | (v & 1);
		v >>= 1;
	}
	return r;
}

int
tag_label_encode(uint32_t exp, uint32_t act, uint32_t entropy,
    uint32_t *label)
{
	if (exp > TAG_EXP_MAX_LABEL || act > TAG_ACT_MAX)
		return -ERANGE;
	*label = (entropy & TAG_ENTROPY_MASK) | (tag_rev9(exp) << 9) |
	    (act << 2);
	return 0;
}

void
tag_label_decode(uint32_t label, uint32_t *exp, uint32_t *act)
{
	*act = (label >> 2) & TAG_ACT_MAX;
	*exp = tag_rev9((label >> 9) & 0x1FF);
}

uint32_t
tag_label_entropy(uint32_t label)
{
	return label & TAG_ENTROPY_MASK;
}

uint32_t
tag_entropy_random(void)
{
	/*
	 * sodium_init is idempotent and thread-safe; calling it here keeps
	 * this function usable before the daemon's own initialisation. It
	 * can only fail without a random source, and entropy has no error
	 * path to report it on.
	 */
	if (sodium_init() < 0) {
		/* randombytes_random below opens its own source */
	}
	return randombytes_random() & TAG_ENTROPY_MASK;
}

uint32_t
tag_scitag_join(uint32_t exp, uint32_t act)
{
	/* Truncate to the field widths so act can never spill into exp. */
	return ((exp & TAG_EXP_MAX) << 6) | (act & TAG_ACT_MAX);
}

void
tag_scitag_split(long scitag, uint32_t *exp, uint32_t *act, int *valid)
{
	*exp = 0;
	*act = 0;
	*valid = 0;
	/* XRootD and FTS treat act 0 as invalid too (notes §2). */
	if (scitag < TAG_SCITAG_MIN || scitag > TAG_SCITAG_MAX ||
	    (scitag & TAG_ACT_MAX) == 0)
		return;
	*exp = (uint32_t)scitag >> 6;
	*act = (uint32_t)scitag & TAG_ACT_MAX;
	*valid = 1;
}

int
tag_check_markable(uint32_t exp, uint32_t act, char *err, size_t errlen)
{
	char	dummy[1];

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (exp > TAG_EXP_MAX) {
		snprintf(err, errlen, "experiment %u is out of range (max %u)",
		    exp, TAG_EXP_MAX);
		return -ERANGE;
	}
	if (exp > TAG_EXP_MAX_LABEL) {
		snprintf(err, errlen, "experiment %u does not fit the flow "
		    "label's 9 bits (max %u)", exp, TAG_EXP_MAX_LABEL);
		return -ERANGE;
	}
	if (act > TAG_ACT_MAX) {
		snprintf(err, errlen, "activity %u is out of range (max %u)",
		    act, TAG_ACT_MAX);
		return -ERANGE;
	}
	/*
	 * 0/0 is the "invalid scitag" mark (notes §2); a zero on only one
	 * side is a bug upstream, not a tag anyone can read back.
	 */
	if (exp == 0 && act != 0) {
		snprintf(err, errlen, "experiment 0 with activity %u: "
		    "experiment 0 is only valid with activity 0", act);
		return -ERANGE;
	}
	if (act == 0 && exp != 0) {
		snprintf(err, errlen, "activity 0 is not valid for experiment "
		    "%u (activities are 1..%u)", exp, TAG_ACT_MAX);
		return -ERANGE;
	}
	return 0;
}

void
tag_exthdr_bytes(uint8_t nexthdr, uint16_t exp, uint8_t act, uint8_t out[8])
{
	out[0] = nexthdr;
	out[1] = 0;		/* (1 + 0) * 8 bytes */
	out[2] = 0x1E;		/* skip if unknown, immutable, RFC 4727 */
	out[3] = 3;
	out[4] = (uint8_t)(exp >> 8);
	out[5] = (uint8_t)exp;
	out[6] = act;
	out[7] = 0;		/* Pad1 */
}

void
tag_label_write(uint8_t *ip6hdr, uint32_t label)
{
	/* The high nibble of byte 1 is traffic class, ECN included. */
	ip6hdr[1] = (uint8_t)((ip6hdr[1] & 0xF0) | ((label >> 16) & 0x0F));
	ip6hdr[2] = (uint8_t)(label >> 8);
	ip6hdr[3] = (uint8_t)label;
}

uint32_t
tag_label_read(const uint8_t *ip6hdr)
{
	return ((uint32_t)(ip6hdr[1] & 0x0F) << 16) |
	    ((uint32_t)ip6hdr[2] << 8) | ip6hdr[3];
}

static const char *const strategy_names[] = {
	[TAG_STRAT_FLOW_LABEL] = "flow-label",
	[TAG_STRAT_HBH] = "hop-by-hop",
	[TAG_STRAT_DST] = "destination",
	[TAG_STRAT_HBH_DST] = "hop-by-hop+destination",
};

int
tag_strategy_parse(const char *name)
{
	int	i;

	if (name == NULL)
		return -EINVAL;
	for (i = TAG_STRAT_FLOW_LABEL; i <= TAG_STRAT_HBH_DST; i++)
		if (strcasecmp(name, strategy_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *
tag_strategy_name(int strategy)
{
	if (strategy < TAG_STRAT_FLOW_LABEL || strategy > TAG_STRAT_HBH_DST)
		return "?";
	return strategy_names[strategy];
}
