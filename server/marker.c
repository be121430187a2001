/*
 * marker.c: loads bpf/marker.bpf.c, attaches it to tc clsact egress, and
 * keeps its maps: the rules, the shape bitmaps in .bss, the pinned seed.
 *
 * Maps are pinned under opts->pin_dir and adopted by the next agent, so a
 * restart with keep_on_exit marks every packet throughout. Filters are ours
 * only at our handle/priority and only when the program there is ours; we
 * remove a clsact qdisc only if we created it and nobody else's filter is on
 * it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <sodium.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_arp.h>
#include <linux/magic.h>

#include "log.h"
#include "marker.h"
#include "marker_bpf.skel.h"
#include "tag.h"
#include "tcnl.h"

#define MK_TC_HANDLE	0x5c7a
#define MK_TC_PRIO	1
#define BPFFS		"/sys/fs/bpf"
/* Room for "/mk_prefixes" after the pin dir. */
#define PIN_DIR_MAX	(PATH_MAX - 32)

_Static_assert(sizeof(struct mk_key) == 40, "mk_key must be 40 bytes");
_Static_assert(sizeof(struct mk_lpm_key) == 44 &&
    offsetof(struct mk_lpm_key, k) == 4, "mk_lpm_key layout");
_Static_assert(offsetof(struct mk_key, saddr) == 8, "mk_key layout");
_Static_assert(sizeof(struct mk_rule) == 16, "mk_rule layout");
_Static_assert(TAG_STRAT_FLOW_LABEL == MK_STRAT_FLOW_LABEL &&
    TAG_STRAT_HBH == MK_STRAT_HBH && TAG_STRAT_DST == MK_STRAT_DST &&
    TAG_STRAT_HBH_DST == MK_STRAT_HBH_DST, "strategy numbers");

struct marker_if {
	int		ifindex;
	char		name[IF_NAMESIZE];
	int		created_qdisc;
	uint32_t	prog_id;	/* what we attached there */
};

struct marker {
	struct marker_bpf	*skel;
	struct marker_opts	 opts;
	char			 pin_dir[PIN_DIR_MAX];
	uint32_t		 hash_use[MK_NSHAPES];
	uint32_t		 lpm_use[MK_NSHAPES];
	uint32_t		 def_use;
	struct marker_if	*ifs;
	size_t			 nifs;
	int			 lock_fd;	/* flock on pin_dir */
};

static const char *const counter_names[MK_C_MAX] = {
	[MK_C_PKTS] = "packets",
	[MK_C_BYTES] = "bytes",
	[MK_C_IPV6] = "ipv6_l4",
	[MK_C_MATCHED] = "matched",
	[MK_C_MARK_FLOW_LABEL] = "marked_flow_label",
	[MK_C_MARK_HBH] = "marked_hop_by_hop",
	[MK_C_MARK_DST] = "marked_destination",
	[MK_C_MARK_HBH_DST] = "marked_hop_by_hop_destination",
	[MK_C_SKIP_NOT_IPV6] = "skipped_not_ipv6",
	[MK_C_SKIP_NOT_L4] = "skipped_no_ports",
	[MK_C_SKIP_TRUNCATED] = "skipped_truncated",
	[MK_C_SKIP_NO_MATCH] = "skipped_no_rule",
	[MK_C_FAIL_MTU] = "unmarked_mtu",
	[MK_C_FAIL_GSO] = "unmarked_gso",
	[MK_C_FAIL_EXTHDR] = "unmarked_existing_headers",
	[MK_C_FAIL_HELPER] = "unmarked_helper_error",
};

const char *
marker_counter_name(enum mk_counter c)
{
	if ((unsigned int)c >= MK_C_MAX)
		return "?";
	return counter_names[c];
}

/*
 * libbpf's warnings (the verifier log among them) go to our log; its debug
 * chatter does not. bpf_tc_query() on a hook without our filter makes the
 * kernel say "Cannot find specified filter chain" at warning level: that is
 * the expected answer, not a problem, so it is logged at debug.
 */
static int __attribute__((format(printf, 2, 0)))
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum log_level l;
	char line[1024];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	l = level == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_DEBUG;
	if (strstr(line, "Cannot find specified filter chain"))
		l = LOG_LVL_DEBUG;
	if (l > log_get_level())
		return 0;
	line[strcspn(line, "\n")] = '\0';
	log_msg(l, "%s", line);
	return 0;
}

