/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The public face of the queue: checks every argument against queue.h's
 * rules and limits, picks the engine from the URL's scheme, hands each call
 * to the rules of its table (jobs.c, events.c, ...), and sends wake-ups once
 * a write is committed (at once for a lone call, at queue_batch_commit() for
 * a batch). The rules never see an argument that is NULL where it must not
 * be, or longer than its limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "queue.h"
#include "queue_internal.h"

#define TAG "queue"

static const struct engine_ops *const engines[] = {
    &engine_sqlite,
    &engine_pg,
};

/* True when S is non-NULL, non-empty and at most MAX bytes long. */
static bool str_ok(const char *s, size_t max)
{
	return s && *s && strnlen(s, max + 1) <= max;
}

/* True when S is NULL or at most MAX bytes long. */
static bool opt_ok(const char *s, size_t max)
{
	return !s || strnlen(s, max + 1) <= max;
}

/* True when S is a message sequence number: decimal digits, below 2^31. */
static bool seq_ok(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strspn(s, "0123456789");
	return n > 0 && n <= 9 && !s[n];
}

/* Sends the wake-ups a finished call or batch owes; best effort. */
static void flush_changed(struct queue *q)
{
	unsigned ch = q->changed;

	if (q->in_batch || !ch)
		return;
	q->changed = 0;
	q->ops->notify(q->engine, ch);
}

/* ---- open, close, clock ------------------------------------------------ */

int queue_open(struct queue **qp, const char *url)
{
	const struct engine_ops *ops = NULL;
	const char *location = NULL;
	struct queue *q;
	size_t i;
	int err;

	if (!qp || !url)
		return -EINVAL;
	*qp = NULL;

	/* libpq takes both spellings; the engine's scheme is the long one. */
	if (!strncmp(url, "postgres://", 11)) {
		ops = &engine_pg;
		location = url + 11;
	}
	for (i = 0; !ops && i < sizeof(engines) / sizeof(engines[0]); i++) {
		size_t n = strlen(engines[i]->scheme);

		if (!strncmp(url, engines[i]->scheme, n)) {
			ops = engines[i];
			location = url + n;
			break;
		}
	}
	if (ops && !*location) {
		log_err(TAG, "[queue] url: %s needs a %s after it", ops->scheme,
		        ops == &engine_sqlite ? "file name" : "host");
		return -EINVAL;
	}
	if (!ops) {
		/* Name only the scheme: the rest may hold a password. */
		log_err(TAG,
		        "[queue] url: scheme \"%.*s\" is not supported; use "
		        "sqlite:PATH or postgresql://...",
		        (int)strcspn(url, ":/"), url);
		return -EINVAL;
	}

	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->ops = ops;
	err = ops->connect(&q->engine, location);
	if (err) {
		free(q);
		return err;
	}
	*qp = q;
	return 0;
}

void queue_close(struct queue *q)
{
	if (!q)
		return;
	if (q->in_batch)
		queue_batch_rollback(q);
	q->ops->close(q->engine);
	free(q);
}

void queue_clock_set(struct queue *q, int64_t (*now_ms)(void *), void *arg)
{
	q->now_ms = now_ms;
	q->now_arg = arg;
}

int64_t queue_now_ms(struct queue *q)
{
	if (q && q->now_ms)
		return q->now_ms(q->now_arg);
	if (q)
		return q->ops->now_ms(q->engine);
	return clock_real_ms();
}

int queue_schema_version(struct queue *q, int *version)
{
	if (!q || !version)
		return -EINVAL;
	return q->ops->schema_version(q->engine, version);
}

int queue_statements_check(struct queue *q, int *count)
{
	int id, err = 0;

	if (!q || !count)
		return -EINVAL;
	*count = 0;
	for (id = 0; id < ES_COUNT && !err; id++) {
		err = q->ops->prepare(q->engine, (enum engine_statement_id)id);
		if (!err)
			(*count)++;
	}
	return err;
}

