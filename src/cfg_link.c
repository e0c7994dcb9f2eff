/* SPDX-License-Identifier: MIT */
/* A slave's links: from the config file, or from a `braid link` request
 * (JSON, validated by the same code as the file). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "cfg-int.h"
#include "log.h"

int cfg_rate_parse(const char *s, double *bytes)
{
	static const struct { const char *unit; double bits; } units[] = {
		{ "gbit", 1e9 }, { "mbit", 1e6 }, { "kbit", 1e3 },
		{ "bit", 1 }, { "", 1 },
	};
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v) || v < 0)
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++)
		if (!strcasecmp(end, units[i].unit)) {
			*bytes = v * units[i].bits / 8;
			/* the cap travels as kbit/s in 32 bits */
			return *bytes > 1e12 / 8 ? -ERANGE : 0;
		}
	return -EINVAL;
}

/* rate = "20mbit" (or a number of bit/s): a cap on what the link is
 * given; 0 or absent: none. */
static int load_rate(struct cfg_ctx *x, const config_setting_t *s,
		     double *out)
{
	const config_setting_t *r = config_setting_get_member(s, "rate");
	char buf[64];

	*out = 0;
	if (!r)
		return 0;
	switch (config_setting_type(r)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, sizeof(buf), "%lld",
			 (long long)config_setting_get_int64(r));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, sizeof(buf), "%.17g", config_setting_get_float(r));
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, sizeof(buf), "%s", config_setting_get_string(r));
		break;
	default:
		buf[0] = '\0';
	}
	if (cfg_rate_parse(buf, out) < 0 || (*out && *out < 1000))
		return cfg_fail(x, r, "a rate such as \"20mbit\", \"512kbit\" "
				"or a number of bit/s (8000 to 1e12; 0: no "
				"cap)");
	return 0;
}

/* proxy, username, password and fallback of a socks5/socks5-tcp link. */
static int load_socks(struct cfg_ctx *x, const config_setting_t *s,
		      struct cfg_link *l)
{
	const config_setting_t *fb = config_setting_get_member(s, "fallback");
	const char *proxy, *user, *pass;
	char why[CFG_ERR_LEN];

	if (cfg_get_string(x, s, "proxy", &proxy) < 0 ||
	    cfg_get_string(x, s, "username", &user) < 0 ||
	    cfg_get_string(x, s, "password", &pass) < 0)
		return -1;
	if (!proxy)
		return cfg_missing(x, s, "proxy", "missing: proxy = \"HOST:PORT\" "
			       "of the SOCKS5 server");
	if (cfg_addr_hostport(proxy, &l->proxy, &l->proxy_len, why,
			      sizeof(why)) < 0)
		return cfg_fail(x, config_setting_get_member(s, "proxy"), "%s",
			    why);
	if (!user != !pass)
		return cfg_fail(x, config_setting_get_member(s, user ? "username" :
							 "password"),
			    "give both username and password, or neither");
	if (user && (!*user || strlen(user) > 255))
		return cfg_fail(x, config_setting_get_member(s, "username"),
			    "1-255 characters (RFC 1929)");
	if (pass && (!*pass || strlen(pass) > 255))
		return cfg_fail(x, config_setting_get_member(s, "password"),
			    "1-255 characters (RFC 1929)");
	snprintf(l->username, sizeof(l->username), "%s", user ? user : "");
	snprintf(l->password, sizeof(l->password), "%s", pass ? pass : "");
	/* what a reload compares, once the password itself is wiped */
	crypto_generichash(l->secret_hash, sizeof(l->secret_hash),
			   (const uint8_t *)l->password, strlen(l->password),
			   (const uint8_t *)l->username, strlen(l->username));
	l->fallback = true;
	if (fb) {
		if (config_setting_type(fb) != CONFIG_TYPE_BOOL)
			return cfg_fail(x, fb, "must be true or false");
		if (l->type != CFG_LINK_SOCKS5)
			return cfg_fail(x, fb, "only for type = \"socks5\"");
		l->fallback = config_setting_get_bool(fb);
	}
	return 0;
}

static int load_type(struct cfg_ctx *x, const config_setting_t *s,
		     struct cfg_link *l)
{
	static const char *const udp_only[] = { "proxy", "username",
						"password", "fallback" };
	const char *type;

	if (cfg_get_string(x, s, "type", &type) < 0)
		return -1;
	if (!type)
		return cfg_missing(x, s, "type", "missing: type = \"udp\", "
			       "\"socks5\" or \"socks5-tcp\"");
	if (!strcmp(type, "udp"))
		l->type = CFG_LINK_UDP;
	else if (!strcmp(type, "socks5"))
		l->type = CFG_LINK_SOCKS5;
	else if (!strcmp(type, "socks5-tcp"))
		l->type = CFG_LINK_SOCKS5_TCP;
	else
		return cfg_fail(x, config_setting_get_member(s, "type"),
			    "must be \"udp\", \"socks5\" or \"socks5-tcp\"");
	if (l->type != CFG_LINK_UDP)
		return load_socks(x, s, l);
	for (size_t i = 0; i < ARRAY_SIZE(udp_only); i++)
		if (config_setting_get_member(s, udp_only[i]))
			return cfg_fail(x, config_setting_get_member(s,
								 udp_only[i]),
				    "only for socks5 and socks5-tcp links");
	return 0;
}

