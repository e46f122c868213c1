/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * In-band registration (XEP-0077) of a user's phone, with a data form
 * (XEP-0004) and the legacy <phone/> field, plus the actions the ad-hoc
 * commands share. A new or changed number is unverified: the bridge phones
 * it and speaks a six-digit code the user enters here. Registration rows
 * are written on the loop's thread: they are rare, user-paced events, and
 * the reply must wait for the commit anyway.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "comp.h"
#include "log.h"
#include "policy.h"
#include "settings.h"

#define TAG                   "register"
#define NS_REGISTER           "jabber:iq:register"
#define VERIFY_FAILURES_MAX   5
#define VERIFY_CALLS_PER_HOUR 3
#define CODE_LEN              6

static const char *const call_when_options[] = {"offline", "away", NULL};

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	return 0;
}

static int random_code(char *out)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	/* 2^32 % 10^6 is negligible bias for a code tried 5 times. */
	snprintf(out, CODE_LEN + 1, "%06u", r % 1000000u);
	return 0;
}

/*
 * Where the server does not let the component enable push for the user
 * (ejabberd 23.01 grants no IQ privilege), messages to the user's own JID
 * are caught only if the user's client enables push to the component
 * itself. The form then shows a verified user the exact stanza to send
 * from a client's XML console (docs/ejabberd.md), with the user's own node.
 */
static void push_self_help(struct comp *c, xmpp_stanza_t *x,
                           const struct queue_registration *r)
{
	struct comp_privileges *p;
	char *stanza;

	if (!r || !r->verified || !r->push_node)
		return;
	p = comp_privileges_for(c, r->jid);
	if (!p || !p->advertised || p->iq_push_set)
		return;
	/* The node is hex and a domain has no quotes: nothing to escape
	 * here (the text is escaped once, as XML character data). */
	stanza =
	    g_strdup_printf("<iq type='set' id='ringbridge-push'><enable "
	                    "xmlns='urn:xmpp:push:0' jid='%s' node='%s'/></iq>",
	                    c->domain, r->push_node);
	comp_form_add_field(
	    c, x, "push-help", "fixed", NULL,
	    "Your server does not let ringbridge catch messages written to "
	    "your own address, only those written to your gateway address. "
	    "To have those phoned too, send this from your client's XML "
	    "console once; it stays enabled after you log out:",
	    false, NULL);
	comp_form_add_field(c, x, "push-enable", "fixed", NULL, stanza, false,
	                    NULL);
	g_free(stanza);
}

xmpp_stanza_t *comp_settings_form(struct comp *c,
                                  const struct queue_registration *r)
{
	xmpp_stanza_t *x = comp_form_new(
	    c, "form", "Phone calls for messages you miss",
	    "When someone writes to you while you are offline, ringbridge "
	    "phones you and reads the message. Enter your phone as an "
	    "international number (+15551234567) or a SIP address "
	    "(sip:you@pbx.example.org). A new number gets a call with a "
	    "code: enter it in the code field.");
	char quiet[16] = "";

	if (r)
		settings_quiet_format(r, quiet, sizeof(quiet));
	comp_form_add_field(c, x, "FORM_TYPE", "hidden", NULL, NS_REGISTER,
	                    false, NULL);
	comp_form_add_field(c, x, SETTINGS_PHONE, "text-single",
	                    "Phone number or SIP address", r ? r->phone : NULL,
	                    true, NULL);
	comp_form_add_field(c, x, SETTINGS_CODE, "text-single",
	                    "Verification code (from the call)", NULL, false,
	                    NULL);
	comp_form_add_field(c, x, SETTINGS_TZ, "text-single",
	                    "Time zone (e.g. Europe/Paris)",
	                    r && r->tz ? r->tz : "UTC", false, NULL);
	comp_form_add_field(
	    c, x, SETTINGS_CALL_WHEN, "list-single", "Call me when I am",
	    r && r->call_when == QUEUE_CALL_AWAY ? "away" : "offline", false,
	    call_when_options);
	comp_form_add_field(c, x, SETTINGS_QUIET, "text-single",
	                    "Quiet hours, no calls (HH:MM-HH:MM)", quiet, false,
	                    NULL);
	comp_form_add_field(c, x, SETTINGS_LANG, "text-single", "Language",
	                    r && r->lang ? r->lang : "en", false, NULL);
	comp_form_add_field(c, x, SETTINGS_ROSTER_ONLY, "boolean",
	                    "Only for messages from my contacts",
	                    r && r->roster_only ? "1" : "0", false, NULL);
	comp_form_add_field(c, x, SETTINGS_SIP_PRESENCE, "text-single",
	                    "SIP address for presence (optional)",
	                    r && r->sip_presence ? r->sip_presence : "", false,
	                    NULL);
	comp_form_add_field(
	    c, x, SETTINGS_GATE, "list-single", SETTINGS_GATE_LABEL,
	    settings_gate_name(r ? r->gate : QUEUE_GATE_DEFAULT), false,
	    settings_gate_options);
	push_self_help(c, x, r);
	return x;
}