/* ---- batches ------------------------------------------------------------ */

/* A batch; BARE: its calls run without a savepoint each (queue.h). */
static int batch_begin(struct queue *q, bool bare)
{
	int err;

	if (!q)
		return -EINVAL;
	if (q->in_batch)
		return -EBUSY;
	err = q->ops->begin(q->engine);
	if (!err) {
		q->in_batch = true;
		q->batch_bare = bare;
		q->batch_err = 0;
	}
	return err;
}

int queue_batch_begin(struct queue *q)
{
	return batch_begin(q, false);
}

int queue_batch_begin_replayable(struct queue *q)
{
	return batch_begin(q, q && !q->ops->savepoint_cheap);
}

int queue_batch_commit(struct queue *q)
{
	int err;

	if (!q || !q->in_batch)
		return -EINVAL;
	if (q->batch_err) {
		/* A call failed with no savepoint to undo it alone. */
		queue_batch_rollback(q);
		return -ERESTART;
	}
	err = q->ops->commit(q->engine);
	q->in_batch = false;
	if (err)
		q->changed = 0;
	else
		flush_changed(q);
	return err;
}

void queue_batch_rollback(struct queue *q)
{
	if (!q || !q->in_batch)
		return;
	q->ops->rollback(q->engine);
	q->in_batch = false;
	q->changed = 0;
}

/* ---- registrations ------------------------------------------------------ */

static bool gate_ok(int gate)
{
	return gate == QUEUE_GATE_DEFAULT || gate == QUEUE_GATE_OFF ||
	       gate == QUEUE_GATE_ON;
}

int queue_registration_put(struct queue *q, const struct queue_registration *r)
{
	int err;

	if (!q || !r || !str_ok(r->jid, QUEUE_JID_MAX) ||
	    !str_ok(r->phone, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->verify_code, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->tz, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->lang, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->sip_presence, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->push_node, QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->phone_more[0], QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->phone_more[1], QUEUE_TOKEN_MAX) ||
	    !opt_ok(r->ring_through, QUEUE_DETAIL_MAX))
		return -EINVAL;
	if (r->wait_minutes < 0 || r->wait_minutes > QUEUE_WAIT_MINUTES_MAX ||
	    (r->quiet_mode != QUEUE_QUIET_DEFER &&
	     r->quiet_mode != QUEUE_QUIET_DROP))
		return -EINVAL;
	if (r->quiet_start < -1 || r->quiet_start >= 1440 ||
	    r->quiet_end < -1 || r->quiet_end >= 1440 || !gate_ok(r->gate))
		return -EINVAL;
	err = registrations_put(q, r);
	flush_changed(q);
	return err;
}

int queue_registration_get(struct queue *q, const char *jid,
                           struct queue_registration *out)
{
	if (!q || !out || !str_ok(jid, QUEUE_JID_MAX))
		return -EINVAL;
	/* Not found leaves a struct a caller may fill as a new registration:
	 * its gate follows the operator's default, never "off" by zeroing. */
	memset(out, 0, sizeof(*out));
	out->gate = QUEUE_GATE_DEFAULT;
	return registrations_get(q, jid, false, out);
}

int queue_registration_get_by_node(struct queue *q, const char *push_node,
                                   struct queue_registration *out)
{
	if (!q || !out || !str_ok(push_node, QUEUE_TOKEN_MAX))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->gate = QUEUE_GATE_DEFAULT;
	return registrations_get(q, push_node, true, out);
}

int queue_registration_delete(struct queue *q, const char *jid)
{
	int err;

	if (!q || !str_ok(jid, QUEUE_JID_MAX))
		return -EINVAL;
	err = registrations_delete(q, jid);
	flush_changed(q);
	return err;
}

int queue_registration_foreach(struct queue *q,
                               int (*cb)(const struct queue_registration *r,
                                         void *arg),
                               void *arg)
{
	if (!q || !cb)
		return -EINVAL;
	return registrations_foreach(q, cb, arg);
}

