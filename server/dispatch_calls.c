/*
 * dispatch_calls.c: StartFlow, EndFlow, Batch, ListFlows, GetStatus,
 * GetRegistry, Ping, Reload, Drain.
 *
 * Reply messages are built from pieces in one arena and packed once; the
 * arena is freed after packing, so no reply structure outlives the call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conns.h"
#include "dispatch_calls.h"
#include "fflisten.h"
#include "ffsend.h"
#include "pipeflows.h"
#include "flowreq.h"
#include "log.h"
#include "tag.h"

/*
 * The pieces of one reply; grows as needed (a 1000-item batch takes about
 * 11,000), so a large reply can not fail half way after its items ran.
 */
struct arena {
	void	**p;
	size_t	  n, cap;
	int	  failed;
};

static void *
aalloc(struct arena *a, size_t size)
{
	void **np, *p;
	size_t ncap;

	if (a->n == a->cap) {
		ncap = a->cap ? a->cap * 2 : 256;
		if ((np = realloc(a->p, ncap * sizeof(*np))) == NULL) {
			a->failed = 1;
			return NULL;
		}
		a->p = np;
		a->cap = ncap;
	}
	if ((p = calloc(1, size)) == NULL) {
		a->failed = 1;
		return NULL;
	}
	a->p[a->n++] = p;
	return p;
}

static char *
astr(struct arena *a, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = aalloc(a, len);

	if (p)
		memcpy(p, s, len);
	return p ? p : (char *)"";
}

static void
afree(struct arena *a)
{
	while (a->n > 0)
		free(a->p[--a->n]);
	free(a->p);
	a->p = NULL;
	a->cap = 0;
}

Sctag__V1__Code
call_code(int rc)
{
	switch (rc) {
	case 0:
		return SCTAG__V1__CODE__OK;
	case -EINVAL:
	case -ERANGE:
	case -EAFNOSUPPORT:
	case -EOPNOTSUPP:
		return SCTAG__V1__CODE__INVALID_ARGUMENT;
	case -ENOENT:
		return SCTAG__V1__CODE__NOT_FOUND;
	case -EEXIST:
		return SCTAG__V1__CODE__ALREADY_EXISTS;
	case -EPERM:
	case -EACCES:
		return SCTAG__V1__CODE__PERMISSION_DENIED;
	case -ENOSPC:
	case -E2BIG:
	case -ENOMEM:
		return SCTAG__V1__CODE__RESOURCE_EXHAUSTED;
	case -ETIMEDOUT:
	case -EPIPE:
	case -ECONNRESET:
	case -EPROTO:
		return SCTAG__V1__CODE__UNAVAILABLE;
	default:
		return SCTAG__V1__CODE__INTERNAL;
	}
}

static const char *
exp_str(const struct reg *reg, uint32_t exp, char *buf, size_t len)
{
	const char *n = reg_exp_name(reg, exp);

	if (strcmp(n, "?") != 0)
		return n;
	snprintf(buf, len, "%u", exp);
	return buf;
}

static const char *
act_str(const struct reg *reg, uint32_t exp, uint32_t act, char *buf,
    size_t len)
{
	const char *n = reg_act_name(reg, exp, act);

	if (strcmp(n, "?") != 0)
		return n;
	snprintf(buf, len, "%u", act);
	return buf;
}

/* A flow of the table as the API shows it. */
static Sctag__V1__Flow *
flow_msg(struct arena *a, const struct reg *reg, const struct flows_flow *f)
{
	const struct marker_rule *r = &f->spec.rule;
	Sctag__V1__Flow *m = aalloc(a, sizeof(*m));
	Sctag__V1__FlowSpec *s = aalloc(a, sizeof(*s));
	Sctag__V1__Tag *t = aalloc(a, sizeof(*t));
	char buf[INET6_ADDRSTRLEN + 8], e[16], ac[16];

	if (!m || !s || !t)
		return NULL;
	sctag__v1__flow__init(m);
	sctag__v1__flow_spec__init(s);
	sctag__v1__tag__init(t);
	s->protocol = (Sctag__V1__Protocol)r->proto;
	flowreq_src_str(r, buf, sizeof(buf));
	s->src = astr(a, buf);
	s->src_port = r->sport;
	flowreq_dst_str(r, buf, sizeof(buf));
	s->dst = astr(a, buf);
	s->dst_port = r->dport;
	t->experiment = astr(a, exp_str(reg, r->exp, e, sizeof(e)));
	t->activity = astr(a, act_str(reg, r->exp, r->act, ac, sizeof(ac)));
	t->scitag = tag_scitag_join(r->exp, r->act);
	s->tag = t;
	s->strategy = (Sctag__V1__Strategy)r->strategy;
	s->ttl_seconds = f->spec.ttl_seconds;
	s->application = astr(a, f->spec.application);
	s->per_connection = f->spec.per_conn != 0;
	m->id = f->id;
	m->spec = s;
	m->experiment = r->exp;
	m->activity = r->act;
	m->flow_label = f->label;
	m->markable = f->spec.markable != 0;
	m->owner = astr(a, f->owner);
	m->created_ms = f->created_ms;
	m->expires_ms = f->expires_ms;
	return m;
}

