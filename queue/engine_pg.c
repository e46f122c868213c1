/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The PostgreSQL engine, over libpq: one database shared by components and
 * bridges on any number of hosts. Every statement id of engine.h has its
 * text here ($1 placeholders), prepared once per connection; claims lock
 * their row with FOR UPDATE SKIP LOCKED, so bridges claim different jobs at
 * once instead of queueing on one write lock. Times come from the
 * database's clock (read once per transaction), never the host's, so hosts
 * with skewed clocks agree on leases. Migrations (schemas/postgresql/) are
 * applied at connect under an advisory lock; wake-ups are LISTEN/NOTIFY,
 * the listening connection's socket being the descriptor handed out.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "queue.h"
#include "queue_internal.h"
#include "queue_schema.h"

#define TAG "queue"

/* The most parameters a statement takes: the queue copy's INSERT into
 * registrations (copy.c), wider than ES_REG_PUT (23). */
#define PG_MAX_PARAMS 32
/* The NOTIFY channel of each queue channel (bit I of enum queue_channel):
 * a handle listens only to its own, so a new job does not wake the
 * component's loop. */
static const char *const pg_channels[] = {
    "ringbridge_jobs",
    "ringbridge_events",
    "ringbridge_registrations",
    "ringbridge_presence",
};
#define PG_N_CHANNELS (sizeof(pg_channels) / sizeof(pg_channels[0]))
_Static_assert(QUEUE_CH_JOBS == 1 << 0 && QUEUE_CH_EVENTS == 1 << 1 &&
                   QUEUE_CH_REGISTRATIONS == 1 << 2 &&
                   QUEUE_CH_PRESENCE == 1 << 3,
               "pg_channels[] follows enum queue_channel");
/* Any constant both processes agree on: the migrations' advisory lock. */
#define PG_MIGRATE_LOCK "7262717565756501"
/* The longest password a password_file may hold. */
#define PG_PASSWORD_MAX 1024
/* Seconds a (re)connect may take, unless the URI sets connect_timeout. */
#define PG_CONNECT_TIMEOUT "5"
/* Reconnect back-off: from 0.5 s, doubling, at most 30 s. */
#define PG_BACKOFF_MIN_MS 500
#define PG_BACKOFF_MAX_MS 30000
/* libpq's OID of bytea, for reading blob columns. */
#define PG_BYTEA_OID 17

/* The row lock: a second bridge skips the job the first is taking
 * instead of waiting for its commit and then finding it taken. */
#define CLAIM_CANDIDATES                                                       \
	"SELECT COALESCE(q.id, 0) AS q_id, COALESCE(q.next_attempt_ms, 0), "   \
	"COALESCE(x.id, 0) AS x_id, COALESCE(x.next_attempt_ms, 0) "           \
	"FROM (SELECT 1) AS one LEFT JOIN ("                                   \
	"SELECT id, next_attempt_ms FROM jobs WHERE "                          \
	"state = " SQL_QUEUED " AND next_attempt_ms <= $1 AND "                \
	"not_before_ms <= $1 AND " NOT_ON_THE_PHONE                            \
	"ORDER BY next_attempt_ms, id LIMIT 1 FOR UPDATE OF jobs SKIP LOCKED"  \
	") AS q ON true LEFT JOIN ("                                           \
	"SELECT id, next_attempt_ms FROM jobs WHERE "                          \
	"state = " SQL_ACTIVE " AND lease_deadline_ms < $1 "                   \
	"ORDER BY next_attempt_ms, id LIMIT 1 FOR UPDATE SKIP LOCKED"          \
	") AS x ON true"

/* A claim's write: $1 the job (in the caller's WHERE), $2 the bridge,
 * $3 the lease's deadline. */
#define CLAIM_SET                                                              \
	"UPDATE jobs SET state = " SQL_ACTIVE ", lease_owner = $2, "           \
	"lease_deadline_ms = $3, attempts = attempts + 1 "
/* The claimed job j, with its messages: a row per message (the job's
 * columns repeated), or one with NULL message columns when it has none. */
#define CLAIMED_WITH_MSGS                                                      \
	"SELECT j.*, m.id, m.seq, m.sender_jid, m.body, m.encrypted, "         \
	"m.heard, m.received_ms FROM j LEFT JOIN job_messages m ON "           \
	"m.job_id = j.id ORDER BY m.seq"

#define JOB_COLS                                                               \
	"id, kind, state, callee_jid, destination, tz, lang, sender_jid, "     \
	"sender_name, reply_from, verify_code, attempts, created_ms, "         \
	"not_before_ms, next_attempt_ms, lease_owner, lease_deadline_ms, "     \
	"last_reason, finished_ms, COALESCE(gate, -1), destination2, "         \
	"destination3, COALESCE(seen_until_ms, 0)"
#define MSG_COLS "id, seq, sender_jid, body, encrypted, heard, received_ms"
#define REG_COLS_BUT_GATE                                                      \
	"jid, phone, verified, verify_code, verify_failures, tz, lang, "       \
	"call_when, quiet_start, quiet_end, roster_only, sip_presence, "       \
	"push_node, created_ms, updated_ms"
#define REG_MORE_COLS                                                          \
	"phone2, phone3, verified2, verified3, wait_minutes, ring_through, "   \
	"quiet_mode"
#define REG_COLS      REG_COLS_BUT_GATE ", gate, " REG_MORE_COLS
#define REG_READ_COLS REG_COLS_BUT_GATE ", COALESCE(gate, -1), " REG_MORE_COLS

/*
 * A queued job waits while its callee is on the phone (the "sip" presence
 * rows the bridge writes). NOT IN rather than SQLite's NOT EXISTS: the set
 * is read and hashed once per statement, so the planner costs the claim as
 * a walk of jobs in due order and walks them in that order even when its
 * statistics are missing (a new database's first burst), instead of
 * reading and sorting every due job at each claim.
 */
#define NOT_ON_THE_PHONE                                                       \
	"callee_jid NOT IN (SELECT jid FROM presence WHERE source = "          \
	"'" QUEUE_PRESENCE_SIP "' AND state = '" QUEUE_PRESENCE_ON_THE_PHONE   \
	"') "

/* The database's clock in ms since the epoch (clock_timestamp(): the
 * moment of the call, not of the transaction's start). */
#define PG_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

