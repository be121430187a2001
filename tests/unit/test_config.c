/*
 * test_config.c: defaults, a full file, every rejection with its path and
 * line, atomicity of a failed parse, and dump -> parse round trips.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "config.h"
#include "jsonpos.h"
#include "log.h"
#include "tag.h"

static struct cfg	C;

static void
setup(void)
{
	cr_assert_eq(cfg_init(&C), 0);
}

static void
teardown(void)
{
	cfg_free(&C);
}

TestSuite(config, .init = setup, .fini = teardown);

#define assert_has(hay, needle)						\
	cr_assert(strstr((hay), (needle)) != NULL,			\
	    "message '%s' lacks '%s'", (hay), (needle))

static int
parse(struct cfg *c, const char *doc, char *err, size_t errlen)
{
	return cfg_parse(c, doc, strlen(doc), "t.json", err, errlen);
}

static int
streq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
assert_cfg_eq(const struct cfg *a, const struct cfg *b)
{
	size_t	i;

	cr_assert_eq(a->nifaces, b->nifaces);
	for (i = 0; i < a->nifaces; i++)
		cr_assert_str_eq(a->ifaces[i], b->ifaces[i]);
	for (i = a->nifaces; i < CFG_MAX_IFACES; i++)
		cr_assert_null(a->ifaces[i]);
	cr_assert_eq(a->strategy, b->strategy);
	cr_assert(streq_null(a->registry_path, b->registry_path));
	cr_assert_eq(a->log_level, b->log_level);
	cr_assert_eq(a->pipe_enabled, b->pipe_enabled);
	cr_assert(streq_null(a->pipe_path, b->pipe_path));
	cr_assert(streq_null(a->pipe_group, b->pipe_group));
	cr_assert(streq_null(a->user, b->user));
	cr_assert(streq_null(a->host, b->host));
	cr_assert(streq_null(a->api_ipc, b->api_ipc));
	cr_assert(streq_null(a->api_admin_group, b->api_admin_group));
	cr_assert(streq_null(a->api_keys, b->api_keys));
	cr_assert_eq(a->api_flows, b->api_flows);
	cr_assert(streq_null(a->tls_listen, b->tls_listen));
	cr_assert(streq_null(a->tls_cert, b->tls_cert));
	cr_assert(streq_null(a->tls_key, b->tls_key));
	cr_assert(streq_null(a->tls_ca, b->tls_ca));
	cr_assert(streq_null(a->events_listen, b->events_listen));
	/* The dump names the CA in use, also when it is api.tls.ca's. */
	cr_assert(streq_null(cfg_events_ca(a), cfg_events_ca(b)));
	cr_assert_eq(a->api_events, b->api_events);
	cr_assert_eq(a->pipe_mode, b->pipe_mode);
	cr_assert_eq(a->capacity, b->capacity);
	cr_assert(streq_null(a->pin_dir, b->pin_dir));
	cr_assert_eq(a->keep_on_exit, b->keep_on_exit);
	cr_assert(streq_null(a->mark_all_exp, b->mark_all_exp));
	cr_assert(streq_null(a->mark_all_act, b->mark_all_act));
	cr_assert_eq(a->ff_enabled, b->ff_enabled);
	cr_assert_eq(a->nff_collectors, b->nff_collectors);
	for (i = 0; i < a->nff_collectors; i++)
		cr_assert_str_eq(a->ff_collectors[i], b->ff_collectors[i]);
	for (i = a->nff_collectors; i < CFG_MAX_COLLECTORS; i++)
		cr_assert_null(a->ff_collectors[i]);
	cr_assert_eq(a->ff_to_peer, b->ff_to_peer);
	cr_assert_eq(a->ff_peer_port, b->ff_peer_port);
	cr_assert_eq(a->ff_interval, b->ff_interval);
	cr_assert_eq(a->ff_resolve, b->ff_resolve);
	cr_assert_eq(a->ff_scan, b->ff_scan);
}

