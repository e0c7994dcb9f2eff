/* SPDX-License-Identifier: MIT */
/* Which link each packet goes on: the one where it is expected to arrive
 * first among those with room in their congestion window (backup links
 * last), or weighted round-robin; a short queue while every link is
 * full; and when a link stops delivering, its packets in flight resent on
 * the others and the link probed until it answers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "log.h"
#include "multiplexer-int.h"

enum tier { TIER_MAIN, TIER_BACKUP, TIER_STALLED, TIERS };

#define PACE_RETRY 0.001	/* s: a full socket buffer is tried again */
#define MEASURE_TIME 2.0	/* s a link that comes up is measured, at
				 * most */
#define RESEND_ROOM (4 * 1500)	/* bytes a resend may overfill a window */

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void pace_run(struct mux *m, double now);

int mux_sched_init(struct mux *m)
{
	ev_init(&m->pace_timer, pace_cb);
	m->q.pool = malloc(MUX_TXQ * m->slot_len);
	/* all zero: MUX_PAD where an IP packet would start */
	m->pad = calloc(1, m->slot_len);
	if (!m->q.pool || !m->pad) {
		mux_sched_free(m);
		return -ENOMEM;
	}
	return 0;
}

void mux_sched_free(struct mux *m)
{
	ev_timer_stop(m->loop, &m->pace_timer);
	free(m->q.pool);
	free(m->pad);
	m->q.pool = NULL;
	m->pad = NULL;
}

int mux_link_sched_init(struct mux *m, struct mux_link *l)
{
	l->kept = calloc(MUX_KEEP, sizeof(*l->kept));
	l->kept_pool = malloc(MUX_KEEP * m->slot_len);
	if (!l->kept || !l->kept_pool) {
		mux_link_sched_free(l);
		return -ENOMEM;
	}
	return 0;
}

void mux_link_sched_free(struct mux_link *l)
{
	free(l->kept);
	free(l->kept_pool);
	l->kept = NULL;
	l->kept_pool = NULL;
}

static uint8_t *kept_msg(const struct mux *m, const struct mux_link *l,
			 uint32_t lseq)
{
	return l->kept_pool + (lseq % MUX_KEEP) * m->slot_len;
}

/* The pacing timer fires at at, or sooner if it was to already. */
static void pace_arm(struct mux *m, double at)
{
	if (ev_is_active(&m->pace_timer) && m->pace_wake <= at)
		return;
	ev_timer_stop(m->loop, &m->pace_timer);
	m->pace_wake = at;
	at -= ev_now(m->loop);
	ev_timer_set(&m->pace_timer, at > 0 ? at : 0, 0.0);
	ev_timer_start(m->loop, &m->pace_timer);
}

/* Puts l's packet lseq (msg, len bytes with the header) on the wire. */
static int wire(struct mux *m, struct mux_link *l, uint32_t lseq,
		const uint8_t *msg, size_t len, double now)
{
	int err;

	err = m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_DATA, msg, len);
	if (err < 0)
		return err;
	l->st.data_tx++;
	mux_est_sent(&l->est, lseq, len, now);
	if (m->cfg.sched != MUX_SCHED_ROUNDROBIN)
		mux_est_paced(&l->est, len, now);
	return 0;
}

/* How long a packet not held itself waits behind held ones on l (their
 * hold ends in the order they were given). */
static double held_ahead(const struct mux *m, const struct mux_link *l)
{
	if (l->tx_next == l->tx_lseq)
		return 0;
	return fmax(0, l->kept[(l->tx_lseq - 1) % MUX_KEEP].due -
		       ev_now(m->loop));
}

/* Keeps a copy of l's packet lseq (seq; msg: the header, then len bytes)
 * for resending; due: not sent before (equalized). */
static void keep(struct mux *m, struct mux_link *l, uint32_t seq,
		 uint32_t lseq, const uint8_t *msg, size_t len, double now,
		 double due)
{
	uint8_t *copy = kept_msg(m, l, lseq);

	if (copy != msg)
		memcpy(copy, msg, len + MUX_HDR_LEN);
	l->kept[lseq % MUX_KEEP] = (struct mux_kept){
		.seq = seq, .lseq = lseq, .len = (uint16_t)len, .at = now,
		.due = due };
}