static const char *const pg_sql[ES_COUNT] = {
    [ES_SCHEMA_VERSION] = "SELECT MAX(version) FROM schema_version",

    [ES_REG_PUT] =
        "INSERT INTO registrations (" REG_COLS ") VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, "
        "$15, NULLIF($16, -1), $17, $18, $19, $20, $21, $22, $23) ON CONFLICT "
        "(jid) DO UPDATE "
        "SET phone = "
        "excluded.phone, "
        "verified = excluded.verified, "
        "verify_code = excluded.verify_code, "
        "verify_failures = excluded.verify_failures, tz = excluded.tz, "
        "lang = excluded.lang, call_when = excluded.call_when, "
        "quiet_start = excluded.quiet_start, "
        "quiet_end = excluded.quiet_end, "
        "roster_only = excluded.roster_only, "
        "sip_presence = excluded.sip_presence, "
        "push_node = excluded.push_node, "
        "updated_ms = excluded.updated_ms, gate = excluded.gate, "
        "phone2 = excluded.phone2, phone3 = excluded.phone3, "
        "verified2 = excluded.verified2, verified3 = excluded.verified3, "
        "wait_minutes = excluded.wait_minutes, "
        "ring_through = excluded.ring_through, "
        "quiet_mode = excluded.quiet_mode",
    [ES_REG_GET] = "SELECT " REG_READ_COLS " FROM registrations WHERE jid = $1",
    [ES_REG_GET_NODE] =
        "SELECT " REG_READ_COLS " FROM registrations WHERE push_node = $1",
    [ES_REG_DELETE] = "DELETE FROM registrations WHERE jid = $1",
    [ES_REG_LIST] = "SELECT " REG_READ_COLS " FROM registrations ORDER BY jid",

    /*
     * The first statement of an enqueue: the callee's transaction lock, so
     * two enqueuers for one callee decide (join, limit, coalesce) one
     * after the other as they do on SQLite's single write lock. A
     * statement of its own: a statement's snapshot is taken before it
     * runs, so reads in the statement that waited for the lock would not
     * see what the holder committed.
     */
    [ES_CALLEE_LOCK] = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
    /* FOR SHARE: a bridge finishing the open job (which moves its unheard
     * messages) waits for the message joined to it, or this sees the job
     * finished and opens a new one. */
    [ES_ENQUEUE_FACTS] =
        "SELECT COALESCE((SELECT job_id FROM job_messages WHERE "
        "idem_key = $1), 0), COALESCE((SELECT until_ms FROM sender_pauses "
        "WHERE callee_jid = $2 AND sender_jid = $3 AND until_ms > $4), 0), "
        "COALESCE((SELECT id FROM jobs WHERE callee_jid = $2 AND "
        "sender_jid = $3 AND state IN (" SQL_UNFINISHED
        ") AND kind = " SQL_KIND_MESSAGE " ORDER BY id LIMIT 1 FOR SHARE), 0), "
        "COALESCE((SELECT MAX(finished_ms) FROM jobs WHERE callee_jid = $2 "
        "AND sender_jid = $3 AND state IN (" SQL_FINISHED
        ") AND kind = " SQL_KIND_MESSAGE "), 0)",
    [ES_MSG_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                        "job_messages WHERE job_id = $1",
    [ES_MSG_INSERT] =
        "INSERT INTO job_messages (job_id, seq, sender_jid, body, "
        "encrypted, received_ms, idem_key) VALUES "
        "($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    [ES_COUNT_CALLEE] = "SELECT COUNT(*) FROM jobs WHERE callee_jid = $1 "
                        "AND created_ms >= $2 AND ($3::integer = 0 OR "
                        "kind = $3)",
    [ES_COUNT_SENDER] = "SELECT COUNT(*) FROM jobs WHERE sender_jid = $1 "
                        "AND created_ms >= $2 AND ($3::integer = 0 OR "
                        "kind = $3)",
    [ES_JOB_INSERT] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms, gate, "
        "destination2, destination3, seen_until_ms) "
        "VALUES ($1, " SQL_QUEUED
        ", $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $11, "
        "NULLIF($12, -1), $13, $14, NULLIF($15::bigint, 0)) RETURNING id",
    [ES_VERIFY_SUPERSEDE] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = $2, "
        "last_reason = 'superseded by a new code' "
        "WHERE callee_jid = $1 AND kind = " SQL_KIND_VERIFY
        " AND state = " SQL_QUEUED,
    [ES_JOB_CANCEL_FOR] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = $2, "
        "last_reason = 'cancelled' "
        "WHERE callee_jid = $1 AND state IN (" SQL_UNFINISHED ")",
    [ES_JOB_CANCEL_SEEN] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = $2, "
        "last_reason = 'seen during the wait' "
        "WHERE callee_jid = $1 AND kind = " SQL_KIND_MESSAGE
        " AND state = " SQL_QUEUED " AND seen_until_ms > $2",

    [ES_CLAIM_CANDIDATES] = CLAIM_CANDIDATES,
    [ES_NEXT_DUE] =
        "SELECT COALESCE((SELECT MIN(GREATEST(next_attempt_ms, "
        "not_before_ms)) FROM jobs WHERE state = " SQL_QUEUED " "
        "AND " NOT_ON_THE_PHONE "), 0), COALESCE((SELECT "
        "MIN(lease_deadline_ms) + 1 FROM jobs WHERE state = " SQL_ACTIVE
        "), 0)",
    [ES_MSG_COUNTS] = "SELECT COUNT(*), COUNT(*) FILTER (WHERE heard = 0) "
                      "FROM job_messages WHERE job_id = $1",
    [ES_EVENT_OF_TYPE] =
        "SELECT 1 FROM events WHERE job_id = $1 AND type = $2 LIMIT 1",
    [ES_JOB_CLAIM] = CLAIM_SET "WHERE id = $1",
    /* The job as written, and its messages, in one round trip. */
    [ES_JOB_CLAIM_RETURNING] = "WITH j AS (" CLAIM_SET "WHERE id = $1 "
                               "RETURNING " JOB_COLS ") " CLAIMED_WITH_MSGS,
    /* The candidates' locks are taken as ES_CLAIM_CANDIDATES takes them,
     * so a claim that finds a lapsed lease and looks again sees the same
     * two jobs. */
    [ES_CLAIM_DUE_RETURNING] =
        "WITH c AS (" CLAIM_CANDIDATES "), j AS (" CLAIM_SET
        "WHERE id = (SELECT q_id FROM c WHERE x_id = 0 AND q_id <> 0) "
        "RETURNING " JOB_COLS ") " CLAIMED_WITH_MSGS,
    [ES_JOB_SET_FINISHED] = "UPDATE jobs SET state = $2, finished_ms = $3, "
                            "last_reason = $4 WHERE id = $1",
    /* An UPDATE waits for a row another transaction changes and then
     * checks its WHERE again: the lock ES_JOB_LEASE_INFO takes. */
    [ES_JOB_FINISH_OWNED] =
        "UPDATE jobs SET state = $2, finished_ms = $3, last_reason = $4 "
        "WHERE id = $1 AND state = " SQL_ACTIVE " AND lease_owner = $5 "
        "RETURNING kind, (SELECT COUNT(*) FROM job_messages m WHERE "
        "m.job_id = jobs.id AND m.heard = 0 AND NOT EXISTS (" PAIR_PAUSED(
            "$1", "$3") "))",
    [ES_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = $1",
    [ES_MSGS_GET] = "SELECT " MSG_COLS " FROM job_messages WHERE "
                    "job_id = $1 AND seq > $2 ORDER BY seq",
    /* Locked: the owner check and the write after it see one state. */
    [ES_JOB_LEASE_INFO] =
        "SELECT state, lease_owner, kind FROM jobs WHERE id = $1 FOR UPDATE",
    [ES_JOB_RENEW] = "UPDATE jobs SET lease_deadline_ms = $3 WHERE "
                     "id = $1 AND state = " SQL_ACTIVE " AND lease_owner = $2",
    [ES_JOB_RENEW_ALL] = "UPDATE jobs SET lease_deadline_ms = $2 WHERE "
                         "state = " SQL_ACTIVE " AND lease_owner = $1",
    [ES_JOBS_HELD] = "SELECT id FROM jobs WHERE state = " SQL_ACTIVE
                     " AND lease_owner = $1 ORDER BY id",
    [ES_JOB_RETRY] =
        "UPDATE jobs SET state = " SQL_QUEUED ", next_attempt_ms = $2, "
        "last_reason = $3, lease_owner = NULL, "
        "lease_deadline_ms = NULL WHERE id = $1",
    [ES_MSGS_UNHEARD] =
        "SELECT id FROM job_messages WHERE job_id = $1 AND heard = 0 "
        "AND NOT EXISTS (" PAIR_PAUSED("$1", "$2") ") ORDER BY seq",
    [ES_MSG_MOVE] =
        "UPDATE job_messages SET job_id = $2, seq = $3 WHERE id = $1",
    [ES_JOB_FOLLOW_UP] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms, gate, "
        "destination2, destination3) "
        "SELECT kind, " SQL_QUEUED ", callee_jid, destination, tz, lang, "
        "sender_jid, sender_name, reply_from, verify_code, 0, $2, $2, "
        "$2, gate, destination2, destination3 FROM jobs WHERE id = $1 "
        "RETURNING id",

    [ES_JOB_LIST] =
        "SELECT id FROM jobs WHERE ($1::text IS NULL OR callee_jid = $1) "
        "AND ($2::integer = 0 OR state IN (" SQL_UNFINISHED ")) "
        "AND ($3::integer = 0 OR state IN (" SQL_FINISHED ")) "
        "ORDER BY id DESC LIMIT $4",

    [ES_EVENT_INSERT] = "INSERT INTO events (job_id, type, detail, blob, "
                        "created_ms) VALUES ($1, $2, $3, $4, $5) "
                        "RETURNING id",
    /* The parameters cast: in INSERT ... SELECT they are not matched to
     * the columns. */
    [ES_EVENT_INSERT_OWNED] =
        "INSERT INTO events (job_id, type, detail, blob, created_ms) "
        "SELECT id, $2::integer, $3::text, $4::bytea, $5::bigint FROM jobs "
        "WHERE id = $1 AND state <> " SQL_QUEUED " AND lease_owner = $6 "
        "FOR UPDATE RETURNING id",
    /* The UPDATE sees the snapshot the INSERT saw, and runs only
     * where the INSERT wrote (its EXISTS reads the INSERT's result). */
    [ES_EVENT_HEARD_OWNED] =
        "WITH e AS (INSERT INTO events (job_id, type, detail, blob, "
        "created_ms) SELECT id, $2::integer, $3::text, $4::bytea, "
        "$5::bigint FROM jobs WHERE id = $1 AND state <> " SQL_QUEUED " AND "
        "lease_owner = $6 FOR UPDATE RETURNING id), m AS (UPDATE "
        "job_messages SET heard = 1 WHERE job_id = $1 AND seq <= $7 AND "
        "heard = 0 AND EXISTS (SELECT 1 FROM e)) SELECT id FROM e",
    [ES_MSGS_MARK_HEARD] = "UPDATE job_messages SET heard = 1 WHERE "
                           "job_id = $1 AND seq <= $2 AND heard = 0",
    [ES_EVENTS_UNDELIVERED] =
        "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
        "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
        "j.reply_from FROM events AS e JOIN jobs AS j ON "
        "j.id = e.job_id WHERE e.delivered_ms IS NULL "
        "ORDER BY e.id LIMIT $1",
    [ES_EVENTS_FOR_JOB] = "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
                          "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
                          "j.reply_from FROM events AS e JOIN jobs AS j ON "
                          "j.id = e.job_id WHERE e.job_id = $1 ORDER BY e.id",
    [ES_EVENT_DELIVERED] = "UPDATE events SET delivered_ms = $2 WHERE "
                           "id = $1 AND delivered_ms IS NULL",

    [ES_PRES_SET] = "INSERT INTO presence (jid, source, state, status, "
                    "updated_ms) VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (jid, source) DO UPDATE SET "
                    "state = excluded.state, status = excluded.status, "
                    "updated_ms = excluded.updated_ms",
    [ES_PRES_GET] = "SELECT state, status, updated_ms FROM presence "
                    "WHERE jid = $1 AND source = $2",
    [ES_PRES_LIST] = "SELECT jid, source, state, status, updated_ms "
                     "FROM presence WHERE source = $1 AND "
                     "updated_ms >= $2 ORDER BY updated_ms, jid",

    [ES_GWSUB_ADD] = "INSERT INTO gateway_subscriptions (contact, "
                     "subscriber, user_jid, created_ms) VALUES "
                     "($1, $2, $3, $4) ON CONFLICT (contact, subscriber) "
                     "DO UPDATE SET user_jid = excluded.user_jid",
    [ES_GWSUB_REMOVE] = "DELETE FROM gateway_subscriptions WHERE "
                        "contact = $1 AND subscriber = $2",
    [ES_GWSUB_EXISTS] = "SELECT 1 FROM gateway_subscriptions WHERE "
                        "contact = $1 AND subscriber = $2",
    [ES_GWSUB_COUNT] = "SELECT count(*) FROM gateway_subscriptions WHERE "
                       "contact = $1",
    [ES_GWSUB_LIST] =
        "SELECT contact, subscriber, user_jid FROM gateway_subscriptions "
        "WHERE $1::text IS NULL OR user_jid = $1 "
        "ORDER BY user_jid, contact, subscriber",

    [ES_LEASE_GET] = "SELECT owner, deadline_ms FROM leases WHERE name = $1",
    [ES_LEASE_PUT] = "INSERT INTO leases (name, owner, deadline_ms) "
                     "VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE "
                     "SET owner = excluded.owner, "
                     "deadline_ms = excluded.deadline_ms",
    [ES_LEASE_DELETE] = "DELETE FROM leases WHERE name = $1 AND owner = $2",
    [ES_STATUS_PUT] =
        "INSERT INTO component_status (component, owner, connected_ms, "
        "heartbeat_ms, privileges) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT (component) DO UPDATE SET owner = excluded.owner, "
        "connected_ms = excluded.connected_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, "
        "privileges = excluded.privileges",
    [ES_STATUS_GET] = "SELECT owner, connected_ms, heartbeat_ms, privileges "
                      "FROM component_status WHERE component = $1",
    [ES_BRIDGE_PUT] =
        "INSERT INTO bridge_status (owner, host, pid, started_ms, "
        "heartbeat_ms, calls, presence_lease) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7) ON CONFLICT (owner) DO UPDATE SET host = excluded.host, "
        "pid = excluded.pid, started_ms = excluded.started_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, calls = excluded.calls, "
        "presence_lease = excluded.presence_lease",
    [ES_BRIDGE_EXPIRE] = "DELETE FROM bridge_status WHERE heartbeat_ms < $1",
    [ES_BRIDGE_REMOVE] = "DELETE FROM bridge_status WHERE owner = $1",
    [ES_BRIDGE_LIST] = "SELECT owner, host, pid, started_ms, heartbeat_ms, "
                       "calls, presence_lease FROM bridge_status WHERE "
                       "heartbeat_ms >= $1 ORDER BY started_ms, owner",
    [ES_JOBS_BY_STATE] = "SELECT COUNT(*) FILTER (WHERE state = 0), "
                         "COUNT(*) FILTER (WHERE state = 1), "
                         "COUNT(*) FILTER (WHERE state = 2), "
                         "COUNT(*) FILTER (WHERE state = 3), "
                         "COUNT(*) FILTER (WHERE state = 4) FROM jobs",
    /* strpos() rather than LIKE: the needle is typed by an operator and
     * its '%' and '_' must not be wildcards. */
    [ES_REG_SEARCH] = "SELECT " REG_READ_COLS " FROM registrations WHERE "
                      "$1::text IS NULL OR strpos(lower(jid), lower($1)) > 0 "
                      "OR strpos(lower(phone), lower($1)) > 0 "
                      "ORDER BY jid LIMIT $2",
    [ES_CALLS_BY_HOUR] = "SELECT created_ms / 3600000, COUNT(*) FROM events "
                         "WHERE type = 1 AND created_ms >= $1 "
                         "GROUP BY created_ms / 3600000 ORDER BY 1",
    [ES_MARK_GET] = "SELECT end_id, end_ms, checked_ms FROM archive_marks "
                    "WHERE jid = $1",
    [ES_MARK_PUT] = "INSERT INTO archive_marks (jid, end_id, end_ms, "
                    "checked_ms) VALUES ($1, $2, $3, $4) "
                    "ON CONFLICT (jid) DO UPDATE SET end_id = excluded.end_id, "
                    "end_ms = excluded.end_ms, "
                    "checked_ms = excluded.checked_ms",
    [ES_MARK_ACCOUNTED] =
        "SELECT COALESCE((SELECT max(m.received_ms) FROM job_messages m "
        "JOIN jobs j ON j.id = m.job_id WHERE j.callee_jid = $1), 0), "
        "COALESCE((SELECT max(e.delivered_ms) FROM events e "
        "JOIN jobs j ON j.id = e.job_id WHERE j.callee_jid = $1), 0)",
    [ES_PAUSE_PUT] =
        "INSERT INTO sender_pauses (callee_jid, sender_jid, until_ms, "
        "created_ms) SELECT callee_jid, sender_jid, $2::bigint, $3::bigint "
        "FROM jobs "
        "WHERE id = $1 AND kind = " SQL_KIND_MESSAGE " "
        "ON CONFLICT (callee_jid, sender_jid) DO UPDATE SET "
        "until_ms = excluded.until_ms, created_ms = excluded.created_ms",
    [ES_PAUSE_EXPIRE] = "DELETE FROM sender_pauses WHERE until_ms <= $1",
    [ES_PAUSE_UNTIL] = "SELECT until_ms FROM sender_pauses WHERE "
                       "callee_jid = $1 AND sender_jid = $2 AND "
                       "until_ms > $3",
    [ES_AUDIO_PUT] = "INSERT INTO published_audio (name, mime, bytes, "
                     "created_ms, expires_ms) VALUES ($1, $2, $3, $4, $5)",
    [ES_AUDIO_GET] = "SELECT mime, bytes, created_ms, expires_ms FROM "
                     "published_audio WHERE name = $1 AND expires_ms > $2",
    [ES_AUDIO_EXPIRE] = "DELETE FROM published_audio WHERE expires_ms <= $1",
};

struct engine_statement {
	enum engine_statement_id id;
	bool own;  /* release() frees this */
	char *sql; /* ad hoc (statement_sql), run unprepared; else NULL */
	int n_params;
	const char *values[PG_MAX_PARAMS];
	int lengths[PG_MAX_PARAMS];
	int formats[PG_MAX_PARAMS];
	char ints[PG_MAX_PARAMS][24];
	PGresult *res;       /* NULL until the first step() */
	int row;             /* the current row; -1 before the first */
	unsigned char *blob; /* the last column_blob(), unescaped */
};

struct engine {
	PGconn *conn;
	char *where; /* "host:port/db" for log lines: never the password */
	bool prepared[ES_COUNT];
	struct engine_statement st[ES_COUNT];
	int64_t tx_now;               /* the clock read at begin() */
	int64_t clock_db, clock_mono; /* the last reading, and when */
	int64_t last_id;              /* of the last INSERT ... RETURNING id */
	int64_t changes;              /* rows the last statement changed */
	/* A batch call's savepoint commands not sent yet (see
	 * pg_savepoint()): they go ahead of the call's next statement. */
	bool sp_open;       /* SAVEPOINT asked for, not sent */
	bool sp_release;    /* the last call's RELEASE, not sent */
	char *uri;          /* the URI, kept for the listening connection */
	char *password;     /* from [queue] password_file, or NULL */
	PGconn *lconn;      /* the listening connection, or NULL */
	unsigned mask;      /* channels listened for */
	unsigned pending;   /* read by notify(), for the next drain */
	int wake_fd;        /* epoll over the listening socket, or -1 */
	int timer_fd;       /* retry timer while the listener is down */
	int listen_backoff; /* ms before the listener's next try */
	int backoff;        /* ms before the next reconnect of conn */
	int64_t retry_at;   /* clock_mono_ms() of that try */
};

/* The password file set by queue_password_file_set(), or NULL. */
static char *password_file;

int queue_password_file_set(const char *path)
{
	char *p = NULL;

	if (path && *path) {
		p = strdup(path);
		if (!p)
			return -ENOMEM;
	}
	free(password_file);
	password_file = p;
	return 0;
}

/* Maps a failed result to our errors by SQLSTATE, logging what the caller
 * cannot handle (-EIO). */
static int pg_err(struct engine *e, const PGresult *res, const char *what)
{
	const char *state =
	    res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : "";

	if (state && !strncmp(state, "23", 2))
		return -EEXIST;
	/* Serialisation failure, deadlock, lock not available. */
	if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01") ||
	              !strcmp(state, "55P03")))
		return -EBUSY;
	if (!msg || !*msg)
		msg = PQerrorMessage(e->conn);
	log_err(TAG, "%s: %s: %.*s", e->where, what, (int)strcspn(msg, "\n"),
	        msg);
	return -EIO;
}

