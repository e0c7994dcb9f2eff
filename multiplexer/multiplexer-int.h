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
