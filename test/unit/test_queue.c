/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The queue's conformance suite: the state machine every engine must keep,
 * run against an engine the test picks (RB_TEST_QUEUE_ENGINES, a comma list,
 * default "sqlite"; each gets a fresh database per group of cases):
 * migrations, enqueue decisions (new, joined, duplicate, coalesced,
 * limited), claims and leases, finishing with follow-ups, events, presence,
 * named leases, two writers, wake-ups and batches. Then each engine's own
 * cases (SQLite: the file's mode, old and newer schemas, the wake-up socket
 * directory). Time is a fake clock moved by the test (queue_clock_set), so
 * nothing sleeps. On PostgreSQL, fresh() creates a database per group in
 * the private cluster RB_TEST_PG_URL names (test/integration/rbpostgres.py
 * starts one for the ctest entry unit/test_queue_postgresql).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "check.h"
#include "engine.h" /* ES_COUNT */
#include "queue.h"

#define T0 1700000000000LL /* the fake clock's start */
/* The newest migration in schemas/: one line to change when one lands. */
#define SCHEMA_LATEST 12

static char dir[32];
static char url[300];
static char dbpath[64]; /* SQLite: the file behind URL */
static int64_t clock_ms = T0;

/* An engine the suite runs against. */
struct engine_under_test {
	const char *name; /* as RB_TEST_QUEUE_ENGINES names it */
	/* Points URL at a new, empty database for the group GROUP. */
	void (*fresh)(const char *group);
	/* The cases about this engine alone, run after the suite. */
	void (*own_cases)(void);
	/* Runs SQL on the database at URL over a connection of its own;
	 * 0 when it succeeded. */
	int (*exec)(const char *sql);
};

static const struct engine_under_test *engine;

static int64_t fake_now(void *arg)
{
	(void)arg;
	return clock_ms;
}

static struct queue *open_q(void)
{
	struct queue *q = NULL;
	int err = queue_open(&q, url);

	CHECK_INT(err, 0);
	if (q)
		queue_clock_set(q, fake_now, NULL);
	return q;
}

/* A fresh database for one group of cases, on the engine under test. */
static void fresh_db(const char *name)
{
	engine->fresh(name);
	clock_ms = T0;
}

static void sqlite_fresh(const char *name)
{
	snprintf(dbpath, sizeof(dbpath), "%s/%s.db", dir, name);
	snprintf(url, sizeof(url), "sqlite:%s", dbpath);
}

/* Runs SQL on the SQLite file behind URL over a connection of its own; 0
 * when it succeeded. */
static int sqlite_exec(const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(dbpath, &db);

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fprintf(stderr, "test_queue: %s: %s\n", sql,
		        sqlite3_errmsg(db));
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* Undoes migration 008 (the further numbers), for the migration tests. */
#define DROP_008                                                               \
	"ALTER TABLE registrations DROP COLUMN phone2; ALTER TABLE "           \
	"registrations DROP COLUMN phone3; ALTER TABLE registrations DROP "    \
	"COLUMN verified2; ALTER TABLE registrations DROP COLUMN verified3; "  \
	"ALTER TABLE jobs DROP COLUMN destination2; ALTER TABLE jobs DROP "    \
	"COLUMN destination3; "

/* Undoes migration 009 (the wait, quiet hours' senders). */
#define DROP_009                                                               \
	"ALTER TABLE registrations DROP COLUMN wait_minutes; ALTER TABLE "     \
	"registrations DROP COLUMN ring_through; ALTER TABLE registrations "   \
	"DROP COLUMN quiet_mode; ALTER TABLE jobs DROP COLUMN "                \
	"seen_until_ms; "

static struct queue_message_in msg(const char *callee, const char *sender,
                                   const char *key, const char *body)
{
	struct queue_message_in m = {
	    .callee_jid = callee,
	    .sender_jid = sender,
	    .sender_name = "Alice",
	    .reply_from = "bob@example.org",
	    .body = body,
	    .received_ms = clock_ms,
	    .idem_key = key,
	    .destination = "+15551234567",
	    .tz = "Europe/Paris",
	    .lang = "fr",
	    .gate = QUEUE_GATE_DEFAULT,
	};
	return m;
}

static int enqueue(struct queue *q, const char *callee, const char *sender,
                   const char *key, const struct queue_enqueue_limits *lim,
                   int64_t *id, enum queue_enqueue_result *res)
{
	struct queue_message_in m = msg(callee, sender, key, "hello");

	return queue_message_enqueue(q, &m, lim, id, res);
}

static int count_jobs(struct queue *q)
{
	int n = 0;

	CHECK_INT(queue_jobs_created_since(q, "bob@example.org", NULL, 0, &n),
	          0);
	return n;
}

/* ---- open, URLs, migrations ---------------------------------------------- */

/* URLs no engine takes: refused before anything is opened. */
static void test_open_urls(void)
{
	static const struct {
		const char *url;
		int err;
	} urls[] = {
	    /* Port 1: nothing listens there. */
	    {"postgresql://127.0.0.1:1/rb?connect_timeout=2", -EIO},
	    {"postgres://127.0.0.1:1/rb?connect_timeout=2", -EIO},
	    {"postgresql://", -EINVAL},
	    {"mysql://localhost/rb", -EINVAL},
	    {"sqlite:", -EINVAL},
	    {"/tmp/x.db", -EINVAL},
	    {"sqlite:/nonexistent-dir/x.db", -ENOENT},
	};
	struct queue *q;
	size_t i;

	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		q = NULL;
		CHECK_INT(queue_open(&q, urls[i].url), urls[i].err);
		CHECK(q == NULL);
	}
}

static void test_open(void)
{
	struct queue *q;
	int v = 0;

	fresh_db("open");
	q = open_q();
	CHECK_INT(queue_schema_version(q, &v), 0);
	CHECK_INT(v, SCHEMA_LATEST);
	queue_close(q);

	/* Re-open: nothing to migrate, data kept. */
	q = open_q();
	CHECK_INT(queue_schema_version(q, &v), 0);
	CHECK_INT(v, SCHEMA_LATEST);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  NULL, NULL),
	          0);
	queue_close(q);
	q = open_q();
	CHECK_INT(count_jobs(q), 1);
	queue_close(q);
}

/* SQLite's own: the file's mode, an old schema migrated, a newer refused. */
static void test_open_sqlite(void)
{
	struct queue *q;
	struct stat st;
	int64_t id = 0;
	int v = 0;

	fresh_db("open-sqlite");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  NULL, NULL),
	          0);
	queue_close(q);
	CHECK_INT(stat(dbpath, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);

	/* A version-2 database (before component_status) is migrated
	 * forward at open, its rows kept. */
	{
		CHECK_INT(sqlite_exec(
		              "DROP INDEX jobs_leases; "
		              "DROP TABLE published_audio; "
		              "DROP TABLE sender_pauses; "
		              "DROP TABLE component_status; DROP "
		              "TABLE bridge_status; DROP INDEX "
		              "events_type_created; DROP TABLE "
		              "archive_marks; ALTER TABLE "
		              "registrations DROP COLUMN gate; ALTER "
		              "TABLE jobs DROP COLUMN gate; " DROP_008 DROP_009
		              "UPDATE schema_version SET version = 2"),
		          0);
		q = open_q();
		CHECK_INT(queue_schema_version(q, &v), 0);
		CHECK_INT(v, SCHEMA_LATEST);
		CHECK_INT(count_jobs(q), 1);
		queue_close(q);
	}

	/* A version-6 database (before the user's gate): its rows read as
	 * following the operator's default, and take a setting after. */
	{
		struct queue_registration r = {0}, out = {0};
		struct queue_job *job = NULL;
		struct queue_message_in m =
		    msg("bob@example.org", "alice@example.org", "k2", "x");

		q = open_q();
		r.jid = "bob@example.org";
		r.phone = "+15551234567";
		r.quiet_start = r.quiet_end = -1;
		r.gate = QUEUE_GATE_ON;
		CHECK_INT(queue_registration_put(q, &r), 0);
		queue_close(q);
		CHECK_INT(sqlite_exec("DROP INDEX jobs_leases; "
		                      "DROP TABLE published_audio; "
		                      "DROP TABLE sender_pauses; "
		                      "ALTER TABLE registrations DROP COLUMN "
		                      "gate; ALTER TABLE jobs DROP COLUMN "
		                      "gate; " DROP_008 DROP_009
		                      "UPDATE schema_version SET "
		                      "version = 6 WHERE version = 12"),
		          0);
		q = open_q();
		CHECK_INT(queue_schema_version(q, &v), 0);
		CHECK_INT(v, SCHEMA_LATEST);
		CHECK_INT(queue_registration_get(q, "bob@example.org", &out),
		          0);
		CHECK_INT(out.gate, QUEUE_GATE_DEFAULT);
		queue_registration_clear(&out);
		CHECK_INT(queue_job_get(q, 1, &job), 0);
		if (job)
			CHECK_INT(job->gate, QUEUE_GATE_DEFAULT);
		queue_job_free(job);
		job = NULL;
		m.callee_jid = "carol@example.org";
		m.gate = QUEUE_GATE_OFF;
		CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
		CHECK_INT(queue_job_get(q, id, &job), 0);
		if (job)
			CHECK_INT(job->gate, QUEUE_GATE_OFF);
		queue_job_free(job);
		queue_close(q);
	}

	/* A database from a newer build is refused, not damaged. */
	{
		CHECK_INT(sqlite_exec("UPDATE schema_version SET version = 99"),
		          0);
		q = NULL;
		CHECK_INT(queue_open(&q, url), -EPROTO);
		CHECK(q == NULL);
	}
}

/* ---- enqueue decisions --------------------------------------------------- */

static void test_enqueue(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	enum queue_enqueue_result res;
	int64_t id1 = 0, id2 = 0, id3 = 0;

	fresh_db("enqueue");
	q = open_q();

	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "a1", NULL,
	                  &id1, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK(id1 > 0);
	CHECK_INT(queue_job_get(q, id1, &job), 0);
	if (job) {
		CHECK_INT(job->kind, QUEUE_JOB_MESSAGE);
		CHECK_INT(job->state, QUEUE_JOB_QUEUED);
		CHECK_STR(job->callee_jid, "bob@example.org");
		CHECK_STR(job->sender_jid, "alice@example.org");
		CHECK_STR(job->sender_name, "Alice");
		CHECK_STR(job->reply_from, "bob@example.org");
		CHECK_STR(job->destination, "+15551234567");
		CHECK_STR(job->tz, "Europe/Paris");
		CHECK_STR(job->lang, "fr");
		CHECK_INT(job->created_ms, T0);
		CHECK_INT(job->not_before_ms, T0);
		CHECK_INT(job->next_attempt_ms, T0);
		CHECK_INT(job->attempts, 0);
		CHECK_INT(job->n_messages, 1);
		CHECK_INT(job->messages[0].seq, 1);
		CHECK_STR(job->messages[0].body, "hello");
		queue_job_free(job);
	}

	/* Joins while queued. */
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "a2", NULL,
	                  &id2, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_JOINED);
	CHECK_INT(id2, id1);

	/* The same key again: nothing done, the job named. */
	id2 = 0;
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "a2", NULL,
	                  &id2, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_DUPLICATE);
	CHECK_INT(id2, id1);

	/* Another sender: a job of its own. */
	CHECK_INT(enqueue(q, "bob@example.org", "carol@example.org", "c1", NULL,
	                  &id3, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK(id3 != id1);

	/* Joins while active, and the bridge picks it up by refreshing. */
	CHECK_INT(queue_job_claim(q, "bridge-1", 60000, &job, NULL), 0);
	CHECK(job && job->id == id1);
	if (job) {
		CHECK_INT(job->n_messages, 2);
		CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org",
		                  "a3", NULL, &id2, &res),
		          0);
		CHECK_INT(res, QUEUE_ENQ_JOINED);
		CHECK_INT(id2, id1);
		CHECK_INT(queue_job_refresh_messages(q, job, 2), 0);
		CHECK_INT(job->n_messages, 3);
		CHECK_INT(job->messages[2].seq, 3);
		queue_job_free(job);
	}
	CHECK_INT(count_jobs(q), 2);
	queue_close(q);
}

static void test_bounds(void)
{
	struct queue *q;
	struct queue_message_in m;
	char *big = malloc(QUEUE_BODY_MAX + 2);
	char jid[QUEUE_JID_MAX + 2];

	fresh_db("bounds");
	q = open_q();
	memset(jid, 'j', sizeof(jid) - 1);
	jid[sizeof(jid) - 1] = '\0';
	memset(big, 'b', QUEUE_BODY_MAX + 1);
	big[QUEUE_BODY_MAX + 1] = '\0';

	m = msg(jid, "alice@example.org", "k", "hi");
	CHECK_INT(queue_message_enqueue(q, &m, NULL, NULL, NULL), -EINVAL);
	m = msg("bob@example.org", "alice@example.org", "k", big);
	CHECK_INT(queue_message_enqueue(q, &m, NULL, NULL, NULL), -EINVAL);
	big[QUEUE_BODY_MAX] = '\0';
	CHECK_INT(queue_message_enqueue(q, &m, NULL, NULL, NULL), 0);
	m = msg("bob@example.org", "alice@example.org", NULL, "hi");
	CHECK_INT(queue_message_enqueue(q, &m, NULL, NULL, NULL), -EINVAL);
	CHECK_INT(queue_event_add(q, 1, QUEUE_EV_VOICE, "audio/ogg", big,
	                          (size_t)QUEUE_BLOB_MAX + 1, NULL),
	          -EINVAL);
	CHECK_INT(queue_event_add(q, 1, QUEUE_EV_HEARD, "two", NULL, 0, NULL),
	          -EINVAL);
	CHECK_INT(queue_event_add(q, 999, QUEUE_EV_KEY, "1", NULL, 0, NULL),
	          -ENOENT);
	free(big);
	queue_close(q);
}

/* ---- coalescing and limits ----------------------------------------------- */

