/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The decision to phone someone about a message, and its hand-over to the
 * store. Order of the checks: registered and verified, unreachable under the
 * user's call_when, outside quiet hours, an allowed sender, the destination
 * still within policy, and (when the user asked for it) the sender in the
 * user's roster. The display name spoken is the user's roster name for the
 * sender when the roster is read, else the sender's local part.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "jid_escape.h"
#include "log.h"
#include "monitor.h"
#include "outcome.h"
#include "policy.h"
#include "store.h"
#include "tz.h"

#define TAG            "catch"
#define NAME_CHARS_MAX 64

/* The catch path's own state. */
struct comp_catcher {
	GHashTable *names; /* sender bare JID -> struct name_entry */
	GQueue *order;     /* catches in arrival order, not yet stored */
	/* A run of failed commits of caught messages, logged once when it
	 * starts and once when commits work again. */
	int64_t failing_since_ms; /* clock_mono_ms(); 0: the last worked */
	uint64_t failed;          /* messages answered "wait" in it */
};

int comp_catch_new(struct comp_catcher **cp)
{
	struct comp_catcher *k = g_new0(struct comp_catcher, 1);

	k->names =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	k->order = g_queue_new();
	*cp = k;
	return 0;
}

void comp_catch_names_forget(struct comp_catcher *k)
{
	g_hash_table_remove_all(k->names);
}

void comp_catch_free(struct comp_catcher *k)
{
	if (!k)
		return;
	/* The catches themselves end with their look-ups or the store. */
	g_queue_free(k->order);
	g_hash_table_destroy(k->names);
	g_free(k);
}

struct catch_ctx {
	struct comp *c;
	char *callee, *sender, *sender_name, *reply_from, *body, *idem_key;
	char *destination, *tz, *lang;
	/* The callee's further verified numbers, in order (NULL: none). */
	char *destination_more[QUEUE_PHONES_MAX - 1];
	int gate;         /* the callee's QUEUE_GATE_*, copied into the job */
	int wait_minutes; /* the callee's wait before calling */
	enum queue_call_when call_when; /* what counts as online, for it */
	int64_t seen_until_ms;          /* the job's wait ends then (0: none) */
	int64_t defer_until_ms; /* quiet hours end then (0: not deferred) */
	bool encrypted;
	bool roster_only; /* the callee wants calls only from contacts */
	bool ordered;     /* waiting in the catcher's order */
	bool ready;       /* its look-ups are done: may go to the store */
	bool quiet;       /* its failure is logged already (commit_failed) */
	catch_done_cb done;
	void *arg;
};

const char *catch_verdict_name(enum catch_verdict v)
{
	static const char *const names[] = {
	    [CATCH_QUEUED] = "queued",
	    [CATCH_NOT_REGISTERED] = "not registered",
	    [CATCH_NOT_VERIFIED] = "phone not verified",
	    [CATCH_ONLINE] = "recipient online",
	    [CATCH_QUIET_HOURS] = "quiet hours",
	    [CATCH_SENDER_REFUSED] = "sender not allowed",
	    [CATCH_NOT_IN_ROSTER] = "sender not in roster",
	    [CATCH_EMPTY] = "no body",
	    [CATCH_POLICY] = "destination outside policy",
	    [CATCH_ERROR] = "error",
	};

	return (unsigned)v < G_N_ELEMENTS(names) ? names[v] : "?";
}

static void ctx_free(struct catch_ctx *x)
{
	g_free(x->callee);
	g_free(x->sender);
	g_free(x->sender_name);
	g_free(x->reply_from);
	g_free(x->body);
	g_free(x->idem_key);
	g_free(x->destination);
	for (size_t i = 0; i < G_N_ELEMENTS(x->destination_more); i++)
		g_free(x->destination_more[i]);
	g_free(x->tz);
	g_free(x->lang);
	g_free(x);
}

static void drain(struct comp *c);

static void finish(struct catch_ctx *x, enum catch_verdict v,
                   enum queue_enqueue_result r, int err)
{
	struct comp *c = x->c;
	bool ordered = x->ordered;

