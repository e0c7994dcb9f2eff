/* SPDX-License-Identifier: MIT */
/* The links: keepalives, dead-link detection, what arrives on them
 * (data into the reorder buffer, feedback into the estimators), and the
 * feedback we send. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bytes.h"
#include "log.h"
#include "multiplexer-int.h"

int mux_wrr_pick(struct mux_wrr *w, size_t n)
{
	long total = 0;
	int best = -1;
	bool main = false;

	for (size_t i = 0; i < n; i++)
		main |= w[i].eligible && !w[i].backup;
	for (size_t i = 0; i < n; i++) {
		if (!w[i].eligible || (main && w[i].backup))
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

static void set_backup(struct mux *m, struct mux_link *l, bool backup)
{
	l->backup = backup;
	m->wrr[link_index(m, l)].backup = backup;
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
	w->eligible = up && !l->retiring;
	w->credit = 0;
	l->stalled = false;
	if (!up)
		mux_sched_give_back(m, l);
	mux_est_forget_inflight(&l->est);
	if (up) {
		log_info("link %s (id %u) up", l->st.name, l->id);
	} else {
		l->st.downs++;
		log_warnx("link %s (id %u) down: silent for %.1f s",
			  l->st.name, l->id, ev_now(m->loop) - l->last_rx);
	}
	if (m->cfg.ops->state)
		m->cfg.ops->state(m->cfg.ctx, l->id, up);
	if (up)		/* after state: the owner tells a stream link */
		mux_sched_up(m, l);
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

/* A keepalive or its answer that a full buffer refused is lost (the
 * linkmap counts other failures; feedback is sent again instead). */
static void ctl_sent(struct mux_link *l, int err)
{
	if (err == -EAGAIN || err == -ENOBUFS)
		l->st.ctl_lost++;
}

static void keepalive_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux_link *l = container_of(w, struct mux_link, ka);
	struct mux *m = l->m;
	uint8_t buf[MUX_KEEPALIVE_LEN] = { 0 };
	uint16_t flags = (l->backup ? MUX_KA_BACKUP : 0) |
			 (m->cfg.redundant ? MUX_KA_REDUNDANT : 0) |
			 (l->retiring ? MUX_KA_LEAVING : 0) | MUX_KA_PADDING;

	(void)revents;
	put_be64(buf, (uint64_t)(ev_now(loop) * 1e9));
	put_be16(buf + 8, (uint16_t)l->st.weight);
	put_be16(buf + 10, flags);
	memcpy(buf + 12, l->st.name, strnlen(l->st.name, MUX_NAME_LEN));
	put_be32(buf + 44, m->epoch);
	put_be32(buf + 48, (uint32_t)(l->st.rtt * 1e6));
	put_be32(buf + 52, (uint32_t)(l->est.cap * 8 / 1e3));
	put_be32(buf + 56, l->incarnation);
	ctl_sent(l, m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_KEEPALIVE,
				     buf, sizeof(buf)));
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
	if (mux_link_sched_init(m, l) < 0)
		return -ENOMEM;
	l->used = true;
	l->id = id;
	l->m = m;
	snprintf(l->st.name, sizeof(l->st.name), "%s", name);
	l->st.weight = weight ? weight : 1;
	m->wrr[link_index(m, l)] = (struct mux_wrr){ .weight = l->st.weight };
	if (!m->cfg.master &&
	    getrandom(&l->incarnation, sizeof(l->incarnation), 0) < 0)
		l->incarnation = (uint32_t)(ev_time() * 1e6) ^ id;
	ev_init(&l->dead, dead_cb);
	ev_init(&l->ka, keepalive_cb);
	if (!m->cfg.master) {
		ev_timer_set(&l->ka, 0.0, m->cfg.keepalive);
		ev_timer_start(m->loop, &l->ka);
	}
	return 0;
}

void mux_link_set_backup(struct mux *m, uint16_t id, bool backup)
{
	struct mux_link *l = link_find(m, id);

	if (l)
		set_backup(m, l, backup);
}

void mux_link_set_weight(struct mux *m, uint16_t id, unsigned weight)
{
	struct mux_link *l = link_find(m, id);

	if (!l)
		return;
	l->st.weight = weight ? weight : 1;
	m->wrr[link_index(m, l)].weight = l->st.weight;
}

