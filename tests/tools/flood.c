/* SPDX-License-Identifier: MIT */
/* flood: a hostile UDP traffic generator for tests, paced and batched. */

/*
 * Usage: flood TARGET_IP:PORT SECONDS PPS MODE [FILE]
 *
 * Sends UDP datagrams to TARGET from one socket at about PPS packets per
 * second for SECONDS (sendmmsg batches paced with clock_nanosleep), then
 * prints "sent=N pps=R errors=N received=N" to stdout and exits 0. MODE:
 *
 *   garbage  random bytes, random length 1..1400
 *   init     forged handshake initiations: 72 bytes, version 3, type 0x81,
 *            random non-zero link id and index, counter 0, then 60
 *            random bytes (no key behind them)
 *   data     forged data packets: version 3, type 1, random non-zero link
 *            id, session and counter, random length 28..1400
 *   mix      each packet one of the three above, at random
 *   replay   the bytes of FILE (a captured real packet), over and over
 *
 * "received" counts datagrams that came back to the flooding socket. When
 * the sender falls more than 50 ms behind it drops the backlog instead of
 * bursting to catch up, so "pps" is what was really reached. SIGTERM or
 * SIGINT ends the run early, with the same report.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define BATCH_MAX 64
#define PKT_MAX 1400
#define REPLAY_MAX 65507
#define INIT_LEN 72
#define HDR_LEN 12
#define DATA_MIN 28
#define MAX_LAG_NS 50000000ull	/* drop the backlog past this */

enum mode { M_GARBAGE, M_INIT, M_DATA, M_MIX, M_REPLAY };

static const char *const mode_names[] = { "garbage", "init", "data", "mix",
					  "replay" };

static volatile sig_atomic_t stop;
static uint64_t rng_state;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* splitmix64: fast, and plenty random for junk on the wire. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rnd_nonzero(uint64_t mask)
{
	uint64_t v;

	do
		v = rnd() & mask;
	while (v == 0);
	return v;
}

static void fill_random(unsigned char *p, size_t len)
{
	while (len >= 8) {
		uint64_t v = rnd();

		memcpy(p, &v, 8);
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t v = rnd();

		memcpy(p, &v, len);
	}
}

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* The 12-byte wire header: version 3, TYPE, link id, index or session,
 * the counter's low 32 bits. */
static void put_hdr(unsigned char *p, uint8_t type, uint32_t index,
		    uint64_t counter)
{
	p[0] = 3;
	p[1] = type;
	put_be(p + 2, rnd_nonzero(0xffff), 2);
	put_be(p + 4, index, 4);
	put_be(p + 8, counter, 4);
}

/* One packet of MODE into P; returns its length. */
static size_t make_packet(enum mode mode, unsigned char *p)
{
	size_t len;

	if (mode == M_MIX)
		mode = (enum mode)(rnd() % 3);
	switch (mode) {
	case M_INIT:
		put_hdr(p, 0x81, (uint32_t)rnd_nonzero(UINT32_MAX), 0);
		fill_random(p + HDR_LEN, INIT_LEN - HDR_LEN);
		return INIT_LEN;
	case M_DATA:
		len = DATA_MIN + rnd() % (PKT_MAX - DATA_MIN + 1);
		put_hdr(p, 1, (uint32_t)rnd_nonzero(UINT32_MAX), rnd());
		fill_random(p + HDR_LEN, len - HDR_LEN);
		return len;
	default:
		len = 1 + rnd() % PKT_MAX;
		fill_random(p, len);
		return len;
	}
}

/* FILE's bytes into BUF; their count, or -1. */
static ssize_t read_file(const char *path, unsigned char *buf, size_t max)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "flood: %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, max, f);
	if (ferror(f) || n == 0 || fgetc(f) != EOF) {
		fprintf(stderr, "flood: %s: empty, unreadable or over %zu bytes\n",
			path, max);
		fclose(f);
		return -1;
	}
	fclose(f);
	return (ssize_t)n;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ull),
			       .tv_nsec = (long)(t % 1000000000ull) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Datagrams waiting on FD (anything the target sent back). */
static uint64_t drain(int fd)
{
	static unsigned char buf[65536];
	uint64_t n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

static int parse_mode(const char *s, enum mode *m)
{
	for (size_t i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	}
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: flood TARGET_IP:PORT SECONDS PPS "
			"garbage|init|data|mix|replay [FILE]\n");
}

