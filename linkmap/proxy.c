/* SPDX-License-Identifier: MIT */
/* A link through a SOCKS5 proxy (a phone): the TCP control connection,
 * method and password negotiation, UDP ASSOCIATE or CONNECT, fallback
 * from one to the other, and re-negotiation with backoff. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "linkmap-int.h"

#define HANDSHAKE_TIMEOUT 10.0
#define UDP_CHECK 5.0		/* nothing back by then: rebuild or fall back */
#define SILENT_MAX 2		/* silent associations before falling back */
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0

static void px_io_cb(struct ev_loop *loop, ev_io *w, int revents);
static void px_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void px_start(struct lm_link *l);

static struct lm_proxy *px_of(struct lm_link *l)
{
	return l->px;
}

static void px_close(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	struct ev_loop *loop = l->lm->loop;

	ev_io_stop(loop, &px->io);
	ev_timer_stop(loop, &px->timer);
	lm_stream_close(l->stream);
	if (px->fd >= 0)
		close(px->fd);
	px->fd = -1;
	px->len = 0;
	lm_udp_link_close(l);
	px->state = PX_IDLE;
}

/* Tears the link's proxy session down and tries again after a growing,
 * jittered delay; why is logged with the link and proxy. */
void lm_proxy_reset(struct lm_link *l, const char *why)
{
	struct lm_proxy *px = px_of(l);
	double delay = px->backoff * (0.75 + randombytes_uniform(501) / 1000.0);

	px_close(l);
	/* a fallback for silence lasts until the next rebuild; one for a
	 * proxy that cannot relay UDP lasts */
	px->udp = px->want_udp && !px->no_udp;
	log_warn_rl(&px->rl, "link %s: proxy %s: %s; retrying in %.1f s",
		    l->name, px->addr_str, why, delay);
	px->backoff = px->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
						     px->backoff * 2;
	ev_timer_set(&px->timer, delay, 0.0);
	ev_timer_start(l->lm->loop, &px->timer);
}

/* Nothing came back for the dead time. A relay's association may be
 * gone: rebuild it. A stream loses nothing, only time: a proxy that relays
 * one direction at a time (microsocks) can hold replies back for a second
 * under a full upload. The link is out of the rotation already; the stream
 * is rebuilt only if it stays silent for UDP_CHECK more. */
void lm_proxy_silent(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);

	if (px->state != PX_READY)
		return;
	if (px->udp) {
		lm_proxy_reset(l, "nothing came back for the dead time");
		return;
	}
	px->ready_at = ev_now(l->lm->loop);
	ev_timer_stop(l->lm->loop, &px->timer);
	ev_timer_set(&px->timer, UDP_CHECK, 0.0);
	ev_timer_start(l->lm->loop, &px->timer);
}

void lm_proxy_stream_lost(struct lm_link *l)
{
	lm_proxy_reset(l, "CONNECT stream closed");
}

/* An authenticated packet came in on the link: the path works. */
void lm_proxy_heard(struct lm_link *l)
{
	l->px->backoff = BACKOFF_MIN;
	l->px->silent = 0;
}

static int px_write(struct lm_link *l, const uint8_t *buf, int len)
{
	ssize_t n;

	if (len < 0)
		return len;
	/* Handshake messages are small and the socket is empty: a short
	 * write means the connection is broken. */
	n = write(l->px->fd, buf, len);
	if (n != len)
		return n < 0 ? -errno : -EIO;
	return 0;
}

/* CONNECT names the master; UDP ASSOCIATE names where our datagrams will
 * come from, which behind a NAT we cannot know: all zeros (RFC 1928 §7). */
static int send_request(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	struct sockaddr_storage any = { .ss_family = px->addr.ss_family };
	uint8_t buf[32];

	px->state = PX_REQUEST;
	if (px->udp)
		return px_write(l, buf, lm_socks_request(buf, sizeof(buf),
			LM_SOCKS_CMD_UDP, (struct sockaddr *)&any));
	return px_write(l, buf, lm_socks_request(buf, sizeof(buf),
		LM_SOCKS_CMD_CONNECT, (struct sockaddr *)&l->lm->cfg.addr));
}

