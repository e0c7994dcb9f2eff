/* SPDX-License-Identifier: MIT */
/* Unit tests for view: the `braid status` table from a real report_json()
 * reply and from odd JSON, the units, top's bars and lines at given
 * widths, and `braid top` itself on a pseudo-terminal against a fake
 * daemon. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "ctl.h"
#include "report.h"
#include "view-int.h"

/* --- a status reply ------------------------------------------------------ */

static void fill_link(struct report_link *l, uint16_t id, const char *name,
		      const char *type)
{
	l->id = id;
	l->type = type;
	snprintf(l->mux.name, sizeof(l->mux.name), "%s", name);
	snprintf(l->address, sizeof(l->address), "198.51.100.1:5555");
}

/* dsl: up, udp; a phone behind a CONNECT-only proxy: stalled, a stream;
 * lte: down, nothing measured. */
static void fill_report(struct report *r)
{
	struct report_link *l = r->links;

	memset(r, 0, sizeof(*r));
	snprintf(r->device, sizeof(r->device), "braid0");
	r->uptime = 812.4;
	r->session_age = 32.1;
	r->scheduler = "earliest";
	r->bonding = "aggregate";
	r->tun_drops = 4;
	r->tx_bps = 14.9e6;
	r->rx_bps = 3.3e6;
	r->mux.no_link = 5;
	r->mux.congested = 6;
	r->mux.reorder = (struct mux_reorder_stats){ .held = 1200, .late = 7,
						     .lost = 1, .dup = 8,
						     .early = 9 };
	r->nlinks = 3;

	fill_link(&l[0], 1, "dsl", "udp");
	snprintf(l[0].address, sizeof(l[0].address), "203.0.113.7:5555");
	l[0].mux.up = true;
	l[0].mux.srtt = 0.0213;
	l[0].mux.loss = 0.001;
	l[0].mux.rate = 1.9e6;
	l[0].tx_bps = 14.1e6;
	l[0].rx_bps = 800e3;
	l[0].lm.tx_bytes = 123456789;
	l[0].lm.rx_bytes = 2345678;
	l[0].lm.drops = 3;

	fill_link(&l[1], 2, "phone-with-long-name", "socks5-tcp");
	snprintf(l[1].proxy, sizeof(l[1].proxy), "192.168.1.52:1080");
	l[1].mux.up = true;
	l[1].mux.stalled = true;
	l[1].mux.stream = true;
	l[1].mux.rtt = 0.0805;
	l[1].mux.loss = 0.25;
	l[1].tx_bps = 0;
	l[1].rx_bps = 2.5e9;
	l[1].lm.tx_bytes = 5ull << 30;
	l[1].lm.rx_bytes = 512;
	l[1].mux.ctl_lost = 2;

	fill_link(&l[2], 3, "lte", "udp");
}

static struct json_object *sample(void)
{
	static struct report r;
	struct json_object *o;

	fill_report(&r);
	o = report_json(&r);
	ck_assert_ptr_nonnull(o);
	return o;
}

/* view_status into a string (the caller frees it). */
static char *status_text(struct json_object *st)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);

	ck_assert_ptr_nonnull(f);
	view_status(f, st);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

static char *status_of(const char *json)
{
	struct json_object *st = json_tokener_parse(json);
	char *text;

	ck_assert_msg(st || !strcmp(json, "null"), "bad test JSON: %s", json);
	text = status_text(st);
	json_object_put(st);
	return text;
}

/* The line of text starting with prefix, copied into line. */
static const char *line_of(const char *text, const char *prefix, char *line,
			   size_t len)
{
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		if (!strncmp(p, prefix, strlen(prefix))) {
			snprintf(line, len, "%.*s", (int)n, p);
			return line;
		}
		p += n + (p[n] == '\n');
	}
	ck_abort_msg("no line starting with '%s' in:\n%s", prefix, text);
	return NULL;
}

/* The cells of a table row: separated by two blanks or more. */
static int cells(const char *line, char out[][80], int max)
{
	int n = 0;

	while (*line && n < max) {
		const char *end = strstr(line, "  ");
		size_t len = end ? (size_t)(end - line) : strlen(line);

		snprintf(out[n++], 80, "%.*s", (int)len, line);
		line += len;
		while (*line == ' ')
			line++;
	}
	return n;
}

