/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The presence table (see presence.h), the <presence/> handler, and the
 * queue's "xmpp" rows. A user maps to a small table of resources; the
 * limits keep a misbehaving server or client from growing it without
 * bound. Presence addressed to a gateway contact (user@<component>) is
 * about subscriptions to that contact and goes to presence_gateway.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "comp.h"
#include "log.h"
#include "policy.h"
#include "presence.h"
#include "store.h"

#define TAG       "presence"
#define USERS_MAX 1000000

struct resource {
	enum presence_show show;
	int priority;
	char *status; /* NULL: none */
	uint64_t seq; /* when it last changed, for ties */
};

struct presence_table {
	GHashTable *users;   /* bare JID -> GHashTable resource -> resource */
	GHashTable *changed; /* bare JIDs changed since the last drain */
	uint64_t seq;
};

static void resource_free(gpointer p)
{
	struct resource *r = p;

	g_free(r->status);
	g_free(r);
}

struct presence_table *comp_presence_new(void)
{
	struct presence_table *t = g_new0(struct presence_table, 1);

	t->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                 (GDestroyNotify)g_hash_table_destroy);
	t->changed =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	return t;
}

void comp_presence_free(struct presence_table *t)
{
	if (!t)
		return;
	g_hash_table_destroy(t->users);
	g_hash_table_destroy(t->changed);
	g_free(t);
}

void comp_presence_clear(struct presence_table *t)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, t->users);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_add(t->changed, g_strdup(k));
	g_hash_table_remove_all(t->users);
}

void comp_presence_changed_drain(struct presence_table *t,
                                 void (*cb)(const char *bare, void *arg),
                                 void *arg)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, t->changed);
	while (g_hash_table_iter_next(&it, &k, &v))
		cb(k, arg);
	g_hash_table_remove_all(t->changed);
}

enum presence_show comp_presence_show_parse(const char *s)
{
	if (!s)
		return PRESENCE_AVAILABLE;
	if (!strcmp(s, "chat"))
		return PRESENCE_CHAT;
	if (!strcmp(s, "away"))
		return PRESENCE_AWAY;
	if (!strcmp(s, "xa"))
		return PRESENCE_XA;
	if (!strcmp(s, "dnd"))
		return PRESENCE_DND;
	return PRESENCE_AVAILABLE;
}

const char *comp_presence_show_name(enum presence_show s)
{
	switch (s) {
	case PRESENCE_CHAT:
		return "chat";
	case PRESENCE_AWAY:
		return "away";
	case PRESENCE_XA:
		return "xa";
	case PRESENCE_DND:
		return "dnd";
	case PRESENCE_AVAILABLE:
		break;
	}
	return "available";
}

int comp_presence_priority_parse(const char *s)
{
	char *end;
	long v;

	if (!s)
		return 0;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (!*s || strlen(s) > 8)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (errno || *end || v < -128 || v > 127)
		return 0;
	return (int)v;
}

char *comp_presence_status_copy(const char *text, size_t max)
{
	size_t n;

	if (!text)
		return NULL;
	n = strlen(text);
	if (n <= max)
		return g_strdup(text);
	/* Back off continuation bytes (10xxxxxx) so no sequence is cut. */
	n = max;
	while (n > 0 && ((unsigned char)text[n] & 0xc0) == 0x80)
		n--;
	return g_strndup(text, n);
}

