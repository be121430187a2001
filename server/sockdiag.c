/*
 * sockdiag.c: see sockdiag.h.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>

#include "log.h"
#include "sockdiag.h"

#define SD_BUF		(64 * 1024)
#define SD_BURST	64	/* reads per call */

struct sockdiag {
	int		fd;
	uint64_t	lost;
	char		buf[SD_BUF];
};

int
sockdiag_open(struct sockdiag **out, char *err, size_t errlen)
{
	struct sockaddr_nl sa;
	struct sockdiag *s;
	int rcvbuf = 1 << 20;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((s->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0) {
		snprintf(err, errlen, "sock_diag socket: %s", strerror(errno));
		free(s);
		return -errno;
	}
	/* Many connections may close at once: room for their notices. */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = 1u << (SKNLGRP_INET_TCP_DESTROY - 1) |
	    1u << (SKNLGRP_INET6_TCP_DESTROY - 1);
	if (bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errlen, "sock_diag destroy notifications: %s",
		    strerror(errno));
		close(s->fd);
		free(s);
		return -EPROTONOSUPPORT;
	}
	*out = s;
	return 0;
}

void
sockdiag_close(struct sockdiag *s)
{
	if (s == NULL)
		return;
	close(s->fd);
	free(s);
}

int
sockdiag_fd(const struct sockdiag *s)
{
	return s ? s->fd : -1;
}

static void
addr16(int family, const __be32 *a, uint8_t out[16])
{
	memset(out, 0, 16);
	if (family == AF_INET6) {
		memcpy(out, a, 16);
		return;
	}
	out[10] = out[11] = 0xff;
	memcpy(out + 12, a, 4);
}

/* One RTM-style message: an inet_diag_msg and its attributes. */
static int
parse(const struct nlmsghdr *nh, struct sockdiag_conn *c)
{
	const struct inet_diag_msg *m = NLMSG_DATA(nh);
	const struct rtattr *at;
	struct tcp_info ti;
	size_t len;
	int rem;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -1;
	memset(c, 0, sizeof(*c));
	c->family = m->idiag_family;
	addr16(c->family, m->id.idiag_src, c->src);
	addr16(c->family, m->id.idiag_dst, c->dst);
	c->sport = ntohs(m->id.idiag_sport);
	c->dport = ntohs(m->id.idiag_dport);
	rem = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	for (at = (const struct rtattr *)(m + 1); RTA_OK(at, rem);
	    at = RTA_NEXT(at, rem)) {
		if (at->rta_type != INET_DIAG_INFO)
			continue;
		/* An older kernel's tcp_info is shorter: the rest stays 0. */
		memset(&ti, 0, sizeof(ti));
		len = RTA_PAYLOAD(at);
		memcpy(&ti, RTA_DATA(at), len < sizeof(ti) ? len : sizeof(ti));
		c->has_info = 1;
		c->bytes_acked = ti.tcpi_bytes_acked;
		c->bytes_received = ti.tcpi_bytes_received;
		c->rtt_us = ti.tcpi_rtt;
		c->cwnd = ti.tcpi_snd_cwnd;
		c->retrans = ti.tcpi_total_retrans;
		c->delivery_rate = ti.tcpi_delivery_rate;
	}
	return 0;
}

void
sockdiag_read(struct sockdiag *s, sockdiag_fn *fn, void *arg)
{
	struct sockdiag_conn c;
	const struct nlmsghdr *nh;
	unsigned int rem;	/* what NLMSG_OK compares nlmsg_len with */
	ssize_t n;
	int k;

	for (k = 0; k < SD_BURST; k++) {
		n = recv(s->fd, s->buf, sizeof(s->buf), 0);
		if (n < 0) {
			if (errno == ENOBUFS) {
				s->lost++;
				log_warn("sock_diag: the kernel dropped close "
				    "notices (%llu times): some flows will "
				    "not end when their connection does",
				    (unsigned long long)s->lost);
			}
			if (errno == ENOBUFS || errno == EINTR)
				continue;
			return;		/* EAGAIN: all read */
		}
		rem = (unsigned int)n;
		for (nh = (const struct nlmsghdr *)s->buf; NLMSG_OK(nh, rem);
		    nh = NLMSG_NEXT(nh, rem))
			if (nh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    parse(nh, &c) == 0)
				fn(arg, &c);
	}
}
