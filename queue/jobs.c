/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The jobs table's rules, once for every engine: what an enqueued message
 * becomes (a duplicate, joined to its pair's open job, limited, or a new job
 * after the coalescing window), how a job is claimed (a lapsed lease whose
 * callee heard everything is finished as notified, never phoned again), and
 * how it ends (messages that joined unheard move to a follow-up job). Only
 * statement ids and database.h's shapes here; the SQL is the engine's.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "queue_internal.h"

/* The window of the hourly limits. */
#define HOUR_MS (3600 * 1000)

_Static_assert(sizeof(enum queue_job_kind) == sizeof(int) &&
                   sizeof(enum queue_job_state) == sizeof(int),
               "the column tables read enums as int");

#define JOB_FIELD(type, field) SQL_COLUMN(type, struct queue_job, field)

/* The engines' JOB_COLS, in order. */
static const struct sql_column job_columns[] = {
    JOB_FIELD(INT64, id),
    JOB_FIELD(INT, kind),
    JOB_FIELD(INT, state),
    JOB_FIELD(TEXT, callee_jid),
    JOB_FIELD(TEXT, destination),
    JOB_FIELD(TEXT, tz),
    JOB_FIELD(TEXT, lang),
    JOB_FIELD(TEXT, sender_jid),
    JOB_FIELD(TEXT, sender_name),
    JOB_FIELD(TEXT, reply_from),
    JOB_FIELD(TEXT, verify_code),
    JOB_FIELD(INT, attempts),
    JOB_FIELD(INT64, created_ms),
    JOB_FIELD(INT64, not_before_ms),
    JOB_FIELD(INT64, next_attempt_ms),
    JOB_FIELD(TEXT, lease_owner),
    JOB_FIELD(INT64, lease_deadline_ms),
    JOB_FIELD(TEXT, last_reason),
    JOB_FIELD(INT64, finished_ms),
    JOB_FIELD(INT, gate),
    JOB_FIELD(TEXT, destination_more[0]),
    JOB_FIELD(TEXT, destination_more[1]),
    JOB_FIELD(INT64, seen_until_ms),
};

#define MSG_FIELD(type, field) SQL_COLUMN(type, struct queue_job_message, field)

/* The engines' MSG_COLS, in order. */
static const struct sql_column message_columns[] = {
    SQL_COLUMN_REQUIRED(INT64, struct queue_job_message, id),
    MSG_FIELD(INT, seq),
    MSG_FIELD(TEXT, sender_jid),
    MSG_FIELD(TEXT, body),
    MSG_FIELD(BOOL, encrypted),
    MSG_FIELD(BOOL, heard),
    MSG_FIELD(INT64, received_ms),
};

/* What ES_JOB_FINISH_OWNED returns. */
struct finish_info {
	int kind;
	int64_t unheard;
};

static const struct sql_column finish_info_columns[] = {
    SQL_COLUMN(INT, struct finish_info, kind),
    SQL_COLUMN(INT64, struct finish_info, unheard),
};

/* ES_JOB_LEASE_INFO: state, lease_owner, kind. */
struct lease_info {
	int state;
	char *owner;
	int kind;
};

static const struct sql_column lease_info_columns[] = {
    SQL_COLUMN(INT, struct lease_info, state),
    SQL_COLUMN(TEXT, struct lease_info, owner),
    SQL_COLUMN(INT, struct lease_info, kind),
};

/* ---- reading jobs -------------------------------------------------------- */

void queue_job_free(struct queue_job *job)
{
	size_t i;

	if (!job)
		return;
	for (i = 0; i < job->n_messages; i++)
		database_row_clear(SQL_COLUMNS(message_columns),
		                   &job->messages[i]);
	free(job->messages);
	database_row_clear(SQL_COLUMNS(job_columns), job);
	free(job);
}

int queue_job_destinations(const struct queue_job *job)
{
	int n = 1;

	/* The list ends at the first NULL, as it was written. */
	while (n < QUEUE_PHONES_MAX && job->destination_more[n - 1])
		n++;
	return n;
}

