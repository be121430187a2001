/*
 * test_auth.c: authorized_keys (good file, every error with its line),
 * the role matrix, the order of auth_check's checks and the code of each
 * failure, the timestamp window's edges, nonce replay, expiry and a full
 * cache, request-id replies, and concurrent callers.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <sodium.h>

#include "auth.h"
#include "keys.h"

#define assert_has(hay, needle)						\
	cr_assert(strstr((hay), (needle)) != NULL,			\
	    "message '%s' lacks '%s'", (hay), (needle))

/* The values are the protocol's (agent.proto enum Code). */
_Static_assert(AUTH_OK == 0, "Code");
_Static_assert(AUTH_INVALID_ARGUMENT == 1, "Code");
_Static_assert(AUTH_NOT_FOUND == 2, "Code");
_Static_assert(AUTH_ALREADY_EXISTS == 3, "Code");
_Static_assert(AUTH_PERMISSION_DENIED == 4, "Code");
_Static_assert(AUTH_UNAUTHENTICATED == 5, "Code");
_Static_assert(AUTH_RESOURCE_EXHAUSTED == 6, "Code");
_Static_assert(AUTH_UNAVAILABLE == 7, "Code");
_Static_assert(AUTH_INTERNAL == 8, "Code");

/* ---- keys used throughout: seed i is 32 bytes of value i ---- */

#define NKEYS	8

static uint8_t	PK[NKEYS][ENV_PK_LEN], SK[NKEYS][ENV_SK_LEN];
static uint8_t	ID[NKEYS][ENV_KEYID_LEN];
static char	B64[NKEYS][KEYS_B64_SIZE];
static char	SSH[NKEYS][128];

