/* SPDX-License-Identifier: MIT */
/* Unit tests for tundev: address parsing, the TUN device's creation,
 * configuration, packets and teardown, and policy routing through it,
 * each inside its own network namespace. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <json-c/json.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tundev.h"

/* The runner's pid: a test that would unshare in it touches the root
 * namespace's process, so it refuses. */
static pid_t runner_pid;

/* Moves this (forked) test into a fresh network namespace. */
static void enter_netns(void)
{
	ck_assert_msg(getpid() != runner_pid,
		      "test not forked; refusing to leave the root netns");
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s",
		      strerror(errno));
}

static struct tun *new_tun(const char *name)
{
	struct tun *t = NULL;
	int err = tun_new(&t, name);

	ck_assert_msg(err == 0, "tun_new(%s): %s", name, strerror(-err));
	ck_assert_ptr_nonnull(t);
	return t;
}

static struct tun_addr parse(const char *s)
{
	struct tun_addr a;

	ck_assert_int_eq(tun_addr_parse(&a, s), 0);
	return a;
}

static int ifreq_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	ck_assert_int_ge(fd, 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	rc = ioctl(fd, req, ifr);
	close(fd);
	return rc;
}

/* Like ifreq_ioctl, but for setters: ifr is filled in by the caller. */
static int ifreq_set(const char *name, unsigned long req, struct ifreq *ifr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int rc;

	ck_assert_int_ge(fd, 0);
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	rc = ioctl(fd, req, ifr);
	close(fd);
	return rc;
}

static int if_mtu(const char *name)
{
	struct ifreq ifr;

	ck_assert_int_eq(ifreq_ioctl(name, SIOCGIFMTU, &ifr), 0);
	return ifr.ifr_mtu;
}

