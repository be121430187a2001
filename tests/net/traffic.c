/*
 * traffic.c: see traffic.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "netns.h"
#include "traffic.h"

#define CHUNK		65536

/* A socket of type in ns, bound to [addr]:port; -errno with err set. */
static int
ns_socket(const char *ns, int type, const char *addr, uint16_t port,
    int tclass, char *err, size_t errlen)
{
	struct sockaddr_in6 sa;
	int fd, saved, one = 1, rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(port);
	if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv6 address", addr);
		return -EINVAL;
	}
	if ((rc = nt_ns_enter(ns, &saved)) != 0) {
		snprintf(err, errlen, "joining netns %s: %s", ns,
		    strerror(-rc));
		return rc;
	}
	fd = socket(AF_INET6, type | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -errno : 0;
	nt_ns_leave(saved);
	if (rc) {
		snprintf(err, errlen, "socket: %s", strerror(-rc));
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (tclass >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass,
	    sizeof(tclass)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "IPV6_TCLASS %d: %s", tclass,
		    strerror(-rc));
		close(fd);
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "bind [%s]:%u in %s: %s", addr, port, ns,
		    strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

static void
set_timeouts(int fd, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void *
tcp_rx_main(void *arg)
{
	struct tr_tcp_rx *r = arg;
	crypto_hash_sha256_state st;
	struct pollfd pfd = { r->fd, POLLIN, 0 };
	long long deadline = nt_now_ms() + r->timeout_ms;
	char *buf;
	ssize_t n;
	int c;

	crypto_hash_sha256_init(&st);
	if ((buf = malloc(CHUNK)) == NULL) {
		r->rc = -ENOMEM;
		return NULL;
	}
	if (poll(&pfd, 1, r->timeout_ms) != 1 ||
	    (c = accept4(r->fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		r->rc = -ETIMEDOUT;
		free(buf);
		return NULL;
	}
	set_timeouts(c, 1000);
	for (;;) {
		n = read(c, buf, CHUNK);
		if (n == 0)
			break;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (nt_now_ms() < deadline)
				continue;
			r->rc = -ETIMEDOUT;
			goto out;
		}
		if (n < 0) {
			r->rc = -errno;
			goto out;
		}
		crypto_hash_sha256_update(&st, (unsigned char *)buf,
		    (unsigned long long)n);
		r->bytes += (uint64_t)n;
	}
	crypto_hash_sha256_final(&st, r->sha);
	r->rc = 0;
out:
	close(c);
	free(buf);
	return NULL;
}

int
tr_tcp_rx_start(struct tr_tcp_rx *r, const char *ns, const char *addr,
    uint16_t port, int timeout_ms, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->timeout_ms = timeout_ms;
	if ((r->fd = ns_socket(ns, SOCK_STREAM, addr, port, -1, err,
	    errlen)) < 0)
		return r->fd;
	if (listen(r->fd, 4) != 0) {
		rc = -errno;
		snprintf(err, errlen, "listen: %s", strerror(-rc));
		close(r->fd);
		return rc;
	}
	r->rc = -EINPROGRESS;
	if ((rc = pthread_create(&r->tid, NULL, tcp_rx_main, r)) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		close(r->fd);
		return -rc;
	}
	r->running = 1;
	return 0;
}

int
tr_tcp_rx_wait(struct tr_tcp_rx *r, int timeout_ms)
{
	long long deadline = nt_now_ms() + timeout_ms;

	if (!r->running)
		return r->rc;
	/* The thread bounds itself; this bounds us if it does not. */
	while (__atomic_load_n(&r->rc, __ATOMIC_ACQUIRE) == -EINPROGRESS) {
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(5);
	}
	pthread_join(r->tid, NULL);
	r->running = 0;
	close(r->fd);
	r->fd = -1;
	return r->rc;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
connect_to(int fd, const char *daddr, uint16_t dport, int timeout_ms,
    char *err, size_t errlen)
{
	struct sockaddr_in6 sa;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(dport);
	if (inet_pton(AF_INET6, daddr, &sa.sin6_addr) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv6 address", daddr);
		return -EINVAL;
	}
	set_timeouts(fd, timeout_ms);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "connect [%s]:%u: %s", daddr, dport,
		    strerror(-rc));
		return rc;
	}
	return 0;
}

int
tr_tcp_send(const char *ns, const struct tr_flow *f, uint64_t bytes,
    uint32_t seed, int timeout_ms, uint8_t sha[TR_SHA_LEN], char *err,
    size_t errlen)
{
	crypto_hash_sha256_state st;
	long long deadline = nt_now_ms() + timeout_ms;
	uint64_t s = (uint64_t)seed * 0x9E3779B97F4A7C15ull | 1, left = bytes;
	uint64_t *w;
	size_t chunk, off, i;
	ssize_t n;
	char *buf = NULL;
	int fd, rc;

	if ((fd = ns_socket(ns, SOCK_STREAM, f->saddr, f->sport, f->tclass,
	    err, errlen)) < 0)
		return fd;
	if ((rc = connect_to(fd, f->daddr, f->dport, timeout_ms, err,
	    errlen)) != 0)
		goto out;
	if ((buf = malloc(CHUNK)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	crypto_hash_sha256_init(&st);
	w = (uint64_t *)(void *)buf;
	while (left > 0) {
		for (i = 0; i < CHUNK / 8; i++)
			w[i] = xorshift(&s);
		chunk = left < CHUNK ? (size_t)left : CHUNK;
		crypto_hash_sha256_update(&st, (unsigned char *)buf, chunk);
		for (off = 0; off < chunk; off += (size_t)n) {
			n = write(fd, buf + off, chunk - off);
			if (n < 0 && errno == EINTR) {
				n = 0;
				continue;
			}
			if (n <= 0 || nt_now_ms() >= deadline) {
				rc = n < 0 ? -errno : -ETIMEDOUT;
				snprintf(err, errlen, "sending, %llu bytes "
				    "left: %s", (unsigned long long)left,
				    strerror(-rc));
				goto out;
			}
		}
		left -= chunk;
	}
	crypto_hash_sha256_final(&st, sha);
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

int
tr_tcp_probe(const char *ns, const struct tr_flow *f, int timeout_ms,
    char *err, size_t errlen)
{
	int fd, rc;

	if ((fd = ns_socket(ns, SOCK_STREAM, f->saddr, f->sport, f->tclass,
	    err, errlen)) < 0)
		return fd;
	rc = connect_to(fd, f->daddr, f->dport, timeout_ms, err, errlen);
	close(fd);
	return rc == -ECONNREFUSED ? 0 : rc;
}

int
tr_udp_send(const char *ns, const struct tr_flow *f, size_t payload,
    int count, int dontfrag, char *err, size_t errlen)
{
	struct sockaddr_in6 sa;
	char *buf;
	int fd, i, rc = 0, one = 1;

	if ((fd = ns_socket(ns, SOCK_DGRAM, f->saddr, f->sport, f->tclass,
	    err, errlen)) < 0)
		return fd;
	if (dontfrag && setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &one,
	    sizeof(one)) != 0) {
		rc = -errno;
		snprintf(err, errlen, "IPV6_DONTFRAG: %s", strerror(-rc));
		close(fd);
		return rc;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin6_family = AF_INET6;
	sa.sin6_port = htons(f->dport);
	if (inet_pton(AF_INET6, f->daddr, &sa.sin6_addr) != 1) {
		snprintf(err, errlen, "'%s' is not an IPv6 address", f->daddr);
		close(fd);
		return -EINVAL;
	}
	if ((buf = calloc(1, payload ? payload : 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (i = 0; i < count; i++) {
		memset(buf, 'a' + i % 26, payload);
		if (sendto(fd, buf, payload, 0, (struct sockaddr *)&sa,
		    sizeof(sa)) != (ssize_t)payload) {
			rc = -errno;
			snprintf(err, errlen, "sendto [%s]:%u, %zu bytes: %s",
			    f->daddr, f->dport, payload, strerror(-rc));
			/* The first datagram may wait for neighbour
			 * discovery; one retry after a pause. */
			if (rc == -EAGAIN && i == 0) {
				nt_sleep_ms(100);
				i--;
				count--;
				rc = 0;
				continue;
			}
			break;
		}
	}
	free(buf);
	close(fd);
	return rc;
}

static void *
udp_rx_main(void *arg)
{
	struct tr_udp_rx *r = arg;
	char buf[65536];
	ssize_t n;
	int stop;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		n = recv(r->fd, buf, sizeof(buf), 0);
		if (n < 0)
			continue;
		pthread_mutex_lock(&r->mu);
		r->datagrams++;
		r->bytes += (uint64_t)n;
		if ((size_t)n > r->largest)
			r->largest = (size_t)n;
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

int
tr_udp_rx_start(struct tr_udp_rx *r, const char *ns, const char *addr,
    uint16_t port, char *err, size_t errlen)
{
	int rc;

	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	if ((r->fd = ns_socket(ns, SOCK_DGRAM, addr, port, -1, err,
	    errlen)) < 0)
		return r->fd;
	set_timeouts(r->fd, 50);
	if ((rc = pthread_create(&r->tid, NULL, udp_rx_main, r)) != 0) {
		close(r->fd);
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -rc;
	}
	r->running = 1;
	return 0;
}

int
tr_udp_rx_wait(struct tr_udp_rx *r, uint64_t n, int timeout_ms)
{
	long long deadline = nt_now_ms() + timeout_ms;
	uint64_t got;

	for (;;) {
		pthread_mutex_lock(&r->mu);
		got = r->datagrams;
		pthread_mutex_unlock(&r->mu);
		if (got >= n)
			return 0;
		if (nt_now_ms() >= deadline)
			return -ETIMEDOUT;
		nt_sleep_ms(5);
	}
}

void
tr_udp_rx_stop(struct tr_udp_rx *r)
{
	if (!r->running)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->tid, NULL);
	close(r->fd);
	r->running = 0;
}

const char *
tr_sha_hex(const uint8_t sha[TR_SHA_LEN], char *buf, size_t len)
{
	return sodium_bin2hex(buf, len, sha, TR_SHA_LEN);
}

int
tr_raw_send(const char *ns, const char *ifname, const void *frame,
    size_t len, int count, char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	int fd, saved, rc, i, ifindex;

	if ((rc = nt_ns_enter(ns, &saved)) != 0) {
		snprintf(err, errlen, "joining netns %s: %s", ns,
		    strerror(-rc));
		return rc;
	}
	ifindex = (int)if_nametoindex(ifname);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -errno : 0;
	nt_ns_leave(saved);
	if (rc || ifindex == 0) {
		snprintf(err, errlen, "packet socket on %s: %s", ifname,
		    rc ? strerror(-rc) : "no such interface");
		if (fd >= 0)
			close(fd);
		return rc ? rc : -ENODEV;
	}
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifindex;
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, frame, 6);
	for (i = 0; i < count; i++)
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll,
		    sizeof(sll)) != (ssize_t)len) {
			rc = -errno;
			snprintf(err, errlen, "sendto on %s: %s", ifname,
			    strerror(-rc));
			break;
		}
	close(fd);
	return rc;
}

int
tr_hwaddr(const char *ns, const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd, saved, rc;

	if ((rc = nt_ns_enter(ns, &saved)) != 0)
		return rc;
	fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	nt_ns_leave(saved);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 ? 0 : -errno;
	close(fd);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}
