/*
 * caps.h: the two halves of privilege separation.
 *
 * The privileged process keeps CAP_BPF and CAP_NET_ADMIN and nothing else;
 * the network process becomes an unprivileged user with no capabilities at
 * all, and no way to regain any (no_new_privs, empty bounding set).
 */
#ifndef SCTAG_CAPS_H
#define SCTAG_CAPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Keep only CAP_BPF and CAP_NET_ADMIN (effective, permitted, bounding). */
int caps_keep_marker_only(char *err, size_t errlen);

/* Become uid/gid with no supplementary groups and no capabilities. */
int caps_become_user(uid_t uid, gid_t gid, char *err, size_t errlen);

/* Effective and permitted sets of a process, from /proc/PID/status. */
int caps_read(pid_t pid, uint64_t *eff, uint64_t *prm);

#endif /* SCTAG_CAPS_H */
