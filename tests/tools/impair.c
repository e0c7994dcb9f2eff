/* SPDX-License-Identifier: MIT */
/* impair: a two-port Ethernet bridge adding delay, jitter, loss and a rate limit. */

/*
 * Usage: impair IF_A IF_B [--stats] [--ctl PATH] [--seed N] [--buffer MB]
 *               [--[a2b-|b2a-]{delay,jitter,queue} MS] [--[...]loss PCT]
 *               [--[...]rate RATE] [--[...]reorder]
 *
 * Every frame read on one interface goes out on the other, per direction:
 * loss on arrival, then a bottleneck queue drained at RATE (tail drop past
 * QUEUE ms of backlog), then DELAY +- JITTER (uniform). Order is kept unless
 * reorder is on. tests/tools/impair.md is the manual.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <arpa/inet.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define NS		1000000000LL
#define MS		1000000LL
#define VNET_LEN	sizeof(struct virtio_net_hdr)
#define FRAME_MAX	(65536 + 256)	/* a GSO frame off a veth, headers too */
#define NDESC		65536u		/* frames held per direction (2^n) */
#define DESC_MASK	(NDESC - 1)
#define BATCH		64		/* frames read per port per wake-up */
#define EARLY_NS	50000		/* release frames due this soon now */
#define SOCKBUF		(4 << 20)
#define CLIENTS_MAX	8
#define CTL_LINE	512
#define OUT_MAX		2048
#define NFDS		(4 + CLIENTS_MAX)

struct params {
	int64_t delay;		/* ns */
	int64_t jitter;		/* ns; uniform in [-jitter, +jitter] */
	double loss;		/* probability, 0..1 */
	uint64_t rate;		/* bit/s; 0 = unlimited */
	int64_t queue;		/* ns of backlog at RATE before tail drop */
	bool reorder;
};

struct counters {
	uint64_t frames, bytes;		/* forwarded (Ethernet frame bytes) */
	uint64_t loss, queue, full;	/* dropped: random, tail, no buffer */
	uint64_t err, kernel;		/* truncated or send failed; rx overrun */
};

struct desc {
	int64_t when;		/* release time, CLOCK_MONOTONIC ns */
	uint32_t off, len;	/* in the byte ring; len counts the vnet header */
	bool sent;
};

/*
 * One direction. Frames sit in a byte ring in arrival order (descriptors
 * tail..head) and leave in release-time order through a heap; space comes
 * back when the oldest frame has left.
 */
struct dir {
	const char *name;
	int rx, tx;
	struct params p;
	struct counters c;
	int64_t link_free;	/* when the bottleneck has sent its backlog */
	int64_t last;		/* latest release time handed out */
	unsigned char *buf;
	size_t size, wr;
	struct desc *d;
	uint32_t head, tail;	/* sequence numbers */
	uint32_t *heap, nheap;
};

struct client {
	int fd;
	size_t len;
	char buf[CTL_LINE];
};

struct impair {
	const char *ifname[2];
	int sock[2];
	struct dir dir[2];	/* a2b reads sock[0], b2a reads sock[1] */
	int sigfd, ctl;
	const char *ctl_path;
	struct client cl[CLIENTS_MAX];
	bool stats_at_exit;
	size_t bufsize;
	uint64_t rng;
	unsigned char frame[FRAME_MAX];
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* splitmix64: small and fast, plenty for loss and jitter draws. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s)	/* uniform in [0, 1) */
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

/* --- parameters ------------------------------------------------------- */

static int parse_num(const char *s, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= max))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_ms(const char *s, int64_t *ns)
{
	double v;

	if (parse_num(s, 600000, &v) < 0)
		return -EINVAL;
	*ns = (int64_t)(v * MS + 0.5);
	return 0;
}

/* "20mbit", "512kbit", "1gbit", "800000" (bit/s); 0 = unlimited. */
static int parse_rate(const char *s, uint64_t *bps)
{
	static const struct { const char *sfx; double mul; } units[] = {
		{ "", 1 }, { "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 },
		{ "gbit", 1e9 },
	};
	char *end;
	double v;
	size_t i;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].sfx) == 0) {
			v *= units[i].mul;
			if (v > 1e11 || (v > 0 && v < 1000))
				return -EINVAL;	/* 1 kbit/s .. 100 Gbit/s */
			*bps = (uint64_t)v;
			return 0;
		}
	}
	return -EINVAL;
}

