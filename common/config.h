/*
 * config.h: sctagd's configuration, one JSON file (docs/config.md).
 *
 * Strict: unknown keys and wrong types are errors that name the key's path
 * and the line, e.g. "/etc/sctag/sctagd.json:7: marker.capacity: expected
 * an integer, got a string". Missing keys keep their defaults; no file at
 * all means every default.
 */
#ifndef SCTAG_CONFIG_H
#define SCTAG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_MAX_IFACES		64
#define CFG_CAPACITY_DEFAULT	262144
#define CFG_CAPACITY_MAX	(1u << 24)
#define CFG_PIPE_PATH_DEFAULT	"/var/run/flowd"
#define CFG_PIN_DIR_DEFAULT	"/sys/fs/bpf/sctag/v1"
#define CFG_USER_DEFAULT	"sctag"
#define CFG_IPC_DEFAULT		"/run/sctag/sctagd.sock"
#define CFG_ADMIN_GROUP_DEFAULT	"sctag"
#define CFG_FLOWS_DEFAULT	1000000
#define CFG_FLOWS_MAX		(1u << 24)
#define CFG_MAX_COLLECTORS	16
#define CFG_MAX_LISTEN		8
#define CFG_MAX_ALLOW		64
#define CFG_FF_PORT		10514
#define CFG_FF_RESOLVE_DEFAULT	300	/* seconds */
#define CFG_FF_SCAN_DEFAULT	1	/* seconds */
#define CFG_HOSTNAME_MAX	253

struct cfg {
	char		*ifaces[CFG_MAX_IFACES];	/* "interfaces": [...] */
	size_t		 nifaces;
	int		 strategy;	/* "strategy": TAG_STRAT_*, default flow-label */
	char		*registry_path;	/* "registry": NULL = built-in snapshot */
	char		*user;		/* "user": the network process's account, "sctag" */
	int		 log_level;	/* "log_level": enum log_level, default info */

	int		 pipe_enabled;	/* "pipe": { "enabled": true, */
	char		*pipe_path;	/*   "path": "/var/run/flowd", */
	char		*pipe_group;	/*   "group": NULL = the daemon's gid, */
	unsigned int	 pipe_mode;	/*   "mode": "0620" (octal string) } */

	uint32_t	 capacity;	/* "marker": { "capacity": 262144, */
	char		*pin_dir;	/*   "pin_dir": "/sys/fs/bpf/sctag/v1", */
	int		 keep_on_exit;	/*   "keep_on_exit": false } */

	char		*mark_all_exp;	/* "mark_all": { "experiment": ..., */
	char		*mark_all_act;	/*   "activity": ... } or absent/null */

	char		*host;		/* "host": this agent's name; NULL = hostname */
	char		*api_ipc;	/* "api": { "ipc": path or null, */
	char		*api_admin_group; /* "admin_group": name or null, */
	char		*api_keys;	/*   "authorized_keys": path or null, */
	uint32_t	 api_flows;	/*   "flow_capacity": 1000000, */
	int		 api_events;	/*   "events": true (events.sock), */
	char		*tls_listen;	/*   "tls": null or { "listen": URL, */
	char		*tls_cert;	/*     "cert": path, (PEM, ECDSA) */
	char		*tls_key;	/*     "key": path, */
	char		*tls_ca;	/*     "ca": path (client CA) }, */
	char		*events_listen;	/*   "events_tls": null or { "listen":
					   URL, (needs "tls": its cert, key) */
	char		*events_ca;	/*     "ca": path; NULL = tls_ca } } */

	int		 ff_enabled;	/* "fireflies": { "enabled": true, */
	char		*ff_collectors[CFG_MAX_COLLECTORS]; /* "collectors":
					   ["HOST[:PORT]", "[V6][:PORT]"], */
	size_t		 nff_collectors;
	int		 ff_to_peer;	/*   "to_peer": true, */
	uint32_t	 ff_peer_port;	/*   "peer_port": 10514, */
	uint32_t	 ff_interval;	/*   "interval": 0 (s; ongoing), */
	uint32_t	 ff_resolve;	/*   "resolve_every": 300 (s), */
	uint32_t	 ff_scan;	/*   "scan_every": 1 (s; per-connection
					   rules' sockets), */
	char		*ff_listen[CFG_MAX_LISTEN]; /* "listen": ["[::1]:10514",
					   "127.0.0.1:10514"] (addresses), */
	size_t		 nff_listen;
	char		*ff_allow[CFG_MAX_ALLOW]; /* "allow": ["::1", "127.0.0.0/8"]
					   (senders let in) } */
	size_t		 nff_allow;
};

/* "ADDR[/LEN]" into a 16-byte address (IPv4 v4-mapped) and a prefix length
 * over those 128 bits. -EINVAL with a message. */
int cfg_prefix_parse(const char *s, uint8_t addr[16], uint8_t *plen,
    char *err, size_t errlen);

/*
 * A collector, "HOST[:PORT]" or "[IPV6][:PORT]" (port default 10514):
 * its host (an address or a name) and port. -EINVAL with a message.
 */
int cfg_collector_split(const char *s, char *host, size_t hostlen,
    uint16_t *port, char *err, size_t errlen);

/* Fill with defaults. Strings are heap copies; cfg_free releases them. */
int cfg_init(struct cfg *);
/* Apply a JSON document over what *c holds; source names it in errors. */
int cfg_parse(struct cfg *, const char *buf, size_t len, const char *source,
    char *err, size_t errlen);
int cfg_load_file(struct cfg *, const char *path, char *err, size_t errlen);
void cfg_free(struct cfg *);

/* Helpers for command-line overrides. -EINVAL/-E2BIG with a message. */
int cfg_add_iface(struct cfg *, const char *name, char *err, size_t errlen);
int cfg_set_string(char **slot, const char *value);

/* The CA whose client certificates may watch over events_tls. */
const char *cfg_events_ca(const struct cfg *);

/* The effective configuration as JSON (for --check-config). */
int cfg_dump(const struct cfg *, FILE *);

#endif /* SCTAG_CONFIG_H */
