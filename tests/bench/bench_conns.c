/*
 * bench_conns.c: what a connection scan costs (docs/performance.md,
 * "Connection scans").
 *
 * conns.c finds the connections of per-connection rules and of ongoing
 * fireflies by dumping this host's connected TCP sockets with their
 * tcp_info (sockdiag_dump) every scan period, and matches them under the
 * state lock. Here, in a network namespace of the run's own, N TCP
 * connections over [::1] (2N sockets), both ends kept by holder
 * processes (children, each within the file limit, which a container
 * may not let root raise); first none, to see what a dump costs without
 * sockets. For each N, in interleaved rounds:
 *
 *  - bare: a sock_diag dump of the same sockets without INET_DIAG_INFO,
 *    received until NLMSG_DONE and not parsed: the baseline. And the same
 *    with INET_DIAG_INFO, which says what the kernel's tcp_info adds;
 *  - sockdiag_dump as conns.c calls it, each socket appended to an array
 *    as conns.c's seen() does;
 *  - the match: each dumped socket's exact rule, built as conns.c's
 *    match() builds it, looked up with flows_find_match in a table of F
 *    exact flows, none of them a dumped connection; and in one where one
 *    connection in ten has its own exact flow besides;
 *  - conns_tick itself, with 100 per-connection wildcard rules (one of
 *    them takes every connection here): the whole scan, its CPU time, and
 *    how long it holds the state lock; and the lock with that one rule
 *    only, which says what the other 99 cost. conns.c's calls to
 *    dispatch_lock and dispatch_unlock reach the clock through the
 *    linker's --wrap.
 *
 * Prints tables; exits non-zero only when something could not be set up
 * or a dump or match did not find what it must. Needs root (the
 * namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "bench_util.h"
#include "conns.h"
#include "dispatch.h"
#include "flowreq.h"
#include "flows.h"
#include "log.h"
#include "registry.h"
#include "sockdiag.h"
#include "tag.h"

#define N_MAX		200000	/* -n at most */
#define NS_MAX		3	/* connection counts a run */
#define ROUNDS_MAX	101
#define FLOWS_MAX	1000000	/* -f */
#define PER_LISTEN	20000	/* connections per listening port */
#define LISTEN_MAX	((N_MAX + PER_LISTEN - 1) / PER_LISTEN)
#define LISTEN_PORT	10001	/* and up; ephemeral ports start above */
#define EPHEMERAL	"20000 65535"
#define BATCH		256	/* connects, then their accepts */
#define SETUP_S		120.0	/* to open every connection of one N */
#define ROUNDS_S	300.0	/* of rounds at one N */
#define NRULES		100	/* per-connection rules */
#define DUMP_BUF	(64 * 1024)	/* sockdiag.c's receive buffer */
#define DUMP_READS_MAX	1000000
#define HIT_EVERY	10	/* one connection in ten has a flow */
#define HOLD_MAX	100000	/* connections a holder process keeps */
#define HOLDERS_MAX	64
#define HOLD_S		3600	/* a holder's life at most */

/*
 * The states sockdiag_dump asks for (sockdiag.c's SD_CONNECTED): neither
 * listening, nor TIME_WAIT, nor closed; the baseline asks for the same.
 */
#define CONNECTED	(1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | \
			 1u << 8 | 1u << 9 | 1u << 11)

enum metric {
	M_BARE,		/* bare dump */
	M_BARE_INFO,	/* bare dump with tcp_info */
	M_DUMP,		/* sockdiag_dump */
	M_RATIO,	/* sockdiag_dump / bare, per round */
	M_MATCH0,	/* match, no socket a flow */
	M_MATCH10,	/* match, one connection in ten a flow */
	M_TICK,		/* conns_tick, NRULES rules, wall */
	M_TICK_CPU,	/* the same, this thread's CPU */
	M_HELD,		/* the state lock, within it */
	M_HELD1,	/* the state lock, conns_tick with one rule */
	M_MAX
};

struct result {
	long	n;		/* connections */
	size_t	sockets;	/* dumped */
	int	rounds;
	double	p50[M_MAX], p90[M_MAX];
};

struct seen {
	struct sockdiag_conn	*v;
	size_t			 n, cap;
	int			 nomem;
};

