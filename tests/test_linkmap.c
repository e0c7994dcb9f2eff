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
		.session = 0x01020304,
		.counter = 0x1122334455667788ULL,
	};
}

START_TEST(hdr_round_trip)
{
	struct lm_hdr h = sample_hdr(), d;
	uint8_t buf[LM_HDR_LEN + LM_TAG_LEN] = { 0 };

	ck_assert_int_eq(lm_hdr_encode(&h, buf, sizeof(buf)), LM_HDR_LEN);
	/* Network byte order, fixed offsets. */
	/* the sizes docs/PROTOCOL.md gives */
	ck_assert_int_eq(LM_HDR_LEN, 12);
	ck_assert_int_eq(LM_OVERHEAD, 28);
	ck_assert_int_eq(LM_HS_INIT_LEN, 72);
	ck_assert_int_eq(LM_HS_RESP_LEN, 80);
	ck_assert_int_eq(buf[0], 3);
	ck_assert_int_eq(buf[1], 7);
	ck_assert_int_eq(buf[2], 0x12);
	ck_assert_int_eq(buf[3], 0x34);
	ck_assert_int_eq(buf[4], 0x01);
	ck_assert_int_eq(buf[7], 0x04);
	/* the counter's low 32 bits only */
	ck_assert_int_eq(buf[8], 0x55);
	ck_assert_int_eq(buf[11], 0x88);
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), LM_HDR_LEN);
	ck_assert_uint_eq(d.counter, 0x55667788);
	d.counter = h.counter;
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
	buf[0] = 1;	/* version 1's header was 24 bytes */
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EPROTO);
	buf[0] = 2;	/* version 2's was 16 */
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EPROTO);
	buf[0] = 4;
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EPROTO);
	h.link_id = 0;
	lm_hdr_encode(&h, buf, sizeof(buf));
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EBADMSG);
	h = sample_hdr();
	h.session = 0;
	lm_hdr_encode(&h, buf, sizeof(buf));
	ck_assert_int_eq(lm_hdr_decode(&d, buf, sizeof(buf)), -EBADMSG);
}
END_TEST

/* The wire carries a counter's low 32 bits; the receiver takes the
 * whole counter nearest the next it expects, across a wrap of the low
 * bits both ways, and for a packet far behind. */
START_TEST(counter_expand)
{
	const uint64_t w = 1ULL << 32;

	ck_assert_uint_eq(lm_counter_expand(0, 0), 0);
	ck_assert_uint_eq(lm_counter_expand(0, 5), 5);
	ck_assert_uint_eq(lm_counter_expand(100, 90), 90);
	ck_assert_uint_eq(lm_counter_expand(100, 100000), 100000);
	/* just past a wrap, a packet from just before it */
	ck_assert_uint_eq(lm_counter_expand(3 * w + 10, 0xfffffff0u),
			  3 * w - 16);
	/* just before a wrap, the first after it */
	ck_assert_uint_eq(lm_counter_expand(3 * w - 10, 4), 3 * w + 4);
	/* half a window either way */
	ck_assert_uint_eq(lm_counter_expand(5 * w, 0x7fffffffu),
			  5 * w + 0x7fffffff);
	ck_assert_uint_eq(lm_counter_expand(5 * w, 0x80000001u),
			  4 * w + 0x80000001u);
	/* never below 0 or past the top */
	ck_assert_uint_eq(lm_counter_expand(10, 0xfffffff0u), 0xfffffff0u);
	ck_assert_uint_eq(lm_counter_expand(UINT64_MAX - 5, 3),
			  (UINT64_MAX & ~(w - 1)) | 3);
}
END_TEST

