/* SPDX-License-Identifier: MIT */
/* Writes the hand-made seed inputs of fuzz_wire and fuzz_socks5 (real
 * messages built with linkmap's own encoders) into DIR/<target>/. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "fuzz.h"
#include "linkmap-int.h"

static const char *outdir;

static void put(const char *target, const char *name, const void *p,
		size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void sealed(const char *name, uint8_t type, uint16_t link_id,
		   uint64_t counter, const void *payload, size_t len)
{
	struct lm_hdr h = {
		.version = LM_WIRE_VERSION, .type = type, .link_id = link_id,
		.session = FUZZ_SESSION, .counter = counter,
	};
	uint8_t pkt[LM_BUF_LEN];
	int n = lm_seal(fuzz_key, &h, payload, len, pkt, sizeof(pkt));

	if (n < 0)
		exit(1);
	put("wire", name, pkt, n);
}

static void wire_seeds(void)
{
	/* an IPv4 ping, as the multiplexer hands it down */
	static const uint8_t ping[28] = {
		0x45, 0, 0, 28, 0, 1, 0, 0, 64, 1, 0, 0,
		10, 77, 0, 2, 10, 77, 0, 1, 8, 0, 0xf7, 0xfe, 0, 1, 0, 0,
	};
	uint8_t replay[64];
	size_t n = 0;

	sealed("sealed-ping", 1, 1, 1, ping, sizeof(ping));
	sealed("sealed-empty", 0x80, 2, 0, NULL, 0);
	/* the wire carries a counter's low 32 bits */
	sealed("sealed-counter-high", 1, 65535, 0xfffffff0u, "x", 1);
	/* replay ops: ahead, mark; behind; at the window's edge; absolute */
	replay[n++] = 4 | 1; replay[n++] = 0; replay[n++] = 100;
	replay[n++] = 4 | 2; replay[n++] = 0; replay[n++] = 3;
	replay[n++] = 4 | 2; replay[n++] = 0; replay[n++] = 3;
	replay[n++] = 4 | 1; replay[n++] = 0x40; replay[n++] = 0;
	replay[n++] = 4 | 3; replay[n++] = 0;
	replay[n++] = 4 | 3; replay[n++] = 1;
	replay[n++] = 4 | 3; replay[n++] = 0xff;
	replay[n++] = 0;
	memset(replay + n, 0xff, 8);
	n += 8;
	put("wire", "replay-ops", replay, n);
}

static void socks_seeds(void)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET,
				  .sin_port = htons(40000) };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(1080) };
	uint8_t buf[LM_SOCKS_MAX_REPLY + 64];
	int n;

	put("socks5", "method-none", "\x05\x00", 2);
	put("socks5", "method-userpass", "\x05\x02", 2);
	put("socks5", "method-refused", "\x05\xff", 2);
	put("socks5", "auth-ok", "\x01\x00", 2);
	put("socks5", "auth-fail", "\x01\x01", 2);
	put("socks5", "userpass", "me\0secret", 10);

	/* replies: lm_socks_request writes the same layout, with the reply
	 * code where the command goes */
	inet_pton(AF_INET, "198.18.0.1", &s4.sin_addr);
	n = lm_socks_request(buf, sizeof(buf), 0, (struct sockaddr *)&s4);
	put("socks5", "reply-ipv4", buf, n);
	s4.sin_addr.s_addr = 0;
	n = lm_socks_request(buf, sizeof(buf), 0, (struct sockaddr *)&s4);
	put("socks5", "reply-ipv4-any", buf, n);
	n = lm_socks_request(buf, sizeof(buf), LM_SOCKS_REP_CMD_UNSUPPORTED,
			     (struct sockaddr *)&s4);
	put("socks5", "reply-cmd-unsupported", buf, n);
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	n = lm_socks_request(buf, sizeof(buf), 0, (struct sockaddr *)&s6);
	put("socks5", "reply-ipv6", buf, n);
	memcpy(buf, "\x05\x00\x00\x03\x0bproxy.local\x04\x38", 18);
	put("socks5", "reply-name", buf, 18);

	/* relayed datagrams: header and a little payload */
	inet_pton(AF_INET, "203.0.113.7", &s4.sin_addr);
	n = lm_socks_udp_encode(buf, sizeof(buf), (struct sockaddr *)&s4);
	memcpy(buf + n, "data", 4);
	put("socks5", "udp-ipv4", buf, n + 4);
	n = lm_socks_udp_encode(buf, sizeof(buf), (struct sockaddr *)&s6);
	memcpy(buf + n, "data", 4);
	put("socks5", "udp-ipv6", buf, n + 4);
	memcpy(buf, "\x00\x00\x00\x03\x0bmaster.test\x15\xb3" "data", 22);
	put("socks5", "udp-name", buf, 22);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	outdir = argv[1];
	wire_seeds();
	socks_seeds();
	return 0;
}
