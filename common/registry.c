/*
 * registry.c: the SciTags registry (scitags.org api.json).
 *
 * The registry arrives over the network at run time, so it is parsed like
 * any hostile input: every field checked, sizes bounded before anything is
 * allocated, and errors that say where the document is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonpos.h"
#include "registry.h"
#include "tag.h"

/* Generated at build time from data/scitags-registry-*.json. */
extern const unsigned char reg_builtin_json[];
extern const size_t reg_builtin_json_len;

#define REG_FILE_MAX	(4u << 20)	/* today's registry is 9 KiB */
#define REG_NAME_MAX	128
#define REG_QUOTE_MAX	64		/* user input echoed back */

struct rparse {
	const char		*buf;
	size_t			 len;
	char			*err;
	size_t			 errlen;
	struct jsonpos_seg	 segs[4];
	size_t			 nsegs;
};



/*
 * "line N: experiments[2].activities[0]: <message>". The line is the one
 * of `field` inside the current element when it is there, else the
 * element's own.
 */
static int
rerr(struct rparse *px, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
rerr(struct rparse *px, const char *field, const char *fmt, ...)
{
	struct jsonpos_seg	segs[5];
	char			path[256], msg[512];
	size_t			n = px->nsegs;
	int			line = 0;
	va_list			ap;

	memcpy(segs, px->segs, n * sizeof(segs[0]));
	if (field != NULL) {
		segs[n].key = field;
		line = jsonpos_line_segs(px->buf, px->len, segs, n + 1);
	}
	if (line == 0)
		line = jsonpos_line_segs(px->buf, px->len, segs, n);
	jsonpos_format(path, sizeof(path), segs, n);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(px->err, px->errlen, "line %d: %s: %s", line, path, msg);
	else
		snprintf(px->err, px->errlen, "%s: %s", path, msg);
	return -EINVAL;
}

static unsigned char
name_fold(unsigned char c)
{
	if (c == ' ' || c == '-')
		return '_';
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

/* Case-insensitive, and ' ', '-', '_' are one character (registry.h). */
static int
name_eq(const char *a, const char *b)
{
	const unsigned char	*x = (const unsigned char *)a;
	const unsigned char	*y = (const unsigned char *)b;

	for (; *x != '\0' && *y != '\0'; x++, y++)
		if (name_fold(*x) != name_fold(*y))
			return 0;
	return *x == *y;
}

/* A name's string and content; NULL with a message in px on error. */
static const char *
get_name(struct rparse *px, json_t *obj, const char *key)
{
	json_t		*v = json_object_get(obj, key);
	const char	*s;
	size_t		 i, n;

	if (v == NULL) {
		rerr(px, NULL, "%s is missing", key);
		return NULL;
	}
	if (!json_is_string(v)) {
		rerr(px, key, "%s is not a string (got %s)", key, jsonpos_type(v));
		return NULL;
	}
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0) {
		rerr(px, key, "%s is empty", key);
		return NULL;
	}
	if (n > REG_NAME_MAX) {
		rerr(px, key, "%s is longer than %d bytes", key, REG_NAME_MAX);
		return NULL;
	}
	/* Names end up in logs and messages: no control characters. */
	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
			rerr(px, key, "%s contains a control character", key);
			return NULL;
		}
	}
	return s;
}

static int
get_id(struct rparse *px, json_t *obj, const char *key, uint32_t max,
    uint32_t *out)
{
	json_t		*v = json_object_get(obj, key);
	json_int_t	 id;

	if (v == NULL)
		return rerr(px, NULL, "%s is missing", key);
	if (!json_is_integer(v))
		return rerr(px, key, "%s is not an integer (got %s)", key,
		    jsonpos_type(v));
	id = json_integer_value(v);
	if (id < 1 || id > (json_int_t)max)
		return rerr(px, key, "%s %" JSON_INTEGER_FORMAT
		    " is out of range (1..%u)", key, id, max);
	*out = (uint32_t)id;
	return 0;
}

static int
parse_act(struct rparse *px, json_t *av, struct reg_experiment *e)
{
	struct reg_activity	*a = &e->acts[e->nacts];
	const char		*name;
	uint32_t		 id;
	size_t			 j;
	int			 rc;

	if (!json_is_object(av))
		return rerr(px, NULL, "expected an object, got %s", jsonpos_type(av));
	if ((name = get_name(px, av, "activityName")) == NULL)
		return -EINVAL;
	if ((rc = get_id(px, av, "activityId", TAG_ACT_MAX, &id)) < 0)
		return rc;
	for (j = 0; j < e->nacts; j++) {
		if (e->acts[j].id == id)
			return rerr(px, "activityId", "activityId %u is also "
			    "used by activities[%zu] (%s)", id, j,
			    e->acts[j].name);
		if (name_eq(e->acts[j].name, name))
			return rerr(px, "activityName", "activityName '%s' is "
			    "the same name as activities[%zu] ('%s')", name, j,
			    e->acts[j].name);
	}
	if ((a->name = strdup(name)) == NULL)
		return -ENOMEM;
	a->id = id;
	e->nacts++;
	return 0;
}

