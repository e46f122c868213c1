/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * fuzz_config_load(): the text goes into an anonymous memfd named through
 * /proc/self/fd, since config_load() reads a path (libinih's own reader,
 * with line numbers). Shared by the harnesses that need a configuration
 * and by the configuration harness itself.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_config.h"

struct config *fuzz_config_load(const char *text)
{
	struct config *cfg = NULL;
	char path[64], err[512];
	size_t len = strlen(text);
	int fd = memfd_create("rb-fuzz-config", MFD_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return NULL;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(&cfg, path, err, sizeof(err)))
		cfg = NULL;
	close(fd);
	return cfg;
}

/* Says why TEXT does not load: fuzz_config_load() stays silent, since the
 * INI harness feeds it garbage by the million. */
static void fuzz_config_why(const char *text)
{
	char path[64], err[512];
	struct config *cfg = NULL;
	int fd = memfd_create("rb-fuzz-config", MFD_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(&cfg, path, err, sizeof(err)))
		fprintf(stderr, "fuzz: the harness's configuration: %s\n", err);
	config_free(cfg);
	close(fd);
}

struct config *fuzz_config_once(struct config **cfg, const char *text)
{
	if (!*cfg)
		*cfg = fuzz_config_load(text);
	if (!*cfg) {
		fuzz_config_why(text);
		abort();
	}
	return *cfg;
}

static int fuzz_entry_remove(const char *path, const struct stat *st, int type,
                             struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	remove(path);
	return 0;
}

void fuzz_dir_remove(const char *dir)
{
	/* Depth first, so each directory is empty when its turn comes. */
	nftw(dir, fuzz_entry_remove, 8, FTW_DEPTH | FTW_PHYS);
}

char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = 0;
	}
	return s;
}
