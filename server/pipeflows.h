/*
 * pipeflows.h: the named pipe's lines become flows of the table, many
 * kernel changes per privileged round trip.
 *
 * A line is one start or end; a pipe writer sends thousands a second, and
 * one privileged round trip each (two process wake-ups) was the limit.
 * The network process keeps the lines of one read (up to PF_BATCH), plans
 * the rule each start adds and each end deletes, makes those changes in
 * one PRIV_RULES_MANY message, then runs them through the table in order
 * (dispatch_group.c does the same for API calls). In the table the pipe's
 * flows have fireflies, events, ListFlows, and end when their TCP
 * connection closes, as API flows do. They belong to PF_OWNER: a pipe
 * "end" ends only a flow the pipe started.
 */
#ifndef SCTAG_PIPEFLOWS_H
#define SCTAG_PIPEFLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "dispatch.h"
#include "pipe_parse.h"

#define PF_BATCH	64
#define PF_OWNER	"pipe"

struct pf_stats {
	uint64_t	started;	/* new flows */
	uint64_t	ended;
	uint64_t	refused;	/* the table said no (full, conflict,
					   not the pipe's, not there) */
	uint64_t	exchanges;	/* privileged round trips for lines */
};

struct pf_batch {
	struct pipe_event	ev[PF_BATCH];
	size_t			n;
	struct pf_stats		st;
};

/*
 * Keep one line (state lock held); flushes when full. The caller flushes
 * at the end of each read.
 */
void pf_push(struct dispatch *, struct pf_batch *, const struct pipe_event *);
void pf_flush(struct dispatch *, struct pf_batch *);

#endif /* SCTAG_PIPEFLOWS_H */
