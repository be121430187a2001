/*
 * sctagctl_parse.h: the parts of sctagctl that only read text: host
 * arguments and hosts files, flow options, addresses with ports, batch
 * lines in both formats, and the exit code. No I/O but ctl_read_hosts.
 */
#ifndef SCTAGCTL_PARSE_H
#define SCTAGCTL_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "sctag.h"

/* Exit codes (sctagctl --help, docs/sctagctl.md). */
#define CTL_EXIT_OK		0	/* every host answered OK */
#define CTL_EXIT_REPLY		1	/* some host answered an error */
#define CTL_EXIT_USAGE		2	/* bad command line or input */
#define CTL_EXIT_TRANSPORT	3	/* some host not reached */
#define CTL_EXIT_LOCAL		4	/* files, keys, memory */

#define CTL_URL_MAX		512
#define CTL_ADDR_MAX		64	/* as the agent takes them */
#define CTL_NAME_MAX		64
#define CTL_APP_MAX		128
#define CTL_ERR_MAX		256
/* Most tokens in one batch line. */
#define CTL_LINE_TOKENS		32

/* One -H [NAME=]URL. */
struct ctl_host {
	char	url[CTL_URL_MAX];
	char	target[SCTAG_HOST_MAX + 1];	/* NAME; "" = derive */
	char	label[SCTAG_HOST_MAX + 1];	/* what output calls it */
};

/*
 * "[NAME=]URL": NAME is the agent's host name (request target and TLS
 * server name). label is NAME, else the host name derived from the URL,
 * else the URL. 0 or -EINVAL with a message.
 */
int ctl_parse_host(const char *arg, struct ctl_host *h, char *err,
    size_t errlen);

/*
 * A hosts file's text: one "[NAME=]URL" per line, blank lines and '#'
 * comments (to the end of the line) ignored. Appends to *hosts (realloc'd;
 * free it), *n counts. 0, -EINVAL naming the line ("hosts:3: ..."),
 * -ENOMEM.
 */
int ctl_parse_hosts_text(const char *text, const char *name,
    struct ctl_host **hosts, size_t *n, char *err, size_t errlen);
/* The same from a file (at most 1 MiB). -errno for the file itself. */
int ctl_read_hosts(const char *path, struct ctl_host **hosts, size_t *n,
    char *err, size_t errlen);

/*
 * Source "ADDR[:PORT]" and destination "ADDR[/LEN][:PORT]": an IPv6
 * address takes a port only in brackets ("[2001:db8::1]:443",
 * "[2001:db8::/48]:443"); an IPv4 address as "192.0.2.1:443". addr gets
 * the address (and "/LEN") without brackets, port 0 when none is given.
 * "" and "*" mean any. 0 or -EINVAL with a message.
 */
int ctl_parse_src(const char *s, char addr[CTL_ADDR_MAX + 1],
    unsigned *port, char *err, size_t errlen);
int ctl_parse_dst(const char *s, char addr[CTL_ADDR_MAX + 1],
    unsigned *port, char *err, size_t errlen);

/* "tcp", "udp", "any" or 6, 17, 0. */
int ctl_parse_proto(const char *s, Sctag__V1__Protocol *p);
/* "default", "flow-label", "hop-by-hop", "destination",
 * "hop-by-hop+destination". */
int ctl_parse_strategy(const char *s, Sctag__V1__Strategy *st);
/* Decimal, 0 .. max. */
int ctl_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* A flow as the command line or a batch line gives it. The FlowSpec
 * points into the struct: call ctl_flow_spec when it is in its final
 * place (after copies and reallocs). */
struct ctl_flow {
	Sctag__V1__Protocol	proto;
	char			src[CTL_ADDR_MAX + 1];
	unsigned		sport;
	char			dst[CTL_ADDR_MAX + 1];
	unsigned		dport;
	char			experiment[CTL_NAME_MAX + 1];
	char			activity[CTL_NAME_MAX + 1];
	uint32_t		scitag;
	uint32_t		ttl;
	Sctag__V1__Strategy	strategy;
	char			app[CTL_APP_MAX + 1];
	int			per_conn;	/* --per-connection */
	Sctag__V1__FlowSpec	spec;
	Sctag__V1__Tag		tag;
};

/*
 * --proto P --src ADDR[:PORT] --dst ADDR[/LEN][:PORT] --experiment E
 * --activity A --scitag N --ttl S --strategy S --app NAME, each as
 * "--opt VALUE" or "--opt=VALUE", and the flag --per-connection.
 * need_tag: a tag is required (experiment and activity, or scitag). 0 or -EINVAL with a message.
 */
int ctl_parse_flow(int argc, char *const argv[], int need_tag,
    struct ctl_flow *f, char *err, size_t errlen);
/* Point f->spec at f's own fields and return it. */
Sctag__V1__FlowSpec *ctl_flow_spec(struct ctl_flow *f);

enum ctl_op {
	CTL_OP_START = 1,
	CTL_OP_END
};

struct ctl_item {
	enum ctl_op	op;
	int		by_id;		/* end by id: id, not flow */
	uint64_t	id;
	struct ctl_flow	flow;
};

/*
 * One batch line (changed in place: split at white space):
 *	start OPTIONS...		the options of `sctagctl start`
 *	end ID | end OPTIONS...
 *	start|end tcp|udp SRC SPORT DST DPORT EXP ACT	(flowd's pipe)
 * 1 with *it filled, 0 for a blank or '#' line, -EINVAL with a message.
 */
int ctl_parse_batch_line(char *line, struct ctl_item *it, char *err,
    size_t errlen);

/*
 * The exit code for the results of one command on n hosts: the worst of
 * CTL_EXIT_LOCAL > CTL_EXIT_TRANSPORT > CTL_EXIT_REPLY > CTL_EXIT_OK. A
 * batch answered OK with a failed item counts as an error reply.
 */
int ctl_exit_code(const struct sctag_result *res, size_t n);

#endif /* SCTAGCTL_PARSE_H */
