/*
 * auth_cache.c: the nonce cache and the request-id reply cache, both on
 * one fixed-capacity ring hash, and the replay step of auth_check that
 * uses them under their locks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_int.h"

/* ---- the ring hash under both caches ----
 *
 * Every entry lives exactly 2 x window from insertion, so insertion order
 * is expiry order: entries sit in a circular array in the order they came,
 * the oldest at head, and purging pops from head. A chained hash over the
 * same slots (32-bit next indices) finds them. All memory is allocated up
 * front; a steady stream of requests allocates nothing. The hash is
 * SipHash with a random key, so clients can not aim at one bucket.
 *
 * If the wall clock steps back, later entries may expire before earlier
 * ones; purging then stops at the first live entry and the later ones are
 * kept a little longer: the safe direction.
 */

#define CKEY_LEN	(ENV_KEYID_LEN + 16)	/* key id || nonce or request id */
#define NIL		UINT32_MAX

struct slot {
	uint8_t		key[CKEY_LEN];
	uint64_t	expires_ms;	/* live while now <= expires_ms */
	uint32_t	next;		/* in the bucket chain */
};

struct ring {
	unsigned char	*mem;
	size_t		 stride;
	uint32_t	 cap, head, count;
	uint32_t	*buckets;
	uint32_t	 mask;
	uint8_t		 hkey[crypto_shorthash_KEYBYTES];
};

static int
ring_init(struct ring *r, size_t cap, size_t stride)
{
	size_t	nb = 16, i;
	int	rc;

	if ((rc = env_sodium_init()) != 0)
		return rc;
	while (nb < cap)
		nb *= 2;
	memset(r, 0, sizeof(*r));
	/* calloc: large blocks come as untouched zero pages, so memory
	 * use grows with the entries actually used. */
	r->mem = calloc(cap, stride);
	r->buckets = malloc(nb * sizeof(*r->buckets));
	if (r->mem == NULL || r->buckets == NULL) {
		free(r->mem);
		free(r->buckets);
		return -ENOMEM;
	}
	for (i = 0; i < nb; i++)
		r->buckets[i] = NIL;
	r->stride = stride;
	r->cap = (uint32_t)cap;
	r->mask = (uint32_t)(nb - 1);
	randombytes_buf(r->hkey, sizeof(r->hkey));
	return 0;
}

static void
ring_destroy(struct ring *r)
{
	free(r->mem);
	free(r->buckets);
	memset(r, 0, sizeof(*r));
}

static struct slot *
ring_at(const struct ring *r, uint32_t i)
{
	return (struct slot *)(r->mem + (size_t)i * r->stride);
}

static uint32_t
ring_bucket(const struct ring *r, const uint8_t key[CKEY_LEN])
{
	uint8_t		h[crypto_shorthash_BYTES];
	uint64_t	v = 0;
	size_t		i;

	crypto_shorthash(h, key, CKEY_LEN, r->hkey);
	for (i = 0; i < sizeof(h); i++)
		v = v << 8 | h[i];
	return (uint32_t)(v & r->mask);
}

static uint32_t
ring_find(const struct ring *r, const uint8_t key[CKEY_LEN])
{
	uint32_t	i;

	for (i = r->buckets[ring_bucket(r, key)]; i != NIL;
	    i = ring_at(r, i)->next)
		if (memcmp(ring_at(r, i)->key, key, CKEY_LEN) == 0)
			return i;
	return NIL;
}

/* Caller makes sure count < cap. Returns the new slot, at the tail. */
static uint32_t
ring_push(struct ring *r, const uint8_t key[CKEY_LEN], uint64_t expires_ms)
{
	uint32_t	 i = (uint32_t)(((uint64_t)r->head + r->count) % r->cap);
	uint32_t	 b = ring_bucket(r, key);
	struct slot	*s = ring_at(r, i);

	memset(s, 0, r->stride);
	memcpy(s->key, key, CKEY_LEN);
	s->expires_ms = expires_ms;
	s->next = r->buckets[b];
	r->buckets[b] = i;
	r->count++;
	return i;
}

