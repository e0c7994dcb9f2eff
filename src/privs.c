/* SPDX-License-Identifier: MIT */
/* Dropping root to a user with CAP_NET_ADMIN and CAP_NET_RAW, via libcap. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

#define PW_BUF_MAX (1 << 20)

/* Netlink (restoring a pre-existing TUN, SO_RCVBUFFORCE) and
 * SO_BINDTODEVICE when a link's socket is re-opened. */
static const cap_value_t keep[] = { CAP_NET_ADMIN, CAP_NET_RAW };

/* What privs_drop needs while still root: the two it keeps, and the two
 * it spends on changing ids. */
static const cap_value_t needed[] = { CAP_NET_ADMIN, CAP_NET_RAW,
				      CAP_SETUID, CAP_SETGID };

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* "#1234" -> 1234; digits only, and not (uid_t)-1. */
static int parse_uid(const char *s, uid_t *uid)
{
	unsigned long long n;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n >= (uid_t)-1)
		return -EINVAL;
	*uid = (uid_t)n;
	return 0;
}

int privs_lookup(const char *user, uid_t *uid, gid_t *gid, char *err,
		 size_t errlen)
{
	struct passwd pw, *found = NULL;
	bool numeric = user && user[0] == '#';
	uid_t want = 0;
	size_t len = 1024;
	char *buf;
	int rc;

	if (!user || !user[0])
		return fail(err, errlen, -EINVAL, "empty user name");
	if (numeric && parse_uid(user + 1, &want) < 0)
		return fail(err, errlen, -EINVAL,
			    "user \"%s\": expected a name or \"#\" and a "
			    "numeric uid", user);
	for (;;) {
		buf = malloc(len);
		if (!buf)
			return fail(err, errlen, -ENOMEM,
				    "cannot look up user \"%s\": %s", user,
				    strerror(ENOMEM));
		rc = numeric ? getpwuid_r(want, &pw, buf, len, &found) :
			       getpwnam_r(user, &pw, buf, len, &found);
		if (rc != ERANGE || len >= PW_BUF_MAX)
			break;
		free(buf);
		len *= 4;
	}
	if (rc == 0 && found) {
		*uid = pw.pw_uid;
		*gid = pw.pw_gid;
	} else if (rc == 0 || rc == ENOENT || rc == ESRCH) {
		rc = fail(err, errlen, -ENOENT,
			  "user \"%s\" does not exist", user);
	} else {
		rc = fail(err, errlen, -rc, "cannot look up user \"%s\": %s",
			  user, strerror(rc));
	}
	free(buf);
	return rc;
}

static bool cap_has(cap_t c, cap_value_t v, cap_flag_t flag)
{
	cap_flag_value_t on = CAP_CLEAR;

	return cap_get_flag(c, v, flag, &on) == 0 && on == CAP_SET;
}

/* The set braid runs with: keep[] in permitted and effective, and only
 * those of them that have, when have is not NULL. */
static cap_t wanted_caps(cap_t have)
{
	cap_t c = cap_init();

	if (!c)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++) {
		if (have && !cap_has(have, keep[i], CAP_PERMITTED))
			continue;
		if (cap_set_flag(c, CAP_PERMITTED, 1, &keep[i], CAP_SET) < 0 ||
		    cap_set_flag(c, CAP_EFFECTIVE, 1, &keep[i], CAP_SET) < 0) {
			cap_free(c);
			return NULL;
		}
	}
	return c;
}

static bool kept(cap_value_t v)
{
	for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
		if (keep[i] == v)
			return true;
	return false;
}

/* Cuts the bounding set to keep[], if CAP_SETPCAP is effective: belt and
 * braces, as no_new_privs already stops exec from gaining anything. */
static int drop_bound(cap_t have, char *err, size_t errlen)
{
	if (!cap_has(have, CAP_SETPCAP, CAP_EFFECTIVE))
		return 0;
	for (cap_value_t v = 0; v < (cap_value_t)cap_max_bits(); v++) {
		char *name;
		int rc;

		if (kept(v) || cap_get_bound(v) != 1 || cap_drop_bound(v) == 0)
			continue;
		rc = -errno;
		name = cap_to_name(v);
		fail(err, errlen, rc, "cannot drop %s from the bounding set: %s",
		     name ? name : "a capability", strerror(-rc));
		cap_free(name);
		return rc;
	}
	return 0;
}

/* Root may lack capabilities in a container or a restricted unit. */
static int check_root_caps(cap_t have, char *err, size_t errlen)
{
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		char *name;

		if (cap_has(have, needed[i], CAP_PERMITTED))
			continue;
		name = cap_to_name(needed[i]);
		fail(err, errlen, -EPERM, "running as root without %s (a "
		     "container or a capability bounding set took it away)",
		     name ? name : "a needed capability");
		cap_free(name);
		return -EPERM;
	}
	return 0;
}

