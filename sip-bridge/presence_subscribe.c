/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The dialog event subscription per user at the [presence] server
 * (docs/presence.md): its NOTIFYs of dialog-info say whether the user's
 * phone is in a call, and that decision, after debounce_ms, is written as
 * the user's "sip" row on the queue writer's thread. A subscription that
 * fails or is ended by the server is tried again with back-off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "presence_internal.h"
#include "queue_writer.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_tagarg.h>

#define DINFO_TYPE "application/dialog-info+xml"

/* One user's dialog subscription and what its NOTIFYs said. */
struct presence_subscription {
	nua_handle_t *nh;
	su_timer_t *retry;
	int retry_ms;
	/* A digest challenge answered since the last success, and whether
	 * a refusal was logged since then (as the publication's). */
	bool auth, auth_logged;
	bool have_version;
	uint32_t version;
	struct dialoginfo_dialog dialogs[DIALOGINFO_MAX_DIALOGS];
	size_t n_dialogs;
	int busy;     /* the dialogs say: 1 in a call, 0 not, -1 unknown */
	int reported; /* last written "sip" row: 1, 0, -1 none yet */
	su_timer_t *debounce;
};

/* ---- writing "sip" rows ------------------------------------------------ */

struct row_write {
	char *jid;
	bool busy;
};

static int row_run(struct queue *q, void *arg)
{
	struct row_write *w = arg;
	int err = queue_presence_set(
	    q, w->jid, QUEUE_PRESENCE_SIP,
	    w->busy ? QUEUE_PRESENCE_ON_THE_PHONE : QUEUE_PRESENCE_IDLE, NULL);

	/* The callee's waiting jobs are due again: wake the claimers. */
	if (!err && !w->busy)
		queue_notify(q, QUEUE_CH_JOBS);
	return err;
}

static void row_done(void *ctx, struct dbw_result *r)
{
	struct row_write *w = r->arg;

	(void)ctx;
	if (r->err)
		log_err(TAG, "%s: storing the phone state: %s",
		        w ? w->jid : "?", strerror(-r->err));
	if (w)
		free(w->jid);
	free(w);
}

static void row_write(struct puser *u, bool busy)
{
	struct row_write *w = calloc(1, sizeof(*w));

	if (!w || !(w->jid = strdup(u->jid))) {
		free(w);
		log_err(TAG, "%s: out of memory", u->jid);
		return;
	}
	w->busy = busy;
	u->sub->reported = busy;
	log_info(TAG, "%s: %s", u->jid, busy ? "on the phone" : "idle");
	dbw_call(u->p->b->dbw, row_run, w, row_done, 0);
}

/* ---- the subscription ------------------------------------------------ */

static void subscribe(struct puser *u);

static void on_retry(struct bridge *b, su_timer_t *t, void *arg)
{
	struct puser *u = arg;
	struct presence_subscription *s = u->sub;

	(void)b;
	(void)t;
	su_timer_destroy(s->retry);
	s->retry = NULL;
	if (u->p->leased && !s->nh)
		subscribe(u);
}

/* The subscription ended or failed: forget it, try again later. */
static void sub_lost(struct puser *u, const char *why, bool quiet)
{
	struct presence *p = u->p;
	struct presence_subscription *s = u->sub;

	if (s->nh) {
		nua_handle_destroy(s->nh);
		s->nh = NULL;
	}
	s->have_version = false;
	if (!p->leased || p->stopping || s->retry)
		return;
	s->retry_ms = presence_backoff_next(s->retry_ms);
	if (!quiet)
		log_warn(TAG,
		         "%s: dialog subscription to %s %s; again in %d ms",
		         u->jid, u->addr, why, s->retry_ms);
	s->retry = su_timer_create(su_root_task(p->b->root), s->retry_ms);
	if (s->retry)
		su_timer_set(s->retry, on_retry, u);
}

static void subscribe(struct puser *u)
{
	struct presence *p = u->p;
	struct presence_subscription *s = u->sub;
	char expires[16];

	if (!*p->route || s->nh || s->retry)
		return;
	s->nh = nua_handle(p->b->nua, NULL, SIPTAG_TO_STR(u->addr),
	                   SIPTAG_FROM_STR(u->addr),
	                   NUTAG_INITIAL_ROUTE_STR(p->route), TAG_END());
	if (!s->nh)
		return;
	s->auth = false;
	snprintf(expires, sizeof(expires), "%d", p->cfg->presence.expires);
	log_debug(TAG, "%s: SUBSCRIBE dialog %s", u->jid, u->addr);
	nua_subscribe(s->nh, SIPTAG_EVENT_STR("dialog"),
	              SIPTAG_ACCEPT_STR(DINFO_TYPE),
	              SIPTAG_EXPIRES_STR(expires), TAG_END());
}

void presence_subscribe_sync(struct puser *u)
{
	struct presence_subscription *s = u->sub;

	if (!*u->p->route)
		return;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s) {
			log_err(TAG, "%s: out of memory", u->jid);
			return;
		}
		s->busy = -1;
		s->reported = -1;
		u->sub = s;
	}
	if (!s->nh && !s->retry)
		subscribe(u);
}

/* ---- what the NOTIFYs say -------------------------------------------- */

static void on_debounce(struct bridge *b, su_timer_t *t, void *arg)
{
	struct puser *u = arg;
	struct presence_subscription *s = u->sub;

	(void)b;
	(void)t;
	su_timer_destroy(s->debounce);
	s->debounce = NULL;
	if (s->busy >= 0 && s->busy != s->reported)
		row_write(u, s->busy);
}

