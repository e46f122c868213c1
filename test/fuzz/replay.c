/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * main() for a harness built without libFuzzer: runs
 * LLVMFuzzerTestOneInput() once on every file named on the command line,
 * or on every file of each directory named, in name order, and says how
 * many it ran. A crash, a sanitizer report or a leak fails the test, as it
 * would fail a fuzzing run.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Larger inputs than any harness bounds its parser at. */
#define REPLAY_MAX (1024 * 1024)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	buf = malloc(REPLAY_MAX);
	if (!buf) {
		fclose(f);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	int ran = 0, failed = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent **names;
		int n;

		if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
			failed += run_file(argv[i]) != 0;
			ran++;
			continue;
		}
		n = scandir(argv[i], &names, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i],
			        strerror(errno));
			return 1;
		}
		for (int j = 0; j < n; j++) {
			char path[4096];

			if (names[j]->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				         names[j]->d_name);
				failed += run_file(path) != 0;
				ran++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replay: %d inputs, %d unreadable\n", ran, failed);
	return failed || !ran ? 1 : 0;
}