static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* bpffs is not always mounted (containers, some netns setups). */
static int
ensure_bpffs(char *err, size_t errlen)
{
	struct statfs st;

	if (statfs(BPFFS, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", BPFFS, "bpf", 0, "mode=0700") != 0) {
		snprintf(err, errlen, "mounting bpffs on %s: %s", BPFFS,
		    strerror(errno));
		return -errno;
	}
	log_info("mounted bpffs on %s", BPFFS);
	return 0;
}

static int
set_pins(struct marker *m, int pin)
{
	struct bpf_map *maps[] = { m->skel->maps.mk_rules,
	    m->skel->maps.mk_prefixes, m->skel->maps.mk_stats,
	    m->skel->maps.mk_meta };
	char path[PATH_MAX + 16];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		if (!pin) {
			rc = bpf_map__set_pin_path(maps[i], NULL);
		} else {
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
			    m->pin_dir, bpf_map__name(maps[i])) >= sizeof(path))
				return -ENAMETOOLONG;
			rc = bpf_map__set_pin_path(maps[i], path);
		}
		if (rc)
			return rc;
	}
	return 0;
}

static void
unpin_all(struct marker *m)
{
	static const char *const names[] = { "mk_rules", "mk_prefixes",
	    "mk_stats", "mk_meta" };
	char path[PATH_MAX + 16];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", m->pin_dir, names[i]);
		if (unlink(path) != 0 && errno != ENOENT)
			log_warn("unpinning %s: %s", path, strerror(errno));
	}
	/* Remove the versioned dir and its parent if they are now empty. */
	if (rmdir(m->pin_dir) == 0) {
		char *slash;

		snprintf(path, sizeof(path), "%s", m->pin_dir);
		slash = strrchr(path, '/');
		if (slash && slash != path) {
			*slash = '\0';
			if (strcmp(path, BPFFS) != 0)
				(void)rmdir(path);
		}
	}
}

/*
 * Two agents on one pin dir would adopt the same maps and replace each
 * other's filters. The lock is on the directory itself (bpffs holds no
 * regular files) and goes away with the process.
 */
static int
lock_pin_dir(struct marker *m, char *err, size_t errlen)
{
	int rc;

	m->lock_fd = open(m->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->lock_fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "opening %s: %s", m->pin_dir,
		    strerror(errno));
		return rc;
	}
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		snprintf(err, errlen, "%s is in use by another sctagd; give "
		    "each agent its own marker.pin_dir", m->pin_dir);
		return rc;
	}
	return 0;
}

static int
load_skel(struct marker *m, char *err, size_t errlen)
{
	int rc;

	m->skel = marker_bpf__open();
	if (!m->skel) {
		rc = -errno;
		snprintf(err, errlen, "opening the BPF object: %s",
		    strerror(-rc));
		return rc;
	}
	/*
	 * The default rule counts against the capacity: capacity + 1 would
	 * double the hash buckets (a power of two) at the default 262,144.
	 */
	bpf_map__set_max_entries(m->skel->maps.mk_rules, m->opts.capacity);
	bpf_map__set_max_entries(m->skel->maps.mk_prefixes, m->opts.capacity);
	if (m->opts.pin_dir && (rc = set_pins(m, 1)) != 0) {
		snprintf(err, errlen, "pin path under %s: %s", m->pin_dir,
		    strerror(-rc));
		return rc;
	}
	rc = marker_bpf__load(m->skel);
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "loading the BPF program: %s%s", strerror(-rc),
	    rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
	return rc;
}

/* Rebuild the per-shape use counts from what the (adopted) maps hold. */
static int
recount(struct marker *m)
{
	struct mk_key k, next, *prev = NULL;
	struct mk_lpm_key lk, lnext, *lprev = NULL;
	int fd, lfd;

	memset(m->hash_use, 0, sizeof(m->hash_use));
	memset(m->lpm_use, 0, sizeof(m->lpm_use));
	m->def_use = 0;
	fd = bpf_map__fd(m->skel->maps.mk_rules);
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		if (next.shape == MK_SHAPE_DEFAULT)
			m->def_use = 1;
		else if (next.shape < MK_NSHAPES)
			m->hash_use[next.shape]++;
		k = next;
		prev = &k;
	}
	lfd = bpf_map__fd(m->skel->maps.mk_prefixes);
	while (bpf_map_get_next_key(lfd, lprev, &lnext) == 0) {
		if (lnext.k.shape < MK_NSHAPES)
			m->lpm_use[lnext.k.shape]++;
		lk = lnext;
		lprev = &lk;
	}
	return 0;
}

