/*
 * events.c: see events.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <sodium.h>

#include "dispatch_calls.h"
#include "events.h"
#include "log.h"
#include "rpc.h"

/* Bytes a subscriber may send: none is needed (see events_open). */
#define EVENTS_RECV_MAX	64

struct events {
	nng_socket	sock;
	_Atomic int	subscribers;	/* NNG's pipe events */
	char		host[256];
	uint64_t	seq;
	uint64_t	run_id;
};

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct events *e = arg;

	(void)p;
	/* ADD_PRE: REM_POST comes for every pipe that had it, also one
	 * refused before ADD_POST (not a SUB). */
	if (ev == NNG_PIPE_EV_ADD_PRE)
		e->subscribers++;
	else if (ev == NNG_PIPE_EV_REM_POST)
		e->subscribers--;
}

static int
listen_ipc(struct events *e, const char *path, char *err, size_t errlen)
{
	nng_listener l;
	char url[4200];
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", path);
	if ((rv = nng_listener_create(&l, e->sock, url)) != 0 ||
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS,
	    0660)) != 0 || (rv = nng_listener_start(l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", url,
		    nng_strerror(rv));
		return -EADDRNOTAVAIL;
	}
	return 0;
}

int
events_open(struct events **out, const struct events_opts *o, char *err,
    size_t errlen)
{
	struct events *e;
	int rv, rc;

	*out = NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(e->host, sizeof(e->host), "%s", o->host);
	randombytes_buf(&e->run_id, sizeof(e->run_id));
	if ((rv = nng_pub0_open(&e->sock)) != 0) {
		snprintf(err, errlen, "events socket: %s", nng_strerror(rv));
		free(e);
		return -ENOMEM;
	}
	/*
	 * A subscriber sends nothing, and pub0 drops a pipe that does; the
	 * limit (copied to each listener) only keeps a forged length from
	 * making NNG allocate it first.
	 */
	if ((rv = nng_socket_set_size(e->sock, NNG_OPT_RECVMAXSZ,
	    EVENTS_RECV_MAX)) != 0 ||
	    (rv = nng_pipe_notify(e->sock, NNG_PIPE_EV_ADD_PRE, pipe_event,
	    e)) != 0 || (rv = nng_pipe_notify(e->sock, NNG_PIPE_EV_REM_POST,
	    pipe_event, e)) != 0) {
		snprintf(err, errlen, "events socket: %s", nng_strerror(rv));
		rc = -ENOMEM;
		goto fail;
	}
	if (o->ipc_path != NULL &&
	    (rc = listen_ipc(e, o->ipc_path, err, errlen)) != 0)
		goto fail;
	if (o->tls_url != NULL && (rc = rpc_tls_listen(e->sock, o->tls_url,
	    o->tls_cert_pem, o->tls_key_pem, o->tls_ca_pem, err,
	    errlen)) != 0)
		goto fail;
	*out = e;
	return 0;
fail:
	nng_close(e->sock);
	free(e);
	return rc;
}

void
events_close(struct events *e)
{
	if (e == NULL)
		return;
	nng_close(e->sock);
	free(e);
}

static int
kind_of(enum flows_event ev)
{
	switch (ev) {
	case FLOWS_STARTED:	return SCTAG__V1__EVENT_KIND__EVENT_FLOW_STARTED;
	case FLOWS_EXPIRED:	return SCTAG__V1__EVENT_KIND__EVENT_FLOW_EXPIRED;
	case FLOWS_DRAINED:	return SCTAG__V1__EVENT_KIND__EVENT_FLOW_DRAINED;
	default:		return SCTAG__V1__EVENT_KIND__EVENT_FLOW_ENDED;
	}
}

void
events_flow(struct events *e, const struct reg *reg, enum flows_event ev,
    const struct flows_flow *f)
{
	uint8_t *buf;
	size_t len;
	int rv;

	if (e == NULL)
		return;
	/* Numbered even if it can not be sent: the gap says so. */
	e->seq++;
	/* Nobody listens: nothing to pack (a pipe burst is 100,000 a
	 * second). A subscriber takes the next seq as its start. */
	if (atomic_load(&e->subscribers) <= 0)
		return;
	if (call_event_pack(reg, e->host, e->seq, e->run_id, kind_of(ev), f,
	    &buf, &len) != 0) {
		log_warn("events: no memory for event %llu",
		    (unsigned long long)e->seq);
		return;
	}
	/* pub never blocks: NONBLOCK only guards against a full queue. */
	if ((rv = nng_send(e->sock, buf, len, NNG_FLAG_NONBLOCK)) != 0)
		log_debug("events: event %llu: %s",
		    (unsigned long long)e->seq, nng_strerror(rv));
	free(buf);
}
