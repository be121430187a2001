/*
 * test_flowreq.c: an API flow description, checked and normalised. Every
 * rejection with the message a client will read, and the canonical form:
 * one key however the tag, the addresses or the strategy were written.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "flowreq.h"
#include "marker.h"
#include "tag.h"

static struct reg	*R;
static char		 E[512];

static void
setup(void)
{
	cr_assert_eq(reg_load_builtin(&R, E, sizeof(E)), 0, "%s", E);
}

static void
teardown(void)
{
	reg_free(R);
	R = NULL;
}

TestSuite(flowreq, .init = setup, .fini = teardown);

/* A valid IPv6 exact flow; tests change one field at a time. */
static struct flowreq_in
base(void)
{
	struct flowreq_in	in = {
		.protocol = IPPROTO_TCP,
		.src = "2001:db8::1",
		.src_port = 2345,
		.dst = "2001:db8::2",
		.dst_port = 5777,
		.experiment = "atlas",
		.activity = "Data Consolidation",
		.strategy = 0,
		.ttl_seconds = 60,
		.application = "fts",
	};

	return in;
}

static int
parse(const struct flowreq_in *in, struct flowreq_spec *s)
{
	E[0] = '\0';
	return flowreq_parse(in, R, TAG_STRAT_FLOW_LABEL, s, E, sizeof(E));
}

/*
 * One rejection: "field=value" lines applied to base(), the errno and a
 * substring of the message. Values: "*N:c" is N copies of c. No pointers
 * in the struct: Criterion re-executes the binary for each parameter.
 */
struct bad {
	char	set[200];
	int	rc;
	char	want[160];
};

static void
apply(struct flowreq_in *in, char *set)
{
	static char	 longs[4][1000];	/* live as long as the test */
	char		*line, *save = NULL, *v, *w;
	size_t		 n, nlong = 0;

	for (line = strtok_r(set, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		v = strchr(line, '=');
		cr_assert_not_null(v, "bad case line %s", line);
		*v++ = '\0';
		if (v[0] == '*') {
			n = strtoul(v + 1, &w, 10);
			cr_assert(n < 1000 && *w == ':');
			cr_assert(nlong < 4);
			v = longs[nlong++];
			memset(v, w[1], n);
			v[n] = '\0';
		}
		if (strcmp(line, "protocol") == 0)
			in->protocol = atoi(v);
		else if (strcmp(line, "src") == 0)
			in->src = v;
		else if (strcmp(line, "src_port") == 0)
			in->src_port = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(line, "dst") == 0)
			in->dst = v;
		else if (strcmp(line, "dst_port") == 0)
			in->dst_port = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(line, "experiment") == 0)
			in->experiment = v;
		else if (strcmp(line, "activity") == 0)
			in->activity = v;
		else if (strcmp(line, "scitag") == 0)
			in->scitag = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(line, "strategy") == 0)
			in->strategy = atoi(v);
		else if (strcmp(line, "ttl") == 0)
			in->ttl_seconds = (uint32_t)strtoul(v, NULL, 10);
		else if (strcmp(line, "application") == 0)
			in->application = v;
		else
			cr_assert_fail("unknown field %s", line);
	}
}

#define MATCHALL "protocol=0\nsrc=\nsrc_port=0\ndst_port=0\n"

