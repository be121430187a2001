/*
 * sctagd: the per-host SciTags agent.
 *
 * Loads the marker, attaches it to the configured interfaces, and turns
 * lines of the flowd-compatible named pipe into marking rules. One thread,
 * one poll loop; signals arrive through a signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "config.h"
#include "flowspec.h"
#include "log.h"
#include "marker.h"
#include "pipe.h"
#include "registry.h"
#include "tag.h"

struct agent {
	struct cfg		 cfg;
	struct reg		*reg;
	struct marker		*marker;
	struct pipe_reader	*pipe;
	uint64_t		 ipv4_flows;	/* accepted, not markable */
	uint64_t		 rule_errors;
	struct log_ratelimit	 rl;
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: sctagd [-fhvV] [-c FILE] [-i IFACE]... [--pipe PATH]\n"
"              [--strategy NAME] [--check-config]\n"
"\n"
"Marks the IPv6 packets of scientific data transfers with SciTags.\n"
"\n"
"  -c, --config FILE    JSON configuration (docs/config.md); default: none,\n"
"                       built-in defaults\n"
"  -i, --interface IF   mark egress traffic of IF; repeat for more; replaces\n"
"                       the config file's list\n"
"      --pipe PATH      flowd-compatible named pipe (default %s)\n"
"      --no-pipe        do not create the named pipe\n"
"      --strategy NAME  flow-label (default), hop-by-hop, destination,\n"
"                       hop-by-hop+destination\n"
"  -f, --foreground     stay in the foreground, log to stderr\n"
"  -v, --verbose        log at debug level\n"
"      --check-config   load and check the configuration, print it, exit\n"
"  -V, --version        print the version\n"
"  -h, --help           this text\n"
"\n"
"Signals: TERM/INT stop (filters detached, pins removed unless\n"
"marker.keep_on_exit), HUP reloads the registry, USR1 logs counters.\n",
	    CFG_PIPE_PATH_DEFAULT);
}

static int
load_registry(const struct cfg *c, struct reg **out)
{
	char err[256];
	int rc;

	if (c->registry_path)
		rc = reg_load_file(c->registry_path, out, err, sizeof(err));
	else
		rc = reg_load_builtin(out, err, sizeof(err));
	if (rc)
		log_err("registry: %s", err);
	return rc;
}

static const char *
describe(const struct agent *a, const struct pipe_event *ev, char *buf,
    size_t len)
{
	flowspec_format(&ev->fs, a->reg, buf, len);
	return buf;
}

/* The hot path of the pipe: nothing is formatted unless it is logged. */
static void
on_pipe_event(void *arg, const struct pipe_event *ev)
{
	struct agent *a = arg;
	enum marker_add what;
	struct mk_rule got;
	unsigned long suppressed;
	const char *state = ev->state == PIPE_START ? "start" : "end";
	char desc[256], err[256];
	int rc, debug = log_get_level() >= LOG_LVL_DEBUG;

	if (ev->fs.family != AF_INET6) {
		/* Fireflies will announce these; there is nothing to mark. */
		a->ipv4_flows++;
		if (debug)
			log_debug("pipe: %s %s: IPv4, not markable", state,
			    describe(a, ev, desc, sizeof(desc)));
		return;
	}
	if (ev->state == PIPE_START)
		rc = marker_rule_add(a->marker, &ev->fs.rule, &what, err,
		    sizeof(err));
	else
		rc = marker_rule_del(a->marker, &ev->fs.rule, err,
		    sizeof(err));
	if (rc) {
		a->rule_errors++;
		if (log_ratelimit_ok(&a->rl, &suppressed))
			log_warn("pipe: %s %s: %s%s", state,
			    describe(a, ev, desc, sizeof(desc)), err,
			    suppressed ? " (earlier errors not logged)" : "");
		return;
	}
	if (!debug)
		return;
	if (ev->state == PIPE_START &&
	    marker_rule_get(a->marker, &ev->fs.rule, &got) == 0)
		log_debug("pipe: start %s: label 0x%05x%s",
		    describe(a, ev, desc, sizeof(desc)), got.label,
		    what == MARKER_UNCHANGED ? " (already there)" : "");
	else
		log_debug("pipe: %s %s", state,
		    describe(a, ev, desc, sizeof(desc)));
}

