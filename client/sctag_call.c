/*
 * sctag_call.c: send one request to one or many agents and wait for the
 * replies, all bounded by one deadline.
 *
 * Each client has one aio. A call builds and signs an Envelope per
 * client, then runs the aio through send -> receive; the callback resends
 * the same Envelope when the connection was lost before the reply. The
 * caller's thread waits on a condition variable, and every TICK_MS looks
 * at NNG's dialer statistics: the dialers run in the background (so that
 * all agents are dialed at once), and the statistics are the only place
 * NNG 1.5.2 tells why a background dial failed. A client that has no
 * connection and whose dialer failed since the call began is given up at
 * once ("connection refused", "TLS handshake failed") instead of waiting
 * for the deadline. Only a request no pipe has taken is cancelled that
 * way: NNG 1.5.2 can crash when a receive is cancelled while its request
 * is being sent (nanomsg/nng#1702).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "keys.h"
#include "sctag_int.h"

#define TICK_MS		20
/* How long past the deadline NNG gets to time an aio out before the
 * waiter cancels it itself. */
#define GRACE_MS	1000

struct sctag_many {
	nng_mtx		*mtx;
	nng_cv		*cv;
	size_t		 pending;
	nng_time	 deadline;
};

/* What a dialer's statistics say; fail counts every failed attempt. */
struct dstat {
	uint64_t	pipes, connect, fail;
	uint64_t	refused, auth, proto, timeout, reject;
};

static nng_duration
remaining(const struct sctag_many *m)
{
	nng_time	now = nng_clock();

	/* 0 would mean "poll"; one ms past the deadline is a timeout too. */
	return now >= m->deadline ? 1 : (nng_duration)(m->deadline - now);
}

static int
send_env(struct sctag_client *c)
{
	nng_msg	*msg;
	int	 rv;

	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		return rv;
	if ((rv = nng_msg_append(msg, c->env, c->env_len)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	c->sends++;
	nng_aio_set_msg(c->aio, msg);
	nng_aio_set_timeout(c->aio, remaining(c->many));
	nng_send_aio(c->sock, c->aio);
	return 0;
}

static void
set_phase(struct sctag_client *c, enum sctag_phase p)
{
	nng_mtx_lock(c->many->mtx);
	c->phase = p;
	nng_mtx_unlock(c->many->mtx);
}

void
sctag_aio_done(void *arg)
{
	struct sctag_client	*c = arg;
	struct sctag_many	*m = c->many;
	int			 rv = nng_aio_result(c->aio), stop;

	if (c->phase == SCTAG_SENDING) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(c->aio));
			nng_aio_set_msg(c->aio, NULL);
			goto done;
		}
		/* Read stop and move on in one step, so that the waiter
		 * never cancels a receive (see the top of the file). */
		nng_mtx_lock(m->mtx);
		stop = c->stop;
		if (!stop)
			c->phase = SCTAG_RECEIVING;
		nng_mtx_unlock(m->mtx);
		if (stop) {
			rv = NNG_ECANCELED;
			goto done;
		}
		c->handed = 1;
		nng_aio_set_timeout(c->aio, remaining(m));
		nng_recv_aio(c->sock, c->aio);
		return;
	}
	if (rv == 0) {
		c->reply = nng_aio_get_msg(c->aio);
		nng_aio_set_msg(c->aio, NULL);
		goto done;
	}
	/* The connection went away before the reply. The same Envelope
	 * again, on the next connection: the agent knows the request id
	 * and answers with its first reply if it has one. */
	if (rv == NNG_ECONNRESET && nng_clock() < m->deadline) {
		set_phase(c, SCTAG_SENDING);
		if ((rv = send_env(c)) == 0)
			return;
	}
done:
	c->rv = rv;
	c->t1 = nng_clock();
	nng_mtx_lock(m->mtx);
	c->phase = SCTAG_DONE;
	m->pending--;
	nng_cv_wake(m->cv);
	/* The waiter may free m once it has the lock again: no touching
	 * it after this. */
	nng_mtx_unlock(m->mtx);
}