/* Set one parameter by name: 0, -ENOENT (no such name) or -EINVAL. */
static int param_set(struct params *p, const char *key, const char *val)
{
	double v;

	if (strcmp(key, "delay") == 0)
		return parse_ms(val, &p->delay);
	if (strcmp(key, "jitter") == 0)
		return parse_ms(val, &p->jitter);
	if (strcmp(key, "queue") == 0)
		return parse_ms(val, &p->queue);
	if (strcmp(key, "rate") == 0)
		return parse_rate(val, &p->rate);
	if (strcmp(key, "loss") == 0) {
		if (parse_num(val, 100, &v) < 0)
			return -EINVAL;
		p->loss = v / 100;
		return 0;
	}
	if (strcmp(key, "reorder") == 0) {
		if (strcmp(val, "1") && strcmp(val, "on") &&
		    strcmp(val, "0") && strcmp(val, "off"))
			return -EINVAL;
		p->reorder = strcmp(val, "1") == 0 || strcmp(val, "on") == 0;
		return 0;
	}
	return -ENOENT;
}

static size_t params_format(const struct impair *im, char *buf, size_t n)
{
	size_t k = 0;
	int i;

	for (i = 0; i < 2 && k < n; i++) {
		const struct params *p = &im->dir[i].p;

		k += (size_t)snprintf(buf + k, n - k,
			"impair %s delay=%gms jitter=%gms loss=%g%% rate=%" PRIu64
			"bit queue=%gms reorder=%d\n", im->dir[i].name,
			(double)p->delay / MS, (double)p->jitter / MS,
			p->loss * 100, p->rate, (double)p->queue / MS,
			p->reorder);
	}
	return k < n ? k : n - 1;
}

/* --- per-direction queue ---------------------------------------------- */

static int dir_alloc(struct dir *d, size_t size)
{
	d->buf = malloc(size);
	d->d = calloc(NDESC, sizeof(*d->d));
	d->heap = calloc(NDESC, sizeof(*d->heap));
	d->size = size;
	return d->buf && d->d && d->heap ? 0 : -ENOMEM;
}

static void dir_free(struct dir *d)
{
	free(d->heap);
	free(d->d);
	free(d->buf);
}

static bool earlier(const struct dir *d, uint32_t x, uint32_t y)
{
	int64_t a = d->d[x & DESC_MASK].when, b = d->d[y & DESC_MASK].when;

	return a != b ? a < b : (int32_t)(x - y) < 0;
}

static void heap_push(struct dir *d, uint32_t s)
{
	uint32_t i = d->nheap++, up;

	while (i > 0) {
		up = (i - 1) / 2;
		if (!earlier(d, s, d->heap[up]))
			break;
		d->heap[i] = d->heap[up];
		i = up;
	}
	d->heap[i] = s;
}