int
call_parse_spec(struct call_ctx *cc, const Sctag__V1__FlowSpec *s,
    struct flowreq_spec *spec, char *err, size_t errlen)
{
	struct flowreq_in in;

	memset(&in, 0, sizeof(in));
	in.protocol = (int)s->protocol;
	in.src = s->src;
	in.src_port = s->src_port;
	in.dst = s->dst;
	in.dst_port = s->dst_port;
	in.experiment = s->tag ? s->tag->experiment : "";
	in.activity = s->tag ? s->tag->activity : "";
	in.scitag = s->tag ? s->tag->scitag : 0;
	in.strategy = (int)s->strategy;
	in.ttl_seconds = s->ttl_seconds;
	in.application = s->application;
	in.per_conn = s->per_connection;
	return flowreq_parse(&in, *cc->d->regp, cc->d->cfg->strategy, spec,
	    err, errlen);
}

static int
do_start(struct call_ctx *cc, const Sctag__V1__FlowSpec *s,
    struct flows_flow *f, int *created, char *err, size_t errlen)
{
	struct flowreq_spec spec;
	int rc;

	if ((rc = call_parse_spec(cc, s, &spec, err, errlen)) != 0)
		return rc;
	return flows_start(cc->d->flows, &spec, cc->caller, cc->now_ms, f,
	    created, err, errlen);
}

static int
do_end(struct call_ctx *cc, const Sctag__V1__EndFlowRequest *e,
    struct flows_flow *f, char *err, size_t errlen)
{
	struct flowreq_spec spec;
	int admin = cc->role == AUTH_ROLE_ADMIN, rc;

	if (e->which_case == SCTAG__V1__END_FLOW_REQUEST__WHICH_ID)
		return flows_end_id(cc->d->flows, e->id, cc->caller, admin, f,
		    err, errlen);
	if ((rc = call_parse_spec(cc, e->spec, &spec, err, errlen)) != 0)
		return rc;
	return flows_end_spec(cc->d->flows, &spec, cc->caller, admin, f, err,
	    errlen);
}

/*
 * Add, many per round trip to the privileged process, the rules of the
 * batch's starts that are new: the flow table then takes them one item at
 * a time (netproc's backend). Only rules whose match is absent are added,
 * so no flow's rule is ever changed ahead of its item. Returns the
 * per-item table (NULL: none; the items then run one by one).
 */