/* Must be rejected with exactly this message, and leave C as it was. */
static void
reject_eq(const char *doc, const char *want)
{
	static const char	base[] = "{\"interfaces\": [\"eth9\"], "
	    "\"mark_all\": {\"experiment\": \"cms\", \"activity\": 3}}";
	struct cfg		before;
	char			err[512] = "";

	cfg_free(&C);
	cr_assert_eq(cfg_init(&C), 0);
	cr_assert_eq(parse(&C, base, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_init(&before), 0);
	cr_assert_eq(parse(&before, base, err, sizeof(err)), 0, "%s", err);

	cr_assert_eq(parse(&C, doc, err, sizeof(err)), -EINVAL,
	    "accepted: %s", doc);
	if (want != NULL)
		cr_assert_str_eq(err, want);
	assert_cfg_eq(&C, &before);
	cfg_free(&before);
}

static const char *
reject(const char *doc)
{
	static char	err[512];

	err[0] = '\0';
	cr_assert_eq(parse(&C, doc, err, sizeof(err)), -EINVAL,
	    "accepted: %s", doc);
	cr_assert_neq(err[0], '\0');
	return err;
}

/* ---- defaults and good files ---- */

Test(config, defaults)
{
	cr_assert_eq(C.nifaces, 0);
	cr_assert_eq(C.strategy, TAG_STRAT_FLOW_LABEL);
	cr_assert_null(C.registry_path);
	cr_assert_eq(C.log_level, LOG_LVL_INFO);
	cr_assert_str_eq(C.user, "sctag");
	cr_assert_eq(C.pipe_enabled, 1);
	cr_assert_str_eq(C.pipe_path, "/var/run/flowd");
	cr_assert_null(C.pipe_group);
	cr_assert_eq(C.pipe_mode, 0620);
	cr_assert_eq(C.capacity, 262144);
	cr_assert_str_eq(C.pin_dir, "/sys/fs/bpf/sctag/v1");
	cr_assert_eq(C.keep_on_exit, 0);
	cr_assert_null(C.mark_all_exp);
	cr_assert_null(C.mark_all_act);
}

Test(config, user)
{
	char	err[256];

	cr_assert_eq(parse(&C, "{\"user\": \"nobody\"}", err, sizeof(err)),
	    0, "%s", err);
	cr_assert_str_eq(C.user, "nobody");
	reject_eq("{\"user\": null}",
	    "t.json:1: user: expected a string, got null");
	reject_eq("{\"user\": \"\"}", "t.json:1: user: user name is empty");
	reject_eq("{\"user\": \"a b\"}", "t.json:1: user: user name "
	    "contains whitespace, ':', '/' or a control character");
	cr_assert_str_eq(C.user, "sctag");
}

static void round_trip(const struct cfg *);
static char *dump(const struct cfg *);

Test(config, api)
{
	char	err[256];

	cr_assert_str_eq(C.api_ipc, "/run/sctag/sctagd.sock");
	cr_assert_str_eq(C.api_admin_group, "sctag");
	cr_assert_null(C.api_keys);
	cr_assert_null(C.tls_listen);
	cr_assert_eq(C.api_flows, 1000000);
	cr_assert_eq(parse(&C, "{\"host\": \"agent-1.example.org\", "
	    "\"api\": {\"ipc\": null, \"admin_group\": null, "
	    "\"authorized_keys\": \"/etc/sctag/keys\", \"flow_capacity\": 5, "
	    "\"tls\": {\"listen\": \"tls+tcp://[::]:7443\", \"cert\": "
	    "\"/c.pem\", \"key\": \"/k.pem\", \"ca\": \"/ca.pem\"}}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(C.host, "agent-1.example.org");
	cr_assert_null(C.api_ipc);
	cr_assert_null(C.api_admin_group);
	cr_assert_str_eq(C.api_keys, "/etc/sctag/keys");
	cr_assert_eq(C.api_flows, 5);
	cr_assert_str_eq(C.tls_listen, "tls+tcp://[::]:7443");
	cr_assert_str_eq(C.tls_ca, "/ca.pem");
	round_trip(&C);
	reject_eq("{\"host\": \"a b\"}", "t.json:1: host: host name may "
	    "hold only letters, digits, '.' and '-'");
	reject_eq("{\"api\": {\"tls\": {\"listen\": \"tcp://x:1\"}}}",
	    "t.json:1: api.tls.listen: expected a tls+tcp:// URL, e.g. "
	    "\"tls+tcp://[::]:7443\"");
	reject_eq("{\"api\": {\"tls\": {\"listen\": \"tls+tcp://x:1\"}}}",
	    "t.json:1: api.tls: tls needs listen, cert, key and ca");
	reject_eq("{\"api\": {\"flow_capacity\": 0}}",
	    "t.json:1: api.flow_capacity: 0 is out of range (1..16777216)");
	reject_eq("{\"api\": {\"ipcs\": null}}", "t.json:1: api.ipcs: unknown "
	    "key (expected ipc, admin_group, authorized_keys, flow_capacity, "
	    "tls, events or events_tls)");
}

#define API_TLS	"\"tls\": {\"listen\": \"tls+tcp://[::]:7443\", \"cert\": " \
	"\"/c.pem\", \"key\": \"/k.pem\", \"ca\": \"/ca.pem\"}"

Test(config, events_tls)
{
	char	err[256], *text;

	cr_assert_null(C.events_listen);
	cr_assert_null(C.events_ca);
	/* Before api.tls in the file: the check waits for the whole. */
	cr_assert_eq(parse(&C, "{\"api\": {\"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7444\"}, " API_TLS "}}", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(C.events_listen, "tls+tcp://[::]:7444");
	cr_assert_null(C.events_ca);
	cr_assert_str_eq(cfg_events_ca(&C), "/ca.pem");
	text = dump(&C);
	assert_has(text, "\"events_tls\": {\n      \"listen\": "
	    "\"tls+tcp://[::]:7444\",\n      \"ca\": \"/ca.pem\"\n    }");
	free(text);
	round_trip(&C);

	cr_assert_eq(parse(&C, "{\"api\": {\"events_tls\": {\"listen\": "
	    "\"tls+tcp://192.0.2.1:7444\", \"ca\": \"/dash-ca.pem\"}}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(C.events_ca, "/dash-ca.pem");
	cr_assert_str_eq(cfg_events_ca(&C), "/dash-ca.pem");
	round_trip(&C);
	/* A new object is the whole listener: its ca goes back to api.tls's. */
	cr_assert_eq(parse(&C, "{\"api\": {\"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7445\"}}}", err, sizeof(err)), 0, "%s", err);
	cr_assert_null(C.events_ca);
	cr_assert_eq(parse(&C, "{\"api\": {\"events_tls\": null}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_null(C.events_listen);
	text = dump(&C);
	assert_has(text, "\"events_tls\": null");
	free(text);
	round_trip(&C);

	reject_eq("{\"api\": {\n\"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7444\"}}}", "t.json:2: api.events_tls: needs "
	    "api.tls (the agent's certificate and key)");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7443\"}}}", "t.json:1: api.events_tls: listen "
	    "is api.tls.listen's address; give the events a port of their "
	    "own (e.g. 7444)");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"ca\": "
	    "\"/d.pem\"}}}", "t.json:1: api.events_tls: events_tls needs "
	    "listen");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"listen\": "
	    "\"ipc:///x\"}}}", "t.json:1: api.events_tls.listen: expected a "
	    "tls+tcp:// URL, e.g. \"tls+tcp://[::]:7444\"");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"listen\": "
	    "7444}}}", "t.json:1: api.events_tls.listen: expected a string, "
	    "got an integer");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7444\", \"ca\": \"d.pem\"}}}",
	    "t.json:1: api.events_tls.ca: 'd.pem' is not an absolute path");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": {\"listen\": "
	    "\"tls+tcp://[::]:7444\", \"cert\": \"/c.pem\"}}}",
	    "t.json:1: api.events_tls.cert: unknown key (expected listen or "
	    "ca)");
	reject_eq("{\"api\": {" API_TLS ", \"events_tls\": true}}",
	    "t.json:1: api.events_tls: expected an object or null, got a boolean");
	/* Set, then api.tls taken away by a later document. */
	cr_assert_eq(parse(&C, "{\"api\": {" API_TLS ", \"events_tls\": "
	    "{\"listen\": \"tls+tcp://[::]:7444\"}}}", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(parse(&C, "{\"api\": {\"tls\": null}}", err,
	    sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "t.json: api.events_tls: needs api.tls (the "
	    "agent's certificate and key)");
	cr_assert_str_eq(C.tls_listen, "tls+tcp://[::]:7443");
}

Test(config, fireflies)
{
	char		host[300], err[256];
	uint16_t	port;

	cr_assert_eq(C.ff_enabled, 1);
	cr_assert_eq(C.nff_collectors, 0);
	cr_assert_eq(C.ff_to_peer, 1);
	cr_assert_eq(C.ff_peer_port, 10514);
	cr_assert_eq(C.ff_interval, 0);
	cr_assert_eq(C.ff_resolve, 300);
	cr_assert_eq(C.ff_scan, 1);
	cr_assert_eq(C.nff_listen, 2);
	cr_assert_str_eq(C.ff_listen[0], "[::1]:10514");
	cr_assert_eq(C.nff_allow, 2);
	cr_assert_str_eq(C.ff_allow[1], "127.0.0.0/8");
	cr_assert_eq(parse(&C, "{\"fireflies\": {\"listen\": [\"[::]:10514\"], "
	    "\"allow\": [\"2001:db8::/32\", \"192.0.2.0/24\", \"::1\"]}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.nff_listen, 1);
	cr_assert_eq(C.nff_allow, 3);
	round_trip(&C);
	reject_eq("{\"fireflies\": {\"listen\": [\"localhost:10514\"]}}",
	    "t.json:1: fireflies.listen[0]: expected an address, not a name");
	reject_eq("{\"fireflies\": {\"allow\": [\"192.0.2.0/33\"]}}",
	    "t.json:1: fireflies.allow[0]: prefix length must be 0 to 32");
	reject_eq("{\"fireflies\": {\"allow\": [\"nope\"]}}",
	    "t.json:1: fireflies.allow[0]: 'nope' is not an IPv4 or IPv6 "
	    "address");
	cr_assert_eq(parse(&C, "{\"fireflies\": {\"collectors\": "
	    "[\"collector.example.org\", \"[2001:db8::7]:9000\", "
	    "\"192.0.2.9:514\", \"[::1]\"], \"to_peer\": false, "
	    "\"peer_port\": 10515, \"interval\": 60, \"resolve_every\": 30, "
	    "\"scan_every\": 5}}", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.nff_collectors, 4);
	cr_assert_str_eq(C.ff_collectors[1], "[2001:db8::7]:9000");
	cr_assert_eq(C.ff_to_peer, 0);
	cr_assert_eq(C.ff_peer_port, 10515);
	cr_assert_eq(C.ff_interval, 60);
	cr_assert_eq(C.ff_resolve, 30);
	cr_assert_eq(C.ff_scan, 5);
	round_trip(&C);

	cr_assert_eq(cfg_collector_split("collector.example.org", host,
	    sizeof(host), &port, err, sizeof(err)), 0);
	cr_assert_str_eq(host, "collector.example.org");
	cr_assert_eq(port, 10514);
	cr_assert_eq(cfg_collector_split("[2001:db8::7]:9000", host,
	    sizeof(host), &port, err, sizeof(err)), 0);
	cr_assert_str_eq(host, "2001:db8::7");
	cr_assert_eq(port, 9000);
	cr_assert_eq(cfg_collector_split("192.0.2.9:514", host, sizeof(host),
	    &port, err, sizeof(err)), 0);
	cr_assert_str_eq(host, "192.0.2.9");
	cr_assert_eq(port, 514);

	reject_eq("{\"fireflies\": {\"collectors\": [\"2001:db8::7\"]}}",
	    "t.json:1: fireflies.collectors[0]: an IPv6 address needs "
	    "brackets: \"[2001:db8::1]:10514\"");
	reject_eq("{\"fireflies\": {\"collectors\": [\"a\", \"b:0\"]}}",
	    "t.json:1: fireflies.collectors[1]: port must be 1 to 65535");
	reject_eq("{\"fireflies\": {\"collectors\": [\"b:70000\"]}}",
	    "t.json:1: fireflies.collectors[0]: port must be 1 to 65535");
	reject_eq("{\"fireflies\": {\"collectors\": [\"b:\"]}}",
	    "t.json:1: fireflies.collectors[0]: port must be 1 to 65535");
	reject_eq("{\"fireflies\": {\"collectors\": [\"[::1\"]}}",
	    "t.json:1: fireflies.collectors[0]: '[' without ']'");
	reject_eq("{\"fireflies\": {\"collectors\": [\"a b\"]}}",
	    "t.json:1: fireflies.collectors[0]: host may hold only letters, "
	    "digits, '.', '-' (and ':' inside brackets)");
	reject_eq("{\"fireflies\": {\"collectors\": \"a\"}}",
	    "t.json:1: fireflies.collectors: expected an array of "
	    "\"HOST[:PORT]\" strings, got a string");
	reject_eq("{\"fireflies\": {\"collectors\": [\"a\", \"a\", \"a\", "
	    "\"a\", \"a\", \"a\", \"a\", \"a\", \"a\", \"a\", \"a\", \"a\", "
	    "\"a\", \"a\", \"a\", \"a\", \"a\"]}}",
	    "t.json:1: fireflies.collectors: at most 16 entries");
	reject_eq("{\"fireflies\": {\"peer_port\": 0}}",
	    "t.json:1: fireflies.peer_port: 0 is out of range (1..65535)");
	reject_eq("{\"fireflies\": {\"resolve_every\": 1}}",
	    "t.json:1: fireflies.resolve_every: 1 is out of range "
	    "(10..86400)");
	reject_eq("{\"fireflies\": {\"scan_every\": 0}}",
	    "t.json:1: fireflies.scan_every: 0 is out of range (1..3600)");
	reject_eq("{\"fireflies\": {\"port\": 1}}",
	    "t.json:1: fireflies.port: unknown key (expected enabled, "
	    "collectors, to_peer, peer_port, interval, resolve_every, "
	    "scan_every, listen or allow)");
}

Test(config, empty_object_keeps_defaults)
{
	struct cfg	d;
	char		err[256];

	cr_assert_eq(parse(&C, " {\n}\n", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_init(&d), 0);
	assert_cfg_eq(&C, &d);
	cfg_free(&d);
}

static const char full_doc[] =
    "{\n"
    "  \"interfaces\": [\"eth0\", \"bond0.100\", \"ens1f0np0\"],\n"
    "  \"strategy\": \"Hop-By-Hop+Destination\",\n"
    "  \"registry\": \"/var/lib/sctag/registry.json\",\n"
    "  \"log_level\": \"DEBUG\",\n"
    "  \"pipe\": {\n"
    "    \"enabled\": false,\n"
    "    \"path\": \"/run/sctag/flowd\",\n"
    "    \"group\": \"storm\",\n"
    "    \"mode\": \"0660\"\n"
    "  },\n"
    "  \"marker\": {\n"
    "    \"capacity\": 16777216,\n"
    "    \"pin_dir\": \"/sys/fs/bpf/other\",\n"
    "    \"keep_on_exit\": true\n"
    "  },\n"
    "  \"mark_all\": {\"experiment\": \"atlas\", \"activity\": 4}\n"
    "}\n";

Test(config, full_file)
{
	char	err[256] = "";

	cr_assert_eq(parse(&C, full_doc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.nifaces, 3);
	cr_assert_str_eq(C.ifaces[0], "eth0");
	cr_assert_str_eq(C.ifaces[1], "bond0.100");
	cr_assert_str_eq(C.ifaces[2], "ens1f0np0");
	cr_assert_eq(C.strategy, TAG_STRAT_HBH_DST);
	cr_assert_str_eq(C.registry_path, "/var/lib/sctag/registry.json");
	cr_assert_eq(C.log_level, LOG_LVL_DEBUG);
	cr_assert_eq(C.pipe_enabled, 0);
	cr_assert_str_eq(C.pipe_path, "/run/sctag/flowd");
	cr_assert_str_eq(C.pipe_group, "storm");
	cr_assert_eq(C.pipe_mode, 0660);
	cr_assert_eq(C.capacity, CFG_CAPACITY_MAX);
	cr_assert_str_eq(C.pin_dir, "/sys/fs/bpf/other");
	cr_assert_eq(C.keep_on_exit, 1);
	cr_assert_str_eq(C.mark_all_exp, "atlas");
	cr_assert_str_eq(C.mark_all_act, "4", "integers are kept as text");
}

Test(config, applies_over_previous)
{
	char	err[256] = "";

	cr_assert_eq(parse(&C, full_doc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(parse(&C, "{\"marker\": {\"capacity\": 5}, "
	    "\"interfaces\": [\"lo\"], \"registry\": null, \"mark_all\": null,"
	    " \"pipe\": {\"group\": null}}", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.capacity, 5);
	cr_assert_eq(C.keep_on_exit, 1, "untouched keys stay");
	cr_assert_str_eq(C.pin_dir, "/sys/fs/bpf/other");
	cr_assert_eq(C.nifaces, 1, "a list replaces the old one");
	cr_assert_str_eq(C.ifaces[0], "lo");
	cr_assert_null(C.ifaces[1]);
	cr_assert_null(C.registry_path);
	cr_assert_null(C.pipe_group);
	cr_assert_null(C.mark_all_exp);
	cr_assert_null(C.mark_all_act);
	cr_assert_eq(C.pipe_mode, 0660);
}

Test(config, escaped_keys_are_keys)
{
	char	err[256] = "";

	/* jansson decodes escapes in keys; so must the line finder. */
	cr_assert_eq(parse(&C, "{\"mark\\u0065r\": {\"capa\\u0063ity\": 7}}",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.capacity, 7);
	cr_assert_str_eq(reject("{\"marker\":\n{\"x\\u00e9\": 7}}"),
	    "t.json:2: marker[\"x\xc3\xa9\"]: unknown key (expected capacity, "
	    "pin_dir or keep_on_exit)");
}

Test(config, mark_all_forms)
{
	char	err[256] = "";

	cr_assert_eq(parse(&C, "{\"mark_all\": {\"activity\": \"Data "
	    "Consolidation\", \"experiment\": 2}}", err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_str_eq(C.mark_all_exp, "2");
	cr_assert_str_eq(C.mark_all_act, "Data Consolidation");
	cr_assert_eq(parse(&C, "{\"mark_all\": null}", err, sizeof(err)), 0);
	cr_assert_null(C.mark_all_exp);
	cr_assert_null(C.mark_all_act);
}

/* ---- rejections: message, path and line ---- */

Test(config, unknown_key_top)
{
	reject_eq("{\n  \"strategy\": \"flow-label\",\n  \"interface\": "
	    "[\"eth0\"]\n}",
	    "t.json:3: interface: unknown key (expected interfaces, strategy, "
	    "registry, log_level, user, host, api, pipe, marker, mark_all or "
	    "fireflies)");
}

Test(config, unknown_key_nested)
{
	reject_eq("{\n"
	    "  \"marker\": {\n"
	    "    \"capacity\": 10,\n"
	    "\n"
	    "    \"pin-dir\": \"/x\"\n"
	    "  }\n"
	    "}\n",
	    "t.json:5: marker.pin-dir: unknown key (expected capacity, "
	    "pin_dir or keep_on_exit)");
	reject_eq("{\"pipe\": {\"enabled\": true,\n\"user\": \"x\"}}",
	    "t.json:2: pipe.user: unknown key (expected enabled, path, group "
	    "or mode)");
	reject_eq("{\"mark_all\": {\"experiment\": 1, \"activity\": 1,\n\n"
	    "\"app\": \"x\"}}",
	    "t.json:3: mark_all.app: unknown key (expected experiment or "
	    "activity)");
}

Test(config, unknown_key_same_name_elsewhere)
{
	/* The line must be the nested key's, not the top-level one's. */
	reject_eq("{\"capacity\": 3}", "t.json:1: capacity: unknown key "
	    "(expected interfaces, strategy, registry, log_level, user, host, "
	    "api, pipe, marker, mark_all or fireflies)");
	reject_eq("{\n\"marker\": {\"pin_dir\": \"/a\"},\n\"pipe\": {\n"
	    "\"pin_dir\": \"/b\"}}",
	    "t.json:4: pipe.pin_dir: unknown key (expected enabled, path, "
	    "group or mode)");
}

Test(config, odd_key_names_are_escaped)
{
	reject_eq("{\"a.b\": 1}", NULL);
	assert_has(reject("{\"a.b\": 1}"), "t.json:1: [\"a.b\"]: unknown key");
	assert_has(reject("{\"marker\": {\"\\n\\\"x\": 1}}"),
	    "t.json:1: marker[\"\\u000a\\\"x\"]: unknown key");
	assert_has(reject("{\"\": 1}"), "t.json:1: [\"\"]: unknown key");
}

Test(config, wrong_types)
{
	reject_eq("{\n\"marker\": {\n\"capacity\": \"100\"}}",
	    "t.json:3: marker.capacity: expected an integer, got a string");
	reject_eq("{\"marker\": {\"capacity\": 1.5}}",
	    "t.json:1: marker.capacity: expected an integer, got a real "
	    "number");
	reject_eq("{\"marker\": []}",
	    "t.json:1: marker: expected an object, got an array");
	reject_eq("{\"pipe\": {\"enabled\": 1}}",
	    "t.json:1: pipe.enabled: expected a boolean, got an integer");
	reject_eq("{\"marker\": {\"keep_on_exit\": \"yes\"}}",
	    "t.json:1: marker.keep_on_exit: expected a boolean, got a string");
	reject_eq("{\"interfaces\": \"eth0\"}",
	    "t.json:1: interfaces: expected an array of interface names, got "
	    "a string");
	reject_eq("{\"interfaces\": [\"eth0\",\n\"eth1\",\n 7]}",
	    "t.json:3: interfaces[2]: expected a string, got an integer");
	reject_eq("{\"strategy\": 1}",
	    "t.json:1: strategy: expected a string, got an integer");
	reject_eq("{\"log_level\": null}",
	    "t.json:1: log_level: expected a string, got null");
	reject_eq("{\"registry\": false}",
	    "t.json:1: registry: expected a string or null, got a boolean");
	reject_eq("{\"pipe\": {\"path\": null}}",
	    "t.json:1: pipe.path: expected a string, got null");
	reject_eq("{\"pipe\": {\"group\": 1000}}",
	    "t.json:1: pipe.group: expected a string or null, got an integer");
	reject_eq("{\"mark_all\": [\"cms\", 3]}",
	    "t.json:1: mark_all: expected an object or null, got an array");
	reject_eq("{\"mark_all\": {\"experiment\": true, \"activity\": 1}}",
	    "t.json:1: mark_all.experiment: expected a string or an integer, "
	    "got a boolean");
	reject_eq("[]", "t.json:1: (root): expected an object, got an array");
	/* jansson itself refuses scalars at the top. */
	reject_eq("\n\n\"x\"", "t.json:3: '[' or '{' expected near '\"x\"'");
}

Test(config, bad_strategy)
{
	reject_eq("{\"strategy\": \"flowlabel\"}",
	    "t.json:1: strategy: unknown strategy 'flowlabel' (expected "
	    "flow-label, hop-by-hop, destination or hop-by-hop+destination)");
	reject_eq("{\"strategy\": \"\"}", NULL);
}

Test(config, bad_log_level)
{
	reject_eq("{\"log_level\": \"verbose\"}",
	    "t.json:1: log_level: unknown log level 'verbose' (expected err, "
	    "warn, info or debug)");
}

Test(config, modes)
{
	static const char *const bad[] = { "\"\"", "\"0800\"", "\"01777\"",
	    "\"1000\"", "\"0o620\"", "\"0x1a\"", "\"-620\"", "\" 620\"",
	    "\"62a\"", "\"00620\"" };
	char		doc[128], err[256];
	size_t		i;

	cr_assert_eq(parse(&C, "{\"pipe\": {\"mode\": \"0\"}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.pipe_mode, 0);
	cr_assert_eq(parse(&C, "{\"pipe\": {\"mode\": \"770\"}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.pipe_mode, 0770);
	cr_assert_eq(parse(&C, "{\"pipe\": {\"mode\": \"0600\"}}", err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(C.pipe_mode, 0600);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(doc, sizeof(doc), "{\"pipe\": {\"mode\": %s}}",
		    bad[i]);
		assert_has(reject(doc), "pipe.mode: invalid mode");
		cr_assert_eq(C.pipe_mode, 0600);
	}
	reject_eq("{\"pipe\": {\"mode\": \"0999\"}}",
	    "t.json:1: pipe.mode: invalid mode '0999' (expected octal digits "
	    "in 0000..0777, like \"0620\")");
	/* flowd's world-writable FIFO: refused, with what to do instead. */
	reject_eq("{\"pipe\": {\"mode\": \"0666\"}}",
	    "t.json:1: pipe.mode: mode '0666' gives access to every user; give "
	    "writers the pipe's group instead (e.g. \"0620\")");
	assert_has(reject("{\"pipe\": {\"mode\": \"0624\"}}"),
	    "gives access to every user");
	cr_assert_eq(C.pipe_mode, 0620);
	/* A JSON number is the usual mistake: say what to write instead. */
	reject_eq("{\"pipe\": {\"mode\": 432}}",
	    "t.json:1: pipe.mode: expected an octal string like \"0620\", got "
	    "an integer");
}

Test(config, bad_ifaces)
{
	reject_eq("{\"interfaces\": [\"\"]}",
	    "t.json:1: interfaces[0]: interface name is empty");
	reject_eq("{\"interfaces\": [\"eth0\", \"abcdefghijklmnop\"]}",
	    "t.json:1: interfaces[1]: interface name 'abcdefghijklmnop' is "
	    "longer than 15 characters");
	reject_eq("{\"interfaces\": [\"eth/0\"]}",
	    "t.json:1: interfaces[0]: interface name 'eth/0' contains '/'");
	reject_eq("{\"interfaces\": [\"eth 0\"]}",
	    "t.json:1: interfaces[0]: interface name 'eth 0' contains "
	    "whitespace or a control character");
	reject_eq("{\"interfaces\": [\"eth\\t0\"]}", NULL);
	reject_eq("{\"interfaces\": [\"eth:0\"]}", NULL);
	reject_eq("{\"interfaces\": [\"..\"]}", NULL);
	reject_eq("{\"interfaces\": [\"\\u00e9th0\"]}", NULL);
	reject_eq("{\"interfaces\": [\"eth0\",\n\"eth1\",\n\"eth0\"]}",
	    "t.json:3: interfaces[2]: interface 'eth0' is listed twice (also "
	    "interfaces[0])");
}

Test(config, iface_limits)
{
	char	doc[2048], err[256];
	size_t	n, i;

	/* 15 characters is the longest name the kernel takes. */
	cr_assert_eq(parse(&C, "{\"interfaces\": [\"abcdefghijklmno\"]}", err,
	    sizeof(err)), 0, "%s", err);
	for (n = CFG_MAX_IFACES; n <= CFG_MAX_IFACES + 1; n++) {
		size_t pos = (size_t)snprintf(doc, sizeof(doc),
		    "{\"interfaces\": [");
		for (i = 0; i < n; i++)
			pos += (size_t)snprintf(doc + pos, sizeof(doc) - pos,
			    "%s\"e%zu\"", i ? "," : "", i);
		snprintf(doc + pos, sizeof(doc) - pos, "]}");
		if (n == CFG_MAX_IFACES) {
			cr_assert_eq(parse(&C, doc, err, sizeof(err)), 0,
			    "%s", err);
			cr_assert_eq(C.nifaces, CFG_MAX_IFACES);
		} else {
			reject_eq(doc, "t.json:1: interfaces: 65 interfaces, "
			    "at most 64 are allowed");
		}
	}
}

Test(config, capacity_range)
{
	char	err[256];

	reject_eq("{\"marker\": {\"capacity\": 0}}",
	    "t.json:1: marker.capacity: 0 is out of range (1..16777216)");
	reject_eq("{\"marker\": {\"capacity\": 16777217}}",
	    "t.json:1: marker.capacity: 16777217 is out of range "
	    "(1..16777216)");
	reject_eq("{\"marker\": {\"capacity\": -1}}", NULL);
	reject_eq("{\"marker\": {\"capacity\": 4294967297}}", NULL);
	cr_assert_eq(parse(&C, "{\"marker\": {\"capacity\": 1}}", err,
	    sizeof(err)), 0);
	cr_assert_eq(C.capacity, 1);
}

Test(config, paths)
{
	reject_eq("{\"registry\": \"registry.json\"}",
	    "t.json:1: registry: 'registry.json' is not an absolute path");
	reject_eq("{\"pipe\": {\"path\": \"\"}}",
	    "t.json:1: pipe.path: path is empty");
	reject_eq("{\"marker\": {\"pin_dir\": \"sys/fs/bpf\"}}",
	    "t.json:1: marker.pin_dir: 'sys/fs/bpf' is not an absolute path");
	reject_eq("{\"marker\": {\"pin_dir\": \"/sys/\\u0001\"}}",
	    "t.json:1: marker.pin_dir: path contains a control character");
	/* NUL inside a string would cut the path short: jansson refuses. */
	reject_eq("{\"registry\": \"/a\\u0000b\"}", NULL);
}

Test(config, groups)
{
	reject_eq("{\"pipe\": {\"group\": \"\"}}",
	    "t.json:1: pipe.group: group name is empty (use null for the "
	    "daemon's own group)");
	reject_eq("{\"pipe\": {\"group\": \"a:b\"}}", NULL);
	reject_eq("{\"pipe\": {\"group\": \"a b\"}}", NULL);
}

Test(config, mark_all_incomplete)
{
	reject_eq("{\n\"mark_all\": {\"experiment\": \"cms\"}}",
	    "t.json:2: mark_all: \"activity\" is missing (mark_all needs both "
	    "experiment and activity)");
	reject_eq("{\"mark_all\": {\"activity\": 1}}",
	    "t.json:1: mark_all: \"experiment\" is missing (mark_all needs "
	    "both experiment and activity)");
	reject_eq("{\"mark_all\": {}}", NULL);
	reject_eq("{\"mark_all\": {\"experiment\": \"\", \"activity\": 1}}",
	    "t.json:1: mark_all.experiment: is empty (expected a registry "
	    "name or id)");
}

Test(config, syntax_errors)
{
	const char	*e;

	e = reject("{\n  \"strategy\": \"flow-label\"\n  \"log_level\": "
	    "\"info\"\n}");
	cr_assert(strncmp(e, "t.json:3: ", 10) == 0, "%s", e);
	e = reject("{\n\n\n");
	cr_assert(strncmp(e, "t.json:4: ", 10) == 0, "%s", e);
	e = reject("");
	cr_assert(strncmp(e, "t.json:1: ", 10) == 0, "%s", e);
	e = reject("{\"marker\": {\"capacity\": 1, \"capacity\": 2}}");
	assert_has(e, "duplicate object key");
	reject_eq("{\"a\": 1} {}", NULL);
	reject_eq("{\"strategy\": \"\xff\"}", NULL);
}

Test(config, failed_parse_changes_nothing)
{
	struct cfg	before;
	char		err[256] = "";

	cr_assert_eq(parse(&C, full_doc, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cfg_init(&before), 0);
	cr_assert_eq(parse(&before, full_doc, err, sizeof(err)), 0);
	/* Good keys first, then a bad one: none of them may stick. */
	cr_assert_eq(parse(&C, "{\"interfaces\": [\"x\"], \"strategy\": "
	    "\"destination\", \"pipe\": {\"mode\": \"0600\", \"path\": "
	    "\"/new\"}, \"marker\": {\"capacity\": 9, \"bogus\": 1}}", err,
	    sizeof(err)), -EINVAL);
	assert_has(err, "marker.bogus");
	assert_cfg_eq(&C, &before);
	cfg_free(&before);
}

Test(config, null_and_small_buffers)
{
	char	err[16];

	cr_assert_eq(cfg_parse(&C, NULL, 0, "t.json", err, sizeof(err)),
	    -EINVAL);
	cr_assert_eq(cfg_parse(&C, "{\"x\": 1}", 8, NULL, NULL, 0), -EINVAL);
	memset(err, 'x', sizeof(err));
	cr_assert_eq(cfg_parse(&C, "{\"x\": 1}", 8, "t.json", err, 8),
	    -EINVAL);
	cr_assert_str_eq(err, "t.json:");
	cr_assert_eq(err[8], 'x');
	/* Length, not NUL, ends the document. */
	cr_assert_eq(cfg_parse(&C, "{}garbage", 2, "t.json", NULL, 0), 0);
}

/* ---- dump ---- */

static char *
dump(const struct cfg *c)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(cfg_dump(c, f), 0);
	fclose(f);
	return buf;
}

static void
round_trip(const struct cfg *c)
{
	struct cfg	back;
	char		err[256] = "", *text = dump(c);

	cr_assert_eq(cfg_init(&back), 0);
	/* Start from something else, so every key must come from the dump. */
	cr_assert_eq(parse(&back, full_doc, err, sizeof(err)), 0);
	cr_assert_eq(cfg_parse(&back, text, strlen(text), "dump", err,
	    sizeof(err)), 0, "%s\n%s", err, text);
	assert_cfg_eq(&back, c);
	cfg_free(&back);
	free(text);
}

Test(config, dump_defaults)
{
	char	*text = dump(&C);

	assert_has(text, "\"strategy\": \"flow-label\"");
	assert_has(text, "\"mode\": \"0620\"");
	assert_has(text, "\"capacity\": 262144");
	assert_has(text, "\"mark_all\": null");
	assert_has(text, "\"registry\": null");
	free(text);
	round_trip(&C);
}

Test(config, dump_full_round_trip)
{
	char	err[256] = "";

	cr_assert_eq(parse(&C, full_doc, err, sizeof(err)), 0, "%s", err);
	round_trip(&C);
	cr_assert_eq(parse(&C, "{\"pipe\": {\"mode\": \"70\"}, \"strategy\": "
	    "\"destination\", \"log_level\": \"err\", \"mark_all\": "
	    "{\"experiment\": \"we\\\"ird\\\\\", \"activity\": \"\\u00e9\"}}",
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(C.mark_all_exp, "we\"ird\\");
	round_trip(&C);
}

/* ---- command-line helpers ---- */

Test(config, add_iface)
{
	char	err[128], name[16];
	int	i;

	cr_assert_eq(cfg_add_iface(&C, "eth0", err, sizeof(err)), 0);
	cr_assert_eq(cfg_add_iface(&C, "eth0", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "interface 'eth0' is already configured");
	cr_assert_eq(cfg_add_iface(&C, "a/b", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "interface name 'a/b' contains '/'");
	cr_assert_eq(cfg_add_iface(&C, "", err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg_add_iface(&C, NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(cfg_add_iface(&C, "x\ny", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "interface name 'x\\x0ay' contains whitespace "
	    "or a control character");
	for (i = 1; i < CFG_MAX_IFACES; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		cr_assert_eq(cfg_add_iface(&C, name, err, sizeof(err)), 0);
	}
	cr_assert_eq(cfg_add_iface(&C, "one-more", err, sizeof(err)), -E2BIG);
	cr_assert_str_eq(err, "too many interfaces: at most 64 are allowed");
	cr_assert_eq(C.nifaces, CFG_MAX_IFACES);
}

Test(config, free_after_caller_empties_list)
{
	char	err[128];
	size_t	i;

	/* sctagd's -i frees the file's list and zeroes nifaces itself. */
	cr_assert_eq(parse(&C, "{\"interfaces\": [\"a\", \"b\", \"c\"]}",
	    err, sizeof(err)), 0);
	for (i = 0; i < C.nifaces; i++)
		free(C.ifaces[i]);
	C.nifaces = 0;
	cr_assert_eq(cfg_add_iface(&C, "x", err, sizeof(err)), 0);
	/* teardown's cfg_free must not free b and c again (ASan checks). */
}

Test(config, set_string)
{
	char	*slot = NULL;

	cr_assert_eq(cfg_set_string(&slot, "a"), 0);
	cr_assert_str_eq(slot, "a");
	cr_assert_eq(cfg_set_string(&slot, "b"), 0);
	cr_assert_str_eq(slot, "b");
	cr_assert_eq(cfg_set_string(&slot, NULL), 0);
	cr_assert_null(slot);
}

/* ---- files ---- */

Test(config, load_file_errors)
{
	char	err[256];

	cr_assert_eq(cfg_load_file(&C, "/nonexistent/sctagd.json", err,
	    sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "/nonexistent/sctagd.json: No such file or "
	    "directory");
	cr_assert_eq(cfg_load_file(&C, "/tmp", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "/tmp: not a regular file");
}

Test(config, load_file_names_the_file)
{
	char	 path[] = "/tmp/test_config_XXXXXX", want[128], err[256];
	FILE	*f;
	int	 fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs("{\n\"marker\": {\n\"capacity\": 0\n}\n}\n", f);
	fclose(f);
	cr_assert_eq(cfg_load_file(&C, path, err, sizeof(err)), -EINVAL);
	unlink(path);
	snprintf(want, sizeof(want), "%s:3: marker.capacity: 0 is out of "
	    "range (1..16777216)", path);
	cr_assert_str_eq(err, want);
}

/* Every object's keys in a and b, the same (values aside). */
static void
same_keys(json_t *a, json_t *b, const char *where)
{
	const char *key;
	json_t *v;
	char sub[256];

	json_object_foreach(a, key, v) {
		snprintf(sub, sizeof(sub), "%s%s%s", where, *where ? "." : "",
		    key);
		cr_assert_not_null(json_object_get(b, key), "%s: in one, not "
		    "the other", sub);
		if (json_is_object(v) && json_is_object(json_object_get(b,
		    key)))
			same_keys(v, json_object_get(b, key), sub);
	}
	cr_assert_eq(json_object_size(a), json_object_size(b), "%s: a key "
	    "is missing", *where ? where : "top level");
}

/* "An example with every key" (docs/config.md): every key the dump has. */
static void
same_keys_as_dump(const char *path)
{
	json_error_t je;
	json_t *ex, *dump;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	cr_assert_not_null(f = open_memstream(&buf, &len));
	cr_assert_eq(cfg_dump(&C, f), 0);
	fclose(f);
	cr_assert_not_null(dump = json_loadb(buf, len, 0, &je), "%s",
	    je.text);
	cr_assert_not_null(ex = json_load_file(path, 0, &je), "%s", je.text);
	same_keys(ex, dump, "");
	same_keys(dump, ex, "");
	json_decref(ex);
	json_decref(dump);
	free(buf);
}

Test(config, example_file)
{
	const char	*src = getenv("SCTAG_SOURCE_DIR");
	char		 path[4096], err[256] = "";

	if (src == NULL)
		cr_skip_test("SCTAG_SOURCE_DIR is not set");
	snprintf(path, sizeof(path), "%s/data/sctagd.example.json", src);
	cr_assert_eq(cfg_load_file(&C, path, err, sizeof(err)), 0, "%s", err);
	cr_assert_geq(C.nifaces, 1);
	round_trip(&C);
	same_keys_as_dump(path);
}

/* ---- the line finder on its own ---- */

Test(jsonpos, lines)
{
	static const char doc[] =
	    "{\n"
	    "  \"a\": {\"b\": [10,\n"
	    "    {\"c\": \"x,]}\\\"\"},\n"
	    "    [1, 2]\n"
	    "  ]},\n"
	    "  \"d\"\n"
	    "   : 1,\n"
	    "  \"e.f\": 2\n"
	    "}\n";
	size_t	n = strlen(doc);

	cr_assert_eq(jsonpos_line(doc, n, ""), 1);
	cr_assert_eq(jsonpos_line(doc, n, "a"), 2);
	cr_assert_eq(jsonpos_line(doc, n, "a.b"), 2);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[0]"), 2);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[1]"), 3);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[1].c"), 3);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[2]"), 4);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[2][1]"), 4);
	cr_assert_eq(jsonpos_line(doc, n, "d"), 6);
	cr_assert_eq(jsonpos_line(doc, n, "[\"e.f\"]"), 8);
	cr_assert_eq(jsonpos_line(doc, n, "a.b[3]"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "a.x"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "d.x"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "a[0]"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "e.f"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "a..b"), 0);
	cr_assert_eq(jsonpos_line(doc, n, ".a"), 0);
	cr_assert_eq(jsonpos_line(doc, n, "a[x]"), 0);
	cr_assert_eq(jsonpos_line(doc, n, NULL), 0);
	cr_assert_eq(jsonpos_line(NULL, 0, "a"), 0);
}

Test(jsonpos, truncated_text_is_safe)
{
	static const char doc[] = "{\"a\": [1, {\"b\\u00";
	size_t	n;

	/* Every prefix: no read past the end (ASan watches), no line. */
	for (n = 0; n <= strlen(doc); n++) {
		char *copy = malloc(n ? n : 1);

		memcpy(copy, doc, n);
		cr_assert_eq(jsonpos_line(copy, n, "a[1].b"), 0);
		free(copy);
	}
}
