/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Phone numbers and SIP URIs as users type them (common/phone.c) and the
 * policy that decides who may be phoned (common/policy.c): the input is
 * one string. What phone_normalise() accepts must be canonical (normalising
 * it again gives the same text) and be judged by the policy without error.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_config.h"
#include "phone.h"
#include "policy.h"

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, out[PHONE_MAX], again[PHONE_MAX], host[256];
	enum phone_kind kind, kind2;
	const char *why;

	fuzz_config_once(&cfg, "[xmpp]\nuser_domains = example.org\n"
	                       "[policy]\nallowed_prefixes = +1, +44\n"
	                       "allowed_sip_domains = example.org\n");
	in = fuzz_string(data, size);
	if (!in)
		return 0;
	if (phone_normalise(in, out, sizeof(out), &kind, &why) == 0) {
		if (phone_normalise(out, again, sizeof(again), &kind2, &why) ||
		    strcmp(out, again) || kind != kind2)
			abort();
		policy_destination_check(cfg, out, &why);
		if (kind == PHONE_SIP)
			phone_sip_domain(out, host, sizeof(host));
	}
	phone_sip_server_check(in, false, &why);
	phone_sip_server_check(in, true, &why);
	policy_bare_jid_valid(in);
	policy_sender_allowed(cfg, in);
	free(in);
	return 0;
}
