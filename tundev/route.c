/* SPDX-License-Identifier: MIT */
/* Policy routing through the TUN device (route_default / routes), the way
 * wg-quick does it: a rule that skips main's default route, a rule that
 * sends unmarked packets to a table of braid's own, and that table. */
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tundev-int.h"

#define MAX_RULES 4			/* two per family */
#define MAX_ROUTES (2 + TUN_MAX_ROUTES)	/* the defaults and the prefixes */
#define SWEEP_BATCH 16			/* stale entries removed per dump */
#define SWEEP_PASSES 64

struct tun_policy {
	struct tun_nl nl;
	/* what was installed, in order; removed in reverse */
	struct tun_nl_rule rules[MAX_RULES];
	size_t nrules;
	struct tun_nl_route routes[MAX_ROUTES];
	size_t nroutes;
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static unsigned addr_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Clears the host bits of a->prefix (the kernel refuses them in IPv4). */
static void mask_prefix(struct tun_addr *a)
{
	uint8_t *b = a->family == AF_INET ? (uint8_t *)&a->v4 : a->v6.s6_addr;

	for (unsigned i = 0; i < addr_len(a->family); i++) {
		unsigned keep = a->prefix > i * 8 ? a->prefix - i * 8 : 0;

		if (keep < 8)
			b[i] &= (uint8_t)(0xff00 >> keep);
	}
}

static bool same_prefix(const struct tun_addr *a, const struct tun_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(&a->v6, &b->v6, addr_len(a->family));
}

static int check_cfg(const struct tun_route_cfg *c)
{
	if (!c->fwmark || !c->table || (c->table >= RT_TABLE_DEFAULT &&
					 c->table <= RT_TABLE_LOCAL))
		return -EINVAL;
	/* between the local rule (0) and main's (32766) */
	if (c->pref < 1 || c->pref >= 32765)
		return -EINVAL;
	if (c->nroutes > TUN_MAX_ROUTES || (!c->default_route && !c->nroutes))
		return -EINVAL;
	for (size_t i = 0; i < c->nroutes; i++) {
		const struct tun_addr *a = &c->routes[i];

		if ((a->family != AF_INET && a->family != AF_INET6) ||
		    a->prefix > addr_bits(a->family))
			return -EINVAL;
	}
	return 0;
}

static bool has_family(const struct tun_route_cfg *c, int family)
{
	for (size_t i = 0; i < c->nroutes; i++)
		if (c->routes[i].family == family)
			return true;
	return false;
}

/* --- stale state of a braid that did not exit cleanly --- */

struct sweep {
	const struct tun_route_cfg *c;
	struct tun_nl_rule rules[SWEEP_BATCH];
	struct tun_nl_route routes[SWEEP_BATCH];
	size_t n;
};

struct rule_attrs {
	uint32_t pref, table, fwmark;
	int suppress;
};

static int rule_attr_cb(const struct nlattr *attr, void *data)
{
	struct rule_attrs *r = data;

	if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
		return MNL_CB_OK;
	switch (mnl_attr_get_type(attr)) {
	case FRA_PRIORITY:
		r->pref = mnl_attr_get_u32(attr);
		break;
	case FRA_TABLE:
		r->table = mnl_attr_get_u32(attr);
		break;
	case FRA_FWMARK:
		r->fwmark = mnl_attr_get_u32(attr);
		break;
	case FRA_SUPPRESS_PREFIXLEN:
		r->suppress = (int)mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

/* Collects rules at pref or pref + 1 that look up the table, and main
 * with its default route suppressed at pref. */
static int stale_rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sweep *s = data;
	const struct fib_rule_hdr *frh = mnl_nlmsg_get_payload(nlh);
	struct rule_attrs r = { .suppress = -1 };
	bool ours;

	if (nlh->nlmsg_type != RTM_NEWRULE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*frh))
		return MNL_CB_OK;
	r.table = frh->table;
	mnl_attr_parse(nlh, sizeof(*frh), rule_attr_cb, &r);
	ours = ((r.pref == s->c->pref || r.pref == s->c->pref + 1) &&
		r.table == s->c->table) ||
	       (r.pref == s->c->pref && r.table == RT_TABLE_MAIN &&
		r.suppress == 0);
	if (!ours || frh->action != FR_ACT_TO_TBL || s->n >= SWEEP_BATCH)
		return MNL_CB_OK;
	s->rules[s->n++] = (struct tun_nl_rule){
		.family = frh->family, .pref = r.pref, .table = r.table,
		.fwmark = r.fwmark, .invert = frh->flags & FIB_RULE_INVERT,
		.suppress_prefixlen = r.suppress,
	};
	return MNL_CB_OK;
}

struct route_attrs {
	uint32_t table, priority;
	const struct nlattr *dst;
};

static int route_attr_cb(const struct nlattr *attr, void *data)
{
	struct route_attrs *r = data;

	switch (mnl_attr_get_type(attr)) {
	case RTA_TABLE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			r->table = mnl_attr_get_u32(attr);
		break;
	case RTA_PRIORITY:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			r->priority = mnl_attr_get_u32(attr);
		break;
	case RTA_DST:
		r->dst = attr;
		break;
	}
	return MNL_CB_OK;
}

/* Collects every route in the table. */
static int stale_route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct sweep *s = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_attrs r = { 0 };
	struct tun_nl_route *out;