static unsigned if_flags(const char *name)
{
	struct ifreq ifr;

	ck_assert_int_eq(ifreq_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
	return (unsigned short)ifr.ifr_flags;
}

static unsigned mask_bits(const struct sockaddr *m)
{
	const uint8_t *b;
	size_t n;
	unsigned bits = 0;

	if (m->sa_family == AF_INET) {
		b = (const uint8_t *)&((const struct sockaddr_in *)m)->sin_addr;
		n = 4;
	} else {
		b = ((const struct sockaddr_in6 *)m)->sin6_addr.s6_addr;
		n = 16;
	}
	for (size_t i = 0; i < n; i++)
		bits += __builtin_popcount(b[i]);
	return bits;
}

/* The prefix length of address a on device name, or -1 if it is not
 * there. */
static int if_addr_prefix(const char *name, const struct tun_addr *a)
{
	struct ifaddrs *ifas, *i;
	int prefix = -1;

	ck_assert_int_eq(getifaddrs(&ifas), 0);
	for (i = ifas; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;
		bool same;

		if (!sa || strcmp(i->ifa_name, name) ||
		    sa->sa_family != a->family)
			continue;
		if (a->family == AF_INET)
			same = !memcmp(&((const struct sockaddr_in *)sa)->
				       sin_addr, &a->v4, sizeof(a->v4));
		else
			same = !memcmp(&((const struct sockaddr_in6 *)sa)->
				       sin6_addr, &a->v6, sizeof(a->v6));
		if (same) {
			ck_assert_ptr_nonnull(i->ifa_netmask);
			prefix = (int)mask_bits(i->ifa_netmask);
			break;
		}
	}
	freeifaddrs(ifas);
	return prefix;
}

/* Creates a persistent TUN device the way `ip tuntap add` does, and lets
 * go of it. */
static void make_persistent_tun(const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ck_assert_int_eq(ioctl(fd, TUNSETIFF, &ifr), 0);
	ck_assert_int_eq(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	ck_assert_uint_ne(if_nametoindex(name), 0);
}

/* --- tun_addr_parse --- */

START_TEST(parse_ipv4_prefix)
{
	struct tun_addr a;

	memset(&a, 0xaa, sizeof(a));
	ck_assert_int_eq(tun_addr_parse(&a, "10.77.0.1/24"), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(ntohl(a.v4.s_addr), 0x0a4d0001);
	ck_assert_uint_eq(a.prefix, 24);

	ck_assert_int_eq(tun_addr_parse(&a, "192.0.2.7/0"), 0);
	ck_assert_uint_eq(ntohl(a.v4.s_addr), 0xc0000207);
	ck_assert_uint_eq(a.prefix, 0);
	ck_assert_int_eq(tun_addr_parse(&a, "192.0.2.7/32"), 0);
	ck_assert_uint_eq(a.prefix, 32);
}
END_TEST

START_TEST(parse_ipv4_host)
{
	struct tun_addr a;

	ck_assert_int_eq(tun_addr_parse(&a, "172.16.5.9"), 0);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(ntohl(a.v4.s_addr), 0xac100509);
	ck_assert_uint_eq(a.prefix, 32);
}
END_TEST

START_TEST(parse_ipv6_prefix)
{
	static const uint8_t want[16] = { 0xfd, 0x77, [15] = 0x01 };
	struct tun_addr a;

	ck_assert_int_eq(tun_addr_parse(&a, "fd77::1/64"), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_mem_eq(a.v6.s6_addr, want, 16);
	ck_assert_uint_eq(a.prefix, 64);

	ck_assert_int_eq(tun_addr_parse(&a, "fd77::1/128"), 0);
	ck_assert_uint_eq(a.prefix, 128);
	ck_assert_int_eq(tun_addr_parse(&a, "::/0"), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_uint_eq(a.prefix, 0);
}
END_TEST

START_TEST(parse_ipv6_host)
{
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8,
					  [14] = 0xbe, [15] = 0xef };
	struct tun_addr a;

	ck_assert_int_eq(tun_addr_parse(&a, "2001:db8::beef"), 0);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_mem_eq(a.v6.s6_addr, want, 16);
	ck_assert_uint_eq(a.prefix, 128);
}
END_TEST

static const char *const bad_addrs[] = {
	"10.0.0.1/33",
	"fd00::1/129",
	"garbage",
	"",
	"1.2.3.4/",
	"1.2.3.4/24x",
	"1.2.3.4x",
	"1.2.3.4 ",
	"1.2.3.4/24/8",
	"1.2.3.4/-1",
	"1.2.3.4/99999999999999999999999",
	"/24",
	"1.2.3/24",
	"256.1.1.1/24",
	"fd00::1::2/64",
	"fd00::1/",
	"fd00::1/64junk",
	"fd00:0000:0000:0000:0000:0000:0000:0000:0001/64",
};

START_TEST(parse_bad)
{
	struct tun_addr a;
	const char *s = bad_addrs[_i];

	ck_assert_msg(tun_addr_parse(&a, s) == -EINVAL,
		      "'%s' was accepted", s);
}
END_TEST

/* --- creation and removal --- */

START_TEST(new_named)
{
	struct ifreq ifr = { 0 };
	struct tun *t;
	int fl;

	enter_netns();
	ck_assert_uint_eq(if_nametoindex("brtest0"), 0);
	t = new_tun("brtest0");
	ck_assert_str_eq(tun_name(t), "brtest0");
	ck_assert_uint_ne(tun_ifindex(t), 0);
	ck_assert_uint_eq(if_nametoindex("brtest0"), tun_ifindex(t));

	/* The fd is the device's queue and non-blocking. (No packet-info
	 * header is shown by the packets tests: TUNGETIFF cannot, as it
	 * reports IFF_NOFILTER in the same bit as IFF_NO_PI.) */
	ck_assert_int_ge(tun_fd(t), 0);
	fl = fcntl(tun_fd(t), F_GETFL);
	ck_assert_int_ne(fl & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(tun_fd(t), F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(ioctl(tun_fd(t), TUNGETIFF, &ifr), 0);
	ck_assert_str_eq(ifr.ifr_name, "brtest0");
	ck_assert_int_ne(ifr.ifr_flags & IFF_TUN, 0);
	ck_assert_int_eq(ifr.ifr_flags & IFF_TAP, 0);
	tun_free(t);
}
END_TEST

START_TEST(new_kernel_named)
{
	struct tun *t;

	enter_netns();
	t = new_tun("");
	ck_assert_int_gt(strlen(tun_name(t)), 0);
	ck_assert_uint_ne(tun_ifindex(t), 0);
	ck_assert_uint_eq(if_nametoindex(tun_name(t)), tun_ifindex(t));
	tun_free(t);
}
END_TEST

START_TEST(new_name_too_long)
{
	struct tun *t = NULL;

	enter_netns();
	ck_assert_int_eq(tun_new(&t, "abcdefghijklmnop"), -ENAMETOOLONG);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(if_nametoindex("abcdefghijklmno"), 0);
}
END_TEST

START_TEST(new_not_a_tun)
{
	struct tun *t = NULL;

	enter_netns();
	/* "lo" exists but is no TUN device: refused, and left alone. */
	ck_assert_int_lt(tun_new(&t, "lo"), 0);
	ck_assert_ptr_null(t);
	ck_assert_uint_eq(if_nametoindex("lo"), 1);
}
END_TEST

START_TEST(free_removes_device)
{
	struct tun_addr a4 = parse("10.61.0.1/24");
	struct tun *t;

	enter_netns();
	t = new_tun("brtest1");
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);
	ck_assert_uint_ne(if_nametoindex("brtest1"), 0);
	tun_free(t);
	ck_assert_uint_eq(if_nametoindex("brtest1"), 0);
	/* The name is free again. */
	t = new_tun("brtest1");
	ck_assert_int_eq(if_addr_prefix("brtest1", &a4), -1);
	tun_free(t);
}
END_TEST

START_TEST(free_null)
{
	tun_free(NULL);
}
END_TEST

/* --- configuration --- */

START_TEST(set_mtu)
{
	struct tun *t;

	enter_netns();
	t = new_tun("brtest2");
	ck_assert_int_eq(tun_set_mtu(t, 1280), 0);
	ck_assert_int_eq(if_mtu("brtest2"), 1280);
	ck_assert_int_eq(tun_set_mtu(t, 9000), 0);
	ck_assert_int_eq(if_mtu("brtest2"), 9000);
	ck_assert_int_eq(tun_set_mtu(t, 1400), 0);
	ck_assert_int_eq(if_mtu("brtest2"), 1400);
	tun_free(t);
}
END_TEST

START_TEST(set_mtu_rejected)
{
	struct tun *t;

	enter_netns();
	t = new_tun("brtest2");
	ck_assert_int_eq(tun_set_mtu(t, 1400), 0);
	/* Below the TUN driver's minimum: the kernel's -EINVAL comes back. */
	ck_assert_int_eq(tun_set_mtu(t, 20), -EINVAL);
	ck_assert_int_eq(if_mtu("brtest2"), 1400);
	tun_free(t);
}
END_TEST

START_TEST(addr_add)
{
	struct tun_addr a4 = parse("10.62.0.1/24");
	struct tun_addr a6 = parse("fd62::1/64");
	struct tun_addr h4 = parse("10.63.0.9");
	struct tun *t;

	enter_netns();
	t = new_tun("brtest3");
	ck_assert_int_eq(if_addr_prefix("brtest3", &a4), -1);
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_addr_add(t, &a6), 0);
	ck_assert_int_eq(tun_addr_add(t, &h4), 0);
	ck_assert_int_eq(if_addr_prefix("brtest3", &a4), 24);
	ck_assert_int_eq(if_addr_prefix("brtest3", &a6), 64);
	ck_assert_int_eq(if_addr_prefix("brtest3", &h4), 32);
	tun_free(t);
}
END_TEST

START_TEST(addr_add_duplicate)
{
	struct tun_addr a4 = parse("10.64.0.1/24");
	struct tun_addr a6 = parse("fd64::1/64");
	struct tun *t;

	enter_netns();
	t = new_tun("brtest4");
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_addr_add(t, &a4), -EEXIST);
	ck_assert_int_eq(tun_addr_add(t, &a6), 0);
	ck_assert_int_eq(tun_addr_add(t, &a6), -EEXIST);
	ck_assert_int_eq(if_addr_prefix("brtest4", &a4), 24);
	ck_assert_int_eq(if_addr_prefix("brtest4", &a6), 64);
	tun_free(t);
}
END_TEST

START_TEST(addr_add_full)
{
	struct tun_addr a;
	char s[32];
	struct tun *t;

	enter_netns();
	t = new_tun("brtest5");
	for (int i = 0; i < TUN_MAX_ADDRS; i++) {
		snprintf(s, sizeof(s), "10.65.%d.1/24", i);
		a = parse(s);
		ck_assert_int_eq(tun_addr_add(t, &a), 0);
	}
	a = parse("10.65.200.1/24");
	ck_assert_int_eq(tun_addr_add(t, &a), -ENOSPC);
	ck_assert_int_eq(if_addr_prefix("brtest5", &a), -1);
	tun_free(t);
}
END_TEST

START_TEST(set_up_down)
{
	struct tun *t;

	enter_netns();
	t = new_tun("brtest6");
	ck_assert_uint_eq(if_flags("brtest6") & IFF_UP, 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);
	ck_assert_uint_ne(if_flags("brtest6") & IFF_UP, 0);
	ck_assert_int_eq(tun_set_up(t, false), 0);
	ck_assert_uint_eq(if_flags("brtest6") & IFF_UP, 0);
	tun_free(t);
}
END_TEST

/* --- a device that was there before braid --- */

START_TEST(preexisting_kept)
{
	struct tun_addr theirs = parse("10.55.0.1/24");
	struct tun_addr a4 = parse("10.66.0.1/24");
	struct tun_addr a6 = parse("fd66::1/64");
	struct sockaddr_in *sin;
	struct ifreq ifr;
	struct tun *t;
	unsigned idx;

	enter_netns();
	make_persistent_tun("brpre0");
	idx = if_nametoindex("brpre0");
	/* An address the admin gave it, which braid must leave alone. */
	memset(&ifr, 0, sizeof(ifr));
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr = theirs.v4;
	{
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "brpre0");
		ck_assert_int_eq(ioctl(fd, SIOCSIFADDR, &ifr), 0);
		inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
		ck_assert_int_eq(ioctl(fd, SIOCSIFNETMASK, &ifr), 0);
		close(fd);
	}
	ck_assert_int_eq(if_addr_prefix("brpre0", &theirs), 24);

	t = new_tun("brpre0");
	ck_assert_uint_eq(tun_ifindex(t), idx);
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_addr_add(t, &a6), 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);
	ck_assert_int_eq(if_addr_prefix("brpre0", &a4), 24);
	ck_assert_uint_ne(if_flags("brpre0") & IFF_UP, 0);
	tun_free(t);

	ck_assert_uint_eq(if_nametoindex("brpre0"), idx);
	ck_assert_int_eq(if_addr_prefix("brpre0", &a4), -1);
	ck_assert_int_eq(if_addr_prefix("brpre0", &a6), -1);
	ck_assert_int_eq(if_addr_prefix("brpre0", &theirs), 24);
	ck_assert_uint_eq(if_flags("brpre0") & IFF_UP, 0);
}
END_TEST

/* A pre-existing device that is up, MTU 1500, and already has the
 * address braid is configured with: braid starts (the address counts as
 * there), and on exit the device is up again with MTU 1500 and keeps that
 * address, which was never braid's. */
START_TEST(preexisting_state_restored)
{
	struct tun_addr a4 = parse("10.66.0.1/24");
	struct sockaddr_in *sin;
	struct ifreq ifr;
	struct tun *t;

	enter_netns();
	make_persistent_tun("brpre1");
	/* the admin's state: 10.66.0.1/24, MTU 1500, up */
	memset(&ifr, 0, sizeof(ifr));
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr = a4.v4;
	ck_assert_int_eq(ifreq_set("brpre1", SIOCSIFADDR, &ifr), 0);
	inet_pton(AF_INET, "255.255.255.0", &sin->sin_addr);
	ck_assert_int_eq(ifreq_set("brpre1", SIOCSIFNETMASK, &ifr), 0);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_mtu = 1500;
	ck_assert_int_eq(ifreq_set("brpre1", SIOCSIFMTU, &ifr), 0);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_UP;
	ck_assert_int_eq(ifreq_set("brpre1", SIOCSIFFLAGS, &ifr), 0);

	t = new_tun("brpre1");
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_set_mtu(t, 1400), 0);
	ck_assert_int_eq(if_mtu("brpre1"), 1400);
	ck_assert_int_eq(tun_set_up(t, false), 0);
	tun_free(t);
	ck_assert_int_eq(if_mtu("brpre1"), 1500);
	ck_assert_uint_ne(if_flags("brpre1") & IFF_UP, 0);
	ck_assert_int_eq(if_addr_prefix("brpre1", &a4), 24);
}
END_TEST

