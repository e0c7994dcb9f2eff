/* SPDX-License-Identifier: MIT */
/* Tests for the Prometheus metrics: the text format of a made-up snapshot,
 * and the HTTP server in a libev loop, spoken to by plain sockets. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "log.h"
#include "metrics.h"

/* A name of exactly MUX_NAME_LEN bytes, no NUL: the label must stop. */
#define LONG_NAME "abcdefghijklmnopqrstuvwxyz012345"

static void sample_link(struct report_link *l, uint16_t id, const char *name)
{
	l->id = id;
	snprintf(l->mux.name, sizeof(l->mux.name), "%s", name);
	l->type = "udp";
	l->mux.weight = 1;
}

static void sample(struct report *r)
{
	struct report_link *l = r->links;

	memset(r, 0, sizeof(*r));
	snprintf(r->device, sizeof(r->device), "braid0");
	r->uptime = 812.5;
	r->session_age = 32.25;
	r->scheduler = "earliest";
	r->bonding = "aggregate";
	r->tun_rx = 90000;
	r->tun_tx = 30000;
	r->tun_drops = 3;
	r->tx_bps = 14100000;
	r->rx_bps = 800000;
	r->mux = (struct mux_stats){ .no_link = 4, .malformed = 1,
		.congested = 5, .queued = 10, .copies = 6, .rexmit_kept = 15,
		.reorder = { .held = 1200, .late = 7, .lost = 8, .dup = 9,
			     .overflow = 11 } };
	r->lm = (struct lm_stats){ .auth_fail = 12, .replay = 13,
		.malformed = 2, .stale_session = 14, .hs_init = 7,
		.hs_bad = 15, .hs_stale = 16, .hs_ratelimited = 17,
		.no_slot = 18, .streams_refused = 19, .streams_dropped = 20 };
	r->nlinks = 3;

	sample_link(&l[0], 1, "dsl");
	snprintf(l[0].ifname, sizeof(l[0].ifname), "eth1");
	l[0].tx_bps = 14100000;
	l[0].rx_bps = 800000;
	l[0].mux.up = true;
	l[0].mux.srtt = 0.0213;
	l[0].mux.min_rtt = 0.0201;
	l[0].mux.rtt = 0.022;
	l[0].mux.loss = 0.001;
	l[0].mux.rate = 1900000;
	l[0].mux.inflight = 42000;
	l[0].mux.cwnd = 48000;
	l[0].mux.ctl_lost = 3;
	l[0].mux.send_fail = 9;		/* sent elsewhere: not a drop */
	l[0].mux.downs = 1;
	l[0].mux.stalls = 2;
	l[0].mux.resent = 12;
	l[0].lm = (struct lm_link_stats){ .tx_packets = 90000,
		.tx_bytes = 123456789012345ULL, .rx_packets = 30000,
		.rx_bytes = 2345678, .drops = 2 };

	/* down (so not stalled, whatever the flag says), a backup stream */
	sample_link(&l[1], 2, "ph\"o\ne\\");
	l[1].type = "socks5";
	snprintf(l[1].proxy, sizeof(l[1].proxy), "192.168.1.52:1080");
	l[1].rate_cap = 2500000;
	l[1].mux.stalled = true;
	l[1].mux.backup = true;
	l[1].mux.stream = true;
	l[1].mux.weight = 3;
	l[1].mux.rtt = 0.5;
	l[1].mux.loss = NAN;
	l[1].mux.cwnd = INFINITY;

	sample_link(&l[2], 65535, "");
	memcpy(l[2].mux.name, LONG_NAME, MUX_NAME_LEN);
}

/* metrics_format into a string the caller frees. */
static char *format(const struct report *r)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(metrics_format(r, f), 0);
	ck_assert_int_eq(fclose(f), 0);
	return s;
}

