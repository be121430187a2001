/*
 * test_marker_net.c: the BPF marker driven through the marker API, on a
 * real veth pair between two network namespaces. Rules go in with
 * marker_rule_add, real sockets send from A, and what arrives in B is
 * captured with AF_PACKET and decoded bit by bit.
 *
 * A (sender, marker on its veth)  <-- veth -->  B (receiver, capture)
 * 2001:db8::1, ::11                             2001:db8::2, ::3
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "nettest.h"
#include "tag.h"

#define A	NT_ADDR_A
#define A2	NT_ADDR_A2
#define B	NT_ADDR_B
#define B2	NT_ADDR_B2
#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP
#define FL	MK_STRAT_FLOW_LABEL
#define MAXP	64
#define MIB	(1024 * 1024)

TestSuite(marker, .init = nettest_setup, .fini = nettest_teardown,
    .timeout = 90);

static uint32_t
flow_label_of(struct capture *c, uint8_t proto, const char *s, uint16_t sp,
    const char *d, uint16_t dp, uint32_t exp, uint32_t act, int tclass,
    const char *what)
{
	const struct cap_pkt *p[MAXP];
	size_t n;

	n = nettest_flow(c, proto, s, sp, d, dp, p, MAXP);
	return nettest_check_marked(p, n, exp, act, tclass, what);
}

static void
flow_unmarked(struct capture *c, uint8_t proto, const char *s, uint16_t sp,
    const char *d, uint16_t dp, int tclass, const char *what)
{
	const struct cap_pkt *p[MAXP];
	size_t n;

	n = nettest_flow(c, proto, s, sp, d, dp, p, MAXP);
	nettest_check_unmarked(p, n, tclass, what);
}

static void
udp_and_wait(struct capture *c, const char *s, uint16_t sp, const char *d,
    uint16_t dp, int tclass, int count)
{
	struct cap_tuple t;

	cap_tuple_make(&t, UDP, s, sp, d, dp);
	nettest_udp(s, sp, d, dp, tclass, 100, count);
	nettest_expect(c, &t, (size_t)count);
}

static void
tcp_probe_and_wait(struct capture *c, const char *s, uint16_t sp,
    const char *d, uint16_t dp)
{
	struct tr_flow f = { s, sp, d, dp, -1 };
	struct cap_tuple t;
	char err[256] = "";

	cap_tuple_make(&t, TCP, s, sp, d, dp);
	cr_assert_eq(tr_tcp_probe(nt.ns_a, &f, 3000, err, sizeof(err)), 0,
	    "%s", err);
	nettest_expect(c, &t, 1);
}

/*
 * notes/scitags.md §1 worked values: label & ~entropy must equal the table,
 * and tag_label_decode must give the ids back, for every packet.
 */
Test(marker, label_worked_values)
{
	static const struct { uint16_t exp; uint8_t act; uint32_t label; }
	    v[] = {
		{ 1, 1, 0x20004 }, { 2, 1, 0x10004 }, { 2, 9, 0x10024 },
		{ 3, 3, 0x3000C }, { 3, 14, 0x30038 }, { 4, 3, 0x0800C },
		{ 5, 10, 0x28028 }, { 2, 4, 0x10010 },
	};
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	const struct cap_pkt *p[MAXP];
	struct marker_rule r;
	struct mk_rule got;
	uint32_t e, a;
	size_t i, j, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		nettest_rule(m, UDP, A, (uint16_t)(4000 + i), B, 128, 5000,
		    v[i].exp, v[i].act, FL);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		udp_and_wait(c, A, (uint16_t)(4000 + i), B, 5000, -1, 3);
	cap_stop(c);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = nettest_flow(c, UDP, A, (uint16_t)(4000 + i), B, 5000, p,
		    MAXP);
		cr_assert_eq(n, 3, "flow %zu: %zu packets", i, n);
		nettest_rule_make(&r, UDP, A, (uint16_t)(4000 + i), B, 128,
		    5000, v[i].exp, v[i].act, FL);
		cr_assert_eq(marker_rule_get(m, &r, &got), 0);
		for (j = 0; j < n; j++) {
			cr_assert_eq(p[j]->label & ~TAG_ENTROPY_MASK,
			    v[i].label, "exp %u act %u: label 0x%05x & "
			    "~0xC0103 = 0x%05x, want 0x%05x", v[i].exp,
			    v[i].act, p[j]->label,
			    p[j]->label & ~TAG_ENTROPY_MASK, v[i].label);
			tag_label_decode(p[j]->label, &e, &a);
			cr_assert(e == v[i].exp && a == v[i].act,
			    "decoded %u/%u, want %u/%u", e, a, v[i].exp,
			    v[i].act);
			cr_assert_eq(p[j]->label, got.label, "wire label "
			    "0x%05x, marker_rule_get says 0x%05x",
			    p[j]->label, got.label);
		}
	}
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* Every packet of a TCP transfer has one label: exact and wildcard rule. */
Test(marker, entropy_constant_within_tcp_flow)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c;
	static const struct cap_pkt *p[20000];
	struct tr_flow f1 = { A, 40000, B, 5001, -1 };
	struct tr_flow f2 = { A, 40001, B, 5002, -1 };
	struct tr_tcp_rx rx;
	uint8_t sha[TR_SHA_LEN];
	char err[256] = "", h1[65], h2[65];
	size_t n, data, i, k;
	const struct tr_flow *fl[2] = { &f1, &f2 };

	/* TSO off: one wire packet per segment, thousands of them. */
	nettest_sh("ip netns exec %s ethtool -K %s tso off gso off", nt.ns_a,
	    nt.if_a);
	nettest_rule(m, TCP, A, 40000, B, 128, 5001, 2, 4, FL);
	/* Wildcard (remote port only): entropy from the 5-tuple hash. */
	nettest_rule(m, 0, NULL, 0, B, 128, 5002, 3, 14, FL);
	c = nettest_capture(nt.ns_b, nt.if_b, 40000);
	for (k = 0; k < 2; k++) {
		cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, B, fl[k]->dport,
		    20000, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(tr_tcp_send(nt.ns_a, fl[k], 4 * MIB, 7, 20000,
		    sha, err, sizeof(err)), 0, "%s", err);
		cr_assert_eq(tr_tcp_rx_wait(&rx, 20000), 0);
		cr_assert_eq(rx.bytes, 4 * MIB);
		cr_assert_arr_eq(rx.sha, sha, TR_SHA_LEN, "sha %s != %s",
		    tr_sha_hex(rx.sha, h1, sizeof(h1)),
		    tr_sha_hex(sha, h2, sizeof(h2)));
	}
	nt_sleep_ms(200);
	cap_stop(c);
	for (k = 0; k < 2; k++) {
		n = nettest_flow(c, TCP, A, fl[k]->sport, B, fl[k]->dport, p,
		    sizeof(p) / sizeof(p[0]));
		for (i = data = 0; i < n; i++)
			data += p[i]->l4_payload > 0;
		cr_assert_gt(data, 2000, "flow %zu: only %zu data packets "
		    "captured (%u dropped)", k, data, cap_drops(c));
		nettest_check_marked(p, n, k ? 3 : 2, k ? 14 : 4, -1,
		    k ? "wildcard-rule TCP flow" : "exact-rule TCP flow");
	}
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