void mux_link_set_rate_cap(struct mux *m, uint16_t id, double cap)
{
	struct mux_link *l = link_find(m, id);

	if (l)
		l->est.cap = cap > 0 ? cap : 0;
}

static void link_free(struct mux *m, struct mux_link *l)
{
	ev_timer_stop(m->loop, &l->dead);
	ev_timer_stop(m->loop, &l->ka);
	mux_link_sched_free(l);
	l->used = false;
	m->wrr[link_index(m, l)] = (struct mux_wrr){ 0 };
}

void mux_link_free(struct mux *m, struct mux_link *l)
{
	uint16_t id = l->id;

	l->up = false;
	m->wrr[link_index(m, l)].eligible = false;
	mux_sched_give_back(m, l);	/* its packets in flight go again */
	link_free(m, l);
	mux_sched_drain(m);
	log_info("link %s (id %u) removed", l->st.name, id);
	if (m->cfg.ops->removed)
		m->cfg.ops->removed(m->cfg.ctx, id);
}

/* Takes no new packets; what it has in flight may still arrive. The
 * slave tells the master in its keepalives until the link is gone. */
static void retire(struct mux *m, struct mux_link *l)
{
	l->retiring = true;
	m->wrr[link_index(m, l)].eligible = false;
	l->retire_at = ev_now(m->loop) +
		       fmin(MUX_RETIRE_MAX, fmax(0.2, 2 * mux_est_rto(&l->est)));
	/* keepalives go on, saying it, until it is gone */
	if (!m->cfg.master)
		keepalive_cb(m->loop, &l->ka, 0);
	log_info("link %s (id %u) leaving: draining for up to %.0f ms",
		 l->st.name, l->id, 1e3 * (l->retire_at - ev_now(m->loop)));
}

int mux_link_del(struct mux *m, uint16_t id, bool drain)
{
	struct mux_link *l = link_find(m, id);

	if (!l)
		return -ENOENT;
	if (drain && l->up && m->cfg.sched != MUX_SCHED_ROUNDROBIN)
		retire(m, l);
	else
		mux_link_free(m, l);
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

/* The other side started afresh (its sequence numbers, its counters):
 * so does everything we know of what it received and sends. */
/* The other side's sequence on l starts again: forget what it sent and
 * what we measured, not what is configured (the rate cap). */
static void link_reset_seq(struct mux_link *l)
{
	double cap = l->est.cap, debt = l->est.pace_debt, t = l->est.pace_t;
	uint64_t queued = l->est.queued;	/* still waiting to go */

	memset(&l->rx_fb, 0, sizeof(l->rx_fb));
	l->rx_seen = false;
	l->fb_due = false;
	l->fb_pending = 0;
	l->stalled = false;
	mux_est_init(&l->est);
	l->est.cap = cap;
	l->est.pace_debt = debt;
	l->est.pace_t = t;
	l->est.queued = queued;
}

static void peer_restarted(struct mux *m, uint32_t epoch)
{
	if (m->peer_epoch)
		log_info("peer restarted: sequence state reset");
	m->peer_epoch = epoch;
	mux_reorder_reset(&m->ro);
	mux_hc_reset(m);
	ev_timer_stop(m->loop, &m->ro_timer);
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)
		if (m->links[i].used)
			link_reset_seq(&m->links[i]);
}

