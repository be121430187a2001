/*
 * flows.c: the flow table's operations (flows.h); the indexes are in
 * flows_index.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sodium.h>

#include "envelope.h"
#include "flows.h"
#include "flows_index.h"
#include "jsonpos.h"
#include "tag.h"

#define MSG_MAX		256
#define ID_RANDOM_BITS	52	/* base in [2^32, 2^32 + 2^52): below 2^53 */

static int
flow_markable(const struct flow *fl)
{
	return flowreq_family(&fl->rule) == AF_INET6;
}

static void
fill(const struct flows *f, uint32_t slot, struct flows_flow *out)
{
	const struct flow	*fl = &f->slab[slot];

	memset(out, 0, sizeof(*out));
	out->id = fl->id;
	out->spec.rule = fl->rule;
	out->spec.family = flowreq_family(&fl->rule);
	out->spec.markable = out->spec.family == AF_INET6;
	out->spec.ttl_seconds = fl->ttl;
	out->spec.per_conn = fl->per_conn;
	snprintf(out->spec.application, sizeof(out->spec.application), "%s",
	    fl_str(&f->apps, fl->app));
	out->label = fl->label;
	out->created_ms = fl->created_ms;
	out->expires_ms = fl->expires_ms;
	snprintf(out->owner, sizeof(out->owner), "%s",
	    fl_str(&f->owners, fl->owner));
}

/* "atlas/Data Consolidation (2/4, flow-label)" for messages. */
static void
tag_str(const struct flows *f, const struct marker_rule *r, char *buf,
    size_t len)
{
	const char	*en = reg_exp_name(f->o.reg, r->exp);
	const char	*st;

	st = r->strategy == MK_STRAT_NONE ? "not marked" :
	    tag_strategy_name(r->strategy);
	if (strcmp(en, "?") != 0)
		snprintf(buf, len, "%s/%s (%u/%u, %s)", en,
		    reg_act_name(f->o.reg, r->exp, r->act), r->exp, r->act, st);
	else
		snprintf(buf, len, "%u/%u (%s)", r->exp, r->act, st);
}

static int
check_owner(const char *field, const char *owner, char *err, size_t errlen)
{
	if (owner == NULL || *owner == '\0') {
		snprintf(err, errlen, "%s: empty", field);
		return -EINVAL;
	}
	if (strnlen(owner, FLOWS_OWNER_MAX + 1) > FLOWS_OWNER_MAX) {
		snprintf(err, errlen, "%s: longer than %d bytes", field,
		    FLOWS_OWNER_MAX);
		return -EINVAL;
	}
	return 0;
}

/* The spec should come from flowreq_parse; check what the table relies on. */
static int
check_spec(const struct flowreq_spec *s, char *err, size_t errlen)
{
	const struct marker_rule	*r = &s->rule;
	char				 msg[MSG_MAX];
	int				 rc;

	if (flowreq_family(r) == AF_INET6) {
		if ((rc = marker_rule_check(r, msg, sizeof(msg))) != 0) {
			snprintf(err, errlen, "flow: %s", msg);
			return rc;
		}
		return 0;
	}
	if (r->strategy != MK_STRAT_NONE || r->exp > TAG_EXP_MAX ||
	    r->act > TAG_ACT_MAX || r->dst_plen < 96 || r->src_any > 1 ||
	    r->pad != 0) {
		snprintf(err, errlen, "flow: malformed IPv4 spec");
		return -EINVAL;
	}
	return 0;
}

