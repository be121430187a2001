/*
 * privproc.h: sctagd's privileged process: owns the marker, keeps only
 * CAP_BPF and CAP_NET_ADMIN, answers the network process's requests, and
 * stops both processes cleanly when either ends.
 */
#ifndef SCTAG_PRIVPROC_H
#define SCTAG_PRIVPROC_H

#include <sys/types.h>

#include "marker.h"

/*
 * Commands on the control pipe to the network process. The privileged
 * process keeps no CAP_KILL, so it can not signal the child (another uid):
 * it writes one of these bytes instead, and closing the pipe means "stop".
 */
#define PRIV_CTL_RELOAD		'H'
#define PRIV_CTL_COUNTERS	'U'

/*
 * Runs until a stop signal or the network process's end; exit status.
 * Takes ctl_fd over: it is closed on return.
 */
int privproc_run(struct marker *, int chan_fd, int ctl_fd, pid_t child,
    int sig_fd);

#endif /* SCTAG_PRIVPROC_H */
