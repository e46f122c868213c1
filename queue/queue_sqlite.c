/*
 * The SQLite back end: one database file shared by the component, the SIP
 * bridge and ringbridgectl. WAL with synchronous=FULL (a commit survives
 * power loss), every write in BEGIN IMMEDIATE (or a SAVEPOINT inside a
 * batch) so two processes serialise on the write lock instead of failing
 * on a stale snapshot, and a 5 s busy timeout before -EBUSY. Statements are
 * prepared once per handle and kept. Migrations are compiled in
 * (queue_schema.h) and applied at open inside one transaction. Wake-ups go
 * through the socket directory of queue_wake.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "queue.h"
#include "queue_backend.h"
#include "queue_schema.h"

#define TAG "queue"

/* How long a writer waits for another process's transaction. */
#define BUSY_TIMEOUT_MS 5000
/* The window of the hourly limits. */
#define HOUR_MS (3600 * 1000)

#define JOB_COLS                                                               \
	"id, kind, state, callee_jid, destination, tz, lang, sender_jid, "     \
	"sender_name, reply_from, verify_code, attempts, created_ms, "         \
	"not_before_ms, next_attempt_ms, lease_owner, lease_deadline_ms, "     \
	"last_reason, finished_ms"
#define MSG_COLS "id, seq, sender_jid, body, encrypted, heard, received_ms"
#define REG_COLS                                                               \
	"jid, phone, verified, verify_code, verify_failures, tz, lang, "       \
	"call_when, quiet_start, quiet_end, roster_only, sip_presence, "       \
	"push_node, created_ms, updated_ms"

/* The statements a handle keeps prepared, by purpose. */
enum st {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	ST_VERSION,
	ST_REG_PUT,
	ST_REG_GET,
	ST_REG_GET_NODE,
	ST_REG_DELETE,
	ST_MSG_BY_KEY,
	ST_JOB_OPEN,
	ST_MSG_NEXT_SEQ,
	ST_MSG_INSERT,
	ST_COUNT_CALLEE,
	ST_COUNT_SENDER,
	ST_PAIR_LAST_FINISHED,
	ST_JOB_INSERT,
	ST_VERIFY_SUPERSEDE,
	ST_JOB_CANCEL_FOR,
	ST_CLAIM_QUEUED,
	ST_CLAIM_EXPIRED,
	ST_NEXT_DUE_QUEUED,
	ST_NEXT_DUE_ACTIVE,
	ST_MSG_COUNTS,
	ST_EVENT_OF_TYPE,
	ST_JOB_CLAIM,
	ST_JOB_SET_FINISHED,
	ST_JOB_GET,
	ST_MSGS_GET,
	ST_JOB_LEASE_INFO,
	ST_JOB_RENEW,
	ST_JOB_RENEW_ALL,
	ST_JOB_RETRY,
	ST_MSGS_UNHEARD,
	ST_MSG_MOVE,
	ST_JOB_FOLLOW_UP,
	ST_EVENT_INSERT,
	ST_MSGS_MARK_HEARD,
	ST_EVENTS_UNDELIVERED,
	ST_EVENTS_FOR_JOB,
	ST_EVENT_DELIVERED,
	ST_PRES_SET,
	ST_PRES_GET,
	ST_GWSUB_ADD,
	ST_GWSUB_REMOVE,
	ST_GWSUB_EXISTS,
	ST_GWSUB_COUNT,
	ST_LEASE_GET,
	ST_LEASE_PUT,
	ST_LEASE_DELETE,
	ST_STATUS_PUT,
	ST_STATUS_GET,
	ST_BRIDGE_PUT,
	ST_BRIDGE_EXPIRE,
	ST_BRIDGE_REMOVE,
	ST_BRIDGE_LIST,
	ST_COUNT,
};

/* A queued job waits while its callee is on the phone (the "sip" presence
 * row the bridge writes; the primary key makes this one look-up). */
#define NOT_ON_THE_PHONE                                                       \
	"NOT EXISTS (SELECT 1 FROM presence p WHERE p.jid = jobs.callee_jid "  \
	"AND p.source = '" QUEUE_PRESENCE_SIP                                  \
	"' AND p.state = '" QUEUE_PRESENCE_ON_THE_PHONE "') "