/* Runs SQL (no parameters) and checks it gave STATUS; *RESP gets the
 * result when the caller wants it (freed by the caller). */
static int exec_simple(struct engine *e, const char *sql, ExecStatusType status,
                       PGresult **resp, const char *what)
{
	PGresult *res = PQexec(e->conn, sql);
	int err = 0;

	if (PQresultStatus(res) != status)
		err = pg_err(e, res, what);
	if (resp && !err)
		*resp = res;
	else
		PQclear(res);
	return err;
}

/* The first column of the first row of a result as an integer, DEF when
 * there is none or it is NULL. */
static int64_t result_int(const PGresult *res, int64_t def)
{
	if (!res || PQntuples(res) < 1 || PQgetisnull(res, 0, 0))
		return def;
	return strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

static int backoff_next(int ms)
{
	if (ms < PG_BACKOFF_MIN_MS)
		return PG_BACKOFF_MIN_MS;
	return ms * 2 > PG_BACKOFF_MAX_MS ? PG_BACKOFF_MAX_MS : ms * 2;
}

/*
 * A lost connection (PostgreSQL restarted, the network cut) is reopened
 * here, before the next transaction or statement outside one, with
 * back-off: until it is back every call fails with -EIO at once, which
 * the callers treat as any failed commit (the component answers pushes
 * with a "wait" error, the bridge retries at its next poll).
 */
static int conn_check(struct engine *e)
{
	int64_t now;

	if (PQstatus(e->conn) == CONNECTION_OK)
		return 0;
	now = clock_mono_ms();
	if (now < e->retry_at)
		return -EIO;
	PQreset(e->conn);
	if (PQstatus(e->conn) != CONNECTION_OK) {
		e->backoff = backoff_next(e->backoff);
		e->retry_at = now + e->backoff;
		log_warn(TAG, "%s: cannot reconnect: %.*s; next try in %d ms",
		         e->where, (int)strcspn(PQerrorMessage(e->conn), "\n"),
		         PQerrorMessage(e->conn), e->backoff);
		return -EIO;
	}
	/* Prepared statements lived in the old session. */
	memset(e->prepared, 0, sizeof(e->prepared));
	e->backoff = 0;
	e->retry_at = 0;
	log_info(TAG, "%s: reconnected", e->where);
	return 0;
}

/* ---- transactions -------------------------------------------------------- */

static bool pg_in_transaction(struct engine *e)
{
	PGTransactionStatusType s = PQtransactionStatus(e->conn);

	return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

/* BEGIN and the clock in one round trip: every time a call takes inside
 * the transaction is this one, as every SQLite statement of a
 * transaction sees one snapshot. */
static int pg_begin(struct engine *e)
{
	PGresult *res = NULL;
	int err;

	e->sp_open = false;
	e->sp_release = false;
	err = conn_check(e);
	if (err)
		return err;
	err = exec_simple(e, "BEGIN; SELECT " PG_NOW_MS, PGRES_TUPLES_OK, &res,
	                  "beginning a transaction");
	if (err) {
		if (pg_in_transaction(e))
			PQclear(PQexec(e->conn, "ROLLBACK"));
		return err;
	}
	e->tx_now = result_int(res, 0);
	e->clock_db = e->tx_now;
	e->clock_mono = clock_mono_ms();
	PQclear(res);
	return 0;
}

static void pg_rollback(struct engine *e)
{
	e->sp_open = false;
	e->sp_release = false;
	if (pg_in_transaction(e))
		PQclear(PQexec(e->conn, "ROLLBACK"));
}

static int pg_commit(struct engine *e)
{
	PGresult *res;
	int err = 0;

	/* COMMIT releases the savepoint a RELEASE not sent yet would. */
	e->sp_open = false;
	e->sp_release = false;
	/* COMMIT of a failed transaction "succeeds" as a ROLLBACK. */
	if (PQtransactionStatus(e->conn) == PQTRANS_INERROR) {
		log_err(TAG,
		        "%s: a statement failed; the transaction is "
		        "rolled back",
		        e->where);
		pg_rollback(e);
		return -EIO;
	}
	res = PQexec(e->conn, "COMMIT");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		err = pg_err(e, res, "committing");
	else if (strcmp(PQcmdStatus(res), "COMMIT"))
		err = -EIO;
	PQclear(res);
	if (err)
		pg_rollback(e);
	return err;
}

/*
 * A batch's savepoints cost no round trip of their own: SAVEPOINT is sent
 * in one pipeline with the call's first statement (a call that runs none
 * needs none), and RELEASE with the next call's first statement, or not at
 * all when COMMIT (which releases every savepoint) comes first. The batch
 * is undone call by call as before; only the sending is later.
 */
static int pg_savepoint(struct engine *e)
{
	e->sp_open = true;
	return 0;
}

static int pg_savepoint_release(struct engine *e)
{
	if (e->sp_open)
		e->sp_open = false; /* nothing ran: there is nothing to keep */
	else
		e->sp_release = true;
	return 0;
}

static void pg_savepoint_rollback(struct engine *e)
{
	if (e->sp_open) {
		e->sp_open = false; /* nothing ran: there is nothing to undo */
		return;
	}
	exec_simple(e, "ROLLBACK TO queue_call", PGRES_COMMAND_OK, NULL,
	            "rolling back a savepoint");
}

/* ---- statements ---------------------------------------------------------- */

static void statement_reset(struct engine_statement *s)
{
	PQclear(s->res);
	s->res = NULL;
	s->row = -1;
	PQfreemem(s->blob);
	s->blob = NULL;
	memset(s->values, 0, sizeof(s->values));
	memset(s->lengths, 0, sizeof(s->lengths));
	memset(s->formats, 0, sizeof(s->formats));
	s->n_params = 0;
}

static int pg_statement(struct engine *e, enum engine_statement_id id, bool own,
                        struct engine_statement **stp)
{
	struct engine_statement *s;

	*stp = NULL;
	if (own) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -ENOMEM;
		s->own = true;
	} else {
		s = &e->st[id];
	}
	s->id = id;
	s->row = -1;
	*stp = s;
	return 0;
}

static int pg_statement_sql(struct engine *e, const char *sql,
                            struct engine_statement **stp)
{
	struct engine_statement *s;

	(void)e;
	*stp = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->sql = strdup(sql);
	if (!s->sql) {
		free(s);
		return -ENOMEM;
	}
	s->own = true;
	s->row = -1;
	*stp = s;
	return 0;
}

static void pg_release(struct engine *e, struct engine_statement *s);
static int pg_step(struct engine *e, struct engine_statement *s, bool *row,
                   const char *what);

/* Identity columns do not see explicit ids: TABLE's sequence is set past
 * the largest one copied. TABLE is one of the copy's own names. */
static int pg_ids_follow(struct engine *e, const char *table)
{
	struct engine_statement *s;
	char sql[256];
	bool row;
	int err;

	snprintf(sql, sizeof(sql),
	         "SELECT setval(pg_get_serial_sequence('%s', 'id'), "
	         "(SELECT COALESCE(MAX(id), 0) + 1 FROM %s), false)",
	         table, table);
	err = pg_statement_sql(e, sql, &s);
	if (err)
		return err;
	err = pg_step(e, s, &row, "moving the ids on");
	pg_release(e, s);
	return err;
}

static void pg_release(struct engine *e, struct engine_statement *s)
{
	(void)e;
	if (!s)
		return;
	statement_reset(s);
	if (s->own) {
		free(s->sql);
		free(s);
	}
}

static void set_param(struct engine_statement *s, int i, const char *v, int len,
                      int format)
{
	if (i < 1 || i > PG_MAX_PARAMS)
		return;
	s->values[i - 1] = v;
	s->lengths[i - 1] = len;
	s->formats[i - 1] = format;
	if (i > s->n_params)
		s->n_params = i;
}

static void pg_bind_int(struct engine_statement *s, int i, int64_t v)
{
	if (i < 1 || i > PG_MAX_PARAMS)
		return;
	snprintf(s->ints[i - 1], sizeof(s->ints[i - 1]), "%" PRId64, v);
	set_param(s, i, s->ints[i - 1], 0, 0);
}

static void pg_bind_text(struct engine_statement *s, int i, const char *v)
{
	set_param(s, i, v, 0, 0);
}

static void pg_bind_blob(struct engine_statement *s, int i, const void *v,
                         size_t len)
{
	/* Binary format: bytea goes as it is, no escaping. */
	set_param(s, i, len ? v : NULL, (int)len, 1);
}

/* Prepares statement ID on this connection the first time it runs. */
static int prepare(struct engine *e, enum engine_statement_id id)
{
	char name[16], what[80];
	PGresult *res;
	int err = 0;

	if (e->prepared[id])
		return 0;
	snprintf(name, sizeof(name), "rb%d", (int)id);
	res = PQprepare(e->conn, name, pg_sql[id], 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		/* As SQLite's engine says it: the statement's beginning. */
		snprintf(what, sizeof(what), "preparing \"%.60s\"", pg_sql[id]);
		err = pg_err(e, res, what);
	} else {
		e->prepared[id] = true;
	}
	PQclear(res);
	return err;
}

/* Whether statement ID is an INSERT ... RETURNING id (last_insert_id()). */
static bool returns_id(enum engine_statement_id id)
{
	return id == ES_MSG_INSERT || id == ES_JOB_INSERT ||
	       id == ES_JOB_FOLLOW_UP || id == ES_EVENT_INSERT ||
	       id == ES_EVENT_INSERT_OWNED;
}

/* Sends statement S (NAME when prepared) on its own or after queued
 * savepoint commands. */
static int statement_send(struct engine *e, struct engine_statement *s,
                          const char *name)
{
	if (s->sql)
		return PQsendQueryParams(e->conn, s->sql, s->n_params, NULL,
		                         s->values, s->lengths, s->formats, 0);
	return PQsendQueryPrepared(e->conn, name, s->n_params, s->values,
	                           s->lengths, s->formats, 0);
}

/*
 * Statement S behind the savepoint commands a batch call still owes
 * (pg_savepoint()), in one pipeline: one round trip for all of them. The
 * statement's result is returned (NULL when it could not be sent or the
 * connection was lost); a failed savepoint command is logged, and then
 * the statement's result is PGRES_PIPELINE_ABORTED.
 */
static PGresult *exec_pipelined(struct engine *e, struct engine_statement *s,
                                const char *name)
{
	static const char *const cmds[] = {"RELEASE queue_call",
	                                   "SAVEPOINT queue_call"};
	bool want[2] = {e->sp_release, e->sp_open};
	PGresult *out = NULL, *r;
	int queries = 0, done = 0, i;
	bool sent = PQenterPipelineMode(e->conn);

	e->sp_release = false;
	e->sp_open = false;
	for (i = 0; sent && i < 2; i++) {
		if (!want[i])
			continue;
		sent = PQsendQueryParams(e->conn, cmds[i], 0, NULL, NULL, NULL,
		                         NULL, 0);
		queries++;
	}
	sent = sent && statement_send(e, s, name) && PQpipelineSync(e->conn);
	queries++;
	while (sent) {
		r = PQgetResult(e->conn);
		if (!r) {
			/* The end of one query's results. */
			if (PQstatus(e->conn) != CONNECTION_OK)
				break;
			done++;
			continue;
		}
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (done == queries - 1) {
			PQclear(out);
			out = r;
			continue;
		}
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			pg_err(e, r, "opening a savepoint");
		PQclear(r);
	}
	if (!PQexitPipelineMode(e->conn))
		log_err(TAG, "%s: cannot leave pipeline mode: %.*s", e->where,
		        (int)strcspn(PQerrorMessage(e->conn), "\n"),
		        PQerrorMessage(e->conn));
	return out;
}

/* The whole result is read at the first step (libpq's default): the rows
 * of a walk stay readable while its callback runs other statements. */
static int pg_step(struct engine *e, struct engine_statement *s, bool *row,
                   const char *what)
{
	char name[16];
	ExecStatusType st;
	int err;

	*row = false;
	if (!s->res) {
		err = pg_in_transaction(e) ? 0 : conn_check(e);
		if (!err && !s->sql)
			err = prepare(e, s->id);
		if (err)
			return err;
		snprintf(name, sizeof(name), "rb%d", (int)s->id);
		if (e->sp_open || e->sp_release)
			s->res = exec_pipelined(e, s, name);
		else if (s->sql)
			s->res =
			    PQexecParams(e->conn, s->sql, s->n_params, NULL,
			                 s->values, s->lengths, s->formats, 0);
		else
			s->res = PQexecPrepared(e->conn, name, s->n_params,
			                        s->values, s->lengths,
			                        s->formats, 0);
		st = PQresultStatus(s->res);
		if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
			err = pg_err(e, s->res, what);
			PQclear(s->res);
			s->res = NULL;
			return err;
		}
		e->changes = strtoll(PQcmdTuples(s->res), NULL, 10);
		if (!s->sql && returns_id(s->id))
			e->last_id = result_int(s->res, 0);
	}
	s->row++;
	*row = s->row < PQntuples(s->res);
	return 0;
}