/* --- packets through the device --- */

static uint16_t csum(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads packets from fd until match() accepts one (copied to buf), for up
 * to 3 seconds; returns its length or -1. Other traffic (IPv6 router
 * solicitations and the like) is skipped. */
static ssize_t read_matching(int fd, uint8_t *buf, size_t len,
			     bool (*match)(const uint8_t *, size_t))
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= 3)
			return -1;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fd, buf, len);
		if (n < 0) {
			ck_assert_msg(errno == EAGAIN, "read: %s",
				      strerror(errno));
			continue;
		}
		if (match(buf, (size_t)n))
			return n;
	}
}

static const uint8_t ping_payload[] = "braid-tun-test!";

static bool is_v4_echo_reply(const uint8_t *p, size_t n)
{
	return n >= 28 && p[0] >> 4 == 4 && p[9] == 1 && p[20] == 0;
}

START_TEST(ping_reply)
{
	struct tun_addr a4 = parse("10.67.0.1/24");
	uint8_t pkt[64] = { 0 }, buf[2048];
	size_t icmp_len = 8 + sizeof(ping_payload), len = 20 + icmp_len;
	struct tun *t;
	ssize_t n;

	enter_netns();
	t = new_tun("brtest7");
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);

	/* IPv4 10.67.0.2 -> 10.67.0.1, ICMP echo request id 0x4242 seq 7. */
	pkt[0] = 0x45;
	put16(pkt + 2, (uint16_t)len);
	pkt[8] = 64;
	pkt[9] = 1;
	memcpy(pkt + 12, (uint8_t[]){ 10, 67, 0, 2 }, 4);
	memcpy(pkt + 16, (uint8_t[]){ 10, 67, 0, 1 }, 4);
	put16(pkt + 10, csum(pkt, 20, 0));
	pkt[20] = 8;
	put16(pkt + 24, 0x4242);
	put16(pkt + 26, 7);
	memcpy(pkt + 28, ping_payload, sizeof(ping_payload));
	put16(pkt + 22, csum(pkt + 20, icmp_len, 0));
	ck_assert_int_eq(write(tun_fd(t), pkt, len), (ssize_t)len);

	n = read_matching(tun_fd(t), buf, sizeof(buf), is_v4_echo_reply);
	ck_assert_msg(n >= 0, "no echo reply came out of the device");
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_mem_eq(buf + 12, ((uint8_t[]){ 10, 67, 0, 1 }), 4);
	ck_assert_mem_eq(buf + 16, ((uint8_t[]){ 10, 67, 0, 2 }), 4);
	ck_assert_uint_eq(csum(buf, 20, 0), 0);
	ck_assert_uint_eq(get16(buf + 24), 0x4242);
	ck_assert_uint_eq(get16(buf + 26), 7);
	ck_assert_mem_eq(buf + 28, ping_payload, sizeof(ping_payload));
	tun_free(t);
}
END_TEST

