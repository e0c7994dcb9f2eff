/* SPDX-License-Identifier: MIT */
/* Unit tests for tundev: address parsing, and the TUN device's creation,
 * configuration, packets and teardown, each inside its own network
 * namespace. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
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
