/*
 * test_wire.c: the control API codec takes every call there and back,
 * signs exactly the body it sends, and refuses hostile bytes cleanly:
 * garbage, truncation, oversize, unknown envelope fields, wrong lengths,
 * NULs and bad characters, deep nesting, memory exhaustion, big batches.
 *
 * Criterion forks per test, so the key is made in each test's init.
 * SCTAG_WIRE_CORPUS=DIR makes the "corpus" test write the fuzz seeds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "envelope.h"
#include "keys.h"
#include "wire.h"

static struct keys_secret	*K;

static void
setup(void)
{
	uint8_t	seed[KEYS_SEED_LEN];

	memset(seed, 0x42, sizeof(seed));
	cr_assert_eq(keys_secret_from_seed(seed, &K), 0);
}

static void
teardown(void)
{
	keys_free_secret(K);
}

TestSuite(wire, .init = setup, .fini = teardown, .timeout = 60);

/* ---- building blocks ---- */

static uint8_t	NONCE[WIRE_NONCE_LEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static uint8_t	RID[WIRE_REQID_LEN] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf };
static char	HOST[] = "agent-1.example.org";
static uint8_t	PAYLOAD[] = { 0x00, 0xff, 'p', 'i', 'n', 'g' };

/* Everything one request of any call points into. */
struct calls {
	Sctag__V1__Request		r;
	Sctag__V1__Tag			tag;
	Sctag__V1__FlowSpec		fs, fs2;
	Sctag__V1__StartFlowRequest	start;
	Sctag__V1__EndFlowRequest	end, end2;
	Sctag__V1__BatchItem		it[2];
	Sctag__V1__BatchItem		*items[2];
	Sctag__V1__BatchRequest		batch;
	Sctag__V1__ListFlowsRequest	list;
	Sctag__V1__GetStatusRequest	status;
	Sctag__V1__GetRegistryRequest	reg;
	Sctag__V1__PingRequest		ping;
	Sctag__V1__ReloadRequest	reload;
	Sctag__V1__DrainRequest		drain;
};

static void
header(Sctag__V1__Request *r)
{
	r->target_host = HOST;
	r->timestamp_ms = 1700000000123ULL;
	r->nonce.data = NONCE;
	r->nonce.len = sizeof(NONCE);
	r->request_id.data = RID;
	r->request_id.len = sizeof(RID);
}

static Sctag__V1__Request *
make_call(struct calls *c, int call)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__Tag			tag = SCTAG__V1__TAG__INIT;
	Sctag__V1__FlowSpec		fs = SCTAG__V1__FLOW_SPEC__INIT;
	Sctag__V1__StartFlowRequest	start =
	    SCTAG__V1__START_FLOW_REQUEST__INIT;
	Sctag__V1__EndFlowRequest	end = SCTAG__V1__END_FLOW_REQUEST__INIT;
	Sctag__V1__BatchItem		it = SCTAG__V1__BATCH_ITEM__INIT;
	Sctag__V1__BatchRequest		batch = SCTAG__V1__BATCH_REQUEST__INIT;
	Sctag__V1__ListFlowsRequest	list =
	    SCTAG__V1__LIST_FLOWS_REQUEST__INIT;
	Sctag__V1__GetStatusRequest	st =
	    SCTAG__V1__GET_STATUS_REQUEST__INIT;
	Sctag__V1__GetRegistryRequest	reg =
	    SCTAG__V1__GET_REGISTRY_REQUEST__INIT;
	Sctag__V1__PingRequest		ping = SCTAG__V1__PING_REQUEST__INIT;
	Sctag__V1__ReloadRequest	rl = SCTAG__V1__RELOAD_REQUEST__INIT;
	Sctag__V1__DrainRequest		dr = SCTAG__V1__DRAIN_REQUEST__INIT;

	c->r = r;
	header(&c->r);
	c->tag = tag;
	c->tag.experiment = "atlas";
	c->tag.activity = "datachallenge";
	c->fs = fs;
	c->fs.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	c->fs.src = "2001:db8::1";
	c->fs.src_port = 1094;
	c->fs.dst = "2001:db8:1::/48";
	c->fs.tag = &c->tag;
	c->fs.strategy = SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP;
	c->fs.ttl_seconds = 600;
	c->fs.application = "xrootd 5.6";
	c->fs2 = fs;
	c->fs2.dst = "2001:db8::2";
	c->fs2.dst_port = 443;
	c->start = start;
	c->start.flow = &c->fs;
	c->end = end;
	c->end.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	c->end.id = 77;
	c->end2 = end;
	c->end2.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
	c->end2.spec = &c->fs2;
	c->it[0] = it;
	c->it[0].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
	c->it[0].start = &c->fs;
	c->it[1] = it;
	c->it[1].op_case = SCTAG__V1__BATCH_ITEM__OP_END;
	c->it[1].end = &c->end2;
	c->items[0] = &c->it[0];
	c->items[1] = &c->it[1];
	c->batch = batch;
	c->batch.n_items = 2;
	c->batch.items = c->items;
	c->list = list;
	c->list.page_size = 50;
	c->list.page_token = "tok-1";
	c->list.owner = "fts-01.cern.ch";
	c->list.experiment = "cms";
	c->list.dst_prefix = "2001:db8::/32";
	c->status = st;
	c->reg = reg;
	c->ping = ping;
	c->ping.payload.data = PAYLOAD;
	c->ping.payload.len = sizeof(PAYLOAD);
	c->reload = rl;
	c->drain = dr;
	c->drain.owner = "ops";

	c->r.call_case = (Sctag__V1__Request__CallCase)call;
	switch (call) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:
		c->r.start_flow = &c->start;
		break;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:
		c->r.end_flow = &c->end;
		break;
	case SCTAG__V1__REQUEST__CALL_BATCH:
		c->r.batch = &c->batch;
		break;
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:
		c->r.list_flows = &c->list;
		break;
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:
		c->r.get_status = &c->status;
		break;
	case SCTAG__V1__REQUEST__CALL_GET_REGISTRY:
		c->r.get_registry = &c->reg;
		break;
	case SCTAG__V1__REQUEST__CALL_PING:
		c->r.ping = &c->ping;
		break;
	case SCTAG__V1__REQUEST__CALL_RELOAD:
		c->r.reload = &c->reload;
		break;
	case SCTAG__V1__REQUEST__CALL_DRAIN:
		c->r.drain = &c->drain;
		break;
	default:
		c->r.call_case = SCTAG__V1__REQUEST__CALL__NOT_SET;
		break;
	}
	return &c->r;
}

