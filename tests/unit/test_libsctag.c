/*
 * test_libsctag.c: libsctag against minimal agents made in the test from
 * the project's real parts: an NNG rep0 socket, the wire codec and the
 * envelope signature check, over ipc:// in a temporary directory and over
 * tls+tcp://127.0.0.1 with certificates from certs/mkcerts.sh.
 *
 * Each server thread records every Envelope it receives, so a test can
 * check the exact request the client sent: target host, 16-byte nonce and
 * request id, a timestamp within 5 s, and a valid signature over the body
 * by the expected key. Every wait is bounded: the server's receive
 * timeout, the client's deadline, and the suite's timeout.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "envelope.h"
#include "keys.h"
#include "sctag.h"
#include "wire.h"

#define MAX_RECS	16

enum srv_mode {
	SRV_ANSWER = 0,
	SRV_DROP_FIRST,		/* close the pipe instead of the 1st reply */
	SRV_SILENT,		/* never answer */
	SRV_WRONG_ID		/* answer with another request id */
};

struct rec {
	uint8_t	*buf;
	size_t	 len;
};

struct srv {
	nng_socket	 s;
	nng_thread	*thr;
	volatile int	 stop;
	enum srv_mode	 mode;
	char		 host[64];	/* GetStatusReply.host */
	nng_mtx		*mtx;
	struct rec	 recs[MAX_RECS];
	size_t		 n;
	int		 port;
};

static char			 dir[PATH_MAX];
static char			 keyfile[PATH_MAX + 32];
static struct keys_secret	*key;

