/*
 * test_marker_prog.c: the marker program run by the kernel on crafted frames
 * (BPF_PROG_TEST_RUN), byte for byte.
 *
 * The namespace tests show marking on real links; these pin the parser and
 * the match order on frames a real stack rarely sends: QinQ, extension header
 * chains, fragments, truncation, links without L2. Needs CAP_BPF: as root.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/pkt_cls.h>
#include <criterion/criterion.h>
#include <sodium.h>

#include "marker.h"
#include "tag.h"

#define SRC	"2001:db8:1::10"
#define DST	"2001:db8:2::20"
#define SPORT	1094
#define DPORT	40000

static struct marker *m;

static void
need_root(void)
{
	if (geteuid() == 0)
		return;
	if (getenv("CI"))
		cr_assert_fail("BPF_PROG_TEST_RUN needs root (CAP_BPF); CI "
		    "runs as root, so this is a failure here");
	cr_skip_test("needs root (CAP_BPF): run as root");
}

static void
setup(void)
{
	struct marker_opts o = { .pin_dir = NULL, .capacity = 1024 };
	char err[256];

	need_root();
	cr_assert_geq(sodium_init(), 0);
	cr_assert_eq(marker_open(&m, &o, err, sizeof(err)), 0, "%s", err);
}

static void
teardown(void)
{
	marker_close(m);
	m = NULL;
}

TestSuite(prog, .init = setup, .fini = teardown, .timeout = 30);

/* --- frames ----------------------------------------------------------- */

struct frame {
	uint8_t	b[256];
	size_t	len;
	size_t	l3;	/* offset of the IPv6 header */
	size_t	l4;	/* offset of the TCP/UDP header */
};

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* vlans: list of TPIDs (0x88a8, 0x8100), nvlan of them, then IPv6. */
static void
frame_l2(struct frame *f, const uint16_t *vlans, int nvlan, uint16_t etype)
{
	int i;

	memset(f, 0, sizeof(*f));
	memset(f->b, 0x02, 12);			/* MACs */
	f->len = 12;
	for (i = 0; i < nvlan; i++) {
		put16(f->b + f->len, vlans[i]);
		put16(f->b + f->len + 2, 100 + i);	/* VLAN id */
		f->len += 4;
	}
	put16(f->b + f->len, etype);
	f->len += 2;
}

/*
 * IPv6 with traffic class 0xb9 (DSCP 46, ECN CE... whatever: every bit set
 * differently so any change shows), label 0, then ext headers, then L4.
 * exts: next-header codes of 8-byte headers (44 = fragment, with offset
 * `fragoff`).
 */
static void
frame_ip6(struct frame *f, const uint8_t *exts, int next, uint8_t proto,
    uint16_t fragoff, const char *src, const char *dst, uint16_t sport,
    uint16_t dport)
{
	uint8_t *ip = f->b + f->len;
	uint8_t first = next ? exts[0] : proto;
	int i;

	f->l3 = f->len;
	ip[0] = 0x6b;				/* version 6, TC high nibble b */
	ip[1] = 0x90;				/* TC low nibble 9, label 0 */
	ip[6] = first;
	ip[7] = 64;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	f->len += 40;
	for (i = 0; i < next; i++) {
		uint8_t *h = f->b + f->len;

		h[0] = i + 1 < next ? exts[i + 1] : proto;
		h[1] = 0;
		if (exts[i] == 44)
			put16(h + 2, fragoff);
		f->len += 8;
	}
	f->l4 = f->len;
	put16(f->b + f->len, sport);
	put16(f->b + f->len + 2, dport);
	f->len += proto == IPPROTO_TCP ? 20 : 8;
	memset(f->b + f->len, 0xab, 32);	/* payload */
	f->len += 32;
	put16(ip + 4, (uint16_t)(f->len - f->l3 - 40));
}

