/*
 * sctag_watch.c: an agent's events (sctag.h, sctag_watch_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "sctag_int.h"

/* An Event is a few hundred bytes; anything far larger is not one. */
#define WATCH_RECV_MAX	(64 * 1024)
/* As the API's clients: redial soon, but not in a tight loop. */
#define RECONN_MIN_MS	100
#define RECONN_MAX_MS	2000

struct sctag_watch {
	nng_socket	sock;
};

enum sctag_status
sctag_watch_open(const struct sctag_opts *o, struct sctag_watch **out,
    char *err, size_t errlen)
{
	struct sctag_watch	*w;
	struct sctag_url	 u;
	nng_dialer		 d;
	const char		*url;
	char			 target[SCTAG_HOST_MAX + 1], dummy[1];
	int			 rv;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	*out = NULL;
	if ((url = sctag_opts_url(o, SCTAG_DEFAULT_EVENTS_URL, &u, err,
	    errlen)) == NULL)
		return SCTAG_ERR_LOCAL;
	if (u.kind == SCTAG_URL_TLS && sctag_opts_target(o, url, &u, target,
	    sizeof(target), err, errlen) != 0)
		return SCTAG_ERR_LOCAL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return SCTAG_ERR_LOCAL;
	}
	if ((rv = nng_sub0_open(&w->sock)) != 0) {
		snprintf(err, errlen, "events socket: %s", nng_strerror(rv));
		free(w);
		return SCTAG_ERR_LOCAL;
	}
	if ((rv = nng_socket_set(w->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = nng_socket_set_size(w->sock, NNG_OPT_RECVMAXSZ,
	    WATCH_RECV_MAX)) != 0 ||
	    (rv = nng_dialer_create(&d, w->sock, url)) != 0 ||
	    (rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMINT,
	    RECONN_MIN_MS)) != 0 ||
	    (rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT,
	    RECONN_MAX_MS)) != 0) {
		snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		goto fail;
	}
	if (u.kind == SCTAG_URL_TLS && sctag_tls_dialer(d, url, target, o,
	    err, errlen) != 0)
		goto fail;
	/*
	 * Synchronous: a missing socket, a refused permission or a
	 * certificate the agent does not take is an error now, not an
	 * empty watch. Later losses are redialed in the background.
	 */
	if ((rv = nng_dialer_start(d, 0)) != 0) {
		/* mbedTLS's alert, or the agent hanging up on a client
		 * without a certificate (notes/stack.md 1.5). */
		if (u.kind == SCTAG_URL_TLS && (rv == NNG_ECRYPTO ||
		    rv == NNG_ECONNSHUT || rv == NNG_EPEERAUTH))
			snprintf(err, errlen, "%s: TLS handshake failed "
			    "(certificate, CA or server name not accepted): %s",
			    url, nng_strerror(rv));
		else
			snprintf(err, errlen, "%s: %s", url, nng_strerror(rv));
		nng_close(w->sock);
		free(w);
		return SCTAG_ERR_CONNECT;
	}
	*out = w;
	return SCTAG_OK;
fail:
	nng_close(w->sock);
	free(w);
	return SCTAG_ERR_LOCAL;
}

enum sctag_status
sctag_watch_next(struct sctag_watch *w, int timeout_ms, Sctag__V1__Event **ev,
    char *err, size_t errlen)
{
	nng_msg *m;
	int rv;

	*ev = NULL;
	nng_socket_set_ms(w->sock, NNG_OPT_RECVTIMEO, timeout_ms > 0 ?
	    timeout_ms : NNG_DURATION_INFINITE);
	if ((rv = nng_recvmsg(w->sock, &m, 0)) != 0) {
		snprintf(err, errlen, "events: %s", nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? SCTAG_ERR_TIMEOUT :
		    SCTAG_ERR_CONNECT;
	}
	*ev = sctag__v1__event__unpack(NULL, nng_msg_len(m), nng_msg_body(m));
	nng_msg_free(m);
	if (*ev == NULL) {
		snprintf(err, errlen, "events: a message that is not an "
		    "Event");
		return SCTAG_ERR_PROTOCOL;
	}
	return SCTAG_OK;
}

void
sctag_watch_close(struct sctag_watch *w)
{
	if (w == NULL)
		return;
	nng_close(w->sock);
	free(w);
}
