/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0106 JID escaping and gateway addresses (component/jid_escape.c): the
 * input is a localpart as it arrives in a stanza's to. Escaping what
 * unescaping gave must give a localpart that unescapes to the same text
 * again (a round trip), and the gateway parse must only ever name a served
 * domain or an E.164 number.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_config.h"
#include "jid_escape.h"

static struct config *cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, plain[JIDESC_PART_MAX + 1], esc[JIDESC_PART_MAX * 3 + 1];
	char back[JIDESC_PART_MAX + 1];
	struct jidesc_target t;

	fuzz_config_once(&cfg, "[xmpp]\nuser_domains = example.org, localhost\n"
	                       "[policy]\nallowed_prefixes = +1\n");
	in = fuzz_string(data, size);
	if (!in)
		return 0;
	if (jidesc_unescape(in, plain, sizeof(plain)) == 0 &&
	    jidesc_escape(plain, esc, sizeof(esc)) == 0) {
		if (jidesc_unescape(esc, back, sizeof(back)) ||
		    strcmp(back, plain))
			abort();
	}
	if (jidesc_gateway_parse(in, cfg, &t) == 0) {
		if (t.kind == JIDESC_NUMBER && t.number[0] != '+')
			abort();
		if (t.kind == JIDESC_USER && !strchr(t.jid, '@'))
			abort();
	}
	free(in);
	return 0;
}
