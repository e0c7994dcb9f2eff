/* SPDX-License-Identifier: MIT */
/* Unit tests for cfg: loading master and slave configs into struct cfg,
 * the file:line: setting of every error, and host:port parsing. */
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"

/* base64 of the bytes 0, 1, ..., 31; and of one byte fewer and more. */
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY31_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define KEY33_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"

/* A key line and a tun group (lines 2-3) that the error tests share. */
#define HEAD_MASTER "mode = \"master\";\nkey = \"" KEY_B64 "\";\n" \
		    "tun = { address = \"10.77.0.1/24\"; };\n"
#define HEAD_SLAVE "mode = \"slave\";\nkey = \"" KEY_B64 "\";\n" \
		   "tun = { address = \"10.77.0.2/24\"; };\n"

static char dir[64];
static char conf[128];
static struct cfg c;
static char err[CFG_ERR_LEN];

/* One directory per TCase, made and removed by the runner itself so that
 * a failed test leaves nothing behind. */
static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/braid-test-cfg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/braid.conf", dir);
	memset(err, 0, sizeof(err));
}

static void teardown(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* Writes text to dir/name with the given mode; returns the path. */
static const char *write_file(const char *name, const char *text,
			      mode_t mode)
{
	static char path[192];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(const char *text)
{
	write_file("braid.conf", text, 0600);
	memset(err, 0, sizeof(err));
	return cfg_load(&c, conf, err, sizeof(err));
}

static int loadf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int loadf(const char *fmt, ...)
{
	char text[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return load(text);
}

static void load_ok(const char *text)
{
	int rc = load(text);

	ck_assert_msg(rc == 0, "cfg_load failed: %s", err);
}

/* The error must start "PATH:LINE: setting 'SETTING'" (no ":LINE" when
 * line is 0) and contain what, if given. */
static void expect_err(int rc, int line, const char *setting,
		       const char *what)
{
	char want[384];

	ck_assert_int_eq(rc, -1);
	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: setting '%s'", conf, line,
			 setting);
	else
		snprintf(want, sizeof(want), "%s: setting '%s'", conf, setting);
	ck_assert_msg(!strncmp(err, want, strlen(want)),
		      "error \"%s\" does not start with \"%s\"", err, want);
	if (what)
		ck_assert_msg(strstr(err, what), "error \"%s\" lacks \"%s\"",
			      err, what);
}

static void expect_key(const uint8_t *key)
{
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(key[i], i);
}

static void expect_zero_key(const uint8_t *key)
{
	for (int i = 0; i < 32; i++)
		ck_assert_uint_eq(key[i], 0);
}

static void expect_in4(const struct sockaddr_storage *ss, socklen_t len,
		       const char *ip, unsigned port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	struct in_addr want;

	ck_assert_int_eq(inet_pton(AF_INET, ip, &want), 1);
	ck_assert_int_eq(ss->ss_family, AF_INET);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(s4->sin_addr.s_addr, want.s_addr);
	ck_assert_uint_eq(ntohs(s4->sin_port), port);
}

static void expect_in6(const struct sockaddr_storage *ss, socklen_t len,
		       const char *ip, unsigned port)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	ck_assert_int_eq(inet_pton(AF_INET6, ip, &want), 1);
	ck_assert_int_eq(ss->ss_family, AF_INET6);
	ck_assert_uint_eq(len, sizeof(struct sockaddr_in6));
	ck_assert_mem_eq(s6->sin6_addr.s6_addr, want.s6_addr, 16);
	ck_assert_uint_eq(ntohs(s6->sin6_port), port);
}

static void expect_tun_addr(const struct tun_addr *a, int family,
			    const char *ip, unsigned prefix)
{
	uint8_t want[16];

	ck_assert_int_eq(a->family, family);
	ck_assert_int_eq(inet_pton(family, ip, want), 1);
	if (family == AF_INET)
		ck_assert_mem_eq(&a->v4, want, 4);
	else
		ck_assert_mem_eq(&a->v6, want, 16);
	ck_assert_uint_eq(a->prefix, prefix);
}

/* --- valid configs --- */

/* examples/master.conf with the key inline. */
START_TEST(master_example)
{
	load_ok("# braid master\n"
		"mode = \"master\";\n"
		"key = \"" KEY_B64 "\";\n"
		"tun = {\n"
		"  name = \"bond7\";\n"
		"  address = [ \"10.77.0.1/24\", \"fd77::1/64\" ];\n"
		"  mtu = 1420;\n"
		"};\n"
		"listen = \":5555\";\n");
	ck_assert(c.master);
	expect_key(c.key);
	ck_assert_str_eq(c.tun_name, "bond7");
	ck_assert_uint_eq(c.naddrs, 2);
	expect_tun_addr(&c.addrs[0], AF_INET, "10.77.0.1", 24);
	expect_tun_addr(&c.addrs[1], AF_INET6, "fd77::1", 64);
	ck_assert_uint_eq(c.mtu, 1420);
	/* ":5555" is every address, IPv4 and IPv6: "::". */
	expect_in6(&c.addr, c.addr_len, "::", 5555);
	ck_assert_str_eq(c.addr_str, ":5555");
	ck_assert_double_eq_tol(c.dead_time, 1.0, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 0.2, 1e-9);
	ck_assert_str_eq(c.control, "/run/braid/bond7.sock");
	ck_assert_uint_eq(c.nlinks, 0);
}
END_TEST

/* examples/slave.conf with the key inline and a numeric master. */
START_TEST(slave_example)
{
	load_ok("mode = \"slave\";\n"
		"key = \"" KEY_B64 "\";\n"
		"tun = {\n"
		"  name = \"braid0\";\n"
		"  address = [ \"10.77.0.2/24\", \"fd77::2/64\" ];\n"
		"  mtu = 1400;\n"
		"};\n"
		"master = \"192.0.2.1:5555\";\n"
		"links = (\n"
		"  { name = \"dsl\"; type = \"udp\"; interface = \"eth1\"; "
		"weight = 2; },\n"
		"  { name = \"cable\"; type = \"udp\"; bind = \"192.0.2.10\"; "
		"weight = 1; }\n"
		");\n");
	ck_assert(!c.master);
	expect_key(c.key);
	ck_assert_str_eq(c.tun_name, "braid0");
	ck_assert_uint_eq(c.naddrs, 2);
	expect_tun_addr(&c.addrs[0], AF_INET, "10.77.0.2", 24);
	expect_tun_addr(&c.addrs[1], AF_INET6, "fd77::2", 64);
	ck_assert_uint_eq(c.mtu, 1400);
	expect_in4(&c.addr, c.addr_len, "192.0.2.1", 5555);
	ck_assert_str_eq(c.addr_str, "192.0.2.1:5555");
	ck_assert_double_eq_tol(c.dead_time, 1.0, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 0.2, 1e-9);
	ck_assert_str_eq(c.control, "/run/braid/braid0.sock");

	ck_assert_uint_eq(c.nlinks, 2);
	ck_assert_str_eq(c.links[0].name, "dsl");
	ck_assert_int_eq(c.links[0].type, CFG_LINK_UDP);
	ck_assert_uint_eq(c.links[0].id, 1);
	ck_assert_uint_eq(c.links[0].weight, 2);
	ck_assert_str_eq(c.links[0].ifname, "eth1");
	ck_assert_uint_eq(c.links[0].bind_len, 0);
	ck_assert_str_eq(c.links[1].name, "cable");
	ck_assert_int_eq(c.links[1].type, CFG_LINK_UDP);
	ck_assert_uint_eq(c.links[1].id, 2);
	ck_assert_uint_eq(c.links[1].weight, 1);
	ck_assert_str_eq(c.links[1].ifname, "");
	expect_in4(&c.links[1].bind, c.links[1].bind_len, "192.0.2.10", 0);
}
END_TEST

START_TEST(tun_defaults)
{
	load_ok(HEAD_MASTER "listen = \"0.0.0.0:6000\";\n");
	ck_assert_str_eq(c.tun_name, "braid0");
	ck_assert_uint_eq(c.mtu, 1400);
	ck_assert_uint_eq(c.naddrs, 1);
	expect_tun_addr(&c.addrs[0], AF_INET, "10.77.0.1", 24);
	expect_in4(&c.addr, c.addr_len, "0.0.0.0", 6000);
}
END_TEST

START_TEST(tun_host_address)
{
	load_ok("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
		"tun = { address = [ \"fd00::5\", \"10.1.2.3\" ]; "
		"mtu = 1280; };\n"
		"listen = \"[2001:db8::1]:443\";\n");
	ck_assert_uint_eq(c.naddrs, 2);
	expect_tun_addr(&c.addrs[0], AF_INET6, "fd00::5", 128);
	expect_tun_addr(&c.addrs[1], AF_INET, "10.1.2.3", 32);
	ck_assert_uint_eq(c.mtu, 1280);
	expect_in6(&c.addr, c.addr_len, "2001:db8::1", 443);
}
END_TEST

START_TEST(link_ids_weights)
{
	load_ok(HEAD_SLAVE
		"master = \"[2001:db8::1]:5555\";\n"
		"links = (\n"
		"  { name = \"a\"; type = \"udp\"; },\n"
		"  { name = \"b\"; type = \"udp\"; id = 40; weight = 1000; },\n"
		"  { name = \"c\"; type = \"udp\"; "
		"bind = \"2001:db8::10\"; },\n"
		"  { name = \"d\"; type = \"udp\"; id = 65535; weight = 3; "
		"backup = true; }\n"
		");\n");
	ck_assert_uint_eq(c.nlinks, 4);
	ck_assert(!c.links[0].backup);
	ck_assert(c.links[3].backup);
	/* the defaults: equalized arrival, aggregate, headers compressed */
	ck_assert_int_eq(c.sched, MUX_SCHED_EQUALIZED);
	ck_assert(!c.redundant);
	ck_assert(c.compress);
	ck_assert_uint_eq(c.links[0].id, 1);
	ck_assert_uint_eq(c.links[0].weight, 1);
	ck_assert_str_eq(c.links[0].ifname, "");
	ck_assert_uint_eq(c.links[0].bind_len, 0);
	ck_assert_uint_eq(c.links[1].id, 40);
	ck_assert_uint_eq(c.links[1].weight, 1000);
	/* Position, not "one more than the last id". */
	ck_assert_uint_eq(c.links[2].id, 3);
	expect_in6(&c.links[2].bind, c.links[2].bind_len, "2001:db8::10", 0);
	ck_assert_uint_eq(c.links[3].id, 65535);
	ck_assert_uint_eq(c.links[3].weight, 3);
	ck_assert_str_eq(c.links[3].name, "d");
}
END_TEST

START_TEST(timing_defaults)
{
	/* keepalive defaults to 0.2 but never more than dead_time / 4. */
	ck_assert_int_eq(loadf(HEAD_MASTER "listen = \":1\";\n"
			       "dead_time = 0.4;\n"), 0);
	ck_assert_double_eq_tol(c.dead_time, 0.4, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 0.1, 1e-9);

	ck_assert_int_eq(loadf(HEAD_MASTER "listen = \":1\";\n"
			       "dead_time = 3;\n"), 0);
	ck_assert_double_eq_tol(c.dead_time, 3.0, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 0.2, 1e-9);

	ck_assert_int_eq(loadf(HEAD_MASTER "listen = \":1\";\n"
			       "dead_time = 2.0;\nkeepalive = 1.0;\n"), 0);
	ck_assert_double_eq_tol(c.dead_time, 2.0, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 1.0, 1e-9);

	ck_assert_int_eq(loadf(HEAD_MASTER "listen = \":1\";\n"
			       "keepalive = 0.05;\n"), 0);
	ck_assert_double_eq_tol(c.dead_time, 1.0, 1e-9);
	ck_assert_double_eq_tol(c.keepalive, 0.05, 1e-9);
}
END_TEST

START_TEST(control_set)
{
	load_ok(HEAD_MASTER "listen = \":1\";\ncontrol = \"/tmp/b.sock\";\n");
	ck_assert_str_eq(c.control, "/tmp/b.sock");
}
END_TEST

START_TEST(key_file_ok)
{
	/* As written by `braid genkey > key`, newline included. */
	const char *kf = write_file("key", KEY_B64 "\n", 0600);

	ck_assert_int_eq(loadf("mode = \"master\";\nkey_file = \"%s\";\n"
			       "tun = { address = \"10.0.0.1/24\"; };\n"
			       "listen = \":5555\";\n", kf), 0);
	expect_key(c.key);
	ck_assert(c.master);
}
END_TEST

/* --- errors: file, line and setting --- */

START_TEST(err_no_file)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/absent.conf", dir);
	ck_assert_int_eq(cfg_load(&c, path, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, path), "%s", err);
	ck_assert_msg(strstr(err, "cannot read"), "%s", err);
}
END_TEST

