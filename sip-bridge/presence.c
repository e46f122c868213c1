/*
 * SIP presence (presence.h, docs/presence.md). Every few seconds, and on a
 * presence or registrations wake-up, the queue writer's thread renews the
 * "presence" lease and reads a snapshot (who has a SIP address, the "xmpp"
 * rows); the loop then brings the SIP side in line with it: PUBLISH of the
 * user's PIDF (mode publish; sofia refreshes it with SIP-If-Match before it
 * expires), NOTIFY to the user's watchers (mode agent), and a dialog event
 * subscription at [presence] server whose NOTIFYs decide whether the phone
 * is in a call. That decision waits debounce_ms before it is written as the
 * user's "sip" row. Without the lease the bridge does none of it, and a
 * bridge that loses the lease drops its usages: the holder has its own.
 *
 * The nua calls for presence and their tag lists live here rather than in
 * ua.c, so that calls and presence can be changed apart; ua.c hands every
 * event to presence_nua_event() first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dbw.h"
#include "log.h"
#include "pidf.h"
#include "presence.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/url.h>

#define TAG "presence"

#define LEASE_NAME "presence"
/* The lease outlives two missed renewals: a second bridge takes over
 * within LEASE_MS + TICK_MS of the holder's death. */
#define LEASE_MS 15000
#define TICK_MS  5000
/* Watchers the agent serves at once, over all users. */
#define MAX_WATCHERS 1024
/* Users in one snapshot; more are left out (and logged). */
#define MAX_USERS 10000
/* Back-off of a failed dialog subscription or PUBLISH. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
#define PIDF_TYPE    "application/pidf+xml"
#define DINFO_TYPE   "application/dialog-info+xml"

struct watcher {
	struct watcher *next;
	nua_handle_t *nh;
};

/* A handle given up (unPUBLISH/unSUBSCRIBE under way), destroyed on its
 * final response. */
struct dying {
	struct dying *next;
	nua_handle_t *nh;
};

struct puser {
	struct puser *next;
	struct presence *p;
	char *jid, *addr;
	char *user, *host; /* of addr, to match a SUBSCRIBE's request URI */

	bool have_xmpp;
	enum pidf_avail avail;
	char *status;

	nua_handle_t *pub;
	bool pub_pending, pub_dirty, published;
	/* A digest challenge answered on pub / sub since its last success
	 * (ua_auth_answer), and whether a refusal of the credentials was
	 * logged since then: logged once, not at every retry. */
	bool pub_auth, sub_auth, pub_auth_logged, sub_auth_logged;
	/* Back-off of a failed PUBLISH: none before pub_after. */
	int pub_retry_ms;
	int64_t pub_after;
	enum pidf_avail pub_avail;
	char *pub_status;

	nua_handle_t *sub;
	su_timer_t *retry;
	int retry_ms;
	bool have_version;
	uint32_t version;
	struct dialoginfo_dialog dialogs[DIALOGINFO_MAX_DIALOGS];
	size_t n_dialogs;
	int busy;     /* the dialogs say: 1 in a call, 0 not, -1 unknown */
	int reported; /* last written "sip" row: 1, 0, -1 none yet */
	su_timer_t *debounce;

	struct watcher *watchers;
	/* what the watchers were last told */
	bool told;
	enum pidf_avail told_avail;
	char *told_status;
};

struct snap_user {
	char *jid, *addr;
};

struct snap_row {
	char *jid, *state, *status;
};

/* One snapshot, filled on the writer's thread. */
struct snap {
	char owner[128];
	bool release;
	int lease_err;
	struct snap_user *users;
	size_t n_users, cap_users;
	struct snap_row *rows;
	size_t n_rows, cap_rows;
};

struct presence {
	struct bridge *b;
	const struct config *cfg;
	su_home_t home[1];
	bool leased, snapping, snap_again, stopping;
	su_timer_t *tick;
	struct puser *users;
	struct dying *dying;
	int n_watchers;
	char route[600]; /* <server;lr>, "" without a server */
};

/* ---- the snapshot (writer thread) ------------------------------------ */

static void snap_clear(struct snap *s)
{
	for (size_t i = 0; i < s->n_users; i++) {
		free(s->users[i].jid);
		free(s->users[i].addr);
	}
	for (size_t i = 0; i < s->n_rows; i++) {
		free(s->rows[i].jid);
		free(s->rows[i].state);
		free(s->rows[i].status);
	}
	free(s->users);
	free(s->rows);
	s->users = NULL;
	s->rows = NULL;
	s->n_users = s->cap_users = s->n_rows = s->cap_rows = 0;
}