static void heap_pop(struct dir *d)
{
	uint32_t last = d->heap[--d->nheap], n = d->nheap, i = 0, c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && earlier(d, d->heap[c + 1], d->heap[c]))
			c++;
		if (!earlier(d, d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (n)
		d->heap[i] = last;
}

/* Offset for LEN contiguous bytes in the byte ring, or -1 when full. */
static long ring_alloc(struct dir *d, size_t len)
{
	size_t rd;

	if (d->head - d->tail == NDESC)
		return -1;
	if (d->head == d->tail)
		return len <= d->size ? 0 : -1;
	rd = d->d[d->tail & DESC_MASK].off;
	if (d->wr >= rd) {
		if (d->size - d->wr >= len)
			return (long)d->wr;
		return rd > len ? 0 : -1;
	}
	return rd - d->wr > len ? (long)d->wr : -1;
}

static int64_t draw_delay(const struct params *p, uint64_t *rng)
{
	int64_t v = p->delay;

	if (p->jitter > 0)
		v += (int64_t)((2 * rng_unit(rng) - 1) * (double)p->jitter);
	return v < 0 ? 0 : v;
}

/*
 * Schedule frame F (vnet header + Ethernet frame, LEN bytes) that arrived
 * at NOW: loss, then the bottleneck (it leaves once fully serialized), then
 * the propagation delay. Without reorder no frame leaves before one that
 * came earlier, so jitter stretches gaps but never swaps frames.
 */
static void dir_enqueue(struct impair *im, struct dir *d,
			const unsigned char *f, size_t len, int64_t now)
{
	const struct params *p = &d->p;
	int64_t start = now, t = now, ser = 0;
	struct desc *x;
	long off;

	if (p->loss > 0 && rng_unit(&im->rng) < p->loss) {
		d->c.loss++;
		return;
	}
	if (p->rate) {
		ser = (int64_t)((len - VNET_LEN) * 8 * (uint64_t)NS / p->rate);
		if (d->link_free > now)
			start = d->link_free;
		if (start > now && start - now + ser > p->queue) {
			d->c.queue++;
			return;
		}
	}
	off = ring_alloc(d, len);
	if (off < 0) {
		d->c.full++;
		return;
	}
	if (p->rate) {
		d->link_free = start + ser;
		t = d->link_free;
	}
	t += draw_delay(p, &im->rng);
	if (!p->reorder && t < d->last)
		t = d->last;
	if (t > d->last)
		d->last = t;

	x = &d->d[d->head & DESC_MASK];
	*x = (struct desc){ .when = t, .off = (uint32_t)off,
			    .len = (uint32_t)len };
	memcpy(d->buf + off, f, len);
	d->wr = (size_t)off + len;
	heap_push(d, d->head++);
}

/* Read up to BATCH frames from the direction's receiving port. */
static void dir_rx(struct impair *im, struct dir *d)
{
	struct sockaddr_ll sll;
	socklen_t slen;
	ssize_t n;
	int i;

	for (i = 0; i < BATCH; i++) {
		slen = sizeof(sll);
		n = recvfrom(d->rx, im->frame, sizeof(im->frame), MSG_TRUNC,
			     (struct sockaddr *)&sll, &slen);
		if (n < 0)
			return;
		if (sll.sll_pkttype == PACKET_OUTGOING)
			continue;
		if ((size_t)n > sizeof(im->frame)) {
			d->c.err++;
			continue;
		}
		if ((size_t)n < VNET_LEN + ETH_HLEN)
			continue;
		dir_enqueue(im, d, im->frame, (size_t)n, now_ns());
	}
}

/* Send every frame due by NOW, then give back the space of those gone. */
static void dir_flush(struct dir *d, int64_t now)
{
	struct desc *x;

	while (d->nheap) {
		x = &d->d[d->heap[0] & DESC_MASK];
		if (x->when > now + EARLY_NS)
			break;
		heap_pop(d);
		x->sent = true;
		/* "checksum verified here" means nothing on the next link */
		d->buf[x->off + offsetof(struct virtio_net_hdr, flags)] &=
			(unsigned char)~VIRTIO_NET_HDR_F_DATA_VALID;
		if (send(d->tx, d->buf + x->off, x->len, MSG_DONTWAIT) < 0) {
			d->c.err++;
		} else {
			d->c.frames++;
			d->c.bytes += x->len - VNET_LEN;
		}
	}
	while (d->tail != d->head && d->d[d->tail & DESC_MASK].sent)
		d->tail++;
}

static int64_t next_due(const struct impair *im)
{
	int64_t t = INT64_MAX, w;
	int i;

	for (i = 0; i < 2; i++) {
		const struct dir *d = &im->dir[i];

		if (!d->nheap)
			continue;
		w = d->d[d->heap[0] & DESC_MASK].when;
		if (w < t)
			t = w;
	}
	return t;
}

static size_t stats_format(struct impair *im, char *buf, size_t n)
{
	struct tpacket_stats st;
	socklen_t sl;
	size_t k = 0;
	int i;

	for (i = 0; i < 2 && k < n; i++) {
		struct dir *d = &im->dir[i];
		struct counters *c = &d->c;

		sl = sizeof(st);	/* reading resets the kernel's count */
		if (getsockopt(d->rx, SOL_PACKET, PACKET_STATISTICS, &st,
			       &sl) == 0)
			c->kernel += st.tp_drops;
		k += (size_t)snprintf(buf + k, n - k,
			"impair stats %s frames=%" PRIu64 " bytes=%" PRIu64
			" drop_loss=%" PRIu64 " drop_queue=%" PRIu64
			" drop_full=%" PRIu64 " drop_err=%" PRIu64
			" drop_kernel=%" PRIu64 " held=%" PRIu32 "\n", d->name,
			c->frames, c->bytes, c->loss, c->queue, c->full,
			c->err, c->kernel, d->nheap);
	}
	return k < n ? k : n - 1;
}

static void stats_print(struct impair *im)
{
	char out[OUT_MAX];

	stats_format(im, out, sizeof(out));
	fputs(out, stdout);
	fflush(stdout);
}

/* --- ports -------------------------------------------------------------- */

/*
 * A packet socket on IFNAME: all protocols, promiscuous, with virtio-net
 * headers so GSO frames and pending checksums cross the bridge intact.
 * Opened with protocol 0 (deaf) and bound to one interface before it hears.
 */
static int port_open(const char *ifname, int *out)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_protocol = htons(ETH_P_ALL) };
	struct packet_mreq mr = { .mr_type = PACKET_MR_PROMISC };
	int one = 1, sz = SOCKBUF, fd, rc;

	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex)
		return -errno;
	mr.mr_ifindex = sll.sll_ifindex;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof(one)) < 0)
		goto out_close;
	/* Older kernels lack it; dir_rx checks the packet type anyway. */
	setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		goto out_close;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr,
		       sizeof(mr)) < 0)
		goto out_close;
	*out = fd;
	return 0;

