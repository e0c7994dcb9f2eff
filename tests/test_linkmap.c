/* SPDX-License-Identifier: MIT */
/* Tests for linkmap: wire header, sealing, replay window, and the socket
 * path between a master and a slave over loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <sodium.h>

#include "linkmap-int.h"

static const uint8_t psk[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static struct lm_hdr sample_hdr(void)
{
	return (struct lm_hdr){
		.version = LM_WIRE_VERSION, .type = 7, .link_id = 0x1234,
		.session = 0x0102030405060708ULL,
		.counter = 0x1122334455667788ULL,
	};
}

START_TEST(hdr_round_trip)
{
	struct lm_hdr h = sample_hdr(), d;
	uint8_t buf[LM_HDR_LEN + LM_TAG_LEN] = { 0 };

	ck_assert_int_eq(lm_hdr_encode(&h, buf, sizeof(buf)), LM_HDR_LEN);
	/* Network byte order, fixed offsets. */
	ck_assert_int_eq(buf[0], 1);
	ck_assert_int_eq(buf[1], 7);
	ck_assert_int_eq(buf[2], 0x12);
	ck_assert_int_eq(buf[3], 0x34);
	ck_assert_int_eq(buf[8], 0x01);
	ck_assert_int_eq(buf[15], 0x08);
	ck_assert_int_eq(buf[16], 0x11);
	ck_assert_int_eq(buf[23], 0x88);
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), LM_HDR_LEN);
	ck_assert_mem_eq(&d, &h, sizeof(h));
}
END_TEST

START_TEST(hdr_rejects)
{
	struct lm_hdr h = sample_hdr(), d;
	uint8_t buf[LM_HDR_LEN + LM_TAG_LEN] = { 0 };

	ck_assert_int_eq(lm_hdr_encode(&h, buf, LM_HDR_LEN - 1), -ENOBUFS);
	lm_hdr_encode(&h, buf, sizeof(buf));
	for (size_t len = 0; len < sizeof(buf); len++)
		ck_assert_int_eq(lm_hdr_decode(&d, buf, len), -EBADMSG);
	buf[0] = 2;
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EPROTO);
	buf[0] = 1;
	buf[5] = 1;	/* reserved */
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EBADMSG);
	buf[5] = 0;
	h.link_id = 0;
	lm_hdr_encode(&h, buf, sizeof(buf));
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EBADMSG);
	h = sample_hdr();
	h.session = 0;
	lm_hdr_encode(&h, buf, sizeof(buf));
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EBADMSG);
}
END_TEST

static int seal_sample(struct lm_session_key *sk, uint8_t *out, size_t outlen)
{
	struct lm_hdr h = sample_hdr();
	const char msg[] = "an IP packet, more or less";

	lm_session_key_derive(sk, psk, LM_DIR_TO_MASTER, h.session);
	return lm_seal(sk, &h, (const uint8_t *)msg, sizeof(msg), out, outlen);
}

START_TEST(seal_round_trip)
{
	struct lm_session_key sk;
	uint8_t pkt[256], *payload;
	struct lm_hdr h;
	int n, m;

	n = seal_sample(&sk, pkt, sizeof(pkt));
	ck_assert_int_eq(n, LM_OVERHEAD + 27);
	/* The payload is not on the wire in the clear. */
	ck_assert_ptr_null(memmem(pkt, n, "IP packet", 9));
	ck_assert_int_eq(lm_hdr_decode(&h, pkt, n), LM_HDR_LEN);
	m = lm_open(&sk, &h, pkt, n, &payload);
	ck_assert_int_eq(m, 27);
	ck_assert_str_eq((char *)payload, "an IP packet, more or less");
	ck_assert_int_eq(seal_sample(&sk, pkt, LM_OVERHEAD + 26), -ENOBUFS);
}
END_TEST

/* Every single-bit flip anywhere in the packet is rejected. */
START_TEST(seal_bit_flips)
{
	struct lm_session_key sk, cand;
	uint8_t pkt[256], copy[256], *payload;
	int n = seal_sample(&sk, pkt, sizeof(pkt));

	for (int bit = 0; bit < n * 8; bit++) {
		struct lm_hdr h;

		memcpy(copy, pkt, n);
		copy[bit / 8] ^= 1 << (bit % 8);
		if (lm_hdr_decode(&h, copy, n) < 0)
			continue;
		/* The receiver derives keys from the session it reads. */
		lm_session_key_derive(&cand, psk, LM_DIR_TO_MASTER, h.session);
		ck_assert_msg(lm_open(&cand, &h, copy, n, &payload) < 0,
			      "bit %d flipped and still opened", bit);
	}
}
END_TEST

START_TEST(seal_wrong_key_and_truncation)
{
	struct lm_session_key sk, other;
	uint8_t pkt[256], *payload, bad[32];
	struct lm_hdr h;
	int n = seal_sample(&sk, pkt, sizeof(pkt));

	lm_hdr_decode(&h, pkt, n);
	memcpy(bad, psk, 32);
	bad[31] ^= 0x80;
	lm_session_key_derive(&other, bad, LM_DIR_TO_MASTER, h.session);
	ck_assert_int_eq(lm_open(&other, &h, pkt, n, &payload), -EBADMSG);
	/* The other direction's key never opens it either. */
	lm_session_key_derive(&other, psk, LM_DIR_TO_SLAVE, h.session);
	ck_assert_int_eq(lm_open(&other, &h, pkt, n, &payload), -EBADMSG);
	for (int len = n - 1; len >= 0; len--) {
		uint8_t copy[256];

		memcpy(copy, pkt, n);
		ck_assert_int_lt(lm_open(&sk, &h, copy, len, &payload), 0);
	}
}
END_TEST

