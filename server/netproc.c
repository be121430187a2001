/*
 * netproc.c: the network process's loop: named pipe lines become rules,
 * through the privileged process.
 */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "conns.h"
#include "dispatch.h"
#include "events.h"
#include "ffin.h"
#include "fflisten.h"
#include "ffsend.h"
#include "sockdiag.h"
#include "flows.h"
#include "flowspec.h"
#include "log.h"
#include "netproc.h"
#include "pipe.h"
#include "pipeflows.h"
#include "priv.h"
#include "privproc.h"

#define CLOSING_MAX	1024
#define CLOSE_GRACE_MS	250
#define CLOSE_TRIES	10	/* ends tried, FLOWS_RETRY_MS apart */

struct closing {
	uint64_t		id;
	uint64_t		due_ms;
	struct sockdiag_conn	conn;
	unsigned		tries;
};

struct net {
	const struct cfg	*cfg;
	struct ffsend		*ff;
	struct fflisten		*ffl;
	struct sockdiag		*sd;
	struct conns		*conns;	/* NULL: no fireflies */
	struct events		*ev;
	struct pf_batch		 pfb;	/* pipe lines for the table */
	/* Flows whose connection closed, ending after a grace (sockdiag). */
	struct closing		 closing_q[CLOSING_MAX];
	struct closing		 closing_again[CLOSING_MAX];	/* scratch */
	size_t			 nclosing;
	/* The closed connection whose flow is being ended (its usage). */
	const struct sockdiag_conn *closing;
	struct reg		*reg;
	struct priv_client	 priv;
	struct pipe_reader	*pipe;
	struct rpc		*rpc;
	struct dispatch		 d;
	uint64_t		 ipv4_flows;	/* accepted, not markable */
	uint64_t		 rule_errors;
	struct log_ratelimit	 rl;
};

static const char *
describe(const struct net *n, const struct pipe_event *ev, char *buf,
    size_t len)
{
	flowspec_format(&ev->fs, n->reg, buf, len);
	return buf;
}

/* The hot path of the pipe: nothing is formatted unless it is logged. */
static void
on_pipe_event(void *arg, const struct pipe_event *ev)
{
	struct net *n = arg;
	enum marker_add what;
	struct mk_rule got;
	unsigned long suppressed;
	const char *state = ev->state == PIPE_START ? "start" : "end";
	char desc[256], err[256];
	int rc, debug = log_get_level() >= LOG_LVL_DEBUG;

	/* With the API's table: batched, and the flows get fireflies. */
	if (n->d.flows != NULL) {
		pf_push(&n->d, &n->pfb, ev);
		return;
	}
	if (ev->fs.family != AF_INET6) {
		/* Fireflies will announce these; there is nothing to mark. */
		n->ipv4_flows++;
		if (debug)
			log_debug("pipe: %s %s: IPv4, not markable", state,
			    describe(n, ev, desc, sizeof(desc)));
		return;
	}
	if (ev->state == PIPE_START)
		rc = priv_rule_add(&n->priv, &ev->fs.rule, &what, &got, err,
		    sizeof(err));
	else
		rc = priv_rule_del(&n->priv, &ev->fs.rule, err, sizeof(err));
	if (rc) {
		n->rule_errors++;
		if (log_ratelimit_ok(&n->rl, &suppressed))
			log_warn("pipe: %s %s: %s%s", state,
			    describe(n, ev, desc, sizeof(desc)), err,
			    suppressed ? " (earlier errors not logged)" : "");
		return;
	}
	if (!debug)
		return;
	if (ev->state == PIPE_START)
		log_debug("pipe: start %s: label 0x%05x%s",
		    describe(n, ev, desc, sizeof(desc)), got.label,
		    what == MARKER_UNCHANGED ? " (already there)" : "");
	else
		log_debug("pipe: end %s", describe(n, ev, desc, sizeof(desc)));
}

