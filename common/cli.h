/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The command line every ringbridge binary shares: -c/--config FILE,
 * --version, --help, then loading the configuration and setting the log
 * level, with the same exit statuses everywhere (0 done, 2 usage, 78 bad
 * configuration, as sysexits.h's EX_USAGE and EX_CONFIG).
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

#define CLI_EXIT_USAGE  2
#define CLI_EXIT_CONFIG 78

/*
 * Parses the common options of PROG. Returns -1 when the program goes on
 * (*CONFIG_PATH set or NULL, optind at the first other argument), or the
 * exit status to return (after --help, --version or a usage error).
 * STOP_AT_COMMAND stops at the first non-option (ringbridgectl's command).
 */
int cli_options(int argc, char **argv, const char *prog, bool stop_at_command,
                void (*usage)(FILE *f), const char **config_path);

/* Loads PATH (embedded defaults when NULL) into *CFGP and sets the log
 * level; returns 0, or CLI_EXIT_CONFIG after printing why. */
int cli_config(const char *prog, const char *path, struct config **cfgp);

#endif
