/*
 * The inside of the queue library: the handle every back end shares, and the
 * vtable a back end (SQLite now, PostgreSQL later) fills in, curl-style, one
 * commented slot per operation. queue.c checks arguments and bounds, keeps
 * the batch bookkeeping and sends wake-ups after commits; a back end only
 * stores and reads. Nothing outside queue/ includes this header.
 */
#ifndef RB_QUEUE_BACKEND_H
#define RB_QUEUE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/* The handle behind struct queue *, for queue.c and the back ends. */
struct queue {
	const struct queue_backend *be;
	void *be_data; /* the back end's own state, owned by it */

	int64_t (*now_ms)(void *arg); /* NULL: the real clock */
	void *now_arg;

	/* Inside queue_batch_begin()/commit(): write calls join the batch. */
	bool in_batch;

	/*
	 * Channels written since the last wake-up was sent. A back end adds
	 * to it (queue_changed()) when a write succeeds; queue.c sends one
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
 * A back end. Every slot is required unless its comment says otherwise.
 * Arguments have been checked by queue.c (non-NULL where the public header
 * requires it, lengths within the limits in queue.h), so a back end returns
 * only 0, -ENOENT, -EAGAIN, -EBUSY, -EPERM, -EEXIST or -EIO, and logs -EIO
 * itself with the back end's error text.
 */
struct queue_backend {
	/* Short name for log lines: "sqlite". */
	const char *name;

	/* The URL prefix this back end takes ("sqlite:"); open() gets the
	 * rest of the URL. */
	const char *scheme;

	/* Opens LOCATION into q->be_data, creating the database and applying
	 * pending migrations. On failure leaves q->be_data NULL. */
	int (*open)(struct queue *q, const char *location);

	/* Frees q->be_data: statements, connection, wake-up socket (whose
	 * name it unlinks). Called once, also after a failed open(). */
	void (*close)(struct queue *q);

	/* The schema version the database is at. */
	int (*schema_version)(struct queue *q, int *version);

	/* Starts a write transaction that later calls join (q->in_batch is
	 * set by queue.c after this returns 0). */
	int (*batch_begin)(struct queue *q);

	/* Commits the batch; on failure the batch is rolled back. */
	int (*batch_commit)(struct queue *q);

	/* Drops the batch; never fails from the caller's point of view. */
	void (*batch_rollback)(struct queue *q);

	/* Registrations: see the matching functions in queue.h. put()
	 * returns -EEXIST when R->push_node belongs to another JID. */
	int (*registration_put)(struct queue *q,
	                        const struct queue_registration *r);
	/* Looks a row up by JID (BY_NODE false) or by push node. */
	int (*registration_get)(struct queue *q, const char *key, bool by_node,
	                        struct queue_registration *out);
	int (*registration_delete)(struct queue *q, const char *jid);
	int (*registration_foreach)(
	    struct queue *q,
	    int (*cb)(const struct queue_registration *r, void *arg),
	    void *arg);

	/* Jobs: see queue.h. */
	int (*message_enqueue)(struct queue *q,
	                       const struct queue_message_in *m,
	                       const struct queue_enqueue_limits *lim,
	                       int64_t *job_id, enum queue_enqueue_result *res);
	int (*verify_enqueue)(struct queue *q, const char *jid,
	                      const char *dest, const char *code,
	                      const char *lang, int64_t *job_id);
	int (*job_cancel_for)(struct queue *q, const char *callee_jid, int *n);
	int (*job_claim)(struct queue *q, const char *owner, int lease_ms,
	                 struct queue_job **jobp, int64_t *next_due_ms);
	int (*job_get)(struct queue *q, int64_t id, struct queue_job **jobp);
	int (*job_refresh_messages)(struct queue *q, struct queue_job *job,
	                            int after_seq);
	int (*job_lease_renew)(struct queue *q, int64_t id, const char *owner,
	                       int lease_ms);
	int (*job_leases_renew)(struct queue *q, const char *owner,
	                        int lease_ms, int *n);
	int (*job_retry)(struct queue *q, int64_t id, const char *owner,
	                 int64_t next_attempt_ms, const char *reason);
	int (*job_finish)(struct queue *q, int64_t id, const char *owner,
	                  enum queue_job_state state, const char *reason);
	int (*job_foreach)(struct queue *q, const struct queue_job_filter *f,
	                   int (*cb)(const struct queue_job *job, void *arg),
	                   void *arg);

