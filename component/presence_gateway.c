/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The presence of users' gateway contacts (bob@<component>, or the XEP-0106
 * form bob\40example.org@<component>), plain RFC 6121 so every server and
 * every client shows it. A contact is "available" ("Reachable by phone")
 * while its user has a verified registration, "dnd" with "On the phone"
 * while the bridge's "sip" presence row says the user's phone is in a call,
 * and unavailable otherwise. Subscriptions are answered by the component as
 * the contact's server would (subscribe -> subscribed and the current
 * presence, probe -> the current presence, unsubscribe -> unavailable), and
 * kept in the queue, so a change reaches every subscriber even after the
 * component restarts. On servers that grant a pubsub IQ privilege
 * (Prosody) the call also goes into the user's PEP as XEP-0108 activity
 * talking/on_the_phone, and an empty activity when it ends.
 *
 * Changes are coalesced per user: at most one broadcast per user per
 * MIN_INTERVAL_MS, carrying the state as it is when sent, and nothing when
 * it is what subscribers already have; so a flapping phone cannot cause a
 * presence storm whatever the bridge writes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "jid_escape.h"
#include "log.h"
#include "policy.h"
#include "presence.h"
#include "store.h"

#define TAG             "gwpresence"
#define NS_PUBSUB       "http://jabber.org/protocol/pubsub"
#define NS_ACTIVITY     "http://jabber.org/protocol/activity"
#define MIN_INTERVAL_MS 1000
#define SUBSCRIBERS_MAX 1000 /* per gateway contact */
#define USERS_MAX       1000000
#define POLL_SLACK_MS   2000
/* At start-up, users whose phone went idle this recently get an empty
 * activity in case the call ended while the component was down. */
#define PEP_CLEAR_WINDOW_MS (24 * 3600 * 1000LL)
#define STATUS_REACHABLE    "Reachable by phone"
#define STATUS_ON_THE_PHONE "On the phone"

enum gw_state {
	GW_UNKNOWN = -1, /* nothing sent by this process yet */
	GW_UNAVAILABLE = 0,
	GW_AVAILABLE = 1,
	GW_ON_THE_PHONE = 2,
};

struct gw_user {
	bool on_phone;        /* the latest "sip" row says on_the_phone */
	enum gw_state sent;   /* what subscribers were last sent */
	int64_t last_sent_ms; /* when */
	int64_t due_ms;       /* a broadcast is pending from then; 0: none */
	bool pep_on;          /* activity talking/on_the_phone published */
};

struct gwpres {
	GHashTable *users;    /* bare JID -> struct gw_user */
	int64_t sip_seen_ms;  /* newest "sip" row read */
	GHashTable *pep_warn; /* domains told about (no pubsub privilege) */
	unsigned pending;     /* users with due_ms set */
	bool started;         /* first session's broadcast done */
	struct comp *c;
	struct timer wake; /* armed at the earliest pending due_ms */
};

static void on_wake(void *arg)
{
	comp_gwpres_run(arg, clock_mono_ms());
}

struct gwpres *comp_gwpres_new(struct comp *c)
{
	struct gwpres *g = g_new0(struct gwpres, 1);

	g->c = c;
	timer_init(&g->wake, on_wake, c);

	g->users =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g->pep_warn =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return g;
}

void comp_gwpres_free(struct gwpres *g)
{
	if (!g)
		return;
	timer_stop(&g->c->timers, &g->wake);
	g_hash_table_destroy(g->users);
	g_hash_table_destroy(g->pep_warn);
	g_free(g);
}

static struct gw_user *user_get(struct gwpres *g, const char *bare)
{
	struct gw_user *u = g_hash_table_lookup(g->users, bare);

	if (u || g_hash_table_size(g->users) >= USERS_MAX)
		return u;
	u = g_new0(struct gw_user, 1);
	u->sent = GW_UNKNOWN;
	g_hash_table_insert(g->users, g_strdup(bare), u);
	return u;
}

