/* SPDX-License-Identifier: MIT */
/* Tests for the multiplexer: weighted round-robin, keepalives, links going
 * down on silence and coming back, master-side learning. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "multiplexer-int.h"

START_TEST(wrr_exact_shares)
{
	struct mux_wrr w[3] = {
		{ .weight = 1, .eligible = true },
		{ .weight = 2, .eligible = true },
		{ .weight = 3, .eligible = true },
	};
	int count[3] = { 0 };

	for (int i = 0; i < 6000; i++)
		count[mux_wrr_pick(w, 3)]++;
	ck_assert_int_eq(count[0], 1000);
	ck_assert_int_eq(count[1], 2000);
	ck_assert_int_eq(count[2], 3000);
}
END_TEST

/* Smooth: the heavy link never gets a long run, so packets interleave. */
START_TEST(wrr_smooth)
{
	struct mux_wrr w[2] = {
		{ .weight = 1, .eligible = true },
		{ .weight = 4, .eligible = true },
	};
	int run = 0, longest = 0;

	for (int i = 0; i < 1000; i++) {
		if (mux_wrr_pick(w, 2) == 1)
			run++;
		else
			run = 0;
		if (run > longest)
			longest = run;
	}
	ck_assert_int_le(longest, 4);
}
END_TEST

/* Equal weights: the stream link gets no more than the UDP one, and the
 * UDP link goes first. */
START_TEST(wrr_stream_loses_ties)
{
	struct mux_wrr w[2] = {
		{ .weight = 1, .eligible = true, .stream = true },
		{ .weight = 1, .eligible = true },
	};
	int count[2] = { 0 };

	ck_assert_int_eq(mux_wrr_pick(w, 2), 1);
	count[1]++;
	for (int i = 1; i < 1001; i++)
		count[mux_wrr_pick(w, 2)]++;
	ck_assert_int_le(count[0], count[1]);
	ck_assert_int_ge(count[0], 500);
}
END_TEST

START_TEST(wrr_eligibility)
{
	struct mux_wrr w[3] = {
		{ .weight = 5, .eligible = false },
		{ .weight = 1, .eligible = true },
		{ .weight = 1, .eligible = false },
	};

	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(mux_wrr_pick(w, 3), 1);
	w[1].eligible = false;
	ck_assert_int_eq(mux_wrr_pick(w, 3), -1);
	ck_assert_int_eq(mux_wrr_pick(w, 0), -1);
}
END_TEST

/* ---- a mux on a real loop, with a fake link layer ---- */

#define SENT_MAX 20000

struct fake {
	int nsent;
	struct {
		uint16_t link;
		uint8_t type;
		size_t len;
		uint16_t dep;	/* data: header bytes 8-9 */
		uint32_t seq;	/* data: header bytes 0-3 */
		uint32_t lseq;	/* data: header bytes 4-7 */
		double at;	/* wall time it was handed over */
		uint8_t body[16];	/* the message's first bytes */
	} sent[SENT_MAX];
	uint8_t last_ka[MUX_KEEPALIVE_LEN];
	int per_link[8];
	int fail_link;		/* this link's sends fail with -ENETDOWN */
	int fail_all;		/* every send fails with this, if set */
	uint32_t lseq[8];	/* next link sequence seen per link */
	uint32_t cnt[8];	/* data packets per link */
	int tries;
	int delivered;
	uint8_t delivered_data[64];
	char order[64][16];	/* what was delivered, in order */
	int removed;		/* ops->removed calls */
	uint16_t removed_id;
};

static struct fake fk;
static struct ev_loop *loop;
static struct mux *mux;

static int fake_send(void *ctx, uint16_t link, uint8_t type, const void *buf,
		     size_t len)
{
	struct fake *f = ctx;

	f->tries++;
	if (f->fail_all)
		return f->fail_all;
	if (link == f->fail_link)
		return -ENETDOWN;
	if (f->nsent < SENT_MAX) {
		f->sent[f->nsent].link = link;
		f->sent[f->nsent].type = type;
		f->sent[f->nsent].len = len;
		f->sent[f->nsent].at = ev_time();
		memcpy(f->sent[f->nsent].body, buf, len < 16 ? len : 16);
		if (type == MUX_MSG_DATA && len >= MUX_HDR_LEN) {
			f->sent[f->nsent].seq = get_be32(buf);
			f->sent[f->nsent].lseq = get_be32((const uint8_t *)buf +
							  4);
		}
		if (type == MUX_MSG_DATA && len >= MUX_HDR_LEN)
			f->sent[f->nsent].dep = (uint16_t)(
				((const uint8_t *)buf)[8] << 8 |
				((const uint8_t *)buf)[9]);
		f->nsent++;
	}
	if (type == MUX_MSG_DATA && link < 8) {
		const uint8_t *h = buf;

		f->per_link[link]++;
		f->cnt[link]++;
		f->lseq[link] = ((uint32_t)h[4] << 24 | h[5] << 16 | h[6] << 8 |
				 h[7]) + 1;
	}
	if (type == MUX_MSG_KEEPALIVE && len == MUX_KEEPALIVE_LEN)
		memcpy(f->last_ka, buf, len);
	return 0;
}

static void fake_deliver(void *ctx, uint16_t link, uint8_t *pkt, size_t len)
{
	struct fake *f = ctx;

	(void)link;
	if (f->delivered < 64)
		snprintf(f->order[f->delivered], 16, "%.*s", (int)len,
			 (char *)pkt);
	f->delivered++;
	memcpy(f->delivered_data, pkt, len < 64 ? len : 64);
}

static void fake_removed(void *ctx, uint16_t link)
{
	struct fake *f = ctx;

	f->removed++;
	f->removed_id = link;
}

static const struct mux_ops fake_ops = { .send = fake_send,
					 .deliver = fake_deliver,
					 .removed = fake_removed };

/* mux_send with the header room it needs in front of the packet. */
static int msend(const char *p, size_t n)
{
	uint8_t buf[MUX_HDR_LEN + 64];

	memcpy(buf + MUX_HDR_LEN, p, n);
	return mux_send(mux, buf + MUX_HDR_LEN, n);
}

/* An IPv4 UDP packet of len bytes from port sport, sent. */
static int msend_udp(uint16_t sport, size_t len)
{
	uint8_t buf[MUX_HDR_LEN + 1500] = { 0 };
	uint8_t *ip = buf + MUX_HDR_LEN;

	ip[0] = 0x45;
	ip[9] = 17;
	ip[12] = 10, ip[15] = 2;	/* 10.0.0.2 -> 10.0.0.1 */
	ip[16] = 10, ip[19] = 1;
	ip[20] = sport >> 8, ip[21] = sport & 0xff;
	ip[23] = 53;
	return mux_send(mux, ip, len);
}

/* A data message as the other side's mux sends it. */
static void data_msg(uint16_t link, uint32_t seq, const char *p)
{
	uint8_t buf[MUX_HDR_LEN + 64] = { seq >> 24, seq >> 16, seq >> 8, seq };
	size_t n = strlen(p) + 1;

	memcpy(buf + MUX_HDR_LEN, p, n);
	mux_input(mux, link, MUX_MSG_DATA, buf, MUX_HDR_LEN + n);
}

/* A feedback message: lseq_max, rx_count, rx_bytes, ack delay 0, and
 * which of the 64 before lseq_max arrived (seen). */
static void fb_msg_seen(uint8_t *b, uint32_t lseq, uint32_t cnt,
			uint64_t bytes, uint64_t seen)
{
	uint32_t rx_at;

	for (int i = 0; i < 4; i++) {
		b[i] = lseq >> (24 - 8 * i);
		b[4 + i] = cnt >> (24 - 8 * i);
	}
	for (int i = 0; i < 8; i++) {
		b[8 + i] = bytes >> (56 - 8 * i);
		b[20 + i] = seen >> (56 - 8 * i);
	}
	memset(b + 16, 0, 4);
	/* the receiver's clock: wall time, leaving the loop's time alone */
	rx_at = (uint32_t)(uint64_t)(ev_time() * 1e6);
	for (int i = 0; i < 4; i++)
		b[28 + i] = rx_at >> (24 - 8 * i);
}

static void fb_msg(uint8_t *b, uint32_t lseq, uint32_t cnt, uint64_t bytes)
{
	fb_msg_seen(b, lseq, cnt, bytes, ~0ULL);
}

/* Feedback on link: everything sent on it so far arrived. */
static void confirm_all(uint16_t link)
{
	uint8_t f[MUX_FB_LEN];

	fb_msg(f, fk.lseq[link] - 1, fk.cnt[link], fk.cnt[link] * 9ULL);
	mux_input(mux, link, MUX_MSG_FEEDBACK, f, sizeof(f));
}

static void make_mux_measure(bool master, enum mux_sched sched,
			     bool redundant, bool measure)
{
	struct mux_cfg c = { .master = master, .keepalive = 0.02,
			     .dead_time = 0.1, .ops = &fake_ops, .ctx = &fk,
			     .sched = sched, .redundant = redundant,
			     .measure = measure };

	memset(&fk, 0, sizeof(fk));
	loop = ev_loop_new(EVFLAG_AUTO);
	ck_assert_int_eq(mux_new(&mux, loop, &c), 0);
}

static void make_mux_sched(bool master, enum mux_sched sched, bool redundant)
{
	make_mux_measure(master, sched, redundant, false);
}

static void slave_setup(void)
{
	make_mux_sched(false, MUX_SCHED_ROUNDROBIN, false);
}

static void master_setup(void)
{
	make_mux_sched(true, MUX_SCHED_ROUNDROBIN, false);
}

static void earliest_setup(void)
{
	make_mux_sched(false, MUX_SCHED_EARLIEST, false);
}

static void master_earliest_setup(void)
{
	make_mux_sched(true, MUX_SCHED_EARLIEST, false);
}

static void equalized_setup(void)
{
	make_mux_sched(false, MUX_SCHED_EQUALIZED, false);
}

static void redundant_setup(void)
{
	make_mux_sched(false, MUX_SCHED_EARLIEST, true);
}

/* Links that come up are measured with padding. */
static void measure_setup(void)
{
	make_mux_measure(false, MUX_SCHED_EQUALIZED, false, true);
}

static void mux_teardown(void)
{
	mux_free(mux);
	ev_loop_destroy(loop);
}

/* Runs the loop for about secs of wall time. */
static void run_for(double secs)
{
	for (int i = 0; i < secs * 200; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(5000);
	}
}

/* Runs the loop until link has sent n data packets, for at most secs
 * (a loaded machine stretches run_for's steps). */
static void run_until_sent(uint16_t link, int n, double secs)
{
	for (double t0 = ev_time(); fk.per_link[link] < n &&
				    ev_time() - t0 < secs;) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
}

static int count_type(uint16_t link, uint8_t type)
{
	int n = 0;

	for (int i = 0; i < fk.nsent; i++)
		n += fk.sent[i].link == link && fk.sent[i].type == type;
	return n;
}

#define PEER_EPOCH 0x12345678u

/* The master's answer to a keepalive: stamp 0, its epoch, and that it
 * takes padding (an earlier release's answer: len 12, without). */
static void ack_len(uint16_t link, size_t len)
{
	uint8_t a[MUX_KA_ACK_PAD_LEN] = { [8] = PEER_EPOCH >> 24,
					  [9] = PEER_EPOCH >> 16 & 0xff,
					  [10] = PEER_EPOCH >> 8 & 0xff,
					  [11] = PEER_EPOCH & 0xff,
					  [13] = MUX_KA_PADDING };

	mux_input(mux, link, MUX_MSG_KEEPALIVE_ACK, a, len);
}

static void ack(uint16_t link)
{
	ack_len(link, MUX_KA_ACK_PAD_LEN);
}

/* Links a (1) and b (2), both answered: up. */
static void two_links_up(void)
{
	mux_link_add(mux, 1, "a", 1);
	mux_link_add(mux, 2, "b", 1);
	ack(1);
	ack(2);
}

/* Links main (1) and spare (2, a backup of this weight), both up. */
static void main_and_spare_up(unsigned spare_weight)
{
	mux_link_add(mux, 1, "main", 1);
	mux_link_add(mux, 2, "spare", spare_weight);
	mux_link_set_backup(mux, 2, true);
	ack(1);
	ack(2);
}

static bool is_up(uint16_t link)
{
	struct mux_link_stats st;

	ck_assert_int_eq(mux_link_stats(mux, link, &st), 0);
	return st.up;
}

START_TEST(slave_links_start_down_and_keepalive)
{
	struct mux_stats ms;

	ck_assert_int_eq(mux_link_add(mux, 1, "dsl", 1), 0);
	ck_assert_int_eq(mux_link_add(mux, 1, "dup", 1), -EEXIST);
	ck_assert(!is_up(1));
	ck_assert_int_eq(msend("pkt", 3), -ENETUNREACH);
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.no_link, 1);
	run_for(0.1);
	/* keepalives every 20 ms, carrying the link's name */
	ck_assert_int_ge(count_type(1, MUX_MSG_KEEPALIVE), 3);
	ck_assert_str_eq((char *)fk.last_ka + 12, "dsl");
	ack(1);
	ck_assert(is_up(1));
	ck_assert_int_eq(msend("pkt", 3), 0);
	ck_assert_int_eq(fk.per_link[1], 1);
}
END_TEST

START_TEST(slave_dead_and_back)
{
	struct mux_link_stats st;

	two_links_up();
	/* link 2 keeps answering, link 1 goes silent */
	for (int i = 0; i < 30; i++) {
		ack(2);
		run_for(0.01);
	}
	ck_assert(!is_up(1));
	ck_assert(is_up(2));
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1], 0);
	ck_assert_int_eq(fk.per_link[2], 100);
	/* keepalives still go out on the dead link, so it can come back */
	fk.nsent = 0;
	run_for(0.06);
	ck_assert_int_ge(count_type(1, MUX_MSG_KEEPALIVE), 2);
	ack(1);
	ck_assert(is_up(1));
	ck_assert_int_eq(mux_link_stats(mux, 1, &st), 0);
	ck_assert_int_eq(st.downs, 1);
	/* and it is back in the rotation */
	for (int i = 0; i < 100; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[1], 50);
}
END_TEST

START_TEST(slave_not_dead_while_heard)
{
	mux_link_add(mux, 1, "a", 1);
	for (int i = 0; i < 40; i++) {
		ack(1);
		run_for(0.01);
		ck_assert(is_up(1));
	}
}
END_TEST

START_TEST(weights_honoured_through_send)
{
	mux_link_add(mux, 1, "slow", 1);
	mux_link_add(mux, 2, "fast", 3);
	ack(1);
	ack(2);
	for (int i = 0; i < 4000; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1], 1000);
	ck_assert_int_eq(fk.per_link[2], 3000);
}
END_TEST

/* Round-robin leaves a backup link out while another link is up. */
START_TEST(roundrobin_backup)
{
	main_and_spare_up(5);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[2], 0);
	fk.fail_link = 1;	/* main refuses: spare takes it */
	ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[2], 1);
	for (int i = 0; i < 12; i++) {	/* main goes silent: down */
		ack(2);
		run_for(0.01);
	}
	ck_assert(!is_up(1));
	fk.fail_link = 0;
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[2], 11);
}
END_TEST

/* A link whose socket refuses a packet does not lose it. */
START_TEST(send_failure_moves_packet)
{
	struct mux_link_stats st;

	two_links_up();
	fk.fail_link = 1;
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[2], 10);
	mux_link_stats(mux, 1, &st);
	ck_assert_int_gt(st.send_fail, 0);
	fk.fail_link = 2;
	fk.per_link[1] = 0;
	ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1], 1);
}
END_TEST

START_TEST(data_is_delivered)
{
	mux_link_add(mux, 1, "a", 1);
	data_msg(1, 100, "\x45 an ip packet");
	ck_assert_int_eq(fk.delivered, 1);
	ck_assert_str_eq((char *)fk.delivered_data, "\x45 an ip packet");
	/* unknown links are ignored on the slave */
	data_msg(7, 101, "x");
	ck_assert_int_eq(fk.delivered, 1);
	/* too short for the header: counted, dropped */
	mux_input(mux, 1, MUX_MSG_DATA, (uint8_t *)"abc", 3);
	ck_assert_int_eq(fk.delivered, 1);
}
END_TEST

