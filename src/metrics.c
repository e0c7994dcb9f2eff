/* SPDX-License-Identifier: MIT */
/* Prometheus metrics: the daemon's snapshot in the text exposition format,
 * served over HTTP by libmicrohttpd in the daemon's own libev loop. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics {
	struct ev_loop *loop;
	struct MHD_Daemon *mhd;
	int fd;			/* listening; MHD closes it */
	metrics_fill fill;
	void *ctx;
	ev_io io;		/* MHD's epoll fd */
	ev_timer tick;		/* when MHD wants to run next */
	struct log_rl rl;
	struct report snap;	/* filled afresh for every scrape */
};

/* One sample's value: counters exact as integers, gauges as doubles. */
struct val {
	bool exact;
	uint64_t u;
	double d;
};

struct family {
	const char *name;
	const char *help;
	bool counter;
};

static struct val U(uint64_t u)
{
	return (struct val){ .exact = true, .u = u };
}

static struct val D(double d)
{
	return (struct val){ .d = d };
}

/* Per-link series, labelled link="NAME",id="ID"; meanings as in
 * docs/CONTROL.md. */
enum {
	L_UP, L_STALLED, L_BACKUP, L_STREAM, L_WEIGHT, L_RATE_CAP,
	L_RTT, L_MIN_RTT, L_KA_RTT, L_LOSS, L_CAPACITY, L_TX_BPS, L_RX_BPS,
	L_INFLIGHT, L_CWND, L_TX_BYTES, L_RX_BYTES, L_TX_PACKETS,
	L_RX_PACKETS, L_DROPS, L_DOWNS, L_STALLS, L_RESENT, L_N
};

static const struct family link_fam[L_N] = {
	[L_UP] = { "braid_link_up",
		"1 if the link is up (it answers), else 0", false },
	[L_STALLED] = { "braid_link_stalled",
		"1 if the link is up but stopped delivering (probed, not used)",
		false },
	[L_BACKUP] = { "braid_link_backup",
		"1 if the link carries data only when no other link can",
		false },
	[L_STREAM] = { "braid_link_stream",
		"1 while the link runs over a TCP stream", false },
	[L_WEIGHT] = { "braid_link_weight", "Weight of the link", false },
	[L_RATE_CAP] = { "braid_link_rate_cap_bits_per_second",
		"Rate cap of the link in bits per second (0: none)", false },
	[L_RTT] = { "braid_link_rtt_seconds",
		"Smoothed round trip of data, of keepalives until data flowed "
		"(0: none yet)", false },
	[L_MIN_RTT] = { "braid_link_min_rtt_seconds",
		"Smallest round trip of data seen (0: none yet)", false },
	[L_KA_RTT] = { "braid_link_keepalive_rtt_seconds",
		"Last keepalive round trip (0: none yet)", false },
	[L_LOSS] = { "braid_link_loss_ratio",
		"Fraction of packets lost, smoothed", false },
	[L_CAPACITY] = { "braid_link_capacity_bits_per_second",
		"Measured delivery rate of the link in bits per second",
		false },
	[L_TX_BPS] = { "braid_link_tx_bits_per_second",
		"Wire bits per second sent over the last second", false },
	[L_RX_BPS] = { "braid_link_rx_bits_per_second",
		"Wire bits per second received over the last second", false },
	[L_INFLIGHT] = { "braid_link_inflight_bytes",
		"Bytes sent on the link and not yet confirmed", false },
	[L_CWND] = { "braid_link_cwnd_bytes",
		"Bytes the link may have in flight", false },
	[L_TX_BYTES] = { "braid_link_tx_bytes_total",
		"UDP payload bytes sent on the wire (header and tag included)",
		true },
	[L_RX_BYTES] = { "braid_link_rx_bytes_total",
		"UDP payload bytes received on the wire (header and tag "
		"included)", true },
	[L_TX_PACKETS] = { "braid_link_tx_packets_total",
		"Packets sent on the wire", true },
	[L_RX_PACKETS] = { "braid_link_rx_packets_total",
		"Packets received on the wire", true },
	[L_DROPS] = { "braid_link_drops_total",
		"Packets the link failed to send and lost", true },
	[L_DOWNS] = { "braid_link_downs_total",
		"Times the link went down", true },
	[L_STALLS] = { "braid_link_stalls_total",
		"Times the link stopped delivering", true },
	[L_RESENT] = { "braid_link_resent_total",
		"Packets of the link resent on other links", true },
};

