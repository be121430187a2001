/*
 * bench_marker.c: what marking costs (docs/performance.md, "Marker (BPF)").
 *
 * Three parts, all in one run so that every ratio compares numbers taken on
 * the same machine at the same time:
 *
 *  1. BPF_PROG_TEST_RUN of the marker on Ethernet/IPv6/TCP frames with
 *     100,000 rules loaded, per strategy, with exact rules only and with
 *     every rule shape in use, next to two baselines: an empty tc program
 *     and bpf/bench_ref.bpf.c (parse, one lookup in the marker's own rule
 *     map, write the label). Rounds are interleaved and medians reported.
 *  2. Kernel memory (memlock) of the marker's maps, from fdinfo.
 *  3. A TCP stream over a veth pair between two network namespaces made for
 *     this run, with the marker attached and not, in alternating trials.
 *
 * Prints tables; exits non-zero only when something could not be set up or
 * the marker did not mark what it must. Targets are judged by the reader:
 * benchmarks are not tests. Needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN
 * for the namespaces).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench_util.h"
#include "bench_empty.skel.h"
#include "bench_ref.skel.h"
#include "config.h"
#include "log.h"
#include "marker.h"

#define NRULES		100000
#define FRAME_LEN	1514		/* full-size TCP segment on a 1500 MTU */
#define OUT_MAX		4096
#define MAX_ROUNDS	31
#define SINGLE_CHUNK	500
#define MAX_TRIALS	40
#define MAX_ROWS	16

#define VETH_A		"sctag0"
#define VETH_B		"sctag1"
#define STREAM_PORT	5201


static struct {
	int	rounds;		/* interleaved rounds of the repeated runs */
	int	repeat;		/* runs per BPF_PROG_TEST_RUN */
	int	single;		/* runs of repeat 1, per row */
	int	trials;		/* stream trials per setting */
	double	secs;		/* per stream trial */
	int	no_prog;
	int	no_stream;
} opt = { 7, 1000000, 20000, 9, 3.0, 0, 0 };

static const char *const strat_names[] = {
	[MK_STRAT_FLOW_LABEL] = "flow-label",
	[MK_STRAT_HBH] = "hop-by-hop",
	[MK_STRAT_DST] = "destination",
	[MK_STRAT_HBH_DST] = "hbh+destination",
};

struct frame {
	const char	*name;
	uint8_t		 buf[FRAME_LEN];
	uint32_t	 len;
};

struct row {
	const char		*prog;		/* empty, reference, ref-parse, marker */
	const struct frame	*fr;
	int			 fd;
	int			 is_marker;
	int			 lookups;	/* done by the marker for this frame */
	int			 marks;		/* the frame matches a rule */
	double			 steady[MAX_ROUNDS];
	uint32_t		*single;
	double			 steady_med;
	double			 single_med;
	char			 path_steady[48];
	char			 path_single[48];
};

struct memrow {
	char		name[64];
	uint32_t	rules_max;
	long long	rules;
	long long	prefixes;
	long long	other;
};

static struct memrow memrows[8];
static int nmem;

/* splitmix64: the rule set is the same in every run and on every host. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double
median_d(const double *v, int n)
{
	double tmp[MAX_TRIALS > MAX_ROUNDS ? MAX_TRIALS : MAX_ROUNDS];

	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), bench_cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static double
median_u32(uint32_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u32);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* --- addresses, rules and frames ------------------------------------------ */

/* 2001:db8::/32 (RFC 3849). The third group says what the address is for. */
#define GRP_MISS	0xeeee		/* no rule matches */
#define GRP_LPM		0xfffd		/* LPM rules: 2001:db8:fffd:SHAPE::/64 */
#define GRP_WILD	0xfffe		/* wildcard hash rules: 2001:db8:fffe::SHAPE */

static void
addr6(uint8_t a[16], uint16_t g3, uint16_t g4, uint16_t last)
{
	memset(a, 0, 16);
	a[0] = 0x20;
	a[1] = 0x01;
	a[2] = 0x0d;
	a[3] = 0xb8;
	a[4] = g3 >> 8;
	a[5] = g3 & 0xff;
	a[6] = g4 >> 8;
	a[7] = g4 & 0xff;
	a[14] = last >> 8;
	a[15] = last & 0xff;
}

/* The storage node's own addresses: a few, as on a real DTN. */
static void
local_addr(uint8_t a[16], unsigned int i)
{
	addr6(a, 0x0100, 0, 1 + (i & 7));
}

/*
 * An exact rule as an orchestrator would send it: one of the node's
 * addresses and service ports (XRootD, GridFTP, HTTPS/WebDAV) to a client
 * address and ephemeral port. The third group stays below 0xe000 so no
 * exact rule collides with the addresses reserved above.
 */
static void
gen_exact(uint64_t *rng, struct marker_rule *r, int strategy)
{
	static const uint16_t sports[] = { 1094, 2811, 443, 8443 };
	uint64_t a = rng_next(rng), b = rng_next(rng), c = rng_next(rng);
	int i;

	memset(r, 0, sizeof(*r));
	r->proto = IPPROTO_TCP;
	r->dst_plen = 128;
	r->strategy = strategy;
	local_addr(r->src, a & 7);
	r->sport = sports[(a >> 3) & 3];
	r->dport = 32768 + (a >> 8) % 28232;
	r->exp = 2 + ((a >> 24) & 3);
	r->act = 1 + (a >> 32) % 20;
	r->dst[0] = 0x20;
	r->dst[1] = 0x01;
	r->dst[2] = 0x0d;
	r->dst[3] = 0xb8;
	r->dst[4] = (b & 0xff) % 0xe0;
	for (i = 5; i < 12; i++)
		r->dst[i] = b >> (8 * (i - 4));
	for (i = 12; i < 16; i++)
		r->dst[i] = c >> (8 * (i - 12));
}

