/* SPDX-License-Identifier: MIT */
/* libFuzzer target: TCP/IP header compression. The input is a packet
 * from the TUN device: its flow's context is offered, taken by a second
 * side and confirmed, and the packet compressed again; a compressed
 * packet must come back bit for bit if its TCP checksum is right, and be
 * dropped if not. The input is also taken as a compressed packet and as
 * a context offer by that side: whatever it rebuilds passes its TCP
 * checksum and fits the buffer. */
#include <string.h>

#include "fuzz.h"
#include "multiplexer-int.h"

#define MAXPKT 1500

static struct {
	uint8_t type;
	size_t len;
	uint8_t b[2 + MUX_HC_MAX_HDR + 8];
	int n;
} last;

static int cap_send(void *ctx, uint16_t link, uint8_t type, const void *buf,
		    size_t len)
{
	(void)ctx;
	(void)link;
	FUZZ_CHECK(len <= sizeof(last.b));
	last.type = type;
	last.len = len;
	memcpy(last.b, buf, len);
	last.n++;
	return 0;
}

static const struct mux_ops ops = { .send = cap_send };
static struct mux *tx, *rx;

static struct mux *side(void)
{
	struct mux *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->cfg.compress = true;
	m->cfg.max_packet = MAXPKT;
	m->cfg.ops = &ops;
	m->links[0].used = m->links[0].up = true;
	m->links[0].id = 1;
	if (mux_hc_init(m) < 0)
		abort();
	return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	tx = side();
	rx = side();
	return 0;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The TCP checksum over pkt (IPv4 or IPv6, no options or extension
 * headers before TCP), as a receiving host checks it. */
static bool tcp_ok(const uint8_t *p, size_t len)
{
	bool v6 = p[0] >> 4 == 6;
	size_t ip = v6 ? 40 : 20;
	uint64_t s = 6 + (len - ip);

	for (size_t i = v6 ? 8 : 12; i < (v6 ? 40u : 20u); i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	for (size_t i = ip; i < len; i += 2)
		s += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
	return fold(s) == 0xffff;
}

/* Compresses the packet (twice: the first offers the context, which the
 * other side takes and confirms); returns the compressed length, 0 if it
 * went whole. */
static size_t compress(const uint8_t *data, size_t size, uint8_t *buf,
		       uint8_t **out, double now)
{
	size_t len = size;
	unsigned cid = mux_flow_bucket(data, size);

	memcpy(buf + MUX_HDR_LEN, data, size);
	last.n = 0;
	*out = mux_hc_compress(tx, buf + MUX_HDR_LEN, &len, cid, now);
	if (last.n) {
		FUZZ_CHECK(last.type == MUX_MSG_HC_CTX);
		FUZZ_CHECK(*out == buf + MUX_HDR_LEN && len == size);
		mux_hc_ctx_in(rx, &rx->links[0], last.b, last.len);
		FUZZ_CHECK(last.type == MUX_MSG_HC_ACK && last.len == 4);
		/* half the inputs as to a receiver of an earlier release,
		 * whose 3-byte answer gets the long form only */
		mux_hc_ack_in(tx, last.b, size & 1 ? 3 : last.len);
		memcpy(buf + MUX_HDR_LEN, data, size);
		*out = mux_hc_compress(tx, buf + MUX_HDR_LEN, &len, cid, now);
	}
	if (*out == buf + MUX_HDR_LEN) {	/* whole, unchanged */
		FUZZ_CHECK(len == size && !memcmp(*out, data, size));
		return 0;
	}
	FUZZ_CHECK(*out > buf + MUX_HDR_LEN && len < size);
	FUZZ_CHECK(mux_hc_len(*out, len) && len >= mux_hc_len(*out, len));
	FUZZ_CHECK(!memcmp(*out + mux_hc_len(*out, len),
			   data + size - (len - mux_hc_len(*out, len)),
			   len - mux_hc_len(*out, len)));
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static double now;
	uint8_t buf[MUX_HDR_LEN + MAXPKT], *c;
	size_t clen, n;

	if (size > MAXPKT)
		return 0;
	/* each input from scratch: no context known, every slot idle */
	mux_hc_reset(tx);
	mux_hc_reset(rx);
	now += 3;
	clen = compress(data, size, buf, &c, now);
	if (clen) {
		n = mux_hc_expand(rx, &rx->links[0], c, clen, now);
		if (tcp_ok(data, size))
			FUZZ_CHECK(n == size &&
				   !memcmp(mux_hc_packet(rx), data, size));
		else
			FUZZ_CHECK(n == 0);
	}
	/* the input as a compressed packet, and as an offer */
	n = mux_hc_expand(rx, &rx->links[0], data, size, now);
	FUZZ_CHECK(n <= MAXPKT);
	if (n)
		FUZZ_CHECK(tcp_ok(mux_hc_packet(rx), n));
	if (size >= 2) {
		last.n = 0;
		mux_hc_ctx_in(rx, &rx->links[0], data, size);
		FUZZ_CHECK(last.n <= 1);
	}
	return 0;
}
