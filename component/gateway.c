/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Messages addressed to the component's domain: the privilege
 * advertisement, and gateway addresses. bob@<component> (or the XEP-0106
 * form bob\40example.org@<component>) is delivered to Bob, as a message from
 * the sender through the message privilege, so it lands in their usual
 * thread; when Bob is offline it is also caught for a call. Since a
 * delivered message that lands in offline storage comes back as a push
 * notification, the catch is remembered for a minute and that echo is not
 * caught twice. +E164@<component> dials a number when the policy allows.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "fallback.h"
#include "jid_escape.h"
#include "log.h"
#include "phone.h"
#include "policy.h"

#define TAG         "gateway"
#define ECHO_TTL_MS 60000
#define ECHOES_MAX  10000

/* Gateway messages caught here that the server may push back to us (the
 * gateway delivered them to an offline user): caught once, not twice. */
struct comp_gateway {
	GHashTable *echoes; /* callee, sender, body hash -> int64_t expiry */
};

int comp_gateway_new(struct comp_gateway **gp)
{
	struct comp_gateway *g = g_new0(struct comp_gateway, 1);

	g->echoes =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	*gp = g;
	return 0;
}

void comp_gateway_forget(struct comp_gateway *g)
{
	g_hash_table_remove_all(g->echoes);
}

void comp_gateway_free(struct comp_gateway *g)
{
	if (!g)
		return;
	g_hash_table_destroy(g->echoes);
	g_free(g);
}

static void message_error(struct comp *c, xmpp_stanza_t *orig,
                          const char *condition, const char *text)
{
	xmpp_stanza_t *m =
	    xmpp_message_new(c->ctx, "error", xmpp_stanza_get_from(orig),
	                     xmpp_stanza_get_id(orig));
	xmpp_stanza_t *err = comp_elem(c, "error", NULL);
	xmpp_stanza_t *t =
	    comp_elem(c, "text", "urn:ietf:params:xml:ns:xmpp-stanzas");
	xmpp_stanza_t *body = xmpp_stanza_new(c->ctx);

	xmpp_stanza_set_from(m, xmpp_stanza_get_to(orig));
	xmpp_stanza_set_type(err, comp_error_type(condition));
	xmpp_stanza_add_child_ex(
	    err, comp_elem(c, condition, "urn:ietf:params:xml:ns:xmpp-stanzas"),
	    0);
	xmpp_stanza_set_text(body, text);
	xmpp_stanza_set_attribute(t, "xml:lang", "en");
	xmpp_stanza_add_child_ex(t, body, 0);
	xmpp_stanza_add_child_ex(err, t, 0);
	xmpp_stanza_add_child_ex(m, err, 0);
	comp_send(c, m);
	xmpp_stanza_release(m);
}

static char *echo_key(const char *callee, const char *sender, const char *body)
{
	return g_strdup_printf("%s\n%s\n%08x", callee, sender,
	                       g_str_hash(body));
}

static void echo_sweep(struct comp *c, int64_t now)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, c->gateway->echoes);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (*(int64_t *)v < now)
			g_hash_table_iter_remove(&it);
}

static void echo_remember(struct comp *c, const char *callee,
                          const char *sender, const char *body)
{
	int64_t now = clock_mono_ms();
	int64_t *deadline;

	if (g_hash_table_size(c->gateway->echoes) >= ECHOES_MAX)
		echo_sweep(c, now);
	if (g_hash_table_size(c->gateway->echoes) >= ECHOES_MAX)
		return;
	deadline = g_new(int64_t, 1);
	*deadline = now + ECHO_TTL_MS;
	g_hash_table_replace(c->gateway->echoes, echo_key(callee, sender, body),
	                     deadline);
}

bool comp_echo_consume(struct comp *c, const char *callee, const char *sender,
                       const char *body)
{
	char *key = echo_key(callee, sender, body);
	int64_t *deadline = g_hash_table_lookup(c->gateway->echoes, key);
	bool hit = deadline && *deadline >= clock_mono_ms();

	if (deadline)
		g_hash_table_remove(c->gateway->echoes, key);
	g_free(key);
	return hit;
}

