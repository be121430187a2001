/*
 * auth.h: who may call the control API, and may this request run
 * (docs/security.md).
 *
 * Pure code: no NNG, no protobuf. The dispatcher verifies nothing itself:
 * it hands auth_check the envelope's raw fields and the request header's
 * decoded values, and answers with the code and message it gets back.
 *
 *  - authorized_keys: "ROLE KEY NAME" lines, parsed into an immutable
 *    table (auth_keys_*). A reload parses a new table; the caller swaps
 *    pointers, so a bad file keeps the old table in force. Any number of
 *    threads may read one table; the caller must not free a table while
 *    an auth_check may still be using it.
 *  - roles and operations (auth_allowed).
 *  - the nonce cache (auth_nonces_*) and the request-id reply cache
 *    (auth_replies_*): fixed capacity, preallocated, each with an internal
 *    pthread mutex, so any thread may call them (and auth_check)
 *    concurrently. auth_check takes the reply cache's lock, then the
 *    nonce cache's; nothing takes them in the other order.
 *
 * Times are Unix wall-clock milliseconds (CLOCK_REALTIME), the clock the
 * clients' timestamps use.
 */
#ifndef SCTAG_AUTH_H
#define SCTAG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"

/* Same values as sctag.v1.Code in agent.proto (no protobuf header here). */
enum auth_code {
	AUTH_OK = 0,
	AUTH_INVALID_ARGUMENT = 1,
	AUTH_NOT_FOUND = 2,
	AUTH_ALREADY_EXISTS = 3,
	AUTH_PERMISSION_DENIED = 4,
	AUTH_UNAUTHENTICATED = 5,
	AUTH_RESOURCE_EXHAUSTED = 6,
	AUTH_UNAVAILABLE = 7,
	AUTH_INTERNAL = 8,
};

/* NONE (0) allows nothing, so a zeroed struct grants no rights. */
enum auth_role {
	AUTH_ROLE_NONE = 0,
	AUTH_ROLE_MONITOR,
	AUTH_ROLE_ORCHESTRATOR,
	AUTH_ROLE_ADMIN,
};

enum auth_op {
	AUTH_OP_START_FLOW = 0,
	AUTH_OP_END_FLOW,
	AUTH_OP_BATCH,
	AUTH_OP_LIST_FLOWS,
	AUTH_OP_GET_STATUS,
	AUTH_OP_GET_REGISTRY,
	AUTH_OP_PING,
	AUTH_OP_RELOAD,
	AUTH_OP_DRAIN,
	AUTH_OP_WATCH,
	AUTH_OP_COUNT
};

#define AUTH_NAME_MAX		64
#define AUTH_KEYS_MAX		10000
#define AUTH_KEYS_FILE_MAX	(4 * 1024 * 1024)
#define AUTH_LINE_MAX		1024
#define AUTH_NONCE_LEN		16
#define AUTH_REQID_LEN		16
#define AUTH_HASH_LEN		32	/* BLAKE2b-256 of a body */
#define AUTH_MSG_MAX		256

#define AUTH_WINDOW_MS_DEFAULT		30000
#define AUTH_NONCES_DEFAULT		1048576
#define AUTH_NONCES_MAX			(1u << 24)
#define AUTH_REPLIES_DEFAULT		65536
#define AUTH_REPLIES_MAX		(1u << 24)
#define AUTH_REPLY_BYTES_DEFAULT	(64u * 1024 * 1024)

/* "OK", "INVALID_ARGUMENT", ... as in the proto; "?" when out of range. */
const char *auth_code_name(enum auth_code);
/* "monitor", "orchestrator", "admin"; "none". */
const char *auth_role_name(enum auth_role);
/* The rpc name: "StartFlow", ..., "Watch"; "?" when out of range. */
const char *auth_op_name(enum auth_op);
/* 1 when role may perform op, else 0 (and 0 for values out of range). */
int auth_allowed(enum auth_role, enum auth_op);

/* ---- authorized_keys ---- */

struct auth_key {
	uint8_t		key_id[ENV_KEYID_LEN];
	uint8_t		pk[ENV_PK_LEN];
	enum auth_role	role;
	char		name[AUTH_NAME_MAX + 1];
	unsigned	line;		/* in the file it came from */
};

struct auth_keys;

/*
 * Parse authorized_keys text (len bytes, outside input; fname names it in
 * messages). 0 and a new table, or -EINVAL with "FILE:LINE: message" and
 * *out NULL; -ENOMEM.
 */
int auth_keys_parse(const char *buf, size_t len, const char *fname,
    struct auth_keys **out, char *err, size_t errlen);
/*
 * Read and parse a file of at most AUTH_KEYS_FILE_MAX bytes. A file that
 * group or others may write is refused (-EPERM): whoever can write it can
 * make themselves admin.
 */
int auth_keys_load(const char *path, struct auth_keys **out, char *err,
    size_t errlen);
void auth_keys_free(struct auth_keys *);
size_t auth_keys_count(const struct auth_keys *);
/* In file order; NULL when i is out of range. */
const struct auth_key *auth_keys_at(const struct auth_keys *, size_t i);
/* By key id (len must be ENV_KEYID_LEN); NULL when unknown. */
const struct auth_key *auth_keys_find(const struct auth_keys *,
    const uint8_t *key_id, size_t len);

/* ---- nonce cache ---- */

struct auth_nonces;

/*
 * Remembers key_id || nonce for 2 x window_ms after acceptance: as long
 * as a request carrying it could still pass the timestamp check. capacity
 * entries (1 .. AUTH_NONCES_MAX) are allocated up front, about 40 bytes
 * each plus 4 per hash bucket. 0, -EINVAL, -ENOMEM.
 */
