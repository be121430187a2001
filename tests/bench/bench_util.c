/* bench_util.c: see bench_util.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "bench_util.h"

volatile sig_atomic_t bench_stop;

void
bench_on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

void
bench_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = bench_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

long
bench_map_keys(const char *path)
{
	struct bpf_map_info info;
	uint32_t ilen = sizeof(info);
	uint8_t key[2][256];
	long n = 0;
	int fd, cur = 0;
	void *prev = NULL;

	if ((fd = bpf_obj_get(path)) < 0) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) != 0 ||
	    info.key_size > sizeof(key[0])) {
		close(fd);
		return -1;
	}
	/* Bounded by the map's own size, so a changing map can not loop us. */
	while (n <= (long)info.max_entries &&
	    bpf_map_get_next_key(fd, prev, key[cur]) == 0) {
		prev = key[cur];
		cur ^= 1;
		n++;
	}
	close(fd);
	return n;
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

int
bench_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (rc < 0 || (size_t)rc >= sizeof(cmd))
		return -1;
	rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "bench: '%s' failed (%d)\n", cmd, rc);
		return -1;
	}
	return 0;
}

int
bench_proc_mem(pid_t pid, long *rss, long *hwm, long *uid)
{
	char path[64], line[256];
	FILE *f;

	*rss = *hwm = *uid = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			*rss = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmHWM:", 6) == 0)
			*hwm = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "Uid:", 4) == 0)
			*uid = strtol(line + 4, NULL, 10);
	}
	fclose(f);
	return *rss < 0 ? -1 : 0;
}

pid_t
bench_first_child(pid_t pid)
{
	char path[96];
	long c = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	if (fscanf(f, "%ld", &c) != 1)
		c = -1;
	fclose(f);
	return (pid_t)c;
}

int
bench_file_has(const char *path, const char *needle)
{
	static char buf[1 << 16];
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}
