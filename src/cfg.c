/* SPDX-License-Identifier: MIT */
/* Reading and validating the config file; every error names file, line
 * and setting. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libconfig.h>
#include <sodium.h>

#include "cfg-int.h"
#include "log.h"

#define DEFAULT_TUN "braid0"
#define DEFAULT_MTU 1400
#define DEFAULT_DEAD 1.0
#define DEFAULT_KEEPALIVE 0.2
#define DEFAULT_CONTROL_DIR "/run/braid"
#define DEFAULT_USER "nobody"


/* Writes "FILE:LINE: setting 'a.b[1].c': message" into x->err. child names
 * a setting missing from s; the line is then s's (none for the root). */
static int vreport(struct cfg_ctx *x, const config_setting_t *s,
		   const char *child, const char *fmt, va_list ap)
{
	char msg[CFG_ERR_LEN], where[32] = "", *path = NULL;
	const config_setting_t *chain[16];
	size_t plen = 0;
	int n = 0, line;
	FILE *f;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	f = open_memstream(&path, &plen);
	if (!f)
		return -1;
	for (const config_setting_t *p = s; p && n < 16;
	     p = config_setting_parent(p))
		chain[n++] = p;
	for (int i = n - 1; i >= 0; i--) {
		if (config_setting_is_root(chain[i]))
			continue;
		if (ftell(f) > 0 && config_setting_name(chain[i]))
			fputc('.', f);
		if (config_setting_name(chain[i]))
			fputs(config_setting_name(chain[i]), f);
		else
			fprintf(f, "[%d]", config_setting_index(chain[i]));
	}
	if (child)
		fprintf(f, "%s%s", ftell(f) > 0 ? "." : "", child);
	fclose(f);
	line = s ? config_setting_source_line(s) : 0;
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	snprintf(x->err, x->errlen, "%s%s: setting '%s': %s", x->path, where,
		 path ? path : "?", msg);
	free(path);
	return -1;
}