static void keepalive_from_slave(uint16_t link, const char *name,
				 uint32_t weight, uint64_t stamp)
{
	uint8_t ka[MUX_KEEPALIVE_LEN] = { 0 };

	for (int i = 0; i < 8; i++)
		ka[i] = stamp >> (56 - 8 * i);
	ka[8] = weight >> 8;
	ka[9] = weight;
	memcpy(ka + 12, name, strnlen(name, 32));
	ka[44] = PEER_EPOCH >> 24;
	ka[45] = PEER_EPOCH >> 16 & 0xff;
	ka[46] = PEER_EPOCH >> 8 & 0xff;
	ka[47] = PEER_EPOCH & 0xff;
	mux_input(mux, link, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
}

START_TEST(master_learns_and_answers)
{
	struct mux_link_stats st;
	uint16_t ids[4];

	keepalive_from_slave(5, "lte", 3, 0x0102030405060708ULL);
	ck_assert_int_eq(mux_links(mux, ids, 4), 1);
	ck_assert_int_eq(ids[0], 5);
	ck_assert_int_eq(mux_link_stats(mux, 5, &st), 0);
	ck_assert(st.up);
	ck_assert_str_eq(st.name, "lte");
	ck_assert_int_eq(st.weight, 3);
	/* the answer echoes the stamp on the same link */
	ck_assert_int_eq(fk.nsent, 1);
	ck_assert_int_eq(fk.sent[0].link, 5);
	ck_assert_int_eq(fk.sent[0].type, MUX_MSG_KEEPALIVE_ACK);
	ck_assert_int_eq(fk.sent[0].len, MUX_KA_ACK_PAD_LEN);
	ck_assert_int_eq(fk.sent[0].body[12] << 8 | fk.sent[0].body[13],
			 MUX_KA_PADDING);	/* it takes padding */
	/* the master sends no keepalives of its own */
	run_for(0.05);
	ck_assert_int_eq(fk.nsent, 1);
	/* and its links die on silence too */
	run_for(0.1);
	ck_assert(!is_up(5));
	ck_assert_int_eq(msend("p", 1), -ENETUNREACH);
}
END_TEST

/* The master's links share one socket: when it is full, one try is
 * enough; the packet is not sealed again for every link. */
START_TEST(master_full_socket_tried_once)
{
	struct mux_stats ms;

	keepalive_from_slave(1, "a", 1, 1);
	keepalive_from_slave(2, "b", 1, 1);
	keepalive_from_slave(3, "c", 1, 1);
	fk.tries = 0;
	fk.fail_all = -ENOBUFS;
	ck_assert_int_eq(msend("p", 1), -ENOBUFS);
	ck_assert_int_eq(fk.tries, 1);
	/* lost, and counted (not as the link's drops: it did no worse) */
	mux_stats(mux, &ms);
	ck_assert_uint_eq(ms.congested, 1);
	/* one link backed up (a stream): the next one is tried */
	fk.tries = 0;
	fk.fail_all = -EAGAIN;
	ck_assert_int_eq(msend("p", 1), -EAGAIN);
	ck_assert_int_eq(fk.tries, 3);
	/* a link-specific failure still moves the packet along */
	fk.tries = 0;
	fk.fail_all = 0;
	fk.fail_link = 1;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1], 0);
}
END_TEST

START_TEST(master_rejects_hostile_names)
{
	struct mux_link_stats st;

	keepalive_from_slave(2, "\x1b[2Jevil", 0, 1);
	mux_link_stats(mux, 2, &st);
	ck_assert_str_eq(st.name, "?[2Jevil");
	ck_assert_int_eq(st.weight, 1);	/* weight 0 ignored */
	keepalive_from_slave(2, "x", 5000, 1);
	mux_link_stats(mux, 2, &st);
	ck_assert_int_eq(st.weight, 1);	/* out of range ignored */
}
END_TEST

/* ---- the reorder buffer by itself ---- */

static char rgot[64][16];
static int nrgot;

static void rdeliver(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	snprintf(rgot[nrgot++ % 64], 16, "%.*s", (int)len, (char *)pkt);
}

/* Packet seq of flow dep (see MUX_DEP_NONE); 0: in plain order. */
static void rin_dep(struct mux_reorder *r, uint32_t seq, uint16_t dep,
		    double now)
{
	char p[16];

	snprintf(p, sizeof(p), "%u", seq);
	mux_reorder_in(r, seq, dep, (uint8_t *)p, strlen(p), now, rdeliver,
		       NULL);
}

static void rin(struct mux_reorder *r, uint32_t seq, double now)
{
	rin_dep(r, seq, 0, now);
}

static struct mux_reorder ro;

static void ro_setup(void)
{
	nrgot = 0;
	ck_assert_int_eq(mux_reorder_init(&ro, 8, 64), 0);
}

static void ro_teardown(void)
{
	mux_reorder_free(&ro);
}

START_TEST(ro_in_order)
{
	for (uint32_t s = 5; s < 30; s++)
		rin(&ro, s, 0);
	ck_assert_int_eq(nrgot, 25);
	ck_assert_str_eq(rgot[0], "5");
	ck_assert_int_eq(ro.st.held, 0);
	ck_assert_double_eq(mux_reorder_deadline(&ro), 0);
}
END_TEST

/* Two flows: A is 1, 3, 5 (each depends on the one before), B is 2, 4.
 * 1 is missing: B does not wait for it, A does; when 1 comes, A goes in
 * its order and the head steps over what went early. */
START_TEST(ro_flows_independent)
{
	rin_dep(&ro, 0, 0, 0);			/* the start */
	rin_dep(&ro, 2, MUX_DEP_NONE, 0.01);	/* B's first */
	rin_dep(&ro, 3, 2, 0.01);		/* A: after 1 */
	rin_dep(&ro, 4, 2, 0.01);		/* B: after 2 */
	rin_dep(&ro, 5, 2, 0.01);		/* A: after 3 */
	ck_assert_int_eq(nrgot, 3);
	ck_assert_str_eq(rgot[1], "2");
	ck_assert_str_eq(rgot[2], "4");
	ck_assert_int_eq(ro.st.early, 2);
	ck_assert_int_eq(ro.held, 2);		/* 3 and 5 wait for 1 */
	ck_assert_double_gt(mux_reorder_deadline(&ro), 0);
	rin_dep(&ro, 1, MUX_DEP_NONE, 0.02);
	ck_assert_int_eq(nrgot, 6);
	ck_assert_str_eq(rgot[3], "1");
	ck_assert_str_eq(rgot[4], "3");
	ck_assert_str_eq(rgot[5], "5");
	ck_assert_int_eq(ro.held, 0);
	ck_assert(!mux_reorder_hole(&ro));
	ck_assert_double_eq(mux_reorder_deadline(&ro), 0);
	/* a second copy of one that went early is a duplicate */
	rin_dep(&ro, 4, 2, 0.03);
	ck_assert_int_eq(nrgot, 6);
	ck_assert_int_eq(ro.st.dup, 1);
	ck_assert_int_eq(ro.st.lost, 0);
}
END_TEST

/* A hole that only early packets passed is still given up in time, and
 * what waited on it in its flow then goes. */
START_TEST(ro_flow_hole_given_up)
{
	rin_dep(&ro, 0, 0, 0);
	rin_dep(&ro, 2, MUX_DEP_NONE, 0);	/* B, early */
	ck_assert_int_eq(nrgot, 2);
	ck_assert(mux_reorder_hole(&ro));	/* 1 missing */
	ck_assert_double_gt(mux_reorder_deadline(&ro), 0);
	rin_dep(&ro, 3, 2, 0);			/* A: waits for 1 */
	ck_assert_int_eq(nrgot, 2);
	mux_reorder_give_up(&ro, 1.0, rdeliver, NULL);
	ck_assert_int_eq(nrgot, 3);
	ck_assert_str_eq(rgot[2], "3");
	ck_assert_int_eq(ro.st.lost, 1);	/* 1 only: 2 was not lost */
	ck_assert(!mux_reorder_hole(&ro));
	rin_dep(&ro, 4, 1, 1.0);		/* in order again */
	ck_assert_int_eq(nrgot, 4);
}
END_TEST

/* Marks of packets that went early live apart from those of packets
 * behind the head: with the buffer's 8 slots, 9 and 1 share one, and
 * neither copy is delivered twice nor 9 taken for a hole. */
START_TEST(ro_early_marks_kept_apart)
{
	for (uint32_t s = 0; s < 6; s++)
		rin_dep(&ro, s, MUX_DEP_NONE, 0);
	rin_dep(&ro, 9, MUX_DEP_NONE, 0.001);	/* early */
	rin_dep(&ro, 1, MUX_DEP_NONE, 0.002);	/* a second copy */
	for (uint32_t s = 6; s < 9; s++)
		rin_dep(&ro, s, MUX_DEP_NONE, 0.003);
	ck_assert(!mux_reorder_hole(&ro));
	rin_dep(&ro, 9, MUX_DEP_NONE, 0.004);	/* a second copy */
	ck_assert_int_eq(nrgot, 10);
	ck_assert_int_eq(ro.st.dup, 2);
	ck_assert_int_eq(ro.st.lost, 0);
	ck_assert_int_eq(ro.next, 10);
}
END_TEST

/* A hole that only early packets passed waits anew once the one before
 * it is given up (nothing waits for it; its resend may still come); a
 * packet that waited for its flow's predecessor and goes out in plain
 * order when it comes is not "early". */
START_TEST(ro_early_holes_one_wait)
{
	double hold;

	rin_dep(&ro, 0, MUX_DEP_NONE, 0);
	rin_dep(&ro, 2, MUX_DEP_NONE, 0);	/* 1 missing */
	rin_dep(&ro, 4, MUX_DEP_NONE, 0);	/* 3 missing */
	hold = mux_reorder_hold(&ro);
	mux_reorder_give_up(&ro, hold, rdeliver, NULL);
	ck_assert_int_eq(ro.next, 3);
	ck_assert_double_eq_tol(mux_reorder_deadline(&ro), 2 * hold, 1e-9);
	ck_assert_int_eq(ro.st.early, 2);
	rin_dep(&ro, 3, MUX_DEP_NONE, hold);
	rin_dep(&ro, 6, 1, hold);		/* waits for 5 */
	rin_dep(&ro, 5, 1, hold);		/* 5, 6 in plain order */
	ck_assert_int_eq(ro.st.early, 2);
	ck_assert_int_eq(nrgot, 6);
}
END_TEST

/* A packet too big to hold goes out at once, nothing given up. */
START_TEST(ro_too_big_goes_now)
{
	char big[100];

	memset(big, 'x', sizeof(big));
	rin_dep(&ro, 0, MUX_DEP_NONE, 0);
	rin_dep(&ro, 3, 1, 0);			/* waits for 2 */
	mux_reorder_in(&ro, 4, 1, (uint8_t *)big, sizeof(big), 0, rdeliver,
		       NULL);			/* 100 > 64 bytes */
	ck_assert_int_eq(nrgot, 2);
	ck_assert_int_eq(ro.st.lost, 0);
	ck_assert_int_eq(ro.next, 1);
	rin_dep(&ro, 1, MUX_DEP_NONE, 0);
	rin_dep(&ro, 2, MUX_DEP_NONE, 0);
	ck_assert_int_eq(nrgot, 5);
	ck_assert_int_eq(ro.next, 5);
	ck_assert_int_eq(ro.st.lost, 0);
}
END_TEST

/* A model check: packets of several flows arrive out of order, some
 * lost, some twice, some resent late, with holes given up at random.
 * Nothing is delivered twice, nothing that arrived in time is dropped,
 * each flow keeps its order (but for late ones), the buffer ends empty,
 * and a hole always has a deadline. */
#define MODEL_N 3000

static struct {
	int flow[MODEL_N], delivered[MODEL_N], arrived[MODEL_N];
	int maxd[16];
	int dups, disorder;
	bool late;
} md;

static void model_deliver(void *ctx, uint8_t *pkt, size_t len)
{
	uint32_t i;

	(void)ctx;
	ck_assert_uint_eq(len, sizeof(i));
	memcpy(&i, pkt, sizeof(i));
	md.dups += md.delivered[i]++ > 0;
	if ((int)i < md.maxd[md.flow[i]] && !md.late)
		md.disorder++;
	if ((int)i > md.maxd[md.flow[i]])
		md.maxd[md.flow[i]] = (int)i;
}

struct model_ev {
	double t;
	uint32_t i;
};

static int model_cmp(const void *a, const void *b)
{
	const struct model_ev *x = a, *y = b;

	return x->t < y->t ? -1 : x->t > y->t;
}

static void model_run(unsigned seed, size_t cap, int nflows)
{
	static struct model_ev ev[3 * MODEL_N];
	static uint16_t dep[MODEL_N];
	uint64_t last[16] = { 0 };
	struct mux_reorder r;
	uint32_t base;
	double loss, dupp, spread, giveup;
	int ne = 0;

	srand(seed);
	memset(&md, 0, sizeof(md));
	for (int f = 0; f < 16; f++)
		md.maxd[f] = -1;
	base = 0u - (uint32_t)(rand() % 2000);	/* across the wrap */
	for (int i = 0; i < MODEL_N; i++) {
		uint32_t seq = base + (uint32_t)i;
		uint32_t back;

		md.flow[i] = rand() % nflows;
		back = seq - (uint32_t)last[md.flow[i]];
		dep[i] = !last[md.flow[i]] || back >= cap ? MUX_DEP_NONE :
			 (uint16_t)back;
		last[md.flow[i]] = 1ULL << 32 | seq;
	}
	loss = (rand() % 20) / 100.0;
	dupp = (rand() % 30) / 100.0;
	spread = 1 + rand() % (int)(cap + cap / 4);
	giveup = (rand() % 30) / 100.0;
	for (int i = 0; i < MODEL_N; i++) {
		int copies = 1 + (rand() < dupp * RAND_MAX) +
			     (rand() < dupp / 3 * RAND_MAX);

		for (int c = 0; c < copies; c++) {
			double d = (double)rand() / RAND_MAX *
				   (rand() % 10 ? spread / 4 : spread);

			if (rand() < loss * RAND_MAX)
				continue;
			if (c == 2)
				d += rand() % (int)(2 * cap);	/* late resend */
			ev[ne++] = (struct model_ev){ i + d, (uint32_t)i };
		}
	}
	qsort(ev, (size_t)ne, sizeof(ev[0]), model_cmp);
	ck_assert_int_eq(mux_reorder_init(&r, cap, 16), 0);
	for (int e = 0; e < ne; e++) {
		uint32_t i = ev[e].i;
		uint8_t p[4];
		size_t held = 0;

		memcpy(p, &i, sizeof(i));
		md.late = r.started && (int32_t)(base + i - r.next) < 0;
		if ((int32_t)(base + i - r.next) > -(int32_t)cap || !r.started)
			md.arrived[i] = 1;
		mux_reorder_in(&r, base + i, dep[i], p, sizeof(p), ev[e].t,
			       model_deliver, NULL);
		md.late = false;
		if (rand() < giveup * RAND_MAX)
			mux_reorder_give_up(&r, ev[e].t, model_deliver, NULL);
		for (size_t k = 0; k < cap; k++)
			held += r.slots[k].used;
		ck_assert_uint_eq(held, r.held);
		ck_assert(!mux_reorder_hole(&r) || mux_reorder_deadline(&r));
	}
	for (int guard = 0; mux_reorder_hole(&r) && guard < MODEL_N; guard++) {
		uint32_t before = r.next;

		mux_reorder_give_up(&r, 1e9, model_deliver, NULL);
		ck_assert_uint_ne(r.next, before);
	}
	ck_assert_uint_eq(r.held, 0);
	ck_assert_msg(!md.dups && !md.disorder, "seed %u cap %zu flows %d: "
		      "%d delivered twice, %d out of flow order", seed, cap,
		      nflows, md.dups, md.disorder);
	for (int i = 0; i < MODEL_N; i++)
		ck_assert_msg(!md.arrived[i] || md.delivered[i],
			      "seed %u: packet %d arrived, never delivered",
			      seed, i);
	mux_reorder_free(&r);
}

START_TEST(ro_model_random)
{
	static const size_t caps[] = { 8, 64, 2048 };
	static const int flows[] = { 1, 4, 16 };

	for (unsigned seed = 1; seed <= 10; seed++)
		for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++)
			for (size_t f = 0; f < sizeof(flows) / sizeof(flows[0]);
			     f++)
				model_run(seed, caps[c], flows[f]);
}
END_TEST

START_TEST(ro_hole_filled)
{
	rin(&ro, 1, 0);
	rin(&ro, 3, 0.01);
	rin(&ro, 4, 0.01);
	ck_assert_int_eq(nrgot, 1);
	ck_assert_double_gt(mux_reorder_deadline(&ro), 0.01);
	rin(&ro, 2, 0.03);
	ck_assert_int_eq(nrgot, 4);
	ck_assert_str_eq(rgot[1], "2");
	ck_assert_str_eq(rgot[2], "3");
	ck_assert_str_eq(rgot[3], "4");
	ck_assert_int_eq(ro.st.held, 2);
	ck_assert_int_eq(ro.st.lost, 0);
}
END_TEST

START_TEST(ro_hole_given_up_then_late)
{
	rin(&ro, 1, 0);
	rin(&ro, 3, 0);
	rin(&ro, 5, 0);
	mux_reorder_give_up(&ro, 0, rdeliver, NULL);
	ck_assert_int_eq(nrgot, 2);		/* 1, 3: 4 is a hole too */
	/* which began when 5 came, at 0: it is due already, it does not
	 * wait a whole new hold (a burst of holes goes in one hold) */
	ck_assert_double_eq_tol(mux_reorder_deadline(&ro),
				mux_reorder_hold(&ro), 1e-9);
	mux_reorder_give_up(&ro, 0, rdeliver, NULL);
	ck_assert_int_eq(nrgot, 3);
	ck_assert_str_eq(rgot[2], "5");
	ck_assert_int_eq(ro.st.lost, 2);
	/* 2 shows up after all: late, but delivered */
	rin(&ro, 2, 0.3);
	ck_assert_int_eq(nrgot, 4);
	ck_assert_int_eq(ro.st.late, 1);
	ck_assert_double_eq(mux_reorder_deadline(&ro), 0);
	/* it came 300 ms after its hole began: holes wait longer now */
	ck_assert_double_eq_tol(mux_reorder_hold(&ro), 0.3, 1e-9);
}
END_TEST