/* The dialogs changed: settle on in a call or not after debounce_ms. */
static void busy_update(struct puser *u)
{
	struct presence_subscription *s = u->sub;
	int busy = 0;
	int ms = u->p->cfg->presence.debounce_ms;

	/* A confirmed dialog is a call; a ringing (early) one is not yet:
	 * docs/presence.md. */
	for (size_t i = 0; i < s->n_dialogs; i++)
		if (s->dialogs[i].state == DIALOGINFO_CONFIRMED)
			busy = 1;
	s->busy = busy;
	if (s->debounce) {
		su_timer_destroy(s->debounce);
		s->debounce = NULL;
	}
	if (busy == s->reported)
		return;
	if (ms <= 0) {
		row_write(u, busy);
		return;
	}
	s->debounce = su_timer_create(su_root_task(u->p->b->root), ms);
	if (!s->debounce || su_timer_set(s->debounce, on_debounce, u))
		row_write(u, busy);
}

static void dialogs_apply(struct puser *u, const struct dialoginfo *di)
{
	struct presence_subscription *s = u->sub;

	if (!di->full && s->have_version && di->version <= s->version) {
		log_debug(TAG, "%s: stale dialog-info version %u", u->jid,
		          (unsigned)di->version);
		return;
	}
	s->have_version = true;
	s->version = di->version;
	if (di->full)
		s->n_dialogs = 0;
	for (size_t i = 0; i < di->n; i++) {
		const struct dialoginfo_dialog *d = &di->dialogs[i];
		size_t k;

		for (k = 0; k < s->n_dialogs; k++)
			if (!strcmp(s->dialogs[k].id, d->id))
				break;
		if (d->state == DIALOGINFO_TERMINATED) {
			if (k < s->n_dialogs)
				s->dialogs[k] = s->dialogs[--s->n_dialogs];
			continue;
		}
		if (k == s->n_dialogs) {
			if (s->n_dialogs >= DIALOGINFO_MAX_DIALOGS)
				continue;
			s->n_dialogs++;
		}
		s->dialogs[k] = *d;
	}
	busy_update(u);
}

static void on_i_notify(struct puser *u, const sip_t *sip, tagi_t tags[])
{
	int state = nua_substate_active;
	struct dialoginfo *di;

	tl_gets(tags, NUTAG_SUBSTATE_REF(state), TAG_END());
	log_debug(TAG, "%s: dialog NOTIFY (%s, %u bytes)", u->jid,
	          nua_substate_name((enum nua_substate)state),
	          sip && sip->sip_payload ? (unsigned)sip->sip_payload->pl_len
	                                  : 0u);
	if (sip && sip->sip_payload && sip->sip_payload->pl_len &&
	    sip->sip_content_type && sip->sip_content_type->c_type &&
	    !strcasecmp(sip->sip_content_type->c_type, DINFO_TYPE)) {
		di = malloc(sizeof(*di));
		if (di && dialoginfo_parse(sip->sip_payload->pl_data,
		                           sip->sip_payload->pl_len, di) == 0) {
			u->sub->retry_ms = 0;
			log_debug(TAG, "%s: dialog-info %s v%u, %u dialog(s)",
			          u->jid, di->full ? "full" : "partial",
			          (unsigned)di->version, (unsigned)di->n);
			dialogs_apply(u, di);
		} else {
			log_warn(TAG, "%s: unreadable dialog-info refused",
			         u->jid);
		}
		free(di);
	} else if (sip && (!sip->sip_payload || !sip->sip_payload->pl_len)) {
		/* No dialog state at the server (Kamailio: nothing published
		 * for the user): no call. After a re-subscription this also
		 * clears a call that ended while the server was away. */
		u->sub->n_dialogs = 0;
		busy_update(u);
	}
	if (state == nua_substate_terminated)
		sub_lost(u, "was terminated by the server", false);
}

static void on_r_subscribe(struct puser *u, int status, const char *phrase,
                           const sip_t *sip, tagi_t tags[])
{
	struct presence_subscription *s = u->sub;
	int state = nua_substate_active;
	bool failed;
	int r;

	tl_gets(tags, NUTAG_SUBSTATE_REF(state), TAG_END());
	/* The initial SUBSCRIBE and nua's refreshes alike. */
	r = presence_auth_response(u, s->nh, "SUBSCRIBE", status, phrase, sip,
	                           &s->auth, &s->auth_logged);
	if (r > 0)
		return;
	failed = r < 0;
	if (!failed && status < 300)
		s->auth = s->auth_logged = false;
	if (failed || status >= 300 || state == nua_substate_terminated) {
		char why[96];

		snprintf(why, sizeof(why), "failed (%d %s)", status,
		         phrase ? phrase : "");
		sub_lost(u, why, failed);
	}
}

bool presence_subscribe_event(struct puser *u, nua_event_t event, int status,
                              const char *phrase, nua_handle_t *nh,
                              const sip_t *sip, tagi_t tags[])
{
	if (!u->sub || u->sub->nh != nh)
		return false;
	if (event == nua_r_subscribe)
		on_r_subscribe(u, status, phrase, sip, tags);
	else if (event == nua_i_notify)
		on_i_notify(u, sip, tags);
	return true;
}

void presence_subscribe_leave(struct puser *u)
{
	if (u->sub && u->sub->reported == 1)
		row_write(u, false);
}

void presence_subscribe_end(struct puser *u, bool graceful)
{
	struct presence_subscription *s = u->sub;

	if (!s)
		return;
	if (s->retry)
		su_timer_destroy(s->retry);
	if (s->debounce)
		su_timer_destroy(s->debounce);
	if (s->nh) {
		if (graceful) {
			nua_unsubscribe(s->nh, TAG_END());
			presence_handle_gone(u->p, s->nh);
		} else {
			nua_handle_destroy(s->nh);
		}
	}
	free(s);
	u->sub = NULL;
}
