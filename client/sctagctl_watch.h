/*
 * sctagctl_watch.h: `sctagctl watch`, an agent's events as they happen.
 */
#ifndef SCTAGCTL_WATCH_H
#define SCTAGCTL_WATCH_H

#include "sctag.h"

#define CTL_EVENTS_URL	SCTAG_DEFAULT_EVENTS_URL
/* The port of api.events_tls by convention (the API's is 7443). */
#define CTL_EVENTS_TLS_PORT	7444

/*
 * watch [--count N] [--for SECONDS] from o->url (its TLS files and target
 * as for a call; its timeout bounds the first connection): print each
 * event (a line, or one JSON object a line with json), until N events or
 * SECONDS have passed (neither: until interrupted). A gap in the sequence
 * is reported on stderr. Returns a CTL_EXIT_* code.
 */
int ctl_watch(const struct sctag_opts *o, int json, int argc, char **argv);

#endif /* SCTAGCTL_WATCH_H */