	if (ordered)
		g_queue_remove(c->catcher->order, x);
	if (v != CATCH_QUEUED && !x->quiet)
		log_info(TAG, "message from %s to %s not queued: %s", x->sender,
		         x->callee, catch_verdict_name(v));
	x->done(c, v, r, err, x->arg);
	ctx_free(x);
	if (ordered)
		drain(c); /* it may have held up the ones behind it */
}

/* Cuts S to at most MAX characters, saying so, as STYLE.md asks. */
static char *shorten(const char *s, int max)
{
	if (g_utf8_strlen(s, -1) <= max)
		return g_strdup(s);
	const char *end = g_utf8_offset_to_pointer(s, max);

	return g_strdup_printf("%.*s ... (message shortened)", (int)(end - s),
	                       s);
}

static char *default_name(const char *sender)
{
	const char *at = strchr(sender, '@');
	char local[1024];

	if (!at)
		return g_strdup(sender);
	snprintf(local, sizeof(local), "%.*s", (int)(at - sender), sender);
	char unescaped[1024];

	if (jidesc_unescape(local, unescaped, sizeof(unescaped)) == 0)
		return shorten(unescaped, NAME_CHARS_MAX);
	return shorten(local, NAME_CHARS_MAX);
}

/*
 * A full disk or a failing database fails every commit until it is fixed:
 * each push is answered "wait" (the server keeps the registration), and
 * the log says what is wrong once, when the run of failures starts, and
 * once when commits work again, not once per message.
 */
static void commit_failed(struct comp *c, const struct catch_ctx *x, int err)
{
	c->catcher->failed++;
	if (c->catcher->failing_since_ms) {
		log_debug(TAG, "message from %s to %s not queued: %s",
		          x->sender, x->callee, strerror(-err));
		return;
	}
	c->catcher->failing_since_ms = clock_mono_ms();
	log_err(TAG,
	        "cannot commit caught messages to the queue: %s (is the "
	        "queue's disk full, or the database down?). Pushes are "
	        "answered \"wait\" so the server keeps the registrations; "
	        "catching resumes by itself once the queue commits again, "
	        "and messages sent meanwhile are phoned only where the server "
	        "sends the push again (Prosody with mod_ringbridge, "
	        "docs/operations.md). Logged once until then",
	        strerror(-err));
}

static void commit_worked(struct comp *c)
{
	if (!c->catcher->failing_since_ms)
		return;
	log_warn(TAG,
	         "caught messages commit to the queue again, after %.1f s "
	         "in which %llu pushes were answered \"wait\"",
	         (double)(clock_mono_ms() - c->catcher->failing_since_ms) /
	             1000.0,
	         (unsigned long long)c->catcher->failed);
	c->catcher->failing_since_ms = 0;
	c->catcher->failed = 0;
}

static void stored(struct comp *c, enum queue_enqueue_result r, int64_t job_id,
                   int err, void *arg)
{
	struct catch_ctx *x = arg;

	if (err) {
		commit_failed(c, x, err);
		x->quiet = true;
		finish(x, CATCH_ERROR, r, err);
		return;
	}
	commit_worked(c);
	if (r == QUEUE_ENQ_LIMIT_CALLEE || r == QUEUE_ENQ_LIMIT_SENDER) {
		log_warn(TAG, "message from %s to %s not phoned: %s", x->sender,
		         x->callee, queue_enqueue_result_name(r));
	} else if (r == QUEUE_ENQ_PAUSED) {
		/* The callee pressed 9 for this sender today: the sender
		 * learns why no call comes; the message stays with the
		 * server, as for any offline user. */
		log_info(TAG, "message from %s to %s not phoned: %s", x->sender,
		         x->callee, queue_enqueue_result_name(r));
		comp_outcome_paused(c, x->callee, x->sender, x->reply_from,
		                    x->idem_key);
	} else {
		log_info(TAG, "message from %s to %s: %s, job %lld%s",
		         x->sender, x->callee, queue_enqueue_result_name(r),
		         (long long)job_id,
		         x->defer_until_ms ? " (deferred to the end of quiet "
		                             "hours)"
		                           : "");
	}
	if (r == QUEUE_ENQ_NEW_JOB || r == QUEUE_ENQ_JOINED) {
		comp_monitor_caught(c);
		comp_wait_started(c, x->callee, x->seen_until_ms, x->call_when);
	}
	finish(x, CATCH_QUEUED, r, 0);
}