static void
make_keys(void)
{
	uint8_t	seed[32], blob[51];
	int	i, m;

	cr_assert_eq(env_sodium_init(), 0);
	for (i = 0; i < NKEYS; i++) {
		memset(seed, i + 1, sizeof(seed));
		cr_assert_eq(crypto_sign_seed_keypair(PK[i], SK[i], seed), 0);
		cr_assert_eq(env_key_id(PK[i], ID[i]), 0);
		keys_format_public(PK[i], B64[i]);
		memcpy(blob, "\0\0\0\x0bssh-ed25519\0\0\0\x20", 19);
		memcpy(blob + 19, PK[i], 32);
		m = snprintf(SSH[i], sizeof(SSH[i]), "ssh-ed25519 ");
		sodium_bin2base64(SSH[i] + m, sizeof(SSH[i]) - (size_t)m,
		    blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	}
}

/* ---- names and the role matrix ---- */

TestSuite(roles);

struct matrix_case {
	int	role;
	int	op;
	int	allowed;
};

#define ROW(r, s, e, b, l, st, rg, p, rl, d, w)				\
	{ r, AUTH_OP_START_FLOW, s }, { r, AUTH_OP_END_FLOW, e },	\
	{ r, AUTH_OP_BATCH, b }, { r, AUTH_OP_LIST_FLOWS, l },		\
	{ r, AUTH_OP_GET_STATUS, st }, { r, AUTH_OP_GET_REGISTRY, rg },	\
	{ r, AUTH_OP_PING, p }, { r, AUTH_OP_RELOAD, rl },		\
	{ r, AUTH_OP_DRAIN, d }, { r, AUTH_OP_WATCH, w }

ParameterizedTestParameters(roles, matrix)
{
	/* The table in docs/security.md, written out: every role x op. */
	static struct matrix_case cases[] = {
		/*                     Start End Batch List Status Reg Ping Reload Drain Watch */
		ROW(AUTH_ROLE_NONE,         0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		ROW(AUTH_ROLE_MONITOR,      0, 0, 0, 1, 1, 1, 1, 0, 0, 1),
		ROW(AUTH_ROLE_ORCHESTRATOR, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1),
		ROW(AUTH_ROLE_ADMIN,        1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
	};

	return cr_make_param_array(struct matrix_case, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct matrix_case *c, roles, matrix)
{
	cr_assert_eq(auth_allowed((enum auth_role)c->role,
	    (enum auth_op)c->op), c->allowed, "role %s op %s",
	    auth_role_name((enum auth_role)c->role),
	    auth_op_name((enum auth_op)c->op));
}

Test(roles, matrix_is_complete)
{
	/* 4 roles x AUTH_OP_COUNT ops: a new op must get a row above. */
	cr_assert_eq(AUTH_OP_COUNT, 10);
}

Test(roles, out_of_range)
{
	cr_assert_eq(auth_allowed(AUTH_ROLE_ADMIN, AUTH_OP_COUNT), 0);
	cr_assert_eq(auth_allowed(AUTH_ROLE_ADMIN, (enum auth_op)-1), 0);
	cr_assert_eq(auth_allowed((enum auth_role)4, AUTH_OP_PING), 0);
	cr_assert_eq(auth_allowed((enum auth_role)-1, AUTH_OP_PING), 0);
	cr_assert_str_eq(auth_op_name(AUTH_OP_COUNT), "?");
	cr_assert_str_eq(auth_role_name((enum auth_role)4), "?");
	cr_assert_str_eq(auth_code_name((enum auth_code)9), "?");
}

Test(roles, names)
{
	static const char *const ops[] = { "StartFlow", "EndFlow", "Batch",
	    "ListFlows", "GetStatus", "GetRegistry", "Ping", "Reload",
	    "Drain", "Watch" };
	static const char *const codes[] = { "OK", "INVALID_ARGUMENT",
	    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	    "UNAUTHENTICATED", "RESOURCE_EXHAUSTED", "UNAVAILABLE",
	    "INTERNAL" };
	int	i;

	for (i = 0; i < AUTH_OP_COUNT; i++)
		cr_assert_str_eq(auth_op_name((enum auth_op)i), ops[i]);
	for (i = 0; i <= AUTH_INTERNAL; i++)
		cr_assert_str_eq(auth_code_name((enum auth_code)i), codes[i]);
	cr_assert_str_eq(auth_role_name(AUTH_ROLE_NONE), "none");
	cr_assert_str_eq(auth_role_name(AUTH_ROLE_MONITOR), "monitor");
	cr_assert_str_eq(auth_role_name(AUTH_ROLE_ORCHESTRATOR),
	    "orchestrator");
	cr_assert_str_eq(auth_role_name(AUTH_ROLE_ADMIN), "admin");
}

/* ---- authorized_keys ---- */

static char	dir[] = "/tmp/test_auth_XXXXXX";
static int	have_dir;

static void
keys_setup(void)
{
	make_keys();
	cr_assert_not_null(mkdtemp(dir));
	have_dir = 1;
}

static void
keys_teardown(void)
{
	char	cmd[128];

	if (!have_dir)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

TestSuite(authkeys, .init = keys_setup, .fini = keys_teardown);

static struct auth_keys *
parse_ok(const char *text)
{
	struct auth_keys	*t = NULL;
	char			 err[512] = "";

	cr_assert_eq(auth_keys_parse(text, strlen(text), "ak", &t, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_not_null(t);
	return t;
}

/* Refused with exactly want (which starts "ak:LINE: "). */
static void
parse_bad(const char *text, const char *want)
{
	struct auth_keys	*t = (void *)1;
	char			 err[512] = "";

	cr_assert_eq(auth_keys_parse(text, strlen(text), "ak", &t, err,
	    sizeof(err)), -EINVAL, "accepted:\n%s", text);
	cr_assert_null(t);
	cr_assert_str_eq(err, want);
}

Test(authkeys, good_file)
{
	struct auth_keys	*t;
	const struct auth_key	*k;
	char			 text[4096];

	snprintf(text, sizeof(text),
	    "# sctag authorized_keys\n"
	    "\n"
	    "monitor %s grafana\n"
	    "   \t\n"
	    "  # indented comment\n"
	    "orchestrator\t%s  fts-01.cern.ch\r\n"
	    "admin %s ops@site # trailing comment\n"
	    "orchestrator %s rucio_2\n"
	    "monitor %s x",			/* no final newline */
	    B64[0], SSH[1], B64[2], SSH[3], B64[4]);
	t = parse_ok(text);
	cr_assert_eq(auth_keys_count(t), 5);

	k = auth_keys_at(t, 0);
	cr_assert_eq(k->role, AUTH_ROLE_MONITOR);
	cr_assert_str_eq(k->name, "grafana");
	cr_assert_eq(k->line, 3);
	cr_assert_eq(memcmp(k->pk, PK[0], ENV_PK_LEN), 0);
	cr_assert_eq(memcmp(k->key_id, ID[0], ENV_KEYID_LEN), 0);

	k = auth_keys_at(t, 1);
	cr_assert_eq(k->role, AUTH_ROLE_ORCHESTRATOR);
	cr_assert_str_eq(k->name, "fts-01.cern.ch");
	cr_assert_eq(k->line, 6);
	cr_assert_eq(memcmp(k->pk, PK[1], ENV_PK_LEN), 0);

	k = auth_keys_at(t, 2);
	cr_assert_eq(k->role, AUTH_ROLE_ADMIN);
	cr_assert_str_eq(k->name, "ops@site");
	cr_assert_eq(k->line, 7);

	cr_assert_str_eq(auth_keys_at(t, 3)->name, "rucio_2");
	cr_assert_str_eq(auth_keys_at(t, 4)->name, "x");
	cr_assert_eq(auth_keys_at(t, 4)->line, 9);
	cr_assert_null(auth_keys_at(t, 5));

	/* lookup */
	cr_assert_eq(auth_keys_find(t, ID[1], ENV_KEYID_LEN),
	    auth_keys_at(t, 1));
	cr_assert_eq(auth_keys_find(t, ID[4], ENV_KEYID_LEN),
	    auth_keys_at(t, 4));
	cr_assert_null(auth_keys_find(t, ID[5], ENV_KEYID_LEN));
	cr_assert_null(auth_keys_find(t, ID[1], ENV_KEYID_LEN - 1));
	cr_assert_null(auth_keys_find(t, NULL, ENV_KEYID_LEN));
	auth_keys_free(t);
}

Test(authkeys, empty_file)
{
	struct auth_keys	*t = parse_ok("# nobody yet\n\n");

	cr_assert_eq(auth_keys_count(t), 0);
	cr_assert_null(auth_keys_find(t, ID[0], ENV_KEYID_LEN));
	auth_keys_free(t);
	t = parse_ok("");
	cr_assert_eq(auth_keys_count(t), 0);
	auth_keys_free(t);
}

Test(authkeys, name_charset_and_length)
{
	char			 text[512], name[AUTH_NAME_MAX + 2];
	struct auth_keys	*t;

	memset(name, 'n', AUTH_NAME_MAX);
	name[AUTH_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "monitor %s %s\n", B64[0], name);
	t = parse_ok(text);
	cr_assert_str_eq(auth_keys_at(t, 0)->name, name);
	auth_keys_free(t);
	snprintf(text, sizeof(text), "monitor %s A-Za-z0-9._@-\n", B64[0]);
	t = parse_ok(text);
	auth_keys_free(t);
}

/* line is the 4th of a file, between good ones; must give "ak:4: msg". */
static void
bad_line(const char *line, const char *msg)
{
	char	text[2048], want[512];

	snprintf(text, sizeof(text), "# keys\nmonitor %s a\n\n%s\n"
	    "monitor %s z\n", B64[0], line, B64[7]);
	snprintf(want, sizeof(want), "ak:4: %s", msg);
	parse_bad(text, want);
}

Test(authkeys, errors_with_line_numbers)
{
	static const char	need3[] = "expected ROLE KEY NAME, where KEY "
	    "is 'BASE64' or 'ssh-ed25519 BASE64'";
	static const char	badname[] = " is not 1-64 characters of A-Z "
	    "a-z 0-9 . _ @ -";
	char			l[512], want[256], name[AUTH_NAME_MAX + 2];

	snprintf(l, sizeof(l), "root %s b", B64[1]);
	bad_line(l, "unknown role 'root' (expected monitor, orchestrator or "
	    "admin)");
	snprintf(l, sizeof(l), "Admin %s b", B64[1]);
	bad_line(l, "unknown role 'Admin' (expected monitor, orchestrator or "
	    "admin)");
	bad_line("admin", need3);
	snprintf(l, sizeof(l), "admin %s", B64[1]);
	bad_line(l, need3);
	snprintf(l, sizeof(l), "admin %s", SSH[1]);
	bad_line(l, need3);
	snprintf(l, sizeof(l), "admin %s b extra", B64[1]);
	bad_line(l, "unexpected 'extra' after the name (comments start with "
	    "#)");
	snprintf(l, sizeof(l), "admin %s b extra", SSH[1]);
	bad_line(l, "unexpected 'extra' after the name (comments start with "
	    "#)");

	snprintf(l, sizeof(l), "admin %s b\x01", B64[1]);
	snprintf(want, sizeof(want), "byte 0x01 at column %zu is not "
	    "printable ASCII", strlen(l));
	bad_line(l, want);
	snprintf(l, sizeof(l), "admin %s b\xc3\xa9", B64[1]);
	snprintf(want, sizeof(want), "byte 0xc3 at column %zu is not "
	    "printable ASCII", strlen(l) - 1);
	bad_line(l, want);

	snprintf(l, sizeof(l), "admin %s bad/name", B64[1]);
	snprintf(want, sizeof(want), "name 'bad/name'%s", badname);
	bad_line(l, want);
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(l, sizeof(l), "admin %s %s", B64[1], name);
	snprintf(want, sizeof(want), "name "
	    "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn'...%s", badname);
	bad_line(l, want);

	bad_line("admin AAAA!AAA b", "public key 'AAAA!AAA' is not valid "
	    "base64");
	bad_line("admin AAAA b", "public key decodes to 3 bytes; an Ed25519 "
	    "public key is 32 (or use 'ssh-ed25519 AAAA...')");
	bad_line("admin ssh-rsa AAAAB3NzaC1yc2E= b", "key type 'ssh-rsa' is "
	    "not supported (use ssh-ed25519, or the base64 of a raw Ed25519 "
	    "key)");
	bad_line("admin ssh-ed25519 AAAA b", "ssh-ed25519 key: blob of 3 "
	    "bytes is truncated");
	bad_line("admin AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= b",
	    "not a valid Ed25519 public key (not a point of the prime-order "
	    "subgroup)");
}

Test(authkeys, line_too_long)
{
	static char	text[AUTH_LINE_MAX + 64];

	memset(text, '#', AUTH_LINE_MAX + 1);
	text[AUTH_LINE_MAX + 1] = '\0';
	parse_bad(text, "ak:1: line longer than 1024 bytes");
	/* a long comment within the limit is fine */
	text[AUTH_LINE_MAX] = '\0';
	auth_keys_free(parse_ok(text));
}

Test(authkeys, duplicates)
{
	char	text[2048];

	/* the same key, even in the other form */
	snprintf(text, sizeof(text), "monitor %s a\nadmin %s b\n"
	    "orchestrator %s c\n", B64[0], B64[1], SSH[0]);
	parse_bad(text, "ak:3: key already listed on line 1 (as a)");
	snprintf(text, sizeof(text), "monitor %s a\nadmin %s b\n"
	    "orchestrator %s a\n", B64[0], B64[1], B64[2]);
	parse_bad(text, "ak:3: name a already used on line 1");
	/* several: the earliest repeating line is reported */
	snprintf(text, sizeof(text), "monitor %s a\nadmin %s b\n"
	    "admin %s b\nmonitor %s c\n", B64[0], B64[1], B64[2], B64[0]);
	parse_bad(text, "ak:3: name b already used on line 2");
	snprintf(text, sizeof(text), "monitor %s a\nadmin %s b\n"
	    "admin %s c\nmonitor %s b\n", B64[0], B64[1], B64[1], B64[2]);
	parse_bad(text, "ak:3: key already listed on line 2 (as b)");
}

Test(authkeys, too_many_keys, .timeout = 120)
{
	size_t			 i, n = AUTH_KEYS_MAX + 1, len = 0, cap, lim = 0;
	uint8_t			 seed[32] = { 0 }, pk[32], sk[64];
	char			 b64[KEYS_B64_SIZE], *text, err[256] = "";
	struct auth_keys	*t = NULL;

	cap = n * 80;
	cr_assert_not_null(text = malloc(cap));
	for (i = 0; i < n; i++) {
		memcpy(seed, &i, sizeof(i));
		cr_assert_eq(crypto_sign_seed_keypair(pk, sk, seed), 0);
		keys_format_public(pk, b64);
		lim = len;
		len += (size_t)snprintf(text + len, cap - len,
		    "monitor %s k%zu\n", b64, i);
	}
	/* exactly the limit */
	cr_assert_eq(auth_keys_parse(text, lim,
	    "ak", &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(auth_keys_count(t), AUTH_KEYS_MAX);
	auth_keys_free(t);
	/* one more */
	cr_assert_eq(auth_keys_parse(text, len, "ak", &t, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "ak:10001: more than 10000 keys");
	free(text);
}

static const char *
write_keys(const char *content, mode_t mode)
{
	static char	p[256];
	int		fd;

	snprintf(p, sizeof(p), "%s/authorized_keys", dir);
	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, strlen(content)),
	    (ssize_t)strlen(content));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
	return p;
}

Test(authkeys, load_file)
{
	struct auth_keys	*t = NULL;
	char			 text[256], err[512] = "", want[600];
	const char		*p;

	snprintf(text, sizeof(text), "admin %s ops\nmonitor %s dash\n",
	    B64[0], B64[1]);
	p = write_keys(text, 0644);
	cr_assert_eq(auth_keys_load(p, &t, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(auth_keys_count(t), 2);
	auth_keys_free(t);

	p = write_keys(text, 0600);
	cr_assert_eq(auth_keys_load(p, &t, err, sizeof(err)), 0, "%s", err);
	auth_keys_free(t);

	/* errors carry the path */
	snprintf(text, sizeof(text), "admin %s ops\nboss %s dash\n",
	    B64[0], B64[1]);
	p = write_keys(text, 0644);
	cr_assert_eq(auth_keys_load(p, &t, err, sizeof(err)), -EINVAL);
	cr_assert_null(t);
	snprintf(want, sizeof(want), "%s:2: unknown role 'boss' (expected "
	    "monitor, orchestrator or admin)", p);
	cr_assert_str_eq(err, want);
}

Test(authkeys, load_refuses_writable_by_others)
{
	static const mode_t	bad[] = { 0664, 0646, 0666, 0620, 0602 };
	struct auth_keys	*t = NULL;
	char			 text[256], err[512], want[600];
	const char		*p;
	size_t			 i;

	snprintf(text, sizeof(text), "admin %s ops\n", B64[0]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = write_keys(text, bad[i]);
		cr_assert_eq(auth_keys_load(p, &t, err, sizeof(err)), -EPERM,
		    "mode %04o", bad[i]);
		cr_assert_null(t);
		snprintf(want, sizeof(want), "%s: mode %04o lets group or "
		    "others write it, and so choose who controls this agent; "
		    "chmod go-w %s", p, bad[i], p);
		cr_assert_str_eq(err, want);
	}
}

Test(authkeys, load_errors)
{
	struct auth_keys	*t = NULL;
	char			 err[512] = "", want[600], p[300];

	snprintf(p, sizeof(p), "%s/none", dir);
	cr_assert_eq(auth_keys_load(p, &t, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", p);
	cr_assert_str_eq(err, want);
	cr_assert_eq(chmod(dir, 0755), 0);
	cr_assert_eq(auth_keys_load(dir, &t, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	cr_assert_str_eq(err, want);
}

/* A failed reload leaves the caller's table alone: it gets no new one. */
Test(authkeys, failed_reload_keeps_old_table)
{
	struct auth_keys	*cur, *next = (void *)1;
	char			 text[256], err[256];

	snprintf(text, sizeof(text), "admin %s ops\n", B64[0]);
	cur = parse_ok(text);
	snprintf(text, sizeof(text), "admin %s ops\nadmin %s ops\n", B64[0],
	    B64[1]);
	cr_assert_eq(auth_keys_parse(text, strlen(text), "ak", &next, err,
	    sizeof(err)), -EINVAL);
	cr_assert_null(next);
	cr_assert_eq(auth_keys_count(cur), 1);
	cr_assert_not_null(auth_keys_find(cur, ID[0], ENV_KEYID_LEN));
	auth_keys_free(cur);
}

/* ---- auth_check ---- */

#define HOST	"agent-1.example"
#define T0	1700000000000ULL
#define WIN	30000ULL

enum { K_MON, K_ORCH, K_ADMIN, K_ORCH2, K_UNKNOWN = 6 };

static struct auth_keys		*KT;
static struct auth_nonces	*NC;
static struct auth_replies	*RC;
static struct auth_result	 RES;

static void
check_setup(void)
{
	char	text[1024], err[256];

	make_keys();
	snprintf(text, sizeof(text), "monitor %s dash\n"
	    "orchestrator %s fts\nadmin %s ops\norchestrator %s rucio\n",
	    B64[K_MON], B64[K_ORCH], B64[K_ADMIN], B64[K_ORCH2]);
	cr_assert_eq(auth_keys_parse(text, strlen(text), "ak", &KT, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(auth_nonces_new(WIN, 64, &NC), 0);
	cr_assert_eq(auth_replies_new(WIN, 64, 1 << 20, &RC), 0);
}

static void
check_teardown(void)
{
	free(RES.reply);
	auth_replies_free(RC);
	auth_nonces_free(NC);
	auth_keys_free(KT);
}

TestSuite(check, .init = check_setup, .fini = check_teardown);

/* A request as the dispatcher would see it. */
struct treq {
	uint8_t			body[96];
	uint8_t			key_id[ENV_KEYID_LEN];
	uint8_t			sig[ENV_SIG_LEN];
	uint8_t			nonce[AUTH_NONCE_LEN];
	uint8_t			rid[AUTH_REQID_LEN];
	char			host[64];
	struct auth_request	r;
};

/* The body stands in for a serialized Request: it covers every header
 * field, as the real one does. */
static void
sign_req(struct treq *t, int signer)
{
	size_t	n = 0;

	memcpy(t->body + n, t->nonce, AUTH_NONCE_LEN);
	n += AUTH_NONCE_LEN;
	memcpy(t->body + n, t->rid, AUTH_REQID_LEN);
	n += AUTH_REQID_LEN;
	memcpy(t->body + n, &t->r.timestamp_ms, sizeof(t->r.timestamp_ms));
	n += sizeof(t->r.timestamp_ms);
	t->body[n++] = (uint8_t)t->r.op;
	n += (size_t)snprintf((char *)t->body + n, sizeof(t->body) - n,
	    "%s", t->host);
	t->r.body = t->body;
	t->r.body_len = n;
	cr_assert_eq(env_sign(t->body, n, SK[signer], t->sig), 0);
}

static void
mkreq(struct treq *t, int key, enum auth_op op, uint64_t ts, int nonce,
    int rid)
{
	memset(t, 0, sizeof(*t));
	memset(t->nonce, nonce, AUTH_NONCE_LEN);
	memset(t->rid, rid, AUTH_REQID_LEN);
	memcpy(t->key_id, ID[key], ENV_KEYID_LEN);
	snprintf(t->host, sizeof(t->host), "%s", HOST);
	t->r.key_id = t->key_id;
	t->r.key_id_len = ENV_KEYID_LEN;
	t->r.sig = t->sig;
	t->r.sig_len = ENV_SIG_LEN;
	t->r.target_host = t->host;
	t->r.timestamp_ms = ts;
	t->r.nonce = t->nonce;
	t->r.nonce_len = AUTH_NONCE_LEN;
	t->r.request_id = t->rid;
	t->r.request_id_len = AUTH_REQID_LEN;
	t->r.op = op;
	sign_req(t, key);
}

static enum auth_code
run_with(struct auth_replies *rc, struct treq *t, uint64_t now)
{
	free(RES.reply);
	return auth_check(KT, NC, rc, HOST, &t->r, now, &RES);
}

static enum auth_code
run(struct treq *t, uint64_t now)
{
	return run_with(NULL, t, now);
}

#define assert_code(t, now, want_code, msg) do {			\
	cr_assert_eq(run((t), (now)), (want_code), "got %s: %s",	\
	    auth_code_name(RES.code), RES.message);			\
	cr_assert_eq(RES.code, (want_code));				\
	cr_assert_str_eq(RES.message, (msg));				\
} while (0)

Test(check, ok)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 1, 1);
	assert_code(&t, T0, AUTH_OK, "");
	cr_assert_eq(RES.role, AUTH_ROLE_ORCHESTRATOR);
	cr_assert_str_eq(RES.name, "fts");
	cr_assert_eq(memcmp(RES.key_id, ID[K_ORCH], ENV_KEYID_LEN), 0);
	cr_assert_null(RES.reply);
	cr_assert_eq(auth_nonces_count(NC), 1);
}

Test(check, unknown_key)
{
	struct treq	t;
	char		hex[ENV_KEYID_HEX_LEN], want[128];

	mkreq(&t, K_UNKNOWN, AUTH_OP_PING, T0, 1, 1);
	env_key_id_hex(ID[K_UNKNOWN], hex);
	snprintf(want, sizeof(want), "unknown key id %s", hex);
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, want);
	cr_assert_eq(RES.role, AUTH_ROLE_NONE);
	cr_assert_str_eq(RES.name, "");
	cr_assert_eq(auth_nonces_count(NC), 0);
}

Test(check, key_id_length)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	t.r.key_id_len = 7;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "key id must be 8 bytes, got 7");
	t.r.key_id_len = 9;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "key id must be 8 bytes, got 9");
	t.r.key_id_len = 0;
	t.r.key_id = NULL;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "key id must be 8 bytes, got 0");
}

Test(check, bad_signature)
{
	struct treq	t;
	size_t		i;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	/* every body byte is covered */
	for (i = 0; i < t.r.body_len; i++) {
		t.body[i] ^= 0x80;
		assert_code(&t, T0, AUTH_UNAUTHENTICATED, "bad signature");
		cr_assert_eq(RES.role, AUTH_ROLE_NONE);
		cr_assert_str_eq(RES.name, "");
		t.body[i] ^= 0x80;
	}
	t.sig[10] ^= 1;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, "bad signature");
	t.sig[10] ^= 1;
	/* signed by another enrolled key, presented under this id */
	sign_req(&t, K_ADMIN);
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, "bad signature");
	sign_req(&t, K_ORCH);
	t.r.sig_len = 63;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "bad signature: 63 bytes, expected 64");
	t.r.sig_len = 0;
	t.r.sig = NULL;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "bad signature: 0 bytes, expected 64");
	cr_assert_eq(auth_nonces_count(NC), 0);
}

Test(check, body_too_large)
{
	static uint8_t	big[ENV_BODY_MAX + 1];
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	t.r.body = big;
	t.r.body_len = sizeof(big);
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT,
	    "body of 65537 bytes is larger than 65536");
}

Test(check, header_lengths)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	t.r.nonce_len = 15;
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT,
	    "nonce must be 16 bytes, got 15");
	t.r.nonce_len = 0;
	t.r.nonce = NULL;
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT,
	    "nonce must be 16 bytes, got 0");
	/* authenticated by then: the caller is known */
	cr_assert_str_eq(RES.name, "fts");
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	t.r.request_id_len = 17;
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT,
	    "request id must be 16 bytes, got 17");
	cr_assert_eq(auth_nonces_count(NC), 0);
}

