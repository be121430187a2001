/*
 * auth.c: role names and the role matrix, and auth_check: the order in
 * which a request is judged (docs/security.md). The authorized_keys parser
 * is in auth_keys.c, the replay caches in auth_cache.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"
#include "envelope.h"
#include "jsonpos.h"

/* ---- names and the role matrix ---- */

static const char *const code_names[] = {
	"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED",
	"UNAVAILABLE", "INTERNAL",
};

static const char *const role_names[] = {
	"none", "monitor", "orchestrator", "admin",
};

static const char *const op_names[AUTH_OP_COUNT] = {
	"StartFlow", "EndFlow", "Batch", "ListFlows", "GetStatus",
	"GetRegistry", "Ping", "Reload", "Drain", "Watch",
};

#define OPBIT(op)	(1u << (op))
#define OPS_MONITOR	(OPBIT(AUTH_OP_GET_STATUS) | OPBIT(AUTH_OP_LIST_FLOWS) | \
			 OPBIT(AUTH_OP_GET_REGISTRY) | OPBIT(AUTH_OP_PING) | \
			 OPBIT(AUTH_OP_WATCH))
#define OPS_ORCH	(OPS_MONITOR | OPBIT(AUTH_OP_START_FLOW) | \
			 OPBIT(AUTH_OP_END_FLOW) | OPBIT(AUTH_OP_BATCH))
#define OPS_ADMIN	(OPS_ORCH | OPBIT(AUTH_OP_RELOAD) | OPBIT(AUTH_OP_DRAIN))

/* Each role a superset of the one before: a table, not a switch, so the
 * matrix in docs/security.md can be checked against it at a glance. */
