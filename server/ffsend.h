/*
 * ffsend.h: fireflies out (docs/fireflies.md).
 *
 * One UDP datagram per event (common/firefly.h builds it) to every
 * collector of the configuration and, when asked, to the flow's remote
 * peer. ffsend_event only copies the event into a ring (FFSEND_RING, a
 * full ring is counted and drops); a thread of its own formats and sends,
 * many datagrams per sendmmsg(2): a pipe read or a Batch announces
 * hundreds of flows at once, and formatting and one system call (one
 * wake-up of a local collector) each were most of their cost. One
 * non-blocking socket per family; a send never waits: a full
 * socket buffer or an unreachable collector is counted against that
 * destination and the datagram is dropped. Collectors given by name are
 * resolved by a thread of their own, at the start and every
 * resolve_every seconds, so that a slow resolver never holds up a call;
 * until a name resolves, its datagrams are counted as unresolved.
 *
 * ffsend_event may be called from any thread, several at once.
 */
#ifndef SCTAG_FFSEND_H
#define SCTAG_FFSEND_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "firefly.h"

#define FFSEND_NAME_MAX	(CFG_HOSTNAME_MAX + 8)

struct ffsend_opts {
	const struct cfg	*cfg;		/* fireflies.* */
	const char		*host;		/* in the syslog header */
};

/* One destination's counts; "peer" is every remote peer together. */
struct ffsend_stats {
	char		name[FFSEND_NAME_MAX + 1];
	uint64_t	sent;
	uint64_t	errors;		/* sendto failed */
	uint64_t	unresolved;	/* a name with no address yet */
	int		last_errno;
};

struct ffsend;

/* NULL in *out (and 0) when fireflies are disabled. -errno with a message. */
int ffsend_new(const struct ffsend_opts *, struct ffsend **, char *err,
    size_t errlen);
void ffsend_free(struct ffsend *);

/* Announce ev to every destination. */
void ffsend_event(struct ffsend *, const struct ff_event *);


/* Destinations' counts, the peers' last; how many were written. */
size_t ffsend_stats(struct ffsend *, struct ffsend_stats *, size_t max);
/* Totals over every destination; bad_events counts ring overflows too. */
void ffsend_totals(struct ffsend *, uint64_t *sent, uint64_t *errors,
    uint64_t *unresolved, uint64_t *bad_events);

#endif /* SCTAG_FFSEND_H */
