/*
 * fuzz_pipe.c: bytes from the named pipe, which any member of its group can
 * write. The first byte picks where the input is cut into two reads, so
 * partial lines are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "pipe_parse.h"
#include "tag.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct reg *reg;

static void
on_line(void *arg, const char *line, size_t len, int overlong)
{
	struct pipe_event ev;
	char err[256];

	(void)arg;
	if (overlong)
		return;
	if (pipe_parse_line(line, len, reg, TAG_STRAT_FLOW_LABEL, &ev, err,
	    sizeof(err)) == 0 && ev.fs.rule.dst_plen != 128)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct pipe_buf pb;
	char err[256];
	size_t cut;

	if (!reg && reg_load_builtin(&reg, err, sizeof(err)) != 0)
		abort();
	if (n == 0)
		return 0;
	cut = data[0] % n;
	pipe_buf_init(&pb);
	pipe_buf_feed(&pb, (const char *)data + 1, cut, on_line, NULL);
	pipe_buf_feed(&pb, (const char *)data + 1 + cut, n - 1 - cut, on_line,
	    NULL);
	pipe_buf_flush(&pb, on_line, NULL);
	return 0;
}
