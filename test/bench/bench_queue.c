/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * How many caught messages the queue commits durably per second, one per
 * commit and in group commits of 10 and 100, on a fresh SQLite file in the
 * directory given (default: the current one); then how many jobs 1, 2 and
 * 4 bridges (processes, a handle each) claim and finish per second (last,
 * one bridge while 500 more jobs are held as calls under way). With a
 * PostgreSQL URL (an empty database the bench may wipe: its public schema
 * is dropped before each run) the same figures on PostgreSQL, in the same
 * run. Group commits are replayable batches, as the component's store and
 * the bridge's writer make them. Prints numbers; asserts nothing.
 * Usage: bench_queue [DIR] [MESSAGES] [POSTGRESQL-URL]
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "queue.h"

/* Jobs another bridge holds in the last claim run (calls under way). */
#define HELD 500

/* The PostgreSQL database of this run, or NULL for SQLite only. */
static const char *pg_url;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs SQL on the PostgreSQL database on a connection of its own. */
static int pg_run(const char *sql, const char *what)
{
	PGconn *c = PQconnectdb(pg_url);
	PGresult *r;
	int ok;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s", PQerrorMessage(c));
		PQfinish(c);
		return -1;
	}
	r = PQexec(c, sql);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		fprintf(stderr, "%s: %s", what, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* Empties the PostgreSQL database: the next queue_open() migrates anew. */
static int pg_wipe(void)
{
	return pg_run("SET client_min_messages = warning; DROP SCHEMA public "
	              "CASCADE; CREATE SCHEMA public",
	              "wiping");
}

/* A fresh queue's URL into URL: a new SQLite file in DIR (PATH), or the
 * wiped PostgreSQL database when PG. */
static int fresh(bool pg, const char *dir, const char *name, char *path,
                 size_t path_size, char *url, size_t url_size)
{
	path[0] = '\0';
	if (pg) {
		snprintf(url, url_size, "%s", pg_url);
		return pg_wipe();
	}
	snprintf(path, path_size, "%s/bench-queue-%d-%s.db", dir, (int)getpid(),
	         name);
	snprintf(url, url_size, "sqlite:%s", path);
	return 0;
}

static void sqlite_remove(const char *path)
{
	for (int k = 0; path[0] && k < 3; k++) {
		static const char *const sfx[] = {"", "-wal", "-shm"};
		char p2[4200];

		snprintf(p2, sizeof(p2), "%s%s", path, sfx[k]);
		unlink(p2);
	}
}

static int run(bool pg, const char *dir, int total, int batch)
{
	char path[4096], url[4200], callee[64], key[64], name[16];
	struct queue *q;
	struct queue_enqueue_limits lim = {0};
	double t0, t1;
	int err;

	snprintf(name, sizeof(name), "%d", batch);
	if (fresh(pg, dir, name, path, sizeof(path), url, sizeof(url)))
		return 1;
	err = queue_open(&q, url);
	if (err) {
		fprintf(stderr, "queue_open %s: %s\n", url, strerror(-err));
		return 1;
	}
	t0 = now_s();
	for (int i = 0; i < total; i += batch) {
		if (batch > 1 && (err = queue_batch_begin_replayable(q)))
			break;
		for (int j = i; j < i + batch && j < total; j++) {
			struct queue_message_in m = {
			    .callee_jid = callee,
			    .sender_jid = "alice@localhost",
			    .sender_name = "Alice",
			    .reply_from = callee,
			    .body = "Are we still on for lunch at noon? "
			            "Call me if anything changed.",
			    .received_ms = 0,
			    .idem_key = key,
			    .destination = "+15551234567",
			    .gate = QUEUE_GATE_DEFAULT,
			};
			enum queue_enqueue_result r;
			int64_t id;

			/* A callee per message: every enqueue makes a job. */
			snprintf(callee, sizeof(callee), "user%d@localhost", j);
			snprintf(key, sizeof(key), "bench:%d", j);
			err = queue_message_enqueue(q, &m, &lim, &id, &r);
			if (err)
				break;
		}
		if (err)
			break;
		if (batch > 1 && (err = queue_batch_commit(q)))
			break;
	}
	t1 = now_s();
	queue_close(q);
	sqlite_remove(path);
	if (err) {
		fprintf(stderr, "enqueue failed: %s\n", strerror(-err));
		return 1;
	}
	printf("%-28s %8d messages %10.0f messages/s %8.3f ms/commit\n",
	       batch == 1    ? "one per commit:"
	       : batch == 10 ? "group commit of 10:"
	                     : "group commit of 100:",
	       total, total / (t1 - t0),
	       (t1 - t0) * 1000.0 / ((total + batch - 1) / batch));
	return 0;
}

/* One bridge: claims and finishes jobs until none is left, BATCH at a
 * time (1: three commits per job, claim, heard, finished; more: one
 * commit for BATCH claims and one for their heard and finished); 0 or 1. */
static int bridge(const char *url, int n, int batch, int ready, int go)
{
	struct queue *q = NULL;
	struct queue_job *jobs[100];
	char owner[32], c = 0;
	int err, got, i;

	snprintf(owner, sizeof(owner), "bench-%d-%d", n, (int)getpid());
	err = queue_open(&q, url);
	/* Everyone open before the clock starts. */
	if (write(ready, &c, 1) != 1 || read(go, &c, 1) != 1 || err)
		return 1;
	for (;;) {
		got = 0;
		err = batch > 1 ? queue_batch_begin_replayable(q) : 0;
		while (!err && got < batch) {
			jobs[got] = NULL;
			err =
			    queue_job_claim(q, owner, 60000, &jobs[got], NULL);
			if (!err)
				got++;
		}
		if (batch > 1 && (!err || err == -EAGAIN) && got)
			err = queue_batch_commit(q) ? -EIO : err;
		else if (batch > 1)
			queue_batch_rollback(q);
		/* SQLite's write lock held past its 5 s timeout: a bridge
		 * tries again at its next poll. */
		if (err == -EBUSY && !got)
			continue;
		if (err && err != -EAGAIN)
			break;
		if (!got)
			break;
		/* As a bridge does: the message heard (written as the job's
		 * holder, with the owner check the bridge's writer asks for),
		 * then the job ended (an unheard one would be moved to a
		 * follow-up job). */
		if (batch > 1 && queue_batch_begin_replayable(q))
			break;
		for (i = 0; i < got; i++) {
			int e2 = queue_event_add_held(q, jobs[i]->id, owner,
			                              QUEUE_EV_HEARD, "1", NULL,
			                              0, NULL);

			if (!e2)
				e2 = queue_job_finish(q, jobs[i]->id, owner,
				                      QUEUE_JOB_NOTIFIED,
				                      "bench");
			if (e2 && err != -EAGAIN)
				err = e2;
			queue_job_free(jobs[i]);
		}
		if (batch > 1 && queue_batch_commit(q))
			err = -EIO;
		if (err && err != -EAGAIN)
			break;
	}
	queue_close(q);
	return !err || err == -EAGAIN ? 0 : 1;
}

/* TOTAL jobs queued (in group commits), then claimed and finished by
 * BRIDGES processes at once; with HELD, as many more jobs are first claimed
 * and kept (calls under way on another bridge) while they run. */
static int run_claims(bool pg, const char *dir, int total, int bridges,
                      int batch, int held)
{
	char path[4096], url[4200], callee[64], key[64], name[16],
	    more[32] = "";
	struct queue_enqueue_limits lim = {0};
	struct queue *q;
	pid_t pids[8];
	double t0, t1;
	int err = 0, status, failed = 0, ready[2], go[2];
	char c = 0;

	snprintf(name, sizeof(name), "claim%d-%d-%d", bridges, batch, held);
	if (fresh(pg, dir, name, path, sizeof(path), url, sizeof(url)))
		return 1;
	if (queue_open(&q, url))
		return 1;
	for (int i = 0; i < total + held && !err; i += 100) {
		err = queue_batch_begin(q);
		for (int j = i; !err && j < i + 100 && j < total + held; j++) {
			struct queue_message_in m = {
			    .callee_jid = callee,
			    .sender_jid = "alice@localhost",
			    .body = "Call me.",
			    .idem_key = key,
			    .destination = "+15551234567",
			};
			enum queue_enqueue_result r;
			int64_t id;

			snprintf(callee, sizeof(callee), "user%d@localhost", j);
			snprintf(key, sizeof(key), "bench:%d", j);
			err = queue_message_enqueue(q, &m, &lim, &id, &r);
		}
		if (!err)
			err = queue_batch_commit(q);
	}
	/* The held ones: the first HELD due, leased for the whole run. */
	for (int i = 0; i < held && !err; i++) {
		struct queue_job *job = NULL;

		err = queue_job_claim(q, "holder", 3600000, &job, NULL);
		queue_job_free(job);
	}
	queue_close(q);
	if (err) {
		fprintf(stderr, "queueing failed: %s\n", strerror(-err));
		return 1;
	}
	/* A queue in service has statistics (autovacuum takes them within a
	 * minute of that many rows changing); a table never analyzed makes
	 * the planner guess, which the claim figures would measure instead. */
	if (pg && pg_run("ANALYZE", "analyzing"))
		return 1;
	if (pipe(ready) || pipe(go))
		return 1;
	for (int b = 0; b < bridges; b++) {
		pids[b] = fork();
		if (pids[b] == 0)
			_exit(bridge(url, b, batch, ready[1], go[0]));
	}
	for (int b = 0; b < bridges; b++)
		if (read(ready[0], &c, 1) != 1)
			failed = 1;
	t0 = now_s();
	for (int b = 0; b < bridges; b++)
		if (write(go[1], &c, 1) != 1)
			failed = 1;
	for (int b = 0; b < bridges; b++)
		if (waitpid(pids[b], &status, 0) != pids[b] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed = 1;
	t1 = now_s();
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
	sqlite_remove(path);
	if (failed) {
		fprintf(stderr, "a bridge failed\n");
		return 1;
	}
	if (held)
		snprintf(more, sizeof(more), " (%d more held)", held);
	printf("claimed+finished, %d bridge%s, %3d/commit: %6d jobs %8.0f "
	       "jobs/s%s\n",
	       bridges, bridges > 1 ? "s" : " ", batch, total,
	       total / (t1 - t0), more);
	return 0;
}

static int engine(bool pg, const char *dir, int n)
{
	if (pg)
		printf("PostgreSQL queue (%s; claims on analyzed tables)\n",
		       "the URL given");
	else
		printf("SQLite queue, WAL, synchronous=FULL, in %s\n", dir);
	return run(pg, dir, n, 1) || run(pg, dir, n * 4, 10) ||
	       run(pg, dir, n * 10, 100) ||
	       run_claims(pg, dir, n * 2, 1, 1, 0) ||
	       run_claims(pg, dir, n * 2, 2, 1, 0) ||
	       run_claims(pg, dir, n * 2, 4, 1, 0) ||
	       run_claims(pg, dir, n * 4, 1, 20, 0) ||
	       run_claims(pg, dir, n * 4, 4, 20, 0) ||
	       run_claims(pg, dir, n * 4, 1, 20, HELD);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int n = argc > 2 ? atoi(argv[2]) : 5000;

	pg_url = argc > 3 ? argv[3] : NULL;
	if (n <= 0) {
		fprintf(stderr, "usage: bench_queue [DIR] [MESSAGES] "
		                "[POSTGRESQL-URL]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	return engine(false, dir, n) || (pg_url && engine(true, dir, n));
}
