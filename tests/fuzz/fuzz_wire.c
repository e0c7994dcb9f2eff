/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the wire header, opening packets under a fixed
 * session key, seal/open round trips and the replay window. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#include "fuzz.h"
#include "linkmap-int.h"

static const uint8_t *const key = fuzz_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* What lm_hdr_decode must accept, straight from the bytes. */
static bool hdr_valid(const uint8_t *d, size_t size)
{
	if (size < LM_OVERHEAD || d[0] != LM_WIRE_VERSION)
		return false;
	return (d[2] | d[3]) && (d[4] | d[5] | d[6] | d[7]);
}

/* Decoding accepts exactly the valid headers and re-encodes to the same
 * bytes. */
static void check_hdr(const uint8_t *data, size_t size)
{
	uint8_t buf[LM_HDR_LEN];
	struct lm_hdr h;
	int rc = lm_hdr_decode(&h, data, size);

	FUZZ_CHECK((rc >= 0) == hdr_valid(data, size));
	if (rc < 0) {
		FUZZ_CHECK(rc == -EBADMSG || rc == -EPROTO);
		return;
	}
	FUZZ_CHECK(rc == LM_HDR_LEN);
	FUZZ_CHECK(lm_hdr_encode(&h, buf, sizeof(buf)) == LM_HDR_LEN);
	FUZZ_CHECK(memcmp(buf, data, LM_HDR_LEN) == 0);
	FUZZ_CHECK(lm_hdr_encode(&h, buf, LM_HDR_LEN - 1) == -ENOBUFS);
}

/* The input as a received packet. A forgery is refused with its header
 * untouched (libsodium zeroes the ciphertext, so a second key can never
 * be tried on the same buffer); an authentic packet (the corpus has some)
 * gives its payload in place, and sealing that again gives back the same
 * bytes. */
static void check_open(const uint8_t *data, size_t size)
{
	struct lm_hdr h = { 0 };
	uint8_t *pkt, *again, *payload = NULL;
	bool decoded = lm_hdr_decode(&h, data, size) >= 0;
	int n;

	pkt = malloc(size ? size : 1);
	if (!pkt)
		abort();
	memcpy(pkt, data, size);
	n = lm_open(key, &h, pkt, size, &payload);
	if (n < 0) {
		FUZZ_CHECK(n == -EBADMSG);
		FUZZ_CHECK(!memcmp(pkt, data,
				   size < LM_HDR_LEN ? size : LM_HDR_LEN));
		goto out_free_pkt;
	}
	FUZZ_CHECK(size >= LM_OVERHEAD && (size_t)n == size - LM_OVERHEAD);
	FUZZ_CHECK(payload == pkt + LM_HDR_LEN);
	if (!decoded)
		goto out_free_pkt;
	again = malloc(size);
	if (!again)
		abort();
	FUZZ_CHECK(lm_seal(key, &h, payload, n, again, size) == (int)size);
	FUZZ_CHECK(memcmp(again, data, size) == 0);
	free(again);
out_free_pkt:
	free(pkt);
}

/* The input as a payload: sealed, it decodes to the header it was sealed
 * with and opens to the same bytes; one flipped bit anywhere and it no
 * longer opens; one byte too little room and nothing is written. */
static void check_seal(const uint8_t *data, size_t size)
{
	size_t len = size < LM_MAX_PAYLOAD ? size : LM_MAX_PAYLOAD;
	size_t outlen = len + LM_OVERHEAD, flip;
	struct lm_hdr h = {
		.version = LM_WIRE_VERSION, .type = 1, .link_id = 1,
		.session = FUZZ_SESSION, .counter = len,
	};
	struct lm_hdr got;
	uint8_t *out, *forged, *payload;

	if (size >= 4) {
		h.type = data[0];
		h.link_id = (uint16_t)(data[1] << 8 | data[2]) | 1;
		h.counter = (uint64_t)data[3] << 56 | size;
	}
	out = malloc(outlen);
	forged = malloc(outlen);
	if (!out || !forged)
		abort();
	memset(out, 0xa5, outlen);
	FUZZ_CHECK(lm_seal(key, &h, data, len, out, outlen - 1) == -ENOBUFS);
	FUZZ_CHECK(out[0] == 0xa5 && !memcmp(out, out + 1, outlen - 1));
	FUZZ_CHECK(lm_seal(key, &h, data, len, out, outlen) == (int)outlen);
	FUZZ_CHECK(lm_hdr_decode(&got, out, outlen) == LM_HDR_LEN);
	FUZZ_CHECK(got.type == h.type && got.link_id == h.link_id &&
		   got.session == h.session &&
		   got.counter == (uint32_t)h.counter);	/* the wire's part */

	memcpy(forged, out, outlen);
	flip = size ? (data[size - 1] * 8191u + size) % (outlen * 8) : 0;
	forged[flip / 8] ^= 1u << (flip % 8);
	FUZZ_CHECK(lm_open(key, &h, forged, outlen, &payload) == -EBADMSG);

	FUZZ_CHECK(lm_open(key, &h, out, outlen, &payload) == (int)len);
	FUZZ_CHECK(memcmp(payload, data, len) == 0);
	free(forged);
	free(out);
}

/* Big-endian n bytes from *p (zeros past the end). */
static uint64_t take(const uint8_t **p, const uint8_t *end, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | (*p < end ? *(*p)++ : 0);
	return v;
}

#define MAX_OPS 1024
#define WINDOW (LM_REPLAY_BITS - 64)

static bool seen_has(const uint64_t *seen, size_t n, uint64_t c)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i] == c)
			return true;
	return false;
}

/* The input as a stream of packet counters against the replay window and
 * a plain model of it: every counter ever accepted (and so marked), the
 * highest + 1. Opcode low bits pick the counter (absolute, ahead of the
 * top, behind it, around the window's edge); bit 2 says whether the
 * packet authenticated, i.e. is marked. */
static void check_replay(const uint8_t *data, size_t size)
{
	static struct lm_replay r;
	static uint64_t seen[MAX_OPS];
	const uint8_t *p = data, *end = data + size;
	size_t nseen = 0;
	uint64_t top = 0, c;
	bool want;

	lm_replay_init(&r);
	for (int ops = 0; p < end && ops < MAX_OPS; ops++) {
		uint8_t op = *p++;

		switch (op & 3) {
		case 0:
			c = take(&p, end, 8);
			break;
		case 1:
			c = top + take(&p, end, 2);
			break;
		case 2:
			c = top - 1 - take(&p, end, 2);
			break;
		default:
			c = top - 1 - WINDOW + (int8_t)take(&p, end, 1);
			break;
		}
		want = c != UINT64_MAX &&
		       (c >= top ||
			(top - 1 - c <= WINDOW && !seen_has(seen, nseen, c)));
		FUZZ_CHECK(lm_replay_check(&r, c) == want);
		if (!want || !(op & 4))
			continue;
		lm_replay_mark(&r, c);
		seen[nseen++] = c;
		if (c >= top)
			top = c + 1;
		FUZZ_CHECK(r.top == top);
		FUZZ_CHECK(!lm_replay_check(&r, c));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_hdr(data, size);
	check_open(data, size);
	check_seal(data, size);
	check_replay(data, size);
	return 0;
}
