/*
 * dispatch.h: one API request in, one reply out.
 *
 * Runs in the network process's main thread, which owns the flow table and
 * the channel to the privileged process: it parses the envelope, decides
 * who the caller is (a signature checked against authorized_keys, or over
 * ipc the peer's uid), checks the role, runs the call and packs the Reply.
 * Every outcome is a Reply with a code and a message; nothing from the
 * request is trusted before it is checked.
 */
#ifndef SCTAG_DISPATCH_H
#define SCTAG_DISPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "config.h"
#include "flowreq.h"
#include "flows.h"
#include "priv.h"
#include "registry.h"

/*
 * A rule that Batch added ahead of its item, many per privileged round
 * trip; the flow table's backend takes it instead of adding one more.
 */
struct dispatch_prep {
	struct marker_rule	rule;
	int32_t			rc;	/* 0: in the kernel, waiting */
	uint32_t		label;
	int			used;	/* its flow took it */
	struct flowreq_spec	spec;	/* the item's start, parsed once */
	int			have_spec;
};

struct dispatch {
	const char		*host;		/* this agent's name */
	const struct cfg	*cfg;
	struct reg		**regp;		/* follows reloads */
	struct flows		*flows;
	struct priv_client	*priv;
	struct auth_keys	*keys;		/* NULL: nobody enrolled */
	struct auth_nonces	*nonces;
	struct auth_replies	*replies;
	gid_t			 admin_gid;	/* (gid_t)-1: root only */
	uid_t			 self_uid;	/* our own probe: monitor */
	uint64_t		 started_ms;
	uint64_t		 requests;
	uint64_t		 refused;
	struct dispatch_prep	*prep_cur;	/* the Batch item being run */
};

struct dispatch_peer {
	int		ipc;		/* 1: ipc socket, 0: TLS */
	uint64_t	uid;		/* ipc only */
	uint64_t	gid;
};

/* A packed Reply in *out (malloc'd). -ENOMEM only. */
int dispatch_request(struct dispatch *, const struct dispatch_peer *,
    const uint8_t *msg, size_t len, uint8_t **out, size_t *outlen);

/* Re-read authorized_keys (and the registry); a message for the log. */
int dispatch_reload(struct dispatch *, char *msg, size_t msglen);

uint64_t dispatch_now_ms(void);

#endif /* SCTAG_DISPATCH_H */