static struct dispatch_prep *
batch_prepare(struct call_ctx *cc, const Sctag__V1__BatchRequest *b)
{
	struct dispatch_prep *prep;
	struct marker_rule *rules;
	struct mk_rule *got;
	struct flows_flow f;
	size_t *idx, i, k = 0;
	int32_t *rc;
	char err[256];

	prep = calloc(b->n_items, sizeof(*prep));
	rules = calloc(b->n_items, sizeof(*rules));
	idx = calloc(b->n_items, sizeof(*idx));
	rc = calloc(b->n_items, sizeof(*rc));
	got = calloc(b->n_items, sizeof(*got));
	if (!prep || !rules || !idx || !rc || !got)
		goto fail;
	for (i = 0; i < b->n_items; i++) {
		prep[i].rc = -ENOENT;	/* not prepared */
		if (b->items[i]->op_case != SCTAG__V1__BATCH_ITEM__OP_START ||
		    call_parse_spec(cc, b->items[i]->start, &prep[i].spec, err,
		    sizeof(err)) != 0)
			continue;
		prep[i].have_spec = 1;
		if (!prep[i].spec.markable ||
		    flows_find(cc->d->flows, &prep[i].spec, &f) == 0)
			continue;
		rules[k] = prep[i].spec.rule;
		idx[k++] = i;
	}
	for (i = 0; i < k; i++)
		rc[i] = -ENOENT;	/* not answered */
	if (k > 0 && priv_rules_add_new(cc->d->priv, rules, k, rc, got) != 0) {
		/* Chunks that went through before the failure: undo them. */
		for (i = 0; i < k; i++)
			if (rc[i] == 0 && priv_rule_del(cc->d->priv, &rules[i],
			    err, sizeof(err)) != 0)
				log_warn("batch: undoing a rule: %s", err);
		goto fail;
	}
	for (i = 0; i < k; i++) {
		prep[idx[i]].rule = rules[i];
		prep[idx[i]].rc = rc[i];
		prep[idx[i]].label = got[i].label;
	}
	free(rules);
	free(idx);
	free(rc);
	free(got);
	return prep;
fail:
	free(prep);
	free(rules);
	free(idx);
	free(rc);
	free(got);
	return NULL;
}

/* Remove rules added ahead that no item took; free the table if asked. */
static void
batch_unprepare(struct call_ctx *cc, struct dispatch_prep *prep, size_t n,
    int release)
{
	char err[256];
	size_t i;

	for (i = 0; prep && i < n; i++)
		if (prep[i].rc == 0 && !prep[i].used &&
		    priv_rule_del(cc->d->priv, &prep[i].rule, err,
		    sizeof(err)) != 0)
			log_warn("batch: removing an unused rule: %s", err);
	if (release)
		free(prep);
}

static int
call_batch(struct call_ctx *cc, struct arena *a, Sctag__V1__Reply *rep)
{
	const Sctag__V1__BatchRequest *b = cc->req->batch;
	Sctag__V1__BatchReply *br = aalloc(a, sizeof(*br));
	Sctag__V1__BatchResult **res;
	struct dispatch_prep *prep;
	struct flows_flow f;
	char err[256];
	size_t i;
	int rc, created;

	if (!br || (res = aalloc(a, (b->n_items + 1) * sizeof(*res))) == NULL)
		return -ENOMEM;
	sctag__v1__batch_reply__init(br);
	br->results = res;
	br->n_results = b->n_items;
	prep = batch_prepare(cc, b);
	for (i = 0; i < b->n_items; i++) {
		Sctag__V1__BatchResult *r = aalloc(a, sizeof(*r));
		const Sctag__V1__BatchItem *it = b->items[i];

		if (!r) {
			batch_unprepare(cc, prep, b->n_items, 1);
			return -ENOMEM;
		}
		sctag__v1__batch_result__init(r);
		err[0] = '\0';
		cc->d->prep_cur = prep && prep[i].rc == 0 ? &prep[i] : NULL;
		/* A start parsed by batch_prepare is not parsed again; one
		 * that did not parse is, for its message. */
		if (it->op_case == SCTAG__V1__BATCH_ITEM__OP_START && prep &&
		    prep[i].have_spec)
			rc = flows_start(cc->d->flows, &prep[i].spec,
			    cc->caller, cc->now_ms, &f, &created, err,
			    sizeof(err));
		else if (it->op_case == SCTAG__V1__BATCH_ITEM__OP_START)
			rc = do_start(cc, it->start, &f, &created, err,
			    sizeof(err));
		else
			rc = do_end(cc, it->end, &f, err, sizeof(err));
		cc->d->prep_cur = NULL;
		/*
		 * Not taken (its item failed): out of the kernel now, before a
		 * later item of the batch could start the same match.
		 */
		if (prep && prep[i].rc == 0 && !prep[i].used) {
			batch_unprepare(cc, &prep[i], 1, 0);
			prep[i].rc = -ENOENT;
		}
		r->code = call_code(rc);
		r->message = astr(a, rc ? err : "");
		if (rc == 0)
			r->flow = flow_msg(a, *cc->d->regp, &f);
		br->results[i] = r;
	}
	free(prep);
	rep->result_case = SCTAG__V1__REPLY__RESULT_BATCH;
	rep->batch = br;
	return 0;
}