static bool is_v4_udp(const uint8_t *p, size_t n)
{
	return n >= 28 && p[0] >> 4 == 4 && p[9] == 17;
}

START_TEST(udp_out_v4)
{
	struct tun_addr a4 = parse("10.68.0.1/24");
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(4000) };
	uint8_t buf[2048];
	struct tun *t;
	ssize_t n;
	int s;

	enter_netns();
	t = new_tun("brtest8");
	ck_assert_int_eq(tun_addr_add(t, &a4), 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);
	inet_pton(AF_INET, "10.68.0.2", &to.sin_addr);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(sendto(s, "hello", 5, 0, (struct sockaddr *)&to,
				sizeof(to)), 5);

	n = read_matching(tun_fd(t), buf, sizeof(buf), is_v4_udp);
	ck_assert_msg(n >= 0, "the datagram did not come out of the device");
	ck_assert_int_eq(n, 20 + 8 + 5);
	ck_assert_uint_eq(buf[0], 0x45);
	ck_assert_uint_eq(get16(buf + 2), 33);
	ck_assert_mem_eq(buf + 12, ((uint8_t[]){ 10, 68, 0, 1 }), 4);
	ck_assert_mem_eq(buf + 16, ((uint8_t[]){ 10, 68, 0, 2 }), 4);
	ck_assert_uint_eq(get16(buf + 22), 4000);
	ck_assert_mem_eq(buf + 28, "hello", 5);
	close(s);
	tun_free(t);
}
END_TEST

static bool is_v6_udp(const uint8_t *p, size_t n)
{
	return n >= 48 && p[0] >> 4 == 6 && p[6] == 17;
}

START_TEST(udp_out_v6)
{
	struct tun_addr a6 = parse("fd69::1/64");
	struct sockaddr_in6 to = { .sin6_family = AF_INET6,
				   .sin6_port = htons(4001) };
	uint8_t buf[2048];
	struct tun *t;
	ssize_t n;
	int s;

	enter_netns();
	t = new_tun("brtest9");
	ck_assert_int_eq(tun_addr_add(t, &a6), 0);
	ck_assert_int_eq(tun_set_up(t, true), 0);
	inet_pton(AF_INET6, "fd69::2", &to.sin6_addr);
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_msg(sendto(s, "hello6", 6, 0, (struct sockaddr *)&to,
			     sizeof(to)) == 6, "sendto: %s", strerror(errno));

	n = read_matching(tun_fd(t), buf, sizeof(buf), is_v6_udp);
	ck_assert_msg(n >= 0, "the datagram did not come out of the device");
	ck_assert_int_eq(n, 40 + 8 + 6);
	ck_assert_mem_eq(buf + 8, a6.v6.s6_addr, 16);
	ck_assert_mem_eq(buf + 24, to.sin6_addr.s6_addr, 16);
	ck_assert_uint_eq(get16(buf + 42), 4001);
	ck_assert_mem_eq(buf + 48, "hello6", 6);
	close(s);
	tun_free(t);
}
END_TEST

/* --- policy routing through the device ---
 *
 * Two TUN devices: brtun0 is braid's; brup0 stands for the uplink and
 * carries main's default routes. A datagram shows where the kernel sends
 * it by coming out of one of them. The tables and rules are read back
 * with `ip -j` (the test's own check; the library never runs ip). */

#define FWMARK 0x6272
#define TABLE 25202
#define PREF 25200
#define VIA_TUN 0
#define VIA_UP 1

struct pnet {
	struct tun *tun, *up;
	int fds[2];
};

/* The output of a shell command, which must succeed; free() it. */
static char *sh_out(const char *fmt, ...)
{
	char cmd[512], *buf = NULL;
	size_t len = 0;
	va_list ap;
	FILE *f, *m;
	int c;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	m = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(m);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	ck_assert_msg(pclose(f) == 0, "'%s' failed", cmd);
	fclose(m);
	return buf;
}

static void sh(const char *cmd)
{
	ck_assert_msg(system(cmd) == 0, "'%s' failed", cmd);
}

/* Every rule and every route of both families. */
static char *net_state(void)
{
	return sh_out("ip -4 rule show && ip -6 rule show && "
		      "ip -4 route show table all && "
		      "ip -6 route show table all");
}

/* The rules and routes are what they were (before, which is freed). */
static void expect_state(char *before)
{
	char *after = net_state();

	ck_assert_str_eq(after, before);
	free(before);
	free(after);
}

/* net_state once it stops changing (IPv6 addresses finish their set-up
 * in the background). */
static char *net_state_settled(void)
{
	char *a = net_state(), *b;

	for (int i = 0; i < 40; i++) {
		usleep(50 * 1000);
		b = net_state();
		if (!strcmp(a, b)) {
			free(b);
			return a;
		}
		free(a);
		a = b;
	}
	ck_abort_msg("routes and rules keep changing:\n%s", a);
	return NULL;
}

/* Waits until the routes and rules stop changing. */
static void settle(void)
{
	free(net_state_settled());
}

static json_object *ip_json(const char *fmt, ...)
{
	char args[256], *out;
	json_object *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	out = sh_out("ip -j %s", args);
	j = json_tokener_parse(out[0] ? out : "[]");
	ck_assert_msg(j && json_object_is_type(j, json_type_array),
		      "ip -j %s: not a JSON array: %s", args, out);
	free(out);
	return j;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ?
	       json_object_get_string(v) : NULL;
}

static bool jstr_is(json_object *o, const char *key, const char *want)
{
	const char *v = jstr(o, key);

	return want ? v && !strcmp(v, want) : !v;
}

/* How many of family's ("-4", "-6") rules at pref there are in all
 * (table NULL), or of them "[not] [fwmark M] lookup table
 * [suppress_prefixlength S]" exactly (fwmark NULL, suppress -1: none). */
