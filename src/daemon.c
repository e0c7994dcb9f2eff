/* SPDX-License-Identifier: MIT */
/* Daemon wiring: tun -> mux -> linkmap and back, signals, stats lines. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "daemon-int.h"
#include "daemon.h"
#include "hook.h"
#include "privs.h"

#define TUN_BATCH 64

static void stats_log(struct daemon *d)
{
	uint16_t ids[MUX_MAX_LINKS];
	size_t n = mux_links(d->mux, ids, MUX_MAX_LINKS);
	struct mux_stats ms;
	struct lm_stats ls;

	for (size_t i = 0; i < n && i < MUX_MAX_LINKS; i++) {
		struct mux_link_stats m;
		struct lm_link_stats l = { 0 };
		char peer[64] = "-";

		if (mux_link_stats(d->mux, ids[i], &m) < 0)
			continue;
		if (lm_link_stats(d->lm, ids[i], &l) == 0 && l.peer_len)
			lm_addr_str((struct sockaddr *)&l.peer, peer,
				    sizeof(peer));
		log_info("stats link=%s id=%u state=%s tx_packets=%llu "
			 "tx_bytes=%llu rx_packets=%llu rx_bytes=%llu "
			 "drops=%llu weight=%u rtt_ms=%.1f downs=%llu peer=%s "
			 "srtt_ms=%.1f min_rtt_ms=%.1f rate_kbit=%.0f "
			 "loss_pct=%.2f inflight=%llu cwnd=%.0f stalls=%llu "
			 "resent=%llu backup=%d stalled=%d hold_ms=%.1f",
			 m.name, ids[i], m.up ? "up" : "down",
			 (unsigned long long)l.tx_packets,
			 (unsigned long long)l.tx_bytes,
			 (unsigned long long)l.rx_packets,
			 (unsigned long long)l.rx_bytes,
			 (unsigned long long)report_link_drops(&l, &m),
			 m.weight, m.rtt * 1e3,
			 (unsigned long long)m.downs, peer, m.srtt * 1e3,
			 m.min_rtt * 1e3, m.rate * 8 / 1e3, m.loss * 100,
			 (unsigned long long)m.inflight, m.cwnd,
			 (unsigned long long)m.stalls,
			 (unsigned long long)m.resent, m.backup, m.stalled,
			 m.hold * 1e3);
	}
	mux_stats(d->mux, &ms);
	lm_stats(d->lm, &ls);
	log_info("stats total tun_rx=%llu tun_tx=%llu no_link=%llu "
		 "auth_fail=%llu replay=%llu malformed=%llu stale_session=%llu "
		 "tun_drops=%llu congested=%llu hs_init=%llu hs_bad=%llu "
		 "hs_stale=%llu "
		 "hs_ratelimited=%llu reorder_held=%llu reorder_late=%llu "
		 "reorder_lost=%llu reorder_dup=%llu reorder_overflow=%llu "
		 "reorder_early=%llu "
		 "queued=%llu copies=%llu rexmit_kept=%llu hc_tx=%llu hc_saved=%llu "
		 "hc_rx=%llu hc_drop=%llu",
		 (unsigned long long)d->tun_rx_pkts,
		 (unsigned long long)d->tun_tx_pkts,
		 (unsigned long long)ms.no_link,
		 (unsigned long long)ls.auth_fail,
		 (unsigned long long)ls.replay,
		 (unsigned long long)ls.malformed,
		 (unsigned long long)ls.stale_session,
		 (unsigned long long)d->tun_drops,
		 (unsigned long long)ms.congested,
		 (unsigned long long)ls.hs_init,
		 (unsigned long long)ls.hs_bad,
		 (unsigned long long)ls.hs_stale,
		 (unsigned long long)ls.hs_ratelimited,
		 (unsigned long long)ms.reorder.held,
		 (unsigned long long)ms.reorder.late,
		 (unsigned long long)ms.reorder.lost,
		 (unsigned long long)ms.reorder.dup,
		 (unsigned long long)ms.reorder.overflow,
		 (unsigned long long)ms.reorder.early,
		 (unsigned long long)ms.queued,
		 (unsigned long long)ms.copies,
		 (unsigned long long)ms.rexmit_kept,
		 (unsigned long long)ms.hc_tx,
		 (unsigned long long)ms.hc_saved,
		 (unsigned long long)ms.hc_rx,
		 (unsigned long long)ms.hc_drop);
}

static void tun_rx_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, tun_rx);

	(void)loop;
	(void)revents;
	for (int i = 0; i < TUN_BATCH; i++) {
		uint8_t *pkt = d->buf + MUX_HDR_LEN;
		ssize_t n = read(tun_fd(d->tun), pkt,
				 sizeof(d->buf) - MUX_HDR_LEN);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn_rl(&d->tun_rl, "read from %s: %s",
					    tun_name(d->tun), strerror(errno));
			return;
		}
		d->tun_rx_pkts++;
		mux_send(d->mux, pkt, (size_t)n);
	}
}

static int mux_send_cb(void *ctx, uint16_t link_id, uint8_t type,
		       const void *buf, size_t len)
{
	struct daemon *d = ctx;

	return lm_send(d->lm, link_id, type, buf, len);
}

static void mux_deliver_cb(void *ctx, uint16_t link_id, uint8_t *pkt,
			   size_t len)
{
	struct daemon *d = ctx;

	(void)link_id;
	if (write(tun_fd(d->tun), pkt, len) < 0) {
		d->tun_drops++;
		if (errno != EAGAIN)
			log_warn_rl(&d->tun_rl, "write to %s: %s",
				    tun_name(d->tun), strerror(errno));
		return;
	}
	d->tun_tx_pkts++;
}

static void mux_state_cb(void *ctx, uint16_t link_id, bool up)
{
	struct daemon *d = ctx;
	struct lm_link_stats st;

	if (!up && !d->cfg->master)
		lm_link_reset(d->lm, link_id);
	/* a link the master learned over a TCP stream: linkmap said so
	 * before the multiplexer had the link */
	if (up && d->cfg->master && lm_link_stats(d->lm, link_id, &st) == 0)
		mux_link_set_stream(d->mux, link_id, st.stream);
}

