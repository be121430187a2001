/*
 * nettest.c: see nettest.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "log.h"
#include "nettest.h"
#include "tag.h"

struct nt_pair nt;
static struct marker *open_marker;
static char open_marker_if[NT_IFNAME_MAX];

void
nettest_unavailable(const char *why)
{
	const char *ci = getenv("CI");

	if (ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0)
		cr_assert_fail("network test can not run under CI: %s", why);
	cr_skip_test("network test skipped: %s", why);
	abort();	/* not reached */
}

void
nettest_setup(void)
{
	char why[512];

	/* The marker logs through the daemon's logger: keep it quiet. */
	log_init("nettest", 1, LOG_LVL_WARN);
	if (nt_check_privileges(why, sizeof(why)) != 0)
		nettest_unavailable(why);
	if (nt_pair_create(&nt, why, sizeof(why)) != 0) {
		nt_cleanup();
		nettest_unavailable(why);
	}
}

void
nettest_teardown(void)
{
	int saved;

	/* A test that failed half way may still hold the marker open. */
	if (open_marker && nt_ns_enter(nt.ns_a, &saved) == 0) {
		marker_close(open_marker);
		nt_ns_leave(saved);
	}
	open_marker = NULL;
	nt_cleanup();
}

void
nettest_sh(const char *fmt, ...)
{
	char cmd[1024], out[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = nt_runf(out, sizeof(out), "%s", cmd);
	cr_assert_eq(rc, 0, "'%s' failed (%d): %s", cmd, rc, out);
}

void
nettest_shell(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "'%s' failed", cmd);
}

struct capture *
nettest_capture(const char *ns, const char *ifname, size_t max_pkts)
{
	struct capture *c = NULL;
	char err[256];

	cr_assert_eq(cap_start(&c, ns, ifname, max_pkts, 60000, err,
	    sizeof(err)), 0, "%s", err);
	return c;
}

void
nettest_udp(const char *saddr, uint16_t sport, const char *daddr,
    uint16_t dport, int tclass, size_t payload, int count)
{
	struct tr_flow f = { saddr, sport, daddr, dport, tclass };
	char err[256] = "";

	cr_assert_eq(tr_udp_send(nt.ns_a, &f, payload, count, 0, err,
	    sizeof(err)), 0, "udp [%s]:%u -> [%s]:%u: %s", saddr, sport,
	    daddr, dport, err);
}

void
nettest_udp_in(const char *ns, const char *saddr, uint16_t sport,
    const char *daddr, uint16_t dport, int count)
{
	struct tr_flow f = { saddr, sport, daddr, dport, -1 };
	char err[256] = "";

	cr_assert_eq(tr_udp_send(ns, &f, 100, count, 0, err, sizeof(err)), 0,
	    "udp from %s [%s]:%u -> [%s]:%u: %s", ns, saddr, sport, daddr,
	    dport, err);
}

void
nettest_expect(struct capture *c, const struct cap_tuple *t, size_t n)
{
	cr_assert_eq(cap_wait(c, t, n, 5000), 0, "%zu packets of port %u -> "
	    "%u did not arrive within 5 s (%zu captured in all)", n,
	    t->sport, t->dport, cap_count(c));
}

size_t
nettest_flow(struct capture *c, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, uint16_t dport,
    const struct cap_pkt **out, size_t max)
{
	struct cap_tuple t;

	cr_assert_eq(cap_tuple_make(&t, proto, saddr, sport, daddr, dport),
	    0);
	return cap_select(c, &t, CAP_IN, out, max);
}

uint32_t
nettest_check_marked(const struct cap_pkt **p, size_t n, uint32_t exp,
    uint32_t act, int tclass, const char *what)
{
	uint32_t want, e, a;
	size_t i;

	cr_assert_gt(n, 0, "%s: no packet captured", what);
	cr_assert_eq(tag_label_encode(exp, act, 0, &want), 0);
	for (i = 0; i < n; i++) {
		tag_label_decode(p[i]->label, &e, &a);
		cr_assert_eq(p[i]->label & ~TAG_ENTROPY_MASK, want,
		    "%s: packet %zu: label 0x%05x, want 0x%05x plus entropy "
		    "(exp %u act %u; decoded exp %u act %u)", what, i,
		    p[i]->label, want, exp, act, e, a);
		cr_assert(e == exp && a == act, "%s: decoded %u/%u", what, e,
		    a);
		cr_assert_eq(p[i]->label, p[0]->label, "%s: packet %zu has "
		    "label 0x%05x, packet 0 had 0x%05x: one flow, one label",
		    what, i, p[i]->label, p[0]->label);
		cr_assert_eq(p[i]->scitag, 0, "%s: unexpected option", what);
		if (tclass >= 0)
			cr_assert_eq(p[i]->tclass, tclass, "%s: packet %zu: "
			    "traffic class 0x%02x, sent 0x%02x", what, i,
			    p[i]->tclass, tclass);
	}
	return p[0]->label;
}