static void
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
sh(const char *fmt, ...)
{
	char	cmd[2 * PATH_MAX + 256];
	va_list	ap;
	int	rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	cr_assert_eq(rc, 0, "'%s' exited with %d", cmd, rc);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The agent's side of one request: the smallest answer that is right. */
static nng_msg *
answer(struct srv *sv, const uint8_t *buf, size_t len)
{
	Sctag__V1__Reply		 rep = SCTAG__V1__REPLY__INIT;
	Sctag__V1__PingReply		 ping = SCTAG__V1__PING_REPLY__INIT;
	Sctag__V1__GetStatusReply	 st = SCTAG__V1__GET_STATUS_REPLY__INIT;
	Sctag__V1__StartFlowReply	 sf = SCTAG__V1__START_FLOW_REPLY__INIT;
	Sctag__V1__Flow			 flow = SCTAG__V1__FLOW__INIT;
	Sctag__V1__Request		*rq = NULL;
	struct wire_envelope		 env;
	struct wire_err			 we;
	uint8_t				*out = NULL, rid[WIRE_REQID_LEN];
	size_t				 outlen;
	nng_msg				*m = NULL;

	if (wire_envelope_parse(buf, len, &env, &we) != 0)
		return NULL;
	if (wire_request_parse(env.body, env.body_len, &rq, &we) != 0)
		goto out;
	rep.request_id = rq->request_id;
	if (sv->mode == SRV_WRONG_ID) {
		memcpy(rid, rq->request_id.data, sizeof(rid));
		rid[0] ^= 0xff;
		rep.request_id.data = rid;
	}
	switch (rq->call_case) {
	case SCTAG__V1__REQUEST__CALL_PING:
		ping.payload = rq->ping->payload;
		ping.agent_time_ms = now_ms();
		rep.result_case = SCTAG__V1__REPLY__RESULT_PING;
		rep.ping = &ping;
		break;
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:
		st.host = sv->host;
		st.version = "test";
		rep.result_case = SCTAG__V1__REPLY__RESULT_GET_STATUS;
		rep.get_status = &st;
		break;
	case SCTAG__V1__REQUEST__CALL_START_FLOW:
		flow.id = 7;
		flow.spec = rq->start_flow->flow;
		sf.flow = &flow;
		sf.created = 1;
		rep.result_case = SCTAG__V1__REPLY__RESULT_START_FLOW;
		rep.start_flow = &sf;
		break;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:
		rep.code = SCTAG__V1__CODE__NOT_FOUND;
		rep.message = "no flow 99";
		break;
	default:
		rep.code = SCTAG__V1__CODE__INVALID_ARGUMENT;
		rep.message = "not in this test";
		break;
	}
	if (wire_reply_build(&rep, &out, &outlen) != 0)
		goto out;
	if (nng_msg_alloc(&m, 0) == 0 && nng_msg_append(m, out, outlen) != 0) {
		nng_msg_free(m);
		m = NULL;
	}
out:
	free(out);
	wire_request_free(rq);
	wire_envelope_free(&env);
	return m;
}

static void
serve(void *arg)
{
	struct srv	*sv = arg;
	nng_msg		*m, *rep;
	nng_pipe	 p;
	size_t		 n;
	int		 rc;

	while (!sv->stop) {
		rc = nng_recvmsg(sv->s, &m, 0);
		if (rc == NNG_ETIMEDOUT)
			continue;
		if (rc != 0)
			break;
		nng_mtx_lock(sv->mtx);
		n = sv->n;
		if (n < MAX_RECS) {
			sv->recs[n].len = nng_msg_len(m);
			sv->recs[n].buf = malloc(nng_msg_len(m));
			memcpy(sv->recs[n].buf, nng_msg_body(m),
			    nng_msg_len(m));
			sv->n++;
		}
		nng_mtx_unlock(sv->mtx);
		if (sv->mode == SRV_SILENT) {
			nng_msg_free(m);
			continue;
		}
		if (sv->mode == SRV_DROP_FIRST && n == 0) {
			/* As if the agent had died after reading it. */
			p = nng_msg_get_pipe(m);
			nng_msg_free(m);
			nng_pipe_close(p);
			continue;
		}
		rep = answer(sv, nng_msg_body(m), nng_msg_len(m));
		nng_msg_free(m);
		if (rep != NULL && nng_sendmsg(sv->s, rep, 0) != 0)
			nng_msg_free(rep);
	}
}

static void
srv_open(struct srv *sv, const char *url, const char *host, int tls)
{
	nng_tls_config	*cfg;
	nng_listener	 l;
	char		 p[PATH_MAX + 64];

	memset(sv, 0, sizeof(*sv));
	snprintf(sv->host, sizeof(sv->host), "%s", host);
	cr_assert_eq(nng_mtx_alloc(&sv->mtx), 0);
	cr_assert_eq(nng_rep0_open(&sv->s), 0);
	cr_assert_eq(nng_socket_set_ms(sv->s, NNG_OPT_RECVTIMEO, 100), 0);
	cr_assert_eq(nng_socket_set_ms(sv->s, NNG_OPT_SENDTIMEO, 2000), 0);
	cr_assert_eq(nng_socket_set_size(sv->s, NNG_OPT_RECVMAXSZ,
	    WIRE_MAX_MSG), 0);
	cr_assert_eq(nng_listener_create(&l, sv->s, url), 0, "%s", url);
	if (tls) {
		cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER),
		    0);
		snprintf(p, sizeof(p), "%s/agent-agent.test.pem", dir);
		cr_assert_eq(nng_tls_config_cert_key_file(cfg, p, NULL), 0);
		snprintf(p, sizeof(p), "%s/ca.crt", dir);
		cr_assert_eq(nng_tls_config_ca_file(cfg, p), 0);
		cr_assert_eq(nng_tls_config_auth_mode(cfg,
		    NNG_TLS_AUTH_MODE_REQUIRED), 0);
		cr_assert_eq(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg),
		    0);
		nng_tls_config_free(cfg);
	}
	cr_assert_eq(nng_listener_start(l, 0), 0);
	if (tls)
		cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT,
		    &sv->port), 0);
	cr_assert_eq(nng_thread_create(&sv->thr, serve, sv), 0);
}