static void mux_removed_cb(void *ctx, uint16_t link_id)
{
	struct daemon *d = ctx;

	if (!d->cfg->master)
		lm_link_del(d->lm, link_id);
}

static void lm_transport_cb(void *ctx, uint16_t link_id, bool stream)
{
	struct daemon *d = ctx;

	mux_link_set_stream(d->mux, link_id, stream);
}

static void lm_recv_cb(void *ctx, uint16_t link_id, uint8_t type,
		       uint8_t *payload, size_t len)
{
	struct daemon *d = ctx;

	mux_input(d->mux, link_id, type, payload, len);
}

static const struct mux_ops mux_ops = {
	.send = mux_send_cb,
	.deliver = mux_deliver_cb,
	.state = mux_state_cb,
	.removed = mux_removed_cb,
};

static const struct lm_ops lm_ops = {
	.recv = lm_recv_cb,
	.transport = lm_transport_cb,
};

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	ev_break(loop, EVBREAK_ALL);
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, sighup);
	struct json_object *reply = json_object_new_object();

	(void)loop;
	(void)revents;
	log_info("SIGHUP: reloading %s", d->cfg_path);
	if (reply)
		daemon_reload(d, reply);
	json_object_put(reply);
}

static void rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	daemon_rates_sample(container_of(w, struct daemon, rate_timer));
}

static void metrics_fill_cb(void *ctx, struct report *r)
{
	daemon_report(ctx, r);
}

static void usr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, sigusr1);

	(void)loop;
	(void)revents;
	stats_log(d);
}

static int setup_tun(struct daemon *d)
{
	const struct cfg *c = d->cfg;
	int err;

	err = tun_new(&d->tun, c->tun_name);
	if (err < 0) {
		log_warnx("cannot open TUN device %s: %s%s", c->tun_name,
			  strerror(-err), err == -EPERM ?
			  " (braid needs root or CAP_NET_ADMIN)" : "");
		return err;
	}
	err = tun_set_mtu(d->tun, c->mtu);
	if (err < 0) {
		log_warnx("%s: cannot set mtu %u: %s", tun_name(d->tun), c->mtu,
			  strerror(-err));
		return err;
	}
	for (size_t i = 0; i < c->naddrs; i++) {
		err = tun_addr_add(d->tun, &c->addrs[i]);
		if (err < 0) {
			log_warnx("%s: cannot add address %zu: %s",
				  tun_name(d->tun), i + 1, strerror(-err));
			return err;
		}
	}
	err = tun_set_up(d->tun, true);
	if (err < 0)
		log_warnx("%s: cannot bring up: %s", tun_name(d->tun),
			  strerror(-err));
	return err;
}