static void
frame_tcp(struct frame *f)
{
	frame_l2(f, NULL, 0, 0x86dd);
	frame_ip6(f, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
}

/* Run; out gets the frame as the program left it. Returns the verdict. */
static int
run(const struct frame *in, struct frame *out, int has_l2)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in->b,
	    .data_size_in = (uint32_t)in->len, .data_out = out->b,
	    .data_size_out = sizeof(out->b), .repeat = 1);
	int rc;

	memset(out, 0, sizeof(*out));
	rc = bpf_prog_test_run_opts(marker_prog_fd(m, has_l2), &o);
	cr_assert_eq(rc, 0, "BPF_PROG_TEST_RUN: %s", strerror(-rc));
	out->len = o.data_size_out;
	return (int)o.retval;
}

static uint64_t
counter(enum mk_counter c)
{
	uint64_t v[MK_C_MAX];

	cr_assert_eq(marker_counters(m, v), 0);
	return v[c];
}

/* --- rules ------------------------------------------------------------ */

static struct marker_rule
rule(uint8_t proto, const char *src, uint16_t sport, const char *dst,
    int plen, uint16_t dport, uint16_t exp, uint8_t act, int strategy)
{
	struct marker_rule r;

	memset(&r, 0, sizeof(r));
	r.proto = proto;
	if (src)
		inet_pton(AF_INET6, src, r.src);
	else
		r.src_any = 1;
	r.sport = sport;
	if (dst)
		inet_pton(AF_INET6, dst, r.dst);
	r.dst_plen = (uint8_t)plen;
	r.dport = dport;
	r.exp = exp;
	r.act = act;
	r.strategy = (uint8_t)strategy;
	return r;
}

static void
add(struct marker_rule r)
{
	enum marker_add what;
	char err[256];

	cr_assert_eq(marker_rule_add(m, &r, &what, err, sizeof(err)), 0, "%s",
	    err);
}

static struct marker_rule
exact(uint16_t exp, uint8_t act, int strategy)
{
	return rule(IPPROTO_TCP, SRC, SPORT, DST, 128, DPORT, exp, act,
	    strategy);
}

static uint32_t
label_at(const struct frame *f, size_t l3)
{
	return tag_label_read(f->b + l3);
}

static void
assert_tag(const struct frame *f, size_t l3, uint32_t exp, uint32_t act)
{
	uint32_t e, a, label = label_at(f, l3);

	tag_label_decode(label, &e, &a);
	cr_assert_eq(e, exp, "label 0x%05x: experiment %u, want %u", label, e,
	    exp);
	cr_assert_eq(a, act, "label 0x%05x: activity %u, want %u", label, a,
	    act);
	/* Version and traffic class untouched, ECN included. */
	cr_assert_eq(f->b[l3], 0x6b);
	cr_assert_eq(f->b[l3 + 1] & 0xf0, 0x90);
}

/* Everything but the three label bytes is as sent. */
static void
assert_only_label_changed(const struct frame *in, const struct frame *out)
{
	cr_assert_eq(out->len, in->len);
	cr_assert_arr_eq(out->b, in->b, in->l3 + 1);
	cr_assert_eq(out->b[in->l3 + 1] & 0xf0, in->b[in->l3 + 1] & 0xf0);
	cr_assert_arr_eq(out->b + in->l3 + 4, in->b + in->l3 + 4,
	    in->len - in->l3 - 4);
}

/* --- tests ------------------------------------------------------------- */

Test(prog, exact_rule_writes_the_label_and_nothing_else)
{
	struct frame in, out;
	struct mk_rule got;
	struct marker_rule r = exact(2, 4, MK_STRAT_FLOW_LABEL);

	frame_tcp(&in);
	add(r);
	cr_assert_eq(run(&in, &out, 1), TC_ACT_UNSPEC);
	assert_tag(&out, in.l3, 2, 4);
	assert_only_label_changed(&in, &out);
	/* The entropy on the wire is the one the rule was given. */
	cr_assert_eq(marker_rule_get(m, &r, &got), 0);
	cr_assert_eq(label_at(&out, in.l3), got.label);
	cr_assert_eq(counter(MK_C_MARK_FLOW_LABEL), 1);
	cr_assert_eq(counter(MK_C_MATCHED), 1);
}

