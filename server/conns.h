/*
 * conns.h: the TCP connections behind the flows, for fireflies
 * (docs/fireflies.md).
 *
 * A wildcard rule started with per_connection gets a start firefly for
 * each TCP connection of this host that it matches, as that connection
 * is first seen, and an end firefly when the connection closes (its
 * socket's destroy notice, or a scan that no longer finds it) or the rule
 * ends, with the last counts the kernel gave. With fireflies.interval,
 * every connection of a flow, exact or per-connection, gets an ongoing
 * firefly with its counts that often.
 *
 * Connections are found by scans: dumps of this host's connected TCP
 * sockets (sockdiag.h), every scan_every seconds while a per-connection
 * rule exists, and every interval seconds for the ongoing fireflies. Not
 * on every new connection: the kernel announces none (only destroys), so
 * a connection that lives less than a scan period may go unannounced, and
 * a start firefly is up to one period late.
 *
 * A connection is the flow of the most specific per-connection rule that
 * matches it (longest destination prefix, then a given source, then
 * given ports); a connection that has an exact flow of its own is that
 * flow's and gets no second start firefly.
 *
 * Threads: the scans run on a thread of their own (conns_run): a dump
 * can take tens of milliseconds, which the main loop (pipe lines, leases,
 * close notices) should not wait for. It dumps without the state lock,
 * takes it to copy the per-connection rules, matches sockets to rules
 * without it, and takes it again only to look up exact flows and merge;
 * the fireflies of a scan go out after that. conns_flow and conns_closed
 * run with the state lock held (a flow event, a destroy notice).
 */
#ifndef SCTAG_CONNS_H
#define SCTAG_CONNS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "flows.h"
#include "sockdiag.h"

#define CONNS_RULES_MAX		4096	/* per-connection rules followed */
#define CONNS_SCAN_MAX		262144	/* sockets one scan looks at */

struct ffsend;
struct dispatch;

struct conns_opts {
	struct ffsend	*ff;
	struct dispatch	*d;		/* its state lock, for the thread */
	struct flows	*flows;		/* with the state lock */
	uint32_t	 scan_ms;	/* while per-connection rules exist */
	uint32_t	 interval_ms;	/* ongoing fireflies; 0: none */
};

struct conns_stats {
	uint32_t	rules;		/* per-connection rules */
	uint32_t	tracked;	/* their connections, now */
	uint64_t	announced;	/* connections ever announced */
	uint64_t	ongoing;	/* ongoing fireflies */
	uint64_t	scans;
	uint64_t	scan_errors;
	uint64_t	rules_over;	/* rules past CONNS_RULES_MAX */
};

struct conns;

/*
 * The firefly of flow f, or of its connection c (NULL: f's own ends); its
 * start-time is start (NULL: when f started), its counts c's.
 */
void conns_firefly(struct ff_event *, enum ff_state,
    const struct flows_flow *f, const struct sockdiag_conn *c,
    const struct timespec *start);

/* The exact TCP rule of connection c (its addresses and ports, /128). */
void conns_exact_rule(const struct sockdiag_conn *c, struct marker_rule *r);

/* -errno with a message. */
int conns_new(const struct conns_opts *, struct conns **, char *err,
    size_t errlen);
void conns_free(struct conns *);

/* Start the scanning thread (conns_free stops it). -errno, a message. */
int conns_run(struct conns *, char *err, size_t errlen);

/* A flow started or ended (state lock held). */
void conns_flow(struct conns *, enum flows_event, const struct flows_flow *);
/* A TCP socket was destroyed (state lock held). */
void conns_closed(struct conns *, const struct sockdiag_conn *);
/*
 * Scan if one is due at now_ms (any clock, the same every call), then
 * send the fireflies waiting: the thread's work, and the benchmark's. The
 * state lock must not be held: d's is taken. The milliseconds until the next is due (at most 1000),
 * -1 when none will be.
 */
int conns_tick(struct conns *, struct dispatch *d, uint64_t now_ms);

/* State lock held. */
void conns_stats(const struct conns *, struct conns_stats *);

#endif /* SCTAG_CONNS_H */
