/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Writer thread for caught messages (see store.h), one user of the worker
 * primitive (common/worker.h). The loop gathers submitted items in a list
 * of its own (no lock) and hands the whole list to the worker as one batch
 * once the worker is free and the batch is due; the worker's thread commits
 * it in one transaction, so the loop can keep filling the next batch while
 * the disk syncs. Batches therefore grow with load by themselves: one fsync
 * covers whatever arrived during the previous one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "clock.h"
#include "comp.h"
#include "log.h"
#include "store.h"
#include "timer.h"
#include "worker.h"

#define TAG "store"

struct store_item {
	struct worker_item link;
	struct queue_message_in m;
	struct queue_enqueue_limits lim;
	char *strings[11]; /* owned copies behind m's pointers */
	store_done_cb done;
	store_call_fn fn;             /* set: a store_call, not a message */
	store_call_done_cb call_done; /* its completion */
	void *arg;
	enum queue_enqueue_result result;
	int64_t job_id;
	int err;
	int64_t submitted_us;
};

/*
 * Group commit with a short hold-off, like PostgreSQL's commit_delay: each
 * commit costs an fsync, about 0.4 ms of CPU (mostly kernel) on the
 * machines measured, so at 500 messages/s committing each message alone
 * costs the component more CPU than parsing them. Waiting up to 2 ms for
 * companions (or until 64 are pending) cuts the commits by about three at
 * that rate and adds at most 2 ms to a push-to-commit time of ~1 ms.
 */
#define STORE_COMMIT_DELAY_US 2000
#define STORE_BATCH_MAX       64

/* Push-to-commit latency in 0.1 ms buckets up to 100 ms: enough to report
 * the p50/p99 an operator (and the benchmark) asks for at exit. */
#define HIST_BUCKETS   1000
#define HIST_BUCKET_US 100

struct store_stats {
	uint64_t items;
	uint64_t batches; /* written by the worker's thread: atomic */
	uint64_t over;    /* slower than the histogram's range */
	uint32_t hist[HIST_BUCKETS];
};

struct store {
	struct comp *comp;
	struct queue *q; /* the worker thread's own handle */
	struct worker *worker;
	struct worker_list pending; /* loop side: the next batch */
	int64_t pending_since_us;   /* when its oldest item was submitted */
	struct timer hold;          /* wakes the loop when the batch is due */
	struct store_stats stats;
};

#define ITEM(wi) worker_container(wi, struct store_item, link)

static void on_hold(void *arg);

static void stats_add(struct store_stats *st, int64_t us)
{
	int64_t b = us / HIST_BUCKET_US;

	st->items++;
	if (b >= HIST_BUCKETS)
		st->over++;
	else
		st->hist[b]++;
}

/* The latency under which a fraction P of the items committed, in ms. */
static double stats_percentile(const struct store_stats *st, double p)
{
	uint64_t want = (uint64_t)(p * (double)st->items + 0.5), seen = 0;

	for (int i = 0; i < HIST_BUCKETS; i++) {
		seen += st->hist[i];
		if (seen >= want && seen)
			return (i + 1) * HIST_BUCKET_US / 1000.0;
	}
	return HIST_BUCKETS * HIST_BUCKET_US / 1000.0;
}

void store_stats_log(struct store *s)
{
	const struct store_stats *st = &s->stats;

	uint64_t batches = __atomic_load_n(&st->batches, __ATOMIC_RELAXED);

	if (!st->items)
		return;
	log_info(TAG,
	         "%llu caught messages in %llu commits (%.1f per commit); "
	         "push-to-commit p50 %.1f ms, p99 %.1f ms, %llu over 100 ms",
	         (unsigned long long)st->items, (unsigned long long)batches,
	         batches ? (double)st->items / (double)batches : 0.0,
	         stats_percentile(st, 0.50), stats_percentile(st, 0.99),
	         (unsigned long long)st->over);
}

static char *keep(struct store_item *it, int i, const char *s)
{
	it->strings[i] = s ? strdup(s) : NULL;
	return it->strings[i];
}

static void item_free(struct store_item *it)
{
	for (size_t i = 0; i < G_N_ELEMENTS(it->strings); i++)
		free(it->strings[i]);
	free(it);
}

static void item_run(struct store *s, struct store_item *it)
{
	if (it->fn)
		it->err = it->fn(s->q, it->arg);
	else
		it->err = queue_message_enqueue(s->q, &it->m, &it->lim,
		                                &it->job_id, &it->result);
}

/*
 * Whether BATCH may run again item by item: caught messages only. A
 * store_call's function keeps what it read and decided in its argument
 * (register.c's verify_run counts a wrong code there), so it runs once.
 */
static bool batch_replayable(struct worker_item *batch)
{
	for (struct worker_item *wi = batch; wi; wi = wi->next)
		if (ITEM(wi)->fn)
			return false;
	return true;
}

/* On the worker's thread: BATCH in one transaction. */
static void commit_batch(void *arg, struct worker_item *batch)
{
	struct store *s = arg;
	struct worker_item *wi;
	int err = batch_replayable(batch) ? queue_batch_begin_replayable(s->q)
	                                  : queue_batch_begin(s->q);
	size_t n = 0;

	for (wi = batch; wi; wi = wi->next, n++) {
		struct store_item *it = ITEM(wi);

		if (err) {
			it->err = err;
			continue;
		}
		item_run(s, it);
	}
	if (!err)
		err = queue_batch_commit(s->q);
	if (err == -ERESTART) {
		/* A message failed where nothing could undo it alone
		 * (queue.h): each runs again on its own and gets its own
		 * result. */
		for (wi = batch; wi; wi = wi->next)
			item_run(s, ITEM(wi));
		err = 0;
	}
	if (err) {
		/* Each caller's completion gets the error; catch.c logs a
		 * run of failures once. */
		log_debug(TAG, "committing %zu caught messages failed: %s", n,
		          strerror(-err));
		queue_batch_rollback(s->q);
		for (wi = batch; wi; wi = wi->next)
			ITEM(wi)->err = err;
	}
	__atomic_fetch_add(&s->stats.batches, 1, __ATOMIC_RELAXED);
}

