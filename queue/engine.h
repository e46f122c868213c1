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

/*
 * Every statement the rules run, by id. Each engine supplies the text of
 * every one (the parameters' numbers and meaning are the same in every
 * engine: the comment in engine_sqlite.c's table is the contract).
 */
enum engine_statement_id {
	ES_SCHEMA_VERSION,

	ES_REG_PUT,
	ES_REG_GET,
	ES_REG_GET_NODE,
	ES_REG_DELETE,
	ES_REG_LIST,

	ES_MSG_BY_KEY,
	ES_JOB_OPEN,
	ES_MSG_NEXT_SEQ,
	ES_MSG_INSERT,
	ES_COUNT_CALLEE,
	ES_COUNT_SENDER,
	ES_PAIR_LAST_FINISHED,
	ES_JOB_INSERT,
	ES_VERIFY_SUPERSEDE,
	ES_JOB_CANCEL_FOR,
	ES_CLAIM_QUEUED,  /* an engine with row locks locks the row here */
	ES_CLAIM_EXPIRED, /* likewise */
	ES_NEXT_DUE_QUEUED,
	ES_NEXT_DUE_ACTIVE,
	ES_MSG_COUNTS,
	ES_EVENT_OF_TYPE,
	ES_JOB_CLAIM,
	ES_JOB_SET_FINISHED,
	ES_JOB_GET,
	ES_MSGS_GET,
	ES_JOB_LEASE_INFO,
	ES_JOB_RENEW,
	ES_JOB_RENEW_ALL,
	ES_JOB_RETRY,
	ES_MSGS_UNHEARD,
	ES_MSG_MOVE,
	ES_JOB_FOLLOW_UP,
	ES_JOB_LIST,

	ES_EVENT_INSERT,
	ES_MSGS_MARK_HEARD,
	ES_EVENTS_UNDELIVERED,
	ES_EVENTS_FOR_JOB,
	ES_EVENT_DELIVERED,

	ES_PRES_SET,
	ES_PRES_GET,
	ES_PRES_LIST,
	ES_GWSUB_ADD,
	ES_GWSUB_REMOVE,
	ES_GWSUB_EXISTS,
	ES_GWSUB_COUNT,
	ES_GWSUB_LIST,

	ES_LEASE_GET,
	ES_LEASE_PUT,
	ES_LEASE_DELETE,
	ES_STATUS_PUT,
	ES_STATUS_GET,
	ES_BRIDGE_PUT,
	ES_BRIDGE_EXPIRE,
	ES_BRIDGE_REMOVE,
	ES_BRIDGE_LIST,

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

#endif
