/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's stanza handlers (component/): the input is one to
 * STANZA_MAX stanzas separated by NUL bytes, each parsed with libstrophe's
 * own parser (xmpp_stanza_new_from_string, as the stream would deliver it)
 * and given to the handler session.c registers for its name: messages
 * (gateway addresses, privilege adverts), presence, and IQs (disco,
 * version, ping, the XEP-0077 registration form, XEP-0050 commands, push
 * notifications from mod_cloud_notify / mod_ringbridge). The component is
 * the daemon's own struct comp (comp_init, a SQLite queue in a temporary
 * directory, the real writer thread) on a connection that is never
 * connected, so replies are built and dropped by xmpp_send; every wait the
 * loop would do (IQ replies that never come, batches to commit) is run to
 * its end before the next input, so each input starts from the same state:
 * one verified registration, bob@example.org, push node "bobnode".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comp.h"
#include "fuzz.h"
#include "fuzz_config.h"
#include "log.h"
#include "presence.h"
#include "store.h"

/* Enough for a subscription, a presence and the message that follows. */
#define STANZA_MAX 8

static struct comp comp;
static char dir[64];

static void stanza_bob_put(void)
{
	struct queue_registration r = {
	    .jid = "bob@example.org",
	    .phone = "+15551234567",
	    .verified = true,
	    .quiet_start = -1,
	    .push_node = "bobnode",
	    .gate = QUEUE_GATE_DEFAULT,
	};

	if (queue_registration_put(comp.q, &r))
		abort();
}

/* Everything Prosody can grant, on every served domain, so the paths
 * behind the privileges are reachable (an advert in the input changes it
 * until the next input). */
static void stanza_privileges_grant(void)
{
	for (size_t i = 0; i < comp.cfg->xmpp.user_domains.n; i++) {
		struct comp_privileges *p = &comp.priv[i];

		*p = (struct comp_privileges){.advertised = true,
		                              .grants = {.presence = true,
		                                         .message = true,
		                                         .roster_get = true,
		                                         .iq_push_set = true,
		                                         .iq_pubsub_set = true,
		                                         .iq_mam_get = true}};
		strcpy(p->ns, "urn:xmpp:privilege:2");
	}
}

static void stanza_cleanup(void)
{
	/* The connection before the context comp_fini() frees. */
	xmpp_conn_release(comp.conn);
	comp.conn = NULL;
	comp_fini(&comp);
	config_free(comp.cfg);
	fuzz_dir_remove(dir);
}

static void stanza_setup(void)
{
	char text[512];
	struct config *cfg = NULL;

	strcpy(dir, "/tmp/rb-fuzz-stanza-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(text, sizeof(text),
	         "[xmpp]\ndomain = callgw.example.org\n"
	         "user_domains = example.org, localhost\n"
	         "[queue]\nurl = sqlite:%s/queue.db\n"
	         "[policy]\nallowed_prefixes = +1\n"
	         "allowed_sip_domains = example.org\n",
	         dir);
	/* Each input logs what the daemon would: only errors, or the fuzzer
	 * spends its time writing to stderr (RB_FUZZ_LOG=1 to read it all
	 * when replaying one input). */
	if (!getenv("RB_FUZZ_LOG"))
		log_level_set(LOG_LEVEL_ERROR);
	fuzz_config_once(&cfg, text);
	if (comp_init(&comp, cfg))
		abort();
	comp.conn = xmpp_conn_new(comp.ctx);
	if (!comp.conn)
		abort();
	comp.connected = true; /* comp_send hands every reply to xmpp_send */
	comp.startup_done = true;
	atexit(stanza_cleanup);
}

/* What the loop would do between inputs: time out every IQ we sent (no
 * server answers), commit what the handlers queued and run the
 * completions, until nothing is left; then back to the starting state. */
static void stanza_settle(void)
{
	for (int round = 0; round < 16; round++) {
		comp_pending_iq_clear(&comp);
		store_drain(comp.store);
		store_complete(comp.store);
		if (!comp_pending_iq_count(&comp) && store_idle(comp.store))
			break;
	}
	comp_presence_clear(comp.presence);
	comp_gateway_forget(comp.gateway);
	comp_catch_names_forget(comp.catcher);
	stanza_privileges_grant();
	stanza_bob_put();
}

static void stanza_dispatch(const char *text)
{
	xmpp_stanza_t *s = xmpp_stanza_new_from_string(comp.ctx, text);
	const char *name;

	if (!s)
		return;
	name = xmpp_stanza_get_name(s);
	if (name && !strcmp(name, "iq"))
		comp_iq_handler(comp.conn, s, &comp);
	else if (name && !strcmp(name, "message"))
		comp_message_handler(comp.conn, s, &comp);
	else if (name && !strcmp(name, "presence"))
		comp_presence_handler(comp.conn, s, &comp);
	xmpp_stanza_release(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *p;

	if (!comp.cfg) {
		stanza_setup();
		stanza_settle();
	}
	in = fuzz_string(data, size);
	if (!in)
		return 0;
	p = in;
	/* fuzz_string stops nothing at inner NULs: walk them by hand. */
	for (int i = 0; i < STANZA_MAX && p < in + size; i++) {
		stanza_dispatch(p);
		p += strlen(p) + 1;
	}
	free(in);
	stanza_settle();
	return 0;
}
