/* SPDX-License-Identifier: MIT */
/* The control socket's clients: `braid status`, `top`, `link`, `reload`.
 * They find the daemon with -s SOCKET, -c FILE (its config names the
 * socket) or, without either, the only socket in /run/braid. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "cfg.h"
#include "cli.h"
#include "ctl.h"
#include "view.h"

#define CLI_TIMEOUT 5.0
#define RUN_DIR "/run/braid"

/* The only *.sock in RUN_DIR. */
static int find_socket(char *out, size_t len)
{
	DIR *dir = opendir(RUN_DIR);
	struct dirent *e;
	int n = 0;

	if (!dir) {
		fprintf(stderr, "braid: no daemon found (%s: %s); give -c "
			"FILE or -s SOCKET\n", RUN_DIR, strerror(errno));
		return -1;
	}
	while ((e = readdir(dir))) {
		size_t l = strlen(e->d_name);

		if (l < 6 || strcmp(e->d_name + l - 5, ".sock"))
			continue;
		if (n++ == 0)
			snprintf(out, len, "%s/%s", RUN_DIR, e->d_name);
		else
			fprintf(stderr, "%s%s/%s", n == 2 ? "braid: several "
				"daemons; choose one with -s: " : ", ",
				RUN_DIR, e->d_name);
	}
	closedir(dir);
	if (n == 0)
		fprintf(stderr, "braid: no daemon found in %s; give -c FILE "
			"or -s SOCKET\n", RUN_DIR);
	if (n > 1)
		fprintf(stderr, ", %s\n", out);
	return n == 1 ? 0 : -1;
}

/* Reads -c/-s (and --json where allowed) from argv, checks that min..max
 * arguments remain (max -1: any), and finds the socket path. Returns
 * optind, or after printing why -2 (usage) or -1 (no daemon to ask). */
static int parse_common(int argc, char **argv, const char *usage, bool *json,
			int min, int max, char *path, size_t len)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *sock = NULL;
	char err[CFG_ERR_LEN];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:s:", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			if (json) {
				*json = true;
				break;
			}
			/* fall through */
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return -2;
		}
	}
	if (argc - optind < min || (max >= 0 && argc - optind > max)) {
		fprintf(stderr, "usage: %s\n", usage);
		return -2;
	}
	if (sock) {
		snprintf(path, len, "%s", sock);
	} else if (conf) {
		if (cfg_control_path(conf, path, len, err, sizeof(err)) < 0) {
			fprintf(stderr, "braid: %s\n", err);
			return -1;
		}
	} else if (find_socket(path, len) < 0) {
		return -1;
	}
	return optind;
}

/* Sends req (taken) and returns the reply, or NULL after printing why
 * (the daemon's own error included). */
static struct json_object *call(const char *path, struct json_object *req)
{
	struct json_object *resp = NULL, *ok, *msg;
	char err[512];

	if (!req || ctl_call(path, req, &resp, CLI_TIMEOUT, err,
			     sizeof(err)) < 0) {
		fprintf(stderr, "braid: %s\n", req ? err : "out of memory");
		json_object_put(req);
		return NULL;
	}
	json_object_put(req);
	if (!json_object_object_get_ex(resp, "ok", &ok) ||
	    !json_object_get_boolean(ok)) {
		fprintf(stderr, "braid: %s\n",
			json_object_object_get_ex(resp, "error", &msg) ?
			json_object_get_string(msg) : "the daemon refused");
		json_object_put(resp);
		return NULL;
	}
	return resp;
}

static struct json_object *cmd_req(const char *cmd)
{
	struct json_object *req = json_object_new_object();

	if (req)
		json_object_object_add(req, "cmd",
				       json_object_new_string(cmd));
	return req;
}

int cli_status(int argc, char **argv)
{
	static const char usage[] = "braid status [--json] [-c FILE | -s "
				    "SOCKET]";
	char path[256];
	bool json = false;
	struct json_object *st;
	int i = parse_common(argc, argv, usage, &json, 0, 0, path,
			     sizeof(path));

	if (i < 0)
		return -i;
	st = call(path, cmd_req("status"));
	if (!st)
		return 1;
	if (json)
		puts(json_object_to_json_string_ext(st,
						    JSON_C_TO_STRING_PRETTY));
	else
		view_status(stdout, st);
	json_object_put(st);
	return 0;
}