static size_t
distinct_entropies(const uint32_t *labels, size_t n)
{
	uint32_t seen[64];
	size_t k = 0, i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k; j++)
			if (seen[j] == tag_label_entropy(labels[i]))
				break;
		if (j == k && k < 64)
			seen[k++] = tag_label_entropy(labels[i]);
	}
	return k;
}

/*
 * 12 flows: 5 entropy bits each, so all 12 equal by chance has a
 * probability of 32^-11 (about 3e-17) per rule kind.
 */
Test(marker, entropy_varies_across_flows)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	uint32_t exact[12], wild[12];
	size_t i;

	for (i = 0; i < 12; i++)
		nettest_rule(m, UDP, A, (uint16_t)(4100 + i), B, 128, 5000,
		    2, 4, FL);
	nettest_rule(m, UDP, NULL, 0, B, 128, 6000, 3, 14, FL);
	for (i = 0; i < 12; i++) {
		udp_and_wait(c, A, (uint16_t)(4100 + i), B, 5000, -1, 2);
		udp_and_wait(c, A, (uint16_t)(4200 + i), B, 6000, -1, 2);
	}
	cap_stop(c);
	for (i = 0; i < 12; i++) {
		exact[i] = flow_label_of(c, UDP, A, (uint16_t)(4100 + i), B,
		    5000, 2, 4, -1, "exact flow");
		wild[i] = flow_label_of(c, UDP, A, (uint16_t)(4200 + i), B,
		    6000, 3, 14, -1, "wildcard flow");
	}
	cr_assert_geq(distinct_entropies(exact, 12), 2, "12 exact flows, "
	    "one entropy value 0x%05x", tag_label_entropy(exact[0]));
	cr_assert_geq(distinct_entropies(wild, 12), 2, "12 wildcard flows, "
	    "one entropy value 0x%05x", tag_label_entropy(wild[0]));
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/*
 * The label shares byte 1 with the low traffic-class nibble: DSCP and ECN
 * must come out as they went in. cms (label 0x3xxxx) and entropy set all
 * bits of that nibble's label half.
 */
