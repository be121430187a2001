/*
 * flows.h: the agent's authoritative flow table.
 *
 * Every flow the API (and later the pipe and firefly plugins) started:
 * its normalised spec, owner, lease and kernel label. The kernel side sits
 * behind a backend the caller supplies (the privileged process's marker in
 * the agent, a fake in tests); the table calls it exactly once when a
 * markable flow starts and once when it ends, and changes nothing when
 * the backend fails, so the table and the kernel never disagree about a
 * rule the table made.
 *
 * Not thread-safe: one worker thread owns the table. Nothing here blocks
 * except the backend calls, and the table never evicts: a full table is
 * an explicit -ENOSPC.
 *
 * Decisions:
 *  - Identity. A flow is its canonical key (flowreq_key): the match plus
 *    tag and strategy. A start whose key exists returns that flow
 *    (created = 0); ttl, application and owner are not part of the key, so
 *    a repeat from anyone refreshes the lease (ttl > 0; ttl 0 leaves the
 *    lease as it is) and the first owner and application stay.
 *  - Conflict. A start whose match exists with another tag or strategy is
 *    -EEXIST ("flow N already marks this match with ...; end it first"):
 *    retagging would silently change what another caller's flow reports.
 *  - Ownership. An orchestrator may end only the flows it started; an
 *    admin may end any (admin flag). Another owner gets -EPERM. Ending by
 *    spec needs the whole key, tag included; a spec whose match runs with
 *    another tag is -ENOENT with the id of the flow that has it.
 *  - Backend failure on end: the flow stays (still listed, still marked)
 *    and the error is returned; expiry retries it FLOWS_RETRY_MS later.
 *  - Ids: 64-bit, from a random base below 2^53 (exact in a JavaScript
 *    dashboard), +1 per flow, never reused within a process.
 *  - Paging: flows in id order; the token is the last id returned plus a
 *    per-table tag (a token from another table or agent run is "bad page
 *    token"). Guarantee: across one listing, a flow that exists for its
 *    whole duration and matches the filter is returned exactly once; no
 *    flow is returned twice; flows started during the listing have larger
 *    ids than any before and so appear in a later page; flows ended during
 *    it may or may not appear.
 *  - flows_free does not remove kernel rules: they are pinned so that a
 *    restarted agent keeps marking. Drain first to remove them.
 */
#ifndef SCTAG_FLOWS_H
#define SCTAG_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include "flowreq.h"
#include "marker.h"
#include "registry.h"

#define FLOWS_CAPACITY_DEFAULT	1000000u
#define FLOWS_CAPACITY_MAX	(1u << 24)
#define FLOWS_OWNER_MAX		64	/* bytes; auth key names are shorter */
#define FLOWS_STRINGS_MAX	65535	/* distinct owners, and applications */
#define FLOWS_PAGE_DEFAULT	100
#define FLOWS_PAGE_MAX		1000
#define FLOWS_TOKEN_LEN		24	/* hex characters, without the NUL */
#define FLOWS_RETRY_MS		1000	/* after a failed del on expiry */

/*
 * The kernel side. add fills *label (with entropy; 0 when the strategy
 * does not use it). Both return 0 or a negative errno with a message.
 */
struct flows_backend {
	int	(*add)(void *arg, const struct marker_rule *, uint32_t *label,
		    char *err, size_t errlen);
	int	(*del)(void *arg, const struct marker_rule *, char *err,
		    size_t errlen);
	void	 *arg;
	/*
	 * Optional, for drains: n (at most FLOWS_DEL_MANY) deletes at once,
	 * each one's 0 or negative errno in rc[] (-ENOENT: already gone,
	 * which counts as deleted); the call's own result is for the whole
	 * (a channel error: nothing is known to be deleted).
	 */
	int	(*del_many)(void *arg, const struct marker_rule *rules,
		    size_t n, int32_t *rc);
};

#define FLOWS_DEL_MANY	64

enum flows_event {
	FLOWS_STARTED,
	FLOWS_ENDED,		/* by an end */
	FLOWS_EXPIRED,		/* its lease ran out */
	FLOWS_DRAINED,
};

struct flows_flow;

/*
 * Told of every flow that starts (not a repeated start) and every flow
 * that ends, however: fireflies and the event stream. Runs inside the
 * table's call; must not call into the table, nor block.
 */
typedef void flows_event_fn(void *arg, enum flows_event,
    const struct flows_flow *);

struct flows_opts {
	uint32_t		capacity;	/* 0: FLOWS_CAPACITY_DEFAULT */
	uint64_t		id_base;	/* 0: random (tests set it) */
	struct flows_backend	backend;
	const struct reg	*reg;		/* for messages; may be NULL */
	flows_event_fn		*event;		/* may be NULL */
	void			*event_arg;
};

