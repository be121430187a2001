/*
 * config.c: sctagd's JSON configuration (docs/config.md).
 *
 * Strict on purpose: a misspelt key that silently keeps its default is
 * how a host ends up marking nothing. Every error names the file, the line
 * (from jsonpos, since jansson keeps no positions for values) and the key
 * path. A document is applied to a copy, which replaces *c only when the
 * whole document was good.
 */
#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "jsonpos.h"
#include "log.h"
#include "tag.h"
#include "wire.h"

#define CFG_FILE_MAX	(1u << 20)
#define CFG_PATH_MAX	4096		/* PATH_MAX, NUL included */
#define CFG_NAME_MAX	256		/* group, mark_all names */
#define CFG_IFNAMSIZ	16		/* IFNAMSIZ, NUL included */
#define CFG_QUOTE_MAX	64

struct cparse {
	const char		*buf;
	size_t			 len;
	const char		*source;
	char			*err;
	size_t			 errlen;
	struct jsonpos_seg	 segs[4];
	size_t			 nsegs;
};


/* "SOURCE:LINE: PATH: message" for the value at the current path. */
static int
cerr(struct cparse *px, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
cerr(struct cparse *px, const char *fmt, ...)
{
	char	path[256], msg[512];
	int	line;
	va_list	ap;

	line = jsonpos_line_segs(px->buf, px->len, px->segs, px->nsegs);
	jsonpos_format(path, sizeof(path), px->segs, px->nsegs);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(px->err, px->errlen, "%s:%d: %s: %s", px->source, line,
		    path, msg);
	else
		snprintf(px->err, px->errlen, "%s: %s: %s", px->source, path,
		    msg);
	return -EINVAL;
}

static void
push_key(struct cparse *px, const char *key)
{
	px->segs[px->nsegs].key = key;
	px->segs[px->nsegs++].index = 0;
}

static void
push_index(struct cparse *px, size_t i)
{
	px->segs[px->nsegs].key = NULL;
	px->segs[px->nsegs++].index = i;
}

static void
pop(struct cparse *px)
{
	px->nsegs--;
}


static int
type_err(struct cparse *px, const char *want, const json_t *v)
{
	return cerr(px, "expected %s, got %s", want, jsonpos_type(v));
}

static int
has_ctrl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/*
 * The kernel's rules (dev_valid_name), narrowed to printable ASCII so a
 * name can always be logged and dumped as JSON.
 */
static int
check_iface(const char *name, char *msg, size_t msglen)
{
	char		q[CFG_QUOTE_MAX * 4 + 8];
	const char	*p;

	jsonpos_quote(q, sizeof(q), name, CFG_QUOTE_MAX);
	if (*name == '\0') {
		snprintf(msg, msglen, "interface name is empty");
		return -EINVAL;
	}
	if (strlen(name) >= CFG_IFNAMSIZ) {
		snprintf(msg, msglen, "interface name %s is longer than %d "
		    "characters", q, CFG_IFNAMSIZ - 1);
		return -EINVAL;
	}
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(msg, msglen, "interface name %s is not valid", q);
		return -EINVAL;
	}
	for (p = name; *p != '\0'; p++) {
		if (*p == '/' || *p == ':') {
			snprintf(msg, msglen, "interface name %s contains '%c'",
			    q, *p);
			return -EINVAL;
		}
		if (*p == ' ' || (unsigned char)*p < 0x20) {
			snprintf(msg, msglen, "interface name %s contains "
			    "whitespace or a control character", q);
			return -EINVAL;
		}
		if ((unsigned char)*p >= 0x7f) {
			snprintf(msg, msglen, "interface name %s contains a "
			    "non-ASCII byte", q);
			return -EINVAL;
		}
	}
	return 0;
}

static int
find_iface(const struct cfg *c, const char *name, size_t *at)
{
	size_t	i;

	for (i = 0; i < c->nifaces; i++) {
		if (strcmp(c->ifaces[i], name) == 0) {
			*at = i;
			return 1;
		}
	}
	return 0;
}

