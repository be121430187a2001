/*
 * bench_pipe: the named pipe end to end (docs/performance.md, "Named
 * pipe"): flowd-style lines written into sctagd's FIFO until their rules
 * are in the kernel map and their fireflies have reached a collector.
 *
 * One real sctagd in a network namespace of its own, a collector on
 * [::1] in it. A workload of N flows, each a start line and, W flows
 * later, its end line (at most W flows live at once, as on a storage node
 * where transfers come and go), so 2N lines; written in 64 KiB writes
 * ("large") and one write per line ("line by line"). A run ends when the
 * agent has ended all N flows, the collector has every firefly and the
 * kernel map is empty again. Nothing lost means: every line became a
 * flow start or end (GetStatus), every firefly arrived, no rule is left.
 * Memory: VmRSS and VmHWM of both sctagd processes after the runs.
 *
 * Needs root. usage: bench_pipe [-n flows per run (200000)] [-w window
 * (1000)] [-c api.flow_capacity (1000000, the default)]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench_util.h"
#include "sctag.h"

#define COLLECTOR_PORT	9999
#define VETH_A		"sctp0"
#define VETH_B		"sctp1"
#define PATH_LEN	512
#define LINE_MAX_B	128

static struct {
	char		 ns[64];
	int		 ns_made;
	char		 dir[64], pin_base[128];	/* short: paths in them */
	char		 fifo[PATH_LEN], log[PATH_LEN], ipc[PATH_LEN];
	char		 pin_dir[PATH_LEN];
	pid_t		 pid;
	int		 coll_fd;
	_Atomic uint64_t received;
	_Atomic int	 coll_stop;
} g;

static long opt_n = 200000, opt_w = 1000, opt_cap = 1000000;

static void
cleanup(void)
{
	int status, i;

	if (g.pid > 0) {
		kill(g.pid, SIGTERM);
		for (i = 0; i < 3000 && waitpid(g.pid, &status, WNOHANG) !=
		    g.pid; i++)
			usleep(10000);
		if (i == 3000) {
			kill(g.pid, SIGKILL);
			waitpid(g.pid, &status, 0);
		}
		g.pid = 0;
	}
	if (g.ns_made)
		bench_sh("ip netns del %s", g.ns);
	if (g.pin_base[0])
		bench_sh("rm -rf '%s'", g.pin_base);
	if (g.dir[0])
		bench_sh("rm -rf '%s'", g.dir);
}

static int
setup(char *cfg, size_t cfglen)
{
	char path[PATH_LEN];
	FILE *f;
	int fd;

	snprintf(g.ns, sizeof(g.ns), "sctpipe%d", (int)getpid());
	if (bench_sh("ip netns add %s", g.ns) != 0)
		return -1;
	g.ns_made = 1;
	snprintf(path, sizeof(path), "/var/run/netns/%s", g.ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    setns(fd, CLONE_NEWNET) != 0)
		return -1;
	close(fd);
	if (bench_sh("ip link set lo up") != 0 ||
	    bench_sh("ip link add " VETH_A " type veth peer name " VETH_B) ||
	    bench_sh("ip link set " VETH_A " up && ip link set " VETH_B
	    " up") != 0)
		return -1;
	snprintf(g.dir, sizeof(g.dir), "/tmp/sctag-benchpipe.XXXXXX");
	if (!mkdtemp(g.dir) || chmod(g.dir, 0711) != 0)
		return -1;
	snprintf(g.fifo, sizeof(g.fifo), "%s/flowd", g.dir);
	snprintf(g.log, sizeof(g.log), "%s/sctagd.log", g.dir);
	snprintf(g.ipc, sizeof(g.ipc), "ipc://%s/api/sctagd.sock", g.dir);
	snprintf(g.pin_base, sizeof(g.pin_base), "/sys/fs/bpf/%s", g.ns);
	snprintf(g.pin_dir, sizeof(g.pin_dir), "%s/v1", g.pin_base);
	snprintf(cfg, cfglen, "%s/sctagd.json", g.dir);
	if (!(f = fopen(cfg, "w")))
		return -1;
	fprintf(f, "{\"user\": \"nobody\", "
	    "\"api\": {\"ipc\": \"%s/api/sctagd.sock\", \"admin_group\": "
	    "null, \"flow_capacity\": %ld}, \"marker\": {\"pin_dir\": \"%s\"}, "
	    "\"pipe\": {\"path\": "
	    "\"%s\"}, \"fireflies\": {\"collectors\": [\"[::1]:%d\"], "
	    "\"to_peer\": false, \"listen\": []}}\n", g.dir, opt_cap,
	    g.pin_dir, g.fifo, COLLECTOR_PORT);
	fclose(f);
	return 0;
}