int cli_top(int argc, char **argv)
{
	static const char usage[] = "braid top [-c FILE | -s SOCKET]";
	char path[256], err[512];
	int i = parse_common(argc, argv, usage, NULL, 0, 0, path,
			     sizeof(path));

	if (i < 0)
		return -i;
	if (view_top(path, 1.0, err, sizeof(err)) < 0) {
		fprintf(stderr, "braid: %s\n", err);
		return 1;
	}
	return 0;
}

int cli_reload(int argc, char **argv)
{
	static const char usage[] = "braid reload [-c FILE | -s SOCKET]";
	char path[256];
	struct json_object *r, *v;
	int i = parse_common(argc, argv, usage, NULL, 0, 0, path,
			     sizeof(path));

	if (i < 0)
		return -i;
	r = call(path, cmd_req("reload"));
	if (!r)
		return 1;
	printf("reloaded:");
	for (const char *const *k = (const char *const[]){ "added", "removed",
			"changed", NULL }; *k; k++)
		printf(" %s %d", *k, json_object_object_get_ex(r, *k, &v) ?
		       json_object_get_int(v) : 0);
	printf("\n");
	json_object_put(r);
	return 0;
}

static bool is_one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* KEY=VALUE arguments into an object: true/false for the switches,
 * numbers for weight and id, strings for the rest (a password "1234"
 * stays a string). */
static struct json_object *kv_object(int argc, char **argv)
{
	static const char *const bools[] = { "backup", "fallback", NULL };
	static const char *const nums[] = { "weight", "id", NULL };
	struct json_object *o = json_object_new_object();

	for (int i = 0; o && i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		struct json_object *v;
		char *end;

		if (!eq || eq == argv[i]) {
			fprintf(stderr, "braid: '%s' is not KEY=VALUE\n",
				argv[i]);
			json_object_put(o);
			return NULL;
		}
		*eq++ = '\0';
		if (is_one_of(argv[i], bools) &&
		    (!strcmp(eq, "true") || !strcmp(eq, "false"))) {
			v = json_object_new_boolean(!strcmp(eq, "true"));
		} else if (is_one_of(argv[i], nums) &&
			   (strtoll(eq, &end, 10), *eq && !*end)) {
			v = json_object_new_int64(strtoll(eq, NULL, 10));
		} else {
			v = json_object_new_string(eq);
		}
		json_object_object_add(o, argv[i], v);
	}
	return o;
}

int cli_link(int argc, char **argv)
{
	static const char usage[] =
		"braid link add NAME KEY=VALUE... | del NAME | set NAME "
		"KEY=VALUE... [-c FILE | -s SOCKET]";
	struct json_object *req, *o, *r;
	const char *verb, *name;
	char path[256];
	int i = parse_common(argc, argv, usage, NULL, 2, -1, path,
			     sizeof(path));

	if (i < 0)
		return -i;
	verb = argv[i];
	name = argv[i + 1];
	if (!strcmp(verb, "del") && argc - i == 2) {
		req = cmd_req("link-del");
		if (req)
			json_object_object_add(req, "name",
					       json_object_new_string(name));
	} else if ((!strcmp(verb, "add") || !strcmp(verb, "set")) &&
		   (argc - i > 2 || !strcmp(verb, "add"))) {
		o = kv_object(argc - i - 2, argv + i + 2);
		if (!o)
			return 2;
		req = cmd_req(!strcmp(verb, "add") ? "link-add" : "link-set");
		if (!strcmp(verb, "add")) {
			json_object_object_add(o, "name",
					       json_object_new_string(name));
			json_object_object_add(req, "link", o);
		} else {
			json_object_object_add(req, "name",
					       json_object_new_string(name));
			json_object_object_add(req, "set", o);
		}
	} else {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	r = call(path, req);
	if (!r)
		return 1;
	json_object_put(r);
	printf("link %s: %s\n", name, !strcmp(verb, "add") ? "added" :
	       !strcmp(verb, "del") ? "removed" : "set");
	return 0;
}
