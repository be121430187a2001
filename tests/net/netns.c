/*
 * netns.c: see netns.h.
 *
 * Namespaces are made with `ip netns add` so they are bind-mounted under
 * /var/run/netns and can be joined by name from any thread or process.
 * Threads join with setns(CLONE_NEWNET), which changes only the calling
 * thread; the mount namespace is never changed, so pins land in the host's
 * bpffs and temporary files stay visible.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

#include "netns.h"

#ifndef SCTAGD_PATH
#error "SCTAGD_PATH must name the built sctagd"
#endif

#define NT_MAX_TRACK	64
#define NT_CMD_MAX	1024
#define NT_ARGV_MAX	48

static pthread_mutex_t track_mu = PTHREAD_MUTEX_INITIALIZER;
static char *tracked_ns[NT_MAX_TRACK];
static char *tracked_pins[NT_MAX_TRACK];
static char *tracked_tmp[NT_MAX_TRACK];
static pid_t tracked_pids[NT_MAX_TRACK];
static int atexit_done;
static unsigned int name_counter;

long long
nt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
nt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void
track_atexit(void)
{
	if (!atexit_done) {
		atexit_done = 1;
		atexit(nt_cleanup);
	}
}

static void
track_str(char **slots, const char *s)
{
	int i;

	pthread_mutex_lock(&track_mu);
	track_atexit();
	for (i = 0; i < NT_MAX_TRACK; i++)
		if (slots[i] && strcmp(slots[i], s) == 0)
			goto out;
	for (i = 0; i < NT_MAX_TRACK; i++)
		if (!slots[i]) {
			slots[i] = strdup(s);
			break;
		}
out:
	pthread_mutex_unlock(&track_mu);
}

void
nt_track_ns(const char *name)
{
	track_str(tracked_ns, name);
}

void
nt_track_pin_dir(const char *path)
{
	track_str(tracked_pins, path);
}

void
nt_track_pid(pid_t pid)
{
	int i;

	pthread_mutex_lock(&track_mu);
	track_atexit();
	for (i = 0; i < NT_MAX_TRACK; i++)
		if (tracked_pids[i] == 0) {
			tracked_pids[i] = pid;
			break;
		}
	pthread_mutex_unlock(&track_mu);
}

void
nt_untrack_pid(pid_t pid)
{
	int i;

	pthread_mutex_lock(&track_mu);
	for (i = 0; i < NT_MAX_TRACK; i++)
		if (tracked_pids[i] == pid)
			tracked_pids[i] = 0;
	pthread_mutex_unlock(&track_mu);
}

void
nt_unique(char *buf, size_t len, const char *prefix, const char *suffix)
{
	unsigned int n;

	pthread_mutex_lock(&track_mu);
	n = name_counter++ % 1000;
	pthread_mutex_unlock(&track_mu);
	snprintf(buf, len, "%s%d-%u%s", prefix, (int)getpid(), n, suffix);
}

int
nt_path_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Wait for pid until deadline; 1 when reaped (status set), 0 if not yet. */
static int
reap_until(pid_t pid, long long deadline, int *status)
{
	pid_t r;

	for (;;) {
		r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 1;
		if (nt_now_ms() >= deadline)
			return 0;
		nt_sleep_ms(10);
	}
}

