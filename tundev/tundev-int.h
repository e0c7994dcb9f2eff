/* SPDX-License-Identifier: MIT */
/* tundev internals: the netlink helpers shared by tundev's files. */
#ifndef BRAID_TUNDEV_INT_H
#define BRAID_TUNDEV_INT_H

#include <libmnl/libmnl.h>

#include "tundev.h"

struct tun_nl {
	struct mnl_socket *sock;
	unsigned seq;
	unsigned portid;
};

int tun_nl_open(struct tun_nl *nl);
void tun_nl_close(struct tun_nl *nl);
int tun_nl_link_set(struct tun_nl *nl, unsigned ifindex, unsigned flags,
		    unsigned change, unsigned mtu);
int tun_nl_addr(struct tun_nl *nl, unsigned ifindex, const struct tun_addr *a,
		bool add);

#endif