static int
parse_ifaces(struct cparse *px, json_t *v, struct cfg *c)
{
	json_t	*e;
	char	 msg[256];
	size_t	 i, at;
	int	 rc = 0;

	if (!json_is_array(v))
		return type_err(px, "an array of interface names", v);
	if (json_array_size(v) > CFG_MAX_IFACES)
		return cerr(px, "%zu interfaces, at most %d are allowed",
		    json_array_size(v), CFG_MAX_IFACES);
	/* The list replaces the one before; it does not add to it. */
	for (i = 0; i < c->nifaces; i++) {
		free(c->ifaces[i]);
		c->ifaces[i] = NULL;
	}
	c->nifaces = 0;
	json_array_foreach(v, i, e) {
		push_index(px, i);
		if (!json_is_string(e))
			rc = type_err(px, "a string", e);
		else if (check_iface(json_string_value(e), msg,
		    sizeof(msg)) < 0)
			rc = cerr(px, "%s", msg);
		else if (find_iface(c, json_string_value(e), &at))
			rc = cerr(px, "interface '%s' is listed twice (also "
			    "interfaces[%zu])", json_string_value(e), at);
		else if ((c->ifaces[c->nifaces] =
		    strdup(json_string_value(e))) == NULL)
			rc = -ENOMEM;
		else
			c->nifaces++;
		pop(px);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A string that names one of a few values; `expected` lists them. */
static int
parse_named(struct cparse *px, json_t *v, int (*lookup)(const char *),
    const char *what, const char *expected, int *out)
{
	char	q[CFG_QUOTE_MAX * 4 + 8];
	int	n;

	if (!json_is_string(v))
		return type_err(px, "a string", v);
	if ((n = lookup(json_string_value(v))) < 0) {
		jsonpos_quote(q, sizeof(q), json_string_value(v),
		    CFG_QUOTE_MAX);
		return cerr(px, "unknown %s %s (expected %s)", what, q,
		    expected);
	}
	*out = n;
	return 0;
}

static int
parse_strategy(struct cparse *px, json_t *v, struct cfg *c)
{
	return parse_named(px, v, tag_strategy_parse, "strategy",
	    "flow-label, hop-by-hop, destination or hop-by-hop+destination",
	    &c->strategy);
}

static int
parse_log_level(struct cparse *px, json_t *v, struct cfg *c)
{
	return parse_named(px, v, log_level_parse, "log level",
	    "err, warn, info or debug", &c->log_level);
}

static int
parse_bool(struct cparse *px, json_t *v, int *out)
{
	if (!json_is_boolean(v))
		return type_err(px, "a boolean", v);
	*out = json_is_true(v);
	return 0;
}

/* An absolute path; null clears the slot when nullable. */
static int
parse_abspath(struct cparse *px, json_t *v, char **slot, int nullable)
{
	char		 q[CFG_QUOTE_MAX * 4 + 8];
	const char	*s;

	if (nullable && json_is_null(v))
		return cfg_set_string(slot, NULL);
	if (!json_is_string(v))
		return type_err(px, nullable ? "a string or null" : "a string",
		    v);
	s = json_string_value(v);
	if (*s == '\0')
		return cerr(px, "path is empty");
	if (*s != '/') {
		jsonpos_quote(q, sizeof(q), s, CFG_QUOTE_MAX);
		return cerr(px, "%s is not an absolute path", q);
	}
	if (strlen(s) >= CFG_PATH_MAX)
		return cerr(px, "path is longer than %d bytes",
		    CFG_PATH_MAX - 1);
	if (has_ctrl(s))
		return cerr(px, "path contains a control character");
	return cfg_set_string(slot, s);
}

/* A user or group name; null only where allow_null (then: keep our own). */
static int
parse_account(struct cparse *px, json_t *v, char **slot, const char *what,
    int allow_null)
{
	const char	*s, *p;

	if (allow_null && json_is_null(v))
		return cfg_set_string(slot, NULL);
	if (!json_is_string(v))
		return type_err(px, allow_null ? "a string or null" :
		    "a string", v);
	s = json_string_value(v);
	if (*s == '\0')
		return cerr(px, "%s name is empty%s", what, allow_null ?
		    " (use null for the daemon's own group)" : "");
	if (strlen(s) >= CFG_NAME_MAX)
		return cerr(px, "%s name is longer than %d bytes", what,
		    CFG_NAME_MAX - 1);
	for (p = s; *p != '\0'; p++)
		if (*p == ':' || *p == '/' || *p == ' ' ||
		    (unsigned char)*p < 0x20 || *p == 0x7f)
			return cerr(px, "%s name contains whitespace, ':', "
			    "'/' or a control character", what);
	return cfg_set_string(slot, s);
}

static int
parse_group(struct cparse *px, json_t *v, struct cfg *c)
{
	return parse_account(px, v, &c->pipe_group, "group", 1);
}

/* A string of 1..4 octal digits, 0..0777: "0620". */
static int
parse_mode(struct cparse *px, json_t *v, struct cfg *c)
{
	char		 q[CFG_QUOTE_MAX * 4 + 8];
	const char	*s, *p;
	unsigned int	 m = 0;

	if (!json_is_string(v))
		return cerr(px, "expected an octal string like \"0620\", got "
		    "%s", jsonpos_type(v));
	s = json_string_value(v);
	jsonpos_quote(q, sizeof(q), s, CFG_QUOTE_MAX);
	if (*s == '\0' || strlen(s) > 4)
		goto bad;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '7')
			goto bad;
		m = m * 8 + (unsigned int)(*p - '0');
	}
	if (m > 0777)
		goto bad;
	/*
	 * flowd's FIFO was world-writable: anyone could mark any flow. A
	 * reader other than sctagd would also steal lines. Writers belong in
	 * the pipe's group.
	 */
	if (m & 0007)
		return cerr(px, "mode %s gives access to every user; give "
		    "writers the pipe's group instead (e.g. \"0620\")", q);
	c->pipe_mode = m;
	return 0;
bad:
	return cerr(px, "invalid mode %s (expected octal digits in "
	    "0000..0777, like \"0620\")", q);
}

typedef int cfg_key_fn(struct cparse *, const char *, json_t *,
    struct cfg *);

