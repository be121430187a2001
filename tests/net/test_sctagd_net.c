/*
 * test_sctagd_net.c: the real sctagd in namespace A, driven through its
 * named pipe (notes/scitags.md §5), marking A's veth; what arrives in B is
 * captured and decoded. Every test stops the daemon and checks that it
 * left nothing: no clsact qdisc, no pins, no FIFO, no process.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include "caps.h"
#include "nettest.h"
#include "tag.h"

#define A	NT_ADDR_A
#define A2	NT_ADDR_A2
#define B	NT_ADDR_B
#define B2	NT_ADDR_B2
#define TCP	IPPROTO_TCP
#define UDP	IPPROTO_UDP
#define MAXP	64
#define LOGMAX	(1 << 18)

TestSuite(sctagd, .init = nettest_setup, .fini = nettest_teardown,
    .timeout = 90);

static char cfg_path[256], fifo_path[256];

/*
 * Config with the pair's pin dir and FIFO, and "nobody" for the network
 * process (CI machines have no "sctag" account); extra is more members.
 */
static void
write_config(const char *marker_extra, const char *extra)
{
	FILE *f;

	snprintf(cfg_path, sizeof(cfg_path), "%s/sctagd.json", nt.tmpdir);
	snprintf(fifo_path, sizeof(fifo_path), "%s/flowd", nt.tmpdir);
	/* The network process ("nobody") must reach its socket's directory. */
	cr_assert_eq(chmod(nt.tmpdir, 0711), 0);
	cr_assert_not_null(f = fopen(cfg_path, "w"));
	fprintf(f, "{\"user\": \"nobody\", \"api\": {\"ipc\": "
	    "\"%s/api/sctagd.sock\"}, \"marker\": {\"pin_dir\": "
	    "\"%s\"%s%s}, \"pipe\": {\"path\": \"%s\"}%s%s}\n", nt.tmpdir,
	    nt.pin_dir,
	    marker_extra ? ", " : "", marker_extra ? marker_extra : "",
	    fifo_path, extra ? ", " : "", extra ? extra : "");
	fclose(f);
}

static void
daemon_start(struct nt_daemon *d, const char *const *more)
{
	const char *args[16] = { "-f", "-v", "-c", cfg_path, "-i", nt.if_a };
	char err[256] = "", log[4096];
	int n = 6, rc;

	while (more && *more && n < 15)
		args[n++] = *more++;
	args[n] = NULL;
	memset(d, 0, sizeof(*d));
	snprintf(d->log, sizeof(d->log), "%s/sctagd.log", nt.tmpdir);
	cr_assert_eq(nt_daemon_spawn(d, nt.ns_a, args, fifo_path, err,
	    sizeof(err)), 0, "%s", err);
	rc = nt_daemon_wait_ready(d, 15000);
	if (rc != 0)
		nt_daemon_log(d, log, sizeof(log));
	cr_assert_eq(rc, 0, "sctagd not ready (%s); its log:\n%s",
	    strerror(-rc), log);
}

