/* SPDX-License-Identifier: MIT */
/* linkmap internals the tests reach: wire header, sealing, replay window. */
#ifndef BRAID_LINKMAP_INT_H
#define BRAID_LINKMAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linkmap.h"

#define LM_HDR_LEN 12
#define LM_TAG_LEN 16
#define LM_OVERHEAD (LM_HDR_LEN + LM_TAG_LEN)
_Static_assert(LM_MAX_PAYLOAD == LM_BUF_LEN - LM_OVERHEAD,
	       "linkmap.h's LM_MAX_PAYLOAD is the header and tag less");

/* Header of every packet; authenticated as associated data. */
struct lm_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t link_id;
	uint32_t session;	/* keypair index, see docs/PROTOCOL.md */
	uint64_t counter;	/* per-keypair packet number, the nonce; on
				 * the wire only its low 32 bits */
};

int lm_hdr_encode(const struct lm_hdr *h, uint8_t *buf, size_t len);
int lm_hdr_decode(struct lm_hdr *h, const uint8_t *buf, size_t len);
/* The wire version of an older release buf looks like a packet of: 1 (a
 * 24-byte header whose bytes 4..7 were a zero reserved word) or 2 (a
 * 16-byte header); 0 if neither. */
int lm_hdr_looks_old(const uint8_t *buf, size_t len);
/* The whole counter of a packet that carried its low 32 bits, taken as
 * the one nearest top, the next counter expected (as QUIC's packet
 * numbers, RFC 9000, A.3). */
uint64_t lm_counter_expand(uint64_t top, uint32_t low);

/* Encrypts payload into out (header + ciphertext + tag) under key;
 * returns the packet length or -ENOBUFS. */
int lm_seal(const uint8_t key[32], const struct lm_hdr *h,
	    const uint8_t *payload, size_t len, uint8_t *out, size_t outlen);

/* Decrypts pkt (already decoded into h) in place: on success *payload
 * points into pkt and the return is the payload length; -EBADMSG if it
 * does not authenticate. */
int lm_open(const uint8_t key[32], const struct lm_hdr *h, uint8_t *pkt,
	    size_t len, uint8_t **payload);

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

/* The handshake (handshake.c): messages and key schedule. */
#define LM_HS_INIT 0x81		/* types from 0x80 up are linkmap's own */
#define LM_HS_RESP 0x82
#define LM_TS_LEN 12
#define LM_HS_INIT_LEN (LM_HDR_LEN + 32 + LM_TS_LEN + 16)
#define LM_HS_RESP_LEN (LM_HDR_LEN + 4 + 32 + 16 + 16)

struct lm_hs_init {
	uint32_t index;			/* the initiator's session index */
	uint8_t epub[32];		/* its ephemeral X25519 public key */
	uint8_t ts[LM_TS_LEN];		/* TAI64N */
};

struct lm_hs_keys {
	uint8_t s2m[32], m2s[32];
};

void lm_hs_mac_key(uint8_t out[32], const uint8_t psk[32]);
void lm_hs_timestamp(uint8_t ts[LM_TS_LEN]);
int lm_hs_init_make(uint8_t *pkt, size_t len, const uint8_t mackey[32],
		    uint16_t link_id, const struct lm_hs_init *in);
int lm_hs_init_parse(const uint8_t *pkt, size_t len, const uint8_t mackey[32],
		     struct lm_hs_init *out, uint16_t *link_id);
/* Master: builds the response and derives the session keys. */
int lm_hs_resp_make(uint8_t *pkt, size_t len, const uint8_t psk[32],
		    const uint8_t mackey[32], const uint8_t *init,
		    uint16_t link_id, uint32_t r_index,
		    const struct lm_hs_init *in, struct lm_hs_keys *keys);
/* Slave: checks a response's length, header and MAC (cheap)... */
int lm_hs_resp_peek(const uint8_t *pkt, size_t len, const uint8_t mackey[32],
		    uint32_t *r_index, uint32_t *i_index, uint16_t *link_id);
/* ...then derives the keys and checks the master's confirm. */
int lm_hs_resp_finish(const uint8_t *pkt, const uint8_t psk[32],
		      const uint8_t *init, const uint8_t esk[32],
		      struct lm_hs_keys *keys);

/* Sessions (session.c). */
#define LM_REKEY_AFTER 120.0		/* s: the slave starts a new handshake */
#define LM_REJECT_AFTER 240.0		/* s: keys older than this are dead */
#define LM_REKEY_MESSAGES (1ULL << 32)
#define LM_REJECT_MESSAGES (1ULL << 60)
#define LM_HS_RETRY 1.0			/* s between initiations */
#define LM_HS_SILENT 3.0		/* s of silence that starts one */
#define LM_HS_RATE 20.0			/* master: handshakes per second */

