/*
 * ffin.h: a received firefly becomes a flow of the table, or ends one.
 *
 * Senders do not agree on direction (XRootD puts the data's sender in
 * src, dCache always puts the remote client there), so the end that is
 * this host's is found by its addresses: the rule marks what this host
 * sends to the other end. Flows started this way belong to FFIN_OWNER;
 * an end firefly ends only such a flow, never one an orchestrator
 * started. They send no fireflies of their own: their sender already did.
 */
#ifndef SCTAG_FFIN_H
#define SCTAG_FFIN_H

#include <stddef.h>

#include "dispatch.h"
#include "firefly.h"

#define FFIN_OWNER	"firefly"

/*
 * Apply ev to d's flow table (the caller holds the state lock). 0, or an
 * fflisten drop reason (FFL_NOT_LOCAL, FFL_REFUSED) with a message.
 */
int ffin_apply(struct dispatch *, const struct ff_event *, char *err,
    size_t errlen);

#endif /* SCTAG_FFIN_H */
