/*
 * dispatch.c: see dispatch.h. The calls themselves are in dispatch_calls.c;
 * this file decides who is calling and what they may do.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatch.h"
#include "dispatch_calls.h"
#include "dispatch_group.h"
#include "log.h"
#include "wire.h"

/* A request that passed every check, waiting for the state lock. */
struct dispatch_job {
	Sctag__V1__Request	*req;
	struct auth_result	 res;
	int			 is_signed;
	int			 ipc;
	uint64_t		 now;
	dispatch_done_fn	*done;
	void			*tok;
	struct dispatch_job	*next;
	/* The call's result, given after the state lock is let go. */
	int			 rc;
	uint8_t			*out;
	size_t			 outlen;
};

/* An unsigned ipc request, for a worker to admit. */
struct dispatch_raw {
	struct wire_envelope	 env;
	struct dispatch_peer	 peer;
	dispatch_done_fn	*done;
	void			*tok;
	struct dispatch_raw	*next;
};

uint64_t
dispatch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static enum auth_op
op_of(Sctag__V1__Request__CallCase c)
{
	switch (c) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:	return AUTH_OP_START_FLOW;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:		return AUTH_OP_END_FLOW;
	case SCTAG__V1__REQUEST__CALL_BATCH:		return AUTH_OP_BATCH;
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:	return AUTH_OP_LIST_FLOWS;
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:	return AUTH_OP_GET_STATUS;
	case SCTAG__V1__REQUEST__CALL_GET_REGISTRY:	return AUTH_OP_GET_REGISTRY;
	case SCTAG__V1__REQUEST__CALL_PING:		return AUTH_OP_PING;
	case SCTAG__V1__REQUEST__CALL_RELOAD:		return AUTH_OP_RELOAD;
	case SCTAG__V1__REQUEST__CALL_DRAIN:		return AUTH_OP_DRAIN;
	default:					return AUTH_OP_COUNT;
	}
}

int
dispatch_init(struct dispatch *d)
{
	int rc;

	if ((rc = pthread_mutex_init(&d->lock, NULL)) != 0)
		return -rc;
	if ((rc = pthread_rwlock_init(&d->keys_lock, NULL)) != 0) {
		pthread_mutex_destroy(&d->lock);
		return -rc;
	}
	if ((rc = pthread_mutex_init(&d->qlock, NULL)) != 0) {
		pthread_rwlock_destroy(&d->keys_lock);
		pthread_mutex_destroy(&d->lock);
		return -rc;
	}
	if ((rc = pthread_cond_init(&d->wcv, NULL)) != 0) {
		pthread_mutex_destroy(&d->qlock);
		pthread_rwlock_destroy(&d->keys_lock);
		pthread_mutex_destroy(&d->lock);
		return -rc;
	}
	d->locks_made = 1;
	return 0;
}

void
dispatch_fini(struct dispatch *d)
{
	struct dispatch_job *j;
	struct dispatch_raw *raw;

	if (!d->locks_made)
		return;
	/* Left when the workers stopped; their connections are gone. */
	while ((j = d->qhead) != NULL) {
		d->qhead = j->next;
		wire_request_free(j->req);
		free(j);
	}
	d->qtail = NULL;
	while ((raw = d->rhead) != NULL) {
		d->rhead = raw->next;
		wire_envelope_free(&raw->env);
		free(raw);
	}
	d->rtail = NULL;
	pthread_cond_destroy(&d->wcv);
	pthread_mutex_destroy(&d->qlock);
	pthread_rwlock_destroy(&d->keys_lock);
	pthread_mutex_destroy(&d->lock);
	d->locks_made = 0;
}

void
dispatch_lock(struct dispatch *d)
{
	/* A count: the main thread and the connection scans both wait. */
	atomic_fetch_add(&d->main_waiting, 1);
	pthread_mutex_lock(&d->lock);
	atomic_fetch_sub(&d->main_waiting, 1);
}

static void kick(struct dispatch *);
static int queued(struct dispatch *);

void
dispatch_unlock(struct dispatch *d)
{
	pthread_mutex_unlock(&d->lock);
	/* What queued meanwhile: a worker's (never the main loop's). */
	if (queued(d))
		kick(d);
}