static bool pg_column_null(struct engine_statement *s, int i)
{
	return !s->res || s->row < 0 || PQgetisnull(s->res, s->row, i);
}

static int64_t pg_column_int(struct engine_statement *s, int i)
{
	if (pg_column_null(s, i))
		return 0;
	return strtoll(PQgetvalue(s->res, s->row, i), NULL, 10);
}

static const char *pg_column_text(struct engine_statement *s, int i)
{
	if (pg_column_null(s, i))
		return NULL;
	return PQgetvalue(s->res, s->row, i);
}

static const void *pg_column_blob(struct engine_statement *s, int i,
                                  size_t *len)
{
	size_t n = 0;

	*len = 0;
	if (pg_column_null(s, i))
		return NULL;
	PQfreemem(s->blob);
	s->blob = NULL;
	if (PQftype(s->res, i) != PG_BYTEA_OID) {
		*len = (size_t)PQgetlength(s->res, s->row, i);
		return PQgetvalue(s->res, s->row, i);
	}
	s->blob = PQunescapeBytea(
	    (const unsigned char *)PQgetvalue(s->res, s->row, i), &n);
	*len = s->blob ? n : 0;
	return s->blob;
}

static int64_t pg_last_insert_id(struct engine *e)
{
	return e->last_id;
}