/* ---- names -------------------------------------------------------------- */

const char *queue_job_state_name(enum queue_job_state s)
{
	switch (s) {
	case QUEUE_JOB_QUEUED:
		return "queued";
	case QUEUE_JOB_ACTIVE:
		return "active";
	case QUEUE_JOB_NOTIFIED:
		return "notified";
	case QUEUE_JOB_FAILED:
		return "failed";
	case QUEUE_JOB_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

const char *queue_job_kind_name(enum queue_job_kind k)
{
	switch (k) {
	case QUEUE_JOB_MESSAGE:
		return "message";
	case QUEUE_JOB_VERIFY:
		return "verify";
	}
	return "unknown";
}

const char *queue_enqueue_result_name(enum queue_enqueue_result r)
{
	switch (r) {
	case QUEUE_ENQ_NEW_JOB:
		return "new job";
	case QUEUE_ENQ_JOINED:
		return "joined";
	case QUEUE_ENQ_DUPLICATE:
		return "duplicate";
	case QUEUE_ENQ_LIMIT_CALLEE:
		return "callee limit";
	case QUEUE_ENQ_LIMIT_SENDER:
		return "sender limit";
	case QUEUE_ENQ_PAUSED:
		return "paused by the callee";
	}
	return "unknown";
}

const char *queue_event_type_name(enum queue_event_type t)
{
	switch (t) {
	case QUEUE_EV_CALLING:
		return "calling";
	case QUEUE_EV_ANSWERED:
		return "answered";
	case QUEUE_EV_HEARD:
		return "heard";
	case QUEUE_EV_KEY:
		return "key";
	case QUEUE_EV_VOICE:
		return "voice";
	case QUEUE_EV_FAILED:
		return "failed";
	case QUEUE_EV_ENDED:
		return "ended";
	case QUEUE_EV_VERIFY_SPOKEN:
		return "verify spoken";
	case QUEUE_EV_UNHEARD:
		return "answered, not heard";
	}
	return "unknown";
}

/* ---- jobs --------------------------------------------------------------- */

int queue_message_enqueue(struct queue *q, const struct queue_message_in *m,
                          const struct queue_enqueue_limits *lim,
                          int64_t *job_id, enum queue_enqueue_result *res)
{
	static const struct queue_enqueue_limits none;
	int64_t id = 0;
	enum queue_enqueue_result r = QUEUE_ENQ_NEW_JOB;
	int err;

	if (!q || !m || !str_ok(m->callee_jid, QUEUE_JID_MAX) ||
	    !str_ok(m->sender_jid, QUEUE_JID_MAX) ||
	    !opt_ok(m->sender_name, QUEUE_DETAIL_MAX) ||
	    !opt_ok(m->reply_from, QUEUE_JID_MAX) || !m->body ||
	    !opt_ok(m->body, QUEUE_BODY_MAX) ||
	    !str_ok(m->idem_key, QUEUE_DETAIL_MAX) ||
	    !str_ok(m->destination, QUEUE_TOKEN_MAX) ||
	    !opt_ok(m->tz, QUEUE_TOKEN_MAX) ||
	    !opt_ok(m->lang, QUEUE_TOKEN_MAX) || !gate_ok(m->gate) ||
	    !opt_ok(m->destination_more[0], QUEUE_TOKEN_MAX) ||
	    !opt_ok(m->destination_more[1], QUEUE_TOKEN_MAX) ||
	    m->not_before_ms < 0 || m->seen_until_ms < 0)
		return -EINVAL;
	if (lim && (lim->coalesce_seconds < 0 || lim->per_callee_per_hour < 0 ||
	            lim->per_sender_per_hour < 0))
		return -EINVAL;
	err = jobs_message_enqueue(q, m, lim ? lim : &none, &id, &r);
	flush_changed(q);
	if (err)
		return err;
	if (job_id)
		*job_id = id;
	if (res)
		*res = r;
	return 0;
}

int queue_verify_enqueue(struct queue *q, const char *jid, const char *dest,
                         const char *code, const char *lang, int64_t *job_id)
{
	int64_t id = 0;
	int err;

	if (!q || !str_ok(jid, QUEUE_JID_MAX) ||
	    !str_ok(dest, QUEUE_TOKEN_MAX) || !str_ok(code, QUEUE_TOKEN_MAX) ||
	    !opt_ok(lang, QUEUE_TOKEN_MAX))
		return -EINVAL;
	err = jobs_verify_enqueue(q, jid, dest, code, lang, &id);
	flush_changed(q);
	if (!err && job_id)
		*job_id = id;
	return err;
}

static int cancel_for(struct queue *q, const char *callee_jid, bool seen,
                      int *n)
{
	int count = 0, err;

	if (!q || !str_ok(callee_jid, QUEUE_JID_MAX))
		return -EINVAL;
	err = jobs_cancel_for(q, callee_jid, seen, &count);
	flush_changed(q);
	if (!err && n)
		*n = count;
	return err;
}

int queue_job_cancel_for(struct queue *q, const char *callee_jid, int *n)
{
	return cancel_for(q, callee_jid, false, n);
}

int queue_job_cancel_seen(struct queue *q, const char *callee_jid, int *n)
{
	return cancel_for(q, callee_jid, true, n);
}

int queue_job_claim(struct queue *q, const char *owner, int lease_ms,
                    struct queue_job **jobp, int64_t *next_due_ms)
{
	int64_t due = 0;
	int err;

	if (jobp)
		*jobp = NULL;
	if (!q || !jobp || !str_ok(owner, QUEUE_TOKEN_MAX) || lease_ms <= 0)
		return -EINVAL;
	err = jobs_claim(q, owner, lease_ms, jobp, &due);
	flush_changed(q);
	if (next_due_ms)
		*next_due_ms = err == -EAGAIN ? due : 0;
	return err;
}

int queue_job_get(struct queue *q, int64_t id, struct queue_job **jobp)
{
	if (jobp)
		*jobp = NULL;
	if (!q || !jobp)
		return -EINVAL;
	return jobs_get(q, id, jobp);
}

int queue_job_refresh_messages(struct queue *q, struct queue_job *job,
                               int after_seq)
{
	if (!q || !job || after_seq < 0)
		return -EINVAL;
	return jobs_refresh_messages(q, job, after_seq);
}

int queue_job_lease_renew(struct queue *q, int64_t id, const char *owner,
                          int lease_ms)
{
	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX) || lease_ms <= 0)
		return -EINVAL;
	return jobs_lease_renew(q, id, owner, lease_ms);
}