ParameterizedTestParameters(flowreq, rejects)
{
	static struct bad cases[] = {
		{ "protocol=1", -EINVAL,
		  "protocol: 1 is not 0 (any), 6 (tcp) or 17 (udp)" },
		{ "protocol=-6", -EINVAL, "protocol: -6 is not" },
		{ "protocol=132", -EINVAL, "protocol: 132 is not" },
		{ "src=2001:db8::/64", -EINVAL, "src: '2001:db8::/64' is not an "
		  "IPv6 or IPv4 address (one local address; \"\" for any)" },
		{ "src=bogus", -EINVAL, "src: 'bogus' is not an IPv6" },
		{ "src=fe80::1%eth0", -EINVAL, "src: 'fe80::1%eth0' is not" },
		{ "src=[2001:db8::1]", -EINVAL, "src: '[2001:db8::1]' is not" },
		{ "src=2001:db8::1 ", -EINVAL, "src: '2001:db8::1 ' is not" },
		{ "src=::", -EINVAL, "src: '::' is the unspecified address; "
		  "leave src empty for any local address" },
		{ "src=0.0.0.0\ndst=192.0.2.1", -EINVAL,
		  "src: '0.0.0.0' is the unspecified address" },
		{ "src=*80:1", -EINVAL, "src: '1111" },
		{ "src=*80:1", -EINVAL, "is too long for an address" },
		{ "src=a\x01", -EINVAL, "src: 'a\\x01' is not" },
		{ "src_port=65536", -ERANGE, "src_port: 65536 is over 65535" },
		{ "src_port=4294967295", -ERANGE,
		  "src_port: 4294967295 is over 65535" },
		{ "dst_port=70000", -ERANGE, "dst_port: 70000 is over 65535" },
		{ "dst=", -EINVAL, "dst: required (an address or a prefix "
		  "such as 2001:db8::/32)" },
		{ MATCHALL "dst=", -EINVAL, "dst: empty, which would mark every "
		  "packet: the match-all rule is set in the agent's config "
		  "(mark_all), not over the API" },
		{ MATCHALL "dst=::/0", -EINVAL, "dst: ::/0 with every other "
		  "field any would mark every packet" },
		{ "dst=2001:db8::/129", -ERANGE,
		  "dst: '2001:db8::/129' prefix length over 128" },
		{ "dst=2001:db8::/999", -ERANGE, "prefix length over 128" },
		{ "src=\ndst=192.0.2.0/33", -ERANGE,
		  "dst: '192.0.2.0/33' prefix length over 32" },
		{ "dst=2001:db8::1/32", -EINVAL, "dst: '2001:db8::1/32' has host "
		  "bits set; did you mean 2001:db8::/32?" },
		{ "dst=2001:db8:ffff::/33", -EINVAL,
		  "did you mean 2001:db8:8000::/33?" },
		{ "src=\ndst=192.0.2.1/24", -EINVAL, "dst: '192.0.2.1/24' has "
		  "host bits set; did you mean 192.0.2.0/24?" },
		{ "dst=::ffff:0:0/88", -EINVAL, "did you mean ::ff00:0:0/88?" },
		{ "dst=2001:db8::/", -EINVAL, "dst: '2001:db8::/' has a "
		  "malformed prefix length (expected 0..128)" },
		{ "dst=2001:db8::/032", -EINVAL, "malformed prefix length" },
		{ "dst=2001:db8::/-1", -EINVAL, "malformed prefix length" },
		{ "dst=2001:db8::/ 32", -EINVAL, "malformed prefix length" },
		{ "dst=2001:db8::/32/1", -EINVAL, "malformed prefix length" },
		{ "src=\ndst=10.0.0.0/", -EINVAL, "(expected 0..32)" },
		{ "dst=example.org", -EINVAL,
		  "dst: 'example.org' is not an IPv6 or IPv4 address" },
		{ "dst=xyz/12", -EINVAL, "dst: 'xyz/12' is not an IPv6 or IPv4 "
		  "address and prefix length" },
		{ "dst=*200:2", -EINVAL, "is too long for an address or prefix" },
		{ "dst=::", -EINVAL, "dst: the unspecified address is no "
		  "destination" },
		{ "src=\ndst=0.0.0.0", -EINVAL, "dst: the unspecified address" },
		{ "dst=192.0.2.1", -EINVAL, "src: IPv6 address 2001:db8::1 with "
		  "an IPv4 dst; both must be one family" },
		{ "src=192.0.2.1", -EINVAL, "src: IPv4 address 192.0.2.1 with "
		  "an IPv6 dst" },
		{ "experiment=atlsa", -EINVAL,
		  "tag.experiment: unknown experiment 'atlsa'" },
		{ "experiment=2000", -ERANGE,
		  "tag.experiment: experiment '2000' is out of range (1..1023)" },
		{ "experiment=0", -ERANGE, "tag.experiment: experiment '0' is "
		  "out of range" },
		{ "experiment=*129:x", -EINVAL,
		  "tag.experiment: longer than 128 bytes" },
		{ "activity=*129:x", -EINVAL,
		  "tag.activity: longer than 128 bytes" },
		{ "activity=nope", -EINVAL, "tag.activity: unknown activity "
		  "'nope' for experiment atlas" },
		{ "activity=", -EINVAL, "tag.activity: empty activity for "
		  "experiment atlas" },
		{ "activity=64", -ERANGE, "tag.activity: " },
		{ "experiment=\nactivity=4", -EINVAL,
		  "tag.activity: given without tag.experiment" },
		{ "experiment=\nactivity=", -EINVAL, "tag: empty (give "
		  "tag.experiment and tag.activity, or tag.scitag)" },
		{ "experiment=\nactivity=\nscitag=64", -EINVAL, "tag.scitag: 64 "
		  "is not a valid scitag (exp << 6 | act, 65..65535 with "
		  "activity 1..63)" },
		{ "experiment=\nactivity=\nscitag=128", -EINVAL,
		  "tag.scitag: 128 is not a valid scitag" },
		{ "experiment=\nactivity=\nscitag=65536", -EINVAL,
		  "tag.scitag: 65536 is not a valid scitag" },
		{ "experiment=\nactivity=\nscitag=4294967295", -EINVAL,
		  "tag.scitag: 4294967295 is not a valid scitag" },
		{ "scitag=206", -EINVAL, "tag.scitag: 206 disagrees with "
		  "tag.experiment/activity 2/4 (scitag 132); send one or the "
		  "other" },
		{ "experiment=600\nactivity=1", -ERANGE, "tag: experiment 600 "
		  "does not fit the flow label's 9 bits (max 511); strategies "
		  "2..4 carry it" },
		{ "experiment=\nactivity=\nscitag=38401", -ERANGE,
		  "tag: experiment 600 does not fit" },
		{ "strategy=5", -EINVAL, "strategy: 5 is not 0 (default), 1 "
		  "(flow-label), 2 (hop-by-hop), 3 (destination) or 4 "
		  "(hop-by-hop+destination)" },
		{ "strategy=-1", -EINVAL, "strategy: -1 is not 0 (default)" },
		{ "ttl=2592001", -ERANGE, "ttl_seconds: 2592001 is over the "
		  "maximum 2592000 (30 days)" },
		{ "ttl=4294967295", -ERANGE, "ttl_seconds: 4294967295 is over" },
		{ "application=*65:a", -EINVAL,
		  "application: longer than 64 bytes" },
		{ "application=a\tb", -EINVAL, "application: byte 1 is not "
		  "printable ASCII (0x09)" },
		{ "application=caf\xc3\xa9", -EINVAL,
		  "application: byte 3 is not printable ASCII (0xc3)" },
		{ "application=\x7f", -EINVAL, "byte 0 is not printable" },
	};

	return cr_make_param_array(struct bad, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad *c, flowreq, rejects)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	char			set[sizeof(c->set)];
	int			rc;

	memcpy(set, c->set, sizeof(set));
	apply(&in, set);
	memset(&s, 0xa5, sizeof(s));
	rc = parse(&in, &s);
	cr_assert_eq(rc, c->rc, "%s: rc %d, want %d (%s)", c->set, rc, c->rc,
	    E);
	cr_assert_not_null(strstr(E, c->want), "%s: message \"%s\" lacks "
	    "\"%s\"", c->set, E, c->want);
	/* A rejected request writes nothing. */
	cr_assert_eq(s.rule.proto, 0xa5);
	cr_assert_eq(s.ttl_seconds, 0xa5a5a5a5u);
}

