/* SPDX-License-Identifier: MIT */
/* Settings for running braid for real: routing through the tunnel, hook
 * commands, metrics. */
#include <stdio.h>
#include <string.h>

#include "cfg-int.h"

#define DEFAULT_FWMARK 0x6272
#define DEFAULT_TABLE 25202

static int load_routes(struct cfg_ctx *x, const config_setting_t *root,
		       struct cfg *c)
{
	const config_setting_t *l = config_setting_get_member(root, "routes");

	if (!l)
		return 0;
	if (!config_setting_is_array(l) && !config_setting_is_list(l))
		return cfg_fail(x, l, "must be a list of prefixes: "
				"[ \"198.51.100.0/24\", \"2001:db8::/32\" ]");
	if (config_setting_length(l) > TUN_MAX_ROUTES)
		return cfg_fail(x, l, "at most %d routes", TUN_MAX_ROUTES);
	for (int i = 0; i < config_setting_length(l); i++) {
		const config_setting_t *e = config_setting_get_elem(l, i);
		struct tun_addr *a = &c->routes[i];
		const char *v = config_setting_type(e) == CONFIG_TYPE_STRING ?
				config_setting_get_string(e) : NULL;

		if (!v || tun_addr_parse(a, v) < 0)
			return cfg_fail(x, e, "not a prefix such as "
					"\"198.51.100.0/24\"");
		/* the VPS's own replies (ssh) would go into the tunnel */
		if (c->master && a->prefix == 0)
			return cfg_fail(x, e, "a master cannot send everything "
					"through the tunnel; list the slave's "
					"networks");
		/* the network, not a host in it */
		uint8_t *b = a->family == AF_INET ? (uint8_t *)&a->v4 :
						    a->v6.s6_addr;
		size_t bytes = a->family == AF_INET ? 4 : 16;

		for (size_t j = 0; j < bytes; j++) {
			unsigned keep = a->prefix > j * 8 ?
					a->prefix - j * 8 : 0;

			if (keep < 8 && (b[j] & (0xff >> keep)))
				return cfg_fail(x, e, "'%s' has host bits "
						"set after /%u", v, a->prefix);
		}
	}
	c->nroutes = (size_t)config_setting_length(l);
	return 0;
}

static int load_hook(struct cfg_ctx *x, const config_setting_t *root,
		     const char *name, char *out, size_t len)
{
	const char *v;

	if (cfg_get_string(x, root, name, &v) < 0)
		return -1;
	if (v && strlen(v) >= len)
		return cfg_fail(x, config_setting_get_member(root, name),
				"at most %zu characters", len - 1);
	snprintf(out, len, "%s", v ? v : "");
	return 0;
}

static int load_metrics(struct cfg_ctx *x, const config_setting_t *root,
			struct cfg *c)
{
	const config_setting_t *s = config_setting_get_member(root, "metrics");
	char why[CFG_ERR_LEN];
	const char *v;

	if (cfg_get_string(x, root, "metrics", &v) < 0)
		return -1;
	if (!v)
		return 0;
	if (strlen(v) >= sizeof(c->metrics_str) ||
	    cfg_addr_hostport(v, &c->metrics, &c->metrics_len, why,
			      sizeof(why)) < 0)
		return cfg_fail(x, s, "an address such as \"127.0.0.1:9477\"");
	snprintf(c->metrics_str, sizeof(c->metrics_str), "%s", v);
	return 0;
}

int cfg_load_run(struct cfg_ctx *x, const config_setting_t *root,
		 struct cfg *c)
{
	const config_setting_t *rd = config_setting_get_member(root,
							       "route_default");
	double mark = DEFAULT_FWMARK, table = DEFAULT_TABLE;

	if (rd && c->master)
		return cfg_fail(x, rd, "only a slave routes everything through "
				"the tunnel (a master uses routes)");
	if (cfg_get_bool(x, root, "route_default", &c->route_default) < 0 ||
	    load_routes(x, root, c) < 0 ||
	    cfg_get_number(x, root, "fwmark", 1, 0xffffffff, &mark) < 0 ||
	    cfg_get_number(x, root, "route_table", 1, 0xffffffff, &table) < 0)
		return -1;
	if (mark != (uint32_t)mark || table != (uint32_t)table)
		return cfg_fail(x, root, "fwmark and route_table are whole "
				"numbers");
	if (table >= 253 && table <= 255)
		return cfg_fail(x, config_setting_get_member(root,
							     "route_table"),
				"253-255 are the kernel's default, main and "
				"local tables");
	c->fwmark = (uint32_t)mark;
	c->route_table = (uint32_t)table;
	if (load_hook(x, root, "on_up", c->on_up, sizeof(c->on_up)) < 0 ||
	    load_hook(x, root, "on_down", c->on_down, sizeof(c->on_down)) < 0)
		return -1;
	return load_metrics(x, root, c);
}