START_TEST(err_syntax)
{
	char want[256];

	ck_assert_int_eq(load(HEAD_MASTER "listen = \":1\";\n"
			      "dead_time = = 2;\n"), -1);
	snprintf(want, sizeof(want), "%s:5: syntax error", conf);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "%s", err);
}
END_TEST

START_TEST(err_unknown)
{
	expect_err(load(HEAD_MASTER "listen = \":1\";\nkeepalvie = 0.1;\n"),
		   5, "keepalvie", "unknown setting");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  mut = 1400;\n};\nlisten = \":1\";\n"),
		   5, "tun.mut", "unknown setting");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; },\n"
			"  { name = \"b\"; type = \"udp\"; wieght = 2; }\n"
			");\n"),
		   7, "links[1].wieght", "unknown setting");
}
END_TEST

START_TEST(err_mtu_range)
{
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  mtu = 575;\n};\nlisten = \":1\";\n"),
		   5, "tun.mtu", "576");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  mtu = 9001;\n};\nlisten = \":1\";\n"),
		   5, "tun.mtu", "9000");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  mtu = \"1400\";\n};\nlisten = \":1\";\n"),
		   5, "tun.mtu", "number");
	/* The limits themselves are fine. */
	load_ok("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
		"tun = { address = \"10.0.0.1/24\"; mtu = 576; };\n"
		"listen = \":1\";\n");
	ck_assert_uint_eq(c.mtu, 576);
	load_ok("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
		"tun = { address = \"10.0.0.1/24\"; mtu = 9000; };\n"
		"listen = \":1\";\n");
	ck_assert_uint_eq(c.mtu, 9000);
}
END_TEST

