/*
 * wire.c: Envelope, Request and Reply bytes, strictly.
 *
 * protobuf-c decodes what it is given and is lenient where we can not be
 * (notes/stack.md 2.3): a string with a NUL inside comes out cut at the NUL,
 * and the decoded message no longer knows how long the string was on the
 * wire, so "strlen != wire length" can not be tested afterwards. Hence one
 * pass over the raw bytes first (scan()), driven by the generated
 * descriptors: it sees every string's exact bytes and refuses a NUL (and,
 * in requests, anything but printable ASCII), checks wire types against the
 * schema, and in the Envelope refuses unknown and repeated fields. Only
 * known message-typed fields are descended into, so the depth is bounded
 * by the schema, which has no recursive type; unknown fields are skipped
 * by length, never looked into, however deeply they nest. protobuf-c
 * itself also skips unknown fields without recursion, so the scan adds
 * strictness, not the only defence.
 *
 * Then protobuf-c decodes with a quota allocator that counts every byte
 * it hands out and never gives back what was freed: the bound is on all
 * work done for one message, and a failed allocation makes unpack free
 * what it had and return NULL.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "jsonpos.h"
#include "keys.h"
#include "wire.h"

#define QUOTE_SHOW	32

/* ---- errors ---- */

static int fail(struct wire_err *, Sctag__V1__Code, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct wire_err *err, Sctag__V1__Code code, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL)
		return rc;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return rc;
}

static void
err_clear(struct wire_err *err)
{
	if (err == NULL)
		return;
	err->code = SCTAG__V1__CODE__OK;
	err->msg[0] = '\0';
}

const char *
wire_code_name(Sctag__V1__Code code)
{
	static const char	*names[] = {
		"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED",
		"UNAVAILABLE", "INTERNAL",
	};

	if ((unsigned)code >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[code];
}

/* ---- quota allocator ---- */

struct quota {
	size_t	used;
	size_t	limit;
	int	over;		/* the limit refused an allocation */
	int	oom;		/* malloc did */
};

static void *
quota_alloc(void *data, size_t size)
{
	struct quota	*q = data;
	void		*p;

	if (size > q->limit - q->used) {
		q->over = 1;
		return NULL;
	}
	if ((p = malloc(size == 0 ? 1 : size)) == NULL) {
		q->oom = 1;
		return NULL;
	}
	q->used += size;
	return p;
}

static void
quota_free(void *data, void *p)
{
	free(p);
}

/* For free_unpacked: every block came from malloc, whichever quota. */
static ProtobufCAllocator	free_alloc = {
	.alloc = NULL, .free = quota_free, .allocator_data = NULL,
};

/*
 * Decode with a quota. NULL with *rc and err set on failure: the quota
 * (-ENOMEM, RESOURCE_EXHAUSTED), malloc (-ENOMEM, INTERNAL), or bytes
 * protobuf-c refused although the scan let them through (-EBADMSG).
 */
static ProtobufCMessage *
unpack(const ProtobufCMessageDescriptor *d, const uint8_t *buf, size_t len,
    size_t limit, int *rc, struct wire_err *err)
{
	struct quota		 q = { .used = 0, .limit = limit };
	ProtobufCAllocator	 a = {
		.alloc = quota_alloc, .free = quota_free, .allocator_data = &q,
	};
	ProtobufCMessage	*m;

	if ((m = protobuf_c_message_unpack(d, &a, len, buf)) != NULL) {
		*rc = 0;
		return m;
	}
	if (q.over)
		*rc = fail(err, SCTAG__V1__CODE__RESOURCE_EXHAUSTED, -ENOMEM,
		    "%s needs more than %zu bytes of memory to decode",
		    d->short_name, limit);
	else if (q.oom)
		*rc = fail(err, SCTAG__V1__CODE__INTERNAL, -ENOMEM,
		    "out of memory decoding %s", d->short_name);
	else
		*rc = fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
		    "not a valid %s", d->short_name);
	return NULL;
}

/* ---- the scan over raw bytes ---- */

#define SCAN_NO_UNKNOWN	0x01	/* refuse fields not in the schema */
#define SCAN_ONCE	0x02	/* refuse a field that appears twice */
#define SCAN_PRINTABLE	0x04	/* strings: printable ASCII only */