static int
call_list(struct call_ctx *cc, struct arena *a, Sctag__V1__Reply *rep,
    char *err, size_t errlen)
{
	const Sctag__V1__ListFlowsRequest *l = cc->req->list_flows;
	Sctag__V1__ListFlowsReply *lr = aalloc(a, sizeof(*lr));
	struct flows_filter flt;
	struct flows_flow *fl;
	char next[FLOWS_TOKEN_LEN + 1];
	uint32_t n = 0, size = flows_page_size(l->page_size), i, exp;
	uint64_t total = 0;
	int fam, rc;

	if (!lr)
		return -ENOMEM;
	sctag__v1__list_flows_reply__init(lr);
	memset(&flt, 0, sizeof(flt));
	flt.owner = l->owner;
	if (l->experiment[0] != '\0') {
		if ((rc = reg_resolve_exp(*cc->d->regp, l->experiment, &exp,
		    err, errlen)) != 0)
			return rc;
		flt.exp = exp;
	}
	if (l->dst_prefix[0] != '\0') {
		if ((rc = flowreq_parse_prefix("dst_prefix", l->dst_prefix,
		    flt.dst, &flt.dst_plen, &fam, err, errlen)) != 0)
			return rc;
		flt.has_dst = 1;
	}
	if ((fl = calloc(size, sizeof(*fl))) == NULL)
		return -ENOMEM;
	rc = flows_list(cc->d->flows, &flt, l->page_token, size, fl, &n,
	    next, &total, err, errlen);
	if (rc == 0 && n > 0 &&
	    (lr->flows = aalloc(a, n * sizeof(*lr->flows))) == NULL)
		rc = -ENOMEM;
	for (i = 0; rc == 0 && i < n; i++)
		if ((lr->flows[i] = flow_msg(a, *cc->d->regp, &fl[i])) == NULL)
			rc = -ENOMEM;
	free(fl);
	if (rc != 0)
		return rc;
	lr->n_flows = n;
	lr->next_page_token = astr(a, next);
	lr->total = total;
	rep->result_case = SCTAG__V1__REPLY__RESULT_LIST_FLOWS;
	rep->list_flows = lr;
	return 0;
}

/* "proto+src+sport+dport", "prefix:dport", "default". */
static const char *
shape_name(char *buf, size_t len, int shape, int lpm)
{
	snprintf(buf, len, "%s%s%s%s%sdst", lpm ? "prefix:" : "",
	    shape & MK_F_PROTO ? "proto+" : "", shape & MK_F_SADDR ? "src+" : "",
	    shape & MK_F_SPORT ? "sport+" : "", shape & MK_F_DPORT ?
	    "dport+" : "");
	return buf;
}

static Sctag__V1__Counter *
counter(struct arena *a, const char *name, uint64_t v)
{
	Sctag__V1__Counter *c = aalloc(a, sizeof(*c));

	if (c) {
		sctag__v1__counter__init(c);
		c->name = astr(a, name);
		c->value = v;
	}
	return c;
}