static void
publish_use(struct marker *m)
{
	uint16_t h = 0, l = 0;
	int i;

	for (i = 0; i < MK_NSHAPES; i++) {
		if (m->hash_use[i])
			h |= 1u << i;
		if (m->lpm_use[i])
			l |= 1u << i;
	}
	m->skel->bss->mk_shapes_in_use = h;
	m->skel->bss->mk_lpm_shapes_in_use = l;
	m->skel->bss->mk_default_on = m->def_use ? 1 : 0;
}

static int
init_seed(struct marker *m)
{
	struct mk_meta meta;
	uint32_t zero = 0;
	int fd = bpf_map__fd(m->skel->maps.mk_meta);

	if (bpf_map_lookup_elem(fd, &zero, &meta) != 0)
		return -errno;
	if (meta.entropy_seed == 0) {
		do {
			meta.entropy_seed = randombytes_random();
		} while (meta.entropy_seed == 0);
		meta.pad = 0;
		if (bpf_map_update_elem(fd, &zero, &meta, BPF_ANY) != 0)
			return -errno;
	}
	m->skel->bss->mk_entropy_seed = meta.entropy_seed;
	return 0;
}

int
marker_open(struct marker **out, const struct marker_opts *opts, char *err,
    size_t errlen)
{
	struct marker *m;
	int rc;

	*out = NULL;
	if (opts->capacity == 0) {
		snprintf(err, errlen, "marker capacity must be at least 1");
		return -EINVAL;
	}
	libbpf_set_print(libbpf_log);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->opts = *opts;
	m->lock_fd = -1;
	if (opts->pin_dir) {
		if (strlen(opts->pin_dir) >= sizeof(m->pin_dir)) {
			snprintf(err, errlen, "pin_dir is too long");
			rc = -ENAMETOOLONG;
			goto fail;
		}
		strcpy(m->pin_dir, opts->pin_dir);
		m->opts.pin_dir = m->pin_dir;
		if ((rc = ensure_bpffs(err, errlen)) != 0)
			goto fail;
		if ((rc = mkdir_p(m->pin_dir, 0700)) != 0) {
			snprintf(err, errlen, "creating %s: %s", m->pin_dir,
			    strerror(-rc));
			goto fail;
		}
		if ((rc = lock_pin_dir(m, err, errlen)) != 0)
			goto fail;
	}
	rc = load_skel(m, err, errlen);
	if (rc == -EINVAL && opts->pin_dir) {
		/*
		 * Pinned maps of another layout or capacity: the previous
		 * agent's rules can not be adopted. Say so and start empty.
		 */
		log_warn("%s; the maps pinned in %s do not fit this "
		    "configuration (capacity changed?): replacing them, "
		    "their rules are dropped", err, m->pin_dir);
		marker_bpf__destroy(m->skel);
		m->skel = NULL;
		unpin_all(m);
		if ((rc = mkdir_p(m->pin_dir, 0700)) == 0)
			rc = load_skel(m, err, errlen);
	}
	if (rc)
		goto fail;
	if ((rc = init_seed(m)) != 0) {
		snprintf(err, errlen, "reading the entropy seed: %s",
		    strerror(-rc));
		goto fail;
	}
	recount(m);
	publish_use(m);
	*out = m;
	return 0;
fail:
	marker_bpf__destroy(m->skel);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
	return rc;
}

uint32_t
marker_capacity(const struct marker *m)
{
	return m->opts.capacity;
}

int
marker_prog_fd(struct marker *m, int has_l2)
{
	return bpf_program__fd(has_l2 ? m->skel->progs.sctag_egress_eth :
	    m->skel->progs.sctag_egress_l3);
}

int
marker_map_fd(struct marker *m, const char *name)
{
	struct bpf_map *map;

	if ((map = bpf_object__find_map_by_name(m->skel->obj, name)) == NULL)
		return -ENOENT;
	return bpf_map__fd(map);
}

