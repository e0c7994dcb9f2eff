/* SPDX-License-Identifier: MIT */
/* on_up / on_down: shell commands run as root with the tunnel's details
 * in their environment, and the keeper, a small root process that
 * outlives the daemon's privileges to clean up after it. */
#ifndef BRAID_HOOK_H
#define BRAID_HOOK_H

#include <sys/types.h>

#include "cfg.h"

#define HOOK_VARS 7

/* BRAID_DEVICE, BRAID_MODE, BRAID_ADDRESSES, BRAID_MTU, BRAID_LINKS,
 * BRAID_CONFIG as "NAME=value" strings. */
struct hook_env {
	char *vars[HOOK_VARS];	/* NULL-terminated */
	char buf[4096];
};

void hook_env_fill(struct hook_env *e, const struct cfg *c,
		   const char *device, const char *config_path);

/* Runs cmd with /bin/sh -c and e added to the environment, and waits.
 * Returns its exit status (0..255, 128 + signal), or -errno if it could
 * not run. what names it in the log ("on_up"). */
int hook_run(const char *what, const char *cmd, const struct hook_env *e);

/* Forks the keeper, which holds no descriptor of the daemon but one end
 * of a socket pair (*chan is the daemon's). While the daemon runs, the
 * keeper reads the config file cfg_path for it on request (the daemon
 * itself may no longer be allowed to). When the daemon ends, however it
 * ends, the keeper removes braid's routing rules and routes (if any),
 * the control socket (if it is still a socket) and runs on_down (if not
 * ""), then exits. It ignores SIGINT, SIGTERM
 * and SIGHUP, which reach it together with the daemon. 0 or -errno. */
struct hook_keeper {
	const char *on_down;		/* "" none */
	struct hook_env env;
	const char *ctl_path;
	const char *cfg_path;
	const struct tun_route_cfg *routes;	/* swept at the end; NULL */
};

int hook_keeper_start(const struct hook_keeper *k, int *chan);

/* Asks the keeper for the config file's text; NULL with err set. The
 * caller wipes and frees it. */
char *hook_keeper_config(int chan, char *err, size_t errlen);

#endif