static const char *const st_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT queue_call",
    [ST_RELEASE] = "RELEASE queue_call",
    [ST_ROLLBACK_TO] = "ROLLBACK TO queue_call",
    [ST_VERSION] = "SELECT MAX(version) FROM schema_version",

    [ST_REG_PUT] =
        "INSERT INTO registrations (" REG_COLS ") VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
        "?15) ON CONFLICT (jid) DO UPDATE SET phone = excluded.phone, "
        "verified = excluded.verified, "
        "verify_code = excluded.verify_code, "
        "verify_failures = excluded.verify_failures, tz = excluded.tz, "
        "lang = excluded.lang, call_when = excluded.call_when, "
        "quiet_start = excluded.quiet_start, "
        "quiet_end = excluded.quiet_end, "
        "roster_only = excluded.roster_only, "
        "sip_presence = excluded.sip_presence, "
        "push_node = excluded.push_node, "
        "updated_ms = excluded.updated_ms",
    [ST_REG_GET] = "SELECT " REG_COLS " FROM registrations WHERE jid = ?1",
    [ST_REG_GET_NODE] =
        "SELECT " REG_COLS " FROM registrations WHERE push_node = ?1",
    [ST_REG_DELETE] = "DELETE FROM registrations WHERE jid = ?1",

    [ST_MSG_BY_KEY] = "SELECT job_id FROM job_messages WHERE idem_key = ?1",
    [ST_JOB_OPEN] = "SELECT id FROM jobs WHERE callee_jid = ?1 AND "
                    "sender_jid = ?2 AND state IN (0, 1) AND kind = 1 "
                    "ORDER BY id LIMIT 1",
    [ST_MSG_NEXT_SEQ] = "SELECT COALESCE(MAX(seq), 0) + 1 FROM "
                        "job_messages WHERE job_id = ?1",
    [ST_MSG_INSERT] =
        "INSERT INTO job_messages (job_id, seq, sender_jid, body, "
        "encrypted, received_ms, idem_key) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* ?3: a job kind, or 0 for every kind. */
    [ST_COUNT_CALLEE] = "SELECT COUNT(*) FROM jobs WHERE callee_jid = ?1 "
                        "AND created_ms >= ?2 AND (?3 = 0 OR kind = ?3)",
    [ST_COUNT_SENDER] = "SELECT COUNT(*) FROM jobs WHERE sender_jid = ?1 "
                        "AND created_ms >= ?2 AND (?3 = 0 OR kind = ?3)",
    [ST_PAIR_LAST_FINISHED] =
        "SELECT MAX(finished_ms) FROM jobs WHERE callee_jid = ?1 AND "
        "sender_jid = ?2 AND state IN (2, 3, 4) AND kind = 1",
    [ST_JOB_INSERT] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms) VALUES "
        "(?1, 0, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, ?10, ?11, ?11)",
    [ST_VERIFY_SUPERSEDE] = "UPDATE jobs SET state = 4, finished_ms = ?2, "
                            "last_reason = 'superseded by a new code' "
                            "WHERE callee_jid = ?1 AND kind = 2 AND state = 0",
    [ST_JOB_CANCEL_FOR] = "UPDATE jobs SET state = 4, finished_ms = ?2, "
                          "last_reason = 'cancelled' "
                          "WHERE callee_jid = ?1 AND state IN (0, 1)",

    /* Both walk jobs_due in (state, next_attempt_ms, id) order. */
    [ST_CLAIM_QUEUED] = "SELECT id, next_attempt_ms FROM jobs WHERE "
                        "state = 0 AND next_attempt_ms <= ?1 AND "
                        "not_before_ms <= ?1 AND " NOT_ON_THE_PHONE
                        "ORDER BY next_attempt_ms, id LIMIT 1",
    [ST_CLAIM_EXPIRED] = "SELECT id, next_attempt_ms FROM jobs WHERE "
                         "state = 1 AND lease_deadline_ms < ?1 "
                         "ORDER BY next_attempt_ms, id LIMIT 1",
    [ST_NEXT_DUE_QUEUED] = "SELECT MIN(MAX(next_attempt_ms, "
                           "not_before_ms)) FROM jobs WHERE state = 0 "
                           "AND " NOT_ON_THE_PHONE,
    [ST_NEXT_DUE_ACTIVE] = "SELECT MIN(lease_deadline_ms) + 1 FROM jobs "
                           "WHERE state = 1",
    [ST_MSG_COUNTS] = "SELECT COUNT(*), COALESCE(SUM(heard = 0), 0) FROM "
                      "job_messages WHERE job_id = ?1",
    [ST_EVENT_OF_TYPE] =
        "SELECT 1 FROM events WHERE job_id = ?1 AND type = ?2 LIMIT 1",
    [ST_JOB_CLAIM] = "UPDATE jobs SET state = 1, lease_owner = ?2, "
                     "lease_deadline_ms = ?3, attempts = attempts + 1 "
                     "WHERE id = ?1",
    [ST_JOB_SET_FINISHED] = "UPDATE jobs SET state = ?2, finished_ms = ?3, "
                            "last_reason = ?4 WHERE id = ?1",
    [ST_JOB_GET] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1",
    [ST_MSGS_GET] = "SELECT " MSG_COLS " FROM job_messages WHERE "
                    "job_id = ?1 AND seq > ?2 ORDER BY seq",
    [ST_JOB_LEASE_INFO] =
        "SELECT state, lease_owner, kind FROM jobs WHERE id = ?1",
    [ST_JOB_RENEW] = "UPDATE jobs SET lease_deadline_ms = ?3 WHERE "
                     "id = ?1 AND state = 1 AND lease_owner = ?2",
    [ST_JOB_RENEW_ALL] = "UPDATE jobs SET lease_deadline_ms = ?2 WHERE "
                         "state = 1 AND lease_owner = ?1",
    [ST_JOB_RETRY] = "UPDATE jobs SET state = 0, next_attempt_ms = ?2, "
                     "last_reason = ?3, lease_owner = NULL, "
                     "lease_deadline_ms = NULL WHERE id = ?1",
    [ST_MSGS_UNHEARD] = "SELECT id FROM job_messages WHERE job_id = ?1 "
                        "AND heard = 0 ORDER BY seq",
    [ST_MSG_MOVE] =
        "UPDATE job_messages SET job_id = ?2, seq = ?3 WHERE id = ?1",
    [ST_JOB_FOLLOW_UP] =
        "INSERT INTO jobs (kind, state, callee_jid, destination, tz, "
        "lang, sender_jid, sender_name, reply_from, verify_code, "
        "attempts, created_ms, not_before_ms, next_attempt_ms) "
        "SELECT kind, 0, callee_jid, destination, tz, lang, "
        "sender_jid, sender_name, reply_from, verify_code, 0, ?2, ?2, "
        "?2 FROM jobs WHERE id = ?1",

    [ST_EVENT_INSERT] = "INSERT INTO events (job_id, type, detail, blob, "
                        "created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_MSGS_MARK_HEARD] = "UPDATE job_messages SET heard = 1 WHERE "
                           "job_id = ?1 AND seq <= ?2 AND heard = 0",
    [ST_EVENTS_UNDELIVERED] =
        "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
        "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
        "j.reply_from FROM events AS e JOIN jobs AS j ON "
        "j.id = e.job_id WHERE e.delivered_ms IS NULL "
        "ORDER BY e.id LIMIT ?1",
    [ST_EVENTS_FOR_JOB] = "SELECT e.id, e.job_id, e.type, e.detail, e.blob, "
                          "e.created_ms, j.kind, j.callee_jid, j.sender_jid, "
                          "j.reply_from FROM events AS e JOIN jobs AS j ON "
                          "j.id = e.job_id WHERE e.job_id = ?1 ORDER BY e.id",
    [ST_EVENT_DELIVERED] = "UPDATE events SET delivered_ms = ?2 WHERE "
                           "id = ?1 AND delivered_ms IS NULL",

    [ST_PRES_SET] = "INSERT INTO presence (jid, source, state, status, "
                    "updated_ms) VALUES (?1, ?2, ?3, ?4, ?5) "
                    "ON CONFLICT (jid, source) DO UPDATE SET "
                    "state = excluded.state, status = excluded.status, "
                    "updated_ms = excluded.updated_ms",
    [ST_PRES_GET] = "SELECT state, status, updated_ms FROM presence "
                    "WHERE jid = ?1 AND source = ?2",

    [ST_GWSUB_ADD] = "INSERT INTO gateway_subscriptions (contact, "
                     "subscriber, user_jid, created_ms) VALUES "
                     "(?1, ?2, ?3, ?4) ON CONFLICT (contact, subscriber) "
                     "DO UPDATE SET user_jid = excluded.user_jid",
    [ST_GWSUB_REMOVE] = "DELETE FROM gateway_subscriptions WHERE "
                        "contact = ?1 AND subscriber = ?2",
    [ST_GWSUB_EXISTS] = "SELECT 1 FROM gateway_subscriptions WHERE "
                        "contact = ?1 AND subscriber = ?2",
    [ST_GWSUB_COUNT] = "SELECT count(*) FROM gateway_subscriptions WHERE "
                       "contact = ?1",

    [ST_LEASE_GET] = "SELECT owner, deadline_ms FROM leases WHERE name = ?1",
    [ST_LEASE_PUT] = "INSERT INTO leases (name, owner, deadline_ms) "
                     "VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                     "SET owner = excluded.owner, "
                     "deadline_ms = excluded.deadline_ms",
    [ST_LEASE_DELETE] = "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
    [ST_STATUS_PUT] =
        "INSERT INTO component_status (component, owner, connected_ms, "
        "heartbeat_ms, privileges) VALUES (?1, ?2, ?3, ?4, ?5) "
        "ON CONFLICT (component) DO UPDATE SET owner = excluded.owner, "
        "connected_ms = excluded.connected_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, "
        "privileges = excluded.privileges",
    [ST_STATUS_GET] = "SELECT owner, connected_ms, heartbeat_ms, privileges "
                      "FROM component_status WHERE component = ?1",
    [ST_BRIDGE_PUT] =
        "INSERT INTO bridge_status (owner, host, pid, started_ms, "
        "heartbeat_ms, calls, presence_lease) VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7) ON CONFLICT (owner) DO UPDATE SET host = excluded.host, "
        "pid = excluded.pid, started_ms = excluded.started_ms, "
        "heartbeat_ms = excluded.heartbeat_ms, calls = excluded.calls, "
        "presence_lease = excluded.presence_lease",
    [ST_BRIDGE_EXPIRE] = "DELETE FROM bridge_status WHERE heartbeat_ms < ?1",
    [ST_BRIDGE_REMOVE] = "DELETE FROM bridge_status WHERE owner = ?1",
    [ST_BRIDGE_LIST] = "SELECT owner, host, pid, started_ms, heartbeat_ms, "
                       "calls, presence_lease FROM bridge_status WHERE "
                       "heartbeat_ms >= ?1 ORDER BY started_ms, owner",
};

struct sq {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[ST_COUNT];
	struct queue_wakedir wake;
};

static struct sq *sq_of(struct queue *q)
{
	return q->be_data;
}

/* Maps an SQLite result to our errors; logs what is not the caller's to
 * handle (-EIO). */
static int sq_err(struct sq *s, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOMEM:
		return -ENOMEM;
	}
	log_err(TAG, "%s: %s (%s)", what, sqlite3_errmsg(s->db),
	        sqlite3_errstr(rc));
	return -EIO;
}

/* The cached statement ID, prepared on first use; NULL (logged) on error. */
static sqlite3_stmt *stmt(struct sq *s, enum st id)
{
	int rc;

	if (s->st[id])
		return s->st[id];
	rc = sqlite3_prepare_v3(s->db, st_sql[id], -1,
	                        SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
	if (rc != SQLITE_OK) {
		log_err(TAG, "preparing \"%.60s\": %s", st_sql[id],
		        sqlite3_errmsg(s->db));
		s->st[id] = NULL;
	}
	return s->st[id];
}

static void done(sqlite3_stmt *st)
{
	if (st) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Steps ST once. 0 and *ROW true when a row is there, 0 and false at the
 * end; the statement is reset at the end or on error, not on a row. */
static int step(struct sq *s, sqlite3_stmt *st, bool *row, const char *what)
{
	int rc = sqlite3_step(st);
	int err;

	if (rc == SQLITE_ROW) {
		*row = true;
		return 0;
	}
	*row = false;
	err = rc == SQLITE_DONE ? 0 : sq_err(s, rc, what);
	done(st);
	return err;
}

/* Runs a statement that returns no row wanted, then resets it. */
static int run(struct sq *s, sqlite3_stmt *st, const char *what)
{
	bool row;
	int err = step(s, st, &row, what);

	if (row)
		done(st);
	return err;
}

/* Runs a statement whose first row's first column is an integer; *V gets
 * it, or DEF when there is no row or it is NULL. */
static int run_int(struct sq *s, sqlite3_stmt *st, int64_t def, int64_t *v,
                   const char *what)
{
	bool row;
	int err = step(s, st, &row, what);

	*v = def;
	if (row) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL)
			*v = sqlite3_column_int64(st, 0);
		done(st);
	}
	return err;
}

