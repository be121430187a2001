/*
 * conns.c: see conns.h.
 */
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conns.h"
#include "dispatch.h"
#include "ffin.h"
#include "ffsend.h"
#include "flowreq.h"
#include "log.h"


/* A per-connection rule: its flow as it started. */
struct crule {
	struct flows_flow	f;
};

/* A rule as a scan matches against it, outside the state lock. */
struct snap {
	uint64_t		id;
	struct marker_rule	rule;
};

/* A connection announced for a per-connection rule. */
struct conn {
	uint64_t		cookie;
	uint64_t		flow_id;
	struct sockdiag_conn	c;		/* as last seen */
	struct timespec		first;		/* start-time */
	int			ended;		/* its end firefly went */
};

struct conns {
	struct conns_opts	 o;
	struct sockdiag_q	*q;
	/* Under the state lock. */
	struct crule		*rules;
	size_t			 nrules, rules_cap;
	struct conn		*tracked;	/* by cookie */
	size_t			 ntracked, tracked_cap;
	struct conns_stats	 st;
	struct ff_event		*out;		/* fireflies, to send unlocked */
	size_t			 nout, out_cap;
	/* The scanning thread's own. */
	struct sockdiag_conn	*seen;		/* a scan's sockets */
	size_t			 nseen, seen_cap;
	int			 seen_nomem;
	uint64_t		*best;		/* [nseen]: a rule's id, or 0 */
	size_t			 best_cap;
	struct snap		*snap;
	size_t			 nsnap, snap_cap;
	struct conn		*next;		/* the next tracked */
	size_t			 next_cap;
	uint64_t		 ongoing_due;
	struct log_ratelimit	 rl;
	/* Between the threads. */
	_Atomic uint32_t	 nrules_seen;
	_Atomic uint64_t	 scan_due;	/* 0: now (a rule started) */
	_Atomic int		 flush;		/* out has fireflies */
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cv;		/* a rule started, or stop */
	int			 stop;		/* under mtx */
	pthread_t		 thread;
	int			 running;
};

void
conns_firefly(struct ff_event *e, enum ff_state st,
    const struct flows_flow *f, const struct sockdiag_conn *c,
    const struct timespec *start)
{
	const struct marker_rule *r = &f->spec.rule;

	memset(e, 0, sizeof(*e));
	e->state = st;
	e->flow.proto = c ? IPPROTO_TCP : r->proto;
	e->flow.family = c ? c->family : f->spec.family;
	memcpy(e->flow.src, c ? c->src : r->src, sizeof(e->flow.src));
	memcpy(e->flow.dst, c ? c->dst : r->dst, sizeof(e->flow.dst));
	e->flow.sport = c ? c->sport : r->sport;
	e->flow.dport = c ? c->dport : r->dport;
	e->flow.exp = r->exp;
	e->flow.act = r->act;
	/* Printable ASCII (flowreq.c): cutting it keeps it valid. */
	snprintf(e->flow.application, sizeof(e->flow.application), "%.63s",
	    f->spec.application);
	if (start != NULL)
		e->start = *start;
	else {
		e->start.tv_sec = (time_t)(f->created_ms / 1000);
		e->start.tv_nsec = (long)(f->created_ms % 1000) * 1000000;
	}
	clock_gettime(CLOCK_REALTIME, &e->now);
	if (st == FF_END)
		e->end = e->now;
	if (c != NULL)
		sockdiag_fill_event(c, e);
}

void
conns_exact_rule(const struct sockdiag_conn *c, struct marker_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->proto = IPPROTO_TCP;
	r->dst_plen = 128;
	r->sport = c->sport;
	r->dport = c->dport;
	memcpy(r->src, c->src, sizeof(r->src));
	memcpy(r->dst, c->dst, sizeof(r->dst));
}

