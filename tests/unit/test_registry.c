/*
 * test_registry.c: the built-in snapshot, hostile registry documents, and
 * resolution of user input.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "registry.h"

static struct reg	*R;

static void
load_builtin(void)
{
	char	err[256] = "";

	cr_assert_eq(reg_load_builtin(&R, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(R);
}

static void
free_reg(void)
{
	reg_free(R);
	R = NULL;
}

TestSuite(builtin, .init = load_builtin, .fini = free_reg);
TestSuite(resolve, .init = load_builtin, .fini = free_reg);

/* Parse a document that must be rejected; returns the message. */
static const char *
reject(const char *doc)
{
	static char	 err[512];
	struct reg	*r = (struct reg *)0x1;

	err[0] = '\0';
	cr_assert_eq(reg_parse(doc, strlen(doc), "test", &r, err,
	    sizeof(err)), -EINVAL, "accepted: %s", doc);
	cr_assert_null(r, "*out must be NULL on error");
	cr_assert_neq(err[0], '\0', "no message for: %s", doc);
	return err;
}

#define assert_has(hay, needle)						\
	cr_assert(strstr((hay), (needle)) != NULL,			\
	    "message '%s' lacks '%s'", (hay), (needle))

/* ---- the built-in snapshot ---- */

Test(builtin, loads)
{
	cr_assert_str_eq(R->source, "built-in");
	cr_assert_str_eq(R->modified, "2025-09-04T12:01:55.844133+00:00");
	cr_assert_eq(R->nexps, 14);
}

Test(builtin, experiments)
{
	cr_assert_eq(reg_exp_by_name(R, "atlas")->id, 2);
	cr_assert_eq(reg_exp_by_name(R, "cms")->id, 3);
	cr_assert_eq(reg_exp_by_name(R, "lhcb")->id, 4);
	cr_assert_eq(reg_exp_by_name(R, "alice")->id, 5);
	cr_assert_eq(reg_exp_by_name(R, "default")->id, 1);
	cr_assert_str_eq(reg_exp_by_id(R, 2)->name, "atlas");
	cr_assert_null(reg_exp_by_id(R, 0));
	cr_assert_null(reg_exp_by_id(R, 999));
	cr_assert_null(reg_exp_by_name(R, "atlsa"));
	cr_assert_null(reg_exp_by_name(R, ""));
	cr_assert_null(reg_exp_by_name(R, NULL));
	cr_assert_null(reg_exp_by_name(R, "atla"), "no prefix match");
	cr_assert_null(reg_exp_by_name(R, "atlass"));
}

Test(builtin, names_fold_case_and_separators)
{
	const struct reg_experiment	*atlas = reg_exp_by_name(R, "ATLAS");

	cr_assert_not_null(atlas);
	cr_assert_eq(atlas->id, 2);
	cr_assert_eq(reg_act_by_name(atlas, "Data Consolidation")->id, 4);
	cr_assert_eq(reg_act_by_name(atlas, "data consolidation")->id, 4);
	cr_assert_eq(reg_act_by_name(atlas, "data-consolidation")->id, 4);
	cr_assert_eq(reg_act_by_name(atlas, "DATA_CONSOLIDATION")->id, 4);
	cr_assert_eq(reg_act_by_name(atlas, "Data-Consolidation")->id, 4);
	cr_assert_null(reg_act_by_name(atlas, "DataConsolidation"));
	cr_assert_null(reg_act_by_name(atlas, "Data  Consolidation"));
	cr_assert_eq(reg_act_by_name(atlas, "perfsonar")->id, 2);
	cr_assert_eq(reg_act_by_id(atlas, 9)->id, 9);
	cr_assert_str_eq(reg_act_by_id(atlas, 4)->name, "Data Consolidation");
	cr_assert_null(reg_act_by_id(atlas, 5), "atlas has no activity 5");
	cr_assert_null(reg_act_by_name(NULL, "default"));
	/* Same name, another experiment, another id. */
	cr_assert_eq(reg_act_by_name(reg_exp_by_name(R, "cms"),
	    "data consolidation")->id, 6);
}

