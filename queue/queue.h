/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The durable queue between ringbridge-component and ringbridge-sip, and the
 * only vocabulary they share (ARCHITECTURE.md "What the queue holds"). Calls
 * are synchronous and each is one transaction, except inside
 * queue_batch_begin()/queue_batch_commit(), where many enqueues share one
 * commit (one fsync for a burst). The rules behind these calls are written
 * once (jobs.c, events.c, ...) above a small engine interface (engine.h;
 * SQLite now, PostgreSQL later); callers see only this header.
 *
 * Ownership: strings passed in are copied; structures returned through
 * out-parameters belong to the caller and are freed with the matching
 * *_free() or *_clear() call. Times are milliseconds since the Unix epoch.
 * Errors are negative errno values: -ENOENT (no such row), -EAGAIN (nothing
 * to claim), -EBUSY (the database stayed locked past the busy timeout),
 * -EPERM (a lease held by someone else), -EIO (the back end failed; logged).
 */
#ifndef RB_QUEUE_H
#define RB_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue;

/*
 * The longest inputs accepted, in bytes without the NUL; a longer one is
 * refused with -EINVAL (callers shorten user content before it gets here).
 */
/* JIDs (RFC 7622: three parts of up to 1023 bytes each). */
#define QUEUE_JID_MAX 3071
/* A message body. */
#define QUEUE_BODY_MAX (64 * 1024)
/* Event details, reasons, presence status, display names, idempotency keys. */
#define QUEUE_DETAIL_MAX 4096
/* An event's blob (a voice reply's audio). */
#define QUEUE_BLOB_MAX (16 * 1024 * 1024)
/* Destinations, zones, languages, codes, owners, lease and push node names,
 * presence sources and states. */
#define QUEUE_TOKEN_MAX 1023

/*
 * Opens (creating when needed) the queue at URL ("sqlite:PATH", or a libpq
 * URI "postgresql://user@host:port/db?sslmode=..."), applying pending
 * schema migrations. The handle is for one thread at a time.
 */
int queue_open(struct queue **qp, const char *url);

/*
 * The file holding the PostgreSQL password ([queue] password_file) for
 * every queue_open() after this call; NULL or "" for none. A password in
 * the URL wins over it; with neither, libpq reads PGPASSFILE. Call it once
 * at start, before any thread opens a queue (the path is copied).
 */
int queue_password_file_set(const char *path);
void queue_close(struct queue *q);

/* For tests: replaces the clock (milliseconds since the epoch). */
void queue_clock_set(struct queue *q, int64_t (*now_ms)(void *), void *arg);
int64_t queue_now_ms(struct queue *q);

/* The schema version the open database is at. */
int queue_schema_version(struct queue *q, int *version);

/*
 * Prepares every statement of the queue's engine against the open
 * database's schema (statements are otherwise prepared at their first use,
 * and some are used by one engine's rules only): 0, or the first error,
 * which the engine logs with the statement's text. *COUNT: how many were
 * prepared.
 */
int queue_statements_check(struct queue *q, int *count);

/* ---- group commit ---------------------------------------------------- */

/*
 * Starts a write transaction that the following write calls join, until
 * queue_batch_commit() commits them all at once (or queue_batch_rollback()
 * drops them). A failed call inside a batch leaves the batch usable.
 */
int queue_batch_begin(struct queue *q);
int queue_batch_commit(struct queue *q);
void queue_batch_rollback(struct queue *q);
/*
 * As queue_batch_begin(), for a caller that keeps its calls and can run
 * them again one by one (the component's store, the bridge's writer). Where
 * a savepoint per call is dear (PostgreSQL: a subtransaction each) the
 * calls run without one, so the first call that fails after it wrote (or
 * had a statement refused) fails the batch: the calls after it return
 * -ECANCELED without running, and queue_batch_commit()
 * rolls everything back and returns -ERESTART, upon which the caller runs
 * each call again alone. Where savepoints are cheap (SQLite) it is
 * queue_batch_begin().
 */
