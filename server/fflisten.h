/*
 * fflisten.h: fireflies in (docs/fireflies.md): what XRootD, dCache,
 * flowd and flowd-go send to the host's agent.
 *
 * UDP sockets on fireflies.listen (the loopback addresses by default), read
 * by the network process's main loop. A datagram from a sender outside
 * fireflies.allow, or that common/firefly.c does not accept, changes
 * nothing: it is counted by reason and logged, rate-limited. A good one is
 * handed to the caller, who decides which end is this host's.
 */
#ifndef SCTAG_FFLISTEN_H
#define SCTAG_FFLISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "firefly.h"

/* Reasons beyond ff_parse's (enum ff_bad): */
enum fflisten_drop {
	FFL_NOT_ALLOWED = FF_BAD_COUNT,	/* sender not in fireflies.allow */
	FFL_NOT_LOCAL,			/* neither end is this host's */
	FFL_REFUSED,			/* the flow table said no */
	FFL_DROP_COUNT
};

struct fflisten_stats {
	uint64_t	received;
	uint64_t	accepted;
	uint64_t	dropped[FFL_DROP_COUNT];	/* by enum ff_bad / drop */
};

/* A good firefly from from (16 bytes, IPv4 v4-mapped). 0, or a drop. */
typedef int fflisten_fn(void *arg, const struct ff_event *,
    const uint8_t from[16], char *err, size_t errlen);

struct fflisten;

/* NULL in *out (and 0) when nothing is to be listened on. */
int fflisten_open(const struct cfg *, fflisten_fn *, void *arg,
    struct fflisten **out, char *err, size_t errlen);
void fflisten_close(struct fflisten *);
/* The sockets, for poll(); how many (at most max). */
size_t fflisten_fds(const struct fflisten *, int *fds, size_t max);
/* Read what waits on fd (a bounded number of datagrams). */
void fflisten_read(struct fflisten *, int fd);
void fflisten_get_stats(const struct fflisten *, struct fflisten_stats *);
const char *fflisten_drop_name(int);

#endif /* SCTAG_FFLISTEN_H */
