/*
 * netns.h: network namespaces, veth pairs and sctagd processes for the
 * network tests (tests/net/).
 *
 * Everything created here is recorded, so nt_cleanup() can remove it even
 * when an assertion ended the test half way: namespaces (their veths go
 * with them), pin directories, temporary directories and processes. Names
 * are "sct-<pid>-<n>..." so two runs never collide and nothing of the host
 * is ever touched. Every wait is bounded in time.
 */
#ifndef SCTAG_NETNS_H
#define SCTAG_NETNS_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#define NT_NAME_MAX	64
#define NT_IFNAME_MAX	16	/* IFNAMSIZ: 15 characters and the NUL */

/* Two namespaces joined by one veth pair: the sender A, the receiver B. */
struct nt_pair {
	char	ns_a[NT_NAME_MAX];
	char	ns_b[NT_NAME_MAX];
	char	if_a[NT_IFNAME_MAX];
	char	if_b[NT_IFNAME_MAX];
	char	tmpdir[NT_NAME_MAX * 2];	/* per-pair scratch directory */
	char	pin_dir[NT_NAME_MAX * 3];	/* a unique, not yet existing pin dir */
};

/* Address plan of a pair: A has ::1 and ::11, B has ::2 and ::3. */
#define NT_ADDR_A	"2001:db8::1"
#define NT_ADDR_A2	"2001:db8::11"
#define NT_ADDR_B	"2001:db8::2"
#define NT_ADDR_B2	"2001:db8::3"

/*
 * Can this process run the network tests at all? 0, or -1 with what is
 * missing in why (not root, no network namespaces, no sctagd binary).
 */
int nt_check_privileges(char *why, size_t len);

/* A unique name: "<prefix><pid>-<counter><suffix>"; fits IFNAMSIZ if short. */
void nt_unique(char *buf, size_t len, const char *prefix, const char *suffix);

/*
 * Create A and B, the veth pair, lo up, the addresses above (nodad), and
 * net.ipv6.auto_flowlabels=0 in A so an unmarked packet carries label 0.
 */
int nt_pair_create(struct nt_pair *, char *err, size_t errlen);

/* Run a command (argv, no shell), bounded by timeout_ms; returns its exit
 * status, or -1 (timeout, exec failure). Output goes to out if not NULL. */
int nt_run(char *const argv[], int timeout_ms, char *out, size_t outlen);
/* The same from a format string split on blanks (no quoting). */
int nt_runf(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Move the calling thread into ns (by name); nt_ns_leave returns it. */
int nt_ns_enter(const char *ns, int *saved_fd);
int nt_ns_leave(int saved_fd);

/* A thread that joins ns first, then runs fn(arg). */
int nt_thread_start(pthread_t *, const char *ns, void *(*fn)(void *),
    void *arg);
/* Join, bounded: -ETIMEDOUT if the thread is still running after ms. */
int nt_thread_join(pthread_t, int timeout_ms, void **ret);
/* Run fn(arg) in a thread inside ns and wait for it (bounded). */
int nt_call_in_ns(const char *ns, void *(*fn)(void *), void *arg,
    int timeout_ms, void **ret);

/* sctagd, started in a namespace with its stderr in a log file. */
struct nt_daemon {
	pid_t	pid;
	char	log[NT_NAME_MAX * 3];
	char	fifo[NT_NAME_MAX * 3];	/* "" with --no-pipe */
	int	status;			/* wait status once it exited */
	int	exited;
};

/*
 * Fork; the child joins ns and execs the sctagd that the build names
 * (SCTAGD_PATH) with args (argv[0] is supplied). fifo: the path the daemon
 * will create when ready, or NULL.
 */
int nt_daemon_spawn(struct nt_daemon *, const char *ns,
    const char *const args[], const char *fifo, char *err, size_t errlen);
/* 0 when the FIFO exists; -ESRCH if the daemon exited; -ETIMEDOUT. */
int nt_daemon_wait_ready(struct nt_daemon *, int timeout_ms);
/* 0 and *status when it exited within timeout_ms; -ETIMEDOUT otherwise. */
int nt_daemon_wait_exit(struct nt_daemon *, int timeout_ms);
/* SIGTERM, wait, then SIGKILL. Returns the exit code, or -1 if killed. */
int nt_daemon_stop(struct nt_daemon *, int timeout_ms);
/* Whole log (NUL-terminated, truncated to len). */
int nt_daemon_log(const struct nt_daemon *, char *buf, size_t len);
/* Wait until the log contains needle (bounded). */
int nt_daemon_log_wait(const struct nt_daemon *, const char *needle,
    int timeout_ms);

/* Write to a FIFO (open O_WRONLY|O_NONBLOCK, so it never hangs). */
int nt_fifo_write(const char *path, const void *buf, size_t len);

/* Record things nt_cleanup must remove. */
void nt_track_pin_dir(const char *path);
/* A namespace made outside nt_pair_create, deleted by nt_cleanup. */
void nt_track_ns(const char *name);
void nt_track_pid(pid_t);
void nt_untrack_pid(pid_t);

/* Remove the contents and the directory, and its parent if empty. */
void nt_rm_pin_dir(const char *path);
int nt_path_exists(const char *path);

/*
 * Remove everything recorded: kill processes (TERM, then KILL), delete
 * namespaces, pin and temporary directories. Idempotent; registered with
 * atexit on first use, and meant for Criterion's .fini as well.
 */
void nt_cleanup(void);

/* Monotonic milliseconds. */
long long nt_now_ms(void);
void nt_sleep_ms(int ms);

#endif /* SCTAG_NETNS_H */
