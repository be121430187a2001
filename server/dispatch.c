/*
 * dispatch.c: see dispatch.h. The calls themselves are in dispatch_calls.c;
 * this file decides who is calling and what they may do.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dispatch.h"
#include "dispatch_calls.h"
#include "log.h"
#include "wire.h"

uint64_t
dispatch_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static enum auth_op
op_of(Sctag__V1__Request__CallCase c)
{
	switch (c) {
	case SCTAG__V1__REQUEST__CALL_START_FLOW:	return AUTH_OP_START_FLOW;
	case SCTAG__V1__REQUEST__CALL_END_FLOW:		return AUTH_OP_END_FLOW;
	case SCTAG__V1__REQUEST__CALL_BATCH:		return AUTH_OP_BATCH;
	case SCTAG__V1__REQUEST__CALL_LIST_FLOWS:	return AUTH_OP_LIST_FLOWS;
	case SCTAG__V1__REQUEST__CALL_GET_STATUS:	return AUTH_OP_GET_STATUS;
	case SCTAG__V1__REQUEST__CALL_GET_REGISTRY:	return AUTH_OP_GET_REGISTRY;
	case SCTAG__V1__REQUEST__CALL_PING:		return AUTH_OP_PING;
	case SCTAG__V1__REQUEST__CALL_RELOAD:		return AUTH_OP_RELOAD;
	case SCTAG__V1__REQUEST__CALL_DRAIN:		return AUTH_OP_DRAIN;
	default:					return AUTH_OP_COUNT;
	}
}

/* Is uid (primary gid gid) a member of the admin group? */
static int
in_admin_group(const struct dispatch *d, uint64_t uid, uint64_t gid)
{
	struct passwd *pw;
	struct group *gr;
	char **m;

	if (d->admin_gid == (gid_t)-1)
		return 0;
	if (gid == d->admin_gid)
		return 1;
	if ((pw = getpwuid((uid_t)uid)) == NULL ||
	    (gr = getgrgid(d->admin_gid)) == NULL)
		return 0;
	for (m = gr->gr_mem; *m; m++)
		if (strcmp(*m, pw->pw_name) == 0)
			return 1;
	return 0;
}

/*
 * Over ipc the kernel says who connected (SO_PEERCRED): root and the admin
 * group are admin, our own uid (the self-probe) a monitor, nobody else is
 * let in. The socket's 0660 mode and its 0750 directory already keep
 * others out; this is the second wall.
 */
static enum auth_role
ipc_role(const struct dispatch *d, const struct dispatch_peer *p)
{
	if (p->uid == 0 || in_admin_group(d, p->uid, p->gid))
		return AUTH_ROLE_ADMIN;
	if (p->uid == d->self_uid)
		return AUTH_ROLE_MONITOR;
	return AUTH_ROLE_NONE;
}

static int
error_reply(Sctag__V1__Code code, const char *msg, const ProtobufCBinaryData *rid,
    uint8_t **out, size_t *outlen)
{
	return wire_reply_error(code, msg, rid ? rid->data : NULL,
	    rid ? rid->len : 0, out, outlen);
}

