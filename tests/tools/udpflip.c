/* SPDX-License-Identifier: MIT */
/* udpflip: a UDP relay for tests that can flip one bit in every datagram. */

/*
 * Usage: udpflip LISTEN_IP:PORT TARGET_IP:PORT pass|flip
 *
 * Datagrams received on LISTEN go to TARGET from a second socket; datagrams
 * coming back from TARGET go to the last client seen on LISTEN. In flip mode
 * datagram number i (counting from 0, client to target only) has bit i % 8 of
 * byte (i * 7) % len inverted, so over a run every part of the header and the
 * ciphertext gets hit. On SIGTERM or SIGINT it prints
 * "forwarded=N replies=N" to stdout and exits 0.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void flip_bit(unsigned char *buf, size_t len, uint64_t i)
{
	if (len == 0)
		return;
	buf[(i * 7) % len] ^= (unsigned char)(1u << (i % 8));
}

static int open_socket(const struct sockaddr_storage *ss)
{
	int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		perror("udpflip: socket");
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536];
	struct sockaddr_storage lsa, tsa, client;
	socklen_t llen, tlen, clen = 0;
	uint64_t forwarded = 0, replies = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, orig;
	struct pollfd pfd[2];
	bool flip;
	int lfd, tfd, one = 1;

	if (argc != 4 || (strcmp(argv[3], "pass") && strcmp(argv[3], "flip"))) {
		fprintf(stderr,
			"usage: udpflip LISTEN_IP:PORT TARGET_IP:PORT pass|flip\n");
		return 2;
	}
	flip = strcmp(argv[3], "flip") == 0;
	if (parse_addr("udpflip", argv[1], &lsa, &llen) || parse_addr("udpflip", argv[2], &tsa, &tlen)) {
		fprintf(stderr, "udpflip: bad address\n");
		return 2;
	}

	/* Signals stay blocked except inside ppoll(), so none is missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);

	lfd = open_socket(&lsa);
	tfd = open_socket(&tsa);
	if (lfd < 0 || tfd < 0)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&lsa, llen) < 0) {
		fprintf(stderr, "udpflip: bind %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	/* Connected, so only the target's datagrams come back on tfd. */
	if (connect(tfd, (struct sockaddr *)&tsa, tlen) < 0) {
		fprintf(stderr, "udpflip: connect %s: %s\n", argv[2],
			strerror(errno));
		return 1;
	}
	fprintf(stderr, "udpflip: relaying %s -> %s (%s)\n", argv[1], argv[2],
		argv[3]);

	pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	while (!stop) {
		ssize_t n;

		if (ppoll(pfd, 2, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			perror("udpflip: ppoll");
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);

			n = recvfrom(lfd, buf, sizeof(buf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &flen);
			if (n >= 0) {
				client = from;
				clen = flen;
				if (flip)
					flip_bit(buf, (size_t)n, forwarded);
				/* A refused send (target port closed) is not fatal. */
				send(tfd, buf, (size_t)n, MSG_DONTWAIT);
				forwarded++;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLERR)) {
			n = recv(tfd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n >= 0 && clen > 0) {
				sendto(lfd, buf, (size_t)n, MSG_DONTWAIT,
				       (struct sockaddr *)&client, clen);
				replies++;
			}
		}
	}

	printf("forwarded=%llu replies=%llu\n", (unsigned long long)forwarded,
	       (unsigned long long)replies);
	fflush(stdout);
	close(tfd);
	close(lfd);
	return 0;
}