/* A varint of at most max bytes at *pos. 0, or -1 when cut or too long. */
static int
get_varint(const uint8_t *p, size_t len, size_t *pos, unsigned max,
    uint64_t *v)
{
	uint64_t	r = 0;
	unsigned	i;

	for (i = 0; i < max; i++) {
		if (*pos >= len)
			return -1;
		r |= (uint64_t)(p[*pos] & 0x7f) << (7 * i);
		if ((p[(*pos)++] & 0x80) == 0) {
			*v = r;
			return 0;
		}
	}
	return -1;
}

/* The wire type a field of this type is encoded with. */
static unsigned
wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return 5;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 1;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return 2;
	default:
		return 0;
	}
}

static int
scan_string(const ProtobufCMessageDescriptor *d,
    const ProtobufCFieldDescriptor *f, const uint8_t *s, size_t n,
    unsigned flags, struct wire_err *err)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (s[i] == 0x00)
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s.%s: NUL byte at offset %zu "
			    "(%zu bytes on the wire)", d->short_name, f->name,
			    i, n);
		if ((flags & SCAN_PRINTABLE) && (s[i] < 0x20 || s[i] > 0x7e))
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s.%s: byte 0x%02x at offset %zu is "
			    "not printable ASCII", d->short_name, f->name, s[i],
			    i);
	}
	return 0;
}

static int
scan(const ProtobufCMessageDescriptor *d, const uint8_t *p, size_t len,
    unsigned depth, unsigned flags, struct wire_err *err)
{
	const ProtobufCFieldDescriptor	*f;
	uint64_t			 key, v, seen = 0;
	size_t				 pos = 0, at, idx;
	unsigned			 wt;
	uint32_t			 num;
	int				 rc;

	if (depth > WIRE_DEPTH_MAX)
		return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
		    "%s: messages nested deeper than %d", d->short_name,
		    WIRE_DEPTH_MAX);
	while (pos < len) {
		at = pos;
		/* protobuf-c reads a key as at most 5 bytes, 32 bits. */
		if (get_varint(p, len, &pos, 5, &key) != 0 ||
		    key > UINT32_MAX)
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s: bad field key at byte %zu",
			    d->short_name, at);
		num = (uint32_t)(key >> 3);
		wt = key & 7;
		if (num == 0)
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s: field number 0 at byte %zu",
			    d->short_name, at);
		f = protobuf_c_message_descriptor_get_field(d, num);
		if (f == NULL && (flags & SCAN_NO_UNKNOWN))
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s: unknown field %" PRIu32
			    " (wire type %u) at byte %zu", d->short_name, num,
			    wt, at);
		/* Repeated scalars may come packed (wire type 2). */
		if (f != NULL && wt != wire_type_of(f->type) &&
		    !(wt == 2 && f->label == PROTOBUF_C_LABEL_REPEATED))
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s.%s: wire type %u, expected %u",
			    d->short_name, f->name, wt, wire_type_of(f->type));
		if (f != NULL && (flags & SCAN_ONCE)) {
			idx = (size_t)(f - d->fields);
			if (idx < 64 && (seen & (UINT64_C(1) << idx)))
				return fail(err,
				    SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
				    "%s.%s appears more than once",
				    d->short_name, f->name);
			if (idx < 64)
				seen |= UINT64_C(1) << idx;
		}
		switch (wt) {
		case 0:
			if (get_varint(p, len, &pos, 10, &v) != 0)
				goto cut;
			break;
		case 1:
		case 5:
			if (len - pos < (wt == 1 ? 8u : 4u))
				goto cut;
			pos += wt == 1 ? 8 : 4;
			break;
		case 2:
			if (get_varint(p, len, &pos, 5, &v) != 0 ||
			    v > len - pos)
				goto cut;
			if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING)
				rc = scan_string(d, f, p + pos, (size_t)v,
				    flags, err);
			else if (f != NULL &&
			    f->type == PROTOBUF_C_TYPE_MESSAGE)
				rc = scan(f->descriptor, p + pos, (size_t)v,
				    depth + 1, flags, err);
			else
				rc = 0;
			if (rc != 0)
				return rc;
			pos += (size_t)v;
			break;
		default:
			/* 3, 4: groups (proto2 only); 6, 7: undefined. */
			return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT,
			    -EBADMSG, "%s: field %" PRIu32 " has wire type %u, "
			    "which this protocol does not use", d->short_name,
			    num, wt);
		}
	}
	return 0;
