/* SPDX-License-Identifier: MIT */
/* tundev: the TUN device and its configuration through netlink. */
#ifndef BRAID_TUNDEV_H
#define BRAID_TUNDEV_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TUN_MAX_ADDRS 8

struct tun_addr {
	int family;		/* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
	unsigned prefix;
};

struct tun;

/* Opens (creating if needed) the TUN device called name ("" lets the
 * kernel choose), non-blocking, without packet info headers. */
int tun_new(struct tun **out, const char *name);
/* Removes what braid configured and the device, unless it existed before
 * braid started; then braid's addresses are removed and its MTU and
 * up/down state restored. */
void tun_free(struct tun *t);

int tun_fd(const struct tun *t);
const char *tun_name(const struct tun *t);
unsigned tun_ifindex(const struct tun *t);

int tun_set_mtu(struct tun *t, unsigned mtu);
int tun_addr_add(struct tun *t, const struct tun_addr *a);
int tun_set_up(struct tun *t, bool up);

/* Policy routing through the tunnel (slave's route_default / routes):
 * packets of braid's own sockets carry fwmark and keep using the main
 * table (their uplinks); everything else is looked up first in main
 * with its default route suppressed (so on-link and more specific routes
 * still work), then in table, which holds the default route (IPv4 and
 * IPv6) and/or the given prefixes through the TUN device. */
#define TUN_MAX_ROUTES 32

struct tun_route_cfg {
	uint32_t fwmark;	/* non-zero */
	uint32_t table;		/* 1..0xffffffff, not 253-255 */
	uint32_t pref;		/* rules at pref and pref + 1 */
	bool default_route;	/* 0.0.0.0/0 and ::/0 */
	struct tun_addr routes[TUN_MAX_ROUTES];
	size_t nroutes;
};

struct tun_policy;

/* Installs the rules and routes for t, which must be up (first removing
 * any left in table or at those prefs by a braid that did not exit
 * cleanly). A family gets its two rules only if it has a route; IPv6 is
 * left out when the kernel has none, and its default is "unreachable"
 * when the TUN cannot carry IPv6 (MTU below 1280, IPv6 disabled on it).
 * -EINVAL for a bad cfg (pref must leave pref + 1 below main's 32766),
 * -EAFNOSUPPORT for IPv6 routes without IPv6; on any failure nothing
 * stays installed. */
int tun_policy_new(struct tun_policy **out, const struct tun *t,
		   const struct tun_route_cfg *c);
/* Removes rules and routes of c's table and prefs, whoever put them
 * there (the keeper, after a daemon that was killed). */
int tun_policy_sweep(const struct tun_route_cfg *c);
/* Removes what tun_policy_new installed; NULL is a no-op. */
void tun_policy_free(struct tun_policy *p);

/* Parses "10.0.0.1/24" or "fd00::1/64"; no prefix means a host prefix.
 * Returns 0 or -EINVAL. */
int tun_addr_parse(struct tun_addr *a, const char *s);

#endif
