/*
 * dispatch_calls.h: the API's calls, run after dispatch.c has decided who
 * the caller is and that the role allows the call.
 */
#ifndef SCTAG_DISPATCH_CALLS_H
#define SCTAG_DISPATCH_CALLS_H

#include "dispatch.h"
#include "wire.h"

struct call_ctx {
	struct dispatch			*d;
	const Sctag__V1__Request	*req;
	enum auth_role			 role;
	const char			*caller;	/* key name or uid:N */
	uint64_t			 now_ms;
};

/* A FlowSpec from the wire, checked and normalised (flowreq_parse). */
int call_parse_spec(struct call_ctx *, const Sctag__V1__FlowSpec *,
    struct flowreq_spec *, char *err, size_t errlen);

/* Run the call; a packed Reply (OK or an error code) in *out. */
int call_run(struct call_ctx *, uint8_t **out, size_t *outlen);

/*
 * One Event (the events socket), packed into *out (malloc'd): seq,
 * run_id, kind (Sctag__V1__EventKind), the flow as flow_msg gives it to
 * ListFlows. 0 or -ENOMEM.
 */
int call_event_pack(const struct reg *, const char *host, uint64_t seq,
    uint64_t run_id, int kind, const struct flows_flow *, uint8_t **out,
    size_t *outlen);

/* The Code for a negative errno from the flow table or the marker. */
Sctag__V1__Code call_code(int rc);

#endif /* SCTAG_DISPATCH_CALLS_H */