START_TEST(ro_bounds)
{
	rin(&ro, 0, 0);
	rin(&ro, 2, 0);
	rin(&ro, 2, 0);		/* a second copy */
	ck_assert_int_eq(ro.st.dup, 1);
	/* 8 slots: 20 ahead cannot wait; nothing stalls */
	rin(&ro, 20, 0);
	ck_assert_int_eq(ro.st.overflow, 1);
	ck_assert_int_eq(nrgot, 3);
	ck_assert_str_eq(rgot[1], "2");
	ck_assert_str_eq(rgot[2], "20");
	rin(&ro, 21, 0);
	ck_assert_int_eq(nrgot, 4);
	ck_assert_int_eq(ro.held, 0);
}
END_TEST

START_TEST(ro_wraps)
{
	rin(&ro, 0xfffffffe, 0);
	rin(&ro, 0, 0);
	rin(&ro, 0xffffffff, 0);
	rin(&ro, 1, 0);
	ck_assert_int_eq(nrgot, 4);
	ck_assert_str_eq(rgot[1], "4294967295");
	ck_assert_str_eq(rgot[2], "0");
	ck_assert_int_eq(ro.st.lost, 0);
}
END_TEST

/* The wait for a hole follows how late holes really were. */
START_TEST(ro_hold_adapts)
{
	double h0 = mux_reorder_hold(&ro);

	ck_assert_double_ge(h0, 0.005);
	ck_assert_double_le(h0, 0.3);
	rin(&ro, 1, 10);
	rin(&ro, 3, 10);
	rin(&ro, 2, 10.1);	/* this hole took 100 ms */
	ck_assert_double_eq_tol(mux_reorder_hold(&ro), 0.15, 0.001);
	/* quiet for a minute: it shrinks back */
	rin(&ro, 5, 70);
	rin(&ro, 4, 70.001);
	ck_assert_double_lt(mux_reorder_hold(&ro), 0.01);
}
END_TEST

/* ---- reordering in the mux: holes given up when known lost ---- */

START_TEST(mux_hole_known_lost)
{
	two_links_up();
	data_msg(1, 10, "p10");
	data_msg(1, 12, "p12");
	ck_assert_int_eq(fk.delivered, 1);
	/* link b is behind: 11 may still come on it */
	data_msg(2, 9, "p9");
	ck_assert_int_eq(fk.delivered, 2);	/* 9 was late */
	/* now both links have sent past 11: it is lost, 12 goes */
	data_msg(2, 13, "p13");
	ck_assert_int_eq(fk.delivered, 4);
	ck_assert_str_eq(fk.order[2], "p12");
	ck_assert_str_eq(fk.order[3], "p13");
}
END_TEST

START_TEST(mux_hole_times_out)
{
	struct mux_stats ms;

	two_links_up();
	data_msg(1, 1, "p1");
	data_msg(1, 3, "p3");
	ck_assert_int_eq(fk.delivered, 1);
	for (int i = 0; i < 20; i++) {	/* keep both links alive */
		ack(1);
		ack(2);
		run_for(0.01);
	}
	ck_assert_int_eq(fk.delivered, 2);
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.reorder.lost, 1);
}
END_TEST

/* ---- estimators and the arrival-time choice ---- */

/* A synthetic link: serialises at rate bytes/s (0: delivers nothing),
 * one-way delay owd, an unbounded queue; its receiver sends feedback
 * every 10 ms, which takes owd to come back. */
#define SIM_MAX 8192
struct sim {
	double rate, owd, busy;
	struct { double at; uint32_t lseq; size_t len; } pipe[SIM_MAX];
	size_t ph, pn;
	struct { double at; struct mux_fb fb; } fbq[SIM_MAX];
	size_t fh, fn;
	struct mux_fb rx;
	double rx_last, next_fb;
	bool rx_new;
	uint32_t lseq;
	double max_queue;	/* s, worst seen */
};

static void sim_send(struct sim *s, struct mux_est *e, double t, size_t len)
{
	double start = s->busy > t ? s->busy : t;

	if (start - t > s->max_queue)
		s->max_queue = start - t;
	mux_est_sent(e, s->lseq, len, t);
	if (s->rate > 0) {
		s->busy = start + len / s->rate;
		s->pipe[(s->ph + s->pn++) % SIM_MAX] =
			(typeof(s->pipe[0])){ s->busy + s->owd, s->lseq, len };
	}
	s->lseq++;
}

/* Runs the link from t to t1 in 1 ms steps. The sender fills the window
 * (saturate) or sends one packet every gap seconds. */
static double sim_run(struct sim *s, struct mux_est *e, double t, double t1,
		      bool saturate, double gap)
{
	double next_app = t;

	for (; t < t1; t += 0.001) {
		while (s->pn && s->pipe[s->ph].at <= t) {
			s->rx.lseq_max = s->pipe[s->ph].lseq;
			s->rx.rx_count++;
			s->rx.rx_bytes += s->pipe[s->ph].len;
			s->rx_last = s->pipe[s->ph].at;
			s->rx_new = true;
			s->ph = (s->ph + 1) % SIM_MAX;
			s->pn--;
		}
		if (t >= s->next_fb && s->rx_new) {
			struct mux_fb fb = s->rx;

			fb.ack_delay = t - s->rx_last;
			fb.seen = ~0ULL;
			fb.rx_at = (uint32_t)(uint64_t)(s->rx_last * 1e6);
			s->fbq[(s->fh + s->fn++) % SIM_MAX] =
				(typeof(s->fbq[0])){ t + s->owd, fb };
			s->rx_new = false;
			s->next_fb = t + 0.01;
		}
		while (s->fn && s->fbq[s->fh].at <= t) {
			mux_est_feedback(e, &s->fbq[s->fh].fb, t);
			s->fh = (s->fh + 1) % SIM_MAX;
			s->fn--;
		}
		if (saturate) {
			while (mux_est_room(e, 1250))
				sim_send(s, e, t, 1250);
		} else if (t >= next_app) {
			sim_send(s, e, t, 1250);
			next_app = t + gap;
		}
	}
	return t;
}

/* Saturated 20 Mbit/s, 20 ms one way: the rate and RTT are found, the
 * startup ends, and the window keeps the queue to a fraction of the
 * round trip instead of filling the buffer. */
START_TEST(est_converges)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.020 };
	double t;

	mux_est_init(&e);
	t = sim_run(&s, &e, 1, 6, true, 0);
	ck_assert_double_eq_tol(e.btlbw, 2.5e6, 2.5e6 * 0.1);
	ck_assert_double_eq_tol(e.min_rtt, 0.040 + 1250 / 2.5e6, 0.002);
	ck_assert(e.full);
	ck_assert(e.measured);
	/* after startup: the window is 1.1 BDP (with a feedback interval) */
	ck_assert_double_eq_tol(mux_est_cwnd(&e), 1.1 * 2.5e6 * 0.050,
				2.5e6 * 0.050 * 0.15);
	s.max_queue = 0;
	sim_run(&s, &e, t, t + 3, true, 0);
	ck_assert_double_lt(s.max_queue, 0.030);
	ck_assert_double_lt(e.loss, 0.001);
}
END_TEST

/* A link measured slow once (given a few packets a round trip, e.g. the
 * ACKs of an upload) and past its startup, then saturated by a download
 * at 20 Mbit/s over 80 ms: a window of four packets sized for the old
 * rate carried no more than that rate, which then held it, for ever. */
START_TEST(est_small_window_grows)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.040 };
	double t = 1;

	mux_est_init(&e);
	e.have_rtt = e.have_fb = e.measured = e.full = true;
	e.min_rtt = e.srtt = 0.080;
	e.min_rtt_at = t;
	e.btlbw = e.bw[0].v = 4 * 1410 / 0.090;
	e.bw[0].at = t;
	e.nbw = 1;
	sim_run(&s, &e, t, t + 3, true, 0);
	ck_assert_double_ge(e.btlbw, 2.5e6 * 0.8);
	ck_assert(e.full);
}
END_TEST

/* A link that only ever carried a light stream (the ACKs of an upload,
 * app-limited, never measured) but fast enough that its pipe is bigger
 * than the initial window: a download then fills that window every
 * round, and a window-limited sample is not an app-limited one, so the
 * rate is found. The window was once stuck at its initial size, which
 * never filled the pipe, so every sample looked app-limited: 18 Mbit/s
 * on a link of hundreds. */
START_TEST(est_unmeasured_window_grows)
{
	static struct mux_est e;
	static struct sim s = { .rate = 12.5e6, .owd = 0.0002 };
	double t = 1;

	mux_est_init(&e);
	e.have_rtt = e.have_fb = true;
	e.min_rtt = e.srtt = 0.0004;
	e.min_rtt_at = t;
	e.btlbw = e.bw[0].v = 5e6;	/* from app-limited samples */
	e.bw[0].at = t;
	e.nbw = 1;
	sim_run(&s, &e, t, t + 2, true, 0);
	ck_assert(e.measured);
	ck_assert_double_ge(e.btlbw, 12.5e6 * 0.8);
}
END_TEST

/* A link given little (app-limited) keeps its rate: it would otherwise
 * look slow, be given less, and starve. A slower link is followed. */
START_TEST(est_app_limited_and_slowdown)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.020 };
	double t;

	mux_est_init(&e);
	t = sim_run(&s, &e, 1, 5, true, 0);
	t = sim_run(&s, &e, t, t + 4, false, 0.02);	/* 0.5 Mbit/s */
	ck_assert_double_ge(e.btlbw, 2.5e6 * 0.9);
	/* the link drops to 10 Mbit/s under full load: followed, and the
	 * queue stays bounded while the old maximum ages out */
	s.rate = 1.25e6;
	s.max_queue = 0;
	t = sim_run(&s, &e, t, t + 4, true, 0);
	ck_assert_double_eq_tol(e.btlbw, 1.25e6, 1.25e6 * 0.15);
	ck_assert_double_lt(s.max_queue, 0.150);
	s.max_queue = 0;
	sim_run(&s, &e, t, t + 2, true, 0);
	ck_assert_double_lt(s.max_queue, 0.030);
}
END_TEST

/* A burst after an idle spell: its rate is measured over the burst, not
 * over the silence before it (the receiver's last report was seconds
 * ago), so a link that was quiet does not look slow. */
START_TEST(est_idle_restart)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.010 };
	double t;

	mux_est_init(&e);
	/* a ping every half second, then two seconds of nothing */
	t = sim_run(&s, &e, 1, 3, false, 0.5);
	t = sim_run(&s, &e, t, t + 2, false, 100);
	for (int i = 0; i < 8; i++)
		sim_send(&s, &e, t, 1250);
	sim_run(&s, &e, t, t + 0.2, false, 100);
	ck_assert(e.measured);
	ck_assert_double_gt(e.btlbw, 2.5e6 / 10);
}
END_TEST

/* Losses counted from the receiver's count against the sequence span. */
START_TEST(est_loss)
{
	static struct mux_est e;
	uint32_t lseq = 0, rc = 0;
	uint64_t rb = 0;
	double t = 1;

	mux_est_init(&e);
	for (int k = 0; k < 100; k++) {
		for (int i = 0; i < 20; i++)
			mux_est_sent(&e, lseq++, 1250, t);
		rc += 19;
		rb += 19 * 1250;
		t += 0.05;
		mux_est_feedback(&e, &(struct mux_fb){ .lseq_max = lseq - 1,
			.rx_count = rc, .rx_bytes = rb }, t);
	}
	ck_assert_double_eq_tol(e.loss, 0.05, 0.01);
}
END_TEST

/* RTT samples net of the receiver's ack delay; queueing shows as srtt
 * above min_rtt. */
START_TEST(est_rtt)
{
	static struct mux_est e;

	mux_est_init(&e);
	mux_est_sent(&e, 0, 100, 10.0);
	mux_est_feedback(&e, &(struct mux_fb){ .lseq_max = 0, .rx_count = 1,
		.rx_bytes = 100, .ack_delay = 0.005 }, 10.030);
	ck_assert_double_eq_tol(e.min_rtt, 0.025, 1e-9);
	for (uint32_t i = 1; i < 50; i++) {
		mux_est_sent(&e, i, 100, 10 + i);
		mux_est_feedback(&e, &(struct mux_fb){ .lseq_max = i,
			.rx_count = i + 1, .rx_bytes = 100 * (i + 1) },
			10 + i + 0.125);	/* 100 ms of queue */
	}
	ck_assert_double_eq_tol(e.min_rtt, 0.125, 1e-6);  /* window moved */
	ck_assert_double_eq_tol(e.srtt, 0.125, 0.005);
}
END_TEST

/* A link that stops delivering is called stalled a little over one RTT
 * later, not after seconds. */
START_TEST(est_stall)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.020 };
	double t;

	mux_est_init(&e);
	t = sim_run(&s, &e, 1, 4, true, 0);
	ck_assert(!mux_est_stalled(&e, t));
	s.rate = 0;		/* cut: everything sent from now is lost */
	s.pn = 0;
	t = sim_run(&s, &e, t, t + 0.05, false, 0.001);
	ck_assert(!mux_est_stalled(&e, t));
	ck_assert_double_lt(mux_est_rto(&e), 0.150);
	t = sim_run(&s, &e, t, t + 0.15, false, 0.001);
	ck_assert(mux_est_stalled(&e, t));
	mux_est_forget_inflight(&e);
	ck_assert_uint_eq(mux_est_inflight(&e), 0);
	ck_assert(!mux_est_stalled(&e, t));
}
END_TEST

/* Synthetic link states: the packet goes where it arrives first — a
 * fast link with a queue can lose to a slow idle one. */
START_TEST(sched_earliest_arrival)
{
	static struct mux_est fast, slow;
	static struct sim sf = { .rate = 2.5e6, .owd = 0.010 };
	static struct sim ss = { .rate = 0.5e6, .owd = 0.040 };
	double t1, t2;

	mux_est_init(&fast);
	mux_est_init(&slow);
	t1 = sim_run(&sf, &fast, 1, 4, true, 0);
	t2 = sim_run(&ss, &slow, 1, 4, true, 0);
	/* drained: idle again */
	t1 = sim_run(&sf, &fast, t1, t1 + 1, false, 1);
	sim_run(&ss, &slow, t2, t2 + 1, false, 1);
	ck_assert_double_eq_tol(fast.btlbw, 2.5e6, 2.5e5);
	ck_assert_double_eq_tol(slow.btlbw, 0.5e6, 0.5e5);
	/* idle: fast wins (10 ms + 0.5 ms vs 40 ms + 2.5 ms) */
	ck_assert_double_lt(mux_est_arrival(&fast, 1250, 0, fast.min_rtt),
			    mux_est_arrival(&slow, 1250, 0, slow.min_rtt));
	/* 200 kB more on fast: 70 ms of queue beyond its pipe; the idle
	 * slow link is quicker now */
	for (int i = 0; i < 160; i++)
		mux_est_sent(&fast, sf.lseq++, 1250, t1);
	ck_assert_double_eq_tol(mux_est_queue(&fast),
				(200e3 - 2.5e6 * (fast.min_rtt + 0.01)) / 2.5e6,
				0.005);
	ck_assert_double_gt(mux_est_arrival(&fast, 1250, 0, fast.min_rtt),
			    mux_est_arrival(&slow, 1250, 0, slow.min_rtt));
	/* and it has no room for more */
	ck_assert(!mux_est_room(&fast, 1250));
	ck_assert(mux_est_room(&slow, 1250));
}
END_TEST

/* Pacing: a measured link is fed a little above its rate, a capped one
 * at most at its cap; a few packets at once, then one packet time
 * apart; a higher rate applies at once to what waits. Unmeasured and
 * uncapped, a link is not paced. */
START_TEST(est_pace)
{
	static struct mux_est e;
	static struct sim s = { .rate = 2.5e6, .owd = 0.010 };
	double t, r = 1e6, w, sent_at = 0;
	int now_n = 0;

	mux_est_init(&e);
	ck_assert_double_eq(mux_est_pace_rate(&e), 0);
	ck_assert_double_eq(mux_est_pace_wait(&e, 1250, 1.0), 0);
	t = sim_run(&s, &e, 1, 4, true, 0);
	ck_assert(e.measured && e.full);
	ck_assert_double_gt(mux_est_pace_rate(&e), 1.1 * e.btlbw);
	ck_assert_double_lt(mux_est_pace_rate(&e), 1.5 * e.btlbw);
	e.full = false;		/* startup: much faster, to find the rate */
	ck_assert_double_gt(mux_est_pace_rate(&e), 2 * e.btlbw);
	e.full = true;
	e.cap = r;
	ck_assert_double_eq(mux_est_pace_rate(&e), r);
	/* idle: the first two go now, then one every 1250 / r */
	t += 1;
	for (int i = 0; i < 20; i++) {
		w = mux_est_pace_wait(&e, 1250, t);
		if (w == 0) {
			now_n++;
		} else if (i == now_n) {	/* the burst's credit used up */
			ck_assert_double_le(t + w - sent_at, 1250 / r + 1e-9);
			t += w;
		} else {
			ck_assert_double_eq_tol(t + w - sent_at, 1250 / r, 1e-9);
			t += w;
		}
		ck_assert_double_eq(mux_est_pace_wait(&e, 1250, t), 0);
		mux_est_paced(&e, 1250, t);
		sent_at = t;
	}
	ck_assert_int_eq(now_n, 2);
	/* a higher cap applies to what already waits */
	w = mux_est_pace_wait(&e, 1250, t);
	ck_assert_double_gt(w, 0);
	e.cap = 4 * r;
	ck_assert_double_lt(mux_est_pace_wait(&e, 1250, t), w / 2);
}
END_TEST

