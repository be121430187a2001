/*
 * pipe.c: read the named pipe.
 *
 * The FIFO is opened O_RDONLY|O_NONBLOCK. When the last writer closes, read
 * returns 0: a last line without newline is taken, and the FIFO is reopened
 * so poll() does not spin on POLLHUP. The reopen goes through
 * /proc/self/fd: the unprivileged process may not be able to reach the
 * FIFO's directory, only the FIFO it owns.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pipe.h"

/* Reads per wakeup: keeps one busy writer from starving the rest. */
#define PIPE_READS_PER_WAKEUP	64
#define PIPE_READ_SIZE		65536

struct pipe_reader {
	struct pipe_opts	opts;
	char			*path;
	int			 fd;
	struct pipe_buf		 buf;
	struct pipe_stats	 st;
	struct log_ratelimit	 rl;
	char			 rbuf[PIPE_READ_SIZE];
};

static void
on_line(void *arg, const char *line, size_t len, int overlong)
{
	struct pipe_reader *pr = arg;
	struct pipe_event ev;
	unsigned long suppressed;
	char err[256];
	int rc;

	pr->st.lines++;
	if (overlong) {
		pr->st.bad++;
		pr->st.overlong++;
		snprintf(err, sizeof(err), "line longer than %d bytes",
		    PIPE_LINE_MAX);
		rc = -EINVAL;
	} else {
		rc = pipe_parse_line(line, len, *pr->opts.regp,
		    pr->opts.strategy, &ev, err, sizeof(err));
		if (rc == -ENODATA) {
			pr->st.lines--;
			return;
		}
		if (rc == 0) {
			pr->st.events++;
			pr->opts.cb(pr->opts.arg, &ev);
			return;
		}
		pr->st.bad++;
	}
	if (log_ratelimit_ok(&pr->rl, &suppressed))
		log_warn("%s: line %llu rejected: %s%s", pr->path,
		    (unsigned long long)pr->st.lines, err,
		    suppressed ? " (earlier rejections not logged)" : "");
}

static int
reopen_fifo(struct pipe_reader *pr)
{
	char self[64];
	int fd;

	snprintf(self, sizeof(self), "/proc/self/fd/%d", pr->fd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(pr->fd);
	pr->fd = fd;
	return 0;
}

int
pipe_prepare(const char *path, unsigned int mode, uid_t uid, gid_t gid,
    int *fdp, int *created, char *err, size_t errlen)
{
	struct stat st;
	int fd, rc;

	*fdp = -1;
	*created = 0;
	if (lstat(path, &st) == 0) {
		if (!S_ISFIFO(st.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a FIFO; "
			    "remove it or choose another pipe path", path);
			return -EEXIST;
		}
	} else if (errno == ENOENT) {
		if (mkfifo(path, 0600) != 0) {
			rc = -errno;
			snprintf(err, errlen, "creating FIFO %s: %s", path,
			    strerror(errno));
			return rc;
		}
		*created = 1;
	} else {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	/* Open first, then fix owner and mode on what was opened. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "opening %s: %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) {
		rc = -EEXIST;
		snprintf(err, errlen, "%s is not a FIFO", path);
		goto fail;
	}
	/* Every time: flowd left its FIFO world-writable. */
	if (fchown(fd, uid, gid) != 0) {
		rc = -errno;
		snprintf(err, errlen, "chown %s to %u:%d: %s", path,
		    (unsigned)uid, gid == (gid_t)-1 ? -1 : (int)gid,
		    strerror(errno));
		goto fail;
	}
	if (fchmod(fd, mode) != 0) {
		rc = -errno;
		snprintf(err, errlen, "chmod %s %04o: %s", path, mode,
		    strerror(errno));
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (*created)
		(void)unlink(path);
	*created = 0;
	return rc;
}

int
pipe_open(struct pipe_reader **out, const struct pipe_opts *o, char *err,
    size_t errlen)
{
	struct pipe_reader *pr;

	*out = NULL;
	if ((pr = calloc(1, sizeof(*pr))) == NULL ||
	    (pr->path = strdup(o->path)) == NULL) {
		free(pr);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pr->opts = *o;
	pr->fd = o->fd;
	pr->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 20);
	pipe_buf_init(&pr->buf);
	log_info("named pipe %s ready", pr->path);
	*out = pr;
	return 0;
}

int
pipe_fd(const struct pipe_reader *pr)
{
	return pr->fd;
}

int
pipe_read(struct pipe_reader *pr)
{
	ssize_t n;
	int i, rc;

	for (i = 0; i < PIPE_READS_PER_WAKEUP; i++) {
		n = read(pr->fd, pr->rbuf, sizeof(pr->rbuf));
		if (n > 0) {
			pipe_buf_feed(&pr->buf, pr->rbuf, (size_t)n, on_line,
			    pr);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			rc = -errno;
			log_err("%s: read: %s", pr->path, strerror(errno));
			return rc;
		}
		/* Every writer closed. */
		pipe_buf_flush(&pr->buf, on_line, pr);
		if ((rc = reopen_fifo(pr)) != 0) {
			log_err("%s: reopening: %s", pr->path, strerror(-rc));
			return rc;
		}
		return 0;
	}
	return 0;
}

void
pipe_get_stats(const struct pipe_reader *pr, struct pipe_stats *st)
{
	*st = pr->st;
}

void
pipe_close(struct pipe_reader *pr)
{
	if (!pr)
		return;
	if (pr->fd >= 0)
		close(pr->fd);
	free(pr->path);
	free(pr);
}
