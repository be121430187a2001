/*
 * test_api_net.c: the control API of a real sctagd, over ipc and over
 * mutual TLS from another network namespace, with certificates made by
 * certs/mkcerts.sh and keys enrolled in authorized_keys.
 *
 * The requests are built, signed, tampered with and checked here with the
 * project's codec; the bytes travel through sctag-apiclient, a real NNG req
 * socket exec'd inside namespace B (this process can not move NNG there:
 * Criterion already runs NNG's threads in the root namespace). Every
 * attack is answered with its code, or refused by TLS, while the flow
 * table and the kernel's rule map stay as they were.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <sodium.h>

#include "keys.h"
#include "nettest.h"
#include "tag.h"
#include "wire.h"

#define HOST		"agent-a"
#define V4_A		"192.0.2.1"	/* TEST-NET-1, on the test's veths only */
#define V4_B		"192.0.2.2"
#define FF_PEER		10514
#define FF_COLL6	9514		/* the collectors, both in B */
#define FF_COLL4	9515
#define TLS_URL		"tls+tcp://[" NT_ADDR_A "]:7443"
#define WAIT_MS		4000

TestSuite(api, .init = nettest_setup, .fini = nettest_teardown,
    .timeout = 120);

static struct nt_daemon daemon_;
static char dir[256], ipc_url[600], ca[600], client_pem[600], other_pem[600];
static struct keys_secret *k_orch, *k_mon, *k_adm, *k_stranger;
static char stranger_pub[KEYS_B64_SIZE], keys_path[700], fifo_path[700];

struct client {
	const char			*url;
	const char			*cert;		/* NULL: no client cert */
	const char			*server_name;
	const struct keys_secret	*key;		/* NULL: unsigned */
	int				 uid;		/* > 0: run as this uid */
};

static struct keys_secret *
make_key(const char *name, char *pub_b64)
{
	char sk[700], pub[700], err[256];
	uint8_t pk[32];
	struct keys_secret *ks;

	snprintf(sk, sizeof(sk), "%s/%s.key", dir, name);
	snprintf(pub, sizeof(pub), "%s/%s.pub", dir, name);
	cr_assert_eq(keys_generate(sk, pub, pk, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(keys_load_secret(sk, &ks, err, sizeof(err)), 0, "%s",
	    err);
	keys_format_public(pk, pub_b64);
	return ks;
}

/* More "fireflies" keys for the next api_spawn (", \"interval\": 1"). */
static const char *ff_extra = "";

/*
 * Certificates, keys, authorized_keys, config; sctagd spawned in A; us in
 * B. api_extra: more keys of "api" (", \"events_tls\": {...}"); with_ipc
 * 0: "ipc": null, the API over TLS only.
 */
static void
api_spawn(const char *api_extra, int with_ipc)
{
	const char *src = getenv("SCTAG_SOURCE_DIR");
	const char *args[] = { "-f", "-v", "-c", NULL, "-i", nt.if_a, NULL };
	char cfg[1024], keys[700], fifo[700], b_orch[KEYS_B64_SIZE],
	    b_mon[KEYS_B64_SIZE], b_adm[KEYS_B64_SIZE], b_str[KEYS_B64_SIZE],
	    ipc_json[700], err[256];
	FILE *f;

	cr_assert_not_null(src, "SCTAG_SOURCE_DIR is not set (ctest sets it)");
	cr_assert_geq(sodium_init(), 0);
	snprintf(dir, sizeof(dir), "%s", nt.tmpdir);
	/* The network process ("nobody") must reach its socket and keys. */
	cr_assert_eq(chmod(dir, 0711), 0);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s ca >/dev/null", src, dir);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s agent %s %s >/dev/null", src, dir,
	    HOST, NT_ADDR_A);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s client fts >/dev/null", src, dir);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s/other ca 'another CA' >/dev/null",
	    src, dir);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s/other client fts >/dev/null", src,
	    dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(client_pem, sizeof(client_pem), "%s/client-fts.pem", dir);
	snprintf(other_pem, sizeof(other_pem), "%s/other/client-fts.pem", dir);

	k_orch = make_key("orch", b_orch);
	k_mon = make_key("mon", b_mon);
	k_adm = make_key("adm", b_adm);
	k_stranger = make_key("stranger", b_str);
	memcpy(stranger_pub, b_str, sizeof(stranger_pub));
	snprintf(keys, sizeof(keys), "%s/authorized_keys", dir);
	snprintf(keys_path, sizeof(keys_path), "%s", keys);
	cr_assert_not_null(f = fopen(keys, "w"));
	fprintf(f, "# enrolled for the test\norchestrator %s fts-1\n"
	    "monitor %s dashboard\nadmin %s operator\n", b_orch, b_mon, b_adm);
	fclose(f);
	cr_assert_eq(chmod(keys, 0644), 0);

	snprintf(cfg, sizeof(cfg), "%s/sctagd.json", dir);
	snprintf(fifo, sizeof(fifo), "%s/flowd", dir);
	snprintf(fifo_path, sizeof(fifo_path), "%s", fifo);
	snprintf(ipc_url, sizeof(ipc_url), "ipc://%s/api/sctagd.sock", dir);
	if (with_ipc)
		snprintf(ipc_json, sizeof(ipc_json), "\"%s/api/sctagd.sock\"",
		    dir);
	else
		snprintf(ipc_json, sizeof(ipc_json), "null");
	cr_assert_not_null(f = fopen(cfg, "w"));
	/* IPv4 too, for the fireflies of IPv4 flows. */
	nettest_sh("ip -n %s addr add " V4_A "/24 dev %s", nt.ns_a, nt.if_a);
	nettest_sh("ip -n %s addr add " V4_B "/24 dev %s", nt.ns_b, nt.if_b);
	fprintf(f, "{\"user\": \"nobody\", \"host\": \"%s\", "
	    "\"fireflies\": {\"collectors\": [\"[" NT_ADDR_B "]:%d\", "
	    "\"" V4_B ":%d\"]%s}, \"api\": {"
	    "\"ipc\": %s, \"admin_group\": null, "
	    "\"authorized_keys\": \"%s\", \"tls\": {\"listen\": \"%s\", "
	    "\"cert\": \"%s/agent-%s.crt\", \"key\": \"%s/agent-%s.key\", "
	    "\"ca\": \"%s\"}%s}, \"marker\": {\"pin_dir\": \"%s\"}, "
	    "\"pipe\": {\"path\": \"%s\"}}\n", HOST, FF_COLL6, FF_COLL4,
	    ff_extra, ipc_json, keys, TLS_URL, dir, HOST, dir, HOST, ca,
	    api_extra, nt.pin_dir, fifo);
	fclose(f);

	args[3] = cfg;
	memset(&daemon_, 0, sizeof(daemon_));
	snprintf(daemon_.log, sizeof(daemon_.log), "%s/sctagd.log", nt.tmpdir);
	cr_assert_eq(nt_daemon_spawn(&daemon_, nt.ns_a, args, fifo, err,
	    sizeof(err)), 0, "%s", err);
}

/* api_spawn, and wait until the API listens. */
static void
api_up_with(const char *api_extra, int with_ipc)
{
	char log[8192];
	int rc;

	api_spawn(api_extra, with_ipc);
	rc = nt_daemon_wait_ready(&daemon_, 15000);
	if (rc == 0)
		rc = nt_daemon_log_wait(&daemon_, with_ipc ? "api: ipc://" :
		    "api: tls+tcp://", 5000);
	if (rc != 0)
		nt_daemon_log(&daemon_, log, sizeof(log));
	cr_assert_eq(rc, 0, "sctagd not ready; its log:\n%s", log);
}

static void
api_up(void)
{
	api_up_with("", 1);
}

static void
keys_forget(void)
{
	keys_free_secret(k_orch);
	keys_free_secret(k_mon);
	keys_free_secret(k_adm);
	keys_free_secret(k_stranger);
}

static void
api_down(void)
{
	char log[8192];
	int rc;

	rc = nt_daemon_stop(&daemon_, 5000);
	nt_daemon_log(&daemon_, log, sizeof(log));
	cr_assert_eq(rc, 0, "sctagd exit %d; log:\n%s", rc, log);
	cr_assert(!nt_path_exists(nt.pin_dir), "sctagd left %s", nt.pin_dir);
	keys_forget();
}

/* --- the client -------------------------------------------------------- */

struct reply_bytes {
	uint8_t	buf[128 * 1024];
	size_t	len;
	char	err[512];
};

/*
 * One exchange through sctag-apiclient, inside B for TLS. 0 and the reply
 * bytes, or -1 and what NNG said.
 */
static int
exchange(const struct client *c, const void *req, size_t len,
    struct reply_bytes *rb)
{
	const char *argv[12];
	char tmo[16], nspath[300];
	int in[2], out[2], er[2], n = 0, fd, status;
	ssize_t k;
	size_t el = 0;
	pid_t pid;

	rb->len = 0;
	rb->err[0] = '\0';
	argv[n++] = APICLIENT_PATH;
	argv[n++] = c->url;
	argv[n++] = "--ca";
	argv[n++] = ca;
	if (c->cert) {
		argv[n++] = "--cert";
		argv[n++] = c->cert;
	}
	if (c->server_name) {
		argv[n++] = "--server-name";
		argv[n++] = c->server_name;
	}
	snprintf(tmo, sizeof(tmo), "%d", WAIT_MS);
	argv[n++] = "--timeout";
	argv[n++] = tmo;
	argv[n] = NULL;
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", nt.ns_b);
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(er, O_CLOEXEC), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		if (c->uid > 0 && (setgroups(0, NULL) != 0 ||
		    setgid((gid_t)c->uid) != 0 || setuid((uid_t)c->uid) != 0))
			_exit(125);
		if (strncmp(c->url, "ipc://", 6) != 0) {
			if ((fd = open(nspath, O_RDONLY)) < 0 ||
			    setns(fd, CLONE_NEWNET) != 0)
				_exit(126);
		}
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(er[1], 2) < 0)
			_exit(126);
		execv(APICLIENT_PATH, (char *const *)argv);
		_exit(127);
	}
	nt_track_pid(pid);
	close(in[0]);
	close(out[1]);
	close(er[1]);
	/* The client reads all of stdin before it dials. */
	if (len > 0 && write(in[1], req, len) != (ssize_t)len)
		cr_assert_fail("writing the request to the client");
	close(in[1]);
	while (rb->len < sizeof(rb->buf) &&
	    (k = read(out[0], rb->buf + rb->len, sizeof(rb->buf) -
	    rb->len)) > 0)
		rb->len += (size_t)k;
	while (el < sizeof(rb->err) - 1 &&
	    (k = read(er[0], rb->err + el, sizeof(rb->err) - 1 - el)) > 0)
		el += (size_t)k;
	rb->err[el] = '\0';
	close(out[0]);
	close(er[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	nt_untrack_pid(pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (el == 0)
		snprintf(rb->err, sizeof(rb->err), "client exit status %d",
		    status);
	return -1;
}

static void
header(Sctag__V1__Request *r, uint8_t nonce[16], uint8_t rid[16])
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	randombytes_buf(nonce, 16);
	randombytes_buf(rid, 16);
	r->target_host = (char *)HOST;
	r->timestamp_ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	r->nonce.data = nonce;
	r->nonce.len = 16;
	r->request_id.data = rid;
	r->request_id.len = 16;
}

/* Send bytes; the parsed reply (free with wire_reply_free) or NULL. */
static Sctag__V1__Reply *
call_bytes(const struct client *c, const uint8_t *buf, size_t len,
    struct reply_bytes *rb)
{
	Sctag__V1__Reply *rep = NULL;
	struct wire_err we;

	if (exchange(c, buf, len, rb) != 0)
		return NULL;
	cr_assert_eq(wire_reply_parse(rb->buf, rb->len, &rep, &we), 0,
	    "unreadable reply: %s", we.msg);
	return rep;
}

static Sctag__V1__Reply *
call(const struct client *c, Sctag__V1__Request *r)
{
	static struct reply_bytes rb;
	Sctag__V1__Reply *rep;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(wire_request_build(r, c->key, &buf, &len), 0);
	rep = call_bytes(c, buf, len, &rb);
	free(buf);
	if (!rep) {
		static char log[16384];

		nt_daemon_log(&daemon_, log, sizeof(log));
		cr_assert_fail("no reply from %s: %s; sctagd's log:\n%s",
		    c->url, rb.err, log);
	}
	return rep;
}

static void
expect_code(Sctag__V1__Reply *rep, Sctag__V1__Code code, const char *needle)
{
	cr_assert_eq(rep->code, code, "code %s (%s), want %s",
	    wire_code_name(rep->code), rep->message, wire_code_name(code));
	if (needle)
		cr_assert_not_null(strstr(rep->message, needle),
		    "message '%s' lacks '%s'", rep->message, needle);
	wire_reply_free(rep);
}

/* A StartFlow request for UDP A:4000 -> B:5000 with cms/14 (or as told). */
struct start_req {
	Sctag__V1__Request		r;
	Sctag__V1__StartFlowRequest	sf;
	Sctag__V1__FlowSpec		spec;
	Sctag__V1__Tag			tag;
	uint8_t				nonce[16], rid[16];
};

static Sctag__V1__Request *
start_req(struct start_req *s, uint32_t sport, const char *exp,
    const char *act)
{
	sctag__v1__request__init(&s->r);
	sctag__v1__start_flow_request__init(&s->sf);
	sctag__v1__flow_spec__init(&s->spec);
	sctag__v1__tag__init(&s->tag);
	header(&s->r, s->nonce, s->rid);
	s->spec.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_UDP;
	s->spec.src = (char *)NT_ADDR_A;
	s->spec.src_port = sport;
	s->spec.dst = (char *)NT_ADDR_B;
	s->spec.dst_port = 5000;
	s->tag.experiment = (char *)exp;
	s->tag.activity = (char *)act;
	s->spec.tag = &s->tag;
	s->sf.flow = &s->spec;
	s->r.call_case = SCTAG__V1__REQUEST__CALL_START_FLOW;
	s->r.start_flow = &s->sf;
	return &s->r;
}

struct simple_req {
	Sctag__V1__Request		r;
	Sctag__V1__GetStatusRequest	gs;
	Sctag__V1__ListFlowsRequest	lf;
	Sctag__V1__DrainRequest		dr;
	Sctag__V1__EndFlowRequest	ef;
	uint8_t				nonce[16], rid[16];
};

static Sctag__V1__Request *
simple_req(struct simple_req *s, Sctag__V1__Request__CallCase call)
{
	sctag__v1__request__init(&s->r);
	sctag__v1__get_status_request__init(&s->gs);
	sctag__v1__list_flows_request__init(&s->lf);
	sctag__v1__drain_request__init(&s->dr);
	sctag__v1__end_flow_request__init(&s->ef);
	header(&s->r, s->nonce, s->rid);
	s->r.call_case = call;
	s->r.get_status = &s->gs;	/* a union: the right member is set */
	if (call == SCTAG__V1__REQUEST__CALL_LIST_FLOWS)
		s->r.list_flows = &s->lf;
	else if (call == SCTAG__V1__REQUEST__CALL_DRAIN)
		s->r.drain = &s->dr;
	else if (call == SCTAG__V1__REQUEST__CALL_END_FLOW)
		s->r.end_flow = &s->ef;
	return &s->r;
}

static const struct client ipc_root = { NULL, NULL, NULL, NULL, 0 };

static struct client
ipc(void)
{
	struct client c = ipc_root;

	c.url = ipc_url;
	return c;
}

static struct client
tls(const struct keys_secret *key)
{
	struct client c = { TLS_URL, client_pem, HOST, key, 0 };

	return c;
}

/* Flows in the agent's table (asked as root over ipc). */
static uint64_t
table_total(void)
{
	struct client c = ipc();
	struct simple_req s;
	Sctag__V1__Reply *rep;
	uint64_t total;

	rep = call(&c, simple_req(&s, SCTAG__V1__REQUEST__CALL_LIST_FLOWS));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	total = rep->list_flows->total;
	wire_reply_free(rep);
	return total;
}

/* Rules in the kernel's hash map, read from its pin. */
static int
kernel_rules(void)
{
	struct mk_key k, next;
	char path[700];
	int fd, n = 0;

	snprintf(path, sizeof(path), "%s/mk_rules", nt.pin_dir);
	cr_assert_geq(fd = bpf_obj_get(path), 0, "%s: %s", path,
	    strerror(errno));
	if (bpf_map_get_next_key(fd, NULL, &next) == 0)
		do {
			n++;
			k = next;
		} while (bpf_map_get_next_key(fd, &k, &next) == 0 && n < 100000);
	close(fd);
	return n;
}

/* UDP A:sport -> B:5000, captured on B; every packet checked. */
static void
udp_marked(uint16_t sport, uint32_t exp, uint32_t act, int marked)
{
	const struct cap_pkt *p[16];
	struct capture *cap;
	struct cap_tuple t;
	size_t n;

	cap = nettest_capture(nt.ns_b, nt.if_b, 64);
	cap_tuple_make(&t, IPPROTO_UDP, NT_ADDR_A, sport, NT_ADDR_B, 5000);
	nettest_udp(NT_ADDR_A, sport, NT_ADDR_B, 5000, -1, 100, 4);
	nettest_expect(cap, &t, 4);
	n = nettest_flow(cap, IPPROTO_UDP, NT_ADDR_A, sport, NT_ADDR_B, 5000,
	    p, 16);
	cr_assert_eq(n, 4);
	if (marked)
		nettest_check_marked(p, n, exp, act, 0, "API flow");
	else
		nettest_check_unmarked(p, n, 0, "ended API flow");
	cap_free(cap);
}

/* --- watchers: sctagctl watch, sctag-apiclient --sub ------------------- */

#define EVENTS_TLS_URL	"tls+tcp://[" NT_ADDR_A "]:7444"

/* A CA of the dashboards' own (api.events_tls.ca) and a client of it. */
static char dash_ca[600], dash_pem[600];

static void
dash_ca_make(void)
{
	const char *src = getenv("SCTAG_SOURCE_DIR");

	cr_assert_not_null(src, "SCTAG_SOURCE_DIR is not set (ctest sets it)");
	snprintf(dash_ca, sizeof(dash_ca), "%s/dash/ca.crt", nt.tmpdir);
	snprintf(dash_pem, sizeof(dash_pem), "%s/dash/client-grafana.pem",
	    nt.tmpdir);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s/dash ca 'dashboards CA' "
	    ">/dev/null", src, nt.tmpdir);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s/dash client grafana "
	    ">/dev/null", src, nt.tmpdir);
}