Test(prog, worked_values_from_the_notes)
{
	static const struct { uint16_t exp; uint8_t act; uint32_t label; } v[] =
	    { { 1, 1, 0x20004 }, { 2, 9, 0x10024 }, { 3, 14, 0x30038 },
	    { 4, 3, 0x0800c }, { 5, 10, 0x28028 } };
	struct frame in, out;
	size_t i;

	frame_tcp(&in);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		add(exact(v[i].exp, v[i].act, MK_STRAT_FLOW_LABEL));
		run(&in, &out, 1);
		cr_assert_eq(label_at(&out, in.l3) & ~TAG_ENTROPY_MASK,
		    v[i].label, "%u/%u: 0x%05x", v[i].exp, v[i].act,
		    label_at(&out, in.l3));
	}
}

Test(prog, no_rule_leaves_the_frame_alone)
{
	struct frame in, out;

	frame_tcp(&in);
	add(rule(IPPROTO_TCP, SRC, SPORT, DST, 128, DPORT + 1, 2, 4,
	    MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	cr_assert_eq(out.len, in.len);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_SKIP_NO_MATCH), 1);
}

Test(prog, ipv4_and_arp_pass_untouched)
{
	struct frame in, out;

	add(rule(0, NULL, 0, NULL, 0, 0, 2, 4, MK_STRAT_FLOW_LABEL));
	frame_l2(&in, NULL, 0, 0x0800);
	memset(in.b + in.len, 0x45, 40);
	in.len += 40;
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_l2(&in, NULL, 0, 0x0806);
	memset(in.b + in.len, 0, 28);
	in.len += 28;
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_SKIP_NOT_IPV6), 2);
	cr_assert_eq(counter(MK_C_MATCHED), 0);
}

Test(prog, vlan_8021q_and_qinq_in_the_frame)
{
	static const uint16_t q[] = { 0x8100 }, qinq[] = { 0x88a8, 0x8100 };
	struct frame in, out;

	add(exact(3, 14, MK_STRAT_FLOW_LABEL));
	frame_l2(&in, q, 1, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	cr_assert_eq(in.l3, 18);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 3, 14);
	assert_only_label_changed(&in, &out);

	frame_l2(&in, qinq, 2, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	cr_assert_eq(in.l3, 22);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 3, 14);
	assert_only_label_changed(&in, &out);
}

Test(prog, three_vlan_tags_are_not_followed)
{
	static const uint16_t q3[] = { 0x88a8, 0x8100, 0x8100 };
	struct frame in, out;

	add(exact(3, 14, MK_STRAT_FLOW_LABEL));
	frame_l2(&in, q3, 3, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_SKIP_NOT_IPV6), 1);
}

Test(prog, extension_headers_are_walked_to_the_ports)
{
	static const uint8_t chain[] = { 0, 43, 60, 44 };
	struct frame in, out;

	add(rule(IPPROTO_UDP, SRC, SPORT, DST, 128, DPORT, 5, 10,
	    MK_STRAT_FLOW_LABEL));
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, chain, 4, IPPROTO_UDP, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 5, 10);
	assert_only_label_changed(&in, &out);
}

Test(prog, later_fragments_esp_and_icmpv6_have_no_ports)
{
	static const uint8_t frag[] = { 44 };
	struct frame in, out;

	add(rule(0, NULL, 0, NULL, 0, 0, 2, 4, MK_STRAT_FLOW_LABEL));
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, frag, 1, IPPROTO_TCP, 1480, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, 50, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, 58, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_SKIP_NOT_L4), 3);
	/* A first fragment carries the ports and is marked. */
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, frag, 1, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 2, 4);
}

