/* bench_util.c: see bench_util.h. */
#include <time.h>

#include "bench_util.h"

volatile sig_atomic_t bench_stop;

void
bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

double
bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}
