/* SPDX-License-Identifier: MIT */
/* The link table and the sealed send/receive path, whatever the
 * transport: UDP (udp.c), a SOCKS5 relay (proxy.c) or a stream
 * (stream.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "linkmap-int.h"

#define HS_TICK 0.1		/* s between checks whether a handshake is due */
#define HS_UNANSWERED 10.0	/* s without a session before saying so */

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


struct lm_link *lm_link_find(struct lm *lm, uint16_t id)
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

void lm_set_transport(struct lm_link *l, bool stream)
{
	if (l->on_stream == stream)
		return;
	l->on_stream = stream;
	if (l->lm->cfg.ops->transport)
		l->lm->cfg.ops->transport(l->lm->cfg.ctx, l->id, stream);
}

/* Master: find or learn the link an authenticated packet came in on, and
 * follow it to a new source address, local address or stream. */
static struct lm_link *link_learn(struct lm *lm, uint16_t id,
				  const struct sockaddr_storage *from,
				  socklen_t fromlen, const union lm_local *local,
				  struct lm_stream *via)
{
	struct lm_link *l = lm_link_find(lm, id);
	char a[64], b[64];

	if (!l) {
		l = link_alloc(lm, id);
		if (!l) {
			lm->st.no_slot++;
			log_warn_rl(&lm->slot_rl, "link table full, dropping "
				    "link id %u", id);
			return NULL;
		}
		log_info("link id %u learned from %s%s", id,
			 lm_addr_str((const void *)from, a, sizeof(a)),
			 via ? " (TCP stream)" : "");
	} else if (l->peer_len && (fromlen != l->peer_len ||
				   memcmp(from, &l->peer, fromlen) != 0)) {
		log_warn_rl(&l->move_rl, "link id %u moved from %s to %s%s",
			    id,
			    lm_addr_str((const void *)&l->peer, a, sizeof(a)),
			    lm_addr_str((const void *)from, b, sizeof(b)),
			    via ? " (TCP stream)" : "");
	}
	memcpy(&l->peer, from, fromlen);
	l->peer_len = fromlen;
	l->has_local = local != NULL;
	if (local)
		l->local = *local;
	l->stream = via;
	lm_set_transport(l, via != NULL);
	return l;
}

/* Sends a finished packet (LM_HEADROOM free in front of it) on l. */
static int link_xmit(struct lm *lm, struct lm_link *l, uint8_t *pkt,
		     size_t len)
{
	if (lm->cfg.master && l->stream)
		return lm_stream_send(l->stream, pkt, len);
	if (l->px)
		return lm_proxy_xmit(l, pkt, len);
	return lm_udp_xmit(lm, l, pkt, len);
}

static void heard(struct lm_link *l, struct lm_stream *via,
		  size_t len, ev_tstamp now)
{
	if (via)
		via->last_rx = now;
	l->last_rx = now;
	if (l->px)
		lm_proxy_heard(l);
	l->st.rx_packets++;
	l->st.rx_bytes += len;
}

/* Master: a valid, fresh initiation is answered on the link it came on
 * (learning or moving the link: its MAC proves the key). */
static void init_in(struct lm *lm, struct lm_stream *via, const uint8_t *pkt,
		    size_t len, const struct sockaddr_storage *from,
		    socklen_t fromlen, const union lm_local *local)
{
	ev_tstamp now = ev_now(lm->loop);
	uint8_t *resp = lm->txbuf + LM_HEADROOM;
	struct lm_link *l;
	uint16_t id;
	int n;

	n = lm_sess_init_in(&lm->sess, now, pkt, len, &id, resp, LM_BUF_LEN,
			    &lm->st);
	if (n < 0)
		return;
	l = link_learn(lm, id, from, fromlen, local, via);
	if (!l)
		return;
	heard(l, via, len, now);
	if (link_xmit(lm, l, resp, n) == 0) {
		l->st.tx_packets++;
		l->st.tx_bytes += n;
	}
}

static void resp_in(struct lm *lm, struct lm_link *l, struct lm_stream *via,
		    const uint8_t *pkt, size_t len)
{
	ev_tstamp now = ev_now(lm->loop);
	bool first = !lm->sess.cur.valid;
	uint16_t id;

	if (!l || lm_sess_resp_in(&lm->sess, now, pkt, len, &id, &lm->st) < 0)
		return;
	heard(l, via, len, now);
	lm->hs_unanswered = 0;
	if (first)
		log_info("session with the master established (link %s)",
			 l->name);
	else
		log_debug("session keys renewed (link %s)", l->name);
}