int queue_batch_begin_replayable(struct queue *q);

/* ---- registrations: the component's own table ------------------------- */

/*
 * A user's voicemail gate ("press any key" before the message is read).
 * DEFAULT follows the bridge's [calls] gate. Set it explicitly: a zeroed
 * struct means OFF, which is the unsafe choice.
 */
#define QUEUE_GATE_DEFAULT (-1)
#define QUEUE_GATE_OFF     0
#define QUEUE_GATE_ON      1

/*
 * Numbers per user, tried in order (issue 12): phone first, then
 * phone_more[0], phone_more[1]. Each is verified on its own.
 */
#define QUEUE_PHONES_MAX 3

#define QUEUE_WAIT_MINUTES_MAX 1440
#define QUEUE_QUIET_DEFER      0 /* called when quiet hours end */
#define QUEUE_QUIET_DROP       1 /* never called */

enum queue_call_when {
	QUEUE_CALL_OFFLINE = 0, /* only when no resource is available */
	QUEUE_CALL_AWAY = 1,    /* also when every resource is away/xa/dnd */
};

struct queue_registration {
	char *jid;   /* bare JID: the key */
	char *phone; /* canonical: "+E164" or a sip:/sips: URI */
	bool verified;
	char *verify_code; /* digits awaiting entry, NULL when none */
	int verify_failures;
	char *tz;   /* IANA zone name, NULL for UTC */
	char *lang; /* BCP 47 tag, NULL for "en" */
	enum queue_call_when call_when;
	int quiet_start; /* minute of day, -1 for none */
	int quiet_end;   /* minute of day */
	bool roster_only;
	char *sip_presence; /* SIP address for presence, NULL: derive */
	char *push_node;    /* the node given to the server's push service */
	int64_t created_ms;
	int64_t updated_ms;
	int gate; /* QUEUE_GATE_*: the voicemail gate before the message */
	/* The second and third numbers (canonical, NULL: none) and whether
	 * each was verified; a NULL number is never verified. */
	char *phone_more[QUEUE_PHONES_MAX - 1];
	bool verified_more[QUEUE_PHONES_MAX - 1];
	/* Wait this long for the user to come online before calling
	 * (0: call at once), 0 to QUEUE_WAIT_MINUTES_MAX. */
	int wait_minutes;
	/* Senders who ring through quiet hours: bare JIDs or domains, one
	 * per line (NULL: none), and what quiet hours do to the others. */
	char *ring_through;
	int quiet_mode; /* QUEUE_QUIET_* */
};

/* Inserts or replaces the row with R->jid; created_ms is kept on replace. */
int queue_registration_put(struct queue *q, const struct queue_registration *r);
int queue_registration_get(struct queue *q, const char *jid,
                           struct queue_registration *out);
int queue_registration_get_by_node(struct queue *q, const char *push_node,
                                   struct queue_registration *out);
int queue_registration_delete(struct queue *q, const char *jid);
/* Calls CB for every row in JID order; a non-zero return stops and is
 * returned. The row passed is only valid during the call. */
int queue_registration_foreach(struct queue *q,
                               int (*cb)(const struct queue_registration *r,
                                         void *arg),
                               void *arg);
void queue_registration_clear(struct queue_registration *r);
/*
 * Like queue_registration_foreach(), for operators: only the rows whose JID
 * or phone contains NEEDLE (a plain substring, ASCII case folded; NULL: every
 * row), at most LIMIT (1 to QUEUE_SEARCH_MAX) of them. Read-only.
 */
#define QUEUE_SEARCH_MAX 1000
int queue_registration_search(struct queue *q, const char *needle, int limit,
                              int (*cb)(const struct queue_registration *r,
                                        void *arg),
                              void *arg);

/* ---- jobs ------------------------------------------------------------- */

enum queue_job_kind {
	QUEUE_JOB_MESSAGE = 1, /* read messages to the callee */
	QUEUE_JOB_VERIFY = 2,  /* speak a verification code */
};