static void check_row(const char *text, const char *name,
		      const char *const *want, int nwant)
{
	char line[512], got[16][80];
	char prefix[64];
	int n;

	snprintf(prefix, sizeof(prefix), "%s ", name);
	n = cells(line_of(text, prefix, line, sizeof(line)), got, 16);
	ck_assert_msg(n == nwant, "row '%s': %d cells, want %d", line, n,
		      nwant);
	for (int i = 0; i < n; i++)
		ck_assert_msg(!strcmp(got[i], want[i]),
			      "row '%s': cell %d is '%s', want '%s'", line, i,
			      got[i], want[i]);
}

/* Column of the first occurrence of s in line (-1 none). */
static int col(const char *line, const char *s)
{
	const char *p = strstr(line, s);

	return p ? (int)(p - line) : -1;
}

/* --- braid status -------------------------------------------------------- */

START_TEST(status_rows)
{
	struct json_object *st = sample();
	char *t = status_text(st);
	static const char *const dsl[] = {
		"dsl", "up", "udp", "203.0.113.7:5555", "21.3 ms", "0.1%",
		"14.1 Mbit/s", "800.0 kbit/s", "117.7 MiB", "2.2 MiB", "3",
	};
	static const char *const phone[] = {
		"phone-with-long-name", "stalled", "socks5-tcp stream",
		"via 192.168.1.52:1080", "80.5 ms", "25.0%", "0 bit/s",
		"2.5 Gbit/s", "5.0 GiB", "512 B", "2",
	};
	static const char *const lte[] = {
		"lte", "down", "udp", "198.51.100.1:5555", "-", "0.0%",
		"0 bit/s", "0 bit/s", "0 B", "0 B", "0",
	};

	check_row(t, "dsl", dsl, 11);
	check_row(t, "phone-with-long-name", phone, 11);
	check_row(t, "lte", lte, 11);
	free(t);
	json_object_put(st);
}
END_TEST

START_TEST(status_header_totals)
{
	struct json_object *st = sample();
	char *t = status_text(st);
	char line[512];

	line_of(t, "version " BRAID_VERSION "  mode slave  device braid0  "
		"uptime 13m 32s  session 32s", line, sizeof(line));
	line_of(t, "scheduler earliest  bonding aggregate", line, sizeof(line));
	ck_assert_str_eq(line_of(t, "tunnel ", line, sizeof(line)),
			 "tunnel   sent 5.1 GiB (14.9 Mbit/s), received "
			 "2.2 MiB (3.3 Mbit/s)");
	ck_assert_str_eq(line_of(t, "drops ", line, sizeof(line)),
			 "drops    tun 4, no link 5, congested 6");
	ck_assert_str_eq(line_of(t, "reorder ", line, sizeof(line)),
			 "reorder  held 1200, late 7, lost 1, dup 8, early 9");
	free(t);
	json_object_put(st);
}
END_TEST

/* Every row's cells start (left-aligned) or end (right-aligned) where
 * their head does, however long the name. */
START_TEST(status_columns_align)
{
	struct json_object *st = sample();
	char *t = status_text(st);
	char head[512], row[512], row2[512];
	int addr, drops_end;

	line_of(t, "LINK ", head, sizeof(head));
	line_of(t, "phone-with-long-name ", row, sizeof(row));
	line_of(t, "dsl ", row2, sizeof(row2));
	ck_assert_int_eq(col(head, "STATE"), strlen("phone-with-long-name  "));
	addr = col(head, "ADDRESS");
	ck_assert_int_eq(col(row, "via 192.168.1.52:1080"), addr);
	ck_assert_int_eq(col(row2, "203.0.113.7:5555"), addr);
	drops_end = col(head, "DROPS") + 5;
	ck_assert_int_eq(strlen(row), drops_end);
	ck_assert_int_eq(strlen(row2), drops_end);
	ck_assert_int_eq(col(row2, "14.1 Mbit/s") + strlen("14.1 Mbit/s"),
			 col(head, "UP") + 2);
	free(t);
	json_object_put(st);
}
END_TEST

START_TEST(status_session_none)
{
	char *t = status_of("{\"session_age_s\": -1, \"links\": []}");

	ck_assert_ptr_nonnull(strstr(t, "session none yet"));
	ck_assert_ptr_nonnull(strstr(t, "(no links)"));
	free(t);
}
END_TEST