/* Whether text has line as one whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define ck_line(text, line) \
	ck_assert_msg(has_line(text, line), "no line \"%s\" in:\n%s", line, \
		      text)

START_TEST(format_values)
{
	struct report r;
	char *s;

	sample(&r);
	s = format(&r);
	ck_line(s, "braid_info{version=\"" BRAID_VERSION "\",mode=\"slave\","
		"device=\"braid0\",scheduler=\"earliest\","
		"bonding=\"aggregate\"} 1");
	ck_line(s, "braid_uptime_seconds 812.5");
	ck_line(s, "braid_session_age_seconds 32.25");
	ck_line(s, "braid_links 3");
	ck_line(s, "braid_links_up 1");
	ck_line(s, "braid_tx_bits_per_second 14100000");
	ck_line(s, "braid_tun_rx_packets_total 90000");
	ck_line(s, "braid_tun_tx_packets_total 30000");
	ck_line(s, "braid_tun_drops_total 3");
	ck_line(s, "braid_no_link_drops_total 4");
	ck_line(s, "braid_congested_drops_total 5");
	ck_line(s, "braid_queued_total 10");
	ck_line(s, "braid_copies_total 6");
	ck_line(s, "braid_retransmissions_kept_total 15");
	ck_line(s, "braid_auth_fail_total 12");
	ck_line(s, "braid_replay_total 13");
	ck_line(s, "braid_malformed_total 3");	/* linkmap's and mux's */
	ck_line(s, "braid_stale_session_total 14");
	ck_line(s, "braid_handshakes_total 7");
	ck_line(s, "braid_handshakes_bad_total 31");	/* bad + stale */
	ck_line(s, "braid_handshakes_ratelimited_total 17");
	ck_line(s, "braid_link_table_full_total 18");
	ck_line(s, "braid_streams_refused_total 19");
	ck_line(s, "braid_streams_dropped_total 20");
	ck_line(s, "braid_reorder_held_total 1200");
	ck_line(s, "braid_reorder_late_total 7");
	ck_line(s, "braid_reorder_lost_total 8");
	ck_line(s, "braid_reorder_dup_total 9");
	ck_line(s, "braid_reorder_overflow_total 11");

	ck_line(s, "braid_link_info{link=\"dsl\",id=\"1\",type=\"udp\","
		"interface=\"eth1\",proxy=\"\"} 1");
	ck_line(s, "braid_link_up{link=\"dsl\",id=\"1\"} 1");
	ck_line(s, "braid_link_stalled{link=\"dsl\",id=\"1\"} 0");
	ck_line(s, "braid_link_backup{link=\"dsl\",id=\"1\"} 0");
	ck_line(s, "braid_link_weight{link=\"dsl\",id=\"1\"} 1");
	ck_line(s, "braid_link_rate_cap_bits_per_second{link=\"dsl\",id=\"1\"} 0");
	ck_line(s, "braid_link_rtt_seconds{link=\"dsl\",id=\"1\"} 0.0213");
	ck_line(s, "braid_link_min_rtt_seconds{link=\"dsl\",id=\"1\"} 0.0201");
	ck_line(s, "braid_link_keepalive_rtt_seconds{link=\"dsl\",id=\"1\"} 0.022");
	ck_line(s, "braid_link_loss_ratio{link=\"dsl\",id=\"1\"} 0.001");
	ck_line(s, "braid_link_capacity_bits_per_second{link=\"dsl\",id=\"1\"} "
		"15200000");
	ck_line(s, "braid_link_tx_bits_per_second{link=\"dsl\",id=\"1\"} 14100000");
	ck_line(s, "braid_link_rx_bits_per_second{link=\"dsl\",id=\"1\"} 800000");
	ck_line(s, "braid_link_tx_bytes_total{link=\"dsl\",id=\"1\"} 123456789012345");
	ck_line(s, "braid_link_rx_bytes_total{link=\"dsl\",id=\"1\"} 2345678");
	ck_line(s, "braid_link_tx_packets_total{link=\"dsl\",id=\"1\"} 90000");
	ck_line(s, "braid_link_rx_packets_total{link=\"dsl\",id=\"1\"} 30000");
	ck_line(s, "braid_link_drops_total{link=\"dsl\",id=\"1\"} 5");
	ck_line(s, "braid_link_downs_total{link=\"dsl\",id=\"1\"} 1");
	ck_line(s, "braid_link_stalls_total{link=\"dsl\",id=\"1\"} 2");
	ck_line(s, "braid_link_resent_total{link=\"dsl\",id=\"1\"} 12");
	ck_line(s, "braid_link_inflight_bytes{link=\"dsl\",id=\"1\"} 42000");
	ck_line(s, "braid_link_cwnd_bytes{link=\"dsl\",id=\"1\"} 48000");
	free(s);
}
END_TEST