const char *queue_job_destination_at(const struct queue_job *job, int i)
{
	if (i <= 0 || i >= queue_job_destinations(job))
		return job->destination;
	return job->destination_more[i - 1];
}

/* Appends JOB's messages with seq > AFTER_SEQ. */
static int messages_load(struct queue *q, struct queue_job *j, int after_seq)
{
	return database_rows(
	    q, ES_MSGS_GET, "reading messages", SQL_COLUMNS(message_columns),
	    sizeof(struct queue_job_message), (void **)&j->messages,
	    &j->n_messages, SQL_ARGS(SQL_INT(j->id), SQL_INT(after_seq)));
}

/* Reads job ID with all its messages into a new *JOBP. */
static int job_load(struct queue *q, int64_t id, struct queue_job **jobp)
{
	struct queue_job *j;
	int err;

	*jobp = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	err = database_row(q, ES_JOB_GET, "reading a job",
	                   SQL_COLUMNS(job_columns), j, SQL_ARGS(SQL_INT(id)));
	if (!err)
		err = messages_load(q, j, 0);
	if (err) {
		queue_job_free(j);
		return err;
	}
	*jobp = j;
	return 0;
}

/* ES_JOB_CLAIM_RETURNING or ES_CLAIM_DUE_RETURNING: the claim, returning
 * the job as written joined with its messages (one round trip where two
 * were), into a new *JOBP; -ENOENT when nothing was claimed. */
static int job_claim_read(struct queue *q, enum engine_statement_id id,
                          const struct sql_arg *args, size_t n_args,
                          struct queue_job **jobp)
{
	struct queue_job *j;
	int err;

	*jobp = NULL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	err = database_write_returning_joined(
	    q, id, "claiming a job", SQL_COLUMNS(job_columns), j,
	    SQL_COLUMNS(message_columns), sizeof(struct queue_job_message),
	    (void **)&j->messages, &j->n_messages, args, n_args);
	if (err) {
		queue_job_free(j);
		return err;
	}
	*jobp = j;
	return 0;
}

int jobs_get(struct queue *q, int64_t id, struct queue_job **jobp)
{
	return job_load(q, id, jobp);
}

int jobs_refresh_messages(struct queue *q, struct queue_job *job, int after_seq)
{
	return messages_load(q, job, after_seq);
}

/* Collects the ids first, then loads each job with its own statements, so
 * the callback may use the handle. */