static struct {
	char		 ns[64];
	int		 ns_made;
	int		 lfd[LISTEN_MAX];
	int		 nlisten;
	pid_t		 holders[HOLDERS_MAX];	/* keep the sockets */
	int		 nholders;
	uint16_t	*cport;		/* each connection's client port */
	size_t		 nconn;
	struct reg	*reg;
	int		 diag_fd;	/* the baseline's */
	uint32_t	 diag_seq;
	char		 buf[DUMP_BUF];
} g;

static long opt_ns[NS_MAX] = { 1000, 10000, 50000 };
static int opt_nns = NS_MAX, opt_rounds = 21;
static long opt_flows = 100000;

/* ---- the state lock, timed --------------------------------------------- */

/*
 * Linked with --wrap=dispatch_lock,--wrap=dispatch_unlock: conns.c's
 * calls come here, and this file's calls to __real_* reach dispatch.c.
 */
void __real_dispatch_lock(struct dispatch *);
void __real_dispatch_unlock(struct dispatch *);
void __wrap_dispatch_lock(struct dispatch *);
void __wrap_dispatch_unlock(struct dispatch *);

static double lock_at, lock_held;

void
__wrap_dispatch_lock(struct dispatch *d)
{
	__real_dispatch_lock(d);
	lock_at = bench_now_s();
}

void
__wrap_dispatch_unlock(struct dispatch *d)
{
	lock_held = bench_now_s() - lock_at;
	__real_dispatch_unlock(d);
}

/* ---- setup ------------------------------------------------------------- */

static void
cleanup(void)
{
	int i, status;

	/* They keep nothing but the sockets, which go with them. */
	for (i = 0; i < g.nholders; i++) {
		kill(g.holders[i], SIGKILL);
		waitpid(g.holders[i], &status, 0);
	}
	g.nholders = 0;
	if (g.diag_fd > 0)
		close(g.diag_fd);
	if (g.ns_made)
		bench_sh("ip netns del %s", g.ns);
	g.ns_made = 0;
	reg_free(g.reg);
	free(g.cport);
}

static int
write_file(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, e;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = write(fd, s, len);
	e = errno;
	close(fd);
	if (n != (ssize_t)len)
		return n < 0 ? -e : -EIO;
	return 0;
}

static int
ns_enter(void)
{
	char path[128];
	int fd, rc;

	snprintf(g.ns, sizeof(g.ns), "sctconns%d", (int)getpid());
	if (bench_sh("ip netns add %s", g.ns) != 0)
		return -1;
	g.ns_made = 1;
	snprintf(path, sizeof(path), "/var/run/netns/%s", g.ns);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "bench_conns: %s: %s\n", path, strerror(errno));
		return -1;
	}
	rc = setns(fd, CLONE_NEWNET);
	close(fd);
	if (rc != 0) {
		fprintf(stderr, "bench_conns: setns: %s\n", strerror(errno));
		return -1;
	}
	if (bench_sh("ip link set lo up") != 0)
		return -1;
	/*
	 * Each listening port takes PER_LISTEN connections, each its own
	 * ephemeral port; the namespace's range is its own.
	 */
	if ((rc = write_file("/proc/sys/net/ipv4/ip_local_port_range",
	    EPHEMERAL)) != 0) {
		fprintf(stderr, "bench_conns: ip_local_port_range: %s\n",
		    strerror(-rc));
		return -1;
	}
	return 0;
}

static void
loopback(struct sockaddr_in6 *a, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->sin6_family = AF_INET6;
	a->sin6_addr = in6addr_loopback;
	a->sin6_port = htons(port);
}