int comp_presence_set(struct presence_table *t, const char *full_jid,
                      bool available, enum presence_show show, int priority,
                      const char *status)
{
	const char *slash = strchr(full_jid, '/');
	char *bare = slash ? g_strndup(full_jid, (size_t)(slash - full_jid))
	                   : g_strdup(full_jid);
	const char *resource = slash ? slash + 1 : "";
	GHashTable *res = g_hash_table_lookup(t->users, bare);
	struct resource *r;
	int err = 0;

	if (!available) {
		if (res) {
			/* Unavailable from the bare JID ends every resource. */
			if (!*resource)
				g_hash_table_remove_all(res);
			else
				g_hash_table_remove(res, resource);
			if (g_hash_table_size(res) == 0)
				g_hash_table_remove(t->users, bare);
		}
		/* Even when unknown: an unavailable with a new status. */
		g_hash_table_add(t->changed, g_strdup(bare));
		goto out;
	}
	if (!res) {
		if (g_hash_table_size(t->users) >= USERS_MAX) {
			err = -E2BIG;
			goto out;
		}
		res = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		                            resource_free);
		g_hash_table_insert(t->users, g_strdup(bare), res);
	}
	if (!g_hash_table_contains(res, resource) &&
	    g_hash_table_size(res) >= PRESENCE_RESOURCES_PER_USER_MAX) {
		err = -E2BIG;
		goto out;
	}
	r = g_new0(struct resource, 1);
	r->show = show;
	r->priority = priority;
	r->status = comp_presence_status_copy(status, PRESENCE_STATUS_MAX);
	r->seq = ++t->seq;
	g_hash_table_replace(res, g_strdup(resource), r);
	g_hash_table_add(t->changed, g_strdup(bare));
out:
	g_free(bare);
	return err;
}

int comp_presence_update(struct presence_table *t, const char *full_jid,
                         bool available, enum presence_show show)
{
	return comp_presence_set(t, full_jid, available, show, 0, NULL);
}

bool comp_presence_best(struct presence_table *t, const char *bare,
                        enum presence_show *show)
{
	GHashTable *res = g_hash_table_lookup(t->users, bare);
	GHashTableIter it;
	gpointer k, v;
	int best = -1;

	if (!res)
		return false;
	g_hash_table_iter_init(&it, res);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct resource *r = v;

		if (best < 0 || (int)r->show < best)
			best = (int)r->show;
	}
	if (best < 0)
		return false;
	*show = (enum presence_show)best;
	return true;
}

bool comp_presence_aggregate(struct presence_table *t, const char *bare,
                             enum presence_show *show, const char **status)
{
	GHashTable *res = g_hash_table_lookup(t->users, bare);
	const struct resource *best = NULL;
	GHashTableIter it;
	gpointer k, v;

	if (!res)
		return false;
	g_hash_table_iter_init(&it, res);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct resource *r = v;

		if (!best || r->priority > best->priority ||
		    (r->priority == best->priority &&
		     (r->show < best->show ||
		      (r->show == best->show && r->seq > best->seq))))
			best = r;
	}
	if (!best)
		return false;
	*show = best->show;
	if (status)
		*status = best->status;
	return true;
}

char **comp_presence_resources(struct presence_table *t, const char *bare)
{
	GHashTable *res = g_hash_table_lookup(t->users, bare);
	GHashTableIter it;
	gpointer k;
	char **v;
	guint i = 0;

	if (!res || g_hash_table_size(res) == 0)
		return NULL;
	v = g_new0(char *, g_hash_table_size(res) + 1);
	g_hash_table_iter_init(&it, res);
	while (g_hash_table_iter_next(&it, &k, NULL))
		v[i++] = *(const char *)k
		             ? g_strdup_printf("%s/%s", bare, (const char *)k)
		             : g_strdup(bare);
	return v;
}

bool comp_presence_online(struct comp *c, const char *bare_jid)
{
	enum presence_show show;

	return comp_presence_best(c->presence, bare_jid, &show);
}

bool comp_presence_unreachable(struct comp *c, const char *bare_jid,
                               enum queue_call_when call_when)
{
	enum presence_show show;

	if (!comp_presence_best(c->presence, bare_jid, &show))
		return true;
	return call_when == QUEUE_CALL_AWAY && show >= PRESENCE_AWAY;
}

/* ---- the queue's "xmpp" rows ---- */

struct presence_rows {
	GHashTable *participants; /* bare JID -> (void *)1 */
	GHashTable *written;      /* bare JID -> encoded row last known */
	GHashTable *dirty;        /* bare JID set: recompute at flush */
	GHashTable *gone_status;  /* bare JID -> status of its last unavail. */
	bool holding;             /* reconnected, not settled yet */
	bool failing;             /* the last flush failed (logged once) */
};