Test(check, target_host)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	snprintf(t.host, sizeof(t.host), "agent-2.example");
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED, "request is for host "
	    "'agent-2.example', this is 'agent-1.example'");
	snprintf(t.host, sizeof(t.host), "agent-1.example.evil");
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED, "request is for host "
	    "'agent-1.example.evil', this is 'agent-1.example'");
	snprintf(t.host, sizeof(t.host), "agent-1");
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED, "request is for host "
	    "'agent-1', this is 'agent-1.example'");
	/* hostile bytes are escaped in the message */
	snprintf(t.host, sizeof(t.host), "a\n'b");
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED, "request is for host "
	    "'a\\x0a\\x27b', this is 'agent-1.example'");
	t.r.target_host = NULL;
	t.host[0] = '\0';
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED, "request is for host "
	    "'', this is 'agent-1.example'");
	cr_assert_eq(auth_nonces_count(NC), 0);
	/* DNS names have no case */
	t.r.target_host = t.host;
	snprintf(t.host, sizeof(t.host), "Agent-1.EXAMPLE");
	sign_req(&t, K_ORCH);
	assert_code(&t, T0, AUTH_OK, "");
}

Test(check, timestamp_window_edges)
{
	struct treq	t;
	int		n = 1;

#define TS(ts, want_code, msg) do {					\
	mkreq(&t, K_MON, AUTH_OP_PING, (ts), n, n);			\
	n++;								\
	assert_code(&t, T0, (want_code), (msg));			\
} while (0)

	TS(T0, AUTH_OK, "");
	TS(T0 - WIN, AUTH_OK, "");
	TS(T0 + WIN, AUTH_OK, "");
	TS(T0 - WIN - 1, AUTH_UNAUTHENTICATED,
	    "stale timestamp: 30001 ms old (window 30000 ms)");
	TS(T0 + WIN + 1, AUTH_UNAUTHENTICATED, "timestamp is 30001 ms in the "
	    "future (window 30000 ms): check the client's clock");
	TS(T0 - 3600000, AUTH_UNAUTHENTICATED,
	    "stale timestamp: 3600000 ms old (window 30000 ms)");
	TS(0, AUTH_UNAUTHENTICATED,
	    "stale timestamp: 1700000000000 ms old (window 30000 ms)");
	TS(UINT64_MAX, AUTH_UNAUTHENTICATED, "timestamp is "
	    "18446742373709551615 ms in the future (window 30000 ms): check "
	    "the client's clock");