static void register_get(struct comp *c, xmpp_stanza_t *iq, const char *bare)
{
	struct queue_registration r = {0};
	bool have = queue_registration_get(c->q, bare, &r) == 0;
	xmpp_stanza_t *q = comp_elem(c, "query", NS_REGISTER);

	if (have)
		xmpp_stanza_add_child_ex(q, comp_elem(c, "registered", NULL),
		                         0);
	comp_add_text_child(c, q, "instructions",
	                    "Use the form to register the phone ringbridge "
	                    "calls when you miss a message.");
	comp_add_text_child(c, q, "phone", have ? r.phone : "");
	xmpp_stanza_add_child_ex(q, comp_settings_form(c, have ? &r : NULL), 0);
	comp_iq_result(c, iq, q);
	xmpp_stanza_release(q);
	queue_registration_clear(&r);
}

static void enable_push_if_ready(struct comp *c,
                                 const struct queue_registration *r)
{
	/* Also disables: a changed number is unverified until its code. */
	comp_push_sync(c, r->jid, r);
	comp_registration_changed(c, r->jid);
}

int comp_settings_submit(struct comp *c, const char *bare,
                         const struct comp_form *form, const char *legacy_phone,
                         char *note, size_t notelen, const char **cond,
                         char *why, size_t whylen)
{
	struct queue_registration r = {0};
	struct settings_input in = {0};
	struct comp_privileges *p = comp_privileges_for(c, bare);
	bool existed, changed;
	const char *code;
	int err, recent = 0;

	*cond = "not-acceptable";
	snprintf(note, notelen, "%s", "Settings saved.");
	err = queue_registration_get(c->q, bare, &r);
	if (err && err != -ENOENT) {
		*cond = "internal-server-error";
		snprintf(why, whylen, "the queue cannot be read");
		return err;
	}
	existed = err == 0;
	if (!existed) {
		r.jid = strdup(bare);
		r.quiet_start = r.quiet_end = -1;
		r.gate = QUEUE_GATE_DEFAULT;
	}
	in.phone = form ? comp_form_get(form, SETTINGS_PHONE) : legacy_phone;
	in.tz = comp_form_get(form, SETTINGS_TZ);
	in.call_when = comp_form_get(form, SETTINGS_CALL_WHEN);
	in.quiet_hours = comp_form_get(form, SETTINGS_QUIET);
	in.lang = comp_form_get(form, SETTINGS_LANG);
	in.roster_only = comp_form_get(form, SETTINGS_ROSTER_ONLY);
	in.sip_presence = comp_form_get(form, SETTINGS_SIP_PRESENCE);
	in.gate = comp_form_get(form, SETTINGS_GATE);
	/* A form that repeats the current number is not a change. */
	err = settings_apply(c->cfg, &in, p && p->roster_get, &r, &changed, why,
	                     whylen);
	if (err)
		goto out;
	if (!r.push_node) {
		char node[33];

		if (random_hex(node, 16) == 0)
			r.push_node = strdup(node);
	}
	if (changed) {
		char fresh[CODE_LEN + 1];

		err = queue_jobs_created_since(
		    c->q, bare, NULL, comp_now_ms() - 3600 * 1000, &recent);
		if (!err && recent >= VERIFY_CALLS_PER_HOUR) {
			*cond = "resource-constraint";
			snprintf(why, whylen,
			         "%s: too many calls to verify numbers in the "
			         "last hour; try again later",
			         SETTINGS_PHONE);
			err = -EAGAIN;
			goto out;
		}
		if (random_code(fresh)) {
			err = -EIO;
			*cond = "internal-server-error";
			snprintf(why, whylen, "no randomness for a code");
			goto out;
		}
		r.verified = false;
		r.verify_failures = 0;
		free(r.verify_code);
		r.verify_code = strdup(fresh);
	}
	err = queue_registration_put(c->q, &r);
	if (!err && changed)
		err = queue_verify_enqueue(c->q, bare, r.phone, r.verify_code,
		                           r.lang, NULL);
	if (err) {
		*cond = "internal-server-error";
		snprintf(why, whylen, "the registration could not be saved");
		log_err(TAG, "saving the registration of %s failed: %s", bare,
		        strerror(-err));
		goto out;
	}
	log_info(TAG, "%s %s, phone %s%s", bare,
	         existed ? "changed settings" : "registered", r.phone,
	         changed ? " (verification call queued)" : "");
	if (changed)
		snprintf(note, notelen,
		         "Settings saved. ringbridge is calling %s now to "
		         "give you a code: enter it in the code field.",
		         r.phone);
	code = comp_form_get(form, SETTINGS_CODE);
	if (code && *code && !changed) {
		err = comp_verify_submit(c, bare, code, cond, why, whylen);
		if (!err)
			snprintf(note, notelen,
			         "Settings saved and phone verified.");
		goto out;
	}
	enable_push_if_ready(c, &r);
out:
	queue_registration_clear(&r);
	return err;
}