START_TEST(replay_in_order_and_duplicates)
{
	struct lm_replay r;

	lm_replay_init(&r);
	for (uint64_t c = 0; c < 1000; c++) {
		ck_assert(lm_replay_check(&r, c));
		lm_replay_mark(&r, c);
		ck_assert(!lm_replay_check(&r, c));
	}
	for (uint64_t c = 0; c < 1000; c++)
		ck_assert(!lm_replay_check(&r, c));
	ck_assert(!lm_replay_check(&r, UINT64_MAX));
}
END_TEST

/* Packets from a slow link arrive thousands of counters late and must
 * still be accepted, once. */
START_TEST(replay_skew_window)
{
	const uint64_t skew = LM_REPLAY_BITS - 64;
	struct lm_replay r;

	lm_replay_init(&r);
	for (uint64_t c = 0; c < 30000; c += 2)
		lm_replay_mark(&r, c);
	/* odd counters within the window: new, accepted once */
	for (uint64_t c = 30000 - skew + 1; c < 30000; c += 2) {
		ck_assert_msg(lm_replay_check(&r, c), "counter %llu",
			      (unsigned long long)c);
		lm_replay_mark(&r, c);
		ck_assert(!lm_replay_check(&r, c));
	}
	ck_assert(!lm_replay_check(&r, 29998 - skew - 1));
	ck_assert(!lm_replay_check(&r, 5));
	ck_assert(skew >= 8000);
}
END_TEST

/* The documented window: 16320 behind the highest, no more, no less. */
START_TEST(replay_window_edge)
{
	struct lm_replay r;

	lm_replay_init(&r);
	lm_replay_mark(&r, 16320);
	ck_assert(lm_replay_check(&r, 0));
	lm_replay_mark(&r, 16321);
	ck_assert(!lm_replay_check(&r, 0));
	ck_assert(lm_replay_check(&r, 1));
	lm_replay_mark(&r, 1);
	ck_assert(!lm_replay_check(&r, 1));
}
END_TEST

START_TEST(replay_big_jump)
{
	struct lm_replay r;

	lm_replay_init(&r);
	lm_replay_mark(&r, 10);
	lm_replay_mark(&r, 1000000);
	ck_assert(!lm_replay_check(&r, 10));
	ck_assert(!lm_replay_check(&r, 1000000));
	ck_assert(lm_replay_check(&r, 999999));
	ck_assert(lm_replay_check(&r, 1000000 - 8000));
	/* bits of the old block were cleared, not inherited */
	lm_replay_mark(&r, 1000000 + LM_REPLAY_BITS / 2);
	ck_assert(lm_replay_check(&r, 1000000 + 100));
}
END_TEST

/* ---- SOCKS5 messages: every reply from a proxy may be hostile ---- */

START_TEST(socks_greeting_and_auth)
{
	uint8_t buf[600];
	int m, st;

	ck_assert_int_eq(lm_socks_greeting(buf, sizeof(buf), false), 3);
	ck_assert_mem_eq(buf, "\x05\x01\x00", 3);
	ck_assert_int_eq(lm_socks_greeting(buf, sizeof(buf), true), 4);
	ck_assert_mem_eq(buf, "\x05\x02\x00\x02", 4);
	ck_assert_int_eq(lm_socks_greeting(buf, 3, true), -ENOBUFS);
	ck_assert_int_eq(lm_socks_method_decode((uint8_t *)"\x05", 1, &m),
			 -EAGAIN);
	ck_assert_int_eq(lm_socks_method_decode((uint8_t *)"\x04\x00", 2, &m),
			 -EPROTO);
	ck_assert_int_eq(lm_socks_method_decode((uint8_t *)"\x05\xff", 2, &m),
			 2);
	ck_assert_int_eq(m, LM_SOCKS_AUTH_REFUSED);
	ck_assert_int_eq(lm_socks_auth_encode(buf, sizeof(buf), "bob", "pw"),
			 8);
	ck_assert_mem_eq(buf, "\x01\x03" "bob" "\x02" "pw", 8);
	ck_assert_int_eq(lm_socks_auth_encode(buf, sizeof(buf), "", "pw"),
			 -EINVAL);
	memset(buf + 300, 'x', 256);
	buf[556] = 0;
	ck_assert_int_eq(lm_socks_auth_encode(buf, 100, "u", (char *)buf + 300),
			 -EINVAL);
	ck_assert_int_eq(lm_socks_auth_encode(buf, 5, "bob", "pw"), -ENOBUFS);
	ck_assert_int_eq(lm_socks_auth_decode((uint8_t *)"\x01", 1, &st),
			 -EAGAIN);
	ck_assert_int_eq(lm_socks_auth_decode((uint8_t *)"\x05\x00", 2, &st),
			 -EPROTO);
	ck_assert_int_eq(lm_socks_auth_decode((uint8_t *)"\x01\x01", 2, &st),
			 2);
	ck_assert_int_eq(st, 1);
}
END_TEST

START_TEST(socks_request_encoding)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(5555) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(443) };
	uint8_t buf[64];

	inet_pton(AF_INET, "198.18.0.2", &s4.sin_addr);
	ck_assert_int_eq(lm_socks_request(buf, sizeof(buf), LM_SOCKS_CMD_CONNECT,
					  (struct sockaddr *)&s4), 10);
	ck_assert_mem_eq(buf, "\x05\x01\x00\x01\xc6\x12\x00\x02\x15\xb3", 10);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	ck_assert_int_eq(lm_socks_request(buf, sizeof(buf), LM_SOCKS_CMD_UDP,
					  (struct sockaddr *)&s6), 22);
	ck_assert_mem_eq(buf, "\x05\x03\x00\x04\x20\x01\x0d\xb8", 8);
	ck_assert_mem_eq(buf + 20, "\x01\xbb", 2);
	ck_assert_int_eq(lm_socks_request(buf, 21, LM_SOCKS_CMD_UDP,
					  (struct sockaddr *)&s6), -ENOBUFS);
	/* a v4-mapped address goes out as IPv4 */
	inet_pton(AF_INET6, "::ffff:198.18.0.2", &s6.sin6_addr);
	ck_assert_int_eq(lm_socks_udp_encode(buf, sizeof(buf),
					     (struct sockaddr *)&s6), 10);
	ck_assert_mem_eq(buf, "\x00\x00\x00\x01\xc6\x12\x00\x02\x01\xbb", 10);
}
END_TEST