static void
srv_close(struct srv *sv)
{
	size_t	i;

	sv->stop = 1;
	if (sv->thr != NULL)
		nng_thread_destroy(sv->thr);
	nng_close(sv->s);
	for (i = 0; i < sv->n; i++)
		free(sv->recs[i].buf);
	if (sv->mtx != NULL)
		nng_mtx_free(sv->mtx);
	memset(sv, 0, sizeof(*sv));
}

/*
 * Check record k of sv as the exact request a client must send: signed by
 * key (or unsigned when signed_by is NULL) over the exact body, for
 * target, fresh timestamp, 16-byte nonce and request id. rid/nonce get
 * copies when not NULL.
 */
static void
check_request(struct srv *sv, size_t k, const struct keys_secret *signed_by,
    const char *target, Sctag__V1__Request__CallCase call, uint8_t *rid,
    uint8_t *nonce)
{
	struct wire_envelope	 env;
	struct wire_err		 we;
	Sctag__V1__Request	*rq = NULL;
	uint64_t		 now = now_ms();

	nng_mtx_lock(sv->mtx);
	cr_assert_gt(sv->n, k, "the server got %zu requests", sv->n);
	cr_assert_eq(wire_envelope_parse(sv->recs[k].buf, sv->recs[k].len,
	    &env, &we), 0, "%s", we.msg);
	nng_mtx_unlock(sv->mtx);
	if (signed_by != NULL) {
		cr_assert_not_null(env.sig, "the request is not signed");
		cr_assert_eq(env.key_id_len, ENV_KEYID_LEN);
		cr_assert_eq(memcmp(env.key_id, signed_by->key_id,
		    ENV_KEYID_LEN), 0, "wrong key id");
		cr_assert_eq(env_verify(env.body, env.body_len, env.sig,
		    env.sig_len, signed_by->pk), 0, "bad signature");
	} else {
		cr_assert_null(env.sig, "an unsigned request has a signature");
		cr_assert_null(env.key_id);
	}
	cr_assert_eq(wire_request_parse(env.body, env.body_len, &rq, &we), 0,
	    "%s", we.msg);
	cr_assert_str_eq(rq->target_host, target);
	cr_assert_eq(rq->nonce.len, 16);
	cr_assert_eq(rq->request_id.len, 16);
	cr_assert(rq->timestamp_ms + 5000 >= now && rq->timestamp_ms <=
	    now + 5000, "timestamp %llu, now %llu",
	    (unsigned long long)rq->timestamp_ms, (unsigned long long)now);
	cr_assert_eq(rq->call_case, call);
	if (rid != NULL)
		memcpy(rid, rq->request_id.data, 16);
	if (nonce != NULL)
		memcpy(nonce, rq->nonce.data, 16);
	wire_request_free(rq);
	wire_envelope_free(&env);
}

