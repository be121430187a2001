/*
 * flows_index.c: the flow table's indexes and string pool
 * (flows_index.h says why they look like this).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "flows_index.h"

#define STR_IDS		(FLOWS_STRINGS_MAX + 1)	/* ids 0..65535 */
#define STR_HASH_MIN	64
#define ORD_SLACK	64		/* tombstones always tolerated */
#define SPEC_MIN	1024		/* buckets a new table starts with */
#define ORD_MIN		1024		/* id order entries, likewise */

static uint64_t
siphash(const void *p, size_t n, const uint8_t key[16])
{
	uint8_t		out[crypto_shorthash_BYTES];
	uint64_t	v;

	crypto_shorthash(out, p, n, key);
	memcpy(&v, out, sizeof(v));
	return v;
}

/* ---- spec index ---------------------------------------------------------- */

static uint32_t
spec_hash(const struct flows *f, const struct marker_rule *r)
{
	uint8_t	key[FLOWREQ_KEY_LEN];

	flowreq_key(r, key);
	return (uint32_t)siphash(key, FLOWREQ_MATCH_LEN, f->skey);
}

static int
same_match(const struct marker_rule *a, const struct marker_rule *b)
{
	uint8_t	ka[FLOWREQ_KEY_LEN], kb[FLOWREQ_KEY_LEN];

	flowreq_key(a, ka);
	flowreq_key(b, kb);
	return memcmp(ka, kb, FLOWREQ_MATCH_LEN) == 0;
}

uint32_t
fl_spec_find(const struct flows *f, const struct marker_rule *r)
{
	const struct flow	*fl;
	uint32_t		 h = spec_hash(f, r), i, b;

	for (i = h & f->smask; (b = f->spec[i]) != 0; i = (i + 1) & f->smask) {
		fl = &f->slab[b - 1];
		if (fl->hash == h && same_match(&fl->rule, r))
			return b - 1;
	}
	return FL_NONE;
}

void
fl_spec_insert(struct flows *f, uint32_t slot)
{
	uint32_t	i;

	f->slab[slot].hash = spec_hash(f, &f->slab[slot].rule);
	for (i = f->slab[slot].hash & f->smask; f->spec[i] != 0;
	    i = (i + 1) & f->smask)
		;
	f->spec[i] = slot + 1;
}

void
fl_spec_remove(struct flows *f, uint32_t slot)
{
	uint32_t	i, j, k;

	for (i = f->slab[slot].hash & f->smask; f->spec[i] != slot + 1;
	    i = (i + 1) & f->smask)
		;
	/*
	 * Backward shift: pull later members of the probe run into the hole
	 * unless their home lies after it, so lookups never need tombstones.
	 */
	f->spec[i] = 0;
	for (j = (i + 1) & f->smask; f->spec[j] != 0; j = (j + 1) & f->smask) {
		k = f->slab[f->spec[j] - 1].hash & f->smask;
		if (((j - k) & f->smask) >= ((j - i) & f->smask)) {
			f->spec[i] = f->spec[j];
			f->spec[j] = 0;
			i = j;
		}
	}
}

/*
 * Rehash into nb buckets. The new array is filled before it replaces the
 * old one, so a failed allocation leaves the index as it was. The walk
 * follows the id order, which lists every flow in the table and, for a
 * table filled in one go, reads the slab front to back.
 */
static int
spec_grow(struct flows *f, uint32_t nb)
{
	uint32_t	*spec, mask = nb - 1, pos, slot, i;

	if ((spec = calloc(nb, sizeof(*spec))) == NULL)
		return -ENOMEM;
	for (pos = 0; pos < f->ord_len; pos++) {
		if ((slot = f->ord_slot[pos]) == FL_NONE)
			continue;
		for (i = f->slab[slot].hash & mask; spec[i] != 0;
		    i = (i + 1) & mask)
			;
		spec[i] = slot + 1;
	}
	free(f->spec);
	f->spec = spec;
	f->smask = mask;
	return 0;
}

/* ---- id order ------------------------------------------------------------ */

