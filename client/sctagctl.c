/*
 * sctagctl: control sctagd agents from the command line, one or many at
 * once. A thin layer over libsctag: parse (sctagctl_parse.c), send with
 * sctag_call_many, print (sctagctl_out.c). docs/sctagctl.md.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "sctag.h"
#include "sctagctl_out.h"
#include "sctagctl_parse.h"
#include "sctagctl_watch.h"

/* Slack for NNG past the call deadline before the watchdog ends us. */
#define WATCHDOG_SLACK_S	5
/* A batch request stays below the agent's 64 KiB message limit. */
#define BATCH_BYTES_MAX		(56 * 1024)
#define BATCH_ITEMS_MAX		1000
#define LIST_PAGES_MAX		100000

static const char	*prog = "sctagctl";

struct ctl {
	struct ctl_host		 *hosts;
	size_t			  n;
	struct sctag_opts	  opts;
	int			  json;
	struct sctag_client	**cs;
	struct sctag_result	 *res;
	int			  exit_code;
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: %s [-H [NAME=]URL]... [--hosts FILE] [--socket PATH]\n"
"           [--cert F [--key F] --ca F] [--sign-key F] [--timeout MS]\n"
"           [--json] [--events [NAME=]URL] COMMAND [ARGS]\n"
"\n"
"commands:\n"
"  start FLOW            start marking a flow\n"
"  end ID | end FLOW     end a flow by its id or by the spec it started with\n"
"  batch FILE|-          one 'start'/'end' per line (docs/sctagctl.md)\n"
"  list [--owner O] [--experiment E] [--dst PREFIX] [--all]\n"
"                        flows; --all pages through every flow\n"
"  status | registry | ping | reload\n"
"  drain [--owner O]     end every flow (of one owner)\n"
"  keygen FILE           new signing key: FILE (0600) and FILE.pub\n"
"  watch [--count N] [--for SECONDS]\n"
"                        an agent's flows starting and ending, as they\n"
"                        happen (--events URL; or -H tls+tcp://HOST:PORT's\n"
"                        port 7444; or events.sock next to --socket)\n"
"\n"
"FLOW: --proto tcp|udp|any --src ADDR[:PORT] --dst ADDR[/LEN][:PORT]\n"
"      --experiment E --activity A | --scitag N\n"
"      [--ttl SECONDS] [--strategy S] [--app NAME]\n"
"      (IPv6 with a port: [2001:db8::1]:443, [2001:db8::/48]:443)\n"
"\n"
"  -H [NAME=]URL    an agent: tls+tcp://HOST:PORT or ipc://PATH; NAME is\n"
"                   its host name when the URL has an address (repeat -H)\n"
"  --hosts FILE     agents, one [NAME=]URL per line, '#' comments\n"
"  --socket PATH    the local agent (default %s)\n"
"  --cert/--key/--ca  client certificate (key in the same PEM unless\n"
"                   --key) and site CA, for tls+tcp://\n"
"  --sign-key F     Ed25519 key to sign requests (required over TLS)\n"
"  --timeout MS     deadline of each request, all agents at once "
"(default %d)\n"
"  --json           one JSON object per agent and request\n"
"  --events [NAME=]URL\n"
"                   the agent's events, for watch: ipc://PATH, or\n"
"                   tls+tcp://HOST:PORT with --cert/--ca from the CA\n"
"                   the agent trusts for watchers (api.events_tls)\n"
"\n"
"exit status: 0 every agent answered OK; 1 some agent answered an error\n"
"(or a batch item failed); 2 usage error; 3 some agent not reached\n"
"(timeout, refused, TLS, protocol); 4 local error (files, keys).\n",
	    prog, SCTAG_DEFAULT_URL, SCTAG_DEFAULT_TIMEOUT_MS);
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(%s --help for usage)\n", prog);
	return CTL_EXIT_USAGE;
}

static void
watchdog(int sig)
{
	static const char	msg[] = "sctagctl: NNG did not finish within the "
	    "deadline; exiting without waiting\n";
	ssize_t			rc;

	(void)sig;
	rc = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)rc;
	_exit(CTL_EXIT_TRANSPORT);
}

static void
arm(const struct ctl *ctl)
{
	alarm((unsigned)(ctl->opts.timeout_ms / 1000) + WATCHDOG_SLACK_S);
}

