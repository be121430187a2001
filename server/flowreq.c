/*
 * flowreq.c: an API flow description, checked and normalised.
 *
 * Every string may be anything a client could put in a protobuf string:
 * lengths are bounded before anything else reads them, and user text is
 * echoed only through jsonpos_quote.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "flowreq.h"
#include "flowspec.h"
#include "jsonpos.h"
#include "tag.h"

#define QUOTE_SHOW	64		/* input bytes echoed in a message */
#define NAME_MAX_LEN	128		/* longest registry name */

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff };

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

static void
quote(char *dst, size_t dstlen, const char *s)
{
	jsonpos_quote(dst, dstlen, s, QUOTE_SHOW);
}

static int
is_zero(const uint8_t *a, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (a[i] != 0)
			return 0;
	return 1;
}

int
flowreq_family(const struct marker_rule *r)
{
	return memcmp(r->dst, v4mapped, sizeof(v4mapped)) == 0 ? AF_INET :
	    AF_INET6;
}

int
flowreq_exact(const struct marker_rule *r)
{
	return (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP) &&
	    r->sport != 0 && r->dport != 0 && r->dst_plen == 128 &&
	    !r->src_any;
}

static void
addr_str(const uint8_t a[16], char *buf, size_t len)
{
	if (memcmp(a, v4mapped, sizeof(v4mapped)) == 0)
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
}

static void
prefix_str(const uint8_t a[16], uint8_t plen, char *buf, size_t len)
{
	char	txt[INET6_ADDRSTRLEN];
	int	v4 = memcmp(a, v4mapped, sizeof(v4mapped)) == 0 && plen >= 96;

	addr_str(a, txt, sizeof(txt));
	if (plen == 128)
		snprintf(buf, len, "%s", txt);
	else
		snprintf(buf, len, "%s/%u", txt, v4 ? plen - 96u : plen);
}

void
flowreq_src_str(const struct marker_rule *r, char *buf, size_t len)
{
	if (len == 0)
		return;
	if (r->src_any) {
		buf[0] = '\0';
		return;
	}
	addr_str(r->src, buf, len);
}

void
flowreq_dst_str(const struct marker_rule *r, char *buf, size_t len)
{
	if (len == 0)
		return;
	prefix_str(r->dst, r->dst_plen, buf, len);
}

