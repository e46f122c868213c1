/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component as its users' XEP-0357 push service. For each verified
 * registration it enables push on the user's behalf with a privileged IQ
 * (XEP-0356), and keeps what it enabled in step with the registrations
 * table (push_plan.h): a changed node is enabled and the old one disabled,
 * whoever changed it, on each change, wake-up, periodic pass and
 * reconnect; pushes to nodes it no longer knows are logged once. The server
 * then publishes a notification (sender and body) for every message it
 * stores while the user has no connected client; each is answered, since
 * unanswered or failed notifications count toward the server dropping the
 * registration, and only after the job is committed, so that an answered
 * notification is never a lost message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "fallback.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "policy.h"
#include "push_plan.h"

#define TAG     "push"
#define NS_PUSH "urn:xmpp:push:0"
/* A uuid is 36; room for other stable ids of that kind. */
#define PUSH_ITEM_ID_MAX 64

/* A node the component stopped using, or one the server pushed to that no
 * registration holds: remembered so the log says it once per node and
 * hour, and so a disable the server did not confirm is asked again. */
struct push_stale {
	char *jid;         /* the user, NULL when not known */
	bool confirmed;    /* the server answered the disable */
	int64_t logged_ms; /* last unknown-node log line, 0: none */
};

static void stale_free(gpointer p)
{
	struct push_stale *s = p;

	g_free(s->jid);
	g_free(s);
}

/* The server's push registrations as this process knows them. */
struct comp_push {
	/* bare JID -> the push node the server was asked to enable, kept
	 * across reconnects (the server keeps it too): compared with the
	 * registrations table by comp_push_reconcile(). */
	GHashTable *enabled;
	GHashTable *stale; /* node -> struct push_stale */
	struct comp *c;
	struct timer reconcile; /* the periodic pass's next run */
};

/* Push nodes are compared more often than registrations are re-read: a
 * lost wake-up then delays a re-registration's catching by seconds. A pass
 * over 10,000 registrations takes about 5.5 ms here (bench: read + diff). */
#define PUSH_RECONCILE_MS 10000

static void on_reconcile(void *arg)
{
	struct comp_push *p = arg;

	timer_start(&p->c->timers, &p->reconcile, PUSH_RECONCILE_MS);
	if (p->c->startup_done)
		comp_push_reconcile(p->c, false);
}

int comp_push_new(struct comp_push **pp, struct comp *c)
{
	struct comp_push *p = g_new0(struct comp_push, 1);

	p->c = c;
	timer_init(&p->reconcile, on_reconcile, p);
	timer_start(&c->timers, &p->reconcile, PUSH_RECONCILE_MS);

	p->enabled =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	p->stale =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stale_free);
	*pp = p;
	return 0;
}

void comp_push_free(struct comp_push *p)
{
	if (!p)
		return;
	timer_stop(&p->c->timers, &p->reconcile);
	g_hash_table_destroy(p->enabled);
	g_hash_table_destroy(p->stale);
	g_free(p);
}

/* Keeps the table within PUSH_STALE_MAX: entries without a user to
 * disable for go first, then any (a server holding that many stale
 * nodes is told about by the log already). */
