/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0356 privileged entity: reading what the server granted and wrapping
 * stanzas sent on a user's behalf; plus the table of our own IQs awaiting
 * a reply. Prosody 0.12 speaks urn:xmpp:privilege:2 (IQ privileges
 * included); ejabberd 23.01 speaks urn:xmpp:privilege:1 (no IQ privilege).
 * Replies use the namespace the server advertised. Bookworm's mod_privilege
 * nests one <namespace/> inside another when several IQ namespaces are
 * granted, so the advertisement is read by walking all descendants.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "log.h"
#include "xmppc.h"

#define TAG             "privilege"
#define NS_PRIV1        "urn:xmpp:privilege:1"
#define NS_PRIV2        "urn:xmpp:privilege:2"
#define NS_FORWARD      "urn:xmpp:forward:0"
#define IQ_TIMEOUT_MS   30000
#define PENDING_IQS_MAX 100000

/* IQs sent and not answered yet, and the timer that ends them when their
 * deadline passes. */
struct comp_iqs {
	GHashTable *pending; /* our IQ id -> struct comp_pending_iq */
	struct timer expire; /* armed at the earliest deadline */
};

struct comp_pending_iq {
	comp_iq_cb cb;
	void *arg;
	int64_t deadline_ms;
	bool privileged; /* unwrap the reply */
};

void comp_privilege_reset(struct comp *c)
{
	memset(c->priv, 0, sizeof(*c->priv) * c->cfg->xmpp.user_domains.n);
}

struct comp_privileges *comp_privileges_for(struct comp *c, const char *jid)
{
	const char *at = strchr(jid, '@');
	const char *domain = at ? at + 1 : jid;
	size_t dlen = strcspn(domain, "/");

	for (size_t i = 0; i < c->cfg->xmpp.user_domains.n; i++) {
		const char *d = c->cfg->xmpp.user_domains.v[i];

		if (strlen(d) == dlen && !g_ascii_strncasecmp(d, domain, dlen))
			return &c->priv[i];
	}
	return NULL;
}

bool comp_privileges_all_advertised(struct comp *c)
{
	for (size_t i = 0; i < c->cfg->xmpp.user_domains.n; i++)
		if (!c->priv[i].advertised)
			return false;
	return true;
}

bool comp_privilege_handle_advert(struct comp *c, xmpp_stanza_t *msg)
{
	const char *from = xmpp_stanza_get_from(msg);
	xmpp_stanza_t *priv;
	struct comp_privileges *p;
	const char *ns = NS_PRIV2;

	priv = xmpp_stanza_get_child_by_name_and_ns(msg, "privilege", NS_PRIV2);
	if (!priv) {
		priv = xmpp_stanza_get_child_by_name_and_ns(msg, "privilege",
		                                            NS_PRIV1);
		ns = NS_PRIV1;
	}
	if (!priv)
		return false;
	/* Only a served domain itself may grant privileges for it. */
	if (!from || strchr(from, '@') || strchr(from, '/') ||
	    !(p = comp_privileges_for(c, from))) {
		log_warn(TAG, "ignoring a privilege advertisement from %s",
		         from ? from : "(no from)");
		return true;
	}
	memset(p, 0, sizeof(*p));
	p->advertised = true;
	snprintf(p->ns, sizeof(p->ns), "%s", ns);
	xmppc_grants_read(priv, &p->grants);
	log_info(TAG,
	         "%s grants %s: presence %s, message %s, roster %s, push %s, "
	         "pubsub %s, archive metadata %s",
	         from, ns, p->grants.presence ? "yes" : "no",
	         p->grants.message ? "yes" : "no",
	         p->grants.roster_get ? "yes" : "no",
	         p->grants.iq_push_set ? "yes" : "no",
	         p->grants.iq_pubsub_set ? "yes" : "no",
	         p->grants.iq_mam_get ? "yes" : "no");
	if (p->grants.presence && !strcmp(ns, NS_PRIV1))
		log_info(TAG,
		         "%s speaks %s (ejabberd 23.01): users already online "
		         "are unknown until their next presence, and resources "
		         "are rechecked before a user counts as online",
		         from, ns);
	if (!p->grants.iq_push_set)
		log_warn(TAG,
		         "%s grants no urn:xmpp:push:0 IQ privilege: messages "
		         "to its users' own JIDs will not be caught, only "
		         "messages to gateway addresses (user@%s)",
		         from, c->domain);
	if (p->grants.iq_push_set && !p->grants.iq_mam_get &&
	    !strcmp(ns, NS_PRIV2))
		log_info(
		    TAG,
		    "%s grants no urn:xmpp:mam:2 get IQ privilege: messages "
		    "its users receive while the component is disconnected "
		    "are not noticed unless mod_ringbridge re-sends them "
		    "(docs/prosody.md)",
		    from);
	comp_status_write(c);
	return true;
}

