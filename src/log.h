/* SPDX-License-Identifier: MIT */
/* Logging for the daemon and every module: levels, errno text, rate limits. */
#ifndef BRAID_LOG_H
#define BRAID_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* State of one rate-limited message site: at most one line per interval. */
struct log_rl {
	double last;
	unsigned long suppressed;
};

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* Logs a warning unless this site logged one in the last 5 s; counts the
 * lines it held back and reports them with the next one. */
void log_warn_rl(struct log_rl *rl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#ifndef container_of
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