int
flows_new(const struct flows_opts *o, struct flows **out, char *err,
    size_t errlen)
{
	struct flows	*f;
	uint64_t	 r;
	int		 rc;

	if (o->backend.add == NULL || o->backend.del == NULL) {
		snprintf(err, errlen, "flow table: no backend");
		return -EINVAL;
	}
	if (o->capacity > FLOWS_CAPACITY_MAX) {
		snprintf(err, errlen, "flow table: capacity %u is over %u",
		    o->capacity, FLOWS_CAPACITY_MAX);
		return -EINVAL;
	}
	if ((rc = env_sodium_init()) != 0) {
		snprintf(err, errlen, "flow table: libsodium did not start");
		return rc;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errlen, "flow table: out of memory");
		return -ENOMEM;
	}
	f->ending = FLOWS_ENDED;
	f->o = *o;
	f->cap = o->capacity != 0 ? o->capacity : FLOWS_CAPACITY_DEFAULT;
	if ((rc = fl_index_init(f, err, errlen)) != 0)
		goto out;
	/* A random base: ids of one agent run never meet another run's. */
	randombytes_buf(&r, sizeof(r));
	f->next_id = o->id_base != 0 ? o->id_base :
	    (UINT64_C(1) << 32) + (r & ((UINT64_C(1) << ID_RANDOM_BITS) - 1));
	f->tag = randombytes_random();
	*out = f;
	return 0;
out:
	flows_free(f);
	return rc;
}

void
flows_free(struct flows *f)
{
	if (f == NULL)
		return;
	fl_index_free(f);
	free(f);
}

void
flows_set_reg(struct flows *f, const struct reg *reg)
{
	f->o.reg = reg;
}

static uint32_t
slot_alloc(struct flows *f)
{
	uint32_t	slot;

	if (f->freelist != FL_NONE) {
		slot = f->freelist;
		f->freelist = f->slab[slot].heap_pos;
		return slot;
	}
	return f->hiwater++;
}

static void
set_lease(struct flows *f, uint32_t slot, uint32_t ttl, uint64_t now_ms)
{
	struct flow	*fl = &f->slab[slot];

	fl->ttl = ttl;
	fl->expires_ms = now_ms + (uint64_t)ttl * 1000;
	if (fl->heap_pos == FL_NONE)
		fl_heap_insert(f, slot);
	else
		fl_heap_update(f, slot);
}

int
flows_start(struct flows *f, const struct flowreq_spec *spec,
    const char *owner, uint64_t now_ms, struct flows_flow *out,
    int *created, char *err, size_t errlen)
{
	uint8_t		 ka[FLOWREQ_KEY_LEN], kb[FLOWREQ_KEY_LEN];
	char		 msg[MSG_MAX], tag[MSG_MAX];
	struct flow	*fl;
	uint32_t	 slot, label = 0;
	uint16_t	 oid, aid;
	int		 rc, markable;

	if ((rc = check_owner("owner", owner, err, errlen)) != 0 ||
	    (rc = check_spec(spec, err, errlen)) != 0)
		return rc;
	if ((slot = fl_spec_find(f, &spec->rule)) != FL_NONE) {
		fl = &f->slab[slot];
		flowreq_key(&fl->rule, ka);
		flowreq_key(&spec->rule, kb);
		if (memcmp(ka, kb, sizeof(ka)) != 0) {
			tag_str(f, &fl->rule, tag, sizeof(tag));
			snprintf(err, errlen, "flow %" PRIu64 " already marks "
			    "this match with %s; end it first", fl->id, tag);
			return -EEXIST;
		}
		if (spec->ttl_seconds > 0)
			set_lease(f, slot, spec->ttl_seconds, now_ms);
		fill(f, slot, out);
		*created = 0;
		return 0;
	}
	if (f->count >= f->cap) {
		snprintf(err, errlen, "flow table full (capacity %u)", f->cap);
		return -ENOSPC;
	}
	if ((rc = fl_index_reserve(f, err, errlen)) != 0)
		return rc;
	if ((rc = fl_str_ref(&f->owners, owner, &oid)) != 0) {
		snprintf(err, errlen, "too many distinct owners (limit %d)",
		    FLOWS_STRINGS_MAX);
		return rc;
	}
	if ((rc = fl_str_ref(&f->apps, spec->application, &aid)) != 0) {
		snprintf(err, errlen, "too many distinct applications (limit "
		    "%d)", FLOWS_STRINGS_MAX);
		goto out_owner;
	}
	markable = flowreq_family(&spec->rule) == AF_INET6;
	if (markable) {
		msg[0] = '\0';
		rc = f->o.backend.add(f->o.backend.arg, &spec->rule, &label,
		    msg, sizeof(msg));
		if (rc != 0) {
			snprintf(err, errlen, "%s", msg[0] != '\0' ? msg :
			    "kernel rule not added");
			rc = rc < 0 ? rc : -EIO;
			goto out_app;
		}
	}
	slot = slot_alloc(f);
	fl = &f->slab[slot];
	memset(fl, 0, sizeof(*fl));
	fl->id = f->next_id++;
	fl->created_ms = now_ms;
	fl->rule = spec->rule;
	fl->label = label;
	fl->heap_pos = FL_NONE;
	fl->owner = oid;
	fl->app = aid;
	fl->per_conn = spec->per_conn != 0;
	fl_spec_insert(f, slot);
	fl_ord_append(f, fl->id, slot);
	if (spec->ttl_seconds > 0)
		set_lease(f, slot, spec->ttl_seconds, now_ms);
	f->count++;
	f->markable += markable;
	f->per_exp[fl->rule.exp]++;
	f->started++;
	fill(f, slot, out);
	*created = 1;
	if (f->o.event != NULL)
		f->o.event(f->o.event_arg, FLOWS_STARTED, out);
	return 0;
out_app:
	fl_str_unref(&f->apps, aid);
out_owner:
	fl_str_unref(&f->owners, oid);
	return rc;
}