static int snap_user_cb(const char *jid, const char *addr, void *arg)
{
	struct snap *s = arg;
	struct snap_user *u;

	if (s->n_users >= MAX_USERS)
		return 0;
	if (s->n_users == s->cap_users) {
		size_t cap = s->cap_users ? s->cap_users * 2 : 16;

		u = realloc(s->users, cap * sizeof(*u));
		if (!u)
			return -ENOMEM;
		s->users = u;
		s->cap_users = cap;
	}
	u = &s->users[s->n_users];
	u->jid = strdup(jid);
	u->addr = strdup(addr);
	if (!u->jid || !u->addr) {
		free(u->jid);
		free(u->addr);
		return -ENOMEM;
	}
	s->n_users++;
	return 0;
}

static int snap_row_cb(const struct queue_presence *r, void *arg)
{
	struct snap *s = arg;
	struct snap_row *w;

	if (s->n_rows >= MAX_USERS)
		return 0;
	if (s->n_rows == s->cap_rows) {
		size_t cap = s->cap_rows ? s->cap_rows * 2 : 16;

		w = realloc(s->rows, cap * sizeof(*w));
		if (!w)
			return -ENOMEM;
		s->rows = w;
		s->cap_rows = cap;
	}
	w = &s->rows[s->n_rows];
	w->jid = strdup(r->jid);
	w->state = strdup(r->state);
	w->status = r->status ? strdup(r->status) : NULL;
	if (!w->jid || !w->state || (r->status && !w->status)) {
		free(w->jid);
		free(w->state);
		free(w->status);
		return -ENOMEM;
	}
	s->n_rows++;
	return 0;
}

static int user_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap_user *)a)->jid,
	              ((const struct snap_user *)b)->jid);
}

static int row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct snap_row *)a)->jid,
	              ((const struct snap_row *)b)->jid);
}

static int snap_run(struct queue *q, void *arg)
{
	struct snap *s = arg;
	int err;

	snap_clear(s);
	if (s->release) {
		s->lease_err = queue_lease_release(q, LEASE_NAME, s->owner);
		return 0;
	}
	s->lease_err = queue_lease_acquire(q, LEASE_NAME, s->owner, LEASE_MS);
	if (s->lease_err)
		return 0;
	err = queue_presence_users_foreach(q, snap_user_cb, s);
	if (!err)
		err = queue_presence_foreach(q, QUEUE_PRESENCE_XMPP, 0,
		                             snap_row_cb, s);
	/* Sorted here, off the loop, whatever order the back end used. */
	if (!err && s->n_users > 1)
		qsort(s->users, s->n_users, sizeof(*s->users), user_cmp);
	if (!err && s->n_rows > 1)
		qsort(s->rows, s->n_rows, sizeof(*s->rows), row_cmp);
	return err;
}

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
	u->reported = busy;
	log_info(TAG, "%s: %s", u->jid, busy ? "on the phone" : "idle");
	dbw_call(u->p->b->dbw, row_run, w, row_done, 0);
}

/* ---- helpers --------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static void handle_gone(struct presence *p, nua_handle_t *nh)
{
	struct dying *d = calloc(1, sizeof(*d));

	if (!d) {
		nua_handle_destroy(nh);
		return;
	}
	d->nh = nh;
	d->next = p->dying;
	p->dying = d;
}

/* The PIDF for U's current XMPP availability (closed without a row). */
static int user_pidf(const struct puser *u, char **doc, size_t *len)
{
	return pidf_build(u->addr, u->have_xmpp ? u->avail : PIDF_UNAVAILABLE,
	                  u->have_xmpp ? u->status : NULL, doc, len);
}

/* ---- publish mode ------------------------------------------------------ */