static int
open_clients(struct ctl *ctl)
{
	struct sctag_opts	o;
	char			err[SCTAG_MSG_MAX];
	size_t			i;

	ctl->cs = calloc(ctl->n, sizeof(*ctl->cs));
	ctl->res = calloc(ctl->n, sizeof(*ctl->res));
	if (ctl->cs == NULL || ctl->res == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return -ENOMEM;
	}
	for (i = 0; i < ctl->n; i++) {
		o = ctl->opts;
		o.url = ctl->hosts[i].url;
		o.target_host = ctl->hosts[i].target[0] != '\0' ?
		    ctl->hosts[i].target : NULL;
		if (sctag_client_open(&o, &ctl->cs[i], err, sizeof(err)) !=
		    SCTAG_OK) {
			ctl->cs[i] = NULL;
			ctl->res[i].status = SCTAG_ERR_LOCAL;
			snprintf(ctl->res[i].message,
			    sizeof(ctl->res[i].message), "%s", err);
		}
	}
	return 0;
}

static void
close_clients(struct ctl *ctl)
{
	size_t	i;

	/* nng_close can hang in NNG 1.5.2 (nanomsg/nng#1813). */
	alarm(WATCHDOG_SLACK_S);
	for (i = 0; ctl->cs != NULL && i < ctl->n; i++)
		sctag_client_close(ctl->cs[i]);
	alarm(0);
	for (i = 0; ctl->res != NULL && i < ctl->n; i++)
		sctag_result_free(&ctl->res[i]);
	free(ctl->cs);
	free(ctl->res);
}

/* Send req to every host whose client opened; ctl->res gets the results
 * (hosts that could not be opened keep their local error). */
static int
run(struct ctl *ctl, const Sctag__V1__Request *req)
{
	struct sctag_client	**open;
	struct sctag_result	 *tmp;
	size_t			 *idx, i, k = 0;

	open = calloc(ctl->n, sizeof(*open));
	idx = calloc(ctl->n, sizeof(*idx));
	tmp = calloc(ctl->n, sizeof(*tmp));
	if (open == NULL || idx == NULL || tmp == NULL) {
		free(open);
		free(idx);
		free(tmp);
		fprintf(stderr, "%s: out of memory\n", prog);
		return -ENOMEM;
	}
	for (i = 0; i < ctl->n; i++) {
		if (ctl->cs[i] == NULL)
			continue;
		sctag_result_free(&ctl->res[i]);
		open[k] = ctl->cs[i];
		idx[k++] = i;
	}
	arm(ctl);
	if (k > 0)
		(void)sctag_call_many(open, k, req, ctl->opts.timeout_ms, tmp);
	alarm(0);
	for (i = 0; i < k; i++)
		ctl->res[idx[i]] = tmp[i];
	free(open);
	free(idx);
	free(tmp);
	return 0;
}

static void
header(const struct ctl *ctl, size_t i)
{
	if (ctl->n > 1 && !ctl->json)
		printf("== %s (%s)\n", ctl->hosts[i].label, ctl->hosts[i].url);
}

static void
emit_json(const struct ctl *ctl, size_t i, json_t *result)
{
	json_t	*o = ctl_json_host(&ctl->hosts[i], &ctl->res[i], result);
	char	*s;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		json_decref(o);
		return;
	}
	puts(s);
	free(s);
	json_decref(o);
}

/* Print every host's result and fold it into the exit code. */
static void
report(struct ctl *ctl)
{
	size_t	i;
	int	e;

	for (i = 0; i < ctl->n; i++) {
		if (ctl->json) {
			emit_json(ctl, i, NULL);
			continue;
		}
		header(ctl, i);
		ctl_print_result(ctl->res[i].status == SCTAG_OK ? stdout :
		    stderr, &ctl->res[i]);
	}
	fflush(stdout);
	e = ctl_exit_code(ctl->res, ctl->n);
	if (e > ctl->exit_code)
		ctl->exit_code = e;
}

static int
cmd_simple(struct ctl *ctl, Sctag__V1__Request *r)
{
	if (run(ctl, r) != 0)
		return CTL_EXIT_LOCAL;
	report(ctl);
	return ctl->exit_code;
}

static int
cmd_start(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__StartFlowRequest	s = SCTAG__V1__START_FLOW_REQUEST__INIT;
	struct ctl_flow			f;
	char				err[CTL_ERR_MAX];

	if (ctl_parse_flow(argc - 1, argv + 1, 1, &f, err, sizeof(err)) != 0)
		return usage_error("start: %s", err);
	s.flow = ctl_flow_spec(&f);
	r.call_case = SCTAG__V1__REQUEST__CALL_START_FLOW;
	r.start_flow = &s;
	return cmd_simple(ctl, &r);
}