static void pending_free(gpointer p)
{
	g_free(p);
}

int comp_send_iq(struct comp *c, xmpp_stanza_t *iq, comp_iq_cb cb, void *arg,
                 int timeout_ms)
{
	char id[64];
	struct comp_pending_iq *p;

	if (!c->connected)
		return -ENOTCONN;
	if (g_hash_table_size(c->iqs->pending) >= PENDING_IQS_MAX)
		return -EBUSY;
	comp_new_id(c, id, sizeof(id));
	xmpp_stanza_set_id(iq, id);
	if (!xmpp_stanza_get_from(iq))
		xmpp_stanza_set_from(iq, c->domain);
	p = g_new0(struct comp_pending_iq, 1);
	p->cb = cb;
	p->arg = arg;
	p->deadline_ms =
	    clock_mono_ms() + (timeout_ms ? timeout_ms : IQ_TIMEOUT_MS);
	g_hash_table_insert(c->iqs->pending, g_strdup(id), p);
	timer_start_by(&c->timers, &c->iqs->expire, p->deadline_ms);
	comp_send(c, iq);
	return 0;
}

int comp_privileged_iq(struct comp *c, const char *user_jid, const char *type,
                       xmpp_stanza_t *payload, comp_iq_cb cb, void *arg)
{
	struct comp_privileges *p = comp_privileges_for(c, user_jid);
	xmpp_stanza_t *outer, *wrap, *inner;
	char id[64];
	int err;

	if (!p || !p->advertised || strcmp(p->ns, NS_PRIV2) != 0) {
		xmpp_stanza_release(payload);
		return -EPERM;
	}
	outer = xmpp_iq_new(c->ctx, type, NULL);
	xmpp_stanza_set_to(outer, user_jid);
	wrap = comp_elem(c, "privileged_iq", NS_PRIV2);
	comp_new_id(c, id, sizeof(id));
	inner = xmpp_iq_new(c->ctx, type, id);
	xmpp_stanza_set_ns(inner, "jabber:client");
	xmpp_stanza_set_from(inner, user_jid);
	xmpp_stanza_set_to(inner, user_jid);
	xmpp_stanza_add_child_ex(inner, payload, 0);
	xmpp_stanza_add_child_ex(wrap, inner, 0);
	xmpp_stanza_add_child_ex(outer, wrap, 0);
	err = comp_send_iq(c, outer, cb, arg, 0);
	if (!err) {
		struct comp_pending_iq *pi = g_hash_table_lookup(
		    c->iqs->pending, xmpp_stanza_get_id(outer));

		if (pi)
			pi->privileged = true;
	}
	xmpp_stanza_release(outer);
	return err;
}