static void publish(struct puser *u)
{
	struct presence *p = u->p;
	char *doc = NULL, expires[16];
	size_t len;

	if (u->pub_pending) {
		u->pub_dirty = true;
		return;
	}
	if (user_pidf(u, &doc, &len)) {
		log_err(TAG, "%s: cannot build PIDF", u->jid);
		return;
	}
	if (!u->pub) {
		u->pub =
		    nua_handle(p->b->nua, NULL, SIPTAG_TO_STR(u->addr),
		               SIPTAG_FROM_STR(u->addr),
		               NUTAG_INITIAL_ROUTE_STR(p->route), TAG_END());
		if (!u->pub) {
			free(doc);
			return;
		}
		u->pub_auth = false;
	}
	snprintf(expires, sizeof(expires), "%d", p->cfg->presence.expires);
	u->pub_pending = true;
	u->pub_dirty = false;
	u->pub_avail = u->avail;
	set_str(&u->pub_status, u->status);
	log_debug(TAG, "%s: PUBLISH %s for %s", u->jid,
	          pidf_avail_name(u->avail), u->addr);
	nua_publish(u->pub, SIPTAG_EVENT_STR("presence"),
	            SIPTAG_CONTENT_TYPE_STR(PIDF_TYPE), SIPTAG_PAYLOAD_STR(doc),
	            SIPTAG_EXPIRES_STR(expires), TAG_END());
	free(doc);
}

static void publish_sync(struct puser *u)
{
	if (!u->have_xmpp)
		return;
	if (u->published && u->pub_avail == u->avail &&
	    str_eq(u->pub_status, u->status) && !u->pub_dirty)
		return;
	if (u->pub_pending && u->pub_avail == u->avail &&
	    str_eq(u->pub_status, u->status))
		return;
	if (!u->pub_pending && bridge_now_ms() < u->pub_after)
		return;
	publish(u);
}

static int backoff_next(int ms)
{
	ms = ms ? ms * 2 : RETRY_MIN_MS;
	return ms > RETRY_MAX_MS ? RETRY_MAX_MS : ms;
}

/*
 * A 401/407 (or nua's restart of the request with the credentials it
 * keeps, reported as 100) on U's PUBLISH or SUBSCRIBE handle NH: answered
 * with [sip] username and password once per success (*TRIED). Returns true
 * when the request goes on; false when it failed: the same credentials
 * were challenged again (logged once, with the realm, until a success:
 * *LOGGED) or the bridge has none.
 */
static bool auth_answer(struct puser *u, nua_handle_t *nh, const char *what,
                        int status, const char *phrase, const sip_t *sip,
                        bool *tried, bool *logged)
{
	char realm[128];
	enum ua_auth r;

	if (status < 200) {
		/* nua restarted it (credentials from its cache): a second
		 * answer to the same challenge round. */
		if (!*tried) {
			*tried = true;
			return true;
		}
		r = UA_AUTH_REFUSED;
		snprintf(realm, sizeof(realm), "(as before)");
	} else {
		r = ua_auth_answer(u->p->b, nh, status, sip, tried, realm,
		                   sizeof(realm));
	}
	if (r == UA_AUTH_ANSWERED) {
		log_debug(TAG, "%s: %s for %s: %d challenge, authenticating",
		          u->jid, what, u->addr, status);
		return true;
	}
	if (r == UA_AUTH_REFUSED) {
		if (!*logged)
			log_err(
			    TAG,
			    "%s: %s for %s: the server refused [sip] "
			    "username %s in realm %s (%d %s); retrying with "
			    "back-off",
			    u->jid, what, u->addr, u->p->cfg->sip.username,
			    realm, status, phrase ? phrase : "");
		*logged = true;
	} else if (!*logged) {
		log_err(TAG,
		        "%s: %s for %s: %d %s not answered ([sip] username "
		        "is not set, or the challenge is unusable)",
		        u->jid, what, u->addr, status, phrase ? phrase : "");
		*logged = true;
	}
	return false;
}

/* A challenge, or nua's restart of the request with its cached
 * credentials after one (sofia-sip's nua_client.c reports that as 100). */
static bool is_challenge(int status, const char *phrase)
{
	if (status < 200)
		return phrase && strstr(phrase, "Authorized by Cache");
	return status == 401 || status == 407;
}

