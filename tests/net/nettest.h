/*
 * nettest.h: what the Criterion network tests share: the per-test pair of
 * namespaces, the privilege rule (skip, or fail under CI), captures with
 * their checks, and marker/daemon plumbing.
 */
#ifndef SCTAG_NETTEST_H
#define SCTAG_NETTEST_H

#include <stdint.h>

#include "capture.h"
#include "marker.h"
#include "netns.h"
#include "traffic.h"

/* The pair of the running test (Criterion runs each test in a process). */
extern struct nt_pair nt;

/*
 * .init of every suite: check privileges and build a fresh pair. Without
 * root or network namespaces the test is skipped, or fails when the
 * environment variable CI is set, with a message that says what is
 * missing.
 */
void nettest_setup(void);
/* .fini: remove everything the test created (also runs after a failed
 * assertion). */
void nettest_teardown(void);

/* Skip or (under CI) fail with the reason. */
void nettest_unavailable(const char *why) __attribute__((noreturn));

/* Run a command, assert it succeeded. */
void nettest_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same through /bin/sh (redirections, pipes), asserting exit 0. */
void nettest_shell(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Capture on B's veth (or ifname in ns), asserting that it started. */
struct capture *nettest_capture(const char *ns, const char *ifname,
    size_t max_pkts);
/* Send count UDP datagrams of payload bytes, asserting success. */
void nettest_udp(const char *saddr, uint16_t sport, const char *daddr,
    uint16_t dport, int tclass, size_t payload, int count);
/* The same, 100-byte datagrams, from namespace ns. */
void nettest_udp_in(const char *ns, const char *saddr, uint16_t sport,
    const char *daddr, uint16_t dport, int count);
/* Wait for n arrivals of t at the capture, asserting they came. */
void nettest_expect(struct capture *, const struct cap_tuple *, size_t n);

/* Arrived packets of the flow (proto, A-side source to B-side dest). */
size_t nettest_flow(struct capture *, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, uint16_t dport,
    const struct cap_pkt **out, size_t max);

/*
 * Assert every packet is flow-label marked with exp/act (entropy bits
 * ignored) and the traffic class tclass, and that all carry one label;
 * returns that label.
 */
uint32_t nettest_check_marked(const struct cap_pkt **, size_t n,
    uint32_t exp, uint32_t act, int tclass, const char *what);
/* Assert every packet carries label 0, no option, and tclass. */
void nettest_check_unmarked(const struct cap_pkt **, size_t n, int tclass,
    const char *what);

/* The marker API inside ns A, attached to A's veth; NULL pin dir. */
struct marker *nettest_marker_up(const char *ifname);
/* Close it from inside ns A and assert no clsact qdisc is left on ifname. */
void nettest_marker_down(struct marker **, const char *ifname);
void nettest_rule(struct marker *, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, int plen, uint16_t dport,
    uint16_t exp, uint8_t act, int strategy);
void nettest_rule_make(struct marker_rule *, uint8_t proto,
    const char *saddr, uint16_t sport, const char *daddr, int plen,
    uint16_t dport, uint16_t exp, uint8_t act, int strategy);
void nettest_counters(struct marker *, uint64_t c[MK_C_MAX]);

/* Does `tc qdisc show dev ifname` in ns list a clsact qdisc? */
int nettest_has_clsact(const char *ns, const char *ifname);
/* Does `tc filter show dev ifname egress` in ns list any filter? */
int nettest_has_egress_filter(const char *ns, const char *ifname);

#endif /* SCTAG_NETTEST_H */
