/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The SQLite engine: one database file shared by the component, the SIP
 * bridge and ringbridgectl. WAL with synchronous=FULL (a commit survives
 * power loss), every write in BEGIN IMMEDIATE (or a SAVEPOINT inside a
 * batch) so two processes serialise on the write lock instead of failing
 * on a stale snapshot, and a 5 s busy timeout before -EBUSY. Statements are
 * prepared once per handle and kept. Migrations are compiled in
 * (queue_schema.h) and applied at open inside one transaction. Wake-ups go
 * through the socket directory of queue_wake.c. Only what is not portable
 * lives here: the rules are in jobs.c and its siblings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "engine.h"
#include "log.h"
#include "queue.h"
#include "queue_internal.h"
#include "queue_schema.h"

#define TAG "queue"

/* How long a writer waits for another process's transaction. */
#define BUSY_TIMEOUT_MS 5000

/* The SQL literals of engine.h are queue.h's enums. */
_Static_assert(QUEUE_JOB_QUEUED == 0 && QUEUE_JOB_ACTIVE == 1 &&
                   QUEUE_JOB_NOTIFIED == 2 && QUEUE_JOB_FAILED == 3 &&
                   QUEUE_JOB_CANCELLED == 4,
               "engine.h SQL_QUEUED... follow enum queue_job_state");
_Static_assert(QUEUE_EV_CALLING == 1, "ES_CALLS_BY_HOUR counts type 1");
_Static_assert(QUEUE_JOB_MESSAGE == 1 && QUEUE_JOB_VERIFY == 2,
               "engine.h SQL_KIND_... follow enum queue_job_kind");

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

/* A queued job waits while its callee is on the phone (the "sip" presence
 * row the bridge writes; the primary key makes this one look-up). */
#define NOT_ON_THE_PHONE                                                       \
	"NOT EXISTS (SELECT 1 FROM presence p WHERE p.jid = jobs.callee_jid "  \
	"AND p.source = '" QUEUE_PRESENCE_SIP                                  \
	"' AND p.state = '" QUEUE_PRESENCE_ON_THE_PHONE "') "

/* A claim: the job becomes the owner's, leased until the deadline. */
#define CLAIM_SET                                                              \
	"UPDATE jobs SET state = " SQL_ACTIVE ", lease_owner = ?2, "           \
	"lease_deadline_ms = ?3, attempts = attempts + 1 "

