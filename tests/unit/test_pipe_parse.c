/*
 * test_pipe_parse.c: the flowd named-pipe lines (notes/scitags.md §5),
 * including everything flowd got wrong.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>

#include "pipe_parse.h"
#include "tag.h"

static struct reg *reg;

static void
setup(void)
{
	char err[256];

	cr_assert_eq(reg_load_builtin(&reg, err, sizeof(err)), 0, "%s", err);
}

static void
teardown(void)
{
	reg_free(reg);
}

TestSuite(pipe, .init = setup, .fini = teardown);

static int
parse(const char *line, struct pipe_event *ev, char *err, size_t errlen)
{
	return pipe_parse_line(line, strlen(line), reg, TAG_STRAT_FLOW_LABEL,
	    ev, err, errlen);
}

Test(pipe, storm_start_line)
{
	static const uint8_t src[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	static const uint8_t dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };
	struct pipe_event ev;
	char err[256] = "";

	cr_assert_eq(parse("start tcp 2001:db8::1 2345 2001:db8::2 5777 2 4",
	    &ev, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.state, PIPE_START);
	cr_assert_eq(ev.fs.family, AF_INET6);
	cr_assert_eq(ev.fs.rule.proto, IPPROTO_TCP);
	cr_assert_arr_eq(ev.fs.rule.src, src, 16);
	cr_assert_arr_eq(ev.fs.rule.dst, dst, 16);
	cr_assert_eq(ev.fs.rule.sport, 2345);
	cr_assert_eq(ev.fs.rule.dport, 5777);
	cr_assert_eq(ev.fs.rule.exp, 2);
	cr_assert_eq(ev.fs.rule.act, 4);
	cr_assert_eq(ev.fs.rule.dst_plen, 128);
	cr_assert_eq(ev.fs.rule.src_any, 0);
	cr_assert_eq(ev.fs.rule.strategy, TAG_STRAT_FLOW_LABEL);
}

Test(pipe, end_udp_names_any_case_and_tabs)
{
	struct pipe_event ev;
	char err[256] = "";

	cr_assert_eq(parse("  END\tUDP  2001:db8::1 1\t2001:db8::2 65535 "
	    "CMS Analysis-Input\r", &ev, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.state, PIPE_END);
	cr_assert_eq(ev.fs.rule.proto, IPPROTO_UDP);
	cr_assert_eq(ev.fs.rule.exp, 3);
	cr_assert_eq(ev.fs.rule.act, 14);
	cr_assert_eq(ev.fs.rule.sport, 1);
	cr_assert_eq(ev.fs.rule.dport, 65535);
}

Test(pipe, ipv4_flow_is_parsed_as_ipv4)
{
	struct pipe_event ev;
	char err[256] = "";

	cr_assert_eq(parse("start tcp 192.0.2.1 1094 198.51.100.7 40000 "
	    "atlas 4", &ev, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.fs.family, AF_INET);
	cr_assert_eq(ev.fs.rule.dst[10], 0xff);
	cr_assert_eq(ev.fs.rule.dst[12], 198);
}

Test(pipe, blank_and_comment_lines_are_no_data)
{
	struct pipe_event ev;
	char err[256];

	cr_assert_eq(parse("", &ev, err, sizeof(err)), -ENODATA);
	cr_assert_eq(parse("   \t ", &ev, err, sizeof(err)), -ENODATA);
	cr_assert_eq(parse("# a comment", &ev, err, sizeof(err)), -ENODATA);
}

/* Arrays, not pointers: Criterion runs each test in a re-executed process. */
struct bad {
	char	line[96];
	char	needle[48];	/* must appear in the message */
};

ParameterizedTestParameters(pipe, bad_lines)
{
	static struct bad v[] = {
		{ "bogus tcp 2001:db8::1 2345 2001:db8::2 5777 2 4",
		    "field 1 (state): 'bogus'" },
		{ "start icmp 2001:db8::1 2345 2001:db8::2 5777 2 4",
		    "field 2 (protocol)" },
		{ "start tcp 2001:db8::zz 2345 2001:db8::2 5777 2 4",
		    "field 3 (source address)" },
		{ "start tcp 2001:db8::1 70000 2001:db8::2 5777 2 4",
		    "field 4 (source port): '70000'" },
		{ "start tcp 2001:db8::1 -1 2001:db8::2 5777 2 4",
		    "field 4 (source port): '-1'" },
		{ "start tcp 2001:db8::1 0 2001:db8::2 5777 2 4",
		    "field 4 (source port)" },
		{ "start tcp 2001:db8::1 +80 2001:db8::2 5777 2 4",
		    "field 4" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 99999999999 2 4",
		    "field 6 (destination port)" },
		{ "start tcp 2001:db8::1 2345 not-an-ip 5777 2 4",
		    "field 5 (destination address)" },
		{ "start tcp 2001:db8::1 2345 192.0.2.1 5777 2 4",
		    "different address families" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 atlsa 4",
		    "field 7 (experiment): 'atlsa'" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 nosuch",
		    "field 8 (activity): 'nosuch'" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 64",
		    "field 8 (activity)" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 600 1",
		    "9 bits" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 2",
		    "expected 8 fields" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 4 extra",
		    "more than 8" },
		{ "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 4\xff",
		    "byte 0xff" },
		{ "\xff", "byte 0xff at column 1" },
	};

	return cr_make_param_array(struct bad, v, sizeof(v) / sizeof(v[0]));
}