static int
listen_open(long nmax)
{
	struct sockaddr_in6 a;
	int i, fd, want;

	want = (int)((nmax + PER_LISTEN - 1) / PER_LISTEN);
	for (i = 0; i < want; i++) {
		loopback(&a, (uint16_t)(LISTEN_PORT + i));
		if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0 ||
		    bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
		    listen(fd, 4096) != 0) {
			fprintf(stderr, "bench_conns: listen on [::1]:%d: %s\n",
			    LISTEN_PORT + i, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		g.lfd[g.nlisten++] = fd;
	}
	return 0;
}

/* Up to want accepted connections; how many. */
static size_t
accept_some(size_t want)
{
	struct pollfd pfd[LISTEN_MAX];
	size_t got = 0;
	int i;

	for (i = 0; i < g.nlisten; i++) {
		pfd[i].fd = g.lfd[i];
		pfd[i].events = POLLIN;
	}
	if (poll(pfd, (nfds_t)g.nlisten, 100) <= 0)
		return 0;
	/* Kept open by this process, which only waits from now on. */
	for (i = 0; i < g.nlisten && got < want; i++)
		while (got < want && accept4(g.lfd[i], NULL, NULL,
		    SOCK_CLOEXEC) >= 0)
			got++;
	return got;
}

/*
 * A holder (a child): connections first..first+n-1, both ends, opened
 * BATCH connects (non-blocking) at a time, then their accepts so that no
 * accept queue overflows; their client ports to wfd; then it keeps them
 * until it is killed or the benchmark's process is gone.
 */
static void __attribute__((noreturn))
hold(pid_t parent, size_t first, size_t n, int wfd)
{
	struct sockaddr_in6 a, la;
	struct rlimit rl;
	socklen_t len;
	uint16_t *port;
	size_t i, c, want, got, done = 0;
	double t0 = bench_now_s();
	ssize_t w;
	int fd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((port = calloc(n, sizeof(*port))) == NULL)
		_exit(1);
	while (done < n) {
		if (bench_stop || bench_now_s() - t0 > SETUP_S) {
			fprintf(stderr, "bench_conns: %zu of %zu connections "
			    "open after %.0f s\n", done, n, bench_now_s() - t0);
			_exit(1);
		}
		want = n - done < BATCH ? n - done : BATCH;
		for (i = 0; i < want; i++) {
			c = first + done + i;
			loopback(&a, (uint16_t)(LISTEN_PORT +
			    c % (size_t)g.nlisten));
			len = sizeof(la);
			if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK |
			    SOCK_CLOEXEC, 0)) < 0 ||
			    (connect(fd, (struct sockaddr *)&a,
			    sizeof(a)) != 0 && errno != EINPROGRESS) ||
			    getsockname(fd, (struct sockaddr *)&la,
			    &len) != 0) {
				fprintf(stderr, "bench_conns: connection %zu: "
				    "%s\n", c, strerror(errno));
				_exit(1);
			}
			port[done + i] = ntohs(la.sin6_port);
		}
		for (got = 0; got < want; got += accept_some(want - got))
			if (bench_stop || bench_now_s() - t0 > SETUP_S) {
				fprintf(stderr, "bench_conns: %zu of %zu "
				    "accepted\n", got, want);
				_exit(1);
			}
		done += want;
	}
	for (i = 0; i < n * sizeof(*port); i += (size_t)w)
		if ((w = write(wfd, (char *)port + i, n * sizeof(*port) -
		    i)) <= 0)
			_exit(1);
	close(wfd);
	for (i = 0; i < HOLD_S && getppid() == parent; i++)
		sleep(1);
	_exit(0);
}

/* Connections 0..n-1 open, in holders of per connections at most. */
static int
conns_open(size_t n)
{
	struct pollfd pfd;
	struct rlimit rl;
	size_t k, per, got;
	double t0;
	ssize_t r;
	pid_t pid, self = getpid();
	void *p;
	int fds[2];

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max < 1024)
		return -1;
	/* Both ends, and what the holder inherits. */
	per = rl.rlim_max > 2 * HOLD_MAX + 256 ? HOLD_MAX :
	    (size_t)(rl.rlim_max - 256) / 2;
	if ((p = realloc(g.cport, n * sizeof(*g.cport))) == NULL)
		return -1;
	g.cport = p;
	while (g.nconn < n && !bench_stop) {
		if (g.nholders == HOLDERS_MAX) {
			fprintf(stderr, "bench_conns: over %d holders\n",
			    HOLDERS_MAX);
			return -1;
		}
		k = n - g.nconn < per ? n - g.nconn : per;
		if (pipe2(fds, O_CLOEXEC) != 0)
			return -1;
		fflush(NULL);
		if ((pid = fork()) < 0) {
			close(fds[0]);
			close(fds[1]);
			return -1;
		}
		if (pid == 0) {
			close(fds[0]);
			hold(self, g.nconn, k, fds[1]);
		}
		g.holders[g.nholders++] = pid;
		close(fds[1]);
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		t0 = bench_now_s();
		for (got = 0; got < k * sizeof(*g.cport); got += (size_t)r) {
			r = 0;
			if (bench_now_s() - t0 > SETUP_S + 10)
				break;
			if (poll(&pfd, 1, 1000) <= 0)
				continue;
			if ((r = read(fds[0], (char *)(g.cport + g.nconn) +
			    got, k * sizeof(*g.cport) - got)) <= 0)
				break;
		}
		close(fds[0]);
		if (got != k * sizeof(*g.cport)) {
			fprintf(stderr, "bench_conns: a holder of %zu "
			    "connections failed\n", k);
			return -1;
		}
		g.nconn += k;
	}
	return g.nconn == n ? 0 : -1;
}

