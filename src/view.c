/* SPDX-License-Identifier: MIT */
/* The `braid status` table and the lines `braid top` draws, both from the
 * status reply; the reply is trusted for nothing (types, keys). */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "view-int.h"

#define NAME_MAX_W 24		/* top's name column at most */
#define CELL 65			/* a table cell: 64 characters */

/* --- reading the reply ------------------------------------------------- */

struct json_object *view_field(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, k, &v))
		return NULL;
	return v;
}

/* The number under k, NAN if there is none. */
static double num(struct json_object *o, const char *k)
{
	struct json_object *v = view_field(o, k);

	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return NAN;
	return json_object_get_double(v);
}

/* The string under k, NULL if there is none or it is empty. */
const char *view_str(struct json_object *o, const char *k)
{
	struct json_object *v = view_field(o, k);
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return s && *s ? s : NULL;
}

static bool flag(struct json_object *o, const char *k)
{
	struct json_object *v = view_field(o, k);

	return json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

struct json_object *view_links(struct json_object *status, size_t *n)
{
	struct json_object *l = view_field(status, "links");

	*n = json_object_is_type(l, json_type_array) ?
	     json_object_array_length(l) : 0;
	return l;
}

/* --- formatting -------------------------------------------------------- */

/* s with anything but printable ASCII as '?'; "-" for NULL. */
const char *view_clean(char *buf, size_t len, const char *s)
{
	size_t i;

	if (!len)
		return buf;
	if (!s)
		s = "-";
	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

static void app(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends to the string in buf, cut to fit. */
static void app(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* Pads buf with blanks or cuts it to exactly width (at most len - 1). */
static const char *fit(char *buf, size_t len, int width)
{
	size_t w = width > 0 ? (size_t)width : 0, n = strlen(buf);

	if (w > len - 1)
		w = len - 1;
	if (n < w)
		memset(buf + n, ' ', w - n);
	buf[w] = '\0';
	return buf;
}

static bool usable(double v)
{
	return isfinite(v) && v >= 0;
}

/* v in the largest of units (each base times the one before) that keeps
 * it under base after rounding; the first unit has no decimals. */
static const char *scaled(char *buf, size_t len, double v, double base,
			  const char *const *units, size_t nunits)
{
	size_t u = 0;

	if (!usable(v))
		return view_clean(buf, len, NULL);
	while (u + 1 < nunits && v >= base - (u ? 0.05 : 0.5)) {
		v /= base;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

const char *view_fmt_rate(char *buf, size_t len, double bps)
{
	static const char *const units[] = {
		"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s",
	};

	return scaled(buf, len, bps, 1000, units, ARRAY_SIZE(units));
}

const char *view_fmt_bytes(char *buf, size_t len, double bytes)
{
	static const char *const units[] = {
		"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB",
	};

	return scaled(buf, len, bytes, 1024, units, ARRAY_SIZE(units));
}

const char *view_fmt_duration(char *buf, size_t len, double s)
{
	if (!usable(s))
		return view_clean(buf, len, NULL);
	s = floor(s);
	if (s < 60)
		snprintf(buf, len, "%.0fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%.0fm %02.0fs", floor(s / 60), fmod(s, 60));
	else if (s < 86400)
		snprintf(buf, len, "%.0fh %02.0fm", floor(s / 3600),
			 floor(fmod(s, 3600) / 60));
	else
		snprintf(buf, len, "%.0fd %02.0fh", floor(s / 86400),
			 floor(fmod(s, 86400) / 3600));
	return buf;
}

/* A counter: an integer as it is, "-" for anything else. */
static const char *fmt_count(char *buf, size_t len, struct json_object *o,
			     const char *k)
{
	struct json_object *v = view_field(o, k);
	double d;

	if (json_object_is_type(v, json_type_int)) {
		if (json_object_get_int64(v) < 0)
			snprintf(buf, len, "%" PRId64,
				 json_object_get_int64(v));
		else
			snprintf(buf, len, "%" PRIu64,
				 json_object_get_uint64(v));
		return buf;
	}
	d = num(o, k);
	if (!isfinite(d))
		return view_clean(buf, len, NULL);
	snprintf(buf, len, "%.0f", d);
	return buf;
}

static const char *fmt_rtt(char *buf, size_t len, double ms)
{
	if (!usable(ms) || ms == 0 || ms > 1e7)
		return view_clean(buf, len, NULL);
	snprintf(buf, len, "%.1f ms", ms);
	return buf;
}

static const char *fmt_loss(char *buf, size_t len, double loss)
{
	if (!usable(loss) || loss > 1)
		return view_clean(buf, len, NULL);
	snprintf(buf, len, "%.1f%%", loss * 100);
	return buf;
}

static const char *fmt_type(char *buf, size_t len, struct json_object *l)
{
	view_clean(buf, len, view_str(l, "type"));
	if (flag(l, "stream"))
		app(buf, len, " stream");
	return buf;
}

/* Where the link goes: "via PROXY" for a proxied link, else its address. */
static const char *fmt_where(char *buf, size_t len, struct json_object *l)
{
	char tmp[CELL - 4];

	if (!view_str(l, "proxy"))
		return view_clean(buf, len, view_str(l, "address"));
	snprintf(buf, len, "via %s",
		 view_clean(tmp, sizeof(tmp), view_str(l, "proxy")));
	return buf;
}

/* --- braid status ------------------------------------------------------ */

enum col {
	C_NAME, C_STATE, C_TYPE, C_ADDR, C_RTT, C_LOSS, C_UP, C_DOWN,
	C_SENT, C_RECV, C_DROPS, NCOLS
};

static const char *const col_head[NCOLS] = {
	"LINK", "STATE", "TYPE", "ADDRESS", "RTT", "LOSS", "UP", "DOWN",
	"SENT", "RECEIVED", "DROPS",
};

static const bool col_right[NCOLS] = {
	[C_RTT] = true, [C_LOSS] = true, [C_UP] = true, [C_DOWN] = true,
	[C_SENT] = true, [C_RECV] = true, [C_DROPS] = true,
};

static void link_cells(struct json_object *l, char c[NCOLS][CELL])
{
	view_clean(c[C_NAME], CELL, view_str(l, "name"));
	view_clean(c[C_STATE], CELL, view_str(l, "state"));
	fmt_type(c[C_TYPE], CELL, l);
	fmt_where(c[C_ADDR], CELL, l);
	fmt_rtt(c[C_RTT], CELL, num(l, "rtt_ms"));
	fmt_loss(c[C_LOSS], CELL, num(l, "loss"));
	view_fmt_rate(c[C_UP], CELL, num(l, "tx_bps"));
	view_fmt_rate(c[C_DOWN], CELL, num(l, "rx_bps"));
	view_fmt_bytes(c[C_SENT], CELL, num(l, "tx_bytes"));
	view_fmt_bytes(c[C_RECV], CELL, num(l, "rx_bytes"));
	fmt_count(c[C_DROPS], CELL, l, "drops");
}

static void print_row(FILE *f, char c[NCOLS][CELL], const int *w)
{
	for (int i = 0; i < NCOLS; i++) {
		const char *sep = i ? "  " : "";

		if (col_right[i])
			fprintf(f, "%s%*s", sep, w[i], c[i]);
		else if (i + 1 < NCOLS)
			fprintf(f, "%s%-*s", sep, w[i], c[i]);
		else
			fprintf(f, "%s%s", sep, c[i]);
	}
	fputc('\n', f);
}

static void print_links(FILE *f, struct json_object *status)
{
	char c[NCOLS][CELL];
	int w[NCOLS];
	size_t n;
	struct json_object *links = view_links(status, &n);

	for (int i = 0; i < NCOLS; i++) {
		w[i] = (int)strlen(col_head[i]);
		snprintf(c[i], CELL, "%s", col_head[i]);
	}
	for (size_t k = 0; k < n; k++) {
		link_cells(json_object_array_get_idx(links, k), c);
		for (int i = 0; i < NCOLS; i++)
			if ((int)strlen(c[i]) > w[i])
				w[i] = (int)strlen(c[i]);
	}
	for (int i = 0; i < NCOLS; i++)
		snprintf(c[i], CELL, "%s", col_head[i]);
	print_row(f, c, w);
	for (size_t k = 0; k < n; k++) {
		link_cells(json_object_array_get_idx(links, k), c);
		print_row(f, c, w);
	}
	if (!n)
		fprintf(f, "(no links)\n");
}

static void print_header(FILE *f, struct json_object *st)
{
	char a[CELL], b[CELL], c[CELL], d[CELL], e[CELL];
	double age = num(st, "session_age_s");

	fprintf(f, "version %s  mode %s  device %s  uptime %s  session %s\n",
		view_clean(a, sizeof(a), view_str(st, "version")),
		view_clean(b, sizeof(b), view_str(st, "mode")),
		view_clean(c, sizeof(c), view_str(st, "device")),
		view_fmt_duration(d, sizeof(d), num(st, "uptime_s")),
		age < 0 ? "none yet" : view_fmt_duration(e, sizeof(e), age));
	fprintf(f, "scheduler %s  bonding %s\n",
		view_clean(a, sizeof(a), view_str(st, "scheduler")),
		view_clean(b, sizeof(b), view_str(st, "bonding")));
}

static void print_totals(FILE *f, struct json_object *t)
{
	char a[CELL], b[CELL], c[CELL], d[CELL];

	fprintf(f, "tunnel   sent %s (%s), received %s (%s)\n",
		view_fmt_bytes(a, sizeof(a), num(t, "tx_bytes")),
		view_fmt_rate(b, sizeof(b), num(t, "tx_bps")),
		view_fmt_bytes(c, sizeof(c), num(t, "rx_bytes")),
		view_fmt_rate(d, sizeof(d), num(t, "rx_bps")));
	fprintf(f, "drops    tun %s, no link %s, congested %s\n",
		fmt_count(a, sizeof(a), t, "tun_drops"),
		fmt_count(b, sizeof(b), t, "no_link"),
		fmt_count(c, sizeof(c), t, "congested"));
	fprintf(f, "refused  auth %s, replay %s, malformed %s, ",
		fmt_count(a, sizeof(a), t, "auth_fail"),
		fmt_count(b, sizeof(b), t, "replay"),
		fmt_count(c, sizeof(c), t, "malformed"));
	fprintf(f, "stale session %s\n",
		fmt_count(a, sizeof(a), t, "stale_session"));
	fprintf(f, "reorder  held %s, late %s, lost %s, dup %s, ",
		fmt_count(a, sizeof(a), t, "held"),
		fmt_count(b, sizeof(b), t, "late"),
		fmt_count(c, sizeof(c), t, "lost"),
		fmt_count(d, sizeof(d), t, "dup"));
	fprintf(f, "early %s\n", fmt_count(a, sizeof(a), t, "early"));
	fprintf(f, "headers  compressed %s (%s saved), rebuilt %s, dropped %s\n",
		fmt_count(a, sizeof(a), t, "compressed"),
		view_fmt_bytes(b, sizeof(b), num(t, "compress_saved_bytes")),
		fmt_count(c, sizeof(c), t, "decompressed"),
		fmt_count(d, sizeof(d), t, "decompress_drops"));
}

void view_status(FILE *f, struct json_object *status)
{
	struct json_object *ok = view_field(status, "ok");
	char e[256];

	if (json_object_is_type(ok, json_type_boolean) &&
	    !json_object_get_boolean(ok)) {
		fprintf(f, "the daemon says: %s\n",
			view_clean(e, sizeof(e), view_str(status, "error")));
		return;
	}
	print_header(f, status);
	fputc('\n', f);
	print_links(f, status);
	fputc('\n', f);
	print_totals(f, view_field(status, "total"));
}

/* --- top's lines -------------------------------------------------------- */

const char *view_bar(char *buf, size_t len, int width, double value,
		     double scale)
{
	int fill = 0;

	if (len == 0)
		return buf;
	if (width < 0)
		width = 0;
	if ((size_t)width > len - 1)
		width = (int)(len - 1);
	if (isfinite(value) && isfinite(scale) && value > 0 && scale > 0)
		fill = value >= scale ? width :
		       (int)lround(value / scale * width);
	memset(buf, '#', fill);
	memset(buf + fill, ' ', width - fill);
	buf[width] = '\0';
	return buf;
}

double view_scale(struct json_object *status)
{
	static const char *const keys[] = {
		"capacity_bps", "tx_bps", "rx_bps",
	};
	double scale = 1;
	size_t n;
	struct json_object *links = view_links(status, &n);

	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(links, i);

		for (size_t k = 0; k < ARRAY_SIZE(keys); k++) {
			double v = num(l, keys[k]);

			if (isfinite(v) && v > scale)
				scale = v;
		}
	}
	return scale;
}

int view_name_width(struct json_object *status)
{
	size_t n;
	struct json_object *links = view_links(status, &n);
	int w = 4;

	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(links, i);
		const char *s = view_str(l, "name");

		if (s && (int)strnlen(s, NAME_MAX_W) > w)
			w = (int)strnlen(s, NAME_MAX_W);
	}
	return w;
}

static int clamp_width(int width, size_t len)
{
	if (width < 0 || len == 0)
		return 0;
	if ((size_t)width > len - 1)
		width = (int)(len - 1);
	return width > VIEW_LINE_W ? VIEW_LINE_W : width;
}

const char *view_top_header(char *buf, size_t len, int width,
			    struct json_object *st, const char *clock)
{
	char a[CELL], b[CELL], c[CELL], d[CELL], e[CELL], g[CELL], h[CELL];
	char line[VIEW_LINE_W + 1];
	double age = num(st, "session_age_s");
	size_t n, cl = clock ? strlen(clock) : 0;

	width = clamp_width(width, len);
	if (!json_object_is_type(st, json_type_object))
		snprintf(line, sizeof(line), "braid top");
	else
		snprintf(line, sizeof(line),
			 "braid %s  %s %s  up %s  session %s  %s/%s",
			 view_clean(a, sizeof(a), view_str(st, "version")),
			 view_clean(b, sizeof(b), view_str(st, "mode")),
			 view_clean(c, sizeof(c), view_str(st, "device")),
			 view_fmt_duration(d, sizeof(d), num(st, "uptime_s")),
			 age < 0 ? "none yet" :
			 view_fmt_duration(e, sizeof(e), age),
			 view_clean(g, sizeof(g), view_str(st, "scheduler")),
			 view_clean(h, sizeof(h), view_str(st, "bonding")));
	n = strlen(line);
	fit(line, sizeof(line), width);
	if (cl && n + 2 + cl <= (size_t)width)
		memcpy(line + width - cl, clock, cl);
	snprintf(buf, len, "%s", line);
	return buf;
}

/* A link line's fixed part: name, state, RTT, loss. */
static int link_prefix(char *buf, size_t len, int name_w, const char *name,
		       const char *state, const char *rtt, const char *loss)
{
	return snprintf(buf, len, "%-*.*s %-*.*s %9.9s %6.6s", name_w, name_w,
			name, VIEW_STATE_W, VIEW_STATE_W, state, rtt, loss);
}

/* Room for each of the two bars after a prefix of p columns: each takes
 * " tx [" bar "] " and a 12-column rate. */
#define BAR_EXTRA 19
#define BAR_MIN 4
static int bar_width(int width, int p)
{
	int b = (width - p - 2 * BAR_EXTRA) / 2;

	return b >= BAR_MIN ? b : 0;
}

const char *view_top_heads(char *buf, size_t len, int width, int name_w)
{
	char line[VIEW_LINE_W + 1];
	int p;

	width = clamp_width(width, len);
	p = link_prefix(line, sizeof(line), name_w, "LINK", "STATE", "RTT",
			"LOSS");
	if (p > 0 && p < width)
		app(line, sizeof(line), bar_width(width, p) ?
		    " THROUGHPUT (tx: sent, rx: received)" : " TX  RX");
	snprintf(buf, len, "%s", fit(line, sizeof(line), width));
	return buf;
}

int view_top_link(char *buf, size_t len, int width, int name_w,
		  struct json_object *l, double scale)
{
	char name[CELL], state[CELL], rtt[CELL], loss[CELL], tx[CELL], rx[CELL];
	char line[VIEW_LINE_W + 1], tb[VIEW_LINE_W + 1], rb[VIEW_LINE_W + 1];
	int p, b, start = -1;

	width = clamp_width(width, len);
	if (name_w < 1)
		name_w = 1;
	if (name_w > NAME_MAX_W)
		name_w = NAME_MAX_W;
	p = link_prefix(line, sizeof(line), name_w,
			view_clean(name, sizeof(name), view_str(l, "name")),
			view_clean(state, sizeof(state), view_str(l, "state")),
			fmt_rtt(rtt, sizeof(rtt), num(l, "rtt_ms")),
			fmt_loss(loss, sizeof(loss), num(l, "loss")));
	view_fmt_rate(tx, sizeof(tx), num(l, "tx_bps"));
	view_fmt_rate(rx, sizeof(rx), num(l, "rx_bps"));
	b = bar_width(width, p);
	if (b) {
		start = p + 5;
		app(line, sizeof(line), " tx [%s] %12s rx [%s] %12s",
		    view_bar(tb, sizeof(tb), b, num(l, "tx_bps"), scale), tx,
		    view_bar(rb, sizeof(rb), b, num(l, "rx_bps"), scale), rx);
	} else if (width - p >= 2 * 16) {
		app(line, sizeof(line), " tx %12s rx %12s", tx, rx);
	}
	snprintf(buf, len, "%s", fit(line, sizeof(line), width));
	return start < width ? start : -1;
}

const char *view_top_tunnel(char *buf, size_t len, int width,
			    struct json_object *st)
{
	struct json_object *t = view_field(st, "total");
	char a[CELL], b[CELL], c[CELL], d[CELL];
	char line[VIEW_LINE_W + 1];

	snprintf(line, sizeof(line),
		 "tunnel  tx %s  %s total   rx %s  %s total",
		 view_fmt_rate(a, sizeof(a), num(t, "tx_bps")),
		 view_fmt_bytes(b, sizeof(b), num(t, "tx_bytes")),
		 view_fmt_rate(c, sizeof(c), num(t, "rx_bps")),
		 view_fmt_bytes(d, sizeof(d), num(t, "rx_bytes")));
	snprintf(buf, len, "%s", fit(line, sizeof(line),
				     clamp_width(width, len)));
	return buf;
}

const char *view_top_counters(char *buf, size_t len, int width,
			      struct json_object *st)
{
	struct json_object *t = view_field(st, "total");
	char a[CELL], b[CELL], c[CELL];
	char line[VIEW_LINE_W + 1];

	snprintf(line, sizeof(line), "drops   tun %s  no link %s  congested %s",
		 fmt_count(a, sizeof(a), t, "tun_drops"),
		 fmt_count(b, sizeof(b), t, "no_link"),
		 fmt_count(c, sizeof(c), t, "congested"));
	app(line, sizeof(line), "   reorder held %s  late %s",
	    fmt_count(a, sizeof(a), t, "held"),
	    fmt_count(b, sizeof(b), t, "late"));
	app(line, sizeof(line), "  lost %s  dup %s",
	    fmt_count(a, sizeof(a), t, "lost"),
	    fmt_count(b, sizeof(b), t, "dup"));
	snprintf(buf, len, "%s", fit(line, sizeof(line),
				     clamp_width(width, len)));
	return buf;
}
