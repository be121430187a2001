/*
 * bench_util.h: what both benchmarks need: a stop flag for Ctrl-C, a
 * monotonic clock in seconds, and a comparison for sorting samples.
 */
#ifndef SCTAG_BENCH_UTIL_H
#define SCTAG_BENCH_UTIL_H

#include <signal.h>
#include <sys/types.h>

/* Set by bench_on_signal; the loops check it to stop early and clean up. */
extern volatile sig_atomic_t bench_stop;

void bench_on_signal(int);
/* SIGINT and SIGTERM to bench_on_signal. */
void bench_catch_signals(void);
double bench_now_s(void);
/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *, const void *);

/* Run a shell command; 0, or -1 (said on stderr) if it failed. */
int bench_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* VmRSS and VmHWM in KiB and the uid of pid; -1 when unreadable. */
int bench_proc_mem(pid_t pid, long *rss, long *hwm, long *uid);

/* Does the first 64 KiB of the file at path (a log) hold needle? */
int bench_file_has(const char *path, const char *needle);

/* Keys in the pinned BPF hash map at path (the agent's rules), walked
 * at most to the map's size; -1 (said on stderr) if unreadable. */
long bench_map_keys(const char *path);

/* The first child of pid (sctagd's network process), or -1. */
pid_t bench_first_child(pid_t pid);

#endif /* SCTAG_BENCH_UTIL_H */
