/*
 * test_tag.c: pins every worked value of notes/scitags.md §1-§3.
 */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "tag.h"

struct label_vec {
	uint32_t	exp;
	uint32_t	act;
	uint32_t	label;
};

/* notes §1, "Worked values, label with all entropy bits zero". */
static const struct label_vec label_table[] = {
	{ 1, 1, 0x20004 },	/* default */
	{ 2, 1, 0x10004 },	/* atlas */
	{ 2, 9, 0x10024 },
	{ 3, 3, 0x3000C },	/* cms */
	{ 3, 14, 0x30038 },
	{ 4, 3, 0x0800C },	/* lhcb */
	{ 5, 10, 0x28028 },	/* alice */
};

Test(label, worked_table)
{
	uint32_t	label, exp, act;
	size_t		i;

	for (i = 0; i < sizeof(label_table) / sizeof(label_table[0]); i++) {
		const struct label_vec *v = &label_table[i];

		cr_assert_eq(tag_label_encode(v->exp, v->act, 0, &label), 0);
		cr_assert_eq(label, v->label, "exp %u act %u: got 0x%05X, "
		    "want 0x%05X", v->exp, v->act, label, v->label);
		tag_label_decode(v->label, &exp, &act);
		cr_assert_eq(exp, v->exp, "decode 0x%05X exp", v->label);
		cr_assert_eq(act, v->act, "decode 0x%05X act", v->label);
		cr_assert_eq(tag_label_entropy(v->label), 0);
	}
}

Test(label, all_entropy_bits)
{
	uint32_t	label, exp, act;

	cr_assert_eq(tag_label_encode(1, 2, 0xFFFFFFFF, &label), 0);
	cr_assert_eq(label, 0xE010B, "got 0x%05X", label);
	cr_assert_eq(tag_label_entropy(label), TAG_ENTROPY_MASK);
	tag_label_decode(label, &exp, &act);
	cr_assert_eq(exp, 1);
	cr_assert_eq(act, 2);
	/* Entropy must not leak into the tag bits or past 20 bits. */
	cr_assert_eq(tag_label_encode(0, 0, 0xFFFFFFFF, &label), 0);
	cr_assert_eq(label, TAG_ENTROPY_MASK);
}

Test(label, entropy_mask_value)
{
	/* Bits 1-2, 12 and 19-20 of the label, bit 1 being the MSB. */
	cr_assert_eq(TAG_ENTROPY_MASK, (3u << 18) | (1u << 8) | 3u);
}

Test(label, rev9)
{
	cr_assert_eq(tag_rev9(0), 0);
	cr_assert_eq(tag_rev9(1), 0x100);
	cr_assert_eq(tag_rev9(2), 0x080);
	cr_assert_eq(tag_rev9(3), 0x180);
	cr_assert_eq(tag_rev9(0x1FF), 0x1FF);
	cr_assert_eq(tag_rev9(0x100), 1);
	/* Only 9 bits count. */
	cr_assert_eq(tag_rev9(0x201), 0x100);
}

Test(label, round_trip_every_exp_act)
{
	uint32_t	exp, act, e, a, label, ent;

	for (exp = 0; exp <= TAG_EXP_MAX_LABEL; exp++) {
		for (act = 0; act <= TAG_ACT_MAX; act++) {
			ent = (exp * 2654435761u) ^ (act * 40503u);
			cr_assert_eq(tag_label_encode(exp, act, ent, &label),
			    0);
			cr_assert_eq(label & ~TAG_LABEL_MASK, 0);
			cr_assert_eq(tag_label_entropy(label),
			    ent & TAG_ENTROPY_MASK);
			tag_label_decode(label, &e, &a);
			cr_assert_eq(e, exp, "exp %u act %u", exp, act);
			cr_assert_eq(a, act, "exp %u act %u", exp, act);
			cr_assert_eq(tag_scitag_join(exp, act),
			    exp << 6 | act);
		}
	}
}

Test(label, out_of_range)
{
	uint32_t	label = 0x12345;

	cr_assert_eq(tag_label_encode(512, 1, 0, &label), -ERANGE);
	cr_assert_eq(tag_label_encode(1023, 1, 0, &label), -ERANGE);
	cr_assert_eq(tag_label_encode(1, 64, 0, &label), -ERANGE);
	cr_assert_eq(tag_label_encode(UINT32_MAX, UINT32_MAX, 0, &label),
	    -ERANGE);
	cr_assert_eq(label, 0x12345, "label written on error");
	cr_assert_eq(tag_label_encode(511, 63, 0, &label), 0);
	cr_assert_eq(label, 0x1FF << 9 | 63 << 2);
}

