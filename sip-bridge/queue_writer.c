/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's queue writer (see queue_writer.h), one user of the worker
 * primitive (common/worker.h): each submission is a worker item, the worker's
 * thread takes everything that waits as one batch and runs it in one
 * transaction on the writer's own handle, and the loop completes the items when
 * the worker's fd is readable. The loop keeps submitting while the disk syncs,
 * so the next batch holds whatever arrived meanwhile: one fsync for all.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue_writer.h"
#include "log.h"
#include "worker.h"

#define TAG "dbw"

struct dbw_item {
	struct worker_item link;
	enum dbw_op op;
	int64_t job_id;
	char *owner; /* claim, event, renew, retry, finish */
	char *text;  /* event detail, retry or finish reason */
	unsigned char *blob;
	size_t blob_len;
	enum queue_event_type type;
	enum queue_job_state state;
	int lease_ms;
	int after_seq;
	int count;
	int (*fn)(struct queue *q, void *arg);
	void *arg;
	int64_t next_attempt_ms;
	unsigned notify;
	dbw_done_cb done;
	uint64_t tag;
	/* results */
	int err;
	struct queue_job *job;
	int64_t *held; /* renew: the jobs still held afterwards */
	size_t n_held;
};

struct dbw {
	struct queue *q; /* the worker thread's own handle */
	void *ctx;
	struct worker *worker;
};

#define ITEM(wi) worker_container(wi, struct dbw_item, link)

static const char *op_name(enum dbw_op op)
{
	switch (op) {
	case DBW_CLAIM:
		return "claim";
	case DBW_EVENT:
		return "event";
	case DBW_RETRY:
		return "retry";
	case DBW_FINISH:
		return "finish";
	case DBW_REFRESH:
		return "message refresh";
	case DBW_CALL:
		return "presence";
	case DBW_RENEW_ALL:
		return "lease renewal";
	}
	return "?";
}

static void item_free(struct dbw_item *it)
{
	free(it->owner);
	free(it->text);
	free(it->blob);
	free(it->held);
	queue_job_free(it->job);
	free(it);
}

/* Drops what an earlier run of IT produced, before it runs again. */
static void item_reset(struct dbw_item *it)
{
	queue_job_free(it->job);
	it->job = NULL;
	it->err = 0;
	it->count = 0;
	free(it->held);
	it->held = NULL;
	it->n_held = 0;
}

static int item_run(struct queue *q, struct dbw_item *it)
{
	int err;

	switch (it->op) {
	case DBW_CLAIM:
		err =
		    queue_job_claim(q, it->owner, it->lease_ms, &it->job, NULL);
		if (!err)
			it->job_id = it->job->id;
		return err;
	case DBW_EVENT:
		err = queue_event_add_held(q, it->job_id, it->owner, it->type,
		                           it->text, it->blob, it->blob_len,
		                           NULL);
		break;
	case DBW_RETRY:
		err = queue_job_retry(q, it->job_id, it->owner,
		                      it->next_attempt_ms, it->text);
		break;
	case DBW_FINISH:
		err = queue_job_finish(q, it->job_id, it->owner, it->state,
		                       it->text);
		break;
	case DBW_REFRESH:
		it->job = calloc(1, sizeof(*it->job));
		if (!it->job)
			return -ENOMEM;
		it->job->id = it->job_id;
		return queue_job_refresh_messages(q, it->job, it->after_seq);
	case DBW_CALL:
		return it->fn(q, it->arg);
	case DBW_RENEW_ALL:
		err = queue_job_leases_renew(q, it->owner, it->lease_ms,
		                             &it->count);
		if (!err)
			err = queue_job_leases_held(q, it->owner, &it->held,
			                            &it->n_held);
		return err;
	default:
		return -EINVAL;
	}
	/* Inside a batch the wake-up waits for the commit (queue.h). */
	for (unsigned ch = 1; !err && it->notify >= ch; ch <<= 1)
		if (it->notify & ch)
			queue_notify(q, (enum queue_channel)ch);
	return err;
}

/*
 * Runs BATCH in one transaction, on the worker's thread. Should the commit
 * itself fail (the database stayed locked, say), or an item fail where
 * the batch has no savepoint per item (PostgreSQL), each item runs again
 * alone, so one bad moment costs a few more fsyncs rather than a call's
 * events.
 */
static void batch_run(void *arg, struct worker_item *first)
{
	struct dbw *w = arg;
	struct worker_item *wi;
	int err;

	if (!first->next) {
		ITEM(first)->err = item_run(w->q, ITEM(first));
		return;
	}
	err = queue_batch_begin_replayable(w->q);
	for (wi = first; wi && !err; wi = wi->next)
		ITEM(wi)->err = item_run(w->q, ITEM(wi));
	if (!err)
		err = queue_batch_commit(w->q);
	if (!err)
		return;
	queue_batch_rollback(w->q);
	/* -ERESTART: one item failed in a batch without savepoints
	 * (queue.h), which is no news for an operator. */
	if (err == -ERESTART)
		log_debug(TAG, "an item failed in a batch: writing its items "
		               "one by one");
	else
		log_warn(TAG,
		         "a batch failed (%s): writing its items one by one",
		         strerror(-err));
	for (wi = first; wi; wi = wi->next) {
		item_reset(ITEM(wi));
		ITEM(wi)->err = item_run(w->q, ITEM(wi));
	}
}

/* On the loop: the item's completion. ERR is -ECANCELED only for an item
 * that never ran, which dbw_free's drain rules out. */
