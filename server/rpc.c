/*
 * rpc.c: see rpc.h. Follows the context-pool pattern of notes/stack.md
 * §1.3: the callback hands the request to the handler, which answers at
 * once or later from another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "log.h"
#include "rpc.h"
#include "wire.h"


enum wstate { W_RECV, W_WAIT, W_SEND };

struct rpc_job {
	struct rpc		*rpc;
	nng_aio			*aio;
	nng_ctx			 ctx;
	enum wstate		 state;
	nng_msg			*req;
	uint32_t		 pipe_id;
	int			 counted;	/* in pipe_id's in-flight count
						   (r->mtx) */
	struct dispatch_peer	 peer;
};

struct rpc {
	nng_socket		 sock;
	nng_listener		 ipc_l;
	int			 have_ipc;
	char			 ipc_url[300];
	struct rpc_job		*jobs;
	int			 njobs;
	nng_mtx			*mtx;
	rpc_handler		 handle;
	void			*handle_arg;
	/* self-probe */
	pthread_t		 probe;
	int			 probe_started;
	atomic_int		 probe_failed;
	atomic_int		 stopping;
	/* When the main thread last came round (rpc_tick): the probe blames
	 * the listener only while the process is not busy elsewhere (a
	 * long Drain holds the state lock, the main thread waits for it). */
	_Atomic long long	 last_tick_ms;
	char			 host[256];
};

static struct log_ratelimit busy_rl = LOG_RATELIMIT_INIT(10, 5);

/*
 * Requests of connection id in flight: the contexts that took one of its
 * requests and have not sent the reply yet. Counted over the contexts
 * (RPC_CONTEXTS), so exact whatever the ids. r->mtx held.
 */
static int
inflight(const struct rpc *r, uint32_t id)
{
	int i, n = 0;

	for (i = 0; i < r->njobs; i++)
		n += r->jobs[i].counted && r->jobs[i].pipe_id == id;
	return n;
}

static void
peer_of(nng_msg *m, struct dispatch_peer *p)
{
	nng_pipe pipe = nng_msg_get_pipe(m);

	memset(p, 0, sizeof(*p));
	/* On a TLS pipe the ipc options give NNG_ENOTSUP. */
	if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_UID, &p->uid) == 0) {
		p->ipc = 1;
		(void)nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_GID, &p->gid);
	}
}

static void
recv_next(struct rpc_job *j)
{
	j->state = W_RECV;
	nng_aio_set_timeout(j->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(j->ctx, j->aio);
}

static void
send_msg(struct rpc_job *j, nng_msg *m)
{
	j->state = W_SEND;
	nng_aio_set_msg(j->aio, m);
	/* A client that stops reading can not pin the context. */
	nng_aio_set_timeout(j->aio, RPC_SEND_TIMEOUT_MS);
	nng_ctx_send(j->ctx, j->aio);
}

static void
busy(struct rpc_job *j, nng_msg *m)
{
	unsigned long suppressed;
	int say;
	uint8_t *out = NULL;
	size_t len = 0;
	char msg[128];

	snprintf(msg, sizeof(msg), "too many requests in flight on this "
	    "connection (limit %d); wait for replies", RPC_PER_CONN);
	nng_mtx_lock(j->rpc->mtx);
	say = log_ratelimit_ok(&busy_rl, &suppressed);
	nng_mtx_unlock(j->rpc->mtx);
	if (say)
		log_warn("api: connection %u over its in-flight limit",
		    j->pipe_id);
	nng_msg_clear(m);
	if (wire_reply_error(SCTAG__V1__CODE__UNAVAILABLE, msg, NULL, 0, &out,
	    &len) == 0)
		(void)nng_msg_append(m, out, len);
	free(out);
	send_msg(j, m);
}

/* Send the reply (copied) and give the job back to NNG. */
static void
answer(struct rpc_job *j, const uint8_t *reply, size_t len)
{
	nng_msg *m = j->req;

	j->req = NULL;
	nng_msg_clear(m);
	if (nng_msg_append(m, reply, len) != 0)
		nng_msg_clear(m);	/* the client times out; we go on */
	send_msg(j, m);
}

/* The handler's reply; NULL: no memory for one. */
static void
done(void *tok, const uint8_t *reply, size_t len)
{
	if (reply == NULL)
		log_err("api: out of memory answering a request");
	answer(tok, reply ? reply : (const uint8_t *)"", reply ? len : 0);
}

static void
job_cb(void *arg)
{
	struct rpc_job *j = arg;
	struct rpc *r = j->rpc;
	nng_msg *m;
	int rv = nng_aio_result(j->aio), over;

	if (j->state == W_SEND) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(j->aio));
		nng_mtx_lock(r->mtx);
		j->counted = 0;
		nng_mtx_unlock(r->mtx);
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
			return;
		recv_next(j);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		recv_next(j);
		return;
	}
	m = nng_aio_get_msg(j->aio);
	j->pipe_id = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m));
	peer_of(m, &j->peer);
	nng_mtx_lock(r->mtx);
	j->counted = 1;
	over = inflight(r, j->pipe_id) > RPC_PER_CONN;
	nng_mtx_unlock(r->mtx);
	if (over) {
		busy(j, m);
		return;
	}
	/* The handler's until done(): it does not block (rpc.h). */
	j->req = m;
	j->state = W_WAIT;
	r->handle(r->handle_arg, &j->peer, nng_msg_body(m), nng_msg_len(m),
	    done, j);
}