START_TEST(format_escapes)
{
	struct report r;
	char *s;

	sample(&r);
	s = format(&r);
	/* ph"o<newline>e\ */
	ck_line(s, "braid_link_info{link=\"ph\\\"o\\ne\\\\\",id=\"2\","
		"type=\"socks5\",interface=\"\",proxy=\"192.168.1.52:1080\"} 1");
	ck_line(s, "braid_link_up{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 0");
	ck_line(s, "braid_link_stalled{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 0");
	ck_line(s, "braid_link_backup{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 1");
	ck_line(s, "braid_link_stream{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 1");
	ck_line(s, "braid_link_weight{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 3");
	ck_line(s, "braid_link_rate_cap_bits_per_second"
		"{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 20000000");
	ck_line(s, "braid_link_rtt_seconds{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} 0.5");
	ck_line(s, "braid_link_loss_ratio{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} NaN");
	ck_line(s, "braid_link_cwnd_bytes{link=\"ph\\\"o\\ne\\\\\",id=\"2\"} +Inf");
	/* a full name array without a NUL ends at the array */
	ck_line(s, "braid_link_info{link=\"" LONG_NAME "\",id=\"65535\","
		"type=\"udp\",interface=\"\",proxy=\"\"} 1");
	ck_line(s, "braid_link_up{link=\"" LONG_NAME "\",id=\"65535\"} 0");
	free(s);
}
END_TEST

/* Every series the brief and docs/CONTROL.md promise, and their types. */
static const struct {
	const char *name;
	bool counter, per_link;
} expected[] = {
	{ "braid_info", false, false },
	{ "braid_uptime_seconds", false, false },
	{ "braid_session_age_seconds", false, false },
	{ "braid_links", false, false },
	{ "braid_links_up", false, false },
	{ "braid_tx_bits_per_second", false, false },
	{ "braid_rx_bits_per_second", false, false },
	{ "braid_tun_rx_packets_total", true, false },
	{ "braid_tun_tx_packets_total", true, false },
	{ "braid_tun_drops_total", true, false },
	{ "braid_no_link_drops_total", true, false },
	{ "braid_congested_drops_total", true, false },
	{ "braid_queued_total", true, false },
	{ "braid_copies_total", true, false },
	{ "braid_retransmissions_kept_total", true, false },
	{ "braid_auth_fail_total", true, false },
	{ "braid_replay_total", true, false },
	{ "braid_malformed_total", true, false },
	{ "braid_stale_session_total", true, false },
	{ "braid_handshakes_total", true, false },
	{ "braid_handshakes_bad_total", true, false },
	{ "braid_handshakes_ratelimited_total", true, false },
	{ "braid_link_table_full_total", true, false },
	{ "braid_streams_refused_total", true, false },
	{ "braid_streams_dropped_total", true, false },
	{ "braid_reorder_held_total", true, false },
	{ "braid_reorder_late_total", true, false },
	{ "braid_reorder_lost_total", true, false },
	{ "braid_reorder_dup_total", true, false },
	{ "braid_reorder_overflow_total", true, false },
	{ "braid_reorder_early_total", true, false },
	{ "braid_link_info", false, true },
	{ "braid_link_up", false, true },
	{ "braid_link_stalled", false, true },
	{ "braid_link_backup", false, true },
	{ "braid_link_stream", false, true },
	{ "braid_link_weight", false, true },
	{ "braid_link_rate_cap_bits_per_second", false, true },
	{ "braid_link_rtt_seconds", false, true },
	{ "braid_link_min_rtt_seconds", false, true },
	{ "braid_link_keepalive_rtt_seconds", false, true },
	{ "braid_link_loss_ratio", false, true },
	{ "braid_link_capacity_bits_per_second", false, true },
	{ "braid_link_tx_bits_per_second", false, true },
	{ "braid_link_rx_bits_per_second", false, true },
	{ "braid_link_inflight_bytes", false, true },
	{ "braid_link_cwnd_bytes", false, true },
	{ "braid_link_tx_bytes_total", true, true },
	{ "braid_link_rx_bytes_total", true, true },
	{ "braid_link_tx_packets_total", true, true },
	{ "braid_link_rx_packets_total", true, true },
	{ "braid_link_drops_total", true, true },
	{ "braid_link_downs_total", true, true },
	{ "braid_link_stalls_total", true, true },
	{ "braid_link_resent_total", true, true },
};

