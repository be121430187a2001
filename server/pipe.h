/*
 * pipe.h: the flowd-compatible named pipe plugin.
 *
 * Creates the FIFO (mode 0620 by default, group from the config), reads it
 * without ever blocking the daemon, and hands each valid line to a callback.
 * Bad lines are counted, logged with the reason (rate-limited), and skipped.
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
	const char		 *path;
	unsigned int		  mode;
	gid_t			  gid;		/* (gid_t)-1: leave as is */
	const struct reg *const	 *regp;		/* follows registry reloads */
	int			  strategy;
	pipe_event_cb		  cb;
	void			 *arg;
};

struct pipe_reader;

int pipe_open(struct pipe_reader **, const struct pipe_opts *, char *err,
    size_t errlen);
int pipe_fd(const struct pipe_reader *);
/* The fd is readable: read what is there (bounded), dispatch lines. */
int pipe_read(struct pipe_reader *);
void pipe_get_stats(const struct pipe_reader *, struct pipe_stats *);
/* Close and remove the FIFO this reader created. NULL is fine. */
void pipe_close(struct pipe_reader *);

#endif /* SCTAG_PIPE_H */
