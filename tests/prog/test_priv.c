/*
 * test_priv.c: the privileged side of sctagd's channel trusts nothing it
 * receives. Messages of the wrong size, magic, operation or count are
 * answered EPROTO and change no rule; a good many-rule message adds each
 * rule once and reports the ones that existed. Real marker, real
 * socketpair; needs root (CAP_BPF).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <sodium.h>

#include "priv.h"

static struct marker *m;
static int sp[2];

static void
setup(void)
{
	struct marker_opts o = { .pin_dir = NULL, .capacity = 1024 };
	char err[256];

	if (geteuid() != 0) {
		if (getenv("CI"))
			cr_assert_fail("needs root (CAP_BPF); CI runs as root");
		cr_skip_test("needs root (CAP_BPF)");
	}
	cr_assert_geq(sodium_init(), 0);
	cr_assert_eq(marker_open(&m, &o, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
}

static void
teardown(void)
{
	marker_close(m);
	close(sp[0]);
	close(sp[1]);
}

TestSuite(priv, .init = setup, .fini = teardown, .timeout = 30);

static struct marker_rule
rule(uint16_t dport)
{
	struct marker_rule r;

	memset(&r, 0, sizeof(r));
	r.proto = IPPROTO_TCP;
	inet_pton(AF_INET6, "2001:db8::1", r.src);
	inet_pton(AF_INET6, "2001:db8::2", r.dst);
	r.sport = 1094;
	r.dport = dport;
	r.dst_plen = 128;
	r.strategy = MK_STRAT_FLOW_LABEL;
	r.exp = 2;
	r.act = 4;
	return r;
}

static int
rules_in(void)
{
	uint32_t h[MK_NSHAPES], l[MK_NSHAPES], d;

	marker_usage(m, h, l, &d);
	return (int)h[MK_SHAPE_EXACT];
}

/* Send raw bytes to the privileged side, serve them, read the answer. */
static void
raw(const void *buf, size_t len, void *rep, size_t replen)
{
	cr_assert_eq(send(sp[1], buf, len, 0), (ssize_t)len);
	cr_assert_eq(priv_serve_one(sp[0], m), 0);
	cr_assert_eq(recv(sp[1], rep, replen, 0), (ssize_t)replen);
}

Test(priv, malformed_messages_are_refused)
{
	static struct priv_many_req many;
	struct priv_req one;
	struct priv_rep rep;
	uint8_t junk[7] = { 1, 2, 3, 4, 5, 6, 7 };

	raw(junk, sizeof(junk), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	memset(&one, 0, sizeof(one));
	one.magic = 0xdeadbeef;
	one.op = PRIV_RULE_ADD;
	one.rule = rule(1);
	raw(&one, sizeof(one), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	one.magic = PRIV_MAGIC;
	one.op = 99;
	raw(&one, sizeof(one), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	/* A many-rule operation in a one-rule message. */
	one.op = PRIV_RULES_MANY;
	raw(&one, sizeof(one), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	/* Counts 0 and PRIV_MANY_MAX + 1. */
	memset(&many, 0, sizeof(many));
	many.magic = PRIV_MAGIC;
	many.op = PRIV_RULES_MANY;
	many.rules[0] = rule(2);
	many.count = 0;
	raw(&many, sizeof(many), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	many.count = PRIV_MANY_MAX + 1;
	raw(&many, sizeof(many), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -EPROTO);
	/* A rule the marker refuses, through the one-rule path. */
	one.op = PRIV_RULE_ADD;
	one.rule = rule(3);
	one.rule.exp = 600;	/* does not fit the flow label */
	raw(&one, sizeof(one), &rep, sizeof(rep));
	cr_assert_eq(rep.rc, -ERANGE, "%s", rep.err);
	cr_assert_eq(rules_in(), 0, "a refused message changed the rules");
}

Test(priv, many_rules_in_one_round_trip)
{
	struct priv_client c = { .fd = 0, .seq = 0 };
	struct marker_rule r[100];
	struct mk_rule got[100];
	int32_t rc[100];
	pid_t pid;
	int i, status;

	for (i = 0; i < 100; i++)
		r[i] = rule((uint16_t)(1000 + i));
	r[50] = r[10];		/* the same match twice */
	r[60].exp = 700;	/* refused by the marker */
	/* The client in a child, the privileged side here. */
	if ((pid = fork()) == 0) {
		close(sp[0]);
		c.fd = sp[1];
		_exit(priv_rules_add_new(&c, r, 100, rc, got) == 0 &&
		    rc[0] == 0 && rc[10] == 0 && rc[50] == -EEXIST &&
		    rc[60] == -ERANGE && got[0].label != 0 ? 0 : 1);
	}
	cr_assert_gt(pid, 0);
	for (i = 0; i < 2; i++)		/* 100 rules: two messages of 64 */
		cr_assert_eq(priv_serve_one(sp[0], m), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the client saw the wrong results");
	cr_assert_eq(rules_in(), 98);
}

Test(priv, many_changes_mix_adds_and_deletes)
{
	static struct priv_many_req req;
	static struct priv_many_rep rep;
	struct priv_client c = { .fd = 0, .seq = 0 };
	struct marker_rule r[3];
	struct mk_rule got[3];
	uint8_t ops[3] = { PRIV_MANY_ADD_NEW, PRIV_MANY_ADD_NEW,
	    PRIV_MANY_ADD_NEW };
	int32_t rc[3];
	pid_t pid;
	int status;

	r[0] = rule(2000);
	r[1] = rule(2001);
	r[2] = rule(2002);
	/* Two in, then: delete one, add the third, delete one not there. */
	if ((pid = fork()) == 0) {
		close(sp[0]);
		c.fd = sp[1];
		if (priv_rules_many(&c, ops, r, 2, rc, got) != 0 ||
		    rc[0] != 0 || rc[1] != 0)
			_exit(1);
		ops[0] = PRIV_MANY_DEL;
		ops[2] = PRIV_MANY_DEL;
		r[1] = rule(2002);
		r[2] = rule(2003);
		_exit(priv_rules_many(&c, ops, r, 3, rc, got) == 0 &&
		    rc[0] == 0 && rc[1] == 0 && rc[2] == -ENOENT ? 0 : 2);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(priv_serve_one(sp[0], m), 0);
	cr_assert_eq(priv_serve_one(sp[0], m), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the client saw the wrong results (exit %d)", WEXITSTATUS(status));
	cr_assert_eq(rules_in(), 2, "2001 and 2002 stay");

	/* An unknown per-rule operation: refused, nothing changed. */
	memset(&req, 0, sizeof(req));
	req.magic = PRIV_MAGIC;
	req.op = PRIV_RULES_MANY;
	req.count = 1;
	req.ops[0] = 77;
	req.rules[0] = rule(2001);
	raw(&req, sizeof(req), &rep, sizeof(rep));
	cr_assert_eq(rep.rc[0], -EPROTO);
	cr_assert_eq(rules_in(), 2);
}