int cfg_fail(struct cfg_ctx *x, const config_setting_t *s, const char *fmt,
		...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(x, s, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int cfg_missing(struct cfg_ctx *x, const config_setting_t *parent,
		   const char *child, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(x, parent, child, fmt, ap);
	va_end(ap);
	return -1;
}

int cfg_get_string(struct cfg_ctx *x, const config_setting_t *parent,
		      const char *name, const char **out)
{
	const config_setting_t *s = config_setting_get_member(parent, name);

	*out = NULL;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return cfg_fail(x, s, "must be a string (in double quotes)");
	*out = config_setting_get_string(s);
	return 0;
}

int cfg_get_number(struct cfg_ctx *x, const config_setting_t *parent,
		      const char *name, double lo, double hi, double *out)
{
	const config_setting_t *s = config_setting_get_member(parent, name);
	double v;

	if (!s)
		return 0;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		break;
	case CONFIG_TYPE_FLOAT:
		v = config_setting_get_float(s);
		break;
	default:
		return cfg_fail(x, s, "must be a number");
	}
	if (!(v >= lo && v <= hi))
		return cfg_fail(x, s, "must be between %g and %g", lo, hi);
	*out = v;
	return 0;
}

/* A boolean setting; *out is left alone when it is not there. */
int cfg_get_bool(struct cfg_ctx *x, const config_setting_t *parent,
		    const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(parent, name);

	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return cfg_fail(x, s, "must be true or false");
	*out = config_setting_get_bool(s);
	return 0;
}

const char *const cfg_sched_names[] = {
	[MUX_SCHED_EARLIEST] = "earliest",
	[MUX_SCHED_EQUALIZED] = "equalized",
	[MUX_SCHED_ROUNDROBIN] = "roundrobin",
	NULL
};

/* A setting that is one of words: *idx says which (absent: *idx is left
 * as the caller set it, the default). */
int cfg_get_choice(struct cfg_ctx *x, const config_setting_t *parent,
		   const char *name, const char *const *words, unsigned *idx)
{
	char list[128] = "";
	const char *v;
	unsigned n;

	if (cfg_get_string(x, parent, name, &v) < 0)
		return -1;
	if (!v)
		return 0;
	for (n = 0; words[n]; n++)
		if (!strcmp(v, words[n])) {
			*idx = n;
			return 0;
		}
	for (unsigned i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s\"%s\"", !i ? "" : i + 1 < n ? ", " : " or ",
			 words[i]);
	return cfg_fail(x, config_setting_get_member(parent, name),
			"must be %s", list);
}

int cfg_check_known(struct cfg_ctx *x, const config_setting_t *group,
		       const char *const *known)
{
	for (int i = 0; i < config_setting_length(group); i++) {
		const config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		bool ok = false;

		for (const char *const *k = known; *k && !ok; k++)
			ok = strcmp(*k, name) == 0;
		if (!ok)
			return cfg_fail(x, s, "unknown setting (misspelt?)");
	}
	return 0;
}

static int decode_key(struct cfg_ctx *x, const config_setting_t *s,
		      const char *b64, uint8_t key[32])
{
	size_t n;

	if (sodium_base642bin(key, 32, b64, strlen(b64), " \t\r\n", &n, NULL,
			      sodium_base64_VARIANT_ORIGINAL) != 0 || n != 32)
		return cfg_fail(x, s, "not a key: expected 32 bytes in base64, as "
			    "printed by 'braid genkey'");
	return 0;
}

static int load_key_file(struct cfg_ctx *x, const config_setting_t *s,
			 const char *path, uint8_t key[32])
{
	char buf[256];
	struct stat st;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cfg_fail(x, s, "cannot open '%s': %s", path,
			    strerror(errno));
	if (fstat(fd, &st) < 0 || (st.st_mode & 077)) {
		close(fd);
		return cfg_fail(x, s, "'%s' is readable by group or others; run "
			    "'chmod 600 %s'", path, path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return cfg_fail(x, s, "cannot read '%s': %s", path,
			    strerror(errno));
	buf[n] = '\0';
	rc = decode_key(x, s, buf, key);
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

static int load_key(struct cfg_ctx *x, const config_setting_t *root,
		    struct cfg *c)
{
	const config_setting_t *k = config_setting_get_member(root, "key");
	const config_setting_t *kf = config_setting_get_member(root,
							       "key_file");
	const char *v;

	if (k && kf)
		return cfg_fail(x, kf, "give either key or key_file, not both");
	if (!k && !kf)
		return cfg_missing(x, root, "key", "missing: set key = \"...\" or "
			       "key_file = \"...\" (make one with 'braid "
			       "genkey')");
	if (cfg_get_string(x, root, k ? "key" : "key_file", &v) < 0)
		return -1;
	return k ? decode_key(x, k, v, c->key) :
		   load_key_file(x, kf, v, c->key);
}

static int load_addresses(struct cfg_ctx *x, const config_setting_t *s,
			  struct cfg *c)
{
	bool list = config_setting_is_aggregate(s);
	int n = list ? config_setting_length(s) : 1;

	if (n < 1)
		return cfg_fail(x, s, "needs at least one address");
	if (n > TUN_MAX_ADDRS)
		return cfg_fail(x, s, "at most %d addresses", TUN_MAX_ADDRS);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = list ?
			config_setting_get_elem(s, i) : s;

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return cfg_fail(x, e, "must be a string \"ip/prefix\"");
		if (tun_addr_parse(&c->addrs[i],
				   config_setting_get_string(e)) < 0)
			return cfg_fail(x, e, "'%s' is not an IPv4 or IPv6 "
				    "address with an optional /prefix",
				    config_setting_get_string(e));
	}
	c->naddrs = n;
	return 0;
}

static int load_tun(struct cfg_ctx *x, const config_setting_t *root,
		    struct cfg *c)
{
	static const char *const known[] = { "name", "address", "mtu", NULL };
	const config_setting_t *t = config_setting_get_member(root, "tun");
	const config_setting_t *a;
	const char *name;
	double mtu = DEFAULT_MTU;

	snprintf(c->tun_name, sizeof(c->tun_name), "%s", DEFAULT_TUN);
	c->mtu = DEFAULT_MTU;
	if (!t)
		return cfg_missing(x, root, "tun", "missing: add tun = { address = "
			       "\"10.77.0.1/24\"; }");
	if (!config_setting_is_group(t))
		return cfg_fail(x, t, "must be a group { ... }");
	if (cfg_check_known(x, t, known) < 0 || cfg_get_string(x, t, "name", &name) < 0)
		return -1;
	if (name) {
		if (!*name || strlen(name) >= IFNAMSIZ || strchr(name, '/'))
			return cfg_fail(x, config_setting_get_member(t, "name"),
				    "interface names are 1-%d characters "
				    "without '/'", IFNAMSIZ - 1);
		snprintf(c->tun_name, sizeof(c->tun_name), "%s", name);
	}
	a = config_setting_get_member(t, "address");
	if (!a)
		return cfg_missing(x, t, "address", "missing (e.g. address = "
			       "\"10.77.0.1/24\")");
	if (load_addresses(x, a, c) < 0 ||
	    cfg_get_number(x, t, "mtu", 576, 9000, &mtu) < 0)
		return -1;
	if (mtu != (unsigned)mtu)
		return cfg_fail(x, config_setting_get_member(t, "mtu"),
			    "must be a whole number");
	c->mtu = (unsigned)mtu;
	for (size_t i = 0; i < c->naddrs; i++)
		if (c->addrs[i].family == AF_INET6 && c->mtu < 1280)
			return cfg_fail(x, config_setting_get_member(t, "mtu"),
				    "IPv6 addresses need mtu >= 1280");
	return 0;
}

static int load_peer_addr(struct cfg_ctx *x, const config_setting_t *root,
			  struct cfg *c)
{
	const char *which = c->master ? "listen" : "master";
	const config_setting_t *s = config_setting_get_member(root, which);
	char why[CFG_ERR_LEN];
	const char *v;

	if (!s)
		return cfg_missing(x, root, which, "%s", c->master ?
			       "missing: a master needs listen = \":PORT\"" :
			       "missing: a slave needs master = \"HOST:PORT\"");
	if (cfg_get_string(x, root, which, &v) < 0)
		return -1;
	if (x->running && !strcmp(v, x->running->addr_str)) {
		c->addr = x->running->addr;
		c->addr_len = x->running->addr_len;
	} else if (cfg_addr_hostport(v, &c->addr, &c->addr_len, why,
				     sizeof(why)) < 0)
		return cfg_fail(x, s, "%s", why);
	snprintf(c->addr_str, sizeof(c->addr_str), "%s", v);
	return 0;
}

static int load_timing(struct cfg_ctx *x, const config_setting_t *root,
		       struct cfg *c)
{
	const config_setting_t *ka = config_setting_get_member(root,
							       "keepalive");

	c->dead_time = DEFAULT_DEAD;
	if (cfg_get_number(x, root, "dead_time", 0.1, 60, &c->dead_time) < 0)
		return -1;
	c->keepalive = c->dead_time / 4 < DEFAULT_KEEPALIVE ?
		       c->dead_time / 4 : DEFAULT_KEEPALIVE;
	if (cfg_get_number(x, root, "keepalive", 0.01, 30, &c->keepalive) < 0)
		return -1;
	if (ka && c->keepalive * 2 > c->dead_time)
		return cfg_fail(x, ka, "must be at most half of dead_time (%g)",
			    c->dead_time);
	c->rekey = 120;
	if (cfg_get_number(x, root, "rekey", 1, 120, &c->rekey) < 0)
		return -1;
	if (c->master && config_setting_get_member(root, "rekey"))
		return cfg_fail(x, config_setting_get_member(root, "rekey"),
			    "only a slave starts handshakes");
	return 0;
}

/* redundant_ports = [ 53, 3478 ]: chosen traffic sent on two links. */
static int load_ports(struct cfg_ctx *x, const config_setting_t *root,
		      struct cfg *c)
{
	const config_setting_t *l = config_setting_get_member(root,
							      "redundant_ports");
	size_t max = sizeof(c->redundant_ports) / sizeof(c->redundant_ports[0]);

	if (!l)
		return 0;
	if (!config_setting_is_array(l) && !config_setting_is_list(l))
		return cfg_fail(x, l, "must be a list of port numbers: [ 53, 3478 ]");
	if ((size_t)config_setting_length(l) > max)
		return cfg_fail(x, l, "at most %zu ports", max);
	for (int i = 0; i < config_setting_length(l); i++) {
		const config_setting_t *e = config_setting_get_elem(l, i);
		long long v;

		if (config_setting_type(e) != CONFIG_TYPE_INT &&
		    config_setting_type(e) != CONFIG_TYPE_INT64)
			return cfg_fail(x, l, "must be a list of port numbers");
		v = config_setting_get_int64(e);
		if (v < 1 || v > 65535)
			return cfg_fail(x, l, "ports are 1..65535, not %lld", v);
		c->redundant_ports[c->n_redundant_ports++] = (uint16_t)v;
	}
	return 0;
}

static int load_root(struct cfg_ctx *x, const config_setting_t *root,
		     struct cfg *c)
{
	static const char *const known[] = { "mode", "key", "key_file", "tun",
					     "listen", "master", "links",
					     "keepalive", "dead_time",
					     "control", "user", "rekey",
					     "listen_tcp", "scheduler", "bonding",
					     "redundant_ports", "route_default",
					     "routes", "fwmark", "route_table",
					     "on_up", "on_down", "metrics",
					     "header_compression",
					     "measure_links", NULL };
	static const char *const bondings[] = { "aggregate", "redundant",
						NULL };
	const config_setting_t *lt = config_setting_get_member(root,
							       "listen_tcp");
	const char *mode, *control, *user;
	unsigned sched = MUX_SCHED_EQUALIZED, bonding = 0;

	if (cfg_check_known(x, root, known) < 0 ||
	    cfg_get_string(x, root, "mode", &mode) < 0)
		return -1;
	if (!mode)
		return cfg_missing(x, root, "mode", "missing: must be \"master\" "
			       "or \"slave\"");
	if (strcmp(mode, "master") && strcmp(mode, "slave"))
		return cfg_fail(x, config_setting_get_member(root, "mode"),
			    "must be \"master\" or \"slave\"");
	c->master = !strcmp(mode, "master");
	if (c->master && config_setting_get_member(root, "links"))
		return cfg_fail(x, config_setting_get_member(root, "links"),
			    "only a slave has links; the master learns them");
	if (c->master && config_setting_get_member(root, "master"))
		return cfg_fail(x, config_setting_get_member(root, "master"),
			    "a master has listen, not master");
	if (!c->master && config_setting_get_member(root, "listen"))
		return cfg_fail(x, config_setting_get_member(root, "listen"),
			    "a slave has master, not listen");
	c->listen_tcp = true;
	c->compress = true;
	c->measure = true;
	if (lt && !c->master)
		return cfg_fail(x, lt, "only a master listens");
	if (cfg_get_bool(x, root, "listen_tcp", &c->listen_tcp) < 0 ||
	    cfg_get_bool(x, root, "header_compression", &c->compress) < 0 ||
	    cfg_get_bool(x, root, "measure_links", &c->measure) < 0 ||
	    cfg_get_choice(x, root, "scheduler", cfg_sched_names,
			   &sched) < 0 ||
	    cfg_get_choice(x, root, "bonding", bondings, &bonding) < 0 ||
	    load_ports(x, root, c) < 0)
		return -1;
	c->sched = (enum mux_sched)sched;
	c->redundant = bonding == 1;
	if (cfg_get_string(x, root, "control", &control) < 0)
		return -1;
	if (control && (!*control || strlen(control) >= sizeof(c->control)))
		return cfg_fail(x, config_setting_get_member(root, "control"),
			    "a socket path is 1-%zu characters",
			    sizeof(c->control) - 1);
	if (cfg_get_string(x, root, "user", &user) < 0)
		return -1;
	if (user && (!*user || strlen(user) >= sizeof(c->user)))
		return cfg_fail(x, config_setting_get_member(root, "user"),
			    "a user name (or \"#uid\") of 1-%zu characters",
			    sizeof(c->user) - 1);
	snprintf(c->user, sizeof(c->user), "%s", user ? user : DEFAULT_USER);
	if ((!x->reload && load_key(x, root, c) < 0) ||
	    load_tun(x, root, c) < 0 || load_peer_addr(x, root, c) < 0 ||
	    load_timing(x, root, c) < 0 || cfg_load_run(x, root, c) < 0)
		return -1;
	/* one socket per tunnel: several can run side by side */
	if (control)
		snprintf(c->control, sizeof(c->control), "%s", control);
	else
		snprintf(c->control, sizeof(c->control), "%s/%s.sock",
			 DEFAULT_CONTROL_DIR, c->tun_name);
	return c->master ? 0 : cfg_load_links(x, root, c);
}

/* libconfig frees its strings without wiping them; the inline key is
 * wiped here first (libconfig hands out const, but the string is its own
 * heap copy). */
static void wipe_key_string(config_t *lc)
{
	config_setting_t *k = config_lookup(lc, "key");
	const char *v = k ? config_setting_get_string(k) : NULL;

	if (v)
		sodium_memzero((char *)v, strlen(v));
}

#define CFG_MAX_SIZE (1 << 20)

/* Reads until EOF or cap bytes; -1 on a read error. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += n;
	}
	return (ssize_t)len;
}

/* Reads the whole file, into a buffer sized by the file; braid's config
 * is one file of modest size. */
char *cfg_read_text(const char *path, char *err, size_t errlen)
{
	size_t cap = CFG_MAX_SIZE + 1;
	char *buf = NULL, *more;
	ssize_t len, n;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		goto out_err;
	if (st.st_size >= 0 && st.st_size < CFG_MAX_SIZE)
		cap = (size_t)st.st_size + 1;	/* one more: did it grow? */
	buf = malloc(cap + 1);
	if (!buf)
		goto out_err;
	len = read_all(fd, buf, cap);
	if (len == (ssize_t)cap && cap < CFG_MAX_SIZE + 1) {
		/* it grew while we read: go on up to the limit */
		more = realloc(buf, CFG_MAX_SIZE + 2);
		if (!more)
			goto out_err;
		buf = more;
		n = read_all(fd, buf + len, CFG_MAX_SIZE + 1 - len);
		len = n < 0 ? -1 : len + n;
	}
	if (len < 0)
		goto out_err;
	close(fd);
	if (len > CFG_MAX_SIZE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 CFG_MAX_SIZE);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	if (memchr(buf, '\0', len)) {
		snprintf(err, errlen, "%s: not a text file", path);
		free(buf);
		return NULL;
	}
	return buf;

out_err:
	snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(buf);
	return NULL;
}

/* libconfig 1.5 cannot turn @include off, and an included directory
 * makes it exit the process: braid's config is one file. */
static int no_includes(const char *path, const char *text, char *err,
		       size_t errlen)
{
	int line = 1;

	for (const char *p = text; *p; p++) {
		const char *q = p;

		while (*q == ' ' || *q == '\t')
			q++;
		if (!strncmp(q, "@include", 8)) {
			snprintf(err, errlen, "%s:%d: @include is not "
				 "supported: put the whole config in one file",
				 path, line);
			return -1;
		}
		p = strchr(p, '\n');
		if (!p)
			break;
		line++;
	}
	return 0;
}

/* Parses text (the contents of path); wipes it. */
static int load_text(struct cfg *c, const struct cfg *running,
		     const char *path, char *text, bool reload, char *err,
		     size_t errlen)
{
	struct cfg_ctx x = { .path = path, .err = err, .errlen = errlen,
			     .reload = reload, .running = running };
	config_t lc;
	int rc;

	memset(c, 0, sizeof(*c));
	if (no_includes(path, text, err, errlen) < 0) {
		sodium_memzero(text, strlen(text));
		return -1;
	}
	config_init(&lc);
	rc = config_read_string(&lc, text);
	sodium_memzero(text, strlen(text));
	if (rc != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: syntax error: %s", path,
			 config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	rc = load_root(&x, config_root_setting(&lc), c);
	wipe_key_string(&lc);
	config_destroy(&lc);
	if (rc < 0)
		sodium_memzero(c->key, sizeof(c->key));
	return rc;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	char *text;
	int rc;

	sodium_memzero(c, sizeof(*c));	/* no key left from before */
	text = cfg_read_text(path, err, errlen);
	if (!text)
		return -1;
	rc = load_text(c, NULL, path, text, false, err, errlen);
	free(text);
	return rc;
}

int cfg_reload_text(struct cfg *c, const struct cfg *running,
		    const char *path, char *text, char *err, size_t errlen)
{
	return load_text(c, running, path, text, true, err, errlen);
}

int cfg_control_path(const char *path, char *out, size_t len, char *err,
		     size_t errlen)
{
	const char *control = NULL, *tun = DEFAULT_TUN;
	config_t lc;
	char *text;
	int rc;

	text = cfg_read_text(path, err, errlen);
	if (!text)
		return -1;
	config_init(&lc);
	rc = config_read_string(&lc, text);
	sodium_memzero(text, strlen(text));
	free(text);
	if (rc != CONFIG_TRUE) {
		snprintf(err, errlen, "%s:%d: syntax error: %s", path,
			 config_error_line(&lc), config_error_text(&lc));
		config_destroy(&lc);
		return -1;
	}
	config_lookup_string(&lc, "control", &control);
	config_lookup_string(&lc, "tun.name", &tun);
	if (control)
		snprintf(out, len, "%s", control);
	else
		snprintf(out, len, "%s/%s.sock", DEFAULT_CONTROL_DIR, tun);
	wipe_key_string(&lc);
	config_destroy(&lc);
	return 0;
}
