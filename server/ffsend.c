/*
 * ffsend.c: see ffsend.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ffsend.h"
#include "log.h"
#include "sockdiag.h"

struct dest {
	char			 name[FFSEND_NAME_MAX + 1];	/* as configured */
	char			 host[CFG_HOSTNAME_MAX + 1];
	uint16_t		 port;
	int			 literal;	/* an address, never resolved */
	struct sockaddr_storage	 addr;		/* under ff->mtx if !literal */
	socklen_t		 alen;		/* 0: not resolved (yet) */
	_Atomic uint64_t	 sent, errors, unresolved;
	_Atomic int		 last_errno;
	struct log_ratelimit	 rl;		/* under ff->mtx */
};

#define FFSEND_QUEUE	256	/* datagrams sent per flush */
#define FFSEND_RING	4096	/* events waiting for the sender thread */
#define FFSEND_WAIT_MS	100	/* the most a caller waits for room */
#define FFSEND_ASK_MAX	16	/* waiting events up to which starts get
				   their socket's counts (a query each) */

struct qmsg {
	struct dest		*d;
	struct sockaddr_storage	 to;
	socklen_t		 tolen;
	size_t			 len;
	char			 buf[FF_DATAGRAM_MAX];
};

struct ffsend {
	char			 host[CFG_HOSTNAME_MAX + 1];
	/* The events, from any thread to the sender thread (ring). */
	pthread_mutex_t		 rmtx;
	pthread_cond_t		 rcv;		/* events wait */
	pthread_cond_t		 rspace;	/* the ring has room */
	struct ff_event		*ring;
	size_t			 rhead, rlen;
	int			 rstop, ridle;
	int			 rstalled;	/* waited in vain: drop */
	pthread_t		 sender;
	int			 sender_started;
	_Atomic uint64_t	 ring_full;
	/* The sender thread's own. */
	struct qmsg		*q;
	size_t			 nq;
	int			 fd4, fd6;
	struct sockdiag_q	*sdq;		/* NULL: starts without counts */
	int			 to_peer;
	uint16_t		 peer_port;
	uint32_t		 resolve_s;
	struct dest		 dests[CFG_MAX_COLLECTORS];
	size_t			 ndests;
	struct dest		 peer;		/* counts only */
	_Atomic uint64_t	 bad_events;
	struct log_ratelimit	 bad_rl;	/* under mtx */
	/* The resolver thread shares this struct: the last one out frees. */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;
	int			 stopping;	/* under mtx */
	int			 refs;		/* under mtx */
	int			 named;		/* collectors given by name */
};

static int
udp_socket(int family)
{
	int fd;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		return -errno;
	if (family == AF_INET6) {
		int on = 1;

		/* Ours is the v6 one; IPv4 goes out of the other. */
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	}
	return fd;
}

/* An address literal into sa; 0, or -1 for a name. */
static int
literal(const char *host, uint16_t port, struct sockaddr_storage *sa,
    socklen_t *len)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

	memset(sa, 0, sizeof(*sa));
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		*len = sizeof(*s6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		*len = sizeof(*s4);
		return 0;
	}
	return -1;
}

static void
release(struct ffsend *ff)
{
	int last;

	pthread_mutex_lock(&ff->mtx);
	last = --ff->refs == 0;
	pthread_mutex_unlock(&ff->mtx);
	if (!last)
		return;
	free(ff->q);
	free(ff->ring);
	pthread_cond_destroy(&ff->rcv);
	pthread_cond_destroy(&ff->rspace);
	pthread_mutex_destroy(&ff->rmtx);
	if (ff->fd4 >= 0)
		close(ff->fd4);
	if (ff->fd6 >= 0)
		close(ff->fd6);
	sockdiag_q_close(ff->sdq);
	pthread_cond_destroy(&ff->cv);
	pthread_mutex_destroy(&ff->mtx);
	free(ff);
}