START_TEST(err_mtu_ipv6)
{
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n"
			"  address = [ \"10.0.0.1/24\", \"fd00::1/64\" ];\n"
			"  mtu = 1279;\n};\nlisten = \":1\";\n"),
		   5, "tun.mtu", "1280");
	/* The same mtu without IPv6 is fine. */
	load_ok("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
		"tun = { address = \"10.0.0.1/24\"; mtu = 1279; };\n"
		"listen = \":1\";\n");
}
END_TEST

START_TEST(err_bad_address)
{
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n"
			"  address = [ \"10.0.0.1/24\", \"10.0.0.2/33\" ];\n"
			"};\nlisten = \":1\";\n"),
		   4, "tun.address[1]", "10.0.0.2/33");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"bogus\";\n};\n"
			"listen = \":1\";\n"),
		   4, "tun.address", "bogus");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = [ ];\n};\nlisten = \":1\";\n"),
		   4, "tun.address", "at least one");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  name = \"braid0\";\n};\n"
			"listen = \":1\";\n"),
		   3, "tun.address", "missing");
}
END_TEST

START_TEST(err_tun)
{
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  name = \"abcdefghijklmnop\";\n};\n"
			"listen = \":1\";\n"),
		   5, "tun.name", "1-15 characters");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = \"10.0.0.1/24\";\n"
			"  name = \"a/b\";\n};\nlisten = \":1\";\n"),
		   5, "tun.name", "'/'");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"tun = {\n  address = [ \"10.0.0.1\", \"10.0.0.2\", "
			"\"10.0.0.3\", \"10.0.0.4\", \"10.0.0.5\", "
			"\"10.0.0.6\", "
			"\"10.0.0.7\", \"10.0.0.8\", \"10.0.0.9\" ];\n};\n"
			"listen = \":1\";\n"),
		   4, "tun.address", "at most 8");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"listen = \":1\";\n"), 0, "tun", "missing");
	expect_err(load("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			"listen = \":1\";\ntun = \"braid0\";\n"), 4, "tun",
		   "group");
}
END_TEST

