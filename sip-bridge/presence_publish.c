/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PUBLISH of a user's PIDF to the [presence] server (mode publish,
 * docs/presence.md): one publication per user, published again when the
 * user's "xmpp" row changes; sofia refreshes it with SIP-If-Match before it
 * expires. A failed PUBLISH backs off and starts afresh on a new handle.
 */
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "presence_internal.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tagarg.h>

/* One user's publication (sofia's publish_usage, seen from the user). */
struct presence_publication {
	nua_handle_t *nh;
	bool pending, dirty, published;
	/* A digest challenge answered since the last success
	 * (presence_auth_answer), and whether a refusal of the credentials
	 * was logged since then: logged once, not at every retry. */
	bool auth, auth_logged;
	/* Back-off of a failed PUBLISH: none before after. */
	int retry_ms;
	int64_t after;
	/* What the PUBLISH under way or last done says. */
	enum pidf_avail avail;
	char *status;
};

static void publish(struct puser *u)
{
	struct presence *p = u->p;
	struct presence_publication *pu = u->pub;
	char *doc = NULL, expires[16];
	size_t len;

	if (pu->pending) {
		pu->dirty = true;
		return;
	}
	if (presence_user_pidf(u, &doc, &len)) {
		log_err(TAG, "%s: cannot build PIDF", u->jid);
		return;
	}
	if (!pu->nh) {
		pu->nh =
		    nua_handle(p->b->nua, NULL, SIPTAG_TO_STR(u->addr),
		               SIPTAG_FROM_STR(u->addr),
		               NUTAG_INITIAL_ROUTE_STR(p->route), TAG_END());
		if (!pu->nh) {
			free(doc);
			return;
		}
		pu->auth = false;
	}
	snprintf(expires, sizeof(expires), "%d", p->cfg->presence.expires);
	pu->pending = true;
	pu->dirty = false;
	pu->avail = u->avail;
	presence_str_set(&pu->status, u->status);
	log_debug(TAG, "%s: PUBLISH %s for %s", u->jid,
	          pidf_avail_name(u->avail), u->addr);
	nua_publish(pu->nh, SIPTAG_EVENT_STR("presence"),
	            SIPTAG_CONTENT_TYPE_STR(PIDF_TYPE), SIPTAG_PAYLOAD_STR(doc),
	            SIPTAG_EXPIRES_STR(expires), TAG_END());
	free(doc);
}

void presence_publish_sync(struct puser *u)
{
	struct presence_publication *pu;

	if (!u->have_xmpp)
		return;
	if (!u->pub && !(u->pub = calloc(1, sizeof(*u->pub)))) {
		log_err(TAG, "%s: out of memory", u->jid);
		return;
	}
	pu = u->pub;
	if (pu->published && pu->avail == u->avail &&
	    presence_str_eq(pu->status, u->status) && !pu->dirty)
		return;
	if (pu->pending && pu->avail == u->avail &&
	    presence_str_eq(pu->status, u->status))
		return;
	if (!pu->pending && bridge_now_ms() < pu->after)
		return;
	publish(u);
}

static void on_r_publish(struct puser *u, int status, const char *phrase,
                         const sip_t *sip)
{
	struct presence_publication *pu = u->pub;
	bool quiet;
	int r = presence_auth_response(u, pu->nh, "PUBLISH", status, phrase,
	                               sip, &pu->auth, &pu->auth_logged);

	if (r > 0)
		return;
	quiet = r < 0;
	pu->pending = false;
	if (status >= 200 && status < 300) {
		pu->published = true;
		pu->auth = pu->auth_logged = false;
		pu->retry_ms = 0;
	} else {
		/* A later tick publishes afresh on a new handle: after a
		 * server restart the old entity tag means nothing there. */
		pu->published = false;
		pu->retry_ms = presence_backoff_next(pu->retry_ms);
		pu->after = bridge_now_ms() + pu->retry_ms;
		if (!quiet)
			log_warn(TAG,
			         "%s: PUBLISH for %s: %d %s; again in %d ms",
			         u->jid, u->addr, status, phrase, pu->retry_ms);
		nua_handle_destroy(pu->nh);
		pu->nh = NULL;
		pu->dirty = false;
		return;
	}
	if (pu->dirty)
		publish(u);
}

bool presence_publish_event(struct puser *u, nua_event_t event, int status,
                            const char *phrase, nua_handle_t *nh,
                            const sip_t *sip)
{
	if (!u->pub || u->pub->nh != nh)
		return false;
	if (event == nua_r_publish)
		on_r_publish(u, status, phrase, sip);
	return true;
}

void presence_publish_end(struct puser *u, bool graceful)
{
	struct presence_publication *pu = u->pub;

	if (!pu)
		return;
	if (pu->nh) {
		if (graceful && (pu->published || pu->pending)) {
			nua_unpublish(pu->nh, TAG_END());
			presence_handle_gone(u->p, pu->nh);
		} else {
			nua_handle_destroy(pu->nh);
		}
	}
	free(pu->status);
	free(pu);
	u->pub = NULL;
}