static int exec_id(struct sq *s, enum st id)
{
	sqlite3_stmt *st = stmt(s, id);

	if (!st)
		return -EIO;
	return run(s, st, st_sql[id]);
}

/* ---- transactions ------------------------------------------------------- */

/*
 * Every write call runs between tx_begin() and tx_end(). Alone it is its own
 * BEGIN IMMEDIATE transaction; inside a batch it is a savepoint, so a call
 * that fails is undone without undoing the rest of the batch.
 */
static int tx_begin(struct queue *q)
{
	struct sq *s = sq_of(q);

	if (q->in_batch) {
		/* An I/O error may have rolled the whole batch back. */
		if (sqlite3_get_autocommit(s->db)) {
			log_err(TAG, "the batch was rolled back by SQLite");
			return -EIO;
		}
		return exec_id(s, ST_SAVEPOINT);
	}
	return exec_id(s, ST_BEGIN);
}

static int tx_end(struct queue *q, int err)
{
	struct sq *s = sq_of(q);
	int e2;

	if (q->in_batch) {
		if (err && !sqlite3_get_autocommit(s->db))
			exec_id(s, ST_ROLLBACK_TO);
		if (!sqlite3_get_autocommit(s->db))
			exec_id(s, ST_RELEASE);
		return err;
	}
	if (!err) {
		e2 = exec_id(s, ST_COMMIT);
		if (!e2)
			return 0;
		err = e2;
	}
	if (!sqlite3_get_autocommit(s->db))
		exec_id(s, ST_ROLLBACK);
	return err;
}

static int sq_batch_begin(struct queue *q)
{
	return exec_id(sq_of(q), ST_BEGIN);
}

static int sq_batch_commit(struct queue *q)
{
	struct sq *s = sq_of(q);
	int err = exec_id(s, ST_COMMIT);

	if (err && !sqlite3_get_autocommit(s->db))
		exec_id(s, ST_ROLLBACK);
	return err;
}

static void sq_batch_rollback(struct queue *q)
{
	struct sq *s = sq_of(q);

	if (!sqlite3_get_autocommit(s->db))
		exec_id(s, ST_ROLLBACK);
}

/* ---- open, migrations, close -------------------------------------------- */

static int schema_version_read(struct sq *s, int *version)
{
	sqlite3_stmt *st;
	int64_t v;
	int rc, err, exists;

	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT COUNT(*) FROM sqlite_master WHERE "
	                        "type = 'table' AND name = 'schema_version'",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "reading the schema version");
	rc = sqlite3_step(st);
	exists = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	err =
	    rc == SQLITE_ROW ? 0 : sq_err(s, rc, "reading the schema version");
	sqlite3_finalize(st);
	if (err || !exists) {
		*version = 0;
		return err;
	}
	st = stmt(s, ST_VERSION);
	if (!st)
		return -EIO;
	err = run_int(s, st, 0, &v, "reading the schema version");
	*version = (int)v;
	return err;
}

/* Applies every embedded migration above the database's version, all in one
 * transaction (two processes starting at once: the second finds the work
 * done once it gets the write lock). */
static int migrate(struct sq *s)
{
	const struct queue_schema_migration *m;
	char *msg = NULL, sql[96];
	int version, err, rc;
	size_t i;

	err = exec_id(s, ST_BEGIN);
	if (err) {
		if (err == -EBUSY)
			log_err(TAG,
			        "%s: locked by another process for more "
			        "than 5 s",
			        s->path);
		return err;
	}
	err = schema_version_read(s, &version);
	if (err)
		goto out;
	if (version > (int)queue_schema_sqlite_n) {
		log_err(TAG,
		        "%s: schema version %d is newer than this build "
		        "knows (%zu); upgrade ringbridge",
		        s->path, version, queue_schema_sqlite_n);
		err = -EPROTO;
		goto out;
	}
	for (i = (size_t)version; i < queue_schema_sqlite_n; i++) {
		m = &queue_schema_sqlite[i];
		rc =
		    sqlite3_exec(s->db, (const char *)m->sql, NULL, NULL, &msg);
		if (rc == SQLITE_OK) {
			snprintf(sql, sizeof(sql),
			         "DELETE FROM schema_version; INSERT INTO "
			         "schema_version (version) VALUES (%d)",
			         m->version);
			rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
		}
		if (rc != SQLITE_OK) {
			log_err(TAG, "%s: migration %s failed: %s", s->path,
			        m->name, msg ? msg : sqlite3_errstr(rc));
			sqlite3_free(msg);
			err = -EIO;
			goto out;
		}
		log_info(TAG, "%s: applied schema migration %s", s->path,
		         m->name);
	}
out:
	if (err) {
		if (!sqlite3_get_autocommit(s->db))
			exec_id(s, ST_ROLLBACK);
		return err;
	}
	err = exec_id(s, ST_COMMIT);
	if (err && !sqlite3_get_autocommit(s->db))
		exec_id(s, ST_ROLLBACK);
	return err;
}

static int pragma(struct sq *s, const char *sql, const char *want)
{
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, sql);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = sq_err(s, rc, sql);
	} else if (want) {
		const char *got = rc == SQLITE_ROW
		                      ? (const char *)sqlite3_column_text(st, 0)
		                      : NULL;

		if (!got || strcasecmp(got, want)) {
			log_err(TAG, "%s: \"%s\" gave \"%s\", not \"%s\"",
			        s->path, sql, got ? got : "", want);
			err = -EIO;
		}
	}
	sqlite3_finalize(st);
	return err;
}

static int sq_open(struct queue *q, const char *path)
{
	struct sq *s;
	int fd, rc, err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	q->be_data = s;
	s->wake.listen_fd = -1;
	s->wake.send_fd = -1;
	s->path = strdup(path);
	if (!s->path)
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

	rc = sqlite3_open_v2(path, &s->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		log_err(TAG, "%s: %s", path,
		        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		return -EIO;
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);

	err = pragma(s, "PRAGMA journal_mode = WAL", "wal");
	if (!err)
		err = pragma(s, "PRAGMA synchronous = FULL", NULL);
	if (!err)
		err = pragma(s, "PRAGMA foreign_keys = ON", NULL);
	/* Savepoints (one per call inside a group commit) keep their undo
	 * journal in a temporary file by default: a file write per call. */
	if (!err)
		err = pragma(s, "PRAGMA temp_store = MEMORY", NULL);
	if (!err)
		err = migrate(s);
	if (!err)
		err = queue_wakedir_init(&s->wake, path);
	return err;
}

static void sq_close(struct queue *q)
{
	struct sq *s = sq_of(q);
	size_t i;

	if (!s)
		return;
	queue_wakedir_close(&s->wake);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db)
		sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
	q->be_data = NULL;
}

static int sq_schema_version(struct queue *q, int *version)
{
	return schema_version_read(sq_of(q), version);
}

