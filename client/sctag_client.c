/*
 * sctag_client.c: one client per agent: options, keys, TLS, the req
 * socket and its dialer.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "keys.h"
#include "sctag_int.h"
#include "jsonpos.h"

/* A PEM certificate chain or key; anything larger is not one. */
#define PEM_MAX		(64 * 1024)
/* Redial quickly after a lost connection, but not in a tight loop
 * against an agent that refuses. */
#define RECONN_MIN_MS	100
#define RECONN_MAX_MS	2000

/* Read a whole PEM file into a NUL-terminated malloc'd string. */
static int
read_pem(const char *path, char **out, char *err, size_t errlen)
{
	size_t	len;

	return jsonpos_read_file(path, PEM_MAX, out, &len, err, errlen);
}

/* NNG's thread: count the connections (one, for a req dialer). */
static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct sctag_client *c = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST)
		c->pipes++;
	else if (ev == NNG_PIPE_EV_REM_POST)
		c->pipes--;
}

int
sctag_tls_dialer(nng_dialer d, const char *url, const char *server_name,
    const struct sctag_opts *o, char *err, size_t errlen)
{
	nng_tls_config	*cfg = NULL;
	char		*cert = NULL, *key = NULL;
	const char	*what;
	int		 rv, rc = -EINVAL;

	if (o->ca_file == NULL || o->cert_file == NULL) {
		snprintf(err, errlen, "%s: tls+tcp:// needs a CA file and a "
		    "client certificate", url);
		return -EINVAL;
	}
	what = "TLS configuration";
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		goto nng_fail;
	/* mbedTLS 2.28 in NNG 1.5.2 has no TLS 1.3; the agent speaks 1.2. */
	if ((rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2)) != 0)
		goto nng_fail;
	what = o->ca_file;
	if ((rv = nng_tls_config_ca_file(cfg, o->ca_file)) != 0)
		goto nng_fail;
	what = "server name";
	if ((rv = nng_tls_config_server_name(cfg, server_name)) != 0)
		goto nng_fail;
	if (o->key_file != NULL) {
		if ((rc = read_pem(o->cert_file, &cert, err, errlen)) != 0 ||
		    (rc = read_pem(o->key_file, &key, err, errlen)) != 0)
			goto out;
		what = o->key_file;
		rv = nng_tls_config_own_cert(cfg, cert, key, NULL);
	} else {
		what = o->cert_file;
		rv = nng_tls_config_cert_key_file(cfg, o->cert_file, NULL);
	}
	if (rv != 0)
		goto nng_fail;
	what = "dialer";
	if ((rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0)
		goto nng_fail;
	rc = 0;
	goto out;
nng_fail:
	snprintf(err, errlen, "%s: %s", what, nng_strerror(rv));
	rc = -EINVAL;
out:
	if (key != NULL) {
		explicit_bzero(key, strlen(key));
		free(key);
	}
	free(cert);
	if (cfg != NULL)
		nng_tls_config_free(cfg);	/* the dialer keeps its own */
	return rc;
}

const char *
sctag_opts_url(const struct sctag_opts *o, const char *dflt,
    struct sctag_url *u, char *err, size_t errlen)
{
	const char	*url;

	if (o == NULL) {
		snprintf(err, errlen, "no options");
		return NULL;
	}
	url = o->url != NULL ? o->url : dflt;
	return sctag_url_parse(url, u, err, errlen) == 0 ? url : NULL;
}

int
sctag_opts_target(const struct sctag_opts *o, const char *url,
    const struct sctag_url *u, char *target, size_t len, char *err,
    size_t errlen)
{
	int	rc;

	if (o->target_host != NULL) {
		if (!sctag_host_valid(o->target_host)) {
			snprintf(err, errlen, "target host '%.64s' is not a "
			    "host name (1-253 of A-Z a-z 0-9 . -)",
			    o->target_host);
			return -EINVAL;
		}
		snprintf(target, len, "%s", o->target_host);
		return 0;
	}
	if ((rc = sctag_url_target(url, target, len)) != 0) {
		if (u->kind == SCTAG_URL_TLS)
			snprintf(err, errlen, "%s: the URL names an address; "
			    "give the agent's host name (NAME=URL)", url);
		else
			snprintf(err, errlen, "this host's name: %s",
			    strerror(-rc));
		return rc;
	}
	return 0;
}