/*
 * Which program fits the link: Ethernet framing or none. Asked through a
 * socket, not /sys, so it sees the caller's network namespace.
 */
static int
link_kind(const char *ifname, int *has_l2, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd, type;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 &&
	    (fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "interface %s: socket: %s", ifname,
		    strerror(errno));
		return -errno;
	}
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) {
		type = -errno;
		close(fd);
		snprintf(err, errlen, "interface %s: link type: %s", ifname,
		    strerror(-type));
		return type;
	}
	close(fd);
	type = ifr.ifr_hwaddr.sa_family;
	switch (type) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		*has_l2 = 1;
		return 0;
	case ARPHRD_NONE:
	case ARPHRD_RAWIP:
	case ARPHRD_PPP:
		*has_l2 = 0;
		return 0;
	default:
		snprintf(err, errlen, "interface %s: link type %d is not "
		    "supported (Ethernet, or no L2 header as tun/WireGuard)",
		    ifname, type);
		return -EOPNOTSUPP;
	}
}

/* Is the filter at our handle/priority one of our programs? */
static int
filter_is_ours(uint32_t prog_id)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);
	int fd, ours;

	if ((fd = bpf_prog_get_fd_by_id(prog_id)) < 0)
		return 0;
	memset(&info, 0, sizeof(info));
	ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	    strncmp(info.name, "sctag_egress_", 13) == 0;
	close(fd);
	return ours;
}

int
marker_attach(struct marker *m, const char *ifname, char *err,
    size_t errlen)
{
	struct marker_if *nifs, *mi;
	struct bpf_program *prog;
	int ifindex, has_l2, rc, created = 0;

	if ((ifindex = if_nametoindex(ifname)) == 0) {
		snprintf(err, errlen, "interface %s: %s", ifname,
		    strerror(errno));
		return -ENODEV;
	}
	if ((rc = link_kind(ifname, &has_l2, err, errlen)) != 0)
		return rc;
	prog = has_l2 ? m->skel->progs.sctag_egress_eth :
	    m->skel->progs.sctag_egress_l3;

	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
	    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = MK_TC_HANDLE,
	    .priority = MK_TC_PRIO);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MK_TC_HANDLE,
	    .priority = MK_TC_PRIO, .flags = BPF_TC_F_REPLACE,
	    .prog_fd = bpf_program__fd(prog));

	rc = bpf_tc_hook_create(&hook);
	if (rc == 0)
		created = 1;
	else if (rc != -EEXIST) {
		snprintf(err, errlen, "interface %s: creating the clsact "
		    "qdisc: %s", ifname, strerror(-rc));
		return rc;
	}
	/* Replace only a filter of ours, never somebody else's. */
	if (bpf_tc_query(&hook, &q) == 0 && !filter_is_ours(q.prog_id)) {
		snprintf(err, errlen, "interface %s: tc egress filter handle "
		    "0x%x priority %d belongs to another program (id %u); "
		    "not replacing it", ifname, MK_TC_HANDLE, MK_TC_PRIO,
		    q.prog_id);
		rc = -EBUSY;
		goto fail;
	}
	if ((rc = bpf_tc_attach(&hook, &opts)) != 0) {
		snprintf(err, errlen, "interface %s: attaching to tc egress: "
		    "%s", ifname, strerror(-rc));
		goto fail;
	}
	nifs = realloc(m->ifs, (m->nifs + 1) * sizeof(*nifs));
	if (!nifs) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	m->ifs = nifs;
	mi = &m->ifs[m->nifs++];
	memset(mi, 0, sizeof(*mi));
	mi->ifindex = ifindex;
	snprintf(mi->name, sizeof(mi->name), "%s", ifname);
	mi->created_qdisc = created;
	mi->prog_id = opts.prog_id;
	log_info("interface %s: marking on tc egress (%s program, id %u)",
	    ifname, has_l2 ? "Ethernet" : "L3", opts.prog_id);
	return 0;
fail:
	if (created) {
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		bpf_tc_hook_destroy(&hook);
	}
	return rc;
}