cut:
	return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
	    "%s: field %" PRIu32 " at byte %zu runs past the end (%zu bytes)",
	    d->short_name, num, at, len);
}

/* ---- building ---- */

static int
pack_msg(const ProtobufCMessage *m, size_t max, uint8_t **out, size_t *outlen)
{
	size_t	 n;
	uint8_t	*buf;

	*out = NULL;
	*outlen = 0;
	n = protobuf_c_message_get_packed_size(m);
	if (n > max)
		return -EMSGSIZE;
	if ((buf = malloc(n == 0 ? 1 : n)) == NULL)
		return -ENOMEM;
	if (protobuf_c_message_pack(m, buf) != n) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

int
wire_envelope_build(const uint8_t *body, size_t len,
    const struct keys_secret *sk, uint8_t **out, size_t *outlen)
{
	Sctag__V1__Envelope	env = SCTAG__V1__ENVELOPE__INIT;
	uint8_t			sig[ENV_SIG_LEN], kid[ENV_KEYID_LEN];
	int			rc;

	*out = NULL;
	*outlen = 0;
	if (body == NULL || len == 0)
		return -EINVAL;
	if (len > WIRE_MAX_MSG)
		return -EMSGSIZE;
	/* protobuf-c's bytes type is not const; pack only reads it. */
	env.body.data = (uint8_t *)(uintptr_t)body;
	env.body.len = len;
	if (sk != NULL) {
		if ((rc = env_sign(body, len, sk->sk, sig)) != 0)
			return rc;
		memcpy(kid, sk->key_id, sizeof(kid));
		env.key_id.data = kid;
		env.key_id.len = sizeof(kid);
		env.signature.data = sig;
		env.signature.len = sizeof(sig);
	}
	return pack_msg(&env.base, WIRE_MAX_MSG, out, outlen);
}

int
wire_request_build(const Sctag__V1__Request *req,
    const struct keys_secret *sk, uint8_t **out, size_t *outlen)
{
	uint8_t	*body;
	size_t	 len;
	int	 rc;

	*out = NULL;
	*outlen = 0;
	if (req == NULL)
		return -EINVAL;
	if ((rc = pack_msg(&req->base, WIRE_MAX_MSG, &body, &len)) != 0)
		return rc;
	rc = wire_envelope_build(body, len, sk, out, outlen);
	free(body);
	return rc;
}

int
wire_reply_build(const Sctag__V1__Reply *rep, uint8_t **out, size_t *outlen)
{
	*out = NULL;
	*outlen = 0;
	if (rep == NULL)
		return -EINVAL;
	return pack_msg(&rep->base, WIRE_MAX_REPLY, out, outlen);
}

int
wire_reply_error(Sctag__V1__Code code, const char *message,
    const uint8_t *rid, size_t rid_len, uint8_t **out, size_t *outlen)
{
	Sctag__V1__Reply	rep = SCTAG__V1__REPLY__INIT;
	char			msg[WIRE_REPLY_MSG_MAX + 1];
	uint8_t			id[WIRE_REQID_LEN];

	*out = NULL;
	*outlen = 0;
	if (code == SCTAG__V1__CODE__OK)
		return -EINVAL;
	snprintf(msg, sizeof(msg), "%s", message != NULL ? message : "");
	rep.code = code;
	rep.message = msg;
	/* Anything but a well-formed id was not one: answer without. */
	if (rid != NULL && rid_len == WIRE_REQID_LEN) {
		memcpy(id, rid, sizeof(id));
		rep.request_id.data = id;
		rep.request_id.len = sizeof(id);
	}
	return pack_msg(&rep.base, WIRE_MAX_REPLY, out, outlen);
}

/* ---- the envelope ---- */

void
wire_envelope_free(struct wire_envelope *env)
{
	if (env == NULL)
		return;
	if (env->msg != NULL)
		protobuf_c_message_free_unpacked(&env->msg->base, &free_alloc);
	memset(env, 0, sizeof(*env));
}

int
wire_envelope_parse(const uint8_t *buf, size_t len, struct wire_envelope *env,
    struct wire_err *err)
{
	Sctag__V1__Envelope	*m;
	int			 rc;

	memset(env, 0, sizeof(*env));
	err_clear(err);
	if (buf == NULL && len != 0)
		return fail(err, SCTAG__V1__CODE__INTERNAL, -EINVAL,
		    "no buffer");
	if (len > WIRE_MAX_MSG)
		return fail(err, SCTAG__V1__CODE__RESOURCE_EXHAUSTED,
		    -EMSGSIZE, "envelope of %zu bytes is larger than %d", len,
		    WIRE_MAX_MSG);
	/* Unknown fields refused: new fields go in Request, never here. */
	if ((rc = scan(&sctag__v1__envelope__descriptor, buf, len, 0,
	    SCAN_NO_UNKNOWN | SCAN_ONCE, err)) != 0)
		return rc;
	m = (Sctag__V1__Envelope *)unpack(&sctag__v1__envelope__descriptor,
	    buf, len, WIRE_QUOTA, &rc, err);
	if (m == NULL)
		return rc;
	env->msg = m;
	if (m->body.len == 0) {
		rc = fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
		    "envelope has no body");
		goto out;
	}
	if (m->key_id.len != 0 && m->key_id.len != ENV_KEYID_LEN) {
		rc = fail(err, SCTAG__V1__CODE__UNAUTHENTICATED, -EBADMSG,
		    "key id must be %d bytes, got %zu", ENV_KEYID_LEN,
		    m->key_id.len);
		goto out;
	}
	if (m->signature.len != 0 && m->signature.len != ENV_SIG_LEN) {
		rc = fail(err, SCTAG__V1__CODE__UNAUTHENTICATED, -EBADMSG,
		    "bad signature: %zu bytes, expected %d", m->signature.len,
		    ENV_SIG_LEN);
		goto out;
	}
	if ((m->key_id.len == 0) != (m->signature.len == 0)) {
		rc = fail(err, SCTAG__V1__CODE__UNAUTHENTICATED, -EBADMSG,
		    "%s", m->key_id.len == 0 ? "signature without a key id" :
		    "key id without a signature");
		goto out;
	}
	env->body = m->body.data;
	env->body_len = m->body.len;
	if (m->key_id.len != 0) {
		env->key_id = m->key_id.data;
		env->key_id_len = m->key_id.len;
		env->sig = m->signature.data;
		env->sig_len = m->signature.len;
	}
	return 0;
out:
	wire_envelope_free(env);
	return rc;
}

