/*
 * test_flows.c: the flow table. Identity and conflicts, capacity, backend
 * failures that must change nothing, ending and who may, leases, drain,
 * paging while the table changes, indexes that grow with the live flows
 * (and fail to, changing nothing), a random walk against a model, and a
 * table of 10^6 flows that measures memory per flow.
 *
 * The backend is a fake that counts rules and fails on command: the real
 * one is the privileged process's marker, tested in tests/net.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "flowreq.h"
#include "flows.h"
#include "flows_index.h"		/* index sizes, to pin their growth */
#include "marker.h"
#include "tag.h"

struct fake {
	int			adds, dels, live;
	int			fail_add;	/* rc while set */
	int			fail_del;
	struct marker_rule	last;
};

static struct fake	 F;
static struct reg	*R;
static struct flows	*T;
static char		 E[512];

static int
fake_add(void *arg, const struct marker_rule *r, uint32_t *label, char *err,
    size_t errlen)
{
	struct fake	*fk = arg;

	if (fk->fail_add) {
		snprintf(err, errlen, "rule table full (capacity 7)");
		return fk->fail_add;
	}
	fk->adds++;
	fk->live++;
	fk->last = *r;
	return tag_label_encode(r->exp, r->act, (uint32_t)fk->adds, label);
}

static int
fake_del(void *arg, const struct marker_rule *r, char *err, size_t errlen)
{
	struct fake	*fk = arg;

	if (fk->fail_del) {
		snprintf(err, errlen, "priv process gone");
		return fk->fail_del;
	}
	fk->dels++;
	fk->live--;
	fk->last = *r;
	return 0;
}

static struct flows *
table(uint32_t capacity)
{
	struct flows_opts	o = {
		.capacity = capacity,
		.backend = { fake_add, fake_del, &F, NULL },
		.reg = R,
	};
	struct flows		*t;

	cr_assert_eq(flows_new(&o, &t, E, sizeof(E)), 0, "%s", E);
	return t;
}

static void
setup(void)
{
	memset(&F, 0, sizeof(F));
	cr_assert_eq(reg_load_builtin(&R, E, sizeof(E)), 0, "%s", E);
	T = table(1000);
}

static void
teardown(void)
{
	flows_free(T);
	T = NULL;
	reg_free(R);
	R = NULL;
}

TestSuite(flows, .init = setup, .fini = teardown);

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN	1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN	1
#endif
#ifdef TEST_ASAN
/*
 * growth_without_memory_fails_and_changes_nothing makes allocations fail;
 * ASan is to return NULL then, as libc does, not end the process.
 */
const char *__asan_default_options(void);

const char *
__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}
#endif

/* Flow i of a family: distinct matches, dst under 2001:db8:(i%4)::/48. */
static struct flowreq_spec
spec_n(uint32_t i, const char *exp, const char *act, uint32_t ttl)
{
	struct flowreq_in	in = {
		.protocol = IPPROTO_TCP,
		.src = "2001:db8:ff::1",
		.dst = "2001:db8::1",
		.dst_port = 443,
		.experiment = exp,
		.activity = act,
		.ttl_seconds = ttl,
		.application = "fts",
	};
	struct flowreq_spec	s;

	cr_assert_eq(flowreq_parse(&in, R, TAG_STRAT_FLOW_LABEL, &s, E,
	    sizeof(E)), 0, "%s", E);
	s.rule.dst[5] = (uint8_t)(i % 4);
	s.rule.dst[12] = (uint8_t)(i >> 24);
	s.rule.dst[13] = (uint8_t)(i >> 16);
	s.rule.dst[14] = (uint8_t)(i >> 8);
	s.rule.dst[15] = (uint8_t)i;
	s.rule.sport = (uint16_t)(1024 + i % 60000);
	return s;
}

static struct flowreq_spec
spec_str(const char *dst, const char *exp, const char *act, int strategy)
{
	struct flowreq_in	in = {
		.protocol = IPPROTO_TCP,
		.dst = dst,
		.dst_port = 443,
		.experiment = exp,
		.activity = act,
		.strategy = strategy,
	};
	struct flowreq_spec	s;

	cr_assert_eq(flowreq_parse(&in, R, TAG_STRAT_FLOW_LABEL, &s, E,
	    sizeof(E)), 0, "%s", E);
	return s;
}

static uint64_t
start_ok(struct flows *t, const struct flowreq_spec *s, const char *owner,
    uint64_t now, int want_created)
{
	struct flows_flow	v;
	int			created = -1;

	E[0] = '\0';
	cr_assert_eq(flows_start(t, s, owner, now, &v, &created, E,
	    sizeof(E)), 0, "%s", E);
	cr_assert_eq(created, want_created);
	return v.id;
}

Test(flows, start_returns_the_flow)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_flow	v;
	struct flows_stats	st;
	uint32_t		exp, act;
	int			created;

	s.ttl_seconds = 30;
	snprintf(s.application, sizeof(s.application), "http-put");
	cr_assert_eq(flows_start(T, &s, "fts-cern", 1000, &v, &created, E,
	    sizeof(E)), 0, "%s", E);
	cr_assert_eq(created, 1);
	cr_assert_gt(v.id, UINT64_C(1) << 32);
	cr_assert_lt(v.id, UINT64_C(1) << 53);
	cr_assert_str_eq(v.owner, "fts-cern");
	cr_assert_str_eq(v.spec.application, "http-put");
	cr_assert_eq(v.spec.ttl_seconds, 30);
	cr_assert_eq(v.created_ms, 1000);
	cr_assert_eq(v.expires_ms, 31000);
	cr_assert(v.spec.markable);
	cr_assert_eq(v.spec.family, AF_INET6);
	cr_assert_eq(memcmp(&v.spec.rule, &s.rule, sizeof(s.rule)), 0);
	tag_label_decode(v.label, &exp, &act);
	cr_assert_eq(exp, 2);
	cr_assert_eq(act, 4);
	cr_assert_eq(F.adds, 1);
	cr_assert_eq(memcmp(&F.last, &s.rule, sizeof(s.rule)), 0);
	flows_stats(T, &st);
	cr_assert_eq(st.count, 1);
	cr_assert_eq(st.capacity, 1000);
	cr_assert_eq(st.markable, 1);
	cr_assert_eq(st.leased, 1);
	cr_assert_eq(st.owners, 1);
	cr_assert_eq(flows_owner_count(T, "fts-cern"), 1);
	cr_assert_eq(flows_owner_count(T, "other"), 0);
}

Test(flows, same_spec_is_the_same_flow)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flowreq_spec	s2 = spec_str("2001:db8::2", "ATLAS",
	    "Data Consolidation", TAG_STRAT_FLOW_LABEL);
	struct flows_flow	v;
	uint64_t		id, ms;
	int			created;

	s.ttl_seconds = 10;
	id = start_ok(T, &s, "a", 1000, 1);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 11000);

	/* ttl, application and owner are not the flow's identity. */
	s2.ttl_seconds = 100;
	snprintf(s2.application, sizeof(s2.application), "other");
	cr_assert_eq(flows_start(T, &s2, "b", 5000, &v, &created, E,
	    sizeof(E)), 0, "%s", E);
	cr_assert_eq(created, 0);
	cr_assert_eq(v.id, id);
	cr_assert_str_eq(v.owner, "a");
	cr_assert_str_eq(v.spec.application, "");
	cr_assert_eq(v.expires_ms, 105000, "lease refreshed");
	cr_assert_eq(v.spec.ttl_seconds, 100);
	cr_assert_eq(v.created_ms, 1000);

	/* ttl 0 on a repeat keeps the lease as it is. */
	s2.ttl_seconds = 0;
	cr_assert_eq(flows_start(T, &s2, "a", 6000, &v, &created, E,
	    sizeof(E)), 0, "%s", E);
	cr_assert_eq(v.expires_ms, 105000);

	/* A flow without a lease gets one from a repeat with a ttl. */
	s = spec_str("2001:db8::3", "atlas", "4", 0);
	start_ok(T, &s, "a", 0, 1);
	s.ttl_seconds = 5;
	start_ok(T, &s, "a", 7000, 0);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 12000);

	cr_assert_eq(F.adds, 2, "one backend add per flow");
	cr_assert_eq(flows_owner_count(T, "a"), 2);
	cr_assert_eq(flows_owner_count(T, "b"), 0);
}

