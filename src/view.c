/* SPDX-License-Identifier: MIT */
/* The `braid status` table and the `braid top` live view, both drawn from
 * the status reply; the reply is trusted for nothing (types, keys). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "ctl.h"
#include "log.h"
#include "view.h"

#define NAME_MAX_W 24		/* top's name column at most */
#define CELL 65			/* a table cell: 64 characters */
#define LINE_MAX_W 1023		/* a line of top at most */

/* --- reading the reply ------------------------------------------------- */

static struct json_object *field(struct json_object *o, const char *k)
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
	struct json_object *v = field(o, k);

	if (!json_object_is_type(v, json_type_double) &&
	    !json_object_is_type(v, json_type_int))
		return NAN;
	return json_object_get_double(v);
}

/* The string under k, NULL if there is none or it is empty. */
static const char *str(struct json_object *o, const char *k)
{
	struct json_object *v = field(o, k);
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	return s && *s ? s : NULL;
}

static bool flag(struct json_object *o, const char *k)
{
	struct json_object *v = field(o, k);

	return json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static struct json_object *links_of(struct json_object *status, size_t *n)
{
	struct json_object *l = field(status, "links");

	*n = json_object_is_type(l, json_type_array) ?
	     json_object_array_length(l) : 0;
	return l;
}

/* --- formatting -------------------------------------------------------- */

/* s with anything but printable ASCII as '?'; "-" for NULL. */
static const char *clean(char *buf, size_t len, const char *s)
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
		return clean(buf, len, NULL);
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
		return clean(buf, len, NULL);
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
	struct json_object *v = field(o, k);
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
		return clean(buf, len, NULL);
	snprintf(buf, len, "%.0f", d);
	return buf;
}

static const char *fmt_rtt(char *buf, size_t len, double ms)
{
	if (!usable(ms) || ms == 0 || ms > 1e7)
		return clean(buf, len, NULL);
	snprintf(buf, len, "%.1f ms", ms);
	return buf;
}

static const char *fmt_loss(char *buf, size_t len, double loss)
{
	if (!usable(loss) || loss > 1)
		return clean(buf, len, NULL);
	snprintf(buf, len, "%.1f%%", loss * 100);
	return buf;
}

static const char *fmt_type(char *buf, size_t len, struct json_object *l)
{
	clean(buf, len, str(l, "type"));
	if (flag(l, "stream"))
		app(buf, len, " stream");
	return buf;
}

/* Where the link goes: "via PROXY" for a proxied link, else its address. */
static const char *fmt_where(char *buf, size_t len, struct json_object *l)
{
	char tmp[CELL - 4];

	if (!str(l, "proxy"))
		return clean(buf, len, str(l, "address"));
	snprintf(buf, len, "via %s", clean(tmp, sizeof(tmp), str(l, "proxy")));
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
	clean(c[C_NAME], CELL, str(l, "name"));
	clean(c[C_STATE], CELL, str(l, "state"));
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
	struct json_object *links = links_of(status, &n);

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
		clean(a, sizeof(a), str(st, "version")),
		clean(b, sizeof(b), str(st, "mode")),
		clean(c, sizeof(c), str(st, "device")),
		view_fmt_duration(d, sizeof(d), num(st, "uptime_s")),
		age < 0 ? "none yet" : view_fmt_duration(e, sizeof(e), age));
	fprintf(f, "scheduler %s  bonding %s\n",
		clean(a, sizeof(a), str(st, "scheduler")),
		clean(b, sizeof(b), str(st, "bonding")));
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
	fprintf(f, "reorder  held %s, late %s, lost %s, dup %s\n",
		fmt_count(a, sizeof(a), t, "held"),
		fmt_count(b, sizeof(b), t, "late"),
		fmt_count(c, sizeof(c), t, "lost"),
		fmt_count(d, sizeof(d), t, "dup"));
}

void view_status(FILE *f, struct json_object *status)
{
	struct json_object *ok = field(status, "ok");
	char e[256];

	if (json_object_is_type(ok, json_type_boolean) &&
	    !json_object_get_boolean(ok)) {
		fprintf(f, "the daemon says: %s\n",
			clean(e, sizeof(e), str(status, "error")));
		return;
	}
	print_header(f, status);
	fputc('\n', f);
	print_links(f, status);
	fputc('\n', f);
	print_totals(f, field(status, "total"));
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
	struct json_object *links = links_of(status, &n);

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
	struct json_object *links = links_of(status, &n);
	int w = 4;

	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(links, i);
		const char *s = str(l, "name");

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
	return width > LINE_MAX_W ? LINE_MAX_W : width;
}

const char *view_top_header(char *buf, size_t len, int width,
			    struct json_object *st, const char *clock)
{
	char a[CELL], b[CELL], c[CELL], d[CELL], e[CELL], g[CELL], h[CELL];
	char line[LINE_MAX_W + 1];
	double age = num(st, "session_age_s");
	size_t n, cl = clock ? strlen(clock) : 0;

