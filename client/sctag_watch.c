/*
 * sctag_watch.c: an agent's events (sctag.h, sctag_watch_*).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "sctag.h"

struct sctag_watch {
	nng_socket	sock;
};

enum sctag_status
sctag_watch_open(const char *url, struct sctag_watch **out, char *err,
    size_t errlen)
{
	struct sctag_watch *w;
	int rv;

	*out = NULL;
	if (url == NULL || strncmp(url, "ipc://", 6) != 0) {
		snprintf(err, errlen, "events: only ipc:// URLs (the agent's "
		    "events.sock)");
		return SCTAG_ERR_LOCAL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return SCTAG_ERR_LOCAL;
	}
	if ((rv = nng_sub0_open(&w->sock)) != 0 ||
	    (rv = nng_socket_set(w->sock, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0) {
		snprintf(err, errlen, "events socket: %s", nng_strerror(rv));
		goto fail;
	}
	/* Synchronous: a missing socket or a refused permission is an error
	 * now, not an empty watch. */
	if ((rv = nng_dial(w->sock, url, NULL, 0)) != 0) {
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