Test(flows, another_tag_on_a_running_match_conflicts)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flowreq_spec	other = spec_str("2001:db8::2", "cms", "3", 0);
	struct flowreq_spec	hbh = spec_str("2001:db8::2", "atlas", "4",
	    TAG_STRAT_HBH);
	struct flows_flow	v;
	char			want[256];
	uint64_t		id;
	int			created = -1;

	id = start_ok(T, &s, "a", 0, 1);
	cr_assert_eq(flows_start(T, &other, "b", 0, &v, &created, E,
	    sizeof(E)), -EEXIST);
	snprintf(want, sizeof(want), "flow %" PRIu64 " already marks this "
	    "match with atlas/Data Consolidation (2/4, flow-label); end it "
	    "first", id);
	cr_assert_str_eq(E, want);
	cr_assert_eq(created, -1);
	cr_assert_eq(flows_start(T, &hbh, "a", 0, &v, &created, E,
	    sizeof(E)), -EEXIST);
	cr_assert_str_eq(E, want);
	cr_assert_eq(F.adds, 1);

	/* Without a registry the ids are the names. */
	flows_set_reg(T, NULL);
	cr_assert_eq(flows_start(T, &other, "b", 0, &v, &created, E,
	    sizeof(E)), -EEXIST);
	cr_assert_not_null(strstr(E, "with 2/4 (flow-label)"), "%s", E);

	/* Once ended, the match is free for the new tag. */
	cr_assert_eq(flows_end_id(T, id, "a", 0, &v, E, sizeof(E)), 0, "%s",
	    E);
	start_ok(T, &other, "b", 0, 1);
}

Test(flows, full_table_changes_nothing)
{
	struct flowreq_spec	s;
	struct flows_stats	st;
	struct flows_flow	v;
	struct flows		*t = table(10);
	uint64_t		first = 0;
	uint32_t		i;
	int			created;

	for (i = 0; i < 10; i++) {
		s = spec_n(i, "atlas", "4", 0);
		if (i == 0)
			first = start_ok(t, &s, "a", 0, 1);
		else
			start_ok(t, &s, "a", 0, 1);
	}
	s = spec_n(10, "atlas", "4", 0);
	cr_assert_eq(flows_start(t, &s, "new-owner", 0, &v, &created, E,
	    sizeof(E)), -ENOSPC);
	cr_assert_str_eq(E, "flow table full (capacity 10)");
	flows_stats(t, &st);
	cr_assert_eq(st.count, 10);
	cr_assert_eq(st.owners, 1);
	cr_assert_eq(F.adds, 10);
	/* A running spec is still found; nothing is evicted for room. */
	s = spec_n(3, "atlas", "4", 0);
	start_ok(t, &s, "a", 0, 0);
	cr_assert_eq(flows_get(t, first, &v), 0);
	cr_assert_eq(flows_end_id(t, first, "a", 0, &v, E, sizeof(E)), 0);
	s = spec_n(10, "atlas", "4", 0);
	start_ok(t, &s, "a", 0, 1);
	flows_free(t);
}

Test(flows, backend_add_failure_changes_nothing)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_stats	st;
	struct flows_flow	v;
	uint64_t		id;
	int			created = -1;

	s.ttl_seconds = 9;
	F.fail_add = -ENOSPC;
	cr_assert_eq(flows_start(T, &s, "a", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);
	cr_assert_str_eq(E, "rule table full (capacity 7)");
	cr_assert_eq(created, -1);
	flows_stats(T, &st);
	cr_assert_eq(st.count, 0);
	cr_assert_eq(st.owners, 0, "owner interned and not released");
	cr_assert_eq(st.leased, 0);
	cr_assert_eq(flows_find(T, &s, &v), -ENOENT);
	cr_assert_eq(flows_next_expiry(T, &id), -ENOENT);

	/* A backend that returns a positive value is still a failure. */
	F.fail_add = 1;
	cr_assert_eq(flows_start(T, &s, "a", 0, &v, &created, E, sizeof(E)),
	    -EIO);

	F.fail_add = 0;
	id = start_ok(T, &s, "a", 0, 1);
	cr_assert_eq(flows_find(T, &s, &v), 0);
	cr_assert_eq(v.id, id);
	cr_assert_eq(F.live, 1);
}

Test(flows, backend_del_failure_keeps_the_flow)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_stats	st;
	struct flows_flow	v;
	uint64_t		id;

	id = start_ok(T, &s, "a", 0, 1);
	F.fail_del = -EPIPE;
	cr_assert_eq(flows_end_id(T, id, "a", 0, &v, E, sizeof(E)), -EPIPE);
	cr_assert_not_null(strstr(E, "kernel rule not removed, the flow "
	    "stays: priv process gone"), "%s", E);
	cr_assert_eq(flows_get(T, id, &v), 0);
	flows_stats(T, &st);
	cr_assert_eq(st.count, 1);
	cr_assert_eq(st.del_failures, 1);
	F.fail_del = 0;
	cr_assert_eq(flows_end_spec(T, &s, "a", 0, &v, E, sizeof(E)), 0,
	    "%s", E);
	cr_assert_eq(v.id, id);
	cr_assert_eq(F.live, 0);
}

Test(flows, end_by_id_and_by_spec)
{
	struct flowreq_spec	a = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flowreq_spec	b = spec_str("2001:db8::3", "cms", "3", 0);
	struct flowreq_spec	b2 = spec_str("2001:db8::3", "cms", "4", 0);
	struct flows_flow	v;
	char			want[256];
	uint64_t		ia, ib;

	ia = start_ok(T, &a, "a", 0, 1);
	ib = start_ok(T, &b, "a", 0, 1);
	cr_assert_eq(flows_end_id(T, ia + 100, "a", 0, &v, E, sizeof(E)),
	    -ENOENT);
	snprintf(want, sizeof(want), "no flow with id %" PRIu64, ia + 100);
	cr_assert_str_eq(E, want);
	cr_assert_eq(flows_end_id(T, ia, "a", 0, &v, E, sizeof(E)), 0, "%s",
	    E);
	cr_assert_eq(v.id, ia);
	cr_assert_eq(memcmp(&F.last, &a.rule, sizeof(a.rule)), 0);
	cr_assert_eq(flows_end_id(T, ia, "a", 0, &v, E, sizeof(E)), -ENOENT);
	cr_assert_eq(flows_get(T, ia, &v), -ENOENT);

	/* By spec: the whole key, tag included. */
	cr_assert_eq(flows_end_spec(T, &b2, "a", 0, &v, E, sizeof(E)),
	    -ENOENT);
	snprintf(want, sizeof(want), "no flow has this spec; flow %" PRIu64
	    " has its match with cms/Cache (3/3, flow-label)", ib);
	cr_assert_str_eq(E, want);
	cr_assert_eq(flows_end_spec(T, &a, "a", 0, &v, E, sizeof(E)),
	    -ENOENT);
	cr_assert_str_eq(E, "no flow has this spec");
	cr_assert_eq(flows_end_spec(T, &b, "a", 0, &v, E, sizeof(E)), 0,
	    "%s", E);
	cr_assert_eq(v.id, ib);
	cr_assert_eq(F.dels, 2);
	cr_assert_eq(F.live, 0);
}