/*
 * The backend first: if the kernel keeps the rule, so does the table, and
 * the caller can try again. On success the slot goes back to the free list.
 */
/* Out of the table; its kernel rule is gone already (or never was). */
static void
forget_slot(struct flows *f, uint32_t slot)
{
	struct flow		*fl = &f->slab[slot];
	struct flows_flow	 v;
	int			 markable = flow_markable(fl);

	if (f->o.event != NULL) {
		fill(f, slot, &v);
		f->o.event(f->o.event_arg, f->ending, &v);
	}

	fl_spec_remove(f, slot);
	fl_ord_remove(f, fl->id);
	fl_heap_remove(f, slot);
	fl_str_unref(&f->owners, fl->owner);
	fl_str_unref(&f->apps, fl->app);
	f->per_exp[fl->rule.exp]--;
	f->count--;
	f->markable -= markable;
	f->ended++;
	memset(fl, 0, sizeof(*fl));
	fl->heap_pos = f->freelist;
	f->freelist = slot;
}

static int
end_slot(struct flows *f, uint32_t slot, char *err, size_t errlen)
{
	struct flow	*fl = &f->slab[slot];
	char		 msg[MSG_MAX];
	int		 rc, markable = flow_markable(fl);

	if (markable) {
		msg[0] = '\0';
		rc = f->o.backend.del(f->o.backend.arg, &fl->rule, msg,
		    sizeof(msg));
		if (rc != 0) {
			f->del_failures++;
			snprintf(err, errlen, "flow %" PRIu64 ": kernel rule "
			    "not removed, the flow stays: %s", fl->id,
			    msg[0] != '\0' ? msg : "backend failed");
			return rc < 0 ? rc : -EIO;
		}
	}
	forget_slot(f, slot);
	return 0;
}

static int
end_checked(struct flows *f, uint32_t slot, const char *caller, int admin,
    struct flows_flow *out, char *err, size_t errlen)
{
	const char	*owner = fl_str(&f->owners, f->slab[slot].owner);
	char		 q[FLOWS_OWNER_MAX * 4 + 8];
	int		 rc;

	if (!admin && (caller == NULL || strcmp(caller, owner) != 0)) {
		jsonpos_quote(q, sizeof(q), owner, FLOWS_OWNER_MAX);
		snprintf(err, errlen, "flow %" PRIu64 " belongs to %s; only "
		    "its owner or an admin may end it", f->slab[slot].id, q);
		return -EPERM;
	}
	fill(f, slot, out);
	if ((rc = end_slot(f, slot, err, errlen)) != 0)
		return rc;
	fl_ord_maybe_compact(f);
	return 0;
}

int
flows_end_id(struct flows *f, uint64_t id, const char *caller, int admin,
    struct flows_flow *out, char *err, size_t errlen)
{
	uint32_t	slot;