/* An object whose keys fn parses (and names when unknown). */
static int
parse_section(struct cparse *px, json_t *v, struct cfg *c, cfg_key_fn *fn)
{
	const char	*key;
	json_t		*e;
	int		 rc;

	if (!json_is_object(v))
		return type_err(px, "an object", v);
	json_object_foreach(v, key, e) {
		push_key(px, key);
		rc = fn(px, key, e, c);
		pop(px);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A key of "pipe"; a section of parse_section. */
static int
pipe_key(struct cparse *px, const char *key, json_t *e, struct cfg *c)
{
	if (strcmp(key, "enabled") == 0)
		return parse_bool(px, e, &c->pipe_enabled);
	else if (strcmp(key, "path") == 0)
		return parse_abspath(px, e, &c->pipe_path, 0);
	else if (strcmp(key, "group") == 0)
		return parse_group(px, e, c);
	else if (strcmp(key, "mode") == 0)
		return parse_mode(px, e, c);
	else
		return cerr(px, "unknown key (expected enabled, path, "
		    "group or mode)");
}

static int
parse_range(struct cparse *px, json_t *v, uint32_t min, uint32_t max,
    uint32_t *out)
{
	json_int_t	n;

	if (!json_is_integer(v))
		return type_err(px, "an integer", v);
	n = json_integer_value(v);
	if (n < (json_int_t)min || n > (json_int_t)max)
		return cerr(px, "%" JSON_INTEGER_FORMAT " is out of range "
		    "(%u..%u)", n, min, max);
	*out = (uint32_t)n;
	return 0;
}

static int
parse_capacity(struct cparse *px, json_t *v, struct cfg *c)
{
	return parse_range(px, v, 1, CFG_CAPACITY_MAX, &c->capacity);
}

/* A host name as requests name their target: [A-Za-z0-9.-], 1..253. */
static int
parse_host(struct cparse *px, json_t *v, struct cfg *c)
{
	const char	*s;

	if (json_is_null(v))
		return cfg_set_string(&c->host, NULL);
	if (!json_is_string(v))
		return type_err(px, "a string or null", v);
	s = json_string_value(v);
	if (*s == '\0' || strlen(s) > WIRE_HOST_MAX)
		return cerr(px, "host name must be 1 to %d characters",
		    WIRE_HOST_MAX);
	if (!wire_host_valid(s, strlen(s)))
		return cerr(px, "host name may hold only letters, "
		    "digits, '.' and '-'");
	return cfg_set_string(&c->host, s);
}

/* A listener's URL: tls+tcp:// only, printable, short enough for NNG. */
static int
parse_tls_url(struct cparse *px, json_t *v, char **slot, const char *example)
{
	const char	*url;

	if (!json_is_string(v))
		return type_err(px, "a string", v);
	url = json_string_value(v);
	if (strncmp(url, "tls+tcp://", 10) != 0 || strlen(url) > 255 ||
	    has_ctrl(url))
		return cerr(px, "expected a tls+tcp:// URL, e.g. \"%s\"",
		    example);
	return cfg_set_string(slot, url);
}

static int
parse_tls(struct cparse *px, json_t *v, struct cfg *c)
{
	const char	*key;
	json_t		*e;
	int		 rc;

	if (json_is_null(v)) {
		rc = cfg_set_string(&c->tls_listen, NULL);
		return rc;
	}
	if (!json_is_object(v))
		return type_err(px, "an object or null", v);
	json_object_foreach(v, key, e) {
		push_key(px, key);
		if (strcmp(key, "listen") == 0)
			rc = parse_tls_url(px, e, &c->tls_listen,
			    "tls+tcp://[::]:7443");
		else if (strcmp(key, "cert") == 0)
			rc = parse_abspath(px, e, &c->tls_cert, 0);
		else if (strcmp(key, "key") == 0)
			rc = parse_abspath(px, e, &c->tls_key, 0);
		else if (strcmp(key, "ca") == 0)
			rc = parse_abspath(px, e, &c->tls_ca, 0);
		else
			rc = cerr(px, "unknown key (expected listen, cert, key "
			    "or ca)");
		pop(px);
		if (rc < 0)
			return rc;
	}
	if (!c->tls_listen || !c->tls_cert || !c->tls_key || !c->tls_ca)
		return cerr(px, "tls needs listen, cert, key and ca");
	return 0;
}

/*
 * The events' own TLS listener. Whether api.tls is there to lend it the
 * agent's certificate is checked once the whole document is read: the
 * keys of "api" come in any order.
 */
static int
parse_events_tls(struct cparse *px, json_t *v, struct cfg *c)
{
	const char	*key;
	json_t		*e;
	int		 rc;

	if (json_is_null(v)) {
		if ((rc = cfg_set_string(&c->events_listen, NULL)) < 0)
			return rc;
		return cfg_set_string(&c->events_ca, NULL);
	}
	if (!json_is_object(v))
		return type_err(px, "an object or null", v);
	/* An object replaces the whole listener: no ca left from before. */
	if ((rc = cfg_set_string(&c->events_ca, NULL)) < 0)
		return rc;
	json_object_foreach(v, key, e) {
		push_key(px, key);
		if (strcmp(key, "listen") == 0)
			rc = parse_tls_url(px, e, &c->events_listen,
			    "tls+tcp://[::]:7444");
		else if (strcmp(key, "ca") == 0)
			rc = parse_abspath(px, e, &c->events_ca, 0);
		else
			rc = cerr(px, "unknown key (expected listen or ca)");
		pop(px);
		if (rc < 0)
			return rc;
	}
	if (!c->events_listen)
		return cerr(px, "events_tls needs listen");
	return 0;
}

/* What only the whole document can tell: one key that needs another. */
static int
check_api(struct cparse *px, const struct cfg *c)
{
	int	rc = 0;

	if (c->events_listen == NULL)
		return 0;
	push_key(px, "api");
	push_key(px, "events_tls");
	if (c->tls_listen == NULL)
		rc = cerr(px, "needs api.tls (the agent's certificate and "
		    "key)");
	else if (strcmp(c->events_listen, c->tls_listen) == 0)
		rc = cerr(px, "listen is api.tls.listen's address; give the "
		    "events a port of their own (e.g. 7444)");
	pop(px);
	pop(px);
	return rc;
}

/* A key of "api"; a section of parse_section. */
static int
api_key(struct cparse *px, const char *key, json_t *e, struct cfg *c)
{
	if (strcmp(key, "ipc") == 0)
		return parse_abspath(px, e, &c->api_ipc, 1);
	else if (strcmp(key, "admin_group") == 0)
		return json_is_null(e) ?
		    cfg_set_string(&c->api_admin_group, NULL) :
		    parse_account(px, e, &c->api_admin_group, "group",
		    0);
	else if (strcmp(key, "authorized_keys") == 0)
		return parse_abspath(px, e, &c->api_keys, 1);
	else if (strcmp(key, "flow_capacity") == 0)
		return parse_range(px, e, 1, CFG_FLOWS_MAX,
		    &c->api_flows);
	else if (strcmp(key, "tls") == 0)
		return parse_tls(px, e, c);
	else if (strcmp(key, "events") == 0)
		return parse_bool(px, e, &c->api_events);
	else if (strcmp(key, "events_tls") == 0)
		return parse_events_tls(px, e, c);
	else
		return cerr(px, "unknown key (expected ipc, admin_group, "
		    "authorized_keys, flow_capacity, tls, events or "
		    "events_tls)");
}

/* A key of "marker"; a section of parse_section. */
static int
marker_key(struct cparse *px, const char *key, json_t *e, struct cfg *c)
{
	if (strcmp(key, "capacity") == 0)
		return parse_capacity(px, e, c);
	else if (strcmp(key, "pin_dir") == 0)
		return parse_abspath(px, e, &c->pin_dir, 0);
	else if (strcmp(key, "keep_on_exit") == 0)
		return parse_bool(px, e, &c->keep_on_exit);
	else
		return cerr(px, "unknown key (expected capacity, "
		    "pin_dir or keep_on_exit)");
}

/* A registry name or id; checked against the registry elsewhere. */
static int
parse_tagname(struct cparse *px, json_t *v, char **slot)
{
	char		 num[32];
	const char	*s;

	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return cfg_set_string(slot, num);
	}
	if (!json_is_string(v))
		return type_err(px, "a string or an integer", v);
	s = json_string_value(v);
	if (*s == '\0')
		return cerr(px, "is empty (expected a registry name or id)");
	if (strlen(s) >= CFG_NAME_MAX)
		return cerr(px, "is longer than %d bytes", CFG_NAME_MAX - 1);
	if (has_ctrl(s))
		return cerr(px, "contains a control character");
	return cfg_set_string(slot, s);
}

static int
parse_mark_all(struct cparse *px, json_t *v, struct cfg *c)
{
	const char	*key;
	json_t		*e;
	int		 rc;

	if (json_is_null(v)) {
		cfg_set_string(&c->mark_all_exp, NULL);
		return cfg_set_string(&c->mark_all_act, NULL);
	}
	if (!json_is_object(v))
		return type_err(px, "an object or null", v);
	json_object_foreach(v, key, e) {
		push_key(px, key);
		if (strcmp(key, "experiment") == 0)
			rc = parse_tagname(px, e, &c->mark_all_exp);
		else if (strcmp(key, "activity") == 0)
			rc = parse_tagname(px, e, &c->mark_all_act);
		else
			rc = cerr(px, "unknown key (expected experiment or "
			    "activity)");
		pop(px);
		if (rc < 0)
			return rc;
	}
	/* Half a tag would mark with something nobody asked for. */
	if (json_object_get(v, "experiment") == NULL)
		return cerr(px, "\"experiment\" is missing (mark_all needs "
		    "both experiment and activity)");
	if (json_object_get(v, "activity") == NULL)
		return cerr(px, "\"activity\" is missing (mark_all needs "
		    "both experiment and activity)");
	return 0;
}

int
cfg_collector_split(const char *s, char *host, size_t hostlen,
    uint16_t *port, char *err, size_t errlen)
{
	const char	*h = s, *end, *colon;
	char		*p;
	unsigned long	 n;
	size_t		 hl, i;

	*port = CFG_FF_PORT;
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			snprintf(err, errlen, "'[' without ']'");
			return -EINVAL;
		}
		h = s + 1;
		hl = (size_t)(end - h);
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] != '\0' && colon == NULL) {
			snprintf(err, errlen, "expected ':PORT' after ']'");
			return -EINVAL;
		}
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			snprintf(err, errlen, "an IPv6 address needs "
			    "brackets: \"[2001:db8::1]:10514\"");
			return -EINVAL;
		}
		hl = colon ? (size_t)(colon - s) : strlen(s);
	}
	if (hl == 0 || hl > CFG_HOSTNAME_MAX || hl >= hostlen) {
		snprintf(err, errlen, "host must be 1 to %d characters",
		    CFG_HOSTNAME_MAX);
		return -EINVAL;
	}
	for (i = 0; i < hl; i++)
		if (!(isalnum((unsigned char)h[i]) || h[i] == '.' ||
		    h[i] == '-' || (*s == '[' && h[i] == ':'))) {
			snprintf(err, errlen, "host may hold only letters, "
			    "digits, '.', '-' (and ':' inside brackets)");
			return -EINVAL;
		}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		errno = 0;
		n = strtoul(colon + 1, &p, 10);
		if (colon[1] == '\0' || *p != '\0' || errno != 0 || n < 1 ||
		    n > 65535 || !isdigit((unsigned char)colon[1])) {
			snprintf(err, errlen, "port must be 1 to 65535");
			return -EINVAL;
		}
		*port = (uint16_t)n;
	}
	return 0;
}

