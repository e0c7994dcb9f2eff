/* SPDX-License-Identifier: MIT */
/* Wire format v2: encoding and decoding of the packet header. */
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
	put_be64(buf + 8, h->counter);
	return LM_HDR_LEN;
}

#define V1_OVERHEAD 40	/* version 1: a 24-byte header and the tag */

/* Rejects anything v2 cannot be: short (too short to hold a tag), other
 * version, link id 0 or session 0. */
int lm_hdr_decode(struct lm_hdr *h, const uint8_t *buf, size_t len)
{
	if (len < LM_HDR_LEN + LM_TAG_LEN)
		return -EBADMSG;
	h->version = buf[0];
	h->type = buf[1];
	h->link_id = get_be16(buf + 2);
	h->session = get_be32(buf + 4);
	h->counter = get_be64(buf + 8);
	if (h->version != LM_WIRE_VERSION)
		return -EPROTO;
	if (h->link_id == 0 || h->session == 0)
		return -EBADMSG;
	return LM_HDR_LEN;
}

bool lm_hdr_looks_v1(const uint8_t *buf, size_t len)
{
	return len >= V1_OVERHEAD && buf[0] == 1 && !get_be32(buf + 4);
}