enum queue_job_state {
	QUEUE_JOB_QUEUED = 0,    /* waiting for next_attempt/not_before */
	QUEUE_JOB_ACTIVE = 1,    /* claimed: a bridge holds the lease */
	QUEUE_JOB_NOTIFIED = 2,  /* done: the callee heard it */
	QUEUE_JOB_FAILED = 3,    /* done: attempts ran out or rejected */
	QUEUE_JOB_CANCELLED = 4, /* done: withdrawn (user unregistered...) */
};

const char *queue_job_state_name(enum queue_job_state s);
const char *queue_job_kind_name(enum queue_job_kind k);

/* One caught message, with the snapshot a new job takes from it. */
struct queue_message_in {
	const char *callee_jid;  /* who is phoned (bare JID or gateway addr) */
	const char *sender_jid;  /* bare JID of who wrote */
	const char *sender_name; /* display name to speak */
	const char *reply_from;  /* the address the sender wrote to */
	const char *body;        /* already shortened to the policy limit */
	bool encrypted;          /* body is an encryption fallback: not read */
	int64_t received_ms;
	const char *idem_key;    /* unique per message; a repeat is a no-op */
	const char *destination; /* canonical +E164 or SIP URI */
	const char *tz;          /* callee's zone, NULL for UTC */
	const char *lang;        /* callee's language, NULL for "en" */
	int gate;                /* QUEUE_GATE_*: the callee's setting */
	/* Further verified numbers to try after DESTINATION, in order
	 * (NULL: none; a NULL ends the list). */
	const char *destination_more[QUEUE_PHONES_MAX - 1];
	/* A new job is not called before this (0: at once; the coalescing
	 * window may push it later). */
	int64_t not_before_ms;
	/* The end of the "unless already seen" wait: queue_job_cancel_seen()
	 * cancels the job until then (0: no wait). */
	int64_t seen_until_ms;
};

struct queue_enqueue_limits {
	int coalesce_seconds;    /* a new job waits this long after the last */
	int per_callee_per_hour; /* new jobs per callee per hour, 0: none */
	int per_sender_per_hour; /* new jobs per sender per hour, 0: none */
};

enum queue_enqueue_result {
	QUEUE_ENQ_NEW_JOB = 0,      /* a new job was created for this message */
	QUEUE_ENQ_JOINED = 1,       /* joined the sender's open job */
	QUEUE_ENQ_DUPLICATE = 2,    /* idem_key seen before: nothing done */
	QUEUE_ENQ_LIMIT_CALLEE = 3, /* refused: callee's hourly limit */
	QUEUE_ENQ_LIMIT_SENDER = 4, /* refused: sender's hourly limit */
	QUEUE_ENQ_PAUSED = 5,       /* refused: the callee pressed 9 for this
	                               sender today (queue_pause_add) */
};

const char *queue_enqueue_result_name(enum queue_enqueue_result r);

/*
 * Adds M to the open (queued or active) job of the same callee and sender,
 * or creates a new job whose not_before is the end of the coalescing window
 * after that pair's last finished job. *JOB_ID is set unless refused.
 */
int queue_message_enqueue(struct queue *q, const struct queue_message_in *m,
                          const struct queue_enqueue_limits *lim,
                          int64_t *job_id, enum queue_enqueue_result *res);

/* Queues a call that speaks CODE to DEST for JID's verification. */
int queue_verify_enqueue(struct queue *q, const char *jid, const char *dest,
                         const char *code, const char *lang, int64_t *job_id);

/* Cancels JID's unfinished jobs (e.g. on unregistration); *N how many. */
int queue_job_cancel_for(struct queue *q, const char *callee_jid, int *n);

/*
 * The callee came online: cancels JID's queued message jobs still in their
 * wait (seen_until_ms after now), without an event (the sender is told
 * nothing); *N (may be NULL) how many.
 */
int queue_job_cancel_seen(struct queue *q, const char *callee_jid, int *n);