#undef TS
	cr_assert_eq(auth_nonces_count(NC), 3);
}

Test(check, role_denied)
{
	struct treq	t;

	mkreq(&t, K_MON, AUTH_OP_START_FLOW, T0, 1, 1);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED,
	    "role monitor may not StartFlow");
	cr_assert_eq(RES.role, AUTH_ROLE_MONITOR);
	mkreq(&t, K_ORCH, AUTH_OP_DRAIN, T0, 1, 1);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED,
	    "role orchestrator may not Drain");
	mkreq(&t, K_ORCH, AUTH_OP_RELOAD, T0, 1, 1);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED,
	    "role orchestrator may not Reload");
	mkreq(&t, K_ADMIN, AUTH_OP_COUNT, T0, 1, 1);
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT, "unknown operation 10");
	cr_assert_eq(auth_nonces_count(NC), 0);
	mkreq(&t, K_ADMIN, AUTH_OP_DRAIN, T0, 1, 1);
	assert_code(&t, T0, AUTH_OK, "");
	cr_assert_eq(RES.role, AUTH_ROLE_ADMIN);
}

/* Every role x op through auth_check, not only auth_allowed. */
Test(check, role_matrix_end_to_end)
{
	static const int	keys[] = { K_MON, K_ORCH, K_ADMIN };
	static const enum auth_role roles[] = { AUTH_ROLE_MONITOR,
	    AUTH_ROLE_ORCHESTRATOR, AUTH_ROLE_ADMIN };
	struct treq		t;
	char			want[128];
	int			i, op, n = 1;

	for (i = 0; i < 3; i++) {
		for (op = 0; op < AUTH_OP_COUNT; op++) {
			mkreq(&t, keys[i], (enum auth_op)op, T0, n, n);
			n++;
			if (auth_allowed(roles[i], (enum auth_op)op)) {
				assert_code(&t, T0, AUTH_OK, "");
			} else {
				snprintf(want, sizeof(want), "role %s may not "
				    "%s", auth_role_name(roles[i]),
				    auth_op_name((enum auth_op)op));
				assert_code(&t, T0, AUTH_PERMISSION_DENIED,
				    want);
			}
		}
	}
}