/* Unlink the oldest slot; returns it (its payload still readable). */
static uint32_t
ring_pop(struct ring *r)
{
	uint32_t	 i = r->head, *pp;
	struct slot	*s = ring_at(r, i);

	for (pp = &r->buckets[ring_bucket(r, s->key)]; *pp != i;
	    pp = &ring_at(r, *pp)->next)
		;
	*pp = s->next;
	r->head = (r->head + 1) % r->cap;
	r->count--;
	return i;
}

static int
ring_head_expired(const struct ring *r, uint64_t now_ms)
{
	return r->count > 0 && ring_at(r, r->head)->expires_ms < now_ms;
}

static uint64_t
add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void
make_key(uint8_t key[CKEY_LEN], const uint8_t *key_id, const uint8_t *v16)
{
	memcpy(key, key_id, ENV_KEYID_LEN);
	memcpy(key + ENV_KEYID_LEN, v16, CKEY_LEN - ENV_KEYID_LEN);
}

/* ---- nonce cache ---- */

struct auth_nonces {
	pthread_mutex_t	mtx;
	struct ring	ring;
	uint64_t	window_ms;
};

int
auth_nonces_new(uint64_t window_ms, size_t capacity, struct auth_nonces **out)
{
	struct auth_nonces	*n;
	int			 rc;

	*out = NULL;
	if (capacity < 1 || capacity > AUTH_NONCES_MAX ||
	    window_ms > UINT64_MAX / 4)
		return -EINVAL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return -ENOMEM;
	if ((rc = ring_init(&n->ring, capacity, sizeof(struct slot))) != 0) {
		free(n);
		return rc;
	}
	if (pthread_mutex_init(&n->mtx, NULL) != 0) {
		ring_destroy(&n->ring);
		free(n);
		return -ENOMEM;
	}
	n->window_ms = window_ms;
	*out = n;
	return 0;
}

void
auth_nonces_free(struct auth_nonces *n)
{
	if (n == NULL)
		return;
	pthread_mutex_destroy(&n->mtx);
	ring_destroy(&n->ring);
	free(n);
}

uint64_t
auth_nonces_window(const struct auth_nonces *n)
{
	return n->window_ms;
}

/* With n->mtx held. */
static int
nonces_add_locked(struct auth_nonces *n, const uint8_t *key_id,
    const uint8_t *nonce, uint64_t now_ms)
{
	struct ring	*r = &n->ring;
	uint8_t		 key[CKEY_LEN];

	while (ring_head_expired(r, now_ms))
		ring_pop(r);
	make_key(key, key_id, nonce);
	/* Found, even if expired out of order: refusing is the safe side. */
	if (ring_find(r, key) != NIL)
		return -EEXIST;
	if (r->count == r->cap)
		return -ENOSPC;
	ring_push(r, key, add_sat(now_ms, 2 * n->window_ms));
	return 0;
}

int
auth_nonces_add(struct auth_nonces *n, const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t nonce[AUTH_NONCE_LEN], uint64_t now_ms)
{
	int	rc;

	pthread_mutex_lock(&n->mtx);
	rc = nonces_add_locked(n, key_id, nonce, now_ms);
	pthread_mutex_unlock(&n->mtx);
	return rc;
}

size_t
auth_nonces_count(struct auth_nonces *n)
{
	size_t	c;

	pthread_mutex_lock(&n->mtx);
	c = n->ring.count;
	pthread_mutex_unlock(&n->mtx);
	return c;
}

/* ---- reply cache ---- */

enum reply_state {
	REPLY_PENDING = 0,	/* reserved, being processed */
	REPLY_DONE,		/* answered, reply kept */
	REPLY_DROPPED,		/* answered, reply too large to keep */
};

struct reply_slot {
	struct slot		 s;	/* first: the ring sees only this */
	uint8_t			 hash[AUTH_HASH_LEN];
	enum reply_state	 state;
	uint8_t			*reply;
	size_t			 len;
};

struct auth_replies {
	pthread_mutex_t	mtx;
	struct ring	ring;
	uint64_t	window_ms;
	size_t		max_bytes, bytes;
};

int
auth_replies_new(uint64_t window_ms, size_t max_entries, size_t max_bytes,
    struct auth_replies **out)
{
	struct auth_replies	*c;
	int			 rc;