static void keepalive_in(struct mux *m, struct mux_link *l, uint8_t *buf,
			 size_t len)
{
	uint8_t ack[MUX_KA_ACK_PAD_LEN];
	uint16_t weight, flags;
	uint32_t epoch;

	uint8_t ka[MUX_KEEPALIVE_LEN] = { 0 };
	uint32_t inc;

	if (len < MUX_KEEPALIVE_MIN)
		return;
	/* an older slave's keepalive: no cap, no incarnation */
	memcpy(ka, buf, len < sizeof(ka) ? len : sizeof(ka));
	buf = ka;
	weight = get_be16(buf + 8);
	flags = get_be16(buf + 10);
	epoch = get_be32(buf + 44);
	if (epoch != m->peer_epoch)
		peer_restarted(m, epoch);
	if (weight && weight <= 1000 && weight != l->st.weight) {
		l->st.weight = weight;
		m->wrr[link_index(m, l)].weight = weight;
	}
	set_backup(m, l, flags & MUX_KA_BACKUP);
	if ((flags & MUX_KA_LEAVING) && !l->retiring)
		retire(m, l);
	if (get_be32(buf + 48) < MUX_RTT_SANE * 1e6)	/* as the slave saw it */
		l->st.rtt = get_be32(buf + 48) / 1e6;
	m->peer_redundant = flags & MUX_KA_REDUNDANT;
	l->est.cap = get_be32(buf + 52) * 1e3 / 8;	/* kbit/s, both ways */
	inc = get_be32(buf + 56);
	if (inc != l->incarnation) {
		/* the slave removed the link and made a new one with this id
		 * (its LEAVING lost, or a rebuild): new sequence numbers */
		if (l->incarnation)
			log_info("link id %u was made anew on the slave",
				 l->id);
		l->incarnation = inc;
		link_reset_seq(l);
		l->retiring = false;
		m->wrr[link_index(m, l)].eligible = l->up;
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
	memcpy(ack, buf, 8);
	put_be32(ack + 8, m->epoch);
	put_be16(ack + 12, MUX_KA_PADDING);
	ctl_sent(l, m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_KEEPALIVE_ACK,
				     ack, sizeof(ack)));
	/* an earlier release would deliver padding as a packet */
	l->peer_pads = flags & MUX_KA_PADDING;
	mux_sched_up(m, l);
}

static void keepalive_ack_in(struct mux *m, struct mux_link *l,
			     const uint8_t *buf, size_t len)
{
	uint32_t epoch;
	double rtt;

	if (len < MUX_KA_ACK_LEN)
		return;
	epoch = get_be32(buf + 8);
	if (epoch != m->peer_epoch)
		peer_restarted(m, epoch);
	rtt = ev_now(m->loop) - get_be64(buf) / 1e9;
	if (rtt > 0 && rtt < MUX_RTT_SANE)
		l->st.rtt = rtt;
	l->peer_pads = len >= MUX_KA_ACK_PAD_LEN &&
		       (get_be16(buf + 12) & MUX_KA_PADDING);
	mux_sched_up(m, l);
}

static void deliver(void *ctx, uint8_t *pkt, size_t len)
{
	struct mux *m = ctx;

	if (len)	/* 0: a compressed packet that was dropped */
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

/* How long after a hole is known lost a resend of it may still come: the
 * feedback, its way back on the slowest link, the resend's way out on the
 * fastest (the round trips measured here, the other way, stand in). */
static double resend_grace(const struct mux *m)
{
	double lo = INFINITY, hi = 0;

	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN)
		return 0;
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		const struct mux_link *l = &m->links[i];

		double rtt;

		if (!l->used || !l->up)
			continue;
		rtt = mux_link_base_rtt(l);
		if (!rtt)
			continue;
		lo = fmin(lo, rtt);
		hi = fmax(hi, rtt);
	}
	if (!hi)
		return MUX_GRACE_UNKNOWN;
	return fmin(MUX_FB_INTERVAL + (hi + lo) / 2 + MUX_GRACE_MARGIN,
		    MUX_GRACE_MAX);
}

/* When the hole at the head is to be given up: after the wait the
 * reorder buffer learned (how late holes were filled), or once known
 * lost. 0: no hole. */
static double hole_deadline(const struct mux *m)
{
	double at = mux_reorder_deadline(&m->ro);

	/* known lost: at once without resends; with them, when its resend
	 * should have come, or as long as holes have taken to fill */
	if (at && m->lost_at && m->lost_next == m->ro.next)
		at = m->cfg.sched == MUX_SCHED_ROUNDROBIN ? m->lost_at :
		     fmax(at, m->lost_at + resend_grace(m));
	return at;
}

static void ro_arm(struct mux *m)
{
	double at = hole_deadline(m);

	ev_timer_stop(m->loop, &m->ro_timer);
	if (!at)
		return;
	at -= ev_now(m->loop);
	ev_timer_set(&m->ro_timer, at > 0 ? at : 0, 0.0);
	ev_timer_start(m->loop, &m->ro_timer);
}