/* Gives packet seq (msg: MUX_HDR_LEN bytes of room, then len bytes) to
 * l, keeping a copy for resending. It leaves now if nothing waits on l
 * and pacing allows (an error then means l did not take it), else when
 * pacing lets it, and held back by l's hold if hold; it counts against
 * l's window meanwhile. */
static int xmit(struct mux *m, struct mux_link *l, uint32_t seq,
		uint8_t *msg, size_t len, bool hold)
{
	double now = ev_now(m->loop), wait = 0, due;
	uint32_t lseq;

	/* a packet does not wait behind padding: what waits at the end is
	 * taken back (nothing refers to its link sequence numbers yet) */
	while (msg != m->pad && l->tx_lseq != l->tx_next &&
	       l->kept[(l->tx_lseq - 1) % MUX_KEEP].pad) {
		l->tx_lseq--;
		l->est.queued -= l->kept[l->tx_lseq % MUX_KEEP].len +
				 MUX_HDR_LEN;
		l->measure_bytes -= l->kept[l->tx_lseq % MUX_KEEP].len +
				    MUX_HDR_LEN;
	}
	due = now + (hold ? l->est.hold : held_ahead(m, l));
	lseq = l->tx_lseq;

	if (lseq - l->tx_next >= MUX_KEEP)	/* no slot to wait in */
		return -EAGAIN;
	put_be32(msg, seq);
	put_be32(msg + 4, lseq);
	if (hold && l->est.hold)
		wait = l->est.hold;
	else if (m->cfg.sched != MUX_SCHED_ROUNDROBIN)
		wait = mux_est_pace_wait(&l->est, len + MUX_HDR_LEN, now);
	if (l->tx_next == lseq && !wait) {
		int err = wire(m, l, lseq, msg, len + MUX_HDR_LEN, now);

		if (err < 0) {
			/* it goes elsewhere (padding refused is no failed
			 * send: it is tried again later) */
			l->st.send_fail += msg != m->pad;
			return err;
		}
		l->tx_next++;
	} else {
		l->est.queued += len + MUX_HDR_LEN;
		if (l->tx_next == lseq)		/* the first to wait */
			pace_arm(m, now + wait);
	}
	keep(m, l, seq, lseq, msg, len, now, due);
	l->tx_lseq++;
	return 0;
}

/* Puts a resend (seq; msg: MUX_HDR_LEN bytes of room, then len bytes)
 * on the wire on l now, ahead of what waits there for its hold or its
 * pacing: the receiver holds everything after its hole until it comes.
 * Those waiting take the link sequence numbers one up, so the link still
 * sends its numbers in order. */
static int xmit_first(struct mux *m, struct mux_link *l, uint32_t seq,
		      uint8_t *msg, size_t len)
{
	double now = ev_now(m->loop);
	uint32_t lseq = l->tx_next;
	int err;

	if (l->tx_lseq - l->tx_next >= MUX_KEEP)	/* no slot */
		return -EAGAIN;
	put_be32(msg, seq);
	put_be32(msg + 4, lseq);
	err = wire(m, l, lseq, msg, len + MUX_HDR_LEN, now);
	if (err < 0) {
		l->st.send_fail++;
		return err;
	}
	for (uint32_t j = l->tx_lseq; j != lseq; j--) {
		struct mux_kept *k = &l->kept[j % MUX_KEEP];
		uint8_t *to = kept_msg(m, l, j);

		*k = l->kept[(j - 1) % MUX_KEEP];
		k->lseq = j;
		memcpy(to, kept_msg(m, l, j - 1), k->len + MUX_HDR_LEN);
		put_be32(to + 4, j);
	}
	keep(m, l, seq, lseq, msg, len, now, now);
	l->tx_next++;
	l->tx_lseq++;
	return 0;
}

static enum tier tier_of(const struct mux_link *l)
{
	return l->stalled ? TIER_STALLED : l->backup ? TIER_BACKUP : TIER_MAIN;
}

/* Equalized: each link's packets are held back so that they arrive when
 * those of the slowest main link that is up do (by base one-way delays,
 * taken as half the minimum round trips, or the keepalives' before data
 * has measured them). The receiver gets them in order, and a TCP flow
 * sees the same round trip whichever links carry it, from its first
 * packet: its start is not cut short by a round trip that grows as it
 * spreads onto slower links. */