/*
 * A rule of the given shape that matches only addresses reserved for it:
 * hash shapes 2001:db8:fffe::SHAPE, LPM shapes 2001:db8:fffd:SHAPE::/64.
 */
static void
gen_shape(struct marker_rule *r, int shape, int lpm, int strategy)
{
	memset(r, 0, sizeof(*r));
	r->strategy = strategy;
	r->exp = 2;
	r->act = 3;
	r->proto = (shape & MK_F_PROTO) ? IPPROTO_TCP : 0;
	r->src_any = !(shape & MK_F_SADDR);
	if (!r->src_any)
		local_addr(r->src, 0);
	r->sport = (shape & MK_F_SPORT) ? 1094 : 0;
	r->dport = (shape & MK_F_DPORT) ? 40000 : 0;
	if (lpm) {
		addr6(r->dst, GRP_LPM, shape, 0);
		r->dst_plen = 64;
	} else {
		addr6(r->dst, GRP_WILD, 0, shape);
		r->dst_plen = 128;
	}
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * A full-size TCP data segment from the local side: Ethernet, IPv6 with
 * traffic class 0x02 (ECT(0), which marking must keep), TCP with the
 * timestamp option (32-byte header), 1428 payload bytes.
 */
static void
build_frame(struct frame *f, const char *name, const uint8_t src[16],
    uint16_t sport, const uint8_t dst[16], uint16_t dport)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
	static const uint8_t smac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	uint8_t *p = f->buf, *ip6 = p + 14, *tcp = ip6 + 40;
	uint32_t i;

	f->name = name;
	f->len = FRAME_LEN;
	memset(p, 0, sizeof(f->buf));
	memcpy(p, dmac, 6);
	memcpy(p + 6, smac, 6);
	put16(p + 12, 0x86dd);
	ip6[0] = 0x60;
	ip6[1] = 0x20;
	put16(ip6 + 4, FRAME_LEN - 14 - 40);
	ip6[6] = IPPROTO_TCP;
	ip6[7] = 64;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	put16(tcp, sport);
	put16(tcp + 2, dport);
	tcp[4] = 0x12;			/* sequence and ack numbers: any */
	tcp[8] = 0x34;
	tcp[12] = 8 << 4;		/* 32-byte header */
	tcp[13] = 0x18;			/* PSH, ACK */
	put16(tcp + 14, 512);
	tcp[20] = 1;			/* NOP NOP TS */
	tcp[21] = 1;
	tcp[22] = 8;
	tcp[23] = 10;
	for (i = 14 + 40 + 32; i < FRAME_LEN; i++)
		p[i] = (uint8_t)i;
}

/* --- running programs ------------------------------------------------------ */

static int
test_run(int fd, const struct frame *fr, int repeat, uint32_t *ns,
    uint8_t *out, uint32_t *outlen)
{
	static uint8_t scratch[OUT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->buf,
	    .data_size_in = fr->len, .data_out = out ? out : scratch,
	    .data_size_out = OUT_MAX, .repeat = repeat);
	int rc;

	if ((rc = bpf_prog_test_run_opts(fd, &o)) != 0)
		return rc < 0 ? rc : -EIO;
	*ns = o.duration;
	if (outlen)
		*outlen = o.data_size_out;
	return 0;
}

/* Which marker counter a row drove, as "name NN%" of its runs. */
static void
path_of(const uint64_t *before, const uint64_t *after, uint64_t runs,
    char *buf, size_t len)
{
	uint64_t d, best = 0;
	int c, which = -1;

	for (c = MK_C_MARK_FLOW_LABEL; c < MK_C_MAX; c++) {
		d = after[c] - before[c];
		if (d > best) {
			best = d;
			which = c;
		}
	}
	if (which < 0)
		snprintf(buf, len, "(no counter)");
	else
		snprintf(buf, len, "%s %.0f%%", marker_counter_name(which),
		    100.0 * best / runs);
}

/*
 * Interleave the rows: each round runs every row once with `repeat` runs
 * (starting at a different row each round so drift spreads evenly), then
 * the repeat-1 runs go round the rows in chunks. Medians of both.
 */