static void link_values(const struct report_link *l, struct val *v)
{
	const struct mux_link_stats *m = &l->mux;

	v[L_UP] = U(m->up);
	v[L_STALLED] = U(m->up && m->stalled);
	v[L_BACKUP] = U(m->backup);
	v[L_STREAM] = U(m->stream);
	v[L_WEIGHT] = U(m->weight);
	v[L_RATE_CAP] = D(l->rate_cap * 8);
	v[L_RTT] = D(m->srtt ? m->srtt : m->rtt);
	v[L_MIN_RTT] = D(m->min_rtt);
	v[L_KA_RTT] = D(m->rtt);
	v[L_LOSS] = D(m->loss);
	v[L_CAPACITY] = D(m->rate * 8);
	v[L_TX_BPS] = D(l->tx_bps);
	v[L_RX_BPS] = D(l->rx_bps);
	v[L_INFLIGHT] = U(m->inflight);
	v[L_CWND] = D(m->cwnd);
	v[L_TX_BYTES] = U(l->lm.tx_bytes);
	v[L_RX_BYTES] = U(l->lm.rx_bytes);
	v[L_TX_PACKETS] = U(l->lm.tx_packets);
	v[L_RX_PACKETS] = U(l->lm.rx_packets);
	v[L_DROPS] = U(report_link_drops(&l->lm, m));
	v[L_DOWNS] = U(m->downs);
	v[L_STALLS] = U(m->stalls);
	v[L_RESENT] = U(m->resent);
}

/* The tunnel's series, unlabelled. */
enum {
	T_UPTIME, T_SESSION_AGE, T_LINKS, T_LINKS_UP, T_TX_BPS, T_RX_BPS,
	T_TUN_RX, T_TUN_TX, T_TUN_DROPS, T_NO_LINK, T_CONGESTED, T_QUEUED,
	T_COPIES, T_REXMIT_KEPT, T_HC_TX, T_HC_SAVED, T_HC_RX, T_HC_DROP, T_AUTH_FAIL, T_REPLAY, T_MALFORMED, T_STALE_SESSION,
	T_HANDSHAKES, T_HS_BAD, T_HS_RATELIMITED, T_NO_SLOT,
	T_STREAMS_REFUSED, T_STREAMS_DROPPED, T_HELD, T_LATE, T_LOST, T_DUP,
	T_OVERFLOW, T_EARLY, T_N
};