static void
mask_prefix(uint8_t a[16], unsigned plen)
{
	unsigned	i;
	int		bits;

	for (i = 0; i < 16; i++) {
		bits = (int)plen - (int)i * 8;
		if (bits <= 0)
			a[i] = 0;
		else if (bits < 8)
			a[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

int
flowreq_prefix_contains(const uint8_t a[16], uint8_t alen,
    const uint8_t b[16], uint8_t blen)
{
	uint8_t	ma[16], mb[16];

	if (blen < alen)
		return 0;
	memcpy(ma, a, 16);
	memcpy(mb, b, 16);
	mask_prefix(ma, alen);
	mask_prefix(mb, alen);
	return memcmp(ma, mb, 16) == 0;
}

/* "0".."128": digits only, no sign, no leading zeros beyond "0". */
static int
parse_plen(const char *s, unsigned *out)
{
	size_t		n = strlen(s);
	unsigned	v = 0;
	size_t		i;

	if (n == 0 || n > 3 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
flowreq_parse_prefix(const char *field, const char *s, uint8_t addr[16],
    uint8_t *plen, int *family, char *err, size_t errlen)
{
	char		 q[QUOTE_SHOW * 4 + 8], buf[FLOWREQ_ADDRSTRLEN + 1];
	char		 canon[FLOWREQ_ADDRSTRLEN];
	uint8_t		 a[16], m[16];
	const char	*slash;
	unsigned	 len, max;
	size_t		 n;
	int		 fam;

	s = str_or_empty(s);
	n = strnlen(s, sizeof(buf));
	quote(q, sizeof(q), s);
	if (n == 0) {
		snprintf(err, errlen, "%s: empty (expected an address or a "
		    "prefix such as 2001:db8::/32)", field);
		return -EINVAL;
	}
	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: %s is too long for an address or "
		    "prefix", field, q);
		return -EINVAL;
	}
	memcpy(buf, s, n + 1);
	if ((slash = strchr(buf, '/')) != NULL)
		buf[slash - buf] = '\0';
	if (flowspec_parse_addr(buf, a, &fam) != 0) {
		snprintf(err, errlen, "%s: %s is not an IPv6 or IPv4 address%s",
		    field, q, slash != NULL ? " and prefix length" : "");
		return -EINVAL;
	}
	/*
	 * A v4-mapped IPv6 literal counts bits as IPv6 does: ::ffff:0:0/96
	 * is the IPv4 space, and so is 0.0.0.0/0.
	 */
	max = fam == AF_INET ? 32 : 128;
	len = max;
	if (slash != NULL) {
		if (parse_plen(slash + 1, &len) != 0) {
			snprintf(err, errlen, "%s: %s has a malformed prefix "
			    "length (expected 0..%u)", field, q, max);
			return -EINVAL;
		}
		if (len > max) {
			snprintf(err, errlen, "%s: %s prefix length over %u",
			    field, q, max);
			return -ERANGE;
		}
	}
	if (fam == AF_INET)
		len += 96;
	memcpy(m, a, 16);
	mask_prefix(m, len);
	if (memcmp(m, a, 16) != 0) {
		prefix_str(m, (uint8_t)len, canon, sizeof(canon));
		snprintf(err, errlen, "%s: %s has host bits set; did you mean "
		    "%s?", field, q, canon);
		return -EINVAL;
	}
	memcpy(addr, a, 16);
	*plen = (uint8_t)len;
	*family = memcmp(a, v4mapped, sizeof(v4mapped)) == 0 && len >= 96 ?
	    AF_INET : AF_INET6;
	return 0;
}

static int
parse_src(const char *s, struct marker_rule *r, int *family, char *err,
    size_t errlen)
{
	char	q[QUOTE_SHOW * 4 + 8], buf[FLOWREQ_ADDRSTRLEN + 1];
	size_t	n;
	int	fam;

	n = strnlen(s, sizeof(buf));
	if (n == 0) {
		r->src_any = 1;
		*family = 0;
		return 0;
	}
	quote(q, sizeof(q), s);
	if (n >= sizeof(buf)) {
		snprintf(err, errlen, "src: %s is too long for an address", q);
		return -EINVAL;
	}
	memcpy(buf, s, n + 1);
	if (flowspec_parse_addr(buf, r->src, &fam) != 0) {
		snprintf(err, errlen, "src: %s is not an IPv6 or IPv4 address "
		    "(one local address; \"\" for any)", q);
		return -EINVAL;
	}
	/* An exact rule for :: or 0.0.0.0 would never match a packet. */
	if (is_zero(r->src, 16) || (memcmp(r->src, v4mapped, 12) == 0 &&
	    is_zero(r->src + 12, 4))) {
		snprintf(err, errlen, "src: %s is the unspecified address; "
		    "leave src empty for any local address", q);
		return -EINVAL;
	}
	r->src_any = 0;
	*family = memcmp(r->src, v4mapped, 12) == 0 ? AF_INET : AF_INET6;
	return 0;
}

static int
parse_port(const char *field, uint32_t v, uint16_t *out, char *err,
    size_t errlen)
{
	if (v > 65535) {
		snprintf(err, errlen, "%s: %u is over 65535", field, v);
		return -ERANGE;
	}
	*out = (uint16_t)v;
	return 0;
}

static int
bounded(const char *field, const char *s, size_t max, char *err,
    size_t errlen)
{
	if (strnlen(s, max + 1) > max) {
		snprintf(err, errlen, "%s: longer than %zu bytes", field, max);
		return -EINVAL;
	}
	return 0;
}

static int
parse_tag(const struct flowreq_in *in, const struct reg *reg,
    struct marker_rule *r, char *err, size_t errlen)
{
	const char	*es = str_or_empty(in->experiment);
	const char	*as = str_or_empty(in->activity);
	char		 msg[256];
	uint32_t	 exp, act;
	int		 rc, valid;

	if (*es != '\0') {
		if ((rc = bounded("tag.experiment", es, NAME_MAX_LEN, err,
		    errlen)) != 0 || (rc = bounded("tag.activity", as,
		    NAME_MAX_LEN, err, errlen)) != 0)
			return rc;
		if ((rc = reg_resolve_exp(reg, es, &exp, msg,
		    sizeof(msg))) != 0) {
			snprintf(err, errlen, "tag.experiment: %s", msg);
			return rc;
		}
		if ((rc = reg_resolve_act(reg, exp, as, &act, msg,
		    sizeof(msg))) != 0) {
			snprintf(err, errlen, "tag.activity: %s", msg);
			return rc;
		}
		if (in->scitag != 0 &&
		    in->scitag != tag_scitag_join(exp, act)) {
			snprintf(err, errlen, "tag.scitag: %u disagrees with "
			    "tag.experiment/activity %u/%u (scitag %u); send "
			    "one or the other", in->scitag, exp, act,
			    tag_scitag_join(exp, act));
			return -EINVAL;
		}
		goto out;
	}
	if (*as != '\0') {
		snprintf(err, errlen, "tag.activity: given without "
		    "tag.experiment");
		return -EINVAL;
	}
	if (in->scitag == 0) {
		snprintf(err, errlen, "tag: empty (give tag.experiment and "
		    "tag.activity, or tag.scitag)");
		return -EINVAL;
	}
	/*
	 * tag_scitag_split maps an invalid scitag to 0/0, as storage systems
	 * do so that a bad value never stops a transfer. A client of this API
	 * asks for marking explicitly and gets an answer: marking 0/0 would
	 * hide its mistake in the traffic, where nobody would see it.
	 */
	valid = 0;
	if (in->scitag <= TAG_SCITAG_MAX)
		tag_scitag_split((long)in->scitag, &exp, &act, &valid);
	if (!valid) {
		snprintf(err, errlen, "tag.scitag: %u is not a valid scitag "
		    "(exp << 6 | act, %u..%u with activity 1..%u)", in->scitag,
		    TAG_SCITAG_MIN, TAG_SCITAG_MAX, TAG_ACT_MAX);
		return -EINVAL;
	}
out:
	r->exp = (uint16_t)exp;
	r->act = (uint8_t)act;
	return 0;
}

static int
parse_strategy(int s, int def, uint8_t *out, char *err, size_t errlen)
{
	if (s == 0) {
		if (def < TAG_STRAT_FLOW_LABEL || def > TAG_STRAT_HBH_DST) {
			snprintf(err, errlen, "strategy: the agent's default "
			    "%d is not 1..4", def);
			return -EINVAL;
		}
		s = def;
	}
	if (s < TAG_STRAT_FLOW_LABEL || s > TAG_STRAT_HBH_DST) {
		snprintf(err, errlen, "strategy: %d is not 0 (default), 1 "
		    "(flow-label), 2 (hop-by-hop), 3 (destination) or 4 "
		    "(hop-by-hop+destination)", s);
		return -EINVAL;
	}
	*out = (uint8_t)s;
	return 0;
}

static int
parse_app(const char *s, char out[FLOWREQ_APP_MAX + 1], char *err,
    size_t errlen)
{
	size_t	i, n;
	int	rc;

	if ((rc = bounded("application", s, FLOWREQ_APP_MAX, err,
	    errlen)) != 0)
		return rc;
	n = strlen(s);
	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e) {
			snprintf(err, errlen, "application: byte %zu is not "
			    "printable ASCII (0x%02x)", i,
			    (unsigned)(unsigned char)s[i]);
			return -EINVAL;
		}
	}
	memcpy(out, s, n + 1);
	return 0;
}

static int
is_match_all(const struct marker_rule *r)
{
	return r->proto == 0 && r->src_any && r->sport == 0 &&
	    r->dport == 0 && r->dst_plen == 0;
}

int
flowreq_parse(const struct flowreq_in *in, const struct reg *reg,
    int default_strategy, struct flowreq_spec *out, char *err,
    size_t errlen)
{
	struct flowreq_spec	 s;
	struct marker_rule	*r = &s.rule;
	const char		*dst = str_or_empty(in->dst);
	char			 msg[256], txt[FLOWREQ_ADDRSTRLEN];
	int			 rc, sfam, dfam;

	memset(&s, 0, sizeof(s));
	if (in->protocol != 0 && in->protocol != IPPROTO_TCP &&
	    in->protocol != IPPROTO_UDP) {
		snprintf(err, errlen, "protocol: %d is not 0 (any), 6 (tcp) "
		    "or 17 (udp)", in->protocol);
		return -EINVAL;
	}
	r->proto = (uint8_t)in->protocol;
	if ((rc = parse_src(str_or_empty(in->src), r, &sfam, err,
	    errlen)) != 0)
		return rc;
	if ((rc = parse_port("src_port", in->src_port, &r->sport, err,
	    errlen)) != 0 || (rc = parse_port("dst_port", in->dst_port,
	    &r->dport, err, errlen)) != 0)
		return rc;
	if (*dst == '\0') {
		if (is_match_all(r)) {
			snprintf(err, errlen, "dst: empty, which would mark "
			    "every packet: the match-all rule is set in the "
			    "agent's config (mark_all), not over the API");
			return -EINVAL;
		}
		snprintf(err, errlen, "dst: required (an address or a prefix "
		    "such as 2001:db8::/32)");
		return -EINVAL;
	}
	if ((rc = flowreq_parse_prefix("dst", dst, r->dst, &r->dst_plen,
	    &dfam, err, errlen)) != 0)
		return rc;
	if (dfam == AF_INET6 && is_match_all(r)) {
		snprintf(err, errlen, "dst: ::/0 with every other field any "
		    "would mark every packet: the match-all rule is set in "
		    "the agent's config (mark_all), not over the API");
		return -EINVAL;
	}
	if (r->dst_plen == 128 && (is_zero(r->dst, 16) ||
	    (dfam == AF_INET && is_zero(r->dst + 12, 4)))) {
		snprintf(err, errlen, "dst: the unspecified address is no "
		    "destination");
		return -EINVAL;
	}
	if (sfam != 0 && sfam != dfam) {
		flowreq_src_str(r, txt, sizeof(txt));
		snprintf(err, errlen, "src: %s address %s with an %s dst; "
		    "both must be one family", sfam == AF_INET ? "IPv4" :
		    "IPv6", txt, dfam == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if ((rc = parse_tag(in, reg, r, err, errlen)) != 0)
		return rc;
	if ((rc = parse_strategy(in->strategy, default_strategy,
	    &r->strategy, err, errlen)) != 0)
		return rc;
	if (in->ttl_seconds > FLOWREQ_TTL_MAX) {
		snprintf(err, errlen, "ttl_seconds: %u is over the maximum %u "
		    "(30 days)", in->ttl_seconds, FLOWREQ_TTL_MAX);
		return -ERANGE;
	}
	s.ttl_seconds = in->ttl_seconds;
	if ((rc = parse_app(str_or_empty(in->application), s.application,
	    err, errlen)) != 0)
		return rc;
	if (in->per_conn && r->proto == IPPROTO_UDP) {
		snprintf(err, errlen, "per_connection: connections are found "
		    "among this host's TCP sockets; a udp rule has none");
		return -EINVAL;
	}
	if (in->per_conn && flowreq_exact(r)) {
		snprintf(err, errlen, "per_connection: this flow is one "
		    "connection and has fireflies of its own; the option is "
		    "for rules with a wildcard (a prefix, any port or any "
		    "source)");
		return -EINVAL;
	}
	s.per_conn = in->per_conn != 0;
	s.family = dfam;
	if (dfam == AF_INET) {
		/* Fireflies only: the strategy would never be used. */
		r->strategy = MK_STRAT_NONE;
		s.markable = 0;
		goto done;
	}
	s.markable = 1;
	if (r->strategy == MK_STRAT_FLOW_LABEL &&
	    (rc = tag_check_markable(r->exp, r->act, msg,
	    sizeof(msg))) != 0) {
		snprintf(err, errlen, "tag: %s; strategies 2..4 carry it",
		    msg);
		return rc;
	}
	/* The privileged side will check again; fail here, with the field. */
	if ((rc = marker_rule_check(r, msg, sizeof(msg))) != 0) {
		snprintf(err, errlen, "flow: %s", msg);
		return rc;
	}
done:
	*out = s;
	return 0;
}

void
flowreq_key(const struct marker_rule *r, uint8_t out[FLOWREQ_KEY_LEN])
{
	uint8_t	*p = out;

	/* Fixed layout, ports and exp big-endian: the bytes, not the struct. */
	*p++ = r->proto;
	*p++ = r->src_any;
	if (r->src_any)
		memset(p, 0, 16);
	else
		memcpy(p, r->src, 16);
	p += 16;
	*p++ = (uint8_t)(r->sport >> 8);
	*p++ = (uint8_t)r->sport;
	memcpy(p, r->dst, 16);
	p += 16;
	*p++ = r->dst_plen;
	*p++ = (uint8_t)(r->dport >> 8);
	*p++ = (uint8_t)r->dport;
	*p++ = (uint8_t)(r->exp >> 8);
	*p++ = (uint8_t)r->exp;
	*p++ = r->act;
	*p++ = r->strategy;
}