static int
log_count(const struct nt_daemon *d, const char *needle)
{
	static char buf[LOGMAX];
	const char *p;
	int n = 0;

	if (nt_daemon_log(d, buf, sizeof(buf)) != 0)
		return 0;
	for (p = buf; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Wait until needle is in the log `count` times. */
static void
log_wait(const struct nt_daemon *d, const char *needle, int count)
{
	long long deadline = nt_now_ms() + 5000;
	static char buf[LOGMAX];

	while (log_count(d, needle) < count) {
		if (nt_now_ms() > deadline) {
			nt_daemon_log(d, buf, sizeof(buf));
			cr_assert_fail("'%s' not %d times in sctagd's log:\n%s",
			    needle, count, buf);
		}
		nt_sleep_ms(10);
	}
}

static void
pipe_line(const char *line)
{
	int rc = nt_fifo_write(fifo_path, line, strlen(line));

	cr_assert_eq(rc, 0, "writing to %s: %s", fifo_path, strerror(-rc));
}

/* Stop it and check it removed its filter, qdisc, pins and FIFO. */
static void
daemon_stop_clean(struct nt_daemon *d)
{
	char log[LOGMAX];
	int rc;

	rc = nt_daemon_stop(d, 5000);
	nt_daemon_log(d, log, sizeof(log));
	cr_assert_eq(rc, 0, "sctagd exit %d; log:\n%s", rc, log);
	cr_assert(kill(d->pid, 0) != 0 && errno == ESRCH);
	cr_assert(!nettest_has_egress_filter(nt.ns_a, nt.if_a),
	    "sctagd left a tc egress filter on %s", nt.if_a);
	cr_assert(!nettest_has_clsact(nt.ns_a, nt.if_a),
	    "sctagd left its clsact qdisc on %s", nt.if_a);
	cr_assert(!nt_path_exists(nt.pin_dir), "sctagd left %s", nt.pin_dir);
	cr_assert(!nt_path_exists(fifo_path), "sctagd left %s", fifo_path);
}

/* The pinned per-CPU counters, summed: what an operator's tool reads. */
static void
pinned_counters(uint64_t out[MK_C_MAX])
{
	struct mk_counters *v;
	char path[512];
	uint32_t zero = 0;
	int fd, ncpu, i, j;

	snprintf(path, sizeof(path), "%s/mk_stats", nt.pin_dir);
	cr_assert_geq(fd = bpf_obj_get(path), 0, "bpf_obj_get %s: %s", path,
	    strerror(errno));
	ncpu = libbpf_num_possible_cpus();
	cr_assert_gt(ncpu, 0);
	cr_assert_not_null(v = calloc((size_t)ncpu, sizeof(*v)));
	cr_assert_eq(bpf_map_lookup_elem(fd, &zero, v), 0);
	memset(out, 0, MK_C_MAX * sizeof(out[0]));
	for (i = 0; i < ncpu; i++)
		for (j = 0; j < MK_C_MAX; j++)
			out[j] += v[i].c[j];
	free(v);
	close(fd);
}

static void
udp_and_wait(struct capture *c, const char *s, uint16_t sp, const char *d,
    uint16_t dp, int count, size_t total)
{
	struct cap_tuple t;

	cap_tuple_make(&t, UDP, s, sp, d, dp);
	nettest_udp(s, sp, d, dp, -1, 100, count);
	nettest_expect(c, &t, total);
}

/* start marks (names and numbers), a TCP transfer is marked throughout,
 * end unmarks; the pinned counters agree with the wire. */
Test(sctagd, pipe_start_marks_end_unmarks)
{
	static const struct cap_pkt *p[20000];
	struct nt_daemon d;
	struct capture *c;
	struct tr_flow f = { A, 40000, B, 5001, -1 };
	struct tr_tcp_rx rx;
	uint64_t cnt[MK_C_MAX];
	uint8_t sha[TR_SHA_LEN];
	char err[256] = "";
	size_t n;

	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	c = nettest_capture(nt.ns_b, nt.if_b, 20000);
	pipe_line("start udp 2001:db8::1 4000 2001:db8::2 5000 atlas "
	    "data-consolidation\n"
	    "START UDP 2001:db8::1 4001 2001:db8::2 5000 3 14\n"
	    "start tcp 2001:db8::1 40000 2001:db8::2 5001 lhcb 3\n");
	log_wait(&d, "pipe: start", 3);
	udp_and_wait(c, A, 4000, B, 5000, 3, 3);
	udp_and_wait(c, A, 4001, B, 5000, 3, 3);
	pinned_counters(cnt);
	cr_assert_eq(cnt[MK_C_MARK_FLOW_LABEL], 6, "pinned marked_flow_label "
	    "%llu, 6 datagrams marked", (unsigned long long)
	    cnt[MK_C_MARK_FLOW_LABEL]);
	cr_assert_eq(tr_tcp_rx_start(&rx, nt.ns_b, B, 5001, 20000, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_send(nt.ns_a, &f, 2 << 20, 1, 20000, sha, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_tcp_rx_wait(&rx, 20000), 0);
	cr_assert_arr_eq(rx.sha, sha, TR_SHA_LEN);

	pipe_line("end udp 2001:db8::1 4000 2001:db8::2 5000 atlas "
	    "data-consolidation\n");
	log_wait(&d, "pipe: end", 1);
	udp_and_wait(c, A, 4000, B, 5000, 3, 6);
	udp_and_wait(c, A, 4001, B, 5000, 3, 6);
	nt_sleep_ms(50);
	cap_stop(c);

	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 6);
	nettest_check_marked(p, 3, 2, 4, 0, "atlas flow, started");
	nettest_check_unmarked(p + 3, 3, 0, "atlas flow, ended");
	n = nettest_flow(c, UDP, A, 4001, B, 5000, p, MAXP);
	cr_assert_eq(n, 6);
	nettest_check_marked(p, 6, 3, 14, 0, "cms flow, still running");
	n = nettest_flow(c, TCP, A, 40000, B, 5001, p, 20000);
	cr_assert_gt(n, 10);
	nettest_check_marked(p, n, 4, 3, 0, "tcp transfer");
	cap_free(c);
	daemon_stop_clean(&d);
}

/* flowd's killers: each is rejected and counted, the reader goes on. */
Test(sctagd, bad_lines_rejected_daemon_keeps_going)
{
	static const char ff[] = "\xff\n";
	char longline[700];
	struct nt_daemon d;
	struct capture *c;
	const struct cap_pkt *p[MAXP];
	size_t n;

	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	pipe_line("bogus udp 2001:db8::1 4000 2001:db8::2 5000 2 4\n");
	pipe_line("start udp 2001:db8::1 70000 2001:db8::2 5000 2 4\n");
	pipe_line(ff);
	memset(longline, 'x', sizeof(longline) - 2);
	longline[sizeof(longline) - 2] = '\n';
	longline[sizeof(longline) - 1] = '\0';
	pipe_line(longline);
	pipe_line("start udp 2001:db8::1 4000 2001:db8::2 5000 2 4\n");
	log_wait(&d, "pipe: start", 1);
	cr_assert_eq(kill(d.pid, 0), 0, "sctagd died on bad lines");
	udp_and_wait(c, A, 4000, B, 5000, 3, 3);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	nettest_check_marked(p, n, 2, 4, 0, "good line after bad ones");
	kill(d.pid, SIGUSR1);
	log_wait(&d, "pipe lines 5 events 1 bad 4 overlong 1", 1);
	cr_assert_geq(log_count(&d, "rejected"), 4);
	cap_free(c);
	daemon_stop_clean(&d);
}

/* A line cut in two writes by one writer is put back together. */
Test(sctagd, start_line_split_across_writes)
{
	static const char *half1 = "start udp 2001:db8::1 4000 2001:d";
	static const char *half2 = "b8::2 5000 cms 14\n";
	struct nt_daemon d;
	struct capture *c;
	const struct cap_pkt *p[MAXP];
	size_t n;
	int fd;

	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	cr_assert_geq(fd = open(fifo_path, O_WRONLY | O_NONBLOCK), 0);
	cr_assert_eq(write(fd, half1, strlen(half1)), (ssize_t)strlen(half1));
	nt_sleep_ms(300);
	cr_assert_eq(log_count(&d, "rejected"), 0, "half a line was parsed");
	cr_assert_eq(write(fd, half2, strlen(half2)), (ssize_t)strlen(half2));
	close(fd);
	log_wait(&d, "pipe: start", 1);
	udp_and_wait(c, A, 4000, B, 5000, 3, 3);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	nettest_check_marked(p, n, 3, 14, 0, "split line");
	cr_assert_eq(log_count(&d, "rejected"), 0);
	cap_free(c);
	daemon_stop_clean(&d);
}

Test(sctagd, fifo_mode_0620)
{
	struct nt_daemon d;
	struct stat st;

	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	cr_assert_eq(stat(fifo_path, &st), 0);
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0620, "FIFO mode %04o, want 0620",
	    st.st_mode & 07777);
	daemon_stop_clean(&d);
}

Test(sctagd, unknown_interface_fails_naming_it)
{
	const char *args[] = { "-f", "--no-pipe", "-c", cfg_path, "-i",
	    "nosuchif", NULL };
	struct nt_daemon d;
	char err[256] = "", log[8192];

	write_config(NULL, NULL);
	memset(&d, 0, sizeof(d));
	snprintf(d.log, sizeof(d.log), "%s/sctagd.log", nt.tmpdir);
	cr_assert_eq(nt_daemon_spawn(&d, nt.ns_a, args, NULL, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(nt_daemon_wait_exit(&d, 10000), 0, "sctagd -i nosuchif "
	    "is still running");
	nt_daemon_log(&d, log, sizeof(log));
	cr_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) != 0,
	    "exit status %d; log:\n%s", d.status, log);
	cr_assert_not_null(strstr(log, "nosuchif"), "the error does not name "
	    "the interface:\n%s", log);
	cr_assert(!nt_path_exists(nt.pin_dir), "a failed start left %s",
	    nt.pin_dir);
	cr_assert(!nettest_has_clsact(nt.ns_a, nt.if_a));
}

/* "mark_all" in the config: every IPv6 TCP/UDP packet gets the tag. */
Test(sctagd, mark_all_from_config)
{
	struct nt_daemon d;
	struct capture *c;
	struct tr_flow f = { A, 4002, B, 5002, -1 };
	struct cap_tuple t;
	const struct cap_pkt *p[MAXP];
	char err[256] = "";
	size_t n;

	write_config(NULL, "\"mark_all\": {\"experiment\": \"atlas\", "
	    "\"activity\": \"Data Consolidation\"}");
	daemon_start(&d, NULL);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	udp_and_wait(c, A, 4000, B, 5000, 3, 3);
	udp_and_wait(c, A2, 4001, B2, 5001, 3, 3);
	cr_assert_eq(tr_tcp_probe(nt.ns_a, &f, 3000, err, sizeof(err)), 0,
	    "%s", err);
	cap_tuple_make(&t, TCP, A, 4002, B, 5002);
	nettest_expect(c, &t, 1);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	nettest_check_marked(p, n, 2, 4, 0, "udp flow 1");
	n = nettest_flow(c, UDP, A2, 4001, B2, 5001, p, MAXP);
	nettest_check_marked(p, n, 2, 4, 0, "udp flow 2");
	n = nettest_flow(c, TCP, A, 4002, B, 5002, p, MAXP);
	nettest_check_marked(p, n, 2, 4, 0, "tcp SYN");
	cap_free(c);
	daemon_stop_clean(&d);
}

/*
 * keep_on_exit: the flow stays marked with the same label while no agent
 * runs and after a new agent adopted the pins; then "end" unmarks it.
 */
Test(sctagd, restart_adopts_rules_and_keeps_labels, .timeout = 120)
{
	struct nt_daemon d1, d2;
	struct capture *c;
	const struct cap_pkt *p[MAXP];
	char out[256];
	uint32_t l1;
	size_t n;

	write_config("\"keep_on_exit\": true", NULL);
	daemon_start(&d1, NULL);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	pipe_line("start udp 2001:db8::1 4000 2001:db8::2 5000 cms 14\n");
	log_wait(&d1, "pipe: start", 1);
	udp_and_wait(c, A, 4000, B, 5000, 3, 3);
	cr_assert_eq(nt_daemon_stop(&d1, 5000), 0);
	cr_assert(nettest_has_egress_filter(nt.ns_a, nt.if_a),
	    "keep_on_exit: the filter is gone");
	cr_assert(nt_path_exists(nt.pin_dir), "keep_on_exit: pins gone");

	/* No agent at all now. */
	udp_and_wait(c, A, 4000, B, 5000, 3, 6);

	write_config("\"keep_on_exit\": false", NULL);
	daemon_start(&d2, NULL);
	log_wait(&d2, "ready", 1);
	udp_and_wait(c, A, 4000, B, 5000, 3, 9);
	pipe_line("end udp 2001:db8::1 4000 2001:db8::2 5000 cms 14\n");
	log_wait(&d2, "pipe: end", 1);
	udp_and_wait(c, A, 4000, B, 5000, 3, 12);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 12);
	l1 = nettest_check_marked(p, 3, 3, 14, 0, "first agent");
	cr_assert_eq(nettest_check_marked(p + 3, 3, 3, 14, 0, "no agent"), l1,
	    "label changed while no agent ran");
	cr_assert_eq(nettest_check_marked(p + 6, 3, 3, 14, 0, "second agent"),
	    l1, "the second agent changed the label");
	nettest_check_unmarked(p + 9, 3, 0, "after end");
	cap_free(c);

	/* The second agent took its filter and pins away, but not the
	 * clsact qdisc: the first agent made it, and it never deletes what
	 * it did not create. The test removes it. */
	cr_assert_eq(nt_daemon_stop(&d2, 5000), 0);
	cr_assert(!nettest_has_egress_filter(nt.ns_a, nt.if_a));
	cr_assert(!nt_path_exists(nt.pin_dir));
	if (nettest_has_clsact(nt.ns_a, nt.if_a))
		cr_assert_eq(nt_runf(out, sizeof(out), "tc -n %s qdisc del dev "
		    "%s clsact", nt.ns_a, nt.if_a), 0, "%s", out);
	cr_assert(!nettest_has_clsact(nt.ns_a, nt.if_a));
	nt_rm_pin_dir(nt.pin_dir);
	cr_assert(!nt_path_exists(nt.pin_dir));
}

/*
 * --strategy destination: a full-MTU datagram arrives unmarked and the
 * pinned unmarked_mtu counter and the SIGUSR1 report both count it.
 */
Test(sctagd, full_mtu_datagram_counted_unmarked)
{
	static const char *const more[] = { "--strategy", "destination",
	    NULL };
	struct tr_flow full = { A, 4000, B, 5000, -1 };
	struct nt_daemon d;
	struct capture *c;
	struct tr_udp_rx rx;
	struct cap_tuple t;
	const struct cap_pkt *p[MAXP];
	uint64_t cnt[MK_C_MAX];
	char err[256] = "";
	size_t n;

	write_config(NULL, NULL);
	daemon_start(&d, more);
	c = nettest_capture(nt.ns_b, nt.if_b, 2000);
	pipe_line("start udp 2001:db8::1 4000 2001:db8::2 5000 2 4\n");
	log_wait(&d, "pipe: start", 1);
	cr_assert_eq(tr_udp_rx_start(&rx, nt.ns_b, B, 5000, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_udp_send(nt.ns_a, &full, 1452, 1, 1, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(tr_udp_send(nt.ns_a, &full, 100, 1, 1, err,
	    sizeof(err)), 0, "%s", err);
	cap_tuple_make(&t, UDP, A, 4000, B, 5000);
	nettest_expect(c, &t, 2);
	cr_assert_eq(tr_udp_rx_wait(&rx, 2, 3000), 0, "received %llu of 2",
	    (unsigned long long)rx.datagrams);
	tr_udp_rx_stop(&rx);
	cap_stop(c);
	n = nettest_flow(c, UDP, A, 4000, B, 5000, p, MAXP);
	cr_assert_eq(n, 2);
	cr_assert_eq(40 + p[0]->plen, 1500);
	cr_assert_eq(p[0]->nexthdrs, 0);
	cr_assert_eq(p[1]->scitag, 1);
	cr_assert_eq(p[1]->scitag_hdr, 60);
	cr_assert(p[1]->scitag_exp == 2 && p[1]->scitag_act == 4);
	pinned_counters(cnt);
	cr_assert_eq(cnt[MK_C_FAIL_MTU], 1, "pinned unmarked_mtu %llu",
	    (unsigned long long)cnt[MK_C_FAIL_MTU]);
	cr_assert_eq(cnt[MK_C_MARK_DST], 1);
	kill(d.pid, SIGUSR1);
	log_wait(&d, "counter unmarked_mtu 1\n", 1);
	log_wait(&d, "counter marked_destination 1\n", 1);
	cap_free(c);
	daemon_stop_clean(&d);
}

/* --- privilege separation ------------------------------------------------ */

static pid_t
net_child(pid_t parent)
{
	char path[64], buf[64];
	FILE *f;
	long pid = -1;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)parent,
	    (int)parent);
	cr_assert_not_null(f = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	if (fgets(buf, sizeof(buf), f))
		pid = strtol(buf, NULL, 10);
	fclose(f);
	cr_assert_gt(pid, 0, "sctagd %d has no network process", (int)parent);
	return (pid_t)pid;
}

static int
bpf_fds(pid_t pid)
{
	char dir[64], path[320], target[128];
	struct dirent *e;
	ssize_t n;
	DIR *d;
	int count = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	cr_assert_not_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strstr(target, "bpf"))
			count++;
	}
	closedir(d);
	return count;
}

static uid_t
status_uid(pid_t pid)
{
	char path[64], line[256];
	unsigned int ruid = ~0U, euid = ~0U;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert_not_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u %u", &ruid, &euid) == 2)
			break;
	fclose(f);
	cr_assert_eq(ruid, euid);
	return (uid_t)euid;
}

/*
 * The network process runs as the configured user with no capabilities
 * and holds no BPF object; the privileged one keeps CAP_BPF and
 * CAP_NET_ADMIN only. Read from /proc.
 */
Test(sctagd, privilege_separation)
{
	const uint64_t marker_caps = (1ULL << 39) | (1ULL << 12);
	struct passwd *pw = getpwnam("nobody");
	struct nt_daemon d;
	struct stat st;
	uint64_t eff, prm;
	pid_t child;

	cr_assert_not_null(pw, "no 'nobody' account on this machine");
	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	child = net_child(d.pid);

	cr_assert_eq(status_uid(child), pw->pw_uid);
	cr_assert_eq(caps_read(child, &eff, &prm), 0);
	cr_assert_eq(eff, 0, "network process CapEff %llx",
	    (unsigned long long)eff);
	cr_assert_eq(prm, 0, "network process CapPrm %llx",
	    (unsigned long long)prm);
	cr_assert_eq(bpf_fds(child), 0, "network process holds BPF fds");

	cr_assert_eq(status_uid(d.pid), 0);
	cr_assert_eq(caps_read(d.pid, &eff, &prm), 0);
	cr_assert_eq(eff, marker_caps, "privileged process CapEff %llx",
	    (unsigned long long)eff);
	cr_assert_eq(prm, marker_caps, "privileged process CapPrm %llx",
	    (unsigned long long)prm);
	cr_assert_gt(bpf_fds(d.pid), 0);

	/* The FIFO belongs to the network process's user. */
	cr_assert_eq(stat(fifo_path, &st), 0);
	cr_assert_eq(st.st_uid, pw->pw_uid);
	daemon_stop_clean(&d);
}

/* If the network process dies, the agent stops and cleans up. */
Test(sctagd, network_process_death_stops_the_agent)
{
	struct nt_daemon d;
	char log[LOGMAX];
	pid_t child;

	write_config(NULL, NULL);
	daemon_start(&d, NULL);
	child = net_child(d.pid);
	cr_assert_eq(kill(child, SIGKILL), 0);
	cr_assert_eq(nt_daemon_wait_exit(&d, 10000), 0, "sctagd still runs "
	    "without its network process");
	nt_daemon_log(&d, log, sizeof(log));
	cr_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1,
	    "exit status %d; log:\n%s", d.status, log);
	cr_assert_not_null(strstr(log, "killed by signal 9"), "%s", log);
	cr_assert(!nettest_has_egress_filter(nt.ns_a, nt.if_a));
	cr_assert(!nettest_has_clsact(nt.ns_a, nt.if_a));
	cr_assert(!nt_path_exists(nt.pin_dir), "left %s", nt.pin_dir);
	cr_assert(!nt_path_exists(fifo_path), "left %s", fifo_path);
}

