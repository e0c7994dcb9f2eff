/* SPDX-License-Identifier: MIT */
/* A snapshot of the running daemon (links, counters, rates), and its JSON
 * form: what `braid status`, `braid top` and the metrics show. */
#ifndef BRAID_REPORT_H
#define BRAID_REPORT_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "linkmap.h"
#include "multiplexer.h"

struct report_link {
	uint16_t id;
	const char *type;	/* "udp", "socks5", "socks5-tcp"; master: "" */
	char address[256];	/* where the link's packets go now ("" none) */
	char proxy[64];		/* socks links: the proxy ("" none) */
	char ifname[IFNAMSIZ];	/* interface it is bound to ("" none) */
	double rate_cap;	/* bytes/s, 0: none */
	double tx_bps, rx_bps;	/* bits/s over the last second */
	struct mux_link_stats mux;	/* name, state, RTT, loss, window */
	struct lm_link_stats lm;	/* packets and bytes on the wire */
};

/* A link's drops as every view shows them: packets the linkmap failed to
 * send, and keepalives or answers a full buffer refused. */
uint64_t report_link_drops(const struct lm_link_stats *lm,
			   const struct mux_link_stats *mux);

struct report {
	bool master;
	char device[IFNAMSIZ];
	double uptime;		/* s since the daemon started */
	double session_age;	/* s since the current session keys (-1 none) */
	const char *scheduler;	/* "earliest", "equalized", "roundrobin" */
	const char *bonding;	/* "aggregate", "redundant" */
	uint64_t tun_rx, tun_tx, tun_drops;	/* packets from/to the TUN */
	double tx_bps, rx_bps;	/* tunnel, bits/s over the last second */
	struct mux_stats mux;
	struct lm_stats lm;
	size_t nlinks;
	struct report_link links[MUX_MAX_LINKS];
};

/* The snapshot as a JSON object (the `status` reply, docs/CONTROL.md);
 * NULL if out of memory. The caller puts it. */
struct json_object *report_json(const struct report *r);

#endif
