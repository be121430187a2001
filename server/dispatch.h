/*
 * dispatch.h: one API request in, one reply out.
 *
 * Runs in the API's worker threads (rpc.c), several requests at once: it
 * parses the envelope, decides who the caller is (a signature checked
 * against authorized_keys, or over ipc the peer's uid) and checks the role
 * without any lock, so that signatures are verified on every core; then it
 * runs the call and packs the Reply holding the state lock. Every outcome
 * is a Reply with a code and a message; nothing from the request is
 * trusted before it is checked.
 *
 * The state lock guards what the calls share with the network process's
 * main thread: the flow table, the channel to the privileged process and
 * the registry. The main thread takes it (dispatch_lock) for its own work
 * on those: pipe lines, lease expiry, reloads, counters. The keys have a
 * lock of their own, read by every check and written only by a reload,
 * which holds the state lock as well.
 */
#ifndef SCTAG_DISPATCH_H
#define SCTAG_DISPATCH_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "config.h"
#include "flowreq.h"
#include "flows.h"
#include "priv.h"
#include "registry.h"

/*
 * A rule that Batch added ahead of its item, or a group of calls added or
 * deleted ahead of its call (dispatch_group.h), many per privileged round
 * trip; the flow table's backend takes it instead of making the change.
 */
struct dispatch_prep {
	struct marker_rule	rule;
	int32_t			rc;	/* 0: done, waiting to be taken */
	int			del;	/* 1: deleted ahead, 0: added */
	uint32_t		label;
	int			used;	/* its flow took it */
	struct flowreq_spec	spec;	/* the item's start, parsed once */
	int			have_spec;
};

struct dispatch_job;
struct dispatch_raw;
struct ffsend;
struct fflisten;
struct conns;
struct pf_stats;

#define DISPATCH_WORKERS_MAX	8

struct dispatch {
	const char		*host;		/* this agent's name */
	const struct cfg	*cfg;
	struct reg		**regp;		/* follows reloads */
	struct flows		*flows;
	struct priv_client	*priv;
	struct auth_keys	*keys;		/* NULL: nobody enrolled */
	struct auth_nonces	*nonces;
	struct auth_replies	*replies;
	struct ffsend		*ff;		/* NULL: no fireflies */
	struct fflisten		*ffl;		/* NULL: no listener */
	struct conns		*conns;		/* NULL: no fireflies */
	const struct pf_stats	*pf;		/* the pipe's flows */
	gid_t			 admin_gid;	/* (gid_t)-1: root only */
	uid_t			 self_uid;	/* our own probe: monitor */
	uint64_t		 started_ms;
	_Atomic uint64_t	 requests;
	_Atomic uint64_t	 refused;
	struct dispatch_prep	*prep_cur;	/* the Batch item being run */
	uint64_t		 groups;	/* of starts and ends (state lock) */
	uint64_t		 grouped;	/* calls run in them */
	pthread_mutex_t		 lock;		/* the state lock, above */
	pthread_rwlock_t	 keys_lock;	/* keys */
	int			 locks_made;
	/* Calls admitted, waiting for the state lock (dispatch.c). */
	pthread_mutex_t		 qlock;
	struct dispatch_job	*qhead, *qtail;
	_Atomic int		 main_waiting;
	/* The workers, and their work: requests to admit, or a kick. */
	pthread_cond_t		 wcv;		/* with qlock */
	struct dispatch_raw	*rhead, *rtail;
	int			 kicks;
	_Atomic int		 stopping;	/* set under qlock */
	pthread_t		 workers[DISPATCH_WORKERS_MAX];
	int			 nworkers;
};

struct dispatch_peer {
	int		ipc;		/* 1: ipc socket, 0: TLS */
	uint64_t	uid;		/* ipc only */
	uint64_t	gid;
};

/* The locks; the rest of the struct is the caller's to fill. -errno. */
int dispatch_init(struct dispatch *);
/* After dispatch_stop and after the transport has stopped. */
void dispatch_fini(struct dispatch *);
/*
 * The worker threads that run the calls (0: twice the cores, at most
 * DISPATCH_WORKERS_MAX); stop them before the transport.
 */
int dispatch_start(struct dispatch *, int workers);
void dispatch_stop(struct dispatch *);
void dispatch_lock(struct dispatch *);
void dispatch_unlock(struct dispatch *);

/*
 * The reply to a request: a packed Reply, or NULL when there was no memory
 * for one (the client times out). Called once per request, from whichever
 * thread ran it; reply is the callee's to copy, not to keep.
 */
typedef void dispatch_done_fn(void *tok, const uint8_t *reply, size_t len);

/*
 * Check and run one request; done(tok, ...) gets its reply, before this
 * returns or later from the thread that holds the state lock then. Any
 * thread, any number at once; the caller holds no lock. Never blocks: a
 * signed request is verified here (NNG's callback), an unsigned ipc one
 * by a worker, and the calls run in the workers (or the main thread).
 */
void dispatch_request(struct dispatch *, const struct dispatch_peer *,
    const uint8_t *msg, size_t len, dispatch_done_fn *done, void *tok);

/*
 * Re-read authorized_keys (and the registry); a message for the log. The
 * caller holds the state lock.
 */
int dispatch_reload(struct dispatch *, char *msg, size_t msglen);

uint64_t dispatch_now_ms(void);

#endif /* SCTAG_DISPATCH_H */
