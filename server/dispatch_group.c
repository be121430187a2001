/*
 * dispatch_group.c: see dispatch_group.h.
 */
#include <errno.h>
#include <string.h>

#include "dispatch_group.h"
#include "log.h"
#include "priv.h"

static void
set_match(struct group_call *g, const struct marker_rule *r)
{
	uint8_t key[FLOWREQ_KEY_LEN];

	flowreq_key(r, key);
	memcpy(g->match, key, sizeof(g->match));
	g->has_match = 1;
}

static void
plan_start(struct group_call *g, const Sctag__V1__FlowSpec *s)
{
	struct dispatch_prep *p = &g->prep;
	struct flows_flow f;
	char err[256];

	if (call_parse_spec(&g->cc, s, &p->spec, err, sizeof(err)) != 0)
		return;		/* the call says why */
	set_match(g, &p->spec.rule);
	/* Not markable, or already a flow (idempotent start): no change. */
	if (!p->spec.markable ||
	    flows_find(g->cc.d->flows, &p->spec, &f) == 0)
		return;
	p->rule = p->spec.rule;
	g->planned = 1;
}

static void
plan_end(struct group_call *g, const Sctag__V1__EndFlowRequest *e)
{
	struct dispatch_prep *p = &g->prep;
	struct flowreq_spec spec;
	struct flows_flow f;
	char err[256];
	int rc;

	if (e->which_case == SCTAG__V1__END_FLOW_REQUEST__WHICH_ID)
		rc = flows_get(g->cc.d->flows, e->id, &f);
	else if (e->which_case == SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC &&
	    e->spec != NULL && call_parse_spec(&g->cc, e->spec, &spec, err, sizeof(err)) == 0)
		rc = flows_find(g->cc.d->flows, &spec, &f);
	else
		return;
	if (rc != 0)
		return;
	set_match(g, &f.spec.rule);
	/* The same checks as the table's end: only a change it will make. */
	if (!f.spec.markable || (g->cc.role != AUTH_ROLE_ADMIN &&
	    strcmp(g->cc.caller, f.owner) != 0))
		return;
	p->rule = f.spec.rule;
	p->del = 1;
	g->planned = 1;
}

int
group_plan(struct group_call *g)
{
	const Sctag__V1__Request *req = g->cc.req;

	memset(&g->prep, 0, sizeof(g->prep));
	g->prep.rc = -ENOENT;		/* nothing done ahead */
	g->planned = 0;
	g->has_match = 0;
	switch (req->call_case) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:
		if (req->start_flow->flow)
			plan_start(g, req->start_flow->flow);
		return 1;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:
		plan_end(g, req->end_flow);
		return 1;
	default:
		return 0;
	}
}

int
group_conflicts(const struct group_call *g, size_t n,
    const struct group_call *c)
{
	size_t i;

	if (!c->has_match)
		return 0;
	for (i = 0; i < n; i++)
		if (g[i].has_match &&
		    memcmp(g[i].match, c->match, sizeof(c->match)) == 0)
			return 1;
	return 0;
}

void
group_apply(struct dispatch *d, struct group_call *g, size_t n)
{
	struct marker_rule rules[GROUP_MAX];
	struct mk_rule got[GROUP_MAX];
	uint8_t ops[GROUP_MAX];
	int32_t rc[GROUP_MAX];
	size_t idx[GROUP_MAX], i, k = 0;

	for (i = 0; i < n && k < GROUP_MAX; i++) {
		if (!g[i].planned)
			continue;
		rules[k] = g[i].prep.rule;
		ops[k] = g[i].prep.del ? PRIV_MANY_DEL : PRIV_MANY_ADD_NEW;
		rc[k] = -ENOENT;
		idx[k++] = i;
	}
	if (k == 0)
		return;
	/*
	 * A channel error (a timeout, the process gone): nothing is known
	 * to be done, so every call makes its own change and sees the
	 * error. (-ENOENT left in rc would read as "already deleted".)
	 */
	if (priv_rules_many(d->priv, ops, rules, k, rc, got) != 0) {
		for (i = 0; i < k; i++)
			g[idx[i]].prep.rc = -ENOENT;
		return;
	}
	for (i = 0; i < k; i++) {
		struct dispatch_prep *p = &g[idx[i]].prep;

		/* A rule already gone is what an end wants. */
		p->rc = p->del && rc[i] == -ENOENT ? 0 : rc[i];
		p->label = got[i].label;
		if (p->del && p->rc != 0)
			p->rc = -ENOENT;	/* the end tries itself */
	}
}

void
group_settle(struct dispatch *d, struct group_call *g)
{
	struct dispatch_prep *p = &g->prep;
	enum marker_add what;
	struct mk_rule got;
	char err[256];

	if (!g->planned || p->rc != 0 || p->used)
		return;
	if (p->del) {
		/* Should not happen: the end was checked as the table does. */
		if (priv_rule_add(d->priv, &p->rule, &what, &got, err,
		    sizeof(err)) != 0)
			log_warn("api: putting back a rule deleted ahead: %s",
			    err);
		else
			log_warn("api: a rule deleted ahead was not ended; "
			    "put back");
	} else if (priv_rule_del(d->priv, &p->rule, err, sizeof(err)) != 0)
		log_warn("api: removing a rule added ahead: %s", err);
	p->rc = -ENOENT;
}
