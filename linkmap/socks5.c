/* SPDX-License-Identifier: MIT */
/* SOCKS5 messages (RFC 1928, RFC 1929 auth): encoders and defensive
 * decoders for everything a proxy can send back. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "linkmap-int.h"

#define SOCKS_VER 5
#define AUTH_VER 1
#define ATYP_IPV4 1
#define ATYP_NAME 3
#define ATYP_IPV6 4

const char *lm_socks_rep_str(int rep)
{
	static const char *const s[] = {
		[0] = "succeeded",
		[1] = "general SOCKS server failure",
		[2] = "connection not allowed by ruleset",
		[3] = "network unreachable",
		[4] = "host unreachable",
		[5] = "connection refused",
		[6] = "TTL expired",
		[7] = "command not supported",
		[8] = "address type not supported",
	};

	if (rep >= 0 && (size_t)rep < sizeof(s) / sizeof(s[0]))
		return s[rep];
	return "unknown reply code";
}

int lm_socks_greeting(uint8_t *buf, size_t len, bool with_auth)
{
	size_t n = with_auth ? 4 : 3;

	if (len < n)
		return -ENOBUFS;
	buf[0] = SOCKS_VER;
	buf[1] = with_auth ? 2 : 1;
	buf[2] = LM_SOCKS_AUTH_NONE;
	if (with_auth)
		buf[3] = LM_SOCKS_AUTH_USERPASS;
	return (int)n;
}

int lm_socks_method_decode(const uint8_t *buf, size_t len, int *method)
{
	if (len < 2)
		return -EAGAIN;
	if (buf[0] != SOCKS_VER)
		return -EPROTO;
	*method = buf[1];
	return 2;
}

int lm_socks_auth_encode(uint8_t *buf, size_t len, const char *user,
			 const char *pass)
{
	size_t ul = strlen(user), pl = strlen(pass);

	if (ul < 1 || ul > 255 || pl < 1 || pl > 255)
		return -EINVAL;
	if (len < 3 + ul + pl)
		return -ENOBUFS;
	buf[0] = AUTH_VER;
	buf[1] = (uint8_t)ul;
	memcpy(buf + 2, user, ul);
	buf[2 + ul] = (uint8_t)pl;
	memcpy(buf + 3 + ul, pass, pl);
	return (int)(3 + ul + pl);
}

int lm_socks_auth_decode(const uint8_t *buf, size_t len, int *status)
{
	if (len < 2)
		return -EAGAIN;
	if (buf[0] != AUTH_VER)
		return -EPROTO;
	*status = buf[1];
	return 2;
}

/* ATYP, address and port of sa; returns bytes written. */
static int put_addr(uint8_t *p, size_t len, const struct sockaddr *sa)
{
	const struct sockaddr_in *s4 = (const void *)sa;
	const struct sockaddr_in6 *s6 = (const void *)sa;

	if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		if (len < 7)
			return -ENOBUFS;
		p[0] = ATYP_IPV4;
		memcpy(p + 1, &s6->sin6_addr.s6_addr[12], 4);
		memcpy(p + 5, &s6->sin6_port, 2);
		return 7;
	}
	if (sa->sa_family == AF_INET) {
		if (len < 7)
			return -ENOBUFS;
		p[0] = ATYP_IPV4;
		memcpy(p + 1, &s4->sin_addr, 4);
		memcpy(p + 5, &s4->sin_port, 2);
		return 7;
	}
	if (sa->sa_family == AF_INET6) {
		if (len < 19)
			return -ENOBUFS;
		p[0] = ATYP_IPV6;
		memcpy(p + 1, &s6->sin6_addr, 16);
		memcpy(p + 17, &s6->sin6_port, 2);
		return 19;
	}
	return -EAFNOSUPPORT;
}

/* Parses ATYP, address and port at p into sa (a name is reported as
 * AF_UNSPEC with the port kept). Returns bytes used, -EAGAIN if more are
 * needed, -EPROTO if the address type is unknown. */
static int get_addr(const uint8_t *p, size_t len, struct sockaddr_storage *ss,
		    socklen_t *sslen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	size_t need;

	if (len < 1)
		return -EAGAIN;
	memset(ss, 0, sizeof(*ss));
	switch (p[0]) {
	case ATYP_IPV4:
		need = 1 + 4 + 2;
		if (len < need)
			return -EAGAIN;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, p + 1, 4);
		memcpy(&s4->sin_port, p + 5, 2);
		*sslen = sizeof(*s4);
		return (int)need;
	case ATYP_IPV6:
		need = 1 + 16 + 2;
		if (len < need)
			return -EAGAIN;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, p + 1, 16);
		memcpy(&s6->sin6_port, p + 17, 2);
		*sslen = sizeof(*s6);
		return (int)need;
	case ATYP_NAME:
		if (len < 2)
			return -EAGAIN;
		need = 2 + (size_t)p[1] + 2;
		if (p[1] == 0)
			return -EPROTO;
		if (len < need)
			return -EAGAIN;
		ss->ss_family = AF_UNSPEC;
		memcpy(&s4->sin_port, p + need - 2, 2);
		*sslen = 0;
		return (int)need;
	default:
		return -EPROTO;
	}
}

int lm_socks_request(uint8_t *buf, size_t len, int cmd,
		     const struct sockaddr *dst)
{
	int n;

	if (len < 3)
		return -ENOBUFS;
	buf[0] = SOCKS_VER;
	buf[1] = (uint8_t)cmd;
	buf[2] = 0;
	n = put_addr(buf + 3, len - 3, dst);
	return n < 0 ? n : 3 + n;
}

int lm_socks_reply_decode(const uint8_t *buf, size_t len, int *rep,
			  struct sockaddr_storage *bnd, socklen_t *bndlen)
{
	int n;

	if (len < 4)
		return -EAGAIN;
	if (buf[0] != SOCKS_VER || buf[2] != 0)
		return -EPROTO;
	*rep = buf[1];
	n = get_addr(buf + 3, len - 3, bnd, bndlen);
	return n < 0 ? n : 3 + n;
}

int lm_socks_udp_encode(uint8_t *buf, size_t len, const struct sockaddr *dst)
{
	int n;

	if (len < 3)
		return -ENOBUFS;
	buf[0] = 0;
	buf[1] = 0;
	buf[2] = 0;	/* FRAG: braid never fragments */
	n = put_addr(buf + 3, len - 3, dst);
	return n < 0 ? n : 3 + n;
}

int lm_socks_udp_decode(const uint8_t *buf, size_t len,
			struct sockaddr_storage *src, socklen_t *srclen)
{
	int n;

	if (len < 4)
		return -EBADMSG;
	if (buf[0] != 0 || buf[1] != 0 || buf[2] != 0)
		return -EBADMSG;	/* fragments are dropped (RFC 1928 §7) */
	n = get_addr(buf + 3, len - 3, src, srclen);
	if (n < 0)
		return -EBADMSG;
	return 3 + n;
}
