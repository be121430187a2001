/*
 * pipe_parse.c: lines of the flowd named pipe into flow events.
 *
 * flowd forwarded ports 70000 and -1 and the state "bogus" unchecked, and
 * one 0xFF byte killed its reader: every field here is checked, and a bad
 * line is one error message, never a partial event.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pipe_parse.h"
#include "tag.h"

#define NFIELDS 8

static const char *const field_names[NFIELDS] = {
	"state", "protocol", "source address", "source port",
	"destination address", "destination port", "experiment", "activity",
};

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Printable ASCII only: the line reaches logs, and registry names are ASCII. */
static int
check_bytes(const char *line, size_t len, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (is_space((char)c))
			continue;
		if (c < 0x20 || c > 0x7e) {
			snprintf(err, errlen, "byte 0x%02x at column %zu is "
			    "not printable ASCII", c, i + 1);
			return -EINVAL;
		}
	}
	return 0;
}

static int
field_err(char *err, size_t errlen, int i, const char *val, const char *why)
{
	snprintf(err, errlen, "field %d (%s): '%.64s' %s", i + 1,
	    field_names[i], val, why);
	return -EINVAL;
}

int
pipe_parse_line(const char *line, size_t len, const struct reg *reg,
    int strategy, struct pipe_event *ev, char *err, size_t errlen)
{
	char buf[PIPE_LINE_MAX + 1], *f[NFIELDS], *p, *save = NULL, *extra;
	struct marker_rule *r = &ev->fs.rule;
	uint32_t exp, act;
	int nf = 0, fam_src, fam_dst, rc;
	char why[160];

	if (len > PIPE_LINE_MAX) {
		snprintf(err, errlen, "line longer than %d bytes",
		    PIPE_LINE_MAX);
		return -EINVAL;
	}
	if ((rc = check_bytes(line, len, err, errlen)) != 0)
		return rc;
	memcpy(buf, line, len);
	buf[len] = '\0';
	for (p = buf; is_space(*p); p++)
		;
	if (*p == '\0' || *p == '#')
		return -ENODATA;

	for (p = strtok_r(buf, " \t\r\v\f", &save); p && nf < NFIELDS;
	    p = strtok_r(NULL, " \t\r\v\f", &save))
		f[nf++] = p;
	extra = p;
	if (nf < NFIELDS || extra) {
		snprintf(err, errlen, "expected %d fields (state protocol "
		    "src-ip src-port dst-ip dst-port experiment activity), "
		    "got %s%d", NFIELDS, extra ? "more than " : "", nf);
		return -EINVAL;
	}

	memset(ev, 0, sizeof(*ev));
	if (strcasecmp(f[0], "start") == 0)
		ev->state = PIPE_START;
	else if (strcasecmp(f[0], "end") == 0)
		ev->state = PIPE_END;
	else
		return field_err(err, errlen, 0, f[0], "is not start or end");
	if (flowspec_parse_proto(f[1], 0, &r->proto) != 0)
		return field_err(err, errlen, 1, f[1], "is not tcp or udp");
	if (flowspec_parse_addr(f[2], r->src, &fam_src) != 0)
		return field_err(err, errlen, 2, f[2],
		    "is not an IPv6 or IPv4 address");
	if (flowspec_parse_port(f[3], &r->sport) != 0 || r->sport == 0)
		return field_err(err, errlen, 3, f[3],
		    "is not a port (1-65535)");
	if (flowspec_parse_addr(f[4], r->dst, &fam_dst) != 0)
		return field_err(err, errlen, 4, f[4],
		    "is not an IPv6 or IPv4 address");
	if (flowspec_parse_port(f[5], &r->dport) != 0 || r->dport == 0)
		return field_err(err, errlen, 5, f[5],
		    "is not a port (1-65535)");
	if (fam_src != fam_dst) {
		snprintf(err, errlen, "source %s and destination %s are of "
		    "different address families", f[2], f[4]);
		return -EINVAL;
	}
	if (reg_resolve_exp(reg, f[6], &exp, why, sizeof(why)) != 0)
		return field_err(err, errlen, 6, f[6], why);
	if (reg_resolve_act(reg, exp, f[7], &act, why, sizeof(why)) != 0)
		return field_err(err, errlen, 7, f[7], why);
	if (strategy == TAG_STRAT_FLOW_LABEL &&
	    tag_check_markable(exp, act, why, sizeof(why)) != 0)
		return field_err(err, errlen, 6, f[6], why);

	ev->fs.family = fam_src;
	r->dst_plen = 128;
	r->strategy = (uint8_t)strategy;
	r->exp = (uint16_t)exp;
	r->act = (uint8_t)act;
	return 0;
}

void
pipe_buf_init(struct pipe_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
pipe_buf_feed(struct pipe_buf *b, const char *data, size_t n,
    pipe_line_cb cb, void *arg)
{
	const char *nl, *end = data + n;
	size_t chunk;

	while (data < end) {
		nl = memchr(data, '\n', (size_t)(end - data));
		chunk = (size_t)((nl ? nl : end) - data);
		if (!b->discarding && b->len + chunk > PIPE_LINE_MAX) {
			/* Report once, then skip to the next newline. */
			b->discarding = 1;
			b->len = 0;
			cb(arg, NULL, 0, 1);
		}
		if (!b->discarding) {
			memcpy(b->buf + b->len, data, chunk);
			b->len += chunk;
		}
		if (!nl)
			return;
		if (!b->discarding)
			cb(arg, b->buf, b->len, 0);
		b->len = 0;
		b->discarding = 0;
		data = nl + 1;
	}
}

void
pipe_buf_flush(struct pipe_buf *b, pipe_line_cb cb, void *arg)
{
	if (!b->discarding && b->len > 0)
		cb(arg, b->buf, b->len, 0);
	b->len = 0;
	b->discarding = 0;
}