	*out = NULL;
	if (max_entries < 1 || max_entries > AUTH_REPLIES_MAX ||
	    window_ms > UINT64_MAX / 4)
		return -EINVAL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	rc = ring_init(&c->ring, max_entries, sizeof(struct reply_slot));
	if (rc != 0) {
		free(c);
		return rc;
	}
	if (pthread_mutex_init(&c->mtx, NULL) != 0) {
		ring_destroy(&c->ring);
		free(c);
		return -ENOMEM;
	}
	c->window_ms = window_ms;
	c->max_bytes = max_bytes;
	*out = c;
	return 0;
}

static struct reply_slot *
rslot(const struct auth_replies *c, uint32_t i)
{
	return (struct reply_slot *)ring_at(&c->ring, i);
}

/* Pop the oldest entry and release its reply. */
static uint32_t
replies_pop(struct auth_replies *c)
{
	uint32_t		 i = ring_pop(&c->ring);
	struct reply_slot	*e = rslot(c, i);

	c->bytes -= e->len;
	free(e->reply);
	e->reply = NULL;
	e->len = 0;
	return i;
}

void
auth_replies_free(struct auth_replies *c)
{
	if (c == NULL)
		return;
	while (c->ring.count > 0)
		replies_pop(c);
	pthread_mutex_destroy(&c->mtx);
	ring_destroy(&c->ring);
	free(c);
}

static void
replies_purge(struct auth_replies *c, uint64_t now_ms)
{
	while (ring_head_expired(&c->ring, now_ms))
		replies_pop(c);
}

/* With c->mtx held. */
static int
replies_lookup_locked(struct auth_replies *c, const uint8_t *key,
    const uint8_t *hash, uint64_t now_ms, uint8_t **reply, size_t *len)
{
	struct reply_slot	*e;
	uint32_t		 i;

	*reply = NULL;
	*len = 0;
	replies_purge(c, now_ms);
	if ((i = ring_find(&c->ring, key)) == NIL)
		return -ENOENT;
	e = rslot(c, i);
	/* Body hashes are not secret either, but the compare costs
	 * nothing in constant time. */
	if (sodium_memcmp(e->hash, hash, AUTH_HASH_LEN) != 0)
		return -EEXIST;
	if (e->state == REPLY_PENDING)
		return -EBUSY;
	if (e->state == REPLY_DROPPED)
		return -ENODATA;
	if ((*reply = malloc(e->len ? e->len : 1)) == NULL)
		return -ENOMEM;
	memcpy(*reply, e->reply, e->len);
	*len = e->len;
	return 0;
}

int
auth_replies_lookup(struct auth_replies *c,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], uint64_t now_ms,
    uint8_t **reply, size_t *len)
{
	uint8_t	key[CKEY_LEN];
	int	rc;

	make_key(key, key_id, request_id);
	pthread_mutex_lock(&c->mtx);
	rc = replies_lookup_locked(c, key, body_hash, now_ms, reply, len);
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

/* New entry at the tail, evicting the oldest when full. */
static struct reply_slot *
replies_push(struct auth_replies *c, const uint8_t *key, const uint8_t *hash,
    uint64_t now_ms)
{
	struct reply_slot	*e;

	replies_purge(c, now_ms);
	if (c->ring.count == c->ring.cap)
		replies_pop(c);
	e = rslot(c, ring_push(&c->ring, key,
	    add_sat(now_ms, 2 * c->window_ms)));
	memcpy(e->hash, hash, AUTH_HASH_LEN);
	e->state = REPLY_PENDING;
	return e;
}

/* With c->mtx held. */
static int
replies_reserve_locked(struct auth_replies *c, const uint8_t *key,
    const uint8_t *hash, uint64_t now_ms)
{
	replies_purge(c, now_ms);
	if (ring_find(&c->ring, key) != NIL)
		return -EEXIST;
	replies_push(c, key, hash, now_ms);
	return 0;
}

int
auth_replies_reserve(struct auth_replies *c,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], uint64_t now_ms)
{
	uint8_t	key[CKEY_LEN];
	int	rc;

	make_key(key, key_id, request_id);
	pthread_mutex_lock(&c->mtx);
	rc = replies_reserve_locked(c, key, body_hash, now_ms);
	pthread_mutex_unlock(&c->mtx);
	return rc;
}