static struct mux_link *link_of(uint16_t id)
{
	for (size_t i = 0; i < MUX_MAX_LINKS; i++)
		if (mux->links[i].used && mux->links[i].id == id)
			return &mux->links[i];
	ck_abort_msg("no link %u", id);
	return NULL;
}

/* Link id's estimate, made up: measured at rate bytes/s over min_rtt. */
static struct mux_link *fake_measured(uint16_t id, double rate, double rtt)
{
	struct mux_link *l = link_of(id);

	l->est.have_rtt = l->est.have_fb = l->est.measured = true;
	l->est.full = true;
	l->est.btlbw = rate;
	l->est.srtt = l->est.min_rtt = rtt;
	l->est.min_rtt_at = ev_now(loop);
	return l;
}

/* In the mux: a burst on a capped link is spread at the cap; what waits
 * counts against the window, so the other link takes the rest. */
START_TEST(mux_paced_burst)
{
	struct mux_link *a;
	double r = 1e6, first, last;
	int n, base;

	two_links_up();
	/* a: 1 MB/s, 20 ms, capped there; b: much slower, used once a is
	 * full */
	a = fake_measured(1, r, 0.020);
	a->est.rttvar = 0.1;	/* no stall however slow the machine */
	mux_link_set_rate_cap(mux, 1, r);
	fake_measured(2, 1e4, 0.200);
	base = fk.nsent;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	/* only the first few left at once; the rest wait on a */
	ck_assert_int_ge(fk.per_link[1], 1);
	ck_assert_int_le(fk.per_link[1], 5);
	ck_assert_int_eq(fk.per_link[2], 0);
	ck_assert_uint_gt(a->est.queued, 0);
	run_until_sent(1, 20, 0.08);
	ck_assert_int_eq(fk.per_link[1], 20);
	ck_assert_uint_eq(a->est.queued, 0);
	/* spread over (20 - the burst) packet times at r */
	n = fk.nsent - base;
	first = fk.sent[base].at;
	last = fk.sent[base + n - 1].at;
	ck_assert_double_ge(last - first,
			    (20 - 5) * (1000 + MUX_HDR_LEN) / r - 0.002);
	/* a's window (1.1 x 1 MB/s x 30 ms) holds 33 kB, waiting or not:
	 * of 60 more, what does not fit goes on b */
	for (int i = 0; i < 60; i++)
		msend_udp(1000, 1000);
	ck_assert_int_gt(fk.per_link[2], 0);
	ck_assert_double_le((double)(mux_est_inflight(&a->est) +
				     a->est.queued), mux_est_cwnd(&a->est));
}
END_TEST

/* Padding messages sent on link since message from on. */
static int pads_on(uint16_t link, int from)
{
	int n = 0;

	for (int i = from; i < fk.nsent; i++)
		n += fk.sent[i].link == link &&
		     fk.sent[i].type == MUX_MSG_DATA &&
		     fk.sent[i].len == 1500 + MUX_HDR_LEN &&
		     fk.sent[i].body[MUX_HDR_LEN] == MUX_PAD;
	return n;
}

/* A link that comes up is measured: padding fills its window (a backup
 * link gets none); lost padding is not resent; a packet waiting for room
 * goes before more padding; once the rate stops growing, no more. */
START_TEST(mux_measure_pads_window)
{
	struct mux_link *a;
	struct mux_link_stats st;
	uint8_t f[MUX_FB_LEN];
	int fill, mark;

	main_and_spare_up(1);
	a = link_of(1);
	run_for(0.03);
	fill = (int)(mux_est_cwnd(&a->est) / (1500 + MUX_HDR_LEN));
	ck_assert_int_ge(fill, 4);
	ck_assert_int_eq(pads_on(1, 0), fill);
	ck_assert_int_eq(count_type(2, MUX_MSG_DATA), 0);
	/* the first three are lost: reported, not resent */
	fb_msg_seen(f, fk.lseq[1] - 1, fk.cnt[1] - 3,
		    (fk.cnt[1] - 3) * (1500ULL + MUX_HDR_LEN),
		    ~(7ULL << (fill - 4)));
	mux_input(mux, 1, MUX_MSG_FEEDBACK, f, sizeof(f));
	ck_assert_int_eq(mux_link_stats(mux, 1, &st), 0);
	ck_assert_uint_eq(st.resent, 0);
	/* the feedback opened the window: padding fills it again */
	ck_assert_int_eq(pads_on(1, 0), fill + (int)(mux_est_cwnd(&a->est) /
						  (1500 + MUX_HDR_LEN)));
	ck_assert(!mux_est_room(&a->est, 1400 + MUX_HDR_LEN));
	/* a packet given now does not wait for the padding, nor go on the
	 * backup link */
	mark = fk.nsent;
	ck_assert_int_eq(msend_udp(1000, 1400), 0);
	ck_assert_int_eq(fk.nsent, mark + 1);
	ck_assert_uint_eq(fk.sent[mark].link, 1);
	ck_assert_uint_eq(fk.sent[mark].len, 1400 + MUX_HDR_LEN);
	ck_assert_uint_eq(a->est.queued, 0);
	/* its rate stopped growing: measured, no more padding */
	a->est.full = true;
	run_for(0.02);
	ck_assert_double_eq(a->measure_end, 0);
	confirm_all(1);
	mark = fk.nsent;
	run_for(0.03);
	ck_assert_int_eq(pads_on(1, mark), 0);
	ck_assert_int_eq(count_type(2, MUX_MSG_DATA), 0);
}
END_TEST

/* No padding to a master of an earlier release (its answer does not say
 * it takes padding: it would deliver it), nor on a link over a TCP
 * stream. */
START_TEST(mux_measure_only_where_taken)
{
	mux_link_add(mux, 1, "old", 1);
	mux_link_add(mux, 2, "stream", 1);
	mux_link_set_stream(mux, 2, true);
	ack_len(1, MUX_KA_ACK_LEN);
	ack(2);
	run_for(0.03);
	ck_assert(is_up(1) && is_up(2));
	ck_assert_int_eq(count_type(1, MUX_MSG_DATA), 0);
	ck_assert_int_eq(count_type(2, MUX_MSG_DATA), 0);
	/* a later answer that says so starts it */
	ack(1);
	run_for(0.03);
	ck_assert_int_gt(pads_on(1, 0), 0);
}
END_TEST

/* A packet given to a link whose padding waits for pacing does not wait
 * behind it: the padding at the end is taken back, and the packet leaves
 * next. Once the time is up the measuring ends, even with packets
 * waiting in the send queue. */
START_TEST(mux_measure_packet_before_padding)
{
	struct mux_link *a;
	int mark;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	/* measured at 1 MB/s over 30 ms, still growing: paced at 2.9 MB/s,
	 * a window of 60 kB */
	a = fake_measured(1, 1e6, 0.030);
	a->est.full = false;
	a->est.rttvar = 0.1;	/* no stall however slow the machine */
	run_for(0.03);		/* a tick fills it */
	ck_assert_uint_gt(a->est.queued, 10 * 1510);	/* padding waits */
	mark = fk.nsent;
	ck_assert_int_eq(msend_udp(1000, 1400), 0);
	/* nothing waits but the packet, if it did not leave at once */
	ck_assert_uint_le(a->est.queued, 1400 + MUX_HDR_LEN);
	run_until_sent(1, fk.per_link[1] + 1, 0.5);
	ck_assert_int_gt(fk.nsent, mark);
	ck_assert_uint_eq(fk.sent[mark].len, 1400 + MUX_HDR_LEN);
	/* the time runs out while the send queue is never empty: the
	 * measuring ends all the same */
	a->measure_end = ev_now(loop) + 0.01;
	for (int i = 0; i < 200; i++)
		msend_udp(1000, 1400);
	ck_assert_uint_gt(mux->q.count, 0);
	run_for(0.03);
	ck_assert_uint_gt(mux->q.count, 0);
	ck_assert_double_eq(a->measure_end, 0);
}
END_TEST

/* Padding that arrives is counted for feedback, and not delivered. */
START_TEST(mux_measure_pad_not_delivered)
{
	uint8_t buf[MUX_HDR_LEN + 200] = { 0 };

	two_links_up();
	mux_input(mux, 1, MUX_MSG_DATA, buf, sizeof(buf));
	data_msg(1, 0, "real");
	ck_assert_int_eq(fk.delivered, 1);
	ck_assert_str_eq(fk.order[0], "real");
	ck_assert_uint_eq(link_of(1)->rx_fb.rx_count, 2);
	ck_assert_uint_eq(link_of(1)->rx_fb.rx_bytes,
			  sizeof(buf) + MUX_HDR_LEN + 5);
}
END_TEST

/* Packets waiting on a link that goes away leave on another with their
 * sequence numbers; the link's own numbers for them are taken back. */
START_TEST(mux_paced_moved_on_del)
{
	struct mux_link *a;
	uint32_t seqs[40];
	int n = 0, base;

	two_links_up();
	a = fake_measured(1, 1e6, 0.020);
	mux_link_set_rate_cap(mux, 1, 1e6);
	fake_measured(2, 1e6, 0.100);
	for (int i = 0; i < 20; i++)
		msend_udp(1000, 1000);
	ck_assert_int_eq(fk.per_link[2], 0);
	ck_assert_uint_gt(a->tx_lseq - a->tx_next, 5);
	for (int i = 0; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA && fk.sent[i].link == 1)
			seqs[n++] = fk.sent[i].seq;
	ck_assert_int_lt(n, 20);
	base = fk.nsent;
	ck_assert_int_eq(mux_link_del(mux, 1, false), 0);
	run_for(0.05);
	/* the other 20 - n, oldest first, on b: all 20 went exactly once
	 * (b also gets a's sent ones again: their fate is unknown) */
	for (int i = base; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA && fk.sent[i].link == 2)
			seqs[n++] = fk.sent[i].seq;
	ck_assert_int_ge(n, 20);
	for (uint32_t q = 0; q < 20; q++) {
		int k = 0;

		for (int i = 0; i < n; i++)
			k += seqs[i] == q;
		ck_assert_msg(k >= 1, "packet %u lost", q);
	}
}
END_TEST

/* A full socket buffer delays what waits for pacing; it is not a
 * refusal: each packet goes once, in order, on its link, and the link
 * counts nothing as refused or dropped. A keepalive a full buffer
 * refuses is lost, and counted. */
START_TEST(mux_paced_full_buffer_retried)
{
	struct mux_link_stats st;
	uint64_t ka_lost;
	int base, n = 0;

	two_links_up();
	/* 10 MB/s: the test's 5 ms steps pace it coarsely, but in time */
	fake_measured(1, 1e7, 0.020)->est.rttvar = 0.1;	/* no stall */
	mux_link_set_rate_cap(mux, 1, 1e7);
	fake_measured(2, 1e4, 0.200);
	base = fk.nsent;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_lt(fk.per_link[1], 20);
	/* full for 20 ms: the waiting packets are tried every millisecond
	 * (short of a stall, or of the links' dead time) */
	fk.fail_all = -EAGAIN;
	fk.tries = 0;
	run_for(0.02);
	ck_assert_int_gt(fk.tries, 5);
	fk.fail_all = 0;
	ack(1);
	ack(2);
	run_until_sent(1, 20, 0.05);
	ck_assert_int_eq(fk.per_link[1], 20);
	ck_assert_int_eq(fk.per_link[2], 0);
	for (int i = base; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA) {
			ck_assert_uint_eq(fk.sent[i].seq, fk.sent[base].seq + n);
			n++;
		}
	ck_assert_int_eq(n, 20);
	mux_link_stats(mux, 1, &st);
	ck_assert_uint_eq(st.send_fail, 0);
	ka_lost = st.ctl_lost;	/* a keepalive may have come due */
	/* keepalives go every 20 ms: refused for 50 ms, some are lost */
	confirm_all(1);
	ack(1);
	ack(2);
	fk.fail_all = -EAGAIN;
	run_for(0.05);
	fk.fail_all = 0;
	mux_link_stats(mux, 1, &st);
	ck_assert_uint_gt(st.ctl_lost, ka_lost);
	ck_assert_uint_eq(st.send_fail, 0);
}
END_TEST

/* Before any data, the keepalives' round trips tell the near link from
 * the far one: the first packets go on the near one. */
START_TEST(mux_earliest_keepalive_rtt)
{
	two_links_up();
	link_of(1)->st.rtt = 0.080;
	link_of(2)->st.rtt = 0.010;
	ck_assert_int_eq(msend_udp(1000, 100), 0);
	ck_assert_int_eq(msend_udp(1000, 100), 0);
	ck_assert_int_eq(fk.per_link[1], 0);
	ck_assert_int_eq(fk.per_link[2], 2);
}
END_TEST

/* In the mux: with estimates for both links, traffic splits by what the
 * links can carry, not by weight. */
START_TEST(mux_earliest_splits_by_rate)
{
	struct mux_link_stats a, b;

	mux_link_add(mux, 1, "fast", 1);
	mux_link_add(mux, 2, "slow", 1);
	ack(1);
	ack(2);
	/* 3000 packets; every 30 the links report what they delivered:
	 * the fast one drains 4x what the slow one does */
	for (int k = 0; k < 100; k++) {
		uint8_t f1[MUX_FB_LEN], f2[MUX_FB_LEN];

		for (int i = 0; i < 30; i++)
			msend("p", 1);
		/* everything sent so far has arrived; 4:1 in bytes/s */
		fb_msg(f1, fk.lseq[1] - 1, fk.cnt[1], fk.cnt[1] * 4 * 9ULL);
		fb_msg(f2, fk.lseq[2] - 1, fk.cnt[2], fk.cnt[2] * 9ULL);
		run_for(0.01);
		mux_input(mux, 1, MUX_MSG_FEEDBACK, f1, sizeof(f1));
		mux_input(mux, 2, MUX_MSG_FEEDBACK, f2, sizeof(f2));
		ack(1);
		ack(2);
	}
	mux_link_stats(mux, 1, &a);
	mux_link_stats(mux, 2, &b);
	ck_assert_double_gt(a.rate, b.rate);
	ck_assert_uint_gt(a.data_tx, b.data_tx);
}
END_TEST

/* A backup link carries data only while the main link has no room. */
START_TEST(mux_backup_only_when_full)
{
	main_and_spare_up(1);
	for (int i = 0; i < 500; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1], 500);
	ck_assert_int_eq(fk.per_link[2], 0);
	/* nothing confirmed: main's window fills, the rest goes on spare */
	for (int i = 0; i < MUX_EST_RING; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_gt(fk.per_link[2], 0);
	/* main confirms everything: it is used again, spare is not */
	confirm_all(1);
	fk.per_link[2] = 0;
	for (int i = 0; i < 100; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[2], 0);
}
END_TEST

/* When every link is full, packets wait briefly and leave as soon as a
 * window opens; once they have waited too long they are dropped. */
START_TEST(mux_queue_when_full)
{
	struct mux_stats ms;
	int sent, n = MUX_EST_RING + 150;	/* the link takes fewer */

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	sent = fk.per_link[1];
	ck_assert_int_lt(sent, n);
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.queued, (uint64_t)(n - sent));
	confirm_all(1);
	ck_assert_int_eq(fk.per_link[1], n);
	/* full again, and nothing comes back: the waiting ones expire */
	for (int i = 0; i < n; i++)
		msend("p", 1);
	run_for(0.05);
	mux_stats(mux, &ms);
	ck_assert_int_gt(ms.congested, 0);
}
END_TEST

/* A packet waits for room up to 60 ms, or twice the shortest round trip
 * of the links if that is longer: over long round trips windows open only
 * as often as feedback comes back. With slow_rtt, a second link, slow and
 * that far away. */
static void queue_wait(double rtt, double wait, bool dropped,
		       double slow_rtt)
{
	struct mux_stats ms;
	struct mux_link *a;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	a = fake_measured(1, 2e5, rtt);
	a->est.rttvar = 0.2;	/* no stall before the checks */
	if (slow_rtt) {
		mux_link_add(mux, 2, "b", 1);
		ack(2);
		fake_measured(2, 1e3, slow_rtt)->est.rttvar = 0.2;
	}
	/* a's window holds about 200 kB/s x (rtt + 10 ms): the rest waits */
	for (int i = 0; i < 150; i++)
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_lt(fk.per_link[1], 150);
	for (double t = 0; t < wait; t += 0.02) {
		ack(1);			/* heard: the links stay up */
		if (slow_rtt)
			ack(2);
		run_for(0.02);
	}
	ck_assert(a->up);
	msend_udp(1000, 1000);		/* looks at the queue */
	mux_stats(mux, &ms);
	if (dropped)
		ck_assert_uint_gt(ms.congested, 0);
	else
		ck_assert_uint_eq(ms.congested, 0);
}