/* How many samples of name the text has ("name{" or "name "). */
static size_t samples(const char *text, const char *name)
{
	size_t n = 0, len = strlen(name);

	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, name, len) && (p[len] == '{' || p[len] == ' '))
			n++;
		if (!strchr(p, '\n'))
			break;
	}
	return n;
}

static void check_every_series(const struct report *r)
{
	char *s = format(r);

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		char type[128], help[128];

		snprintf(type, sizeof(type), "# TYPE %s %s", expected[i].name,
			 expected[i].counter ? "counter" : "gauge");
		snprintf(help, sizeof(help), "# HELP %s ", expected[i].name);
		ck_line(s, type);
		ck_assert_msg(strstr(s, help), "no HELP for %s",
			      expected[i].name);
		ck_assert_uint_eq(samples(s, expected[i].name),
				  expected[i].per_link ? r->nlinks : 1);
	}
	free(s);
}

START_TEST(format_every_series)
{
	struct report r;

	sample(&r);
	check_every_series(&r);
	r.nlinks = 0;	/* families still declared, no link samples */
	check_every_series(&r);
}
END_TEST

#define NAME "[a-zA-Z_:][a-zA-Z0-9_:]*"
#define LABEL "[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
#define VALUE "(NaN|[+-]Inf|-?[0-9]+([.][0-9]+)?(e[+-][0-9]+)?)"
#define SAMPLE_RE "^(" NAME ")([{]" LABEL "(," LABEL ")*[}])? " VALUE "$"
#define META_RE "^# (HELP|TYPE) (" NAME ") (.+)$"

/* Checks one line; family is the one the last TYPE line opened. */
static void check_line(const regex_t *sample_re, const regex_t *meta_re,
		       const char *line, char *family, char *help)
{
	regmatch_t m[4];
	char name[128], arg[64];
	int n;

	if (line[0] != '#') {
		ck_assert_msg(!regexec(sample_re, line, 2, m, 0),
			      "not a sample: \"%s\"", line);
		n = (int)(m[1].rm_eo - m[1].rm_so);
		ck_assert_msg(!strncmp(line, family, (size_t)n) &&
			      family[n] == '\0',
			      "\"%s\" outside its family (%s)", line, family);
		return;
	}
	ck_assert_msg(!regexec(meta_re, line, 4, m, 0), "bad comment: \"%s\"",
		      line);
	snprintf(name, sizeof(name), "%.*s", (int)(m[2].rm_eo - m[2].rm_so),
		 line + m[2].rm_so);
	snprintf(arg, sizeof(arg), "%.*s", (int)(m[3].rm_eo - m[3].rm_so),
		 line + m[3].rm_so);
	if (line[2] == 'H') {
		strcpy(help, name);
		return;
	}
	ck_assert_msg(!strcmp(help, name), "TYPE %s without HELP", name);
	ck_assert_msg(!strcmp(arg, "counter") || !strcmp(arg, "gauge"),
		      "type %s", arg);
	n = (int)strlen(name);
	ck_assert_msg((n > 6 && !strcmp(name + n - 6, "_total")) ==
		      !strcmp(arg, "counter"),
		      "%s: counters and only counters end in _total", name);
	strcpy(family, name);
}