static int64_t pg_changes(struct engine *e)
{
	return e->changes;
}

/* How long a reading of the database's clock serves, advanced by this
 * host's monotonic clock, outside a transaction. */
#define PG_CLOCK_FRESH_MS 10000

/*
 * The database's clock: the transaction's reading inside one (rules take
 * "now" several times per call). Outside one, the last reading (any
 * BEGIN's, or a SELECT of its own once it is PG_CLOCK_FRESH_MS old)
 * advanced by this host's monotonic clock, so that the bridge's loop,
 * which reads the clock for each call it places (the enqueue-to-INVITE
 * figure, a retry's time, the prompt's "when"), does not wait for a round
 * trip each time (it did: each call's start waited for PostgreSQL). The
 * monotonic clock never jumps with the host's wall clock, and in 10 s it
 * drifts from the database's by at most 5 ms (NTP slews a clock by 0.05%
 * at most); nothing is written with this reading but a retry's next
 * attempt, where that does not matter (every other write takes the
 * transaction's).
 * While the database cannot be reached, the last reading keeps advancing
 * the same way.
 */
static int64_t pg_now_ms(struct engine *e)
{
	PGresult *res = NULL;
	int64_t mono;

	if (PQtransactionStatus(e->conn) == PQTRANS_INTRANS)
		return e->tx_now;
	mono = clock_mono_ms();
	if (e->clock_mono && mono - e->clock_mono < PG_CLOCK_FRESH_MS)
		return e->clock_db + (mono - e->clock_mono);
	if (!conn_check(e) &&
	    !exec_simple(e, "SELECT " PG_NOW_MS, PGRES_TUPLES_OK, &res,
	                 "reading the clock")) {
		e->clock_db = result_int(res, 0);
		e->clock_mono = clock_mono_ms();
		PQclear(res);
		return e->clock_db;
	}
	return e->clock_db + (clock_mono_ms() - e->clock_mono);
}