static void equalize(struct mux *m)
{
	double slowest = 0;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		const struct mux_link *l = &m->links[i];

		if (l->used && l->up && !l->retiring &&
		    tier_of(l) == TIER_MAIN)
			slowest = fmax(slowest, mux_link_base_rtt(l));
	}
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];
		double rtt = l->used ? mux_link_base_rtt(l) : 0;

		l->est.hold = rtt ? fmax(0, (slowest - rtt) / 2) : 0;
	}
}

/* Whether l can take one more packet: a slot for its kept copy, and a
 * place in its estimate's ring for when it goes (packets waiting for
 * pacing have their copy kept, and will need that place too). */
static bool has_slot(const struct mux_link *l)
{
	return l->tx_lseq - l->tx_next < MUX_KEEP &&
	       l->tx_lseq - l->tx_next + l->est.next_lseq - l->est.una <
	       MUX_EST_RING - 16;
}

/* Whether l is being measured with padding now (see mux_sched_up). */
static bool measuring(const struct mux *m, const struct mux_link *l,
		      double now)
{
	return l->measure_end && now < l->measure_end && !l->est.full &&
	       l->up && !l->retiring && !l->backup && !l->stalled &&
	       !m->wrr[l - m->links].stream;
}

/* Bytes a packet may overfill l's window by. Padding never takes a
 * packet's place: while l is measured its window (which the padding
 * fills) may be overfilled by as much again. */
static double overfill(const struct mux *m, const struct mux_link *l)
{
	return measuring(m, l, ev_now(m->loop)) ? mux_est_cwnd(&l->est) : 0;
}

/* The link (not skip) where len bytes sent now (held back if hold)
 * arrive first, from the best tier that has one with room. Stalled links
 * only when no other is up. -1 if none. */
static int pick_earliest(struct mux *m, size_t len, int skip, bool hold)
{
	double best_t[TIERS] = { INFINITY, INFINITY, INFINITY };
	int best[TIERS] = { -1, -1, -1 };
	bool live = false;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];
		enum tier t = tier_of(l);
		double at;

		if (!m->wrr[i].eligible || (int)i == skip)
			continue;
		if (t != TIER_STALLED)
			live = true;
		/* (has_slot also keeps the estimate's ring from filling) */
		if (!mux_est_fits(&l->est, len + MUX_HDR_LEN, overfill(m, l)) ||
		    !has_slot(l))
			continue;
		/* before data, the keepalives' round trip tells a near
		 * link from a far one */
		at = mux_est_arrival(&l->est, len + MUX_HDR_LEN,
				     hold ? l->est.hold : held_ahead(m, l),
				     mux_link_base_rtt(l));
		/* a stream link loses ties to a UDP one */
		if (at < best_t[t] || (at == best_t[t] && best[t] >= 0 &&
				       m->wrr[best[t]].stream &&
				       !m->wrr[i].stream)) {
			best_t[t] = at;
			best[t] = (int)i;
		}
	}
	if (best[TIER_MAIN] >= 0)
		return best[TIER_MAIN];
	if (best[TIER_BACKUP] >= 0)
		return best[TIER_BACKUP];
	return live ? -1 : best[TIER_STALLED];
}

/* The link where a resend of len bytes put first arrives first, among
 * those whose window it overfills by at most RESEND_ROOM (and by the
 * window again while padding fills it); -1 if none. */
static int pick_first(struct mux *m, size_t len)
{
	double best_t = INFINITY;
	int best = -1;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];
		double at;

		if (!m->wrr[i].eligible || tier_of(l) != TIER_MAIN ||
		    !mux_est_fits(&l->est, len + MUX_HDR_LEN,
				  RESEND_ROOM + overfill(m, l)) ||
		    !has_slot(l))
			continue;
		at = mux_est_arrival_first(&l->est, len + MUX_HDR_LEN,
					   mux_link_base_rtt(l));
		if (at < best_t) {
			best_t = at;
			best = (int)i;
		}
	}
	return best;
}

static bool any_up(const struct mux *m)
{
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)
		if (m->wrr[i].eligible)
			return true;
	return false;
}

/* Links that refused the packet being sent (interface gone, buffer
 * full): left out for it, eligible again after. */
struct refused {
	int i[MUX_MAX_LINKS];
	int n;
};

static void refuse(struct mux *m, struct refused *r, int i)
{
	m->wrr[i].eligible = false;
	r->i[r->n++] = i;
}

