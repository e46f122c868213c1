/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `ringbridgectl check`: what an operator runs after installing or changing
 * the configuration. check.c orders the steps and prints the verdict; the
 * two probes that speak a protocol live in their own files so that
 * libstrophe and sofia-sip's tag lists stay apart.
 */
#ifndef RB_CTL_CHECK_H
#define RB_CTL_CHECK_H

#include <stdbool.h>

#include "config.h"
#include "xmppc.h"

/* At most this many served domains are reported (one per advertisement). */
#define CHECK_DOMAINS_MAX 64

/* What one served domain granted (XEP-0356). */
struct check_grant {
	char domain[256];
	char ns[32];
	struct xmppc_grants grants;
};

enum check_xmpp_mode {
	/* A component is connected: only open a stream and read the server's
	 * header, never authenticate (which could disturb it). */
	CHECK_XMPP_PROBE,
	/* No component runs: authenticate, read the advertisements, leave. */
	CHECK_XMPP_AUTH,
};

struct check_xmpp_result {
	bool ok;       /* reached and, in AUTH mode, authenticated */
	char why[512]; /* when not ok: what failed, in words */
	bool conflict; /* AUTH: the server says a component is connected */
	struct check_grant grants[CHECK_DOMAINS_MAX];
	int n_grants; /* advertisements read (AUTH mode) */
};

/* Runs the XMPP probe of MODE against [xmpp] of CFG, within TIMEOUT_MS. */
void check_xmpp(const struct config *cfg, enum check_xmpp_mode mode,
                int timeout_ms, struct check_xmpp_result *res);

/*
 * Sends one SIP OPTIONS request to TARGET (a sip: URI) from an ephemeral
 * port on the host of [sip] listen, and waits up to TIMEOUT_MS. Returns the
 * status of a response that came from the network (any status: the hop is
 * there), or 0 with WHY filled in when none came.
 */
int check_sip_options(const struct config *cfg, const char *target,
                      int timeout_ms, char *why, size_t whylen, char *phrase,
                      size_t phraselen);

/* The "check" command; returns the exit status. CONFIG_ONLY stops after
 * loading the configuration. */
int check_run(const struct config *cfg, bool config_only);

#endif