int
cfg_prefix_parse(const char *s, uint8_t addr[16], uint8_t *plen,
    char *err, size_t errlen)
{
	char		 a[64];
	const char	*slash = strchr(s, '/');
	unsigned long	 n;
	char		*p;
	size_t		 al = slash ? (size_t)(slash - s) : strlen(s);
	int		 v4 = 0;

	if (al == 0 || al >= sizeof(a)) {
		snprintf(err, errlen, "expected ADDR or ADDR/LEN");
		return -EINVAL;
	}
	memcpy(a, s, al);
	a[al] = '\0';
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, a, addr + 12) == 1) {
		addr[10] = addr[11] = 0xff;
		v4 = 1;
	} else if (inet_pton(AF_INET6, a, addr) != 1) {
		snprintf(err, errlen, "'%.63s' is not an IPv4 or IPv6 address",
		    a);
		return -EINVAL;
	}
	*plen = 128;
	if (slash != NULL) {
		errno = 0;
		n = strtoul(slash + 1, &p, 10);
		if (!isdigit((unsigned char)slash[1]) || *p != '\0' ||
		    errno != 0 || n > (v4 ? 32u : 128u)) {
			snprintf(err, errlen, "prefix length must be 0 to %d",
			    v4 ? 32 : 128);
			return -EINVAL;
		}
		*plen = (uint8_t)(v4 ? n + 96 : n);
	}
	return 0;
}