static void test_coalesce(void)
{
	const struct queue_enqueue_limits lim = {.coalesce_seconds = 60};
	struct queue *q;
	struct queue_job *job = NULL;
	enum queue_enqueue_result res;
	int64_t id = 0, due = 0;

	fresh_db("coalesce");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", &lim,
	                  &id, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL), 0);
	queue_job_free(job);
	clock_ms += 10000;
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "1", NULL, 0, NULL),
	          0);
	CHECK_INT(queue_job_finish(q, id, "b", QUEUE_JOB_NOTIFIED, "ok"), 0);

	/* 5 s after the call: the new job waits out the window. */
	clock_ms += 5000;
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k2", &lim,
	                  &id, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->not_before_ms, T0 + 10000 + 60000);
		CHECK_INT(job->next_attempt_ms, T0 + 10000 + 60000);
		queue_job_free(job);
	}
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, &due), -EAGAIN);
	CHECK_INT(due, T0 + 70000);
	clock_ms = T0 + 70000;
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, &due), 0);
	CHECK(job && job->id == id);
	queue_job_free(job);

	/* Another pair is not held back by this one's window. */
	CHECK_INT(enqueue(q, "bob@example.org", "dave@example.org", "d1", &lim,
	                  &id, &res),
	          0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->not_before_ms, clock_ms);
		queue_job_free(job);
	}
	queue_close(q);
}

static void test_limits(void)
{
	static const struct {
		const char *callee, *sender, *key;
		enum queue_enqueue_result res;
	} cases[] = {
	    /* per callee: 2 an hour */
	    {"bob@example.org", "s1@example.org", "1", QUEUE_ENQ_NEW_JOB},
	    {"bob@example.org", "s2@example.org", "2", QUEUE_ENQ_NEW_JOB},
	    {"bob@example.org", "s3@example.org", "3", QUEUE_ENQ_LIMIT_CALLEE},
	    /* joining an open job is not a new call */
	    {"bob@example.org", "s1@example.org", "4", QUEUE_ENQ_JOINED},
	    /* per sender: 3 an hour */
	    {"c1@example.org", "eve@example.org", "5", QUEUE_ENQ_NEW_JOB},
	    {"c2@example.org", "eve@example.org", "6", QUEUE_ENQ_NEW_JOB},
	    {"c3@example.org", "eve@example.org", "7", QUEUE_ENQ_NEW_JOB},
	    {"c4@example.org", "eve@example.org", "8", QUEUE_ENQ_LIMIT_SENDER},
	};
	const struct queue_enqueue_limits lim = {
	    .per_callee_per_hour = 2,
	    .per_sender_per_hour = 3,
	};
	struct queue *q;
	enum queue_enqueue_result res;
	int64_t id;
	size_t i;
	int n = -1;

	fresh_db("limits");
	q = open_q();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		res = (enum queue_enqueue_result) - 1;
		CHECK_INT(enqueue(q, cases[i].callee, cases[i].sender,
		                  cases[i].key, &lim, &id, &res),
		          0);
		CHECK_INT(res, cases[i].res);
		clock_ms += 1000;
	}
	/* Refusals wrote nothing. */
	CHECK_INT(count_jobs(q), 2);
	CHECK_INT(queue_jobs_created_since(q, NULL, "eve@example.org", 0, &n),
	          0);
	CHECK_INT(n, 3);
	CHECK_INT(
	    queue_jobs_created_since(q, NULL, "eve@example.org", clock_ms, &n),
	    0);
	CHECK_INT(n, 0);

	/* An hour later the callee may be called again. */
	clock_ms = T0 + 3600 * 1000 + 1000;
	CHECK_INT(enqueue(q, "bob@example.org", "s3@example.org", "9", &lim,
	                  &id, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	queue_close(q);
}

/* ---- claims, leases, retries, finishing ---------------------------------- */

/* One renewal extends every lease an owner holds, and only its own. */
static void test_leases_renew(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t id[3] = {0}, held[3] = {0};
	const char *callee[3] = {"alice@example.org", "carol@example.org",
	                         "dave@example.org"};
	struct queue_event *evs = NULL;
	int64_t *ids = NULL;
	size_t n_evs = 0, n_ids = 0;
	int n = -1;

	fresh_db("renew_all");
	q = open_q();
	for (int i = 0; i < 3; i++)
		CHECK_INT(enqueue(q, callee[i], "bob@example.org", callee[i],
		                  NULL, &id[i], NULL),
		          0);
	/* b1 holds two jobs, b2 one. */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(
		    queue_job_claim(q, i < 2 ? "b1" : "b2", 1000, &job, NULL),
		    0);
		if (job)
			held[i] = job->id;
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_leases_renew(q, NULL, 1000, &n), -EINVAL);
	CHECK_INT(queue_job_leases_renew(q, "b1", 0, &n), -EINVAL);

	clock_ms += 500;
	CHECK_INT(queue_job_leases_renew(q, "b1", 30000, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(queue_job_leases_renew(q, "b9", 30000, &n), 0);
	CHECK_INT(n, 0);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(queue_job_get(q, held[i], &job), 0);
		if (job)
			CHECK_INT(job->lease_deadline_ms,
			          i < 2 ? clock_ms + 30000 : T0 + 1000);
		queue_job_free(job);
		job = NULL;
	}

	/* b2 stalled: its lease lapsed and b1 took the job over. b2's
	 * renewal no longer covers it, and its writes are refused. */
	clock_ms += 1000;
	CHECK_INT(queue_job_claim(q, "b1", 30000, &job, NULL), 0);
	if (job)
		CHECK_INT(job->id, held[2]);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_leases_renew(q, "b2", 30000, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(queue_job_finish(q, held[2], "b2", QUEUE_JOB_NOTIFIED, NULL),
	          -EPERM);
	CHECK_INT(queue_job_retry(q, held[2], "b2", clock_ms, NULL), -EPERM);
	/* Nor may b2 report on it: a late HEARD would mark as heard what
	 * b1's call has not read yet. Nothing is written. */
	CHECK_INT(queue_event_add_held(q, held[2], "b2", QUEUE_EV_HEARD, "1",
	                               NULL, 0, NULL),
	          -EPERM);
	CHECK_INT(queue_event_fetch_for_job(q, held[2], &evs, &n_evs), 0);
	CHECK_INT((int)n_evs, 0);
	queue_event_array_free(evs, n_evs);
	CHECK_INT(queue_event_add_held(q, held[2], "b1", QUEUE_EV_CALLING, "2",
	                               NULL, 0, NULL),
	          0);
	/* The refused HEARD marked nothing; the holder's marks its messages
	 * up to the seq it names (on PostgreSQL in its insert's statement). */
	CHECK_INT(queue_job_get(q, held[2], &job), 0);
	CHECK(job && job->n_messages >= 1 && !job->messages[0].heard);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_add_held(q, held[2], "b1", QUEUE_EV_HEARD, "1",
	                               NULL, 0, NULL),
	          0);
	CHECK_INT(queue_job_get(q, held[2], &job), 0);
	CHECK(job && job->n_messages >= 1 && job->messages[0].heard);
	for (size_t i = 1; job && i < job->n_messages; i++)
		CHECK(job->messages[i].seq > 1 && !job->messages[i].heard);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_add_held(q, 99999, "b1", QUEUE_EV_KEY, "1", NULL,
	                               0, NULL),
	          -ENOENT);
	/* What each holds is what b2 compares with its calls to hang up the
	 * one taken over. */
	CHECK_INT(queue_job_leases_held(q, "b2", &ids, &n_ids), 0);
	CHECK_INT((int)n_ids, 0);
	CHECK(ids == NULL);
	CHECK_INT(queue_job_leases_held(q, "b1", &ids, &n_ids), 0);
	CHECK_INT((int)n_ids, 3);
	for (size_t i = 0; ids && i < n_ids && i < 3; i++)
		CHECK(ids[i] == held[i]);
	free(ids);
	CHECK_INT(queue_job_leases_held(q, NULL, &ids, &n_ids), -EINVAL);
	CHECK_INT(queue_job_leases_renew(q, "b1", 30000, &n), 0);
	CHECK_INT(n, 3);

	/* A finished job is no longer held, but the ENDED event after the
	 * finish is still its finisher's to write, and only its. */
	CHECK_INT(queue_job_finish(q, held[0], "b1", QUEUE_JOB_NOTIFIED, NULL),
	          0);
	CHECK_INT(queue_event_add_held(q, held[0], "b1", QUEUE_EV_ENDED,
	                               "notified", NULL, 0, NULL),
	          0);
	CHECK_INT(queue_event_add_held(q, held[0], "b2", QUEUE_EV_ENDED,
	                               "notified", NULL, 0, NULL),
	          -EPERM);
	/* Given back, a job is nobody's to report on. */
	CHECK_INT(queue_job_retry(q, held[1], "b1", clock_ms + 60000, NULL), 0);
	CHECK_INT(queue_event_add_held(q, held[1], "b1", QUEUE_EV_KEY, "1",
	                               NULL, 0, NULL),
	          -EPERM);
	clock_ms += 1000;
	CHECK_INT(queue_job_leases_renew(q, "b1", 30000, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(queue_job_get(q, held[0], &job), 0);
	if (job)
		CHECK_INT(job->state, QUEUE_JOB_NOTIFIED);
	queue_job_free(job);
	queue_close(q);
}

static void test_claim_lease(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t id = 0, due = -1;

	fresh_db("claim");
	q = open_q();
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), -EAGAIN);
	CHECK_INT(due, 0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_ACTIVE);
		CHECK_STR(job->lease_owner, "b1");
		CHECK_INT(job->lease_deadline_ms, T0 + 1000);
		CHECK_INT(job->attempts, 1);
		queue_job_free(job);
		job = NULL;
	}
	/* Held: nothing for b2 until the lease lapses. */
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), -EAGAIN);
	CHECK_INT(due, T0 + 1001);
	clock_ms += 500;
	CHECK_INT(queue_job_lease_renew(q, id, "b1", 1000), 0);
	CHECK_INT(queue_job_lease_renew(q, id, "b2", 1000), -EPERM);
	CHECK_INT(queue_job_lease_renew(q, 9999, "b1", 1000), -ENOENT);
	clock_ms += 1000;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), -EAGAIN);

	/* b1 stopped: the lease lapses and b2 takes the job over. */
	clock_ms += 1;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), 0);
	if (job) {
		CHECK_INT(job->id, id);
		CHECK_STR(job->lease_owner, "b2");
		CHECK_INT(job->attempts, 2);
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_finish(q, id, "b1", QUEUE_JOB_NOTIFIED, NULL),
	          -EPERM);
	CHECK_INT(queue_job_retry(q, id, "b1", clock_ms, NULL), -EPERM);

	/* b2 gives it back for later. */
	CHECK_INT(queue_job_retry(q, id, "b2", clock_ms + 30000, "busy"), 0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_QUEUED);
		CHECK_INT(job->next_attempt_ms, clock_ms + 30000);
		CHECK_STR(job->last_reason, "busy");
		CHECK(job->lease_owner == NULL);
		CHECK_INT(job->attempts, 2);
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), -EAGAIN);
	CHECK_INT(due, clock_ms + 30000);
	clock_ms += 30000;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), 0);
	if (job) {
		CHECK_INT(job->attempts, 3);
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_finish(q, id, "b2", QUEUE_JOB_QUEUED, NULL),
	          -EINVAL);
	CHECK_INT(queue_job_finish(q, id, "b2", QUEUE_JOB_FAILED, "no answer"),
	          0);
	CHECK_INT(queue_job_finish(q, id, "b2", QUEUE_JOB_FAILED, NULL),
	          -EPERM);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_FAILED);
		CHECK_INT(job->finished_ms, clock_ms);
		CHECK_STR(job->last_reason, "no answer");
		queue_job_free(job);
	}
	/* A failed job's messages are reported, not called again. */
	CHECK_INT(count_jobs(q), 1);
	queue_close(q);
}

/* Oldest due first: by next attempt, then by id. */
static void test_claim_order(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t a = 0, b = 0, c = 0;

	fresh_db("order");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "s1@example.org", "1", NULL, &a,
	                  NULL),
	          0);
	CHECK_INT(enqueue(q, "bob@example.org", "s2@example.org", "2", NULL, &b,
	                  NULL),
	          0);
	clock_ms += 10;
	CHECK_INT(enqueue(q, "bob@example.org", "s3@example.org", "3", NULL, &c,
	                  NULL),
	          0);
	/* a is retried later than c. */
	CHECK_INT(queue_job_claim(q, "x", 1000, &job, NULL), 0);
	CHECK(job && job->id == a);
	queue_job_free(job);
	CHECK_INT(queue_job_retry(q, a, "x", clock_ms + 5, NULL), 0);
	CHECK_INT(queue_job_claim(q, "x", 1000, &job, NULL), 0);
	CHECK(job && job->id == b);
	queue_job_free(job);
	CHECK_INT(queue_job_claim(q, "x", 1000, &job, NULL), 0);
	CHECK(job && job->id == c);
	queue_job_free(job);
	clock_ms += 5;
	CHECK_INT(queue_job_claim(q, "x", 1000, &job, NULL), 0);
	CHECK(job && job->id == a);
	queue_job_free(job);
	queue_close(q);
}

static int count_events(struct queue *q, enum queue_event_type type,
                        int64_t job_id)
{
	struct queue_event *evs = NULL;
	size_t n = 0, i;
	int c = 0;

	CHECK_INT(queue_event_fetch_undelivered(q, 1000, &evs, &n), 0);
	for (i = 0; i < n; i++)
		c += evs[i].type == type && evs[i].job_id == job_id;
	queue_event_array_free(evs, n);
	return c;
}

/* A lapsed lease older than the first queued job is taken over first,
 * whether an engine claims the common case in one statement or not. */
static void test_claim_lapsed_first(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t a = 0, b = 0;

	fresh_db("lapsedfirst");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &a, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, NULL), 0);
	CHECK(job && job->id == a);
	queue_job_free(job);
	job = NULL;
	clock_ms += 10;
	CHECK_INT(enqueue(q, "carol@example.org", "alice@example.org", "k2",
	                  NULL, &b, NULL),
	          0);
	clock_ms += 2000;
	/* b1 stopped: its job is due before carol's. */
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, NULL), 0);
	CHECK(job && job->id == a);
	if (job)
		CHECK_INT(job->attempts, 2);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, NULL), 0);
	CHECK(job && job->id == b);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, NULL), -EAGAIN);
	queue_close(q);
}