/* A copy of one flow, for replies and fireflies; owns nothing. */
struct flows_flow {
	uint64_t		id;
	struct flowreq_spec	spec;		/* normalised */
	uint32_t		label;		/* 0 when not marked */
	uint64_t		created_ms;
	uint64_t		expires_ms;	/* 0 = no expiry */
	char			owner[FLOWS_OWNER_MAX + 1];
};

/*
 * Told about each flow expiry or drain tried to end: rc 0, the flow has
 * ended (send its end firefly); rc < 0, the backend failed, err says why
 * and the flow stays. Must not call into the table.
 */
typedef void flows_ended_fn(void *arg, const struct flows_flow *, int rc,
    const char *err);

struct flows_filter {
	const char	*owner;		/* NULL or "": any */
	uint32_t	 exp;		/* 0: any */
	int		 has_dst;	/* flows whose dst lies inside: */
	uint8_t		 dst[16];
	uint8_t		 dst_plen;
};

/* Carried from one flows_drain call to the next; zero it to begin. */
struct flows_drain {
	uint64_t	cursor;		/* last id looked at */
	uint32_t	ended;		/* totals over the calls */
	uint32_t	failed;
	int		more;		/* call again */
};

struct flows_stats {
	uint32_t	count;
	uint32_t	capacity;
	uint32_t	markable;
	uint32_t	leased;		/* with an expiry */
	uint32_t	owners;		/* distinct */
	uint64_t	started;	/* since flows_new */
	uint64_t	ended;		/* by end, expiry or drain */
	uint64_t	expired;
	uint64_t	del_failures;
};

struct flows;

int flows_new(const struct flows_opts *, struct flows **, char *err,
    size_t errlen);
void flows_free(struct flows *);
/* After a registry reload: names in conflict messages. */
void flows_set_reg(struct flows *, const struct reg *);

/*
 * Start (or find) the flow of a spec from flowreq_parse. owner: the
 * caller's key name, 1..FLOWS_OWNER_MAX bytes. -ENOSPC when the table (or
 * the pool of distinct names) is full, -EEXIST on a conflict, -ENOMEM
 * when its indexes can not grow, or the backend's error; on any error
 * nothing changed.
 */
int flows_start(struct flows *, const struct flowreq_spec *,
    const char *owner, uint64_t now_ms, struct flows_flow *out,
    int *created, char *err, size_t errlen);

/* End one flow; *out is the flow as it was. -ENOENT, -EPERM, backend's. */
int flows_end_id(struct flows *, uint64_t id, const char *caller, int admin,
    struct flows_flow *out, char *err, size_t errlen);
int flows_end_spec(struct flows *, const struct flowreq_spec *,
    const char *caller, int admin, struct flows_flow *out, char *err,
    size_t errlen);

/* Look up without changing anything. -ENOENT. */
int flows_get(const struct flows *, uint64_t id, struct flows_flow *out);
int flows_find(const struct flows *, const struct flowreq_spec *,
    struct flows_flow *out);
/* The flow whose rule has r's match, whatever its tag. -ENOENT. */
int flows_find_match(const struct flows *, const struct marker_rule *r,
    struct flows_flow *out);

/*
 * End at most max flows whose lease ended at or before now_ms, earliest
 * first (ties by id). O(max log n), whatever the table size. *more: some
 * expired flows are left for the next call.
 */
int flows_expire(struct flows *, uint64_t now_ms, uint32_t max,
    flows_ended_fn *, void *arg, uint32_t *ended, int *more);
/* When the next lease ends (to arm a timer). -ENOENT when none does. */
int flows_next_expiry(const struct flows *, uint64_t *ms);

/*
 * End the flows of owner (NULL or "": all), at most max per call, in id
 * order from st->cursor on; a flow whose backend del fails is skipped
 * (counted in st->failed) so the walk always finishes. One call costs
 * O(log n + flows walked), and with the backend's del_many one backend
 * call per FLOWS_DEL_MANY markable flows.
 */
int flows_drain(struct flows *, const char *owner, uint32_t max,
    flows_ended_fn *, void *arg, struct flows_drain *st);

/*
 * One page of flows matching the filter, in id order, after page_token
 * ("" or NULL: from the start). page_size 0 means FLOWS_PAGE_DEFAULT and
 * is capped at FLOWS_PAGE_MAX; out holds that many. next_token is "" on
 * the last page. *total (if not NULL) counts all matching flows: O(1)
 * with no filter or only one of owner/experiment, a walk of the table
 * otherwise. page_token and next_token may be one buffer. -EINVAL "bad
 * page token".
 */
int flows_list(const struct flows *, const struct flows_filter *,
    const char *page_token, uint32_t page_size, struct flows_flow *out,
    uint32_t *n, char next_token[FLOWS_TOKEN_LEN + 1], uint64_t *total,
    char *err, size_t errlen);
uint32_t flows_page_size(uint32_t requested);

void flows_stats(const struct flows *, struct flows_stats *);
/* Flows started by owner that are still in the table. */
uint32_t flows_owner_count(const struct flows *, const char *owner);

#endif /* SCTAG_FLOWS_H */