static void item_done(void *arg, struct worker_item *wi, int err)
{
	struct dbw *w = arg;
	struct dbw_item *it = ITEM(wi);
	struct dbw_result r;

	if (err)
		it->err = err;
	r = (struct dbw_result){.op = it->op,
	                        .err = it->err,
	                        .job_id = it->job_id,
	                        .tag = it->tag,
	                        .job = it->job,
	                        .arg = it->arg,
	                        .count = it->count,
	                        .held = it->held,
	                        .n_held = it->n_held};
	if (it->done)
		it->done(w->ctx, &r);
	else if (it->err)
		log_err(TAG, "job %lld: %s failed: %s", (long long)it->job_id,
		        op_name(it->op), strerror(-it->err));
	it->job = r.job;
	item_free(it);
}

int dbw_new(struct dbw **wp, const char *url, void *ctx)
{
	struct dbw *w = calloc(1, sizeof(*w));
	struct worker_params p = {
	    .name = "rb-dbw", .run = batch_run, .done = item_done, .arg = w};
	int err;

	if (!w)
		return -ENOMEM;
	w->ctx = ctx;
	err = queue_open(&w->q, url);
	if (!err)
		err = worker_new(&w->worker, &p);
	if (err) {
		dbw_free(w);
		return err;
	}
	*wp = w;
	return 0;
}

int dbw_fd(struct dbw *w)
{
	return worker_fd(w->worker);
}

void dbw_complete(struct dbw *w)
{
	worker_complete(w->worker);
}

void dbw_free(struct dbw *w)
{
	if (!w)
		return;
	if (w->worker) {
		/* Completions may submit more (a claim given back). */
		worker_drain(w->worker);
		worker_free(w->worker);
	}
	queue_close(w->q);
	free(w);
}

static struct dbw_item *item_new(enum dbw_op op, int64_t job_id,
                                 const char *owner, const char *text,
                                 dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it = calloc(1, sizeof(*it));

	if (!it)
		return NULL;
	it->op = op;
	it->job_id = job_id;
	it->done = done;
	it->tag = tag;
	if ((owner && !(it->owner = strdup(owner))) ||
	    (text && !(it->text = strdup(text)))) {
		item_free(it);
		return NULL;
	}
	return it;
}

/* Queues IT, or completes it at once with -ENOMEM when it is NULL. */
static void submit(struct dbw *w, struct dbw_item *it, enum dbw_op op,
                   int64_t job_id, dbw_done_cb done, uint64_t tag)
{
	if (!it) {
		struct dbw_result r = {
		    .op = op, .err = -ENOMEM, .job_id = job_id, .tag = tag};

		if (done)
			done(w->ctx, &r);
		else
			log_err(TAG, "job %lld: %s: out of memory",
			        (long long)job_id, op_name(op));
		return;
	}
	worker_submit(w->worker, &it->link);
}

void dbw_job_claim(struct dbw *w, const char *owner, int lease_ms,
                   dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it = item_new(DBW_CLAIM, 0, owner, NULL, done, tag);

	if (it)
		it->lease_ms = lease_ms;
	submit(w, it, DBW_CLAIM, 0, done, tag);
}

void dbw_event_add(struct dbw *w, int64_t job_id, const char *owner,
                   enum queue_event_type type, const char *detail,
                   unsigned char *blob, size_t blob_len, dbw_done_cb done,
                   uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_EVENT, job_id, owner, detail, done, tag);

	if (it) {
		it->type = type;
		it->blob = blob;
		it->blob_len = blob_len;
		it->notify = QUEUE_CH_EVENTS;
	} else {
		free(blob);
	}
	submit(w, it, DBW_EVENT, job_id, done, tag);
}

void dbw_job_leases_renew(struct dbw *w, const char *owner, int lease_ms,
                          dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_RENEW_ALL, 0, owner, NULL, done, tag);

	if (it)
		it->lease_ms = lease_ms;
	submit(w, it, DBW_RENEW_ALL, 0, done, tag);
}

void dbw_job_retry(struct dbw *w, int64_t job_id, const char *owner,
                   int64_t next_attempt_ms, const char *reason, unsigned notify,
                   dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_RETRY, job_id, owner, reason, done, tag);

	if (it) {
		it->next_attempt_ms = next_attempt_ms;
		it->notify = notify;
	}
	submit(w, it, DBW_RETRY, job_id, done, tag);
}

void dbw_job_finish(struct dbw *w, int64_t job_id, const char *owner,
                    enum queue_job_state state, const char *reason,
                    dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_FINISH, job_id, owner, reason, done, tag);

	if (it)
		it->state = state;
	submit(w, it, DBW_FINISH, job_id, done, tag);
}

void dbw_job_refresh_messages(struct dbw *w, int64_t job_id, int after_seq,
                              dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_REFRESH, job_id, NULL, NULL, done, tag);

	if (it)
		it->after_seq = after_seq;
	submit(w, it, DBW_REFRESH, job_id, done, tag);
}

void dbw_call(struct dbw *w, int (*fn)(struct queue *q, void *arg), void *arg,
              dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it = item_new(DBW_CALL, 0, NULL, NULL, done, tag);

	if (!it) {
		struct dbw_result r = {
		    .op = DBW_CALL, .err = -ENOMEM, .tag = tag, .arg = arg};

		if (done)
			done(w->ctx, &r);
		return;
	}
	it->fn = fn;
	it->arg = arg;
	submit(w, it, DBW_CALL, 0, done, tag);
}