/* A bridge that stopped after everything was heard: no second call. */
static void test_expired_heard(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t id = 0, vid = 0, due;

	fresh_db("heard");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k2", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, NULL), 0);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "2", NULL, 0, NULL),
	          0);

	CHECK_INT(queue_verify_enqueue(q, "carol@example.org", "+15550000000",
	                               "1234", "en", &vid),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, NULL), 0);
	CHECK(job && job->id == vid);
	if (job) {
		CHECK_INT(job->kind, QUEUE_JOB_VERIFY);
		CHECK_STR(job->verify_code, "1234");
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_event_add(q, vid, QUEUE_EV_VERIFY_SPOKEN, NULL, NULL, 0,
	                          NULL),
	          0);

	clock_ms += 2000;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, &due), -EAGAIN);
	CHECK_INT(due, 0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_NOTIFIED);
		CHECK_STR(job->last_reason, "heard before the bridge stopped");
		CHECK_INT(job->attempts, 1);
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_get(q, vid, &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_NOTIFIED);
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(count_events(q, QUEUE_EV_ENDED, id), 1);
	CHECK_INT(count_events(q, QUEUE_EV_ENDED, vid), 1);

	/* Heard in part: claimed again, the heard one still marked. */
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k3", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k4", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, NULL), 0);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "1", NULL, 0, NULL),
	          0);
	clock_ms += 2000;
	CHECK_INT(queue_job_claim(q, "b2", 1000, &job, NULL), 0);
	CHECK(job && job->id == id);
	if (job && job->n_messages == 2) {
		CHECK(job->messages[0].heard);
		CHECK(!job->messages[1].heard);
	}
	queue_job_free(job);
	queue_close(q);
}

static void test_finish_follow_up(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t id = 0, id2 = 0;
	char key[8];
	int i;

	fresh_db("follow");
	q = open_q();
	for (i = 1; i <= 3; i++) {
		struct queue_message_in m;
		char body[16];

		snprintf(key, sizeof(key), "k%d", i);
		snprintf(body, sizeof(body), "body %d", i);
		m = msg("bob@example.org", "alice@example.org", key, body);
		m.gate =
		    QUEUE_GATE_OFF; /* the follow-up keeps the snapshot's */
		CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
		if (i == 2) {
			CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL),
			          0);
			queue_job_free(job);
			job = NULL;
		}
	}
	/* Two were read; the third joined at the last moment. */
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "2", NULL, 0, NULL),
	          0);
	clock_ms += 1000;
	CHECK_INT(queue_job_finish(q, id, "b", QUEUE_JOB_NOTIFIED, "heard"), 0);
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL), 0);
	if (job) {
		id2 = job->id;
		CHECK(id2 != id);
		CHECK_INT(job->kind, QUEUE_JOB_MESSAGE);
		CHECK_STR(job->callee_jid, "bob@example.org");
		CHECK_STR(job->sender_jid, "alice@example.org");
		CHECK_STR(job->sender_name, "Alice");
		CHECK_STR(job->destination, "+15551234567");
		CHECK_STR(job->tz, "Europe/Paris");
		CHECK_INT(job->gate, QUEUE_GATE_OFF);
		CHECK_INT(job->not_before_ms, clock_ms);
		CHECK_INT(job->attempts, 1);
		CHECK_INT(job->n_messages, 1);
		if (job->n_messages == 1) {
			CHECK_INT(job->messages[0].seq, 1);
			CHECK_STR(job->messages[0].body, "body 3");
			CHECK(!job->messages[0].heard);
		}
		queue_job_free(job);
		job = NULL;
	}
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(job->n_messages, 2);
		queue_job_free(job);
		job = NULL;
	}
	/* The moved message keeps its key: a resend is still a duplicate. */
	{
		enum queue_enqueue_result res;
		int64_t dup = 0;

		CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org",
		                  "k3", NULL, &dup, &res),
		          0);
		CHECK_INT(res, QUEUE_ENQ_DUPLICATE);
		CHECK_INT(dup, id2);
	}
	/* Everything heard: no follow-up. */
	CHECK_INT(queue_event_add(q, id2, QUEUE_EV_HEARD, "1", NULL, 0, NULL),
	          0);
	CHECK_INT(queue_job_finish(q, id2, "b", QUEUE_JOB_NOTIFIED, NULL), 0);
	CHECK_INT(count_jobs(q), 2);

	/* Cancelling for an unregistered user. */
	{
		int n = -1;

		CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org",
		                  "k9", NULL, &id, NULL),
		          0);
		CHECK_INT(queue_job_cancel_for(q, "bob@example.org", &n), 0);
		CHECK_INT(n, 1);
		CHECK_INT(queue_job_get(q, id, &job), 0);
		if (job) {
			CHECK_INT(job->state, QUEUE_JOB_CANCELLED);
			queue_job_free(job);
		}
	}
	queue_close(q);
}

/* ---- events, presence, leases -------------------------------------------- */

static void test_events(void)
{
	static const unsigned char audio[] = {0x4f, 0x67, 0x67, 0x53, 0x00};
	struct queue *q;
	struct queue_event *evs = NULL;
	int64_t id = 0, e1 = 0, e2 = 0, ids[2];
	size_t n = 0;

	fresh_db("events");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(queue_event_fetch_undelivered(q, 10, &evs, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_KEY, "1", NULL, 0, &e1), 0);
	clock_ms += 1;
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_VOICE, "audio/ogg", audio,
	                          sizeof(audio), &e2),
	          0);
	CHECK(e2 > e1);
	CHECK_INT(queue_event_fetch_undelivered(q, 1, &evs, &n), 0);
	CHECK_INT(n, 1);
	queue_event_array_free(evs, n);
	CHECK_INT(queue_event_fetch_undelivered(q, 10, &evs, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		CHECK_INT(evs[0].id, e1);
		CHECK_INT(evs[0].type, QUEUE_EV_KEY);
		CHECK_STR(evs[0].detail, "1");
		CHECK_INT(evs[0].job_kind, QUEUE_JOB_MESSAGE);
		CHECK_STR(evs[0].callee_jid, "bob@example.org");
		CHECK_STR(evs[0].sender_jid, "alice@example.org");
		CHECK_STR(evs[0].reply_from, "bob@example.org");
		CHECK_INT(evs[0].created_ms, T0);
		CHECK(evs[0].blob == NULL);
		CHECK_INT(evs[1].blob_len, sizeof(audio));
		CHECK(evs[1].blob &&
		      !memcmp(evs[1].blob, audio, sizeof(audio)));
	}
	queue_event_array_free(evs, n);
	ids[0] = e1;
	ids[1] = e2;
	CHECK_INT(queue_event_mark_delivered(q, ids, 1), 0);
	CHECK_INT(queue_event_fetch_undelivered(q, 10, &evs, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_INT(evs[0].id, e2);
	queue_event_array_free(evs, n);
	CHECK_INT(queue_event_mark_delivered(q, ids, 2), 0);
	CHECK_INT(queue_event_fetch_undelivered(q, 10, &evs, &n), 0);
	CHECK_INT(n, 0);
	queue_event_array_free(evs, n);
	queue_close(q);
}

static void test_presence(void)
{
	struct queue *q;
	char *state = NULL, *status = NULL;
	int64_t at = 0;

	fresh_db("presence");
	q = open_q();
	CHECK_INT(queue_presence_get(q, "bob@example.org", "sip", &state,
	                             &status, &at),
	          -ENOENT);
	CHECK_INT(queue_presence_set(q, "bob@example.org", "sip",
	                             "on-the-phone", "In a call"),
	          0);
	CHECK_INT(
	    queue_presence_set(q, "bob@example.org", "xmpp", "away", NULL), 0);
	clock_ms += 100;
	CHECK_INT(queue_presence_set(q, "bob@example.org", "sip", "idle", NULL),
	          0);
	CHECK_INT(queue_presence_get(q, "bob@example.org", "sip", &state,
	                             &status, &at),
	          0);
	CHECK_STR(state, "idle");
	CHECK(status == NULL);
	CHECK_INT(at, T0 + 100);
	free(state);
	free(status);
	CHECK_INT(queue_presence_get(q, "bob@example.org", "xmpp", &state, NULL,
	                             NULL),
	          0);
	CHECK_STR(state, "away");
	free(state);
	queue_close(q);
}

struct pres_seen {
	int n;
	char jids[8][64];
	char states[8][32];
	bool status_null[8];
};

static int pres_collect(const struct queue_presence *p, void *arg)
{
	struct pres_seen *s = arg;

	if (s->n >= 8)
		return -E2BIG;
	snprintf(s->jids[s->n], sizeof(s->jids[0]), "%s", p->jid);
	snprintf(s->states[s->n], sizeof(s->states[0]), "%s", p->state);
	s->status_null[s->n] = p->status == NULL;
	s->n++;
	return 0;
}

static int pres_stop(const struct queue_presence *p, void *arg)
{
	(void)p;
	(*(int *)arg)++;
	return 7;
}

/* Listing the other side's changed rows, as both processes do on a
 * QUEUE_CH_PRESENCE wake-up. */
static void test_presence_foreach(void)
{
	struct queue *q;
	struct pres_seen seen = {0};
	int calls = 0;

	fresh_db("presence_foreach");
	q = open_q();
	CHECK_INT(queue_presence_set(q, "carol@example.org", "sip",
	                             "on_the_phone", NULL),
	          0);
	clock_ms += 10;
	CHECK_INT(queue_presence_set(q, "bob@example.org", "sip", "idle", NULL),
	          0);
	CHECK_INT(
	    queue_presence_set(q, "bob@example.org", "xmpp", "away", "lunch"),
	    0);
	clock_ms += 10;
	CHECK_INT(queue_presence_set(q, "dave@example.org", "sip",
	                             "on_the_phone", NULL),
	          0);

	/* All sip rows, oldest change first; xmpp rows are not listed. */
	CHECK_INT(queue_presence_foreach(q, "sip", 0, pres_collect, &seen), 0);
	CHECK_INT(seen.n, 3);
	CHECK_STR(seen.jids[0], "carol@example.org");
	CHECK_STR(seen.jids[1], "bob@example.org");
	CHECK_STR(seen.states[1], "idle");
	CHECK(seen.status_null[1]);
	CHECK_STR(seen.jids[2], "dave@example.org");

	/* Since a time: rows of that millisecond and later. */
	memset(&seen, 0, sizeof(seen));
	CHECK_INT(
	    queue_presence_foreach(q, "sip", T0 + 10, pres_collect, &seen), 0);
	CHECK_INT(seen.n, 2);
	CHECK_STR(seen.jids[0], "bob@example.org");
	CHECK_STR(seen.jids[1], "dave@example.org");

	/* An update moves a row to the end. */
	clock_ms += 10;
	CHECK_INT(
	    queue_presence_set(q, "carol@example.org", "sip", "idle", NULL), 0);
	memset(&seen, 0, sizeof(seen));
	CHECK_INT(
	    queue_presence_foreach(q, "sip", T0 + 30, pres_collect, &seen), 0);
	CHECK_INT(seen.n, 1);
	CHECK_STR(seen.jids[0], "carol@example.org");
	CHECK_STR(seen.states[0], "idle");

	memset(&seen, 0, sizeof(seen));
	CHECK_INT(queue_presence_foreach(q, "xmpp", 0, pres_collect, &seen), 0);
	CHECK_INT(seen.n, 1);
	CHECK(!seen.status_null[0]);

	/* A callback's non-zero return stops the listing and is returned. */
	CHECK_INT(queue_presence_foreach(q, "sip", 0, pres_stop, &calls), 7);
	CHECK_INT(calls, 1);
	CHECK_INT(queue_presence_foreach(q, "", 0, pres_stop, &calls), -EINVAL);
	CHECK_INT(queue_presence_foreach(q, "sip", 0, NULL, NULL), -EINVAL);
	queue_close(q);
}

struct sub_seen {
	int n;
	char rows[8][160];
};

static int sub_collect(const char *contact, const char *subscriber,
                       const char *user, void *arg)
{
	struct sub_seen *s = arg;

	if (s->n >= 8)
		return -E2BIG;
	snprintf(s->rows[s->n++], sizeof(s->rows[0]), "%s %s %s", contact,
	         subscriber, user);
	return 0;
}

static void test_gateway_subscriptions(void)
{
	static const char *const bob = "bob@example.org";
	static const char *const gw1 = "bob@callgw.example.org";
	static const char *const gw2 = "bob\\40example.org@callgw.example.org";
	struct queue *q;
	struct sub_seen seen = {0};
	int n = -1;

	fresh_db("gwsub");
	q = open_q();
	CHECK_INT(queue_gwsub_exists(q, gw1, "alice@example.org"), -ENOENT);
	CHECK_INT(queue_gwsub_add(q, gw1, "alice@example.org", bob), 0);
	/* Subscribing again is not an error and adds nothing. */
	CHECK_INT(queue_gwsub_add(q, gw1, "alice@example.org", bob), 0);
	CHECK_INT(queue_gwsub_add(q, gw2, "carol@example.org", bob), 0);
	CHECK_INT(queue_gwsub_add(q, "dave@callgw.example.org",
	                          "alice@example.org", "dave@example.org"),
	          0);
	CHECK_INT(queue_gwsub_exists(q, gw1, "alice@example.org"), 0);
	CHECK_INT(queue_gwsub_exists(q, gw2, "alice@example.org"), -ENOENT);
	CHECK_INT(queue_gwsub_count(q, gw1, &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(queue_gwsub_count(q, "nobody@callgw.example.org", &n), 0);
	CHECK_INT(n, 0);

	/* Everyone subscribed to any of Bob's addresses. */
	CHECK_INT(queue_gwsub_foreach(q, bob, sub_collect, &seen), 0);
	CHECK_INT(seen.n, 2);
	CHECK_STR(seen.rows[0],
	          "bob@callgw.example.org alice@example.org bob@example.org");
	CHECK_STR(seen.rows[1], "bob\\40example.org@callgw.example.org "
	                        "carol@example.org bob@example.org");
	memset(&seen, 0, sizeof(seen));
	CHECK_INT(queue_gwsub_foreach(q, NULL, sub_collect, &seen), 0);
	CHECK_INT(seen.n, 3);

	CHECK_INT(queue_gwsub_remove(q, gw1, "alice@example.org"), 0);
	CHECK_INT(queue_gwsub_remove(q, gw1, "alice@example.org"), -ENOENT);
	CHECK_INT(queue_gwsub_exists(q, gw1, "alice@example.org"), -ENOENT);
	/* Dave's subscription from Alice is another row. */
	CHECK_INT(queue_gwsub_exists(q, "dave@callgw.example.org",
	                             "alice@example.org"),
	          0);
	CHECK_INT(queue_gwsub_add(q, "", "alice@example.org", bob), -EINVAL);
	CHECK_INT(queue_gwsub_add(q, gw1, "alice@example.org", NULL), -EINVAL);
	queue_close(q);

	/* Durable: a new handle (a restarted component) sees them. */
	q = open_q();
	CHECK_INT(queue_gwsub_exists(q, gw2, "carol@example.org"), 0);
	queue_close(q);
}

/* A callee on the phone: their job is not claimed (nor counted as due)
 * until the "sip" row says idle; other callees' jobs are claimed meanwhile;
 * the "xmpp" row with any state never holds a job back. */
static void test_claim_on_the_phone(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t bob = 0, carol = 0, due = -1;

	fresh_db("onphone");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &bob, NULL),
	          0);
	CHECK_INT(queue_presence_set(q, "bob@example.org", QUEUE_PRESENCE_SIP,
	                             QUEUE_PRESENCE_ON_THE_PHONE, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), -EAGAIN);
	CHECK_INT(due, 0);
	CHECK_INT(enqueue(q, "carol@example.org", "alice@example.org", "k2",
	                  NULL, &carol, NULL),
	          0);
	CHECK_INT(queue_presence_set(q, "carol@example.org",
	                             QUEUE_PRESENCE_XMPP, "dnd", NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), 0);
	CHECK(job && job->id == carol);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), -EAGAIN);
	/* The call ended: bob's job is due again, at once. */
	clock_ms += 50;
	CHECK_INT(queue_presence_set(q, "bob@example.org", QUEUE_PRESENCE_SIP,
	                             QUEUE_PRESENCE_IDLE, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, &due), 0);
	CHECK(job && job->id == bob);
	queue_job_free(job);
	queue_close(q);
}