static int
cmd_end(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__EndFlowRequest	e = SCTAG__V1__END_FLOW_REQUEST__INIT;
	struct ctl_flow			f;
	char				err[CTL_ERR_MAX];

	if (argc == 2 && argv[1][0] != '-') {
		if (ctl_parse_u64(argv[1], UINT64_MAX, &e.id) != 0 ||
		    e.id == 0)
			return usage_error("end: '%s' is not a flow id",
			    argv[1]);
		e.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	} else {
		if (argc < 2)
			return usage_error("%s", "end: give a flow id or the "
			    "flow's options");
		if (ctl_parse_flow(argc - 1, argv + 1, 0, &f, err,
		    sizeof(err)) != 0)
			return usage_error("end: %s", err);
		e.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
		e.spec = ctl_flow_spec(&f);
	}
	r.call_case = SCTAG__V1__REQUEST__CALL_END_FLOW;
	r.end_flow = &e;
	return cmd_simple(ctl, &r);
}

static int
read_batch(const char *path, struct ctl_item **items, size_t *n)
{
	FILE		*fp;
	char		*line = NULL, err[CTL_ERR_MAX];
	size_t		 cap = 0, lineno = 0, have = 0;
	struct ctl_item	 it, *ni;
	ssize_t		 len;
	int		 rc = 0;

	fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (fp == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return CTL_EXIT_LOCAL;
	}
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if ((size_t)len != strlen(line)) {
			fprintf(stderr, "%s: %s:%zu: NUL byte in line\n", prog,
			    path, lineno);
			rc = CTL_EXIT_USAGE;
			break;
		}
		rc = ctl_parse_batch_line(line, &it, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "%s: %s:%zu: %s\n", prog, path, lineno,
			    err);
			rc = CTL_EXIT_USAGE;
			break;
		}
		rc = 0;
		if (it.op == 0)
			continue;
		if (*n == have) {
			have = have ? 2 * have : 64;
			if ((ni = realloc(*items, have * sizeof(**items))) ==
			    NULL) {
				fprintf(stderr, "%s: out of memory\n", prog);
				rc = CTL_EXIT_LOCAL;
				break;
			}
			*items = ni;
		}
		(*items)[(*n)++] = it;
	}
	if (rc == 0 && ferror(fp)) {
		fprintf(stderr, "%s: %s: read error\n", prog, path);
		rc = CTL_EXIT_LOCAL;
	}
	if (rc == 0 && *n == 0) {
		fprintf(stderr, "%s: %s: no flows\n", prog, path);
		rc = CTL_EXIT_USAGE;
	}
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rc;
}

static int
cmd_batch(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request		 r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__BatchRequest		 b = SCTAG__V1__BATCH_REQUEST__INIT;
	struct ctl_item			*items = NULL;
	Sctag__V1__BatchItem		*bi = NULL, **bp = NULL;
	Sctag__V1__EndFlowRequest	*ends = NULL;
	size_t				 n = 0, i, first, bytes;
	int				 rc;

	if (argc != 2)
		return usage_error("%s", "batch: give one FILE, or - for "
		    "standard input");
	if ((rc = read_batch(argv[1], &items, &n)) != 0)
		goto out;
	bi = calloc(n, sizeof(*bi));
	bp = calloc(n, sizeof(*bp));
	ends = calloc(n, sizeof(*ends));
	if (bi == NULL || bp == NULL || ends == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		rc = CTL_EXIT_LOCAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		sctag__v1__batch_item__init(&bi[i]);
		bp[i] = &bi[i];
		if (items[i].op == CTL_OP_START) {
			bi[i].op_case = SCTAG__V1__BATCH_ITEM__OP_START;
			bi[i].start = ctl_flow_spec(&items[i].flow);
			continue;
		}
		sctag__v1__end_flow_request__init(&ends[i]);
		if (items[i].by_id) {
			ends[i].which_case =
			    SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
			ends[i].id = items[i].id;
		} else {
			ends[i].which_case =
			    SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
			ends[i].spec = ctl_flow_spec(&items[i].flow);
		}
		bi[i].op_case = SCTAG__V1__BATCH_ITEM__OP_END;
		bi[i].end = &ends[i];
	}
	r.call_case = SCTAG__V1__REQUEST__CALL_BATCH;
	r.batch = &b;
	/* Requests of at most 1000 items and well under 64 KiB each. */
	for (first = 0; first < n; first = i) {
		bytes = 0;
		for (i = first; i < n && i - first < BATCH_ITEMS_MAX; i++) {
			bytes += sctag__v1__batch_item__get_packed_size(&bi[i])
			    + 4;
			if (bytes > BATCH_BYTES_MAX && i > first)
				break;
		}
		b.n_items = i - first;
		b.items = bp + first;
		if (!ctl->json && n > b.n_items)
			printf("-- items %zu-%zu\n", first + 1, i);
		if (run(ctl, &r) != 0) {
			rc = CTL_EXIT_LOCAL;
			goto out;
		}
		report(ctl);
	}
	rc = ctl->exit_code;
out:
	free(ends);
	free(bp);
	free(bi);
	free(items);
	return rc;
}

