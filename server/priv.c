/*
 * priv.c: both ends of the privileged channel (see priv.h).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

/* Replies are told apart by size; both carry seq at offset 8. */
_Static_assert(sizeof(struct priv_req) != sizeof(struct priv_many_req) &&
    sizeof(struct priv_rep) != sizeof(struct priv_many_rep), "sizes");
_Static_assert(offsetof(struct priv_rep, seq) == 8 &&
    offsetof(struct priv_many_rep, seq) == 8, "seq offset");

static struct log_ratelimit bad_msgs = LOG_RATELIMIT_INIT(10, 5);

static int
send_buf(int fd, const void *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int
serve_many(int fd, struct marker *m, const struct priv_many_req *req)
{
	static struct priv_many_rep rep;
	char err[PRIV_ERR_MAX];
	uint16_t i;

	memset(&rep, 0, sizeof(rep));
	rep.magic = PRIV_MAGIC;
	rep.op = req->op;
	rep.seq = req->seq;
	rep.count = req->count;
	for (i = 0; i < req->count; i++)
		switch (req->ops[i]) {
		case PRIV_MANY_ADD_NEW:
			rep.rc[i] = marker_rule_add_new(m, &req->rules[i],
			    &rep.rule[i], err, sizeof(err));
			break;
		case PRIV_MANY_DEL:
			/* marker_rule_del checks the rule again too. */
			rep.rc[i] = marker_rule_del(m, &req->rules[i], err,
			    sizeof(err));
			break;
		default:
			rep.rc[i] = -EPROTO;
			break;
		}
	return send_buf(fd, &rep, sizeof(rep));
}

int
priv_serve_one(int fd, struct marker *m)
{
	static union {
		struct priv_req		one;
		struct priv_many_req	many;
	} in;
	struct priv_req req;
	struct priv_rep rep;
	enum marker_add added = MARKER_UNCHANGED;
	unsigned long suppressed;
	ssize_t n;

	/* MSG_TRUNC: a longer datagram shows its real length. */
	do
		n = recv(fd, &in, sizeof(in), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	if ((size_t)n == sizeof(in.many) && in.many.magic == PRIV_MAGIC &&
	    in.many.op == PRIV_RULES_MANY && in.many.count >= 1 &&
	    in.many.count <= PRIV_MANY_MAX)
		return serve_many(fd, m, &in.many);
	memcpy(&req, &in.one, sizeof(req));
	memset(&rep, 0, sizeof(rep));
	rep.magic = PRIV_MAGIC;
	if ((size_t)n != sizeof(req) || req.magic != PRIV_MAGIC ||
	    req.op == 0 || req.op >= PRIV_RULES_MANY || req.pad != 0) {
		if (log_ratelimit_ok(&bad_msgs, &suppressed))
			log_warn("priv: refused a malformed message (%zd "
			    "bytes) from the network process", n);
		rep.rc = -EPROTO;
		snprintf(rep.err, sizeof(rep.err), "malformed message");
		if ((size_t)n >= sizeof(req.magic) + sizeof(req.op) +
		    sizeof(req.pad) + sizeof(req.seq))
			rep.seq = req.seq;
		return send_buf(fd, &rep, sizeof(rep));
	}
	rep.op = req.op;
	rep.seq = req.seq;
	switch (req.op) {
	case PRIV_RULE_ADD:
		/* marker_rule_add checks the rule again, and the capacity. */
		rep.rc = marker_rule_add(m, &req.rule, &added, rep.err,
		    sizeof(rep.err));
		rep.added = added;
		if (rep.rc == 0)
			(void)marker_rule_get(m, &req.rule, &rep.rule);
		break;
	case PRIV_RULE_DEL:
		rep.rc = marker_rule_del(m, &req.rule, rep.err,
		    sizeof(rep.err));
		break;
	case PRIV_RULE_GET:
		rep.rc = marker_rule_check(&req.rule, rep.err,
		    sizeof(rep.err));
		if (rep.rc == 0)
			rep.rc = marker_rule_get(m, &req.rule, &rep.rule);
		break;
	case PRIV_COUNTERS:
		rep.rc = marker_counters(m, rep.counters);
		break;
	case PRIV_USAGE:
		marker_usage(m, rep.hash_use, rep.lpm_use, &rep.def_use);
		rep.capacity = marker_capacity(m);
		break;
	}
	return send_buf(fd, &rep, sizeof(rep));
}

/*
 * Wait for the reply of seq (rep_len bytes, magic first, seq at offset 8);
 * a reply for an older request (timed out) is skipped.
 */
static int
await_reply(struct priv_client *c, uint64_t seq, void *rep, size_t rep_len)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	uint64_t got;
	uint32_t magic;
	ssize_t n;
	int i, rc;

	for (i = 0; i < 8; i++) {
		rc = poll(&pfd, 1, PRIV_TIMEOUT_MS);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, rep, rep_len, MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		memcpy(&magic, rep, sizeof(magic));
		memcpy(&got, (const uint8_t *)rep + 8, sizeof(got));
		if ((size_t)n != rep_len || magic != PRIV_MAGIC)
			continue;	/* a stale reply of the other size */
		if (got == seq)
			return 0;
	}
	return -EPROTO;
}

/* One round trip. */
static int
call(struct priv_client *c, uint16_t op, const struct marker_rule *rule,
    struct priv_rep *rep)
{
	struct priv_req req;
	int rc;

	memset(&req, 0, sizeof(req));
	req.magic = PRIV_MAGIC;
	req.op = op;
	req.seq = ++c->seq;
	if (rule)
		req.rule = *rule;
	if ((rc = send_buf(c->fd, &req, sizeof(req))) != 0)
		return rc;
	return await_reply(c, req.seq, rep, sizeof(*rep));
}

static int
call_err(struct priv_client *c, uint16_t op, const struct marker_rule *r,
    struct priv_rep *rep, char *err, size_t errlen)
{
	int rc;

	if ((rc = call(c, op, r, rep)) != 0) {
		snprintf(err, errlen, "privileged process: %s",
		    rc == -EPIPE ? "gone" : strerror(-rc));
		return rc;
	}
	if (rep->rc != 0) {
		rep->err[sizeof(rep->err) - 1] = '\0';
		snprintf(err, errlen, "%s", rep->err);
	}
	return rep->rc;
}

int
priv_rule_add(struct priv_client *c, const struct marker_rule *r,
    enum marker_add *added, struct mk_rule *out, char *err, size_t errlen)
{
	struct priv_rep rep;
	int rc;

	if ((rc = call_err(c, PRIV_RULE_ADD, r, &rep, err, errlen)) != 0)
		return rc;
	*added = (enum marker_add)rep.added;
	if (out)
		*out = rep.rule;
	return 0;
}

int
priv_rule_del(struct priv_client *c, const struct marker_rule *r,
    char *err, size_t errlen)
{
	struct priv_rep rep;

	return call_err(c, PRIV_RULE_DEL, r, &rep, err, errlen);
}

int
priv_rule_get(struct priv_client *c, const struct marker_rule *r,
    struct mk_rule *out)
{
	struct priv_rep rep;
	char err[PRIV_ERR_MAX];
	int rc;

	if ((rc = call_err(c, PRIV_RULE_GET, r, &rep, err, sizeof(err))) != 0)
		return rc;
	*out = rep.rule;
	return 0;
}

int
priv_counters(struct priv_client *c, uint64_t out[MK_C_MAX])
{
	struct priv_rep rep;
	char err[PRIV_ERR_MAX];
	int rc;

	if ((rc = call_err(c, PRIV_COUNTERS, NULL, &rep, err,
	    sizeof(err))) != 0)
		return rc;
	memcpy(out, rep.counters, sizeof(rep.counters));
	return 0;
}

int
priv_usage(struct priv_client *c, uint32_t hash[MK_NSHAPES],
    uint32_t lpm[MK_NSHAPES], uint32_t *def, uint32_t *capacity)
{
	struct priv_rep rep;
	char err[PRIV_ERR_MAX];
	int rc;

	if ((rc = call_err(c, PRIV_USAGE, NULL, &rep, err, sizeof(err))) != 0)
		return rc;
	memcpy(hash, rep.hash_use, sizeof(rep.hash_use));
	memcpy(lpm, rep.lpm_use, sizeof(rep.lpm_use));
	*def = rep.def_use;
	*capacity = rep.capacity;
	return 0;
}

/* The caller holds the state lock (dispatch.h): one exchange at a time. */
int
priv_rules_many(struct priv_client *c, const uint8_t *ops,
    const struct marker_rule *rules, size_t n, int32_t *rc,
    struct mk_rule *got)
{
	static struct priv_many_req req;
	static struct priv_many_rep rep;
	size_t done, k, i;
	int err;

	for (done = 0; done < n; done += k) {
		k = n - done < PRIV_MANY_MAX ? n - done : PRIV_MANY_MAX;
		memset(&req, 0, sizeof(req));
		req.magic = PRIV_MAGIC;
		req.op = PRIV_RULES_MANY;
		req.count = (uint16_t)k;
		req.seq = ++c->seq;
		memcpy(req.ops, ops + done, k);
		memcpy(req.rules, rules + done, k * sizeof(*rules));
		if ((err = send_buf(c->fd, &req, sizeof(req))) != 0 ||
		    (err = await_reply(c, req.seq, &rep, sizeof(rep))) != 0)
			return err;
		for (i = 0; i < k; i++) {
			rc[done + i] = rep.rc[i];
			got[done + i] = rep.rule[i];
		}
	}
	return 0;
}

int
priv_rules_add_new(struct priv_client *c, const struct marker_rule *rules,
    size_t n, int32_t *rc, struct mk_rule *got)
{
	uint8_t *ops;
	int err;

	if ((ops = malloc(n ? n : 1)) == NULL)
		return -ENOMEM;
	memset(ops, PRIV_MANY_ADD_NEW, n);
	err = priv_rules_many(c, ops, rules, n, rc, got);
	free(ops);
	return err;
}