static void
log_counters(struct net *n)
{
	uint64_t c[MK_C_MAX];
	struct pipe_stats ps = { 0 };
	struct ffsend_stats fs[CFG_MAX_COLLECTORS + 1];
	size_t nff;
	int i;

	if (priv_counters(&n->priv, c) == 0)
		for (i = 0; i < MK_C_MAX; i++)
			log_info("counter %s %llu",
			    marker_counter_name((enum mk_counter)i),
			    (unsigned long long)c[i]);
	if (n->pipe)
		pipe_get_stats(n->pipe, &ps);
	nff = ffsend_stats(n->ff, fs, sizeof(fs) / sizeof(fs[0]));
	for (i = 0; i < (int)nff; i++)
		log_info("fireflies to %s: sent %llu, errors %llu%s%s, "
		    "unresolved %llu", fs[i].name,
		    (unsigned long long)fs[i].sent,
		    (unsigned long long)fs[i].errors,
		    fs[i].last_errno ? ", last: " : "",
		    fs[i].last_errno ? strerror(fs[i].last_errno) : "",
		    (unsigned long long)fs[i].unresolved);
	log_info("pipe lines %llu events %llu bad %llu overlong %llu; "
	    "ipv4 flows %llu; rule errors %llu",
	    (unsigned long long)ps.lines, (unsigned long long)ps.events,
	    (unsigned long long)ps.bad, (unsigned long long)ps.overlong,
	    (unsigned long long)n->ipv4_flows,
	    (unsigned long long)n->rule_errors);
}

static void
reload_registry(struct net *n)
{
	struct reg *nreg;
	char err[256];
	int rc;

	if (n->cfg->registry_path)
		rc = reg_load_file(n->cfg->registry_path, &nreg, err,
		    sizeof(err));
	else
		rc = reg_load_builtin(&nreg, err, sizeof(err));
	if (rc != 0) {
		log_warn("registry reload failed (%s); keeping the one from %s",
		    err, n->reg->source);
		return;
	}
	reg_free(n->reg);
	n->reg = nreg;
	log_info("registry reloaded from %s", n->reg->source);
}

/* The flow table's kernel side: the privileged process. */
static int
backend_add(void *arg, const struct marker_rule *r, uint32_t *label,
    char *err, size_t errlen)
{
	struct net *n = arg;
	struct dispatch_prep *p = n->d.prep_cur;
	enum marker_add what;
	struct mk_rule got;
	int rc;

	/* Added ahead (Batch, or a group of calls), many at a time. */
	if (p && p->rc == 0 && !p->del && !p->used &&
	    memcmp(&p->rule, r, sizeof(*r)) == 0) {
		p->used = 1;
		*label = r->strategy == MK_STRAT_FLOW_LABEL ? p->label : 0;
		return 0;
	}
	if ((rc = priv_rule_add(&n->priv, r, &what, &got, err, errlen)) != 0)
		return rc;
	*label = r->strategy == MK_STRAT_FLOW_LABEL ? got.label : 0;
	return 0;
}

static int
backend_del(void *arg, const struct marker_rule *r, char *err, size_t errlen)
{
	struct net *n = arg;
	struct dispatch_prep *p = n->d.prep_cur;
	int rc;

	/* Deleted ahead by a group of calls. */
	if (p && p->rc == 0 && p->del && !p->used &&
	    memcmp(&p->rule, r, sizeof(*r)) == 0) {
		p->used = 1;
		return 0;
	}
	/*
	 * Already gone (a named-pipe "end" for the same match, or a delete
	 * that timed out here but happened there) is what we wanted: else
	 * the flow could never be ended.
	 */
	rc = priv_rule_del(&n->priv, r, err, errlen);
	return rc == -ENOENT ? 0 : rc;
}

/* A flow of the table started or ended: its firefly. */
static void
flow_event(void *arg, enum flows_event ev, const struct flows_flow *f)
{
	struct net *n = arg;
	struct ff_event e;

	events_flow(n->ev, n->reg, ev, f);
	conns_flow(n->conns, ev, f);
	/* A received firefly's flow: its sender announced it already. */
	if (n->ff == NULL || !flowreq_exact(&f->spec.rule) ||
	    strcmp(f->owner, FFIN_OWNER) == 0)
		return;
	conns_firefly(&e, ev == FLOWS_STARTED ? FF_START : FF_END, f,
	    ev != FLOWS_STARTED ? n->closing : NULL, NULL);
	ffsend_event(n->ff, &e);
}

/*
 * End the flows whose grace ran out (all, up to max, when now is
 * UINT64_MAX). The state lock is held. The milliseconds to the next due.
 */