Test(check, missing_tables)
{
	struct treq	t;
	char		hex[ENV_KEYID_HEX_LEN], want[64];

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 1, 1);
	env_key_id_hex(ID[K_ORCH], hex);
	snprintf(want, sizeof(want), "unknown key id %s", hex);
	cr_assert_eq(auth_check(NULL, NC, NULL, HOST, &t.r, T0, &RES),
	    AUTH_UNAUTHENTICATED);
	cr_assert_str_eq(RES.message, want);
	cr_assert_eq(auth_check(KT, NULL, NULL, HOST, &t.r, T0, &RES),
	    AUTH_INTERNAL);
	cr_assert_str_eq(RES.message, "no nonce cache");
}

/* With several faults, the first in the documented order answers. */
Test(check, order_of_checks)
{
	struct treq	t, ok;
	char		hex[ENV_KEYID_HEX_LEN], want[128];

	/* unknown key before bad signature */
	mkreq(&t, K_UNKNOWN, AUTH_OP_START_FLOW, T0 - 99999, 1, 1);
	t.sig[0] ^= 1;
	env_key_id_hex(ID[K_UNKNOWN], hex);
	snprintf(want, sizeof(want), "unknown key id %s", hex);
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, want);

	/* bad signature before header sizes, host, time, role */
	mkreq(&t, K_MON, AUTH_OP_START_FLOW, T0 - 99999, 1, 1);
	snprintf(t.host, sizeof(t.host), "elsewhere");
	t.r.nonce_len = 3;
	t.sig[0] ^= 1;
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, "bad signature");

	/* header sizes before host */
	t.sig[0] ^= 1;
	sign_req(&t, K_MON);
	assert_code(&t, T0, AUTH_INVALID_ARGUMENT,
	    "nonce must be 16 bytes, got 3");

	/* host before time */
	t.r.nonce_len = AUTH_NONCE_LEN;
	assert_code(&t, T0, AUTH_PERMISSION_DENIED,
	    "request is for host 'elsewhere', this is 'agent-1.example'");

	/* time before role */
	snprintf(t.host, sizeof(t.host), HOST);
	sign_req(&t, K_MON);
	assert_code(&t, T0, AUTH_UNAUTHENTICATED,
	    "stale timestamp: 99999 ms old (window 30000 ms)");

	/* role before nonce: burn nonce 1, then a denied request reusing it */
	mkreq(&ok, K_MON, AUTH_OP_PING, T0, 1, 9);
	assert_code(&ok, T0, AUTH_OK, "");
	mkreq(&t, K_MON, AUTH_OP_START_FLOW, T0, 1, 1);
	assert_code(&t, T0, AUTH_PERMISSION_DENIED,
	    "role monitor may not StartFlow");
	mkreq(&t, K_MON, AUTH_OP_GET_STATUS, T0, 1, 1);
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, "replayed nonce");
}

/* ---- nonces through auth_check ---- */

Test(check, replayed_nonce)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 5, 5);
	assert_code(&t, T0, AUTH_OK, "");
	assert_code(&t, T0, AUTH_UNAUTHENTICATED, "replayed nonce");
	assert_code(&t, T0 + 1000, AUTH_UNAUTHENTICATED, "replayed nonce");
	/* the same nonce in another request of the same key, too */
	mkreq(&t, K_ORCH, AUTH_OP_END_FLOW, T0 + 5, 5, 6);
	assert_code(&t, T0 + 10, AUTH_UNAUTHENTICATED, "replayed nonce");
	cr_assert_str_eq(RES.name, "fts");
	cr_assert_eq(auth_nonces_count(NC), 1);
}

Test(check, same_nonce_other_key)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 5, 5);
	assert_code(&t, T0, AUTH_OK, "");
	mkreq(&t, K_ORCH2, AUTH_OP_PING, T0, 5, 5);
	assert_code(&t, T0, AUTH_OK, "");
	mkreq(&t, K_MON, AUTH_OP_PING, T0, 5, 5);
	assert_code(&t, T0, AUTH_OK, "");
	cr_assert_eq(auth_nonces_count(NC), 3);
}