static void unrefuse(struct mux *m, const struct refused *r)
{
	for (int k = 0; k < r->n; k++)
		m->wrr[r->i[k]].eligible = m->links[r->i[k]].up;
}

/* Header bytes 8..9 of a new packet: how far back the last packet of
 * its flow went (MUX_DEP_NONE if none the receiver may still wait for). */
static void stamp_flow(struct mux *m, uint8_t *msg, unsigned flow)
{
	uint64_t last = m->flow_last[flow];
	uint32_t back = m->tx_seq - (uint32_t)last;

	put_be16(msg + 8, !last || back >= REORDER_SLOTS ? MUX_DEP_NONE :
			  (uint16_t)back);
}

static void sent_new(struct mux *m, unsigned flow)
{
	m->flow_last[flow] = 1ULL << 32 | m->tx_seq;
	m->tx_seq++;
}

/* Sends the next packet of flow (or the resend of seq) on the best link,
 * and in redundant mode on the second best too. A link that refuses the
 * packet (interface gone, buffer full) is skipped for this packet, so the
 * packet still leaves if any can. -EAGAIN: no link has room now. */
static int send_one(struct mux *m, uint8_t *msg, size_t len, bool resend,
		    uint32_t seq, unsigned flow)
{
	bool twice = (m->cfg.redundant || m->peer_redundant ||
		      mux_chosen(m->cfg.redundant_ports,
				 m->cfg.n_redundant_ports, msg + MUX_HDR_LEN,
				 len)) && !resend;
	bool hold = false;
	struct refused r = { .n = 0 };
	int first = -1, err = -EAGAIN;
	if (m->cfg.sched == MUX_SCHED_EQUALIZED)
		equalize(m);
	if (resend) {
		/* first, unheld, if a main link has room for it; or else
		 * as any packet, on whichever link has room */
		int i = pick_first(m, len);

		if (i >= 0 && xmit_first(m, &m->links[i], seq, msg, len) == 0)
			return 0;
	} else {
		stamp_flow(m, msg, flow);
		hold = m->cfg.sched == MUX_SCHED_EQUALIZED &&
		       mux_timed(msg + MUX_HDR_LEN, len);
	}
	for (;;) {
		int i = pick_earliest(m, len, first, hold);

		if (i < 0)
			break;
		err = xmit(m, &m->links[i], resend ? seq : m->tx_seq, msg,
			   len, hold);
		if (err == 0) {
			if (first >= 0) {
				m->st.copies++;
				break;
			}
			first = i;
			if (!twice)
				break;
			continue;
		}
		/* the master's UDP links share one socket: full is full */
		if (err == -ENOBUFS)
			break;
		refuse(m, &r, i);
	}
	unrefuse(m, &r);
	if (first >= 0) {
		if (!resend)
			sent_new(m, flow);
		return 0;
	}
	if (err == -EAGAIN && !any_up(m))
		err = -ENETUNREACH;
	return err;
}

/* Plain weighted round-robin, for comparison: no windows, no queue;
 * backup links only while no other link is up (or takes the packet). */
static int send_roundrobin(struct mux *m, uint8_t *msg, size_t len,
			   unsigned flow)
{
	struct refused r = { .n = 0 };
	int err = -ENETUNREACH;

	stamp_flow(m, msg, flow);
	for (;;) {
		int i = mux_wrr_pick(m->wrr, MUX_MAX_LINKS);

		if (i < 0)
			break;
		err = xmit(m, &m->links[i], m->tx_seq, msg, len, false);
		if (err == 0 || err == -ENOBUFS)
			break;
		refuse(m, &r, i);
	}
	unrefuse(m, &r);
	sent_new(m, flow);
	return err;
}

static void txq_pop(struct mux_txq *q)
{
	q->waiting[q->flow[q->head]]--;
	q->head = (q->head + 1) % MUX_TXQ;
	q->count--;
}

/* A free place at the front of the queue. */
static size_t txq_push_front(struct mux_txq *q)
{
	q->head = (q->head + MUX_TXQ - 1) % MUX_TXQ;
	q->count++;
	return q->head;
}

static void txq_move(struct mux *m, size_t to, size_t from)
{
	struct mux_txq *q = &m->q;

	memcpy(q->pool + to * m->slot_len, q->pool + from * m->slot_len,
	       m->slot_len);
	q->at[to] = q->at[from];
	q->len[to] = q->len[from];
	q->resend[to] = q->resend[from];
	q->again[to] = q->again[from];
	q->seq[to] = q->seq[from];
	q->flow[to] = q->flow[from];
	q->first[to] = q->first[from];
}