Test(prog, truncated_and_overlong_chains_are_counted)
{
	static const uint8_t seven[] = { 60, 60, 60, 60, 60, 60, 60 };
	struct frame in, out;

	add(rule(0, NULL, 0, NULL, 0, 0, 2, 4, MK_STRAT_FLOW_LABEL));
	/*
	 * IPv6 header cut: the kernel's test run refuses such a frame with
	 * an IPv6 EtherType, so the L3 program gets it (bytes 12-13 are then
	 * address bytes, chosen not to look like an EtherType it checks).
	 */
	frame_tcp(&in);
	memmove(in.b, in.b + 14, 30);
	in.len = 30;
	run(&in, &out, 0);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_tcp(&in);
	in.len = in.l4 + 2;			/* ports cut */
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, seven, 7, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_SKIP_TRUNCATED), 3);
	cr_assert_eq(counter(MK_C_MATCHED), 0);
}

Test(prog, links_without_l2_header)
{
	struct frame eth, in, out;

	add(rule(IPPROTO_TCP, SRC, SPORT, DST, 128, DPORT, 2, 9,
	    MK_STRAT_FLOW_LABEL));
	frame_tcp(&eth);
	memset(&in, 0, sizeof(in));
	memcpy(in.b, eth.b + 14, eth.len - 14);
	in.len = eth.len - 14;
	in.l3 = 0;
	in.l4 = eth.l4 - 14;
	run(&in, &out, 0);
	assert_tag(&out, 0, 2, 9);
	assert_only_label_changed(&in, &out);
}

/* The 5 entropy bits (19, 18, 8, 1, 0) as a number 0..31. */
static int
entropy_index(uint32_t label)
{
	return (int)(((label >> 18) & 3) << 3 | ((label >> 8) & 1) << 2 |
	    (label & 3));
}

Test(prog, wildcard_entropy_is_a_function_of_the_tuple)
{
	struct frame in, out;
	uint32_t l1, l2, seen = 0;
	int port;

	add(rule(IPPROTO_TCP, SRC, SPORT, DST, 128, 0, 2, 4,
	    MK_STRAT_FLOW_LABEL));
	frame_tcp(&in);
	run(&in, &out, 1);
	l1 = label_at(&out, in.l3);
	run(&in, &out, 1);
	l2 = label_at(&out, in.l3);
	cr_assert_eq(l1, l2, "same tuple, labels 0x%05x and 0x%05x", l1, l2);
	assert_tag(&out, in.l3, 2, 4);
	/* 64 remote ports: the 5 entropy bits take many values. */
	for (port = 40000; port < 40064; port++) {
		frame_l2(&in, NULL, 0, 0x86dd);
		frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT,
		    (uint16_t)port);
		run(&in, &out, 1);
		assert_tag(&out, in.l3, 2, 4);
		seen |= 1u << entropy_index(label_at(&out, in.l3));
	}
	cr_assert_geq(__builtin_popcount(seen), 8, "entropy values seen: "
	    "0x%08x", seen);
}