static int rules_at(const char *fam, unsigned pref, const char *table,
		    bool not, const char *fwmark, int suppress)
{
	json_object *rules = ip_json("%s rule show", fam), *v, *prio;
	int n = 0;

	for (size_t i = 0; i < json_object_array_length(rules); i++) {
		json_object *r = json_object_array_get_idx(rules, i);
		bool sup = json_object_object_get_ex(r, "suppress_prefixlen",
						     &v);

		if (!json_object_object_get_ex(r, "priority", &prio) ||
		    json_object_get_int64(prio) != pref)
			continue;
		if (table && (!jstr_is(r, "table", table) ||
			      json_object_object_get_ex(r, "not", NULL) != not ||
			      !jstr_is(r, "fwmark", fwmark) || !jstr_is(r, "src", "all") ||
			      sup != (suppress >= 0) ||
			      (sup && json_object_get_int(v) != suppress) ||
			      json_object_object_length(r) !=
			      3 + not + !!fwmark + sup))
			continue;
		n++;
	}
	json_object_put(rules);
	return n;
}

/* How many routes family's table holds in all (dst NULL), or to dst
 * through dev (dev NULL: of type unreachable). */
static int routes_in(const char *fam, unsigned table, const char *dst,
		     const char *dev)
{
	/* "table all": a table of one family only is an error for the other */
	json_object *routes = ip_json("%s route show table all", fam);
	char t[16];
	int n = 0;

	snprintf(t, sizeof(t), "%u", table);
	for (size_t i = 0; i < json_object_array_length(routes); i++) {
		json_object *r = json_object_array_get_idx(routes, i);

		/* main's routes show no table */
		if (!jstr_is(r, "table", table == 254 ? NULL : t))
			continue;
		if (dst && (!jstr_is(r, "dst", dst) ||
			    !jstr_is(r, "type", dev ? NULL : "unreachable") ||
			    (dev && !jstr_is(r, "dev", dev))))
			continue;
		n++;
	}
	json_object_put(routes);
	return n;
}

/* The policy's four rules are there once each, and nothing else at those
 * prefs (for family fam, or none of it if !present). */
static void assert_rules(const char *fam, bool present, unsigned pref,
			 unsigned table, const char *fwmark)
{
	char t[16];

	snprintf(t, sizeof(t), "%u", table);
	ck_assert_int_eq(rules_at(fam, pref, NULL, false, NULL, -1), present);
	ck_assert_int_eq(rules_at(fam, pref + 1, NULL, false, NULL, -1),
			 present);
	if (!present)
		return;
	ck_assert_msg(rules_at(fam, pref, "main", false, NULL, 0) == 1,
		      "%s: no 'lookup main suppress_prefixlength 0' at %u",
		      fam, pref);
	ck_assert_msg(rules_at(fam, pref + 1, t, true, fwmark, -1) == 1,
		      "%s: no 'not fwmark %s lookup %s' at %u", fam, fwmark,
		      t, pref + 1);
}

static struct tun_route_cfg default_cfg(void)
{
	return (struct tun_route_cfg){ .fwmark = FWMARK, .table = TABLE,
				       .pref = PREF, .default_route = true };
}

static void add_route_cfg(struct tun_route_cfg *c, const char *prefix)
{
	c->routes[c->nroutes++] = parse(prefix);
}

static void pnet_up_tun(struct pnet *n, bool v6)
{
	struct tun_addr a4 = parse("10.70.0.2/24"), a6 = parse("fd70::2/64");

	n->tun = new_tun("brtun0");
	ck_assert_int_eq(tun_addr_add(n->tun, &a4), 0);
	if (v6)
		ck_assert_int_eq(tun_addr_add(n->tun, &a6), 0);
	ck_assert_int_eq(tun_set_up(n->tun, true), 0);
	n->fds[VIA_TUN] = tun_fd(n->tun);
}

/* A fresh namespace with the uplink, main's default routes through it,
 * and braid's TUN (an IPv6 address on it if v6). */
static void pnet_up(struct pnet *n, bool v6)
{
	struct tun_addr u4 = parse("192.0.2.2/24"), u6 = parse("2001:db8:ff::2/64");

	enter_netns();
	n->up = new_tun("brup0");
	ck_assert_int_eq(tun_addr_add(n->up, &u4), 0);
	ck_assert_int_eq(tun_addr_add(n->up, &u6), 0);
	ck_assert_int_eq(tun_set_up(n->up, true), 0);
	n->fds[VIA_UP] = tun_fd(n->up);
	sh("ip -4 route add default dev brup0 && "
	   "ip -6 route add default dev brup0");
	pnet_up_tun(n, v6);
}

static void pnet_down(struct pnet *n)
{
	tun_free(n->tun);
	tun_free(n->up);
}

static int make_socket(const char *dst, uint32_t mark,
		       struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	int s;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, dst, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(4242);
		*sl = sizeof(*sin);
	} else {
		ck_assert_int_eq(inet_pton(AF_INET6, dst, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(4242);
		*sl = sizeof(*sin6);
	}
	s = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(s, 0);
	if (mark)
		ck_assert_int_eq(setsockopt(s, SOL_SOCKET, SO_MARK, &mark,
					    sizeof(mark)), 0);
	return s;
}

/* The errno of connect()ing a UDP socket to dst (0: it worked). */
static int connect_errno(const char *dst, uint32_t mark)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int s = make_socket(dst, mark, &ss, &sl), err = 0;

	if (connect(s, (struct sockaddr *)&ss, sl) < 0)
		err = errno;
	close(s);
	return err;
}

/* The UDP payload of an IPv4 or IPv6 packet, or NULL. */
static const uint8_t *udp_payload(const uint8_t *p, size_t n, size_t *len)
{
	size_t off;

	if (n >= 28 && p[0] >> 4 == 4 && p[9] == 17)
		off = (size_t)(p[0] & 0xf) * 4 + 8;
	else if (n >= 48 && p[0] >> 4 == 6 && p[6] == 17)
		off = 48;
	else
		return NULL;
	if (off > n)
		return NULL;
	*len = n - off;
	return p + off;
}

/* Sends a datagram to dst (marked with mark unless 0) and returns the
 * device it came out of (VIA_TUN, VIA_UP, or -1: neither); the source
 * address the kernel picked goes to src. */
