/*
 * firefly.h: SciTags fireflies, built and read (notes/scitags.md §4).
 *
 * A firefly is one UDP datagram: an RFC 5424 syslog header, then compact
 * JSON valid against the firefly schema v1. ff_format builds the ones
 * sctagd sends; ff_parse reads what flowd, flowd-go, XRootD and dCache send
 * and treats every byte as hostile. Pure code: no sockets, no threads, no
 * global state; every function may be called from any thread.
 *
 * Whatever ff_parse accepts, ff_format can write again, and ff_parse
 * accepts everything ff_format writes: the two share every limit below.
 */
#ifndef SCTAG_FIREFLY_H
#define SCTAG_FIREFLY_H

#include <sys/socket.h>		/* AF_INET, AF_INET6 (ff_flow) */
#include <netinet/in.h>		/* IPPROTO_TCP, IPPROTO_UDP */

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum ff_state { FF_START = 0, FF_ONGOING, FF_END };

/*
 * The flow a firefly is about. exp is 0..TAG_EXP_MAX and act
 * 0..TAG_ACT_MAX (tag.h): the ids a scitag can carry. Whether they can be
 * marked (tag_check_markable) is the caller's question, not the format's:
 * an IPv4 flow, or experiment 600, gets a valid firefly but no mark.
 */
struct ff_flow {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		src[16];	/* IPv6, or IPv4 as ::ffff:a.b.c.d (v4-mapped) */
	uint8_t		dst[16];
	uint8_t		proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t	sport, dport;	/* host order, 1..65535 */
	uint16_t	exp;		/* experiment id */
	uint8_t		act;		/* activity id */
	char		application[64];	/* "" = omitted; no controls */
};

/* Bytes, each at most INT64_MAX (a JSON integer). */
struct ff_usage { uint64_t received, sent; };

/*
 * From inet_diag; each has_* says present. JSON keys: "rtt" (a real,
 * finite, >= 0), "cwnd", "retransmits", "delivery-rate" (at most
 * INT64_MAX). ff_parse fills a field only when its key has that type and
 * range; anything else in the free-form netlink object is ignored.
 */
struct ff_netlink {
	int has_rtt;  double rtt_ms;
	int has_cwnd; uint32_t cwnd;
	int has_retrans; uint32_t retransmits;
	int has_rate; uint64_t delivery_rate;	/* bytes per second */
};

/*
 * Times are CLOCK_REALTIME. A time of exactly {0, 0} means "not set"; a set
 * time is after 1970-01-01T00:00:00Z, before year 10000, with tv_nsec in
 * 0..999999999. end is required for FF_END and not written otherwise
 * (ff_parse still reads an end-time on any state). now is required by
 * ff_format; ff_parse leaves it {0, 0} when current-time is absent.
 */
struct ff_event {
	enum ff_state	state;
	struct ff_flow	flow;
	struct timespec	start;		/* "start-time"; required */
	struct timespec	end;		/* "end-time": state FF_END only */
	struct timespec	now;		/* "current-time" */
	int		has_usage;
	struct ff_usage	usage;
	int		has_netlink;
	struct ff_netlink netlink;
};

#define FF_DATAGRAM_MAX 1232	/* must fit one IPv6 minimum-MTU frame: 1280 - 40 - 8 */

/*
 * The largest datagram ff_parse reads: one 9000-byte jumbo frame less the
 * IPv6 and UDP headers. Other senders do not keep to FF_DATAGRAM_MAX (dCache
 * adds storage-stats), but nothing that needs IP fragments is a firefly.
 */
#define FF_PARSE_MAX	8952

#define FF_HOST_MAX	255	/* RFC 5424 HOSTNAME */
#define FF_APP_MAX	48	/* RFC 5424 APP-NAME */

