/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One worker thread beside an event loop: the loop submits work items, the
 * thread runs them in batches, and the loop completes them when one file
 * descriptor (an eventfd) becomes readable. It is what keeps commits, fsyncs
 * and HTTP requests off the loops of both processes, written and tested once
 * (libre's re_async and mqueue are the model).
 *
 * Order: items run and complete strictly in submission order (one FIFO in,
 * one thread, one FIFO out). The thread takes up to batch_max items at a
 * time (0: all that are waiting), so whatever queued up while a batch ran is
 * the next batch.
 *
 * Threads: worker_run_fn runs on the worker's thread; every other call, and
 * every worker_done_fn, runs on the loop's thread (the one that called
 * worker_new). Completions may submit more items.
 *
 * Ownership: the caller allocates an item with a struct worker_item embedded
 * in it (worker_container() gets it back) and gives it away at submission.
 * From then until its worker_done_fn is called the item belongs to the
 * worker: the thread may write the caller's fields during run, and the loop
 * must not touch the item. worker_done_fn hands it back; it is called
 * exactly once per submitted item, which is where the caller frees it.
 */
#ifndef RB_WORKER_H
#define RB_WORKER_H

#include <stdbool.h>
#include <stddef.h>

/* Embedded in the caller's item. NEXT links a batch during run (read it,
 * never write it); the worker owns it otherwise. */
struct worker_item {
	struct worker_item *next;
};

/* A FIFO of items with O(1) append (the caller's own staging, e.g. a batch
 * being gathered on the loop, uses the same list as the worker). */
struct worker_list {
	struct worker_item *first;
	struct worker_item **tail; /* NULL until the first append */
	size_t n;
};

#define worker_container(ptr, type, member)                                    \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Appends IT to L (L zeroed or as worker_list_take left it). */
void worker_list_append(struct worker_list *l, struct worker_item *it);
/* Moves all of L's items into the returned list head and empties L. */
struct worker_item *worker_list_take(struct worker_list *l);

struct worker;

/* On the worker's thread: runs the batch FIRST, FIRST->next, ... (NULL
 * ends it), in order. Results go into the caller's items. */
typedef void (*worker_run_fn)(void *arg, struct worker_item *first);
/*
 * On the loop's thread, once per item, in submission order: ERR is 0 when
 * the item ran, -ECANCELED when worker_free dropped it before it ran. The
 * item is the caller's again.
 */
typedef void (*worker_done_fn)(void *arg, struct worker_item *it, int err);

struct worker_params {
	const char *name; /* the thread's name (15 bytes), for ps and gdb */
	worker_run_fn run;
	worker_done_fn done;
	void *arg;        /* passed to run and done */
	size_t batch_max; /* items per run call; 0 means all that wait */
};

/* Starts the thread. It inherits the caller's signal mask. */
int worker_new(struct worker **wp, const struct worker_params *p);
/*
 * Stops the thread after the batch it is running (waited for), completes
 * what ran, and completes every item that never ran with -ECANCELED (also
 * those that these completions submit). Call worker_drain first to run
 * everything instead. NULL-safe.
 */
void worker_free(struct worker *w);

/* Gives IT to the worker (see Ownership above). */
void worker_submit(struct worker *w, struct worker_item *it);
/* Gives all of L's items at once, so they can be one batch; empties L. */
void worker_submit_list(struct worker *w, struct worker_list *l);

/* Readable exactly when completed items wait for worker_complete(). */
int worker_fd(struct worker *w);
/* Runs the waiting completions, oldest first; returns how many. */
size_t worker_complete(struct worker *w);

/* True while items are submitted but not yet finished running (completions
 * that wait do not count). */
bool worker_busy(struct worker *w);
/* True when nothing is submitted, running or waiting to be completed. */
bool worker_idle(struct worker *w);
/* Blocks until everything submitted, including what completions submit on
 * the way, has run and been completed. For shutdown and tests. */
void worker_drain(struct worker *w);

#endif