/* What an older release's packets look like, so they can be named. */
START_TEST(hdr_looks_old)
{
	uint8_t buf[64] = { 0 };
	struct lm_hdr h = sample_hdr();

	buf[0] = 1;				/* 24-byte header, reserved 0 */
	ck_assert_int_eq(lm_hdr_looks_old(buf, 40), 1);
	ck_assert_int_eq(lm_hdr_looks_old(buf, 39), 0);
	buf[0] = 2, buf[3] = 1, buf[7] = 9;	/* link 1, session 9 */
	ck_assert_int_eq(lm_hdr_looks_old(buf, 32), 2);
	ck_assert_int_eq(lm_hdr_looks_old(buf, 31), 0);
	lm_hdr_encode(&h, buf, sizeof(buf));
	ck_assert_int_eq(lm_hdr_looks_old(buf, sizeof(buf)), 0);
}
END_TEST

static const uint8_t key[32] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };

static int seal_sample(uint8_t *out, size_t outlen)
{
	struct lm_hdr h = sample_hdr();
	const char msg[] = "an IP packet, more or less";

	return lm_seal(key, &h, (const uint8_t *)msg, sizeof(msg), out, outlen);
}

START_TEST(seal_round_trip)
{
	uint8_t pkt[256], copy[256], *payload;
	struct lm_hdr h;
	int n, m;

	n = seal_sample(pkt, sizeof(pkt));
	ck_assert_int_eq(n, LM_OVERHEAD + 27);
	/* The payload is not on the wire in the clear. */
	ck_assert_ptr_null(memmem(pkt, n, "IP packet", 9));
	ck_assert_int_eq(lm_hdr_decode(&h, pkt, n), LM_HDR_LEN);
	/* the low 32 bits alone are the wrong nonce (on a copy: a
	 * failed open wipes what it was given) */
	memcpy(copy, pkt, n);
	ck_assert_int_eq(lm_open(key, &h, copy, n, &payload), -EBADMSG);
	h.counter = lm_counter_expand(0x1122334400000000ULL, h.counter);
	m = lm_open(key, &h, pkt, n, &payload);
	ck_assert_int_eq(m, 27);
	ck_assert_str_eq((char *)payload, "an IP packet, more or less");
	ck_assert_int_eq(seal_sample(pkt, LM_OVERHEAD + 26), -ENOBUFS);
}
END_TEST

/* Every single-bit flip anywhere in the packet is rejected. */
START_TEST(seal_bit_flips)
{
	uint8_t pkt[256], copy[256], *payload;
	int n = seal_sample(pkt, sizeof(pkt));

	for (int bit = 0; bit < n * 8; bit++) {
		struct lm_hdr h;

		memcpy(copy, pkt, n);
		copy[bit / 8] ^= 1 << (bit % 8);
		if (lm_hdr_decode(&h, copy, n) < 0)
			continue;
		ck_assert_msg(lm_open(key, &h, copy, n, &payload) < 0,
			      "bit %d flipped and still opened", bit);
	}
}
END_TEST

