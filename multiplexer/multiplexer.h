/* SPDX-License-Identifier: MIT */
/* multiplexer: which link each packet goes on, and which links are alive. */
#ifndef BRAID_MULTIPLEXER_H
#define BRAID_MULTIPLEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#define MUX_MAX_LINKS 64
#define MUX_NAME_LEN 32
#define MUX_MAX_PORTS 16

/* Message types the multiplexer puts in the wire header's type field. */
enum mux_msg {
	MUX_MSG_DATA = 1,	/* payload: one IP packet */
	MUX_MSG_KEEPALIVE = 2,	/* slave -> master, see docs/PROTOCOL.md */
	MUX_MSG_KEEPALIVE_ACK = 3,	/* master -> slave, echoes the stamp */
	MUX_MSG_FEEDBACK = 4,	/* both ways: what a link delivered */
	MUX_MSG_HC_CTX = 5,	/* both ways: a header compression context */
	MUX_MSG_HC_ACK = 6,	/* both ways: it is known, or not */
	MUX_MSG_LOST = 7,	/* both ways: a link's packets went missing */
};

enum mux_sched {
	MUX_SCHED_EARLIEST,	/* the link where it arrives first */
	MUX_SCHED_EQUALIZED,	/* the same, each packet held back until it
				 * arrives as late as the slowest link's */
	MUX_SCHED_ROUNDROBIN,	/* weighted round-robin */
};

struct mux_ops {
	/* Send a message on a link; returns 0 or -errno. */
	int (*send)(void *ctx, uint16_t link_id, uint8_t type,
		    const void *buf, size_t len);
	/* A data packet arrived from the other side. */
	void (*deliver)(void *ctx, uint16_t link_id, uint8_t *pkt, size_t len);
	/* Optional: a link came up or went down. */
	void (*state)(void *ctx, uint16_t link_id, bool up);
	/* Optional: a link is gone (mux_link_del, or the slave removed it). */
	void (*removed)(void *ctx, uint16_t link_id);
};

struct mux_cfg {
	bool master;		/* learn links from the peer; answer keepalives */
	size_t max_packet;	/* largest packet to hold for reordering */
	enum mux_sched sched;
	bool redundant;		/* every packet on the two best links */
	bool compress;		/* send TCP headers compressed (received
				 * ones are always rebuilt) */
	bool measure;		/* a link that comes up is measured with
				 * padding (not backup links) */
	/* or only UDP and TCP to or from these ports */
	uint16_t redundant_ports[MUX_MAX_PORTS];
	size_t n_redundant_ports;
	double keepalive;	/* slave: seconds between keepalives per link */
	double dead_time;	/* seconds of silence before a link is down */
	const struct mux_ops *ops;
	void *ctx;
};

struct mux_link_stats {
	char name[MUX_NAME_LEN];
	bool up;
	bool stream;		/* runs over a TCP stream */
	bool backup;		/* used only when the others are down or full */
	bool stalled;		/* stopped delivering: probed, not used */
	unsigned weight;
	double rtt;		/* seconds, last keepalive round trip; 0 = none */
	double srtt, min_rtt;	/* from data feedback; 0 = none yet */
	double rate;		/* delivery rate, bytes/s */
	double loss;		/* fraction of packets lost, smoothed */
	uint64_t inflight;	/* bytes sent, not yet confirmed */
	double cwnd;		/* bytes it may have in flight */
	double hold;		/* s its packets wait before they leave
				 * (scheduler equalized), 0: none */
	double rate_cap;	/* bytes/s, 0: none */
	uint64_t data_tx, data_rx;	/* data packets scheduled / delivered */
	uint64_t send_fail;	/* data packets the link refused (they
				 * went on another link, not lost) */
	uint64_t ctl_lost;	/* keepalives and answers its full
				 * buffer refused */
	uint64_t downs;		/* times the link went down */
	uint64_t stalls;	/* times it stopped delivering */
	uint64_t resent;	/* its packets resent on other links */
};

/* The reorder buffer on receive. */
struct mux_reorder_stats {
	uint64_t held;		/* packets that waited for an earlier one */
	uint64_t late;		/* released after their hole was given up */
	uint64_t lost;		/* holes given up */
	uint64_t dup;		/* second copies dropped */
	uint64_t overflow;	/* buffer overruns (holes given up early) */
	uint64_t early;		/* released past a hole of another flow */
};

struct mux_stats {
	uint64_t no_link;	/* packets dropped: no link up */
	uint64_t malformed;	/* data messages too short for the header */
	uint64_t congested;	/* dropped: no link had room in time, or
				 * their socket buffers were full */
	uint64_t queued;	/* packets that waited for room */
	uint64_t copies;	/* second copies sent (redundant mode) */
	uint64_t rexmit_kept;	/* TCP retransmissions queued, not dropped */
	uint64_t hc_tx;		/* packets sent with compressed headers */
	uint64_t hc_saved;	/* bytes their compression saved */
	uint64_t hc_rx;		/* compressed packets rebuilt */
	uint64_t hc_drop;	/* compressed packets dropped: context not
				 * known (yet), or the rebuilt packet failed
				 * its TCP checksum */
	struct mux_reorder_stats reorder;
};

/* Every data message starts with this header (sequence numbers); mux_send
 * needs this much writable room in front of the packet. */
#define MUX_HDR_LEN 10

struct mux;

int mux_new(struct mux **out, struct ev_loop *loop, const struct mux_cfg *c);
void mux_free(struct mux *m);

/* Adds a link; weight 0 means 1. Slave links start down and come up when
 * their first keepalive is answered. */
int mux_link_add(struct mux *m, uint16_t id, const char *name,
		 unsigned weight);

/* A backup link carries data only while no other link is up and has
 * room; the slave tells the master. */
void mux_link_set_backup(struct mux *m, uint16_t id, bool backup);

/* Removes a link. With drain, the link takes nothing new but keeps
 * receiving until what it has in flight is confirmed (at most 1 s) and
 * tells the master, which does the same; then, or at once without
 * drain, the rest is resent on the others, the link freed and
 * ops->removed called. Returns 0 or -ENOENT. */
int mux_link_del(struct mux *m, uint16_t id, bool drain);
void mux_link_set_weight(struct mux *m, uint16_t id, unsigned weight);
/* Caps what the link is given, in bytes/s (0: no cap); the slave tells
 * the master, which caps its side too. */
void mux_link_set_rate_cap(struct mux *m, uint16_t id, double cap);

/* The link now runs over a TCP stream (or UDP again). A stream link is
 * never preferred over a UDP link of the same weight. */
void mux_link_set_stream(struct mux *m, uint16_t id, bool stream);

/* Sends one packet from the TUN on the link where it arrives first (or
 * the next in the rotation), or queues it briefly until a link has room;
 * pkt must have MUX_HDR_LEN writable bytes in front of it. Returns 0 if
 * sent or queued, -ENOBUFS if dropped for congestion, -ENETUNREACH if
 * no link is up. */
int mux_send(struct mux *m, uint8_t *pkt, size_t len);

/* Takes one authenticated message that arrived on a link. */
void mux_input(struct mux *m, uint16_t link_id, uint8_t type, uint8_t *buf,
	       size_t len);

/* Fills ids with up to n link ids; returns how many links there are. */
size_t mux_links(const struct mux *m, uint16_t *ids, size_t n);
int mux_link_stats(const struct mux *m, uint16_t id, struct mux_link_stats *out);
void mux_stats(const struct mux *m, struct mux_stats *out);

#endif
