/* SPDX-License-Identifier: MIT */
/* Wire format v1: encoding and decoding of the packet header. */
#include <errno.h>
#include <string.h>

#include "linkmap-int.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

int lm_hdr_encode(const struct lm_hdr *h, uint8_t *buf, size_t len)
{
	if (len < LM_HDR_LEN)
		return -ENOBUFS;
	buf[0] = h->version;
	buf[1] = h->type;
	put16(buf + 2, h->link_id);
	put32(buf + 4, h->reserved);
	put64(buf + 8, h->session);
	put64(buf + 16, h->counter);
	return LM_HDR_LEN;
}

/* Rejects anything v1 cannot be: short, other version, reserved bits set,
 * link id 0, or too short to hold a tag. */
int lm_hdr_decode(struct lm_hdr *h, const uint8_t *buf, size_t len)
{
	if (len < LM_HDR_LEN + LM_TAG_LEN)
		return -EBADMSG;
	h->version = buf[0];
	h->type = buf[1];
	h->link_id = get16(buf + 2);
	h->reserved = get32(buf + 4);
	h->session = get64(buf + 8);
	h->counter = get64(buf + 16);
	if (h->version != LM_WIRE_VERSION)
		return -EPROTO;
	if (h->reserved != 0 || h->link_id == 0 || h->session == 0)
		return -EBADMSG;
	return LM_HDR_LEN;
}