/* Replies a daemon would never send: nothing crashes, the holes are "-". */
START_TEST(status_odd_json)
{
	static const char *const odd[] = {
		"null", "{}", "[]", "42", "\"status\"",
		"{\"links\": 5, \"total\": \"x\", \"mode\": 3}",
		"{\"links\": {}, \"total\": [], \"uptime_s\": \"long\"}",
		"{\"links\": [null, 3, \"x\", [], {}], \"total\": null}",
		"{\"links\": [{\"name\": 7, \"state\": null, \"rtt_ms\": \"fast\","
		" \"loss\": true, \"tx_bps\": -5, \"tx_bytes\": {\"a\": 1},"
		" \"drops\": \"many\", \"stream\": 1, \"proxy\": 9}]}",
		"{\"uptime_s\": 1e308, \"session_age_s\": -1e308, \"links\":"
		" [{\"name\": \"x\", \"rtt_ms\": 1e308, \"loss\": 1e308,"
		" \"tx_bps\": 1e308, \"rx_bps\": -1e308, \"tx_bytes\": 1e308,"
		" \"drops\": 1e300}], \"total\": {\"held\": -3, \"lost\":"
		" 18446744073709551615, \"tx_bytes\": 1e308}}",
		"{\"ok\": true, \"links\": [{\"name\": \"\"}], \"version\": \"\"}",
	};

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		char *t = status_of(odd[i]);

		ck_assert_msg(strstr(t, "version ") && strstr(t, "LINK  "),
			      "no header for %s:\n%s", odd[i], t);
		ck_assert_msg(strstr(t, "tunnel   sent "), "no totals for %s",
			      odd[i]);
		free(t);
	}
}
END_TEST

START_TEST(status_odd_values_dash)
{
	char *t = status_of("{\"links\": [{\"name\": \"odd\", \"state\": 1,"
			    " \"rtt_ms\": \"fast\", \"loss\": true,"
			    " \"tx_bps\": -5, \"rx_bps\": null,"
			    " \"tx_bytes\": {\"a\": 1}, \"rx_bytes\": [1],"
			    " \"drops\": \"many\", \"address\": 4}],"
			    " \"total\": {\"tun_drops\": \"x\"}}");
	static const char *const want[] = {
		"odd", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
	};
	static const char *const dashes[] = {
		"-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
	};
	char line[512];

	check_row(t, "odd", want, 11);
	line_of(t, "version -  mode -  device -  uptime -  session -", line,
		sizeof(line));
	ck_assert_str_eq(line_of(t, "drops ", line, sizeof(line)),
			 "drops    tun -, no link -, congested -");
	free(t);
	t = status_of("{\"links\": [null]}");
	check_row(t, "-", dashes, 11);
	free(t);
}
END_TEST

START_TEST(status_hostile_strings)
{
	char name[600];
	char json[1000];
	char *t;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(json, sizeof(json), "{\"links\": [{\"name\": \"%s\","
		 " \"state\": \"u\\u001b[2Jp\\n\"}]}", name);
	t = status_of(json);
	ck_assert_ptr_null(strchr(t, '\033'));
	ck_assert_ptr_nonnull(strstr(t, "u?[2Jp?"));
	/* the name is cut at 64 characters */
	memset(name, 'n', 64);
	strcpy(name + 64, "  ");
	ck_assert_ptr_nonnull(strstr(t, name));
	free(t);
}
END_TEST

START_TEST(status_error_reply)
{
	char *t = status_of("{\"ok\": false, \"error\": \"no link named x\"}");

	ck_assert_str_eq(t, "the daemon says: no link named x\n");
	free(t);
	t = status_of("{\"ok\": false, \"error\": 5}");
	ck_assert_str_eq(t, "the daemon says: -\n");
	free(t);
}
END_TEST

/* --- units --------------------------------------------------------------- */

START_TEST(fmt_rate)
{
	char b[32];

	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 0), "0 bit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 999), "999 bit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 999.6), "1.0 kbit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 800e3), "800.0 kbit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 14.1e6), "14.1 Mbit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 999.97e6), "1.0 Gbit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), 2.5e9), "2.5 Gbit/s");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), -1), "-");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), NAN), "-");
	ck_assert_str_eq(view_fmt_rate(b, sizeof(b), INFINITY), "-");
	ck_assert_str_eq(view_fmt_rate(b, 5, 14.1e6), "14.1");
	ck_assert_str_eq(view_fmt_rate(b, 1, 14.1e6), "");
	/* nothing written into no room */
	b[0] = 'x';
	view_fmt_rate(b, 0, NAN);
	view_fmt_bytes(b, 0, 1);
	view_top_link(b, 0, 80, 8, NULL, 1);
	view_top_header(b, 0, 80, NULL, "12:00:00");
	view_top_tunnel(b, 0, 80, NULL);
	ck_assert_int_eq(b[0], 'x');
}
END_TEST