/* An array of strings each checked by check(); replaces slots[]. */
static int
parse_strings(struct cparse *px, json_t *v, char **slots, size_t *n,
    size_t max, const char *what, int (*check)(const char *, char *,
    size_t))
{
	char	 msg[160];
	json_t	*e;
	size_t	 i;
	int	 rc;

	if (!json_is_array(v))
		return type_err(px, what, v);
	if (json_array_size(v) > max)
		return cerr(px, "at most %zu entries", max);
	for (i = 0; i < *n; i++) {
		free(slots[i]);
		slots[i] = NULL;
	}
	*n = 0;
	json_array_foreach(v, i, e) {
		push_index(px, i);
		if (!json_is_string(e))
			rc = type_err(px, "a string", e);
		else if (check(json_string_value(e), msg, sizeof(msg)) != 0)
			rc = cerr(px, "%s", msg);
		else if ((rc = cfg_set_string(&slots[i],
		    json_string_value(e))) == 0)
			*n = i + 1;
		pop(px);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* A listen address: a literal address and a port. */
static int
check_listen(const char *s, char *err, size_t errlen)
{
	char		host[CFG_HOSTNAME_MAX + 1];
	uint8_t		a[16];
	uint16_t	port;

	if (cfg_collector_split(s, host, sizeof(host), &port, err,
	    errlen) != 0)
		return -EINVAL;
	if (inet_pton(AF_INET6, host, a) != 1 &&
	    inet_pton(AF_INET, host, a) != 1) {
		snprintf(err, errlen, "expected an address, not a name");
		return -EINVAL;
	}
	return 0;
}

static int
check_collector(const char *s, char *err, size_t errlen)
{
	char		host[CFG_HOSTNAME_MAX + 1];
	uint16_t	port;

	return cfg_collector_split(s, host, sizeof(host), &port, err, errlen);
}

static int
check_prefix(const char *s, char *err, size_t errlen)
{
	uint8_t	a[16], plen;

	return cfg_prefix_parse(s, a, &plen, err, errlen);
}

/* A key of "fireflies"; a section of parse_section. */
static int
fireflies_key(struct cparse *px, const char *key, json_t *e, struct cfg *c)
{
	if (strcmp(key, "enabled") == 0)
		return parse_bool(px, e, &c->ff_enabled);
	else if (strcmp(key, "collectors") == 0)
		return parse_strings(px, e, c->ff_collectors,
		    &c->nff_collectors, CFG_MAX_COLLECTORS,
		    "an array of \"HOST[:PORT]\" strings",
		    check_collector);
	else if (strcmp(key, "to_peer") == 0)
		return parse_bool(px, e, &c->ff_to_peer);
	else if (strcmp(key, "peer_port") == 0)
		return parse_range(px, e, 1, 65535, &c->ff_peer_port);
	else if (strcmp(key, "interval") == 0)
		return parse_range(px, e, 0, 86400, &c->ff_interval);
	else if (strcmp(key, "resolve_every") == 0)
		return parse_range(px, e, 10, 86400, &c->ff_resolve);
	else if (strcmp(key, "scan_every") == 0)
		return parse_range(px, e, 1, 3600, &c->ff_scan);
	else if (strcmp(key, "listen") == 0)
		return parse_strings(px, e, c->ff_listen, &c->nff_listen,
		    CFG_MAX_LISTEN, "an array of \"ADDR:PORT\" "
		    "strings", check_listen);
	else if (strcmp(key, "allow") == 0)
		return parse_strings(px, e, c->ff_allow, &c->nff_allow,
		    CFG_MAX_ALLOW, "an array of \"ADDR[/LEN]\" "
		    "strings", check_prefix);
	else
		return cerr(px, "unknown key (expected enabled, "
		    "collectors, to_peer, peer_port, interval, "
		    "resolve_every, scan_every, listen or allow)");
}

static int
parse_root(struct cparse *px, json_t *root, struct cfg *c)
{
	const char	*key;
	json_t		*v;
	int		 rc;

	if (!json_is_object(root))
		return type_err(px, "an object", root);
	json_object_foreach(root, key, v) {
		push_key(px, key);
		if (strcmp(key, "interfaces") == 0)
			rc = parse_ifaces(px, v, c);
		else if (strcmp(key, "strategy") == 0)
			rc = parse_strategy(px, v, c);
		else if (strcmp(key, "registry") == 0)
			rc = parse_abspath(px, v, &c->registry_path, 1);
		else if (strcmp(key, "log_level") == 0)
			rc = parse_log_level(px, v, c);
		else if (strcmp(key, "user") == 0)
			rc = parse_account(px, v, &c->user, "user", 0);
		else if (strcmp(key, "host") == 0)
			rc = parse_host(px, v, c);
		else if (strcmp(key, "api") == 0)
			rc = parse_section(px, v, c, api_key);
		else if (strcmp(key, "pipe") == 0)
			rc = parse_section(px, v, c, pipe_key);
		else if (strcmp(key, "marker") == 0)
			rc = parse_section(px, v, c, marker_key);
		else if (strcmp(key, "mark_all") == 0)
			rc = parse_mark_all(px, v, c);
		else if (strcmp(key, "fireflies") == 0)
			rc = parse_section(px, v, c, fireflies_key);
		else
			rc = cerr(px, "unknown key (expected interfaces, "
			    "strategy, registry, log_level, user, host, api, "
			    "pipe, marker, mark_all or fireflies)");
		pop(px);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int
cfg_init(struct cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->strategy = TAG_STRAT_FLOW_LABEL;
	c->log_level = LOG_LVL_INFO;
	c->pipe_enabled = 1;
	c->pipe_mode = 0620;
	c->capacity = CFG_CAPACITY_DEFAULT;
	c->keep_on_exit = 0;
	c->api_flows = CFG_FLOWS_DEFAULT;
	c->api_events = 1;
	c->ff_enabled = 1;
	c->ff_to_peer = 1;
	c->ff_peer_port = CFG_FF_PORT;
	c->ff_resolve = CFG_FF_RESOLVE_DEFAULT;
	c->ff_scan = CFG_FF_SCAN_DEFAULT;
	if (cfg_set_string(&c->ff_listen[0], "[::1]:10514") < 0 ||
	    cfg_set_string(&c->ff_listen[1], "127.0.0.1:10514") < 0 ||
	    cfg_set_string(&c->ff_allow[0], "::1") < 0 ||
	    cfg_set_string(&c->ff_allow[1], "127.0.0.0/8") < 0) {
		c->nff_listen = c->nff_allow = 2;
		cfg_free(c);
		return -ENOMEM;
	}
	c->nff_listen = c->nff_allow = 2;
	if (cfg_set_string(&c->pipe_path, CFG_PIPE_PATH_DEFAULT) < 0 ||
	    cfg_set_string(&c->user, CFG_USER_DEFAULT) < 0 ||
	    cfg_set_string(&c->api_ipc, CFG_IPC_DEFAULT) < 0 ||
	    cfg_set_string(&c->api_admin_group, CFG_ADMIN_GROUP_DEFAULT) < 0 ||
	    cfg_set_string(&c->pin_dir, CFG_PIN_DIR_DEFAULT) < 0) {
		cfg_free(c);
		return -ENOMEM;
	}
	return 0;
}

static int
cfg_copy(struct cfg *dst, const struct cfg *src)
{
	size_t	i;
	int	rc = 0;

	*dst = *src;
	/* Forget src's pointers first so that cfg_free(dst) is always safe. */
	memset(dst->ifaces, 0, sizeof(dst->ifaces));
	memset(dst->ff_collectors, 0, sizeof(dst->ff_collectors));
	memset(dst->ff_listen, 0, sizeof(dst->ff_listen));
	memset(dst->ff_allow, 0, sizeof(dst->ff_allow));
	dst->registry_path = dst->pipe_path = dst->pipe_group = NULL;
	dst->user = dst->host = dst->api_ipc = dst->api_admin_group = NULL;
	dst->api_keys = dst->tls_listen = dst->tls_cert = dst->tls_key = NULL;
	dst->tls_ca = dst->events_listen = dst->events_ca = NULL;
	dst->pin_dir = dst->mark_all_exp = dst->mark_all_act = NULL;

	for (i = 0; i < src->nifaces && rc == 0; i++)
		rc = cfg_set_string(&dst->ifaces[i], src->ifaces[i]);
	for (i = 0; i < src->nff_collectors && rc == 0; i++)
		rc = cfg_set_string(&dst->ff_collectors[i],
		    src->ff_collectors[i]);
	for (i = 0; i < src->nff_listen && rc == 0; i++)
		rc = cfg_set_string(&dst->ff_listen[i], src->ff_listen[i]);
	for (i = 0; i < src->nff_allow && rc == 0; i++)
		rc = cfg_set_string(&dst->ff_allow[i], src->ff_allow[i]);
	if (rc == 0)
		rc = cfg_set_string(&dst->registry_path, src->registry_path);
	if (rc == 0)
		rc = cfg_set_string(&dst->user, src->user);
	if (rc == 0)
		rc = cfg_set_string(&dst->host, src->host);
	if (rc == 0)
		rc = cfg_set_string(&dst->api_ipc, src->api_ipc);
	if (rc == 0)
		rc = cfg_set_string(&dst->api_admin_group,
		    src->api_admin_group);
	if (rc == 0)
		rc = cfg_set_string(&dst->api_keys, src->api_keys);
	if (rc == 0)
		rc = cfg_set_string(&dst->tls_listen, src->tls_listen);
	if (rc == 0)
		rc = cfg_set_string(&dst->tls_cert, src->tls_cert);
	if (rc == 0)
		rc = cfg_set_string(&dst->tls_key, src->tls_key);
	if (rc == 0)
		rc = cfg_set_string(&dst->tls_ca, src->tls_ca);
	if (rc == 0)
		rc = cfg_set_string(&dst->events_listen, src->events_listen);
	if (rc == 0)
		rc = cfg_set_string(&dst->events_ca, src->events_ca);
	if (rc == 0)
		rc = cfg_set_string(&dst->pipe_path, src->pipe_path);
	if (rc == 0)
		rc = cfg_set_string(&dst->pipe_group, src->pipe_group);
	if (rc == 0)
		rc = cfg_set_string(&dst->pin_dir, src->pin_dir);
	if (rc == 0)
		rc = cfg_set_string(&dst->mark_all_exp, src->mark_all_exp);
	if (rc == 0)
		rc = cfg_set_string(&dst->mark_all_act, src->mark_all_act);
	if (rc < 0)
		cfg_free(dst);
	return rc;
}

int
cfg_parse(struct cfg *c, const char *buf, size_t len, const char *source,
    char *err, size_t errlen)
{
	struct cparse	 px = { buf, len, source, err, errlen, { { 0 } },
	    0 };
	struct cfg	 tmp;
	json_error_t	 je;
	json_t		*root;
	int		 rc;

	if (source == NULL)
		px.source = source = "(config)";
	if (buf == NULL) {
		snprintf(err, errlen, "%s: no data", source);
		return -EINVAL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		if (je.line > 0)
			snprintf(err, errlen, "%s:%d: %s", source, je.line,
			    je.text);
		else
			snprintf(err, errlen, "%s: %s", source, je.text);
		return -EINVAL;
	}
	if ((rc = cfg_copy(&tmp, c)) < 0)
		goto out;
	if ((rc = parse_root(&px, root, &tmp)) < 0 ||
	    (rc = check_api(&px, &tmp)) < 0) {
		cfg_free(&tmp);
		goto out;
	}
	cfg_free(c);
	*c = tmp;
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", source);
	json_decref(root);
	return rc;
}

int
cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	char	*buf;
	size_t	 len;
	int	 rc;

	rc = jsonpos_read_file(path, CFG_FILE_MAX, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	rc = cfg_parse(c, buf, len, path, err, errlen);
	free(buf);
	return rc;
}

void
cfg_free(struct cfg *c)
{
	size_t	i, n = c->nifaces;

	/*
	 * Only the first nifaces entries are owned: a caller that empties
	 * the list by freeing them and zeroing nifaces (sctagd's -i) must
	 * not cause a double free here.
	 */
	if (n > CFG_MAX_IFACES)
		n = CFG_MAX_IFACES;
	for (i = 0; i < n; i++)
		free(c->ifaces[i]);
	for (i = 0; i < c->nff_collectors && i < CFG_MAX_COLLECTORS; i++)
		free(c->ff_collectors[i]);
	for (i = 0; i < c->nff_listen && i < CFG_MAX_LISTEN; i++)
		free(c->ff_listen[i]);
	for (i = 0; i < c->nff_allow && i < CFG_MAX_ALLOW; i++)
		free(c->ff_allow[i]);
	free(c->registry_path);
	free(c->user);
	free(c->host);
	free(c->api_ipc);
	free(c->api_admin_group);
	free(c->api_keys);
	free(c->tls_listen);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->tls_ca);
	free(c->events_listen);
	free(c->events_ca);
	free(c->pipe_path);
	free(c->pipe_group);
	free(c->pin_dir);
	free(c->mark_all_exp);
	free(c->mark_all_act);
	memset(c, 0, sizeof(*c));
}

int
cfg_add_iface(struct cfg *c, const char *name, char *err, size_t errlen)
{
	size_t	at;
	int	rc;

	if (name == NULL) {
		snprintf(err, errlen, "interface name is missing");
		return -EINVAL;
	}
	if ((rc = check_iface(name, err, errlen)) < 0)
		return rc;
	if (find_iface(c, name, &at)) {
		snprintf(err, errlen, "interface '%s' is already configured",
		    name);
		return -EINVAL;
	}
	if (c->nifaces >= CFG_MAX_IFACES) {
		snprintf(err, errlen, "too many interfaces: at most %d are "
		    "allowed", CFG_MAX_IFACES);
		return -E2BIG;
	}
	if ((c->ifaces[c->nifaces] = strdup(name)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	c->nifaces++;
	return 0;
}

int
cfg_set_string(char **slot, const char *value)
{
	char	*s = NULL;

	if (value != NULL && (s = strdup(value)) == NULL)
		return -ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

/* json_string(NULL) would be NULL: absent strings are JSON null. */
static json_t *
str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/*
 * Put a new container into parent and return it, or NULL (and *bad) if
 * either failed. jansson's *_new setters take a NULL parent or value
 * gracefully, so filling a NULL container just fails again.
 */
static json_t *
add_container(json_t *parent, const char *key, json_t *child, int *bad)
{
	if (child == NULL || json_object_set_new(parent, key, child) != 0) {
		*bad = 1;
		return NULL;
	}
	return child;
}

const char *
cfg_events_ca(const struct cfg *c)
{
	return c->events_ca != NULL ? c->events_ca : c->tls_ca;
}

int
cfg_dump(const struct cfg *c, FILE *f)
{
	json_t	*root, *o, *a;
	char	 mode[8];
	size_t	 i;
	int	 bad = 0, rc = 0;

	/* Objects keep insertion order: the dump reads like docs/config.md. */
	if ((root = json_object()) == NULL)
		return -ENOMEM;
	o = add_container(root, "interfaces", json_array(), &bad);
	for (i = 0; i < c->nifaces; i++)
		bad |= json_array_append_new(o, json_string(c->ifaces[i]));
	bad |= json_object_set_new(root, "strategy",
	    json_string(tag_strategy_name(c->strategy)));
	bad |= json_object_set_new(root, "registry",
	    str_or_null(c->registry_path));
	bad |= json_object_set_new(root, "log_level",
	    json_string(log_level_name((enum log_level)c->log_level)));
	bad |= json_object_set_new(root, "user", str_or_null(c->user));
	bad |= json_object_set_new(root, "host", str_or_null(c->host));

	o = add_container(root, "api", json_object(), &bad);
	bad |= json_object_set_new(o, "ipc", str_or_null(c->api_ipc));
	bad |= json_object_set_new(o, "admin_group",
	    str_or_null(c->api_admin_group));
	bad |= json_object_set_new(o, "authorized_keys",
	    str_or_null(c->api_keys));
	bad |= json_object_set_new(o, "flow_capacity",
	    json_integer(c->api_flows));
	bad |= json_object_set_new(o, "events", json_boolean(c->api_events));
	if (c->tls_listen) {
		json_t *t = add_container(o, "tls", json_object(), &bad);

		bad |= json_object_set_new(t, "listen",
		    json_string(c->tls_listen));
		bad |= json_object_set_new(t, "cert", str_or_null(c->tls_cert));
		bad |= json_object_set_new(t, "key", str_or_null(c->tls_key));
		bad |= json_object_set_new(t, "ca", str_or_null(c->tls_ca));
	} else {
		bad |= json_object_set_new(o, "tls", json_null());
	}
	if (c->events_listen) {
		json_t *t = add_container(o, "events_tls", json_object(), &bad);

		bad |= json_object_set_new(t, "listen",
		    json_string(c->events_listen));
		bad |= json_object_set_new(t, "ca",
		    str_or_null(cfg_events_ca(c)));
	} else {
		bad |= json_object_set_new(o, "events_tls", json_null());
	}

	o = add_container(root, "pipe", json_object(), &bad);
	snprintf(mode, sizeof(mode), "%04o", c->pipe_mode & 0777);
	bad |= json_object_set_new(o, "enabled", json_boolean(c->pipe_enabled));
	bad |= json_object_set_new(o, "path", str_or_null(c->pipe_path));
	bad |= json_object_set_new(o, "group", str_or_null(c->pipe_group));
	bad |= json_object_set_new(o, "mode", json_string(mode));

	o = add_container(root, "marker", json_object(), &bad);
	bad |= json_object_set_new(o, "capacity", json_integer(c->capacity));
	bad |= json_object_set_new(o, "pin_dir", str_or_null(c->pin_dir));
	bad |= json_object_set_new(o, "keep_on_exit",
	    json_boolean(c->keep_on_exit));

	if (c->mark_all_exp != NULL && c->mark_all_act != NULL) {
		o = add_container(root, "mark_all", json_object(), &bad);
		bad |= json_object_set_new(o, "experiment",
		    json_string(c->mark_all_exp));
		bad |= json_object_set_new(o, "activity",
		    json_string(c->mark_all_act));
	} else {
		bad |= json_object_set_new(root, "mark_all", json_null());
	}

	o = add_container(root, "fireflies", json_object(), &bad);
	bad |= json_object_set_new(o, "enabled", json_boolean(c->ff_enabled));
	a = add_container(o, "collectors", json_array(), &bad);
	for (i = 0; i < c->nff_collectors; i++)
		bad |= json_array_append_new(a,
		    json_string(c->ff_collectors[i]));
	bad |= json_object_set_new(o, "to_peer", json_boolean(c->ff_to_peer));
	bad |= json_object_set_new(o, "peer_port",
	    json_integer(c->ff_peer_port));
	bad |= json_object_set_new(o, "interval", json_integer(c->ff_interval));
	bad |= json_object_set_new(o, "resolve_every",
	    json_integer(c->ff_resolve));
	bad |= json_object_set_new(o, "scan_every", json_integer(c->ff_scan));
	a = add_container(o, "listen", json_array(), &bad);
	for (i = 0; i < c->nff_listen; i++)
		bad |= json_array_append_new(a, json_string(c->ff_listen[i]));
	a = add_container(o, "allow", json_array(), &bad);
	for (i = 0; i < c->nff_allow; i++)
		bad |= json_array_append_new(a, json_string(c->ff_allow[i]));

	if (bad)
		rc = -EINVAL;	/* no memory, or a string not in UTF-8 */
	else if (json_dumpf(root, f, JSON_INDENT(2)) != 0 ||
	    fputc('\n', f) == EOF)
		rc = -EIO;
	json_decref(root);
	return rc;
}