/* ---- row readers -------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *st, int i, int *err)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (!t)
		return NULL;
	return queue_strdup_or_null((const char *)t, err);
}

static int64_t col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

static int reg_read(sqlite3_stmt *st, struct queue_registration *r)
{
	int err = 0;

	memset(r, 0, sizeof(*r));
	r->jid = col_dup(st, 0, &err);
	r->phone = col_dup(st, 1, &err);
	r->verified = sqlite3_column_int(st, 2) != 0;
	r->verify_code = col_dup(st, 3, &err);
	r->verify_failures = sqlite3_column_int(st, 4);
	r->tz = col_dup(st, 5, &err);
	r->lang = col_dup(st, 6, &err);
	r->call_when = (enum queue_call_when)sqlite3_column_int(st, 7);
	r->quiet_start = sqlite3_column_int(st, 8);
	r->quiet_end = sqlite3_column_int(st, 9);
	r->roster_only = sqlite3_column_int(st, 10) != 0;
	r->sip_presence = col_dup(st, 11, &err);
	r->push_node = col_dup(st, 12, &err);
	r->created_ms = col_i64(st, 13);
	r->updated_ms = col_i64(st, 14);
	if (err)
		queue_registration_clear(r);
	return err;
}

/* Fills a zeroed JOB from a row of JOB_COLS. */
static int job_read(sqlite3_stmt *st, struct queue_job *j)
{
	int err = 0;

	j->id = col_i64(st, 0);
	j->kind = (enum queue_job_kind)sqlite3_column_int(st, 1);
	j->state = (enum queue_job_state)sqlite3_column_int(st, 2);
	j->callee_jid = col_dup(st, 3, &err);
	j->destination = col_dup(st, 4, &err);
	j->tz = col_dup(st, 5, &err);
	j->lang = col_dup(st, 6, &err);
	j->sender_jid = col_dup(st, 7, &err);
	j->sender_name = col_dup(st, 8, &err);
	j->reply_from = col_dup(st, 9, &err);
	j->verify_code = col_dup(st, 10, &err);
	j->attempts = sqlite3_column_int(st, 11);
	j->created_ms = col_i64(st, 12);
	j->not_before_ms = col_i64(st, 13);
	j->next_attempt_ms = col_i64(st, 14);
	j->lease_owner = col_dup(st, 15, &err);
	j->lease_deadline_ms = col_i64(st, 16);
	j->last_reason = col_dup(st, 17, &err);
	j->finished_ms = col_i64(st, 18);
	return err;
}

/* Appends JOB's messages with seq > AFTER_SEQ. */
static int msgs_load(struct sq *s, struct queue_job *j, int after_seq)
{
	sqlite3_stmt *st = stmt(s, ST_MSGS_GET);
	struct queue_job_message *m;
	size_t cap = j->n_messages;
	bool row;
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_int(st, 2, after_seq);
	for (;;) {
		err = step(s, st, &row, "reading messages");
		if (err || !row)
			return err;
		if (j->n_messages == cap) {
			cap = cap ? cap * 2 : 4;
			m = realloc(j->messages, cap * sizeof(*m));
			if (!m) {
				done(st);
				return -ENOMEM;
			}
			j->messages = m;
		}
		m = &j->messages[j->n_messages];
		memset(m, 0, sizeof(*m));
		j->n_messages++;
		m->id = col_i64(st, 0);
		m->seq = sqlite3_column_int(st, 1);
		m->sender_jid = col_dup(st, 2, &err);
		m->body = col_dup(st, 3, &err);
		m->encrypted = sqlite3_column_int(st, 4) != 0;
		m->heard = sqlite3_column_int(st, 5) != 0;
		m->received_ms = col_i64(st, 6);
		if (err) {
			done(st);
			return err;
		}
	}
}

/* Reads job ID with all its messages into a new *JOBP. */
static int job_load(struct sq *s, int64_t id, struct queue_job **jobp)
{
	sqlite3_stmt *st = stmt(s, ST_JOB_GET);
	struct queue_job *j;
	bool row;
	int err;

	*jobp = NULL;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	err = step(s, st, &row, "reading a job");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	j = calloc(1, sizeof(*j));
	if (!j) {
		done(st);
		return -ENOMEM;
	}
	err = job_read(st, j);
	done(st);
	if (!err)
		err = msgs_load(s, j, 0);
	if (err) {
		queue_job_free(j);
		return err;
	}
	*jobp = j;
	return 0;
}

/* ---- registrations ------------------------------------------------------ */

static int sq_registration_put(struct queue *q,
                               const struct queue_registration *r)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int64_t now = queue_now_ms(q);
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_REG_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, r->jid);
	bind_text(st, 2, r->phone);
	sqlite3_bind_int(st, 3, r->verified);
	bind_text(st, 4, r->verify_code);
	sqlite3_bind_int(st, 5, r->verify_failures);
	bind_text(st, 6, r->tz);
	bind_text(st, 7, r->lang);
	sqlite3_bind_int(st, 8, (int)r->call_when);
	sqlite3_bind_int(st, 9, r->quiet_start);
	sqlite3_bind_int(st, 10, r->quiet_end);
	sqlite3_bind_int(st, 11, r->roster_only);
	bind_text(st, 12, r->sip_presence);
	bind_text(st, 13, r->push_node);
	sqlite3_bind_int64(st, 14, r->created_ms > 0 ? r->created_ms : now);
	sqlite3_bind_int64(st, 15, now);
	err = run(s, st, "storing a registration");
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_REGISTRATIONS);
	return err;
}

static int sq_registration_get(struct queue *q, const char *key, bool by_node,
                               struct queue_registration *out)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, by_node ? ST_REG_GET_NODE : ST_REG_GET);
	bool row;
	int err;

	if (!st)
		return -EIO;
	bind_text(st, 1, key);
	err = step(s, st, &row, "reading a registration");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	err = reg_read(st, out);
	done(st);
	return err;
}

static int sq_registration_delete(struct queue *q, const char *jid)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_REG_DELETE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, jid);
	err = run(s, st, "deleting a registration");
	if (!err && sqlite3_changes(s->db) == 0)
		err = -ENOENT;
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_REGISTRATIONS);
	return err;
}

/*
 * A statement of its own, not a cached one, so the callback may use the
 * handle freely (even start another walk).
 */
static int sq_registration_foreach(struct queue *q,
                                   int (*cb)(const struct queue_registration *r,
                                             void *arg),
                                   void *arg)
{
	struct sq *s = sq_of(q);
	struct queue_registration r;
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(
	    s->db, "SELECT " REG_COLS " FROM registrations ORDER BY jid", -1,
	    &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "listing registrations");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = reg_read(st, &r);
		if (err)
			break;
		err = cb(&r, arg);
		queue_registration_clear(&r);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "listing registrations");
	sqlite3_finalize(st);
	return err;
}

/* ---- enqueueing -----------------------------------------------------------
 */

static int count_jobs(struct sq *s, enum st id, const char *jid,
                      int64_t since_ms, int kind, int64_t *n)
{
	sqlite3_stmt *st = stmt(s, id);

	if (!st)
		return -EIO;
	bind_text(st, 1, jid);
	sqlite3_bind_int64(st, 2, since_ms);
	sqlite3_bind_int(st, 3, kind);
	return run_int(s, st, 0, n, "counting jobs");
}

static int msg_insert(struct sq *s, int64_t job_id, int64_t seq,
                      const struct queue_message_in *m)
{
	sqlite3_stmt *st = stmt(s, ST_MSG_INSERT);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int64(st, 2, seq);
	bind_text(st, 3, m->sender_jid);
	bind_text(st, 4, m->body);
	sqlite3_bind_int(st, 5, m->encrypted);
	sqlite3_bind_int64(st, 6, m->received_ms);
	bind_text(st, 7, m->idem_key);
	return run(s, st, "storing a message");
}