struct queue_job_message {
	int64_t id;
	int seq; /* 1, 2, ... in arrival order within the job */
	char *sender_jid;
	char *body;
	bool encrypted;
	bool heard;
	int64_t received_ms;
};

struct queue_job {
	int64_t id;
	enum queue_job_kind kind;
	enum queue_job_state state;
	char *callee_jid;
	char *destination;
	char *tz;
	char *lang;
	char *sender_jid;
	char *sender_name;
	char *reply_from;
	char *verify_code;
	int attempts; /* calls started so far, including the current one */
	int64_t created_ms;
	int64_t not_before_ms;
	int64_t next_attempt_ms;
	char *lease_owner;
	int64_t lease_deadline_ms;
	char *last_reason;
	int64_t finished_ms;
	int gate; /* QUEUE_GATE_*, copied from the message's snapshot */
	char *destination_more[QUEUE_PHONES_MAX - 1]; /* NULL: none */
	int64_t seen_until_ms; /* the wait's end; 0: none */
	struct queue_job_message *messages;
	size_t n_messages;
};

void queue_job_free(struct queue_job *job);

/* How many numbers JOB tries (1 to QUEUE_PHONES_MAX), and the Ith of them
 * (0: destination); the string stays JOB's. */
int queue_job_destinations(const struct queue_job *job);
const char *queue_job_destination_at(const struct queue_job *job, int i);

/*
 * Claims the oldest due job for OWNER with a lease of LEASE_MS: a queued job
 * whose next_attempt and not_before have passed, or an active one whose
 * lease has expired. An expired job whose messages were all heard (an
 * earlier "heard" event) is finished as notified instead of being claimed
 * again. Increments attempts. -EAGAIN when nothing is due; *NEXT_DUE_MS (if
 * not NULL) is then the earliest future due time, or 0.
 */
int queue_job_claim(struct queue *q, const char *owner, int lease_ms,
                    struct queue_job **jobp, int64_t *next_due_ms);

/* Re-reads job ID (with its messages); for ctl and for tests. */
int queue_job_get(struct queue *q, int64_t id, struct queue_job **jobp);

/* Messages that joined job ID after AFTER_SEQ, appended to JOB. */
int queue_job_refresh_messages(struct queue *q, struct queue_job *job,
                               int after_seq);

/* Extends OWNER's lease; -EPERM when the lease is no longer OWNER's. */
int queue_job_lease_renew(struct queue *q, int64_t id, const char *owner,
                          int lease_ms);
/*
 * Extends, in one transaction, the lease of every active job OWNER holds to
 * now + LEASE_MS; *N (may be NULL) gets how many. A job whose lease another
 * owner took over (or that was cancelled) is not OWNER's and is left alone.
 */
int queue_job_leases_renew(struct queue *q, const char *owner, int lease_ms,
                           int *n);
/*
 * The active jobs OWNER holds, by id, into *IDS (malloc'ed, the caller
 * frees; NULL when none). A bridge compares it with its calls: a call
 * whose job is missing was taken over (or cancelled) and is hung up.
 */
int queue_job_leases_held(struct queue *q, const char *owner, int64_t **ids,
                          size_t *n);

/* Gives the job back to be tried again at NEXT_ATTEMPT_MS. */
int queue_job_retry(struct queue *q, int64_t id, const char *owner,
                    int64_t next_attempt_ms, const char *reason);

/*
 * Ends the job in STATE (notified, failed or cancelled). Messages that were
 * never heard move to a new queued job of the same pair, so a message that
 * joined at the last moment is still read.
 */
int queue_job_finish(struct queue *q, int64_t id, const char *owner,
                     enum queue_job_state state, const char *reason);

struct queue_job_filter {
	const char *callee_jid; /* NULL: all */
	bool unfinished_only;
	int limit;          /* 0: 100 */
	bool finished_only; /* notified, failed or cancelled jobs only */
};

/* Jobs in creation order, newest last; each passed job is freed after CB. */
int queue_job_foreach(struct queue *q, const struct queue_job_filter *f,
                      int (*cb)(const struct queue_job *job, void *arg),
                      void *arg);