Test(marker, tclass_and_ecn_kept)
{
	static const int tcs[] = {
		TR_TCLASS(0, TR_ECT0), TR_TCLASS(46, TR_ECT0),
		TR_TCLASS(10, TR_ECT1), TR_TCLASS(63, 3), TR_TCLASS(63, TR_ECT0),
		TR_TCLASS(1, 0),
	};
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c;
	static const struct cap_pkt *p[8000];
	struct tr_flow f = { A, 41000, B, 5003, TR_TCLASS(46, 0) };
	struct tr_tcp_rx rx;
	uint8_t sha[TR_SHA_LEN];
	char err[256] = "";
	size_t i, n, data = 0;

	for (i = 0; i < sizeof(tcs) / sizeof(tcs[0]); i++)
		nettest_rule(m, UDP, A, (uint16_t)(4300 + i), B, 128, 5000,
		    3, 14, FL);
	nettest_rule(m, TCP, A, 41000, B, 128, 5003, 3, 14, FL);
	/* TCP sets ECT(0) itself only when ECN is negotiated. */
	nettest_sh("ip netns exec %s sysctl -q -w net.ipv4.tcp_ecn=1",
	    nt.ns_a);
	nettest_sh("ip netns exec %s sysctl -q -w net.ipv4.tcp_ecn=1",
	    nt.ns_b);
	c = nettest_capture(nt.ns_b, nt.if_b, 20000);
	for (i = 0; i < sizeof(tcs) / sizeof(tcs[0]); i++)
		udp_and_wait(c, A, (uint16_t)(4300 + i), B, 5000, tcs[i], 3);
	cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, B, 5003, 20000, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_send(nt.ns_a, &f, MIB, 3, 20000, sha, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_rx_wait(&rx, 20000), 0);
	cr_assert_arr_eq(rx.sha, sha, TR_SHA_LEN);
	nt_sleep_ms(100);
	cap_stop(c);
	for (i = 0; i < sizeof(tcs) / sizeof(tcs[0]); i++)
		flow_label_of(c, UDP, A, (uint16_t)(4300 + i), B, 5000, 3, 14,
		    tcs[i], "udp with traffic class");
	n = nettest_flow(c, TCP, A, 41000, B, 5003, p, 8000);
	nettest_check_marked(p, n, 3, 14, -1, "tcp with ECN");
	for (i = 0; i < n; i++) {
		cr_assert_eq(p[i]->tclass >> 2, 46, "tcp packet %zu: DSCP %u",
		    i, p[i]->tclass >> 2);
		if (p[i]->l4_payload == 0)
			continue;
		data++;
		cr_assert_eq(p[i]->tclass, TR_TCLASS(46, TR_ECT0), "tcp data "
		    "packet %zu: traffic class 0x%02x, want 0x%02x (EF, "
		    "ECT(0))", i, p[i]->tclass, TR_TCLASS(46, TR_ECT0));
	}
	cr_assert_gt(data, 0);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* Flows no rule matches keep label 0 and their traffic class. */
Test(marker, unmatched_flows_untouched)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	int tc = TR_TCLASS(46, TR_ECT0);
	uint64_t cnt[MK_C_MAX];

	nettest_rule(m, UDP, A, 4000, B, 128, 5000, 2, 4, FL);
	udp_and_wait(c, A, 4000, B, 5000, tc, 3);
	udp_and_wait(c, A, 4000, B, 5001, tc, 3);
	udp_and_wait(c, A, 4001, B, 5000, tc, 3);
	udp_and_wait(c, A2, 4000, B, 5000, tc, 3);
	udp_and_wait(c, A, 4000, B2, 5000, tc, 3);
	tcp_probe_and_wait(c, A, 4000, B, 5000);
	cap_stop(c);
	flow_label_of(c, UDP, A, 4000, B, 5000, 2, 4, tc, "the ruled flow");
	flow_unmarked(c, UDP, A, 4000, B, 5001, tc, "other remote port");
	flow_unmarked(c, UDP, A, 4001, B, 5000, tc, "other local port");
	flow_unmarked(c, UDP, A2, 4000, B, 5000, tc, "other local address");
	flow_unmarked(c, UDP, A, 4000, B2, 5000, tc, "other remote address");
	flow_unmarked(c, TCP, A, 4000, B, 5000, 0, "other protocol");
	nettest_counters(m, cnt);
	cr_assert_eq(cnt[MK_C_MARK_FLOW_LABEL], 3, "marked_flow_label %llu",
	    (unsigned long long)cnt[MK_C_MARK_FLOW_LABEL]);
	cr_assert_geq(cnt[MK_C_SKIP_NO_MATCH], 13, "skipped_no_rule %llu",
	    (unsigned long long)cnt[MK_C_SKIP_NO_MATCH]);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* A deleted rule stops marking at once. */
Test(marker, ended_flow_unmarked_again)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	const struct cap_pkt *p[MAXP];
	struct marker_rule r;
	struct cap_tuple t;
	char err[256] = "";
	size_t n, i;

	nettest_rule_make(&r, UDP, A, 4000, B, 128, 5000, 2, 4, FL);
	cr_assert_eq(marker_rule_add(m, &r, &(enum marker_add){ 0 }, err,
	    sizeof(err)), 0, "%s", err);
	udp_and_wait(c, A, 4000, B, 5000, -1, 3);
	cr_assert_eq(marker_rule_del(m, &r, err, sizeof(err)), 0, "%s", err);
	nettest_udp(A, 4000, B, 5000, -1, 100, 3);
	cap_tuple_make(&t, UDP, A, 4000, B, 5000);
	nettest_expect(c, &t, 6);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 6);
	nettest_check_marked(p, 3, 2, 4, -1, "before the end");
	nettest_check_unmarked(p + 3, 3, -1, "after the end");
	for (i = 3; i < n; i++)
		cr_assert_eq(p[i]->label, 0);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/*
 * Every rule shape: proto, local address, local port and remote port each
 * given or "any" (the remote host always exact). The rule's flow is
 * marked; a flow that differs in one field is marked exactly when the
 * rule does not look at that field; another remote host never is.
 */
struct shape_param {
	int	shape;
};

ParameterizedTestParameters(marker, every_rule_shape)
{
	static struct shape_param p[MK_NSHAPES];
	int i;

	for (i = 0; i < MK_NSHAPES; i++)
		p[i].shape = i;
	return cr_make_param_array(struct shape_param, p, MK_NSHAPES);
}

