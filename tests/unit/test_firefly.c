/*
 * test_firefly.c: fireflies out and in (notes/scitags.md §4). Every
 * datagram ff_format writes is read back twice: by ff_parse, and by jansson
 * here, checked member by member against the schema. What other agents
 * send (XRootD, dCache) parses; every kind of bad datagram is refused with
 * its ff_bad and a message that names the field.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "firefly.h"
#include "tag.h"

#define HOST	"dtn1.example.org"
#define APP	"sctagd"

#define assert_has(hay, needle)						\
	cr_assert(strstr((hay), (needle)) != NULL,			\
	    "message '%s' lacks '%s'", (hay), (needle))

static const char *const state_name[] = { "start", "ongoing", "end" };

static void
set_addr(struct ff_flow *f, const char *src, const char *dst)
{
	struct in_addr	a4;

	if (f->family == AF_INET6) {
		cr_assert_eq(inet_pton(AF_INET6, src, f->src), 1);
		cr_assert_eq(inet_pton(AF_INET6, dst, f->dst), 1);
		return;
	}
	memset(f->src, 0, 16);
	memset(f->dst, 0, 16);
	f->src[10] = f->src[11] = f->dst[10] = f->dst[11] = 0xff;
	cr_assert_eq(inet_pton(AF_INET, src, &a4), 1);
	memcpy(f->src + 12, &a4, 4);
	cr_assert_eq(inet_pton(AF_INET, dst, &a4), 1);
	memcpy(f->dst + 12, &a4, 4);
}

static void
make_event(struct ff_event *ev, enum ff_state st, int family, int usage,
    int netlink)
{
	memset(ev, 0, sizeof(*ev));
	ev->state = st;
	ev->flow.family = family;
	if (family == AF_INET6)
		set_addr(&ev->flow, "2001:db8::10", "2001:db8:1::7");
	else
		set_addr(&ev->flow, "192.0.2.10", "198.51.100.7");
	ev->flow.proto = IPPROTO_TCP;
	ev->flow.sport = 2001;
	ev->flow.dport = 49378;
	ev->flow.exp = 3;
	ev->flow.act = 14;
	snprintf(ev->flow.application, sizeof(ev->flow.application),
	    "http-put");
	ev->start.tv_sec = 1729241304;
	ev->start.tv_nsec = 201540123;	/* below a microsecond: cut */
	ev->now.tv_sec = 1729241304;
	ev->now.tv_nsec = 230146000;
	if (st == FF_END)
		ev->end = ev->now;
	ev->has_usage = usage;
	ev->usage.received = 813;
	ev->usage.sent = 10507049;
	ev->has_netlink = netlink;
	ev->netlink.has_rtt = 1;
	ev->netlink.rtt_ms = 0.053;
	ev->netlink.has_cwnd = 1;
	ev->netlink.cwnd = 10;
	ev->netlink.has_retrans = 1;
	ev->netlink.retransmits = 2;
	ev->netlink.has_rate = 1;
	ev->netlink.delivery_rate = 1250000000;
}

static void
assert_time_us(const struct timespec *got, const struct timespec *want,
    const char *what)
{
	cr_assert_eq(got->tv_sec, want->tv_sec, "%s seconds", what);
	cr_assert_eq(got->tv_nsec, want->tv_nsec / 1000 * 1000,
	    "%s: %ld ns, want %ld", what, got->tv_nsec, want->tv_nsec);
}

static void
assert_flow_eq(const struct ff_flow *a, const struct ff_flow *b)
{
	cr_assert_eq(a->family, b->family);
	cr_assert_arr_eq(a->src, b->src, 16);
	cr_assert_arr_eq(a->dst, b->dst, 16);
	cr_assert_eq(a->proto, b->proto);
	cr_assert_eq(a->sport, b->sport);
	cr_assert_eq(a->dport, b->dport);
	cr_assert_eq(a->exp, b->exp);
	cr_assert_eq(a->act, b->act);
	cr_assert_str_eq(a->application, b->application);
}

/* A date-time member: a string that parses and equals want to the µs. */
static void
check_time_member(json_t *o, const char *key, const struct timespec *want)
{
	struct timespec	 t;
	json_t		*v = json_object_get(o, key);

	cr_assert(json_is_string(v), "%s is not a string", key);
	cr_assert_eq(ff_time_parse(json_string_value(v), &t), 0,
	    "%s '%s' does not parse", key, json_string_value(v));
	assert_time_us(&t, want, key);
}

static void
check_keys_exactly(json_t *o, const char *const *keys, const char *what)
{
	const char	*key;
	json_t		*v;
	size_t		 i, n = 0;
	int		 found;

	json_object_foreach(o, key, v) {
		found = 0;
		for (i = 0; keys[i] != NULL; i++)
			found |= strcmp(key, keys[i]) == 0;
		cr_assert(found, "%s: unexpected key '%s'", what, key);
		n++;
	}
	for (i = 0; keys[i] != NULL; i++)
		cr_assert_not_null(json_object_get(o, keys[i]), "%s: no '%s'",
		    what, keys[i]);
	cr_assert_eq(n, i, "%s: %zu keys, want %zu", what, n, i);
}

static void
check_int_member(json_t *o, const char *key, json_int_t want)
{
	json_t	*v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "%s is not an integer", key);
	cr_assert_eq(json_integer_value(v), want, "%s: %lld, want %lld", key,
	    (long long)json_integer_value(v), (long long)want);
}

static void
check_str_member(json_t *o, const char *key, const char *want)
{
	json_t	*v = json_object_get(o, key);

	cr_assert(json_is_string(v), "%s is not a string", key);
	cr_assert_str_eq(json_string_value(v), want, "%s", key);
}

static void
check_addr_member(json_t *o, const char *key, int family,
    const uint8_t want[16])
{
	json_t	*v = json_object_get(o, key);
	uint8_t	 a[16];

	cr_assert(json_is_string(v), "%s is not a string", key);
	/* In the afi's own form: dotted IPv4, never ::ffff:a.b.c.d. */
	if (family == AF_INET) {
		cr_assert_eq(inet_pton(AF_INET, json_string_value(v), a), 1,
		    "%s '%s' is not IPv4", key, json_string_value(v));
		cr_assert_arr_eq(a, want + 12, 4);
	} else {
		cr_assert_eq(inet_pton(AF_INET6, json_string_value(v), a), 1,
		    "%s '%s' is not IPv6", key, json_string_value(v));
		cr_assert_arr_eq(a, want, 16);
	}
}

