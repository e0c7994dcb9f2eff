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

/* The other side's sessions as seen by a receiver. */
#define LM_RETIRED 16
#define LM_SESSION_IDLE 3.0	/* s of silence before an older session */
struct lm_peer {
	bool have;
	struct lm_session_key cur;
	struct lm_replay replay;
	double last_rx;
	uint64_t highest;		/* highest session ever current */
	uint64_t retired[LM_RETIRED];	/* never current again */
	unsigned nretired;
	struct lm_session_key cand;	/* key of the last other session */
};

struct lm_stats;
void lm_peer_init(struct lm_peer *p);
/* Decodes, authenticates and replay-checks one packet without changing p
 * (other than its key cache). Returns the payload length, with
 * *new_session set if accepting it would switch sessions, or -1 after
 * counting why it was refused in st. */
int lm_peer_open(struct lm_peer *p, const uint8_t psk[32], enum lm_dir dir,
		 double now, uint8_t *pkt, size_t len, struct lm_hdr *h,
		 uint8_t **payload, bool *new_session, struct lm_stats *st);
/* Takes an opened packet as received: switches session if it was new,
 * marks its counter. */
void lm_peer_commit(struct lm_peer *p, const struct lm_hdr *h,
		    bool new_session, double now);

/* SOCKS5 (RFC 1928) and its username/password auth (RFC 1929). Encoders
 * return bytes written or -errno. Decoders take what has arrived so far
 * and return bytes used, -EAGAIN if more are needed, or -EPROTO (or
 * -EBADMSG for relayed datagrams) if it can never be valid. */
#define LM_SOCKS_AUTH_NONE 0x00
#define LM_SOCKS_AUTH_USERPASS 0x02
#define LM_SOCKS_AUTH_REFUSED 0xff
#define LM_SOCKS_CMD_CONNECT 0x01
#define LM_SOCKS_CMD_UDP 0x03
#define LM_SOCKS_REP_CMD_UNSUPPORTED 0x07
#define LM_SOCKS_MAX_REPLY (4 + 1 + 255 + 2)
#define LM_SOCKS_UDP_HDR_MAX (3 + 19)

struct sockaddr_storage;

const char *lm_socks_rep_str(int rep);
int lm_socks_greeting(uint8_t *buf, size_t len, bool with_auth);
int lm_socks_method_decode(const uint8_t *buf, size_t len, int *method);
int lm_socks_auth_encode(uint8_t *buf, size_t len, const char *user,
			 const char *pass);
int lm_socks_auth_decode(const uint8_t *buf, size_t len, int *status);
int lm_socks_request(uint8_t *buf, size_t len, int cmd,
		     const struct sockaddr *dst);
/* bnd gets the reply's address; a name comes back as AF_UNSPEC. */
int lm_socks_reply_decode(const uint8_t *buf, size_t len, int *rep,
			  struct sockaddr_storage *bnd, socklen_t *bndlen);
/* The header in front of every datagram to and from a UDP relay. */
int lm_socks_udp_encode(uint8_t *buf, size_t len, const struct sockaddr *dst);
int lm_socks_udp_decode(const uint8_t *buf, size_t len,
			struct sockaddr_storage *src, socklen_t *srclen);

#endif