Test(flows, only_the_owner_or_an_admin_ends_a_flow)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_flow	v;
	char			want[256];
	uint64_t		id;

	id = start_ok(T, &s, "fts-cern", 0, 1);
	cr_assert_eq(flows_end_id(T, id, "rucio", 0, &v, E, sizeof(E)),
	    -EPERM);
	snprintf(want, sizeof(want), "flow %" PRIu64 " belongs to 'fts-cern'; "
	    "only its owner or an admin may end it", id);
	cr_assert_str_eq(E, want);
	cr_assert_eq(flows_end_spec(T, &s, "rucio", 0, &v, E, sizeof(E)),
	    -EPERM);
	cr_assert_eq(flows_end_id(T, id, NULL, 0, &v, E, sizeof(E)), -EPERM);
	cr_assert_eq(F.dels, 0);
	cr_assert_eq(flows_end_id(T, id, "ops", 1, &v, E, sizeof(E)), 0,
	    "%s", E);
	cr_assert_str_eq(v.owner, "fts-cern");

	id = start_ok(T, &s, "fts-cern", 0, 1);
	cr_assert_eq(flows_end_id(T, id, "fts-cern", 0, &v, E, sizeof(E)), 0);
}

Test(flows, owner_must_be_named)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_flow	v;
	char			longname[FLOWS_OWNER_MAX + 2];
	int			created;

	cr_assert_eq(flows_start(T, &s, "", 0, &v, &created, E, sizeof(E)),
	    -EINVAL);
	cr_assert_str_eq(E, "owner: empty");
	memset(longname, 'k', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(flows_start(T, &s, longname, 0, &v, &created, E,
	    sizeof(E)), -EINVAL);
	cr_assert_str_eq(E, "owner: longer than 64 bytes");
	longname[FLOWS_OWNER_MAX] = '\0';
	start_ok(T, &s, longname, 0, 1);
}

Test(flows, ipv4_flows_never_reach_the_backend)
{
	struct flowreq_in	in = {
		.protocol = IPPROTO_TCP, .src = "192.0.2.1", .src_port = 2001,
		.dst = "198.51.100.7", .dst_port = 49378, .experiment = "2",
		.activity = "16",
	};
	struct flowreq_spec	s, bad;
	struct flows_stats	st;
	struct flows_flow	v;
	uint64_t		id;
	int			created;

	cr_assert_eq(flowreq_parse(&in, R, 1, &s, E, sizeof(E)), 0, "%s", E);
	id = start_ok(T, &s, "a", 0, 1);
	cr_assert_eq(F.adds, 0);
	cr_assert_eq(flows_get(T, id, &v), 0);
	cr_assert_eq(v.spec.markable, 0);
	cr_assert_eq(v.spec.family, AF_INET);
	cr_assert_eq(v.label, 0);
	flows_stats(T, &st);
	cr_assert_eq(st.markable, 0);
	cr_assert_eq(flows_end_id(T, id, "a", 0, &v, E, sizeof(E)), 0);
	cr_assert_eq(F.dels, 0);

	/* The table does not take a spec flowreq would not have made. */
	bad = s;
	bad.rule.strategy = MK_STRAT_FLOW_LABEL;
	cr_assert_eq(flows_start(T, &bad, "a", 0, &v, &created, E,
	    sizeof(E)), -EINVAL);
	bad = spec_str("2001:db8::2", "atlas", "4", 0);
	bad.rule.strategy = 9;
	cr_assert_eq(flows_start(T, &bad, "a", 0, &v, &created, E,
	    sizeof(E)), -EINVAL);
	cr_assert_str_eq(E, "flow: strategy 9 is unknown");
}

struct seen {
	uint64_t	ids[4096];
	uint64_t	expires[4096];
	int		rcs[4096];
	uint32_t	n;
};

static void
record(void *arg, const struct flows_flow *v, int rc, const char *err)
{
	struct seen	*s = arg;

	cr_assert_lt(s->n, 4096);
	s->ids[s->n] = v->id;
	s->expires[s->n] = v->expires_ms;
	s->rcs[s->n] = rc;
	s->n++;
	if (rc == 0)
		cr_assert_str_eq(err, "");
	else
		cr_assert_neq(err[0], '\0');
}

Test(flows, expiry_is_in_lease_order_and_bounded)
{
	static struct seen	seen;
	struct flowreq_spec	s;
	struct flows_stats	st;
	uint64_t		ids[300], ms;
	uint32_t		i, ended, total = 0;
	int			more, calls = 0;

	memset(&seen, 0, sizeof(seen));
	/* 300 flows, ttl 1..10 s in a scrambled order; one without a lease. */
	for (i = 0; i < 300; i++) {
		s = spec_n(i, "atlas", "4", 1 + (i * 7) % 10);
		ids[i] = start_ok(T, &s, "a", 0, 1);
	}
	s = spec_n(1000, "atlas", "4", 0);
	start_ok(T, &s, "a", 0, 1);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 1000);

	/* Nothing is due before its time. */
	cr_assert_eq(flows_expire(T, 999, 100, record, &seen, &ended, &more),
	    0);
	cr_assert_eq(ended, 0);
	cr_assert_eq(more, 0);

	/* At 5 s, ttl 1..5 are due: 150 flows, at most 16 per call. */
	do {
		cr_assert_eq(flows_expire(T, 5000, 16, record, &seen, &ended,
		    &more), 0);
		cr_assert_leq(ended, 16);
		total += ended;
		calls++;
	} while (more);
	cr_assert_eq(total, 150);
	cr_assert_eq(calls, 10);
	for (i = 1; i < seen.n; i++) {
		cr_assert(seen.expires[i - 1] < seen.expires[i] ||
		    (seen.expires[i - 1] == seen.expires[i] &&
		    seen.ids[i - 1] < seen.ids[i]), "order at %u", i);
	}
	cr_assert_eq(F.dels, 150);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 6000);

	/* A del failure: the flow stays, retried FLOWS_RETRY_MS later. */
	F.fail_del = -EPIPE;
	seen.n = 0;
	cr_assert_eq(flows_expire(T, 6000, 1000, record, &seen, &ended,
	    &more), 0);
	cr_assert_eq(ended, 0);
	cr_assert_eq(more, 0);
	cr_assert_eq(seen.n, 30);
	cr_assert_eq(seen.rcs[0], -EPIPE);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 6000 + FLOWS_RETRY_MS);
	F.fail_del = 0;
	seen.n = 0;
	cr_assert_eq(flows_expire(T, 1000000, 1000, record, &seen, &ended,
	    &more), 0);
	cr_assert_eq(ended, 150);
	flows_stats(T, &st);
	cr_assert_eq(st.count, 1, "the flow without a lease stays");
	cr_assert_eq(st.expired, 300);
	cr_assert_eq(st.leased, 0);
	cr_assert_eq(flows_next_expiry(T, &ms), -ENOENT);
	(void)ids;
}

Test(flows, ending_a_leased_flow_takes_it_off_the_heap)
{
	struct flowreq_spec	s;
	struct flows_flow	v;
	uint64_t		ids[50], ms;
	uint32_t		i, ended;
	int			more;

	for (i = 0; i < 50; i++) {
		s = spec_n(i, "atlas", "4", 100 - i);
		ids[i] = start_ok(T, &s, "a", 0, 1);
	}
	/* End the earliest and some in the middle; the heap must follow. */
	cr_assert_eq(flows_end_id(T, ids[49], "a", 0, &v, E, sizeof(E)), 0);
	for (i = 10; i < 20; i++)
		cr_assert_eq(flows_end_id(T, ids[i], "a", 0, &v, E,
		    sizeof(E)), 0);
	cr_assert_eq(flows_next_expiry(T, &ms), 0);
	cr_assert_eq(ms, 52000);
	cr_assert_eq(flows_expire(T, 60000, 100, NULL, NULL, &ended, &more),
	    0);
	cr_assert_eq(ended, 9);	/* ttl 52..60: i = 40..48 */
	cr_assert_eq(flows_get(T, ids[39], &v), 0);
	cr_assert_eq(flows_get(T, ids[40], &v), -ENOENT);
}

