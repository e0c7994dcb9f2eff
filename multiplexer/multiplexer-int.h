/* SPDX-License-Identifier: MIT */
/* multiplexer internals the tests reach: the scheduler by itself. */
#ifndef BRAID_MULTIPLEXER_INT_H
#define BRAID_MULTIPLEXER_INT_H

#include "multiplexer.h"

/* Smooth weighted round-robin over n entries (nginx's algorithm): picks
 * the eligible entry with the highest running credit, among the backups
 * only if no other entry is eligible. Returns its index or -1 if none is
 * eligible. */
struct mux_wrr {
	unsigned weight;
	long credit;
	bool eligible;
	bool stream;	/* a TCP stream: loses ties to a UDP link */
	bool backup;	/* only when no other entry is eligible */
};

int mux_wrr_pick(struct mux_wrr *w, size_t n);

/* Keepalive: stamp (u64, ns), weight (u16), flags (u16), name (32 bytes,
 * NUL padded), epoch (u32), the link's last round trip (u32, us). The
 * answer: stamp, epoch. */
#define MUX_KEEPALIVE_LEN 60
#define MUX_KEEPALIVE_MIN 52	/* before rate cap and incarnation */
#define MUX_KA_ACK_LEN 12
#define MUX_KA_BACKUP 0x1	/* flags: the link is a backup */
#define MUX_KA_REDUNDANT 0x2	/* flags: send every packet twice */
#define MUX_KA_LEAVING 0x4	/* flags: the link is being removed */
#define MUX_KA_PADDING 0x8	/* flags (and in the answer): takes padding */
#define MUX_KA_ACK_PAD_LEN 14	/* an answer with flags (u16) */
#define MUX_RETIRE_MAX 1.0	/* s a removed link may take to drain */

typedef void (*mux_deliver_fn)(void *ctx, uint8_t *pkt, size_t len);

/* Feedback a receiver sends on each link it got data on (measure.c). */
struct mux_fb {
	uint32_t lseq_max;	/* highest link sequence received */
	uint32_t rx_count;	/* packets received on the link, ever */
	uint64_t rx_bytes;	/* their bytes */
	double ack_delay;	/* s between that packet and the feedback */
	uint64_t seen;		/* bit k: lseq_max - 1 - k was received */
	uint32_t rx_at;		/* receiver's clock (us) when lseq_max came */
};
#define MUX_FB_LEN 32
#define MUX_LOST_LEN 14		/* link id, lseq_max, seen */
#define MUX_LOST_GAP 0.001	/* s between a link's LOST reports */

#define MUX_EST_RING 2048
#define MUX_EST_BW 16

struct mux_sent {
	uint32_t lseq;
	bool app_limited;	/* the link had room it was not given */
	double at;		/* when sent */
	double first_at;	/* when the newest acked packet was sent */
	double dlv_at;		/* when dlv was reported; 0: unknown */
	uint64_t dlv;		/* bytes the receiver had reported */
	uint32_t dlv_rx_at;	/* and its clock then */
	bool rx_stale;		/* that was before an idle spell */
	uint64_t bytes_cum;	/* bytes sent up to and with this one */
};

/* A sender's picture of one link, and its congestion window. */
struct mux_est {
	bool have_rtt, have_fb;
	double srtt, rttvar, min_rtt, min_rtt_at;
	double btlbw;			/* bytes/s, windowed max */
	bool measured;			/* a sample not app-limited seen */
	struct { double v, at; } bw[MUX_EST_BW];
	unsigned nbw;
	bool full;			/* startup over: rate stopped growing */
	double full_bw;
	unsigned full_cnt, rounds;
	uint64_t round_end;
	double loss;			/* fraction, smoothed */
	double cap;			/* bytes/s it may carry; 0: no cap */
	uint64_t sent_bytes, acked_bytes;
	uint32_t una, next_lseq;	/* oldest unacked; next to send */
	uint64_t dlv;			/* bytes delivered, as last reported */
	uint32_t dlv_rx_at;		/* the receiver's clock for it (us) */
	bool rx_stale;			/* reported before an idle spell */
	bool written_off;		/* inflight forgotten, not confirmed */
	double dlv_at, first_at;
	struct mux_fb fb;		/* the last feedback */
	double fb_at;
	double pace_debt, pace_t;	/* bytes given beyond the pacing
					 * rate, as of pace_t */
	uint64_t queued;		/* bytes waiting for pacing */
	double hold;			/* s each packet waits before it may
					 * leave (equalized), >= 0 */
	struct mux_sent ring[MUX_EST_RING];
};