static void
log_counters(struct agent *a)
{
	uint64_t c[MK_C_MAX];
	struct pipe_stats ps = { 0 };
	int i;

	if (marker_counters(a->marker, c) == 0)
		for (i = 0; i < MK_C_MAX; i++)
			log_info("counter %s %llu",
			    marker_counter_name((enum mk_counter)i),
			    (unsigned long long)c[i]);
	if (a->pipe)
		pipe_get_stats(a->pipe, &ps);
	log_info("pipe lines %llu events %llu bad %llu overlong %llu; "
	    "ipv4 flows %llu; rule errors %llu",
	    (unsigned long long)ps.lines, (unsigned long long)ps.events,
	    (unsigned long long)ps.bad, (unsigned long long)ps.overlong,
	    (unsigned long long)a->ipv4_flows,
	    (unsigned long long)a->rule_errors);
}

static int
setup_mark_all(struct agent *a)
{
	struct marker_rule r;
	enum marker_add what;
	uint32_t exp, act;
	char err[256];

	if (!a->cfg.mark_all_exp)
		return 0;
	if (reg_resolve_exp(a->reg, a->cfg.mark_all_exp, &exp, err,
	    sizeof(err)) != 0 ||
	    reg_resolve_act(a->reg, exp, a->cfg.mark_all_act, &act, err,
	    sizeof(err)) != 0) {
		log_err("mark_all: %s", err);
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	r.src_any = 1;
	r.strategy = (uint8_t)a->cfg.strategy;
	r.exp = (uint16_t)exp;
	r.act = (uint8_t)act;
	if (marker_rule_add(a->marker, &r, &what, err, sizeof(err)) != 0) {
		log_err("mark_all: %s", err);
		return -EINVAL;
	}
	log_info("mark_all: every IPv6 TCP/UDP packet gets %s/%s",
	    reg_exp_name(a->reg, exp), reg_act_name(a->reg, exp, act));
	return 0;
}

static int
open_pipe(struct agent *a)
{
	struct pipe_opts po;
	struct group *gr;
	char err[256];

	memset(&po, 0, sizeof(po));
	po.path = a->cfg.pipe_path;
	po.mode = a->cfg.pipe_mode;
	po.gid = (gid_t)-1;
	if (a->cfg.pipe_group) {
		if ((gr = getgrnam(a->cfg.pipe_group)) == NULL) {
			log_err("pipe.group: no group named '%s'",
			    a->cfg.pipe_group);
			return -ENOENT;
		}
		po.gid = gr->gr_gid;
	}
	po.regp = (const struct reg *const *)&a->reg;
	po.strategy = a->cfg.strategy;
	po.cb = on_pipe_event;
	po.arg = a;
	if (pipe_open(&a->pipe, &po, err, sizeof(err)) != 0) {
		log_err("pipe: %s", err);
		return -EINVAL;
	}
	return 0;
}

static int
run(struct agent *a, int sfd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	struct reg *nreg;
	int n;

	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = a->pipe ? pipe_fd(a->pipe) : -1;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			if (pipe_read(a->pipe) != 0)
				return 1;
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: stopping", si.ssi_signo);
			return 0;
		case SIGHUP:
			if (load_registry(&a->cfg, &nreg) == 0) {
				reg_free(a->reg);
				a->reg = nreg;
				log_info("registry reloaded from %s",
				    a->reg->source);
			} else {
				log_warn("registry reload failed; keeping "
				    "the one from %s", a->reg->source);
			}
			break;
		case SIGUSR1:
			log_counters(a);
			break;
		}
	}
}