/* ---- connect, migrations, close ----------------------------------------- */

static int pg_schema_version(struct engine *e, int *version)
{
	PGresult *res = NULL;
	int err;

	*version = 0;
	err = exec_simple(e, "SELECT to_regclass('schema_version') IS NOT NULL",
	                  PGRES_TUPLES_OK, &res, "reading the schema version");
	if (err)
		return err;
	if (strcmp(PQgetvalue(res, 0, 0), "t")) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = NULL;
	err = exec_simple(e, pg_sql[ES_SCHEMA_VERSION], PGRES_TUPLES_OK, &res,
	                  "reading the schema version");
	if (!err)
		*version = (int)result_int(res, 0);
	PQclear(res);
	return err;
}

/* Applies the migrations above the database's version in one transaction,
 * under a session advisory lock: two processes starting at once run them
 * one after the other, and the second finds nothing left to do. */
static int migrate(struct engine *e)
{
	const struct queue_schema_migration *m;
	char sql[96];
	int version, err;
	size_t i;

	err = exec_simple(e, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")",
	                  PGRES_TUPLES_OK, NULL, "locking for migrations");
	if (err)
		return err;
	err = exec_simple(e, "BEGIN", PGRES_COMMAND_OK, NULL, "migrating");
	if (err)
		goto unlock;
	err = pg_schema_version(e, &version);
	if (err)
		goto out;
	if (version > (int)queue_schema_pg_n) {
		log_err(TAG,
		        "%s: schema version %d is newer than this build "
		        "knows (%zu); upgrade ringbridge",
		        e->where, version, queue_schema_pg_n);
		err = -EPROTO;
		goto out;
	}
	for (i = (size_t)version; i < queue_schema_pg_n; i++) {
		m = &queue_schema_pg[i];
		err = exec_simple(e, (const char *)m->sql, PGRES_COMMAND_OK,
		                  NULL, m->name);
		if (!err) {
			snprintf(sql, sizeof(sql),
			         "DELETE FROM schema_version; INSERT INTO "
			         "schema_version (version) VALUES (%d)",
			         m->version);
			err = exec_simple(e, sql, PGRES_COMMAND_OK, NULL,
			                  m->name);
		}
		if (err) {
			log_err(TAG, "%s: migration %s failed", e->where,
			        m->name);
			goto out;
		}
		log_info(TAG, "%s: applied schema migration %s", e->where,
		         m->name);
	}
out:
	if (err)
		pg_rollback(e);
	else
		err = exec_simple(e, "COMMIT", PGRES_COMMAND_OK, NULL,
		                  "committing the migrations");
unlock:
	PQclear(
	    PQexec(e->conn, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")"));
	return err;
}

