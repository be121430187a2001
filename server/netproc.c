/*
 * netproc.c: the network process's loop: named pipe lines become rules,
 * through the privileged process.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flowspec.h"
#include "log.h"
#include "netproc.h"
#include "pipe.h"
#include "priv.h"
#include "privproc.h"

struct net {
	const struct cfg	*cfg;
	struct reg		*reg;
	struct priv_client	 priv;
	struct pipe_reader	*pipe;
	uint64_t		 ipv4_flows;	/* accepted, not markable */
	uint64_t		 rule_errors;
	struct log_ratelimit	 rl;
};

static const char *
describe(const struct net *n, const struct pipe_event *ev, char *buf,
    size_t len)
{
	flowspec_format(&ev->fs, n->reg, buf, len);
	return buf;
}

/* The hot path of the pipe: nothing is formatted unless it is logged. */
static void
on_pipe_event(void *arg, const struct pipe_event *ev)
{
	struct net *n = arg;
	enum marker_add what;
	struct mk_rule got;
	unsigned long suppressed;
	const char *state = ev->state == PIPE_START ? "start" : "end";
	char desc[256], err[256];
	int rc, debug = log_get_level() >= LOG_LVL_DEBUG;

	if (ev->fs.family != AF_INET6) {
		/* Fireflies will announce these; there is nothing to mark. */
		n->ipv4_flows++;
		if (debug)
			log_debug("pipe: %s %s: IPv4, not markable", state,
			    describe(n, ev, desc, sizeof(desc)));
		return;
	}
	if (ev->state == PIPE_START)
		rc = priv_rule_add(&n->priv, &ev->fs.rule, &what, &got, err,
		    sizeof(err));
	else
		rc = priv_rule_del(&n->priv, &ev->fs.rule, err, sizeof(err));
	if (rc) {
		n->rule_errors++;
		if (log_ratelimit_ok(&n->rl, &suppressed))
			log_warn("pipe: %s %s: %s%s", state,
			    describe(n, ev, desc, sizeof(desc)), err,
			    suppressed ? " (earlier errors not logged)" : "");
		return;
	}
	if (!debug)
		return;
	if (ev->state == PIPE_START)
		log_debug("pipe: start %s: label 0x%05x%s",
		    describe(n, ev, desc, sizeof(desc)), got.label,
		    what == MARKER_UNCHANGED ? " (already there)" : "");
	else
		log_debug("pipe: end %s", describe(n, ev, desc, sizeof(desc)));
}

static void
log_counters(struct net *n)
{
	uint64_t c[MK_C_MAX];
	struct pipe_stats ps = { 0 };
	int i;

	if (priv_counters(&n->priv, c) == 0)
		for (i = 0; i < MK_C_MAX; i++)
			log_info("counter %s %llu",
			    marker_counter_name((enum mk_counter)i),
			    (unsigned long long)c[i]);
	if (n->pipe)
		pipe_get_stats(n->pipe, &ps);
	log_info("pipe lines %llu events %llu bad %llu overlong %llu; "
	    "ipv4 flows %llu; rule errors %llu",
	    (unsigned long long)ps.lines, (unsigned long long)ps.events,
	    (unsigned long long)ps.bad, (unsigned long long)ps.overlong,
	    (unsigned long long)n->ipv4_flows,
	    (unsigned long long)n->rule_errors);
}

static void
reload_registry(struct net *n)
{
	struct reg *nreg;
	char err[256];
	int rc;

	if (n->cfg->registry_path)
		rc = reg_load_file(n->cfg->registry_path, &nreg, err,
		    sizeof(err));
	else
		rc = reg_load_builtin(&nreg, err, sizeof(err));
	if (rc != 0) {
		log_warn("registry reload failed (%s); keeping the one from %s",
		    err, n->reg->source);
		return;
	}
	reg_free(n->reg);
	n->reg = nreg;
	log_info("registry reloaded from %s", n->reg->source);
}

static int
signals_fd(void)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

int
netproc_run(const struct netproc_opts *o)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[4];
	struct pipe_opts po;
	struct net n;
	char err[256];
	int sfd, k, rc = 1;
	char cmd;

	memset(&n, 0, sizeof(n));
	n.cfg = o->cfg;
	n.reg = o->reg;
	n.priv.fd = o->chan_fd;
	n.rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10, 20);
	if ((sfd = signals_fd()) < 0) {
		log_err("net: signalfd: %s", strerror(errno));
		goto out;
	}
	if (o->pipe_fd >= 0) {
		memset(&po, 0, sizeof(po));
		po.path = o->cfg->pipe_path;
		po.fd = o->pipe_fd;
		po.regp = (const struct reg *const *)&n.reg;
		po.strategy = o->cfg->strategy;
		po.cb = on_pipe_event;
		po.arg = &n;
		if (pipe_open(&n.pipe, &po, err, sizeof(err)) != 0) {
			log_err("pipe: %s", err);
			goto out;
		}
	}
	for (;;) {
		pfd[0].fd = sfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = o->chan_fd;
		pfd[1].events = 0;	/* only its hangup */
		pfd[2].fd = n.pipe ? pipe_fd(n.pipe) : -1;
		pfd[2].events = POLLIN;
		pfd[3].fd = o->ctl_fd;
		pfd[3].events = POLLIN;
		k = poll(pfd, 4, -1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			log_err("net: poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[1].revents & (POLLHUP | POLLERR)) {
			log_err("net: the privileged process is gone; "
			    "stopping");
			goto out;
		}
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR))
			if (pipe_read(n.pipe) != 0)
				goto out;
		if (pfd[3].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (read(o->ctl_fd, &cmd, 1) != 1) {
				rc = 0;		/* told to stop */
				goto out;
			}
			if (cmd == PRIV_CTL_RELOAD)
				reload_registry(&n);
			else if (cmd == PRIV_CTL_COUNTERS)
				log_counters(&n);
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			rc = 0;
			goto out;
		case SIGHUP:
			reload_registry(&n);
			break;
		case SIGUSR1:
			log_counters(&n);
			break;
		}
	}
out:
	pipe_close(n.pipe);
	reg_free(n.reg);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