static int load_link(struct cfg_ctx *x, const config_setting_t *s, int idx,
		     struct cfg *c)
{
	static const char *const known[] = { "name", "type", "id", "weight",
					     "backup",
					     "interface", "bind", "proxy",
					     "username", "password",
					     "fallback", "rate", NULL };
	struct cfg_link *l = &c->links[idx];
	const char *name, *ifname, *bind;
	double id = idx + 1, weight = 1;

	if (!config_setting_is_group(s))
		return cfg_fail(x, s, "each link is a group { name = ...; ... }");
	if (cfg_check_known(x, s, known) < 0 ||
	    cfg_get_string(x, s, "name", &name) < 0 ||
	    cfg_get_string(x, s, "interface", &ifname) < 0 ||
	    cfg_get_string(x, s, "bind", &bind) < 0 ||
	    cfg_get_number(x, s, "id", 1, 65535, &id) < 0 ||
	    cfg_get_number(x, s, "weight", 1, 1000, &weight) < 0)
		return -1;
	if (!name || !*name || strlen(name) >= CFG_NAME_LEN)
		return cfg_missing(x, s, "name", "needs 1-%d characters",
			       CFG_NAME_LEN - 1);
	for (const char *p = name; *p; p++)
		if (*p < 0x21 || *p > 0x7e)
			return cfg_fail(x, config_setting_get_member(s, "name"),
				    "use printable ASCII without spaces");
	if (load_type(x, s, l) < 0)
		return -1;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->id = (uint16_t)id;
	l->id_set = config_setting_get_member(s, "id") != NULL;
	l->weight = (unsigned)weight;
	l->backup = false;
	if (cfg_get_bool(x, s, "backup", &l->backup) < 0 ||
	    load_rate(x, s, &l->rate) < 0)
		return -1;
	if (id != (uint16_t)id || weight != (unsigned)weight)
		return cfg_fail(x, s, "id and weight are whole numbers");
	if (ifname) {
		if (!*ifname || strlen(ifname) >= IFNAMSIZ)
			return cfg_fail(x, config_setting_get_member(s,
								 "interface"),
				    "interface names are 1-%d characters",
				    IFNAMSIZ - 1);
		snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	}
	if (bind) {
		const config_setting_t *b = config_setting_get_member(s, "bind");

		if (cfg_addr_ip(bind, &l->bind, &l->bind_len) < 0)
			return cfg_fail(x, b, "'%s' is not an IPv4 or IPv6 address",
				    bind);
		/* a socks link's sockets go to the proxy, not the master */
		if (l->type == CFG_LINK_UDP &&
		    l->bind.ss_family != c->addr.ss_family)
			return cfg_fail(x, b, "address family differs from the "
				    "master's address (%s)", c->addr_str);
		if (l->type != CFG_LINK_UDP &&
		    l->bind.ss_family != l->proxy.ss_family)
			return cfg_fail(x, b, "address family differs from the "
				    "proxy's address");
	}
	for (int i = 0; i < idx; i++) {
		if (!strcmp(c->links[i].name, l->name))
			return cfg_fail(x, s, "link name '%s' used twice", l->name);
		if (c->links[i].id == l->id)
			return cfg_fail(x, s, "link id %u used twice (links get "
				    "their position as id unless id is set)",
				    l->id);
	}
	return 0;
}

int cfg_load_links(struct cfg_ctx *x, const config_setting_t *root,
		      struct cfg *c)
{
	const config_setting_t *ls = config_setting_get_member(root, "links");

	if (!ls)
		return cfg_missing(x, root, "links", "a slave needs links = "
			       "( { ... } )");
	if (!config_setting_is_list(ls) && !config_setting_is_array(ls))
		return cfg_fail(x, ls, "must be a list ( { ... }, { ... } )");
	if (config_setting_length(ls) < 1)
		return cfg_fail(x, ls, "needs at least one link");
	if (config_setting_length(ls) > CFG_MAX_LINKS)
		return cfg_fail(x, ls, "at most %d links", CFG_MAX_LINKS);
	for (int i = 0; i < config_setting_length(ls); i++)
		if (load_link(x, config_setting_get_elem(ls, i), i, c) < 0)
			return -1;
	c->nlinks = config_setting_length(ls);
	return 0;
}


/* Copies a flat JSON object into a new group of lc's root: strings,
 * whole and other numbers, booleans; anything else is refused. */