/* A free place behind the resends and small packets at the front, so
 * those go in the order they came. */
static size_t txq_push_after_first(struct mux *m)
{
	struct mux_txq *q = &m->q;
	size_t n = 0;

	while (n < q->count && q->first[(q->head + n) % MUX_TXQ])
		n++;
	txq_push_front(q);
	for (size_t k = 0; k < n; k++)
		txq_move(m, (q->head + k) % MUX_TXQ,
			 (q->head + k + 1) % MUX_TXQ);
	return (q->head + n) % MUX_TXQ;
}

/* How long a packet may wait for room: MUX_TXQ_SOJOURN, or twice the
 * shortest base round trip of a link that is up (with its hold, when
 * equalized) if that is longer (at most MUX_RESEND_AGE). A window opens
 * only when feedback comes back, so over long round trips a queue that
 * waits one round trip is the pipe filling, not a standing queue (and
 * while the links' rates are still being found, it is most of what a TCP
 * flow's start sends). */
static double sojourn_max(const struct mux *m)
{
	double rtt = INFINITY;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		const struct mux_link *l = &m->links[i];

		if (l->used && l->up && l->est.have_rtt)
			rtt = fmin(rtt, l->est.min_rtt + l->est.hold);
	}
	/* never longer than a resend may wait */
	return rtt < INFINITY ? fmax(MUX_TXQ_SOJOURN,
				     fmin(2 * rtt, MUX_RESEND_AGE)) :
				MUX_TXQ_SOJOURN;
}

/* A link that came up with its rate unknown is measured at once: padding
 * fills its window, as far as its start-up lets it grow, until its rate
 * stops growing or MEASURE_TIME is up. Until a link's rate is measured
 * the scheduler gives it little more than it has shown it carries, so
 * without this the first flow over the links would find them out itself
 * over many round trips of the slowest; and a TCP flow whose round trip
 * grows meanwhile ends its slow start early. Backup links are left alone
 * (they may be metered, and are used only when the others are full), and
 * links over a TCP stream. */
void mux_sched_up(struct mux *m, struct mux_link *l)
{
	double now = ev_now(m->loop);

	/* and only once the other side said it takes padding (an earlier
	 * release would deliver it as a packet): the slave's keepalives
	 * say so, and the master's answers */
	if (!m->cfg.measure || m->cfg.sched == MUX_SCHED_ROUNDROBIN ||
	    l->measure_tried || l->est.full || !l->peer_pads || !l->up ||
	    l->backup || m->wrr[l - m->links].stream)
		return;
	l->measure_tried = true;
	l->measure_at = now;
	l->measure_end = now + MEASURE_TIME;
	l->measure_bytes = 0;
	m->measuring++;
}

static void measure_done(struct mux *m, struct mux_link *l, double now)
{
	l->measure_end = 0;
	m->measuring--;
	if (!l->measure_bytes)
		return;
	log_info("link %s (id %u) measured: %.1f Mbit/s, round trip %.1f ms "
		 "(%.2f MB of padding in %.2f s)%s", l->st.name, l->id,
		 l->est.btlbw * 8e-6, l->est.min_rtt * 1e3,
		 l->measure_bytes / 1e6, now - l->measure_at,
		 l->est.full ? "" : ", still growing");
}

/* Ends the measurements that are over: the rate stopped growing, the
 * time is up, or the link went down, stalled, became a backup. */
static void measure_ends(struct mux *m, double now)
{
	for (size_t i = 0; m->measuring && i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		if (l->used && l->measure_end && !measuring(m, l, now))
			measure_done(m, l, now);
	}
}

/* Fills the window of each link being measured with padding (the send
 * queue is empty: padding never takes a packet's place), leaving half
 * its slots for packets. */
static void measure_fill(struct mux *m, double now)
{
	size_t len = m->cfg.max_packet;

	measure_ends(m, now);
	for (size_t i = 0; m->measuring && i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		if (!l->used || !measuring(m, l, now))
			continue;
		while (mux_est_room(&l->est, len + MUX_HDR_LEN) &&
		       l->tx_lseq - l->tx_next < MUX_KEEP / 2 &&
		       has_slot(l) &&
		       xmit(m, l, 0, m->pad, len, false) == 0) {
			l->kept[(l->tx_lseq - 1) % MUX_KEEP].pad = true;
			l->measure_bytes += len + MUX_HDR_LEN;
		}
	}
}