	width = clamp_width(width, len);
	if (!json_object_is_type(st, json_type_object))
		snprintf(line, sizeof(line), "braid top");
	else
		snprintf(line, sizeof(line),
			 "braid %s  %s %s  up %s  session %s  %s/%s",
			 clean(a, sizeof(a), str(st, "version")),
			 clean(b, sizeof(b), str(st, "mode")),
			 clean(c, sizeof(c), str(st, "device")),
			 view_fmt_duration(d, sizeof(d), num(st, "uptime_s")),
			 age < 0 ? "none yet" :
			 view_fmt_duration(e, sizeof(e), age),
			 clean(g, sizeof(g), str(st, "scheduler")),
			 clean(h, sizeof(h), str(st, "bonding")));
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
	char line[LINE_MAX_W + 1];
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
	char line[LINE_MAX_W + 1], tb[LINE_MAX_W + 1], rb[LINE_MAX_W + 1];
	int p, b, start = -1;

	width = clamp_width(width, len);
	if (name_w < 1)
		name_w = 1;
	if (name_w > NAME_MAX_W)
		name_w = NAME_MAX_W;
	p = link_prefix(line, sizeof(line), name_w,
			clean(name, sizeof(name), str(l, "name")),
			clean(state, sizeof(state), str(l, "state")),
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
	struct json_object *t = field(st, "total");
	char a[CELL], b[CELL], c[CELL], d[CELL];
	char line[LINE_MAX_W + 1];

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
	struct json_object *t = field(st, "total");
	char a[CELL], b[CELL], c[CELL];
	char line[LINE_MAX_W + 1];

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

/* --- braid top ---------------------------------------------------------- */

enum { PAIR_UP = 1, PAIR_STALLED, PAIR_DOWN, PAIR_BAR };

struct top {
	const char *path;
	double interval;
	struct json_object *req;
	struct json_object *status;	/* last good reply, NULL none */
	char problem[300];		/* why there is none */
	bool colour;
};

/* Set by the signal handlers, read by the loop (signals are blocked but
 * while it waits). */
static volatile sig_atomic_t top_quit, top_resized;

static void top_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_quit = 1;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void top_poll(struct top *t)
{
	struct json_object *resp = NULL;
	struct json_object *ok;
	char err[256];
	double timeout = t->interval < 2 ? t->interval : 2;

	json_object_put(t->status);
	t->status = NULL;
	if (ctl_call(t->path, t->req, &resp, timeout < 0.5 ? 0.5 : timeout,
		     err, sizeof(err)) < 0) {
		snprintf(t->problem, sizeof(t->problem),
			 "daemon not answering: %s", err);
		return;
	}
	ok = field(resp, "ok");
	if (!json_object_is_type(ok, json_type_boolean) ||
	    !json_object_get_boolean(ok)) {
		snprintf(t->problem, sizeof(t->problem), "daemon says: %s",
			 clean(err, sizeof(err), str(resp, "error")));
		json_object_put(resp);
		return;
	}
	t->problem[0] = '\0';
	t->status = resp;
}

static void colour_span(const struct top *t, int y, int x, int n, int pair)
{
	if (t->colour && x >= 0 && n > 0)
		mvchgat(y, x, n, pair == PAIR_BAR ? A_NORMAL : A_BOLD, pair,
			NULL);
}

static int state_pair(struct json_object *l)
{
	const char *s = str(l, "state");

	if (!s)
		return PAIR_DOWN;
	return !strcmp(s, "up") ? PAIR_UP :
	       !strcmp(s, "stalled") ? PAIR_STALLED : PAIR_DOWN;
}

/* Colours the '#' runs of line y from column x on. */
static void colour_bars(const struct top *t, int y, int x, const char *line)
{
	for (int i = x, run = 0; x >= 0; i++) {
		if (line[i] == '#') {
			run++;
			continue;
		}
		colour_span(t, y, i - run, run, PAIR_BAR);
		run = 0;
		if (!line[i])
			break;
	}
}

/* Rows 3 on: the links, as many as leave room for the totals and the
 * key help under them. */
static void top_draw_links(const struct top *t, int *y, int w)
{
	char line[LINE_MAX_W + 1];
	int name_w = view_name_width(t->status);
	double scale = view_scale(t->status);
	size_t n, rows;
	struct json_object *links = links_of(t->status, &n);

	attron(A_BOLD);
	mvaddstr((*y)++, 0, view_top_heads(line, sizeof(line), w, name_w));
	attroff(A_BOLD);
	rows = LINES - 4 > *y ? (size_t)(LINES - 4 - *y) : 0;
	for (size_t i = 0; i < n && i < rows; i++, (*y)++) {
		struct json_object *l = json_object_array_get_idx(links, i);
		int bars;

		if (i + 1 == rows && n > rows) {
			mvprintw((*y)++, 0, "(%zu more links)", n - i);
			break;
		}
		bars = view_top_link(line, sizeof(line), w, name_w, l, scale);
		mvaddstr(*y, 0, line);
		colour_span(t, *y, name_w + 1, VIEW_STATE_W, state_pair(l));
		colour_bars(t, *y, bars, line);
	}
	if (!n)
		mvaddstr((*y)++, 0, "(no links)");
}

static void top_draw(const struct top *t)
{
	char line[LINE_MAX_W + 1], clock[16];
	int w = COLS < LINE_MAX_W ? COLS : LINE_MAX_W, y = 2;
	time_t now = time(NULL);
	struct tm tm;

	erase();
	if (!localtime_r(&now, &tm) ||
	    !strftime(clock, sizeof(clock), "%H:%M:%S", &tm))
		clock[0] = '\0';
	attron(A_REVERSE);
	mvaddstr(0, 0, view_top_header(line, sizeof(line), w, t->status,
				       clock));
	attroff(A_REVERSE);
	if (t->problem[0]) {
		attron(A_BOLD | (t->colour ? COLOR_PAIR(PAIR_DOWN) : 0));
		mvaddstr(1, 0, t->problem);	/* wraps: no status below */
		attroff(A_BOLD | (t->colour ? COLOR_PAIR(PAIR_DOWN) : 0));
	}
	if (t->status) {
		top_draw_links(t, &y, w);
		mvaddstr(++y, 0, view_top_tunnel(line, sizeof(line), w,
						 t->status));
		mvaddstr(++y, 0, view_top_counters(line, sizeof(line), w,
						   t->status));
	}
	mvprintw(LINES - 1, 0, "%.*s", w, "q: quit");
	refresh();
}

static void top_colours(struct top *t)
{
	short bg = COLOR_BLACK;

	if (!has_colors() || start_color() == ERR)
		return;
	if (use_default_colors() == OK)
		bg = -1;
	init_pair(PAIR_UP, COLOR_GREEN, bg);
	init_pair(PAIR_STALLED, COLOR_YELLOW, bg);
	init_pair(PAIR_DOWN, COLOR_RED, bg);
	init_pair(PAIR_BAR, COLOR_CYAN, bg);
	t->colour = true;
}

static void top_resize(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row &&
	    ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);	/* what the terminal shows is unknown */
}

/* Whether the terminal can move the cursor (a "dumb" one cannot). */
static bool can_address(void)
{
	const char *cup = tigetstr("cup");

	return cup && cup != (const char *)-1;
}

/* Reads the keys waiting; false once it is time to quit. in_ok goes false
 * when the input is gone (readable but nothing comes). */
static bool top_keys(bool readable, bool *in_ok, bool *redraw)
{
	int ch, got = 0;

	while ((ch = getch()) != ERR) {
		got++;
		if (ch == 'q' || ch == 'Q' || ch == 3)
			return false;
		if (ch == KEY_RESIZE || ch == 12)	/* ^L */
			*redraw = true;
	}
	if (readable && !got)
		*in_ok = false;
	return true;
}

/* Draws until q or a signal; signals are blocked but while it waits. */
static void top_loop(struct top *t, const sigset_t *waitmask)
{
	double next = 0;
	bool in_ok = true, redraw = true;

	while (!top_quit) {
		struct pollfd pfd = { .fd = in_ok ? STDIN_FILENO : -1,
				      .events = POLLIN };
		double wait;
		struct timespec ts;
		int r;

		if (mono_now() >= next) {
			top_poll(t);
			next = mono_now() + t->interval;
			redraw = true;
		}
		if (top_resized) {
			top_resized = 0;
			top_resize();
			redraw = true;
		}
		if (redraw)
			top_draw(t);
		redraw = false;
		wait = next - mono_now();
		wait = wait > 0 ? wait : 0;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - ts.tv_sec) * 1e9);
		r = ppoll(&pfd, 1, &ts, waitmask);
		if (r > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			in_ok = false;
		if (!top_keys(r > 0 && (pfd.revents & POLLIN), &in_ok,
			      &redraw))
			break;
	}
}

