/*
 * caps.c: capability sets through the raw syscalls (no libcap dependency).
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int
capset_mask(uint64_t keep)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = (uint32_t)keep;
	d[1].effective = d[1].permitted = (uint32_t)(keep >> 32);
	if (syscall(SYS_capset, &h, d) != 0)
		return -errno;
	return 0;
}

/* Drop every capability but `keep` from the bounding set. */
static int
bound_to(uint64_t keep)
{
	int cap;

	for (cap = 0; cap <= 63; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 &&
		    errno != EINVAL)	/* past the kernel's last cap */
			return -errno;
	}
	return 0;
}

int
caps_keep_marker_only(char *err, size_t errlen)
{
	uint64_t keep = (1ULL << CAP_BPF) | (1ULL << CAP_NET_ADMIN);
	int rc;

	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((rc = bound_to(keep)) != 0 || (rc = capset_mask(keep)) != 0) {
		snprintf(err, errlen, "dropping capabilities: %s",
		    strerror(-rc));
		return rc;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		rc = -errno;
		snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
		return rc;
	}
	return 0;
}

int
caps_become_user(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uint64_t eff, prm;
	int rc;

	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if ((rc = bound_to(0)) != 0) {
		snprintf(err, errlen, "emptying the bounding set: %s",
		    strerror(-rc));
		return rc;
	}
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
	    setresuid(uid, uid, uid) != 0) {
		rc = -errno;
		snprintf(err, errlen, "becoming uid %u gid %u: %s",
		    (unsigned)uid, (unsigned)gid, strerror(errno));
		return rc;
	}
	/* A uid change clears the sets; say so only if it really did. */
	if ((rc = capset_mask(0)) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		snprintf(err, errlen, "clearing capabilities: %s",
		    strerror(rc ? -rc : errno));
		return rc ? rc : -errno;
	}
	if (caps_read(0, &eff, &prm) != 0 || eff != 0 || prm != 0) {
		snprintf(err, errlen, "capabilities left after the drop "
		    "(effective %" PRIx64 ", permitted %" PRIx64 ")", eff, prm);
		return -EPERM;
	}
	return 0;
}

int
caps_read(pid_t pid, uint64_t *eff, uint64_t *prm)
{
	char path[64], line[256];
	FILE *f;
	int found = 0;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/status");
	else
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -errno;
	*eff = *prm = UINT64_MAX;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "CapEff: %" SCNx64, eff) == 1)
			found++;
		else if (sscanf(line, "CapPrm: %" SCNx64, prm) == 1)
			found++;
	}
	fclose(f);
	return found == 2 ? 0 : -ENODATA;
}