static int
measure(struct marker *m, struct row *rows, int n)
{
	uint64_t before[MK_C_MAX], after[MK_C_MAX];
	uint32_t ns;
	int r, i, k, s, c, rc;

	for (r = 0; r < opt.rounds; r++) {
		for (k = 0; k < n; k++) {
			struct row *w = &rows[(k + r) % n];

			if (bench_stop)
				return -EINTR;
			if (w->is_marker && r == 0)
				marker_counters(m, before);
			if ((rc = test_run(w->fd, w->fr, opt.repeat, &ns, NULL,
			    NULL)) != 0) {
				fprintf(stderr, "BPF_PROG_TEST_RUN %s/%s: %s\n",
				    w->prog, w->fr->name, strerror(-rc));
				return rc;
			}
			w->steady[r] = ns;
			if (w->is_marker && r == 0) {
				marker_counters(m, after);
				path_of(before, after, opt.repeat,
				    w->path_steady, sizeof(w->path_steady));
			}
		}
	}
	for (i = 0; i < n; i++) {
		rows[i].steady_med = median_d(rows[i].steady, opt.rounds);
		if ((rows[i].single = calloc(opt.single,
		    sizeof(uint32_t))) == NULL)
			return -ENOMEM;
	}
	for (s = 0; s < opt.single; s += SINGLE_CHUNK) {
		for (i = 0; i < n; i++) {
			struct row *w = &rows[i];

			if (bench_stop)
				return -EINTR;
			if (w->is_marker && s == 0)
				marker_counters(m, before);
			for (c = s; c < s + SINGLE_CHUNK && c < opt.single;
			    c++) {
				if ((rc = test_run(w->fd, w->fr, 1,
				    &w->single[c], NULL, NULL)) != 0)
					return rc;
			}
			if (w->is_marker && s == 0) {
				marker_counters(m, after);
				path_of(before, after, c - s, w->path_single,
				    sizeof(w->path_single));
			}
		}
	}
	for (i = 0; i < n; i++) {
		rows[i].single_med = median_u32(rows[i].single, opt.single);
		free(rows[i].single);
		rows[i].single = NULL;
	}
	return 0;
}

/* --- the marker under test -------------------------------------------------- */

static long long
memlock_of(int fd)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}

static void
record_mem(struct marker *m, const char *name)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	struct memrow *w;

	if (nmem >= (int)(sizeof(memrows) / sizeof(memrows[0])))
		return;
	w = &memrows[nmem++];
	snprintf(w->name, sizeof(w->name), "%s", name);
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(marker_map_fd(m, "mk_rules"), &info,
	    &len) == 0)
		w->rules_max = info.max_entries;
	w->rules = memlock_of(marker_map_fd(m, "mk_rules"));
	w->prefixes = memlock_of(marker_map_fd(m, "mk_prefixes"));
	w->other = memlock_of(marker_map_fd(m, "mk_stats")) +
	    memlock_of(marker_map_fd(m, "mk_meta"));
}

static int
add_rule(struct marker *m, const struct marker_rule *r, int *added)
{
	enum marker_add what;
	char err[256];
	int rc;

	if ((rc = marker_rule_add(m, r, &what, err, sizeof(err))) != 0) {
		fprintf(stderr, "adding a rule: %s\n", err);
		return rc;
	}
	*added = what == MARKER_ADDED;
	return 0;
}

/*
 * n exact rules from a fixed seed; *hit gets the one in the middle, the
 * flow the "hit" frames belong to.
 */
static int
fill_exact(struct marker *m, int strategy, int n, struct marker_rule *hit)
{
	struct marker_rule r;
	uint64_t rng = 0x5c7a6b656e636800ULL;
	int done = 0, tries, added, rc;

	for (tries = 0; done < n && tries < 2 * n; tries++) {
		if (bench_stop)
			return -EINTR;
		gen_exact(&rng, &r, strategy);
		if ((rc = add_rule(m, &r, &added)) != 0)
			return rc;
		if (added && done++ == n / 2)
			*hit = r;
	}
	if (done < n) {
		fprintf(stderr, "could not generate %d distinct rules\n", n);
		return -EINVAL;
	}
	return 0;
}

/* One rule in each of the 15 wildcard hash shapes and 16 LPM shapes. */
static int
fill_shapes(struct marker *m, int strategy)
{
	struct marker_rule r;
	int s, added, rc;

	for (s = 0; s < MK_NSHAPES; s++) {
		if (s != MK_SHAPE_EXACT) {
			gen_shape(&r, s, 0, strategy);
			if ((rc = add_rule(m, &r, &added)) != 0)
				return rc;
		}
		gen_shape(&r, s, 1, strategy);
		if ((rc = add_rule(m, &r, &added)) != 0)
			return rc;
	}
	return 0;
}

static void
default_rule(struct marker_rule *r, int strategy)
{
	memset(r, 0, sizeof(*r));
	r->src_any = 1;
	r->strategy = strategy;
	r->exp = 2;
	r->act = 2;
}

static int
open_marker(struct marker **m, uint32_t capacity)
{
	struct marker_opts mo = { .pin_dir = NULL, .capacity = capacity };
	char err[256];
	int rc;

	if ((rc = marker_open(m, &mo, err, sizeof(err))) != 0)
		fprintf(stderr, "marker_open: %s\n", err);
	return rc;
}

/* --- the test-run part ------------------------------------------------------- */

/* The hit frame is built per strategy, from the rule set. */
struct frames {
	struct frame	miss;	/* no rule */
	struct frame	dflt;	/* the same, where the default catches it */
	struct frame	lpm;	/* only the LPM rule of shape 0, tried last */
};

struct results {
	double	empty, ref_hit, ref_miss, parse;
};