/* Gives up holes whose time has come, and arms the timer for the next. */
static void check_holes(struct mux *m, double now)
{
	while (mux_reorder_hole(&m->ro)) {
		if (hole_lost(m) && (!m->lost_at || m->lost_next != m->ro.next)) {
			m->lost_at = now;
			m->lost_next = m->ro.next;
		}
		uint32_t before = m->ro.next;

		if (hole_deadline(m) > now)
			break;
		mux_reorder_give_up(&m->ro, now, deliver, m);
		if (m->ro.next == before)
			break;
	}
	ro_arm(m);
}

static void ro_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux *m = container_of(w, struct mux, ro_timer);

	(void)revents;
	check_holes(m, ev_now(loop));
}

/* Feedback: lseq_max (u32), rx_count (u32), rx_bytes (u64),
 * ack_delay (u32, microseconds), seen (u64: which of the 64 link
 * sequence numbers below lseq_max arrived), rx_at (u32: when lseq_max
 * arrived, by the receiver's clock in microseconds, wrapping). */
static void feedback_send(struct mux *m, struct mux_link *l, double now)
{
	uint8_t b[MUX_FB_LEN];
	double d = (now - l->rx_last) * 1e6;

	put_be32(b, l->rx_fb.lseq_max);
	put_be32(b + 4, l->rx_fb.rx_count);
	put_be64(b + 8, l->rx_fb.rx_bytes);
	put_be32(b + 16, d > 0 ? (uint32_t)d : 0);
	put_be64(b + 20, l->rx_fb.seen);
	put_be32(b + 28, (uint32_t)(uint64_t)(l->rx_last * 1e6));
	if (m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_FEEDBACK, b,
			     sizeof(b)) == 0) {
		l->fb_due = false;
		l->fb_pending = 0;
	}
}

/* Notes link sequence number lseq as received; true if it skipped some
 * (a link keeps its packets in order: they are lost). */
static bool fb_seen(struct mux_fb *fb, uint32_t lseq)
{
	int32_t d = (int32_t)(lseq - fb->lseq_max);

	if (!fb->rx_count) {
		fb->lseq_max = lseq;
		fb->seen = ~0ULL;	/* nothing before it is missed */
	} else if (d > 0) {
		fb->seen = d >= 64 ? 0 : (fb->seen << 1 | 1) << (d - 1);
		fb->lseq_max = lseq;
		return d > 1;
	} else if (d < 0 && d >= -64) {
		fb->seen |= 1ULL << (-d - 1);
	}
	return false;
}

/* LOST: link id (u16), then as in FEEDBACK the highest link sequence
 * received on it (u32) and which of the 64 below arrived (u64). Sent at
 * once when l's packets go missing, on the link with the shortest round
 * trip (l's own feedback may be a slow link's round trip and a feedback
 * interval away), so the sender resends them sooner: the receiver holds
 * everything after a hole until its resend comes. */
static void lost_send(struct mux *m, struct mux_link *l, double now)
{
	struct mux_link *via = l;
	uint8_t b[MUX_LOST_LEN];
	double best = INFINITY;

	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN ||
	    now - l->lost_sent < MUX_LOST_GAP)
		return;
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *k = &m->links[i];
		double rtt = k->used && k->up ? mux_link_base_rtt(k) : 0;

		if (rtt && rtt < best && !k->stalled) {
			best = rtt;
			via = k;
		}
	}
	put_be16(b, l->id);
	put_be32(b + 2, l->rx_fb.lseq_max);
	put_be64(b + 6, l->rx_fb.seen);
	if (m->cfg.ops->send(m->cfg.ctx, via->id, MUX_MSG_LOST, b,
			     sizeof(b)) == 0)
		l->lost_sent = now;
}

static void lost_in(struct mux *m, const uint8_t *b, size_t len)
{
	struct mux_link *l;
	struct mux_fb fb = { 0 };

	if (len < MUX_LOST_LEN) {
		m->st.malformed++;
		return;
	}
	l = link_find(m, get_be16(b));
	if (!l)
		return;
	fb.lseq_max = get_be32(b + 2);
	fb.seen = get_be64(b + 6);
	mux_sched_lost(m, l, &fb);
	mux_sched_drain(m);
}