static int probe(const struct pnet *n, const char *dst, uint32_t mark,
		 char src[INET6_ADDRSTRLEN])
{
	static unsigned seq;
	struct sockaddr_storage ss, me;
	socklen_t sl, ml = sizeof(me);
	char payload[32];
	uint8_t buf[2048];
	int s = make_socket(dst, mark, &ss, &sl), via = -1;
	struct timespec start, now;

	snprintf(payload, sizeof(payload), "brprobe-%d-%u", getpid(), ++seq);
	ck_assert_msg(connect(s, (struct sockaddr *)&ss, sl) == 0,
		      "connect to %s: %s", dst, strerror(errno));
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&me, &ml), 0);
	inet_ntop(me.ss_family, me.ss_family == AF_INET ?
		  (void *)&((struct sockaddr_in *)&me)->sin_addr :
		  (void *)&((struct sockaddr_in6 *)&me)->sin6_addr,
		  src, INET6_ADDRSTRLEN);
	ck_assert_int_eq(send(s, payload, strlen(payload), 0),
			 (ssize_t)strlen(payload));
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		struct pollfd pfd[2] = {
			{ .fd = n->fds[0], .events = POLLIN },
			{ .fd = n->fds[1], .events = POLLIN },
		};

		if (poll(pfd, 2, 100) > 0) {
			for (int i = 0; i < 2 && via < 0; i++) {
				const uint8_t *pl;
				size_t len;
				ssize_t r;

				if (!(pfd[i].revents & POLLIN))
					continue;
				r = read(n->fds[i], buf, sizeof(buf));
				if (r <= 0)
					continue;
				pl = udp_payload(buf, (size_t)r, &len);
				if (pl && len == strlen(payload) &&
				    !memcmp(pl, payload, len))
					via = i;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (via < 0 && now.tv_sec - start.tv_sec < 3);
	close(s);
	return via;
}

static void assert_probe(const struct pnet *n, const char *dst, uint32_t mark,
			 int want_via, const char *want_src)
{
	static const char *const dev[] = { "brtun0 (braid)", "brup0 (uplink)" };
	char src[INET6_ADDRSTRLEN];
	int via = probe(n, dst, mark, src);

	ck_assert_msg(via == want_via, "to %s mark %#x: out of %s, not %s", dst,
		      mark, via < 0 ? "no device" : dev[via], dev[want_via]);
	if (want_src)
		ck_assert_msg(!strcmp(src, want_src),
			      "to %s mark %#x: from %s, not %s", dst, mark,
			      src, want_src);
}

static struct tun_policy *policy_new(const struct pnet *n,
				     const struct tun_route_cfg *c)
{
	struct tun_policy *p = NULL;
	int err = tun_policy_new(&p, n->tun, c);

	ck_assert_msg(err == 0, "tun_policy_new: %s", strerror(-err));
	ck_assert_ptr_nonnull(p);
	return p;
}

/* Runs tun_policy_new in a child that then dies without cleaning up, as
 * a crashed braid does. */
static void policy_crash(const struct pnet *n, const struct tun_route_cfg *c)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct tun_policy *p;

		_exit(tun_policy_new(&p, n->tun, c) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "tun_policy_new failed in the crashing child");
}

START_TEST(policy_default_route)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char *before;

	pnet_up(&n, true);
	before = net_state_settled();
	p = policy_new(&n, &c);

	assert_rules("-4", true, PREF, TABLE, "0x6272");
	assert_rules("-6", true, PREF, TABLE, "0x6272");
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-4", TABLE, "default", "brtun0"), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, "default", "brtun0"), 1);
	/* main is untouched: its default still goes to the uplink */
	ck_assert_int_eq(routes_in("-4", 254, "default", "brup0"), 1);

	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

START_TEST(policy_packets)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;

	pnet_up(&n, true);
	settle();
	assert_probe(&n, "198.51.100.7", 0, VIA_UP, "192.0.2.2");
	p = policy_new(&n, &c);

	/* everything unmarked goes into the tunnel, from the TUN's address */
	assert_probe(&n, "198.51.100.7", 0, VIA_TUN, "10.70.0.2");
	assert_probe(&n, "2001:db8:1::7", 0, VIA_TUN, "fd70::2");
	/* braid's own marked packets take the uplink */
	assert_probe(&n, "198.51.100.7", FWMARK, VIA_UP, "192.0.2.2");
	assert_probe(&n, "2001:db8:1::7", FWMARK, VIA_UP, "2001:db8:ff::2");
	/* another mark is no exemption */
	assert_probe(&n, "198.51.100.7", FWMARK + 1, VIA_TUN, NULL);
	/* main's more specific routes still count (the home LAN) */
	assert_probe(&n, "192.0.2.9", 0, VIA_UP, "192.0.2.2");
	assert_probe(&n, "2001:db8:ff::9", 0, VIA_UP, "2001:db8:ff::2");

	tun_policy_free(p);
	assert_probe(&n, "198.51.100.7", 0, VIA_UP, "192.0.2.2");
	assert_probe(&n, "2001:db8:1::7", 0, VIA_UP, "2001:db8:ff::2");
	pnet_down(&n);
}
END_TEST

/* IPv6 goes into the tunnel even when the TUN has no IPv6 address. */
START_TEST(policy_ipv6_without_address)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;

	pnet_up(&n, false);
	settle();
	p = policy_new(&n, &c);
	assert_rules("-6", true, PREF, TABLE, "0x6272");
	ck_assert_int_eq(routes_in("-6", TABLE, "default", "brtun0"), 1);
	assert_probe(&n, "2001:db8:1::7", 0, VIA_TUN, NULL);
	assert_probe(&n, "2001:db8:1::7", FWMARK, VIA_UP, "2001:db8:ff::2");
	tun_policy_free(p);
	pnet_down(&n);
}
END_TEST

/* A TUN that cannot carry IPv6 (disabled on it; an MTU below IPv6's
 * 1280): IPv6 is unreachable, not sent around the tunnel. */
