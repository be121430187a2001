/*
 * sctag_int.h: what the files of libsctag share and nothing outside sees
 * (the shared library exports only what sctag.h declares).
 */
#ifndef SCTAG_INT_H
#define SCTAG_INT_H

#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/util/platform.h>

#include "sctag.h"
#include "wire.h"

struct keys_secret;
struct sctag_many;

enum sctag_url_kind {
	SCTAG_URL_IPC = 1,
	SCTAG_URL_TLS
};

/* A URL split into what the library needs; host is "" for ipc. */
struct sctag_url {
	enum sctag_url_kind	kind;
	char			host[SCTAG_HOST_MAX + 1];	/* no brackets */
	int			host_is_addr;
	unsigned		port;
};

/* Split url. 0, -EINVAL with a reason in err, -ENAMETOOLONG. */
int sctag_url_parse(const char *url, struct sctag_url *u, char *err,
    size_t errlen);
/* 1 when s is a host name the agent takes in target_host. */
int sctag_host_valid(const char *s);

/*
 * The URL a client with options o dials: o->url, else dflt, split into u.
 * NULL, with a message, when o is NULL or the URL is bad.
 */
const char *sctag_opts_url(const struct sctag_opts *o, const char *dflt,
    struct sctag_url *u, char *err, size_t errlen);

/*
 * The agent's host name for url (split into u): o->target_host, checked,
 * else the one sctag_url_target derives. 0, or -errno with a message.
 */
int sctag_opts_target(const struct sctag_opts *o, const char *url,
    const struct sctag_url *u, char *target, size_t len, char *err,
    size_t errlen);

/*
 * Mutual TLS for dialer d, set before it starts: TLS 1.2, o's CA and
 * client certificate (and key), and server_name, the name the agent's
 * certificate must carry. The API's clients and the event watchers.
 * 0, or -EINVAL with a message.
 */
int sctag_tls_dialer(nng_dialer d, const char *url, const char *server_name,
    const struct sctag_opts *o, char *err, size_t errlen);

enum sctag_phase {
	SCTAG_IDLE = 0,
	SCTAG_SENDING,
	SCTAG_RECEIVING,
	SCTAG_DONE
};

struct sctag_client {
	char			*url;
	char			 target[SCTAG_HOST_MAX + 1];
	int			 timeout_ms;
	struct keys_secret	*sk;		/* NULL: unsigned (ipc) */
	nng_socket		 sock;
	nng_dialer		 dialer;
	nng_aio			*aio;

	/* One call's state. The fields below phase are the aio
	 * callback's while the call runs; the caller reads them after the
	 * call's last callback (m->pending reached 0). */
	struct sctag_many	*many;
	enum sctag_phase	 phase;
	int			 stop;		/* under many->mtx */
	int			 rv;		/* NNG result of the call */
	uint8_t			*env;		/* the signed Envelope */
	size_t			 env_len;
	nng_msg			*reply;
	unsigned		 sends;		/* times the Envelope went out */
	int			 handed;	/* a pipe took it at least once */
	nng_time		 t0, t1;
	uint8_t			 rid[WIRE_REQID_LEN];
	/* Connections up now (NNG's pipe events): a connected client
	 * needs no look at the dialer's statistics. */
	_Atomic int		 pipes;
	/* From NNG's dialer statistics, at the start of the call (or at
	 * its first tick) and when it gave up dialing (see sctag_call.c). */
	uint64_t		 base_connect, base_fail;
	int			 have_base;
	char			 dial_error[128];
};

/* The aio callback of every client (sctag_call.c). */
void sctag_aio_done(void *arg);

#endif /* SCTAG_INT_H */