/* One run: what to send, where, and what came of it. */
struct flood {
	enum mode mode;
	double secs, pps;
	struct sockaddr_storage dst;
	socklen_t dlen;
	int fd, batch;
	unsigned char bufs[BATCH_MAX][PKT_MAX];
	unsigned char replay[REPLAY_MAX];
	size_t replay_len;
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint64_t sent, errors, received;
};

/* The command line into F; 0, or the exit status for a bad one. */
static int parse_args(struct flood *f, int argc, char **argv)
{
	char *e1, *e2;
	ssize_t n;

	if (argc < 5 || argc > 6 || parse_mode(argv[4], &f->mode) < 0 ||
	    (f->mode == M_REPLAY) != (argc == 6))
		goto out_usage;
	f->secs = strtod(argv[2], &e1);
	f->pps = strtod(argv[3], &e2);
	if (*e1 || *e2 || !(f->secs > 0 && f->secs <= 86400) ||
	    !(f->pps >= 1 && f->pps <= 10e6))
		goto out_usage;
	if (parse_addr("flood", argv[1], &f->dst, &f->dlen) < 0) {
		fprintf(stderr, "flood: bad address %s\n", argv[1]);
		return 2;
	}
	if (f->mode == M_REPLAY) {
		n = read_file(argv[5], f->replay, sizeof(f->replay));
		if (n < 0)
			return 2;
		f->replay_len = (size_t)n;
	}
	return 0;

out_usage:
	usage();
	return 2;
}

/* The socket and the batch of messages, about one per millisecond so the
 * pacing stays smooth. Unconnected: ICMP errors do not fail the sends. */
static int setup(struct flood *f)
{
	f->fd = socket(f->dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		perror("flood: socket");
		return -1;
	}
	f->batch = (int)(f->pps / 1000);
	if (f->batch < 1)
		f->batch = 1;
	if (f->batch > BATCH_MAX)
		f->batch = BATCH_MAX;
	for (int i = 0; i < f->batch; i++) {
		f->iov[i].iov_base = f->mode == M_REPLAY ? f->replay : f->bufs[i];
		f->iov[i].iov_len = f->replay_len;
		f->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &f->dst, .msg_namelen = f->dlen,
			.msg_iov = &f->iov[i], .msg_iovlen = 1 };
	}
	return 0;
}

static void send_batch(struct flood *f)
{
	int n;

	if (f->mode != M_REPLAY)
		for (int i = 0; i < f->batch; i++)
			f->iov[i].iov_len = make_packet(f->mode, f->bufs[i]);
	n = sendmmsg(f->fd, f->msgs, (unsigned)f->batch, 0);
	if (n < 0) {
		if (errno != EINTR)
			f->errors++;
		return;
	}
	f->sent += (uint64_t)n;
	f->errors += n < f->batch;	/* the rest hit an error */
}

/* Batches until the time is up or a signal comes; returns the seconds
 * it took. Batch k is due at k * batch / pps. */
static double run(struct flood *f)
{
	uint64_t due = 0, start = now_ns(), t;
	uint64_t end = start + (uint64_t)(f->secs * 1e9);

	while (!stop && (t = now_ns()) < end) {
		uint64_t at = start + (uint64_t)((double)due * 1e9 / f->pps);

		if (t < at) {
			sleep_until(at < end ? at : end);
			continue;
		}
		if (t - at > MAX_LAG_NS)
			due = (uint64_t)((double)(t - start) * f->pps / 1e9);
		send_batch(f);
		due += (uint64_t)f->batch;
		f->received += drain(f->fd);
	}
	f->received += drain(f->fd);
	return (double)(now_ns() - start) / 1e9;
}

int main(int argc, char **argv)
{
	static struct flood f;
	struct sigaction sa = { .sa_handler = on_signal };
	double took;
	int rc;

	rc = parse_args(&f, argc, argv);
	if (rc)
		return rc;
	if (getrandom(&rng_state, sizeof(rng_state), 0) != sizeof(rng_state)) {
		perror("flood: getrandom");
		return 1;
	}
	/* No SA_RESTART: a signal ends the sleep and the run. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (setup(&f) < 0)
		return 1;
	fprintf(stderr, "flood: %s -> %s for %gs at %g pps (batches of %d)\n",
		argv[4], argv[1], f.secs, f.pps, f.batch);

	took = run(&f);
	printf("sent=%llu pps=%.0f errors=%llu received=%llu\n",
	       (unsigned long long)f.sent, (double)f.sent / took,
	       (unsigned long long)f.errors, (unsigned long long)f.received);
	fflush(stdout);
	close(f.fd);
	return 0;
}
