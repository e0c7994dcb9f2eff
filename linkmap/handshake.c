/* SPDX-License-Identifier: MIT */
/* The handshake's two messages and its key schedule: ephemeral X25519 on
 * top of the pre-shared key, so recorded traffic stays sealed even from
 * whoever steals the key later. Stateless; session.c keeps the state. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "bytes.h"
#include "linkmap-int.h"

#define INIT_MAC_AT (LM_HDR_LEN + 32 + 12)
#define RESP_CONF_AT (LM_HDR_LEN + 4 + 32)
#define RESP_MAC_AT (RESP_CONF_AT + 16)

static const char KDF_HS[8] = "braidhs1";	/* keys from the PSK */
static const char KDF_TK[8] = "braidtk1";	/* keys from a transcript */

void lm_hs_mac_key(uint8_t out[32], const uint8_t psk[32])
{
	crypto_kdf_derive_from_key(out, 32, 1, KDF_HS, psk);
}

void lm_hs_timestamp(uint8_t ts[LM_TS_LEN])
{
	struct timespec t;
	uint64_t s;

	/* TAI64N: 2^62 + seconds, then nanoseconds; compares as bytes */
	clock_gettime(CLOCK_REALTIME, &t);
	s = (1ULL << 62) + (uint64_t)t.tv_sec;
	put_be64(ts, s);
	put_be32(ts + 8, (uint32_t)t.tv_nsec);
}

static void mac(uint8_t out[16], const uint8_t mackey[32], const uint8_t *p,
		size_t len)
{
	crypto_generichash(out, 16, p, len, mackey, 32);
}

static bool mac_ok(const uint8_t mackey[32], const uint8_t *p, size_t len,
		   const uint8_t *want)
{
	uint8_t m[16];

	mac(m, mackey, p, len);
	return sodium_memcmp(m, want, 16) == 0;
}

static void put_hdr(uint8_t *pkt, uint8_t type, uint16_t link_id,
		    uint32_t index)
{
	struct lm_hdr h = { .version = LM_WIRE_VERSION, .type = type,
			    .link_id = link_id, .session = index };

	lm_hdr_encode(&h, pkt, LM_HDR_LEN);
}

int lm_hs_init_make(uint8_t *pkt, size_t len, const uint8_t mackey[32],
		    uint16_t link_id, const struct lm_hs_init *in)
{
	if (len < LM_HS_INIT_LEN)
		return -ENOBUFS;
	put_hdr(pkt, LM_HS_INIT, link_id, in->index);
	memcpy(pkt + LM_HDR_LEN, in->epub, 32);
	memcpy(pkt + LM_HDR_LEN + 32, in->ts, LM_TS_LEN);
	mac(pkt + INIT_MAC_AT, mackey, pkt, INIT_MAC_AT);
	return LM_HS_INIT_LEN;
}

/* Checks everything a stranger could get wrong before any public-key
 * work: exact length, header, MAC. */
int lm_hs_init_parse(const uint8_t *pkt, size_t len, const uint8_t mackey[32],
		     struct lm_hs_init *out, uint16_t *link_id)
{
	struct lm_hdr h;

	if (len != LM_HS_INIT_LEN || lm_hdr_decode(&h, pkt, len) < 0 ||
	    h.type != LM_HS_INIT || h.counter != 0)
		return -EBADMSG;
	if (!mac_ok(mackey, pkt, INIT_MAC_AT, pkt + INIT_MAC_AT))
		return -EBADMSG;
	out->index = h.session;
	memcpy(out->epub, pkt + LM_HDR_LEN, 32);
	memcpy(out->ts, pkt + LM_HDR_LEN + 32, LM_TS_LEN);
	*link_id = h.link_id;
	return 0;
}

/* T = BLAKE2b(key = PSK, "braid-hs-v2" | INIT | RESP up to the confirm |
 * DH), then the three keys from T. */