int
nt_run(char *const argv[], int timeout_ms, char *out, size_t outlen)
{
	long long deadline = nt_now_ms() + timeout_ms;
	size_t used = 0;
	int p[2], status = 0, devnull;
	pid_t pid;
	char sink[512];
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	if (out && outlen)
		out[0] = '\0';
	/* Read until EOF or the deadline: a full pipe must not block it. */
	for (;;) {
		struct pollfd pfd = { p[0], POLLIN, 0 };
		long long left = deadline - nt_now_ms();

		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		if (out && used + 1 < outlen)
			n = read(p[0], out + used, outlen - used - 1);
		else
			n = read(p[0], sink, sizeof(sink));
		if (n <= 0)
			break;
		if (out && used + 1 < outlen && n > 0) {
			used += (size_t)n;
			out[used] = '\0';
		}
	}
	close(p[0]);
	if (!reap_until(pid, deadline, &status)) {
		kill(pid, SIGKILL);
		reap_until(pid, nt_now_ms() + 2000, &status);
		return -1;
	}
	if (!WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int
nt_runf(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[NT_CMD_MAX], *argv[NT_ARGV_MAX], *save = NULL, *tok;
	va_list ap;
	int n = 0;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	for (tok = strtok_r(cmd, " \t", &save); tok && n < NT_ARGV_MAX - 1;
	    tok = strtok_r(NULL, " \t", &save))
		argv[n++] = tok;
	argv[n] = NULL;
	if (n == 0)
		return -1;
	return nt_run(argv, 10000, out, outlen);
}

int
nt_check_privileges(char *why, size_t len)
{
	char out[256];
	pid_t pid;
	int status;

	if (getuid() != 0 || geteuid() != 0) {
		snprintf(why, len, "the network tests need root (uid %d, euid "
		    "%d): they create network namespaces, veth pairs and load "
		    "BPF programs", (int)getuid(), (int)geteuid());
		return -1;
	}
	/* A child tries, so this process keeps its own namespace. */
	if ((pid = fork()) < 0) {
		snprintf(why, len, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
	if (!reap_until(pid, nt_now_ms() + 5000, &status) ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, len, "network namespaces are not available "
		    "(unshare(CLONE_NEWNET) failed; a container without "
		    "CAP_SYS_ADMIN?)");
		return -1;
	}
	if (nt_runf(out, sizeof(out), "ip -V") != 0) {
		snprintf(why, len, "the 'ip' tool (iproute2) is missing: run "
		    "scripts/install-deps.sh");
		return -1;
	}
	if (access(SCTAGD_PATH, X_OK) != 0) {
		snprintf(why, len, "sctagd is not built at %s", SCTAGD_PATH);
		return -1;
	}
	return 0;
}

static int
ns_add(const char *name, char *err, size_t errlen)
{
	char out[512];

	if (nt_runf(out, sizeof(out), "ip netns add %s", name) != 0) {
		snprintf(err, errlen, "ip netns add %s: %s", name, out);
		return -1;
	}
	track_str(tracked_ns, name);
	return 0;
}

int
nt_pair_create(struct nt_pair *p, char *err, size_t errlen)
{
	static const char *const cmds[] = {
		"ip -n %1$s link set lo up",
		"ip -n %2$s link set lo up",
		"ip -n %1$s addr add " NT_ADDR_A "/64 dev %3$s nodad",
		"ip -n %1$s addr add " NT_ADDR_A2 "/64 dev %3$s nodad",
		"ip -n %2$s addr add " NT_ADDR_B "/64 dev %4$s nodad",
		"ip -n %2$s addr add " NT_ADDR_B2 "/64 dev %4$s nodad",
		"ip -n %1$s link set %3$s up",
		"ip -n %2$s link set %4$s up",
		"ip netns exec %1$s sysctl -q -w net.ipv6.auto_flowlabels=0",
		"ip netns exec %2$s sysctl -q -w net.ipv6.auto_flowlabels=0",
	};
	char out[512], cmd[NT_CMD_MAX], tmpl[NT_NAME_MAX * 2];
	char *argv[NT_ARGV_MAX], *save, *tok;
	size_t i;
	int n;

	memset(p, 0, sizeof(*p));
	nt_unique(p->ns_a, sizeof(p->ns_a), "sct-", "-a");
	nt_unique(p->ns_b, sizeof(p->ns_b), "sct-", "-b");
	nt_unique(p->if_a, sizeof(p->if_a), "sct", "a");
	nt_unique(p->if_b, sizeof(p->if_b), "sct", "b");
	nt_unique(tmpl, sizeof(tmpl), "/tmp/sct-", "-XXXXXX");
	if (!mkdtemp(tmpl)) {
		snprintf(err, errlen, "mkdtemp %s: %s", tmpl, strerror(errno));
		return -1;
	}
	snprintf(p->tmpdir, sizeof(p->tmpdir), "%s", tmpl);
	track_str(tracked_tmp, p->tmpdir);
	nt_unique(tmpl, sizeof(tmpl), "/sys/fs/bpf/sct-", "");
	snprintf(p->pin_dir, sizeof(p->pin_dir), "%s/v1", tmpl);
	nt_track_pin_dir(p->pin_dir);

	if (ns_add(p->ns_a, err, errlen) != 0 ||
	    ns_add(p->ns_b, err, errlen) != 0)
		return -1;
	if (nt_runf(out, sizeof(out), "ip link add %s netns %s type veth "
	    "peer name %s netns %s", p->if_a, p->ns_a, p->if_b,
	    p->ns_b) != 0) {
		snprintf(err, errlen, "creating the veth pair: %s", out);
		return -1;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(cmd, sizeof(cmd), cmds[i], p->ns_a, p->ns_b,
		    p->if_a, p->if_b);
#pragma GCC diagnostic pop
		n = 0;
		save = NULL;
		for (tok = strtok_r(cmd, " ", &save); tok && n < NT_ARGV_MAX - 1;
		    tok = strtok_r(NULL, " ", &save))
			argv[n++] = tok;
		argv[n] = NULL;
		if (nt_run(argv, 10000, out, sizeof(out)) != 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
			snprintf(cmd, sizeof(cmd), cmds[i], p->ns_a, p->ns_b,
			    p->if_a, p->if_b);
#pragma GCC diagnostic pop
			snprintf(err, errlen, "%s: %s", cmd, out);
			return -1;
		}
	}
	return 0;
}

static int
open_ns(const char *ns)
{
	char path[NT_NAME_MAX + 32];

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
nt_ns_enter(const char *ns, int *saved_fd)
{
	int fd, rc;

	*saved_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved_fd < 0)
		return -errno;
	if ((fd = open_ns(ns)) < 0) {
		rc = -errno;
		close(*saved_fd);
		*saved_fd = -1;
		return rc;
	}
	rc = setns(fd, CLONE_NEWNET) == 0 ? 0 : -errno;
	close(fd);
	if (rc) {
		close(*saved_fd);
		*saved_fd = -1;
	}
	return rc;
}

int
nt_ns_leave(int saved_fd)
{
	int rc;

	if (saved_fd < 0)
		return -EBADF;
	rc = setns(saved_fd, CLONE_NEWNET) == 0 ? 0 : -errno;
	close(saved_fd);
	return rc;
}

struct ns_thread {
	char	 ns[NT_NAME_MAX];
	void	*(*fn)(void *);
	void	*arg;
	int	 done;
};

static pthread_mutex_t join_mu = PTHREAD_MUTEX_INITIALIZER;

static void *
ns_thread_main(void *v)
{
	struct ns_thread *t = v;
	void *ret = NULL;
	int fd;

	fd = open_ns(t->ns);
	if (fd >= 0 && setns(fd, CLONE_NEWNET) == 0)
		ret = t->fn(t->arg);
	else
		ret = (void *)-1L;
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&join_mu);
	t->done = 1;
	pthread_mutex_unlock(&join_mu);
	return ret;
}

/*
 * The thread's bookkeeping is freed by the joiner; a thread that never
 * finishes leaks it, which only happens when the test is failing anyway.
 */
static struct ns_thread *threads[NT_MAX_TRACK * 4];
static pthread_t thread_ids[NT_MAX_TRACK * 4];

int
nt_thread_start(pthread_t *tid, const char *ns, void *(*fn)(void *),
    void *arg)
{
	struct ns_thread *t;
	size_t i;
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -ENOMEM;
	snprintf(t->ns, sizeof(t->ns), "%s", ns);
	t->fn = fn;
	t->arg = arg;
	if ((rc = pthread_create(tid, NULL, ns_thread_main, t)) != 0) {
		free(t);
		return -rc;
	}
	pthread_mutex_lock(&join_mu);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		if (!threads[i]) {
			threads[i] = t;
			thread_ids[i] = *tid;
			break;
		}
	pthread_mutex_unlock(&join_mu);
	return 0;
}

int
nt_thread_join(pthread_t tid, int timeout_ms, void **ret)
{
	long long deadline = nt_now_ms() + timeout_ms;
	struct ns_thread *t = NULL;
	size_t i, slot = 0;
	int done;

	pthread_mutex_lock(&join_mu);
	for (i = 0; i < sizeof(threads) / sizeof(threads[0]); i++)
		if (threads[i] && pthread_equal(thread_ids[i], tid)) {
			t = threads[i];
			slot = i;
			break;
		}
	pthread_mutex_unlock(&join_mu);
	if (t) {
		for (;;) {
			pthread_mutex_lock(&join_mu);
			done = t->done;
			pthread_mutex_unlock(&join_mu);
			if (done)
				break;
			if (nt_now_ms() >= deadline)
				return -ETIMEDOUT;
			nt_sleep_ms(5);
		}
	}
	pthread_join(tid, ret);
	if (t) {
		pthread_mutex_lock(&join_mu);
		threads[slot] = NULL;
		pthread_mutex_unlock(&join_mu);
		free(t);
	}
	return 0;
}

int
nt_call_in_ns(const char *ns, void *(*fn)(void *), void *arg,
    int timeout_ms, void **ret)
{
	pthread_t tid;
	int rc;

	if ((rc = nt_thread_start(&tid, ns, fn, arg)) != 0)
		return rc;
	return nt_thread_join(tid, timeout_ms, ret);
}

int
nt_daemon_spawn(struct nt_daemon *d, const char *ns,
    const char *const args[], const char *fifo, char *err, size_t errlen)
{
	const char *argv[NT_ARGV_MAX];
	sigset_t none;
	int nsfd, logfd, devnull, n = 0;
	pid_t pid;

	d->pid = 0;
	d->exited = 0;
	d->status = 0;
	snprintf(d->fifo, sizeof(d->fifo), "%s", fifo ? fifo : "");
	if (!d->log[0]) {
		snprintf(err, errlen, "no log path set");
		return -EINVAL;
	}
	argv[n++] = SCTAGD_PATH;
	while (args && args[n - 1] && n < NT_ARGV_MAX - 1) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if ((nsfd = open_ns(ns)) < 0) {
		snprintf(err, errlen, "netns %s: %s", ns, strerror(errno));
		return -errno;
	}
	logfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (logfd < 0) {
		snprintf(err, errlen, "%s: %s", d->log, strerror(errno));
		close(nsfd);
		return -errno;
	}
	sigemptyset(&none);
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(nsfd);
		close(logfd);
		return -errno;
	}
	if (pid == 0) {
		/* Should the test process die, the daemon stops cleanly. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (setns(nsfd, CLONE_NEWNET) != 0)
			_exit(126);
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execv(SCTAGD_PATH, (char *const *)argv);
		_exit(127);
	}
	close(nsfd);
	close(logfd);
	d->pid = pid;
	nt_track_pid(pid);
	return 0;
}

int
nt_daemon_wait_exit(struct nt_daemon *d, int timeout_ms)
{
	pid_t r;
	long long deadline = nt_now_ms() + timeout_ms;

	if (d->exited)
		return 0;
	if (d->pid <= 0)
		return -ESRCH;
	for (;;) {
		r = waitpid(d->pid, &d->status, WNOHANG);
		if (r == d->pid) {
			d->exited = 1;
			nt_untrack_pid(d->pid);
			return 0;
		}
		if (r < 0)
			return -errno;
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(10);
	}
}

int
nt_daemon_wait_ready(struct nt_daemon *d, int timeout_ms)
{
	long long deadline = nt_now_ms() + timeout_ms;
	struct stat st;

	for (;;) {
		if (nt_daemon_wait_exit(d, 0) == 0)
			return -ESRCH;
		if (d->fifo[0] && stat(d->fifo, &st) == 0 &&
		    S_ISFIFO(st.st_mode))
			return 0;
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(10);
	}
}

int
nt_daemon_stop(struct nt_daemon *d, int timeout_ms)
{
	if (d->pid <= 0)
		return -1;
	if (!d->exited) {
		kill(d->pid, SIGTERM);
		if (nt_daemon_wait_exit(d, timeout_ms) != 0) {
			kill(d->pid, SIGKILL);
			nt_daemon_wait_exit(d, 2000);
			return -1;
		}
	}
	if (WIFEXITED(d->status))
		return WEXITSTATUS(d->status);
	return -1;
}

int
nt_daemon_log(const struct nt_daemon *d, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = open(d->log, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

int
nt_daemon_log_wait(const struct nt_daemon *d, const char *needle,
    int timeout_ms)
{
	long long deadline = nt_now_ms() + timeout_ms;
	static char buf[1 << 18];

	for (;;) {
		if (nt_daemon_log(d, buf, sizeof(buf)) == 0 &&
		    strstr(buf, needle))
			return 0;
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(20);
	}
}

int
nt_fifo_write(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;
	int fd, rc = 0;

	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return -errno;
	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			rc = -errno;
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return rc;
}

/* Everything below dir, subdirectories too (bounded: depth 4, 1,000 each). */
static void
rm_tree_contents(const char *dir, int depth)
{
	char path[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (depth > 4 || (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n++ < 1000) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0 && errno == EISDIR) {
			rm_tree_contents(path, depth + 1);
			rmdir(path);
		}
	}
	closedir(d);
}

static void
rm_dir_contents(const char *dir)
{
	rm_tree_contents(dir, 0);
}

void
nt_rm_pin_dir(const char *path)
{
	char parent[1024], *slash;

	rm_dir_contents(path);
	rmdir(path);
	snprintf(parent, sizeof(parent), "%s", path);
	if ((slash = strrchr(parent, '/')) != NULL && slash != parent) {
		*slash = '\0';
		/* Only our own parents: never the bpffs root. */
		if (strncmp(parent, "/sys/fs/bpf/sct-", 16) == 0)
			rmdir(parent);
	}
}

void
nt_cleanup(void)
{
	char out[256];
	int i, status;

	pthread_mutex_lock(&track_mu);
	for (i = 0; i < NT_MAX_TRACK; i++) {
		if (tracked_pids[i] <= 0)
			continue;
		kill(tracked_pids[i], SIGTERM);
		if (!reap_until(tracked_pids[i], nt_now_ms() + 3000,
		    &status)) {
			kill(tracked_pids[i], SIGKILL);
			reap_until(tracked_pids[i], nt_now_ms() + 2000,
			    &status);
		}
		tracked_pids[i] = 0;
	}
	for (i = 0; i < NT_MAX_TRACK; i++) {
		if (!tracked_ns[i])
			continue;
		nt_runf(out, sizeof(out), "ip netns del %s", tracked_ns[i]);
		free(tracked_ns[i]);
		tracked_ns[i] = NULL;
	}
	for (i = 0; i < NT_MAX_TRACK; i++) {
		if (!tracked_pins[i])
			continue;
		nt_rm_pin_dir(tracked_pins[i]);
		free(tracked_pins[i]);
		tracked_pins[i] = NULL;
	}
	for (i = 0; i < NT_MAX_TRACK; i++) {
		if (!tracked_tmp[i])
			continue;
		rm_dir_contents(tracked_tmp[i]);
		rmdir(tracked_tmp[i]);
		free(tracked_tmp[i]);
		tracked_tmp[i] = NULL;
	}
	pthread_mutex_unlock(&track_mu);
}