static int
call_status(struct call_ctx *cc, struct arena *a, Sctag__V1__Reply *rep)
{
	const struct cfg *cfg = cc->d->cfg;
	Sctag__V1__GetStatusReply *s = aalloc(a, sizeof(*s));
	uint32_t hash[MK_NSHAPES], lpm[MK_NSHAPES], def = 0, cap = 0;
	uint64_t c[MK_C_MAX], ff_sent, ff_err, ff_unres, ff_bad;
	struct flows_stats fs;
	struct fflisten_stats fl;
	struct conns_stats cst;
	char buf[64];
	size_t i, n;

	if (!s)
		return -ENOMEM;
	sctag__v1__get_status_reply__init(s);
	s->version = astr(a, SCTAG_VERSION);
	s->host = astr(a, cc->d->host);
	s->uptime_s = (cc->now_ms - cc->d->started_ms) / 1000;
	s->strategy = (Sctag__V1__Strategy)cfg->strategy;
	s->registry_source = astr(a, (*cc->d->regp)->source);
	if ((s->interfaces = aalloc(a, (cfg->nifaces + 1) *
	    sizeof(*s->interfaces))) == NULL)
		return -ENOMEM;
	for (i = 0; i < cfg->nifaces; i++) {
		Sctag__V1__Interface *ifc = aalloc(a, sizeof(*ifc));

		if (!ifc)
			return -ENOMEM;
		sctag__v1__interface__init(ifc);
		ifc->name = astr(a, cfg->ifaces[i]);
		ifc->attached = 1;	/* sctagd does not start otherwise */
		s->interfaces[s->n_interfaces++] = ifc;
	}
	flows_stats(cc->d->flows, &fs);
	s->capacity = fs.capacity;
	s->used = fs.count;
	if (priv_usage(cc->d->priv, hash, lpm, &def, &cap) == 0) {
		if ((s->shapes = aalloc(a, (2 * MK_NSHAPES + 1) *
		    sizeof(*s->shapes))) == NULL)
			return -ENOMEM;
		for (i = 0; i < 2 * MK_NSHAPES + 1; i++) {
			int lp = i >= MK_NSHAPES, sh = (int)(i % MK_NSHAPES);
			uint32_t v = i == 2 * MK_NSHAPES ? def :
			    lp ? lpm[sh] : hash[sh];
			Sctag__V1__ShapeUse *u;

			if (v == 0)
				continue;
			if ((u = aalloc(a, sizeof(*u))) == NULL)
				return -ENOMEM;
			sctag__v1__shape_use__init(u);
			u->shape = astr(a, i == 2 * MK_NSHAPES ? "default" :
			    shape_name(buf, sizeof(buf), sh, lp));
			u->rules = v;
			s->shapes[s->n_shapes++] = u;
		}
	}
	n = MK_C_MAX + 30 + FFL_DROP_COUNT;
	if ((s->counters = aalloc(a, n * sizeof(*s->counters))) == NULL)
		return -ENOMEM;
	if (priv_counters(cc->d->priv, c) == 0)
		for (i = 0; i < MK_C_MAX; i++)
			s->counters[s->n_counters++] = counter(a,
			    marker_counter_name((enum mk_counter)i), c[i]);
	s->counters[s->n_counters++] = counter(a, "marker_capacity", cap);
	s->counters[s->n_counters++] = counter(a, "api_requests",
	    cc->d->requests);
	s->counters[s->n_counters++] = counter(a, "api_refused",
	    cc->d->refused);
	s->counters[s->n_counters++] = counter(a, "api_call_groups",
	    cc->d->groups);
	s->counters[s->n_counters++] = counter(a, "api_grouped_calls",
	    cc->d->grouped);
	ffsend_totals(cc->d->ff, &ff_sent, &ff_err, &ff_unres, &ff_bad);
	s->counters[s->n_counters++] = counter(a, "fireflies_sent", ff_sent);
	s->counters[s->n_counters++] = counter(a, "fireflies_send_errors",
	    ff_err);
	s->counters[s->n_counters++] = counter(a, "fireflies_unresolved",
	    ff_unres);
	s->counters[s->n_counters++] = counter(a, "fireflies_not_built",
	    ff_bad);
	fflisten_get_stats(cc->d->ffl, &fl);
	s->counters[s->n_counters++] = counter(a, "fireflies_received",
	    fl.received);
	s->counters[s->n_counters++] = counter(a, "fireflies_accepted",
	    fl.accepted);
	for (i = 1; i < FFL_DROP_COUNT; i++) {
		snprintf(buf, sizeof(buf), "fireflies_dropped_%s",
		    fflisten_drop_name((int)i));
		s->counters[s->n_counters++] = counter(a, buf, fl.dropped[i]);
	}
	if (cc->d->conns != NULL) {
		conns_stats(cc->d->conns, &cst);
		s->counters[s->n_counters++] = counter(a,
		    "connection_rules", cst.rules);
		s->counters[s->n_counters++] = counter(a,
		    "connections_tracked", cst.tracked);
		s->counters[s->n_counters++] = counter(a,
		    "connections_announced", cst.announced);
		s->counters[s->n_counters++] = counter(a,
		    "fireflies_ongoing", cst.ongoing);
		s->counters[s->n_counters++] = counter(a,
		    "connection_scans", cst.scans);
		s->counters[s->n_counters++] = counter(a,
		    "connection_scan_errors", cst.scan_errors);
		s->counters[s->n_counters++] = counter(a,
		    "connection_rules_over", cst.rules_over);
	}
	if (cc->d->pf != NULL) {
		s->counters[s->n_counters++] = counter(a, "pipe_flows_started",
		    cc->d->pf->started);
		s->counters[s->n_counters++] = counter(a, "pipe_flows_ended",
		    cc->d->pf->ended);
		s->counters[s->n_counters++] = counter(a, "pipe_lines_refused",
		    cc->d->pf->refused);
		s->counters[s->n_counters++] = counter(a, "pipe_exchanges",
		    cc->d->pf->exchanges);
	}
	s->counters[s->n_counters++] = counter(a, "flows_started", fs.started);
	s->counters[s->n_counters++] = counter(a, "flows_ended", fs.ended);
	s->counters[s->n_counters++] = counter(a, "flows_expired", fs.expired);
	if (a->failed)
		return -ENOMEM;
	rep->result_case = SCTAG__V1__REPLY__RESULT_GET_STATUS;
	rep->get_status = s;
	return 0;
}

