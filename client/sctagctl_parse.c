/*
 * sctagctl_parse.c: sctagctl's text parsing (sctagctl_parse.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sctagctl_parse.h"

#define HOSTS_FILE_MAX	(1024 * 1024)

int
ctl_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long	v;
	char			*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int
is_host_name(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > SCTAG_HOST_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char	ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
			return 0;
	}
	return 1;
}

int
ctl_parse_host(const char *arg, struct ctl_host *h, char *err,
    size_t errlen)
{
	const char	*eq = strchr(arg, '='), *scheme = strstr(arg, "://");
	const char	*url = arg;
	size_t		 n;

	memset(h, 0, sizeof(*h));
	/* NAME= only before the scheme: an '=' later belongs to the URL. */
	if (eq != NULL && (scheme == NULL || eq < scheme)) {
		n = (size_t)(eq - arg);
		if (!is_host_name(arg, n)) {
			snprintf(err, errlen, "'%.*s' in '%s' is not a host "
			    "name (A-Z a-z 0-9 . -)", (int)(n > 64 ? 64 : n),
			    arg, arg);
			return -EINVAL;
		}
		memcpy(h->target, arg, n);
		h->target[n] = '\0';
		url = eq + 1;
	}
	if (strncmp(url, "ipc://", 6) != 0 &&
	    strncmp(url, "tls+tcp://", 10) != 0) {
		snprintf(err, errlen, "'%s': the URL must be ipc://PATH or "
		    "tls+tcp://HOST:PORT", url);
		return -EINVAL;
	}
	if (strlen(url) >= sizeof(h->url)) {
		snprintf(err, errlen, "URL longer than %zu bytes",
		    sizeof(h->url) - 1);
		return -EINVAL;
	}
	snprintf(h->url, sizeof(h->url), "%s", url);
	if (h->target[0] != '\0')
		snprintf(h->label, sizeof(h->label), "%s", h->target);
	else if (sctag_url_target(url, h->label, sizeof(h->label)) != 0)
		snprintf(h->label, sizeof(h->label), "%.*s",
		    (int)sizeof(h->label) - 1, url);
	return 0;
}

int
ctl_parse_hosts_text(const char *text, const char *name,
    struct ctl_host **hosts, size_t *n, char *err, size_t errlen)
{
	struct ctl_host	*nh;
	const char	*p = text, *eol;
	char		 line[CTL_URL_MAX + SCTAG_HOST_MAX + 8], *s, *e, *hash;
	char		 why[CTL_ERR_MAX];
	size_t		 len, lineno = 0;