START_TEST(fmt_bytes)
{
	char b[32];

	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 0), "0 B");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 1023), "1023 B");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 1024), "1.0 KiB");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 2345678), "2.2 MiB");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 123456789),
			 "117.7 MiB");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 5.0 * (1 << 30)),
			 "5.0 GiB");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), 1.5 * (1ull << 40)),
			 "1.5 TiB");
	ck_assert_str_eq(view_fmt_bytes(b, sizeof(b), NAN), "-");
}
END_TEST

START_TEST(fmt_duration)
{
	char b[32];

	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), 0), "0s");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), 59.9), "59s");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), 812.4), "13m 32s");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), 7500), "2h 05m");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), 3 * 86400 + 4 * 3600
					   + 5), "3d 04h");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), -1), "-");
	ck_assert_str_eq(view_fmt_duration(b, sizeof(b), NAN), "-");
	ck_assert_str_eq(view_fmt_duration(b, 4, 1e300), "115"); /* cut */
}
END_TEST

/* --- bars and top's lines ------------------------------------------------ */

#define ck_prefix(s, p) \
	ck_assert_msg(!strncmp((s), (p), strlen(p)), "'%s' does not start " \
		      "with '%s'", (s), (p))

static int count(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

START_TEST(bar_fill)
{
	char b[64];

	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 5, 10), "#####     ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 0, 10), "          ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 10, 10), "##########");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 25, 10), "##########");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 0.04, 1), "          ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 0.06, 1), "#         ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 4, 14.1e6, 20e6), "### ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, NAN, 10), "          ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, 5, 0), "          ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 10, -5, 10), "          ");
	ck_assert_str_eq(view_bar(b, sizeof(b), 0, 5, 10), "");
	ck_assert_str_eq(view_bar(b, sizeof(b), -3, 5, 10), "");
	/* never past the buffer */
	view_bar(b, 8, 100, 1, 1);
	ck_assert_str_eq(b, "#######");
	for (int w = 1; w <= 60; w++) {
		view_bar(b, sizeof(b), w, 1, 3);
		ck_assert_int_eq(strlen(b), w);
		ck_assert_int_eq(count(b, '#'), (int)lround(w / 3.0));
	}
}
END_TEST

START_TEST(scale_and_names)
{
	struct json_object *st = sample();
	struct json_object *odd = json_tokener_parse(
		"{\"links\": [{\"name\": \"abcdefghijklmnopqrstuvwxyz0123\","
		" \"tx_bps\": \"9e9\", \"capacity_bps\": 5}, 3, null]}");

	ck_assert_double_eq(view_scale(st), 2.5e9);
	ck_assert_int_eq(view_name_width(st), strlen("phone-with-long-name"));
	ck_assert_double_eq(view_scale(odd), 5);
	ck_assert_int_eq(view_name_width(odd), 24);
	ck_assert_double_eq(view_scale(NULL), 1);
	ck_assert_int_eq(view_name_width(NULL), 4);
	json_object_put(odd);
	json_object_put(st);
}
END_TEST

static struct json_object *link_n(struct json_object *st, size_t i)
{
	struct json_object *links;

	ck_assert(json_object_object_get_ex(st, "links", &links));
	return json_object_array_get_idx(links, i);
}

/* The line is exactly as wide as asked, state at name_w + 1, and the bars
 * as full as the rates say. */
