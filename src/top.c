/* SPDX-License-Identifier: MIT */
/* `braid top`: asks the daemon for its status every interval and draws it
 * full-screen with ncurses until the user quits. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>

#include "ctl.h"
#include "log.h"
#include "view-int.h"

enum { PAIR_UP = 1, PAIR_STALLED, PAIR_DOWN, PAIR_BAR };

struct top {
	const char *path;
	double interval;
	struct json_object *req;
	struct json_object *status;	/* last good reply, NULL none */
	char problem[300];		/* why there is none */
	bool colour;
};

/* Set by the signal handlers, read by the loop (signals are blocked but
 * while it waits). */
static volatile sig_atomic_t top_quit, top_resized;

static void top_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_quit = 1;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void top_poll(struct top *t)
{
	struct json_object *resp = NULL;
	struct json_object *ok;
	char err[256];
	double timeout = t->interval < 2 ? t->interval : 2;

	json_object_put(t->status);
	t->status = NULL;
	if (ctl_call(t->path, t->req, &resp, timeout < 0.5 ? 0.5 : timeout,
		     err, sizeof(err)) < 0) {
		snprintf(t->problem, sizeof(t->problem),
			 "daemon not answering: %s", err);
		return;
	}
	ok = view_field(resp, "ok");
	if (!json_object_is_type(ok, json_type_boolean) ||
	    !json_object_get_boolean(ok)) {
		snprintf(t->problem, sizeof(t->problem), "daemon says: %s",
			 view_clean(err, sizeof(err), view_str(resp, "error")));
		json_object_put(resp);
		return;
	}
	t->problem[0] = '\0';
	t->status = resp;
}

static void colour_span(const struct top *t, int y, int x, int n, int pair)
{
	if (t->colour && x >= 0 && n > 0)
		mvchgat(y, x, n, pair == PAIR_BAR ? A_NORMAL : A_BOLD, pair,
			NULL);
}

static int state_pair(struct json_object *l)
{
	const char *s = view_str(l, "state");

	if (!s)
		return PAIR_DOWN;
	return !strcmp(s, "up") ? PAIR_UP :
	       !strcmp(s, "stalled") ? PAIR_STALLED : PAIR_DOWN;
}

/* Colours the '#' runs of line y from column x on. */
static void colour_bars(const struct top *t, int y, int x, const char *line)
{
	for (int i = x, run = 0; x >= 0; i++) {
		if (line[i] == '#') {
			run++;
			continue;
		}
		colour_span(t, y, i - run, run, PAIR_BAR);
		run = 0;
		if (!line[i])
			break;
	}
}

/* Rows 3 on: the links, as many as leave room for the totals and the
 * key help under them. */
static void top_draw_links(const struct top *t, int *y, int w)
{
	char line[VIEW_LINE_W + 1];
	int name_w = view_name_width(t->status);
	double scale = view_scale(t->status);
	size_t n, rows;
	struct json_object *links = view_links(t->status, &n);

	attron(A_BOLD);
	mvaddstr((*y)++, 0, view_top_heads(line, sizeof(line), w, name_w));
	attroff(A_BOLD);
	rows = LINES - 4 > *y ? (size_t)(LINES - 4 - *y) : 0;
	for (size_t i = 0; i < n && i < rows; i++, (*y)++) {
		struct json_object *l = json_object_array_get_idx(links, i);
		int bars;

		if (i + 1 == rows && n > rows) {
			mvprintw((*y)++, 0, "(%zu more links)", n - i);
			break;
		}
		bars = view_top_link(line, sizeof(line), w, name_w, l, scale);
		mvaddstr(*y, 0, line);
		colour_span(t, *y, name_w + 1, VIEW_STATE_W, state_pair(l));
		colour_bars(t, *y, bars, line);
	}
	if (!n)
		mvaddstr((*y)++, 0, "(no links)");
}

static void top_draw(const struct top *t)
{
	char line[VIEW_LINE_W + 1], clock[16];
	int w = COLS < VIEW_LINE_W ? COLS : VIEW_LINE_W, y = 2;
	time_t now = time(NULL);
	struct tm tm;

	erase();
	if (!localtime_r(&now, &tm) ||
	    !strftime(clock, sizeof(clock), "%H:%M:%S", &tm))
		clock[0] = '\0';
	attron(A_REVERSE);
	mvaddstr(0, 0, view_top_header(line, sizeof(line), w, t->status,
				       clock));
	attroff(A_REVERSE);
	if (t->problem[0]) {
		attron(A_BOLD | (t->colour ? COLOR_PAIR(PAIR_DOWN) : 0));
		mvaddstr(1, 0, t->problem);	/* wraps: no status below */
		attroff(A_BOLD | (t->colour ? COLOR_PAIR(PAIR_DOWN) : 0));
	}
	if (t->status) {
		top_draw_links(t, &y, w);
		mvaddstr(++y, 0, view_top_tunnel(line, sizeof(line), w,
						 t->status));
		mvaddstr(++y, 0, view_top_counters(line, sizeof(line), w,
						   t->status));
	}
	mvprintw(LINES - 1, 0, "%.*s", w, "q: quit");
	refresh();
}