int auth_nonces_new(uint64_t window_ms, size_t capacity,
    struct auth_nonces **out);
void auth_nonces_free(struct auth_nonces *);
uint64_t auth_nonces_window(const struct auth_nonces *);
/*
 * Record a nonce. 0 when new; -EEXIST when seen within its lifetime;
 * -ENOSPC when every entry is still live: a nonce is never forgotten
 * early, so a full cache refuses instead.
 */
int auth_nonces_add(struct auth_nonces *, const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t nonce[AUTH_NONCE_LEN], uint64_t now_ms);
/* Live and expired-but-not-yet-purged entries. */
size_t auth_nonces_count(struct auth_nonces *);

/* ---- request-id reply cache ---- */

struct auth_replies;

/*
 * Keeps, per key_id || request_id, the BLAKE2b-256 hash of the request
 * body and a copy of the reply, for 2 x window_ms after the request was
 * accepted; at most max_entries (1 .. AUTH_REPLIES_MAX) entries and
 * max_bytes of replies. When full, the oldest entries go first: that is
 * safe because the nonce cache, which never forgets early, still refuses
 * a resend of their requests. 0, -EINVAL, -ENOMEM.
 */
int auth_replies_new(uint64_t window_ms, size_t max_entries, size_t max_bytes,
    struct auth_replies **out);
void auth_replies_free(struct auth_replies *);
/*
 * 0 and a malloc'd copy of the reply (free() it) when the same request
 * was answered; -ENOENT when the id is not known; -EEXIST when it is
 * known for a different body; -EBUSY when that request is still being
 * processed; -ENODATA when it was answered but its reply was not kept;
 * -ENOMEM.
 */
int auth_replies_lookup(struct auth_replies *,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], uint64_t now_ms,
    uint8_t **reply, size_t *len);
/* Mark a request id as being processed. 0, or -EEXIST when known. */
int auth_replies_reserve(struct auth_replies *,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], uint64_t now_ms);
/*
 * Keep a copy of the reply to a reserved (or evicted) request id. 0;
 * -EFBIG when len alone exceeds max_bytes (not kept: a resend is then
 * refused as a replayed nonce); -EEXIST when the id is known for another
 * body; -EALREADY when a reply is kept already; -ENOMEM.
 */
int auth_replies_store(struct auth_replies *,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], const void *reply, size_t len,
    uint64_t now_ms);
void auth_replies_stats(struct auth_replies *, size_t *entries,
    size_t *bytes);

/* ---- the check ---- */

/* What the dispatcher has, before anything is trusted. */
struct auth_request {
	const uint8_t	*body;		/* Envelope.body, exactly as received */
	size_t		 body_len;
	const uint8_t	*key_id;	/* Envelope.key_id */
	size_t		 key_id_len;
	const uint8_t	*sig;		/* Envelope.signature */
	size_t		 sig_len;
	/* decoded from body (only after the signature verifies are they
	 * looked at) */
	const char	*target_host;	/* NUL-terminated; NULL = empty */
	uint64_t	 timestamp_ms;
	const uint8_t	*nonce;
	size_t		 nonce_len;
	const uint8_t	*request_id;
	size_t		 request_id_len;
	enum auth_op	 op;
};

struct auth_result {
	enum auth_code	code;
	char		message[AUTH_MSG_MAX];	/* "" on OK */
	/* The caller, once the signature verified; NONE and "" before. */
	enum auth_role	role;
	char		name[AUTH_NAME_MAX + 1];
	uint8_t		key_id[ENV_KEYID_LEN];
	uint8_t		body_hash[AUTH_HASH_LEN];
	/* A resend of an answered request: send these bytes as the reply,
	 * then free() them. NULL otherwise. */
	uint8_t		*reply;
	size_t		 reply_len;
};

/*
 * Check one request, in this order, stopping at the first failure:
 *
 *  1. key id is ENV_KEYID_LEN bytes and in keys   UNAUTHENTICATED
 *  2. signature over the exact body               UNAUTHENTICATED
 *     (a body over ENV_BODY_MAX                   INVALID_ARGUMENT)
 *  3. nonce and request id are 16 bytes           INVALID_ARGUMENT
 *  4. target host is host (ASCII case-insensitive) PERMISSION_DENIED
 *  5. |now - timestamp| <= window                 UNAUTHENTICATED
 *  6. the key's role allows op                    PERMISSION_DENIED
 *  7. request id (replies may be NULL: skipped): a resend of an answered
 *     request gets AUTH_OK with res->reply set; the same id with another
 *     body is INVALID_ARGUMENT; one still in progress UNAVAILABLE
 *  8. nonce not seen                              UNAUTHENTICATED
 *     (cache full                                 RESOURCE_EXHAUSTED)
 *
 * keys may be NULL (no key is known), nonces may not; host is this
 * agent's name. Only a request that passes everything records its nonce
 * and reserves its request id: on AUTH_OK with res->reply NULL the caller
 * runs the request and must then pass the reply, error replies included,
 * to auth_replies_store (with res->key_id and res->body_hash); until then
 * a resend gets UNAVAILABLE. Returns res->code.
 */
enum auth_code auth_check(const struct auth_keys *keys,
    struct auth_nonces *nonces, struct auth_replies *replies,
    const char *host, const struct auth_request *req, uint64_t now_ms,
    struct auth_result *res);

#endif /* SCTAG_AUTH_H */