static const struct family tun_fam[T_N] = {
	[T_UPTIME] = { "braid_uptime_seconds",
		"Seconds since the daemon started", false },
	[T_SESSION_AGE] = { "braid_session_age_seconds",
		"Seconds since the current session keys (-1: none yet)",
		false },
	[T_LINKS] = { "braid_links", "Links the daemon has", false },
	[T_LINKS_UP] = { "braid_links_up", "Links that are up", false },
	[T_TX_BPS] = { "braid_tx_bits_per_second",
		"Wire bits per second sent on all links over the last second",
		false },
	[T_RX_BPS] = { "braid_rx_bits_per_second",
		"Wire bits per second received on all links over the last "
		"second", false },
	[T_TUN_RX] = { "braid_tun_rx_packets_total",
		"Packets read from the TUN device", true },
	[T_TUN_TX] = { "braid_tun_tx_packets_total",
		"Packets written to the TUN device", true },
	[T_TUN_DROPS] = { "braid_tun_drops_total",
		"Packets the TUN device did not take", true },
	[T_NO_LINK] = { "braid_no_link_drops_total",
		"Packets dropped because no link was up", true },
	[T_CONGESTED] = { "braid_congested_drops_total",
		"Packets dropped because no link had room in time", true },
	[T_QUEUED] = { "braid_queued_total",
		"Packets that waited for a link to have room", true },
	[T_COPIES] = { "braid_copies_total",
		"Second copies sent (redundant bonding)", true },
	[T_REXMIT_KEPT] = { "braid_retransmissions_kept_total",
		"TCP retransmissions that waited for room, never dropped", true },
	[T_HC_TX] = { "braid_compressed_total",
		"Packets sent with compressed TCP/IP headers", true },
	[T_HC_SAVED] = { "braid_compress_saved_bytes_total",
		"Bytes header compression saved", true },
	[T_HC_RX] = { "braid_decompressed_total",
		"Packets received with compressed headers and rebuilt", true },
	[T_HC_DROP] = { "braid_decompress_drops_total",
		"Compressed packets dropped: context unknown or checksum bad",
		true },
	[T_AUTH_FAIL] = { "braid_auth_fail_total",
		"Packets that did not authenticate", true },
	[T_REPLAY] = { "braid_replay_total",
		"Packets dropped as replayed or too old", true },
	[T_MALFORMED] = { "braid_malformed_total",
		"Packets with a bad header, version or length", true },
	[T_STALE_SESSION] = { "braid_stale_session_total",
		"Packets for no session or an expired one", true },
	[T_HANDSHAKES] = { "braid_handshakes_total",
		"Handshakes completed", true },
	[T_HS_BAD] = { "braid_handshakes_bad_total",
		"Handshake messages that failed, were replayed or outdated",
		true },
	[T_HS_RATELIMITED] = { "braid_handshakes_ratelimited_total",
		"Handshakes refused over the rate limit (master)", true },
	[T_NO_SLOT] = { "braid_link_table_full_total",
		"Packets of new links refused with the link table full "
		"(master)", true },
	[T_STREAMS_REFUSED] = { "braid_streams_refused_total",
		"TCP streams refused, too many (master)", true },
	[T_STREAMS_DROPPED] = { "braid_streams_dropped_total",
		"TCP streams closed as bad or idle (master)", true },
	[T_HELD] = { "braid_reorder_held_total",
		"Packets that waited in the reorder buffer for an earlier one",
		true },
	[T_LATE] = { "braid_reorder_late_total",
		"Packets released after their hole was given up", true },
	[T_LOST] = { "braid_reorder_lost_total",
		"Holes in the sequence given up", true },
	[T_DUP] = { "braid_reorder_dup_total",
		"Second copies dropped", true },
	[T_OVERFLOW] = { "braid_reorder_overflow_total",
		"Reorder buffer overruns (holes given up early)", true },
	[T_EARLY] = { "braid_reorder_early_total",
		"Packets released past another flow's hole", true },
};

static void tun_values(const struct report *r, struct val *v)
{
	uint64_t up = 0;

	for (size_t i = 0; i < r->nlinks; i++)
		up += r->links[i].mux.up;
	v[T_UPTIME] = D(r->uptime);
	v[T_SESSION_AGE] = D(r->session_age);
	v[T_LINKS] = U(r->nlinks);
	v[T_LINKS_UP] = U(up);
	v[T_TX_BPS] = D(r->tx_bps);
	v[T_RX_BPS] = D(r->rx_bps);
	v[T_TUN_RX] = U(r->tun_rx);
	v[T_TUN_TX] = U(r->tun_tx);
	v[T_TUN_DROPS] = U(r->tun_drops);
	v[T_NO_LINK] = U(r->mux.no_link);
	v[T_CONGESTED] = U(r->mux.congested);
	v[T_QUEUED] = U(r->mux.queued);
	v[T_COPIES] = U(r->mux.copies);
	v[T_REXMIT_KEPT] = U(r->mux.rexmit_kept);
	v[T_HC_TX] = U(r->mux.hc_tx);
	v[T_HC_SAVED] = U(r->mux.hc_saved);
	v[T_HC_RX] = U(r->mux.hc_rx);
	v[T_HC_DROP] = U(r->mux.hc_drop);
	v[T_AUTH_FAIL] = U(r->lm.auth_fail);
	v[T_REPLAY] = U(r->lm.replay);
	v[T_MALFORMED] = U(r->lm.malformed + r->mux.malformed);
	v[T_STALE_SESSION] = U(r->lm.stale_session);
	v[T_HANDSHAKES] = U(r->lm.hs_init);
	v[T_HS_BAD] = U(r->lm.hs_bad + r->lm.hs_stale);
	v[T_HS_RATELIMITED] = U(r->lm.hs_ratelimited);
	v[T_NO_SLOT] = U(r->lm.no_slot);
	v[T_STREAMS_REFUSED] = U(r->lm.streams_refused);
	v[T_STREAMS_DROPPED] = U(r->lm.streams_dropped);
	v[T_HELD] = U(r->mux.reorder.held);
	v[T_LATE] = U(r->mux.reorder.late);
	v[T_LOST] = U(r->mux.reorder.lost);
	v[T_DUP] = U(r->mux.reorder.dup);
	v[T_OVERFLOW] = U(r->mux.reorder.overflow);
	v[T_EARLY] = U(r->mux.reorder.early);
}

