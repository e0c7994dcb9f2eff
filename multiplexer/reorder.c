/* SPDX-License-Identifier: MIT */
/* The receive side's reorder buffer: packets are released in sequence
 * order within their flow (a packet whose flow has nothing missing does
 * not wait for another flow's hole); a hole is given up as soon as it is
 * known lost, or after a wait learned from how late filled holes have
 * been — never a long fixed timeout, never the whole buffer stalled by
 * one loss. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "multiplexer-int.h"

#define HOLD_MIN 0.005		/* s: never wait less for a hole */
#define HOLD_MAX 0.300		/* s: nor more */
#define HOLD_START 0.050
#define LATE_DECAY 0.9		/* per second, for the observed lateness */

int mux_reorder_init(struct mux_reorder *r, size_t slots, size_t slot_len)
{
	memset(r, 0, sizeof(*r));
	if (!slots || (slots & (slots - 1)))
		return -EINVAL;
	r->slots = calloc(slots, sizeof(*r->slots));
	r->pool = malloc(slots * slot_len);
	if (!r->slots || !r->pool) {
		free(r->slots);
		free(r->pool);
		return -ENOMEM;
	}
	r->cap = slots;
	r->slot_len = slot_len;
	r->late_max = HOLD_START / 1.5;
	return 0;
}

void mux_reorder_free(struct mux_reorder *r)
{
	free(r->slots);
	free(r->pool);
	r->slots = NULL;
	r->pool = NULL;
}

void mux_reorder_reset(struct mux_reorder *r)
{
	r->started = false;
	r->held = 0;
	r->top = 0;
	r->timing = false;
	memset(r->slots, 0, r->cap * sizeof(*r->slots));
}

static struct mux_slot *slot_of(struct mux_reorder *r, uint32_t seq)
{
	return &r->slots[seq & (r->cap - 1)];
}

/* Remembers that seq went out, so a second copy is known as one. */
static void done(struct mux_reorder *r, uint32_t seq)
{
	struct mux_slot *s = slot_of(r, seq);

	s->done = true;
	s->gave_up = false;
	s->done_seq = seq;
}

double mux_reorder_hold(const struct mux_reorder *r)
{
	double h = r->late_max * 1.5;

	return h < HOLD_MIN ? HOLD_MIN : h > HOLD_MAX ? HOLD_MAX : h;
}

/* The observed lateness of filled holes decays, so one odd spike does not
 * set the wait for long. */
static void note_late(struct mux_reorder *r, double wait, double now)
{
	if (r->late_at && now - r->late_at >= 1)
		r->late_max *= pow(LATE_DECAY, floor(now - r->late_at));
	if (!r->late_at || now - r->late_at >= 1)
		r->late_at = now;
	if (wait > r->late_max)
		r->late_max = wait;
}

static bool is_done(struct mux_reorder *r, uint32_t seq)
{
	struct mux_slot *s = slot_of(r, seq);

	return s->early && s->seq == seq;
}

static void went_early(struct mux_reorder *r, uint32_t seq, double now)
{
	struct mux_slot *s = slot_of(r, seq);

	s->early = true;
	s->seq = seq;
	s->at = now;
}

/* Whether what packet seq depends on was released or given up. */
static bool dep_met(struct mux_reorder *r, uint32_t seq, uint16_t dep)
{
	uint32_t prev = seq - dep;
	struct mux_slot *p = slot_of(r, prev);

	if (dep == 0)
		return false;		/* on everything: only at the head */
	if (dep == MUX_DEP_NONE || (int32_t)(prev - r->next) < 0)
		return true;
	return p->early && p->seq == prev;
}

/* Releases, one after another, the held packets of the flow that
 * waited for seq. */
static void wake(struct mux_reorder *r, uint32_t seq, mux_deliver_fn fn,
		 void *ctx)
{
	for (;;) {
		struct mux_slot *p = slot_of(r, seq), *w;

		if (!p->has_waiter || p->waiter_of != seq)
			return;
		p->has_waiter = false;
		w = slot_of(r, p->waiter);
		if (!w->used || w->seq != p->waiter || w->seq == r->next)
			return;		/* gone, or drain's to deliver */
		w->used = false;
		r->held--;
		r->st.early++;
		seq = w->seq;
		w->early = true;	/* keeps w->seq, w->at */
		fn(ctx, r->pool + (w - r->slots) * r->slot_len, w->len);
	}
}

/* Delivers held packets from next on while they are there, and steps
 * over those released early. */
static void drain(struct mux_reorder *r, mux_deliver_fn fn, void *ctx)
{
	for (;;) {
		struct mux_slot *s = slot_of(r, r->next);
		uint32_t seq = r->next;

		if (s->used && s->seq == seq) {
			s->used = false;
			r->held--;
			r->next++;
			done(r, seq);
			fn(ctx, r->pool + (s - r->slots) * r->slot_len, s->len);
			wake(r, seq, fn, ctx);
		} else if (is_done(r, seq)) {
			s->early = false;
			r->next++;
			done(r, seq);
		} else {
			return;
		}
	}
}

/* Whether packets after next arrived (held, or released early). */
static bool has_hole(const struct mux_reorder *r)
{
	return r->started && (int32_t)(r->top - r->next) > 0;
}

/* Something waits for (or went past) the hole at next since now, unless
 * it already did. */
static void start_timing(struct mux_reorder *r, double now)
{
	if (!r->timing) {
		r->timing = true;
		r->hole_since = now;
	}
}

