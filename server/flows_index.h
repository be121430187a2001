/*
 * flows_index.h: inside the flow table (flows.c); no other module uses it.
 *
 * Memory is the design constraint (10^6 flows in well under 200 MiB for
 * the whole agent), so a flow is one fixed record in a slab allocated at
 * capacity (calloc: pages become resident as flows fill them), and the
 * indexes hold 32-bit slot numbers:
 *
 *  - spec index: open addressing, linear probing, keyed SipHash of the
 *    match (clients choose the keys), load <= 2/3, backward-shift delete.
 *  - id order: ids only grow, so appending keeps (id, slot) pairs sorted;
 *    ending leaves a tombstone and lookups are binary searches. Compacted
 *    when tombstones outnumber live flows, or when the array is full.
 *    Paging walks it in order.
 *  - expiry: a binary min-heap of slots by (expires_ms, id); each flow
 *    knows its heap position so ending it is O(log n).
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
	uint32_t		ttl;		/* seconds, as last asked */
	uint32_t		heap_pos;	/* free slots: next free */
	uint16_t		owner;		/* strpool ids */
	uint16_t		app;
	uint8_t			per_conn;	/* flowreq_spec's */
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
	uint8_t			 skey[16];

	uint64_t		*ord_id;
	uint32_t		*ord_slot;	/* FL_NONE = tombstone */
	uint32_t		 ord_len;
	uint32_t		 ord_cap;
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

/* Spec index: slot with this match, or FL_NONE. */
uint32_t fl_spec_find(const struct flows *, const struct marker_rule *);
void fl_spec_insert(struct flows *, uint32_t slot);
void fl_spec_remove(struct flows *, uint32_t slot);

/* Id order. fl_ord_lower: first position whose id is >= id. */
uint32_t fl_ord_lower(const struct flows *, uint64_t id);
uint32_t fl_ord_find(const struct flows *, uint64_t id);	/* slot */
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
