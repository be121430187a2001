/*
 * bench_api.c: what the control API costs (docs/performance.md, "Control
 * API").
 *
 * One real sctagd (the built binary) runs in a network namespace made for
 * this run, with an ipc socket and a mutual-TLS listener on the namespace's
 * loopback, certificates from certs/mkcerts.sh and a signing key enrolled
 * as orchestrator. This process enters the namespace before its first NNG
 * call (NNG's threads stay in the namespace they were started in) and
 * drives the agent through libsctag, the library an orchestrator links:
 *
 *  1. StartFlow + EndFlow by id round trips, over ipc and over tls, with 1
 *     and 16 concurrent clients (a thread and a client each), next to a
 *     plain NNG req/rep echo over the same transport with requests as big
 *     as a signed StartFlow envelope: the baseline, in the same run.
 *  2. Batch: 1000 starts per request into the kernel's rule map, flows per
 *     second, checked by counting the keys of the pinned mk_rules map.
 *  3. The round trips of 1. again with 1,000,000 flows in the table, and
 *     the resident memory of both sctagd processes at that size.
 *  4. Drain, timed, and a clean stop.
 *
 * Prints tables; exits non-zero only when something could not be set up
 * (or the agent lost flows). Targets are judged by the reader: benchmarks
 * are not tests. Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <sodium.h>

#include "bench_util.h"
#include "keys.h"
#include "sctag.h"
#include "wire.h"

#define HOST		"agent-b"
#define API_PORT	7443
#define ECHO_PORT	7444
#define VETH_A		"sctb0"
#define VETH_B		"sctb1"
#define MAX_CLIENTS	16
#define ECHO_CTX	32		/* server contexts: > MAX_CLIENTS */
#define BATCH_ITEMS	1000
#define MARKER_CAP	1048576		/* 2^20: room for 1M flows + clients */
#define FLOW_CAP	1048576
#define CALL_TIMEOUT_MS	10000
#define DRAIN_TIMEOUT_MS 300000
#define PATH_LEN	512
#define MAX_RUNS	16

/* Address spaces of generated flows (third group of 2001:db8::/32). */
#define SPACE_RT	0x100		/* round trips; + client index */
#define SPACE_BATCH	0x300		/* the ipc batch run */
#define SPACE_LOAD	0x400		/* the 1,000,000 flows */


static struct {
	double	secs;		/* per round-trip run */
	long	max_pairs;	/* per client per run */
	long	batch_flows;	/* ipc batch run */
	long	load_flows;	/* the full table */
	double	load_secs;	/* time limit of the load */
	int	no_fireflies;	/* -F: the API alone */
} opt = { 4.0, 100000, 200000, 1000000, 180.0, 0 };

static struct {
	char	ns[64];
	int	ns_made;
	char	dir[PATH_LEN];
	char	pin_base[PATH_LEN];
	char	pin_dir[PATH_LEN];
	char	log[PATH_LEN];
	char	fifo[PATH_LEN];
	char	ipc_url[PATH_LEN];
	char	tls_url[PATH_LEN];
	char	echo_ipc[PATH_LEN];
	char	echo_tls[PATH_LEN];
	char	ca[PATH_LEN];
	char	client_pem[PATH_LEN];
	char	agent_pem[PATH_LEN];
	char	orch_key[PATH_LEN];
	char	adm_key[PATH_LEN];
	pid_t	pid;
	size_t	env_len;	/* a signed StartFlow Envelope */
} g;

static double t_start;