static const unsigned role_ops[] = {
	[AUTH_ROLE_NONE] = 0,
	[AUTH_ROLE_MONITOR] = OPS_MONITOR,
	[AUTH_ROLE_ORCHESTRATOR] = OPS_ORCH,
	[AUTH_ROLE_ADMIN] = OPS_ADMIN,
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const char *
auth_code_name(enum auth_code c)
{
	if ((unsigned)c >= NELEM(code_names))
		return "?";
	return code_names[c];
}

const char *
auth_role_name(enum auth_role r)
{
	if ((unsigned)r >= NELEM(role_names))
		return "?";
	return role_names[r];
}

const char *
auth_op_name(enum auth_op op)
{
	if ((unsigned)op >= AUTH_OP_COUNT)
		return "?";
	return op_names[op];
}

int
auth_allowed(enum auth_role r, enum auth_op op)
{
	if ((unsigned)r >= NELEM(role_ops) || (unsigned)op >= AUTH_OP_COUNT)
		return 0;
	return (role_ops[r] & OPBIT(op)) != 0;
}

/* ---- auth_check ---- */

enum auth_code
auth_fail(struct auth_result *res, enum auth_code code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	res->code = code;
	return code;
}

/* Host names compare without case (DNS); no locale involved. */
static int
host_eq(const char *a, const char *b)
{
	unsigned char	x, y;

	for (;; a++, b++) {
		x = (unsigned char)*a;
		y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

static enum auth_code
check_time(struct auth_result *res, uint64_t ts, uint64_t now,
    uint64_t window)
{
	if (ts > now && ts - now > window)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "timestamp is %llu ms "
		    "in the future (window %llu ms): check the client's "
		    "clock", (unsigned long long)(ts - now),
		    (unsigned long long)window);
	if (ts <= now && now - ts > window)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "stale timestamp: "
		    "%llu ms old (window %llu ms)",
		    (unsigned long long)(now - ts),
		    (unsigned long long)window);
	return AUTH_OK;
}

/*
 * Steps 7 and 8 under the reply cache's lock, so that two requests with
 * one request id can not both pass, and nothing is recorded for a request
 * that step 7 refuses.
 */

enum auth_code
auth_check(const struct auth_keys *keys, struct auth_nonces *nonces,
    struct auth_replies *replies, const char *host,
    const struct auth_request *req, uint64_t now_ms, struct auth_result *res)
{
	const struct auth_key	*k;
	const char		*target;
	char			 hex[ENV_KEYID_HEX_LEN], qt[300], qh[300];
	int			 rc;

	memset(res, 0, sizeof(*res));
	res->role = AUTH_ROLE_NONE;
	if (nonces == NULL)
		return auth_fail(res, AUTH_INTERNAL, "no nonce cache");

	/* 1. known key */
	if (req->key_id == NULL || req->key_id_len != ENV_KEYID_LEN)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "key id must be %d "
		    "bytes, got %zu", ENV_KEYID_LEN, req->key_id_len);
	memcpy(res->key_id, req->key_id, ENV_KEYID_LEN);
	env_key_id_hex(res->key_id, hex);
	if ((k = auth_keys_find(keys, req->key_id, req->key_id_len)) == NULL)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "unknown key id %s",
		    hex);

	/* 2. signature over the exact body */
	rc = env_verify(req->body, req->body_len, req->sig, req->sig_len,
	    k->pk);
	if (rc == -EMSGSIZE)
		return auth_fail(res, AUTH_INVALID_ARGUMENT, "body of %zu bytes "
		    "is larger than %d", req->body_len, ENV_BODY_MAX);
	if (rc == -EBADMSG && req->sig_len != ENV_SIG_LEN)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "bad signature: %zu "
		    "bytes, expected %d", req->sig_len, ENV_SIG_LEN);
	if (rc == -EBADMSG)
		return auth_fail(res, AUTH_UNAUTHENTICATED, "bad signature");
	if (rc != 0)
		return auth_fail(res, AUTH_INTERNAL, "signature check failed: %s",
		    strerror(-rc));
	/* From here on the caller is known. */
	res->role = k->role;
	memcpy(res->name, k->name, sizeof(res->name));

	/* 3. header fields that must have a fixed size */
	if (req->nonce == NULL || req->nonce_len != AUTH_NONCE_LEN)
		return auth_fail(res, AUTH_INVALID_ARGUMENT, "nonce must be %d "
		    "bytes, got %zu", AUTH_NONCE_LEN, req->nonce_len);
	if (req->request_id == NULL || req->request_id_len != AUTH_REQID_LEN)
		return auth_fail(res, AUTH_INVALID_ARGUMENT, "request id must be "
		    "%d bytes, got %zu", AUTH_REQID_LEN, req->request_id_len);

	/* 4. this host */
	target = req->target_host ? req->target_host : "";
	if (host == NULL || !host_eq(target, host)) {
		jsonpos_quote(qt, sizeof(qt), target, 64);
		jsonpos_quote(qh, sizeof(qh), host, 64);
		return auth_fail(res, AUTH_PERMISSION_DENIED, "request is for host "
		    "%s, this is %s", qt, qh);
	}

	/* 5. timestamp window */
	if (check_time(res, req->timestamp_ms, now_ms,
	    auth_nonces_window(nonces)) != AUTH_OK)
		return res->code;

	/* 6. role */
	if ((unsigned)req->op >= AUTH_OP_COUNT)
		return auth_fail(res, AUTH_INVALID_ARGUMENT, "unknown operation "
		    "%u", (unsigned)req->op);
	if (!auth_allowed(k->role, req->op))
		return auth_fail(res, AUTH_PERMISSION_DENIED, "role %s may not %s",
		    auth_role_name(k->role), auth_op_name(req->op));

	/* 7, 8. request id, nonce */
	if (crypto_generichash(res->body_hash, AUTH_HASH_LEN, req->body,
	    req->body_len, NULL, 0) != 0)
		return auth_fail(res, AUTH_INTERNAL, "can not hash the body");
	return auth_check_replay(nonces, replies, req, now_ms, res);
}
