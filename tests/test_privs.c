/* SPDX-License-Identifier: MIT */
/* Unit tests for privs: user lookup, and dropping root to nobody with
 * CAP_NET_ADMIN and CAP_NET_RAW, each drop in check's forked child so the
 * runner stays root. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privs.h"

/* The runner's pid: a test that would drop privileges in it would leave
 * every later test unprivileged, so it refuses. */
static pid_t runner_pid;
static uid_t nobody_uid;
static gid_t nobody_gid;

static void nobody_setup(void)
{
	struct passwd *pw = getpwnam("nobody");

	ck_assert_msg(pw, "no user nobody on this system");
	nobody_uid = pw->pw_uid;
	nobody_gid = pw->pw_gid;
}

/* Drops this (forked) test to nobody; it must succeed. */
static void drop_to_nobody(void)
{
	char err[256] = "";
	int rc;

	ck_assert_msg(getpid() != runner_pid,
		      "test not forked; refusing to drop the runner's root");
	ck_assert_msg(geteuid() == 0, "the privs tests need root");
	rc = privs_drop(nobody_uid, nobody_gid, err, sizeof(err));
	ck_assert_msg(rc == 0, "privs_drop: %d %s", rc, err);
}

static bool cap_is(cap_value_t v, cap_flag_t flag)
{
	cap_t c = cap_get_proc();
	cap_flag_value_t on = CAP_CLEAR;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cap_get_flag(c, v, flag, &on), 0);
	cap_free(c);
	return on == CAP_SET;
}

/* Lowers every capability: the control for tests that show a kept one
 * at work. */
static void drop_all_caps(void)
{
	cap_t none = cap_init();

	ck_assert_ptr_nonnull(none);
	ck_assert_int_eq(cap_set_proc(none), 0);
	cap_free(none);
}

/* --- lookup --- */