void lm_packet_in(struct lm *lm, struct lm_link *via_link,
		  struct lm_stream *via_stream, uint8_t *pkt, size_t len,
		  const struct sockaddr_storage *from, socklen_t fromlen,
		  const union lm_local *local)
{
	ev_tstamp now = ev_now(lm->loop);
	struct lm_link *l = via_link;
	struct lm_keypair *kp;
	struct lm_hdr h;
	uint8_t *payload;
	int n, old;

	/* a braid of an earlier release: dropped like any malformed packet,
	 * but said, or the link just never comes up. Unauthenticated, so it
	 * names no one. */
	if ((old = lm_hdr_looks_old(pkt, len))) {
		log_warn_rl(&lm->version_rl, "dropped what looks like a "
			    "packet of braid wire protocol %d: this braid "
			    "speaks %u; run the same release on both ends",
			    old, LM_WIRE_VERSION);
		lm->st.malformed++;
		return;
	}
	if (len >= 2 && pkt[1] == LM_HS_INIT && lm->cfg.master) {
		init_in(lm, via_stream, pkt, len, from, fromlen, local);
		return;
	}
	if (len >= 2 && pkt[1] == LM_HS_RESP && !lm->cfg.master) {
		resp_in(lm, via_link, via_stream, pkt, len);
		return;
	}
	/* Opened, tied to its link, and only then taken: a packet that
	 * fails any check changes nothing. */
	n = lm_sess_open(&lm->sess, now, pkt, len, &h, &payload, &kp,
			 &lm->st);
	if (n < 0)
		return;
	if (lm->cfg.master) {
		l = link_learn(lm, h.link_id, from, fromlen, local, via_stream);
		if (!l)
			return;
	} else if (!l || h.link_id != l->id) {
		lm->st.malformed++;
		return;
	}
	lm_sess_commit(&lm->sess, kp, &h, now);
	heard(l, via_stream, len, now);
	lm->cfg.ops->recv(lm->cfg.ctx, l->id, h.type, payload, n);
}

int lm_link_add(struct lm *lm, const struct lm_link_cfg *c)
{
	struct lm_link *l;
	int err;

	if (lm->cfg.master || c->id == 0)
		return -EINVAL;
	if (c->ifname && strlen(c->ifname) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	if (c->bind && c->bind_len > sizeof(l->bind))
		return -EINVAL;
	if (lm_link_find(lm, c->id))
		return -EEXIST;
	l = link_alloc(lm, c->id);
	if (!l)
		return -ENOSPC;
	l->type = c->type;
	snprintf(l->name, sizeof(l->name), "%s", c->name);
	if (c->ifname)
		snprintf(l->ifname, sizeof(l->ifname), "%s", c->ifname);
	if (c->bind) {
		memcpy(&l->bind, c->bind, c->bind_len);
		l->bind_len = c->bind_len;
	}
	if (c->type == LM_LINK_UDP) {
		lm_udp_link_open(l);
		return 0;
	}
	err = lm_proxy_new(l, c);
	if (err < 0)
		l->used = false;
	return err;
}

static void link_close(struct lm_link *l)
{
	lm_proxy_free(l);
	lm_udp_link_close(l);
}

int lm_link_del(struct lm *lm, uint16_t id)
{
	struct lm_link *l = lm_link_find(lm, id);

	if (!l || lm->cfg.master)
		return -ENOENT;
	link_close(l);
	sodium_memzero(l, sizeof(*l));
	l->fd = -1;
	return 0;
}

int lm_link_reset(struct lm *lm, uint16_t id)
{
	struct lm_link *l = lm_link_find(lm, id);

	if (!l || lm->cfg.master)
		return -ENOENT;
	if (l->px) {
		lm_proxy_silent(l);
		return 0;
	}
	lm_udp_link_close(l);
	l->last_open = 0;
	return 0;
}

int lm_send(struct lm *lm, uint16_t id, uint8_t type, const void *payload,
	    size_t len)
{
	struct lm_link *l = lm_link_find(lm, id);
	uint8_t *pkt = lm->txbuf + LM_HEADROOM;
	int n, err;

	if (!l || (lm->cfg.master && !l->peer_len))
		return -ENOENT;
	if (l->px && l->px->state != PX_READY)
		return -ENOTCONN;
	n = lm_sess_seal(&lm->sess, ev_now(lm->loop), type, id, payload, len,
			 pkt, LM_BUF_LEN);
	if (n == -ENOTCONN)
		return n;	/* no session yet: nothing to count */
	if (n < 0) {
		l->st.drops++;
		return n;
	}
	err = link_xmit(lm, l, pkt, n);
	if (err < 0) {
		/* a full buffer is the caller's: it tries again or elsewhere */
		if (err != -ENOTCONN && err != -EAGAIN && err != -ENOBUFS)
			l->st.drops++;
		return err;
	}
	l->st.tx_packets++;
	l->st.tx_bytes += n;
	return 0;
}

/* Slave: starts (or retries) a handshake when one is due, sending the
 * initiation on every link that can carry it. */
static void hs_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lm *lm = container_of(w, struct lm, hs_timer);
	ev_tstamp now = ev_now(loop);

	(void)revents;
	if (!lm_sess_want_handshake(&lm->sess, now))
		return;
	/* nothing says why a master does not answer: say what it may be,
	 * once, after HS_UNANSWERED s with no session at all */
	if (!lm->hs_unanswered) {
		lm->hs_unanswered = now;
	} else if (now - lm->hs_unanswered >= HS_UNANSWERED &&
		   !lm->sess.cur.valid) {
		char a[64];

		log_warn("no answer to the handshake from the master at %s "
			 "for %.0f s: a wrong key, the port blocked on the "
			 "way, or a master of another release (this one "
			 "speaks wire protocol %u)",
			 lm_addr_str((const void *)&lm->cfg.addr, a, sizeof(a)),
			 now - lm->hs_unanswered, LM_WIRE_VERSION);
		lm->hs_unanswered = INFINITY;	/* said once */
	}
	for (size_t i = 0; i < LM_MAX_LINKS; i++) {
		struct lm_link *l = &lm->links[i];
		uint8_t *pkt = lm->txbuf + LM_HEADROOM;
		int n;

		if (!l->used || (l->px && l->px->state != PX_READY))
			continue;
		n = lm_sess_init_make(&lm->sess, now, l->id, pkt, LM_BUF_LEN);
		if (n > 0 && link_xmit(lm, l, pkt, n) == 0) {
			l->st.tx_packets++;
			l->st.tx_bytes += n;
		}
	}
}