static void
detach_one(const struct marker_if *mi)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = mi->ifindex,
	    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MK_TC_HANDLE,
	    .priority = MK_TC_PRIO);
	int rc;

	/*
	 * Ours only if it is still the program we attached (by id: after the
	 * privileges are dropped, the program can not be looked up by id).
	 */
	if (bpf_tc_query(&hook, &opts) == 0 && opts.prog_id == mi->prog_id) {
		opts.prog_id = 0;
		opts.prog_fd = 0;
		opts.flags = 0;
		if ((rc = bpf_tc_detach(&hook, &opts)) != 0)
			log_warn("interface %s: detaching: %s", mi->name,
			    strerror(-rc));
	}
	if (!mi->created_qdisc)
		return;
	/* Deleting clsact takes every filter on it: only if none is left. */
	rc = tcnl_clsact_filters(mi->ifindex);
	if (rc != 0) {
		if (rc > 0)
			log_info("interface %s: leaving the clsact qdisc, "
			    "%d filter(s) of others on it", mi->name, rc);
		return;
	}
	hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	if ((rc = bpf_tc_hook_destroy(&hook)) != 0 && rc != -ENOENT)
		log_warn("interface %s: removing clsact: %s", mi->name,
		    strerror(-rc));
}

void
marker_close(struct marker *m)
{
	size_t i;

	if (!m)
		return;
	if (!m->opts.keep_on_exit) {
		for (i = 0; i < m->nifs; i++)
			detach_one(&m->ifs[i]);
		if (m->opts.pin_dir)
			unpin_all(m);
	} else {
		log_info("keeping filters and pinned maps for the next agent");
	}
	marker_bpf__destroy(m->skel);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m->ifs);
	free(m);
}

void
marker_forget(struct marker *m)
{
	if (!m)
		return;
	marker_bpf__destroy(m->skel);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m->ifs);
	free(m);
}

static int
shape_of(const struct marker_rule *r)
{
	return (r->proto ? MK_F_PROTO : 0) | (r->src_any ? 0 : MK_F_SADDR) |
	    (r->sport ? MK_F_SPORT : 0) | (r->dport ? MK_F_DPORT : 0);
}

static int
is_default(const struct marker_rule *r)
{
	return shape_of(r) == 0 && r->dst_plen == 0;
}

static int
addr_is_zero(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

int
marker_rule_check(const struct marker_rule *r, char *err, size_t errlen)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (r->proto != 0 && r->proto != IPPROTO_TCP &&
	    r->proto != IPPROTO_UDP) {
		snprintf(err, errlen, "protocol %u is not tcp, udp or any",
		    r->proto);
		return -EINVAL;
	}
	if (r->strategy < MK_STRAT_FLOW_LABEL || r->strategy > MK_STRAT_MAX) {
		snprintf(err, errlen, "strategy %u is unknown", r->strategy);
		return -EINVAL;
	}
	if (r->dst_plen > 128) {
		snprintf(err, errlen, "prefix length %u is over 128",
		    r->dst_plen);
		return -EINVAL;
	}
	if (r->src_any > 1 || r->pad != 0) {
		snprintf(err, errlen, "malformed rule");
		return -EINVAL;
	}
	if (r->src_any && !addr_is_zero(r->src)) {
		snprintf(err, errlen, "source address given with 'any'");
		return -EINVAL;
	}
	if ((!r->src_any && memcmp(r->src, v4mapped, 12) == 0) ||
	    memcmp(r->dst, v4mapped, 12) == 0) {
		snprintf(err, errlen, "IPv4 flows can not be marked (IPv4 has "
		    "no flow label)");
		return -EAFNOSUPPORT;
	}
	if (r->act > TAG_ACT_MAX) {
		snprintf(err, errlen, "activity %u is over %d", r->act,
		    TAG_ACT_MAX);
		return -ERANGE;
	}
	if (r->strategy == MK_STRAT_FLOW_LABEL)
		return tag_check_markable(r->exp, r->act, err, errlen);
	if (r->exp > TAG_EXP_MAX) {
		snprintf(err, errlen, "experiment %u is over %d", r->exp,
		    TAG_EXP_MAX);
		return -ERANGE;
	}
	return 0;
}

/* Keys zero every field the shape does not match and the host bits. */
static void
make_keys(const struct marker_rule *r, struct mk_key *k,
    struct mk_lpm_key *lk)
{
	int i, bits;

