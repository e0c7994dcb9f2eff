/* SPDX-License-Identifier: MIT */
/* Weighted round-robin over live links, keepalives and dead-link
 * detection. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "multiplexer-int.h"

struct mux_link {
	bool used;
	bool up;
	bool rx_seen;		/* has delivered data */
	uint16_t id;
	uint32_t tx_lseq;	/* next per-link sequence number */
	uint32_t rx_max;	/* highest global sequence it delivered */
	struct mux_est est;	/* what the link does, from feedback */
	struct mux_fb rx_fb;	/* what we received, for our feedback */
	double rx_last;		/* when the newest packet arrived */
	bool fb_due;
	struct mux *m;
	ev_tstamp last_rx;
	ev_timer dead;		/* fires when the link may have gone silent */
	ev_timer ka;		/* slave: next keepalive */
	struct mux_link_stats st;
};

#define REORDER_SLOTS 2048

struct mux {
	struct ev_loop *loop;
	struct mux_cfg cfg;
	struct mux_stats st;
	uint32_t tx_seq;		/* next global sequence number */
	struct mux_reorder ro;
	ev_timer ro_timer;		/* gives up a hole that waited enough */
	ev_timer fb_timer;		/* sends feedback */
	struct mux_link links[MUX_MAX_LINKS];
	struct mux_wrr wrr[MUX_MAX_LINKS];	/* parallel to links[] */
};

int mux_wrr_pick(struct mux_wrr *w, size_t n)
{
	long total = 0;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (!w[i].eligible)
			continue;
		w[i].credit += w[i].weight;
		total += w[i].weight;
		if (best < 0 || w[i].credit > w[best].credit ||
		    (w[i].credit == w[best].credit && w[best].stream &&
		     !w[i].stream))
			best = (int)i;
	}
	if (best >= 0)
		w[best].credit -= total;
	return best;
}

static size_t link_index(const struct mux *m, const struct mux_link *l)
{
	return (size_t)(l - m->links);
}

static struct mux_link *link_find(struct mux *m, uint16_t id)
{
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)
		if (m->links[i].used && m->links[i].id == id)
			return &m->links[i];
	return NULL;
}

static void link_set_up(struct mux_link *l, bool up)
{
	struct mux *m = l->m;
	struct mux_wrr *w = &m->wrr[link_index(m, l)];

	l->up = up;
	w->eligible = up;
	w->credit = 0;
	if (up) {
		log_info("link %s (id %u) up", l->st.name, l->id);
	} else {
		l->st.downs++;
		log_warnx("link %s (id %u) down: silent for %.1f s",
			  l->st.name, l->id, ev_now(m->loop) - l->last_rx);
	}
	if (m->cfg.ops->state)
		m->cfg.ops->state(m->cfg.ctx, l->id, up);
}

/* libev's "let it expire, then look" timeout: re-armed for the remaining
 * time, so a busy link costs no timer work per packet. */
static void dead_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux_link *l = container_of(w, struct mux_link, dead);
	ev_tstamp left = l->last_rx + l->m->cfg.dead_time - ev_now(loop);

	(void)revents;
	if (left > 0) {
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	ev_timer_stop(loop, w);
	if (l->up)
		link_set_up(l, false);
}

/* Keepalive: stamp (u64, ns), weight (u32), name (32 bytes, NUL padded). */
static void keepalive_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux_link *l = container_of(w, struct mux_link, ka);
	uint8_t buf[MUX_KEEPALIVE_LEN] = { 0 };
	uint32_t weight = l->st.weight;

	(void)revents;
	put_be64(buf, (uint64_t)(ev_now(loop) * 1e9));
	put_be32(buf + 8, weight);
	memcpy(buf + 12, l->st.name, strnlen(l->st.name, MUX_NAME_LEN));
	l->m->cfg.ops->send(l->m->cfg.ctx, l->id, MUX_MSG_KEEPALIVE, buf,
			    sizeof(buf));
}