	while (*p != '\0') {
		lineno++;
		eol = strchr(p, '\n');
		len = eol != NULL ? (size_t)(eol - p) : strlen(p);
		if (len >= sizeof(line)) {
			snprintf(err, errlen, "%s:%zu: line too long", name,
			    lineno);
			return -EINVAL;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (eol != NULL ? 1 : 0);
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		for (s = line; *s == ' ' || *s == '\t' || *s == '\r'; s++)
			;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'))
			*--e = '\0';
		if (*s == '\0')
			continue;
		if (strpbrk(s, " \t") != NULL) {
			snprintf(err, errlen, "%s:%zu: one [NAME=]URL per "
			    "line", name, lineno);
			return -EINVAL;
		}
		nh = realloc(*hosts, (*n + 1) * sizeof(**hosts));
		if (nh == NULL) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		*hosts = nh;
		if (ctl_parse_host(s, &nh[*n], why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return -EINVAL;
		}
		(*n)++;
	}
	return 0;
}

int
ctl_read_hosts(const char *path, struct ctl_host **hosts, size_t *n,
    char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL;
	size_t		 got = 0;
	ssize_t		 r;
	int		 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > HOSTS_FILE_MAX) {
		snprintf(err, errlen, "%s: not a file of at most %d bytes",
		    path, HOSTS_FILE_MAX);
		rc = -EFBIG;
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	if (memchr(buf, '\0', got) != NULL) {
		snprintf(err, errlen, "%s: not a text file", path);
		rc = -EINVAL;
		goto out;
	}
	rc = ctl_parse_hosts_text(buf, path, hosts, n, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

/* "ADDR" or, with allow_len, "ADDR/LEN" in s[0..n): a valid IPv4 or
 * IPv6 address; copied to addr. */
static int
check_addr(const char *s, size_t n, int allow_len,
    char addr[CTL_ADDR_MAX + 1], char *err, size_t errlen)
{
	char		 a[CTL_ADDR_MAX + 1], *slash;
	uint8_t		 buf[16];
	uint64_t	 plen;
	int		 v6;

	if (n == 0 || n > CTL_ADDR_MAX) {
		snprintf(err, errlen, "address '%.*s' is %s", (int)(n > 80 ?
		    80 : n), s, n == 0 ? "empty" : "too long");
		return -EINVAL;
	}
	memcpy(a, s, n);
	a[n] = '\0';
	slash = strchr(a, '/');
	if (slash != NULL) {
		if (!allow_len) {
			snprintf(err, errlen, "'%s': a source is one address, "
			    "not a prefix", a);
			return -EINVAL;
		}
		*slash = '\0';
	}
	v6 = inet_pton(AF_INET6, a, buf) == 1;
	if (!v6 && inet_pton(AF_INET, a, buf) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", a);
		return -EINVAL;
	}
	if (slash != NULL && ctl_parse_u64(slash + 1, v6 ? 128 : 32,
	    &plen) != 0) {
		snprintf(err, errlen, "'%s': prefix length '%s' is not "
		    "0-%d", s, slash + 1, v6 ? 128 : 32);
		return -EINVAL;
	}
	if (slash != NULL)
		*slash = '/';
	snprintf(addr, CTL_ADDR_MAX + 1, "%s", a);
	return 0;
}

static int
parse_endpoint(const char *s, int allow_len, char addr[CTL_ADDR_MAX + 1],
    unsigned *port, char *err, size_t errlen)
{
	const char	*close, *colon, *end;
	uint64_t	 p;
	char		 tmp[CTL_ADDR_MAX + 8];
	size_t		 n;
	int		 rc;

	addr[0] = '\0';
	*port = 0;
	if (s == NULL || *s == '\0' || strcmp(s, "*") == 0)
		return 0;
	if (*s == '[') {
		/* [ADDR]:PORT, [ADDR/LEN]:PORT, [ADDR]/LEN:PORT, [ADDR] */
		if ((close = strchr(s, ']')) == NULL) {
			snprintf(err, errlen, "'%s': no ']'", s);
			return -EINVAL;
		}
		n = (size_t)(close - s - 1);
		end = close + 1;
		if (*end == '/') {
			colon = strchr(end, ':');
			if (n + (size_t)(colon != NULL ? colon - end :
			    (ptrdiff_t)strlen(end)) >= sizeof(tmp)) {
				snprintf(err, errlen, "'%s' is too long", s);
				return -EINVAL;
			}
			memcpy(tmp, s + 1, n);
			n += (size_t)snprintf(tmp + n, sizeof(tmp) - n, "%.*s",
			    (int)(colon != NULL ? colon - end :
			    (ptrdiff_t)strlen(end)), end);
			end = colon != NULL ? colon : end + strlen(end);
		} else {
			if (n >= sizeof(tmp)) {
				snprintf(err, errlen, "'%s' is too long", s);
				return -EINVAL;
			}
			memcpy(tmp, s + 1, n);
		}
		tmp[n] = '\0';
		if ((rc = check_addr(tmp, n, allow_len, addr, err,
		    errlen)) != 0)
			return rc;
		if (*end == '\0')
			return 0;
		if (*end != ':') {
			snprintf(err, errlen, "'%s': expected ':PORT' after "
			    "']'", s);
			return -EINVAL;
		}
		colon = end;
	} else {
		colon = strchr(s, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			/* Two colons: a bare IPv6 address, no port. */
			return check_addr(s, strlen(s), allow_len, addr,
			    err, errlen);
		}
		n = colon != NULL ? (size_t)(colon - s) : strlen(s);
		if ((rc = check_addr(s, n, allow_len, addr, err,
		    errlen)) != 0)
			return rc;
		if (colon == NULL)
			return 0;
	}
	if (ctl_parse_u64(colon + 1, 65535, &p) != 0 || p == 0) {
		snprintf(err, errlen, "'%s': port '%s' is not 1-65535", s,
		    colon + 1);
		return -EINVAL;
	}
	*port = (unsigned)p;
	return 0;
}

int
ctl_parse_src(const char *s, char addr[CTL_ADDR_MAX + 1], unsigned *port,
    char *err, size_t errlen)
{
	return parse_endpoint(s, 0, addr, port, err, errlen);
}

int
ctl_parse_dst(const char *s, char addr[CTL_ADDR_MAX + 1], unsigned *port,
    char *err, size_t errlen)
{
	return parse_endpoint(s, 1, addr, port, err, errlen);
}

int
ctl_parse_proto(const char *s, Sctag__V1__Protocol *p)
{
	if (strcasecmp(s, "tcp") == 0 || strcmp(s, "6") == 0)
		*p = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	else if (strcasecmp(s, "udp") == 0 || strcmp(s, "17") == 0)
		*p = SCTAG__V1__PROTOCOL__PROTOCOL_UDP;
	else if (strcasecmp(s, "any") == 0 || strcmp(s, "0") == 0)
		*p = SCTAG__V1__PROTOCOL__PROTOCOL_ANY;
	else
		return -EINVAL;
	return 0;
}

int
ctl_parse_strategy(const char *s, Sctag__V1__Strategy *st)
{
	static const struct {
		const char		*name;
		Sctag__V1__Strategy	 v;
	} names[] = {
		{ "default", SCTAG__V1__STRATEGY__STRATEGY_DEFAULT },
		{ "flow-label", SCTAG__V1__STRATEGY__STRATEGY_FLOW_LABEL },
		{ "hop-by-hop", SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP },
		{ "destination", SCTAG__V1__STRATEGY__STRATEGY_DESTINATION },
		{ "hop-by-hop+destination",
		    SCTAG__V1__STRATEGY__STRATEGY_HOP_BY_HOP_DESTINATION },
	};
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*st = names[i].v;
			return 0;
		}
	}
	return -EINVAL;
}

static int
copy_name(char *dst, size_t size, const char *v, const char *opt,
    char *err, size_t errlen)
{
	const char	*p;

	if (*v == '\0' || strlen(v) >= size) {
		snprintf(err, errlen, "%s: 1 to %zu characters", opt,
		    size - 1);
		return -EINVAL;
	}
	for (p = v; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) {
			snprintf(err, errlen, "%s: printable ASCII only", opt);
			return -EINVAL;
		}
	}
	snprintf(dst, size, "%s", v);
	return 0;
}

int
ctl_parse_flow(int argc, char *const argv[], int need_tag,
    struct ctl_flow *f, char *err, size_t errlen)
{
	char		 opt[32], why[CTL_ERR_MAX];
	const char	*arg, *val, *eq;
	uint64_t	 v;
	int		 i, rc;