/* The JSON of a formatted firefly against schema v1 and the event. */
static void
check_doc(const char *text, const struct ff_event *ev)
{
	static const char *const lc_end[] = {
		"state", "start-time", "end-time", "current-time", NULL
	};
	static const char *const lc_other[] = {
		"state", "start-time", "current-time", NULL
	};
	static const char *const fid_keys[] = {
		"afi", "src-ip", "dst-ip", "protocol", "src-port", "dst-port",
		NULL
	};
	static const char *const ctx_keys[] = {
		"experiment-id", "activity-id", "application", NULL
	};
	static const char *const usage_keys[] = { "received", "sent", NULL };
	static const char *const nl_keys[] = {
		"rtt", "cwnd", "retransmits", "delivery-rate", NULL
	};
	const char	*top[7], *key;
	json_error_t	 je;
	json_t		*root, *o, *v;
	size_t		 n = 0;

	root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	cr_assert_not_null(root, "jansson: %s in %s", je.text, text);
	cr_assert(json_is_object(root));

	top[n++] = "version";
	top[n++] = "flow-lifecycle";
	top[n++] = "context";
	top[n++] = "flow-id";
	if (ev->has_usage)
		top[n++] = "usage";
	if (ev->has_netlink)
		top[n++] = "netlink";
	top[n] = NULL;
	check_keys_exactly(root, top, "(root)");
	check_int_member(root, "version", 1);

	o = json_object_get(root, "flow-lifecycle");
	cr_assert(json_is_object(o));
	check_keys_exactly(o, ev->state == FF_END ? lc_end : lc_other,
	    "flow-lifecycle");
	check_str_member(o, "state", state_name[ev->state]);
	check_time_member(o, "start-time", &ev->start);
	if (ev->state == FF_END)
		check_time_member(o, "end-time", &ev->end);
	check_time_member(o, "current-time", &ev->now);

	o = json_object_get(root, "context");
	cr_assert(json_is_object(o));
	if (ev->flow.application[0] != '\0') {
		check_keys_exactly(o, ctx_keys, "context");
		check_str_member(o, "application", ev->flow.application);
	} else {
		cr_assert_null(json_object_get(o, "application"));
		cr_assert_eq(json_object_size(o), 2);
	}
	check_int_member(o, "experiment-id", ev->flow.exp);
	check_int_member(o, "activity-id", ev->flow.act);

	o = json_object_get(root, "flow-id");
	cr_assert(json_is_object(o));
	check_keys_exactly(o, fid_keys, "flow-id");
	check_str_member(o, "afi", ev->flow.family == AF_INET ? "ipv4" :
	    "ipv6");
	check_addr_member(o, "src-ip", ev->flow.family, ev->flow.src);
	check_addr_member(o, "dst-ip", ev->flow.family, ev->flow.dst);
	check_str_member(o, "protocol", ev->flow.proto == IPPROTO_TCP ?
	    "tcp" : "udp");
	check_int_member(o, "src-port", ev->flow.sport);
	check_int_member(o, "dst-port", ev->flow.dport);

	if (ev->has_usage) {
		o = json_object_get(root, "usage");
		cr_assert(json_is_object(o));
		check_keys_exactly(o, usage_keys, "usage");
		check_int_member(o, "received", (json_int_t)ev->usage.received);
		check_int_member(o, "sent", (json_int_t)ev->usage.sent);
	}
	if (ev->has_netlink) {
		o = json_object_get(root, "netlink");
		cr_assert(json_is_object(o));
		json_object_foreach(o, key, v) {
			size_t i;
			int found = 0;

			for (i = 0; nl_keys[i] != NULL; i++)
				found |= strcmp(key, nl_keys[i]) == 0;
			cr_assert(found, "netlink: unexpected key '%s'", key);
		}
		v = json_object_get(o, "rtt");
		cr_assert_eq(v != NULL, ev->netlink.has_rtt != 0);
		if (v != NULL) {
			cr_assert(json_is_real(v), "rtt is not a real");
			cr_assert_float_eq(json_real_value(v),
			    ev->netlink.rtt_ms, 1e-12);
		}
		cr_assert_eq(json_object_get(o, "cwnd") != NULL,
		    ev->netlink.has_cwnd != 0);
		if (ev->netlink.has_cwnd)
			check_int_member(o, "cwnd", ev->netlink.cwnd);
		cr_assert_eq(json_object_get(o, "retransmits") != NULL,
		    ev->netlink.has_retrans != 0);
		if (ev->netlink.has_retrans)
			check_int_member(o, "retransmits",
			    ev->netlink.retransmits);
		cr_assert_eq(json_object_get(o, "delivery-rate") != NULL,
		    ev->netlink.has_rate != 0);
		if (ev->netlink.has_rate)
			check_int_member(o, "delivery-rate",
			    (json_int_t)ev->netlink.delivery_rate);
	}
	json_decref(root);
}

/* "<134>1 TIMESTAMP HOST APP - firefly-json - {": returns the JSON. */
static const char *
check_header(const char *dg, const struct ff_event *ev)
{
	char	want[256], ts[FF_TIME_LEN];

	cr_assert_eq(ff_time_format(&ev->now, ts, sizeof(ts)), 0);
	snprintf(want, sizeof(want), "<134>1 %s %s %s - firefly-json - {", ts,
	    HOST, APP);
	cr_assert_eq(strncmp(dg, want, strlen(want)), 0, "header of '%s', "
	    "want '%s'", dg, want);
	return dg + strlen(want) - 1;
}

static void
assert_order(const char *json, const char *a, const char *b)
{
	const char *pa = strstr(json, a), *pb = strstr(json, b);

	cr_assert(pa != NULL && pb != NULL && pa < pb, "%s not before %s in %s",
	    a, b, json);
}