int mux_link_add(struct mux *m, uint16_t id, const char *name,
		 unsigned weight)
{
	struct mux_link *l = NULL;

	if (link_find(m, id))
		return -EEXIST;
	for (size_t i = 0; i < MUX_MAX_LINKS && !l; i++)
		if (!m->links[i].used)
			l = &m->links[i];
	if (!l)
		return -ENOSPC;
	memset(l, 0, sizeof(*l));
	l->used = true;
	l->id = id;
	l->m = m;
	snprintf(l->st.name, sizeof(l->st.name), "%s", name);
	l->st.weight = weight ? weight : 1;
	m->wrr[link_index(m, l)] = (struct mux_wrr){ .weight = l->st.weight };
	ev_init(&l->dead, dead_cb);
	ev_init(&l->ka, keepalive_cb);
	if (!m->cfg.master) {
		ev_timer_set(&l->ka, 0.0, m->cfg.keepalive);
		ev_timer_start(m->loop, &l->ka);
	}
	return 0;
}

void mux_link_set_stream(struct mux *m, uint16_t id, bool stream)
{
	struct mux_link *l = link_find(m, id);

	if (!l)
		return;
	l->st.stream = stream;
	m->wrr[link_index(m, l)].stream = stream;
}

/* The eligible link where a packet of len bytes is expected to arrive
 * first; round-robin while any eligible link has no estimate yet (or if
 * configured so). */
static int pick(struct mux *m, size_t len)
{
	ev_tstamp now = ev_now(m->loop);
	double best_t = INFINITY, stalled_t = INFINITY;
	int best = -1, stalled = -1;

	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN)
		return mux_wrr_pick(m->wrr, MUX_MAX_LINKS);
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		double t;

		if (!m->wrr[i].eligible)
			continue;
		t = mux_est_arrival(&m->links[i].est, len);
		/* a stalled link gets packets only if all are stalled */
		if (!isnan(t) && mux_est_stalled(&m->links[i].est, now)) {
			if (t < stalled_t) {
				stalled_t = t;
				stalled = (int)i;
			}
			continue;
		}
		if (isnan(t))
			return mux_wrr_pick(m->wrr, MUX_MAX_LINKS);
		/* a stream link loses ties to a UDP one */
		if (t < best_t || (t == best_t && m->wrr[best].stream &&
				   !m->wrr[i].stream)) {
			best_t = t;
			best = (int)i;
		}
	}
	if (best < 0)
		return stalled;
	/* every link already holds MUX_QUEUE_MAX of queue: dropping this
	 * packet tells the sender to slow down; queueing it would only add
	 * delay (bufferbloat) */
	if (m->links[best].est.measured &&
	    mux_est_queue(&m->links[best].est) > MUX_QUEUE_MAX)
		return -2;
	return best;
}

int mux_send(struct mux *m, uint8_t *pkt, size_t len)
{
	int tried[MUX_MAX_LINKS], ntried = 0, err = -ENETUNREACH;
	uint8_t *msg = pkt - MUX_HDR_LEN;
	uint32_t seq = m->tx_seq++;

	/* A link that refuses the packet (interface gone, buffer full) is
	 * skipped for this packet, so the packet still leaves if any can. */
	for (;;) {
		int i = pick(m, len);
		struct mux_link *l;

		if (i == -2) {
			m->st.congested++;
			err = -ENOBUFS;
			break;
		}
		if (i < 0)
			break;
		l = &m->links[i];
		put_be32(msg, seq);
		put_be32(msg + 4, l->tx_lseq);
		err = m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_DATA, msg,
				       len + MUX_HDR_LEN);
		if (err == 0) {
			l->st.data_tx++;
			mux_est_sent(&l->est, l->tx_lseq, len + MUX_HDR_LEN,
				     ev_now(m->loop));
			l->tx_lseq++;
			break;
		}
		l->st.send_fail++;
		/* the master's UDP links share one socket: full is full */
		if (err == -ENOBUFS)
			break;
		m->wrr[i].eligible = false;
		tried[ntried++] = i;
	}
	for (int k = 0; k < ntried; k++)
		m->wrr[tried[k]].eligible = m->links[tried[k]].up;
	if (err == -ENETUNREACH && !ntried)
		m->st.no_link++;
	return err;
}

