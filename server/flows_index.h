/*
 * flows_index.h: inside the flow table (flows.c); no other module uses it
 * (test_flows reads the index sizes to pin their growth).
 *
 * Memory is the design constraint (10^6 flows in well under 200 MiB for
 * the whole agent), and it should follow the flows that are live, not the
 * configured capacity: a named pipe may start and end 150,000 flows a
 * second with only a few thousand live at a time. So the indexes hold
 * 32-bit slot numbers, and:
 *
 *  - slab: one fixed record per flow, allocated at capacity (calloc: fresh
 *    zero pages that become resident only when written). A new flow takes
 *    the most recently freed slot before a never-used one, so the slots
 *    ever written (hiwater) are the most flows ever live at once, however
 *    many come and go. Records never move: a pointer into the slab stays
 *    good until the flow ends.
 *  - spec index: open addressing, linear probing, keyed SipHash of the
 *    match (clients choose the keys), load <= 2/3, backward-shift delete.
 *    Hashing spreads a few flows over every page of the array, so it can
 *    not be allocated at capacity like the slab: it starts at 1024 buckets
 *    and doubles (a full rehash) when the next flow would pass 2/3, up to
 *    what the capacity needs. It does not shrink.
 *  - id order: ids only grow, so appending keeps (id, slot) pairs sorted;
 *    ending leaves a tombstone and lookups are binary searches. Compacted
 *    when tombstones outnumber live flows; when the array is full it is
 *    compacted if tombstones are half the live entries or more, else
 *    doubled (realloc), from 1024 entries up to cap * 5/4 + 64, where
 *    compaction always makes room. Paging walks it in order and keeps
 *    only ids between calls, so neither compaction nor growth moves a
 *    listing.
 *  - expiry: a binary min-heap of slots by (expires_ms, id); each flow
 *    knows its heap position so ending it is O(log n). Allocated at
 *    capacity like the slab: it only ever uses its first count entries.
 *  - owners and applications: few distinct strings, interned with a
 *    reference count (the owner's count is its flow count).
 */
#ifndef SCTAG_FLOWS_INDEX_H
#define SCTAG_FLOWS_INDEX_H

#include <stdint.h>

#include "flows.h"

#define FL_NONE		UINT32_MAX	/* no slot / not in the heap */
#define FL_NEXP		1024		/* experiment ids 0..1023 */

struct flow {
	uint64_t		id;
	uint64_t		created_ms;
	uint64_t		expires_ms;	/* 0 = none */
	struct marker_rule	rule;
	uint32_t		label;
	uint32_t		ttl : 31;	/* seconds, as last asked (at
						   most FLOWREQ_TTL_MAX) */
	uint32_t		per_conn : 1;	/* flowreq_spec's */
	uint32_t		heap_pos;	/* free slots: next free */
	uint16_t		owner;		/* strpool ids */
	uint16_t		app;
	/*
	 * The match's keyed hash, in what was padding: growth rehashes and
	 * deletes shift entries without hashing again, and probes skip
	 * other matches without building their keys.
	 */
	uint32_t		hash;
};

struct strpool {
	char		**str;		/* [id]; id 0 is "" and never freed */
	uint32_t	 *refs;
	uint32_t	  n;		/* ids handed out (high-water) */
	uint32_t	  cap;
	uint32_t	  live;		/* ids in use, "" excluded */
	uint16_t	 *free;		/* ids to reuse */
	uint32_t	  nfree;
	uint16_t	 *hash;		/* open addressing, 0 = empty */
	uint32_t	  hmask;
	uint8_t		  key[16];
};

struct flows {
	struct flows_opts	 o;
	enum flows_event	 ending;	/* why forget_slot is called */
	uint32_t		 cap;
	uint32_t		 count;
	uint32_t		 markable;

	struct flow		*slab;
	uint32_t		 hiwater;	/* slots ever used */
	uint32_t		 freelist;

	uint32_t		*spec;		/* slot + 1; 0 = empty */
	uint32_t		 smask;
	uint32_t		 spec_max;	/* buckets a full table needs */
	uint8_t			 skey[16];

	uint64_t		*ord_id;
	uint32_t		*ord_slot;	/* FL_NONE = tombstone */
	uint32_t		 ord_len;
	uint32_t		 ord_cap;
	uint32_t		 ord_max;
	uint32_t		 ord_dead;

	uint32_t		*heap;
	uint32_t		 heap_n;

	uint32_t		 per_exp[FL_NEXP];
	uint64_t		 next_id;
	uint32_t		 tag;		/* in page tokens */

	struct strpool		 owners;
	struct strpool		 apps;

	uint64_t		 started, ended, expired, del_failures;
};

int fl_index_init(struct flows *, char *err, size_t errlen);
void fl_index_free(struct flows *);
/*
 * Room in the spec index and id order for one more flow; call it after
 * the capacity check and before anything a failure would have to undo.
 * -ENOMEM with a message; the flows and their order are as they were.
 */
int fl_index_reserve(struct flows *, char *err, size_t errlen);

/* Spec index: slot with this match, or FL_NONE. */
uint32_t fl_spec_find(const struct flows *, const struct marker_rule *);
void fl_spec_insert(struct flows *, uint32_t slot);	/* after reserve */
void fl_spec_remove(struct flows *, uint32_t slot);

/* Id order. fl_ord_lower: first position whose id is >= id. */
uint32_t fl_ord_lower(const struct flows *, uint64_t id);
uint32_t fl_ord_find(const struct flows *, uint64_t id);	/* slot */
/* After fl_index_reserve. */
void fl_ord_append(struct flows *, uint64_t id, uint32_t slot);
void fl_ord_remove(struct flows *, uint64_t id);
void fl_ord_maybe_compact(struct flows *);

/* Expiry heap. */
void fl_heap_insert(struct flows *, uint32_t slot);
void fl_heap_remove(struct flows *, uint32_t slot);
void fl_heap_update(struct flows *, uint32_t slot);

/* Interned strings: id, or -ENOSPC/-ENOMEM; unref frees at zero. */
int fl_str_init(struct strpool *);
void fl_str_free(struct strpool *);
int fl_str_ref(struct strpool *, const char *, uint16_t *id);
void fl_str_unref(struct strpool *, uint16_t id);
int fl_str_lookup(const struct strpool *, const char *, uint16_t *id);
const char *fl_str(const struct strpool *, uint16_t id);

#endif /* SCTAG_FLOWS_INDEX_H */
