/* SPDX-License-Identifier: MIT */
/* rtnetlink requests for link state, MTU, addresses, routes and policy
 * rules, through libmnl. */
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <time.h>

#include "tundev-int.h"

int tun_nl_open(struct tun_nl *nl)
{
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int err = -errno;

		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return err;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	return 0;
}

void tun_nl_close(struct tun_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

struct nlmsghdr *tun_nl_msg(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

/* Flags for adding (must be new) or deleting. */
static uint16_t change_flags(bool add)
{
	return add ? NLM_F_CREATE | NLM_F_EXCL : 0;
}

int tun_nl_talk(struct tun_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb,
		void *data)
{
	/* big enough for any dump part the kernel sends */
	char buf[32768];
	int ret;

	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ret = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (ret < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)ret, nlh->nlmsg_seq, nl->portid,
				 cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

int tun_nl_link_set(struct tun_nl *nl, unsigned ifindex, unsigned flags,
		    unsigned change, unsigned mtu)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tun_nl_msg(buf, RTM_NEWLINK, 0);
	struct ifinfomsg *ifi;

	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)ifindex;
	ifi->ifi_flags = flags;
	ifi->ifi_change = change;
	if (mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
	return tun_nl_talk(nl, nlh, NULL, NULL);
}

int tun_nl_addr(struct tun_nl *nl, unsigned ifindex, const struct tun_addr *a,
		bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tun_nl_msg(buf, add ? RTM_NEWADDR : RTM_DELADDR,
					  change_flags(add));
	size_t alen = a->family == AF_INET ? sizeof(a->v4) : sizeof(a->v6);
	struct ifaddrmsg *ifa;

	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = a->family;
	ifa->ifa_prefixlen = a->prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = ifindex;
	mnl_attr_put(nlh, IFA_LOCAL, alen, &a->v6);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &a->v6);
	if (a->family == AF_INET6)
		mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
	return tun_nl_talk(nl, nlh, NULL, NULL);
}

int tun_nl_rule(struct tun_nl *nl, const struct tun_nl_rule *r, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tun_nl_msg(buf, add ? RTM_NEWRULE : RTM_DELRULE,
					  change_flags(add));
	struct fib_rule_hdr *frh;

	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (uint8_t)r->family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	if (r->invert)
		frh->flags |= FIB_RULE_INVERT;
	mnl_attr_put_u32(nlh, FRA_PRIORITY, r->pref);
	mnl_attr_put_u32(nlh, FRA_TABLE, r->table);
	if (r->fwmark)
		mnl_attr_put_u32(nlh, FRA_FWMARK, r->fwmark);
	if (r->suppress_prefixlen >= 0)
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN,
				 (uint32_t)r->suppress_prefixlen);
	return tun_nl_talk(nl, nlh, NULL, NULL);
}

int tun_nl_route(struct tun_nl *nl, const struct tun_nl_route *r, bool add)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tun_nl_msg(buf,
					  add ? RTM_NEWROUTE : RTM_DELROUTE,
					  change_flags(add));
	const struct tun_addr *d = &r->dst;
	size_t alen = d->family == AF_INET ? sizeof(d->v4) : sizeof(d->v6);
	struct rtmsg *rtm;

	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (uint8_t)d->family;
	rtm->rtm_dst_len = (uint8_t)d->prefix;
	rtm->rtm_tos = r->tos;
	rtm->rtm_table = r->table < 256 ? (uint8_t)r->table : RT_TABLE_UNSPEC;
	rtm->rtm_protocol = add ? RTPROT_BOOT : RTPROT_UNSPEC;
	rtm->rtm_type = r->type;
	/* a delete matches routes of any scope; a route through a device
	 * with no gateway is on the link */
	if (!add)
		rtm->rtm_scope = RT_SCOPE_NOWHERE;
	else if (r->oif)
		rtm->rtm_scope = RT_SCOPE_LINK;
	else
		rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put_u32(nlh, RTA_TABLE, r->table);
	mnl_attr_put(nlh, RTA_DST, alen, &d->v6);
	if (r->oif)
		mnl_attr_put_u32(nlh, RTA_OIF, r->oif);
	if (r->priority)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, r->priority);
	return tun_nl_talk(nl, nlh, NULL, NULL);
}