/* Refusals after the signature must not record the nonce. */
Test(check, rejected_request_does_not_burn_nonce)
{
	struct treq	t;

	/* wrong host */
	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 7, 7);
	snprintf(t.host, sizeof(t.host), "agent-9");
	sign_req(&t, K_ORCH);
	cr_assert_eq(run(&t, T0), AUTH_PERMISSION_DENIED);
	/* stale and future */
	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0 - WIN - 1, 7, 7);
	cr_assert_eq(run(&t, T0), AUTH_UNAUTHENTICATED);
	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0 + WIN + 1, 7, 7);
	cr_assert_eq(run(&t, T0), AUTH_UNAUTHENTICATED);
	/* role */
	mkreq(&t, K_ORCH, AUTH_OP_DRAIN, T0, 7, 7);
	cr_assert_eq(run(&t, T0), AUTH_PERMISSION_DENIED);
	/* bad signature */
	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 7, 7);
	t.sig[3] ^= 4;
	cr_assert_eq(run(&t, T0), AUTH_UNAUTHENTICATED);
	cr_assert_eq(auth_nonces_count(NC), 0);

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 7, 7);
	assert_code(&t, T0, AUTH_OK, "");
}

Test(check, nonce_expiry)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_PING, T0, 3, 3);
	assert_code(&t, T0, AUTH_OK, "");
	/* kept for 2 x window: a request with ts = T0 + WIN could still
	 * be valid at T0 + 2 WIN */
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 2 * WIN, 3, 4);
	assert_code(&t, T0 + 2 * WIN, AUTH_UNAUTHENTICATED, "replayed nonce");
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + WIN, 3, 4);
	assert_code(&t, T0 + 2 * WIN, AUTH_UNAUTHENTICATED, "replayed nonce");
	/* then forgotten */
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 2 * WIN + 1, 3, 4);
	assert_code(&t, T0 + 2 * WIN + 1, AUTH_OK, "");
	cr_assert_eq(auth_nonces_count(NC), 1);
}

Test(check, nonce_cache_full)
{
	struct treq	t;
	char		want[160];
	int		i;

	for (i = 0; i < 64; i++) {
		mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + (uint64_t)i, i + 1, i + 1);
		assert_code(&t, T0 + (uint64_t)i, AUTH_OK, "");
	}
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 100, 200, 200);
	snprintf(want, sizeof(want), "too many requests: the nonce cache is "
	    "full (64 in the last 60 s); try again later");
	assert_code(&t, T0 + 100, AUTH_RESOURCE_EXHAUSTED, want);
	/* full does not mean forgetful */
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 100, 1, 1);
	assert_code(&t, T0 + 100, AUTH_UNAUTHENTICATED, "replayed nonce");
	/* the first entry expires at T0 + 2 WIN: one slot frees up */
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 2 * WIN + 1, 200, 200);
	assert_code(&t, T0 + 2 * WIN + 1, AUTH_OK, "");
	mkreq(&t, K_ORCH, AUTH_OP_PING, T0 + 2 * WIN + 1, 201, 201);
	assert_code(&t, T0 + 2 * WIN + 1, AUTH_RESOURCE_EXHAUSTED, want);
}

/* ---- request ids through auth_check ---- */

Test(check, resend_gets_cached_reply)
{
	struct treq	t;
	static const char reply[] = "the first answer";

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 1, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK, "%s", RES.message);
	cr_assert_null(RES.reply);
	/* still running: a resend must not run it again */
	cr_assert_eq(run_with(RC, &t, T0 + 5), AUTH_UNAVAILABLE);
	cr_assert_str_eq(RES.message, "this request is still being processed; "
	    "send it again later");
	cr_assert_eq(auth_replies_store(RC, RES.key_id, t.rid, RES.body_hash,
	    reply, sizeof(reply), T0 + 6), 0);
	/* the same bytes again (REQ resend): the first answer */
	cr_assert_eq(run_with(RC, &t, T0 + 1000), AUTH_OK, "%s", RES.message);
	cr_assert_not_null(RES.reply);
	cr_assert_eq(RES.reply_len, sizeof(reply));
	cr_assert_eq(memcmp(RES.reply, reply, sizeof(reply)), 0);
	cr_assert_str_eq(RES.message, "");
	cr_assert_str_eq(RES.name, "fts");
	cr_assert_eq(auth_nonces_count(NC), 1);
	/* without the reply cache it is a replay */
	cr_assert_eq(run(&t, T0 + 1000), AUTH_UNAUTHENTICATED);
	cr_assert_str_eq(RES.message, "replayed nonce");
}

Test(check, request_id_reused_for_different_body)
{
	struct treq	t;
	static const char reply[] = "r";

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 1, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK);
	cr_assert_eq(auth_replies_store(RC, RES.key_id, t.rid, RES.body_hash,
	    reply, 1, T0), 0);
	/* new nonce, same request id, another body */
	mkreq(&t, K_ORCH, AUTH_OP_END_FLOW, T0, 2, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_INVALID_ARGUMENT);
	cr_assert_str_eq(RES.message,
	    "request id reused for a different request");
	cr_assert_null(RES.reply);
	/* and that refusal did not burn nonce 2 */
	mkreq(&t, K_ORCH, AUTH_OP_END_FLOW, T0, 2, 2);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK, "%s", RES.message);
	/* the same request id under another key is another request */
	mkreq(&t, K_ORCH2, AUTH_OP_END_FLOW, T0, 3, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK, "%s", RES.message);
}

Test(check, request_id_while_pending_with_other_body)
{
	struct treq	t;

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 1, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK);
	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 2, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_INVALID_ARGUMENT);
}

Test(check, cached_reply_expires)
{
	struct treq	t;
	static const char reply[] = "r";

	mkreq(&t, K_ORCH, AUTH_OP_START_FLOW, T0, 1, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_OK);
	cr_assert_eq(auth_replies_store(RC, RES.key_id, t.rid, RES.body_hash,
	    reply, 1, T0), 0);
	/* a resend is refused by its timestamp long before the reply and
	 * the nonce expire */
	cr_assert_eq(run_with(RC, &t, T0 + WIN + 1), AUTH_UNAUTHENTICATED);
	assert_has(RES.message, "stale timestamp");
	/* a new request may reuse the id once the old entry expired */
	mkreq(&t, K_ORCH, AUTH_OP_END_FLOW, T0 + 2 * WIN + 1, 2, 1);
	cr_assert_eq(run_with(RC, &t, T0 + 2 * WIN + 1), AUTH_OK, "%s",
	    RES.message);
	cr_assert_null(RES.reply);
}

Test(check, role_checked_before_cached_reply)
{
	struct treq	t;
	size_t		e, b;

	/* a denied request never reaches the caches */
	mkreq(&t, K_MON, AUTH_OP_START_FLOW, T0, 1, 1);
	cr_assert_eq(run_with(RC, &t, T0), AUTH_PERMISSION_DENIED);
	auth_replies_stats(RC, &e, &b);
	cr_assert_eq(e, 0);
}

/* ---- the caches on their own ---- */

