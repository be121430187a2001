/*
 * pipe.h: the flowd-compatible named pipe plugin.
 *
 * pipe_prepare runs as root before the privileges are split: it creates the
 * FIFO (mode 0620 by default), gives it to the network process's user and
 * the writers' group, and opens it. The network process then reads it
 * without ever blocking, and hands each valid line to a callback. Bad lines
 * are counted, logged with the reason (rate-limited), and skipped.
 */
#ifndef SCTAG_PIPE_H
#define SCTAG_PIPE_H

#include <stdint.h>
#include <sys/types.h>

#include "pipe_parse.h"

struct pipe_stats {
	uint64_t	lines;		/* complete lines read */
	uint64_t	events;		/* valid start/end lines */
	uint64_t	bad;		/* rejected lines */
	uint64_t	overlong;	/* of which longer than PIPE_LINE_MAX */
};

typedef void (*pipe_event_cb)(void *arg, const struct pipe_event *);

struct pipe_opts {
	const char		 *path;		/* for messages */
	int			  fd;		/* from pipe_prepare */
	const struct reg *const	 *regp;		/* follows registry reloads */
	int			  strategy;
	pipe_event_cb		  cb;
	void			 *arg;
};

struct pipe_reader;

/*
 * Create or check the FIFO at path, owner uid, group gid ((gid_t)-1: keep),
 * mode; open it for reading. *created says whether to remove it at exit.
 */
int pipe_prepare(const char *path, unsigned int mode, uid_t uid, gid_t gid,
    int *fd, int *created, char *err, size_t errlen);
/* Take over the fd from pipe_prepare. */
int pipe_open(struct pipe_reader **, const struct pipe_opts *, char *err,
    size_t errlen);
int pipe_fd(const struct pipe_reader *);
/* The fd is readable: read what is there (bounded), dispatch lines. */
int pipe_read(struct pipe_reader *);
void pipe_get_stats(const struct pipe_reader *, struct pipe_stats *);
/* Close the reader. NULL is fine. The FIFO stays: its creator removes it. */
void pipe_close(struct pipe_reader *);

#endif /* SCTAG_PIPE_H */