/* Check what a single run wrote: the rule's label, or the option header. */
static int
verify(struct marker *m, const struct marker_rule *rule, int strategy,
    const struct frame *fr)
{
	static const uint32_t grow[] = { 0, 0, 8, 8, 16 };
	static const uint8_t first[] = { 0, 0, 0, 60, 0 };
	uint8_t out[OUT_MAX];
	struct mk_rule mr;
	uint32_t ns, len, label;
	int rc;

	if ((rc = test_run(marker_prog_fd(m, 1), fr, 1, &ns, out, &len)) != 0)
		return rc;
	if (strategy == MK_STRAT_FLOW_LABEL) {
		if ((rc = marker_rule_get(m, rule, &mr)) != 0)
			return rc;
		label = (out[15] & 0x0f) << 16 | out[16] << 8 | out[17];
		if (label != mr.label || (out[15] & 0xf0) != 0x20 ||
		    len != fr->len) {
			fprintf(stderr, "marker wrote label 0x%05x (tc byte "
			    "0x%02x), rule says 0x%05x\n", label, out[15],
			    mr.label);
			return -EPROTO;
		}
		return 0;
	}
	if (len != fr->len + grow[strategy] || out[14 + 6] != first[strategy] ||
	    out[14 + 40 + 2] != MK_OPT_TYPE) {
		fprintf(stderr, "marker did not insert the %s header (length "
		    "%u, next header %u)\n", strat_names[strategy], len,
		    out[14 + 6]);
		return -EPROTO;
	}
	return 0;
}

static void
row_set(struct row *w, const char *prog, int fd, const struct frame *fr,
    int is_marker, int lookups, int marks)
{
	memset(w, 0, sizeof(*w));
	w->prog = prog;
	w->fd = fd;
	w->fr = fr;
	w->is_marker = is_marker;
	w->lookups = lookups;
	w->marks = marks;
	snprintf(w->path_steady, sizeof(w->path_steady), "-");
	snprintf(w->path_single, sizeof(w->path_single), "-");
}

/*
 * Budgets (docs/performance.md): 1.2 x the reference, plus one reference
 * lookup per further lookup. They are the flow-label targets; a row that
 * inserts an option header does more by design and gets none.
 */
static void
print_rows(int strategy, const char *rules, const struct row *rows, int n,
    const struct results *b)
{
	double lookup = b->ref_miss - b->parse, ref, budget;
	int i;

	for (i = 0; i < n; i++) {
		const struct row *w = &rows[i];
		char ratio[32] = "-", bud[32] = "-";

		if (w->is_marker) {
			ref = w->marks ? b->ref_hit : b->ref_miss;
			snprintf(ratio, sizeof(ratio), "%.2f / %.2f",
			    (w->steady_med - b->empty) / (ref - b->empty),
			    (w->single_med - b->empty) / (ref - b->empty));
			budget = 1.2 * (ref - b->empty) +
			    (w->lookups - 1) * lookup;
			if (w->marks && strategy != MK_STRAT_FLOW_LABEL)
				snprintf(bud, sizeof(bud), "n/a");
			else
				snprintf(bud, sizeof(bud), "%6.1f %s", budget,
				    w->steady_med - b->empty <= budget ? "met" :
				    "MISSED");
		}
		printf("%-15s %-11s %-10s %-10s %3d %8.1f %8.1f  %-13s %-13s "
		    "%-26s %s\n", strat_names[strategy], rules, w->prog,
		    w->fr->name,
		    w->lookups, w->steady_med, w->single_med, ratio, bud,
		    w->path_steady, w->path_single);
	}
}

static void
print_head(void)
{
	printf("%-15s %-11s %-10s %-10s %3s %8s %8s  %-13s %-13s %-26s %s\n",
	    "strategy", "rules", "program", "frame", "lk", "rep-ns",
	    "one-ns", "x-ref net", "budget-ns", "path (repeated)",
	    "path (single)");
}

/*
 * One strategy: 100,000 exact rules, then 31 wildcard/LPM rules and the
 * default on top (the same 100,000 in all), then the default removed.
 */