/* Every prefix of a valid reply asks for more; never a crash, never a
 * read past what was given. */
START_TEST(socks_reply_truncated)
{
	static const uint8_t v4[] = { 5, 0, 0, 1, 198, 18, 21, 1, 0xdb, 0x18 };
	static const uint8_t v6[] = { 5, 0, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0,
				      0, 0, 0, 0, 0, 0, 0, 1, 4, 0x38 };
	static const uint8_t nm[] = { 5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80 };
	const struct { const uint8_t *p; size_t n; } all[] = {
		{ v4, sizeof(v4) }, { v6, sizeof(v6) }, { nm, sizeof(nm) },
	};
	struct sockaddr_storage bnd;
	socklen_t bl;
	int rep;

	for (size_t k = 0; k < ARRAY_SIZE(all); k++) {
		for (size_t n = 0; n < all[k].n; n++) {
			uint8_t *copy = malloc(n ? n : 1);

			memcpy(copy, all[k].p, n);
			ck_assert_int_eq(lm_socks_reply_decode(copy, n, &rep,
							       &bnd, &bl),
					 -EAGAIN);
			free(copy);
		}
		ck_assert_int_eq(lm_socks_reply_decode(all[k].p, all[k].n,
						       &rep, &bnd, &bl),
				 (int)all[k].n);
		ck_assert_int_eq(rep, 0);
	}
	lm_socks_reply_decode(v4, sizeof(v4), &rep, &bnd, &bl);
	ck_assert_int_eq(bnd.ss_family, AF_INET);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)&bnd)->sin_port), 0xdb18);
	lm_socks_reply_decode(nm, sizeof(nm), &rep, &bnd, &bl);
	ck_assert_int_eq(bnd.ss_family, AF_UNSPEC);
}
END_TEST

START_TEST(socks_reply_malformed)
{
	struct sockaddr_storage bnd;
	socklen_t bl;
	int rep;

	/* wrong version, reserved byte set, unknown address type, empty
	 * name */
	ck_assert_int_eq(lm_socks_reply_decode((uint8_t *)"\x04\x00\x00\x01",
					       4, &rep, &bnd, &bl), -EPROTO);
	ck_assert_int_eq(lm_socks_reply_decode((uint8_t *)"\x05\x00\x01\x01",
					       4, &rep, &bnd, &bl), -EPROTO);
	ck_assert_int_eq(lm_socks_reply_decode((uint8_t *)"\x05\x00\x00\x09",
					       4, &rep, &bnd, &bl), -EPROTO);
	ck_assert_int_eq(lm_socks_reply_decode((uint8_t *)"\x05\x00\x00\x03\x00",
					       5, &rep, &bnd, &bl), -EPROTO);
	/* an error reply still parses, and says what it means */
	ck_assert_int_eq(lm_socks_reply_decode(
		(uint8_t *)"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00", 10,
		&rep, &bnd, &bl), 10);
	ck_assert_int_eq(rep, 7);
	ck_assert_str_eq(lm_socks_rep_str(rep), "command not supported");
	ck_assert_str_eq(lm_socks_rep_str(1), "general SOCKS server failure");
	ck_assert_str_eq(lm_socks_rep_str(200), "unknown reply code");
	ck_assert_str_eq(lm_socks_rep_str(-1), "unknown reply code");
}
END_TEST

START_TEST(socks_udp_header)
{
	struct sockaddr_storage src;
	socklen_t sl;
	uint8_t d[] = { 0, 0, 0, 1, 198, 18, 0, 2, 0x15, 0xb3, 'x' };

	ck_assert_int_eq(lm_socks_udp_decode(d, sizeof(d), &src, &sl), 10);
	ck_assert_int_eq(ntohs(((struct sockaddr_in *)&src)->sin_port), 5555);
	for (size_t n = 0; n < 10; n++)
		ck_assert_int_eq(lm_socks_udp_decode(d, n, &src, &sl), -EBADMSG);
	d[2] = 1;	/* a fragment: dropped, braid never fragments */
	ck_assert_int_eq(lm_socks_udp_decode(d, sizeof(d), &src, &sl), -EBADMSG);
	d[2] = 0;
	d[0] = 1;
	ck_assert_int_eq(lm_socks_udp_decode(d, sizeof(d), &src, &sl), -EBADMSG);
}
END_TEST

/* Random bytes of every short length: decoders return, in bounds (run
 * under ASan this also proves no overread). */
START_TEST(socks_random_input)
{
	struct sockaddr_storage a;
	socklen_t al;
	int v;

	for (int i = 0; i < 200000; i++) {
		size_t n = randombytes_uniform(40);
		uint8_t *b = malloc(n ? n : 1);
		int r;

		randombytes_buf(b, n);
		if (i & 1 && n > 3) {
			b[0] = 5;
			b[2] = 0;
			b[3] = 1 + randombytes_uniform(4);
		}
		r = lm_socks_reply_decode(b, n, &v, &a, &al);
		ck_assert(r == -EAGAIN || r == -EPROTO || (r > 0 && (size_t)r <= n));
		r = lm_socks_udp_decode(b, n, &a, &al);
		ck_assert(r == -EBADMSG || (r > 0 && (size_t)r <= n));
		r = lm_socks_method_decode(b, n, &v);
		ck_assert(r == -EAGAIN || r == -EPROTO || r == 2);
		free(b);
	}
}
END_TEST

/* ---- sessions, without sockets ---- */