	/* Events: see queue.h. */
	int (*event_add)(struct queue *q, int64_t job_id,
	                 enum queue_event_type type, const char *detail,
	                 const void *blob, size_t blob_len, int64_t *event_id);
	int (*event_fetch_undelivered)(struct queue *q, int limit,
	                               struct queue_event **evs, size_t *n);
	int (*event_fetch_for_job)(struct queue *q, int64_t job_id,
	                           struct queue_event **evs, size_t *n);
	int (*event_mark_delivered)(struct queue *q, const int64_t *ids,
	                            size_t n);

	/* Presence rows: see queue.h. */
	int (*presence_set)(struct queue *q, const char *jid,
	                    const char *source, const char *state,
	                    const char *status);
	int (*presence_get)(struct queue *q, const char *jid,
	                    const char *source, char **state, char **status,
	                    int64_t *updated_ms);
	int (*presence_foreach)(
	    struct queue *q, const char *source, int64_t since_ms,
	    int (*cb)(const struct queue_presence *p, void *arg), void *arg);

	/* Gateway-contact subscriptions: see queue.h. */
	int (*gwsub_add)(struct queue *q, const char *contact,
	                 const char *subscriber, const char *user_jid);
	int (*gwsub_remove)(struct queue *q, const char *contact,
	                    const char *subscriber);
	int (*gwsub_exists)(struct queue *q, const char *contact,
	                    const char *subscriber);
	int (*gwsub_count)(struct queue *q, const char *contact, int *count);
	int (*gwsub_foreach)(struct queue *q, const char *user_jid,
	                     int (*cb)(const char *contact,
	                               const char *subscriber,
	                               const char *user_jid, void *arg),
	                     void *arg);

	/* Named leases: see queue.h. */
	int (*lease_acquire)(struct queue *q, const char *name,
	                     const char *owner, int lease_ms);
	int (*lease_release)(struct queue *q, const char *name,
	                     const char *owner);

	/* The component's status row: see queue.h. get() fills every field
	 * (the caller clears it). */
	int (*component_status_put)(struct queue *q,
	                            const struct queue_component_status *s);
	int (*component_status_get)(struct queue *q, const char *component,
	                            struct queue_component_status *out);

	/* The bridges' status rows: see queue.h. */
	int (*bridge_status_put)(struct queue *q,
	                         const struct queue_bridge_status *s);
	int (*bridge_status_remove)(struct queue *q, const char *owner);
	int (*bridge_status_foreach)(
	    struct queue *q, int64_t since_ms,
	    int (*cb)(const struct queue_bridge_status *s, void *arg),
	    void *arg);

	/* Counts jobs of any kind created since SINCE_MS for CALLEE, or for
	 * SENDER when CALLEE is NULL. */
	int (*jobs_created_since)(struct queue *q, const char *callee_jid,
	                          const char *sender_jid, int64_t since_ms,
	                          int *count);

	/* Wake-ups. listen() returns a descriptor owned by the back end that
	 * becomes readable when another handle notifies a channel in MASK;
	 * a second call widens the mask and returns the same descriptor. */
	int (*wake_listen)(struct queue *q, unsigned mask, int *fd);

	/* Reads every pending notification without blocking; *CHANNELS gets
	 * the union (0 when none was pending). */
	int (*wake_drain)(struct queue *q, unsigned *channels);

	/* Tells other handles' listeners of any channel in CHANNELS; best
	 * effort, returns 0 unless nothing could be tried at all. */
	int (*notify)(struct queue *q, unsigned channels);
};

extern const struct queue_backend queue_backend_sqlite;

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

/* Small helpers shared by back ends. */

/* strdup() that passes NULL through; *ERR set to -ENOMEM on failure. */
char *queue_strdup_or_null(const char *s, int *err);

#endif