START_TEST(err_key_missing)
{
	expect_err(load("mode = \"master\";\n"
			"tun = { address = \"10.0.0.1/24\"; };\n"
			"listen = \":1\";\n"),
		   0, "key", "genkey");
}
END_TEST

START_TEST(err_key_both)
{
	const char *kf = write_file("key", KEY_B64 "\n", 0600);

	expect_err(loadf("mode = \"master\";\nkey = \"" KEY_B64 "\";\n"
			 "key_file = \"%s\";\n"
			 "tun = { address = \"10.0.0.1/24\"; };\n"
			 "listen = \":1\";\n", kf),
		   3, "key_file", "not both");
	expect_zero_key(c.key);
}
END_TEST

START_TEST(err_key_bad)
{
	static const char *const bad[] = { "not base64 at all!", KEY31_B64,
					   KEY33_B64, "" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_err(loadf("mode = \"master\";\n\nkey = \"%s\";\n"
				 "tun = { address = \"10.0.0.1/24\"; };\n"
				 "listen = \":1\";\n", bad[i]),
			   3, "key", "32 bytes");
		expect_zero_key(c.key);
	}
	expect_err(load("mode = \"master\";\nkey = 12;\n"
			"tun = { address = \"10.0.0.1/24\"; };\n"
			"listen = \":1\";\n"),
		   2, "key", "string");
}
END_TEST

START_TEST(err_key_file_mode)
{
	const char *kf = write_file("key", KEY_B64 "\n", 0640);

	expect_err(loadf("mode = \"master\";\nkey_file = \"%s\";\n"
			 "tun = { address = \"10.0.0.1/24\"; };\n"
			 "listen = \":1\";\n", kf),
		   2, "key_file", "chmod 600");
	ck_assert_msg(strstr(err, kf), "%s", err);
	expect_zero_key(c.key);
	kf = write_file("key", KEY_B64 "\n", 0604);
	expect_err(loadf("mode = \"master\";\nkey_file = \"%s\";\n"
			 "tun = { address = \"10.0.0.1/24\"; };\n"
			 "listen = \":1\";\n", kf),
		   2, "key_file", "chmod 600");
}
END_TEST

START_TEST(err_key_file_missing)
{
	char kf[256];

	snprintf(kf, sizeof(kf), "%s/no-such-key", dir);
	expect_err(loadf("mode = \"master\";\nkey_file = \"%s\";\n"
			 "tun = { address = \"10.0.0.1/24\"; };\n"
			 "listen = \":1\";\n", kf),
		   2, "key_file", "cannot open");
	ck_assert_msg(strstr(err, kf), "%s", err);
}
END_TEST

START_TEST(err_key_file_content)
{
	const char *kf = write_file("key", KEY31_B64 "\n", 0600);

	expect_err(loadf("mode = \"master\";\nkey_file = \"%s\";\n"
			 "tun = { address = \"10.0.0.1/24\"; };\n"
			 "listen = \":1\";\n", kf),
		   2, "key_file", "32 bytes");
}
END_TEST

START_TEST(err_key_zeroed)
{
	/* A config that fails after the key was read leaves no key behind. */
	expect_err(load(HEAD_MASTER "listen = \":0\";\n"), 4, "listen", NULL);
	expect_zero_key(c.key);
	/* nor does one that cannot be read, after one that loaded */
	load_ok(HEAD_MASTER "listen = \":1\";\n");
	ck_assert_int_eq(cfg_load(&c, "/nonexistent/braid.conf", err,
				  sizeof(err)), -1);
	expect_zero_key(c.key);
}
END_TEST

START_TEST(err_master_links)
{
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"links = ( { name = \"a\"; type = \"udp\"; } );\n"),
		   5, "links", "only a slave");
	expect_err(load(HEAD_MASTER "master = \"192.0.2.1:1\";\n"), 4,
		   "master", "listen");
	expect_err(load(HEAD_SLAVE "listen = \":1\";\n"), 4, "listen",
		   "master");
}
END_TEST

START_TEST(err_slave_links)
{
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\n"), 0, "links",
		   NULL);
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\n"
			"links = ( );\n"), 5, "links", "at least one");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\n"
			"links = \"dsl\";\n"), 5, "links", NULL);
}
END_TEST

START_TEST(err_link_dup_name)
{
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"dsl\"; type = \"udp\"; },\n"
			"  { name = \"lte\"; type = \"udp\"; },\n"
			"  { name = \"dsl\"; type = \"udp\"; }\n"
			");\n"),
		   8, "links[2]", "'dsl' used twice");
}
END_TEST