struct pres_list {
	int n;
	char seen[256];
};

static int user_list_cb(const char *jid, const char *addr, void *arg)
{
	struct pres_list *l = arg;

	l->n++;
	snprintf(l->seen + strlen(l->seen), sizeof(l->seen) - strlen(l->seen),
	         "%s=%s;", jid, addr);
	return 0;
}

static void test_presence_users(void)
{
	static const struct {
		const char *jid, *phone, *sip_presence;
		bool verified;
	} regs[] = {
	    {"a@x", "+15551234567", NULL, true},   /* no SIP address */
	    {"b@x", "sip:b@pbx.test", NULL, true}, /* the phone */
	    {"c@x", "+15551234568", "sip:c@pres.test", true}, /* setting */
	    {"d@x", "sips:d@pbx.test", "sip:d2@pres.test", true},
	    {"e@x", "sip:e@pbx.test", NULL, false}, /* not verified */
	};
	struct queue *q;
	struct pres_list l = {0};

	fresh_db("preslist");
	q = open_q();
	for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
		struct queue_registration r = {0};

		r.jid = (char *)regs[i].jid;
		r.phone = (char *)regs[i].phone;
		r.sip_presence = (char *)regs[i].sip_presence;
		r.verified = regs[i].verified;
		r.quiet_start = -1;
		CHECK_INT(queue_registration_put(q, &r), 0);
	}
	CHECK_INT(queue_presence_users_foreach(q, user_list_cb, &l), 0);
	CHECK_INT(l.n, 3);
	CHECK_STR(
	    l.seen,
	    "b@x=sip:b@pbx.test;c@x=sip:c@pres.test;d@x=sip:d2@pres.test;");

	queue_close(q);
}

static void test_component_status(void)
{
	struct queue_component_status st = {0}, got = {0};
	struct queue *q;

	fresh_db("status");
	q = open_q();
	CHECK_INT(queue_component_status_get(q, "callgw.example.org", &got),
	          -ENOENT);
	st.component = "callgw.example.org";
	st.owner = "host:1";
	st.connected_ms = T0 - 5000;
	CHECK_INT(queue_component_status_put(q, &st), 0);
	CHECK_INT(queue_component_status_get(q, "callgw.example.org", &got), 0);
	CHECK_STR(got.owner, "host:1");
	CHECK(got.connected_ms == T0 - 5000);
	CHECK(got.heartbeat_ms == clock_ms);
	CHECK(got.privileges == NULL);
	queue_component_status_clear(&got);

	/* Rewritten in place; a stopped process leaves heartbeat 0. */
	clock_ms += 30000;
	st.owner = "host:2";
	st.privileges = "example.org urn:xmpp:privilege:2 push=yes";
	CHECK_INT(queue_component_status_put(q, &st), 0);
	CHECK_INT(queue_component_status_get(q, "callgw.example.org", &got), 0);
	CHECK_STR(got.owner, "host:2");
	CHECK(got.heartbeat_ms == clock_ms);
	CHECK_STR(got.privileges, "example.org urn:xmpp:privilege:2 push=yes");
	queue_component_status_clear(&got);
	st.stopped = true;
	st.connected_ms = 0;
	CHECK_INT(queue_component_status_put(q, &st), 0);
	CHECK_INT(queue_component_status_get(q, "callgw.example.org", &got), 0);
	CHECK(got.heartbeat_ms == 0 && got.connected_ms == 0);
	queue_component_status_clear(&got);
	CHECK_INT(queue_component_status_get(q, "other.example.org", &got),
	          -ENOENT);

	st.connected_ms = -1;
	CHECK_INT(queue_component_status_put(q, &st), -EINVAL);
	st.connected_ms = 0;
	st.owner = NULL;
	CHECK_INT(queue_component_status_put(q, &st), -EINVAL);
	queue_close(q);
}

struct bridge_rows {
	int n;
	char owners[4][32];
	int64_t heartbeat[4], pid[4];
	int calls[4];
	bool lease[4];
};

static int bridge_row(const struct queue_bridge_status *s, void *arg)
{
	struct bridge_rows *r = arg;

	if (r->n < 4) {
		snprintf(r->owners[r->n], sizeof(r->owners[0]), "%s", s->owner);
		r->heartbeat[r->n] = s->heartbeat_ms;
		r->pid[r->n] = s->pid;
		r->calls[r->n] = s->calls;
		r->lease[r->n] = s->presence_lease;
	}
	r->n++;
	return 0;
}

static void test_bridge_status(void)
{
	struct queue_bridge_status a = {
	    .owner = "h1:10:aa", .host = "h1", .pid = 10, .started_ms = T0};
	struct queue_bridge_status b = a;
	struct bridge_rows r = {0};
	struct queue *q;

	fresh_db("bridges");
	q = open_q();
	CHECK_INT(queue_bridge_status_foreach(q, 0, bridge_row, &r), 0);
	CHECK_INT(r.n, 0);

	CHECK_INT(queue_bridge_status_put(q, &a), 0);
	clock_ms += 1000;
	b.owner = "h2:20:bb";
	b.host = "h2";
	b.pid = 20;
	b.started_ms = T0 + 1000;
	b.calls = 3;
	b.presence_lease = true;
	CHECK_INT(queue_bridge_status_put(q, &b), 0);
	CHECK_INT(queue_bridge_status_foreach(q, 0, bridge_row, &r), 0);
	CHECK_INT(r.n, 2);
	CHECK_STR(r.owners[0], "h1:10:aa");
	CHECK(r.heartbeat[0] == T0 && r.pid[0] == 10);
	CHECK(r.calls[0] == 0 && !r.lease[0]);
	CHECK_STR(r.owners[1], "h2:20:bb");
	CHECK(r.heartbeat[1] == T0 + 1000 && r.pid[1] == 20);
	CHECK(r.calls[1] == 3 && r.lease[1]);

	/* A beat rewrites the row in place; rows older than SINCE are
	 * expired (a bridge that died): not reported. */
	clock_ms += 90000;
	a.calls = 1;
	CHECK_INT(queue_bridge_status_put(q, &a), 0);
	memset(&r, 0, sizeof(r));
	CHECK_INT(
	    queue_bridge_status_foreach(q, clock_ms - 60000, bridge_row, &r),
	    0);
	CHECK_INT(r.n, 1);
	CHECK_STR(r.owners[0], "h1:10:aa");
	CHECK(r.heartbeat[0] == clock_ms && r.calls[0] == 1);

	/* A bridge exiting removes its row; removing again is no error. */
	CHECK_INT(queue_bridge_status_remove(q, "h1:10:aa"), 0);
	CHECK_INT(queue_bridge_status_remove(q, "h1:10:aa"), 0);
	memset(&r, 0, sizeof(r));
	CHECK_INT(queue_bridge_status_foreach(q, 0, bridge_row, &r), 0);
	CHECK_INT(r.n, 1);
	CHECK_STR(r.owners[0], "h2:20:bb");

	/* A day later a write deletes the dead bridge's row for good. */
	clock_ms += 24 * 3600 * 1000LL;
	CHECK_INT(queue_bridge_status_put(q, &a), 0);
	memset(&r, 0, sizeof(r));
	CHECK_INT(queue_bridge_status_foreach(q, 0, bridge_row, &r), 0);
	CHECK_INT(r.n, 1);
	CHECK_STR(r.owners[0], "h1:10:aa");

	a.pid = 0;
	CHECK_INT(queue_bridge_status_put(q, &a), -EINVAL);
	a.pid = 10;
	a.host = NULL;
	CHECK_INT(queue_bridge_status_put(q, &a), -EINVAL);
	a.host = "h1";
	a.calls = -1;
	CHECK_INT(queue_bridge_status_put(q, &a), -EINVAL);
	CHECK_INT(queue_bridge_status_remove(q, NULL), -EINVAL);
	queue_close(q);
}

static void test_leases(void)
{
	static const struct {
		int64_t advance;
		const char *op, *owner;
		int err;
	} steps[] = {
	    {0, "acquire", "b1", 0},
	    {0, "acquire", "b2", -EPERM},
	    {500, "acquire", "b1", 0}, /* renew: deadline now +1000 */
	    {1000, "acquire", "b2", -EPERM},
	    {1, "acquire", "b2", 0}, /* lapsed: stolen */
	    {0, "release", "b1", -EPERM},
	    {0, "acquire", "b1", -EPERM},
	    {0, "release", "b2", 0},
	    {0, "release", "b2", -ENOENT},
	    {0, "acquire", "b1", 0},
	};
	struct queue *q;
	size_t i;

	fresh_db("leases");
	q = open_q();
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int err;

		clock_ms += steps[i].advance;
		if (!strcmp(steps[i].op, "acquire"))
			err = queue_lease_acquire(q, "sip-presence",
			                          steps[i].owner, 1000);
		else
			err = queue_lease_release(q, "sip-presence",
			                          steps[i].owner);
		if (err != steps[i].err)
			fprintf(stderr, "lease step %zu\n", i);
		CHECK_INT(err, steps[i].err);
	}
	queue_close(q);
}

static int reg_count_cb(const struct queue_registration *r, void *arg)
{
	int *n = arg;

	(void)r;
	(*n)++;
	return 0;
}

static int gate_seen(const struct queue_registration *r, void *arg)
{
	int *n = arg;

	*n += r->gate == QUEUE_GATE_ON;
	return 0;
}

/* The user's gate: each value round-trips through a registration and a
 * job; anything else is refused; "default" is stored as no value. */
static void test_gate(void)
{
	static const int gates[] = {QUEUE_GATE_DEFAULT, QUEUE_GATE_OFF,
	                            QUEUE_GATE_ON};
	struct queue *q;
	struct queue_registration r = {0}, out = {0};
	struct queue_message_in m;
	struct queue_job *job = NULL;
	char key[16];
	int64_t id = 0;
	int n = 0;

	fresh_db("gate");
	q = open_q();
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.quiet_start = r.quiet_end = -1;
	for (size_t i = 0; i < sizeof(gates) / sizeof(gates[0]); i++) {
		r.gate = gates[i];
		CHECK_INT(queue_registration_put(q, &r), 0);
		CHECK_INT(queue_registration_get(q, r.jid, &out), 0);
		CHECK_INT(out.gate, gates[i]);
		queue_registration_clear(&out);

		snprintf(key, sizeof(key), "g%zu", i);
		m = msg("bob@example.org", key, key, "hello");
		m.gate = gates[i];
		CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
		CHECK_INT(queue_job_get(q, id, &job), 0);
		if (job)
			CHECK_INT(job->gate, gates[i]);
		queue_job_free(job);
		job = NULL;
	}
	/* The listing reads the column too. */
	CHECK_INT(queue_registration_foreach(q, gate_seen, &n), 0);
	CHECK_INT(n, 1);
	/* A verification job has no gate. */
	CHECK_INT(queue_verify_enqueue(q, r.jid, r.phone, "123456", NULL, &id),
	          0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job)
		CHECK_INT(job->gate, QUEUE_GATE_DEFAULT);
	queue_job_free(job);

	r.gate = 2;
	CHECK_INT(queue_registration_put(q, &r), -EINVAL);
	r.gate = -2;
	CHECK_INT(queue_registration_put(q, &r), -EINVAL);
	m = msg("bob@example.org", "dave@example.org", "bad", "hello");
	m.gate = 2;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), -EINVAL);
	queue_close(q);
}

/* Further numbers (migration 008): each with its own verified flag
 * through a registration; a job keeps its list in order, its follow-up job
 * too; a verification job has one number; an over-long number is refused. */