struct presence_rows *comp_presence_rows_new(void)
{
	struct presence_rows *r = g_new0(struct presence_rows, 1);

	r->participants =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	r->written =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->dirty = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	r->gone_status =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	r->holding = true;
	return r;
}

void comp_presence_rows_free(struct presence_rows *r)
{
	if (!r)
		return;
	g_hash_table_destroy(r->participants);
	g_hash_table_destroy(r->written);
	g_hash_table_destroy(r->dirty);
	g_hash_table_destroy(r->gone_status);
	g_free(r);
}

const char *comp_presence_sip_address(const struct queue_registration *r)
{
	if (r->sip_presence && *r->sip_presence)
		return r->sip_presence;
	if (r->phone &&
	    (!strncmp(r->phone, "sip:", 4) || !strncmp(r->phone, "sips:", 5)))
		return r->phone;
	return NULL;
}

/* A row as one string, so "changed" is one comparison: the state, then
 * the status after a newline, or no newline for no status. */
static char *row_encode(const char *state, const char *status)
{
	return status ? g_strconcat(state, "\n", status, NULL)
	              : g_strdup(state);
}

/* What the queue holds for BARE now, into r->written. */
static void row_load(struct comp *c, const char *bare)
{
	char *state = NULL, *status = NULL;

	if (queue_presence_get(c->q, bare, QUEUE_PRESENCE_XMPP, &state, &status,
	                       NULL) == 0)
		g_hash_table_replace(c->rows->written, g_strdup(bare),
		                     row_encode(state, status));
	else
		g_hash_table_remove(c->rows->written, bare);
	free(state);
	free(status);
}

static void row_touch_cb(const char *bare, void *arg)
{
	struct comp *c = arg;

	comp_wait_presence_changed(c, bare);
	if (g_hash_table_contains(c->rows->participants, bare))
		g_hash_table_add(c->rows->dirty, g_strdup(bare));
}

struct reload_ctx {
	struct comp *c;
	GHashTable *now;
};

static int reload_one(const char *jid, const char *sip_address, void *arg)
{
	struct reload_ctx *x = arg;

	(void)sip_address;
	g_hash_table_add(x->now, g_strdup(jid));
	return 0;
}

void comp_presence_rows_reload(struct comp *c)
{
	struct presence_rows *rows = c->rows;
	struct reload_ctx x = {c, NULL};
	GHashTableIter it;
	gpointer k, v;

	x.now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	/* The same users the bridge serves: verified, with a SIP address. */
	if (queue_presence_users_foreach(c->q, reload_one, &x) != 0) {
		g_hash_table_destroy(x.now);
		return;
	}
	g_hash_table_iter_init(&it, x.now);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (g_hash_table_contains(rows->participants, k))
			continue;
		/* A new participant: compare with what the queue holds. */
		if (!rows->holding)
			row_load(c, k);
		g_hash_table_add(rows->dirty, g_strdup(k));
	}
	g_hash_table_iter_init(&it, rows->participants);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (!g_hash_table_contains(x.now, k))
			g_hash_table_remove(rows->written, k);
	g_hash_table_destroy(rows->participants);
	rows->participants = x.now;
}

void comp_presence_rows_reset(struct comp *c)
{
	c->rows->holding = true;
	g_hash_table_remove_all(c->rows->written);
	g_hash_table_remove_all(c->rows->dirty);
	g_hash_table_remove_all(c->rows->gone_status);
}

void comp_presence_rows_settle(struct comp *c)
{
	GHashTableIter it;
	gpointer k, v;

	c->rows->holding = false;
	g_hash_table_iter_init(&it, c->rows->participants);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		row_load(c, k);
		g_hash_table_add(c->rows->dirty, g_strdup(k));
	}
	log_debug(TAG, "initial presence settled: %u users take part",
	          g_hash_table_size(c->rows->participants));
}

/* On the store's thread: TODO's (bare JID, encoded row) pairs, inside the
 * store's batch. */
