/* SPDX-License-Identifier: MIT */
/* view internals shared by view.c and top.c and tested by test_view.c:
 * reading the status reply, the units, and top's bars and lines. */
#ifndef BRAID_VIEW_INT_H
#define BRAID_VIEW_INT_H

#include "view.h"

/* A line of top is at most this many columns. */
#define VIEW_LINE_W 1023

/* Reading the reply, trusting it for nothing: the value under k, NULL when
 * o is no object or has no k. */
struct json_object *view_field(struct json_object *o, const char *k);
/* The string under k, NULL if there is none or it is empty. */
const char *view_str(struct json_object *o, const char *k);
/* The "links" array of status and its length in *n (0 when it is none). */
struct json_object *view_links(struct json_object *status, size_t *n);
/* s with anything but printable ASCII as '?' ("-" for NULL) into buf,
 * cut to fit; returns buf. */
const char *view_clean(char *buf, size_t len, const char *s);

/* The pieces of both views: pure, no terminal needed (the tests use them).
 * Each writes a NUL-terminated string into buf (len bytes, truncated to
 * fit) and returns buf. A value that is not a finite number >= 0 is "-". */

/* "512 bit/s", "800.0 kbit/s", "14.1 Mbit/s", "1.2 Gbit/s". */
const char *view_fmt_rate(char *buf, size_t len, double bps);
/* "512 B", "2.2 MiB", "117.7 MiB", "1.5 GiB". */
const char *view_fmt_bytes(char *buf, size_t len, double bytes);
/* "45s", "13m 32s", "2h 05m", "3d 04h". */
const char *view_fmt_duration(char *buf, size_t len, double s);

/* A bar of width cells: '#' for value's share of scale (rounded, at most
 * width), ' ' for the rest; all blank when either is not a number > 0. */
const char *view_bar(char *buf, size_t len, int width, double value,
		     double scale);

/* What top's bars are scaled to: the largest capacity_bps, tx_bps or
 * rx_bps of any link, at least 1. */
double view_scale(struct json_object *status);
/* Width of the name column: the longest link name, 4 to 24. */
int view_name_width(struct json_object *status);

/* top's lines, each exactly width columns (padded with blanks, cut when
 * longer; at most len - 1). */
/* "braid 0.2.0  slave braid0  up 13m 32s ..." with clock at the right
 * ("braid top" and the clock when status is no object). */
const char *view_top_header(char *buf, size_t len, int width,
			    struct json_object *status, const char *clock);
/* The column heads over view_top_link's lines. */
const char *view_top_heads(char *buf, size_t len, int width, int name_w);
/* One link: name (name_w columns), state (at column name_w + 1,
 * VIEW_STATE_W wide), RTT, loss, then a tx and an rx bar (scaled to scale
 * bits/s) with their rates. Returns the column where the first bar
 * starts, or -1 when there is no room for bars. */
#define VIEW_STATE_W 7
int view_top_link(char *buf, size_t len, int width, int name_w,
		  struct json_object *link, double scale);
/* "tunnel  tx 14.1 Mbit/s  117.7 MiB   rx ..." */
const char *view_top_tunnel(char *buf, size_t len, int width,
			    struct json_object *status);
/* "drops  tun 0  no link 0  congested 0   reorder  held ..." */
const char *view_top_counters(char *buf, size_t len, int width,
			      struct json_object *status);

#endif