static int
closing_due(struct net *n, uint64_t now, size_t max)
{
	struct closing *c;
	struct flows_flow f;
	unsigned long suppressed;
	char err[256];
	size_t i, k = 0, nagain = 0;
	int rc;

	while (k < n->nclosing && k < max && n->closing_q[k].due_ms <= now) {
		c = &n->closing_q[k++];
		n->closing = &c->conn;
		rc = flows_end_id(n->d.flows, c->id, "sock_diag", 1, &f, err,
		    sizeof(err));
		n->closing = NULL;
		if (rc == 0) {
			log_debug("flow %llu ended: its connection closed",
			    (unsigned long long)f.id);
			continue;
		}
		if (rc == -ENOENT)
			continue;	/* ended meanwhile */
		/* The privileged side failed: the rule still marks. */
		if (++c->tries < CLOSE_TRIES && now != UINT64_MAX) {
			if (log_ratelimit_ok(&n->rl, &suppressed))
				log_warn("flow %llu: its connection closed, "
				    "but: %s; trying again%s",
				    (unsigned long long)c->id, err, suppressed ?
				    " (earlier warnings not logged)" : "");
			c->due_ms = now + FLOWS_RETRY_MS;
			n->closing_again[nagain++] = *c;
			continue;
		}
		log_err("flow %llu: its connection closed, but ending it "
		    "failed %u times (%s): it stays until ended or drained",
		    (unsigned long long)c->id, c->tries, err);
	}
	if (k > 0) {
		n->nclosing -= k;
		for (i = 0; i < n->nclosing; i++)
			n->closing_q[i] = n->closing_q[i + k];
	}
	/*
	 * Behind the others: an end retried after a privileged failure may
	 * hold up those queued after it by at most FLOWS_RETRY_MS.
	 */
	for (i = 0; i < nagain && n->nclosing < CLOSING_MAX; i++)
		n->closing_q[n->nclosing++] = n->closing_again[i];
	if (n->nclosing == 0)
		return -1;
	return n->closing_q[0].due_ms <= now ? 0 :
	    (int)(n->closing_q[0].due_ms - now);
}

/*
 * A TCP socket of this host closed (main thread, state lock held): the
 * exact flow of that connection ends CLOSE_GRACE_MS later, its end firefly
 * with the final counts. Later, because the kernel reports the socket
 * gone before the connection's last ACK has left (from TIME_WAIT): that
 * packet is the flow's too. Flows started by anyone end so: the
 * connection is gone.
 */
static void
conn_closed(void *arg, const struct sockdiag_conn *c)
{
	struct net *n = arg;
	struct marker_rule r;
	struct flows_flow f;

	conns_exact_rule(c, &r);
	conns_closed(n->conns, c);
	if (flows_find_match(n->d.flows, &r, &f) != 0)
		return;
	if (n->nclosing == CLOSING_MAX) {
		/* A burst beyond the list: end the oldest now. */
		closing_due(n, UINT64_MAX, 1);
	}
	memset(&n->closing_q[n->nclosing], 0, sizeof(n->closing_q[0]));
	n->closing_q[n->nclosing].id = f.id;
	n->closing_q[n->nclosing].conn = *c;
	n->closing_q[n->nclosing].due_ms = dispatch_now_ms() + CLOSE_GRACE_MS;
	n->nclosing++;
}

/* A good firefly from the listener (main thread, state lock held). */
static int
ff_in(void *arg, const struct ff_event *ev, const uint8_t from[16],
    char *err, size_t errlen)
{
	struct net *n = arg;

	(void)from;
	return ffin_apply(&n->d, ev, err, errlen);
}

/* The workers' entry into dispatch (rpc.h's handler). */
static void
api_handle(void *arg, const struct dispatch_peer *peer, const uint8_t *msg,
    size_t len, dispatch_done_fn *done, void *tok)
{
	dispatch_request(arg, peer, msg, len, done, tok);
}

/* A drain's deletes, FLOWS_DEL_MANY per privileged round trip. */
static int
backend_del_many(void *arg, const struct marker_rule *rules, size_t count,
    int32_t *rc)
{
	struct net *n = arg;
	struct mk_rule got[FLOWS_DEL_MANY];
	uint8_t ops[FLOWS_DEL_MANY];

	if (count > FLOWS_DEL_MANY)
		return -E2BIG;
	memset(ops, PRIV_MANY_DEL, count);
	return priv_rules_many(&n->priv, ops, rules, count, rc, got);
}

/*
 * The events socket: events.sock next to the API's ipc socket (same
 * directory, same users), and the TLS listener of api.events_tls; either
 * may be the only one.
 */
