/*
 * registry.h: the SciTags registry (scitags.org api.json format).
 *
 * A built-in snapshot (data/scitags-registry-*.json, embedded at build time)
 * is the default; a file named in the config replaces it. Names match
 * case-insensitively, and ' ', '-' and '_' are the same character, so
 * "Data Consolidation", "data-consolidation" and "DATA_CONSOLIDATION" are
 * one name (named-pipe fields can not contain spaces).
 */
#ifndef SCTAG_REGISTRY_H
#define SCTAG_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

struct reg_activity {
	uint32_t	 id;
	char		*name;
};

struct reg_experiment {
	uint32_t		 id;
	char			*name;
	struct reg_activity	*acts;
	size_t			 nacts;
};

struct reg {
	struct reg_experiment	*exps;
	size_t			 nexps;
	char			*modified;	/* "" when absent */
	char			*source;	/* "built-in" or the file path */
};

/*
 * Parse api.json from memory. On error returns -EINVAL (or -ENOMEM) and
 * writes a message naming where: "line 3: ...", or
 * "experiments[2].activities[0]: activityId is not an integer". Checks:
 * top level object with an "experiments" array; each experiment has a
 * string expName and integer expId in 1..1023 and an "activities" array of
 * {activityName string, activityId 1..63}; ids and names unique within their
 * scope. Unknown keys are ignored (the registry may grow).
 */
int reg_parse(const char *buf, size_t len, const char *source,
    struct reg **out, char *err, size_t errlen);
int reg_load_file(const char *path, struct reg **out, char *err,
    size_t errlen);
int reg_load_builtin(struct reg **out, char *err, size_t errlen);
void reg_free(struct reg *);

const struct reg_experiment *reg_exp_by_id(const struct reg *, uint32_t id);
const struct reg_experiment *reg_exp_by_name(const struct reg *,
    const char *name);
const struct reg_activity *reg_act_by_id(const struct reg_experiment *,
    uint32_t id);
const struct reg_activity *reg_act_by_name(const struct reg_experiment *,
    const char *name);

/*
 * Resolve user input: a registry name or a decimal id. An id that is not in
 * the registry is accepted (the registry lags behind experiments) when it
 * is in range (exp 1..1023, act 1..63). Returns 0, or -EINVAL/-ERANGE with
 * a message such as "unknown experiment 'atlsa'" or
 * "unknown activity 'foo' for experiment atlas".
 */
int reg_resolve_exp(const struct reg *, const char *s, uint32_t *exp,
    char *err, size_t errlen);
int reg_resolve_act(const struct reg *, uint32_t exp, const char *s,
    uint32_t *act, char *err, size_t errlen);

/* Names for display; "?" when unknown. */
const char *reg_exp_name(const struct reg *, uint32_t exp);
const char *reg_act_name(const struct reg *, uint32_t exp, uint32_t act);

#endif /* SCTAG_REGISTRY_H */
