/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's queue writer: a thread with a queue handle of its own that
 * runs the bridge's queue calls (claims, events, lease renewals, retries,
 * finishes, message refreshes) so that no SQLite commit and its fsync ever
 * runs on the su_root loop. Calls run strictly in submission order (one
 * FIFO, one thread), so a call's events are always written before its job
 * is finished; whatever queued up while the disk synced is committed
 * together in one transaction. Results come back through the worker
 * primitive's fd (common/worker.h): the loop calls dbw_complete() when
 * dbw_fd() is readable, which runs each item's completion, in order, on the
 * loop's thread.
 */
#ifndef RB_SIP_QUEUE_WRITER_H
#define RB_SIP_QUEUE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

struct dbw;

enum dbw_op {
	DBW_CLAIM = 1,
	DBW_EVENT,
	DBW_RETRY,
	DBW_FINISH,
	DBW_REFRESH,
	DBW_CALL, /* the submitter's function (presence.c) */
	DBW_RENEW_ALL,
};

/* What a completion receives; valid only during the completion. */
struct dbw_result {
	enum dbw_op op;
	int err;        /* 0 or the queue call's negative errno */
	int64_t job_id; /* the job written (0 for a claim that found none) */
	uint64_t tag;   /* the submitter's, e.g. the call's serial */
	/*
	 * DBW_CLAIM: the claimed job; DBW_REFRESH: a job holding only the
	 * messages read. The completion may take it (and set this to NULL);
	 * otherwise it is freed after the completion.
	 */
	struct queue_job *job;
	void *arg; /* DBW_CALL: the submitter's argument, still its own */
	int count; /* DBW_RENEW_ALL: the leases renewed */
	/* DBW_RENEW_ALL: the jobs the owner holds after the renewal, by id
	 * (the writer's: valid during the completion only). */
	const int64_t *held;
	size_t n_held;
};

typedef void (*dbw_done_cb)(void *ctx, struct dbw_result *r);

/* Opens the writer's own handle on URL and starts its thread; CTX is
 * passed to every completion. */
int dbw_new(struct dbw **wp, const char *url, void *ctx);
/* Runs everything submitted (and what its completions submit), stops the
 * thread, closes the handle. Blocks: for shutdown only. NULL-safe. */
void dbw_free(struct dbw *w);

/* Readable when completions are waiting (an eventfd owned by W). */
int dbw_fd(struct dbw *w);
/* Runs the waiting completions, oldest first. */
void dbw_complete(struct dbw *w);

/*
 * The submissions. Strings are copied; DONE (may be NULL: failures are
 * then logged here) runs on the loop after the item's transaction ended.
 * NOTIFY is a queue_channel mask told after a successful write.
 */
void dbw_job_claim(struct dbw *w, const char *owner, int lease_ms,
                   dbw_done_cb done, uint64_t tag);
/* BLOB (may be NULL) is taken: the writer frees it. Refused (-EPERM)
 * unless OWNER holds JOB_ID's lease (queue_event_add_held). */
void dbw_event_add(struct dbw *w, int64_t job_id, const char *owner,
                   enum queue_event_type type, const char *detail,
                   unsigned char *blob, size_t blob_len, dbw_done_cb done,
                   uint64_t tag);
/* Renews every lease OWNER holds, in one commit (queue_job_leases_renew),
 * and reads which jobs OWNER still holds (queue_job_leases_held). */
void dbw_job_leases_renew(struct dbw *w, const char *owner, int lease_ms,
                          dbw_done_cb done, uint64_t tag);
void dbw_job_retry(struct dbw *w, int64_t job_id, const char *owner,
                   int64_t next_attempt_ms, const char *reason, unsigned notify,
                   dbw_done_cb done, uint64_t tag);
void dbw_job_finish(struct dbw *w, int64_t job_id, const char *owner,
                    enum queue_job_state state, const char *reason,
                    dbw_done_cb done, uint64_t tag);
/* Reads the messages of JOB_ID after AFTER_SEQ into the result's job. */
void dbw_job_refresh_messages(struct dbw *w, int64_t job_id, int after_seq,
                              dbw_done_cb done, uint64_t tag);

/*
 * Runs FN(q, ARG) on the writer's thread and handle, in order with the
 * rest (inside a batch it joins the batch's transaction, and may run again
 * if the batch's commit fails: FN must reset what it produces). ARG stays
 * the submitter's; its result comes back as r->err and r->arg.
 */
void dbw_call(struct dbw *w, int (*fn)(struct queue *q, void *arg), void *arg,
              dbw_done_cb done, uint64_t tag);

#endif