START_TEST(format_parses)
{
	char family[128] = "", help[128] = "";
	regex_t sample_re, meta_re;
	struct report r;
	char *s, *line, *save = NULL;
	char *seen = NULL;
	size_t seen_len = 0;

	ck_assert_int_eq(regcomp(&sample_re, SAMPLE_RE, REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&meta_re, META_RE, REG_EXTENDED), 0);
	sample(&r);
	s = format(&r);
	ck_assert(s[strlen(s) - 1] == '\n');
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		check_line(&sample_re, &meta_re, line, family, help);
		if (!strncmp(line, "# TYPE ", 7)) {
			/* each family once */
			char key[160];

			snprintf(key, sizeof(key), "|%s|", family);
			ck_assert_msg(!seen || !strstr(seen, key),
				      "%s twice", family);
			seen = realloc(seen, seen_len + strlen(key) + 1);
			strcpy(seen + seen_len, key);
			seen_len += strlen(key);
		}
	}
	free(seen);
	free(s);
	regfree(&sample_re);
	regfree(&meta_re);
}
END_TEST

START_TEST(format_write_error)
{
	FILE *f = fopen("/dev/full", "w");
	struct report r;

	ck_assert_ptr_nonnull(f);
	sample(&r);
	ck_assert_int_eq(metrics_format(&r, f), -EIO);
	fclose(f);
}
END_TEST

/* The server, spoken to by non-blocking clients in the same loop. */

#define WATCHDOG 60.0	/* s; generous, for a loaded machine under ASan */

struct fill_ctx {
	int calls;
};

static void fill_sample(void *ctx, struct report *r)
{
	struct fill_ctx *c = ctx;

	c->calls++;
	sample(r);
}

struct client {
	int fd;
	ev_io io;
	const char *req;
	size_t req_len, off;
	char *buf;		/* what came back, NUL-terminated */
	size_t len;
	bool done;
	int err;		/* 0, or -errno the socket ended with */
	double done_at;
	int *pending;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void client_end(struct ev_loop *loop, struct client *c, int err)
{
	ev_io_stop(loop, &c->io);
	c->done = true;
	c->err = err;
	c->done_at = now();
	if (--*c->pending == 0)
		ev_break(loop, EVBREAK_ONE);
}

static void client_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct client *c = container_of(w, struct client, io);
	ssize_t n;

	if ((revents & EV_WRITE) && c->off < c->req_len) {
		n = send(c->fd, c->req + c->off, c->req_len - c->off,
			 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return client_end(loop, c, -errno);
		c->off += n > 0 ? (size_t)n : 0;
		if (c->off == c->req_len) {
			ev_io_stop(loop, &c->io);
			ev_io_set(&c->io, c->fd, EV_READ);
			ev_io_start(loop, &c->io);
		}
	}
	if (!(revents & EV_READ))
		return;
	c->buf = realloc(c->buf, c->len + 65536 + 1);
	ck_assert_ptr_nonnull(c->buf);
	n = recv(c->fd, c->buf + c->len, 65536, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0)
		return client_end(loop, c, n < 0 ? -errno : 0);
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
}

/* Connects to host:port and starts sending req (all of it, or stops
 * short: partial). */
static void client_start(struct ev_loop *loop, struct client *c,
			 int family, uint16_t port, const char *req,
			 size_t req_len, int *pending)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;

	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	}
	memset(c, 0, sizeof(*c));
	c->req = req;
	c->req_len = req_len;
	c->pending = pending;
	c->buf = calloc(1, 1);
	c->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(c->fd, 0);
	ck_assert_msg(connect(c->fd, (struct sockaddr *)&ss, len) == 0 ||
		      errno == EINPROGRESS, "connect: %s", strerror(errno));
	ev_io_init(&c->io, client_cb, c->fd, EV_READ | EV_WRITE);
	ev_io_start(loop, &c->io);
	(*pending)++;
}