	if ((slot = fl_ord_find(f, id)) == FL_NONE) {
		snprintf(err, errlen, "no flow with id %" PRIu64, id);
		return -ENOENT;
	}
	return end_checked(f, slot, caller, admin, out, err, errlen);
}

/* The slot of exactly this spec, or FL_NONE with a message why not. */
static uint32_t
find_spec(const struct flows *f, const struct flowreq_spec *spec, char *err,
    size_t errlen)
{
	uint8_t		ka[FLOWREQ_KEY_LEN], kb[FLOWREQ_KEY_LEN];
	char		tag[MSG_MAX];
	uint32_t	slot;

	if ((slot = fl_spec_find(f, &spec->rule)) == FL_NONE) {
		snprintf(err, errlen, "no flow has this spec");
		return FL_NONE;
	}
	flowreq_key(&f->slab[slot].rule, ka);
	flowreq_key(&spec->rule, kb);
	if (memcmp(ka, kb, sizeof(ka)) != 0) {
		tag_str(f, &f->slab[slot].rule, tag, sizeof(tag));
		snprintf(err, errlen, "no flow has this spec; flow %" PRIu64
		    " has its match with %.120s", f->slab[slot].id, tag);
		return FL_NONE;
	}
	return slot;
}

int
flows_end_spec(struct flows *f, const struct flowreq_spec *spec,
    const char *caller, int admin, struct flows_flow *out, char *err,
    size_t errlen)
{
	uint32_t	slot;

	if ((slot = find_spec(f, spec, err, errlen)) == FL_NONE)
		return -ENOENT;
	return end_checked(f, slot, caller, admin, out, err, errlen);
}

int
flows_get(const struct flows *f, uint64_t id, struct flows_flow *out)
{
	uint32_t	slot;

	if ((slot = fl_ord_find(f, id)) == FL_NONE)
		return -ENOENT;
	fill(f, slot, out);
	return 0;
}

int
flows_find(const struct flows *f, const struct flowreq_spec *spec,
    struct flows_flow *out)
{
	char		msg[MSG_MAX];
	uint32_t	slot;

	if ((slot = find_spec(f, spec, msg, sizeof(msg))) == FL_NONE)
		return -ENOENT;
	fill(f, slot, out);
	return 0;
}

int
flows_find_match(const struct flows *f, const struct marker_rule *r,
    struct flows_flow *out)
{
	uint32_t	slot;

	if ((slot = fl_spec_find(f, r)) == FL_NONE)
		return -ENOENT;
	fill(f, slot, out);
	return 0;
}

int
flows_expire(struct flows *f, uint64_t now_ms, uint32_t max,
    flows_ended_fn *cb, void *arg, uint32_t *ended, int *more)
{
	struct flows_flow	 v;
	struct flow		*fl;
	char			 msg[MSG_MAX];
	uint32_t		 slot, tried = 0, done = 0;
	int			 rc;

	while (tried < max && f->heap_n > 0) {
		slot = f->heap[0];
		fl = &f->slab[slot];
		if (fl->expires_ms > now_ms)
			break;
		tried++;
		fill(f, slot, &v);
		f->ending = FLOWS_EXPIRED;
		rc = end_slot(f, slot, msg, sizeof(msg));
		f->ending = FLOWS_ENDED;
		if (rc != 0) {
			/* Later: one stuck rule must not hold up the rest. */
			fl->expires_ms = now_ms + FLOWS_RETRY_MS;
			fl_heap_update(f, slot);
			if (cb != NULL)
				cb(arg, &v, rc, msg);
			continue;
		}
		f->expired++;
		done++;
		if (cb != NULL)
			cb(arg, &v, 0, "");
	}
	fl_ord_maybe_compact(f);
	*ended = done;
	*more = f->heap_n > 0 && f->slab[f->heap[0]].expires_ms <= now_ms;
	return 0;
}

int
flows_next_expiry(const struct flows *f, uint64_t *ms)
{
	if (f->heap_n == 0)
		return -ENOENT;
	*ms = f->slab[f->heap[0]].expires_ms;
	return 0;
}