/* Schedules a broadcast for BARE: now, or MIN_INTERVAL_MS after the last. */
static void mark(struct comp *c, const char *bare)
{
	struct gw_user *u = user_get(c->gwpres, bare);
	int64_t now = clock_mono_ms();

	if (!u || u->due_ms)
		return;
	u->due_ms = u->last_sent_ms + MIN_INTERVAL_MS > now
	                ? u->last_sent_ms + MIN_INTERVAL_MS
	                : now;
	c->gwpres->pending++;
	/* Due now: sent at the end of this pass (session.c). */
	if (u->due_ms > now)
		timer_start_by(&c->timers, &c->gwpres->wake, u->due_ms);
}

/* What BARE's gateway contact shows now. */
static enum gw_state current_state(struct comp *c, const char *bare)
{
	struct queue_registration r = {0};
	struct gw_user *u = g_hash_table_lookup(c->gwpres->users, bare);
	enum gw_state s = GW_UNAVAILABLE;

	if (queue_registration_get(c->q, bare, &r) != 0)
		return GW_UNAVAILABLE;
	if (r.verified)
		s = u && u->on_phone && comp_presence_sip_address(&r)
		        ? GW_ON_THE_PHONE
		        : GW_AVAILABLE;
	queue_registration_clear(&r);
	return s;
}

static void send_state(struct comp *c, const char *from, const char *to,
                       enum gw_state s)
{
	xmpp_stanza_t *p = xmpp_presence_new(c->ctx);

	xmpp_stanza_set_from(p, from);
	xmpp_stanza_set_to(p, to);
	if (s == GW_ON_THE_PHONE) {
		comp_add_text_child(c, p, "show", "dnd");
		comp_add_text_child(c, p, "status", STATUS_ON_THE_PHONE);
	} else if (s == GW_AVAILABLE) {
		comp_add_text_child(c, p, "status", STATUS_REACHABLE);
	} else {
		xmpp_stanza_set_type(p, "unavailable");
	}
	comp_send(c, p);
	xmpp_stanza_release(p);
}

static void send_type(struct comp *c, const char *from, const char *to,
                      const char *type)
{
	xmpp_stanza_t *p = xmpp_presence_new(c->ctx);

	xmpp_stanza_set_from(p, from);
	xmpp_stanza_set_to(p, to);
	xmpp_stanza_set_type(p, type);
	comp_send(c, p);
	xmpp_stanza_release(p);
}

struct bcast {
	struct comp *c;
	enum gw_state s;
	int n;
};

static int bcast_one(const char *contact, const char *subscriber,
                     const char *user, void *arg)
{
	struct bcast *b = arg;

	(void)user;
	send_state(b->c, contact, subscriber, b->s);
	b->n++;
	return 0;
}

/* ---- XEP-0108 activity in the user's PEP ---- */

static void pep_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	char *bare = arg;
	const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;

	(void)c;
	if (!type || strcmp(type, "result") != 0)
		log_warn(TAG, "the server refused the activity for %s%s", bare,
		         reply ? "" : " (no answer)");
	else
		log_debug(TAG, "activity of %s published", bare);
	g_free(bare);
}

