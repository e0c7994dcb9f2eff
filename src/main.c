/* SPDX-License-Identifier: MIT */
/* The braid command line: run, genkey, version, help. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cfg.h"
#include "cli.h"
#include "daemon.h"
#include "linkmap.h"
#include "log.h"

struct cmd {
	const char *name;
	const char *usage;
	const char *help;
	int (*fn)(int argc, char **argv);
};

static const struct cmd *cmd_find(const char *name);

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	char err[CFG_ERR_LEN];
	const char *path = NULL;
	static struct cfg c;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:v", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		default:
			fprintf(stderr, "usage: braid run -c FILE [-v]\n");
			return 2;
		}
	}
	if (!path || optind != argc) {
		fprintf(stderr, "usage: braid run -c FILE [-v]\n");
		return 2;
	}
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	if (cfg_load(&c, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "braid: %s\n", err);
		return 1;
	}
	return daemon_run(&c, path) < 0 ? 1 : 0;
}

static int cmd_genkey(int argc, char **argv)
{
	unsigned char key[32];
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "usage: braid genkey\n");
		return 2;
	}
	if (sodium_init() < 0)
		fatalx("libsodium failed to initialise");
	randombytes_buf(key, sizeof(key));
	sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
			  sodium_base64_VARIANT_ORIGINAL);
	sodium_memzero(key, sizeof(key));
	puts(b64);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("braid %s (wire protocol %d)\n", BRAID_VERSION, LM_WIRE_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd cmds[] = {
	{ "run", "braid run -c FILE [-v]",
	  "Run the daemon in the foreground with the config FILE; mode\n"
	  "(\"master\" or \"slave\") comes from the file. -v logs debug lines.\n"
	  "SIGINT/SIGTERM stop it and remove its TUN device, routes and\n"
	  "control socket; SIGUSR1 logs per-link counters; SIGHUP re-reads\n"
	  "the config and applies its links.", cmd_run },
	{ "status", "braid status [--json] [-c FILE | -s SOCKET]",
	  "Show the running daemon's links (state, type, address or proxy,\n"
	  "RTT, loss, rate and bytes each way, drops) and tunnel totals.\n"
	  "--json prints the control socket's reply (docs/CONTROL.md).\n"
	  "-c FILE finds the daemon through its config, -s through its\n"
	  "socket; without either, the only socket in /run/braid.",
	  cli_status },
	{ "top", "braid top [-c FILE | -s SOCKET]",
	  "A live view of the daemon, refreshed every second: per-link\n"
	  "throughput bars, RTT and loss. q or Ctrl-C quits.", cli_top },
	{ "link", "braid link add NAME KEY=VALUE... | del NAME | set NAME "
		  "KEY=VALUE...",
	  "Change the slave's links while it runs (not written to the\n"
	  "config). add takes the keys of a link in the config file:\n"
	  "  braid link add phone3 type=socks5 proxy=192.168.1.52:1080\n"
	  "del removes a link (what it had in flight is resent on the\n"
	  "others); set changes weight=N, backup=true|false, rate=20mbit\n"
	  "(0: no cap). -c FILE or -s SOCKET as for status.", cli_link },
	{ "reload", "braid reload [-c FILE | -s SOCKET]",
	  "Re-read the config file, as SIGHUP does, and print how many\n"
	  "links were added, removed and changed.", cli_reload },
	{ "genkey", "braid genkey",
	  "Print a new random 32-byte key in base64, for key = \"...\" or a\n"
	  "key_file (chmod 600) shared by master and slave.", cmd_genkey },
	{ "version", "braid version", "Print the version.", cmd_version },
	{ "help", "braid help [COMMAND]", "Show help for braid or a command.",
	  cmd_help },
};

static const struct cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "braid - packet-bonding VPN\n\nusage:\n");
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %s\n", cmds[i].usage);
	fprintf(f, "\n'braid help COMMAND' tells more.\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stdout);
		return 0;
	}
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "braid: no command '%s'\n", argv[1]);
		return 2;
	}
	printf("usage: %s\n\n%s\n", c->usage, c->help);
	return 0;
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "--version"))
		return cmd_version(1, argv);
	c = cmd_find(argv[1]);
	if (!c) {
		fprintf(stderr, "braid: no command '%s'; try 'braid help'\n",
			argv[1]);
		return 2;
	}
	return c->fn(argc - 1, argv + 1);
}