/* A packet of session s, counter c, as the slave would send it. */
static int slave_pkt(uint8_t *pkt, size_t len, uint64_t s, uint64_t c)
{
	struct lm_hdr h = { .version = 1, .type = 1, .link_id = 1,
			    .session = s, .counter = c };
	struct lm_session_key sk;

	lm_session_key_derive(&sk, psk, LM_DIR_TO_MASTER, s);
	return lm_seal(&sk, &h, (const uint8_t *)"data", 4, pkt, len);
}

/* Feeds one packet (a copy, as opening decrypts in place); true if
 * taken. */
static bool feed(struct lm_peer *p, struct lm_stats *st, double now,
		 const uint8_t *pkt, int len)
{
	uint8_t copy[128], *payload;
	struct lm_hdr h;
	bool fresh;

	memcpy(copy, pkt, len);
	if (lm_peer_open(p, psk, LM_DIR_TO_MASTER, now, copy, len, &h,
			 &payload, &fresh, st) < 0)
		return false;
	lm_peer_commit(p, &h, fresh, now);
	return true;
}

/* The review's attack: after a restart and a quiet spell, recorded
 * packets of the old session and then of the live one must not be taken
 * again. */
START_TEST(session_no_replay_across_switches)
{
	const uint64_t s1 = 100ULL << 20, s2 = 200ULL << 20;
	uint8_t old[128], live[10][128];
	struct lm_stats st = { 0 };
	struct lm_peer p;
	int n1, n2 = 0;

	lm_peer_init(&p);
	n1 = slave_pkt(old, sizeof(old), s1, 0);
	ck_assert(feed(&p, &st, 0, old, n1));
	for (int i = 0; i < 10; i++) {
		n2 = slave_pkt(live[i], sizeof(live[i]), s2, i);
		ck_assert(feed(&p, &st, 1, live[i], n2));
	}
	for (int round = 0; round < 3; round++) {
		double now = 10 + round * 10;	/* quiet for > 3 s */

		ck_assert(!feed(&p, &st, now, old, n1));
		for (int i = 0; i < 10; i++)
			ck_assert(!feed(&p, &st, now, live[i], n2));
	}
	ck_assert_uint_eq(p.cur.session, s2);
	ck_assert_uint_gt(st.stale_session + st.replay, 0);
}
END_TEST

START_TEST(session_rules)
{
	const uint64_t s1 = 100ULL << 20, s2 = 200ULL << 20,
		       s0 = 50ULL << 20;
	struct lm_stats st = { 0 };
	uint8_t pkt[128];
	struct lm_peer p;
	int n;

	lm_peer_init(&p);
	n = slave_pkt(pkt, sizeof(pkt), s1, 7);
	ck_assert(feed(&p, &st, 0, pkt, n));
	/* a newer session (restart) is taken at once */
	n = slave_pkt(pkt, sizeof(pkt), s2, 0);
	ck_assert(feed(&p, &st, 0.5, pkt, n));
	/* an older, never-seen one (clock stepped back) only after 3 s of
	 * silence */
	n = slave_pkt(pkt, sizeof(pkt), s0, 0);
	ck_assert(!feed(&p, &st, 2.0, pkt, n));
	ck_assert_int_eq(st.stale_session, 1);
	ck_assert(feed(&p, &st, 0.5 + LM_SESSION_IDLE + 0.1, pkt, n));
	ck_assert_uint_eq(p.cur.session, s0);
	/* the retired s1 and s2 never come back, however quiet it gets */
	n = slave_pkt(pkt, sizeof(pkt), s2, 5);
	ck_assert(!feed(&p, &st, 100, pkt, n));
	n = slave_pkt(pkt, sizeof(pkt), s1, 8);
	ck_assert(!feed(&p, &st, 200, pkt, n));
	/* a forged packet of an unknown session changes nothing */
	n = slave_pkt(pkt, sizeof(pkt), s2 + 1, 0);
	pkt[n - 1] ^= 1;
	ck_assert(!feed(&p, &st, 300, pkt, n));
	ck_assert_uint_eq(p.cur.session, s0);
	ck_assert_int_eq(st.auth_fail, 1);
}
END_TEST

/* ---- the socket path, master and slave on one loop over loopback ---- */

struct got {
	int n;
	uint16_t link;
	uint8_t type;
	uint8_t data[256];
	size_t len;
};

static void got_cb(void *ctx, uint16_t link, uint8_t type, uint8_t *p,
		   size_t len)
{
	struct got *g = ctx;

	g->n++;
	g->link = link;
	g->type = type;
	g->len = len < sizeof(g->data) ? len : sizeof(g->data);
	memcpy(g->data, p, g->len);
}

static const struct lm_ops got_ops = { .recv = got_cb };

static struct ev_loop *loop;
static struct lm *master, *slave;
static struct got mgot, sgot;
static struct sockaddr_in maddr;

static uint16_t free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (void *)&a, sizeof(a)), 0);
	getsockname(fd, (void *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static int add_udp(struct lm *lm, uint16_t id, const char *name)
{
	struct lm_link_cfg c = { .id = id, .name = name };

	return lm_link_add(lm, &c);
}

static void pair_setup(void)
{
	struct lm_cfg c = { .ops = &got_ops };

	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&mgot, 0, sizeof(mgot));
	memset(&sgot, 0, sizeof(sgot));
	maddr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_port = htons(free_port()) };
	maddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(c.key, psk, 32);
	memcpy(&c.addr, &maddr, sizeof(maddr));
	c.addr_len = sizeof(maddr);
	c.master = true;
	c.ctx = &mgot;
	ck_assert_int_eq(lm_new(&master, loop, &c), 0);
	c.master = false;
	c.ctx = &sgot;
	ck_assert_int_eq(lm_new(&slave, loop, &c), 0);
	ck_assert_int_eq(add_udp(slave, 3, "lo"), 0);
}