static const uint8_t	KID[ENV_KEYID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t	KID2[ENV_KEYID_LEN] = { 8, 7, 6, 5, 4, 3, 2, 1 };

static void
v16(uint8_t out[16], uint32_t v)
{
	memset(out, 0, 16);
	memcpy(out, &v, sizeof(v));
}

TestSuite(nonces, .init = make_keys);

Test(nonces, bad_arguments)
{
	struct auth_nonces	*n = (void *)1;

	cr_assert_eq(auth_nonces_new(WIN, 0, &n), -EINVAL);
	cr_assert_null(n);
	cr_assert_eq(auth_nonces_new(WIN, AUTH_NONCES_MAX + 1, &n), -EINVAL);
	cr_assert_eq(auth_nonces_new(UINT64_MAX, 8, &n), -EINVAL);
	cr_assert_eq(auth_nonces_new(WIN, 1, &n), 0);
	cr_assert_eq(auth_nonces_window(n), WIN);
	auth_nonces_free(n);
	auth_nonces_free(NULL);
}

Test(nonces, add_replay_full_expire)
{
	struct auth_nonces	*n;
	uint8_t			 v[16];
	uint32_t		 i;

	cr_assert_eq(auth_nonces_new(1000, 3, &n), 0);
	for (i = 0; i < 3; i++) {
		v16(v, i);
		cr_assert_eq(auth_nonces_add(n, KID, v, 10 + i), 0);
		cr_assert_eq(auth_nonces_add(n, KID, v, 10 + i), -EEXIST);
	}
	v16(v, 99);
	cr_assert_eq(auth_nonces_add(n, KID, v, 20), -ENOSPC);
	cr_assert_eq(auth_nonces_add(n, KID2, v, 20), -ENOSPC);
	cr_assert_eq(auth_nonces_count(n), 3);
	/* entry 0 lives through 10 + 2000 */
	cr_assert_eq(auth_nonces_add(n, KID, v, 2010), -ENOSPC);
	cr_assert_eq(auth_nonces_add(n, KID, v, 2011), 0);
	v16(v, 0);
	cr_assert_eq(auth_nonces_add(n, KID, v, 2011), -ENOSPC);
	v16(v, 1);
	cr_assert_eq(auth_nonces_add(n, KID, v, 2011), -EEXIST);
	/* everything old gone at once, in order */
	v16(v, 1);
	cr_assert_eq(auth_nonces_add(n, KID, v, 5000), 0);
	cr_assert_eq(auth_nonces_count(n), 1);
	auth_nonces_free(n);
}

Test(nonces, key_id_is_part_of_the_key)
{
	struct auth_nonces	*n;
	uint8_t			 v[16];

	cr_assert_eq(auth_nonces_new(1000, 8, &n), 0);
	v16(v, 1);
	cr_assert_eq(auth_nonces_add(n, KID, v, 1), 0);
	cr_assert_eq(auth_nonces_add(n, KID2, v, 1), 0);
	cr_assert_eq(auth_nonces_add(n, KID, v, 1), -EEXIST);
	cr_assert_eq(auth_nonces_add(n, KID2, v, 1), -EEXIST);
	auth_nonces_free(n);
}

/* Wrap around the ring many times with collisions in small tables. */
Test(nonces, ring_wraps)
{
	struct auth_nonces	*n;
	uint8_t			 v[16];
	uint32_t		 i;
	uint64_t		 now = 0;

	cr_assert_eq(auth_nonces_new(10, 5, &n), 0);
	for (i = 0; i < 10000; i++) {
		now += 5;	/* 4 live entries at a time: 2 x 10 / 5 */
		v16(v, i);
		cr_assert_eq(auth_nonces_add(n, KID, v, now), 0, "i %u", i);
		cr_assert_eq(auth_nonces_add(n, KID, v, now), -EEXIST);
		if (i > 0) {
			v16(v, i - 1);
			cr_assert_eq(auth_nonces_add(n, KID, v, now), -EEXIST);
		}
	}
	auth_nonces_free(n);
}

Test(nonces, clock_step_back_keeps_entries)
{
	struct auth_nonces	*n;
	uint8_t			 v[16];

	cr_assert_eq(auth_nonces_new(1000, 8, &n), 0);
	v16(v, 1);
	cr_assert_eq(auth_nonces_add(n, KID, v, 100000), 0);
	v16(v, 2);
	cr_assert_eq(auth_nonces_add(n, KID, v, 50000), 0);
	/* nonce 2 expired (52000) but sits behind a live one: still
	 * refused, the safe direction */
	cr_assert_eq(auth_nonces_add(n, KID, v, 60000), -EEXIST);
	auth_nonces_free(n);
}

struct hammer {
	struct auth_nonces	*n;
	atomic_int		*wins;
	uint32_t		 count;
	uint32_t		 start;
};

static void *
hammer_thread(void *arg)
{
	struct hammer	*h = arg;
	uint8_t		 v[16];
	uint32_t	 i, j;
	int		 rc;

	for (i = 0; i < h->count; i++) {
		j = (h->start + i) % h->count;
		v16(v, j);
		rc = auth_nonces_add(h->n, KID, v, T0);
		if (rc == 0)
			atomic_fetch_add(&h->wins[j], 1);
		else if (rc != -EEXIST)
			return (void *)1;
	}
	return NULL;
}

Test(nonces, four_threads_no_nonce_twice, .timeout = 120)
{
	enum { NT = 4, N = 50000 };
	struct auth_nonces	*n;
	struct hammer		 h[NT];
	pthread_t		 th[NT];
	atomic_int		*wins;
	void			*ret;
	int			 i;

	cr_assert_eq(auth_nonces_new(WIN, N, &n), 0);
	cr_assert_not_null(wins = calloc(N, sizeof(*wins)));
	for (i = 0; i < NT; i++) {
		h[i].n = n;
		h[i].wins = wins;
		h[i].count = N;
		h[i].start = (uint32_t)i * (N / NT) / 2; /* overlapping */
		cr_assert_eq(pthread_create(&th[i], NULL, hammer_thread,
		    &h[i]), 0);
	}
	for (i = 0; i < NT; i++) {
		cr_assert_eq(pthread_join(th[i], &ret), 0);
		cr_assert_null(ret, "unexpected error in thread %d", i);
	}
	for (i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&wins[i]), 1, "nonce %d won %d times",
		    i, atomic_load(&wins[i]));
	cr_assert_eq(auth_nonces_count(n), N);
	free(wins);
	auth_nonces_free(n);
}

/* Through auth_check: signatures make it slower, so fewer requests. */
struct check_hammer {
	struct treq	*reqs;
	atomic_int	*wins;
	int		 count, start;
};

static void *
check_thread(void *arg)
{
	struct check_hammer	*h = arg;
	struct auth_result	 res;
	int			 i, j;

	for (i = 0; i < h->count; i++) {
		j = (h->start + i) % h->count;
		auth_check(KT, NC, RC, HOST, &h->reqs[j].r, T0, &res);
		free(res.reply);
		if (res.code == AUTH_OK && res.reply == NULL)
			atomic_fetch_add(&h->wins[j], 1);
		else if (res.code != AUTH_OK &&
		    res.code != AUTH_UNAUTHENTICATED &&
		    res.code != AUTH_UNAVAILABLE)
			return (void *)1;
	}
	return NULL;
}

