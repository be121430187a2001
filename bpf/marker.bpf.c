/*
 * marker.bpf.c: tc clsact egress program that writes SciTags into IPv6
 * packets (notes/scitags.md §1, §3; DESIGN.md "The data plane").
 *
 * Two entry points share one body: sctag_egress_eth for Ethernet links
 * (with 802.1Q/802.1ad tags in band) and sctag_egress_l3 for links without
 * an L2 header (tun, WireGuard). User space attaches the one that fits the
 * device, so the choice costs nothing per packet.
 *
 * The program never drops a packet because marking failed: it counts why and
 * lets the packet go unmarked. It returns TC_ACT_UNSPEC so that filters of
 * other agents on the same hook still run.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "marker_abi.h"

#define NH_HOPOPTS	0
#define NH_ROUTING	43
#define NH_FRAGMENT	44
#define NH_ESP		50
#define NH_AH		51
#define NH_NONE		59
#define NH_DSTOPTS	60
#define ETH_P_8021AD_	0x88A8
#define ENTROPY_MASK	0xC0103u
/* Furthest L4 offset we follow; keeps the verifier's range small. */
#define MAX_L4_OFF	512

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Sizes are placeholders: user space sets them before load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_key);
	__type(value, struct mk_rule);
} mk_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_lpm_key);
	__type(value, struct mk_rule);
} mk_prefixes SEC(".maps");

/* Not used by the program: keeps the entropy seed across agent restarts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mk_meta);
} mk_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mk_counters);
} mk_stats SEC(".maps");

/*
 * Written by user space through the skeleton's .bss: which shapes have
 * rules (so the lookups nobody needs are skipped), whether the match-all
 * default exists, and the seed of the wildcard entropy hash (kept in a
 * pinned map by user space so a restarted agent keeps every flow's label).
 */
volatile __u16 mk_shapes_in_use;
volatile __u16 mk_lpm_shapes_in_use;
volatile __u32 mk_default_on;
volatile __u32 mk_entropy_seed;

/*
 * The hash key seen as five 64-bit words, so a copy or mask of it is five
 * stores. (struct mk_key itself is only 4-byte aligned: it also sits behind
 * the prefix length in the LPM key.)
 */
union hkey {
	struct mk_key	k;
	__u64		w[5];
};

static __always_inline __u32
rotl32(__u32 v, int n)
{
	return (v << n) | (v >> (32 - n));
}

