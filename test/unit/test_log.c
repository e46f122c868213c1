/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Log lines: their format, the level filter, and that nothing in a message
 * can start a line of its own or smuggle terminal controls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"

static char captured[65536];

/* Runs FN with stderr going to a file and returns what was written. */
static const char *capture(void (*fn)(void))
{
	char path[] = "/tmp/rb-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	ssize_t n;

	dup2(fd, STDERR_FILENO);
	fn();
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, captured, sizeof(captured) - 1);
	captured[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return captured;
}

/* Checks "YYYY-MM-DDTHH:MM:SS.mmmZ " and returns what follows. */
static const char *after_stamp(const char *line)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.dddZ ";

	for (size_t i = 0; i < sizeof(pat) - 1; i++) {
		if (pat[i] == 'd' ? (line[i] < '0' || line[i] > '9')
		                  : line[i] != pat[i])
			return NULL;
	}
	return line + sizeof(pat) - 1;
}

static void log_plain(void)
{
	log_level_set(LOG_LEVEL_INFO);
	log_info("sip", "call %d to %s", 7, "+15551234567");
	log_debug("sip", "not shown");
	log_warn("queue", "lease lapsed");
}

static void log_hostile(void)
{
	log_info("xmpp", "body: %s",
	         "hi\n2026-01-01T00:00:00.000Z error auth: forged\r\x1b[2J"
	         "\xc2\x85\xe2\x80\xae\xe2\x80\xa8\xff end \xe2\x98\x8e");
}

static void log_long(void)
{
	char big[10000];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_err("t", "%s", big);
	log_err("t", "%s", "second");
}

static void log_debug_on(void)
{
	log_level_set(LOG_LEVEL_DEBUG);
	log_debug("x", "shown");
	log_level_set(LOG_LEVEL_ERROR);
	log_warn("x", "hidden");
	log_err("x", "kept");
	log_level_set(LOG_LEVEL_INFO);
}

int main(void)
{
	const char *out, *rest;
	enum log_level l;

	out = capture(log_plain);
	rest = after_stamp(out);
	CHECK(rest != NULL);
	CHECK(rest && !strncmp(rest, "info sip: call 7 to +15551234567\n", 33));
	rest = rest ? after_stamp(strchr(rest, '\n') + 1) : NULL;
	CHECK(rest && !strcmp(rest, "warn queue: lease lapsed\n"));

	out = capture(log_hostile);
	rest = after_stamp(out);
	CHECK(rest != NULL);
	CHECK_INT(strchr(out, '\n') - out, (long)strlen(out) - 1);
	CHECK_STR(rest, "info xmpp: body: hi\\n2026-01-01T00:00:00.000Z error "
	                "auth: forged\\r\\x1b[2J\\u0085\\u202e\\u2028\\xff end "
	                "\xe2\x98\x8e\n");

	out = capture(log_long);
	CHECK(strlen(out) < 8192);
	CHECK(strstr(out, "a[...]\n") != NULL);
	CHECK(strstr(out, "error t: second\n") != NULL);

	out = capture(log_debug_on);
	CHECK(strstr(out, "debug x: shown\n") != NULL);
	CHECK(strstr(out, "hidden") == NULL);
	CHECK(strstr(out, "error x: kept\n") != NULL);

	CHECK_INT(log_level_parse("warn", &l), 0);
	CHECK_INT(l, LOG_LEVEL_WARN);
	CHECK_INT(log_level_parse("DEBUG", &l), 0);
	CHECK_INT(l, LOG_LEVEL_DEBUG);
	CHECK_INT(log_level_parse("verbose", &l), -EINVAL);
	CHECK_INT(log_level_parse(NULL, &l), -EINVAL);
	CHECK_INT(log_level_get(), LOG_LEVEL_INFO);
	return check_exit("test_log");
}
