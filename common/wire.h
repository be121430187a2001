/*
 * wire.h: the control API's bytes on the wire (docs/protocol.md), shared by
 * the agent and the client library, on top of protoc-c's generated code.
 *
 *  client                                agent
 *  wire_request_build  -> Envelope ->    wire_envelope_parse
 *                                        (auth: env_verify over body)
 *                                        wire_request_parse
 *  wire_reply_parse    <-  Reply   <-    wire_reply_build / wire_reply_error
 *
 * Every parser takes outside input and is strict about it: the size is
 * bounded before anything is decoded, the bytes are scanned once on the
 * wire (so a NUL inside a string, which protobuf-c would silently cut the
 * C string at, is seen), and the decoder allocates from a quota. A
 * rejection fills a struct wire_err with the sctag.v1.Code to answer with
 * and a message naming the field and the problem; the message quotes no
 * raw input except through jsonpos_quote.
 *
 * Functions return 0 or a negative errno: -EMSGSIZE (too big), -EBADMSG
 * (malformed or out of limits), -ENOMEM (quota or malloc), -EINVAL (a
 * caller's bad argument), -EIO (libsodium).
 */
#ifndef SCTAG_WIRE_H
#define SCTAG_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "sctag/v1/agent.pb-c.h"

#include "envelope.h"

struct keys_secret;

/* Largest Envelope the agent reads (and NNG_OPT_RECVMAXSZ it sets). */
#define WIRE_MAX_MSG		(64 * 1024)
/* Largest Reply a client reads: a page of flows is bigger than a request. */
#define WIRE_MAX_REPLY		(1024 * 1024)
/* Bytes the decoder may allocate for one Request / one Reply. */
#define WIRE_QUOTA		(1024 * 1024)
#define WIRE_REPLY_QUOTA	(16 * 1024 * 1024)

#define WIRE_NONCE_LEN		16
#define WIRE_REQID_LEN		16
#define WIRE_HOST_MAX		253	/* a DNS name in text form */

/*
 * The offset of the first byte of s[0..n) that may not be in a host name
 * (target_host, the config's host, client names): [A-Za-z0-9.-]. n when
 * all are fine; 0 and 1..WIRE_HOST_MAX bytes are the caller's to check.
 */
size_t wire_host_bad_at(const char *s, size_t n);
#define wire_host_valid(s, n)	((n) > 0 && (n) <= WIRE_HOST_MAX && \
				 wire_host_bad_at((s), (n)) == (n))
#define WIRE_BATCH_MAX		1000
#define WIRE_PAGE_SIZE_MAX	1000	/* a larger page_size is lowered */
#define WIRE_PING_MAX		1024
#define WIRE_ADDR_MAX		64	/* "ffff:...:ffff/128" and more */
#define WIRE_NAME_MAX		64	/* experiment, activity, owner */
#define WIRE_APP_MAX		128	/* FlowSpec.application */
#define WIRE_TOKEN_MAX		128	/* ListFlows page_token */
#define WIRE_REPLY_MSG_MAX	256	/* Reply.message, as sent */
/* Nesting of known messages; the schema's deepest path is 6. */
#define WIRE_DEPTH_MAX		8

#define WIRE_ERR_MAX		256

struct wire_err {
	Sctag__V1__Code	code;		/* OK when nothing failed */
	char		msg[WIRE_ERR_MAX];
};

/* A parsed Envelope. The pointers point into msg, which owns them. */
struct wire_envelope {
	Sctag__V1__Envelope	*msg;
	const uint8_t		*body;
	size_t			 body_len;	/* > 0 */
	const uint8_t		*key_id;	/* NULL when unsigned */
	size_t			 key_id_len;	/* 0 or 8 */
	const uint8_t		*sig;		/* NULL: unsigned */
	size_t			 sig_len;	/* 0 or ENV_SIG_LEN */
};

/* "OK", "INVALID_ARGUMENT", ... ; "?" for a value out of range. */
const char *wire_code_name(Sctag__V1__Code);