int queue_job_leases_renew(struct queue *q, const char *owner, int lease_ms,
                           int *n)
{
	int k = 0, err;

	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX) || lease_ms <= 0)
		return -EINVAL;
	err = jobs_leases_renew(q, owner, lease_ms, &k);
	if (n)
		*n = err ? 0 : k;
	return err;
}

int queue_job_leases_held(struct queue *q, const char *owner, int64_t **ids,
                          size_t *n)
{
	if (ids)
		*ids = NULL;
	if (n)
		*n = 0;
	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX) || !ids || !n)
		return -EINVAL;
	return jobs_leases_held(q, owner, ids, n);
}

int queue_job_retry(struct queue *q, int64_t id, const char *owner,
                    int64_t next_attempt_ms, const char *reason)
{
	int err;

	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX) ||
	    !opt_ok(reason, QUEUE_DETAIL_MAX))
		return -EINVAL;
	err = jobs_retry(q, id, owner, next_attempt_ms, reason);
	flush_changed(q);
	return err;
}

int queue_job_finish(struct queue *q, int64_t id, const char *owner,
                     enum queue_job_state state, const char *reason)
{
	int err;

	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX) ||
	    !opt_ok(reason, QUEUE_DETAIL_MAX))
		return -EINVAL;
	if (state != QUEUE_JOB_NOTIFIED && state != QUEUE_JOB_FAILED &&
	    state != QUEUE_JOB_CANCELLED)
		return -EINVAL;
	err = jobs_finish(q, id, owner, state, reason);
	flush_changed(q);
	return err;
}