static void test_more_numbers(void)
{
	struct queue *q;
	struct queue_registration r = {0}, out = {0};
	struct queue_message_in m;
	struct queue_job *job = NULL, *next = NULL;
	char big[QUEUE_TOKEN_MAX + 2];
	int64_t id = 0;

	fresh_db("numbers");
	q = open_q();
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.verified = true;
	r.phone_more[0] = "sip:bob@pbx.example.org";
	r.verified_more[0] = true;
	r.phone_more[1] = "+15557654321";
	r.quiet_start = r.quiet_end = -1;
	r.gate = QUEUE_GATE_DEFAULT;
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(queue_registration_get(q, r.jid, &out), 0);
	CHECK_STR(out.phone_more[0], "sip:bob@pbx.example.org");
	CHECK_STR(out.phone_more[1], "+15557654321");
	CHECK(out.verified_more[0]);
	CHECK(!out.verified_more[1]);
	queue_registration_clear(&out);
	/* A removed number is gone, and its flag with it. */
	r.phone_more[1] = NULL;
	r.verified_more[1] = true;
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(queue_registration_get(q, r.jid, &out), 0);
	CHECK(out.phone_more[1] == NULL);
	CHECK(!out.verified_more[1]);
	queue_registration_clear(&out);

	m = msg("bob@example.org", "alice@example.org", "n1", "hello");
	m.destination_more[0] = "sip:bob@pbx.example.org";
	m.destination_more[1] = "+15557654321";
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(queue_job_destinations(job), 3);
		CHECK_STR(queue_job_destination_at(job, 0), "+15551234567");
		CHECK_STR(queue_job_destination_at(job, 1),
		          "sip:bob@pbx.example.org");
		CHECK_STR(queue_job_destination_at(job, 2), "+15557654321");
	}
	queue_job_free(job);
	job = NULL;
	/* A message that joined after the job was finished moves to a
	 * follow-up job with the same numbers. */
	CHECK_INT(queue_job_claim(q, "b1", 60000, &job, NULL), 0);
	m = msg("bob@example.org", "alice@example.org", "n2", "again");
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
	if (job) {
		CHECK_INT(queue_event_add(q, job->id, QUEUE_EV_HEARD, "1", NULL,
		                          0, NULL),
		          0);
		CHECK_INT(queue_job_finish(q, job->id, "b1", QUEUE_JOB_NOTIFIED,
		                           NULL),
		          0);
	}
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b1", 60000, &next, NULL), 0);
	if (next) {
		CHECK_INT(queue_job_destinations(next), 3);
		CHECK_STR(queue_job_destination_at(next, 2), "+15557654321");
	}
	queue_job_free(next);

	/* One further number: the list ends there. */
	m = msg("bob@example.org", "carol@example.org", "n3", "hi");
	m.destination_more[0] = "+15557654321";
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), 0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		CHECK_INT(queue_job_destinations(job), 2);
		CHECK_STR(queue_job_destination_at(job, 1), "+15557654321");
	}
	queue_job_free(job);
	job = NULL;
	CHECK_INT(
	    queue_verify_enqueue(q, r.jid, "+15557654321", "123456", NULL, &id),
	    0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job)
		CHECK_INT(queue_job_destinations(job), 1);
	queue_job_free(job);

	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r.phone_more[1] = big;
	CHECK_INT(queue_registration_put(q, &r), -EINVAL);
	m = msg("bob@example.org", "dave@example.org", "n4", "hi");
	m.destination_more[0] = big;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &id, NULL), -EINVAL);
	queue_close(q);
}

/* "Wait, then call, unless already seen" (migration 009): a job waits
 * until its not_before; while in its wait, the callee coming online
 * cancels it without an event; a job past its wait, an active one, and
 * another callee's are left alone; the registration's wait, senders and
 * quiet mode round-trip, and values out of range are refused. */
static void test_wait_seen(void)
{
	struct queue *q;
	struct queue_registration r = {0}, out = {0};
	struct queue_message_in m;
	struct queue_job *job = NULL;
	struct queue_event *evs = NULL;
	size_t n_ev = 0;
	int64_t waiting = 0, past = 0, other = 0, active = 0, next = 0;
	int n = -1;

	fresh_db("wait");
	q = open_q();
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.quiet_start = r.quiet_end = -1;
	r.gate = QUEUE_GATE_DEFAULT;
	r.wait_minutes = 5;
	r.ring_through = "alice@example.org\nexample.net";
	r.quiet_mode = QUEUE_QUIET_DROP;
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(queue_registration_get(q, r.jid, &out), 0);
	CHECK_INT(out.wait_minutes, 5);
	CHECK_STR(out.ring_through, "alice@example.org\nexample.net");
	CHECK_INT(out.quiet_mode, QUEUE_QUIET_DROP);
	queue_registration_clear(&out);
	r.wait_minutes = QUEUE_WAIT_MINUTES_MAX + 1;
	CHECK_INT(queue_registration_put(q, &r), -EINVAL);
	r.wait_minutes = 0;
	r.quiet_mode = 2;
	CHECK_INT(queue_registration_put(q, &r), -EINVAL);

	/* One in its wait, due in 5 minutes. */
	m = msg("bob@example.org", "alice@example.org", "w1", "hello");
	m.not_before_ms = clock_ms + 300000;
	m.seen_until_ms = clock_ms + 300000;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &waiting, NULL), 0);
	CHECK_INT(queue_job_get(q, waiting, &job), 0);
	if (job) {
		CHECK(job->not_before_ms == clock_ms + 300000);
		CHECK(job->seen_until_ms == clock_ms + 300000);
	}
	queue_job_free(job);
	job = NULL;
	/* Not due yet: nothing to claim. */
	CHECK_INT(queue_job_claim(q, "b1", 60000, &job, &next), -EAGAIN);
	CHECK(next == clock_ms + 300000);
	/* A message in the wait joins it. */
	m = msg("bob@example.org", "alice@example.org", "w2", "again");
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &other, NULL), 0);
	CHECK(other == waiting);
	/* One whose wait is over (a retry, say), one of another callee, and
	 * one being called. */
	m = msg("bob@example.org", "carol@example.org", "w3", "hi");
	m.seen_until_ms = clock_ms - 1;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &past, NULL), 0);
	m = msg("bob@example.org", "erin@example.org", "w5", "hi");
	m.seen_until_ms = clock_ms + 300000;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &active, NULL), 0);
	m = msg("dave@example.org", "alice@example.org", "w4", "hi");
	m.seen_until_ms = clock_ms + 300000;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &other, NULL), 0);
	CHECK_INT(queue_job_claim(q, "b1", 60000, &job, NULL), 0);
	/* Claimed first: the oldest due job is carol's (past its wait). */
	if (job)
		CHECK(job->id == past);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_claim(q, "b1", 60000, &job, NULL), 0);
	if (job)
		CHECK(job->id == active);
	queue_job_free(job);
	job = NULL;

	CHECK_INT(queue_job_cancel_seen(q, "bob@example.org", &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(queue_job_get(q, waiting, &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_CANCELLED);
		CHECK_STR(job->last_reason, "seen during the wait");
		CHECK_INT((int)job->n_messages, 2);
	}
	queue_job_free(job);
	job = NULL;
	/* Silent: no event for the sender. */
	CHECK_INT(queue_event_fetch_for_job(q, waiting, &evs, &n_ev), 0);
	CHECK_INT((int)n_ev, 0);
	queue_event_array_free(evs, n_ev);
	CHECK_INT(queue_job_get(q, other, &job), 0);
	if (job)
		CHECK(job->state != QUEUE_JOB_CANCELLED);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_job_get(q, past, &job), 0);
	if (job)
		CHECK_INT(job->state, QUEUE_JOB_ACTIVE);
	queue_job_free(job);
	/* Again: nothing left in a wait. */
	CHECK_INT(queue_job_cancel_seen(q, "bob@example.org", &n), 0);
	CHECK_INT(n, 0);

	m = msg("bob@example.org", "frank@example.org", "w6", "hi");
	m.seen_until_ms = -1;
	CHECK_INT(queue_message_enqueue(q, &m, NULL, &other, NULL), -EINVAL);
	queue_close(q);
}

static void test_registrations(void)
{
	struct queue *q;
	struct queue_registration r = {0}, out;
	int n = 0;

	fresh_db("regs");
	q = open_q();
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.verified = true;
	r.tz = "Europe/Paris";
	r.quiet_start = 22 * 60;
	r.quiet_end = 7 * 60;
	r.push_node = "0123abcd";
	CHECK_INT(queue_registration_put(q, &r), 0);
	clock_ms += 1000;
	r.phone = "sip:bob@pbx.example.org";
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(queue_registration_get(q, "bob@example.org", &out), 0);
	CHECK_STR(out.phone, "sip:bob@pbx.example.org");
	CHECK_INT(out.created_ms, T0);
	CHECK_INT(out.updated_ms, T0 + 1000);
	CHECK_INT(out.quiet_start, 22 * 60);
	CHECK(out.verified);
	CHECK(out.lang == NULL);
	queue_registration_clear(&out);
	CHECK_INT(queue_registration_get_by_node(q, "0123abcd", &out), 0);
	CHECK_STR(out.jid, "bob@example.org");
	queue_registration_clear(&out);

	/* A push node is one user's. */
	r.jid = "carol@example.org";
	CHECK_INT(queue_registration_put(q, &r), -EEXIST);
	r.push_node = NULL;
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(queue_registration_foreach(q, reg_count_cb, &n), 0);
	CHECK_INT(n, 2);
	CHECK_INT(queue_registration_delete(q, "carol@example.org"), 0);
	CHECK_INT(queue_registration_delete(q, "carol@example.org"), -ENOENT);
	CHECK_INT(queue_registration_get(q, "carol@example.org", &out),
	          -ENOENT);
	queue_close(q);
}

/* ---- two processes, wake-ups, batches ------------------------------------ */

#define PER_WRITER 200

static int write_many(struct queue *q, const char *tag)
{
	char key[32], sender[32];
	int i, err;

	for (i = 0; i < PER_WRITER; i++) {
		snprintf(key, sizeof(key), "%s-%d", tag, i);
		snprintf(sender, sizeof(sender), "%s%d@example.org", tag, i);
		err = enqueue(q, "bob@example.org", sender, key, NULL, NULL,
		              NULL);
		if (err)
			return err;
	}
	return 0;
}

static void test_two_processes(void)
{
	struct queue *q, *q2;
	struct queue_job *job = NULL;
	int status = -1, err, claimed = 0;
	pid_t pid;

	fresh_db("two");
	q = open_q();
	pid = fork();
	if (pid == 0) {
		struct queue *c = NULL;

		if (queue_open(&c, url))
			_exit(2);
		queue_clock_set(c, fake_now, NULL);
		err = write_many(c, "child");
		queue_close(c);
		_exit(err ? 1 : 0);
	}
	CHECK_INT(write_many(q, "parent"), 0);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(count_jobs(q), 2 * PER_WRITER);

	/* Two handles claiming in turn never get the same job. */
	q2 = open_q();
	clock_ms += 1;
	for (;;) {
		err = queue_job_claim(claimed % 2 ? q2 : q, "b", 60000, &job,
		                      NULL);
		if (err)
			break;
		claimed++;
		queue_job_free(job);
	}
	CHECK_INT(err, -EAGAIN);
	CHECK_INT(claimed, 2 * PER_WRITER);
	queue_close(q2);
	queue_close(q);
}

/*
 * Four processes catching messages for one pair at once make one job with
 * all of them, numbered without a gap: each enqueue decides (join or open)
 * after the one before it committed. On PostgreSQL that is the callee's
 * lock, taken in a statement before the reads: a read in the statement
 * that waited for the lock would use a snapshot from before the wait and
 * open a second job (the callee phoned twice). Verification calls queued
 * at once leave one to be made, the newest.
 */
static int job_count_cb(const struct queue_job *job, void *arg)
{
	(void)job;
	++*(int *)arg;
	return 0;
}

#define PAIR_WRITERS    4
#define PAIR_PER_WRITER 25

static void test_one_pair_at_once(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	struct queue_job_filter unfinished_carol = {
	    .callee_jid = "carol@example.org",
	    .unfinished_only = true,
	    .limit = 1000,
	};
	int status = -1, n = 0, n_open = 0, go[2];
	pid_t pids[PAIR_WRITERS];
	int64_t id = 0;
	char c = 0;

	fresh_db("pair");
	q = open_q();
	CHECK_INT(pipe(go), 0);
	for (int w = 0; w < PAIR_WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			struct queue *qc = NULL;
			char key[32];
			int64_t vid = 0;
			int err = queue_open(&qc, url);

			close(go[1]);
			if (err || read(go[0], &c, 1) != 0)
				_exit(2);
			queue_clock_set(qc, fake_now, NULL);
			for (int i = 0; !err && i < PAIR_PER_WRITER; i++) {
				snprintf(key, sizeof(key), "w%d-%d", w, i);
				err = enqueue(qc, "bob@example.org",
				              "alice@example.org", key, NULL,
				              NULL, NULL);
				/* And codes for carol: the newest only. */
				if (!err)
					err = queue_verify_enqueue(
					    qc, "carol@example.org",
					    "+15550000000", "123456", NULL,
					    &vid);
			}
			queue_close(qc);
			_exit(err ? 1 : 0);
		}
	}
	close(go[0]);
	close(go[1]); /* everyone starts at once */
	for (int w = 0; w < PAIR_WRITERS; w++) {
		CHECK_INT(waitpid(pids[w], &status, 0), pids[w]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	CHECK_INT(count_jobs(q), 1);
	CHECK_INT(queue_jobs_created_since(q, "carol@example.org", NULL, 0, &n),
	          0);
	CHECK_INT(n, PAIR_WRITERS * PAIR_PER_WRITER);
	CHECK_INT(
	    queue_job_foreach(q, &unfinished_carol, job_count_cb, &n_open), 0);
	CHECK_INT(n_open, 1);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "last",
	                  NULL, &id, NULL),
	          0);
	CHECK_INT(queue_job_get(q, id, &job), 0);
	if (job) {
		n = (int)job->n_messages;
		CHECK_INT(n, PAIR_WRITERS * PAIR_PER_WRITER + 1);
		for (int i = 0; i < n; i++)
			CHECK_INT(job->messages[i].seq, i + 1);
	}
	queue_job_free(job);
	queue_close(q);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

static int wake_dir_count(void)
{
	char path[256], cmd[300];
	FILE *f;
	int n = -1;

	snprintf(path, sizeof(path), "%s.wake", dbpath);
	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '\\.sock$'", path);
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		pclose(f);
	}
	return n;
}