START_TEST(top_link_widths)
{
	struct json_object *st = sample();
	struct json_object *dsl = link_n(st, 0);
	char b[2048];

	for (int w = 0; w <= 300; w++) {
		int start = view_top_link(b, sizeof(b), w, 8, dsl, 20e6);

		ck_assert_int_eq(strlen(b), w);
		if (w >= 8)
			ck_prefix(b, "dsl     ");
		if (start < 0)
			continue;
		ck_assert_int_eq(b[start - 1], '[');
		{
			const char *end = strchr(b + start, ']');
			int bw = (int)(end - (b + start));
			char bar[512];

			ck_assert_int_ge(bw, 4);
			snprintf(bar, sizeof(bar), "%.*s", bw, b + start);
			ck_assert_int_eq(count(bar, '#'),
					 (int)lround(14.1 / 20 * bw));
			ck_assert_int_eq(count(bar, ' '),
					 bw - (int)lround(14.1 / 20 * bw));
		}
	}
	ck_assert_int_eq(view_top_link(b, sizeof(b), 100, 8, dsl, 20e6), 38);
	ck_assert_str_eq(b, "dsl      up        21.3 ms   0.1%"
			 " tx [##########    ]  14.1 Mbit/s"
			 " rx [#             ] 800.0 kbit/s ");
	ck_assert_int_eq(view_top_link(b, 40, 100, 8, dsl, 20e6), -1);
	ck_assert_int_eq(strlen(b), 39);
	/* the state column, cut names */
	view_top_link(b, sizeof(b), 80, 5, link_n(st, 1), 2.5e9);
	ck_prefix(b, "phone stalled");
	json_object_put(st);
}
END_TEST

START_TEST(top_link_narrow_and_odd)
{
	struct json_object *st = sample();
	struct json_object *odd = json_tokener_parse("[1, {\"state\": 2}]");
	char b[256];

	/* no room for bars: rates only, then nothing */
	ck_assert_int_eq(view_top_link(b, sizeof(b), 70, 8, link_n(st, 0),
				       20e6), -1);
	ck_assert_ptr_nonnull(strstr(b, "tx  14.1 Mbit/s rx 800.0 kbit/s"));
	ck_assert_int_eq(view_top_link(b, sizeof(b), 40, 8, link_n(st, 0),
				       20e6), -1);
	ck_assert_str_eq(b, "dsl      up        21.3 ms   0.1%       ");
	ck_assert_int_eq(view_top_link(b, sizeof(b), 100, 8, NULL, 0), 38);
	ck_prefix(b, "-        -               -      - tx [");
	ck_assert_int_eq(count(b, '#'), 0);
	view_top_link(b, sizeof(b), 100, 0, json_object_array_get_idx(odd, 1),
		      NAN);
	ck_assert_int_eq(strlen(b), 100);
	view_top_link(b, sizeof(b), 100, 1000,
		      json_object_array_get_idx(odd, 0), -1);
	ck_assert_int_eq(strlen(b), 100);
	json_object_put(odd);
	json_object_put(st);
}
END_TEST

START_TEST(top_other_lines)
{
	struct json_object *st = sample(), *odd;
	char b[256];

	view_top_header(b, sizeof(b), 100, st, "12:34:56");
	ck_assert_int_eq(strlen(b), 100);
	ck_prefix(b, "braid " BRAID_VERSION "  slave braid0  up 13m "
			   "32s  session 32s  earliest/aggregate");
	ck_assert_str_eq(b + 92, "12:34:56");
	view_top_header(b, sizeof(b), 30, st, "12:34:56");
	ck_assert_str_eq(b, "braid " BRAID_VERSION "  slave braid0  up ");
	view_top_header(b, sizeof(b), 60, NULL, "12:34:56");
	ck_prefix(b, "braid top     ");
	ck_assert_str_eq(b + 52, "12:34:56");
	odd = json_tokener_parse("{\"mode\": 1}");
	view_top_header(b, sizeof(b), 60, odd, NULL);
	ck_prefix(b, "braid -  - -  up -  session -  -/-   ");
	ck_assert_int_eq(strlen(b), 60);
	json_object_put(odd);

	view_top_heads(b, sizeof(b), 100, 8);
	ck_prefix(b, "LINK     STATE         RTT   LOSS THROUGHPUT");
	ck_assert_int_eq(strlen(b), 100);

	view_top_tunnel(b, sizeof(b), 100, st);
	ck_assert_int_eq(strlen(b), 100);
	ck_prefix(b, "tunnel  tx 14.9 Mbit/s  5.1 GiB total   rx "
			   "3.3 Mbit/s  2.2 MiB total   ");
	view_top_counters(b, sizeof(b), 100, st);
	ck_prefix(b, "drops   tun 4  no link 5  congested 6   "
			   "reorder held 1200  late 7  lost 1  dup 8");
	view_top_counters(b, 10, 100, NULL);
	ck_assert_str_eq(b, "drops   t");
	json_object_put(st);
}
END_TEST