static void
setup(void)
{
	char	err[256];

	snprintf(dir, sizeof(dir), "%s/sctag-lib.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(keyfile, sizeof(keyfile), "%s/client.key", dir);
	cr_assert_eq(sctag_keygen(keyfile, NULL, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(keys_load_secret(keyfile, &key, err, sizeof(err)), 0,
	    "%s", err);
}

static void
setup_tls(void)
{
	const char	*src = getenv("SCTAG_SOURCE_DIR");

	setup();
	cr_assert_not_null(src, "SCTAG_SOURCE_DIR is not set (ctest sets it)");
	sh("sh %s/certs/mkcerts.sh -d %s ca >/dev/null", src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s agent agent.test localhost "
	    "127.0.0.1 >/dev/null", src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s client orchestrator >/dev/null", src,
	    dir);
}

static void
teardown(void)
{
	keys_free_secret(key);
	key = NULL;
	if (dir[0] != '\0')
		sh("rm -rf %s", dir);
}

TestSuite(ipc, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(tls, .init = setup_tls, .fini = teardown, .timeout = 60);
TestSuite(multi, .init = setup, .fini = teardown, .timeout = 60);

static void
ipc_url(char *out, size_t len, const char *name)
{
	snprintf(out, len, "ipc://%s/%s.sock", dir, name);
}

Test(ipc, signed_request_is_exact)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256];

	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, "agent-a.test", 0);
	o.url = url;
	o.target_host = "agent-a.test";
	o.sign_key_file = keyfile;
	o.timeout_ms = 3000;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK,
	    "%s", err);
	cr_assert_str_eq(sctag_client_target(c), "agent-a.test");
	cr_assert_eq(sctag_ping(c, "hello", 5, &r), SCTAG_OK, "%s",
	    r.message);
	cr_assert_eq(r.code, SCTAG__V1__CODE__OK);
	cr_assert_not_null(r.reply->ping);
	cr_assert_eq(r.reply->ping->payload.len, 5);
	cr_assert_eq(memcmp(r.reply->ping->payload.data, "hello", 5), 0);
	cr_assert_eq(strlen(r.request_id), 32);
	check_request(&sv, 0, key, "agent-a.test",
	    SCTAG__V1__REQUEST__CALL_PING, NULL, NULL);
	sctag_result_free(&r);
	cr_assert_null(r.reply);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, unsigned_without_a_key_and_hostname_by_default)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256], me[256];

	cr_assert_eq(sctag_url_target("ipc:///x", me, sizeof(me)), 0);
	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, me, 0);
	o.url = url;
	o.timeout_ms = 3000;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK,
	    "%s", err);
	cr_assert_eq(sctag_get_status(c, &r), SCTAG_OK, "%s", r.message);
	cr_assert_str_eq(r.reply->get_status->host, me);
	check_request(&sv, 0, NULL, me, SCTAG__V1__REQUEST__CALL_GET_STATUS,
	    NULL, NULL);
	sctag_result_free(&r);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, each_call_new_nonce_and_request_id)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	Sctag__V1__FlowSpec	 fs = SCTAG__V1__FLOW_SPEC__INIT;
	Sctag__V1__Tag		 tag = SCTAG__V1__TAG__INIT;
	char			 url[PATH_MAX + 32], err[256];
	uint8_t			 rid1[16], rid2[16], n1[16], n2[16];

	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, "a.test", 0);
	o.url = url;
	o.target_host = "a.test";
	o.sign_key_file = keyfile;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	fs.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	fs.dst = "2001:db8::2";
	fs.dst_port = 443;
	tag.experiment = "atlas";
	tag.activity = "perf";
	fs.tag = &tag;
	cr_assert_eq(sctag_start_flow(c, &fs, &r), SCTAG_OK, "%s", r.message);
	cr_assert_eq(r.reply->start_flow->flow->id, 7);
	cr_assert_str_eq(r.reply->start_flow->flow->spec->dst, "2001:db8::2");
	sctag_result_free(&r);
	cr_assert_eq(sctag_start_flow(c, &fs, &r), SCTAG_OK, "%s", r.message);
	sctag_result_free(&r);
	check_request(&sv, 0, key, "a.test",
	    SCTAG__V1__REQUEST__CALL_START_FLOW, rid1, n1);
	check_request(&sv, 1, key, "a.test",
	    SCTAG__V1__REQUEST__CALL_START_FLOW, rid2, n2);
	cr_assert_neq(memcmp(rid1, rid2, 16), 0);
	cr_assert_neq(memcmp(n1, n2, 16), 0);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, retry_after_lost_connection_reuses_the_request)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256];
	uint8_t			 rid1[16], rid2[16];

	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, "a.test", 0);
	sv.mode = SRV_DROP_FIRST;
	o.url = url;
	o.target_host = "a.test";
	o.sign_key_file = keyfile;
	o.timeout_ms = 4000;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	cr_assert_eq(sctag_ping(c, NULL, 0, &r), SCTAG_OK, "%s", r.message);
	sctag_result_free(&r);
	nng_mtx_lock(sv.mtx);
	cr_assert_eq(sv.n, 2, "the server got %zu requests", sv.n);
	/* The same signed Envelope, byte for byte. */
	cr_assert_eq(sv.recs[0].len, sv.recs[1].len);
	cr_assert_eq(memcmp(sv.recs[0].buf, sv.recs[1].buf, sv.recs[0].len),
	    0);
	nng_mtx_unlock(sv.mtx);
	check_request(&sv, 0, key, "a.test", SCTAG__V1__REQUEST__CALL_PING,
	    rid1, NULL);
	check_request(&sv, 1, key, "a.test", SCTAG__V1__REQUEST__CALL_PING,
	    rid2, NULL);
	cr_assert_eq(memcmp(rid1, rid2, 16), 0);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, error_reply_has_code_and_message)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256];

	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, "a.test", 0);
	o.url = url;
	o.target_host = "a.test";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	cr_assert_eq(sctag_end_flow_id(c, 99, &r), SCTAG_ERR_REPLY);
	cr_assert_eq(r.code, SCTAG__V1__CODE__NOT_FOUND);
	cr_assert_str_eq(r.message, "no flow 99");
	cr_assert_not_null(r.reply);
	sctag_result_free(&r);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, reply_to_another_request_is_a_protocol_error)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256];

	ipc_url(url, sizeof(url), "a");
	srv_open(&sv, url, "a.test", 0);
	sv.mode = SRV_WRONG_ID;
	o.url = url;
	o.target_host = "a.test";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	cr_assert_eq(sctag_ping(c, NULL, 0, &r), SCTAG_ERR_PROTOCOL);
	cr_assert_null(r.reply);
	cr_log_info("%s", r.message);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(ipc, no_agent_is_a_connect_error_before_the_deadline)
{
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o = { 0 };
	char			 url[PATH_MAX + 32], err[256];
	nng_time		 t0;

	ipc_url(url, sizeof(url), "nobody");
	o.url = url;
	o.target_host = "a.test";
	o.timeout_ms = 5000;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	t0 = nng_clock();
	cr_assert_eq(sctag_ping(c, NULL, 0, &r), SCTAG_ERR_CONNECT, "%s: %s",
	    sctag_status_name(r.status), r.message);
	cr_assert_lt(nng_clock() - t0, 2500);
	cr_log_info("%s", r.message);
	sctag_client_close(c);
}