/*
 * Reads the password of [queue] password_file into BUF: its first line.
 * Refused when others may read it (libpq ignores such a PGPASSFILE too),
 * so a password is never left readable by every user of the host.
 */
static int password_read(const char *path, char *buf, size_t size)
{
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = -errno;
		log_err(TAG, "[queue] password_file %s: %s", path,
		        strerror(errno));
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_mode & 077) {
		log_err(TAG,
		        "[queue] password_file %s: must be a regular file "
		        "that only its owner can read (chmod 600)",
		        path);
		err = -EPERM;
		goto out;
	}
	n = read(fd, buf, size - 1);
	if (n < 0) {
		err = -errno;
		log_err(TAG, "[queue] password_file %s: %s", path,
		        strerror(errno));
		goto out;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!*buf) {
		log_err(TAG, "[queue] password_file %s is empty", path);
		err = -EINVAL;
	}
out:
	close(fd);
	return err;
}

static void pg_close(struct engine *e)
{
	size_t i;

	if (!e)
		return;
	for (i = 0; i < ES_COUNT; i++)
		statement_reset(&e->st[i]);
	if (e->conn)
		PQfinish(e->conn);
	if (e->lconn)
		PQfinish(e->lconn);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	if (e->timer_fd >= 0)
		close(e->timer_fd);
	if (e->uri) {
		explicit_bzero(e->uri, strlen(e->uri));
		free(e->uri);
	}
	if (e->password) {
		explicit_bzero(e->password, strlen(e->password));
		free(e->password);
	}
	free(e->where);
	free(e);
}

/* "host:port/db" of the connection, for log lines. */
static int where_set(struct engine *e, PGconn *c)
{
	const char *host = PQhost(c), *port = PQport(c), *db = PQdb(c);
	size_t n;

	host = host ? host : "";
	port = port ? port : "";
	db = db ? db : "";
	n = strlen(host) + strlen(port) + strlen(db) + 16;
	e->where = malloc(n);
	if (!e->where)
		return -ENOMEM;
	snprintf(e->where, n, "postgresql %s:%s/%s", host, port, db);
	return 0;
}

/* libpq's notices (the server's "terminating connection" and the like)
 * go to our log, not to stderr. */
static void notice_log(void *arg, const char *msg)
{
	struct engine *e = arg;

	log_warn(TAG, "%s: %.*s", e->where ? e->where : "postgresql",
	         (int)strcspn(msg, "\n"), msg);
}

/* Opens one connection to the engine's database into *CP. */
static int session_open(struct engine *e, PGconn **cp)
{
	const char *keys[5], *vals[5];
	const char *msg;
	size_t n = 0;
	int err = 0;

	/* Earlier keys are overridden by later ones: the file's password
	 * first, so a password in the URI wins; with neither, libpq reads
	 * PGPASSFILE (~/.pgpass) itself. */
	if (e->password) {
		keys[n] = "password";
		vals[n++] = e->password;
	}
	keys[n] = "fallback_application_name";
	vals[n++] = "ringbridge";
	/* A reconnect runs on the caller's loop: bounded unless the URI
	 * says otherwise. */
	keys[n] = "connect_timeout";
	vals[n++] = PG_CONNECT_TIMEOUT;
	keys[n] = "dbname";
	vals[n++] = e->uri;
	keys[n] = NULL;
	vals[n] = NULL;
	*cp = PQconnectdbParams(keys, vals, 1);
	if (!*cp)
		return -ENOMEM;
	if (!e->where) {
		err = where_set(e, *cp);
		if (err)
			return err;
	}
	PQsetNoticeProcessor(*cp, notice_log, e);
	if (PQstatus(*cp) != CONNECTION_OK) {
		msg = PQerrorMessage(*cp);
		/* libpq's message names host and user, never the password. */
		log_err(TAG, "%s: cannot connect: %.*s", e->where,
		        (int)strcspn(msg, "\n"), msg);
		PQfinish(*cp);
		*cp = NULL;
		return -EIO;
	}
	return 0;
}

/* LOCATION is the URI after "postgresql://". */
static int pg_connect(struct engine **ep, const char *location)
{
	char pw[PG_PASSWORD_MAX + 2];
	struct engine *e;
	char *uri = NULL;
	int err = 0;

	*ep = NULL;
	/* A statement id added to engine.h without its text here is a
	 * build defect: refuse at once, not at the first call that runs it. */
	for (size_t i = 0; i < ES_COUNT; i++)
		if (!pg_sql[i]) {
			log_err(TAG, "engine_pg.c has no SQL for statement %zu",
			        i);
			return -EPROTO;
		}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->wake_fd = -1;
	e->timer_fd = -1;
	uri = malloc(strlen(location) + 16);
	if (!uri) {
		err = -ENOMEM;
		goto out;
	}
	sprintf(uri, "postgresql://%s", location);

	if (password_file) {
		err = password_read(password_file, pw, sizeof(pw));
		if (err)
			goto out;
		e->password = strdup(pw);
		explicit_bzero(pw, sizeof(pw));
		if (!e->password) {
			err = -ENOMEM;
			goto out;
		}
	}
	e->uri = uri;
	uri = NULL;
	err = session_open(e, &e->conn);
	if (err)
		goto out;
	err = exec_simple(e, "SET client_min_messages = warning",
	                  PGRES_COMMAND_OK, NULL, "setting up the session");
	if (!err)
		err = migrate(e);
	if (!err)
		pg_now_ms(e); /* the first reading of the clock */
out:
	if (uri) {
		explicit_bzero(uri, strlen(uri));
		free(uri);
	}
	if (err) {
		pg_close(e);
		return err;
	}
	*ep = e;
	return 0;
}

/* ---- wake-ups: LISTEN/NOTIFY on a connection of their own -----------------
 *
 * Listening has a connection that runs nothing else: notifications that
 * arrive while a connection runs a query are read (and queued) by libpq
 * with the query's answer, so its socket would not become readable and the
 * process would sleep through the wake-up until its safety-net poll. The
 * listening connection's socket is the descriptor handed out. A committed
 * call or batch sends one NOTIFY per channel it touched, in one round trip
 * (never one per job: NOTIFY serialises the commits that send it).
 */

/* How long notify() waits for its own notification to come back to this
 * handle's listening connection (usually well under a millisecond). */
#define PG_SELF_WAIT_MS 100

/* Reads what the listening connection has; *CHANNELS gets the foreign
 * notifications' channels; *SELF whether our own came back. */