int queue_job_foreach(struct queue *q, const struct queue_job_filter *f,
                      int (*cb)(const struct queue_job *job, void *arg),
                      void *arg)
{
	static const struct queue_job_filter all;

	if (!q || !cb)
		return -EINVAL;
	if (!f)
		f = &all;
	if (!opt_ok(f->callee_jid, QUEUE_JID_MAX) || f->limit < 0)
		return -EINVAL;
	return jobs_foreach(q, f, cb, arg);
}

/* ---- events ------------------------------------------------------------- */

int queue_event_add(struct queue *q, int64_t job_id, enum queue_event_type type,
                    const char *detail, const void *blob, size_t blob_len,
                    int64_t *event_id)
{
	return queue_event_add_held(q, job_id, NULL, type, detail, blob,
	                            blob_len, event_id);
}

int queue_event_add_held(struct queue *q, int64_t job_id, const char *owner,
                         enum queue_event_type type, const char *detail,
                         const void *blob, size_t blob_len, int64_t *event_id)
{
	int64_t id = 0;
	int err;

	if (!q || type < QUEUE_EV_CALLING || type > QUEUE_EV_UNHEARD ||
	    !opt_ok(detail, QUEUE_DETAIL_MAX) || blob_len > QUEUE_BLOB_MAX ||
	    (blob_len && !blob) || !opt_ok(owner, QUEUE_TOKEN_MAX))
		return -EINVAL;
	/* A HEARD event names the last message heard: "0", "1", "2"... */
	if (type == QUEUE_EV_HEARD && !seq_ok(detail))
		return -EINVAL;
	err = events_add(q, job_id, owner, type, detail, blob, blob_len, &id);
	flush_changed(q);
	if (!err && event_id)
		*event_id = id;
	return err;
}

int queue_event_fetch_undelivered(struct queue *q, int limit,
                                  struct queue_event **evs, size_t *n)
{
	if (evs)
		*evs = NULL;
	if (n)
		*n = 0;
	if (!q || !evs || !n || limit <= 0)
		return -EINVAL;
	return events_fetch_undelivered(q, limit, evs, n);
}

int queue_event_fetch_for_job(struct queue *q, int64_t job_id,
                              struct queue_event **evs, size_t *n)
{
	if (evs)
		*evs = NULL;
	if (n)
		*n = 0;
	if (!q || !evs || !n || job_id <= 0)
		return -EINVAL;
	return events_fetch_for_job(q, job_id, evs, n);
}

int queue_event_mark_delivered(struct queue *q, const int64_t *ids, size_t n)
{
	if (!q || (n && !ids))
		return -EINVAL;
	if (!n)
		return 0;
	return events_mark_delivered(q, ids, n);
}

/* ---- presence and leases ------------------------------------------------ */

int queue_presence_set(struct queue *q, const char *jid, const char *source,
                       const char *state, const char *status)
{
	int err;

	if (!q || !str_ok(jid, QUEUE_JID_MAX) ||
	    !str_ok(source, QUEUE_TOKEN_MAX) ||
	    !str_ok(state, QUEUE_TOKEN_MAX) ||
	    !opt_ok(status, QUEUE_DETAIL_MAX))
		return -EINVAL;
	err = presence_row_set(q, jid, source, state, status);
	flush_changed(q);
	return err;
}

int queue_presence_get(struct queue *q, const char *jid, const char *source,
                       char **state, char **status, int64_t *updated_ms)
{
	if (state)
		*state = NULL;
	if (status)
		*status = NULL;
	if (!q || !str_ok(jid, QUEUE_JID_MAX) ||
	    !str_ok(source, QUEUE_TOKEN_MAX))
		return -EINVAL;
	return presence_row_get(q, jid, source, state, status, updated_ms);
}