static void pair_teardown(void)
{
	lm_free(slave);
	lm_free(master);
	ev_loop_destroy(loop);
}

/* Runs the loop until *counter reaches want or 2 s pass. */
static void run_until(const int *counter, int want)
{
	for (int i = 0; i < 200 && *counter < want; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
}

START_TEST(path_both_ways)
{
	struct lm_link_stats st;

	ck_assert_int_eq(lm_send(slave, 3, 1, "hello", 5), 0);
	run_until(&mgot.n, 1);
	ck_assert_int_eq(mgot.n, 1);
	ck_assert_int_eq(mgot.link, 3);
	ck_assert_int_eq(mgot.type, 1);
	ck_assert_mem_eq(mgot.data, "hello", 5);
	/* The master learned link 3 and answers on it. */
	ck_assert_int_eq(lm_send(master, 3, 2, "back", 4), 0);
	run_until(&sgot.n, 1);
	ck_assert_int_eq(sgot.n, 1);
	ck_assert_mem_eq(sgot.data, "back", 4);
	ck_assert_int_eq(lm_link_stats(master, 3, &st), 0);
	ck_assert_int_eq(st.rx_packets, 1);
	ck_assert_int_eq(st.rx_bytes, 5 + LM_OVERHEAD);
	ck_assert_int_eq(st.tx_packets, 1);
	/* No such link: nothing sent. */
	ck_assert_int_eq(lm_send(master, 4, 2, "x", 1), -ENOENT);
}
END_TEST

/* A plain socket that plays attacker or roaming slave. */
static int udp_client(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (void *)&a, sizeof(a)), 0);
	return fd;
}

static int sealed(uint8_t *pkt, size_t len, uint64_t session,
		  uint64_t counter, uint16_t link)
{
	struct lm_hdr h = { .version = 1, .type = 1, .link_id = link,
			    .session = session, .counter = counter };
	struct lm_session_key sk;

	lm_session_key_derive(&sk, psk, LM_DIR_TO_MASTER, session);
	return lm_seal(&sk, &h, (const uint8_t *)"data", 4, pkt, len);
}

static void send_to_master(int fd, const uint8_t *p, size_t len)
{
	ck_assert_int_eq(sendto(fd, p, len, 0, (void *)&maddr, sizeof(maddr)),
			 (ssize_t)len);
}

static void settle(void)
{
	for (int i = 0; i < 10; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(5000);
	}
}

START_TEST(master_drops_replay_and_garbage_silently)
{
	uint8_t pkt[128], junk[100], reply[64];
	int fd = udp_client(), n;
	struct lm_stats st;

	n = sealed(pkt, sizeof(pkt), 1ULL << 40, 5, 9);
	send_to_master(fd, pkt, n);
	run_until(&mgot.n, 1);
	ck_assert_int_eq(mgot.n, 1);
	/* the same packet again: a replay */
	send_to_master(fd, pkt, n);
	/* a fresh counter with one flipped bit in the ciphertext */
	n = sealed(pkt, sizeof(pkt), 1ULL << 40, 6, 9);
	pkt[n - 20] ^= 4;
	send_to_master(fd, pkt, n);
	/* random junk with a plausible header, and a short packet */
	randombytes_buf(junk, sizeof(junk));
	junk[0] = 1;
	junk[3] |= 1;
	memset(junk + 4, 0, 4);
	junk[8] |= 1;
	send_to_master(fd, junk, sizeof(junk));
	send_to_master(fd, junk, 10);
	settle();
	lm_stats(master, &st);
	ck_assert_int_eq(mgot.n, 1);
	ck_assert_int_eq(st.replay, 1);
	ck_assert_int_eq(st.auth_fail, 2);
	ck_assert_int_eq(st.malformed, 1);
	/* and not one byte came back */
	ck_assert_int_lt(recv(fd, reply, sizeof(reply), MSG_DONTWAIT), 0);
	ck_assert_int_eq(errno, EAGAIN);
	close(fd);
}
END_TEST

START_TEST(master_follows_new_address)
{
	uint8_t pkt[128], reply[128];
	int a = udp_client(), b = udp_client(), n;
	struct sockaddr_in bname;
	socklen_t blen = sizeof(bname);
	struct lm_link_stats st;

	n = sealed(pkt, sizeof(pkt), 1ULL << 40, 1, 9);
	send_to_master(a, pkt, n);
	run_until(&mgot.n, 1);
	n = sealed(pkt, sizeof(pkt), 1ULL << 40, 2, 9);
	send_to_master(b, pkt, n);
	run_until(&mgot.n, 2);
	ck_assert_int_eq(mgot.n, 2);
	getsockname(b, (void *)&bname, &blen);
	ck_assert_int_eq(lm_link_stats(master, 9, &st), 0);
	ck_assert_int_eq(((struct sockaddr_in *)&st.peer)->sin_port,
			 bname.sin_port);
	/* the master's next packet on link 9 goes to the new address */
	ck_assert_int_eq(lm_send(master, 9, 1, "x", 1), 0);
	usleep(20000);
	ck_assert_int_gt(recv(b, reply, sizeof(reply), MSG_DONTWAIT), 0);
	ck_assert_int_lt(recv(a, reply, sizeof(reply), MSG_DONTWAIT), 0);
	/* a forged packet from a third address moves nothing */
	pkt[n - 1] ^= 1;
	send_to_master(a, pkt, n);
	settle();
	ck_assert_int_eq(lm_link_stats(master, 9, &st), 0);
	ck_assert_int_eq(((struct sockaddr_in *)&st.peer)->sin_port,
			 bname.sin_port);
	close(a);
	close(b);
}
END_TEST

/* A restarted slave (newer session) is taken; an old session's recorded
 * packet is not, while the current session is alive. */