out_close:
	rc = -errno;
	close(fd);
	return rc;
}

/* --- control socket ----------------------------------------------------- */

static int ctl_open(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);	/* left by a killed run */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, CLIENTS_MAX) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

/* Apply "[a2b|b2a|both] KEY VALUE [KEY VALUE...]" all or nothing. */
static void ctl_set(struct impair *im, char *tok, char **save, char *out,
		    size_t n)
{
	struct params tmp[2] = { im->dir[0].p, im->dir[1].p };
	unsigned int mask = 3;
	char *val;
	int i, rc;

	if (strcmp(tok, "a2b") == 0 || strcmp(tok, "b2a") == 0 ||
	    strcmp(tok, "both") == 0) {
		mask = tok[0] == 'a' ? 1 : tok[0] == 'b' && tok[1] == '2' ? 2 : 3;
		tok = strtok_r(NULL, " \t\r", save);
	}
	if (!tok) {
		snprintf(out, n, "error: nothing to set\n");
		return;
	}
	for (; tok; tok = strtok_r(NULL, " \t\r", save)) {
		val = strtok_r(NULL, " \t\r", save);
		for (i = 0; i < 2; i++) {
			if (!(mask & (1u << i)))
				continue;
			rc = val ? param_set(&tmp[i], tok, val) : -EINVAL;
			if (rc == -ENOENT) {
				snprintf(out, n, "error: unknown setting %s\n", tok);
				return;
			}
			if (rc < 0) {
				snprintf(out, n, "error: bad value for %s\n", tok);
				return;
			}
		}
	}
	im->dir[0].p = tmp[0];
	im->dir[1].p = tmp[1];
	params_format(im, out, n);
	fputs(out, stderr);
	snprintf(out, n, "ok\n");
}

static void ctl_line(struct impair *im, char *line, char *out, size_t n)
{
	char *save, *tok = strtok_r(line, " \t\r", &save);
	size_t k;

	out[0] = '\0';
	if (!tok || tok[0] == '#')
		return;
	if (strcmp(tok, "stats") == 0 || strcmp(tok, "show") == 0) {
		k = tok[1] == 't' ? stats_format(im, out, n - 4)
				  : params_format(im, out, n - 4);
		strcpy(out + k, "ok\n");
		return;
	}
	ctl_set(im, tok, &save, out, n);
}

static void client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->len = 0;
}

