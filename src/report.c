/* SPDX-License-Identifier: MIT */
/* The daemon's snapshot as JSON, in the shape docs/CONTROL.md gives. */
#include "report.h"

static void put(struct json_object *o, const char *k, struct json_object *v)
{
	json_object_object_add(o, k, v);
}

static void put_u64(struct json_object *o, const char *k, uint64_t v)
{
	put(o, k, json_object_new_uint64(v));
}

static void put_num(struct json_object *o, const char *k, double v)
{
	put(o, k, json_object_new_double(v));
}

static void put_str(struct json_object *o, const char *k, const char *v)
{
	put(o, k, v && *v ? json_object_new_string(v) : NULL);
}

static const char *link_state(const struct mux_link_stats *m)
{
	if (!m->up)
		return "down";
	return m->stalled ? "stalled" : "up";
}

uint64_t report_link_drops(const struct lm_link_stats *lm,
			   const struct mux_link_stats *mux)
{
	return lm->drops + mux->ctl_lost;
}

static struct json_object *link_json(const struct report_link *l)
{
	const struct mux_link_stats *m = &l->mux;
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	put_str(o, "name", m->name);
	put_u64(o, "id", l->id);
	put_str(o, "state", link_state(m));
	put_str(o, "type", l->type);
	put(o, "stream", json_object_new_boolean(m->stream));
	put(o, "backup", json_object_new_boolean(m->backup));
	put_u64(o, "weight", m->weight);
	put_num(o, "rate_cap_bps", l->rate_cap * 8);
	put_str(o, "address", l->address);
	put_str(o, "proxy", l->proxy);
	put_str(o, "interface", l->ifname);
	put_num(o, "rtt_ms", m->srtt ? m->srtt * 1e3 : m->rtt * 1e3);
	put_num(o, "min_rtt_ms", m->min_rtt * 1e3);
	put_num(o, "keepalive_rtt_ms", m->rtt * 1e3);
	put_num(o, "loss", m->loss);
	put_num(o, "capacity_bps", m->rate * 8);
	put_num(o, "tx_bps", l->tx_bps);
	put_num(o, "rx_bps", l->rx_bps);
	put_u64(o, "tx_bytes", l->lm.tx_bytes);
	put_u64(o, "rx_bytes", l->lm.rx_bytes);
	put_u64(o, "tx_packets", l->lm.tx_packets);
	put_u64(o, "rx_packets", l->lm.rx_packets);
	put_u64(o, "drops", report_link_drops(&l->lm, m));
	put_u64(o, "inflight_bytes", m->inflight);
	put_num(o, "cwnd_bytes", m->cwnd);
	put_num(o, "hold_ms", m->hold * 1e3);
	put_u64(o, "downs", m->downs);
	put_u64(o, "stalls", m->stalls);
	put_u64(o, "resent", m->resent);
	return o;
}

static struct json_object *totals_json(const struct report *r)
{
	struct json_object *o = json_object_new_object();
	uint64_t tx = 0, rx = 0;

	if (!o)
		return NULL;
	for (size_t i = 0; i < r->nlinks; i++) {
		tx += r->links[i].lm.tx_bytes;
		rx += r->links[i].lm.rx_bytes;
	}
	put_u64(o, "tx_bytes", tx);
	put_u64(o, "rx_bytes", rx);
	put_num(o, "tx_bps", r->tx_bps);
	put_num(o, "rx_bps", r->rx_bps);
	put_u64(o, "tun_rx_packets", r->tun_rx);
	put_u64(o, "tun_tx_packets", r->tun_tx);
	put_u64(o, "tun_drops", r->tun_drops);
	put_u64(o, "no_link", r->mux.no_link);
	put_u64(o, "congested", r->mux.congested);
	put_u64(o, "queued", r->mux.queued);
	put_u64(o, "copies", r->mux.copies);
	put_u64(o, "rexmit_kept", r->mux.rexmit_kept);
	put_u64(o, "compressed", r->mux.hc_tx);
	put_u64(o, "compress_saved_bytes", r->mux.hc_saved);
	put_u64(o, "decompressed", r->mux.hc_rx);
	put_u64(o, "decompress_drops", r->mux.hc_drop);
	put_u64(o, "auth_fail", r->lm.auth_fail);
	put_u64(o, "replay", r->lm.replay);
	put_u64(o, "malformed", r->lm.malformed + r->mux.malformed);
	put_u64(o, "stale_session", r->lm.stale_session);
	put_u64(o, "handshakes", r->lm.hs_init);
	put_u64(o, "handshakes_bad", r->lm.hs_bad + r->lm.hs_stale);
	put_u64(o, "handshakes_ratelimited", r->lm.hs_ratelimited);
	put_u64(o, "held", r->mux.reorder.held);
	put_u64(o, "late", r->mux.reorder.late);
	put_u64(o, "lost", r->mux.reorder.lost);
	put_u64(o, "dup", r->mux.reorder.dup);
	put_u64(o, "overflow", r->mux.reorder.overflow);
	put_u64(o, "early", r->mux.reorder.early);
	return o;
}

struct json_object *report_json(const struct report *r)
{
	struct json_object *o = json_object_new_object();
	struct json_object *links = json_object_new_array();
	struct json_object *tot = totals_json(r);

	if (!o || !links || !tot)
		goto out_put;
	put(o, "ok", json_object_new_boolean(1));
	put_str(o, "version", BRAID_VERSION);
	put_str(o, "mode", r->master ? "master" : "slave");
	put_str(o, "device", r->device);
	put_num(o, "uptime_s", r->uptime);
	put_num(o, "session_age_s", r->session_age);
	put_str(o, "scheduler", r->scheduler);
	put_str(o, "bonding", r->bonding);
	for (size_t i = 0; i < r->nlinks; i++) {
		struct json_object *l = link_json(&r->links[i]);

		if (!l || json_object_array_add(links, l) < 0) {
			json_object_put(l);
			goto out_put;
		}
	}
	put(o, "links", links);
	put(o, "total", tot);
	return o;
out_put:
	json_object_put(tot);
	json_object_put(links);
	json_object_put(o);
	return NULL;
}
