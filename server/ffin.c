/*
 * ffin.c: see ffin.h.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "fflisten.h"
#include "ffin.h"
#include "flowreq.h"

#define LOCAL_MAX	256	/* addresses remembered */
#define LOCAL_TTL_MS	2000	/* how long they are trusted */

/* This host's addresses, looked up again at most every LOCAL_TTL_MS. */
static struct {
	uint8_t		addr[LOCAL_MAX][16];
	size_t		n;
	uint64_t	at_ms;
} local;

static void
local_refresh(uint64_t now)
{
	struct ifaddrs *ifa, *i;

	if (local.at_ms != 0 && now - local.at_ms < LOCAL_TTL_MS)
		return;
	local.at_ms = now;
	local.n = 0;
	if (getifaddrs(&ifa) != 0)
		return;
	for (i = ifa; i != NULL && local.n < LOCAL_MAX; i = i->ifa_next) {
		uint8_t *a = local.addr[local.n];

		if (i->ifa_addr == NULL)
			continue;
		memset(a, 0, 16);
		if (i->ifa_addr->sa_family == AF_INET6) {
			memcpy(a, &((struct sockaddr_in6 *)i->ifa_addr)->
			    sin6_addr, 16);
			local.n++;
		} else if (i->ifa_addr->sa_family == AF_INET) {
			a[10] = a[11] = 0xff;
			memcpy(a + 12, &((struct sockaddr_in *)i->ifa_addr)->
			    sin_addr, 4);
			local.n++;
		}
	}
	freeifaddrs(ifa);
}

static int
is_local(const uint8_t a[16])
{
	size_t i;

	for (i = 0; i < local.n; i++)
		if (memcmp(local.addr[i], a, 16) == 0)
			return 1;
	return 0;
}

static void
addr_str(int family, const uint8_t a[16], char *buf, size_t len)
{
	if (family == AF_INET)
		inet_ntop(AF_INET, a + 12, buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

int
ffin_apply(struct dispatch *d, const struct ff_event *ev, char *err,
    size_t errlen)
{
	const struct ff_flow *f = &ev->flow;
	struct flowreq_in in;
	struct flowreq_spec spec;
	struct flows_flow out;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], exp[8], act[8];
	uint64_t now = dispatch_now_ms();
	int swap, created, rc;

	if (ev->state == FF_ONGOING)
		return 0;	/* nothing changes */
	local_refresh(now);
	if (is_local(f->src))
		swap = 0;
	else if (is_local(f->dst))
		swap = 1;
	else {
		snprintf(err, errlen, "neither end of the flow is an address "
		    "of this host");
		return FFL_NOT_LOCAL;
	}
	memset(&in, 0, sizeof(in));
	addr_str(f->family, swap ? f->dst : f->src, src, sizeof(src));
	addr_str(f->family, swap ? f->src : f->dst, dst, sizeof(dst));
	snprintf(exp, sizeof(exp), "%u", f->exp);
	snprintf(act, sizeof(act), "%u", f->act);
	in.protocol = f->proto;
	in.src = src;
	in.src_port = swap ? f->dport : f->sport;
	in.dst = dst;
	in.dst_port = swap ? f->sport : f->dport;
	in.experiment = exp;
	in.activity = act;
	in.application = f->application;
	if ((rc = flowreq_parse(&in, *d->regp, d->cfg->strategy, &spec, err,
	    errlen)) != 0)
		return FFL_REFUSED;
	if (ev->state == FF_START)
		rc = flows_start(d->flows, &spec, FFIN_OWNER, now, &out,
		    &created, err, errlen);
	else
		rc = flows_end_spec(d->flows, &spec, FFIN_OWNER, 0, &out, err,
		    errlen);
	return rc == 0 ? 0 : FFL_REFUSED;
}
