/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The worker primitive (common/worker.c): items run and complete in
 * submission order, batches take what waited, the fd is readable exactly
 * while completions wait, and shutdown either drains or cancels every item
 * exactly once. A gate (a mutex and condition variable the test holds)
 * keeps the thread inside a run while the test looks at the state.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "worker.h"

#define N_ITEMS 2000

struct item {
	struct worker_item link;
	int seq;
	int batch; /* which run call took it */
	bool ran;
};

struct fixture {
	struct worker *w;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool gate_closed; /* run waits while this is set */
	int runs_entered;
	int batches;
	int items_ran; /* items the run callback saw, all batches */
	/* loop side */
	int completed[N_ITEMS + 16];
	int errs[N_ITEMS + 16];
	int n_completed;
	int resubmit; /* completions submit this many more */
	int next_seq;
};

static void run(void *arg, struct worker_item *first)
{
	struct fixture *f = arg;
	int batch;

	pthread_mutex_lock(&f->lock);
	batch = f->batches++;
	f->runs_entered++;
	pthread_cond_broadcast(&f->cond);
	while (f->gate_closed)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
	for (struct worker_item *it = first; it; it = it->next) {
		struct item *x = worker_container(it, struct item, link);

		x->ran = true;
		x->batch = batch;
		__atomic_add_fetch(&f->items_ran, 1, __ATOMIC_RELAXED);
	}
}

static void submit_one(struct fixture *f);

static void done(void *arg, struct worker_item *it, int err)
{
	struct fixture *f = arg;
	struct item *x = worker_container(it, struct item, link);

	f->completed[f->n_completed] = x->seq;
	f->errs[f->n_completed++] = err;
	CHECK(err ? !x->ran : x->ran);
	free(x);
	if (f->resubmit > 0) {
		f->resubmit--;
		submit_one(f);
	}
}

static void submit_one(struct fixture *f)
{
	struct item *x = calloc(1, sizeof(*x));

	x->seq = f->next_seq++;
	worker_submit(f->w, &x->link);
}

static void fixture_init(struct fixture *f, size_t batch_max)
{
	struct worker_params p = {.name = "test-worker",
	                          .run = run,
	                          .done = done,
	                          .arg = f,
	                          .batch_max = batch_max};

	*f = (struct fixture){0};
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	CHECK_INT(worker_new(&f->w, &p), 0);
}

static void fixture_fini(struct fixture *f)
{
	worker_free(f->w);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->cond);
}

