/*
 * fuzz_firefly.c: a received firefly, from anyone who can reach the
 * listener's port. Whatever ff_parse accepts must format again and read
 * back as the same flow: the listener turns it into a rule, and sctagd
 * re-announces it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "firefly.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
flow_eq(const struct ff_flow *a, const struct ff_flow *b)
{
	return a->family == b->family &&
	    memcmp(a->src, b->src, sizeof(a->src)) == 0 &&
	    memcmp(a->dst, b->dst, sizeof(a->dst)) == 0 &&
	    a->proto == b->proto && a->sport == b->sport &&
	    a->dport == b->dport && a->exp == b->exp && a->act == b->act &&
	    strcmp(a->application, b->application) == 0;
}

/* ff_format writes microseconds: the rest is cut, never rounded. */
static int
time_eq_us(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec / 1000 * 1000;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct ff_event	ev, back;
	enum ff_bad	why;
	char		buf[FF_DATAGRAM_MAX + 1], err[256];
	size_t		len;

	if (ff_parse((const char *)data, n, &ev, &why, err, sizeof(err)) != 0) {
		if (why == FF_BAD_NONE || why >= FF_BAD_COUNT)
			abort();
		return 0;
	}
	if (why != FF_BAD_NONE)
		abort();
	/* current-time is optional in, required out: sctagd sets its own. */
	if (ev.now.tv_sec == 0 && ev.now.tv_nsec == 0)
		ev.now = ev.start;
	if (ff_format(&ev, "fuzz.example.org", "sctagd", buf, sizeof(buf),
	    &len, err, sizeof(err)) != 0)
		abort();
	if (len > FF_DATAGRAM_MAX || strlen(buf) != len)
		abort();
	if (ff_parse(buf, len, &back, &why, err, sizeof(err)) != 0)
		abort();
	if (back.state != ev.state || !flow_eq(&back.flow, &ev.flow) ||
	    !time_eq_us(&back.start, &ev.start) ||
	    !time_eq_us(&back.now, &ev.now) ||
	    (ev.state == FF_END && !time_eq_us(&back.end, &ev.end)) ||
	    back.has_usage != ev.has_usage ||
	    (ev.has_usage && (back.usage.received != ev.usage.received ||
	    back.usage.sent != ev.usage.sent)) ||
	    back.has_netlink != ev.has_netlink)
		abort();
	return 0;
}