/* A missing account is named, and nothing is set up. */
Test(sctagd, missing_user_is_refused_by_name)
{
	const char *args[] = { "-f", "-c", cfg_path, "-i", nt.if_a, NULL };
	struct nt_daemon d;
	char err[256] = "", log[8192];
	FILE *f;

	snprintf(cfg_path, sizeof(cfg_path), "%s/sctagd.json", nt.tmpdir);
	snprintf(fifo_path, sizeof(fifo_path), "%s/flowd", nt.tmpdir);
	cr_assert_not_null(f = fopen(cfg_path, "w"));
	fprintf(f, "{\"user\": \"sct-no-such-user\", \"api\": {\"ipc\": "
	    "null}, \"marker\": {\"pin_dir\": \"%s\"}, \"pipe\": "
	    "{\"path\": \"%s\"}}\n", nt.pin_dir, fifo_path);
	fclose(f);
	memset(&d, 0, sizeof(d));
	snprintf(d.log, sizeof(d.log), "%s/sctagd.log", nt.tmpdir);
	cr_assert_eq(nt_daemon_spawn(&d, nt.ns_a, args, NULL, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(nt_daemon_wait_exit(&d, 10000), 0);
	nt_daemon_log(&d, log, sizeof(log));
	cr_assert(WIFEXITED(d.status) && WEXITSTATUS(d.status) == 1,
	    "exit status %d; log:\n%s", d.status, log);
	cr_assert_not_null(strstr(log, "no user named 'sct-no-such-user'"),
	    "%s", log);
	cr_assert(!nt_path_exists(nt.pin_dir));
	cr_assert(!nt_path_exists(fifo_path));
	cr_assert(!nettest_has_clsact(nt.ns_a, nt.if_a));
}