static void gate_set(struct fixture *f, bool closed)
{
	pthread_mutex_lock(&f->lock);
	f->gate_closed = closed;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/* Waits until the thread has entered N runs (it is inside the Nth). */
static void wait_runs(struct fixture *f, int n)
{
	pthread_mutex_lock(&f->lock);
	while (f->runs_entered < n)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static bool readable(struct worker *w, int timeout_ms)
{
	struct pollfd p = {.fd = worker_fd(w), .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static bool in_order(const struct fixture *f)
{
	for (int i = 0; i < f->n_completed; i++)
		if (f->completed[i] != i)
			return false;
	return true;
}

/* Many items from the loop, completed as the fd says, all in order. */
static void test_order(size_t batch_max)
{
	struct fixture f;

	fixture_init(&f, batch_max);
	for (int i = 0; i < N_ITEMS; i++) {
		submit_one(&f);
		if (i % 97 == 0 && readable(f.w, 0))
			worker_complete(f.w);
	}
	while (f.n_completed < N_ITEMS) {
		CHECK(readable(f.w, 5000));
		worker_complete(f.w);
	}
	CHECK_INT(f.n_completed, N_ITEMS);
	CHECK(in_order(&f));
	CHECK(worker_idle(f.w));
	CHECK(!readable(f.w, 0));
	if (batch_max == 1)
		CHECK_INT(f.batches, N_ITEMS);
	fixture_fini(&f);
}

/* What waited while a batch ran is the next batch, within batch_max. */
static void test_batches(void)
{
	struct fixture f;
	struct item *x;

	fixture_init(&f, 4);
	gate_set(&f, true);
	submit_one(&f);
	wait_runs(&f, 1);
	for (int i = 0; i < 9; i++)
		submit_one(&f);
	CHECK(worker_busy(f.w));
	gate_set(&f, false);
	worker_drain(f.w);
	CHECK_INT(f.n_completed, 10);
	CHECK(in_order(&f));
	/* 1, then 4 + 4 + 1 of the nine that waited. */
	CHECK_INT(f.batches, 4);
	fixture_fini(&f);

	/* A list handed over at once is one batch with batch_max 0. */
	fixture_init(&f, 0);
	{
		struct worker_list l = {0};

		for (int i = 0; i < 50; i++) {
			x = calloc(1, sizeof(*x));
			x->seq = f.next_seq++;
			worker_list_append(&l, &x->link);
		}
		CHECK_INT(l.n, 50);
		worker_submit_list(f.w, &l);
		CHECK(!l.first);
		CHECK_INT(l.n, 0);
		worker_submit_list(f.w, &l); /* empty: nothing */
	}
	worker_drain(f.w);
	CHECK_INT(f.n_completed, 50);
	CHECK_INT(f.batches, 1);
	CHECK(in_order(&f));
	fixture_fini(&f);
}

/* The fd: not readable while the item runs, readable once it finished
 * until it is completed, and not left readable by a finished batch that
 * joined the completions already waiting. */
static void test_fd(void)
{
	struct fixture f;

	fixture_init(&f, 1);
	CHECK(!readable(f.w, 0));
	CHECK_INT(worker_complete(f.w), 0);
	gate_set(&f, true);
	submit_one(&f);
	submit_one(&f);
	wait_runs(&f, 1);
	CHECK(!readable(f.w, 20));
	CHECK(worker_busy(f.w));
	CHECK(!worker_idle(f.w));
	gate_set(&f, false);
	worker_drain(f.w);
	CHECK_INT(f.n_completed, 2);
	CHECK(!readable(f.w, 0));

	/* Two batches finished before the loop looked: one completion pass
	 * takes both and the fd is quiet after it. */
	submit_one(&f);
	submit_one(&f);
	while (worker_busy(f.w))
		CHECK(readable(f.w, 5000));
	CHECK(readable(f.w, 0));
	CHECK(!worker_busy(f.w));
	CHECK(!worker_idle(f.w));
	CHECK_INT(worker_complete(f.w), 2);
	CHECK(!readable(f.w, 0));
	CHECK(worker_idle(f.w));
	CHECK(in_order(&f));
	fixture_fini(&f);
}

/* Completions that submit more: drain runs those too, in order. */
static void test_drain_resubmit(void)
{
	struct fixture f;

	fixture_init(&f, 0);
	f.resubmit = 100;
	for (int i = 0; i < 5; i++)
		submit_one(&f);
	worker_drain(f.w);
	CHECK_INT(f.n_completed, 105);
	CHECK(in_order(&f));
	for (int i = 0; i < f.n_completed; i++)
		CHECK_INT(f.errs[i], 0);
	CHECK(worker_idle(f.w));
	fixture_fini(&f);
}

static void *gate_open_later(void *arg)
{
	struct timespec ts = {0, 200 * 1000 * 1000};

	nanosleep(&ts, NULL);
	gate_set(arg, false);
	return NULL;
}

/* worker_free with work pending: the running batch finishes and is
 * completed, the rest (and what their completions submit) is cancelled,
 * every item exactly once and in order. */
static void test_free_cancels(void)
{
	struct fixture f;
	pthread_t t;

	fixture_init(&f, 2);
	gate_set(&f, true);
	for (int i = 0; i < 7; i++)
		submit_one(&f);
	wait_runs(&f, 1);
	f.resubmit = 3;
	/* Opens the gate once worker_free is waiting for the thread. */
	pthread_create(&t, NULL, gate_open_later, &f);
	worker_free(f.w);
	f.w = NULL;
	pthread_join(t, NULL);
	CHECK_INT(f.n_completed, 10);
	CHECK(in_order(&f));
	/* Normally one batch ran; a loop descheduled for longer than the
	 * helper's sleep lets the thread start the next before quitting. */
	CHECK(f.batches >= 1 && f.batches < 4);
	/* What ran completes first with 0, the rest is cancelled: counted
	 * by the items the run callback saw, since a batch may be smaller
	 * than batch_max when the thread takes it. */
	CHECK(f.items_ran >= 2);
	for (int i = 0; i < f.n_completed; i++)
		CHECK_INT(f.errs[i], i < f.items_ran ? 0 : -ECANCELED);
	fixture_fini(&f);
}

int main(void)
{
	test_order(1);
	test_order(3);
	test_order(0);
	test_batches();
	test_fd();
	test_drain_resubmit();
	test_free_cancels();
	worker_free(NULL);
	return check_exit("test_worker");
}