enum { OPT_PIPE = 256, OPT_NO_PIPE, OPT_STRATEGY, OPT_CHECK };

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "interface", required_argument, NULL, 'i' },
		{ "pipe", required_argument, NULL, OPT_PIPE },
		{ "no-pipe", no_argument, NULL, OPT_NO_PIPE },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a;
	struct marker_opts mo;
	const char *config = NULL, *pipe_path = NULL;
	char *ifs[CFG_MAX_IFACES];
	char err[512];
	int nifs = 0, foreground = 0, verbose = 0, check = 0, no_pipe = 0;
	int strategy = 0, ch, sfd = -1, rc = 1;
	size_t i;
	sigset_t mask;

	memset(&a, 0, sizeof(a));
	a.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 20);
	while ((ch = getopt_long(argc, argv, "c:i:fvVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'i':
			if (nifs == CFG_MAX_IFACES) {
				fprintf(stderr, "sctagd: more than %d "
				    "interfaces\n", CFG_MAX_IFACES);
				return 2;
			}
			ifs[nifs++] = optarg;
			break;
		case OPT_PIPE:
			pipe_path = optarg;
			break;
		case OPT_NO_PIPE:
			no_pipe = 1;
			break;
		case OPT_STRATEGY:
			if ((strategy = tag_strategy_parse(optarg)) < 0) {
				fprintf(stderr, "sctagd: --strategy: unknown "
				    "strategy '%s' (flow-label, hop-by-hop, "
				    "destination, hop-by-hop+destination)\n",
				    optarg);
				return 2;
			}
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case 'V':
			printf("sctagd %s\n", SCTAG_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "sctagd: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return 2;
	}

	log_init("sctagd", 1, LOG_LVL_INFO);
	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	cfg_init(&a.cfg);
	if (config && cfg_load_file(&a.cfg, config, err, sizeof(err)) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* Command-line flags override the file. */
	if (nifs) {
		for (i = 0; i < a.cfg.nifaces; i++) {
			free(a.cfg.ifaces[i]);
			a.cfg.ifaces[i] = NULL;
		}
		a.cfg.nifaces = 0;
		for (i = 0; i < (size_t)nifs; i++)
			if (cfg_add_iface(&a.cfg, ifs[i], err,
			    sizeof(err)) != 0) {
				log_err("-i %s: %s", ifs[i], err);
				goto out;
			}
	}
	if (pipe_path && cfg_set_string(&a.cfg.pipe_path, pipe_path) != 0)
		goto out;
	if (no_pipe)
		a.cfg.pipe_enabled = 0;
	if (strategy > 0)
		a.cfg.strategy = strategy;
	if (verbose)
		a.cfg.log_level = LOG_LVL_DEBUG;
	log_set_level((enum log_level)a.cfg.log_level);

	if (load_registry(&a.cfg, &a.reg) != 0)
		goto out;
	if (check) {
		uint32_t e, t;

		if (a.cfg.mark_all_exp &&
		    (reg_resolve_exp(a.reg, a.cfg.mark_all_exp, &e, err,
		    sizeof(err)) != 0 || reg_resolve_act(a.reg, e,
		    a.cfg.mark_all_act, &t, err, sizeof(err)) != 0)) {
			log_err("mark_all: %s", err);
			goto out;
		}
		cfg_dump(&a.cfg, stdout);
		rc = 0;
		goto out;
	}
	if (a.cfg.nifaces == 0) {
		log_err("no interface to mark: give -i IFACE or "
		    "\"interfaces\" in the config");
		goto out;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}

	memset(&mo, 0, sizeof(mo));
	mo.pin_dir = a.cfg.pin_dir;
	mo.capacity = a.cfg.capacity;
	mo.keep_on_exit = a.cfg.keep_on_exit;
	if (marker_open(&a.marker, &mo, err, sizeof(err)) != 0) {
		log_err("marker: %s", err);
		goto out;
	}
	for (i = 0; i < a.cfg.nifaces; i++)
		if (marker_attach(a.marker, a.cfg.ifaces[i], err,
		    sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
	if (setup_mark_all(&a) != 0)
		goto out;
	/* The pipe comes last: once it exists, the agent is ready. */
	if (a.cfg.pipe_enabled && open_pipe(&a) != 0)
		goto out;
	log_info("sctagd %s ready: %zu interface(s), strategy %s, capacity "
	    "%u, registry %s", SCTAG_VERSION, a.cfg.nifaces,
	    tag_strategy_name(a.cfg.strategy), a.cfg.capacity,
	    a.reg->source);
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			log_err("daemon: %s", strerror(errno));
			goto out;
		}
		log_init("sctagd", 0, (enum log_level)a.cfg.log_level);
	}
	rc = run(&a, sfd);
out:
	pipe_close(a.pipe);
	marker_close(a.marker);
	reg_free(a.reg);
	cfg_free(&a.cfg);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