static int
events_start(struct net *n, const struct netproc_opts *o)
{
	struct events_opts eo;
	const char *ipc = o->rpc.ipc_path, *slash;
	char path[4096], err[512];
	int dirlen;

	memset(&eo, 0, sizeof(eo));
	eo.host = o->host;
	if (ipc != NULL) {
		slash = strrchr(ipc, '/');
		dirlen = slash ? (int)(slash - ipc) + 1 : 0;
		if (snprintf(path, sizeof(path), "%.*s%s", dirlen, ipc,
		    EVENTS_SOCK) >= (int)sizeof(path)) {
			log_err("events: socket path too long");
			return -1;
		}
		eo.ipc_path = path;
	}
	eo.tls_url = o->events_tls_url;
	eo.tls_cert_pem = o->rpc.tls_cert_pem;
	eo.tls_key_pem = o->rpc.tls_key_pem;
	eo.tls_ca_pem = o->events_ca_pem;
	if (eo.ipc_path == NULL && eo.tls_url == NULL)
		return 0;
	if (events_open(&n->ev, &eo, err, sizeof(err)) != 0) {
		log_err("events: %s", err);
		return -1;
	}
	log_info("events: %s%s%s%s%s", eo.ipc_path ? "ipc://" : "",
	    eo.ipc_path ? eo.ipc_path : "", eo.ipc_path && eo.tls_url ?
	    ", " : "", eo.tls_url ? eo.tls_url : "", eo.tls_url ?
	    " (role watch)" : "");
	return 0;
}

/* Before the API takes calls: every flow's start reaches it. */
static int
conns_start(struct net *n, const struct cfg *cfg)
{
	struct conns_opts co;
	char err[256];

	memset(&co, 0, sizeof(co));
	co.ff = n->ff;
	co.d = &n->d;
	co.flows = n->d.flows;
	co.scan_ms = cfg->ff_scan * 1000;
	co.interval_ms = cfg->ff_interval * 1000;
	if (conns_new(&co, &n->conns, err, sizeof(err)) != 0 ||
	    conns_run(n->conns, err, sizeof(err)) != 0) {
		log_err("fireflies: connections: %s", err);
		return -1;
	}
	n->d.conns = n->conns;
	return 0;
}

static int
api_start(struct net *n, const struct netproc_opts *o)
{
	struct flows_opts fo;
	struct rpc_opts ro;
	char err[512];

	if (!o->rpc.ipc_path && !o->rpc.tls_url)
		return 0;
	if (dispatch_init(&n->d) != 0) {
		log_err("api: out of memory for the locks");
		return -1;
	}
	memset(&fo, 0, sizeof(fo));
	fo.capacity = o->cfg->api_flows;
	fo.backend.add = backend_add;
	fo.backend.del = backend_del;
	fo.backend.del_many = backend_del_many;
	fo.event = flow_event;
	fo.event_arg = n;
	fo.backend.arg = n;
	fo.reg = n->reg;
	n->d.host = o->host;
	n->d.cfg = o->cfg;
	n->d.regp = &n->reg;
	n->d.priv = &n->priv;
	n->d.ff = n->ff;
	n->d.pf = &n->pfb.st;
	n->d.admin_gid = o->admin_gid;
	n->d.self_uid = getuid();
	n->d.started_ms = dispatch_now_ms();
	if (flows_new(&fo, &n->d.flows, err, sizeof(err)) != 0) {
		log_err("api: flow table: %s", err);
		return -1;
	}
	if (n->ff != NULL && conns_start(n, o->cfg) != 0)
		return -1;
	if (auth_nonces_new(AUTH_WINDOW_MS_DEFAULT, AUTH_NONCES_DEFAULT,
	    &n->d.nonces) != 0 ||
	    auth_replies_new(AUTH_WINDOW_MS_DEFAULT, 1u << 16, 64u << 20,
	    &n->d.replies) != 0) {
		log_err("api: out of memory for the replay caches");
		return -1;
	}
	if (o->cfg->api_keys && auth_keys_load(o->cfg->api_keys, &n->d.keys,
	    err, sizeof(err)) != 0) {
		log_err("api: %s", err);
		return -1;
	}
	if (dispatch_start(&n->d, 0) != 0) {
		log_err("api: cannot start the worker threads");
		return -1;
	}
	ro = o->rpc;
	ro.handle = api_handle;
	ro.handle_arg = &n->d;
	if (o->cfg->api_events && events_start(n, o) != 0)
		return -1;
	if (rpc_start(&n->rpc, &ro, err, sizeof(err)) != 0) {
		log_err("api: %s", err);
		return -1;
	}
	log_info("api: %s%s%s%s; %zu key(s) enrolled; host name %s",
	    o->rpc.ipc_path ? "ipc://" : "", o->rpc.ipc_path ?
	    o->rpc.ipc_path : "", o->rpc.ipc_path && o->rpc.tls_url ? ", " :
	    "", o->rpc.tls_url ? o->rpc.tls_url : "", n->d.keys ?
	    auth_keys_count(n->d.keys) : 0, o->host);
	return 0;
}