/* In a forked child: into namespace B (when in_b), stdout and stderr. */
static void
child_enter(int in_b, int out, int err)
{
	char nspath[300];
	int fd;

	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", nt.ns_b);
	if (in_b && ((fd = open(nspath, O_RDONLY)) < 0 ||
	    setns(fd, CLONE_NEWNET) != 0))
		_exit(126);
	if (dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
}

/* A running `sctagctl ... watch`. */
struct watcher {
	pid_t	pid;
	int	out, err;	/* read ends of its stdout and stderr */
	char	log[4096];	/* its stderr so far */
	size_t	loglen;
};

/* Its stderr into w->log, waiting up to ms: 1 read, 0 EOF, -1 nothing. */
static int
watch_read_err(struct watcher *w, int ms)
{
	struct pollfd p = { .fd = w->err, .events = POLLIN };
	ssize_t k;

	if (poll(&p, 1, ms) != 1)
		return -1;
	k = read(w->err, w->log + w->loglen, sizeof(w->log) - 1 - w->loglen);
	if (k <= 0)
		return 0;
	w->loglen += (size_t)k;
	w->log[w->loglen] = '\0';
	return 1;
}

/* args[n..]: "--json watch --count COUNT --for 30" and the NULL; n after. */
static int
watch_args(const char **args, int n, const char *count)
{
	args[n++] = "--json";
	args[n++] = "watch";
	args[n++] = "--count";
	args[n++] = count;
	args[n++] = "--for";
	args[n++] = "30";
	args[n] = NULL;
	return n;
}

/*
 * Exec sctagctl with args (argv[0] supplied; NULL-terminated), inside B
 * when in_b. 0 once it says it is watching (subscribed); -1 when it
 * exited before that, with its wait status in *status and why in w->log.
 */
static int
watch_start(struct watcher *w, int in_b, const char *const *args,
    int *status)
{
	const char *argv[24];
	int po[2], pe[2], n;
	long long t0;

	memset(w, 0, sizeof(*w));
	argv[0] = SCTAGCTL_PATH;
	for (n = 0; args[n] != NULL; n++) {
		cr_assert_lt(n, 22);
		argv[n + 1] = args[n];
	}
	argv[n + 1] = NULL;
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	cr_assert_geq(w->pid = fork(), 0);
	if (w->pid == 0) {
		child_enter(in_b, po[1], pe[1]);
		execv(SCTAGCTL_PATH, (char *const *)argv);
		_exit(127);
	}
	nt_track_pid(w->pid);
	close(po[1]);
	close(pe[1]);
	w->out = po[0];
	w->err = pe[0];
	t0 = nt_now_ms();
	while (strstr(w->log, "watching") == NULL) {
		cr_assert_lt(nt_now_ms() - t0, 15000, "sctagctl watch neither "
		    "watches nor fails: %s", w->log);
		if (watch_read_err(w, 200) != 0)
			continue;
		/* EOF before "watching": it gave up. */
		cr_assert_eq(waitpid(w->pid, status, 0), w->pid);
		nt_untrack_pid(w->pid);
		close(w->out);
		close(w->err);
		w->pid = 0;
		return -1;
	}
	return 0;
}

/*
 * Its stdout until it exits (it was given --count and --for) or 20 s
 * passed, into out; asserts it exited 0 and missed no event.
 */
static void
watch_end(struct watcher *w, char *out, size_t len)
{
	size_t got = 0;
	long long t0 = nt_now_ms();
	ssize_t k;
	int status;

	while (got < len - 1 && nt_now_ms() - t0 < 20000) {
		struct pollfd p = { .fd = w->out, .events = POLLIN };

		if (poll(&p, 1, 500) != 1)
			continue;
		if ((k = read(w->out, out + got, len - 1 - got)) <= 0)
			break;
		got += (size_t)k;
	}
	out[got] = '\0';
	/* Bounded: --for ends it; a process that hangs is the finding. */
	t0 = nt_now_ms();
	while ((k = waitpid(w->pid, &status, WNOHANG)) == 0 &&
	    nt_now_ms() - t0 < 40000)
		nt_sleep_ms(50);
	cr_assert_eq(k, w->pid, "sctagctl watch did not exit (out: %s; "
	    "stderr: %s)", out, w->log);
	nt_untrack_pid(w->pid);
	while (watch_read_err(w, 100) > 0)
		;
	close(w->out);
	close(w->err);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "sctagctl watch: status %d; stderr: %s", status, w->log);
	cr_assert_null(strstr(w->log, "missed"), "%s", w->log);
}

/* The first n events of watch --json output (one object a line). */
static void
watch_events(char *out, json_t **ev, int n)
{
	json_error_t je;
	char *p = out, *q;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_not_null(q = strchr(p, '\n'), "only %d event(s): %s",
		    i, out);
		*q = '\0';
		cr_assert_not_null(ev[i] = json_loads(p, 0, &je),
		    "not JSON: %s", p);
		p = q + 1;
	}
}

/*
 * ev[i] is an event of kind about flow id, from this agent, and (past
 * the first) the next in ev[i - 1]'s sequence of the same agent run.
 */
static void
event_is(json_t *const *ev, int i, const char *kind, uint64_t id)
{
	const json_t *e = ev[i];

	cr_assert_str_eq(json_string_value(json_object_get(e, "kind")), kind,
	    "event %d", i);
	cr_assert_eq((uint64_t)json_integer_value(json_object_get(
	    json_object_get(e, "flow"), "id")), id, "event %d: flow id", i);
	cr_assert_str_eq(json_string_value(json_object_get(e, "host")), HOST);
	if (i == 0)
		return;
	cr_assert_eq(json_integer_value(json_object_get(e, "seq")),
	    json_integer_value(json_object_get(ev[i - 1], "seq")) + 1,
	    "event %d: sequence numbers not consecutive", i);
	cr_assert_eq(json_integer_value(json_object_get(e, "run_id")),
	    json_integer_value(json_object_get(ev[i - 1], "run_id")));
}

/*
 * A bare NNG subscriber in B dials url (sctag-apiclient --sub), with cert
 * or none at all. Its exit code: 0 connected, 3 refused (err says why).
 */
