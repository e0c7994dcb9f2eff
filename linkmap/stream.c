/* SPDX-License-Identifier: MIT */
/* Sealed packets over TCP: a 2-byte length in front of each, no standing
 * queue (a packet that does not fit now is dropped), and the master's
 * listener for streams that come through SOCKS5 CONNECT proxies. */
#include <errno.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bytes.h"
#include "linkmap-int.h"

#define AUTH_TIMEOUT 10.0	/* master: first valid frame within this */
#define IDLE_TIMEOUT 30.0	/* master: silence that ends a stream */

static void stream_rx_cb(struct ev_loop *loop, ev_io *w, int revents);
static void stream_tx_cb(struct ev_loop *loop, ev_io *w, int revents);
static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents);

struct lm_stream *lm_stream_new(struct lm *lm, struct lm_link *owner)
{
	struct lm_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->lm = lm;
	s->owner = owner;
	s->fd = -1;
	ev_init(&s->idle, idle_cb);
	return s;
}

bool lm_stream_open(const struct lm_stream *s)
{
	return s && s->fd >= 0;
}

/* Low latency over throughput: no Nagle, little unsent data in the
 * kernel, and keepalives to notice a dead peer behind a quiet proxy. */
void lm_tcp_tune(int fd)
{
	int on = 1, lowat = LM_STREAM_UNSENT_MAX, idle = 5, intvl = 2, cnt = 3;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}

void lm_stream_attach(struct lm_stream *s, int fd, const uint8_t *pre,
		      size_t prelen)
{
	s->fd = fd;
	s->broken = false;
	s->rlen = 0;
	s->wlen = s->woff = 0;
	s->last_rx = ev_now(s->lm->loop);
	lm_tcp_tune(fd);
	if (prelen > sizeof(s->rbuf))
		prelen = sizeof(s->rbuf);
	memcpy(s->rbuf, pre, prelen);
	s->rlen = prelen;
	ev_io_init(&s->rx, stream_rx_cb, fd, EV_READ);
	ev_io_init(&s->tx, stream_tx_cb, fd, EV_WRITE);
	ev_io_start(s->lm->loop, &s->rx);
	if (prelen)
		ev_feed_event(s->lm->loop, &s->rx, EV_READ);
}

void lm_stream_close(struct lm_stream *s)
{
	if (s->fd < 0)
		return;
	ev_io_stop(s->lm->loop, &s->rx);
	ev_io_stop(s->lm->loop, &s->tx);
	ev_timer_stop(s->lm->loop, &s->idle);
	close(s->fd);
	s->fd = -1;
	s->rlen = s->wlen = s->woff = 0;
}

/* Master: a stream is gone; its links wait for their next packet. */
static void master_stream_free(struct lm_stream *s)
{
	struct lm *lm = s->lm;

	for (size_t i = 0; i < LM_MAX_LINKS; i++) {
		struct lm_link *l = &lm->links[i];

		if (l->used && l->stream == s) {
			l->stream = NULL;
			l->peer_len = 0;
		}
	}
	for (size_t i = 0; i < LM_MAX_STREAMS; i++)
		if (lm->streams[i] == s)
			lm->streams[i] = NULL;
	lm_stream_close(s);
	free(s);
}

/* The stream broke (EOF, error, garbage): the slave rebuilds its link,
 * the master forgets the stream. */
static void stream_lost(struct lm_stream *s)
{
	if (s->owner) {
		lm_stream_close(s);
		lm_proxy_stream_lost(s->owner);
	} else {
		s->lm->st.streams_dropped++;
		master_stream_free(s);
	}
}

/* Hands every complete frame in rbuf to lm_packet_in. Returns false if
 * the stream carries something that cannot be a frame. */
static bool frames_in(struct lm_stream *s)
{
	struct lm *lm = s->lm;
	size_t off = 0;

	while (s->rlen - off >= 2) {
		size_t flen = get_be16(s->rbuf + off);
		uint64_t before = lm->st.auth_fail + lm->st.malformed;

		if (flen < LM_OVERHEAD || flen > LM_BUF_LEN) {
			lm->st.malformed++;
			return false;
		}
		if (s->rlen - off - 2 < flen)
			break;
		lm_packet_in(lm, s->owner, s, s->rbuf + off + 2, flen,
			     &s->peer, s->peer_len, NULL);
		/* a stream that carries one forgery carries no more; one
		 * that failed to send while answering is gone too */
		if (lm->st.auth_fail + lm->st.malformed != before || s->broken)
			return false;
		off += 2 + flen;
	}
	memmove(s->rbuf, s->rbuf + off, s->rlen - off);
	s->rlen -= off;
	return true;
}