static void
expired(void *arg, const struct flows_flow *f, int rc, const char *err)
{
	(void)arg;
	if (rc != 0)
		log_warn("api: flow %llu expired but its rule stays: %s",
		    (unsigned long long)f->id, err);
	else
		log_debug("api: flow %llu expired", (unsigned long long)f->id);
}

/* End the leases that ran out; the poll timeout until the next one. */
static int
api_expire(struct net *n)
{
	uint64_t now, next;
	uint32_t ended;
	int more = 0;

	if (!n->d.flows)
		return -1;
	now = dispatch_now_ms();
	(void)flows_expire(n->d.flows, now, 1024, expired, n, &ended, &more);
	if (more)
		return 0;
	if (flows_next_expiry(n->d.flows, &next) != 0)
		return 1000;
	return next <= now ? 0 : next - now > 1000 ? 1000 : (int)(next - now);
}

/*
 * The main thread's share of the state the API workers use: taken around
 * each piece of work, never across poll().
 */
static void
state_lock(struct net *n)
{
	if (n->d.locks_made)
		dispatch_lock(&n->d);
}

static void
state_unlock(struct net *n)
{
	if (n->d.locks_made)
		dispatch_unlock(&n->d);
}

/*
 * HUP, from the parent or straight to this process (systemctl kill): keys
 * and registry together when the API runs, so the flow table never keeps
 * a registry that was freed.
 */
static void
reload(struct net *n)
{
	char msg[512];

	if (!n->d.flows) {
		reload_registry(n);
		return;
	}
	dispatch_reload(&n->d, msg, sizeof(msg));
	log_info("reload: %s", msg);
}

#define STOP_MAX_MS	3000

static int stop_rc;

static void *
watchdog_main(void *arg)
{
	(void)arg;
	nng_msleep(STOP_MAX_MS);
	log_warn("net: still stopping after %d ms (the API's socket does not "
	    "close: clients that never read?); exiting now", STOP_MAX_MS);
	_exit(stop_rc);
}

/*
 * Seen with NNG 1.5.2: nng_close of the rep socket waited for ever after
 * clients had left large replies unread. A stop must not hang (the
 * privileged process waits for us): past STOP_MAX_MS, exit anyway. The
 * kernel state is the privileged process's; nothing here needs saving.
 */
static void
stop_watchdog(int rc)
{
	pthread_t t;

	stop_rc = rc;
	if (pthread_create(&t, NULL, watchdog_main, NULL) == 0)
		pthread_detach(t);
}