Test(check, four_threads_auth_check, .timeout = 120)
{
	enum { NT = 4, N = 60 };
	struct check_hammer	 h[NT];
	struct treq		*reqs;
	pthread_t		 th[NT];
	atomic_int		 wins[N];
	void			*ret;
	int			 i;

	cr_assert_not_null(reqs = calloc(N, sizeof(*reqs)));
	for (i = 0; i < N; i++) {
		mkreq(&reqs[i], i % 2 ? K_ORCH : K_ORCH2, AUTH_OP_START_FLOW,
		    T0, i, i);
		atomic_init(&wins[i], 0);
	}
	for (i = 0; i < NT; i++) {
		h[i].reqs = reqs;
		h[i].wins = wins;
		h[i].count = N;
		h[i].start = i * 7;
		cr_assert_eq(pthread_create(&th[i], NULL, check_thread,
		    &h[i]), 0);
	}
	for (i = 0; i < NT; i++) {
		cr_assert_eq(pthread_join(th[i], &ret), 0);
		cr_assert_null(ret);
	}
	for (i = 0; i < N; i++)
		cr_assert_eq(atomic_load(&wins[i]), 1, "request %d ran %d "
		    "times", i, atomic_load(&wins[i]));
	free(reqs);
}

/* ---- reply cache ---- */

TestSuite(replies, .init = make_keys);

static void
h32(uint8_t out[AUTH_HASH_LEN], int v)
{
	memset(out, v, AUTH_HASH_LEN);
}

Test(replies, bad_arguments)
{
	struct auth_replies	*c = (void *)1;

	cr_assert_eq(auth_replies_new(WIN, 0, 100, &c), -EINVAL);
	cr_assert_null(c);
	cr_assert_eq(auth_replies_new(WIN, AUTH_REPLIES_MAX + 1, 100, &c),
	    -EINVAL);
	cr_assert_eq(auth_replies_new(UINT64_MAX, 4, 100, &c), -EINVAL);
	auth_replies_free(NULL);
}

Test(replies, hit_miss_conflict_pending)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], h2[32], *r = (void *)1;
	size_t			 len = 99;

	cr_assert_eq(auth_replies_new(1000, 8, 1024, &c), 0);
	v16(rid, 1);
	h32(h, 1);
	h32(h2, 2);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len),
	    -ENOENT);
	cr_assert_null(r);
	cr_assert_eq(len, 0);
	cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 0), 0);
	cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 0), -EEXIST);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 1, &r, &len),
	    -EBUSY);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h2, 1, &r, &len),
	    -EEXIST);
	cr_assert_eq(auth_replies_store(c, KID, rid, h2, "x", 1, 2), -EEXIST);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, "hello", 5, 2), 0);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, "again", 5, 2),
	    -EALREADY);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 3, &r, &len), 0);
	cr_assert_eq(len, 5);
	cr_assert_eq(memcmp(r, "hello", 5), 0);
	free(r);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h2, 3, &r, &len),
	    -EEXIST);
	/* other key, same id: unknown */
	cr_assert_eq(auth_replies_lookup(c, KID2, rid, h, 3, &r, &len),
	    -ENOENT);
	auth_replies_free(c);
}

Test(replies, empty_reply)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r;
	size_t			 len;

	cr_assert_eq(auth_replies_new(1000, 8, 1024, &c), 0);
	v16(rid, 1);
	h32(h, 1);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, NULL, 0, 0), 0);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len), 0);
	cr_assert_eq(len, 0);
	free(r);
	auth_replies_free(c);
}

Test(replies, expiry)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r;
	size_t			 len, e, b;

	cr_assert_eq(auth_replies_new(1000, 8, 1024, &c), 0);
	v16(rid, 1);
	h32(h, 1);
	cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 100), 0);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, "abc", 3, 150), 0);
	/* lives 2 x window from its reservation: through 2100 */
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 2100, &r, &len), 0);
	free(r);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 2101, &r, &len),
	    -ENOENT);
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 0);
	cr_assert_eq(b, 0);
	auth_replies_free(c);
}

Test(replies, byte_bound_evicts_oldest)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r, big[60];
	size_t			 len, e, b;
	uint32_t		 i;

	memset(big, 'b', sizeof(big));
	h32(h, 1);
	cr_assert_eq(auth_replies_new(1000, 8, 100, &c), 0);
	for (i = 0; i < 3; i++) {
		v16(rid, i);
		cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 0), 0);
	}
	v16(rid, 0);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 60, 0), 0);
	v16(rid, 1);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 30, 0), 0);
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 3);
	cr_assert_eq(b, 90);
	/* 90 + 60 > 100: rid 0 (oldest, 60 bytes) goes; rid 1 stays */
	v16(rid, 2);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 60, 0), 0);
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 2);
	cr_assert_eq(b, 90);
	v16(rid, 0);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len),
	    -ENOENT);
	v16(rid, 1);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len), 0);
	cr_assert_eq(len, 30);
	free(r);
	v16(rid, 2);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len), 0);
	cr_assert_eq(len, 60);
	free(r);
	auth_replies_free(c);
}

Test(replies, store_may_evict_its_own_reservation)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r, big[100];
	size_t			 len, e, b;

	memset(big, 'b', sizeof(big));
	h32(h, 1);
	cr_assert_eq(auth_replies_new(1000, 8, 100, &c), 0);
	v16(rid, 0);
	cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 0), 0);
	v16(rid, 1);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 50, 0), 0);
	/* rid 0 is oldest; making room for 100 bytes evicts everything,
	 * its own reservation included, and re-adds it */
	v16(rid, 0);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 100, 0), 0);
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 1);
	cr_assert_eq(b, 100);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len), 0);
	cr_assert_eq(len, 100);
	free(r);
	auth_replies_free(c);
}

Test(replies, too_large_is_not_kept)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r, big[101];
	size_t			 len, e, b;

	memset(big, 'b', sizeof(big));
	h32(h, 1);
	cr_assert_eq(auth_replies_new(1000, 8, 100, &c), 0);
	v16(rid, 0);
	cr_assert_eq(auth_replies_reserve(c, KID, rid, h, 0), 0);
	cr_assert_eq(auth_replies_store(c, KID, rid, h, big, 101, 0), -EFBIG);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len),
	    -ENODATA);
	/* still known: a different body under this id is refused */
	h32(h, 2);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 0, &r, &len),
	    -EEXIST);
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 1);
	cr_assert_eq(b, 0);
	auth_replies_free(c);
}

Test(replies, entry_bound_evicts_oldest)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32], *r;
	size_t			 len, e, b;
	uint32_t		 i;

	h32(h, 1);
	cr_assert_eq(auth_replies_new(1000, 2, 1024, &c), 0);
	for (i = 0; i < 3; i++) {
		v16(rid, i);
		cr_assert_eq(auth_replies_store(c, KID, rid, h, "abcd", 4, i),
		    0);
	}
	auth_replies_stats(c, &e, &b);
	cr_assert_eq(e, 2);
	cr_assert_eq(b, 8);
	v16(rid, 0);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 3, &r, &len),
	    -ENOENT);
	v16(rid, 2);
	cr_assert_eq(auth_replies_lookup(c, KID, rid, h, 3, &r, &len), 0);
	free(r);
	auth_replies_free(c);
}

Test(replies, free_releases_replies)
{
	struct auth_replies	*c;
	uint8_t			 rid[16], h[32];
	uint32_t		 i;

	/* LeakSanitizer checks this in the ASan build */
	h32(h, 1);
	cr_assert_eq(auth_replies_new(1000, 16, 1 << 20, &c), 0);
	for (i = 0; i < 100; i++) {
		v16(rid, i);
		cr_assert_eq(auth_replies_store(c, KID, rid, h, "abcdef", 6,
		    i * 10), 0);
	}
	auth_replies_free(c);
}