START_TEST(mux_queue_wait_short_rtt)
{
	queue_wait(0.020, 0.1, true, 0);	/* 60 ms */
}
END_TEST

START_TEST(mux_queue_wait_long_rtt)
{
	queue_wait(0.250, 0.3, false, 0);	/* 500 ms, not one round trip */
}
END_TEST

START_TEST(mux_queue_wait_long_rtt_expires)
{
	queue_wait(0.250, 0.6, true, 0);
}
END_TEST

/* Links a (1: 20 ms) and b (2: 80 ms), both 1 MB/s and measured, slow
 * as the machine may be (no stall); returns the wall time now. */
static double near_and_far(struct mux_link **a, struct mux_link **b)
{
	two_links_up();
	*a = fake_measured(1, 1e6, 0.020);
	*b = fake_measured(2, 1e6, 0.080);
	(*a)->est.rttvar = (*b)->est.rttvar = 0.1;
	ev_now_update(loop);
	return ev_time();
}

/* Equalized: a's packets wait half the difference of the round trips
 * (30 ms) before they leave, so they arrive with b's; b's leave at once.
 * The wait does not take a's window: a (1 MB/s over 20 ms + 10 ms for
 * feedback) holds 1.1 x 30 kB in flight and 30 kB waiting, 63 packets;
 * b takes the rest. */