static void stale_make_room(struct comp *c)
{
	GHashTableIter it;
	gpointer k, v;

	if (g_hash_table_size(c->push->stale) < PUSH_STALE_MAX)
		return;
	g_hash_table_iter_init(&it, c->push->stale);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (!((struct push_stale *)v)->jid ||
		    ((struct push_stale *)v)->confirmed)
			g_hash_table_iter_remove(&it);
	g_hash_table_iter_init(&it, c->push->stale);
	while (g_hash_table_size(c->push->stale) >= PUSH_STALE_MAX &&
	       g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_iter_remove(&it);
}

static struct push_stale *stale_get(struct comp *c, const char *node,
                                    const char *jid)
{
	struct push_stale *s = g_hash_table_lookup(c->push->stale, node);

	if (!s) {
		stale_make_room(c);
		s = g_new0(struct push_stale, 1);
		g_hash_table_insert(c->push->stale, g_strdup(node), s);
	}
	if (jid && !s->jid)
		s->jid = g_strdup(jid);
	return s;
}

struct push_ctx {
	char *jid;
	char *node;
	bool enable;
};

static void push_ctx_free(struct push_ctx *e)
{
	g_free(e->jid);
	g_free(e->node);
	g_free(e);
}

static void push_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct push_ctx *e = arg;
	const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
	const char *now_node = g_hash_table_lookup(c->push->enabled, e->jid);
	struct push_stale *s;

	if (type && !strcmp(type, "result")) {
		log_info(TAG, "push %s for %s (node %s)",
		         e->enable ? "enabled" : "disabled", e->jid, e->node);
		s = e->enable ? NULL
		              : g_hash_table_lookup(c->push->stale, e->node);
		if (s)
			s->confirmed = true;
	} else if (e->enable) {
		log_warn(TAG, "the server refused to enable push for %s%s",
		         e->jid, reply ? "" : " (no answer)");
		/* Forget it so the next pass over registrations retries,
		 * unless the registration moved on to another node since. */
		if (now_node && !strcmp(now_node, e->node))
			g_hash_table_remove(c->push->enabled, e->jid);
	} else {
		log_warn(TAG,
		         "the server refused to disable push for %s (old node "
		         "%s)%s: asked again after the next reconnect or push "
		         "to that node",
		         e->jid, e->node, reply ? "" : " (no answer)");
	}
	push_ctx_free(e);
}

static void push_iq(struct comp *c, const char *jid, const char *node,
                    bool enable)
{
	xmpp_stanza_t *el =
	    comp_elem(c, enable ? "enable" : "disable", NS_PUSH);
	struct push_ctx *e = g_new0(struct push_ctx, 1);
	int err;

	xmpp_stanza_set_attribute(el, "jid", c->domain);
	/* Always with the node: a disable without one would also remove
	 * the push registrations of the user's own clients. */
	xmpp_stanza_set_attribute(el, "node", node);
	e->jid = g_strdup(jid);
	e->node = g_strdup(node);
	e->enable = enable;
	err = comp_privileged_iq(c, jid, "set", el, push_reply, e);
	if (err) {
		log_warn(TAG, "cannot %s push for %s: %s",
		         enable ? "enable" : "disable", jid,
		         err == -EPERM ? "no IQ privilege for urn:xmpp:push:0"
		                       : strerror(-err));
		if (enable)
			g_hash_table_remove(c->push->enabled, jid);
		push_ctx_free(e);
	}
}

static bool push_allowed(struct comp *c, const char *jid)
{
	struct comp_privileges *p = comp_privileges_for(c, jid);

	return c->connected && p && p->grants.iq_push_set;
}

static void step_apply(struct comp *c, const struct push_step *s)
{
	struct push_stale *st;

	if (s->kind == PUSH_STEP_DISABLE) {
		/* Remembered even when it cannot be sent now: the next
		 * reconnect sends what was not confirmed. */
		g_hash_table_remove(c->push->enabled, s->jid);
		st = stale_get(c, s->node, s->jid);
		st->confirmed = false;
		if (push_allowed(c, s->jid))
			push_iq(c, s->jid, s->node, false);
		return;
	}
	if (!push_allowed(c, s->jid))
		return;
	/* Marked before the answer so a second pass does not repeat it. */
	g_hash_table_insert(c->push->enabled, g_strdup(s->jid),
	                    g_strdup(s->node));
	/* A node in use again (the same registration restored) is no
	 * longer stale. */
	g_hash_table_remove(c->push->stale, s->node);
	push_iq(c, s->jid, s->node, true);
}

