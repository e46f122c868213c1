/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Messages that reached a user while the component was disconnected, on a
 * server that keeps no push it could not deliver (stock Prosody bounces it
 * with "wait" and never sends it again) but archives every message
 * (XEP-0313) and lets the component read the archive's metadata through
 * an IQ privilege (urn:xmpp:mam:2 get). The messages themselves cannot be
 * read (Prosody's mod_privilege forwards a query on a session that cannot
 * return them), only the archive's newest id and timestamp: so after each
 * (re)connect, once presence has settled, each verified user's archive
 * end is compared with the one seen last time (the queue's archive marks),
 * and a user whose archive grew with something the component did not take
 * part in is phoned with a notice through the normal catch path. The
 * ends are read as soon as the session's privileges are known, before
 * pushes caught after the reconnect move them, and decided once presence
 * has settled. The
 * queue's idempotency key (the archive end id) and the mark written after
 * the notice is committed keep a reconnect from phoning twice.
 */
#include <errno.h>
#include <string.h>

#include "comp.h"
#include "log.h"
#include "store.h"

#define TAG "missed"

#define NS_MAM "urn:xmpp:mam:2"
/* What the phone can honestly say: that something is waiting, not what. */
#define NOTICE_FROM "your chat service"
#define NOTICE_BODY                                                            \
	"You received new messages while the phone service was "               \
	"unavailable. They are waiting in your chat app."
/* Longer than any stable id a server gives (Prosody: a uuid). */
#define END_ID_MAX 128
/* The mark of an empty archive: no server id has spaces. */
#define EMPTY_END "(empty archive)"

/* This module's state: the checks whose archive end was read while
 * presence was still settling, decided by comp_missed_settle(). */
struct comp_missed {
	GPtrArray *parked; /* struct missed_check * */
};

struct missed_check {
	char *jid;
	char *end_id;
	int64_t end_ms;
	/* what the queue showed done for the user when the end was read */
	int64_t accounted_ms;
};

static void check_free(struct missed_check *k)
{
	g_free(k->jid);
	g_free(k->end_id);
	g_free(k);
}

static bool end_id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > END_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isgraph(id[i]))
			return false;
	return true;
}

/* XEP-0082 date-time (Prosody: whole seconds, "Z") to ms; -1 if invalid. */
static int64_t stamp_ms(const char *s)
{
	GDateTime *t;
	int64_t ms;

	if (!s || strlen(s) > 64)
		return -1;
	t = g_date_time_new_from_iso8601(s, NULL);
	if (!t)
		return -1;
	ms = g_date_time_to_unix(t) * 1000 +
	     g_date_time_get_microsecond(t) / 1000;
	g_date_time_unref(t);
	return ms;
}

static int mark_run(struct queue *q, void *arg)
{
	const struct missed_check *k = arg;

	return queue_archive_mark_put(q, k->jid, k->end_id, k->end_ms);
}

static void mark_done(struct comp *c, int err, void *arg)
{
	struct missed_check *k = arg;

	(void)c;
	if (err)
		log_warn(TAG,
		         "cannot record the archive end of %s (%s): the next "
		         "reconnect looks again (the queue keeps the notice "
		         "from being phoned twice)",
		         k->jid, strerror(-err));
	check_free(k);
}

/* Records K's end as looked at, on the store's thread: after a notice
 * caught for it, since the store keeps their order. */
static void mark_store(struct comp *c, const struct missed_check *k)
{
	struct missed_check *copy = g_new0(struct missed_check, 1);

	copy->jid = g_strdup(k->jid);
	copy->end_id = g_strdup(k->end_id);
	copy->end_ms = k->end_ms;
	store_call(c->store, mark_run, copy, mark_done);
}

static void notice_done(struct comp *c, enum catch_verdict v,
                        enum queue_enqueue_result r, int err, void *arg)
{
	struct missed_check *k = arg;

	if (err) {
		/* The mark stays: the next reconnect tries again. */
		log_warn(TAG,
		         "the missed-messages notice for %s was not "
		         "queued (%s)",
		         k->jid, strerror(-err));
	} else {
		if (v == CATCH_QUEUED && r != QUEUE_ENQ_DUPLICATE)
			log_info(
			    TAG,
			    "%s received messages while the component was "
			    "disconnected (archive end %s): phoning a notice",
			    k->jid, k->end_id);
		mark_store(c, k);
	}
	check_free(k);
}

/*
 * Decides for one user whose archive end is K. Ignored as not missed:
 * an end never seen before (the first look only records it), an end
 * unchanged, and an end no newer, in the archive's whole seconds, than the
 * last thing the queue shows the component did for the user (a message it
 * caught, an outcome it sent as the user): Prosody's timestamps have no
 * fraction, so a message archived in the same second as one of those is
 * taken for it. Still counted as missed: the user's own messages sent from
 * a client that went offline during the outage (metadata cannot tell
 * directions apart); a user online now is not phoned anyway (catch.c).
 */