static const char *const sqlite_sql[ES_COUNT] = {
    [ES_SCHEMA_VERSION] = "SELECT MAX(version) FROM schema_version",

    [ES_REG_PUT] =
        "INSERT INTO registrations (" REG_COLS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15, NULLIF(?16, -1), ?17, ?18, ?19, ?20, ?21, ?22, ?23) ON CONFLICT "
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
    [ES_REG_GET] = "SELECT " REG_READ_COLS " FROM registrations WHERE jid = ?1",
    [ES_REG_GET_NODE] =
        "SELECT " REG_READ_COLS " FROM registrations WHERE push_node = ?1",
    [ES_REG_DELETE] = "DELETE FROM registrations WHERE jid = ?1",
    [ES_REG_LIST] = "SELECT " REG_READ_COLS " FROM registrations ORDER BY jid",

    /* The write lock begin() took serialises enqueuers already. */
    [ES_CALLEE_LOCK] = "SELECT ?1",
    [ES_ENQUEUE_FACTS] =
        "SELECT COALESCE((SELECT job_id FROM job_messages WHERE "
        "idem_key = ?1), 0), COALESCE((SELECT until_ms FROM sender_pauses "
        "WHERE callee_jid = ?2 AND sender_jid = ?3 AND until_ms > ?4), 0), "
        "COALESCE((SELECT id FROM jobs WHERE callee_jid = ?2 AND "
        "sender_jid = ?3 AND state IN (" SQL_UNFINISHED
        ") AND kind = " SQL_KIND_MESSAGE " ORDER BY id LIMIT 1), 0), "
        "COALESCE((SELECT MAX(finished_ms) FROM jobs WHERE callee_jid = ?2 "
        "AND sender_jid = ?3 AND state IN (" SQL_FINISHED
        ") AND kind = " SQL_KIND_MESSAGE "), 0)",
    [ES_MSG_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                        "job_messages WHERE job_id = ?1",
    [ES_MSG_INSERT] =
        "INSERT INTO job_messages (job_id, seq, sender_jid, body, "
        "encrypted, received_ms, idem_key) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* ?3: a job kind, or 0 for every kind. */
    [ES_COUNT_CALLEE] = "SELECT COUNT(*) FROM jobs WHERE callee_jid = ?1 "
                        "AND created_ms >= ?2 AND (?3 = 0 OR kind = ?3)",
    [ES_COUNT_SENDER] = "SELECT COUNT(*) FROM jobs WHERE sender_jid = ?1 "
                        "AND created_ms >= ?2 AND (?3 = 0 OR kind = ?3)",
    [ES_JOB_INSERT] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms, gate, "
        "destination2, destination3, seen_until_ms) "
        "VALUES (?1, " SQL_QUEUED
        ", ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?11, "
        "NULLIF(?12, -1), ?13, ?14, NULLIF(?15, 0))",
    [ES_VERIFY_SUPERSEDE] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = ?2, "
        "last_reason = 'superseded by a new code' "
        "WHERE callee_jid = ?1 AND kind = " SQL_KIND_VERIFY
        " AND state = " SQL_QUEUED,
    [ES_JOB_CANCEL_FOR] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = ?2, "
        "last_reason = 'cancelled' "
        "WHERE callee_jid = ?1 AND state IN (" SQL_UNFINISHED ")",
    [ES_JOB_CANCEL_SEEN] =
        "UPDATE jobs SET state = " SQL_CANCELLED ", finished_ms = ?2, "
        "last_reason = 'seen during the wait' "
        "WHERE callee_jid = ?1 AND kind = " SQL_KIND_MESSAGE
        " AND state = " SQL_QUEUED " AND seen_until_ms > ?2",

    /* The queued job from jobs_due in (state, next_attempt_ms, id) order
     * (an index ends with the rowid, which id is); the lapsed one from
     * jobs_leases, named because without statistics SQLite would walk
     * jobs_due's every active job instead (a thousand calls: a thousand
     * rows per claim). */
    [ES_CLAIM_CANDIDATES] =
        "SELECT COALESCE(q.id, 0), COALESCE(q.next_attempt_ms, 0), "
        "COALESCE(x.id, 0), COALESCE(x.next_attempt_ms, 0) "
        "FROM (SELECT 1) AS one LEFT JOIN ("
        "SELECT id, next_attempt_ms FROM jobs WHERE "
        "state = " SQL_QUEUED " AND next_attempt_ms <= ?1 AND "
        "not_before_ms <= ?1 AND " NOT_ON_THE_PHONE
        "ORDER BY next_attempt_ms, id LIMIT 1) AS q ON 1 LEFT JOIN ("
        "SELECT id, next_attempt_ms FROM jobs INDEXED BY jobs_leases WHERE "
        "state = " SQL_ACTIVE " AND lease_deadline_ms < ?1 "
        "ORDER BY next_attempt_ms, id LIMIT 1) AS x ON 1",
    [ES_NEXT_DUE] =
        "SELECT COALESCE((SELECT MIN(MAX(next_attempt_ms, "
        "not_before_ms)) FROM jobs WHERE state = " SQL_QUEUED " "
        "AND " NOT_ON_THE_PHONE "), 0), COALESCE((SELECT "
        "MIN(lease_deadline_ms) + 1 FROM jobs WHERE state = " SQL_ACTIVE
        "), 0)",
    [ES_MSG_COUNTS] = "SELECT COUNT(*), COALESCE(SUM(heard = 0), 0) FROM "
                      "job_messages WHERE job_id = ?1",
    [ES_EVENT_OF_TYPE] =
        "SELECT 1 FROM events WHERE job_id = ?1 AND type = ?2 LIMIT 1",
    [ES_JOB_CLAIM] = CLAIM_SET "WHERE id = ?1",
    [ES_JOB_CLAIM_RETURNING] = CLAIM_SET "WHERE id = ?1 RETURNING " JOB_COLS,
    /* Never run (statements_cheap). */
    [ES_CLAIM_DUE_RETURNING] =
        CLAIM_SET "WHERE id = (SELECT id FROM jobs WHERE state = " SQL_QUEUED
                  " AND next_attempt_ms <= ?1 ORDER BY next_attempt_ms, id "
                  "LIMIT 1) RETURNING " JOB_COLS,
    [ES_JOB_SET_FINISHED] = "UPDATE jobs SET state = ?2, finished_ms = ?3, "
                            "last_reason = ?4 WHERE id = ?1",
    [ES_JOB_FINISH_OWNED] =
        "UPDATE jobs SET state = ?2, finished_ms = ?3, last_reason = ?4 "
        "WHERE id = ?1 AND state = " SQL_ACTIVE " AND lease_owner = ?5 "
        "RETURNING kind, (SELECT COUNT(*) FROM job_messages m WHERE "
        "m.job_id = jobs.id AND m.heard = 0 AND NOT EXISTS (" PAIR_PAUSED(
            "?1", "?3") "))",
    [ES_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [ES_MSGS_GET] = "SELECT " MSG_COLS " FROM job_messages WHERE "
                    "job_id = ?1 AND seq > ?2 ORDER BY seq",
    [ES_JOB_LEASE_INFO] =
        "SELECT state, lease_owner, kind FROM jobs WHERE id = ?1",
    [ES_JOB_RENEW] = "UPDATE jobs SET lease_deadline_ms = ?3 WHERE "
                     "id = ?1 AND state = " SQL_ACTIVE " AND lease_owner = ?2",
    [ES_JOB_RENEW_ALL] = "UPDATE jobs SET lease_deadline_ms = ?2 WHERE "
                         "state = " SQL_ACTIVE " AND lease_owner = ?1",
    [ES_JOBS_HELD] = "SELECT id FROM jobs WHERE state = " SQL_ACTIVE
                     " AND lease_owner = ?1 ORDER BY id",
    [ES_JOB_RETRY] =
        "UPDATE jobs SET state = " SQL_QUEUED ", next_attempt_ms = ?2, "
        "last_reason = ?3, lease_owner = NULL, "
        "lease_deadline_ms = NULL WHERE id = ?1",
    [ES_MSGS_UNHEARD] =
        "SELECT id FROM job_messages WHERE job_id = ?1 AND heard = 0 "
        "AND NOT EXISTS (" PAIR_PAUSED("?1", "?2") ") ORDER BY seq",
    [ES_MSG_MOVE] =
        "UPDATE job_messages SET job_id = ?2, seq = ?3 WHERE id = ?1",
    [ES_JOB_FOLLOW_UP] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms, gate, "
        "destination2, destination3) "
        "SELECT kind, " SQL_QUEUED ", callee_jid, destination, tz, lang, "
        "sender_jid, sender_name, reply_from, verify_code, 0, ?2, ?2, "
        "?2, gate, destination2, destination3 FROM jobs WHERE id = ?1",

    /* ?1 callee or NULL, ?2 unfinished only, ?3 finished only, ?4 limit */
    [ES_JOB_LIST] = "SELECT id FROM jobs WHERE (?1 IS NULL OR callee_jid = ?1) "
                    "AND (?2 = 0 OR state IN (" SQL_UNFINISHED ")) "
                    "AND (?3 = 0 OR state IN (" SQL_FINISHED ")) "
                    "ORDER BY id DESC LIMIT ?4",

    [ES_EVENT_INSERT] = "INSERT INTO events (job_id, type, detail, blob, "
                        "created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ES_EVENT_INSERT_OWNED] =
        "INSERT INTO events (job_id, type, detail, blob, created_ms) "
        "SELECT id, ?2, ?3, ?4, ?5 FROM jobs WHERE id = ?1 AND "
        "state <> " SQL_QUEUED " AND lease_owner = ?6 RETURNING id",
    /* Never run (statements_cheap): SQLite has no writes in WITH. */
    [ES_EVENT_HEARD_OWNED] =
        "INSERT INTO events (job_id, type, detail, blob, created_ms) "
        "SELECT id, ?2, ?3, ?4, ?5 FROM jobs WHERE id = ?1 AND "
        "state <> " SQL_QUEUED " AND lease_owner = ?6 AND ?7 IS NOT NULL "
        "RETURNING id",
    [ES_MSGS_MARK_HEARD] = "UPDATE job_messages SET heard = 1 WHERE "
                           "job_id = ?1 AND seq <= ?2 AND heard = 0",
    [ES_EVENTS_UNDELIVERED] =
        "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
        "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
        "j.reply_from FROM events AS e JOIN jobs AS j ON "
        "j.id = e.job_id WHERE e.delivered_ms IS NULL "
        "ORDER BY e.id LIMIT ?1",
    [ES_EVENTS_FOR_JOB] = "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
                          "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
                          "j.reply_from FROM events AS e JOIN jobs AS j ON "
                          "j.id = e.job_id WHERE e.job_id = ?1 ORDER BY e.id",
    [ES_EVENT_DELIVERED] = "UPDATE events SET delivered_ms = ?2 WHERE "
                           "id = ?1 AND delivered_ms IS NULL",

    [ES_PRES_SET] = "INSERT INTO presence (jid, source, state, status, "
                    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (jid, source) DO UPDATE SET "
                    "state = excluded.state, status = excluded.status, "
                    "updated_ms = excluded.updated_ms",
    [ES_PRES_GET] = "SELECT state, status, updated_ms FROM presence "
                    "WHERE jid = ?1 AND source = ?2",

    [ES_PRES_LIST] = "SELECT jid, source, state, status, updated_ms "
                     "FROM presence WHERE source = ?1 AND "
                     "updated_ms >= ?2 ORDER BY updated_ms, jid",

    [ES_GWSUB_ADD] = "INSERT INTO gateway_subscriptions (contact, "
                     "subscriber, user_jid, created_ms) VALUES "
                     "(?1, ?2, ?3, ?4) ON CONFLICT (contact, subscriber) "
                     "DO UPDATE SET user_jid = excluded.user_jid",
    [ES_GWSUB_REMOVE] = "DELETE FROM gateway_subscriptions WHERE "
                        "contact = ?1 AND subscriber = ?2",
    [ES_GWSUB_EXISTS] = "SELECT 1 FROM gateway_subscriptions WHERE "
                        "contact = ?1 AND subscriber = ?2",
    [ES_GWSUB_COUNT] = "SELECT count(*) FROM gateway_subscriptions WHERE "
                       "contact = ?1",

    [ES_GWSUB_LIST] =
        "SELECT contact, subscriber, user_jid FROM gateway_subscriptions "
        "WHERE ?1 IS NULL OR user_jid = ?1 "
        "ORDER BY user_jid, contact, subscriber",

    [ES_LEASE_GET] = "SELECT owner, deadline_ms FROM leases WHERE name = ?1",
    [ES_LEASE_PUT] = "INSERT INTO leases (name, owner, deadline_ms) "
                     "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                     "SET owner = excluded.owner, "
                     "deadline_ms = excluded.deadline_ms",
    [ES_LEASE_DELETE] = "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
    [ES_STATUS_PUT] =
        "INSERT INTO component_status (component, owner, connected_ms, "
        "heartbeat_ms, privileges) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (component) DO UPDATE SET owner = excluded.owner, "
        "connected_ms = excluded.connected_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, "
        "privileges = excluded.privileges",
    [ES_STATUS_GET] = "SELECT owner, connected_ms, heartbeat_ms, privileges "
                      "FROM component_status WHERE component = ?1",
    [ES_BRIDGE_PUT] =
        "INSERT INTO bridge_status (owner, host, pid, started_ms, "
        "heartbeat_ms, calls, presence_lease) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7) ON CONFLICT (owner) DO UPDATE SET host = excluded.host, "
        "pid = excluded.pid, started_ms = excluded.started_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, calls = excluded.calls, "
        "presence_lease = excluded.presence_lease",
    [ES_BRIDGE_EXPIRE] = "DELETE FROM bridge_status WHERE heartbeat_ms < ?1",
    [ES_BRIDGE_REMOVE] = "DELETE FROM bridge_status WHERE owner = ?1",
    [ES_BRIDGE_LIST] = "SELECT owner, host, pid, started_ms, heartbeat_ms, "
                       "calls, presence_lease FROM bridge_status WHERE "
                       "heartbeat_ms >= ?1 ORDER BY started_ms, owner",
    /* Read from the jobs_due index (state first), not the table. */
    [ES_JOBS_BY_STATE] = "SELECT COALESCE(SUM(state = 0), 0), "
                         "COALESCE(SUM(state = 1), 0), "
                         "COALESCE(SUM(state = 2), 0), "
                         "COALESCE(SUM(state = 3), 0), "
                         "COALESCE(SUM(state = 4), 0) FROM jobs",
    /* instr() rather than LIKE: the needle is typed by an operator and
     * its '%' and '_' must not be wildcards. */
    [ES_REG_SEARCH] = "SELECT " REG_READ_COLS " FROM registrations WHERE "
                      "?1 IS NULL OR instr(lower(jid), lower(?1)) > 0 OR "
                      "instr(lower(phone), lower(?1)) > 0 "
                      "ORDER BY jid LIMIT ?2",
    [ES_CALLS_BY_HOUR] = "SELECT created_ms / 3600000, COUNT(*) FROM events "
                         "WHERE type = 1 AND created_ms >= ?1 "
                         "GROUP BY created_ms / 3600000 ORDER BY 1",
    [ES_MARK_GET] = "SELECT end_id, end_ms, checked_ms FROM archive_marks "
                    "WHERE jid = ?1",
    [ES_MARK_PUT] = "INSERT INTO archive_marks (jid, end_id, end_ms, "
                    "checked_ms) VALUES (?1, ?2, ?3, ?4) "
                    "ON CONFLICT (jid) DO UPDATE SET end_id = excluded.end_id, "
                    "end_ms = excluded.end_ms, "
                    "checked_ms = excluded.checked_ms",
    [ES_MARK_ACCOUNTED] =
        "SELECT COALESCE((SELECT max(m.received_ms) FROM job_messages m "
        "JOIN jobs j ON j.id = m.job_id WHERE j.callee_jid = ?1), 0), "
        "COALESCE((SELECT max(e.delivered_ms) FROM events e "
        "JOIN jobs j ON j.id = e.job_id WHERE j.callee_jid = ?1), 0)",
    [ES_PAUSE_PUT] =
        "INSERT INTO sender_pauses (callee_jid, sender_jid, until_ms, "
        "created_ms) SELECT callee_jid, sender_jid, ?2, ?3 FROM jobs "
        "WHERE id = ?1 AND kind = " SQL_KIND_MESSAGE " "
        "ON CONFLICT (callee_jid, sender_jid) DO UPDATE SET "
        "until_ms = excluded.until_ms, created_ms = excluded.created_ms",
    [ES_PAUSE_EXPIRE] = "DELETE FROM sender_pauses WHERE until_ms <= ?1",
    [ES_PAUSE_UNTIL] = "SELECT until_ms FROM sender_pauses WHERE "
                       "callee_jid = ?1 AND sender_jid = ?2 AND "
                       "until_ms > ?3",
    [ES_AUDIO_PUT] = "INSERT INTO published_audio (name, mime, bytes, "
                     "created_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ES_AUDIO_GET] = "SELECT mime, bytes, created_ms, expires_ms FROM "
                     "published_audio WHERE name = ?1 AND expires_ms > ?2",
    [ES_AUDIO_EXPIRE] = "DELETE FROM published_audio WHERE expires_ms <= ?1",
};

/* The transaction statements, kept prepared like the others. */
enum tx {
	TX_BEGIN,
	TX_COMMIT,
	TX_ROLLBACK,
	TX_SAVEPOINT,
	TX_RELEASE,
	TX_ROLLBACK_TO,
	TX_COUNT,
};

static const char *const tx_sql[TX_COUNT] = {
    [TX_BEGIN] = "BEGIN IMMEDIATE",
    [TX_COMMIT] = "COMMIT",
    [TX_ROLLBACK] = "ROLLBACK",
    [TX_SAVEPOINT] = "SAVEPOINT queue_call",
    [TX_RELEASE] = "RELEASE queue_call",
    [TX_ROLLBACK_TO] = "ROLLBACK TO queue_call",
};

struct engine_statement {
	sqlite3_stmt *st;
	bool own; /* release() finalizes it and frees this */
};

struct engine {
	sqlite3 *db;
	char *path;
	struct engine_statement st[ES_COUNT];
	sqlite3_stmt *tx[TX_COUNT];
	struct queue_wakedir wake;
};

/* Maps an SQLite result to our errors; logs what is not the caller's to
 * handle (-EIO). A full disk (-ENOSPC) fails every write until space
 * returns: the caller says so once, not this line per statement. */
static int sq_err(struct engine *e, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	}
	log_err(TAG, "%s: %s (%s)", what, sqlite3_errmsg(e->db),
	        sqlite3_errstr(rc));
	return -EIO;
}

