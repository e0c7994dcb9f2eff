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

#endif