int comp_verify_submit(struct comp *c, const char *bare, const char *code,
                       const char **cond, char *why, size_t whylen)
{
	struct queue_registration r = {0};
	int err = queue_registration_get(c->q, bare, &r);

	if (err) {
		*cond = err == -ENOENT ? "registration-required"
		                       : "internal-server-error";
		snprintf(why, whylen, "%s: register a phone first",
		         SETTINGS_CODE);
		goto out;
	}
	if (r.verified) {
		err = 0;
		goto out;
	}
	if (!r.verify_code || r.verify_failures >= VERIFY_FAILURES_MAX) {
		*cond = "not-allowed";
		snprintf(why, whylen,
		         "%s: too many wrong codes; submit your phone number "
		         "again to get a new call",
		         SETTINGS_CODE);
		err = -EPERM;
		goto out;
	}
	if (strlen(code) != CODE_LEN ||
	    CRYPTO_memcmp(code, r.verify_code, CODE_LEN) != 0) {
		r.verify_failures++;
		queue_registration_put(c->q, &r);
		*cond = "not-acceptable";
		snprintf(
		    why, whylen, "%s: wrong verification code (%d tries left)",
		    SETTINGS_CODE, VERIFY_FAILURES_MAX - r.verify_failures);
		log_info(TAG, "%s entered a wrong verification code", bare);
		err = -EINVAL;
		goto out;
	}
	r.verified = true;
	r.verify_failures = 0;
	free(r.verify_code);
	r.verify_code = NULL;
	err = queue_registration_put(c->q, &r);
	if (err) {
		*cond = "internal-server-error";
		snprintf(why, whylen, "the registration could not be saved");
		goto out;
	}
	log_info(TAG, "%s verified %s", bare, r.phone);
	enable_push_if_ready(c, &r);
out:
	queue_registration_clear(&r);
	return err;
}

int comp_unregister(struct comp *c, const char *bare, const char **cond,
                    char *why, size_t whylen)
{
	struct queue_registration r = {0};
	int err = queue_registration_get(c->q, bare, &r);
	int cancelled = 0;

	if (err) {
		*cond =
		    err == -ENOENT ? "item-not-found" : "internal-server-error";
		snprintf(why, whylen, "%s", "not registered");
		goto out;
	}
	err = queue_registration_delete(c->q, bare);
	if (!err) {
		comp_push_sync(c, bare, NULL);
		comp_registration_changed(c, bare);
	}
	if (!err)
		err = queue_job_cancel_for(c->q, bare, &cancelled);
	if (err) {
		*cond = "internal-server-error";
		snprintf(why, whylen, "the registration could not be removed");
		goto out;
	}
	log_info(TAG, "%s unregistered (%d pending calls cancelled)", bare,
	         cancelled);
out:
	queue_registration_clear(&r);
	return err;
}

void comp_register_handle(struct comp *c, xmpp_stanza_t *iq)
{
	const char *type = xmpp_stanza_get_type(iq);
	char *bare = comp_jid_bare(xmpp_stanza_get_from(iq));
	xmpp_stanza_t *q =
	    xmpp_stanza_get_child_by_name_and_ns(iq, "query", NS_REGISTER);
	char why[512], note[512];
	const char *cond = "bad-request";
	struct comp_form *form = NULL;
	char *legacy = NULL;

	if (!bare || !policy_jid_is_local(c->cfg, bare)) {
		comp_iq_error(c, iq, "cancel", "forbidden",
		              "only users of this server's domains may "
		              "register");
		goto out;
	}
	if (!strcmp(type, "get")) {
		register_get(c, iq, bare);
		goto out;
	}
	if (xmpp_stanza_get_child_by_name(q, "remove")) {
		if (comp_unregister(c, bare, &cond, why, sizeof(why)))
			comp_iq_error(c, iq, comp_error_type(cond), cond, why);
		else
			comp_iq_result(c, iq, NULL);
		goto out;
	}
	form = comp_form_parse(q);
	if (form && strcmp(comp_form_type(form), "submit") != 0) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "the data form must be of type submit");
		goto out;
	}
	legacy = form ? NULL : comp_child_text(q, "phone");
	if (!form && !legacy) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "phone: missing (send the data form or a "
		              "<phone/> element)");
		goto out;
	}
	if (form && !comp_form_has(form, SETTINGS_PHONE) &&
	    comp_form_get(form, SETTINGS_CODE)) {
		/* Only a code: the verification step. */
		if (comp_verify_submit(c, bare,
		                       comp_form_get(form, SETTINGS_CODE),
		                       &cond, why, sizeof(why)))
			comp_iq_error(c, iq, comp_error_type(cond), cond, why);
		else
			comp_iq_result(c, iq, NULL);
		goto out;
	}
	if (comp_settings_submit(c, bare, form, legacy, note, sizeof(note),
	                         &cond, why, sizeof(why)))
		comp_iq_error(c, iq, comp_error_type(cond), cond, why);
	else
		comp_iq_result(c, iq, NULL);
out:
	comp_form_free(form);
	g_free(legacy);
	g_free(bare);
}