int queue_presence_foreach(struct queue *q, const char *source,
                           int64_t since_ms,
                           int (*cb)(const struct queue_presence *p, void *arg),
                           void *arg)
{
	if (!q || !cb || !str_ok(source, QUEUE_TOKEN_MAX))
		return -EINVAL;
	return presence_row_foreach(q, source, since_ms, cb, arg);
}

int queue_gwsub_add(struct queue *q, const char *contact,
                    const char *subscriber, const char *user_jid)
{
	if (!q || !str_ok(contact, QUEUE_JID_MAX) ||
	    !str_ok(subscriber, QUEUE_JID_MAX) ||
	    !str_ok(user_jid, QUEUE_JID_MAX))
		return -EINVAL;
	return gateway_subscription_add(q, contact, subscriber, user_jid);
}

int queue_gwsub_remove(struct queue *q, const char *contact,
                       const char *subscriber)
{
	if (!q || !str_ok(contact, QUEUE_JID_MAX) ||
	    !str_ok(subscriber, QUEUE_JID_MAX))
		return -EINVAL;
	return gateway_subscription_remove(q, contact, subscriber);
}

int queue_gwsub_exists(struct queue *q, const char *contact,
                       const char *subscriber)
{
	if (!q || !str_ok(contact, QUEUE_JID_MAX) ||
	    !str_ok(subscriber, QUEUE_JID_MAX))
		return -EINVAL;
	return gateway_subscription_exists(q, contact, subscriber);
}

int queue_gwsub_count(struct queue *q, const char *contact, int *count)
{
	if (!q || !count || !str_ok(contact, QUEUE_JID_MAX))
		return -EINVAL;
	return gateway_subscription_count(q, contact, count);
}

int queue_gwsub_foreach(struct queue *q, const char *user_jid,
                        int (*cb)(const char *contact, const char *subscriber,
                                  const char *user_jid, void *arg),
                        void *arg)
{
	if (!q || !cb || !opt_ok(user_jid, QUEUE_JID_MAX))
		return -EINVAL;
	return gateway_subscription_foreach(q, user_jid, cb, arg);
}

int queue_presence_users_foreach(struct queue *q,
                                 int (*cb)(const char *jid,
                                           const char *sip_address, void *arg),
                                 void *arg)
{
	if (!q || !cb)
		return -EINVAL;
	return registrations_presence_users(q, cb, arg);
}

int queue_lease_acquire(struct queue *q, const char *name, const char *owner,
                        int lease_ms)
{
	if (!q || !str_ok(name, QUEUE_TOKEN_MAX) ||
	    !str_ok(owner, QUEUE_TOKEN_MAX) || lease_ms <= 0)
		return -EINVAL;
	return leases_acquire(q, name, owner, lease_ms);
}

int queue_lease_release(struct queue *q, const char *name, const char *owner)
{
	if (!q || !str_ok(name, QUEUE_TOKEN_MAX) ||
	    !str_ok(owner, QUEUE_TOKEN_MAX))
		return -EINVAL;
	return leases_release(q, name, owner);
}

int queue_component_status_put(struct queue *q,
                               const struct queue_component_status *s)
{
	if (!q || !s || !str_ok(s->component, QUEUE_JID_MAX) ||
	    !str_ok(s->owner, QUEUE_TOKEN_MAX) || s->connected_ms < 0 ||
	    !opt_ok(s->privileges, QUEUE_DETAIL_MAX))
		return -EINVAL;
	return component_status_put(q, s);
}

int queue_component_status_get(struct queue *q, const char *component,
                               struct queue_component_status *out)
{
	if (!q || !out || !str_ok(component, QUEUE_JID_MAX))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	return component_status_get(q, component, out);
}

