/*
 * priv.h: the channel between sctagd's two processes.
 *
 * A SOCK_SEQPACKET socketpair carries fixed-size messages. The network
 * process (unprivileged, parses everything from outside) asks; the
 * privileged process (owns the marker) answers. The privileged side trusts
 * nothing it receives: a message of the wrong size, magic or operation is
 * answered with an error, and every rule is checked again by
 * marker_rule_check() and against the marker's own capacity.
 */
#ifndef SCTAG_PRIV_H
#define SCTAG_PRIV_H

#include <stddef.h>
#include <stdint.h>

#include "marker.h"

#define PRIV_MAGIC	0x73637470u	/* "sctp" */
#define PRIV_ERR_MAX	160
/* How long the network process waits for an answer. */
#define PRIV_TIMEOUT_MS	5000

enum priv_op {
	PRIV_RULE_ADD = 1,
	PRIV_RULE_DEL,
	PRIV_RULE_GET,
	PRIV_COUNTERS,
	PRIV_USAGE,
	PRIV_RULES_MANY,	/* a priv_many_req */
	PRIV_OP_MAX = PRIV_RULES_MANY,
};

/*
 * Many rule changes in one round trip: a wake-up of each process per rule
 * was what bounded a Batch (about 45 us per flow) and the API's calls
 * under load. Each rule has its own operation, done in order: "add if
 * absent" as marker_rule_add_new, or delete as marker_rule_del.
 */
#define PRIV_MANY_MAX	64

enum priv_many_op {
	PRIV_MANY_ADD_NEW = 1,
	PRIV_MANY_DEL,
};

struct priv_many_req {
	uint32_t		magic;
	uint16_t		op;		/* PRIV_RULES_MANY */
	uint16_t		count;		/* 1..PRIV_MANY_MAX */
	uint64_t		seq;
	uint8_t			ops[PRIV_MANY_MAX];	/* priv_many_op */
	struct marker_rule	rules[PRIV_MANY_MAX];
};

struct priv_many_rep {
	uint32_t		magic;
	uint16_t		op;
	uint16_t		count;
	uint64_t		seq;
	int32_t			rc[PRIV_MANY_MAX];	/* 0, -EEXIST, ... */
	/* ADD_NEW: the rule as it is now in the kernel. */
	struct mk_rule		rule[PRIV_MANY_MAX];
};

struct priv_req {
	uint32_t		magic;
	uint16_t		op;
	uint16_t		pad;
	uint64_t		seq;
	struct marker_rule	rule;
};

struct priv_rep {
	uint32_t		magic;
	uint16_t		op;
	uint16_t		pad;
	uint64_t		seq;
	int32_t			rc;		/* 0 or -errno */
	uint32_t		added;		/* enum marker_add */
	struct mk_rule		rule;		/* RULE_ADD, RULE_GET */
	uint64_t		counters[MK_C_MAX];
	uint32_t		hash_use[MK_NSHAPES];
	uint32_t		lpm_use[MK_NSHAPES];
	uint32_t		def_use;
	uint32_t		capacity;
	char			err[PRIV_ERR_MAX];
};

/* Privileged side: answer one message from fd. -ECONNRESET at EOF. */
int priv_serve_one(int fd, struct marker *);

/* Network side. Errors as the marker's, or -ETIMEDOUT/-EPIPE. */
struct priv_client {
	int		fd;
	uint64_t	seq;
};

int priv_rule_add(struct priv_client *, const struct marker_rule *,
    enum marker_add *, struct mk_rule *, char *err, size_t errlen);
int priv_rule_del(struct priv_client *, const struct marker_rule *,
    char *err, size_t errlen);
int priv_rule_get(struct priv_client *, const struct marker_rule *,
    struct mk_rule *);
int priv_counters(struct priv_client *, uint64_t out[MK_C_MAX]);
int priv_usage(struct priv_client *, uint32_t hash[MK_NSHAPES],
    uint32_t lpm[MK_NSHAPES], uint32_t *def, uint32_t *capacity);
/*
 * n rule changes (ops[i] on rules[i], enum priv_many_op), PRIV_MANY_MAX per
 * message; per-rule results in rc[] and, for adds, got[]. The call's own
 * result is the channel's: on an error, rc[] of the messages that did not
 * go through is left as it was.
 */
int priv_rules_many(struct priv_client *, const uint8_t *ops,
    const struct marker_rule *rules, size_t n, int32_t *rc,
    struct mk_rule *got);
/* The same, every one an add if absent. */
int priv_rules_add_new(struct priv_client *, const struct marker_rule *rules,
    size_t n, int32_t *rc, struct mk_rule *got);

#endif /* SCTAG_PRIV_H */