Test(flows, drain_by_owner_in_bounded_steps)
{
	static struct seen	seen;
	struct flowreq_spec	s;
	struct flows_drain	d;
	struct flows_stats	st;
	uint32_t		i;
	int			calls = 0;

	memset(&seen, 0, sizeof(seen));
	for (i = 0; i < 300; i++) {
		s = spec_n(i, "atlas", "4", i % 2 ? 60 : 0);
		start_ok(T, &s, i % 3 == 0 ? "a" : "b", 0, 1);
	}
	memset(&d, 0, sizeof(d));
	do {
		cr_assert_eq(flows_drain(T, "a", 7, record, &seen, &d), 0);
		calls++;
	} while (d.more);
	cr_assert_eq(d.ended, 100);
	cr_assert_eq(d.failed, 0);
	cr_assert_eq(seen.n, 100);
	cr_assert_geq(calls, 15);
	cr_assert_eq(flows_owner_count(T, "a"), 0);
	cr_assert_eq(flows_owner_count(T, "b"), 200);

	/* Unknown owner: nothing to do. */
	memset(&d, 0, sizeof(d));
	cr_assert_eq(flows_drain(T, "nobody", 7, NULL, NULL, &d), 0);
	cr_assert_eq(d.ended, 0);
	cr_assert_eq(d.more, 0);

	/* Failures are skipped, so the walk ends anyway. */
	F.fail_del = -EPIPE;
	memset(&d, 0, sizeof(d));
	do {
		cr_assert_eq(flows_drain(T, NULL, 50, NULL, NULL, &d), 0);
	} while (d.more);
	cr_assert_eq(d.failed, 200);
	cr_assert_eq(d.ended, 0);
	F.fail_del = 0;

	memset(&d, 0, sizeof(d));
	do {
		cr_assert_eq(flows_drain(T, "", 1000, NULL, NULL, &d), 0);
	} while (d.more);
	cr_assert_eq(d.ended, 200);
	flows_stats(T, &st);
	cr_assert_eq(st.count, 0);
	cr_assert_eq(st.leased, 0);
	cr_assert_eq(st.owners, 0);
	cr_assert_eq(F.live, 0);
}

/* ---- listing ------------------------------------------------------------- */

#define LN	10000

struct lflow {
	uint64_t	id;
	uint8_t		owner;		/* 0..2: "o0".."o2" */
	uint8_t		exp;
	uint8_t		net;		/* dst[5] */
	uint8_t		alive;
	uint8_t		churned;	/* ended or started mid-listing */
};

static struct lflow	L[LN + 2000];
static uint32_t		NL;

static const char	*owners[] = { "o0", "o1", "o2" };

static void
lstart(struct flows *t, uint32_t i)
{
	struct flowreq_spec	s;

	s = spec_n(i, i % 5 == 0 ? "cms" : "atlas", "3", 0);
	L[i].id = start_ok(t, &s, owners[i % 3], 0, 1);
	L[i].owner = (uint8_t)(i % 3);
	L[i].exp = i % 5 == 0 ? 3 : 2;
	L[i].net = (uint8_t)(i % 4);
	L[i].alive = 1;
}

static int
lmatch(const struct lflow *l, const struct flows_filter *f)
{
	if (f->owner != NULL && strcmp(owners[l->owner], f->owner) != 0)
		return 0;
	if (f->exp != 0 && l->exp != f->exp)
		return 0;
	if (f->has_dst && l->net != f->dst[5])
		return 0;
	return 1;
}

static uint32_t
lcount(const struct flows_filter *f)
{
	uint32_t	i, n = 0;

	for (i = 0; i < NL; i++)
		n += L[i].alive && lmatch(&L[i], f);
	return n;
}

static int
by_id(const void *a, const void *b)
{
	const struct lflow	*x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* One full listing while flows start and end between pages. */
static void
list_all(struct flows *t, const struct flows_filter *f, uint32_t page,
    int churn)
{
	static struct flows_flow	out[FLOWS_PAGE_MAX];
	static uint64_t			got[LN + 2000];
	char				tok[FLOWS_TOKEN_LEN + 1] = "";
	struct lflow			*l;
	struct flows_flow		v;
	uint64_t			total;
	uint32_t			n, ngot = 0, i, j, k = 0;
	int				pages = 0;

	for (i = 0; i < NL; i++)
		L[i].churned = 0;
	do {
		cr_assert_eq(flows_list(t, f, tok, page, out, &n, tok, &total,
		    E, sizeof(E)), 0, "%s", E);
		cr_assert_eq(total, lcount(f), "total");
		cr_assert_leq(n, flows_page_size(page));
		for (j = 0; j < n; j++) {
			cr_assert_lt(ngot, LN + 2000);
			got[ngot++] = out[j].id;
		}
		pages++;
		if (!churn || tok[0] == '\0')
			continue;
		/* End some flows before and after the cursor, start some. */
		for (j = 0; j < 5; j++) {
			l = &L[(k++ * 7919) % NL];
			if (!l->alive)
				continue;
			cr_assert_eq(flows_end_id(t, l->id, "x", 1, &v, E,
			    sizeof(E)), 0, "%s", E);
			l->alive = 0;
			l->churned = 1;
		}
		for (j = 0; j < 3 && NL < LN + 2000; j++) {
			lstart(t, NL);
			L[NL++].churned = 1;
		}
	} while (tok[0] != '\0');
	cr_assert_gt(pages, 0);

	/* Strictly increasing: no duplicates, stable id order. */
	for (i = 1; i < ngot; i++)
		cr_assert_lt(got[i - 1], got[i], "order at %u", i);
	/* Every flow alive at the end that matches was seen; so was every
	 * flow that lived through the whole listing; no ended one was seen
	 * unless it was ended mid-listing. */
	for (i = 0, j = 0; i < NL; i++) {
		l = &L[i];
		if (!lmatch(l, f))
			continue;
		while (j < ngot && got[j] < l->id)
			j++;
		if (l->alive)
			cr_assert(j < ngot && got[j] == l->id, "flow %" PRIu64
			    " missing", l->id);
		else if (!l->churned)
			cr_assert(j == ngot || got[j] != l->id, "ended flow "
			    "%" PRIu64 " listed", l->id);
	}
}

Test(flows, list_pages_over_10000_flows_while_they_change)
{
	struct flows		*t = table(20000);
	struct flows_filter	f;
	uint8_t			plen;
	int			fam;
	uint32_t		i;

	NL = 0;
	for (i = 0; i < LN; i++, NL++)
		lstart(t, i);
	qsort(L, NL, sizeof(L[0]), by_id);

	memset(&f, 0, sizeof(f));
	list_all(t, &f, 0, 0);
	list_all(t, &f, 1000, 1);
	list_all(t, &f, 333, 1);
	f.owner = "o1";
	list_all(t, &f, 250, 1);
	f.owner = NULL;
	f.exp = 3;
	list_all(t, &f, 97, 1);
	f.exp = 0;
	f.has_dst = 1;
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "2001:db8:2::/48",
	    f.dst, &plen, &fam, E, sizeof(E)), 0, "%s", E);
	f.dst_plen = plen;
	list_all(t, &f, 500, 1);
	f.owner = "o2";
	f.exp = 2;
	list_all(t, &f, 71, 1);
	f.owner = "nobody";
	list_all(t, &f, 10, 1);
	flows_free(t);
}