int queue_bridge_status_put(struct queue *q,
                            const struct queue_bridge_status *s)
{
	if (!q || !s || !str_ok(s->owner, QUEUE_TOKEN_MAX) ||
	    !str_ok(s->host, QUEUE_TOKEN_MAX) || s->pid <= 0 ||
	    s->started_ms < 0 || s->calls < 0)
		return -EINVAL;
	return bridge_status_put(q, s);
}

int queue_bridge_status_remove(struct queue *q, const char *owner)
{
	if (!q || !str_ok(owner, QUEUE_TOKEN_MAX))
		return -EINVAL;
	return bridge_status_remove(q, owner);
}

int queue_bridge_status_foreach(struct queue *q, int64_t since_ms,
                                int (*cb)(const struct queue_bridge_status *s,
                                          void *arg),
                                void *arg)
{
	if (!q || !cb)
		return -EINVAL;
	return bridge_status_foreach(q, since_ms, cb, arg);
}

int queue_jobs_created_since(struct queue *q, const char *callee_jid,
                             const char *sender_jid, int64_t since_ms,
                             int *count)
{
	if (!q || !count || !opt_ok(callee_jid, QUEUE_JID_MAX) ||
	    !opt_ok(sender_jid, QUEUE_JID_MAX) || (!callee_jid && !sender_jid))
		return -EINVAL;
	return jobs_created_since(q, callee_jid, sender_jid, since_ms, count);
}

int queue_jobs_count_by_state(struct queue *q, int64_t counts[QUEUE_JOB_STATES])
{
	if (!q || !counts)
		return -EINVAL;
	memset(counts, 0, QUEUE_JOB_STATES * sizeof(counts[0]));
	return jobs_count_by_state(q, counts);
}

int queue_registration_search(struct queue *q, const char *needle, int limit,
                              int (*cb)(const struct queue_registration *r,
                                        void *arg),
                              void *arg)
{
	if (!q || !cb || !opt_ok(needle, QUEUE_TOKEN_MAX) || limit < 1 ||
	    limit > QUEUE_SEARCH_MAX)
		return -EINVAL;
	return registrations_search(q, needle, limit, cb, arg);
}

int queue_lease_get(struct queue *q, const char *name, char **owner,
                    int64_t *deadline_ms)
{
	if (!q || !owner || !deadline_ms || !str_ok(name, QUEUE_TOKEN_MAX))
		return -EINVAL;
	*owner = NULL;
	*deadline_ms = 0;
	return leases_get(q, name, owner, deadline_ms);
}

int queue_calls_per_hour(struct queue *q, int64_t first_hour, int64_t *counts,
                         size_t n)
{
	if (!q || !counts || !n || n > 24 * 31 || first_hour < 0)
		return -EINVAL;
	memset(counts, 0, n * sizeof(counts[0]));
	return events_calls_per_hour(q, first_hour, counts, n);
}

/* ---- wake-ups ----------------------------------------------------------- */

int queue_wake_listen(struct queue *q, unsigned mask, int *fd)
{
	const unsigned all = QUEUE_CH_JOBS | QUEUE_CH_EVENTS |
	                     QUEUE_CH_REGISTRATIONS | QUEUE_CH_PRESENCE;

	if (!q || !fd || !mask || (mask & ~all))
		return -EINVAL;
	return q->ops->wake_listen(q->engine, mask, fd);
}

int queue_wake_drain(struct queue *q, unsigned *channels)
{
	if (!q || !channels)
		return -EINVAL;
	return q->ops->wake_drain(q->engine, channels);
}

int queue_notify(struct queue *q, enum queue_channel channel)
{
	unsigned ch;

	if (!q || !channel)
		return -EINVAL;
	/* Inside a batch nothing is visible yet: tell them at commit. */
	queue_changed(q, channel);
	if (q->in_batch)
		return 0;
	ch = q->changed;
	q->changed = 0;
	return q->ops->notify(q->engine, ch);
}
