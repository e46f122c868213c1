/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * IQ dispatch: service discovery (XEP-0030), version (XEP-0092), ping
 * (XEP-0199), and routing to registration (XEP-0077), ad-hoc commands
 * (XEP-0050) and push notifications (XEP-0357). Every get/set gets exactly
 * one reply: unknown payloads service-unavailable, malformed ones
 * bad-request, as RFC 6120 8.2.3 requires.
 */
#include <string.h>

#include "comp.h"
#include "log.h"
#include "policy.h"

#define TAG            "iq"
#define NS_DISCO_INFO  "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_COMMANDS    "http://jabber.org/protocol/commands"

static const char *const features[] = {
    NS_DISCO_INFO,   NS_DISCO_ITEMS,      "jabber:iq:register", NS_COMMANDS,
    "urn:xmpp:ping", "jabber:iq:version", "urn:xmpp:push:0",    NULL,
};

static void add_feature(struct comp *c, xmpp_stanza_t *q, const char *var)
{
	xmpp_stanza_t *f = comp_elem(c, "feature", NULL);

	xmpp_stanza_set_attribute(f, "var", var);
	xmpp_stanza_add_child_ex(q, f, 0);
}

static void disco_info(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	const char *node = xmpp_stanza_get_attribute(q, "node");
	xmpp_stanza_t *res = comp_elem(c, "query", NS_DISCO_INFO);
	xmpp_stanza_t *id = comp_elem(c, "identity", NULL);

	if (node) {
		xmpp_stanza_set_attribute(res, "node", node);
		if (strcmp(node, NS_COMMANDS) != 0 &&
		    strcmp(node, "settings") != 0 &&
		    strcmp(node, "verify") != 0 &&
		    strcmp(node, "unregister") != 0) {
			xmpp_stanza_release(res);
			xmpp_stanza_release(id);
			comp_iq_error(c, iq, "cancel", "item-not-found",
			              "no such node");
			return;
		}
		xmpp_stanza_set_attribute(id, "category", "automation");
		xmpp_stanza_set_attribute(id, "type",
		                          strcmp(node, NS_COMMANDS)
		                              ? "command-node"
		                              : "command-list");
		xmpp_stanza_add_child_ex(res, id, 0);
		add_feature(c, res, NS_COMMANDS);
		add_feature(c, res, "jabber:x:data");
		comp_iq_result(c, iq, res);
		xmpp_stanza_release(res);
		return;
	}
	/* "pstn" is the registered gateway type for telephone networks. */
	xmpp_stanza_set_attribute(id, "category", "gateway");
	xmpp_stanza_set_attribute(id, "type", "pstn");
	xmpp_stanza_set_attribute(id, "name", "ringbridge phone gateway");
	xmpp_stanza_add_child_ex(res, id, 0);
	for (const char *const *f = features; *f; f++)
		add_feature(c, res, *f);
	comp_iq_result(c, iq, res);
	xmpp_stanza_release(res);
}

static void disco_items(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *q)
{
	const char *node = xmpp_stanza_get_attribute(q, "node");

	if (node && !strcmp(node, NS_COMMANDS)) {
		comp_adhoc_items(c, iq);
		return;
	}
	if (node) {
		comp_iq_error(c, iq, "cancel", "item-not-found",
		              "no such node");
		return;
	}
	xmpp_stanza_t *res = comp_elem(c, "query", NS_DISCO_ITEMS);

	comp_iq_result(c, iq, res);
	xmpp_stanza_release(res);
}

static void version(struct comp *c, xmpp_stanza_t *iq)
{
	xmpp_stanza_t *res = comp_elem(c, "query", "jabber:iq:version");

	comp_add_text_child(c, res, "name", "ringbridge");
	comp_add_text_child(c, res, "version", RB_VERSION);
	comp_iq_result(c, iq, res);
	xmpp_stanza_release(res);
}

/* The single payload element of a get/set, or NULL when there is not
 * exactly one. */
static xmpp_stanza_t *payload_of(xmpp_stanza_t *iq)
{
	xmpp_stanza_t *only = NULL;

	for (xmpp_stanza_t *ch = xmpp_stanza_get_children(iq); ch;
	     ch = xmpp_stanza_get_next(ch)) {
		if (!xmpp_stanza_is_tag(ch))
			continue;
		if (!strcmp(xmpp_stanza_get_name(ch), "error"))
			continue;
		if (only)
			return NULL;
		only = ch;
	}
	return only;
}

int comp_iq_handler(xmpp_conn_t *conn, xmpp_stanza_t *iq, void *userdata)
{
	struct comp *c = userdata;
	const char *type = xmpp_stanza_get_type(iq);
	const char *from = xmpp_stanza_get_from(iq);
	xmpp_stanza_t *q;
	const char *ns, *name;
	bool get;

	(void)conn;
	if (!type)
		return 1;
	if (!strcmp(type, "result") || !strcmp(type, "error")) {
		comp_pending_iq_handle(c, iq);
		return 1;
	}
	if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)
		return 1;
	if (!xmpp_stanza_get_id(iq) || !from)
		return 1; /* nothing to reply to */
	if (!comp_jid_valid(from)) {
		comp_iq_error(c, iq, "modify", "jid-malformed", NULL);
		return 1;
	}
	get = !strcmp(type, "get");
	q = payload_of(iq);
	if (!q || !(ns = xmpp_stanza_get_ns(q))) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "an IQ get or set carries exactly one payload "
		              "element with a namespace");
		return 1;
	}
	name = xmpp_stanza_get_name(q);

	if (get && !strcmp(ns, NS_DISCO_INFO) && !strcmp(name, "query"))
		disco_info(c, iq, q);
	else if (get && !strcmp(ns, NS_DISCO_ITEMS) && !strcmp(name, "query"))
		disco_items(c, iq, q);
	else if (get && !strcmp(ns, "jabber:iq:version") &&
	         !strcmp(name, "query"))
		version(c, iq);
	else if (get && !strcmp(ns, "urn:xmpp:ping") && !strcmp(name, "ping"))
		comp_iq_result(c, iq, NULL);
	else if (!strcmp(ns, "jabber:iq:register") && !strcmp(name, "query"))
		comp_register_handle(c, iq);
	else if (!get && !strcmp(ns, NS_COMMANDS) && !strcmp(name, "command"))
		comp_adhoc_handle(c, iq);
	else if (!get && !strcmp(ns, "http://jabber.org/protocol/pubsub") &&
	         !strcmp(name, "pubsub"))
		comp_push_handle(c, iq, q);
	else
		comp_iq_error(c, iq, "cancel", "service-unavailable", NULL);
	return 1;
}
