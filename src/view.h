/* SPDX-License-Identifier: MIT */
/* What people see of a running daemon: the `braid status` table and the
 * live `braid top` view (ncurses), both from the status reply. */
#ifndef BRAID_VIEW_H
#define BRAID_VIEW_H

#include <stddef.h>
#include <stdio.h>

#include <json-c/json.h>

/* Prints a status reply (docs/CONTROL.md) as a readable table. Whatever
 * is missing or of the wrong type shows as "-". */
void view_status(FILE *f, struct json_object *status);

/* Asks the daemon on ctl_path for its status every interval s and draws
 * it full-screen until q, Q or Ctrl-C; the terminal is restored. While the
 * daemon does not answer it says so and keeps asking. Returns 0, or -errno
 * with err set (-ENOTTY: stdout is not a terminal). */
int view_top(const char *ctl_path, double interval, char *err, size_t errlen);

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
/* "braid 0.1.0  slave braid0  up 13m 32s ..." with clock at the right
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