int
auth_replies_store(struct auth_replies *c,
    const uint8_t key_id[ENV_KEYID_LEN],
    const uint8_t request_id[AUTH_REQID_LEN],
    const uint8_t body_hash[AUTH_HASH_LEN], const void *reply, size_t len,
    uint64_t now_ms)
{
	struct reply_slot	*e = NULL;
	uint8_t			 key[CKEY_LEN], *copy = NULL;
	uint32_t		 i;
	int			 rc = 0;

	make_key(key, key_id, request_id);
	/* Copy before taking the lock: other threads wait less. */
	if (len <= c->max_bytes &&
	    (copy = malloc(len ? len : 1)) == NULL)
		return -ENOMEM;
	if (copy != NULL && len != 0)
		memcpy(copy, reply, len);

	pthread_mutex_lock(&c->mtx);
	replies_purge(c, now_ms);
	if ((i = ring_find(&c->ring, key)) != NIL) {
		e = rslot(c, i);
		if (sodium_memcmp(e->hash, body_hash, AUTH_HASH_LEN) != 0) {
			rc = -EEXIST;
			goto out;
		}
		if (e->state != REPLY_PENDING) {
			rc = -EALREADY;
			goto out;
		}
	}
	if (copy == NULL) {
		if (e != NULL)
			e->state = REPLY_DROPPED;
		rc = -EFBIG;
		goto out;
	}
	/* Make room, oldest first; that may evict e itself. */
	while (c->bytes + len > c->max_bytes) {
		if (replies_pop(c) == i)
			e = NULL;
	}
	if (e == NULL)
		e = replies_push(c, key, body_hash, now_ms);
	e->reply = copy;
	e->len = len;
	e->state = REPLY_DONE;
	c->bytes += len;
	copy = NULL;
out:
	pthread_mutex_unlock(&c->mtx);
	free(copy);
	return rc;
}

void
auth_replies_stats(struct auth_replies *c, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&c->mtx);
	*entries = c->ring.count;
	*bytes = c->bytes;
	pthread_mutex_unlock(&c->mtx);
}

enum auth_code
auth_check_replay(struct auth_nonces *nonces, struct auth_replies *replies,
    const struct auth_request *req, uint64_t now_ms, struct auth_result *res)
{
	uint8_t	rkey[CKEY_LEN];
	int	rc;

	if (replies != NULL) {
		make_key(rkey, res->key_id, req->request_id);
		pthread_mutex_lock(&replies->mtx);
		rc = replies_lookup_locked(replies, rkey, res->body_hash,
		    now_ms, &res->reply, &res->reply_len);
		if (rc == 0) {
			res->code = AUTH_OK;
			goto out;
		}
		if (rc == -EEXIST) {
			auth_fail(res, AUTH_INVALID_ARGUMENT, "request id reused "
			    "for a different request");
			goto out;
		}
		if (rc == -EBUSY) {
			auth_fail(res, AUTH_UNAVAILABLE, "this request is still "
			    "being processed; send it again later");
			goto out;
		}
		if (rc == -ENOMEM) {
			auth_fail(res, AUTH_INTERNAL, "out of memory");
			goto out;
		}
		/* -ENOENT, or -ENODATA: the nonce check answers that. */
	}

	pthread_mutex_lock(&nonces->mtx);
	rc = nonces_add_locked(nonces, res->key_id, req->nonce, now_ms);
	pthread_mutex_unlock(&nonces->mtx);
	if (rc == -EEXIST) {
		auth_fail(res, AUTH_UNAUTHENTICATED, "replayed nonce");
		goto out;
	}
	if (rc == -ENOSPC) {
		auth_fail(res, AUTH_RESOURCE_EXHAUSTED, "too many requests: the "
		    "nonce cache is full (%u in the last %llu s); try again "
		    "later", nonces->ring.cap,
		    (unsigned long long)(2 * nonces->window_ms / 1000));
		goto out;
	}
	if (replies != NULL)
		(void)replies_reserve_locked(replies, rkey, res->body_hash,
		    now_ms);
	res->code = AUTH_OK;
out:
	if (replies != NULL)
		pthread_mutex_unlock(&replies->mtx);
	return res->code;
}