static void keepalive_in(struct mux *m, struct mux_link *l, uint8_t *buf,
			 size_t len)
{
	uint32_t weight;

	if (len < MUX_KEEPALIVE_LEN)
		return;
	weight = get_be32(buf + 8);
	if (weight && weight <= 1000 && weight != l->st.weight) {
		l->st.weight = weight;
		m->wrr[link_index(m, l)].weight = weight;
	}
	if (buf[12]) {
		char name[MUX_NAME_LEN];

		/* printable ASCII only: it ends up in logs and terminals */
		memcpy(name, buf + 12, MUX_NAME_LEN - 1);
		name[MUX_NAME_LEN - 1] = '\0';
		for (char *p = name; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		if (strcmp(name, l->st.name)) {
			log_info("link id %u is called %s", l->id, name);
			memcpy(l->st.name, name, sizeof(name));
		}
	}
	m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_KEEPALIVE_ACK, buf, 8);
}

static void deliver(void *ctx, uint8_t *pkt, size_t len)
{
	struct mux *m = ctx;

	m->cfg.ops->deliver(m->cfg.ctx, 0, pkt, len);
}

/* A hole is lost for sure once every live link has delivered something
 * sent after it: each link keeps its packets in order. */
static bool hole_lost(const struct mux *m)
{
	bool any = false;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		const struct mux_link *l = &m->links[i];

		if (!l->used || !l->up)
			continue;
		if (!l->rx_seen || (int32_t)(l->rx_max - m->ro.next) <= 0)
			return false;
		any = true;
	}
	return any;
}

static void ro_arm(struct mux *m)
{
	double at = mux_reorder_deadline(&m->ro);

	ev_timer_stop(m->loop, &m->ro_timer);
	if (!at)
		return;
	at -= ev_now(m->loop);
	ev_timer_set(&m->ro_timer, at > 0 ? at : 0, 0.0);
	ev_timer_start(m->loop, &m->ro_timer);
}

static void ro_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux *m = container_of(w, struct mux, ro_timer);

	(void)revents;
	mux_reorder_give_up(&m->ro, ev_now(loop), deliver, m);
	ro_arm(m);
}

static void data_in(struct mux *m, struct mux_link *l, uint8_t *buf,
		    size_t len)
{
	ev_tstamp now = ev_now(m->loop);
	uint32_t seq;

	if (len < MUX_HDR_LEN) {
		m->st.malformed++;
		return;
	}
	seq = get_be32(buf);
	l->st.data_rx++;
	if (!l->rx_fb.rx_count ||
	    (int32_t)(get_be32(buf + 4) - l->rx_fb.lseq_max) > 0)
		l->rx_fb.lseq_max = get_be32(buf + 4);
	l->rx_fb.rx_count++;
	l->rx_fb.rx_bytes += len;
	l->rx_last = now;
	l->fb_due = true;
	if (!l->rx_seen || (int32_t)(seq - l->rx_max) > 0)
		l->rx_max = seq;
	l->rx_seen = true;
	mux_reorder_in(&m->ro, seq, buf + MUX_HDR_LEN, len - MUX_HDR_LEN, now,
		       deliver, m);
	while (m->ro.held && hole_lost(m))
		mux_reorder_give_up(&m->ro, now, deliver, m);
	ro_arm(m);
}

/* Feedback: lseq_max (u32), rx_count (u32), rx_bytes (u64),
 * ack_delay (u32, microseconds). */
static void fb_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux *m = container_of(w, struct mux, fb_timer);
	ev_tstamp now = ev_now(loop);

	(void)revents;
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];
		uint8_t b[MUX_FB_LEN];
		double d;

		if (!l->used || !l->fb_due)
			continue;
		d = (now - l->rx_last) * 1e6;
		put_be32(b, l->rx_fb.lseq_max);
		put_be32(b + 4, l->rx_fb.rx_count);
		put_be64(b + 8, l->rx_fb.rx_bytes);
		put_be32(b + 16, d > 0 ? (uint32_t)d : 0);
		if (m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_FEEDBACK, b,
				     sizeof(b)) == 0)
			l->fb_due = false;
	}
}

