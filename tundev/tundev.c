/* SPDX-License-Identifier: MIT */
/* Opening the TUN device, configuring it, and undoing all of it. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tundev-int.h"

struct tun {
	int fd;
	char name[IFNAMSIZ];
	unsigned ifindex;
	bool preexisting;
	unsigned orig_mtu;	/* a pre-existing device's, restored on free */
	bool orig_up;
	struct tun_nl nl;
	struct tun_addr added[TUN_MAX_ADDRS];
	size_t nadded;
};

int tun_addr_parse(struct tun_addr *a, const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned max;
	char *end;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &a->v4) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, host, &a->v6) == 1)
		a->family = AF_INET6;
	else
		return -EINVAL;
	max = a->family == AF_INET ? 32 : 128;
	a->prefix = max;
	if (slash) {
		unsigned long p;

		if (slash[1] < '0' || slash[1] > '9')
			return -EINVAL;
		errno = 0;
		p = strtoul(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end || p > max)
			return -EINVAL;
		a->prefix = (unsigned)p;
	}
	return 0;
}

/* MTU and up flag of a device that was there before braid. */
static int read_state(struct tun *t)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", t->name);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) {
		err = -errno;
		goto out_close;
	}
	t->orig_mtu = (unsigned)ifr.ifr_mtu;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
		goto out_close;
	}
	t->orig_up = ifr.ifr_flags & IFF_UP;
out_close:
	close(fd);
	return err;
}

int tun_new(struct tun **out, const char *name)
{
	struct ifreq ifr = { .ifr_flags = IFF_TUN | IFF_NO_PI };
	struct tun *t;
	int err;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->preexisting = name[0] && if_nametoindex(name) != 0;
	t->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->fd < 0) {
		err = -errno;
		goto out_free;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
		err = -errno;
		goto out_close_fd;
	}
	snprintf(t->name, sizeof(t->name), "%s", ifr.ifr_name);
	t->ifindex = if_nametoindex(t->name);
	if (!t->ifindex) {
		err = -errno;
		goto out_close_fd;
	}
	if (t->preexisting) {
		err = read_state(t);
		if (err < 0)
			goto out_close_fd;
	}
	err = tun_nl_open(&t->nl);
	if (err < 0)
		goto out_close_fd;
	*out = t;
	return 0;

out_close_fd:
	close(t->fd);
out_free:
	free(t);
	return err;
}

void tun_free(struct tun *t)
{
	if (!t)
		return;
	/* A device braid created vanishes with its fd, addresses and routes
	 * included; one that was there before loses the addresses braid
	 * added and gets its MTU and up/down state back. */
	if (t->preexisting) {
		for (size_t i = t->nadded; i-- > 0;)
			tun_nl_addr(&t->nl, t->ifindex, &t->added[i], false);
		tun_nl_link_set(&t->nl, t->ifindex, t->orig_up ? IFF_UP : 0,
				IFF_UP, t->orig_mtu);
	}
	tun_nl_close(&t->nl);
	close(t->fd);
	free(t);
}

int tun_fd(const struct tun *t)
{
	return t->fd;
}

const char *tun_name(const struct tun *t)
{
	return t->name;
}

unsigned tun_ifindex(const struct tun *t)
{
	return t->ifindex;
}

int tun_set_mtu(struct tun *t, unsigned mtu)
{
	return tun_nl_link_set(&t->nl, t->ifindex, 0, 0, mtu);
}

int tun_set_up(struct tun *t, bool up)
{
	return tun_nl_link_set(&t->nl, t->ifindex, up ? IFF_UP : 0, IFF_UP, 0);
}

int tun_addr_add(struct tun *t, const struct tun_addr *a)
{
	int err;

	if (t->nadded >= TUN_MAX_ADDRS)
		return -ENOSPC;
	err = tun_nl_addr(&t->nl, t->ifindex, a, true);
	/* on a device that was there before, the address may be too: it
	 * stays, and stays when braid leaves */
	if (err == -EEXIST && t->preexisting)
		return 0;
	if (err < 0)
		return err;
	t->added[t->nadded++] = *a;
	return 0;
}