START_TEST(master_sessions)
{
	uint8_t pkt[128];
	int fd = udp_client(), n;
	struct lm_stats st;

	n = sealed(pkt, sizeof(pkt), 2ULL << 40, 1, 9);
	send_to_master(fd, pkt, n);
	run_until(&mgot.n, 1);
	n = sealed(pkt, sizeof(pkt), 3ULL << 40, 1, 9);
	send_to_master(fd, pkt, n);
	run_until(&mgot.n, 2);
	ck_assert_int_eq(mgot.n, 2);
	n = sealed(pkt, sizeof(pkt), 2ULL << 40, 2, 9);
	send_to_master(fd, pkt, n);
	settle();
	lm_stats(master, &st);
	ck_assert_int_eq(mgot.n, 2);
	ck_assert_int_eq(st.stale_session, 1);
	close(fd);
}
END_TEST

/* ":PORT" on the master takes links over IPv4 and IPv6 on one socket,
 * and answers each on its own family. */
START_TEST(master_dual_stack)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct lm_cfg c = { .ops = &got_ops };
	struct lm *m, *s4, *s6;
	struct got g4 = { 0 }, g6 = { 0 };

	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&mgot, 0, sizeof(mgot));
	any.sin6_port = v6.sin6_port = v4.sin_port = htons(free_port());
	v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(c.key, psk, 32);
	c.master = true;
	c.ctx = &mgot;
	memcpy(&c.addr, &any, sizeof(any));
	c.addr_len = sizeof(any);
	ck_assert_int_eq(lm_new(&m, loop, &c), 0);
	c.master = false;
	c.ctx = &g4;
	memcpy(&c.addr, &v4, sizeof(v4));
	c.addr_len = sizeof(v4);
	ck_assert_int_eq(lm_new(&s4, loop, &c), 0);
	ck_assert_int_eq(add_udp(s4, 1, "v4"), 0);
	/* session ids count milliseconds: make s6's newer than s4's */
	usleep(3000);
	c.ctx = &g6;
	memcpy(&c.addr, &v6, sizeof(v6));
	c.addr_len = sizeof(v6);
	ck_assert_int_eq(lm_new(&s6, loop, &c), 0);
	ck_assert_int_eq(add_udp(s6, 2, "v6"), 0);

	ck_assert_int_eq(lm_send(s4, 1, 1, "four", 4), 0);
	run_until(&mgot.n, 1);
	/* the second slave is a new session, newer than the first */
	ck_assert_int_eq(lm_send(s6, 2, 1, "six", 3), 0);
	run_until(&mgot.n, 2);
	ck_assert_int_eq(mgot.n, 2);
	ck_assert_int_eq(mgot.link, 2);
	ck_assert_int_eq(lm_send(m, 1, 1, "a", 1), 0);
	ck_assert_int_eq(lm_send(m, 2, 1, "b", 1), 0);
	run_until(&g4.n, 1);
	run_until(&g6.n, 1);
	ck_assert_int_eq(g4.n, 1);
	ck_assert_int_eq(g6.n, 1);
	lm_free(s6);
	lm_free(s4);
	lm_free(m);
	ev_loop_destroy(loop);
}
END_TEST

/* ---- a link through a scripted fake SOCKS5 proxy on loopback ---- */

static int fake_lfd;
static struct sockaddr_in fake_addr, dead_master;

static void new_slave(void)
{
	struct lm_cfg c = { .ops = &got_ops, .ctx = &sgot };

	memcpy(c.key, psk, 32);
	memcpy(&c.addr, &dead_master, sizeof(dead_master));
	c.addr_len = sizeof(dead_master);
	ck_assert_int_eq(lm_new(&slave, loop, &c), 0);
}

static void fake_setup(void)
{
	socklen_t len = sizeof(fake_addr);

	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&sgot, 0, sizeof(sgot));
	fake_lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	fake_addr = (struct sockaddr_in){ .sin_family = AF_INET };
	fake_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fake_lfd, (void *)&fake_addr, sizeof(fake_addr)),
			 0);
	ck_assert_int_eq(listen(fake_lfd, 4), 0);
	getsockname(fake_lfd, (void *)&fake_addr, &len);
	/* nobody listens there: these tests talk to the proxy only */
	dead_master = (struct sockaddr_in){ .sin_family = AF_INET,
					    .sin_port = htons(free_port()) };
	dead_master.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	new_slave();
}

static void fake_teardown(void)
{
	lm_free(slave);
	close(fake_lfd);
	ev_loop_destroy(loop);
}

static void add_socks(enum lm_link_type type, const char *user,
		      const char *pass)
{
	struct lm_link_cfg c = {
		.id = 1, .name = "phone", .type = type,
		.proxy = (struct sockaddr *)&fake_addr,
		.proxy_len = sizeof(fake_addr),
		.username = user, .password = pass, .fallback = true,
	};

	ck_assert_int_eq(lm_link_add(slave, &c), 0);
}

/* Runs the slave's loop until the proxy gets a connection (3 s at most). */
static int fake_accept(void)
{
	for (int i = 0; i < 300; i++) {
		int fd = accept4(fake_lfd, NULL, NULL, SOCK_NONBLOCK);

		if (fd >= 0)
			return fd;
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	ck_abort_msg("the link never connected to the proxy");
	return -1;
}

/* Reads exactly n bytes (running the loop meanwhile); 0 means EOF. */
static size_t fake_read(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 300 && got < n; i++) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r == 0)
			return 0;
		if (r > 0) {
			got += r;
			continue;
		}
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	return got;
}