/* ---- events: written by the bridge, delivered by the component -------- */

enum queue_event_type {
	QUEUE_EV_CALLING = 1,       /* INVITE sent; detail: attempt number */
	QUEUE_EV_ANSWERED = 2,      /* detail: codec */
	QUEUE_EV_HEARD = 3,         /* detail: last message seq heard in full */
	QUEUE_EV_KEY = 4,           /* detail: the key, "1".."9","0","*","#" */
	QUEUE_EV_VOICE = 5,         /* detail: MIME type; blob: the audio */
	QUEUE_EV_FAILED = 6,        /* detail: the reason in words */
	QUEUE_EV_ENDED = 7,         /* detail: final job state name */
	QUEUE_EV_VERIFY_SPOKEN = 8, /* the code was spoken in full */
	/* Answered, but no key at the voicemail gate: nothing private was
	 * read. Detail: "gate". The attempt counts as not heard. */
	QUEUE_EV_UNHEARD = 9,
};

const char *queue_event_type_name(enum queue_event_type t);

struct queue_event {
	int64_t id;
	int64_t job_id;
	enum queue_event_type type;
	char *detail;
	unsigned char *blob;
	size_t blob_len;
	int64_t created_ms;
	/* from the job, for the component's convenience */
	enum queue_job_kind job_kind;
	char *callee_jid;
	char *sender_jid;
	char *reply_from;
};

/* Writes an event; a HEARD event marks messages up to its seq heard. */
int queue_event_add(struct queue *q, int64_t job_id, enum queue_event_type type,
                    const char *detail, const void *blob, size_t blob_len,
                    int64_t *event_id);
/*
 * The same, written by OWNER about a job it calls: refused with -EPERM,
 * nothing written, unless OWNER holds the job's lease or was the one who
 * ended it (the ENDED event follows the finish). A bridge
 * that lost its lease (cut off from the database while another took the
 * job) thus cannot mark as heard what the new call has not read.
 */
int queue_event_add_held(struct queue *q, int64_t job_id, const char *owner,
                         enum queue_event_type type, const char *detail,
                         const void *blob, size_t blob_len, int64_t *event_id);

/* Up to LIMIT undelivered events, oldest first, into a new array. */
int queue_event_fetch_undelivered(struct queue *q, int limit,
                                  struct queue_event **evs, size_t *n);
void queue_event_array_free(struct queue_event *evs, size_t n);
int queue_event_mark_delivered(struct queue *q, const int64_t *ids, size_t n);
/* Every event of job JOB_ID, delivered or not, oldest first. */
int queue_event_fetch_for_job(struct queue *q, int64_t job_id,
                              struct queue_event **evs, size_t *n);

/* ---- presence: latest-wins rows ----------------------------------------- */

/* SOURCE is "xmpp" or "sip"; STATE a short token; STATUS free text or NULL. */
int queue_presence_set(struct queue *q, const char *jid, const char *source,
                       const char *state, const char *status);
int queue_presence_get(struct queue *q, const char *jid, const char *source,
                       char **state, char **status, int64_t *updated_ms);

struct queue_presence {
	char *jid;
	char *source;
	char *state;
	char *status; /* NULL when none */
	int64_t updated_ms;
};

/*
 * Calls CB for every row of SOURCE updated at or after SINCE_MS (0: all), in
 * updated order; a non-zero return stops and is returned. The row passed is
 * only valid during the call. Rows written in the same millisecond as
 * SINCE_MS come again on the next call: callers compare with what they hold.
 */
int queue_presence_foreach(struct queue *q, const char *source,
                           int64_t since_ms,
                           int (*cb)(const struct queue_presence *p, void *arg),
                           void *arg);

/*
 * Calls CB(JID, SIP address) for every verified registration that takes
 * part in presence: its sip_presence setting, else its phone when that is a
 * sip:/sips: URI (docs/presence.md). The bridge's only view of the
 * registrations table; the strings are valid only during the call.
 */