Test(flows, page_tokens)
{
	static struct flows_flow	out[FLOWS_PAGE_MAX];
	struct flowreq_spec		s;
	struct flows			*t = table(2000), *t2;
	char				tok[FLOWS_TOKEN_LEN + 1], tok2[64];
	uint64_t			total;
	uint32_t			i, n;

	for (i = 0; i < 1200; i++) {
		s = spec_n(i, "atlas", "4", 0);
		start_ok(t, &s, "a", 0, 1);
	}
	cr_assert_eq(flows_list(t, NULL, NULL, 5000, out, &n, tok, &total, E,
	    sizeof(E)), 0);
	cr_assert_eq(n, FLOWS_PAGE_MAX, "page size capped");
	cr_assert_eq(total, 1200);
	cr_assert_eq(strlen(tok), FLOWS_TOKEN_LEN);
	cr_assert_eq(flows_list(t, NULL, "", 0, out, &n, tok2, NULL, E,
	    sizeof(E)), 0);
	cr_assert_eq(n, FLOWS_PAGE_DEFAULT);

	static const char *bad[] = {
		"zz", "0", "0000000000000000000000000",
		"00000000000000000000000",
		"000000000000000000000000", "ABCDEF0000000000ABCDEF00",
		"-00000000000000000000000", "00000000 0000000000000000",
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		E[0] = '\0';
		cr_assert_eq(flows_list(t, NULL, bad[i], 10, out, &n, tok2,
		    &total, E, sizeof(E)), -EINVAL, "%s", bad[i]);
		cr_assert_str_eq(E, "bad page token");
	}
	/* A token from another table (another agent run) is refused. */
	t2 = table(10);
	cr_assert_eq(flows_list(t2, NULL, tok, 10, out, &n, tok2, &total, E,
	    sizeof(E)), -EINVAL);
	cr_assert_str_eq(E, "bad page token");
	flows_free(t2);
	/* The last page says so. */
	cr_assert_eq(flows_list(t, NULL, tok, 200, out, &n, tok, &total, E,
	    sizeof(E)), 0);
	cr_assert_eq(n, 200);
	cr_assert_str_eq(tok, "");
	flows_free(t);
}

Test(flows, ids_are_never_reused)
{
	struct flowreq_spec	s = spec_str("2001:db8::2", "atlas", "4", 0);
	struct flows_flow	v;
	struct flows		*t2;
	uint64_t		prev = 0, id, other;
	uint32_t		i;

	for (i = 0; i < 5000; i++) {
		id = start_ok(T, &s, "a", 0, 1);
		cr_assert_gt(id, prev);
		if (prev != 0)
			cr_assert_eq(flows_get(T, prev, &v), -ENOENT);
		prev = id;
		cr_assert_eq(flows_end_id(T, id, "a", 0, &v, E, sizeof(E)), 0);
	}
	/* Another table (a restart) starts from another random base. */
	t2 = table(10);
	other = start_ok(t2, &s, "a", 0, 1);
	cr_assert_neq(other, prev + 1);
	flows_free(t2);
}

Test(flows, bad_options)
{
	struct flows_opts	o = { .capacity = 10 };
	struct flows		*t;

	cr_assert_eq(flows_new(&o, &t, E, sizeof(E)), -EINVAL);
	cr_assert_str_eq(E, "flow table: no backend");
	o.backend = (struct flows_backend){ fake_add, fake_del, &F, NULL };
	o.capacity = FLOWS_CAPACITY_MAX + 1;
	cr_assert_eq(flows_new(&o, &t, E, sizeof(E)), -EINVAL);
	cr_assert_not_null(strstr(E, "capacity 16777217 is over 16777216"));
	o.capacity = 0;
	o.id_base = 7;
	cr_assert_eq(flows_new(&o, &t, E, sizeof(E)), 0);
	{
		struct flows_stats	st;
		struct flowreq_spec	s = spec_str("2001:db8::2", "1", "1",
		    0);

		flows_stats(t, &st);
		cr_assert_eq(st.capacity, FLOWS_CAPACITY_DEFAULT);
		cr_assert_eq(start_ok(t, &s, "a", 0, 1), 7);
	}
	flows_free(t);
	flows_free(NULL);
}

