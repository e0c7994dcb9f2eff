/* SPDX-License-Identifier: MIT */
/* Dropping root: run as an unprivileged user with CAP_NET_ADMIN and
 * CAP_NET_RAW only, once the TUN device and sockets are open. */
#ifndef BRAID_PRIVS_H
#define BRAID_PRIVS_H

#include <stddef.h>
#include <sys/types.h>

/* Looks user up in the user database: a name, or "#uid" for a numeric
 * uid (which must exist too). Fills uid and the user's primary gid.
 * Returns 0, -ENOENT if there is no such user, -EINVAL for an empty or
 * malformed name, or another -errno; err then names the user. */
int privs_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
		 size_t errlen);

/* As root: sets the groups to just gid, then gid and uid (real, effective
 * and saved), keeping CAP_NET_ADMIN and CAP_NET_RAW alone in the permitted
 * and effective sets (none inheritable, none ambient, bounding set cut to
 * the two where CAP_SETPCAP allows), then sets no_new_privs and clears
 * dumpable (session keys are in memory: no ptrace, no core dump by the
 * user). Verifies the result, including that setuid(0) fails.
 * Not root: returns 0 if already running as uid (after trimming the
 * capabilities to those two and setting the same flags), else -EPERM.
 * uid 0 is refused with -EINVAL. On failure err says why; the process may
 * be half-dropped and must exit. Single-threaded processes only. */
int privs_drop(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
