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

#endif
