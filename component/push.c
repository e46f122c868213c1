/*
 * The component as its users' XEP-0357 push service. For each verified
 * registration it enables push on the user's behalf with a privileged IQ
 * (XEP-0356), after registration and after every reconnect. The server
 * then publishes a notification (sender and body) for every message it
 * stores while the user has no connected client; each is answered, since
 * unanswered or failed notifications count toward the server dropping the
 * registration, and only after the job is committed, so that an answered
 * notification is never a lost message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "comp.h"
#include "fallback.h"
#include "log.h"
#include "policy.h"

#define TAG     "push"
#define NS_PUSH "urn:xmpp:push:0"

struct enable_ctx {
	char *jid;
	bool enable;
};

static void enable_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct enable_ctx *e = arg;
	const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;

	if (type && !strcmp(type, "result")) {
		log_info(TAG, "push %s for %s",
		         e->enable ? "enabled" : "disabled", e->jid);
	} else {
		log_warn(TAG, "the server refused to %s push for %s%s",
		         e->enable ? "enable" : "disable", e->jid,
		         reply ? "" : " (no answer)");
		/* Forget it so the next pass over registrations retries. */
		if (e->enable)
			g_hash_table_remove(c->push_enabled, e->jid);
	}
	g_free(e->jid);
	g_free(e);
}

static void push_iq(struct comp *c, const struct queue_registration *r,
                    bool enable)
{
	xmpp_stanza_t *el =
	    comp_elem(c, enable ? "enable" : "disable", NS_PUSH);
	struct enable_ctx *e = g_new0(struct enable_ctx, 1);
	int err;

	xmpp_stanza_set_attribute(el, "jid", c->domain);
	xmpp_stanza_set_attribute(el, "node", r->push_node);
	e->jid = g_strdup(r->jid);
	e->enable = enable;
	err = comp_privileged_iq(c, r->jid, "set", el, enable_reply, e);
	if (err) {
		log_warn(TAG, "cannot %s push for %s: %s",
		         enable ? "enable" : "disable", r->jid,
		         err == -EPERM ? "no IQ privilege for urn:xmpp:push:0"
		                       : strerror(-err));
		if (enable)
			g_hash_table_remove(c->push_enabled, r->jid);
		g_free(e->jid);
		g_free(e);
	}
}

void comp_push_enable(struct comp *c, const struct queue_registration *r)
{
	struct comp_privileges *p = comp_privileges_for(c, r->jid);

	if (!c->connected || !p || !p->iq_push_set || !r->push_node ||
	    g_hash_table_contains(c->push_enabled, r->jid))
		return;
	/* Marked before the answer so a second pass does not repeat it. */
	g_hash_table_add(c->push_enabled, g_strdup(r->jid));
	push_iq(c, r, true);
}

void comp_push_disable(struct comp *c, const struct queue_registration *r)
{
	struct comp_privileges *p = comp_privileges_for(c, r->jid);

	g_hash_table_remove(c->push_enabled, r->jid);
	if (!c->connected || !p || !p->iq_push_set || !r->push_node)
		return;
	push_iq(c, r, false);
}

static int enable_one(const struct queue_registration *r, void *arg)
{
	struct comp *c = arg;

	if (r->verified)
		comp_push_enable(c, r);
	return 0;
}

void comp_push_enable_all(struct comp *c)
{
	queue_registration_foreach(c->q, enable_one, c);
}

/* ---- notifications ---- */

struct notify_ctx {
	xmpp_stanza_t *iq; /* a copy, for the reply */
};

static void notify_done(struct comp *c, enum catch_verdict v,
                        enum queue_enqueue_result r, int err, void *arg)
{
	struct notify_ctx *n = arg;

	(void)v;
	(void)r;
	if (err)
		/* "wait" errors do not count toward the server dropping
		 * the push registration (mod_cloud_notify). */
		comp_iq_error(c, n->iq, "wait", "internal-server-error",
		              "the message could not be queued");
	else
		comp_iq_result(c, n->iq, NULL);
	xmpp_stanza_release(n->iq);
	g_free(n);
}

static char *form_value(xmpp_stanza_t *x, const char *var)
{
	for (xmpp_stanza_t *f = xmpp_stanza_get_children(x); f;
	     f = xmpp_stanza_get_next(f)) {
		const char *v = xmpp_stanza_get_attribute(f, "var");

		if (v && !strcmp(v, var))
			return comp_child_text(f, "value");
	}
	return NULL;
}