	memset(f, 0, sizeof(*f));
	f->proto = SCTAG__V1__PROTOCOL__PROTOCOL_TCP;
	for (i = 0; i < argc; i++) {
		arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
			snprintf(err, errlen, "unexpected '%s' (flow options "
			    "are --proto --src --dst --experiment --activity "
			    "--scitag --ttl --strategy --app "
			    "--per-connection)", arg);
			return -EINVAL;
		}
		/* The one flag without a value. */
		if (strcmp(arg, "--per-connection") == 0) {
			f->per_conn = 1;
			continue;
		}
		if ((eq = strchr(arg, '=')) != NULL) {
			snprintf(opt, sizeof(opt), "%.*s", (int)(eq - arg), arg);
			val = eq + 1;
		} else {
			snprintf(opt, sizeof(opt), "%s", arg);
			if (i + 1 >= argc) {
				snprintf(err, errlen, "%s needs a value", arg);
				return -EINVAL;
			}
			val = argv[++i];
		}
		rc = 0;
		if (strcmp(opt, "--proto") == 0) {
			if (ctl_parse_proto(val, &f->proto) != 0) {
				snprintf(err, errlen, "--proto: '%s' is not "
				    "tcp, udp or any", val);
				return -EINVAL;
			}
		} else if (strcmp(opt, "--src") == 0) {
			rc = ctl_parse_src(val, f->src, &f->sport, why,
			    sizeof(why));
		} else if (strcmp(opt, "--dst") == 0) {
			rc = ctl_parse_dst(val, f->dst, &f->dport, why,
			    sizeof(why));
		} else if (strcmp(opt, "--experiment") == 0 ||
		    strcmp(opt, "--exp") == 0) {
			rc = copy_name(f->experiment, sizeof(f->experiment),
			    val, opt, err, errlen);
			if (rc != 0)
				return rc;
		} else if (strcmp(opt, "--activity") == 0 ||
		    strcmp(opt, "--act") == 0) {
			rc = copy_name(f->activity, sizeof(f->activity), val,
			    opt, err, errlen);
			if (rc != 0)
				return rc;
		} else if (strcmp(opt, "--scitag") == 0) {
			if (ctl_parse_u64(val, UINT32_MAX, &v) != 0 ||
			    v == 0) {
				snprintf(err, errlen, "--scitag: '%s' is not a "
				    "number (experiment << 6 | activity)", val);
				return -EINVAL;
			}
			f->scitag = (uint32_t)v;
		} else if (strcmp(opt, "--ttl") == 0) {
			if (ctl_parse_u64(val, UINT32_MAX, &v) != 0) {
				snprintf(err, errlen, "--ttl: '%s' is not a "
				    "number of seconds", val);
				return -EINVAL;
			}
			f->ttl = (uint32_t)v;
		} else if (strcmp(opt, "--strategy") == 0) {
			if (ctl_parse_strategy(val, &f->strategy) != 0) {
				snprintf(err, errlen, "--strategy: '%s' is not "
				    "default, flow-label, hop-by-hop, "
				    "destination or hop-by-hop+destination",
				    val);
				return -EINVAL;
			}
		} else if (strcmp(opt, "--app") == 0) {
			rc = copy_name(f->app, sizeof(f->app), val, opt, err,
			    errlen);
			if (rc != 0)
				return rc;
		} else {
			snprintf(err, errlen, "unknown flow option '%s'", opt);
			return -EINVAL;
		}
		if (rc != 0) {
			snprintf(err, errlen, "%s: %s", opt, why);
			return rc;
		}
	}
	if ((f->experiment[0] != '\0') != (f->activity[0] != '\0')) {
		snprintf(err, errlen, "--experiment and --activity go "
		    "together");
		return -EINVAL;
	}
	if (f->experiment[0] != '\0' && f->scitag != 0) {
		snprintf(err, errlen, "give --experiment/--activity or "
		    "--scitag, not both");
		return -EINVAL;
	}
	if (need_tag && f->experiment[0] == '\0' && f->scitag == 0) {
		snprintf(err, errlen, "a flow needs --experiment and "
		    "--activity, or --scitag");
		return -EINVAL;
	}
	return 0;
}