	memset(k, 0, sizeof(*k));
	memset(lk, 0, sizeof(*lk));
	if (is_default(r)) {
		k->shape = MK_SHAPE_DEFAULT;
		return;
	}
	k->shape = shape_of(r);
	k->proto = r->proto;
	k->sport = htons(r->sport);
	k->dport = htons(r->dport);
	if (!r->src_any)
		memcpy(k->saddr, r->src, 16);
	memcpy(k->daddr, r->dst, 16);
	lk->prefixlen = MK_LPM_FIXED_BITS + r->dst_plen;
	lk->k = *k;
	for (i = 0; i < 16; i++) {
		bits = r->dst_plen - i * 8;
		if (bits <= 0)
			lk->k.daddr[i] = 0;
		else if (bits < 8)
			lk->k.daddr[i] &= 0xff << (8 - bits);
	}
}

static int
rule_map(struct marker *m, const struct marker_rule *r, int *fd,
    const void **key, struct mk_key *k, struct mk_lpm_key *lk)
{
	make_keys(r, k, lk);
	if (r->dst_plen == 128 || is_default(r)) {
		*fd = bpf_map__fd(m->skel->maps.mk_rules);
		*key = k;
		return 0;
	}
	*fd = bpf_map__fd(m->skel->maps.mk_prefixes);
	*key = lk;
	return 1;
}

/*
 * The stored rule with exactly this match, or -ENOENT. For prefixes the trie
 * answers the longest covering prefix: only one of the same length is ours.
 */
static int
lookup_exact(int fd, const void *key, const struct marker_rule *r,
    struct mk_rule *out)
{
	if (bpf_map_lookup_elem(fd, key, out) != 0)
		return -errno;
	if (out->plen != r->dst_plen)
		return -ENOENT;
	return 0;
}

int
marker_rule_get(struct marker *m, const struct marker_rule *r,
    struct mk_rule *out)
{
	struct mk_key k;
	struct mk_lpm_key lk;
	const void *key;
	int fd;

	rule_map(m, r, &fd, &key, &k, &lk);
	return lookup_exact(fd, key, r, out);
}

static uint32_t *
use_slot(struct marker *m, const struct marker_rule *r, int lpm)
{
	if (is_default(r))
		return &m->def_use;
	return lpm ? &m->lpm_use[shape_of(r)] : &m->hash_use[shape_of(r)];
}

static uint32_t
rules_in_use(const struct marker *m)
{
	uint32_t n = m->def_use;
	int i;

	for (i = 0; i < MK_NSHAPES; i++)
		n += m->hash_use[i] + m->lpm_use[i];
	return n;
}

static int rule_add(struct marker *, const struct marker_rule *,
    enum marker_add *, int only_new, char *, size_t);

int
marker_rule_add(struct marker *m, const struct marker_rule *r,
    enum marker_add *what, char *err, size_t errlen)
{
	return rule_add(m, r, what, 0, err, errlen);
}

int
marker_rule_add_new(struct marker *m, const struct marker_rule *r,
    struct mk_rule *out, char *err, size_t errlen)
{
	enum marker_add what;
	int rc;

	if ((rc = rule_add(m, r, &what, 1, err, errlen)) != 0)
		return rc;
	return marker_rule_get(m, r, out);
}

static int
rule_add(struct marker *m, const struct marker_rule *r,
    enum marker_add *what, int only_new, char *err, size_t errlen)
{
	struct mk_key k;
	struct mk_lpm_key lk;
	struct mk_rule v, old;
	const void *key;
	uint32_t entropy, *use;
	int fd, lpm, rc, exists;

	if ((rc = marker_rule_check(r, err, errlen)) != 0)
		return rc;
	lpm = rule_map(m, r, &fd, &key, &k, &lk);
	use = use_slot(m, r, lpm);