/* ---- the dumps ---------------------------------------------------------- */

/*
 * The baseline: both families' connected TCP sockets, asked for as
 * sockdiag_dump asks (info: with each one's tcp_info), received into a
 * buffer of sockdiag.c's size until NLMSG_DONE; messages counted, not
 * parsed.
 */
static int
bare_dump(int info, size_t *n)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct {
		struct nlmsghdr		nh;
		struct inet_diag_req_v2	req;
	} m;
	struct sockaddr_nl sa;
	const struct nlmsghdr *nh;
	unsigned int rem;
	ssize_t got;
	size_t i, reads;
	int done;

	*n = 0;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.nh.nlmsg_len = sizeof(m);
		m.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
		m.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
		m.nh.nlmsg_seq = ++g.diag_seq;
		m.req.sdiag_family = (uint8_t)families[i];
		m.req.sdiag_protocol = IPPROTO_TCP;
		m.req.idiag_ext = info ? 1u << (INET_DIAG_INFO - 1) : 0;
		m.req.idiag_states = CONNECTED;
		memset(&sa, 0, sizeof(sa));
		sa.nl_family = AF_NETLINK;
		if (sendto(g.diag_fd, &m, sizeof(m), 0, (struct sockaddr *)&sa,
		    sizeof(sa)) != (ssize_t)sizeof(m))
			return -errno;
		for (done = 0, reads = 0; !done; reads++) {
			if (reads == DUMP_READS_MAX)
				return -E2BIG;
			if ((got = recv(g.diag_fd, g.buf, sizeof(g.buf),
			    0)) < 0) {
				if (errno == EINTR)
					continue;
				return errno == EAGAIN ? -ETIMEDOUT : -errno;
			}
			rem = (unsigned int)got;
			for (nh = (const struct nlmsghdr *)g.buf;
			    NLMSG_OK(nh, rem); nh = NLMSG_NEXT(nh, rem)) {
				if (nh->nlmsg_seq != g.diag_seq)
					continue;
				if (nh->nlmsg_type == NLMSG_DONE) {
					done = 1;
					break;
				}
				if (nh->nlmsg_type == NLMSG_ERROR)
					return -EPROTO;
				(*n)++;
			}
		}
	}
	return 0;
}

