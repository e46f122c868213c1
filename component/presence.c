/*
 * The presence table (see presence.h) and the <presence/> handler. A user
 * maps to a small table of resources; the limits keep a misbehaving server
 * or client from growing it without bound.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "comp.h"
#include "log.h"
#include "policy.h"
#include "presence.h"

#define TAG                    "presence"
#define RESOURCES_PER_USER_MAX 64
#define USERS_MAX              1000000

struct presence_table {
	GHashTable *users; /* bare JID -> GHashTable resource -> show */
};

struct presence_table *comp_presence_new(void)
{
	struct presence_table *t = g_new0(struct presence_table, 1);

	t->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                 (GDestroyNotify)g_hash_table_destroy);
	return t;
}

void comp_presence_free(struct presence_table *t)
{
	if (!t)
		return;
	g_hash_table_destroy(t->users);
	g_free(t);
}

void comp_presence_clear(struct presence_table *t)
{
	g_hash_table_remove_all(t->users);
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

int comp_presence_update(struct presence_table *t, const char *full_jid,
                         bool available, enum presence_show show)
{
	const char *slash = strchr(full_jid, '/');
	char *bare = slash ? g_strndup(full_jid, (size_t)(slash - full_jid))
	                   : g_strdup(full_jid);
	const char *resource = slash ? slash + 1 : "";
	GHashTable *res = g_hash_table_lookup(t->users, bare);
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
		goto out;
	}
	if (!res) {
		if (g_hash_table_size(t->users) >= USERS_MAX) {
			err = -E2BIG;
			goto out;
		}
		res = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
		                            NULL);
		g_hash_table_insert(t->users, g_strdup(bare), res);
	}
	if (!g_hash_table_contains(res, resource) &&
	    g_hash_table_size(res) >= RESOURCES_PER_USER_MAX) {
		err = -E2BIG;
		goto out;
	}
	g_hash_table_replace(res, g_strdup(resource),
	                     GINT_TO_POINTER((int)show + 1));
out:
	g_free(bare);
	return err;
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
		int s = GPOINTER_TO_INT(v) - 1;

		if (best < 0 || s < best)
			best = s;
	}
	if (best < 0)
		return false;
	*show = (enum presence_show)best;
	return true;
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

int comp_presence_handler(xmpp_conn_t *conn, xmpp_stanza_t *stanza,
                          void *userdata)
{
	struct comp *c = userdata;
	const char *from = xmpp_stanza_get_from(stanza);
	const char *type = xmpp_stanza_get_type(stanza);
	char *bare;

	(void)conn;
	if (!from || !comp_jid_valid(from))
		return 1;
	bare = comp_jid_bare(from);
	if (!bare || !policy_jid_is_local(c->cfg, bare)) {
		/* Only local users' presence matters to us. */
		g_free(bare);
		return 1;
	}
	if (!type || !strcmp(type, "unavailable")) {
		bool available = !type;
		char *show = available ? comp_child_text(stanza, "show") : NULL;
		int err = comp_presence_update(c->presence, from, available,
		                               comp_presence_show_parse(show));

		if (err)
			log_warn(TAG,
			         "too many resources for %s; ignoring "
			         "presence",
			         bare);
		log_debug(TAG, "%s is %s%s%s", from,
		          available ? "available" : "unavailable",
		          show ? "/" : "", show ? show : "");
		g_free(show);
	} else if (!strcmp(type, "subscribe")) {
		/* A user adding the gateway contact: accept, and ask back so
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

	if (!p || p->presence)
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
		if (!c->priv[i].presence)
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
