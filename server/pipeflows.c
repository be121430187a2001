/*
 * pipeflows.c: see pipeflows.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "dispatch_group.h"
#include "flowspec.h"
#include "log.h"
#include "pipeflows.h"

static struct log_ratelimit refused_rl = LOG_RATELIMIT_INIT(5, 60);

static void
spec_of(const struct pipe_event *ev, struct flowreq_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->rule = ev->fs.rule;
	s->family = ev->fs.family;
	s->markable = ev->fs.family == AF_INET6;
	/* What flowreq_parse does: an IPv4 flow has nothing to mark. */
	if (!s->markable)
		s->rule.strategy = MK_STRAT_NONE;
}

/* The kernel change a line will make, as the table will decide it. */
static void
plan(struct dispatch *d, const struct pipe_event *ev,
    const struct flowreq_spec *s, struct group_call *g)
{
	struct flows_flow f;
	uint8_t key[FLOWREQ_KEY_LEN];

	memset(g, 0, sizeof(*g));
	g->prep.rc = -ENOENT;
	flowreq_key(&s->rule, key);
	memcpy(g->match, key, sizeof(g->match));
	g->has_match = 1;
	if (!s->markable)
		return;
	if (ev->state == PIPE_START) {
		if (flows_find(d->flows, s, &f) == 0)
			return;		/* a repeated start */
		g->prep.rule = s->rule;
	} else if (flows_find(d->flows, s, &f) == 0) {
		if (strcmp(f.owner, PF_OWNER) != 0)
			return;		/* the end will be refused */
		g->prep.rule = f.spec.rule;
		g->prep.del = 1;
	} else if (flows_find_match(d->flows, &s->rule, &f) != 0) {
		/*
		 * No flow has this match: a rule adopted from before a
		 * restart, or none. The pipe's end removes it, as flowd's
		 * would; "not there" is fine.
		 */
		g->prep.rule = s->rule;
		g->prep.del = 1;
		g->direct = 1;
	} else
		return;			/* another tag's flow: refused */
	g->planned = 1;
}

static void
describe(struct dispatch *d, const struct pipe_event *ev, char *buf,
    size_t len)
{
	flowspec_format(&ev->fs, *d->regp, buf, len);
}

static void
run(struct dispatch *d, struct pf_batch *b, struct group_call *g,
    const struct flowreq_spec *s, size_t from, size_t to)
{
	struct flows_flow f;
	unsigned long suppressed;
	uint64_t now = dispatch_now_ms();
	char err[256], desc[256];
	size_t i;
	int rc, created, debug = log_get_level() >= LOG_LVL_DEBUG;

	if (from == to)
		return;
	group_apply(d, g + from, to - from);
	b->st.exchanges++;
	for (i = from; i < to; i++) {
		d->prep_cur = g[i].planned ? &g[i].prep : NULL;
		if (b->ev[i].state == PIPE_START) {
			rc = flows_start(d->flows, &s[i], PF_OWNER, now, &f,
			    &created, err, sizeof(err));
			b->st.started += rc == 0 && created;
		} else if (g[i].direct) {
			/* Not the table's: the change made ahead is all. */
			rc = g[i].prep.rc == 0 ? 0 : -EIO;
			g[i].prep.used = 1;
			snprintf(err, sizeof(err), "kernel rule not removed");
		} else {
			rc = flows_end_spec(d->flows, &s[i], PF_OWNER, 0, &f,
			    err, sizeof(err));
		}
		b->st.ended += rc == 0 && b->ev[i].state == PIPE_END;
		d->prep_cur = NULL;
		group_settle(d, &g[i]);
		if (rc == 0 && debug) {
			describe(d, &b->ev[i], desc, sizeof(desc));
			if (b->ev[i].state == PIPE_START)
				log_debug("pipe: start %s: flow %llu label "
				    "0x%05x%s", desc, (unsigned long long)f.id,
				    f.label, created ? "" : " (already there)");
			else
				log_debug("pipe: end %s", desc);
		}
		if (rc == 0)
			continue;
		b->st.refused++;
		if (log_ratelimit_ok(&refused_rl, &suppressed))
			log_warn("pipe: %s refused: %s%s", b->ev[i].state ==
			    PIPE_START ? "start" : "end", err, suppressed ?
			    " (earlier refusals not logged)" : "");
	}
}

void
pf_flush(struct dispatch *d, struct pf_batch *b)
{
	static struct group_call g[PF_BATCH];	/* state lock */
	static struct flowreq_spec s[PF_BATCH];
	size_t i, start = 0;

	for (i = 0; i < b->n; i++) {
		spec_of(&b->ev[i], &s[i]);
		plan(d, &b->ev[i], &s[i], &g[i]);
		/* One match twice (start then end): not in one exchange. */
		if (group_conflicts(g + start, i - start, &g[i])) {
			run(d, b, g, s, start, i);
			start = i;
			plan(d, &b->ev[i], &s[i], &g[i]);
		}
	}
	run(d, b, g, s, start, b->n);
	b->n = 0;
}

void
pf_push(struct dispatch *d, struct pf_batch *b, const struct pipe_event *ev)
{
	b->ev[b->n++] = *ev;
	if (b->n == PF_BATCH)
		pf_flush(d, b);
}
