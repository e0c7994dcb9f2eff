/* SPDX-License-Identifier: MIT */
/* Prometheus metrics over HTTP (libmicrohttpd, driven by the daemon's
 * libev loop: no threads). */
#ifndef BRAID_METRICS_H
#define BRAID_METRICS_H

#include <stdio.h>
#include <sys/socket.h>

#include <ev.h>

#include "report.h"

struct metrics;

/* Fills r with a fresh snapshot of the daemon. */
typedef void (*metrics_fill)(void *ctx, struct report *r);

/* Serves GET /metrics on addr (IPv4 or IPv6, TCP). Returns 0 or -errno. */
int metrics_new(struct metrics **out, struct ev_loop *loop,
		const struct sockaddr *addr, socklen_t addr_len,
		metrics_fill fill, void *ctx);
void metrics_free(struct metrics *m);

/* Writes r in the Prometheus text exposition format (version 0.0.4).
 * Returns 0 or -EIO. */
int metrics_format(const struct report *r, FILE *f);

#endif