static int
call_registry(struct call_ctx *cc, struct arena *a, Sctag__V1__Reply *rep)
{
	const struct reg *reg = *cc->d->regp;
	Sctag__V1__GetRegistryReply *g = aalloc(a, sizeof(*g));
	Sctag__V1__Experiment **xs;
	Sctag__V1__Activity **ys;
	size_t i, j;

	if (!g || (xs = aalloc(a, (reg->nexps + 1) * sizeof(*xs))) == NULL)
		return -ENOMEM;
	sctag__v1__get_registry_reply__init(g);
	g->experiments = xs;
	for (i = 0; i < reg->nexps; i++) {
		const struct reg_experiment *e = &reg->exps[i];
		Sctag__V1__Experiment *x = aalloc(a, sizeof(*x));

		if (!x || (ys = aalloc(a, (e->nacts + 1) * sizeof(*ys))) == NULL)
			return -ENOMEM;
		sctag__v1__experiment__init(x);
		x->activities = ys;
		x->id = e->id;
		x->name = astr(a, e->name);
		for (j = 0; j < e->nacts; j++) {
			Sctag__V1__Activity *y = aalloc(a, sizeof(*y));

			if (!y)
				return -ENOMEM;
			sctag__v1__activity__init(y);
			y->id = e->acts[j].id;
			y->name = astr(a, e->acts[j].name);
			x->activities[x->n_activities++] = y;
		}
		g->experiments[g->n_experiments++] = x;
	}
	g->modified = astr(a, reg->modified);
	g->source = astr(a, reg->source);
	rep->result_case = SCTAG__V1__REPLY__RESULT_GET_REGISTRY;
	rep->get_registry = g;
	return 0;
}

static void
drained(void *arg, const struct flows_flow *f, int rc, const char *err)
{
	(void)arg;
	if (rc != 0)
		log_warn("drain: flow %llu: %s", (unsigned long long)f->id,
		    err);
}