int queue_presence_users_foreach(struct queue *q,
                                 int (*cb)(const char *jid,
                                           const char *sip_address, void *arg),
                                 void *arg);

/*
 * The presence contract's names. A job whose callee's "sip" row is
 * QUEUE_PRESENCE_ON_THE_PHONE is not claimed: it waits for the call to end
 * (whoever writes "idle" tells QUEUE_CH_JOBS as well as QUEUE_CH_PRESENCE).
 */
#define QUEUE_PRESENCE_SIP          "sip"
#define QUEUE_PRESENCE_XMPP         "xmpp"
#define QUEUE_PRESENCE_ON_THE_PHONE "on_the_phone"
#define QUEUE_PRESENCE_IDLE         "idle"

/* ---- gateway-contact presence subscriptions (the component's own) ------ */

/*
 * CONTACT is a gateway address at the component ("bob@callgw.example.org"),
 * SUBSCRIBER the bare JID that subscribed to its presence, USER_JID the user
 * the address names. Adding an existing pair is not an error (0); removing
 * a missing one gives -ENOENT.
 */
int queue_gwsub_add(struct queue *q, const char *contact,
                    const char *subscriber, const char *user_jid);
int queue_gwsub_remove(struct queue *q, const char *contact,
                       const char *subscriber);
/* 0 when SUBSCRIBER is subscribed to CONTACT, -ENOENT when not. */
int queue_gwsub_exists(struct queue *q, const char *contact,
                       const char *subscriber);
/* How many subscribers CONTACT has. */
int queue_gwsub_count(struct queue *q, const char *contact, int *count);
/* Calls CB for every subscription to an address of USER_JID (NULL: every
 * subscription), ordered by user, contact and subscriber; a non-zero
 * return stops and is returned. Strings are only valid during the call. */
int queue_gwsub_foreach(struct queue *q, const char *user_jid,
                        int (*cb)(const char *contact, const char *subscriber,
                                  const char *user_jid, void *arg),
                        void *arg);

/* ---- leases: work one process does at a time --------------------------- */

/* Takes or renews lease NAME for OWNER; -EPERM while another holds it. */
int queue_lease_acquire(struct queue *q, const char *name, const char *owner,
                        int lease_ms);
int queue_lease_release(struct queue *q, const char *name, const char *owner);
/* Who holds lease NAME and until when: *OWNER is malloc'ed (the caller frees
 * it; NULL if the row has none). -ENOENT when it was never taken or was
 * released. The deadline may have passed: compare with queue_now_ms(). */
int queue_lease_get(struct queue *q, const char *name, char **owner,
                    int64_t *deadline_ms);

/* ---- copying a queue into another (ringbridgectl migrate-queue) -------- */

/* How many tables queue_copy() copies, and what it did with each. */
#define QUEUE_COPY_TABLES 9
struct queue_copy_count {
	const char *table; /* static */
	int64_t copied;    /* rows written to the target */
	int64_t skipped;   /* rows the target already had (same key) */
};

/*
 * Copies every durable row of FROM into TO (any engines; ids kept), in one
 * transaction on TO: on failure TO is left as it was. Refused with
 * -ENOTEMPTY when TO holds rows, unless INTO_NON_EMPTY (then rows whose key
 * TO already has are skipped, so a copy run again adds what is missing);
 * -EPROTO when either is at a schema this build cannot copy. Leases and
 * the processes' status rows are not copied: stop every process first.
 * COUNTS has room for *N_COUNTS (at least QUEUE_COPY_TABLES) entries;
 * *N_COUNTS becomes how many were filled.
 */
int queue_copy(struct queue *from, struct queue *to, bool into_non_empty,
               struct queue_copy_count *counts, size_t *n_counts);

/* ---- the component's status, for operators ------------------------------ */

/*
 * What the running component reports about its XMPP session, so that
 * `ringbridgectl check` can tell without opening a second session (which
 * the server would refuse, or, configured so, use to drop the first).
 * PRIVILEGES holds one line per served domain: "DOMAIN NS name=yes|no ...".
 */
