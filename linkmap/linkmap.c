/* SPDX-License-Identifier: MIT */
/* Link sockets, session tracking and the sealed send/receive path. */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "linkmap-int.h"
#include "log.h"

#define LM_BATCH 32
#define LM_SOCKBUF (4 << 20)
#define REOPEN_INTERVAL 1.0
#define CTL_LEN (CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
		 CMSG_SPACE(sizeof(struct in_pktinfo)))

/* The master's own address a link's packets were sent to; replies leave
 * from it, so a master with several addresses answers from the right one. */
union lm_local {
	struct in_addr v4;
	struct in6_addr v6;
};

struct lm_link {
	uint16_t id;
	bool used;
	char name[32];
	/* slave: own socket */
	int fd;
	ev_io rx;
	struct lm *lm;
	char ifname[IFNAMSIZ];
	struct sockaddr_storage bind;
	socklen_t bind_len;
	ev_tstamp last_open;
	struct log_rl open_rl, send_rl;
	/* master: where the link was last heard from, and on which address */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	union lm_local local;
	bool has_local;
	struct log_rl move_rl;
	struct lm_link_stats st;
};

struct lm {
	struct ev_loop *loop;
	struct lm_cfg cfg;
	int fd;				/* master: the listening socket */
	ev_io rx;
	struct lm_session_key tx;
	uint64_t tx_counter;
	struct lm_peer peer;
	struct lm_stats st;
	struct lm_link links[LM_MAX_LINKS];
	struct log_rl rx_rl, slot_rl;
	uint8_t txbuf[LM_BUF_LEN];
	uint8_t rxbuf[LM_BATCH][LM_BUF_LEN];
	struct sockaddr_storage rxaddr[LM_BATCH];
	uint8_t rxctl[LM_BATCH][CTL_LEN];
	struct mmsghdr rxmsg[LM_BATCH];
	struct iovec rxiov[LM_BATCH];
};

const char *lm_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in6 *s6 = (const void *)sa;
	const struct sockaddr_in *s4 = (const void *)sa;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host,
			  sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(s4->sin_port));
	} else {
		snprintf(buf, len, "(family %d)", sa->sa_family);
	}
	return buf;
}

/* Session ids grow with wall-clock time (ms in the top 44 bits) so a
 * restarted peer's new session looks newer than its old one. */
static uint64_t new_session_id(void)
{
	struct timespec ts;
	uint64_t ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return ms << 20 | (randombytes_random() & 0xfffff) | 1;
}

static struct lm_link *link_find(struct lm *lm, uint16_t id)
{
	for (size_t i = 0; i < LM_MAX_LINKS; i++)
		if (lm->links[i].used && lm->links[i].id == id)
			return &lm->links[i];
	return NULL;
}

static struct lm_link *link_alloc(struct lm *lm, uint16_t id)
{
	for (size_t i = 0; i < LM_MAX_LINKS; i++) {
		struct lm_link *l = &lm->links[i];

		if (!l->used) {
			memset(l, 0, sizeof(*l));
			l->used = true;
			l->id = id;
			l->fd = -1;
			l->lm = lm;
			return l;
		}
	}
	return NULL;
}