static int
parse_exp(struct rparse *px, json_t *ev, struct reg *r)
{
	struct reg_experiment	*e = &r->exps[r->nexps];
	json_t			*acts, *av;
	const char		*name;
	uint32_t		 id;
	size_t			 i, j, n;
	int			 rc = 0;

	if (!json_is_object(ev))
		return rerr(px, NULL, "expected an object, got %s", jsonpos_type(ev));
	if ((name = get_name(px, ev, "expName")) == NULL)
		return -EINVAL;
	if ((rc = get_id(px, ev, "expId", TAG_EXP_MAX, &id)) < 0)
		return rc;
	for (j = 0; j < r->nexps; j++) {
		if (r->exps[j].id == id)
			return rerr(px, "expId", "expId %u is also used by "
			    "experiments[%zu] (%s)", id, j, r->exps[j].name);
		if (name_eq(r->exps[j].name, name))
			return rerr(px, "expName", "expName '%s' is the same "
			    "name as experiments[%zu] ('%s')", name, j,
			    r->exps[j].name);
	}
	acts = json_object_get(ev, "activities");
	if (acts == NULL)
		return rerr(px, NULL, "activities is missing");
	if (!json_is_array(acts))
		return rerr(px, "activities", "activities is not an array "
		    "(got %s)", jsonpos_type(acts));
	/* Ids are unique in 1..63: more entries can only be an error. */
	if ((n = json_array_size(acts)) > TAG_ACT_MAX)
		return rerr(px, "activities", "more than %d activities",
		    TAG_ACT_MAX);

	/* Owned by r from here on, so reg_free cleans up after errors. */
	if ((e->name = strdup(name)) == NULL)
		return -ENOMEM;
	e->id = id;
	r->nexps++;
	if (n > 0 && (e->acts = calloc(n, sizeof(*e->acts))) == NULL)
		return -ENOMEM;

	px->segs[px->nsegs].key = "activities";
	px->segs[px->nsegs + 1].key = NULL;
	px->nsegs += 2;
	json_array_foreach(acts, i, av) {
		px->segs[px->nsegs - 1].index = i;
		if ((rc = parse_act(px, av, e)) < 0)
			break;
	}
	px->nsegs -= 2;
	return rc < 0 ? rc : 0;
}

int
reg_parse(const char *buf, size_t len, const char *source,
    struct reg **out, char *err, size_t errlen)
{
	struct rparse	 px = { buf, len, err, errlen, { { 0 } }, 0 };
	json_error_t	 je;
	json_t		*root = NULL, *exps, *ev, *mod;
	struct reg	*r = NULL;
	size_t		 i, n;
	int		 rc = -EINVAL;

	*out = NULL;
	if (buf == NULL) {
		snprintf(err, errlen, "no registry data");
		return -EINVAL;
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "line %d: %s", je.line, je.text);
		return -EINVAL;
	}
	if (!json_is_object(root)) {
		rerr(&px, NULL, "expected an object, got %s", jsonpos_type(root));
		goto out;
	}
	exps = json_object_get(root, "experiments");
	if (exps == NULL) {
		rerr(&px, NULL, "\"experiments\" is missing");
		goto out;
	}
	if (!json_is_array(exps)) {
		rerr(&px, "experiments", "experiments is not an array (got %s)",
		    jsonpos_type(exps));
		goto out;
	}
	if ((n = json_array_size(exps)) > TAG_EXP_MAX) {
		rerr(&px, "experiments", "more than %d experiments",
		    TAG_EXP_MAX);
		goto out;
	}

	rc = -ENOMEM;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		goto out;
	if (n > 0 && (r->exps = calloc(n, sizeof(*r->exps))) == NULL)
		goto out;
	mod = json_object_get(root, "modified");
	r->modified = strdup(json_is_string(mod) ? json_string_value(mod) : "");
	r->source = strdup(source != NULL ? source : "memory");
	if (r->modified == NULL || r->source == NULL)
		goto out;

	px.segs[0].key = "experiments";
	px.segs[1].key = NULL;
	px.nsegs = 2;
	json_array_foreach(exps, i, ev) {
		px.segs[1].index = i;
		if ((rc = parse_exp(&px, ev, r)) < 0)
			goto out;
	}
	rc = 0;
out:
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	json_decref(root);
	if (rc < 0)
		reg_free(r);
	else
		*out = r;
	return rc;
}

int
reg_load_file(const char *path, struct reg **out, char *err, size_t errlen)
{
	char	*buf = NULL, msg[512];
	size_t	 len;
	int	 rc;

	*out = NULL;
	rc = jsonpos_read_file(path, REG_FILE_MAX, &buf, &len, err, errlen);
	if (rc < 0)
		return rc;
	msg[0] = '\0';
	rc = reg_parse(buf, len, path, out, msg, sizeof(msg));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, msg);
	free(buf);
	return rc;
}

int
reg_load_builtin(struct reg **out, char *err, size_t errlen)
{
	return reg_parse((const char *)reg_builtin_json, reg_builtin_json_len,
	    "built-in", out, err, errlen);
}