Test(ipc, options_checked_before_anything_is_sent)
{
	struct sctag_client	*c = NULL;
	struct sctag_opts	 o = { 0 };
	char			 err[256], host[300];

	o.url = "tcp://127.0.0.1:1";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)),
	    SCTAG_ERR_LOCAL);
	cr_assert_null(c);
	o.url = "tls+tcp://127.0.0.1:7443";	/* an address, no name */
	o.sign_key_file = keyfile;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)),
	    SCTAG_ERR_LOCAL);
	cr_log_info("%s", err);
	o.url = "tls+tcp://agent.test:7443";	/* no CA, no certificate */
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)),
	    SCTAG_ERR_LOCAL);
	o.url = "ipc:///tmp/x.sock";
	o.target_host = "bad name";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)),
	    SCTAG_ERR_LOCAL);
	o.target_host = NULL;
	o.sign_key_file = "/nonexistent/key";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)),
	    SCTAG_ERR_LOCAL);
	cr_assert_eq(sctag_url_target("tls+tcp://dtn-01.example.org:7443",
	    host, sizeof(host)), 0);
	cr_assert_str_eq(host, "dtn-01.example.org");
}

static void
tls_opts(struct sctag_opts *o, char *url, size_t len, int port,
    char *ca, char *cert, size_t plen)
{
	memset(o, 0, sizeof(*o));
	snprintf(url, len, "tls+tcp://127.0.0.1:%d", port);
	snprintf(ca, plen, "%s/ca.crt", dir);
	snprintf(cert, plen, "%s/client-orchestrator.pem", dir);
	o->url = url;
	o->target_host = "agent.test";
	o->ca_file = ca;
	o->cert_file = cert;
	o->sign_key_file = keyfile;
	o->timeout_ms = 5000;
}