static int listen_read(struct engine *e, unsigned *channels, bool *self)
{
	int own = PQbackendPID(e->conn);
	PGnotify *n;

	if (!PQconsumeInput(e->lconn) || PQstatus(e->lconn) != CONNECTION_OK) {
		log_warn(TAG, "%s: wake-ups: %.*s", e->where,
		         (int)strcspn(PQerrorMessage(e->lconn), "\n"),
		         PQerrorMessage(e->lconn));
		return -EIO;
	}
	while ((n = PQnotifies(e->lconn)) != NULL) {
		size_t i;

		/* A handle's own writes do not wake it (as on SQLite). */
		if (n->be_pid == own) {
			*self = true;
		} else {
			for (i = 0; i < PG_N_CHANNELS; i++)
				if (!strcmp(n->relname, pg_channels[i]))
					*channels |= (1u << i) & e->mask;
		}
		PQfreemem(n);
	}
	return 0;
}

/* "NOTIFY a; NOTIFY b; " or "LISTEN a; ..." for the channels in MASK. */
static void channels_sql(const char *verb, unsigned mask, char *buf,
                         size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < PG_N_CHANNELS; i++)
		if (mask & (1u << i) && n < size)
			n += (size_t)snprintf(buf + n, size - n, "%s %s; ",
			                      verb, pg_channels[i]);
}

/* Sends LISTEN for the channels in MASK on the listening connection. */
static int listen_send(struct engine *e, unsigned mask)
{
	char sql[256];
	PGresult *res;
	int err = 0;

	channels_sql("LISTEN", mask, sql, sizeof(sql));
	if (!sql[0])
		return 0;
	res = PQexec(e->lconn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		err = pg_err(e, res, "listening for wake-ups");
	PQclear(res);
	return err;
}

/* Points the wake descriptor at FD instead of OLD (-1: none). */
static void wake_watch(struct engine *e, int old, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (old >= 0)
		epoll_ctl(e->wake_fd, EPOLL_CTL_DEL, old, NULL);
	if (fd >= 0) {
		ev.data.fd = fd;
		epoll_ctl(e->wake_fd, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* Arms the retry timer for the listening connection's next try. */
static void listen_retry_arm(struct engine *e)
{
	struct itimerspec its = {0};

	e->listen_backoff = backoff_next(e->listen_backoff);
	its.it_value.tv_sec = e->listen_backoff / 1000;
	its.it_value.tv_nsec = (long)(e->listen_backoff % 1000) * 1000000;
	timerfd_settime(e->timer_fd, 0, &its, NULL);
}

/* The listening connection broke: watch the retry timer instead, so the
 * caller's loop neither spins on a dead socket nor sleeps past the next
 * try. */
static void listen_lost(struct engine *e)
{
	wake_watch(e, PQsocket(e->lconn), -1);
	PQfinish(e->lconn);
	e->lconn = NULL;
	listen_retry_arm(e);
	wake_watch(e, -1, e->timer_fd);
	log_warn(TAG,
	         "%s: wake-ups lost; reconnecting in %d ms (polling "
	         "meanwhile)",
	         e->where, e->listen_backoff);
}

/* Opens the listening connection and listens to the handle's channels. */
static int listen_open(struct engine *e)
{
	int err = session_open(e, &e->lconn);

	if (!err)
		err = listen_send(e, e->mask);
	if (err) {
		if (e->lconn)
			PQfinish(e->lconn);
		e->lconn = NULL;
	}
	return err;
}

/*
 * The descriptor handed out is an epoll instance of the engine's own,
 * watching the listening connection's socket: it stays the same
 * descriptor (and the same open file, which epoll-based loops such as
 * sofia's su_root register) when the connection is replaced after
 * PostgreSQL restarts.
 */
static int pg_wake_listen(struct engine *e, unsigned mask, int *fd)
{
	unsigned add = mask & ~e->mask & ((1u << PG_N_CHANNELS) - 1);
	int err;

	*fd = -1;
	if (e->wake_fd < 0) {
		e->wake_fd = epoll_create1(EPOLL_CLOEXEC);
		e->timer_fd =
		    timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (e->wake_fd < 0 || e->timer_fd < 0) {
			err = -errno;
			log_err(TAG, "wake-ups: %s", strerror(errno));
			return err;
		}
		e->mask = mask;
		err = listen_open(e);
		if (err)
			return err;
		wake_watch(e, -1, PQsocket(e->lconn));
	} else if (add && e->lconn) {
		err = listen_send(e, add);
		if (err)
			return err;
		e->mask |= mask;
	} else {
		e->mask |= mask;
	}
	*fd = e->wake_fd;
	return 0;
}

static int pg_wake_drain(struct engine *e, unsigned *channels)
{
	uint64_t ticks;
	bool self = false;

	*channels = e->pending;
	e->pending = 0;
	if (e->wake_fd < 0)
		return 0;
	if (!e->lconn) {
		if (read(e->timer_fd, &ticks, sizeof(ticks)) != sizeof(ticks))
			return 0; /* not yet */
		if (listen_open(e)) {
			listen_retry_arm(e);
			return 0;
		}
		wake_watch(e, e->timer_fd, PQsocket(e->lconn));
		e->listen_backoff = 0;
		log_info(TAG, "%s: wake-ups back", e->where);
		/* What was notified meanwhile is lost: say everything. */
		*channels |= e->mask;
		return 0;
	}
	if (listen_read(e, channels, &self))
		listen_lost(e);
	return 0;
}

static int pg_notify(struct engine *e, unsigned channels)
{
	struct pollfd p;
	bool self = false;
	char sql[256];
	int64_t t0;
	int err, left = PG_SELF_WAIT_MS;

	channels_sql("NOTIFY", channels, sql, sizeof(sql));
	if (!sql[0])
		return 0;
	err = conn_check(e);
	if (!err)
		err = exec_simple(e, sql, PGRES_COMMAND_OK, NULL,
		                  "sending a wake-up");
	if (err || !e->lconn || !(channels & e->mask))
		return err;
	/* Take our own notification off the listening socket, so that it
	 * does not wake this handle's loop for nothing; anything foreign
	 * read with it is kept for the next drain. */
	t0 = clock_mono_ms();
	while (!self && left > 0) {
		p = (struct pollfd){.fd = PQsocket(e->lconn), .events = POLLIN};
		if (poll(&p, 1, left) <= 0)
			break;
		if (listen_read(e, &e->pending, &self)) {
			listen_lost(e);
			break;
		}
		left = PG_SELF_WAIT_MS - (int)(clock_mono_ms() - t0);
	}
	return 0;
}

const struct engine_ops engine_pg = {
    .name = "postgresql",
    .scheme = "postgresql://",
    .connect = pg_connect,
    .close = pg_close,
    .schema_version = pg_schema_version,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_cheap = false,
    .statements_cheap = false,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .in_transaction = pg_in_transaction,
    .statement = pg_statement,
    .release = pg_release,
    .prepare = prepare,
    .statement_sql = pg_statement_sql,
    .ids_follow = pg_ids_follow,
    .bind_int = pg_bind_int,
    .bind_text = pg_bind_text,
    .bind_blob = pg_bind_blob,
    .step = pg_step,
    .column_null = pg_column_null,
    .column_int = pg_column_int,
    .column_text = pg_column_text,
    .column_blob = pg_column_blob,
    .last_insert_id = pg_last_insert_id,
    .changes = pg_changes,
    .now_ms = pg_now_ms,
    .wake_listen = pg_wake_listen,
    .wake_drain = pg_wake_drain,
    .notify = pg_notify,
};