/* True once the link hangs up on the proxy (within secs). */
static bool fake_hangup(int fd, double secs)
{
	uint8_t b[64];

	for (int i = 0; i < secs * 100; i++) {
		if (read(fd, b, sizeof(b)) == 0)
			return true;
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	return false;
}

static void fake_write(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	for (int i = 0; i < 5; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(2000);
	}
}

START_TEST(proxy_wrong_password_retries)
{
	uint8_t b[64];
	int fd;

	add_socks(LM_LINK_SOCKS5, "bob", "wrong");
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 4), 4);
	ck_assert_mem_eq(b, "\x05\x02\x00\x02", 4);
	fake_write(fd, "\x05\x02", 2);
	ck_assert_uint_eq(fake_read(fd, b, 11), 11);
	ck_assert_mem_eq(b, "\x01\x03" "bob" "\x05" "wrong", 11);
	ck_assert_int_eq(lm_send(slave, 1, 1, "x", 1), -ENOTCONN);
	fake_write(fd, "\x01\x01", 2);
	/* the link hangs up, and tries again after its backoff */
	ck_assert_uint_eq(fake_read(fd, b, 1), 0);
	close(fd);
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 4), 4);
	close(fd);
}
END_TEST

START_TEST(proxy_udp_refused_falls_back_to_connect)
{
	uint8_t b[64];
	uint16_t flen;
	int fd;

	add_socks(LM_LINK_SOCKS5, NULL, NULL);
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 3), 3);
	fake_write(fd, "\x05\x00", 2);
	/* UDP ASSOCIATE, from an unknown address: all zeros */
	ck_assert_uint_eq(fake_read(fd, b, 10), 10);
	ck_assert_mem_eq(b, "\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	fake_write(fd, "\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00", 10);
	ck_assert_uint_eq(fake_read(fd, b, 1), 0);
	close(fd);
	/* at once a CONNECT to the master */
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 3), 3);
	fake_write(fd, "\x05\x00", 2);
	ck_assert_uint_eq(fake_read(fd, b, 10), 10);
	ck_assert_mem_eq(b, "\x05\x01\x00\x01\x7f\x00\x00\x01", 8);
	ck_assert_mem_eq(b + 8, &dead_master.sin_port, 2);
	fake_write(fd, "\x05\x00\x00\x01\x7f\x00\x00\x01\x30\x39", 10);
	/* the stream carries length-prefixed sealed packets */
	ck_assert_int_eq(lm_send(slave, 1, 1, "data", 4), 0);
	ck_assert_uint_eq(fake_read(fd, b, 2), 2);
	flen = (uint16_t)(b[0] << 8 | b[1]);
	ck_assert_uint_eq(flen, LM_OVERHEAD + 4);
	ck_assert_uint_eq(fake_read(fd, b, flen), flen);
	ck_assert_int_eq(b[0], LM_WIRE_VERSION);
	close(fd);
}
END_TEST

/* A relay of 0.0.0.0 means the proxy's own address; datagrams carry the
 * SOCKS header addressed to the master. */
START_TEST(proxy_unspecified_relay_is_the_proxy)
{
	struct sockaddr_in r = { .sin_family = AF_INET };
	socklen_t rl = sizeof(r);
	uint8_t b[128], reply[10] = { 5, 0, 0, 1, 0, 0, 0, 0 };
	int fd, ufd;

	ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	r.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(ufd, (void *)&r, sizeof(r)), 0);
	getsockname(ufd, (void *)&r, &rl);
	memcpy(reply + 8, &r.sin_port, 2);
	add_socks(LM_LINK_SOCKS5, NULL, NULL);
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 3), 3);
	fake_write(fd, "\x05\x00", 2);
	ck_assert_uint_eq(fake_read(fd, b, 10), 10);
	fake_write(fd, reply, sizeof(reply));
	ck_assert_int_eq(lm_send(slave, 1, 1, "data", 4), 0);
	usleep(20000);
	ck_assert_int_eq(recv(ufd, b, sizeof(b), 0), 10 + LM_OVERHEAD + 4);
	ck_assert_mem_eq(b, "\x00\x00\x00\x01\x7f\x00\x00\x01", 8);
	ck_assert_mem_eq(b + 8, &dead_master.sin_port, 2);
	/* the control connection closing ends the association */
	close(fd);
	for (int i = 0; i < 20; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(5000);
	}
	ck_assert_int_eq(lm_send(slave, 1, 1, "data", 4), -ENOTCONN);
	close(ufd);
}
END_TEST

/* A relay that takes datagrams but returns nothing, while the master is
 * heard nowhere else: the first silence could be the master being away,
 * so UDP is tried once more; after the second the link falls back. */
START_TEST(proxy_silent_relay_retries_then_falls_back)
{
	uint8_t b[64], ok[10] = { 5, 0, 0, 1, 127, 0, 0, 1, 0, 9 };
	int fd;

	add_socks(LM_LINK_SOCKS5, NULL, NULL);
	for (int round = 0; round < 2; round++) {
		fd = fake_accept();
		ck_assert_uint_eq(fake_read(fd, b, 3), 3);
		fake_write(fd, "\x05\x00", 2);
		ck_assert_uint_eq(fake_read(fd, b, 10), 10);
		ck_assert_int_eq(b[1], LM_SOCKS_CMD_UDP);
		fake_write(fd, ok, sizeof(ok));
		/* the link gives up on this association after 5 s */
		ck_assert(fake_hangup(fd, 7));
		close(fd);
	}
	fd = fake_accept();
	ck_assert_uint_eq(fake_read(fd, b, 3), 3);
	fake_write(fd, "\x05\x00", 2);
	ck_assert_uint_eq(fake_read(fd, b, 10), 10);
	ck_assert_int_eq(b[1], LM_SOCKS_CMD_CONNECT);
	close(fd);
}
END_TEST

/* Hostile or broken replies end the attempt cleanly, and it is tried
 * again (each case on a fresh link: retries back off 0.5, 1, 2, ... s). */