START_TEST(seal_wrong_key_and_truncation)
{
	uint8_t pkt[256], *payload, bad[32];
	struct lm_hdr h;
	int n = seal_sample(pkt, sizeof(pkt));

	lm_hdr_decode(&h, pkt, n);
	memcpy(bad, key, 32);
	bad[31] ^= 0x80;
	ck_assert_int_eq(lm_open(bad, &h, pkt, n, &payload), -EBADMSG);
	for (int len = n - 1; len >= 0; len--) {
		uint8_t copy[256];

		memcpy(copy, pkt, n);
		ck_assert_int_lt(lm_open(key, &h, copy, len, &payload), 0);
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

	for (int i = 0; i < 50000; i++) {
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

/* ---- handshake and sessions, without sockets ---- */

/* One handshake between a slave and a master session at time now; the
 * initiation and response as they went over the wire land in init/resp. */
static void handshake(struct lm_sess *sl, struct lm_sess *ms, double now,
		      struct lm_stats *st, uint8_t *init, uint8_t *resp)
{
	uint8_t i[LM_HS_INIT_LEN], r[LM_HS_RESP_LEN];
	uint16_t id;

	ck_assert(lm_sess_want_handshake(sl, now));
	ck_assert_int_eq(lm_sess_init_make(sl, now, 7, i, sizeof(i)),
			 LM_HS_INIT_LEN);
	ck_assert_int_eq(lm_sess_init_in(ms, now, i, sizeof(i), &id, r,
					 sizeof(r), st), LM_HS_RESP_LEN);
	ck_assert_int_eq(id, 7);
	ck_assert_int_eq(lm_sess_resp_in(sl, now, r, sizeof(r), &id, st), 0);
	if (init)
		memcpy(init, i, sizeof(i));
	if (resp)
		memcpy(resp, r, sizeof(r));
}

/* Seals a data packet on from and feeds a copy to to; true if taken. */
static bool pass(struct lm_sess *from, struct lm_sess *to, double now,
		 uint8_t *pkt, int *len, struct lm_stats *st)
{
	uint8_t copy[128], *payload;
	struct lm_keypair *kp;
	struct lm_hdr h;

	if (pkt && *len == 0) {
		*len = lm_sess_seal(from, now, 1, 7, "data", 4, pkt, 128);
		ck_assert_int_gt(*len, 0);
	}
	if (!pkt) {
		pkt = copy;
		*len = lm_sess_seal(from, now, 1, 7, "data", 4, copy, 128);
		ck_assert_int_gt(*len, 0);
	}
	memcpy(copy, pkt, *len);
	if (lm_sess_open(to, now, copy, *len, &h, &payload, &kp, st) < 0)
		return false;
	ck_assert_mem_eq(payload, "data", 4);
	lm_sess_commit(to, kp, &h, now);
	return true;
}

START_TEST(hs_round_trip)
{
	struct lm_sess sl, ms;
	struct lm_stats st = { 0 };
	int n;

	lm_sess_init(&sl, false, psk);
	lm_sess_init(&ms, true, psk);
	/* nothing can be sent before the handshake */
	ck_assert_int_eq(lm_sess_seal(&sl, 0, 1, 7, "x", 1, (uint8_t[64]){ 0 },
				      64), -ENOTCONN);
	handshake(&sl, &ms, 1, &st, NULL, NULL);
	ck_assert(!lm_sess_want_handshake(&sl, 1));
	/* the master uses its new keys once the slave has */
	ck_assert(!ms.cur.valid && ms.next.valid);
	ck_assert(pass(&sl, &ms, 1, NULL, &n, &st));
	ck_assert(ms.cur.valid && !ms.next.valid);
	ck_assert(pass(&ms, &sl, 1, NULL, &n, &st));
	/* two directions, two keys; the ephemeral secret is gone */
	ck_assert(memcmp(sl.cur.tx, sl.cur.rx, 32) != 0);
	ck_assert_mem_eq(sl.cur.tx, ms.cur.rx, 32);
	ck_assert(sodium_is_zero(sl.esk, 32));
	ck_assert_int_eq(st.hs_init, 2);
	lm_sess_wipe(&sl);
	lm_sess_wipe(&ms);
}
END_TEST

/* Two handshakes with the same key give unrelated session keys. */
START_TEST(hs_fresh_keys_every_time)
{
	struct lm_sess a, b, ma, mb;
	struct lm_stats st = { 0 };

	lm_sess_init(&a, false, psk);
	lm_sess_init(&b, false, psk);
	lm_sess_init(&ma, true, psk);
	lm_sess_init(&mb, true, psk);
	handshake(&a, &ma, 1, &st, NULL, NULL);
	handshake(&b, &mb, 1, &st, NULL, NULL);
	ck_assert(memcmp(a.cur.tx, b.cur.tx, 32) != 0);
	ck_assert(memcmp(a.cur.rx, b.cur.rx, 32) != 0);
}
END_TEST

/* A recorded initiation replayed later is refused before any public-key
 * work, and so is an older one; a forged or altered one is bad. */
START_TEST(hs_init_replay_refused)
{
	uint8_t old[LM_HS_INIT_LEN], init[LM_HS_INIT_LEN], r[LM_HS_RESP_LEN];
	struct lm_sess sl, ms, other;
	struct lm_stats st = { 0 };
	uint16_t id;

	lm_sess_init(&sl, false, psk);
	lm_sess_init(&ms, true, psk);
	handshake(&sl, &ms, 1, &st, old, NULL);
	lm_sess_init(&sl, false, psk);
	handshake(&sl, &ms, 5, &st, init, NULL);
	ck_assert_int_lt(lm_sess_init_in(&ms, 9, init, sizeof(init), &id, r,
					 sizeof(r), &st), 0);
	ck_assert_int_lt(lm_sess_init_in(&ms, 9, old, sizeof(old), &id, r,
					 sizeof(r), &st), 0);
	ck_assert_int_eq(st.hs_stale, 2);
	/* the same initiation once on another link is no replay (the slave
	 * sends it on every link), twice is */
	lm_hs_init_make(init, sizeof(init), sl.mackey, 8, &sl.hs);
	ck_assert_int_lt(lm_sess_init_in(&ms, 9, init, sizeof(init), &id, r,
					 sizeof(r), &st), 0);
	ck_assert_int_eq(st.hs_stale, 2);
	ck_assert_int_lt(lm_sess_init_in(&ms, 9, init, sizeof(init), &id, r,
					 sizeof(r), &st), 0);
	ck_assert_int_eq(st.hs_stale, 3);
	for (size_t bit = 0; bit < sizeof(init) * 8; bit++) {
		uint8_t x[LM_HS_INIT_LEN];

		memcpy(x, init, sizeof(x));
		x[bit / 8] ^= 1 << (bit % 8);
		ck_assert_int_lt(lm_sess_init_in(&ms, 9, x, sizeof(x), &id, r,
						 sizeof(r), &st), 0);
	}
	ck_assert_int_eq(st.hs_bad, sizeof(init) * 8);
	/* a slave with another key: bad, not stale */
	lm_sess_init(&other, false, (const uint8_t *)"another key, 32 bytes long!!!!!");
	lm_sess_init_make(&other, 10, 7, init, sizeof(init));
	st.hs_bad = 0;
	ck_assert_int_lt(lm_sess_init_in(&ms, 10, init, sizeof(init), &id, r,
					 sizeof(r), &st), 0);
	ck_assert_int_eq(st.hs_bad, 1);
	/* nothing of it changed the master's keys */
	ck_assert_uint_eq(ms.next.peer_index, sl.cur.my_index);
}
END_TEST

START_TEST(hs_resp_checked)
{
	uint8_t i[LM_HS_INIT_LEN], r[LM_HS_RESP_LEN], x[LM_HS_RESP_LEN];
	struct lm_sess sl, ms;
	struct lm_stats st = { 0 };
	uint16_t id;

	lm_sess_init(&sl, false, psk);
	lm_sess_init(&ms, true, psk);
	lm_sess_init_make(&sl, 1, 7, i, sizeof(i));
	ck_assert_int_gt(lm_sess_init_in(&ms, 1, i, sizeof(i), &id, r,
					 sizeof(r), &st), 0);
	for (size_t bit = 0; bit < sizeof(r) * 8; bit++) {
		memcpy(x, r, sizeof(x));
		x[bit / 8] ^= 1 << (bit % 8);
		ck_assert_int_lt(lm_sess_resp_in(&sl, 1, x, sizeof(x), &id,
						 &st), 0);
	}
	ck_assert(!sl.cur.valid);
	/* the response to an earlier attempt is stale once retried */
	lm_sess_init_make(&sl, 2.5, 7, i, sizeof(i));
	ck_assert_int_lt(lm_sess_resp_in(&sl, 2.5, r, sizeof(r), &id, &st), 0);
	ck_assert_int_eq(st.hs_stale, 1);
	ck_assert(!sl.cur.valid);
}
END_TEST

/* A flood of valid-looking initiations costs at most LM_HS_RATE
 * handshakes a second (after a burst). */
START_TEST(hs_rate_limited)
{
	uint8_t i[LM_HS_INIT_LEN], r[LM_HS_RESP_LEN];
	struct lm_stats st = { 0 };
	struct lm_sess sl, ms;
	int ok = 0;
	uint16_t id;

	lm_sess_init(&ms, true, psk);
	for (int k = 0; k < 50; k++) {
		lm_sess_init(&sl, false, psk);
		lm_sess_init_make(&sl, 1, 7, i, sizeof(i));
		ok += lm_sess_init_in(&ms, 1, i, sizeof(i), &id, r, sizeof(r),
				      &st) > 0;
	}
	ck_assert_int_eq(ok, 20);
	ck_assert_int_eq(st.hs_ratelimited, 30);
	lm_sess_init(&sl, false, psk);
	lm_sess_init_make(&sl, 1, 7, i, sizeof(i));
	ck_assert_int_gt(lm_sess_init_in(&ms, 1.1, i, sizeof(i), &id, r,
					 sizeof(r), &st), 0);
}
END_TEST

/* Rekeying: packets sealed under the old keys just before the switch
 * still arrive, each once; keys two generations old and keys past
 * LM_REJECT_AFTER do not. */
START_TEST(rekey_overlap)
{
	uint8_t inflight[20][128], older[128];
	struct lm_sess sl, ms;
	struct lm_stats st = { 0 };
	int len[20] = { 0 }, olen = 0, n;

	lm_sess_init(&sl, false, psk);
	lm_sess_init(&ms, true, psk);
	handshake(&sl, &ms, 0, &st, NULL, NULL);
	ck_assert(pass(&sl, &ms, 0, NULL, &n, &st));
	ck_assert(pass(&sl, &ms, 0, older, &olen, &st));
	/* keepalive answers keep the slave from thinking the master gone */
	ck_assert(pass(&ms, &sl, LM_REKEY_AFTER - 1, NULL, &n, &st));
	ck_assert(!lm_sess_want_handshake(&sl, LM_REKEY_AFTER - 1));
	ck_assert(lm_sess_want_handshake(&sl, LM_REKEY_AFTER));
	handshake(&sl, &ms, LM_REKEY_AFTER, &st, NULL, NULL);
	/* both ways, packets of the old keys are still in flight */
	for (int k = 0; k < 10; k++)
		len[k] = lm_sess_seal(&ms, LM_REKEY_AFTER, 1, 7, "data", 4,
				      inflight[k], 128);
	for (int k = 0; k < 20; k++)
		ck_assert(pass(&sl, &ms, LM_REKEY_AFTER, NULL, &n, &st));
	for (int k = 0; k < 10; k++) {
		int l = len[k];

		ck_assert(pass(NULL, &sl, LM_REKEY_AFTER, inflight[k], &l,
			       &st));
		ck_assert(!pass(NULL, &sl, LM_REKEY_AFTER, inflight[k], &l,
				&st));
	}
	ck_assert_uint_eq(st.replay, 10);
	/* a third handshake: the first keys are gone */
	handshake(&sl, &ms, 2 * LM_REKEY_AFTER, &st, NULL, NULL);
	ck_assert(pass(&sl, &ms, 2 * LM_REKEY_AFTER, NULL, &n, &st));
	ck_assert(!pass(NULL, &ms, 2 * LM_REKEY_AFTER, older, &olen, &st));
	ck_assert_uint_ge(st.stale_session, 1);
	/* and nothing seals or opens under keys past their lifetime */
	ck_assert_int_eq(lm_sess_seal(&sl, 3 * LM_REKEY_AFTER + LM_REJECT_AFTER,
				      1, 7, "x", 1, inflight[0], 128),
			 -ENOTCONN);
}
END_TEST

START_TEST(hs_when)
{
	struct lm_sess sl, ms;
	struct lm_stats st = { 0 };
	uint8_t i[LM_HS_INIT_LEN];
	int n;

	lm_sess_init(&sl, false, psk);
	lm_sess_init(&ms, true, psk);
	ck_assert(!lm_sess_want_handshake(&ms, 0));	/* masters never */
	lm_sess_init_make(&sl, 0, 7, i, sizeof(i));
	ck_assert(!lm_sess_want_handshake(&sl, 0.5));	/* in flight */
	ck_assert(lm_sess_want_handshake(&sl, 1.0));	/* retry */
	lm_sess_init(&sl, false, psk);
	handshake(&sl, &ms, 10, &st, NULL, NULL);
	ck_assert(pass(&sl, &ms, 10, NULL, &n, &st));
	ck_assert(!lm_sess_want_handshake(&sl, 12));
	/* the master went quiet (restarted?): a new handshake */
	ck_assert(lm_sess_want_handshake(&sl, 10 + LM_HS_SILENT));
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

/* A master alone, for tests whose slave is a bare session. */
static void master_setup(void)
{
	struct lm_cfg c = { .ops = &got_ops, .master = true, .ctx = &mgot };

	loop = ev_loop_new(EVFLAG_AUTO);
	memset(&mgot, 0, sizeof(mgot));
	maddr = (struct sockaddr_in){ .sin_family = AF_INET,
				      .sin_port = htons(free_port()) };
	maddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(c.key, psk, 32);
	memcpy(&c.addr, &maddr, sizeof(maddr));
	c.addr_len = sizeof(maddr);
	ck_assert_int_eq(lm_new(&master, loop, &c), 0);
	slave = NULL;
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

/* Runs the loop until lm has session keys (2 s at most). */
static void wait_session(struct lm *lm)
{
	for (int i = 0; i < 200 && !lm->sess.cur.valid; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	ck_assert_msg(lm->sess.cur.valid, "no session after 2 s");
}

START_TEST(path_both_ways)
{
	struct lm_link_stats st;

	wait_session(slave);
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
	/* the initiation, then the data packet */
	ck_assert_int_eq(st.rx_packets, 2);
	ck_assert_int_eq(st.rx_bytes, LM_HS_INIT_LEN + 5 + LM_OVERHEAD);
	ck_assert_int_eq(st.tx_packets, 2);
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

/* A slave made of a bare session and a plain socket: handshakes with the
 * real master over link 9. */
static void fake_slave(struct lm_sess *fs, int fd)
{
	uint8_t pkt[LM_HS_RESP_LEN + 8];
	struct lm_stats st = { 0 };
	uint16_t id;
	ssize_t n = -1;

	lm_sess_init(fs, false, psk);
	ck_assert_int_eq(lm_sess_init_make(fs, 0, 9, pkt, sizeof(pkt)),
			 LM_HS_INIT_LEN);
	send_to_master(fd, pkt, LM_HS_INIT_LEN);
	for (int i = 0; i < 100 && n < 0; i++) {
		settle();
		n = recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT);
	}
	ck_assert_int_eq(n, LM_HS_RESP_LEN);
	ck_assert_int_eq(lm_sess_resp_in(fs, 0, pkt, n, &id, &st), 0);
}

static int fake_data(struct lm_sess *fs, uint8_t *pkt, size_t len)
{
	return lm_sess_seal(fs, 0, 1, 9, "data", 4, pkt, len);
}

/* Counters past 2^32 (the wire has their low 32 bits): a run of packets
 * across the wrap arrives, one from before it comes late, and a replay
 * of one from after it is still a replay. */
START_TEST(master_counter_wraps)
{
	uint8_t pkt[128], late[128], again[128];
	int fd = udp_client(), n, nl, na = 0;
	struct lm_stats st;
	struct lm_sess fs;

	fake_slave(&fs, fd);
	fs.cur.tx_counter = (1ULL << 32) - 3;
	nl = fake_data(&fs, late, sizeof(late));	/* 2^32 - 3 */
	for (int i = 0; i < 6; i++) {
		n = fake_data(&fs, pkt, sizeof(pkt));
		if (i == 3) {
			memcpy(again, pkt, n);	/* 2^32 + 1 */
			na = n;
		}
		send_to_master(fd, pkt, n);
	}
	run_until(&mgot.n, 6);
	send_to_master(fd, late, nl);
	run_until(&mgot.n, 7);
	send_to_master(fd, again, na);
	settle();
	lm_stats(master, &st);
	ck_assert_int_eq(mgot.n, 7);
	ck_assert_int_eq(st.replay, 1);
	ck_assert_int_eq(st.auth_fail, 0);
	close(fd);
}
END_TEST

START_TEST(master_drops_replay_and_garbage_silently)
{
	uint8_t pkt[128], junk[100], reply[64];
	int fd = udp_client(), n;
	struct lm_stats st;
	struct lm_sess fs;

	fake_slave(&fs, fd);
	n = fake_data(&fs, pkt, sizeof(pkt));
	send_to_master(fd, pkt, n);
	run_until(&mgot.n, 1);
	ck_assert_int_eq(mgot.n, 1);
	/* the same packet again: a replay */
	send_to_master(fd, pkt, n);
	/* a fresh counter with one flipped bit in the ciphertext */
	n = fake_data(&fs, pkt, sizeof(pkt));
	pkt[n - 20] ^= 4;
	send_to_master(fd, pkt, n);
	/* random junk with a plausible header (the live session's index:
	 * it must fail on the tag), and a short packet */
	randombytes_buf(junk, sizeof(junk));
	memcpy(junk, pkt, LM_HDR_LEN);
	send_to_master(fd, junk, sizeof(junk));
	send_to_master(fd, junk, 10);
	/* a version 1 initiation (84 bytes, a 24-byte header) from an
	 * older braid: malformed, not answered, not a handshake */
	memset(junk, 0, 84);
	junk[0] = 1;
	junk[1] = LM_HS_INIT;
	junk[3] = 1;
	junk[15] = 1;
	send_to_master(fd, junk, 84);
	settle();
	lm_stats(master, &st);
	ck_assert_int_eq(mgot.n, 1);
	ck_assert_int_eq(st.replay, 1);
	ck_assert_int_eq(st.auth_fail, 2);
	ck_assert_int_eq(st.malformed, 2);
	ck_assert_int_eq(st.hs_bad, 0);
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
	struct lm_sess fs;

	fake_slave(&fs, a);
	n = fake_data(&fs, pkt, sizeof(pkt));
	send_to_master(a, pkt, n);
	run_until(&mgot.n, 1);
	n = fake_data(&fs, pkt, sizeof(pkt));
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
	/* a forged packet from the old address moves nothing, nor does a
	 * replayed one */
	pkt[n - 1] ^= 1;
	send_to_master(a, pkt, n);
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

/* A slave with the wrong key gets nothing back, not even to its
 * initiation. */
START_TEST(master_silent_to_wrong_key)
{
	static const uint8_t other[32] = { 0xee };
	uint8_t pkt[128];
	struct lm_stats st;
	struct lm_sess fs;
	int fd = udp_client();

	lm_sess_init(&fs, false, other);
	lm_sess_init_make(&fs, 0, 9, pkt, sizeof(pkt));
	send_to_master(fd, pkt, LM_HS_INIT_LEN);
	settle();
	settle();
	ck_assert_int_lt(recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT), 0);
	lm_stats(master, &st);
	ck_assert_int_eq(st.hs_bad, 1);
	ck_assert_int_eq(st.hs_init, 0);
	close(fd);
}
END_TEST

START_TEST(master_dual_stack)
{
	struct sockaddr_in6 any = { .sin6_family = AF_INET6,
				    .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6,
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct lm_cfg c = { .ops = &got_ops };
	struct got g = { 0 };
	struct lm *m, *sl;

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
	/* one slave over IPv4, then one over IPv6, to the same socket */
	for (int fam = 0; fam < 2; fam++) {
		c.master = false;
		c.ctx = &g;
		if (fam == 0) {
			memcpy(&c.addr, &v4, sizeof(v4));
			c.addr_len = sizeof(v4);
		} else {
			memcpy(&c.addr, &v6, sizeof(v6));
			c.addr_len = sizeof(v6);
		}
		memset(&g, 0, sizeof(g));
		ck_assert_int_eq(lm_new(&sl, loop, &c), 0);
		ck_assert_int_eq(add_udp(sl, fam + 1, fam ? "v6" : "v4"), 0);
		wait_session(sl);
		ck_assert_int_eq(lm_send(sl, fam + 1, 1, "up", 2), 0);
		run_until(&mgot.n, fam + 1);
		ck_assert_int_eq(mgot.n, fam + 1);
		ck_assert_int_eq(mgot.link, fam + 1);
		ck_assert_int_eq(lm_send(m, fam + 1, 1, "down", 4), 0);
		run_until(&g.n, 1);
		ck_assert_int_eq(g.n, 1);
		lm_free(sl);
	}
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
	uint8_t b[128];
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
	/* the stream carries length-prefixed packets: first the handshake
	 * initiation (no session yet, so no data) */
	ck_assert_int_eq(lm_send(slave, 1, 1, "data", 4), -ENOTCONN);
	ck_assert_uint_eq(fake_read(fd, b, 2), 2);
	flen = (uint16_t)(b[0] << 8 | b[1]);
	ck_assert_uint_eq(flen, LM_HS_INIT_LEN);
	ck_assert_uint_eq(fake_read(fd, b, flen), flen);
	ck_assert_int_eq(b[0], LM_WIRE_VERSION);
	ck_assert_int_eq(b[1], LM_HS_INIT);
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
	/* the handshake initiation goes out through the relay */
	for (int i = 0; i < 30; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(10000);
	}
	ck_assert_int_eq(recv(ufd, b, sizeof(b), MSG_DONTWAIT),
			 10 + LM_HS_INIT_LEN);
	ck_assert_int_eq(b[11], LM_HS_INIT);
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
	wait_session(sl);
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

/* listen_tcp = false: the TCP port is closed; by default it is open. */
START_TEST(master_tcp_listener_optional)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct lm_cfg c = { .ops = &got_ops, .master = true, .ctx = &mgot };
	struct lm *m;

	loop = ev_loop_new(EVFLAG_AUTO);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(c.key, psk, 32);
	for (int closed = 0; closed < 2; closed++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), rc;

		a.sin_port = htons(free_port());
		memcpy(&c.addr, &a, sizeof(a));
		c.addr_len = sizeof(a);
		c.no_tcp = closed;
		ck_assert_int_eq(lm_new(&m, loop, &c), 0);
		rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
		if (closed) {
			ck_assert_int_eq(rc, -1);
			ck_assert_int_eq(errno, ECONNREFUSED);
		} else {
			ck_assert_int_eq(rc, 0);
		}
		close(fd);
		lm_free(m);
	}
	ev_loop_destroy(loop);
}
END_TEST

static Suite *linkmap_suite(void)
{
	Suite *s = suite_create("linkmap");
	TCase *tc;

	tc = tcase_create("wire");
	tcase_add_test(tc, hdr_round_trip);
	tcase_add_test(tc, hdr_rejects);
	tcase_add_test(tc, counter_expand);
	tcase_add_test(tc, hdr_looks_old);
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
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_test(tc, hs_round_trip);
	tcase_add_test(tc, hs_fresh_keys_every_time);
	tcase_add_test(tc, hs_init_replay_refused);
	tcase_add_test(tc, hs_resp_checked);
	tcase_add_test(tc, hs_rate_limited);
	tcase_add_test(tc, rekey_overlap);
	tcase_add_test(tc, hs_when);
	suite_add_tcase(s, tc);

	tc = tcase_create("pair");
	tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
	tcase_add_test(tc, path_both_ways);
	suite_add_tcase(s, tc);

	tc = tcase_create("master");
	tcase_add_checked_fixture(tc, master_setup, pair_teardown);
	tcase_add_test(tc, master_drops_replay_and_garbage_silently);
	tcase_add_test(tc, master_counter_wraps);
	tcase_add_test(tc, master_follows_new_address);
	tcase_add_test(tc, master_silent_to_wrong_key);
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
	tcase_add_test(tc, master_tcp_listener_optional);
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