Test(label, entropy_random_is_masked)
{
	uint32_t	seen = 0, e;
	int		i;

	for (i = 0; i < 256; i++) {
		e = tag_entropy_random();
		cr_assert_eq(e & ~TAG_ENTROPY_MASK, 0, "0x%X", e);
		seen |= e;
	}
	/* 256 draws leave each of the 5 bits unset with chance 2^-256. */
	cr_assert_eq(seen, TAG_ENTROPY_MASK);
}

/* ---- §2: the scitag integer ---- */

Test(scitag, cms_14_is_206)
{
	uint32_t	exp, act;
	int		valid;

	cr_assert_eq(tag_scitag_join(3, 14), 206);
	tag_scitag_split(206, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(exp, 3);
	cr_assert_eq(act, 14);
}

Test(scitag, range_bounds)
{
	uint32_t	exp = 99, act = 99;
	int		valid = 99;

	tag_scitag_split(65, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(exp, 1);
	cr_assert_eq(act, 1);

	tag_scitag_split(65535, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(exp, 1023);
	cr_assert_eq(act, 63);

	/* Invalid means experiment 0 / activity 0, never an error. */
	{
		static const long bad[] = { 64, 0, -1, 65536, 1L << 40,
		    -65, 1 };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			exp = act = 99;
			valid = 99;
			tag_scitag_split(bad[i], &exp, &act, &valid);
			cr_assert_eq(valid, 0, "scitag %ld", bad[i]);
			cr_assert_eq(exp, 0, "scitag %ld", bad[i]);
			cr_assert_eq(act, 0, "scitag %ld", bad[i]);
		}
	}
}

Test(scitag, activity_zero_is_invalid)
{
	uint32_t	exp = 9, act = 9;
	int		valid = 9;

	/* 3 << 6 | 0 = 192: in range, but act 0 (XRootD requires >= 1). */
	tag_scitag_split(192, &exp, &act, &valid);
	cr_assert_eq(valid, 0);
	cr_assert_eq(exp, 0);
	cr_assert_eq(act, 0);
	tag_scitag_split(1023 << 6, &exp, &act, &valid);
	cr_assert_eq(valid, 0);
}

Test(scitag, exp_512_to_1023_valid_but_not_markable)
{
	uint32_t	exp, act;
	char		err[128];
	int		valid;

	tag_scitag_split(512 << 6 | 5, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(exp, 512);
	cr_assert_eq(act, 5);
	cr_assert_eq(tag_check_markable(exp, act, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "experiment 512 does not fit the flow label's "
	    "9 bits (max 511)");

	tag_scitag_split(600 << 6 | 1, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(tag_check_markable(exp, act, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "experiment 600 does not fit the flow label's "
	    "9 bits (max 511)");

	tag_scitag_split(1023 << 6 | 63, &exp, &act, &valid);
	cr_assert_eq(valid, 1);
	cr_assert_eq(tag_check_markable(exp, act, err, sizeof(err)), -ERANGE);
	cr_assert_eq(tag_check_markable(511, 63, err, sizeof(err)), 0);
}

Test(scitag, check_markable_messages)
{
	char	err[128];

	cr_assert_eq(tag_check_markable(3, 14, err, sizeof(err)), 0);
	cr_assert_eq(tag_check_markable(0, 0, err, sizeof(err)), 0,
	    "0/0 is the invalid-scitag mark");
	cr_assert_eq(tag_check_markable(1024, 1, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "experiment 1024 is out of range (max 1023)");
	cr_assert_eq(tag_check_markable(3, 64, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "activity 64 is out of range (max 63)");
	cr_assert_eq(tag_check_markable(3, 0, err, sizeof(err)), -ERANGE);
	cr_assert(strstr(err, "activity 0") != NULL, "%s", err);
	cr_assert_eq(tag_check_markable(0, 5, err, sizeof(err)), -ERANGE);
	cr_assert(strstr(err, "experiment 0") != NULL, "%s", err);
	/* No buffer: still the verdict, no crash. */
	cr_assert_eq(tag_check_markable(600, 1, NULL, 0), -ERANGE);
	/* A tiny buffer is cut, not overrun. */
	memset(err, 'x', sizeof(err));
	cr_assert_eq(tag_check_markable(600, 1, err, 8), -ERANGE);
	cr_assert_eq(strlen(err), 7);
	cr_assert_eq(err[8], 'x');
}

Test(scitag, join_truncates_to_fields)
{
	cr_assert_eq(tag_scitag_join(1, 1), 65);
	cr_assert_eq(tag_scitag_join(1023, 63), 65535);
	cr_assert_eq(tag_scitag_join(3, 64), 3 << 6, "act must not spill");
	cr_assert_eq(tag_scitag_join(1024, 1), 1);
}

/* ---- §3: extension header bytes ---- */

Test(exthdr, bytes)
{
	static const uint8_t	want_cms[8] = { 6, 0, 0x1E, 3, 0, 3, 14, 0 };
	static const uint8_t	want_big[8] = { 60, 0, 0x1E, 3, 0x03, 0xFF,
	    63, 0 };
	uint8_t			out[8];

	memset(out, 0xAA, sizeof(out));
	tag_exthdr_bytes(6, 3, 14, out);	/* TCP, cms, 14 */
	cr_assert_arr_eq(out, want_cms, 8);
	tag_exthdr_bytes(60, 1023, 63, out);	/* HBH in HBH+DO */
	cr_assert_arr_eq(out, want_big, 8);
	/* Experiment is network order: high byte first. */
	tag_exthdr_bytes(17, 0x0102, 5, out);
	cr_assert_eq(out[0], 17);
	cr_assert_eq(out[4], 0x01);
	cr_assert_eq(out[5], 0x02);
	cr_assert_eq(out[6], 5);
}

/* ---- the label in an IPv6 header ---- */

Test(ip6hdr, write_keeps_traffic_class_and_ecn)
{
	uint8_t		hdr[40];
	uint32_t	label;
	int		tc;

	for (tc = 0; tc < 256; tc++) {
		memset(hdr, 0, sizeof(hdr));
		/* Version 6, traffic class tc, label 0xFFFFF to overwrite. */
		hdr[0] = (uint8_t)(0x60 | (tc >> 4));
		hdr[1] = (uint8_t)(((tc & 0x0F) << 4) | 0x0F);
		hdr[2] = 0xFF;
		hdr[3] = 0xFF;
		hdr[4] = 0x5A;
		cr_assert_eq(tag_label_encode(3, 14, 0, &label), 0);
		tag_label_write(hdr, label);
		cr_assert_eq(hdr[0], 0x60 | (tc >> 4), "tc %d", tc);
		cr_assert_eq(hdr[1] >> 4, tc & 0x0F, "tc %d: ECN lost", tc);
		cr_assert_eq(tag_label_read(hdr), 0x30038);
		cr_assert_eq(hdr[4], 0x5A, "payload length touched");
	}
}

Test(ip6hdr, exact_bytes)
{
	/* Traffic class 0xBB: DSCP 46 (EF), ECN 3 (CE); old label 0x3FFFF. */
	uint8_t	hdr[4] = { 0x6B, 0xB3, 0xFF, 0xFF };

	tag_label_write(hdr, 0xE010B);
	cr_assert_eq(hdr[0], 0x6B);
	cr_assert_eq(hdr[1], 0xBE);
	cr_assert_eq(hdr[2], 0x01);
	cr_assert_eq(hdr[3], 0x0B);
	cr_assert_eq(tag_label_read(hdr), 0xE010B);
	/* Bits above 20 are ignored. */
	tag_label_write(hdr, 0xFFF00000 | 0x10004);
	cr_assert_eq(hdr[1], 0xB1);
	cr_assert_eq(tag_label_read(hdr), 0x10004);
}

/* ---- strategy names ---- */

Test(strategy, names)
{
	cr_assert_eq(tag_strategy_parse("flow-label"), TAG_STRAT_FLOW_LABEL);
	cr_assert_eq(tag_strategy_parse("hop-by-hop"), TAG_STRAT_HBH);
	cr_assert_eq(tag_strategy_parse("destination"), TAG_STRAT_DST);
	cr_assert_eq(tag_strategy_parse("hop-by-hop+destination"),
	    TAG_STRAT_HBH_DST);
	cr_assert_eq(tag_strategy_parse("Flow-Label"), TAG_STRAT_FLOW_LABEL);
	cr_assert_eq(tag_strategy_parse("HOP-BY-HOP"), TAG_STRAT_HBH);
	cr_assert_eq(tag_strategy_parse("flowlabel"), -EINVAL);
	cr_assert_eq(tag_strategy_parse(""), -EINVAL);
	cr_assert_eq(tag_strategy_parse(NULL), -EINVAL);
	cr_assert_eq(tag_strategy_parse("flow-label "), -EINVAL);

	cr_assert_str_eq(tag_strategy_name(TAG_STRAT_FLOW_LABEL), "flow-label");
	cr_assert_str_eq(tag_strategy_name(TAG_STRAT_HBH), "hop-by-hop");
	cr_assert_str_eq(tag_strategy_name(TAG_STRAT_DST), "destination");
	cr_assert_str_eq(tag_strategy_name(TAG_STRAT_HBH_DST),
	    "hop-by-hop+destination");
	cr_assert_str_eq(tag_strategy_name(0), "?");
	cr_assert_str_eq(tag_strategy_name(5), "?");
	cr_assert_str_eq(tag_strategy_name(-1), "?");
}