#define GRBUF_MAX	(1 << 20)	/* a group of some 50,000 members */

/*
 * Is uid (primary gid gid) a member of the admin group? The reentrant
 * lookups: several workers may ask at once. A group too big for GRBUF_MAX
 * is refused, never guessed.
 */
static int
in_admin_group(const struct dispatch *d, uint64_t uid, uint64_t gid)
{
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;
	char pwbuf[4096], *grbuf = NULL, **m;
	size_t grlen = 16384;
	int rc, yes = 0;

	if (d->admin_gid == (gid_t)-1)
		return 0;
	if (gid == d->admin_gid)
		return 1;
	if (getpwuid_r((uid_t)uid, &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 ||
	    pwp == NULL)
		return 0;
	for (;;) {
		if ((grbuf = malloc(grlen)) == NULL)
			return 0;
		rc = getgrgid_r(d->admin_gid, &gr, grbuf, grlen, &grp);
		if (rc != ERANGE || grlen >= GRBUF_MAX)
			break;
		free(grbuf);
		grlen *= 4;
	}
	if (rc == 0 && grp != NULL)
		for (m = grp->gr_mem; *m; m++)
			if (strcmp(*m, pw.pw_name) == 0) {
				yes = 1;
				break;
			}
	free(grbuf);
	return yes;
}

/*
 * Over ipc the kernel says who connected (SO_PEERCRED): root and the admin
 * group are admin, our own uid (the self-probe) a monitor, nobody else is
 * let in. The socket's 0660 mode and its 0750 directory already keep
 * others out; this is the second wall.
 */
static enum auth_role
ipc_role(const struct dispatch *d, const struct dispatch_peer *p)
{
	if (p->uid == 0 || in_admin_group(d, p->uid, p->gid))
		return AUTH_ROLE_ADMIN;
	if (p->uid == d->self_uid)
		return AUTH_ROLE_MONITOR;
	return AUTH_ROLE_NONE;
}

static int
error_reply(Sctag__V1__Code code, const char *msg, const ProtobufCBinaryData *rid,
    uint8_t **out, size_t *outlen)
{
	return wire_reply_error(code, msg, rid ? rid->data : NULL,
	    rid ? rid->len : 0, out, outlen);
}

/* Give the reply (NULL: out of memory, the client times out). */
static void
reply(dispatch_done_fn *done, void *tok, int rc, uint8_t *out, size_t outlen)
{
	if (rc != 0 || out == NULL)
		done(tok, NULL, 0);
	else
		done(tok, out, outlen);
	free(out);
}

/*
 * Who calls and may they: parse, verify, check the role, with no lock
 * held (a signature costs some 35 us: NNG's threads check them, on every
 * core). The job that may run, or NULL when the reply has been given.
 * Takes the envelope (and frees it).
 */
static struct dispatch_job *
admit(struct dispatch *d, const struct dispatch_peer *peer,
    struct wire_envelope *envp, dispatch_done_fn *done, void *tok)
{
	struct dispatch_job *j = NULL;
	struct wire_envelope env = *envp;
	struct wire_err werr;
	struct auth_request ar;
	struct auth_result res;
	Sctag__V1__Request *req = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;
	char m[256];
	enum auth_op op;
	uint64_t now = dispatch_now_ms();
	int rc, is_signed;

	memset(envp, 0, sizeof(*envp));		/* ours to free now */
	memset(&res, 0, sizeof(res));
	if (wire_request_parse(env.body, env.body_len, &req, &werr) != 0) {
		d->refused++;
		rc = error_reply(werr.code, werr.msg, NULL, &out, &outlen);
		goto answer;
	}
	op = op_of(req->call_case);
	is_signed = env.sig != NULL;
	if (!is_signed) {
		if (!peer->ipc) {
			d->refused++;
			rc = error_reply(SCTAG__V1__CODE__UNAUTHENTICATED,
			    "requests over TLS must be signed", &req->request_id,
			    &out, &outlen);
			goto answer;
		}
		res.role = ipc_role(d, peer);
		snprintf(res.name, sizeof(res.name), "uid:%llu",
		    (unsigned long long)peer->uid);
		if (res.role == AUTH_ROLE_NONE) {
			d->refused++;
			snprintf(m, sizeof(m), "uid %llu is neither root nor in "
			    "the admin group; sign the request with an enrolled "
			    "key", (unsigned long long)peer->uid);
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, &out, &outlen);
			goto answer;
		}
		if (strcasecmp(req->target_host, d->host) != 0) {
			d->refused++;
			snprintf(m, sizeof(m), "request is for host %.80s, this "
			    "is %.80s", req->target_host, d->host);
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, &out, &outlen);
			goto answer;
		}
		if (!auth_allowed(res.role, op)) {
			d->refused++;
			snprintf(m, sizeof(m), "role %s may not %s",
			    auth_role_name(res.role), auth_op_name(op));
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, &out, &outlen);
			goto answer;
		}
	} else {
		memset(&ar, 0, sizeof(ar));
		ar.body = env.body;
		ar.body_len = env.body_len;
		ar.key_id = env.key_id;
		ar.key_id_len = env.key_id_len;
		ar.sig = env.sig;
		ar.sig_len = env.sig_len;
		ar.target_host = req->target_host;
		ar.timestamp_ms = req->timestamp_ms;
		ar.nonce = req->nonce.data;
		ar.nonce_len = req->nonce.len;
		ar.request_id = req->request_id.data;
		ar.request_id_len = req->request_id.len;
		ar.op = op;
		pthread_rwlock_rdlock(&d->keys_lock);
		rc = auth_check(d->keys, d->nonces, d->replies, d->host, &ar,
		    now, &res);
		pthread_rwlock_unlock(&d->keys_lock);
		if (rc != AUTH_OK) {
			d->refused++;
			rc = error_reply((Sctag__V1__Code)res.code, res.message,
			    &req->request_id, &out, &outlen);
			goto answer;
		}
		if (res.reply) {
			/* A resend of an answered request: the first reply. */
			out = res.reply;
			outlen = res.reply_len;
			rc = 0;
			goto answer;
		}
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		/* The request id stays reserved: a resend gets UNAVAILABLE. */
		rc = -ENOMEM;
		goto answer;
	}
	j->req = req;
	j->res = res;
	j->is_signed = is_signed;
	j->ipc = peer->ipc;
	j->now = now;
	j->done = done;
	j->tok = tok;
	wire_envelope_free(&env);
	return j;