void
nettest_check_unmarked(const struct cap_pkt **p, size_t n, int tclass,
    const char *what)
{
	size_t i;

	cr_assert_gt(n, 0, "%s: no packet captured", what);
	for (i = 0; i < n; i++) {
		cr_assert_eq(p[i]->label, 0, "%s: packet %zu: label 0x%05x, "
		    "want 0 (untouched)", what, i, p[i]->label);
		cr_assert_eq(p[i]->nexthdrs, 0, "%s: packet %zu has %d "
		    "extension header(s)", what, i, p[i]->nexthdrs);
		if (tclass >= 0)
			cr_assert_eq(p[i]->tclass, tclass, "%s: packet %zu: "
			    "traffic class 0x%02x, sent 0x%02x", what, i,
			    p[i]->tclass, tclass);
	}
}

struct marker *
nettest_marker_up(const char *ifname)
{
	struct marker_opts mo = { NULL, 1024, 0 };
	struct marker *m = NULL;
	char err[256] = "";
	int saved, rc;

	cr_assert_eq(nt_ns_enter(nt.ns_a, &saved), 0);
	rc = marker_open(&m, &mo, err, sizeof(err));
	if (rc == 0) {
		open_marker = m;
		snprintf(open_marker_if, sizeof(open_marker_if), "%s",
		    ifname);
		rc = marker_attach(m, ifname, err, sizeof(err));
	}
	nt_ns_leave(saved);
	cr_assert_eq(rc, 0, "marker: %s", err);
	return m;
}

void
nettest_marker_down(struct marker **m, const char *ifname)
{
	int saved;

	cr_assert_eq(nt_ns_enter(nt.ns_a, &saved), 0);
	marker_close(*m);
	nt_ns_leave(saved);
	open_marker = NULL;
	*m = NULL;
	cr_assert(!nettest_has_clsact(nt.ns_a, ifname), "marker_close left "
	    "a clsact qdisc on %s", ifname);
}

void
nettest_rule_make(struct marker_rule *r, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, int plen, uint16_t dport,
    uint16_t exp, uint8_t act, int strategy)
{
	memset(r, 0, sizeof(*r));
	r->proto = proto;
	r->src_any = saddr ? 0 : 1;
	if (saddr)
		cr_assert_eq(inet_pton(AF_INET6, saddr, r->src), 1);
	if (daddr)
		cr_assert_eq(inet_pton(AF_INET6, daddr, r->dst), 1);
	r->dst_plen = (uint8_t)plen;
	r->sport = sport;
	r->dport = dport;
	r->exp = exp;
	r->act = act;
	r->strategy = (uint8_t)strategy;
}

void
nettest_rule(struct marker *m, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, int plen, uint16_t dport,
    uint16_t exp, uint8_t act, int strategy)
{
	struct marker_rule r;
	enum marker_add what;
	char err[256] = "";

	nettest_rule_make(&r, proto, saddr, sport, daddr, plen, dport, exp,
	    act, strategy);
	cr_assert_eq(marker_rule_add(m, &r, &what, err, sizeof(err)), 0,
	    "rule add: %s", err);
	cr_assert_eq(what, MARKER_ADDED);
}

void
nettest_counters(struct marker *m, uint64_t c[MK_C_MAX])
{
	cr_assert_eq(marker_counters(m, c), 0);
}

int
nettest_has_clsact(const char *ns, const char *ifname)
{
	char out[2048];

	cr_assert_eq(nt_runf(out, sizeof(out), "tc -n %s qdisc show dev %s",
	    ns, ifname), 0, "tc qdisc show: %s", out);
	return strstr(out, "clsact") != NULL;
}

int
nettest_has_egress_filter(const char *ns, const char *ifname)
{
	char out[2048];

	/* Without a clsact qdisc tc fails: then there is no filter. */
	if (nt_runf(out, sizeof(out), "tc -n %s filter show dev %s egress",
	    ns, ifname) != 0)
		return 0;
	return strstr(out, "filter") != NULL;
}