int
dispatch_request(struct dispatch *d, const struct dispatch_peer *peer,
    const uint8_t *msg, size_t len, uint8_t **out, size_t *outlen)
{
	struct wire_envelope env;
	struct wire_err werr;
	struct auth_request ar;
	struct auth_result res;
	struct call_ctx cc;
	Sctag__V1__Request *req = NULL;
	char m[256];
	enum auth_op op;
	uint64_t now = dispatch_now_ms();
	int rc, is_signed;

	d->requests++;
	memset(&env, 0, sizeof(env));
	memset(&res, 0, sizeof(res));
	if (wire_envelope_parse(msg, len, &env, &werr) != 0) {
		d->refused++;
		return error_reply(werr.code, werr.msg, NULL, out, outlen);
	}
	if (wire_request_parse(env.body, env.body_len, &req, &werr) != 0) {
		d->refused++;
		rc = error_reply(werr.code, werr.msg, NULL, out, outlen);
		goto done;
	}
	op = op_of(req->call_case);
	is_signed = env.sig != NULL;
	if (!is_signed) {
		if (!peer->ipc) {
			d->refused++;
			rc = error_reply(SCTAG__V1__CODE__UNAUTHENTICATED,
			    "requests over TLS must be signed", &req->request_id,
			    out, outlen);
			goto done;
		}
		res.role = ipc_role(d, peer);
		snprintf(res.name, sizeof(res.name), "uid:%llu",
		    (unsigned long long)peer->uid);
		if (res.role == AUTH_ROLE_NONE) {
			d->refused++;
			snprintf(m, sizeof(m), "uid %llu is neither root nor in "
			    "the admin group; sign the request with an enrolled "
			    "key", (unsigned long long)peer->uid);
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, out, outlen);
			goto done;
		}
		if (strcasecmp(req->target_host, d->host) != 0) {
			d->refused++;
			snprintf(m, sizeof(m), "request is for host %.80s, this "
			    "is %.80s", req->target_host, d->host);
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, out, outlen);
			goto done;
		}
		if (!auth_allowed(res.role, op)) {
			d->refused++;
			snprintf(m, sizeof(m), "role %s may not %s",
			    auth_role_name(res.role), auth_op_name(op));
			rc = error_reply(SCTAG__V1__CODE__PERMISSION_DENIED, m,
			    &req->request_id, out, outlen);
			goto done;
		}
	} else {
		memset(&ar, 0, sizeof(ar));
		ar.body = env.body;
		ar.body_len = env.body_len;
		ar.key_id = env.key_id;
		ar.key_id_len = env.key_id_len;
		ar.sig = env.sig;
		ar.sig_len = env.sig_len;
		ar.target_host = req->target_host;
		ar.timestamp_ms = req->timestamp_ms;
		ar.nonce = req->nonce.data;
		ar.nonce_len = req->nonce.len;
		ar.request_id = req->request_id.data;
		ar.request_id_len = req->request_id.len;
		ar.op = op;
		if (auth_check(d->keys, d->nonces, d->replies, d->host, &ar,
		    now, &res) != AUTH_OK) {
			d->refused++;
			rc = error_reply((Sctag__V1__Code)res.code, res.message,
			    &req->request_id, out, outlen);
			goto done;
		}
		if (res.reply) {
			/* A resend of an answered request: the first reply. */
			*out = res.reply;
			*outlen = res.reply_len;
			rc = 0;
			goto done;
		}
	}

	memset(&cc, 0, sizeof(cc));
	cc.d = d;
	cc.req = req;
	cc.role = res.role;
	cc.caller = res.name;
	cc.now_ms = now;
	rc = call_run(&cc, out, outlen);
	if (rc == 0 && is_signed)
		(void)auth_replies_store(d->replies, res.key_id,
		    req->request_id.data, res.body_hash, *out, *outlen, now);
	if (log_get_level() >= LOG_LVL_DEBUG)
		log_debug("api: %s from %s (%s) over %s", auth_op_name(op),
		    res.name, auth_role_name(res.role), peer->ipc ? "ipc" :
		    "tls");
done:
	wire_request_free(req);
	wire_envelope_free(&env);
	return rc;
}

int
dispatch_reload(struct dispatch *d, char *msg, size_t msglen)
{
	struct auth_keys *nk = NULL;
	struct reg *nreg;
	char err[256], rerr[256];
	int rc = 0;

	if (d->cfg->api_keys) {
		if ((rc = auth_keys_load(d->cfg->api_keys, &nk, err,
		    sizeof(err))) != 0) {
			snprintf(msg, msglen, "authorized_keys not reloaded, "
			    "the old keys stay: %s", err);
			return rc;
		}
		auth_keys_free(d->keys);
		d->keys = nk;
	}
	if (d->cfg->registry_path)
		rc = reg_load_file(d->cfg->registry_path, &nreg, rerr,
		    sizeof(rerr));
	else
		rc = reg_load_builtin(&nreg, rerr, sizeof(rerr));
	if (rc != 0) {
		snprintf(msg, msglen, "%zu key(s) loaded; registry not "
		    "reloaded, the old one stays: %s", d->keys ?
		    auth_keys_count(d->keys) : 0, rerr);
		return rc;
	}
	reg_free(*d->regp);
	*d->regp = nreg;
	flows_set_reg(d->flows, nreg);
	snprintf(msg, msglen, "%zu key(s) loaded; registry from %s",
	    d->keys ? auth_keys_count(d->keys) : 0, nreg->source);
	return 0;
}
