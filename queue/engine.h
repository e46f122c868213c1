/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The seam between the queue's rules and a database engine. The rules
 * (jobs.c, events.c, registrations.c, presence.c, status.c) are written once
 * against this interface; an engine (engine_sqlite.c now, a libpq one later)
 * holds only what is not portable: its connection and migrations, its
 * transactions, its own SQL text for every statement id below (placeholders
 * ?1 or $1, FOR UPDATE SKIP LOCKED where it claims, its dialect's functions),
 * its clock and its wake-up. Nothing outside queue/ includes this header.
 */
#ifndef RB_QUEUE_ENGINE_H
#define RB_QUEUE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

/*
 * Job states and kinds as SQL literals, for the engines' statement tables:
 * the statements' text is built at compile time, so the numbers are written
 * here once and checked against queue.h's enums (engine_sqlite.c asserts
 * them), not typed into each statement.
 */
#define SQL_QUEUED       "0"
#define SQL_ACTIVE       "1"
#define SQL_NOTIFIED     "2"
#define SQL_FAILED       "3"
#define SQL_CANCELLED    "4"
#define SQL_UNFINISHED   SQL_QUEUED ", " SQL_ACTIVE
#define SQL_FINISHED     SQL_NOTIFIED ", " SQL_FAILED ", " SQL_CANCELLED
#define SQL_KIND_MESSAGE "1"
#define SQL_KIND_VERIFY  "2"

/* A fragment both dialects share, so its rule is written once: a pause
 * (key 9) of the pair of job JOB that lasts past NOW (placeholders in the
 * engine's style). */
#define PAIR_PAUSED(job, now)                                                  \
	"SELECT 1 FROM sender_pauses p JOIN jobs j ON "                        \
	"j.callee_jid = p.callee_jid AND j.sender_jid = p.sender_jid "         \
	"WHERE j.id = " job " AND p.until_ms > " now

/*
 * Every statement the rules run, by id, with its parameters (?N) and the
 * columns it returns; each engine supplies the text of every one, in its
 * own dialect and placeholder style, with the same parameters and columns.
 * JOB_COLS, MSG_COLS and REG_COLS are the column lists of the row structs,
 * in their column tables' order (jobs.c, registrations.c). Both continue
 * with the nullable gate column (migration 007), read as COALESCE(gate, -1)
 * so NULL (the operator's default) arrives as QUEUE_GATE_DEFAULT; writes of
 * REG_COLS name the plain column. After it come the further numbers
 * (migration 008): JOB_COLS destination2, destination3; REG_COLS phone2,
 * phone3, verified2, verified3. Then migration 009's: JOB_COLS
 * COALESCE(seen_until_ms, 0); REG_COLS wait_minutes, ring_through,
 * quiet_mode.
 */
enum engine_statement_id {
	ES_SCHEMA_VERSION, /* -> the highest applied migration */

	ES_REG_PUT,      /* REG_COLS ?1..?23; upsert on jid keeping created;
	                    ?16 gate: -1 stores NULL; ?17..?20 phone2,
	                    phone3, verified2, verified3; ?21 wait_minutes
	                    ?22 ring_through ?23 quiet_mode */
	ES_REG_GET,      /* ?1 jid -> REG_COLS */
	ES_REG_GET_NODE, /* ?1 push_node -> REG_COLS */
	ES_REG_DELETE,   /* ?1 jid */
	ES_REG_LIST,     /* -> REG_COLS by jid */

	ES_CALLEE_LOCK,      /* ?1 callee: an engine whose writers do not
	                        queue on one write lock takes the callee's
	                        transaction lock here, in a statement of its
	                        own, so that the statements after it see
	                        what an enqueuer for that callee committed
	                        while this one waited (SQLite: nothing) */
	ES_ENQUEUE_FACTS,    /* ?1 idem_key ?2 callee ?3 sender ?4 now -> one
	                        row, 0 for each that is not there: the job
	                        of the message with key ?1; the pair's pause
	                        (key 9) until, if after ?4; the pair's
	                        unfinished message job, oldest first (an
	                        engine with row locks locks it FOR SHARE);
	                        the newest finished_ms of the pair's finished
	                        message jobs */
	ES_MSG_NEXT_SEQ,     /* ?1 job -> the next seq (1 for none) */
	ES_MSG_INSERT,       /* ?1 job ?2 seq ?3 sender ?4 body ?5 encrypted
	                        ?6 received_ms ?7 idem_key */
	ES_COUNT_CALLEE,     /* ?1 callee ?2 since_ms ?3 kind (0: any) ->
	                        count */
	ES_COUNT_SENDER,     /* ?1 sender, as above */
	ES_JOB_INSERT,       /* ?1 kind ?2 callee ?3 destination ?4 tz ?5 lang
	                        ?6 sender ?7 sender_name ?8 reply_from
	                        ?9 verify_code ?10 created ?11 not_before and
	                        next_attempt ?12 gate (-1 stores NULL)
	                        ?13 destination2 ?14 destination3
	                        ?15 seen_until_ms (0 stores NULL);
	                        queued, no attempts */
	ES_VERIFY_SUPERSEDE, /* ?1 callee ?2 now: queued verify jobs
	                        cancelled */
	ES_JOB_CANCEL_FOR,   /* ?1 callee ?2 now: unfinished jobs cancelled */
	ES_JOB_CANCEL_SEEN,  /* ?1 callee ?2 now: queued message jobs whose
	                        seen_until_ms is after now cancelled */
	ES_CLAIM_CANDIDATES, /* ?1 now -> one row: id, next_attempt_ms of the
	                        first due queued job whose callee is not on
	                        the phone, then id, next_attempt_ms of the
	                        first active job whose lease lapsed (0, 0
	                        where there is none): one round trip for
	                        both; an engine with row locks locks both
	                        here (FOR UPDATE SKIP LOCKED) */
	ES_NEXT_DUE,         /* -> one row: the earliest time a queued job
	                        is due, the earliest lease deadline + 1 (0
	                        where there is none) */
	ES_MSG_COUNTS,       /* ?1 job -> messages, unheard messages */
	ES_EVENT_OF_TYPE,    /* ?1 job ?2 type -> a row if there is one */
	ES_JOB_CLAIM,        /* ?1 job ?2 owner ?3 deadline: active,
	                        attempts + 1 */
	ES_JOB_CLAIM_RETURNING, /* the same -> JOB_COLS as written, then
	                           MSG_COLS: a row per message, NULL ones
	                           if none (no read after it; run only
	                           where !statements_cheap, SQLite's text
	                           is the write alone, for the prepare
	                           check) */
	ES_CLAIM_DUE_RETURNING, /* ?1 now ?2 owner ?3 deadline: when no lease
	                           has lapsed (ES_CLAIM_CANDIDATES's second
	                           job is none), ES_JOB_CLAIM_RETURNING of
	                           its first job, in the one statement (no
	                           row: nothing claimed, the caller looks
	                           again; run only where !statements_cheap,
	                           SQLite's text is the write alone, for the
	                           prepare check) */
	ES_JOB_SET_FINISHED,    /* ?1 job ?2 state ?3 now ?4 reason */
	ES_JOB_FINISH_OWNED,    /* as ES_JOB_SET_FINISHED, ?5 owner: only if the
	                           job is active and ?5's -> its kind, and how
	                           many of its messages ES_MSGS_UNHEARD would
	                           list (no row: not finished; the owner check,
	                           the write and the read a finish needs after
	                           it in one statement) */
	ES_JOB_GET,             /* ?1 job -> JOB_COLS */
	ES_MSGS_GET,            /* ?1 job ?2 after seq -> MSG_COLS by seq */
	ES_JOB_LEASE_INFO,      /* ?1 job -> state, lease_owner, kind */
	ES_JOB_RENEW,           /* ?1 job ?2 owner ?3 deadline, if active and
	                           the owner's */
	ES_JOB_RENEW_ALL,       /* ?1 owner ?2 deadline: all its active jobs */
	ES_JOBS_HELD,           /* ?1 owner -> ids of its active jobs by id */
	ES_JOB_RETRY,           /* ?1 job ?2 next_attempt ?3 reason: queued,
	                           lease cleared */
	ES_MSGS_UNHEARD,        /* ?1 job ?2 now -> ids of unheard messages by
	                           seq; none while the job's callee has paused
	                           its sender past ?2 (key 9, pauses.c) */
	ES_MSG_MOVE,            /* ?1 message ?2 new job ?3 new seq */
	ES_JOB_FOLLOW_UP,       /* ?1 job ?2 now: a queued copy of its snapshot
	                           (gate and numbers included), due now */
	ES_JOB_LIST,            /* ?1 callee or NULL ?2 unfinished only
	                           ?3 finished only ?4 limit -> ids, newest
	                           first */

	ES_EVENT_INSERT,       /* ?1 job ?2 type ?3 detail ?4 blob ?5 now */
	ES_EVENT_INSERT_OWNED, /* as ES_EVENT_INSERT, ?6 owner: only if the
	                          job is not queued and ?6 holds its lease
	                          (the job's row locked as ES_JOB_LEASE_INFO
	                          does) -> the event's id (no row: not
	                          written) */
	ES_EVENT_HEARD_OWNED,  /* as ES_EVENT_INSERT_OWNED for a HEARD
	                          event, ?7 seq: when written, its messages
	                          up to ?7 marked heard in the same
	                          statement (run only where
	                          !statements_cheap; SQLite's text is the
	                          insert alone, for the prepare check) */
	ES_MSGS_MARK_HEARD,    /* ?1 job ?2 seq: messages up to it heard */
	ES_EVENTS_UNDELIVERED, /* ?1 limit -> id, job_id, type, detail, blob,
	                          created_ms and the job's kind, callee,
	                          sender, reply_from; oldest first */
	ES_EVENTS_FOR_JOB,     /* ?1 job -> the same columns, oldest first */
	ES_EVENT_DELIVERED,    /* ?1 event ?2 now, if not delivered yet */

	ES_PRES_SET,  /* ?1 jid ?2 source ?3 state ?4 status ?5 now; upsert */
	ES_PRES_GET,  /* ?1 jid ?2 source -> state, status, updated_ms */
	ES_PRES_LIST, /* ?1 source ?2 since_ms -> jid, source, state,
	                 status, updated_ms, by updated_ms then jid */
	ES_GWSUB_ADD, /* ?1 contact ?2 subscriber ?3 user ?4 now; upsert */
	ES_GWSUB_REMOVE, /* ?1 contact ?2 subscriber */
	ES_GWSUB_EXISTS, /* ?1 contact ?2 subscriber -> a row if there is one */
	ES_GWSUB_COUNT,  /* ?1 contact -> count */
	ES_GWSUB_LIST,   /* ?1 user or NULL -> contact, subscriber, user */

	ES_LEASE_GET,     /* ?1 name -> owner, deadline_ms */
	ES_LEASE_PUT,     /* ?1 name ?2 owner ?3 deadline; upsert */
	ES_LEASE_DELETE,  /* ?1 name ?2 owner */
	ES_STATUS_PUT,    /* ?1 component ?2 owner ?3 connected ?4 heartbeat
	                     ?5 privileges; upsert */
	ES_STATUS_GET,    /* ?1 component -> owner, connected_ms,
	                     heartbeat_ms, privileges */
	ES_BRIDGE_PUT,    /* ?1 owner ?2 host ?3 pid ?4 started ?5 heartbeat
	                     ?6 calls ?7 presence_lease; upsert */
	ES_BRIDGE_EXPIRE, /* ?1 before: rows with an older heartbeat deleted */
	ES_BRIDGE_REMOVE, /* ?1 owner */
	ES_BRIDGE_LIST,   /* ?1 since -> owner, host, pid, started_ms,
	                     heartbeat_ms, calls, presence_lease */
	ES_JOBS_BY_STATE, /* -> one row: the jobs in state 0, 1, 2, 3, 4 */
	ES_MARK_GET,      /* ?1 jid -> end_id, end_ms, checked_ms */
	ES_MARK_PUT,      /* ?1 jid ?2 end_id ?3 end_ms ?4 now; upsert */
	/* ?1 callee -> the newest received_ms of its caught messages, the
	 * newest delivered_ms of its jobs' events (0 when none) */
	ES_MARK_ACCOUNTED,

	/* Key 9's pauses (migration 010, pauses.c). */
	ES_PAUSE_PUT,    /* ?1 job ?2 until ?3 now: the job's callee and
	                    sender (a message job's) paused until ?2;
	                    upsert on the pair */
	ES_PAUSE_EXPIRE, /* ?1 now: rows whose until_ms has passed deleted */
	ES_PAUSE_UNTIL,  /* ?1 callee ?2 sender ?3 now -> until_ms, if
	                    later than ?3 */

	/* The component's published voice replies (migration 011,
	 * audio.c). */
	ES_AUDIO_PUT,    /* ?1 name ?2 mime ?3 bytes ?4 created ?5 expires;
	                    a plain insert (a name taken is -EEXIST) */
	ES_AUDIO_GET,    /* ?1 name ?2 now -> mime, bytes, created_ms,
	                    expires_ms, if expires_ms is after ?2 */
	ES_AUDIO_EXPIRE, /* ?1 now: rows whose expires_ms has come deleted */

	/*
	 * Read-only, for the status page and `ringbridgectl status`
	 * (common/summary.c); neither takes a lock past the statement.
	 */
	ES_REG_SEARCH,    /* ?1 needle or NULL ?2 limit -> REG_COLS by jid
	                     of the rows whose jid or phone contains ?1 as a
	                     plain substring (no wildcards: '%' and '_' are
	                     literal), ASCII case folded; all rows when ?1
	                     is NULL; at most ?2 rows */
	ES_CALLS_BY_HOUR, /* ?1 since_ms -> hour, count: the CALLING events
	                     (type 1, one per INVITE) created at or after
	                     ?1, grouped by hour = created_ms / 3600000
	                     (integer division, UTC hours since the epoch),
	                     by hour */

	ES_COUNT,
};

/* An engine's connection and its statements; each engine defines it. */
struct engine;
/* A prepared statement of an engine; each engine defines it. */
struct engine_statement;

/*
 * An engine. Every slot is required. Errors are 0 or -errno: -EBUSY (the
 * database is locked or the transaction must be retried), -EEXIST (a
 * constraint), -ENOMEM, -EIO (logged by the engine with its own error
 * text), -EPROTO (a schema newer than this build).
 */
struct engine_ops {
	/* Short name for log lines: "sqlite". */
	const char *name;
	/* The URL prefix this engine takes ("sqlite:"); connect() gets the
	 * rest of the URL. */
	const char *scheme;

	/* Opens LOCATION, creating the database and applying pending
	 * migrations (safely when two processes start at once). */
	int (*connect)(struct engine **ep, const char *location);
	/* Frees everything connect() made; E may be NULL. */
	void (*close)(struct engine *e);
	/* The schema version the database is at. */
	int (*schema_version)(struct engine *e, int *version);

	/* A write transaction: begin() takes the write lock up front where
	 * the engine has one, so two writers queue instead of failing. */
	int (*begin)(struct engine *e);
	int (*commit)(struct engine *e);
	/* Rolls back if a transaction is open; never fails. */
	void (*rollback)(struct engine *e);
	/* One call inside a batch: a failed call is undone alone. */
	int (*savepoint)(struct engine *e);
	/* Whether that savepoint is cheap: SQLite's is a few pages in
	 * memory; PostgreSQL's is a subtransaction (past 64 in one
	 * transaction its snapshots overflow to pg_subtrans), so a
	 * replayable batch (queue_batch_begin_replayable()) runs its calls
	 * on it without one. */
	bool savepoint_cheap;
	/* Whether a statement costs microseconds in the process (SQLite)
	 * rather than a round trip to a server (PostgreSQL). Where a check,
	 * a write and a read can be one statement (a write with RETURNING,
	 * ES_..._OWNED), the rules make them one only when statements are
	 * not cheap: SQLite's RETURNING costs more than the statements it
	 * saves. */
	bool statements_cheap;
	int (*savepoint_release)(struct engine *e);
	void (*savepoint_rollback)(struct engine *e);
	/* Whether a transaction is open (an I/O error may have ended it). */
	bool (*in_transaction)(struct engine *e);

	/*
	 * Statement ID, unbound. The engine keeps one prepared copy of each
	 * and hands it out; OWN asks for a copy of the caller's own (for a
	 * walk whose callback may run other statements), which release()
	 * frees. Every statement obtained is given back to release(), which
	 * also resets it and clears its bindings.
	 */
	int (*statement)(struct engine *e, enum engine_statement_id id,
	                 bool own, struct engine_statement **stp);
	void (*release)(struct engine *e, struct engine_statement *st);
	/* Prepares statement ID now, as its first use would (both engines
	 * prepare lazily): queue_statements_check() prepares every one, so
	 * a statement the rules never run on this engine is still checked
	 * against its schema. */
	int (*prepare)(struct engine *e, enum engine_statement_id id);
	/*
	 * Ad hoc SQL, prepared for this one use and freed by release(): for
	 * the queue copy (migrate.c), whose column lists come from a table
	 * of its own rather than from the statement table. Parameters are
	 * written $1, $2... in order (SQLite takes them as named parameters,
	 * numbered as they first appear).
	 */
	int (*statement_sql)(struct engine *e, const char *sql,
	                     struct engine_statement **stp);
	/* After rows with explicit ids were copied into TABLE: makes the
	 * ids the engine gives next follow them. NULL when the engine does
	 * so by itself. */
	int (*ids_follow)(struct engine *e, const char *table);

	/* Binds parameter I (from 1). Text and blobs are not copied: they
	 * must live until the statement is released. NULL text binds NULL;
	 * a blob of length 0 binds NULL. */
	void (*bind_int)(struct engine_statement *st, int i, int64_t v);
	void (*bind_text)(struct engine_statement *st, int i, const char *v);
	void (*bind_blob)(struct engine_statement *st, int i, const void *v,
	                  size_t len);

	/* Runs ST to its next row: 0 with *ROW true when there is one, 0
	 * with *ROW false at the end. WHAT names the work for log lines. */
	int (*step)(struct engine *e, struct engine_statement *st, bool *row,
	            const char *what);

	/* Column I (from 0) of the current row. Text and blobs stay valid
	 * until the next step() or release(). */
	bool (*column_null)(struct engine_statement *st, int i);
	int64_t (*column_int)(struct engine_statement *st, int i);
	const char *(*column_text)(struct engine_statement *st, int i);
	const void *(*column_blob)(struct engine_statement *st, int i,
	                           size_t *len);

	/* The id the last insert of this connection made (an engine without
	 * one reads it from the insert's RETURNING row), and how many rows
	 * the last statement changed. */
	int64_t (*last_insert_id)(struct engine *e);
	int64_t (*changes)(struct engine *e);

	/* The clock leases and timestamps are taken from, in ms since the
	 * epoch (the database's own where hosts share it). */
	int64_t (*now_ms)(struct engine *e);

	/* Wake-ups between handles. listen() returns a descriptor owned by
	 * the engine that becomes readable when another handle notifies a
	 * channel in MASK (a second call widens the mask and returns the
	 * same descriptor); drain() reads what is pending without blocking,
	 * *CHANNELS the union; notify() is best effort, sent after commit. */
	int (*wake_listen)(struct engine *e, unsigned mask, int *fd);
	int (*wake_drain)(struct engine *e, unsigned *channels);
	int (*notify)(struct engine *e, unsigned channels);
};

extern const struct engine_ops engine_sqlite;
extern const struct engine_ops engine_pg;

#endif
