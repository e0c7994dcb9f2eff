/* SPDX-License-Identifier: MIT */
/* multiplexer internals the tests reach: the scheduler by itself. */
#ifndef BRAID_MULTIPLEXER_INT_H
#define BRAID_MULTIPLEXER_INT_H

#include "multiplexer.h"

/* Smooth weighted round-robin over n entries (nginx's algorithm): picks
 * the eligible entry with the highest running credit. Returns its index
 * or -1 if none is eligible. */
struct mux_wrr {
	unsigned weight;
	long credit;
	bool eligible;
	bool stream;	/* a TCP stream: loses ties to a UDP link */
};

int mux_wrr_pick(struct mux_wrr *w, size_t n);

#define MUX_KEEPALIVE_LEN 44

typedef void (*mux_deliver_fn)(void *ctx, uint8_t *pkt, size_t len);

/* Feedback a receiver sends on each link it got data on (measure.c). */
struct mux_fb {
	uint32_t lseq_max;	/* highest link sequence received */
	uint32_t rx_count;	/* packets received on the link, ever */
	uint64_t rx_bytes;	/* their bytes */
	double ack_delay;	/* s between that packet and the feedback */
};
#define MUX_FB_LEN 20

#define MUX_EST_RING 1024
#define MUX_EST_BW 16

struct mux_sent {
	uint32_t lseq;
	double at;
	uint64_t bytes_cum;
};

/* A sender's picture of one link. */
struct mux_est {
	bool have_rtt, have_fb;
	double srtt, min_rtt, min_rtt_at;
	double btlbw;			/* bytes/s, max over the last 2 s */
	bool measured;			/* btlbw seen with a queue standing */
	struct { double v, at; } bw[MUX_EST_BW];
	unsigned nbw;
	double loss;			/* fraction, smoothed */
	uint64_t sent_bytes, acked_bytes;
	struct mux_fb fb;		/* the last feedback */
	double fb_at;
	struct mux_sent ring[MUX_EST_RING];
};

void mux_est_init(struct mux_est *e);
void mux_est_sent(struct mux_est *e, uint32_t lseq, size_t bytes, double now);
void mux_est_feedback(struct mux_est *e, const struct mux_fb *fb, double now);
uint64_t mux_est_inflight(const struct mux_est *e);
#define MUX_STALL_MIN 0.1	/* s without feedback before a link stalls */
#define MUX_FB_INTERVAL 0.01	/* s between feedback messages */
#define MUX_RATE_PRIOR 12.5e6	/* bytes/s assumed until measured */
#define MUX_QUEUE_SEEN 0.002	/* s of RTT above min that means a queue */
#define MUX_QUEUE_MAX 0.050	/* s of queue a link may hold */
/* Seconds of queue on the link now, by the estimate. */
double mux_est_queue(const struct mux_est *e);
bool mux_est_stalled(const struct mux_est *e, double now);
/* Seconds until a packet of bytes sent now would arrive; NAN if unknown. */
double mux_est_arrival(const struct mux_est *e, size_t bytes);

struct mux_slot {
	bool used;
	uint16_t len;
	uint32_t seq;
};

/* Bounded reorder buffer over 32-bit sequence numbers (reorder.c). */
struct mux_reorder {
	bool started;
	uint32_t next;			/* the sequence number due next */
	size_t cap, slot_len, held;
	struct mux_slot *slots;
	uint8_t *pool;			/* cap buffers of slot_len bytes */
	double hole_since;		/* when the current hole began */
	double late_max, late_at;	/* how late filled holes were */
	struct mux_reorder_stats st;
};

int mux_reorder_init(struct mux_reorder *r, size_t slots, size_t slot_len);
void mux_reorder_free(struct mux_reorder *r);
void mux_reorder_in(struct mux_reorder *r, uint32_t seq, const uint8_t *pkt,
		    size_t len, double now, mux_deliver_fn fn, void *ctx);
/* Gives up the hole at the head (it is lost) and releases what follows. */
void mux_reorder_give_up(struct mux_reorder *r, double now, mux_deliver_fn fn,
			 void *ctx);
/* How long a hole is waited for now; when the current one is given up
 * (0: no hole). */
double mux_reorder_hold(const struct mux_reorder *r);
double mux_reorder_deadline(const struct mux_reorder *r);

#endif