Test(builtin, display_names)
{
	cr_assert_str_eq(reg_exp_name(R, 3), "cms");
	cr_assert_str_eq(reg_exp_name(R, 600), "?");
	cr_assert_str_eq(reg_act_name(R, 3, 14), "Analysis Input");
	cr_assert_str_eq(reg_act_name(R, 3, 63), "?");
	cr_assert_str_eq(reg_act_name(R, 600, 1), "?");
	cr_assert_str_eq(reg_exp_name(NULL, 3), "?");
	cr_assert_str_eq(reg_act_name(NULL, 3, 1), "?");
}

Test(builtin, same_as_data_file)
{
	const char	*src = getenv("SCTAG_SOURCE_DIR");
	char		 path[4096], err[256] = "";
	struct reg	*f = NULL;
	size_t		 i, j;

	if (src == NULL)
		cr_skip_test("SCTAG_SOURCE_DIR is not set");
	snprintf(path, sizeof(path), "%s/data/scitags-registry-2025-09-04.json",
	    src);
	cr_assert_eq(reg_load_file(path, &f, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(f->source, path);
	cr_assert_eq(f->nexps, R->nexps);
	for (i = 0; i < f->nexps; i++) {
		cr_assert_eq(f->exps[i].id, R->exps[i].id);
		cr_assert_str_eq(f->exps[i].name, R->exps[i].name);
		cr_assert_eq(f->exps[i].nacts, R->exps[i].nacts);
		for (j = 0; j < f->exps[i].nacts; j++)
			cr_assert_str_eq(f->exps[i].acts[j].name,
			    R->exps[i].acts[j].name);
	}
	reg_free(f);
}

/* ---- small valid documents ---- */

Test(parse, minimal_and_unknown_keys)
{
	const char	*doc =
	    "{\"version\": 2, \"new\": [1, {\"x\": null}],\n"
	    " \"experiments\": [\n"
	    "  {\"expName\": \"exp-a\", \"expId\": 1023, \"color\": \"red\",\n"
	    "   \"activities\": [{\"activityName\": \"a b\", \"activityId\": 63,"
	    " \"extra\": {}}]},\n"
	    "  {\"expName\": \"b\", \"expId\": 7, \"activities\": []}\n"
	    " ]}";
	struct reg	*r = NULL;
	char		 err[256] = "";

	cr_assert_eq(reg_parse(doc, strlen(doc), NULL, &r, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_eq(r->nexps, 2);
	cr_assert_str_eq(r->modified, "", "absent modified is \"\"");
	cr_assert_eq(reg_exp_by_name(r, "EXP_A")->id, 1023);
	cr_assert_eq(reg_act_by_name(reg_exp_by_id(r, 1023), "A-B")->id, 63);
	cr_assert_eq(reg_exp_by_id(r, 7)->nacts, 0);
	reg_free(r);
}

Test(parse, empty_experiment_list)
{
	struct reg	*r = NULL;
	char		 err[256] = "";

	cr_assert_eq(reg_parse("{\"experiments\":[]}", 18, "x", &r, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(r->nexps, 0);
	cr_assert_str_eq(r->source, "x");
	reg_free(r);
	reg_free(NULL);
}

/* ---- malformed documents: the message says where ---- */

Test(parse, syntax_error_line)
{
	const char *e = reject("{\n\"experiments\": [\n{\"expName\": \"a\",,\n");

	assert_has(e, "line 3:");
}

Test(parse, not_json_at_all)
{
	assert_has(reject(""), "line ");
	assert_has(reject("\xff\xfe"), "line 1:");
	reject("null");
	reject("[]");
	reject("{\"experiments\": [] } trailing");
}

Test(parse, top_level)
{
	assert_has(reject("[1, 2]"), "expected an object, got an array");
	assert_has(reject("{\"exps\": []}"), "\"experiments\" is missing");
	assert_has(reject("{\n\"experiments\": {}\n}"),
	    "line 2: (root): experiments is not an array (got an object)");
}

Test(parse, experiment_fields)
{
	const char	*e;

	e = reject("{\"experiments\": [\n"
	    "{\"expName\": \"a\", \"expId\": 1, \"activities\": []},\n"
	    "{\"expName\": \"b\",\n \"expId\": \"2\", \"activities\": []}]}");
	cr_assert_str_eq(e, "line 4: experiments[1]: expId is not an integer "
	    "(got a string)");

	e = reject("{\"experiments\": [{\"expId\": 1, \"activities\": []}]}");
	cr_assert_str_eq(e, "line 1: experiments[0]: expName is missing");

	e = reject("{\"experiments\": [{\"expName\": 5, \"expId\": 1, "
	    "\"activities\": []}]}");
	assert_has(e, "experiments[0]: expName is not a string (got an "
	    "integer)");
	e = reject("{\"experiments\": [{\"expName\": \"\", \"expId\": 1, "
	    "\"activities\": []}]}");
	assert_has(e, "experiments[0]: expName is empty");
	e = reject("{\"experiments\": [{\"expName\": \"a\\nb\", \"expId\": 1, "
	    "\"activities\": []}]}");
	assert_has(e, "control character");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 0, "
	    "\"activities\": []}]}");
	assert_has(e, "experiments[0]: expId 0 is out of range (1..1023)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1024, "
	    "\"activities\": []}]}");
	assert_has(e, "expId 1024 is out of range (1..1023)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 2.0, "
	    "\"activities\": []}]}");
	assert_has(e, "expId is not an integer (got a real number)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1}]}");
	assert_has(e, "experiments[0]: activities is missing");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": null}]}");
	assert_has(e, "activities is not an array (got null)");
	e = reject("{\"experiments\": [7]}");
	assert_has(e, "experiments[0]: expected an object, got an integer");
}

Test(parse, activity_fields)
{
	const char	*e;

	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1,\n"
	    "\"activities\": [{\"activityName\": \"x\", \"activityId\": 1},\n"
	    "{\"activityName\": \"y\", \"activityId\": true}]}]}");
	cr_assert_str_eq(e, "line 3: experiments[0].activities[1]: activityId "
	    "is not an integer (got a boolean)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [{\"activityName\": \"x\", \"activityId\": 64}]}]}");
	assert_has(e, "experiments[0].activities[0]: activityId 64 is out of "
	    "range (1..63)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [{\"activityName\": \"x\", \"activityId\": 0}]}]}");
	assert_has(e, "activityId 0 is out of range");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [{\"activityId\": 3}]}]}");
	assert_has(e, "experiments[0].activities[0]: activityName is missing");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [\"x\"]}]}");
	assert_has(e, "activities[0]: expected an object, got a string");
}

Test(parse, duplicates)
{
	const char	*e;

	e = reject("{\"experiments\": [\n"
	    "{\"expName\": \"a\", \"expId\": 1, \"activities\": []},\n"
	    "{\"expName\": \"b\", \"expId\": 1, \"activities\": []}]}");
	cr_assert_str_eq(e, "line 3: experiments[1]: expId 1 is also used by "
	    "experiments[0] (a)");
	/* Names that only differ in case or separators are the same name. */
	e = reject("{\"experiments\": [\n"
	    "{\"expName\": \"Big Exp\", \"expId\": 1, \"activities\": []},\n"
	    "{\"expName\": \"big_exp\", \"expId\": 2, \"activities\": []}]}");
	assert_has(e, "line 3: experiments[1]: expName 'big_exp' is the same "
	    "name as experiments[0] ('Big Exp')");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [{\"activityName\": \"x\", \"activityId\": 5},"
	    "{\"activityName\": \"y\", \"activityId\": 5}]}]}");
	assert_has(e, "experiments[0].activities[1]: activityId 5 is also "
	    "used by activities[0] (x)");
	e = reject("{\"experiments\": [{\"expName\": \"a\", \"expId\": 1, "
	    "\"activities\": [{\"activityName\": \"Data-X\", \"activityId\": 5},"
	    "{\"activityName\": \"data x\", \"activityId\": 6}]}]}");
	assert_has(e, "activities[1]: activityName 'data x' is the same name");
	/* Duplicate keys in one object are ambiguous: rejected too. */
	e = reject("{\"experiments\": [], \"experiments\": []}");
	assert_has(e, "duplicate");
}

Test(parse, same_activity_in_two_experiments_is_fine)
{
	const char	*doc = "{\"experiments\": ["
	    "{\"expName\": \"a\", \"expId\": 1, \"activities\": "
	    "[{\"activityName\": \"x\", \"activityId\": 1}]},"
	    "{\"expName\": \"b\", \"expId\": 2, \"activities\": "
	    "[{\"activityName\": \"x\", \"activityId\": 1}]}]}";
	struct reg	*r = NULL;
	char		 err[256] = "";

	cr_assert_eq(reg_parse(doc, strlen(doc), "t", &r, err, sizeof(err)),
	    0, "%s", err);
	reg_free(r);
}

Test(parse, too_many_entries)
{
	char	*doc;
	size_t	 i, n = 0, cap = 64 * 1100;

	/* 64 activities can not all have distinct ids in 1..63. */
	doc = malloc(cap);
	cr_assert_not_null(doc);
	n += (size_t)snprintf(doc + n, cap - n, "{\"experiments\": [{"
	    "\"expName\": \"a\", \"expId\": 1, \"activities\": [");
	for (i = 0; i < 64; i++)
		n += (size_t)snprintf(doc + n, cap - n, "%s{\"activityName\": "
		    "\"n%zu\", \"activityId\": %zu}", i ? "," : "", i,
		    i % 63 + 1);
	snprintf(doc + n, cap - n, "]}]}");
	assert_has(reject(doc), "more than 63 activities");
	free(doc);
}

Test(parse, null_buffer)
{
	struct reg	*r = NULL;
	char		 err[64];

	cr_assert_eq(reg_parse(NULL, 0, "x", &r, err, sizeof(err)), -EINVAL);
	cr_assert_null(r);
	/* No message buffer: still a clean error. */
	cr_assert_eq(reg_parse("[", 1, "x", &r, NULL, 0), -EINVAL);
}

Test(parse, file_errors)
{
	struct reg	*r = NULL;
	char		 err[256];

	cr_assert_eq(reg_load_file("/nonexistent/registry.json", &r, err,
	    sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "/nonexistent/registry.json: No such file or "
	    "directory");
	cr_assert_eq(reg_load_file("/", &r, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "/: not a regular file");
	cr_assert_null(r);
}

Test(parse, file_syntax_error_names_path)
{
	char		 path[] = "/tmp/test_registry_XXXXXX";
	struct reg	*r = NULL;
	char		 err[256];
	FILE		*f;
	int		 fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs("{\"experiments\": [\n\n}", f);
	fclose(f);
	cr_assert_eq(reg_load_file(path, &r, err, sizeof(err)), -EINVAL);
	unlink(path);
	cr_assert(strncmp(err, path, strlen(path)) == 0, "%s", err);
	assert_has(err, ": line 3:");
}

/* ---- resolving user input ---- */

Test(resolve, experiment_names_and_numbers)
{
	uint32_t	exp = 0;
	char		err[256];

	cr_assert_eq(reg_resolve_exp(R, "atlas", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 2);
	cr_assert_eq(reg_resolve_exp(R, "CMS", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 3);
	cr_assert_eq(reg_resolve_exp(R, "3", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 3);
	/* In range but not in the registry: accepted (the registry lags). */
	cr_assert_eq(reg_resolve_exp(R, "700", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 700);
	cr_assert_eq(reg_resolve_exp(R, "1023", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 1023);
	cr_assert_eq(reg_resolve_exp(R, "1", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 1);
	cr_assert_eq(reg_resolve_exp(R, "007", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 7);
	/* Without a registry only numbers resolve. */
	cr_assert_eq(reg_resolve_exp(NULL, "5", &exp, err, sizeof(err)), 0);
	cr_assert_eq(exp, 5);
	cr_assert_eq(reg_resolve_exp(NULL, "cms", &exp, err, sizeof(err)),
	    -EINVAL);
}

Test(resolve, experiment_garbage)
{
	uint32_t	exp = 42;
	char		err[256];

	cr_assert_eq(reg_resolve_exp(R, "atlsa", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "unknown experiment 'atlsa'");
	cr_assert_eq(reg_resolve_exp(R, "12abc", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "unknown experiment '12abc'");
	cr_assert_eq(reg_resolve_exp(R, "", &exp, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "empty experiment (expected a registry name or "
	    "an id 1..1023)");
	cr_assert_eq(reg_resolve_exp(R, NULL, &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(reg_resolve_exp(R, "-1", &exp, err, sizeof(err)),
	    -ERANGE);
	cr_assert_str_eq(err, "experiment '-1' is out of range (1..1023)");
	cr_assert_eq(reg_resolve_exp(R, "0", &exp, err, sizeof(err)), -ERANGE);
	cr_assert_str_eq(err, "experiment '0' is out of range (1..1023)");
	cr_assert_eq(reg_resolve_exp(R, "1024", &exp, err, sizeof(err)),
	    -ERANGE);
	cr_assert_eq(reg_resolve_exp(R, "4294967298", &exp, err, sizeof(err)),
	    -ERANGE, "must not wrap to 2");
	cr_assert_eq(reg_resolve_exp(R, "99999999999999999999999999999999",
	    &exp, err, sizeof(err)), -ERANGE);
	cr_assert_eq(reg_resolve_exp(R, " 3", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(reg_resolve_exp(R, "3 ", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(reg_resolve_exp(R, "+3", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(reg_resolve_exp(R, "0x3", &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(exp, 42, "*exp written on error");
}

Test(resolve, hostile_input_is_quoted_and_cut)
{
	uint32_t	exp;
	char		err[256], big[5000];

	cr_assert_eq(reg_resolve_exp(R, "a\nb'c\x1b[31m", &exp, err,
	    sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown experiment 'a\\x0ab\\x27c\\x1b[31m'");
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(reg_resolve_exp(R, big, &exp, err, sizeof(err)),
	    -EINVAL);
	cr_assert_lt(strlen(err), 100, "%s", err);
	assert_has(err, "'...");
	/* A tiny buffer is cut, not overrun. */
	cr_assert_eq(reg_resolve_exp(R, "nope", &exp, err, 5), -EINVAL);
	cr_assert_str_eq(err, "unkn");
	cr_assert_eq(reg_resolve_exp(R, "nope", &exp, NULL, 0), -EINVAL);
}

Test(resolve, activities)
{
	uint32_t	act = 0;
	char		err[256];

	cr_assert_eq(reg_resolve_act(R, 2, "Data Consolidation", &act, err,
	    sizeof(err)), 0);
	cr_assert_eq(act, 4);
	cr_assert_eq(reg_resolve_act(R, 2, "data-consolidation", &act, err,
	    sizeof(err)), 0);
	cr_assert_eq(act, 4);
	cr_assert_eq(reg_resolve_act(R, 3, "analysis_input", &act, err,
	    sizeof(err)), 0);
	cr_assert_eq(act, 14);
	cr_assert_eq(reg_resolve_act(R, 3, "14", &act, err, sizeof(err)), 0);
	cr_assert_eq(act, 14);
	cr_assert_eq(reg_resolve_act(R, 2, "63", &act, err, sizeof(err)), 0);
	cr_assert_eq(act, 63);
	/* Unknown experiment: ids still work. */
	cr_assert_eq(reg_resolve_act(R, 700, "9", &act, err, sizeof(err)), 0);
	cr_assert_eq(act, 9);
}

Test(resolve, activity_errors)
{
	uint32_t	act = 42;
	char		err[256];

	cr_assert_eq(reg_resolve_act(R, 2, "foo", &act, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "unknown activity 'foo' for experiment atlas");
	cr_assert_eq(reg_resolve_act(R, 700, "foo", &act, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "unknown activity 'foo' for experiment 700 "
	    "(experiment not in the registry)");
	cr_assert_eq(reg_resolve_act(R, 2, "64", &act, err, sizeof(err)),
	    -ERANGE);
	cr_assert_str_eq(err, "activity '64' is out of range (1..63)");
	cr_assert_eq(reg_resolve_act(R, 2, "0", &act, err, sizeof(err)),
	    -ERANGE);
	cr_assert_eq(reg_resolve_act(R, 2, "-1", &act, err, sizeof(err)),
	    -ERANGE);
	cr_assert_eq(reg_resolve_act(R, 2, "18446744073709551617", &act, err,
	    sizeof(err)), -ERANGE);
	cr_assert_eq(reg_resolve_act(R, 2, "12abc", &act, err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(reg_resolve_act(R, 2, "", &act, err, sizeof(err)),
	    -EINVAL);
	cr_assert_str_eq(err, "empty activity for experiment atlas (expected "
	    "a registry name or an id 1..63)");
	/* cms activity names do not resolve under atlas. */
	cr_assert_eq(reg_resolve_act(R, 2, "User AutoApprove", &act, err,
	    sizeof(err)), -EINVAL);
	cr_assert_eq(act, 42, "*act written on error");
}
