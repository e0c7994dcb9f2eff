/* SPDX-License-Identifier: MIT */
/* The control socket: a Unix stream socket speaking one JSON object per
 * line each way (docs/CONTROL.md), the daemon's side and the client's. */
#ifndef BRAID_CTL_H
#define BRAID_CTL_H

#include <stddef.h>

#include <ev.h>
#include <json-c/json.h>

#define CTL_MAX_REQUEST 65536	/* bytes in one request line */
#define CTL_MAX_CLIENTS 16
#define CTL_TIMEOUT 5.0		/* s a client may take to send a request */
#define CTL_MAX_PENDING (1 << 20)	/* reply bytes a client has not read */

struct ctl;

/* Answers one request; returns a new object (ctl_reply_ok/ctl_reply_error
 * or a fuller reply) that the server puts after sending it. */
typedef struct json_object *(*ctl_handler)(void *ctx,
					   struct json_object *req);

/* Listens on path (mode 0600; its directory is made, mode 0755, if
 * missing). A socket file left by a braid that is gone is replaced; one
 * that answers is not (-EADDRINUSE), nor is a file of another kind
 * (-EEXIST). */
int ctl_new(struct ctl **out, struct ev_loop *loop, const char *path,
	    ctl_handler handler, void *ctx);
/* Stops listening, closes every client, removes the socket file if it
 * still can (a daemon that dropped root may not: the keeper does). */
void ctl_free(struct ctl *c);

/* {"ok": true} and {"ok": false, "error": "..."}. */
struct json_object *ctl_reply_ok(void);
struct json_object *ctl_reply_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Client: sends req to the daemon listening on path and waits (at most
 * timeout s) for its reply. Returns 0 with *resp set (the caller puts
 * it), or -errno with err saying what went wrong for a person. */
int ctl_call(const char *path, struct json_object *req,
	     struct json_object **resp, double timeout, char *err,
	     size_t errlen);

#endif