/* ---- the request ---- */

static int
bad(struct wire_err *err, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* INVALID_ARGUMENT "where: ..." */
static int
bad(struct wire_err *err, const char *where, const char *fmt, ...)
{
	char	tmp[WIRE_ERR_MAX];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG, "%s: %s",
	    where, tmp);
}

/* The scan refused NULs, so strlen is the length on the wire. */
static int
check_len(const char *s, size_t max, const char *where, const char *field,
    struct wire_err *err)
{
	size_t	n = strlen(s);

	if (n > max)
		return bad(err, where, "%s is %zu bytes, at most %zu", field, n,
		    max);
	return 0;
}

size_t
wire_host_bad_at(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '-'))
			return i;
	return n;
}

static int
check_host(const char *h, struct wire_err *err)
{
	size_t	n = strlen(h), i;
	char	q[64];

	if (n == 0)
		return bad(err, "Request", "target_host is empty");
	if (n > WIRE_HOST_MAX)
		return bad(err, "Request", "target_host is %zu bytes, at most "
		    "%d", n, WIRE_HOST_MAX);
	if ((i = wire_host_bad_at(h, n)) < n) {
		jsonpos_quote(q, sizeof(q), h, QUOTE_SHOW);
		return bad(err, "Request", "target_host %s: '%c' at offset %zu "
		    "is not a letter, digit, '.' or '-'", q, h[i], i);
	}
	return 0;
}

static int
check_spec(const Sctag__V1__FlowSpec *fs, const char *where,
    struct wire_err *err)
{
	int	rc;

