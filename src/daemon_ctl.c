/* SPDX-License-Identifier: MIT */
/* What a running daemon shows and what can be changed while it runs:
 * the status snapshot, `braid link` requests and SIGHUP reloads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>
#include <systemd/sd-daemon.h>

#include "daemon-int.h"
#include "hook.h"

static const char *const link_types[] = {
	[CFG_LINK_UDP] = "udp",
	[CFG_LINK_SOCKS5] = "socks5",
	[CFG_LINK_SOCKS5_TCP] = "socks5-tcp",
};

static const struct cfg_link *cfg_link_by_id(const struct cfg *c,
					     uint16_t id)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (c->links[i].id == id)
			return &c->links[i];
	return NULL;
}

static int link_index(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (!strcmp(c->links[i].name, name))
			return (int)i;
	return -1;
}

static struct daemon_rate *rate_of(struct daemon *d, uint16_t id)
{
	struct daemon_rate *free_slot = NULL;

	for (size_t i = 0; i < MUX_MAX_LINKS; i++) {
		if (d->rates[i].id == id)
			return &d->rates[i];
		if (!d->rates[i].id && !free_slot)
			free_slot = &d->rates[i];
	}
	if (free_slot)
		*free_slot = (struct daemon_rate){ .id = id };
	return free_slot;
}

void daemon_rates_sample(struct daemon *d)
{
	uint16_t ids[MUX_MAX_LINKS];
	size_t n = mux_links(d->mux, ids, MUX_MAX_LINKS);
	bool seen[MUX_MAX_LINKS] = { false };

	for (size_t i = 0; i < n && i < MUX_MAX_LINKS; i++) {
		struct lm_link_stats l;
		struct daemon_rate *r = rate_of(d, ids[i]);

		if (!r || lm_link_stats(d->lm, ids[i], &l) < 0)
			continue;
		seen[r - d->rates] = true;
		r->tx_bps = (double)(l.tx_bytes - r->tx) * 8;
		r->rx_bps = (double)(l.rx_bytes - r->rx) * 8;
		/* first sample, or the link was made anew: no rate yet */
		if ((!r->tx && !r->rx) || l.tx_bytes < r->tx ||
		    l.rx_bytes < r->rx)
			r->tx_bps = r->rx_bps = 0;
		r->tx = l.tx_bytes;
		r->rx = l.rx_bytes;
	}
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)	/* links removed */
		if (!seen[i])
			d->rates[i] = (struct daemon_rate){ 0 };
}

static void report_link(struct daemon *d, uint16_t id, struct report_link *rl)
{
	const struct cfg_link *cl = cfg_link_by_id(d->cfg, id);
	struct daemon_rate *r = rate_of(d, id);

	memset(rl, 0, sizeof(*rl));
	rl->id = id;
	rl->type = "";
	mux_link_stats(d->mux, id, &rl->mux);
	lm_link_stats(d->lm, id, &rl->lm);
	if (r) {
		rl->tx_bps = r->tx_bps;
		rl->rx_bps = r->rx_bps;
	}
	rl->rate_cap = rl->mux.rate_cap;
	if (d->cfg->master) {
		if (rl->lm.peer_len)
			lm_addr_str((struct sockaddr *)&rl->lm.peer,
				    rl->address, sizeof(rl->address));
		return;
	}
	snprintf(rl->address, sizeof(rl->address), "%s", d->cfg->addr_str);
	if (!cl)
		return;
	rl->type = link_types[cl->type];
	snprintf(rl->ifname, sizeof(rl->ifname), "%s", cl->ifname);
	if (cl->proxy_len)
		lm_addr_str((struct sockaddr *)&cl->proxy, rl->proxy,
			    sizeof(rl->proxy));
}