void mux_sched_drain(struct mux *m)
{
	struct mux_txq *q = &m->q;
	double now = ev_now(m->loop), sojourn = 0;

	/* the pacing timer is set whenever packets wait for pacing: their
	 * links' rates may have changed, so they may be due sooner */
	if (ev_is_active(&m->pace_timer))
		pace_run(m, now);
	while (q->count) {
		uint8_t *msg = q->pool + q->head * m->slot_len;
		double age = now - q->at[q->head];
		int err;

		/* waited too long: dropping it tells the sender to slow
		 * down; sending it late only adds delay (bufferbloat). A
		 * resend, or a TCP retransmission, is worth sending while the
		 * receiver may wait. The links' round trips are looked at
		 * only past 60 ms. */
		if (q->resend[q->head] || q->again[q->head] ?
		    age > MUX_RESEND_AGE :
		    age > MUX_TXQ_SOJOURN &&
		    age > (sojourn ? sojourn : (sojourn = sojourn_max(m)))) {
			m->st.congested += !q->resend[q->head];
			txq_pop(q);
			continue;
		}
		err = send_one(m, msg, q->len[q->head], q->resend[q->head],
			       q->seq[q->head], q->flow[q->head]);
		if (err == -EAGAIN)
			return;
		if (err == -ENETUNREACH)
			m->st.no_link++;
		if (err == -ENOBUFS)	/* the master's socket is full */
			m->st.congested += !q->resend[q->head];
		txq_pop(q);
	}
	if (m->cfg.sched != MUX_SCHED_ROUNDROBIN)
		measure_fill(m, now);
}

static size_t txq_tail(const struct mux_txq *q)
{
	return (q->head + q->count - 1) % MUX_TXQ;
}

/* Whether the queue has a place for a packet: a free one, or for a TCP
 * retransmission (again) the newest packet's, unless that one goes first
 * or is a retransmission too. */
static bool txq_place(const struct mux_txq *q, bool again)
{
	return q->count < MUX_TXQ ||
	       (again && !q->first[txq_tail(q)] && !q->again[txq_tail(q)]);
}

/* Drops the newest packet queued, to make room for one that may not be
 * dropped. */
static void txq_drop_newest(struct mux *m)
{
	struct mux_txq *q = &m->q;

	q->waiting[q->flow[txq_tail(q)]]--;
	q->count--;
	m->st.congested++;
}

/* Queues a packet. A small one of a flow with nothing queued (a ping,
 * a DNS query, a TCP ACK, a game's update) goes first: it does not wait
 * behind a download's queue, and cannot reorder its own flow. A TCP
 * retransmission (again) keeps its place, since a receiver that gets it
 * ahead of what was sent before it takes those for lost, but it is not
 * dropped: when the queue is full, it takes the newest packet's place,
 * and it waits as long as a resend may. Its flow's receiver holds
 * everything after the hole it fills, and a retransmission lost again
 * costs the flow a long stall. */
static int txq_add(struct mux *m, const uint8_t *pkt, size_t len,
		   unsigned flow, bool again)
{
	struct mux_txq *q = &m->q;
	size_t i;

	if (len + MUX_HDR_LEN > m->slot_len || !txq_place(q, again)) {
		m->st.congested++;
		return -ENOBUFS;
	}
	if (q->count == MUX_TXQ)
		txq_drop_newest(m);
	m->st.rexmit_kept += again;
	if (len <= MUX_SPARSE_LEN && !q->waiting[flow]) {
		i = txq_push_after_first(m);
		q->first[i] = true;
	} else {
		i = (q->head + q->count) % MUX_TXQ;
		q->count++;
		q->first[i] = false;
	}
	memcpy(q->pool + i * m->slot_len + MUX_HDR_LEN, pkt, len);
	q->len[i] = (uint16_t)len;
	q->at[i] = ev_now(m->loop);
	q->resend[i] = false;
	q->again[i] = again;
	q->flow[i] = (uint16_t)flow;
	q->waiting[flow]++;
	m->st.queued++;
	return 0;
}

/* A resend goes first; if the queue is full, the newest packet makes
 * room for it. */
