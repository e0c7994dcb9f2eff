/* SPDX-License-Identifier: MIT */
/* Config internals shared by cfg.c, cfg_link.c and cfg_run.c: the parse
 * context and the typed getters that report file, line and setting. */
#ifndef BRAID_CFG_INT_H
#define BRAID_CFG_INT_H

#include <libconfig.h>

#include "cfg.h"

/* Parse state: where errors go and which file they name. */
struct cfg_ctx {
	const char *path;
	char *err;
	size_t errlen;
	bool reload;		/* the key is not read again */
	const struct cfg *running;	/* reload: the config braid runs */
};

int cfg_fail(struct cfg_ctx *x, const config_setting_t *s, const char *fmt,
	     ...) __attribute__((format(printf, 3, 4)));
/* child is a setting missing from parent. */
int cfg_missing(struct cfg_ctx *x, const config_setting_t *parent,
		const char *child, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Getters leave *out alone (strings: NULL) when the setting is absent. */
int cfg_get_string(struct cfg_ctx *x, const config_setting_t *parent,
		   const char *name, const char **out);
int cfg_get_number(struct cfg_ctx *x, const config_setting_t *parent,
		   const char *name, double lo, double hi, double *out);
int cfg_get_bool(struct cfg_ctx *x, const config_setting_t *parent,
		 const char *name, bool *out);
/* A setting that is one of words (NULL after the last): *idx is which,
 * 0 (the default) when it is absent. */
int cfg_get_choice(struct cfg_ctx *x, const config_setting_t *parent,
		   const char *name, const char *const *words, unsigned *idx);
int cfg_check_known(struct cfg_ctx *x, const config_setting_t *group,
		    const char *const *known);

/* cfg_link.c: links = ( ... ) of a slave. */
int cfg_load_links(struct cfg_ctx *x, const config_setting_t *root,
		   struct cfg *c);
/* cfg_run.c: routing, hooks and metrics. */
int cfg_load_run(struct cfg_ctx *x, const config_setting_t *root,
		 struct cfg *c);

#endif