static int prepare(struct engine *e, const char *sql, unsigned flags,
                   sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v3(e->db, sql, -1, flags, st, NULL);

	if (rc == SQLITE_OK)
		return 0;
	*st = NULL;
	log_err(TAG, "preparing \"%.60s\": %s", sql, sqlite3_errmsg(e->db));
	return rc == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

/* Runs transaction statement ID, prepared on first use. */
static int tx_run(struct engine *e, enum tx id)
{
	int rc, err;

	if (!e->tx[id]) {
		err = prepare(e, tx_sql[id], SQLITE_PREPARE_PERSISTENT,
		              &e->tx[id]);
		if (err)
			return err;
	}
	rc = sqlite3_step(e->tx[id]);
	err = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0
	                                            : sq_err(e, rc, tx_sql[id]);
	sqlite3_reset(e->tx[id]);
	return err;
}

static bool sq_in_transaction(struct engine *e)
{
	return !sqlite3_get_autocommit(e->db);
}

static int sq_begin(struct engine *e)
{
	return tx_run(e, TX_BEGIN);
}

static void sq_rollback(struct engine *e)
{
	if (sq_in_transaction(e))
		tx_run(e, TX_ROLLBACK);
}

static int sq_commit(struct engine *e)
{
	int err = tx_run(e, TX_COMMIT);

	if (err)
		sq_rollback(e);
	return err;
}

static int sq_savepoint(struct engine *e)
{
	return tx_run(e, TX_SAVEPOINT);
}

static int sq_savepoint_release(struct engine *e)
{
	return tx_run(e, TX_RELEASE);
}

static void sq_savepoint_rollback(struct engine *e)
{
	tx_run(e, TX_ROLLBACK_TO);
}

/* ---- statements ---------------------------------------------------------- */

static int sq_statement(struct engine *e, enum engine_statement_id id, bool own,
                        struct engine_statement **stp)
{
	struct engine_statement *s;
	int err;

	*stp = NULL;
	if (!own) {
		s = &e->st[id];
		if (!s->st) {
			err = prepare(e, sqlite_sql[id],
			              SQLITE_PREPARE_PERSISTENT, &s->st);
			if (err)
				return err;
		}
		*stp = s;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->own = true;
	err = prepare(e, sqlite_sql[id], 0, &s->st);
	if (err) {
		free(s);
		return err;
	}
	*stp = s;
	return 0;
}

static int sq_statement_sql(struct engine *e, const char *sql,
                            struct engine_statement **stp)
{
	struct engine_statement *s = calloc(1, sizeof(*s));
	int err;

	*stp = NULL;
	if (!s)
		return -ENOMEM;
	s->own = true;
	err = prepare(e, sql, 0, &s->st);
	if (err) {
		free(s);
		return err;
	}
	*stp = s;
	return 0;
}

static void sq_release(struct engine *e, struct engine_statement *s)
{
	(void)e;
	if (!s)
		return;
	if (s->own) {
		sqlite3_finalize(s->st);
		free(s);
		return;
	}
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
}

static int sq_prepare(struct engine *e, enum engine_statement_id id)
{
	/* Prepared, not run: nothing to reset. */
	struct engine_statement *s;

	return sq_statement(e, id, false, &s);
}

static void sq_bind_int(struct engine_statement *s, int i, int64_t v)
{
	sqlite3_bind_int64(s->st, i, v);
}

static void sq_bind_text(struct engine_statement *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s->st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s->st, i);
}

static void sq_bind_blob(struct engine_statement *s, int i, const void *v,
                         size_t len)
{
	if (len)
		sqlite3_bind_blob64(s->st, i, v, len, SQLITE_STATIC);
	else
		sqlite3_bind_null(s->st, i);
}

static int sq_step(struct engine *e, struct engine_statement *s, bool *row,
                   const char *what)
{
	int rc = sqlite3_step(s->st);

	*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	return sq_err(e, rc, what);
}

static bool sq_column_null(struct engine_statement *s, int i)
{
	return sqlite3_column_type(s->st, i) == SQLITE_NULL;
}

static int64_t sq_column_int(struct engine_statement *s, int i)
{
	return sqlite3_column_int64(s->st, i);
}

static const char *sq_column_text(struct engine_statement *s, int i)
{
	return (const char *)sqlite3_column_text(s->st, i);
}

static const void *sq_column_blob(struct engine_statement *s, int i,
                                  size_t *len)
{
	const void *b = sqlite3_column_blob(s->st, i);
	int n = sqlite3_column_bytes(s->st, i);

	*len = b && n > 0 ? (size_t)n : 0;
	return b;
}

static int64_t sq_last_insert_id(struct engine *e)
{
	return sqlite3_last_insert_rowid(e->db);
}

static int64_t sq_changes(struct engine *e)
{
	return sqlite3_changes(e->db);
}

/* SQLite has no clock of its own worth sharing: every process using the
 * file is on this host, so the host's clock is the database's. */
static int64_t sq_now_ms(struct engine *e)
{
	(void)e;
	return clock_real_ms();
}

/* ---- open, migrations, close -------------------------------------------- */

/* The first row's first column of SQL run once as an integer; DEF if none. */
static int query_int(struct engine *e, const char *sql, int64_t def, int64_t *v)
{
	sqlite3_stmt *st;
	int rc, err;

	*v = def;
	err = prepare(e, sql, 0, &st);
	if (err)
		return err;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*v = sqlite3_column_int64(st, 0);
	err = rc == SQLITE_ROW || rc == SQLITE_DONE
	          ? 0
	          : sq_err(e, rc, "reading the schema version");
	sqlite3_finalize(st);
	return err;
}

static int sq_schema_version(struct engine *e, int *version)
{
	int64_t exists = 0, v = 0;
	int err;

	err = query_int(e,
	                "SELECT COUNT(*) FROM sqlite_master WHERE "
	                "type = 'table' AND name = 'schema_version'",
	                0, &exists);
	if (!err && exists)
		err = query_int(e, sqlite_sql[ES_SCHEMA_VERSION], 0, &v);
	*version = err ? 0 : (int)v;
	return err;
}

/* Applies every embedded migration above the database's version, all in one
 * transaction (two processes starting at once: the second finds the work
 * done once it gets the write lock). */
static int migrate(struct engine *e)
{
	const struct queue_schema_migration *m;
	char *msg = NULL, sql[96];
	int version, err, rc;
	size_t i;

	err = sq_begin(e);
	if (err) {
		if (err == -EBUSY)
			log_err(TAG,
			        "%s: locked by another process for more "
			        "than 5 s",
			        e->path);
		return err;
	}
	err = sq_schema_version(e, &version);
	if (err)
		goto out;
	if (version > (int)queue_schema_sqlite_n) {
		log_err(TAG,
		        "%s: schema version %d is newer than this build "
		        "knows (%zu); upgrade ringbridge",
		        e->path, version, queue_schema_sqlite_n);
		err = -EPROTO;
		goto out;
	}
	for (i = (size_t)version; i < queue_schema_sqlite_n; i++) {
		m = &queue_schema_sqlite[i];
		rc =
		    sqlite3_exec(e->db, (const char *)m->sql, NULL, NULL, &msg);
		if (rc == SQLITE_OK) {
			snprintf(sql, sizeof(sql),
			         "DELETE FROM schema_version; INSERT INTO "
			         "schema_version (version) VALUES (%d)",
			         m->version);
			rc = sqlite3_exec(e->db, sql, NULL, NULL, &msg);
		}
		if (rc != SQLITE_OK) {
			log_err(TAG, "%s: migration %s failed: %s", e->path,
			        m->name, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			err = -EIO;
			goto out;
		}
		log_info(TAG, "%s: applied schema migration %s", e->path,
		         m->name);
	}
out:
	if (err) {
		sq_rollback(e);
		return err;
	}
	return sq_commit(e);
}

static int pragma(struct engine *e, const char *sql, const char *want)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(e->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(e, rc, sql);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = sq_err(e, rc, sql);
	} else if (want) {
		const char *got = rc == SQLITE_ROW
		                      ? (const char *)sqlite3_column_text(st, 0)
		                      : NULL;

		if (!got || strcasecmp(got, want)) {
			log_err(TAG, "%s: \"%s\" gave \"%s\", not \"%s\"",
			        e->path, sql, got ? got : "", want);
			err = -EIO;
		}
	}
	sqlite3_finalize(st);
	return err;
}

static void sq_close(struct engine *e)
{
	size_t i;

	if (!e)
		return;
	queue_wakedir_close(&e->wake);
	for (i = 0; i < ES_COUNT; i++)
		sqlite3_finalize(e->st[i].st);
	for (i = 0; i < TX_COUNT; i++)
		sqlite3_finalize(e->tx[i]);
	if (e->db)
		sqlite3_close_v2(e->db);
	free(e->path);
	free(e);
}

static int open_file(struct engine *e, const char *path)
{
	int fd, rc, err;

	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;

	/*
	 * Create the file ourselves with mode 0600 (the process umask can
	 * only narrow it): it holds phone numbers and messages. SQLite gives
	 * the -wal and -shm files the database file's mode. O_EXCL matters:
	 * close() drops every POSIX lock this process holds on a file, so
	 * opening and closing a database another handle of this process has
	 * open would let a second process take it for unused and reset the
	 * WAL under us (commits then stay invisible to other processes).
	 */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	          0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		err = -errno;
		log_err(TAG, "%s: %s", path, strerror(errno));
		return err;
	}

	rc = sqlite3_open_v2(path, &e->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_err(TAG, "%s: %s", path,
		        e->db ? sqlite3_errmsg(e->db) : sqlite3_errstr(rc));
		return -EIO;
	}
	sqlite3_extended_result_codes(e->db, 1);
	sqlite3_busy_timeout(e->db, BUSY_TIMEOUT_MS);

	err = pragma(e, "PRAGMA journal_mode = WAL", "wal");
	if (!err)
		err = pragma(e, "PRAGMA synchronous = FULL", NULL);
	if (!err)
		err = pragma(e, "PRAGMA foreign_keys = ON", NULL);
	/* Savepoints (one per call inside a group commit) keep their undo
	 * journal in a temporary file by default: a file write per call. */
	if (!err)
		err = pragma(e, "PRAGMA temp_store = MEMORY", NULL);
	if (!err)
		err = migrate(e);
	if (!err)
		err = queue_wakedir_init(&e->wake, path);
	return err;
}

