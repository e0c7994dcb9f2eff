/* SPDX-License-Identifier: MIT */
/* Which packets are chosen traffic: UDP or TCP to or from a listed port,
 * read from the packet's IPv4 or IPv6 header (bounds-checked; anything
 * unusual is not chosen). */
#include <netinet/in.h>

#include "bytes.h"
#include "multiplexer-int.h"

/* The transport header of pkt if it is UDP or TCP and the packet is
 * not a later fragment; NULL otherwise. */
static const uint8_t *transport(const uint8_t *pkt, size_t len, size_t *off)
{
	uint8_t proto;

	if (len < 1)
		return NULL;
	switch (pkt[0] >> 4) {
	case 4:
		if (len < 20 || (pkt[0] & 0xf) < 5)
			return NULL;
		if (get_be16(pkt + 6) & 0x1fff)	/* fragment offset */
			return NULL;
		proto = pkt[9];
		*off = (size_t)(pkt[0] & 0xf) * 4;
		break;
	case 6:
		if (len < 40)
			return NULL;
		proto = pkt[6];
		*off = 40;
		break;
	default:
		return NULL;
	}
	if ((proto != IPPROTO_UDP && proto != IPPROTO_TCP) || *off + 4 > len)
		return NULL;
	return pkt + *off;
}

bool mux_chosen(const uint16_t *ports, size_t n, const uint8_t *pkt,
		size_t len)
{
	size_t off;
	const uint8_t *t = n ? transport(pkt, len, &off) : NULL;

	if (!t)
		return false;
	for (size_t i = 0; i < n; i++)
		if (get_be16(t) == ports[i] || get_be16(t + 2) == ports[i])
			return true;
	return false;
}
