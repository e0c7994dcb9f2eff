/* SPDX-License-Identifier: MIT */
/* linkmap internals the tests reach: wire header, sealing, replay window. */
#ifndef BRAID_LINKMAP_INT_H
#define BRAID_LINKMAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkmap.h"

#define LM_WIRE_VERSION 1
#define LM_HDR_LEN 24
#define LM_TAG_LEN 16
#define LM_OVERHEAD (LM_HDR_LEN + LM_TAG_LEN)

/* Header of every packet; authenticated as associated data. */
struct lm_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t link_id;
	uint32_t reserved;	/* zero in v1; room for key epochs */
	uint64_t session;	/* sender's session, see docs/PROTOCOL.md */
	uint64_t counter;	/* per-session packet number, the nonce */
};

int lm_hdr_encode(const struct lm_hdr *h, uint8_t *buf, size_t len);
int lm_hdr_decode(struct lm_hdr *h, const uint8_t *buf, size_t len);

/* Which way a packet travels; each direction has its own keys. */
enum lm_dir { LM_DIR_TO_MASTER = 1, LM_DIR_TO_SLAVE = 2 };

/* Keys of one direction of one session. */
struct lm_session_key {
	uint64_t session;
	uint8_t key[32];
};

void lm_session_key_derive(struct lm_session_key *sk, const uint8_t psk[32],
			   enum lm_dir dir, uint64_t session);

/* Encrypts payload into out (header + ciphertext + tag); returns the
 * packet length or -ENOBUFS. h->session must match sk. */
int lm_seal(const struct lm_session_key *sk, const struct lm_hdr *h,
	    const uint8_t *payload, size_t len, uint8_t *out, size_t outlen);

/* Decrypts pkt (already decoded into h) in place: on success *payload
 * points into pkt and the return is the payload length; -EBADMSG if it
 * does not authenticate. */
int lm_open(const struct lm_session_key *sk, const struct lm_hdr *h,
	    uint8_t *pkt, size_t len, uint8_t **payload);

/* Sliding replay window over packet counters, RFC 6479 style. */
#define LM_REPLAY_BITS 16384
struct lm_replay {
	uint64_t top;		/* highest counter accepted + 1; 0 = none */
	uint64_t bits[LM_REPLAY_BITS / 64];
};

void lm_replay_init(struct lm_replay *r);
/* True if counter is new and inside the window; does not record it. */
bool lm_replay_check(const struct lm_replay *r, uint64_t counter);
/* Records counter as seen (call after the packet authenticated). */
void lm_replay_mark(struct lm_replay *r, uint64_t counter);

#endif
