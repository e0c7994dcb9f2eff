/* SPDX-License-Identifier: MIT */
/* Prometheus metrics over HTTP (libmicrohttpd, driven by the daemon's
 * libev loop: no threads). */
#ifndef BRAID_METRICS_H
#define BRAID_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <ev.h>

#include "report.h"

#define METRICS_MAX_CLIENTS 16
#define METRICS_TIMEOUT 5	/* s a client may stay idle */

struct metrics;

/* Fills r with a fresh snapshot of the daemon. */
typedef void (*metrics_fill)(void *ctx, struct report *r);

/* Serves GET /metrics on addr (IPv4 or IPv6, TCP; port 0 picks one); the
 * socket is bound here, so it works on after root is dropped. Other paths
 * are 404, other methods 405. Returns 0 or -errno (-EADDRINUSE,
 * -EADDRNOTAVAIL, -EACCES from bind; -EAFNOSUPPORT for a family other
 * than IPv4 and IPv6). */
int metrics_new(struct metrics **out, struct ev_loop *loop,
		const struct sockaddr *addr, socklen_t addr_len,
		metrics_fill fill, void *ctx);
/* Stops the watchers and the server, closing every client. */
void metrics_free(struct metrics *m);

/* The TCP port it listens on (the one picked for port 0). */
uint16_t metrics_port(const struct metrics *m);

/* Writes r in the Prometheus text exposition format (version 0.0.4).
 * Returns 0 or -EIO. */
int metrics_format(const struct report *r, FILE *f);

#endif
