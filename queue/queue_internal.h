/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The inside of the queue library: the handle, and the functions the rules
 * files (jobs.c, events.c, registrations.c, presence.c, status.c) give
 * queue.c, one per public call. queue.c checks arguments and bounds, keeps
 * the batch bookkeeping and sends wake-ups after commits; the rules decide,
 * through database.h, on top of an engine (engine.h) that only stores and
 * reads. Nothing outside queue/ includes this header.
 */
#ifndef RB_QUEUE_INTERNAL_H
#define RB_QUEUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "queue.h"

/* The handle behind struct queue *. */
struct queue {
	const struct engine_ops *ops;
	struct engine *engine; /* the engine's own state, owned by it */

	int64_t (*now_ms)(void *arg); /* NULL: the engine's clock */
	void *now_arg;

	/* Inside queue_batch_begin()/commit(): write calls join the batch. */
	bool in_batch;
	/* A replayable batch on an engine whose savepoints are dear: its
	 * calls run without one, and BATCH_ERR is the first that failed (0:
	 * none), after which the batch can only be rolled back. */
	bool batch_bare;
	int batch_err;
	/* In such a batch: the current call changed rows or had a statement
	 * fail, so its failure fails the batch. */
	bool call_dirty;

	/*
	 * Channels written since the last wake-up was sent. A rule adds to
	 * it (queue_changed()) when a write succeeds; queue.c sends one
	 * wake-up for the union after the call's commit, or at batch commit.
	 */
	unsigned changed;
};

/* Records that a committed (or batched) write touched CHANNELS. */
static inline void queue_changed(struct queue *q, unsigned channels)
{
	q->changed |= channels;
}

/*
 * The rules, by table. Arguments have been checked by queue.c (non-NULL
 * where the public header requires it, lengths within the limits in
 * queue.h), so these return only 0, -ENOENT, -EAGAIN, -EBUSY, -EPERM,
 * -EEXIST, -ENOMEM or -EIO (logged by the engine).
 */

/* registrations.c. put() returns -EEXIST when R->push_node belongs to
 * another JID; get() looks a row up by JID (BY_NODE false) or push node. */
int registrations_put(struct queue *q, const struct queue_registration *r);
int registrations_get(struct queue *q, const char *key, bool by_node,
                      struct queue_registration *out);
int registrations_delete(struct queue *q, const char *jid);
/* The verified users with a SIP presence address (queue.h's
 * queue_presence_users_foreach). */
int registrations_presence_users(struct queue *q,
                                 int (*cb)(const char *jid,
                                           const char *sip_address, void *arg),
                                 void *arg);
int registrations_foreach(struct queue *q,
                          int (*cb)(const struct queue_registration *r,
                                    void *arg),
                          void *arg);
int registrations_search(struct queue *q, const char *needle, int limit,
                         int (*cb)(const struct queue_registration *r,
                                   void *arg),
                         void *arg);

/* jobs.c */
int jobs_message_enqueue(struct queue *q, const struct queue_message_in *m,
                         const struct queue_enqueue_limits *lim,
                         int64_t *job_id, enum queue_enqueue_result *res);
int jobs_verify_enqueue(struct queue *q, const char *jid, const char *dest,
                        const char *code, const char *lang, int64_t *job_id);
/* SEEN: only the queued message jobs still in their wait. */
int jobs_cancel_for(struct queue *q, const char *callee_jid, bool seen, int *n);
int jobs_claim(struct queue *q, const char *owner, int lease_ms,
               struct queue_job **jobp, int64_t *next_due_ms);
int jobs_get(struct queue *q, int64_t id, struct queue_job **jobp);
int jobs_refresh_messages(struct queue *q, struct queue_job *job,
                          int after_seq);
int jobs_lease_renew(struct queue *q, int64_t id, const char *owner,
                     int lease_ms);
int jobs_leases_renew(struct queue *q, const char *owner, int lease_ms, int *n);
/* *IDS (malloc'ed, NULL when none): the active jobs OWNER holds. */
int jobs_leases_held(struct queue *q, const char *owner, int64_t **ids,
                     size_t *n);
/*
 * Inside the caller's transaction: 0 when job ID is active under OWNER,
 * -EPERM when it is not (another took it over, or it ended), -ENOENT when
 * there is no such job; *KIND (may be NULL) the job's kind. The PostgreSQL
 * read locks the row, so the write after it sees the same owner.
 */
int jobs_owner_check(struct queue *q, int64_t id, const char *owner, int *kind);
/* Why a write on job ID made only if its caller holds the job matched
 * nothing: -ENOENT when there is no such job, else -EPERM. */
int jobs_refusal(struct queue *q, int64_t id);
/*
 * The owner check for OWNER's events: also 0 for a job OWNER ended itself
 * (the event after the finish), -EPERM for one given back or now another's.
 */
int jobs_writer_check(struct queue *q, int64_t id, const char *owner);
int jobs_retry(struct queue *q, int64_t id, const char *owner,
               int64_t next_attempt_ms, const char *reason);