/* A notification waiting for comp_presence_recheck() (ejabberd 23.01 with
 * push enabled by the user's own client): the user's table may still list
 * a session that ended without an unavailable presence. */
struct push_recheck {
	struct notify_ctx *n;
	char *callee, *sender, *body, *key;
	bool encrypted;
};

static void push_rechecked(struct comp *c, void *arg)
{
	struct push_recheck *k = arg;
	struct catch_request req = {0};

	req.callee = k->callee;
	req.sender = k->sender;
	req.reply_from = k->callee;
	req.body = k->body;
	req.encrypted = k->encrypted;
	req.idem_key = k->key;
	comp_catch(c, &req, notify_done, k->n);
	g_free(k->callee);
	g_free(k->sender);
	g_free(k->body);
	g_free(k->key);
	g_free(k);
}

static void push_catch(struct comp *c, const struct catch_request *req,
                       struct notify_ctx *n)
{
	struct push_recheck *k;

	if (!comp_presence_online(c, req->callee) ||
	    !comp_session_ends_unreported(c, req->callee)) {
		comp_catch(c, req, notify_done, n);
		return;
	}
	k = g_new0(struct push_recheck, 1);
	k->n = n;
	k->callee = g_strdup(req->callee);
	k->sender = g_strdup(req->sender);
	k->body = g_strdup(req->body);
	k->key = g_strdup(req->idem_key);
	k->encrypted = req->encrypted;
	if (!comp_presence_recheck(c, req->callee, push_rechecked, k)) {
		g_free(k->callee);
		g_free(k->sender);
		g_free(k->body);
		g_free(k->key);
		g_free(k);
		comp_catch(c, req, notify_done, n);
	}
}

void comp_push_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *pubsub)
{
	const char *from = xmpp_stanza_get_from(iq);
	xmpp_stanza_t *publish, *item, *notif, *x;
	struct queue_registration r = {0};
	struct catch_request req = {0};
	struct notify_ctx *n;
	char *sender = NULL, *body = NULL, key[96];
	const char *node;

	publish = xmpp_stanza_get_child_by_name(pubsub, "publish");
	node = publish ? xmpp_stanza_get_attribute(publish, "node") : NULL;
	item = publish ? xmpp_stanza_get_child_by_name(publish, "item") : NULL;
	notif = item ? xmpp_stanza_get_child_by_name_and_ns(
	                   item, "notification", NS_PUSH)
	             : NULL;
	if (!node || !notif) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "not a push notification");
		return;
	}
	/* Notifications come from the served domain itself. */
	if (strchr(from, '@') || !comp_privileges_for(c, from)) {
		comp_iq_error(c, iq, "auth", "forbidden",
		              "push notifications are accepted only from "
		              "the served domains");
		return;
	}
	if (queue_registration_get_by_node(c->q, node, &r) != 0 ||
	    comp_privileges_for(c, r.jid) != comp_privileges_for(c, from)) {
		/* An unknown node is a stale registration: the error lets
		 * the server drop it after a few tries. */
		comp_iq_error(c, iq, "cancel", "item-not-found",
		              "no such push node");
		goto out;
	}
	x = xmpp_stanza_get_child_by_name_and_ns(notif, "x", "jabber:x:data");
	if (x) {
		sender = form_value(x, "last-message-sender");
		body = form_value(x, "last-message-body");
	}
	if (!sender || !body || !*body) {
		/* A notification without a message (subscriptions, pings):
		 * nothing to phone about. */
		comp_iq_result(c, iq, NULL);
		goto out;
	}
	char *sender_bare = comp_jid_bare(sender);

	if (sender_bare && comp_echo_consume(c, r.jid, sender_bare, body)) {
		log_debug(TAG, "push for %s from %s echoes a gateway message",
		          r.jid, sender_bare);
		comp_iq_result(c, iq, NULL);
		g_free(sender_bare);
		goto out;
	}
	g_free(sender_bare);
	/* Pushes carry no id: the key is this run's receive sequence. */
	snprintf(key, sizeof(key), "push:%s:%llu", c->run_id,
	         (unsigned long long)++c->receive_seq);
	req.callee = r.jid;
	req.sender = sender;
	req.reply_from = r.jid;
	req.body = body;
	req.encrypted = fallback_is_encrypted_body(body);
	req.idem_key = key;
	n = g_new0(struct notify_ctx, 1);
	n->iq = xmpp_stanza_copy(iq);
	push_catch(c, &req, n);
out:
	g_free(sender);
	g_free(body);
	queue_registration_clear(&r);
}
