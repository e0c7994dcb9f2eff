/* SPDX-License-Identifier: MIT */
/* libFuzzer target: cfg_load on the input as a config file. */
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <sys/socket.h>

#include "cfg.h"
#include "fuzz.h"

/* The input's file, made once per process in $TMPDIR (or /tmp). A crash
 * leaves it behind: run.sh points TMPDIR into its scratch directory. */
static char path[256];
static int fd = -1;

/* libconfig 1.5 (Debian 12) leaks a string token its parser throws away
 * on a syntax error: a file that is just "x" or 'm ""' (upstream issue
 * #142, fixed in 1.7). Such strings are made only by its scanner; what
 * cfg.c could leak (settings, its own buffers) is still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
	return "print_suppressions=0";
}

static void remove_file(void)
{
	unlink(path);
}

/* key_file = "/proc/self/fd/100" (in a seed and the dictionary) reaches
 * a real key file, mode 0600 and already unlinked, so a key file that
 * loads is fuzzed too. */
#define KEY_FD 100
#define KEY_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"

static void make_key_file(const char *tmp)
{
	char kpath[256];
	int kfd;

	snprintf(kpath, sizeof(kpath), "%s/braid-fuzz-key-XXXXXX", tmp);
	kfd = mkstemp(kpath);
	if (kfd < 0 || write(kfd, KEY_B64, strlen(KEY_B64)) < 0 ||
	    dup2(kfd, KEY_FD) < 0) {
		perror("fuzz_cfg: key file");
		exit(1);
	}
	unlink(kpath);
	close(kfd);
}

/* Host names in fuzzed configs must not reach the network (nor a
 * resolver's timeouts): in a network namespace of our own only
 * /etc/hosts answers. Without the privilege for one, the resolver is
 * told to give up fast. */
static void isolate_resolver(void)
{
	setenv("RES_OPTIONS", "timeout:1 attempts:1", 1);
	if (unshare(CLONE_NEWNET) < 0)
		fprintf(stderr, "fuzz_cfg: no network namespace (%s); host "
			"names in inputs go to the resolver\n",
			strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	(void)argc;
	(void)argv;
	isolate_resolver();
	if (!tmp || !*tmp)
		tmp = "/tmp";
	n = snprintf(path, sizeof(path), "%s/braid-fuzz-cfg-XXXXXX", tmp);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fprintf(stderr, "fuzz_cfg: TMPDIR too long\n");
		exit(1);
	}
	fd = mkstemp(path);
	if (fd < 0) {
		perror("fuzz_cfg: mkstemp");
		exit(1);
	}
	atexit(remove_file);
	make_key_file(tmp);
	return 0;
}

static void write_input(const uint8_t *data, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off < size) {
		n = pwrite(fd, data + off, size - off, off);
		if (n <= 0)
			abort();
		off += n;
	}
	if (ftruncate(fd, size) < 0)
		abort();
}

static bool zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, 0, size) != NULL;
}

/* What a loaded config promises the daemon. */
static void check_loaded(const struct cfg *c)
{
	FUZZ_CHECK(terminated(c->tun_name, sizeof(c->tun_name)) &&
		   c->tun_name[0]);
	FUZZ_CHECK(c->naddrs >= 1 && c->naddrs <= TUN_MAX_ADDRS);
	FUZZ_CHECK(c->mtu >= 576 && c->mtu <= 9000);
	FUZZ_CHECK(c->addr_len > 0 && c->addr_len <= sizeof(c->addr));
	FUZZ_CHECK(c->addr.ss_family == AF_INET ||
		   c->addr.ss_family == AF_INET6);
	FUZZ_CHECK(terminated(c->addr_str, sizeof(c->addr_str)));
	FUZZ_CHECK(terminated(c->control, sizeof(c->control)) &&
		   c->control[0]);
	FUZZ_CHECK(terminated(c->user, sizeof(c->user)) && c->user[0]);
	FUZZ_CHECK(c->rekey >= 1 && c->rekey <= 120);
	FUZZ_CHECK(c->dead_time >= 0.1 && c->dead_time <= 60);
	FUZZ_CHECK(c->keepalive > 0 && c->keepalive * 2 <= c->dead_time);
	FUZZ_CHECK(c->master ? c->nlinks == 0 :
		   c->nlinks >= 1 && c->nlinks <= CFG_MAX_LINKS);
	for (size_t i = 0; i < c->nlinks; i++) {
		const struct cfg_link *l = &c->links[i];

		FUZZ_CHECK(terminated(l->name, sizeof(l->name)) && l->name[0]);
		FUZZ_CHECK(terminated(l->ifname, sizeof(l->ifname)));
		FUZZ_CHECK(terminated(l->username, sizeof(l->username)));
		FUZZ_CHECK(terminated(l->password, sizeof(l->password)));
		FUZZ_CHECK(l->id >= 1 && l->weight >= 1 && l->weight <= 1000);
		FUZZ_CHECK(l->type == CFG_LINK_UDP || l->proxy_len > 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(c->links[j].id != l->id &&
				   strcmp(c->links[j].name, l->name));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg c;
	char err[CFG_ERR_LEN];
	size_t plen = strlen(path);
	int rc;

	write_input(data, size);
	memset(err, 0xa5, sizeof(err));
	rc = cfg_load(&c, path, err, sizeof(err));
	if (rc == 0) {
		check_loaded(&c);
		return 0;
	}
	FUZZ_CHECK(rc == -1);
	FUZZ_CHECK(terminated(err, sizeof(err)));
	if (strncmp(err, path, plen) || err[plen] != ':')
		FUZZ_FAIL("error does not start with \"%s:\": %s", path, err);
	FUZZ_CHECK(err[plen + 1]);
	FUZZ_CHECK(zero(c.key, sizeof(c.key)));	/* wiped on failure */
	return 0;
}
