/* SPDX-License-Identifier: MIT */
/* Wire format v3: encoding and decoding of the packet header. */
#include <errno.h>
#include <string.h>

#include "bytes.h"
#include "linkmap-int.h"

int lm_hdr_encode(const struct lm_hdr *h, uint8_t *buf, size_t len)
{
	if (len < LM_HDR_LEN)
		return -ENOBUFS;
	buf[0] = h->version;
	buf[1] = h->type;
	put_be16(buf + 2, h->link_id);
	put_be32(buf + 4, h->session);
	put_be32(buf + 8, (uint32_t)h->counter);
	return LM_HDR_LEN;
}

#define V1_OVERHEAD 40	/* version 1: a 24-byte header and the tag */

/* Rejects anything v3 cannot be: short (too short to hold a tag), other
 * version, link id 0 or session 0. */
int lm_hdr_decode(struct lm_hdr *h, const uint8_t *buf, size_t len)
{
	if (len < LM_HDR_LEN + LM_TAG_LEN)
		return -EBADMSG;
	h->version = buf[0];
	h->type = buf[1];
	h->link_id = get_be16(buf + 2);
	h->session = get_be32(buf + 4);
	h->counter = get_be32(buf + 8);	/* expanded once the keys are known */
	if (h->version != LM_WIRE_VERSION)
		return -EPROTO;
	if (h->link_id == 0 || h->session == 0)
		return -EBADMSG;
	return LM_HDR_LEN;
}

#define V2_OVERHEAD 32	/* version 2: a 16-byte header and the tag */

int lm_hdr_looks_old(const uint8_t *buf, size_t len)
{
	if (len >= V1_OVERHEAD && buf[0] == 1 && !get_be32(buf + 4))
		return 1;
	if (len >= V2_OVERHEAD && buf[0] == 2 && get_be16(buf + 2) &&
	    get_be32(buf + 4))
		return 2;
	return 0;
}

uint64_t lm_counter_expand(uint64_t top, uint32_t low)
{
	const uint64_t win = 1ULL << 32, half = win / 2;
	uint64_t c = (top & ~(win - 1)) | low;

	if (c < top && top - c >= half && c < UINT64_MAX - win)
		return c + win;
	if (c > top && c - top > half && c >= win)
		return c - win;
	return c;
}