static int
bench_strategy(int strategy, int empty_fd, const struct frames *fr,
    int first)
{
	struct marker *m = NULL;
	struct bench_ref *ref = NULL;
	struct marker_rule hit, def;
	struct frame hitf;
	struct row rows[MAX_ROWS];
	struct results b;
	int n, rc, mfd, added;

	if ((rc = open_marker(&m, CFG_CAPACITY_DEFAULT)) != 0)
		goto out;
	if ((rc = fill_exact(m, strategy, NRULES, &hit)) != 0)
		goto out;
	build_frame(&hitf, "hit", hit.src, hit.sport, hit.dst, hit.dport);
	if (first)
		record_mem(m, "capacity 262144, 100,000 exact");

	if ((ref = bench_ref__open()) == NULL) {
		rc = -errno;
		fprintf(stderr, "opening bench_ref: %s\n", strerror(-rc));
		goto out;
	}
	if ((rc = bpf_map__reuse_fd(ref->maps.mk_rules,
	    marker_map_fd(m, "mk_rules"))) != 0 ||
	    (rc = bench_ref__load(ref)) != 0) {
		fprintf(stderr, "loading bench_ref on the marker's map: %s\n",
		    strerror(-rc));
		goto out;
	}
	mfd = marker_prog_fd(m, 1);
	if ((rc = verify(m, &hit, strategy, &hitf)) != 0)
		goto out;

	/* Exact rules only. */
	n = 0;
	row_set(&rows[n++], "empty", empty_fd, &hitf, 0, 0, 0);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &hitf, 0, 1, 1);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &fr->miss, 0, 1, 0);
	row_set(&rows[n++], "ref-parse",
	    bpf_program__fd(ref->progs.bench_parse), &fr->miss, 0, 0, 0);
	row_set(&rows[n++], "marker", mfd, &hitf, 1, 1, 1);
	row_set(&rows[n++], "marker", mfd, &fr->miss, 1, 1, 0);
	if ((rc = measure(m, rows, n)) != 0)
		goto out;
	b.empty = rows[0].steady_med;
	b.ref_hit = rows[1].steady_med;
	b.ref_miss = rows[2].steady_med;
	b.parse = rows[3].steady_med;
	print_rows(strategy, "exact-only", rows, n, &b);

	/* Every shape, and the default. */
	if ((rc = fill_shapes(m, strategy)) != 0)
		goto out;
	default_rule(&def, strategy);
	if ((rc = add_rule(m, &def, &added)) != 0)
		goto out;
	if (first)
		record_mem(m, "capacity 262144, all shapes");
	if ((rc = verify(m, &hit, strategy, &hitf)) != 0)
		goto out;
	n = 0;
	row_set(&rows[n++], "empty", empty_fd, &hitf, 0, 0, 0);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &hitf, 0, 1, 1);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &fr->miss, 0, 1, 0);
	row_set(&rows[n++], "ref-parse",
	    bpf_program__fd(ref->progs.bench_parse), &fr->miss, 0, 0, 0);
	row_set(&rows[n++], "marker", mfd, &hitf, 1, 1, 1);
	row_set(&rows[n++], "marker", mfd, &fr->lpm, 1, 2 * MK_NSHAPES, 1);
	row_set(&rows[n++], "marker", mfd, &fr->dflt, 1, 2 * MK_NSHAPES + 1,
	    1);
	if ((rc = measure(m, rows, n)) != 0)
		goto out;
	b.empty = rows[0].steady_med;
	b.ref_hit = rows[1].steady_med;
	b.ref_miss = rows[2].steady_med;
	b.parse = rows[3].steady_med;
	print_rows(strategy, "all+default", rows, n, &b);

	/* The same without the default: a frame no rule matches. */
	{
		char err[256];

		if ((rc = marker_rule_del(m, &def, err, sizeof(err))) != 0) {
			fprintf(stderr, "deleting the default: %s\n", err);
			goto out;
		}
	}
	n = 0;
	row_set(&rows[n++], "empty", empty_fd, &hitf, 0, 0, 0);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &hitf, 0, 1, 1);
	row_set(&rows[n++], "reference", bpf_program__fd(ref->progs.bench_ref),
	    &fr->miss, 0, 1, 0);
	row_set(&rows[n++], "ref-parse",
	    bpf_program__fd(ref->progs.bench_parse), &fr->miss, 0, 0, 0);
	row_set(&rows[n++], "marker", mfd, &fr->miss, 1, 2 * MK_NSHAPES, 0);
	if ((rc = measure(m, rows, n)) != 0)
		goto out;
	b.empty = rows[0].steady_med;
	b.ref_hit = rows[1].steady_med;
	b.ref_miss = rows[2].steady_med;
	b.parse = rows[3].steady_med;
	print_rows(strategy, "all-no-dflt", rows + 4, 1, &b);

	/* And without the LPM rules: what the 16 hash shapes alone cost. */
	{
		struct marker_rule lr;
		char err[256];
		int s;

		for (s = 0; s < MK_NSHAPES; s++) {
			gen_shape(&lr, s, 1, strategy);
			if ((rc = marker_rule_del(m, &lr, err,
			    sizeof(err))) != 0) {
				fprintf(stderr, "deleting an LPM rule: %s\n",
				    err);
				goto out;
			}
		}
	}
	/* Same rows, results cleared. */
	for (n = 0; n < 5; n++)
		row_set(&rows[n], rows[n].prog, rows[n].fd, rows[n].fr,
		    rows[n].is_marker, rows[n].lookups, rows[n].marks);
	rows[4].lookups = MK_NSHAPES;
	if ((rc = measure(m, rows, n)) != 0)
		goto out;
	b.empty = rows[0].steady_med;
	b.ref_hit = rows[1].steady_med;
	b.ref_miss = rows[2].steady_med;
	b.parse = rows[3].steady_med;
	print_rows(strategy, "hash-shapes", rows + 4, 1, &b);
	fflush(stdout);
out:
	bench_ref__destroy(ref);
	marker_close(m);
	return rc;
}

