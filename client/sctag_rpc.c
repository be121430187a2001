/*
 * sctag_rpc.c: one function per rpc of service Agent, results, names and
 * key generation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"
#include "sctag_int.h"

enum sctag_status
sctag_start_flow(struct sctag_client *c, const Sctag__V1__FlowSpec *flow,
    struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__StartFlowRequest	s = SCTAG__V1__START_FLOW_REQUEST__INIT;

	s.flow = (Sctag__V1__FlowSpec *)flow;
	r.call_case = SCTAG__V1__REQUEST__CALL_START_FLOW;
	r.start_flow = &s;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_end_flow_id(struct sctag_client *c, uint64_t id,
    struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__EndFlowRequest	e = SCTAG__V1__END_FLOW_REQUEST__INIT;

	e.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_ID;
	e.id = id;
	r.call_case = SCTAG__V1__REQUEST__CALL_END_FLOW;
	r.end_flow = &e;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_end_flow_spec(struct sctag_client *c, const Sctag__V1__FlowSpec *flow,
    struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__EndFlowRequest	e = SCTAG__V1__END_FLOW_REQUEST__INIT;

	e.which_case = SCTAG__V1__END_FLOW_REQUEST__WHICH_SPEC;
	e.spec = (Sctag__V1__FlowSpec *)flow;
	r.call_case = SCTAG__V1__REQUEST__CALL_END_FLOW;
	r.end_flow = &e;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_batch(struct sctag_client *c, const Sctag__V1__BatchRequest *batch,
    struct sctag_result *res)
{
	Sctag__V1__Request	r = SCTAG__V1__REQUEST__INIT;

	r.call_case = SCTAG__V1__REQUEST__CALL_BATCH;
	r.batch = (Sctag__V1__BatchRequest *)batch;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_list_flows(struct sctag_client *c,
    const Sctag__V1__ListFlowsRequest *list, struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__ListFlowsRequest	empty = SCTAG__V1__LIST_FLOWS_REQUEST__INIT;

	r.call_case = SCTAG__V1__REQUEST__CALL_LIST_FLOWS;
	r.list_flows = (Sctag__V1__ListFlowsRequest *)(list != NULL ? list :
	    &empty);
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_get_status(struct sctag_client *c, struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__GetStatusRequest	g = SCTAG__V1__GET_STATUS_REQUEST__INIT;

	r.call_case = SCTAG__V1__REQUEST__CALL_GET_STATUS;
	r.get_status = &g;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_get_registry(struct sctag_client *c, struct sctag_result *res)
{
	Sctag__V1__Request		r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__GetRegistryRequest	g =
	    SCTAG__V1__GET_REGISTRY_REQUEST__INIT;

	r.call_case = SCTAG__V1__REQUEST__CALL_GET_REGISTRY;
	r.get_registry = &g;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_ping(struct sctag_client *c, const void *payload, size_t len,
    struct sctag_result *res)
{
	Sctag__V1__Request	r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__PingRequest	p = SCTAG__V1__PING_REQUEST__INIT;

	p.payload.data = (uint8_t *)payload;
	p.payload.len = payload != NULL ? len : 0;
	r.call_case = SCTAG__V1__REQUEST__CALL_PING;
	r.ping = &p;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_reload(struct sctag_client *c, struct sctag_result *res)
{
	Sctag__V1__Request	 r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__ReloadRequest g = SCTAG__V1__RELOAD_REQUEST__INIT;

	r.call_case = SCTAG__V1__REQUEST__CALL_RELOAD;
	r.reload = &g;
	return sctag_call(c, &r, res);
}

enum sctag_status
sctag_drain(struct sctag_client *c, const char *owner,
    struct sctag_result *res)
{
	Sctag__V1__Request	r = SCTAG__V1__REQUEST__INIT;
	Sctag__V1__DrainRequest	d = SCTAG__V1__DRAIN_REQUEST__INIT;

	if (owner != NULL)
		d.owner = (char *)owner;
	r.call_case = SCTAG__V1__REQUEST__CALL_DRAIN;
	r.drain = &d;
	return sctag_call(c, &r, res);
}

void
sctag_result_free(struct sctag_result *res)
{
	if (res == NULL)
		return;
	if (res->reply != NULL)
		wire_reply_free(res->reply);
	memset(res, 0, sizeof(*res));
}

const char *
sctag_status_name(enum sctag_status s)
{
	switch (s) {
	case SCTAG_OK:
		return "ok";
	case SCTAG_ERR_REPLY:
		return "error reply";
	case SCTAG_ERR_TIMEOUT:
		return "timeout";
	case SCTAG_ERR_CONNECT:
		return "connect";
	case SCTAG_ERR_PROTOCOL:
		return "protocol";
	case SCTAG_ERR_LOCAL:
		return "local";
	}
	return "?";
}

const char *
sctag_code_name(Sctag__V1__Code code)
{
	return wire_code_name(code);
}

int
sctag_keygen(const char *path, char pub[KEYS_B64_SIZE], char *err,
    size_t errlen)
{
	uint8_t	pk[ENV_PK_LEN];
	char	pubpath[4096], dummy[1];
	int	rc;

	if (err == NULL || errlen == 0) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (path == NULL || *path == '\0') {
		snprintf(err, errlen, "no key file name");
		return -EINVAL;
	}
	if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
	    sizeof(pubpath)) {
		snprintf(err, errlen, "%s: name too long", path);
		return -ENAMETOOLONG;
	}
	if ((rc = keys_generate(path, pubpath, pk, err, errlen)) != 0)
		return rc;
	if (pub != NULL)
		keys_format_public(pk, pub);
	return 0;
}
