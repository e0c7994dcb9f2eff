/* SPDX-License-Identifier: MIT */
/* What each link can do, measured from the receiver's feedback, and how
 * much it may carry: round-trip time (and its minimum, so queueing shows
 * as the difference), delivery rate, loss, bytes in flight, a BBR-like
 * congestion window, and when a packet sent on it now would arrive. */
#include <math.h>
#include <string.h>

#include "multiplexer-int.h"

#define MIN_RTT_WINDOW 10.0	/* s */
#define BW_ROUNDS 10		/* max filter over delivery rate, in rounds */
#define BW_WINDOW_MIN 1.0	/* s: and at least this long */
#define SRTT_GAIN 0.125
#define RTTVAR_GAIN 0.25
#define LOSS_GAIN 0.1
#define STARTUP_GAIN 2.0	/* cwnd / BDP while the rate still grows */
#define CWND_GAIN 1.1		/* cwnd / BDP after: a tenth-BDP queue */
#define FULL_GROWTH 1.25	/* startup ends when the rate grows less */
#define FULL_ROUNDS 3		/* for this many rounds */
#define CWND_MIN (4 * 1500)
#define CWND_PROBE (2 * 1500)	/* at least this beyond the BDP */
#define CWND_INIT (16 * 1500)
#define RTT_UNKNOWN 0.100	/* s assumed before the first sample */
#define STALL_MARGIN 0.030	/* s on top of srtt + 4 rttvar */
#define RATE_IVAL_MIN 0.002	/* s: shorter rate samples are noise */
#define PIPE_MIN (4 * 1500)	/* bytes in flight that keep a link busy */
#define PACE_STARTUP_GAIN 2.885	/* pacing rate / rate while it grows */
#define PACE_GAIN 1.25		/* after: room to find that it grew */
#define PACE_BURST (2 * 1500)	/* bytes a link may send at once ... */
#define PACE_BURST_TIME 0.001	/* ... or this long of its pacing rate */

void mux_est_init(struct mux_est *e)
{
	memset(e, 0, sizeof(*e));
}

uint64_t mux_est_inflight(const struct mux_est *e)
{
	return e->sent_bytes - e->acked_bytes;
}

/* Bytes the link holds in its pipe with no queue: its rate times the
 * round trip, plus what waits for the receiver's next feedback. */
static double capped(const struct mux_est *e, double r)
{
	return e->cap && r > e->cap ? e->cap : r;
}

static double bdp(const struct mux_est *e)
{
	return capped(e, e->btlbw) * (e->min_rtt + MUX_FB_INTERVAL);
}

/* The window for the pipe itself, without the hold. */
static double wire_cwnd(const struct mux_est *e)
{
	double w;

	if (!e->have_rtt || !e->measured)
		return e->cap ? fmin(CWND_INIT, fmax(CWND_MIN, e->cap *
				     (e->have_rtt ? e->min_rtt + MUX_FB_INTERVAL
						  : RTT_UNKNOWN))) : CWND_INIT;
	/* at least two packets beyond the pipe: a window of a few packets
	 * that the gain cannot grow by a whole one would carry no more than
	 * the rate it was sized for, and a link measured slow once (given
	 * little) could never show more */
	w = fmax(bdp(e) * (e->full ? CWND_GAIN : STARTUP_GAIN),
		 bdp(e) + CWND_PROBE);
	return w < CWND_MIN ? CWND_MIN : w;
}

/* The rate to plan with: measured, or (optimistically, until it is) what
 * the window allows. */
static double rate(const struct mux_est *e)
{
	double rtt = e->have_rtt ? e->min_rtt + MUX_FB_INTERVAL : RTT_UNKNOWN;

	return capped(e, e->measured ? e->btlbw :
			 fmax(e->btlbw, wire_cwnd(e) / rtt));
}

/* Packets held back before they leave (e->hold) make the pipe longer:
 * by the hold's worth of the rate. */
static double held(const struct mux_est *e)
{
	return e->hold ? e->hold * rate(e) : 0;
}

double mux_est_cwnd(const struct mux_est *e)
{
	return wire_cwnd(e) + held(e);
}

bool mux_est_fits(const struct mux_est *e, size_t bytes, double over)
{
	return mux_est_inflight(e) + e->queued + bytes <=
	       mux_est_cwnd(e) + over;
}

bool mux_est_room(const struct mux_est *e, size_t bytes)
{
	return e->next_lseq - e->una < MUX_EST_RING - 16 &&
	       mux_est_fits(e, bytes, 0);
}