static void stream_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm_stream *s = container_of(w, struct lm_stream, rx);

	(void)loop;
	(void)revents;
	if (s->broken) {
		stream_lost(s);
		return;
	}
	for (int round = 0; round < 16; round++) {
		ssize_t n = 0;

		if (s->rlen < sizeof(s->rbuf)) {
			n = read(s->fd, s->rbuf + s->rlen,
				 sizeof(s->rbuf) - s->rlen);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (n <= 0) {
				stream_lost(s);
				return;
			}
			s->rlen += n;
		}
		if (!frames_in(s)) {
			stream_lost(s);
			return;
		}
		if ((size_t)n < sizeof(s->rbuf) / 2)
			return;
	}
}

static int flush(struct lm_stream *s)
{
	while (s->woff < s->wlen) {
		ssize_t n = write(s->fd, s->wbuf + s->woff, s->wlen - s->woff);

		if (n < 0)
			return errno == EAGAIN ? -EAGAIN : -errno;
		s->woff += n;
	}
	s->wlen = s->woff = 0;
	return 0;
}

static void stream_tx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm_stream *s = container_of(w, struct lm_stream, tx);
	int err = flush(s);

	(void)revents;
	if (err == 0)
		ev_io_stop(loop, w);
	else if (err != -EAGAIN)
		stream_lost(s);
}

int lm_stream_send(struct lm_stream *s, uint8_t *pkt, size_t len)
{
	uint8_t *frame = pkt - 2;
	int unsent = 0, err;
	ssize_t n;

	if (s->fd < 0 || s->broken)
		return -ENOTCONN;
	/* Finish a partly written frame first; if that cannot be done now,
	 * or the kernel already holds enough unsent data, this packet is
	 * dropped: a queue here would only add delay. */
	if (s->wlen && flush(s) < 0)
		return -EAGAIN;
	if (ioctl(s->fd, SIOCOUTQNSD, &unsent) == 0 &&
	    unsent > LM_STREAM_UNSENT_MAX)
		return -EAGAIN;
	put_be16(frame, (uint16_t)len);
	n = write(s->fd, frame, len + 2);
	if (n < 0) {
		err = errno;
		if (err == EAGAIN)
			return -EAGAIN;
		/* not torn down here: a receive callback further up the
		 * stack may be walking this stream's buffer */
		s->broken = true;
		ev_feed_event(s->lm->loop, &s->rx, EV_READ);
		return -err;
	}
	if ((size_t)n < len + 2) {
		/* keep the rest: a stream must never carry half a frame */
		s->wlen = len + 2 - n;
		s->woff = 0;
		memcpy(s->wbuf, frame + n, s->wlen);
		ev_io_start(s->lm->loop, &s->tx);
	}
	return 0;
}

/* ---- master: the listener ---- */

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lm_stream *s = container_of(w, struct lm_stream, idle);
	ev_tstamp left = s->last_rx + IDLE_TIMEOUT - ev_now(loop);

	(void)revents;
	if (s->last_rx && left > 0) {
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	s->lm->st.streams_dropped++;
	master_stream_free(s);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm *lm = container_of(w, struct lm, accept_io);

	(void)revents;
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		struct lm_stream *s = NULL;
		size_t slot;
		int fd;

		fd = accept4(lm->tcp_fd, (struct sockaddr *)&peer, &plen,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn_rl(&lm->tcp_rl, "accept: %s",
					    strerror(errno));
			return;
		}
		for (slot = 0; slot < LM_MAX_STREAMS; slot++)
			if (!lm->streams[slot])
				break;
		if (slot < LM_MAX_STREAMS)
			s = lm_stream_new(lm, NULL);
		if (!s) {
			lm->st.streams_refused++;
			close(fd);
			continue;
		}
		lm->streams[slot] = s;
		memcpy(&s->peer, &peer, plen);
		s->peer_len = plen;
		lm_stream_attach(s, fd, NULL, 0);
		/* until a frame authenticates, it has AUTH_TIMEOUT */
		s->last_rx = 0;
		ev_timer_set(&s->idle, AUTH_TIMEOUT, 0.0);
		ev_timer_start(loop, &s->idle);
	}
}

int lm_tcp_listen(struct lm *lm)
{
	const struct sockaddr_storage *a = &lm->cfg.addr;
	int off = 0, on = 1, fd, err;

	fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	if (a->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	/* On a TCP listener this only skips TIME_WAIT after a restart;
	 * Linux still refuses a second listener on the port. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* its connections' packets are braid's own: never into the TUN */
	if (lm->cfg.fwmark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &lm->cfg.fwmark,
			   sizeof(lm->cfg.fwmark));
	if (bind(fd, (const struct sockaddr *)a, lm->cfg.addr_len) < 0 ||
	    listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	lm->tcp_fd = fd;
	ev_io_init(&lm->accept_io, accept_cb, fd, EV_READ);
	ev_io_start(lm->loop, &lm->accept_io);
	return 0;
}

void lm_tcp_close_all(struct lm *lm)
{
	for (size_t i = 0; i < LM_MAX_STREAMS; i++)
		if (lm->streams[i])
			master_stream_free(lm->streams[i]);
	if (lm->tcp_fd >= 0) {
		ev_io_stop(lm->loop, &lm->accept_io);
		close(lm->tcp_fd);
		lm->tcp_fd = -1;
	}
}