static void data_in(struct mux *m, struct mux_link *l, uint8_t *buf,
		    size_t len)
{
	ev_tstamp now = ev_now(m->loop);
	uint32_t seq;
	uint8_t *pkt;
	size_t n;
	bool gap;

	if (len < MUX_HDR_LEN) {
		m->st.malformed++;
		return;
	}
	seq = get_be32(buf);
	l->st.data_rx++;
	gap = fb_seen(&l->rx_fb, get_be32(buf + 4));
	l->rx_fb.rx_count++;
	l->rx_fb.rx_bytes += len;
	l->rx_last = now;
	l->fb_due = true;
	if (++l->fb_pending >= MUX_FB_EVERY)
		feedback_send(m, l, now);
	if (gap)
		lost_send(m, l, now);
	/* a probe or padding: counted, nothing to deliver */
	if (len == MUX_HDR_LEN || buf[MUX_HDR_LEN] == MUX_PAD)
		return;
	if (!l->rx_seen || (int32_t)(seq - l->rx_max) > 0)
		l->rx_max = seq;
	l->rx_seen = true;
	pkt = buf + MUX_HDR_LEN;
	n = len - MUX_HDR_LEN;
	if (mux_hc_mark(pkt[0])) {
		/* if dropped (counted), it goes through as nothing: what
		 * follows need not wait for it */
		n = mux_hc_expand(m, l, pkt, n, now);
		pkt = mux_hc_packet(m);
	}
	mux_reorder_in(&m->ro, seq, get_be16(buf + 8), pkt, n, now, deliver,
		       m);
	check_holes(m, now);
}

static void fb_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mux *m = container_of(w, struct mux, fb_timer);
	ev_tstamp now = ev_now(loop);

	(void)revents;
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		if (l->used && l->fb_due)
			feedback_send(m, l, now);
	}
	mux_sched_tick(m, now);
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
	fb.seen = get_be64(b + 20);
	fb.rx_at = get_be32(b + 28);
	mux_sched_lost(m, l, &fb);
	if (mux_est_feedback(&l->est, &fb, ev_now(m->loop)) && l->stalled) {
		l->stalled = false;
		log_info("link %s (id %u) delivers again", l->st.name, l->id);
	}
	mux_sched_drain(m);
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
	if (type != MUX_MSG_DATA && type != MUX_MSG_FEEDBACK)
		mux_sched_heard(m, l);
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
		if (!m->cfg.master)
			keepalive_ack_in(m, l, buf, len);
		break;
	case MUX_MSG_HC_CTX:
		mux_hc_ctx_in(m, l, buf, len);
		break;
	case MUX_MSG_HC_ACK:
		mux_hc_ack_in(m, buf, len);
		break;
	case MUX_MSG_LOST:
		lost_in(m, buf, len);
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
	out->cwnd = mux_est_cwnd(&l->est);
	out->hold = l->est.hold;
	out->rate_cap = l->est.cap;
	out->backup = l->backup;
	out->stalled = l->stalled;
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
	if (!m->cfg.max_packet)
		m->cfg.max_packet = 1500;
	m->slot_len = MUX_HDR_LEN + m->cfg.max_packet;
	/* any value will do but the one before */
	while (!m->epoch)
		if (getrandom(&m->epoch, sizeof(m->epoch), 0) < 0)
			m->epoch = (uint32_t)(uintptr_t)m ^ (uint32_t)ev_time();
	if (mux_reorder_init(&m->ro, REORDER_SLOTS, m->cfg.max_packet) < 0)
		goto out_free;
	if (mux_hc_init(m) < 0)
		goto out_reorder;
	if (mux_sched_init(m) < 0)
		goto out_hc;
	ev_init(&m->ro_timer, ro_timer_cb);
	ev_timer_init(&m->fb_timer, fb_timer_cb, MUX_FB_INTERVAL,
		      MUX_FB_INTERVAL);
	ev_timer_start(loop, &m->fb_timer);
	*out = m;
	return 0;

out_hc:
	mux_hc_free(m);
out_reorder:
	mux_reorder_free(&m->ro);
out_free:
	free(m);
	return -ENOMEM;
}

void mux_free(struct mux *m)
{
	if (!m)
		return;
	ev_timer_stop(m->loop, &m->ro_timer);
	ev_timer_stop(m->loop, &m->fb_timer);
	mux_reorder_free(&m->ro);
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		if (m->links[i].used)
			link_free(m, &m->links[i]);
	}
	mux_sched_free(m);
	mux_hc_free(m);
	free(m);
}