/*
 * The scope "dialer" whose "id" is d's. Not nng_stat_find_dialer: seen
 * returning another scope in a process with more NNG users (a Criterion
 * test runner), which made every dial look connected.
 */
static nng_stat *
find_dialer(nng_stat *s, uint64_t id)
{
	nng_stat	*x, *found;

	for (; s != NULL; s = nng_stat_next(s)) {
		if (nng_stat_type(s) != NNG_STAT_SCOPE)
			continue;
		if (strcmp(nng_stat_name(s), "dialer") == 0) {
			for (x = nng_stat_child(s); x != NULL;
			    x = nng_stat_next(x))
				if (nng_stat_type(x) == NNG_STAT_ID &&
				    strcmp(nng_stat_name(x), "id") == 0 &&
				    nng_stat_value(x) == id)
					return s;
			continue;
		}
		if ((found = find_dialer(nng_stat_child(s), id)) != NULL)
			return found;
	}
	return NULL;
}

static void
stat_get(nng_stat *root, nng_dialer d, struct dstat *ds)
{
	nng_stat	*s, *x;
	const char	*name;
	uint64_t	 v;

	memset(ds, 0, sizeof(*ds));
	if (root == NULL || (s = find_dialer(root,
	    (uint64_t)nng_dialer_id(d))) == NULL)
		return;
	for (x = nng_stat_child(s); x != NULL; x = nng_stat_next(x)) {
		if (nng_stat_type(x) != NNG_STAT_COUNTER &&
		    nng_stat_type(x) != NNG_STAT_LEVEL)
			continue;
		name = nng_stat_name(x);
		v = nng_stat_value(x);
		if (strcmp(name, "pipes") == 0)
			ds->pipes = v;
		else if (strcmp(name, "connect") == 0)
			ds->connect = v;
		else if (strcmp(name, "refused") == 0)
			ds->refused = v;
		else if (strcmp(name, "auth") == 0)
			ds->auth = v;
		else if (strcmp(name, "proto") == 0)
			ds->proto = v;
		else if (strcmp(name, "timeout") == 0)
			ds->timeout = v;
		else if (strcmp(name, "reject") == 0)
			ds->reject = v;
		else if (strcmp(name, "other") == 0 ||
		    strcmp(name, "oom") == 0)
			ds->fail += v;
		/* Not "disconnect": a connection that was made and then
		 * lost is not a failed dial; the aio sees it and resends. */
	}
	ds->fail += ds->refused + ds->auth + ds->proto + ds->timeout +
	    ds->reject;
}

static const char *
dial_reason(const struct dstat *ds)
{
	if (ds->auth > 0)
		return "TLS handshake failed (certificate, CA or server name "
		    "not accepted)";
	if (ds->refused > 0)
		return "connection refused";
	if (ds->proto > 0)
		return "protocol error (not an sctag agent?)";
	if (ds->reject > 0)
		return "connection rejected";
	if (ds->timeout > 0)
		return "connect timed out";
	return "cannot connect (TLS handshake or socket failed)";
}

/* Give up the clients whose dialer failed and that have no pipe. */
static void
check_dialers(struct sctag_client *const *cs, size_t n,
    struct sctag_many *m)
{
	nng_stat	*root = NULL;
	struct dstat	 ds;
	size_t		 i;
	int		 cancel, sending = 0;

	nng_mtx_lock(m->mtx);
	for (i = 0; i < n && !sending; i++)
		sending = cs[i] != NULL && cs[i]->many == m &&
		    cs[i]->phase == SCTAG_SENDING && !cs[i]->stop;
	nng_mtx_unlock(m->mtx);
	if (!sending || nng_stats_get(&root) != 0)
		return;
	for (i = 0; i < n; i++) {
		struct sctag_client	*c = cs[i];

		if (c == NULL || c->many != m)
			continue;
		stat_get(root, c->dialer, &ds);
		if (!c->have_base) {
			/* Connected when the call began: count from now. */
			c->base_connect = ds.connect;
			c->base_fail = ds.fail;
			c->have_base = 1;
			continue;
		}
		if (ds.pipes > 0 || ds.connect > c->base_connect ||
		    ds.fail <= c->base_fail)
			continue;
		nng_mtx_lock(m->mtx);
		cancel = c->phase == SCTAG_SENDING && !c->stop;
		if (cancel) {
			c->stop = 1;
			snprintf(c->dial_error, sizeof(c->dial_error), "%s",
			    dial_reason(&ds));
		}
		nng_mtx_unlock(m->mtx);
		if (cancel)
			nng_aio_cancel(c->aio);
	}
	nng_stats_free(root);
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Fill in the header and sign: a new nonce and request id per call. */
static int
prepare(struct sctag_client *c, const Sctag__V1__Request *req,
    struct sctag_result *res)
{
	Sctag__V1__Request	r = *req;
	uint8_t			nonce[WIRE_NONCE_LEN];
	int			rc;