int comp_privileged_message(struct comp *c, xmpp_stanza_t *msg)
{
	const char *from = xmpp_stanza_get_from(msg);
	struct comp_privileges *p = from ? comp_privileges_for(c, from) : NULL;
	xmpp_stanza_t *outer, *priv, *fwd;
	char domain[1024];
	const char *at;

	if (!p || !p->grants.message)
		return -EPERM;
	at = strchr(from, '@');
	snprintf(domain, sizeof(domain), "%.*s", (int)strcspn(at + 1, "/"),
	         at + 1);
	outer = xmpp_message_new(c->ctx, NULL, domain, NULL);
	xmpp_stanza_set_from(outer, c->domain);
	priv = comp_elem(c, "privilege", p->ns);
	fwd = comp_elem(c, "forwarded", NS_FORWARD);
	xmpp_stanza_set_ns(msg, "jabber:client");
	xmpp_stanza_add_child(fwd, msg);
	xmpp_stanza_add_child_ex(priv, fwd, 0);
	xmpp_stanza_add_child_ex(outer, priv, 0);
	comp_send(c, outer);
	xmpp_stanza_release(outer);
	return 0;
}

bool comp_pending_iq_handle(struct comp *c, xmpp_stanza_t *iq)
{
	const char *id = xmpp_stanza_get_id(iq);
	const char *type = xmpp_stanza_get_type(iq);
	struct comp_pending_iq *p;
	xmpp_stanza_t *reply = iq;
	gpointer key, val;

	if (!id ||
	    !g_hash_table_steal_extended(c->iqs->pending, id, &key, &val))
		return false;
	g_free(key);
	p = val;
	if (p->privileged && type && !strcmp(type, "result")) {
		/* <iq type=result><privilege><forwarded><iq/>... */
		xmpp_stanza_t *priv =
		    xmpp_stanza_get_child_by_name(iq, "privilege");
		xmpp_stanza_t *fwd =
		    priv ? xmpp_stanza_get_child_by_name(priv, "forwarded")
		         : NULL;
		xmpp_stanza_t *inner =
		    fwd ? xmpp_stanza_get_child_by_name(fwd, "iq") : NULL;

		if (inner)
			reply = inner;
	}
	if (p->cb)
		p->cb(c, reply, p->arg);
	g_free(p);
	return true;
}

/* Ends the IQs whose deadline is NOW or before; re-arms the timer at the
 * earliest deadline left. */
static void pending_iq_expire(struct comp *c, int64_t now)
{
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *expired = NULL;
	int64_t next = 0;

	g_hash_table_iter_init(&it, c->iqs->pending);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct comp_pending_iq *p = v;

		if (p->deadline_ms > now) {
			if (!next || p->deadline_ms < next)
				next = p->deadline_ms;
			continue;
		}
		if (!expired)
			expired = g_ptr_array_new();
		g_ptr_array_add(expired, p);
		g_hash_table_iter_steal(&it);
		g_free(k);
	}
	for (guint i = 0; expired && i < expired->len; i++) {
		struct comp_pending_iq *p = expired->pdata[i];

		if (p->cb)
			p->cb(c, NULL, p->arg);
		g_free(p);
	}
	if (expired)
		g_ptr_array_free(expired, TRUE);
	/* The callbacks may have sent more: their deadlines are later. */
	if (next)
		timer_start_by(&c->timers, &c->iqs->expire, next);
}

void comp_pending_iq_clear(struct comp *c)
{
	pending_iq_expire(c, INT64_MAX);
	timer_stop(&c->timers, &c->iqs->expire);
}

static void on_expire(void *arg)
{
	pending_iq_expire(arg, clock_mono_ms());
}

size_t comp_pending_iq_count(struct comp *c)
{
	return g_hash_table_size(c->iqs->pending);
}

int comp_iqs_new(struct comp_iqs **ip, struct comp *c)
{
	struct comp_iqs *q = g_new0(struct comp_iqs, 1);

	q->pending = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                   pending_free);
	timer_init(&q->expire, on_expire, c);
	*ip = q;
	return 0;
}

void comp_iqs_free(struct comp *c)
{
	if (!c->iqs)
		return;
	timer_stop(&c->timers, &c->iqs->expire);
	g_hash_table_destroy(c->iqs->pending);
	g_free(c->iqs);
	c->iqs = NULL;
}