Sctag__V1__FlowSpec *
ctl_flow_spec(struct ctl_flow *f)
{
	sctag__v1__flow_spec__init(&f->spec);
	sctag__v1__tag__init(&f->tag);
	f->tag.experiment = f->experiment;
	f->tag.activity = f->activity;
	f->tag.scitag = f->scitag;
	f->spec.protocol = f->proto;
	f->spec.src = f->src;
	f->spec.src_port = f->sport;
	f->spec.dst = f->dst;
	f->spec.dst_port = f->dport;
	f->spec.tag = &f->tag;
	f->spec.strategy = f->strategy;
	f->spec.ttl_seconds = f->ttl;
	f->spec.application = f->app;
	f->spec.per_connection = f->per_conn != 0;
	return &f->spec;
}

/* flowd's "start|end tcp|udp SRC SPORT DST DPORT EXP ACT". */
static int
parse_flowd(char **tok, struct ctl_item *it, char *err, size_t errlen)
{
	struct ctl_flow	*f = &it->flow;
	uint64_t	 p;
	char		 why[CTL_ERR_MAX];
	unsigned	 dummy;

	memset(f, 0, sizeof(*f));
	if (ctl_parse_proto(tok[1], &f->proto) != 0 ||
	    f->proto == SCTAG__V1__PROTOCOL__PROTOCOL_ANY) {
		snprintf(err, errlen, "'%s' is not tcp or udp", tok[1]);
		return -EINVAL;
	}
	if (ctl_parse_src(tok[2], f->src, &dummy, why, sizeof(why)) != 0 ||
	    dummy != 0 || ctl_parse_src(tok[4], f->dst, &dummy, why,
	    sizeof(why)) != 0 || dummy != 0) {
		snprintf(err, errlen, "flowd format: %s", dummy != 0 ?
		    "addresses without ports" : why);
		return -EINVAL;
	}
	if (ctl_parse_u64(tok[3], 65535, &p) != 0) {
		snprintf(err, errlen, "source port '%s' is not 0-65535",
		    tok[3]);
		return -EINVAL;
	}
	f->sport = (unsigned)p;
	if (ctl_parse_u64(tok[5], 65535, &p) != 0) {
		snprintf(err, errlen, "destination port '%s' is not 0-65535",
		    tok[5]);
		return -EINVAL;
	}
	f->dport = (unsigned)p;
	if (copy_name(f->experiment, sizeof(f->experiment), tok[6],
	    "experiment", err, errlen) != 0 ||
	    copy_name(f->activity, sizeof(f->activity), tok[7], "activity",
	    err, errlen) != 0)
		return -EINVAL;
	return 1;
}