static void decide(struct comp *c, struct missed_check *k)
{
	struct queue_archive_mark m = {0};
	struct catch_request req = {0};
	char *key;
	int err;

	err = queue_archive_mark_get(c->q, k->jid, &m);
	if (err == -ENOENT) {
		mark_store(c, k);
		goto out;
	}
	if (err) {
		log_warn(TAG, "cannot read the archive mark of %s: %s", k->jid,
		         strerror(-err));
		goto out;
	}
	if (!strcmp(m.end_id, k->end_id) || k->end_ms <= m.end_ms) {
		/* Nothing new (or the archive expired messages): recorded
		 * as looked at. */
		mark_store(c, k);
		goto out;
	}
	if (k->end_ms / 1000 <= k->accounted_ms / 1000) {
		log_debug(TAG,
		          "archive of %s grew only with what was caught or "
		          "sent for it",
		          k->jid);
		mark_store(c, k);
		goto out;
	}
	key = g_strdup_printf("archive:%s:%s", k->jid, k->end_id);
	req.callee = k->jid;
	req.sender = c->domain;
	req.reply_from = k->jid;
	req.body = NOTICE_BODY;
	req.idem_key = key;
	req.notice_from = NOTICE_FROM;
	comp_catch(c, &req, notice_done, k);
	g_free(key);
	queue_archive_mark_clear(&m);
	return;
out:
	queue_archive_mark_clear(&m);
	check_free(k);
}

/* Decided now, or at settle when presence is still coming in (an online
 * user is not phoned, and only then is that known). */
static void decide_when_settled(struct comp *c, struct missed_check *k)
{
	int err;

	/* Read with the end, not at settle: pushes caught meanwhile are
	 * newer than the end and must not count. */
	err = queue_archive_accounted(c->q, k->jid, &k->accounted_ms);
	if (err) {
		log_warn(TAG, "cannot read what was caught for %s: %s", k->jid,
		         strerror(-err));
		check_free(k);
		return;
	}
	if (!comp_presence_settling(c)) {
		decide(c, k);
		return;
	}
	if (!c->missed) {
		c->missed = g_new0(struct comp_missed, 1);
		c->missed->parked = g_ptr_array_new();
	}
	g_ptr_array_add(c->missed->parked, k);
}

static void metadata_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct missed_check *k = arg;
	xmpp_stanza_t *md = NULL, *end = NULL;
	const char *type = reply ? xmpp_stanza_get_type(reply) : NULL;

	if (!reply && !c->connected) {
		/* The session ended first: the next one asks again. */
		check_free(k);
		return;
	}

	if (type && !strcmp(type, "result"))
		md = xmpp_stanza_get_child_by_name_and_ns(reply, "metadata",
		                                          NS_MAM);
	if (md)
		end = xmpp_stanza_get_child_by_name(md, "end");
	if (!md) {
		log_warn(
		    TAG,
		    "cannot read the archive metadata of %s (%s): messages "
		    "it received while the component was disconnected are "
		    "not phoned",
		    k->jid, reply ? "refused" : "no answer");
		check_free(k);
		return;
	}
	if (!end) {
		/* An empty archive, recorded so that its first message
		 * counts as new at the next look. */
		k->end_id = g_strdup(EMPTY_END);
		k->end_ms = 0;
		decide_when_settled(c, k);
		return;
	}
	k->end_id = g_strdup(xmpp_stanza_get_attribute(end, "id"));
	k->end_ms = stamp_ms(xmpp_stanza_get_attribute(end, "timestamp"));
	if (!end_id_ok(k->end_id) || k->end_ms < 0) {
		log_warn(TAG,
		         "archive metadata of %s: an end without a usable "
		         "id or timestamp; ignored",
		         k->jid);
		check_free(k);
		return;
	}
	log_debug(TAG, "archive end of %s: %s at %lld", k->jid, k->end_id,
	          (long long)k->end_ms);
	decide_when_settled(c, k);
}

static int ask_one(const struct queue_registration *r, void *arg)
{
	struct comp *c = arg;
	struct comp_privileges *p = comp_privileges_for(c, r->jid);
	struct missed_check *k;
	int err;

	if (!r->verified || !p || !p->advertised || !p->grants.iq_mam_get)
		return 0;
	k = g_new0(struct missed_check, 1);
	k->jid = g_strdup(r->jid);
	err = comp_privileged_iq(c, r->jid, "get",
	                         comp_elem(c, "metadata", NS_MAM),
	                         metadata_reply, k);
	if (err) {
		log_warn(TAG, "cannot ask for the archive metadata of %s: %s",
		         r->jid, strerror(-err));
		check_free(k);
	}
	return 0;
}

void comp_missed_settle(struct comp *c)
{
	struct comp_missed *m = c->missed;

	c->missed = NULL;
	if (!m)
		return;
	for (guint i = 0; i < m->parked->len; i++)
		decide(c, m->parked->pdata[i]);
	g_ptr_array_free(m->parked, TRUE);
	g_free(m);
}

void comp_missed_reset(struct comp *c)
{
	struct comp_missed *m = c->missed;

	c->missed = NULL;
	if (!m)
		return;
	for (guint i = 0; i < m->parked->len; i++)
		check_free(m->parked->pdata[i]);
	g_ptr_array_free(m->parked, TRUE);
	g_free(m);
}

void comp_missed_check(struct comp *c)
{
	int err;

	if (!c->connected)
		return;
	err = queue_registration_foreach(c->q, ask_one, c);
	if (err)
		log_warn(TAG,
		         "cannot read the registrations to look for messages "
		         "missed while disconnected: %s",
		         strerror(-err));
}