int jobs_finish(struct queue *q, int64_t id, const char *owner,
                enum queue_job_state state, const char *reason);
int jobs_foreach(struct queue *q, const struct queue_job_filter *f,
                 int (*cb)(const struct queue_job *job, void *arg), void *arg);
/* Counts jobs of any kind created since SINCE_MS for CALLEE, or for
 * SENDER when CALLEE is NULL. */
int jobs_created_since(struct queue *q, const char *callee_jid,
                       const char *sender_jid, int64_t since_ms, int *count);
/* COUNTS[QUEUE_JOB_STATES]: the jobs in each state, one read. */
int jobs_count_by_state(struct queue *q, int64_t *counts);

/* events.c. insert() is the bare insert, inside the caller's transaction
 * (jobs.c ends a job with an event). */
int events_insert(struct queue *q, int64_t job_id, enum queue_event_type type,
                  const char *detail, const void *blob, size_t blob_len,
                  int64_t now);
/* OWNER NULL: any job; else refused (-EPERM) unless OWNER holds it. */
int events_add(struct queue *q, int64_t job_id, const char *owner,
               enum queue_event_type type, const char *detail, const void *blob,
               size_t blob_len, int64_t *event_id);
int events_fetch_undelivered(struct queue *q, int limit,
                             struct queue_event **evs, size_t *n);
int events_fetch_for_job(struct queue *q, int64_t job_id,
                         struct queue_event **evs, size_t *n);
int events_mark_delivered(struct queue *q, const int64_t *ids, size_t n);
/* COUNTS[i] (cleared by the caller) = CALLING events of hour FIRST_HOUR + i. */
int events_calls_per_hour(struct queue *q, int64_t first_hour, int64_t *counts,
                          size_t n);

/* presence.c: presence rows and gateway-contact subscriptions. */
int presence_row_set(struct queue *q, const char *jid, const char *source,
                     const char *state, const char *status);
int presence_row_get(struct queue *q, const char *jid, const char *source,
                     char **state, char **status, int64_t *updated_ms);
int presence_row_foreach(struct queue *q, const char *source, int64_t since_ms,
                         int (*cb)(const struct queue_presence *p, void *arg),
                         void *arg);
int gateway_subscription_add(struct queue *q, const char *contact,
                             const char *subscriber, const char *user_jid);
int gateway_subscription_remove(struct queue *q, const char *contact,
                                const char *subscriber);
int gateway_subscription_exists(struct queue *q, const char *contact,
                                const char *subscriber);
int gateway_subscription_count(struct queue *q, const char *contact,
                               int *count);
int gateway_subscription_foreach(struct queue *q, const char *user_jid,
                                 int (*cb)(const char *contact,
                                           const char *subscriber,
                                           const char *user_jid, void *arg),
                                 void *arg);

/* status.c: named leases, the component's and the bridges' status rows.
 * component_status_get() fills every field (the caller clears it). */
int leases_acquire(struct queue *q, const char *name, const char *owner,
                   int lease_ms);
int leases_release(struct queue *q, const char *name, const char *owner);
int leases_get(struct queue *q, const char *name, char **owner,
               int64_t *deadline_ms);
int component_status_put(struct queue *q,
                         const struct queue_component_status *s);
int component_status_get(struct queue *q, const char *component,
                         struct queue_component_status *out);
int bridge_status_put(struct queue *q, const struct queue_bridge_status *s);
int bridge_status_remove(struct queue *q, const char *owner);
int bridge_status_foreach(struct queue *q, int64_t since_ms,
                          int (*cb)(const struct queue_bridge_status *s,
                                    void *arg),
                          void *arg);

/*
 * Wake-ups through datagram sockets in a directory (queue_wake.c), for back
 * ends without a notification mechanism of their own (SQLite). Listeners
 * bind "<mask-hex>-<pid>-<random>.sock" in the directory; a notifier sends a
 * 4-byte channel mask to each socket whose mask matches.
 */
struct queue_wakedir {
	char *dir;       /* "<dbpath>.wake" */
	int listen_fd;   /* -1 until queue_wakedir_listen() */
	char *sock_name; /* our socket's name inside DIR, or NULL */
	unsigned mask;   /* channels we listen for */
	int send_fd;     /* unbound datagram socket for notifying, or -1 */
};

/* Prepares W for the database at DBPATH; opens nothing yet. */
int queue_wakedir_init(struct queue_wakedir *w, const char *dbpath);
/* Closes W's sockets and unlinks its own socket; W can be re-initialised. */
void queue_wakedir_close(struct queue_wakedir *w);
int queue_wakedir_listen(struct queue_wakedir *w, unsigned mask, int *fd);
int queue_wakedir_drain(struct queue_wakedir *w, unsigned *channels);
int queue_wakedir_notify(struct queue_wakedir *w, unsigned channels);

#endif