static int set_caps(cap_t want, char *err, size_t errlen)
{
	int rc;

	if (cap_set_proc(want) < 0)
		return fail(err, errlen, -errno,
			    "cannot set capabilities: %s", strerror(errno));
	if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() < 0)
		return fail(err, errlen, -errno,
			    "cannot clear ambient capabilities: %s",
			    strerror(errno));
	rc = prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	if (rc == 0)
		rc = prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (rc < 0)
		return fail(err, errlen, -errno, "prctl: %s", strerror(errno));
	return 0;
}

static int check_ids(uid_t uid, gid_t gid, bool groups, char *err,
		     size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, g[2];
	int n;

	if (getresuid(&ru, &eu, &su) < 0 || ru != uid || eu != uid ||
	    su != uid)
		return fail(err, errlen, -EPERM,
			    "uids are %u/%u/%u, expected %u", (unsigned)ru,
			    (unsigned)eu, (unsigned)su, (unsigned)uid);
	if (!groups)
		return 0;
	if (getresgid(&rg, &eg, &sg) < 0 || rg != gid || eg != gid ||
	    sg != gid)
		return fail(err, errlen, -EPERM,
			    "gids are %u/%u/%u, expected %u", (unsigned)rg,
			    (unsigned)eg, (unsigned)sg, (unsigned)gid);
	n = getgroups((int)ARRAY_SIZE(g), g);
	if (n != 1 || g[0] != gid)
		return fail(err, errlen, -EPERM,
			    "supplementary groups are not just %u",
			    (unsigned)gid);
	return 0;
}

static int check_caps(cap_t want, char *err, size_t errlen)
{
	cap_t now = cap_get_proc();
	char *have_s, *want_s;
	int rc = 0;

	if (!now)
		return fail(err, errlen, -errno, "cap_get_proc: %s",
			    strerror(errno));
	if (cap_compare(now, want) != 0) {
		have_s = cap_to_text(now, NULL);
		want_s = cap_to_text(want, NULL);
		rc = fail(err, errlen, -EPERM,
			  "capabilities are \"%s\", expected \"%s\"",
			  have_s ? have_s : "?", want_s ? want_s : "?");
		cap_free(want_s);
		cap_free(have_s);
	}
	cap_free(now);
	return rc;
}

/* Checks what privs_drop promises, from the kernel's point of view. */
static int verify(uid_t uid, gid_t gid, bool groups, cap_t want, char *err,
		  size_t errlen)
{
	int rc;

	rc = check_ids(uid, gid, groups, err, errlen);
	if (rc == 0)
		rc = check_caps(want, err, errlen);
	if (rc < 0)
		return rc;
	if (setuid(0) == 0)
		return fail(err, errlen, -EPERM, "setuid(0) still succeeds");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ||
	    prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return fail(err, errlen, -EPERM,
			    "no_new_privs or dumpable did not stick");
	return 0;
}

/* As root: the bounding set, groups, gid, uid, then the final set.
 * cap_setgroups/cap_setuid raise CAP_SETGID/CAP_SETUID around the call,
 * keep the permitted set across it and leave the effective set empty. */
static int drop_root(uid_t uid, gid_t gid, cap_t have, cap_t want, char *err,
		     size_t errlen)
{
	int rc;

	rc = check_root_caps(have, err, errlen);
	if (rc == 0)
		rc = drop_bound(have, err, errlen);
	if (rc < 0)
		return rc;
	if (cap_setgroups(gid, 1, &gid) < 0)
		return fail(err, errlen, -errno, "cannot set gid %u: %s",
			    (unsigned)gid, strerror(errno));
	if (cap_setuid(uid) < 0)
		return fail(err, errlen, -errno, "cannot set uid %u: %s",
			    (unsigned)uid, strerror(errno));
	return set_caps(want, err, errlen);
}

int privs_drop(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	bool root = geteuid() == 0;
	cap_t have, want;
	uid_t ru, eu, su;
	int rc;

	if (uid == 0 || uid == (uid_t)-1 || gid == (gid_t)-1)
		return fail(err, errlen, -EINVAL,
			    "refusing to run as uid %u: name an unprivileged "
			    "user", (unsigned)uid);
	if (!root && (getresuid(&ru, &eu, &su) < 0 || ru != uid ||
		      eu != uid || su != uid))
		return fail(err, errlen, -EPERM,
			    "cannot switch to uid %u: not running as root "
			    "(uid %u)", (unsigned)uid, (unsigned)geteuid());
	have = cap_get_proc();
	if (!have)
		return fail(err, errlen, -errno, "cap_get_proc: %s",
			    strerror(errno));
	/* Already the user: keep what it has of the two, nothing else. */
	want = wanted_caps(root ? NULL : have);
	if (!want) {
		rc = fail(err, errlen, -errno, "cap_init: %s",
			  strerror(errno));
		goto out_free_have;
	}
	if (root)
		rc = drop_root(uid, gid, have, want, err, errlen);
	else
		rc = set_caps(want, err, errlen);
	if (rc == 0)
		rc = verify(uid, gid, root, want, err, errlen);
	cap_free(want);
out_free_have:
	cap_free(have);
	return rc;
}
