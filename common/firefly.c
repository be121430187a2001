/*
 * firefly.c: SciTags fireflies, built and read (notes/scitags.md §4).
 *
 * The JSON goes through jansson both ways, never through printf: a host
 * name, an application or a key from the network must not be able to
 * change the document's shape. The parser checks every member itself
 * rather than through a generic schema engine, so that each rejection can
 * name the field and be counted by kind.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "firefly.h"
#include "jsonpos.h"
#include "tag.h"

/* 10000-01-01T00:00:00Z: RFC 3339 has four digits for the year. */
#define FF_TIME_END	253402300800LL

#define FF_QUOTE_MAX	48	/* input bytes shown in a message */
#define FF_QUOTE_LEN	(FF_QUOTE_MAX * 4 + 8)
#define FF_TS_MAX	64	/* a syslog timestamp we bother to read */
#define FF_PROCID_MAX	128	/* RFC 5424 */
#define FF_MSGID_MAX	32	/* RFC 5424 */
#define FF_PRI_MAX	191	/* facility 23, severity 7 */
#define FF_INT_MAX	((json_int_t)INT64_MAX)	/* a long long */

/*
 * PRI 134 = local0.info. The header has no PROCID and no structured data;
 * the MSGID is what every other sender puts there.
 */
#define FF_PRI		"<134>1"
#define FF_MSGID	"firefly-json"

static const char *const bad_names[FF_BAD_COUNT] = {
	[FF_BAD_NONE] = "none",
	[FF_BAD_SYSLOG] = "syslog",
	[FF_BAD_JSON] = "json",
	[FF_BAD_SCHEMA] = "schema",
	[FF_BAD_TYPE] = "type",
	[FF_BAD_RANGE] = "range",
	[FF_BAD_ADDR] = "addr",
	[FF_BAD_TIME] = "time",
	[FF_BAD_SIZE] = "size",
};

/* Indexed by enum ff_state. */
static const char *const state_names[] = { "start", "ongoing", "end", NULL };
static const char *const afi_names[] = { "ipv4", "ipv6", NULL };
static const char *const proto_names[] = { "tcp", "udp", NULL };

static const char *const lifecycle_keys[] = {
	"state", "start-time", "end-time", "current-time", NULL
};
static const char *const flowid_keys[] = {
	"afi", "src-ip", "dst-ip", "protocol", "src-port", "dst-port", NULL
};
static const char *const context_keys[] = {
	"experiment-id", "activity-id", "application", NULL
};
static const char *const usage_keys[] = { "received", "sent", NULL };

const char *
ff_bad_name(enum ff_bad why)
{
	if ((unsigned)why >= FF_BAD_COUNT)
		return "?";
	return bad_names[why];
}

/* --- date-times ------------------------------------------------------- */

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return days[m - 1];
}

/* Exactly n ASCII digits (isdigit would follow the locale). */
static int
digits(const char **pp, int n, int *out)
{
	const char	*p = *pp;
	int		 v = 0;

	for (; n > 0; n--, p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	*pp = p;
	*out = v;
	return 0;
}

/* Move past c if it is next; never past the NUL. */
static int
expect(const char **pp, char c1, char c2)
{
	if (**pp != c1 && **pp != c2)
		return -1;
	(*pp)++;
	return 0;
}

int
ff_time_parse(const char *s, struct timespec *out)
{
	struct tm	 tm;
	const char	*p = s;
	int		 y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0, n;
	long		 nsec = 0;
	time_t		 t;

	if (s == NULL || out == NULL)
		return -EINVAL;
	if (digits(&p, 4, &y) < 0 || expect(&p, '-', '-') < 0 ||
	    digits(&p, 2, &mo) < 0 || expect(&p, '-', '-') < 0 ||
	    digits(&p, 2, &d) < 0 || expect(&p, 'T', 't') < 0 ||
	    digits(&p, 2, &h) < 0 || expect(&p, ':', ':') < 0 ||
	    digits(&p, 2, &mi) < 0 || expect(&p, ':', ':') < 0 ||
	    digits(&p, 2, &sec) < 0)
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		/* Any number of digits; what is below a nanosecond is cut. */
		for (n = 0; *p >= '0' && *p <= '9'; p++, n++)
			if (n < 9)
				nsec = nsec * 10 + (*p - '0');
		for (; n < 9; n++)
			nsec *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		if (digits(&p, 2, &oh) < 0 || expect(&p, ':', ':') < 0 ||
		    digits(&p, 2, &om) < 0)
			return -EINVAL;
	} else
		return -EINVAL;
	if (*p != '\0')
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -EINVAL;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;	/* 60 rolls over into the next minute */
	/*
	 * Every field is in range, so timegm can not fail, and its -1 is
	 * the real 1969-12-31T23:59:59Z.
	 */
	t = timegm(&tm);
	out->tv_sec = t - sign * (oh * 3600 + om * 60);
	out->tv_nsec = nsec;
	return 0;
}