/* ---- client side ---- */

/*
 * Wrap body (a serialized Request, len > 0 bytes) in an Envelope signed
 * with sk, or unsigned when sk is NULL (ipc only). *out is malloc'd (free
 * it). 0, -EINVAL, -EMSGSIZE when the Envelope would exceed WIRE_MAX_MSG,
 * -ENOMEM, -EIO.
 */
int wire_envelope_build(const uint8_t *body, size_t len,
    const struct keys_secret *sk, uint8_t **out, size_t *outlen);

/*
 * Serialize req and wrap it as above: key_id and signature cover exactly
 * the bytes put in Envelope.body. req is not validated here (the agent
 * does that); fill target_host, timestamp_ms, nonce and request_id first.
 */
int wire_request_build(const Sctag__V1__Request *req,
    const struct keys_secret *sk, uint8_t **out, size_t *outlen);

/*
 * Parse a Reply (outside input: the agent's answer). At most
 * WIRE_MAX_REPLY bytes, decoded within WIRE_REPLY_QUOTA; no NUL in any
 * string; request_id 0 or 16 bytes. Unknown fields and Code values are
 * kept (a newer agent may send them; anything but OK is an error). *out is
 * freed with wire_reply_free.
 */
int wire_reply_parse(const uint8_t *buf, size_t len, Sctag__V1__Reply **out,
    struct wire_err *err);
void wire_reply_free(Sctag__V1__Reply *);

/* ---- agent side ---- */

/*
 * Parse an Envelope: at most WIRE_MAX_MSG bytes; only fields 1-3, each at
 * most once; body non-empty; key_id and signature both absent (unsigned,
 * ipc) or ENV_KEYID_LEN and ENV_SIG_LEN bytes. Nothing is verified here.
 * On success fill *env (free with wire_envelope_free); on failure *env is
 * zeroed.
 */
int wire_envelope_parse(const uint8_t *buf, size_t len,
    struct wire_envelope *env, struct wire_err *err);
void wire_envelope_free(struct wire_envelope *);

/*
 * Parse and validate a Request body (WIRE_QUOTA). Header: target_host 1 ..
 * WIRE_HOST_MAX bytes of [A-Za-z0-9.-], nonce and request_id 16 bytes, a
 * call set. Every string anywhere in it printable ASCII (no NUL), each
 * within its WIRE_*_MAX; per call: StartFlow and Batch items have a flow,
 * Batch 1 .. WIRE_BATCH_MAX items, Ping payload <= WIRE_PING_MAX, ports
 * <= 65535, protocol and strategy values known. ListFlows page_size above
 * WIRE_PAGE_SIZE_MAX is lowered to it. Unknown fields are accepted and
 * kept. *out is freed with wire_request_free.
 */
int wire_request_parse(const uint8_t *body, size_t len,
    Sctag__V1__Request **out, struct wire_err *err);
/* The same with another decoder quota in bytes (tests, tools). */
int wire_request_parse_quota(const uint8_t *body, size_t len, size_t quota,
    Sctag__V1__Request **out, struct wire_err *err);
void wire_request_free(Sctag__V1__Request *);

/* Serialize a reply into a malloc'd buffer. 0, -EMSGSIZE beyond
 * WIRE_MAX_REPLY, -ENOMEM. */
int wire_reply_build(const Sctag__V1__Reply *rep, uint8_t **out,
    size_t *outlen);

/*
 * A serialized error Reply: code, message (cut to WIRE_REPLY_MSG_MAX
 * bytes) and request_id (copied when rid_len is WIRE_REQID_LEN, else left
 * empty: the request was unreadable). 0, -EINVAL (code OK), -ENOMEM.
 */
int wire_reply_error(Sctag__V1__Code code, const char *message,
    const uint8_t *rid, size_t rid_len, uint8_t **out, size_t *outlen);

#endif /* SCTAG_WIRE_H */
