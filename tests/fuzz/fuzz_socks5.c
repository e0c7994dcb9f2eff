/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the SOCKS5 decoders on whatever a proxy may send, in
 * one piece and in every shorter piece, and the encoders they mirror. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "linkmap-int.h"

enum kind { METHOD, AUTH, REPLY, UDP, NKINDS };

static const char *const kind_name[] = { "method", "auth", "reply", "udp" };

/* Longest message of each kind: a decoder never wants more than this
 * (a relayed datagram's header with a name is as long as a reply). */
static const size_t kind_max[] = {
	[METHOD] = 2, [AUTH] = 2, [REPLY] = LM_SOCKS_MAX_REPLY,
	[UDP] = LM_SOCKS_MAX_REPLY,
};

/* Prefixes past this length decode like the whole input. */
#define PREFIX_MAX (LM_SOCKS_MAX_REPLY + 8)

struct res {
	int rc;
	int val;			/* method, status or reply code */
	struct sockaddr_storage ss;
	socklen_t sslen;
};

static void decode(enum kind k, const uint8_t *buf, size_t len,
		   struct res *r)
{
	memset(r, 0, sizeof(*r));
	r->val = -1;
	r->sslen = 12345;
	switch (k) {
	case METHOD:
		r->rc = lm_socks_method_decode(buf, len, &r->val);
		break;
	case AUTH:
		r->rc = lm_socks_auth_decode(buf, len, &r->val);
		break;
	case REPLY:
		r->rc = lm_socks_reply_decode(buf, len, &r->val, &r->ss,
					      &r->sslen);
		break;
	default:
		r->rc = lm_socks_udp_decode(buf, len, &r->ss, &r->sslen);
		break;
	}
}

static bool same(const struct res *a, const struct res *b)
{
	return a->rc == b->rc && a->val == b->val && a->sslen == b->sslen &&
	       !memcmp(&a->ss, &b->ss, sizeof(a->ss));
}

static void die(enum kind k, size_t len, const char *what)
	__attribute__((noreturn));
static void die(enum kind k, size_t len, const char *what)
{
	FUZZ_FAIL("%s decoder, %zu bytes: %s", kind_name[k], len, what);
}

/* What a decoded reply or datagram header is encoded as: a request
 * carries the reply code where the command goes. */
static int encode(enum kind k, uint8_t *out, size_t len, int rep,
		  const struct sockaddr *sa)
{
	return k == REPLY ? lm_socks_request(out, len, rep, sa) :
			    lm_socks_udp_encode(out, len, sa);
}

/* Re-encodes a decoded address; it must give the bytes it came from
 * (an IPv4-mapped IPv6 address comes back as IPv4, by design). */
static void check_addr(enum kind k, const uint8_t *buf, const struct res *r)
{
	const uint8_t *a = buf + 3;	/* ATYP */
	const struct sockaddr *sa = (const struct sockaddr *)&r->ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&r->ss;
	size_t n = (size_t)r->rc;
	uint8_t out[64];
	int rc;

	switch (a[0]) {
	case 1:
		FUZZ_CHECK(n == 10 && r->ss.ss_family == AF_INET &&
			   r->sslen == sizeof(struct sockaddr_in));
		break;
	case 4:
		FUZZ_CHECK(n == 22 && r->ss.ss_family == AF_INET6 &&
			   r->sslen == sizeof(struct sockaddr_in6));
		break;
	case 3:
		FUZZ_CHECK(a[1] > 0 && n == 4u + 1 + a[1] + 2);
		FUZZ_CHECK(r->ss.ss_family == AF_UNSPEC && r->sslen == 0);
		FUZZ_CHECK(!memcmp(&((const struct sockaddr_in *)sa)->sin_port,
				   buf + n - 2, 2));
		/* a name comes back as AF_UNSPEC: not an address to send to */
		FUZZ_CHECK(encode(k, out, sizeof(out), buf[1], sa) ==
			   -EAFNOSUPPORT);
		return;
	default:
		die(k, n, "accepted an unknown address type");
	}
	rc = encode(k, out, sizeof(out), buf[1], sa);
	FUZZ_CHECK(rc > 3 && !memcmp(out, buf, 3));
	FUZZ_CHECK(encode(k, out, 2, buf[1], sa) == -ENOBUFS);
	if (a[0] == 4 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		FUZZ_CHECK(rc == 10 && out[3] == 1);
		FUZZ_CHECK(!memcmp(out + 4, a + 1 + 12, 4));
		FUZZ_CHECK(!memcmp(out + 8, a + 17, 2));
		FUZZ_CHECK(encode(k, out, 9, buf[1], sa) == -ENOBUFS);
		return;
	}
	FUZZ_CHECK(rc == (int)n && !memcmp(out + 3, a, n - 3));
	FUZZ_CHECK(encode(k, out, n - 1, buf[1], sa) == -ENOBUFS);
}