static bool has_encrypted_payload(xmpp_stanza_t *m)
{
	static const char *const payloads[][2] = {
	    {"encrypted", "eu.siacs.conversations.axolotl"},
	    {"encrypted", "urn:xmpp:omemo:2"},
	    {"openpgp", "urn:xmpp:openpgp:0"},
	    {"x", "jabber:x:encrypted"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(payloads); i++)
		if (xmpp_stanza_get_child_by_name_and_ns(m, payloads[i][0],
		                                         payloads[i][1]))
			return true;
	return false;
}

/*
 * Delivers ORIG to USER as coming from SENDER: through the message
 * privilege when the sender is local, else from the sender's own gateway
 * address. Returns false when it could not be sent.
 */
static bool deliver(struct comp *c, xmpp_stanza_t *orig, const char *sender,
                    const char *user)
{
	const char *type = xmpp_stanza_get_type(orig);
	xmpp_stanza_t *m = xmpp_message_new(c->ctx, type ? type : "chat", user,
	                                    xmpp_stanza_get_id(orig));
	bool ok = false;

	/* Rebuilt rather than copied: the received stanza's own elements
	 * carry jabber:component:accept, which clients do not read. Elements
	 * of other namespaces (origin-id, OMEMO, receipts...) go as they are.
	 */
	for (xmpp_stanza_t *ch = xmpp_stanza_get_children(orig); ch;
	     ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch);
		const char *ns = xmpp_stanza_get_ns(ch);

		if (!xmpp_stanza_is_tag(ch))
			continue;
		if (!ns || !strcmp(ns, "jabber:component:accept") ||
		    !strcmp(ns, "jabber:client")) {
			if (!strcmp(name, "body") || !strcmp(name, "subject") ||
			    !strcmp(name, "thread")) {
				char *text = comp_child_text(orig, name);

				comp_add_text_child(c, m, name, text);
				g_free(text);
			}
			continue;
		}
		xmpp_stanza_add_child_ex(m, xmpp_stanza_copy(ch), 0);
	}
	if (policy_jid_is_local(c->cfg, sender)) {
		xmpp_stanza_set_from(m, sender);
		ok = comp_privileged_message(c, m) == 0;
	}
	if (!ok) {
		char esc[3072], from[4096];

		if (jidesc_escape(sender, esc, sizeof(esc)) == 0) {
			snprintf(from, sizeof(from), "%s@%s", esc, c->domain);
			xmpp_stanza_set_from(m, from);
			ok = comp_send(c, m);
		}
	}
	xmpp_stanza_release(m);
	return ok;
}

struct gw_ctx {
	xmpp_stanza_t *orig; /* a copy, for error replies */
	bool delivered;
	char *callee;
};

static void gw_done(struct comp *c, enum catch_verdict v,
                    enum queue_enqueue_result r, int err, void *arg)
{
	struct gw_ctx *g = arg;
	char text[512];

	if (err) {
		message_error(c, g->orig, "internal-server-error",
		              "ringbridge could not queue the call; try "
		              "again later");
	} else if (v == CATCH_QUEUED && (r == QUEUE_ENQ_LIMIT_CALLEE ||
	                                 r == QUEUE_ENQ_LIMIT_SENDER)) {
		if (!g->delivered)
			message_error(c, g->orig, "resource-constraint",
			              r == QUEUE_ENQ_LIMIT_CALLEE
			                  ? "this person has been phoned "
			                    "too often in the last hour"
			                  : "you have caused too many calls "
			                    "in the last hour");
	} else if (v != CATCH_QUEUED && !g->delivered) {
		snprintf(text, sizeof(text), "%s cannot be phoned: %s",
		         g->callee, catch_verdict_name(v));
		message_error(c, g->orig, "service-unavailable", text);
	}
	xmpp_stanza_release(g->orig);
	g_free(g->callee);
	g_free(g);
}

static void catch_for(struct comp *c, xmpp_stanza_t *msg, const char *callee,
                      const char *destination, const char *reply_from,
                      const char *body, bool delivered)
{
	struct gw_ctx *g = g_new0(struct gw_ctx, 1);
	const char *from = xmpp_stanza_get_from(msg);
	xmpp_stanza_t *oid = xmpp_stanza_get_child_by_name_and_ns(
	    msg, "origin-id", "urn:xmpp:sid:0");
	const char *id = oid ? xmpp_stanza_get_attribute(oid, "id")
	                     : xmpp_stanza_get_id(msg);
	char *sender = comp_jid_bare(from);
	char *key;
	struct catch_request req = {0};

	/* Stanza ids are unique per sender: resends dedupe on them. */
	if (id && strlen(id) <= 256)
		key = g_strdup_printf("gw:%s:%s", sender, id);
	else
		key = g_strdup_printf("gw:%s:%llu", c->run_id,
		                      (unsigned long long)++c->receive_seq);
	g->orig = xmpp_stanza_copy(msg);
	g->delivered = delivered;
	g->callee = g_strdup(callee);
	req.callee = callee;
	req.sender = from;
	req.reply_from = reply_from;
	req.body = body;
	req.encrypted =
	    has_encrypted_payload(msg) || fallback_is_encrypted_body(body);
	req.idem_key = key;
	req.destination = destination;
	comp_catch(c, &req, gw_done, g);
	g_free(key);
	g_free(sender);
}