START_TEST(proxy_hostile_replies)
{
	static const struct { const char *method, *reply; size_t n; } bad[] = {
		{ "\x04\x00", NULL, 0 },		/* not SOCKS5 */
		{ "\x05\x80", NULL, 0 },		/* unknown method */
		{ "\x05\x02", NULL, 0 },		/* wants a password */
		{ "\x05\x00", "\x05\x00\x07\x01\x00\x00\x00\x00\x00\x00", 10 },
		{ "\x05\x00", "\x05\x00\x00\x09\x00\x00", 6 },
		{ "\x05\x00", "\x05\x00\x00\x03\xff\x61", 6 }, /* then EOF */
	};
	uint8_t b[64];
	int fd;

	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		if (k) {
			lm_free(slave);
			new_slave();
		}
		add_socks(LM_LINK_SOCKS5_TCP, NULL, NULL);
		fd = fake_accept();
		ck_assert_uint_eq(fake_read(fd, b, 3), 3);
		fake_write(fd, bad[k].method, 2);
		if (bad[k].reply) {
			ck_assert_uint_eq(fake_read(fd, b, 10), 10);
			fake_write(fd, bad[k].reply, bad[k].n);
		}
		if (k + 1 < ARRAY_SIZE(bad))
			ck_assert_msg(fake_read(fd, b, 1) == 0,
				      "case %zu: the link did not hang up", k);
		close(fd);
		fd = fake_accept();	/* tried again, still alive */
		close(fd);
		ck_assert_int_eq(lm_send(slave, 1, 1, "x", 1), -ENOTCONN);
	}
}
END_TEST

/* A master on ":PORT" answers from the address the slave sent to, not
 * whichever one routing would pick (127.0.0.2 here, routing says
 * 127.0.0.1); the slave's connected socket takes nothing else. */
static void reply_from_dialled_address(bool dual_stack)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6,
				     .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in any4 = { .sin_family = AF_INET };
	struct sockaddr_in dialled = { .sin_family = AF_INET };
	struct lm_cfg c = { .ops = &got_ops };
	struct lm *m, *sl;
	struct got g = { 0 };

	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&mgot, 0, sizeof(mgot));
	any6.sin6_port = any4.sin_port = dialled.sin_port = htons(free_port());
	dialled.sin_addr.s_addr = htonl(0x7f000002);
	memcpy(c.key, psk, 32);
	c.master = true;
	c.ctx = &mgot;
	if (dual_stack) {
		memcpy(&c.addr, &any6, sizeof(any6));
		c.addr_len = sizeof(any6);
	} else {
		memcpy(&c.addr, &any4, sizeof(any4));
		c.addr_len = sizeof(any4);
	}
	ck_assert_int_eq(lm_new(&m, loop, &c), 0);
	c.master = false;
	c.ctx = &g;
	memcpy(&c.addr, &dialled, sizeof(dialled));
	c.addr_len = sizeof(dialled);
	ck_assert_int_eq(lm_new(&sl, loop, &c), 0);
	ck_assert_int_eq(add_udp(sl, 1, "lo2"), 0);
	ck_assert_int_eq(lm_send(sl, 1, 1, "ping", 4), 0);
	run_until(&mgot.n, 1);
	ck_assert_int_eq(mgot.n, 1);
	ck_assert_int_eq(lm_send(m, 1, 1, "pong", 4), 0);
	run_until(&g.n, 1);
	ck_assert_int_eq(g.n, 1);
	lm_free(sl);
	lm_free(m);
	ev_loop_destroy(loop);
}

START_TEST(master_replies_from_dialled_address_v6_socket)
{
	reply_from_dialled_address(true);
}
END_TEST

START_TEST(master_replies_from_dialled_address_v4_socket)
{
	reply_from_dialled_address(false);
}
END_TEST

static Suite *linkmap_suite(void)
{
	Suite *s = suite_create("linkmap");
	TCase *tc;

	tc = tcase_create("wire");
	tcase_add_test(tc, hdr_round_trip);
	tcase_add_test(tc, hdr_rejects);
	suite_add_tcase(s, tc);

	tc = tcase_create("seal");
	tcase_add_test(tc, seal_round_trip);
	tcase_add_test(tc, seal_bit_flips);
	tcase_add_test(tc, seal_wrong_key_and_truncation);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_test(tc, replay_in_order_and_duplicates);
	tcase_add_test(tc, replay_skew_window);
	tcase_add_test(tc, replay_window_edge);
	tcase_add_test(tc, replay_big_jump);
	suite_add_tcase(s, tc);

	tc = tcase_create("socks5");
	tcase_add_test(tc, socks_greeting_and_auth);
	tcase_add_test(tc, socks_request_encoding);
	tcase_add_test(tc, socks_reply_truncated);
	tcase_add_test(tc, socks_reply_malformed);
	tcase_add_test(tc, socks_udp_header);
	tcase_add_test(tc, socks_random_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("sessions");
	tcase_add_test(tc, session_no_replay_across_switches);
	tcase_add_test(tc, session_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("sockets");
	tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
	tcase_add_test(tc, path_both_ways);
	tcase_add_test(tc, master_drops_replay_and_garbage_silently);
	tcase_add_test(tc, master_follows_new_address);
	tcase_add_test(tc, master_sessions);
	suite_add_tcase(s, tc);

	tc = tcase_create("proxy");
	tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
	tcase_add_test(tc, proxy_wrong_password_retries);
	tcase_add_test(tc, proxy_udp_refused_falls_back_to_connect);
	tcase_add_test(tc, proxy_unspecified_relay_is_the_proxy);
	tcase_add_test(tc, proxy_hostile_replies);
	tcase_add_test(tc, proxy_silent_relay_retries_then_falls_back);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("dual_stack");
	tcase_add_test(tc, master_dual_stack);
	tcase_add_test(tc, master_replies_from_dialled_address_v6_socket);
	tcase_add_test(tc, master_replies_from_dialled_address_v4_socket);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(linkmap_suite());
	int failed;

	if (sodium_init() < 0)
		return 1;
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