static int
signals_fd(void)
{
	sigset_t mask;

	if (sigprocmask(SIG_BLOCK, NULL, &mask) != 0)
		return -1;
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

int
netproc_run(const struct netproc_opts *o)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[5 + CFG_MAX_LISTEN];
	int ffl_fds[CFG_MAX_LISTEN];
	size_t nffl = 0, j;
	struct pipe_opts po;
	struct ffsend_opts fo;
	struct net n;
	char err[256];
	int sfd, k, rc = 1, timeout, bad;
	char cmd;

	/*
	 * Big blocks (the flow table's indexes, which grow by doubling)
	 * from mmap, always: glibc otherwise raises its threshold when one
	 * is freed, and the next, bigger one comes from the heap, where
	 * the freed ones stay resident (8 MiB more at 1,000,000 flows,
	 * bench_api).
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	memset(&n, 0, sizeof(n));
	n.cfg = o->cfg;
	n.reg = o->reg;
	n.priv.fd = o->chan_fd;
	n.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 20);
	if ((sfd = signals_fd()) < 0) {
		log_err("net: signalfd: %s", strerror(errno));
		goto out;
	}
	if (o->pipe_fd >= 0) {
		memset(&po, 0, sizeof(po));
		po.path = o->cfg->pipe_path;
		po.fd = o->pipe_fd;
		po.regp = (const struct reg *const *)&n.reg;
		po.strategy = o->cfg->strategy;
		po.cb = on_pipe_event;
		po.arg = &n;
		if (pipe_open(&n.pipe, &po, err, sizeof(err)) != 0) {
			log_err("pipe: %s", err);
			goto out;
		}
	}
	memset(&fo, 0, sizeof(fo));
	fo.cfg = o->cfg;
	fo.host = o->host;
	if (ffsend_new(&fo, &n.ff, err, sizeof(err)) != 0) {
		log_err("fireflies: %s", err);
		goto out;
	}
	if (api_start(&n, o) != 0)
		goto out;
	if (n.d.flows == NULL && o->cfg->ff_enabled && o->cfg->nff_listen > 0)
		log_warn("fireflies: no listener without the API's flow table "
		    "(api.ipc or api.tls)");
	else if (fflisten_open(o->cfg, ff_in, &n, &n.ffl, err,
	    sizeof(err)) != 0) {
		log_err("fireflies: %s", err);
		goto out;
	}
	state_lock(&n);
	n.d.ffl = n.ffl;	/* GetStatus reads it */
	state_unlock(&n);
	nffl = fflisten_fds(n.ffl, ffl_fds, CFG_MAX_LISTEN);
	if (n.d.flows != NULL && sockdiag_open(&n.sd, err, sizeof(err)) != 0)
		log_warn("flows will not end when their connection closes: "
		    "%s", err);
	for (;;) {
		state_lock(&n);
		timeout = api_expire(&n);
		if (n.nclosing > 0 && (k = closing_due(&n, dispatch_now_ms(),
		    CLOSING_MAX)) >= 0 && (timeout < 0 || k < timeout))
			timeout = k;
		state_unlock(&n);
		if (n.rpc)
			rpc_tick(n.rpc);
		events_tick(n.ev);
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = o->chan_fd;
		pfd[1].events = 0;	/* only its hangup */
		pfd[2].fd = n.pipe ? pipe_fd(n.pipe) : -1;
		pfd[2].events = POLLIN;
		pfd[3].fd = o->ctl_fd;
		pfd[3].events = POLLIN;
		pfd[4].fd = sockdiag_fd(n.sd);
		pfd[4].events = POLLIN;
		for (j = 0; j < nffl; j++) {
			pfd[5 + j].fd = ffl_fds[j];
			pfd[5 + j].events = POLLIN;
		}
		k = poll(pfd, 5 + nffl, timeout);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			log_err("net: poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[1].revents & (POLLHUP | POLLERR)) {
			log_err("net: the privileged process is gone; "
			    "stopping");
			goto out;
		}
		if (pfd[4].revents & POLLIN) {
			state_lock(&n);
			sockdiag_read(n.sd, conn_closed, &n);
			state_unlock(&n);
		}
		for (j = 0; j < nffl; j++)
			if (pfd[5 + j].revents & POLLIN) {
				state_lock(&n);
				fflisten_read(n.ffl, ffl_fds[j]);
				state_unlock(&n);
			}
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			state_lock(&n);
			bad = pipe_read(n.pipe) != 0;
			if (n.d.flows != NULL)
				pf_flush(&n.d, &n.pfb);
			state_unlock(&n);
			if (bad)
				goto out;
		}
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read(o->ctl_fd, &cmd, 1) != 1) {
				rc = 0;		/* told to stop */
				goto out;
			}
			state_lock(&n);
			if (cmd == PRIV_CTL_RELOAD)
				reload(&n);
			else if (cmd == PRIV_CTL_COUNTERS)
				log_counters(&n);
			state_unlock(&n);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			rc = 0;
			goto out;
		case SIGHUP:
			state_lock(&n);
			reload(&n);
			state_unlock(&n);
			break;
		case SIGUSR1:
			state_lock(&n);
			log_counters(&n);
			state_unlock(&n);
			break;
		}
	}
out:
	stop_watchdog(rc);
	/* Workers first: they answer through the transport. */
	if (n.d.locks_made)
		dispatch_stop(&n.d);
	rpc_stop(n.rpc);
	conns_free(n.conns);
	flows_free(n.d.flows);
	auth_keys_free(n.d.keys);
	auth_nonces_free(n.d.nonces);
	auth_replies_free(n.d.replies);
	dispatch_fini(&n.d);
	fflisten_close(n.ffl);
	sockdiag_close(n.sd);
	events_close(n.ev);
	ffsend_free(n.ff);
	pipe_close(n.pipe);
	reg_free(n.reg);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