Test(flowreq, the_base_spec)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	char			buf[FLOWREQ_ADDRSTRLEN];

	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.family, AF_INET6);
	cr_assert(s.markable);
	cr_assert_eq(s.rule.proto, IPPROTO_TCP);
	cr_assert_eq(s.rule.src_any, 0);
	cr_assert_eq(s.rule.sport, 2345);
	cr_assert_eq(s.rule.dport, 5777);
	cr_assert_eq(s.rule.dst_plen, 128);
	cr_assert_eq(s.rule.exp, 2);
	cr_assert_eq(s.rule.act, 4);
	cr_assert_eq(s.rule.strategy, MK_STRAT_FLOW_LABEL);
	cr_assert_eq(s.ttl_seconds, 60);
	cr_assert_str_eq(s.application, "fts");
	cr_assert_eq(marker_rule_check(&s.rule, E, sizeof(E)), 0, "%s", E);
	flowreq_src_str(&s.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::1");
	flowreq_dst_str(&s.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::2");
}

Test(flowreq, null_strings_read_as_empty)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;

	in.src = NULL;
	in.application = NULL;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.src_any, 1);
	cr_assert_str_eq(s.application, "");
	in.dst = NULL;
	cr_assert_eq(parse(&in, &s), -EINVAL);
	cr_assert_not_null(strstr(E, "dst: required"));
	in = base();
	in.experiment = NULL;
	in.activity = NULL;
	in.scitag = 132;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.exp, 2);
}