int
ff_time_format(const struct timespec *ts, char *buf, size_t len)
{
	struct tm	tm;
	long		year;
	int		n;

	if (ts == NULL || ts->tv_nsec < 0 || ts->tv_nsec > 999999999)
		return -EINVAL;
	if (gmtime_r(&ts->tv_sec, &tm) == NULL)
		return -EINVAL;
	year = (long)tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return -EINVAL;
	if (buf == NULL || len == 0)
		return -ENOSPC;
	n = snprintf(buf, len, "%04ld-%02d-%02dT%02d:%02d:%02d.%06ld+00:00",
	    year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts->tv_nsec / 1000);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

/* Set, after the epoch, and printable with four year digits. */
static int
time_ok(const struct timespec *ts)
{
	if (ts->tv_nsec < 0 || ts->tv_nsec > 999999999)
		return 0;
	if (ts->tv_sec < 0 || (ts->tv_sec == 0 && ts->tv_nsec == 0))
		return 0;
	return (long long)ts->tv_sec < FF_TIME_END;
}

static int
time_unset(const struct timespec *ts)
{
	return ts->tv_sec == 0 && ts->tv_nsec == 0;
}

/* --- building -------------------------------------------------------- */

static int
ferr(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
ferr(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list	ap;

	if (err == NULL || errlen == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* An RFC 5424 header field: PRINTUSASCII, 1..max bytes. */
static int
header_name_ok(const char *s, size_t max)
{
	size_t	n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 33 || (unsigned char)s[n] > 126 ||
		    n >= max)
			return 0;
	return n > 0;
}

/* 0, or -1 when the bytes up to the NUL hold a control character. */
static int
no_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return -1;
	return 0;
}

static int
v4mapped(const uint8_t a[16])
{
	static const uint8_t pfx[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return memcmp(a, pfx, sizeof(pfx)) == 0;
}

static int
addr_text(int family, const uint8_t a[16], char *buf, size_t len)
{
	const void	*src = family == AF_INET ? a + 12 : a;

	if (inet_ntop(family, src, buf, (socklen_t)len) == NULL)
		return -EINVAL;
	return 0;
}

/* Every check ff_format makes on the event, with ff_parse's limits. */
static int
check_event(const struct ff_event *ev, char *err, size_t errlen)
{
	const struct ff_flow	*f = &ev->flow;
	const struct ff_netlink	*nl = &ev->netlink;

	if ((unsigned)ev->state > FF_END)
		return ferr(err, errlen, -EINVAL, "state %d is not start, "
		    "ongoing or end", (int)ev->state);
	if (f->family != AF_INET && f->family != AF_INET6)
		return ferr(err, errlen, -EINVAL, "family %d is neither "
		    "AF_INET nor AF_INET6", f->family);
	/* An AF_INET flow keeps its addresses v4-mapped (ff_flow). */
	if (f->family == AF_INET && (!v4mapped(f->src) || !v4mapped(f->dst)))
		return ferr(err, errlen, -EINVAL, "an AF_INET flow whose "
		    "addresses are not v4-mapped");
	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP)
		return ferr(err, errlen, -EINVAL, "protocol %u is neither tcp "
		    "nor udp", f->proto);
	if (f->sport == 0 || f->dport == 0)
		return ferr(err, errlen, -EINVAL, "port 0 (ports are "
		    "1..65535)");
	if (f->exp > TAG_EXP_MAX)
		return ferr(err, errlen, -EINVAL, "experiment %u is out of "
		    "range 0..%u", f->exp, TAG_EXP_MAX);
	if (f->act > TAG_ACT_MAX)
		return ferr(err, errlen, -EINVAL, "activity %u is out of "
		    "range 0..%u", f->act, TAG_ACT_MAX);
	if (memchr(f->application, '\0', sizeof(f->application)) == NULL)
		return ferr(err, errlen, -EINVAL, "application is not "
		    "NUL-terminated");
	if (no_ctrl(f->application) < 0)
		return ferr(err, errlen, -EINVAL, "application holds a "
		    "control character");
	if (!time_ok(&ev->start))
		return ferr(err, errlen, -EINVAL, "start-time is %s",
		    time_unset(&ev->start) ? "missing" : "out of range");
	if (ev->state == FF_END && !time_ok(&ev->end))
		return ferr(err, errlen, -EINVAL, "end-time is %s",
		    time_unset(&ev->end) ? "missing" : "out of range");
	if (!time_ok(&ev->now))
		return ferr(err, errlen, -EINVAL, "current-time is %s",
		    time_unset(&ev->now) ? "missing" : "out of range");
	if (ev->has_usage && (ev->usage.received > INT64_MAX ||
	    ev->usage.sent > INT64_MAX))
		return ferr(err, errlen, -EINVAL, "usage is larger than "
		    "JSON integers can hold");
	if (!ev->has_netlink)
		return 0;
	if (nl->has_rtt && (!isfinite(nl->rtt_ms) || nl->rtt_ms < 0))
		return ferr(err, errlen, -EINVAL, "netlink rtt %g is not a "
		    "finite, non-negative number", nl->rtt_ms);
	if (nl->has_rate && nl->delivery_rate > INT64_MAX)
		return ferr(err, errlen, -EINVAL, "netlink delivery-rate is "
		    "larger than JSON integers can hold");
	return 0;
}

static json_t *
build_lifecycle(const struct ff_event *ev, int *bad)
{
	json_t	*o;
	char	 ts[FF_TIME_LEN];

	if ((o = json_object()) == NULL)
		return NULL;
	*bad |= json_object_set_new(o, "state",
	    json_string(state_names[ev->state]));
	*bad |= ff_time_format(&ev->start, ts, sizeof(ts)) != 0;
	*bad |= json_object_set_new(o, "start-time", json_string(ts));
	/* Never null or "" on an end firefly (notes §4), never elsewhere. */
	if (ev->state == FF_END) {
		*bad |= ff_time_format(&ev->end, ts, sizeof(ts)) != 0;
		*bad |= json_object_set_new(o, "end-time", json_string(ts));
	}
	*bad |= ff_time_format(&ev->now, ts, sizeof(ts)) != 0;
	*bad |= json_object_set_new(o, "current-time", json_string(ts));
	return o;
}

static json_t *
build_context(const struct ff_flow *f, int *bad)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	*bad |= json_object_set_new(o, "experiment-id", json_integer(f->exp));
	*bad |= json_object_set_new(o, "activity-id", json_integer(f->act));
	/* json_string is NULL for bytes that are not UTF-8. */
	if (f->application[0] != '\0')
		*bad |= json_object_set_new(o, "application",
		    json_string(f->application));
	return o;
}

static json_t *
build_flowid(const struct ff_flow *f, int *bad)
{
	json_t	*o;
	char	 src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];

	if (addr_text(f->family, f->src, src, sizeof(src)) < 0 ||
	    addr_text(f->family, f->dst, dst, sizeof(dst)) < 0) {
		*bad = 1;
		return NULL;
	}
	if ((o = json_object()) == NULL)
		return NULL;
	*bad |= json_object_set_new(o, "afi",
	    json_string(f->family == AF_INET ? "ipv4" : "ipv6"));
	*bad |= json_object_set_new(o, "src-ip", json_string(src));
	*bad |= json_object_set_new(o, "dst-ip", json_string(dst));
	*bad |= json_object_set_new(o, "protocol",
	    json_string(f->proto == IPPROTO_TCP ? "tcp" : "udp"));
	*bad |= json_object_set_new(o, "src-port", json_integer(f->sport));
	*bad |= json_object_set_new(o, "dst-port", json_integer(f->dport));
	return o;
}