static void store_now(struct catch_ctx *x)
{
	struct comp *c = x->c;
	struct queue_message_in m = {
	    .callee_jid = x->callee,
	    .sender_jid = x->sender,
	    .sender_name = x->sender_name,
	    .reply_from = x->reply_from,
	    .body = x->body,
	    .encrypted = x->encrypted,
	    .received_ms = clock_real_ms(),
	    .idem_key = x->idem_key,
	    .destination = x->destination,
	    .tz = x->tz,
	    .lang = x->lang,
	    .gate = x->gate,
	    .destination_more = {x->destination_more[0],
	                         x->destination_more[1]},
	};
	int64_t now = clock_real_ms();
	struct queue_enqueue_limits lim = {
	    .coalesce_seconds = c->cfg->policy.coalesce_seconds,
	    .per_callee_per_hour = c->cfg->policy.calls_per_callee_per_hour,
	    .per_sender_per_hour = c->cfg->policy.calls_per_sender_per_hour,
	};

	/* Quiet hours, then the wait from their end, then the coalescing
	 * window (the queue's): a message that joins an open job keeps that
	 * job's times. */
	int64_t base = x->defer_until_ms > now ? x->defer_until_ms : now;

	m.not_before_ms = base > now ? base : 0;
	if (x->wait_minutes > 0) {
		x->seen_until_ms = base + (int64_t)x->wait_minutes * 60000;
		m.not_before_ms = x->seen_until_ms;
		m.seen_until_ms = x->seen_until_ms;
	}
	store_submit(c->store, &m, &lim, stored, x);
}

/*
 * Look-ups (roster, vCard) answer in any order, but a burst must be read
 * in the order it was written: messages go to the store in arrival order,
 * each waiting for those before it (a vCard wait is bounded: 1.5 s).
 */
static void drain(struct comp *c)
{
	struct catch_ctx *h;

	while ((h = g_queue_peek_head(c->catcher->order)) && h->ready) {
		g_queue_pop_head(c->catcher->order);
		h->ordered = false;
		store_now(h);
	}
}

static void submit(struct catch_ctx *x)
{
	x->ready = true;
	if (x->ordered)
		drain(x->c);
	else
		store_now(x);
}

/*
 * Copies R's further numbers that are verified and still within the policy
 * into X, in order: an unverified one is skipped (its code call may still
 * be pending), so the job holds only numbers ringbridge may call.
 */
static void catch_more_numbers(struct comp *c, struct catch_ctx *x,
                               const struct queue_registration *r)
{
	const char *why = NULL;
	size_t n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(r->phone_more); i++) {
		if (!r->phone_more[i] || !r->verified_more[i])
			continue;
		if (policy_destination_check(c->cfg, r->phone_more[i], &why)) {
			log_info(TAG, "%s: number %zu skipped: %s", r->jid,
			         i + 2, why ? why : "outside the policy");
			continue;
		}
		x->destination_more[n++] = g_strdup(r->phone_more[i]);
	}
}

/*
 * Quiet hours, which come first (then the wait, then coalescing): outside
 * them, or for a sender R lets ring through, nothing changes; otherwise
 * the call is deferred to their end in R's zone (X->defer_until_ms), or
 * not made at all when R says never (true).
 */
static bool quiet_hours_drop(struct catch_ctx *x,
                             const struct queue_registration *r)
{
	time_t now = (time_t)(clock_real_ms() / 1000);
	struct tm tm;
	int left;

	if (r->quiet_start < 0 || tz_local_time(r->tz, now, &tm) != 0)
		return false;
	left = policy_quiet_minutes_left(r->quiet_start, r->quiet_end,
	                                 tm.tm_hour * 60 + tm.tm_min);
	if (!left || policy_sender_listed(r->ring_through, x->sender))
		return false;
	if (r->quiet_mode == QUEUE_QUIET_DROP)
		return true;
	/* The minute the window ends, in the zone's own clock (a DST change
	 * inside the window moves the call by that hour). */
	x->defer_until_ms =
	    ((int64_t)now - tm.tm_sec + (int64_t)left * 60) * 1000;
	return false;
}