static const char *wanted_node(const struct queue_registration *r)
{
	return r && r->verified && r->push_node && *r->push_node ? r->push_node
	                                                         : NULL;
}

void comp_push_sync(struct comp *c, const char *jid,
                    const struct queue_registration *r)
{
	struct push_step steps[2];
	int n = push_plan_user(jid, g_hash_table_lookup(c->push->enabled, jid),
	                       wanted_node(r), false, steps);
	char *keep[2];

	/* The steps borrow the table's strings, which applying replaces. */
	for (int i = 0; i < n; i++) {
		keep[i] = steps[i].node = g_strdup(steps[i].node);
		steps[i].jid = (char *)jid;
	}
	for (int i = 0; i < n; i++)
		step_apply(c, &steps[i]);
	for (int i = 0; i < n; i++)
		g_free(keep[i]);
}

static int wanted_add(const struct queue_registration *r, void *arg)
{
	GHashTable *wanted = arg;
	const char *node = wanted_node(r);

	if (node)
		g_hash_table_insert(wanted, g_strdup(r->jid), g_strdup(node));
	return 0;
}

/* Disables not confirmed by the server (sent while disconnected, or lost
 * with the connection): asked again after a reconnect. */
static void stale_resend(struct comp *c)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, c->push->stale);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct push_stale *s = v;

		if (s->jid && !s->confirmed && push_allowed(c, s->jid))
			push_iq(c, s->jid, k, false);
	}
}

int comp_push_reconcile(struct comp *c, bool reconnected)
{
	GHashTable *wanted =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	GArray *steps = NULL;
	int err;

	err = queue_registration_foreach(c->q, wanted_add, wanted);
	if (err) {
		/* Nothing changes on a failed read: disabling everyone
		 * because the table could not be read would stop catching. */
		log_warn(TAG,
		         "cannot read the registrations to keep push in "
		         "step: %s; trying again at the next pass",
		         strerror(-err));
		goto out;
	}
	if (reconnected)
		stale_resend(c);
	steps = push_plan_diff(c->push->enabled, wanted, reconnected);
	for (guint i = 0; i < steps->len; i++)
		step_apply(c, &g_array_index(steps, struct push_step, i));
out:
	push_plan_free(steps);
	g_hash_table_destroy(wanted);
	return err;
}

/* A push to a node no registration holds. Logged once per node and hour;
 * when the node is one this process stopped using, its disable is asked
 * again, since the server evidently still holds it. */
static void push_unknown_node(struct comp *c, const char *node,
                              const char *from)
{
	struct push_stale *s;
	int64_t now = clock_mono_ms();

	/* Longer than any node the queue stores: never one of ours, and
	 * not worth a slot in the bounded table. */
	if (strnlen(node, QUEUE_TOKEN_MAX + 1) > QUEUE_TOKEN_MAX) {
		log_debug(TAG, "push from %s for an over-long node", from);
		return;
	}
	s = stale_get(c, node, NULL);
	if (s->logged_ms && now - s->logged_ms < PUSH_STALE_LOG_MS)
		return;
	s->logged_ms = now;
	if (s->jid && s->confirmed) {
		/* The server confirmed the disable: this push was on its
		 * way before, nothing to repair. */
		log_debug(TAG, "push from %s for node %s, disabled for %s",
		          from, node, s->jid);
		return;
	}
	if (s->jid) {
		log_warn(TAG,
		         "push from %s for node %s, which %s no longer uses "
		         "(the registration changed or was removed): the "
		         "server still holds it; asking it again to disable "
		         "the node (messages to %s are caught through its "
		         "current node, if any: see ringbridgectl users)",
		         from, node, s->jid, s->jid);
		s->confirmed = false;
		if (push_allowed(c, s->jid))
			push_iq(c, s->jid, node, false);
		return;
	}
	log_warn(TAG,
	         "push from %s for node %s, which no registration holds: the "
	         "server keeps an old push registration, from a user who "
	         "re-registered or unregistered while ringbridge-component "
	         "was not running, or one the user's own client enabled with "
	         "an old node (ejabberd: the user sends the stanza the "
	         "registration form shows again). Answered item-not-found, so "
	         "the server drops it after a few such errors (Prosody: "
	         "push_max_errors, 16); ringbridgectl users lists the current "
	         "registrations. Logged once an hour per node",
	         from, node);
}