void mux_est_init(struct mux_est *e);
void mux_est_sent(struct mux_est *e, uint32_t lseq, size_t bytes, double now);
/* Returns whether the feedback acknowledged something new. */
bool mux_est_feedback(struct mux_est *e, const struct mux_fb *fb, double now);
uint64_t mux_est_inflight(const struct mux_est *e);
/* Bytes the link may have in flight; whether bytes more fit (and a
 * place in the ring for them). */
double mux_est_cwnd(const struct mux_est *e);
bool mux_est_room(const struct mux_est *e, size_t bytes);
/* Whether bytes more fit the window overfilled by at most over bytes. */
bool mux_est_fits(const struct mux_est *e, size_t bytes, double over);
#define MUX_FB_INTERVAL 0.01	/* s between feedback messages */
#define MUX_FB_EVERY 32		/* or after this many packets */
/* Seconds of queue on the link now, by the estimate. */
double mux_est_queue(const struct mux_est *e);
/* How long an answer may take before the link counts as stalled. */
double mux_est_rto(const struct mux_est *e);
bool mux_est_stalled(const struct mux_est *e, double now);
void mux_est_forget_inflight(struct mux_est *e);
/* Seconds until a packet of bytes given now would arrive, if it may not
 * leave for wait s (its hold, or held packets ahead of it), over a link
 * of round trip base with no queue (0: not known). */
double mux_est_arrival(const struct mux_est *e, size_t bytes, double wait,
		       double base);
/* The same for a packet put ahead of those waiting to leave. */
double mux_est_arrival_first(const struct mux_est *e, size_t bytes,
			     double base);
/* Pacing: the rate the link is fed at (bytes/s, 0: not paced); how long
 * until a packet of bytes may leave; it left. Bytes given to the link
 * and not yet sent (queued) count against its window. */
double mux_est_pace_rate(const struct mux_est *e);
double mux_est_pace_wait(struct mux_est *e, size_t bytes, double now);
void mux_est_paced(struct mux_est *e, size_t bytes, double now);

/* A data message's dependency (header bytes 8-9): how far back the
 * previous packet of its flow was, which the receiver must have released
 * first; 0: everything before it (in plain sequence order). */
#define MUX_FLOW_BUCKETS 1024
#define MUX_DEP_NONE 0xffff	/* no earlier packet of its flow pending */

struct mux_slot {
	bool used;		/* holds packet seq */
	bool early;		/* packet seq went early (at: when it came) */
	bool has_waiter;	/* packet waiter depends on packet waiter_of */
	uint32_t waiter, waiter_of;
	bool done;		/* packet done_seq was delivered */
	bool gave_up;		/* packet done_seq was given up on ... */
	double hole_at;		/* ... after waiting since this */
	double at;		/* when the held packet arrived */
	uint16_t len;
	uint32_t seq, done_seq;
};

/* Bounded reorder buffer over 32-bit sequence numbers (reorder.c). */
struct mux_reorder {
	bool started;
	uint32_t next;			/* the sequence number due next */
	uint32_t top;			/* one past the highest seen */
	size_t cap, slot_len, held;
	struct mux_slot *slots;
	uint8_t *pool;			/* cap buffers of slot_len bytes */
	bool timing;			/* a hole is being waited for ... */
	double hole_since;		/* ... since this */
	double late_max, late_at;	/* how late filled holes were */
	struct mux_reorder_stats st;
};