/* Resolve one name; the first address getaddrinfo prefers (RFC 6724). */
static void
resolve(struct ffsend *ff, struct dest *d)
{
	struct addrinfo hints, *res = NULL;
	char port[8];
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%u", d->port);
	rc = getaddrinfo(d->host, port, &hints, &res);
	pthread_mutex_lock(&ff->mtx);
	if (rc == 0 && res != NULL && res->ai_addrlen <= sizeof(d->addr)) {
		memcpy(&d->addr, res->ai_addr, res->ai_addrlen);
		d->alen = res->ai_addrlen;
	}
	pthread_mutex_unlock(&ff->mtx);
	/* A failure keeps the last address: a resolver hiccup is not a
	 * reason to stop reporting. */
	if (rc != 0)
		log_warn("fireflies: collector %s: %s%s", d->name,
		    gai_strerror(rc), d->alen ? "; keeping its last address" :
		    "");
	if (res != NULL)
		freeaddrinfo(res);
}

static void *
resolver_main(void *arg)
{
	struct ffsend *ff = arg;
	struct timespec until;
	size_t i;
	int stop;

	for (;;) {
		for (i = 0; i < ff->ndests; i++)
			if (!ff->dests[i].literal)
				resolve(ff, &ff->dests[i]);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += ff->resolve_s;
		pthread_mutex_lock(&ff->mtx);
		while (!ff->stopping && pthread_cond_timedwait(&ff->cv,
		    &ff->mtx, &until) != ETIMEDOUT)
			;
		stop = ff->stopping;
		pthread_mutex_unlock(&ff->mtx);
		if (stop)
			break;
	}
	release(ff);
	return NULL;
}

static void *sender_main(void *);

int
ffsend_new(const struct ffsend_opts *o, struct ffsend **out, char *err,
    size_t errlen)
{
	const struct cfg *c = o->cfg;
	struct ffsend *ff;
	pthread_t t;
	size_t i;
	int rc;

	*out = NULL;
	if (!c->ff_enabled)
		return 0;
	if ((ff = calloc(1, sizeof(*ff))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ff->fd4 = ff->fd6 = -1;
	ff->refs = 1;
	if ((ff->q = calloc(FFSEND_QUEUE, sizeof(*ff->q))) == NULL ||
	    (ff->ring = calloc(FFSEND_RING, sizeof(*ff->ring))) == NULL) {
		free(ff->q);
		free(ff);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&ff->rmtx, NULL);
	pthread_cond_init(&ff->rcv, NULL);
	pthread_cond_init(&ff->rspace, NULL);
	ff->to_peer = c->ff_to_peer;
	ff->peer_port = (uint16_t)c->ff_peer_port;
	ff->resolve_s = c->ff_resolve ? c->ff_resolve : CFG_FF_RESOLVE_DEFAULT;
	snprintf(ff->host, sizeof(ff->host), "%s", o->host);
	snprintf(ff->peer.name, sizeof(ff->peer.name), "peer");
	pthread_mutex_init(&ff->mtx, NULL);
	pthread_cond_init(&ff->cv, NULL);
	for (i = 0; i < c->nff_collectors && i < CFG_MAX_COLLECTORS; i++) {
		struct dest *d = &ff->dests[ff->ndests];

		snprintf(d->name, sizeof(d->name), "%s", c->ff_collectors[i]);
		if (cfg_collector_split(c->ff_collectors[i], d->host,
		    sizeof(d->host), &d->port, err, errlen) != 0) {
			rc = -EINVAL;
			goto fail;
		}
		d->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1, 60);
		d->literal = literal(d->host, d->port, &d->addr, &d->alen) == 0;
		ff->named += !d->literal;
		ff->ndests++;
	}
	ff->peer.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1, 60);
	ff->bad_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(1, 60);
	/* Both families: a peer or a collector may be either. */
	if ((ff->fd6 = udp_socket(AF_INET6)) < 0)
		log_warn("fireflies: no IPv6 socket: %s", strerror(-ff->fd6));
	if ((ff->fd4 = udp_socket(AF_INET)) < 0)
		log_warn("fireflies: no IPv4 socket: %s", strerror(-ff->fd4));
	if (ff->fd6 < 0 && ff->fd4 < 0) {
		snprintf(err, errlen, "no UDP socket: %s", strerror(-ff->fd6));
		rc = ff->fd6;
		goto fail;
	}
	if (sockdiag_q_open(&ff->sdq, err, errlen) != 0)
		log_warn("fireflies: start fireflies go without their "
		    "socket's counts: %s", err);
	if ((rc = pthread_create(&ff->sender, NULL, sender_main, ff)) != 0) {
		snprintf(err, errlen, "sender thread: %s", strerror(rc));
		rc = -rc;
		goto fail;
	}
	ff->sender_started = 1;
	if (ff->named > 0) {
		ff->refs++;
		if ((rc = pthread_create(&t, NULL, resolver_main, ff)) != 0) {
			ff->refs--;
			snprintf(err, errlen, "resolver thread: %s",
			    strerror(rc));
			ffsend_free(ff);	/* stops the sender first */
			return -rc;
		}
		pthread_detach(t);
	}
	*out = ff;
	return 0;
fail:
	release(ff);
	return rc;
}