START_TEST(mux_equalized_holds)
{
	struct mux_link *a, *b;
	double t0, b_first = 0;
	int na = 0, nb = 0;

	t0 = near_and_far(&a, &b);
	for (int i = 0; i < 120; i++)
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_double_eq_tol(a->est.hold, 0.030, 1e-9);
	ck_assert_double_eq(b->est.hold, 0);
	ck_assert_int_eq(fk.per_link[1], 0);
	/* in 1 ms steps: pacing lets a few packets go per step (short of
	 * a stall: 460 ms) */
	for (int n = 0; fk.per_link[1] + fk.per_link[2] < 120 &&
			ev_time() - t0 < 0.4; n++) {
		if (n % 20 == 0) {
			ack(1);		/* heard: the links stay up */
			ack(2);
		}
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	for (int i = 0; i < fk.nsent; i++) {
		if (fk.sent[i].type != MUX_MSG_DATA)
			continue;
		if (fk.sent[i].link == 1) {
			ck_assert_double_ge(fk.sent[i].at, t0 + 0.030);
			na++;
		} else {
			b_first = nb++ ? b_first : fk.sent[i].at;
		}
	}
	ck_assert_int_eq(na + nb, 120);
	ck_assert_int_ge(na, 50);
	ck_assert_int_ge(nb, 40);
	ck_assert_double_lt(b_first, t0 + 0.010);
}
END_TEST

/* The slowest main link that is up sets the delay: by its keepalives'
 * round trip before data measured it; a backup link does not count. */
START_TEST(mux_equalized_which_links)
{
	struct mux_link *a, *b;

	two_links_up();
	a = fake_measured(1, 1e6, 0.020);
	b = link_of(2);
	b->st.rtt = 0.060;		/* keepalives only */
	msend_udp(1000, 1000);
	ck_assert_double_eq_tol(a->est.hold, 0.020, 1e-9);
	ck_assert_double_eq(b->est.hold, 0);
	mux_link_set_backup(mux, 2, true);
	msend_udp(1000, 1000);
	ck_assert_double_eq(a->est.hold, 0);
	/* a backup faster than the main links waits for them */
	fake_measured(2, 1e6, 0.010);
	msend_udp(1000, 1000);
	ck_assert_double_eq_tol(b->est.hold, 0.005, 1e-9);
}
END_TEST

/* Equalized holds only what a sender times its round trip by. With a
 * (20 ms), c (40 ms) and b (80 ms): a ping and a pure ACK leave on a at
 * once; a SYN and a segment with data arrive with b's packets (40 ms one
 * way), on a, which sends fastest; a ping given while they wait on a
 * would arrive after them, and goes on c instead (20 ms). */
START_TEST(mux_equalized_unheld)
{
	static const char ping[60] = { 0x45, [3] = 60, [9] = 1 };
	static const char pure_ack[52] = { 0x45, [3] = 52, [9] = 6, [32] = 0x80,
				      [33] = 0x10 };
	static const char syn[64] = { 0x45, [3] = 64, [9] = 6, [32] = 0xb0,
				      [33] = 0x02 };
	static const char data[56] = { 0x45, [3] = 56, [9] = 6, [32] = 0x80,
				       [33] = 0x18 };
	const double oneway[4] = { 0, 0.010, 0.040, 0.020 };
	struct mux_link *a, *b, *c;
	double t0;
	int n = 0;

	two_links_up();
	mux_link_add(mux, 3, "c", 1);
	ack(3);
	a = fake_measured(1, 2e6, 0.020);
	b = fake_measured(2, 1e6, 0.080);
	c = fake_measured(3, 1e6, 0.040);
	a->est.rttvar = b->est.rttvar = c->est.rttvar = 0.1; /* no stall */
	ev_now_update(loop);
	t0 = ev_time();
	ck_assert_int_eq(msend(ping, sizeof(ping)), 0);
	ck_assert_int_eq(msend(pure_ack, sizeof(pure_ack)), 0);
	ck_assert_int_eq(fk.per_link[1], 2);		/* at once */
	ck_assert_int_eq(msend(syn, sizeof(syn)), 0);
	ck_assert_int_eq(msend(data, sizeof(data)), 0);
	ck_assert_double_eq_tol(a->est.hold, 0.030, 1e-9);
	ck_assert_int_eq(fk.per_link[1], 2);		/* a holds them */
	ck_assert_int_eq(msend(ping, sizeof(ping)), 0);
	ck_assert_int_eq(fk.per_link[3], 1);
	/* the held two leave after 30 ms (later on a loaded machine) */
	for (double t = ev_time(); fk.per_link[1] + fk.per_link[2] +
				   fk.per_link[3] < 5 && ev_time() - t < 1.0;) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	for (int i = 0; i < fk.nsent; i++) {
		double arrives = fk.sent[i].at + oneway[fk.sent[i].link];

		if (fk.sent[i].type != MUX_MSG_DATA)
			continue;
		n++;
		if (fk.sent[i].len == MUX_HDR_LEN + sizeof(pure_ack))
			ck_assert_double_lt(arrives, t0 + 0.015);
		else if (fk.sent[i].len == MUX_HDR_LEN + sizeof(ping))
			ck_assert_double_lt(arrives, t0 + 0.025);
		else
			ck_assert_double_ge(arrives, t0 + 0.040);
	}
	ck_assert_int_eq(n, 5);
}
END_TEST

/* Equalized, a's packets wait 90 ms for b's 200 ms round trip: the queue
 * waits for room twice 110 ms (a's round trip as its feedback comes), so
 * 100 ms is not too long (60 ms is, without the hold); 300 ms is. */
START_TEST(mux_equalized_queue_wait)
{
	queue_wait(0.020, 0.1, false, 0.200);
}
END_TEST

START_TEST(mux_equalized_queue_wait_expires)
{
	queue_wait(0.020, 0.3, true, 0.200);
}
END_TEST

/* Each packet says how far back its flow's previous one went; a small
 * packet of a flow with nothing queued goes before a download's queue. */
START_TEST(mux_flows_stamped_and_sparse_first)
{
	int before, first = -1;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_eq(msend_udp(2000, 40), 0);
	ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_uint_eq(fk.sent[fk.nsent - 4].dep, MUX_DEP_NONE);
	ck_assert_uint_eq(fk.sent[fk.nsent - 3].dep, 1);
	ck_assert_uint_eq(fk.sent[fk.nsent - 2].dep, MUX_DEP_NONE);
	ck_assert_uint_eq(fk.sent[fk.nsent - 1].dep, 2);
	/* fill the window: the download queues */
	for (int i = 0; i < 200; i++)
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_lt(fk.per_link[1], 204);
	before = fk.nsent;
	ck_assert_int_eq(msend_udp(2000, 40), 0);	/* a "ping" */
	ck_assert_int_eq(msend_udp(3000, 60), 0);	/* another, later */
	confirm_all(1);
	for (int i = before; i < fk.nsent && first < 0; i++)
		if (fk.sent[i].type == MUX_MSG_DATA)
			first = i;
	ck_assert_int_ge(first, 0);
	/* both before the download, in the order they came */
	ck_assert_uint_eq(fk.sent[first].len, MUX_HDR_LEN + 40);
	ck_assert_uint_eq(fk.sent[first + 1].type, MUX_MSG_DATA);
	ck_assert_uint_eq(fk.sent[first + 1].len, MUX_HDR_LEN + 60);
}
END_TEST

/* A link that stops confirming is stalled within a few RTTs: what it had
 * in flight goes again on the other link, with the same sequence
 * numbers, new packets avoid it, and an empty probe tests it. */
START_TEST(mux_stall_resends)
{
	struct mux_link_stats st;
	int on2, before, last;

	two_links_up();
	/* both links confirm a first packet each: RTT 20 ms */
	msend("p", 1);
	msend("p", 1);
	run_for(0.02);
	confirm_all(1);
	confirm_all(2);
	for (int i = 0; i < 20; i++)
		msend("p", 1);
	ck_assert_int_gt(fk.per_link[1], 1);
	on2 = fk.per_link[2];
	/* link 2 keeps confirming, link 1 goes silent: stalled after about
	 * an RTT and a margin (seconds allowed for a loaded machine) */
	for (int i = 0; i < 200; i++) {
		confirm_all(2);
		ack(1);
		ack(2);
		run_for(0.01);
		mux_link_stats(mux, 1, &st);
		if (st.stalled)
			break;
	}
	ck_assert(st.stalled);
	ck_assert_int_eq(st.stalls, 1);
	ck_assert_int_gt(st.resent, 0);
	ck_assert_int_ge(fk.per_link[2], on2 + (int)st.resent);
	/* new packets avoid it */
	fk.per_link[1] = 0;
	for (int i = 0; i < 10; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[1], 0);
	/* a probe goes out on it, an empty data message */
	before = count_type(1, MUX_MSG_DATA);
	for (int i = 0; i < 200 && count_type(1, MUX_MSG_DATA) == before; i++) {
		ack(1);		/* keepalives still get through */
		ack(2);
		run_for(0.005);
	}
	ck_assert_int_gt(count_type(1, MUX_MSG_DATA), before);
	for (last = fk.nsent - 1; fk.sent[last].link != 1 ||
				  fk.sent[last].type != MUX_MSG_DATA; last--)
		;
	ck_assert_int_eq(fk.sent[last].len, MUX_HDR_LEN);
	ck_assert_int_eq(MUX_HDR_LEN, 10);	/* docs/PROTOCOL.md: a probe */
	/* it confirms the probe: back in use */
	confirm_all(1);
	mux_link_stats(mux, 1, &st);
	ck_assert(!st.stalled);
}
END_TEST

static bool exists(uint16_t link)
{
	struct mux_link_stats st;

	return mux_link_stats(mux, link, &st) == 0;
}

/* Links 1 and 2 up and measured, then packets in flight on both. */
static void links_busy(void)
{
	two_links_up();
	msend("p", 1);
	msend("p", 1);
	run_for(0.02);
	confirm_all(1);
	confirm_all(2);
	for (int i = 0; i < 20; i++)
		msend("p", 1);
	ck_assert_int_gt(fk.per_link[1], 1);
}

/* A removed link takes nothing new, says it is leaving, and goes once
 * what it had in flight is confirmed: nothing resent. */
START_TEST(mux_link_drains)
{
	int on1, on2;

	links_busy();
	ck_assert_int_eq(mux_link_del(mux, 1, true), 0);
	ck_assert_uint_eq(fk.last_ka[11] & MUX_KA_LEAVING, MUX_KA_LEAVING);
	ck_assert(exists(1));
	on1 = fk.per_link[1];
	on2 = fk.per_link[2];
	for (int i = 0; i < 5; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[1], on1);
	ck_assert_int_eq(fk.per_link[2], on2 + 5);
	ck_assert_int_eq(fk.removed, 0);
	confirm_all(1);
	run_for(0.05);
	ck_assert(!exists(1));
	ck_assert_int_eq(fk.removed, 1);
	ck_assert_uint_eq(fk.removed_id, 1);
	ck_assert_int_eq(fk.per_link[2], on2 + 5);	/* no resends */
	ck_assert_int_eq(mux_link_del(mux, 1, true), -ENOENT);
}
END_TEST

/* One that never confirms goes after its time, its packets resent; so
 * does one removed without draining, at once. */
START_TEST(mux_link_del_resends)
{
	int on2, inflight;
	struct mux_link_stats st;

	links_busy();
	mux_link_stats(mux, 1, &st);
	inflight = (int)(st.inflight / (MUX_HDR_LEN + 1));
	ck_assert_int_gt(inflight, 0);
	on2 = fk.per_link[2];
	ck_assert_int_eq(mux_link_del(mux, 1, true), 0);
	/* still heard (no dead_time), but confirming nothing */
	for (int i = 0; i < 300 && exists(1); i++) {
		ack(1);
		ack(2);
		run_for(0.01);
	}
	ck_assert(!exists(1));
	ck_assert_int_eq(fk.removed, 1);
	ck_assert_int_ge(fk.per_link[2], on2 + inflight);
	/* link 2, busy too, removed at once: resent nowhere (no link) but
	 * gone and reported */
	ck_assert_int_eq(mux_link_del(mux, 2, false), 0);
	ck_assert(!exists(2));
	ck_assert_int_eq(fk.removed, 2);
	ck_assert_uint_eq(fk.removed_id, 2);
}
END_TEST

/* The master follows a slave's LEAVING keepalive: no new packets on
 * that link, then it is gone. */
START_TEST(master_follows_leaving)
{
	uint8_t ka[MUX_KEEPALIVE_LEN] = { 0 };
	struct mux_link_stats st;

	ka[12] = 'a';
	mux_input(mux, 1, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
	ka[12] = 'b';
	mux_input(mux, 2, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
	ck_assert(exists(1) && exists(2));
	ka[11] = MUX_KA_LEAVING;
	ka[12] = 'a';
	mux_input(mux, 1, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
	for (int i = 0; i < 10; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[1], 0);
	ck_assert_int_eq(fk.per_link[2], 10);
	/* kept, unused, until it falls silent; then gone */
	ka[11] = 0;
	ka[12] = 'b';
	for (int i = 0; i < 100 && exists(1); i++) {
		mux_input(mux, 2, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
		run_for(0.01);
	}
	ck_assert_int_ne(mux_link_stats(mux, 1, &st), 0);
	ck_assert_int_eq(fk.removed, 1);
	ck_assert_int_eq(fk.per_link[1], 0);
}
END_TEST

/* A slave link made anew under the same id (its LEAVING lost) has new
 * sequence numbers: the master starts the link's state afresh, keeping
 * the rate cap. */
START_TEST(master_new_incarnation)
{
	uint8_t ka[MUX_KEEPALIVE_LEN] = { 0 };
	struct mux_link_stats st;

	ka[12] = 'a';
	ka[55] = 80;		/* cap: 80 kbit/s */
	ka[59] = 1;		/* incarnation 1 */
	mux_input(mux, 1, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
	data_msg(1, 0, "x");
	mux_link_stats(mux, 1, &st);
	ck_assert_int_eq(st.data_rx, 1);
	ck_assert_double_eq_tol(st.rate_cap, 10e3, 1e-6);
	ka[59] = 2;
	mux_input(mux, 1, MUX_MSG_KEEPALIVE, ka, sizeof(ka));
	mux_link_stats(mux, 1, &st);
	ck_assert_double_eq_tol(st.rate_cap, 10e3, 1e-6);
	/* an older slave's 52-byte keepalive is still understood */
	ka[12] = 'c';
	mux_input(mux, 1, MUX_MSG_KEEPALIVE, ka, MUX_KEEPALIVE_MIN);
	mux_link_stats(mux, 1, &st);
	ck_assert_str_eq(st.name, "c");
}
END_TEST

/* A loss the feedback reports (a hole in seen) is resent at once. */
START_TEST(mux_loss_resent)
{
	struct mux_link_stats st;
	uint8_t f[MUX_FB_LEN];
	uint32_t last;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	for (int i = 0; i < 10; i++)
		msend("p", 1);
	last = fk.lseq[1] - 1;
	/* lseq last-3 missing: bit 2 clear */
	fb_msg_seen(f, last, 9, 81, ~0ULL & ~(1ULL << 2));
	fk.per_link[1] = 0;
	mux_input(mux, 1, MUX_MSG_FEEDBACK, f, sizeof(f));
	mux_link_stats(mux, 1, &st);
	ck_assert_int_eq(st.resent, 1);
	ck_assert_int_eq(fk.per_link[1], 1);
}
END_TEST

/* Equalized: a (20 ms) holds its packets 30 ms for b (80 ms). A packet
 * of b's reported missing is resent on a at once, ahead of a's held
 * packets and unheld (the receiver holds everything after the hole until
 * it comes), and a's link sequence numbers still go out in order. */
START_TEST(mux_resend_first)
{
	struct mux_link *a, *b;
	uint8_t f[MUX_FB_LEN];
	uint32_t lost_seq = 0, next;
	double t0;
	int first = -1;

	t0 = near_and_far(&a, &b);
	for (int i = 0; i < 100; i++)	/* a's window is 63 */
		ck_assert_int_eq(msend_udp(1000, 1000), 0);
	ck_assert_int_eq(fk.per_link[1], 0);	/* a's are all held */
	ck_assert_int_ge(fk.per_link[2], 2);	/* b paces the rest */
	for (int i = 0; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA && fk.sent[i].link == 2 &&
		    fk.sent[i].lseq == 0)
			lost_seq = fk.sent[i].seq;
	/* b's first packet missing, its second arrived */
	fb_msg_seen(f, 1, 1, 1010, ~1ULL);
	mux_input(mux, 2, MUX_MSG_FEEDBACK, f, sizeof(f));
	ck_assert_int_eq(fk.per_link[1], 1);
	for (int i = 0; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA && fk.sent[i].link == 1)
			first = i;
	ck_assert_int_ge(first, 0);
	ck_assert_uint_eq(fk.sent[first].seq, lost_seq);
	ck_assert_uint_eq(fk.sent[first].lseq, 0);
	ck_assert_double_lt(fk.sent[first].at, t0 + 0.030);
	/* the held ones follow after their hold, numbered after it */
	next = 1;
	for (int n = 0; ev_time() - t0 < 0.2; n++) {
		if (n % 20 == 0) {
			ack(1);
			ack(2);
		}
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	for (int i = first + 1; i < fk.nsent; i++) {
		if (fk.sent[i].type != MUX_MSG_DATA || fk.sent[i].link != 1)
			continue;
		ck_assert_uint_eq(fk.sent[i].lseq, next);
		ck_assert_uint_ne(fk.sent[i].seq, lost_seq);
		ck_assert_double_ge(fk.sent[i].at, t0 + 0.030);
		next++;
	}
	ck_assert_uint_ge(next, 10);
}
END_TEST

/* A data message with link sequence number lseq. */
static void data_msg_l(uint16_t link, uint32_t seq, uint32_t lseq,
		       const char *p)
{
	uint8_t buf[MUX_HDR_LEN + 64] = { seq >> 24, seq >> 16, seq >> 8, seq,
					  lseq >> 24, lseq >> 16, lseq >> 8,
					  lseq };
	size_t n = strlen(p) + 1;

	memcpy(buf + MUX_HDR_LEN, p, n);
	mux_input(mux, link, MUX_MSG_DATA, buf, MUX_HDR_LEN + n);
}

/* The receiver: packets skipped on slow b are reported at once, in a
 * LOST message naming b, on a, which has the shortest round trip; b's
 * own feedback would take b's round trip and up to a feedback interval.
 * Nothing is reported without a gap, nor twice within a millisecond. */
START_TEST(mux_lost_reported)
{
	int n;

	two_links_up();
	fake_measured(1, 1e6, 0.020);
	fake_measured(2, 1e6, 0.080);
	data_msg_l(2, 1, 0, "p1");
	data_msg_l(2, 2, 1, "p2");
	ck_assert_int_eq(count_type(1, MUX_MSG_LOST) +
			 count_type(2, MUX_MSG_LOST), 0);
	data_msg_l(2, 5, 4, "p5");		/* 2 and 3 missing */
	ck_assert_int_eq(count_type(1, MUX_MSG_LOST), 1);
	ck_assert_int_eq(count_type(2, MUX_MSG_LOST), 0);
	n = fk.nsent - 1;
	ck_assert_int_eq(fk.sent[n].len, 14);
	ck_assert_uint_eq(get_be16(fk.sent[n].body), 2);
	ck_assert_uint_eq(get_be32(fk.sent[n].body + 2), 4);
	/* seen: bit 0 (3) and bit 1 (2) clear, bit 2 (1) set */
	ck_assert_uint_eq(get_be64(fk.sent[n].body + 6) & 7, 4);
	data_msg_l(2, 7, 6, "p7");		/* at once: not again */
	ck_assert_int_eq(count_type(1, MUX_MSG_LOST), 1);
	usleep(2000);
	ev_now_update(loop);
	data_msg_l(2, 9, 8, "p9");
	ck_assert_int_eq(count_type(1, MUX_MSG_LOST), 2);
}
END_TEST

/* The sender: a LOST message, on whichever link it came, resends what it
 * names on the link it names; a second report of the same packet does
 * not send it twice, nor does a report of an unknown link. */
START_TEST(mux_lost_resends)
{
	struct mux_link_stats st;
	uint8_t b[14];
	uint32_t last;

	two_links_up();
	for (int i = 0; i < 10; i++)
		msend("p", 1);
	ck_assert_int_eq(fk.per_link[1] + fk.per_link[2], 10);
	/* a's second newest packet missing */
	last = fk.lseq[1] - 1;
	put_be16(b, 1);
	put_be32(b + 2, last);
	put_be64(b + 6, ~1ULL);
	fk.per_link[1] = fk.per_link[2] = 0;
	mux_input(mux, 2, MUX_MSG_LOST, b, sizeof(b));
	mux_link_stats(mux, 1, &st);
	ck_assert_int_eq(st.resent, 1);
	ck_assert_int_eq(fk.per_link[1] + fk.per_link[2], 1);
	mux_input(mux, 1, MUX_MSG_LOST, b, sizeof(b));
	put_be16(b, 7);
	mux_input(mux, 1, MUX_MSG_LOST, b, sizeof(b));
	mux_link_stats(mux, 1, &st);
	ck_assert_int_eq(st.resent, 1);
	ck_assert_int_eq(fk.per_link[1] + fk.per_link[2], 1);
	mux_input(mux, 1, MUX_MSG_LOST, b, 13);	/* short: malformed */
}
END_TEST

/* Redundant mode: every packet on the two best links, each copy with
 * the same sequence number; the receiver keeps one. */
START_TEST(mux_redundant_two_copies)
{
	struct mux_stats ms;

	mux_link_add(mux, 1, "a", 1);
	mux_link_add(mux, 2, "b", 1);
	mux_link_add(mux, 3, "c", 1);
	ack(1);
	ack(2);
	ack(3);
	for (int i = 0; i < 30; i++)
		ck_assert_int_eq(msend("p", 1), 0);
	ck_assert_int_eq(fk.per_link[1] + fk.per_link[2] + fk.per_link[3],
			 60);
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.copies, 30);
	/* receiving: copies dropped, order kept */
	data_msg(1, 5, "p5");
	data_msg(2, 5, "p5");
	data_msg(2, 6, "p6");
	data_msg(1, 6, "p6");
	ck_assert_int_eq(fk.delivered, 2);
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.reorder.dup, 2);
}
END_TEST

/* Chosen traffic: UDP or TCP to or from a listed port, IPv4 or IPv6;
 * later fragments, other protocols and truncated headers are not. */
START_TEST(classify_ports)
{
	static const uint16_t ports[] = { 53, 3478 };
	uint8_t v4[28] = { 0x45, [9] = 17, [20] = 0x30, [21] = 0x39,
			   [22] = 0, [23] = 53 };
	uint8_t v6[48] = { 0x60, [6] = 6, [40] = 0x0d, [41] = 0x96,
			   [42] = 0x30, [43] = 0x39 };

	ck_assert(mux_chosen(ports, 2, v4, sizeof(v4)));	/* to 53 */
	ck_assert(mux_chosen(ports, 2, v6, sizeof(v6)));	/* from 3478 */
	ck_assert(!mux_chosen(ports, 0, v4, sizeof(v4)));
	ck_assert(!mux_chosen(ports, 1, v6, sizeof(v6)));
	ck_assert(!mux_chosen(ports, 2, v4, 22));		/* truncated */
	ck_assert(!mux_chosen(ports, 2, v4, 0));
	v4[9] = 1;						/* ICMP */
	ck_assert(!mux_chosen(ports, 2, v4, sizeof(v4)));
	v4[9] = 17;
	v4[7] = 8;						/* a fragment */
	ck_assert(!mux_chosen(ports, 2, v4, sizeof(v4)));
	v4[7] = 0;
	v4[0] = 0x46;						/* options */
	ck_assert(!mux_chosen(ports, 2, v4, sizeof(v4)));
	v6[6] = 0;						/* hop-by-hop */
	ck_assert(!mux_chosen(ports, 2, v6, sizeof(v6)));
}
END_TEST

/* What equalized holds: TCP segments with data, SYN or FIN, and anything
 * big; not pings, small UDP, pure ACKs (a RST among them). IPv4 with
 * options and IPv6 alike; a TCP header cut short counts as data. */
START_TEST(classify_timed)
{
	uint8_t v4[40] = { 0x45, [2] = 0, [3] = 40, [9] = 6, [32] = 0x50,
			   [33] = 0x10 };			/* ACK */
	uint8_t v4o[44] = { 0x46, [3] = 44, [9] = 6, [36] = 0x50,
			    [37] = 0x10 };			/* options */
	uint8_t v6[61] = { 0x60, [5] = 21, [6] = 6, [52] = 0x50,
			   [53] = 0x18 };			/* 1 byte */
	uint8_t icmp[MUX_SPARSE_LEN + 1] = { 0x45, [3] = 84, [9] = 1 };

	ck_assert(!mux_timed(v4, sizeof(v4)));
	ck_assert(!mux_timed(v4o, sizeof(v4o)));
	ck_assert(mux_timed(v4o, sizeof(v4o) - 1));	/* header cut short */
	ck_assert(mux_timed(v6, sizeof(v6)));
	ck_assert(!mux_timed(v6, sizeof(v6) - 1));	/* no data: an ACK */
	v4[33] = 0x12;					/* SYN ACK */
	ck_assert(mux_timed(v4, sizeof(v4)));
	v4[33] = 0x11;					/* FIN ACK */
	ck_assert(mux_timed(v4, sizeof(v4)));
	v4[33] = 0x14;					/* RST ACK */
	ck_assert(!mux_timed(v4, sizeof(v4)));
	v4[33] = 0x10;
	v4[32] = 0x80;			/* 32-byte header (timestamps) ... */
	ck_assert(mux_timed(v4, sizeof(v4)));	/* ... longer than sent */
	ck_assert(!mux_timed(icmp, 84));
	icmp[9] = 17;					/* UDP, 84 bytes */
	ck_assert(!mux_timed(icmp, 84));
	ck_assert(mux_timed(icmp, sizeof(icmp)));
	ck_assert(!mux_timed(icmp, 0));
}
END_TEST

/* Only the chosen traffic goes twice. */
START_TEST(mux_redundant_ports)
{
	struct mux_cfg c = { .keepalive = 0.02, .dead_time = 0.1,
			     .ops = &fake_ops, .ctx = &fk,
			     .redundant_ports = { 53 }, .n_redundant_ports = 1 };
	uint8_t dns[MUX_HDR_LEN + 28] = { [MUX_HDR_LEN] = 0x45,
		[MUX_HDR_LEN + 9] = 17, [MUX_HDR_LEN + 23] = 53 };
	uint8_t web[MUX_HDR_LEN + 28];
	struct mux_stats ms;

	mux_free(mux);
	ck_assert_int_eq(mux_new(&mux, loop, &c), 0);
	memcpy(web, dns, sizeof(web));
	web[MUX_HDR_LEN + 23] = 80;
	two_links_up();
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(mux_send(mux, dns + MUX_HDR_LEN, 28), 0);
		ck_assert_int_eq(mux_send(mux, web + MUX_HDR_LEN, 28), 0);
	}
	mux_stats(mux, &ms);
	ck_assert_int_eq(ms.copies, 10);
	ck_assert_int_eq(fk.per_link[1] + fk.per_link[2], 30);
}
END_TEST

/* With resends, a hole known lost is waited for a little longer — its
 * resend may still come — and then given up. */
START_TEST(mux_hole_waits_for_resend)
{
	two_links_up();
	data_msg(1, 10, "p10");
	data_msg(1, 12, "p12");
	data_msg(2, 13, "p13");
	ck_assert_int_eq(fk.delivered, 1);	/* 11 known lost, not given up */
	data_msg(2, 11, "p11");			/* its resend */
	ck_assert_int_eq(fk.delivered, 4);
	ck_assert_str_eq(fk.order[1], "p11");
	data_msg(1, 15, "p15");
	data_msg(2, 16, "p16");
	ck_assert_int_eq(fk.delivered, 4);
	run_for(0.15);				/* no resend: given up */
	ck_assert_int_eq(fk.delivered, 6);
}
END_TEST

/* The peer restarted (a new epoch in its keepalive answer): its fresh
 * sequence numbers are taken, not dropped as old copies. */
START_TEST(mux_peer_restart)
{
	uint8_t a[MUX_KA_ACK_LEN] = { [11] = 1 };

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	data_msg(1, 5000, "old");
	ck_assert_int_eq(fk.delivered, 1);
	mux_input(mux, 1, MUX_MSG_KEEPALIVE_ACK, a, sizeof(a));
	data_msg(1, 0, "new");
	ck_assert_int_eq(fk.delivered, 2);
	ck_assert_str_eq(fk.order[1], "new");
}
END_TEST

/* A link with many small packets waiting for pacing and many more in
 * flight: what waits counts in the estimate's ring too, so the oldest
 * packet in flight is not overwritten there and a link that stops
 * answering is still found stalled. */
START_TEST(mux_paced_ring_bounded)
{
	struct mux_link *a;
	double t0 = ev_time();

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	a = fake_measured(1, 1e6, 0.200);
	mux_link_set_rate_cap(mux, 1, 1e6);
	while (ev_time() - t0 < 0.18) {
		for (int i = 0; i < 20; i++)
			msend_udp(1000, 100);
		ack(1);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(1000);
	}
	ck_assert_uint_le(a->tx_lseq - a->est.una, MUX_EST_RING);
	for (int i = 0; i < 100; i++) {		/* nothing confirmed */
		ack(1);
		ev_run(loop, EVRUN_NOWAIT);
		usleep(5000);
	}
	ck_assert_uint_ge(a->st.stalls, 1);
}
END_TEST

/* A stalled link (the only one) with its pacing slots full: its probe
 * does not take a waiting packet's slot; every packet goes. */
START_TEST(mux_paced_probe_keeps_waiting)
{
	struct mux_link *a;
	int n, seen[MUX_KEEP + 100] = { 0 };

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	a = fake_measured(1, 1e6, 0.200);
	mux_link_set_rate_cap(mux, 1, 1e6);	/* its window takes them all */
	a->stalled = true;
	a->probe_wait = 0.1;
	a->probe_at = ev_now(loop) + 100;
	for (int i = 0; i < MUX_KEEP + 84; i++)
		msend_udp(1000, 40);
	ck_assert_uint_eq(a->tx_lseq - a->tx_next, MUX_KEEP);
	n = (int)a->tx_lseq;
	ev_now_update(loop);
	a->probe_at = ev_now(loop);
	mux_sched_tick(mux, ev_now(loop));
	for (int i = 0; i < 80; i++) {
		data_msg(1, (uint32_t)i, "x");	/* keeps a up, not heard */
		ev_run(loop, EVRUN_NOWAIT);
		usleep(5000);
	}
	for (int i = 0; i < fk.nsent; i++)
		if (fk.sent[i].type == MUX_MSG_DATA &&
		    fk.sent[i].len > MUX_HDR_LEN &&
		    fk.sent[i].seq < MUX_KEEP + 100)
			seen[fk.sent[i].seq]++;
	for (int q = 0; q < n; q++)
		ck_assert_msg(seen[q] >= 1, "packet %d never sent", q);
	ck_assert_uint_eq(a->est.queued, 0);
}
END_TEST

/* Packets waiting for pacing when the peer restarts still go, and the
 * link's window comes back whole. */
START_TEST(mux_paced_peer_restart)
{
	uint8_t ka[MUX_KA_ACK_LEN] = { [11] = 7 };
	struct mux_link *a;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	a = fake_measured(1, 1e6, 0.020);
	mux_link_set_rate_cap(mux, 1, 1e6);
	for (int i = 0; i < 20; i++)
		msend_udp(1000, 1000);
	ck_assert_uint_gt(a->est.queued, 0);
	mux_input(mux, 1, MUX_MSG_KEEPALIVE_ACK, ka, sizeof(ka));
	run_until_sent(1, 20, 1.0);	/* 20 ms of pacing */
	ck_assert_int_eq(fk.per_link[1], 20);
	ck_assert_uint_eq(a->est.queued, 0);
	ck_assert(mux_est_room(&a->est, 1500));
}
END_TEST

/* Header compression, end to end: a slave (pr.m[0]) and a master
 * (pr.m[1]) joined by a queue of messages the test pumps, so what one
 * sends the other takes, after the sender's call has returned. */
#define PQ 512

static struct {
	struct mux *m[2];
	struct {
		int to;
		uint16_t link;
		uint8_t type;
		size_t len;
		uint8_t b[1600];
	} q[PQ];
	int nq;
	bool tamper;		/* flip a payload byte of compressed data */
	bool lose_ctx;		/* contexts offered never arrive */
	bool old_peer;		/* HC_ACKs cut to 3 bytes: no short forms */
	int ctx_sent, nack_sent;
	size_t data_len[64];	/* slave's data messages, as sent */
	int ndata;
	uint8_t got[64][1500];	/* what the master delivered */
	size_t got_len[64];
	int ngot;
} pr;

static int pair_send(void *ctx, uint16_t link, uint8_t type, const void *buf,
		     size_t len)
{
	int from = (int)(intptr_t)ctx;

	ck_assert_int_lt(pr.nq, PQ);
	ck_assert_uint_le(len, sizeof(pr.q[0].b));
	if (type == MUX_MSG_HC_CTX)
		pr.ctx_sent += from == 0;
	if (type == MUX_MSG_HC_ACK && ((const uint8_t *)buf)[2])
		pr.nack_sent++;
	if (from == 0 && type == MUX_MSG_DATA && pr.ndata < 64)
		pr.data_len[pr.ndata++] = len;
	if (type == MUX_MSG_HC_CTX && pr.lose_ctx)
		return 0;
	if (type == MUX_MSG_HC_ACK && pr.old_peer)
		len = 3;
	pr.q[pr.nq].to = 1 - from;
	pr.q[pr.nq].link = link;
	pr.q[pr.nq].type = type;
	pr.q[pr.nq].len = len;
	memcpy(pr.q[pr.nq].b, buf, len);
	if (pr.tamper && type == MUX_MSG_DATA &&
	    mux_hc_len(pr.q[pr.nq].b + MUX_HDR_LEN, len - MUX_HDR_LEN)) {
		pr.q[pr.nq].b[len - 1] ^= 0x40;
		pr.tamper = false;
	}
	pr.nq++;
	return 0;
}

static void pair_deliver(void *ctx, uint16_t link, uint8_t *pkt, size_t len)
{
	(void)link;
	if ((intptr_t)ctx != 1 || pr.ngot >= 64)
		return;
	memcpy(pr.got[pr.ngot], pkt, len);
	pr.got_len[pr.ngot++] = len;
}

static const struct mux_ops pair_ops = { .send = pair_send,
					 .deliver = pair_deliver };

static void pump(void)
{
	for (int i = 0; i < pr.nq; i++)
		mux_input(pr.m[pr.q[i].to], pr.q[i].link, pr.q[i].type,
			  pr.q[i].b, pr.q[i].len);
	pr.nq = 0;
}

static void pair_run(double secs)
{
	double end = ev_time() + secs;

	while (ev_time() < end) {
		ev_run(loop, EVRUN_NOWAIT);
		pump();
		usleep(1000);
	}
}

static void pair_make(bool compress)
{
	struct mux_cfg c = { .keepalive = 0.02, .dead_time = 1.0,
			     .ops = &pair_ops, .sched = MUX_SCHED_EARLIEST,
			     .compress = compress };

	memset(&pr, 0, sizeof(pr));
	loop = ev_loop_new(EVFLAG_AUTO);
	c.ctx = (void *)(intptr_t)0;
	ck_assert_int_eq(mux_new(&pr.m[0], loop, &c), 0);
	c.master = true;
	c.ctx = (void *)(intptr_t)1;
	ck_assert_int_eq(mux_new(&pr.m[1], loop, &c), 0);
	ck_assert_int_eq(mux_link_add(pr.m[0], 1, "l1", 1), 0);
	pair_run(0.05);		/* keepalive answered: the link is up */
}

static void pair_setup(void)
{
	pair_make(true);
}

static void pair_teardown(void)
{
	mux_free(pr.m[0]);
	mux_free(pr.m[1]);
	ev_loop_destroy(loop);
}

static uint16_t ck_sum(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; p += 2, n -= 2)
		s += (uint32_t)p[0] << 8 | p[1];
	if (n)
		s += (uint32_t)p[0] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* A TCP segment of plen payload bytes from port sport to 80, over IPv4
 * or IPv6, with or without timestamps, checksums right; fields that
 * change per packet follow n. Returns its length. */
static size_t tcp_pkt(uint8_t *ip, bool v6, bool ts, uint8_t flags,
		      uint16_t sport, uint32_t n, size_t plen)
{
	size_t iph = v6 ? 40 : 20, th = ts ? 32 : 20, len = iph + th + plen;
	uint8_t *t = ip + iph;
	uint32_t s;

	memset(ip, 0, len);
	if (v6) {
		ip[0] = 0x60 | 0x0b;		/* traffic class 0xb_ */
		ip[1] = (uint8_t)((n & 3) << 4 | 0x5); /* ECN, flow label */
		ip[2] = 0x12, ip[3] = 0x34;
		put_be16(ip + 4, (uint16_t)(len - 40));
		ip[6] = 6, ip[7] = 64;
		ip[8] = 0xfd, ip[23] = 2;	/* fd00::2 -> fd00::1 */
		ip[24] = 0xfd, ip[39] = 1;
	} else {
		ip[0] = 0x45;
		ip[1] = (uint8_t)(0xb8 | (n & 3));	/* DSCP, ECN */
		put_be16(ip + 2, (uint16_t)len);
		put_be16(ip + 4, (uint16_t)(0x1000 + n));
		ip[6] = 0x40, ip[8] = 64, ip[9] = 6;
		ip[12] = 10, ip[15] = 2;
		ip[16] = 10, ip[19] = 1;
		put_be16(ip + 10, ck_sum(0, ip, 20));
	}
	put_be16(t, sport);
	put_be16(t + 2, 80);
	put_be32(t + 4, 1000 + n * 1448);
	put_be32(t + 8, 77 + n * 3);
	t[12] = (uint8_t)(th / 4) << 4;
	t[13] = flags;
	put_be16(t + 14, (uint16_t)(500 + n));
	if (ts) {
		t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10;
		put_be32(t + 24, 5000 + n);
		put_be32(t + 28, 9000 + n);
	}
	for (size_t i = 0; i < plen; i++)
		t[th + i] = (uint8_t)(i * 7 + n);
	s = 0;
	if (v6) {
		for (int i = 8; i < 40; i += 2)
			s += (uint32_t)ip[i] << 8 | ip[i + 1];
	} else {
		for (int i = 12; i < 20; i += 2)
			s += (uint32_t)ip[i] << 8 | ip[i + 1];
	}
	s += 6 + (uint32_t)(th + plen);
	put_be16(t + 16, ck_sum(s, t, th + plen));
	return len;
}

/* A TCP retransmission (data that reaches no further than its flow had)
 * is not dropped from the queue: when the queue is full it takes the
 * newest packet's place, and it outlasts the packets that expire around
 * it. New data and another flow's lower sequence numbers are not
 * retransmissions. */
START_TEST(mux_retransmission_kept)
{
	uint8_t buf[MUX_HDR_LEN + 1500];
	uint8_t *ip = buf + MUX_HDR_LEN;
	struct mux_stats ms;
	uint64_t congested;
	int before, found = 0;
	size_t len;

	mux_link_add(mux, 1, "a", 1);
	ack(1);
	/* a download fills the window and then the queue */
	for (uint32_t n = 0; n < 400 + MUX_TXQ; n++) {
		len = tcp_pkt(ip, false, true, 0x10, 5000, n, 1000);
		mux_send(mux, ip, len);
	}
	len = tcp_pkt(ip, false, true, 0x10, 6000, 0, 1000);
	mux_send(mux, ip, len);		/* another flow: new */
	mux_stats(mux, &ms);
	ck_assert_uint_eq(ms.rexmit_kept, 0);
	ck_assert_uint_gt(ms.congested, 0);	/* the queue is full */
	congested = ms.congested;
	/* the first 600 bytes of segment 3 again */
	len = tcp_pkt(ip, false, true, 0x10, 5000, 3, 600);
	ck_assert_int_eq(mux_send(mux, ip, len), 0);
	mux_stats(mux, &ms);
	ck_assert_uint_eq(ms.rexmit_kept, 1);
	ck_assert_uint_eq(ms.congested, congested + 1);	/* the newest */
	/* nothing confirmed for 100 ms: the others waiting expire */
	for (int i = 0; i < 5; i++) {
		ack(1);
		run_for(0.02);
	}
	before = fk.nsent;
	confirm_all(1);
	mux_stats(mux, &ms);
	ck_assert_uint_gt(ms.congested, congested + 100);
	for (int i = before; i < fk.nsent; i++)
		found += fk.sent[i].type == MUX_MSG_DATA &&
			 fk.sent[i].len == MUX_HDR_LEN + len;
	ck_assert_int_eq(found, 1);
}
END_TEST

/* Sets an IPv4 TCP packet's flags, ack, window and timestamps (it has
 * them), with its checksum to match. */
static void tcp_set(uint8_t *ip, size_t len, uint8_t flags, uint32_t ack,
		    uint16_t win, uint32_t tsval, uint32_t tsecr)
{
	uint8_t *t = ip + 20;
	uint32_t s = 6 + (uint32_t)(len - 20);

	t[13] = flags;
	put_be32(t + 8, ack);
	put_be16(t + 14, win);
	put_be32(t + 24, tsval);
	put_be32(t + 28, tsecr);
	memset(t + 16, 0, 2);
	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)ip[i] << 8 | ip[i + 1];
	put_be16(t + 16, ck_sum(s, t, len - 20));
}

/* Sends pkt from the slave and lets it arrive. */
static void pair_send_pkt(const uint8_t *pkt, size_t len)
{
	uint8_t buf[MUX_HDR_LEN + 1500];

	memcpy(buf + MUX_HDR_LEN, pkt, len);
	ck_assert_int_eq(mux_send(pr.m[0], buf + MUX_HDR_LEN, len), 0);
	pair_run(0.003);
}

/* Each kind is sent whole until the master confirms its context, then
 * with the header compressed by the bytes expected (each packet's window
 * differs from the context's; its timestamps go as offsets); every packet
 * arrives bit for bit as it was sent. */
START_TEST(hc_roundtrip)
{
	static const struct {
		bool v6, ts;
		size_t saved;
	} kinds[] = { { false, true, 30 }, { false, false, 22 },
		      { true, true, 52 }, { true, false, 44 } };
	uint8_t pkt[1500];
	struct mux_stats st;
	size_t saved = 0;
	int sent = 0, compressed = 0;

	for (size_t k = 0; k < 4; k++) {
		for (uint32_t n = 0; n < 6; n++) {
			/* a pure ACK, data, data with PSH, FIN */
			uint8_t flags = n == 5 ? 0x11 : n & 1 ? 0x18 : 0x10;
			size_t plen = n == 2 ? 0 : 100 + 200 * n;
			size_t len = tcp_pkt(pkt, kinds[k].v6, kinds[k].ts,
					     flags, (uint16_t)(4000 + k), n,
					     plen);
			int d = pr.ndata, g = pr.ngot;

			pair_send_pkt(pkt, len);
			ck_assert_int_eq(pr.ndata, d + 1);
			ck_assert_int_eq(pr.ngot, g + 1);
			ck_assert_uint_eq(pr.got_len[g], len);
			ck_assert_mem_eq(pr.got[g], pkt, len);
			sent++;
			if (n == 0) {	/* the context is not confirmed yet */
				ck_assert_uint_eq(pr.data_len[d],
						  MUX_HDR_LEN + len);
				continue;
			}
			ck_assert_uint_eq(pr.data_len[d], MUX_HDR_LEN + len -
					  kinds[k].saved);
			compressed++;
			saved += kinds[k].saved;
		}
	}
	ck_assert_int_eq(pr.ctx_sent, 4);
	mux_stats(pr.m[0], &st);
	ck_assert_uint_eq(st.hc_tx, compressed);
	ck_assert_uint_eq(st.hc_saved, saved);
	mux_stats(pr.m[1], &st);
	ck_assert_uint_eq(st.hc_rx, compressed);
	ck_assert_uint_eq(st.hc_drop, 0);
	ck_assert_int_eq(sent, 24);
}
END_TEST

/* Against the context's ack, window and timestamps: the same ack and
 * window are left out, timestamps go as 16-bit offsets; a timestamp more
 * than 16 bits on renews the context (whole until confirmed), one that
 * stepped back goes whole; a segment without ACK (an RST) goes in the long
 * form. A receiver of an older release (3-byte HC_ACK) gets the long form
 * only. */
START_TEST(hc_short_forms)
{
	static const struct {
		uint8_t flags;
		uint32_t ack;
		uint16_t win;
		uint32_t tsval, tsecr;
		size_t saved;		/* 0: sent whole */
	} steps[] = {
		{ 0x10, 77, 900, 5000, 9000, 0 },	/* the context's */
		{ 0x18, 77, 900, 5040, 9030, 36 },
		{ 0x10, 78, 900, 5041, 9030, 32 },	/* another ack */
		{ 0x10, 77, 901, 5080, 9060, 34 },	/* another window */
		{ 0x11, 77, 900, 5000 + 65535, 9090, 36 },
		{ 0x10, 77, 900, 5000 + 65536, 9100, 0 },	/* renewed */
		{ 0x10, 77, 900, 5000 + 65600, 9120, 36 },
		{ 0xd0, 77, 900, 5000 + 65600, 9100, 36 },	/* new ref */
		{ 0x10, 77, 900, 5000 + 65600, 9099, 32 },	/* back */
		{ 0x04, 77, 900, 5000 + 65601, 9100, 26 },	/* RST */
	};
	uint8_t pkt[1500];
	size_t len;

	for (int peer = 0; peer < 2; peer++) {
		pr.old_peer = peer == 1;
		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			size_t saved = steps[i].saved;
			int d = pr.ndata, g = pr.ngot;

			len = tcp_pkt(pkt, false, true, 0x10,
				      (uint16_t)(4000 + peer), (uint32_t)i,
				      700);
			tcp_set(pkt, len, steps[i].flags, steps[i].ack,
				steps[i].win, steps[i].tsval, steps[i].tsecr);
			pair_send_pkt(pkt, len);
			ck_assert_int_eq(pr.ngot, g + 1);
			ck_assert_mem_eq(pr.got[g], pkt, len);
			if (pr.old_peer && saved)
				saved = 26;	/* only the long form */
			if (pr.old_peer && i == 5)
				saved = 26;	/* nothing to renew */
			ck_assert_uint_eq(pr.data_len[d],
					  MUX_HDR_LEN + len - saved);
		}
	}
	ck_assert_int_eq(pr.ctx_sent, 3);
}
END_TEST

/* A packet compressed with a context's generation that arrives after the
 * next generation (renewed timestamps) is still rebuilt: it was on its
 * way. */
START_TEST(hc_renewal_in_flight)
{
	uint8_t pkt[1500], late[1500], buf[MUX_HDR_LEN + 1500];
	struct { uint16_t link; uint8_t type; size_t len; uint8_t b[1600]; }
		held[4];
	struct mux_stats st;
	size_t len, late_len;
	int nheld, found = 0;

	for (uint32_t n = 0; n < 2; n++) {
		len = tcp_pkt(pkt, false, true, 0x10, 4000, n, 700);
		tcp_set(pkt, len, 0x10, 77, 900, 5000 + n, 9000);
		pair_send_pkt(pkt, len);
	}
	/* compressed, and held on its way */
	late_len = tcp_pkt(late, false, true, 0x10, 4000, 2, 700);
	tcp_set(late, late_len, 0x10, 77, 900, 5002, 9000);
	memcpy(buf + MUX_HDR_LEN, late, late_len);
	ck_assert_int_eq(mux_send(pr.m[0], buf + MUX_HDR_LEN, late_len), 0);
	ck_assert_int_le(pr.nq, 4);
	nheld = pr.nq;
	for (int i = 0; i < nheld; i++) {
		held[i].link = pr.q[i].link;
		held[i].type = pr.q[i].type;
		held[i].len = pr.q[i].len;
		memcpy(held[i].b, pr.q[i].b, pr.q[i].len);
	}
	pr.nq = 0;
	ck_assert_uint_lt(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + late_len);
	/* 16 bits of timestamps later: a new generation, confirmed */
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 3, 700);
	tcp_set(pkt, len, 0x10, 77, 900, 5000 + 70000, 9000);
	pair_send_pkt(pkt, len);
	pair_send_pkt(pkt, len);
	ck_assert_int_eq(pr.ctx_sent, 2);
	ck_assert_uint_lt(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + len);
	for (int i = 0; i < nheld; i++)
		mux_input(pr.m[1], held[i].link, held[i].type, held[i].b,
			  held[i].len);
	/* it arrived once (braid resent it when the next ones showed it
	 * missing, or the copy held came): rebuilt, not dropped */
	mux_stats(pr.m[1], &st);
	ck_assert_uint_eq(st.hc_drop, 0);
	for (int i = 0; i < pr.ngot; i++)
		found += pr.got_len[i] == late_len &&
			 !memcmp(pr.got[i], late, late_len);
	ck_assert_int_eq(found, 1);
}
END_TEST

/* What the scheduler reads of a packet reads the same compressed. */
START_TEST(hc_classified_alike)
{
	uint8_t pkt[1500], buf[MUX_HDR_LEN + 1500];
	size_t len;

	for (uint32_t n = 0; n < 3; n++) {
		size_t plen = n == 1 ? 0 : 500;
		uint8_t *c;
		size_t clen;

		len = tcp_pkt(pkt, false, true, n == 2 ? 0x11 : 0x10, 4000,
			      n, plen);
		memcpy(buf + MUX_HDR_LEN, pkt, len);
		clen = len;
		c = mux_hc_compress(pr.m[0], buf + MUX_HDR_LEN, &clen,
				    mux_flow_bucket(pkt, len), ev_now(loop));
		pair_run(0.003);
		if (n == 0)	/* offered, not compressed yet */
			continue;
		ck_assert_ptr_ne(c, buf + MUX_HDR_LEN);
		ck_assert_uint_lt(clen, len);
		ck_assert_uint_eq(mux_flow_bucket(c, clen),
				  mux_flow_bucket(pkt, len));
		ck_assert_int_eq(mux_timed(c, clen), mux_timed(pkt, len));
	}
	/* a compressed FIN without data is timed, a pure ACK is not */
	ck_assert(mux_timed(pkt, len));
}
END_TEST

/* Headers that do not fit a context go whole and arrive unchanged. */
START_TEST(hc_others_whole)
{
	uint8_t pkt[1500];
	struct mux_stats st;
	size_t len;

	for (int kind = 0; kind < 7; kind++) {
		for (uint32_t n = 0; n < 3; n++) {
			uint16_t sport = (uint16_t)(5000 + kind);
			int d = pr.ndata, g = pr.ngot;

			len = tcp_pkt(pkt, false, true, kind == 0 ? 0x12 :
				      kind == 1 ? 0x30 : 0x10, sport, n, 300);
			if (kind == 2)		/* SACK: other options */
				pkt[20 + 20] = 5;
			if (kind == 3)		/* a fragment */
				put_be16(pkt + 6, 0x2000);
			if (kind == 4)		/* the IPv4 checksum is bad */
				pkt[10] ^= 1;
			if (kind == 5)		/* UDP */
				pkt[9] = 17;
			if (kind == 6)		/* urgent pointer, no URG */
				pkt[20 + 19] = 1;
			if (kind >= 2 && kind != 4) {
				put_be16(pkt + 10, 0);
				put_be16(pkt + 10, ck_sum(0, pkt, 20));
			}
			pair_send_pkt(pkt, len);
			ck_assert_uint_eq(pr.data_len[d], MUX_HDR_LEN + len);
			ck_assert_int_eq(pr.ngot, g + 1);
			ck_assert_mem_eq(pr.got[g], pkt, len);
		}
	}
	mux_stats(pr.m[0], &st);
	ck_assert_uint_eq(st.hc_tx, 0);
	ck_assert_int_eq(pr.ctx_sent, 0);
}
END_TEST

/* The master forgot the context (it restarted): the packet is dropped,
 * counted and answered; the slave offers the context again and
 * compresses once it is back. A packet changed on the way fails its
 * checksum once rebuilt and is dropped, not delivered. */
START_TEST(hc_lost_context_and_damage)
{
	uint8_t pkt[1500];
	struct mux_stats st;
	size_t len;
	int g;

	for (uint32_t n = 0; n < 2; n++)
		pair_send_pkt(pkt, tcp_pkt(pkt, false, true, 0x10, 4000, n,
					   600));
	ck_assert_int_eq(pr.ngot, 2);
	mux_hc_reset(pr.m[1]);
	g = pr.ngot;
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 2, 600);
	pair_send_pkt(pkt, len);
	ck_assert_int_eq(pr.ngot, g);		/* dropped */
	ck_assert_int_eq(pr.nack_sent, 1);
	mux_stats(pr.m[1], &st);
	ck_assert_uint_eq(st.hc_drop, 1);
	/* offered again with the next packet, sent whole */
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 3, 600);
	pair_send_pkt(pkt, len);
	ck_assert_int_eq(pr.ctx_sent, 2);
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + len);
	ck_assert_mem_eq(pr.got[pr.ngot - 1], pkt, len);
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 4, 600);
	pair_send_pkt(pkt, len);
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + len - 30);
	ck_assert_mem_eq(pr.got[pr.ngot - 1], pkt, len);
	/* damaged on the way */
	g = pr.ngot;
	pr.tamper = true;
	pair_send_pkt(pkt, tcp_pkt(pkt, false, true, 0x10, 4000, 5, 600));
	ck_assert_int_eq(pr.ngot, g);
	mux_stats(pr.m[1], &st);
	ck_assert_uint_eq(st.hc_drop, 2);
	ck_assert_int_eq(pr.nack_sent, 1);	/* the context is fine */
}
END_TEST