START_TEST(top_not_a_terminal)
{
	char err[256] = "";
	int out = dup(STDOUT_FILENO);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(out, 0);
	ck_assert_int_ge(null, 0);
	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	ck_assert_int_eq(view_top("/nonexistent/braid.sock", 1, err,
				  sizeof(err)), -ENOTTY);
	dup2(out, STDOUT_FILENO);
	close(out);
	close(null);
	ck_assert_ptr_nonnull(strstr(err, "not"));
	ck_assert_ptr_nonnull(strstr(err, "terminal"));
}
END_TEST

/* --- top on a pseudo-terminal --------------------------------------------- */

struct pty_run {
	int master;
	pid_t pid;
	char out[1 << 18];	/* what top drew since the last clear */
	size_t len;
};

static char sock_dir[64];
static char sock_path[128];

static struct json_object *fake_status(void *ctx, struct json_object *req)
{
	struct json_object *cmd;

	(void)ctx;
	if (!json_object_object_get_ex(req, "cmd", &cmd) ||
	    strcmp(json_object_get_string(cmd), "status"))
		return ctl_reply_error("no such command");
	return sample();
}

/* Starts view_top(path) in a child on a new pseudo-terminal of rows x
 * cols. */
static void pty_start(struct pty_run *r, const char *path, int rows,
		      int cols)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	char *slave;

	r->len = 0;
	r->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	ck_assert_int_ge(r->master, 0);
	ck_assert_int_eq(grantpt(r->master), 0);
	ck_assert_int_eq(unlockpt(r->master), 0);
	ck_assert_int_eq(ioctl(r->master, TIOCSWINSZ, &ws), 0);
	slave = ptsname(r->master);
	ck_assert_ptr_nonnull(slave);
	fflush(NULL);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		char err[256] = "";
		int fd, e;

		setsid();
		fd = open(slave, O_RDWR);	/* the controlling terminal */
		if (fd < 0)
			_exit(3);
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		setenv("TERM", "xterm", 1);
		e = view_top(path, 0.2, err, sizeof(err));
		if (e < 0)
			dprintf(STDOUT_FILENO, "view_top: %s\n", err);
		_exit(e < 0 ? 1 : 0);
	}
}

/* Reads what top draws (and serves the fake daemon) until the output
 * holds every one of words or secs pass. */
static bool pty_wait(struct pty_run *r, struct ev_loop *loop,
		     const char *const *words, double secs)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = r->master, .events = POLLIN };
		bool all = true;

		if (loop)
			ev_run(loop, EVRUN_NOWAIT);
		if (poll(&p, 1, 10) > 0) {
			ssize_t n = read(r->master, r->out + r->len,
					 sizeof(r->out) - 1 - r->len);

			if (n > 0)
				r->len += n;
			r->out[r->len] = '\0';
		}
		for (const char *const *w = words; *w; w++)
			all = all && memmem(r->out, r->len, *w, strlen(*w));
		if (all)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec +
		    (t.tv_nsec - t0.tv_nsec) / 1e9 > secs)
			return false;
	}
}

/* Waits (serving the daemon) for the child to exit; its status. */
static int pty_exit(struct pty_run *r, struct ev_loop *loop)
{
	static const char *const none[] = { "\x01never\x01", NULL };
	int st = 0;

	for (int i = 0; i < 500; i++) {
		pid_t p = waitpid(r->pid, &st, WNOHANG);

		if (p == r->pid) {
			pty_wait(r, loop, none, 0.05);	/* drain */
			close(r->master);
			return st;
		}
		pty_wait(r, loop, none, 0.01);
	}
	kill(r->pid, SIGKILL);
	waitpid(r->pid, &st, 0);
	close(r->master);
	ck_abort_msg("top did not exit; it drew:\n%.*s", (int)r->len, r->out);
	return -1;
}

static void sock_setup(void)
{
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/braid-test-view-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(sock_dir));
	snprintf(sock_path, sizeof(sock_path), "%s/braid.sock", sock_dir);
}

static void sock_teardown(void)
{
	unlink(sock_path);
	rmdir(sock_dir);
}

/* No daemon: top says so, keeps going, and q ends it with the terminal
 * given back (xterm's rmcup leaves the alternate screen). */
