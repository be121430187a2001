/*
 * auth.c: authorized_keys, roles, replay protection, request-id replies.
 *
 * Sections: names and the role matrix; the authorized_keys parser; the
 * fixed-capacity ring hash both caches are built on; the nonce cache; the
 * reply cache; auth_check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "auth.h"
#include "jsonpos.h"
#include "keys.h"

/* ---- names and the role matrix ---- */

static const char *const code_names[] = {
	"OK", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS",
	"PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED",
	"UNAVAILABLE", "INTERNAL",
};

static const char *const role_names[] = {
	"none", "monitor", "orchestrator", "admin",
};

static const char *const op_names[AUTH_OP_COUNT] = {
	"StartFlow", "EndFlow", "Batch", "ListFlows", "GetStatus",
	"GetRegistry", "Ping", "Reload", "Drain", "Watch",
};

#define OPBIT(op)	(1u << (op))
#define OPS_MONITOR	(OPBIT(AUTH_OP_GET_STATUS) | OPBIT(AUTH_OP_LIST_FLOWS) | \
			 OPBIT(AUTH_OP_GET_REGISTRY) | OPBIT(AUTH_OP_PING) | \
			 OPBIT(AUTH_OP_WATCH))
#define OPS_ORCH	(OPS_MONITOR | OPBIT(AUTH_OP_START_FLOW) | \
			 OPBIT(AUTH_OP_END_FLOW) | OPBIT(AUTH_OP_BATCH))
#define OPS_ADMIN	(OPS_ORCH | OPBIT(AUTH_OP_RELOAD) | OPBIT(AUTH_OP_DRAIN))

/* Each role a superset of the one before: a table, not a switch, so the
 * matrix in docs/security.md can be checked against it at a glance. */
static const unsigned role_ops[] = {
	[AUTH_ROLE_NONE] = 0,
	[AUTH_ROLE_MONITOR] = OPS_MONITOR,
	[AUTH_ROLE_ORCHESTRATOR] = OPS_ORCH,
	[AUTH_ROLE_ADMIN] = OPS_ADMIN,
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

const char *
auth_code_name(enum auth_code c)
{
	if ((unsigned)c >= NELEM(code_names))
		return "?";
	return code_names[c];
}

const char *
auth_role_name(enum auth_role r)
{
	if ((unsigned)r >= NELEM(role_names))
		return "?";
	return role_names[r];
}

const char *
auth_op_name(enum auth_op op)
{
	if ((unsigned)op >= AUTH_OP_COUNT)
		return "?";
	return op_names[op];
}

int
auth_allowed(enum auth_role r, enum auth_op op)
{
	if ((unsigned)r >= NELEM(role_ops) || (unsigned)op >= AUTH_OP_COUNT)
		return 0;
	return (role_ops[r] & OPBIT(op)) != 0;
}

/* ---- authorized_keys ---- */

struct auth_keys {
	struct auth_key	*keys;		/* file order */
	size_t		 n;
	struct auth_key	**by_id;	/* sorted by key id, for lookup */
};

struct tok {
	const char	*s;
	size_t		 len;
};

#define MAX_TOKS	6

static int
tok_eq(const struct tok *t, const char *s)
{
	return t->len == strlen(s) && memcmp(t->s, s, t->len) == 0;
}

static int
is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
	    c == '-';
}

#define QUOTE_SHOW	40

static void
quote_tok(char *dst, size_t dstlen, const struct tok *t)
{
	char	tmp[QUOTE_SHOW + 2];
	size_t	n = t->len < QUOTE_SHOW + 1 ? t->len : QUOTE_SHOW + 1;

	/* jsonpos_quote wants a C string; one byte more shows the "...". */
	memcpy(tmp, t->s, n);
	tmp[n] = '\0';
	jsonpos_quote(dst, dstlen, tmp, QUOTE_SHOW);
}

/*
 * One line without its newline into k. 1 for a key, 0 for a blank or
 * comment line, -EINVAL with a message (no FILE:LINE prefix).
 */