	free(c->env);
	c->env = NULL;
	c->reply = NULL;
	c->rv = 0;
	c->sends = 0;
	c->handed = 0;
	c->stop = 0;
	c->dial_error[0] = '\0';
	c->phase = SCTAG_IDLE;
	if (env_sodium_init() != 0) {
		snprintf(res->message, sizeof(res->message),
		    "libsodium does not initialise");
		return -EIO;
	}
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(c->rid, sizeof(c->rid));
	hex(c->rid, sizeof(c->rid), res->request_id);
	r.target_host = c->target;
	r.timestamp_ms = now_ms();
	r.nonce.data = nonce;
	r.nonce.len = sizeof(nonce);
	r.request_id.data = c->rid;
	r.request_id.len = sizeof(c->rid);
	rc = wire_request_build(&r, c->sk, &c->env, &c->env_len);
	if (rc == -EMSGSIZE)
		snprintf(res->message, sizeof(res->message), "request larger "
		    "than %d bytes", WIRE_MAX_MSG);
	else if (rc != 0)
		snprintf(res->message, sizeof(res->message), "cannot build "
		    "the request: %s", strerror(-rc));
	return rc;
}

static void
set_msg(struct sctag_result *res, enum sctag_status st, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
set_msg(struct sctag_result *res, enum sctag_status st, const char *fmt,
    ...)
{
	va_list	ap;

	res->status = st;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
}

static void
take_reply(struct sctag_client *c, const Sctag__V1__Request *req,
    struct sctag_result *res)
{
	Sctag__V1__Reply	*rep = NULL;
	struct wire_err		 werr;
	int			 rc;

	rc = wire_reply_parse(nng_msg_body(c->reply), nng_msg_len(c->reply),
	    &rep, &werr);
	nng_msg_free(c->reply);
	c->reply = NULL;
	if (rc != 0) {
		set_msg(res, SCTAG_ERR_PROTOCOL, "%s: unreadable reply: %s",
		    c->url, werr.msg);
		return;
	}
	/* An agent that could not read the request can not name it; any
	 * other reply must be to this request. */
	if ((rep->request_id.len != 0 || rep->code == SCTAG__V1__CODE__OK) &&
	    (rep->request_id.len != sizeof(c->rid) ||
	    memcmp(rep->request_id.data, c->rid, sizeof(c->rid)) != 0)) {
		set_msg(res, SCTAG_ERR_PROTOCOL, "%s: the reply is for "
		    "another request", c->url);
		goto fail;
	}
	res->code = rep->code;
	if (rep->code != SCTAG__V1__CODE__OK) {
		res->status = SCTAG_ERR_REPLY;
		snprintf(res->message, sizeof(res->message), "%s",
		    rep->message[0] != '\0' ? rep->message :
		    sctag_code_name(rep->code));
		res->reply = rep;
		return;
	}
	if ((int)rep->result_case != (int)req->call_case) {
		set_msg(res, SCTAG_ERR_PROTOCOL, "%s: OK reply without the "
		    "result of the call (%d, expected %d)", c->url,
		    (int)rep->result_case, (int)req->call_case);
		res->code = SCTAG__V1__CODE__OK;
		goto fail;
	}
	res->status = SCTAG_OK;
	res->reply = rep;
	return;
fail:
	wire_reply_free(rep);
}

static void
conclude(struct sctag_client *c, const Sctag__V1__Request *req,
    int timeout_ms, struct sctag_result *res)
{
	res->elapsed_ms = (double)(c->t1 - c->t0);
	if (c->rv == 0) {
		take_reply(c, req, res);
		return;
	}
	if (c->dial_error[0] != '\0') {
		set_msg(res, SCTAG_ERR_CONNECT, "%s: %s", c->url,
		    c->dial_error);
		return;
	}
	switch (c->rv) {
	case NNG_ETIMEDOUT:
	case NNG_ECANCELED:
		if (!c->handed)
			set_msg(res, SCTAG_ERR_TIMEOUT, "%s: no connection "
			    "within %d ms", c->url, timeout_ms);
		else
			set_msg(res, SCTAG_ERR_TIMEOUT, "%s: no reply within "
			    "%d ms", c->url, timeout_ms);
		break;
	case NNG_ECONNRESET:
	case NNG_ECLOSED:
		set_msg(res, SCTAG_ERR_CONNECT, "%s: connection lost before "
		    "the reply (sent %u time%s)", c->url, c->sends,
		    c->sends == 1 ? "" : "s");
		break;
	case NNG_ENOMEM:
		set_msg(res, SCTAG_ERR_LOCAL, "%s: out of memory", c->url);
		break;
	default:
		set_msg(res, SCTAG_ERR_CONNECT, "%s: %s", c->url,
		    nng_strerror(c->rv));
		break;
	}
}

enum sctag_status
sctag_call_many(struct sctag_client *const *cs, size_t n,
    const Sctag__V1__Request *req, int timeout_ms, struct sctag_result *res)
{
	struct sctag_many	 m;
	nng_stat		*root = NULL;
	struct dstat		 ds;
	nng_time		 until, now;
	enum sctag_status	 st = SCTAG_OK;
	size_t			 i;
	int			 rv, cancelled = 0, longest = 0;

	memset(&m, 0, sizeof(m));
	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		if (cs[i] != NULL && cs[i]->timeout_ms > longest)
			longest = cs[i]->timeout_ms;
	}
	if (timeout_ms <= 0)
		timeout_ms = longest > 0 ? longest : SCTAG_DEFAULT_TIMEOUT_MS;
	if (req == NULL ||
	    req->call_case == SCTAG__V1__REQUEST__CALL__NOT_SET) {
		for (i = 0; i < n; i++)
			set_msg(&res[i], SCTAG_ERR_LOCAL, "no call in the "
			    "request");
		return n > 0 ? SCTAG_ERR_LOCAL : SCTAG_OK;
	}
	if ((rv = nng_mtx_alloc(&m.mtx)) != 0 ||
	    (rv = nng_cv_alloc(&m.cv, m.mtx)) != 0) {
		for (i = 0; i < n; i++)
			set_msg(&res[i], SCTAG_ERR_LOCAL, "%s",
			    nng_strerror(rv));
		st = SCTAG_ERR_LOCAL;
		goto out;
	}
	/*
	 * A snapshot of NNG's statistics is of the whole process (every
	 * socket): only taken when a client is not connected, whose failed
	 * dials the call must tell apart from those before it.
	 */
	for (i = 0; i < n; i++)
		if (cs[i] != NULL && cs[i]->pipes <= 0) {
			(void)nng_stats_get(&root);
			break;
		}
	m.deadline = nng_clock() + (nng_time)timeout_ms;
	for (i = 0; i < n; i++) {
		struct sctag_client	*c = cs[i];

		if (c == NULL) {
			set_msg(&res[i], SCTAG_ERR_LOCAL, "no client");
			continue;
		}
		c->many = &m;
		if (prepare(c, req, &res[i]) != 0) {
			res[i].status = SCTAG_ERR_LOCAL;
			continue;
		}
		c->have_base = root != NULL;
		if (root != NULL) {
			stat_get(root, c->dialer, &ds);
			c->base_connect = ds.connect;
			c->base_fail = ds.fail;
		}
		c->t0 = nng_clock();
		nng_mtx_lock(m.mtx);
		m.pending++;
		c->phase = SCTAG_SENDING;
		nng_mtx_unlock(m.mtx);
		if ((rv = send_env(c)) != 0) {
			c->rv = rv;
			c->t1 = nng_clock();
			nng_mtx_lock(m.mtx);
			c->phase = SCTAG_DONE;
			m.pending--;
			nng_mtx_unlock(m.mtx);
		}
	}
	if (root != NULL)
		nng_stats_free(root);

	nng_mtx_lock(m.mtx);
	while (m.pending > 0) {
		now = nng_clock();
		if (!cancelled && now >= m.deadline + GRACE_MS) {
			/* NNG should have timed these out by now. */
			cancelled = 1;
			for (i = 0; i < n; i++)
				if (cs[i] != NULL && cs[i]->many == &m &&
				    cs[i]->phase != SCTAG_DONE &&
				    cs[i]->phase != SCTAG_IDLE)
					cs[i]->stop = 1;
			nng_mtx_unlock(m.mtx);
			for (i = 0; i < n; i++)
				if (cs[i] != NULL && cs[i]->many == &m)
					nng_aio_cancel(cs[i]->aio);
			nng_mtx_lock(m.mtx);
			continue;
		}
		until = now + TICK_MS;
		(void)nng_cv_until(m.cv, until);
		if (m.pending == 0 || cancelled)
			continue;
		nng_mtx_unlock(m.mtx);
		check_dialers(cs, n, &m);
		nng_mtx_lock(m.mtx);
	}
	nng_mtx_unlock(m.mtx);

	for (i = 0; i < n; i++) {
		struct sctag_client	*c = cs[i];

		if (c != NULL && c->many == &m && c->phase == SCTAG_DONE)
			conclude(c, req, timeout_ms, &res[i]);
		if (c != NULL)
			c->many = NULL;
		if (st == SCTAG_OK && res[i].status != SCTAG_OK)
			st = res[i].status;
	}
out:
	if (m.cv != NULL)
		nng_cv_free(m.cv);
	if (m.mtx != NULL)
		nng_mtx_free(m.mtx);
	return st;
}

enum sctag_status
sctag_call(struct sctag_client *c, const Sctag__V1__Request *req,
    struct sctag_result *res)
{
	return sctag_call_many(&c, 1, req, c != NULL ? c->timeout_ms : 0,
	    res);
}

enum sctag_status
sctag_multi(const struct sctag_host *hosts, size_t n,
    const struct sctag_opts *tmpl, const Sctag__V1__Request *req,
    struct sctag_result *res)
{
	struct sctag_client	**cs;
	struct sctag_opts	  o;
	enum sctag_status	  st, first = SCTAG_OK;
	char			  err[SCTAG_MSG_MAX];
	size_t			  i, k = 0;
	size_t			 *idx;
	struct sctag_result	 *tmp;