static int rows_write(struct queue *q, void *arg)
{
	GPtrArray *todo = arg;
	int err = 0;

	for (guint i = 0; !err && i < todo->len; i += 2) {
		const char *enc = todo->pdata[i + 1];
		const char *nl = strchr(enc, '\n');
		char *state =
		    nl ? g_strndup(enc, (size_t)(nl - enc)) : g_strdup(enc);

		err = queue_presence_set(q, todo->pdata[i], QUEUE_PRESENCE_XMPP,
		                         state, nl ? nl + 1 : NULL);
		g_free(state);
	}
	return err;
}

/* Back on the loop: a failed write is dirty again, retried next pass. */
static void rows_written(struct comp *c, int err, void *arg)
{
	struct presence_rows *rows = c->rows;
	GPtrArray *todo = arg;

	for (guint i = 0; i < todo->len; i += 2) {
		const char *bare = todo->pdata[i], *enc = todo->pdata[i + 1];
		const char *now = g_hash_table_lookup(rows->written, bare);

		if (!err) {
			log_debug(TAG, "xmpp row of %s: %s", bare, enc);
			continue;
		}
		/* Unless a later pass already sent a newer row. */
		if (now && !strcmp(now, enc))
			g_hash_table_remove(rows->written, bare);
		if (!rows->holding)
			g_hash_table_add(rows->dirty, g_strdup(bare));
	}
	g_ptr_array_free(todo, TRUE);
	if (err) {
		if (!rows->failing)
			log_warn(TAG,
			         "cannot store presence rows (%s); "
			         "retrying",
			         strerror(-err));
		rows->failing = true;
		return;
	}
	if (rows->failing)
		log_info(TAG, "presence rows stored again");
	rows->failing = false;
}

void comp_presence_rows_flush(struct comp *c)
{
	struct presence_rows *rows = c->rows;
	GHashTableIter it;
	gpointer k, v;
	GPtrArray *todo = NULL;

	comp_presence_changed_drain(c->presence, row_touch_cb, c);
	if (rows->holding || g_hash_table_size(rows->dirty) == 0)
		return;
	/* Only the users whose aggregate differs cost a write. */
	g_hash_table_iter_init(&it, rows->dirty);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		enum presence_show show;
		const char *status = NULL, *state = "unavailable";
		char *enc;
		const char *old;

		if (comp_presence_aggregate(c->presence, k, &show, &status))
			state = comp_presence_show_name(show);
		else
			status = g_hash_table_lookup(rows->gone_status, k);
		enc = row_encode(state, status);
		old = g_hash_table_lookup(rows->written, k);
		if (old && !strcmp(old, enc)) {
			g_free(enc);
			continue;
		}
		if (!todo)
			todo = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(todo, g_strdup(k));
		g_ptr_array_add(todo, enc);
	}
	g_hash_table_remove_all(rows->dirty);
	if (!todo)
		return;
	/* Taken as written now, so a later pass compares with what is on its
	 * way; a failed write takes it back (rows_written). */
	for (guint i = 0; i < todo->len; i += 2)
		g_hash_table_replace(rows->written, g_strdup(todo->pdata[i]),
		                     g_strdup(todo->pdata[i + 1]));
	store_call(c->store, rows_write, todo, rows_written);
}

static void recheck_done(struct comp *c, void *arg)
{
	(void)c, (void)arg; /* the handler updated the table, if anything */
}

void comp_presence_rows_recheck(struct comp *c)
{
	GHashTableIter it;
	gpointer k, v;
	int n = 0;

	if (c->rows->holding)
		return;
	g_hash_table_iter_init(&it, c->rows->participants);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (comp_presence_online(c, k) &&
		    comp_presence_recheck(c, k, recheck_done, NULL))
			n++;
	if (n)
		log_debug(TAG, "rechecking the sessions of %d users", n);
}

/* ---- the handler ---- */

static void send_presence(struct comp *c, const char *to, const char *type)
{
	xmpp_stanza_t *p = xmpp_presence_new(c->ctx);

	xmpp_stanza_set_from(p, c->domain);
	xmpp_stanza_set_to(p, to);
	if (type)
		xmpp_stanza_set_type(p, type);
	comp_send(c, p);
	xmpp_stanza_release(p);
}

