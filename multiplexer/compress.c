/* SPDX-License-Identifier: MIT */
/* Header compression for TCP over IPv4 and IPv6 (docs/PROTOCOL.md,
 * "Header compression"). What stays the same in a flow (addresses, ports,
 * TTL, DSCP, the option layout) is sent once as a context; its packets then
 * carry only what changes, whole or relative to the context (never to an
 * earlier packet, so loss and reordering across links cannot desynchronise
 * anything): the ack and window left out when they are the context's, the
 * timestamps as 16-bit offsets from the context's, to a receiver that said
 * it takes those. A packet is compressed only once the receiver confirmed the
 * context, and the rebuilt packet must pass its own TCP checksum or it is
 * dropped. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "multiplexer-int.h"

#define HC_RETRY 0.05		/* s between offers of an unconfirmed context */
#define HC_IDLE 2.0		/* s a flow's context is kept from other flows */
#define HC_NACK_GAP 0.02	/* s between "unknown context" answers */
#define HC_PREV_KEEP 1.0	/* s a replaced generation is still taken:
				 * its packets may still be on their way */
#define HC_ACK_LEN 4		/* cid|gen (u16), code (u8), what it takes */
#define HC_ACK_MIN 3		/* from a receiver that takes no short forms */
#define HC_ACK_OK 0
#define HC_ACK_UNKNOWN 1
#define HC_TAKES_SHORT 0x01	/* MUX_HC_SHORT */

_Static_assert(MUX_FLOW_BUCKETS == 1 << 10, "a context id is 10 bits");

/* The ack, window and timestamps of a context's first packet: its
 * packets' are sent relative to them. */
struct hc_ref {
	uint16_t win;
	uint32_t ack, tsval, tsecr;
};

struct hc_tx {
	uint8_t hdr[MUX_HC_MAX_HDR];	/* the headers, what changes zeroed */
	uint8_t hlen, gen;
	bool used, confirmed, offered;
	bool short_ok;			/* the receiver takes short forms */
	struct hc_ref ref;
	double used_at, offered_at;
};

struct hc_gen {
	uint8_t hdr[MUX_HC_MAX_HDR];
	uint8_t hlen, gen;
	bool valid;
	struct hc_ref ref;
};

struct hc_rx {
	struct hc_gen cur, prev;	/* the newest, the one it replaced */
	double prev_until;
	double nack_at;
};

struct mux_hc {
	struct hc_tx tx[MUX_FLOW_BUCKETS];
	struct hc_rx rx[MUX_FLOW_BUCKETS];
	uint8_t buf[];			/* a rebuilt packet */
};

