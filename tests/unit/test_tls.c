/*
 * test_tls.c: certs/mkcerts.sh makes certificates that NNG 1.5.2's mbedTLS
 * accepts for the control API's mutual TLS, and the handshake refuses what
 * it must: no client certificate, a client certificate from another CA, a
 * server name the agent's certificate does not carry, the agent's own
 * (serverAuth) certificate used as a client's, and a certificate that the
 * CA revoked (mkcerts.sh revoke; its CRL in the CA file).
 *
 * Each test runs mkcerts.sh into its own temporary directory (from
 * SCTAG_SOURCE_DIR, which ctest sets), then a rep0 echo server on
 * tls+tcp://127.0.0.1:0 in a thread, listening as sctagd's do
 * (rpc_tls_listen, with the files' PEM text). Every wait is bounded:
 * socket send/receive timeouts and the suite's timeout.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "rpc.h"

static char		dir[PATH_MAX];
static nng_socket	srv;
static nng_thread	*srv_thr;
static int		port;
static volatile int	stop;

static void
sh(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

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

static void
path(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* A file of dir as a string (the caller frees it). */
static char *
slurp(const char *name)
{
	char	 p[PATH_MAX + 64], *buf;
	long	 n;
	FILE	*f;

	path(p, sizeof(p), name);
	cr_assert_not_null(f = fopen(p, "r"), "%s", p);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	cr_assert_geq(n = ftell(f), 0);
	rewind(f);
	cr_assert_not_null(buf = calloc(1, (size_t)n + 1));
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

static void
echo(void *arg)
{
	nng_msg	*m;
	int	 rc;

	while (!stop) {
		rc = nng_recvmsg(srv, &m, 0);
		if (rc == NNG_ETIMEDOUT)
			continue;
		if (rc != 0)
			break;
		if (nng_sendmsg(srv, m, 0) != 0)
			nng_msg_free(m);
	}
}

static void
setup(void)
{
	const char	*src = getenv("SCTAG_SOURCE_DIR");
	nng_listener	 l;
	char		*cert, *key, *ca, err[512];

	cr_assert_not_null(src, "SCTAG_SOURCE_DIR is not set (ctest sets it)");
	snprintf(dir, sizeof(dir), "%s/sctag-tls.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	sh("sh %s/certs/mkcerts.sh -d %s ca >/dev/null", src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s agent agent.test localhost 127.0.0.1 "
	    ">/dev/null", src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s client orchestrator >/dev/null", src,
	    dir);
	sh("sh %s/certs/mkcerts.sh -d %s/other ca 'another CA' >/dev/null",
	    src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s/other client orchestrator "
	    ">/dev/null", src, dir);
	sh("sh %s/certs/mkcerts.sh -d %s client lost-host >/dev/null", src,
	    dir);
	sh("sh %s/certs/mkcerts.sh -d %s revoke lost-host >/dev/null", src,
	    dir);
	/* The CRL first and blank lines after: sctagd takes it all the same. */
	sh("cat %s/ca.crl %s/ca.crt > %s/ca-mixed.pem && printf '\\n\\n' >> "
	    "%s/ca-mixed.pem", dir, dir, dir, dir);

	cr_assert_eq(nng_rep0_open(&srv), 0);
	cr_assert_eq(nng_socket_set_ms(srv, NNG_OPT_RECVTIMEO, 200), 0);
	cr_assert_eq(nng_socket_set_ms(srv, NNG_OPT_SENDTIMEO, 2000), 0);
	cr_assert_eq(nng_socket_set_size(srv, NNG_OPT_RECVMAXSZ, 65536), 0);
	/* The CA file with the CA's CRL (as `mkcerts.sh revoke` makes it,
	 * but in another order and with blank lines). */
	cert = slurp("agent-agent.test.crt");
	key = slurp("agent-agent.test.key");
	ca = slurp("ca-mixed.pem");
	cr_assert_eq(rpc_tls_listen(srv, "tls+tcp://127.0.0.1:0", cert, key,
	    ca, &l, err, sizeof(err)), 0, "%s", err);
	free(cert);
	free(key);
	free(ca);
	cr_assert_eq(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port),
	    0);
	cr_assert_gt(port, 0);
	cr_assert_eq(nng_thread_create(&srv_thr, echo, NULL), 0);
}