uint32_t
fl_ord_lower(const struct flows *f, uint64_t id)
{
	uint32_t	lo = 0, hi = f->ord_len, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (f->ord_id[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t
fl_ord_find(const struct flows *f, uint64_t id)
{
	uint32_t	pos = fl_ord_lower(f, id);

	if (pos == f->ord_len || f->ord_id[pos] != id)
		return FL_NONE;
	return f->ord_slot[pos];
}

static void
ord_compact(struct flows *f)
{
	uint32_t	i, n = 0;

	for (i = 0; i < f->ord_len; i++) {
		if (f->ord_slot[i] == FL_NONE)
			continue;
		f->ord_id[n] = f->ord_id[i];
		f->ord_slot[n] = f->ord_slot[i];
		n++;
	}
	f->ord_len = n;
	f->ord_dead = 0;
}

/* realloc one array at a time: a failure leaves both valid for ord_cap. */
static int
ord_grow(struct flows *f, uint32_t ncap)
{
	void	*p;

	if ((p = realloc(f->ord_id, (size_t)ncap * sizeof(*f->ord_id))) ==
	    NULL)
		return -ENOMEM;
	f->ord_id = p;
	if ((p = realloc(f->ord_slot, (size_t)ncap * sizeof(*f->ord_slot))) ==
	    NULL)
		return -ENOMEM;
	f->ord_slot = p;
	f->ord_cap = ncap;
	return 0;
}

void
fl_ord_append(struct flows *f, uint64_t id, uint32_t slot)
{
	/* fl_index_reserve made room. */
	f->ord_id[f->ord_len] = id;
	f->ord_slot[f->ord_len] = slot;
	f->ord_len++;
}

void
fl_ord_remove(struct flows *f, uint64_t id)
{
	uint32_t	pos = fl_ord_lower(f, id);

	if (pos < f->ord_len && f->ord_id[pos] == id &&
	    f->ord_slot[pos] != FL_NONE) {
		f->ord_slot[pos] = FL_NONE;
		f->ord_dead++;
	}
}

void
fl_ord_maybe_compact(struct flows *f)
{
	/* Amortised O(1) per end: at least as many ends as live flows. */
	if (f->ord_dead > ORD_SLACK && f->ord_dead > f->ord_len - f->ord_dead)
		ord_compact(f);
}

/* ---- expiry heap --------------------------------------------------------- */

static int
heap_less(const struct flows *f, uint32_t a, uint32_t b)
{
	const struct flow	*x = &f->slab[a], *y = &f->slab[b];

	if (x->expires_ms != y->expires_ms)
		return x->expires_ms < y->expires_ms;
	return x->id < y->id;
}

static void
heap_set(struct flows *f, uint32_t pos, uint32_t slot)
{
	f->heap[pos] = slot;
	f->slab[slot].heap_pos = pos;
}

static void
heap_up(struct flows *f, uint32_t pos)
{
	uint32_t	slot = f->heap[pos], parent;

	while (pos > 0) {
		parent = (pos - 1) / 2;
		if (!heap_less(f, slot, f->heap[parent]))
			break;
		heap_set(f, pos, f->heap[parent]);
		pos = parent;
	}
	heap_set(f, pos, slot);
}

static void
heap_down(struct flows *f, uint32_t pos)
{
	uint32_t	slot = f->heap[pos], c;

	for (;;) {
		c = 2 * pos + 1;
		if (c >= f->heap_n)
			break;
		if (c + 1 < f->heap_n && heap_less(f, f->heap[c + 1],
		    f->heap[c]))
			c++;
		if (!heap_less(f, f->heap[c], slot))
			break;
		heap_set(f, pos, f->heap[c]);
		pos = c;
	}
	heap_set(f, pos, slot);
}

void
fl_heap_insert(struct flows *f, uint32_t slot)
{
	f->heap[f->heap_n] = slot;
	f->slab[slot].heap_pos = f->heap_n;
	f->heap_n++;
	heap_up(f, f->heap_n - 1);
}

void
fl_heap_remove(struct flows *f, uint32_t slot)
{
	uint32_t	pos = f->slab[slot].heap_pos, moved;

	if (pos == FL_NONE)
		return;
	f->slab[slot].heap_pos = FL_NONE;
	f->heap_n--;
	if (pos == f->heap_n)
		return;
	moved = f->heap[f->heap_n];
	heap_set(f, pos, moved);
	heap_up(f, pos);
	heap_down(f, f->slab[moved].heap_pos);
}

void
fl_heap_update(struct flows *f, uint32_t slot)
{
	uint32_t	pos = f->slab[slot].heap_pos;

	heap_up(f, pos);
	heap_down(f, f->slab[slot].heap_pos);
}

/* ---- interned strings ---------------------------------------------------- */

int
fl_str_init(struct strpool *p)
{
	static char	empty[] = "";

	memset(p, 0, sizeof(*p));
	p->cap = 16;
	p->str = calloc(p->cap, sizeof(*p->str));
	p->refs = calloc(p->cap, sizeof(*p->refs));
	p->free = calloc(p->cap, sizeof(*p->free));
	p->hash = calloc(STR_HASH_MIN, sizeof(*p->hash));
	if (p->str == NULL || p->refs == NULL || p->free == NULL ||
	    p->hash == NULL) {
		fl_str_free(p);
		return -ENOMEM;
	}
	p->hmask = STR_HASH_MIN - 1;
	p->str[0] = empty;
	p->n = 1;
	randombytes_buf(p->key, sizeof(p->key));
	return 0;
}

void
fl_str_free(struct strpool *p)
{
	uint32_t	i;

	if (p->str != NULL)
		for (i = 1; i < p->n; i++)
			free(p->str[i]);
	free(p->str);
	free(p->refs);
	free(p->free);
	free(p->hash);
	memset(p, 0, sizeof(*p));
}

static uint32_t
str_home(const struct strpool *p, const char *s, uint32_t mask)
{
	return (uint32_t)siphash(s, strlen(s), p->key) & mask;
}

int
fl_str_lookup(const struct strpool *p, const char *s, uint16_t *id)
{
	uint32_t	i;
	uint16_t	b;

	if (*s == '\0') {
		*id = 0;
		return 0;
	}
	for (i = str_home(p, s, p->hmask); (b = p->hash[i]) != 0;
	    i = (i + 1) & p->hmask) {
		if (strcmp(p->str[b], s) == 0) {
			*id = b;
			return 0;
		}
	}
	return -ENOENT;
}

static void
str_hash_put(struct strpool *p, uint16_t *h, uint32_t mask, uint16_t id)
{
	uint32_t	i;

	for (i = str_home(p, p->str[id], mask); h[i] != 0; i = (i + 1) & mask)
		;
	h[i] = id;
}

/* Make room for one more id: arrays, and a hash at most half full. */
static int
str_grow(struct strpool *p)
{
	uint32_t	 ncap, nb, i;
	uint16_t	*h;
	void		*q;

	if (p->nfree == 0 && p->n == p->cap) {
		ncap = p->cap * 2 > STR_IDS ? STR_IDS : p->cap * 2;
		if ((q = realloc(p->str, ncap * sizeof(*p->str))) == NULL)
			return -ENOMEM;
		p->str = q;
		if ((q = realloc(p->refs, ncap * sizeof(*p->refs))) == NULL)
			return -ENOMEM;
		p->refs = q;
		if ((q = realloc(p->free, ncap * sizeof(*p->free))) == NULL)
			return -ENOMEM;
		p->free = q;
		p->cap = ncap;
	}
	if ((p->live + 1) * 2 <= p->hmask + 1)
		return 0;
	nb = (p->hmask + 1) * 2;
	if ((h = calloc(nb, sizeof(*h))) == NULL)
		return -ENOMEM;
	for (i = 0; i <= p->hmask; i++)
		if (p->hash[i] != 0)
			str_hash_put(p, h, nb - 1, p->hash[i]);
	free(p->hash);
	p->hash = h;
	p->hmask = nb - 1;
	return 0;
}

int
fl_str_ref(struct strpool *p, const char *s, uint16_t *id)
{
	uint16_t	i;
	char		*d;
	int		rc;

	if (fl_str_lookup(p, s, &i) == 0) {
		if (i != 0)
			p->refs[i]++;
		*id = i;
		return 0;
	}
	if (p->live >= FLOWS_STRINGS_MAX)
		return -ENOSPC;
	if ((rc = str_grow(p)) != 0)
		return rc;
	if ((d = strdup(s)) == NULL)
		return -ENOMEM;
	i = p->nfree > 0 ? p->free[--p->nfree] : (uint16_t)p->n++;
	p->str[i] = d;
	p->refs[i] = 1;
	p->live++;
	str_hash_put(p, p->hash, p->hmask, i);
	*id = i;
	return 0;
}

void
fl_str_unref(struct strpool *p, uint16_t id)
{
	uint32_t	i, j, k;

	if (id == 0 || --p->refs[id] > 0)
		return;
	for (i = str_home(p, p->str[id], p->hmask); p->hash[i] != id;
	    i = (i + 1) & p->hmask)
		;
	p->hash[i] = 0;
	for (j = (i + 1) & p->hmask; p->hash[j] != 0;
	    j = (j + 1) & p->hmask) {
		k = str_home(p, p->str[p->hash[j]], p->hmask);
		if (((j - k) & p->hmask) >= ((j - i) & p->hmask)) {
			p->hash[i] = p->hash[j];
			p->hash[j] = 0;
			i = j;
		}
	}
	free(p->str[id]);
	p->str[id] = NULL;
	p->free[p->nfree++] = id;
	p->live--;
}

const char *
fl_str(const struct strpool *p, uint16_t id)
{
	return p->str[id];
}

/* ---- whole index --------------------------------------------------------- */

int
fl_index_reserve(struct flows *f, char *err, size_t errlen)
{
	uint32_t	nb = f->smask + 1, live, ncap;
	int		rc;

	/* Load at most 2/3 keeps linear probing runs short. */
	if ((uint64_t)(f->count + 1) * 3 > (uint64_t)nb * 2 &&
	    nb < f->spec_max) {
		if ((rc = spec_grow(f, nb * 2)) != 0) {
			snprintf(err, errlen, "flow table: out of memory "
			    "growing the spec index to %u entries (%u flows)",
			    nb * 2, f->count);
			return rc;
		}
	}
	if (f->ord_len < f->ord_cap)
		return 0;
	/*
	 * Full. Compacting frees a third of the array or more when tombstones
	 * are at least half the live entries, so it is amortised O(1) per
	 * append; with fewer, doubling is cheaper. At ord_max the caller's
	 * capacity check leaves over cap / 4 tombstones to compact.
	 */
	live = f->ord_len - f->ord_dead;
	if (f->ord_dead > 0 && (f->ord_dead >= live / 2 ||
	    f->ord_cap >= f->ord_max)) {
		ord_compact(f);
		return 0;
	}
	ncap = f->ord_cap > f->ord_max / 2 ? f->ord_max : f->ord_cap * 2;
	if ((rc = ord_grow(f, ncap)) != 0) {
		snprintf(err, errlen, "flow table: out of memory growing the "
		    "id order to %u entries (%u flows)", ncap, f->count);
		return rc;
	}
	return 0;
}

int
fl_index_init(struct flows *f, char *err, size_t errlen)
{
	uint32_t	nb = 16;
	int		rc;

	/* Enough for a full table at load 2/3; the index starts smaller. */
	while (nb < f->cap + f->cap / 2)
		nb *= 2;
	f->spec_max = nb;
	if (nb > SPEC_MIN)
		nb = SPEC_MIN;
	f->smask = nb - 1;
	f->ord_max = f->cap + f->cap / 4 + ORD_SLACK;
	f->ord_cap = f->ord_max < ORD_MIN ? f->ord_max : ORD_MIN;
	/* calloc of this size maps fresh zero pages: resident as used. */
	f->slab = calloc(f->cap, sizeof(*f->slab));
	f->spec = calloc(nb, sizeof(*f->spec));
	f->ord_id = calloc(f->ord_cap, sizeof(*f->ord_id));
	f->ord_slot = calloc(f->ord_cap, sizeof(*f->ord_slot));
	f->heap = calloc(f->cap, sizeof(*f->heap));
	if (f->slab == NULL || f->spec == NULL || f->ord_id == NULL ||
	    f->ord_slot == NULL || f->heap == NULL) {
		snprintf(err, errlen, "flow table: out of memory for %u flows",
		    f->cap);
		return -ENOMEM;
	}
	if ((rc = fl_str_init(&f->owners)) != 0 ||
	    (rc = fl_str_init(&f->apps)) != 0) {
		snprintf(err, errlen, "flow table: out of memory");
		return rc;
	}
	f->freelist = FL_NONE;
	randombytes_buf(f->skey, sizeof(f->skey));
	return 0;
}

void
fl_index_free(struct flows *f)
{
	free(f->slab);
	free(f->spec);
	free(f->ord_id);
	free(f->ord_slot);
	free(f->heap);
	fl_str_free(&f->owners);
	fl_str_free(&f->apps);
}
