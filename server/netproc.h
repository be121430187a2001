/*
 * netproc.h: sctagd's network process: unprivileged, no capabilities; reads
 * everything that comes from outside (the named pipe now) and asks the
 * privileged process, over the priv channel, to change the marker.
 */
#ifndef SCTAG_NETPROC_H
#define SCTAG_NETPROC_H

#include <sys/types.h>

#include "config.h"
#include "registry.h"
#include "rpc.h"

struct netproc_opts {
	const struct cfg	*cfg;
	struct reg		*reg;		/* taken over */
	int			 chan_fd;	/* priv channel */
	int			 ctl_fd;	/* commands from priv; EOF = stop */
	int			 pipe_fd;	/* -1: no pipe */
	const char		*host;		/* this agent's name */
	gid_t			 admin_gid;	/* (gid_t)-1: root only */
	struct rpc_opts		 rpc;		/* no listener at all: no API */
	/* api.events_tls (the agent's certificate is rpc's): NULL, none. */
	const char		*events_tls_url;
	const char		*events_ca_pem;	/* whose clients may watch */
};

/* Runs until told to stop or the privileged process goes; exit status. */
int netproc_run(const struct netproc_opts *);

#endif /* SCTAG_NETPROC_H */
