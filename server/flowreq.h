/*
 * flowreq.h: a flow as an API client describes it (proto FlowSpec + Tag),
 * checked field by field and normalised into the one form the flow table
 * and the marker use.
 *
 * Pure code: no protobuf here. The RPC layer copies the decoded message's
 * fields into struct flowreq_in (NULL strings read as ""), and answers
 * INVALID_ARGUMENT with the message of any error: every message starts
 * with the proto field it is about ("dst: ...", "tag.scitag: ...").
 *
 * Normal form (struct flowreq_spec):
 *  - IPv4 addresses are v4-mapped (::ffff:a.b.c.d), IPv4 prefixes /96+len;
 *    "::ffff:192.0.2.1" and "192.0.2.1" are the same address. IPv4 flows are
 *    kept for fireflies but not marked (IPv4 has no flow label): markable
 *    is 0 and rule.strategy is MK_STRAT_NONE, so two IPv4 specs that differ
 *    only in strategy are one flow.
 *  - the tag is resolved to ids, whether it came as names (any case), ids
 *    or the scitag integer; strategy 0 becomes the agent's default.
 *  - a host is a /128 prefix (IPv4: /32, stored /128).
 * The canonical key (flowreq_key) is the normal form of everything the
 * marker rule carries, and nothing else: ttl and application are not in
 * it, so a repeated start with another ttl is the same flow.
 */
#ifndef SCTAG_FLOWREQ_H
#define SCTAG_FLOWREQ_H

#include <stddef.h>
#include <stdint.h>

#include "marker.h"
#include "registry.h"

#define FLOWREQ_APP_MAX		64		/* bytes of application */
#define FLOWREQ_TTL_MAX		(30u * 24 * 3600)	/* 30 days */
/* proto, src_any, src, sport, dst, plen, dport: what a rule matches */
#define FLOWREQ_MATCH_LEN	39
/* + exp (2), act, strategy */
#define FLOWREQ_KEY_LEN		(FLOWREQ_MATCH_LEN + 4)
/* Longest canonical address text: IPv6 + "/128". */
#define FLOWREQ_ADDRSTRLEN	(46 + 4)

/* Mirrors sctag.v1.FlowSpec and its Tag; enum fields as their numbers. */
struct flowreq_in {
	int		 protocol;	/* 0 any, 6 tcp, 17 udp */
	const char	*src;		/* "" = any local address */
	uint32_t	 src_port;	/* 0 = any */
	const char	*dst;		/* address or "ADDR/LEN" */
	uint32_t	 dst_port;	/* 0 = any */
	const char	*experiment;	/* name or id; "": use scitag */
	const char	*activity;
	uint32_t	 scitag;	/* exp << 6 | act */
	int		 strategy;	/* 0 = the agent's default, 1..4 */
	uint32_t	 ttl_seconds;	/* 0 = until ended */
	const char	*application;
	int		 per_conn;	/* per_connection */
};

struct flowreq_spec {
	struct marker_rule	rule;		/* match, tag and strategy */
	int			family;		/* AF_INET6 or AF_INET */
	int			markable;	/* family == AF_INET6 */
	uint32_t		ttl_seconds;
	char			application[FLOWREQ_APP_MAX + 1];
	int			per_conn;	/* fireflies per connection */
};

/*
 * Check and normalise. default_strategy (1..4) replaces strategy 0. reg
 * resolves names; it may be NULL (ids and scitags only). Returns 0, or
 * -EINVAL/-ERANGE with a message naming the field; *out is written only
 * on success.
 */
int flowreq_parse(const struct flowreq_in *, const struct reg *,
    int default_strategy, struct flowreq_spec *out, char *err,
    size_t errlen);

/*
 * An address or prefix ("2001:db8::/32", "192.0.2.0/24", a host), as dst
 * and the list filter take it. field names the input in messages. Host
 * bits must be zero: the message names the prefix the caller probably
 * meant. *family is AF_INET6 or AF_INET; plen is 0..128 (IPv4: 96..128).
 */
int flowreq_parse_prefix(const char *field, const char *s, uint8_t addr[16],
    uint8_t *plen, int *family, char *err, size_t errlen);

/* Does prefix a/alen contain prefix b/blen (b at least as long)? */
int flowreq_prefix_contains(const uint8_t a[16], uint8_t alen,
    const uint8_t b[16], uint8_t blen);

/* The canonical key: the same bytes for the same normal form. */
void flowreq_key(const struct marker_rule *, uint8_t out[FLOWREQ_KEY_LEN]);

/* IPv4 if the address is v4-mapped (how the rule stores IPv4). */
int flowreq_family(const struct marker_rule *);

/*
 * One concrete connection: one protocol, both ports, one host at each
 * end. Only such a flow has fireflies of its own; a wildcard rule's
 * connections get theirs as they are seen (per_conn, conns.h).
 */
int flowreq_exact(const struct marker_rule *);

/*
 * Canonical text for replies: the source ("" for any) and the destination
 * ("2001:db8::/32", "2001:db8::1", "192.0.2.0/24", "192.0.2.1").
 */
void flowreq_src_str(const struct marker_rule *, char *buf, size_t len);
void flowreq_dst_str(const struct marker_rule *, char *buf, size_t len);

#endif /* SCTAG_FLOWREQ_H */