static json_t *
build_usage(const struct ff_usage *u, int *bad)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	*bad |= json_object_set_new(o, "received",
	    json_integer((json_int_t)u->received));
	*bad |= json_object_set_new(o, "sent",
	    json_integer((json_int_t)u->sent));
	return o;
}

static json_t *
build_netlink(const struct ff_netlink *nl, int *bad)
{
	json_t	*o;

	if ((o = json_object()) == NULL)
		return NULL;
	if (nl->has_rtt)
		*bad |= json_object_set_new(o, "rtt", json_real(nl->rtt_ms));
	if (nl->has_cwnd)
		*bad |= json_object_set_new(o, "cwnd", json_integer(nl->cwnd));
	if (nl->has_retrans)
		*bad |= json_object_set_new(o, "retransmits",
		    json_integer(nl->retransmits));
	if (nl->has_rate)
		*bad |= json_object_set_new(o, "delivery-rate",
		    json_integer((json_int_t)nl->delivery_rate));
	return o;
}

int
ff_format(const struct ff_event *ev, const char *host, const char *app,
    char *buf, size_t len, size_t *outlen, char *err, size_t errlen)
{
	json_t	*root = NULL, *lc, *ctx, *fid, *usage = NULL, *nl = NULL;
	char	*json = NULL, ts[FF_TIME_LEN];
	size_t	 total;
	int	 bad = 0, n, rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (ev == NULL || outlen == NULL)
		return ferr(err, errlen, -EINVAL, "no event");
	if (!header_name_ok(host, FF_HOST_MAX))
		return ferr(err, errlen, -EINVAL, "host name must be 1 to %d "
		    "printable ASCII characters without spaces", FF_HOST_MAX);
	if (!header_name_ok(app, FF_APP_MAX))
		return ferr(err, errlen, -EINVAL, "app name must be 1 to %d "
		    "printable ASCII characters without spaces", FF_APP_MAX);
	if ((rc = check_event(ev, err, errlen)) < 0)
		return rc;
	if (ff_time_format(&ev->now, ts, sizeof(ts)) != 0)
		return ferr(err, errlen, -EINVAL, "current-time is out of "
		    "range");

	/*
	 * Each child is built first and attached in the order a reader
	 * expects (jansson keeps insertion order); a failed
	 * json_object_set_new has already freed the value it was given.
	 */
	lc = build_lifecycle(ev, &bad);
	ctx = build_context(&ev->flow, &bad);
	fid = build_flowid(&ev->flow, &bad);
	if (ev->has_usage)
		usage = build_usage(&ev->usage, &bad);
	if (ev->has_netlink)
		nl = build_netlink(&ev->netlink, &bad);
	root = json_object();
	bad |= json_object_set_new(root, "version", json_integer(1));
	bad |= json_object_set_new(root, "flow-lifecycle", lc);
	bad |= json_object_set_new(root, "context", ctx);
	bad |= json_object_set_new(root, "flow-id", fid);
	if (ev->has_usage)
		bad |= json_object_set_new(root, "usage", usage);
	if (ev->has_netlink)
		bad |= json_object_set_new(root, "netlink", nl);
	if (bad) {
		/* The event was checked: only memory or UTF-8 is left. */
		rc = ferr(err, errlen, -EINVAL, "can not build the JSON "
		    "(out of memory, or an application that is not UTF-8)");
		goto out;
	}
	/*
	 * 15 significant digits print 0.053 as 0.053, not as the 17-digit
	 * 0.052999999999999999, and still say more than inet_diag measures.
	 */
	json = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (json == NULL) {
		rc = ferr(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	total = strlen(FF_PRI) + 1 + strlen(ts) + 1 + strlen(host) + 1 +
	    strlen(app) + 1 + strlen("- " FF_MSGID " - ") + strlen(json);
	if (total > FF_DATAGRAM_MAX) {
		rc = ferr(err, errlen, -ENOSPC, "firefly would be %zu bytes, "
		    "more than the %d of one datagram", total,
		    FF_DATAGRAM_MAX);
		goto out;
	}
	if (buf == NULL || total >= len) {
		rc = ferr(err, errlen, -ENOSPC, "firefly is %zu bytes, the "
		    "buffer holds %zu with the NUL", total, len);
		goto out;
	}
	n = snprintf(buf, len, FF_PRI " %s %s %s - " FF_MSGID " - %s", ts,
	    host, app, json);
	if (n < 0 || (size_t)n != total) {
		rc = ferr(err, errlen, -EINVAL, "firefly header did not "
		    "format");
		goto out;
	}
	*outlen = total;
	rc = 0;
out:
	free(json);
	json_decref(root);
	return rc;
}

/* --- reading --------------------------------------------------------- */

struct fparse {
	enum ff_bad	 why;
	char		*err;
	size_t		 errlen;
};

static int
perr(struct fparse *px, enum ff_bad why, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record why and the message; -EINVAL, or -EMSGSIZE for a size. */
static int
perr(struct fparse *px, enum ff_bad why, const char *fmt, ...)
{
	va_list	ap;

	px->why = why;
	if (px->err != NULL && px->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(px->err, px->errlen, fmt, ap);
		va_end(ap);
	}
	return why == FF_BAD_SIZE ? -EMSGSIZE : -EINVAL;
}

static int
perr_at(struct fparse *px, enum ff_bad why, const char *obj, const char *key,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* As perr, prefixed with the member's path: "flow-id.src-port: ". */
static int
perr_at(struct fparse *px, enum ff_bad why, const char *obj, const char *key,
    const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return perr(px, why, "%s%s%s: %s", obj != NULL ? obj : "",
	    obj != NULL ? "." : "", key, msg);
}

static int
in_list(const char *s, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(s, *list) == 0)
			return 1;
	return 0;
}

static int
check_keys(struct fparse *px, json_t *o, const char *obj,
    const char *const *allowed)
{
	const char	*key;
	json_t		*v;
	char		 q[FF_QUOTE_LEN];

	json_object_foreach(o, key, v) {
		if (in_list(key, allowed))
			continue;
		jsonpos_quote(q, sizeof(q), key, FF_QUOTE_MAX);
		return perr(px, FF_BAD_SCHEMA, "%s: unknown key %s", obj, q);
	}
	return 0;
}

static int
get_member(struct fparse *px, json_t *o, const char *obj, const char *key,
    json_t **v)
{
	if ((*v = json_object_get(o, key)) == NULL)
		return perr_at(px, FF_BAD_SCHEMA, obj, key, "missing "
		    "(required)");
	return 0;
}

static int
get_object(struct fparse *px, json_t *o, const char *key, json_t **v)
{
	if (get_member(px, o, NULL, key, v) < 0)
		return -EINVAL;
	if (!json_is_object(*v))
		return perr_at(px, FF_BAD_TYPE, NULL, key, "expected an "
		    "object, got %s", jsonpos_type(*v));
	return 0;
}

static int
get_int(struct fparse *px, json_t *o, const char *obj, const char *key,
    json_int_t min, json_int_t max, json_int_t *out)
{
	json_t		*v;
	json_int_t	 n;

	if (get_member(px, o, obj, key, &v) < 0)
		return -EINVAL;
	if (!json_is_integer(v))
		return perr_at(px, FF_BAD_TYPE, obj, key, "expected an "
		    "integer, got %s", jsonpos_type(v));
	n = json_integer_value(v);
	if (n < min || n > max)
		return perr_at(px, FF_BAD_RANGE, obj, key,
		    "%" JSON_INTEGER_FORMAT " is out of range %"
		    JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT, n, min, max);
	*out = n;
	return 0;
}

/* A string from a fixed list, matched exactly as the schema's enum is. */
static int
get_enum(struct fparse *px, json_t *o, const char *obj, const char *key,
    const char *const *names, int *idx)
{
	json_t	*v;
	char	 q[FF_QUOTE_LEN], list[64];
	size_t	 pos = 0;
	int	 i;

	if (get_member(px, o, obj, key, &v) < 0)
		return -EINVAL;
	if (!json_is_string(v))
		return perr_at(px, FF_BAD_TYPE, obj, key, "expected a string, "
		    "got %s", jsonpos_type(v));
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*idx = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (i = 0; names[i] != NULL && pos < sizeof(list); i++)
		pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s",
		    i > 0 ? ", " : "", names[i]);
	jsonpos_quote(q, sizeof(q), json_string_value(v), FF_QUOTE_MAX);
	return perr_at(px, FF_BAD_RANGE, obj, key, "%s is not one of %s", q,
	    list);
}

static int
get_time(struct fparse *px, json_t *v, const char *obj, const char *key,
    struct timespec *ts)
{
	char	q[FF_QUOTE_LEN];

	/* null and "" are what other agents send when they have no time. */
	if (!json_is_string(v))
		return perr_at(px, FF_BAD_TIME, obj, key, "expected an RFC "
		    "3339 date-time string, got %s", jsonpos_type(v));
	jsonpos_quote(q, sizeof(q), json_string_value(v), FF_QUOTE_MAX);
	if (ff_time_parse(json_string_value(v), ts) < 0)
		return perr_at(px, FF_BAD_TIME, obj, key, "%s is not an RFC "
		    "3339 date-time", q);
	if (!time_ok(ts))
		return perr_at(px, FF_BAD_TIME, obj, key, "%s is not after "
		    "1970-01-01T00:00:00Z and before year 10000", q);
	return 0;
}

static int
get_addr(struct fparse *px, json_t *o, const char *key, int family,
    uint8_t out[16])
{
	static const uint8_t pfx[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	json_t		*v;
	const char	*s;
	uint8_t		 a[16];
	char		 q[FF_QUOTE_LEN];
	int		 other = family == AF_INET ? AF_INET6 : AF_INET;

	if (get_member(px, o, "flow-id", key, &v) < 0)
		return -EINVAL;
	if (!json_is_string(v))
		return perr_at(px, FF_BAD_TYPE, "flow-id", key, "expected a "
		    "string, got %s", jsonpos_type(v));
	s = json_string_value(v);
	jsonpos_quote(q, sizeof(q), s, FF_QUOTE_MAX);
	if (inet_pton(family, s, a) != 1) {
		if (inet_pton(other, s, a) == 1)
			return perr_at(px, FF_BAD_ADDR, "flow-id", key, "%s is "
			    "an %s address but afi is %s", q,
			    other == AF_INET ? "IPv4" : "IPv6",
			    family == AF_INET ? "ipv4" : "ipv6");
		return perr_at(px, FF_BAD_ADDR, "flow-id", key, "%s is not "
		    "an %s address", q, family == AF_INET ? "IPv4" : "IPv6");
	}
	if (family == AF_INET) {
		memcpy(out, pfx, sizeof(pfx));
		memcpy(out + 12, a, 4);
	} else
		memcpy(out, a, 16);
	return 0;
}

static int
parse_lifecycle(struct fparse *px, json_t *o, struct ff_event *ev)
{
	json_t	*v;
	int	 st;

	if (check_keys(px, o, "flow-lifecycle", lifecycle_keys) < 0 ||
	    get_enum(px, o, "flow-lifecycle", "state", state_names, &st) < 0)
		return -EINVAL;
	ev->state = (enum ff_state)st;
	if (get_member(px, o, "flow-lifecycle", "start-time", &v) < 0 ||
	    get_time(px, v, "flow-lifecycle", "start-time", &ev->start) < 0)
		return -EINVAL;
	if ((v = json_object_get(o, "end-time")) != NULL) {
		if (get_time(px, v, "flow-lifecycle", "end-time", &ev->end) < 0)
			return -EINVAL;
	} else if (ev->state == FF_END)
		return perr_at(px, FF_BAD_SCHEMA, "flow-lifecycle", "end-time",
		    "missing (required when state is end)");
	if ((v = json_object_get(o, "current-time")) != NULL &&
	    get_time(px, v, "flow-lifecycle", "current-time", &ev->now) < 0)
		return -EINVAL;
	return 0;
}

static int
parse_flowid(struct fparse *px, json_t *o, struct ff_flow *f)
{
	json_int_t	sport, dport;
	int		afi, proto;

	if (check_keys(px, o, "flow-id", flowid_keys) < 0 ||
	    get_enum(px, o, "flow-id", "afi", afi_names, &afi) < 0)
		return -EINVAL;
	f->family = afi == 0 ? AF_INET : AF_INET6;
	if (get_addr(px, o, "src-ip", f->family, f->src) < 0 ||
	    get_addr(px, o, "dst-ip", f->family, f->dst) < 0 ||
	    get_enum(px, o, "flow-id", "protocol", proto_names, &proto) < 0 ||
	    get_int(px, o, "flow-id", "src-port", 1, 65535, &sport) < 0 ||
	    get_int(px, o, "flow-id", "dst-port", 1, 65535, &dport) < 0)
		return -EINVAL;
	f->proto = proto == 0 ? IPPROTO_TCP : IPPROTO_UDP;
	f->sport = (uint16_t)sport;
	f->dport = (uint16_t)dport;
	return 0;
}

static int
parse_context(struct fparse *px, json_t *o, struct ff_flow *f)
{
	json_t		*v;
	json_int_t	 exp, act;
	size_t		 n;

	if (check_keys(px, o, "context", context_keys) < 0 ||
	    get_int(px, o, "context", "experiment-id", 0, TAG_EXP_MAX,
	    &exp) < 0 ||
	    get_int(px, o, "context", "activity-id", 0, TAG_ACT_MAX, &act) < 0)
		return -EINVAL;
	f->exp = (uint16_t)exp;
	f->act = (uint8_t)act;
	if ((v = json_object_get(o, "application")) == NULL)
		return 0;
	if (!json_is_string(v))
		return perr_at(px, FF_BAD_TYPE, "context", "application",
		    "expected a string, got %s", jsonpos_type(v));
	n = json_string_length(v);
	if (n >= sizeof(f->application))
		return perr_at(px, FF_BAD_RANGE, "context", "application",
		    "%zu bytes, at most %zu", n, sizeof(f->application) - 1);
	/* It ends up in logs and in our own fireflies. */
	if (no_ctrl(json_string_value(v)) < 0)
		return perr_at(px, FF_BAD_RANGE, "context", "application",
		    "holds a control character");
	memcpy(f->application, json_string_value(v), n + 1);
	return 0;
}

static int
parse_usage(struct fparse *px, json_t *o, struct ff_usage *u)
{
	json_int_t	rx, tx;

	if (check_keys(px, o, "usage", usage_keys) < 0 ||
	    get_int(px, o, "usage", "received", 0, FF_INT_MAX, &rx) < 0 ||
	    get_int(px, o, "usage", "sent", 0, FF_INT_MAX, &tx) < 0)
		return -EINVAL;
	u->received = (uint64_t)rx;
	u->sent = (uint64_t)tx;
	return 0;
}

/* An integer member in min..max, or 0 (absent or not that: ignored). */
static int
opt_int(json_t *o, const char *key, json_int_t max, json_int_t *out)
{
	json_t	*v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return 0;
	*out = json_integer_value(v);
	return 1;
}

/* Free-form in the schema: take what we know, ignore the rest. */
static void
parse_netlink(json_t *o, struct ff_netlink *nl)
{
	json_t		*v;
	json_int_t	 n;
	double		 d;

	v = json_object_get(o, "rtt");
	if (json_is_number(v)) {
		d = json_number_value(v);
		if (isfinite(d) && d >= 0) {
			nl->has_rtt = 1;
			nl->rtt_ms = d;
		}
	}
	if ((nl->has_cwnd = opt_int(o, "cwnd", UINT32_MAX, &n)))
		nl->cwnd = (uint32_t)n;
	if ((nl->has_retrans = opt_int(o, "retransmits", UINT32_MAX, &n)))
		nl->retransmits = (uint32_t)n;
	if ((nl->has_rate = opt_int(o, "delivery-rate", FF_INT_MAX, &n)))
		nl->delivery_rate = (uint64_t)n;
}

static int
parse_root(struct fparse *px, json_t *root, struct ff_event *ev)
{
	json_t		*o;
	json_int_t	 version;

	if (!json_is_object(root))
		return perr(px, FF_BAD_TYPE, "firefly: expected a JSON object, "
		    "got %s", jsonpos_type(root));
	if (get_member(px, root, NULL, "version", &o) < 0)
		return -EINVAL;
	if (!json_is_integer(o))
		return perr_at(px, FF_BAD_TYPE, NULL, "version", "expected an "
		    "integer, got %s", jsonpos_type(o));
	version = json_integer_value(o);
	if (version != 1)
		return perr_at(px, FF_BAD_SCHEMA, NULL, "version",
		    "%" JSON_INTEGER_FORMAT " is not supported (only 1)",
		    version);
	if (get_object(px, root, "flow-lifecycle", &o) < 0 ||
	    parse_lifecycle(px, o, ev) < 0 ||
	    get_object(px, root, "flow-id", &o) < 0 ||
	    parse_flowid(px, o, &ev->flow) < 0 ||
	    get_object(px, root, "context", &o) < 0 ||
	    parse_context(px, o, &ev->flow) < 0)
		return -EINVAL;
	if (json_object_get(root, "usage") != NULL) {
		if (get_object(px, root, "usage", &o) < 0 ||
		    parse_usage(px, o, &ev->usage) < 0)
			return -EINVAL;
		ev->has_usage = 1;
	}
	if (json_object_get(root, "netlink") != NULL) {
		if (get_object(px, root, "netlink", &o) < 0)
			return -EINVAL;
		parse_netlink(o, &ev->netlink);
		ev->has_netlink = 1;
	}
	return 0;
}

/*
 * One space-delimited RFC 5424 header field at *p: 1..max PRINTUSASCII
 * bytes, then a space, which *p ends past.
 */
static int
header_field(struct fparse *px, const char *buf, size_t len, size_t *p,
    size_t max, const char *name, size_t *start, size_t *flen)
{
	size_t	i;

	for (i = *p; i < len && buf[i] != ' '; i++)
		if ((unsigned char)buf[i] < 33 || (unsigned char)buf[i] > 126)
			return perr(px, FF_BAD_SYSLOG, "syslog %s: byte 0x%02x "
			    "at offset %zu is not printable ASCII", name,
			    (unsigned char)buf[i], i);
	if (i == *p)
		return perr(px, FF_BAD_SYSLOG, "syslog %s is empty", name);
	if (i - *p > max)
		return perr(px, FF_BAD_SYSLOG, "syslog %s is longer than %zu "
		    "bytes", name, max);
	if (i == len)
		return perr(px, FF_BAD_SYSLOG, "syslog header ends in the %s",
		    name);
	*start = *p;
	*flen = i - *p;
	*p = i + 1;
	return 0;
}

/* STRUCTURED-DATA at *p: "-" or [..][..], with quoted values. */
static int
header_sd(struct fparse *px, const char *buf, size_t len, size_t *p)
{
	size_t	i = *p;
	int	inq;

	if (i < len && buf[i] == '-') {
		*p = i + 1;
		return 0;
	}
	if (i >= len || buf[i] != '[')
		return perr(px, FF_BAD_SYSLOG, "syslog structured data is "
		    "neither '-' nor '['");
	while (i < len && buf[i] == '[') {
		for (i++, inq = 0; i < len; i++) {
			if (buf[i] == '\0')
				return perr(px, FF_BAD_SYSLOG, "syslog "
				    "structured data holds a NUL byte at "
				    "offset %zu", i);
			if (inq && buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				inq = !inq;
			else if (!inq && buf[i] == ']')
				break;
		}
		if (i >= len)
			return perr(px, FF_BAD_SYSLOG, "syslog structured data "
			    "is not closed");
		i++;
	}
	*p = i;
	return 0;
}

/*
 * An RFC 5424 header (notes §4): where the JSON starts. The MSGID is not
 * checked: the JSON says what it is.
 */
static int
parse_header(struct fparse *px, const char *buf, size_t len, size_t *off)
{
	const char	*brace;
	size_t		 p = 1, start, flen;
	char		 ts[FF_TS_MAX + 1];
	struct timespec	 t;
	int		 pri = 0;

	for (; p < len && p <= 3 && buf[p] >= '0' && buf[p] <= '9'; p++)
		pri = pri * 10 + (buf[p] - '0');
	if (p == 1 || p >= len || buf[p] != '>' || pri > FF_PRI_MAX)
		return perr(px, FF_BAD_SYSLOG, "syslog PRI is not <0> to "
		    "<%d>", FF_PRI_MAX);
	p++;
	if (len - p < 2 || buf[p] != '1' || buf[p + 1] != ' ')
		return perr(px, FF_BAD_SYSLOG, "syslog version is not 1");
	p += 2;
	if (header_field(px, buf, len, &p, FF_TS_MAX, "timestamp", &start,
	    &flen) < 0)
		return -EINVAL;
	if (flen != 1 || buf[start] != '-') {
		memcpy(ts, buf + start, flen);
		ts[flen] = '\0';
		if (ff_time_parse(ts, &t) < 0)
			return perr(px, FF_BAD_SYSLOG, "syslog timestamp '%s' "
			    "is not an RFC 3339 date-time", ts);
	}
	if (header_field(px, buf, len, &p, FF_HOST_MAX, "hostname", &start,
	    &flen) < 0 ||
	    header_field(px, buf, len, &p, FF_APP_MAX, "app-name", &start,
	    &flen) < 0 ||
	    header_field(px, buf, len, &p, FF_PROCID_MAX, "procid", &start,
	    &flen) < 0 ||
	    header_field(px, buf, len, &p, FF_MSGID_MAX, "msgid", &start,
	    &flen) < 0 ||
	    header_sd(px, buf, len, &p) < 0)
		return -EINVAL;
	if (p >= len || buf[p] != ' ')
		return perr(px, FF_BAD_SYSLOG, "syslog header has no message "
		    "after the structured data");
	p++;
	if ((brace = memchr(buf + p, '{', len - p)) == NULL)
		return perr(px, FF_BAD_SYSLOG, "syslog message holds no JSON "
		    "object");
	if (memchr(buf + p, '\0', (size_t)(brace - buf) - p) != NULL)
		return perr(px, FF_BAD_SYSLOG, "syslog message holds a NUL "
		    "byte before the JSON");
	*off = (size_t)(brace - buf);
	return 0;
}

/* jansson's messages quote the input: keep them printable. */
static void
sanitize(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

int
ff_parse(const char *buf, size_t len, struct ff_event *out,
    enum ff_bad *reason, char *err, size_t errlen)
{
	struct fparse	 px = { FF_BAD_NONE, err, errlen };
	struct ff_event	 ev;
	json_error_t	 je;
	json_t		*root = NULL;
	const char	*nul;
	size_t		 off = 0, i;
	int		 rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&ev, 0, sizeof(ev));
	if (buf == NULL || len == 0) {
		rc = perr(&px, FF_BAD_SIZE, "empty datagram");
		goto out;
	}
	if (len > FF_PARSE_MAX) {
		rc = perr(&px, FF_BAD_SIZE, "datagram of %zu bytes, a firefly "
		    "has at most %d", len, FF_PARSE_MAX);
		goto out;
	}
	if (buf[0] == '<') {
		if ((rc = parse_header(&px, buf, len, &off)) < 0)
			goto out;
	} else {
		for (i = 0; i < len && (buf[i] == ' ' || buf[i] == '\t' ||
		    buf[i] == '\r' || buf[i] == '\n'); i++)
			;
		if (i == len || buf[i] != '{') {
			rc = perr(&px, FF_BAD_SYSLOG, "neither a syslog header "
			    "('<') nor a JSON object ('{')");
			goto out;
		}
	}
	/* jansson would stop at it with a vaguer message. */
	if ((nul = memchr(buf + off, '\0', len - off)) != NULL) {
		rc = perr(&px, FF_BAD_JSON, "NUL byte at offset %zu",
		    (size_t)(nul - buf));
		goto out;
	}
	root = json_loadb(buf + off, len - off, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		sanitize(je.text);
		rc = perr(&px, FF_BAD_JSON, "JSON at offset %zu, line %d "
		    "column %d: %s", off, je.line, je.column, je.text);
		goto out;
	}
	if ((rc = parse_root(&px, root, &ev)) < 0)
		goto out;
	*out = ev;
	rc = 0;
out:
	json_decref(root);
	if (reason != NULL)
		*reason = px.why;
	return rc;
}