START_TEST(top_pty_no_daemon)
{
	static struct pty_run r;
	static const char *const words[] = { "daemon", "answering", NULL };
	static const char *const restored[] = { "\033[?1049l", NULL };
	int st;

	pty_start(&r, sock_path, 24, 80);
	ck_assert_msg(pty_wait(&r, NULL, words, 5), "top drew:\n%s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\033[?1049h"));
	ck_assert_ptr_null(strstr(r.out, "\033[?1049l"));
	r.len = 0;
	ck_assert_int_eq(write(r.master, "q", 1), 1);
	ck_assert(pty_wait(&r, NULL, restored, 5));
	st = pty_exit(&r, NULL);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
END_TEST

/* A daemon: every link, its state and the tunnel line; a resize redraws;
 * SIGTERM ends it cleanly too. */
START_TEST(top_pty_daemon)
{
	static struct pty_run r;
	static const char *const words[] = {
		"dsl", "phone-with-long-name", "lte", "stalled", "down",
		"tunnel", "14.1 Mbit/s", "held 1200", NULL,
	};
	static const char *const again[] = { "tunnel", "dsl", NULL };
	static const char *const restored[] = { "\033[?1049l", NULL };
	struct winsize ws = { .ws_row = 30, .ws_col = 120 };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct ctl *c = NULL;
	int st;

	ck_assert_int_eq(ctl_new(&c, loop, sock_path, fake_status, NULL), 0);
	pty_start(&r, sock_path, 24, 100);
	ck_assert_msg(pty_wait(&r, loop, words, 5), "top drew:\n%s", r.out);
	ck_assert_ptr_null(strstr(r.out, "answering"));
	r.len = 0;
	ck_assert_int_eq(ioctl(r.master, TIOCSWINSZ, &ws), 0);
	ck_assert_msg(pty_wait(&r, loop, again, 5), "after resize:\n%s", r.out);
	r.len = 0;
	kill(r.pid, SIGTERM);
	ck_assert(pty_wait(&r, loop, restored, 5));
	st = pty_exit(&r, loop);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ctl_free(c);
	ev_loop_destroy(loop);
}
END_TEST

/* The daemon goes away under top and comes back: top follows. */
START_TEST(top_pty_daemon_restarts)
{
	static struct pty_run r;
	static const char *const up[] = { "dsl", "tunnel", NULL };
	static const char *const gone[] = { "daemon", "answering", NULL };
	static const char *const restored[] = { "\033[?1049l", NULL };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct ctl *c = NULL;
	int st;

	ck_assert_int_eq(ctl_new(&c, loop, sock_path, fake_status, NULL), 0);
	pty_start(&r, sock_path, 24, 100);
	ck_assert_msg(pty_wait(&r, loop, up, 5), "top drew:\n%s", r.out);
	ctl_free(c);
	c = NULL;
	ck_assert_msg(pty_wait(&r, loop, gone, 5), "top drew:\n%s", r.out);
	r.len = 0;
	ck_assert_int_eq(ctl_new(&c, loop, sock_path, fake_status, NULL), 0);
	ck_assert_msg(pty_wait(&r, loop, up, 5), "top drew:\n%s", r.out);
	ck_assert_int_eq(write(r.master, "Q", 1), 1);
	ck_assert(pty_wait(&r, loop, restored, 5));
	st = pty_exit(&r, loop);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ctl_free(c);
	ev_loop_destroy(loop);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("view");
	TCase *tc = tcase_create("status");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, status_rows);
	tcase_add_test(tc, status_header_totals);
	tcase_add_test(tc, status_columns_align);
	tcase_add_test(tc, status_session_none);
	tcase_add_test(tc, status_odd_json);
	tcase_add_test(tc, status_odd_values_dash);
	tcase_add_test(tc, status_hostile_strings);
	tcase_add_test(tc, status_error_reply);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_test(tc, fmt_rate);
	tcase_add_test(tc, fmt_bytes);
	tcase_add_test(tc, fmt_duration);
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_test(tc, bar_fill);
	tcase_add_test(tc, scale_and_names);
	tcase_add_test(tc, top_link_widths);
	tcase_add_test(tc, top_link_narrow_and_odd);
	tcase_add_test(tc, top_other_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("top");
	tcase_add_checked_fixture(tc, sock_setup, sock_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, top_not_a_terminal);
	tcase_add_test(tc, top_pty_no_daemon);
	tcase_add_test(tc, top_pty_daemon);
	tcase_add_test(tc, top_pty_daemon_restarts);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