static void feedback_in(struct mux *m, struct mux_link *l, const uint8_t *b,
			size_t len)
{
	struct mux_fb fb;

	if (len < MUX_FB_LEN) {
		m->st.malformed++;
		return;
	}
	fb.lseq_max = get_be32(b);
	fb.rx_count = get_be32(b + 4);
	fb.rx_bytes = get_be64(b + 8);
	fb.ack_delay = get_be32(b + 16) / 1e6;
	mux_est_feedback(&l->est, &fb, ev_now(m->loop));
}

void mux_input(struct mux *m, uint16_t link_id, uint8_t type, uint8_t *buf,
	       size_t len)
{
	struct mux_link *l = link_find(m, link_id);
	ev_tstamp now = ev_now(m->loop);

	if (!l && m->cfg.master) {
		char name[MUX_NAME_LEN];

		snprintf(name, sizeof(name), "id%u", link_id);
		if (mux_link_add(m, link_id, name, 1) < 0)
			return;
		l = link_find(m, link_id);
	}
	if (!l)
		return;
	l->last_rx = now;
	if (type == MUX_MSG_KEEPALIVE && m->cfg.master)
		keepalive_in(m, l, buf, len);
	if (!l->up) {
		link_set_up(l, true);
		l->dead.repeat = m->cfg.dead_time;
		ev_timer_again(m->loop, &l->dead);
	}
	switch (type) {
	case MUX_MSG_DATA:
		data_in(m, l, buf, len);
		break;
	case MUX_MSG_FEEDBACK:
		feedback_in(m, l, buf, len);
		break;
	case MUX_MSG_KEEPALIVE_ACK:
		if (!m->cfg.master && len >= 8)
			l->st.rtt = now - get_be64(buf) / 1e9;
		break;
	default:
		break;
	}
}

size_t mux_links(const struct mux *m, uint16_t *ids, size_t n)
{
	size_t count = 0;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		if (!m->links[i].used)
			continue;
		if (count < n)
			ids[count] = m->links[i].id;
		count++;
	}
	return count;
}

int mux_link_stats(const struct mux *m, uint16_t id, struct mux_link_stats *out)
{
	const struct mux_link *l = link_find((struct mux *)m, id);

	if (!l)
		return -ENOENT;
	*out = l->st;
	out->up = l->up;
	out->srtt = l->est.srtt;
	out->min_rtt = l->est.min_rtt;
	out->rate = l->est.btlbw;
	out->loss = l->est.loss;
	out->inflight = mux_est_inflight(&l->est);
	return 0;
}

void mux_stats(const struct mux *m, struct mux_stats *out)
{
	*out = m->st;
	out->reorder = m->ro.st;
}

int mux_new(struct mux **out, struct ev_loop *loop, const struct mux_cfg *c)
{
	struct mux *m;

	if (c->dead_time <= 0 || (!c->master && c->keepalive <= 0))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->cfg = *c;
	if (mux_reorder_init(&m->ro, REORDER_SLOTS,
			     c->max_packet ? c->max_packet : 1500) < 0) {
		free(m);
		return -ENOMEM;
	}
	ev_init(&m->ro_timer, ro_timer_cb);
	ev_timer_init(&m->fb_timer, fb_timer_cb, MUX_FB_INTERVAL,
		      MUX_FB_INTERVAL);
	ev_timer_start(loop, &m->fb_timer);
	*out = m;
	return 0;
}

void mux_free(struct mux *m)
{
	if (!m)
		return;
	ev_timer_stop(m->loop, &m->ro_timer);
	ev_timer_stop(m->loop, &m->fb_timer);
	mux_reorder_free(&m->ro);
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		if (!m->links[i].used)
			continue;
		ev_timer_stop(m->loop, &m->links[i].dead);
		ev_timer_stop(m->loop, &m->links[i].ka);
	}
	free(m);
}
