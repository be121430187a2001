/*
 * sockdiag.h: this host's TCP sockets as the kernel reports them
 * (NETLINK_SOCK_DIAG): the destroy notifications, each with the socket's
 * last tcp_info, so that a flow whose connection closed ends and its end
 * firefly carries what was sent and received.
 *
 * Joining the destroy groups needs no privilege; the notifications are
 * those of the network namespace the socket was made in.
 *
 * And queries (a netlink socket of their own, one thread at a time): a
 * dump of every connected TCP socket, for the scans that find the
 * connections of wildcard rules and send ongoing fireflies (conns.h),
 * and one connection's socket by its addresses and ports, for a start
 * firefly's counts. Neither needs privilege either.
 */
#ifndef SCTAG_SOCKDIAG_H
#define SCTAG_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

#include "firefly.h"

struct sockdiag_conn {
	int		family;		/* AF_INET or AF_INET6 (also for a
					   v6 socket with v4-mapped ends) */
	uint8_t		src[16];	/* local; IPv4 v4-mapped */
	uint8_t		dst[16];	/* remote */
	uint16_t	sport, dport;	/* host order */
	int		has_info;	/* the fields below are set */
	uint64_t	bytes_acked;	/* sent and acknowledged */
	uint64_t	bytes_received;
	uint32_t	rtt_us;
	uint32_t	cwnd;
	uint32_t	retrans;	/* total retransmissions */
	uint64_t	delivery_rate;	/* bytes per second */
	uint64_t	cookie;		/* the kernel's socket id */
};

/* A firefly's usage and netlink from c's counts, when it has them. */
void sockdiag_fill_event(const struct sockdiag_conn *c, struct ff_event *);

typedef void sockdiag_fn(void *arg, const struct sockdiag_conn *);

struct sockdiag;

int sockdiag_open(struct sockdiag **, char *err, size_t errlen);
void sockdiag_close(struct sockdiag *);
int sockdiag_fd(const struct sockdiag *);
/* Read the waiting notifications (a bounded number); fn for each TCP
 * socket destroyed. Notices the kernel dropped (a full buffer) are
 * logged with their running count: those flows do not end by themselves. */
void sockdiag_read(struct sockdiag *, sockdiag_fn *, void *arg);

struct sockdiag_q;

int sockdiag_q_open(struct sockdiag_q **, char *err, size_t errlen);
void sockdiag_q_close(struct sockdiag_q *);
/*
 * fn for each TCP socket of this host that has a peer (established or
 * closing, not listening nor in TIME_WAIT), at most max of them; *n says
 * how many. 0, or a negative errno with a message (a dump cut short by
 * an error or SD_Q_TIMEOUT_MS of silence, or over max: -E2BIG, with the
 * first max seen).
 */
int sockdiag_dump(struct sockdiag_q *, sockdiag_fn *, void *arg,
    size_t max, size_t *n, char *err, size_t errlen);
/*
 * The socket of the connection c names (family, src, sport, dst, dport):
 * fills the rest of *c. -ENOENT when there is none.
 */
int sockdiag_get(struct sockdiag_q *, struct sockdiag_conn *c);

#endif /* SCTAG_SOCKDIAG_H */
