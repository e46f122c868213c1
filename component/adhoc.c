/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Ad-hoc commands (XEP-0050) for clients that show commands but not
 * registration forms: "settings", "verify" and "unregister". Each is two
 * steps (a form, then its submission), so no session state is kept: the
 * submission carries everything, and the sessionid is only echoed. A
 * submission is answered once its writes are done (register.c).
 */
#include <stdio.h>
#include <string.h>

#include "comp.h"
#include "log.h"
#include "policy.h"
#include "settings.h"

#define NS_COMMANDS "http://jabber.org/protocol/commands"

static const struct {
	const char *node, *name;
} commands[] = {
    {"settings", "Phone and call settings"},
    {"verify", "Enter the verification code"},
    {"unregister", "Stop phone calls (unregister)"},
};

void comp_adhoc_items(struct comp *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *q =
	    comp_elem(c, "query", "http://jabber.org/protocol/disco#items");

	xmpp_stanza_set_attribute(q, "node", NS_COMMANDS);
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
		xmpp_stanza_t *item = comp_elem(c, "item", NULL);

		xmpp_stanza_set_attribute(item, "jid", c->domain);
		xmpp_stanza_set_attribute(item, "node", commands[i].node);
		xmpp_stanza_set_attribute(item, "name", commands[i].name);
		xmpp_stanza_add_child_ex(q, item, 0);
	}
	comp_iq_result(c, iq, q);
	xmpp_stanza_release(q);
}

static xmpp_stanza_t *command_reply(struct comp *c, const char *node,
                                    const char *sessionid, const char *status)
{
	xmpp_stanza_t *cmd = comp_elem(c, "command", NS_COMMANDS);
	char id[64];

	xmpp_stanza_set_attribute(cmd, "node", node);
	if (!sessionid) {
		comp_new_id(c, id, sizeof(id));
		sessionid = id;
	}
	xmpp_stanza_set_attribute(cmd, "sessionid", sessionid);
	xmpp_stanza_set_attribute(cmd, "status", status);
	return cmd;
}

static void add_note(struct comp *c, xmpp_stanza_t *cmd, const char *text)
{
	xmpp_stanza_t *note = comp_elem(c, "note", NULL);
	xmpp_stanza_t *t = xmpp_stanza_new(c->ctx);

	xmpp_stanza_set_attribute(note, "type", "info");
	xmpp_stanza_set_text(t, text);
	xmpp_stanza_add_child_ex(note, t, 0);
	xmpp_stanza_add_child_ex(cmd, note, 0);
}

static xmpp_stanza_t *first_form(struct comp *c, const char *node,
                                 const char *bare)
{
	struct queue_registration r = {0};
	xmpp_stanza_t *x;

	if (!strcmp(node, "settings")) {
		bool have = queue_registration_get(c->q, bare, &r) == 0;

		x = comp_settings_form(c, have ? &r : NULL);
		queue_registration_clear(&r);
		return x;
	}
	if (!strcmp(node, "verify")) {
		x = comp_form_new(c, "form", "Verify your phone",
		                  "Enter the six-digit code ringbridge spoke "
		                  "when it called you.");
		comp_form_add_field(c, x, SETTINGS_CODE, "text-single", "Code",
		                    NULL, true, NULL);
		return x;
	}
	x = comp_form_new(c, "form", "Unregister",
	                  "Stop phone calls and forget your phone number.");
	comp_form_add_field(c, x, "confirm", "boolean", "Yes, unregister me",
	                    "0", true, NULL);
	return x;
}

/* A submitted command on its way through the store's thread. */
struct adhoc_op {
	xmpp_stanza_t *iq; /* held until answered */
	char *node, *sessionid;
	char note[512]; /* said when the action has no note of its own */
};