static void client_reply(struct impair *im, struct client *c, char *line)
{
	char out[OUT_MAX];

	ctl_line(im, line, out, sizeof(out));
	if (out[0])
		send(c->fd, out, strlen(out), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void client_read(struct impair *im, struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
	char *nl;
	size_t used;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->buf[c->len] = '\0';	/* a last line without '\n' */
		if (c->len)
			client_reply(im, c, c->buf);
		client_close(c);
		return;
	}
	c->len += (size_t)n;
	while ((nl = memchr(c->buf, '\n', c->len))) {
		*nl = '\0';
		client_reply(im, c, c->buf);
		used = (size_t)(nl - c->buf) + 1;
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	if (c->len == sizeof(c->buf) - 1) {
		send(c->fd, "error: line too long\n", 21, MSG_NOSIGNAL);
		client_close(c);
	}
}

static void ctl_accept(struct impair *im)
{
	int fd = accept4(im->ctl, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int i;

	if (fd < 0)
		return;
	for (i = 0; i < CLIENTS_MAX; i++) {
		if (im->cl[i].fd < 0) {
			im->cl[i].fd = fd;
			im->cl[i].len = 0;
			return;
		}
	}
	send(fd, "error: busy\n", 12, MSG_NOSIGNAL);
	close(fd);
}

/* --- main loop ---------------------------------------------------------- */

/* 1 when asked to exit, else 0. */
static int signals_read(struct impair *im)
{
	struct signalfd_siginfo si;

	while (read(im->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo != SIGUSR1)
			return 1;
		stats_print(im);
	}
	return 0;
}

static int run(struct impair *im)
{
	struct pollfd pf[NFDS];
	struct timespec ts, *tsp;
	int64_t now, due;
	int i;

	for (;;) {
		now = now_ns();
		due = next_due(im);
		tsp = NULL;
		if (due != INT64_MAX) {
			due = due > now ? due - now : 0;
			ts = (struct timespec){ due / NS, due % NS };
			tsp = &ts;
		}
		pf[0] = (struct pollfd){ .fd = im->sock[0], .events = POLLIN };
		pf[1] = (struct pollfd){ .fd = im->sock[1], .events = POLLIN };
		pf[2] = (struct pollfd){ .fd = im->sigfd, .events = POLLIN };
		pf[3] = (struct pollfd){ .fd = im->ctl, .events = POLLIN };
		for (i = 0; i < CLIENTS_MAX; i++)
			pf[4 + i] = (struct pollfd){ .fd = im->cl[i].fd,
						     .events = POLLIN };
		if (ppoll(pf, NFDS, tsp, NULL) < 0) {
			if (errno == EINTR)
				continue;
			perror("impair: ppoll");
			return 1;
		}
		if ((pf[2].revents & POLLIN) && signals_read(im))
			return 0;
		for (i = 0; i < 2; i++)
			if (pf[i].revents)
				dir_rx(im, &im->dir[i]);
		if (pf[3].revents & POLLIN)
			ctl_accept(im);
		for (i = 0; i < CLIENTS_MAX; i++)
			if (pf[4 + i].revents)
				client_read(im, &im->cl[i]);
		now = now_ns();
		dir_flush(&im->dir[0], now);
		dir_flush(&im->dir[1], now);
	}
}

static void usage(FILE *f)
{
	fputs("usage: impair IF_A IF_B [options]\n"
	      "  --delay MS      one-way delay (default 0)\n"
	      "  --jitter MS     +- uniform jitter on the delay; keeps order\n"
	      "  --reorder       let jitter reorder frames\n"
	      "  --loss PCT      random loss, e.g. 0.5\n"
	      "  --rate RATE     bottleneck rate: 20mbit, 512kbit, bit/s; 0 = none\n"
	      "  --queue MS      bottleneck queue, as time at RATE (default 100)\n"
	      "  --a2b-X, --b2a-X  option X for one direction (IF_A->IF_B, IF_B->IF_A)\n"
	      "  --ctl PATH      control socket: lines like 'a2b loss 100'\n"
	      "  --stats         print counters at exit (SIGUSR1: any time)\n"
	      "  --seed N        fixed random seed\n"
	      "  --buffer MB     frame buffer per direction (default 16)\n", f);
}

/* One "--[a2b-|b2a-]KEY" option with its value: 0 or -1 (reported). */
static int parse_opt(struct impair *im, const char *key, const char *val)
{
	unsigned int mask = strncmp(key, "a2b-", 4) == 0 ? 1 :
			    strncmp(key, "b2a-", 4) == 0 ? 2 : 3;
	const char *k = mask == 3 ? key : key + 4;
	double mb;
	int d, rc = 0;

	if (mask == 3 && strcmp(k, "ctl") == 0) {
		im->ctl_path = val;
	} else if (mask == 3 && strcmp(k, "seed") == 0) {
		im->rng = strtoull(val, NULL, 0);
	} else if (mask == 3 && strcmp(k, "buffer") == 0) {
		rc = parse_num(val, 4096, &mb) < 0 || mb < 1 ? -EINVAL : 0;
		im->bufsize = (size_t)(mb * (1 << 20));
	} else {
		for (d = 0; d < 2 && rc == 0; d++)
			if (mask & (1u << d))
				rc = param_set(&im->dir[d].p, k, val);
	}
	if (rc == -ENOENT)
		fprintf(stderr, "impair: unknown option --%s\n", key);
	else if (rc < 0)
		fprintf(stderr, "impair: bad value for --%s: '%s'\n", key, val);
	return rc < 0 ? -1 : 0;
}

/* "--KEY VALUE", "--KEY=VALUE", flags; 0, 1 (help) or -1 (reported). */
static int parse_args(struct impair *im, int argc, char **argv)
{
	char key[32], *eq, *k;
	const char *val;
	int i, npos = 0;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) != 0) {
			if (npos == 2) {
				fprintf(stderr, "impair: extra argument '%s'\n",
					argv[i]);
				return -1;
			}
			im->ifname[npos++] = argv[i];
			continue;
		}
		snprintf(key, sizeof(key), "%s", argv[i] + 2);
		eq = strchr(key, '=');
		val = eq ? strchr(argv[i], '=') + 1 : NULL;
		if (eq)
			*eq = '\0';
		k = strncmp(key, "a2b-", 4) && strncmp(key, "b2a-", 4) ? key : key + 4;
		if (strcmp(key, "help") == 0)
			return 1;
		if (strcmp(key, "stats") == 0) {
			im->stats_at_exit = true;
			continue;
		}
		if (!val && strcmp(k, "reorder") == 0)
			val = "1";
		if (!val && i + 1 == argc) {
			fprintf(stderr, "impair: --%s needs a value\n", key);
			return -1;
		}
		if (parse_opt(im, key, val ? val : argv[++i]) < 0)
			return -1;
	}
	if (npos != 2 || strcmp(im->ifname[0], im->ifname[1]) == 0) {
		fprintf(stderr, "impair: need two different interfaces\n");
		return -1;
	}
	return 0;
}

