/*
 * test_sctagctl_args.c: sctagctl's pure parts: -H [NAME=]URL and hosts
 * files, the target host derived from a URL, addresses with ports and
 * prefixes, flow options, batch lines in both formats, and how the
 * results of many hosts make one exit code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "sctag.h"
#include "sctagctl_parse.h"

Test(host, name_and_url)
{
	struct ctl_host	h;
	char		err[256];

	cr_assert_eq(ctl_parse_host("dtn-01.example.org=tls+tcp://[2001:db8::10]:7443",
	    &h, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(h.target, "dtn-01.example.org");
	cr_assert_str_eq(h.label, "dtn-01.example.org");
	cr_assert_str_eq(h.url, "tls+tcp://[2001:db8::10]:7443");

	cr_assert_eq(ctl_parse_host("tls+tcp://dtn-02.example.org:7443", &h,
	    err, sizeof(err)), 0);
	cr_assert_str_eq(h.target, "");
	cr_assert_str_eq(h.label, "dtn-02.example.org");

	/* An address without a name: the label is the URL, and the
	 * library refuses it when opening (no name to check). */
	cr_assert_eq(ctl_parse_host("tls+tcp://192.0.2.7:7443", &h, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(h.label, "tls+tcp://192.0.2.7:7443");

	/* '=' after the scheme is part of the URL. */
	cr_assert_eq(ctl_parse_host("ipc:///run/a=b.sock", &h, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(h.url, "ipc:///run/a=b.sock");
	cr_assert_str_eq(h.target, "");
}

Test(host, bad_arguments)
{
	struct ctl_host	h;
	char		err[256];

	cr_assert_eq(ctl_parse_host("tcp://host:1", &h, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_host("bad name=ipc:///x", &h, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_host("=ipc:///x", &h, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_host("dtn-01", &h, err, sizeof(err)),
	    -EINVAL);
}

Test(host, target_derived_from_url)
{
	char	h[300], me[300];

	cr_assert_eq(sctag_url_target("tls+tcp://dtn-01.example.org:7443", h,
	    sizeof(h)), 0);
	cr_assert_str_eq(h, "dtn-01.example.org");
	cr_assert_eq(sctag_url_target("tls+tcp://[2001:db8::1]:7443", h,
	    sizeof(h)), -EINVAL);
	cr_assert_eq(sctag_url_target("tls+tcp://192.0.2.1:7443", h,
	    sizeof(h)), -EINVAL);
	cr_assert_eq(sctag_url_target("tls+tcp://host", h, sizeof(h)),
	    -EINVAL);
	cr_assert_eq(sctag_url_target("tls+tcp://host:70000", h, sizeof(h)),
	    -EINVAL);
	cr_assert_eq(sctag_url_target("tls+tcp://[2001:db8::1:7443", h,
	    sizeof(h)), -EINVAL);
	cr_assert_eq(sctag_url_target("http://host:80", h, sizeof(h)),
	    -EINVAL);
	cr_assert_eq(sctag_url_target("ipc://", h, sizeof(h)), -EINVAL);
	cr_assert_eq(sctag_url_target("tls+tcp://dtn-01.example.org:7443", h,
	    5), -ENAMETOOLONG);
	/* ipc: this host's name. */
	memset(me, 0, sizeof(me));
	cr_assert_eq(gethostname(me, sizeof(me) - 1), 0);
	cr_assert_eq(sctag_url_target("ipc:///run/sctag/sctagd.sock", h,
	    sizeof(h)), 0);
	cr_assert_str_eq(h, me);
}

Test(host, hosts_file_text)
{
	struct ctl_host	*hs = NULL;
	size_t		 n = 0;
	char		 err[256];
	const char	*text =
	    "# agents of the site\n"
	    "\n"
	    "dtn-01.example.org=tls+tcp://[2001:db8::10]:7443   # rack 1\n"
	    "  tls+tcp://dtn-02.example.org:7443\r\n"
	    "ipc:///run/sctag/sctagd.sock";

	cr_assert_eq(ctl_parse_hosts_text(text, "hosts", &hs, &n, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(hs[0].target, "dtn-01.example.org");
	cr_assert_str_eq(hs[0].url, "tls+tcp://[2001:db8::10]:7443");
	cr_assert_str_eq(hs[1].label, "dtn-02.example.org");
	cr_assert_str_eq(hs[2].url, "ipc:///run/sctag/sctagd.sock");
	free(hs);

	hs = NULL;
	n = 0;
	cr_assert_eq(ctl_parse_hosts_text("ipc:///a\nnot a url\n", "hosts",
	    &hs, &n, err, sizeof(err)), -EINVAL);
	cr_assert(strncmp(err, "hosts:2:", 8) == 0, "%s", err);
	free(hs);
}

Test(addr, source)
{
	char		a[CTL_ADDR_MAX + 1], err[256];
	unsigned	p;

	cr_assert_eq(ctl_parse_src("[2001:db8::1]:2811", a, &p, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(a, "2001:db8::1");
	cr_assert_eq(p, 2811);
	cr_assert_eq(ctl_parse_src("2001:db8::1", a, &p, err, sizeof(err)), 0);
	cr_assert_str_eq(a, "2001:db8::1");
	cr_assert_eq(p, 0);
	cr_assert_eq(ctl_parse_src("[2001:db8::1]", a, &p, err, sizeof(err)),
	    0);
	cr_assert_eq(p, 0);
	cr_assert_eq(ctl_parse_src("192.0.2.1:80", a, &p, err, sizeof(err)),
	    0);
	cr_assert_str_eq(a, "192.0.2.1");
	cr_assert_eq(p, 80);
	cr_assert_eq(ctl_parse_src("*", a, &p, err, sizeof(err)), 0);
	cr_assert_str_eq(a, "");
	/* A source is one address. */
	cr_assert_eq(ctl_parse_src("2001:db8::/64", a, &p, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_src("[2001:db8::1]:0", a, &p, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_src("[2001:db8::1]:65536", a, &p, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_src("[2001:db8::1]2811", a, &p, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_src("[2001:db8::1:2811", a, &p, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_src("dtn-01:2811", a, &p, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_src("2001:db8::g", a, &p, err, sizeof(err)),
	    -EINVAL);
}

Test(addr, destination_with_prefix)
{
	char		a[CTL_ADDR_MAX + 1], err[256];
	unsigned	p;

	cr_assert_eq(ctl_parse_dst("[2001:db8::/48]:443", a, &p, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(a, "2001:db8::/48");
	cr_assert_eq(p, 443);
	cr_assert_eq(ctl_parse_dst("[2001:db8::]/48:443", a, &p, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(a, "2001:db8::/48");
	cr_assert_eq(p, 443);
	cr_assert_eq(ctl_parse_dst("2001:db8::/48", a, &p, err, sizeof(err)),
	    0);
	cr_assert_str_eq(a, "2001:db8::/48");
	cr_assert_eq(p, 0);
	cr_assert_eq(ctl_parse_dst("192.0.2.0/24:1094", a, &p, err,
	    sizeof(err)), 0);
	cr_assert_str_eq(a, "192.0.2.0/24");
	cr_assert_eq(p, 1094);
	cr_assert_eq(ctl_parse_dst("2001:db8::/129", a, &p, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_dst("192.0.2.0/33", a, &p, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_dst("[2001:db8::/x]:1", a, &p, err,
	    sizeof(err)), -EINVAL);
}

Test(flow, options_of_start)
{
	char		*argv[] = { "--proto", "udp", "--src", "[2001:db8::1]:2811",
	    "--dst=[2001:db8:1::/48]:443", "--experiment", "atlas",
	    "--activity", "perf", "--ttl", "3600", "--strategy",
	    "hop-by-hop", "--app", "fts" };
	struct ctl_flow	 f;
	char		 err[256];
	Sctag__V1__FlowSpec *s;

	cr_assert_eq(ctl_parse_flow(15, argv, 1, &f, err, sizeof(err)), 0,
	    "%s", err);
	s = ctl_flow_spec(&f);
	cr_assert_eq(s->protocol, SCTAG__V1__PROTOCOL__PROTOCOL_UDP);
	cr_assert_str_eq(s->src, "2001:db8::1");
	cr_assert_eq(s->src_port, 2811);
	cr_assert_str_eq(s->dst, "2001:db8:1::/48");
	cr_assert_eq(s->dst_port, 443);
	cr_assert_str_eq(s->tag->experiment, "atlas");
	cr_assert_str_eq(s->tag->activity, "perf");
	cr_assert_eq(s->ttl_seconds, 3600);
	cr_assert_eq(s->strategy, SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP);
	cr_assert_str_eq(s->application, "fts");
	cr_assert(!s->per_connection);
}

Test(flow, per_connection_is_a_flag)
{
	char		*argv[] = { "--dst", "2001:db8:1::/48",
	    "--per-connection", "--scitag", "130" };
	char		*last[] = { "--dst", "2001:db8:1::/48", "--scitag", "130",
	    "--per-connection" };
	struct ctl_flow	 f;
	char		 err[256];

	cr_assert_eq(ctl_parse_flow(5, argv, 1, &f, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert(ctl_flow_spec(&f)->per_connection);
	cr_assert_eq(f.scitag, 130);
	cr_assert_eq(ctl_parse_flow(5, last, 1, &f, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert(ctl_flow_spec(&f)->per_connection);
}

Test(flow, tag_rules)
{
	char		*only_exp[] = { "--dst", "2001:db8::2", "--experiment",
	    "atlas" };
	char		*both[] = { "--experiment", "atlas", "--activity", "perf",
	    "--scitag", "130" };
	char		*scitag[] = { "--dst", "2001:db8::2", "--scitag", "130" };
	char		*none[] = { "--dst", "2001:db8::2" };
	char		*unknown[] = { "--colour", "blue" };
	char		*dangling[] = { "--dst" };
	struct ctl_flow	 f;
	char		 err[256];

	cr_assert_eq(ctl_parse_flow(4, only_exp, 1, &f, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_flow(6, both, 1, &f, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_flow(4, scitag, 1, &f, err, sizeof(err)), 0);
	cr_assert_eq(f.scitag, 130);
	cr_assert_eq(ctl_parse_flow(2, none, 1, &f, err, sizeof(err)),
	    -EINVAL);
	/* end by spec: the tag may be left out. */
	cr_assert_eq(ctl_parse_flow(2, none, 0, &f, err, sizeof(err)), 0);
	cr_assert_eq(ctl_parse_flow(2, unknown, 0, &f, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(ctl_parse_flow(1, dangling, 0, &f, err, sizeof(err)),
	    -EINVAL);
}

Test(batch, sctagctl_format)
{
	struct ctl_item	it;
	char		err[256];
	char		l1[] = "start --proto tcp --src [2001:db8::1]:2811 "
	    "--dst [2001:db8::2]:443 --experiment atlas --activity perf";
	char		l2[] = "end 42";
	char		l3[] = "end --dst [2001:db8::2]:443   # by spec";
	char		l4[] = "   # comment only";
	char		l5[] = "\n";

	cr_assert_eq(ctl_parse_batch_line(l1, &it, err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(it.op, CTL_OP_START);
	cr_assert_eq(it.flow.sport, 2811);
	cr_assert_str_eq(it.flow.experiment, "atlas");
	cr_assert_eq(ctl_parse_batch_line(l2, &it, err, sizeof(err)), 1);
	cr_assert_eq(it.op, CTL_OP_END);
	cr_assert(it.by_id);
	cr_assert_eq(it.id, 42);
	cr_assert_eq(ctl_parse_batch_line(l3, &it, err, sizeof(err)), 1,
	    "%s", err);
	cr_assert(!it.by_id);
	cr_assert_eq(it.flow.dport, 443);
	cr_assert_eq(ctl_parse_batch_line(l4, &it, err, sizeof(err)), 0);
	cr_assert_eq(ctl_parse_batch_line(l5, &it, err, sizeof(err)), 0);
}

Test(batch, flowd_format)
{
	struct ctl_item	it;
	char		err[256];
	char		l1[] = "start tcp 2001:db8::1 2811 2001:db8::2 443 atlas perf";
	char		l2[] = "end udp 192.0.2.1 0 192.0.2.2 53 cms 3\n";

	cr_assert_eq(ctl_parse_batch_line(l1, &it, err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(it.op, CTL_OP_START);
	cr_assert_eq(it.flow.proto, SCTAG__V1__PROTOCOL__PROTOCOL_TCP);
	cr_assert_str_eq(it.flow.src, "2001:db8::1");
	cr_assert_eq(it.flow.sport, 2811);
	cr_assert_str_eq(it.flow.dst, "2001:db8::2");
	cr_assert_eq(it.flow.dport, 443);
	cr_assert_str_eq(it.flow.experiment, "atlas");
	cr_assert_str_eq(it.flow.activity, "perf");
	cr_assert_eq(ctl_parse_batch_line(l2, &it, err, sizeof(err)), 1,
	    "%s", err);
	cr_assert_eq(it.op, CTL_OP_END);
	cr_assert_eq(it.flow.proto, SCTAG__V1__PROTOCOL__PROTOCOL_UDP);
	cr_assert_str_eq(it.flow.activity, "3");
}

Test(batch, bad_lines)
{
	struct ctl_item	it;
	char		err[256];
	char		l1[] = "begin tcp ::1 1 ::2 2 a b";
	char		l2[] = "start tcp 2001:db8::1 2811 2001:db8::2 atlas perf";
	char		l3[] = "start any ::1 1 ::2 2 a b";
	char		l4[] = "start tcp ::1 70000 ::2 2 a b";
	char		l5[] = "end 0";
	char		l6[] = "start";
	char		l7[] = "start tcp [::1]:5 1 ::2 2 a b";

	cr_assert_eq(ctl_parse_batch_line(l1, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l2, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l3, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l4, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l5, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l6, &it, err, sizeof(err)), -EINVAL);
	cr_assert_eq(ctl_parse_batch_line(l7, &it, err, sizeof(err)), -EINVAL);
}

Test(exit, worst_result_wins)
{
	struct sctag_result		r[4];
	Sctag__V1__Reply		rep = SCTAG__V1__REPLY__INIT;
	Sctag__V1__BatchReply		b = SCTAG__V1__BATCH_REPLY__INIT;
	Sctag__V1__BatchResult		ok = SCTAG__V1__BATCH_RESULT__INIT;
	Sctag__V1__BatchResult		bad = SCTAG__V1__BATCH_RESULT__INIT;
	Sctag__V1__BatchResult		*res[2] = { &ok, &bad };

	memset(r, 0, sizeof(r));
	cr_assert_eq(ctl_exit_code(r, 4), CTL_EXIT_OK);
	r[1].status = SCTAG_ERR_REPLY;
	cr_assert_eq(ctl_exit_code(r, 4), CTL_EXIT_REPLY);
	r[2].status = SCTAG_ERR_TIMEOUT;
	cr_assert_eq(ctl_exit_code(r, 4), CTL_EXIT_TRANSPORT);
	r[2].status = SCTAG_ERR_PROTOCOL;
	cr_assert_eq(ctl_exit_code(r, 4), CTL_EXIT_TRANSPORT);
	r[3].status = SCTAG_ERR_LOCAL;
	cr_assert_eq(ctl_exit_code(r, 4), CTL_EXIT_LOCAL);

	/* A batch the agent took, with one failed item. */
	memset(r, 0, sizeof(r));
	bad.code = SCTAG__V1__CODE__INVALID_ARGUMENT;
	b.n_results = 2;
	b.results = res;
	rep.result_case = SCTAG__V1__REPLY__RESULT_BATCH;
	rep.batch = &b;
	r[0].reply = &rep;
	cr_assert_eq(ctl_exit_code(r, 1), CTL_EXIT_REPLY);
	bad.code = SCTAG__V1__CODE__OK;
	cr_assert_eq(ctl_exit_code(r, 1), CTL_EXIT_OK);
}
