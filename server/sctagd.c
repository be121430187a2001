/*
 * sctagd: the per-host SciTags agent.
 *
 * Starts as root: loads the marker, attaches it to the configured
 * interfaces, prepares the named pipe; then splits in two, like OpenBSD's
 * daemons. The parent keeps CAP_BPF and CAP_NET_ADMIN and owns the marker
 * (privproc.c); the child becomes the configured user with no capabilities
 * and parses everything that comes from outside (netproc.c). They talk over
 * a socketpair with fixed-size messages (priv.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "caps.h"
#include "config.h"
#include "jsonpos.h"
#include "log.h"
#include "marker.h"
#include "netproc.h"
#include "pipe.h"
#include "privproc.h"
#include "registry.h"
#include "tag.h"

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

/* The match-all default from the config: trusted input, set as root. */
static int
setup_mark_all(const struct cfg *cfg, const struct reg *reg,
    struct marker *m, int apply)
{
	struct marker_rule r;
	enum marker_add what;
	uint32_t exp, act;
	char err[256];

	if (!cfg->mark_all_exp)
		return 0;
	if (reg_resolve_exp(reg, cfg->mark_all_exp, &exp, err,
	    sizeof(err)) != 0 ||
	    reg_resolve_act(reg, exp, cfg->mark_all_act, &act, err,
	    sizeof(err)) != 0) {
		log_err("mark_all: %s", err);
		return -EINVAL;
	}
	if (!apply)
		return 0;
	memset(&r, 0, sizeof(r));
	r.src_any = 1;
	r.strategy = (uint8_t)cfg->strategy;
	r.exp = (uint16_t)exp;
	r.act = (uint8_t)act;
	if (marker_rule_add(m, &r, &what, err, sizeof(err)) != 0) {
		log_err("mark_all: %s", err);
		return -EINVAL;
	}
	log_info("mark_all: every IPv6 TCP/UDP packet gets %s/%s",
	    reg_exp_name(reg, exp), reg_act_name(reg, exp, act));
	return 0;
}

/* The network process's account: must exist and must not be root. */
static int
lookup_user(const struct cfg *cfg, uid_t *uid, gid_t *gid, gid_t *pipe_gid)
{
	struct passwd *pw;
	struct group *gr;

	if ((pw = getpwnam(cfg->user)) == NULL) {
		log_err("user: no user named '%s'; create it (useradd "
		    "--system --no-create-home --shell /usr/sbin/nologin "
		    "%s) or set \"user\" in the config", cfg->user,
		    cfg->user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		log_err("user: '%s' is root; the network process must run as "
		    "an unprivileged user", cfg->user);
		return -EPERM;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	*pipe_gid = (gid_t)-1;
	if (cfg->pipe_group) {
		if ((gr = getgrnam(cfg->pipe_group)) == NULL) {
			log_err("pipe.group: no group named '%s'",
			    cfg->pipe_group);
			return -ENOENT;
		}
		*pipe_gid = gr->gr_gid;
	}
	return 0;
}

/*
 * What the network process will need but may not be able to reach as its
 * user: the ipc socket's directory (0750, the user and the admin group),
 * and the TLS files, read here as root and handed over in memory.
 */
struct api_prep {
	char	host[256];
	gid_t	admin_gid;
	char	*cert, *key, *ca;
	char	*events_ca;	/* api.events_tls's client CA */
};

static int
prepare_api(const struct cfg *cfg, uid_t uid, struct api_prep *ap)
{
	struct stat st;
	struct group *gr;
	char dir[4096], err[512], *slash;
	size_t len;
	gid_t dgid;

	memset(ap, 0, sizeof(*ap));
	ap->admin_gid = (gid_t)-1;
	if (cfg->host)
		snprintf(ap->host, sizeof(ap->host), "%s", cfg->host);
	else if (gethostname(ap->host, sizeof(ap->host) - 1) != 0)
		snprintf(ap->host, sizeof(ap->host), "localhost");
	if (cfg->api_admin_group) {
		if ((gr = getgrnam(cfg->api_admin_group)) != NULL)
			ap->admin_gid = gr->gr_gid;
		else
			log_warn("api.admin_group: no group named '%s'; only "
			    "root is admin over ipc", cfg->api_admin_group);
	}
	if (cfg->api_ipc) {
		snprintf(dir, sizeof(dir), "%s", cfg->api_ipc);
		if ((slash = strrchr(dir, '/')) == NULL || slash == dir) {
			log_err("api.ipc: %s is not in a directory of its own",
			    cfg->api_ipc);
			return -EINVAL;
		}
		*slash = '\0';
		dgid = ap->admin_gid != (gid_t)-1 ? ap->admin_gid : 0;
		if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
			log_err("api.ipc: creating %s: %s", dir,
			    strerror(errno));
			return -errno;
		}
		if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    chown(dir, uid, dgid) != 0 || chmod(dir, 0750) != 0) {
			log_err("api.ipc: %s must be a directory sctagd can "
			    "give to its user: %s", dir, strerror(errno));
			return -EINVAL;
		}
		/* A socket left by a crash would make the bind fail. */
		if (lstat(cfg->api_ipc, &st) == 0 && S_ISSOCK(st.st_mode))
			(void)unlink(cfg->api_ipc);
	}
	if (cfg->tls_listen) {
		if (jsonpos_read_file(cfg->tls_cert, 1 << 20, &ap->cert, &len,
		    err, sizeof(err)) != 0 ||
		    jsonpos_read_file(cfg->tls_key, 1 << 20, &ap->key, &len,
		    err, sizeof(err)) != 0 ||
		    jsonpos_read_file(cfg->tls_ca, 1 << 20, &ap->ca, &len,
		    err, sizeof(err)) != 0) {
			log_err("api.tls: %s", err);
			return -EINVAL;
		}
	}
	if (cfg->api_events && cfg->events_listen &&
	    jsonpos_read_file(cfg_events_ca(cfg), 1 << 20, &ap->events_ca,
	    &len, err, sizeof(err)) != 0) {
		log_err("api.events_tls.ca: %s", err);
		return -EINVAL;
	}
	return 0;
}