static int
parse_line(const char *line, size_t len, struct auth_key *k, char *err,
    size_t errlen)
{
	struct tok	 t[MAX_TOKS], *name;
	const char	*p = line, *end = line + len;
	size_t		 nt = 0, i, keylen;
	char		 q[200], why[AUTH_MSG_MAX];
	int		 ssh;

	if (len > AUTH_LINE_MAX) {
		snprintf(err, errlen, "line longer than %d bytes",
		    AUTH_LINE_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];

		if (c != '\t' && (c < 0x20 || c > 0x7e)) {
			snprintf(err, errlen, "byte 0x%02x at column %zu is "
			    "not printable ASCII", c, i + 1);
			return -EINVAL;
		}
	}
	while (p < end && nt < MAX_TOKS) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		t[nt].s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		t[nt].len = (size_t)(p - t[nt].s);
		nt++;
	}
	if (nt == 0 || t[0].s[0] == '#')
		return 0;

	memset(k, 0, sizeof(*k));
	if (tok_eq(&t[0], "monitor"))
		k->role = AUTH_ROLE_MONITOR;
	else if (tok_eq(&t[0], "orchestrator"))
		k->role = AUTH_ROLE_ORCHESTRATOR;
	else if (tok_eq(&t[0], "admin"))
		k->role = AUTH_ROLE_ADMIN;
	else {
		quote_tok(q, sizeof(q), &t[0]);
		snprintf(err, errlen, "unknown role %s (expected monitor, "
		    "orchestrator or admin)", q);
		return -EINVAL;
	}

	/* A key type ("ssh-ed25519", "ecdsa-sha2-nistp256") has a '-',
	 * which base64 never does. */
	ssh = nt >= 2 && memchr(t[1].s, '-', t[1].len) != NULL;
	if (nt < (ssh ? 4u : 3u)) {
		snprintf(err, errlen, "expected ROLE KEY NAME, where KEY is "
		    "'BASE64' or 'ssh-ed25519 BASE64'");
		return -EINVAL;
	}
	name = &t[ssh ? 3 : 2];
	if ((size_t)(name - t) + 1 < nt && name[1].s[0] != '#') {
		quote_tok(q, sizeof(q), &name[1]);
		snprintf(err, errlen, "unexpected %s after the name (comments "
		    "start with #)", q);
		return -EINVAL;
	}

	keylen = (size_t)(t[ssh ? 2 : 1].s + t[ssh ? 2 : 1].len - t[1].s);
	if (keys_parse_public(t[1].s, keylen, k->pk, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	if (env_key_id(k->pk, k->key_id) != 0) {
		snprintf(err, errlen, "can not compute the key id");
		return -EINVAL;
	}

	for (i = 0; i < name->len; i++)
		if (!is_name_char(name->s[i]))
			break;
	if (name->len > AUTH_NAME_MAX || i < name->len) {
		quote_tok(q, sizeof(q), name);
		snprintf(err, errlen, "name %s is not 1-%d characters of "
		    "A-Z a-z 0-9 . _ @ -", q, AUTH_NAME_MAX);
		return -EINVAL;
	}
	memcpy(k->name, name->s, name->len);
	k->name[name->len] = '\0';
	return 1;
}

static int
cmp_by_id(const void *a, const void *b)
{
	const struct auth_key	*x = *(struct auth_key *const *)a;
	const struct auth_key	*y = *(struct auth_key *const *)b;
	int			 c;

	if ((c = memcmp(x->key_id, y->key_id, ENV_KEYID_LEN)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

static int
cmp_by_name(const void *a, const void *b)
{
	const struct auth_key	*x = *(struct auth_key *const *)a;
	const struct auth_key	*y = *(struct auth_key *const *)b;
	int			 c;

	if ((c = strcmp(x->name, y->name)) != 0)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

/*
 * Duplicates, found by sorting rather than by comparing every pair (10,000
 * keys). Reports the earliest line that repeats an earlier one.
 */
enum dup_kind { DUP_KEY, DUP_ID, DUP_NAME };

/*
 * Duplicates, found by sorting rather than by comparing every pair (10,000
 * keys). Reports the earliest line that repeats an earlier one.
 */
static int
check_duplicates(struct auth_keys *t, const char *fname, char *err,
    size_t errlen)
{
	struct auth_key	**by_name = NULL, *dup = NULL, *first = NULL;
	enum dup_kind	 kind = DUP_KEY;
	char		 hex[ENV_KEYID_HEX_LEN];
	size_t		 i;

	if (t->n < 2)
		return 0;
	if ((by_name = malloc(t->n * sizeof(*by_name))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	for (i = 0; i < t->n; i++)
		by_name[i] = &t->keys[i];
	qsort(by_name, t->n, sizeof(*by_name), cmp_by_name);

	for (i = 1; i < t->n; i++) {
		struct auth_key *a = t->by_id[i - 1], *b = t->by_id[i];

		if (memcmp(a->key_id, b->key_id, ENV_KEYID_LEN) != 0)
			continue;
		if (dup == NULL || b->line < dup->line) {
			dup = b;
			first = a;
			/* Two keys, one id: a 64-bit collision someone may
			 * have searched for. Refused as well. */
			kind = memcmp(a->pk, b->pk, ENV_PK_LEN) == 0 ?
			    DUP_KEY : DUP_ID;
		}
	}
	for (i = 1; i < t->n; i++) {
		struct auth_key *a = by_name[i - 1], *b = by_name[i];

		if (strcmp(a->name, b->name) != 0)
			continue;
		if (dup == NULL || b->line < dup->line) {
			dup = b;
			first = a;
			kind = DUP_NAME;
		}
	}
	free(by_name);
	if (dup == NULL)
		return 0;
	switch (kind) {
	case DUP_KEY:
		snprintf(err, errlen, "%s:%u: key already listed on line %u "
		    "(as %s)", fname, dup->line, first->line, first->name);
		break;
	case DUP_ID:
		env_key_id_hex(dup->key_id, hex);
		snprintf(err, errlen, "%s:%u: key id %s collides with the "
		    "key on line %u", fname, dup->line, hex, first->line);
		break;
	case DUP_NAME:
		snprintf(err, errlen, "%s:%u: name %s already used on line %u",
		    fname, dup->line, dup->name, first->line);
		break;
	}
	return -EINVAL;
}

int
auth_keys_parse(const char *buf, size_t len, const char *fname,
    struct auth_keys **out, char *err, size_t errlen)
{
	struct auth_keys	*t;
	struct auth_key		 k;
	const char		*p = buf, *end = buf + len, *nl;
	size_t			 cap = 0, ll, i;
	unsigned		 line = 0;
	char			 why[AUTH_MSG_MAX];
	int			 rc;

	*out = NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", fname);
		return -ENOMEM;
	}
	while (p < end) {
		line++;
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = (size_t)((nl ? nl : end) - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		rc = parse_line(p, ll, &k, why, sizeof(why));
		p = nl ? nl + 1 : end;
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: %s", fname, line, why);
			goto fail;
		}
		if (rc == 0)
			continue;
		if (t->n == AUTH_KEYS_MAX) {
			snprintf(err, errlen, "%s:%u: more than %d keys",
			    fname, line, AUTH_KEYS_MAX);
			rc = -EINVAL;
			goto fail;
		}
		if (t->n == cap) {
			struct auth_key	*nk;

			cap = cap ? cap * 2 : 16;
			if ((nk = realloc(t->keys, cap * sizeof(*nk))) == NULL)
				goto nomem;
			t->keys = nk;
		}
		k.line = line;
		t->keys[t->n++] = k;
	}

	if (t->n == 0) {
		*out = t;		/* valid: nobody may call */
		return 0;
	}
	if ((t->by_id = malloc(t->n * sizeof(*t->by_id))) == NULL)
		goto nomem;
	for (i = 0; i < t->n; i++)
		t->by_id[i] = &t->keys[i];
	qsort(t->by_id, t->n, sizeof(*t->by_id), cmp_by_id);
	if ((rc = check_duplicates(t, fname, err, errlen)) != 0)
		goto fail;
	*out = t;
	return 0;
nomem:
	snprintf(err, errlen, "%s: out of memory", fname);
	rc = -ENOMEM;
fail:
	auth_keys_free(t);
	return rc;
}

int
auth_keys_load(const char *path, struct auth_keys **out, char *err,
    size_t errlen)
{
	struct stat	 st;
	char		*buf;
	size_t		 len;
	int		 rc;

	*out = NULL;
	/*
	 * Checked by path before the read: swapping the file in between
	 * needs write access to its directory, which this check is not
	 * about. It catches a file left writable by mistake.
	 */
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 022) != 0) {
		snprintf(err, errlen, "%s: mode %04o lets group or others "
		    "write it, and so choose who controls this agent; chmod "
		    "go-w %s", path, (unsigned)(st.st_mode & 07777), path);
		return -EPERM;
	}
	rc = jsonpos_read_file(path, AUTH_KEYS_FILE_MAX, &buf, &len, err,
	    errlen);
	if (rc < 0)
		return rc;
	rc = auth_keys_parse(buf, len, path, out, err, errlen);
	free(buf);
	return rc;
}

void
auth_keys_free(struct auth_keys *t)
{
	if (t == NULL)
		return;
	free(t->by_id);
	free(t->keys);
	free(t);
}

size_t
auth_keys_count(const struct auth_keys *t)
{
	return t ? t->n : 0;
}

const struct auth_key *
auth_keys_at(const struct auth_keys *t, size_t i)
{
	if (t == NULL || i >= t->n)
		return NULL;
	return &t->keys[i];
}

const struct auth_key *
auth_keys_find(const struct auth_keys *t, const uint8_t *key_id, size_t len)
{
	size_t	lo = 0, hi, mid;
	int	c;

	if (t == NULL || key_id == NULL || len != ENV_KEYID_LEN)
		return NULL;
	/* Key ids are public: an ordinary compare leaks nothing. */
	hi = t->n;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = memcmp(key_id, t->by_id[mid]->key_id, ENV_KEYID_LEN);
		if (c == 0)
			return t->by_id[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

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

/* ---- auth_check ---- */

static enum auth_code
fail(struct auth_result *res, enum auth_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum auth_code
fail(struct auth_result *res, enum auth_code code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	res->code = code;
	return code;
}

/* Host names compare without case (DNS); no locale involved. */
static int
host_eq(const char *a, const char *b)
{
	unsigned char	x, y;

	for (;; a++, b++) {
		x = (unsigned char)*a;
		y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

static enum auth_code
check_time(struct auth_result *res, uint64_t ts, uint64_t now,
    uint64_t window)
{
	if (ts > now && ts - now > window)
		return fail(res, AUTH_UNAUTHENTICATED, "timestamp is %llu ms "
		    "in the future (window %llu ms): check the client's "
		    "clock", (unsigned long long)(ts - now),
		    (unsigned long long)window);
	if (ts <= now && now - ts > window)
		return fail(res, AUTH_UNAUTHENTICATED, "stale timestamp: "
		    "%llu ms old (window %llu ms)",
		    (unsigned long long)(now - ts),
		    (unsigned long long)window);
	return AUTH_OK;
}

/*
 * Steps 7 and 8 under the reply cache's lock, so that two requests with
 * one request id can not both pass, and nothing is recorded for a request
 * that step 7 refuses.
 */
static enum auth_code
check_replay(struct auth_nonces *nonces, struct auth_replies *replies,
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
			fail(res, AUTH_INVALID_ARGUMENT, "request id reused "
			    "for a different request");
			goto out;
		}
		if (rc == -EBUSY) {
			fail(res, AUTH_UNAVAILABLE, "this request is still "
			    "being processed; send it again later");
			goto out;
		}
		if (rc == -ENOMEM) {
			fail(res, AUTH_INTERNAL, "out of memory");
			goto out;
		}
		/* -ENOENT, or -ENODATA: the nonce check answers that. */
	}

	pthread_mutex_lock(&nonces->mtx);
	rc = nonces_add_locked(nonces, res->key_id, req->nonce, now_ms);
	pthread_mutex_unlock(&nonces->mtx);
	if (rc == -EEXIST) {
		fail(res, AUTH_UNAUTHENTICATED, "replayed nonce");
		goto out;
	}
	if (rc == -ENOSPC) {
		fail(res, AUTH_RESOURCE_EXHAUSTED, "too many requests: the "
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

enum auth_code
auth_check(const struct auth_keys *keys, struct auth_nonces *nonces,
    struct auth_replies *replies, const char *host,
    const struct auth_request *req, uint64_t now_ms, struct auth_result *res)
{
	const struct auth_key	*k;
	const char		*target;
	char			 hex[ENV_KEYID_HEX_LEN], qt[300], qh[300];
	int			 rc;

	memset(res, 0, sizeof(*res));
	res->role = AUTH_ROLE_NONE;
	if (nonces == NULL)
		return fail(res, AUTH_INTERNAL, "no nonce cache");

	/* 1. known key */
	if (req->key_id == NULL || req->key_id_len != ENV_KEYID_LEN)
		return fail(res, AUTH_UNAUTHENTICATED, "key id must be %d "
		    "bytes, got %zu", ENV_KEYID_LEN, req->key_id_len);
	memcpy(res->key_id, req->key_id, ENV_KEYID_LEN);
	env_key_id_hex(res->key_id, hex);
	if ((k = auth_keys_find(keys, req->key_id, req->key_id_len)) == NULL)
		return fail(res, AUTH_UNAUTHENTICATED, "unknown key id %s",
		    hex);

	/* 2. signature over the exact body */
	rc = env_verify(req->body, req->body_len, req->sig, req->sig_len,
	    k->pk);
	if (rc == -EMSGSIZE)
		return fail(res, AUTH_INVALID_ARGUMENT, "body of %zu bytes "
		    "is larger than %d", req->body_len, ENV_BODY_MAX);
	if (rc == -EBADMSG && req->sig_len != ENV_SIG_LEN)
		return fail(res, AUTH_UNAUTHENTICATED, "bad signature: %zu "
		    "bytes, expected %d", req->sig_len, ENV_SIG_LEN);
	if (rc == -EBADMSG)
		return fail(res, AUTH_UNAUTHENTICATED, "bad signature");
	if (rc != 0)
		return fail(res, AUTH_INTERNAL, "signature check failed: %s",
		    strerror(-rc));
	/* From here on the caller is known. */
	res->role = k->role;
	memcpy(res->name, k->name, sizeof(res->name));

	/* 3. header fields that must have a fixed size */
	if (req->nonce == NULL || req->nonce_len != AUTH_NONCE_LEN)
		return fail(res, AUTH_INVALID_ARGUMENT, "nonce must be %d "
		    "bytes, got %zu", AUTH_NONCE_LEN, req->nonce_len);
	if (req->request_id == NULL || req->request_id_len != AUTH_REQID_LEN)
		return fail(res, AUTH_INVALID_ARGUMENT, "request id must be "
		    "%d bytes, got %zu", AUTH_REQID_LEN, req->request_id_len);

	/* 4. this host */
	target = req->target_host ? req->target_host : "";
	if (host == NULL || !host_eq(target, host)) {
		jsonpos_quote(qt, sizeof(qt), target, 64);
		jsonpos_quote(qh, sizeof(qh), host, 64);
		return fail(res, AUTH_PERMISSION_DENIED, "request is for host "
		    "%s, this is %s", qt, qh);
	}

	/* 5. timestamp window */
	if (check_time(res, req->timestamp_ms, now_ms,
	    nonces->window_ms) != AUTH_OK)
		return res->code;

	/* 6. role */
	if ((unsigned)req->op >= AUTH_OP_COUNT)
		return fail(res, AUTH_INVALID_ARGUMENT, "unknown operation "
		    "%u", (unsigned)req->op);
	if (!auth_allowed(k->role, req->op))
		return fail(res, AUTH_PERMISSION_DENIED, "role %s may not %s",
		    auth_role_name(k->role), auth_op_name(req->op));

	/* 7, 8. request id, nonce */
	if (crypto_generichash(res->body_hash, AUTH_HASH_LEN, req->body,
	    req->body_len, NULL, 0) != 0)
		return fail(res, AUTH_INTERNAL, "can not hash the body");
	return check_replay(nonces, replies, req, now_ms, res);
}
