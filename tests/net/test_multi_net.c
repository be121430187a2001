/*
 * test_multi_net.c: one orchestrator, three agents, one sctagctl command.
 *
 * Namespace B of the harness's pair is the orchestrator; A is agent-1, and
 * two more namespaces, each joined to B by its own veth pair, are agent-2
 * and agent-3. Every agent runs sctagd with mutual TLS and the same
 * authorized_keys; sctagctl runs inside B with a hosts file, a client
 * certificate and a signing key. The flow it starts must mark each agent's
 * packets to B; with one agent stopped, the per-host report must say which.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <sodium.h>

#include "keys.h"
#include "nettest.h"

#define NAGENTS	3

TestSuite(multi, .init = nettest_setup, .fini = nettest_teardown,
    .timeout = 180);

struct agent {
	char			ns[96];
	char			if_agent[16];	/* the agent's end of its link */
	char			if_orch[16];	/* B's end */
	char			addr[48];	/* the agent's address */
	char			orch_addr[48];	/* B's address on that link */
	char			pin_dir[256];
	struct nt_daemon	d;
};

static struct agent ag[NAGENTS];
static char dir[256], hosts[320], ca[320], cert[320], key[320];

/* Agent 1 is the pair's A; agents 2 and 3 get a namespace and link each. */
static void
links_up(void)
{
	int i;

	snprintf(ag[0].ns, sizeof(ag[0].ns), "%s", nt.ns_a);
	snprintf(ag[0].if_agent, sizeof(ag[0].if_agent), "%s", nt.if_a);
	snprintf(ag[0].if_orch, sizeof(ag[0].if_orch), "%s", nt.if_b);
	snprintf(ag[0].addr, sizeof(ag[0].addr), "%s", NT_ADDR_A);
	snprintf(ag[0].orch_addr, sizeof(ag[0].orch_addr), "%s", NT_ADDR_B);
	for (i = 1; i < NAGENTS; i++) {
		struct agent *a = &ag[i];

		snprintf(a->ns, sizeof(a->ns), "%s-%d", nt.ns_a, i + 1);
		snprintf(a->if_agent, sizeof(a->if_agent), "sctm%da%d",
		    (int)getpid() % 10000, i);
		snprintf(a->if_orch, sizeof(a->if_orch), "sctm%db%d",
		    (int)getpid() % 10000, i);
		snprintf(a->addr, sizeof(a->addr), "2001:db8:%d::1", i + 1);
		snprintf(a->orch_addr, sizeof(a->orch_addr), "2001:db8:%d::2",
		    i + 1);
		nettest_sh("ip netns add %s", a->ns);
		nt_track_ns(a->ns);
		nettest_sh("ip link add %s netns %s type veth peer name %s "
		    "netns %s", a->if_agent, a->ns, a->if_orch, nt.ns_b);
		nettest_sh("ip -n %s link set lo up", a->ns);
		nettest_sh("ip -n %s addr add %s/64 dev %s nodad", a->ns,
		    a->addr, a->if_agent);
		nettest_sh("ip -n %s addr add %s/64 dev %s nodad", nt.ns_b,
		    a->orch_addr, a->if_orch);
		nettest_sh("ip -n %s link set %s up", a->ns, a->if_agent);
		nettest_sh("ip -n %s link set %s up", nt.ns_b, a->if_orch);
		nettest_sh("ip netns exec %s sysctl -q -w "
		    "net.ipv6.auto_flowlabels=0", a->ns);
	}
}