int mux_reorder_init(struct mux_reorder *r, size_t slots, size_t slot_len);
void mux_reorder_free(struct mux_reorder *r);
/* Forgets everything: the sender restarted its sequence. */
void mux_reorder_reset(struct mux_reorder *r);
/* Takes packet seq, which depends on packet seq - dep (0: on all before
 * it; MUX_DEP_NONE: on none): released when what it depends on was. */
void mux_reorder_in(struct mux_reorder *r, uint32_t seq, uint16_t dep,
		    const uint8_t *pkt, size_t len, double now,
		    mux_deliver_fn fn, void *ctx);
/* Gives up the hole at the head (it is lost) and releases what follows. */
void mux_reorder_give_up(struct mux_reorder *r, double now,
			 mux_deliver_fn fn, void *ctx);
/* Whether something after the head arrived while the head did not. */
bool mux_reorder_hole(const struct mux_reorder *r);
/* How long a hole is waited for now; when the current one is given up
 * (0: no hole). */
double mux_reorder_hold(const struct mux_reorder *r);
double mux_reorder_deadline(const struct mux_reorder *r);

#define MUX_KEEP 1024		/* packets a link keeps for resending */
#define MUX_TXQ 256		/* packets waiting for room on some link */
#define MUX_TXQ_SOJOURN 0.060	/* s a waiting packet may wait (or 2 RTTs) */
#define MUX_SPARSE_LEN 256	/* bytes: small packets of idle flows first */
#define MUX_RESEND_AGE 0.5	/* s after which a packet is not resent */
#define MUX_PROBE_MAX 1.0	/* s between probes of a stalled link */
#define REORDER_SLOTS 2048
#define MUX_GRACE_UNKNOWN 0.050	/* s for a resend, before RTTs are known */
#define MUX_GRACE_MARGIN 0.005
#define MUX_GRACE_MAX 0.300
#define MUX_RTT_SANE 10.0	/* s: a round trip above this is a bad stamp */

struct mux_kept {
	uint32_t seq, lseq;
	uint16_t len;
	double at;		/* when given to the link; 0: resent */
	double due;		/* not sent before this (equalized) */
	bool pad;		/* padding: never resent */
};

struct mux_link {
	bool used;
	bool up;
	bool backup;		/* used only when the others are down or full */
	bool rx_seen;		/* has delivered data */
	bool stalled;		/* stopped delivering; probed, not used */
	bool retiring;		/* being removed: drains, takes nothing new */
	uint32_t incarnation;	/* slave: random per mux_link_add; master:
				 * the slave's, a new one resets the link */
	double retire_at;	/* then freed, its rest resent elsewhere */
	uint16_t id;
	uint32_t tx_lseq;	/* next per-link sequence number */
	uint32_t tx_next;	/* the first not sent yet: from here to
				 * tx_lseq they wait for pacing */
	uint32_t rx_max;	/* highest global sequence it delivered */
	struct mux_est est;	/* what the link does, from feedback */
	struct mux_fb rx_fb;	/* what we received, for our feedback */
	unsigned fb_pending;	/* packets received since our feedback */
	double rx_last;		/* when the newest packet arrived */
	double lost_sent;	/* when we last reported its losses */
	bool fb_due;
	double probe_at, probe_wait;	/* stalled: next probe, backoff */
	bool peer_pads;		/* the other side takes padding on it */
	bool measure_tried;	/* measured (or tried to) when it came up */
	double measure_end;	/* measured with padding until then; 0: not */
	double measure_at;	/* when that began */
	uint64_t measure_bytes;	/* padding sent */
	struct mux_kept *kept;	/* MUX_KEEP last packets, for resending */
	uint8_t *kept_pool;
	struct mux *m;
	ev_tstamp last_rx;
	ev_timer dead;		/* fires when the link may have gone silent */
	ev_timer ka;		/* slave: next keepalive */
	struct mux_link_stats st;
};

/* The link's round trip with no queue: measured with data, or else by
 * keepalives; 0: not known yet. */
static inline double mux_link_base_rtt(const struct mux_link *l)
{
	return l->est.have_rtt ? l->est.min_rtt : l->st.rtt;
}