	if (n == 0)
		return SCTAG_OK;
	cs = calloc(n, sizeof(*cs));
	idx = calloc(n, sizeof(*idx));
	tmp = calloc(n, sizeof(*tmp));
	if (cs == NULL || idx == NULL || tmp == NULL) {
		for (i = 0; i < n; i++) {
			memset(&res[i], 0, sizeof(res[i]));
			set_msg(&res[i], SCTAG_ERR_LOCAL, "out of memory");
		}
		first = SCTAG_ERR_LOCAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		o = tmpl != NULL ? *tmpl : (struct sctag_opts){ 0 };
		o.url = hosts[i].url;
		o.target_host = hosts[i].target_host;
		if (sctag_client_open(&o, &cs[k], err, sizeof(err)) !=
		    SCTAG_OK) {
			set_msg(&res[i], SCTAG_ERR_LOCAL, "%s", err);
			continue;
		}
		idx[k++] = i;
	}
	if (k > 0)
		(void)sctag_call_many(cs, k, req,
		    tmpl != NULL ? tmpl->timeout_ms : 0, tmp);
	for (i = 0; i < k; i++) {
		res[idx[i]] = tmp[i];
		sctag_client_close(cs[i]);
	}
	for (i = 0; i < n; i++) {
		st = res[i].status;
		if (first == SCTAG_OK && st != SCTAG_OK)
			first = st;
	}
out:
	free(tmp);
	free(idx);
	free(cs);
	return first;
}
