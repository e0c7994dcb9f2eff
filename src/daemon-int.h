/* SPDX-License-Identifier: MIT */
/* The daemon's state, shared by daemon.c (wiring, start and stop) and
 * daemon_ctl.c (what the control socket and SIGHUP change). */
#ifndef BRAID_DAEMON_INT_H
#define BRAID_DAEMON_INT_H

#include <ev.h>
#include <json-c/json.h>

#include "cfg.h"
#include "ctl.h"
#include "linkmap.h"
#include "log.h"
#include "metrics.h"
#include "multiplexer.h"
#include "report.h"
#include "tundev.h"

/* What a link carried over the last second. */
struct daemon_rate {
	uint16_t id;
	uint64_t tx, rx;	/* bytes at the last sample */
	double tx_bps, rx_bps;
};

struct daemon {
	struct ev_loop *loop;
	struct cfg *cfg;	/* links: the slave's current set */
	const char *cfg_path;
	struct tun *tun;
	struct tun_policy *policy;
	struct tun_route_cfg routes;	/* what policy installed */
	struct lm *lm;
	struct mux *mux;
	struct ctl *ctl;
	struct metrics *metrics;
	double started;
	int keeper_fd;		/* to the keeper (src/hook.c) */
	ev_io tun_rx;
	ev_signal sigint, sigterm, sigusr1, sighup;
	ev_timer rate_timer;
	struct daemon_rate rates[MUX_MAX_LINKS];
	uint64_t tun_rx_pkts, tun_tx_pkts, tun_drops;
	struct log_rl tun_rl;
	uint8_t buf[MUX_HDR_LEN + LM_MAX_PAYLOAD];
};

/* Sets a slave link up in linkmap and multiplexer and appends it to
 * d->cfg (its password is wiped once linkmap holds it). 0 or -errno. */
int daemon_link_add(struct daemon *d, struct cfg_link *l);
/* Removes the slave link at index i of d->cfg->links; with drain, it
 * first delivers what it has in flight (mux_link_del). */
void daemon_link_del(struct daemon *d, size_t i, bool drain);

void daemon_report(struct daemon *d, struct report *r);
/* Every second: what each link carried. */
void daemon_rates_sample(struct daemon *d);

/* The control socket's requests. */
struct json_object *daemon_ctl(void *ctx, struct json_object *req);
/* SIGHUP: reads the config again and applies its links; logs what it
 * cannot apply without a restart. */
void daemon_reload(struct daemon *d, struct json_object *reply);

#endif
