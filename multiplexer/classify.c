/* SPDX-License-Identifier: MIT */
/* What the IP header says about a packet: whether it is chosen traffic
 * (UDP or TCP to or from a listed port) and which flow it belongs to;
 * bounds-checked, anything unusual is not chosen and shares one flow. */
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "bytes.h"
#include "multiplexer-int.h"

/* The transport header of pkt if it is UDP or TCP (*proto says which)
 * and the packet is not a later fragment; NULL otherwise. */
static const uint8_t *transport(const uint8_t *pkt, size_t len, size_t *off,
				uint8_t *proto)
{
	if (len < 1)
		return NULL;
	switch (pkt[0] >> 4) {
	case 4:
		if (len < 20 || (pkt[0] & 0xf) < 5)
			return NULL;
		if (get_be16(pkt + 6) & 0x1fff)	/* fragment offset */
			return NULL;
		*proto = pkt[9];
		*off = (size_t)(pkt[0] & 0xf) * 4;
		break;
	case 6:
		if (len < 40)
			return NULL;
		*proto = pkt[6];
		*off = 40;
		break;
	default:
		return NULL;
	}
	if ((*proto != IPPROTO_UDP && *proto != IPPROTO_TCP) || *off + 4 > len)
		return NULL;
	return pkt + *off;
}

bool mux_chosen(const uint16_t *ports, size_t n, const uint8_t *pkt,
		size_t len)
{
	size_t off;
	uint8_t proto;
	const uint8_t *t = n ? transport(pkt, len, &off, &proto) : NULL;

	if (!t)
		return false;
	for (size_t i = 0; i < n; i++)
		if (get_be16(t) == ports[i] || get_be16(t + 2) == ports[i])
			return true;
	return false;
}

/* FNV-1a over n bytes, continuing h. */
static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

unsigned mux_flow_bucket(const uint8_t *pkt, size_t len)
{
	uint32_t h = 2166136261u;
	size_t off;
	uint8_t proto;
	const uint8_t *t;

	if (mux_hc_len(pkt, len))	/* the context is the flow's bucket */
		return get_be16(pkt + 1) >> 6;
	if (len >= 20 && pkt[0] >> 4 == 4) {
		h = fnv(h, pkt + 9, 1);		/* protocol */
		h = fnv(h, pkt + 12, 8);	/* source, destination */
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		h = fnv(h, pkt + 6, 1);
		h = fnv(h, pkt + 8, 32);
	} else {
		return 0;
	}
	t = transport(pkt, len, &off, &proto);
	if (t)
		h = fnv(h, t, 4);		/* ports */
	return h % MUX_FLOW_BUCKETS;
}

bool mux_timed(const uint8_t *pkt, size_t len)
{
	size_t off, hc;
	uint8_t proto;
	const uint8_t *t;

	if (len > MUX_SPARSE_LEN)
		return true;
	if ((hc = mux_hc_len(pkt, len)))	/* compressed: TCP, never SYN */
		return len > hc || (pkt[3] & TH_FIN);
	t = transport(pkt, len, &off, &proto);
	if (!t || proto != IPPROTO_TCP)
		return false;
	/* anything but header and options (data, or a header cut short)
	 * is data; TUN gives whole packets, so len is the IP length */
	return off + 20 > len || (t[13] & (TH_SYN | TH_FIN)) ||
	       len != off + (size_t)(t[12] >> 4) * 4;
}

bool mux_tcp_again(struct mux_tcp_end *e, const uint8_t *pkt, size_t len)
{
	size_t off, hl;
	uint8_t proto;
	const uint8_t *t = transport(pkt, len, &off, &proto);
	uint32_t end, ports;

	if (!t || proto != IPPROTO_TCP || off + 20 > len)
		return false;
	if (t[13] & (TH_SYN | TH_RST)) {	/* a connection begins or ends */
		e->known = false;
		return false;
	}
	hl = (size_t)(t[12] >> 4) * 4;
	if (hl < 20 || off + hl >= len)		/* no data */
		return false;
	end = get_be32(t + 4) + (uint32_t)(len - off - hl);
	ports = get_be32(t);
	if (e->known && e->ports == ports && (int32_t)(end - e->end) <= 0)
		return true;
	*e = (struct mux_tcp_end){ .end = end, .ports = ports, .known = true };
	return false;
}