/* Print one page of flows (text) or append them to arr (JSON). */
static void
take_page(const struct ctl *ctl, const Sctag__V1__ListFlowsReply *l,
    json_t *arr)
{
	size_t	i;

	for (i = 0; i < l->n_flows; i++) {
		if (ctl->json)
			json_array_append_new(arr,
			    ctl_json_msg(&l->flows[i]->base));
		else
			ctl_print_flow(stdout, l->flows[i]);
	}
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request		 r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__ListFlowsRequest	 l = SCTAG__V1__LIST_FLOWS_REQUEST__INIT;
	Sctag__V1__ListFlowsRequest	 more;
	const Sctag__V1__ListFlowsReply	*page;
	struct sctag_result		 next;
	char				 token[256];
	json_t				*arr, *res;
	size_t				 i, pages, shown;
	int				 a, all = 0, e;

	for (a = 1; a < argc; a++) {
		if (strcmp(argv[a], "--all") == 0) {
			all = 1;
			continue;
		}
		if (a + 1 >= argc)
			return usage_error("list: '%s' needs a value or is "
			    "unknown", argv[a]);
		if (strcmp(argv[a], "--owner") == 0)
			l.owner = argv[++a];
		else if (strcmp(argv[a], "--experiment") == 0)
			l.experiment = argv[++a];
		else if (strcmp(argv[a], "--dst") == 0)
			l.dst_prefix = argv[++a];
		else
			return usage_error("list: unknown option '%s'",
			    argv[a]);
	}
	r.call_case = SCTAG__V1__REQUEST__CALL_LIST_FLOWS;
	r.list_flows = &l;
	if (run(ctl, &r) != 0)
		return CTL_EXIT_LOCAL;
	for (i = 0; i < ctl->n; i++) {
		header(ctl, i);
		arr = ctl->json ? json_array() : NULL;
		shown = 0;
		pages = 0;
		while (ctl->res[i].status == SCTAG_OK) {
			page = ctl->res[i].reply->list_flows;
			take_page(ctl, page, arr);
			shown += page->n_flows;
			if (page->next_page_token[0] == '\0' || !all ||
			    ++pages >= LIST_PAGES_MAX)
				break;
			snprintf(token, sizeof(token), "%s",
			    page->next_page_token);
			more = l;
			more.page_token = token;
			r.list_flows = &more;
			arm(ctl);
			(void)sctag_call(ctl->cs[i], &r, &next);
			alarm(0);
			r.list_flows = &l;
			sctag_result_free(&ctl->res[i]);
			ctl->res[i] = next;
		}
		if (ctl->res[i].status != SCTAG_OK) {
			json_decref(arr);
			if (ctl->json)
				emit_json(ctl, i, NULL);
			else
				ctl_print_result(stderr, &ctl->res[i]);
			continue;
		}
		page = ctl->res[i].reply->list_flows;
		if (ctl->json) {
			res = json_object();
			json_object_set_new(res, "flows", arr);
			json_object_set_new(res, "total",
			    json_integer((json_int_t)page->total));
			emit_json(ctl, i, res);
		} else if (page->next_page_token[0] != '\0' && !all) {
			printf("(%zu of %llu flows; --all lists them all)\n",
			    shown, (unsigned long long)page->total);
		} else {
			printf("(%zu flow%s)\n", shown, shown == 1 ? "" : "s");
		}
	}
	fflush(stdout);
	e = ctl_exit_code(ctl->res, ctl->n);
	return e > ctl->exit_code ? e : ctl->exit_code;
}

