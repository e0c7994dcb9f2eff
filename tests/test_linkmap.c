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
