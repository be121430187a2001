/*
 * rpc.h: the API's transport: an NNG rep socket with a pool of contexts,
 * an ipc listener and a mutual-TLS listener.
 *
 * NNG's callbacks only move messages: a received request is queued for the
 * network process's main thread (an eventfd says when), which dispatches it
 * and answers with rpc_answer(). A connection with too many requests in
 * flight is answered UNAVAILABLE straight from the callback. A self-probe
 * over ipc recreates the ipc listener when NNG 1.5.2's bug #1518 (a client
 * that disconnects during negotiation breaks it) has struck.
 */
#ifndef SCTAG_RPC_H
#define SCTAG_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "dispatch.h"

#define RPC_MAX_MSG		65536
#define RPC_CONTEXTS		64
#define RPC_PER_CONN		16
#define RPC_SEND_TIMEOUT_MS	5000
#define RPC_PROBE_EVERY_MS	10000

struct rpc_opts {
	const char	*ipc_path;	/* NULL: no ipc listener */
	const char	*tls_url;	/* NULL: no TLS listener */
	const char	*tls_cert_pem;	/* PEM text, read by the root process */
	const char	*tls_key_pem;
	const char	*tls_ca_pem;
	const char	*host;		/* for the self-probe's request */
};

struct rpc;
struct rpc_job;

int rpc_start(struct rpc **, const struct rpc_opts *, char *err,
    size_t errlen);
/* Readable when jobs wait; rpc_take() clears it. */
int rpc_fd(const struct rpc *);
/* The next waiting request, or NULL. */
struct rpc_job *rpc_take(struct rpc *);
const uint8_t *rpc_job_body(const struct rpc_job *, size_t *len);
void rpc_job_peer(const struct rpc_job *, struct dispatch_peer *);
/* Send the reply (copied) and give the job back to NNG. */
void rpc_answer(struct rpc_job *, const uint8_t *reply, size_t len);
/* Called from the main loop: act on the probe's verdict. */
void rpc_tick(struct rpc *);
void rpc_stop(struct rpc *);

#endif /* SCTAG_RPC_H */