static void client_free(struct client *c)
{
	close(c->fd);
	free(c->buf);
}

static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ck_abort_msg("no answer in %.0f s", WATCHDOG);
	ev_break(loop, EVBREAK_ALL);
}

/* Runs the loop until every pending client is done. */
static void run_clients(struct ev_loop *loop, int *pending)
{
	ev_timer dog;

	ev_timer_init(&dog, watchdog_cb, WATCHDOG, 0.);
	ev_timer_start(loop, &dog);
	while (*pending > 0)
		ev_run(loop, 0);
	ev_timer_stop(loop, &dog);
}

/* One request, one whole response (the server closes: HTTP/1.0). */
static char *http(struct ev_loop *loop, int family, uint16_t port,
		  const char *req)
{
	struct client c;
	int pending = 0;
	char *resp;

	client_start(loop, &c, family, port, req, strlen(req), &pending);
	run_clients(loop, &pending);
	ck_assert_msg(c.err == 0, "client: %s", strerror(-c.err));
	resp = strdup(c.buf);
	client_free(&c);
	return resp;
}

static int status_of(const char *resp)
{
	int code;

	if (sscanf(resp, "HTTP/1.%*d %d ", &code) != 1)
		return -1;
	return code;
}

static const char *body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : NULL;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static struct sockaddr_in loopback4(uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

static struct metrics *start4(struct ev_loop *loop, struct fill_ctx *fc,
			      uint16_t *port)
{
	struct sockaddr_in a = loopback4(0);
	struct metrics *m = NULL;

	ck_assert_int_eq(metrics_new(&m, loop, (struct sockaddr *)&a,
				     sizeof(a), fill_sample, fc), 0);
	ck_assert_ptr_nonnull(m);
	*port = metrics_port(m);
	ck_assert_uint_ne(*port, 0);
	return m;
}

static void check_metrics_reply(const char *resp)
{
	struct report r;
	char *want;

	ck_assert_int_eq(status_of(resp), 200);
	ck_assert_msg(strstr(resp, "\r\nContent-Type: text/plain; "
			     "version=0.0.4; charset=utf-8\r\n"),
		      "content type: %s", resp);
	ck_assert_ptr_nonnull(body_of(resp));
	sample(&r);
	want = format(&r);
	ck_assert_str_eq(body_of(resp), want);
	free(want);
}

START_TEST(http_get)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fill_ctx fc = { 0 };
	struct metrics *m;
	uint16_t port;
	char *resp;

	m = start4(loop, &fc, &port);
	resp = http(loop, AF_INET, port, "GET /metrics HTTP/1.0\r\n\r\n");
	check_metrics_reply(resp);
	ck_assert_int_eq(fc.calls, 1);
	ck_assert_int_eq(count_dir("/proc/self/task"), 1);	/* no threads */
	free(resp);
	/* a fresh snapshot every time; a query string does not matter */
	resp = http(loop, AF_INET, port, "GET /metrics?x=1 HTTP/1.1\r\n"
		    "Host: localhost\r\nConnection: close\r\n\r\n");
	check_metrics_reply(resp);
	ck_assert_int_eq(fc.calls, 2);
	free(resp);
	resp = http(loop, AF_INET, port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	ck_assert_int_eq(status_of(resp), 200);
	ck_assert_str_eq(body_of(resp), "");
	free(resp);
	metrics_free(m);
	ev_loop_destroy(loop);
}
END_TEST

/* Sends each request to a fresh server; every answer has status and,
 * if has is not NULL, contains it; nothing asked for a snapshot. */
static void expect_each(const char *const *reqs, size_t n, int status,
			const char *has)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fill_ctx fc = { 0 };
	struct metrics *m;
	uint16_t port;

	m = start4(loop, &fc, &port);
	for (size_t i = 0; i < n; i++) {
		char *resp = http(loop, AF_INET, port, reqs[i]);

		ck_assert_msg(status_of(resp) == status, "%s-> %s", reqs[i],
			      resp);
		ck_assert_msg(!has || strstr(resp, has), "%s", resp);
		free(resp);
	}
	ck_assert_int_eq(fc.calls, 0);
	metrics_free(m);
	ev_loop_destroy(loop);
}