Test(tls, signed_request_over_mutual_tls)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o;
	char			 url[64], ca[PATH_MAX + 32], cert[PATH_MAX + 32];
	char			 err[256], key_only[PATH_MAX + 32];

	srv_open(&sv, "tls+tcp://127.0.0.1:0", "agent.test", 1);
	tls_opts(&o, url, sizeof(url), sv.port, ca, cert, sizeof(ca));
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK,
	    "%s", err);
	cr_assert_eq(sctag_get_status(c, &r), SCTAG_OK, "%s", r.message);
	check_request(&sv, 0, key, "agent.test",
	    SCTAG__V1__REQUEST__CALL_GET_STATUS, NULL, NULL);
	sctag_result_free(&r);
	sctag_client_close(c);

	/* Certificate and key in two files. */
	snprintf(cert, sizeof(cert), "%s/client-orchestrator.crt", dir);
	snprintf(key_only, sizeof(key_only), "%s/client-orchestrator.key",
	    dir);
	o.key_file = key_only;
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK,
	    "%s", err);
	cr_assert_eq(sctag_ping(c, "x", 1, &r), SCTAG_OK, "%s", r.message);
	sctag_result_free(&r);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(tls, wrong_server_name_fails_fast)
{
	struct srv		 sv;
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o;
	char			 url[64], ca[PATH_MAX + 32], cert[PATH_MAX + 32];
	char			 err[256];
	nng_time		 t0;

	srv_open(&sv, "tls+tcp://127.0.0.1:0", "agent.test", 1);
	tls_opts(&o, url, sizeof(url), sv.port, ca, cert, sizeof(ca));
	o.target_host = "agent-2.test";
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK);
	t0 = nng_clock();
	cr_assert_eq(sctag_ping(c, NULL, 0, &r), SCTAG_ERR_CONNECT, "%s: %s",
	    sctag_status_name(r.status), r.message);
	cr_assert_lt(nng_clock() - t0, 3000);
	cr_log_info("%s", r.message);
	cr_assert_eq(sv.n, 0);
	sctag_client_close(c);
	srv_close(&sv);
}

Test(tls, refused_connection_fails_fast)
{
	struct sctag_client	*c;
	struct sctag_result	 r = { 0 };
	struct sctag_opts	 o;
	char			 url[64], ca[PATH_MAX + 32], cert[PATH_MAX + 32];
	char			 err[256];
	nng_time		 t0;

	/* Port 1 on loopback: nobody listens. */
	tls_opts(&o, url, sizeof(url), 1, ca, cert, sizeof(ca));
	cr_assert_eq(sctag_client_open(&o, &c, err, sizeof(err)), SCTAG_OK,
	    "%s", err);
	t0 = nng_clock();
	cr_assert_eq(sctag_ping(c, NULL, 0, &r), SCTAG_ERR_CONNECT, "%s: %s",
	    sctag_status_name(r.status), r.message);
	cr_assert_lt(nng_clock() - t0, 3000);
	cr_assert(strstr(r.message, "refused") != NULL, "%s", r.message);
	sctag_client_close(c);
}