void mux_est_sent(struct mux_est *e, uint32_t lseq, size_t bytes, double now)
{
	struct mux_sent *s = &e->ring[lseq % MUX_EST_RING];
	double ahead;

	/* after an idle spell, the rate is measured from now on, not
	 * across the silence */
	if (!mux_est_inflight(e)) {
		e->dlv_at = now;
		e->first_at = now;
		/* after a real idle spell, not after a write-off (packets
		 * written off may still arrive and count in the sample) */
		e->rx_stale = !e->written_off;
		e->written_off = false;
		e->una = lseq;
	}
	/* below its pipe (or a few packets, before the pipe is known) the
	 * link is not kept busy: what it delivers shows what it was given.
	 * Unless its window is what kept it below: then what it delivers is
	 * what the window allows, a real sample, and the only way out of a
	 * window too small for a pipe measured while it was given little */
	ahead = (double)(mux_est_inflight(e) + e->queued);
	s->app_limited = e->have_fb &&
			 ahead < fmax(bdp(e) + held(e), PIPE_MIN) &&
			 ahead + 2.0 * bytes <= mux_est_cwnd(e);
	e->sent_bytes += bytes;
	e->next_lseq = lseq + 1;
	s->lseq = lseq;
	s->at = now;
	s->bytes_cum = e->sent_bytes;
	s->dlv = e->dlv;
	s->dlv_rx_at = e->dlv_rx_at;
	s->rx_stale = e->rx_stale;
	s->dlv_at = e->have_fb ? e->dlv_at : 0;
	s->first_at = e->first_at;
}

/* Bytes/s the link is fed at: a little above its measured rate (2.9 times
 * it while the rate still grows, as BBR's startup), so what the window
 * allows leaves as a steady stream and not as a burst that overflows a
 * shallow buffer or a policer in front of the link; at most its cap. 0:
 * not paced, the rate is not measured yet. */
double mux_est_pace_rate(const struct mux_est *e)
{
	if (!e->have_rtt || !e->measured)
		return e->cap;
	return capped(e, e->btlbw * (e->full ? PACE_GAIN : PACE_STARTUP_GAIN));
}

/* What the link was given beyond its pacing rate (bytes), paid off at
 * the rate as time passes: a change of rate applies at once. */
static void pace_settle(struct mux_est *e, double r, double now)
{
	if (r <= 0)
		e->pace_debt = 0;
	else if (now > e->pace_t)
		e->pace_debt = fmax(0, e->pace_debt - r * (now - e->pace_t));
	if (now > e->pace_t)
		e->pace_t = now;
}

double mux_est_pace_wait(struct mux_est *e, size_t bytes, double now)
{
	double r = mux_est_pace_rate(e), over;

	if (r <= 0)
		return 0;
	pace_settle(e, r, now);
	/* a little may go at once (timers fire a millisecond late anyway),
	 * and a packet bigger than that when nothing is owed */
	over = e->pace_debt + bytes - fmax(fmax(PACE_BURST, r * PACE_BURST_TIME),
					   bytes);
	return over / r > 1e-6 ? over / r : 0;	/* not rounding errors */
}

void mux_est_paced(struct mux_est *e, size_t bytes, double now)
{
	double r = mux_est_pace_rate(e);

	if (r <= 0)
		return;
	pace_settle(e, r, now);
	e->pace_debt += bytes;
}

/* Windowed max of delivery-rate samples. A sample taken while the link
 * was given less than it could carry (app-limited) only shows what it was
 * given, so it may raise the estimate but never hold it up or down: a
 * link given little would otherwise look slow, be given less, and
 * starve. */
static void bw_sample(struct mux_est *e, double bw, bool app_limited,
		      double now)
{
	double win = BW_ROUNDS * e->srtt, best = 0;

	if (app_limited && bw <= e->btlbw)
		return;
	if (win < BW_WINDOW_MIN)
		win = BW_WINDOW_MIN;
	e->bw[e->nbw % MUX_EST_BW].v = bw;
	e->bw[e->nbw % MUX_EST_BW].at = now;
	e->nbw++;
	for (int i = 0; i < MUX_EST_BW; i++)
		if (e->bw[i].at && now - e->bw[i].at <= win &&
		    e->bw[i].v > best)
			best = e->bw[i].v;
	e->btlbw = best;
	if (!app_limited)
		e->measured = true;
}

static void rtt_sample(struct mux_est *e, double rtt, double now)
{
	if (!e->have_rtt || rtt <= e->min_rtt ||
	    now - e->min_rtt_at > MIN_RTT_WINDOW) {
		e->min_rtt = rtt;
		e->min_rtt_at = now;
	}
	if (e->have_rtt) {
		e->rttvar += RTTVAR_GAIN * (fabs(rtt - e->srtt) - e->rttvar);
		e->srtt += SRTT_GAIN * (rtt - e->srtt);
	} else {
		e->srtt = rtt;
		e->rttvar = rtt / 2;
	}
	e->have_rtt = true;
}

/* Once per round trip, in startup: has the rate stopped growing? */
static void round_end(struct mux_est *e, const struct mux_sent *s)
{
	if (s->bytes_cum < e->round_end)
		return;
	e->round_end = e->sent_bytes;
	e->rounds++;
	if (e->full || s->app_limited)
		return;
	if (e->btlbw >= e->full_bw * FULL_GROWTH) {
		e->full_bw = e->btlbw;
		e->full_cnt = 0;
	} else if (++e->full_cnt >= FULL_ROUNDS) {
		e->full = true;
	}
}