/* Turns a UDP link into a CONNECT one, saying so once. */
static void fall_back(struct lm_link *l, const char *why)
{
	struct lm_proxy *px = px_of(l);

	if (!px->told)
		log_warnx("link %s: proxy %s: %s; using a CONNECT stream",
			  l->name, px->addr_str, why);
	else
		log_debug("link %s: proxy %s: %s; using a CONNECT stream",
			  l->name, px->addr_str, why);
	px->told = true;
	px_close(l);
	px->udp = false;
	px_start(l);
}

/* UDP ASSOCIATE succeeded: the relay is where datagrams go. A relay of
 * 0.0.0.0/:: (or a name) means "the proxy's own address". */
static void udp_ready(struct lm_link *l, const struct sockaddr_storage *bnd,
		      socklen_t bndlen)
{
	struct lm_proxy *px = px_of(l);
	struct sockaddr_in6 *b6 = (struct sockaddr_in6 *)bnd;
	struct sockaddr_in *b4 = (struct sockaddr_in *)bnd;
	bool unspec = bnd->ss_family == AF_UNSPEC ||
		      (bnd->ss_family == AF_INET &&
		       b4->sin_addr.s_addr == INADDR_ANY) ||
		      (bnd->ss_family == AF_INET6 &&
		       IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr));
	in_port_t port = bnd->ss_family == AF_INET6 ? b6->sin6_port :
						      b4->sin_port;
	char a[64];

	if (unspec) {
		memcpy(&px->relay, &px->addr, px->addr_len);
		px->relay_len = px->addr_len;
		if (px->relay.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&px->relay)->sin6_port = port;
		else
			((struct sockaddr_in *)&px->relay)->sin_port = port;
	} else {
		memcpy(&px->relay, bnd, bndlen);
		px->relay_len = bndlen;
	}
	if (lm_udp_link_open(l) < 0) {
		lm_proxy_reset(l, "cannot open a socket to the UDP relay");
		return;
	}
	px->state = PX_READY;
	px->ready_at = ev_now(l->lm->loop);
	log_info("link %s: proxy %s: UDP relay at %s", l->name, px->addr_str,
		 lm_addr_str((struct sockaddr *)&px->relay, a, sizeof(a)));
	lm_set_transport(l, false);
	/* the control connection stays open (the association lives as long
	 * as it does) and is watched for EOF */
	ev_io_stop(l->lm->loop, &px->io);
	ev_io_set(&px->io, px->fd, EV_READ);
	ev_io_start(l->lm->loop, &px->io);
	ev_timer_stop(l->lm->loop, &px->timer);	/* the handshake deadline */
	ev_timer_set(&px->timer, UDP_CHECK, 0.0);
	ev_timer_start(l->lm->loop, &px->timer);
}

static void stream_ready(struct lm_link *l, size_t used)
{
	struct lm_proxy *px = px_of(l);

	ev_io_stop(l->lm->loop, &px->io);
	ev_timer_stop(l->lm->loop, &px->timer);
	px->state = PX_READY;
	px->ready_at = ev_now(l->lm->loop);
	/* from here the connection carries frames; anything after the
	 * reply already belongs to them */
	lm_stream_attach(l->stream, px->fd, px->buf + used, px->len - used);
	px->fd = -1;	/* the stream owns it now */
	px->len = 0;
	ev_timer_set(&px->timer, UDP_CHECK, 0.0);
	ev_timer_start(l->lm->loop, &px->timer);
	log_info("link %s: proxy %s: CONNECT stream to the master open",
		 l->name, px->addr_str);
	lm_set_transport(l, true);
}

static void reply_in(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	struct sockaddr_storage bnd;
	socklen_t bndlen = 0;
	char why[128];
	int rep, n;

	n = lm_socks_reply_decode(px->buf, px->len, &rep, &bnd, &bndlen);
	if (n == -EAGAIN)
		return;
	if (n < 0) {
		lm_proxy_reset(l, "malformed reply to the request");
		return;
	}
	if (rep == LM_SOCKS_REP_CMD_UNSUPPORTED && px->udp && px->fallback) {
		px->no_udp = true;
		fall_back(l, "refused UDP ASSOCIATE (command not supported)");
		return;
	}
	if (rep != 0) {
		snprintf(why, sizeof(why), "request failed: %s (reply 0x%02x)",
			 lm_socks_rep_str(rep), rep);
		lm_proxy_reset(l, why);
		return;
	}
	if (px->udp)
		udp_ready(l, &bnd, bndlen);
	else
		stream_ready(l, n);
}