static void test_wake(void)
{
	struct queue *bridge, *comp, *writer;
	unsigned ch = 0;
	int fd_b = -1, fd_c = -1, fd2 = -1;
	int64_t id = 0;

	fresh_db("wake");
	bridge = open_q();
	comp = open_q();
	writer = open_q();
	CHECK_INT(queue_wake_listen(bridge, QUEUE_CH_JOBS, &fd_b), 0);
	CHECK_INT(queue_wake_listen(comp, QUEUE_CH_EVENTS, &fd_c), 0);
	CHECK(!readable(fd_b, 0));

	/* A new job wakes the bridge, not the component. */
	CHECK_INT(enqueue(writer, "bob@example.org", "alice@example.org", "k1",
	                  NULL, &id, NULL),
	          0);
	CHECK(readable(fd_b, 1000));
	CHECK(!readable(fd_c, 0));
	CHECK_INT(queue_wake_drain(bridge, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_JOBS);
	CHECK(!readable(fd_b, 0));
	CHECK_INT(queue_wake_drain(bridge, &ch), 0);
	CHECK_INT(ch, 0);

	/* An event wakes the component; its own writes do not wake it. */
	CHECK_INT(queue_event_add(writer, id, QUEUE_EV_KEY, "1", NULL, 0, NULL),
	          0);
	CHECK(readable(fd_c, 1000));
	CHECK_INT(queue_wake_drain(comp, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_EVENTS);
	CHECK_INT(queue_event_add(comp, id, QUEUE_EV_KEY, "2", NULL, 0, NULL),
	          0);
	CHECK(!readable(fd_c, 0));

	/* Widening the mask keeps the descriptor. */
	CHECK_INT(queue_wake_listen(comp, QUEUE_CH_REGISTRATIONS, &fd2), 0);
	CHECK_INT(fd2, fd_c);
	CHECK_INT(queue_notify(writer, QUEUE_CH_REGISTRATIONS), 0);
	CHECK(readable(fd_c, 1000));
	CHECK_INT(queue_wake_drain(comp, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_REGISTRATIONS);
	queue_close(comp);
	queue_close(bridge);
	queue_close(writer);
}

/* SQLite's wake-up socket directory: its mode, its clean-up. */
static void test_wake_sqlite_dir(void)
{
	struct queue *bridge, *comp, *writer;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd_b = -1, fd_c = -1, s;
	struct stat st;
	char wdir[80];

	fresh_db("wake-dir");
	bridge = open_q();
	comp = open_q();
	writer = open_q();
	CHECK_INT(queue_wake_listen(bridge, QUEUE_CH_JOBS, &fd_b), 0);
	CHECK_INT(queue_wake_listen(comp, QUEUE_CH_EVENTS, &fd_c), 0);
	snprintf(wdir, sizeof(wdir), "%s.wake", dbpath);
	CHECK_INT(stat(wdir, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0700);

	/* A crashed listener's socket is cleaned up by the next notify. */
	s = socket(AF_UNIX, SOCK_DGRAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/f-1-dead.sock", wdir);
	CHECK_INT(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(s);
	CHECK_INT(wake_dir_count(), 3);
	CHECK_INT(queue_notify(writer, QUEUE_CH_PRESENCE), 0);
	CHECK_INT(wake_dir_count(), 2);

	/* Closing removes the handle's own socket. */
	queue_close(comp);
	CHECK_INT(wake_dir_count(), 1);
	queue_close(bridge);
	CHECK_INT(wake_dir_count(), 0);
	queue_close(writer);
}

/* sun_path holds 108 bytes; a deeper database still gets wake-ups. */
static void test_wake_long_path(void)
{
	char sub[200], path[260], lurl[280];
	struct queue *a = NULL, *b = NULL;
	unsigned ch = 0;
	int fd = -1;

	snprintf(sub, sizeof(sub), "%s/%0120d", dir, 0);
	CHECK_INT(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/long.db", sub);
	snprintf(lurl, sizeof(lurl), "sqlite:%s", path);
	CHECK_INT(queue_open(&a, lurl), 0);
	CHECK_INT(queue_open(&b, lurl), 0);
	if (!a || !b)
		goto out;
	CHECK_INT(queue_wake_listen(a, QUEUE_CH_PRESENCE, &fd), 0);
	CHECK_INT(queue_presence_set(b, "bob@example.org", "sip", "idle", NULL),
	          0);
	CHECK(readable(fd, 1000));
	CHECK_INT(queue_wake_drain(a, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_PRESENCE);
out:
	queue_close(a);
	queue_close(b);
}

static void test_batch(void)
{
	struct queue *q, *listener;
	struct queue_registration r = {0};
	char key[32], sender[48];
	unsigned ch = 0;
	int fd = -1, i, n = 0, err = 0;

	fresh_db("batch");
	q = open_q();
	listener = open_q();
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.push_node = "node-1";
	CHECK_INT(queue_registration_put(q, &r), 0);
	CHECK_INT(
	    queue_wake_listen(listener, QUEUE_CH_JOBS | QUEUE_CH_EVENTS, &fd),
	    0);
	CHECK_INT(queue_batch_begin(q), 0);
	CHECK_INT(queue_batch_begin(q), -EBUSY);
	for (i = 0; i < 1000 && !err; i++) {
		snprintf(key, sizeof(key), "b-%d", i);
		snprintf(sender, sizeof(sender), "s%d@example.org", i % 300);
		err = enqueue(q, "bob@example.org", sender, key, NULL, NULL,
		              NULL);
		/* A failed call leaves the batch usable. */
		if (i == 500)
			CHECK_INT(queue_event_add(q, 99999, QUEUE_EV_KEY, "1",
			                          NULL, 0, NULL),
			          -ENOENT);
		/* So does a statement the database refuses (bob's push
		 * node), which on PostgreSQL aborts the transaction but for
		 * the call's savepoint. */
		if (i == 600) {
			r.jid = "carol@example.org";
			CHECK_INT(queue_registration_put(q, &r), -EEXIST);
			r.push_node = NULL;
			CHECK_INT(queue_registration_put(q, &r), 0);
		}
	}
	CHECK_INT(err, 0);
	/* Not visible, and nobody woken, before the commit. */
	CHECK_INT(count_jobs(listener), 0);
	CHECK(!readable(fd, 0));
	CHECK_INT(queue_batch_commit(q), 0);
	CHECK_INT(count_jobs(listener), 300);
	CHECK_INT(queue_registration_foreach(listener, reg_count_cb, &n), 0);
	CHECK_INT(n, 2);
	CHECK(readable(fd, 1000));
	CHECK_INT(queue_wake_drain(listener, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_JOBS);

	/* A rolled-back batch leaves nothing. */
	CHECK_INT(queue_batch_begin(q), 0);
	CHECK_INT(enqueue(q, "bob@example.org", "new@example.org", "r1", NULL,
	                  NULL, NULL),
	          0);
	queue_batch_rollback(q);
	CHECK_INT(count_jobs(q), 300);
	CHECK(!readable(fd, 0));
	CHECK_INT(queue_batch_commit(q), -EINVAL);
	queue_close(listener);
	queue_close(q);
}

/*
 * A replayable batch (the component's store, the bridge's writer): where
 * savepoints are cheap (SQLite) a failed call is undone alone, as in any
 * batch; where they are not (PostgreSQL) the calls after it are refused and
 * the commit asks for the calls again one by one, committing nothing.
 */
static void test_batch_replayable(void)
{
	struct queue_registration r = {0};
	struct queue *q;
	bool cheap;
	int n = 0, err;

	fresh_db("batch_replayable");
	q = open_q();
	cheap = !strcmp(engine->name, "sqlite");
	r.jid = "bob@example.org";
	r.phone = "+15551234567";
	r.push_node = "node-1";
	CHECK_INT(queue_registration_put(q, &r), 0);

	CHECK_INT(queue_batch_begin_replayable(q), 0);
	CHECK_INT(queue_batch_begin_replayable(q), -EBUSY);
	CHECK_INT(enqueue(q, "bob@example.org", "a@example.org", "k-1", NULL,
	                  NULL, NULL),
	          0);
	r.jid = "carol@example.org";
	CHECK_INT(queue_registration_put(q, &r), -EEXIST);
	r.push_node = NULL;
	err = queue_registration_put(q, &r);
	CHECK_INT(err, cheap ? 0 : -ECANCELED);
	CHECK_INT(queue_batch_commit(q), cheap ? 0 : -ERESTART);
	CHECK_INT(count_jobs(q), cheap ? 1 : 0);
	CHECK_INT(queue_registration_foreach(q, reg_count_cb, &n), 0);
	CHECK_INT(n, cheap ? 2 : 1);
	CHECK_INT(queue_batch_commit(q), -EINVAL);

	/* A refusal before any write (a lease another holds) is no failure
	 * of the batch: it commits as any batch. */
	CHECK_INT(queue_lease_acquire(q, "presence", "bridge-a", 60000), 0);
	CHECK_INT(queue_batch_begin_replayable(q), 0);
	CHECK_INT(enqueue(q, "bob@example.org", "b@example.org", "k-2", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_lease_acquire(q, "presence", "bridge-b", 60000),
	          -EPERM);
	CHECK_INT(enqueue(q, "bob@example.org", "c@example.org", "k-3", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_batch_commit(q), 0);
	CHECK_INT(count_jobs(q), cheap ? 3 : 2);
	queue_close(q);
}

static int job_list_cb(const struct queue_job *job, void *arg)
{
	int64_t *last = arg;

	CHECK(job->id > *last);
	*last = job->id;
	return 0;
}

static void test_job_foreach(void)
{
	struct queue_job_filter f = {.callee_jid = "bob@example.org"};
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t last = 0;
	char key[16], sender[32];
	int i;

	fresh_db("foreach");
	q = open_q();
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(sender, sizeof(sender), "s%d@example.org", i);
		CHECK_INT(enqueue(q, "bob@example.org", sender, key, NULL, NULL,
		                  NULL),
		          0);
	}
	CHECK_INT(queue_job_claim(q, "b", 1000, &job, NULL), 0);
	if (job)
		CHECK_INT(
		    queue_job_finish(q, job->id, "b", QUEUE_JOB_FAILED, "x"),
		    0);
	queue_job_free(job);
	CHECK_INT(queue_job_foreach(q, &f, job_list_cb, &last), 0);
	CHECK_INT(last, 5);
	f.limit = 2;
	last = 3;
	CHECK_INT(queue_job_foreach(q, &f, job_list_cb, &last), 0);
	CHECK_INT(last, 5);
	f.limit = 0;
	f.finished_only = true;
	last = 0;
	CHECK_INT(queue_job_foreach(q, &f, job_list_cb, &last), 0);
	CHECK_INT(last, 1);
	queue_close(q);
}

static void sqlite_own_cases(void)
{
	test_open_sqlite();
	test_wake_sqlite_dir();
	test_wake_long_path();
}

/* ---- PostgreSQL --------------------------------------------------------- */

/* Runs SQL on the database CONNINFO names; 0 when it succeeded. */
static int pg_run(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "test_queue: %s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	     PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		fprintf(stderr, "test_queue: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* Runs SQL on the cluster's maintenance database; 0 when it succeeded. */
static int pg_admin(const char *sql)
{
	const char *base = getenv("RB_TEST_PG_URL");

	if (!base) {
		fprintf(stderr, "test_queue: RB_TEST_PG_URL is not set (run "
		                "under rbpostgres.py)\n");
		return -1;
	}
	return pg_run(base, sql);
}

/* Runs SQL on the database at URL; 0 when it succeeded. */
static int pg_exec(const char *sql)
{
	return pg_run(url, sql);
}

/* URL of database NAME in the cluster (RB_TEST_PG_URL ends in "/db"). */
static void pg_url(const char *name, char *buf, size_t size)
{
	const char *base = getenv("RB_TEST_PG_URL");
	const char *slash = base ? strrchr(base, '/') : NULL;
	int n = slash ? (int)(slash - base) : 0;

	snprintf(buf, size, "%.*s/rb_%s", n, base ? base : "", name);
	for (char *p = strrchr(buf, '/') + 1; *p; p++)
		if (*p == '-')
			*p = '_';
}

static void pg_fresh(const char *name)
{
	char sql[128], db[64];

	snprintf(db, sizeof(db), "rb_%s", name);
	for (char *p = db; *p; p++)
		if (*p == '-')
			*p = '_';
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", db);
	CHECK_INT(pg_admin(sql), 0);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
	CHECK_INT(pg_admin(sql), 0);
	pg_url(name, url, sizeof(url));
}

/* Two processes opening an empty database at once: the migrations run
 * once (the advisory lock), both open it at the latest version. */
static void test_pg_migrate_race(void)
{
	pid_t pids[4];
	int status, v = 0;
	size_t i;
	struct queue *q;

	fresh_db("pg-race");
	for (i = 0; i < 4; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct queue *c = NULL;
			int err = queue_open(&c, url);

			queue_close(c);
			_exit(err ? 1 : 0);
		}
	}
	for (i = 0; i < 4; i++) {
		CHECK_INT(waitpid(pids[i], &status, 0), pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	q = open_q();
	CHECK_INT(queue_schema_version(q, &v), 0);
	CHECK_INT(v, SCHEMA_LATEST);
	queue_close(q);
}

/* A schema newer than this build is refused, not written to. */
static void test_pg_newer_schema(void)
{
	struct queue *q = NULL;

	fresh_db("pg-newer");
	q = open_q();
	queue_close(q);
	q = NULL;
	CHECK_INT(pg_exec("UPDATE schema_version SET version = 99"), 0);
	CHECK_INT(queue_open(&q, url), -EPROTO);
	CHECK(q == NULL);
}

/* The password: from [queue] password_file when the URL has none; a file
 * others can read is refused; a wrong one fails to connect. PGPASSFILE
 * (set by rbpostgres.py) is what the other cases use. */
static void test_pg_password_file(void)
{
	const char *pgpass = getenv("PGPASSFILE");
	char path[96], line[256], *pw;
	struct queue *q = NULL;
	FILE *f;

	fresh_db("pg-password");
	CHECK(pgpass != NULL);
	if (!pgpass)
		return;
	f = fopen(pgpass, "r");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK(fgets(line, sizeof(line), f) != NULL);
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	pw = strrchr(line, ':') + 1;

	snprintf(path, sizeof(path), "%s/pgpassword", dir);
	f = fopen(path, "w");
	fprintf(f, "%s\n", pw);
	fclose(f);
	CHECK_INT(chmod(path, 0644), 0);
	unsetenv("PGPASSFILE");
	CHECK_INT(queue_password_file_set(path), 0);
	CHECK_INT(queue_open(&q, url), -EPERM);
	CHECK_INT(chmod(path, 0600), 0);
	CHECK_INT(queue_open(&q, url), 0);
	queue_close(q);
	q = NULL;

	f = fopen(path, "w");
	fprintf(f, "wrong\n");
	fclose(f);
	CHECK_INT(queue_open(&q, url), -EIO);
	CHECK_INT(queue_password_file_set(NULL), 0);
	setenv("PGPASSFILE", pgpass, 1);
	unlink(path);
}

/* Leases and claims on the database's clock: without a test clock, a
 * claimed job's deadline is the server's now() plus the lease. */
static void test_pg_clock(void)
{
	struct queue *q = NULL;
	struct queue_job *job = NULL;
	int64_t t0, t1;

	fresh_db("pg-clock");
	CHECK_INT(queue_open(&q, url), 0);
	if (!q)
		return;
	t0 = queue_now_ms(q);
	CHECK(t0 > T0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL), 0);
	t1 = queue_now_ms(q);
	if (job) {
		CHECK(job->lease_deadline_ms >= t0 + 60000);
		CHECK(job->lease_deadline_ms <= t1 + 60000);
		queue_job_free(job);
	}
	queue_close(q);
}

/* The server dropped the handle's connections (as a restart does): the
 * call that finds out fails, the next one reconnects; the wake-up
 * descriptor stays the same, wakes the loop for the listener's retry,
 * reports every channel once it is back (what was notified meanwhile is
 * lost), then works as before. */
static void test_pg_reconnect(void)
{
	struct queue *q = NULL, *w = NULL;
	unsigned ch = 0;
	int fd = -1, fd2 = -1, err, i;
	int64_t id = 0;

	fresh_db("pg-reconnect");
	q = open_q();
	w = open_q();
	CHECK_INT(queue_wake_listen(q, QUEUE_CH_JOBS, &fd), 0);
	CHECK_INT(pg_admin("SELECT pg_terminate_backend(pid) FROM "
	                   "pg_stat_activity WHERE datname = 'rb_pg_reconnect' "
	                   "AND pid <> pg_backend_pid()"),
	          0);
	/* The first call may learn of it (-EIO); the next reconnects. */
	err = enqueue(q, "bob@example.org", "alice@example.org", "r1", NULL,
	              &id, NULL);
	if (err)
		CHECK_INT(err, -EIO);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "r2", NULL,
	                  &id, NULL),
	          0);
	/* The dead listening socket, then the retry timer (0.5 s). */
	for (i = 0; i < 3 && !(ch & QUEUE_CH_JOBS); i++) {
		CHECK(readable(fd, 2000));
		CHECK_INT(queue_wake_drain(q, &ch), 0);
	}
	CHECK_INT(ch, QUEUE_CH_JOBS);
	CHECK(!readable(fd, 0));
	CHECK_INT(queue_wake_listen(q, QUEUE_CH_JOBS, &fd2), 0);
	CHECK_INT(fd2, fd);

	/* The writer reconnects too, and its wake-up arrives. */
	err = enqueue(w, "carol@example.org", "alice@example.org", "r3", NULL,
	              &id, NULL);
	if (err)
		CHECK_INT(enqueue(w, "carol@example.org", "alice@example.org",
		                  "r3", NULL, &id, NULL),
		          0);
	CHECK(readable(fd, 1000));
	CHECK_INT(queue_wake_drain(q, &ch), 0);
	CHECK_INT(ch, QUEUE_CH_JOBS);
	CHECK_INT(count_jobs(q), 1);
	queue_close(w);
	queue_close(q);
}

static void pg_own_cases(void)
{
	test_pg_reconnect();
	test_pg_migrate_race();
	test_pg_newer_schema();
	test_pg_password_file();
	test_pg_clock();
}

static const struct engine_under_test engines[] = {
    {"sqlite", sqlite_fresh, sqlite_own_cases, sqlite_exec},
    {"postgresql", pg_fresh, pg_own_cases, pg_exec},
};

/* The jobs by state, for the component's ringbridge_queue_jobs: an empty
 * queue counts zeros, then each state as jobs move. */
/* Archive marks (component/missed.c): none until put, replaced by the next
 * put; what the queue accounts for: the newest caught message of the
 * callee, or the newest delivered outcome of its jobs. */
static void test_archive_marks(void)
{
	struct queue_archive_mark m = {0};
	struct queue *q;
	int64_t id = 0, ev = 0, acc = -1;

	fresh_db("archive_marks");
	q = open_q();
	CHECK_INT(queue_archive_mark_get(q, "bob@example.org", &m), -ENOENT);
	CHECK_INT(queue_archive_mark_put(q, "bob@example.org", "a-1", 1000), 0);
	CHECK_INT(queue_archive_mark_put(q, "bob@example.org", "b-2", 2000), 0);
	CHECK_INT(queue_archive_mark_put(q, "bob@example.org", "", 2000),
	          -EINVAL);
	CHECK_INT(queue_archive_mark_get(q, "bob@example.org", &m), 0);
	CHECK_STR(m.end_id, "b-2");
	CHECK_INT(m.end_ms, 2000);
	CHECK_INT(m.checked_ms, clock_ms);
	queue_archive_mark_clear(&m);

	CHECK_INT(queue_archive_accounted(q, "bob@example.org", &acc), 0);
	CHECK_INT(acc, 0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(queue_archive_accounted(q, "bob@example.org", &acc), 0);
	CHECK_INT(acc, clock_ms);
	CHECK_INT(queue_archive_accounted(q, "carol@example.org", &acc), 0);
	CHECK_INT(acc, 0);
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "1", NULL, 0, &ev), 0);
	clock_ms += 5000;
	CHECK_INT(queue_event_mark_delivered(q, &ev, 1), 0);
	CHECK_INT(queue_archive_accounted(q, "bob@example.org", &acc), 0);
	CHECK_INT(acc, clock_ms);
	queue_close(q);
}

static void test_count_by_state(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	int64_t counts[QUEUE_JOB_STATES], id = 0;

	fresh_db("count_by_state");
	q = open_q();
	counts[0] = 99;
	CHECK_INT(queue_jobs_count_by_state(q, counts), 0);
	for (int i = 0; i < QUEUE_JOB_STATES; i++)
		CHECK_INT(counts[i], 0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  &id, NULL),
	          0);
	CHECK_INT(enqueue(q, "bob@example.org", "carol@example.org", "k2", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_jobs_count_by_state(q, counts), 0);
	CHECK_INT(counts[QUEUE_JOB_QUEUED], 2);
	CHECK_INT(queue_job_claim(q, "b1", 1000, &job, NULL), 0);
	queue_job_free(job);
	CHECK_INT(queue_jobs_count_by_state(q, counts), 0);
	CHECK_INT(counts[QUEUE_JOB_QUEUED], 1);
	CHECK_INT(counts[QUEUE_JOB_ACTIVE], 1);
	CHECK_INT(queue_job_finish(q, id, "b1", QUEUE_JOB_NOTIFIED, NULL), 0);
	CHECK_INT(queue_jobs_count_by_state(q, counts), 0);
	CHECK_INT(counts[QUEUE_JOB_ACTIVE], 0);
	CHECK_INT(counts[QUEUE_JOB_NOTIFIED], 1);
	CHECK_INT(counts[QUEUE_JOB_FAILED] + counts[QUEUE_JOB_CANCELLED], 0);
	CHECK_INT(queue_jobs_count_by_state(NULL, counts), -EINVAL);
	queue_close(q);
}

static int reg_jids_cb(const struct queue_registration *r, void *arg)
{
	GString *g = arg;

	g_string_append_printf(g, "%s%s", g->len ? "," : "", r->jid);
	return 0;
}

/* The status page's reads: a search that takes '%' and '_' literally and
 * folds ASCII case, the lease holder, calls per hour. */
static void test_status_reads(void)
{
	static const char *const jids[] = {"a_b@example.org", "axb@example.org",
	                                   "carol@example.org",
	                                   "dave%x@example.org"};
	struct queue_registration r = {0};
	struct queue_job *job = NULL;
	int64_t hours[3], deadline = 0, hour0 = T0 / 3600000;
	char *owner = NULL;
	GString *g = g_string_new(NULL);
	struct queue *q;

	fresh_db("status_reads");
	q = open_q();
	for (size_t i = 0; i < sizeof(jids) / sizeof(jids[0]); i++) {
		r.jid = (char *)jids[i];
		r.phone = i == 2 ? "sip:Carol@PBX.example.org" : "+15551234567";
		CHECK_INT(queue_registration_put(q, &r), 0);
	}
	CHECK_INT(queue_registration_search(q, "_", 10, reg_jids_cb, g), 0);
	CHECK_STR(g->str, "a_b@example.org");
	g_string_truncate(g, 0);
	CHECK_INT(queue_registration_search(q, "%", 10, reg_jids_cb, g), 0);
	CHECK_STR(g->str, "dave%x@example.org");
	g_string_truncate(g, 0);
	CHECK_INT(
	    queue_registration_search(q, "pbx.EXAMPLE", 10, reg_jids_cb, g), 0);
	CHECK_STR(g->str, "carol@example.org");
	g_string_truncate(g, 0);
	CHECK_INT(queue_registration_search(q, NULL, 2, reg_jids_cb, g), 0);
	CHECK_STR(g->str, "a_b@example.org,axb@example.org");
	CHECK_INT(queue_registration_search(q, NULL, 0, reg_jids_cb, g),
	          -EINVAL);
	CHECK_INT(queue_registration_search(q, NULL, QUEUE_SEARCH_MAX + 1,
	                                    reg_jids_cb, g),
	          -EINVAL);

	CHECK_INT(queue_lease_get(q, "presence", &owner, &deadline), -ENOENT);
	CHECK_INT(queue_lease_acquire(q, "presence", "b1", 1000), 0);
	CHECK_INT(queue_lease_get(q, "presence", &owner, &deadline), 0);
	CHECK_STR(owner, "b1");
	CHECK_INT(deadline, clock_ms + 1000);
	free(owner);

	/* Two calls in the first hour, one two hours later; a failure
	 * event is no call. */
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "k1", NULL,
	                  NULL, NULL),
	          0);
	CHECK_INT(queue_job_claim(q, "b1", 100000000, &job, NULL), 0);
	clock_ms = hour0 * 3600000 + 10;
	CHECK_INT(
	    queue_event_add(q, job->id, QUEUE_EV_CALLING, "1", NULL, 0, NULL),
	    0);
	CHECK_INT(
	    queue_event_add(q, job->id, QUEUE_EV_CALLING, "2", NULL, 0, NULL),
	    0);
	CHECK_INT(
	    queue_event_add(q, job->id, QUEUE_EV_FAILED, "busy", NULL, 0, NULL),
	    0);
	clock_ms += 2 * 3600000;
	CHECK_INT(
	    queue_event_add(q, job->id, QUEUE_EV_CALLING, "3", NULL, 0, NULL),
	    0);
	hours[1] = 99;
	CHECK_INT(queue_calls_per_hour(q, hour0, hours, 3), 0);
	CHECK_INT(hours[0], 2);
	CHECK_INT(hours[1], 0);
	CHECK_INT(hours[2], 1);
	CHECK_INT(queue_calls_per_hour(q, hour0 + 1, hours, 1), 0);
	CHECK_INT(hours[0], 0);
	CHECK_INT(queue_calls_per_hour(q, hour0, hours, 0), -EINVAL);
	queue_job_free(job);
	g_string_free(g, TRUE);
	queue_close(q);
}

/* ---- copying a queue (ringbridgectl migrate-queue) ------------------------
 */

/*
 * A SQLite queue copied into the engine under test: every durable row
 * arrives with its id (messages and events stay with their jobs, a voice
 * blob byte for byte), new ids follow the copied ones, a non-empty target
 * is refused unless told, and a copy run again adds nothing twice.
 */
static void test_copy(void)
{
	struct queue_copy_count counts[QUEUE_COPY_TABLES];
	struct queue_registration r = {0}, got = {0};
	struct queue *src = NULL, *dst;
	struct queue_job *job = NULL;
	struct queue_event *evs = NULL, *src_evs = NULL;
	static const unsigned char audio[] = {0x4f, 0x67, 0x67,
	                                      0x00, 0xff, 0x01};
	char src_url[128];
	int64_t id[2] = {0}, ev = 0, next = 0, paused_until, audio_until;
	size_t n = QUEUE_COPY_TABLES, n_evs = 0, n_src = 0;
	char *state = NULL, *status = NULL;

	/* Its own file per engine: the suite may run twice in one process. */
	snprintf(src_url, sizeof(src_url), "sqlite:%s/copy_source_%s.db", dir,
	         engine->name);
	CHECK_INT(queue_open(&src, src_url), 0);
	if (!src)
		return;
	queue_clock_set(src, fake_now, NULL);
	r.jid = "alice@example.org";
	r.phone = "+15551234567";
	r.verified = true;
	r.tz = "Europe/Paris";
	r.quiet_start = -1;
	r.push_node = "node-1";
	r.gate = QUEUE_GATE_OFF;
	CHECK_INT(queue_registration_put(src, &r), 0);
	CHECK_INT(enqueue(src, "alice@example.org", "bob@example.org", "k1",
	                  NULL, &id[0], NULL),
	          0);
	CHECK_INT(enqueue(src, "carol@example.org", "bob@example.org", "k2",
	                  NULL, &id[1], NULL),
	          0);
	CHECK_INT(queue_job_claim(src, "b1", 30000, &job, NULL), 0);
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_add(src, id[0], QUEUE_EV_VOICE, "audio/ogg",
	                          audio, sizeof(audio), &ev),
	          0);
	CHECK_INT(queue_presence_set(src, "alice@example.org", "xmpp", "away",
	                             "lunch"),
	          0);
	/* Alice pressed 9 for Bob: the pause moves with the queue. */
	paused_until = clock_ms + 3600000;
	CHECK_INT(queue_pause_add(src, id[0], paused_until), 0);
	/* A voice reply the component published: its link still works. */
	audio_until = clock_ms + 3600000;
	CHECK_INT(queue_audio_put(src, "a.oga", "audio/ogg", audio,
	                          sizeof(audio), 3600000),
	          0);

	fresh_db("copy");
	dst = open_q();
	if (!dst) {
		queue_close(src);
		return;
	}
	/* The claim and the voice reply wrote events of their own. */
	CHECK_INT(queue_event_fetch_for_job(src, id[0], &src_evs, &n_src), 0);
	CHECK_INT(queue_copy(src, dst, false, counts, &n), 0);
	CHECK_INT((int)n, QUEUE_COPY_TABLES);
	for (size_t i = 0; i < n; i++) {
		int64_t want =
		    !strcmp(counts[i].table, "jobs")           ? 2
		    : !strcmp(counts[i].table, "job_messages") ? 2
		    : !strcmp(counts[i].table, "events")       ? (int64_t)n_src
		    : !strcmp(counts[i].table, "registrations") ||
		            !strcmp(counts[i].table, "presence") ||
		            !strcmp(counts[i].table, "sender_pauses") ||
		            !strcmp(counts[i].table, "published_audio")
		        ? 1
		        : 0;

		CHECK_INT((int)counts[i].copied, (int)want);
		CHECK_INT((int)counts[i].skipped, 0);
	}

	CHECK_INT(queue_pause_until(dst, "alice@example.org", "bob@example.org",
	                            &next),
	          0);
	CHECK_INT(next, paused_until);
	next = 0;
	{
		struct queue_audio a = {0};

		CHECK_INT(queue_audio_get(dst, "a.oga", &a), 0);
		CHECK(a.len == sizeof(audio) && a.bytes &&
		      !memcmp(a.bytes, audio, sizeof(audio)));
		CHECK_INT(a.expires_ms, audio_until);
		queue_audio_clear(&a);
	}
	CHECK_INT(queue_registration_get(dst, "alice@example.org", &got), 0);
	CHECK_STR(got.push_node, "node-1");
	CHECK_STR(got.tz, "Europe/Paris");
	CHECK_INT(got.gate, QUEUE_GATE_OFF);
	CHECK(got.verified);
	queue_registration_clear(&got);
	CHECK_INT(queue_job_get(dst, id[0], &job), 0);
	if (job) {
		CHECK_INT(job->state, QUEUE_JOB_ACTIVE);
		CHECK_STR(job->lease_owner, "b1");
		CHECK_INT((int)job->n_messages, 1);
		if (job->n_messages)
			CHECK_STR(job->messages[0].body, "hello");
	}
	queue_job_free(job);
	job = NULL;
	CHECK_INT(queue_event_fetch_for_job(dst, id[0], &evs, &n_evs), 0);
	CHECK_INT((int)n_evs, (int)n_src);
	for (size_t i = 0; i < n_evs && i < n_src; i++) {
		CHECK(evs[i].id == src_evs[i].id);
		CHECK_INT(evs[i].type, src_evs[i].type);
		CHECK_STR(evs[i].detail, src_evs[i].detail);
		CHECK_INT((int)evs[i].blob_len, (int)src_evs[i].blob_len);
		if (evs[i].id == ev)
			CHECK(evs[i].blob_len == sizeof(audio) &&
			      !memcmp(evs[i].blob, audio, sizeof(audio)));
	}
	queue_event_array_free(evs, n_evs);
	queue_event_array_free(src_evs, n_src);
	CHECK_INT(queue_presence_get(dst, "alice@example.org", "xmpp", &state,
	                             &status, NULL),
	          0);
	CHECK_STR(state, "away");
	CHECK_STR(status, "lunch");
	free(state);
	free(status);

	/* New rows take ids after the copied ones. */
	CHECK_INT(enqueue(dst, "dave@example.org", "bob@example.org", "k3",
	                  NULL, &next, NULL),
	          0);
	CHECK(next > id[1]);

	/* Not into a queue that holds rows, unless told; told, it adds only
	 * what is missing. */
	n = QUEUE_COPY_TABLES;
	CHECK_INT(queue_copy(src, dst, false, counts, &n), -ENOTEMPTY);
	CHECK_INT(queue_copy(src, dst, true, counts, &n), 0);
	for (size_t i = 0; i < n; i++)
		CHECK_INT((int)counts[i].copied, 0);
	CHECK_INT(queue_copy(NULL, dst, false, counts, &n), -EINVAL);
	queue_close(dst);
	queue_close(src);
}

/*
 * Key 9: a pause refuses the pair's new messages (and a place in its
 * open job) until it ends, leaves other senders and callees alone,
 * keeps the pair's unheard messages from a follow-up call, and ends on
 * time.
 */
static void test_pauses(void)
{
	struct queue *q;
	struct queue_job *job = NULL;
	enum queue_enqueue_result res = QUEUE_ENQ_NEW_JOB;
	int64_t id = 0, other = 0, until = -1, midnight = T0 + 3600000;
	int n = 0;

	fresh_db("pauses");
	q = open_q();
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p1", NULL,
	                  &id, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL), 0);
	queue_job_free(job);
	job = NULL;
	/* A message joins during the call, before the key. */
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p2", NULL,
	                  NULL, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_JOINED);
	CHECK_INT(queue_pause_until(q, "bob@example.org", "alice@example.org",
	                            &until),
	          0);
	CHECK_INT(until, 0);

	/* Bob heard the first and pressed 9. */
	CHECK_INT(queue_event_add(q, id, QUEUE_EV_HEARD, "1", NULL, 0, NULL),
	          0);
	CHECK_INT(queue_pause_add(q, id, clock_ms), -EINVAL);
	CHECK_INT(queue_pause_add(q, id + 1000, midnight), -ENOENT);
	CHECK_INT(queue_pause_add(q, id, midnight - 1000), 0);
	/* Pressed again: the later pause replaces the first. */
	CHECK_INT(queue_pause_add(q, id, midnight), 0);
	CHECK_INT(queue_pause_until(q, "bob@example.org", "alice@example.org",
	                            &until),
	          0);
	CHECK_INT(until, midnight);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p3", NULL,
	                  &other, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_PAUSED);
	/* A resend of a message caught before stays a duplicate. */
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p2", NULL,
	                  NULL, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_DUPLICATE);

	/* The unheard p2 gets no follow-up call. */
	CHECK_INT(queue_job_finish(q, id, "b", QUEUE_JOB_NOTIFIED, NULL), 0);
	CHECK_INT(queue_job_claim(q, "b", 60000, &job, NULL), -EAGAIN);
	CHECK_INT(queue_jobs_created_since(q, "bob@example.org", NULL, 0, &n),
	          0);
	CHECK_INT(n, 1);

	/* Another sender to Bob, and Alice to someone else, are phoned.
	 */
	CHECK_INT(enqueue(q, "bob@example.org", "dave@example.org", "d1", NULL,
	                  &other, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK_INT(enqueue(q, "carol@example.org", "alice@example.org", "c1",
	                  NULL, &other, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);

	/* At Bob's midnight the pause is over. */
	clock_ms = midnight - 1;
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p4", NULL,
	                  &other, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_PAUSED);
	clock_ms = midnight;
	CHECK_INT(queue_pause_until(q, "bob@example.org", "alice@example.org",
	                            &until),
	          0);
	CHECK_INT(until, 0);
	CHECK_INT(enqueue(q, "bob@example.org", "alice@example.org", "p5", NULL,
	                  &other, &res),
	          0);
	CHECK_INT(res, QUEUE_ENQ_NEW_JOB);
	CHECK_STR(queue_enqueue_result_name(QUEUE_ENQ_PAUSED),
	          "paused by the callee");

	/* A verification job names no sender to pause. */
	CHECK_INT(queue_verify_enqueue(q, "bob@example.org", "+15551234567",
	                               "123456", NULL, &id),
	          0);
	CHECK_INT(queue_pause_add(q, id, midnight + 86400000), -ENOENT);
	CHECK_INT(queue_pause_until(q, NULL, "alice@example.org", &until),
	          -EINVAL);
	queue_close(q);
}

/*
 * The voice replies the component serves (schema 011): stored whole with
 * their type, refused the moment they expire (before any sweep), deleted by
 * the sweep and only then, names unique, bounds kept, and readable from a
 * second handle (another component sharing the queue).
 */
static void test_audio(void)
{
	static const unsigned char bytes[] = {'O', 'g', 'g', 'S', 0, 0xff, 7};
	struct queue_audio a = {0};
	struct queue *q, *other;
	unsigned char *big;
	int deleted = -1;

	fresh_db("audio");
	q = open_q();
	other = open_q();
	if (!q || !other)
		goto out;
	CHECK_INT(queue_audio_put(q, "n1.oga", "audio/ogg", bytes,
	                          sizeof(bytes), 60000),
	          0);
	CHECK_INT(queue_audio_put(q, "n1.oga", "audio/ogg", bytes,
	                          sizeof(bytes), 60000),
	          -EEXIST);
	CHECK_INT(queue_audio_put(q, "n2.mp3", "audio/mpeg", bytes, 3, 120000),
	          0);
	CHECK_INT(queue_audio_get(other, "n1.oga", &a), 0);
	CHECK_STR(a.mime, "audio/ogg");
	CHECK(a.len == sizeof(bytes) && a.bytes &&
	      !memcmp(a.bytes, bytes, sizeof(bytes)));
	CHECK_INT(a.created_ms, clock_ms);
	CHECK_INT(a.expires_ms, clock_ms + 60000);
	queue_audio_clear(&a);
	CHECK(a.bytes == NULL && a.mime == NULL && a.len == 0);
	CHECK_INT(queue_audio_get(q, "n3.oga", &a), -ENOENT);

	/* Bounds. */
	CHECK_INT(queue_audio_put(q, "", "audio/ogg", bytes, 1, 1), -EINVAL);
	CHECK_INT(queue_audio_put(q, "x", "audio/ogg", bytes, 0, 1), -EINVAL);
	CHECK_INT(queue_audio_put(q, "x", "audio/ogg", bytes, 1, 0), -EINVAL);
	CHECK_INT(queue_audio_put(q, "x", NULL, bytes, 1, 1), -EINVAL);
	CHECK_INT(queue_audio_put(q, "x", "audio/ogg", NULL, 1, 1), -EINVAL);
	CHECK_INT(queue_audio_put(q, "x", "audio/ogg", bytes,
	                          (size_t)QUEUE_BLOB_MAX + 1, 1),
	          -EINVAL);
	{
		char name[QUEUE_AUDIO_NAME_MAX + 2];

		memset(name, 'a', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		CHECK_INT(queue_audio_put(q, name, "audio/ogg", bytes, 1, 1),
		          -EINVAL);
		CHECK_INT(queue_audio_get(q, name, &a), -EINVAL);
	}
	/* The largest file allowed goes in and comes back whole. */
	big = malloc(QUEUE_BLOB_MAX);
	if (big) {
		for (size_t i = 0; i < QUEUE_BLOB_MAX; i++)
			big[i] = (unsigned char)(i * 31 + 1);
		CHECK_INT(queue_audio_put(q, "big.oga", "audio/ogg", big,
		                          QUEUE_BLOB_MAX, 30000),
		          0);
		CHECK_INT(queue_audio_get(other, "big.oga", &a), 0);
		CHECK(a.len == QUEUE_BLOB_MAX &&
		      !memcmp(a.bytes, big, QUEUE_BLOB_MAX));
		queue_audio_clear(&a);
		free(big);
	}

	/* Nothing has expired: the sweep deletes nothing. */
	CHECK_INT(queue_audio_expire(q, &deleted), 0);
	CHECK_INT(deleted, 0);
	/* At its expiry n1 is refused at once, n2 still served. */
	clock_ms += 60000;
	CHECK_INT(queue_audio_get(other, "n1.oga", &a), -ENOENT);
	CHECK_INT(queue_audio_get(other, "n2.mp3", &a), 0);
	queue_audio_clear(&a);
	CHECK_INT(queue_audio_expire(other, &deleted), 0);
	CHECK_INT(deleted, 2); /* n1 and big */
	CHECK_INT(queue_audio_put(q, "n1.oga", "audio/ogg", bytes, 1, 1), 0);
	clock_ms += 60000;
	CHECK_INT(queue_audio_expire(q, NULL), 0);
	CHECK_INT(queue_audio_get(q, "n2.mp3", &a), -ENOENT);

	/* Inside a batch the row joins the batch's commit. */
	CHECK_INT(queue_batch_begin(q), 0);
	CHECK_INT(queue_audio_put(q, "b.oga", "audio/ogg", bytes, 2, 1000), 0);
	CHECK_INT(queue_audio_get(other, "b.oga", &a), -ENOENT);
	CHECK_INT(queue_batch_commit(q), 0);
	CHECK_INT(queue_audio_get(other, "b.oga", &a), 0);
	CHECK(a.len == 2);
	queue_audio_clear(&a);
	CHECK_INT(queue_audio_put(NULL, "x", "audio/ogg", bytes, 1, 1),
	          -EINVAL);
	CHECK_INT(queue_audio_expire(NULL, NULL), -EINVAL);
	queue_audio_clear(NULL);
out:
	queue_close(other);
	queue_close(q);
}

/*
 * Every statement of the engine prepares against its schema, including
 * those its rules never run (statements_cheap picks one of two forms): a
 * statement is otherwise prepared at its first use, so a typo in one would
 * wait for a call to find it. With a table gone, the check says so.
 */
static void test_statements_prepare(void)
{
	struct queue *q;
	int n = -1;

	fresh_db("statements");
	q = open_q();
	CHECK_INT(queue_statements_check(q, &n), 0);
	CHECK_INT(n, ES_COUNT);
	/* Twice on one connection: the prepared copies are reused. */
	CHECK_INT(queue_statements_check(q, &n), 0);
	CHECK_INT(n, ES_COUNT);
	queue_close(q);
	CHECK_INT(queue_statements_check(NULL, &n), -EINVAL);

	CHECK_INT(engine->exec("DROP TABLE bridge_status"), 0);
	q = open_q();
	n = -1;
	CHECK_INT(queue_statements_check(q, &n), -EIO);
	CHECK(n >= 0 && n < ES_COUNT);
	queue_close(q);
}

/* What every engine must do alike. */
static void (*const conformance[])(void) = {
    test_open,
    test_statements_prepare,
    test_enqueue,
    test_bounds,
    test_coalesce,
    test_limits,
    test_claim_lease,
    test_leases_renew,
    test_claim_order,
    test_claim_lapsed_first,
    test_expired_heard,
    test_finish_follow_up,
    test_events,
    test_presence,
    test_presence_foreach,
    test_claim_on_the_phone,
    test_presence_users,
    test_gateway_subscriptions,
    test_leases,
    test_component_status,
    test_bridge_status,
    test_registrations,
    test_gate,
    test_more_numbers,
    test_wait_seen,
    test_pauses,
    test_audio,
    test_two_processes,
    test_one_pair_at_once,
    test_wake,
    test_batch,
    test_batch_replayable,
    test_job_foreach,
    test_count_by_state,
    test_status_reads,
    test_archive_marks,
    test_copy,
};

/* Runs the suite on engine NAME; -1 when there is no such engine. */
static int run_engine(const char *name, size_t len)
{
	size_t i, k;

	for (i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
		if (strlen(engines[i].name) != len ||
		    strncmp(engines[i].name, name, len))
			continue;
		engine = &engines[i];
		printf("test_queue: the conformance suite on %s\n",
		       engine->name);
		for (k = 0; k < sizeof(conformance) / sizeof(conformance[0]);
		     k++)
			conformance[k]();
		engine->own_cases();
		return 0;
	}
	fprintf(stderr, "test_queue: no engine \"%.*s\"\n", (int)len, name);
	return -1;
}

int main(void)
{
	const char *list = getenv("RB_TEST_QUEUE_ENGINES");
	char cmd[128];
	int failed = 0;

	if (!list || !*list)
		list = "sqlite";
	snprintf(dir, sizeof(dir), "/tmp/rb-test-queue-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_open_urls();
	while (*list) {
		size_t len = strcspn(list, ",");

		if (len && run_engine(list, len))
			failed = 1;
		list += len;
		if (*list == ',')
			list++;
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_exit("test_queue") || failed;
}