/* The newest packet the receiver has (lseq_max) was sent at s->at, when
 * the receiver had reported s->dlv bytes; it now reports fb->rx_bytes.
 * Their difference over the longer of the send interval and the
 * receiver's own interval between the two reports (its clock, so jitter
 * on the way back does not squeeze it) is a delivery-rate sample (as in
 * BBR's rate sampling). */
static void acked(struct mux_est *e, const struct mux_fb *fb,
		  const struct mux_sent *s, double now)
{
	double rtt = now - s->at - fb->ack_delay;

	if (rtt > 0)
		rtt_sample(e, rtt, now);
	if (s->dlv_at && e->have_fb) {
		/* the receiver's interval, unless it spans an idle spell
		 * (it would make the rate look tiny): then the sender's */
		double ival = s->rx_stale ? now - s->dlv_at :
			      (int32_t)(fb->rx_at - s->dlv_rx_at) / 1e6;
		double snd = s->at - s->first_at;

		if (snd > ival)
			ival = snd;
		if (ival >= RATE_IVAL_MIN && fb->rx_bytes > s->dlv)
			bw_sample(e, (double)(fb->rx_bytes - s->dlv) / ival,
				  s->app_limited, now);
	}
	e->acked_bytes = s->bytes_cum;
	e->una = fb->lseq_max + 1;
	e->first_at = s->at;
	round_end(e, s);
}

bool mux_est_feedback(struct mux_est *e, const struct mux_fb *fb, double now)
{
	const struct mux_sent *s = &e->ring[fb->lseq_max % MUX_EST_RING];
	bool fresh = s->lseq == fb->lseq_max && s->at &&
		     (int32_t)(fb->lseq_max - e->una) >= 0 &&
		     (int32_t)(fb->lseq_max - e->next_lseq) < 0;

	if (fresh)
		acked(e, fb, s, now);
	if (e->have_fb && now > e->fb_at) {
		uint32_t sent = fb->lseq_max - e->fb.lseq_max;
		uint32_t got = fb->rx_count - e->fb.rx_count;

		if (sent && sent < (1u << 30)) {
			double l = got >= sent ? 0 : 1 - (double)got / sent;

			e->loss += LOSS_GAIN * (l - e->loss);
		}
	}
	e->fb = *fb;
	e->fb_at = now;
	e->dlv = fb->rx_bytes;
	e->dlv_rx_at = fb->rx_at;
	e->rx_stale = false;
	e->dlv_at = now;
	e->have_fb = true;
	return fresh;
}

/* Everything in flight is written off (the link stalled); the rate and
 * RTT it had are kept for when it comes back. */
void mux_est_forget_inflight(struct mux_est *e)
{
	e->written_off = e->written_off || mux_est_inflight(e);
	e->acked_bytes = e->sent_bytes;
	e->una = e->next_lseq;
}

double mux_est_rto(const struct mux_est *e)
{
	if (!e->have_rtt)
		return 4 * RTT_UNKNOWN;
	return e->srtt + 4 * e->rttvar + MUX_FB_INTERVAL + STALL_MARGIN;
}

/* The oldest packet in flight has waited longer than any answer should
 * take: the link has probably stopped delivering, long before keepalives
 * would say so. */
bool mux_est_stalled(const struct mux_est *e, double now)
{
	const struct mux_sent *s = &e->ring[e->una % MUX_EST_RING];

	if (!mux_est_inflight(e) || s->lseq != e->una || !s->at)
		return false;
	return now - s->at > mux_est_rto(e);
}

static double base_rtt(const struct mux_est *e)
{
	return e->have_rtt ? e->min_rtt : RTT_UNKNOWN;
}

/* Seconds of queue at rate r behind ahead bytes, which fill the pipe
 * and hold time s of held packets first (a hold is not queue). */
static double queue_behind(const struct mux_est *e, double r, double ahead,
			   double hold)
{
	double q = ahead - r * (base_rtt(e) + MUX_FB_INTERVAL + hold);

	return q > 0 ? q / r : 0;
}

static double queue(const struct mux_est *e, double r)
{
	return queue_behind(e, r, (double)(mux_est_inflight(e) + e->queued),
			    e->hold);
}

double mux_est_queue(const struct mux_est *e)
{
	return queue(e, rate(e));
}

/* For a packet put ahead of those waiting to leave (a resend): only what
 * is already on the wire is ahead of it. */
double mux_est_arrival_first(const struct mux_est *e, size_t bytes,
			     double base)
{
	double r = rate(e);

	return (base ? base : RTT_UNKNOWN) / 2 +
	       queue_behind(e, r, (double)mux_est_inflight(e), 0) + bytes / r;
}

/* Per packet, per link: the rate is worked out once. */
double mux_est_arrival(const struct mux_est *e, size_t bytes, double wait,
		       double base)
{
	double r = rate(e);

	return (base ? base : RTT_UNKNOWN) / 2 + wait + queue(e, r) +
	       bytes / r;
}