/* The hole now at next began when the first packet after it came (or,
 * if only packets released early went past it, now: nothing waits for
 * it, so its resend may take its time; giving it up early would only
 * turn a resend on its way into a loss for its flow). */
static void hole_began(struct mux_reorder *r, double now)
{
	uint32_t k;
	struct mux_slot *s = NULL;

	for (k = 1; has_hole(r) && r->held && k < r->cap; k++) {
		s = slot_of(r, r->next + k);
		if (s->used && s->seq == r->next + k)
			break;
		s = NULL;
	}
	r->timing = has_hole(r);
	r->hole_since = s ? s->at : now;
}

/* Gives up the hole at next: the missing packets up to the first one
 * that is held or was released early. */
static void skip_hole(struct mux_reorder *r, mux_deliver_fn fn, void *ctx)
{
	uint32_t k;

	for (k = 1; k < r->cap; k++) {
		uint32_t seq = r->next + k;
		struct mux_slot *s = slot_of(r, seq);

		if ((s->used && s->seq == seq) || is_done(r, seq))
			break;
	}
	if (k == r->cap || !has_hole(r))
		return;
	for (uint32_t j = 0; j < k; j++) {
		struct mux_slot *g = slot_of(r, r->next + j);

		g->done = false;
		g->gave_up = true;
		g->done_seq = r->next + j;
		g->hole_at = r->hole_since;
		r->st.lost++;
	}
	r->next += k;
	/* their flows go on without them */
	for (uint32_t j = k; j > 0; j--)
		wake(r, r->next - j, fn, ctx);
	drain(r, fn, ctx);
}

/* Takes packet seq (already known to be authentic). fn receives packets
 * in order; pkt is copied if it must wait. */
void mux_reorder_in(struct mux_reorder *r, uint32_t seq, uint16_t dep,
		    const uint8_t *pkt, size_t len, double now,
		    mux_deliver_fn fn, void *ctx)
{
	int32_t d;
	struct mux_slot *s;

	if (!r->started) {
		r->started = true;
		r->next = r->top = seq;
	}
	d = (int32_t)(seq - r->next);
	if (d >= 0 && (int32_t)(seq + 1 - r->top) > 0)
		r->top = seq + 1;
	if (d < 0) {
		struct mux_slot *o = slot_of(r, seq);

		/* a second copy (resent, or redundant), or one too old to
		 * tell: dropped */
		if ((size_t)-(int64_t)d >= r->cap ||
		    (o->done && o->done_seq == seq)) {
			r->st.dup++;
			return;
		}
		/* its hole was given up: late, but still worth having; and
		 * holes are waited for as long as this one took */
		r->st.late++;
		if (o->gave_up && o->done_seq == seq)
			note_late(r, now - o->hole_at, now);
		done(r, seq);
		fn(ctx, (uint8_t *)pkt, len);
		return;
	}
	if (d == 0) {
		done(r, seq);
		if (r->timing)		/* a hole filled */
			note_late(r, now - r->hole_since, now);
		r->timing = false;
		r->next++;
		fn(ctx, (uint8_t *)pkt, len);
		wake(r, seq, fn, ctx);
		drain(r, fn, ctx);
		hole_began(r, now);
		return;
	}
	if ((size_t)d >= r->cap) {
		/* too far ahead: give up what is missing rather than stall */
		r->st.overflow++;
		while (has_hole(r)) {
			uint32_t before = r->next;

			skip_hole(r, fn, ctx);
			if (r->next == before)
				break;
		}
		r->st.lost += (uint32_t)(seq - r->next);
		r->next = r->top = seq + 1;
		r->timing = false;
		done(r, seq);
		fn(ctx, (uint8_t *)pkt, len);
		return;
	}
	s = slot_of(r, seq);
	if (s->used || is_done(r, seq)) {
		r->st.dup++;
		return;
	}
	/* its flow has nothing missing: another flow's hole is no reason
	 * to wait; and one too big to hold (the peers' MTUs differ) goes
	 * now, its flow's order or not, rather than be lost */
	if (dep_met(r, seq, dep) || len > r->slot_len) {
		went_early(r, seq, now);
		r->st.early++;
		start_timing(r, now);
		fn(ctx, (uint8_t *)pkt, len);
		wake(r, seq, fn, ctx);
		return;
	}
	if (dep && dep != MUX_DEP_NONE) {
		/* released when the packet before it in its flow is */
		struct mux_slot *p = slot_of(r, seq - dep);

		p->has_waiter = true;
		p->waiter_of = seq - dep;
		p->waiter = seq;
	}
	s->used = true;
	s->seq = seq;
	s->len = (uint16_t)len;
	s->at = now;
	memcpy(r->pool + (s - r->slots) * r->slot_len, pkt, len);
	start_timing(r, now);
	r->held++;
	r->st.held++;
}

void mux_reorder_give_up(struct mux_reorder *r, double now,
			 mux_deliver_fn fn, void *ctx)
{
	if (!has_hole(r))
		return;
	skip_hole(r, fn, ctx);
	hole_began(r, now);
}

bool mux_reorder_hole(const struct mux_reorder *r)
{
	return has_hole(r);
}

double mux_reorder_deadline(const struct mux_reorder *r)
{
	return has_hole(r) && r->timing ?
	       r->hole_since + mux_reorder_hold(r) : 0;
}