answer:
	reply(done, tok, rc, out, outlen);
	wire_request_free(req);
	wire_envelope_free(&env);
	return NULL;
}

/* The reply of a call that ran: cached for resends, then given. */
static void
finish(struct dispatch *d, struct dispatch_job *j)
{
	if (j->rc == 0 && j->is_signed)
		(void)auth_replies_store(d->replies, j->res.key_id,
		    j->req->request_id.data, j->res.body_hash, j->out,
		    j->outlen, j->now);
	if (log_get_level() >= LOG_LVL_DEBUG)
		log_debug("api: %s from %s (%s) over %s",
		    auth_op_name(op_of(j->req->call_case)), j->res.name,
		    auth_role_name(j->res.role), j->ipc ? "ipc" : "tls");
	reply(j->done, j->tok, j->rc, j->out, j->outlen);
	wire_request_free(j->req);
	free(j);
}

static void
ctx_of(struct dispatch *d, struct dispatch_job *j, struct call_ctx *cc)
{
	memset(cc, 0, sizeof(*cc));
	cc->d = d;
	cc->req = j->req;
	cc->role = j->res.role;
	cc->caller = j->res.name;
	cc->now_ms = j->now;
}

/* Run g[0..n) (jobs j[0..n)) as one group: one exchange, then in order. */
static void
run_group(struct dispatch *d, struct dispatch_job **j, struct group_call *g,
    size_t n)
{
	size_t i;

	if (n == 0)
		return;
	d->groups++;
	d->grouped += n;
	group_apply(d, g, n);
	for (i = 0; i < n; i++) {
		d->prep_cur = g[i].planned ? &g[i].prep : NULL;
		j[i]->rc = call_run(&g[i].cc, &j[i]->out, &j[i]->outlen);
		d->prep_cur = NULL;
		group_settle(d, &g[i]);
	}
}

