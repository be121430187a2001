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
#define SD_Q_TIMEOUT_MS	2000	/* a query's reply, or a dump's next part */

/*
 * Connected: neither listening, nor TIME_WAIT, nor closed. The kernel's
 * TCP state numbers (include/net/tcp_states.h; not in the uapi headers):
 * ESTABLISHED 1, SYN_SENT 2, SYN_RECV 3, FIN_WAIT1 4, FIN_WAIT2 5,
 * CLOSE_WAIT 8, LAST_ACK 9, CLOSING 11.
 */
#define SD_CONNECTED	(1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | \
			 1u << 8 | 1u << 9 | 1u << 11)

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

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

void
sockdiag_fill_event(const struct sockdiag_conn *c, struct ff_event *e)
{
	if (!c->has_info)
		return;
	e->has_usage = 1;
	e->usage.sent = c->bytes_acked;
	e->usage.received = c->bytes_received;
	e->has_netlink = 1;
	e->netlink.has_rtt = 1;
	e->netlink.rtt_ms = c->rtt_us / 1000.0;
	e->netlink.has_cwnd = 1;
	e->netlink.cwnd = c->cwnd;
	e->netlink.has_retrans = 1;
	e->netlink.retransmits = c->retrans;
	e->netlink.has_rate = 1;
	e->netlink.delivery_rate = c->delivery_rate;
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
	/* A dual-stack socket talking IPv4 is an IPv4 connection. */
	if (c->family == AF_INET6 && memcmp(c->src, v4mapped, 12) == 0 &&
	    memcmp(c->dst, v4mapped, 12) == 0)
		c->family = AF_INET;
	c->sport = ntohs(m->id.idiag_sport);
	c->dport = ntohs(m->id.idiag_dport);
	c->cookie = (uint64_t)m->id.idiag_cookie[1] << 32 |
	    m->id.idiag_cookie[0];
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

/* ---- queries ------------------------------------------------------------ */

struct sockdiag_q {
	int		fd;
	uint32_t	seq;
	char		buf[SD_BUF];
};

static int
q_socket(void)
{
	struct timeval tv = { .tv_sec = SD_Q_TIMEOUT_MS / 1000,
	    .tv_usec = SD_Q_TIMEOUT_MS % 1000 * 1000 };
	int fd;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
	    NETLINK_SOCK_DIAG)) < 0)
		return -errno;
	/* A kernel that does not answer must not stop the caller's loop. */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

int
sockdiag_q_open(struct sockdiag_q **out, char *err, size_t errlen)
{
	struct sockdiag_q *q;

	*out = NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((q->fd = q_socket()) < 0) {
		snprintf(err, errlen, "sock_diag socket: %s",
		    strerror(-q->fd));
		free(q);
		return -EPROTONOSUPPORT;
	}
	*out = q;
	return 0;
}

/*
 * A dump left before its end goes on in the kernel, which refuses the
 * socket's next dump (EBUSY) until it is read out: a new socket instead.
 */
static void
q_reset(struct sockdiag_q *q)
{
	int fd;

	if ((fd = q_socket()) < 0)
		return;		/* the old one, then: it drains in time */
	close(q->fd);
	q->fd = fd;
}

void
sockdiag_q_close(struct sockdiag_q *q)
{
	if (q == NULL)
		return;
	close(q->fd);
	free(q);
}

static void
id_addr(int family, const uint8_t a[16], __be32 *out)
{
	if (family == AF_INET6)
		memcpy(out, a, 16);
	else
		memcpy(out, a + 12, 4);
}