START_TEST(http_not_found)
{
	static const char *const reqs[] = {
		"GET /other HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET /metrics/x HTTP/1.0\r\n\r\n",
		"POST /other HTTP/1.0\r\nContent-Length: 1\r\n\r\nx",
	};

	expect_each(reqs, sizeof(reqs) / sizeof(reqs[0]), 404, NULL);
}
END_TEST

START_TEST(http_method)
{
	static const char *const reqs[] = {
		"POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nx=1",
		"PUT /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
		"DELETE /metrics HTTP/1.0\r\n\r\n",
	};

	expect_each(reqs, sizeof(reqs) / sizeof(reqs[0]), 405,
		    "\r\nAllow: GET, HEAD\r\n");
}
END_TEST

START_TEST(http_ipv6)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fill_ctx fc = { 0 };
	struct metrics *m = NULL;
	char *resp;
	int err;

	err = metrics_new(&m, loop, (struct sockaddr *)&a, sizeof(a),
			  fill_sample, &fc);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		fprintf(stderr, "http_ipv6: no IPv6 loopback here, skipped\n");
		ev_loop_destroy(loop);
		return;
	}
	ck_assert_int_eq(err, 0);
	resp = http(loop, AF_INET6, metrics_port(m),
		    "GET /metrics HTTP/1.0\r\n\r\n");
	check_metrics_reply(resp);
	free(resp);
	metrics_free(m);
	ev_loop_destroy(loop);
}
END_TEST

static int new_metrics(struct ev_loop *loop, const void *addr,
		       socklen_t len)
{
	struct metrics *m = (struct metrics *)&m;	/* must stay as is */
	struct fill_ctx fc = { 0 };
	int err;

	err = metrics_new(&m, loop, addr, len, fill_sample, &fc);
	ck_assert_ptr_eq(m, (struct metrics *)&m);
	return err;
}

START_TEST(bad_address)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_in a = loopback4(0);
	struct sockaddr_un u = { .sun_family = AF_UNIX, .sun_path = "x" };
	socklen_t len = sizeof(a);
	int fd;

	/* not an address of this host (TEST-NET-1), unless it is here */
	inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
	    errno == EADDRNOTAVAIL)
		ck_assert_int_eq(new_metrics(loop, &a, sizeof(a)),
				 -EADDRNOTAVAIL);
	close(fd);
	/* a port someone listens on */
	a = loopback4(0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	ck_assert_int_eq(new_metrics(loop, &a, sizeof(a)), -EADDRINUSE);
	close(fd);
	ck_assert_int_eq(new_metrics(loop, &u, sizeof(u)), -EAFNOSUPPORT);
	ck_assert_int_eq(new_metrics(loop, &a, sizeof(a) - 1), -EINVAL);
	metrics_free(NULL);
	ev_loop_destroy(loop);
}
END_TEST


static void stop_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

/* Freed with a client connected: the client is closed, the port too,
 * and no descriptor is left behind. */
START_TEST(free_with_client)
{
	static const char partial[] = "GET /metrics HTTP/1.0\r\n";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct fill_ctx fc = { 0 };
	int fds = count_dir("/proc/self/fd");
	struct sockaddr_in a;
	struct metrics *m;
	struct client c;
	int pending = 0, fd;
	uint16_t port;
	ev_timer stop;

	m = start4(loop, &fc, &port);
	client_start(loop, &c, AF_INET, port, partial, strlen(partial),
		     &pending);
	ev_timer_init(&stop, stop_cb, 0.2, 0.);	/* accepted or not: both fine */
	ev_timer_start(loop, &stop);
	ev_run(loop, 0);
	ev_timer_stop(loop, &stop);
	metrics_free(m);
	run_clients(loop, &pending);
	ck_assert_msg(!strstr(c.buf, "HTTP/"), "%s", c.buf);
	client_free(&c);
	ck_assert_int_eq(count_dir("/proc/self/fd"), fds);
	a = loopback4(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), -1);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(fd);
	ev_loop_destroy(loop);
}
END_TEST