static void on_r_publish(struct puser *u, int status, const char *phrase,
                         const sip_t *sip)
{
	bool quiet = false;

	if (is_challenge(status, phrase)) {
		if (auth_answer(u, u->pub, "PUBLISH", status, phrase, sip,
		                &u->pub_auth, &u->pub_auth_logged))
			return;
		quiet = true;
	} else if (status < 200) {
		return;
	}
	u->pub_pending = false;
	if (status >= 200 && status < 300) {
		u->published = true;
		u->pub_auth = u->pub_auth_logged = false;
		u->pub_retry_ms = 0;
	} else {
		/* A later tick publishes afresh on a new handle: after a
		 * server restart the old entity tag means nothing there. */
		u->published = false;
		u->pub_retry_ms = backoff_next(u->pub_retry_ms);
		u->pub_after = bridge_now_ms() + u->pub_retry_ms;
		if (!quiet)
			log_warn(
			    TAG, "%s: PUBLISH for %s: %d %s; again in %d ms",
			    u->jid, u->addr, status, phrase, u->pub_retry_ms);
		nua_handle_destroy(u->pub);
		u->pub = NULL;
		u->pub_dirty = false;
		return;
	}
	if (u->pub_dirty)
		publish(u);
}

/* ---- agent mode -------------------------------------------------------- */

static void notify_one(struct puser *u, nua_handle_t *nh,
                       enum nua_substate state)
{
	char *doc = NULL;
	size_t len;

	if (user_pidf(u, &doc, &len)) {
		log_err(TAG, "%s: cannot build PIDF", u->jid);
		return;
	}
	nua_notify(nh, NUTAG_SUBSTATE(state), SIPTAG_EVENT_STR("presence"),
	           SIPTAG_CONTENT_TYPE_STR(PIDF_TYPE), SIPTAG_PAYLOAD_STR(doc),
	           TAG_END());
	free(doc);
}

static void watchers_sync(struct puser *u)
{
	enum pidf_avail a = u->have_xmpp ? u->avail : PIDF_UNAVAILABLE;

	if (u->told && u->told_avail == a && str_eq(u->told_status, u->status))
		return;
	u->told = true;
	u->told_avail = a;
	set_str(&u->told_status, u->status);
	for (struct watcher *w = u->watchers; w; w = w->next)
		notify_one(u, w->nh, nua_substate_active);
}