/* The decisions of queue_message_enqueue(), inside its transaction. */
static int enqueue_in_tx(struct queue *q, const struct queue_message_in *m,
                         const struct queue_enqueue_limits *lim,
                         int64_t *job_id, enum queue_enqueue_result *res)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q), v, not_before;
	sqlite3_stmt *st;
	int err;

	/* A message seen before: report its job, change nothing. */
	st = stmt(s, ST_MSG_BY_KEY);
	if (!st)
		return -EIO;
	bind_text(st, 1, m->idem_key);
	err = run_int(s, st, 0, &v, "looking up a message key");
	if (err)
		return err;
	if (v) {
		*job_id = v;
		*res = QUEUE_ENQ_DUPLICATE;
		return 0;
	}

	/* The pair's open job takes it as its next message. */
	st = stmt(s, ST_JOB_OPEN);
	if (!st)
		return -EIO;
	bind_text(st, 1, m->callee_jid);
	bind_text(st, 2, m->sender_jid);
	err = run_int(s, st, 0, &v, "looking up the open job");
	if (err)
		return err;
	if (v) {
		int64_t seq;

		st = stmt(s, ST_MSG_NEXT_SEQ);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, v);
		err = run_int(s, st, 1, &seq, "numbering a message");
		if (!err)
			err = msg_insert(s, v, seq, m);
		if (err)
			return err;
		*job_id = v;
		*res = QUEUE_ENQ_JOINED;
		return 0;
	}

	/* A new job: within the hourly limits, after the coalescing window. */
	if (lim->per_callee_per_hour > 0) {
		err = count_jobs(s, ST_COUNT_CALLEE, m->callee_jid,
		                 now - HOUR_MS + 1, QUEUE_JOB_MESSAGE, &v);
		if (err)
			return err;
		if (v >= lim->per_callee_per_hour) {
			*res = QUEUE_ENQ_LIMIT_CALLEE;
			return 0;
		}
	}
	if (lim->per_sender_per_hour > 0) {
		err = count_jobs(s, ST_COUNT_SENDER, m->sender_jid,
		                 now - HOUR_MS + 1, QUEUE_JOB_MESSAGE, &v);
		if (err)
			return err;
		if (v >= lim->per_sender_per_hour) {
			*res = QUEUE_ENQ_LIMIT_SENDER;
			return 0;
		}
	}
	not_before = now;
	st = stmt(s, ST_PAIR_LAST_FINISHED);
	if (!st)
		return -EIO;
	bind_text(st, 1, m->callee_jid);
	bind_text(st, 2, m->sender_jid);
	err = run_int(s, st, 0, &v, "looking up the last job");
	if (err)
		return err;
	if (v && v + (int64_t)lim->coalesce_seconds * 1000 > not_before)
		not_before = v + (int64_t)lim->coalesce_seconds * 1000;

	st = stmt(s, ST_JOB_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, QUEUE_JOB_MESSAGE);
	bind_text(st, 2, m->callee_jid);
	bind_text(st, 3, m->destination);
	bind_text(st, 4, m->tz);
	bind_text(st, 5, m->lang);
	bind_text(st, 6, m->sender_jid);
	bind_text(st, 7, m->sender_name);
	bind_text(st, 8, m->reply_from);
	bind_text(st, 9, NULL);
	sqlite3_bind_int64(st, 10, now);
	sqlite3_bind_int64(st, 11, not_before);
	err = run(s, st, "creating a job");
	if (err)
		return err;
	v = sqlite3_last_insert_rowid(s->db);
	err = msg_insert(s, v, 1, m);
	if (err)
		return err;
	*job_id = v;
	*res = QUEUE_ENQ_NEW_JOB;
	return 0;
}

static int sq_message_enqueue(struct queue *q, const struct queue_message_in *m,
                              const struct queue_enqueue_limits *lim,
                              int64_t *job_id, enum queue_enqueue_result *res)
{
	int err = tx_begin(q);

	if (err)
		return err;
	err = enqueue_in_tx(q, m, lim, job_id, res);
	err = tx_end(q, err);
	/* A joined message matters too: the bridge calling may read it. */
	if (!err && (*res == QUEUE_ENQ_NEW_JOB || *res == QUEUE_ENQ_JOINED))
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

static int sq_verify_enqueue(struct queue *q, const char *jid, const char *dest,
                             const char *code, const char *lang,
                             int64_t *job_id)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	/* Only the newest code is worth a call. */
	st = stmt(s, ST_VERIFY_SUPERSEDE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, jid);
	sqlite3_bind_int64(st, 2, now);
	err = run(s, st, "superseding a verification call");
	if (err)
		goto out;
	st = stmt(s, ST_JOB_INSERT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int(st, 1, QUEUE_JOB_VERIFY);
	bind_text(st, 2, jid);
	bind_text(st, 3, dest);
	bind_text(st, 4, NULL);
	bind_text(st, 5, lang);
	bind_text(st, 6, NULL);
	bind_text(st, 7, NULL);
	bind_text(st, 8, NULL);
	bind_text(st, 9, code);
	sqlite3_bind_int64(st, 10, now);
	sqlite3_bind_int64(st, 11, now);
	err = run(s, st, "creating a verification job");
	if (!err)
		*job_id = sqlite3_last_insert_rowid(s->db);
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

static int sq_job_cancel_for(struct queue *q, const char *callee_jid, int *n)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_JOB_CANCEL_FOR);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, callee_jid);
	sqlite3_bind_int64(st, 2, queue_now_ms(q));
	err = run(s, st, "cancelling jobs");
	if (!err)
		*n = sqlite3_changes(s->db);
out:
	err = tx_end(q, err);
	/* A bridge calling one of them finds out when it renews. */
	if (!err && *n)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

/* ---- claiming and finishing -----------------------------------------------
 */

static int set_finished(struct sq *s, int64_t id, enum queue_job_state state,
                        int64_t now, const char *reason)
{
	sqlite3_stmt *st = stmt(s, ST_JOB_SET_FINISHED);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, (int)state);
	sqlite3_bind_int64(st, 3, now);
	bind_text(st, 4, reason);
	return run(s, st, "finishing a job");
}

static int event_insert(struct sq *s, int64_t job_id,
                        enum queue_event_type type, const char *detail,
                        const void *blob, size_t blob_len, int64_t now)
{
	sqlite3_stmt *st = stmt(s, ST_EVENT_INSERT);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job_id);
	sqlite3_bind_int(st, 2, (int)type);
	bind_text(st, 3, detail);
	if (blob_len)
		sqlite3_bind_blob64(st, 4, blob, blob_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	sqlite3_bind_int64(st, 5, now);
	return run(s, st, "storing an event");
}

/*
 * A job whose lease lapsed: *DONE is set when its callee had already heard
 * everything (all messages, or the verification code), so that a crashed
 * bridge does not cause a second call for what was heard.
 */
static int expired_was_heard(struct sq *s, int64_t id, bool *done_)
{
	sqlite3_stmt *st = stmt(s, ST_JOB_LEASE_INFO);
	bool row;
	int kind, err;

	*done_ = false;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	err = step(s, st, &row, "reading a job");
	if (err || !row)
		return err;
	kind = sqlite3_column_int(st, 2);
	done(st);

	if (kind == QUEUE_JOB_MESSAGE) {
		st = stmt(s, ST_MSG_COUNTS);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, id);
		err = step(s, st, &row, "counting messages");
		if (err || !row)
			return err;
		*done_ = sqlite3_column_int64(st, 0) > 0 &&
		         sqlite3_column_int64(st, 1) == 0;
		done(st);
		return 0;
	}
	if (kind == QUEUE_JOB_VERIFY) {
		int64_t v;

		st = stmt(s, ST_EVENT_OF_TYPE);
		if (!st)
			return -EIO;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, QUEUE_EV_VERIFY_SPOKEN);
		err = run_int(s, st, 0, &v, "looking for an event");
		*done_ = v != 0;
		return err;
	}
	return 0;
}

/* The first row's (id, next_attempt_ms) of a claim query; *ID 0: none. */
static int candidate(struct sq *s, enum st which, int64_t now, int64_t *id,
                     int64_t *at)
{
	sqlite3_stmt *st = stmt(s, which);
	bool row;
	int err;

	*id = 0;
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, now);
	err = step(s, st, &row, "looking for a due job");
	if (err || !row)
		return err;
	*id = col_i64(st, 0);
	*at = col_i64(st, 1);
	done(st);
	return 0;
}

static int next_due(struct sq *s, int64_t *due)
{
	sqlite3_stmt *st;
	int64_t a, b;
	int err;

	*due = 0;
	st = stmt(s, ST_NEXT_DUE_QUEUED);
	if (!st)
		return -EIO;
	err = run_int(s, st, 0, &a, "looking for the next due job");
	if (err)
		return err;
	st = stmt(s, ST_NEXT_DUE_ACTIVE);
	if (!st)
		return -EIO;
	err = run_int(s, st, 0, &b, "looking for the next lease to lapse");
	if (err)
		return err;
	if (a && b)
		*due = a < b ? a : b;
	else
		*due = a ? a : b;
	return 0;
}

