/*
 * capture.c: see capture.h.
 *
 * The socket is bound with protocol 0 first and ETH_P_ALL only in bind(),
 * so nothing from other interfaces is queued before the bind. The kernel
 * takes a received frame's outer VLAN tag out of the data before packet
 * taps see it; PACKET_AUXDATA gives it back, and the decoder puts it first
 * in the tag list (marked as not in band).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "capture.h"
#include "netns.h"

#define SNAP		512
#define RCVBUF		(32 << 20)
#define SCITAG_OPT	0x1e

struct capture {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	pthread_t	 tid;
	int		 running;
	int		 ready;		/* 1 bound, -errno failed */
	int		 stop;
	int		 fd;
	char		 ns[NT_NAME_MAX];
	char		 ifname[NT_IFNAME_MAX];
	size_t		 max;
	int		 max_ms;
	long long	 t0;
	struct cap_pkt	*pkts;
	size_t		 n;
	unsigned int	 drops;
};

const char *
cap_addr_str(const uint8_t a[16], char *buf, size_t len)
{
	if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int
cap_tuple_make(struct cap_tuple *t, uint8_t proto, const char *saddr,
    uint16_t sport, const char *daddr, uint16_t dport)
{
	memset(t, 0, sizeof(*t));
	t->proto = proto;
	t->sport = sport;
	t->dport = dport;
	if (saddr) {
		if (inet_pton(AF_INET6, saddr, t->saddr) != 1)
			return -EINVAL;
		t->has_saddr = 1;
	}
	if (daddr) {
		if (inet_pton(AF_INET6, daddr, t->daddr) != 1)
			return -EINVAL;
		t->has_daddr = 1;
	}
	return 0;
}

int
cap_match(const struct cap_pkt *p, const struct cap_tuple *t)
{
	if (!p->ipv6 || !p->proto)
		return 0;
	if (t->proto && p->proto != t->proto)
		return 0;
	if (t->sport && p->sport != t->sport)
		return 0;
	if (t->dport && p->dport != t->dport)
		return 0;
	if (t->has_saddr && memcmp(p->saddr, t->saddr, 16) != 0)
		return 0;
	if (t->has_daddr && memcmp(p->daddr, t->daddr, 16) != 0)
		return 0;
	return 1;
}

/* Options of a hop-by-hop or destination header: find SciTags. */
static void
scan_options(const uint8_t *h, size_t hlen, uint8_t type, int pos,
    struct cap_pkt *out)
{
	size_t i = 2;

	while (i < hlen) {
		if (h[i] == 0) {	/* Pad1 */
			i++;
			continue;
		}
		if (i + 2 > hlen || i + 2 + h[i + 1] > hlen)
			return;
		if (h[i] == SCITAG_OPT && h[i + 1] == 3) {
			if (out->scitag++ == 0) {
				out->scitag_hdr = type;
				out->scitag_pos = pos;
				out->scitag_exp = (uint16_t)(h[i + 2] << 8 |
				    h[i + 3]);
				out->scitag_act = h[i + 4];
			}
		}
		i += 2 + h[i + 1];
	}
}

void
cap_decode(const uint8_t *f, size_t len, size_t frame_len, int eth,
    uint16_t aux_tpid, uint16_t aux_tci, int has_aux_tag,
    struct cap_pkt *out)
{
	const uint8_t *ip6, *h;
	size_t off = 0, l4off, hl;
	uint16_t proto;
	uint8_t nh;
	int i;

	memset(out, 0, sizeof(*out));
	out->frame_len = (uint32_t)frame_len;
	if (has_aux_tag) {
		out->vlan_tpid[0] = aux_tpid ? aux_tpid : ETH_P_8021Q;
		out->vlan_id[0] = aux_tci & 0x0fff;
		out->vlan_inband[0] = 0;
		out->nvlan = 1;
	}
	if (eth) {
		if (len < 14)
			return;
		proto = (uint16_t)(f[12] << 8 | f[13]);
		off = 14;
		while ((proto == ETH_P_8021Q || proto == ETH_P_8021AD) &&
		    out->nvlan < CAP_MAX_VLANS) {
			if (off + 4 > len)
				return;
			out->vlan_tpid[out->nvlan] = proto;
			out->vlan_id[out->nvlan] =
			    (uint16_t)((f[off] << 8 | f[off + 1]) & 0x0fff);
			out->vlan_inband[out->nvlan] = 1;
			out->nvlan++;
			proto = (uint16_t)(f[off + 2] << 8 | f[off + 3]);
			off += 4;
		}
		if (proto != ETH_P_IPV6)
			return;
	}
	if (off + 40 > len)
		return;
	ip6 = f + off;
	if ((ip6[0] >> 4) != 6)
		return;
	out->ipv6 = 1;
	out->tclass = (uint8_t)((ip6[0] & 0x0f) << 4 | ip6[1] >> 4);
	out->label = (uint32_t)(ip6[1] & 0x0f) << 16 | (uint32_t)ip6[2] << 8 |
	    ip6[3];
	out->plen = (uint16_t)(ip6[4] << 8 | ip6[5]);
	out->nexthdr = ip6[6];
	memcpy(out->saddr, ip6 + 8, 16);
	memcpy(out->daddr, ip6 + 24, 16);
	out->l3_len = (uint16_t)(len - off < CAP_L3_SNAP ? len - off :
	    CAP_L3_SNAP);
	memcpy(out->l3, ip6, out->l3_len);

	nh = out->nexthdr;
	l4off = off + 40;
	for (i = 0; i < CAP_MAX_EXTHDRS; i++) {
		if (nh == IPPROTO_TCP || nh == IPPROTO_UDP)
			break;
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_DSTOPTS &&
		    nh != IPPROTO_ROUTING && nh != IPPROTO_FRAGMENT &&
		    nh != IPPROTO_AH)
			return;
		if (l4off + 8 > len)
			return;
		h = f + l4off;
		if (nh == IPPROTO_FRAGMENT)
			hl = 8;
		else if (nh == IPPROTO_AH)
			hl = ((size_t)h[1] + 2) << 2;
		else
			hl = ((size_t)h[1] + 1) << 3;
		if (l4off + hl > len)
			return;
		out->exthdr[out->nexthdrs++] = nh;
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_DSTOPTS)
			scan_options(h, hl, nh, i, out);
		l4off += hl;
		nh = h[0];
	}
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		return;
	h = f + l4off;
	if (nh == IPPROTO_TCP) {
		if (l4off + 20 > len)
			return;
		hl = (size_t)(h[12] >> 4) * 4;
		out->tcp_flags = h[13];
	} else {
		if (l4off + 8 > len)
			return;
		hl = 8;
	}
	out->proto = nh;
	out->sport = (uint16_t)(h[0] << 8 | h[1]);
	out->dport = (uint16_t)(h[2] << 8 | h[3]);
	/* By the header's length, not the snapped bytes. */
	if ((size_t)out->plen >= (l4off - off - 40) + hl)
		out->l4_payload = out->plen - (uint32_t)(l4off - off - 40) -
		    (uint32_t)hl;
}