ParameterizedTest(struct shape_param *sp, marker, every_rule_shape)
{
	int s = sp->shape;
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	uint32_t hash[MK_NSHAPES], lpm[MK_NSHAPES], def;
	char what[128];

	nettest_rule(m, (s & MK_F_PROTO) ? UDP : 0,
	    (s & MK_F_SADDR) ? A : NULL, (s & MK_F_SPORT) ? 4000 : 0, B, 128,
	    (s & MK_F_DPORT) ? 5000 : 0, 5, 10, FL);
	marker_usage(m, hash, lpm, &def);
	cr_assert_eq(hash[s], 1, "shape %d: the rule is not counted under "
	    "its shape", s);

	udp_and_wait(c, A, 4000, B, 5000, -1, 2);
	tcp_probe_and_wait(c, A, 4000, B, 5000);
	udp_and_wait(c, A2, 4000, B, 5000, -1, 2);
	udp_and_wait(c, A, 4001, B, 5000, -1, 2);
	udp_and_wait(c, A, 4000, B, 5001, -1, 2);
	udp_and_wait(c, A, 4000, B2, 5000, -1, 2);
	cap_stop(c);

	snprintf(what, sizeof(what), "shape %d, the rule's own flow", s);
	flow_label_of(c, UDP, A, 4000, B, 5000, 5, 10, 0, what);
#define VARIANT(bit, proto, sa, spo, da, dpo, name)			\
	snprintf(what, sizeof(what), "shape %d, %s differs", s, name);	\
	if (s & (bit))							\
		flow_unmarked(c, proto, sa, spo, da, dpo, 0, what);	\
	else								\
		flow_label_of(c, proto, sa, spo, da, dpo, 5, 10, 0, what);
	VARIANT(MK_F_PROTO, TCP, A, 4000, B, 5000, "protocol")
	VARIANT(MK_F_SADDR, UDP, A2, 4000, B, 5000, "local address")
	VARIANT(MK_F_SPORT, UDP, A, 4001, B, 5000, "local port")
	VARIANT(MK_F_DPORT, UDP, A, 4000, B, 5001, "remote port")
#undef VARIANT
	snprintf(what, sizeof(what), "shape %d, remote host differs", s);
	flow_unmarked(c, UDP, A, 4000, B2, 5000, 0, what);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* Remote prefixes: the longest one wins; outside all of them, no mark. */
Test(marker, lpm_longest_prefix_wins)
{
	struct marker *m;
	struct capture *c;

	nettest_sh("ip -n %s addr add 2001:db8:1:1::2/64 dev %s nodad",
	    nt.ns_b, nt.if_b);
	nettest_sh("ip -n %s addr add 2001:db8:1:2::2/64 dev %s nodad",
	    nt.ns_b, nt.if_b);
	nettest_sh("ip -n %s addr add 2001:db8:2::2/64 dev %s nodad",
	    nt.ns_b, nt.if_b);
	nettest_sh("ip -n %s route add 2001:db8::/32 dev %s", nt.ns_a,
	    nt.if_a);
	m = nettest_marker_up(nt.if_a);
	nettest_rule(m, 0, NULL, 0, "2001:db8:1::", 48, 0, 3, 14, FL);
	nettest_rule(m, 0, NULL, 0, "2001:db8:1:1::", 64, 0, 2, 4, FL);
	/* Same /64 as below but a more specific shape: it wins there. */
	nettest_rule(m, UDP, NULL, 0, "2001:db8:1:2::", 64, 5000, 4, 3, FL);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	udp_and_wait(c, A, 4000, "2001:db8:1:1::2", 5000, -1, 2);
	udp_and_wait(c, A, 4000, "2001:db8:1:2::2", 5000, -1, 2);
	udp_and_wait(c, A, 4000, "2001:db8:1:2::2", 5001, -1, 2);
	udp_and_wait(c, A, 4000, "2001:db8:2::2", 5000, -1, 2);
	cap_stop(c);
	flow_label_of(c, UDP, A, 4000, "2001:db8:1:1::2", 5000, 2, 4, 0,
	    "/64 inside the /48: the /64 wins");
	flow_label_of(c, UDP, A, 4000, "2001:db8:1:2::2", 5000, 4, 3, 0,
	    "udp/5000 /64 rule");
	flow_label_of(c, UDP, A, 4000, "2001:db8:1:2::2", 5001, 3, 14, 0,
	    "only the /48 matches");
	flow_unmarked(c, UDP, A, 4000, "2001:db8:2::2", 5000, 0,
	    "outside every prefix");
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/*
 * One packet, several matching rules: exact 5-tuple, then fewer fields,
 * the local port before the remote one, then the remote host alone, then
 * the match-all default.
 */
Test(marker, most_specific_rule_wins)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	struct marker_rule r;
	char err[256] = "";

	nettest_rule(m, UDP, A, 4000, B, 128, 5000, 2, 4, FL);	/* exact */
	nettest_rule(m, 0, NULL, 0, B, 128, 5000, 3, 14, FL);	/* dport */
	nettest_rule(m, 0, NULL, 4002, B, 128, 0, 4, 3, FL);	/* sport */
	nettest_rule(m, 0, NULL, 0, B, 128, 0, 5, 10, FL);	/* host */
	nettest_rule(m, 0, NULL, 0, NULL, 0, 0, 1, 2, FL);	/* default */
	udp_and_wait(c, A, 4000, B, 5000, -1, 2);
	udp_and_wait(c, A, 4001, B, 5000, -1, 2);
	udp_and_wait(c, A, 4002, B, 5000, -1, 2);
	udp_and_wait(c, A, 4001, B, 5001, -1, 2);
	udp_and_wait(c, A, 4001, B2, 5001, -1, 2);
	cap_stop(c);
	flow_label_of(c, UDP, A, 4000, B, 5000, 2, 4, 0, "exact beats all");
	flow_label_of(c, UDP, A, 4001, B, 5000, 3, 14, 0,
	    "remote port rule beats host rule");
	flow_label_of(c, UDP, A, 4002, B, 5000, 4, 3, 0,
	    "local port beats remote port");
	flow_label_of(c, UDP, A, 4001, B, 5001, 5, 10, 0,
	    "host rule beats default");
	flow_label_of(c, UDP, A, 4001, B2, 5001, 1, 2, 0,
	    "default catches the rest");
	cap_free(c);

	/* Without the exact rule the same flow falls to the next one. */
	nettest_rule_make(&r, UDP, A, 4000, B, 128, 5000, 2, 4, FL);
	cr_assert_eq(marker_rule_del(m, &r, err, sizeof(err)), 0, "%s", err);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	udp_and_wait(c, A, 4000, B, 5000, -1, 2);
	cap_stop(c);
	flow_label_of(c, UDP, A, 4000, B, 5000, 3, 14, 0,
	    "exact rule deleted");
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* An all-any rule through the API is the match-all default. */
Test(marker, match_all_default)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	uint32_t hash[MK_NSHAPES], lpm[MK_NSHAPES], def;

	nettest_rule(m, 0, NULL, 0, NULL, 0, 0, 2, 4, FL);
	marker_usage(m, hash, lpm, &def);
	cr_assert_eq(def, 1, "the all-any rule is not the default");
	udp_and_wait(c, A, 4000, B, 5000, TR_TCLASS(8, TR_ECT0), 3);
	udp_and_wait(c, A2, 4001, B2, 5001, -1, 3);
	tcp_probe_and_wait(c, A, 4002, B, 5002);
	cap_stop(c);
	flow_label_of(c, UDP, A, 4000, B, 5000, 2, 4, TR_TCLASS(8, TR_ECT0),
	    "udp flow 1");
	flow_label_of(c, UDP, A2, 4001, B2, 5001, 2, 4, 0, "udp flow 2");
	flow_label_of(c, TCP, A, 4002, B, 5002, 2, 4, 0, "tcp SYN");
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/* Can this kernel make VLAN devices (CONFIG_VLAN_8021Q)? */
static int
vlan_devices_work(void)
{
	char name[NT_IFNAME_MAX], out[256];
	int ok;

	nt_unique(name, sizeof(name), "sv", "t");
	ok = nt_runf(out, sizeof(out), "ip -n %s link add link %s name %s "
	    "type vlan id 7", nt.ns_a, nt.if_a, name) == 0;
	if (ok)
		nt_runf(out, sizeof(out), "ip -n %s link del %s", nt.ns_a,
		    name);
	return ok;
}

/*
 * An Ethernet frame from A's veth to B's with VLAN tags in band, IPv6 and
 * UDP (checksum right), built byte by byte.
 */
static size_t
vlan_frame(uint8_t *f, const uint16_t *tpid, const uint16_t *vid, int ntags,
    int tclass, uint16_t sport, uint16_t dport, size_t payload)
{
	uint8_t *ip6, *udp;
	uint32_t sum = 0;
	size_t off = 12, i, ulen = 8 + payload;
	int t;

	cr_assert_eq(tr_hwaddr(nt.ns_b, nt.if_b, f), 0);
	cr_assert_eq(tr_hwaddr(nt.ns_a, nt.if_a, f + 6), 0);
	for (t = 0; t < ntags; t++) {
		f[off] = (uint8_t)(tpid[t] >> 8);
		f[off + 1] = (uint8_t)tpid[t];
		f[off + 2] = (uint8_t)(vid[t] >> 8);
		f[off + 3] = (uint8_t)vid[t];
		off += 4;
	}
	f[off] = 0x86;
	f[off + 1] = 0xdd;
	ip6 = f + off + 2;
	memset(ip6, 0, 40);
	ip6[0] = (uint8_t)(0x60 | tclass >> 4);
	ip6[1] = (uint8_t)((tclass & 0x0f) << 4);
	ip6[4] = (uint8_t)(ulen >> 8);
	ip6[5] = (uint8_t)ulen;
	ip6[6] = IPPROTO_UDP;
	ip6[7] = 64;
	cr_assert_eq(inet_pton(AF_INET6, A, ip6 + 8), 1);
	cr_assert_eq(inet_pton(AF_INET6, B, ip6 + 24), 1);
	udp = ip6 + 40;
	udp[0] = (uint8_t)(sport >> 8);
	udp[1] = (uint8_t)sport;
	udp[2] = (uint8_t)(dport >> 8);
	udp[3] = (uint8_t)dport;
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	udp[6] = udp[7] = 0;
	memset(udp + 8, 'v', payload);
	for (i = 8; i < 40; i += 2)
		sum += (uint32_t)(ip6[i] << 8 | ip6[i + 1]);
	sum += (uint32_t)ulen + IPPROTO_UDP;
	for (i = 0; i < ulen; i += 2)
		sum += (uint32_t)(udp[i] << 8 | (i + 1 < ulen ? udp[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	if (sum == 0)
		sum = 0xffff;
	udp[6] = (uint8_t)(sum >> 8);
	udp[7] = (uint8_t)sum;
	return off + 2 + 40 + ulen;
}

struct vlan_param {
	int		ntags;
	uint16_t	tpid[2];
	uint16_t	vid[2];
};

ParameterizedTestParameters(marker, vlan_tags_in_band)
{
	static struct vlan_param p[] = {
		{ 1, { 0x8100, 0 }, { 100, 0 } },
		{ 2, { 0x88a8, 0x8100 }, { 10, 20 } },
	};
	return cr_make_param_array(struct vlan_param, p, 2);
}

/*
 * 802.1Q, and 802.1ad outer + 802.1Q inner, with the tags in the frame
 * data at A's tc egress (frames sent from a packet socket, so nothing
 * moves the tag into metadata): the marker must step over the tags. On B
 * the kernel hands the outer tag over as metadata (auxdata) and leaves the
 * inner one in the data; both must be there, with the right label.
 * Extension-header strategies can not grow such a frame: unmarked, counted.
 */
ParameterizedTest(struct vlan_param *vp, marker, vlan_tags_in_band)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	const struct cap_pkt *p[MAXP];
	uint8_t frame[256];
	uint64_t cnt[MK_C_MAX];
	struct cap_tuple t;
	char err[256] = "";
	size_t len, n, i;
	int tc = TR_TCLASS(46, TR_ECT0), k;

	nettest_rule(m, UDP, A, 4000, B, 128, 5000, 2, 4, FL);
	nettest_rule(m, UDP, A, 4001, B, 128, 5000, 3, 14, MK_STRAT_HBH);
	len = vlan_frame(frame, vp->tpid, vp->vid, vp->ntags, tc, 4000, 5000,
	    32);
	cr_assert_eq(tr_raw_send(nt.ns_a, nt.if_a, frame, len, 3, err,
	    sizeof(err)), 0, "%s", err);
	len = vlan_frame(frame, vp->tpid, vp->vid, vp->ntags, tc, 4001, 5000,
	    32);
	cr_assert_eq(tr_raw_send(nt.ns_a, nt.if_a, frame, len, 3, err,
	    sizeof(err)), 0, "%s", err);
	cap_tuple_make(&t, UDP, A, 0, B, 5000);
	nettest_expect(c, &t, 6);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 3);
	nettest_check_marked(p, n, 2, 4, tc, "udp behind VLAN tags");
	for (i = 0; i < n; i++) {
		cr_assert_eq(p[i]->nvlan, vp->ntags, "packet %zu: %d tags, "
		    "sent %d", i, p[i]->nvlan, vp->ntags);
		for (k = 0; k < vp->ntags; k++)
			cr_assert(p[i]->vlan_tpid[k] == vp->tpid[k] &&
			    p[i]->vlan_id[k] == vp->vid[k], "packet %zu tag "
			    "%d: 0x%04x/%u, sent 0x%04x/%u", i, k,
			    p[i]->vlan_tpid[k], p[i]->vlan_id[k],
			    vp->tpid[k], vp->vid[k]);
	}
	flow_unmarked(c, UDP, A, 4001, B, 5000, tc,
	    "hop-by-hop rule behind VLAN tags");
	nettest_counters(m, cnt);
	cr_assert_eq(cnt[MK_C_MARK_FLOW_LABEL], 3);
	cr_assert_eq(cnt[MK_C_FAIL_EXTHDR], 3, "unmarked_existing_headers "
	    "%llu, want 3", (unsigned long long)cnt[MK_C_FAIL_EXTHDR]);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

/*
 * The same through a real VLAN device with reorder_hdr off (the tag is
 * written in band by the VLAN driver), and a TCP transfer over it. Needs
 * CONFIG_VLAN_8021Q; skipped with that reason on kernels without it.
 */
Test(marker, vlan_subinterface_reorder_hdr_off)
{
	struct marker *m;
	struct capture *cb, *ca;
	const struct cap_pkt *p[MAXP];
	struct tr_flow f = { "2001:db8:100::1", 42000, "2001:db8:100::2",
	    5004, -1 };
	struct tr_tcp_rx rx;
	struct cap_tuple t;
	uint8_t sha[TR_SHA_LEN];
	char va[NT_IFNAME_MAX], vb[NT_IFNAME_MAX], err[256] = "";
	size_t n, i;
	static const struct cap_pkt *tp[4000];

	if (!vlan_devices_work())
		cr_skip_test("this kernel can not create VLAN devices "
		    "(CONFIG_VLAN_8021Q); vlan_tags_in_band covers the "
		    "marker's in-band parsing");
	nt_unique(va, sizeof(va), "sv", "q");
	nt_unique(vb, sizeof(vb), "sv", "q");
	nettest_sh("ip -n %s link add link %s name %s type vlan id 100 "
	    "reorder_hdr off", nt.ns_a, nt.if_a, va);
	nettest_sh("ip -n %s link add link %s name %s type vlan id 100",
	    nt.ns_b, nt.if_b, vb);
	nettest_sh("ip -n %s addr add 2001:db8:100::1/64 dev %s nodad",
	    nt.ns_a, va);
	nettest_sh("ip -n %s addr add 2001:db8:100::2/64 dev %s nodad",
	    nt.ns_b, vb);
	nettest_sh("ip -n %s link set %s up", nt.ns_a, va);
	nettest_sh("ip -n %s link set %s up", nt.ns_b, vb);
	m = nettest_marker_up(nt.if_a);
	nettest_rule(m, UDP, "2001:db8:100::1", 4000, "2001:db8:100::2", 128,
	    5000, 2, 4, FL);
	nettest_rule(m, TCP, "2001:db8:100::1", 42000, "2001:db8:100::2", 128,
	    5004, 3, 14, FL);
	cb = nettest_capture(nt.ns_b, nt.if_b, 8000);
	ca = nettest_capture(nt.ns_a, nt.if_a, 8000);
	udp_and_wait(cb, "2001:db8:100::1", 4000, "2001:db8:100::2", 5000,
	    TR_TCLASS(10, TR_ECT0), 3);
	cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, "2001:db8:100::2", 5004,
	    20000, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_send(nt.ns_a, &f, MIB, 5, 20000, sha, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_rx_wait(&rx, 20000), 0);
	cr_assert_arr_eq(rx.sha, sha, TR_SHA_LEN);
	nt_sleep_ms(100);
	cap_stop(cb);
	cap_stop(ca);
	n = nettest_flow(cb, UDP, "2001:db8:100::1", 4000, "2001:db8:100::2",
	    5000, p, MAXP);
	nettest_check_marked(p, n, 2, 4, TR_TCLASS(10, TR_ECT0),
	    "udp over 802.1Q");
	for (i = 0; i < n; i++)
		cr_assert(p[i]->nvlan == 1 && p[i]->vlan_tpid[0] == 0x8100 &&
		    p[i]->vlan_id[0] == 100);
	n = nettest_flow(cb, TCP, "2001:db8:100::1", 42000,
	    "2001:db8:100::2", 5004, tp, 4000);
	nettest_check_marked(tp, n, 3, 14, -1, "tcp over 802.1Q");
	/* At A's tc egress the tag was in the frame data, not metadata. */
	cap_tuple_make(&t, UDP, "2001:db8:100::1", 4000, "2001:db8:100::2",
	    5000);
	n = cap_select(ca, &t, CAP_OUT, p, MAXP);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		cr_assert(p[i]->nvlan == 1 && p[i]->vlan_inband[0],
		    "sender side: the tag is not in band");
	cap_free(cb);
	cap_free(ca);
	nettest_marker_down(&m, nt.if_a);
}

/* Extension-header strategies (notes/scitags.md §3). */
struct strat_param {
	int	strategy;
	int	tso;
};

static const char *
strat_name(int s)
{
	return s == MK_STRAT_HBH ? "hop-by-hop" : s == MK_STRAT_DST ?
	    "destination" : "hop-by-hop+destination";
}

static int
strat_counter(int s)
{
	return s == MK_STRAT_HBH ? MK_C_MARK_HBH : s == MK_STRAT_DST ?
	    MK_C_MARK_DST : MK_C_MARK_HBH_DST;
}

/* The option bytes exactly: next header chain, 0x1E, 3, exp, act, Pad1. */
static void
check_option_bytes(const struct cap_pkt *p, int s, uint8_t l4, uint16_t exp,
    uint8_t act, uint16_t l4len, const char *what)
{
	uint8_t want[16] = {
		0, 0, 0x1e, 3, (uint8_t)(exp >> 8), (uint8_t)exp, act, 0,
		0, 0, 0x1e, 3, (uint8_t)(exp >> 8), (uint8_t)exp, act, 0,
	};
	size_t grow = s == MK_STRAT_HBH_DST ? 16 : 8, i;

	want[0] = s == MK_STRAT_HBH_DST ? 60 : l4;
	want[8] = l4;
	cr_assert_eq(p->nexthdr, s == MK_STRAT_DST ? 60 : 0, "%s: base next "
	    "header %u", what, p->nexthdr);
	cr_assert_geq(p->l3_len, 40 + grow);
	for (i = 0; i < grow; i++)
		cr_assert_eq(p->l3[40 + i], want[i], "%s: option byte %zu is "
		    "0x%02x, want 0x%02x", what, i, p->l3[40 + i], want[i]);
	if (l4len)
		cr_assert_eq(p->plen, l4len + grow, "%s: payload length %u, "
		    "want %zu", what, p->plen, l4len + grow);
	cr_assert_eq(p->label, 0, "%s: label 0x%05x", what, p->label);
	cr_assert_eq(p->scitag, s == MK_STRAT_HBH_DST ? 2 : 1);
	cr_assert_eq(p->scitag_exp, exp);
	cr_assert_eq(p->scitag_act, act);
	cr_assert_eq(p->proto, l4);
}

ParameterizedTestParameters(marker, exthdr_option_bytes)
{
	static struct strat_param p[] = {
		{ MK_STRAT_HBH, 1 }, { MK_STRAT_DST, 1 }, { MK_STRAT_HBH_DST, 1 },
	};
	return cr_make_param_array(struct strat_param, p, 3);
}

ParameterizedTest(struct strat_param *sp, marker, exthdr_option_bytes)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	const struct cap_pkt *p[MAXP];
	struct tr_udp_rx rx;
	uint64_t cnt[MK_C_MAX];
	char err[256] = "", what[96];
	size_t n, i;
	int s = sp->strategy;

	/* 700 needs both exp bytes (it is too big for the flow label). */
	nettest_rule(m, UDP, A, 4000, B, 128, 5000, 2, 4, s);
	nettest_rule(m, UDP, A, 4001, B, 128, 5000, 700, 63, s);
	nettest_rule(m, TCP, A, 4002, B, 128, 5000, 3, 14, s);
	cr_assert_eq(tr_udp_rx_start(&rx, nt.ns_b, B, 5000, err,
	    sizeof(err)), 0, "%s", err);
	udp_and_wait(c, A, 4000, B, 5000, TR_TCLASS(46, TR_ECT0), 3);
	udp_and_wait(c, A, 4001, B, 5000, -1, 3);
	tcp_probe_and_wait(c, A, 4002, B, 5000);
	cr_assert_eq(tr_udp_rx_wait(&rx, 6, 3000), 0, "the receiver got %llu "
	    "of 6 datagrams with the option", (unsigned long long)
	    rx.datagrams);
	tr_udp_rx_stop(&rx);
	cap_stop(c);
	snprintf(what, sizeof(what), "%s udp", strat_name(s));
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++) {
		check_option_bytes(p[i], s, UDP, 2, 4, 108, what);
		cr_assert_eq(p[i]->tclass, TR_TCLASS(46, TR_ECT0));
	}
	n = nettest_flow(c, UDP, A, 4001, B, 5000, p, MAXP);
	cr_assert_eq(n, 3);
	for (i = 0; i < n; i++)
		check_option_bytes(p[i], s, UDP, 700, 63, 108, what);
	snprintf(what, sizeof(what), "%s tcp SYN", strat_name(s));
	n = nettest_flow(c, TCP, A, 4002, B, 5000, p, MAXP);
	cr_assert_geq(n, 1);
	check_option_bytes(p[0], s, TCP, 3, 14, 0, what);
	nettest_counters(m, cnt);
	cr_assert_eq(cnt[strat_counter(s)], 6 + n, "counter %s: %llu",
	    marker_counter_name(strat_counter(s)),
	    (unsigned long long)cnt[strat_counter(s)]);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

ParameterizedTestParameters(marker, exthdr_tcp_16mib)
{
	static struct strat_param p[] = {
		{ MK_STRAT_HBH, 1 }, { MK_STRAT_DST, 1 }, { MK_STRAT_HBH_DST, 1 },
		{ MK_STRAT_HBH, 0 }, { MK_STRAT_DST, 0 }, { MK_STRAT_HBH_DST, 0 },
	};
	return cr_make_param_array(struct strat_param, p, 6);
}

/*
 * 16 MiB through a growing header, with TSO (GSO packets whose MSS must
 * shrink) and without (software segmentation after tc must copy the
 * option into every segment). The data must arrive intact; every packet
 * on the wire carries the exact option, or is a non-GSO packet that could
 * not grow past the MTU (left unmarked, counted).
 */
ParameterizedTest(struct strat_param *sp, marker, exthdr_tcp_16mib,
    .timeout = 120)
{
	static const struct cap_pkt *p[60000];
	struct marker *m = nettest_marker_up(nt.if_a);
	struct tr_flow f = { A, 43000, B, 5005, TR_TCLASS(10, 0) };
	struct tr_tcp_rx rx;
	struct capture *c;
	uint64_t cnt[MK_C_MAX];
	uint8_t sha[TR_SHA_LEN];
	char err[256] = "", h1[65], h2[65], what[96];
	size_t n, i, marked = 0, unmarked = 0, grow;
	int s = sp->strategy;

	grow = s == MK_STRAT_HBH_DST ? 16 : 8;
	nettest_sh("ip netns exec %s ethtool -K %s tso %s", nt.ns_a, nt.if_a,
	    sp->tso ? "on" : "off");
	nettest_rule(m, TCP, A, 43000, B, 128, 5005, 2, 4, s);
	c = nettest_capture(nt.ns_b, nt.if_b, 60000);
	cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, B, 5005, 60000, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_send(nt.ns_a, &f, 16 * MIB, 11, 60000, sha, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_rx_wait(&rx, 60000), 0, "receiver: %s",
	    strerror(-rx.rc));
	cr_assert_eq(rx.bytes, 16 * MIB, "received %llu bytes",
	    (unsigned long long)rx.bytes);
	cr_assert_arr_eq(rx.sha, sha, TR_SHA_LEN, "SHA-256 %s received, %s "
	    "sent", tr_sha_hex(rx.sha, h1, sizeof(h1)),
	    tr_sha_hex(sha, h2, sizeof(h2)));
	nt_sleep_ms(100);
	cap_stop(c);
	n = nettest_flow(c, TCP, A, 43000, B, 5005, p, 60000);
	snprintf(what, sizeof(what), "%s, TSO %s", strat_name(s),
	    sp->tso ? "on" : "off");
	for (i = 0; i < n; i++) {
		if (!sp->tso)
			cr_assert_leq(40 + p[i]->plen, 1500, "%s: packet %zu "
			    "is %u bytes, over the MTU", what, i,
			    40 + p[i]->plen);
		cr_assert_eq(p[i]->tclass >> 2, 10);
		if (p[i]->nexthdrs == 0) {
			/* Only a packet that was already too big. */
			cr_assert_gt(40 + p[i]->plen + grow, 1500, "%s: packet "
			    "%zu (%u bytes, payload %u) left unmarked though "
			    "it had room", what, i, 40 + p[i]->plen,
			    p[i]->l4_payload);
			unmarked++;
			continue;
		}
		check_option_bytes(p[i], s, TCP, 2, 4, 0, what);
		marked++;
	}
	nettest_counters(m, cnt);
	cr_log_info("%s: %zu packets captured, %zu marked, %zu unmarked; "
	    "counters: marked %llu, unmarked_mtu %llu, helper errors %llu, "
	    "capture drops %u", what, n, marked, unmarked,
	    (unsigned long long)cnt[strat_counter(s)],
	    (unsigned long long)cnt[MK_C_FAIL_MTU],
	    (unsigned long long)cnt[MK_C_FAIL_HELPER], cap_drops(c));
	cr_assert_gt(marked, 0, "%s: no packet carried the option", what);
	cr_assert_eq(cnt[MK_C_FAIL_HELPER], 0);
	/* Each unmarked wire packet was one skb at tc: counted once. */
	if (!cap_drops(c))
		cr_assert_eq(cnt[MK_C_FAIL_MTU], unmarked, "%s: unmarked_mtu "
		    "%llu, %zu unmarked packets on the wire", what,
		    (unsigned long long)cnt[MK_C_FAIL_MTU], unmarked);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}

ParameterizedTestParameters(marker, exthdr_full_mtu_udp)
{
	static struct strat_param p[] = {
		{ MK_STRAT_HBH, 1 }, { MK_STRAT_DST, 1 }, { MK_STRAT_HBH_DST, 1 },
	};
	return cr_make_param_array(struct strat_param, p, 3);
}

/*
 * A UDP datagram whose IPv6 packet is exactly 1500 bytes can not grow: it
 * must still arrive, unmarked, and unmarked_mtu counts it. One that is
 * exactly the option's size shorter grows to exactly 1500 and is marked.
 */
ParameterizedTest(struct strat_param *sp, marker, exthdr_full_mtu_udp)
{
	struct marker *m = nettest_marker_up(nt.if_a);
	struct capture *c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	struct tr_flow full = { A, 4000, B, 5000, -1 };
	struct tr_flow fits = { A, 4001, B, 5000, -1 };
	const struct cap_pkt *p[MAXP];
	struct tr_udp_rx rx;
	struct cap_tuple t;
	uint64_t cnt[MK_C_MAX];
	char err[256] = "";
	size_t n, grow;
	int s = sp->strategy;

	grow = s == MK_STRAT_HBH_DST ? 16 : 8;
	nettest_rule(m, UDP, A, 4000, B, 128, 5000, 2, 4, s);
	nettest_rule(m, UDP, A, 4001, B, 128, 5000, 2, 4, s);
	cr_assert_eq(tr_udp_rx_start(&rx, nt.ns_b, B, 5000, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_udp_send(nt.ns_a, &full, 1500 - 40 - 8, 1, 1, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_udp_send(nt.ns_a, &fits, 1500 - 40 - 8 - grow, 1, 1,
	    err, sizeof(err)), 0, "%s", err);
	cap_tuple_make(&t, UDP, A, 0, B, 5000);
	nettest_expect(c, &t, 2);
	cr_assert_eq(tr_udp_rx_wait(&rx, 2, 3000), 0, "the receiver got "
	    "%llu of 2 datagrams", (unsigned long long)rx.datagrams);
	cr_assert_eq(rx.largest, 1452);
	tr_udp_rx_stop(&rx);
	cap_stop(c);

	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 1);
	cr_assert_eq(40 + p[0]->plen, 1500);
	cr_assert_eq(p[0]->nexthdrs, 0, "the full-MTU datagram grew");
	n = nettest_flow(c, UDP, A, 4001, B, 5000, p, MAXP);
	cr_assert_eq(n, 1);
	cr_assert_eq(40 + p[0]->plen, 1500, "the fitting datagram is %u "
	    "bytes, want exactly 1500", 40 + p[0]->plen);
	check_option_bytes(p[0], s, UDP, 2, 4, (uint16_t)(1500 - 40 - grow),
	    "fits exactly");
	nettest_counters(m, cnt);
	cr_assert_eq(cnt[MK_C_FAIL_MTU], 1, "unmarked_mtu %llu, want 1",
	    (unsigned long long)cnt[MK_C_FAIL_MTU]);
	cr_assert_eq(cnt[strat_counter(s)], 1);
	cap_free(c);
	nettest_marker_down(&m, nt.if_a);
}