START_TEST(policy_ipv6_disabled_on_tun)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char *before;
	int err;

	pnet_up(&n, false);
	if (_i == 0)
		sh("sysctl -qw net.ipv6.conf.brtun0.disable_ipv6=1");
	else
		ck_assert_int_eq(tun_set_mtu(n.tun, 1000), 0);
	before = net_state_settled();
	p = policy_new(&n, &c);
	ck_assert_int_eq(routes_in("-4", TABLE, "default", "brtun0"), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, "default", NULL), 1);
	assert_rules("-6", true, PREF, TABLE, "0x6272");
	err = connect_errno("2001:db8:1::7", 0);
	ck_assert_msg(err == EHOSTUNREACH || err == ENETUNREACH,
		      "unmarked IPv6: %s, not unreachable", strerror(err));
	assert_probe(&n, "2001:db8:1::7", FWMARK, VIA_UP, "2001:db8:ff::2");
	assert_probe(&n, "198.51.100.7", 0, VIA_TUN, "10.70.0.2");
	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

/* Only the given prefixes (host bits dropped, duplicates once), in a
 * table, at prefs and with a mark of the caller's choosing. */
START_TEST(policy_routes_only)
{
	struct tun_route_cfg c = { .fwmark = 0x77, .table = 200, .pref = 1000 };
	struct tun_policy *p;
	struct pnet n;
	char *before;

	add_route_cfg(&c, "198.51.100.0/24");
	add_route_cfg(&c, "203.0.113.77/25");
	add_route_cfg(&c, "2001:db8:1::/48");
	add_route_cfg(&c, "198.51.100.9/24");
	pnet_up(&n, true);
	before = net_state_settled();
	p = policy_new(&n, &c);

	assert_rules("-4", true, 1000, 200, "0x77");
	assert_rules("-6", true, 1000, 200, "0x77");
	ck_assert_int_eq(routes_in("-4", 200, NULL, NULL), 2);
	ck_assert_int_eq(routes_in("-4", 200, "198.51.100.0/24", "brtun0"), 1);
	ck_assert_int_eq(routes_in("-4", 200, "203.0.113.0/25", "brtun0"), 1);
	ck_assert_int_eq(routes_in("-6", 200, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", 200, "2001:db8:1::/48", "brtun0"), 1);

	assert_probe(&n, "198.51.100.7", 0, VIA_TUN, "10.70.0.2");
	assert_probe(&n, "203.0.113.5", 0, VIA_TUN, "10.70.0.2");
	assert_probe(&n, "203.0.113.200", 0, VIA_UP, "192.0.2.2");
	assert_probe(&n, "198.18.5.5", 0, VIA_UP, "192.0.2.2");
	assert_probe(&n, "198.51.100.7", 0x77, VIA_UP, "192.0.2.2");
	assert_probe(&n, "2001:db8:1::7", 0, VIA_TUN, "fd70::2");
	assert_probe(&n, "2001:db8:2::7", 0, VIA_UP, "2001:db8:ff::2");

	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

/* IPv4 prefixes only: IPv6 gets no rules. */
START_TEST(policy_one_family)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char *before;

	c.default_route = false;
	add_route_cfg(&c, "198.51.100.0/24");
	pnet_up(&n, true);
	before = net_state_settled();
	p = policy_new(&n, &c);
	assert_rules("-4", true, PREF, TABLE, "0x6272");
	assert_rules("-6", false, PREF, TABLE, NULL);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 0);
	assert_probe(&n, "2001:db8:1::7", 0, VIA_UP, "2001:db8:ff::2");
	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

START_TEST(policy_many_routes)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char s[32];
	char *before;

	for (int i = 0; i < TUN_MAX_ROUTES; i++) {
		snprintf(s, sizeof(s), i % 2 ? "10.%d.0.0/16" : "fd%02x::/16",
			 100 + i);
		add_route_cfg(&c, s);
	}
	pnet_up(&n, true);
	before = net_state_settled();
	p = policy_new(&n, &c);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL),
			 1 + TUN_MAX_ROUTES / 2);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL),
			 1 + TUN_MAX_ROUTES / 2);
	ck_assert_int_eq(routes_in("-4", TABLE, "10.101.0.0/16", "brtun0"), 1);
	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

/* A braid that died left its rules and routes: the next one replaces
 * them instead of adding to them, and leaves others' alone. */
