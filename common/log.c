/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Logging: each event becomes one line on stderr, written with a single
 * write(2) so that lines from concurrent threads never interleave. Messages
 * often carry text from the network (JIDs, SIP reasons, bodies), so control
 * characters, invalid UTF-8 and the Unicode line and bidi controls are
 * escaped: no input can start a new, forged log line or hide text.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/*
 * A line longer than this is cut and ends in "[...]". 4096 is PIPE_BUF on
 * Linux, so a line written to a pipe (journald, a supervisor) is atomic.
 */
#define LOG_LINE_MAX 4096

static atomic_int log_level = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

void log_level_set(enum log_level level)
{
	if ((int)level < LOG_LEVEL_ERROR)
		level = LOG_LEVEL_ERROR;
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store(&log_level, (int)level);
}

enum log_level log_level_get(void)
{
	return (enum log_level)atomic_load(&log_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0;
	     i < sizeof(log_level_names) / sizeof(log_level_names[0]); i++) {
		if (!strcasecmp(s, log_level_names[i])) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * Decodes one UTF-8 sequence at S (N bytes left). Returns its length and the
 * code point in *CP, or 0 when the bytes are not well-formed UTF-8 (overlong
 * forms, surrogates and values above U+10FFFF included).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Code points that must not reach a terminal or a log viewer raw: C1
 * controls, the line and paragraph separators, and the bidi embedding,
 * override and isolate controls ("Trojan Source").
 */
static bool log_cp_is_unsafe(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/*
 * Appends IN (N bytes) to OUT at *POS, escaping what is unsafe, without
 * going past CAP. Returns false when something had to be left out.
 */
static bool log_escape(char *out, size_t *pos, size_t cap, const char *in,
                       size_t n)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0;

	while (i < n) {
		char esc[12];
		const char *add;
		size_t addlen, len;
		uint32_t cp;

		if (s[i] >= 0x20 && s[i] < 0x7f) {
			add = (const char *)&s[i];
			addlen = len = 1;
		} else if (s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
			esc[0] = '\\';
			esc[1] = s[i] == '\n' ? 'n' : s[i] == '\r' ? 'r' : 't';
			add = esc;
			addlen = 2;
			len = 1;
		} else if (s[i] < 0x80) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			add = esc;
			addlen = 4;
			len = 1;
		} else if ((len = utf8_decode(&s[i], n - i, &cp)) == 0) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			add = esc;
			addlen = 4;
			len = 1;
		} else if (log_cp_is_unsafe(cp)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			add = esc;
			addlen = 6;
		} else {
			add = (const char *)&s[i];
			addlen = len;
		}
		if (*pos + addlen > cap)
			return false;
		memcpy(out + *pos, add, addlen);
		*pos += addlen;
		i += len;
	}
	return true;
}

static void log_write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(STDERR_FILENO, buf, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return; /* nowhere left to report it */
		}
		buf += w;
		len -= (size_t)w;
	}
}

void log_write(enum log_level level, const char *tag, const char *fmt, ...)
{
	static const char cut[] = "[...]";
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
	size_t pos, cap = sizeof(line) - sizeof(cut); /* room for cut + \n */
	struct timespec ts;
	struct tm tm;
	va_list ap;
	bool whole, cut_msg = false;
	int n;

	if ((int)level > atomic_load(&log_level))
		return;
	if ((int)level < LOG_LEVEL_ERROR || level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_ERROR;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pos = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ".%03ldZ %s ",
	                        ts.tv_nsec / 1000000L, log_level_names[level]);

	whole = log_escape(line, &pos, cap, tag ? tag : "-",
	                   strlen(tag ? tag : "-"));
	if (whole && pos + 2 <= cap) {
		memcpy(line + pos, ": ", 2);
		pos += 2;
	}

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		n = snprintf(msg, sizeof(msg), "(unformattable message)");
	} else if ((size_t)n >= sizeof(msg)) {
		n = (int)sizeof(msg) - 1;
		cut_msg = true;
	}
	if (whole)
		whole = log_escape(line, &pos, cap, msg, (size_t)n);
	if (!whole || cut_msg) {
		memcpy(line + pos, cut, sizeof(cut) - 1);
		pos += sizeof(cut) - 1;
	}
	line[pos++] = '\n';
	log_write_all(line, pos);
}