static void put_header(FILE *f, const char *name, const char *help,
		       bool counter)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		counter ? "counter" : "gauge");
}

static void put_val(FILE *f, struct val v)
{
	if (v.exact)
		fprintf(f, " %" PRIu64 "\n", v.u);
	else if (isnan(v.d))
		fputs(" NaN\n", f);
	else if (isinf(v.d))
		fputs(v.d > 0 ? " +Inf\n" : " -Inf\n", f);
	else
		fprintf(f, " %.15g\n", v.d);
}

/* A label: name="value", the value escaped as the format asks (at most
 * max bytes of s: names live in fixed arrays). */
static void put_label(FILE *f, const char *sep, const char *name,
		      const char *s, size_t max)
{
	fprintf(f, "%s%s=\"", sep, name);
	for (size_t i = 0; s && i < max && s[i]; i++) {
		if (s[i] == '\\')
			fputs("\\\\", f);
		else if (s[i] == '"')
			fputs("\\\"", f);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else
			fputc(s[i], f);
	}
	fputc('"', f);
}

static void put_info(const struct report *r, FILE *f)
{
	put_header(f, "braid_info", "The daemon's version and settings; "
		   "always 1", false);
	fputs("braid_info", f);
	put_label(f, "{", "version", BRAID_VERSION, SIZE_MAX);
	put_label(f, ",", "mode", r->master ? "master" : "slave", SIZE_MAX);
	put_label(f, ",", "device", r->device, sizeof(r->device));
	put_label(f, ",", "scheduler", r->scheduler, SIZE_MAX);
	put_label(f, ",", "bonding", r->bonding, SIZE_MAX);
	fputs("}", f);
	put_val(f, U(1));
}

static void put_link_info(const struct report *r, FILE *f)
{
	put_header(f, "braid_link_info", "A link's id, type (empty on the "
		   "master), interface and proxy; always 1", false);
	for (size_t i = 0; i < r->nlinks; i++) {
		const struct report_link *l = &r->links[i];
		char id[8];

		snprintf(id, sizeof(id), "%u", (unsigned)l->id);
		fputs("braid_link_info", f);
		put_label(f, "{", "link", l->mux.name, sizeof(l->mux.name));
		put_label(f, ",", "id", id, sizeof(id));
		put_label(f, ",", "type", l->type, SIZE_MAX);
		put_label(f, ",", "interface", l->ifname, sizeof(l->ifname));
		put_label(f, ",", "proxy", l->proxy, sizeof(l->proxy));
		fputs("}", f);
		put_val(f, U(1));
	}
}

static void put_links(const struct report *r, FILE *f)
{
	struct val v[L_N];

	put_link_info(r, f);
	for (size_t k = 0; k < L_N; k++) {
		put_header(f, link_fam[k].name, link_fam[k].help,
			   link_fam[k].counter);
		for (size_t i = 0; i < r->nlinks; i++) {
			const struct report_link *l = &r->links[i];
			char id[8];

			link_values(l, v);
			snprintf(id, sizeof(id), "%u", (unsigned)l->id);
			fputs(link_fam[k].name, f);
			/* the id too: a link being removed and its
			 * successor may share a name for a moment */
			put_label(f, "{", "link", l->mux.name,
				  sizeof(l->mux.name));
			put_label(f, ",", "id", id, sizeof(id));
			fputs("}", f);
			put_val(f, v[k]);
		}
	}
}