Test(prog, most_specific_rule_wins)
{
	struct frame in, out;

	frame_tcp(&in);
	add(rule(0, NULL, 0, DST, 128, 0, 1, 1, MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 1, 1);
	add(rule(IPPROTO_TCP, SRC, 0, DST, 128, DPORT, 4, 3,
	    MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 4, 3);
	add(rule(IPPROTO_TCP, SRC, SPORT, DST, 128, 0, 5, 10,
	    MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 5, 10);	/* local port beats remote port */
	add(exact(3, 14, MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 3, 14);
}

Test(prog, hash_rules_beat_prefixes_and_longest_prefix_wins)
{
	struct frame in, out;

	add(rule(0, NULL, 0, "2001:db8:2::", 48, 0, 3, 3,
	    MK_STRAT_FLOW_LABEL));
	add(rule(0, NULL, 0, "2001:db8:2::", 64, 0, 2, 9,
	    MK_STRAT_FLOW_LABEL));
	frame_tcp(&in);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 2, 9);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, "2001:db8:2:1::20",
	    SPORT, DPORT);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 3, 3);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, "2001:db8:3::20",
	    SPORT, DPORT);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	/* A prefix rule with a port: only that port. */
	add(rule(IPPROTO_TCP, NULL, 0, "2001:db8:3::", 48, 443, 4, 3,
	    MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, "2001:db8:3::20",
	    SPORT, 443);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 4, 3);
	/* An exact rule still beats every prefix. */
	frame_tcp(&in);
	add(exact(5, 10, MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 5, 10);
}

Test(prog, match_all_default_is_last)
{
	struct frame in, out;

	add(rule(0, NULL, 0, NULL, 0, 0, 1, 2, MK_STRAT_FLOW_LABEL));
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_UDP, 0, "2001:db8:9::1", "2001:db8::9",
	    7, 8);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 1, 2);
	/* With exact rules present, the default still covers the rest. */
	add(exact(3, 14, MK_STRAT_FLOW_LABEL));
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 1, 2);
	frame_tcp(&in);
	run(&in, &out, 1);
	assert_tag(&out, in.l3, 3, 14);
}

