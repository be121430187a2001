/*
 * bench_empty.bpf.c: the floor of the marker benchmark (tests/bench/).
 *
 * A tc program that does nothing: what BPF_PROG_TEST_RUN costs per run
 * before any program logic, so the benchmark can report the marker's own
 * cost net of it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int
bench_empty(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}