enum sctag_status
sctag_client_open(const struct sctag_opts *o, struct sctag_client **out,
    char *err, size_t errlen)
{
	struct sctag_client	*c;
	struct sctag_url	 u;
	const char		*url;
	char			 dummy[1];
	int			 rv;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	*out = NULL;
	if ((url = sctag_opts_url(o, SCTAG_DEFAULT_URL, &u, err,
	    errlen)) == NULL)
		return SCTAG_ERR_LOCAL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->url = strdup(url)) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return SCTAG_ERR_LOCAL;
	}
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms :
	    SCTAG_DEFAULT_TIMEOUT_MS;

	if (sctag_opts_target(o, url, &u, c->target, sizeof(c->target), err,
	    errlen) != 0)
		goto fail_free;

	if (o->sign_key_file != NULL) {
		if (keys_load_secret(o->sign_key_file, &c->sk, err,
		    errlen) != 0)
			goto fail_free;
	} else if (u.kind == SCTAG_URL_TLS) {
		snprintf(err, errlen, "%s: requests over tls+tcp:// must be "
		    "signed: give a signing key", url);
		goto fail_free;
	}

	if ((rv = nng_req0_open(&c->sock)) != 0) {
		snprintf(err, errlen, "req socket: %s", nng_strerror(rv));
		goto fail_free;
	}
	/* No resends by NNG (notes/stack.md 1.1): a lost connection then
	 * fails the receive with NNG_ECONNRESET at once, and sctag_call.c
	 * resends the same signed Envelope itself, within the deadline. */
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
	    WIRE_MAX_REPLY)) != 0 ||
	    (rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0 ||
	    (rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMINT,
	    RECONN_MIN_MS)) != 0 ||
	    (rv = nng_dialer_set_ms(c->dialer, NNG_OPT_RECONNMAXT,
	    RECONN_MAX_MS)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		goto fail_close;
	}
	if (u.kind == SCTAG_URL_TLS && sctag_tls_dialer(c->dialer, url,
	    c->target, o, err, errlen) != 0)
		goto fail_close;
	if ((rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, pipe_event,
	    c)) != 0 || (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST,
	    pipe_event, c)) != 0) {
		snprintf(err, errlen, "pipe events: %s", nng_strerror(rv));
		goto fail_close;
	}
	if ((rv = nng_aio_alloc(&c->aio, sctag_aio_done, c)) != 0) {
		snprintf(err, errlen, "aio: %s", nng_strerror(rv));
		goto fail_close;
	}
	/* In the background: a call waits for the connection within its
	 * deadline, and sees why dialing failed in the dialer's stats. */
	if ((rv = nng_dialer_start(c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		goto fail_close;
	}
	*out = c;
	return SCTAG_OK;
fail_close:
	if (c->aio != NULL)
		nng_aio_free(c->aio);
	nng_close(c->sock);
fail_free:
	keys_free_secret(c->sk);
	free(c->url);
	free(c);
	return SCTAG_ERR_LOCAL;
}

void
sctag_client_close(struct sctag_client *c)
{
	if (c == NULL)
		return;
	/* No call is in flight here: every call waits for its aio. */
	nng_aio_stop(c->aio);
	nng_aio_free(c->aio);
	nng_close(c->sock);
	keys_free_secret(c->sk);
	free(c->env);
	free(c->url);
	free(c);
}

const char *
sctag_client_url(const struct sctag_client *c)
{
	return c->url;
}

const char *
sctag_client_target(const struct sctag_client *c)
{
	return c->target;
}

