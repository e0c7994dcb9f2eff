/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (issue #6). */
#include <errno.h>

#include "metrics.h"

int metrics_new(struct metrics **out, struct ev_loop *loop,
		const struct sockaddr *addr, socklen_t addr_len,
		metrics_fill fill, void *ctx)
{
	(void)out; (void)loop; (void)addr; (void)addr_len; (void)fill;
	(void)ctx;
	return -ENOSYS;
}

void metrics_free(struct metrics *m)
{
	(void)m;
}

int metrics_format(const struct report *r, FILE *f)
{
	(void)r; (void)f;
	return -EIO;
}