static int
start_ipc(struct rpc *r, char *err, size_t errlen)
{
	int rv;

	if ((rv = nng_listener_create(&r->ipc_l, r->sock, r->ipc_url)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", r->ipc_url,
		    nng_strerror(rv));
		return -EADDRNOTAVAIL;
	}
	if ((rv = nng_listener_set_int(r->ipc_l, NNG_OPT_IPC_PERMISSIONS,
	    0660)) != 0 || (rv = nng_listener_start(r->ipc_l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", r->ipc_url,
		    nng_strerror(rv));
		nng_listener_close(r->ipc_l);
		return -EADDRNOTAVAIL;
	}
	r->have_ipc = 1;
	return 0;
}

#define CRL_BEGIN	"-----BEGIN X509 CRL-----"
#define CRL_END		"-----END X509 CRL-----"

/*
 * The CRL blocks of a PEM text, each on its own lines, or NULL (none, or
 * no memory: *nomem). mbedTLS parses a CRL text only if nothing but CRLs
 * and one last newline is in it: a CA file with a blank line at its end,
 * or its CRL before its CA, would keep the listener from starting.
 */
static char *
crl_blocks(const char *pem, int *nomem)
{
	const char *b, *e;
	size_t len = 0, k;
	char *out = NULL, *p;

	*nomem = 0;
	for (b = strstr(pem, CRL_BEGIN); b != NULL && (e = strstr(b,
	    CRL_END)) != NULL; b = strstr(e, CRL_BEGIN))
		len += (size_t)(e - b) + sizeof(CRL_END);	/* + "\n" */
	if (len == 0)
		return NULL;
	if ((out = p = malloc(len + 1)) == NULL) {
		*nomem = 1;
		return NULL;
	}
	for (b = strstr(pem, CRL_BEGIN); b != NULL && (e = strstr(b,
	    CRL_END)) != NULL; b = strstr(e, CRL_BEGIN)) {
		k = (size_t)(e - b) + sizeof(CRL_END) - 1;
		memcpy(p, b, k);
		p += k;
		*p++ = '\n';
	}
	*p = '\0';
	return out;
}

int
rpc_tls_listen(nng_socket sock, const char *url, const char *cert_pem,
    const char *key_pem, const char *ca_pem, nng_listener *lp, char *err,
    size_t errlen)
{
	nng_tls_config *cfg = NULL;
	nng_listener l;
	const char *step = "TLS configuration";
	char *crl;
	int rv, nomem;

	if ((crl = crl_blocks(ca_pem, &nomem)) == NULL && nomem) {
		snprintf(err, errlen, "TLS listener %s: out of memory", url);
		return -ENOMEM;
	}

	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0)
		goto fail;
	step = "TLS version";
	if ((rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2)) != 0)
		goto fail;
	step = "agent certificate and key (ECDSA, PEM)";
	if ((rv = nng_tls_config_own_cert(cfg, cert_pem, key_pem, NULL)) != 0)
		goto fail;
	step = crl ? "client CA and its CRL" : "client CA";
	if ((rv = nng_tls_config_ca_chain(cfg, ca_pem, crl)) != 0)
		goto fail;
	if ((rv = nng_tls_config_auth_mode(cfg,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0)
		goto fail;
	step = NULL;
	if ((rv = nng_listener_create(&l, sock, url)) != 0 ||
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0)
		goto fail;
	nng_tls_config_free(cfg);	/* the listener holds its own */
	free(crl);
	if (lp != NULL)
		*lp = l;
	return 0;
fail:
	snprintf(err, errlen, "TLS listener %s: %s%s%s", url, step ? step :
	    "", step ? ": " : "", nng_strerror(rv));
	if (cfg)
		nng_tls_config_free(cfg);
	free(crl);
	return -EINVAL;
}

/*
 * The probe: an unsigned Ping over ipc as our own uid, every
 * RPC_PROBE_EVERY_MS. Any reply means the listener works.
 */
static int
probe_once(struct rpc *r)
{
	Sctag__V1__Request req = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__PingRequest ping = SCTAG__V1__PING_REQUEST__INIT;
	uint8_t nonce[16], rid[16], *buf = NULL;
	size_t len = 0;
	nng_socket s;
	nng_msg *m = NULL;
	int rv;

	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(rid, sizeof(rid));
	req.target_host = r->host;
	req.timestamp_ms = dispatch_now_ms();
	req.nonce.data = nonce;
	req.nonce.len = sizeof(nonce);
	req.request_id.data = rid;
	req.request_id.len = sizeof(rid);
	req.call_case = SCTAG__V1__REQUEST__CALL_PING;
	req.ping = &ping;
	if (wire_request_build(&req, NULL, &buf, &len) != 0)
		return 0;	/* not the listener's fault */
	if ((rv = nng_req0_open(&s)) != 0) {
		free(buf);
		return 0;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	rv = nng_dial(s, r->ipc_url, NULL, NNG_FLAG_NONBLOCK);
	if (rv == 0)
		rv = nng_send(s, buf, len, 0);
	if (rv == 0)
		rv = nng_recvmsg(s, &m, 0);
	if (m)
		nng_msg_free(m);
	free(buf);
	nng_close(s);
	return rv == 0 ? 0 : -1;
}

static void *
probe_main(void *arg)
{
	struct rpc *r = arg;
	int waited;

	while (!atomic_load(&r->stopping)) {
		for (waited = 0; waited < RPC_PROBE_EVERY_MS &&
		    !atomic_load(&r->stopping); waited += 100)
			nng_msleep(100);
		if (atomic_load(&r->stopping))
			break;
		/*
		 * A busy main thread (a long Drain) does not answer either:
		 * that is not the listener's fault, and recreating it would
		 * cut the ipc clients, the one waiting for the Drain too.
		 */
		if (probe_once(r) != 0 && dispatch_now_ms() -
		    atomic_load(&r->last_tick_ms) < 1000)
			atomic_store(&r->probe_failed, 1);
	}
	return NULL;
}

void
rpc_tick(struct rpc *r)
{
	char err[256];

	atomic_store(&r->last_tick_ms, (long long)dispatch_now_ms());
	if (!r->have_ipc || !atomic_exchange(&r->probe_failed, 0))
		return;
	log_warn("api: the ipc listener does not answer (NNG bug #1518?); "
	    "recreating it");
	nng_listener_close(r->ipc_l);
	r->have_ipc = 0;
	if (start_ipc(r, err, sizeof(err)) != 0)
		log_err("api: %s", err);
}

int
rpc_start(struct rpc **out, const struct rpc_opts *o, char *err,
    size_t errlen)
{
	struct rpc *r;
	int i, rv, rc = -EINVAL;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(r->host, sizeof(r->host), "%s", o->host);
	r->handle = o->handle;
	r->handle_arg = o->handle_arg;
	if (nng_mtx_alloc(&r->mtx) != 0) {
		snprintf(err, errlen, "mutex: out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	atomic_store(&r->last_tick_ms, (long long)dispatch_now_ms());
	if ((rv = nng_rep0_open(&r->sock)) != 0) {
		snprintf(err, errlen, "rep socket: %s", nng_strerror(rv));
		goto fail;
	}
	/* Set before the listeners: they copy it (default 0 = unlimited). */
	nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, RPC_MAX_MSG);
	if (o->ipc_path) {
		snprintf(r->ipc_url, sizeof(r->ipc_url), "ipc://%s",
		    o->ipc_path);
		if ((rc = start_ipc(r, err, errlen)) != 0)
			goto fail;
	}
	if (o->tls_url && (rc = rpc_tls_listen(r->sock, o->tls_url,
	    o->tls_cert_pem, o->tls_key_pem, o->tls_ca_pem, NULL, err,
	    errlen)) != 0)
		goto fail;
	if ((r->jobs = calloc(RPC_CONTEXTS, sizeof(*r->jobs))) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	r->njobs = RPC_CONTEXTS;
	for (i = 0; i < r->njobs; i++) {
		struct rpc_job *j = &r->jobs[i];

		j->rpc = r;
		if ((rv = nng_aio_alloc(&j->aio, job_cb, j)) != 0 ||
		    (rv = nng_ctx_open(&j->ctx, r->sock)) != 0) {
			snprintf(err, errlen, "context: %s", nng_strerror(rv));
			rc = -ENOMEM;
			goto fail;
		}
	}
	for (i = 0; i < r->njobs; i++)
		recv_next(&r->jobs[i]);
	if (r->have_ipc && pthread_create(&r->probe, NULL, probe_main, r) == 0)
		r->probe_started = 1;
	*out = r;
	return 0;
fail:
	rpc_stop(r);
	return rc ? rc : -EINVAL;
}

void
rpc_stop(struct rpc *r)
{
	int i;

	if (!r)
		return;
	atomic_store(&r->stopping, 1);
	if (r->probe_started)
		pthread_join(r->probe, NULL);
	/* The handler's threads are stopped already (rpc.h). */
	/* aios first, then contexts, then the socket (nng_close waits). */
	for (i = 0; i < r->njobs; i++)
		if (r->jobs[i].aio)
			nng_aio_stop(r->jobs[i].aio);
	for (i = 0; i < r->njobs; i++) {
		if (r->jobs[i].req)
			nng_msg_free(r->jobs[i].req);
		if (r->jobs[i].aio) {
			nng_ctx_close(r->jobs[i].ctx);
			nng_aio_free(r->jobs[i].aio);
		}
	}
	free(r->jobs);
	if (nng_socket_id(r->sock) > 0)
		nng_close(r->sock);
	if (r->mtx)
		nng_mtx_free(r->mtx);
	free(r);
}