static int setup_links(struct daemon *d)
{
	struct cfg *c = d->cfg;
	struct lm_cfg lc = { .master = c->master, .addr = c->addr,
			     .addr_len = c->addr_len, .rekey = c->rekey,
			     .no_tcp = !c->listen_tcp,
			     .fwmark = c->route_default || c->nroutes ?
				       c->fwmark : 0,
			     .ops = &lm_ops, .ctx = d };
	struct cfg_link *links;
	size_t nlinks;
	struct mux_cfg mc = { .master = c->master, .max_packet = c->mtu,
			      .sched = c->sched,
			      .redundant = c->redundant,
			      .compress = c->compress,
			      .measure = c->measure,
			      .keepalive = c->keepalive,
			      .dead_time = c->dead_time, .ops = &mux_ops,
			      .ctx = d };
	int err = 0;

	memcpy(mc.redundant_ports, c->redundant_ports,
	       sizeof(mc.redundant_ports));
	mc.n_redundant_ports = c->n_redundant_ports;
	memcpy(lc.key, c->key, sizeof(lc.key));
	err = lm_new(&d->lm, d->loop, &lc);
	sodium_memzero(&lc, sizeof(lc));
	if (err < 0) {
		log_warnx("cannot listen on %s: %s", c->addr_str,
			  strerror(-err));
		return err;
	}
	err = mux_new(&d->mux, d->loop, &mc);
	if (err < 0)
		return err;
	/* daemon_link_add appends each link back to the list */
	links = malloc(sizeof(c->links));
	if (!links)
		return -ENOMEM;
	memcpy(links, c->links, sizeof(c->links));
	nlinks = c->nlinks;
	c->nlinks = 0;
	for (size_t i = 0; i < nlinks && err == 0; i++) {
		err = daemon_link_add(d, &links[i]);
		if (err < 0)
			log_warnx("link %s: %s", links[i].name, strerror(-err));
	}
	sodium_memzero(links, sizeof(c->links));
	free(links);
	return err;
}

/* The control socket, metrics and routes: made as root, used after. */
static int setup_control(struct daemon *d)
{
	const struct cfg *c = d->cfg;
	int err;

	err = ctl_new(&d->ctl, d->loop, c->control, daemon_ctl, d);
	if (err < 0) {
		log_warnx("control socket %s: %s%s", c->control, strerror(-err),
			  err == -EADDRINUSE ? " (another braid answers "
			  "there; set control in the config)" : "");
		return err;
	}
	if (c->metrics_len) {
		err = metrics_new(&d->metrics, d->loop,
				  (struct sockaddr *)&c->metrics,
				  c->metrics_len, metrics_fill_cb, d);
		if (err < 0) {
			log_warnx("metrics: cannot listen on %s: %s",
				  c->metrics_str, strerror(-err));
			return err;
		}
	}
	if (c->route_default || c->nroutes) {
		struct tun_route_cfg *rc = &d->routes;

		rc->fwmark = c->fwmark;
		rc->table = c->route_table;
		rc->pref = 25200;
		rc->default_route = c->route_default;
		rc->nroutes = c->nroutes;
		memcpy(rc->routes, c->routes, sizeof(rc->routes));
		err = tun_policy_new(&d->policy, d->tun, rc);
		if (err < 0) {
			log_warnx("cannot route through %s (table %u, fwmark "
				  "0x%x): %s", tun_name(d->tun), c->route_table,
				  c->fwmark, strerror(-err));
			return err;
		}
		log_info("%s through %s (table %u; braid's own packets carry "
			 "fwmark 0x%x)", c->route_default ? "all traffic" :
			 "routes", tun_name(d->tun), c->route_table, c->fwmark);
	}
	return 0;
}

/* The keeper runs on_down and removes the socket when we are gone;
 * on_up runs now, as root. */
