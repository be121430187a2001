/*
 * tcnl.c: count tc filters with an RTM_GETTFILTER dump.
 *
 * A dump answers one message per filter protocol instance (handle 0) and
 * one per filter (handle != 0); only the latter count.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>

#include "tcnl.h"

static int
dump_parent(int fd, int ifindex, unsigned int parent, unsigned int seq)
{
	struct {
		struct nlmsghdr	nh;
		struct tcmsg	tc;
	} req;
	char buf[16384];
	struct nlmsghdr *nh;
	struct tcmsg *tc;
	ssize_t n;
	int count = 0, rounds;

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETTFILTER;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = seq;
	req.tc.tcm_family = AF_UNSPEC;
	req.tc.tcm_ifindex = ifindex;
	req.tc.tcm_parent = parent;
	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	/* Bounded: a dump of thousands of filters still ends in 1024 reads. */
	for (rounds = 0; rounds < 1024; rounds++) {
		if ((n = recv(fd, buf, sizeof(buf), 0)) < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		    nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE)
				return count;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				return e->error ? e->error : count;
			}
			if (nh->nlmsg_type != RTM_NEWTFILTER)
				continue;
			tc = NLMSG_DATA(nh);
			if (tc->tcm_handle != 0)
				count++;
		}
	}
	return -EOVERFLOW;
}

int
tcnl_clsact_filters(int ifindex)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd, in, eg;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		in = -errno;
		close(fd);
		return in;
	}
	in = dump_parent(fd, ifindex,
	    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS), 1);
	eg = in < 0 ? in : dump_parent(fd, ifindex,
	    TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS), 2);
	close(fd);
	if (in < 0)
		return in;
	if (eg < 0)
		return eg;
	return in + eg;
}