int lm_link_stats(const struct lm *lm, uint16_t id, struct lm_link_stats *out)
{
	const struct lm_link *l = lm_link_find((struct lm *)lm, id);

	if (!l)
		return -ENOENT;
	*out = l->st;
	out->stream = l->on_stream;
	if (lm->cfg.master) {
		memcpy(&out->peer, &l->peer, sizeof(out->peer));
		out->peer_len = l->peer_len;
	} else if (l->px) {
		memcpy(&out->peer, &l->px->addr, sizeof(out->peer));
		out->peer_len = l->px->addr_len;
	} else {
		memcpy(&out->peer, &lm->cfg.addr, sizeof(out->peer));
		out->peer_len = lm->cfg.addr_len;
	}
	return 0;
}

void lm_stats(const struct lm *lm, struct lm_stats *out)
{
	*out = lm->st;
	out->session_at = lm->sess.cur.valid ? lm->sess.cur.created : 0;
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
	lm->tcp_fd = -1;
	for (int i = 0; i < LM_BATCH; i++) {
		lm->rxiov[i].iov_base = lm->rxbuf[i];
		lm->rxiov[i].iov_len = sizeof(lm->rxbuf[i]);
		lm->rxmsg[i].msg_hdr.msg_iov = &lm->rxiov[i];
		lm->rxmsg[i].msg_hdr.msg_iovlen = 1;
		lm->rxmsg[i].msg_hdr.msg_name = &lm->rxaddr[i];
		lm->rxmsg[i].msg_hdr.msg_control = lm->rxctl[i];
	}
	lm_sess_init(&lm->sess, c->master, c->key);
	if (c->rekey > 0 && c->rekey < LM_REKEY_AFTER)
		lm->sess.rekey_after = c->rekey;
	if (!c->master) {
		ev_timer_init(&lm->hs_timer, hs_timer_cb, 0.0, HS_TICK);
		ev_timer_start(loop, &lm->hs_timer);
	}
	if (c->master) {
		err = lm_udp_master_open(lm);
		if (err < 0)
			goto out_free;
		err = c->no_tcp ? 0 : lm_tcp_listen(lm);
		if (err < 0)
			goto out_close_udp;
	}
	*out = lm;
	return 0;

out_close_udp:
	ev_io_stop(loop, &lm->rx);
	close(lm->fd);
out_free:
	ev_timer_stop(loop, &lm->hs_timer);
	sodium_memzero(lm, sizeof(*lm));
	free(lm);
	return err;
}

void lm_free(struct lm *lm)
{
	if (!lm)
		return;
	ev_timer_stop(lm->loop, &lm->hs_timer);
	lm_tcp_close_all(lm);
	for (size_t i = 0; i < LM_MAX_LINKS; i++) {
		if (lm->links[i].used)
			link_close(&lm->links[i]);
	}
	if (lm->fd >= 0) {
		ev_io_stop(lm->loop, &lm->rx);
		close(lm->fd);
	}
	lm_sess_wipe(&lm->sess);
	sodium_memzero(lm, sizeof(*lm));
	free(lm);
}