static int run_hooks(struct daemon *d)
{
	const struct cfg *c = d->cfg;
	struct hook_keeper k = { .on_down = c->on_down, .ctl_path = c->control,
				 .cfg_path = d->cfg_path,
				 .routes = d->policy ? &d->routes : NULL };
	int err;

	hook_env_fill(&k.env, c, tun_name(d->tun), d->cfg_path);
	err = hook_keeper_start(&k, &d->keeper_fd);
	if (err < 0) {
		log_warnx("cannot start the keeper process: %s",
			  strerror(-err));
		return err;
	}
	if (!*c->on_up)
		return 0;
	err = hook_run("on_up", c->on_up, &k.env);
	if (err) {
		log_warnx("on_up failed (%s%d): stopping", err < 0 ?
			  "error " : "status ", err < 0 ? -err : err);
		return -1;
	}
	return 0;
}

static void watchers_start(struct daemon *d)
{
	ev_io_init(&d->tun_rx, tun_rx_cb, tun_fd(d->tun), EV_READ);
	ev_io_start(d->loop, &d->tun_rx);
	ev_signal_init(&d->sigint, stop_cb, SIGINT);
	ev_signal_init(&d->sigterm, stop_cb, SIGTERM);
	ev_signal_init(&d->sigusr1, usr1_cb, SIGUSR1);
	ev_signal_init(&d->sighup, hup_cb, SIGHUP);
	ev_signal_start(d->loop, &d->sigint);
	ev_signal_start(d->loop, &d->sigterm);
	ev_signal_start(d->loop, &d->sigusr1);
	ev_signal_start(d->loop, &d->sighup);
	ev_timer_init(&d->rate_timer, rate_cb, 1.0, 1.0);
	ev_timer_start(d->loop, &d->rate_timer);
}

static void watchers_stop(struct daemon *d)
{
	ev_io_stop(d->loop, &d->tun_rx);
	ev_signal_stop(d->loop, &d->sigint);
	ev_signal_stop(d->loop, &d->sigterm);
	ev_signal_stop(d->loop, &d->sigusr1);
	ev_signal_stop(d->loop, &d->sighup);
	ev_timer_stop(d->loop, &d->rate_timer);
}

int daemon_run(struct cfg *c, const char *path)
{
	static struct daemon d;
	char err[256];
	int rc = -1;
	uid_t uid;
	gid_t gid;

	d.cfg = c;
	d.cfg_path = path;
	d.keeper_fd = -1;
	d.loop = ev_default_loop(EVFLAG_AUTO);
	if (!d.loop) {
		log_warnx("cannot create the event loop");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	d.started = ev_now(d.loop);
	/* a missing user fails before anything touches the system */
	if (privs_lookup(c->user, &uid, &gid, err, sizeof(err)) < 0) {
		log_warnx("user: %s", err);
		goto out_free;
	}
	if (setup_tun(&d) < 0)
		goto out_free;
	if (setup_links(&d) < 0)
		goto out_free;
	/* linkmap holds the secrets now */
	sodium_memzero(c->key, sizeof(c->key));
	if (setup_control(&d) < 0 || run_hooks(&d) < 0)
		goto out_free;
	/* everything that needs root is done: keep only what the links and
	 * the TUN clean-up need */
	if (privs_drop(uid, gid, err, sizeof(err)) < 0) {
		log_warnx("cannot run as user %s: %s", c->user, err);
		goto out_free;
	}
	watchers_start(&d);
	log_info("braid %s %s on %s (%s), %zu link%s configured, running as "
		 "%s", BRAID_VERSION, c->master ? "master" : "slave",
		 tun_name(d.tun), c->addr_str, c->nlinks,
		 c->nlinks == 1 ? "" : "s", c->user);
	sd_notify(0, "READY=1");
	ev_run(d.loop, 0);
	sd_notify(0, "STOPPING=1");
	stats_log(&d);
	watchers_stop(&d);
	rc = 0;
out_free:
	tun_policy_free(d.policy);
	metrics_free(d.metrics);
	ctl_free(d.ctl);
	mux_free(d.mux);
	lm_free(d.lm);
	tun_free(d.tun);
	if (d.keeper_fd >= 0)
		close(d.keeper_fd);	/* the keeper cleans up now */
	ev_loop_destroy(d.loop);
	return rc;
}