static void
cap_signal_ready(struct capture *c, int v)
{
	pthread_mutex_lock(&c->mu);
	c->ready = v;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static int
cap_open(struct capture *c)
{
	struct sockaddr_ll sll;
	struct timeval tv = { 0, 50000 };
	int fd, one = 1, buf = RCVBUF, ifindex;

	if ((ifindex = (int)if_nametoindex(c->ifname)) == 0)
		return -ENODEV;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one,
	    sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0)
		goto fail;
	c->fd = fd;
	return 0;
fail:
	one = -errno;
	close(fd);
	return one;
}

static void *
cap_main(void *arg)
{
	struct capture *c = arg;
	uint8_t frame[SNAP];
	char cbuf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	struct sockaddr_ll from;
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct tpacket_auxdata *aux;
	struct tpacket_stats st;
	socklen_t sl;
	struct cap_pkt p;
	ssize_t n;
	long long deadline;
	int rc, stop, has_tag;
	uint16_t tpid, tci;

	if ((rc = cap_open(c)) != 0) {
		cap_signal_ready(c, rc);
		return NULL;
	}
	c->t0 = nt_now_ms();
	deadline = c->t0 + c->max_ms;
	cap_signal_ready(c, 1);
	for (;;) {
		pthread_mutex_lock(&c->mu);
		stop = c->stop || c->n >= c->max;
		pthread_mutex_unlock(&c->mu);
		if (stop || nt_now_ms() >= deadline)
			break;
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = frame;
		iov.iov_len = sizeof(frame);
		mh.msg_name = &from;
		mh.msg_namelen = sizeof(from);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		n = recvmsg(c->fd, &mh, MSG_TRUNC);
		if (n < 0)
			continue;	/* the 50 ms timeout, or EINTR */
		has_tag = 0;
		tpid = tci = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_PACKET ||
			    cm->cmsg_type != PACKET_AUXDATA)
				continue;
			aux = (struct tpacket_auxdata *)CMSG_DATA(cm);
			if (aux->tp_status & TP_STATUS_VLAN_VALID) {
				has_tag = 1;
				tci = aux->tp_vlan_tci;
				if (aux->tp_status & TP_STATUS_VLAN_TPID_VALID)
					tpid = aux->tp_vlan_tpid;
			}
		}
		cap_decode(frame, (size_t)n < sizeof(frame) ? (size_t)n :
		    sizeof(frame), (size_t)n, from.sll_hatype == ARPHRD_ETHER,
		    tpid, tci, has_tag, &p);
		p.pkttype = from.sll_pkttype;
		p.t_ms = nt_now_ms() - c->t0;
		pthread_mutex_lock(&c->mu);
		if (c->n < c->max)
			c->pkts[c->n++] = p;
		pthread_mutex_unlock(&c->mu);
	}
	sl = sizeof(st);
	if (getsockopt(c->fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) == 0)
		c->drops = st.tp_drops;
	close(c->fd);
	c->fd = -1;
	return NULL;
}