int metrics_format(const struct report *r, FILE *f)
{
	struct val v[T_N];

	put_info(r, f);
	tun_values(r, v);
	for (size_t k = 0; k < T_N; k++) {
		put_header(f, tun_fam[k].name, tun_fam[k].help,
			   tun_fam[k].counter);
		fputs(tun_fam[k].name, f);
		put_val(f, v[k]);
	}
	put_links(r, f);
	if (fflush(f) == EOF || ferror(f))
		return -EIO;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
			     char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					"GET, HEAD");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? CONTENT_TYPE :
				"text/plain; charset=utf-8");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn,
				  unsigned status, const char *text)
{
	return reply(conn, status, (char *)text, strlen(text),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result reply_metrics(struct metrics *m,
				     struct MHD_Connection *conn)
{
	char *body = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&body, &len);
	int err;

	if (!f)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "out of memory\n");
	memset(&m->snap, 0, sizeof(m->snap));
	m->snap.session_age = -1;
	m->fill(m->ctx, &m->snap);
	err = metrics_format(&m->snap, f);
	if (fclose(f) != 0 || err < 0) {
		free(body);
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "cannot format the metrics\n");
	}
	return reply(conn, MHD_HTTP_OK, body, len, MHD_RESPMEM_MUST_FREE);
}

/* Answers as soon as the headers are in (a body is not read); MHD then
 * closes the connection: one request each, no idle slots between
 * scrapes. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **req_cls)
{
	struct metrics *m = cls;

	(void)version;
	(void)upload;
	(void)upload_len;
	(void)req_cls;
	if (strcmp(url, "/metrics") != 0)
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found: try "
				  "/metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				  "method not allowed\n");
	return reply_metrics(m, conn);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics *m = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '.'))
		msg[--n] = '\0';
	log_warn_rl(&m->rl, "metrics: %s", msg);
}

/* Runs MHD and sets the timer to when it wants to run again (0: at
 * once, it has data in hand). */
static void mhd_step(struct metrics *m, bool run)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (run)
		MHD_run(m->mhd);
	ev_timer_stop(m->loop, &m->tick);
	if (MHD_get_timeout(m->mhd, &ms) == MHD_YES) {
		ev_timer_set(&m->tick, (double)ms / 1e3, 0.);
		ev_timer_start(m->loop, &m->tick);
	}
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	mhd_step(container_of(w, struct metrics, io), true);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	mhd_step(container_of(w, struct metrics, tick), true);
}

static int listen_on(const struct sockaddr *addr, socklen_t addr_len)
{
	int one = 1;
	int fd, err;

	if (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	if (addr_len < (addr->sa_family == AF_INET ?
			sizeof(struct sockaddr_in) :
			sizeof(struct sockaddr_in6)))
		return -EINVAL;
	fd = socket(addr->sa_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, addr, addr_len) < 0 ||
	    listen(fd, 4 * METRICS_MAX_CLIENTS) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int start_mhd(struct metrics *m)
{
	const union MHD_DaemonInfo *info;

	m->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0,
		NULL, NULL, answer, m,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, m,
		MHD_OPTION_LISTEN_SOCKET, m->fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_MAX_CLIENTS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_TIMEOUT,
		MHD_OPTION_END);
	if (!m->mhd)
		return -EIO;
	info = MHD_get_daemon_info(m->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		MHD_stop_daemon(m->mhd);
		m->mhd = NULL;
		return -EIO;
	}
	ev_io_init(&m->io, io_cb, info->epoll_fd, EV_READ);
	return 0;
}

int metrics_new(struct metrics **out, struct ev_loop *loop,
		const struct sockaddr *addr, socklen_t addr_len,
		metrics_fill fill, void *ctx)
{
	struct metrics *m;
	int err;

	if (!fill)
		return -EINVAL;
	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) != MHD_YES)
		return -ENOTSUP;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->fill = fill;
	m->ctx = ctx;
	m->fd = listen_on(addr, addr_len);
	if (m->fd < 0) {
		err = m->fd;
		goto out_free;
	}
	err = start_mhd(m);
	if (err < 0)
		goto out_close;
	ev_init(&m->tick, tick_cb);
	ev_io_start(loop, &m->io);
	mhd_step(m, false);
	*out = m;
	return 0;
out_close:
	/* whether a failed MHD_start_daemon closed it is not documented */
	if (fcntl(m->fd, F_GETFD) >= 0)
		close(m->fd);
out_free:
	free(m);
	return err;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	ev_io_stop(m->loop, &m->io);
	ev_timer_stop(m->loop, &m->tick);
	MHD_stop_daemon(m->mhd);	/* closes the clients and m->fd */
	free(m);
}

uint16_t metrics_port(const struct metrics *m)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(m->fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