START_TEST(err_link_dup_id)
{
	/* An explicit id that a later link gets by position. */
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; id = 2; },\n"
			"  { name = \"b\"; type = \"udp\"; }\n"
			");\n"),
		   7, "links[1]", "id 2 used twice");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; id = 9; },\n"
			"  { name = \"b\"; type = \"udp\"; id = 8; },\n"
			"  { name = \"c\"; type = \"udp\"; id = 9; }\n"
			");\n"),
		   8, "links[2]", "id 9 used twice");
}
END_TEST

START_TEST(err_link_fields)
{
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; },\n"
			"  { name = \"b\"; type = \"socks4\"; }\n"
			");\n"),
		   7, "links[1].type", "socks5-tcp");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; },\n"
			"  { name = \"b\"; type = \"udp\"; weight = 0; }\n"
			");\n"),
		   7, "links[1].weight", "between 1 and 1000");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; },\n"
			"  { name = \"b\"; type = \"udp\"; weight = 1001; }\n"
			");\n"),
		   7, "links[1].weight", "between 1 and 1000");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; id = 0; }\n"
			");\n"),
		   6, "links[0].id", "between 1 and 65535");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; id = 65536; }\n"
			");\n"),
		   6, "links[0].id", "between 1 and 65535");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; weight = 1.5; }\n"
			");\n"),
		   6, "links[0]", "whole numbers");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { type = \"udp\"; }\n"
			");\n"),
		   6, "links[0].name", NULL);
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"abcdefghijklmnopqrstuvwxyz789012\"; "
			"type = \"udp\"; }\n"
			");\n"),
		   6, "links[0].name", "1-31 characters");
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; "
			"interface = \"abcdefghijklmnop\"; }\n"
			");\n"),
		   6, "links[0].interface", NULL);
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:1\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; bind = \"eth0\"; }\n"
			");\n"),
		   6, "links[0].bind", "eth0");
}
END_TEST

START_TEST(err_bind_family)
{
	expect_err(load(HEAD_SLAVE "master = \"192.0.2.1:5555\";\nlinks = (\n"
			"  { name = \"a\"; type = \"udp\"; "
			"bind = \"192.0.2.9\"; },\n"
			"  { name = \"b\"; type = \"udp\"; "
			"bind = \"2001:db8::9\"; }\n"
			");\n"),
		   7, "links[1].bind", "192.0.2.1:5555");
	expect_err(load(HEAD_SLAVE "master = \"[2001:db8::1]:5555\";\n"
			"links = (\n"
			"  { name = \"a\"; type = \"udp\"; "
			"bind = \"192.0.2.9\"; }\n"
			");\n"),
		   6, "links[0].bind", "family");
}
END_TEST

START_TEST(err_hostport)
{
	static const char *const bad[] = { "192.0.2.1", "192.0.2.1:0",
					   "192.0.2.1:70000", "[::1]5555",
					   "2001:db8::1:5555", "192.0.2.1:",
					   "192.0.2.1:55x", "[::1" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		expect_err(loadf(HEAD_SLAVE "master = \"%s\";\n"
				 "links = ( { name = \"a\"; "
				 "type = \"udp\"; } );\n",
				 bad[i]),
			   4, "master", bad[i]);
		expect_err(loadf(HEAD_MASTER "\nlisten = \"%s\";\n", bad[i]),
			   5, "listen", bad[i]);
	}
	expect_err(load(HEAD_MASTER "\n"), 0, "listen", NULL);
	expect_err(load(HEAD_SLAVE
			"links = ( { name = \"a\"; type = \"udp\"; } );\n"),
		   0, "master", NULL);
}
END_TEST

START_TEST(err_keepalive)
{
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"dead_time = 1.0;\nkeepalive = 0.6;\n"),
		   6, "keepalive", "half of dead_time");
	/* Against the default dead_time too. */
	expect_err(load(HEAD_MASTER "listen = \":1\";\nkeepalive = 0.51;\n"),
		   5, "keepalive", "half of dead_time");
	expect_err(load(HEAD_MASTER "listen = \":1\";\ndead_time = 61;\n"),
		   5, "dead_time", "between 0.1 and 60");
	expect_err(load(HEAD_MASTER "listen = \":1\";\ndead_time = 0.05;\n"),
		   5, "dead_time", "between 0.1 and 60");
}
END_TEST