static uint64_t sum16(uint64_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += get_be16(p);
	if (n)
		s += (uint64_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint64_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static uint16_t ip4_csum(const uint8_t *ip)
{
	return (uint16_t)~fold(sum16(0, ip, 10) + sum16(0, ip + 12, 8));
}

static bool tcp_csum_ok(const uint8_t *pkt, size_t len, bool v6)
{
	size_t ip = v6 ? 40 : 20;
	uint64_t s = v6 ? sum16(0, pkt + 8, 32) : sum16(0, pkt + 12, 8);

	s += IPPROTO_TCP + (len - ip);
	return fold(sum16(s, pkt + ip, len - ip)) == 0xffff;
}

/* The header layout: IPv4 without options or IPv6 without extension
 * headers, then TCP without options or with exactly NOP NOP timestamps
 * (what Linux sends once a connection is set up). Returns the length of
 * the headers, 0 if the layout is not one we compress. */
static size_t layout(const uint8_t *p, size_t n, bool *v6, bool *ts)
{
	static const uint8_t ts_opt[4] = { 1, 1, 8, 10 };
	size_t ip;
	const uint8_t *t;

	if (n >= 40 && p[0] == 0x45 && p[9] == IPPROTO_TCP) {
		*v6 = false;
		ip = 20;
	} else if (n >= 60 && p[0] >> 4 == 6 && p[6] == IPPROTO_TCP) {
		*v6 = true;
		ip = 40;
	} else {
		return 0;
	}
	t = p + ip;
	if (t[12] >> 4 == 5) {
		*ts = false;
		return ip + 20;
	}
	if (t[12] >> 4 == 8 && n >= ip + 32 && !memcmp(t + 20, ts_opt, 4)) {
		*ts = true;
		return ip + 32;
	}
	return 0;
}

/* Copies the headers with what changes per packet zeroed: lengths, IPv4
 * id and checksum, ECN, TCP sequence, ack, flags, window, checksum and
 * timestamps. */
static void mask(uint8_t *out, const uint8_t *p, size_t hl, bool v6, bool ts)
{
	uint8_t *t = out + (v6 ? 40 : 20);

	memcpy(out, p, hl);
	if (v6) {
		out[1] &= 0xcf;
		memset(out + 4, 0, 2);
	} else {
		out[1] &= 0xfc;
		memset(out + 2, 0, 4);
		memset(out + 10, 0, 2);
	}
	memset(t + 4, 0, 8);
	t[13] = 0;
	memset(t + 14, 0, 4);
	if (ts)
		memset(t + 24, 0, 8);
}

/* Whether pkt can be compressed (its headers' length in *hl): the layout
 * above, lengths that match len, not a fragment, no SYN (its options
 * differ) or urgent data, an IPv4 checksum the receiver will compute the
 * same. */
static bool compressible(const uint8_t *pkt, size_t len, size_t *hl,
			 bool *v6, bool *ts)
{
	const uint8_t *t;

	*hl = layout(pkt, len, v6, ts);
	if (!*hl)
		return false;
	if (*v6) {
		if (get_be16(pkt + 4) != len - 40)
			return false;
	} else if (get_be16(pkt + 2) != len ||
		   (get_be16(pkt + 6) & 0x3fff) ||
		   get_be16(pkt + 10) != ip4_csum(pkt)) {
		return false;
	}
	t = pkt + (*v6 ? 40 : 20);
	return !(t[13] & (TH_SYN | TH_URG)) && !get_be16(t + 18);
}

static void ref_get(struct hc_ref *r, const uint8_t *t, bool ts)
{
	r->ack = get_be32(t + 8);
	r->win = get_be16(t + 14);
	r->tsval = ts ? get_be32(t + 24) : 0;
	r->tsecr = ts ? get_be32(t + 28) : 0;
}

static void ref_put(uint8_t *t, const struct hc_ref *r, bool ts)
{
	put_be32(t + 8, r->ack);
	put_be16(t + 14, r->win);
	if (ts) {
		put_be32(t + 24, r->tsval);
		put_be32(t + 28, r->tsecr);
	}
}

/* Whether two masked headers are of one flow: addresses and ports. */
static bool same_flow(const uint8_t *a, const uint8_t *b)
{
	bool v6 = a[0] >> 4 == 6;
	size_t ip = v6 ? 40 : 20;

	return a[0] >> 4 == b[0] >> 4 &&
	       !memcmp(a + (v6 ? 8 : 12), b + (v6 ? 8 : 12), v6 ? 32 : 8) &&
	       !memcmp(a + ip, b + ip, 4);
}

int mux_hc_init(struct mux *m)
{
	m->hc = calloc(1, sizeof(*m->hc) + m->cfg.max_packet);
	return m->hc ? 0 : -1;
}

void mux_hc_free(struct mux *m)
{
	free(m->hc);
	m->hc = NULL;
}

void mux_hc_reset(struct mux *m)
{
	for (size_t i = 0; i < MUX_FLOW_BUCKETS; i++) {
		m->hc->tx[i].confirmed = false;
		m->hc->tx[i].offered = false;
		m->hc->rx[i].cur.valid = false;
		m->hc->rx[i].prev.valid = false;
	}
}

static uint16_t cid_gen(unsigned cid, unsigned gen)
{
	return (uint16_t)(cid << 6 | (gen & 0x3f));
}

/* Offers the context, with its window and timestamps in their places, on
 * every link that is up: whichever arrives first is answered. */
static void offer(struct mux *m, unsigned cid, struct hc_tx *c, double now)
{
	uint8_t b[2 + MUX_HC_MAX_HDR];
	size_t ip = c->hdr[0] >> 4 == 6 ? 40 : 20;

	put_be16(b, cid_gen(cid, c->gen));
	memcpy(b + 2, c->hdr, c->hlen);
	ref_put(b + 2 + ip, &c->ref, c->hlen > ip + 20);
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)
		if (m->links[i].used && m->links[i].up)
			m->cfg.ops->send(m->cfg.ctx, m->links[i].id,
					 MUX_MSG_HC_CTX, b, 2u + c->hlen);
	c->offered = true;
	c->offered_at = now;
}

/* Whether an offset from the context's timestamp is a long time on
 * (more than 16 bits' worth, not a step back): the flow needs a context
 * with newer ones to send short timestamps again. */
static bool ts_passed(uint32_t d)
{
	return d > 0xffff && d < 1u << 31;
}

uint8_t *mux_hc_compress(struct mux *m, uint8_t *pkt, size_t *len,
			 unsigned cid, double now)
{
	uint8_t key[MUX_HC_MAX_HDR], h[MUX_HC_MAX_HDR];
	size_t hl, chl;
	bool v6, ts, sh, same_ack = false, same_win = false, ts16 = false;
	uint32_t dval = 0, decr = 0;
	struct hc_tx *c;
	const uint8_t *t;
	uint8_t *q;

	if (!m->cfg.compress || !compressible(pkt, *len, &hl, &v6, &ts) ||
	    mux_chosen(m->cfg.redundant_ports, m->cfg.n_redundant_ports, pkt,
		       *len))
		return pkt;
	c = &m->hc->tx[cid];
	t = pkt + (v6 ? 40 : 20);
	mask(key, pkt, hl, v6, ts);
	if (ts) {
		dval = get_be32(t + 24) - c->ref.tsval;
		decr = get_be32(t + 28) - c->ref.tsecr;
	}
	if (!c->used || c->hlen != hl || memcmp(c->hdr, key, hl) ||
	    (c->confirmed && c->short_ok && ts &&
	     (ts_passed(dval) || ts_passed(decr)))) {
		/* another flow's, still in use: this one goes whole */
		if (c->used && now - c->used_at < HC_IDLE &&
		    !same_flow(key, c->hdr))
			return pkt;
		memcpy(c->hdr, key, hl);
		c->hlen = (uint8_t)hl;
		c->gen = (c->gen + 1) & 0x3f;
		c->used = true;
		c->confirmed = false;
		c->offered = false;
		ref_get(&c->ref, t, ts);
	}
	c->used_at = now;
	if (!c->confirmed) {
		if (!c->offered || now - c->offered_at >= HC_RETRY)
			offer(m, cid, c, now);
		return pkt;
	}
	/* the short form has ACK implied (a segment without it, an RST,
	 * goes in the long form) */
	sh = c->short_ok && (t[13] & TH_ACK);
	if (sh) {
		same_ack = get_be32(t + 8) == c->ref.ack;
		same_win = get_be16(t + 14) == c->ref.win;
		ts16 = ts && dval <= 0xffff && decr <= 0xffff;
	}
	h[0] = (uint8_t)((sh ? MUX_HC_SHORT : MUX_HC_MARK) |
			 (v6 ? MUX_HC_V6 : 0) | (ts ? MUX_HC_TS : 0) |
			 (v6 ? (pkt[1] >> 4) & 3 : pkt[1] & 3));
	put_be16(h + 1, cid_gen(cid, c->gen));
	h[3] = sh ? (uint8_t)((t[13] & ~TH_ACK) |
			      (same_ack ? MUX_HC_SAME_ACK : 0) |
			      (same_win ? MUX_HC_SAME_WIN : 0) |
			      (ts16 ? MUX_HC_TS16 : 0)) : t[13];
	q = h + 4;
	if (!v6) {
		memcpy(q, pkt + 4, 2);	/* id */
		q += 2;
	}
	memcpy(q, t + 4, 4);		/* sequence */
	q += 4;
	if (!same_ack) {
		memcpy(q, t + 8, 4);
		q += 4;
	}
	if (!same_win) {
		memcpy(q, t + 14, 2);
		q += 2;
	}
	memcpy(q, t + 16, 2);		/* checksum */
	q += 2;
	if (ts16) {
		put_be16(q, (uint16_t)dval);
		put_be16(q + 2, (uint16_t)decr);
		q += 4;
	} else if (ts) {
		memcpy(q, t + 24, 8);
		q += 8;
	}
	chl = (size_t)(q - h);
	memcpy(pkt + hl - chl, h, chl);
	*len -= hl - chl;
	m->st.hc_tx++;
	m->st.hc_saved += hl - chl;
	return pkt + hl - chl;
}

static void answer(struct mux *m, struct mux_link *l, uint16_t cg,
		   uint8_t code)
{
	uint8_t b[HC_ACK_LEN];

	put_be16(b, cg);
	b[2] = code;
	b[3] = HC_TAKES_SHORT;
	m->cfg.ops->send(m->cfg.ctx, l->id, MUX_MSG_HC_ACK, b, sizeof(b));
}

void mux_hc_ctx_in(struct mux *m, struct mux_link *l, const uint8_t *b,
		   size_t len)
{
	struct hc_rx *r;
	bool v6, ts;
	size_t hl;

	if (len < 3 || (hl = layout(b + 2, len - 2, &v6, &ts)) != len - 2) {
		m->st.malformed++;
		return;
	}
	r = &m->hc->rx[get_be16(b) >> 6];
	if (r->cur.valid && r->cur.gen != (b[1] & 0x3f)) {
		r->prev = r->cur;
		r->prev_until = ev_now(m->loop) + HC_PREV_KEEP;
	}
	ref_get(&r->cur.ref, b + 2 + (v6 ? 40 : 20), ts);
	mask(r->cur.hdr, b + 2, hl, v6, ts);
	r->cur.hlen = (uint8_t)hl;
	r->cur.gen = b[1] & 0x3f;
	r->cur.valid = true;
	answer(m, l, get_be16(b), HC_ACK_OK);
}

void mux_hc_ack_in(struct mux *m, const uint8_t *b, size_t len)
{
	struct hc_tx *c;

	if (len < HC_ACK_MIN) {
		m->st.malformed++;
		return;
	}
	c = &m->hc->tx[get_be16(b) >> 6];
	if (!c->used || c->gen != (b[1] & 0x3f))
		return;		/* about a context since replaced */
	if (b[2] == HC_ACK_OK) {
		c->confirmed = true;
		c->short_ok = len >= HC_ACK_LEN && (b[3] & HC_TAKES_SHORT);
	} else if (b[2] == HC_ACK_UNKNOWN && c->confirmed) {
		c->confirmed = false;	/* the receiver lost it: again */
		c->offered = false;
	}
}

size_t mux_hc_expand(struct mux *m, struct mux_link *l, const uint8_t *p,
		     size_t n, double now)
{
	struct hc_rx *r;
	const struct hc_gen *g;
	uint8_t *out = m->hc->buf, *t;
	size_t chl = mux_hc_len(p, n), total, ip;
	bool v6, ts, sh;
	uint8_t f, same;
	const uint8_t *q;

	if (!chl || n < chl) {
		m->st.malformed++;
		return 0;
	}
	r = &m->hc->rx[get_be16(p + 1) >> 6];
	g = r->cur.valid && r->cur.gen == (p[2] & 0x3f) ? &r->cur :
	    r->prev.valid && r->prev.gen == (p[2] & 0x3f) &&
	    now < r->prev_until ? &r->prev : NULL;
	if (!g) {
		m->st.hc_drop++;
		if (now - r->nack_at >= HC_NACK_GAP) {
			r->nack_at = now;
			answer(m, l, get_be16(p + 1), HC_ACK_UNKNOWN);
		}
		return 0;
	}
	v6 = p[0] & MUX_HC_V6;
	ts = p[0] & MUX_HC_TS;
	sh = (p[0] & 0xf0) == MUX_HC_SHORT;
	/* the flags as they were, and which short forms the packet has */
	f = sh ? (uint8_t)((p[3] & ~MUX_HC_SHORTS) | TH_ACK) : p[3];
	same = sh ? p[3] & MUX_HC_SHORTS : 0;
	ip = v6 ? 40 : 20;
	total = g->hlen + n - chl;
	if (g->hlen != ip + (ts ? 32 : 20) || total > m->cfg.max_packet ||
	    (f & (TH_SYN | TH_URG)) || ((same & MUX_HC_TS16) && !ts)) {
		m->st.hc_drop++;
		return 0;
	}
	memcpy(out, g->hdr, g->hlen);
	memcpy(out + g->hlen, p + chl, n - chl);
	t = out + ip;
	q = p + 4;
	if (v6) {
		put_be16(out + 4, (uint16_t)(total - 40));
		out[1] |= (uint8_t)((p[0] & 3) << 4);
	} else {
		put_be16(out + 2, (uint16_t)total);
		out[1] |= p[0] & 3;
		memcpy(out + 4, q, 2);
		q += 2;
		put_be16(out + 10, ip4_csum(out));
	}
	t[13] = f;
	memcpy(t + 4, q, 4);		/* sequence */
	q += 4;
	if (same & MUX_HC_SAME_ACK) {
		put_be32(t + 8, g->ref.ack);
	} else {
		memcpy(t + 8, q, 4);
		q += 4;
	}
	if (same & MUX_HC_SAME_WIN) {
		put_be16(t + 14, g->ref.win);
	} else {
		memcpy(t + 14, q, 2);
		q += 2;
	}
	memcpy(t + 16, q, 2);		/* checksum */
	q += 2;
	if (same & MUX_HC_TS16) {
		put_be32(t + 24, g->ref.tsval + get_be16(q));
		put_be32(t + 28, g->ref.tsecr + get_be16(q + 2));
	} else if (ts) {
		memcpy(t + 24, q, 8);
	}
	if (!tcp_csum_ok(out, total, v6)) {
		m->st.hc_drop++;
		return 0;
	}
	m->st.hc_rx++;
	return total;
}

uint8_t *mux_hc_packet(const struct mux *m)
{
	return m->hc->buf;
}