static void handle_gateway(struct comp *c, xmpp_stanza_t *msg,
                           const char *local, const char *to_bare,
                           const char *body, bool rechecked);

/* A gateway message waiting for comp_presence_recheck(). */
struct recheck_ctx {
	xmpp_stanza_t *msg; /* a copy */
	char *local, *to_bare, *body;
};

static void rechecked(struct comp *c, void *arg)
{
	struct recheck_ctx *k = arg;

	handle_gateway(c, k->msg, k->local, k->to_bare, k->body, true);
	xmpp_stanza_release(k->msg);
	g_free(k->local);
	g_free(k->to_bare);
	g_free(k->body);
	g_free(k);
}

static void handle_gateway(struct comp *c, xmpp_stanza_t *msg,
                           const char *local, const char *to_bare,
                           const char *body, bool rechecked_already)
{
	struct jidesc_target t;
	char *sender = comp_jid_bare(xmpp_stanza_get_from(msg));
	const char *why;
	int err = jidesc_gateway_parse(local, c->cfg, &t);

	if (err) {
		message_error(c, msg, "item-not-found",
		              err == -EPERM
		                  ? "that user's domain is not served by "
		                    "this gateway"
		                  : "not a gateway address: write to "
		                    "user@gateway or +number@gateway");
		goto out;
	}
	if (t.kind == JIDESC_NUMBER) {
		if (!policy_direct_dial_allowed(c->cfg, sender)) {
			message_error(c, msg, "not-allowed",
			              "direct dialling of numbers is not "
			              "enabled for you on this gateway");
			goto out;
		}
		if (policy_destination_check(c->cfg, t.number, &why)) {
			message_error(c, msg, "not-allowed", why);
			goto out;
		}
		catch_for(c, msg, to_bare, t.number, to_bare, body, false);
		goto out;
	}
	if (comp_presence_online(c, t.jid) && !rechecked_already &&
	    comp_session_ends_unreported(c, t.jid)) {
		struct recheck_ctx *k = g_new0(struct recheck_ctx, 1);

		k->msg = xmpp_stanza_copy(msg);
		k->local = g_strdup(local);
		k->to_bare = g_strdup(to_bare);
		k->body = g_strdup(body);
		if (comp_presence_recheck(c, t.jid, rechecked, k))
			goto out; /* handled again when the answers are in */
		xmpp_stanza_release(k->msg);
		g_free(k->local);
		g_free(k->to_bare);
		g_free(k->body);
		g_free(k);
	}
	if (comp_presence_online(c, t.jid)) {
		if (!deliver(c, msg, sender, t.jid))
			message_error(c, msg, "service-unavailable",
			              "the message could not be delivered");
		goto out;
	}
	/* Offline: into the user's offline storage as well, so it is in his
	 * client when he comes back, and remembered so its push echo is not
	 * caught a second time. */
	bool delivered = deliver(c, msg, sender, t.jid);

	if (delivered)
		echo_remember(c, t.jid, sender, body);
	catch_for(c, msg, t.jid, NULL, to_bare, body, delivered);
out:
	g_free(sender);
}

int comp_message_handler(xmpp_conn_t *conn, xmpp_stanza_t *msg, void *userdata)
{
	struct comp *c = userdata;
	const char *type = xmpp_stanza_get_type(msg);
	const char *from = xmpp_stanza_get_from(msg);
	const char *to = xmpp_stanza_get_to(msg);
	char *to_bare = NULL, *body = NULL, *local = NULL;
	const char *at;

	(void)conn;
	if (comp_privilege_handle_advert(c, msg))
		return 1;
	if (type && (!strcmp(type, "error") || !strcmp(type, "groupchat") ||
	             !strcmp(type, "headline")))
		return 1;
	if (!from || !to || !comp_jid_valid(from) || !comp_jid_valid(to))
		return 1;
	to_bare = comp_jid_bare(to);
	at = strchr(to_bare, '@');
	if (!at || g_ascii_strcasecmp(at + 1, c->domain) != 0)
		goto out; /* to the service itself: nothing to do */
	body = comp_child_text(msg, "body");
	if (!body || !*body)
		goto out; /* chat states, receipts, markers */
	local = g_strndup(to_bare, (size_t)(at - to_bare));
	handle_gateway(c, msg, local, to_bare, body, false);
out:
	g_free(local);
	g_free(body);
	g_free(to_bare);
	return 1;
}
