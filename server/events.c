/*
 * events.c: see events.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/util/platform.h>
#include <sodium.h>

#include "dispatch_calls.h"
#include "events.h"
#include "log.h"
#include "rpc.h"

/* Bytes a subscriber may send: none is needed (see events_open). */
#define EVENTS_RECV_MAX	64

#define PROBE_WAIT_MS	3000	/* for the probe's connection */

struct events {
	nng_socket	sock;
	_Atomic int	subscribers;	/* NNG's pipe events */
	char		host[256];
	uint64_t	seq;
	uint64_t	run_id;
	/* The ipc listener, and its probe (NNG bug #1518, as rpc.c's). */
	char		ipc_path[4096];
	nng_listener	ipc_l;
	int		want_ipc;	/* configured */
	int		have_ipc;	/* listening (main thread) */
	uint64_t	retry_ms;	/* when to try listening again */
	pthread_t	probe;
	int		probe_started;
	_Atomic int	probe_failed;
	_Atomic int	stopping;
	_Atomic unsigned pipes_seen;	/* ADD_PRE, ever */
};

static void
pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct events *e = arg;

	(void)p;
	/* ADD_PRE: REM_POST comes for every pipe that had it, also one
	 * refused before ADD_POST (not a SUB). */
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		e->subscribers++;
		e->pipes_seen++;
	} else if (ev == NNG_PIPE_EV_REM_POST)
		e->subscribers--;
}

static int
listen_ipc(struct events *e, char *err, size_t errlen)
{
	char url[4200];
	int rv;

	snprintf(url, sizeof(url), "ipc://%s", e->ipc_path);
	e->ipc_l = (nng_listener)NNG_LISTENER_INITIALIZER;
	if ((rv = nng_listener_create(&e->ipc_l, e->sock, url)) != 0 ||
	    (rv = nng_listener_set_int(e->ipc_l, NNG_OPT_IPC_PERMISSIONS,
	    0660)) != 0 || (rv = nng_listener_start(e->ipc_l, 0)) != 0) {
		snprintf(err, errlen, "listening on %s: %s", url,
		    nng_strerror(rv));
		/* Created, or not (its id is then 0, which closes nothing). */
		if (nng_listener_id(e->ipc_l) > 0)
			nng_listener_close(e->ipc_l);
		return -EADDRNOTAVAIL;
	}
	e->have_ipc = 1;
	return 0;
}

/*
 * A subscriber of our own connects to the ipc socket: 0 when the pub
 * socket saw a new pipe within PROBE_WAIT_MS. Seen from this side, not
 * the subscriber's: a deaf listener still completes the handshake, so the
 * subscriber's connection comes up, but the pipe never reaches the pub
 * socket, and no event reaches anyone.
 */
static int
probe_once(struct events *e)
{
	unsigned before = atomic_load(&e->pipes_seen);
	char url[4200];
	nng_socket s;
	int waited;

	if (nng_sub0_open(&s) != 0)
		return 0;	/* not the listener's fault */
	snprintf(url, sizeof(url), "ipc://%s", e->ipc_path);
	if (nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		nng_close(s);
		return 0;
	}
	for (waited = 0; waited < PROBE_WAIT_MS &&
	    atomic_load(&e->pipes_seen) == before &&
	    !atomic_load(&e->stopping); waited += 20)
		nng_msleep(20);
	nng_close(s);
	return atomic_load(&e->pipes_seen) != before ||
	    atomic_load(&e->stopping) ? 0 : -1;
}

static void *
probe_main(void *arg)
{
	struct events *e = arg;
	int waited;

	while (!atomic_load(&e->stopping)) {
		for (waited = 0; waited < RPC_PROBE_EVERY_MS &&
		    !atomic_load(&e->stopping); waited += 100)
			nng_msleep(100);
		if (!atomic_load(&e->stopping) && probe_once(e) != 0)
			atomic_store(&e->probe_failed, 1);
	}
	return NULL;
}

void
events_tick(struct events *e)
{
	uint64_t now = dispatch_now_ms();
	char err[512];

	if (e == NULL || !e->want_ipc)
		return;
	if (e->have_ipc) {
		if (!atomic_exchange(&e->probe_failed, 0))
			return;
		log_warn("events: the ipc listener does not answer (NNG bug "
		    "#1518?); recreating it");
		nng_listener_close(e->ipc_l);
		e->have_ipc = 0;
	} else if (now < e->retry_ms)
		return;
	/* One that could not be made (no fd left?): again a period later. */
	if (listen_ipc(e, err, sizeof(err)) != 0) {
		log_err("events: %s; trying again in %d s", err,
		    RPC_PROBE_EVERY_MS / 1000);
		e->retry_ms = now + RPC_PROBE_EVERY_MS;
		return;
	}
	atomic_store(&e->probe_failed, 0);	/* about the old one */
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
	if (o->ipc_path != NULL) {
		snprintf(e->ipc_path, sizeof(e->ipc_path), "%s", o->ipc_path);
		e->want_ipc = 1;
		if ((rc = listen_ipc(e, err, errlen)) != 0)
			goto fail;
	}
	if (o->tls_url != NULL && (rc = rpc_tls_listen(e->sock, o->tls_url,
	    o->tls_cert_pem, o->tls_key_pem, o->tls_ca_pem, NULL, err,
	    errlen)) != 0)
		goto fail;
	if (e->have_ipc && pthread_create(&e->probe, NULL, probe_main,
	    e) == 0)
		e->probe_started = 1;
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
	atomic_store(&e->stopping, 1);
	if (e->probe_started)
		pthread_join(e->probe, NULL);
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