/*
 * Run n waiting jobs in their order: consecutive starts and ends in
 * groups (dispatch_group.h), anything else alone. The state lock is held.
 */
static void
run_jobs(struct dispatch *d, struct dispatch_job **j, struct group_call *g,
    size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		ctx_of(d, j[i], &g[i].cc);
		if (!group_plan(&g[i])) {
			run_group(d, j + start, g + start, i - start);
			j[i]->rc = call_run(&g[i].cc, &j[i]->out,
			    &j[i]->outlen);
			start = i + 1;
		} else if (group_conflicts(g + start, i - start, &g[i])) {
			run_group(d, j + start, g + start, i - start);
			start = i;
			/* Planned again against the table as it is now. */
			(void)group_plan(&g[i]);
		}
	}
	run_group(d, j + start, g + start, n - start);
}

static size_t
take(struct dispatch *d, struct dispatch_job **j, size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&d->qlock);
	while (n < max && d->qhead) {
		j[n++] = d->qhead;
		d->qhead = d->qhead->next;
	}
	if (!d->qhead)
		d->qtail = NULL;
	pthread_mutex_unlock(&d->qlock);
	return n;
}

static int
queued(struct dispatch *d)
{
	int yes;

	pthread_mutex_lock(&d->qlock);
	yes = d->qhead != NULL;
	pthread_mutex_unlock(&d->qlock);
	return yes;
}

/*
 * Serve the queue unless another thread holds the state lock: that one
 * looks at the queue again after it lets go (here, or dispatch_unlock), so
 * a job queued while it held the lock is never left behind. The replies
 * go out after the lock is let go, so the next calls can run meanwhile
 * (kick() wakes a worker for them), and the main thread waiting for the
 * lock is let in between.
 */
static void
serve(struct dispatch *d)
{
	struct dispatch_job *j[GROUP_MAX];
	struct group_call g[GROUP_MAX];
	size_t i, n;

	while (!atomic_load(&d->main_waiting) && !d->stopping && queued(d) &&
	    pthread_mutex_trylock(&d->lock) == 0) {
		n = take(d, j, GROUP_MAX);
		run_jobs(d, j, g, n);
		pthread_mutex_unlock(&d->lock);
		for (i = 0; i < n; i++)
			finish(d, j[i]);
	}
}

static void
push(struct dispatch *d, struct dispatch_job *j)
{
	pthread_mutex_lock(&d->qlock);
	if (d->qtail)
		d->qtail->next = j;
	else
		d->qhead = j;
	d->qtail = j;
	pthread_mutex_unlock(&d->qlock);
}

/*
 * A job was queued: a worker must serve it unless some thread holds the
 * state lock, which looks at the queue again when it lets go (serve(),
 * dispatch_unlock()). Under load that is nearly always so, and no thread
 * needs waking.
 */
static void
kick(struct dispatch *d)
{
	if (pthread_mutex_trylock(&d->lock) != 0)
		return;
	pthread_mutex_unlock(&d->lock);
	pthread_mutex_lock(&d->qlock);
	d->kicks = 1;
	pthread_cond_signal(&d->wcv);
	pthread_mutex_unlock(&d->qlock);
}

/*
 * A worker: admits the unsigned ipc requests (their role may need the
 * group database, which may block) and serves the queue when kicked.
 */
static void *
worker_main(void *arg)
{
	struct dispatch *d = arg;
	struct dispatch_raw *raw;
	struct dispatch_job *j;

	for (;;) {
		pthread_mutex_lock(&d->qlock);
		while (!d->stopping && d->rhead == NULL && !d->kicks)
			pthread_cond_wait(&d->wcv, &d->qlock);
		if (d->stopping) {
			pthread_mutex_unlock(&d->qlock);
			break;
		}
		if ((raw = d->rhead) != NULL) {
			if ((d->rhead = raw->next) == NULL)
				d->rtail = NULL;
		} else
			d->kicks = 0;
		pthread_mutex_unlock(&d->qlock);
		if (raw != NULL) {
			j = admit(d, &raw->peer, &raw->env, raw->done,
			    raw->tok);
			free(raw);
			if (j != NULL)
				push(d, j);
		}
		serve(d);
	}
	return NULL;
}

