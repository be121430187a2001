/*
 * dispatch_group.h: StartFlow and EndFlow calls that wait together have
 * their kernel work done together.
 *
 * Under load the API's calls queue for the state lock, and each used to
 * make its own round trip to the privileged process, two process wake-ups
 * that cost more than the call itself (docs/performance.md). The worker
 * that holds the lock takes every call that waits (dispatch.c), plans the
 * rule each start will add and each end will delete, makes all those
 * changes in one exchange, and then runs the calls one by one, in order,
 * as if alone: the flow table's backend (netproc.c) takes the change made
 * ahead instead of making it (struct dispatch_prep).
 *
 * A plan is only ever a guess the call must confirm: a start adds only a
 * rule whose match is absent from the kernel, an end deletes only the rule
 * of a flow it may end. Two calls on one match never share a group; a
 * change no call took is undone before the group's replies are final.
 */
#ifndef SCTAG_DISPATCH_GROUP_H
#define SCTAG_DISPATCH_GROUP_H

#include <stddef.h>

#include "dispatch_calls.h"

#define GROUP_MAX	64	/* calls per group: one priv message */

struct group_call {
	struct call_ctx		cc;		/* the caller's */
	struct dispatch_prep	prep;		/* group_plan's */
	int			planned;	/* a kernel change to make */
	uint8_t			match[FLOWREQ_MATCH_LEN];
	int			has_match;
	int			direct;		/* pipe: a rule no flow has */
};

/*
 * 1: a StartFlow or EndFlow that may join a group (its change, if any,
 * planned against the table as it is now); 0: any other call, run alone.
 */
int group_plan(struct group_call *);

/* Would c touch a match one of g[0..n) touches? */
int group_conflicts(const struct group_call *g, size_t n,
    const struct group_call *c);

/* Make the planned changes of g[0..n) in one exchange. */
void group_apply(struct dispatch *, struct group_call *g, size_t n);

/* After g's call ran: undo its change if the call did not take it. */
void group_settle(struct dispatch *, struct group_call *g);

#endif /* SCTAG_DISPATCH_GROUP_H */