static void
teardown(void)
{
	stop = 1;
	nng_close(srv);
	if (srv_thr != NULL)
		nng_thread_destroy(srv_thr);
	if (dir[0] != '\0')
		sh("rm -rf %s", dir);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 60);

/*
 * Dial with the given client certificate (NULL: none), CA and server
 * name; on success send one request and return 0 when its echo came back.
 * Returns the NNG error otherwise.
 */
static int
call(const char *cert, const char *ca, const char *server_name)
{
	nng_socket	 s;
	nng_dialer	 d;
	nng_tls_config	*cfg;
	nng_msg		*m = NULL;
	char		 url[64], p[PATH_MAX + 64];
	int		 rc;

	cr_assert_eq(nng_req0_open(&s), 0);
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000), 0);
	cr_assert_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000), 0);
	cr_assert_eq(nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT), 0);
	cr_assert_eq(nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2), 0);
	path(p, sizeof(p), ca);
	cr_assert_eq(nng_tls_config_ca_file(cfg, p), 0, "%s", p);
	cr_assert_eq(nng_tls_config_server_name(cfg, server_name), 0);
	if (cert != NULL) {
		path(p, sizeof(p), cert);
		cr_assert_eq(nng_tls_config_cert_key_file(cfg, p, NULL), 0,
		    "%s", p);
	}
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	cr_assert_eq(nng_dialer_create(&d, s, url), 0);
	cr_assert_eq(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg), 0);
	nng_tls_config_free(cfg);
	/* Synchronous: returns once the handshake is done or failed. */
	if ((rc = nng_dialer_start(d, 0)) != 0)
		goto out;
	if ((rc = nng_send(s, "ping", 5, 0)) != 0)
		goto out;
	if ((rc = nng_recvmsg(s, &m, 0)) != 0)
		goto out;
	cr_assert_eq(nng_msg_len(m), 5);
	cr_assert_str_eq(nng_msg_body(m), "ping");
	nng_msg_free(m);
out:
	nng_close(s);
	return rc;
}

Test(tls, client_certificate_from_the_site_ca)
{
	int	rc;

	rc = call("client-orchestrator.pem", "ca.crt", "agent.test");
	cr_assert_eq(rc, 0, "%s", nng_strerror(rc));
	/* The other names in the certificate work as well. */
	rc = call("client-orchestrator.pem", "ca.crt", "localhost");
	cr_assert_eq(rc, 0, "%s", nng_strerror(rc));
}

Test(tls, no_client_certificate)
{
	int	rc;

	rc = call(NULL, "ca.crt", "agent.test");
	cr_assert_neq(rc, 0);
	cr_log_info("no client certificate: %s", nng_strerror(rc));
}

Test(tls, client_certificate_from_another_ca)
{
	int	rc;

	rc = call("other/client-orchestrator.pem", "ca.crt", "agent.test");
	cr_assert_neq(rc, 0);
	cr_log_info("certificate from another CA: %s", nng_strerror(rc));
}

Test(tls, wrong_server_name)
{
	int	rc;

	rc = call("client-orchestrator.pem", "ca.crt", "agent-2.test");
	cr_assert_neq(rc, 0);
	cr_log_info("wrong server name: %s", nng_strerror(rc));
}

Test(tls, server_not_from_trusted_ca)
{
	int	rc;

	/* The client trusts only the other CA: the agent is a stranger. */
	rc = call("client-orchestrator.pem", "other/ca.crt", "agent.test");
	cr_assert_neq(rc, 0);
	cr_log_info("agent from an untrusted CA: %s", nng_strerror(rc));
}

Test(tls, agent_certificate_is_not_a_client_certificate)
{
	int	rc;

	/* extendedKeyUsage serverAuth only: mbedTLS refuses it. */
	rc = call("agent-agent.test.pem", "ca.crt", "agent.test");
	cr_assert_neq(rc, 0);
	cr_log_info("agent certificate as a client's: %s", nng_strerror(rc));
}

Test(tls, revoked_client_certificate)
{
	int	rc;

	/* Issued by the site CA, listed in its CRL: refused. */
	rc = call("client-lost-host.pem", "ca.crt", "agent.test");
	cr_assert_neq(rc, 0);
	cr_log_info("revoked certificate: %s", nng_strerror(rc));
	/* The CRL keeps out only what it lists. */
	rc = call("client-orchestrator.pem", "ca.crt", "agent.test");
	cr_assert_eq(rc, 0, "%s", nng_strerror(rc));
}
