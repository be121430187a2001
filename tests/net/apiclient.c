/*
 * sctag-apiclient: one request/reply exchange with an agent, for the API
 * tests. Request bytes on stdin, reply bytes on stdout.
 *
 *   sctag-apiclient URL [--ca F] [--cert F] [--server-name N] [--timeout MS]
 *   sctag-apiclient URL --sub [--ca F] [--cert F] [--server-name N]
 *
 * --sub: dial the URL as a subscriber (an events socket) and exit 0 once
 * connected, 3 when the dial failed; nothing is read or sent. It tries
 * what a watcher without any certificate gets, which sctagctl never sends.
 *
 * It exists because the tests' process can not use NNG in another network
 * namespace: Criterion talks to its workers over NNG, so NNG's threads are
 * running, in the root namespace, before any test starts. This program is
 * exec'd inside the client's namespace instead. Exit 0 with a reply; 2 for
 * usage; 3 when NNG failed (its error on stderr).
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#define MAX_IN	(1 << 20)

/* A handshake that never ends is a connection that did not happen. */
static void
hung(int sig)
{
	static const char msg[] = "dial: no connection and no error in time "
	    "(the TLS handshake hung)\n";
	ssize_t rc;

	(void)sig;
	rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)rc;
	_exit(3);
}

static int
fail(const char *what, int rv)
{
	fprintf(stderr, "%s: %s\n", what, nng_strerror(rv));
	return 3;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "server-name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sub", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ca = NULL, *cert = NULL, *name = NULL, *url;
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	nng_socket s;
	nng_msg *m;
	static char in[MAX_IN];
	size_t len = 0;
	ssize_t n;
	int ch, rv, timeout = 4000, sub = 0;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'a': ca = optarg; break;
		case 'c': cert = optarg; break;
		case 'n': name = optarg; break;
		case 't': timeout = atoi(optarg); break;
		case 's': sub = 1; break;
		default: return 2;
		}
	}
	if (optind + 1 != argc)
		return 2;
	url = argv[optind];
	/* NNG 1.5.2 does not bound a TLS handshake: a test must not wait
	 * for ever on one. */
	signal(SIGALRM, hung);
	alarm((unsigned)(timeout / 1000) + 10);
	while (!sub && len < sizeof(in) &&
	    (n = read(STDIN_FILENO, in + len, sizeof(in) - len)) > 0)
		len += (size_t)n;

	if ((rv = sub ? nng_sub0_open(&s) : nng_req0_open(&s)) != 0)
		return fail("socket", rv);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_dialer_create(&d, s, url)) != 0)
		return fail("dialer", rv);
	if (strncmp(url, "tls+tcp://", 10) == 0) {
		if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) ||
		    (ca && (rv = nng_tls_config_ca_file(cfg, ca))) ||
		    (name && (rv = nng_tls_config_server_name(cfg, name))) ||
		    (cert && (rv = nng_tls_config_cert_key_file(cfg, cert,
		    NULL))) ||
		    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)))
			return fail("tls", rv);
		nng_tls_config_free(cfg);
	}
	if ((rv = nng_dialer_start(d, 0)) != 0)
		return fail("dial", rv);
	if (sub)
		_exit(0);
	if ((rv = nng_send(s, in, len, 0)) != 0)
		return fail("send", rv);
	if ((rv = nng_recvmsg(s, &m, 0)) != 0)
		return fail("recv", rv);
	if (fwrite(nng_msg_body(m), 1, nng_msg_len(m), stdout) !=
	    nng_msg_len(m))
		return 3;
	nng_msg_free(m);
	/* nng_close can hang in 1.5.2 (#1813); the process ends anyway. */
	fflush(stdout);
	_exit(0);
}