static void
round_trip(const struct ff_event *ev)
{
	struct ff_event	 got;
	enum ff_bad	 why = FF_BAD_COUNT;
	char		 dg[FF_DATAGRAM_MAX + 1], err[256];
	const char	*json;
	size_t		 len = 0;
	int		 rc;

	rc = ff_format(ev, HOST, APP, dg, sizeof(dg), &len, err, sizeof(err));
	cr_assert_eq(rc, 0, "ff_format: %d %s", rc, err);
	cr_assert_eq(len, strlen(dg));
	cr_assert_leq(len, FF_DATAGRAM_MAX);
	json = check_header(dg, ev);
	/* Compact: no space after a separator. */
	cr_assert_null(strstr(json, "\": "), "%s", json);
	cr_assert_null(strstr(json, ", \""), "%s", json);
	cr_assert_null(strstr(json, "null"), "%s", json);
	assert_order(json, "\"version\"", "\"flow-lifecycle\"");
	assert_order(json, "\"flow-lifecycle\"", "\"context\"");
	assert_order(json, "\"context\"", "\"flow-id\"");
	if (ev->has_usage)
		assert_order(json, "\"flow-id\"", "\"usage\"");
	if (ev->has_netlink)
		assert_order(json, "\"flow-id\"", "\"netlink\"");
	check_doc(json, ev);

	memset(&got, 0xA5, sizeof(got));
	rc = ff_parse(dg, len, &got, &why, err, sizeof(err));
	cr_assert_eq(rc, 0, "ff_parse: %d %s: %s", rc, err, dg);
	cr_assert_eq(why, FF_BAD_NONE);
	cr_assert_eq(got.state, ev->state);
	assert_flow_eq(&got.flow, &ev->flow);
	assert_time_us(&got.start, &ev->start, "start");
	assert_time_us(&got.now, &ev->now, "now");
	if (ev->state == FF_END)
		assert_time_us(&got.end, &ev->end, "end");
	else
		cr_assert(got.end.tv_sec == 0 && got.end.tv_nsec == 0);
	cr_assert_eq(got.has_usage, ev->has_usage);
	if (ev->has_usage) {
		cr_assert_eq(got.usage.received, ev->usage.received);
		cr_assert_eq(got.usage.sent, ev->usage.sent);
	}
	cr_assert_eq(!!got.has_netlink, !!ev->has_netlink);
	if (ev->has_netlink) {
		cr_assert_eq(!!got.netlink.has_rtt, !!ev->netlink.has_rtt);
		if (ev->netlink.has_rtt)
			cr_assert_float_eq(got.netlink.rtt_ms,
			    ev->netlink.rtt_ms, 1e-12);
		cr_assert_eq(!!got.netlink.has_cwnd, !!ev->netlink.has_cwnd);
		cr_assert_eq(got.netlink.cwnd, ev->netlink.has_cwnd ?
		    ev->netlink.cwnd : 0);
		cr_assert_eq(!!got.netlink.has_retrans,
		    !!ev->netlink.has_retrans);
		cr_assert_eq(got.netlink.retransmits,
		    ev->netlink.has_retrans ? ev->netlink.retransmits : 0);
		cr_assert_eq(!!got.netlink.has_rate, !!ev->netlink.has_rate);
		cr_assert_eq(got.netlink.delivery_rate,
		    ev->netlink.has_rate ? ev->netlink.delivery_rate : 0);
	}
}

Test(format, round_trip_every_state_family_and_part)
{
	static const enum ff_state states[] = { FF_START, FF_ONGOING, FF_END };
	static const int families[] = { AF_INET, AF_INET6 };
	struct ff_event	ev;
	size_t		s, f;
	int		parts;

	for (s = 0; s < 3; s++)
		for (f = 0; f < 2; f++)
			for (parts = 0; parts < 4; parts++) {
				make_event(&ev, states[s], families[f],
				    parts & 1, (parts >> 1) & 1);
				round_trip(&ev);
			}
}

Test(format, udp_no_application_partial_netlink)
{
	struct ff_event	ev;

	make_event(&ev, FF_ONGOING, AF_INET6, 0, 1);
	ev.flow.proto = IPPROTO_UDP;
	ev.flow.application[0] = '\0';
	ev.netlink.has_cwnd = 0;
	ev.netlink.has_rate = 0;
	ev.netlink.rtt_ms = 12.0;	/* integral: must stay a JSON real */
	round_trip(&ev);
	ev.netlink.has_rtt = 0;
	ev.netlink.has_retrans = 0;	/* netlink present but empty */
	round_trip(&ev);
}

Test(format, rtt_is_short)
{
	struct ff_event	ev;
	char		dg[FF_DATAGRAM_MAX + 1], err[256];
	size_t		len;

	make_event(&ev, FF_END, AF_INET, 0, 1);
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, sizeof(dg), &len, err,
	    sizeof(err)), 0, "%s", err);
	assert_has(dg, "\"rtt\":0.053,");
}

Test(format, v4_mapped_ipv6_flow_stays_ipv6)
{
	struct ff_event	ev;

	make_event(&ev, FF_START, AF_INET6, 0, 0);
	set_addr(&ev.flow, "::ffff:192.0.2.1", "2001:db8::1");
	round_trip(&ev);
}

/* The biggest firefly there can be still fits one IPv6 minimum-MTU frame. */
Test(format, worst_case_fits)
{
	struct ff_event	ev, got;
	char		dg[FF_DATAGRAM_MAX + 1], err[256];
	char		host[FF_HOST_MAX + 1], app[FF_APP_MAX + 1];
	size_t		len;

	make_event(&ev, FF_END, AF_INET6, 1, 1);
	/* inet_ntop's longest IPv6 text: 39 characters. */
	set_addr(&ev.flow, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	ev.flow.sport = ev.flow.dport = 65535;
	ev.flow.exp = TAG_EXP_MAX;
	ev.flow.act = TAG_ACT_MAX;
	memset(ev.flow.application, '"', sizeof(ev.flow.application) - 1);
	ev.flow.application[sizeof(ev.flow.application) - 1] = '\0';
	ev.usage.received = ev.usage.sent = INT64_MAX;
	ev.netlink.rtt_ms = 1.23456789012345e-300;
	ev.netlink.cwnd = ev.netlink.retransmits = UINT32_MAX;
	ev.netlink.delivery_rate = INT64_MAX;
	memset(host, 'h', FF_HOST_MAX);
	host[FF_HOST_MAX] = '\0';
	memset(app, 'a', FF_APP_MAX);
	app[FF_APP_MAX] = '\0';
	cr_assert_eq(ff_format(&ev, host, app, dg, sizeof(dg), &len, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_leq(len, FF_DATAGRAM_MAX);
	cr_assert_eq(ff_parse(dg, len, &got, NULL, err, sizeof(err)), 0, "%s",
	    err);
	assert_flow_eq(&got.flow, &ev.flow);
	cr_assert_eq(got.usage.sent, (uint64_t)INT64_MAX);
}

Test(format, enospc)
{
	struct ff_event	ev;
	char		dg[2 * FF_DATAGRAM_MAX], err[256];
	size_t		len = 0, need;

	make_event(&ev, FF_END, AF_INET6, 1, 1);
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, sizeof(dg), &need, err,
	    sizeof(err)), 0);
	/* Room for the datagram but not its NUL. */
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, need, &len, err,
	    sizeof(err)), -ENOSPC);
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, 64, &len, err,
	    sizeof(err)), -ENOSPC);
	assert_has(err, "bytes");
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, need + 1, &len, err,
	    sizeof(err)), 0);
	cr_assert_eq(len, need);
}

struct bad_event {
	const char	*what;
	void		(*change)(struct ff_event *);
	const char	*msg;
};

static void
no_family(struct ff_event *e)
{
	e->flow.family = AF_UNIX;
}

static void
not_mapped(struct ff_event *e)
{
	e->flow.src[10] = 0;
}

static void
icmp(struct ff_event *e)
{
	e->flow.proto = IPPROTO_ICMP;
}

static void
sport0(struct ff_event *e)
{
	e->flow.sport = 0;
}

static void
dport0(struct ff_event *e)
{
	e->flow.dport = 0;
}

static void
state3(struct ff_event *e)
{
	e->state = (enum ff_state)3;
}