void
ffsend_free(struct ffsend *ff)
{
	if (ff == NULL)
		return;
	/* The sender sends what waits, then stops. */
	if (ff->sender_started) {
		pthread_mutex_lock(&ff->rmtx);
		ff->rstop = 1;
		pthread_cond_signal(&ff->rcv);
		pthread_mutex_unlock(&ff->rmtx);
		pthread_join(ff->sender, NULL);
	}
	/* The resolver may sit in getaddrinfo: it frees when it is back. */
	pthread_mutex_lock(&ff->mtx);
	ff->stopping = 1;
	pthread_cond_broadcast(&ff->cv);
	pthread_mutex_unlock(&ff->mtx);
	release(ff);
}

static void
sent(struct ffsend *ff, struct dest *d, int fd, ssize_t n, size_t len)
{
	unsigned long suppressed;
	int say;

	if (n == (ssize_t)len) {
		d->sent++;
		return;
	}
	d->errors++;
	d->last_errno = fd < 0 ? EAFNOSUPPORT : n < 0 ? errno : EMSGSIZE;
	pthread_mutex_lock(&ff->mtx);
	say = log_ratelimit_ok(&d->rl, &suppressed);
	pthread_mutex_unlock(&ff->mtx);
	if (say)
		log_warn("fireflies: to %s: %s (%lu more not logged)",
		    d->name, strerror(d->last_errno), suppressed);
}