static enum catch_verdict check_registration(struct comp *c,
                                             struct catch_ctx *x,
                                             const struct catch_request *req)
{
	struct queue_registration r = {0};
	enum catch_verdict v = CATCH_QUEUED;
	const char *why;
	int err = queue_registration_get(c->q, req->callee, &r);

	/* The queue unreachable (PostgreSQL restarting) is not "not
	 * registered": the push is answered with a "wait" error and the
	 * server sends it again, instead of it being acknowledged and lost. */
	if (err == -ENOENT)
		return CATCH_NOT_REGISTERED;
	if (err)
		return CATCH_ERROR;
	if (!r.verified)
		v = CATCH_NOT_VERIFIED;
	else if (!comp_presence_unreachable(c, req->callee, r.call_when))
		v = CATCH_ONLINE;
	else if (quiet_hours_drop(x, &r))
		v = CATCH_QUIET_HOURS;
	else if (policy_destination_check(c->cfg, r.phone, &why) != 0)
		v = CATCH_POLICY;
	if (v == CATCH_QUEUED) {
		x->destination = g_strdup(r.phone);
		catch_more_numbers(c, x, &r);
		x->tz = r.tz ? g_strdup(r.tz) : NULL;
		x->lang = r.lang ? g_strdup(r.lang) : NULL;
		x->roster_only = r.roster_only;
		x->gate = r.gate;
		x->wait_minutes = r.wait_minutes;
		x->call_when = r.call_when;
	}
	queue_registration_clear(&r);
	return v;
}

/* Display names learnt from vCards, so only a sender's first message
 * waits for one: NAME is "" when the sender has none. */
struct name_entry {
	int64_t expires_ms;
	char name[];
};

#define NAMES_MAX        10000
#define NAME_TTL_MS      (3600 * 1000)
#define NAME_MISS_TTL_MS (600 * 1000)
#define VCARD_TIMEOUT_MS 1500

static void name_remember(struct comp *c, const char *sender, const char *name,
                          int64_t ttl_ms)
{
	size_t len = strlen(name);
	struct name_entry *e = g_malloc(sizeof(*e) + len + 1);

	if (g_hash_table_size(c->catcher->names) >= NAMES_MAX)
		g_hash_table_remove_all(c->catcher->names);
	e->expires_ms = clock_mono_ms() + ttl_ms;
	memcpy(e->name, name, len + 1);
	g_hash_table_replace(c->catcher->names, g_strdup(sender), e);
}

const char *comp_name_cached(struct comp *c, const char *jid)
{
	struct name_entry *e = g_hash_table_lookup(c->catcher->names, jid);

	return e && *e->name ? e->name : NULL;
}

static void set_name(struct catch_ctx *x, const char *name)
{
	g_free(x->sender_name);
	x->sender_name = shorten(name, NAME_CHARS_MAX);
}

static void vcard_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct catch_ctx *x = arg;
	xmpp_stanza_t *v = NULL;
	char *name = NULL;

	if (reply && !strcmp(xmpp_stanza_get_type(reply), "result"))
		v = xmpp_stanza_get_child_by_name_and_ns(reply, "vCard",
		                                         "vcard-temp");
	if (v) {
		name = comp_child_text(v, "FN");
		if (!name || !*name) {
			g_free(name);
			name = comp_child_text(v, "NICKNAME");
		}
	}
	if (reply) /* a timeout says nothing about the sender */
		name_remember(c, x->sender, name ? name : "",
		              name && *name ? NAME_TTL_MS : NAME_MISS_TTL_MS);
	if (name && *name)
		set_name(x, name);
	g_free(name);
	submit(x);
}

/* The sender's own vCard name (cached), else the local part. */
static void resolve_name(struct catch_ctx *x)
{
	struct comp *c = x->c;
	struct name_entry *e =
	    g_hash_table_lookup(c->catcher->names, x->sender);
	xmpp_stanza_t *iq;

	if (e && e->expires_ms > clock_mono_ms()) {
		if (*e->name)
			set_name(x, e->name);
		submit(x);
		return;
	}
	iq = xmpp_iq_new(c->ctx, "get", NULL);
	xmpp_stanza_set_to(iq, x->sender);
	xmpp_stanza_add_child_ex(iq, comp_elem(c, "vCard", "vcard-temp"), 0);
	if (comp_send_iq(c, iq, vcard_reply, x, VCARD_TIMEOUT_MS) != 0)
		submit(x);
	xmpp_stanza_release(iq);
}