START_TEST(bonding_and_scheduler)
{
	load_ok(HEAD_MASTER "listen = \":1\";\nbonding = \"redundant\";\n"
		"scheduler = \"roundrobin\";\n");
	ck_assert(c.redundant);
	ck_assert_int_eq(c.sched, MUX_SCHED_ROUNDROBIN);
	load_ok(HEAD_MASTER "listen = \":1\";\nscheduler = \"equalized\";\n");
	ck_assert_int_eq(c.sched, MUX_SCHED_EQUALIZED);
	load_ok(HEAD_MASTER "listen = \":1\";\nscheduler = \"earliest\";\n");
	ck_assert_int_eq(c.sched, MUX_SCHED_EARLIEST);
	ck_assert(!c.redundant);
	load_ok(HEAD_MASTER "listen = \":1\";\nheader_compression = false;\n");
	ck_assert(!c.compress);
	ck_assert(c.measure);	/* the default */
	load_ok(HEAD_MASTER "listen = \":1\";\nmeasure_links = false;\n");
	ck_assert(!c.measure);
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"measure_links = \"no\";\n"),
		   5, "measure_links", "true or false");
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"header_compression = 1;\n"),
		   5, "header_compression", "true or false");
	load_ok(HEAD_MASTER "listen = \":1\";\n"
		"redundant_ports = [ 53, 3478, 65535 ];\n");
	ck_assert(!c.redundant);
	ck_assert_uint_eq(c.n_redundant_ports, 3);
	ck_assert_uint_eq(c.redundant_ports[1], 3478);
	ck_assert_uint_eq(c.redundant_ports[2], 65535);
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"redundant_ports = [ 53, 70000 ];\n"),
		   5, "redundant_ports", "1..65535");
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"redundant_ports = 53;\n"),
		   5, "redundant_ports", "list of port numbers");
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"bonding = \"double\";\n"),
		   5, "bonding", "\"aggregate\" or \"redundant\"");
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"scheduler = \"fastest\";\n"),
		   5, "scheduler",
		   "\"earliest\", \"equalized\" or \"roundrobin\"");
	expect_err(load(HEAD_SLAVE "master = \"1.2.3.4:5\";\n"
			"links = ( { name = \"a\"; type = \"udp\"; "
			"backup = 1; } );\n"),
		   5, "links[0].backup", "true or false");
}
END_TEST

START_TEST(routing_hooks_metrics)
{
	load_ok(HEAD_SLAVE "master = \"1.2.3.4:5\";\n"
		"route_default = true;\n"
		"routes = [ \"198.51.100.0/24\", \"2001:db8::/32\" ];\n"
		"fwmark = 0x77; route_table = 1000;\n"
		"on_up = \"echo up\"; on_down = \"echo down\";\n"
		"metrics = \"127.0.0.1:9477\";\n"
		"links = ( { name = \"a\"; type = \"udp\"; rate = \"20mbit\"; },"
		" { name = \"b\"; type = \"udp\"; rate = 512000; } );\n");
	ck_assert(c.route_default);
	ck_assert_uint_eq(c.nroutes, 2);
	ck_assert_int_eq(c.routes[1].family, AF_INET6);
	ck_assert_uint_eq(c.routes[0].prefix, 24);
	ck_assert_uint_eq(c.fwmark, 0x77);
	ck_assert_uint_eq(c.route_table, 1000);
	ck_assert_str_eq(c.on_up, "echo up");
	ck_assert_str_eq(c.on_down, "echo down");
	ck_assert_uint_gt(c.metrics_len, 0);
	ck_assert_double_eq_tol(c.links[0].rate, 20e6 / 8, 1e-6);
	ck_assert_double_eq_tol(c.links[1].rate, 512e3 / 8, 1e-6);
	/* defaults */
	load_ok(HEAD_MASTER "listen = \":1\";\n");
	ck_assert(!c.route_default);
	ck_assert_uint_eq(c.fwmark, 0x6272);
	ck_assert_uint_eq(c.route_table, 25202);
	ck_assert_uint_eq(c.metrics_len, 0);
	ck_assert_str_eq(c.on_up, "");
	expect_err(load(HEAD_MASTER "listen = \":1\";\nroute_default = true;\n"),
		   5, "route_default", "only a slave");
	expect_err(load(HEAD_MASTER "listen = \":1\";\n"
			"routes = [ \"10.1.2.3/8\" ];\n"),
		   5, "routes[0]", "host bits");
	expect_err(load(HEAD_MASTER "listen = \":1\";\nroute_table = 254;\n"),
		   5, "route_table", "main");
	expect_err(load(HEAD_MASTER "listen = \":1\";\nmetrics = \"x\";\n"),
		   5, "metrics", "127.0.0.1:9477");
	expect_err(load(HEAD_SLAVE "master = \"1.2.3.4:5\";\n"
			"links = ( { name = \"a\"; type = \"udp\"; "
			"rate = \"fast\"; } );\n"),
		   5, "links[0].rate", "20mbit");
}
END_TEST

