/*
 * bench_ref.bpf.c: the reference the marker benchmark (tests/bench/) holds
 * bpf/marker.bpf.c against.
 *
 * bench_ref is the least a flow-label marker can do: parse Ethernet, IPv6
 * and TCP with no VLAN tags and no extension headers, look the exact 5-tuple
 * up once in a rule map of the marker's layout, and write the label. No
 * counters, no shapes, no other strategies. User space hands it the
 * marker's own mk_rules (bpf_map__reuse_fd), so both look up the same
 * entries in the same table.
 *
 * bench_parse does the same parse and key construction but no lookup and no
 * write: reference minus parse is what one lookup costs, the unit in which
 * the benchmark prices each extra rule shape the marker searches.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "marker_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Replaced by the marker's map before load; only the layout matters. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mk_key);
	__type(value, struct mk_rule);
} mk_rules SEC(".maps");

/* Written by bench_parse so the compiler can not drop the key. */
volatile __u32 bench_sink;

static __always_inline __u8 *
parse(struct __sk_buff *skb, struct mk_key *k)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	__u8 *ip6 = data + sizeof(*eth), *tcp = ip6 + 40;

	if ((void *)(tcp + 4) > data_end)
		return NULL;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6) || ip6[6] != IPPROTO_TCP)
		return NULL;
	__builtin_memset(k, 0, sizeof(*k));
	k->shape = MK_SHAPE_EXACT;
	k->proto = IPPROTO_TCP;
	k->sport = *(__u16 *)tcp;
	k->dport = *(__u16 *)(tcp + 2);
	__builtin_memcpy(k->saddr, ip6 + 8, 16);
	__builtin_memcpy(k->daddr, ip6 + 24, 16);
	return ip6;
}

SEC("tc")
int
bench_ref(struct __sk_buff *skb)
{
	struct mk_key k;
	struct mk_rule *r;
	__u8 *ip6;

	if ((ip6 = parse(skb, &k)) == NULL)
		return TC_ACT_UNSPEC;
	if ((r = bpf_map_lookup_elem(&mk_rules, &k)) == NULL)
		return TC_ACT_UNSPEC;
	/* Keep the traffic-class nibble (ECN) as the marker does. */
	ip6[1] = (ip6[1] & 0xf0) | ((r->label >> 16) & 0x0f);
	ip6[2] = (r->label >> 8) & 0xff;
	ip6[3] = r->label & 0xff;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int
bench_parse(struct __sk_buff *skb)
{
	struct mk_key k;

	if (parse(skb, &k) == NULL)
		return TC_ACT_UNSPEC;
	bench_sink = k.sport ^ k.dport ^ k.saddr[15] ^ k.daddr[15];
	return TC_ACT_UNSPEC;
}