/* A murmur3-style mix: cheap, and spreads every tuple bit over the result. */
static __always_inline __u32
mix(__u32 h, __u32 v)
{
	v *= 0xcc9e2d51;
	v = rotl32(v, 15);
	v *= 0x1b873593;
	h ^= v;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

/* Over the exact key: both ports, addresses, protocol. */
static __always_inline __u32
tuple_hash(const union hkey *f, __u32 seed)
{
	__u32 h = seed;
	int i;

	h = mix(h, (__u32)(f->w[0] >> 32));
#pragma unroll
	for (i = 1; i < 5; i++) {
		h = mix(h, (__u32)f->w[i]);
		h = mix(h, (__u32)(f->w[i] >> 32));
	}
	h = mix(h, f->k.proto);
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

/*
 * Word 0 of a key (shape, proto, pad, ports) as masks, built through the
 * union so they are right for either byte order; shape is a constant at
 * every call, so both fold to immediates.
 */
static __always_inline __u64
w0_keep(__u8 shape)
{
	union hkey m = {};

	m.k.proto = (shape & MK_F_PROTO) ? 0xff : 0;
	m.k.sport = (shape & MK_F_SPORT) ? 0xffff : 0;
	m.k.dport = (shape & MK_F_DPORT) ? 0xffff : 0;
	return m.w[0];
}

static __always_inline __u64
w0_shape(__u8 shape)
{
	union hkey m = {};

	m.k.shape = shape;
	return m.w[0];
}

/*
 * The exact key with the fields the shape does not match zeroed: whole-word
 * stores only (narrow stores into a word the hash then reads as a word
 * stall the load).
 */
static __always_inline void
mask_key(union hkey *k, const union hkey *full, __u8 shape)
{
	k->w[0] = (full->w[0] & w0_keep(shape)) | w0_shape(shape);
	k->w[1] = (shape & MK_F_SADDR) ? full->w[1] : 0;
	k->w[2] = (shape & MK_F_SADDR) ? full->w[2] : 0;
	k->w[3] = full->w[3];
	k->w[4] = full->w[4];
}

static __always_inline struct mk_rule *
lookup_hash(const union hkey *full, __u8 shape)
{
	union hkey k;

	mask_key(&k, full, shape);
	return bpf_map_lookup_elem(&mk_rules, &k);
}

static __always_inline struct mk_rule *
lookup_lpm(const union hkey *full, __u8 shape)
{
	union hkey k;
	struct mk_lpm_key lk;

	mask_key(&k, full, shape);
	lk.prefixlen = MK_LPM_FIXED_BITS + 128;
	lk.k = k.k;
	return bpf_map_lookup_elem(&mk_prefixes, &lk);
}

/*
 * Most specific first: shapes by the number of fields they match, exact
 * 5-tuple first; within one popcount the local side before the remote
 * (a storage node's own port says more than a client's ephemeral one).
 */
#define TRY_HASH(s)							\
	if (hmask & (1u << (s))) {					\
		r = lookup_hash(full, (s));				\
		if (r)							\
			return r;					\
	}
#define TRY_LPM(s)							\
	if (lmask & (1u << (s))) {					\
		r = lookup_lpm(full, (s));				\
		if (r)							\
			return r;					\
	}
#define WILDCARD_SHAPES(TRY)						\
	TRY(7) TRY(11) TRY(13) TRY(14)					\
	TRY(3) TRY(5) TRY(6) TRY(9) TRY(10) TRY(12)			\
	TRY(1) TRY(2) TRY(4) TRY(8) TRY(0)

static __always_inline struct mk_rule *
match(const union hkey *full)
{
	__u32 hmask = mk_shapes_in_use;
	__u32 lmask = mk_lpm_shapes_in_use;
	struct mk_rule *r;

	/* The full key is the exact key: no copy for the common case. */
	if (hmask & (1u << MK_SHAPE_EXACT)) {
		r = bpf_map_lookup_elem(&mk_rules, full);
		if (r)
			return r;
	}
	if (hmask & ~(1u << MK_SHAPE_EXACT)) {
		WILDCARD_SHAPES(TRY_HASH)
	}
	if (lmask) {
		TRY_LPM(MK_SHAPE_EXACT)
		WILDCARD_SHAPES(TRY_LPM)
	}
	if (mk_default_on) {
		struct mk_key k = { .shape = MK_SHAPE_DEFAULT };

		return bpf_map_lookup_elem(&mk_rules, &k);
	}
	return NULL;
}

/* Insert the 8 or 16 option bytes after the IPv6 base header. */
static __always_inline int
mark_exthdr(struct __sk_buff *skb, struct mk_counters *c, __u32 l3off,
    const __u8 *ip6, const struct mk_rule *r)
{
	__u32 grow = r->strategy == MK_STRAT_HBH_DST ? 16 : 8;
	__u32 mtu_len = 0;
	__u8 first, nexthdr = ip6[6], hlim = ip6[7], hdr[16], fixed[4];
	__u16 plen = *(__u16 *)(ip6 + 4);

	/*
	 * Only right behind the base header may we add an HBH header, and
	 * bpf_skb_adjust_room() refuses frames whose VLAN tag is in band
	 * (skb->protocol is then 802.1Q): leave both unmarked, counted.
	 */
	if (nexthdr != IPPROTO_TCP && nexthdr != IPPROTO_UDP) {
		c->c[MK_C_FAIL_EXTHDR]++;
		return TC_ACT_UNSPEC;
	}
	if (skb->protocol != bpf_htons(ETH_P_IPV6)) {
		c->c[MK_C_FAIL_EXTHDR]++;
		return TC_ACT_UNSPEC;
	}
	if (skb->gso_size) {
		/* TCP GSO shrinks its MSS; UDP GSO segments would outgrow
		 * the MTU. */
		if (nexthdr == IPPROTO_UDP) {
			c->c[MK_C_FAIL_GSO]++;
			return TC_ACT_UNSPEC;
		}
	} else if (bpf_check_mtu(skb, 0, &mtu_len, grow, 0) != 0) {
		c->c[MK_C_FAIL_MTU]++;
		return TC_ACT_UNSPEC;
	}

	__builtin_memset(hdr, 0, sizeof(hdr));
	hdr[2] = MK_OPT_TYPE;
	hdr[3] = MK_OPT_LEN;
	hdr[4] = r->exp >> 8;
	hdr[5] = r->exp & 0xff;
	hdr[6] = r->act;
	hdr[8 + 2] = MK_OPT_TYPE;
	hdr[8 + 3] = MK_OPT_LEN;
	hdr[8 + 4] = r->exp >> 8;
	hdr[8 + 5] = r->exp & 0xff;
	hdr[8 + 6] = r->act;
	if (r->strategy == MK_STRAT_HBH_DST) {
		hdr[0] = NH_DSTOPTS;
		hdr[8] = nexthdr;
		first = NH_HOPOPTS;
	} else {
		hdr[0] = nexthdr;
		first = r->strategy == MK_STRAT_HBH ? NH_HOPOPTS : NH_DSTOPTS;
	}

	if (bpf_skb_adjust_room(skb, grow, BPF_ADJ_ROOM_NET, 0) != 0) {
		c->c[MK_C_FAIL_HELPER]++;
		return TC_ACT_UNSPEC;
	}
	/*
	 * The room is there now: a packet with 8 unexplained bytes must not
	 * leave, so if a store fails (it can only for lack of memory) the
	 * packet is dropped instead.
	 */
	plen = bpf_ntohs(plen) + grow;
	fixed[0] = plen >> 8;
	fixed[1] = plen & 0xff;
	fixed[2] = first;
	fixed[3] = hlim;
	if (bpf_skb_store_bytes(skb, l3off + 4, fixed, 4, 0) != 0 ||
	    bpf_skb_store_bytes(skb, l3off + 40, hdr, 8, 0) != 0 ||
	    (grow == 16 &&
	    bpf_skb_store_bytes(skb, l3off + 48, hdr + 8, 8, 0) != 0)) {
		c->c[MK_C_FAIL_HELPER]++;
		return TC_ACT_SHOT;
	}
	if (first == NH_DSTOPTS)
		c->c[MK_C_MARK_DST]++;
	else if (grow == 16)
		c->c[MK_C_MARK_HBH_DST]++;
	else
		c->c[MK_C_MARK_HBH]++;
	return TC_ACT_UNSPEC;
}

static __always_inline int
handle(struct __sk_buff *skb, const int has_l2)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct mk_counters *c;
	struct mk_rule *r;
	union hkey full;
	__u32 zero = 0, l3off = 0, l4off, label;
	__u16 eth_proto;
	__u8 *ip6, *p, nh;
	int i;

	c = bpf_map_lookup_elem(&mk_stats, &zero);
	if (!c)
		return TC_ACT_UNSPEC;
	c->c[MK_C_BYTES] += skb->len;

	if (has_l2) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > data_end)
			goto not_ipv6;
		eth_proto = eth->h_proto;
		l3off = sizeof(*eth);
#pragma unroll
		for (i = 0; i < MK_MAX_VLANS; i++) {
			if (eth_proto != bpf_htons(ETH_P_8021Q) &&
			    eth_proto != bpf_htons(ETH_P_8021AD_))
				break;
			p = data + l3off;
			if ((void *)(p + 4) > data_end)
				goto not_ipv6;
			eth_proto = *(__u16 *)(p + 2);
			l3off += 4;
		}
		if (eth_proto != bpf_htons(ETH_P_IPV6))
			goto not_ipv6;
	}
	ip6 = data + l3off;
	if ((void *)(ip6 + 40) > data_end)
		goto truncated_or_not_ipv6;
	if ((ip6[0] >> 4) != 6)
		goto not_ipv6;

	/* Walk extension headers (bounded) to the ports. */
	nh = ip6[6];
	l4off = l3off + 40;