START_TEST(links_from_requests)
{
	struct json_object *o = json_tokener_parse(
		"{\"name\": \"c\", \"type\": \"socks5\", "
		"\"proxy\": \"192.0.2.9:1080\", \"weight\": 3, "
		"\"backup\": true, \"rate\": \"8mbit\"}");
	struct json_object *bad = json_tokener_parse(
		"{\"name\": \"a\", \"type\": \"udp\"}");
	struct json_object *set = json_tokener_parse(
		"{\"weight\": 7, \"rate\": 0}");
	struct json_object *badset = json_tokener_parse("{\"proxy\": \"x\"}");
	struct cfg_link l, before;

	load_ok(HEAD_SLAVE "master = \"1.2.3.4:5\";\n"
		"links = ( { name = \"a\"; type = \"udp\"; },"
		" { name = \"b\"; type = \"udp\"; id = 3; } );\n");
	ck_assert_int_eq(cfg_link_from_json(&c, o, &l, err, sizeof(err)), 0);
	ck_assert_str_eq(l.name, "c");
	ck_assert_int_eq(l.type, CFG_LINK_SOCKS5);
	ck_assert_uint_eq(l.weight, 3);
	ck_assert(l.backup);
	ck_assert_uint_eq(l.id, 4);	/* 3 is taken */
	ck_assert_double_eq_tol(l.rate, 1e6, 1e-6);
	ck_assert_int_eq(cfg_link_from_json(&c, bad, &l, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "'a' used twice"), "%s", err);
	before = c.links[0];
	ck_assert_int_eq(cfg_link_set_json(&c.links[0], set, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(c.links[0].weight, 7);
	ck_assert_double_eq(c.links[0].rate, 0);
	ck_assert(cfg_link_same_transport(&before, &c.links[0]));
	ck_assert_int_eq(cfg_link_set_json(&c.links[0], badset, err,
					   sizeof(err)), -1);
	ck_assert_msg(strstr(err, "unknown setting"), "%s", err);
	ck_assert_uint_eq(c.links[0].weight, 7);	/* unchanged */
	json_object_put(o);
	json_object_put(bad);
	json_object_put(set);
	json_object_put(badset);
}
END_TEST

START_TEST(err_mode_missing)
{
	expect_err(load("key = \"" KEY_B64 "\";\n"
			"tun = { address = \"10.0.0.1/24\"; };\n"
			"listen = \":1\";\n"),
		   0, "mode", "\"master\" or \"slave\"");
}
END_TEST

START_TEST(err_mode_invalid)
{
	/* The setting is there, on line 2: the error must say so. */
	expect_err(load("# braid\nmode = \"server\";\nkey = \"" KEY_B64 "\";\n"
			"tun = { address = \"10.0.0.1/24\"; };\n"
			"listen = \":1\";\n"),
		   2, "mode", "\"master\" or \"slave\"");
}
END_TEST

START_TEST(err_mode_type)
{
	expect_err(load("mode = 1;\nkey = \"" KEY_B64 "\";\n"
			"tun = { address = \"10.0.0.1/24\"; };\n"
			"listen = \":1\";\n"),
		   1, "mode", "string");
}
END_TEST

/* --- cfg_addr_hostport and cfg_addr_ip --- */

START_TEST(hostport_ok)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(cfg_addr_hostport("192.0.2.1:5555", &ss, &len, err,
					   sizeof(err)), 0);
	expect_in4(&ss, len, "192.0.2.1", 5555);
	ck_assert_int_eq(cfg_addr_hostport("[2001:db8::1]:443", &ss, &len, err,
					   sizeof(err)), 0);
	expect_in6(&ss, len, "2001:db8::1", 443);
	ck_assert_int_eq(cfg_addr_hostport(":65535", &ss, &len, err,
					   sizeof(err)), 0);
	expect_in6(&ss, len, "::", 65535);
	ck_assert_int_eq(cfg_addr_hostport("0.0.0.0:1", &ss, &len, err,
					   sizeof(err)), 0);
	expect_in4(&ss, len, "0.0.0.0", 1);
}
END_TEST

START_TEST(hostport_resolves)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_msg(cfg_addr_hostport("localhost:53", &ss, &len, err,
					sizeof(err)) == 0, "%s", err);
	if (ss.ss_family == AF_INET) {
		expect_in4(&ss, len, "127.0.0.1", 53);
	} else {
		expect_in6(&ss, len, "::1", 53);
	}
}
END_TEST

START_TEST(hostport_bad)
{
	static const char *const bad[] = { "192.0.2.1", "192.0.2.1:0",
					   ":70000", "[::1]5555", "::1:53",
					   "[::1", "host:", ":", "",
					   "192.0.2.1:53x", "[::1]:" };
	struct sockaddr_storage ss;
	socklen_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(cfg_addr_hostport(bad[i], &ss, &len, err,
						sizeof(err)) == -1,
			      "'%s' was accepted", bad[i]);
		ck_assert_msg(strstr(err, "port"), "'%s': %s", bad[i], err);
	}
	ck_assert_int_eq(cfg_addr_hostport("no-such-host.invalid:80", &ss,
					   &len, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "cannot resolve 'no-such-host.invalid'"),
		      "%s", err);
}
END_TEST

START_TEST(addr_ip)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(cfg_addr_ip("192.0.2.10", &ss, &len), 0);
	expect_in4(&ss, len, "192.0.2.10", 0);
	ck_assert_int_eq(cfg_addr_ip("2001:db8::10", &ss, &len), 0);
	expect_in6(&ss, len, "2001:db8::10", 0);
	ck_assert_int_eq(cfg_addr_ip("192.0.2.10:80", &ss, &len), -1);
	ck_assert_int_eq(cfg_addr_ip("[2001:db8::10]", &ss, &len), -1);
	ck_assert_int_eq(cfg_addr_ip("localhost", &ss, &len), -1);
	ck_assert_int_eq(cfg_addr_ip("", &ss, &len), -1);
}
END_TEST