static void pep_publish(struct comp *c, const char *bare, bool on_phone)
{
	struct comp_privileges *p = comp_privileges_for(c, bare);
	xmpp_stanza_t *pubsub, *publish, *item, *act;
	const char *at = strchr(bare, '@');
	char *arg;
	int err;

	if (!p || !p->grants.iq_pubsub_set) {
		const char *domain = at ? at + 1 : bare;

		if (!g_hash_table_contains(c->gwpres->pep_warn, domain)) {
			g_hash_table_add(c->gwpres->pep_warn, g_strdup(domain));
			log_info(TAG,
			         "%s grants no pubsub IQ privilege: no "
			         "XEP-0108 \"on the phone\" activity in its "
			         "users' PEP (the gateway contacts' presence "
			         "still shows it)",
			         domain);
		}
		return;
	}
	pubsub = comp_elem(c, "pubsub", NS_PUBSUB);
	publish = comp_elem(c, "publish", NULL);
	xmpp_stanza_set_attribute(publish, "node", NS_ACTIVITY);
	item = comp_elem(c, "item", NULL);
	xmpp_stanza_set_attribute(item, "id", "current");
	act = comp_elem(c, "activity", NS_ACTIVITY);
	if (on_phone) {
		xmpp_stanza_t *talking = comp_elem(c, "talking", NULL);

		xmpp_stanza_add_child_ex(talking,
		                         comp_elem(c, "on_the_phone", NULL), 0);
		xmpp_stanza_add_child_ex(act, talking, 0);
	}
	xmpp_stanza_add_child_ex(item, act, 0);
	xmpp_stanza_add_child_ex(publish, item, 0);
	xmpp_stanza_add_child_ex(pubsub, publish, 0);
	arg = g_strdup(bare);
	/* PUBSUB is the call's whatever happens; ARG is the reply's, or
	 * ours again when nothing was sent. */
	err = comp_privileged_iq(c, bare, "set", pubsub, pep_reply, arg);
	if (err) {
		log_warn(TAG, "cannot publish the activity of %s: %s", bare,
		         strerror(-err));
		g_free(arg);
	}
}

/* ---- broadcasting ---- */

static void broadcast(struct comp *c, const char *bare, struct gw_user *u,
                      int64_t now)
{
	enum gw_state s = current_state(c, bare);
	struct bcast b = {c, s, 0};
	bool on = s == GW_ON_THE_PHONE;

	if (s != u->sent) {
		queue_gwsub_foreach(c->q, bare, bcast_one, &b);
		u->sent = s;
		u->last_sent_ms = now;
		log_info(TAG, "%s: %s (to %d subscriber%s)", bare,
		         s == GW_ON_THE_PHONE ? "on the phone"
		         : s == GW_AVAILABLE  ? "reachable by phone"
		                              : "unavailable",
		         b.n, b.n == 1 ? "" : "s");
	}
	if (on != u->pep_on) {
		u->pep_on = on;
		pep_publish(c, bare, on);
	}
}

void comp_gwpres_run(struct comp *c, int64_t now)
{
	struct gwpres *g = c->gwpres;
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *due = NULL;
	int64_t next = 0;

	if (!g->pending || !c->connected || !c->startup_done)
		return;
	g_hash_table_iter_init(&it, g->users);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct gw_user *u = v;

		if (!u->due_ms)
			continue;
		if (u->due_ms > now) {
			if (!next || u->due_ms < next)
				next = u->due_ms;
			continue;
		}
		if (!due)
			due = g_ptr_array_new();
		g_ptr_array_add(due, k);
	}
	for (guint i = 0; due && i < due->len; i++) {
		struct gw_user *u =
		    g_hash_table_lookup(g->users, due->pdata[i]);

		u->due_ms = 0;
		g->pending--;
		broadcast(c, due->pdata[i], u, now);
	}
	if (due)
		g_ptr_array_free(due, TRUE);
	if (next)
		timer_start_by(&c->timers, &g->wake, next);
}

/* ---- the bridge's "sip" rows ---- */

struct poll_ctx {
	struct comp *c;
	int64_t newest;
};

static int sip_row(const struct queue_presence *p, void *arg)
{
	struct poll_ctx *x = arg;
	bool on = !strcmp(p->state, QUEUE_PRESENCE_ON_THE_PHONE);
	struct gw_user *u;

	if (p->updated_ms > x->newest)
		x->newest = p->updated_ms;
	if (!comp_jid_valid(p->jid) || strchr(p->jid, '/'))
		return 0;
	u = g_hash_table_lookup(x->c->gwpres->users, p->jid);
	if (!u && !on)
		return 0; /* idle and never seen: nothing to tell */
	if (!u)
		u = user_get(x->c->gwpres, p->jid);
	if (!u || u->on_phone == on)
		return 0;
	u->on_phone = on;
	log_debug(TAG, "%s's phone: %s", p->jid, p->state);
	mark(x->c, p->jid);
	return 0;
}