struct lm_keypair {
	bool valid;
	uint32_t my_index;		/* the peer puts this in its header */
	uint32_t peer_index;		/* we put this in ours */
	uint8_t tx[32], rx[32];
	uint64_t tx_counter;
	struct lm_replay replay;
	double created;
};

struct lm_sess {
	bool master;
	double rekey_after;		/* s, LM_REKEY_AFTER unless set */
	uint8_t psk[32], mackey[32];
	struct lm_keypair cur, prev, next;	/* next: master, unconfirmed */
	double last_rx;			/* last authenticated packet */
	/* slave: the handshake in flight */
	bool pending;
	struct lm_hs_init hs;
	uint8_t esk[32];
	double hs_sent;
	/* master: the newest initiation taken, and the rate limit */
	uint8_t last_ts[LM_TS_LEN];
	uint32_t last_index;
	uint16_t last_links[LM_MAX_LINKS];	/* links it came in on */
	unsigned nlast_links;
	double tokens, tokens_at;
};

struct lm_stats;
void lm_sess_init(struct lm_sess *s, bool master, const uint8_t psk[32]);
void lm_sess_wipe(struct lm_sess *s);
/* Decodes, finds the keypair, replay-checks and opens a data packet
 * without changing s. Returns the payload length, or -1 after counting
 * why not in st. */
int lm_sess_open(struct lm_sess *s, double now, uint8_t *pkt, size_t len,
		 struct lm_hdr *h, uint8_t **payload, struct lm_keypair **kp,
		 struct lm_stats *st);
/* Takes an opened packet: marks its counter; on the master, the first
 * packet under the next keypair makes it current. */
void lm_sess_commit(struct lm_sess *s, struct lm_keypair *kp,
		    const struct lm_hdr *h, double now);
/* Seals under the current keypair; -ENOTCONN if there is none. */
int lm_sess_seal(struct lm_sess *s, double now, uint8_t type,
		 uint16_t link_id, const void *payload, size_t len,
		 uint8_t *out, size_t outlen);
bool lm_sess_want_handshake(const struct lm_sess *s, double now);
/* Slave: the initiation to send on link_id (a new one when due). */
int lm_sess_init_make(struct lm_sess *s, double now, uint16_t link_id,
		      uint8_t *out, size_t outlen);
/* Master: takes an initiation; returns the response's length (to send on
 * *link_id) or -1 after counting why not. */
int lm_sess_init_in(struct lm_sess *s, double now, const uint8_t *pkt,
		    size_t len, uint16_t *link_id, uint8_t *resp,
		    size_t resplen, struct lm_stats *st);
/* Slave: takes a response; 0 when the new keys are current. */
int lm_sess_resp_in(struct lm_sess *s, double now, const uint8_t *pkt,
		    size_t len, uint16_t *link_id, struct lm_stats *st);

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

/* ---- shared by linkmap's own files ---- */

#include <net/if.h>
#include <netinet/in.h>

#include "log.h"

#define LM_BATCH 32
#define LM_HEADROOM 32		/* in front of a sealed packet: SOCKS/stream */
#define LM_CTL_LEN (CMSG_SPACE(sizeof(struct in6_pktinfo)) + \
		    CMSG_SPACE(sizeof(struct in_pktinfo)))
#define LM_MAX_STREAMS 64
#define LM_STREAM_RBUF (64 * 1024)
#define LM_STREAM_UNSENT_MAX (16 * 1024)	/* drop, don't queue, past this */

/* The master's own address a link's packets were sent to. */
union lm_local {
	struct in_addr v4;
	struct in6_addr v6;
};

/* A TCP stream of length-prefixed packets: a slave's CONNECT link, or
 * one the master accepted. */
struct lm_stream {
	struct lm *lm;
	struct lm_link *owner;		/* slave: its link; master: NULL */
	int fd;
	bool broken;			/* a send failed: torn down from rx */
	ev_io rx, tx;
	ev_timer idle;			/* master: closes a silent stream */
	ev_tstamp last_rx;		/* last authenticated frame */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	size_t rlen;
	size_t wlen, woff;		/* rest of a partly written frame */
	uint8_t wbuf[2 + LM_BUF_LEN];
	uint8_t rbuf[LM_STREAM_RBUF];
};

enum lm_px_state {
	PX_IDLE,		/* waiting to (re)try */
	PX_CONNECTING,		/* TCP connect to the proxy */
	PX_GREETING,		/* method selection sent */
	PX_AUTH,		/* username/password sent */
	PX_REQUEST,		/* UDP ASSOCIATE or CONNECT sent */
	PX_READY,
};