static int claim_in_tx(struct queue *q, const char *owner, int lease_ms,
                       struct queue_job **jobp, int64_t *next_due_ms)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q), qid, qat, eid, eat, id;
	sqlite3_stmt *st;
	bool expired, heard;
	int err;

	for (;;) {
		err = candidate(s, ST_CLAIM_QUEUED, now, &qid, &qat);
		if (!err)
			err = candidate(s, ST_CLAIM_EXPIRED, now, &eid, &eat);
		if (err)
			return err;
		if (!qid && !eid) {
			err = next_due(s, next_due_ms);
			return err ? err : -EAGAIN;
		}
		expired =
		    eid && (!qid || eat < qat || (eat == qat && eid < qid));
		id = expired ? eid : qid;
		if (!expired)
			break;
		err = expired_was_heard(s, id, &heard);
		if (err)
			return err;
		if (!heard)
			break;
		/* Its bridge stopped after the callee heard it all. */
		err = set_finished(s, id, QUEUE_JOB_NOTIFIED, now,
		                   "heard before the bridge stopped");
		if (!err)
			err = event_insert(
			    s, id, QUEUE_EV_ENDED,
			    queue_job_state_name(QUEUE_JOB_NOTIFIED), NULL, 0,
			    now);
		if (err)
			return err;
		queue_changed(q, QUEUE_CH_EVENTS);
	}

	st = stmt(s, ST_JOB_CLAIM);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, now + lease_ms);
	err = run(s, st, "claiming a job");
	if (!err)
		err = job_load(s, id, jobp);
	return err;
}

static int sq_job_claim(struct queue *q, const char *owner, int lease_ms,
                        struct queue_job **jobp, int64_t *next_due_ms)
{
	unsigned before = q->changed;
	int err = tx_begin(q);

	if (err)
		return err;
	err = claim_in_tx(q, owner, lease_ms, jobp, next_due_ms);
	/* Nothing to claim still commits the jobs finished on the way. */
	if (err == -EAGAIN) {
		err = tx_end(q, 0);
		if (!err)
			err = -EAGAIN;
	} else {
		err = tx_end(q, err);
	}
	if (err && err != -EAGAIN) {
		q->changed = before;
		if (*jobp) {
			queue_job_free(*jobp);
			*jobp = NULL;
		}
	}
	return err;
}

static int sq_job_get(struct queue *q, int64_t id, struct queue_job **jobp)
{
	return job_load(sq_of(q), id, jobp);
}

static int sq_job_refresh_messages(struct queue *q, struct queue_job *job,
                                   int after_seq)
{
	return msgs_load(sq_of(q), job, after_seq);
}

/* -ENOENT, -EPERM (not active under OWNER) or 0; *KIND the job's kind. */
static int check_owner(struct sq *s, int64_t id, const char *owner, int *kind)
{
	sqlite3_stmt *st = stmt(s, ST_JOB_LEASE_INFO);
	const unsigned char *o;
	bool row;
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	err = step(s, st, &row, "reading a job");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	o = sqlite3_column_text(st, 1);
	if (sqlite3_column_int(st, 0) != QUEUE_JOB_ACTIVE || !o ||
	    strcmp((const char *)o, owner))
		err = -EPERM;
	if (kind)
		*kind = sqlite3_column_int(st, 2);
	done(st);
	return err;
}

static int sq_job_lease_renew(struct queue *q, int64_t id, const char *owner,
                              int lease_ms)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	err = check_owner(s, id, owner, NULL);
	if (err)
		goto out;
	st = stmt(s, ST_JOB_RENEW);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, queue_now_ms(q) + lease_ms);
	err = run(s, st, "renewing a lease");
out:
	return tx_end(q, err);
}

static int sq_job_leases_renew(struct queue *q, const char *owner, int lease_ms,
                               int *n)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_JOB_RENEW_ALL);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, owner);
	sqlite3_bind_int64(st, 2, queue_now_ms(q) + lease_ms);
	err = run(s, st, "renewing leases");
	if (!err)
		*n = sqlite3_changes(s->db);
out:
	return tx_end(q, err);
}

static int sq_job_retry(struct queue *q, int64_t id, const char *owner,
                        int64_t next_attempt_ms, const char *reason)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	err = check_owner(s, id, owner, NULL);
	if (err)
		goto out;
	st = stmt(s, ST_JOB_RETRY);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, next_attempt_ms);
	bind_text(st, 3, reason);
	err = run(s, st, "returning a job");
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

/* Moves job ID's unheard messages, renumbered from 1, to a new queued job
 * of the same pair and snapshot, due now. *MOVED: whether there were any. */
static int move_unheard(struct sq *s, int64_t id, int64_t now, bool *moved)
{
	sqlite3_stmt *st;
	int64_t *ids = NULL, *p, new_id;
	size_t n = 0, cap = 0, i;
	bool row;
	int err;

	*moved = false;
	st = stmt(s, ST_MSGS_UNHEARD);
	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, id);
	for (;;) {
		err = step(s, st, &row, "reading unheard messages");
		if (err || !row)
			break;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			p = realloc(ids, cap * sizeof(*ids));
			if (!p) {
				done(st);
				err = -ENOMEM;
				break;
			}
			ids = p;
		}
		ids[n++] = col_i64(st, 0);
	}
	if (err || !n)
		goto out;

	st = stmt(s, ST_JOB_FOLLOW_UP);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, now);
	err = run(s, st, "creating a follow-up job");
	if (err)
		goto out;
	new_id = sqlite3_last_insert_rowid(s->db);
	st = stmt(s, ST_MSG_MOVE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	for (i = 0; i < n && !err; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, new_id);
		sqlite3_bind_int64(st, 3, (int64_t)i + 1);
		err = run(s, st, "moving a message");
	}
	*moved = !err;
out:
	free(ids);
	return err;
}

static int sq_job_finish(struct queue *q, int64_t id, const char *owner,
                         enum queue_job_state state, const char *reason)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q);
	bool moved = false;
	int kind = 0, err;

	err = tx_begin(q);
	if (err)
		return err;
	err = check_owner(s, id, owner, &kind);
	if (!err)
		err = set_finished(s, id, state, now, reason);
	/*
	 * A message that joined while the call was under way and was not
	 * read gets a call of its own. Not after a failure: the sender is
	 * told the call failed, and re-queueing would phone an unreachable
	 * (or refused) number for ever.
	 */
	if (!err && kind == QUEUE_JOB_MESSAGE && state == QUEUE_JOB_NOTIFIED)
		err = move_unheard(s, id, now, &moved);
	err = tx_end(q, err);
	if (!err && moved)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

/* Collects the ids first, then loads each job with its own statements, so
 * the callback may use the handle. */
static int sq_job_foreach(struct queue *q, const struct queue_job_filter *f,
                          int (*cb)(const struct queue_job *job, void *arg),
                          void *arg)
{
	struct sq *s = sq_of(q);
	struct queue_job *job;
	sqlite3_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0, i;
	int limit = f->limit > 0 ? f->limit : 100;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT id FROM jobs WHERE (?1 IS NULL OR callee_jid = ?1) "
	    "AND (?2 = 0 OR state IN (0, 1)) "
	    "AND (?3 = 0 OR state IN (2, 3, 4)) "
	    "ORDER BY id DESC LIMIT ?4",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "listing jobs");
	bind_text(st, 1, f->callee_jid);
	sqlite3_bind_int(st, 2, f->unfinished_only);
	sqlite3_bind_int(st, 3, f->finished_only);
	sqlite3_bind_int(st, 4, limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			int64_t *p;

			cap = cap ? cap * 2 : 64;
			p = realloc(ids, cap * sizeof(*ids));
			if (!p) {
				err = -ENOMEM;
				break;
			}
			ids = p;
		}
		ids[n++] = col_i64(st, 0);
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "listing jobs");
	sqlite3_finalize(st);

	/* Newest last. */
	for (i = n; i-- > 0 && !err;) {
		err = job_load(s, ids[i], &job);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		err = cb(job, arg);
		queue_job_free(job);
	}
	free(ids);
	return err;
}

/* ---- events ------------------------------------------------------------- */

static int sq_event_add(struct queue *q, int64_t job_id,
                        enum queue_event_type type, const char *detail,
                        const void *blob, size_t blob_len, int64_t *event_id)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q), v;
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_JOB_LEASE_INFO);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, job_id);
	err = run_int(s, st, -1, &v, "reading a job");
	if (!err && v < 0)
		err = -ENOENT;
	if (!err)
		err =
		    event_insert(s, job_id, type, detail, blob, blob_len, now);
	if (!err)
		*event_id = sqlite3_last_insert_rowid(s->db);
	if (!err && type == QUEUE_EV_HEARD) {
		st = stmt(s, ST_MSGS_MARK_HEARD);
		if (!st) {
			err = -EIO;
			goto out;
		}
		sqlite3_bind_int64(st, 1, job_id);
		sqlite3_bind_int64(st, 2, strtoll(detail, NULL, 10));
		err = run(s, st, "marking messages heard");
	}
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_EVENTS);
	return err;
}