	if (fs == NULL)
		return bad(err, where, "no flow given");
	if (fs->protocol != SCTAG__V1__PROTOCOL__PROTOCOL_ANY &&
	    fs->protocol != SCTAG__V1__PROTOCOL__PROTOCOL_TCP &&
	    fs->protocol != SCTAG__V1__PROTOCOL__PROTOCOL_UDP)
		return bad(err, where, "protocol %d is not ANY (0), TCP (6) "
		    "or UDP (17)", (int)fs->protocol);
	if (fs->src_port > 65535 || fs->dst_port > 65535)
		return bad(err, where, "%s %" PRIu32 " is larger than 65535",
		    fs->src_port > 65535 ? "src_port" : "dst_port",
		    fs->src_port > 65535 ? fs->src_port : fs->dst_port);
	if ((unsigned)fs->strategy >
	    SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP_DESTINATION)
		return bad(err, where, "unknown strategy %d",
		    (int)fs->strategy);
	if ((rc = check_len(fs->src, WIRE_ADDR_MAX, where, "src", err)) ||
	    (rc = check_len(fs->dst, WIRE_ADDR_MAX, where, "dst", err)) ||
	    (rc = check_len(fs->application, WIRE_APP_MAX, where,
	    "application", err)))
		return rc;
	if (fs->tag != NULL &&
	    ((rc = check_len(fs->tag->experiment, WIRE_NAME_MAX, where,
	    "tag.experiment", err)) ||
	    (rc = check_len(fs->tag->activity, WIRE_NAME_MAX, where,
	    "tag.activity", err))))
		return rc;
	return 0;
}

static int
check_end(const Sctag__V1__EndFlowRequest *e, const char *where,
    struct wire_err *err)
{
	char	w[64];

	switch (e->which_case) {
	case SCTAG__V1__END_FLOW_REQUEST__WHICH_ID:
		return 0;
	case SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC:
		/* A long path is cut, not wrong: it only names the field. */
		if (snprintf(w, sizeof(w), "%s.spec", where) >= (int)sizeof(w))
			w[sizeof(w) - 1] = '\0';
		return check_spec(e->spec, w, err);
	default:
		return bad(err, where, "neither id nor spec given");
	}
}