#pragma unroll
	for (i = 0; i < MK_MAX_EXTHDRS; i++) {
		if (nh == IPPROTO_TCP || nh == IPPROTO_UDP)
			break;
		if (nh != NH_HOPOPTS && nh != NH_ROUTING && nh != NH_DSTOPTS &&
		    nh != NH_AH && nh != NH_FRAGMENT) {
			c->c[MK_C_SKIP_NOT_L4]++;
			return TC_ACT_UNSPEC;
		}
		if (l4off > MAX_L4_OFF)
			goto truncated;
		p = data + l4off;
		if ((void *)(p + 8) > data_end)
			goto truncated;
		if (nh == NH_FRAGMENT) {
			/* A later fragment has no ports. */
			if ((p[2] << 8 | p[3]) & 0xfff8) {
				c->c[MK_C_SKIP_NOT_L4]++;
				return TC_ACT_UNSPEC;
			}
			l4off += 8;
		} else if (nh == NH_AH) {
			l4off += ((__u32)p[1] + 2) << 2;
		} else {
			l4off += ((__u32)p[1] + 1) << 3;
		}
		nh = p[0];
	}
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		goto truncated;
	if (l4off > MAX_L4_OFF)
		goto truncated;
	p = data + l4off;
	if ((void *)(p + 4) > data_end)
		goto truncated;

	/*
	 * The exact key straight from the packet, in words. Packet loads may
	 * be unaligned: the verifier allows that where the CPU does (x86,
	 * arm64), and the stores into the key are aligned.
	 */
	full.w[0] = 0;
	full.k.shape = MK_SHAPE_EXACT;
	full.k.proto = nh;
	*(__u32 *)&full.k.sport = *(__u32 *)p;
	full.w[1] = *(__u64 *)(ip6 + 8);
	full.w[2] = *(__u64 *)(ip6 + 16);
	full.w[3] = *(__u64 *)(ip6 + 24);
	full.w[4] = *(__u64 *)(ip6 + 32);

	r = match(&full);
	if (!r) {
		c->c[MK_C_SKIP_NO_MATCH]++;
		return TC_ACT_UNSPEC;
	}

	switch (r->strategy) {
	case MK_STRAT_FLOW_LABEL:
		label = r->label;
		if (r->flags & MK_RULE_HASH_ENTROPY)
			label = (label & ~ENTROPY_MASK) |
			    (tuple_hash(&full, mk_entropy_seed) & ENTROPY_MASK);
		/*
		 * Byte 1 also holds traffic class bits and ECN: keep them.
		 * A direct write makes the verifier unclone shared headers
		 * first; TCP's clones have private headers, so for TCP that
		 * costs a test, not a copy.
		 */
		ip6[1] = (ip6[1] & 0xf0) | ((label >> 16) & 0x0f);
		ip6[2] = (label >> 8) & 0xff;
		ip6[3] = label & 0xff;
		c->c[MK_C_MARK_FLOW_LABEL]++;
		return TC_ACT_UNSPEC;
	case MK_STRAT_HBH:
	case MK_STRAT_DST:
	case MK_STRAT_HBH_DST:
		if (l3off != (has_l2 ? ETH_HLEN : 0)) {
			c->c[MK_C_FAIL_EXTHDR]++;
			return TC_ACT_UNSPEC;
		}
		return mark_exthdr(skb, c, has_l2 ? ETH_HLEN : 0, ip6, r);
	default:
		c->c[MK_C_SKIP_NO_MATCH]++;
		return TC_ACT_UNSPEC;
	}

truncated_or_not_ipv6:
	if (!has_l2 && data + 1 <= data_end && (*(__u8 *)data >> 4) != 6)
		goto not_ipv6;
truncated:
	c->c[MK_C_SKIP_TRUNCATED]++;
	return TC_ACT_UNSPEC;
not_ipv6:
	c->c[MK_C_SKIP_NOT_IPV6]++;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int
sctag_egress_eth(struct __sk_buff *skb)
{
	return handle(skb, 1);
}

SEC("tc")
int
sctag_egress_l3(struct __sk_buff *skb)
{
	return handle(skb, 0);
}