static void watcher_remove(struct puser *u, struct watcher *w)
{
	struct watcher **pp;

	for (pp = &u->watchers; *pp; pp = &(*pp)->next) {
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

static void on_i_subscribe(struct presence *p, nua_handle_t *nh, int status,
                           const sip_t *sip)
{
	const char *event = sip && sip->sip_event ? sip->sip_event->o_type : "";
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
	w = calloc(1, sizeof(*w));
	if (!w) {
		nua_respond(nh, SIP_500_INTERNAL_SERVER_ERROR,
		            NUTAG_WITH_THIS(p->b->nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	w->nh = nh;
	w->next = u->watchers;
	u->watchers = w;
	p->n_watchers++;
	log_info(TAG, "%s: a watcher subscribed to %s", u->jid, u->addr);
	nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(p->b->nua),
	            NUTAG_SUBSTATE(nua_substate_active), TAG_END());
	notify_one(u, nh, nua_substate_active);
}

/* ---- the dialog subscription --------------------------------------------
 */

static void subscribe(struct puser *u);

static void on_retry(struct bridge *b, su_timer_t *t, void *arg)
{
	struct puser *u = arg;

	(void)b;
	(void)t;
	su_timer_destroy(u->retry);
	u->retry = NULL;
	if (u->p->leased && !u->sub)
		subscribe(u);
}

/* The subscription ended or failed: forget it, try again later. */
static void sub_lost(struct puser *u, const char *why, bool quiet)
{
	struct presence *p = u->p;

	if (u->sub) {
		nua_handle_destroy(u->sub);
		u->sub = NULL;
	}
	u->have_version = false;
	if (!p->leased || p->stopping || u->retry)
		return;
	u->retry_ms = backoff_next(u->retry_ms);
	if (!quiet)
		log_warn(TAG,
		         "%s: dialog subscription to %s %s; again in %d ms",
		         u->jid, u->addr, why, u->retry_ms);
	u->retry = su_timer_create(su_root_task(p->b->root), u->retry_ms);
	if (u->retry)
		su_timer_set(u->retry, on_retry, u);
}

static void subscribe(struct puser *u)
{
	struct presence *p = u->p;
	char expires[16];

	if (!*p->route || u->sub || u->retry)
		return;
	u->sub = nua_handle(p->b->nua, NULL, SIPTAG_TO_STR(u->addr),
	                    SIPTAG_FROM_STR(u->addr),
	                    NUTAG_INITIAL_ROUTE_STR(p->route), TAG_END());
	if (!u->sub)
		return;
	u->sub_auth = false;
	snprintf(expires, sizeof(expires), "%d", p->cfg->presence.expires);
	log_debug(TAG, "%s: SUBSCRIBE dialog %s", u->jid, u->addr);
	nua_subscribe(u->sub, SIPTAG_EVENT_STR("dialog"),
	              SIPTAG_ACCEPT_STR(DINFO_TYPE),
	              SIPTAG_EXPIRES_STR(expires), TAG_END());
}

static void on_debounce(struct bridge *b, su_timer_t *t, void *arg)
{
	struct puser *u = arg;

	(void)b;
	(void)t;
	su_timer_destroy(u->debounce);
	u->debounce = NULL;
	if (u->busy >= 0 && u->busy != u->reported)
		row_write(u, u->busy);
}

/* The dialogs changed: settle on in a call or not after debounce_ms. */
static void busy_update(struct puser *u)
{
	int busy = 0;
	int ms = u->p->cfg->presence.debounce_ms;

	/* A confirmed dialog is a call; a ringing (early) one is not yet:
	 * docs/presence.md. */
	for (size_t i = 0; i < u->n_dialogs; i++)
		if (u->dialogs[i].state == DIALOGINFO_CONFIRMED)
			busy = 1;
	u->busy = busy;
	if (u->debounce) {
		su_timer_destroy(u->debounce);
		u->debounce = NULL;
	}
	if (busy == u->reported)
		return;
	if (ms <= 0) {
		row_write(u, busy);
		return;
	}
	u->debounce = su_timer_create(su_root_task(u->p->b->root), ms);
	if (!u->debounce || su_timer_set(u->debounce, on_debounce, u))
		row_write(u, busy);
}

static void dialogs_apply(struct puser *u, const struct dialoginfo *di)
{
	if (!di->full && u->have_version && di->version <= u->version) {
		log_debug(TAG, "%s: stale dialog-info version %u", u->jid,
		          (unsigned)di->version);
		return;
	}
	u->have_version = true;
	u->version = di->version;
	if (di->full)
		u->n_dialogs = 0;
	for (size_t i = 0; i < di->n; i++) {
		const struct dialoginfo_dialog *d = &di->dialogs[i];
		size_t k;

		for (k = 0; k < u->n_dialogs; k++)
			if (!strcmp(u->dialogs[k].id, d->id))
				break;
		if (d->state == DIALOGINFO_TERMINATED) {
			if (k < u->n_dialogs)
				u->dialogs[k] = u->dialogs[--u->n_dialogs];
			continue;
		}
		if (k == u->n_dialogs) {
			if (u->n_dialogs >= DIALOGINFO_MAX_DIALOGS)
				continue;
			u->n_dialogs++;
		}
		u->dialogs[k] = *d;
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
			u->retry_ms = 0;
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
		u->n_dialogs = 0;
		busy_update(u);
	}
	if (state == nua_substate_terminated)
		sub_lost(u, "was terminated by the server", false);
}

static void on_r_subscribe(struct puser *u, int status, const char *phrase,
                           const sip_t *sip, tagi_t tags[])
{
	int state = nua_substate_active;
	bool failed = false;

	tl_gets(tags, NUTAG_SUBSTATE_REF(state), TAG_END());
	/* The initial SUBSCRIBE and nua's refreshes alike. */
	if (is_challenge(status, phrase)) {
		if (auth_answer(u, u->sub, "SUBSCRIBE", status, phrase, sip,
		                &u->sub_auth, &u->sub_auth_logged))
			return;
		failed = true;
	} else if (status < 200) {
		return;
	} else if (status < 300) {
		u->sub_auth = u->sub_auth_logged = false;
	}
	if (failed || status >= 300 || state == nua_substate_terminated) {
		char why[96];

		snprintf(why, sizeof(why), "failed (%d %s)", status,
		         phrase ? phrase : "");
		sub_lost(u, why, failed);
	}
}

/* ---- users ------------------------------------------------------------- */

static void user_teardown(struct puser *u, bool graceful)
{
	struct presence *p = u->p;

	if (u->retry) {
		su_timer_destroy(u->retry);
		u->retry = NULL;
	}
	if (u->debounce) {
		su_timer_destroy(u->debounce);
		u->debounce = NULL;
	}
	if (u->pub) {
		if (graceful && (u->published || u->pub_pending)) {
			nua_unpublish(u->pub, TAG_END());
			handle_gone(p, u->pub);
		} else {
			nua_handle_destroy(u->pub);
		}
		u->pub = NULL;
	}
	u->published = u->pub_pending = u->pub_dirty = false;
	if (u->sub) {
		if (graceful) {
			nua_unsubscribe(u->sub, TAG_END());
			handle_gone(p, u->sub);
		} else {
			nua_handle_destroy(u->sub);
		}
		u->sub = NULL;
	}
	while (u->watchers) {
		struct watcher *w = u->watchers;

		if (graceful)
			nua_notify(w->nh,
			           NUTAG_SUBSTATE(nua_substate_terminated),
			           TAG_END());
		u->watchers = w->next;
		p->n_watchers--;
		if (graceful)
			handle_gone(p, w->nh);
		else
			nua_handle_destroy(w->nh);
		free(w);
	}
	u->told = false;
	u->n_dialogs = 0;
	u->have_version = false;
	u->busy = -1;
}

static void user_free(struct puser *u)
{
	free(u->jid);
	free(u->addr);
	free(u->user);
	free(u->host);
	free(u->status);
	free(u->pub_status);
	free(u->told_status);
	free(u);
}

static struct puser *user_new(struct presence *p, const char *jid,
                              const char *addr)
{
	struct puser *u = calloc(1, sizeof(*u));
	su_home_t home[1] = {SU_HOME_INIT(home)};
	url_t *url;

	if (!u)
		return NULL;
	u->p = p;
	u->busy = -1;
	u->reported = -1;
	u->jid = strdup(jid);
	u->addr = strdup(addr);
	url = url_make(home, addr);
	if (url && url->url_user && url->url_host) {
		u->user = strdup(url->url_user);
		u->host = strdup(url->url_host);
	}
	su_home_deinit(home);
	if (!u->jid || !u->addr || !u->user || !u->host) {
		log_warn(TAG, "%s: SIP address %s unusable", jid, addr);
		user_free(u);
		return NULL;
	}
	return u;
}

static void users_drop_all(struct presence *p, bool graceful)
{
	while (p->users) {
		struct puser *u = p->users;

		p->users = u->next;
		user_teardown(u, graceful);
		user_free(u);
	}
}

static void user_sync(struct puser *u)
{
	struct presence *p = u->p;

	if (p->cfg->presence.mode == CONFIG_PRESENCE_PUBLISH)
		publish_sync(u);
	else if (p->cfg->presence.mode == CONFIG_PRESENCE_AGENT)
		watchers_sync(u);
	if (*p->route && !u->sub && !u->retry)
		subscribe(u);
}

static void user_gone(struct puser *u)
{
	log_info(TAG, "%s: no longer takes part (was %s)", u->jid, u->addr);
	if (u->reported == 1)
		row_write(u, false);
	user_teardown(u, true);
	user_free(u);
}

/*
 * Brings the user list in line with snapshot S in one merge pass: the list
 * is kept in JID order (strcmp) and the snapshot's users and rows were
 * sorted the same way on the writer's thread, so 10 000 users cost 10 000
 * steps every 5 s rather than 10^8.
 */
static void snap_apply(struct presence *p, struct snap *s)
{
	struct puser *old = p->users, *head = NULL, **tail = &head, *u;
	size_t r = 0;

	for (size_t i = 0; i < s->n_users; i++) {
		const struct snap_user *su = &s->users[i];
		int cmp = 1;

		while (old && (cmp = strcmp(old->jid, su->jid)) < 0) {
			u = old;
			old = old->next;
			user_gone(u);
		}
		u = NULL;
		if (old && cmp == 0) {
			u = old;
			old = old->next;
			if (strcmp(u->addr, su->addr)) {
				/* A new SIP address: the old one's usages end.
				 */
				user_gone(u);
				u = NULL;
			}
		}
		if (!u) {
			u = user_new(p, su->jid, su->addr);
			if (!u)
				continue;
			log_info(TAG, "%s: presence for %s", u->jid, u->addr);
		}
		u->next = NULL;
		*tail = u;
		tail = &u->next;

		u->have_xmpp = false;
		while (r < s->n_rows && strcmp(s->rows[r].jid, su->jid) < 0)
			r++;
		if (r < s->n_rows && !strcmp(s->rows[r].jid, su->jid)) {
			enum pidf_avail a;

			if (!pidf_avail_parse(s->rows[r].state, &a)) {
				u->have_xmpp = true;
				u->avail = a;
				set_str(&u->status, s->rows[r].status);
			}
		}
	}
	while (old) {
		u = old;
		old = old->next;
		user_gone(u);
	}
	p->users = head;
	for (u = p->users; u; u = u->next)
		user_sync(u);
}

static void snapshot(struct presence *p);

static void on_snap(void *ctx, struct dbw_result *r)
{
	struct bridge *b = ctx;
	struct presence *p = b->pres;
	struct snap *s = r->arg;

	if (!p || !s) {
		if (s)
			snap_clear(s);
		free(s);
		return;
	}
	p->snapping = false;
	if (s->release || p->stopping) {
		snap_clear(s);
		free(s);
		return;
	}
	if (s->lease_err == -EPERM) {
		if (p->leased) {
			log_warn(TAG, "another bridge holds the presence lease "
			              "now: stepping back");
			users_drop_all(p, false);
		}
		p->leased = false;
	} else if (s->lease_err) {
		log_err(TAG, "renewing the presence lease: %s",
		        strerror(-s->lease_err));
	} else if (r->err) {
		log_err(TAG, "reading presence: %s", strerror(-r->err));
		p->leased = true;
	} else {
		if (!p->leased)
			log_info(TAG, "holding the presence lease (%d users)",
			         (int)s->n_users);
		p->leased = true;
		snap_apply(p, s);
	}
	snap_clear(s);
	free(s);
	if (p->snap_again) {
		p->snap_again = false;
		snapshot(p);
	}
}

static void snapshot(struct presence *p)
{
	struct snap *s;

	if (p->stopping)
		return;
	if (p->snapping) {
		p->snap_again = true;
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	snprintf(s->owner, sizeof(s->owner), "%s", p->b->owner);
	p->snapping = true;
	dbw_call(p->b->dbw, snap_run, s, on_snap, 0);
}

static void on_tick(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	if (b->pres)
		snapshot(b->pres);
}

/* ---- the hooks ----------------------------------------------------------- */

unsigned presence_channels(const struct config *cfg)
{
	if (cfg->presence.mode == CONFIG_PRESENCE_OFF)
		return 0;
	return QUEUE_CH_PRESENCE | QUEUE_CH_REGISTRATIONS;
}

const char *presence_methods(const struct config *cfg)
{
	bool agent = cfg->presence.mode == CONFIG_PRESENCE_AGENT;
	bool subscribes = cfg->presence.mode != CONFIG_PRESENCE_OFF &&
	                  cfg->presence.server && *cfg->presence.server;

	if (agent && subscribes)
		return ", SUBSCRIBE, NOTIFY";
	if (agent)
		return ", SUBSCRIBE";
	return subscribes ? ", NOTIFY" : "";
}

int presence_start(struct bridge *b)
{
	struct presence *p;
	const char *server = b->cfg->presence.server;

	if (b->cfg->presence.mode == CONFIG_PRESENCE_OFF)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->b = b;
	p->cfg = b->cfg;
	su_home_init(p->home);
	if (server && *server) {
		int n = snprintf(p->route, sizeof(p->route), "<%s;lr>", server);

		if (n < 0 || (size_t)n >= sizeof(p->route)) {
			log_err(TAG, "[presence] server is too long");
			su_home_deinit(p->home);
			free(p);
			return -EINVAL;
		}
	}
	b->pres = p;
	if (b->cfg->presence.mode == CONFIG_PRESENCE_AGENT)
		nua_set_params(b->nua, NUTAG_ALLOW_EVENTS("presence"),
		               NUTAG_APPL_METHOD("SUBSCRIBE"), TAG_END());
	p->tick = su_timer_create(su_root_task(b->root), TICK_MS);
	if (!p->tick || su_timer_set_for_ever(p->tick, on_tick, NULL))
		return -ENOMEM;
	log_info(TAG, "mode %s%s%s",
	         b->cfg->presence.mode == CONFIG_PRESENCE_AGENT ? "agent"
	                                                        : "publish",
	         *p->route ? ", server " : "", *p->route ? server : "");
	snapshot(p);
	return 0;
}

void presence_wake(struct bridge *b, unsigned channels)
{
	if (b->pres && (channels & presence_channels(b->cfg)))
		snapshot(b->pres);
}

/* Which user (and which of its handles) NH is. */
static struct puser *find(struct presence *p, nua_handle_t *nh,
                          struct watcher **wp)
{
	*wp = NULL;
	for (struct puser *u = p->users; u; u = u->next) {
		if (u->pub == nh || u->sub == nh)
			return u;
		for (struct watcher *w = u->watchers; w; w = w->next) {
			if (w->nh == nh) {
				*wp = w;
				return u;
			}
		}
	}
	return NULL;
}

static bool dying_event(struct presence *p, nua_event_t event, int status,
                        nua_handle_t *nh)
{
	for (struct dying **dp = &p->dying; *dp; dp = &(*dp)->next) {
		struct dying *d = *dp;

		if (d->nh != nh)
			continue;
		if (status >= 200 &&
		    (event == nua_r_unpublish || event == nua_r_unsubscribe ||
		     event == nua_r_notify || event == nua_r_publish ||
		     event == nua_r_subscribe)) {
			*dp = d->next;
			nua_handle_destroy(d->nh);
			free(d);
		}
		return true;
	}
	return false;
}

bool presence_nua_event(struct bridge *b, nua_event_t event, int status,
                        const char *phrase, nua_handle_t *nh, const sip_t *sip,
                        tagi_t tags[])
{
	struct presence *p = b->pres;
	struct watcher *w;
	struct puser *u;

	if (!nh)
		return false;
	if (!p) {
		if (event == nua_i_subscribe) {
			nua_respond(nh, SIP_489_BAD_EVENT,
			            NUTAG_WITH_THIS(b->nua), TAG_END());
			nua_handle_destroy(nh);
			return true;
		}
		return false;
	}
	if (dying_event(p, event, status, nh))
		return true;
	u = find(p, nh, &w);
	if (!u) {
		if (event == nua_i_subscribe && !nua_handle_magic(nh)) {
			on_i_subscribe(p, nh, status, sip);
			return true;
		}
		return false;
	}
	switch (event) {
	case nua_r_publish:
		if (nh == u->pub)
			on_r_publish(u, status, phrase, sip);
		break;
	case nua_r_subscribe:
		if (nh == u->sub)
			on_r_subscribe(u, status, phrase, sip, tags);
		break;
	case nua_i_notify:
		if (nh == u->sub)
			on_i_notify(u, sip, tags);
		break;
	case nua_i_subscribe:
		/* A watcher's refresh or unsubscribe: nua answers it and
		 * repeats the last NOTIFY itself (nua_notifier.c). */
		break;
	case nua_r_notify:
		if (w) {
			int state = nua_substate_active;

			tl_gets(tags, NUTAG_SUBSTATE_REF(state), TAG_END());
			if (state == nua_substate_terminated || status == 481 ||
			    status == 408) {
				log_info(TAG, "%s: a watcher left", u->jid);
				watcher_remove(u, w);
			}
		}
		break;
	case nua_i_terminated:
		if (w) {
			log_info(TAG, "%s: a watcher's subscription ended",
			         u->jid);
			watcher_remove(u, w);
		}
		break;
	default:
		break;
	}
	return true;
}

void presence_stop(struct bridge *b)
{
	struct presence *p = b->pres;
	struct snap *s;

	if (!p || p->stopping)
		return;
	if (p->tick) {
		su_timer_destroy(p->tick);
		p->tick = NULL;
	}
	/* Usages end gracefully: unPUBLISH, unSUBSCRIBE, watchers told. */
	users_drop_all(p, true);
	p->stopping = true;
	if (p->leased && (s = calloc(1, sizeof(*s)))) {
		snprintf(s->owner, sizeof(s->owner), "%s", b->owner);
		s->release = true;
		dbw_call(b->dbw, snap_run, s, on_snap, 0);
	}
	p->leased = false;
}

bool presence_leased(const struct bridge *b)
{
	return b->pres && b->pres->leased;
}

void presence_free(struct bridge *b)
{
	struct presence *p = b->pres;

	if (!p)
		return;
	if (p->tick)
		su_timer_destroy(p->tick);
	users_drop_all(p, false);
	while (p->dying) {
		struct dying *d = p->dying;

		p->dying = d->next;
		if (b->nua)
			nua_handle_destroy(d->nh);
		free(d);
	}
	su_home_deinit(p->home);
	free(p);
	b->pres = NULL;
}