void comp_gwpres_poll(struct comp *c, bool full)
{
	struct gwpres *g = c->gwpres;
	struct poll_ctx x = {c, g->sip_seen_ms};
	int64_t since = 0;

	/* Rows are stamped by their writer's clock: read a little before
	 * the newest seen, and everything on the periodic full pass. */
	if (!full && g->sip_seen_ms > POLL_SLACK_MS)
		since = g->sip_seen_ms - POLL_SLACK_MS;
	if (queue_presence_foreach(c->q, QUEUE_PRESENCE_SIP, since, sip_row,
	                           &x) == 0)
		g->sip_seen_ms = x.newest;
}

/* ---- registrations and sessions ---- */

void comp_gwpres_user_changed(struct comp *c, const char *bare)
{
	mark(c, bare);
}

static int mark_sub(const char *contact, const char *subscriber,
                    const char *user, void *arg)
{
	struct comp *c = arg;

	(void)contact, (void)subscriber;
	mark(c, user);
	return 0;
}

void comp_gwpres_all_changed(struct comp *c)
{
	GHashTableIter it;
	gpointer k, v;

	queue_gwsub_foreach(c->q, NULL, mark_sub, c);
	g_hash_table_iter_init(&it, c->gwpres->users);
	while (g_hash_table_iter_next(&it, &k, &v))
		mark(c, k);
}

/* A call that ended lately, maybe while this process was not running:
 * its "on the phone" may still be in the user's PEP. */
static int recent_idle(const struct queue_presence *p, void *arg)
{
	struct comp *c = arg;
	struct gw_user *u;

	if (!strcmp(p->state, QUEUE_PRESENCE_ON_THE_PHONE) ||
	    !comp_jid_valid(p->jid) || strchr(p->jid, '/'))
		return 0;
	u = user_get(c->gwpres, p->jid);
	if (!u)
		return 0;
	u->pep_on = true; /* so the broadcast publishes an empty activity */
	mark(c, p->jid);
	return 0;
}

void comp_gwpres_session_start(struct comp *c)
{
	/* Changes while disconnected are in the rows. On the process's
	 * first session nobody knows what subscribers were last sent (a
	 * call may have ended while the component was down): send every
	 * subscribed contact's state once, and clear the PEP activity of
	 * those whose phone went idle in the last day. */
	comp_gwpres_poll(c, true);
	if (!c->gwpres->started) {
		c->gwpres->started = true;
		comp_gwpres_all_changed(c);
		queue_presence_foreach(c->q, QUEUE_PRESENCE_SIP,
		                       clock_real_ms() - PEP_CLEAR_WINDOW_MS,
		                       recent_idle, c);
	}
}

/* ---- presence addressed to a gateway contact ---- */

enum gwsub_kind { GWSUB_ADD, GWSUB_REMOVE, GWSUB_PROBE };

/* A subscription request on its way through the writer thread. */
struct gwsub_req {
	enum gwsub_kind kind;
	char *contact, *sub, *user; /* the gateway contact, who, the user */
	/* results */
	bool existed; /* the subscription was stored before */
	int count;    /* ADD: the contact's subscribers before */
};

static void gwsub_req_free(struct gwsub_req *r)
{
	g_free(r->contact);
	g_free(r->sub);
	g_free(r->user);
	g_free(r);
}

/* On the store's thread: the reads that decide and the write, together,
 * so two requests in one batch see each other. */
