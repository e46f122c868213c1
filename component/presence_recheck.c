/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rechecking who is online where the server does not say when a session
 * ends. ejabberd 23.01 (the server that speaks urn:xmpp:privilege:1)
 * forwards the presence a user sends, but nothing when a session ends
 * without an unavailable presence (a dropped connection, a client quitting
 * without one, a stream-management session timing out): those resources
 * would stay "online" for good, and messages for that user would never be
 * phoned. So before a message is given up as "the user is online" there,
 * each of the user's resources is asked for disco#info; one the server
 * answers for itself (service-unavailable: "User session not found") or
 * that does not answer in time is forgotten. Any other answer, errors
 * included (feature-not-implemented...), comes from a live client.
 */
#include <string.h>

#include "comp.h"
#include "log.h"
#include "presence.h"

#define TAG              "presence"
#define CHECK_TIMEOUT_MS 5000
#define NS_STANZAS       "urn:ietf:params:xml:ns:xmpp-stanzas"
#define NS_DISCO_INFO    "http://jabber.org/protocol/disco#info"

struct recheck {
	comp_recheck_cb done;
	void *arg;
	int pending;
};

struct recheck_one {
	struct recheck *k;
	char *full;
};

bool comp_session_ends_unreported(struct comp *c, const char *user)
{
	struct comp_privileges *p = comp_privileges_for(c, user);

	return p && p->advertised && !strcmp(p->ns, "urn:xmpp:privilege:1");
}

static bool resource_gone(xmpp_stanza_t *reply)
{
	static const char *const gone[] = {"service-unavailable",
	                                   "recipient-unavailable",
	                                   "item-not-found", "gone"};
	const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;
	xmpp_stanza_t *err;

	if (!type)
		return true; /* no answer in time, or the session was lost */
	if (strcmp(type, "error") != 0)
		return false;
	err = xmpp_stanza_get_child_by_name(reply, "error");
	for (size_t i = 0; err && i < G_N_ELEMENTS(gone); i++)
		if (xmpp_stanza_get_child_by_name_and_ns(err, gone[i],
		                                         NS_STANZAS))
			return true;
	return false;
}

static void recheck_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct recheck_one *o = arg;
	struct recheck *k = o->k;

	if (resource_gone(reply)) {
		log_info(TAG, "%s: %s, its session is gone; forgetting it",
		         o->full,
		         reply ? "the server answered for it" : "no answer");
		/* As if the server had said so: the same path as a real
		 * unavailable presence, presence rows for the bridge included.
		 */
		xmpp_stanza_t *gone = xmpp_presence_new(c->ctx);

		xmpp_stanza_set_from(gone, o->full);
		xmpp_stanza_set_to(gone, c->domain);
		xmpp_stanza_set_type(gone, "unavailable");
		comp_presence_handler(c->conn, gone, c);
		xmpp_stanza_release(gone);
	}
	g_free(o->full);
	g_free(o);
	if (--k->pending > 0)
		return;
	k->done(c, k->arg);
	g_free(k);
}

bool comp_presence_recheck(struct comp *c, const char *user,
                           comp_recheck_cb done, void *arg)
{
	char **res;
	struct recheck *k;

	if (!comp_session_ends_unreported(c, user))
		return false;
	res = comp_presence_resources(c->presence, user);
	if (!res)
		return false;
	k = g_new0(struct recheck, 1);
	k->done = done;
	k->arg = arg;
	k->pending = 1; /* held until every IQ is sent */
	for (char **r = res; *r; r++) {
		xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", NULL);
		struct recheck_one *o = g_new0(struct recheck_one, 1);

		xmpp_stanza_set_to(iq, *r);
		xmpp_stanza_add_child_ex(
		    iq, comp_elem(c, "query", NS_DISCO_INFO), 0);
		o->k = k;
		o->full = g_strdup(*r);
		k->pending++;
		if (comp_send_iq(c, iq, recheck_reply, o, CHECK_TIMEOUT_MS)) {
			k->pending--;
			g_free(o->full);
			g_free(o);
		}
		xmpp_stanza_release(iq);
	}
	g_strfreev(res);
	if (--k->pending == 0) {
		g_free(k);
		return false;
	}
	return true;
}