int
cap_start(struct capture **out, const char *ns, const char *ifname,
    size_t max_pkts, int max_ms, char *err, size_t errlen)
{
	struct capture *c;
	long long deadline;
	int rc, ready;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->pkts = calloc(max_pkts ? max_pkts : 1,
	    sizeof(*c->pkts))) == NULL) {
		free(c);
		snprintf(err, errlen, "out of memory for %zu packets",
		    max_pkts);
		return -ENOMEM;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->fd = -1;
	c->max = max_pkts;
	c->max_ms = max_ms;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	if (ns) {
		snprintf(c->ns, sizeof(c->ns), "%s", ns);
		rc = nt_thread_start(&c->tid, ns, cap_main, c);
	} else {
		rc = -pthread_create(&c->tid, NULL, cap_main, c);
	}
	if (rc != 0) {
		snprintf(err, errlen, "starting the capture thread: %s",
		    strerror(-rc));
		cap_free(c);
		return rc;
	}
	c->running = 1;
	deadline = nt_now_ms() + 5000;
	pthread_mutex_lock(&c->mu);
	while (c->ready == 0 && nt_now_ms() < deadline) {
		pthread_mutex_unlock(&c->mu);
		nt_sleep_ms(2);
		pthread_mutex_lock(&c->mu);
	}
	ready = c->ready;
	pthread_mutex_unlock(&c->mu);
	if (ready != 1) {
		snprintf(err, errlen, "capture on %s in %s: %s", ifname,
		    ns ? ns : "this namespace", ready == 0 ? "timed out" :
		    strerror(-ready));
		cap_free(c);
		return ready == 0 ? -ETIMEDOUT : ready;
	}
	*out = c;
	return 0;
}

int
cap_wait(struct capture *c, const struct cap_tuple *t, size_t n,
    int timeout_ms)
{
	long long deadline = nt_now_ms() + timeout_ms;
	size_t i, found, scanned = 0;

	found = 0;
	for (;;) {
		pthread_mutex_lock(&c->mu);
		for (i = scanned; i < c->n; i++)
			if (cap_match(&c->pkts[i], t))
				found++;
		scanned = c->n;
		pthread_mutex_unlock(&c->mu);
		if (found >= n)
			return 0;
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(5);
	}
}

void
cap_stop(struct capture *c)
{
	if (!c || !c->running)
		return;
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_mutex_unlock(&c->mu);
	/* recvmsg wakes every 50 ms to look at the flag. */
	if (c->ns[0])
		nt_thread_join(c->tid, 5000, NULL);
	else
		pthread_join(c->tid, NULL);
	c->running = 0;
}

size_t
cap_count(struct capture *c)
{
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->n;
	pthread_mutex_unlock(&c->mu);
	return n;
}

const struct cap_pkt *
cap_get(struct capture *c, size_t i)
{
	return i < cap_count(c) ? &c->pkts[i] : NULL;
}

unsigned int
cap_drops(struct capture *c)
{
	return c->drops;
}

size_t
cap_select(struct capture *c, const struct cap_tuple *t, int dir,
    const struct cap_pkt **out, size_t max)
{
	size_t i, k = 0, n = cap_count(c);
	const struct cap_pkt *p;

	for (i = 0; i < n && k < max; i++) {
		p = &c->pkts[i];
		if (dir == CAP_IN && p->pkttype == PACKET_OUTGOING)
			continue;
		if (dir == CAP_OUT && p->pkttype != PACKET_OUTGOING)
			continue;
		if (cap_match(p, t))
			out[k++] = p;
	}
	return k;
}

void
cap_free(struct capture *c)
{
	if (!c)
		return;
	cap_stop(c);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c->pkts);
	free(c);
}