static int
sub_dial(const char *url, const char *cert, char *err, size_t errlen)
{
	const char *argv[12];
	int pe[2], po[2], n = 0, status;
	size_t el = 0;
	ssize_t k;
	pid_t pid;

	argv[n++] = APICLIENT_PATH;
	argv[n++] = url;
	argv[n++] = "--sub";
	argv[n++] = "--ca";
	argv[n++] = ca;
	argv[n++] = "--server-name";
	argv[n++] = HOST;
	if (cert != NULL) {
		argv[n++] = "--cert";
		argv[n++] = cert;
	}
	argv[n] = NULL;
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		child_enter(1, po[1], pe[1]);
		execv(APICLIENT_PATH, (char *const *)argv);
		_exit(127);
	}
	nt_track_pid(pid);
	close(po[1]);
	close(pe[1]);
	while (el < errlen - 1 &&
	    (k = read(pe[0], err + el, errlen - 1 - el)) > 0)
		el += (size_t)k;
	err[el] = '\0';
	close(po[0]);
	close(pe[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	nt_untrack_pid(pid);
	cr_assert(WIFEXITED(status), "sctag-apiclient: status %d", status);
	return WEXITSTATUS(status);
}

static uint64_t counter_wait(const char *, uint64_t);

/* --- tests ---------------------------------------------------------------- */

/* Over ipc, root is admin without a signature: every call works. */
Test(api, ipc_calls_as_root)
{
	struct client c;
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;
	uint64_t id;

	api_up();
	c = ipc();
	rep = call(&c, start_req(&st, 4000, "CMS", "Analysis Input"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(rep->start_flow->created);
	id = rep->start_flow->flow->id;
	cr_assert_eq(rep->start_flow->flow->experiment, 3);
	cr_assert_eq(rep->start_flow->flow->activity, 14);
	cr_assert_str_eq(rep->start_flow->flow->owner, "uid:0");
	wire_reply_free(rep);
	udp_marked(4000, 3, 14, 1);

	/* The same spec written another way is the same flow. */
	rep = call(&c, start_req(&st, 4000, "3", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(!rep->start_flow->created);
	cr_assert_eq(rep->start_flow->flow->id, id);
	wire_reply_free(rep);
	cr_assert_eq(table_total(), 1);

	rep = call(&c, simple_req(&s, SCTAG__V1__REQUEST__CALL_GET_STATUS));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_str_eq(rep->get_status->host, HOST);
	cr_assert_eq(rep->get_status->used, 1);
	wire_reply_free(rep);

	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	rep = call(&c, &s.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	udp_marked(4000, 3, 14, 0);
	cr_assert_eq(table_total(), 0);
	cr_assert_eq(kernel_rules(), 0);

	/* Ending it again: NOT_FOUND, by name. */
	s.r.request_id.data[0] ^= 1;
	s.r.nonce.data[0] ^= 1;
	expect_code(call(&c, &s.r), SCTAG__V1__CODE__NOT_FOUND, "flow");
	api_down();
}

/* A signed StartFlow over mutual TLS from B marks A's packets. */
Test(api, tls_orchestrator_marks_and_roles_hold)
{
	struct client orch, mon, adm;
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;

	api_up();
	orch = tls(k_orch);
	mon = tls(k_mon);
	adm = tls(k_adm);
	rep = call(&orch, start_req(&st, 4001, "atlas", "Data Consolidation"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_str_eq(rep->start_flow->flow->owner, "fts-1");
	wire_reply_free(rep);
	udp_marked(4001, 2, 4, 1);

	/* A resend of the same request (REQ retries) gets the first reply. */
	rep = call(&orch, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(rep->start_flow->created, "not the first reply");
	wire_reply_free(rep);

	rep = call(&mon, simple_req(&s, SCTAG__V1__REQUEST__CALL_LIST_FLOWS));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->list_flows->n_flows, 1);
	wire_reply_free(rep);
	expect_code(call(&mon, start_req(&st, 4002, "cms", "1")),
	    SCTAG__V1__CODE__PERMISSION_DENIED, "role monitor may not");
	expect_code(call(&orch, simple_req(&s, SCTAG__V1__REQUEST__CALL_DRAIN)),
	    SCTAG__V1__CODE__PERMISSION_DENIED, "role orchestrator may not");
	cr_assert_eq(table_total(), 1);

	rep = call(&adm, simple_req(&s, SCTAG__V1__REQUEST__CALL_DRAIN));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->drain->ended, 1);
	wire_reply_free(rep);
	udp_marked(4001, 2, 4, 0);
	cr_assert_eq(kernel_rules(), 0);
	api_down();
}

/* Bytes that must be refused, built from a valid signed request. */
enum attack {
	A_UNKNOWN_KEY, A_BAD_SIGNATURE, A_BODY_CHANGED, A_REPLAYED_NONCE,
	A_STALE, A_FUTURE, A_WRONG_HOST, A_UNSIGNED_TLS, A_GARBAGE,
	A_TRUNCATED, A_NESTED, A_MAX
};

static const struct {
	Sctag__V1__Code	code;
	const char	*needle;
} attack_want[A_MAX] = {
	[A_UNKNOWN_KEY] = { SCTAG__V1__CODE__UNAUTHENTICATED, "unknown key" },
	[A_BAD_SIGNATURE] = { SCTAG__V1__CODE__UNAUTHENTICATED, "signature" },
	[A_BODY_CHANGED] = { SCTAG__V1__CODE__UNAUTHENTICATED, "signature" },
	[A_REPLAYED_NONCE] = { SCTAG__V1__CODE__UNAUTHENTICATED, "nonce" },
	[A_STALE] = { SCTAG__V1__CODE__UNAUTHENTICATED, "stale timestamp" },
	[A_FUTURE] = { SCTAG__V1__CODE__UNAUTHENTICATED, "future" },
	[A_WRONG_HOST] = { SCTAG__V1__CODE__PERMISSION_DENIED, "host" },
	[A_UNSIGNED_TLS] = { SCTAG__V1__CODE__UNAUTHENTICATED, "signed" },
	[A_GARBAGE] = { SCTAG__V1__CODE__INVALID_ARGUMENT, NULL },
	[A_TRUNCATED] = { SCTAG__V1__CODE__INVALID_ARGUMENT, NULL },
	[A_NESTED] = { SCTAG__V1__CODE__INVALID_ARGUMENT, NULL },
};

static void
attack_bytes(enum attack a, uint8_t **buf, size_t *len,
    struct start_req *used)
{
	struct start_req st;
	const struct keys_secret *key = k_orch;
	size_t i;

	start_req(&st, 4100 + a, "cms", "14");
	switch (a) {
	case A_UNKNOWN_KEY:
		key = k_stranger;
		break;
	case A_REPLAYED_NONCE:
		memcpy(st.nonce, used->nonce, 16);	/* new request id */
		break;
	case A_STALE:
		st.r.timestamp_ms -= 120000;
		break;
	case A_FUTURE:
		st.r.timestamp_ms += 120000;
		break;
	case A_WRONG_HOST:
		st.r.target_host = (char *)"agent-b";
		break;
	case A_UNSIGNED_TLS:
		key = NULL;
		break;
	default:
		break;
	}
	cr_assert_eq(wire_request_build(&st.r, key, buf, len), 0);
	switch (a) {
	case A_BAD_SIGNATURE:
		(*buf)[*len - 1] ^= 0x55;	/* the signature is last */
		break;
	case A_BODY_CHANGED:
		/* The body comes first: flip a byte inside it. */
		(*buf)[6] ^= 0x01;
		break;
	case A_GARBAGE:
		for (i = 0; i < *len; i++)
			(*buf)[i] = (uint8_t)(0xff - i);
		break;
	case A_TRUNCATED:
		*len = *len * 2 / 3;
		break;
	case A_NESTED: {
		/* 4,000 nested length-delimited fields, as an Envelope. */
		size_t depth = 4000, n = 0;
		uint8_t *b = malloc(depth * 4 + 16);

		cr_assert_not_null(b);
		for (i = 0; i < depth; i++) {
			size_t rest = (depth - i - 1) * 3;

			b[n++] = 0x0a;
			b[n++] = (uint8_t)(0x80 | (rest & 0x7f));
			b[n++] = (uint8_t)(rest >> 7);
		}
		free(*buf);
		*buf = b;
		*len = n;
		break;
	}
	default:
		break;
	}
}

/*
 * The attack table: each is refused with its code (or by TLS), and
 * neither the flow table nor the kernel's rules change.
 */
Test(api, attacks_are_refused_and_change_nothing, .timeout = 180)
{
	static struct reply_bytes rb;
	static uint8_t big[100 * 1024];
	struct client orch, c;
	struct start_req legit;
	Sctag__V1__Reply *rep;
	uint8_t *buf;
	size_t len;
	int a, rules;

	api_up();
	orch = tls(k_orch);
	rep = call(&orch, start_req(&legit, 4099, "atlas", "4"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	rules = kernel_rules();
	cr_assert_eq(rules, 1);

	for (a = 0; a < A_MAX; a++) {
		attack_bytes((enum attack)a, &buf, &len, &legit);
		rep = call_bytes(&orch, buf, len, &rb);
		free(buf);
		cr_assert_not_null(rep, "attack %d: no reply: %s", a, rb.err);
		cr_assert_eq(rep->code, attack_want[a].code, "attack %d: %s "
		    "(%s), want %s", a, wire_code_name(rep->code),
		    rep->message, wire_code_name(attack_want[a].code));
		if (attack_want[a].needle)
			cr_assert_not_null(strstr(rep->message,
			    attack_want[a].needle), "attack %d: message '%s' "
			    "lacks '%s'", a, rep->message,
			    attack_want[a].needle);
		wire_reply_free(rep);
		cr_assert_eq(table_total(), 1, "attack %d changed the table",
		    a);
		cr_assert_eq(kernel_rules(), rules, "attack %d changed the "
		    "kernel's rules", a);
	}

	/* TLS refuses before any byte reaches the parser. */
	c = orch;
	c.cert = NULL;
	cr_assert_neq(exchange(&c, "x", 1, &rb), 0, "no client certificate: "
	    "accepted");
	c = orch;
	c.cert = other_pem;
	cr_assert_neq(exchange(&c, "x", 1, &rb), 0, "certificate from "
	    "another CA: accepted");
	c = orch;
	c.server_name = "agent-b";
	cr_assert_neq(exchange(&c, "x", 1, &rb), 0, "wrong server name: "
	    "accepted");

	/* Oversized: NNG drops the connection; no reply, agent fine. */
	memset(big, 0x0a, sizeof(big));
	cr_assert_neq(exchange(&orch, big, sizeof(big), &rb), 0,
	    "a 100 KiB message got a reply");

	cr_assert_eq(table_total(), 1);
	cr_assert_eq(kernel_rules(), rules);
	/* And the agent still serves. */
	rep = call(&orch, start_req(&legit, 4098, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	api_down();
}

/*
 * 1,000 TCP connections that never finish a TLS handshake do not keep a
 * legitimate client out.
 */
Test(api, idle_tls_connections_do_not_starve_clients, .timeout = 180)
{
	struct sockaddr_in6 sa;
	struct rlimit rl;
	struct client orch;
	struct start_req st;
	Sctag__V1__Reply *rep;
	int *fds, i, open_ = 0, saved;

	/* 1,000 sockets here: more than the usual soft limit of 1,024. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	api_up();
	cr_assert_not_null(fds = calloc(1000, sizeof(*fds)));
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(7443);
	inet_pton(AF_INET6, NT_ADDR_A, &sa.sin6_addr);
	/* Sockets belong to the namespace they were made in: B's. */
	cr_assert_eq(nt_ns_enter(nt.ns_b, &saved), 0);
	for (i = 0; i < 1000; i++) {
		fds[i] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			break;
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0)
			open_++;
	}
	cr_assert_eq(nt_ns_leave(saved), 0);
	cr_assert_eq(open_, 1000, "only %d idle connections opened", open_);
	orch = tls(k_orch);
	rep = call(&orch, start_req(&st, 4200, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	for (i = 0; i < 1000; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
	api_down();
}

/* Batch, Ping, GetRegistry, Reload: over ipc as root and over TLS. */
static void
every_call(const struct client *c, uint32_t base)
{
	Sctag__V1__Request r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__BatchRequest b = SCTAG__V1__BATCH_REQUEST__INIT;
	Sctag__V1__BatchItem it[3], *items[3];
	Sctag__V1__EndFlowRequest end = SCTAG__V1__END_FLOW_REQUEST__INIT;
	Sctag__V1__PingRequest ping = SCTAG__V1__PING_REQUEST__INIT;
	Sctag__V1__GetRegistryRequest gr = SCTAG__V1__GET_REGISTRY_REQUEST__INIT;
	Sctag__V1__ReloadRequest rl = SCTAG__V1__RELOAD_REQUEST__INIT;
	struct start_req s1, s2;
	Sctag__V1__Reply *rep;
	uint8_t nonce[16], rid[16];
	size_t i;
	int found = 0;

	/* Batch: two starts, then the end of the first, answered per item. */
	start_req(&s1, base, "cms", "14");
	start_req(&s2, base + 1, "atlas", "4");
	for (i = 0; i < 3; i++) {
		sctag__v1__batch_item__init(&it[i]);
		items[i] = &it[i];
	}
	it[0].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
	it[0].start = &s1.spec;
	it[1].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
	it[1].start = &s2.spec;
	end.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
	end.spec = &s1.spec;
	it[2].op_case = SCTAG__V1__BATCH_ITEM__OP_END;
	it[2].end = &end;
	b.n_items = 3;
	b.items = items;
	header(&r, nonce, rid);
	r.call_case = SCTAG__V1__REQUEST__CALL_BATCH;
	r.batch = &b;
	rep = call(c, &r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->batch->n_results, 3);
	for (i = 0; i < 3; i++)
		cr_assert_eq(rep->batch->results[i]->code, SCTAG__V1__CODE__OK,
		    "item %zu: %s", i, rep->batch->results[i]->message);
	cr_assert_eq(rep->batch->results[1]->flow->experiment, 2);
	wire_reply_free(rep);
	udp_marked((uint16_t)(base + 1), 2, 4, 1);
	udp_marked((uint16_t)base, 3, 14, 0);

	header(&r, nonce, rid);
	ping.payload.data = (uint8_t *)"are you there";
	ping.payload.len = 13;
	r.call_case = SCTAG__V1__REQUEST__CALL_PING;
	r.ping = &ping;
	rep = call(c, &r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->ping->payload.len, 13);
	cr_assert_eq(memcmp(rep->ping->payload.data, "are you there", 13), 0);
	wire_reply_free(rep);

	header(&r, nonce, rid);
	r.call_case = SCTAG__V1__REQUEST__CALL_GET_REGISTRY;
	r.get_registry = &gr;
	rep = call(c, &r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	for (i = 0; i < rep->get_registry->n_experiments; i++)
		found |= rep->get_registry->experiments[i]->id == 2 &&
		    strcmp(rep->get_registry->experiments[i]->name,
		    "atlas") == 0;
	cr_assert(found, "atlas (2) not in the registry reply");
	wire_reply_free(rep);

	header(&r, nonce, rid);
	r.call_case = SCTAG__V1__REQUEST__CALL_RELOAD;
	r.reload = &rl;
	rep = call(c, &r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_not_null(strstr(rep->reload->message, "3 key(s) loaded"),
	    "%s", rep->reload->message);
	wire_reply_free(rep);
}

Test(api, every_call_over_ipc_and_tls)
{
	struct client c;
	struct simple_req s;
	Sctag__V1__Reply *rep;

	api_up();
	c = ipc();
	every_call(&c, 4300);
	c = tls(k_adm);
	every_call(&c, 4310);
	cr_assert_eq(table_total(), 2);
	rep = call(&c, simple_req(&s, SCTAG__V1__REQUEST__CALL_DRAIN));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->drain->ended, 2);
	wire_reply_free(rep);
	cr_assert_eq(kernel_rules(), 0);
	api_down();
}

/*
 * Over ipc the kernel's peer uid decides: the agent's own user is only a
 * monitor; a user outside the socket's owner and group can not connect.
 */
Test(api, ipc_roles_come_from_the_peer_uid)
{
	struct passwd *nobody = getpwnam("nobody");
	struct client c;
	struct start_req st;
	struct simple_req s;
	static struct reply_bytes rb;
	Sctag__V1__Reply *rep;

	cr_assert_not_null(nobody);
	api_up();
	c = ipc();
	c.uid = (int)nobody->pw_uid;
	rep = call(&c, simple_req(&s, SCTAG__V1__REQUEST__CALL_GET_STATUS));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	expect_code(call(&c, start_req(&st, 4400, "cms", "14")),
	    SCTAG__V1__CODE__PERMISSION_DENIED, "role monitor may not");
	/* uid 1 ("daemon") is neither the owner nor in the group. */
	c.uid = 1;
	cr_assert_neq(exchange(&c, "x", 1, &rb), 0, "uid 1 reached the "
	    "ipc socket");
	cr_assert_eq(table_total(), 0);
	api_down();
}

/*
 * NNG 1.5.2 bug #1518: a client that connects and closes during the SP
 * negotiation can break an ipc listener. The agent's self-probe must
 * notice and recreate it: the API answers again within the probe period.
 */
Test(api, ipc_listener_survives_a_connect_and_close, .timeout = 120)
{
	struct sockaddr_un sa;
	struct client c;
	struct simple_req s;
	static struct reply_bytes rb;
	Sctag__V1__Reply *rep = NULL;
	uint8_t *buf;
	size_t len;
	int fd, i;

	api_up();
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	cr_assert_lt(strlen(ipc_url + 6), sizeof(sa.sun_path));
	memcpy(sa.sun_path, ipc_url + 6, strlen(ipc_url + 6) + 1);
	for (i = 0; i < 3; i++) {
		cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
		    0, "%s: %s", sa.sun_path, strerror(errno));
		close(fd);
	}
	c = ipc();
	cr_assert_eq(wire_request_build(simple_req(&s,
	    SCTAG__V1__REQUEST__CALL_GET_STATUS), NULL, &buf, &len), 0);
	/* Bounded: two probe periods and a little. */
	for (i = 0; i < 25 && rep == NULL; i++) {
		rep = call_bytes(&c, buf, len, &rb);
		if (rep == NULL)
			nt_sleep_ms(1000);
	}
	free(buf);
	cr_assert_not_null(rep, "the ipc API did not come back: %s", rb.err);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	api_down();
}

/*
 * A lease: the flow marks until its time to live runs out, then the agent
 * ends it by itself. An IPv4 flow is accepted and reported not markable.
 */
Test(api, leases_expire_and_ipv4_is_not_markable)
{
	struct client c;
	struct start_req st;
	Sctag__V1__Reply *rep;
	int i;

	api_up();
	c = tls(k_orch);
	start_req(&st, 4500, "cms", "14");
	st.spec.ttl_seconds = 2;
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_gt(rep->start_flow->flow->expires_ms, 0);
	wire_reply_free(rep);
	udp_marked(4500, 3, 14, 1);
	cr_assert_eq(kernel_rules(), 1);
	/* Bounded: the lease is 2 s; wait up to 6. */
	for (i = 0; i < 60 && table_total() != 0; i++)
		nt_sleep_ms(100);
	cr_assert_eq(table_total(), 0, "the lease did not end the flow");
	cr_assert_eq(kernel_rules(), 0);
	udp_marked(4500, 3, 14, 0);

	start_req(&st, 4501, "atlas", "4");
	st.spec.src = (char *)"192.0.2.1";
	st.spec.dst = (char *)"198.51.100.7";
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(!rep->start_flow->flow->markable);
	cr_assert_eq(rep->start_flow->flow->flow_label, 0);
	wire_reply_free(rep);
	cr_assert_eq(table_total(), 1);
	cr_assert_eq(kernel_rules(), 0, "an IPv4 flow reached the kernel");
	api_down();
}

/*
 * One connection may have at most RPC_PER_CONN (16) requests in flight:
 * 40 concurrent Batch requests on one ipc connection (req contexts) get
 * answers; those over the limit UNAVAILABLE, by name, the rest OK. (ipc
 * needs no namespace, so NNG runs in this process.)
 */
#define NCTX	40

struct inflight_req {
	nng_ctx		ctx;
	nng_aio		*aio;
	uint8_t		*buf;
	size_t		 len;
};

/*
 * Send every request (ctx, aio and bytes set), all before any answer can
 * come back; then collect the n replies, parsed, in rep[] (free them with
 * wire_reply_free). Frees the requests' aio, ctx and bytes.
 */
static void
inflight_run(struct inflight_req *q, int n, Sctag__V1__Reply **rep)
{
	struct wire_err we;
	nng_msg *m;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(nng_msg_alloc(&m, 0), 0);
		cr_assert_eq(nng_msg_append(m, q[i].buf, q[i].len), 0);
		nng_aio_set_msg(q[i].aio, m);
		nng_ctx_send(q[i].ctx, q[i].aio);
	}
	for (i = 0; i < n; i++) {
		nng_aio_wait(q[i].aio);
		cr_assert_eq(nng_aio_result(q[i].aio), 0, "send %d: %s", i,
		    nng_strerror(nng_aio_result(q[i].aio)));
		nng_ctx_recv(q[i].ctx, q[i].aio);
	}
	for (i = 0; i < n; i++) {
		nng_aio_wait(q[i].aio);
		cr_assert_eq(nng_aio_result(q[i].aio), 0, "reply %d: %s", i,
		    nng_strerror(nng_aio_result(q[i].aio)));
		m = nng_aio_get_msg(q[i].aio);
		cr_assert_eq(wire_reply_parse(nng_msg_body(m), nng_msg_len(m),
		    &rep[i], &we), 0, "%s", we.msg);
		nng_msg_free(m);
		nng_aio_free(q[i].aio);
		nng_ctx_close(q[i].ctx);
		free(q[i].buf);
	}
}

Test(api, in_flight_limit_per_connection)
{
	static struct inflight_req q[NCTX];
	static Sctag__V1__BatchItem it[NCTX][200], *items[NCTX][200];
	static struct start_req st[NCTX][200];
	Sctag__V1__BatchRequest b[NCTX];
	Sctag__V1__Request r[NCTX];
	uint8_t nonce[NCTX][16], rid[NCTX][16];
	Sctag__V1__Reply *rep, *reps[NCTX];
	nng_socket s;
	int i, j, ok = 0, busy = 0;

	api_up();
	cr_assert_eq(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	cr_assert_eq(nng_dial(s, ipc_url, NULL, 0), 0);
	for (i = 0; i < NCTX; i++) {
		for (j = 0; j < 200; j++) {
			start_req(&st[i][j], (uint32_t)(10000 + i * 200 + j),
			    "cms", "14");
			sctag__v1__batch_item__init(&it[i][j]);
			it[i][j].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
			it[i][j].start = &st[i][j].spec;
			items[i][j] = &it[i][j];
		}
		sctag__v1__batch_request__init(&b[i]);
		b[i].n_items = 200;
		b[i].items = items[i];
		sctag__v1__request__init(&r[i]);
		header(&r[i], nonce[i], rid[i]);
		r[i].call_case = SCTAG__V1__REQUEST__CALL_BATCH;
		r[i].batch = &b[i];
		cr_assert_eq(wire_request_build(&r[i], NULL, &q[i].buf,
		    &q[i].len), 0);
		cr_assert_eq(nng_ctx_open(&q[i].ctx, s), 0);
		cr_assert_eq(nng_aio_alloc(&q[i].aio, NULL, NULL), 0);
		nng_aio_set_timeout(q[i].aio, 20000);
	}
	inflight_run(q, NCTX, reps);
	for (i = 0; i < NCTX; i++) {
		rep = reps[i];
		if (rep->code == SCTAG__V1__CODE__OK)
			ok++;
		else {
			cr_assert_eq(rep->code, SCTAG__V1__CODE__UNAVAILABLE,
			    "%s", rep->message);
			cr_assert_not_null(strstr(rep->message,
			    "too many requests in flight"), "%s",
			    rep->message);
			busy++;
		}
		wire_reply_free(rep);
	}
	cr_assert_gt(busy, 0, "no request was over the limit (%d ok)", ok);
	cr_assert_geq(ok, 16, "only %d of %d answered OK", ok, NCTX);
	cr_assert_eq(table_total(), (uint64_t)ok * 200);
	nng_close(s);
	api_down();
}

/* A Batch of n (up to 1,000) starts, UDP A:base+i -> B:5000, atlas/4. */
struct batch_req {
	Sctag__V1__Request		r;
	Sctag__V1__BatchRequest		b;
	Sctag__V1__BatchItem		it[1000], *items[1000];
	struct start_req		st[1000];
	uint8_t				nonce[16], rid[16];
};

static Sctag__V1__Request *
batch_req(struct batch_req *q, size_t n, uint32_t base)
{
	size_t i;

	cr_assert_leq(n, 1000);
	for (i = 0; i < n; i++) {
		start_req(&q->st[i], (uint32_t)(base + i), "atlas", "4");
		sctag__v1__batch_item__init(&q->it[i]);
		q->it[i].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
		q->it[i].start = &q->st[i].spec;
		q->items[i] = &q->it[i];
	}
	sctag__v1__batch_request__init(&q->b);
	q->b.n_items = n;
	q->b.items = q->items;
	sctag__v1__request__init(&q->r);
	header(&q->r, q->nonce, q->rid);
	q->r.call_case = SCTAG__V1__REQUEST__CALL_BATCH;
	q->r.batch = &q->b;
	return &q->r;
}

/* The largest Batch (1,000 items) is answered item by item, all OK. */
Test(api, batch_of_1000)
{
	static struct batch_req q;
	Sctag__V1__Reply *rep;
	struct client c;
	size_t i;

	api_up();
	c = tls(k_orch);
	rep = call(&c, batch_req(&q, 1000, 20000));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_eq(rep->batch->n_results, 1000);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(rep->batch->results[i]->code, SCTAG__V1__CODE__OK,
		    "item %zu: %s", i, rep->batch->results[i]->message);
	wire_reply_free(rep);
	cr_assert_eq(table_total(), 1000);
	cr_assert_eq(kernel_rules(), 1000);
	api_down();
}

/* A key enrolled while the agent runs counts after SIGHUP, not before. */
Test(api, sighup_rereads_authorized_keys)
{
	struct client c;
	struct start_req st;
	Sctag__V1__Reply *rep;
	FILE *f;

	api_up();
	c = tls(k_stranger);
	expect_code(call(&c, start_req(&st, 4600, "cms", "14")),
	    SCTAG__V1__CODE__UNAUTHENTICATED, "unknown key");
	cr_assert_not_null(f = fopen(keys_path, "a"));
	fprintf(f, "orchestrator %s newcomer\n", stranger_pub);
	fclose(f);
	cr_assert_eq(kill(daemon_.pid, SIGHUP), 0);
	cr_assert_eq(nt_daemon_log_wait(&daemon_, "4 key(s) loaded", 5000), 0,
	    "no reload in the log");
	rep = call(&c, start_req(&st, 4600, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert_str_eq(rep->start_flow->flow->owner, "newcomer");
	wire_reply_free(rep);
	api_down();
}

/*
 * Batch adds its new rules ahead, many per round trip: items must still
 * behave one after another. Here: a start, the same match with another
 * tag (a conflict), an idempotent repeat, the end of the first, and a
 * start of that match with the other tag, which must be what is marked.
 */
Test(api, batch_items_run_in_order)
{
	Sctag__V1__BatchItem it[5], *items[5];
	Sctag__V1__EndFlowRequest end = SCTAG__V1__END_FLOW_REQUEST__INIT;
	Sctag__V1__BatchRequest b = SCTAG__V1__BATCH_REQUEST__INIT;
	Sctag__V1__Request r = SCTAG__V1__REQUEST__INIT;
	struct start_req a1, a2, a3, a5;
	uint8_t nonce[16], rid[16];
	static const Sctag__V1__Code want[5] = { SCTAG__V1__CODE__OK,
	    SCTAG__V1__CODE__ALREADY_EXISTS, SCTAG__V1__CODE__OK,
	    SCTAG__V1__CODE__OK, SCTAG__V1__CODE__OK };
	Sctag__V1__Reply *rep;
	struct client c;
	size_t i;

	api_up();
	start_req(&a1, 4700, "cms", "14");
	start_req(&a2, 4700, "atlas", "4");
	start_req(&a3, 4700, "CMS", "Analysis Input");
	start_req(&a5, 4700, "atlas", "4");
	for (i = 0; i < 5; i++) {
		sctag__v1__batch_item__init(&it[i]);
		it[i].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
		items[i] = &it[i];
	}
	it[0].start = &a1.spec;
	it[1].start = &a2.spec;
	it[2].start = &a3.spec;
	end.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
	end.spec = &a1.spec;
	it[3].op_case = SCTAG__V1__BATCH_ITEM__OP_END;
	it[3].end = &end;
	it[4].start = &a5.spec;
	b.n_items = 5;
	b.items = items;
	header(&r, nonce, rid);
	r.call_case = SCTAG__V1__REQUEST__CALL_BATCH;
	r.batch = &b;
	c = tls(k_orch);
	rep = call(&c, &r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	for (i = 0; i < 5; i++)
		cr_assert_eq(rep->batch->results[i]->code, want[i],
		    "item %zu: %s (%s)", i,
		    wire_code_name(rep->batch->results[i]->code),
		    rep->batch->results[i]->message);
	cr_assert(!rep->batch->results[2]->flow->id ||
	    rep->batch->results[2]->flow->id ==
	    rep->batch->results[0]->flow->id, "the repeat is the same flow");
	wire_reply_free(rep);
	cr_assert_eq(table_total(), 1);
	cr_assert_eq(kernel_rules(), 1);
	udp_marked(4700, 2, 4, 1);
	api_down();
}

/* --- a client that never reads ------------------------------------------ */

/* Write all of buf (bounded by the socket's send timeout). */
static int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * A raw SP connection over ipc (NNG's framing: an 8-byte greeting, then
 * per message a 0x01 byte, a 64-bit length and the body; a REQ body starts
 * with a 32-bit request id with its top bit set) that sends count
 * ListFlows requests and never reads an answer.
 */
static int
hog(const uint8_t *req, size_t len, int count)
{
	static const uint8_t hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };
	struct timeval tv = { 2, 0 };
	struct sockaddr_un sa;
	uint8_t head[13];
	int fd, i;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, ipc_url + 6, strlen(ipc_url + 6) + 1);
	cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write_all(fd, hello, sizeof(hello)), 0);
	for (i = 0; i < count; i++) {
		uint64_t l = len + 4;
		int k;

		head[0] = 1;
		for (k = 0; k < 8; k++)
			head[1 + k] = (uint8_t)(l >> (56 - 8 * k));
		head[9] = 0x80;
		head[10] = 0;
		head[11] = (uint8_t)(i >> 8);
		head[12] = (uint8_t)i;
		if (write_all(fd, head, sizeof(head)) != 0 ||
		    write_all(fd, req, len) != 0)
			break;
	}
	return fd;
}

/*
 * Six connections that ask for large replies (16 pages of 1,000 flows
 * each, more than the agent's 64 contexts) and never read them do not keep
 * a well-behaved client waiting. (Measured: NNG 1.5.2's REP pipe takes
 * such replies off the contexts, so they are not pinned; the reply send
 * timeout, RPC_SEND_TIMEOUT_MS, is the bound should that change.)
 */
Test(api, readers_that_never_read_do_not_block_the_agent, .timeout = 120)
{
	static struct batch_req q;
	static struct reply_bytes rb;
	struct simple_req s;
	uint8_t *buf;
	Sctag__V1__Reply *rep;
	struct client c;
	long long t0, waited;
	size_t len, i;
	int fds[6];

	api_up();
	c = ipc();
	rep = call(&c, batch_req(&q, 1000, 30000));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);

	/* A page of 1,000 flows is some 100 KB: 16 of them fill a socket. */
	simple_req(&s, SCTAG__V1__REQUEST__CALL_LIST_FLOWS);
	s.lf.page_size = 1000;
	cr_assert_eq(wire_request_build(&s.r, NULL, &buf, &len), 0);
	for (i = 0; i < 6; i++)
		fds[i] = hog(buf, len, 16);
	free(buf);

	t0 = nt_now_ms();
	simple_req(&s, SCTAG__V1__REQUEST__CALL_GET_STATUS);
	cr_assert_eq(wire_request_build(&s.r, NULL, &buf, &len), 0);
	for (i = 0, rep = NULL; i < 4 && !rep; i++)
		rep = call_bytes(&c, buf, len, &rb);
	free(buf);
	waited = nt_now_ms() - t0;
	cr_assert_not_null(rep, "no answer in %lld ms with the contexts held: "
	    "%s", waited, rb.err);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	for (i = 0; i < 6; i++)
		close(fds[i]);
	api_down();
}

/*
 * HUP sent straight to the network process (systemctl kill signals every
 * process of the unit) reloads keys and registry together: the flow table
 * must not keep the registry that was freed. A conflict's message names
 * the tag from the registry, so it reads that memory.
 */
Test(api, hup_to_the_network_process_keeps_the_registry)
{
	char path[64], buf[64];
	struct client c;
	struct start_req st;
	FILE *f;
	long child = -1;

	api_up();
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children",
	    (int)daemon_.pid, (int)daemon_.pid);
	cr_assert_not_null(f = fopen(path, "r"));
	if (fgets(buf, sizeof(buf), f))
		child = strtol(buf, NULL, 10);
	fclose(f);
	cr_assert_gt(child, 0);
	c = ipc();
	expect_code(call(&c, start_req(&st, 4800, "cms", "14")),
	    SCTAG__V1__CODE__OK, NULL);
	cr_assert_eq(kill((pid_t)child, SIGHUP), 0);
	cr_assert_eq(nt_daemon_log_wait(&daemon_, "reload: ", 5000), 0);
	expect_code(call(&c, start_req(&st, 4800, "atlas", "4")),
	    SCTAG__V1__CODE__ALREADY_EXISTS, "cms/");
	api_down();
}

/*
 * The named pipe may not end a flow the API started: its "end" for the
 * same 5-tuple is refused and counted, the rule stays. A kernel rule gone
 * from under a flow (deleted by hand here) does not pin the flow: it can
 * still be ended, the rule being gone is the goal.
 */
Test(api, a_rule_already_gone_does_not_pin_the_flow)
{
	char line[256], path[700];
	struct client c;
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;
	struct mk_key k;
	uint64_t id;
	int fd;

	api_up();
	c = ipc();
	rep = call(&c, start_req(&st, 4900, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	snprintf(line, sizeof(line), "end udp %s 4900 %s 5000 cms 14\n",
	    NT_ADDR_A, NT_ADDR_B);
	cr_assert_eq(nt_fifo_write(fifo_path, line, strlen(line)), 0);
	cr_assert_eq(counter_wait("pipe_lines_refused", 1), 1);
	cr_assert_eq(kernel_rules(), 1, "the pipe ended the API's flow");

	snprintf(path, sizeof(path), "%s/mk_rules", nt.pin_dir);
	cr_assert_geq(fd = bpf_obj_get(path), 0);
	cr_assert_eq(bpf_map_get_next_key(fd, NULL, &k), 0);
	cr_assert_eq(bpf_map_delete_elem(fd, &k), 0);
	close(fd);
	cr_assert_eq(kernel_rules(), 0);
	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	rep = call(&c, &s.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	cr_assert_eq(table_total(), 0);
	api_down();
}

/* A GetStatus counter, asked as root over ipc. */
static uint64_t
status_counter(const char *name)
{
	struct client c = ipc();
	struct simple_req s;
	Sctag__V1__Reply *rep;
	uint64_t v = 0;
	size_t i;
	int found = 0;

	rep = call(&c, simple_req(&s, SCTAG__V1__REQUEST__CALL_GET_STATUS));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	for (i = 0; i < rep->get_status->n_counters; i++)
		if (strcmp(rep->get_status->counters[i]->name, name) == 0) {
			v = rep->get_status->counters[i]->value;
			found = 1;
		}
	wire_reply_free(rep);
	cr_assert(found, "GetStatus has no counter %s", name);
	return v;
}

#define BURST_CONNS	4
#define BURST_PER	16	/* the per-connection in-flight limit */
#define BURST		(BURST_CONNS * BURST_PER)

/*
 * Starts and ends sent all at once, signed, from several connections: the
 * agent runs them in groups that share one privileged exchange. Whatever
 * the order they run in, each gets the answer it would get alone, and the
 * table and the kernel map agree afterwards: 16 new flows (each started
 * twice: one match never shares a group), 16 flows ended by spec, 16 ends
 * of flows that never were, and 16 ends of root's flows that the
 * orchestrator may not end (planned deletes are checked like the table's).
 */
Test(api, concurrent_starts_and_ends_are_grouped, .timeout = 120)
{
	static struct start_req pre[32], st[BURST];
	static struct simple_req en[BURST];
	static struct inflight_req q[BURST];
	struct client root = ipc(), orch = ipc();
	Sctag__V1__Request *r[BURST];
	Sctag__V1__Reply *rep, *reps[BURST];
	uint64_t root_ids[16], groups0, grouped0, groups, grouped;
	nng_socket s[BURST_CONNS];
	int i, kind, ok = 0;

	api_up();
	orch.key = k_orch;
	/* Before: 16 flows of the orchestrator's, 16 of root's. */
	for (i = 0; i < 16; i++) {
		rep = call(&orch, start_req(&pre[i], 21000 + i, "cms", "14"));
		cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s",
		    rep->message);
		wire_reply_free(rep);
		rep = call(&root, start_req(&pre[16 + i], 24000 + i, "cms",
		    "14"));
		cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s",
		    rep->message);
		root_ids[i] = rep->start_flow->flow->id;
		wire_reply_free(rep);
	}
	cr_assert_eq(kernel_rules(), 32);
	groups0 = status_counter("api_call_groups");
	grouped0 = status_counter("api_grouped_calls");

	/* Request i is of kind i % 4, for flow i / 4 (0..15). */
	for (i = 0; i < BURST; i++) {
		kind = i % 4;
		if (kind == 0 || kind == 1) {
			r[i] = start_req(&st[i], 22000 + i / 4, "atlas", "4");
			continue;
		}
		r[i] = simple_req(&en[i], SCTAG__V1__REQUEST__CALL_END_FLOW);
		if (kind == 3) {
			en[i].ef.which_case =
			    SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
			en[i].ef.id = root_ids[i / 4];
			continue;
		}
		/* kind 2: by spec, one of the orchestrator's or none. */
		start_req(&st[i], (i / 4) % 2 ? 21000 + i / 4 : 23000 + i / 4,
		    "cms", "14");
		en[i].ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
		en[i].ef.spec = &st[i].spec;
	}
	for (i = 0; i < BURST_CONNS; i++) {
		cr_assert_eq(nng_req0_open(&s[i]), 0);
		nng_socket_set_ms(s[i], NNG_OPT_REQ_RESENDTIME,
		    NNG_DURATION_INFINITE);
		cr_assert_eq(nng_dial(s[i], ipc_url, NULL, 0), 0);
	}
	for (i = 0; i < BURST; i++) {
		cr_assert_eq(wire_request_build(r[i], k_orch, &q[i].buf,
		    &q[i].len), 0);
		cr_assert_eq(nng_ctx_open(&q[i].ctx, s[i % BURST_CONNS]), 0);
		cr_assert_eq(nng_aio_alloc(&q[i].aio, NULL, NULL), 0);
		nng_aio_set_timeout(q[i].aio, 20000);
	}
	inflight_run(q, BURST, reps);
	for (i = 0; i < BURST; i++) {
		rep = reps[i];
		kind = i % 4;
		if (kind == 0 || kind == 1 || (kind == 2 && (i / 4) % 2)) {
			cr_assert_eq(rep->code, SCTAG__V1__CODE__OK,
			    "request %d: %s", i, rep->message);
			ok++;
		} else if (kind == 2)
			cr_assert_eq(rep->code, SCTAG__V1__CODE__NOT_FOUND,
			    "request %d: %s %s", i,
			    wire_code_name(rep->code), rep->message);
		else
			cr_assert_eq(rep->code,
			    SCTAG__V1__CODE__PERMISSION_DENIED,
			    "request %d: %s %s", i,
			    wire_code_name(rep->code), rep->message);
		wire_reply_free(rep);
	}
	for (i = 0; i < BURST_CONNS; i++)
		nng_close(s[i]);
	cr_assert_eq(ok, 40);

	/* 16 new, 8 of the orchestrator's left, root's 16 untouched. */
	cr_assert_eq(table_total(), 40);
	cr_assert_eq(kernel_rules(), 40, "the kernel map and the table "
	    "disagree");
	for (i = 0; i < 16; i++) {
		udp_marked((uint16_t)(22000 + i), 2, 4, 1);
		udp_marked((uint16_t)(24000 + i), 3, 14, 1);
		if (i % 2)
			udp_marked((uint16_t)(21000 + i), 0, 0, 0);
	}
	groups = status_counter("api_call_groups") - groups0;
	grouped = status_counter("api_grouped_calls") - grouped0;
	cr_assert_geq(grouped, BURST, "%llu calls in groups",
	    (unsigned long long)grouped);
	cr_assert_lt(groups, grouped, "no group had two calls (%llu groups "
	    "for %llu calls)", (unsigned long long)groups,
	    (unsigned long long)grouped);
	cr_log_info("%llu starts and ends ran in %llu groups",
	    (unsigned long long)grouped, (unsigned long long)groups);
	api_down();
}

/* --- fireflies --------------------------------------------------------- */

/* A UDP socket bound in B, to receive fireflies. */
static int
ff_listen(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	socklen_t len;
	int fd, saved;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else {
		cr_assert_eq(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	}
	cr_assert_eq(nt_ns_enter(nt.ns_b, &saved), 0);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s:%u: "
	    "%s", addr, port, strerror(errno));
	cr_assert_eq(nt_ns_leave(saved), 0);
	return fd;
}

/* The next datagram within ms, or 0 bytes. */
static size_t
ff_recv(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(fd, buf, len - 1, 0);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* An RFC 3339 date-time as the schema wants it; its Unix seconds. */
static double
ff_time(json_t *v, const char *what)
{
	struct tm tm;
	const char *s, *p;
	double frac = 0;

	cr_assert(json_is_string(v), "%s is not a string", what);
	s = json_string_value(v);
	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	cr_assert_not_null(p, "%s: '%s' is not a date-time", what, s);
	if (*p == '.') {
		frac = strtod(p, (char **)&p);
		cr_assert_gt(frac, 0.0 - 1e-9);
	}
	cr_assert(strcmp(p, "+00:00") == 0 || strcmp(p, "Z") == 0,
	    "%s: '%s' is not UTC", what, s);
	return (double)timegm(&tm) + frac;
}

/* Only these keys in o. */
static void
ff_keys_only(json_t *o, const char *what, const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;
	int ok;

	json_object_foreach(o, key, v) {
		for (ok = 0, i = 0; allowed[i] && !ok; i++)
			ok = strcmp(key, allowed[i]) == 0;
		cr_assert(ok, "%s has the key '%s', which the schema forbids",
		    what, key);
	}
}

struct ff_want {
	const char	*state;
	const char	*afi, *src, *dst;
	int		 sport, dport, exp, act;
	const char	*app;
	const char	*proto;		/* NULL: "udp" */
};

/*
 * One firefly, checked field by field against schema v1 (notes §4) and
 * what the flow was. Its start-time, in Unix seconds.
 */
static double
ff_check(const char *dgram, const struct ff_want *w)
{
	static const char *const top[] = { "version", "flow-lifecycle",
	    "flow-id", "context", "usage", "netlink", NULL };
	static const char *const lc[] = { "state", "start-time", "end-time",
	    "current-time", NULL };
	static const char *const fid[] = { "afi", "src-ip", "dst-ip",
	    "protocol", "src-port", "dst-port", NULL };
	static const char *const ctx[] = { "experiment-id", "activity-id",
	    "application", NULL };
	char hdr_time[64], hdr_host[256], hdr_app[64];
	const char *json = strchr(dgram, '{');
	json_error_t je;
	json_t *root, *l, *f, *c;
	uint8_t a[16];
	double start, now;
	int n;

	cr_assert_not_null(json, "no JSON in '%s'", dgram);
	/* <134>1 TIME HOST APP - firefly-json - {...} */
	n = sscanf(dgram, "<134>1 %63s %255s %63s - firefly-json - {",
	    hdr_time, hdr_host, hdr_app);
	cr_assert_eq(n, 3, "not an RFC 5424 firefly header: '%.80s'", dgram);
	cr_assert_str_eq(hdr_host, HOST);
	cr_assert_str_eq(hdr_app, "sctagd");
	root = json_string(hdr_time);
	now = ff_time(root, "the syslog timestamp");
	json_decref(root);
	cr_assert_not_null(root = json_loads(json, JSON_REJECT_DUPLICATES,
	    &je), "bad JSON: %s in '%s'", je.text, json);
	ff_keys_only(root, "the firefly", top);
	cr_assert(json_is_integer(json_object_get(root, "version")));
	cr_assert_eq(json_integer_value(json_object_get(root, "version")), 1);

	cr_assert(json_is_object(l = json_object_get(root, "flow-lifecycle")));
	ff_keys_only(l, "flow-lifecycle", lc);
	cr_assert_str_eq(json_string_value(json_object_get(l, "state")),
	    w->state);
	start = ff_time(json_object_get(l, "start-time"), "start-time");
	(void)ff_time(json_object_get(l, "current-time"), "current-time");
	if (strcmp(w->state, "end") == 0)
		cr_assert_geq(ff_time(json_object_get(l, "end-time"),
		    "end-time"), start);
	else
		cr_assert_null(json_object_get(l, "end-time"),
		    "end-time in a %s firefly", w->state);
	cr_assert(now - start > -1 && now - start < 60, "start-time %.3f, "
	    "sent %.3f", start, now);

	cr_assert(json_is_object(f = json_object_get(root, "flow-id")));
	ff_keys_only(f, "flow-id", fid);
	cr_assert_str_eq(json_string_value(json_object_get(f, "afi")), w->afi);
	cr_assert_str_eq(json_string_value(json_object_get(f, "src-ip")),
	    w->src);
	cr_assert_str_eq(json_string_value(json_object_get(f, "dst-ip")),
	    w->dst);
	/* afi and addresses agree */
	cr_assert_eq(inet_pton(strcmp(w->afi, "ipv6") == 0 ? AF_INET6 :
	    AF_INET, json_string_value(json_object_get(f, "src-ip")), a), 1);
	cr_assert_str_eq(json_string_value(json_object_get(f, "protocol")),
	    w->proto ? w->proto : "udp");
	cr_assert(json_is_integer(json_object_get(f, "src-port")));
	cr_assert(json_is_integer(json_object_get(f, "dst-port")));
	cr_assert_eq(json_integer_value(json_object_get(f, "src-port")),
	    w->sport);
	cr_assert_eq(json_integer_value(json_object_get(f, "dst-port")),
	    w->dport);

	cr_assert(json_is_object(c = json_object_get(root, "context")));
	ff_keys_only(c, "context", ctx);
	cr_assert(json_is_integer(json_object_get(c, "experiment-id")));
	cr_assert(json_is_integer(json_object_get(c, "activity-id")));
	cr_assert_eq(json_integer_value(json_object_get(c, "experiment-id")),
	    w->exp);
	cr_assert_eq(json_integer_value(json_object_get(c, "activity-id")),
	    w->act);
	if (w->app)
		cr_assert_str_eq(json_string_value(json_object_get(c,
		    "application")), w->app);
	json_decref(root);
	return start;
}

/*
 * StartFlow and EndFlow send one firefly each to both collectors (one
 * over IPv6, one over IPv4) and to the flow's remote peer on 10514; an
 * IPv4 flow gets its fireflies too (to its peer over IPv4); a wildcard
 * rule gets none. Every datagram is checked field by field.
 */
Test(api, fireflies_for_start_and_end, .timeout = 120)
{
	static char buf[2048];
	struct client c;
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;
	struct ff_want w = { "start", "ipv6", NT_ADDR_A, NT_ADDR_B, 4300, 5000,
	    3, 14, "fts", NULL };
	int peer6, coll6, coll4, peer4, fds[3], i;
	double start = 0, t;
	uint64_t id;

	api_up();
	c = ipc();
	peer6 = ff_listen(NT_ADDR_B, FF_PEER);
	coll6 = ff_listen(NT_ADDR_B, FF_COLL6);
	coll4 = ff_listen(V4_B, FF_COLL4);
	peer4 = ff_listen(V4_B, FF_PEER);
	fds[0] = peer6;
	fds[1] = coll6;
	fds[2] = coll4;

	start_req(&st, 4300, "cms", "14");
	st.spec.application = (char *)"fts";
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	for (i = 0; i < 3; i++) {
		cr_assert_gt(ff_recv(fds[i], buf, sizeof(buf), 3000), 0,
		    "no start firefly at destination %d", i);
		start = ff_check(buf, &w);
	}
	/* A repeated start is the same flow: no second firefly. */
	start_req(&st, 4300, "cms", "14");
	expect_code(call(&c, &st.r), SCTAG__V1__CODE__OK, NULL);
	cr_assert_eq(ff_recv(peer6, buf, sizeof(buf), 300), 0,
	    "a repeated start sent a firefly: %s", buf);

	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	expect_code(call(&c, &s.r), SCTAG__V1__CODE__OK, NULL);
	w.state = "end";
	for (i = 0; i < 3; i++) {
		cr_assert_gt(ff_recv(fds[i], buf, sizeof(buf), 3000), 0,
		    "no end firefly at destination %d", i);
		t = ff_check(buf, &w) - start;
		cr_assert(t > -0.002 && t < 0.002,
		    "the end firefly has another start-time");
	}

	/* IPv4: not markable, announced all the same. */
	start_req(&st, 4301, "atlas", "4");
	st.spec.src = (char *)V4_A;
	st.spec.dst = (char *)V4_B;
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(!rep->start_flow->flow->markable);
	wire_reply_free(rep);
	w = (struct ff_want){ "start", "ipv4", V4_A, V4_B, 4301, 5000, 2, 4,
	    NULL, NULL };
	cr_assert_gt(ff_recv(peer4, buf, sizeof(buf), 3000), 0,
	    "no firefly to the IPv4 peer");
	ff_check(buf, &w);
	for (i = 1; i < 3; i++) {
		cr_assert_gt(ff_recv(fds[i], buf, sizeof(buf), 3000), 0);
		ff_check(buf, &w);
	}

	/* A wildcard (any remote port): no firefly of its own. */
	start_req(&st, 4302, "cms", "14");
	st.spec.dst_port = 0;
	expect_code(call(&c, &st.r), SCTAG__V1__CODE__OK, NULL);
	cr_assert_eq(ff_recv(coll6, buf, sizeof(buf), 500), 0,
	    "a wildcard rule sent a firefly: %s", buf);

	/* 3 + 3 + 3 datagrams went out; none failed. */
	cr_assert_eq(status_counter("fireflies_sent"), 9);
	cr_assert_eq(status_counter("fireflies_send_errors"), 0);
	close(peer6);
	close(coll6);
	close(coll4);
	close(peer4);
	api_down();
}

/* Send one datagram to the agent's firefly listener, from inside A. */
static void
ff_send_to_agent(const char *addr, const void *buf, size_t len)
{
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
	    .sin6_port = htons(FF_PEER) };
	struct sockaddr_in s4 = { .sin_family = AF_INET,
	    .sin_port = htons(FF_PEER) };
	int fd, saved, v6 = strchr(addr, ':') != NULL;
	ssize_t n;

	cr_assert_eq(nt_ns_enter(nt.ns_a, &saved), 0);
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(nt_ns_leave(saved), 0);
	cr_assert_geq(fd, 0);
	if (v6) {
		cr_assert_eq(inet_pton(AF_INET6, addr, &s6.sin6_addr), 1);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&s6,
		    sizeof(s6));
	} else {
		cr_assert_eq(inet_pton(AF_INET, addr, &s4.sin_addr), 1);
		n = sendto(fd, buf, len, 0, (struct sockaddr *)&s4,
		    sizeof(s4));
	}
	cr_assert_eq(n, (ssize_t)len, "sendto: %s", strerror(errno));
	close(fd);
}

/* Wait (bounded) until the counter reaches want; its value. */
static uint64_t
counter_wait(const char *name, uint64_t want)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 50 && (v = status_counter(name)) < want; i++)
		nt_sleep_ms(100);
	return v;
}

/* The XRootD end firefly of notes §4, its addresses made the test's. */
static int
xrootd_ff(char *buf, size_t len, const char *state, const char *proto,
    const char *src, int sport, const char *dst, int dport)
{
	return snprintf(buf, len, "<134>1 - xrootd-server.example.org xrootd "
	    "- firefly-json - {\"version\":1,\"flow-lifecycle\":{\"state\":"
	    "\"%s\",\"current-time\":\"2024-10-18T08:48:24.230146+00:00\","
	    "\"start-time\":\"2024-10-18T08:48:24.201540+00:00\",\"end-time\":"
	    "\"2024-10-18T08:48:24.230146+00:00\"},\"usage\":{\"received\":813,"
	    "\"sent\":10507049},\"netlink\":{\"rtt\":0.053},\"context\":"
	    "{\"experiment-id\":2,\"activity-id\":16,\"application\":"
	    "\"http-put\"},\"flow-id\":{\"afi\":\"ipv6\",\"src-ip\":\"%s\","
	    "\"dst-ip\":\"%s\",\"protocol\":\"%s\",\"src-port\":%d,"
	    "\"dst-port\":%d}}", state, src, dst, proto, sport, dport);
}

/*
 * The listener: XRootD's firefly (this host in src) and a dCache-like one
 * (this host in dst) start flows whose packets are marked, and their ends
 * end them; garbage, truncated JSON, wrong types, a 64 KiB datagram and a
 * firefly about other hosts are counted and change nothing.
 */
Test(api, firefly_listener_drives_marking, .timeout = 120)
{
	static char buf[65536];
	const char *bad[] = {
		"hello",
		"<134>1 - h xrootd - firefly-json - {\"version\":1,\"flow-li",
		"{\"version\":1,\"flow-lifecycle\":{\"state\":\"start\","
		    "\"start-time\":\"2024-10-18T08:48:24Z\"},\"context\":"
		    "{\"experiment-id\":\"2\",\"activity-id\":16},\"flow-id\":"
		    "{\"afi\":\"ipv6\",\"src-ip\":\"" NT_ADDR_A "\",\"dst-ip\":"
		    "\"" NT_ADDR_B "\",\"protocol\":\"udp\",\"src-port\":4400,"
		    "\"dst-port\":5000}}",
	};
	uint64_t received, before_drops;
	size_t i;
	int len;

	api_up();
	/* XRootD: this host (A) sends the data, so it is in src. */
	len = xrootd_ff(buf, sizeof(buf), "start", "tcp", NT_ADDR_A, 2001,
	    NT_ADDR_B, 49378);
	ff_send_to_agent("::1", buf, (size_t)len);
	cr_assert_eq(counter_wait("fireflies_accepted", 1), 1);
	cr_assert_eq(table_total(), 1);
	cr_assert_eq(kernel_rules(), 1);
	/* dCache: the remote client in src, this host (A) in dst; UDP so
	 * that its packets can be checked on the wire. */
	len = xrootd_ff(buf, sizeof(buf), "start", "udp", NT_ADDR_B, 5000,
	    NT_ADDR_A, 4400);
	ff_send_to_agent("127.0.0.1", buf, (size_t)len);
	cr_assert_eq(counter_wait("fireflies_accepted", 2), 2);
	cr_assert_eq(kernel_rules(), 2);
	udp_marked(4400, 2, 16, 1);

	/* Hostile datagrams: counted, nothing changes. */
	before_drops = status_counter("fireflies_received");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ff_send_to_agent("::1", bad[i], strlen(bad[i]));
	memset(buf, '{', 65000);
	ff_send_to_agent("::1", buf, 65000);
	len = xrootd_ff(buf, sizeof(buf), "start", "udp", "2001:db8::99",
	    5000, "2001:db8::98", 4401);
	ff_send_to_agent("::1", buf, (size_t)len);
	received = counter_wait("fireflies_received", before_drops + 5);
	cr_assert_eq(received, before_drops + 5);
	cr_assert_eq(status_counter("fireflies_accepted"), 2);
	cr_assert_eq(status_counter("fireflies_dropped_syslog") +
	    status_counter("fireflies_dropped_json"), 2,
	    "garbage and truncated JSON");
	cr_assert_eq(status_counter("fireflies_dropped_type"), 1);
	cr_assert_eq(status_counter("fireflies_dropped_size"), 1);
	cr_assert_eq(status_counter("fireflies_dropped_not_local"), 1);
	cr_assert_eq(table_total(), 2);
	cr_assert_eq(kernel_rules(), 2);

	/* The ends. */
	len = xrootd_ff(buf, sizeof(buf), "end", "udp", NT_ADDR_B, 5000,
	    NT_ADDR_A, 4400);
	ff_send_to_agent("::1", buf, (size_t)len);
	len = xrootd_ff(buf, sizeof(buf), "end", "tcp", NT_ADDR_A, 2001,
	    NT_ADDR_B, 49378);
	ff_send_to_agent("::1", buf, (size_t)len);
	cr_assert_eq(counter_wait("fireflies_accepted", 4), 4);
	cr_assert_eq(table_total(), 0);
	cr_assert_eq(kernel_rules(), 0);
	udp_marked(4400, 2, 16, 0);
	api_down();
}

/*
 * The connection of an exact TCP flow closes: the flow ends within a
 * second (sock_diag's destroy notice), its rule is gone, and the end
 * firefly says how much was sent.
 */
Test(api, closing_the_connection_ends_its_flow, .timeout = 120)
{
	static char buf[2048];
	const uint64_t bytes = 1 << 20;
	struct tr_flow fl = { NT_ADDR_A, 4500, NT_ADDR_B, 6000, -1 };
	struct ff_want w = { "start", "ipv6", NT_ADDR_A, NT_ADDR_B, 4500, 6000,
	    3, 14, NULL, "tcp" };
	struct tr_tcp_rx rx;
	struct start_req st;
	struct client c;
	Sctag__V1__Reply *rep;
	json_error_t je;
	json_t *root, *u;
	uint8_t sha[TR_SHA_LEN];
	char err[256];
	long long t0;
	int coll;

	api_up();
	c = ipc();
	coll = ff_listen(NT_ADDR_B, FF_COLL6);
	start_req(&st, 4500, "cms", "14");
	st.spec.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	st.spec.dst_port = 6000;
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	wire_reply_free(rep);
	cr_assert_gt(ff_recv(coll, buf, sizeof(buf), 3000), 0);
	ff_check(buf, &w);
	cr_assert_eq(kernel_rules(), 1);

	cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, NT_ADDR_B, 6000, 10000,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_send(nt.ns_a, &fl, bytes, 7, 10000, sha, err,
	    sizeof(err)), 0, "%s", err);
	t0 = nt_now_ms();
	cr_assert_eq(tr_tcp_rx_wait(&rx, 10000), 0);
	cr_assert_eq(rx.bytes, bytes);

	/* Sent and closed: the end firefly within a second. */
	cr_assert_gt(ff_recv(coll, buf, sizeof(buf), 1000), 0,
	    "no end firefly within a second of the close");
	cr_log_info("end firefly %lld ms after the close",
	    nt_now_ms() - t0);
	w.state = "end";
	ff_check(buf, &w);
	cr_assert_not_null(root = json_loads(strchr(buf, '{'), 0, &je));
	cr_assert(json_is_object(u = json_object_get(root, "usage")),
	    "the end firefly has no usage: %s", buf);
	cr_assert(json_is_integer(json_object_get(u, "sent")));
	cr_assert(json_is_integer(json_object_get(u, "received")));
	cr_assert_geq(json_integer_value(json_object_get(u, "sent")),
	    (json_int_t)bytes, "usage.sent %lld < %llu sent",
	    (long long)json_integer_value(json_object_get(u, "sent")),
	    (unsigned long long)bytes);
	cr_assert(json_is_object(json_object_get(root, "netlink")));
	json_decref(root);
	cr_assert_eq(table_total(), 0);
	cr_assert_eq(kernel_rules(), 0);
	close(coll);
	api_down();
}

/* --- connections: per-connection rules, ongoing fireflies -------------- */

/* A TCP listener on B's address. */
static int
tcp_listen_b(uint16_t port)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
	    .sin6_port = htons(port) };
	int fd, one = 1, saved;

	cr_assert_eq(inet_pton(AF_INET6, NT_ADDR_B, &sa.sin6_addr), 1);
	cr_assert_eq(nt_ns_enter(nt.ns_b, &saved), 0);
	cr_assert_geq(fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
	    "bind: %s", strerror(errno));
	cr_assert_eq(listen(fd, 16), 0);
	cr_assert_eq(nt_ns_leave(saved), 0);
	return fd;
}

/* A connection from A's address and sport to B's dport; *b: B's end. */
static int
tcp_connect_a(uint16_t sport, uint16_t dport, int lfd, int *b)
{
	struct sockaddr_in6 src = { .sin6_family = AF_INET6,
	    .sin6_port = htons(sport) };
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6,
	    .sin6_port = htons(dport) };
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	int fd, saved;

	cr_assert_eq(inet_pton(AF_INET6, NT_ADDR_A, &src.sin6_addr), 1);
	cr_assert_eq(inet_pton(AF_INET6, NT_ADDR_B, &dst.sin6_addr), 1);
	cr_assert_eq(nt_ns_enter(nt.ns_a, &saved), 0);
	cr_assert_geq(fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0,
	    "bind port %u: %s", sport, strerror(errno));
	cr_assert_eq(connect(fd, (struct sockaddr *)&dst, sizeof(dst)), 0,
	    "connect: %s", strerror(errno));
	cr_assert_eq(nt_ns_leave(saved), 0);
	cr_assert_eq(poll(&p, 1, 3000), 1);
	cr_assert_geq(*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), 0);
	return fd;
}

/* n bytes from a to b (b reads them all). */
static void
tcp_move(int a, int b, size_t n)
{
	static char chunk[65536];
	size_t sent = 0, got = 0;
	ssize_t k;

	while (got < n) {
		if (sent < n) {
			k = send(a, chunk, n - sent < sizeof(chunk) ?
			    n - sent : sizeof(chunk), MSG_DONTWAIT);
			cr_assert(k > 0 || errno == EAGAIN, "send: %s",
			    strerror(errno));
			sent += k > 0 ? (size_t)k : 0;
		}
		k = recv(b, chunk, sizeof(chunk), sent < n ? MSG_DONTWAIT : 0);
		cr_assert(k > 0 || errno == EAGAIN, "recv: %s",
		    strerror(errno));
		got += k > 0 ? (size_t)k : 0;
	}
}

/*
 * The next firefly in state about src-port sport within ms (others are
 * checked against the schema and skipped); 0 when none came.
 */
static size_t
ff_wait(int fd, const char *state, int sport, int ms, char *buf,
    size_t len)
{
	long long end = nt_now_ms() + ms;
	json_error_t je;
	json_t *j;
	int k, match;

	for (k = 0; k < 100 && nt_now_ms() < end; k++) {
		if (ff_recv(fd, buf, len, (int)(end - nt_now_ms())) == 0)
			return 0;
		cr_assert_not_null(j = json_loads(strchr(buf, '{'), 0, &je),
		    "%s", buf);
		match = strcmp(json_string_value(json_object_get(
		    json_object_get(j, "flow-lifecycle"), "state")),
		    state) == 0 && json_integer_value(json_object_get(
		    json_object_get(j, "flow-id"), "src-port")) == sport;
		json_decref(j);
		if (match)
			return strlen(buf);
	}
	return 0;
}

/* usage.sent of a firefly, or -1 without usage; netlink must come too. */
static long long
ff_sent(const char *buf)
{
	json_error_t je;
	json_t *j, *u;
	long long v = -1;

	cr_assert_not_null(j = json_loads(strchr(buf, '{'), 0, &je));
	if ((u = json_object_get(j, "usage")) != NULL) {
		cr_assert(json_is_integer(json_object_get(u, "sent")));
		cr_assert(json_is_integer(json_object_get(u, "received")));
		cr_assert(json_is_object(json_object_get(j, "netlink")),
		    "usage without netlink: %s", buf);
		cr_assert(json_is_number(json_object_get(json_object_get(j,
		    "netlink"), "rtt")), "netlink without rtt: %s", buf);
		v = (long long)json_integer_value(json_object_get(u, "sent"));
	}
	json_decref(j);
	return v;
}

/*
 * A wildcard rule with per_connection: each TCP connection it matches
 * gets a start firefly of its own (its real ports), ongoing ones with its
 * counts (fireflies.interval), and an end when it closes or the rule
 * ends. An exact flow whose connection exists gets its counts in its
 * start firefly, and ongoing ones. per_connection on a udp rule or an
 * exact flow is refused, and changes nothing.
 */
Test(api, wildcard_rules_announce_each_connection, .timeout = 120)
{
	static char buf[2048];
	struct ff_want w = { "start", "ipv6", NT_ADDR_A, NT_ADDR_B, 4600, 6100,
	    3, 14, "xrootd", "tcp" };
	struct start_req st;
	struct simple_req s;
	struct client c;
	Sctag__V1__Reply *rep;
	int lfd, a[4], b[4], coll, i;
	uint64_t id;

	ff_extra = ", \"interval\": 1, \"scan_every\": 1";
	api_up();
	c = ipc();
	coll = ff_listen(NT_ADDR_B, FF_COLL6);
	lfd = tcp_listen_b(6100);

	/* Refused, nothing changed. */
	start_req(&st, 0, "cms", "14");
	st.spec.per_connection = 1;
	expect_code(call(&c, &st.r), SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "per_connection: connections are found among this host's TCP "
	    "sockets; a udp rule has none");
	start_req(&st, 4699, "cms", "14");
	st.spec.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	st.spec.dst_port = 6100;
	st.spec.per_connection = 1;
	expect_code(call(&c, &st.r), SCTAG__V1__CODE__INVALID_ARGUMENT,
	    "per_connection: this flow is one connection");
	cr_assert_eq(table_total(), 0);
	cr_assert_eq(kernel_rules(), 0);

	/* Any local port to B:6100, each connection announced. */
	start_req(&st, 0, "cms", "14");
	st.spec.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	st.spec.dst_port = 6100;
	st.spec.application = (char *)"xrootd";
	st.spec.per_connection = 1;
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	cr_assert(rep->start_flow->flow->spec->per_connection);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	cr_assert_eq(ff_recv(coll, buf, sizeof(buf), 300), 0,
	    "the rule itself sent a firefly: %s", buf);

	a[0] = tcp_connect_a(4600, 6100, lfd, &b[0]);
	a[1] = tcp_connect_a(4601, 6100, lfd, &b[1]);
	for (i = 0; i < 2; i++) {
		cr_assert_gt(ff_wait(coll, "start", 4600 + i, 3000, buf,
		    sizeof(buf)), 0, "no start firefly for connection %d", i);
		w.sport = 4600 + i;
		ff_check(buf, &w);
	}

	/* Its counts, every second. */
	tcp_move(a[0], b[0], 256 << 10);
	w.state = "ongoing";
	w.sport = 4600;
	for (i = 0; i < 5; i++) {
		cr_assert_gt(ff_wait(coll, "ongoing", 4600, 3000, buf,
		    sizeof(buf)), 0, "no ongoing firefly");
		ff_check(buf, &w);
		if (ff_sent(buf) >= 256 << 10)
			break;
	}
	cr_assert_lt(i, 5, "no ongoing firefly counts the 256 KiB sent");

	/* Closed: its end, with the final counts. */
	close(a[0]);
	close(b[0]);
	cr_assert_gt(ff_wait(coll, "end", 4600, 3000, buf, sizeof(buf)), 0,
	    "no end firefly for the closed connection");
	w.state = "end";
	ff_check(buf, &w);
	cr_assert_geq(ff_sent(buf), 256 << 10);

	/* An exact flow of a live connection: counts from its start. */
	a[2] = tcp_connect_a(4602, 6100, lfd, &b[2]);
	tcp_move(a[2], b[2], 64 << 10);
	start_req(&st, 4602, "atlas", "4");
	st.spec.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	st.spec.dst_port = 6100;
	expect_code(call(&c, &st.r), SCTAG__V1__CODE__OK, NULL);
	w = (struct ff_want){ "start", "ipv6", NT_ADDR_A, NT_ADDR_B, 4602,
	    6100, 2, 4, NULL, "tcp" };
	cr_assert_gt(ff_wait(coll, "start", 4602, 3000, buf, sizeof(buf)),
	    0, "no start firefly for the exact flow");
	ff_check(buf, &w);
	cr_assert_geq(ff_sent(buf), 64 << 10, "the start firefly has no "
	    "counts: %s", buf);
	w.state = "ongoing";
	cr_assert_gt(ff_wait(coll, "ongoing", 4602, 3000, buf, sizeof(buf)),
	    0, "no ongoing firefly for the exact flow");
	ff_check(buf, &w);

	/* The rule ends: so do its connections' announcements. */
	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	expect_code(call(&c, &s.r), SCTAG__V1__CODE__OK, NULL);
	cr_assert_gt(ff_wait(coll, "end", 4601, 3000, buf, sizeof(buf)), 0,
	    "no end firefly for the live connection of the ended rule");
	w = (struct ff_want){ "end", "ipv6", NT_ADDR_A, NT_ADDR_B, 4601, 6100,
	    3, 14, "xrootd", "tcp" };
	ff_check(buf, &w);
	cr_assert_eq(status_counter("connections_announced"), 2);
	cr_assert_eq(status_counter("connections_tracked"), 0);
	cr_assert_eq(status_counter("connection_rules"), 0);
	cr_assert_eq(status_counter("connection_scan_errors"), 0);
	cr_assert_geq(status_counter("fireflies_ongoing"), 2);
	close(a[1]);
	close(b[1]);
	close(a[2]);
	close(b[2]);
	close(lfd);
	close(coll);
	api_down();
}

/*
 * NNG bug #1518 on the events socket too: after peers that connect and
 * close at once, `sctagctl watch` over ipc still gets its events (the
 * listener is recreated when its probe fails, within two probe periods).
 */
Test(api, events_listener_survives_a_connect_and_close, .timeout = 120)
{
	static char out[8192];
	const char *args[10];
	char events[700];
	struct sockaddr_un sa;
	struct watcher w;
	struct client c;
	struct start_req st;
	Sctag__V1__Reply *rep;
	json_t *ev[1];
	uint64_t id;
	int fd, i, n = 0, status;

	api_up();
	c = ipc();
	snprintf(events, sizeof(events), "ipc://%s/api/events.sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	cr_assert_lt(strlen(events + 6), sizeof(sa.sun_path));
	memcpy(sa.sun_path, events + 6, strlen(events + 6) + 1);
	for (i = 0; i < 3; i++) {
		cr_assert_geq(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
		cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
		    0, "%s: %s", sa.sun_path, strerror(errno));
		close(fd);
	}
	/* Two probe periods and a little: the listener is back by then. */
	nt_sleep_ms(2 * 10000 + 2000);
	args[n++] = "--events";
	args[n++] = events;
	n = watch_args(args, n, "1");
	cr_assert_eq(watch_start(&w, 0, args, &status), 0, "status %d: %s",
	    status, w.log);
	nt_sleep_ms(500);
	rep = call(&c, start_req(&st, 4700, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	watch_end(&w, out, sizeof(out));
	watch_events(out, ev, 1);
	event_is(ev, 0, "EVENT_FLOW_STARTED", id);
	json_decref(ev[0]);
	api_down();
}

/*
 * `sctagctl watch` sees a flow start and end, in that order, with
 * consecutive sequence numbers, and an expiry as such.
 */
Test(api, sctagctl_watch_sees_start_and_end_in_order, .timeout = 120)
{
	static char out[8192];
	const char *args[10];
	char events[700];
	struct watcher w;
	struct client c;
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;
	json_t *ev[4];
	uint64_t id, id2;
	int i, n = 0, status;

	api_up();
	c = ipc();
	snprintf(events, sizeof(events), "ipc://%s/api/events.sock", dir);
	args[n++] = "--events";
	args[n++] = events;
	n = watch_args(args, n, "4");
	cr_assert_eq(watch_start(&w, 0, args, &status), 0, "status %d: %s",
	    status, w.log);
	nt_sleep_ms(200);

	rep = call(&c, start_req(&st, 4600, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	expect_code(call(&c, &s.r), SCTAG__V1__CODE__OK, NULL);
	start_req(&st, 4601, "cms", "14");
	st.spec.ttl_seconds = 1;
	rep = call(&c, &st.r);
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id2 = rep->start_flow->flow->id;
	wire_reply_free(rep);

	/* Four lines: started, ended, started, expired (bounded wait). */
	watch_end(&w, out, sizeof(out));
	watch_events(out, ev, 4);
	event_is(ev, 0, "EVENT_FLOW_STARTED", id);
	event_is(ev, 1, "EVENT_FLOW_ENDED", id);
	event_is(ev, 2, "EVENT_FLOW_STARTED", id2);
	event_is(ev, 3, "EVENT_FLOW_EXPIRED", id2);
	for (i = 0; i < 4; i++)
		json_decref(ev[i]);
	api_down();
}

/* Start a flow over TLS as the orchestrator and end it: its id. */
static uint64_t
tls_start_end(uint32_t sport)
{
	struct client c = tls(k_orch);
	struct start_req st;
	struct simple_req s;
	Sctag__V1__Reply *rep;
	uint64_t id;

	rep = call(&c, start_req(&st, sport, "cms", "14"));
	cr_assert_eq(rep->code, SCTAG__V1__CODE__OK, "%s", rep->message);
	id = rep->start_flow->flow->id;
	wire_reply_free(rep);
	simple_req(&s, SCTAG__V1__REQUEST__CALL_END_FLOW);
	s.ef.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	s.ef.id = id;
	expect_code(call(&c, &s.r), SCTAG__V1__CODE__OK, NULL);
	return id;
}

/*
 * api.events_tls with a CA of its own: a dashboard's certificate from it
 * watches from another host, and sees what the ipc watcher sees, with the
 * same sequence numbers (one pub socket). A certificate the API takes
 * (another CA) gets no connection, nor does a client without one; the
 * dashboard's watch goes on.
 */
Test(api, events_tls_takes_only_the_events_ca, .timeout = 120)
{
	static char out_tls[8192], out_ipc[8192], log[8192];
	const char *wt[16], *wi[10], *wb[16];
	char extra[1024], events[700], err[512];
	struct watcher w_tls, w_ipc, w_bad;
	json_t *et[2], *ei[2];
	uint64_t id;
	int i, n, status;

	dash_ca_make();
	snprintf(extra, sizeof(extra), ", \"events_tls\": {\"listen\": "
	    "\"%s\", \"ca\": \"%s\"}", EVENTS_TLS_URL, dash_ca);
	api_up_with(extra, 1);
	nt_daemon_log(&daemon_, log, sizeof(log));
	cr_assert_not_null(strstr(log, "events: ipc://"), "%s", log);
	cr_assert_not_null(strstr(log, EVENTS_TLS_URL " (role watch)"), "%s",
	    log);

	/* The dashboard, from B: the server's CA is the site's. */
	n = 0;
	wt[n++] = "--events";
	wt[n++] = HOST "=" EVENTS_TLS_URL;
	wt[n++] = "--ca";
	wt[n++] = ca;
	wt[n++] = "--cert";
	wt[n++] = dash_pem;
	n = watch_args(wt, n, "2");
	cr_assert_eq(watch_start(&w_tls, 1, wt, &status), 0, "status %d: %s",
	    status, w_tls.log);
	snprintf(events, sizeof(events), "ipc://%s/api/events.sock", dir);
	n = 0;
	wi[n++] = "--events";
	wi[n++] = events;
	n = watch_args(wi, n, "2");
	cr_assert_eq(watch_start(&w_ipc, 0, wi, &status), 0, "status %d: %s",
	    status, w_ipc.log);

	/* (b) The orchestrator's certificate: good for the API, not here. */
	memcpy(wb, wt, sizeof(wb));
	wb[5] = client_pem;
	cr_assert_eq(watch_start(&w_bad, 1, wb, &status), -1,
	    "watching with the API's CA");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3,
	    "status %d: %s", status, w_bad.log);
	cr_assert_not_null(strstr(w_bad.log, "TLS handshake failed"), "%s",
	    w_bad.log);
	/* (c) No certificate at all (a bare NNG subscriber) ... */
	cr_assert_eq(sub_dial(EVENTS_TLS_URL, NULL, err, sizeof(err)), 3,
	    "a subscriber without a certificate connected");
	cr_assert_not_null(strstr(err, "dial: "), "%s", err);
	/* ... while the same client with the dashboard's connects. */
	cr_assert_eq(sub_dial(EVENTS_TLS_URL, dash_pem, err, sizeof(err)), 0,
	    "%s", err);
	nt_sleep_ms(200);

	id = tls_start_end(4610);
	watch_end(&w_tls, out_tls, sizeof(out_tls));
	watch_end(&w_ipc, out_ipc, sizeof(out_ipc));
	watch_events(out_tls, et, 2);
	watch_events(out_ipc, ei, 2);
	event_is(et, 0, "EVENT_FLOW_STARTED", id);
	event_is(et, 1, "EVENT_FLOW_ENDED", id);
	event_is(ei, 0, "EVENT_FLOW_STARTED", id);
	event_is(ei, 1, "EVENT_FLOW_ENDED", id);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(json_integer_value(json_object_get(et[i], "seq")),
		    json_integer_value(json_object_get(ei[i], "seq")),
		    "event %d: TLS and ipc watchers see different seq", i);
		cr_assert_eq(json_integer_value(json_object_get(et[i],
		    "run_id")), json_integer_value(json_object_get(ei[i],
		    "run_id")));
		json_decref(et[i]);
		json_decref(ei[i]);
	}
	api_down();
}

/*
 * No ipc socket, the API and the events over TLS only; events_tls's CA
 * defaults to the API's. `sctagctl -H NAME=tls+tcp://HOST:7443 watch`
 * finds the events on the same host's port 7444.
 */
Test(api, events_over_tls_without_ipc, .timeout = 120)
{
	static char out[8192];
	const char *args[16];
	char path[700];
	struct watcher w;
	json_t *ev[2];
	uint64_t id;
	int n = 0, status;

	api_up_with(", \"events_tls\": {\"listen\": \"" EVENTS_TLS_URL
	    "\"}", 0);
	snprintf(path, sizeof(path), "%s/api/events.sock", dir);
	cr_assert(!nt_path_exists(path), "%s without api.ipc", path);
	args[n++] = "-H";
	args[n++] = HOST "=" TLS_URL;
	args[n++] = "--ca";
	args[n++] = ca;
	args[n++] = "--cert";
	args[n++] = client_pem;
	n = watch_args(args, n, "2");
	cr_assert_eq(watch_start(&w, 1, args, &status), 0, "status %d: %s",
	    status, w.log);
	cr_assert_not_null(strstr(w.log, "watching " EVENTS_TLS_URL), "%s",
	    w.log);
	nt_sleep_ms(200);

	id = tls_start_end(4620);
	watch_end(&w, out, sizeof(out));
	watch_events(out, ev, 2);
	event_is(ev, 0, "EVENT_FLOW_STARTED", id);
	event_is(ev, 1, "EVENT_FLOW_ENDED", id);
	json_decref(ev[0]);
	json_decref(ev[1]);
	api_down();
}

/* An events listener that can not listen stops the agent, and says why. */
Test(api, events_tls_that_can_not_listen_stops_the_agent, .timeout = 60)
{
	static char log[16384];
	int rc;

	/* An address A does not have. */
	api_spawn(", \"events_tls\": {\"listen\": "
	    "\"tls+tcp://[2001:db8:ffff::1]:7444\"}", 1);
	rc = nt_daemon_wait_exit(&daemon_, 20000);
	nt_daemon_log(&daemon_, log, sizeof(log));
	cr_assert_eq(rc, 0, "sctagd still runs; its log:\n%s", log);
	cr_assert(!WIFEXITED(daemon_.status) || WEXITSTATUS(daemon_.status) !=
	    0, "sctagd exited 0; its log:\n%s", log);
	cr_assert_not_null(strstr(log, "events: TLS listener "
	    "tls+tcp://[2001:db8:ffff::1]:7444: "), "%s", log);
	cr_assert(!nt_path_exists(nt.pin_dir), "sctagd left %s", nt.pin_dir);
	keys_forget();
}

/*
 * Named-pipe lines are flows of the table: listed, announced by fireflies
 * (start and end), and their rules go to the kernel many per privileged
 * round trip.
 */
Test(api, pipe_lines_are_flows_with_fireflies, .timeout = 120)
{
	static char lines[100 * 80], buf[2048];
	struct ff_want w = { "start", "ipv6", NT_ADDR_A, NT_ADDR_B, 0, 5000,
	    2, 4, NULL, NULL };
	size_t len = 0;
	uint64_t exchanges;
	int coll, i, got;

	api_up();
	coll = ff_listen(NT_ADDR_B, FF_COLL6);
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(lines + len, sizeof(lines) - len,
		    "start udp %s %d %s 5000 atlas 4\n", NT_ADDR_A, 7000 + i,
		    NT_ADDR_B);
	cr_assert_eq(nt_fifo_write(fifo_path, lines, len), 0);
	cr_assert_eq(counter_wait("pipe_flows_started", 100), 100);
	cr_assert_eq(table_total(), 100);
	cr_assert_eq(kernel_rules(), 100);
	exchanges = status_counter("pipe_exchanges");
	cr_assert_lt(exchanges, 50, "%llu privileged exchanges for 100 lines",
	    (unsigned long long)exchanges);
	for (got = 0; got < 100 && ff_recv(coll, buf, sizeof(buf), 3000) > 0;
	    got++) {
		json_error_t je;
		json_t *j = json_loads(strchr(buf, '{'), 0, &je);

		cr_assert_not_null(j, "%s", buf);
		w.sport = (int)json_integer_value(json_object_get(
		    json_object_get(j, "flow-id"), "src-port"));
		json_decref(j);
		cr_assert(w.sport >= 7000 && w.sport < 7100);
		ff_check(buf, &w);
	}
	cr_assert_eq(got, 100, "%d start fireflies", got);

	len = 0;
	for (i = 0; i < 100; i++)
		len += (size_t)snprintf(lines + len, sizeof(lines) - len,
		    "end udp %s %d %s 5000 atlas 4\n", NT_ADDR_A, 7000 + i,
		    NT_ADDR_B);
	cr_assert_eq(nt_fifo_write(fifo_path, lines, len), 0);
	cr_assert_eq(counter_wait("pipe_flows_ended", 100), 100);
	cr_assert_eq(table_total(), 0);
	cr_assert_eq(kernel_rules(), 0);
	w.state = "end";
	for (got = 0; got < 100 && ff_recv(coll, buf, sizeof(buf), 3000) > 0;
	    got++) {
		json_error_t je;
		json_t *j = json_loads(strchr(buf, '{'), 0, &je);

		cr_assert_not_null(j, "%s", buf);
		w.sport = (int)json_integer_value(json_object_get(
		    json_object_get(j, "flow-id"), "src-port"));
		json_decref(j);
		ff_check(buf, &w);
	}
	cr_assert_eq(got, 100, "%d end fireflies", got);
	cr_assert_eq(status_counter("pipe_lines_refused"), 0);

	/* IPv4: a flow of the table (not markable), and its firefly. */
	len = (size_t)snprintf(lines, sizeof(lines), "start udp " V4_A
	    " 7200 " V4_B " 5000 atlas 4\n");
	cr_assert_eq(nt_fifo_write(fifo_path, lines, len), 0);
	cr_assert_eq(counter_wait("pipe_flows_started", 101), 101);
	cr_assert_eq(status_counter("pipe_lines_refused"), 0);
	cr_assert_eq(table_total(), 1);
	cr_assert_eq(kernel_rules(), 0);
	cr_assert_gt(ff_recv(coll, buf, sizeof(buf), 3000), 0);
	w = (struct ff_want){ "start", "ipv4", V4_A, V4_B, 7200, 5000, 2, 4,
	    NULL, NULL };
	ff_check(buf, &w);
	close(coll);
	api_down();
}