struct mux_txq {
	size_t head, count;
	double at[MUX_TXQ];
	uint16_t len[MUX_TXQ];
	bool resend[MUX_TXQ];	/* keeps seq; at is when first sent */
	uint32_t seq[MUX_TXQ];
	uint8_t *pool;		/* MUX_TXQ buffers of MUX_HDR_LEN + max_packet */
	uint16_t flow[MUX_TXQ];	/* each packet's flow bucket */
	bool first[MUX_TXQ];	/* a resend or a small packet: goes first */
	bool again[MUX_TXQ];	/* a TCP retransmission: not dropped */
	uint16_t waiting[MUX_FLOW_BUCKETS];	/* packets queued per flow */
};

/* The furthest a TCP flow's data has reached (sequence number after its
 * last byte), to tell its retransmissions; ports tell flows sharing a
 * bucket apart. */
struct mux_tcp_end {
	uint32_t end, ports;
	bool known;
};

struct mux_hc;

struct mux {
	struct ev_loop *loop;
	struct mux_cfg cfg;
	struct mux_stats st;
	size_t slot_len;		/* MUX_HDR_LEN + max_packet */
	uint32_t tx_seq;		/* next global sequence number */
	/* per flow bucket: 1 << 32 | sequence of its last packet sent */
	uint64_t flow_last[MUX_FLOW_BUCKETS];
	struct mux_tcp_end tcp_end[MUX_FLOW_BUCKETS];
	uint32_t epoch, peer_epoch;	/* random per start: restarts show */
	bool peer_redundant;		/* the slave asked for it */
	struct mux_reorder ro;
	double lost_at;			/* when the hole at lost_next was */
	uint32_t lost_next;		/* known lost (0: not known) */
	struct mux_txq q;
	ev_timer ro_timer;		/* gives up a hole that waited enough */
	ev_timer fb_timer;		/* sends feedback, finds stalls */
	ev_timer pace_timer;		/* sends what waits for pacing */
	double pace_wake;		/* when it fires */
	struct mux_link links[MUX_MAX_LINKS];
	struct mux_wrr wrr[MUX_MAX_LINKS];	/* parallel to links[] */
	struct mux_hc *hc;		/* header compression contexts */
	uint8_t *pad;			/* a padding message (slot_len) */
	unsigned measuring;		/* links measured with it now */
};

/* classify.c: is pkt UDP or TCP from or to one of the n ports? */
bool mux_chosen(const uint16_t *ports, size_t n, const uint8_t *pkt,
		size_t len);
/* Does its sender time a round trip by it (equalized holds it back)?
 * Anything but a small packet (at most MUX_SPARSE_LEN bytes) that is not
 * a TCP segment with data, SYN or FIN: pings, DNS, game updates and TCP's
 * pure ACKs are not. */
bool mux_timed(const uint8_t *pkt, size_t len);
/* Its flow (addresses, protocol, ports) as one of MUX_FLOW_BUCKETS. */
unsigned mux_flow_bucket(const uint8_t *pkt, size_t len);
/* Is pkt TCP data its sender has sent before (a retransmission: it ends
 * no further than the flow's data had reached, in *t)? Moves *t on. */
bool mux_tcp_again(struct mux_tcp_end *t, const uint8_t *pkt, size_t len);

/* compress.c: TCP/IP header compression. A compressed packet (what
 * follows the data header) starts with MUX_HC_MARK (or MUX_HC_SHORT) |
 * flags | ECN, then the context id (10 bits) and generation (6 bits), TCP
 * flags, the IPv4 id, sequence, ack, window, TCP checksum and the
 * timestamps (in the short form the ack and window may be left out and
 * the timestamps go as offsets: below). */
#define MUX_HC_MARK 0x10	/* where an IP packet has its version */
#define MUX_HC_SHORT 0x20	/* the same, with the short forms below */
#define MUX_PAD 0x00		/* there: padding, counted, not delivered */
#define MUX_HC_V6 0x08
#define MUX_HC_TS 0x04		/* TCP timestamps follow */
#define MUX_HC_MAX_HDR 72	/* IPv6, TCP with timestamps */