	if (nlh->nlmsg_type != RTM_NEWROUTE ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(*rtm) ||
	    (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) ||
	    rtm->rtm_flags & RTM_F_CLONED)
		return MNL_CB_OK;
	r.table = rtm->rtm_table;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &r);
	if (r.table != s->c->table || s->n >= SWEEP_BATCH)
		return MNL_CB_OK;
	out = &s->routes[s->n];
	*out = (struct tun_nl_route){
		.table = r.table, .type = rtm->rtm_type, .tos = rtm->rtm_tos,
		.priority = r.priority,
	};
	out->dst.family = rtm->rtm_family;
	out->dst.prefix = rtm->rtm_dst_len;
	if (r.dst) {
		if (mnl_attr_get_payload_len(r.dst) != addr_len(rtm->rtm_family))
			return MNL_CB_OK;
		memcpy(&out->dst.v6, mnl_attr_get_payload(r.dst),
		       addr_len(rtm->rtm_family));
	}
	s->n++;
	return MNL_CB_OK;
}

/* Dumps every rule (RTM_GETRULE) or route (RTM_GETROUTE) of every
 * family through cb into s. */
static int dump(struct tun_nl *nl, uint16_t type, mnl_cb_t cb,
		struct sweep *s)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = tun_nl_msg(buf, type, NLM_F_DUMP);

	if (type == RTM_GETRULE)
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct fib_rule_hdr));
	else
		mnl_nlmsg_put_extra_header(nlh, sizeof(struct rtmsg));
	s->n = 0;
	return tun_nl_talk(nl, nlh, cb, s);
}

static bool gone(int err)
{
	return err == -ENOENT || err == -ESRCH || err == -ENODEV;
}

/* Removes rules (routes: !rules) left by an earlier run, a batch per
 * dump until a dump finds none. */
static int sweep(struct tun_nl *nl, const struct tun_route_cfg *c,
		 bool rules)
{
	struct sweep s = { .c = c };
	int err;

	for (int pass = 0; pass < SWEEP_PASSES; pass++) {
		err = dump(nl, rules ? RTM_GETRULE : RTM_GETROUTE,
			   rules ? stale_rule_cb : stale_route_cb, &s);
		if (err < 0 || !s.n)
			return err;
		log_debug("removing %zu stale %s of table %u", s.n,
			  rules ? "rule(s)" : "route(s)", c->table);
		for (size_t i = 0; i < s.n; i++) {
			err = rules ? tun_nl_rule(nl, &s.rules[i], false) :
				      tun_nl_route(nl, &s.routes[i], false);
			if (err < 0 && !gone(err))
				return err;
		}
	}
	return -ELOOP;
}

/* --- install and remove --- */

static void remove_all(struct tun_policy *p)
{
	int err;

	/* rules first: no packet is sent to a table being emptied */
	while (p->nrules) {
		err = tun_nl_rule(&p->nl, &p->rules[--p->nrules], false);
		if (err < 0 && !gone(err))
			log_warnx("cannot remove policy rule at %u: %s",
				  p->rules[p->nrules].pref, strerror(-err));
	}
	while (p->nroutes) {
		err = tun_nl_route(&p->nl, &p->routes[--p->nroutes], false);
		if (err < 0 && !gone(err))
			log_warnx("cannot remove route in table %u: %s",
				  p->routes[p->nroutes].table, strerror(-err));
	}
}