int
dispatch_start(struct dispatch *d, int workers)
{
	long cores;
	int rc;

	/* Twice the cores: while one waits for the privileged process,
	 * others admit and queue. */
	if (workers <= 0) {
		cores = sysconf(_SC_NPROCESSORS_ONLN);
		workers = cores < 1 ? 2 : cores > DISPATCH_WORKERS_MAX / 2 ?
		    DISPATCH_WORKERS_MAX : 2 * (int)cores;
	}
	if (workers > DISPATCH_WORKERS_MAX)
		workers = DISPATCH_WORKERS_MAX;
	for (; d->nworkers < workers; d->nworkers++)
		if ((rc = pthread_create(&d->workers[d->nworkers], NULL,
		    worker_main, d)) != 0) {
			dispatch_stop(d);
			return -rc;
		}
	return 0;
}

void
dispatch_stop(struct dispatch *d)
{
	int i;

	pthread_mutex_lock(&d->qlock);
	d->stopping = 1;
	pthread_cond_broadcast(&d->wcv);
	pthread_mutex_unlock(&d->qlock);
	for (i = 0; i < d->nworkers; i++)
		pthread_join(d->workers[i], NULL);
	d->nworkers = 0;
}

void
dispatch_request(struct dispatch *d, const struct dispatch_peer *peer,
    const uint8_t *msg, size_t len, dispatch_done_fn *done, void *tok)
{
	struct wire_envelope env;
	struct wire_err werr;
	struct dispatch_raw *raw;
	struct dispatch_job *j;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int rc;

	d->requests++;
	memset(&env, 0, sizeof(env));
	if (wire_envelope_parse(msg, len, &env, &werr) != 0) {
		d->refused++;
		rc = error_reply(werr.code, werr.msg, NULL, &out, &outlen);
		reply(done, tok, rc, out, outlen);
		return;
	}
	if (env.sig == NULL && peer->ipc) {
		if ((raw = calloc(1, sizeof(*raw))) == NULL) {
			wire_envelope_free(&env);
			reply(done, tok, -ENOMEM, NULL, 0);
			return;
		}
		raw->env = env;
		raw->peer = *peer;
		raw->done = done;
		raw->tok = tok;
		pthread_mutex_lock(&d->qlock);
		if (d->rtail)
			d->rtail->next = raw;
		else
			d->rhead = raw;
		d->rtail = raw;
		pthread_cond_signal(&d->wcv);
		pthread_mutex_unlock(&d->qlock);
		return;
	}
	if ((j = admit(d, peer, &env, done, tok)) == NULL)
		return;
	push(d, j);
	kick(d);
}

int
dispatch_reload(struct dispatch *d, char *msg, size_t msglen)
{
	struct auth_keys *nk = NULL;
	struct reg *nreg;
	char err[256], rerr[256];
	int rc = 0;

	if (d->cfg->api_keys) {
		if ((rc = auth_keys_load(d->cfg->api_keys, &nk, err,
		    sizeof(err))) != 0) {
			snprintf(msg, msglen, "authorized_keys not reloaded, "
			    "the old keys stay: %s", err);
			return rc;
		}
		pthread_rwlock_wrlock(&d->keys_lock);
		auth_keys_free(d->keys);
		d->keys = nk;
		pthread_rwlock_unlock(&d->keys_lock);
	}
	if (d->cfg->registry_path)
		rc = reg_load_file(d->cfg->registry_path, &nreg, rerr,
		    sizeof(rerr));
	else
		rc = reg_load_builtin(&nreg, rerr, sizeof(rerr));
	if (rc != 0) {
		snprintf(msg, msglen, "%zu key(s) loaded; registry not "
		    "reloaded, the old one stays: %s", d->keys ?
		    auth_keys_count(d->keys) : 0, rerr);
		return rc;
	}
	reg_free(*d->regp);
	*d->regp = nreg;
	flows_set_reg(d->flows, nreg);
	snprintf(msg, msglen, "%zu key(s) loaded; registry from %s",
	    d->keys ? auth_keys_count(d->keys) : 0, nreg->source);
	return 0;
}
