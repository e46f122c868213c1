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

int tz_local_time(const char *name, time_t t, struct tm *out)
{
	char *saved = NULL;
	const char *prev;
	int err = 0;

	if (!out)
		return -EINVAL;
	if (!name)
		return gmtime_r(&t, out) ? 0 : -EOVERFLOW;
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
	if (!localtime_r(&t, out))
		err = -EOVERFLOW;

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