/* Acts on what the proxy has sent so far in the current state. */
static void handshake_in(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	int n, v, err = 0;

	switch (px->state) {
	case PX_GREETING:
		n = lm_socks_method_decode(px->buf, px->len, &v);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			lm_proxy_reset(l, "not a SOCKS5 proxy (bad version)");
			return;
		}
		memmove(px->buf, px->buf + n, px->len - n);
		px->len -= n;
		if (v == LM_SOCKS_AUTH_NONE) {
			err = send_request(l);
		} else if (v == LM_SOCKS_AUTH_USERPASS && px->user[0]) {
			uint8_t buf[520];

			px->state = PX_AUTH;
			err = px_write(l, buf, lm_socks_auth_encode(buf,
				sizeof(buf), px->user, px->pass));
			sodium_memzero(buf, sizeof(buf));
		} else if (v == LM_SOCKS_AUTH_USERPASS) {
			lm_proxy_reset(l, "the proxy wants a username and "
				       "password (set username/password)");
			return;
		} else {
			lm_proxy_reset(l, "the proxy accepts none of our "
				       "authentication methods");
			return;
		}
		break;
	case PX_AUTH:
		n = lm_socks_auth_decode(px->buf, px->len, &v);
		if (n == -EAGAIN)
			return;
		if (n < 0 || v != 0) {
			lm_proxy_reset(l, "authentication failed (wrong "
				       "username or password?)");
			return;
		}
		memmove(px->buf, px->buf + n, px->len - n);
		px->len -= n;
		err = send_request(l);
		break;
	case PX_REQUEST:
		reply_in(l);
		return;
	default:
		return;
	}
	if (err < 0)
		lm_proxy_reset(l, "connection to proxy lost");
	else if (px->len)
		handshake_in(l);	/* the proxy sent ahead */
}

static void connected(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	socklen_t len = sizeof(int);
	uint8_t buf[4];
	char why[160];
	int soerr = 0;

	getsockopt(px->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
	if (soerr) {
		snprintf(why, sizeof(why), "unreachable: %s", strerror(soerr));
		lm_proxy_reset(l, why);
		return;
	}
	px->state = PX_GREETING;
	ev_io_stop(l->lm->loop, &px->io);
	ev_io_set(&px->io, px->fd, EV_READ);
	ev_io_start(l->lm->loop, &px->io);
	if (px_write(l, buf, lm_socks_greeting(buf, sizeof(buf),
					       px->user[0])) < 0)
		lm_proxy_reset(l, "connection to proxy lost");
}

static void px_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct lm_proxy *px = container_of(w, struct lm_proxy, io);
	struct lm_link *l = px->owner;
	uint8_t sink[512];
	ssize_t n;

	(void)loop;
	(void)revents;
	if (px->state == PX_CONNECTING) {
		connected(l);
		return;
	}
	if (px->state == PX_READY) {
		/* the control connection of an association: it says nothing
		 * more; EOF or an error ends the association */
		n = read(px->fd, sink, sizeof(sink));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			lm_proxy_reset(l, "connection to proxy lost");
		return;
	}
	n = read(px->fd, px->buf + px->len, sizeof(px->buf) - px->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		lm_proxy_reset(l, n == 0 ? "the proxy closed the connection "
				       "during negotiation" :
				       "connection to proxy lost");
		return;
	}
	px->len += n;
	handshake_in(l);
}

/* Nothing authenticated came back within UDP_CHECK of the path opening.
 * UDP through this proxy is to blame if the master is heard on other
 * links, or after SILENT_MAX tries; otherwise the master may be away, and
 * the link just tries again. */
