/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What several harnesses share: a configuration (policy, gateway addresses)
 * written to a memfd and loaded with config_load(), so what is fuzzed runs
 * against the same parsed structures as the daemons, and the input as a C
 * string.
 */
#ifndef RB_FUZZ_CONFIG_H
#define RB_FUZZ_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Loads TEXT as a configuration file; NULL (and a message) on error. */
struct config *fuzz_config_load(const char *text);
/* The harness's fixed configuration: loads TEXT into *CFG on the first call
 * and aborts if it does not load (a broken harness, not a finding). */
struct config *fuzz_config_once(struct config **cfg, const char *text);
/* Removes DIR and everything in it (a harness's temporary directory:
 * the queue's database and its wake-up directory, recordings). */
void fuzz_dir_remove(const char *dir);
/* DATA as a NUL-terminated string the caller frees; NULL without memory. */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
