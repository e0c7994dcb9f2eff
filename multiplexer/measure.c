/* SPDX-License-Identifier: MIT */
/* What each link can do, measured from the receiver's feedback: round-trip
 * time (and its minimum, so queueing shows as the difference), delivery
 * rate, loss, and how much is in flight; and when a packet sent on it now
 * would arrive. */
#include <math.h>
#include <string.h>

#include "multiplexer-int.h"

#define MIN_RTT_WINDOW 10.0	/* s */
#define BW_WINDOW 2.0		/* s: max filter over delivery rate */
#define SRTT_GAIN 0.125
#define LOSS_GAIN 0.1

void mux_est_init(struct mux_est *e)
{
	memset(e, 0, sizeof(*e));
}

void mux_est_sent(struct mux_est *e, uint32_t lseq, size_t bytes, double now)
{
	struct mux_sent *s = &e->ring[lseq % MUX_EST_RING];

	e->sent_bytes += bytes;
	s->lseq = lseq;
	s->at = now;
	s->bytes_cum = e->sent_bytes;
}

/* Delivery-rate samples taken while a queue stood on the link measure
 * its capacity; the rest only show what it was given, so they may raise
 * the estimate but never lower it (a link given little would otherwise
 * look slow, be given less, and starve). */
static void bw_sample(struct mux_est *e, double bw, bool queued, double now)
{
	double best = bw;

	if (!queued) {
		if (bw > e->btlbw)
			e->btlbw = bw;
		return;
	}
	e->measured = true;

	e->bw[e->nbw % MUX_EST_BW].v = bw;
	e->bw[e->nbw % MUX_EST_BW].at = now;
	e->nbw++;
	for (int i = 0; i < MUX_EST_BW; i++)
		if (e->bw[i].at && now - e->bw[i].at <= BW_WINDOW &&
		    e->bw[i].v > best)
			best = e->bw[i].v;
	e->btlbw = best;
}

void mux_est_feedback(struct mux_est *e, const struct mux_fb *fb, double now)
{
	const struct mux_sent *s = &e->ring[fb->lseq_max % MUX_EST_RING];
	double rtt = 0;

	if (s->lseq == fb->lseq_max && s->at) {
		rtt = now - s->at - fb->ack_delay;
		if (rtt > 0) {
			if (!e->have_rtt || rtt <= e->min_rtt ||
			    now - e->min_rtt_at > MIN_RTT_WINDOW) {
				e->min_rtt = rtt;
				e->min_rtt_at = now;
			}
			e->srtt = e->have_rtt ?
				  e->srtt + SRTT_GAIN * (rtt - e->srtt) : rtt;
			e->have_rtt = true;
		}
		e->acked_bytes = s->bytes_cum;
	}
	if (e->have_fb && now > e->fb_at) {
		uint64_t bytes = fb->rx_bytes - e->fb.rx_bytes;
		uint32_t sent = fb->lseq_max - e->fb.lseq_max;
		uint32_t got = fb->rx_count - e->fb.rx_count;

		if (bytes)
			bw_sample(e, bytes / (now - e->fb_at),
				  rtt > e->min_rtt + MUX_QUEUE_SEEN, now);
		if (sent && sent < (1u << 30)) {
			double l = got >= sent ? 0 : 1 - (double)got / sent;

			e->loss += LOSS_GAIN * (l - e->loss);
		}
	}
	e->fb = *fb;
	e->fb_at = now;
	e->have_fb = true;
}

uint64_t mux_est_inflight(const struct mux_est *e)
{
	return e->sent_bytes - e->acked_bytes;
}

/* Data is in flight but no feedback for several round trips: the link has
 * probably stopped delivering, long before keepalives would say so. */
bool mux_est_stalled(const struct mux_est *e, double now)
{
	double wait = 4 * e->srtt;

	if (!e->have_fb || !mux_est_inflight(e))
		return false;
	if (wait < MUX_STALL_MIN)
		wait = MUX_STALL_MIN;
	return now - e->fb_at > wait;
}

/* The rate to plan with: measured, or optimistic until it is. */
static double rate(const struct mux_est *e)
{
	return e->measured || e->btlbw > MUX_RATE_PRIOR ? e->btlbw :
							  MUX_RATE_PRIOR;
}

double mux_est_queue(const struct mux_est *e)
{
	double r = rate(e);
	double pipe = r * (e->min_rtt + MUX_FB_INTERVAL);
	double q = (double)mux_est_inflight(e) - pipe;

	return q > 0 ? q / r : 0;
}

double mux_est_arrival(const struct mux_est *e, size_t bytes)
{
	if (!e->have_rtt)
		return NAN;
	return mux_est_queue(e) + bytes / rate(e) + e->min_rtt / 2;
}