/* Certificates, the orchestrator's key, and the agents, running. */
static void
agents_up(void)
{
	const char *src = getenv("SCTAG_SOURCE_DIR");
	char pub[KEYS_B64_SIZE], err[256], path[600], cfg[700], fifo[400],
	    log[8192];
	struct keys_secret *ks;
	uint8_t pk[32];
	FILE *f;
	int i, rc;

	cr_assert_not_null(src, "SCTAG_SOURCE_DIR is not set (ctest sets it)");
	cr_assert_geq(sodium_init(), 0);
	snprintf(dir, sizeof(dir), "%s", nt.tmpdir);
	cr_assert_eq(chmod(dir, 0711), 0);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s ca >/dev/null", src, dir);
	for (i = 0; i < NAGENTS; i++)
		nettest_shell("sh %s/certs/mkcerts.sh -d %s agent agent-%d %s >/dev/null",
		    src, dir, i + 1, ag[i].addr);
	nettest_shell("sh %s/certs/mkcerts.sh -d %s client fts >/dev/null", src, dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(cert, sizeof(cert), "%s/client-fts.pem", dir);
	snprintf(key, sizeof(key), "%s/fts.key", dir);
	snprintf(path, sizeof(path), "%s/fts.key.pub", dir);
	cr_assert_eq(keys_generate(key, path, pk, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(keys_load_secret(key, &ks, err, sizeof(err)), 0);
	keys_free_secret(ks);
	keys_format_public(pk, pub);
	snprintf(path, sizeof(path), "%s/authorized_keys", dir);
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f, "orchestrator %s fts-1\n", pub);
	fclose(f);
	cr_assert_eq(chmod(path, 0644), 0);

	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	cr_assert_not_null(f = fopen(hosts, "w"));
	fprintf(f, "# the orchestrator's agents\n");
	for (i = 0; i < NAGENTS; i++)
		fprintf(f, "agent-%d=tls+tcp://[%s]:7443\n", i + 1,
		    ag[i].addr);
	fclose(f);

	for (i = 0; i < NAGENTS; i++) {
		struct agent *a = &ag[i];
		const char *args[] = { "-f", "-c", cfg, "-i", a->if_agent,
		    NULL };

		snprintf(a->pin_dir, sizeof(a->pin_dir), "%s-%d/v1",
		    nt.pin_dir, i + 1);
		nt_track_pin_dir(a->pin_dir);
		snprintf(cfg, sizeof(cfg), "%s/agent-%d.json", dir, i + 1);
		snprintf(fifo, sizeof(fifo), "%s/flowd-%d", dir, i + 1);
		cr_assert_not_null(f = fopen(cfg, "w"));
		fprintf(f, "{\"user\": \"nobody\", \"host\": \"agent-%d\", "
		    "\"api\": {\"ipc\": \"%s/api-%d/sctagd.sock\", "
		    "\"admin_group\": null, \"authorized_keys\": \"%s\", "
		    "\"tls\": {\"listen\": \"tls+tcp://[%s]:7443\", \"cert\": "
		    "\"%s/agent-agent-%d.crt\", \"key\": "
		    "\"%s/agent-agent-%d.key\", \"ca\": \"%s\"}}, \"marker\": "
		    "{\"pin_dir\": \"%s\"}, \"pipe\": {\"path\": \"%s\"}}\n",
		    i + 1, dir, i + 1, path, a->addr, dir, i + 1, dir, i + 1,
		    ca, a->pin_dir, fifo);
		fclose(f);
		memset(&a->d, 0, sizeof(a->d));
		snprintf(a->d.log, sizeof(a->d.log), "%s/sctagd-%d.log",
		    nt.tmpdir, i + 1);
		cr_assert_eq(nt_daemon_spawn(&a->d, a->ns, args, fifo, err,
		    sizeof(err)), 0, "%s", err);
		rc = nt_daemon_wait_ready(&a->d, 15000);
		if (rc == 0)
			rc = nt_daemon_log_wait(&a->d, "api: ipc://", 5000);
		if (rc != 0)
			nt_daemon_log(&a->d, log, sizeof(log));
		cr_assert_eq(rc, 0, "agent-%d not ready; its log:\n%s", i + 1,
		    log);
	}
}

/* Run sctagctl inside B; its exit status, stdout in out. */
static int
sctagctl(char *out, size_t outlen, const char *const *cmd)
{
	const char *argv[32];
	char nspath[300];
	int o[2], n = 0, status, fd;
	size_t got = 0;
	ssize_t k;
	pid_t pid;

	argv[n++] = SCTAGCTL_PATH;
	argv[n++] = "--hosts";
	argv[n++] = hosts;
	argv[n++] = "--cert";
	argv[n++] = cert;
	argv[n++] = "--ca";
	argv[n++] = ca;
	argv[n++] = "--sign-key";
	argv[n++] = key;
	argv[n++] = "--timeout";
	argv[n++] = "3000";
	argv[n++] = "--json";
	while (*cmd && n < 31)
		argv[n++] = *cmd++;
	argv[n] = NULL;
	snprintf(nspath, sizeof(nspath), "/var/run/netns/%s", nt.ns_b);
	cr_assert_eq(pipe2(o, O_CLOEXEC), 0);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0) {
		if ((fd = open(nspath, O_RDONLY)) < 0 ||
		    setns(fd, CLONE_NEWNET) != 0 || dup2(o[1], 1) < 0 ||
		    dup2(o[1], 2) < 0)
			_exit(126);
		execv(SCTAGCTL_PATH, (char *const *)argv);
		_exit(127);
	}
	nt_track_pid(pid);
	close(o[1]);
	while (got < outlen - 1 &&
	    (k = read(o[0], out + got, outlen - 1 - got)) > 0)
		got += (size_t)k;
	out[got] = '\0';
	close(o[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	nt_untrack_pid(pid);
	cr_assert(WIFEXITED(status), "sctagctl died: %d\n%s", status, out);
	return WEXITSTATUS(status);
}

/* The JSON line of one host, or NULL. */
static const char *
host_line(const char *out, int i, char *buf, size_t len)
{
	char needle[32];
	const char *p, *e;

	snprintf(needle, sizeof(needle), "\"host\":\"agent-%d\"", i + 1);
	if ((p = strstr(out, needle)) == NULL)
		return NULL;
	while (p > out && p[-1] != '\n')
		p--;
	e = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return buf;
}

Test(multi, one_command_marks_three_agents)
{
	const char *start[] = { "start", "--proto", "udp", "--dst",
	    "[2001:db8::/32]:5000", "--experiment", "atlas", "--activity",
	    "Data Consolidation", NULL };
	const char *status[] = { "status", NULL };
	static char out[65536];
	char line[4096];
	const struct cap_pkt *p[16];
	struct capture *cap;
	struct cap_tuple t;
	size_t n;
	int i, rc;

	links_up();
	agents_up();

	rc = sctagctl(out, sizeof(out), start);
	cr_assert_eq(rc, 0, "sctagctl start: exit %d\n%s", rc, out);
	for (i = 0; i < NAGENTS; i++) {
		cr_assert_not_null(host_line(out, i, line, sizeof(line)),
		    "no report for agent-%d:\n%s", i + 1, out);
		cr_assert_not_null(strstr(line, "\"status\":\"ok\""), "%s",
		    line);
		cr_assert_not_null(strstr(line, "\"created\":true"), "%s",
		    line);
	}

	/* Each agent's UDP to B carries atlas / Data Consolidation. */
	for (i = 0; i < NAGENTS; i++) {
		cap = nettest_capture(nt.ns_b, ag[i].if_orch, 64);
		cap_tuple_make(&t, IPPROTO_UDP, ag[i].addr, 4000,
		    ag[i].orch_addr, 5000);
		nettest_udp_in(ag[i].ns, ag[i].addr, 4000, ag[i].orch_addr,
		    5000, 4);
		nettest_expect(cap, &t, 4);
		n = nettest_flow(cap, IPPROTO_UDP, ag[i].addr, 4000,
		    ag[i].orch_addr, 5000, p, 16);
		cr_assert_eq(n, 4, "agent-%d: %zu packets", i + 1, n);
		nettest_check_marked(p, n, 2, 4, 0, "multi-agent flow");
		cap_free(cap);
	}

	/* The other commands, on all three at once. */
	{
		const char *list[] = { "list", NULL }, *ping[] = { "ping",
		    NULL }, *reg[] = { "registry", NULL };
		const char *batch[] = { "batch", NULL, NULL };
		const char *end[] = { "end", "--proto", "udp", "--dst",
		    "[2001:db8::/32]:5000", "--experiment", "atlas",
		    "--activity", "Data Consolidation", NULL };
		char bpath[400];
		FILE *bf;

		rc = sctagctl(out, sizeof(out), list);
		cr_assert_eq(rc, 0, "list: exit %d\n%s", rc, out);
		cr_assert_not_null(strstr(out, "\"total\":1"), "%s", out);
		cr_assert_eq(sctagctl(out, sizeof(out), ping), 0, "%s", out);
		rc = sctagctl(out, sizeof(out), reg);
		cr_assert_eq(rc, 0, "registry: exit %d\n%s", rc, out);
		cr_assert_not_null(strstr(out, "\"atlas\""), "%s", out);

		snprintf(bpath, sizeof(bpath), "%s/batch", dir);
		cr_assert_not_null(bf = fopen(bpath, "w"));
		fprintf(bf, "# both line formats\n"
		    "start --proto udp --dst [2001:db8::/32]:5001 "
		    "--experiment cms --activity 14\n"
		    "start udp 2001:db8::1 4100 2001:db8::2 5002 cms 14\n"
		    "end udp 2001:db8::1 4100 2001:db8::2 5002 cms 14\n");
		fclose(bf);
		batch[1] = bpath;
		rc = sctagctl(out, sizeof(out), batch);
		cr_assert_eq(rc, 0, "batch: exit %d\n%s", rc, out);

		rc = sctagctl(out, sizeof(out), end);
		cr_assert_eq(rc, 0, "end: exit %d\n%s", rc, out);
		cap = nettest_capture(nt.ns_b, ag[0].if_orch, 64);
		cap_tuple_make(&t, IPPROTO_UDP, ag[0].addr, 4000,
		    ag[0].orch_addr, 5000);
		nettest_udp_in(ag[0].ns, ag[0].addr, 4000, ag[0].orch_addr,
		    5000, 4);
		nettest_expect(cap, &t, 4);
		n = nettest_flow(cap, IPPROTO_UDP, ag[0].addr, 4000,
		    ag[0].orch_addr, 5000, p, 16);
		nettest_check_unmarked(p, n, 0, "ended by sctagctl end");
		cap_free(cap);
		rc = sctagctl(out, sizeof(out), list);
		cr_assert_eq(rc, 0, "list: exit %d\n%s", rc, out);
		for (i = 0; i < NAGENTS; i++) {
			cr_assert_not_null(host_line(out, i, line,
			    sizeof(line)));
			cr_assert_not_null(strstr(line, "\"total\":1"),
			    "one flow (the batch's first) left on agent-%d: "
			    "%s", i + 1, line);
		}
	}

	/* agent-3 down: the report names it, the others still answer. */
	cr_assert_eq(nt_daemon_stop(&ag[2].d, 5000), 0);
	rc = sctagctl(out, sizeof(out), status);
	cr_assert_eq(rc, 3, "exit %d with an agent down, want 3\n%s", rc,
	    out);
	for (i = 0; i < 2; i++) {
		cr_assert_not_null(host_line(out, i, line, sizeof(line)));
		cr_assert_not_null(strstr(line, "\"status\":\"ok\""), "%s",
		    line);
		cr_assert_not_null(strstr(line, "\"host\":\"agent-"), "%s",
		    line);
	}
	cr_assert_not_null(host_line(out, 2, line, sizeof(line)),
	    "no report for the agent that is down:\n%s", out);
	cr_assert(strstr(line, "\"status\":\"connect\"") ||
	    strstr(line, "\"status\":\"timeout\""), "%s", line);
	for (i = 0; i < 2; i++)
		cr_assert_eq(nt_daemon_stop(&ag[i].d, 5000), 0);
}