int jobs_foreach(struct queue *q, const struct queue_job_filter *f,
                 int (*cb)(const struct queue_job *job, void *arg), void *arg)
{
	struct queue_job *job;
	int64_t *ids = NULL;
	size_t n = 0, i;
	int limit = f->limit > 0 ? f->limit : 100;
	int err;

	err = database_rows(
	    q, ES_JOB_LIST, "listing jobs", SQL_COLUMNS(database_id_columns),
	    sizeof(int64_t), (void **)&ids, &n,
	    SQL_ARGS(SQL_TEXT(f->callee_jid), SQL_INT(f->unfinished_only),
	             SQL_INT(f->finished_only), SQL_INT(limit)));
	/* Newest last. */
	for (i = n; i-- > 0 && !err;) {
		err = job_load(q, ids[i], &job);
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

/* ---- enqueueing ---------------------------------------------------------- */

static int count_jobs(struct queue *q, enum engine_statement_id id,
                      const char *jid, int64_t since_ms, int kind, int64_t *n)
{
	return database_int(
	    q, id, "counting jobs", 0, n,
	    SQL_ARGS(SQL_TEXT(jid), SQL_INT(since_ms), SQL_INT(kind)));
}

/* *OVER: JID has LIMIT message jobs or more in the last hour (LIMIT 0:
 * no limit). */
static int limit_reached(struct queue *q, enum engine_statement_id id,
                         const char *jid, int limit, int64_t now, bool *over)
{
	int64_t v = 0;
	int err = 0;

	if (limit > 0)
		err = count_jobs(q, id, jid, now - HOUR_MS + 1,
		                 QUEUE_JOB_MESSAGE, &v);
	*over = !err && limit > 0 && v >= limit;
	return err;
}

static int message_insert(struct queue *q, int64_t job_id, int64_t seq,
                          const struct queue_message_in *m)
{
	return database_exec(
	    q, ES_MSG_INSERT, "storing a message", NULL,
	    SQL_ARGS(SQL_INT(job_id), SQL_INT(seq), SQL_TEXT(m->sender_jid),
	             SQL_TEXT(m->body), SQL_INT(m->encrypted),
	             SQL_INT(m->received_ms), SQL_TEXT(m->idem_key)));
}

/* Inserts a queued job; *ID gets its id. */
static int job_insert(struct queue *q, enum queue_job_kind kind,
                      const struct queue_message_in *m, const char *jid,
                      const char *dest, const char *lang, const char *code,
                      int64_t now, int64_t not_before, int64_t *id)
{
	int err = database_exec(
	    q, ES_JOB_INSERT,
	    kind == QUEUE_JOB_VERIFY ? "creating a verification job"
	                             : "creating a job",
	    NULL,
	    SQL_ARGS(SQL_INT(kind), SQL_TEXT(jid), SQL_TEXT(dest),
	             SQL_TEXT(m ? m->tz : NULL), SQL_TEXT(lang),
	             SQL_TEXT(m ? m->sender_jid : NULL),
	             SQL_TEXT(m ? m->sender_name : NULL),
	             SQL_TEXT(m ? m->reply_from : NULL), SQL_TEXT(code),
	             SQL_INT(now), SQL_INT(not_before),
	             SQL_INT(m ? m->gate : QUEUE_GATE_DEFAULT),
	             SQL_TEXT(m ? m->destination_more[0] : NULL),
	             SQL_TEXT(m && m->destination_more[0]
	                          ? m->destination_more[1]
	                          : NULL),
	             SQL_INT(m ? m->seen_until_ms : 0)));

	if (!err)
		*id = database_last_insert_id(q);
	return err;
}

/* The decisions of queue_message_enqueue(), inside its transaction. */
static int enqueue_in_tx(struct queue *q, const struct queue_message_in *m,
                         const struct queue_enqueue_limits *lim,
                         int64_t *job_id, enum queue_enqueue_result *res)
{
	int64_t now = queue_now_ms(q), v, not_before, f[4];
	bool over = false;
	int err;

	/* What the rules below look at, read in one statement once the
	 * callee's lock is held: F[0] the job of a message seen before,
	 * F[1] a pause, F[2] the pair's open job, F[3] its last finish. */
	err = database_exec(q, ES_CALLEE_LOCK, "locking the callee", NULL,
	                    SQL_ARGS(SQL_TEXT(m->callee_jid)));
	if (!err)
		err = database_ints(
		    q, ES_ENQUEUE_FACTS, "looking up the pair", f, 4,
		    SQL_ARGS(SQL_TEXT(m->idem_key), SQL_TEXT(m->callee_jid),
		             SQL_TEXT(m->sender_jid), SQL_INT(now)));
	if (err)
		return err;

	/* A message seen before: report its job, change nothing. */
	if (f[0]) {
		*job_id = f[0];
		*res = QUEUE_ENQ_DUPLICATE;
		return 0;
	}

	/* The callee pressed 9 for this sender today: no call, nor a place
	 * in the open job (the call under way has been answered already). */
	if (f[1]) {
		*res = QUEUE_ENQ_PAUSED;
		return 0;
	}

	/* The pair's open job takes it as its next message. */
	if (f[2]) {
		int64_t seq;

		err = database_int(q, ES_MSG_NEXT_SEQ, "numbering a message", 1,
		                   &seq, SQL_ARGS(SQL_INT(f[2])));
		if (!err)
			err = message_insert(q, f[2], seq, m);
		if (err)
			return err;
		*job_id = f[2];
		*res = QUEUE_ENQ_JOINED;
		return 0;
	}

	/* A new job: within the hourly limits, after the coalescing window
	 * (*RES is not read when an error is returned). */
	err = limit_reached(q, ES_COUNT_CALLEE, m->callee_jid,
	                    lim->per_callee_per_hour, now, &over);
	if (err || over) {
		*res = QUEUE_ENQ_LIMIT_CALLEE;
		return err;
	}
	err = limit_reached(q, ES_COUNT_SENDER, m->sender_jid,
	                    lim->per_sender_per_hour, now, &over);
	if (err || over) {
		*res = QUEUE_ENQ_LIMIT_SENDER;
		return err;
	}
	not_before = m->not_before_ms > now ? m->not_before_ms : now;
	if (f[3] && f[3] + (int64_t)lim->coalesce_seconds * 1000 > not_before)
		not_before = f[3] + (int64_t)lim->coalesce_seconds * 1000;

	err = job_insert(q, QUEUE_JOB_MESSAGE, m, m->callee_jid, m->destination,
	                 m->lang, NULL, now, not_before, &v);
	if (!err)
		err = message_insert(q, v, 1, m);
	if (err)
		return err;
	*job_id = v;
	*res = QUEUE_ENQ_NEW_JOB;
	return 0;
}

int jobs_message_enqueue(struct queue *q, const struct queue_message_in *m,
                         const struct queue_enqueue_limits *lim,
                         int64_t *job_id, enum queue_enqueue_result *res)
{
	int err = database_begin(q);

	if (err)
		return err;
	err = enqueue_in_tx(q, m, lim, job_id, res);
	err = database_end(q, err);
	/* A joined message matters too: the bridge calling may read it. */
	if (!err && (*res == QUEUE_ENQ_NEW_JOB || *res == QUEUE_ENQ_JOINED))
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

int jobs_verify_enqueue(struct queue *q, const char *jid, const char *dest,
                        const char *code, const char *lang, int64_t *job_id)
{
	int64_t now = queue_now_ms(q);
	int err;

	err = database_begin(q);
	if (err)
		return err;
	/* Only the newest code is worth a call: after the callee's lock, a
	 * verification queued at the same moment is superseded too. */
	err = database_exec(q, ES_CALLEE_LOCK, "locking the callee", NULL,
	                    SQL_ARGS(SQL_TEXT(jid)));
	if (!err)
		err = database_exec(q, ES_VERIFY_SUPERSEDE,
		                    "superseding a verification call", NULL,
		                    SQL_ARGS(SQL_TEXT(jid), SQL_INT(now)));
	if (!err)
		err = job_insert(q, QUEUE_JOB_VERIFY, NULL, jid, dest, lang,
		                 code, now, now, job_id);
	err = database_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

int jobs_cancel_for(struct queue *q, const char *callee_jid, bool seen, int *n)
{
	int64_t changed = 0;
	int err;

	err = database_write(
	    q, seen ? ES_JOB_CANCEL_SEEN : ES_JOB_CANCEL_FOR,
	    seen ? "cancelling jobs seen in their wait" : "cancelling jobs", 0,
	    &changed, SQL_ARGS(SQL_TEXT(callee_jid), SQL_INT(queue_now_ms(q))));
	if (!err)
		*n = (int)changed;
	/* A bridge calling one of them finds out when it renews. */
	if (!err && *n)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

int jobs_created_since(struct queue *q, const char *callee_jid,
                       const char *sender_jid, int64_t since_ms, int *count)
{
	int64_t v;
	int err;

	if (callee_jid)
		err =
		    count_jobs(q, ES_COUNT_CALLEE, callee_jid, since_ms, 0, &v);
	else
		err =
		    count_jobs(q, ES_COUNT_SENDER, sender_jid, since_ms, 0, &v);
	if (!err)
		*count = v > INT_MAX ? INT_MAX : (int)v;
	return err;
}

int jobs_count_by_state(struct queue *q, int64_t *counts)
{
	return database_ints(q, ES_JOBS_BY_STATE, "counting jobs by state",
	                     counts, QUEUE_JOB_STATES, NULL, 0);
}

/* ---- claiming ------------------------------------------------------------ */

static int set_finished(struct queue *q, int64_t id, enum queue_job_state state,
                        int64_t now, const char *reason)
{
	return database_exec(q, ES_JOB_SET_FINISHED, "finishing a job", NULL,
	                     SQL_ARGS(SQL_INT(id), SQL_INT(state), SQL_INT(now),
	                              SQL_TEXT(reason)));
}

/* Job ID's state, owner and kind; -ENOENT when there is no such job. */
static int lease_info_read(struct queue *q, int64_t id, struct lease_info *li)
{
	memset(li, 0, sizeof(*li));
	return database_row(q, ES_JOB_LEASE_INFO, "reading a job",
	                    SQL_COLUMNS(lease_info_columns), li,
	                    SQL_ARGS(SQL_INT(id)));
}

/*
 * A job whose lease lapsed: *HEARD is set when its callee had already heard
 * everything (all messages, or the verification code), so that a crashed
 * bridge does not cause a second call for what was heard.
 */
static int expired_was_heard(struct queue *q, int64_t id, bool *heard)
{
	struct lease_info li;
	int err;

	*heard = false;
	err = lease_info_read(q, id, &li);
	if (err)
		return err == -ENOENT ? 0 : err;
	free(li.owner);

	if (li.kind == QUEUE_JOB_MESSAGE) {
		int64_t c[2]; /* all messages, unheard ones */

		err = database_ints(q, ES_MSG_COUNTS, "counting messages", c, 2,
		                    SQL_ARGS(SQL_INT(id)));
		if (err)
			return err == -ENOENT ? 0 : err;
		*heard = c[0] > 0 && c[1] == 0;
		return 0;
	}
	if (li.kind == QUEUE_JOB_VERIFY) {
		err = database_exists(
		    q, ES_EVENT_OF_TYPE, "looking for an event",
		    SQL_ARGS(SQL_INT(id), SQL_INT(QUEUE_EV_VERIFY_SPOKEN)));
		*heard = !err;
		return err == -ENOENT ? 0 : err;
	}
	return 0;
}

/* The claim query's row: C[0], C[1] the due queued job's id (0: none) and
 * next_attempt_ms, C[2], C[3] the lapsed job's. */
static int candidates(struct queue *q, int64_t now, int64_t c[4])
{
	int err = database_ints(q, ES_CLAIM_CANDIDATES, "looking for a due job",
	                        c, 4, SQL_ARGS(SQL_INT(now)));

	return err == -ENOENT ? 0 : err;
}

/* When the queue has something to claim next: the earlier of the next
 * queued job's time and the next lease's lapse, in one statement (a round
 * trip fewer on a server), 0 for never. */
static int next_due(struct queue *q, int64_t *due)
{
	int64_t t[2]; /* queued, lapse */
	int err = database_ints(q, ES_NEXT_DUE, "looking for the next due job",
	                        t, 2, SQL_NO_ARGS);

	*due = 0;
	if (err)
		return err;
	if (t[0] && t[1])
		*due = t[0] < t[1] ? t[0] : t[1];
	else
		*due = t[0] ? t[0] : t[1];
	return 0;
}

static int claim_in_tx(struct queue *q, const char *owner, int lease_ms,
                       struct queue_job **jobp, int64_t *next_due_ms)
{
	int64_t now = queue_now_ms(q), id;
	int64_t c[4]; /* a queued and a lapsed job: id, due */
	int64_t *qd = c, *ex = c + 2;
	bool expired, heard;
	int err;

	/* Where a statement costs a round trip, the common case (a job due,
	 * no lease lapsed) is claimed in one; the rest is looked at below. */
	if (!q->ops->statements_cheap) {
		err = job_claim_read(q, ES_CLAIM_DUE_RETURNING,
		                     SQL_ARGS(SQL_INT(now), SQL_TEXT(owner),
		                              SQL_INT(now + lease_ms)),
		                     jobp);
		if (err != -ENOENT)
			return err;
	}
	for (;;) {
		err = candidates(q, now, c);
		if (err)
			return err;
		if (!qd[0] && !ex[0]) {
			err = next_due(q, next_due_ms);
			return err ? err : -EAGAIN;
		}
		expired = ex[0] && (!qd[0] || ex[1] < qd[1] ||
		                    (ex[1] == qd[1] && ex[0] < qd[0]));
		id = expired ? ex[0] : qd[0];
		if (!expired)
			break;
		err = expired_was_heard(q, id, &heard);
		if (err)
			return err;
		if (!heard)
			break;
		/* Its bridge stopped after the callee heard it all. */
		err = set_finished(q, id, QUEUE_JOB_NOTIFIED, now,
		                   "heard before the bridge stopped");
		if (!err)
			err = events_insert(
			    q, id, QUEUE_EV_ENDED,
			    queue_job_state_name(QUEUE_JOB_NOTIFIED), NULL, 0,
			    now);
		if (err)
			return err;
		queue_changed(q, QUEUE_CH_EVENTS);
	}

	/* The claim returns the job as it wrote it, unless reading it after
	 * the write costs less (engine.h, statements_cheap). */
	if (!q->ops->statements_cheap)
		return job_claim_read(q, ES_JOB_CLAIM_RETURNING,
		                      SQL_ARGS(SQL_INT(id), SQL_TEXT(owner),
		                               SQL_INT(now + lease_ms)),
		                      jobp);
	err = database_exec(
	    q, ES_JOB_CLAIM, "claiming a job", NULL,
	    SQL_ARGS(SQL_INT(id), SQL_TEXT(owner), SQL_INT(now + lease_ms)));
	return err ? err : job_load(q, id, jobp);
}

int jobs_claim(struct queue *q, const char *owner, int lease_ms,
               struct queue_job **jobp, int64_t *next_due_ms)
{
	unsigned before = q->changed;
	int err = database_begin(q);

	if (err)
		return err;
	err = claim_in_tx(q, owner, lease_ms, jobp, next_due_ms);
	/* Nothing to claim still commits the jobs finished on the way. */
	if (err == -EAGAIN) {
		err = database_end(q, 0);
		if (!err)
			err = -EAGAIN;
	} else {
		err = database_end(q, err);
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

/* ---- leases, retries, finishing ------------------------------------------ */

int jobs_refusal(struct queue *q, int64_t id)
{
	int err = database_exists(q, ES_JOB_LEASE_INFO, "reading a job",
	                          SQL_ARGS(SQL_INT(id)));

	return err ? err : -EPERM;
}

int jobs_owner_check(struct queue *q, int64_t id, const char *owner, int *kind)
{
	struct lease_info li;
	int err;

	err = lease_info_read(q, id, &li);
	if (err)
		return err;
	if (li.state != QUEUE_JOB_ACTIVE || !li.owner ||
	    strcmp(li.owner, owner))
		err = -EPERM;
	if (kind)
		*kind = li.kind;
	free(li.owner);
	return err;
}

int jobs_lease_renew(struct queue *q, int64_t id, const char *owner,
                     int lease_ms)
{
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err = jobs_owner_check(q, id, owner, NULL);
	if (!err)
		err = database_exec(
		    q, ES_JOB_RENEW, "renewing a lease", NULL,
		    SQL_ARGS(SQL_INT(id), SQL_TEXT(owner),
		             SQL_INT(queue_now_ms(q) + lease_ms)));
	return database_end(q, err);
}

int jobs_leases_renew(struct queue *q, const char *owner, int lease_ms, int *n)
{
	int64_t changed = 0;
	int err;

	err = database_write(
	    q, ES_JOB_RENEW_ALL, "renewing leases", 0, &changed,
	    SQL_ARGS(SQL_TEXT(owner), SQL_INT(queue_now_ms(q) + lease_ms)));
	if (!err)
		*n = (int)changed;
	return err;
}

int jobs_writer_check(struct queue *q, int64_t id, const char *owner)
{
	struct lease_info li;
	int err;

	err = lease_info_read(q, id, &li);
	if (err)
		return err;
	/* Its lease owner stays on a job it ended, so that the ENDED event
	 * written after the finish is still its own. */
	if (li.state == QUEUE_JOB_QUEUED || !li.owner ||
	    strcmp(li.owner, owner))
		err = -EPERM;
	free(li.owner);
	return err;
}

int jobs_leases_held(struct queue *q, const char *owner, int64_t **ids,
                     size_t *n)
{
	int err;

	err = database_rows(q, ES_JOBS_HELD, "listing held jobs",
	                    SQL_COLUMNS(database_id_columns), sizeof(int64_t),
	                    (void **)ids, n, SQL_ARGS(SQL_TEXT(owner)));
	if (err) {
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
	return err;
}

int jobs_retry(struct queue *q, int64_t id, const char *owner,
               int64_t next_attempt_ms, const char *reason)
{
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err = jobs_owner_check(q, id, owner, NULL);
	if (!err)
		err = database_exec(q, ES_JOB_RETRY, "returning a job", NULL,
		                    SQL_ARGS(SQL_INT(id),
		                             SQL_INT(next_attempt_ms),
		                             SQL_TEXT(reason)));
	err = database_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}

/* Moves job ID's unheard messages, renumbered from 1, to a new queued job
 * of the same pair and snapshot, due now, unless the callee paused the pair
 * (key 9, usually in this very call: those messages stay where the server
 * keeps them). *MOVED: whether there were any. */
static int move_unheard(struct queue *q, int64_t id, int64_t now, bool *moved)
{
	int64_t *ids = NULL, new_id;
	size_t n = 0, i;
	int err;

	*moved = false;
	err = database_rows(q, ES_MSGS_UNHEARD, "reading unheard messages",
	                    SQL_COLUMNS(database_id_columns), sizeof(int64_t),
	                    (void **)&ids, &n,
	                    SQL_ARGS(SQL_INT(id), SQL_INT(now)));
	if (err || !n)
		goto out;
	err = database_exec(q, ES_JOB_FOLLOW_UP, "creating a follow-up job",
	                    NULL, SQL_ARGS(SQL_INT(id), SQL_INT(now)));
	if (err)
		goto out;
	new_id = database_last_insert_id(q);
	for (i = 0; i < n && !err; i++)
		err = database_exec(q, ES_MSG_MOVE, "moving a message", NULL,
		                    SQL_ARGS(SQL_INT(ids[i]), SQL_INT(new_id),
		                             SQL_INT((int64_t)i + 1)));
	*moved = !err;
out:
	free(ids);
	return err;
}

int jobs_finish(struct queue *q, int64_t id, const char *owner,
                enum queue_job_state state, const char *reason)
{
	struct finish_info fi = {0};
	int64_t now;
	bool moved = false;
	int err;

	err = database_begin(q);
	if (err)
		return err;
	now = queue_now_ms(q); /* after begin(), as in events_add() */
	if (q->ops->statements_cheap) {
		err = jobs_owner_check(q, id, owner, &fi.kind);
		if (!err)
			err = set_finished(q, id, state, now, reason);
		fi.unheard = 1; /* move_unheard() reads them */
	} else {
		/* The owner check, the write and the count of what is left
		 * unheard in one statement. */
		err = database_write_returning(
		    q, ES_JOB_FINISH_OWNED, "finishing a job",
		    SQL_COLUMNS(finish_info_columns), &fi,
		    SQL_ARGS(SQL_INT(id), SQL_INT(state), SQL_INT(now),
		             SQL_TEXT(reason), SQL_TEXT(owner)));
		if (err == -ENOENT)
			err = jobs_refusal(q, id);
	}
	/*
	 * A message that joined while the call was under way and was not
	 * read gets a call of its own. Not after a failure: the sender is
	 * told the call failed, and re-queueing would phone an unreachable
	 * (or refused) number for ever.
	 */
	if (!err && fi.kind == QUEUE_JOB_MESSAGE &&
	    state == QUEUE_JOB_NOTIFIED && fi.unheard > 0)
		err = move_unheard(q, id, now, &moved);
	err = database_end(q, err);
	if (!err && moved)
		queue_changed(q, QUEUE_CH_JOBS);
	return err;
}