ParameterizedTest(struct bad *b, pipe, bad_lines)
{
	struct pipe_event ev;
	char err[256] = "";
	int rc;

	rc = parse(b->line, &ev, err, sizeof(err));
	cr_assert(rc == -EINVAL || rc == -ERANGE, "'%s' gave %d", b->line, rc);
	cr_assert(strstr(err, b->needle) != NULL, "'%s': message '%s' lacks "
	    "'%s'", b->line, err, b->needle);
}

Test(pipe, embedded_nul_is_rejected)
{
	static const char line[] = "start tcp 2001:db8::1 2345 2001:db8::2 "
	    "5777 2\0 4";
	struct pipe_event ev;
	char err[256] = "";

	cr_assert_eq(pipe_parse_line(line, sizeof(line) - 1, reg,
	    TAG_STRAT_FLOW_LABEL, &ev, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "byte 0x00") != NULL, "%s", err);
}

Test(pipe, large_experiment_ok_for_option_headers)
{
	struct pipe_event ev;
	char err[256] = "";

	cr_assert_eq(pipe_parse_line("start tcp ::1 1 ::2 2 600 1", 27, reg,
	    TAG_STRAT_DST, &ev, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(ev.fs.rule.exp, 600);
}

/* Line splitting. */

struct collected {
	char	lines[16][PIPE_LINE_MAX + 1];
	int	n;
	int	overlong;
};

static void
collect(void *arg, const char *line, size_t len, int overlong)
{
	struct collected *c = arg;

	if (overlong) {
		c->overlong++;
		return;
	}
	cr_assert_lt(c->n, 16);
	memcpy(c->lines[c->n], line, len);
	c->lines[c->n][len] = '\0';
	c->n++;
}

Test(pipe, partial_lines_are_kept_across_reads)
{
	/* flowd turned activity 14 into 1 when a read ended inside "14". */
	const char *a = "start tcp ::1 1 ::2 2 3 1", *b = "4\nend tcp ::1 1 ",
	    *c = "::2 2 3 14\n";
	struct collected got = { 0 };
	struct pipe_buf pb;

	pipe_buf_init(&pb);
	pipe_buf_feed(&pb, a, strlen(a), collect, &got);
	cr_assert_eq(got.n, 0);
	pipe_buf_feed(&pb, b, strlen(b), collect, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.lines[0], "start tcp ::1 1 ::2 2 3 14");
	pipe_buf_feed(&pb, c, strlen(c), collect, &got);
	cr_assert_eq(got.n, 2);
	cr_assert_str_eq(got.lines[1], "end tcp ::1 1 ::2 2 3 14");
}

Test(pipe, every_split_point_gives_the_same_lines)
{
	const char *text = "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 4\n"
	    "end udp ::1 1 ::2 2 cms 14\n\nstart tcp ::3 3 ::4 4 1 1\n";
	size_t len = strlen(text), cut;

	for (cut = 0; cut <= len; cut++) {
		struct collected got = { 0 };
		struct pipe_buf pb;

		pipe_buf_init(&pb);
		pipe_buf_feed(&pb, text, cut, collect, &got);
		pipe_buf_feed(&pb, text + cut, len - cut, collect, &got);
		cr_assert_eq(got.n, 4, "cut at %zu", cut);
		cr_assert_str_eq(got.lines[0],
		    "start tcp 2001:db8::1 2345 2001:db8::2 5777 2 4");
		cr_assert_str_eq(got.lines[1], "end udp ::1 1 ::2 2 cms 14");
		cr_assert_str_eq(got.lines[2], "");
		cr_assert_str_eq(got.lines[3], "start tcp ::3 3 ::4 4 1 1");
	}
}

Test(pipe, overlong_line_is_reported_once_and_skipped)
{
	char big[3 * PIPE_LINE_MAX];
	struct collected got = { 0 };
	struct pipe_buf pb;

	memset(big, 'x', sizeof(big));
	pipe_buf_init(&pb);
	pipe_buf_feed(&pb, big, sizeof(big), collect, &got);
	pipe_buf_feed(&pb, big, sizeof(big), collect, &got);
	pipe_buf_feed(&pb, "\nstart tcp ::1 1 ::2 2 1 1\n", 27, collect,
	    &got);
	cr_assert_eq(got.overlong, 1);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.lines[0], "start tcp ::1 1 ::2 2 1 1");
}

Test(pipe, line_of_exactly_max_is_accepted)
{
	char line[PIPE_LINE_MAX + 1];
	struct collected got = { 0 };
	struct pipe_buf pb;

	memset(line, 'y', PIPE_LINE_MAX);
	line[PIPE_LINE_MAX] = '\n';
	pipe_buf_init(&pb);
	pipe_buf_feed(&pb, line, sizeof(line), collect, &got);
	cr_assert_eq(got.overlong, 0);
	cr_assert_eq(got.n, 1);
	cr_assert_eq(strlen(got.lines[0]), PIPE_LINE_MAX);
}

Test(pipe, flush_takes_a_last_line_without_newline)
{
	struct collected got = { 0 };
	struct pipe_buf pb;

	pipe_buf_init(&pb);
	pipe_buf_feed(&pb, "end tcp ::1 1 ::2 2 1 1", 23, collect, &got);
	cr_assert_eq(got.n, 0);
	pipe_buf_flush(&pb, collect, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_str_eq(got.lines[0], "end tcp ::1 1 ::2 2 1 1");
}