static int
q_send(struct sockdiag_q *q, int family, uint16_t flags,
    const struct inet_diag_sockid *id)
{
	struct {
		struct nlmsghdr		nh;
		struct inet_diag_req_v2	req;
	} m;
	struct sockaddr_nl sa;

	memset(&m, 0, sizeof(m));
	m.nh.nlmsg_len = sizeof(m);
	m.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	m.nh.nlmsg_flags = NLM_F_REQUEST | flags;
	m.nh.nlmsg_seq = ++q->seq;
	m.req.sdiag_family = (uint8_t)family;
	m.req.sdiag_protocol = IPPROTO_TCP;
	m.req.idiag_ext = 1u << (INET_DIAG_INFO - 1);
	m.req.idiag_states = id ? ~0u : SD_CONNECTED;
	if (id)
		m.req.id = *id;
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	if (sendto(q->fd, &m, sizeof(m), 0, (struct sockaddr *)&sa,
	    sizeof(sa)) != (ssize_t)sizeof(m))
		return -errno;
	return 0;
}

/*
 * The replies to the last request: fn for each socket, until DONE (a
 * dump) or the first answer (one socket). Replies to an earlier request
 * that timed out are skipped by their sequence number.
 */
static int
q_recv(struct sockdiag_q *q, int dump, sockdiag_fn *fn, void *arg,
    size_t max, size_t *n)
{
	const struct nlmsghdr *nh;
	const struct nlmsgerr *e;
	struct sockdiag_conn c;
	unsigned int rem;
	ssize_t got;

	for (;;) {
		if ((got = recv(q->fd, q->buf, sizeof(q->buf), 0)) < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		rem = (unsigned int)got;
		for (nh = (const struct nlmsghdr *)q->buf; NLMSG_OK(nh, rem);
		    nh = NLMSG_NEXT(nh, rem)) {
			if (nh->nlmsg_seq != q->seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return 0;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				e = NLMSG_DATA(nh);
				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EPROTO;
				return e->error < 0 ? e->error : -EPROTO;
			}
			if (nh->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
			    parse(nh, &c) != 0)
				continue;
			if (*n >= max)
				return -E2BIG;
			(*n)++;
			fn(arg, &c);
			if (!dump)
				return 0;
		}
	}
}

int
sockdiag_dump(struct sockdiag_q *q, sockdiag_fn *fn, void *arg, size_t max,
    size_t *n, char *err, size_t errlen)
{
	static const int families[] = { AF_INET, AF_INET6 };
	size_t i;
	int rc;

	*n = 0;
	for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		if ((rc = q_send(q, families[i], NLM_F_DUMP, NULL)) != 0 ||
		    (rc = q_recv(q, 1, fn, arg, max, n)) != 0) {
			if (rc == -E2BIG || rc == -ETIMEDOUT)
				q_reset(q);
			snprintf(err, errlen, "sock_diag dump of %s TCP "
			    "sockets: %s", families[i] == AF_INET ? "IPv4" :
			    "IPv6", rc == -E2BIG ? "more sockets than the "
			    "scan takes" : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void
get_one(void *arg, const struct sockdiag_conn *c)
{
	*(struct sockdiag_conn *)arg = *c;
}

int
sockdiag_get(struct sockdiag_q *q, struct sockdiag_conn *c)
{
	struct inet_diag_sockid id;
	struct sockdiag_conn got;
	size_t n = 0;
	int rc;

	memset(&id, 0, sizeof(id));
	id.idiag_sport = htons(c->sport);
	id.idiag_dport = htons(c->dport);
	id_addr(c->family, c->src, id.idiag_src);
	id_addr(c->family, c->dst, id.idiag_dst);
	id.idiag_cookie[0] = id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if ((rc = q_send(q, c->family, 0, &id)) != 0 ||
	    (rc = q_recv(q, 0, get_one, &got, 1, &n)) != 0)
		return rc;
	/*
	 * With no such connection the kernel may answer with the socket
	 * listening on the local port: not this flow's.
	 */
	if (n == 0 || got.sport != c->sport || got.dport != c->dport ||
	    memcmp(got.src, c->src, sizeof(got.src)) != 0 ||
	    memcmp(got.dst, c->dst, sizeof(got.dst)) != 0)
		return -ENOENT;
	*c = got;
	return 0;
}