	memset(&v, 0, sizeof(v));
	v.exp = r->exp;
	v.act = r->act;
	v.strategy = r->strategy;
	v.plen = r->dst_plen;
	exists = lookup_exact(fd, key, r, &old) == 0;
	if (exists && only_new) {
		snprintf(err, errlen, "a rule with this match exists");
		return -EEXIST;
	}
	if (shape_of(r) == MK_SHAPE_EXACT && r->dst_plen == 128) {
		/* A flow keeps its entropy for life, even if re-tagged. */
		entropy = exists ? tag_label_entropy(old.label) :
		    tag_entropy_random();
	} else {
		entropy = 0;
		v.flags = MK_RULE_HASH_ENTROPY;
	}
	if (r->strategy == MK_STRAT_FLOW_LABEL) {
		if ((rc = tag_label_encode(r->exp, r->act, entropy,
		    &v.label)) != 0) {
			snprintf(err, errlen, "label encoding failed");
			return rc;
		}
	} else {
		v.label = entropy;
	}
	if (exists && memcmp(&old, &v, sizeof(v)) == 0) {
		*what = MARKER_UNCHANGED;
		return 0;
	}
	/* The bit goes up before the rule so no packet misses it. */
	if (!exists && rules_in_use(m) >= m->opts.capacity) {
		snprintf(err, errlen, "rule table full (capacity %u)",
		    m->opts.capacity);
		return -ENOSPC;
	}
	if (!exists) {
		(*use)++;
		publish_use(m);
	}
	if (bpf_map_update_elem(fd, key, &v, exists ? BPF_EXIST :
	    BPF_NOEXIST) != 0) {
		rc = -errno;
		if (!exists) {
			(*use)--;
			publish_use(m);
		}
		if (rc == -E2BIG || rc == -ENOMEM || rc == -ENOSPC)
			snprintf(err, errlen, "rule table full (capacity %u)",
			    m->opts.capacity);
		else
			snprintf(err, errlen, "writing the rule: %s",
			    strerror(-rc));
		return rc == -E2BIG || rc == -ENOMEM ? -ENOSPC : rc;
	}
	*what = exists ? MARKER_REPLACED : MARKER_ADDED;
	return 0;
}

int
marker_rule_del(struct marker *m, const struct marker_rule *r, char *err,
    size_t errlen)
{
	struct mk_key k;
	struct mk_lpm_key lk;
	const void *key;
	uint32_t *use;
	int fd, lpm, rc;

	if ((rc = marker_rule_check(r, err, errlen)) != 0 && rc != -ERANGE)
		return rc;
	lpm = rule_map(m, r, &fd, &key, &k, &lk);
	use = use_slot(m, r, lpm);
	if (bpf_map_delete_elem(fd, key) != 0) {
		rc = -errno;
		snprintf(err, errlen, rc == -ENOENT ? "no such rule" :
		    "deleting the rule: %s", strerror(-rc));
		return rc;
	}
	if (*use > 0)
		(*use)--;
	publish_use(m);
	return 0;
}

int
marker_counters(struct marker *m, uint64_t out[MK_C_MAX])
{
	struct mk_counters *percpu;
	uint32_t zero = 0;
	int ncpu, i, j, rc = 0;

	memset(out, 0, MK_C_MAX * sizeof(out[0]));
	if ((ncpu = libbpf_num_possible_cpus()) <= 0)
		return ncpu ? ncpu : -EINVAL;
	if ((percpu = calloc(ncpu, sizeof(*percpu))) == NULL)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(m->skel->maps.mk_stats), &zero,
	    percpu) != 0) {
		rc = -errno;
		goto out;
	}
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < MK_C_MAX; j++)
			out[j] += percpu[i].c[j];
	/* The program counts one outcome per packet; the rest are sums. */
	for (j = MK_C_OUTCOME_FIRST; j < MK_C_MAX; j++)
		out[MK_C_PKTS] += out[j];
	for (j = MK_C_MARK_FLOW_LABEL; j <= MK_C_MARK_HBH_DST; j++)
		out[MK_C_MATCHED] += out[j];
	for (j = MK_C_FAIL_MTU; j <= MK_C_FAIL_HELPER; j++)
		out[MK_C_MATCHED] += out[j];
	out[MK_C_IPV6] = out[MK_C_MATCHED] + out[MK_C_SKIP_NO_MATCH];
out:
	free(percpu);
	return rc;
}

void
marker_usage(struct marker *m, uint32_t hash[MK_NSHAPES],
    uint32_t lpm[MK_NSHAPES], uint32_t *def)
{
	memcpy(hash, m->hash_use, sizeof(m->hash_use));
	memcpy(lpm, m->lpm_use, sizeof(m->lpm_use));
	*def = m->def_use;
}