static int sq_connect(struct engine **ep, const char *path)
{
	struct engine *e;
	int err;

	*ep = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->wake.listen_fd = -1;
	e->wake.send_fd = -1;
	err = open_file(e, path);
	if (err) {
		sq_close(e);
		return err;
	}
	*ep = e;
	return 0;
}

/* ---- wake-ups: the socket directory beside the database ------------------ */

static int sq_wake_listen(struct engine *e, unsigned mask, int *fd)
{
	return queue_wakedir_listen(&e->wake, mask, fd);
}

static int sq_wake_drain(struct engine *e, unsigned *channels)
{
	return queue_wakedir_drain(&e->wake, channels);
}

static int sq_notify(struct engine *e, unsigned channels)
{
	return queue_wakedir_notify(&e->wake, channels);
}

const struct engine_ops engine_sqlite = {
    .name = "sqlite",
    .scheme = "sqlite:",
    .connect = sq_connect,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .savepoint_cheap = true,
    .statements_cheap = true,
    .savepoint_release = sq_savepoint_release,
    .savepoint_rollback = sq_savepoint_rollback,
    .in_transaction = sq_in_transaction,
    .statement = sq_statement,
    .release = sq_release,
    .prepare = sq_prepare,
    .statement_sql = sq_statement_sql,
    /* An explicit rowid moves INTEGER PRIMARY KEY's next id by itself. */
    .ids_follow = NULL,
    .bind_int = sq_bind_int,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .step = sq_step,
    .column_null = sq_column_null,
    .column_int = sq_column_int,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .last_insert_id = sq_last_insert_id,
    .changes = sq_changes,
    .now_ms = sq_now_ms,
    .wake_listen = sq_wake_listen,
    .wake_drain = sq_wake_drain,
    .notify = sq_notify,
};