/* A context's offers go unanswered (all lost): the flow goes whole and
 * the offer is made again, not more often than every 50 ms. */
START_TEST(hc_offer_repeated)
{
	uint8_t pkt[1500];
	struct mux_stats st;
	size_t len;

	pr.lose_ctx = true;
	for (uint32_t n = 0; n < 5; n++) {
		len = tcp_pkt(pkt, false, true, 0x10, 4000, n, 600);
		pair_send_pkt(pkt, len);
		ck_assert_uint_eq(pr.data_len[pr.ndata - 1],
				  MUX_HDR_LEN + len);
	}
	ck_assert_int_eq(pr.ctx_sent, 1);
	pr.lose_ctx = false;
	pair_run(0.06);
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 6, 600);
	pair_send_pkt(pkt, len);
	ck_assert_int_eq(pr.ctx_sent, 2);
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + len);
	pair_send_pkt(pkt, tcp_pkt(pkt, false, true, 0x10, 4000, 7, 600));
	mux_stats(pr.m[0], &st);
	ck_assert_uint_eq(st.hc_tx, 1);
}
END_TEST

/* Two flows in one context slot: the second goes whole while the first
 * is in use, and takes the slot over once the first has been quiet for
 * 2 s; neither is ever rebuilt with the other's addresses. */
