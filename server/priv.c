/*
 * priv.c: both ends of the privileged channel (see priv.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static struct log_ratelimit bad_msgs = LOG_RATELIMIT_INIT(10, 5);

static int
send_rep(int fd, struct priv_rep *rep)
{
	ssize_t n;

	do
		n = send(fd, rep, sizeof(*rep), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == sizeof(*rep) ? 0 : -EIO;
}

int
priv_serve_one(int fd, struct marker *m)
{
	struct priv_req req;
	struct priv_rep rep;
	enum marker_add added = MARKER_UNCHANGED;
	unsigned long suppressed;
	ssize_t n;

	/* MSG_TRUNC: a longer datagram shows its real length. */
	do
		n = recv(fd, &req, sizeof(req), MSG_TRUNC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	memset(&rep, 0, sizeof(rep));
	rep.magic = PRIV_MAGIC;
	if ((size_t)n != sizeof(req) || req.magic != PRIV_MAGIC ||
	    req.op == 0 || req.op > PRIV_OP_MAX || req.pad != 0) {
		if (log_ratelimit_ok(&bad_msgs, &suppressed))
			log_warn("priv: refused a malformed message (%zd "
			    "bytes) from the network process", n);
		rep.rc = -EPROTO;
		snprintf(rep.err, sizeof(rep.err), "malformed message");
		if ((size_t)n >= sizeof(req.magic) + sizeof(req.op) +
		    sizeof(req.pad) + sizeof(req.seq))
			rep.seq = req.seq;
		return send_rep(fd, &rep);
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
	return send_rep(fd, &rep);
}

/* One round trip; a reply for an older request (timed out) is skipped. */
static int
call(struct priv_client *c, uint16_t op, const struct marker_rule *rule,
    struct priv_rep *rep)
{
	struct priv_req req;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int i, rc;

	memset(&req, 0, sizeof(req));
	req.magic = PRIV_MAGIC;
	req.op = op;
	req.seq = ++c->seq;
	if (rule)
		req.rule = *rule;
	do
		n = send(c->fd, &req, sizeof(req), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (i = 0; i < 8; i++) {
		rc = poll(&pfd, 1, PRIV_TIMEOUT_MS);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return -errno;
		if (rc == 0)
			return -ETIMEDOUT;
		n = recv(c->fd, rep, sizeof(*rep), MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		if ((size_t)n != sizeof(*rep) || rep->magic != PRIV_MAGIC)
			return -EPROTO;
		if (rep->seq == req.seq)
			return 0;
	}
	return -EPROTO;
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