static int signals_open(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void impair_init(struct impair *im)
{
	int i;

	im->sock[0] = im->sock[1] = im->sigfd = im->ctl = -1;
	for (i = 0; i < CLIENTS_MAX; i++)
		im->cl[i].fd = -1;
	im->dir[0].name = "a2b";
	im->dir[1].name = "b2a";
	im->dir[0].p.queue = im->dir[1].p.queue = 100 * MS;
	im->bufsize = 16 << 20;
	if (getrandom(&im->rng, sizeof(im->rng), 0) < 0)
		im->rng = (uint64_t)now_ns();
}

static int impair_open(struct impair *im)
{
	char out[OUT_MAX];
	int i, rc;

	for (i = 0; i < 2; i++) {
		if (dir_alloc(&im->dir[i], im->bufsize) < 0) {
			fprintf(stderr, "impair: out of memory\n");
			return -ENOMEM;
		}
		rc = port_open(im->ifname[i], &im->sock[i]);
		if (rc < 0) {
			fprintf(stderr, "impair: %s: %s\n", im->ifname[i],
				strerror(-rc));
			return rc;
		}
	}
	im->dir[0].rx = im->dir[1].tx = im->sock[0];
	im->dir[1].rx = im->dir[0].tx = im->sock[1];
	im->sigfd = signals_open();
	if (im->sigfd < 0) {
		perror("impair: signalfd");
		return -1;
	}
	if (im->ctl_path) {
		im->ctl = ctl_open(im->ctl_path);
		if (im->ctl < 0) {
			fprintf(stderr, "impair: %s: %s\n", im->ctl_path,
				strerror(-im->ctl));
			return im->ctl;
		}
	}
	params_format(im, out, sizeof(out));
	fputs(out, stderr);
	fprintf(stderr, "impair: ready, a=%s b=%s\n", im->ifname[0],
		im->ifname[1]);
	return 0;
}

static void impair_close(struct impair *im)
{
	int i;

	for (i = 0; i < CLIENTS_MAX; i++)
		if (im->cl[i].fd >= 0)
			client_close(&im->cl[i]);
	if (im->ctl >= 0) {
		close(im->ctl);
		unlink(im->ctl_path);
	}
	if (im->sigfd >= 0)
		close(im->sigfd);
	for (i = 0; i < 2; i++) {
		if (im->sock[i] >= 0)
			close(im->sock[i]);
		dir_free(&im->dir[i]);
	}
}

int main(int argc, char **argv)
{
	struct impair *im = calloc(1, sizeof(*im));
	int rc;

	if (!im)
		return 1;
	impair_init(im);
	rc = parse_args(im, argc, argv);
	if (rc != 0) {
		usage(rc > 0 ? stdout : stderr);
		free(im);
		return rc > 0 ? 0 : 2;
	}
	rc = impair_open(im) < 0 ? 1 : run(im);
	if (rc == 0 && im->stats_at_exit)
		stats_print(im);
	impair_close(im);
	free(im);
	return rc;
}
