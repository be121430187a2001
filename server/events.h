/*
 * events.h: every flow that starts or ends, on an NNG pub socket for
 * dashboards (`sctagctl watch`; Event in proto/sctag/v1/agent.proto).
 *
 * Listeners of its own, on one pub socket (one seq for all):
 * - ipc: events.sock next to the API's socket, mode 0660 in the same 0750
 *   directory: the users who may use the API over ipc (root and
 *   api.admin_group) may watch; nobody else can connect.
 * - TLS (api.events_tls): mutual TLS with the agent's certificate; a
 *   client certificate from the events CA is the role "watch". NNG 1.5.2
 *   can not read a peer's certificate, so the CA this listener trusts is
 *   the whole check: give dashboards a CA of their own, not the API's.
 * Watchers only receive: pub0 closes a pipe that sends it anything. A pub
 * socket never waits for a subscriber: one that does not keep up loses
 * events, and sees the gap in seq.
 */
#ifndef SCTAG_EVENTS_H
#define SCTAG_EVENTS_H

#include <stddef.h>

#include "flows.h"
#include "registry.h"

#define EVENTS_SOCK	"events.sock"

struct events;

struct events_opts {
	const char	*ipc_path;	/* NULL: no ipc listener */
	const char	*tls_url;	/* NULL: no TLS listener */
	const char	*tls_cert_pem;	/* the agent's (api.tls), PEM text */
	const char	*tls_key_pem;
	const char	*tls_ca_pem;	/* whose clients may watch */
	const char	*host;		/* this agent's name, in every Event */
};

/* A pub socket with its listeners, all started, or -errno with a message
 * that names the listener's URL. */
int events_open(struct events **, const struct events_opts *, char *err,
    size_t errlen);
void events_close(struct events *);
/*
 * The main loop's turn: recreate the ipc listener if its probe (a thread,
 * every RPC_PROBE_EVERY_MS) could not connect: NNG bug #1518 leaves an
 * ipc listener deaf after a peer connects and closes at once.
 */
void events_tick(struct events *);
/* Publish one change (the caller holds the state lock: one order). */
void events_flow(struct events *, const struct reg *, enum flows_event,
    const struct flows_flow *);

#endif /* SCTAG_EVENTS_H */
