/* SPDX-License-Identifier: MIT */
/* Log lines to stderr with a wall-clock stamp, a level and errno text. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define RL_INTERVAL 5.0

static enum log_level level = LOG_LVL_INFO;

void log_set_level(enum log_level lvl)
{
	level = lvl;
}

enum log_level log_get_level(void)
{
	return level;
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void vlog(const char *tag, int err, const char *fmt, va_list ap)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "%s.%03ld %s: ", stamp, ts.tv_nsec / 1000000, tag);
	vfprintf(stderr, fmt, ap);
	if (err)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	funlockfile(stderr);
}

#define LOG_BODY(lvl, tag, err)                 \
	do {                                    \
		va_list ap;                     \
		if (level < (lvl))              \
			return;                 \
		va_start(ap, fmt);              \
		vlog(tag, err, fmt, ap);        \
		va_end(ap);                     \
	} while (0)

void log_warn(const char *fmt, ...)
{
	int err = errno;

	LOG_BODY(LOG_LVL_WARN, "warning", err);
}

void log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, "warning", 0);
}

void log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, "info", 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, "debug", 0);
}

void fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("error", err, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("error", 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void log_warn_rl(struct log_rl *rl, const char *fmt, ...)
{
	double now = now_mono();
	char msg[512];
	va_list ap;

	if (rl->last && now - rl->last < RL_INTERVAL) {
		rl->suppressed++;
		return;
	}
	rl->last = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (rl->suppressed)
		log_warnx("%s (%lu similar suppressed)", msg, rl->suppressed);
	else
		log_warnx("%s", msg);
	rl->suppressed = 0;
}