static int gwsub_run(struct queue *q, void *arg)
{
	struct gwsub_req *r = arg;

	r->existed = false;
	r->count = 0;
	if (r->kind == GWSUB_REMOVE)
		return queue_gwsub_remove(q, r->contact, r->sub);
	r->existed = queue_gwsub_exists(q, r->contact, r->sub) == 0;
	if (r->kind == GWSUB_PROBE || r->existed)
		return 0;
	if (queue_gwsub_count(q, r->contact, &r->count) != 0 ||
	    r->count >= SUBSCRIBERS_MAX)
		return -EDQUOT;
	return queue_gwsub_add(q, r->contact, r->sub, r->user);
}

/* Back on the loop: the answers. */
static void gwsub_done(struct comp *c, int err, void *arg)
{
	struct gwsub_req *r = arg;

	switch (r->kind) {
	case GWSUB_REMOVE:
		if (!err)
			log_info(TAG, "%s unsubscribed from %s", r->sub,
			         r->contact);
		send_state(c, r->contact, r->sub, GW_UNAVAILABLE);
		break;
	case GWSUB_PROBE:
		if (!err && r->existed)
			send_state(c, r->contact, r->sub,
			           current_state(c, r->user));
		else
			send_type(c, r->contact, r->sub, "unsubscribed");
		break;
	case GWSUB_ADD:
		if (err == -EDQUOT) {
			log_warn(TAG,
			         "refusing %s's subscription to %s: %d "
			         "subscribers already",
			         r->sub, r->contact, r->count);
			send_type(c, r->contact, r->sub, "unsubscribed");
			break;
		}
		/* Not stored: say nothing, the subscriber's server retries
		 * the request when the user logs in again. */
		if (err)
			break;
		log_info(TAG, "%s subscribed to %s", r->sub, r->contact);
		send_type(c, r->contact, r->sub, "subscribed");
		send_state(c, r->contact, r->sub, current_state(c, r->user));
		break;
	}
	gwsub_req_free(r);
}

void comp_gwpres_handle(struct comp *c, xmpp_stanza_t *stanza,
                        const char *contact)
{
	const char *type = xmpp_stanza_get_type(stanza);
	const char *at = strchr(contact, '@');
	char local[JIDESC_PART_MAX + 1];
	struct jidesc_target t;
	char *sub = comp_jid_bare(xmpp_stanza_get_from(stanza));
	bool sub_req, probe, unsub;
	struct gwsub_req *r;

	if (!type || !sub)
		goto out; /* directed availability: nothing to keep */
	sub_req = !strcmp(type, "subscribe");
	probe = !strcmp(type, "probe");
	unsub = !strcmp(type, "unsubscribe");
	if (!sub_req && !probe && !unsub)
		goto out; /* subscribed/unsubscribed/error: we ask nobody */
	if ((size_t)(at - contact) > JIDESC_PART_MAX)
		goto out;
	memcpy(local, contact, (size_t)(at - contact));
	local[at - contact] = '\0';
	if (jidesc_gateway_parse(local, c->cfg, &t) != 0 ||
	    t.kind != JIDESC_USER) {
		/* Numbers and non-addresses have no presence to share. */
		if (!unsub)
			send_type(c, contact, sub, "unsubscribed");
		goto out;
	}
	/* A user's phone activity is shared within the served domains
	 * only: anyone on the network may write to a gateway address. */
	if (sub_req && !policy_jid_is_local(c->cfg, sub)) {
		log_info(TAG,
		         "refusing %s's subscription to %s: not a user "
		         "of a served domain",
		         sub, contact);
		send_type(c, contact, sub, "unsubscribed");
		goto out;
	}
	/* Decided and stored on the writer's thread, in order with the
	 * requests before it; answered when that is done. */
	r = g_new0(struct gwsub_req, 1);
	r->kind = unsub ? GWSUB_REMOVE : probe ? GWSUB_PROBE : GWSUB_ADD;
	r->contact = g_strdup(contact);
	r->sub = sub;
	r->user = g_strdup(t.jid);
	sub = NULL;
	store_call(c->store, gwsub_run, r, gwsub_done);
out:
	g_free(sub);
}