static void set_bufs(int fd)
{
	int sz = LM_SOCKBUF;

	/* FORCE variants pass rmem_max when we are root; plain ones are
	 * the fallback and are capped silently. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* Let the outer packet be fragmented rather than vanish on a path with a
 * small MTU. */
static void set_pmtu(int fd, int family)
{
	int v4 = IP_PMTUDISC_DONT, v6 = IPV6_PMTUDISC_DONT;

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

/* Master: find or learn the link an authenticated packet came in on, and
 * follow it to a new source (or local) address. */
static struct lm_link *link_learn(struct lm *lm, uint16_t id,
				  const struct sockaddr_storage *from,
				  socklen_t fromlen, const union lm_local *local,
				  bool has_local)
{
	struct lm_link *l = link_find(lm, id);
	char a[64], b[64];

	if (!l) {
		l = link_alloc(lm, id);
		if (!l) {
			lm->st.no_slot++;
			log_warn_rl(&lm->slot_rl, "link table full, dropping "
				    "link id %u", id);
			return NULL;
		}
		log_info("link id %u learned from %s", id,
			 lm_addr_str((const void *)from, a, sizeof(a)));
	} else if (fromlen != l->peer_len ||
		   memcmp(from, &l->peer, fromlen) != 0) {
		log_warn_rl(&l->move_rl, "link id %u moved from %s to %s", id,
			    lm_addr_str((const void *)&l->peer, a, sizeof(a)),
			    lm_addr_str((const void *)from, b, sizeof(b)));
	}
	memcpy(&l->peer, from, fromlen);
	l->peer_len = fromlen;
	l->has_local = has_local;
	if (has_local)
		l->local = *local;
	return l;
}

/* One datagram or stream frame: opened, tied to its link, and only then
 * taken (so a packet that fails any check changes nothing). */
static void packet_in(struct lm *lm, struct lm_link *sock_link, uint8_t *pkt,
		      size_t len, const struct sockaddr_storage *from,
		      socklen_t fromlen, struct msghdr *mh)
{
	enum lm_dir dir = lm->cfg.master ? LM_DIR_TO_MASTER : LM_DIR_TO_SLAVE;
	ev_tstamp now = ev_now(lm->loop);
	struct lm_link *l = sock_link;
	union lm_local local;
	bool fresh, has_local;
	struct lm_hdr h;
	uint8_t *payload;
	int n;

	n = lm_peer_open(&lm->peer, lm->cfg.key, dir, now, pkt, len, &h,
			 &payload, &fresh, &lm->st);
	if (n < 0)
		return;
	if (lm->cfg.master) {
		has_local = mh && rx_local(mh, &local);
		l = link_learn(lm, h.link_id, from, fromlen, &local, has_local);
		if (!l)
			return;
	} else if (h.link_id != l->id) {
		lm->st.malformed++;
		return;
	}
	lm_peer_commit(&lm->peer, &h, fresh, now);
	l->st.rx_packets++;
	l->st.rx_bytes += len;
	lm->cfg.ops->recv(lm->cfg.ctx, l->id, h.type, payload, n);
}

/* Reads a batch of datagrams from fd; sock_link is NULL on the master. */
static void drain(struct lm *lm, int fd, struct lm_link *sock_link)
{
	for (int round = 0; round < 8; round++) {
		int n;

		for (int i = 0; i < LM_BATCH; i++) {
			lm->rxmsg[i].msg_hdr.msg_namelen =
				sizeof(lm->rxaddr[i]);
			lm->rxmsg[i].msg_hdr.msg_controllen =
				sizeof(lm->rxctl[i]);
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
		for (int i = 0; i < n; i++)
			packet_in(lm, sock_link, lm->rxbuf[i],
				  lm->rxmsg[i].msg_len, &lm->rxaddr[i],
				  lm->rxmsg[i].msg_hdr.msg_namelen,
				  &lm->rxmsg[i].msg_hdr);
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

static void link_close(struct lm_link *l)
{
	if (l->fd < 0)
		return;
	ev_io_stop(l->lm->loop, &l->rx);
	close(l->fd);
	l->fd = -1;
}

/* Slave: opens the link's socket, bound to its uplink and connected to the
 * master. Failures are logged (rate-limited) and retried by lm_send. */
static int link_open(struct lm_link *l)
{
	struct lm *lm = l->lm;
	int family = lm->cfg.addr.ss_family;
	const char *step;
	int fd, err;

	l->last_open = ev_now(lm->loop);
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	step = "socket";
	if (fd < 0)
		goto out_err;
	set_bufs(fd);
	set_pmtu(fd, family);
	step = "bind to interface";
	if (l->ifname[0] && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE,
				       l->ifname, strlen(l->ifname)) < 0)
		goto out_close;
	step = "bind to source address";
	if (l->bind_len && bind(fd, (struct sockaddr *)&l->bind,
				l->bind_len) < 0)
		goto out_close;
	step = "connect to master";
	if (connect(fd, (struct sockaddr *)&lm->cfg.addr,
		    lm->cfg.addr_len) < 0)
		goto out_close;
	l->fd = fd;
	ev_io_init(&l->rx, link_rx_cb, fd, EV_READ);
	ev_io_start(lm->loop, &l->rx);
	return 0;

out_close:
	err = errno;
	close(fd);
	errno = err;
out_err:
	err = errno;
	log_warn_rl(&l->open_rl, "link %s: %s%s%s failed: %s", l->name, step,
		    l->ifname[0] ? " " : "", l->ifname, strerror(err));
	return -err;
}

int lm_link_add_udp(struct lm *lm, uint16_t id, const char *name,
		    const char *ifname, const struct sockaddr *bind,
		    socklen_t bind_len)
{
	struct lm_link *l;

	if (lm->cfg.master || id == 0)
		return -EINVAL;
	if (ifname && strlen(ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if (bind_len > sizeof(l->bind))
		return -EINVAL;
	if (link_find(lm, id))
		return -EEXIST;
	l = link_alloc(lm, id);
	if (!l)
		return -ENOSPC;
	snprintf(l->name, sizeof(l->name), "%s", name);
	if (ifname)
		snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	if (bind) {
		memcpy(&l->bind, bind, bind_len);
		l->bind_len = bind_len;
	}
	link_open(l);
	return 0;
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

int lm_link_reset(struct lm *lm, uint16_t id)
{
	struct lm_link *l = link_find(lm, id);

	if (!l || lm->cfg.master)
		return -ENOENT;
	link_close(l);
	l->last_open = 0;
	return 0;
}

static int link_xmit(struct lm *lm, struct lm_link *l, const uint8_t *pkt,
		     size_t len)
{
	ssize_t n;

	if (lm->cfg.master) {
		n = master_sendto(lm, l, pkt, len);
	} else {
		if (l->fd < 0 &&
		    (ev_now(lm->loop) - l->last_open < REOPEN_INTERVAL ||
		     link_open(l) < 0))
			return -ENOTCONN;
		n = send(l->fd, pkt, len, MSG_DONTWAIT);
	}
	if (n < 0) {
		int err = errno;

		/* A full socket buffer is congestion and ECONNREFUSED an old
		 * ICMP error: drop quietly. Anything else (interface gone,
		 * address changed, no route) is worth a line, and on the
		 * slave a new socket: a connected one keeps its old source
		 * address forever. */
		if (err == EAGAIN || err == ENOBUFS || err == ECONNREFUSED)
			return -err;
		log_warn_rl(&l->send_rl, "link %s (id %u): send: %s",
			    l->name[0] ? l->name : "?", l->id, strerror(err));
		if (!lm->cfg.master)
			link_close(l);
		return -err;
	}
	return 0;
}

int lm_send(struct lm *lm, uint16_t id, uint8_t type, const void *payload,
	    size_t len)
{
	struct lm_link *l = link_find(lm, id);
	struct lm_hdr h = {
		.version = LM_WIRE_VERSION,
		.type = type,
		.link_id = id,
		.session = lm->tx.session,
	};
	int n, err;

	if (!l || (lm->cfg.master && !l->peer_len))
		return -ENOENT;
	h.counter = lm->tx_counter++;
	n = lm_seal(&lm->tx, &h, payload, len, lm->txbuf, sizeof(lm->txbuf));
	if (n < 0) {
		l->st.drops++;
		return n;
	}
	err = link_xmit(lm, l, lm->txbuf, n);
	if (err < 0) {
		l->st.drops++;
		return err;
	}
	l->st.tx_packets++;
	l->st.tx_bytes += n;
	return 0;
}

int lm_link_stats(const struct lm *lm, uint16_t id, struct lm_link_stats *out)
{
	const struct lm_link *l = link_find((struct lm *)lm, id);

	if (!l)
		return -ENOENT;
	*out = l->st;
	memcpy(&out->peer, lm->cfg.master ? &l->peer : &lm->cfg.addr,
	       sizeof(out->peer));
	out->peer_len = lm->cfg.master ? l->peer_len : lm->cfg.addr_len;
	return 0;
}

void lm_stats(const struct lm *lm, struct lm_stats *out)
{
	*out = lm->st;
}

/* Master: one socket on the listen address; "::" also takes IPv4. */
static int master_open(struct lm *lm)
{
	const struct sockaddr_storage *a = &lm->cfg.addr;
	int off = 0, on = 1, fd, err;

	fd = socket(a->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && a->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)a)->sin6_addr)) {
		/* ":PORT" on a kernel without IPv6: IPv4 only. */
		struct sockaddr_in *s4 = (struct sockaddr_in *)&lm->cfg.addr;
		in_port_t port = ((struct sockaddr_in6 *)a)->sin6_port;

		memset(&lm->cfg.addr, 0, sizeof(lm->cfg.addr));
		s4->sin_family = AF_INET;
		s4->sin_port = port;
		lm->cfg.addr_len = sizeof(*s4);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);
	}
	if (fd < 0)
		return -errno;
	/* No SO_REUSEADDR: it would let another process bind the port. */
	if (lm->cfg.addr.ss_family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on));
	} else {
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
	}
	set_bufs(fd);
	set_pmtu(fd, lm->cfg.addr.ss_family);
	if (bind(fd, (const struct sockaddr *)&lm->cfg.addr,
		 lm->cfg.addr_len) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	lm->fd = fd;
	ev_io_init(&lm->rx, master_rx_cb, fd, EV_READ);
	ev_io_start(lm->loop, &lm->rx);
	return 0;
}

int lm_new(struct lm **out, struct ev_loop *loop, const struct lm_cfg *c)
{
	struct lm *lm;
	int err;

	if (sodium_init() < 0)
		return -ENOSYS;
	lm = calloc(1, sizeof(*lm));
	if (!lm)
		return -ENOMEM;
	lm->loop = loop;
	lm->cfg = *c;
	lm->fd = -1;
	for (int i = 0; i < LM_BATCH; i++) {
		lm->rxiov[i].iov_base = lm->rxbuf[i];
		lm->rxiov[i].iov_len = sizeof(lm->rxbuf[i]);
		lm->rxmsg[i].msg_hdr.msg_iov = &lm->rxiov[i];
		lm->rxmsg[i].msg_hdr.msg_iovlen = 1;
		lm->rxmsg[i].msg_hdr.msg_name = &lm->rxaddr[i];
		lm->rxmsg[i].msg_hdr.msg_control = lm->rxctl[i];
	}
	lm_session_key_derive(&lm->tx, c->key,
			      c->master ? LM_DIR_TO_SLAVE : LM_DIR_TO_MASTER,
			      new_session_id());
	if (c->master) {
		err = master_open(lm);
		if (err < 0)
			goto out_free;
	}
	*out = lm;
	return 0;

out_free:
	sodium_memzero(lm, sizeof(*lm));
	free(lm);
	return err;
}

void lm_free(struct lm *lm)
{
	if (!lm)
		return;
	for (size_t i = 0; i < LM_MAX_LINKS; i++)
		if (lm->links[i].used)
			link_close(&lm->links[i]);
	if (lm->fd >= 0) {
		ev_io_stop(lm->loop, &lm->rx);
		close(lm->fd);
	}
	sodium_memzero(lm, sizeof(*lm));
	free(lm);
}
