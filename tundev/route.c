/* SPDX-License-Identifier: MIT */
/* Placeholder: being written (issue #6). */
#include <errno.h>

#include "tundev-int.h"

int tun_policy_new(struct tun_policy **out, const struct tun *t,
		   const struct tun_route_cfg *c)
{
	(void)out; (void)t; (void)c;
	return -ENOSYS;
}

void tun_policy_free(struct tun_policy *p)
{
	(void)p;
}
