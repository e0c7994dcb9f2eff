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
#define LM_MAX_LINKS 64
#define LM_BUF_LEN 9216			/* largest packet on the wire */
#define LM_MAX_PAYLOAD (LM_BUF_LEN - 40)	/* minus header and tag */

struct lm;

struct lm_ops {
	/* An authenticated, fresh packet arrived on link_id. */
	void (*recv)(void *ctx, uint16_t link_id, uint8_t type,
		     uint8_t *payload, size_t len);
};

struct lm_cfg {
	bool master;
	uint8_t key[LM_KEY_LEN];
	/* master: where to listen; slave: where the master is. */
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const struct lm_ops *ops;
	void *ctx;
};

/* Counters of one link; bytes are UDP payload bytes on the wire. */
struct lm_link_stats {
	uint64_t tx_packets, tx_bytes;
	uint64_t rx_packets, rx_bytes;
	uint64_t drops;			/* packets we failed to send */
	struct sockaddr_storage peer;	/* master: where the link is now */
	socklen_t peer_len;
};

/* Packets dropped before they could be tied to a link. */
struct lm_stats {
	uint64_t auth_fail;		/* did not authenticate */
	uint64_t replay;		/* counter seen before or too old */
	uint64_t malformed;		/* bad header, version or length */
	uint64_t stale_session;		/* authentic but an old session */
	uint64_t no_slot;		/* master: link table full */
};

int lm_new(struct lm **out, struct ev_loop *loop, const struct lm_cfg *c);
void lm_free(struct lm *lm);

/* Slave: a UDP link leaving through ifname (SO_BINDTODEVICE) and/or from
 * the source address bind; either may be NULL. The socket is (re)opened
 * on demand, so a missing interface is retried, not fatal. */
int lm_link_add_udp(struct lm *lm, uint16_t id, const char *name,
		    const char *ifname, const struct sockaddr *bind,
		    socklen_t bind_len);

/* Slave: the link went silent; start its transport afresh (a new UDP
 * socket, so a new source port past a NAT that forgot the old one). */
int lm_link_reset(struct lm *lm, uint16_t id);

/* Seals payload as a packet of the given type and sends it on link id. */
int lm_send(struct lm *lm, uint16_t id, uint8_t type, const void *payload,
	    size_t len);

int lm_link_stats(const struct lm *lm, uint16_t id, struct lm_link_stats *out);
void lm_stats(const struct lm *lm, struct lm_stats *out);

/* Formats a socket address as "1.2.3.4:5" or "[::1]:5". */
const char *lm_addr_str(const struct sockaddr *sa, char *buf, size_t len);

#endif