static void txq_add_resend(struct mux *m, const uint8_t *msg, size_t len,
			   uint32_t seq, double at)
{
	struct mux_txq *q = &m->q;
	unsigned flow = mux_flow_bucket(msg + MUX_HDR_LEN, len);
	size_t i;

	if (q->count == MUX_TXQ)
		txq_drop_newest(m);
	i = txq_push_front(q);
	memcpy(q->pool + i * m->slot_len, msg, len + MUX_HDR_LEN);
	q->len[i] = (uint16_t)len;
	q->at[i] = at;
	q->resend[i] = true;
	q->again[i] = false;
	q->first[i] = true;
	q->seq[i] = seq;
	q->flow[i] = (uint16_t)flow;
	q->waiting[flow]++;
}

int mux_send(struct mux *m, uint8_t *pkt, size_t len)
{
	unsigned flow = mux_flow_bucket(pkt, len);	/* once per packet */
	/* (round-robin has no queue for it to matter in) */
	bool again = m->cfg.sched != MUX_SCHED_ROUNDROBIN &&
		     mux_tcp_again(&m->tcp_end[flow], pkt, len);
	int err;

	pkt = mux_hc_compress(m, pkt, &len, flow, ev_now(m->loop));

	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN) {
		err = send_roundrobin(m, pkt - MUX_HDR_LEN, len, flow);
	} else {
		mux_sched_drain(m);
		if (m->q.count)		/* older packets go first */
			return txq_add(m, pkt, len, flow, again);
		err = send_one(m, pkt - MUX_HDR_LEN, len, false, 0, flow);
		if (err == -EAGAIN)
			return txq_add(m, pkt, len, flow, again);
	}
	if (err == -ENETUNREACH)
		m->st.no_link++;
	/* full socket buffers (other failures count in the links' drops) */
	if (err == -ENOBUFS || err == -EAGAIN)
		m->st.congested++;
	return err;
}

/* Queues l's packet lseq to go again, first, with its sequence number,
 * on the link where it then arrives first; the receiver drops second
 * copies. */
static bool requeue(struct mux *m, struct mux_link *l, uint32_t lseq,
		    double now)
{
	struct mux_kept *k = &l->kept[lseq % MUX_KEEP];

	/* not a probe or padding, nor a packet too old to matter, nor one
	 * gone again */
	if (k->lseq != lseq || !k->at || now - k->at > MUX_RESEND_AGE ||
	    !k->len || k->pad)
		return false;
	txq_add_resend(m, kept_msg(m, l, lseq), k->len, k->seq, k->at);
	k->at = 0;
	return true;
}

static void resend(struct mux *m, struct mux_link *l, uint32_t lseq,
		   double now)
{
	if (requeue(m, l, lseq, now))
		l->st.resent++;
}

/* What waits on l for pacing goes on the best links instead (first in
 * the queue, oldest first), and its link sequence numbers are taken
 * back: they never went out (nothing refers to them until they are
 * given out again). */
static void unqueue(struct mux *m, struct mux_link *l, double now)
{
	while (l->tx_lseq != l->tx_next)
		requeue(m, l, --l->tx_lseq, now);
	l->est.queued = 0;
}

/* Sends what waits on l and is due; returns when the next one is. */
static double pace_flush(struct mux *m, struct mux_link *l, double now)
{
	int err;

	while (l->tx_next != l->tx_lseq) {
		struct mux_kept *k = &l->kept[l->tx_next % MUX_KEEP];
		double wait;

		if (k->due > now)	/* held back (equalized) */
			return k->due;
		wait = mux_est_pace_wait(&l->est, k->len + MUX_HDR_LEN, now);
		if (wait > 0)
			return now + wait;
		err = wire(m, l, l->tx_next, kept_msg(m, l, l->tx_next),
			   k->len + MUX_HDR_LEN, now);
		/* its socket's buffer is full (or an old ICMP error came
		 * back instead): again in a moment, in order */
		if (err == -EAGAIN || err == -ENOBUFS || err == -ECONNREFUSED)
			return now + PACE_RETRY;
		if (err < 0) {
			/* the link cannot send: the rest goes elsewhere */
			l->st.send_fail++;
			unqueue(m, l, now);
			mux_sched_drain(m);
			break;
		}
		l->est.queued -= k->len + MUX_HDR_LEN;
		l->tx_next++;
	}
	return INFINITY;
}