static void
exp_big(struct ff_event *e)
{
	e->flow.exp = TAG_EXP_MAX + 1;
}

static void
act_big(struct ff_event *e)
{
	e->flow.act = TAG_ACT_MAX + 1;
}

static void
no_start(struct ff_event *e)
{
	e->start.tv_sec = 0;
	e->start.tv_nsec = 0;
}

static void
no_end(struct ff_event *e)
{
	e->end.tv_sec = 0;
	e->end.tv_nsec = 0;
}

static void
no_now(struct ff_event *e)
{
	e->now.tv_sec = 0;
	e->now.tv_nsec = 0;
}

static void
bad_nsec(struct ff_event *e)
{
	e->start.tv_nsec = 1000000000;
}

static void
neg_time(struct ff_event *e)
{
	e->now.tv_sec = -5;
}

static void
ctrl_app(struct ff_event *e)
{
	e->flow.application[2] = '\n';
}

static void
utf8_app(struct ff_event *e)
{
	e->flow.application[2] = (char)0xff;
}

static void
big_usage(struct ff_event *e)
{
	e->has_usage = 1;
	e->usage.sent = UINT64_MAX;
}

static void
nan_rtt(struct ff_event *e)
{
	e->has_netlink = 1;
	e->netlink.rtt_ms = NAN;
}

static void
neg_rtt(struct ff_event *e)
{
	e->has_netlink = 1;
	e->netlink.rtt_ms = -1;
}

static void
big_rate(struct ff_event *e)
{
	e->has_netlink = 1;
	e->netlink.delivery_rate = UINT64_MAX;
}

static void
no_nul_app(struct ff_event *e)
{
	memset(e->flow.application, 'x', sizeof(e->flow.application));
}