static void
free_api(struct api_prep *ap)
{
	if (ap->key)
		sodium_memzero(ap->key, strlen(ap->key));
	free(ap->cert);
	free(ap->key);
	free(ap->ca);
	free(ap->events_ca);
	ap->cert = ap->key = ap->ca = ap->events_ca = NULL;
}

/* In the child: nothing of the parent's but stdio and the fds in keep[]. */
static void
close_other_fds(const int *keep, int nkeep)
{
	unsigned int lo = 3, fd;
	int i, j, t, k[4];

	for (i = 0; i < nkeep && i < 4; i++)
		k[i] = keep[i];
	for (i = 0; i < nkeep; i++)
		for (j = i + 1; j < nkeep; j++)
			if (k[j] < k[i]) {
				t = k[i];
				k[i] = k[j];
				k[j] = t;
			}
	for (i = 0; i < nkeep; i++) {
		if (k[i] < 0)
			continue;
		fd = (unsigned int)k[i];
		if (fd > lo)
			close_range(lo, fd - 1, 0);
		if (fd + 1 > lo)
			lo = fd + 1;
	}
	close_range(lo, ~0U, 0);
}

/*
 * Every API connection is an fd, and NNG 1.5.2 has no connection cap: take
 * the hard limit (LimitNOFILE in the unit) rather than the 1,024 default.
 */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
