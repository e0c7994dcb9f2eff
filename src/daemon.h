/* SPDX-License-Identifier: MIT */
/* The running daemon: TUN, links and scheduler joined on one loop. */
#ifndef BRAID_DAEMON_H
#define BRAID_DAEMON_H

#include "cfg.h"

/* Sets up, runs until SIGINT/SIGTERM, tears down. Returns 0 on a clean
 * stop, -1 if set-up failed (already logged, everything undone). Wipes
 * c->key once the links hold it. path is re-read on SIGHUP. */
int daemon_run(struct cfg *c, const char *path);

#endif