Test(format, bad_events)
{
	static const struct bad_event bad[] = {
		{ "family", no_family, "family" },
		{ "not v4-mapped", not_mapped, "v4-mapped" },
		{ "icmp", icmp, "protocol" },
		{ "sport 0", sport0, "port 0" },
		{ "dport 0", dport0, "port 0" },
		{ "state 3", state3, "state" },
		{ "exp 1024", exp_big, "experiment 1024" },
		{ "act 64", act_big, "activity 64" },
		{ "no start", no_start, "start-time is missing" },
		{ "no end", no_end, "end-time is missing" },
		{ "no now", no_now, "current-time is missing" },
		{ "nsec", bad_nsec, "start-time is out of range" },
		{ "before 1970", neg_time, "current-time" },
		{ "control in application", ctrl_app, "control" },
		{ "application not UTF-8", utf8_app, "UTF-8" },
		{ "application without NUL", no_nul_app, "NUL" },
		{ "usage", big_usage, "usage" },
		{ "rtt NaN", nan_rtt, "rtt" },
		{ "rtt < 0", neg_rtt, "rtt" },
		{ "delivery-rate", big_rate, "delivery-rate" },
	};
	struct ff_event	ev;
	char		dg[FF_DATAGRAM_MAX + 1], err[256];
	size_t		i, len;
	int		rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_event(&ev, FF_END, AF_INET, 0, 0);
		bad[i].change(&ev);
		err[0] = '\0';
		rc = ff_format(&ev, HOST, APP, dg, sizeof(dg), &len, err,
		    sizeof(err));
		cr_assert_eq(rc, -EINVAL, "%s: rc %d", bad[i].what, rc);
		assert_has(err, bad[i].msg);
	}
	/* end-time matters on end fireflies only. */
	make_event(&ev, FF_START, AF_INET, 0, 0);
	no_end(&ev);
	cr_assert_eq(ff_format(&ev, HOST, APP, dg, sizeof(dg), &len, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_null(strstr(dg, "end-time"));
}

Test(format, bad_host_and_app)
{
	static const char *const bad_host[] = { "", "a b", "host\n", "h\x7f" };
	struct ff_event	ev;
	char		dg[FF_DATAGRAM_MAX + 1], err[256], longname[300];
	size_t		i, len;

	make_event(&ev, FF_START, AF_INET6, 0, 0);
	for (i = 0; i < sizeof(bad_host) / sizeof(bad_host[0]); i++) {
		cr_assert_eq(ff_format(&ev, bad_host[i], APP, dg, sizeof(dg),
		    &len, err, sizeof(err)), -EINVAL, "host %zu", i);
		assert_has(err, "host");
	}
	memset(longname, 'h', FF_HOST_MAX + 1);
	longname[FF_HOST_MAX + 1] = '\0';
	cr_assert_eq(ff_format(&ev, longname, APP, dg, sizeof(dg), &len, err,
	    sizeof(err)), -EINVAL);
	longname[FF_APP_MAX + 1] = '\0';
	cr_assert_eq(ff_format(&ev, HOST, longname, dg, sizeof(dg), &len, err,
	    sizeof(err)), -EINVAL);
	assert_has(err, "app");
	cr_assert_eq(ff_format(&ev, HOST, NULL, dg, sizeof(dg), &len, err,
	    sizeof(err)), -EINVAL);
	/* No err buffer: still an error code, no crash. */
	cr_assert_eq(ff_format(&ev, "", APP, dg, sizeof(dg), &len, NULL, 0),
	    -EINVAL);
}

/* --- reading what others send --------------------------------------- */

/* notes §4: an XRootD end firefly, as sent (addresses replaced). */
static const char xrootd_end[] =
    "<134>1 - xrootd-server.example.org xrootd - firefly-json - "
    "{\"version\":1,\"flow-lifecycle\":{\"state\":\"end\",\"current-time\":"
    "\"2024-10-18T08:48:24.230146+00:00\",\"start-time\":"
    "\"2024-10-18T08:48:24.201540+00:00\",\"end-time\":"
    "\"2024-10-18T08:48:24.230146+00:00\"},\"usage\":{\"received\":813,"
    "\"sent\":10507049},\"netlink\":{\"rtt\":0.053},\"context\":"
    "{\"experiment-id\":2,\"activity-id\":16,\"application\":\"http-put\"},"
    "\"flow-id\":{\"afi\":\"ipv4\",\"src-ip\":\"192.0.2.10\",\"dst-ip\":"
    "\"198.51.100.7\",\"protocol\":\"tcp\",\"src-port\":2001,\"dst-port\":"
    "49378}}";

static int
parse_str(const char *s, struct ff_event *ev, enum ff_bad *why, char *err,
    size_t errlen)
{
	return ff_parse(s, strlen(s), ev, why, err, errlen);
}

Test(parse, xrootd_sample)
{
	struct ff_event	ev, want;
	enum ff_bad	why;
	char		err[256];

	cr_assert_eq(parse_str(xrootd_end, &ev, &why, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(why, FF_BAD_NONE);
	cr_assert_eq(ev.state, FF_END);
	memset(&want, 0, sizeof(want));
	want.flow.family = AF_INET;
	set_addr(&want.flow, "192.0.2.10", "198.51.100.7");
	want.flow.proto = IPPROTO_TCP;
	want.flow.sport = 2001;
	want.flow.dport = 49378;
	want.flow.exp = 2;
	want.flow.act = 16;
	snprintf(want.flow.application, sizeof(want.flow.application),
	    "http-put");
	assert_flow_eq(&ev.flow, &want.flow);
	cr_assert_eq(ev.start.tv_sec, 1729241304);
	cr_assert_eq(ev.start.tv_nsec, 201540000);
	cr_assert_eq(ev.end.tv_sec, 1729241304);
	cr_assert_eq(ev.end.tv_nsec, 230146000);
	cr_assert_eq(ev.now.tv_sec, 1729241304);
	cr_assert_eq(ev.now.tv_nsec, 230146000);
	cr_assert(ev.has_usage);
	cr_assert_eq(ev.usage.received, 813);
	cr_assert_eq(ev.usage.sent, 10507049);
	cr_assert(ev.has_netlink);
	cr_assert(ev.netlink.has_rtt);
	cr_assert_float_eq(ev.netlink.rtt_ms, 0.053, 1e-12);
	cr_assert(!ev.netlink.has_cwnd && !ev.netlink.has_retrans &&
	    !ev.netlink.has_rate);
}

/* dCache: a real timestamp, its own keys at the top level. */
Test(parse, dcache_storage_stats)
{
	static const char dg[] =
	    "<134>1 2024-10-18T10:48:24.5+02:00 pool1.example.org dCache - "
	    "firefly-json - {\"version\":1,\"flow-lifecycle\":{\"state\":"
	    "\"start\",\"start-time\":\"2024-10-18T08:48:24Z\"},\"context\":"
	    "{\"experiment-id\":3,\"activity-id\":1},\"flow-id\":{\"afi\":"
	    "\"ipv6\",\"src-ip\":\"2001:db8::2\",\"dst-ip\":\"2001:db8:2::1\","
	    "\"protocol\":\"tcp\",\"src-port\":33000,\"dst-port\":20000},"
	    "\"storage-stats\":{\"pool\":\"pool1\",\"bytes\":[1,2,3],"
	    "\"nested\":{\"x\":null}}}\n";
	struct ff_event	ev;
	char		err[256];
	uint8_t		a[16];

	cr_assert_eq(parse_str(dg, &ev, NULL, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(ev.state, FF_START);
	cr_assert_eq(ev.flow.family, AF_INET6);
	inet_pton(AF_INET6, "2001:db8::2", a);
	cr_assert_arr_eq(ev.flow.src, a, 16);
	inet_pton(AF_INET6, "2001:db8:2::1", a);
	cr_assert_arr_eq(ev.flow.dst, a, 16);
	cr_assert_eq(ev.flow.sport, 33000);
	cr_assert_eq(ev.flow.dport, 20000);
	cr_assert_eq(ev.flow.exp, 3);
	cr_assert_eq(ev.flow.act, 1);
	cr_assert_str_eq(ev.flow.application, "");
	cr_assert_eq(ev.start.tv_sec, 1729241304);
	cr_assert_eq(ev.start.tv_nsec, 0);
	cr_assert(ev.now.tv_sec == 0 && ev.now.tv_nsec == 0,
	    "no current-time: now stays unset");
	cr_assert(!ev.has_usage && !ev.has_netlink);
}

static const char body_start[] =
    "{\"version\":1,\"flow-lifecycle\":{\"state\":\"start\",\"start-time\":"
    "\"2024-10-18T08:48:24.201540+00:00\"},\"context\":{\"experiment-id\":2,"
    "\"activity-id\":16},\"flow-id\":{\"afi\":\"ipv4\",\"src-ip\":"
    "\"192.0.2.10\",\"dst-ip\":\"198.51.100.7\",\"protocol\":\"udp\","
    "\"src-port\":2001,\"dst-port\":49378}}";

Test(parse, header_variants)
{
	static const char *const headers[] = {
		"",					/* bare JSON */
		"<134>1 - - - - - - ",
		"<0>1 2024-10-18T08:48:24Z h a 1234 firefly-json - ",
		"<191>1 2024-10-18t08:48:24.000001z h a p m - ",
		"<134>1 - h a - firefly-json [id@1 k=\"v]{\\\"\"][x] ",
		"<134>1 - h a - firefly-json - \xef\xbb\xbf",	/* BOM */
	};
	struct ff_event	ev;
	char		dg[1024], err[256];
	size_t		i;

	for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		snprintf(dg, sizeof(dg), "%s%s", headers[i], body_start);
		cr_assert_eq(parse_str(dg, &ev, NULL, err, sizeof(err)), 0,
		    "header %zu: %s", i, err);
		cr_assert_eq(ev.flow.proto, IPPROTO_UDP);
		cr_assert_eq(ev.flow.exp, 2);
	}
	/* Whitespace around bare JSON. */
	snprintf(dg, sizeof(dg), " \n%s\r\n", body_start);
	cr_assert_eq(parse_str(dg, &ev, NULL, err, sizeof(err)), 0, "%s", err);
}

Test(parse, netlink_free_form)
{
	static const char dg[] =
	    "{\"version\":1,\"flow-lifecycle\":{\"state\":\"ongoing\","
	    "\"start-time\":\"2024-10-18T08:48:24Z\",\"end-time\":"
	    "\"2024-10-18T08:49:24Z\",\"current-time\":"
	    "\"2024-10-18T08:48:54Z\"},\"context\":{\"experiment-id\":0,"
	    "\"activity-id\":0,\"application\":\"\"},\"flow-id\":{\"afi\":"
	    "\"ipv6\",\"src-ip\":\"::1\",\"dst-ip\":"
	    "\"::1\",\"protocol\":\"tcp\",\"src-port\":1,\"dst-port\":65535},"
	    "\"netlink\":{\"rtt\":3,\"cwnd\":-1,\"retransmits\":\"2\","
	    "\"delivery-rate\":1.5,\"other\":[true]}}";
	struct ff_event	ev;
	char		err[256];

	cr_assert_eq(parse_str(dg, &ev, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.state, FF_ONGOING);
	cr_assert_eq(ev.end.tv_sec, 1729241364, "end-time read on ongoing");
	cr_assert(ev.has_netlink);
	cr_assert(ev.netlink.has_rtt);
	cr_assert_float_eq(ev.netlink.rtt_ms, 3.0, 1e-12);
	/* Values of the wrong type or range are ignored, not refused. */
	cr_assert(!ev.netlink.has_cwnd && !ev.netlink.has_retrans &&
	    !ev.netlink.has_rate);
	cr_assert_eq(ev.flow.exp, 0);
	cr_assert_eq(ev.flow.act, 0);
}

/* --- rejections ------------------------------------------------------- */

#define LC_START "\"flow-lifecycle\":{\"state\":\"start\",\"start-time\":" \
    "\"2024-10-18T08:48:24.201540+00:00\"}"
#define CTX "\"context\":{\"experiment-id\":2,\"activity-id\":16}"
#define FID(afi, src, dst, sport, dport)				\
    "\"flow-id\":{\"afi\":\"" afi "\",\"src-ip\":\"" src "\",\"dst-ip\":\""  \
    dst "\",\"protocol\":\"tcp\",\"src-port\":" sport ",\"dst-port\":"	\
    dport "}"
#define FID4 FID("ipv4", "192.0.2.10", "198.51.100.7", "2001", "49378")
#define HDR "<134>1 - xrootd-server.example.org xrootd - firefly-json - "
#define DOC(lc, ctx, fid) HDR "{\"version\":1," lc "," ctx "," fid "}"
#define LC(state, times) "\"flow-lifecycle\":{\"state\":\"" state "\"" times "}"
#define T0 "\"2024-10-18T08:48:24.201540+00:00\""

struct reject {
	const char	*dg;
	enum ff_bad	 why;
	const char	*msg;
};

static const struct reject rejects[] = {
	{ "hello world", FF_BAD_SYSLOG, "neither" },
	{ "\xff\xfe", FF_BAD_SYSLOG, "neither" },
	{ "[1,2]", FF_BAD_SYSLOG, "neither" },
	{ "<134>1", FF_BAD_SYSLOG, "syslog" },
	{ "<999>1 - h a - m - {}", FF_BAD_SYSLOG, "PRI" },
	{ "<1344>1 - h a - m - {}", FF_BAD_SYSLOG, "PRI" },
	{ "134>1 - h a - m - {}", FF_BAD_SYSLOG, "neither" },
	{ "<134>2 - h a - m - {}", FF_BAD_SYSLOG, "version" },
	{ "<134>1 yesterday h a - m - {}", FF_BAD_SYSLOG, "timestamp" },
	{ "<134>1 2024-10-18T08:48:24 h a - m - {}", FF_BAD_SYSLOG,
	    "timestamp" },
	{ "<134>1 -  h a - m - {}", FF_BAD_SYSLOG, "hostname is empty" },
	{ "<134>1 - h\x01 a - m - {}", FF_BAD_SYSLOG, "hostname" },
	/* XRootD's header with the structured data left out */
	{ "<134>1 - h xrootd - firefly-json {}", FF_BAD_SYSLOG,
	    "structured data" },
	{ "<134>1 - h a - m [unclosed {}", FF_BAD_SYSLOG, "not closed" },
	{ "<134>1 - h a - m -", FF_BAD_SYSLOG, "no message" },
	{ "<134>1 - h a - m - no json here", FF_BAD_SYSLOG, "no JSON" },
	{ HDR "{\"version\":1,\"flow-lif", FF_BAD_JSON, "JSON" },
	{ HDR "{\"version\":1}}", FF_BAD_JSON, "JSON" },
	{ HDR "{\"version\":1,\"version\":1}", FF_BAD_JSON, "duplicate" },
	{ HDR "{\"version\":2," LC_START "," CTX "," FID4 "}", FF_BAD_SCHEMA,
	    "version: 2 is not supported" },
	{ HDR "{\"version\":\"1\"," LC_START "," CTX "," FID4 "}", FF_BAD_TYPE,
	    "version: expected an integer" },
	{ HDR "{" LC_START "," CTX "," FID4 "}", FF_BAD_SCHEMA,
	    "version: missing" },
	{ HDR "{\"version\":1," CTX "," FID4 "}", FF_BAD_SCHEMA,
	    "flow-lifecycle: missing" },
	{ HDR "{\"version\":1," LC_START "," CTX "}", FF_BAD_SCHEMA,
	    "flow-id: missing" },
	{ HDR "{\"version\":1," LC_START "," FID4 "}", FF_BAD_SCHEMA,
	    "context: missing" },
	{ HDR "{\"version\":1," LC_START "," CTX ",\"flow-id\":[]}",
	    FF_BAD_TYPE, "flow-id: expected an object, got an array" },
	{ DOC(LC("start", ""), CTX, FID4), FF_BAD_SCHEMA,
	    "flow-lifecycle.start-time: missing" },
	{ DOC(LC("end", ",\"start-time\":" T0), CTX, FID4), FF_BAD_SCHEMA,
	    "flow-lifecycle.end-time: missing (required when state is end)" },
	{ DOC(LC("start", ",\"start-time\":null"), CTX, FID4), FF_BAD_TIME,
	    "flow-lifecycle.start-time: expected an RFC 3339 date-time string, "
	    "got null" },
	{ DOC(LC("start", ",\"start-time\":\"\""), CTX, FID4), FF_BAD_TIME,
	    "flow-lifecycle.start-time: '' is not an RFC 3339 date-time" },
	{ DOC(LC("end", ",\"start-time\":" T0 ",\"end-time\":null"), CTX, FID4),
	    FF_BAD_TIME, "flow-lifecycle.end-time" },
	{ DOC(LC("end", ",\"start-time\":" T0 ",\"end-time\":\"\""), CTX, FID4),
	    FF_BAD_TIME, "flow-lifecycle.end-time" },
	{ DOC(LC("start", ",\"start-time\":" T0 ",\"current-time\":1"), CTX,
	    FID4), FF_BAD_TIME, "flow-lifecycle.current-time" },
	{ DOC(LC("start", ",\"start-time\":\"2024-13-18T08:48:24Z\""), CTX,
	    FID4), FF_BAD_TIME, "flow-lifecycle.start-time: '2024-13-18" },
	{ DOC(LC("start", ",\"start-time\":\"1970-01-01T00:00:00Z\""), CTX,
	    FID4), FF_BAD_TIME, "not after 1970" },
	{ DOC(LC("start", ",\"start-time\":\"9999-12-31T23:00:00-01:00\""), CTX,
	    FID4), FF_BAD_TIME, "year 10000" },
	{ DOC(LC("bogus", ",\"start-time\":" T0), CTX, FID4), FF_BAD_RANGE,
	    "flow-lifecycle.state: 'bogus' is not one of start, ongoing, end" },
	{ DOC(LC("START", ",\"start-time\":" T0), CTX, FID4), FF_BAD_RANGE,
	    "flow-lifecycle.state" },
	{ DOC("\"flow-lifecycle\":{\"start-time\":" T0 "}", CTX, FID4),
	    FF_BAD_SCHEMA, "flow-lifecycle.state: missing" },
	{ DOC(LC("start", ",\"start-time\":" T0 ",\"duration\":1"), CTX, FID4),
	    FF_BAD_SCHEMA, "flow-lifecycle: unknown key 'duration'" },
	{ DOC(LC_START, CTX, FID("ipv4", "2001:db8::1", "198.51.100.7", "1",
	    "2")), FF_BAD_ADDR, "flow-id.src-ip: '2001:db8::1' is an IPv6 "
	    "address but afi is ipv4" },
	{ DOC(LC_START, CTX, FID("ipv6", "2001:db8::1", "198.51.100.7", "1",
	    "2")), FF_BAD_ADDR, "flow-id.dst-ip: '198.51.100.7' is an IPv4 "
	    "address but afi is ipv6" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2", "198.51.100.7", "1", "2")),
	    FF_BAD_ADDR, "flow-id.src-ip: '192.0.2' is not an IPv4 address" },
	{ DOC(LC_START, CTX, FID("ipv6", "fe80::1%eth0", "::1", "1", "2")),
	    FF_BAD_ADDR, "flow-id.src-ip" },
	{ DOC(LC_START, CTX, FID("ipv5", "::1", "::1", "1", "2")),
	    FF_BAD_RANGE, "flow-id.afi: 'ipv5' is not one of ipv4, ipv6" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2.10", "198.51.100.7", "0",
	    "2")), FF_BAD_RANGE,
	    "flow-id.src-port: 0 is out of range 1..65535" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2.10", "198.51.100.7", "2",
	    "70000")), FF_BAD_RANGE,
	    "flow-id.dst-port: 70000 is out of range 1..65535" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2.10", "198.51.100.7", "-1",
	    "2")), FF_BAD_RANGE, "flow-id.src-port: -1 is out of range" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2.10", "198.51.100.7",
	    "\"2001\"", "2")), FF_BAD_TYPE,
	    "flow-id.src-port: expected an integer, got a string" },
	{ DOC(LC_START, CTX, FID("ipv4", "192.0.2.10", "198.51.100.7", "1",
	    "2.0")), FF_BAD_TYPE,
	    "flow-id.dst-port: expected an integer, got a real number" },
	{ DOC(LC_START, CTX, "\"flow-id\":{\"afi\":\"ipv4\",\"src-ip\":"
	    "\"192.0.2.10\",\"dst-ip\":\"198.51.100.7\",\"protocol\":\"icmp\","
	    "\"src-port\":1,\"dst-port\":2}"), FF_BAD_RANGE,
	    "flow-id.protocol: 'icmp' is not one of tcp, udp" },
	{ DOC(LC_START, CTX, "\"flow-id\":{\"afi\":\"ipv4\",\"src-ip\":"
	    "\"192.0.2.10\",\"dst-ip\":\"198.51.100.7\",\"protocol\":\"tcp\","
	    "\"src-port\":1}"), FF_BAD_SCHEMA, "flow-id.dst-port: missing" },
	{ DOC(LC_START, CTX, "\"flow-id\":{\"afi\":\"ipv4\",\"src-ip\":"
	    "\"192.0.2.10\",\"dst-ip\":\"198.51.100.7\",\"protocol\":\"tcp\","
	    "\"src-port\":1,\"dst-port\":2,\"flow-label\":5}"), FF_BAD_SCHEMA,
	    "flow-id: unknown key 'flow-label'" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2.0,\"activity-id\":1}",
	    FID4), FF_BAD_TYPE,
	    "context.experiment-id: expected an integer, got a real number" },
	{ DOC(LC_START,
	    "\"context\":{\"experiment-id\":1024,\"activity-id\":1}", FID4),
	    FF_BAD_RANGE,
	    "context.experiment-id: 1024 is out of range 0..1023" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":64}",
	    FID4), FF_BAD_RANGE,
	    "context.activity-id: 64 is out of range 0..63" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2}", FID4),
	    FF_BAD_SCHEMA, "context.activity-id: missing" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":1,"
	    "\"scitag\":129}", FID4), FF_BAD_SCHEMA,
	    "context: unknown key 'scitag'" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":1,"
	    "\"application\":7}", FID4), FF_BAD_TYPE,
	    "context.application: expected a string" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":1,"
	    "\"application\":\"a\\nb\"}", FID4), FF_BAD_RANGE,
	    "context.application: holds a control character" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":1,"
	    "\"application\":\"0123456789012345678901234567890123456789"
	    "012345678901234567890123\"}", FID4), FF_BAD_RANGE,
	    "context.application: 64 bytes, at most 63" },
	{ DOC(LC_START, "\"context\":{\"experiment-id\":2,\"activity-id\":1,"
	    "\"application\":\"a\\u0000b\"}", FID4), FF_BAD_JSON, "JSON" },
	{ HDR "{\"version\":1," LC_START "," CTX "," FID4 ",\"usage\":5}",
	    FF_BAD_TYPE, "usage: expected an object, got an integer" },
	{ HDR "{\"version\":1," LC_START "," CTX "," FID4 ",\"usage\":"
	    "{\"received\":-1,\"sent\":0}}", FF_BAD_RANGE,
	    "usage.received: -1 is out of range" },
	{ HDR "{\"version\":1," LC_START "," CTX "," FID4 ",\"usage\":"
	    "{\"received\":1}}", FF_BAD_SCHEMA, "usage.sent: missing" },
	{ HDR "{\"version\":1," LC_START "," CTX "," FID4 ",\"usage\":"
	    "{\"received\":1,\"sent\":2,\"lost\":3}}", FF_BAD_SCHEMA,
	    "usage: unknown key 'lost'" },
	{ HDR "{\"version\":1," LC_START "," CTX "," FID4 ",\"netlink\":[]}",
	    FF_BAD_TYPE, "netlink: expected an object" },
};

