/*
 * pipe_parse.h: the flowd named-pipe protocol (notes/scitags.md §5).
 *
 *   start|end tcp|udp SRC-IP SRC-PORT DST-IP DST-PORT EXPERIMENT ACTIVITY
 *
 * Whitespace-separated, keywords in any case, experiment and activity as
 * numbers or registry names. The writer's host is the source. Lines are
 * split by pipe_buf, which keeps a partial line across reads.
 */
#ifndef SCTAG_PIPE_PARSE_H
#define SCTAG_PIPE_PARSE_H

#include <stddef.h>

#include "flowspec.h"
#include "registry.h"

/* Longest line accepted: two IPv6 literals and long names fit easily. */
#define PIPE_LINE_MAX	512

enum pipe_state {
	PIPE_START,
	PIPE_END,
};

struct pipe_event {
	enum pipe_state	state;
	struct flowspec	fs;
};

/*
 * Parse one line without its newline. Returns 0, or -EINVAL/-ERANGE with a
 * message naming the field: "field 4 (source port): '70000' is not a port
 * (0-65535)". Empty and whitespace-only lines return -ENODATA (ignored),
 * and so do comment lines starting with '#'.
 */
int pipe_parse_line(const char *line, size_t len, const struct reg *reg,
    int strategy, struct pipe_event *ev, char *err, size_t errlen);

/* Called per complete line; overlong = 1 for a line over PIPE_LINE_MAX
 * (its bytes are not passed). */
typedef void (*pipe_line_cb)(void *arg, const char *line, size_t len,
    int overlong);

struct pipe_buf {
	char	buf[PIPE_LINE_MAX + 1];
	size_t	len;
	int	discarding;	/* inside an overlong line */
};

void pipe_buf_init(struct pipe_buf *);
/* Split data into lines; keeps the partial tail for the next call. */
void pipe_buf_feed(struct pipe_buf *, const char *data, size_t n,
    pipe_line_cb cb, void *arg);
/* At EOF of a writer: a last line without newline still counts. */
void pipe_buf_flush(struct pipe_buf *, pipe_line_cb cb, void *arg);

#endif /* SCTAG_PIPE_PARSE_H */
