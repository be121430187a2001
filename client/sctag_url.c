/*
 * sctag_url.c: the URLs libsctag dials and the host name it derives from
 * them. Only the two transports the agent listens on are taken:
 * ipc://PATH and tls+tcp://HOST:PORT (HOST a name, an IPv4 address or an
 * IPv6 address in brackets).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sctag_int.h"
#include "wire.h"

#define IPC_PREFIX	"ipc://"
#define TLS_PREFIX	"tls+tcp://"

int
sctag_host_valid(const char *s)
{
	return wire_host_valid(s, strlen(s));
}

static int
parse_port(const char *s, unsigned *port)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		return -EINVAL;
	*port = (unsigned)v;
	return 0;
}

int
sctag_url_parse(const char *url, struct sctag_url *u, char *err,
    size_t errlen)
{
	const char	*hp, *colon, *host_end;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	size_t		 hlen;

	memset(u, 0, sizeof(*u));
	if (url == NULL || *url == '\0') {
		snprintf(err, errlen, "empty URL");
		return -EINVAL;
	}
	if (strncmp(url, IPC_PREFIX, strlen(IPC_PREFIX)) == 0) {
		if (url[strlen(IPC_PREFIX)] == '\0') {
			snprintf(err, errlen, "%s: no socket path", url);
			return -EINVAL;
		}
		u->kind = SCTAG_URL_IPC;
		return 0;
	}
	if (strncmp(url, TLS_PREFIX, strlen(TLS_PREFIX)) != 0) {
		snprintf(err, errlen, "%s: not an ipc:// or tls+tcp:// URL",
		    url);
		return -EINVAL;
	}
	u->kind = SCTAG_URL_TLS;
	hp = url + strlen(TLS_PREFIX);
	if (*hp == '[') {
		host_end = strchr(hp, ']');
		if (host_end == NULL || host_end[1] != ':') {
			snprintf(err, errlen, "%s: an IPv6 address needs "
			    "[ADDR]:PORT", url);
			return -EINVAL;
		}
		hp++;
		colon = host_end + 1;
		u->host_is_addr = 1;
	} else {
		colon = strrchr(hp, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "%s: no port", url);
			return -EINVAL;
		}
		host_end = colon;
	}
	hlen = (size_t)(host_end - hp);
	if (hlen == 0) {
		snprintf(err, errlen, "%s: no host", url);
		return -EINVAL;
	}
	if (hlen > SCTAG_HOST_MAX) {
		snprintf(err, errlen, "%s: host longer than %d bytes", url,
		    SCTAG_HOST_MAX);
		return -ENAMETOOLONG;
	}
	memcpy(u->host, hp, hlen);
	u->host[hlen] = '\0';
	if (parse_port(colon + 1, &u->port) != 0) {
		snprintf(err, errlen, "%s: port '%s' is not 1-65535", url,
		    colon + 1);
		return -EINVAL;
	}
	if (u->host_is_addr) {
		if (inet_pton(AF_INET6, u->host, &a6) != 1) {
			snprintf(err, errlen, "%s: '%s' is not an IPv6 address",
			    url, u->host);
			return -EINVAL;
		}
		return 0;
	}
	if (inet_pton(AF_INET, u->host, &a4) == 1) {
		u->host_is_addr = 1;
		return 0;
	}
	if (!sctag_host_valid(u->host)) {
		snprintf(err, errlen, "%s: '%s' is not a host name (an IPv6 "
		    "address goes in brackets)", url, u->host);
		return -EINVAL;
	}
	return 0;
}

int
sctag_url_target(const char *url, char *host, size_t len)
{
	struct sctag_url	u;
	char			err[64], name[SCTAG_HOST_MAX + 2];
	int			rc;

	if (host == NULL || len == 0)
		return -EINVAL;
	host[0] = '\0';
	if ((rc = sctag_url_parse(url, &u, err, sizeof(err))) != 0)
		return rc;
	if (u.kind == SCTAG_URL_TLS) {
		/* The agent compares target_host with its name, and mbedTLS
		 * matches the server name against DNS names only: an
		 * address serves neither. */
		if (u.host_is_addr)
			return -EINVAL;
		if (strlen(u.host) >= len)
			return -ENAMETOOLONG;
		snprintf(host, len, "%s", u.host);
		return 0;
	}
	memset(name, 0, sizeof(name));
	if (gethostname(name, sizeof(name) - 1) != 0)
		return -errno;
	if (!sctag_host_valid(name))
		return -EINVAL;
	if (strlen(name) >= len)
		return -ENAMETOOLONG;
	snprintf(host, len, "%s", name);
	return 0;
}
