/*
 * sockdiag.h: this host's TCP sockets as the kernel reports them
 * (NETLINK_SOCK_DIAG): the destroy notifications, each with the socket's
 * last tcp_info, so that a flow whose connection closed ends and its end
 * firefly carries what was sent and received.
 *
 * Joining the destroy groups needs no privilege; the notifications are
 * those of the network namespace the socket was made in.
 */
#ifndef SCTAG_SOCKDIAG_H
#define SCTAG_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

struct sockdiag_conn {
	int		family;		/* AF_INET or AF_INET6 */
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
};

typedef void sockdiag_fn(void *arg, const struct sockdiag_conn *);

struct sockdiag;

int sockdiag_open(struct sockdiag **, char *err, size_t errlen);
void sockdiag_close(struct sockdiag *);
int sockdiag_fd(const struct sockdiag *);
/* Read the waiting notifications (a bounded number); fn for each TCP
 * socket destroyed. Notices the kernel dropped (a full buffer) are
 * logged with their running count: those flows do not end by themselves. */
void sockdiag_read(struct sockdiag *, sockdiag_fn *, void *arg);

#endif /* SCTAG_SOCKDIAG_H */
