/*
 * privproc.c: the privileged process's loop.
 *
 * Signals sent to sctagd (its pid is the privileged process) are handled
 * here: TERM/INT stop both processes, HUP and USR1 are passed on to the
 * network process, which owns the registry and the pipe, as bytes on the
 * control pipe. If the network process ends for any reason, this one
 * detaches and exits too.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "privproc.h"

/*
 * Bounded wait for the child after asking it to stop, answering its
 * requests meanwhile (a Batch or Drain it is finishing would otherwise
 * wait out each request's timeout). Without CAP_KILL we can not force it;
 * if it hangs, we leave, and its parent-death signal ends it.
 */
static int
reap(struct marker *m, int chan_fd, pid_t child, int timeout_ms)
{
	struct pollfd pfd = { .fd = chan_fd, .events = POLLIN };
	int status, waited;

	for (waited = 0; waited < timeout_ms; waited += 20) {
		if (waitpid(child, &status, WNOHANG) == child)
			return status;
		if (pfd.fd >= 0 && poll(&pfd, 1, 20) > 0) {
			if (priv_serve_one(chan_fd, m) != 0)
				pfd.fd = -1;	/* hung up: just wait */
		} else if (pfd.fd < 0) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
	log_warn("network process %d did not stop within %d ms",
	    (int)child, timeout_ms);
	return -1;
}

static void
tell(int ctl_fd, char cmd)
{
	if (write(ctl_fd, &cmd, 1) != 1)
		log_warn("priv: control pipe: %s", strerror(errno));
}

static void
report_child(pid_t child, int status)
{
	if (WIFEXITED(status))
		log_info("network process %d exited with status %d",
		    (int)child, WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		log_err("network process %d killed by signal %d", (int)child,
		    WTERMSIG(status));
}

int
privproc_run(struct marker *m, int chan_fd, int ctl_fd, pid_t child,
    int sig_fd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd[2];
	int n, rc, status;

	for (;;) {
		pfd[0].fd = sig_fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = chan_fd;
		pfd[1].events = POLLIN;
		n = poll(pfd, 2, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("priv: poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			rc = priv_serve_one(chan_fd, m);
			if (rc == -ECONNRESET || rc == -EPIPE ||
			    (pfd[1].revents & POLLHUP)) {
				close(ctl_fd);
				status = reap(m, chan_fd, child, 2000);
				report_child(child, status);
				return WIFEXITED(status) &&
				    WEXITSTATUS(status) == 0 ? 0 : 1;
			}
		}
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(sig_fd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: stopping", si.ssi_signo);
			close(ctl_fd);
			if ((status = reap(m, chan_fd, child, 5000)) != 0)
				report_child(child, status);
			return 0;
		case SIGHUP:
			tell(ctl_fd, PRIV_CTL_RELOAD);
			break;
		case SIGUSR1:
			tell(ctl_fd, PRIV_CTL_COUNTERS);
			break;
		case SIGCHLD:
			if (waitpid(child, &status, WNOHANG) == child) {
				close(ctl_fd);
				report_child(child, status);
				return 1;
			}
			break;
		}
	}
	close(ctl_fd);
	reap(m, chan_fd, child, 5000);
	return 1;
}