static int
cmd_drain(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request	r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__DrainRequest	d = SCTAG__V1__DRAIN_REQUEST__INIT;

	if (argc == 3 && strcmp(argv[1], "--owner") == 0)
		d.owner = argv[2];
	else if (argc != 1)
		return usage_error("%s", "drain: only --owner O");
	r.call_case = SCTAG__V1__REQUEST__CALL_DRAIN;
	r.drain = &d;
	return cmd_simple(ctl, &r);
}

static int
cmd_noarg(struct ctl *ctl, int argc, char **argv)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__GetStatusRequest	st = SCTAG__V1__GET_STATUS_REQUEST__INIT;
	Sctag__V1__GetRegistryRequest	reg =
	    SCTAG__V1__GET_REGISTRY_REQUEST__INIT;
	Sctag__V1__PingRequest		p = SCTAG__V1__PING_REQUEST__INIT;
	Sctag__V1__ReloadRequest	rl = SCTAG__V1__RELOAD_REQUEST__INIT;

	if (argc != 1)
		return usage_error("%s: takes no arguments", argv[0]);
	if (strcmp(argv[0], "status") == 0) {
		r.call_case = SCTAG__V1__REQUEST__CALL_GET_STATUS;
		r.get_status = &st;
	} else if (strcmp(argv[0], "registry") == 0) {
		r.call_case = SCTAG__V1__REQUEST__CALL_GET_REGISTRY;
		r.get_registry = &reg;
	} else if (strcmp(argv[0], "ping") == 0) {
		r.call_case = SCTAG__V1__REQUEST__CALL_PING;
		r.ping = &p;
	} else {
		r.call_case = SCTAG__V1__REQUEST__CALL_RELOAD;
		r.reload = &rl;
	}
	return cmd_simple(ctl, &r);
}