void daemon_report(struct daemon *d, struct report *r)
{
	uint16_t ids[MUX_MAX_LINKS];
	size_t n = mux_links(d->mux, ids, MUX_MAX_LINKS);
	double now = ev_now(d->loop);

	memset(r, 0, sizeof(*r));
	r->master = d->cfg->master;
	snprintf(r->device, sizeof(r->device), "%s", tun_name(d->tun));
	r->uptime = now - d->started;
	r->scheduler = cfg_sched_names[d->cfg->sched];
	r->bonding = d->cfg->redundant ? "redundant" : "aggregate";
	r->tun_rx = d->tun_rx_pkts;
	r->tun_tx = d->tun_tx_pkts;
	r->tun_drops = d->tun_drops;
	mux_stats(d->mux, &r->mux);
	lm_stats(d->lm, &r->lm);
	r->session_age = r->lm.session_at ? now - r->lm.session_at : -1;
	for (size_t i = 0; i < n && i < MUX_MAX_LINKS; i++) {
		report_link(d, ids[i], &r->links[r->nlinks]);
		r->tx_bps += r->links[r->nlinks].tx_bps;
		r->rx_bps += r->links[r->nlinks].rx_bps;
		r->nlinks++;
	}
}

static void apply_settings(struct daemon *d, const struct cfg_link *l)
{
	mux_link_set_weight(d->mux, l->id, l->weight);
	mux_link_set_backup(d->mux, l->id, l->backup);
	mux_link_set_rate_cap(d->mux, l->id, l->rate);
}

int daemon_link_add(struct daemon *d, struct cfg_link *l)
{
	struct cfg *c = d->cfg;
	struct lm_link_cfg lc = {
		.id = l->id, .name = l->name,
		.type = l->type == CFG_LINK_SOCKS5 ? LM_LINK_SOCKS5 :
			l->type == CFG_LINK_SOCKS5_TCP ? LM_LINK_SOCKS5_TCP :
			LM_LINK_UDP,
		.ifname = l->ifname[0] ? l->ifname : NULL,
		.bind = l->bind_len ? (void *)&l->bind : NULL,
		.bind_len = l->bind_len,
		.proxy = (void *)&l->proxy, .proxy_len = l->proxy_len,
		.username = l->username[0] ? l->username : NULL,
		.password = l->password[0] ? l->password : NULL,
		.fallback = l->fallback,
	};
	int err;

	if (c->nlinks >= CFG_MAX_LINKS)
		return -ENOSPC;
	err = lm_link_add(d->lm, &lc);
	if (err < 0)
		goto out_wipe;
	err = mux_link_add(d->mux, l->id, l->name, l->weight);
	if (err < 0) {
		lm_link_del(d->lm, l->id);
		goto out_wipe;
	}
	apply_settings(d, l);
out_wipe:
	/* linkmap holds the secret now */
	sodium_memzero(l->password, sizeof(l->password));
	if (err == 0)
		c->links[c->nlinks++] = *l;
	return err;
}