/* Reads the event rows ST (bound by the caller) returns into a new array. */
static int read_events(struct sq *s, sqlite3_stmt *st, struct queue_event **evs,
                       size_t *n)
{
	struct queue_event *a = NULL, *e;
	size_t count = 0, cap = 0;
	bool row;
	int err;

	for (;;) {
		const void *b;
		int blen;

		err = step(s, st, &row, "reading events");
		if (err || !row)
			break;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			e = realloc(a, cap * sizeof(*a));
			if (!e) {
				done(st);
				err = -ENOMEM;
				break;
			}
			a = e;
		}
		e = &a[count++];
		memset(e, 0, sizeof(*e));
		e->id = col_i64(st, 0);
		e->job_id = col_i64(st, 1);
		e->type = (enum queue_event_type)sqlite3_column_int(st, 2);
		e->detail = col_dup(st, 3, &err);
		b = sqlite3_column_blob(st, 4);
		blen = sqlite3_column_bytes(st, 4);
		if (b && blen > 0) {
			e->blob = malloc((size_t)blen);
			if (e->blob) {
				memcpy(e->blob, b, (size_t)blen);
				e->blob_len = (size_t)blen;
			} else {
				err = -ENOMEM;
			}
		}
		e->created_ms = col_i64(st, 5);
		e->job_kind = (enum queue_job_kind)sqlite3_column_int(st, 6);
		e->callee_jid = col_dup(st, 7, &err);
		e->sender_jid = col_dup(st, 8, &err);
		e->reply_from = col_dup(st, 9, &err);
		if (err) {
			done(st);
			break;
		}
	}
	if (err) {
		queue_event_array_free(a, count);
		return err;
	}
	if (!count) {
		free(a);
		a = NULL;
	}
	*evs = a;
	*n = count;
	return 0;
}

static int sq_event_fetch_undelivered(struct queue *q, int limit,
                                      struct queue_event **evs, size_t *n)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_EVENTS_UNDELIVERED);

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, limit);
	return read_events(s, st, evs, n);
}

static int sq_event_fetch_for_job(struct queue *q, int64_t job_id,
                                  struct queue_event **evs, size_t *n)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_EVENTS_FOR_JOB);

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, job_id);
	return read_events(s, st, evs, n);
}

static int sq_event_mark_delivered(struct queue *q, const int64_t *ids,
                                   size_t n)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q);
	sqlite3_stmt *st;
	size_t i;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_EVENT_DELIVERED);
	if (!st)
		err = -EIO;
	for (i = 0; i < n && !err; i++) {
		sqlite3_bind_int64(st, 1, ids[i]);
		sqlite3_bind_int64(st, 2, now);
		err = run(s, st, "marking an event delivered");
	}
	return tx_end(q, err);
}

/* ---- presence ----------------------------------------------------------- */

static int sq_presence_set(struct queue *q, const char *jid, const char *source,
                           const char *state, const char *status)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_PRES_SET);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, jid);
	bind_text(st, 2, source);
	bind_text(st, 3, state);
	bind_text(st, 4, status);
	sqlite3_bind_int64(st, 5, queue_now_ms(q));
	err = run(s, st, "storing presence");
out:
	err = tx_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_PRESENCE);
	return err;
}

static int sq_presence_get(struct queue *q, const char *jid, const char *source,
                           char **state, char **status, int64_t *updated_ms)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_PRES_GET);
	char *a = NULL, *b = NULL;
	bool row;
	int err;

	if (!st)
		return -EIO;
	bind_text(st, 1, jid);
	bind_text(st, 2, source);
	err = step(s, st, &row, "reading presence");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	if (state)
		a = col_dup(st, 0, &err);
	if (status)
		b = col_dup(st, 1, &err);
	if (updated_ms)
		*updated_ms = col_i64(st, 2);
	done(st);
	if (err) {
		free(a);
		free(b);
		return err;
	}
	if (state)
		*state = a;
	if (status)
		*status = b;
	return 0;
}

static int
sq_presence_foreach(struct queue *q, const char *source, int64_t since_ms,
                    int (*cb)(const struct queue_presence *p, void *arg),
                    void *arg)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int rc, err = 0;

	/* Prepared per call: a listing runs rarely and may nest a callback
	 * that uses the cached statements. */
	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT jid, source, state, status, updated_ms "
	                        "FROM presence WHERE source = ?1 AND "
	                        "updated_ms >= ?2 ORDER BY updated_ms, jid",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "listing presence");
	bind_text(st, 1, source);
	sqlite3_bind_int64(st, 2, since_ms);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct queue_presence p = {
		    .jid = (char *)sqlite3_column_text(st, 0),
		    .source = (char *)sqlite3_column_text(st, 1),
		    .state = (char *)sqlite3_column_text(st, 2),
		    .status = (char *)sqlite3_column_text(st, 3),
		    .updated_ms = col_i64(st, 4),
		};

		if (!p.jid || !p.source || !p.state)
			continue;
		err = cb(&p, arg);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "listing presence");
	sqlite3_finalize(st);
	return err;
}

/* ---- gateway-contact subscriptions -------------------------------------- */

static int sq_gwsub_add(struct queue *q, const char *contact,
                        const char *subscriber, const char *user_jid)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_GWSUB_ADD);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, contact);
	bind_text(st, 2, subscriber);
	bind_text(st, 3, user_jid);
	sqlite3_bind_int64(st, 4, queue_now_ms(q));
	err = run(s, st, "storing a subscription");
out:
	return tx_end(q, err);
}

static int sq_gwsub_remove(struct queue *q, const char *contact,
                           const char *subscriber)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	bool missing = false;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_GWSUB_REMOVE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, contact);
	bind_text(st, 2, subscriber);
	err = run(s, st, "removing a subscription");
	if (!err && sqlite3_changes(s->db) == 0)
		missing = true;
out:
	err = tx_end(q, err);
	return !err && missing ? -ENOENT : err;
}

static int sq_gwsub_exists(struct queue *q, const char *contact,
                           const char *subscriber)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_GWSUB_EXISTS);
	bool row;
	int err;

	if (!st)
		return -EIO;
	bind_text(st, 1, contact);
	bind_text(st, 2, subscriber);
	err = step(s, st, &row, "reading a subscription");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	done(st);
	return 0;
}

static int sq_gwsub_count(struct queue *q, const char *contact, int *count)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_GWSUB_COUNT);
	int64_t n = 0;
	int err;

	if (!st)
		return -EIO;
	bind_text(st, 1, contact);
	err = run_int(s, st, 0, &n, "counting subscriptions");
	*count = (int)n;
	return err;
}

static int sq_gwsub_foreach(struct queue *q, const char *user_jid,
                            int (*cb)(const char *contact,
                                      const char *subscriber,
                                      const char *user_jid, void *arg),
                            void *arg)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int rc, err = 0;

	rc = sqlite3_prepare_v2(
	    s->db,
	    "SELECT contact, subscriber, user_jid FROM gateway_subscriptions "
	    "WHERE ?1 IS NULL OR user_jid = ?1 "
	    "ORDER BY user_jid, contact, subscriber",
	    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sq_err(s, rc, "listing subscriptions");
	bind_text(st, 1, user_jid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		const char *sub = (const char *)sqlite3_column_text(st, 1);
		const char *u = (const char *)sqlite3_column_text(st, 2);

		if (!c || !sub || !u)
			continue;
		err = cb(c, sub, u, arg);
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = sq_err(s, rc, "listing subscriptions");
	sqlite3_finalize(st);
	return err;
}

/* ---- leases ------------------------------------------------------------- */

/* *HELD: the lease row exists and belongs to someone else, unexpired. */
static int lease_other(struct sq *s, const char *name, const char *owner,
                       int64_t now, bool *held, bool *exists)
{
	sqlite3_stmt *st = stmt(s, ST_LEASE_GET);
	bool row;
	int err;

	*held = *exists = false;
	if (!st)
		return -EIO;
	bind_text(st, 1, name);
	err = step(s, st, &row, "reading a lease");
	if (err || !row)
		return err;
	*exists = true;
	*held = strcmp((const char *)sqlite3_column_text(st, 0), owner) &&
	        col_i64(st, 1) >= now;
	done(st);
	return 0;
}

static int sq_lease_acquire(struct queue *q, const char *name,
                            const char *owner, int lease_ms)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q);
	sqlite3_stmt *st;
	bool held, exists;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	err = lease_other(s, name, owner, now, &held, &exists);
	if (!err && held)
		err = -EPERM;
	if (err)
		goto out;
	st = stmt(s, ST_LEASE_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, name);
	bind_text(st, 2, owner);
	sqlite3_bind_int64(st, 3, now + lease_ms);
	err = run(s, st, "taking a lease");