/* The callee's roster: his own name for the sender, and the contacts-only
 * option. */
static void roster_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct catch_ctx *x = arg;
	xmpp_stanza_t *q = NULL;
	bool found = false;

	(void)c;
	if (reply && !strcmp(xmpp_stanza_get_type(reply), "result"))
		q = xmpp_stanza_get_child_by_name_and_ns(reply, "query",
		                                         "jabber:iq:roster");
	if (!q && x->roster_only) {
		log_warn(TAG, "cannot read the roster of %s; not phoning",
		         x->callee);
		finish(x, CATCH_NOT_IN_ROSTER, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL; it;
	     it = xmpp_stanza_get_next(it)) {
		const char *jid = xmpp_stanza_get_attribute(it, "jid");
		const char *name = xmpp_stanza_get_attribute(it, "name");

		if (!jid || g_ascii_strcasecmp(jid, x->sender) != 0)
			continue;
		found = true;
		if (name && *name) {
			set_name(x, name);
			submit(x);
			return;
		}
		break;
	}
	if (!found && x->roster_only) {
		finish(x, CATCH_NOT_IN_ROSTER, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	resolve_name(x);
}

void comp_catch(struct comp *c, const struct catch_request *req,
                catch_done_cb done, void *arg)
{
	struct catch_ctx *x = g_new0(struct catch_ctx, 1);
	enum catch_verdict v = CATCH_QUEUED;
	struct comp_privileges *p;

	x->c = c;
	x->done = done;
	x->arg = arg;
	x->gate = QUEUE_GATE_DEFAULT;
	x->callee = g_strdup(req->callee);
	x->sender = comp_jid_bare(req->sender);
	x->reply_from = g_strdup(req->reply_from);
	x->idem_key = g_strdup(req->idem_key);
	x->encrypted = req->encrypted;
	if (!x->sender) {
		x->sender = g_strdup("?");
		finish(x, CATCH_SENDER_REFUSED, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	x->sender_name = default_name(x->sender);
	if (!req->body || !*req->body) {
		finish(x, CATCH_EMPTY, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	/* An encrypted message's body is only a fallback text: the bridge
	 * says "sent you an encrypted message" instead of reading it. */
	x->body = shorten(req->body, c->cfg->policy.max_body_chars);
	if (!req->notice_from && !policy_sender_allowed(c->cfg, x->sender)) {
		finish(x, CATCH_SENDER_REFUSED, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	if (req->destination) {
		x->destination = g_strdup(req->destination);
	} else {
		v = check_registration(c, x, req);
		if (v != CATCH_QUEUED) {
			finish(x, v, QUEUE_ENQ_NEW_JOB,
			       v == CATCH_ERROR ? -EIO : 0);
			return;
		}
	}
	g_queue_push_tail(c->catcher->order, x);
	x->ordered = true;
	if (req->notice_from) {
		set_name(x, req->notice_from);
		submit(x);
		return;
	}
	p = req->destination ? NULL : comp_privileges_for(c, x->callee);
	if (p && p->grants.roster_get) {
		xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", NULL);
		int err;

		xmpp_stanza_set_to(iq, x->callee);
		xmpp_stanza_add_child_ex(
		    iq, comp_elem(c, "query", "jabber:iq:roster"), 0);
		err = comp_send_iq(c, iq, roster_reply, x, 5000);
		xmpp_stanza_release(iq);
		if (err)
			roster_reply(c, NULL, x);
		return;
	}
	if (x->roster_only) {
		log_warn(TAG,
		         "%s wants calls only from contacts, but the roster "
		         "cannot be read (no roster privilege)",
		         x->callee);
		finish(x, CATCH_NOT_IN_ROSTER, QUEUE_ENQ_NEW_JOB, 0);
		return;
	}
	resolve_name(x);
}
