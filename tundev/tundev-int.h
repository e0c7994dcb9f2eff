/* SPDX-License-Identifier: MIT */
/* tundev internals: the netlink helpers shared by tundev's files. */
#ifndef BRAID_TUNDEV_INT_H
#define BRAID_TUNDEV_INT_H

#include <libmnl/libmnl.h>

#include "tundev.h"

/* A policy rule "[not] [fwmark M] lookup table" at pref, for RTM_NEWRULE
 * and RTM_DELRULE. */
struct tun_nl_rule {
	int family;
	uint32_t pref;
	uint32_t table;
	uint32_t fwmark;		/* 0: none */
	bool invert;			/* "not" */
	int suppress_prefixlen;		/* -1: none */
};

/* A route in table, for RTM_NEWROUTE and RTM_DELROUTE: through device oif
 * (scope link) or, with no oif, of a type that needs none (unreachable).
 * A delete with oif or priority 0 matches any. */
struct tun_nl_route {
	struct tun_addr dst;		/* prefix, host bits clear */
	uint32_t table;
	uint8_t type;			/* RTN_UNICAST, RTN_UNREACHABLE, ... */
	uint8_t tos;
	unsigned oif;
	uint32_t priority;
};

struct tun_nl {
	struct mnl_socket *sock;
	unsigned seq;
	unsigned portid;
};

int tun_nl_open(struct tun_nl *nl);
/* A request of this type and these flags (NLM_F_REQUEST and NLM_F_ACK
 * are added when it is sent), at the start of buf. */
struct nlmsghdr *tun_nl_msg(char *buf, uint16_t type, uint16_t flags);
/* Sends one request and reads the answer until its ACK (or a dump's end),
 * passing each data message to cb (may be NULL); an NLMSG_ERROR becomes
 * -errno. A dump request carries NLM_F_DUMP; cb must not stop early. */
int tun_nl_talk(struct tun_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		void *data);
void tun_nl_close(struct tun_nl *nl);
int tun_nl_link_set(struct tun_nl *nl, unsigned ifindex, unsigned flags,
		    unsigned change, unsigned mtu);
int tun_nl_addr(struct tun_nl *nl, unsigned ifindex, const struct tun_addr *a,
		bool add);
int tun_nl_rule(struct tun_nl *nl, const struct tun_nl_rule *r, bool add);
int tun_nl_route(struct tun_nl *nl, const struct tun_nl_route *r, bool add);

#endif