static int
run(struct call_ctx *cc, struct arena *a, Sctag__V1__Reply *rep, char *err,
    size_t errlen)
{
	const Sctag__V1__Request *req = cc->req;
	struct flows_flow f;
	struct flows_drain ds;
	int rc, created;

	switch (req->call_case) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW: {
		Sctag__V1__StartFlowReply *r = aalloc(a, sizeof(*r));

		if (!r)
			return -ENOMEM;
		sctag__v1__start_flow_reply__init(r);
		if ((rc = do_start(cc, req->start_flow->flow, &f, &created,
		    err, errlen)) != 0)
			return rc;
		r->flow = flow_msg(a, *cc->d->regp, &f);
		r->created = created != 0;
		rep->result_case = SCTAG__V1__REPLY__RESULT_START_FLOW;
		rep->start_flow = r;
		return 0;
	}
	case SCTAG__V1__REQUEST__CALL_END_FLOW: {
		Sctag__V1__EndFlowReply *r = aalloc(a, sizeof(*r));

		if (!r)
			return -ENOMEM;
		sctag__v1__end_flow_reply__init(r);
		if ((rc = do_end(cc, req->end_flow, &f, err, errlen)) != 0)
			return rc;
		r->flow = flow_msg(a, *cc->d->regp, &f);
		rep->result_case = SCTAG__V1__REPLY__RESULT_END_FLOW;
		rep->end_flow = r;
		return 0;
	}
	case SCTAG__V1__REQUEST__CALL_BATCH:
		return call_batch(cc, a, rep);
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:
		return call_list(cc, a, rep, err, errlen);
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:
		return call_status(cc, a, rep);
	case SCTAG__V1__REQUEST__CALL_GET_REGISTRY:
		return call_registry(cc, a, rep);
	case SCTAG__V1__REQUEST__CALL_PING: {
		Sctag__V1__PingReply *r = aalloc(a, sizeof(*r));

		if (!r)
			return -ENOMEM;
		sctag__v1__ping_reply__init(r);
		r->payload = req->ping->payload;
		r->agent_time_ms = cc->now_ms;
		rep->result_case = SCTAG__V1__REPLY__RESULT_PING;
		rep->ping = r;
		return 0;
	}
	case SCTAG__V1__REQUEST__CALL_RELOAD: {
		Sctag__V1__ReloadReply *r = aalloc(a, sizeof(*r));
		char msg[512];

		if (!r)
			return -ENOMEM;
		sctag__v1__reload_reply__init(r);
		rc = dispatch_reload(cc->d, msg, sizeof(msg));
		log_info("reload by %s: %s", cc->caller, msg);
		if (rc != 0) {
			snprintf(err, errlen, "%s", msg);
			return -EINVAL;
		}
		r->message = astr(a, msg);
		rep->result_case = SCTAG__V1__REPLY__RESULT_RELOAD;
		rep->reload = r;
		return 0;
	}
	case SCTAG__V1__REQUEST__CALL_DRAIN: {
		Sctag__V1__DrainReply *r = aalloc(a, sizeof(*r));
		const char *owner = req->drain->owner;
		int rounds;

		if (!r)
			return -ENOMEM;
		sctag__v1__drain_reply__init(r);
		memset(&ds, 0, sizeof(ds));
		/* Bounded: the table holds at most 2^24 flows. */
		for (rounds = 0, ds.more = 1; ds.more && rounds < 1024;
		    rounds++)
			if ((rc = flows_drain(cc->d->flows, owner, 65536,
			    drained, NULL, &ds)) < 0)
				return rc;
		r->ended = ds.ended;
		log_info("drain by %s (%s): %u flow(s) ended", cc->caller,
		    owner[0] ? owner : "all owners", ds.ended);
		rep->result_case = SCTAG__V1__REPLY__RESULT_DRAIN;
		rep->drain = r;
		return 0;
	}
	default:
		snprintf(err, errlen, "no call in the request");
		return -EINVAL;
	}
}

int
call_event_pack(const struct reg *reg, const char *host, uint64_t seq,
    uint64_t run_id, int kind, const struct flows_flow *f, uint8_t **out,
    size_t *outlen)
{
	Sctag__V1__Event ev = SCTAG__V1__EVENT__INIT;
	struct arena a;
	int rc = 0;

	memset(&a, 0, sizeof(a));
	ev.seq = seq;
	ev.run_id = run_id;
	ev.time_ms = dispatch_now_ms();
	ev.kind = (Sctag__V1__EventKind)kind;
	ev.host = (char *)host;
	ev.flow = flow_msg(&a, reg, f);
	*out = NULL;
	*outlen = 0;
	if (ev.flow == NULL || a.failed ||
	    (*out = malloc(sctag__v1__event__get_packed_size(&ev))) == NULL)
		rc = -ENOMEM;
	else
		*outlen = sctag__v1__event__pack(&ev, *out);
	afree(&a);
	return rc;
}

int
call_run(struct call_ctx *cc, uint8_t **out, size_t *outlen)
{
	Sctag__V1__Reply rep = SCTAG__V1__REPLY__INIT;
	struct arena *a;
	char err[512] = "";
	int rc;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	rc = run(cc, a, &rep, err, sizeof(err));
	if (rc == 0 && a->failed)
		rc = -ENOMEM;
	if (rc != 0) {
		afree(a);
		free(a);
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		return wire_reply_error(call_code(rc), err,
		    cc->req->request_id.data, cc->req->request_id.len, out,
		    outlen);
	}
	rep.request_id = cc->req->request_id;
	rep.code = SCTAG__V1__CODE__OK;
	rep.message = (char *)"";
	rc = wire_reply_build(&rep, out, outlen);
	afree(a);
	free(a);
	return rc;
}