Test(prog, deleting_rules_unmarks_and_clears_the_shape)
{
	struct frame in, out;
	struct marker_rule r = exact(2, 4, MK_STRAT_FLOW_LABEL);
	uint32_t h[MK_NSHAPES], l[MK_NSHAPES], d;
	char err[256];

	frame_tcp(&in);
	add(r);
	marker_usage(m, h, l, &d);
	cr_assert_eq(h[MK_SHAPE_EXACT], 1);
	cr_assert_eq(marker_rule_del(m, &r, err, sizeof(err)), 0, "%s", err);
	marker_usage(m, h, l, &d);
	cr_assert_eq(h[MK_SHAPE_EXACT], 0);
	run(&in, &out, 1);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(marker_rule_del(m, &r, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "no such rule");
}

/* --- option headers ------------------------------------------------------ */

static void
check_option(const uint8_t *h, uint8_t next, uint16_t exp, uint8_t act)
{
	const uint8_t want[8] = { next, 0, 0x1e, 3, exp >> 8, exp & 0xff, act,
	    0 };

	cr_assert_arr_eq(h, want, 8, "option header %02x %02x %02x %02x %02x "
	    "%02x %02x %02x", h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
}

static void
check_grown(const struct frame *in, const struct frame *out, size_t grow,
    uint8_t first)
{
	uint16_t plen_in = in->b[in->l3 + 4] << 8 | in->b[in->l3 + 5];
	uint16_t plen_out = out->b[in->l3 + 4] << 8 | out->b[in->l3 + 5];

	cr_assert_eq(out->len, in->len + grow);
	cr_assert_eq(plen_out, plen_in + grow);
	cr_assert_eq(out->b[in->l3 + 6], first);
	/* Label, traffic class and addresses as sent; L4 and payload moved. */
	cr_assert_arr_eq(out->b, in->b, in->l3 + 4);
	cr_assert_eq(out->b[in->l3 + 7], in->b[in->l3 + 7]);
	cr_assert_arr_eq(out->b + in->l3 + 8, in->b + in->l3 + 8, 32);
	cr_assert_arr_eq(out->b + in->l4 + grow, in->b + in->l4,
	    in->len - in->l4);
}

Test(prog, destination_option_bytes)
{
	struct frame in, out;

	add(exact(2, 9, MK_STRAT_DST));
	frame_tcp(&in);
	run(&in, &out, 1);
	check_grown(&in, &out, 8, 60);
	check_option(out.b + in.l3 + 40, IPPROTO_TCP, 2, 9);
	cr_assert_eq(counter(MK_C_MARK_DST), 1);
}

Test(prog, hop_by_hop_option_bytes_with_a_wide_experiment)
{
	struct frame in, out;

	/* Option headers carry 16 bits: 600 fits there, not in the label. */
	add(rule(IPPROTO_UDP, SRC, SPORT, DST, 128, DPORT, 600, 63,
	    MK_STRAT_HBH));
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_UDP, 0, SRC, DST, SPORT, DPORT);
	run(&in, &out, 1);
	check_grown(&in, &out, 8, 0);
	check_option(out.b + in.l3 + 40, IPPROTO_UDP, 600, 63);
	cr_assert_eq(counter(MK_C_MARK_HBH), 1);
}

Test(prog, hop_by_hop_plus_destination_bytes)
{
	struct frame in, out;

	add(exact(3, 14, MK_STRAT_HBH_DST));
	frame_tcp(&in);
	run(&in, &out, 1);
	check_grown(&in, &out, 16, 0);
	check_option(out.b + in.l3 + 40, 60, 3, 14);
	check_option(out.b + in.l3 + 48, IPPROTO_TCP, 3, 14);
	cr_assert_eq(counter(MK_C_MARK_HBH_DST), 1);
}

Test(prog, option_headers_fail_open)
{
	static const uint16_t q[] = { 0x8100 };
	static const uint8_t hbh[] = { 0 };
	struct frame in, out;

	add(rule(0, NULL, 0, NULL, 0, 0, 2, 4, MK_STRAT_DST));
	/* Already has a hop-by-hop header: ours can not go first. */
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, hbh, 1, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	cr_assert_eq(run(&in, &out, 1), TC_ACT_UNSPEC);
	cr_assert_eq(out.len, in.len);
	cr_assert_arr_eq(out.b, in.b, in.len);
	/* VLAN tag in the frame: the kernel can not adjust it. */
	frame_l2(&in, q, 1, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, DPORT);
	cr_assert_eq(run(&in, &out, 1), TC_ACT_UNSPEC);
	cr_assert_eq(out.len, in.len);
	cr_assert_arr_eq(out.b, in.b, in.len);
	cr_assert_eq(counter(MK_C_FAIL_EXTHDR), 2);
	cr_assert_eq(counter(MK_C_MARK_DST), 0);
}

Test(prog, rule_table_full_is_an_error_not_an_eviction)
{
	struct marker_opts o = { .pin_dir = NULL, .capacity = 4 };
	struct marker *small;
	struct marker_rule r = exact(2, 4, MK_STRAT_FLOW_LABEL);
	enum marker_add what;
	char err[256];
	int i;

	cr_assert_eq(marker_open(&small, &o, err, sizeof(err)), 0, "%s", err);
	for (i = 0; i < 4; i++) {
		r.dport = (uint16_t)(1000 + i);
		cr_assert_eq(marker_rule_add(small, &r, &what, err,
		    sizeof(err)), 0, "%s", err);
	}
	r.dport = 2000;
	cr_assert_eq(marker_rule_add(small, &r, &what, err, sizeof(err)),
	    -ENOSPC);
	cr_assert_str_eq(err, "rule table full (capacity 4)");
	/* The earlier rules are all still there. */
	for (i = 0; i < 4; i++) {
		struct mk_rule got;

		r.dport = (uint16_t)(1000 + i);
		cr_assert_eq(marker_rule_get(small, &r, &got), 0);
	}
	/* Re-adding an existing rule is not an add. */
	r.dport = 1000;
	cr_assert_eq(marker_rule_add(small, &r, &what, err, sizeof(err)), 0);
	cr_assert_eq(what, MARKER_UNCHANGED);
	marker_close(small);
}

Test(prog, retagging_an_exact_rule_keeps_its_entropy)
{
	struct marker_rule r = exact(2, 4, MK_STRAT_FLOW_LABEL);
	struct mk_rule a, b;
	enum marker_add what;
	char err[256];

	add(r);
	cr_assert_eq(marker_rule_get(m, &r, &a), 0);
	r.exp = 3;
	r.act = 14;
	cr_assert_eq(marker_rule_add(m, &r, &what, err, sizeof(err)), 0);
	cr_assert_eq(what, MARKER_REPLACED);
	cr_assert_eq(marker_rule_get(m, &r, &b), 0);
	cr_assert_eq(tag_label_entropy(a.label), tag_label_entropy(b.label));
	cr_assert_eq(b.label & ~TAG_ENTROPY_MASK, 0x30038);
}

/* --- pins --------------------------------------------------------------- */

static void
pin_dir_for_test(char *buf, size_t len)
{
	snprintf(buf, len, "/sys/fs/bpf/sctag-prog-%d/v1", (int)getpid());
}

static void
assert_no_pins(const char *dir)
{
	char parent[128];

	cr_assert_neq(access(dir, F_OK), 0, "%s left behind", dir);
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	cr_assert_neq(access(parent, F_OK), 0, "%s left behind", parent);
}

Test(prog, one_agent_per_pin_dir)
{
	struct marker_opts o = { .capacity = 16 };
	struct marker *a, *b;
	char dir[128], err[256];

	pin_dir_for_test(dir, sizeof(dir));
	o.pin_dir = dir;
	cr_assert_eq(marker_open(&a, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(marker_open(&b, &o, err, sizeof(err)), -EBUSY);
	cr_assert(strstr(err, "in use by another sctagd") != NULL, "%s", err);
	cr_assert(strstr(err, dir) != NULL, "%s", err);
	marker_close(a);
	assert_no_pins(dir);
}

Test(prog, kept_pins_are_adopted_with_rules_and_seed)
{
	struct marker_opts o = { .capacity = 16, .keep_on_exit = 1 };
	struct marker_rule r = exact(2, 4, MK_STRAT_FLOW_LABEL);
	struct marker_rule w = rule(IPPROTO_TCP, SRC, SPORT, DST, 128, 0, 3,
	    14, MK_STRAT_FLOW_LABEL);
	struct marker *a, *b;
	struct mk_rule before, after;
	struct frame in, out;
	uint32_t wl1, h[MK_NSHAPES], l[MK_NSHAPES], d;
	char dir[128], err[256];

	pin_dir_for_test(dir, sizeof(dir));
	o.pin_dir = dir;
	cr_assert_eq(marker_open(&a, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(marker_rule_add(a, &r, &(enum marker_add){ 0 }, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(marker_rule_add(a, &w, &(enum marker_add){ 0 }, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(marker_rule_get(a, &r, &before), 0);
	/* The wildcard's label depends on the seed. */
	frame_l2(&in, NULL, 0, 0x86dd);
	frame_ip6(&in, NULL, 0, IPPROTO_TCP, 0, SRC, DST, SPORT, 50000);
	marker_close(m);
	m = a;
	run(&in, &out, 1);
	wl1 = label_at(&out, in.l3);
	marker_close(a);
	m = NULL;

	o.keep_on_exit = 0;
	cr_assert_eq(marker_open(&b, &o, err, sizeof(err)), 0, "%s", err);
	m = b;
	cr_assert_eq(marker_rule_get(b, &r, &after), 0, "rule not adopted");
	cr_assert_eq(after.label, before.label);
	marker_usage(b, h, l, &d);
	cr_assert_eq(h[MK_SHAPE_EXACT], 1);
	cr_assert_eq(h[MK_F_PROTO | MK_F_SADDR | MK_F_SPORT], 1);
	run(&in, &out, 1);
	cr_assert_eq(label_at(&out, in.l3), wl1, "seed not adopted");
	marker_close(b);
	m = NULL;
	assert_no_pins(dir);
}