Test(multi, three_agents_one_not_listening)
{
	struct srv		 a, b;
	struct sctag_host	 h[3];
	struct sctag_result	 r[3];
	struct sctag_opts	 o = { 0 };
	Sctag__V1__Request	 req = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__GetStatusRequest gs = SCTAG__V1__GET_STATUS_REQUEST__INIT;
	char			 u[3][PATH_MAX + 32];
	uint8_t			 n1[16], n2[16], rid1[16], rid2[16];
	nng_time		 t0, dt;
	size_t			 i;

	ipc_url(u[0], sizeof(u[0]), "a");
	ipc_url(u[1], sizeof(u[1]), "b");
	ipc_url(u[2], sizeof(u[2]), "c");
	srv_open(&a, u[0], "a.test", 0);
	srv_open(&b, u[1], "b.test", 0);
	h[0] = (struct sctag_host){ u[0], "a.test" };
	h[1] = (struct sctag_host){ u[1], "b.test" };
	h[2] = (struct sctag_host){ u[2], "c.test" };
	o.sign_key_file = keyfile;
	o.timeout_ms = 2000;
	req.call_case = SCTAG__V1__REQUEST__CALL_GET_STATUS;
	req.get_status = &gs;
	t0 = nng_clock();
	cr_assert_eq(sctag_multi(h, 3, &o, &req, r), SCTAG_ERR_CONNECT);
	dt = nng_clock() - t0;
	cr_assert_lt(dt, 2000 + 1000, "took %u ms", (unsigned)dt);
	cr_assert_eq(r[0].status, SCTAG_OK, "%s", r[0].message);
	cr_assert_eq(r[1].status, SCTAG_OK, "%s", r[1].message);
	cr_assert_eq(r[2].status, SCTAG_ERR_CONNECT, "%s: %s",
	    sctag_status_name(r[2].status), r[2].message);
	cr_assert_str_eq(r[0].reply->get_status->host, "a.test");
	cr_assert_str_eq(r[1].reply->get_status->host, "b.test");
	cr_assert_null(r[2].reply);
	check_request(&a, 0, key, "a.test",
	    SCTAG__V1__REQUEST__CALL_GET_STATUS, rid1, n1);
	check_request(&b, 0, key, "b.test",
	    SCTAG__V1__REQUEST__CALL_GET_STATUS, rid2, n2);
	cr_assert_neq(memcmp(n1, n2, 16), 0);
	cr_assert_neq(memcmp(rid1, rid2, 16), 0);
	for (i = 0; i < 3; i++)
		sctag_result_free(&r[i]);
	srv_close(&a);
	srv_close(&b);
}

Test(multi, silent_agent_times_out_at_the_one_deadline)
{
	struct srv		 a, b, s;
	struct sctag_client	*c[3];
	struct sctag_result	 r[3];
	struct sctag_opts	 o = { 0 };
	Sctag__V1__Request	 req = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__PingRequest	 p = SCTAG__V1__PING_REQUEST__INIT;
	char			 u[3][PATH_MAX + 32], err[256];
	const char		*names[3] = { "a.test", "b.test", "s.test" };
	nng_time		 t0, dt;
	size_t			 i;

	ipc_url(u[0], sizeof(u[0]), "a");
	ipc_url(u[1], sizeof(u[1]), "b");
	ipc_url(u[2], sizeof(u[2]), "s");
	srv_open(&a, u[0], names[0], 0);
	srv_open(&b, u[1], names[1], 0);
	srv_open(&s, u[2], names[2], 0);
	s.mode = SRV_SILENT;
	for (i = 0; i < 3; i++) {
		o.url = u[i];
		o.target_host = names[i];
		o.timeout_ms = 10000;
		cr_assert_eq(sctag_client_open(&o, &c[i], err, sizeof(err)),
		    SCTAG_OK, "%s", err);
	}
	req.call_case = SCTAG__V1__REQUEST__CALL_PING;
	req.ping = &p;
	t0 = nng_clock();
	/* The call's own deadline wins over the clients' 10 s. */
	cr_assert_eq(sctag_call_many(c, 3, &req, 1500, r), SCTAG_ERR_TIMEOUT);
	dt = nng_clock() - t0;
	cr_assert_geq(dt, 1400, "took %u ms", (unsigned)dt);
	cr_assert_lt(dt, 1500 + 1000, "took %u ms", (unsigned)dt);
	cr_assert_eq(r[0].status, SCTAG_OK, "%s", r[0].message);
	cr_assert_eq(r[1].status, SCTAG_OK, "%s", r[1].message);
	cr_assert_eq(r[2].status, SCTAG_ERR_TIMEOUT, "%s", r[2].message);
	cr_assert_lt(r[0].elapsed_ms, 1000);
	for (i = 0; i < 3; i++) {
		sctag_result_free(&r[i]);
		sctag_client_close(c[i]);
	}
	srv_close(&a);
	srv_close(&b);
	srv_close(&s);
}