int
conns_new(const struct conns_opts *o, struct conns **out, char *err,
    size_t errlen)
{
	pthread_condattr_t ca;
	struct conns *cs;
	int rc;

	*out = NULL;
	if ((cs = calloc(1, sizeof(*cs))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cs->o = *o;
	cs->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 5);
	if ((rc = sockdiag_q_open(&cs->q, err, errlen)) != 0) {
		free(cs);
		return rc;
	}
	pthread_mutex_init(&cs->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cs->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = cs;
	return 0;
}

void
conns_free(struct conns *cs)
{
	if (cs == NULL)
		return;
	if (cs->running) {
		pthread_mutex_lock(&cs->mtx);
		cs->stop = 1;
		pthread_cond_signal(&cs->cv);
		pthread_mutex_unlock(&cs->mtx);
		pthread_join(cs->thread, NULL);
	}
	pthread_cond_destroy(&cs->cv);
	pthread_mutex_destroy(&cs->mtx);
	sockdiag_q_close(cs->q);
	free(cs->rules);
	free(cs->tracked);
	free(cs->out);
	free(cs->seen);
	free(cs->best);
	free(cs->snap);
	free(cs->next);
	free(cs);
}

/* Room for one more of n in *v of *cap elements of size sz (doubling). */
static int
grow(void **v, size_t *cap, size_t n, size_t sz, size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 64;
	if (ncap > max)
		ncap = max;
	if ((p = realloc(*v, ncap * sz)) == NULL)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

/* Exactly n elements of size sz in *v (its old content is not kept). */
static int
room(void **v, size_t *cap, size_t n, size_t sz)
{
	void *p;

	if (n <= *cap)
		return 0;
	if ((p = calloc(n, sz)) == NULL)
		return -ENOMEM;
	free(*v);
	*v = p;
	*cap = n;
	return 0;
}

static int
by_id(const void *a, const void *b)
{
	const struct crule *x = a, *y = b;

	return x->f.id < y->f.id ? -1 : x->f.id > y->f.id;
}

/* The rules are in id order: flows start with ever larger ids. */
static struct crule *
rule_of(const struct conns *cs, uint64_t id)
{
	struct crule key;

	key.f.id = id;
	return bsearch(&key, cs->rules, cs->nrules, sizeof(key), by_id);
}

/*
 * A firefly, for the scanning thread to send once the state lock is let
 * go (it is held here): the firefly ring makes a sender wait when it is
 * full, and a rule that ends or a scan may announce thousands at once.
 */
static void
emit(struct conns *cs, const struct ff_event *e)
{
	if (grow((void **)&cs->out, &cs->out_cap, cs->nout, sizeof(*cs->out),
	    CONNS_SCAN_MAX) != 0) {
		ffsend_event(cs->o.ff, e);	/* no room: now, then */
		return;
	}
	cs->out[cs->nout++] = *e;
	if (!atomic_exchange(&cs->flush, 1)) {
		pthread_mutex_lock(&cs->mtx);
		pthread_cond_signal(&cs->cv);
		pthread_mutex_unlock(&cs->mtx);
	}
}

/* Send what emit kept (no lock held; d's is taken to take them). */
static void
send_out(struct conns *cs, struct dispatch *d)
{
	struct ff_event *v;
	size_t i, n;

	atomic_store(&cs->flush, 0);
	dispatch_lock(d);
	v = cs->out;
	n = cs->nout;
	cs->out = NULL;
	cs->nout = cs->out_cap = 0;
	dispatch_unlock(d);
	for (i = 0; i < n; i++)
		ffsend_event(cs->o.ff, &v[i]);
	free(v);
}

static void
announce(struct conns *cs, enum ff_state st, const struct conn *k)
{
	const struct crule *cr = rule_of(cs, k->flow_id);
	struct ff_event e;

	if (cr == NULL)
		return;
	conns_firefly(&e, st, &cr->f, &k->c, &k->first);
	emit(cs, &e);
	if (st == FF_START)
		cs->st.announced++;
	else if (st == FF_ONGOING)
		cs->st.ongoing++;
}

/* The connections of a rule that ended: their end fireflies, now. */
static void
end_rule_conns(struct conns *cs, uint64_t id)
{
	size_t i, j;

	for (i = j = 0; i < cs->ntracked; i++) {
		if (cs->tracked[i].flow_id == id) {
			if (!cs->tracked[i].ended)
				announce(cs, FF_END, &cs->tracked[i]);
			continue;
		}
		cs->tracked[j++] = cs->tracked[i];
	}
	cs->ntracked = j;
}

void
conns_flow(struct conns *cs, enum flows_event ev, const struct flows_flow *f)
{
	struct crule *cr;
	size_t i;

	if (cs == NULL || !f->spec.per_conn)
		return;
	if (ev == FLOWS_STARTED) {
		if (grow((void **)&cs->rules, &cs->rules_cap, cs->nrules,
		    sizeof(*cs->rules), CONNS_RULES_MAX) != 0) {
			cs->st.rules_over++;
			log_warn("flow %llu: its connections get no fireflies: "
			    "%u per-connection rules are followed at most",
			    (unsigned long long)f->id, CONNS_RULES_MAX);
			return;
		}
		cs->rules[cs->nrules++].f = *f;
		atomic_store(&cs->nrules_seen, (uint32_t)cs->nrules);
		/* Its connections soon, not a whole period later. */
		atomic_store(&cs->scan_due, 0);
		pthread_mutex_lock(&cs->mtx);
		pthread_cond_signal(&cs->cv);
		pthread_mutex_unlock(&cs->mtx);
		return;
	}
	if ((cr = rule_of(cs, f->id)) == NULL)
		return;
	end_rule_conns(cs, f->id);
	i = (size_t)(cr - cs->rules);
	memmove(cr, cr + 1, (cs->nrules - i - 1) * sizeof(*cr));
	cs->nrules--;
	atomic_store(&cs->nrules_seen, (uint32_t)cs->nrules);
}

static int
by_cookie(const void *a, const void *b)
{
	const struct conn *x = a, *y = b;

	return x->cookie < y->cookie ? -1 : x->cookie > y->cookie;
}

static struct conn *
tracked_find(struct conns *cs, uint64_t cookie)
{
	struct conn key = { .cookie = cookie };

	return bsearch(&key, cs->tracked, cs->ntracked, sizeof(key),
	    by_cookie);
}

void
conns_closed(struct conns *cs, const struct sockdiag_conn *c)
{
	struct conn *k;

	if (cs == NULL || (k = tracked_find(cs, c->cookie)) == NULL ||
	    k->ended)
		return;
	k->c = *c;		/* the final counts */
	announce(cs, FF_END, k);
	/* Forgotten at the next scan (which will not find it). */
	k->ended = 1;
}

static int
rule_matches(const struct marker_rule *r, const struct sockdiag_conn *c)
{
	if (r->proto != 0 && r->proto != IPPROTO_TCP)
		return 0;
	if (!r->src_any && memcmp(r->src, c->src, sizeof(r->src)) != 0)
		return 0;
	if ((r->sport != 0 && r->sport != c->sport) ||
	    (r->dport != 0 && r->dport != c->dport))
		return 0;
	return flowreq_prefix_contains(r->dst, r->dst_plen, c->dst, 128);
}

/* Longest destination prefix, then a given source, then given ports. */
static unsigned
specificity(const struct marker_rule *r)
{
	return (unsigned)r->dst_plen << 8 | (unsigned)!r->src_any << 2 |
	    ((unsigned)(r->sport != 0) + (unsigned)(r->dport != 0));
}

/* The id of the rule of the snapshot that c is for, or 0. */
static uint64_t
best_rule(const struct conns *cs, const struct sockdiag_conn *c)
{
	const struct snap *best = NULL;
	unsigned s, bs = 0;
	size_t i;

	for (i = 0; i < cs->nsnap; i++) {
		if (!rule_matches(&cs->snap[i].rule, c))
			continue;
		s = specificity(&cs->snap[i].rule);
		if (best == NULL || s > bs || (s == bs &&
		    cs->snap[i].id < best->id)) {
			best = &cs->snap[i];
			bs = s;
		}
	}
	return best ? best->id : 0;
}

static void
seen(void *arg, const struct sockdiag_conn *c)
{
	struct conns *cs = arg;

	/* The dump stops at CONNS_SCAN_MAX: only memory can run out. */
	if (grow((void **)&cs->seen, &cs->seen_cap, cs->nseen,
	    sizeof(*cs->seen), CONNS_SCAN_MAX) == 0)
		cs->seen[cs->nseen++] = *c;
	else
		cs->seen_nomem = 1;
}

/* An exact flow's own connection: its ongoing firefly. */
static void
ongoing_exact(struct conns *cs, const struct flows_flow *f,
    const struct sockdiag_conn *c)
{
	struct ff_event e;

	/* A received firefly's flow: its sender reports on it. */
	if (strcmp(f->owner, FFIN_OWNER) == 0)
		return;
	conns_firefly(&e, FF_ONGOING, f, c, NULL);
	emit(cs, &e);
	cs->st.ongoing++;
}

/*
 * The scan's sockets against the table (state lock held; best[] was
 * worked out before, without it): next holds the per-connection rules'
 * connections, by cookie; then merged with those tracked: new ones start,
 * gone ones end. A socket is looked up among the exact flows only when
 * that can matter: for its ongoing firefly, or because a per-connection
 * rule matches it (an exact flow of its own takes it).
 */
static void
match(struct conns *cs, int ongoing, const struct timespec *now)
{
	const struct sockdiag_conn *c;
	struct marker_rule r;
	struct flows_flow f;
	struct conn *k, *old;
	size_t i, j, n = 0;

	for (i = 0; i < cs->nseen; i++) {
		c = &cs->seen[i];
		if (!ongoing && cs->best[i] == 0)
			continue;
		conns_exact_rule(c, &r);
		if (flows_find_match(cs->o.flows, &r, &f) == 0) {
			if (ongoing)
				ongoing_exact(cs, &f, c);
			continue;
		}
		/* A rule that ended since the snapshot: not any more. */
		if (cs->best[i] == 0 || rule_of(cs, cs->best[i]) == NULL)
			continue;
		/* At most nseen: the room was made before the lock. */
		k = &cs->next[n++];
		memset(k, 0, sizeof(*k));
		k->cookie = c->cookie;
		k->flow_id = cs->best[i];
		k->c = *c;
	}
	qsort(cs->next, n, sizeof(*cs->next), by_cookie);
	/*
	 * A dump is read in parts, and sockets that come and go between
	 * them can make one appear twice: once.
	 */
	for (i = j = 0; i < n; i++)
		if (j == 0 || cs->next[j - 1].cookie != cs->next[i].cookie)
			cs->next[j++] = cs->next[i];
	n = j;
	for (i = j = 0; i < n || j < cs->ntracked; ) {
		old = j < cs->ntracked ? &cs->tracked[j] : NULL;
		k = i < n ? &cs->next[i] : NULL;
		if (k == NULL || (old != NULL && old->cookie < k->cookie)) {
			/* Gone without a notice (or ended already). */
			if (!old->ended)
				announce(cs, FF_END, old);
			j++;
			continue;
		}
		if (old != NULL && old->cookie == k->cookie &&
		    old->flow_id == k->flow_id) {
			k->first = old->first;
			k->ended = old->ended;
			if (ongoing && !k->ended)
				announce(cs, FF_ONGOING, k);
			i++;
			j++;
			continue;
		}
		if (old != NULL && old->cookie == k->cookie) {
			/* Another rule took it: the old one's ends. */
			if (!old->ended)
				announce(cs, FF_END, old);
			j++;
		}
		k->first = *now;
		announce(cs, FF_START, k);
		i++;
	}
	/* The ended ones are forgotten: a socket is destroyed once. */
	for (i = j = 0; i < n; i++)
		if (!cs->next[i].ended)
			cs->next[j++] = cs->next[i];
	k = cs->tracked;
	cs->tracked = cs->next;
	cs->ntracked = j;
	cs->next = k;
	i = cs->tracked_cap;
	cs->tracked_cap = cs->next_cap;
	cs->next_cap = i;
}

/* The rules as they are now, for matching without the lock. */
static int
snapshot(struct conns *cs)
{
	size_t i;

	if (room((void **)&cs->snap, &cs->snap_cap, cs->nrules,
	    sizeof(*cs->snap)) != 0)
		return -ENOMEM;
	for (i = 0; i < cs->nrules; i++) {
		cs->snap[i].id = cs->rules[i].f.id;
		cs->snap[i].rule = cs->rules[i].f.spec.rule;
	}
	cs->nsnap = cs->nrules;
	return 0;
}

static int
until(const struct conns *cs, uint64_t now_ms)
{
	uint64_t due = UINT64_MAX;

	if (atomic_load(&cs->nrules_seen) > 0)
		due = atomic_load(&cs->scan_due);
	if (cs->o.interval_ms > 0 && cs->ongoing_due < due)
		due = cs->ongoing_due;
	if (due == UINT64_MAX)
		return -1;
	if (due <= now_ms)
		return 0;
	return due - now_ms > 1000 ? 1000 : (int)(due - now_ms);
}

/* One scan: dump, match, merge (the fireflies wait in out). */
static void
scan(struct conns *cs, struct dispatch *d, uint64_t now_ms)
{
	struct timespec now;
	unsigned long suppressed;
	char err[256];
	size_t i, n;
	int ongoing, rc;

	ongoing = cs->o.interval_ms > 0 && cs->ongoing_due <= now_ms;
	atomic_store(&cs->scan_due, now_ms + cs->o.scan_ms);
	if (ongoing)
		cs->ongoing_due = now_ms + cs->o.interval_ms;
	cs->nseen = 0;
	cs->seen_nomem = 0;
	rc = sockdiag_dump(cs->q, seen, cs, CONNS_SCAN_MAX, &n, err,
	    sizeof(err));
	if (rc == 0 && cs->seen_nomem) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory for %zu sockets", n);
	}
	/* The room the match needs, made outside the lock. */
	if (rc == 0 && (room((void **)&cs->next, &cs->next_cap, cs->nseen,
	    sizeof(*cs->next)) != 0 || room((void **)&cs->best, &cs->best_cap,
	    cs->nseen, sizeof(*cs->best)) != 0)) {
		rc = -ENOMEM;
		snprintf(err, sizeof(err), "out of memory for %zu "
		    "connections", cs->nseen);
	}
	if (rc == 0) {
		dispatch_lock(d);
		rc = snapshot(cs);
		dispatch_unlock(d);
		if (rc != 0)
			snprintf(err, sizeof(err), "out of memory for the "
			    "rules");
	}
	/* Most sockets match no rule: found out without the lock. */
	for (i = 0; rc == 0 && i < cs->nseen; i++)
		cs->best[i] = cs->nsnap > 0 ? best_rule(cs, &cs->seen[i]) : 0;
	dispatch_lock(d);
	cs->st.scans++;
	if (rc == 0) {
		clock_gettime(CLOCK_REALTIME, &now);
		match(cs, ongoing, &now);
	} else
		cs->st.scan_errors++;
	dispatch_unlock(d);
	/* Nothing is known then: a partial list would end live ones. */
	if (rc != 0 && log_ratelimit_ok(&cs->rl, &suppressed))
		log_warn("connections: scan: %s; no connection fireflies "
		    "from it%s", err, suppressed ?
		    " (earlier errors not logged)" : "");
}

int
conns_tick(struct conns *cs, struct dispatch *d, uint64_t now_ms)
{
	if (cs == NULL)
		return -1;
	if (until(cs, now_ms) == 0)
		scan(cs, d, now_ms);
	/* A scan's, and those of rules that ended and sockets that closed. */
	if (atomic_load(&cs->flush))
		send_out(cs, d);
	return until(cs, now_ms);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Scans, each when due; between them it sleeps until one is (or stop). */
static void *
conns_main(void *arg)
{
	struct conns *cs = arg;
	struct timespec ts;
	uint64_t at;
	int wait;

	for (;;) {
		wait = conns_tick(cs, cs->o.d, mono_ms());
		pthread_mutex_lock(&cs->mtx);
		if (cs->stop) {
			pthread_mutex_unlock(&cs->mtx);
			break;
		}
		/* A rule that started meanwhile set scan_due: look again. */
		if (wait != 0 && until(cs, mono_ms()) != 0 &&
		    !atomic_load(&cs->flush)) {
			at = mono_ms() + (wait < 0 ? 60000 : (uint64_t)wait);
			ts.tv_sec = (time_t)(at / 1000);
			ts.tv_nsec = (long)(at % 1000) * 1000000;
			pthread_cond_timedwait(&cs->cv, &cs->mtx, &ts);
		}
		pthread_mutex_unlock(&cs->mtx);
	}
	return NULL;
}

int
conns_run(struct conns *cs, char *err, size_t errlen)
{
	int rc;

	if ((rc = pthread_create(&cs->thread, NULL, conns_main, cs)) != 0) {
		snprintf(err, errlen, "the scanning thread: %s",
		    strerror(rc));
		return -rc;
	}
	cs->running = 1;
	return 0;
}

void
conns_stats(const struct conns *cs, struct conns_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (cs == NULL)
		return;
	*st = cs->st;
	st->rules = (uint32_t)cs->nrules;
	st->tracked = (uint32_t)cs->ntracked;
}