/* Every way of writing atlas / Data Consolidation is one flow. */
Test(flowreq, tag_forms_give_one_key)
{
	static const struct {
		const char	*exp, *act;
		uint32_t	 scitag;
		int		 strategy;
		uint32_t	 ttl;
		const char	*app;
	} forms[] = {
		{ "atlas", "Data Consolidation", 0, 0, 60, "fts" },
		{ "ATLAS", "data-consolidation", 0, 0, 0, "" },
		{ "Atlas", "DATA_CONSOLIDATION", 132, 1, 5, "rucio" },
		{ "2", "4", 0, 1, 60, "fts" },
		{ "atlas", "4", 0, 0, 60, "fts" },
		{ "2", "Data Consolidation", 132, 0, 60, "fts" },
		{ "", "", 132, 0, 3600, "xrootd" },
		{ NULL, NULL, 132, 1, 60, NULL },
	};
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	uint8_t			k0[FLOWREQ_KEY_LEN], k[FLOWREQ_KEY_LEN];
	size_t			i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		in.experiment = forms[i].exp;
		in.activity = forms[i].act;
		in.scitag = forms[i].scitag;
		in.strategy = forms[i].strategy;
		in.ttl_seconds = forms[i].ttl;
		in.application = forms[i].app;
		cr_assert_eq(parse(&in, &s), 0, "form %zu: %s", i, E);
		flowreq_key(&s.rule, k);
		if (i == 0)
			memcpy(k0, k, sizeof(k));
		cr_assert_arr_eq(k, k0, sizeof(k), "form %zu differs", i);
	}
}

Test(flowreq, addresses_normalise)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	a, b;
	uint8_t			ka[FLOWREQ_KEY_LEN], kb[FLOWREQ_KEY_LEN];

	cr_assert_eq(parse(&in, &a), 0, "%s", E);
	in.src = "2001:0DB8:0:0::0001";
	in.dst = "2001:db8:0::2/128";
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	flowreq_key(&a.rule, ka);
	flowreq_key(&b.rule, kb);
	cr_assert_arr_eq(ka, kb, sizeof(ka));

	/* Another tag: same match, another key. */
	in.activity = "Debug";
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	flowreq_key(&b.rule, kb);
	cr_assert_arr_eq(ka, kb, FLOWREQ_MATCH_LEN);
	cr_assert_arr_neq(ka, kb, FLOWREQ_KEY_LEN);

	/* Another strategy: another key too. */
	in = base();
	in.strategy = TAG_STRAT_HBH;
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	flowreq_key(&b.rule, kb);
	cr_assert_arr_eq(ka, kb, FLOWREQ_MATCH_LEN);
	cr_assert_arr_neq(ka, kb, FLOWREQ_KEY_LEN);
}

