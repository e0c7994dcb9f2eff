/* SPDX-License-Identifier: MIT */
/* linkmap: the links between slave and master, their sockets and the
 * sealed wire format that rides on them. */
#ifndef BRAID_LINKMAP_H
#define BRAID_LINKMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#define LM_KEY_LEN 32
#define LM_WIRE_VERSION 3		/* docs/PROTOCOL.md; both ends the same */
#define LM_MAX_LINKS 64
#define LM_BUF_LEN 9216			/* largest packet on the wire */
#define LM_MAX_PAYLOAD (LM_BUF_LEN - 28)	/* minus header (12) and tag (16) */

struct lm;

struct lm_ops {
	/* An authenticated, fresh packet arrived on link_id. */
	void (*recv)(void *ctx, uint16_t link_id, uint8_t type,
		     uint8_t *payload, size_t len);
	/* Optional: link_id now runs over a TCP stream (true) or UDP. */
	void (*transport)(void *ctx, uint16_t link_id, bool stream);
};

enum lm_link_type {
	LM_LINK_UDP,		/* direct UDP */
	LM_LINK_SOCKS5,		/* UDP through a SOCKS5 relay (UDP ASSOCIATE) */
	LM_LINK_SOCKS5_TCP,	/* a stream through a SOCKS5 CONNECT */
};

/* A slave link. Strings are copied. */
struct lm_link_cfg {
	uint16_t id;
	const char *name;
	enum lm_link_type type;
	const char *ifname;		/* SO_BINDTODEVICE, or NULL */
	const struct sockaddr *bind;	/* source address, or NULL */
	socklen_t bind_len;
	/* SOCKS5 links */
	const struct sockaddr *proxy;
	socklen_t proxy_len;
	const char *username, *password;	/* NULL: no auth */
	bool fallback;		/* socks5: turn to CONNECT if UDP fails */
};

struct lm_cfg {
	bool master;
	uint8_t key[LM_KEY_LEN];
	/* master: where to listen; slave: where the master is. */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	double rekey;		/* slave: seconds between handshakes; 0: 120 */
	bool no_tcp;		/* master: no TCP listener for streams */
	uint32_t fwmark;	/* slave: SO_MARK on every link socket; 0 none */
	const struct lm_ops *ops;
	void *ctx;
};

/* Counters of one link; bytes are UDP payload bytes on the wire. */
struct lm_link_stats {
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_packets, rx_bytes;
	uint64_t drops;			/* packets we failed to send (not
					 * for a full buffer: lm_send) */
	struct sockaddr_storage peer;	/* master: where the link is now */
	socklen_t peer_len;
	bool stream;			/* runs over a TCP stream */
};

/* Packets dropped before they could be tied to a link. */
struct lm_stats {
	uint64_t auth_fail;		/* did not authenticate */
	uint64_t replay;		/* counter seen before or too old */
	uint64_t malformed;		/* bad header, version or length */
	uint64_t stale_session;		/* no such session, or expired */
	uint64_t hs_init;		/* handshakes completed */
	uint64_t hs_bad;		/* handshake messages that failed */
	uint64_t hs_stale;		/* replayed or outdated handshakes */
	uint64_t hs_ratelimited;	/* master: over the handshake rate */
	uint64_t no_slot;		/* master: link table full */
	uint64_t streams_refused;	/* master: too many TCP streams */
	uint64_t streams_dropped;	/* master: closed, bad or idle */
	double session_at;		/* when the current keys were made
					 * (loop time); 0: no session */
};

int lm_new(struct lm **out, struct ev_loop *loop, const struct lm_cfg *c);
void lm_free(struct lm *lm);

/* Slave: adds a link. Sockets are (re)opened on demand and proxies
 * re-negotiated with backoff, so a missing interface or an unreachable
 * proxy is retried, not fatal. */
int lm_link_add(struct lm *lm, const struct lm_link_cfg *c);

/* Slave: removes a link, closing its sockets and proxy connection. */
int lm_link_del(struct lm *lm, uint16_t id);

/* Slave: the link went silent; start its transport afresh (a new UDP
 * socket, so a new source port past a NAT that forgot the old one; a new
 * association or stream through a proxy). */
int lm_link_reset(struct lm *lm, uint16_t id);

/* Seals payload as a packet of the given type and sends it on link id.
 * -EAGAIN: this link is backed up (try another); -ENOBUFS: the master's
 * shared socket is full (no link would do better); -ENOTCONN: the link
 * has no transport yet. Other failures count in the link's drops; these
 * three do not: the caller tries again, elsewhere, or counts the loss. */
int lm_send(struct lm *lm, uint16_t id, uint8_t type, const void *payload,
	    size_t len);

int lm_link_stats(const struct lm *lm, uint16_t id, struct lm_link_stats *out);
void lm_stats(const struct lm *lm, struct lm_stats *out);

/* Formats a socket address as "1.2.3.4:5" or "[::1]:5". */
const char *lm_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
