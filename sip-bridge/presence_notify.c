/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge as presence agent (mode agent, docs/presence.md): a SUBSCRIBE
 * to a user's SIP address makes a watcher, told the user's PIDF at once and
 * again by NOTIFY whenever the user's "xmpp" row changes. nua answers a
 * watcher's refreshes itself; a watcher that leaves or times out is dropped.
 * Only the holder of the lease serves watchers: the others answer 503.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "presence_internal.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/url.h>

/* Watchers the agent serves at once, over all users. */
#define MAX_WATCHERS 1024

struct watcher {
	struct watcher *next;
	nua_handle_t *nh;
};

/* One user's watchers and what they were last told. */
struct presence_watchers {
	struct watcher *list;
	bool told;
	enum pidf_avail avail;
	char *status;
};

static struct presence_watchers *watchers_get(struct puser *u)
{
	if (!u->watchers && !(u->watchers = calloc(1, sizeof(*u->watchers))))
		log_err(TAG, "%s: out of memory", u->jid);
	return u->watchers;
}

static void notify_one(struct puser *u, nua_handle_t *nh,
                       enum nua_substate state)
{
	char *doc = NULL;
	size_t len;

	if (presence_user_pidf(u, &doc, &len)) {
		log_err(TAG, "%s: cannot build PIDF", u->jid);
		return;
	}
	nua_notify(nh, NUTAG_SUBSTATE(state), SIPTAG_EVENT_STR("presence"),
	           SIPTAG_CONTENT_TYPE_STR(PIDF_TYPE), SIPTAG_PAYLOAD_STR(doc),
	           TAG_END());
	free(doc);
}

void presence_notify_sync(struct puser *u)
{
	enum pidf_avail a = u->have_xmpp ? u->avail : PIDF_UNAVAILABLE;
	struct presence_watchers *ws = watchers_get(u);

	if (!ws)
		return;
	if (ws->told && ws->avail == a &&
	    presence_str_eq(ws->status, u->status))
		return;
	ws->told = true;
	ws->avail = a;
	presence_str_set(&ws->status, u->status);
	for (struct watcher *w = ws->list; w; w = w->next)
		notify_one(u, w->nh, nua_substate_active);
}

static void watcher_remove(struct puser *u, struct watcher *w)
{
	struct watcher **pp;

	for (pp = &u->watchers->list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	u->p->n_watchers--;
	nua_handle_destroy(w->nh);
	free(w);
}

static struct puser *user_by_uri(struct presence *p, const url_t *ru)
{
	if (!ru || !ru->url_user || !ru->url_host)
		return NULL;
	for (struct puser *u = p->users; u; u = u->next)
		if (u->user && !strcmp(u->user, ru->url_user) &&
		    !strcasecmp(u->host, ru->url_host))
			return u;
	return NULL;
}

void presence_notify_subscribe(struct presence *p, nua_handle_t *nh, int status,
                               const sip_t *sip)
{
	const char *event = sip && sip->sip_event ? sip->sip_event->o_type : "";
	struct presence_watchers *ws;
	struct puser *u;
	struct watcher *w;

	if (status >= 300) {
		/* nua refused it already (an event not allowed: 489). */
		nua_handle_destroy(nh);
		return;
	}
	if (p->cfg->presence.mode != CONFIG_PRESENCE_AGENT ||
	    strcmp(event, "presence")) {
		nua_respond(nh, SIP_489_BAD_EVENT, NUTAG_WITH_THIS(p->b->nua),
		            SIPTAG_ALLOW_EVENTS_STR("presence"), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (!p->leased) {
		/* Another bridge holds the lease and serves the watchers. */
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE,
		            NUTAG_WITH_THIS(p->b->nua),
		            SIPTAG_RETRY_AFTER_STR("5"), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	u = user_by_uri(p, sip->sip_request ? sip->sip_request->rq_url : NULL);
	if (!u) {
		nua_respond(nh, SIP_404_NOT_FOUND, NUTAG_WITH_THIS(p->b->nua),
		            TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (p->n_watchers >= MAX_WATCHERS) {
		log_warn(TAG, "%d watchers: refusing another", p->n_watchers);
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE,
		            NUTAG_WITH_THIS(p->b->nua),
		            SIPTAG_RETRY_AFTER_STR("60"), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	ws = watchers_get(u);
	w = ws ? calloc(1, sizeof(*w)) : NULL;
	if (!w) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR,
		            NUTAG_WITH_THIS(p->b->nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	w->nh = nh;
	w->next = ws->list;
	ws->list = w;
	p->n_watchers++;
	log_info(TAG, "%s: a watcher subscribed to %s", u->jid, u->addr);
	nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(p->b->nua),
	            NUTAG_SUBSTATE(nua_substate_active), TAG_END());
	notify_one(u, nh, nua_substate_active);
}

bool presence_notify_event(struct puser *u, nua_event_t event, int status,
                           nua_handle_t *nh, tagi_t tags[])
{
	struct watcher *w = NULL;
	int state = nua_substate_active;

	if (u->watchers)
		for (w = u->watchers->list; w && w->nh != nh; w = w->next)
			;
	if (!w)
		return false;
	switch (event) {
	case nua_i_subscribe:
		/* A watcher's refresh or unsubscribe: nua answers it and
		 * repeats the last NOTIFY itself (nua_notifier.c). */
		break;
	case nua_r_notify:
		tl_gets(tags, NUTAG_SUBSTATE_REF(state), TAG_END());
		if (state == nua_substate_terminated || status == 481 ||
		    status == 408) {
			log_info(TAG, "%s: a watcher left", u->jid);
			watcher_remove(u, w);
		}
		break;
	case nua_i_terminated:
		log_info(TAG, "%s: a watcher's subscription ended", u->jid);
		watcher_remove(u, w);
		break;
	default:
		break;
	}
	return true;
}

void presence_notify_end(struct puser *u, bool graceful)
{
	struct presence_watchers *ws = u->watchers;
	struct presence *p = u->p;

	if (!ws)
		return;
	while (ws->list) {
		struct watcher *w = ws->list;

		if (graceful)
			nua_notify(w->nh,
			           NUTAG_SUBSTATE(nua_substate_terminated),
			           TAG_END());
		ws->list = w->next;
		p->n_watchers--;
		if (graceful)
			presence_handle_gone(p, w->nh);
		else
			nua_handle_destroy(w->nh);
		free(w);
	}
	free(ws->status);
	free(ws);
	u->watchers = NULL;
}