struct queue_component_status {
	char *component;      /* the component's JID */
	char *owner;          /* "host:pid" of the process writing it */
	int64_t connected_ms; /* when the session started; 0: disconnected */
	int64_t heartbeat_ms; /* when it was last written (set by the queue) */
	char *privileges;     /* NULL until the server advertised any */
	bool stopped;         /* put: the process is exiting (heartbeat 0) */
};

/* Writes S; heartbeat_ms is ignored: now is stored, or 0 when STOPPED. */
int queue_component_status_put(struct queue *q,
                               const struct queue_component_status *s);
/* Reads the row of COMPONENT into *OUT (cleared with
 * queue_component_status_clear); -ENOENT when none was ever written. */
int queue_component_status_get(struct queue *q, const char *component,
                               struct queue_component_status *out);
void queue_component_status_clear(struct queue_component_status *s);

/* ---- the bridges' heartbeats, for operators ------------------------------ */

/*
 * One row per running ringbridge-sip, keyed by its owner id, so that
 * `ringbridgectl check` can tell whether any bridge is there to place the
 * calls of the messages the component catches.
 */
struct queue_bridge_status {
	char *owner;        /* the bridge's owner id ("host:pid:random") */
	char *host;         /* its host name */
	int64_t pid;        /* its process id */
	int64_t started_ms; /* when it started */
	int64_t
	    heartbeat_ms;    /* when it last wrote the row (set by the queue) */
	int calls;           /* calls in progress */
	bool presence_lease; /* it holds the "presence" lease */
};

/* Writes S under S->owner, heartbeat now; also deletes rows whose
 * heartbeat is older than a day (bridges that died long ago). */
int queue_bridge_status_put(struct queue *q,
                            const struct queue_bridge_status *s);
/* Deletes OWNER's row (a bridge exiting); 0 when there was none. */
int queue_bridge_status_remove(struct queue *q, const char *owner);
/* Calls CB for every row whose heartbeat is at or after SINCE_MS, oldest
 * start first (rows older are expired: bridges that died); strings are
 * only valid during the call; a non-zero return stops and is returned. */
int queue_bridge_status_foreach(struct queue *q, int64_t since_ms,
                                int (*cb)(const struct queue_bridge_status *s,
                                          void *arg),
                                void *arg);

/* ---- counts for limits and for operators -------------------------------- */

/* Jobs created since SINCE_MS for CALLEE (or for SENDER when CALLEE is
 * NULL). */
int queue_jobs_created_since(struct queue *q, const char *callee_jid,
                             const char *sender_jid, int64_t since_ms,
                             int *count);

/* How many kinds of job state there are (the values of queue_job_state). */
#define QUEUE_JOB_STATES 5
/* COUNTS[state] = the jobs in each state, from one read (no write, no
 * lock held past the statement). For /metrics and operators. */
int queue_jobs_count_by_state(struct queue *q,
                              int64_t counts[QUEUE_JOB_STATES]);

/*
 * COUNTS[i] = the calls placed (CALLING events: one per INVITE, so a retry
 * counts again) during UTC hour FIRST_HOUR + i, hours counted since the
 * epoch (ms / 3600000), for I below N (at most 24 * 31). Read-only, from an
 * index.
 */
int queue_calls_per_hour(struct queue *q, int64_t first_hour, int64_t *counts,
                         size_t n);

/* ---- archive marks (component/missed.c) ---------------------------------- */

/* The end of a user's server-side message archive, as last seen. */
struct queue_archive_mark {
	char *end_id;       /* the newest archived message's stable id */
	int64_t end_ms;     /* its timestamp, the server's clock */
	int64_t checked_ms; /* when the component read it (queue's clock) */
};

/* JID's mark into OUT (free with queue_archive_mark_clear); -ENOENT when
 * the archive was never looked at for JID. */