out:
	return tx_end(q, err);
}

static int sq_lease_release(struct queue *q, const char *name,
                            const char *owner)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	bool held, exists;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_LEASE_DELETE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, name);
	bind_text(st, 2, owner);
	err = run(s, st, "releasing a lease");
	if (!err && sqlite3_changes(s->db) == 0) {
		err = lease_other(s, name, owner, INT64_MIN, &held, &exists);
		if (!err)
			err = exists ? -EPERM : -ENOENT;
	}
out:
	return tx_end(q, err);
}

static int sq_component_status_put(struct queue *q,
                                   const struct queue_component_status *cs)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_STATUS_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, cs->component);
	bind_text(st, 2, cs->owner);
	sqlite3_bind_int64(st, 3, cs->connected_ms);
	sqlite3_bind_int64(st, 4, cs->stopped ? 0 : queue_now_ms(q));
	bind_text(st, 5, cs->privileges);
	err = run(s, st, "storing the component status");
out:
	return tx_end(q, err);
}

static int sq_component_status_get(struct queue *q, const char *component,
                                   struct queue_component_status *out)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_STATUS_GET);
	bool row;
	int err;

	if (!st)
		return -EIO;
	bind_text(st, 1, component);
	err = step(s, st, &row, "reading the component status");
	if (err)
		return err;
	if (!row)
		return -ENOENT;
	out->component = strdup(component);
	if (!out->component)
		err = -ENOMEM;
	out->owner = col_dup(st, 0, &err);
	out->connected_ms = col_i64(st, 1);
	out->heartbeat_ms = col_i64(st, 2);
	out->privileges = col_dup(st, 3, &err);
	done(st);
	if (err)
		queue_component_status_clear(out);
	return err;
}

/* Rows of bridges silent for a day are deleted at every write. */
#define BRIDGE_STATUS_KEEP_MS (24 * 3600 * 1000LL)

static int sq_bridge_status_put(struct queue *q,
                                const struct queue_bridge_status *bs)
{
	struct sq *s = sq_of(q);
	int64_t now = queue_now_ms(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_BRIDGE_EXPIRE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	sqlite3_bind_int64(st, 1, now - BRIDGE_STATUS_KEEP_MS);
	err = run(s, st, "expiring bridge status rows");
	if (err)
		goto out;
	st = stmt(s, ST_BRIDGE_PUT);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, bs->owner);
	bind_text(st, 2, bs->host);
	sqlite3_bind_int64(st, 3, bs->pid);
	sqlite3_bind_int64(st, 4, bs->started_ms);
	sqlite3_bind_int64(st, 5, now);
	sqlite3_bind_int(st, 6, bs->calls);
	sqlite3_bind_int(st, 7, bs->presence_lease ? 1 : 0);
	err = run(s, st, "storing the bridge status");
out:
	return tx_end(q, err);
}

static int sq_bridge_status_remove(struct queue *q, const char *owner)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st;
	int err;

	err = tx_begin(q);
	if (err)
		return err;
	st = stmt(s, ST_BRIDGE_REMOVE);
	if (!st) {
		err = -EIO;
		goto out;
	}
	bind_text(st, 1, owner);
	err = run(s, st, "removing the bridge status");
out:
	return tx_end(q, err);
}

static int sq_bridge_status_foreach(
    struct queue *q, int64_t since_ms,
    int (*cb)(const struct queue_bridge_status *s, void *arg), void *arg)
{
	struct sq *s = sq_of(q);
	sqlite3_stmt *st = stmt(s, ST_BRIDGE_LIST);
	bool row;
	int err;

	if (!st)
		return -EIO;
	sqlite3_bind_int64(st, 1, since_ms);
	for (;;) {
		struct queue_bridge_status bs = {0};

		err = step(s, st, &row, "reading the bridge status");
		if (err || !row)
			break;
		bs.owner = (char *)sqlite3_column_text(st, 0);
		bs.host = (char *)sqlite3_column_text(st, 1);
		bs.pid = col_i64(st, 2);
		bs.started_ms = col_i64(st, 3);
		bs.heartbeat_ms = col_i64(st, 4);
		bs.calls = sqlite3_column_int(st, 5);
		bs.presence_lease = sqlite3_column_int(st, 6) != 0;
		if (!bs.owner || !bs.host)
			continue;
		err = cb(&bs, arg);
		if (err)
			break;
	}
	done(st);
	return err;
}

static int sq_jobs_created_since(struct queue *q, const char *callee_jid,
                                 const char *sender_jid, int64_t since_ms,
                                 int *count)
{
	struct sq *s = sq_of(q);
	int64_t v;
	int err;

	if (callee_jid)
		err =
		    count_jobs(s, ST_COUNT_CALLEE, callee_jid, since_ms, 0, &v);
	else
		err =
		    count_jobs(s, ST_COUNT_SENDER, sender_jid, since_ms, 0, &v);
	if (!err)
		*count = v > INT_MAX ? INT_MAX : (int)v;
	return err;
}

/* ---- wake-ups: the socket directory beside the database ------------------ */

static int sq_wake_listen(struct queue *q, unsigned mask, int *fd)
{
	return queue_wakedir_listen(&sq_of(q)->wake, mask, fd);
}

static int sq_wake_drain(struct queue *q, unsigned *channels)
{
	return queue_wakedir_drain(&sq_of(q)->wake, channels);
}

static int sq_notify(struct queue *q, unsigned channels)
{
	return queue_wakedir_notify(&sq_of(q)->wake, channels);
}

const struct queue_backend queue_backend_sqlite = {
    .name = "sqlite",
    .scheme = "sqlite:",
    .open = sq_open,
    .close = sq_close,
    .schema_version = sq_schema_version,
    .batch_begin = sq_batch_begin,
    .batch_commit = sq_batch_commit,
    .batch_rollback = sq_batch_rollback,
    .registration_put = sq_registration_put,
    .registration_get = sq_registration_get,
    .registration_delete = sq_registration_delete,
    .registration_foreach = sq_registration_foreach,
    .message_enqueue = sq_message_enqueue,
    .verify_enqueue = sq_verify_enqueue,
    .job_cancel_for = sq_job_cancel_for,
    .job_claim = sq_job_claim,
    .job_get = sq_job_get,
    .job_refresh_messages = sq_job_refresh_messages,
    .job_lease_renew = sq_job_lease_renew,
    .job_leases_renew = sq_job_leases_renew,
    .job_retry = sq_job_retry,
    .job_finish = sq_job_finish,
    .job_foreach = sq_job_foreach,
    .event_add = sq_event_add,
    .event_fetch_undelivered = sq_event_fetch_undelivered,
    .event_fetch_for_job = sq_event_fetch_for_job,
    .event_mark_delivered = sq_event_mark_delivered,
    .presence_set = sq_presence_set,
    .presence_get = sq_presence_get,
    .presence_foreach = sq_presence_foreach,
    .gwsub_add = sq_gwsub_add,
    .gwsub_remove = sq_gwsub_remove,
    .gwsub_exists = sq_gwsub_exists,
    .gwsub_count = sq_gwsub_count,
    .gwsub_foreach = sq_gwsub_foreach,
    .lease_acquire = sq_lease_acquire,
    .lease_release = sq_lease_release,
    .component_status_put = sq_component_status_put,
    .component_status_get = sq_component_status_get,
    .bridge_status_put = sq_bridge_status_put,
    .bridge_status_remove = sq_bridge_status_remove,
    .bridge_status_foreach = sq_bridge_status_foreach,
    .jobs_created_since = sq_jobs_created_since,
    .wake_listen = sq_wake_listen,
    .wake_drain = sq_wake_drain,
    .notify = sq_notify,
};
