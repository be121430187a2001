/*
 * sctagctl_watch.h: `sctagctl watch`, an agent's events as they happen.
 */
#ifndef SCTAGCTL_WATCH_H
#define SCTAGCTL_WATCH_H

#define CTL_EVENTS_URL	"ipc:///run/sctag/events.sock"

/*
 * watch [--count N] [--for SECONDS]: print each event (a line, or one
 * JSON object a line with json), until N events or SECONDS have passed
 * (neither: until interrupted). A gap in the sequence is reported on
 * stderr. Returns a CTL_EXIT_* code.
 */
int ctl_watch(const char *url, int json, int argc, char **argv);

#endif /* SCTAGCTL_WATCH_H */