/* The whole input's result against the result for its first len bytes
 * (copied to the end of a buffer of exactly len bytes, so an over-read
 * is caught). */
static void check_prefix(enum kind k, const uint8_t *p, size_t len,
			 const struct res *full)
{
	bool stream = k != UDP;
	struct res r;

	decode(k, p, len, &r);
	if (r.rc > 0) {
		if ((size_t)r.rc > len)
			die(k, len, "used more bytes than it was given");
		/* more bytes must not change a complete message */
		if (!same(&r, full))
			die(k, len, "result changed with more bytes");
		return;
	}
	if (!stream) {
		if (r.rc != -EBADMSG)
			die(k, len, "a datagram error other than -EBADMSG");
		return;
	}
	if (r.rc == -EAGAIN) {
		if (len >= kind_max[k])
			die(k, len, "wants more than the longest message");
		return;
	}
	if (r.rc != -EPROTO)
		die(k, len, "an error other than -EAGAIN or -EPROTO");
	/* what can never be valid stays invalid */
	if (full->rc != -EPROTO)
		die(k, len, "-EPROTO on a prefix of a valid message");
}

/* -EAGAIN means more bytes decide it: padded with zeros to the longest
 * message, the input is decided one way or the other. */
static void check_padded(enum kind k, const uint8_t *data, size_t size)
{
	uint8_t buf[LM_SOCKS_MAX_REPLY];
	struct res r;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size);
	decode(k, buf, kind_max[k], &r);
	if (r.rc == -EAGAIN)
		die(k, size, "still -EAGAIN at the longest message");
}

static void check_kind(enum kind k, const uint8_t *data, size_t size,
		       uint8_t *tail)
{
	size_t last = size < PREFIX_MAX ? size : PREFIX_MAX;
	struct res full;

	decode(k, data, size, &full);
	if (size > last)
		check_prefix(k, data, size, &full);
	for (size_t len = 0; len <= last; len++) {
		memcpy(tail + size - len, data, len);
		check_prefix(k, tail + size - len, len, &full);
	}
	if (full.rc == -EAGAIN)
		check_padded(k, data, size);
	if (full.rc <= 0)
		return;
	if (k == METHOD || k == AUTH)
		FUZZ_CHECK(full.rc == 2 && full.val == data[1]);
	else
		check_addr(k, data, &full);
	if (k == REPLY) {
		const char *s = lm_socks_rep_str(full.val);

		FUZZ_CHECK(full.val == data[1] && s && *s);
	}
}

/* The greeting into a buffer of the input's length (mod 8): 3 or 4
 * bytes, or -ENOBUFS with nothing written. */
static void check_greeting(const uint8_t *data, size_t size)
{
	bool auth = size && (data[0] & 1);
	size_t len = size % 8, want = auth ? 4 : 3;
	uint8_t out[8];
	int rc;

	memset(out, 0xa5, sizeof(out));
	rc = lm_socks_greeting(out, len, auth);
	if (len < want) {
		FUZZ_CHECK(rc == -ENOBUFS && out[0] == 0xa5);
		return;
	}
	FUZZ_CHECK(rc == (int)want && out[0] == 5 && out[1] == want - 2);
	FUZZ_CHECK(out[2] == LM_SOCKS_AUTH_NONE &&
		   (!auth || out[3] == LM_SOCKS_AUTH_USERPASS));
	FUZZ_CHECK(out[want] == 0xa5);
}

/* The input as "user\0pass\0": RFC 1929 encoding, or -EINVAL. */
static void check_auth_encode(const uint8_t *data, size_t size)
{
	const char *user = (const char *)data, *pass;
	const uint8_t *nul = memchr(data, 0, size), *nul2;
	size_t ul, pl;
	uint8_t out[3 + 255 + 255];
	int rc;

	if (!nul)
		return;
	pass = (const char *)nul + 1;
	nul2 = memchr(nul + 1, 0, size - (nul + 1 - data));
	if (!nul2)
		return;
	ul = strlen(user);
	pl = strlen(pass);
	rc = lm_socks_auth_encode(out, sizeof(out), user, pass);
	if (ul < 1 || ul > 255 || pl < 1 || pl > 255) {
		FUZZ_CHECK(rc == -EINVAL);
		return;
	}
	FUZZ_CHECK(rc == (int)(3 + ul + pl));
	FUZZ_CHECK(out[0] == 1 && out[1] == ul && out[2 + ul] == pl);
	FUZZ_CHECK(!memcmp(out + 2, user, ul) &&
		   !memcmp(out + 3 + ul, pass, pl));
	FUZZ_CHECK(lm_socks_auth_encode(out, rc - 1, user, pass) == -ENOBUFS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *tail = malloc(size ? size : 1);

	if (!tail)
		abort();
	for (int k = 0; k < NKINDS; k++)
		check_kind(k, data, size, tail);
	check_greeting(data, size);
	check_auth_encode(data, size);
	free(tail);
	return 0;
}