/* Serialize a request body (malloc'd). */
static uint8_t *
pack_req(const Sctag__V1__Request *r, size_t *len)
{
	uint8_t	*b;

	*len = sctag__v1__request__get_packed_size(r);
	cr_assert_not_null(b = malloc(*len + 1));
	cr_assert_eq(sctag__v1__request__pack(r, b), *len);
	return b;
}

/* A growable byte string and a tiny protobuf writer for hostile input. */
struct buf {
	uint8_t	*p;
	size_t	 len, cap;
};

static void
put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		cr_assert_not_null(b->p = realloc(b->p, b->cap));
	}
	if (n != 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
put_varint(struct buf *b, uint64_t v)
{
	uint8_t	c;

	do {
		c = v & 0x7f;
		v >>= 7;
		if (v != 0)
			c |= 0x80;
		put(b, &c, 1);
	} while (v != 0);
}

static void
put_bytes(struct buf *b, uint32_t field, const void *d, size_t n)
{
	put_varint(b, (uint64_t)field << 3 | 2);
	put_varint(b, n);
	put(b, d, n);
}

static void
put_uint(struct buf *b, uint32_t field, uint64_t v)
{
	put_varint(b, (uint64_t)field << 3);
	put_varint(b, v);
}

/* An Envelope around body with the given key id and signature bytes. */
static void
raw_envelope(struct buf *b, const uint8_t *body, size_t len,
    const uint8_t *kid, size_t kidlen, const uint8_t *sig, size_t siglen)
{
	put_bytes(b, 1, body, len);
	if (kid != NULL)
		put_bytes(b, 2, kid, kidlen);
	if (sig != NULL)
		put_bytes(b, 3, sig, siglen);
}

/* Parse an envelope, then its body, as the agent does. */
static int
parse_all(const uint8_t *buf, size_t len, Sctag__V1__Request **r,
    struct wire_err *err)
{
	struct wire_envelope	env;
	int			rc;

	*r = NULL;
	if ((rc = wire_envelope_parse(buf, len, &env, err)) != 0)
		return rc;
	rc = wire_request_parse(env.body, env.body_len, r, err);
	wire_envelope_free(&env);
	return rc;
}

static void
expect_bad_body(const uint8_t *body, size_t len, Sctag__V1__Code code,
    const char *needle)
{
	Sctag__V1__Request	*r;
	struct wire_err		 err;

	cr_assert_neq(wire_request_parse(body, len, &r, &err), 0,
	    "accepted; expected '%s'", needle);
	cr_assert_null(r);
	cr_assert_eq(err.code, code, "%s: %s", wire_code_name(err.code),
	    err.msg);
	cr_assert_not_null(strstr(err.msg, needle), "'%s' lacks '%s'",
	    err.msg, needle);
}

static void
expect_bad_req(const Sctag__V1__Request *r, Sctag__V1__Code code,
    const char *needle)
{
	uint8_t	*b;
	size_t	 len;

	b = pack_req(r, &len);
	expect_bad_body(b, len, code, needle);
	free(b);
}

static void
expect_ok_req(const Sctag__V1__Request *r)
{
	Sctag__V1__Request	*out;
	struct wire_err		 err;
	uint8_t			*b;
	size_t			 len;

	b = pack_req(r, &len);
	cr_assert_eq(wire_request_parse(b, len, &out, &err), 0, "%s", err.msg);
	wire_request_free(out);
	free(b);
}

/* ---- round trips ---- */

ParameterizedTestParameters(wire, roundtrip)
{
	static int	calls[] = { 10, 11, 12, 13, 14, 15, 16, 17, 18 };

	return cr_make_param_array(int, calls,
	    sizeof(calls) / sizeof(calls[0]));
}

ParameterizedTest(int *call, wire, roundtrip)
{
	struct calls		 c;
	struct wire_envelope	 env;
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	uint8_t			*buf;
	size_t			 len;

	make_call(&c, *call);
	cr_assert_eq(wire_request_build(&c.r, K, &buf, &len), 0);
	cr_assert_eq(wire_envelope_parse(buf, len, &env, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(err.code, SCTAG__V1__CODE__OK);
	cr_assert_eq(env.key_id_len, ENV_KEYID_LEN);
	cr_assert_eq(memcmp(env.key_id, K->key_id, ENV_KEYID_LEN), 0);
	cr_assert_eq(env_verify(env.body, env.body_len, env.sig, env.sig_len,
	    K->pk), 0);
	cr_assert_eq(wire_request_parse(env.body, env.body_len, &r, &err), 0,
	    "%s", err.msg);
	cr_assert_eq((int)r->call_case, *call);
	cr_assert_str_eq(r->target_host, HOST);
	cr_assert_eq(r->timestamp_ms, 1700000000123ULL);
	cr_assert_eq(memcmp(r->nonce.data, NONCE, 16), 0);
	cr_assert_eq(memcmp(r->request_id.data, RID, 16), 0);
	switch (*call) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:
		cr_assert_str_eq(r->start_flow->flow->dst, "2001:db8:1::/48");
		cr_assert_str_eq(r->start_flow->flow->tag->activity,
		    "datachallenge");
		cr_assert_eq(r->start_flow->flow->src_port, 1094);
		cr_assert_eq(r->start_flow->flow->strategy,
		    SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP);
		cr_assert_str_eq(r->start_flow->flow->application,
		    "xrootd 5.6");
		break;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:
		cr_assert_eq(r->end_flow->id, 77);
		break;
	case SCTAG__V1__REQUEST__CALL_BATCH:
		cr_assert_eq(r->batch->n_items, 2);
		cr_assert_eq(r->batch->items[1]->end->spec->dst_port, 443);
		break;
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:
		cr_assert_eq(r->list_flows->page_size, 50);
		cr_assert_str_eq(r->list_flows->owner, "fts-01.cern.ch");
		break;
	case SCTAG__V1__REQUEST__CALL_PING:
		cr_assert_eq(r->ping->payload.len, sizeof(PAYLOAD));
		cr_assert_eq(memcmp(r->ping->payload.data, PAYLOAD,
		    sizeof(PAYLOAD)), 0);
		break;
	case SCTAG__V1__REQUEST__CALL_DRAIN:
		cr_assert_str_eq(r->drain->owner, "ops");
		break;
	default:
		cr_assert_not_null(r->get_status);	/* any member */
		break;
	}
	wire_request_free(r);
	wire_envelope_free(&env);
	free(buf);
}

Test(wire, unsigned_envelope)
{
	struct calls		 c;
	struct wire_envelope	 env;
	struct wire_err		 err;
	uint8_t			*buf;
	size_t			 len;

	make_call(&c, SCTAG__V1__REQUEST__CALL_GET_STATUS);
	cr_assert_eq(wire_request_build(&c.r, NULL, &buf, &len), 0);
	cr_assert_eq(wire_envelope_parse(buf, len, &env, &err), 0, "%s",
	    err.msg);
	cr_assert_null(env.key_id);
	cr_assert_null(env.sig);
	cr_assert_eq(env.key_id_len + env.sig_len, 0);
	wire_envelope_free(&env);
	free(buf);
}

ParameterizedTestParameters(wire, reply_roundtrip)
{
	static int	calls[] = { 0, 10, 11, 12, 13, 14, 15, 16, 17, 18 };

	return cr_make_param_array(int, calls,
	    sizeof(calls) / sizeof(calls[0]));
}

ParameterizedTest(int *call, wire, reply_roundtrip)
{
	Sctag__V1__Reply		 rep = SCTAG__V1__REPLY__INIT, *out;
	Sctag__V1__Flow			 flow = SCTAG__V1__FLOW__INIT;
	Sctag__V1__FlowSpec		 fs = SCTAG__V1__FLOW_SPEC__INIT;
	Sctag__V1__StartFlowReply	 sf = SCTAG__V1__START_FLOW_REPLY__INIT;
	Sctag__V1__EndFlowReply		 ef = SCTAG__V1__END_FLOW_REPLY__INIT;
	Sctag__V1__BatchResult		 br = SCTAG__V1__BATCH_RESULT__INIT;
	Sctag__V1__BatchResult		*brs[1] = { &br };
	Sctag__V1__BatchReply		 b = SCTAG__V1__BATCH_REPLY__INIT;
	Sctag__V1__Flow			*flows[1] = { &flow };
	Sctag__V1__ListFlowsReply	 lf = SCTAG__V1__LIST_FLOWS_REPLY__INIT;
	Sctag__V1__Interface		 ifc = SCTAG__V1__INTERFACE__INIT;
	Sctag__V1__Interface		*ifcs[1] = { &ifc };
	Sctag__V1__GetStatusReply	 st = SCTAG__V1__GET_STATUS_REPLY__INIT;
	Sctag__V1__Activity		 act = SCTAG__V1__ACTIVITY__INIT;
	Sctag__V1__Activity		*acts[1] = { &act };
	Sctag__V1__Experiment		 exp = SCTAG__V1__EXPERIMENT__INIT;
	Sctag__V1__Experiment		*exps[1] = { &exp };
	Sctag__V1__GetRegistryReply	 rg =
	    SCTAG__V1__GET_REGISTRY_REPLY__INIT;
	Sctag__V1__PingReply		 pg = SCTAG__V1__PING_REPLY__INIT;
	Sctag__V1__ReloadReply		 rl = SCTAG__V1__RELOAD_REPLY__INIT;
	Sctag__V1__DrainReply		 dr = SCTAG__V1__DRAIN_REPLY__INIT;
	struct wire_err			 err;
	uint8_t				*buf;
	size_t				 len;

	fs.dst = "2001:db8::7";
	flow.id = 9;
	flow.spec = &fs;
	flow.owner = "fts";
	rep.request_id.data = RID;
	rep.request_id.len = sizeof(RID);
	rep.result_case = (Sctag__V1__Reply__ResultCase)*call;
	switch (*call) {
	case 10: sf.flow = &flow; sf.created = 1; rep.start_flow = &sf; break;
	case 11: ef.flow = &flow; rep.end_flow = &ef; break;
	case 12:
		br.code = SCTAG__V1__CODE__NOT_FOUND;
		br.message = "no such flow";
		b.n_results = 1;
		b.results = brs;
		rep.batch = &b;
		break;
	case 13:
		lf.n_flows = 1;
		lf.flows = flows;
		lf.next_page_token = "t2";
		lf.total = 3;
		rep.list_flows = &lf;
		break;
	case 14:
		ifc.name = "eth0";
		ifc.attached = 1;
		st.host = HOST;
		st.n_interfaces = 1;
		st.interfaces = ifcs;
		rep.get_status = &st;
		break;
	case 15:
		act.id = 2;
		act.name = "datachallenge";
		exp.id = 2;
		exp.name = "atlas";
		exp.n_activities = 1;
		exp.activities = acts;
		rg.n_experiments = 1;
		rg.experiments = exps;
		rep.get_registry = &rg;
		break;
	case 16:
		pg.payload.data = PAYLOAD;
		pg.payload.len = sizeof(PAYLOAD);
		rep.ping = &pg;
		break;
	case 17: rl.message = "reloaded"; rep.reload = &rl; break;
	case 18: dr.ended = 4; rep.drain = &dr; break;
	default:
		rep.code = SCTAG__V1__CODE__PERMISSION_DENIED;
		rep.message = "role monitor may not Drain";
		break;
	}
	cr_assert_eq(wire_reply_build(&rep, &buf, &len), 0);
	cr_assert_eq(wire_reply_parse(buf, len, &out, &err), 0, "%s", err.msg);
	cr_assert_eq((int)out->result_case, *call);
	cr_assert_eq(out->request_id.len, 16);
	switch (*call) {
	case 10: cr_assert_str_eq(out->start_flow->flow->owner, "fts"); break;
	case 12:
		cr_assert_eq(out->batch->results[0]->code,
		    SCTAG__V1__CODE__NOT_FOUND);
		break;
	case 13: cr_assert_eq(out->list_flows->total, 3); break;
	case 14:
		cr_assert_str_eq(out->get_status->interfaces[0]->name, "eth0");
		break;
	case 15:
		cr_assert_str_eq(out->get_registry->experiments[0]->
		    activities[0]->name, "datachallenge");
		break;
	case 16: cr_assert_eq(out->ping->payload.len, sizeof(PAYLOAD)); break;
	case 18: cr_assert_eq(out->drain->ended, 4); break;
	case 0:
		cr_assert_eq(out->code, SCTAG__V1__CODE__PERMISSION_DENIED);
		cr_assert_str_eq(out->message, "role monitor may not Drain");
		break;
	default:
		break;
	}
	wire_reply_free(out);
	free(buf);
}

Test(wire, reply_error)
{
	Sctag__V1__Reply	*out;
	struct wire_err		 err;
	uint8_t			*buf;
	size_t			 len;
	char			 big[1000];

	cr_assert_eq(wire_reply_error(SCTAG__V1__CODE__UNAUTHENTICATED,
	    "bad signature", RID, sizeof(RID), &buf, &len), 0);
	cr_assert_eq(wire_reply_parse(buf, len, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out->code, SCTAG__V1__CODE__UNAUTHENTICATED);
	cr_assert_str_eq(out->message, "bad signature");
	cr_assert_eq(out->request_id.len, 16);
	cr_assert_eq(memcmp(out->request_id.data, RID, 16), 0);
	wire_reply_free(out);
	free(buf);

	/* A malformed id is not echoed; long messages are cut. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(wire_reply_error(SCTAG__V1__CODE__INVALID_ARGUMENT, big,
	    RID, 15, &buf, &len), 0);
	cr_assert_eq(wire_reply_parse(buf, len, &out, &err), 0, "%s", err.msg);
	cr_assert_eq(out->request_id.len, 0);
	cr_assert_eq(strlen(out->message), WIRE_REPLY_MSG_MAX);
	wire_reply_free(out);
	free(buf);

	cr_assert_eq(wire_reply_error(SCTAG__V1__CODE__OK, "", NULL, 0, &buf,
	    &len), -EINVAL);
	cr_assert_null(buf);
	cr_assert_str_eq(wire_code_name(SCTAG__V1__CODE__RESOURCE_EXHAUSTED),
	    "RESOURCE_EXHAUSTED");
	cr_assert_str_eq(wire_code_name((Sctag__V1__Code)99), "?");
}

/* ---- the signature ---- */

Test(wire, signature_covers_exact_body)
{
	struct calls		 c;
	struct wire_envelope	 env;
	struct wire_err		 err;
	uint8_t			*buf, *body, *copy;
	size_t			 len, blen, i;

	make_call(&c, SCTAG__V1__REQUEST__CALL_BATCH);
	cr_assert_eq(wire_request_build(&c.r, K, &buf, &len), 0);
	cr_assert_eq(wire_envelope_parse(buf, len, &env, &err), 0);
	/* The body is byte for byte what protobuf-c packs from the request. */
	body = pack_req(&c.r, &blen);
	cr_assert_eq(env.body_len, blen);
	cr_assert_eq(memcmp(env.body, body, blen), 0);
	cr_assert_eq(env_verify(body, blen, env.sig, env.sig_len, K->pk), 0);
	/* Any changed byte, and any shorter or longer body, fails. */
	cr_assert_not_null(copy = malloc(blen + 1));
	for (i = 0; i < blen; i++) {
		memcpy(copy, body, blen);
		copy[i] ^= 0x01;
		cr_assert_neq(env_verify(copy, blen, env.sig, env.sig_len,
		    K->pk), 0, "byte %zu", i);
	}
	memcpy(copy, body, blen);
	copy[blen] = 0;
	cr_assert_neq(env_verify(copy, blen + 1, env.sig, env.sig_len, K->pk),
	    0);
	cr_assert_neq(env_verify(copy, blen - 1, env.sig, env.sig_len, K->pk),
	    0);
	free(copy);
	free(body);
	wire_envelope_free(&env);
	free(buf);
}

/* ---- garbage and truncation ---- */

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

Test(wire, garbage)
{
	Sctag__V1__Request	*r;
	Sctag__V1__Reply	*rep;
	struct wire_err		 err;
	uint8_t			 b[512];
	size_t			 n, i, ok_env = 0, ok_req = 0, ok_rep = 0;
	int			 k;

	for (k = 0; k < 20000; k++) {
		n = next() % sizeof(b);
		for (i = 0; i < n; i++)
			b[i] = (uint8_t)next();
		if (parse_all(b, n, &r, &err) == 0)
			ok_env++;
		else
			cr_assert_neq(err.code, SCTAG__V1__CODE__OK);
		wire_request_free(r);
		if (wire_request_parse(b, n, &r, &err) == 0)
			ok_req++;
		wire_request_free(r);
		if (wire_reply_parse(b, n, &rep, &err) == 0)
			ok_rep++;
		wire_reply_free(rep);
	}
	memset(b, 0xff, sizeof(b));
	cr_assert_neq(parse_all(b, sizeof(b), &r, &err), 0);
	cr_assert_eq(err.code, SCTAG__V1__CODE__INVALID_ARGUMENT);
	/* Random bytes never make a valid request header. */
	cr_assert_eq(ok_env + ok_req, 0);
	cr_log_info("garbage: 20000 inputs, %zu replies decoded", ok_rep);
}

Test(wire, truncated_envelope)
{
	struct calls		 c;
	struct wire_envelope	 env;
	struct wire_err		 err;
	uint8_t			*buf;
	size_t			 len, i, blen, accepted = 0, at = 0;

	make_call(&c, SCTAG__V1__REQUEST__CALL_START_FLOW);
	cr_assert_eq(wire_request_build(&c.r, K, &buf, &len), 0);
	free(pack_req(&c.r, &blen));
	for (i = 0; i < len; i++) {
		/* Each prefix in its own exact-size buffer, for ASan. */
		uint8_t	*p = malloc(i + 1);

		cr_assert_not_null(p);
		memcpy(p, buf, i);
		if (wire_envelope_parse(p, i, &env, &err) == 0) {
			accepted++;
			at = i;
			/* Only the prefix that ends with the body field
			 * decodes: an unsigned envelope, which a TLS
			 * listener refuses for its missing key id. */
			cr_assert_null(env.sig);
			cr_assert_eq(env.body_len, blen);
			wire_envelope_free(&env);
		} else {
			cr_assert_neq(err.code, SCTAG__V1__CODE__OK);
			cr_assert_null(env.msg);
		}
		free(p);
	}
	/* body: key (1) + length (2 bytes: blen > 127) + blen */
	cr_assert_eq(accepted, 1);
	cr_assert_eq(at, 1 + (blen > 127 ? 2 : 1) + blen);
	cr_log_info("truncated envelope: %zu of %zu prefixes decode (at %zu, "
	    "unsigned)", accepted, len, at);
	free(buf);
}

/*
 * A prefix of a valid body, cut at a field boundary, is itself a valid
 * body: here the signed body ends with an unknown field, and without it
 * the body still is a complete request. The signature, made over the whole
 * body, then fails: that is what catches a cut.
 */
Test(wire, truncated_body_fails_signature)
{
	struct calls		 c;
	struct wire_envelope	 env;
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	struct buf		 body = { 0 }, e;
	uint8_t			*core, sig[ENV_SIG_LEN];
	size_t			 clen, i, decoded = 0;

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	core = pack_req(&c.r, &clen);
	put(&body, core, clen);
	put_uint(&body, 20, 1);
	cr_assert_eq(env_sign(body.p, body.len, K->sk, sig), 0);
	for (i = 1; i <= body.len; i++) {
		memset(&e, 0, sizeof(e));
		raw_envelope(&e, body.p, i, K->key_id, ENV_KEYID_LEN, sig,
		    sizeof(sig));
		cr_assert_eq(wire_envelope_parse(e.p, e.len, &env, &err), 0,
		    "%s", err.msg);
		if (wire_request_parse(env.body, env.body_len, &r, &err) == 0) {
			decoded++;
			if (i == body.len)
				cr_assert_eq(env_verify(env.body, env.body_len,
				    env.sig, env.sig_len, K->pk), 0);
			else
				cr_assert_neq(env_verify(env.body,
				    env.body_len, env.sig, env.sig_len, K->pk),
				    0, "prefix %zu verified", i);
			wire_request_free(r);
		}
		wire_envelope_free(&env);
		free(e.p);
	}
	/* The whole body and the one without its last field. */
	cr_assert_eq(decoded, 2);
	free(body.p);
	free(core);
}

/* ---- size ---- */

Test(wire, oversized)
{
	struct wire_envelope	 env;
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	Sctag__V1__Reply	*rep;
	struct buf		 e = { 0 };
	uint8_t			*big, *out;
	size_t			 outlen;

	cr_assert_not_null(big = calloc(1, WIRE_MAX_REPLY + 1));
	/* Exactly the limit: key + 3-byte length + 65532 bytes of body. */
	raw_envelope(&e, big, WIRE_MAX_MSG - 4, NULL, 0, NULL, 0);
	cr_assert_eq(e.len, WIRE_MAX_MSG);
	cr_assert_eq(wire_envelope_parse(e.p, e.len, &env, &err), 0, "%s",
	    err.msg);
	wire_envelope_free(&env);
	/* One byte more. */
	put(&e, "", 1);
	cr_assert_eq(wire_envelope_parse(e.p, e.len, &env, &err), -EMSGSIZE);
	cr_assert_eq(err.code, SCTAG__V1__CODE__RESOURCE_EXHAUSTED);
	cr_assert_not_null(strstr(err.msg, "65537 bytes"), "%s", err.msg);
	cr_assert_eq(wire_request_parse(big, WIRE_MAX_MSG + 1, &r, &err),
	    -EMSGSIZE);
	cr_assert_eq(wire_reply_parse(big, WIRE_MAX_REPLY + 1, &rep, &err),
	    -EMSGSIZE);
	/* Nor does the client build one. */
	cr_assert_eq(wire_envelope_build(big, WIRE_MAX_MSG - 3, NULL, &out,
	    &outlen), -EMSGSIZE);
	cr_assert_null(out);
	cr_assert_eq(wire_envelope_build(big, WIRE_MAX_MSG - 4, NULL, &out,
	    &outlen), 0);
	cr_assert_eq(outlen, WIRE_MAX_MSG);
	free(out);
	cr_assert_eq(wire_envelope_build(big, 0, NULL, &out, &outlen),
	    -EINVAL);
	free(e.p);
	free(big);
}

/* ---- the envelope's fields ---- */

static void
expect_bad_envelope(const struct buf *e, Sctag__V1__Code code,
    const char *needle)
{
	struct wire_envelope	env;
	struct wire_err		err;

	cr_assert_neq(wire_envelope_parse(e->p, e->len, &env, &err), 0,
	    "accepted; expected '%s'", needle);
	cr_assert_null(env.msg);
	cr_assert_eq(err.code, code, "%s: %s", wire_code_name(err.code),
	    err.msg);
	cr_assert_not_null(strstr(err.msg, needle), "'%s' lacks '%s'",
	    err.msg, needle);
}

Test(wire, envelope_unknown_and_repeated_fields)
{
	uint8_t		body[] = { 0x0a, 0x01, 'h' }, sig[64] = { 0 };
	struct buf	e;

	memset(&e, 0, sizeof(e));
	raw_envelope(&e, body, sizeof(body), K->key_id, 8, sig, 64);
	put_uint(&e, 4, 1);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "unknown field 4");
	free(e.p);

	memset(&e, 0, sizeof(e));
	put_bytes(&e, 99, "x", 1);
	raw_envelope(&e, body, sizeof(body), NULL, 0, NULL, 0);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "unknown field 99");
	free(e.p);

	/* Two bodies: which one was signed? Neither is taken. */
	memset(&e, 0, sizeof(e));
	raw_envelope(&e, body, sizeof(body), NULL, 0, NULL, 0);
	raw_envelope(&e, body, 1, NULL, 0, NULL, 0);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Envelope.body appears more than once");
	free(e.p);

	/* Wrong wire type for a known field; a group. */
	memset(&e, 0, sizeof(e));
	put_uint(&e, 1, 5);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Envelope.body: wire type 0, expected 2");
	free(e.p);
	memset(&e, 0, sizeof(e));
	put_varint(&e, 1 << 3 | 3);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "wire type 3");
	free(e.p);

	memset(&e, 0, sizeof(e));
	put(&e, "", 0);
	expect_bad_envelope(&e, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "envelope has no body");
}

struct lens {
	unsigned	kid;
	unsigned	sig;
	int		ok;
	int		code;
};

ParameterizedTestParameters(wire, envelope_lengths)
{
	static struct lens	v[] = {
		{ 8, 64, 1, 0 }, { 0, 0, 1, 0 },
		{ 7, 64, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 9, 64, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 32, 64, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 8, 63, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 8, 65, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 8, 0, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
		{ 0, 64, 0, SCTAG__V1__CODE__UNAUTHENTICATED },
	};

	return cr_make_param_array(struct lens, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct lens *p, wire, envelope_lengths)
{
	uint8_t			body[] = { 0x0a, 0x01, 'h' }, kid[64], sig[128];
	struct wire_envelope	env;
	struct wire_err		err;
	struct buf		e = { 0 };
	int			rc;

	memset(kid, 1, sizeof(kid));
	memset(sig, 2, sizeof(sig));
	raw_envelope(&e, body, sizeof(body), p->kid ? kid : NULL, p->kid,
	    p->sig ? sig : NULL, p->sig);
	rc = wire_envelope_parse(e.p, e.len, &env, &err);
	if (p->ok) {
		cr_assert_eq(rc, 0, "%s", err.msg);
		cr_assert_eq(env.key_id_len, p->kid);
		cr_assert_eq(env.sig_len, p->sig);
	} else {
		cr_assert_eq(rc, -EBADMSG);
		cr_assert_eq((int)err.code, p->code, "%s", err.msg);
		cr_log_info("key id %u, signature %u: %s", p->kid, p->sig,
		    err.msg);
	}
	wire_envelope_free(&env);
	free(e.p);
}

/* ---- the request header ---- */

ParameterizedTestParameters(wire, nonce_and_id_lengths)
{
	static unsigned	v[] = { 0, 1, 15, 17, 32 };

	return cr_make_param_array(unsigned, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(unsigned *n, wire, nonce_and_id_lengths)
{
	struct calls	c;
	uint8_t		b[32] = { 0 };
	char		msg[64];

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.r.nonce.data = b;
	c.r.nonce.len = *n;
	snprintf(msg, sizeof(msg), "nonce must be 16 bytes, got %u", *n);
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT, msg);

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.r.request_id.data = b;
	c.r.request_id.len = *n;
	snprintf(msg, sizeof(msg), "request id must be %d bytes, got %u",
	    WIRE_REQID_LEN, *n);
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT, msg);
}

Test(wire, target_host_with_nul)
{
	static const char	 host[] = "agent-1\0.evil.org";
	struct calls		 c;
	struct buf		 b = { 0 };
	Sctag__V1__Request	*raw;
	uint8_t			*rest;
	size_t			 rlen;

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.r.target_host = "";		/* proto3 leaves it out */
	rest = pack_req(&c.r, &rlen);
	put_bytes(&b, 1, host, sizeof(host) - 1);
	put(&b, rest, rlen);
	/* Why the scan is needed: protobuf-c alone cuts at the NUL. */
	raw = sctag__v1__request__unpack(NULL, b.len, b.p);
	cr_assert_not_null(raw);
	cr_assert_str_eq(raw->target_host, "agent-1");
	sctag__v1__request__free_unpacked(raw, NULL);
	expect_bad_body(b.p, b.len, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Request.target_host: NUL byte at offset 7 (17 bytes on the wire)");
	free(b.p);
	free(rest);
}

struct hostcase {
	char	host[300];
	int	ok;
};

ParameterizedTestParameters(wire, target_host)
{
	static struct hostcase	v[] = {
		{ "agent-1.example.org", 1 }, { "A", 1 },
		{ "Agent-1.EXAMPLE.org", 1 }, { "2001-db8--1", 1 },
		{ "", 0 }, { "a b", 0 }, { "a_b", 0 }, { "host/x", 0 },
		{ "h\xc3\xa9t", 0 }, { "a\tb", 0 }, { "a:b", 0 },
		{ "254", 0 }, { "253", 1 },
	};
	size_t			i;

	/* The two length cases, filled in here: 253 is the most. */
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (strcmp(v[i].host, "254") == 0)
			memset(v[i].host, 'a', 254);
		else if (strcmp(v[i].host, "253") == 0)
			memset(v[i].host, 'b', 253);
	}
	return cr_make_param_array(struct hostcase, v,
	    sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct hostcase *p, wire, target_host)
{
	struct calls	c;

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.r.target_host = p->host;
	if (p->ok)
		expect_ok_req(&c.r);
	else
		expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
		    "target_host");
}

Test(wire, no_call_and_unknown_call)
{
	struct calls	 c;
	struct buf	 b = { 0 };
	uint8_t		*core;
	size_t		 len;

	make_call(&c, 0);
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "no call given");
	/* A call from a newer client: field 19, unknown here. */
	core = pack_req(&c.r, &len);
	put(&b, core, len);
	put_bytes(&b, 19, "", 0);
	expect_bad_body(b.p, b.len, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "unknown call (field 19)");
	free(b.p);
	free(core);
}

Test(wire, unknown_request_fields_are_kept)
{
	struct calls		 c;
	struct buf		 b = { 0 };
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	uint8_t			*core;
	size_t			 len;

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	core = pack_req(&c.r, &len);
	put(&b, core, len);
	put_uint(&b, 30, 12345);
	put_bytes(&b, 31, "\x00\x01 anything \xff", 14);
	cr_assert_eq(wire_request_parse(b.p, b.len, &r, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(r->base.n_unknown_fields, 2);
	wire_request_free(r);
	free(b.p);
	free(core);
}

/* ---- per-call limits and strings ---- */

Test(wire, batch_limits)
{
	struct calls		 c;
	Sctag__V1__BatchItem	**items;
	size_t			 i;

	make_call(&c, SCTAG__V1__REQUEST__CALL_BATCH);
	cr_assert_not_null(items = calloc(WIRE_BATCH_MAX + 1, sizeof(*items)));
	for (i = 0; i <= WIRE_BATCH_MAX; i++)
		items[i] = &c.it[i % 2];
	c.batch.items = items;
	c.batch.n_items = WIRE_BATCH_MAX;
	expect_ok_req(&c.r);
	c.batch.n_items = WIRE_BATCH_MAX + 1;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Batch: 1001 items, at most 1000");
	c.batch.n_items = 0;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Batch: no items");
	/* An item without an op, and one whose flow is bad. */
	c.batch.n_items = 3;
	c.it[1].op_case = SCTAG__V1__BATCH_ITEM__OP__NOT_SET;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Batch.items[1]: neither start nor end given");
	c.it[1].op_case = SCTAG__V1__BATCH_ITEM__OP_END;
	c.fs2.dst_port = 70000;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Batch.items[1].end.spec: dst_port 70000 is larger than 65535");
	free(items);
}

Test(wire, call_limits)
{
	struct calls		 c;
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	uint8_t			 pl[WIRE_PING_MAX + 1] = { 0 }, *b;
	size_t			 len;
	char			 app[WIRE_APP_MAX + 2];

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.ping.payload.data = pl;
	c.ping.payload.len = WIRE_PING_MAX;
	expect_ok_req(&c.r);
	c.ping.payload.len = WIRE_PING_MAX + 1;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Ping: payload is 1025 bytes, at most 1024");

	make_call(&c, SCTAG__V1__REQUEST__CALL_START_FLOW);
	memset(app, 'a', sizeof(app));
	app[WIRE_APP_MAX] = '\0';
	c.fs.application = app;
	expect_ok_req(&c.r);
	app[WIRE_APP_MAX] = 'a';
	app[WIRE_APP_MAX + 1] = '\0';
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "StartFlow.flow: application is 129 bytes, at most 128");
	c.fs.application = "bell\a";
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "FlowSpec.application: byte 0x07 at offset 4 is not printable");
	c.fs.application = "";
	c.tag.experiment = "\xc3\xa9xp";
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "Tag.experiment: byte 0xc3 at offset 0");
	c.tag.experiment = "atlas";
	c.fs.protocol = (Sctag__V1__Protocol)1;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "protocol 1 is not");
	c.fs.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_UDP;
	c.fs.strategy = (Sctag__V1__Strategy)5;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "unknown strategy 5");
	c.fs.strategy = SCTAG__V1__STRATEGY__STRATEGY_DEFAULT;
	c.start.flow = NULL;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "StartFlow.flow: no flow given");

	make_call(&c, SCTAG__V1__REQUEST__CALL_END_FLOW);
	c.end.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH__NOT_SET;
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "EndFlow: neither id nor spec given");

	/* page_size is capped, not refused (agent.proto). */
	make_call(&c, SCTAG__V1__REQUEST__CALL_LIST_FLOWS);
	c.list.page_size = 5000;
	b = pack_req(&c.r, &len);
	cr_assert_eq(wire_request_parse(b, len, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r->list_flows->page_size, WIRE_PAGE_SIZE_MAX);
	wire_request_free(r);
	free(b);
	c.list.page_size = 0;
	c.list.owner = "owner-name-that-is-longer-than-sixty-four-bytes-"
	    "0123456789abcdefg";
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "ListFlows: owner is 65 bytes, at most 64");

	make_call(&c, SCTAG__V1__REQUEST__CALL_DRAIN);
	c.drain.owner = "tab\there";
	expect_bad_req(&c.r, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "DrainRequest.owner: byte 0x09");
}

