/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shared command line (see cli.h). getopt_long() keeps its state in
 * globals, which is fine for a main() that runs once.
 */
#include <getopt.h>

#include "cli.h"
#include "log.h"

int cli_options(int argc, char **argv, const char *prog, bool stop_at_command,
                void (*usage)(FILE *f), const char **config_path)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;

	*config_path = NULL;
	while (
	    (opt = getopt_long(argc, argv, stop_at_command ? "+c:hV" : "c:hV",
	                       opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*config_path = optarg;
			break;
		case 'V':
			printf("%s %s\n", prog, RB_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return CLI_EXIT_USAGE;
		}
	}
	return -1;
}

int cli_config(const char *prog, const char *path, struct config **cfgp)
{
	enum log_level level;
	char err[512];

	if (config_load(cfgp, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return CLI_EXIT_CONFIG;
	}
	if (log_level_parse((*cfgp)->log.level, &level) == 0)
		log_level_set(level);
	return 0;
}