static int
cmd_keygen(int argc, char **argv)
{
	char	pub[45], err[SCTAG_MSG_MAX], host[SCTAG_HOST_MAX + 1];

	if (argc != 2)
		return usage_error("%s", "keygen: give one FILE");
	if (sctag_keygen(argv[1], pub, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return CTL_EXIT_LOCAL;
	}
	if (sctag_url_target("ipc://x", host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "NAME");
	printf("secret key  %s (mode 0600; keep it there)\n", argv[1]);
	printf("public key  %s.pub\n%s\n", argv[1], pub);
	printf("\nauthorized_keys line for the agents (role: monitor, "
	    "orchestrator or admin; name: how listings call this key):\n"
	    "orchestrator %s %s\n", pub, host);
	return CTL_EXIT_OK;
}

/*
 * The events socket: --events [NAME=]URL (a bare path is ipc); else the one
 * agent of -H/--hosts: its port 7444 for tls+tcp://, events.sock next to
 * an ipc:// socket; else events.sock next to --socket.
 */
static int
cmd_watch(struct ctl *ctl, const char *events, const char *socket, int argc,
    char **argv)
{
	struct sctag_opts o = ctl->opts;
	struct ctl_host h;
	char err[CTL_ERR_MAX];
	const char *path, *slash, *colon;

	memset(&h, 0, sizeof(h));
	if (events != NULL && strstr(events, "://") != NULL) {
		if (ctl_parse_host(events, &h, err, sizeof(err)) != 0)
			return usage_error("--events: %s", err);
	} else if (events != NULL) {
		snprintf(h.url, sizeof(h.url), "ipc://%s", events);
	} else if (ctl->n > 1) {
		return usage_error("%s", "watch: one agent at a time (-H once, "
		    "or --events)");
	} else if (ctl->n == 1 && strncmp(ctl->hosts[0].url, "tls+tcp://",
	    10) == 0) {
		/* The URL is checked: its last ':' comes before the port. */
		h = ctl->hosts[0];
		colon = strrchr(ctl->hosts[0].url, ':');
		snprintf(h.url, sizeof(h.url), "%.*s:%d",
		    (int)(colon - ctl->hosts[0].url), ctl->hosts[0].url,
		    CTL_EVENTS_TLS_PORT);
	} else {
		path = ctl->n == 1 ? ctl->hosts[0].url : socket;
		if (path == NULL) {
			snprintf(h.url, sizeof(h.url), "%s", CTL_EVENTS_URL);
		} else {
			if (strncmp(path, "ipc://", 6) == 0)
				path += 6;
			slash = strrchr(path, '/');
			snprintf(h.url, sizeof(h.url), "ipc://%.*sevents.sock",
			    slash ? (int)(slash - path) + 1 : 0, path);
		}
	}
	o.url = h.url;
	o.target_host = h.target[0] != '\0' ? h.target : NULL;
	return ctl_watch(&o, ctl->json, argc, argv);
}

static const struct {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
} cmds[] = {
	{ "start", cmd_start },
	{ "end", cmd_end },
	{ "batch", cmd_batch },
	{ "list", cmd_list },
	{ "status", cmd_noarg },
	{ "registry", cmd_noarg },
	{ "ping", cmd_noarg },
	{ "reload", cmd_noarg },
	{ "drain", cmd_drain },
};

int
main(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "hosts", required_argument, NULL, 'f' },
		{ "socket", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },
		{ "sign-key", required_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "events", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl		 ctl;
	struct ctl_host		*nh;
	char			 err[CTL_ERR_MAX], sock[CTL_URL_MAX];
	const char		*socket_arg = NULL, *events_arg = NULL;
	uint64_t		 v;
	size_t			 i;
	int			 ch, rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.opts.timeout_ms = SCTAG_DEFAULT_TIMEOUT_MS;
	while ((ch = getopt_long(argc, argv, "+H:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			nh = realloc(ctl.hosts, (ctl.n + 1) * sizeof(*nh));
			if (nh == NULL) {
				fprintf(stderr, "%s: out of memory\n", prog);
				return CTL_EXIT_LOCAL;
			}
			ctl.hosts = nh;
			if (ctl_parse_host(optarg, &nh[ctl.n], err,
			    sizeof(err)) != 0)
				return usage_error("-H: %s", err);
			ctl.n++;
			break;
		case 'f':
			rc = ctl_read_hosts(optarg, &ctl.hosts, &ctl.n, err,
			    sizeof(err));
			if (rc == -EINVAL)
				return usage_error("--hosts: %s", err);
			if (rc != 0) {
				fprintf(stderr, "%s: %s\n", prog, err);
				return CTL_EXIT_LOCAL;
			}
			break;
		case 's':
			socket_arg = optarg;
			break;
		case 'c':
			ctl.opts.cert_file = optarg;
			break;
		case 'k':
			ctl.opts.key_file = optarg;
			break;
		case 'a':
			ctl.opts.ca_file = optarg;
			break;
		case 'S':
			ctl.opts.sign_key_file = optarg;
			break;
		case 't':
			if (ctl_parse_u64(optarg, 3600000, &v) != 0 || v == 0)
				return usage_error("--timeout: '%s' is not "
				    "1-3600000 ms", optarg);
			ctl.opts.timeout_ms = (int)v;
			break;
		case 'j':
			ctl.json = 1;
			break;
		case 'E':
			events_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("sctagctl %s\n", SCTAG_VERSION);
			return CTL_EXIT_OK;
		default:
			fprintf(stderr, "(%s --help for usage)\n", prog);
			return CTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		return usage_error("%s", "no command");
	if (strcmp(argv[0], "keygen") == 0)
		return cmd_keygen(argc, argv);
	signal(SIGALRM, watchdog);
	if (strcmp(argv[0], "watch") == 0) {
		rc = cmd_watch(&ctl, events_arg, socket_arg, argc, argv);
		free(ctl.hosts);
		return rc;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0]))
		return usage_error("unknown command '%s'", argv[0]);

	if (ctl.n == 0) {
		/* The local agent: a path or an ipc:// URL. */
		if (socket_arg == NULL)
			snprintf(sock, sizeof(sock), "%s", SCTAG_DEFAULT_URL);
		else if (strncmp(socket_arg, "ipc://", 6) == 0)
			snprintf(sock, sizeof(sock), "%s", socket_arg);
		else
			snprintf(sock, sizeof(sock), "ipc://%s", socket_arg);
		if ((ctl.hosts = calloc(1, sizeof(*ctl.hosts))) == NULL)
			return CTL_EXIT_LOCAL;
		if (ctl_parse_host(sock, &ctl.hosts[0], err, sizeof(err)) != 0)
			return usage_error("--socket: %s", err);
		ctl.n = 1;
	} else if (socket_arg != NULL) {
		return usage_error("%s", "--socket and -H/--hosts exclude "
		    "each other");
	}
	if (open_clients(&ctl) != 0) {
		rc = CTL_EXIT_LOCAL;
		goto out;
	}
	rc = cmds[i].fn(&ctl, argc, argv);
out:
	close_clients(&ctl);
	free(ctl.hosts);
	return rc;
}