/*
 * One datagram: RFC 5424 header + compact JSON, into buf. host: this
 * host's name (1..255 printable ASCII, no spaces), app: "sctagd" (1..48
 * printable ASCII). The header's timestamp is ev->now.
 *
 * Writes *outlen bytes and a NUL after them (not part of the datagram):
 * a buffer of FF_DATAGRAM_MAX + 1 always does. Returns 0; -ENOSPC if the
 * datagram would not fit len, or is longer than FF_DATAGRAM_MAX whatever
 * len is; -EINVAL for a bad event (family, addresses, ports, proto, state,
 * ids, missing or bad times, application, counters out of range) or a bad
 * host or app; -ENOMEM. err (may be NULL) gets a message for every error.
 */
int ff_format(const struct ff_event *, const char *host, const char *app,
    char *buf, size_t len, size_t *outlen, char *err, size_t errlen);

/*
 * Why ff_parse rejected a datagram, for counters (ff_bad_name) and logs.
 *   SYSLOG  the syslog header is malformed, or neither header nor '{'
 *   JSON    not JSON (jansson's message), a duplicate key, a NUL byte
 *   SCHEMA  a required key is missing, an unknown key in a closed object,
 *           or version is not 1
 *   TYPE    a value has the wrong JSON type (a string port, a real id)
 *   RANGE   a number out of range, a string not in its enumeration, an
 *           application that does not fit
 *   ADDR    an address that does not parse, or not in the afi's family
 *   TIME    a date-time that is not an RFC 3339 string (null and "" too),
 *           or not after the epoch and before year 10000
 *   SIZE    empty, or longer than FF_PARSE_MAX
 * FF_BAD_COUNT is the number of values, for arrays of counters.
 */
enum ff_bad { FF_BAD_NONE = 0, FF_BAD_SYSLOG, FF_BAD_JSON, FF_BAD_SCHEMA,
    FF_BAD_TYPE, FF_BAD_RANGE, FF_BAD_ADDR, FF_BAD_TIME, FF_BAD_SIZE,
    FF_BAD_COUNT };

/*
 * "none", "syslog", "json", "schema", "type", "range", "addr", "time",
 * "size"; "?" for anything else.
 */
const char *ff_bad_name(enum ff_bad);

/*
 * A received datagram (hostile input, len bytes, no NUL needed). Accepts
 * an RFC 5424 header (PRI, version 1, timestamp and host may be "-",
 * structured data "-" or [...]) with the JSON starting at the first '{'
 * of the message; or bare JSON. Validates against firefly schema v1
 * (notes §4); other top-level keys (dCache's storage-stats) are
 * tolerated. end-time is read whatever the state.
 *
 * Returns 0 and fills *out (reason FF_BAD_NONE); or -EINVAL (-EMSGSIZE for
 * FF_BAD_SIZE), *out untouched, *reason set, and a message in err that
 * names the field, e.g. "flow-id.src-port: 70000 is out of range
 * 1..65535". reason and err may be NULL.
 */
int ff_parse(const char *buf, size_t len, struct ff_event *out,
    enum ff_bad *reason, char *err, size_t errlen);

/*
 * RFC 3339 UTC with microseconds (the nanoseconds are truncated),
 * "2024-03-28T08:58:48.899646+00:00": FF_TIME_LEN bytes with the NUL.
 * 0, -ENOSPC if len is too small, -EINVAL for a tv_nsec out of range or a
 * year outside 0..9999.
 */
#define FF_TIME_LEN	33
int ff_time_format(const struct timespec *, char *buf, size_t len);

/*
 * RFC 3339 date-time, the whole string: YYYY-MM-DDTHH:MM:SS, an optional
 * fraction of any length (kept to the nanosecond), then 'Z' or +hh:mm /
 * -hh:mm ('T' and 'Z' in either case). The date must exist; second 60 (a
 * leap second) is read as the first second of the next minute. 0 or -EINVAL.
 */
int ff_time_parse(const char *s, struct timespec *out);

#endif /* SCTAG_FIREFLY_H */
