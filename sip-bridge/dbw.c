/*
 * The bridge's queue writer (see dbw.h). The loop appends items to one list
 * under a mutex and signals; the thread takes the whole list, runs it as
 * one batch on its own handle, then appends it to the done list and writes
 * the eventfd. Only pointer swaps happen under the mutex, so the loop keeps
 * submitting while the disk syncs, and the next batch holds whatever
 * arrived meanwhile: one fsync for all of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dbw.h"
#include "log.h"

#define TAG "dbw"

struct dbw_item {
	struct dbw_item *next;
	enum dbw_op op;
	int64_t job_id;
	char *owner; /* claim, renew, retry, finish */
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
};

struct dbw {
	struct queue *q; /* the thread's own handle */
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the thread waits for work */
	pthread_cond_t idle; /* dbw_free waits for the thread */
	int efd;
	bool started, quit, busy;
	/* under lock */
	struct dbw_item *pending, **pending_tail;
	struct dbw_item *done, **done_tail;
};

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
		err = queue_event_add(q, it->job_id, it->type, it->text,
		                      it->blob, it->blob_len, NULL);
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
		return queue_job_leases_renew(q, it->owner, it->lease_ms,
		                              &it->count);
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
 * Runs BATCH in one transaction. Should the commit itself fail (the
 * database stayed locked, say), each item runs again alone, so one bad
 * moment costs a few more fsyncs rather than a call's events.
 */
static void batch_run(struct dbw *w, struct dbw_item *batch)
{
	struct dbw_item *it;
	int err;

	if (!batch->next) {
		batch->err = item_run(w->q, batch);
		return;
	}
	err = queue_batch_begin(w->q);
	for (it = batch; it && !err; it = it->next)
		it->err = item_run(w->q, it);
	if (!err)
		err = queue_batch_commit(w->q);
	if (!err)
		return;
	queue_batch_rollback(w->q);
	log_warn(TAG, "a batch failed (%s): writing its items one by one",
	         strerror(-err));
	for (it = batch; it; it = it->next) {
		item_reset(it);
		it->err = item_run(w->q, it);
	}
}

static void *writer_main(void *arg)
{
	struct dbw *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct dbw_item *batch, *last;
		uint64_t one = 1;

		while (!w->pending && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->pending)
			break;
		batch = w->pending;
		w->pending = NULL;
		w->pending_tail = &w->pending;
		w->busy = true;
		pthread_mutex_unlock(&w->lock);

		batch_run(w, batch);

		pthread_mutex_lock(&w->lock);
		w->busy = false;
		for (last = batch; last->next; last = last->next)
			;
		*w->done_tail = batch;
		w->done_tail = &last->next;
		if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err(TAG, "eventfd write: %s", strerror(errno));
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int dbw_new(struct dbw **wp, const char *url, void *ctx)
{
	struct dbw *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->ctx = ctx;
	w->pending_tail = &w->pending;
	w->done_tail = &w->done;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		err = -errno;
		goto out;
	}
	err = queue_open(&w->q, url);
	if (err)
		goto out;
	err = -pthread_create(&w->thread, NULL, writer_main, w);
	if (err)
		goto out;
	w->started = true;
	*wp = w;
	return 0;
out:
	dbw_free(w);
	return err;
}

int dbw_fd(struct dbw *w)
{
	return w->efd;
}

void dbw_complete(struct dbw *w)
{
	struct dbw_item *list, *next;
	uint64_t v;

	if (read(w->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err(TAG, "eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&w->lock);
	list = w->done;
	w->done = NULL;
	w->done_tail = &w->done;
	pthread_mutex_unlock(&w->lock);
	for (; list; list = next) {
		struct dbw_result r = {.op = list->op,
		                       .err = list->err,
		                       .job_id = list->job_id,
		                       .tag = list->tag,
		                       .job = list->job,
		                       .arg = list->arg,
		                       .count = list->count};

		next = list->next;
		if (list->done)
			list->done(w->ctx, &r);
		else if (list->err)
			log_err(TAG, "job %lld: %s failed: %s",
			        (long long)list->job_id, op_name(list->op),
			        strerror(-list->err));
		list->job = r.job;
		item_free(list);
	}
}

/* True once everything submitted has run and been completed. */
static bool drained(struct dbw *w)
{
	bool empty;

	pthread_mutex_lock(&w->lock);
	while (w->pending || w->busy)
		pthread_cond_wait(&w->idle, &w->lock);
	empty = !w->done;
	pthread_mutex_unlock(&w->lock);
	return empty;
}

void dbw_free(struct dbw *w)
{
	if (!w)
		return;
	if (w->started) {
		/* Completions may submit more (a claim given back). */
		while (!drained(w))
			dbw_complete(w);
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	queue_close(w->q);
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	pthread_cond_destroy(&w->idle);
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
	pthread_mutex_lock(&w->lock);
	*w->pending_tail = it;
	w->pending_tail = &it->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void dbw_job_claim(struct dbw *w, const char *owner, int lease_ms,
                   dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it = item_new(DBW_CLAIM, 0, owner, NULL, done, tag);

	if (it)
		it->lease_ms = lease_ms;
	submit(w, it, DBW_CLAIM, 0, done, tag);
}

void dbw_event_add(struct dbw *w, int64_t job_id, enum queue_event_type type,
                   const char *detail, unsigned char *blob, size_t blob_len,
                   dbw_done_cb done, uint64_t tag)
{
	struct dbw_item *it =
	    item_new(DBW_EVENT, job_id, NULL, detail, done, tag);

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