static int
check_batch(const Sctag__V1__BatchRequest *b, struct wire_err *err)
{
	const Sctag__V1__BatchItem	*it;
	char				 w[64];
	size_t				 i;
	int				 rc;

	if (b->n_items == 0)
		return bad(err, "Batch", "no items");
	if (b->n_items > WIRE_BATCH_MAX)
		return bad(err, "Batch", "%zu items, at most %d", b->n_items,
		    WIRE_BATCH_MAX);
	for (i = 0; i < b->n_items; i++) {
		it = b->items[i];
		switch (it->op_case) {
		case SCTAG__V1__BATCH_ITEM__OP_START:
			snprintf(w, sizeof(w), "Batch.items[%zu].start", i);
			rc = check_spec(it->start, w, err);
			break;
		case SCTAG__V1__BATCH_ITEM__OP_END:
			snprintf(w, sizeof(w), "Batch.items[%zu].end", i);
			rc = check_end(it->end, w, err);
			break;
		default:
			snprintf(w, sizeof(w), "Batch.items[%zu]", i);
			rc = bad(err, w, "neither start nor end given");
			break;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
check_list(Sctag__V1__ListFlowsRequest *l, struct wire_err *err)
{
	int	rc;

	/* The proto promises a cap, not a refusal. */
	if (l->page_size > WIRE_PAGE_SIZE_MAX)
		l->page_size = WIRE_PAGE_SIZE_MAX;
	if ((rc = check_len(l->page_token, WIRE_TOKEN_MAX, "ListFlows",
	    "page_token", err)) ||
	    (rc = check_len(l->owner, WIRE_NAME_MAX, "ListFlows", "owner",
	    err)) ||
	    (rc = check_len(l->experiment, WIRE_NAME_MAX, "ListFlows",
	    "experiment", err)) ||
	    (rc = check_len(l->dst_prefix, WIRE_ADDR_MAX, "ListFlows",
	    "dst_prefix", err)))
		return rc;
	return 0;
}

/* The call number of an unknown field in the oneof's range, or 0. */
static uint32_t
unknown_call(const Sctag__V1__Request *r)
{
	size_t	i;

	for (i = 0; i < r->base.n_unknown_fields; i++)
		if (r->base.unknown_fields[i].tag >= 10 &&
		    r->base.unknown_fields[i].wire_type ==
		    PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
			return r->base.unknown_fields[i].tag;
	return 0;
}

static int
check_request(Sctag__V1__Request *r, struct wire_err *err)
{
	uint32_t	call;
	int		rc;

	if ((rc = check_host(r->target_host, err)) != 0)
		return rc;
	if (r->nonce.len != WIRE_NONCE_LEN)
		return bad(err, "Request", "nonce must be %d bytes, got %zu",
		    WIRE_NONCE_LEN, r->nonce.len);
	if (r->request_id.len != WIRE_REQID_LEN)
		return bad(err, "Request", "request id must be %d bytes, got "
		    "%zu", WIRE_REQID_LEN, r->request_id.len);
	switch (r->call_case) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:
		return check_spec(r->start_flow->flow, "StartFlow.flow", err);
	case SCTAG__V1__REQUEST__CALL_END_FLOW:
		return check_end(r->end_flow, "EndFlow", err);
	case SCTAG__V1__REQUEST__CALL_BATCH:
		return check_batch(r->batch, err);
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:
		return check_list(r->list_flows, err);
	case SCTAG__V1__REQUEST__CALL_PING:
		if (r->ping->payload.len > WIRE_PING_MAX)
			return bad(err, "Ping", "payload is %zu bytes, at most "
			    "%d", r->ping->payload.len, WIRE_PING_MAX);
		return 0;
	case SCTAG__V1__REQUEST__CALL_DRAIN:
		return check_len(r->drain->owner, WIRE_NAME_MAX, "Drain",
		    "owner", err);
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:
	case SCTAG__V1__REQUEST__CALL_GET_REGISTRY:
	case SCTAG__V1__REQUEST__CALL_RELOAD:
		return 0;
	default:
		if ((call = unknown_call(r)) != 0)
			return bad(err, "Request", "unknown call (field %"
			    PRIu32 "): the agent is older than the client",
			    call);
		return bad(err, "Request", "no call given");
	}
}

void
wire_request_free(Sctag__V1__Request *r)
{
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, &free_alloc);
}

int
wire_request_parse_quota(const uint8_t *body, size_t len, size_t quota,
    Sctag__V1__Request **out, struct wire_err *err)
{
	Sctag__V1__Request	*r;
	int			 rc;

	*out = NULL;
	err_clear(err);
	if (body == NULL && len != 0)
		return fail(err, SCTAG__V1__CODE__INTERNAL, -EINVAL,
		    "no buffer");
	if (len == 0)
		return fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
		    "empty request");
	if (len > WIRE_MAX_MSG)
		return fail(err, SCTAG__V1__CODE__RESOURCE_EXHAUSTED,
		    -EMSGSIZE, "request of %zu bytes is larger than %d", len,
		    WIRE_MAX_MSG);
	if ((rc = scan(&sctag__v1__request__descriptor, body, len, 0,
	    SCAN_PRINTABLE, err)) != 0)
		return rc;
	r = (Sctag__V1__Request *)unpack(&sctag__v1__request__descriptor,
	    body, len, quota, &rc, err);
	if (r == NULL)
		return rc;
	if ((rc = check_request(r, err)) != 0) {
		wire_request_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
wire_request_parse(const uint8_t *body, size_t len, Sctag__V1__Request **out,
    struct wire_err *err)
{
	return wire_request_parse_quota(body, len, WIRE_QUOTA, out, err);
}

/* ---- the reply, on the client ---- */

void
wire_reply_free(Sctag__V1__Reply *r)
{
	if (r != NULL)
		protobuf_c_message_free_unpacked(&r->base, &free_alloc);
}

int
wire_reply_parse(const uint8_t *buf, size_t len, Sctag__V1__Reply **out,
    struct wire_err *err)
{
	Sctag__V1__Reply	*r;
	int			 rc;

	*out = NULL;
	err_clear(err);
	if (buf == NULL && len != 0)
		return fail(err, SCTAG__V1__CODE__INTERNAL, -EINVAL,
		    "no buffer");
	if (len > WIRE_MAX_REPLY)
		return fail(err, SCTAG__V1__CODE__RESOURCE_EXHAUSTED,
		    -EMSGSIZE, "reply of %zu bytes is larger than %d", len,
		    WIRE_MAX_REPLY);
	/* NULs only: replies may carry text the agent did not write. */
	if ((rc = scan(&sctag__v1__reply__descriptor, buf, len, 0, 0,
	    err)) != 0)
		return rc;
	r = (Sctag__V1__Reply *)unpack(&sctag__v1__reply__descriptor, buf, len,
	    WIRE_REPLY_QUOTA, &rc, err);
	if (r == NULL)
		return rc;
	if (r->request_id.len != 0 && r->request_id.len != WIRE_REQID_LEN) {
		rc = fail(err, SCTAG__V1__CODE__INVALID_ARGUMENT, -EBADMSG,
		    "Reply: request id must be %d bytes, got %zu",
		    WIRE_REQID_LEN, r->request_id.len);
		wire_reply_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
