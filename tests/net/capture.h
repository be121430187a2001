/*
 * capture.h: AF_PACKET capture in a network namespace, and a decoder for
 * what sctag writes: Ethernet, 802.1Q/802.1ad tags, the IPv6 header
 * (traffic class with ECN, flow label), extension headers with the SciTags
 * option (notes/scitags.md §3), and TCP/UDP ports.
 *
 * The capture runs in its own thread, bounded in packets and in time; the
 * decoded packets stay in an array for the test to filter.
 */
#ifndef SCTAG_CAPTURE_H
#define SCTAG_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#define CAP_MAX_VLANS	4
#define CAP_MAX_EXTHDRS	8
#define CAP_L3_SNAP	128

struct cap_pkt {
	long long	t_ms;		/* since the capture started */
	uint8_t		pkttype;	/* PACKET_HOST, PACKET_OUTGOING, ... */
	uint32_t	frame_len;	/* whole frame, as the socket reported */

	int		nvlan;		/* outermost first */
	uint16_t	vlan_tpid[CAP_MAX_VLANS];
	uint16_t	vlan_id[CAP_MAX_VLANS];
	uint8_t		vlan_inband[CAP_MAX_VLANS];	/* 0: from auxdata */

	int		ipv6;		/* an IPv6 header was decoded */
	uint8_t		tclass;		/* DSCP << 2 | ECN */
	uint32_t	label;		/* 20 bits */
	uint8_t		nexthdr;	/* of the base header */
	uint16_t	plen;		/* payload length field */
	uint8_t		saddr[16];
	uint8_t		daddr[16];

	int		nexthdrs;	/* extension headers walked */
	uint8_t		exthdr[CAP_MAX_EXTHDRS];	/* their types */

	int		scitag;		/* SciTags options found */
	uint8_t		scitag_hdr;	/* 0 = hop-by-hop, 60 = destination */
	int		scitag_pos;	/* index in exthdr[] of the first */
	uint16_t	scitag_exp;
	uint8_t		scitag_act;

	uint8_t		proto;		/* IPPROTO_TCP, IPPROTO_UDP, 0 = none */
	uint16_t	sport;		/* host order */
	uint16_t	dport;
	uint8_t		tcp_flags;
	uint32_t	l4_payload;	/* bytes after the TCP/UDP header */

	uint16_t	l3_len;		/* bytes in l3[] */
	uint8_t		l3[CAP_L3_SNAP];	/* raw, from the IPv6 header on */
};

/* A 5-tuple to select packets; zero port / NULL address = any. */
struct cap_tuple {
	uint8_t		proto;		/* 0 = any */
	int		has_saddr;
	int		has_daddr;
	uint8_t		saddr[16];
	uint8_t		daddr[16];
	uint16_t	sport;
	uint16_t	dport;
};

/* Returns 0, or -EINVAL if an address does not parse. */
int cap_tuple_make(struct cap_tuple *, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, uint16_t dport);
int cap_match(const struct cap_pkt *, const struct cap_tuple *);

/*
 * Decode one frame (Ethernet, or the IPv6 header first when eth is 0).
 * tpid/tci: a tag the kernel took out of the frame (auxdata), 0 if none.
 */
void cap_decode(const uint8_t *frame, size_t len, size_t frame_len,
    int eth, uint16_t aux_tpid, uint16_t aux_tci, int has_aux_tag,
    struct cap_pkt *out);

struct capture;

/*
 * Start capturing on ifname inside ns (NULL: the caller's namespace):
 * returns once the socket is bound, so traffic sent afterwards is seen.
 * Stops by itself after max_pkts packets or max_ms milliseconds.
 */
int cap_start(struct capture **, const char *ns, const char *ifname,
    size_t max_pkts, int max_ms, char *err, size_t errlen);
/* Wait (bounded) until n packets matching t were captured; 0 or -ETIMEDOUT. */
int cap_wait(struct capture *, const struct cap_tuple *, size_t n,
    int timeout_ms);
/* Stop and join the thread; the packets stay. Idempotent. */
void cap_stop(struct capture *);
size_t cap_count(struct capture *);
const struct cap_pkt *cap_get(struct capture *, size_t i);
/* Packets the kernel dropped for this socket (PACKET_STATISTICS). */
unsigned int cap_drops(struct capture *);
/*
 * Collect pointers to matching packets: dir CAP_IN (arrived at the
 * interface), CAP_OUT (sent from it) or CAP_ANY. Returns how many were
 * stored in out (at most max).
 */
#define CAP_IN		0
#define CAP_OUT		1
#define CAP_ANY		2
size_t cap_select(struct capture *, const struct cap_tuple *, int dir,
    const struct cap_pkt **out, size_t max);
void cap_free(struct capture *);

/* "2001:db8::1" for a 16-byte address. */
const char *cap_addr_str(const uint8_t a[16], char *buf, size_t len);

#endif /* SCTAG_CAPTURE_H */
