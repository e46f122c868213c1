/*
 * Writer thread for caught messages (see store.h). Three lists move items
 * along: pending (filled by the loop), inflight (owned by the writer while
 * it commits) and done (waiting for the loop to run completions). Only the
 * pointer swaps happen under the mutex; the commit itself does not hold it,
 * so the loop can keep filling the next batch while the disk syncs. Batches
 * therefore grow with load by themselves: one fsync covers whatever arrived
 * during the previous one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "store.h"

#define TAG "store"

struct store_item {
	struct store_item *next;
	struct queue_message_in m;
	struct queue_enqueue_limits lim;
	char *strings[10]; /* owned copies behind m's pointers */
	store_done_cb done;
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
 * costs the component more CPU than parsing them. Waiting up to 4 ms for
 * companions (or until 64 are pending) cuts the commits by about three at
 * that rate and adds at most 4 ms to a push-to-commit time of ~1 ms.
 */
#define STORE_COMMIT_DELAY_US 2000
#define STORE_BATCH_MAX       64

/* Push-to-commit latency in 0.1 ms buckets up to 100 ms: enough to report
 * the p50/p99 an operator (and the benchmark) asks for at exit. */
#define HIST_BUCKETS   1000
#define HIST_BUCKET_US 100

struct store_stats {
	uint64_t items;
	uint64_t batches;
	uint64_t over; /* slower than the histogram's range */
	uint32_t hist[HIST_BUCKETS];
};

struct store {
	struct comp *comp;
	struct queue *q; /* the writer's own handle */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;
	bool quit;
	/* loop side, no lock needed */
	struct store_item *pending, **pending_tail;
	size_t n_pending;
	/* shared, under lock */
	struct store_item *inflight; /* handed over, not yet committed */
	struct store_item *done;
	bool busy;                /* inflight non-empty or being committed */
	struct store_stats stats; /* loop side, but batches under lock */
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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

	if (!st->items)
		return;
	pthread_mutex_lock(&s->lock);
	uint64_t batches = st->batches;

	pthread_mutex_unlock(&s->lock);
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

static void commit_batch(struct store *s, struct store_item *batch)
{
	struct store_item *it;
	int err = queue_batch_begin(s->q);
	size_t n = 0;

	for (it = batch; it; it = it->next, n++) {
		if (err) {
			it->err = err;
			continue;
		}
		it->err = queue_message_enqueue(s->q, &it->m, &it->lim,
		                                &it->job_id, &it->result);
	}
	if (!err)
		err = queue_batch_commit(s->q);
	if (err) {
		log_err(TAG, "committing %zu caught messages failed: %s", n,
		        strerror(-err));
		queue_batch_rollback(s->q);
		for (it = batch; it; it = it->next)
			it->err = err;
	}
}

static void *writer_main(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct store_item *batch, *it;
		uint64_t one = 1;

		while (!s->inflight && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->inflight && s->quit)
			break;
		batch = s->inflight;
		pthread_mutex_unlock(&s->lock);

		commit_batch(s, batch);

		pthread_mutex_lock(&s->lock);
		s->inflight = NULL;
		s->busy = false;
		s->stats.batches++;
		/* Append to done in order. */
		if (!s->done) {
			s->done = batch;
		} else {
			for (it = s->done; it->next; it = it->next)
				;
			it->next = batch;
		}
		if (write(s->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err(TAG, "eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int store_new(struct store **sp, struct comp *c, const char *url)
{
	struct store *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->comp = c;
	s->pending_tail = &s->pending;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->efd < 0) {
		err = -errno;
		goto out;
	}
	err = queue_open(&s->q, url);
	if (err)
		goto out;
	err = -pthread_create(&s->thread, NULL, writer_main, s);
	if (err) {
		queue_close(s->q);
		goto out;
	}
	*sp = s;
	return 0;
out:
	if (s->efd >= 0)
		close(s->efd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	return err;
}

int store_fd(struct store *s)
{
	return s->efd;
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
	it->m.encrypted = m->encrypted;
	it->m.received_ms = m->received_ms;
	it->lim = *lim;
	it->done = done;
	it->arg = arg;
	it->submitted_us = mono_us();
	*s->pending_tail = it;
	s->pending_tail = &it->next;
	s->n_pending++;
}

int store_flush_wait_ms(struct store *s)
{
	int64_t age_us;

	if (!s->pending)
		return -1;
	if (s->n_pending >= STORE_BATCH_MAX)
		return 0;
	age_us = mono_us() - s->pending->submitted_us;
	if (age_us >= STORE_COMMIT_DELAY_US)
		return 0;
	return (int)((STORE_COMMIT_DELAY_US - age_us + 999) / 1000);
}

void store_flush(struct store *s)
{
	if (store_flush_wait_ms(s) != 0)
		return;
	store_flush_now(s);
}

void store_flush_now(struct store *s)
{
	if (!s->pending)
		return;
	pthread_mutex_lock(&s->lock);
	if (!s->busy) {
		s->inflight = s->pending;
		s->busy = true;
		s->pending = NULL;
		s->pending_tail = &s->pending;
		s->n_pending = 0;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

void store_complete(struct store *s)
{
	struct store_item *list, *next;
	uint64_t v;

	if (read(s->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err(TAG, "eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&s->lock);
	list = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; list; list = next) {
		next = list->next;
		stats_add(&s->stats, mono_us() - list->submitted_us);
		list->done(s->comp, list->result, list->job_id, list->err,
		           list->arg);
		item_free(list);
	}
	/* The writer may have become free while completions ran. */
	store_flush(s);
}

bool store_idle(struct store *s)
{
	bool idle;

	pthread_mutex_lock(&s->lock);
	idle = !s->busy && !s->done;
	pthread_mutex_unlock(&s->lock);
	return idle && !s->pending;
}

void store_drain(struct store *s)
{
	while (!store_idle(s)) {
		struct timespec ts = {0, 2000000};

		store_flush_now(s);
		nanosleep(&ts, NULL);
		store_complete(s);
	}
}

void store_free(struct store *s)
{
	if (!s)
		return;
	store_drain(s);
	store_stats_log(s);
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	queue_close(s->q);
	close(s->efd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}