void daemon_link_del(struct daemon *d, size_t i, bool drain)
{
	struct cfg *c = d->cfg;

	/* linkmap's side goes in daemon.c's removed callback */
	if (mux_link_del(d->mux, c->links[i].id, drain) < 0)
		lm_link_del(d->lm, c->links[i].id);
	memmove(&c->links[i], &c->links[i + 1],
		(c->nlinks - i - 1) * sizeof(c->links[0]));
	c->nlinks--;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static struct json_object *req_link_add(struct daemon *d,
					struct json_object *req)
{
	struct json_object *o;
	struct cfg_link l;
	char err[CFG_ERR_LEN];
	int rc;

	if (!json_object_object_get_ex(req, "link", &o))
		return ctl_reply_error("link-add needs \"link\": {...}");
	if (cfg_link_from_json(d->cfg, o, &l, err, sizeof(err)) < 0)
		return ctl_reply_error("%s", err);
	rc = daemon_link_add(d, &l);
	if (rc == -EEXIST)
		return ctl_reply_error("link id %u is still being removed; "
				       "try again in a second", l.id);
	if (rc < 0)
		return ctl_reply_error("link %s: %s", l.name, strerror(-rc));
	log_info("link %s (id %u) added by a control request", l.name, l.id);
	return ctl_reply_ok();
}

/* The slave link a request names, in *i; or the error to answer (done
 * says what happens to links, for the master's answer). */
static struct json_object *named_link(struct daemon *d, const char *name,
				      const char *done, int *i)
{
	*i = link_index(d->cfg, name);
	if (d->cfg->master || *i < 0)
		return ctl_reply_error("no link named \"%s\"%s%s%s", name,
				       d->cfg->master ? " (links are " : "",
				       d->cfg->master ? done : "",
				       d->cfg->master ? " on the slave)" : "");
	return NULL;
}

static struct json_object *req_link_del(struct daemon *d,
					struct json_object *req)
{
	const char *name = get_str(req, "name");
	struct json_object *e;
	int i;

	if (!name)
		return ctl_reply_error("link-del needs \"name\"");
	if ((e = named_link(d, name, "removed", &i)))
		return e;
	if (d->cfg->nlinks == 1)
		return ctl_reply_error("\"%s\" is the only link", name);
	daemon_link_del(d, (size_t)i, true);
	return ctl_reply_ok();
}

static struct json_object *req_link_set(struct daemon *d,
					struct json_object *req)
{
	const char *name = get_str(req, "name");
	struct json_object *set, *e;
	char err[CFG_ERR_LEN];
	int i;

	if (!name || !json_object_object_get_ex(req, "set", &set))
		return ctl_reply_error("link-set needs \"name\" and \"set\"");
	if ((e = named_link(d, name, "set", &i)))
		return e;
	if (cfg_link_set_json(&d->cfg->links[i], set, err, sizeof(err)) < 0)
		return ctl_reply_error("%s", err);
	apply_settings(d, &d->cfg->links[i]);
	log_info("link %s: weight %u, backup %s, rate cap %.0f kbit/s", name,
		 d->cfg->links[i].weight,
		 d->cfg->links[i].backup ? "yes" : "no",
		 d->cfg->links[i].rate * 8 / 1e3);
	return ctl_reply_ok();
}

struct json_object *daemon_ctl(void *ctx, struct json_object *req)
{
	struct daemon *d = ctx;
	const char *cmd = get_str(req, "cmd");
	struct json_object *reply;
	struct report *r;

	if (!cmd)
		return ctl_reply_error("the request has no \"cmd\"");
	if (!strcmp(cmd, "status")) {
		r = malloc(sizeof(*r));
		if (!r)
			return NULL;
		daemon_report(d, r);
		reply = report_json(r);
		free(r);
		return reply;
	}
	if (!strcmp(cmd, "link-add"))
		return req_link_add(d, req);
	if (!strcmp(cmd, "link-del"))
		return req_link_del(d, req);
	if (!strcmp(cmd, "link-set"))
		return req_link_set(d, req);
	if (!strcmp(cmd, "reload")) {
		reply = ctl_reply_ok();
		daemon_reload(d, reply);
		return reply;
	}
	return ctl_reply_error("unknown command \"%s\"", cmd);
}

/* Settings a reload cannot change; named in the log if they differ. */
static void restart_only(const struct cfg *o, const struct cfg *n)
{
	static const char *const fmt = "reload: %s changed; it takes effect "
				       "when braid is restarted";

	if (o->master != n->master)
		log_warnx(fmt, "mode");
	if (strcmp(o->tun_name, n->tun_name) || o->mtu != n->mtu ||
	    o->naddrs != n->naddrs ||
	    memcmp(o->addrs, n->addrs, sizeof(o->addrs)))
		log_warnx(fmt, "tun");
	if (strcmp(o->addr_str, n->addr_str))
		log_warnx(fmt, o->master ? "listen" : "master");
	if (strcmp(o->user, n->user) || strcmp(o->control, n->control))
		log_warnx(fmt, "user or control");
	if (o->route_default != n->route_default || o->nroutes != n->nroutes ||
	    memcmp(o->routes, n->routes, sizeof(o->routes)) ||
	    o->fwmark != n->fwmark || o->route_table != n->route_table)
		log_warnx(fmt, "routing (route_default, routes, fwmark, "
			  "route_table)");
	if (strcmp(o->metrics_str, n->metrics_str))
		log_warnx(fmt, "metrics");
	if (o->sched != n->sched || o->redundant != n->redundant ||
	    o->compress != n->compress || o->measure != n->measure ||
	    o->keepalive != n->keepalive || o->dead_time != n->dead_time)
		log_warnx(fmt, "scheduler, bonding, header_compression, "
			  "measure_links, keepalive or dead_time");
}

static bool same_settings(const struct cfg_link *a, const struct cfg_link *b)
{
	return a->weight == b->weight && a->backup == b->backup &&
	       a->rate == b->rate;
}

/* Links gone from the file, or whose transport changed, go first (a new
 * link may take a freed id); then the changed ones come back and new
 * ones are added. */
static bool id_taken(const struct cfg *c, size_t skip, uint16_t id)
{
	for (size_t i = 0; i < c->nlinks; i++)
		if (i != skip && c->links[i].id == id)
			return true;
	return false;
}

/* A link whose id the file does not set keeps the one it runs with (its
 * position may have changed); a new one that would take a running
 * link's id gets a free one. */
static void keep_ids(const struct cfg *c, struct cfg *n)
{
	for (size_t j = 0; j < n->nlinks; j++) {
		int i = link_index(c, n->links[j].name);

		if (!n->links[j].id_set && i >= 0 &&
		    !id_taken(n, j, c->links[i].id))
			n->links[j].id = c->links[i].id;
	}
	for (size_t j = 0; j < n->nlinks; j++) {
		int i = link_index(c, n->links[j].name);
		unsigned id = n->links[j].id;

		if (n->links[j].id_set || (i >= 0 && c->links[i].id == id) ||
		    (!id_taken(n, j, id) && !cfg_link_by_id(c, (uint16_t)id)))
			continue;
		for (id = 1; id <= 65535 && (id_taken(n, j, (uint16_t)id) ||
					     cfg_link_by_id(c, (uint16_t)id));
		     id++)
			;
		n->links[j].id = (uint16_t)id;
	}
}

static void apply_links(struct daemon *d, struct cfg *n, int counts[3])
{
	bool rebuilt[CFG_MAX_LINKS] = { false };
	struct cfg *c = d->cfg;

	keep_ids(c, n);
	for (size_t i = c->nlinks; i-- > 0;) {
		int j = link_index(n, c->links[i].name);

		if (j < 0 || !cfg_link_same_transport(&c->links[i],
						      &n->links[j])) {
			log_info("reload: link %s %s", c->links[i].name,
				 j < 0 ? "removed" : "rebuilt");
			counts[j < 0 ? 1 : 2]++;
			if (j >= 0)
				rebuilt[j] = true;
			/* drained, unless a new link takes its id now */
			daemon_link_del(d, i, j < 0 &&
					!cfg_link_by_id(n, c->links[i].id));
		}
	}
	for (size_t j = 0; j < n->nlinks; j++) {
		int i = link_index(c, n->links[j].name);
		int err;

		if (i >= 0) {
			if (!same_settings(&c->links[i], &n->links[j])) {
				c->links[i].weight = n->links[j].weight;
				c->links[i].backup = n->links[j].backup;
				c->links[i].rate = n->links[j].rate;
				apply_settings(d, &c->links[i]);
				counts[2]++;
				log_info("reload: link %s changed",
					 n->links[j].name);
			}
			continue;
		}
		err = daemon_link_add(d, &n->links[j]);
		if (err < 0)
			log_warnx("reload: link %s: %s", n->links[j].name,
				  strerror(-err));
		else if (!rebuilt[j])
			counts[0]++;
	}
}

void daemon_reload(struct daemon *d, struct json_object *reply)
{
	char err[CFG_ERR_LEN];
	int counts[3] = { 0 };	/* added, removed, changed */
	struct cfg *n = calloc(1, sizeof(*n));
	char *text = NULL;
	int rc = -1;

	sd_notify(0, "RELOADING=1");
	if (n)
		text = hook_keeper_config(d->keeper_fd, err, sizeof(err));
	if (text) {
		rc = cfg_reload_text(n, d->cfg, d->cfg_path, text, err,
				     sizeof(err));
		free(text);
	}
	if (rc < 0) {
		if (!n)
			snprintf(err, sizeof(err), "out of memory");
		log_warnx("reload failed, nothing changed: %s", err);
		json_object_object_add(reply, "ok",
				       json_object_new_boolean(0));
		json_object_object_add(reply, "error",
				       json_object_new_string(err));
		goto out;
	}
	restart_only(d->cfg, n);
	if (!d->cfg->master)
		apply_links(d, n, counts);
	log_info("reload: %d link(s) added, %d removed, %d changed", counts[0],
		 counts[1], counts[2]);
	json_object_object_add(reply, "added", json_object_new_int(counts[0]));
	json_object_object_add(reply, "removed",
			       json_object_new_int(counts[1]));
	json_object_object_add(reply, "changed",
			       json_object_new_int(counts[2]));
out:
	if (n)
		sodium_memzero(n, sizeof(*n));
	free(n);
	sd_notify(0, "READY=1");
}
