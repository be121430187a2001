/*
 * rpc.h: the API's transport: an NNG rep socket with a pool of contexts,
 * an ipc listener and a mutual-TLS listener.
 *
 * NNG's callback hands a received request to the handler
 * (dispatch_request), which must not block: it answers at once, or later
 * from a thread of its own. A connection with too many requests in flight
 * is answered UNAVAILABLE straight from the callback. A self-probe
 * over ipc recreates the ipc listener when NNG 1.5.2's bug #1518 (a client
 * that disconnects during negotiation breaks it) has struck.
 */
#ifndef SCTAG_RPC_H
#define SCTAG_RPC_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "dispatch.h"

#define RPC_MAX_MSG		65536
#define RPC_CONTEXTS		64
#define RPC_PER_CONN		16
#define RPC_SEND_TIMEOUT_MS	5000
#define RPC_PROBE_EVERY_MS	10000

/*
 * In NNG's callback, several at once, never blocking; done(tok, ...) once
 * with the reply, now or later from another thread. Whatever threads call
 * done must have stopped before rpc_stop.
 */
typedef void (*rpc_handler)(void *arg, const struct dispatch_peer *,
    const uint8_t *msg, size_t len, dispatch_done_fn *done, void *tok);

struct rpc_opts {
	rpc_handler	 handle;
	void		*handle_arg;
	const char	*ipc_path;	/* NULL: no ipc listener */
	const char	*tls_url;	/* NULL: no TLS listener */
	const char	*tls_cert_pem;	/* PEM text, read by the root process */
	const char	*tls_key_pem;
	const char	*tls_ca_pem;
	const char	*host;		/* for the self-probe's request */
};

struct rpc;

/*
 * Start a mutual-TLS listener at url on sock: TLS 1.2 (all NNG 1.5.2's
 * mbedTLS has), the agent's certificate, and clients whose certificate
 * ca_pem signed, nobody else. The API's and the events' listeners: NNG
 * 1.5.2 can not tell one client certificate from another, so which CA a
 * listener trusts is the role (notes/stack.md 1.5). CRLs in ca_pem (the
 * CA file of `mkcerts.sh revoke`) keep the certificates they list out,
 * as NNG's own nng_tls_config_ca_file does. *lp (if not NULL): the
 * listener. 0, or -EINVAL with a message naming url and the step that
 * failed.
 */
int rpc_tls_listen(nng_socket sock, const char *url, const char *cert_pem,
    const char *key_pem, const char *ca_pem, nng_listener *lp, char *err,
    size_t errlen);

int rpc_start(struct rpc **, const struct rpc_opts *, char *err,
    size_t errlen);
/* Called from the main loop: act on the probe's verdict. */
void rpc_tick(struct rpc *);
void rpc_stop(struct rpc *);

#endif /* SCTAG_RPC_H */