Test(flowreq, prefixes)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	char			buf[FLOWREQ_ADDRSTRLEN];

	in.dst = "2001:db8::/32";
	in.dst_port = 0;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.dst_plen, 32);
	flowreq_dst_str(&s.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "2001:db8::/32");

	/* ::/0 is fine as long as something else narrows the match. */
	in.dst = "::/0";
	in.src = "";
	in.src_port = 0;
	in.dst_port = 443;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.dst_plen, 0);
	flowreq_dst_str(&s.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "::/0");
	flowreq_src_str(&s.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
	in.dst_port = 0;
	in.protocol = IPPROTO_UDP;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
}

Test(flowreq, ipv4_is_kept_not_marked)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	a, b;
	uint8_t			ka[FLOWREQ_KEY_LEN], kb[FLOWREQ_KEY_LEN];
	char			buf[FLOWREQ_ADDRSTRLEN];

	in.src = "192.0.2.10";
	in.dst = "198.51.100.7";
	cr_assert_eq(parse(&in, &a), 0, "%s", E);
	cr_assert_eq(a.family, AF_INET);
	cr_assert_eq(a.markable, 0);
	cr_assert_eq(a.rule.strategy, MK_STRAT_NONE);
	cr_assert_eq(a.rule.dst_plen, 128);
	cr_assert_eq(flowreq_family(&a.rule), AF_INET);
	flowreq_src_str(&a.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "192.0.2.10");
	flowreq_dst_str(&a.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "198.51.100.7");

	/* v4-mapped literals and another strategy: the same IPv4 flow. */
	in.src = "::ffff:192.0.2.10";
	in.dst = "::FFFF:198.51.100.7";
	in.strategy = TAG_STRAT_DST;
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	cr_assert_eq(b.family, AF_INET);
	flowreq_key(&a.rule, ka);
	flowreq_key(&b.rule, kb);
	cr_assert_arr_eq(ka, kb, sizeof(ka));

	/* Experiments over 511 are fine where nothing is marked. */
	in.experiment = "600";
	in.activity = "1";
	cr_assert_eq(parse(&in, &b), 0, "%s", E);

	in.src = "";
	in.dst = "198.51.100.0/24";
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	cr_assert_eq(b.rule.dst_plen, 120);
	flowreq_dst_str(&b.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "198.51.100.0/24");
	in.dst = "0.0.0.0/0";
	cr_assert_eq(parse(&in, &b), 0, "%s", E);
	cr_assert_eq(b.rule.dst_plen, 96);
	flowreq_dst_str(&b.rule, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0.0.0.0/0");
}

/* Only a rule with a wildcard that can match TCP. */
Test(flowreq, per_connection_needs_a_tcp_wildcard)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;

	in.per_conn = 1;
	cr_assert_eq(parse(&in, &s), -EINVAL);
	cr_assert_not_null(strstr(E, "per_connection: this flow is one "
	    "connection"), "%s", E);
	in.src_port = 0;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert(s.per_conn);
	cr_assert(!flowreq_exact(&s.rule));
	in.protocol = IPPROTO_UDP;
	cr_assert_eq(parse(&in, &s), -EINVAL);
	cr_assert_not_null(strstr(E, "a udp rule has none"), "%s", E);
	in.protocol = 0;
	in.src_port = 2345;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);	/* any protocol */
	in.per_conn = 0;
	in.protocol = IPPROTO_TCP;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert(!s.per_conn);
	cr_assert(flowreq_exact(&s.rule));
}

