/*
 * log.c: stderr in the foreground, syslog (daemon facility) otherwise.
 *
 * Each line is formatted into one buffer and written with one write(2)
 * (or one syslog call), so lines from several threads do not interleave.
 * Messages often quote outside input: control characters are escaped so
 * that nobody can forge a log line with an embedded newline.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048	/* below PIPE_BUF: one atomic write */

static atomic_int	log_level_cur = LOG_LVL_INFO;
static atomic_int	log_to_stderr = 1;

static const char *const level_names[] = {
	[LOG_LVL_ERR] = "err",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int level_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

static enum log_level
level_clamp(int level)
{
	if (level < LOG_LVL_ERR)
		return LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		return LOG_LVL_DEBUG;
	return (enum log_level)level;
}

void
log_init(const char *ident, int to_stderr, enum log_level level)
{
	log_set_level(level);
	atomic_store(&log_to_stderr, to_stderr ? 1 : 0);
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_detach(void)
{
	if (!atomic_load(&log_to_stderr))
		closelog();
}

int
log_uses_stderr(void)
{
	return atomic_load(&log_to_stderr);
}

void
log_set_level(enum log_level level)
{
	atomic_store(&log_level_cur, (int)level_clamp((int)level));
}

enum log_level
log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level_cur);
}

int
log_level_parse(const char *s)
{
	int	i;

	if (s == NULL)
		return -1;
	for (i = LOG_LVL_ERR; i <= LOG_LVL_DEBUG; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *
log_level_name(enum log_level level)
{
	if ((int)level < LOG_LVL_ERR || (int)level > LOG_LVL_DEBUG)
		return "?";
	return level_names[level];
}

/*
 * Copy src into dst[*pos..cap-1], escaping control bytes as \xNN.
 * Returns 1 if src did not fit.
 */
static int
append_escaped(char *dst, size_t *pos, size_t cap, const char *src)
{
	size_t		 n = strlen(src);
	size_t		 i, p = *pos;
	unsigned char	 ch;

	for (i = 0; i < n; i++) {
		ch = (unsigned char)src[i];
		if (ch < 0x20 || ch == 0x7f) {
			if (p + 4 >= cap)
				goto full;
			snprintf(dst + p, 5, "\\x%02x", ch);
			p += 4;
			continue;
		}
		if (p + 1 >= cap)
			goto full;
		dst[p++] = (char)ch;
	}
	dst[p] = '\0';
	*pos = p;
	return 0;
full:
	dst[p] = '\0';
	*pos = p;
	return 1;
}

/*
 * Checked as a printf wrapper here only: in log.h the attribute would make
 * every va_list forwarder (libbpf's print callback) warn under clang.
 */
void log_vmsg(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char		 msg[LOG_LINE_MAX];
	char		 line[LOG_LINE_MAX + 64];
	struct timespec	 ts;
	struct tm	 tm;
	size_t		 pos = 0;
	int		 n, saved_errno = errno;
	ssize_t		 w;

	level = level_clamp((int)level);
	if ((int)level > atomic_load(&log_level_cur))
		goto out;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		n = snprintf(msg, sizeof(msg), "(unformattable log message)");
	/* libbpf ends its messages with a newline; we add our own. */
	if (n > 0 && (size_t)n < sizeof(msg) && msg[n - 1] == '\n')
		msg[--n] = '\0';

	if (atomic_load(&log_to_stderr)) {
		/* Local time and its offset: what operators compare with. */
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		pos = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		pos += (size_t)snprintf(line + pos, sizeof(line) - pos,
		    ".%03ld", ts.tv_nsec / 1000000);
		pos += strftime(line + pos, sizeof(line) - pos, "%z ", &tm);
		pos += (size_t)snprintf(line + pos, sizeof(line) - pos, "%s: ",
		    level_names[level]);
	}
	/* Room is kept for "...\n": a cut line says that it was cut. */
	if (append_escaped(line, &pos, sizeof(line) - 4, msg) ||
	    (size_t)n >= sizeof(msg)) {
		memcpy(line + pos, "...", 4);
		pos += 3;
	}
	if (!atomic_load(&log_to_stderr)) {
		syslog(level_prio[level], "%s", line);
		goto out;
	}
	line[pos++] = '\n';
	do {
		w = write(STDERR_FILENO, line, pos);
	} while (w < 0 && errno == EINTR);
out:
	errno = saved_errno;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

static long long
mono_seconds(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

int
log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *suppressed)
{
	long long	now;

	if (suppressed != NULL)
		*suppressed = 0;
	if (rl->interval <= 0)
		return 1;	/* no limit configured */
	now = mono_seconds();
	if (now - rl->window_start >= rl->interval || now < rl->window_start) {
		rl->window_start = now;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return 0;
	}
	rl->printed++;
	if (suppressed != NULL)
		*suppressed = rl->suppressed;
	rl->suppressed = 0;
	return 1;
}
