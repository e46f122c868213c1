/*
 * A configuration for the harnesses that need one (policy, gateway
 * addresses): written to a memfd once and loaded with config_load(), so
 * what is fuzzed runs against the same parsed structures as the daemons.
 */
#ifndef RB_FUZZ_CONFIG_H
#define RB_FUZZ_CONFIG_H

#include "config.h"

/* Loads TEXT as a configuration file; NULL (and a message) on error. */
struct config *fuzz_config_load(const char *text);

#endif
