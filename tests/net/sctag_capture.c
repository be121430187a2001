/*
 * sctag-capture: watch an interface and say, per flow, what sctag wrote.
 *
 *   sctag-capture --netns NAME --iface IF --seconds S [--port PORT]
 *
 * One line per IPv6 TCP/UDP flow (one direction of a connection), e.g.
 *
 *   tcp [2001:db8::1]:40000 -> [2001:db8::2]:5001  packets 1234  marked 1234
 *   label 0x50010 entropy constant  experiment atlas (2) activity Data
 *   Consolidation (4)  tclass 0x28 0x2a
 *
 * (on one line). "marked" counts packets with a non-zero flow label or a
 * SciTags option; run the sender with net.ipv6.auto_flowlabels=0 so that
 * an unmarked packet really carries label 0. "tclass" lists the distinct
 * traffic class bytes seen (the capture can not know what was sent; TCP
 * with ECN sets ECT(0) on data segments only, so two values are usual).
 * Names come from the built-in registry snapshot.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "netns.h"
#include "registry.h"
#include "tag.h"

#define MAX_PKTS	500000
#define MAX_FLOWS	256

struct flow {
	uint8_t		proto;
	uint8_t		saddr[16], daddr[16];
	uint16_t	sport, dport;
	unsigned long	packets, marked, opt_marked;
	uint32_t	label_min, label_max;
	uint32_t	entropy_first;
	int		entropy_varies;
	uint32_t	exp, act;
	int		tag_mixed;
	uint8_t		opt_hdr;
	uint8_t		tclass_seen[4];	/* distinct values, first four */
	int		ntclass;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: sctag-capture --netns NAME --iface IF --seconds S "
	    "[--port PORT]\n"
	    "Captures on IF inside network namespace NAME for S seconds and "
	    "prints,\nper IPv6 TCP/UDP flow, the SciTags marks it saw. PORT "
	    "keeps only flows\nwith that source or destination port.\n");
}

static struct flow *
flow_of(struct flow *flows, size_t *nflows, const struct cap_pkt *p)
{
	struct flow *f;
	size_t i;

	for (i = 0; i < *nflows; i++) {
		f = &flows[i];
		if (f->proto == p->proto && f->sport == p->sport &&
		    f->dport == p->dport &&
		    memcmp(f->saddr, p->saddr, 16) == 0 &&
		    memcmp(f->daddr, p->daddr, 16) == 0)
			return f;
	}
	if (*nflows == MAX_FLOWS)
		return NULL;
	f = &flows[(*nflows)++];
	memset(f, 0, sizeof(*f));
	f->proto = p->proto;
	f->sport = p->sport;
	f->dport = p->dport;
	memcpy(f->saddr, p->saddr, 16);
	memcpy(f->daddr, p->daddr, 16);
	f->label_min = UINT32_MAX;
	return f;
}

static void
account(struct flow *f, const struct cap_pkt *p)
{
	uint32_t exp, act;
	int tagged = 0, i;

	f->packets++;
	for (i = 0; i < f->ntclass && f->tclass_seen[i] != p->tclass; i++)
		;
	if (i == f->ntclass && f->ntclass < 4)
		f->tclass_seen[f->ntclass++] = p->tclass;
	if (p->scitag) {
		exp = p->scitag_exp;
		act = p->scitag_act;
		f->opt_hdr = p->scitag_hdr;
		f->opt_marked++;
		tagged = 1;
	} else if (p->label != 0) {
		tag_label_decode(p->label, &exp, &act);
		if (p->label < f->label_min)
			f->label_min = p->label;
		if (p->label > f->label_max)
			f->label_max = p->label;
		if (f->marked - f->opt_marked == 0)
			f->entropy_first = tag_label_entropy(p->label);
		else if (tag_label_entropy(p->label) != f->entropy_first)
			f->entropy_varies = 1;
		tagged = 1;
	}
	if (!tagged)
		return;
	if (f->marked == 0) {
		f->exp = exp;
		f->act = act;
	} else if (f->exp != exp || f->act != act) {
		f->tag_mixed = 1;
	}
	f->marked++;
}