static int
bare_open(void)
{
	struct timeval tv = { .tv_sec = 2 };

	if ((g.diag_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0) {
		fprintf(stderr, "bench_conns: sock_diag socket: %s\n",
		    strerror(errno));
		return -1;
	}
	/* As sockdiag.c: a kernel that stops answering ends the run. */
	(void)setsockopt(g.diag_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

/* As conns.c's seen(): the array is kept from one scan to the next. */
static void
seen_add(void *arg, const struct sockdiag_conn *c)
{
	struct seen *s = arg;
	size_t ncap;
	void *p;

	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 64;
		if ((p = realloc(s->v, ncap * sizeof(*s->v))) == NULL) {
			s->nomem = 1;
			return;
		}
		s->v = p;
		s->cap = ncap;
	}
	s->v[s->n++] = *c;
}

/* conns.c's match(): each socket's exact rule, looked up in the table. */
static size_t
match_all(const struct flows *t, const struct seen *s)
{
	const struct sockdiag_conn *c;
	struct marker_rule r;
	struct flows_flow f;
	size_t i, hits = 0;

	for (i = 0; i < s->n; i++) {
		c = &s->v[i];
		conns_exact_rule(c, &r);
		if (flows_find_match(t, &r, &f) == 0)
			hits++;
	}
	return hits;
}

/* ---- the flow table ----------------------------------------------------- */

static int
noop_add(void *arg, const struct marker_rule *r, uint32_t *label, char *err,
    size_t errlen)
{
	*label = 0;
	return 0;
}

static int
noop_del(void *arg, const struct marker_rule *r, char *err, size_t errlen)
{
	return 0;
}

static int
spec(const char *src, uint32_t sport, const char *dst, uint32_t dport,
    int per_conn, struct flowreq_spec *out)
{
	struct flowreq_in in = {
		.protocol = IPPROTO_TCP,
		.src = src,
		.src_port = sport,
		.dst = dst,
		.dst_port = dport,
		.experiment = "atlas",
		.activity = "default",
		.application = "bench",
		.per_conn = per_conn,
	};
	char err[256];

	if (flowreq_parse(&in, g.reg, TAG_STRAT_FLOW_LABEL, out, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: flow %s %s: %s\n", src, dst, err);
		return -1;
	}
	return 0;
}

static int
start(struct flows *t, const struct flowreq_spec *s, struct flows_flow *v)
{
	char err[256];
	int created = 0;

	if (flows_start(t, s, "bench", 0, v, &created, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: flows_start: %s\n", err);
		return -1;
	}
	if (!created) {
		fprintf(stderr, "bench_conns: flows_start: not a new flow\n");
		return -1;
	}
	return 0;
}

/*
 * nflows exact flows to remote hosts in 2001:db8::/32, none of them a
 * connection here, and room for extra more.
 */
static struct flows *
table_new(uint32_t nflows, uint32_t extra)
{
	struct flows_opts o = {
		.capacity = nflows + extra > 0 ? nflows + extra : 1,
		.backend = { noop_add, noop_del, NULL, NULL },
		.reg = g.reg,
	};
	struct flowreq_spec base, s;
	struct flows_flow v;
	struct flows *t;
	char err[256];
	uint32_t i;

	if (flows_new(&o, &t, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: flows_new: %s\n", err);
		return NULL;
	}
	if (spec("2001:db8:ff::1", 1094, "2001:db8::1", 40000, 0, &base) != 0)
		goto fail;
	for (i = 0; i < nflows; i++) {
		s = base;
		s.rule.dst[4] = (uint8_t)(i >> 24);
		s.rule.dst[5] = (uint8_t)(i >> 16);
		s.rule.dst[14] = (uint8_t)(i >> 8);
		s.rule.dst[15] = (uint8_t)i;
		s.rule.sport = (uint16_t)(1024 + i % 60000);
		if (start(t, &s, &v) != 0)
			goto fail;
	}
	return t;
fail:
	flows_free(t);
	return NULL;
}

/* One connection in HIT_EVERY: its client end's exact flow. */
static int
table_add_hits(struct flows *t, size_t n, size_t *hits)
{
	struct flowreq_spec s;
	struct flows_flow v;
	size_t c;

	*hits = 0;
	for (c = 0; c < n; c += HIT_EVERY) {
		if (spec("::1", g.cport[c], "::1", (uint32_t)(LISTEN_PORT +
		    c % (size_t)g.nlisten), 0, &s) != 0 || start(t, &s, &v) != 0)
			return -1;
		(*hits)++;
	}
	return 0;
}

/*
 * NRULES per-connection rules, started in the table and told to cs as
 * the agent's flow events would: NRULES - 1 for remote sites that no
 * connection here reaches, and one for [::1] that takes every socket
 * without a flow of its own, so that each is looked at by every rule.
 * cs1 is told of the last only: what the rules' number costs.
 */
static int
rules_add(struct flows *t, struct conns *cs, struct conns *cs1)
{
	struct flowreq_spec s;
	struct flows_flow v;
	char dst[64];
	int i;

	for (i = 0; i < NRULES; i++) {
		if (i < NRULES - 1)
			snprintf(dst, sizeof(dst), "2001:db8:%x::/48", i + 1);
		else
			snprintf(dst, sizeof(dst), "::1");
		if (spec("", 0, dst, 0, 1, &s) != 0 || start(t, &s, &v) != 0)
			return -1;
		conns_flow(cs, FLOWS_STARTED, &v);
		if (i == NRULES - 1)
			conns_flow(cs1, FLOWS_STARTED, &v);
	}
	return 0;
}

/* ---- one N --------------------------------------------------------------- */

static double
ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) +
	    (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* p50 and p90 (nearest rank) of v[0..n-1], sorted here. */
static void
stats(double *v, int n, double *p50, double *p90)
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_double);
	*p50 = v[n / 2];
	*p90 = v[(9 * n + 9) / 10 - 1];
}

struct ctx {
	struct flows		*t0, *t10;
	struct conns		*cs, *cs1;	/* NRULES rules; one */
	struct dispatch		*d;
	struct sockdiag_q	*q;
	struct seen		 s;
	size_t			 sockets, hits, tracked;
	uint64_t		 now_ms;
};

/* One scan of cs: wall and CPU seconds, and the state lock's share. */
static int
tick(struct ctx *x, struct conns *cs, double *wall, double *cpu,
    double *held)
{
	struct conns_stats st;
	struct timespec c0, c1;
	double t0;

	/* A scan is due at every call. */
	x->now_ms += 1000000;
	lock_held = -1;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	t0 = bench_now_s();
	(void)conns_tick(cs, x->d, x->now_ms);
	*wall = bench_now_s() - t0;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	*cpu = ts_diff(&c0, &c1);
	*held = lock_held;
	/* Single-threaded here: nobody else takes the state lock. */
	conns_stats(cs, &st);
	if (lock_held < 0 || st.scan_errors != 0 ||
	    st.tracked != x->tracked) {
		fprintf(stderr, "bench_conns: conns_tick: %llu scan errors, "
		    "%u connections tracked of %zu\n",
		    (unsigned long long)st.scan_errors, st.tracked,
		    x->tracked);
		return -1;
	}
	return 0;
}

/* One round: every measurement once, into v[m][r]. */
static int
round_one(struct ctx *x, double v[M_MAX][ROUNDS_MAX], int r)
{
	double wall, cpu, t0;
	char err[256];
	size_t n;
	int i, ten, rc;

	t0 = bench_now_s();
	if ((rc = bare_dump(0, &n)) != 0 || n != x->sockets) {
		fprintf(stderr, "bench_conns: bare dump: %s, %zu sockets of "
		    "%zu\n", strerror(-rc), n, x->sockets);
		return -1;
	}
	v[M_BARE][r] = bench_now_s() - t0;
	t0 = bench_now_s();
	if ((rc = bare_dump(1, &n)) != 0 || n != x->sockets) {
		fprintf(stderr, "bench_conns: bare dump with tcp_info: %s, "
		    "%zu sockets of %zu\n", strerror(-rc), n, x->sockets);
		return -1;
	}
	v[M_BARE_INFO][r] = bench_now_s() - t0;

	x->s.n = 0;
	x->s.nomem = 0;
	t0 = bench_now_s();
	rc = sockdiag_dump(x->q, seen_add, &x->s, CONNS_SCAN_MAX, &n, err,
	    sizeof(err));
	v[M_DUMP][r] = bench_now_s() - t0;
	if (rc != 0 || x->s.nomem || x->s.n != x->sockets) {
		fprintf(stderr, "bench_conns: sockdiag_dump: %s, %zu sockets "
		    "of %zu\n", rc ? err : x->s.nomem ? "out of memory" : "ok",
		    x->s.n, x->sockets);
		return -1;
	}
	v[M_RATIO][r] = v[M_DUMP][r] / v[M_BARE][r];

	/*
	 * Each table first in every other round: neither gets the other's
	 * warm caches.
	 */
	for (i = 0; i < 2; i++) {
		ten = (i + r) % 2;
		t0 = bench_now_s();
		n = match_all(ten ? x->t10 : x->t0, &x->s);
		v[ten ? M_MATCH10 : M_MATCH0][r] = bench_now_s() - t0;
		if (n != (ten ? x->hits : 0)) {
			fprintf(stderr, "bench_conns: %zu sockets matched a "
			    "flow, not %zu\n", n, ten ? x->hits : 0);
			return -1;
		}
	}
	if (tick(x, x->cs, &v[M_TICK][r], &v[M_TICK_CPU][r],
	    &v[M_HELD][r]) != 0 ||
	    tick(x, x->cs1, &wall, &cpu, &v[M_HELD1][r]) != 0)
		return -1;
	return 0;
}

static int
run_n(struct flows *t0, struct sockdiag_q *q, long nconn, struct result *res)
{
	static double v[M_MAX][ROUNDS_MAX];
	struct conns_opts co;
	struct dispatch d;
	struct ctx x;
	char err[256];
	double start;
	int m, r, rc = -1, locks = 0;

	memset(&x, 0, sizeof(x));
	memset(&d, 0, sizeof(d));
	memset(res, 0, sizeof(*res));
	res->n = nconn;
	x.t0 = t0;
	x.q = q;
	x.d = &d;
	x.sockets = 2 * (size_t)nconn;
	fprintf(stderr, "bench_conns: %ld connections: flow table of %ld "
	    "flows and their own for 1 in %d\n", nconn, opt_flows, HIT_EVERY);
	if ((x.t10 = table_new((uint32_t)opt_flows, (uint32_t)(nconn /
	    HIT_EVERY + 1 + NRULES))) == NULL ||
	    table_add_hits(x.t10, (size_t)nconn, &x.hits) != 0)
		goto out;
	/* Every socket but the client ends with a flow of their own. */
	x.tracked = x.sockets - x.hits;
	if (dispatch_init(&d) != 0) {
		fprintf(stderr, "bench_conns: dispatch_init failed\n");
		goto out;
	}
	locks = 1;
	memset(&co, 0, sizeof(co));
	co.flows = x.t10;
	co.scan_ms = 1000;
	if (conns_new(&co, &x.cs, err, sizeof(err)) != 0 ||
	    conns_new(&co, &x.cs1, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: conns_new: %s\n", err);
		goto out;
	}
	if (rules_add(x.t10, x.cs, x.cs1) != 0)
		goto out;
	/* Warm-up: caches, the arrays' room, the first scan's announces. */
	if (round_one(&x, v, 0) != 0)
		goto out;
	start = bench_now_s();
	for (r = 0; r < opt_rounds && !bench_stop; r++) {
		if (bench_now_s() - start > ROUNDS_S) {
			fprintf(stderr, "bench_conns: %d rounds in %.0f s; "
			    "stopping there\n", r, ROUNDS_S);
			break;
		}
		if (round_one(&x, v, r) != 0)
			goto out;
		if ((r + 1) % 5 == 0 || r + 1 == opt_rounds)
			fprintf(stderr, "bench_conns: %ld connections: round "
			    "%d/%d\n", nconn, r + 1, opt_rounds);
	}
	if (bench_stop) {
		fprintf(stderr, "bench_conns: interrupted\n");
		goto out;
	}
	res->sockets = x.sockets;
	res->rounds = r;
	for (m = 0; m < M_MAX; m++)
		stats(v[m], r, &res->p50[m], &res->p90[m]);
	rc = 0;
out:
	conns_free(x.cs);
	conns_free(x.cs1);
	if (locks)
		dispatch_fini(&d);
	flows_free(x.t10);
	free(x.s.v);
	return rc;
}

/* ---- output ------------------------------------------------------------- */

/* "p50 (p90)" in ms, then ns per socket of the p50 (beyond base). */
static void
cell(const struct result *p, enum metric m, double base)
{
	printf(" %.2f (%.2f)", p->p50[m] * 1e3, p->p90[m] * 1e3);
	if (p->sockets > 0)
		printf(" %.0f", (p->p50[m] - base) * 1e9 /
		    (double)p->sockets);
	printf(" |");
}

/* res[0] is the empty namespace's: the dump's cost without sockets. */
static void
print_results(const struct result *res, int nres, const char *load)
{
	const struct result *p, *e = &res[0];
	struct utsname u;
	int i;

	uname(&u);
	printf("Connection scans: kernel %s %s, %ld CPUs online, load average "
	    "before the run %s; %d rounds at each N; ms as p50 (p90), then ns "
	    "per socket; flow table of %ld exact flows\n\n", u.release,
	    u.machine, sysconf(_SC_NPROCESSORS_ONLN), load, res[0].rounds,
	    opt_flows);
	printf("| connections | sockets | bare dump | bare + tcp_info | "
	    "sockdiag_dump | sockdiag_dump / bare |\n"
	    "| --- | --- | --- | --- | --- | --- |\n");
	for (i = 0; i < nres; i++) {
		p = &res[i];
		printf("| %ld | %zu |", p->n, p->sockets);
		cell(p, M_BARE, e->p50[M_BARE]);
		cell(p, M_BARE_INFO, e->p50[M_BARE_INFO]);
		cell(p, M_DUMP, e->p50[M_DUMP]);
		printf(" %.2f (%.2f) |\n", p->p50[M_RATIO], p->p90[M_RATIO]);
	}
	printf("\n(ns per socket in the dumps: beyond the empty namespace's "
	    "dump, the first row)\n\n");
	printf("| connections | match, no flow | match, 1 in %d a flow | "
	    "conns_tick, %d rules | state lock held, 1 rule | state lock "
	    "held, %d rules | CPU of a 1 s scan period |\n"
	    "| --- | --- | --- | --- | --- | --- | --- |\n", HIT_EVERY, NRULES,
	    NRULES);
	for (i = 0; i < nres; i++) {
		p = &res[i];
		printf("| %ld |", p->n);
		cell(p, M_MATCH0, 0);
		cell(p, M_MATCH10, 0);
		cell(p, M_TICK, 0);
		cell(p, M_HELD1, 0);
		cell(p, M_HELD, 0);
		printf(" %.2f %% |\n", p->p50[M_TICK_CPU] * 100);
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_conns [-n connections] [-r rounds] "
	    "[-f flows]\n"
	    "  -n  one connection count, 1..%d (default: 1000, 10000, "
	    "50000)\n"
	    "  -r  rounds at each, 1..%d (21)\n"
	    "  -f  exact flows in the table, 0..%d (100000)\n", N_MAX,
	    ROUNDS_MAX, FLOWS_MAX);
	exit(2);
}

int
main(int argc, char **argv)
{
	struct result res[NS_MAX + 1];
	struct sockdiag_q *q = NULL;
	struct flows *t0 = NULL;
	char load[64] = "?", err[256], *nl;
	long nmax = 0;
	int c, i, nres = 0, rc = 1;
	FILE *f;

	while ((c = getopt(argc, argv, "n:r:f:")) != -1) {
		switch (c) {
		case 'n':
			opt_ns[0] = atol(optarg);
			opt_nns = 1;
			break;
		case 'r':
			opt_rounds = atoi(optarg);
			break;
		case 'f':
			opt_flows = atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (opt_ns[0] < 1 || opt_ns[0] > N_MAX || opt_rounds < 1 ||
	    opt_rounds > ROUNDS_MAX || opt_flows < 0 || opt_flows > FLOWS_MAX)
		usage();
	if (geteuid() != 0) {
		fprintf(stderr, "bench_conns: needs root\n");
		return 1;
	}
	bench_catch_signals();
	log_init("bench_conns", 1, LOG_LVL_WARN);

	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fgets(load, sizeof(load), f) != NULL &&
		    (nl = strchr(load, '\n')) != NULL)
			*nl = '\0';
		fclose(f);
	}
	for (i = 0; i < opt_nns; i++)
		if (opt_ns[i] > nmax)
			nmax = opt_ns[i];
	if (reg_load_builtin(&g.reg, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: registry: %s\n", err);
		goto out;
	}
	if (ns_enter() != 0 || listen_open(nmax) != 0 || bare_open() != 0)
		goto out;
	if (sockdiag_q_open(&q, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench_conns: %s\n", err);
		goto out;
	}
	fprintf(stderr, "bench_conns: flow table of %ld flows, none of them "
	    "a connection here\n", opt_flows);
	if ((t0 = table_new((uint32_t)opt_flows, 0)) == NULL)
		goto out;
	/* The dumps' cost without sockets: the kernel's walk of its table. */
	fprintf(stderr, "bench_conns: the empty namespace\n");
	if (run_n(t0, q, 0, &res[nres]) != 0)
		goto out;
	nres++;
	for (i = 0; i < opt_nns && !bench_stop; i++) {
		fprintf(stderr, "bench_conns: opening %ld connections\n",
		    opt_ns[i]);
		if (conns_open((size_t)opt_ns[i]) != 0 ||
		    run_n(t0, q, opt_ns[i], &res[nres]) != 0)
			goto out;
		nres++;
	}
	if (nres == opt_nns + 1) {
		print_results(res, nres, load);
		rc = 0;
	}
out:
	flows_free(t0);
	sockdiag_q_close(q);
	cleanup();
	return rc;
}
