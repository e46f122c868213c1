/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ringbridge-component: the XMPP side of ringbridge, an XEP-0114 component.
 * main() loads and validates the configuration, sets up the component
 * (comp.c: the queue, the writer thread, the listeners) and runs the event loop
 * of session.c until SIGTERM or a fatal configuration error (exit status 78,
 * EX_CONFIG).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "comp.h"
#include "config.h"
#include "log.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: ringbridge-component [-c|--config FILE] "
	           "[--version] [--help]\n"
	           "The XMPP side of ringbridge: catches messages to offline "
	           "users for the SIP bridge.\n");
}

int main(int argc, char **argv)
{
	const char *path;
	struct config *cfg = NULL;
	struct comp c = {0};
	int status;

	status = cli_options(argc, argv, "ringbridge-component", false, usage,
	                     &path);
	if (status >= 0)
		return status;
	if (optind != argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	status = cli_config("ringbridge-component", path, &cfg);
	if (status)
		return status;
	log_info("main", "ringbridge-component %s starting as %s (config %s)",
	         RB_VERSION, cfg->xmpp.domain, path ? path : "built-in");
	if (comp_signals_block() != 0) {
		log_err("main", "cannot block signals");
		config_free(cfg);
		return 1;
	}
	status = comp_init(&c, cfg) ? 1 : comp_run(&c);
	comp_fini(&c);
	config_free(cfg);
	return status;
}
