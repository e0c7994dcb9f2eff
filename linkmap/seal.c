/* SPDX-License-Identifier: MIT */
/* Packet sealing (ChaCha20-Poly1305 under a session's keys) and the
 * replay window. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "bytes.h"
#include "linkmap-int.h"

static void make_nonce(uint8_t n[crypto_aead_chacha20poly1305_IETF_NPUBBYTES],
		       uint64_t counter)
{
	memset(n, 0, 4);
	put_be64(n + 4, counter);
}

int lm_seal(const uint8_t key[32], const struct lm_hdr *h,
	    const uint8_t *payload, size_t len, uint8_t *out, size_t outlen)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	unsigned long long clen;

	if (outlen < LM_OVERHEAD || len > outlen - LM_OVERHEAD)
		return -ENOBUFS;
	lm_hdr_encode(h, out, outlen);
	make_nonce(nonce, h->counter);
	crypto_aead_chacha20poly1305_ietf_encrypt(out + LM_HDR_LEN, &clen,
						  payload, len, out, LM_HDR_LEN,
						  NULL, nonce, key);
	return LM_HDR_LEN + (int)clen;
}

int lm_open(const uint8_t key[32], const struct lm_hdr *h, uint8_t *pkt,
	    size_t len, uint8_t **payload)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES];
	unsigned long long mlen;

	if (len < LM_OVERHEAD)
		return -EBADMSG;
	make_nonce(nonce, h->counter);
	if (crypto_aead_chacha20poly1305_ietf_decrypt(pkt + LM_HDR_LEN, &mlen,
						      NULL, pkt + LM_HDR_LEN,
						      len - LM_HDR_LEN, pkt,
						      LM_HDR_LEN, nonce,
						      key) != 0)
		return -EBADMSG;
	*payload = pkt + LM_HDR_LEN;
	return (int)mlen;
}

#define NBLOCKS (LM_REPLAY_BITS / 64)

void lm_replay_init(struct lm_replay *r)
{
	memset(r, 0, sizeof(*r));
}

/* Counters up to LM_REPLAY_BITS - 64 behind the highest are tracked; the
 * ring keeps one block of slack so advancing never clears a bit still
 * inside the window. */
bool lm_replay_check(const struct lm_replay *r, uint64_t counter)
{
	uint64_t block;

	if (counter == UINT64_MAX)
		return false;
	if (counter >= r->top)
		return true;
	if (r->top - 1 - counter > LM_REPLAY_BITS - 64)
		return false;
	block = (counter / 64) % NBLOCKS;
	return !(r->bits[block] & (1ULL << (counter % 64)));
}

void lm_replay_mark(struct lm_replay *r, uint64_t counter)
{
	if (counter >= r->top) {
		uint64_t cur = r->top ? (r->top - 1) / 64 : 0;
		uint64_t next = counter / 64;
		uint64_t n = next - cur;

		if (!r->top) {
			memset(r->bits, 0, sizeof(r->bits));
		} else if (n >= NBLOCKS) {
			memset(r->bits, 0, sizeof(r->bits));
		} else {
			for (uint64_t i = 1; i <= n; i++)
				r->bits[(cur + i) % NBLOCKS] = 0;
		}
		r->top = counter + 1;
	}
	r->bits[(counter / 64) % NBLOCKS] |= 1ULL << (counter % 64);
}