/* MUX_HC_SHORT, to a receiver that said it takes it: in the TCP flags,
 * where SYN, URG and ACK are (ACK is always set, SYN and URG never), the
 * window is the context's (left out), the ack is the context's (left
 * out), the timestamps are 16-bit offsets from the context's. */
#define MUX_HC_SAME_WIN 0x02
#define MUX_HC_SAME_ACK 0x10
#define MUX_HC_TS16 0x20
#define MUX_HC_SHORTS (MUX_HC_SAME_WIN | MUX_HC_SAME_ACK | MUX_HC_TS16)

static inline bool mux_hc_mark(uint8_t b)
{
	return (b & 0xf0) == MUX_HC_MARK || (b & 0xf0) == MUX_HC_SHORT;
}

/* The compressed header's length if p starts one; 0 if not. */
static inline size_t mux_hc_len(const uint8_t *p, size_t n)
{
	bool s;

	if (n < 4 || !mux_hc_mark(p[0]))
		return 0;
	s = (p[0] & 0xf0) == MUX_HC_SHORT;
	return 16u + (p[0] & MUX_HC_V6 ? 0 : 2) -
	       (s && (p[3] & MUX_HC_SAME_WIN) ? 2 : 0) -
	       (s && (p[3] & MUX_HC_SAME_ACK) ? 4 : 0) +
	       (p[0] & MUX_HC_TS ? (s && (p[3] & MUX_HC_TS16) ? 4 : 8) : 0);
}

int mux_hc_init(struct mux *m);
void mux_hc_free(struct mux *m);
/* Forgets every context, both ways: the peer restarted. */
void mux_hc_reset(struct mux *m);
/* Compresses pkt in place if its flow's context is confirmed (offers the
 * context if not): returns where the packet now starts (pkt or further
 * on) and shortens *len. cid: the packet's flow bucket, which the
 * compressed packet keeps. */
uint8_t *mux_hc_compress(struct mux *m, uint8_t *pkt, size_t *len,
			 unsigned cid, double now);
/* A context offered on l, or the answer to one of ours. */
void mux_hc_ctx_in(struct mux *m, struct mux_link *l, const uint8_t *b,
		   size_t len);
void mux_hc_ack_in(struct mux *m, const uint8_t *b, size_t len);
/* Rebuilds the compressed packet p (n bytes) that came on l into the
 * buffer mux_hc_packet gives; returns its length, or 0 if it was
 * dropped (counted; an unknown context is answered). */
size_t mux_hc_expand(struct mux *m, struct mux_link *l, const uint8_t *p,
		     size_t n, double now);
uint8_t *mux_hc_packet(const struct mux *m);

/* sched.c: which link each packet goes on. */
int mux_sched_init(struct mux *m);
void mux_sched_free(struct mux *m);
int mux_link_sched_init(struct mux *m, struct mux_link *l);
void mux_link_sched_free(struct mux_link *l);
/* Sends what waits for room, now that some may have opened. */
void mux_sched_drain(struct mux *m);
/* Finds links that stopped delivering, resends their packets, probes. */
void mux_sched_tick(struct mux *m, double now);
/* Feedback fb says which of l's packets in flight were lost: they are
 * resent on the links where they arrive first. */
void mux_sched_lost(struct mux *m, struct mux_link *l, const struct mux_fb *fb);
/* The link is down or being removed: what it had in flight goes on the
 * others. */
void mux_sched_give_back(struct mux *m, struct mux_link *l);
/* Frees l (after mux_sched_give_back) and tells the owner. */
void mux_link_free(struct mux *m, struct mux_link *l);
/* The link was heard after a stall: probe it again at once. */
void mux_sched_heard(struct mux *m, struct mux_link *l);
/* The link came up: measured with padding if its rate is not known. */
void mux_sched_up(struct mux *m, struct mux_link *l);

#endif