static bool all_sent(const struct client *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (c[i].off < c[i].req_len && !c[i].done)
			return false;
	return true;
}

/* METRICS_MAX_CLIENTS idle clients fill the server: one more is refused
 * or waits until an idle one times out (after METRICS_TIMEOUT s); the
 * idle ones are closed without an answer; then it serves again. */
START_TEST(limits)
{
	static const char partial[] = "GET /metrics HTTP/1.0\r\n";
	static const char whole[] = "GET /metrics HTTP/1.0\r\n\r\n";
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct client idle[METRICS_MAX_CLIENTS], extra;
	struct fill_ctx fc = { 0 };
	struct metrics *m;
	int pending = 0;
	uint16_t port;
	double t0 = now();
	char *resp;

	m = start4(loop, &fc, &port);
	for (size_t i = 0; i < METRICS_MAX_CLIENTS; i++)
		client_start(loop, &idle[i], AF_INET, port, partial,
			     strlen(partial), &pending);
	/* connected (so queued for accept) before the extra one is */
	while (!all_sent(idle, METRICS_MAX_CLIENTS))
		ev_run(loop, EVRUN_ONCE);
	client_start(loop, &extra, AF_INET, port, whole, strlen(whole),
		     &pending);
	run_clients(loop, &pending);
	for (size_t i = 0; i < METRICS_MAX_CLIENTS; i++) {
		ck_assert_msg(!strstr(idle[i].buf, " 200 "), "%s",
			      idle[i].buf);
		ck_assert(idle[i].done_at - t0 >= METRICS_TIMEOUT - 1);
		client_free(&idle[i]);
	}
	if (status_of(extra.buf) == 200)
		ck_assert_msg(extra.done_at - t0 >= METRICS_TIMEOUT - 1,
			      "served at %.2f s with %d clients in",
			      extra.done_at - t0, METRICS_MAX_CLIENTS);
	else
		ck_assert_str_eq(extra.buf, "");
	client_free(&extra);
	resp = http(loop, AF_INET, port, whole);
	check_metrics_reply(resp);
	free(resp);
	metrics_free(m);
	ev_loop_destroy(loop);
}
END_TEST

/* The daemon binds as root and serves after dropping it. */
START_TEST(after_dropping_root)
{
	struct ev_loop *loop;
	struct fill_ctx fc = { 0 };
	struct metrics *m;
	uint16_t port;
	int status;
	pid_t pid;
	char *resp;

	if (geteuid() != 0) {
		fprintf(stderr, "after_dropping_root: not root, skipped\n");
		return;
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		loop = ev_loop_new(EVFLAG_AUTO);
		m = start4(loop, &fc, &port);
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(2);
		resp = http(loop, AF_INET, port,
			    "GET /metrics HTTP/1.0\r\n\r\n");
		check_metrics_reply(resp);
		free(resp);
		metrics_free(m);
		ev_loop_destroy(loop);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child: status %#x", status);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *fmt = tcase_create("format");
	TCase *srv = tcase_create("http");
	SRunner *sr;
	int failed;

	tcase_add_test(fmt, format_values);
	tcase_add_test(fmt, format_escapes);
	tcase_add_test(fmt, format_every_series);
	tcase_add_test(fmt, format_parses);
	tcase_add_test(fmt, format_write_error);
	suite_add_tcase(s, fmt);
	tcase_set_timeout(srv, 100);
	tcase_add_test(srv, http_get);
	tcase_add_test(srv, http_not_found);
	tcase_add_test(srv, http_method);
	tcase_add_test(srv, http_ipv6);
	tcase_add_test(srv, bad_address);
	tcase_add_test(srv, free_with_client);
	tcase_add_test(srv, limits);
	tcase_add_test(srv, after_dropping_root);
	suite_add_tcase(s, srv);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