/* True when TO_BARE is an address at the component: a gateway contact. */
static bool to_gateway_contact(struct comp *c, const char *to_bare)
{
	const char *at = to_bare ? strchr(to_bare, '@') : NULL;

	return at && !g_ascii_strcasecmp(at + 1, c->domain);
}

static void availability(struct comp *c, xmpp_stanza_t *stanza,
                         const char *from, const char *bare, bool available)
{
	char *show = available ? comp_child_text(stanza, "show") : NULL;
	char *prio = available ? comp_child_text(stanza, "priority") : NULL;
	char *status = comp_child_text(stanza, "status");
	int err = comp_presence_set(c->presence, from, available,
	                            comp_presence_show_parse(show),
	                            comp_presence_priority_parse(prio), status);

	if (err)
		log_warn(TAG, "too many resources for %s; ignoring presence",
		         bare);
	log_debug(TAG, "%s is %s%s%s", from,
	          available ? "available" : "unavailable", show ? "/" : "",
	          show ? show : "");
	if (available)
		g_hash_table_remove(c->rows->gone_status, bare);
	else if (!comp_presence_online(c, bare) && status)
		g_hash_table_replace(
		    c->rows->gone_status, g_strdup(bare),
		    comp_presence_status_copy(status, PRESENCE_STATUS_MAX));
	else if (!comp_presence_online(c, bare))
		g_hash_table_remove(c->rows->gone_status, bare);
	g_free(show);
	g_free(prio);
	g_free(status);
}

int comp_presence_handler(xmpp_conn_t *conn, xmpp_stanza_t *stanza,
                          void *userdata)
{
	struct comp *c = userdata;
	const char *from = xmpp_stanza_get_from(stanza);
	const char *to = xmpp_stanza_get_to(stanza);
	const char *type = xmpp_stanza_get_type(stanza);
	char *bare, *to_bare;

	(void)conn;
	if (!from || !comp_jid_valid(from))
		return 1;
	to_bare = to ? comp_jid_bare(to) : NULL;
	if (to_gateway_contact(c, to_bare)) {
		comp_gwpres_handle(c, stanza, to_bare);
		g_free(to_bare);
		return 1;
	}
	g_free(to_bare);
	bare = comp_jid_bare(from);
	if (!bare || !policy_jid_is_local(c->cfg, bare)) {
		/* Only local users' presence matters to us. */
		g_free(bare);
		return 1;
	}
	if (!type || !strcmp(type, "unavailable")) {
		availability(c, stanza, from, bare, !type);
	} else if (!strcmp(type, "subscribe")) {
		/* A user adding the service itself: accept, and ask back so
		 * their presence reaches us where no privilege grants it. */
		send_presence(c, bare, "subscribed");
		send_presence(c, bare, NULL);
	} else if (!strcmp(type, "probe")) {
		send_presence(c, bare, NULL);
	}
	g_free(bare);
	return 1;
}

struct fallback_ctx {
	struct comp *c;
	int n;
};

static int subscribe_one(const struct queue_registration *r, void *arg)
{
	struct fallback_ctx *f = arg;
	struct comp_privileges *p = comp_privileges_for(f->c, r->jid);

	if (!p || p->grants.presence)
		return 0;
	send_presence(f->c, r->jid, "subscribe");
	send_presence(f->c, r->jid, "probe");
	f->n++;
	return 0;
}

void comp_presence_subscribe_fallback(struct comp *c)
{
	struct fallback_ctx f = {c, 0};

	for (size_t i = 0; i < c->cfg->xmpp.user_domains.n; i++) {
		if (!c->priv[i].grants.presence)
			log_warn(TAG,
			         "%s grants no presence privilege to %s: "
			         "subscribing to registered users' presence "
			         "instead (each must accept); configure "
			         "privileged_entities presence = "
			         "\"managed_entity\"",
			         c->cfg->xmpp.user_domains.v[i], c->domain);
	}
	queue_registration_foreach(c->q, subscribe_one, &f);
	if (f.n)
		log_info(TAG, "asked %d registered users for their presence",
		         f.n);
}