/* The SOCKS5 side of a link. */
struct lm_proxy {
	struct lm_link *owner;
	enum lm_px_state state;
	bool udp;			/* UDP ASSOCIATE now (else CONNECT) */
	bool want_udp;			/* type socks5 */
	bool fallback;			/* may turn from UDP to CONNECT */
	bool no_udp;			/* the proxy refused UDP: for good */
	bool told;			/* the fallback was logged */
	unsigned silent;		/* associations that heard nothing */
	int fd;				/* TCP to the proxy */
	ev_io io;
	ev_timer timer;			/* handshake deadline, retry, UDP check */
	double backoff;
	ev_tstamp ready_at;
	struct sockaddr_storage addr, relay;
	socklen_t addr_len, relay_len;
	char addr_str[64];
	char user[256], pass[256];
	uint8_t buf[LM_SOCKS_MAX_REPLY];
	size_t len;
	struct log_rl rl;
};

struct lm_link {
	uint16_t id;
	bool used;
	bool on_stream;			/* last reported transport */
	char name[32];
	struct lm *lm;
	enum lm_link_type type;
	ev_tstamp last_rx;		/* last authenticated packet */
	/* slave: the UDP socket (direct, or to the SOCKS relay) */
	int fd;
	ev_io rx;
	char ifname[IFNAMSIZ];
	struct sockaddr_storage bind;
	socklen_t bind_len;
	ev_tstamp last_open;
	struct log_rl open_rl, send_rl;
	struct lm_proxy *px;		/* slave SOCKS links */
	struct lm_stream *stream;	/* slave: CONNECT stream; master: the
					 * stream the link was last heard on */
	/* master: where the link was last heard from, and on which address */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	union lm_local local;
	bool has_local;
	struct log_rl move_rl;
	struct lm_link_stats st;
};

struct lm {
	struct ev_loop *loop;
	struct lm_cfg cfg;
	int fd;				/* master: the UDP socket */
	ev_io rx;
	int tcp_fd;			/* master: the TCP listener */
	ev_io accept_io;
	struct lm_stream *streams[LM_MAX_STREAMS];
	struct lm_sess sess;
	ev_timer hs_timer;		/* slave: when to start a handshake */
	double hs_unanswered;		/* slave: handshaking since, 0 none */
	struct lm_stats st;
	struct lm_link links[LM_MAX_LINKS];
	struct log_rl rx_rl, slot_rl, tcp_rl, version_rl;
	uint8_t txbuf[LM_HEADROOM + LM_BUF_LEN];
	uint8_t rxbuf[LM_BATCH][LM_BUF_LEN];
	struct sockaddr_storage rxaddr[LM_BATCH];
	uint8_t rxctl[LM_BATCH][LM_CTL_LEN];
	struct mmsghdr rxmsg[LM_BATCH];
	struct iovec rxiov[LM_BATCH];
};

/* linkmap.c */
/* One datagram or frame from the network. via_link: the slave link whose
 * socket it came on; via_stream: the stream it came on; local: the
 * master's address it was sent to (NULL if unknown). */
void lm_packet_in(struct lm *lm, struct lm_link *via_link,
		  struct lm_stream *via_stream, uint8_t *pkt, size_t len,
		  const struct sockaddr_storage *from, socklen_t fromlen,
		  const union lm_local *local);
struct lm_link *lm_link_find(struct lm *lm, uint16_t id);
void lm_set_transport(struct lm_link *l, bool stream);

/* udp.c */
void lm_sock_tune(int fd, int family);
int lm_udp_master_open(struct lm *lm);
int lm_udp_link_open(struct lm_link *l);
void lm_udp_link_close(struct lm_link *l);
int lm_udp_xmit(struct lm *lm, struct lm_link *l, uint8_t *pkt, size_t len);
int lm_bind_link_socket(struct lm_link *l, int fd);

/* stream.c */
void lm_tcp_tune(int fd);
int lm_tcp_listen(struct lm *lm);
void lm_tcp_close_all(struct lm *lm);
struct lm_stream *lm_stream_new(struct lm *lm, struct lm_link *owner);
void lm_stream_attach(struct lm_stream *s, int fd, const uint8_t *pre,
		      size_t prelen);
void lm_stream_close(struct lm_stream *s);
bool lm_stream_open(const struct lm_stream *s);
/* pkt has at least 2 bytes of headroom in front of it. */
int lm_stream_send(struct lm_stream *s, uint8_t *pkt, size_t len);

/* proxy.c */
int lm_proxy_new(struct lm_link *l, const struct lm_link_cfg *c);
void lm_proxy_free(struct lm_link *l);
void lm_proxy_reset(struct lm_link *l, const char *why);
void lm_proxy_heard(struct lm_link *l);
void lm_proxy_silent(struct lm_link *l);
void lm_proxy_stream_lost(struct lm_link *l);
/* Sends on the relay or the CONNECT stream; pkt has LM_HEADROOM. */
int lm_proxy_xmit(struct lm_link *l, uint8_t *pkt, size_t len);

#endif