START_TEST(hc_slot_shared)
{
	uint8_t a[1500], b[1500];
	uint16_t pa = 4000, pb = 4001;
	size_t la, lb;
	struct mux_stats st;

	la = tcp_pkt(a, false, true, 0x10, pa, 0, 300);
	for (;; pb++) {
		lb = tcp_pkt(b, false, true, 0x10, pb, 0, 300);
		if (mux_flow_bucket(b, lb) == mux_flow_bucket(a, la))
			break;
	}
	for (uint32_t n = 0; n < 4; n++) {
		la = tcp_pkt(a, false, true, 0x10, pa, n, 300);
		pair_send_pkt(a, la);
		ck_assert_mem_eq(pr.got[pr.ngot - 1], a, la);
		lb = tcp_pkt(b, false, true, 0x10, pb, n, 300);
		pair_send_pkt(b, lb);
		ck_assert_uint_eq(pr.data_len[pr.ndata - 1],
				  MUX_HDR_LEN + lb);
		ck_assert_mem_eq(pr.got[pr.ngot - 1], b, lb);
	}
	mux_stats(pr.m[0], &st);
	ck_assert_uint_eq(st.hc_tx, 3);
	/* the slot's flow is quiet for 2 s: the other takes it */
	ev_now_update(loop);
	{
		struct ev_loop *l = loop;
		double until = ev_now(l) + 2.05;

		while (ev_now(l) < until) {
			ev_run(l, EVRUN_NOWAIT);
			pump();
			usleep(20000);
			ev_now_update(l);
		}
	}
	for (uint32_t n = 4; n < 6; n++) {
		lb = tcp_pkt(b, false, true, 0x10, pb, n, 300);
		pair_send_pkt(b, lb);
		ck_assert_mem_eq(pr.got[pr.ngot - 1], b, lb);
	}
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + lb - 30);
	/* and the first, back, goes whole */
	la = tcp_pkt(a, false, true, 0x10, pa, 4, 300);
	pair_send_pkt(a, la);
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + la);
	ck_assert_mem_eq(pr.got[pr.ngot - 1], a, la);
}
END_TEST

/* A flow's TTL changes while the first context's offer is on its way:
 * the answer to the old offer does not confirm the new context (which
 * would rebuild packets with the old TTL: the TCP checksum does not
 * cover it). */
START_TEST(hc_stale_answer)
{
	uint8_t pkt[1500], buf[MUX_HDR_LEN + 1500];
	size_t len;

	len = tcp_pkt(pkt, false, true, 0x10, 4000, 0, 300);
	memcpy(buf + MUX_HDR_LEN, pkt, len);
	ck_assert_int_eq(mux_send(pr.m[0], buf + MUX_HDR_LEN, len), 0);
	pr.lose_ctx = true;		/* the new context's offer is lost */
	len = tcp_pkt(pkt, false, true, 0x10, 4000, 1, 300);
	pkt[8] = 63;
	put_be16(pkt + 10, 0);
	put_be16(pkt + 10, ck_sum(0, pkt, 20));
	memcpy(buf + MUX_HDR_LEN, pkt, len);
	ck_assert_int_eq(mux_send(pr.m[0], buf + MUX_HDR_LEN, len), 0);
	pr.lose_ctx = false;
	ck_assert_int_eq(pr.ctx_sent, 2);
	pump();				/* the first offer is answered */
	for (uint32_t n = 2; n < 6; n++) {
		len = tcp_pkt(pkt, false, true, 0x10, 4000, n, 300);
		pkt[8] = 63;
		put_be16(pkt + 10, 0);
		put_be16(pkt + 10, ck_sum(0, pkt, 20));
		pair_send_pkt(pkt, len);
		ck_assert_mem_eq(pr.got[pr.ngot - 1], pkt, len);
		if (n == 2)
			pair_run(0.06);	/* offered again after 50 ms */
	}
	ck_assert_uint_eq(pr.data_len[pr.ndata - 1], MUX_HDR_LEN + len - 30);
	ck_assert_int_eq(pr.ngot, 6);
}
END_TEST

/* With header_compression off, nothing is offered or compressed, and
 * what the other side compresses is still rebuilt. */
START_TEST(hc_off)
{
	uint8_t pkt[1500];
	struct mux_stats st;
	size_t len;

	pair_teardown();
	pair_make(false);
	for (uint32_t n = 0; n < 4; n++) {
		len = tcp_pkt(pkt, true, true, 0x10, 4000, n, 600);
		pair_send_pkt(pkt, len);
		ck_assert_uint_eq(pr.data_len[pr.ndata - 1],
				  MUX_HDR_LEN + len);
		ck_assert_mem_eq(pr.got[pr.ngot - 1], pkt, len);
	}
	ck_assert_int_eq(pr.ctx_sent, 0);
	mux_stats(pr.m[0], &st);
	ck_assert_uint_eq(st.hc_tx, 0);
}
END_TEST

static Suite *mux_suite(void)
{
	Suite *s = suite_create("multiplexer");
	TCase *tc;

	tc = tcase_create("wrr");
	tcase_add_test(tc, wrr_exact_shares);
	tcase_add_test(tc, wrr_smooth);
	tcase_add_test(tc, wrr_eligibility);
	tcase_add_test(tc, wrr_stream_loses_ties);
	suite_add_tcase(s, tc);

	tc = tcase_create("slave");
	tcase_add_checked_fixture(tc, slave_setup, mux_teardown);
	tcase_add_test(tc, slave_links_start_down_and_keepalive);
	tcase_add_test(tc, slave_dead_and_back);
	tcase_add_test(tc, slave_not_dead_while_heard);
	tcase_add_test(tc, weights_honoured_through_send);
	tcase_add_test(tc, send_failure_moves_packet);
	tcase_add_test(tc, roundrobin_backup);
	tcase_add_test(tc, data_is_delivered);
	tcase_add_test(tc, mux_hole_known_lost);
	tcase_add_test(tc, mux_hole_times_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("estimate");
	tcase_add_test(tc, est_converges);
	tcase_add_test(tc, est_small_window_grows);
	tcase_add_test(tc, est_unmeasured_window_grows);
	tcase_add_test(tc, est_app_limited_and_slowdown);
	tcase_add_test(tc, est_loss);
	tcase_add_test(tc, est_idle_restart);
	tcase_add_test(tc, est_rtt);
	tcase_add_test(tc, est_stall);
	tcase_add_test(tc, sched_earliest_arrival);
	tcase_add_test(tc, est_pace);
	suite_add_tcase(s, tc);

	tc = tcase_create("earliest");
	tcase_add_checked_fixture(tc, earliest_setup, mux_teardown);
	tcase_add_test(tc, mux_earliest_splits_by_rate);
	tcase_add_test(tc, mux_earliest_keepalive_rtt);
	tcase_add_test(tc, mux_backup_only_when_full);
	tcase_add_test(tc, mux_queue_when_full);
	tcase_add_test(tc, mux_queue_wait_short_rtt);
	tcase_add_test(tc, mux_queue_wait_long_rtt);
	tcase_add_test(tc, mux_queue_wait_long_rtt_expires);
	tcase_add_test(tc, mux_flows_stamped_and_sparse_first);
	tcase_add_test(tc, mux_retransmission_kept);
	tcase_add_test(tc, mux_stall_resends);
	tcase_add_test(tc, mux_loss_resent);
	tcase_add_test(tc, mux_lost_reported);
	tcase_add_test(tc, mux_lost_resends);
	tcase_add_test(tc, mux_hole_waits_for_resend);
	tcase_add_test(tc, mux_peer_restart);
	tcase_add_test(tc, mux_link_drains);
	tcase_add_test(tc, mux_link_del_resends);
	tcase_add_test(tc, mux_paced_burst);
	tcase_add_test(tc, mux_paced_moved_on_del);
	tcase_add_test(tc, mux_paced_full_buffer_retried);
	tcase_add_test(tc, mux_paced_peer_restart);
	tcase_add_test(tc, mux_paced_ring_bounded);
	tcase_add_test(tc, mux_paced_probe_keeps_waiting);
	suite_add_tcase(s, tc);

	tc = tcase_create("equalized");
	tcase_add_checked_fixture(tc, equalized_setup, mux_teardown);
	tcase_add_test(tc, mux_equalized_holds);
	tcase_add_test(tc, mux_equalized_which_links);
	tcase_add_test(tc, mux_equalized_unheld);
	tcase_add_test(tc, mux_equalized_queue_wait);
	tcase_add_test(tc, mux_equalized_queue_wait_expires);
	tcase_add_test(tc, mux_resend_first);
	suite_add_tcase(s, tc);

	tc = tcase_create("measure");
	tcase_add_checked_fixture(tc, measure_setup, mux_teardown);
	tcase_add_test(tc, mux_measure_pads_window);
	tcase_add_test(tc, mux_measure_pad_not_delivered);
	tcase_add_test(tc, mux_measure_only_where_taken);
	tcase_add_test(tc, mux_measure_packet_before_padding);
	suite_add_tcase(s, tc);

	tc = tcase_create("master_earliest");
	tcase_add_checked_fixture(tc, master_earliest_setup, mux_teardown);
	tcase_add_test(tc, master_follows_leaving);
	tcase_add_test(tc, master_new_incarnation);
	suite_add_tcase(s, tc);

	tc = tcase_create("redundant");
	tcase_add_checked_fixture(tc, redundant_setup, mux_teardown);
	tcase_add_test(tc, mux_redundant_two_copies);
	tcase_add_test(tc, classify_ports);
	tcase_add_test(tc, classify_timed);
	tcase_add_test(tc, mux_redundant_ports);
	suite_add_tcase(s, tc);

	tc = tcase_create("reorder");
	/* the random model runs 90 cases: seconds under the sanitizers,
	 * more while the other suites run beside it (check's 4 s is not) */
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, ro_setup, ro_teardown);
	tcase_add_test(tc, ro_in_order);
	tcase_add_test(tc, ro_flows_independent);
	tcase_add_test(tc, ro_flow_hole_given_up);
	tcase_add_test(tc, ro_early_marks_kept_apart);
	tcase_add_test(tc, ro_early_holes_one_wait);
	tcase_add_test(tc, ro_too_big_goes_now);
	tcase_add_test(tc, ro_model_random);
	tcase_add_test(tc, ro_hole_filled);
	tcase_add_test(tc, ro_hole_given_up_then_late);
	tcase_add_test(tc, ro_bounds);
	tcase_add_test(tc, ro_wraps);
	tcase_add_test(tc, ro_hold_adapts);
	suite_add_tcase(s, tc);

	tc = tcase_create("compress");
	tcase_add_checked_fixture(tc, pair_setup, pair_teardown);
	tcase_add_test(tc, hc_roundtrip);
	tcase_add_test(tc, hc_short_forms);
	tcase_add_test(tc, hc_renewal_in_flight);
	tcase_add_test(tc, hc_classified_alike);
	tcase_add_test(tc, hc_others_whole);
	tcase_add_test(tc, hc_lost_context_and_damage);
	tcase_add_test(tc, hc_offer_repeated);
	tcase_add_test(tc, hc_slot_shared);
	tcase_add_test(tc, hc_stale_answer);
	tcase_add_test(tc, hc_off);
	suite_add_tcase(s, tc);

	tc = tcase_create("master");
	tcase_add_checked_fixture(tc, master_setup, mux_teardown);
	tcase_add_test(tc, master_learns_and_answers);
	tcase_add_test(tc, master_rejects_hostile_names);
	tcase_add_test(tc, master_full_socket_tried_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mux_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