/* Markable flows of a drain, their rules deleted FLOWS_DEL_MANY at once. */
struct drain_batch {
	uint32_t		slot[FLOWS_DEL_MANY];
	struct marker_rule	rule[FLOWS_DEL_MANY];
	int32_t			rc[FLOWS_DEL_MANY];
	size_t			n;
};

static void
drain_flush(struct flows *f, struct drain_batch *b, flows_ended_fn *cb,
    void *arg, struct flows_drain *st)
{
	struct flows_flow	v;
	char			msg[MSG_MAX];
	size_t			i;
	int			rc;

	if (b->n == 0)
		return;
	for (i = 0; i < b->n; i++)
		b->rc[i] = -EIO;
	if ((rc = f->o.backend.del_many(f->o.backend.arg, b->rule, b->n,
	    b->rc)) != 0)
		for (i = 0; i < b->n; i++)
			b->rc[i] = rc < 0 ? rc : -EIO;
	for (i = 0; i < b->n; i++) {
		fill(f, b->slot[i], &v);
		if (b->rc[i] != 0 && b->rc[i] != -ENOENT) {
			f->del_failures++;
			st->failed++;
			snprintf(msg, sizeof(msg), "flow %" PRIu64 ": kernel "
			    "rule not removed, the flow stays: %s", v.id,
			    strerror(b->rc[i] < 0 ? -b->rc[i] : EIO));
			if (cb != NULL)
				cb(arg, &v, b->rc[i], msg);
			continue;
		}
		f->ending = FLOWS_DRAINED;
		forget_slot(f, b->slot[i]);
		f->ending = FLOWS_ENDED;
		st->ended++;
		if (cb != NULL)
			cb(arg, &v, 0, "");
	}
	b->n = 0;
}

int
flows_drain(struct flows *f, const char *owner, uint32_t max,
    flows_ended_fn *cb, void *arg, struct flows_drain *st)
{
	struct flows_flow	 v;
	struct drain_batch	 b;
	char			 msg[MSG_MAX];
	uint32_t		 pos, slot, tried = 0;
	uint16_t		 oid = 0;
	int			 rc, all = owner == NULL || *owner == '\0';

	st->more = 0;
	if (!all && fl_str_lookup(&f->owners, owner, &oid) != 0)
		return 0;
	b.n = 0;
	/* Ends only tombstone: positions hold until the compaction below. */
	for (pos = fl_ord_lower(f, st->cursor + 1); pos < f->ord_len &&
	    tried < max; pos++) {
		st->cursor = f->ord_id[pos];
		if ((slot = f->ord_slot[pos]) == FL_NONE ||
		    (!all && f->slab[slot].owner != oid))
			continue;
		tried++;
		if (f->o.backend.del_many != NULL &&
		    flow_markable(&f->slab[slot])) {
			b.slot[b.n] = slot;
			b.rule[b.n++] = f->slab[slot].rule;
			if (b.n == FLOWS_DEL_MANY)
				drain_flush(f, &b, cb, arg, st);
			continue;
		}
		fill(f, slot, &v);
		f->ending = FLOWS_DRAINED;
		rc = end_slot(f, slot, msg, sizeof(msg));
		f->ending = FLOWS_ENDED;
		if (rc != 0) {
			st->failed++;
			if (cb != NULL)
				cb(arg, &v, rc, msg);
			continue;
		}
		st->ended++;
		if (cb != NULL)
			cb(arg, &v, 0, "");
	}
	drain_flush(f, &b, cb, arg, st);
	st->more = pos < f->ord_len;
	fl_ord_maybe_compact(f);
	return 0;
}