/* ---- notifications ---- */

struct notify_ctx {
	xmpp_stanza_t *iq;  /* a copy, for the reply */
	int64_t arrived_ns; /* for ringbridge_push_to_commit_seconds */
};

static void notify_done(struct comp *c, enum catch_verdict v,
                        enum queue_enqueue_result r, int err, void *arg)
{
	struct notify_ctx *n = arg;

	if (!err && v == CATCH_QUEUED &&
	    (r == QUEUE_ENQ_NEW_JOB || r == QUEUE_ENQ_JOINED))
		comp_monitor_push_committed(c, n->arrived_ns);
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

/* The item id mod_ringbridge gives a push (deploy/prosody/): the same on
 * every re-send of one notification. Accepted only when short and plain,
 * since it becomes part of a unique key in the queue. */
static bool push_item_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > PUSH_ITEM_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isalnum(id[i]) && id[i] != '-')
			return false;
	return true;
}

/* The job's idempotency key: the stable item id where the server gives one
 * (so a re-sent push is a duplicate), else this run's receive sequence
 * (stock cloud_notify sends no id). */
static char *push_idem_key(struct comp *c, const char *from,
                           xmpp_stanza_t *item)
{
	const char *id = xmpp_stanza_get_attribute(item, "id");

	if (push_item_id_ok(id))
		return g_strdup_printf("push:%s:item:%s", from, id);
	if (id)
		log_debug(TAG,
		          "push from %s: item id not of mod_ringbridge's "
		          "form, not used as the key",
		          from);
	return g_strdup_printf("push:%s:%llu", c->run_id,
	                       (unsigned long long)++c->receive_seq);
}

void comp_push_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *pubsub)
{
	const char *from = xmpp_stanza_get_from(iq);
	xmpp_stanza_t *publish, *item, *notif, *x;
	struct queue_registration r = {0};
	struct catch_request req = {0};
	struct notify_ctx *n;
	char *sender = NULL, *body = NULL, *key = NULL;
	const char *node;
	int err;

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
	if (!from || strchr(from, '@') || !comp_privileges_for(c, from)) {
		comp_iq_error(c, iq, "auth", "forbidden",
		              "push notifications are accepted only from "
		              "the served domains");
		return;
	}
	err = queue_registration_get_by_node(c->q, node, &r);
	if (err && err != -ENOENT && err != -EINVAL) {
		/* The queue cannot be read: not a stale node. "wait" keeps
		 * the registration on the server. */
		log_warn(TAG, "cannot look up push node %s: %s", node,
		         strerror(-err));
		comp_iq_error(c, iq, "wait", "internal-server-error",
		              "the registrations cannot be read");
		goto out;
	}
	if (err ||
	    comp_privileges_for(c, r.jid) != comp_privileges_for(c, from)) {
		/* An unknown node is a stale registration: the error lets
		 * the server drop it after a few tries. */
		push_unknown_node(c, node, from);
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
	key = push_idem_key(c, from, item);
	req.callee = r.jid;
	req.sender = sender;
	req.reply_from = r.jid;
	req.body = body;
	req.encrypted = fallback_is_encrypted_body(body);
	req.idem_key = key;
	n = g_new0(struct notify_ctx, 1);
	n->iq = xmpp_stanza_copy(iq);
	n->arrived_ns = metrics_now_ns();
	push_catch(c, &req, n);
out:
	g_free(key);
	g_free(sender);
	g_free(body);
	queue_registration_clear(&r);
}