static int
bench_progs(void)
{
	struct bench_empty *empty = NULL;
	struct marker *m = NULL;
	struct marker_rule hit;
	static struct frames fr;
	uint8_t local[16], dst[16];
	int s, rc;

	local_addr(local, 0);
	addr6(dst, GRP_MISS, 0, 1);
	build_frame(&fr.miss, "miss", local, 1094, dst, 50000);
	fr.dflt = fr.miss;
	fr.dflt.name = "to-default";
	addr6(dst, GRP_LPM, 0, 0x99);
	build_frame(&fr.lpm, "lpm-last", local, 1094, dst, 50001);

	if ((empty = bench_empty__open_and_load()) == NULL) {
		rc = -errno;
		fprintf(stderr, "loading bench_empty: %s\n", strerror(-rc));
		return rc;
	}
	printf("BPF_PROG_TEST_RUN: %d rules, %d-byte Ethernet/IPv6/TCP "
	    "frames, repeat %d x %d interleaved rounds (rep-ns: median of "
	    "rounds, kernel .duration), and %d runs of repeat 1 per row "
	    "(one-ns: median)\n", NRULES, FRAME_LEN, opt.repeat, opt.rounds,
	    opt.single);
	printf("lk: rule lookups the marker does for the frame; x-ref net: "
	    "(row - empty) / (reference - empty), repeated / single; "
	    "budget: 1.2 x (reference - empty) + (lk - 1) x (reference miss "
	    "- ref-parse), compared with the repeated row - empty\n\n");
	print_head();
	for (s = MK_STRAT_FLOW_LABEL; s <= MK_STRAT_MAX; s++)
		if ((rc = bench_strategy(s, bpf_program__fd(
		    empty->progs.bench_empty), &fr, s == MK_STRAT_FLOW_LABEL))
		    != 0)
			goto out;

	/* Memory of an empty table and of a table sized to the rules. */
	if ((rc = open_marker(&m, CFG_CAPACITY_DEFAULT)) != 0)
		goto out;
	record_mem(m, "capacity 262144, empty");
	marker_close(m);
	if ((rc = open_marker(&m, NRULES)) != 0)
		goto out;
	record_mem(m, "capacity 100000, empty");
	if ((rc = fill_exact(m, MK_STRAT_FLOW_LABEL, NRULES, &hit)) != 0)
		goto out;
	record_mem(m, "capacity 100000, 100,000 exact");
	rc = 0;
out:
	marker_close(m);
	bench_empty__destroy(empty);
	return rc;
}

static void
print_mem(void)
{
	int i;

	printf("\nKernel memory (memlock from /proc/self/fdinfo), bytes:\n");
	printf("%-34s %10s %12s %12s %8s %12s\n", "maps", "rules max",
	    "mk_rules", "mk_prefixes", "others", "total");
	for (i = 0; i < nmem; i++)
		printf("%-34s %10u %12lld %12lld %8lld %12lld\n",
		    memrows[i].name, memrows[i].rules_max, memrows[i].rules,
		    memrows[i].prefixes, memrows[i].other, memrows[i].rules +
		    memrows[i].prefixes + memrows[i].other);
}

/* --- the TCP stream over veth ------------------------------------------------- */

