/*
 * test_log.c: level names and filtering, the stderr line format, escaping
 * of hostile text, and the rate limiter. Each Criterion test runs in its
 * own process, so redirecting stderr here touches no other test.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "log.h"

static int	saved_stderr = -1;

/* Send stderr to a temporary file for the length of one test. */
static void
capture_start(void)
{
	char	path[] = "/tmp/test_log_XXXXXX";
	int	fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	cr_assert_geq(saved_stderr, 0);
	cr_assert_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Restore stderr and return what was written (free it). */
static char *
capture_end(void)
{
	char	*buf;
	off_t	 n;

	n = lseek(STDERR_FILENO, 0, SEEK_END);
	cr_assert_geq(n, 0);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(STDERR_FILENO, buf, (size_t)n, 0), n);
	cr_assert_eq(dup2(saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(saved_stderr);
	return buf;
}

static int
count_lines(const char *s)
{
	int	n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

Test(log, level_names)
{
	cr_assert_eq(log_level_parse("err"), LOG_LVL_ERR);
	cr_assert_eq(log_level_parse("warn"), LOG_LVL_WARN);
	cr_assert_eq(log_level_parse("info"), LOG_LVL_INFO);
	cr_assert_eq(log_level_parse("debug"), LOG_LVL_DEBUG);
	cr_assert_eq(log_level_parse("DEBUG"), LOG_LVL_DEBUG);
	cr_assert_eq(log_level_parse("error"), -1);
	cr_assert_eq(log_level_parse("warning"), -1);
	cr_assert_eq(log_level_parse(""), -1);
	cr_assert_eq(log_level_parse(NULL), -1);
	cr_assert_str_eq(log_level_name(LOG_LVL_ERR), "err");
	cr_assert_str_eq(log_level_name(LOG_LVL_DEBUG), "debug");
	cr_assert_str_eq(log_level_name((enum log_level)7), "?");
	cr_assert_str_eq(log_level_name((enum log_level)-1), "?");
}

Test(log, set_get)
{
	cr_assert_eq(log_get_level(), LOG_LVL_INFO, "default is info");
	log_set_level(LOG_LVL_DEBUG);
	cr_assert_eq(log_get_level(), LOG_LVL_DEBUG);
	log_init("test", 1, LOG_LVL_WARN);
	cr_assert_eq(log_get_level(), LOG_LVL_WARN);
	/* Out-of-range levels are clamped, never stored as garbage. */
	log_set_level((enum log_level)42);
	cr_assert_eq(log_get_level(), LOG_LVL_DEBUG);
}

Test(log, stderr_format)
{
	regex_t	 re;
	char	*out;

	log_init("test", 1, LOG_LVL_INFO);
	capture_start();
	log_warn("disk %s is %d%% full", "sda", 93);
	out = capture_end();
	cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:"
	    "[0-9]{2}:[0-9]{2}\\.[0-9]{3}[+-][0-9]{4} warn: disk sda is 93% "
	    "full\n$", REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, out, 0, NULL, 0), 0, "line: '%s'", out);
	regfree(&re);
	free(out);
}

Test(log, level_filter)
{
	char	*out;

	log_init("test", 1, LOG_LVL_WARN);
	capture_start();
	log_err("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	out = capture_end();
	cr_assert_eq(count_lines(out), 2, "%s", out);
	cr_assert(strstr(out, "err: e\n") != NULL, "%s", out);
	cr_assert(strstr(out, "warn: w\n") != NULL, "%s", out);
	free(out);

	log_set_level(LOG_LVL_DEBUG);
	capture_start();
	log_debug("d");
	log_msg(LOG_LVL_INFO, "i");
	out = capture_end();
	cr_assert_eq(count_lines(out), 2, "%s", out);
	cr_assert(strstr(out, "debug: d\n") != NULL, "%s", out);
	free(out);
}

Test(log, escapes_control_characters)
{
	char	*out, *p;

	log_init("test", 1, LOG_LVL_INFO);
	capture_start();
	/* A peer's text must not forge a second log line. */
	log_info("name '%s'", "x\n2025-01-01T00:00:00 err: forged\r\x1b[2J");
	/* One trailing newline (libbpf style) is dropped, not doubled. */
	log_info("from libbpf\n");
	out = capture_end();
	cr_assert_eq(count_lines(out), 2, "%s", out);
	p = strstr(out, "info: name 'x\\x0a2025-01-01T00:00:00 err: forged"
	    "\\x0d\\x1b[2J'\n");
	cr_assert_not_null(p, "%s", out);
	cr_assert_not_null(strstr(out, "info: from libbpf\n"), "%s", out);
	free(out);
}

Test(log, long_lines_are_cut_visibly)
{
	char	*big, *out;

	big = malloc(10000);
	cr_assert_not_null(big);
	memset(big, 'a', 9999);
	big[9999] = '\0';
	log_init("test", 1, LOG_LVL_INFO);
	capture_start();
	log_info("%s", big);
	out = capture_end();
	cr_assert_eq(count_lines(out), 1);
	cr_assert_lt(strlen(out), 4096, "one write(2) must stay atomic");
	cr_assert(strstr(out, "aaa...\n") != NULL, "no cut marker");
	free(out);

	/* Escapes that would overflow are cut too. */
	memset(big, '\n', 9999);
	capture_start();
	log_info("%s.", big);
	out = capture_end();
	cr_assert_eq(count_lines(out), 1);
	cr_assert(strstr(out, "\\x0a...\n") != NULL, "%s", out + 40);
	free(out);
	free(big);
}

Test(log, errno_preserved)
{
	log_init("test", 1, LOG_LVL_INFO);
	capture_start();
	errno = EAGAIN;
	log_info("x");
	cr_assert_eq(errno, EAGAIN);
	free(capture_end());
}

Test(log, syslog_mode_writes_nothing_to_stderr)
{
	char	*out;

	capture_start();
	log_init("sctag-test", 0, LOG_LVL_INFO);
	log_debug("filtered");
	out = capture_end();
	cr_assert_str_eq(out, "");
	free(out);
}

Test(ratelimit, burst_then_suppress)
{
	struct log_ratelimit	rl = LOG_RATELIMIT_INIT(60, 3);
	unsigned long		sup = 99;
	int			i;

	for (i = 0; i < 3; i++) {
		cr_assert_eq(log_ratelimit_ok(&rl, &sup), 1, "line %d", i);
		cr_assert_eq(sup, 0);
	}
	for (i = 0; i < 5; i++)
		cr_assert_eq(log_ratelimit_ok(&rl, &sup), 0);
	cr_assert_eq(rl.suppressed, 5);

	/* Pretend the interval has passed: the count comes with the next. */
	rl.window_start -= 60;
	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 1);
	cr_assert_eq(sup, 5);
	cr_assert_eq(rl.suppressed, 0);
	cr_assert_eq(log_ratelimit_ok(&rl, NULL), 1);
	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 1);
	cr_assert_eq(sup, 0);
	cr_assert_eq(log_ratelimit_ok(&rl, NULL), 0);
}

Test(ratelimit, real_clock, .timeout = 10)
{
	struct log_ratelimit	rl = LOG_RATELIMIT_INIT(1, 1);
	unsigned long		sup = 0;

	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 1);
	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 0);
	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 0);
	/* CLOCK_MONOTONIC seconds: 2.1 s always crosses a 1 s window. */
	usleep(2100000);
	cr_assert_eq(log_ratelimit_ok(&rl, &sup), 1);
	cr_assert_eq(sup, 2);
}

Test(ratelimit, degenerate_settings)
{
	struct log_ratelimit	off = LOG_RATELIMIT_INIT(0, 0);
	struct log_ratelimit	mute = LOG_RATELIMIT_INIT(60, 0);
	int			i;

	for (i = 0; i < 100; i++)
		cr_assert_eq(log_ratelimit_ok(&off, NULL), 1,
		    "interval 0 means no limit");
	cr_assert_eq(log_ratelimit_ok(&mute, NULL), 0,
	    "burst 0 allows nothing");
}