static int add_rule(struct tun_policy *p, const struct tun_nl_rule *r)
{
	int err = tun_nl_rule(&p->nl, r, true);

	if (err < 0)
		return err;
	p->rules[p->nrules++] = *r;
	return 0;
}

/* Adds dst through the TUN unless it is there already (twice in routes,
 * or also the default). */
static int add_route(struct tun_policy *p, const struct tun_route_cfg *c,
		     unsigned oif, const struct tun_addr *dst)
{
	struct tun_nl_route r = { .dst = *dst, .table = c->table,
				  .type = RTN_UNICAST, .oif = oif };
	int err;

	mask_prefix(&r.dst);
	for (size_t i = 0; i < p->nroutes; i++)
		if (same_prefix(&p->routes[i].dst, &r.dst))
			return 0;
	err = tun_nl_route(&p->nl, &r, true);
	/* A TUN without IPv6 (disabled on it, or an MTU below 1280) cannot
	 * carry the IPv6 default: IPv6 is then unreachable rather than
	 * leaking around the tunnel. */
	if ((err == -EACCES || err == -ENODEV) && dst->family == AF_INET6 &&
	    dst->prefix == 0) {
		log_debug("IPv6 default route unreachable: %s",
			  strerror(-err));
		r.type = RTN_UNREACHABLE;
		r.oif = 0;
		err = tun_nl_route(&p->nl, &r, true);
	}
	if (err < 0)
		return err;
	p->routes[p->nroutes++] = r;
	return 0;
}

/* The family's routes, then its two rules; nothing if it has no route. */
static int install(struct tun_policy *p, const struct tun_route_cfg *c,
		   unsigned oif, int family)
{
	struct tun_nl_rule suppress = {
		.family = family, .pref = c->pref, .table = RT_TABLE_MAIN,
		.suppress_prefixlen = 0,
	};
	struct tun_nl_rule lookup = {
		.family = family, .pref = c->pref + 1, .table = c->table,
		.fwmark = c->fwmark, .invert = true, .suppress_prefixlen = -1,
	};
	struct tun_addr any = { .family = family };
	size_t before = p->nroutes;
	int err;

	if (c->default_route) {
		err = add_route(p, c, oif, &any);
		if (err < 0)
			return err;
	}
	for (size_t i = 0; i < c->nroutes; i++) {
		if (c->routes[i].family != family)
			continue;
		err = add_route(p, c, oif, &c->routes[i]);
		if (err < 0)
			return err;
	}
	if (p->nroutes == before)
		return 0;
	/* main without its default first, so that no packet meets the
	 * table's default before main's more specific routes */
	err = add_rule(p, &suppress);
	if (err < 0)
		return err;
	return add_rule(p, &lookup);
}

int tun_policy_new(struct tun_policy **out, const struct tun *t,
		   const struct tun_route_cfg *c)
{
	bool v6 = access("/proc/sys/net/ipv6", F_OK) == 0;
	struct tun_policy *p;
	int err;

	err = check_cfg(c);
	if (err < 0)
		return err;
	if (!v6 && has_family(c, AF_INET6))
		return -EAFNOSUPPORT;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	err = tun_nl_open(&p->nl);
	if (err < 0)
		goto out_free;
	err = sweep(&p->nl, c, true);
	if (err < 0)
		goto out_close;
	err = sweep(&p->nl, c, false);
	if (err < 0)
		goto out_close;
	err = install(p, c, tun_ifindex(t), AF_INET);
	if (err < 0)
		goto out_remove;
	if (v6) {
		err = install(p, c, tun_ifindex(t), AF_INET6);
		if (err < 0)
			goto out_remove;
	} else {
		log_debug("no IPv6 in this kernel: IPv4 policy routing only");
	}
	*out = p;
	return 0;

out_remove:
	remove_all(p);
out_close:
	tun_nl_close(&p->nl);
out_free:
	free(p);
	return err;
}

int tun_policy_sweep(const struct tun_route_cfg *c)
{
	struct tun_nl nl;
	int err = tun_nl_open(&nl);

	if (err < 0)
		return err;
	err = sweep(&nl, c, true);
	if (err == 0)
		err = sweep(&nl, c, false);
	tun_nl_close(&nl);
	return err;
}

void tun_policy_free(struct tun_policy *p)
{
	if (!p)
		return;
	remove_all(p);
	tun_nl_close(&p->nl);
	free(p);
}