/* Owners and applications are interned: 65535 distinct names at most. */
Test(flows, distinct_names_are_bounded)
{
	struct flows		*t = table(FLOWS_STRINGS_MAX + 10);
	struct flowreq_spec	s;
	struct flows_stats	st;
	struct flows_flow	v;
	uint64_t		first = 0, id;
	uint32_t		i;
	int			created;

	for (i = 0; i < FLOWS_STRINGS_MAX; i++) {
		s = spec_n(i, "atlas", "4", 0);
		snprintf(s.application, sizeof(s.application), "app-%u", i);
		id = start_ok(t, &s, "a", 0, 1);
		if (i == 0)
			first = id;
	}
	s = spec_n(i, "atlas", "4", 0);
	snprintf(s.application, sizeof(s.application), "one-too-many");
	cr_assert_eq(flows_start(t, &s, "a", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);
	cr_assert_str_eq(E, "too many distinct applications (limit 65535)");
	flows_stats(t, &st);
	cr_assert_eq(st.count, FLOWS_STRINGS_MAX);
	cr_assert_eq(flows_owner_count(t, "a"), FLOWS_STRINGS_MAX);
	/* A name already in use costs nothing. */
	snprintf(s.application, sizeof(s.application), "app-7");
	start_ok(t, &s, "a", 0, 1);
	cr_assert_eq(flows_end_id(t, first, "a", 0, &v, E, sizeof(E)), 0);
	cr_assert_str_eq(v.spec.application, "app-0");
	s = spec_n(i + 1, "atlas", "4", 0);
	snprintf(s.application, sizeof(s.application), "one-too-many");
	id = start_ok(t, &s, "a", 0, 1);
	cr_assert_eq(flows_get(t, id, &v), 0);
	cr_assert_str_eq(v.spec.application, "one-too-many");
	flows_free(t);
}

/* ---- a random walk against a model -------------------------------------- */

#define MN	700		/* distinct matches; capacity below it */

struct mflow {
	uint64_t	id;
	uint64_t	expires;
	int		present;
	int		tag;		/* 0: atlas/4, 1: cms/3 */
	int		owner;
};

static struct mflow	M[MN];

static struct flowreq_spec
mspec(uint32_t i, int tag, uint32_t ttl)
{
	return spec_n(i, tag ? "cms" : "atlas", tag ? "3" : "4", ttl);
}

static void
check_model(struct flows *t, uint32_t count)
{
	static struct flows_flow	out[FLOWS_PAGE_MAX];
	struct flows_stats		st;
	struct flows_flow		v;
	struct flowreq_spec		s;
	char				tok[FLOWS_TOKEN_LEN + 1] = "";
	uint32_t			i, n, listed = 0;

	flows_stats(t, &st);
	cr_assert_eq(st.count, count);
	cr_assert_eq((uint32_t)F.live, count);
	for (i = 0; i < MN; i++) {
		s = mspec(i, M[i].tag, 0);
		if (!M[i].present) {
			cr_assert_eq(flows_find(t, &s, &v), -ENOENT);
			continue;
		}
		cr_assert_eq(flows_get(t, M[i].id, &v), 0);
		cr_assert_eq(v.expires_ms, M[i].expires);
		cr_assert_eq(flows_find(t, &s, &v), 0);
		cr_assert_eq(v.id, M[i].id);
	}
	do {
		cr_assert_eq(flows_list(t, NULL, tok, 97, out, &n, tok, NULL,
		    E, sizeof(E)), 0);
		listed += n;
	} while (tok[0] != '\0');
	cr_assert_eq(listed, count);
}

Test(flows, random_walk_matches_a_model)
{
	struct flows		*t = table(500);
	struct flowreq_spec	s;
	struct flows_flow	v;
	uint64_t		now = 0, prev_exp, ms;
	uint32_t		count = 0, i, step, ttl, ended, n;
	int			created, rc, tag, more;
	unsigned		seed = 12345;

	memset(M, 0, sizeof(M));
	for (step = 0; step < 60000; step++) {
		i = (uint32_t)rand_r(&seed) % MN;
		switch (rand_r(&seed) % 8) {
		case 0: case 1: case 2: case 3:
			tag = rand_r(&seed) % 8 == 0 ? !M[i].tag : M[i].tag;
			ttl = (uint32_t)(rand_r(&seed) % 3 == 0 ? 0 :
			    rand_r(&seed) % 20 + 1);
			s = mspec(i, tag, ttl);
			rc = flows_start(t, &s, "o", now, &v, &created, E,
			    sizeof(E));
			if (M[i].present && tag != M[i].tag) {
				cr_assert_eq(rc, -EEXIST);
				break;
			}
			if (!M[i].present && count == 500) {
				cr_assert_eq(rc, -ENOSPC);
				break;
			}
			cr_assert_eq(rc, 0, "%s", E);
			cr_assert_eq(created, !M[i].present);
			if (!M[i].present) {
				M[i].present = 1;
				M[i].tag = tag;
				M[i].id = v.id;
				M[i].expires = 0;
				count++;
			}
			if (ttl)
				M[i].expires = now + ttl * 1000;
			break;
		case 4: case 5:
			rc = M[i].present && rand_r(&seed) % 2 ?
			    flows_end_id(t, M[i].id, "o", 0, &v, E, sizeof(E)) :
			    (s = mspec(i, M[i].tag, 0),
			    flows_end_spec(t, &s, "o", 0, &v, E, sizeof(E)));
			cr_assert_eq(rc, M[i].present ? 0 : -ENOENT, "%s", E);
			if (M[i].present) {
				M[i].present = 0;
				count--;
			}
			break;
		case 6:
			now += (uint64_t)(rand_r(&seed) % 3000);
			prev_exp = 0;
			n = 0;
			do {
				cr_assert_eq(flows_expire(t, now, 5, NULL, NULL,
				    &ended, &more), 0);
				n += ended;
			} while (more);
			for (i = 0; i < MN; i++) {
				if (M[i].present && M[i].expires != 0 &&
				    M[i].expires <= now) {
					M[i].present = 0;
					count--;
					prev_exp++;
				}
			}
			cr_assert_eq(n, prev_exp);
			if (flows_next_expiry(t, &ms) == 0)
				cr_assert_gt(ms, now);
			break;
		default:
			if (step % 50 == 0)
				check_model(t, count);
			break;
		}
	}
	check_model(t, count);
	flows_free(t);
}

/* ---- indexes that grow with the live flows ------------------------------ */

/*
 * The spec index and the id order start small and grow; these read their
 * sizes from flows_index.h. Flow i of spec_i: a distinct match per i.
 */
static struct flowreq_spec
spec_i(const struct flowreq_spec *base, uint32_t i)
{
	struct flowreq_spec	s = *base;

	memcpy(s.rule.dst + 12, &i, 4);
	s.rule.sport = (uint16_t)(1024 + i % 50000);
	return s;
}

static uint64_t
gstart(struct flows *t, const struct flowreq_spec *base, uint32_t i,
    uint32_t ttl)
{
	struct flowreq_spec	s = spec_i(base, i);

	s.ttl_seconds = ttl;
	return start_ok(t, &s, i % 2 ? "fts" : "rucio", 0, 1);
}

/* Flows from..to-1 (ids[i], 0: ended) found by spec and by id, or not. */
static void
check_range(struct flows *t, const struct flowreq_spec *base,
    const uint64_t *ids, uint32_t from, uint32_t to)
{
	struct flowreq_spec	s;
	struct flows_flow	v;
	uint32_t		i;

	for (i = from; i < to; i++) {
		s = spec_i(base, i);
		if (ids[i] == 0) {
			cr_assert_eq(flows_find(t, &s, &v), -ENOENT, "%u", i);
			continue;
		}
		cr_assert_eq(flows_find(t, &s, &v), 0, "flow %u by spec", i);
		cr_assert_eq(v.id, ids[i], "flow %u by spec", i);
		cr_assert_eq(flows_get(t, ids[i], &v), 0, "flow %u by id", i);
		cr_assert_eq(memcmp(&v.spec.rule, &s.rule, sizeof(s.rule)), 0,
		    "flow %u by id", i);
	}
}

Test(flows, indexes_grow_and_every_flow_stays_findable)
{
	const uint32_t		N = 200000;
	struct flowreq_spec	base = spec_n(0, "atlas", "4", 0);
	struct flows_flow	v;
	struct flows		*t = table(300000);
	uint64_t		*ids = calloc(N + 80000, sizeof(*ids));
	uint32_t		i, buckets, ord, spec_grew = 0, ord_grew = 0;
	uint32_t		leased = 0;

	cr_assert_not_null(ids);
	cr_assert_eq(t->smask + 1, 1024, "starts small");
	cr_assert_eq(t->ord_cap, 1024);
	for (i = 0; i < N; i++) {
		buckets = t->smask + 1;
		ord = t->ord_cap;
		ids[i] = gstart(t, &base, i, i % 3 ? 0 : 60);
		leased += i % 3 == 0;
		cr_assert_leq((uint64_t)t->count * 3,
		    (uint64_t)(t->smask + 1) * 2, "load over 2/3 at %u flows",
		    t->count);
		if (t->smask + 1 != buckets) {
			cr_assert_eq(t->smask + 1, buckets * 2);
			spec_grew++;
			check_range(t, &base, ids, 0, i + 1);
		}
		if (t->ord_cap != ord) {
			cr_assert_eq(t->ord_cap, ord * 2);
			ord_grew++;
			check_range(t, &base, ids, 0, i + 1);
		}
	}
	/* 1024 -> 2^19 buckets; 1024 -> 2^18 entries. */
	cr_assert_eq(spec_grew, 9);
	cr_assert_eq(ord_grew, 8);
	cr_assert_eq(t->smask + 1, 1u << 19);
	cr_assert_eq(t->spec_max, 1u << 19, "what 300000 flows need");

	/*
	 * Tombstones in every other place: the next full id order is
	 * compacted, not grown, and the ended flows are gone by spec too.
	 */
	for (i = 0; i < N; i += 2) {
		cr_assert_eq(flows_end_id(t, ids[i], "x", 1, &v, E,
		    sizeof(E)), 0, "%s", E);
		ids[i] = 0;
		leased -= i % 3 == 0;
	}
	ord = t->ord_cap;
	for (i = N; i < N + 80000; i++)
		ids[i] = gstart(t, &base, i, 0);
	cr_assert_eq(t->ord_cap, ord, "compacted rather than grown");
	cr_assert_lt(t->ord_len, N, "compacted");
	cr_assert_eq(t->count, N / 2 + 80000);
	check_range(t, &base, ids, 0, N + 80000);
	cr_assert_eq(t->heap_n, leased);
	free(ids);
	flows_free(t);
}

/*
 * The paging guarantee of flows.h across growth: starts between pages
 * double the spec index and the id order (and ends leave tombstones for
 * the compact-or-grow choice), yet every flow alive throughout is listed
 * exactly once, in id order, and so is every flow started during the
 * listing that is still alive.
 */
Test(flows, listing_while_the_indexes_grow)
{
	static struct flows_flow	out[FLOWS_PAGE_MAX];
	static uint64_t			ids[6000], got[6000];
	static uint8_t			churned[6000];
	struct flowreq_spec		base = spec_n(0, "atlas", "4", 0);
	struct flows_flow		v;
	struct flows			*t = table(100000);
	char				tok[FLOWS_TOKEN_LEN + 1] = "";
	uint64_t			first;
	uint32_t			i, j, n, nl = 0, ngot = 0, k = 0;
	uint32_t			buckets, ord;

	for (; nl < 600; nl++)
		ids[nl] = gstart(t, &base, nl, 0);
	first = ids[0];
	buckets = t->smask + 1;
	ord = t->ord_cap;
	do {
		cr_assert_eq(flows_list(t, NULL, tok, 50, out, &n, tok, NULL,
		    E, sizeof(E)), 0, "%s", E);
		for (j = 0; j < n; j++) {
			cr_assert_lt(ngot, 6000);
			got[ngot++] = out[j].id;
		}
		if (tok[0] == '\0' || nl >= 5000)
			continue;
		for (j = 0; j < 10; j++) {
			i = (k++ * 7919) % nl;
			if (ids[i] == 0)
				continue;
			cr_assert_eq(flows_end_id(t, ids[i], "x", 1, &v, E,
			    sizeof(E)), 0, "%s", E);
			ids[i] = 0;
			churned[i] = 1;
		}
		for (j = 0; j < 70; j++, nl++)
			ids[nl] = gstart(t, &base, nl, 0);
	} while (tok[0] != '\0');
	cr_assert_gt(t->smask + 1, buckets * 2, "the spec index grew");
	cr_assert_gt(t->ord_cap, ord * 2, "the id order grew");

	for (j = 1; j < ngot; j++)
		cr_assert_lt(got[j - 1], got[j], "order at %u", j);
	/* ids[] ascend with i; got[] too: one merge pass. */
	for (i = 0, j = 0; i < nl; i++) {
		if (ids[i] == 0) {
			cr_assert(churned[i]);
			continue;
		}
		while (j < ngot && got[j] < ids[i])
			j++;
		cr_assert(j < ngot && got[j] == ids[i], "flow %u (id %" PRIu64
		    ") not listed", i, ids[i]);
	}
	/* Flow i has id first + i: nothing listed that never existed. */
	for (j = 0; j < ngot; j++)
		cr_assert(got[j] >= first && got[j] - first < nl);
	flows_free(t);
}

/* Growth never goes past what the capacity needs, and the limit stays. */
Test(flows, capacity_is_exact_while_the_indexes_grow)
{
	static uint64_t		ids[5000];
	struct flowreq_spec	base = spec_n(0, "atlas", "4", 0), s;
	struct flows_flow	v;
	struct flows		*t = table(5000);
	uint32_t		i, next = 5000;
	int			created;

	for (i = 0; i < 5000; i++)
		ids[i] = gstart(t, &base, i, 0);
	s = spec_i(&base, next);
	cr_assert_eq(flows_start(t, &s, "fts", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);
	cr_assert_str_eq(E, "flow table full (capacity 5000)");
	cr_assert_eq(t->smask + 1, 8192, "2^13 >= 5000 * 3/2");
	cr_assert_eq(t->spec_max, 8192);
	cr_assert_leq(t->ord_cap, 5000 + 5000 / 4 + 64);

	/* A full table that keeps turning over: compacts at its limit. */
	for (i = 0; i < 50000; i++) {
		cr_assert_eq(flows_end_id(t, ids[i % 5000], "x", 1, &v, E,
		    sizeof(E)), 0, "%s", E);
		ids[i % 5000] = gstart(t, &base, next++, 0);
		cr_assert_eq(t->count, 5000);
	}
	cr_assert_eq(t->smask + 1, 8192);
	cr_assert_eq(t->ord_cap, t->ord_max);
	s = spec_i(&base, next);
	cr_assert_eq(flows_start(t, &s, "fts", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);
	for (i = 0; i < 5000; i++)
		cr_assert_eq(flows_get(t, ids[i], &v), 0);
	flows_free(t);

	/* The smallest table. */
	t = table(1);
	cr_assert_eq(t->smask + 1, 16);
	cr_assert_eq(t->ord_cap, 1 + 64);
	gstart(t, &base, 0, 0);
	s = spec_i(&base, 1);
	cr_assert_eq(flows_start(t, &s, "fts", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);
	flows_free(t);
}

/*
 * The named-pipe case: 10^6 flows come and go, at most 1000 live, in a
 * table of the default capacity. What the indexes touch follows the live
 * flows: spec index, id order, slab high-water and heap stay small.
 */
Test(flows, churn_keeps_the_indexes_small)
{
	static uint64_t		ring[1000];
	const uint32_t		N = 1000000;
	struct flowreq_spec	base = spec_n(0, "atlas", "4", 0);
	struct flows_flow	v;
	struct flows		*t = table(0);
	uint32_t		i, most = 0;

	for (i = 0; i < N; i++) {
		if (i >= 1000)
			cr_assert_eq(flows_end_id(t, ring[i % 1000], "x", 1,
			    &v, E, sizeof(E)), 0, "%s", E);
		ring[i % 1000] = gstart(t, &base, i, i % 2 ? 0 : 30);
		if (t->ord_len > most)
			most = t->ord_len;
	}
	cr_assert_eq(t->count, 1000);
	cr_assert_eq(t->smask + 1, 2048, "1000 flows fit 2048 at 2/3");
	cr_assert_eq(t->ord_cap, 2048);
	cr_assert_leq(most, 2048);
	cr_assert_leq(t->hiwater, 1000, "slots reused before new ones");
	cr_assert_eq(t->heap_n, 500);
	flows_free(t);
}

static size_t
vm_bytes(void)
{
	unsigned long	size = 0;
	FILE		*fp = fopen("/proc/self/statm", "r");

	cr_assert_not_null(fp);
	cr_assert_eq(fscanf(fp, "%lu", &size), 1);
	fclose(fp);
	return size * (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * One start with the address space capped just above what the process
 * maps: the slab and heap are mapped already, so what fails is a growth
 * of 1 MiB or more, as it would when the machine runs out of memory.
 */
static int
start_short_of_memory(struct flows *t, const struct flowreq_spec *s)
{
	struct flows_flow	v;
	struct rlimit		old, rl;
	int			rc, created;

	cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
	rl = old;
	rl.rlim_cur = vm_bytes() + 512 * 1024;
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < rl.rlim_cur)
		cr_skip_test("RLIMIT_AS hard limit too low to test with");
	cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
	E[0] = '\0';
	rc = flows_start(t, s, "new-owner", 0, &v, &created, E, sizeof(E));
	cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
	return rc;
}

/* What a failed growth must leave as it was. */
struct snap {
	uint32_t	count, buckets, ord_cap, ord_len, owners;
	int		adds;
};

static struct snap
snap(const struct flows *t)
{
	struct flows_stats	st;

	flows_stats(t, &st);
	return (struct snap){ st.count, t->smask + 1, t->ord_cap, t->ord_len,
	    st.owners, F.adds };
}

Test(flows, growth_without_memory_fails_and_changes_nothing)
{
	const uint32_t		N = 174762;	/* 2/3 of 2^18, rounded down */
	struct flowreq_spec	base = spec_n(0, "atlas", "4", 0), s;
	struct flows_flow	v;
	struct flows		*t = table(0);
	struct snap		a, b;
	uint64_t		*ids = calloc(N + 1, sizeof(*ids));
	uint32_t		i;

	cr_assert_not_null(ids);
	for (i = 0; i < 131072; i++)
		ids[i] = gstart(t, &base, i, 0);
	cr_assert_eq(t->ord_len, t->ord_cap, "the id order is full");

	s = spec_i(&base, i);
	a = snap(t);
	cr_assert_eq(start_short_of_memory(t, &s), -ENOMEM);
	cr_assert_str_eq(E, "flow table: out of memory growing the id order "
	    "to 262144 entries (131072 flows)");
	b = snap(t);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "the table changed");
	cr_assert_eq(flows_find(t, &s, &v), -ENOENT);
	/* The same start with memory: it gets the next id, none was lost. */
	ids[i] = gstart(t, &base, i, 0);
	cr_assert_eq(ids[i], ids[i - 1] + 1);
	cr_assert_eq(t->ord_cap, 262144);

	for (i++; i < N; i++)
		ids[i] = gstart(t, &base, i, 0);
	cr_assert_eq(t->smask + 1, 1u << 18);
	s = spec_i(&base, i);
	a = snap(t);
	cr_assert_eq(start_short_of_memory(t, &s), -ENOMEM);
	cr_assert_str_eq(E, "flow table: out of memory growing the spec index "
	    "to 524288 entries (174762 flows)");
	b = snap(t);
	cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "the table changed");
	check_range(t, &base, ids, 0, N);
	ids[i] = gstart(t, &base, i, 0);
	cr_assert_eq(ids[i], ids[i - 1] + 1);
	cr_assert_eq(t->smask + 1, 1u << 19);
	check_range(t, &base, ids, 0, N + 1);
	free(ids);
	flows_free(t);
}

/* ---- 10^6 flows --------------------------------------------------------- */

static double
secs(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static size_t
heap_bytes(void)
{
	struct mallinfo2	mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static size_t
rss_bytes(void)
{
	unsigned long	size, res = 0;
	FILE		*fp = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return 0;
	if (fscanf(fp, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(fp);
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * Measured (gcc, RelWithDebInfo, x86-64): 113.0 bytes per flow allocated
 * at capacity 10^6, all of it resident when full: flow record 88, spec
 * index 8.4 (grown to 2^21 x 4-byte slots), id order 12.6 (grown to 2^20
 * x 12), expiry heap 4; 92 of it (slab and heap) at flows_new. Times are
 * printed, not asserted.
 */
Test(flows, a_million_flows)
{
	static struct flows_flow	out[FLOWS_PAGE_MAX];
	const uint32_t			N = FLOWS_CAPACITY_DEFAULT;
	struct flowreq_spec		s, base;
	struct flows_flow		v;
	struct flows_drain		d;
	struct timespec			t0, t1, t2, t3, t4, t5;
	struct flows			*t;
	char				tok[FLOWS_TOKEN_LEN + 1] = "";
	size_t				h0, h1, h2, r0, r1;
	uint64_t			first = 0, total;
	uint32_t			i, n, ended;
	int				created, more, pages = 0;
	double				per;

	base = spec_n(0, "atlas", "4", 0);
	h0 = heap_bytes();
	r0 = rss_bytes();
	t = table(0);
	h1 = heap_bytes();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < N; i++) {
		s = base;
		memcpy(s.rule.dst + 12, &i, 4);
		s.rule.sport = (uint16_t)(1024 + i % 50000);
		s.ttl_seconds = i % 2 ? 0 : 1 + i % 3600;
		cr_assert_eq(flows_start(t, &s, i % 2 ? "fts" : "rucio", 0,
		    &v, &created, E, sizeof(E)), 0, "%u: %s", i, E);
		if (i == 0)
			first = v.id;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	h2 = heap_bytes();
	r1 = rss_bytes();
	s = base;
	memcpy(s.rule.dst + 12, &N, 4);
	cr_assert_eq(flows_start(t, &s, "fts", 0, &v, &created, E, sizeof(E)),
	    -ENOSPC);

	for (i = 0; i < N; i++)
		cr_assert_eq(flows_get(t, first + i, &v), 0);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	do {
		cr_assert_eq(flows_list(t, NULL, tok, FLOWS_PAGE_MAX, out, &n,
		    tok, &total, E, sizeof(E)), 0);
		pages++;
	} while (tok[0] != '\0');
	cr_assert_eq(pages, N / FLOWS_PAGE_MAX);
	clock_gettime(CLOCK_MONOTONIC, &t3);
	do {
		cr_assert_eq(flows_expire(t, UINT64_MAX / 2, 10000, NULL, NULL,
		    &ended, &more), 0);
	} while (more);
	clock_gettime(CLOCK_MONOTONIC, &t4);
	memset(&d, 0, sizeof(d));
	do {
		cr_assert_eq(flows_drain(t, NULL, 10000, NULL, NULL, &d), 0);
	} while (d.more);
	clock_gettime(CLOCK_MONOTONIC, &t5);
	cr_assert_eq(d.ended, N / 2);

	per = (double)(h2 - h0) / N;
	fprintf(stderr, "flows: %u flows: %.1f bytes/flow allocated "
	    "(%.1f at flows_new), rss +%.1f bytes/flow; start %.0f ns, get "
	    "%.0f ns, list %.0f ns/flow, expire %.0f ns, drain %.0f ns\n", N,
	    per, (double)(h1 - h0) / N, (double)(r1 - r0) / N,
	    secs(&t0, &t1) * 1e9 / N, secs(&t1, &t2) * 1e9 / N,
	    secs(&t2, &t3) * 1e9 / N, secs(&t3, &t4) * 1e9 / (N / 2),
	    secs(&t4, &t5) * 1e9 / (N / 2));
	/* mallinfo2 sees nothing under ASan's allocator: nothing to check. */
	if (h2 > h0)
		cr_assert_leq(per, 150.0, "%.1f bytes per flow", per);
	flows_free(t);
}

/* A backend with del_many: how the agent drains (many per round trip). */
struct fake_many {
	int	calls;
	size_t	most;
	int	fail_call;	/* rc of the whole call while set */
	uint16_t fail_port;	/* this rule's rc is -EPERM */
	uint16_t gone_port;	/* this rule's rc is -ENOENT */
};

static struct fake_many FM;

static int
fake_del_many(void *arg, const struct marker_rule *rules, size_t n,
    int32_t *rc)
{
	size_t	i;

	(void)arg;
	FM.calls++;
	if (n > FM.most)
		FM.most = n;
	if (FM.fail_call)
		return FM.fail_call;
	for (i = 0; i < n; i++) {
		rc[i] = 0;
		if (rules[i].sport == FM.fail_port)
			rc[i] = -EPERM;
		else if (rules[i].sport == FM.gone_port)
			rc[i] = -ENOENT;
		else
			F.live--;
	}
	return 0;
}

Test(flows, drain_deletes_many_rules_per_backend_call)
{
	struct flows_opts	o = {
		.capacity = 1000,
		.backend = { fake_add, fake_del, &F, fake_del_many },
		.reg = R,
	};
	struct flowreq_spec	s;
	struct flows_drain	d;
	struct flows_flow	v;
	struct flows		*t;
	uint32_t		i;
	uint64_t		stuck = 0;

	memset(&FM, 0, sizeof(FM));
	cr_assert_eq(flows_new(&o, &t, E, sizeof(E)), 0, "%s", E);
	for (i = 0; i < 300; i++) {
		s = spec_n(i, "atlas", "4", 0);
		start_ok(t, &s, "a", 0, 1);
		if (i == 10) {
			FM.fail_port = s.rule.sport;
			cr_assert_eq(flows_find(t, &s, &v), 0);
			stuck = v.id;
		} else if (i == 11)
			FM.gone_port = s.rule.sport;
	}
	cr_assert_neq(FM.fail_port, FM.gone_port);

	/* A channel error: nothing ended, every flow stays. */
	FM.fail_call = -EPIPE;
	memset(&d, 0, sizeof(d));
	cr_assert_eq(flows_drain(t, NULL, 100, NULL, NULL, &d), 0);
	cr_assert_eq(d.ended, 0);
	cr_assert_eq(d.failed, 100);
	FM.fail_call = 0;

	memset(&d, 0, sizeof(d));
	do {
		cr_assert_eq(flows_drain(t, NULL, 1000, NULL, NULL, &d), 0);
	} while (d.more);
	/* One refused; the one already gone counts as deleted. */
	cr_assert_eq(d.ended, 299);
	cr_assert_eq(d.failed, 1);
	cr_assert_eq(flows_get(t, stuck, &v), 0, "the refused flow stays");
	cr_assert_eq(F.dels, 0, "no one-at-a-time deletes");
	cr_assert_eq(FM.most, FLOWS_DEL_MANY);
	/* 2 calls of the failed pass, then ceil(300 / 64) = 5. */
	cr_assert_eq(FM.calls, 2 + 5, "%d backend calls", FM.calls);
	flows_free(t);
}
