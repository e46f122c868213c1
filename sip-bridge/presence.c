/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SIP presence (presence.h, docs/presence.md), the glue of its usages:
 * every few seconds, and on a presence or registrations wake-up, the queue
 * writer's thread renews the "presence" lease and reads a snapshot (who has
 * a SIP address, the "xmpp" rows); the loop then brings its user registry
 * in line with it and each user's usages with the user: PUBLISH
 * (presence_publish.c, mode publish), the presence agent's watchers
 * (presence_notify.c, mode agent) and the dialog subscription at
 * [presence] server (presence_subscribe.c). Without the lease the bridge
 * does none of it, and a bridge that loses the lease drops its usages: the
 * holder has its own.
 *
 * The nua calls for presence and their tag lists live in these files rather
 * than in ua.c, so that calls and presence can be changed apart; ua.c hands
 * every event to presence_nua_event() first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "presence_internal.h"
#include "queue_writer.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tagarg.h>
#include <sofia-sip/url.h>

#define LEASE_NAME "presence"
/* The lease outlives two missed renewals: a second bridge takes over
 * within LEASE_MS + TICK_MS of the holder's death. */
#define LEASE_MS 15000
#define TICK_MS  5000
/* Users in one snapshot; more are left out (and logged). */
#define MAX_USERS 10000
/* Back-off of a failed dialog subscription or PUBLISH. */
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 60000
/*
 * How long the ending usages (unPUBLISH, unSUBSCRIBE, the watchers' last
 * NOTIFY) have at shutdown. A server that answers takes milliseconds; one
 * that has stopped answering would hold nua_shutdown until its own 30 s
 * limit, after which the handles it left could no longer be destroyed
 * (the loop has stopped). So what is still unanswered by then is given up
 * while the loop still turns.
 */
#define STOP_MS 3000

/* A handle given up (unPUBLISH/unSUBSCRIBE under way), destroyed on its
 * final response. */
struct dying {
	struct dying *next;
	nua_handle_t *nh;
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

/* ARR (N elements of SIZE, room for *CAP) with room for one more, or NULL
 * (ARR kept as it was). */
static void *snap_room(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap ? *cap * 2 : 16;

	if (n < *cap)
		return arr;
	arr = realloc(arr, c * size);
	if (arr)
		*cap = c;
	return arr;
}

static int snap_user_cb(const char *jid, const char *addr, void *arg)
{
	struct snap *s = arg;
	struct snap_user *u;

	if (s->n_users >= MAX_USERS)
		return 0;
	u = snap_room(s->users, &s->cap_users, s->n_users, sizeof(*u));
	if (!u)
		return -ENOMEM;
	s->users = u;
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
	w = snap_room(s->rows, &s->cap_rows, s->n_rows, sizeof(*w));
	if (!w)
		return -ENOMEM;
	s->rows = w;
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

/* ---- shared by the usages ---------------------------------------------- */

bool presence_str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int presence_str_set(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

void presence_handle_gone(struct presence *p, nua_handle_t *nh)
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
int presence_user_pidf(const struct puser *u, char **doc, size_t *len)
{
	return pidf_build(u->addr, u->have_xmpp ? u->avail : PIDF_UNAVAILABLE,
	                  u->have_xmpp ? u->status : NULL, doc, len);
}

int presence_backoff_next(int ms)
{
	ms = ms ? ms * 2 : RETRY_MIN_MS;
	return ms > RETRY_MAX_MS ? RETRY_MAX_MS : ms;
}

/* The answer to a challenge (presence_auth_response): true when the
 * request goes on. */
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

int presence_auth_response(struct puser *u, nua_handle_t *nh, const char *what,
                           int status, const char *phrase, const sip_t *sip,
                           bool *tried, bool *logged)
{
	if (!is_challenge(status, phrase))
		return status < 200 ? 1 : 0;
	if (auth_answer(u, nh, what, status, phrase, sip, tried, logged))
		return 1;
	return -1;
}

/* ---- users ------------------------------------------------------------- */

static void user_teardown(struct puser *u, bool graceful)
{
	presence_publish_end(u, graceful);
	presence_subscribe_end(u, graceful);
	presence_notify_end(u, graceful);
}

static void user_free(struct puser *u)
{
	free(u->jid);
	free(u->addr);
	free(u->user);
	free(u->host);
	free(u->status);
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
		presence_publish_sync(u);
	else if (p->cfg->presence.mode == CONFIG_PRESENCE_AGENT)
		presence_notify_sync(u);
	presence_subscribe_sync(u);
}

static void user_gone(struct puser *u)
{
	log_info(TAG, "%s: no longer takes part (was %s)", u->jid, u->addr);
	presence_subscribe_leave(u);
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
				presence_str_set(&u->status, s->rows[r].status);
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

/* The handles given up that are still unanswered, destroyed now. */
static int dying_destroy_all(struct presence *p)
{
	int n = 0;

	while (p->dying) {
		struct dying *d = p->dying;

		p->dying = d->next;
		if (p->b->nua)
			nua_handle_destroy(d->nh);
		free(d);
		n++;
	}
	return n;
}

/* Every usage presence_stop() ended has ended: the bridge may go on. */
static void stop_done(struct presence *p)
{
	if (p->stop_timer) {
		su_timer_destroy(p->stop_timer);
		p->stop_timer = NULL;
	}
	bridge_stop_check(p->b);
}

static void on_stop_deadline(struct bridge *b, su_timer_t *t, void *arg)
{
	struct presence *p = b->pres;
	int n;

	(void)t;
	(void)arg;
	if (!p)
		return;
	n = dying_destroy_all(p);
	if (n > 0)
		log_warn(TAG,
		         "%d presence request(s) still unanswered %d s after "
		         "the stop: given up (%s does not answer)",
		         n, STOP_MS / 1000,
		         *p->route ? "the presence server" : "a watcher");
	stop_done(p);
}

bool presence_ending(const struct bridge *b)
{
	return b->pres && b->pres->stopping && b->pres->dying;
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
			if (p->stopping && !p->dying)
				stop_done(p);
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
	/* Which user's usage NH is: each takes its own handles' events. */
	for (struct puser *u = p->users; u; u = u->next)
		if (presence_publish_event(u, event, status, phrase, nh, sip) ||
		    presence_subscribe_event(u, event, status, phrase, nh, sip,
		                             tags) ||
		    presence_notify_event(u, event, status, nh, tags))
			return true;
	if (event == nua_i_subscribe && !nua_handle_magic(nh)) {
		presence_notify_subscribe(p, nh, status, sip);
		return true;
	}
	return false;
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
	/* Usages end gracefully: unPUBLISH, unSUBSCRIBE, watchers told, for
	 * STOP_MS at most. */
	users_drop_all(p, true);
	p->stopping = true;
	if (p->dying) {
		p->stop_timer = su_timer_create(su_root_task(b->root), STOP_MS);
		if (!p->stop_timer ||
		    su_timer_set(p->stop_timer, on_stop_deadline, NULL))
			dying_destroy_all(p);
	}
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
	if (p->stop_timer)
		su_timer_destroy(p->stop_timer);
	users_drop_all(p, false);
	dying_destroy_all(p);
	su_home_deinit(p->home);
	free(p);
	b->pres = NULL;
}
