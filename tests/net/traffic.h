/*
 * traffic.h: real TCP and UDP traffic between the namespaces of a pair.
 *
 * Sockets are created inside the namespace (the creating thread joins it
 * for the socket() call), bound to explicit local addresses and ports so
 * the tests know every 5-tuple in advance, and given a traffic class with
 * IPV6_TCLASS. The TCP receiver hashes what arrives with SHA-256 so a
 * 16 MiB transfer can be proven intact. Every call is bounded in time.
 */
#ifndef SCTAG_TRAFFIC_H
#define SCTAG_TRAFFIC_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define TR_SHA_LEN	32

/* ECT(0) is 0b10 in the two low (ECN) bits of the traffic class. */
#define TR_TCLASS(dscp, ecn)	((uint8_t)((dscp) << 2 | (ecn)))
#define TR_ECT0			0x2
#define TR_ECT1			0x1

struct tr_tcp_rx {
	int		 fd;		/* listening socket */
	pthread_t	 tid;
	int		 running;
	int		 timeout_ms;
	/* Results, valid after tr_tcp_rx_wait returned 0. */
	uint64_t	 bytes;
	uint8_t		 sha[TR_SHA_LEN];
	int		 rc;		/* 0 or -errno */
};

/* Listen on [addr]:port inside ns; a thread accepts one connection and
 * reads it to EOF. */
int tr_tcp_rx_start(struct tr_tcp_rx *, const char *ns, const char *addr,
    uint16_t port, int timeout_ms, char *err, size_t errlen);
/* Wait for the receiver (bounded); its rc. */
int tr_tcp_rx_wait(struct tr_tcp_rx *, int timeout_ms);

struct tr_flow {
	const char	*saddr;
	uint16_t	 sport;
	const char	*daddr;
	uint16_t	 dport;
	int		 tclass;	/* -1: leave the default (0) */
};

/*
 * Connect from [saddr]:sport in ns and send `bytes` of seeded
 * pseudo-random data; sha gets the SHA-256 of what was sent.
 */
int tr_tcp_send(const char *ns, const struct tr_flow *, uint64_t bytes,
    uint32_t seed, int timeout_ms, uint8_t sha[TR_SHA_LEN], char *err,
    size_t errlen);

/*
 * One connection attempt (a SYN; more if a listener answers), for rules
 * that only need a TCP packet on the wire. A refused connection is fine.
 */
int tr_tcp_probe(const char *ns, const struct tr_flow *, int timeout_ms,
    char *err, size_t errlen);

/*
 * count datagrams of `payload` bytes from [saddr]:sport. With dontfrag the
 * kernel refuses instead of fragmenting (full-MTU tests).
 */
int tr_udp_send(const char *ns, const struct tr_flow *, size_t payload,
    int count, int dontfrag, char *err, size_t errlen);

struct tr_udp_rx {
	int		 fd;
	pthread_t	 tid;
	int		 running;
	int		 stop;
	pthread_mutex_t	 mu;
	uint64_t	 datagrams;
	uint64_t	 bytes;
	size_t		 largest;
};

int tr_udp_rx_start(struct tr_udp_rx *, const char *ns, const char *addr,
    uint16_t port, char *err, size_t errlen);
/* Wait (bounded) for n datagrams; 0 or -ETIMEDOUT. */
int tr_udp_rx_wait(struct tr_udp_rx *, uint64_t n, int timeout_ms);
void tr_udp_rx_stop(struct tr_udp_rx *);

/*
 * Send a hand-built frame count times from an AF_PACKET socket on ifname in
 * ns. It goes through dev_queue_xmit, so tc egress (the marker) sees it as
 * built: the way to put VLAN tags in band on a kernel without 802.1Q
 * devices.
 */
int tr_raw_send(const char *ns, const char *ifname, const void *frame,
    size_t len, int count, char *err, size_t errlen);
/* The MAC address of ifname in ns. */
int tr_hwaddr(const char *ns, const char *ifname, uint8_t mac[6]);

/* SHA-256 as hex, for messages. */
const char *tr_sha_hex(const uint8_t sha[TR_SHA_LEN], char *buf,
    size_t len);

#endif /* SCTAG_TRAFFIC_H */