static void
assert_rejected(const char *dg, size_t len, enum ff_bad want_why,
    const char *want_msg, const char *what)
{
	struct ff_event	ev, before;
	enum ff_bad	why = FF_BAD_NONE;
	char		err[512];
	int		rc;

	memset(&ev, 0x5A, sizeof(ev));
	before = ev;
	err[0] = '\0';
	rc = ff_parse(dg, len, &ev, &why, err, sizeof(err));
	cr_assert_lt(rc, 0, "%s: accepted", what);
	cr_assert_eq(why, want_why, "%s: reason %s, want %s (%s)", what,
	    ff_bad_name(why), ff_bad_name(want_why), err);
	assert_has(err, want_msg);
	cr_assert_eq(memcmp(&ev, &before, sizeof(ev)), 0,
	    "%s: a rejected datagram changed the event", what);
}

Test(parse, rejections)
{
	size_t	i;

	for (i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
		assert_rejected(rejects[i].dg, strlen(rejects[i].dg),
		    rejects[i].why, rejects[i].msg, rejects[i].dg);
}

Test(parse, size_limits)
{
	struct ff_event	 ev;
	char		*big, err[256];
	size_t		 n = 64 * 1024;

	big = malloc(n);
	cr_assert_not_null(big);
	/* A valid firefly padded with spaces to 64 KiB: too big anyway. */
	memset(big, ' ', n);
	memcpy(big, xrootd_end, strlen(xrootd_end));
	assert_rejected(big, n, FF_BAD_SIZE, "65536 bytes", "64 KiB");
	assert_rejected(big, FF_PARSE_MAX + 1, FF_BAD_SIZE, "bytes",
	    "FF_PARSE_MAX + 1");
	/* The same, just at the limit, is fine. */
	cr_assert_eq(ff_parse(big, FF_PARSE_MAX, &ev, NULL, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(ev.flow.dport, 49378);
	free(big);
	assert_rejected("", 0, FF_BAD_SIZE, "empty", "empty");
	cr_assert_eq(ff_parse(NULL, 10, &(struct ff_event){ 0 }, NULL, NULL,
	    0), -EMSGSIZE);
}

Test(parse, nul_bytes)
{
	char	dg[sizeof(xrootd_end)];
	size_t	len = sizeof(xrootd_end) - 1, at;

	/* In the JSON, in the header, and one after the end. */
	memcpy(dg, xrootd_end, sizeof(dg));
	at = (size_t)(strchr(xrootd_end, '{') - xrootd_end) + 20;
	dg[at] = '\0';
	assert_rejected(dg, len, FF_BAD_JSON, "NUL byte at offset", "in JSON");
	memcpy(dg, xrootd_end, sizeof(dg));
	dg[10] = '\0';
	assert_rejected(dg, len, FF_BAD_SYSLOG, "hostname", "in header");
	assert_rejected(xrootd_end, len + 1, FF_BAD_JSON, "NUL byte",
	    "trailing NUL");
}

Test(parse, messages_are_printable)
{
	static const char dg[] = HDR "{\"version\":1,\xff\x01\"x\":1}";
	enum ff_bad	why;
	char		err[512];
	const char	*p;

	cr_assert_lt(parse_str(dg, &(struct ff_event){ 0 }, &why, err,
	    sizeof(err)), 0);
	cr_assert_eq(why, FF_BAD_JSON);
	for (p = err; *p != '\0'; p++)
		cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f,
		    "byte 0x%02x in '%s'", (unsigned char)*p, err);
}

Test(parse, bad_names)
{
	static const char *const want[] = {
		"none", "syslog", "json", "schema", "type", "range", "addr",
		"time", "size"
	};
	int	i;

	cr_assert_eq(sizeof(want) / sizeof(want[0]), FF_BAD_COUNT);
	for (i = 0; i < FF_BAD_COUNT; i++)
		cr_assert_str_eq(ff_bad_name((enum ff_bad)i), want[i]);
	cr_assert_str_eq(ff_bad_name(FF_BAD_COUNT), "?");
	cr_assert_str_eq(ff_bad_name((enum ff_bad)-1), "?");
}

/* --- date-times ------------------------------------------------------- */

Test(time, format_sample)
{
	struct timespec	ts = { 1711616328, 899646999 };
	char		buf[FF_TIME_LEN];

	cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "2024-03-28T08:58:48.899646+00:00");
	cr_assert_eq(strlen(buf), FF_TIME_LEN - 1);
	cr_assert_eq(ff_time_format(&ts, buf, FF_TIME_LEN - 1), -ENOSPC);
	ts.tv_nsec = 1000000000;
	cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), -EINVAL);
	ts.tv_nsec = -1;
	cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), -EINVAL);
	ts.tv_sec = 253402300800LL;	/* year 10000 */
	ts.tv_nsec = 0;
	cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), -EINVAL);
	ts.tv_sec = 253402300799LL;
	cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "9999-12-31T23:59:59.000000+00:00");
}

