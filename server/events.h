/*
 * events.h: every flow that starts or ends, on an NNG pub socket for
 * dashboards (`sctagctl watch`; Event in proto/sctag/v1/agent.proto).
 *
 * Its own ipc listener, events.sock next to the API's socket, mode 0660 in
 * the same 0750 directory: the users who may use the API over ipc (root
 * and api.admin_group) may watch; nobody else can connect. A pub socket
 * never waits for a subscriber: one that does not keep up loses events,
 * and sees the gap in seq.
 */
#ifndef SCTAG_EVENTS_H
#define SCTAG_EVENTS_H

#include <stddef.h>

#include "flows.h"
#include "registry.h"

#define EVENTS_SOCK	"events.sock"

struct events;

/* A pub socket listening on ipc://path. -errno with a message. */
int events_open(struct events **, const char *path, const char *host,
    char *err, size_t errlen);
void events_close(struct events *);
/* Publish one change (the caller holds the state lock: one order). */
void events_flow(struct events *, const struct reg *, enum flows_event,
    const struct flows_flow *);

#endif /* SCTAG_EVENTS_H */