static void top_colours(struct top *t)
{
	short bg = COLOR_BLACK;

	if (!has_colors() || start_color() == ERR)
		return;
	if (use_default_colors() == OK)
		bg = -1;
	init_pair(PAIR_UP, COLOR_GREEN, bg);
	init_pair(PAIR_STALLED, COLOR_YELLOW, bg);
	init_pair(PAIR_DOWN, COLOR_RED, bg);
	init_pair(PAIR_BAR, COLOR_CYAN, bg);
	t->colour = true;
}

static void top_resize(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row &&
	    ws.ws_col)
		resizeterm(ws.ws_row, ws.ws_col);
	clearok(curscr, TRUE);	/* what the terminal shows is unknown */
}

/* Whether the terminal can move the cursor (a "dumb" one cannot). */
static bool can_address(void)
{
	const char *cup = tigetstr("cup");

	return cup && cup != (const char *)-1;
}

/* Reads the keys waiting; false once it is time to quit. in_ok goes false
 * when the input is gone (readable but nothing comes). */
static bool top_keys(bool readable, bool *in_ok, bool *redraw)
{
	int ch, got = 0;

	while ((ch = getch()) != ERR) {
		got++;
		if (ch == 'q' || ch == 'Q' || ch == 3)
			return false;
		if (ch == KEY_RESIZE || ch == 12)	/* ^L */
			*redraw = true;
	}
	if (readable && !got)
		*in_ok = false;
	return true;
}

/* Draws until q or a signal; signals are blocked but while it waits. */
static void top_loop(struct top *t, const sigset_t *waitmask)
{
	double next = 0;
	bool in_ok = true, redraw = true;

	while (!top_quit) {
		struct pollfd pfd = { .fd = in_ok ? STDIN_FILENO : -1,
				      .events = POLLIN };
		double wait;
		struct timespec ts;
		int r;

		if (mono_now() >= next) {
			top_poll(t);
			next = mono_now() + t->interval;
			redraw = true;
		}
		if (top_resized) {
			top_resized = 0;
			top_resize();
			redraw = true;
		}
		if (redraw)
			top_draw(t);
		redraw = false;
		wait = next - mono_now();
		wait = wait > 0 ? wait : 0;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - ts.tv_sec) * 1e9);
		r = ppoll(&pfd, 1, &ts, waitmask);
		if (r > 0 && (pfd.revents & (POLLHUP | POLLERR | POLLNVAL)))
			in_ok = false;
		if (!top_keys(r > 0 && (pfd.revents & POLLIN), &in_ok,
			      &redraw))
			break;
	}
}

int view_top(const char *ctl_path, double interval, char *err, size_t errlen)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGWINCH };
	struct sigaction sa = { .sa_handler = top_signal }, old[3];
	struct top t = { .path = ctl_path, .interval = interval };
	sigset_t block, oldmask, waitmask;
	SCREEN *scr;
	int e = 0;

	if (!isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "braid top draws on a terminal and "
			 "standard output is not one (braid status prints a "
			 "table)");
		return -ENOTTY;
	}
	if (!isfinite(t.interval) || t.interval < 0.1)
		t.interval = 1;
	t.req = json_object_new_object();
	if (!t.req || json_object_object_add(t.req, "cmd",
				json_object_new_string("status")) < 0) {
		snprintf(err, errlen, "out of memory");
		e = -ENOMEM;
		goto out_put;
	}
	/* ours before newterm, so that ncurses keeps its hands off them */
	top_quit = top_resized = 0;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
		sigaction(sigs[i], &sa, &old[i]);
		sigaddset(&block, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &oldmask);
	waitmask = oldmask;
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigdelset(&waitmask, sigs[i]);
	scr = newterm(NULL, stdout, stdin);
	if (!scr || !can_address()) {
		snprintf(err, errlen, "cannot draw on this terminal "
			 "(TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
		e = -ENOTTY;
		goto out_screen;
	}
	cbreak();
	noecho();
	nodelay(stdscr, TRUE);
	keypad(stdscr, TRUE);
	curs_set(0);
	top_colours(&t);
	top_loop(&t, &waitmask);
out_screen:
	if (scr) {
		endwin();
		delscreen(scr);
	}
	sigprocmask(SIG_SETMASK, &oldmask, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &old[i], NULL);
out_put:
	json_object_put(t.status);
	json_object_put(t.req);
	return e;
}
