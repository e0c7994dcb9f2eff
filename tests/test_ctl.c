/* SPDX-License-Identifier: MIT */
/* Unit tests for the control socket (src/ctl.c): replies to requests on
 * a real Unix socket driven by a libev loop, clients in forked children;
 * framing, bounds, errors, the socket file's mode and life; and the
 * status reply's shape (src/report.c). */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ctl.h"
#include "report.h"

static char dir[40], path[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/braid-ctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/t.sock", dir);
}

static void teardown(void)
{
	char sub[96];

	unlink(path);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	rmdir(sub);
	rmdir(dir);
}

/* Echoes "cmd" back as "echo"; "cmd": "fail" gets an error. */
static struct json_object *echo(void *ctx, struct json_object *req)
{
	struct json_object *cmd, *o;

	(*(int *)ctx)++;
	if (!json_object_object_get_ex(req, "cmd", &cmd))
		return ctl_reply_error("no cmd");
	if (!strcmp(json_object_get_string(cmd), "fail"))
		return ctl_reply_error("asked to fail: %d", 42);
	o = ctl_reply_ok();
	json_object_object_add(o, "echo", json_object_get(cmd));
	return o;
}

static void child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)revents;
	ev_child_stop(loop, w);
	ev_break(loop, EVBREAK_ALL);
}

/* Runs fn in a child while the server's loop runs; returns the child's
 * exit status. */
static int with_client(struct ev_loop *loop, int (*fn)(void))
{
	ev_child cw;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(fn());
	ev_child_init(&cw, child_cb, pid, 0);
	ev_child_start(loop, &cw);
	ev_run(loop, 0);
	ck_assert_msg(!ev_is_active(&cw), "client still running");
	return WIFEXITED(cw.rstatus) ? WEXITSTATUS(cw.rstatus) : 99;
}

static int client_echo(void)
{
	struct json_object *req = json_object_new_object(), *resp, *v;
	char err[256];

	json_object_object_add(req, "cmd", json_object_new_string("hello"));
	if (ctl_call(path, req, &resp, 5.0, err, sizeof(err)) < 0)
		return 1;
	if (!json_object_object_get_ex(resp, "echo", &v) ||
	    strcmp(json_object_get_string(v), "hello"))
		return 2;
	if (!json_object_object_get_ex(resp, "ok", &v) ||
	    !json_object_get_boolean(v))
		return 3;
	json_object_put(req);
	json_object_put(resp);
	return 0;
}

START_TEST(request_reply)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct ctl *c = NULL;
	struct stat st;
	int calls = 0;

	ck_assert_int_eq(ctl_new(&c, loop, path, echo, &calls), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(with_client(loop, client_echo), 0);
	ck_assert_int_eq(calls, 1);
	ctl_free(c);
	ck_assert_int_eq(stat(path, &st), -1);	/* gone with the server */
	ev_loop_destroy(loop);
}
END_TEST

/* A raw client: sends what, reads until the server closes or n lines. */
static const char *raw_send;
static const char *raw_expect;

static int connect_raw(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -1;
	return fd;
}

static int client_raw(void)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;
	int fd = connect_raw();

	if (fd < 0)
		return 1;
	if (write(fd, raw_send, strlen(raw_send)) < 0)
		return 2;
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	close(fd);
	return strcmp(buf, raw_expect) ? 3 : 0;
}

START_TEST(framing_and_errors)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct ctl *c = NULL;
	int calls = 0;

	ck_assert_int_eq(ctl_new(&c, loop, path, echo, &calls), 0);
	/* two requests on one connection, answered in order */
	raw_send = "{\"cmd\":\"a\"}\n{\"cmd\":\"fail\"}\n";
	raw_expect = "{\"ok\":true,\"echo\":\"a\"}\n"
		     "{\"ok\":false,\"error\":\"asked to fail: 42\"}\n";
	ck_assert_int_eq(with_client(loop, client_raw), 0);
	/* not JSON, and JSON that is not an object: the handler never sees
	 * them */
	raw_send = "garbage\n[1,2]\n";
	raw_expect = "{\"ok\":false,\"error\":\"the request is not a JSON "
		     "object\"}\n{\"ok\":false,\"error\":\"the request is not "
		     "a JSON object\"}\n";
	ck_assert_int_eq(with_client(loop, client_raw), 0);
	ck_assert_int_eq(calls, 2);
	ctl_free(c);
	ev_loop_destroy(loop);
}
END_TEST

static int client_long(void)
{
	static char big[CTL_MAX_REQUEST + 100];
	char buf[64];
	int fd = connect_raw();
	ssize_t n;

	if (fd < 0)
		return 1;
	memset(big, 'x', sizeof(big));
	/* the server drops us once the line is over the limit */
	n = send(fd, big, sizeof(big), MSG_NOSIGNAL);
	(void)n;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0 ? 0 : 2;
}