/* On the loop: the item's completion. ERR is -ECANCELED only for an item
 * that never ran, which store_free's drain rules out. */
static void item_done(void *arg, struct worker_item *wi, int err)
{
	struct store *s = arg;
	struct store_item *it = ITEM(wi);

	if (!err)
		err = it->err;
	if (it->fn) {
		it->call_done(s->comp, err, it->arg);
	} else {
		stats_add(&s->stats, clock_mono_us() - it->submitted_us);
		it->done(s->comp, it->result, it->job_id, err, it->arg);
	}
	item_free(it);
}

int store_new(struct store **sp, struct comp *c, const char *url)
{
	struct store *s = calloc(1, sizeof(*s));
	struct worker_params p = {
	    .name = "rb-store", .run = commit_batch, .done = item_done};
	int err;

	if (!s)
		return -ENOMEM;
	s->comp = c;
	timer_init(&s->hold, on_hold, s);
	p.arg = s;
	err = queue_open(&s->q, url);
	if (err)
		goto out;
	err = worker_new(&s->worker, &p);
	if (err)
		goto out;
	*sp = s;
	return 0;
out:
	queue_close(s->q);
	free(s);
	return err;
}

int store_fd(struct store *s)
{
	return worker_fd(s->worker);
}

/* Into the batch being gathered on the loop. */
static void pending_add(struct store *s, struct store_item *it)
{
	it->submitted_us = clock_mono_us();
	if (!s->pending.first) {
		s->pending_since_us = it->submitted_us;
		timer_start(&s->comp->timers, &s->hold,
		            (STORE_COMMIT_DELAY_US + 999) / 1000);
	}
	worker_list_append(&s->pending, &it->link);
}

void store_submit(struct store *s, const struct queue_message_in *m,
                  const struct queue_enqueue_limits *lim, store_done_cb done,
                  void *arg)
{
	struct store_item *it = calloc(1, sizeof(*it));

	if (!it) {
		done(s->comp, QUEUE_ENQ_NEW_JOB, 0, -ENOMEM, arg);
		return;
	}
	it->m.callee_jid = keep(it, 0, m->callee_jid);
	it->m.sender_jid = keep(it, 1, m->sender_jid);
	it->m.sender_name = keep(it, 2, m->sender_name);
	it->m.reply_from = keep(it, 3, m->reply_from);
	it->m.body = keep(it, 4, m->body);
	it->m.idem_key = keep(it, 5, m->idem_key);
	it->m.destination = keep(it, 6, m->destination);
	it->m.tz = keep(it, 7, m->tz);
	it->m.lang = keep(it, 8, m->lang);
	it->m.destination_more[0] = keep(it, 9, m->destination_more[0]);
	it->m.destination_more[1] = keep(it, 10, m->destination_more[1]);
	it->m.encrypted = m->encrypted;
	it->m.received_ms = m->received_ms;
	it->m.gate = m->gate;
	it->m.not_before_ms = m->not_before_ms;
	it->m.seen_until_ms = m->seen_until_ms;
	it->lim = *lim;
	it->done = done;
	it->arg = arg;
	pending_add(s, it);
}

void store_call(struct store *s, store_call_fn fn, void *arg,
                store_call_done_cb done)
{
	struct store_item *it = calloc(1, sizeof(*it));

	if (!it) {
		done(s->comp, -ENOMEM, arg);
		return;
	}
	it->fn = fn;
	it->call_done = done;
	it->arg = arg;
	pending_add(s, it);
}

/* Milliseconds until the pending batch is due: -1 none pending, 0 now. */
static int flush_wait_ms(struct store *s)
{
	int64_t age_us;

	if (!s->pending.first)
		return -1;
	if (s->pending.n >= STORE_BATCH_MAX)
		return 0;
	age_us = clock_mono_us() - s->pending_since_us;
	if (age_us >= STORE_COMMIT_DELAY_US)
		return 0;
	return (int)((STORE_COMMIT_DELAY_US - age_us + 999) / 1000);
}

void store_flush(struct store *s)
{
	if (flush_wait_ms(s) != 0)
		return;
	store_flush_now(s);
}

void store_flush_now(struct store *s)
{
	/* One batch at a time: what arrives meanwhile is the next one. */
	if (s->pending.first && !worker_busy(s->worker)) {
		timer_stop(&s->comp->timers, &s->hold);
		worker_submit_list(s->worker, &s->pending);
	}
}

/* The hold-off is over (or nearly: the timer counts whole ms). A busy
 * writer takes the batch when it completes (store_complete). */
static void on_hold(void *arg)
{
	struct store *s = arg;
	int wait = flush_wait_ms(s);

	if (wait > 0)
		timer_start(&s->comp->timers, &s->hold, wait);
	else if (wait == 0)
		store_flush_now(s);
}

void store_complete(struct store *s)
{
	worker_complete(s->worker);
	/* The writer may have become free while completions ran. */
	store_flush(s);
}

bool store_idle(struct store *s)
{
	return !s->pending.first && worker_idle(s->worker);
}

void store_drain(struct store *s)
{
	while (!store_idle(s)) {
		store_flush_now(s);
		worker_drain(s->worker);
	}
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_drain(s);
	timer_stop(&s->comp->timers, &s->hold);
	store_stats_log(s);
	worker_free(s->worker);
	queue_close(s->q);
	free(s);
}
