/* SPDX-License-Identifier: MIT */
/* Address parsing shared by the test tools (flood, udpflip). */
#ifndef BRAID_TOOLS_ADDR_H
#define BRAID_TOOLS_ADDR_H

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* "1.2.3.4:5", "[::1]:5" or "host:5" into a socket address; 0 or -1
 * (after saying why, prefixed with prog). */
static int parse_addr(const char *prog, const char *arg,
		      struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(arg, ':');
	const char *h = arg;
	size_t hlen;
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res;
	int rc;

	if (!colon || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - arg);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	rc = getaddrinfo(host, colon + 1, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, arg, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

#endif