static config_setting_t *json_group(config_t *lc, struct json_object *o,
				    char *err, size_t errlen)
{
	config_setting_t *g = config_setting_add(config_root_setting(lc),
						 "link", CONFIG_TYPE_GROUP);

	if (!g || !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "the link must be a JSON object");
		return NULL;
	}
	json_object_object_foreach(o, key, v) {
		config_setting_t *s = NULL;

		switch (json_object_get_type(v)) {
		case json_type_string:
			s = config_setting_add(g, key, CONFIG_TYPE_STRING);
			if (s)
				config_setting_set_string(s,
					json_object_get_string(v));
			break;
		case json_type_int:
			s = config_setting_add(g, key, CONFIG_TYPE_INT64);
			if (s)
				config_setting_set_int64(s,
					json_object_get_int64(v));
			break;
		case json_type_double:
			s = config_setting_add(g, key, CONFIG_TYPE_FLOAT);
			if (s)
				config_setting_set_float(s,
					json_object_get_double(v));
			break;
		case json_type_boolean:
			s = config_setting_add(g, key, CONFIG_TYPE_BOOL);
			if (s)
				config_setting_set_bool(s,
					json_object_get_boolean(v));
			break;
		default:
			break;
		}
		if (!s) {
			snprintf(err, errlen, "setting '%s': a string, number "
				 "or true/false, once", key);
			return NULL;
		}
	}
	return g;
}

static uint16_t free_id(const struct cfg *c)
{
	for (unsigned id = c->nlinks + 1; id <= 65535; id++) {
		bool used = false;

		for (size_t i = 0; i < c->nlinks && !used; i++)
			used = c->links[i].id == id;
		if (!used)
			return (uint16_t)id;
	}
	return 0;
}

int cfg_link_from_json(const struct cfg *c, struct json_object *o,
		       struct cfg_link *out, char *err, size_t errlen)
{
	struct cfg_ctx x = { .path = "request", .err = err, .errlen = errlen };
	struct cfg *tmp;
	config_setting_t *g;
	config_t lc;
	int rc = -1;

	if (c->master || c->nlinks >= CFG_MAX_LINKS) {
		snprintf(err, errlen, c->master ? "the master learns its "
			 "links from the slave" : "at most %d links",
			 CFG_MAX_LINKS);
		return -1;
	}
	tmp = malloc(sizeof(*tmp));
	if (!tmp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*tmp = *c;
	config_init(&lc);
	g = json_group(&lc, o, err, errlen);
	if (g && !config_setting_get_member(g, "id")) {
		config_setting_t *id = config_setting_add(g, "id",
							  CONFIG_TYPE_INT);

		if (id)
			config_setting_set_int(id, free_id(c));
	}
	if (g && load_link(&x, g, (int)c->nlinks, tmp) == 0) {
		*out = tmp->links[c->nlinks];
		rc = 0;
	}
	config_destroy(&lc);
	sodium_memzero(tmp, sizeof(*tmp));
	free(tmp);
	return rc;
}

int cfg_link_set_json(struct cfg_link *l, struct json_object *set, char *err,
		      size_t errlen)
{
	static const char *const known[] = { "weight", "backup", "rate", NULL };
	struct cfg_ctx x = { .path = "request", .err = err, .errlen = errlen };
	struct cfg_link n = *l;
	double weight = l->weight;
	config_setting_t *g;
	config_t lc;
	int rc = -1;

	config_init(&lc);
	g = json_group(&lc, set, err, errlen);
	if (!g || cfg_check_known(&x, g, known) < 0 ||
	    cfg_get_number(&x, g, "weight", 1, 1000, &weight) < 0 ||
	    cfg_get_bool(&x, g, "backup", &n.backup) < 0)
		goto out;
	if (config_setting_get_member(g, "rate") &&
	    load_rate(&x, g, &n.rate) < 0)
		goto out;
	if (weight != (unsigned)weight) {
		cfg_fail(&x, config_setting_get_member(g, "weight"),
			 "a whole number");
		goto out;
	}
	n.weight = (unsigned)weight;
	*l = n;
	rc = 0;
out:
	config_destroy(&lc);
	sodium_memzero(&n, sizeof(n));
	return rc;
}

bool cfg_link_same_transport(const struct cfg_link *a,
			     const struct cfg_link *b)
{
	return a->type == b->type && a->id == b->id &&
	       !strcmp(a->ifname, b->ifname) && a->bind_len == b->bind_len &&
	       !memcmp(&a->bind, &b->bind, a->bind_len) &&
	       a->proxy_len == b->proxy_len &&
	       !memcmp(&a->proxy, &b->proxy, a->proxy_len) &&
	       !memcmp(a->secret_hash, b->secret_hash,
		       sizeof(a->secret_hash)) &&
	       a->fallback == b->fallback;
}
