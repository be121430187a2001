/*
 * bench_util.h: what both benchmarks need: a stop flag for Ctrl-C, a
 * monotonic clock in seconds, and a comparison for sorting samples.
 */
#ifndef SCTAG_BENCH_UTIL_H
#define SCTAG_BENCH_UTIL_H

#include <signal.h>

/* Set by bench_on_signal; the loops check it to stop early and clean up. */
extern volatile sig_atomic_t bench_stop;

void bench_on_signal(int);
double bench_now_s(void);
/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *, const void *);

#endif /* SCTAG_BENCH_UTIL_H */