static int
run_cmd(const char *const argv[])
{
	pid_t pid;
	int st, devnull;

	if ((pid = fork()) < 0)
		return -errno;
	if (pid == 0) {
		if ((devnull = open("/dev/null", O_WRONLY)) >= 0)
			dup2(devnull, STDOUT_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -ECHILD;
	return 0;
}

static int
run_logged(const char *const argv[])
{
	int rc, i;

	if ((rc = run_cmd(argv)) != 0) {
		fprintf(stderr, "failed:");
		for (i = 0; argv[i]; i++)
			fprintf(stderr, " %s", argv[i]);
		fprintf(stderr, "\n");
	}
	return rc;
}

struct stream {
	int		ns_tx, ns_rx;	/* netns fds */
	int		lfd;		/* listening, in ns_rx */
	uint16_t	sport;
	double		secs;
	uint64_t	bytes;
	double		elapsed;
	int		tx_err, rx_err;
};

static const struct in6_addr addr_a = { { { 0xfd, 0, 0x5c, 0x7a, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1 } } };
static const struct in6_addr addr_b = { { { 0xfd, 0, 0x5c, 0x7a, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 2 } } };

static void *
sender(void *arg)
{
	static char buf[128 * 1024];
	struct stream *st = arg;
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	/* Connect may need a SYN retransmit on a link that just came up. */
	struct timeval tv = { .tv_sec = 5 };
	double end;
	ssize_t n;
	int fd, one = 1;

	/* This thread only: the rest of the process stays where it is. */
	if (setns(st->ns_tx, CLONE_NEWNET) != 0) {
		st->tx_err = errno;
		return NULL;
	}
	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		st->tx_err = errno;
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sa.sin6_addr = addr_a;
	sa.sin6_port = htons(st->sport);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto fail;
	sa.sin6_addr = addr_b;
	sa.sin6_port = htons(STREAM_PORT);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto fail;
	tv.tv_sec = 2;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	end = bench_now_s() + st->secs;
	while (!bench_stop && bench_now_s() < end) {
		n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			goto fail;
	}
	shutdown(fd, SHUT_WR);
	close(fd);
	return NULL;
fail:
	st->tx_err = errno;
	close(fd);
	return NULL;
}

static void *
receiver(void *arg)
{
	static char buf[256 * 1024];
	struct stream *st = arg;
	struct pollfd pfd = { .fd = st->lfd, .events = POLLIN };
	struct timeval tv = { .tv_sec = 2 };
	double t0, hard;
	ssize_t n;
	int fd;

	if (setns(st->ns_rx, CLONE_NEWNET) != 0) {
		st->rx_err = errno;
		return NULL;
	}
	if (poll(&pfd, 1, 10000) != 1 ||
	    (fd = accept4(st->lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		st->rx_err = errno ? errno : ETIMEDOUT;
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	t0 = bench_now_s();
	hard = t0 + st->secs + 10;
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0)
			break;
		if (n < 0) {
			if ((errno == EAGAIN || errno == EINTR) && !bench_stop &&
			    bench_now_s() < hard)
				continue;
			st->rx_err = errno;
			break;
		}
		st->bytes += n;
	}
	st->elapsed = bench_now_s() - t0;
	close(fd);
	return NULL;
}

/* One bounded transfer; with the marker attached when `on`. */
static int
trial(struct stream *st, int on, uint16_t sport, double *gbps,
    uint64_t *pkts, uint64_t *marked)
{
	struct marker *m = NULL;
	struct marker_rule r, hit;
	uint64_t c[MK_C_MAX];
	pthread_t tx, rx;
	char err[256];
	int rc, added;

	*pkts = *marked = 0;
	if (on) {
		if ((rc = open_marker(&m, CFG_CAPACITY_DEFAULT)) != 0)
			return rc;
		if ((rc = fill_exact(m, MK_STRAT_FLOW_LABEL, NRULES - 1,
		    &hit)) != 0)
			goto out;
		memset(&r, 0, sizeof(r));
		r.proto = IPPROTO_TCP;
		r.dst_plen = 128;
		r.strategy = MK_STRAT_FLOW_LABEL;
		memcpy(r.src, &addr_a, 16);
		memcpy(r.dst, &addr_b, 16);
		r.sport = sport;
		r.dport = STREAM_PORT;
		r.exp = 2;
		r.act = 1;
		if ((rc = add_rule(m, &r, &added)) != 0)
			goto out;
		if ((rc = marker_attach(m, VETH_A, err, sizeof(err))) != 0) {
			fprintf(stderr, "marker_attach: %s\n", err);
			goto out;
		}
	}
	st->sport = sport;
	st->bytes = 0;
	st->elapsed = 0;
	st->tx_err = st->rx_err = 0;
	if ((rc = pthread_create(&rx, NULL, receiver, st)) != 0) {
		rc = -rc;
		goto out;
	}
	if ((rc = pthread_create(&tx, NULL, sender, st)) != 0) {
		/* The receiver gives up after its poll timeout. */
		pthread_join(rx, NULL);
		rc = -rc;
		goto out;
	}
	pthread_join(tx, NULL);
	pthread_join(rx, NULL);
	if (st->tx_err || st->rx_err || st->elapsed <= 0) {
		fprintf(stderr, "stream: sender %s, receiver %s\n",
		    strerror(st->tx_err), strerror(st->rx_err));
		rc = bench_stop ? -EINTR : -EIO;
		goto out;
	}
	*gbps = st->bytes * 8 / st->elapsed / 1e9;
	if (on) {
		marker_counters(m, c);
		*pkts = c[MK_C_PKTS];
		*marked = c[MK_C_MARK_FLOW_LABEL];
		if (*marked == 0) {
			fprintf(stderr, "the marker marked none of the "
			    "stream's %" PRIu64 " packets\n", *pkts);
			rc = -EPROTO;
			goto out;
		}
	}
	rc = 0;
out:
	marker_close(m);
	return rc;
}

/* Alternating trials, off/on then on/off, so drift hits both alike. */
static int
stream_series(struct stream *st, const char *label, uint16_t *sport)
{
	double off[MAX_TRIALS], on[MAX_TRIALS], pair[MAX_TRIALS], g, mo, mn;
	uint64_t pkts, marked, tp = 0, tm = 0;
	int i, k, is_on, rc;

	for (i = 0; i < opt.trials; i++) {
		for (k = 0; k < 2; k++) {
			is_on = (i % 2) ? !k : k;
			if ((rc = trial(st, is_on, (*sport)++, &g, &pkts,
			    &marked)) != 0)
				return rc;
			if (is_on) {
				on[i] = g;
				tp += pkts;
				tm += marked;
			} else {
				off[i] = g;
			}
			fprintf(stderr, "  %s trial %d marker %-3s %6.2f "
			    "Gbit/s\n", label, i + 1, is_on ? "on" : "off", g);
		}
	}
	for (i = 0; i < opt.trials; i++)
		pair[i] = 1 - on[i] / off[i];
	mo = median_d(off, opt.trials);
	mn = median_d(on, opt.trials);
	printf("%-18s %10.2f %10.2f %8.2f%% %8.2f%%   %" PRIu64 " of %"
	    PRIu64 " packets marked\n", label, mo, mn, 100 * (mo - mn) / mo,
	    100 * median_d(pair, opt.trials), tm, tp);
	fflush(stdout);
	return 0;
}

static int
open_ns(const char *name)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	return fd;
}

static int
bench_stream(void)
{
	char na[32], nb[32];
	struct stream st = { .ns_tx = -1, .ns_rx = -1, .lfd = -1,
	    .secs = opt.secs };
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
	    .sin6_port = htons(STREAM_PORT), .sin6_addr = addr_b };
	uint16_t sport = 40000;
	int created_a = 0, created_b = 0, orig = -1, in_a = 0, rc, one = 1;

	snprintf(na, sizeof(na), "sctagb%da", (int)getpid());
	snprintf(nb, sizeof(nb), "sctagb%db", (int)getpid());
	{
		const char *const add_a[] = { "ip", "netns", "add", na, NULL };
		const char *const add_b[] = { "ip", "netns", "add", nb, NULL };

		if ((rc = run_logged(add_a)) != 0)
			goto out;
		created_a = 1;
		if ((rc = run_logged(add_b)) != 0)
			goto out;
		created_b = 1;
	}
	{
		const char *const cmds[][14] = {
			{ "ip", "-n", na, "link", "add", VETH_A, "type", "veth",
			    "peer", "name", VETH_B, "netns", nb, NULL },
			{ "ip", "-n", na, "addr", "add", "fd00:5c7a::1/64",
			    "dev", VETH_A, "nodad", NULL },
			{ "ip", "-n", nb, "addr", "add", "fd00:5c7a::2/64",
			    "dev", VETH_B, "nodad", NULL },
			{ "ip", "-n", na, "link", "set", "lo", "up", NULL },
			{ "ip", "-n", nb, "link", "set", "lo", "up", NULL },
			{ "ip", "-n", na, "link", "set", VETH_A, "up", NULL },
			{ "ip", "-n", nb, "link", "set", VETH_B, "up", NULL },
		};
		size_t i;

		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
			if ((rc = run_logged(cmds[i])) != 0)
				goto out;
		}
	}
	if ((orig = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (st.ns_tx = open_ns(na)) < 0 || (st.ns_rx = open_ns(nb)) < 0) {
		rc = -errno;
		goto out;
	}
	/* The listener lives in nb; the main thread then works in na. */
	if (setns(st.ns_rx, CLONE_NEWNET) != 0) {
		rc = -errno;
		goto out;
	}
	st.lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (st.lfd < 0 || setsockopt(st.lfd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) != 0 || bind(st.lfd, (struct sockaddr *)&sa,
	    sizeof(sa)) != 0 || listen(st.lfd, 4) != 0) {
		rc = -errno;
		fprintf(stderr, "listening in %s: %s\n", nb, strerror(-rc));
		goto out;
	}
	if (setns(st.ns_tx, CLONE_NEWNET) != 0) {
		rc = -errno;
		goto out;
	}
	in_a = 1;

	printf("\nTCP stream over veth (%s -> %s), %d alternating trials of "
	    "%.1f s per setting, receiver-side throughput, medians:\n",
	    na, nb, opt.trials, opt.secs);
	printf("cost: 1 - on/off of the medians, and the median of 1 - on/off "
	    "over the adjacent pairs\n");
	printf("%-18s %10s %10s %9s %9s\n", "link", "off Gbit/s",
	    "on Gbit/s", "cost", "paired");
	/*
	 * No series with offloads off: TCP always builds GSO packets and
	 * segments them after the tc hook when the device can not, so the
	 * marker would see the same packets.
	 */
	{
		double g;
		uint64_t p, mk;
		double secs = st.secs;

		/* Warm-up, not counted: neighbour discovery, caches. */
		st.secs = 1;
		rc = trial(&st, 0, 39999, &g, &p, &mk);
		st.secs = secs;
		if (rc != 0)
			goto out;
	}
	if ((rc = stream_series(&st, "veth, TSO/GSO on", &sport)) != 0)
		goto out;
out:
	if (in_a && setns(orig, CLONE_NEWNET) != 0)
		fprintf(stderr, "returning to the original netns: %s\n",
		    strerror(errno));
	if (st.lfd >= 0)
		close(st.lfd);
	if (st.ns_tx >= 0)
		close(st.ns_tx);
	if (st.ns_rx >= 0)
		close(st.ns_rx);
	if (orig >= 0)
		close(orig);
	if (created_a) {
		const char *const del[] = { "ip", "netns", "del", na, NULL };

		run_logged(del);
	}
	if (created_b) {
		const char *const del[] = { "ip", "netns", "del", nb, NULL };

		run_logged(del);
	}
	return rc;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench_marker [-P] [-S] [-r rounds] "
	    "[-n repeat] [-s single-runs] [-t trials] [-d seconds]\n"
	    "  -P  skip the BPF_PROG_TEST_RUN part\n"
	    "  -S  skip the TCP stream part\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct utsname u;
	int c, rc = 0;

	while ((c = getopt(argc, argv, "PSr:n:s:t:d:")) != -1) {
		switch (c) {
		case 'P':
			opt.no_prog = 1;
			break;
		case 'S':
			opt.no_stream = 1;
			break;
		case 'r':
			opt.rounds = atoi(optarg);
			break;
		case 'n':
			opt.repeat = atoi(optarg);
			break;
		case 's':
			opt.single = atoi(optarg);
			break;
		case 't':
			opt.trials = atoi(optarg);
			break;
		case 'd':
			opt.secs = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (opt.rounds < 1 || opt.rounds > MAX_ROUNDS || opt.repeat < 1 ||
	    opt.single < 1 || opt.single > 10000000 || opt.trials < 1 ||
	    opt.trials > MAX_TRIALS || opt.secs < 0.1 || opt.secs > 60)
		usage();

	bench_catch_signals();
	log_init("bench_marker", 1, LOG_LVL_WARN);

	uname(&u);
	printf("bench_marker: kernel %s %s, %ld CPUs online\n", u.release,
	    u.machine, sysconf(_SC_NPROCESSORS_ONLN));
	if (!opt.no_prog) {
		if ((rc = bench_progs()) != 0)
			goto out;
		print_mem();
	}
	if (!opt.no_stream)
		rc = bench_stream();
out:
	if (rc)
		fprintf(stderr, "bench_marker: %s\n", strerror(-rc));
	return rc ? 1 : 0;
}