START_TEST(policy_stale_replaced)
{
	struct tun_route_cfg c = default_cfg(), other = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char *before, *after;

	pnet_up(&n, true);
	/* someone else's rule at braid's pref, and their own table */
	sh("ip rule add from 192.0.2.77 lookup 100 pref 25200 && "
	   "ip route add 198.51.100.0/24 dev brup0 table 100 && "
	   "ip -6 rule add from 2001:db8:ff::77 lookup main pref 25201");
	before = net_state_settled();

	policy_crash(&n, &c);
	ck_assert_int_eq(rules_at("-4", PREF + 1, "25202", true, "0x6272", -1),
			 1);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	p = policy_new(&n, &c);
	/* one each, besides the others' rules */
	ck_assert_int_eq(rules_at("-4", PREF, NULL, false, NULL, -1), 2);
	ck_assert_int_eq(rules_at("-4", PREF, "main", false, NULL, 0), 1);
	ck_assert_int_eq(rules_at("-4", PREF + 1, NULL, false, NULL, -1), 1);
	ck_assert_int_eq(rules_at("-6", PREF, NULL, false, NULL, -1), 1);
	ck_assert_int_eq(rules_at("-6", PREF + 1, NULL, false, NULL, -1), 2);
	ck_assert_int_eq(rules_at("-6", PREF + 1, "25202", true, "0x6272", -1),
			 1);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 1);
	assert_probe(&n, "198.51.100.7", 0, VIA_TUN, "10.70.0.2");
	tun_policy_free(p);
	after = net_state();
	ck_assert_str_eq(after, before);
	free(after);

	/* A run with another mark and more routes died; this one routes
	 * one IPv4 prefix only. */
	other.fwmark = 0x1234;
	add_route_cfg(&other, "203.0.113.0/24");
	add_route_cfg(&other, "2001:db8:1::/48");
	policy_crash(&n, &other);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 2);
	c.default_route = false;
	add_route_cfg(&c, "198.51.100.0/24");
	p = policy_new(&n, &c);
	ck_assert_int_eq(rules_at("-4", PREF, NULL, false, NULL, -1), 2);
	ck_assert_int_eq(rules_at("-4", PREF, "main", false, NULL, 0), 1);
	ck_assert_int_eq(rules_at("-4", PREF + 1, NULL, false, NULL, -1), 1);
	ck_assert_int_eq(rules_at("-4", PREF + 1, "25202", true, "0x6272", -1),
			 1);
	ck_assert_int_eq(rules_at("-6", PREF, NULL, false, NULL, -1), 0);
	ck_assert_int_eq(rules_at("-6", PREF + 1, NULL, false, NULL, -1), 1);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-4", TABLE, "198.51.100.0/24", "brtun0"), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 0);
	ck_assert_int_eq(routes_in("-4", 100, "198.51.100.0/24", "brup0"), 1);
	tun_policy_free(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

/* The IPv6 prefix fails after IPv4's routes and rules are in: they are
 * taken out again. */
START_TEST(policy_fail_midway)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p = NULL;
	struct pnet n;
	char *before;

	add_route_cfg(&c, "198.51.100.0/24");
	add_route_cfg(&c, "2001:db8:1::/48");
	pnet_up(&n, false);
	sh("sysctl -qw net.ipv6.conf.brtun0.disable_ipv6=1");
	before = net_state_settled();
	ck_assert_int_eq(tun_policy_new(&p, n.tun, &c), -EACCES);
	ck_assert_ptr_null(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

static void bad_cfg(struct tun_route_cfg *c, int i)
{
	switch (i) {
	case 0: c->fwmark = 0; break;
	case 1: c->table = 0; break;
	case 2: c->table = 253; break;
	case 3: c->table = 254; break;
	case 4: c->table = 255; break;
	case 5: c->pref = 0; break;
	case 6: c->pref = 32765; break;
	case 7: c->pref = UINT32_MAX; break;
	case 8: c->default_route = false; break;
	case 9: c->nroutes = TUN_MAX_ROUTES + 1; break;
	case 10: c->nroutes = 1; c->routes[0].family = AF_UNSPEC; break;
	case 11: add_route_cfg(c, "10.0.0.0/8"); c->routes[0].prefix = 33;
		break;
	}
}

START_TEST(policy_bad_cfg)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p = NULL;
	struct pnet n;
	char *before;

	bad_cfg(&c, _i);
	pnet_up(&n, true);
	before = net_state_settled();
	ck_assert_int_eq(tun_policy_new(&p, n.tun, &c), -EINVAL);
	ck_assert_ptr_null(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

/* The TUN went away first (taking its routes along): the rest goes. */
START_TEST(policy_tun_gone)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p;
	struct pnet n;
	char *before;

	add_route_cfg(&c, "198.51.100.0/24");
	pnet_up(&n, true);
	tun_free(n.tun);
	before = net_state_settled();
	pnet_up_tun(&n, true);
	settle();
	p = policy_new(&n, &c);
	tun_free(n.tun);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 0);
	assert_rules("-4", true, PREF, TABLE, "0x6272");
	tun_policy_free(p);
	expect_state(before);
	tun_free(n.up);
}
END_TEST

/* A kernel without IPv6 (/proc/sys/net/ipv6 hidden in a mount namespace
 * of the test's own): IPv4 only, and IPv6 prefixes are refused. */
START_TEST(policy_no_ipv6)
{
	struct tun_route_cfg c = default_cfg();
	struct tun_policy *p = NULL;
	struct pnet n;
	char *before;

	pnet_up(&n, true);
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_msg(mount("none", "/proc/sys/net", "tmpfs", 0, NULL) == 0,
		      "mount: %s", strerror(errno));
	ck_assert_int_ne(access("/proc/sys/net/ipv6", F_OK), 0);
	before = net_state_settled();
	p = policy_new(&n, &c);
	assert_rules("-4", true, PREF, TABLE, "0x6272");
	assert_rules("-6", false, PREF, TABLE, NULL);
	ck_assert_int_eq(routes_in("-4", TABLE, NULL, NULL), 1);
	ck_assert_int_eq(routes_in("-6", TABLE, NULL, NULL), 0);
	tun_policy_free(p);
	p = NULL;
	add_route_cfg(&c, "2001:db8:1::/48");
	ck_assert_int_eq(tun_policy_new(&p, n.tun, &c), -EAFNOSUPPORT);
	ck_assert_ptr_null(p);
	expect_state(before);
	pnet_down(&n);
}
END_TEST

START_TEST(policy_free_null)
{
	tun_policy_free(NULL);
}
END_TEST

static Suite *tundev_suite(void)
{
	Suite *s = suite_create("tundev");
	TCase *tc;

	tc = tcase_create("addr_parse");
	tcase_add_test(tc, parse_ipv4_prefix);
	tcase_add_test(tc, parse_ipv4_host);
	tcase_add_test(tc, parse_ipv6_prefix);
	tcase_add_test(tc, parse_ipv6_host);
	tcase_add_loop_test(tc, parse_bad, 0,
			    sizeof(bad_addrs) / sizeof(bad_addrs[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_test(tc, new_named);
	tcase_add_test(tc, new_kernel_named);
	tcase_add_test(tc, new_name_too_long);
	tcase_add_test(tc, new_not_a_tun);
	tcase_add_test(tc, free_removes_device);
	tcase_add_test(tc, free_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("configure");
	tcase_add_test(tc, set_mtu);
	tcase_add_test(tc, set_mtu_rejected);
	tcase_add_test(tc, addr_add);
	tcase_add_test(tc, addr_add_duplicate);
	tcase_add_test(tc, addr_add_full);
	tcase_add_test(tc, set_up_down);
	suite_add_tcase(s, tc);

	tc = tcase_create("preexisting");
	tcase_add_test(tc, preexisting_kept);
	tcase_add_test(tc, preexisting_state_restored);
	suite_add_tcase(s, tc);

	tc = tcase_create("packets");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, ping_reply);
	tcase_add_test(tc, udp_out_v4);
	tcase_add_test(tc, udp_out_v6);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, policy_default_route);
	tcase_add_test(tc, policy_packets);
	tcase_add_test(tc, policy_ipv6_without_address);
	tcase_add_loop_test(tc, policy_ipv6_disabled_on_tun, 0, 2);
	tcase_add_test(tc, policy_routes_only);
	tcase_add_test(tc, policy_one_family);
	tcase_add_test(tc, policy_many_routes);
	tcase_add_test(tc, policy_stale_replaced);
	tcase_add_test(tc, policy_fail_midway);
	tcase_add_loop_test(tc, policy_bad_cfg, 0, 12);
	tcase_add_test(tc, policy_tun_gone);
	tcase_add_test(tc, policy_no_ipv6);
	tcase_add_test(tc, policy_free_null);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(tundev_suite());
	int failed;

	runner_pid = getpid();
	/* Each test's namespace must die with its own process. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
