/*
 * test_flowspec.c: address, port and protocol parsing; the log form; and
 * the marker's own validation of a rule (the privileged side's last word).
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "flowspec.h"
#include "marker.h"
#include "tag.h"

Test(flowspec, addresses)
{
	uint8_t a[16];
	int fam;

	cr_assert_eq(flowspec_parse_addr("2001:db8::1", a, &fam), 0);
	cr_assert_eq(fam, AF_INET6);
	cr_assert_eq(a[0], 0x20);
	cr_assert_eq(a[15], 1);
	cr_assert_eq(flowspec_parse_addr("192.0.2.1", a, &fam), 0);
	cr_assert_eq(fam, AF_INET);
	cr_assert_eq(a[10], 0xff);
	cr_assert_eq(a[11], 0xff);
	cr_assert_eq(a[12], 192);
	cr_assert_eq(a[15], 1);
	cr_assert_eq(flowspec_parse_addr("", a, &fam), -EINVAL);
	cr_assert_eq(flowspec_parse_addr("[::1]", a, &fam), -EINVAL);
	cr_assert_eq(flowspec_parse_addr("fe80::1%eth0", a, &fam), -EINVAL);
	cr_assert_eq(flowspec_parse_addr("1.2.3", a, &fam), -EINVAL);
	cr_assert_eq(flowspec_parse_addr("256.1.1.1", a, &fam), -EINVAL);
}

Test(flowspec, ports)
{
	uint16_t p;

	cr_assert_eq(flowspec_parse_port("0", &p), 0);
	cr_assert_eq(p, 0);
	cr_assert_eq(flowspec_parse_port("65535", &p), 0);
	cr_assert_eq(p, 65535);
	cr_assert_eq(flowspec_parse_port("65536", &p), -ERANGE);
	cr_assert_eq(flowspec_parse_port("99999", &p), -ERANGE);
	cr_assert_eq(flowspec_parse_port("100000", &p), -EINVAL);
	cr_assert_eq(flowspec_parse_port("-1", &p), -EINVAL);
	cr_assert_eq(flowspec_parse_port(" 1", &p), -EINVAL);
	cr_assert_eq(flowspec_parse_port("1x", &p), -EINVAL);
	cr_assert_eq(flowspec_parse_port("", &p), -EINVAL);
}

Test(flowspec, protocols)
{
	uint8_t pr;

	cr_assert_eq(flowspec_parse_proto("TCP", 0, &pr), 0);
	cr_assert_eq(pr, IPPROTO_TCP);
	cr_assert_eq(flowspec_parse_proto("udp", 0, &pr), 0);
	cr_assert_eq(pr, IPPROTO_UDP);
	cr_assert_eq(flowspec_parse_proto("any", 0, &pr), -EINVAL);
	cr_assert_eq(flowspec_parse_proto("any", 1, &pr), 0);
	cr_assert_eq(pr, 0);
	cr_assert_eq(flowspec_parse_proto("sctp", 1, &pr), -EINVAL);
}

Test(flowspec, format_names_everything)
{
	struct flowspec f;
	struct reg *reg;
	char buf[256], err[256];

	cr_assert_eq(reg_load_builtin(&reg, err, sizeof(err)), 0, "%s", err);
	memset(&f, 0, sizeof(f));
	f.family = AF_INET6;
	f.rule.proto = IPPROTO_TCP;
	flowspec_parse_addr("2001:db8::1", f.rule.src, &f.family);
	flowspec_parse_addr("2001:db8:1::", f.rule.dst, &f.family);
	f.rule.sport = 1094;
	f.rule.dst_plen = 48;
	f.rule.exp = 2;
	f.rule.act = 4;
	f.rule.strategy = TAG_STRAT_FLOW_LABEL;
	flowspec_format(&f, reg, buf, sizeof(buf));
	cr_assert_str_eq(buf, "tcp [2001:db8::1]:1094 -> [2001:db8:1::/48]:* "
	    "atlas/Data Consolidation (2/4) flow-label");
	reg_free(reg);
}

static struct marker_rule
good_rule(void)
{
	struct marker_rule r;
	int fam;

	memset(&r, 0, sizeof(r));
	r.proto = IPPROTO_TCP;
	flowspec_parse_addr("2001:db8::1", r.src, &fam);
	flowspec_parse_addr("2001:db8::2", r.dst, &fam);
	r.sport = 1;
	r.dport = 2;
	r.dst_plen = 128;
	r.strategy = TAG_STRAT_FLOW_LABEL;
	r.exp = 2;
	r.act = 4;
	return r;
}

Test(marker_check, accepts_a_good_rule)
{
	struct marker_rule r = good_rule();
	char err[256];

	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), 0, "%s", err);
}

Test(marker_check, rejects_each_bad_field)
{
	struct marker_rule r;
	char err[256];
	int fam;

	r = good_rule(); r.proto = 1;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "protocol 1") != NULL, "%s", err);
	r = good_rule(); r.strategy = 0;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	r = good_rule(); r.strategy = 5;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	r = good_rule(); r.dst_plen = 129;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	r = good_rule(); r.src_any = 1;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "any") != NULL, "%s", err);
	r = good_rule(); r.pad = 1;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EINVAL);
	r = good_rule(); r.act = 64;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -ERANGE);
	r = good_rule(); r.exp = 512;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -ERANGE);
	cr_assert(strstr(err, "512") != NULL, "%s", err);
	r = good_rule(); r.exp = 512; r.strategy = TAG_STRAT_DST;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), 0, "%s", err);
	r = good_rule(); r.exp = 1024; r.strategy = TAG_STRAT_DST;
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -ERANGE);
	r = good_rule();
	flowspec_parse_addr("192.0.2.1", r.dst, &fam);
	cr_assert_eq(marker_rule_check(&r, err, sizeof(err)), -EAFNOSUPPORT);
	cr_assert(strstr(err, "IPv4") != NULL, "%s", err);
}