static void
progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%6.1f s] ", bench_now_s() - t_start);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* snprintf that refuses to cut: every path here must fit. */
static int
pathf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len) {
		fprintf(stderr, "bench_api: path too long: %s\n", buf);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The q-quantile (0..1) of v[0..n-1], sorted in place; nearest rank. */
static double
quantile(double *v, long n, double q)
{
	long i;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	i = (long)(q * (double)n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* --- the namespace and the agent ---------------------------------------- */

static void
cleanup(void)
{
	int status, i;

	if (g.pid > 0) {
		kill(g.pid, SIGTERM);
		for (i = 0; i < 3000; i++) {
			if (waitpid(g.pid, &status, WNOHANG) == g.pid)
				break;
			usleep(10000);
		}
		if (i == 3000) {
			kill(g.pid, SIGKILL);
			waitpid(g.pid, &status, 0);
		}
		g.pid = 0;
	}
	if (g.ns_made) {
		bench_sh("ip netns del %s", g.ns);
		g.ns_made = 0;
	}
	/* sctagd removes its pins on a clean stop; after a kill we do. */
	if (g.pin_base[0]) {
		bench_sh("rm -rf '%s'", g.pin_base);
		g.pin_base[0] = '\0';
	}
	if (g.dir[0]) {
		bench_sh("rm -rf '%s'", g.dir);
		g.dir[0] = '\0';
	}
}

/*
 * A namespace of our own with lo up and a veth pair for the marker to
 * attach to, and this process inside it before any NNG call.
 */
static int
ns_enter(void)
{
	char path[PATH_LEN];
	int fd;

	snprintf(g.ns, sizeof(g.ns), "sctagapi%d", (int)getpid());
	if (bench_sh("ip netns add %s", g.ns) != 0)
		return -1;
	g.ns_made = 1;
	if (pathf(path, sizeof(path), "/var/run/netns/%s", g.ns) != 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    setns(fd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "bench_api: entering %s: %s\n", g.ns,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (bench_sh("ip link set lo up") != 0 ||
	    bench_sh("ip link add %s type veth peer name %s", VETH_A, VETH_B) != 0 ||
	    bench_sh("ip link set %s up && ip link set %s up", VETH_A, VETH_B) != 0)
		return -1;
	return 0;
}

/* Certificates, two signing keys enrolled, the configuration. */
static int
files_make(char *cfg, size_t cfglen)
{
	char pub_o[45], pub_a[45], err[256], path[PATH_LEN];
	FILE *f;

	snprintf(g.dir, sizeof(g.dir), "/tmp/sctag-benchapi.XXXXXX");
	if (!mkdtemp(g.dir)) {
		g.dir[0] = '\0';
		perror("bench_api: mkdtemp");
		return -1;
	}
	/* The network process ("nobody") must reach its socket and keys. */
	if (chmod(g.dir, 0711) != 0)
		return -1;
	if (bench_sh("sh %s/certs/mkcerts.sh -d %s ca >/dev/null", SCTAG_SOURCE_DIR,
	    g.dir) != 0 ||
	    bench_sh("sh %s/certs/mkcerts.sh -d %s agent %s ::1 >/dev/null",
	    SCTAG_SOURCE_DIR, g.dir, HOST) != 0 ||
	    bench_sh("sh %s/certs/mkcerts.sh -d %s client bench >/dev/null",
	    SCTAG_SOURCE_DIR, g.dir) != 0)
		return -1;
	if (pathf(g.ca, sizeof(g.ca), "%s/ca.crt", g.dir) ||
	    pathf(g.client_pem, sizeof(g.client_pem), "%s/client-bench.pem",
	    g.dir) ||
	    pathf(g.agent_pem, sizeof(g.agent_pem), "%s/agent-%s.pem", g.dir,
	    HOST) ||
	    pathf(g.orch_key, sizeof(g.orch_key), "%s/orch.key", g.dir) ||
	    pathf(g.adm_key, sizeof(g.adm_key), "%s/adm.key", g.dir) ||
	    pathf(g.fifo, sizeof(g.fifo), "%s/flowd", g.dir) ||
	    pathf(g.log, sizeof(g.log), "%s/sctagd.log", g.dir) ||
	    pathf(g.ipc_url, sizeof(g.ipc_url), "ipc://%s/api/sctagd.sock",
	    g.dir) ||
	    pathf(g.tls_url, sizeof(g.tls_url), "tls+tcp://[::1]:%d",
	    API_PORT) ||
	    pathf(g.echo_ipc, sizeof(g.echo_ipc), "ipc://%s/echo.sock",
	    g.dir) ||
	    pathf(g.echo_tls, sizeof(g.echo_tls), "tls+tcp://[::1]:%d",
	    ECHO_PORT) ||
	    pathf(g.pin_base, sizeof(g.pin_base), "/sys/fs/bpf/%s", g.ns) ||
	    pathf(g.pin_dir, sizeof(g.pin_dir), "%s/v1", g.pin_base))
		return -1;
	if (sctag_keygen(g.orch_key, pub_o, err, sizeof(err)) != 0 ||
	    sctag_keygen(g.adm_key, pub_a, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_api: keygen: %s\n", err);
		return -1;
	}
	if (pathf(path, sizeof(path), "%s/authorized_keys", g.dir) != 0 ||
	    !(f = fopen(path, "w")))
		return -1;
	fprintf(f, "orchestrator %s bench-orch\nadmin %s bench-admin\n",
	    pub_o, pub_a);
	fclose(f);
	if (chmod(path, 0644) != 0)
		return -1;
	if (pathf(cfg, cfglen, "%s/sctagd.json", g.dir) != 0 ||
	    !(f = fopen(cfg, "w")))
		return -1;
	/* Fireflies are on by default (to each flow's peer): -F measures
	 * the API without them. */
	fprintf(f, "{\"user\": \"nobody\", \"host\": \"%s\", "
	    "\"fireflies\": {\"enabled\": %s}, \"api\": {"
	    "\"ipc\": \"%s/api/sctagd.sock\", \"admin_group\": null, "
	    "\"authorized_keys\": \"%s\", \"flow_capacity\": %d, "
	    "\"tls\": {\"listen\": \"%s\", \"cert\": \"%s/agent-%s.crt\", "
	    "\"key\": \"%s/agent-%s.key\", \"ca\": \"%s\"}}, "
	    "\"marker\": {\"capacity\": %d, \"pin_dir\": \"%s\"}, "
	    "\"pipe\": {\"path\": \"%s\"}}\n", HOST,
	    opt.no_fireflies ? "false" : "true", g.dir, path, FLOW_CAP,
	    g.tls_url, g.dir, HOST, g.dir, HOST, g.ca, MARKER_CAP, g.pin_dir,
	    g.fifo);
	fclose(f);
	return 0;
}

static void
log_dump(void)
{
	fprintf(stderr, "--- sctagd log (%s) ---\n", g.log);
	bench_sh("tail -n 40 '%s' >&2", g.log);
}

/* sctagd, in this namespace; ready when its pipe and ipc socket are. */
static int
agent_start(const char *cfg)
{
	const char *argv[] = { SCTAGD_PATH, "-f", "-c", cfg, "-i", VETH_A,
	    NULL };
	struct stat st;
	sigset_t none;
	int fd, i, status;
	pid_t pid;

	if ((fd = open(g.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0)
		return -1;
	sigemptyset(&none);
	if ((pid = fork()) < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		/* Should we die, the agent stops cleanly. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(SCTAGD_PATH, (char *const *)argv);
		_exit(127);
	}
	close(fd);
	g.pid = pid;
	for (i = 0; i < 2000 && !bench_stop; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g.pid = 0;
			fprintf(stderr, "bench_api: sctagd exited (status "
			    "%d)\n", status);
			log_dump();
			return -1;
		}
		if (stat(g.fifo, &st) == 0 && S_ISFIFO(st.st_mode) &&
		    bench_file_has(g.log, "api: ipc://"))
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "bench_api: sctagd not ready after 20 s\n");
	log_dump();
	return -1;
}

struct mem {
	const char	*when;
	long		 rss[2], hwm[2], uid[2];
	long		 bench_rss;
};

static struct mem mems[4];
static int nmems;

static void
mem_record(const char *when)
{
	struct mem *m;
	long uid;

	if (nmems >= (int)(sizeof(mems) / sizeof(mems[0])))
		return;
	m = &mems[nmems++];
	m->when = when;
	bench_proc_mem(g.pid, &m->rss[0], &m->hwm[0], &m->uid[0]);
	bench_proc_mem(bench_first_child(g.pid), &m->rss[1], &m->hwm[1],
	    &m->uid[1]);
	bench_proc_mem(getpid(), &m->bench_rss, &uid, &uid);
}

/* Keys in the kernel's exact-rule map, as pinned by the agent; -1 on error. */
static long
map_rules(void)
{
	char path[PATH_LEN + 16];

	if (pathf(path, sizeof(path), "%s/mk_rules", g.pin_dir) != 0)
		return -1;
	return bench_map_keys(path);
}

/* --- libsctag clients ----------------------------------------------------- */

static int
client_open(int tls, const char *key, int timeout_ms, struct sctag_client **c)
{
	struct sctag_opts o;
	char err[256];

	memset(&o, 0, sizeof(o));
	o.url = tls ? g.tls_url : g.ipc_url;
	o.target_host = HOST;
	if (tls) {
		o.ca_file = g.ca;
		o.cert_file = g.client_pem;
	}
	o.sign_key_file = key;
	o.timeout_ms = timeout_ms;
	if (sctag_client_open(&o, c, err, sizeof(err)) != SCTAG_OK) {
		fprintf(stderr, "bench_api: client %s: %s\n", o.url, err);
		return -1;
	}
	return 0;
}

/* One flow spec with the strings it points to. */
struct spec {
	Sctag__V1__FlowSpec	fs;
	Sctag__V1__Tag		tag;
	char			dst[48];
};

static void
spec_fill(struct spec *s, unsigned int space, uint32_t i)
{
	sctag__v1__flow_spec__init(&s->fs);
	sctag__v1__tag__init(&s->tag);
	snprintf(s->dst, sizeof(s->dst), "2001:db8:%x:%x::%x", space & 0xffff,
	    (i >> 16) & 0xffff, i & 0xffff);
	s->tag.experiment = (char *)"cms";
	s->tag.activity = (char *)"14";
	s->fs.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	s->fs.src = (char *)"2001:db8:a::1";
	s->fs.src_port = 1094;
	s->fs.dst = s->dst;
	s->fs.dst_port = 40000 + i % 20000;
	s->fs.tag = &s->tag;
}

/* The size of a signed StartFlow envelope as libsctag sends it. */
static int
envelope_size(void)
{
	Sctag__V1__Request r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__StartFlowRequest sf = SCTAG__V1__START_FLOW_REQUEST__INIT;
	struct keys_secret *ks;
	struct spec s;
	uint8_t nonce[16], rid[16], *buf;
	char err[256];
	size_t len;
	int rc;

	if (keys_load_secret(g.orch_key, &ks, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_api: %s\n", err);
		return -1;
	}
	randombytes_buf(nonce, sizeof(nonce));
	randombytes_buf(rid, sizeof(rid));
	/* The largest flow number a round-trip run uses. */
	spec_fill(&s, SPACE_RT + MAX_CLIENTS, 0xfffff);
	sf.flow = &s.fs;
	r.target_host = (char *)HOST;
	r.timestamp_ms = (uint64_t)time(NULL) * 1000 + 999;
	r.nonce.data = nonce;
	r.nonce.len = sizeof(nonce);
	r.request_id.data = rid;
	r.request_id.len = sizeof(rid);
	r.call_case = SCTAG__V1__REQUEST__CALL_START_FLOW;
	r.start_flow = &sf;
	rc = wire_request_build(&r, ks, &buf, &len);
	keys_free_secret(ks);
	if (rc != 0)
		return -1;
	free(buf);
	g.env_len = len;
	return 0;
}

/* --- the echo baseline ------------------------------------------------------ */

struct echo_ctx {
	nng_aio	*aio;
	nng_ctx	 ctx;
	int	 sending;
};

static struct {
	nng_socket	sock;
	struct echo_ctx	c[ECHO_CTX];
	int		open;
} echo;

/*
 * A rep echo: every context receives and sends the message back as it
 * came, in NNG's callback, which is as little as a server can do.
 */
static void
echo_cb(void *arg)
{
	struct echo_ctx *e = arg;
	nng_msg *m;

	if (nng_aio_result(e->aio) != 0) {
		if (e->sending) {
			nng_msg_free(nng_aio_get_msg(e->aio));
			e->sending = 0;
		} else if (nng_aio_result(e->aio) == NNG_ECLOSED) {
			return;
		}
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	if (e->sending) {
		e->sending = 0;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	m = nng_aio_get_msg(e->aio);
	nng_aio_set_msg(e->aio, m);
	e->sending = 1;
	nng_ctx_send(e->ctx, e->aio);
}

static int
tls_cfg(nng_tls_config **cfg, int server)
{
	int rv;

	if ((rv = nng_tls_config_alloc(cfg, server ? NNG_TLS_MODE_SERVER :
	    NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	if ((rv = nng_tls_config_version(*cfg, NNG_TLS_1_2,
	    NNG_TLS_1_2)) != 0 ||
	    (rv = nng_tls_config_ca_file(*cfg, g.ca)) != 0 ||
	    (rv = nng_tls_config_auth_mode(*cfg,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (rv = nng_tls_config_cert_key_file(*cfg, server ? g.agent_pem :
	    g.client_pem, NULL)) != 0 ||
	    (!server && (rv = nng_tls_config_server_name(*cfg, HOST)) != 0)) {
		nng_tls_config_free(*cfg);
		return rv;
	}
	return 0;
}

static int
echo_start(void)
{
	nng_listener l;
	nng_tls_config *cfg;
	int i, rv;

	if ((rv = nng_rep0_open(&echo.sock)) != 0)
		goto fail;
	echo.open = 1;
	if ((rv = nng_socket_set_size(echo.sock, NNG_OPT_RECVMAXSZ,
	    WIRE_MAX_MSG)) != 0 ||
	    (rv = nng_listen(echo.sock, g.echo_ipc, NULL, 0)) != 0)
		goto fail;
	if ((rv = tls_cfg(&cfg, 1)) != 0)
		goto fail;
	if ((rv = nng_listener_create(&l, echo.sock, g.echo_tls)) != 0 ||
	    (rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		nng_tls_config_free(cfg);
		goto fail;
	}
	nng_tls_config_free(cfg);	/* the listener holds its own */
	for (i = 0; i < ECHO_CTX; i++) {
		struct echo_ctx *e = &echo.c[i];

		if ((rv = nng_aio_alloc(&e->aio, echo_cb, e)) != 0 ||
		    (rv = nng_ctx_open(&e->ctx, echo.sock)) != 0)
			goto fail;
		nng_ctx_recv(e->ctx, e->aio);
	}
	return 0;
fail:
	fprintf(stderr, "bench_api: echo server: %s\n", nng_strerror(rv));
	return -1;
}

static void
echo_stop(void)
{
	int i;

	if (!echo.open)
		return;
	nng_close(echo.sock);
	for (i = 0; i < ECHO_CTX; i++)
		if (echo.c[i].aio)
			nng_aio_free(echo.c[i].aio);
	echo.open = 0;
}

static int
echo_dial(int tls, nng_socket *s)
{
	nng_tls_config *cfg = NULL;
	nng_dialer d;
	int rv;

	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	/* As libsctag: no resends, a bounded wait. */
	if ((rv = nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO,
	    CALL_TIMEOUT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO,
	    CALL_TIMEOUT_MS)) != 0 ||
	    (rv = nng_dialer_create(&d, *s, tls ? g.echo_tls :
	    g.echo_ipc)) != 0)
		goto fail;
	if (tls) {
		if ((rv = tls_cfg(&cfg, 0)) != 0 ||
		    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0)
			goto fail;
		nng_tls_config_free(cfg);
		cfg = NULL;
	}
	if ((rv = nng_dialer_start(d, 0)) != 0)
		goto fail;
	return 0;
fail:
	if (cfg)
		nng_tls_config_free(cfg);
	nng_close(*s);
	return rv;
}

static int
echo_once(nng_socket s, const uint8_t *req, size_t len)
{
	nng_msg *m;
	int rv;

	if ((rv = nng_msg_alloc(&m, 0)) != 0)
		return rv;
	if ((rv = nng_msg_append(m, req, len)) != 0 ||
	    (rv = nng_sendmsg(s, m, 0)) != 0) {
		nng_msg_free(m);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &m, 0)) != 0)
		return rv;
	rv = nng_msg_len(m) == len ? 0 : NNG_EPROTO;
	nng_msg_free(m);
	return rv;
}

/* --- round-trip runs --------------------------------------------------------- */

enum kind { K_ECHO, K_SIGNED };

struct worker {
	pthread_t		 tid;
	int			 idx;
	enum kind		 kind;
	int			 tls;
	struct sctag_client	*c;
	nng_socket		 s;
	uint32_t		 next;		/* flow number */
	long			 pairs, fails;
	double			*lat_pair;	/* max_pairs */
	double			*lat_call;	/* 2 * max_pairs */
	double			 t_end;
	char			 err[256];
};

static struct {
	pthread_mutex_t	mtx;
	pthread_cond_t	cv;
	int		go;
	double		deadline;
} run_sync = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0 };

static void
worker_fail(struct worker *w, const char *what, const struct sctag_result *r)
{
	w->fails++;
	if (!w->err[0])
		snprintf(w->err, sizeof(w->err), "%s: %s %s %.160s", what,
		    sctag_status_name(r->status), sctag_code_name(r->code),
		    r->message);
}

/* One StartFlow + EndFlow(id), or two echoes; call times in t1, t2. */
static int
pair_once(struct worker *w, const uint8_t *echo_req, double *t1, double *t2)
{
	struct sctag_result r;
	struct spec s;
	uint64_t id;
	double t0 = bench_now_s();
	int rv;

	if (w->kind == K_ECHO) {
		if ((rv = echo_once(w->s, echo_req, g.env_len)) != 0)
			goto echo_fail;
		*t1 = bench_now_s() - t0;
		if ((rv = echo_once(w->s, echo_req, g.env_len)) != 0)
			goto echo_fail;
		*t2 = bench_now_s() - t0 - *t1;
		return 0;
echo_fail:
		w->fails++;
		if (!w->err[0])
			snprintf(w->err, sizeof(w->err), "echo: %s",
			    nng_strerror(rv));
		return -1;
	}
	memset(&r, 0, sizeof(r));
	spec_fill(&s, SPACE_RT + (unsigned int)w->idx, w->next++);
	if (sctag_start_flow(w->c, &s.fs, &r) != SCTAG_OK ||
	    !r.reply->start_flow || !r.reply->start_flow->flow) {
		worker_fail(w, "start", &r);
		sctag_result_free(&r);
		return -1;
	}
	id = r.reply->start_flow->flow->id;
	sctag_result_free(&r);
	*t1 = bench_now_s() - t0;
	if (sctag_end_flow_id(w->c, id, &r) != SCTAG_OK) {
		worker_fail(w, "end", &r);
		sctag_result_free(&r);
		return -1;
	}
	sctag_result_free(&r);
	*t2 = bench_now_s() - t0 - *t1;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint8_t *req;
	double t1, t2, deadline;
	int bad = 0;

	/* The echo request: random bytes, as big as a signed StartFlow. */
	if (!(req = malloc(g.env_len)))
		return NULL;
	randombytes_buf(req, g.env_len);
	pthread_mutex_lock(&run_sync.mtx);
	while (!run_sync.go)
		pthread_cond_wait(&run_sync.cv, &run_sync.mtx);
	deadline = run_sync.deadline;
	pthread_mutex_unlock(&run_sync.mtx);
	while (!bench_stop && w->pairs < opt.max_pairs &&
	    bench_now_s() < deadline) {
		if (pair_once(w, req, &t1, &t2) != 0) {
			/* A broken client stops; the table shows it. */
			if (++bad >= 10)
				break;
			continue;
		}
		w->lat_call[2 * w->pairs] = t1;
		w->lat_call[2 * w->pairs + 1] = t2;
		w->lat_pair[w->pairs++] = t1 + t2;
	}
	w->t_end = bench_now_s();
	free(req);
	return NULL;
}

struct run {
	const char	*table;		/* "empty", "1M flows" */
	enum kind	 kind;
	int		 tls;
	int		 clients;
	long		 pairs, fails;
	double		 secs;
	double		 pair_s;	/* pairs per second */
	double		 p50_call, p99_call, p50_pair, p99_pair;	/* ms */
	char		 err[256];
};

static struct run runs[MAX_RUNS];
static int nruns;

static int
run_one(const char *table, enum kind kind, int tls, int n)
{
	static struct worker w[MAX_CLIENTS];
	struct run *r;
	double t0, tend = 0, *all_pair, *all_call;
	long np = 0, nc = 0;
	int i, rc = 0, started = 0;

	if (nruns >= MAX_RUNS)
		return -1;
	r = &runs[nruns];
	memset(r, 0, sizeof(*r));
	r->table = table;
	r->kind = kind;
	r->tls = tls;
	r->clients = n;
	memset(w, 0, sizeof(w));
	for (i = 0; i < n; i++) {
		struct sctag_result res;

		w[i].idx = i;
		w[i].kind = kind;
		w[i].tls = tls;
		w[i].lat_pair = calloc((size_t)opt.max_pairs, sizeof(double));
		w[i].lat_call = calloc(2 * (size_t)opt.max_pairs,
		    sizeof(double));
		if (!w[i].lat_pair || !w[i].lat_call) {
			rc = -1;
			goto out;
		}
		/* Connected and warm before the clock starts. */
		if (kind == K_ECHO) {
			uint8_t b[16] = { 0 };
			int rv;

			if ((rv = echo_dial(tls, &w[i].s)) != 0 ||
			    (rv = echo_once(w[i].s, b, sizeof(b))) != 0) {
				fprintf(stderr, "bench_api: echo client: %s\n",
				    nng_strerror(rv));
				rc = -1;
				goto out;
			}
		} else {
			if (client_open(tls, g.orch_key, CALL_TIMEOUT_MS,
			    &w[i].c) != 0) {
				rc = -1;
				goto out;
			}
			memset(&res, 0, sizeof(res));
			if (sctag_ping(w[i].c, NULL, 0, &res) != SCTAG_OK) {
				fprintf(stderr, "bench_api: ping %s: %s\n",
				    sctag_client_url(w[i].c), res.message);
				sctag_result_free(&res);
				rc = -1;
				goto out;
			}
			sctag_result_free(&res);
		}
	}
	run_sync.go = 0;
	for (i = 0; i < n; i++) {
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			rc = -1;
			break;
		}
		started++;
	}
	pthread_mutex_lock(&run_sync.mtx);
	t0 = bench_now_s();
	run_sync.deadline = t0 + opt.secs;
	run_sync.go = 1;
	pthread_cond_broadcast(&run_sync.cv);
	pthread_mutex_unlock(&run_sync.mtx);
	for (i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].t_end > tend)
			tend = w[i].t_end;
		r->pairs += w[i].pairs;
		r->fails += w[i].fails;
		if (!r->err[0] && w[i].err[0])
			snprintf(r->err, sizeof(r->err), "%s", w[i].err);
	}
	if (rc != 0)
		goto out;
	r->secs = tend - t0;
	r->pair_s = r->secs > 0 ? (double)r->pairs / r->secs : 0;
	all_pair = malloc((size_t)(r->pairs + 1) * sizeof(double));
	all_call = malloc((size_t)(2 * r->pairs + 1) * sizeof(double));
	if (!all_pair || !all_call) {
		free(all_pair);
		free(all_call);
		rc = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		memcpy(all_pair + np, w[i].lat_pair, (size_t)w[i].pairs *
		    sizeof(double));
		memcpy(all_call + nc, w[i].lat_call, 2 * (size_t)w[i].pairs *
		    sizeof(double));
		np += w[i].pairs;
		nc += 2 * w[i].pairs;
	}
	r->p50_pair = quantile(all_pair, np, 0.50) * 1e3;
	r->p99_pair = quantile(all_pair, np, 0.99) * 1e3;
	r->p50_call = quantile(all_call, nc, 0.50) * 1e3;
	r->p99_call = quantile(all_call, nc, 0.99) * 1e3;
	free(all_pair);
	free(all_call);
	nruns++;
	progress("  %-8s %-6s %-3s %2d client%s: %8.0f pairs/s, call p50 "
	    "%.3f ms p99 %.3f ms%s%s", table, kind == K_ECHO ? "echo" :
	    "signed", tls ? "tls" : "ipc", n, n == 1 ? " " : "s", r->pair_s,
	    r->p50_call, r->p99_call, r->fails ? ", errors: " : "",
	    r->fails ? r->err : "");
out:
	for (i = 0; i < n; i++) {
		if (w[i].c)
			sctag_client_close(w[i].c);
		else if (kind == K_ECHO && nng_socket_id(w[i].s) > 0)
			nng_close(w[i].s);
		free(w[i].lat_pair);
		free(w[i].lat_call);
	}
	return rc;
}

/* Echo then signed, ipc then tls, 1 then 16 clients. */
static int
run_all(const char *table)
{
	static const int conc[] = { 1, MAX_CLIENTS };
	int tls, c, k;

	for (tls = 0; tls <= 1; tls++)
		for (c = 0; c < 2; c++)
			for (k = 0; k < 2; k++) {
				if (bench_stop)
					return -1;
				if (run_one(table, k ? K_SIGNED : K_ECHO, tls,
				    conc[c]) != 0)
					return -1;
			}
	return 0;
}

/* --- Batch -------------------------------------------------------------------- */

struct batch_buf {
	Sctag__V1__BatchRequest	 req;
	Sctag__V1__BatchItem	 items[BATCH_ITEMS];
	Sctag__V1__BatchItem	*itemp[BATCH_ITEMS];
	struct spec		 specs[BATCH_ITEMS];
};

struct batch_run {
	const char	*name;
	long		 flows, ok, failed;
	double		 secs;
	double		 first_secs;	/* for the first opt.batch_flows */
	long		 first_flows;
	long		 in_map;
	long		 used;		/* GetStatus */
	double		 p50_ms, p99_ms;	/* per Batch call */
	char		 err[256];
};

static struct batch_run batches[2];
static int nbatches;

static long
status_used(struct sctag_client *c)
{
	struct sctag_result r;
	long used = -1;

	memset(&r, 0, sizeof(r));
	if (sctag_get_status(c, &r) == SCTAG_OK && r.reply->get_status)
		used = (long)r.reply->get_status->used;
	sctag_result_free(&r);
	return used;
}

/* Start `flows` flows in batches of BATCH_ITEMS over one client. */
static int
batch_load(const char *name, int tls, unsigned int space, long flows,
    double limit_s)
{
	static struct batch_buf b;
	struct batch_run *br = &batches[nbatches];
	struct sctag_client *c;
	struct sctag_result r;
	double t0, t, *lat;
	long i, k, nb = 0, maxb = flows / BATCH_ITEMS + 1;
	size_t j;
	int rc = 0;

	memset(br, 0, sizeof(*br));
	br->name = name;
	if (!(lat = calloc((size_t)maxb, sizeof(double))))
		return -1;
	if (client_open(tls, g.orch_key, 60000, &c) != 0) {
		free(lat);
		return -1;
	}
	memset(&r, 0, sizeof(r));
	if (sctag_ping(c, NULL, 0, &r) != SCTAG_OK) {
		fprintf(stderr, "bench_api: ping: %s\n", r.message);
		rc = -1;
		goto out;
	}
	sctag_result_free(&r);
	t0 = bench_now_s();
	for (i = 0; i < flows && !bench_stop && bench_now_s() - t0 < limit_s;
	    i += BATCH_ITEMS) {
		sctag__v1__batch_request__init(&b.req);
		for (k = 0; k < BATCH_ITEMS && i + k < flows; k++) {
			sctag__v1__batch_item__init(&b.items[k]);
			spec_fill(&b.specs[k], space, (uint32_t)(i + k));
			b.items[k].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
			b.items[k].start = &b.specs[k].fs;
			b.itemp[k] = &b.items[k];
		}
		b.req.n_items = (size_t)k;
		b.req.items = b.itemp;
		t = bench_now_s();
		if (sctag_batch(c, &b.req, &r) != SCTAG_OK ||
		    !r.reply->batch) {
			snprintf(br->err, sizeof(br->err), "batch at %ld: %s %s "
			    "%.160s", i, sctag_status_name(r.status),
			    sctag_code_name(r.code), r.message);
			sctag_result_free(&r);
			break;
		}
		lat[nb++] = bench_now_s() - t;
		for (j = 0; j < r.reply->batch->n_results; j++) {
			if (r.reply->batch->results[j]->code ==
			    SCTAG__V1__CODE__OK) {
				br->ok++;
			} else {
				br->failed++;
				if (!br->err[0])
					snprintf(br->err, sizeof(br->err),
					    "item %ld: %s %.160s", i + (long)j,
					    sctag_code_name(r.reply->batch->
					    results[j]->code),
					    r.reply->batch->results[j]->message);
			}
		}
		sctag_result_free(&r);
		br->flows += k;
		if (br->flows == opt.batch_flows) {
			br->first_secs = bench_now_s() - t0;
			br->first_flows = br->flows;
		}
		if (br->flows % 100000 == 0)
			progress("  %s: %ld flows, %.0f flows/s so far", name,
			    br->flows, (double)br->flows / (bench_now_s() - t0));
	}
	br->secs = bench_now_s() - t0;
	br->p50_ms = quantile(lat, nb, 0.5) * 1e3;
	br->p99_ms = quantile(lat, nb, 0.99) * 1e3;
	br->used = status_used(c);
	br->in_map = map_rules();
	nbatches++;
	progress("  %s: %ld flows (%ld ok, %ld failed) in %.2f s = %.0f "
	    "flows/s; kernel map %ld rules, GetStatus used %ld%s%s", name,
	    br->flows, br->ok, br->failed, br->secs, (double)br->ok /
	    br->secs, br->in_map, br->used, br->err[0] ? "; " : "",
	    br->err);
out:
	sctag_client_close(c);
	free(lat);
	return rc;
}

struct drain_run {
	const char	*name;
	long		 ended, in_map;
	double		 secs;
};

static struct drain_run drains[2];
static int ndrains;

static int
drain_all(const char *name)
{
	struct drain_run *d = &drains[ndrains];
	struct sctag_client *c;
	struct sctag_result r;
	double t0;
	int rc = 0;

	if (client_open(0, g.adm_key, DRAIN_TIMEOUT_MS, &c) != 0)
		return -1;
	memset(&r, 0, sizeof(r));
	d->name = name;
	t0 = bench_now_s();
	if (sctag_drain(c, NULL, &r) != SCTAG_OK || !r.reply->drain) {
		fprintf(stderr, "bench_api: drain: %s %s %s\n",
		    sctag_status_name(r.status), sctag_code_name(r.code),
		    r.message);
		rc = -1;
	} else {
		d->ended = (long)r.reply->drain->ended;
	}
	d->secs = bench_now_s() - t0;
	sctag_result_free(&r);
	sctag_client_close(c);
	d->in_map = map_rules();
	ndrains++;
	progress("  drain (%s): %ld flows ended in %.2f s; kernel map %ld "
	    "rules", name, d->ended, d->secs, d->in_map);
	return rc;
}

/* --- the report ------------------------------------------------------------------- */

static const struct run *
find_run(const char *table, enum kind k, int tls, int n)
{
	int i;

	for (i = 0; i < nruns; i++)
		if (strcmp(runs[i].table, table) == 0 && runs[i].kind == k &&
		    runs[i].tls == tls && runs[i].clients == n)
			return &runs[i];
	return NULL;
}

static void
report(void)
{
	static const int conc[] = { 1, MAX_CLIENTS };
	const struct run *e, *s, *l;
	int i, t, c;

	printf("\nRound trips (%.1f s per run, at most %ld pairs per client; "
	    "a pair is StartFlow + EndFlow(id), or two echoes of %zu bytes; "
	    "fireflies %s)\n\n", opt.secs, opt.max_pairs, g.env_len,
	    opt.no_fireflies ? "off" : "on, to each flow's peer");
	printf("| table | transport | clients | kind | pairs/s | calls/s | "
	    "call p50 ms | call p99 ms | pair p50 ms | pair p99 ms | "
	    "errors |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
	    "| --- |\n");
	for (i = 0; i < nruns; i++) {
		const struct run *r = &runs[i];

		printf("| %s | %s | %d | %s | %.0f | %.0f | %.3f | %.3f | "
		    "%.3f | %.3f | %ld |\n", r->table, r->tls ? "tls" : "ipc",
		    r->clients, r->kind == K_ECHO ? "echo" : "signed",
		    r->pair_s, 2 * r->pair_s, r->p50_call, r->p99_call,
		    r->p50_pair, r->p99_pair, r->fails);
	}
	printf("\nSigned call against the echo (empty table): time per "
	    "call / time per echo\n\n");
	printf("| transport | clients | by throughput | by p50 | by p99 |\n");
	printf("| --- | --- | --- | --- | --- |\n");
	for (t = 0; t <= 1; t++)
		for (c = 0; c < 2; c++) {
			e = find_run("empty", K_ECHO, t, conc[c]);
			s = find_run("empty", K_SIGNED, t, conc[c]);
			if (!e || !s || s->pair_s <= 0)
				continue;
			printf("| %s | %d | %.2f | %.2f | %.2f |\n",
			    t ? "tls" : "ipc", conc[c], e->pair_s / s->pair_s,
			    s->p50_call / e->p50_call,
			    s->p99_call / e->p99_call);
		}
	printf("\nLatency with %ld flows against the empty table (signed "
	    "start+end pair)\n\n", opt.load_flows);
	printf("| transport | clients | p50 empty | p50 loaded | p99 empty | "
	    "p99 loaded | p99 ratio | pairs/s ratio |\n");
	printf("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
	for (t = 0; t <= 1; t++)
		for (c = 0; c < 2; c++) {
			s = find_run("empty", K_SIGNED, t, conc[c]);
			l = find_run("loaded", K_SIGNED, t, conc[c]);
			if (!s || !l || s->p99_pair <= 0 || s->pair_s <= 0)
				continue;
			printf("| %s | %d | %.3f | %.3f | %.3f | %.3f | %.2f | "
			    "%.2f |\n", t ? "tls" : "ipc", conc[c],
			    s->p50_pair, l->p50_pair, s->p99_pair,
			    l->p99_pair, l->p99_pair / s->p99_pair,
			    l->pair_s / s->pair_s);
		}
	printf("\nBatch (%d starts per request, one client)\n\n", BATCH_ITEMS);
	printf("| run | flows | ok | failed | seconds | flows/s | first %ld "
	    "flows/s | batch p50 ms | batch p99 ms | kernel map | "
	    "GetStatus used |\n", opt.batch_flows);
	printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
	    "| --- |\n");
	for (i = 0; i < nbatches; i++) {
		const struct batch_run *b = &batches[i];

		printf("| %s | %ld | %ld | %ld | %.2f | %.0f | %.0f | %.1f | "
		    "%.1f | %ld | %ld |\n", b->name, b->flows, b->ok,
		    b->failed, b->secs, b->secs > 0 ? (double)b->ok / b->secs :
		    0, b->first_secs > 0 ? (double)b->first_flows /
		    b->first_secs : 0, b->p50_ms, b->p99_ms, b->in_map,
		    b->used);
	}
	printf("\nDrain (admin, ipc)\n\n| after | ended | seconds | flows/s "
	    "| kernel map after |\n| --- | --- | --- | --- | --- |\n");
	for (i = 0; i < ndrains; i++)
		printf("| %s | %ld | %.2f | %.0f | %ld |\n", drains[i].name,
		    drains[i].ended, drains[i].secs, drains[i].secs > 0 ?
		    (double)drains[i].ended / drains[i].secs : 0,
		    drains[i].in_map);
	printf("\nResident memory (MiB; VmRSS, peak VmHWM)\n\n| when | "
	    "sctagd parent (uid) | sctagd child (uid) | parent peak | "
	    "child peak | bench_api |\n| --- | --- | --- | --- | --- | --- "
	    "|\n");
	for (i = 0; i < nmems; i++) {
		const struct mem *m = &mems[i];

		printf("| %s | %.1f (%ld) | %.1f (%ld) | %.1f | %.1f | %.1f |\n",
		    m->when, (double)m->rss[0] / 1024, m->uid[0],
		    (double)m->rss[1] / 1024, m->uid[1],
		    (double)m->hwm[0] / 1024, (double)m->hwm[1] / 1024,
		    (double)m->bench_rss / 1024);
	}
	fflush(stdout);
}

/* --- main --------------------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr, "usage: bench_api [-d secs per run (4)] [-n max pairs "
	    "per client per run (100000)]\n"
	    "                 [-b ipc batch flows (200000)] [-L flows in the "
	    "full table (1000000)]\n"
	    "                 [-F (fireflies off: the API alone)]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	char cfg[PATH_LEN];
	int ch, rc = 1;
	long loaded;

	while ((ch = getopt(argc, argv, "d:n:b:L:Fh")) != -1) {
		switch (ch) {
		case 'F':
			opt.no_fireflies = 1;
			break;
		case 'd':
			opt.secs = atof(optarg);
			break;
		case 'n':
			opt.max_pairs = atol(optarg);
			break;
		case 'b':
			opt.batch_flows = atol(optarg);
			break;
		case 'L':
			opt.load_flows = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (opt.secs <= 0 || opt.secs > 60 || opt.max_pairs < 1 ||
	    opt.max_pairs > 10000000 || opt.batch_flows < BATCH_ITEMS ||
	    opt.load_flows < BATCH_ITEMS || opt.load_flows > MARKER_CAP -
	    4 * MAX_CLIENTS || opt.batch_flows > opt.load_flows)
		usage();
	if (geteuid() != 0) {
		fprintf(stderr, "bench_api: needs root (BPF, network "
		    "namespaces)\n");
		return 1;
	}
	t_start = bench_now_s();
	bench_catch_signals();
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		return 1;

	/* Into the namespace first: NNG's threads stay where they start. */
	progress("setup: namespace, certificates, keys, sctagd");
	if (ns_enter() != 0 || files_make(cfg, sizeof(cfg)) != 0 ||
	    envelope_size() != 0 || agent_start(cfg) != 0 ||
	    echo_start() != 0)
		goto out;
	progress("sctagd %d ready (%s, %s); signed StartFlow envelope %zu "
	    "bytes", (int)g.pid, g.ipc_url, g.tls_url, g.env_len);
	mem_record("started, empty");

	progress("round trips, empty table");
	if (run_all("empty") != 0)
		goto out;

	progress("Batch over ipc: %ld flows", opt.batch_flows);
	if (batch_load("ipc", 0, SPACE_BATCH, opt.batch_flows,
	    opt.load_secs) != 0 || drain_all("ipc batch") != 0)
		goto out;

	progress("Batch over tls: loading %ld flows", opt.load_flows);
	if (batch_load("tls", 1, SPACE_LOAD, opt.load_flows,
	    opt.load_secs) != 0)
		goto out;
	loaded = batches[nbatches - 1].ok;
	mem_record("loaded");

	progress("round trips, %ld flows in the table", loaded);
	if (run_all("loaded") != 0)
		goto out;
	mem_record("loaded, after round trips");

	progress("drain");
	if (drain_all("load") != 0)
		goto out;
	mem_record("drained");

	report();
	rc = 0;
	/* Flows the agent said it had and the kernel did not are a bug. */
	if (batches[0].in_map != batches[0].ok ||
	    batches[1].in_map != batches[1].ok) {
		fprintf(stderr, "bench_api: the kernel map does not hold the "
		    "flows the agent accepted\n");
		rc = 1;
	}
out:
	if (rc != 0 && nruns > 0)
		report();
	if (rc != 0 && g.log[0])
		log_dump();
	echo_stop();
	progress("cleanup");
	cleanup();
	return bench_stop ? 1 : rc;
}
