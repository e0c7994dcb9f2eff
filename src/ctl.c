/* SPDX-License-Identifier: MIT */
/* The control socket: Unix stream, one JSON request line in, one JSON
 * reply line out, as many as the client sends; bounded in clients, line
 * length and time. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

struct ctl_client {
	int fd;
	struct ctl *c;
	ev_io io;
	ev_timer idle;		/* CTL_TIMEOUT without a whole request */
	size_t len;
	char *buf;		/* CTL_MAX_REQUEST + 1 */
	char *out;		/* reply not yet written */
	size_t out_len, out_off;
};

struct ctl {
	struct ev_loop *loop;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	ctl_handler handler;
	void *ctx;
	ev_io accept_io;
	struct ctl_client clients[CTL_MAX_CLIENTS];
	struct log_rl rl;
};

struct json_object *ctl_reply_ok(void)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

struct json_object *ctl_reply_error(const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static void client_close(struct ctl_client *cl)
{
	struct ctl *c = cl->c;

	ev_io_stop(c->loop, &cl->io);
	ev_timer_stop(c->loop, &cl->idle);
	close(cl->fd);
	cl->fd = -1;
	free(cl->buf);
	free(cl->out);
	cl->buf = cl->out = NULL;
}

static struct json_object *answer(struct ctl *c, const char *line)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *req, *resp;

	if (!tok)
		return ctl_reply_error("out of memory");
	req = json_tokener_parse_ex(tok, line, (int)strlen(line));
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(req, json_type_object)) {
		json_object_put(req);
		json_tokener_free(tok);
		return ctl_reply_error("the request is not a JSON object");
	}
	json_tokener_free(tok);
	resp = c->handler(c->ctx, req);
	json_object_put(req);
	return resp ? resp : ctl_reply_error("out of memory");
}

/* Queues the reply to the line in front of cl->buf; false if the client
 * must go. */
static bool reply(struct ctl_client *cl, const char *line)
{
	struct json_object *resp = answer(cl->c, line);
	const char *s = json_object_to_json_string_ext(resp,
						       JSON_C_TO_STRING_PLAIN);
	size_t n = strlen(s);
	char *out = realloc(cl->out, cl->out_len + n + 1);

	if (!out) {
		json_object_put(resp);
		return false;
	}
	memcpy(out + cl->out_len, s, n);
	out[cl->out_len + n] = '\n';
	cl->out = out;
	cl->out_len += n + 1;
	json_object_put(resp);
	return true;
}

static bool client_write(struct ctl_client *cl)
{
	while (cl->out_off < cl->out_len) {
		ssize_t n = send(cl->fd, cl->out + cl->out_off,
				 cl->out_len - cl->out_off, MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR;
		cl->out_off += (size_t)n;
	}
	cl->out_off = cl->out_len = 0;
	return true;
}

/* Reads what came, answers every whole line; false if the client must
 * go (closed, too long a line, an error). */
static bool client_read(struct ctl_client *cl)
{
	ssize_t n = recv(cl->fd, cl->buf + cl->len, CTL_MAX_REQUEST - cl->len,
			 0);
	char *nl;

	if (n == 0)
		return false;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	cl->len += (size_t)n;
	cl->buf[cl->len] = '\0';
	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		size_t used = (size_t)(nl - cl->buf) + 1;

		*nl = '\0';
		if (!reply(cl, cl->buf))
			return false;
		memmove(cl->buf, cl->buf + used, cl->len - used);
		cl->len -= used;
		ev_timer_again(cl->c->loop, &cl->idle);
	}
	if (cl->len == CTL_MAX_REQUEST) {
		log_warn_rl(&cl->c->rl, "control: a request over %d bytes, "
			    "client dropped", CTL_MAX_REQUEST);
		return false;
	}
	return true;
}

static void client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl_client *cl = container_of(w, struct ctl_client, io);

	if ((revents & EV_READ) && !client_read(cl))
		goto out_close;
	if (!client_write(cl))
		goto out_close;
	/* wait for the socket to take the rest of a long reply; a client
	 * that sends without reading is not read until it has */
	ev_io_stop(loop, &cl->io);
	ev_io_set(&cl->io, cl->fd, cl->out_len >= CTL_MAX_PENDING ? EV_WRITE :
		  cl->out_len ? EV_READ | EV_WRITE : EV_READ);
	ev_io_start(loop, &cl->io);
	return;
out_close:
	client_close(cl);
}

static void idle_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ctl_client *cl = container_of(w, struct ctl_client, idle);

	(void)loop;
	(void)revents;
	client_close(cl);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ctl *c = container_of(w, struct ctl, accept_io);
	struct ctl_client *cl = NULL;
	int fd;

	(void)revents;
	fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd < 0) {
			cl = &c->clients[i];
			break;
		}
	if (!cl) {
		log_warn_rl(&c->rl, "control: %d clients already, one refused",
			    CTL_MAX_CLIENTS);
		close(fd);
		return;
	}
	cl->buf = malloc(CTL_MAX_REQUEST + 1);
	if (!cl->buf) {
		close(fd);
		return;
	}
	cl->fd = fd;
	cl->c = c;
	cl->len = cl->out_len = cl->out_off = 0;
	ev_io_init(&cl->io, client_cb, fd, EV_READ);
	ev_io_start(loop, &cl->io);
	ev_init(&cl->idle, idle_cb);
	cl->idle.repeat = CTL_TIMEOUT;
	ev_timer_again(loop, &cl->idle);
}