/* ---- nesting and memory ---- */

/* field `f` nested n deep, innermost empty. */
static void
nest(struct buf *out, uint32_t f, unsigned n)
{
	struct buf	a = { 0 }, b = { 0 }, t;
	unsigned	i;

	for (i = 0; i < n; i++) {
		b.len = 0;
		put_bytes(&b, f, a.p, a.len);
		t = a;
		a = b;
		b = t;
	}
	put(out, a.p, a.len);
	free(a.p);
	free(b.p);
}

Test(wire, deep_unknown_nesting)
{
	struct calls		 c;
	struct buf		 b = { 0 }, e = { 0 };
	struct wire_err		 err;
	Sctag__V1__Request	*r, *raw;
	uint8_t			*core, sig[ENV_SIG_LEN];
	size_t			 len;

	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	core = pack_req(&c.r, &len);
	put(&b, core, len);
	/* Field 5 is not in Request: 10,000 levels of it. */
	nest(&b, 5, 10000);
	cr_assert_lt(b.len, WIRE_MAX_MSG - 100);
	/* protobuf-c alone skips it by its length, without recursing. */
	raw = sctag__v1__request__unpack(NULL, b.len, b.p);
	cr_assert_not_null(raw);
	cr_assert_eq(raw->base.n_unknown_fields, 1);
	sctag__v1__request__free_unpacked(raw, NULL);
	/* And so does the codec, signed and all. */
	cr_assert_eq(env_sign(b.p, b.len, K->sk, sig), 0);
	raw_envelope(&e, b.p, b.len, K->key_id, 8, sig, 64);
	cr_assert_eq(parse_all(e.p, e.len, &r, &err), 0, "%s", err.msg);
	cr_assert_eq(r->call_case, SCTAG__V1__REQUEST__CALL_PING);
	cr_assert_eq(r->base.n_unknown_fields, 1);
	wire_request_free(r);
	free(e.p);

	/* Field 10 is start_flow in Request but unknown in
	 * StartFlowRequest: the nesting stops one level down. */
	free(b.p);
	memset(&b, 0, sizeof(b));
	make_call(&c, SCTAG__V1__REQUEST__CALL_PING);
	c.r.call_case = SCTAG__V1__REQUEST__CALL__NOT_SET;
	free(core);
	core = pack_req(&c.r, &len);
	put(&b, core, len);
	nest(&b, 10, 10000);
	expect_bad_body(b.p, b.len, SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "StartFlow.flow: no flow given");
	raw = sctag__v1__request__unpack(NULL, b.len, b.p);
	cr_assert_not_null(raw);
	cr_assert_eq(raw->start_flow->base.n_unknown_fields, 1);
	sctag__v1__request__free_unpacked(raw, NULL);
	free(b.p);
	free(core);
}

