/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time zones by IANA name. A name is checked by its spelling first (so a
 * name from a registration form can never walk out of the zoneinfo
 * directory) and then by finding a TZif file for it in tzdata. glibc can
 * only convert to another zone through the TZ variable, so tz_local_time()
 * swaps TZ under a mutex and puts the previous value back. Code that calls
 * localtime() directly while a conversion runs may briefly see the other
 * zone: convert through this module instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tz.h"

#define TZ_DIR      "/usr/share/zoneinfo/"
#define TZ_NAME_MAX 64

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

static bool tz_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-';
}

/*
 * Segments of [A-Za-z0-9_+-] separated by single slashes, not starting with
 * "-" (so it never reads as an option), at most 64 bytes. Dots are not
 * allowed at all, which rules out "." and ".." and the non-zone files of
 * the directory (zone.tab, tzdata.zi). The "posix/" and "right/" trees are
 * refused too: "right/" zones count leap seconds and run 27 s off.
 */
static bool tz_name_ok(const char *name)
{
	size_t n = strlen(name), seg = 0;

	if (n == 0 || n > TZ_NAME_MAX)
		return false;
	if (!strncmp(name, "posix/", 6) || !strncmp(name, "right/", 6))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (name[i] == '/') {
			if (seg == 0)
				return false;
			seg = 0;
			continue;
		}
		if (!tz_char_ok(name[i]) || (seg == 0 && name[i] == '-'))
			return false;
		seg++;
	}
	return seg > 0;
}

bool tz_valid(const char *name)
{
	char path[sizeof(TZ_DIR) + TZ_NAME_MAX];
	char magic[4];
	struct stat st;
	bool ok;
	int fd;

	if (!name || !tz_name_ok(name))
		return false;
	if (!strcmp(name, "UTC"))
		return true; /* glibc knows it even without tzdata */
	memcpy(path, TZ_DIR, sizeof(TZ_DIR) - 1);
	strcpy(path + sizeof(TZ_DIR) - 1, name);

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return false;
	/* A regular file that starts like a compiled zone ("leapseconds" and
	 * friends are text files without a dot in their names). */
	ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	     read(fd, magic, sizeof(magic)) == (ssize_t)sizeof(magic) &&
	     !memcmp(magic, "TZif", 4);
	close(fd);
	return ok;
}

/* With TZ already set (or UTC): the start of the day after T's. */
static int next_midnight_here(bool utc, time_t t, void *out)
{
	struct tm tm, got;
	time_t m;

	if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
		return -EOVERFLOW;
	tm.tm_mday++;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1; /* mktime() finds which offset holds then */
	m = utc ? timegm(&tm) : mktime(&tm);
	if (m == (time_t)-1)
		return -EOVERFLOW;
	/*
	 * glibc moves a midnight that a DST change skips forward to the
	 * change (01:00), which is when that day begins. Should a libc go
	 * back instead, into the day before, step to the next hour until
	 * the new day has begun: transitions fall on whole hours or, at
	 * worst (Lord Howe), half hours, so at most two steps.
	 */
	for (int i = 0; i < 4; i++) {
		if (!(utc ? gmtime_r(&m, &got) : localtime_r(&m, &got)))
			return -EOVERFLOW;
		if (m > t && got.tm_hour < 12)
			break;
		m += 1800 - m % 1800;
	}
	*(time_t *)out = m;
	return 0;
}

/* Runs FN in zone NAME (TZ swapped under the lock), UTC when NULL. */
static int in_zone(const char *name, time_t t, void *out,
                   int (*fn)(bool utc, time_t t, void *out))
{
	char *saved = NULL;
	const char *prev;
	int err = 0;

	if (!out)
		return -EINVAL;
	if (!name)
		return fn(true, t, out);
	if (!tz_valid(name))
		return -EINVAL;

	pthread_mutex_lock(&tz_lock);
	prev = getenv("TZ");
	if (prev) {
		saved = strdup(prev);
		if (!saved) {
			err = -ENOMEM;
			goto out;
		}
	}
	if (setenv("TZ", name, 1) != 0) {
		err = -errno;
		goto out;
	}
	tzset();
	err = fn(false, t, out);

	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
out:
	pthread_mutex_unlock(&tz_lock);
	free(saved);
	return err;
}

static int local_time_here(bool utc, time_t t, void *out)
{
	return (utc ? gmtime_r(&t, out) : localtime_r(&t, out)) ? 0
	                                                        : -EOVERFLOW;
}

int tz_local_time(const char *name, time_t t, struct tm *out)
{
	return in_zone(name, t, out, local_time_here);
}

int tz_next_midnight(const char *name, time_t t, time_t *out)
{
	return in_zone(name, t, out, next_midnight_here);
}