uint32_t
flows_page_size(uint32_t requested)
{
	if (requested == 0)
		return FLOWS_PAGE_DEFAULT;
	return requested > FLOWS_PAGE_MAX ? FLOWS_PAGE_MAX : requested;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 16 hex digits of the last id, 8 of the table's tag. */
static int
token_parse(const struct flows *f, const char *t, uint64_t *after)
{
	uint64_t	v = 0;
	uint32_t	tag = 0;
	int		i, h;

	if (strnlen(t, FLOWS_TOKEN_LEN + 1) != FLOWS_TOKEN_LEN)
		return -EINVAL;
	for (i = 0; i < FLOWS_TOKEN_LEN; i++) {
		if ((h = hexval(t[i])) < 0)
			return -EINVAL;
		if (i < 16)
			v = v << 4 | (uint64_t)h;
		else
			tag = tag << 4 | (uint32_t)h;
	}
	if (tag != f->tag)
		return -EINVAL;
	*after = v;
	return 0;
}

static int
matches(const struct flows *f, const struct flow *fl,
    const struct flows_filter *flt, int use_owner, uint16_t oid)
{
	if (use_owner && fl->owner != oid)
		return 0;
	if (flt->exp != 0 && fl->rule.exp != flt->exp)
		return 0;
	if (flt->has_dst && !flowreq_prefix_contains(flt->dst, flt->dst_plen,
	    fl->rule.dst, fl->rule.dst_plen))
		return 0;
	return 1;
}

static uint64_t
count_matching(const struct flows *f, const struct flows_filter *flt,
    int use_owner, uint16_t oid)
{
	uint64_t	n = 0;
	uint32_t	pos, slot;

	if (!flt->has_dst && flt->exp == 0)
		return use_owner ? f->owners.refs[oid] : f->count;
	if (!flt->has_dst && !use_owner)
		return flt->exp < FL_NEXP ? f->per_exp[flt->exp] : 0;
	for (pos = 0; pos < f->ord_len; pos++)
		if ((slot = f->ord_slot[pos]) != FL_NONE &&
		    matches(f, &f->slab[slot], flt, use_owner, oid))
			n++;
	return n;
}

int
flows_list(const struct flows *f, const struct flows_filter *flt,
    const char *page_token, uint32_t page_size, struct flows_flow *out,
    uint32_t *n, char next_token[FLOWS_TOKEN_LEN + 1], uint64_t *total,
    char *err, size_t errlen)
{
	static const struct flows_filter	none;
	uint64_t				after = 0, last = 0;
	uint32_t				pos, slot, page, got = 0;
	uint16_t				oid = 0;
	int					use_owner, more = 0;

	if (flt == NULL)
		flt = &none;
	if (page_token != NULL && *page_token != '\0' &&
	    token_parse(f, page_token, &after) != 0) {
		snprintf(err, errlen, "bad page token");
		return -EINVAL;
	}
	*n = 0;
	next_token[0] = '\0';
	if (total != NULL)
		*total = 0;
	use_owner = flt->owner != NULL && *flt->owner != '\0';
	if (use_owner && fl_str_lookup(&f->owners, flt->owner, &oid) != 0)
		return 0;
	page = flows_page_size(page_size);
	for (pos = fl_ord_lower(f, after + 1); pos < f->ord_len; pos++) {
		if ((slot = f->ord_slot[pos]) == FL_NONE ||
		    !matches(f, &f->slab[slot], flt, use_owner, oid))
			continue;
		if (got == page) {
			more = 1;
			break;
		}
		fill(f, slot, &out[got++]);
		last = f->slab[slot].id;
	}
	*n = got;
	if (more)
		snprintf(next_token, FLOWS_TOKEN_LEN + 1, "%016" PRIx64 "%08x",
		    last, f->tag);
	if (total != NULL)
		*total = count_matching(f, flt, use_owner, oid);
	return 0;
}

void
flows_stats(const struct flows *f, struct flows_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->count = f->count;
	s->capacity = f->cap;
	s->markable = f->markable;
	s->leased = f->heap_n;
	s->owners = f->owners.live;
	s->started = f->started;
	s->ended = f->ended;
	s->expired = f->expired;
	s->del_failures = f->del_failures;
}

uint32_t
flows_owner_count(const struct flows *f, const char *owner)
{
	uint16_t	oid;

	if (owner == NULL || *owner == '\0' ||
	    fl_str_lookup(&f->owners, owner, &oid) != 0)
		return 0;
	return f->owners.refs[oid];
}