/* The kept datagrams of one socket, many per system call. */
static void
flush_fd(struct ffsend *ff, int family)
{
	struct mmsghdr mm[64];
	struct iovec iov[64];
	struct qmsg *m[64];
	size_t i, k = 0;
	int fd = family == AF_INET6 ? ff->fd6 : ff->fd4, r, j;

	for (i = 0; i <= ff->nq; i++) {
		if (i < ff->nq && ff->q[i].to.ss_family == family) {
			m[k] = &ff->q[i];
			iov[k].iov_base = m[k]->buf;
			iov[k].iov_len = m[k]->len;
			memset(&mm[k], 0, sizeof(mm[k]));
			mm[k].msg_hdr.msg_name = &m[k]->to;
			mm[k].msg_hdr.msg_namelen = m[k]->tolen;
			mm[k].msg_hdr.msg_iov = &iov[k];
			mm[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		if (k == 0 || (k < 64 && i < ff->nq))
			continue;
		for (j = 0; j < (int)k; ) {
			r = fd < 0 ? -1 : sendmmsg(fd, mm + j, (unsigned)(k -
			    (size_t)j), 0);
			if (r <= 0) {
				/* The one that failed; on with the rest. */
				sent(ff, m[j]->d, fd, -1, m[j]->len);
				j++;
				continue;
			}
			for (; r > 0; r--, j++)
				sent(ff, m[j]->d, fd, (ssize_t)m[j]->len,
				    m[j]->len);
		}
		k = 0;
	}
}

/* The sender thread: what it kept, many per system call. */
static void
flush(struct ffsend *ff)
{
	flush_fd(ff, AF_INET6);
	flush_fd(ff, AF_INET);
	ff->nq = 0;
}

static void
send_to(struct ffsend *ff, struct dest *d, const struct sockaddr *sa,
    socklen_t alen, const char *buf, size_t len)
{
	struct qmsg *m;

	if (ff->nq == FFSEND_QUEUE)
		flush(ff);
	m = &ff->q[ff->nq++];
	m->d = d;
	memcpy(&m->to, sa, alen);
	m->tolen = alen;
	memcpy(m->buf, buf, len);
	m->len = len;
}

/* The flow's remote end: dst of the rule, on the peer port. */
static socklen_t
peer_addr(const struct ffsend *ff, const struct ff_flow *f,
    struct sockaddr_storage *sa)
{
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;
	struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

	memset(sa, 0, sizeof(*sa));
	if (f->family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(ff->peer_port);
		memcpy(&s4->sin_addr, f->dst + 12, 4);
		return sizeof(*s4);
	}
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(ff->peer_port);
	memcpy(&s6->sin6_addr, f->dst, 16);
	return sizeof(*s6);
}

/* One event into datagrams (the sender thread). */
static void
announce(struct ffsend *ff, const struct ff_event *ev)
{
	struct sockaddr_storage sa;
	unsigned long suppressed;
	socklen_t alen;
	char buf[FF_DATAGRAM_MAX + 1], err[160];
	size_t i, len;
	int say;

	if (ff_format(ev, ff->host, "sctagd", buf, sizeof(buf), &len, err,
	    sizeof(err)) != 0) {
		ff->bad_events++;
		pthread_mutex_lock(&ff->mtx);
		say = log_ratelimit_ok(&ff->bad_rl, &suppressed);
		pthread_mutex_unlock(&ff->mtx);
		if (say)
			log_warn("fireflies: not sent: %s", err);
		return;
	}
	for (i = 0; i < ff->ndests; i++) {
		struct dest *d = &ff->dests[i];

		if (d->literal) {
			send_to(ff, d, (struct sockaddr *)&d->addr, d->alen,
			    buf, len);
			continue;
		}
		pthread_mutex_lock(&ff->mtx);
		sa = d->addr;
		alen = d->alen;
		pthread_mutex_unlock(&ff->mtx);
		if (alen == 0)
			d->unresolved++;
		else
			send_to(ff, d, (struct sockaddr *)&sa, alen, buf, len);
	}
	if (ff->to_peer) {
		alen = peer_addr(ff, &ev->flow, &sa);
		send_to(ff, &ff->peer, (struct sockaddr *)&sa, alen, buf, len);
	}
}

/*
 * Formatting and sending are this thread's, not the caller's: a burst of
 * starts (a pipe read, a Batch) costs the caller a copy each.
 */
/*
 * A TCP connection's start: its socket's counts and rtt when it exists
 * already (an exact 5-tuple query). Off the callers' threads, and only
 * when few events wait: in a burst (a pipe flood) the query per event
 * would cost more than the sending.
 */
static void
with_counts(struct ffsend *ff, struct ff_event *e)
{
	struct sockdiag_conn c;

	if (ff->sdq == NULL || e->state != FF_START || e->has_usage ||
	    e->flow.proto != IPPROTO_TCP)
		return;
	memset(&c, 0, sizeof(c));
	c.family = e->flow.family;
	memcpy(c.src, e->flow.src, sizeof(c.src));
	memcpy(c.dst, e->flow.dst, sizeof(c.dst));
	c.sport = e->flow.sport;
	c.dport = e->flow.dport;
	if (sockdiag_get(ff->sdq, &c) == 0)
		sockdiag_fill_event(&c, e);
}

static void *
sender_main(void *arg)
{
	struct ff_event batch[64];
	struct ffsend *ff = arg;
	size_t i, n;
	int stop, ask;

	for (;;) {
		pthread_mutex_lock(&ff->rmtx);
		while (ff->rlen == 0 && !ff->rstop) {
			ff->ridle = 1;
			pthread_cond_wait(&ff->rcv, &ff->rmtx);
		}
		ff->ridle = 0;
		for (n = 0; n < 64 && ff->rlen > 0; n++) {
			batch[n] = ff->ring[ff->rhead];
			ff->rhead = (ff->rhead + 1) % FFSEND_RING;
			ff->rlen--;
		}
		stop = ff->rstop && ff->rlen == 0;
		ask = n + ff->rlen <= FFSEND_ASK_MAX;
		if (n > 0) {
			ff->rstalled = 0;
			pthread_cond_broadcast(&ff->rspace);
		}
		pthread_mutex_unlock(&ff->rmtx);
		for (i = 0; i < n; i++) {
			if (ask)
				with_counts(ff, &batch[i]);
			announce(ff, &batch[i]);
		}
		flush(ff);
		if (stop)
			return NULL;
	}
}

void
ffsend_event(struct ffsend *ff, const struct ff_event *ev)
{
	struct timespec until;
	int wake = 0;

	if (ff == NULL)
		return;
	pthread_mutex_lock(&ff->rmtx);
	if (ff->rlen == FFSEND_RING && !ff->rstalled) {
		/*
		 * A burst bigger than the ring: wait a little for the sender
		 * (the pipe is then read more slowly, which loses nothing),
		 * never long (FFSEND_WAIT_MS); then count and drop. A sender
		 * that did not move in that time is stalled: until it moves
		 * again, nobody waits (the caller may hold the state lock).
		 */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += FFSEND_WAIT_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (ff->rlen == FFSEND_RING &&
		    pthread_cond_timedwait(&ff->rspace, &ff->rmtx,
		    &until) != ETIMEDOUT)
			;
		if (ff->rlen == FFSEND_RING)
			ff->rstalled = 1;
	}
	if (ff->rlen == FFSEND_RING)
		ff->ring_full++;
	else {
		ff->ring[(ff->rhead + ff->rlen) % FFSEND_RING] = *ev;
		ff->rlen++;
		wake = ff->ridle;
		ff->ridle = 0;
	}
	pthread_mutex_unlock(&ff->rmtx);
	if (wake)
		pthread_cond_signal(&ff->rcv);
}

static void
copy_stats(const struct dest *d, struct ffsend_stats *s)
{
	snprintf(s->name, sizeof(s->name), "%s", d->name);
	s->sent = d->sent;
	s->errors = d->errors;
	s->unresolved = d->unresolved;
	s->last_errno = d->last_errno;
}

size_t
ffsend_stats(struct ffsend *ff, struct ffsend_stats *s, size_t max)
{
	size_t i, n = 0;

	if (ff == NULL)
		return 0;
	for (i = 0; i < ff->ndests && n < max; i++)
		copy_stats(&ff->dests[i], &s[n++]);
	if (ff->to_peer && n < max)
		copy_stats(&ff->peer, &s[n++]);
	return n;
}

void
ffsend_totals(struct ffsend *ff, uint64_t *sent, uint64_t *errors,
    uint64_t *unresolved, uint64_t *bad_events)
{
	size_t i;

	*sent = *errors = *unresolved = *bad_events = 0;
	if (ff == NULL)
		return;
	for (i = 0; i < ff->ndests; i++) {
		*sent += ff->dests[i].sent;
		*errors += ff->dests[i].errors;
		*unresolved += ff->dests[i].unresolved;
	}
	*sent += ff->peer.sent;
	*errors += ff->peer.errors;
	*bad_events = ff->bad_events + ff->ring_full;
}