START_TEST(long_line_dropped)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct ctl *c = NULL;
	int calls = 0;

	ck_assert_int_eq(ctl_new(&c, loop, path, echo, &calls), 0);
	ck_assert_int_eq(with_client(loop, client_long), 0);
	ck_assert_int_eq(calls, 0);
	/* and the server still answers others */
	ck_assert_int_eq(with_client(loop, client_echo), 0);
	ctl_free(c);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(stale_and_live_sockets)
{
	struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
	struct ctl *a = NULL, *b = NULL;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char sub[96];
	int calls = 0, fd;

	/* a socket file nobody listens on: left by a braid that died */
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	ck_assert_int_eq(ctl_new(&a, loop, path, echo, &calls), 0);
	/* one that answers is not taken over */
	ck_assert_int_eq(ctl_new(&b, loop, path, echo, &calls), -EADDRINUSE);
	ck_assert_int_eq(with_client(loop, client_echo), 0);
	ctl_free(a);
	ev_loop_destroy(loop);
}
END_TEST

START_TEST(client_errors)
{
	struct json_object *req = json_object_new_object(), *resp = NULL;
	char err[256];

	ck_assert_int_eq(ctl_call(path, req, &resp, 1.0, err, sizeof(err)),
			 -ENOENT);
	ck_assert_msg(strstr(err, "is braid running"), "%s", err);
	ck_assert_msg(strstr(err, path), "%s", err);
	json_object_put(req);
}
END_TEST

START_TEST(status_shape)
{
	static struct report r;
	struct json_object *o, *links, *l, *v, *tot;

	r.master = false;
	snprintf(r.device, sizeof(r.device), "braid0");
	r.uptime = 12.5;
	r.session_age = -1;
	r.scheduler = "earliest";
	r.bonding = "aggregate";
	r.nlinks = 1;
	snprintf(r.links[0].mux.name, MUX_NAME_LEN, "dsl");
	r.links[0].id = 1;
	r.links[0].type = "udp";
	r.links[0].mux.up = true;
	r.links[0].mux.srtt = 0.0213;
	r.links[0].mux.rate = 2e6;	/* bytes/s */
	r.links[0].lm.tx_bytes = 1000;
	r.links[0].lm.drops = 2;
	r.links[0].mux.ctl_lost = 1;
	r.links[0].mux.send_fail = 7;	/* sent elsewhere: not a drop */
	r.links[0].tx_bps = 8000;
	r.links[0].mux.hold = 0.0305;
	r.mux.reorder.lost = 3;
	o = report_json(&r);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "links", &links));
	ck_assert_int_eq(json_object_array_length(links), 1);
	l = json_object_array_get_idx(links, 0);
	ck_assert(json_object_object_get_ex(l, "name", &v));
	ck_assert_str_eq(json_object_get_string(v), "dsl");
	ck_assert(json_object_object_get_ex(l, "state", &v));
	ck_assert_str_eq(json_object_get_string(v), "up");
	ck_assert(json_object_object_get_ex(l, "rtt_ms", &v));
	ck_assert_double_eq_tol(json_object_get_double(v), 21.3, 1e-9);
	ck_assert(json_object_object_get_ex(l, "capacity_bps", &v));
	ck_assert_double_eq_tol(json_object_get_double(v), 16e6, 1e-3);
	ck_assert(json_object_object_get_ex(l, "drops", &v));
	ck_assert_int_eq(json_object_get_int64(v), 3);
	ck_assert(json_object_object_get_ex(l, "hold_ms", &v));
	ck_assert_double_eq_tol(json_object_get_double(v), 30.5, 1e-9);
	ck_assert(json_object_object_get_ex(l, "proxy", &v));
	ck_assert_ptr_null(v);		/* null, not "" */
	ck_assert(json_object_object_get_ex(o, "total", &tot));
	ck_assert(json_object_object_get_ex(tot, "lost", &v));
	ck_assert_int_eq(json_object_get_int64(v), 3);
	ck_assert(json_object_object_get_ex(tot, "tx_bytes", &v));
	ck_assert_int_eq(json_object_get_int64(v), 1000);
	ck_assert(json_object_object_get_ex(o, "session_age_s", &v));
	ck_assert_double_eq(json_object_get_double(v), -1);
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl");
	TCase *sock = tcase_create("socket");
	TCase *shape = tcase_create("status");
	SRunner *sr;
	int failed;

	signal(SIGPIPE, SIG_IGN);
	tcase_add_checked_fixture(sock, setup, teardown);
	tcase_set_timeout(sock, 60);
	tcase_add_test(sock, request_reply);
	tcase_add_test(sock, framing_and_errors);
	tcase_add_test(sock, long_line_dropped);
	tcase_add_test(sock, stale_and_live_sockets);
	tcase_add_test(sock, client_errors);
	suite_add_tcase(s, sock);
	tcase_add_test(shape, status_shape);
	suite_add_tcase(s, shape);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
