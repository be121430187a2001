/*
 * marker_abi.h: the contract between bpf/marker.bpf.c and server/marker.c.
 *
 * Every struct here is a map key or value: sizes are fixed, padding is
 * explicit and must be zero, multi-byte ports are in network order and
 * addresses are raw IPv6 bytes. Changing any of it changes the pinned maps'
 * layout: bump MK_PIN_VERSION with it.
 */
#ifndef SCTAG_BPF_MARKER_ABI_H
#define SCTAG_BPF_MARKER_ABI_H

#include <linux/types.h>

#define MK_PIN_VERSION		"v1"

/*
 * A rule shape says which fields of the 5-tuple a rule matches. The remote
 * (destination) address is always matched: exactly in the hash map, by
 * prefix in the LPM trie. A bit that is clear means "any".
 */
#define MK_F_PROTO		0x1
#define MK_F_SADDR		0x2
#define MK_F_SPORT		0x4
#define MK_F_DPORT		0x8
#define MK_NSHAPES		16
#define MK_SHAPE_EXACT		(MK_F_PROTO | MK_F_SADDR | MK_F_SPORT | MK_F_DPORT)
/* The match-all default lives in the hash map under this shape id. */
#define MK_SHAPE_DEFAULT	0xff

/*
 * Hash map key: 40 bytes. The ports and addresses sit on 4-byte boundaries
 * so the program fills the key with word stores (the verifier refuses
 * misaligned stack access), and the key is also the data part of the LPM
 * key below.
 */
struct mk_key {
	__u8	shape;
	__u8	proto;		/* IPPROTO_TCP, IPPROTO_UDP, 0 = any */
	__u16	pad;
	__u16	sport;		/* network order, 0 = any */
	__u16	dport;		/* network order, 0 = any */
	__u8	saddr[16];	/* local address */
	__u8	daddr[16];	/* remote address */
} __attribute__((aligned(4)));

/*
 * LPM trie key: the hash key behind the prefix length. prefixlen counts
 * bits from `shape` on: the 24 bytes before daddr always match in full, so
 * it is MK_LPM_FIXED_BITS + the prefix length of the remote network.
 * Entries of different shapes never match each other: the shape comes first.
 */
#define MK_LPM_FIXED_BITS	(24 * 8)
struct mk_lpm_key {
	__u32		prefixlen;
	struct mk_key	k;
};

/* Marking strategies. 0 is never valid, so a zeroed rule marks nothing. */
enum mk_strategy {
	MK_STRAT_NONE = 0,
	MK_STRAT_FLOW_LABEL = 1,
	MK_STRAT_HBH = 2,
	MK_STRAT_DST = 3,
	MK_STRAT_HBH_DST = 4,
	MK_STRAT_MAX = 4,
};

/* Rule flags. */
#define MK_RULE_HASH_ENTROPY	0x1	/* entropy from the packet's 5-tuple */

/*
 * Hash and LPM value: 16 bytes. plen repeats the remote prefix length: an
 * LPM lookup answers the longest matching prefix, so user space compares
 * plen to tell "this very rule" from "a shorter prefix that covers it".
 */
struct mk_rule {
	__u32	label;		/* 20-bit flow label; entropy included for exact rules */
	__u16	exp;		/* experiment id, for the option header */
	__u8	act;		/* activity id, for the option header */
	__u8	strategy;	/* enum mk_strategy */
	__u8	flags;		/* MK_RULE_* */
	__u8	plen;		/* remote prefix length, 0..128 */
	__u8	pad[2];
	__u32	id;		/* user space's rule id; 0 = unset */
};

/*
 * Counters: one per-CPU array element holding all of them. To keep the
 * per-packet cost at two increments, the program counts bytes and exactly
 * one outcome per packet (MK_C_OUTCOME_FIRST on); packets, ipv6_l4 and
 * matched are sums user space derives (marker_counters()).
 */
enum mk_counter {
	MK_C_PKTS,		/* derived: every packet the program saw */
	MK_C_BYTES,
	MK_C_IPV6,		/* derived: IPv6 with TCP or UDP ports found */
	MK_C_MATCHED,		/* derived: a rule matched */
	MK_C_MARK_FLOW_LABEL,	/* outcomes from here on: marked, per strategy */
	MK_C_MARK_HBH,
	MK_C_MARK_DST,
	MK_C_MARK_HBH_DST,
	MK_C_SKIP_NOT_IPV6,	/* IPv4, ARP, ...: passed untouched */
	MK_C_SKIP_NOT_L4,	/* IPv6 without TCP/UDP ports (ICMPv6, later fragment) */
	MK_C_SKIP_TRUNCATED,	/* headers not in the linear data or too many ext headers */
	MK_C_SKIP_NO_MATCH,	/* no rule */
	MK_C_FAIL_MTU,		/* option header would exceed the MTU: left unmarked */
	MK_C_FAIL_GSO,		/* GSO kind that can not grow (UDP GSO) */
	MK_C_FAIL_EXTHDR,	/* packet already has extension headers / VLAN in band */
	MK_C_FAIL_HELPER,	/* a helper failed before anything was rewritten */
	MK_C_MAX
};
#define MK_C_OUTCOME_FIRST	MK_C_MARK_FLOW_LABEL

struct mk_counters {
	__u64	c[MK_C_MAX];
};

/* Pinned with the rules so that a restarted agent keeps every label. */
struct mk_meta {
	__u32	entropy_seed;
	__u32	pad;
};

/* IPv6 option type of the SciTags option (notes/scitags.md §3). */
#define MK_OPT_TYPE		0x1e
#define MK_OPT_LEN		3
#define MK_EXTHDR_LEN		8

/* Extension headers walked to find the ports. */
#define MK_MAX_EXTHDRS		6
/* 802.1Q / 802.1ad tags walked. */
#define MK_MAX_VLANS		2

#endif /* SCTAG_BPF_MARKER_ABI_H */