void
reg_free(struct reg *r)
{
	size_t	i, j;

	if (r == NULL)
		return;
	for (i = 0; i < r->nexps; i++) {
		for (j = 0; j < r->exps[i].nacts; j++)
			free(r->exps[i].acts[j].name);
		free(r->exps[i].acts);
		free(r->exps[i].name);
	}
	free(r->exps);
	free(r->modified);
	free(r->source);
	free(r);
}

const struct reg_experiment *
reg_exp_by_id(const struct reg *r, uint32_t id)
{
	size_t	i;

	if (r == NULL)
		return NULL;
	for (i = 0; i < r->nexps; i++)
		if (r->exps[i].id == id)
			return &r->exps[i];
	return NULL;
}

const struct reg_experiment *
reg_exp_by_name(const struct reg *r, const char *name)
{
	size_t	i;

	if (r == NULL || name == NULL)
		return NULL;
	for (i = 0; i < r->nexps; i++)
		if (name_eq(r->exps[i].name, name))
			return &r->exps[i];
	return NULL;
}

const struct reg_activity *
reg_act_by_id(const struct reg_experiment *e, uint32_t id)
{
	size_t	i;

	if (e == NULL)
		return NULL;
	for (i = 0; i < e->nacts; i++)
		if (e->acts[i].id == id)
			return &e->acts[i];
	return NULL;
}

const struct reg_activity *
reg_act_by_name(const struct reg_experiment *e, const char *name)
{
	size_t	i;

	if (e == NULL || name == NULL)
		return NULL;
	for (i = 0; i < e->nacts; i++)
		if (name_eq(e->acts[i].name, name))
			return &e->acts[i];
	return NULL;
}

/*
 * A decimal id in 1..max. -EINVAL: not a number at all (maybe a name);
 * -ERANGE: a number, but 0, negative or above max. Digits beyond max stop
 * accumulating, so no length of input can overflow.
 */
static int
parse_id(const char *s, uint32_t max, uint32_t *out)
{
	const char	*p = s;
	uint64_t	 v = 0;
	int		 neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		if (v <= max)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg || v == 0 || v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int
reg_resolve_exp(const struct reg *r, const char *s, uint32_t *exp,
    char *err, size_t errlen)
{
	const struct reg_experiment	*e;
	char				 q[REG_QUOTE_MAX * 4 + 8];
	uint32_t			 id;
	int				 rc;

	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty experiment (expected a registry "
		    "name or an id 1..%u)", TAG_EXP_MAX);
		return -EINVAL;
	}
	/* Digits are always an id, so a numeric name can not shadow one. */
	rc = parse_id(s, TAG_EXP_MAX, &id);
	if (rc == 0) {
		*exp = id;
		return 0;
	}
	jsonpos_quote(q, sizeof(q), s, REG_QUOTE_MAX);
	if (rc == -ERANGE) {
		snprintf(err, errlen, "experiment %s is out of range (1..%u)", q,
		    TAG_EXP_MAX);
		return -ERANGE;
	}
	if ((e = reg_exp_by_name(r, s)) == NULL) {
		snprintf(err, errlen, "unknown experiment %s", q);
		return -EINVAL;
	}
	*exp = e->id;
	return 0;
}

int
reg_resolve_act(const struct reg *r, uint32_t exp, const char *s,
    uint32_t *act, char *err, size_t errlen)
{
	const struct reg_experiment	*e = reg_exp_by_id(r, exp);
	const struct reg_activity	*a;
	char				 q[REG_QUOTE_MAX * 4 + 8];
	char				 ename[REG_NAME_MAX + 16];
	uint32_t			 id;
	int				 rc;

	if (e != NULL)
		snprintf(ename, sizeof(ename), "%s", e->name);
	else
		snprintf(ename, sizeof(ename), "%u", exp);
	if (s == NULL || *s == '\0') {
		snprintf(err, errlen, "empty activity for experiment %s "
		    "(expected a registry name or an id 1..%u)", ename,
		    TAG_ACT_MAX);
		return -EINVAL;
	}
	rc = parse_id(s, TAG_ACT_MAX, &id);
	if (rc == 0) {
		*act = id;
		return 0;
	}
	jsonpos_quote(q, sizeof(q), s, REG_QUOTE_MAX);
	if (rc == -ERANGE) {
		snprintf(err, errlen, "activity %s is out of range (1..%u)", q,
		    TAG_ACT_MAX);
		return -ERANGE;
	}
	if ((a = reg_act_by_name(e, s)) == NULL) {
		snprintf(err, errlen, "unknown activity %s for experiment %s%s",
		    q, ename, e == NULL ? " (experiment not in the registry)" :
		    "");
		return -EINVAL;
	}
	*act = a->id;
	return 0;
}

const char *
reg_exp_name(const struct reg *r, uint32_t exp)
{
	const struct reg_experiment	*e = reg_exp_by_id(r, exp);

	return e != NULL ? e->name : "?";
}

const char *
reg_act_name(const struct reg *r, uint32_t exp, uint32_t act)
{
	const struct reg_activity	*a;

	a = reg_act_by_id(reg_exp_by_id(r, exp), act);
	return a != NULL ? a->name : "?";
}
