/*
 * sctagctl_watch.c: see sctagctl_watch.h.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "sctag.h"
#include "sctagctl_out.h"
#include "sctagctl_parse.h"
#include "sctagctl_watch.h"

/* Past the --timeout, for the first connection (as for a call). */
#define CTL_WATCH_SLACK_S	5

static volatile sig_atomic_t close_rc;

/* Every event is printed: a close that hangs (NNG 1.5.2, nanomsg/nng#1813)
 * ends the process with the watch's own status. */
static void
close_hung(int sig)
{
	(void)sig;
	_exit(close_rc);
}

static const char *
kind_name(Sctag__V1__EventKind k)
{
	switch (k) {
	case SCTAG__V1__EVENT_KIND__EVENT_FLOW_STARTED:	return "started";
	case SCTAG__V1__EVENT_KIND__EVENT_FLOW_ENDED:	return "ended";
	case SCTAG__V1__EVENT_KIND__EVENT_FLOW_EXPIRED:	return "expired";
	case SCTAG__V1__EVENT_KIND__EVENT_FLOW_DRAINED:	return "drained";
	default:					return "?";
	}
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
print_event(const Sctag__V1__Event *ev, int json)
{
	json_t *j;
	char *s;

	if (json) {
		j = ctl_json_msg(&ev->base);
		if (j != NULL && (s = json_dumps(j, JSON_COMPACT)) != NULL) {
			printf("%s\n", s);
			free(s);
		}
		json_decref(j);
		return;
	}
	printf("%llu %-8s ", (unsigned long long)ev->seq, kind_name(ev->kind));
	if (ev->flow != NULL)
		ctl_print_flow(stdout, ev->flow);
	else
		printf("\n");
}

int
ctl_watch(const struct sctag_opts *o, int json, int argc, char **argv)
{
	struct sctag_watch *w;
	Sctag__V1__Event *ev;
	enum sctag_status st;
	uint64_t count = 0, seconds = 0, seen = 0, last_seq = 0, run = 0;
	long long until = 0, left;
	char err[SCTAG_MSG_MAX];
	int i, rc = CTL_EXIT_OK;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--count") == 0 && i + 1 < argc &&
		    ctl_parse_u64(argv[i + 1], 1000000000, &count) == 0 &&
		    count > 0)
			i++;
		else if (strcmp(argv[i], "--for") == 0 && i + 1 < argc &&
		    ctl_parse_u64(argv[i + 1], 31536000, &seconds) == 0 &&
		    seconds > 0)
			i++;
		else {
			fprintf(stderr, "sctagctl: watch: [--count N] "
			    "[--for SECONDS], got '%s'\n", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	/* NNG 1.5.2 does not bound a TLS handshake: the caller's SIGALRM
	 * handler (or the default action) ends one that hangs. */
	alarm((unsigned)(o->timeout_ms / 1000) + CTL_WATCH_SLACK_S);
	st = sctag_watch_open(o, &w, err, sizeof(err));
	alarm(0);
	if (st != SCTAG_OK) {
		fprintf(stderr, "sctagctl: %s\n", err);
		return st == SCTAG_ERR_LOCAL ? CTL_EXIT_LOCAL :
		    CTL_EXIT_TRANSPORT;
	}
	/* Line by line: whoever reads a pipe sees each event as it comes. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	fprintf(stderr, "sctagctl: watching %s\n", o->url);
	if (seconds > 0)
		until = now_ms() + (long long)seconds * 1000;
	while (count == 0 || seen < count) {
		left = 0;
		if (until != 0 && (left = until - now_ms()) <= 0)
			break;
		st = sctag_watch_next(w, (int)(left > 2000000000 ? 2000000000 :
		    left), &ev, err, sizeof(err));
		if (st == SCTAG_ERR_TIMEOUT)
			break;
		if (st != SCTAG_OK) {
			fprintf(stderr, "sctagctl: %s\n", err);
			rc = st == SCTAG_ERR_PROTOCOL ? CTL_EXIT_REPLY :
			    CTL_EXIT_TRANSPORT;
			break;
		}
		if (run == ev->run_id && ev->seq > last_seq + 1)
			fprintf(stderr, "sctagctl: %llu event(s) missed before "
			    "%llu\n", (unsigned long long)(ev->seq - last_seq -
			    1), (unsigned long long)ev->seq);
		else if (run != 0 && run != ev->run_id)
			fprintf(stderr, "sctagctl: the agent restarted\n");
		run = ev->run_id;
		last_seq = ev->seq;
		print_event(ev, json);
		sctag__v1__event__free_unpacked(ev, NULL);
		seen++;
	}
	fflush(stdout);
	close_rc = rc;
	signal(SIGALRM, close_hung);
	alarm(CTL_WATCH_SLACK_S);
	sctag_watch_close(w);
	alarm(0);
	return rc;
}