/* Whether a daemon answers on path. */
static bool path_live(const char *path)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0 || sun_fill(&sun, path) < 0) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	       errno == EAGAIN;
	close(fd);
	return live;
}

static int make_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int ctl_new(struct ctl **out, struct ev_loop *loop, const char *path,
	    ctl_handler handler, void *ctx)
{
	struct sockaddr_un sun;
	struct stat st;
	struct ctl *c;
	mode_t old;
	int err;

	if (sun_fill(&sun, path) < 0)
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->handler = handler;
	c->ctx = ctx;
	snprintf(c->path, sizeof(c->path), "%s", path);
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	err = make_dir(path);
	if (err < 0)
		goto out_free;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		goto out_free;
	}
	if (path_live(path)) {
		err = -EADDRINUSE;
		goto out_close;
	}
	/* a socket left by a braid that is gone; never anything else */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			err = -EEXIST;
			goto out_close;
		}
		unlink(path);
	}
	old = umask(0177);	/* the socket is born 0600 */
	err = bind(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ? -errno : 0;
	umask(old);
	if (err < 0)
		goto out_close;
	if (listen(c->fd, CTL_MAX_CLIENTS) < 0) {
		err = -errno;
		goto out_unlink;
	}
	ev_io_init(&c->accept_io, accept_cb, c->fd, EV_READ);
	ev_io_start(loop, &c->accept_io);
	*out = c;
	return 0;
out_unlink:
	unlink(path);
out_close:
	close(c->fd);
out_free:
	free(c);
	return err;
}

void ctl_free(struct ctl *c)
{
	if (!c)
		return;
	ev_io_stop(c->loop, &c->accept_io);
	for (size_t i = 0; i < CTL_MAX_CLIENTS; i++)
		if (c->clients[i].fd >= 0)
			client_close(&c->clients[i]);
	close(c->fd);
	if (unlink(c->path) < 0 && errno != ENOENT)
		log_debug("control: cannot remove %s: %s", c->path,
			  strerror(errno));
	free(c);
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for fd to be ready for events until the deadline. */
static int wait_fd(int fd, short events, double deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	double left = deadline - mono_now();
	int n;

	if (left <= 0)
		return -ETIMEDOUT;
	n = poll(&p, 1, (int)(left * 1e3) + 1);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

static int call_send(int fd, const char *s, size_t n, double deadline)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = send(fd, s + off, n - off, MSG_NOSIGNAL);
		int err;

		if (w >= 0) {
			off += (size_t)w;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		err = wait_fd(fd, POLLOUT, deadline);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Reads one reply line (bounded) and parses it. */
static int call_recv(int fd, struct json_object **resp, double deadline)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *b = cap >= (16u << 20) ? NULL :
				  realloc(buf, cap * 2);

			if (!b) {
				err = -EMSGSIZE;
				break;
			}
			buf = b;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n > 0) {
			len += (size_t)n;
			if (memchr(buf + len - n, '\n', (size_t)n))
				break;
			continue;
		}
		if (n == 0) {
			err = -ECONNRESET;
			break;
		}
		if (errno != EAGAIN && errno != EINTR) {
			err = -errno;
			break;
		}
		err = wait_fd(fd, POLLIN, deadline);
		if (err < 0)
			break;
	}
	if (err == 0) {
		buf[len] = '\0';
		*resp = json_tokener_parse(buf);
		if (!*resp)
			err = -EBADMSG;
	}
	free(buf);
	return err;
}

int ctl_call(const char *path, struct json_object *req,
	     struct json_object **resp, double timeout, char *err,
	     size_t errlen)
{
	const char *s = json_object_to_json_string_ext(req,
						       JSON_C_TO_STRING_PLAIN);
	double deadline = mono_now() + timeout;
	struct sockaddr_un sun;
	char *line;
	size_t n = strlen(s);
	int fd, e;

	if (sun_fill(&sun, path) < 0) {
		snprintf(err, errlen, "control socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = -errno;
		snprintf(err, errlen, "socket: %s", strerror(-e));
		return e;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 &&
	    errno != EAGAIN) {
		e = -errno;
		snprintf(err, errlen, "cannot reach the daemon at %s: %s%s",
			 path, strerror(-e),
			 e == -ENOENT || e == -ECONNREFUSED ?
			 " (is braid running with this config?)" :
			 e == -EACCES ? " (run as root)" : "");
		close(fd);
		return e;
	}
	line = malloc(n + 1);
	if (!line) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(line, s, n);
	line[n] = '\n';
	e = call_send(fd, line, n + 1, deadline);
	free(line);
	if (e == 0)
		e = call_recv(fd, resp, deadline);
	close(fd);
	if (e < 0)
		snprintf(err, errlen, "%s: %s", path,
			 e == -ETIMEDOUT ? "the daemon did not answer in time" :
			 e == -EBADMSG ? "the daemon's reply is not JSON" :
			 strerror(-e));
	return e;
}