static void ready_check(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	const struct lm_sess *sess = &l->lm->sess;
	ev_tstamp now = ev_now(l->lm->loop);
	bool heard_elsewhere = sess->cur.valid &&
			       now - sess->last_rx < UDP_CHECK;

	if (l->last_rx >= px->ready_at)
		return;
	px->silent++;
	if (px->udp && px->fallback &&
	    (heard_elsewhere || px->silent >= SILENT_MAX))
		fall_back(l, "no UDP came back through the relay in 5 s");
	else
		lm_proxy_reset(l, px->udp ?
			       "no UDP came back through the relay in 5 s" :
			       "nothing came back through the CONNECT stream "
			       "in 5 s");
}

/* One timer, three uses: retry after backoff, handshake deadline, and the
 * check that packets really come back through a fresh path. */
static void px_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct lm_proxy *px = container_of(w, struct lm_proxy, timer);
	struct lm_link *l = px->owner;

	(void)loop;
	(void)revents;
	switch (px->state) {
	case PX_IDLE:
		px_start(l);
		break;
	case PX_READY:
		ready_check(l);
		break;
	default:
		lm_proxy_reset(l, "no answer from the proxy in 10 s");
		break;
	}
}

static void px_start(struct lm_link *l)
{
	struct lm_proxy *px = px_of(l);
	char why[160];
	int fd, err;

	fd = socket(px->addr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, sizeof(why), "socket: %s", strerror(errno));
		lm_proxy_reset(l, why);
		return;
	}
	px->fd = fd;
	lm_tcp_tune(fd);	/* keepalives notice a proxy that vanished */
	err = lm_bind_link_socket(l, fd);
	if (err == 0 && connect(fd, (struct sockaddr *)&px->addr,
				px->addr_len) < 0 && errno != EINPROGRESS)
		err = -errno;
	if (err < 0) {
		snprintf(why, sizeof(why), "unreachable: %s", strerror(-err));
		lm_proxy_reset(l, why);
		return;
	}
	px->state = PX_CONNECTING;
	px->len = 0;
	ev_io_set(&px->io, fd, EV_WRITE);
	ev_io_start(l->lm->loop, &px->io);
	ev_timer_set(&px->timer, HANDSHAKE_TIMEOUT, 0.0);
	ev_timer_start(l->lm->loop, &px->timer);
}

int lm_proxy_xmit(struct lm_link *l, uint8_t *pkt, size_t len)
{
	if (l->px->state != PX_READY)
		return -ENOTCONN;
	if (!l->px->udp)
		return lm_stream_send(l->stream, pkt, len);
	return lm_udp_xmit(l->lm, l, pkt, len);
}

int lm_proxy_new(struct lm_link *l, const struct lm_link_cfg *c)
{
	struct lm_proxy *px;

	if (!c->proxy || c->proxy_len > sizeof(px->addr))
		return -EINVAL;
	if ((c->username && strlen(c->username) > 255) ||
	    (c->password && strlen(c->password) > 255))
		return -EINVAL;
	px = calloc(1, sizeof(*px));
	if (!px)
		return -ENOMEM;
	l->stream = lm_stream_new(l->lm, l);
	if (!l->stream) {
		free(px);
		return -ENOMEM;
	}
	l->px = px;
	px->owner = l;
	px->fd = -1;
	px->want_udp = px->udp = c->type == LM_LINK_SOCKS5;
	px->fallback = c->fallback;
	px->backoff = BACKOFF_MIN;
	memcpy(&px->addr, c->proxy, c->proxy_len);
	px->addr_len = c->proxy_len;
	lm_addr_str(c->proxy, px->addr_str, sizeof(px->addr_str));
	if (c->username)
		snprintf(px->user, sizeof(px->user), "%s", c->username);
	if (c->password)
		snprintf(px->pass, sizeof(px->pass), "%s", c->password);
	ev_init(&px->io, px_io_cb);
	ev_init(&px->timer, px_timer_cb);
	px_start(l);
	return 0;
}

void lm_proxy_free(struct lm_link *l)
{
	if (!l->px)
		return;
	px_close(l);
	sodium_memzero(l->px, sizeof(*l->px));
	free(l->px);
	l->px = NULL;
	free(l->stream);
	l->stream = NULL;
}
