/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's writer thread. Caught messages, and the other writes
 * given to store_call, are committed here in batches on a queue handle of
 * the thread's own, so a burst costs one fsync and the event loop never
 * waits for the disk. The loop submits items
 * as handlers decide them, hands the accumulated batch over once per pass
 * (store_flush), and runs each item's completion on its own thread when the
 * store's fd becomes readable (store_complete).
 */
#ifndef RB_STORE_H
#define RB_STORE_H

#include <stdbool.h>

#include "queue.h"

struct store;
struct comp;

typedef void (*store_done_cb)(struct comp *c, enum queue_enqueue_result r,
                              int64_t job_id, int err, void *arg);

int store_new(struct store **sp, struct comp *c, const char *url);
/* Commits what is pending, stops the thread, frees. NULL-safe. */
void store_free(struct store *s);

/* Readable when completions are ready. */
int store_fd(struct store *s);

/*
 * Queues message M (copied) with limits LIM; DONE runs on the loop's thread
 * after the batch holding it committed (err 0) or failed (err < 0).
 */
void store_submit(struct store *s, const struct queue_message_in *m,
                  const struct queue_enqueue_limits *lim, store_done_cb done,
                  void *arg);

typedef int (*store_call_fn)(struct queue *q, void *arg);
typedef void (*store_call_done_cb)(struct comp *c, int err, void *arg);

/*
 * Runs FN(Q, ARG) on the writer's thread and handle, in order with the
 * caught messages and inside their batch's transaction (so FN must not
 * begin one of its own); DONE runs on the loop's thread afterwards with
 * FN's result, or the batch's when its commit failed (FN's writes are then
 * gone). ARG stays the caller's: it must not be touched between the call
 * and DONE. The component's other writes use this to keep their commits
 * off the loop.
 */
void store_call(struct store *s, store_call_fn fn, void *arg,
                store_call_done_cb done);

/* Hands the submitted items to the writer if it is free and the batch is
 * due (full, or its oldest item has waited the commit delay). */
void store_flush(struct store *s);
/* The same without waiting for the batch to be due. */
void store_flush_now(struct store *s);
/* Runs the completions of committed batches. */
void store_complete(struct store *s);
/* True when nothing is submitted, in flight or awaiting completion. */
bool store_idle(struct store *s);
/* Blocks until everything submitted is committed (for shutdown). */
void store_drain(struct store *s);
/* Logs how many messages were committed, in how many commits, and the
 * push-to-commit latency percentiles (also done by store_free). */
void store_stats_log(struct store *s);

#endif
