/*
 * fflisten.c: see fflisten.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fflisten.h"
#include "log.h"

#define FFL_BURST	256	/* datagrams per read call */
#define FFL_BUF		(64 * 1024)	/* the largest UDP payload */

struct prefix {
	uint8_t	addr[16];
	uint8_t	plen;
};

struct fflisten {
	int			 fds[CFG_MAX_LISTEN];
	size_t			 nfds;
	struct prefix		 allow[CFG_MAX_ALLOW];
	size_t			 nallow;
	fflisten_fn		*cb;
	void			*arg;
	struct fflisten_stats	 st;
	struct log_ratelimit	 rl;
	char			*buf;		/* FFL_BUF + 1 */
};

const char *
fflisten_drop_name(int d)
{
	switch (d) {
	case FFL_NOT_ALLOWED:	return "not_allowed";
	case FFL_NOT_LOCAL:	return "not_local";
	case FFL_REFUSED:	return "refused";
	default:		return ff_bad_name((enum ff_bad)d);
	}
}

static int
bind_one(const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	char host[CFG_HOSTNAME_MAX + 1];
	uint16_t port;
	socklen_t len;
	int fd, on = 1;

	if (cfg_collector_split(spec, host, sizeof(host), &port, err,
	    errlen) != 0)
		return -EINVAL;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof(*s6);
	} else if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof(*s4);
	} else {
		snprintf(err, errlen, "%s: not an address", spec);
		return -EINVAL;
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "%s: socket: %s", spec, strerror(errno));
		return -errno;
	}
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
		snprintf(err, errlen, "listening on %s: %s", spec,
		    strerror(errno));
		close(fd);
		return -EADDRNOTAVAIL;
	}
	return fd;
}

int
fflisten_open(const struct cfg *c, fflisten_fn *cb, void *arg,
    struct fflisten **out, char *err, size_t errlen)
{
	struct fflisten *l;
	size_t i;
	int fd, rc;

	*out = NULL;
	if (!c->ff_enabled || c->nff_listen == 0)
		return 0;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->buf = malloc(FFL_BUF + 1)) == NULL) {
		free(l);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l->cb = cb;
	l->arg = arg;
	l->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5, 60);
	for (i = 0; i < c->nff_allow && i < CFG_MAX_ALLOW; i++) {
		if ((rc = cfg_prefix_parse(c->ff_allow[i],
		    l->allow[l->nallow].addr, &l->allow[l->nallow].plen, err,
		    errlen)) != 0)
			goto fail;
		l->nallow++;
	}
	for (i = 0; i < c->nff_listen && i < CFG_MAX_LISTEN; i++) {
		if ((fd = bind_one(c->ff_listen[i], err, errlen)) < 0) {
			rc = fd;
			goto fail;
		}
		l->fds[l->nfds++] = fd;
	}
	*out = l;
	return 0;
fail:
	fflisten_close(l);
	return rc;
}

void
fflisten_close(struct fflisten *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	free(l->buf);
	free(l);
}

size_t
fflisten_fds(const struct fflisten *l, int *fds, size_t max)
{
	size_t i;

	for (i = 0; l != NULL && i < l->nfds && i < max; i++)
		fds[i] = l->fds[i];
	return i;
}

static int
allowed(const struct fflisten *l, const uint8_t a[16])
{
	size_t i, full, rest;

	for (i = 0; i < l->nallow; i++) {
		const struct prefix *p = &l->allow[i];

		full = p->plen / 8;
		rest = p->plen % 8;
		if (memcmp(a, p->addr, full) != 0)
			continue;
		if (rest == 0 || ((a[full] ^ p->addr[full]) &
		    (uint8_t)(0xff << (8 - rest))) == 0)
			return 1;
	}
	return 0;
}

static void
drop(struct fflisten *l, int why, const uint8_t from[16], const char *msg)
{
	char a[INET6_ADDRSTRLEN];
	unsigned long suppressed;

	l->st.dropped[why]++;
	if (!log_ratelimit_ok(&l->rl, &suppressed))
		return;
	inet_ntop(AF_INET6, from, a, sizeof(a));
	log_warn("firefly from %s dropped (%s): %s%s", a,
	    fflisten_drop_name(why), msg, suppressed ?
	    " (earlier drops not logged)" : "");
}

void
fflisten_read(struct fflisten *l, int fd)
{
	struct sockaddr_storage ss;
	struct ff_event ev;
	enum ff_bad bad;
	socklen_t slen;
	uint8_t from[16];
	char msg[256];
	ssize_t n;
	int k, why;

	for (k = 0; k < FFL_BURST; k++) {
		slen = sizeof(ss);
		/* MSG_TRUNC: a datagram longer than the buffer shows its
		 * real length, and is refused as too long. */
		n = recvfrom(fd, l->buf, FFL_BUF, MSG_TRUNC,
		    (struct sockaddr *)&ss, &slen);
		if (n < 0)
			return;		/* EAGAIN: all read */
		l->st.received++;
		memset(from, 0, sizeof(from));
		if (ss.ss_family == AF_INET6)
			memcpy(from, &((struct sockaddr_in6 *)&ss)->sin6_addr,
			    16);
		else {
			from[10] = from[11] = 0xff;
			memcpy(from + 12,
			    &((struct sockaddr_in *)&ss)->sin_addr, 4);
		}
		if (!allowed(l, from)) {
			drop(l, FFL_NOT_ALLOWED, from, "sender not in "
			    "fireflies.allow");
			continue;
		}
		if (n > FFL_BUF) {
			snprintf(msg, sizeof(msg), "%zd bytes", n);
			drop(l, FF_BAD_SIZE, from, msg);
			continue;
		}
		if (ff_parse(l->buf, (size_t)n, &ev, &bad, msg,
		    sizeof(msg)) != 0) {
			drop(l, bad, from, msg);
			continue;
		}
		if ((why = l->cb(l->arg, &ev, from, msg, sizeof(msg))) != 0) {
			drop(l, why, from, msg);
			continue;
		}
		l->st.accepted++;
	}
}

void
fflisten_get_stats(const struct fflisten *l, struct fflisten_stats *st)
{
	if (l == NULL)
		memset(st, 0, sizeof(*st));
	else
		*st = l->st;
}