START_TEST(lookup_name)
{
	char err[256] = "";
	uid_t uid = 0;
	gid_t gid = 0;

	ck_assert_int_eq(privs_lookup("nobody", &uid, &gid, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(uid, nobody_uid);
	ck_assert_uint_eq(gid, nobody_gid);
}
END_TEST

START_TEST(lookup_numeric)
{
	char err[256] = "";
	uid_t uid = 0;
	gid_t gid = 0;

	ck_assert_int_eq(privs_lookup("#65534", &uid, &gid, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(uid, 65534);
	ck_assert_uint_eq(gid, nobody_gid);
}
END_TEST

START_TEST(lookup_root)
{
	char err[256] = "";
	uid_t uid = 1;
	gid_t gid = 1;

	ck_assert_int_eq(privs_lookup("root", &uid, &gid, err, sizeof(err)), 0);
	ck_assert_uint_eq(uid, 0);
	ck_assert_uint_eq(gid, 0);
}
END_TEST

static const char *const missing_users[] = {
	"braid-no-such-user", "#4123456789",
};

START_TEST(lookup_missing)
{
	const char *user = missing_users[_i];
	char err[256] = "";
	uid_t uid = 7;
	gid_t gid = 7;

	ck_assert_int_eq(privs_lookup(user, &uid, &gid, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, user), "message \"%s\" does not name %s",
		      err, user);
	ck_assert_uint_eq(uid, 7);
	ck_assert_uint_eq(gid, 7);
}
END_TEST

static const char *const bad_users[] = {
	"", "#", "#12x", "#-1", "# 1", "#4294967295", "#99999999999",
};

START_TEST(lookup_malformed)
{
	const char *user = bad_users[_i];
	char err[256] = "";
	uid_t uid;
	gid_t gid;

	ck_assert_int_eq(privs_lookup(user, &uid, &gid, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(err[0], "no message for \"%s\"", user);
	if (user[0])
		ck_assert_msg(strstr(err, user), "message \"%s\" does not "
			      "name \"%s\"", err, user);
}
END_TEST

/* --- identity: ids, groups, no way back --- */

START_TEST(drop_ids)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg, groups[4];

	drop_to_nobody();
	ck_assert_int_eq(getresuid(&ru, &eu, &su), 0);
	ck_assert_uint_eq(ru, nobody_uid);
	ck_assert_uint_eq(eu, nobody_uid);
	ck_assert_uint_eq(su, nobody_uid);
	ck_assert_int_eq(getresgid(&rg, &eg, &sg), 0);
	ck_assert_uint_eq(rg, nobody_gid);
	ck_assert_uint_eq(eg, nobody_gid);
	ck_assert_uint_eq(sg, nobody_gid);
	ck_assert_int_eq(getgroups(4, groups), 1);
	ck_assert_uint_eq(groups[0], nobody_gid);
}
END_TEST

START_TEST(drop_no_way_back)
{
	drop_to_nobody();
	errno = 0;
	ck_assert_int_eq(setuid(0), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(seteuid(0), -1);
	ck_assert_int_eq(setgid(0), -1);
	ck_assert_int_eq(setgroups(0, NULL), -1);
	ck_assert_int_eq(getuid(), nobody_uid);
}
END_TEST

START_TEST(drop_shadow_unreadable)
{
	int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "root cannot read /etc/shadow: %s",
		      strerror(errno));
	close(fd);
	drop_to_nobody();
	errno = 0;
	fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
	ck_assert_int_eq(fd, -1);
	ck_assert_int_eq(errno, EACCES);
}
END_TEST

START_TEST(drop_root_refused)
{
	char err[256] = "";

	/* Refused before anything changes: safe in the runner too. */
	ck_assert_int_eq(privs_drop(0, 0, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "uid 0"), "message: %s", err);
	ck_assert_int_eq(geteuid(), 0);
}
END_TEST

START_TEST(drop_again_same_user)
{
	char err[256] = "";

	drop_to_nobody();
	ck_assert_int_eq(privs_drop(nobody_uid, nobody_gid, err, sizeof(err)),
			 0);
	ck_assert(cap_is(CAP_NET_ADMIN, CAP_EFFECTIVE));
	ck_assert(cap_is(CAP_NET_RAW, CAP_EFFECTIVE));
}
END_TEST

START_TEST(drop_not_root)
{
	char err[256] = "";

	drop_to_nobody();
	ck_assert_int_eq(privs_drop(nobody_uid - 1, nobody_gid, err,
				    sizeof(err)), -EPERM);
	ck_assert_msg(strstr(err, "not running as root"), "message: %s", err);
}
END_TEST

/* --- capabilities and process flags --- */

START_TEST(drop_caps_kept)
{
	drop_to_nobody();
	ck_assert(cap_is(CAP_NET_ADMIN, CAP_EFFECTIVE));
	ck_assert(cap_is(CAP_NET_ADMIN, CAP_PERMITTED));
	ck_assert(cap_is(CAP_NET_RAW, CAP_EFFECTIVE));
	ck_assert(cap_is(CAP_NET_RAW, CAP_PERMITTED));
}
END_TEST

START_TEST(drop_caps_gone)
{
	static const cap_value_t gone[] = {
		CAP_SYS_ADMIN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
		CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_SYS_PTRACE,
		CAP_CHOWN, CAP_FOWNER, CAP_NET_BIND_SERVICE,
	};

	drop_to_nobody();
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		ck_assert_msg(!cap_is(gone[i], CAP_PERMITTED),
			      "capability %d still permitted", gone[i]);
		ck_assert(!cap_is(gone[i], CAP_EFFECTIVE));
	}
}
END_TEST

START_TEST(drop_exactly_two)
{
	cap_t want = cap_init(), now;
	const cap_value_t two[] = { CAP_NET_ADMIN, CAP_NET_RAW };

	drop_to_nobody();
	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(cap_set_flag(want, CAP_PERMITTED, 2, two, CAP_SET), 0);
	ck_assert_int_eq(cap_set_flag(want, CAP_EFFECTIVE, 2, two, CAP_SET), 0);
	now = cap_get_proc();
	ck_assert_ptr_nonnull(now);
	/* Nothing inheritable either. */
	ck_assert_int_eq(cap_compare(now, want), 0);
	for (cap_value_t v = 0; v < (cap_value_t)cap_max_bits(); v++) {
		ck_assert_msg(cap_get_ambient(v) <= 0, "ambient %d", v);
		if (v != CAP_NET_ADMIN && v != CAP_NET_RAW)
			ck_assert_msg(cap_get_bound(v) == 0, "bounding %d", v);
	}
	cap_free(now);
	cap_free(want);
}
END_TEST

START_TEST(drop_no_new_privs)
{
	drop_to_nobody();
	ck_assert_int_eq(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
}
END_TEST

START_TEST(drop_not_dumpable)
{
	drop_to_nobody();
	ck_assert_int_eq(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
}
END_TEST

/* A process of the same user and capabilities (a fork) tries to read this
 * one's environment, a ptrace access check: 0 if it could. With fewer
 * capabilities it never could; dumpable is what stops an equal. */
static int sibling_reads_environ(void)
{
	char path[64];
	pid_t me = getpid(), pid;
	int status;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)me);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		_exit(fd >= 0 ? 0 : errno == EACCES ? 1 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(drop_hidden_from_user)
{
	drop_to_nobody();
	ck_assert_int_eq(sibling_reads_environ(), 1);
	/* Control: the same process, made dumpable, is readable. */
	ck_assert_int_eq(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
	ck_assert_int_eq(sibling_reads_environ(), 0);
}
END_TEST

/* --- the kept capabilities at work --- */

/* Binds a UDP socket to lo, then re-binds it to no device: only the
 * second needs CAP_NET_RAW (since Linux 5.7). Returns 0 or -errno. */
static int bind_lo_then_unbind(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	ck_assert_int_ge(fd, 0);
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "", 1) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

static int raw_socket(void)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* SO_RCVBUFFORCE: linkmap's UDP buffers, CAP_NET_ADMIN. */
static int rcvbuf_force(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int sz = 1 << 20, rc = 0;

	ck_assert_int_ge(fd, 0);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

/* Sets lo up or down (CAP_NET_ADMIN); returns 0 or -errno. */
static int lo_set_up(bool up)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	int rc = 0;

	ck_assert_int_ge(fd, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		rc = -errno;
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	close(fd);
	if (rc == 0)
		ck_assert_int_eq(!!(ifr.ifr_flags & IFF_UP), up);
	return rc;
}

/* A fresh network namespace, made while still root, so link changes touch
 * nothing outside the test. */
static void enter_netns(void)
{
	ck_assert_msg(getpid() != runner_pid,
		      "test not forked; refusing to leave the root netns");
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s",
		      strerror(errno));
}

START_TEST(net_raw_works)
{
	drop_to_nobody();
	ck_assert_int_eq(bind_lo_then_unbind(), 0);
	ck_assert_int_eq(raw_socket(), 0);
}
END_TEST

START_TEST(net_raw_control)
{
	drop_to_nobody();
	drop_all_caps();
	ck_assert_int_eq(bind_lo_then_unbind(), -EPERM);
	ck_assert_int_eq(raw_socket(), -EPERM);
}
END_TEST

START_TEST(net_admin_works)
{
	enter_netns();
	drop_to_nobody();
	ck_assert_int_eq(lo_set_up(true), 0);
	ck_assert_int_eq(lo_set_up(false), 0);
	ck_assert_int_eq(rcvbuf_force(), 0);
}
END_TEST

START_TEST(net_admin_control)
{
	enter_netns();
	drop_to_nobody();
	drop_all_caps();
	ck_assert_int_eq(lo_set_up(true), -EPERM);
	ck_assert_int_eq(rcvbuf_force(), -EPERM);
}
END_TEST

static Suite *privs_suite(void)
{
	Suite *s = suite_create("privs");
	TCase *tc;

	tc = tcase_create("lookup");
	tcase_add_checked_fixture(tc, nobody_setup, NULL);
	tcase_add_test(tc, lookup_name);
	tcase_add_test(tc, lookup_numeric);
	tcase_add_test(tc, lookup_root);
	tcase_add_loop_test(tc, lookup_missing, 0,
			    sizeof(missing_users) / sizeof(missing_users[0]));
	tcase_add_loop_test(tc, lookup_malformed, 0,
			    sizeof(bad_users) / sizeof(bad_users[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("identity");
	tcase_add_checked_fixture(tc, nobody_setup, NULL);
	tcase_add_test(tc, drop_ids);
	tcase_add_test(tc, drop_no_way_back);
	tcase_add_test(tc, drop_shadow_unreadable);
	tcase_add_test(tc, drop_root_refused);
	tcase_add_test(tc, drop_again_same_user);
	tcase_add_test(tc, drop_not_root);
	suite_add_tcase(s, tc);

	tc = tcase_create("capabilities");
	tcase_add_checked_fixture(tc, nobody_setup, NULL);
	tcase_add_test(tc, drop_caps_kept);
	tcase_add_test(tc, drop_caps_gone);
	tcase_add_test(tc, drop_exactly_two);
	tcase_add_test(tc, drop_no_new_privs);
	tcase_add_test(tc, drop_not_dumpable);
	tcase_add_test(tc, drop_hidden_from_user);
	suite_add_tcase(s, tc);

	tc = tcase_create("kept_at_work");
	tcase_add_checked_fixture(tc, nobody_setup, NULL);
	tcase_add_test(tc, net_raw_works);
	tcase_add_test(tc, net_raw_control);
	tcase_add_test(tc, net_admin_works);
	tcase_add_test(tc, net_admin_control);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(privs_suite());
	int failed;

	runner_pid = getpid();
	/* Every drop must die with its own process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