block_signals(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

static int
run_child(struct cfg *cfg, struct reg *reg, struct marker *m, int chan,
    int ctl, int pipe_fd, uid_t uid, gid_t gid, pid_t parent,
    const struct api_prep *ap)
{
	struct netproc_opts no;
	const int keep[] = { chan, ctl, pipe_fd };
	char err[256];

	int to_stderr = log_uses_stderr();

	marker_forget(m);
	log_detach();
	close_other_fds(keep, 3);
	log_init("sctagd", to_stderr, log_get_level());
	if (caps_become_user(uid, gid, err, sizeof(err)) != 0) {
		log_err("net: %s", err);
		return 1;
	}
	/* A uid change clears the death signal: set it after, then check. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		return 1;
	memset(&no, 0, sizeof(no));
	no.cfg = cfg;
	no.reg = reg;
	no.chan_fd = chan;
	no.ctl_fd = ctl;
	no.pipe_fd = pipe_fd;
	no.host = ap->host;
	no.admin_gid = ap->admin_gid;
	no.rpc.ipc_path = cfg->api_ipc;
	no.rpc.tls_url = cfg->tls_listen;
	no.rpc.tls_cert_pem = ap->cert;
	no.rpc.tls_key_pem = ap->key;
	no.rpc.tls_ca_pem = ap->ca;
	no.rpc.host = ap->host;
	if (cfg->api_events && cfg->events_listen) {
		no.events_tls_url = cfg->events_listen;
		no.events_ca_pem = ap->events_ca;
	}
	return netproc_run(&no);
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
	struct cfg cfg;
	struct reg *reg = NULL;
	struct marker *m = NULL;
	struct marker_opts mo;
	const char *config = NULL, *pipe_path = NULL;
	char *ifs[CFG_MAX_IFACES];
	char err[512];
	int nifs = 0, foreground = 0, verbose = 0, check = 0, no_pipe = 0;
	int strategy = 0, ch, sfd = -1, rc = 1, sp[2] = { -1, -1 };
	int ctl[2] = { -1, -1 };
	int pipe_fd = -1, pipe_created = 0;
	uid_t uid;
	gid_t gid, pipe_gid;
	pid_t child = -1, parent;
	struct api_prep ap;
	size_t i;

	memset(&ap, 0, sizeof(ap));

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
	cfg_init(&cfg);
	if (config && cfg_load_file(&cfg, config, err, sizeof(err)) != 0) {
		log_err("%s", err);
		goto out;
	}
	/* Command-line flags override the file. */
	if (nifs) {
		for (i = 0; i < cfg.nifaces; i++) {
			free(cfg.ifaces[i]);
			cfg.ifaces[i] = NULL;
		}
		cfg.nifaces = 0;
		for (i = 0; i < (size_t)nifs; i++)
			if (cfg_add_iface(&cfg, ifs[i], err,
			    sizeof(err)) != 0) {
				log_err("-i %s: %s", ifs[i], err);
				goto out;
			}
	}
	if (pipe_path && cfg_set_string(&cfg.pipe_path, pipe_path) != 0)
		goto out;
	if (no_pipe)
		cfg.pipe_enabled = 0;
	if (strategy > 0)
		cfg.strategy = strategy;
	if (verbose)
		cfg.log_level = LOG_LVL_DEBUG;
	log_set_level((enum log_level)cfg.log_level);

	if (load_registry(&cfg, &reg) != 0)
		goto out;
	if (setup_mark_all(&cfg, reg, NULL, 0) != 0 ||
	    lookup_user(&cfg, &uid, &gid, &pipe_gid) != 0)
		goto out;
	if (check) {
		cfg_dump(&cfg, stdout);
		rc = 0;
		goto out;
	}
	if (cfg.nifaces == 0) {
		log_err("no interface to mark: give -i IFACE or "
		    "\"interfaces\" in the config");
		goto out;
	}
	if (geteuid() != 0) {
		log_err("sctagd must be started as root: it loads the marker, "
		    "then drops to user '%s' itself", cfg.user);
		goto out;
	}
	raise_fd_limit();
	if ((sfd = block_signals()) < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}

	memset(&mo, 0, sizeof(mo));
	mo.pin_dir = cfg.pin_dir;
	mo.capacity = cfg.capacity;
	mo.keep_on_exit = cfg.keep_on_exit;
	if (marker_open(&m, &mo, err, sizeof(err)) != 0) {
		log_err("marker: %s", err);
		goto out;
	}
	for (i = 0; i < cfg.nifaces; i++)
		if (marker_attach(m, cfg.ifaces[i], err, sizeof(err)) != 0) {
			log_err("%s", err);
			goto out;
		}
	if (setup_mark_all(&cfg, reg, m, 1) != 0)
		goto out;
	if (prepare_api(&cfg, uid, &ap) != 0)
		goto out;
	if (cfg.pipe_enabled && pipe_prepare(cfg.pipe_path, cfg.pipe_mode,
	    uid, pipe_gid, &pipe_fd, &pipe_created, err, sizeof(err)) != 0) {
		log_err("pipe: %s", err);
		goto out;
	}
	log_info("sctagd %s ready: %zu interface(s), strategy %s, capacity "
	    "%u, registry %s, network process as %s", SCTAG_VERSION,
	    cfg.nifaces, tag_strategy_name(cfg.strategy), cfg.capacity,
	    reg->source, cfg.user);
	if (!foreground) {
		if (daemon(0, 0) != 0) {
			log_err("daemon: %s", strerror(errno));
			goto out;
		}
		log_init("sctagd", 0, (enum log_level)cfg.log_level);
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0 ||
	    pipe2(ctl, O_CLOEXEC) != 0) {
		log_err("socketpair: %s", strerror(errno));
		goto out;
	}
	parent = getpid();
	if ((child = fork()) < 0) {
		log_err("fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		close(sp[0]);
		close(ctl[1]);
		_exit(run_child(&cfg, reg, m, sp[1], ctl[0], pipe_fd, uid, gid,
		    parent, &ap));
	}
	close(sp[1]);
	close(ctl[0]);
	sp[1] = ctl[0] = -1;
	if (pipe_fd >= 0) {
		close(pipe_fd);
		pipe_fd = -1;
	}
	free_api(&ap);		/* the TLS key lives only in the child now */
	if (caps_keep_marker_only(err, sizeof(err)) != 0) {
		log_err("priv: %s", err);
		goto out;	/* closing ctl[1] stops the child */
	}
	rc = privproc_run(m, sp[0], ctl[1], child, sfd);
	ctl[1] = -1;		/* closed by privproc_run */
out:
	marker_close(m);
	if (pipe_created && unlink(cfg.pipe_path) != 0 && errno != ENOENT)
		log_warn("removing %s: %s", cfg.pipe_path, strerror(errno));
	if (pipe_fd >= 0)
		close(pipe_fd);
	free_api(&ap);
	reg_free(reg);
	cfg_free(&cfg);
	if (sp[0] >= 0)
		close(sp[0]);
	if (ctl[1] >= 0)
		close(ctl[1]);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
