/*
 * fuzz_wire.c: control API messages, which any TLS client (or local user
 * on the ipc socket) can send. The same bytes go through every parser: as
 * an Envelope and then its body as a Request, as a Request on their own,
 * and as a Reply (the client library's side). A decoded request must obey
 * what wire_request_parse promises.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
request(const uint8_t *data, size_t n)
{
	Sctag__V1__Request	*r;
	struct wire_err		 err;

	if (wire_request_parse(data, n, &r, &err) != 0) {
		if (r != NULL || err.code == SCTAG__V1__CODE__OK ||
		    err.msg[0] == '\0')
			abort();
		return;
	}
	if (r->nonce.len != WIRE_NONCE_LEN ||
	    r->request_id.len != WIRE_REQID_LEN ||
	    strlen(r->target_host) == 0 ||
	    strlen(r->target_host) > WIRE_HOST_MAX ||
	    r->call_case == SCTAG__V1__REQUEST__CALL__NOT_SET)
		abort();
	if (r->call_case == SCTAG__V1__REQUEST__CALL_BATCH &&
	    (r->batch->n_items == 0 || r->batch->n_items > WIRE_BATCH_MAX))
		abort();
	wire_request_free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct wire_envelope	 env;
	struct wire_err		 err;
	Sctag__V1__Reply	*rep;

	if (wire_envelope_parse(data, n, &env, &err) == 0) {
		if (env.body_len == 0 ||
		    (env.key_id_len != 0 && env.key_id_len != ENV_KEYID_LEN) ||
		    (env.sig_len != 0 && env.sig_len != ENV_SIG_LEN))
			abort();
		request(env.body, env.body_len);
		wire_envelope_free(&env);
	} else if (env.msg != NULL || err.code == SCTAG__V1__CODE__OK) {
		abort();
	}
	request(data, n);
	if (wire_reply_parse(data, n, &rep, &err) == 0)
		wire_reply_free(rep);
	return 0;
}