static int
agent_start(const char *cfg)
{
	const char *argv[] = { SCTAGD_PATH, "-f", "-c", cfg, "-i", VETH_A,
	    NULL };
	struct stat st;
	sigset_t none;
	int fd, i;

	if ((fd = open(g.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) < 0 || (g.pid = fork()) < 0)
		return -1;
	if (g.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(SCTAGD_PATH, (char *const *)argv);
		_exit(127);
	}
	close(fd);
	for (i = 0; i < 2000 && !bench_stop; i++) {
		if (stat(g.fifo, &st) == 0 && bench_file_has(g.log, "api: ipc://"))
			return 0;
		usleep(10000);
	}
	fprintf(stderr, "bench_pipe: sctagd not ready; its log:\n");
	bench_sh("tail -n 30 '%s' >&2", g.log);
	return -1;
}

/* The collector: counts every firefly that reaches [::1]. */
static void *
collector_main(void *arg)
{
	static char bufs[64][2048];
	struct mmsghdr mm[64];
	struct iovec iov[64];
	struct timespec to = { 0, 100 * 1000 * 1000 };
	int i, n;

	(void)arg;
	for (i = 0; i < 64; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	while (!atomic_load(&g.coll_stop)) {
		n = recvmmsg(g.coll_fd, mm, 64, MSG_WAITFORONE, &to);
		if (n > 0)
			atomic_fetch_add(&g.received, (uint64_t)n);
	}
	return NULL;
}

static int
collector_start(pthread_t *t)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
	    .sin6_port = htons(COLLECTOR_PORT), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct timeval tv = { 0, 100000 };
	int big = 64 << 20;

	if ((g.coll_fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(g.coll_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big,
	    sizeof(big)) != 0 ||
	    setsockopt(g.coll_fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) != 0 ||
	    bind(g.coll_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("bench_pipe: collector");
		return -1;
	}
	return pthread_create(t, NULL, collector_main, NULL) == 0 ? 0 : -1;
}

/* A GetStatus counter; -1 if not there. */
static long long
counter(struct sctag_client *c, const char *name)
{
	struct sctag_result r;
	long long v = -1;
	size_t i;

	memset(&r, 0, sizeof(r));
	if (sctag_get_status(c, &r) == SCTAG_OK && r.reply->get_status)
		for (i = 0; i < r.reply->get_status->n_counters; i++)
			if (strcmp(r.reply->get_status->counters[i]->name,
			    name) == 0)
				v = (long long)r.reply->get_status->
				    counters[i]->value;
	sctag_result_free(&r);
	return v;
}

static long
map_rules(void)
{
	char path[PATH_LEN + 16];

	snprintf(path, sizeof(path), "%s/mk_rules", g.pin_dir);
	return bench_map_keys(path);
}

/* One line: flow number flow of the run whose addresses are base's. */
static size_t
one(char *buf, int start, long flow, int base)
{
	return (size_t)snprintf(buf, LINE_MAX_B, "%s udp 2001:db8::1 %ld "
	    "2001:db8:%x:%lx::%lx 5000 atlas 4\n", start ? "start" : "end",
	    1024 + flow % 60000, base, flow >> 16, flow & 0xffff);
}

/* The 2N lines of a run, in the order written. */
static char *
make_lines(long n, long w, int base, size_t *len, size_t **offs)
{
	char *buf = malloc((size_t)(2 * n) * LINE_MAX_B);
	size_t *o = malloc((size_t)(2 * n + 1) * sizeof(*o)), at = 0;
	long i, k = 0;

	if (!buf || !o) {
		free(buf);
		free(o);
		return NULL;
	}
	for (i = 0; i < n + w; i++) {
		if (i < n) {
			o[k++] = at;
			at += one(buf + at, 1, i, base);
		}
		if (i >= w) {
			o[k++] = at;
			at += one(buf + at, 0, i - w, base);
		}
	}
	o[k] = at;
	*len = at;
	*offs = o;
	return buf;
}

struct run {
	const char	*name;
	long		 lines;
	double		 secs;
	long long	 started, ended, refused;
	uint64_t	 fireflies;
	long		 rules_after;
};

static int
run_one(struct sctag_client *c, int fd, int line_by_line, int base,
    struct run *r)
{
	long long st0, en0, rf0, en;
	uint64_t ff0;
	size_t len, *offs, at;
	char *buf;
	double t0, t_done = 0;
	long k, lines = 2 * opt_n;
	ssize_t w;

	if (!(buf = make_lines(opt_n, opt_w, base, &len, &offs)))
		return -1;
	st0 = counter(c, "pipe_flows_started");
	en0 = counter(c, "pipe_flows_ended");
	rf0 = counter(c, "pipe_lines_refused");
	ff0 = atomic_load(&g.received);
	t0 = bench_now_s();
	if (line_by_line) {
		for (k = 0; k < lines && !bench_stop; k++) {
			for (at = offs[k]; at < offs[k + 1]; at += (size_t)w)
				if ((w = write(fd, buf + at, offs[k + 1] -
				    at)) < 0 && errno != EINTR)
					goto fail;
				else if (w < 0)
					w = 0;
		}
	} else {
		for (at = 0; at < len && !bench_stop; at += (size_t)w) {
			w = write(fd, buf + at, len - at > 65536 ? 65536 :
			    len - at);
			if (w < 0 && errno != EINTR)
				goto fail;
			if (w < 0)
				w = 0;
		}
	}
	/* Done when every flow ended and every firefly arrived (bounded). */
	while (!bench_stop && bench_now_s() - t0 < 120) {
		en = counter(c, "pipe_flows_ended");
		if (en >= en0 + opt_n &&
		    atomic_load(&g.received) >= ff0 + (uint64_t)lines) {
			t_done = bench_now_s();
			break;
		}
		usleep(2000);
	}
	if (t_done == 0)
		t_done = bench_now_s();
	usleep(300000);		/* stragglers: nothing lost means none */
	r->lines = lines;
	r->secs = t_done - t0;
	r->started = counter(c, "pipe_flows_started") - st0;
	r->ended = counter(c, "pipe_flows_ended") - en0;
	r->refused = counter(c, "pipe_lines_refused") - rf0;
	r->fireflies = atomic_load(&g.received) - ff0;
	r->rules_after = map_rules();
	free(buf);
	free(offs);
	return 0;
fail:
	perror("bench_pipe: write");
	free(buf);
	free(offs);
	return -1;
}

#define LAT_N	1000

/*
 * StartFlow to its firefly at the collector, one flow at a time over ipc:
 * the call's own latency and the datagram's (from before the call to the
 * collector having it). Each flow is ended (and its end firefly awaited)
 * before the next. ms, sorted, into call[] and ff[]; how many measured.
 */
static int
latency(struct sctag_client *c, double *call, double *ff)
{
	Sctag__V1__FlowSpec fs = SCTAG__V1__FLOW_SPEC__INIT;
	Sctag__V1__Tag tag = SCTAG__V1__TAG__INIT;
	struct sctag_result r;
	uint64_t before;
	double t0, t1, t2;
	int i, n = 0;

	tag.experiment = (char *)"atlas";
	tag.activity = (char *)"4";
	fs.protocol = SCTAG__V1__PROTOCOL__PROTOCOL_UDP;
	fs.src = (char *)"2001:db8::1";
	fs.dst = (char *)"2001:db8:9::1";
	fs.dst_port = 5000;
	fs.tag = &tag;
	for (i = 0; i < LAT_N && !bench_stop; i++) {
		fs.src_port = (uint32_t)(20000 + i);
		before = atomic_load(&g.received);
		memset(&r, 0, sizeof(r));
		t0 = bench_now_s();
		if (sctag_start_flow(c, &fs, &r) != SCTAG_OK) {
			fprintf(stderr, "bench_pipe: StartFlow: %s\n",
			    r.message);
			sctag_result_free(&r);
			return -1;
		}
		t1 = bench_now_s();
		while (atomic_load(&g.received) == before &&
		    bench_now_s() - t0 < 2)
			;	/* spin: a wake-up would be most of it */
		t2 = bench_now_s();
		call[n] = (t1 - t0) * 1e3;
		ff[n++] = (t2 - t0) * 1e3;
		before = atomic_load(&g.received);
		if (r.reply->start_flow && r.reply->start_flow->flow) {
			uint64_t id = r.reply->start_flow->flow->id;
			struct sctag_result e;

			memset(&e, 0, sizeof(e));
			(void)sctag_end_flow_id(c, id, &e);
			sctag_result_free(&e);
			while (atomic_load(&g.received) == before &&
			    bench_now_s() - t0 < 4)
				usleep(50);
		}
		sctag_result_free(&r);
	}
	qsort(call, (size_t)n, sizeof(*call), bench_cmp_double);
	qsort(ff, (size_t)n, sizeof(*ff), bench_cmp_double);
	return n;
}

int
main(int argc, char **argv)
{
	struct sctag_opts o;
	struct sctag_client *c = NULL;
	struct run runs[2];
	pthread_t coll = 0;
	char cfg[PATH_LEN], err[256];
	static double lat_call[LAT_N], lat_ff[LAT_N];
	long rss[2], hwm[2], uid;
	int ch, fd = -1, rc = 1, i, nlat;

	while ((ch = getopt(argc, argv, "n:w:c:")) != -1) {
		if (ch == 'n')
			opt_n = atol(optarg);
		else if (ch == 'w')
			opt_w = atol(optarg);
		else if (ch == 'c')
			opt_cap = atol(optarg);
		else {
			fprintf(stderr, "usage: bench_pipe [-n flows] "
			    "[-w window] [-c api.flow_capacity]\n");
			return 2;
		}
	}
	if (opt_n < 1 || opt_n > 5000000 || opt_w < 1 || opt_w > opt_n ||
	    opt_cap < opt_w || opt_cap > 16777216) {
		fprintf(stderr, "bench_pipe: -n 1..5000000, -w 1..n, -c w.."
		    "16777216\n");
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "bench_pipe: needs root\n");
		return 1;
	}
	bench_catch_signals();
	signal(SIGPIPE, SIG_IGN);
	if (setup(cfg, sizeof(cfg)) != 0 || collector_start(&coll) != 0 ||
	    agent_start(cfg) != 0)
		goto out;
	memset(&o, 0, sizeof(o));
	o.url = g.ipc;
	o.timeout_ms = 10000;
	if (sctag_client_open(&o, &c, err, sizeof(err)) != SCTAG_OK) {
		fprintf(stderr, "bench_pipe: %s\n", err);
		goto out;
	}
	if ((fd = open(g.fifo, O_WRONLY | O_CLOEXEC)) < 0) {
		perror("bench_pipe: fifo");
		goto out;
	}
	runs[0].name = "large writes (64 KiB)";
	runs[1].name = "line by line";
	for (i = 0; i < 2; i++) {
		fprintf(stderr, "bench_pipe: %s: %ld flows, window %ld\n",
		    runs[i].name, opt_n, opt_w);
		if (run_one(c, fd, i, i + 1, &runs[i]) != 0)
			goto out;
	}
	bench_proc_mem(g.pid, &rss[0], &hwm[0], &uid);
	bench_proc_mem(bench_first_child(g.pid), &rss[1], &hwm[1], &uid);
	fprintf(stderr, "bench_pipe: StartFlow to firefly, %d flows\n", LAT_N);
	if ((nlat = latency(c, lat_call, lat_ff)) <= 0)
		goto out;

	printf("Named pipe end to end (%ld flows a run, at most %ld live; a "
	    "flow is a start line and an end line; api.flow_capacity %ld)\n\n",
	    opt_n, opt_w, opt_cap);
	printf("| writes | lines | seconds | lines/s | flows started | "
	    "flows ended | refused | fireflies | rules left |\n"
	    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
	for (i = 0; i < 2; i++)
		printf("| %s | %ld | %.2f | %.0f | %lld | %lld | %lld | %llu | "
		    "%ld |\n", runs[i].name, runs[i].lines, runs[i].secs,
		    runs[i].lines / runs[i].secs, runs[i].started,
		    runs[i].ended, runs[i].refused,
		    (unsigned long long)runs[i].fireflies,
		    runs[i].rules_after);
	printf("\nStartFlow to its firefly at the collector (%d flows, one at a "
	    "time, ipc, unsigned as root): call p50 %.3f ms p99 %.3f ms; "
	    "firefly p50 %.3f ms p99 %.3f ms after the call began\n", nlat,
	    lat_call[nlat / 2], lat_call[nlat * 99 / 100], lat_ff[nlat / 2],
	    lat_ff[nlat * 99 / 100]);
	printf("\nResident memory after the runs (MiB): privileged %.1f "
	    "(peak %.1f), network %.1f (peak %.1f), both %.1f (peaks %.1f)\n",
	    rss[0] / 1024.0, hwm[0] / 1024.0, rss[1] / 1024.0,
	    hwm[1] / 1024.0, (rss[0] + rss[1]) / 1024.0,
	    (hwm[0] + hwm[1]) / 1024.0);
	rc = 0;
	for (i = 0; i < 2; i++)
		if (runs[i].started != opt_n || runs[i].ended != opt_n ||
		    runs[i].fireflies != (uint64_t)runs[i].lines ||
		    runs[i].rules_after != 0) {
			fprintf(stderr, "bench_pipe: %s lost something\n",
			    runs[i].name);
			rc = 1;
		}
out:
	if (fd >= 0)
		close(fd);
	sctag_client_close(c);
	atomic_store(&g.coll_stop, 1);
	if (g.coll_fd > 0)
		pthread_join(coll, NULL);
	cleanup();
	return rc;
}