static void
print_flow(const struct flow *f, const struct reg *reg)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int i;

	printf("%s [%s]:%u -> [%s]:%u  packets %lu  marked %lu",
	    f->proto == IPPROTO_TCP ? "tcp" : "udp",
	    cap_addr_str(f->saddr, s, sizeof(s)), f->sport,
	    cap_addr_str(f->daddr, d, sizeof(d)), f->dport, f->packets,
	    f->marked);
	if (f->marked > f->opt_marked) {
		if (f->label_min == f->label_max)
			printf("  label 0x%05x", f->label_min);
		else
			printf("  label 0x%05x..0x%05x", f->label_min,
			    f->label_max);
		printf(" entropy %s", f->entropy_varies ? "varies" :
		    "constant");
	}
	if (f->opt_marked)
		printf("  %s option (%lu packets)", f->opt_hdr == 0 ?
		    "hop-by-hop" : "destination", f->opt_marked);
	if (f->marked) {
		if (f->tag_mixed)
			printf("  experiment/activity mixed");
		else
			printf("  experiment %s (%u) activity %s (%u)",
			    reg_exp_name(reg, f->exp), f->exp,
			    reg_act_name(reg, f->exp, f->act), f->act);
	}
	printf("  tclass");
	for (i = 0; i < f->ntclass; i++)
		printf(" 0x%02x", f->tclass_seen[i]);
	printf("\n");
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "netns", required_argument, NULL, 'n' },
		{ "iface", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ns = NULL, *ifname = NULL;
	struct flow *flows = NULL;
	struct capture *cap = NULL;
	struct reg *reg = NULL;
	const struct cap_pkt *p;
	struct flow *f;
	size_t nflows = 0, i, n;
	long seconds = -1, port = 0;
	char err[256], *end;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			ns = optarg;
			break;
		case 'i':
			ifname = optarg;
			break;
		case 's':
			seconds = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || seconds < 1 ||
			    seconds > 3600) {
				fprintf(stderr, "sctag-capture: --seconds: "
				    "'%s' is not 1..3600\n", optarg);
				return 2;
			}
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 1 ||
			    port > 65535) {
				fprintf(stderr, "sctag-capture: --port: '%s' "
				    "is not 1..65535\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!ns || !ifname || seconds < 0 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (reg_load_builtin(&reg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sctag-capture: registry: %s\n", err);
		return 1;
	}
	if ((flows = calloc(MAX_FLOWS, sizeof(*flows))) == NULL) {
		fprintf(stderr, "sctag-capture: out of memory\n");
		goto out;
	}
	if (cap_start(&cap, ns, ifname, MAX_PKTS, (int)seconds * 1000, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "sctag-capture: %s\n", err);
		goto out;
	}
	nt_sleep_ms((int)seconds * 1000);
	cap_stop(cap);
	n = cap_count(cap);
	for (i = 0; i < n; i++) {
		p = cap_get(cap, i);
		if (!p->ipv6 || !p->proto)
			continue;
		if (port && p->sport != port && p->dport != port)
			continue;
		if ((f = flow_of(flows, &nflows, p)) != NULL)
			account(f, p);
	}
	for (i = 0; i < nflows; i++)
		print_flow(&flows[i], reg);
	if (cap_drops(cap))
		fprintf(stderr, "sctag-capture: the kernel dropped %u "
		    "packets for the capture socket\n", cap_drops(cap));
	if (n == MAX_PKTS)
		fprintf(stderr, "sctag-capture: stopped at %d packets\n",
		    MAX_PKTS);
	rc = 0;
out:
	cap_free(cap);
	free(flows);
	reg_free(reg);
	return rc;
}
