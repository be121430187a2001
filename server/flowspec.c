/*
 * flowspec.c: strict parsing of the pieces of a flow, and its log form.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "flowspec.h"
#include "tag.h"

int
flowspec_parse_addr(const char *s, uint8_t out[16], int *family)
{
	struct in_addr a4;

	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, out) != 1)
			return -EINVAL;
		*family = AF_INET6;
		return 0;
	}
	if (inet_pton(AF_INET, s, &a4) != 1)
		return -EINVAL;
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a4, 4);
	*family = AF_INET;
	return 0;
}

int
flowspec_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0' || strlen(s) > 5)
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return -ERANGE;
	*port = (uint16_t)v;
	return 0;
}

int
flowspec_parse_proto(const char *s, int allow_any, uint8_t *proto)
{
	if (strcasecmp(s, "tcp") == 0)
		*proto = IPPROTO_TCP;
	else if (strcasecmp(s, "udp") == 0)
		*proto = IPPROTO_UDP;
	else if (allow_any && strcasecmp(s, "any") == 0)
		*proto = 0;
	else
		return -EINVAL;
	return 0;
}

static void
fmt_addr(const uint8_t a[16], int family, char *buf, size_t len)
{
	if (family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

int
flowspec_format(const struct flowspec *f, const struct reg *reg, char *buf,
    size_t len)
{
	const struct marker_rule *r = &f->rule;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], sport[8], dport[8];
	char plen[8] = "";
	const char *proto;

	proto = r->proto == IPPROTO_TCP ? "tcp" :
	    r->proto == IPPROTO_UDP ? "udp" : "any";
	if (r->src_any)
		snprintf(src, sizeof(src), "*");
	else
		fmt_addr(r->src, f->family, src, sizeof(src));
	fmt_addr(r->dst, f->family, dst, sizeof(dst));
	if (r->dst_plen != 128 && f->family == AF_INET6)
		snprintf(plen, sizeof(plen), "/%u", r->dst_plen);
	snprintf(sport, sizeof(sport), r->sport ? "%u" : "*", r->sport);
	snprintf(dport, sizeof(dport), r->dport ? "%u" : "*", r->dport);
	return snprintf(buf, len, "%s [%s]:%s -> [%s%s]:%s %s/%s (%u/%u) %s",
	    proto, src, sport, dst, plen, dport, reg_exp_name(reg, r->exp),
	    reg_act_name(reg, r->exp, r->act), r->exp, r->act,
	    tag_strategy_name(r->strategy));
}