int view_top(const char *ctl_path, double interval, char *err, size_t errlen)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGWINCH };
	struct sigaction sa = { .sa_handler = top_signal }, old[3];
	struct top t = { .path = ctl_path, .interval = interval };
	sigset_t block, oldmask, waitmask;
	SCREEN *scr;
	int e = 0;

	if (!isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "braid top draws on a terminal and "
			 "standard output is not one (braid status prints a "
			 "table)");
		return -ENOTTY;
	}
	if (!isfinite(t.interval) || t.interval < 0.1)
		t.interval = 1;
	t.req = json_object_new_object();
	if (!t.req || json_object_object_add(t.req, "cmd",
				json_object_new_string("status")) < 0) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto out_put;
	}
	/* ours before newterm, so that ncurses keeps its hands off them */
	top_quit = top_resized = 0;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigaction(sigs[i], &sa, &old[i]);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	waitmask = oldmask;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigdelset(&waitmask, sigs[i]);
	scr = newterm(NULL, stdout, stdin);
	if (!scr || !can_address()) {
		snprintf(err, errlen, "cannot draw on this terminal "
			 "(TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
		e = -ENOTTY;
		goto out_screen;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	top_colours(&t);
	top_loop(&t, &waitmask);
out_screen:
	if (scr) {
		endwin();
		delscreen(scr);
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
out_put:
	json_object_put(t.status);
	json_object_put(t.req);
	return e;
}