/* Sends what waits for pacing and is due on any link (rates may have
 * changed since the timer was set); sets the timer for the rest. */
static void pace_run(struct mux *m, double now)
{
	double next = INFINITY;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		if (l->used && l->tx_next != l->tx_lseq)
			next = fmin(next, pace_flush(m, l, now));
	}
	if (next < INFINITY)
		pace_arm(m, next);
}

static void pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	pace_run(container_of(w, struct mux, pace_timer), ev_now(loop));
}

/* Everything l had in flight, oldest first. */
static void resend_inflight(struct mux *m, struct mux_link *l, double now)
{
	for (uint32_t lseq = l->est.next_lseq; lseq != l->est.una; lseq--)
		resend(m, l, lseq - 1, now);
}

void mux_sched_lost(struct mux *m, struct mux_link *l, const struct mux_fb *fb)
{
	double now = ev_now(m->loop);
	uint32_t una = l->est.una;

	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN ||
	    (int32_t)(fb->lseq_max - una) <= 0 ||
	    (int32_t)(fb->lseq_max - l->est.next_lseq) >= 0 ||
	    fb->lseq_max - una > MUX_KEEP)
		return;
	/* a link keeps its packets in order: one missing below the newest
	 * that arrived is lost */
	for (uint32_t k = 0; k < 64 && fb->lseq_max - k != una; k++) {
		uint32_t lseq = fb->lseq_max - 1 - k;	/* newest first */

		if (!(fb->seen >> k & 1))
			resend(m, l, lseq, now);
	}
}

static void stall(struct mux *m, struct mux_link *l, double now)
{
	l->stalled = true;
	l->st.stalls++;
	log_info("link %s (id %u) stalled: nothing confirmed for %.0f ms",
		 l->st.name, l->id, 1e3 * mux_est_rto(&l->est));
	unqueue(m, l, now);
	resend_inflight(m, l, now);
	mux_est_forget_inflight(&l->est);
	l->probe_wait = mux_est_rto(&l->est);
	l->probe_at = now + l->probe_wait;
}

/* An empty data message: the receiver counts it in its feedback, which
 * is all a probe needs. */
static void probe(struct mux *m, struct mux_link *l, double now)
{
	uint8_t msg[MUX_HDR_LEN] = { 0 };

	mux_est_forget_inflight(&l->est);
	/* packets waiting for pacing probe it when they go */
	if (l->tx_next == l->tx_lseq)
		xmit(m, l, 0, msg, 0, true);
	l->probe_wait *= 2;
	if (l->probe_wait > MUX_PROBE_MAX)
		l->probe_wait = MUX_PROBE_MAX;
	l->probe_at = now + l->probe_wait;
}

void mux_sched_give_back(struct mux *m, struct mux_link *l)
{
	if (l->measure_end)	/* it went down or is removed */
		measure_done(m, l, ev_now(m->loop));
	if (m->cfg.sched != MUX_SCHED_ROUNDROBIN) {
		unqueue(m, l, ev_now(m->loop));
		resend_inflight(m, l, ev_now(m->loop));
	}
}

void mux_sched_heard(struct mux *m, struct mux_link *l)
{
	if (l->stalled && l->probe_at > ev_now(m->loop))
		l->probe_at = ev_now(m->loop);
}

void mux_sched_tick(struct mux *m, double now)
{
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		bool done;

		if (!l->used || !l->retiring)
			continue;
		/* drained, or out of time: the rest goes on the others. The
		 * slave then forgets the link; the master keeps it, unused,
		 * until it falls silent, so its last packets do not make it
		 * learn the link again. */
		done = (!mux_est_inflight(&l->est) &&
			l->tx_next == l->tx_lseq) || now >= l->retire_at;
		if (!l->up || (done && !m->cfg.master)) {
			mux_link_free(m, l);
		} else if (done) {
			mux_sched_give_back(m, l);
			mux_est_forget_inflight(&l->est);
		}
	}
	if (m->cfg.sched == MUX_SCHED_ROUNDROBIN)
		return;
	measure_ends(m, now);	/* also while the queue is never empty */
	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		struct mux_link *l = &m->links[i];

		if (!l->used || !l->up)
			continue;
		if (!l->stalled && mux_est_stalled(&l->est, now))
			stall(m, l, now);
		else if (l->stalled && now >= l->probe_at)
			probe(m, l, now);
	}
	mux_sched_drain(m);
}