static void adhoc_answer(struct comp *c, const struct comp_action_result *res,
                         void *arg)
{
	struct adhoc_op *op = arg;
	xmpp_stanza_t *reply;

	if (res->err) {
		comp_iq_error(c, op->iq, comp_error_type(res->cond), res->cond,
		              res->why);
		goto out;
	}
	reply = command_reply(c, op->node, op->sessionid, "completed");
	add_note(c, reply, *res->note ? res->note : op->note);
	comp_iq_result(c, op->iq, reply);
	xmpp_stanza_release(reply);
out:
	xmpp_stanza_release(op->iq);
	g_free(op->node);
	g_free(op->sessionid);
	g_free(op);
}

static void submit(struct comp *c, xmpp_stanza_t *iq, const char *node,
                   const char *sessionid, const char *bare,
                   const struct comp_form *form)
{
	struct adhoc_op *op = g_new0(struct adhoc_op, 1);
	const char *confirm;

	op->iq = xmpp_stanza_clone(iq);
	op->node = g_strdup(node);
	op->sessionid = g_strdup(sessionid);
	if (!strcmp(node, "settings")) {
		comp_settings_submit(c, bare, form, NULL, adhoc_answer, op);
		return;
	}
	if (!strcmp(node, "verify")) {
		const char *code = comp_form_get(form, SETTINGS_CODE);

		snprintf(op->note, sizeof(op->note), "Your phone is verified.");
		comp_verify_submit(c, bare, code ? code : "", adhoc_answer, op);
		return;
	}
	confirm = comp_form_get(form, "confirm");
	if (!confirm || (strcmp(confirm, "1") && strcmp(confirm, "true"))) {
		struct comp_action_result res = {0};

		snprintf(res.note, sizeof(res.note), "Nothing changed.");
		adhoc_answer(c, &res, op);
		return;
	}
	snprintf(op->note, sizeof(op->note),
	         "You are unregistered: no more calls.");
	comp_unregister(c, bare, adhoc_answer, op);
}

void comp_adhoc_handle(struct comp *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *cmd =
	    xmpp_stanza_get_child_by_name_and_ns(iq, "command", NS_COMMANDS);
	const char *node = xmpp_stanza_get_attribute(cmd, "node");
	const char *action = xmpp_stanza_get_attribute(cmd, "action");
	const char *sessionid = xmpp_stanza_get_attribute(cmd, "sessionid");
	char *bare = comp_jid_bare(xmpp_stanza_get_from(iq));
	struct comp_form *form = NULL;
	xmpp_stanza_t *reply;
	bool known = false;

	for (size_t i = 0; node && i < G_N_ELEMENTS(commands); i++)
		known |= !strcmp(node, commands[i].node);
	if (!known) {
		comp_iq_error(c, iq, "cancel", "item-not-found",
		              "no such command");
		goto out;
	}
	if (!bare || !policy_jid_is_local(c->cfg, bare)) {
		comp_iq_error(c, iq, "auth", "forbidden",
		              "only users of this server's domains may use "
		              "these commands");
		goto out;
	}
	if (sessionid && strlen(sessionid) > 128) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "sessionid too long");
		goto out;
	}
	if (action && !strcmp(action, "cancel")) {
		reply = command_reply(c, node, sessionid, "canceled");
		comp_iq_result(c, iq, reply);
		xmpp_stanza_release(reply);
		goto out;
	}
	form = comp_form_parse(cmd);
	if (!form || strcmp(comp_form_type(form), "submit") != 0) {
		xmpp_stanza_t *actions = comp_elem(c, "actions", NULL);

		reply = command_reply(c, node, sessionid, "executing");
		xmpp_stanza_set_attribute(actions, "execute", "complete");
		xmpp_stanza_add_child_ex(actions,
		                         comp_elem(c, "complete", NULL), 0);
		xmpp_stanza_add_child_ex(reply, actions, 0);
		xmpp_stanza_add_child_ex(reply, first_form(c, node, bare), 0);
		comp_iq_result(c, iq, reply);
		xmpp_stanza_release(reply);
		goto out;
	}
	/* Answered when the action's writes are done. */
	submit(c, iq, node, sessionid, bare, form);
out:
	comp_form_free(form);
	g_free(bare);
}