/* Depth of the deepest chain of message fields; -1 on a cycle. */
static int
depth_of(const ProtobufCMessageDescriptor *d, const void **stack,
    int level)
{
	const ProtobufCMessageDescriptor	*sub;
	unsigned				 i;
	int					 j, dd, max = level;

	for (j = 0; j < level; j++)
		if (stack[j] == d)
			return -1;
	stack[level] = d;
	for (i = 0; i < d->n_fields; i++) {
		if (d->fields[i].type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		sub = d->fields[i].descriptor;
		if ((dd = depth_of(sub, stack, level + 1)) < 0)
			return -1;
		if (dd > max)
			max = dd;
	}
	return max;
}

/* The schema has no recursive type, so known fields nest boundedly. */
Test(wire, schema_is_not_recursive)
{
	const void	*stack[64];
	int		 dq, dr, de;

	dq = depth_of(&sctag__v1__request__descriptor, stack, 0);
	dr = depth_of(&sctag__v1__reply__descriptor, stack, 0);
	de = depth_of(&sctag__v1__envelope__descriptor, stack, 0);
	cr_assert_geq(dq, 0, "Request contains itself");
	cr_assert_geq(dr, 0, "Reply contains itself");
	cr_assert_eq(de, 0);
	cr_assert_leq(dq, WIRE_DEPTH_MAX);
	cr_assert_leq(dr, WIRE_DEPTH_MAX);
	cr_log_info("deepest known nesting: Request %d, Reply %d", dq, dr);
}

Test(wire, quota_exhaustion)
{
	struct calls		 c;
	struct buf		 items = { 0 }, b = { 0 };
	struct wire_err		 err;
	Sctag__V1__Request	*r;
	uint8_t			*core;
	size_t			 len, q, need = 0;
	unsigned		 i;

	/* 30,000 empty batch items: 60 kB on the wire, 1.4 MB decoded. */
	make_call(&c, SCTAG__V1__REQUEST__CALL__NOT_SET);
	core = pack_req(&c.r, &len);
	put(&b, core, len);
	for (i = 0; i < 30000; i++)
		put_bytes(&items, 1, "", 0);
	put_bytes(&b, 12, items.p, items.len);
	cr_assert_leq(b.len, WIRE_MAX_MSG);
	cr_assert_eq(wire_request_parse(b.p, b.len, &r, &err), -ENOMEM);
	cr_assert_null(r);
	cr_assert_eq(err.code, SCTAG__V1__CODE__RESOURCE_EXHAUSTED);
	cr_assert_not_null(strstr(err.msg, "more than 1048576 bytes"), "%s",
	    err.msg);
	free(b.p);
	free(items.p);
	free(core);

	/* Every quota below what a real batch needs fails cleanly (ASan
	 * and LSan watch each failure path); the first big enough works. */
	make_call(&c, SCTAG__V1__REQUEST__CALL_BATCH);
	core = pack_req(&c.r, &len);
	for (q = 0; q < 100000; q++) {
		if (wire_request_parse_quota(core, len, q, &r, &err) == 0) {
			need = q;
			break;
		}
		cr_assert_eq(err.code, SCTAG__V1__CODE__RESOURCE_EXHAUSTED,
		    "quota %zu: %s", q, err.msg);
		cr_assert_null(r);
	}
	cr_assert_gt(need, 0);
	wire_request_free(r);
	cr_log_info("a 2-item batch of %zu bytes needs %zu bytes decoded",
	    len, need);
	free(core);
}

/* ---- replies, client side ---- */

Test(wire, reply_hostile)
{
	Sctag__V1__Reply	*r;
	struct wire_err		 err;
	struct buf		 b = { 0 };

	put_bytes(&b, 3, "ok\0hidden", 9);
	cr_assert_eq(wire_reply_parse(b.p, b.len, &r, &err), -EBADMSG);
	cr_assert_not_null(strstr(err.msg, "Reply.message: NUL byte"), "%s",
	    err.msg);
	free(b.p);

	memset(&b, 0, sizeof(b));
	put_bytes(&b, 1, "12345", 5);
	cr_assert_eq(wire_reply_parse(b.p, b.len, &r, &err), -EBADMSG);
	cr_assert_not_null(strstr(err.msg, "request id must be 16 bytes"));
	free(b.p);

	/* A newer agent's fields and codes are kept, not refused. */
	memset(&b, 0, sizeof(b));
	put_uint(&b, 2, 42);
	put_uint(&b, 40, 1);
	cr_assert_eq(wire_reply_parse(b.p, b.len, &r, &err), 0, "%s", err.msg);
	cr_assert_eq((int)r->code, 42);
	cr_assert_eq(r->base.n_unknown_fields, 1);
	wire_reply_free(r);
	free(b.p);
}

/* ---- fuzz seeds ---- */

static void
write_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char	path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "wb"), "%s", path);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

Test(wire, corpus)
{
	static const struct { int call; const char *name; int sign; } s[] = {
		{ 10, "start_flow", 1 }, { 11, "end_flow", 1 },
		{ 12, "batch", 1 }, { 13, "list_flows", 1 },
		{ 14, "get_status_unsigned", 0 }, { 16, "ping", 1 },
		{ 18, "drain", 1 },
	};
	const char	*dir = getenv("SCTAG_WIRE_CORPUS");
	struct calls	 c;
	uint8_t		*buf;
	size_t		 len, i;

	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		make_call(&c, s[i].call);
		cr_assert_eq(wire_request_build(&c.r, s[i].sign ? K : NULL,
		    &buf, &len), 0);
		cr_assert_lt(len, 4096);
		if (dir != NULL)
			write_seed(dir, s[i].name, buf, len);
		free(buf);
	}
	cr_assert_eq(wire_reply_error(SCTAG__V1__CODE__NOT_FOUND,
	    "no flow 7", RID, 16, &buf, &len), 0);
	if (dir != NULL)
		write_seed(dir, "reply_error", buf, len);
	free(buf);
}