Test(flowreq, wide_experiments_need_an_option_header)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;

	in.experiment = "600";
	in.activity = "1";
	cr_assert_eq(parse(&in, &s), -ERANGE);
	in.strategy = TAG_STRAT_HBH;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.exp, 600);
	in.strategy = TAG_STRAT_HBH_DST;
	in.experiment = "1023";
	in.activity = "63";
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	/* The default strategy decides when the client leaves it 0. */
	in.strategy = 0;
	cr_assert_eq(flowreq_parse(&in, R, TAG_STRAT_DST, &s, E, sizeof(E)),
	    0, "%s", E);
	cr_assert_eq(s.rule.strategy, TAG_STRAT_DST);
	cr_assert_eq(flowreq_parse(&in, R, 7, &s, E, sizeof(E)), -EINVAL);
	cr_assert_not_null(strstr(E, "strategy: the agent's default 7"));
}

Test(flowreq, limits_are_inclusive)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	char			app[FLOWREQ_APP_MAX + 1];

	in.src_port = 65535;
	in.dst_port = 65535;
	in.ttl_seconds = FLOWREQ_TTL_MAX;
	memset(app, '~', FLOWREQ_APP_MAX);
	app[FLOWREQ_APP_MAX] = '\0';
	in.application = app;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.ttl_seconds, FLOWREQ_TTL_MAX);
	cr_assert_str_eq(s.application, app);
	in.experiment = "";
	in.activity = "";
	in.scitag = 65;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.exp, 1);
	cr_assert_eq(s.rule.act, 1);
	in.scitag = 206;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.exp, 3);
	cr_assert_eq(s.rule.act, 14);
	in.scitag = 511 << 6 | 63;
	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	cr_assert_eq(s.rule.exp, 511);
}

Test(flowreq, prefix_parser_and_containment)
{
	uint8_t	a[16], b[16], plen, blen;
	int	fam;

	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "2001:db8::/32", a,
	    &plen, &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert_eq(plen, 32);
	cr_assert_eq(fam, AF_INET6);
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "2001:db8:1::/48", b,
	    &blen, &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert(flowreq_prefix_contains(a, plen, b, blen));
	cr_assert_not(flowreq_prefix_contains(b, blen, a, plen));
	cr_assert(flowreq_prefix_contains(a, plen, a, plen));
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "2001:db9::/48", b,
	    &blen, &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert_not(flowreq_prefix_contains(a, plen, b, blen));
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "::/0", a, &plen,
	    &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert(flowreq_prefix_contains(a, plen, b, blen));
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "10.0.0.0/8", a,
	    &plen, &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert_eq(fam, AF_INET);
	cr_assert_eq(plen, 104);
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "10.1.2.3", b, &blen,
	    &fam, E, sizeof(E)), 0, "%s", E);
	cr_assert(flowreq_prefix_contains(a, plen, b, blen));
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "", a, &plen, &fam,
	    E, sizeof(E)), -EINVAL);
	cr_assert_str_eq(E, "dst_prefix: empty (expected an address or a "
	    "prefix such as 2001:db8::/32)");
	cr_assert_eq(flowreq_parse_prefix("dst_prefix", "10.0.0.1/8", a,
	    &plen, &fam, E, sizeof(E)), -EINVAL);
	cr_assert_not_null(strstr(E, "did you mean 10.0.0.0/8?"), "%s", E);
}

Test(flowreq, key_layout_is_fixed)
{
	struct flowreq_in	in = base();
	struct flowreq_spec	s;
	uint8_t			k[FLOWREQ_KEY_LEN];

	cr_assert_eq(parse(&in, &s), 0, "%s", E);
	flowreq_key(&s.rule, k);
	cr_assert_eq(k[0], IPPROTO_TCP);
	cr_assert_eq(k[1], 0);
	cr_assert_eq(k[2], 0x20);
	cr_assert_eq(k[18] << 8 | k[19], 2345);
	cr_assert_eq(k[36], 128);
	cr_assert_eq(k[37] << 8 | k[38], 5777);
	cr_assert_eq(k[39] << 8 | k[40], 2);
	cr_assert_eq(k[41], 4);
	cr_assert_eq(k[42], MK_STRAT_FLOW_LABEL);
}
