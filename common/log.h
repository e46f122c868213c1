/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging shared by every ringbridge binary. One line per event, to stderr,
 * with a timestamp, the level and the module's tag, so an operator (or
 * journald) can grep for the module that acted. Secrets are never passed in:
 * callers log names of settings, not their values.
 */
#ifndef RB_LOG_H
#define RB_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Sets the most verbose level printed; the default is LOG_LEVEL_INFO. */
void log_level_set(enum log_level level);
enum log_level log_level_get(void);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);

/* Writes one line "2026-11-23T01:02:03.456Z level tag: message". */
void log_write(enum log_level level, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(tag, ...)  log_write(LOG_LEVEL_ERROR, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_write(LOG_LEVEL_WARN, tag, __VA_ARGS__)
#define log_info(tag, ...) log_write(LOG_LEVEL_INFO, tag, __VA_ARGS__)
#define log_debug(tag, ...)                                                    \
	do {                                                                   \
		if (log_level_get() >= LOG_LEVEL_DEBUG)                        \
			log_write(LOG_LEVEL_DEBUG, tag, __VA_ARGS__);          \
	} while (0)

#endif