int queue_archive_mark_get(struct queue *q, const char *jid,
                           struct queue_archive_mark *out);
int queue_archive_mark_put(struct queue *q, const char *jid, const char *end_id,
                           int64_t end_ms);
void queue_archive_mark_clear(struct queue_archive_mark *m);
/* *MS: the newest time the queue knows the component acted for JID (a
 * caught message received, an outcome delivered); 0 when never. */
int queue_archive_accounted(struct queue *q, const char *jid, int64_t *ms);

/* ---- pauses: key 9, "no more calls from this sender today" -------------- */

/*
 * Pauses calls to job JOB_ID's callee about messages from its sender until
 * UNTIL_MS (the caller works out the callee's next local midnight). While
 * it holds, queue_message_enqueue() refuses that pair's messages with
 * QUEUE_ENQ_PAUSED, and finishing a job of the pair gives its unheard
 * messages no follow-up call. A later pause of the pair replaces the
 * earlier one; pauses that have run out are dropped as new ones are
 * written. -ENOENT: no such message job; -EINVAL: UNTIL_MS not ahead.
 */
int queue_pause_add(struct queue *q, int64_t job_id, int64_t until_ms);
/* *UNTIL_MS: when CALLEE's pause of SENDER ends, 0 when none holds now. */
int queue_pause_until(struct queue *q, const char *callee_jid,
                      const char *sender_jid, int64_t *until_ms);

/* ---- published audio: the voice replies the component serves ------------ */

/* A published name: 128 random bits in hex and an extension ("....oga"). */
#define QUEUE_AUDIO_NAME_MAX 64
/* A media type ("audio/ogg"). */
#define QUEUE_AUDIO_MIME_MAX 127

/* A published file, as queue_audio_get() reads it. */
struct queue_audio {
	char *mime;
	unsigned char *bytes;
	size_t len;
	int64_t created_ms;
	int64_t expires_ms; /* the queue's clock: served while before it */
};

/*
 * Stores LEN bytes (0 < LEN <= QUEUE_BLOB_MAX) of type MIME under NAME
 * (1..QUEUE_AUDIO_NAME_MAX bytes), served from now until TTL_MS (> 0) from
 * now on the queue's clock, so that every component sharing the queue
 * serves it. -EEXIST: NAME is taken; -EINVAL: an argument out of bounds.
 * Inside a batch (store_call) it joins the batch's commit.
 */
int queue_audio_put(struct queue *q, const char *name, const char *mime,
                    const void *bytes, size_t len, int64_t ttl_ms);
/* NAME's file into *OUT (the caller frees it with queue_audio_clear());
 * -ENOENT when there is none or it has expired, even before a sweep. */
int queue_audio_get(struct queue *q, const char *name, struct queue_audio *out);
void queue_audio_clear(struct queue_audio *a);
/* Deletes the files that have expired; *DELETED (may be NULL) how many. */
int queue_audio_expire(struct queue *q, int *deleted);

/* ---- wake-ups between processes ------------------------------------------ */

enum queue_channel {
	QUEUE_CH_JOBS = 1 << 0,          /* new or due jobs: bridges listen */
	QUEUE_CH_EVENTS = 1 << 1,        /* new events: the component listens */
	QUEUE_CH_REGISTRATIONS = 1 << 2, /* ctl changed registrations */
	QUEUE_CH_PRESENCE = 1 << 3,      /* presence rows changed */
};

/*
 * Starts listening for the channels in MASK; *FD becomes readable when a
 * notification arrives (owned by Q, closed by queue_close). For SQLite each
 * listener binds a datagram socket in a directory beside the database.
 */
int queue_wake_listen(struct queue *q, unsigned mask, int *fd);

/* Reads pending notifications; *CHANNELS gets the union of their masks. */
int queue_wake_drain(struct queue *q, unsigned *channels);

/* Tells every listener of CHANNEL; best effort (a lost wake-up is covered
 * by the listener's safety-net poll). */
int queue_notify(struct queue *q, enum queue_channel channel);

#endif