static int derive(struct lm_hs_keys *k, uint8_t conf[32],
		  const uint8_t psk[32], const uint8_t *init,
		  const uint8_t *resp, const uint8_t sk[32],
		  const uint8_t pk[32])
{
	crypto_generichash_state st;
	uint8_t dh[32], t[32];

	if (crypto_scalarmult(dh, sk, pk) != 0)
		return -EBADMSG;	/* a low-order point */
	crypto_generichash_init(&st, psk, 32, sizeof(t));
	crypto_generichash_update(&st, (const uint8_t *)"braid-hs-v2", 11);
	crypto_generichash_update(&st, init, LM_HS_INIT_LEN);
	crypto_generichash_update(&st, resp, RESP_CONF_AT);
	crypto_generichash_update(&st, dh, sizeof(dh));
	crypto_generichash_final(&st, t, sizeof(t));
	crypto_kdf_derive_from_key(k->s2m, 32, 1, KDF_TK, t);
	crypto_kdf_derive_from_key(k->m2s, 32, 2, KDF_TK, t);
	crypto_kdf_derive_from_key(conf, 32, 3, KDF_TK, t);
	sodium_memzero(dh, sizeof(dh));
	sodium_memzero(t, sizeof(t));
	sodium_memzero(&st, sizeof(st));
	return 0;
}

/* The confirm: an AEAD tag over the response so far, proving the master
 * derived the same keys. */
static void confirm(uint8_t tag[16], const uint8_t conf[32],
		    const uint8_t *resp)
{
	uint8_t nonce[crypto_aead_chacha20poly1305_IETF_NPUBBYTES] = { 0 };
	unsigned long long tlen;
	uint8_t none[1];

	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
		none, tag, &tlen, none, 0, resp, RESP_CONF_AT, NULL, nonce,
		conf);
}

int lm_hs_resp_make(uint8_t *pkt, size_t len, const uint8_t psk[32],
		    const uint8_t mackey[32], const uint8_t *init,
		    uint16_t link_id, uint32_t r_index,
		    const struct lm_hs_init *in, struct lm_hs_keys *keys)
{
	uint8_t esk[32], epub[32], conf[32];
	int err;

	if (len < LM_HS_RESP_LEN)
		return -ENOBUFS;
	crypto_box_keypair(epub, esk);
	put_hdr(pkt, LM_HS_RESP, link_id, r_index);
	put_be32(pkt + LM_HDR_LEN, in->index);
	memcpy(pkt + LM_HDR_LEN + 4, epub, 32);
	err = derive(keys, conf, psk, init, pkt, esk, in->epub);
	sodium_memzero(esk, sizeof(esk));
	if (err < 0)
		return err;
	confirm(pkt + RESP_CONF_AT, conf, pkt);
	sodium_memzero(conf, sizeof(conf));
	mac(pkt + RESP_MAC_AT, mackey, pkt, RESP_MAC_AT);
	return LM_HS_RESP_LEN;
}

int lm_hs_resp_peek(const uint8_t *pkt, size_t len, const uint8_t mackey[32],
		    uint32_t *r_index, uint32_t *i_index, uint16_t *link_id)
{
	struct lm_hdr h;

	if (len != LM_HS_RESP_LEN || lm_hdr_decode(&h, pkt, len) < 0 ||
	    h.type != LM_HS_RESP || h.counter != 0)
		return -EBADMSG;
	if (!mac_ok(mackey, pkt, RESP_MAC_AT, pkt + RESP_MAC_AT))
		return -EBADMSG;
	*r_index = h.session;
	*i_index = get_be32(pkt + LM_HDR_LEN);
	*link_id = h.link_id;
	return 0;
}

int lm_hs_resp_finish(const uint8_t *pkt, const uint8_t psk[32],
		      const uint8_t *init, const uint8_t esk[32],
		      struct lm_hs_keys *keys)
{
	uint8_t conf[32], tag[16];
	int err;

	err = derive(keys, conf, psk, init, pkt, esk, pkt + LM_HDR_LEN + 4);
	if (err < 0)
		return err;
	confirm(tag, conf, pkt);
	sodium_memzero(conf, sizeof(conf));
	if (sodium_memcmp(tag, pkt + RESP_CONF_AT, 16) != 0) {
		sodium_memzero(keys, sizeof(*keys));
		return -EBADMSG;
	}
	return 0;
}