int
ctl_parse_batch_line(char *line, struct ctl_item *it, char *err,
    size_t errlen)
{
	char	*tok[CTL_LINE_TOKENS], *save = NULL, *t, *hash;
	int	 n = 0;

	memset(it, 0, sizeof(*it));
	if ((hash = strchr(line, '#')) != NULL)
		*hash = '\0';
	for (t = strtok_r(line, " \t\r\n", &save); t != NULL;
	    t = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == CTL_LINE_TOKENS) {
			snprintf(err, errlen, "more than %d words",
			    CTL_LINE_TOKENS);
			return -EINVAL;
		}
		tok[n++] = t;
	}
	if (n == 0)
		return 0;
	if (strcmp(tok[0], "start") == 0)
		it->op = CTL_OP_START;
	else if (strcmp(tok[0], "end") == 0)
		it->op = CTL_OP_END;
	else {
		snprintf(err, errlen, "'%.32s': a line starts with 'start' or "
		    "'end'", tok[0]);
		return -EINVAL;
	}
	if (n == 1) {
		snprintf(err, errlen, "%s: nothing after it", tok[0]);
		return -EINVAL;
	}
	if (it->op == CTL_OP_END && n == 2 && tok[1][0] != '-') {
		if (ctl_parse_u64(tok[1], UINT64_MAX, &it->id) != 0 ||
		    it->id == 0) {
			snprintf(err, errlen, "end: '%.32s' is not a flow id",
			    tok[1]);
			return -EINVAL;
		}
		it->by_id = 1;
		return 1;
	}
	if (strncmp(tok[1], "--", 2) == 0) {
		if (ctl_parse_flow(n - 1, tok + 1, it->op == CTL_OP_START,
		    &it->flow, err, errlen) != 0)
			return -EINVAL;
		return 1;
	}
	if (n != 8) {
		snprintf(err, errlen, "expected '%s --OPTION VALUE ...' or "
		    "'%s tcp|udp SRC SPORT DST DPORT EXP ACT'", tok[0],
		    tok[0]);
		return -EINVAL;
	}
	return parse_flowd(tok, it, err, errlen);
}

int
ctl_exit_code(const struct sctag_result *res, size_t n)
{
	const Sctag__V1__BatchReply	*b;
	size_t				 i, k;
	int				 worst = CTL_EXIT_OK, e;

	for (i = 0; i < n; i++) {
		switch (res[i].status) {
		case SCTAG_OK:
			e = CTL_EXIT_OK;
			b = res[i].reply != NULL &&
			    res[i].reply->result_case ==
			    SCTAG__V1__REPLY__RESULT_BATCH ?
			    res[i].reply->batch : NULL;
			for (k = 0; b != NULL && k < b->n_results; k++)
				if (b->results[k] == NULL ||
				    b->results[k]->code != SCTAG__V1__CODE__OK)
					e = CTL_EXIT_REPLY;
			break;
		case SCTAG_ERR_REPLY:
			e = CTL_EXIT_REPLY;
			break;
		case SCTAG_ERR_LOCAL:
			e = CTL_EXIT_LOCAL;
			break;
		default:
			e = CTL_EXIT_TRANSPORT;
			break;
		}
		/* LOCAL 4 > TRANSPORT 3 > REPLY 1 > OK 0: numeric order. */
		if (e > worst)
			worst = e;
	}
	return worst;
}
