/*
 * log.h: one logger for the daemon. stderr in the foreground, syslog
 * (daemon facility) otherwise. libbpf's messages are routed here.
 */
#ifndef SCTAG_LOG_H
#define SCTAG_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/* to_stderr: 1 for the foreground; ident for syslog. */
void log_init(const char *ident, int to_stderr, enum log_level level);
void log_set_level(enum log_level);
/*
 * In a forked child about to close every fd it does not need: let go of
 * the syslog connection first (glibc would otherwise later write to, and
 * close, whatever fd takes its number), then log_init again.
 */
void log_detach(void);
int log_uses_stderr(void);
enum log_level log_get_level(void);
/* "err", "warn", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *s);
/* The inverse: "err" ... "debug"; "?" if out of range. */
const char *log_level_name(enum log_level);

void log_msg(enum log_level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level, const char *fmt, va_list);

#define log_err(...)	log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/*
 * A rate limiter for log lines an outside peer can trigger: at most `burst`
 * lines per `interval` seconds; returns 1 when this one may be logged, and
 * counts the suppressed ones (reported with the next allowed line).
 */
struct log_ratelimit {
	int		interval;
	int		burst;
	long long	window_start;
	int		printed;
	unsigned long	suppressed;
};
#define LOG_RATELIMIT_INIT(iv, b)	{ (iv), (b), 0, 0, 0 }
int log_ratelimit_ok(struct log_ratelimit *, unsigned long *suppressed);

#endif /* SCTAG_LOG_H */
