/* SPDX-License-Identifier: MIT */
/* UDP sockets: the master's one socket, each slave link's own socket
 * (direct to the master or to a SOCKS relay), batched receive. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "linkmap-int.h"

#define SOCKBUF (4 << 20)
#define REOPEN_INTERVAL 1.0

void lm_sock_tune(int fd, int family)
{
	int sz = SOCKBUF, v4 = IP_PMTUDISC_DONT, v6 = IPV6_PMTUDISC_DONT;

	/* FORCE passes rmem_max when we are root; the plain one is the
	 * fallback and is capped silently. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* Let the outer packet be fragmented rather than vanish on a path
	 * with a small MTU. */
	if (family == AF_INET)
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4));
	else
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6,
			   sizeof(v6));
}

/* The destination address of a received datagram, from its PKTINFO. */
static bool rx_local(struct msghdr *mh, union lm_local *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->v6 = pi.ipi6_addr;
			return true;
		}
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->v4 = pi.ipi_addr;
			return true;
		}
	}
	return false;
}

/* Reads batches of datagrams from fd; l is NULL on the master. */
static void drain(struct lm *lm, int fd, struct lm_link *l)
{
	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < LM_BATCH; i++) {
			struct msghdr *mh = &lm->rxmsg[i].msg_hdr;

			mh->msg_namelen = sizeof(lm->rxaddr[i]);
			mh->msg_controllen = sizeof(lm->rxctl[i]);
			lm->rxmsg[i].msg_len = 0;
		}
		n = recvmmsg(fd, lm->rxmsg, LM_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			/* ICMP errors from a connected socket surface here;
			 * they say nothing a keepalive will not. */
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNREFUSED)
				log_warn_rl(&lm->rx_rl, "link receive: %s",
					    strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			struct msghdr *mh = &lm->rxmsg[i].msg_hdr;
			uint8_t *pkt = lm->rxbuf[i];
			size_t len = lm->rxmsg[i].msg_len;
			union lm_local local;
			bool has_local = !l && rx_local(mh, &local);

			if (l && l->type == LM_LINK_SOCKS5) {
				struct sockaddr_storage src;
				socklen_t srclen;
				int hl = lm_socks_udp_decode(pkt, len, &src,
							     &srclen);

				if (hl < 0) {
					lm->st.malformed++;
					continue;
				}
				pkt += hl;
				len -= hl;
			}
			lm_packet_in(lm, l, NULL, pkt, len, &lm->rxaddr[i],
				     mh->msg_namelen,
				     has_local ? &local : NULL);
		}
		if (n < LM_BATCH)
			return;
	}
}

static void master_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm *lm = container_of(w, struct lm, rx);

	(void)loop;
	(void)revents;
	drain(lm, lm->fd, NULL);
}

static void link_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm_link *l = container_of(w, struct lm_link, rx);

	(void)loop;
	(void)revents;
	drain(l->lm, l->fd, l);
}

/* Master: one socket on the listen address; "::" also takes IPv4. */
int lm_udp_master_open(struct lm *lm)
{
	struct sockaddr_storage *a = &lm->cfg.addr;
	int off = 0, on = 1, fd, err;

	fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)a)->sin6_addr)) {
		/* ":PORT" on a kernel without IPv6: IPv4 only. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)a;
		in_port_t port = ((struct sockaddr_in6 *)a)->sin6_port;

		memset(a, 0, sizeof(*a));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		lm->cfg.addr_len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	}
	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR: it would let another process bind the port. */
	if (a->ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
	lm_sock_tune(fd, a->ss_family);
	/* routes through the tunnel never take the tunnel's own packets */
	if (lm->cfg.fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &lm->cfg.fwmark,
			   sizeof(lm->cfg.fwmark));
	if (bind(fd, (struct sockaddr *)a, lm->cfg.addr_len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	lm->fd = fd;
	ev_io_init(&lm->rx, master_rx_cb, fd, EV_READ);
	ev_io_start(lm->loop, &lm->rx);
	return 0;
}

int lm_bind_link_socket(struct lm_link *l, int fd)
{
	uint32_t mark = l->lm->cfg.fwmark;

	/* route_default: braid's own packets keep using their uplinks */
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark,
			       sizeof(mark)) < 0)
		return -errno;
	if (l->ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE,
				       l->ifname, strlen(l->ifname)) < 0)
		return -errno;
	if (l->bind_len && bind(fd, (struct sockaddr *)&l->bind,
				l->bind_len) < 0)
		return -errno;
	return 0;
}