struct time_vec {
	const char	*s;
	time_t		 sec;
	long		 nsec;
};

Test(time, parse_forms)
{
	static const struct time_vec ok[] = {
		{ "2024-03-28T08:58:48.899646+00:00", 1711616328, 899646000 },
		{ "2024-03-28T08:58:48Z", 1711616328, 0 },
		{ "2024-03-28t08:58:48z", 1711616328, 0 },
		{ "2024-03-28T10:58:48.5+02:00", 1711616328, 500000000 },
		{ "2024-03-28T03:28:48-05:30", 1711616328, 0 },
		{ "2024-03-28T08:58:48.123456789123Z", 1711616328, 123456789 },
		{ "2024-03-28T08:58:48-00:00", 1711616328, 0 },
		{ "2024-02-29T23:59:59Z", 1709251199, 0 },
		{ "1999-12-31T23:59:60Z", 946684800, 0 },	/* leap */
		{ "9999-12-31T23:59:59Z", 253402300799LL, 0 },
		{ "1970-01-01T00:00:00Z", 0, 0 },
	};
	static const char *const bad[] = {
		"", "2024", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z",
		"2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-01-00T00:00:00Z", "2024-01-01T24:00:00Z",
		"2024-01-01T00:60:00Z", "2024-01-01T00:00:61Z",
		"2024-01-01T00:00:00", "2024-01-01T00:00:00.Z",
		"2024-01-01T00:00:00+0200", "2024-01-01T00:00:00+24:00",
		"2024-01-01T00:00:00+02:60", "2024-01-01 00:00:00Z",
		"2024-01-01T00:00:00Zjunk", "2024-1-01T00:00:00Z",
		"20240-01-01T00:00:00Z", " 2024-01-01T00:00:00Z",
		"2024-01-01T00:00:00Z ", "-",
	};
	struct timespec	ts;
	size_t		i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(ff_time_parse(ok[i].s, &ts), 0, "%s", ok[i].s);
		cr_assert_eq(ts.tv_sec, ok[i].sec, "%s: %lld", ok[i].s,
		    (long long)ts.tv_sec);
		cr_assert_eq(ts.tv_nsec, ok[i].nsec, "%s: %ld", ok[i].s,
		    ts.tv_nsec);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(ff_time_parse(bad[i], &ts), -EINVAL, "accepted "
		    "'%s'", bad[i]);
	cr_assert_eq(ff_time_parse(NULL, &ts), -EINVAL);
}

Test(time, round_trip)
{
	static const time_t secs[] = {
		1, 59, 86399, 951782400 /* 2000-02-29 */, 1711616328,
		1729241304, 4102444800LL /* 2100-01-01 */, 253402300799LL
	};
	static const long nsecs[] = { 0, 1, 999, 1000, 123456789, 999999999 };
	struct timespec	ts, back;
	char		buf[FF_TIME_LEN];
	size_t		i, j;

	for (i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		for (j = 0; j < sizeof(nsecs) / sizeof(nsecs[0]); j++) {
			ts.tv_sec = secs[i];
			ts.tv_nsec = nsecs[j];
			cr_assert_eq(ff_time_format(&ts, buf, sizeof(buf)), 0);
			cr_assert_eq(ff_time_parse(buf, &back), 0, "%s", buf);
			assert_time_us(&back, &ts, buf);
		}
	}
}