/* SOCKS5 links: proxy address, optional RFC 1929 credentials, fallback. */
START_TEST(socks_links)
{
	const struct cfg_link *l;

	load_ok(HEAD_SLAVE "master = \"192.0.2.1:5555\";\nlinks = (\n"
		"  { name = \"p1\"; type = \"socks5\"; proxy = \"198.18.21.1:1080\"; },\n"
		"  { name = \"p2\"; type = \"socks5\"; proxy = \"[fd00::1]:1080\";\n"
		"    username = \"u\"; password = \"secret\"; fallback = false; },\n"
		"  { name = \"p3\"; type = \"socks5-tcp\"; proxy = \"198.18.22.1:1080\";\n"
		"    interface = \"wlan0\"; bind = \"198.18.22.2\"; }\n"
		");\n");
	ck_assert_int_eq(c.nlinks, 3);
	l = &c.links[0];
	ck_assert_int_eq(l->type, CFG_LINK_SOCKS5);
	expect_in4(&l->proxy, l->proxy_len, "198.18.21.1", 1080);
	ck_assert_str_eq(l->username, "");
	ck_assert(l->fallback);
	l = &c.links[1];
	ck_assert_int_eq(l->proxy.ss_family, AF_INET6);
	ck_assert_str_eq(l->username, "u");
	ck_assert_str_eq(l->password, "secret");
	ck_assert(!l->fallback);
	l = &c.links[2];
	ck_assert_int_eq(l->type, CFG_LINK_SOCKS5_TCP);
	ck_assert_str_eq(l->ifname, "wlan0");
	ck_assert_int_eq(l->bind.ss_family, AF_INET);
}
END_TEST

START_TEST(socks_errors)
{
#define SOCKS_HEAD HEAD_SLAVE "master = \"192.0.2.1:5555\";\nlinks = (\n"
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; }\n);\n"),
		   6, "links[0].proxy", "missing");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; proxy = \"nope\"; }\n);\n"),
		   6, "links[0].proxy", "host:port");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; proxy = \"1.2.3.4:1\";\n"
			"    username = \"u\"; }\n);\n"),
		   7, "links[0].username", "both");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; proxy = \"1.2.3.4:1\";\n"
			"    username = \"\"; password = \"x\"; }\n);\n"),
		   7, "links[0].username", "1-255");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5-tcp\"; proxy = \"1.2.3.4:1\";\n"
			"    fallback = true; }\n);\n"),
		   7, "links[0].fallback", "socks5");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; proxy = \"1.2.3.4:1\";\n"
			"    fallback = 1; }\n);\n"),
		   7, "links[0].fallback", "true or false");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"udp\"; proxy = \"1.2.3.4:1\"; }\n);\n"),
		   6, "links[0].proxy", "only for socks5");
	expect_err(load(SOCKS_HEAD "  { name = \"p\"; type = \"socks5\"; proxy = \"[fd00::1]:1\";\n"
			"    bind = \"198.18.1.2\"; }\n);\n"),
		   7, "links[0].bind", "proxy");
#undef SOCKS_HEAD
}
END_TEST

/* The error starts with the file's path and contains what. */
static void expect_err_text(int rc, const char *what)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(!strncmp(err, conf, strlen(conf)),
		      "error \"%s\" does not start with the path", err);
	ck_assert_msg(strstr(err, what), "error \"%s\" lacks \"%s\"", err,
		      what);
}

/* One file: @include is refused with its line, never followed (libconfig
 * 1.5 exits the process on an included directory). */
START_TEST(err_include)
{
	expect_err_text(load("mode = \"master\";\n  @include \"/tmp\"\n"),
			":2: @include is not supported");
	expect_err_text(load("@include \"/etc/passwd\"\n"),
			":1: @include is not supported");
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc;

	tc = tcase_create("valid");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, master_example);
	tcase_add_test(tc, slave_example);
	tcase_add_test(tc, tun_defaults);
	tcase_add_test(tc, tun_host_address);
	tcase_add_test(tc, link_ids_weights);
	tcase_add_test(tc, timing_defaults);
	tcase_add_test(tc, control_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, err_no_file);
	tcase_add_test(tc, err_syntax);
	tcase_add_test(tc, err_unknown);
	tcase_add_test(tc, err_mtu_range);
	tcase_add_test(tc, err_mtu_ipv6);
	tcase_add_test(tc, err_bad_address);
	tcase_add_test(tc, err_tun);
	tcase_add_test(tc, err_master_links);
	tcase_add_test(tc, err_slave_links);
	tcase_add_test(tc, err_link_dup_name);
	tcase_add_test(tc, err_link_dup_id);
	tcase_add_test(tc, err_link_fields);
	tcase_add_test(tc, socks_links);
	tcase_add_test(tc, socks_errors);
	tcase_add_test(tc, err_include);
	tcase_add_test(tc, err_bind_family);
	tcase_add_test(tc, err_hostport);
	tcase_add_test(tc, err_keepalive);
	tcase_add_test(tc, err_mode_missing);
	tcase_add_test(tc, err_mode_invalid);
	tcase_add_test(tc, err_mode_type);
	tcase_add_test(tc, bonding_and_scheduler);
	tcase_add_test(tc, routing_hooks_metrics);
	tcase_add_test(tc, links_from_requests);
	suite_add_tcase(s, tc);

	tc = tcase_create("key");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, err_key_missing);
	tcase_add_test(tc, err_key_both);
	tcase_add_test(tc, err_key_bad);
	tcase_add_test(tc, err_key_file_mode);
	tcase_add_test(tc, err_key_file_missing);
	tcase_add_test(tc, err_key_file_content);
	tcase_add_test(tc, err_key_zeroed);
	tcase_add_test(tc, key_file_ok);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostport");
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, hostport_ok);
	tcase_add_test(tc, hostport_resolves);
	tcase_add_test(tc, hostport_bad);
	tcase_add_test(tc, addr_ip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cfg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