void lm_udp_link_close(struct lm_link *l)
{
	if (l->fd < 0)
		return;
	ev_io_stop(l->lm->loop, &l->rx);
	close(l->fd);
	l->fd = -1;
}

/* Slave: opens the link's UDP socket, bound to its uplink and connected to
 * the master (or, for a SOCKS link, to the relay). Failures are logged
 * (rate-limited) and retried by the send path. */
int lm_udp_link_open(struct lm_link *l)
{
	struct lm *lm = l->lm;
	const struct sockaddr_storage *to = &lm->cfg.addr;
	socklen_t tolen = lm->cfg.addr_len;
	const char *step;
	int fd, err;

	if (l->px) {
		to = &l->px->relay;
		tolen = l->px->relay_len;
	}
	l->last_open = ev_now(lm->loop);
	step = "socket";
	fd = socket(to->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		err = -errno;
		goto out_log;
	}
	lm_sock_tune(fd, to->ss_family);
	step = l->ifname[0] ? "bind to interface" : "bind to source address";
	err = lm_bind_link_socket(l, fd);
	if (err < 0)
		goto out_close;
	step = l->px ? "connect to the UDP relay" : "connect to master";
	if (connect(fd, (const struct sockaddr *)to, tolen) < 0) {
		err = -errno;
		goto out_close;
	}
	l->fd = fd;
	ev_io_init(&l->rx, link_rx_cb, fd, EV_READ);
	ev_io_start(lm->loop, &l->rx);
	return 0;

out_close:
	close(fd);
out_log:
	log_warn_rl(&l->open_rl, "link %s: %s%s%s failed: %s", l->name, step,
		    l->ifname[0] ? " " : "", l->ifname, strerror(-err));
	return err;
}

/* Master: sends pkt to the link's peer from the address the peer used. */
static ssize_t master_sendto(struct lm *lm, struct lm_link *l,
			     const uint8_t *pkt, size_t len)
{
	union {
		uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)pkt, .iov_len = len };
	struct msghdr mh = { .msg_name = &l->peer, .msg_namelen = l->peer_len,
			     .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t n;

	if (l->has_local) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		c = (struct cmsghdr *)ctl.buf;
		if (lm->cfg.addr.ss_family == AF_INET6) {
			struct in6_pktinfo pi = { .ipi6_addr = l->local.v6 };

			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		} else {
			struct in_pktinfo pi = { .ipi_spec_dst = l->local.v4 };

			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
		}
	}
	n = sendmsg(lm->fd, &mh, MSG_DONTWAIT);
	if (n < 0 && l->has_local && (errno == EINVAL || errno == EADDRNOTAVAIL)) {
		/* our address went away: let routing pick until the peer's
		 * next packet tells us which one it uses now */
		l->has_local = false;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		n = sendmsg(lm->fd, &mh, MSG_DONTWAIT);
	}
	return n;
}

/* Sends a sealed packet (with LM_HEADROOM bytes free in front of it) on a
 * UDP path. Returns 0 or -errno as lm_send documents. */
int lm_udp_xmit(struct lm *lm, struct lm_link *l, uint8_t *pkt, size_t len)
{
	ssize_t n;
	int err;

	if (lm->cfg.master) {
		n = master_sendto(lm, l, pkt, len);
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
			return -ENOBUFS;
	} else {
		if (l->fd < 0 &&
		    (l->px || ev_now(lm->loop) - l->last_open < REOPEN_INTERVAL ||
		     lm_udp_link_open(l) < 0))
			return -ENOTCONN;
		if (l->px) {
			int hl = lm_socks_udp_encode(
				lm->txbuf, LM_HEADROOM,
				(struct sockaddr *)&lm->cfg.addr);

			if (hl < 0)
				return hl;
			/* the header goes right in front of the packet */
			memmove(pkt - hl, lm->txbuf, hl);
			pkt -= hl;
			len += hl;
		}
		n = send(l->fd, pkt, len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
			return -EAGAIN;
	}
	if (n >= 0)
		return 0;
	err = errno;
	if (err == ECONNREFUSED)	/* an old ICMP error; keepalives tell */
		return -err;
	log_warn_rl(&l->send_rl, "link %s (id %u): send: %s",
		    l->name[0] ? l->name : "?", l->id, strerror(err));
	/* A connected socket keeps its source address forever: after an
	 * interface or address change only a new one works. A SOCKS link's
	 * relay socket is renewed with its association. */
	if (!lm->cfg.master) {
		if (l->px)
			lm_proxy_reset(l, "sending to the UDP relay failed");
		else
			lm_udp_link_close(l);
	}
	return -err;
}
