/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The events table's rules, once for every engine: what the bridge reports
 * about a job (a "heard" event marks the job's messages heard, which is what
 * keeps a crashed bridge's job from being phoned again), and the
 * component's reading and acknowledging of them.
 */
#include <errno.h>
#include <stdlib.h>

#include "database.h"
#include "queue_internal.h"

_Static_assert(sizeof(enum queue_event_type) == sizeof(int) &&
                   sizeof(enum queue_job_kind) == sizeof(int),
               "the column tables read enums as int");

#define EVENT_FIELD(type, field) SQL_COLUMN(type, struct queue_event, field)

/* ES_EVENTS_UNDELIVERED and ES_EVENTS_FOR_JOB, in order. */
static const struct sql_column event_columns[] = {
    EVENT_FIELD(INT64, id),
    EVENT_FIELD(INT64, job_id),
    EVENT_FIELD(INT, type),
    EVENT_FIELD(TEXT, detail),
    {SQL_COL_BLOB, offsetof(struct queue_event, blob),
     offsetof(struct queue_event, blob_len), false},
    EVENT_FIELD(INT64, created_ms),
    EVENT_FIELD(INT, job_kind),
    EVENT_FIELD(TEXT, callee_jid),
    EVENT_FIELD(TEXT, sender_jid),
    EVENT_FIELD(TEXT, reply_from),
};

void queue_event_array_free(struct queue_event *evs, size_t n)
{
	size_t i;

	if (!evs)
		return;
	for (i = 0; i < n; i++)
		database_row_clear(SQL_COLUMNS(event_columns), &evs[i]);
	free(evs);
}

int events_insert(struct queue *q, int64_t job_id, enum queue_event_type type,
                  const char *detail, const void *blob, size_t blob_len,
                  int64_t now)
{
	return database_exec(q, ES_EVENT_INSERT, "storing an event", NULL,
	                     SQL_ARGS(SQL_INT(job_id), SQL_INT(type),
	                              SQL_TEXT(detail),
	                              SQL_BLOB(blob, blob_len), SQL_INT(now)));
}

int events_add(struct queue *q, int64_t job_id, const char *owner,
               enum queue_event_type type, const char *detail, const void *blob,
               size_t blob_len, int64_t *event_id)
{
	int64_t now, heard_seq = 0;
	/* Where statements are round trips a holder's HEARD marks its
	 * messages in the insert's own statement (ES_EVENT_HEARD_OWNED). */
	bool owned = owner && !q->ops->statements_cheap;
	bool heard = type == QUEUE_EV_HEARD;
	int err;

	/* A HEARD event's detail: the last message heard (its seq). */
	if (heard)
		heard_seq = strtoll(detail, NULL, 10);

	/* The clock after begin(): on PostgreSQL the transaction's reading,
	 * not a round trip of its own. */
	err = database_begin(q);
	if (err)
		return err;
	now = queue_now_ms(q);
	/*
	 * A bridge's event is refused once another bridge took the job over
	 * (the check and the insert in one statement where statements are
	 * round trips): a late HEARD from the bridge that lost it would
	 * otherwise mark messages heard that the new call may not have read.
	 * Its lease owner stays on a job it ended, so the ENDED event
	 * written after the finish is still its own.
	 */
	if (owned) {
		/* ES_EVENT_INSERT_OWNED's six arguments, and the seq HEARD's
		 * statement takes as its seventh. */
		const struct sql_arg args[] = {
		    SQL_INT(job_id),          SQL_INT(type), SQL_TEXT(detail),
		    SQL_BLOB(blob, blob_len), SQL_INT(now),  SQL_TEXT(owner),
		    SQL_INT(heard_seq)};

		err = database_write_returning(
		    q, heard ? ES_EVENT_HEARD_OWNED : ES_EVENT_INSERT_OWNED,
		    "storing an event", SQL_COLUMNS(database_id_columns),
		    event_id, args, heard ? 7 : 6);
		if (err == -ENOENT)
			err = jobs_refusal(q, job_id);
	} else {
		if (owner)
			err = jobs_writer_check(q, job_id, owner);
		else
			err = database_exists(q, ES_JOB_LEASE_INFO,
			                      "reading a job",
			                      SQL_ARGS(SQL_INT(job_id)));
		if (!err)
			err = events_insert(q, job_id, type, detail, blob,
			                    blob_len, now);
		if (!err)
			*event_id = database_last_insert_id(q);
	}
	if (!err && heard && !owned)
		err = database_exec(
		    q, ES_MSGS_MARK_HEARD, "marking messages heard", NULL,
		    SQL_ARGS(SQL_INT(job_id), SQL_INT(heard_seq)));
	err = database_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_EVENTS);
	return err;
}

/* The rows of statement ID into a new array; NULL when there are none. */
static int events_read(struct queue *q, enum engine_statement_id id,
                       int64_t arg, struct queue_event **evs, size_t *n)
{
	struct queue_event *a = NULL;
	size_t count = 0;
	int err;

	err = database_rows(q, id, "reading events", SQL_COLUMNS(event_columns),
	                    sizeof(*a), (void **)&a, &count,
	                    SQL_ARGS(SQL_INT(arg)));
	if (err) {
		queue_event_array_free(a, count);
		return err;
	}
	*evs = a;
	*n = count;
	return 0;
}

int events_fetch_undelivered(struct queue *q, int limit,
                             struct queue_event **evs, size_t *n)
{
	return events_read(q, ES_EVENTS_UNDELIVERED, limit, evs, n);
}

int events_fetch_for_job(struct queue *q, int64_t job_id,
                         struct queue_event **evs, size_t *n)
{
	return events_read(q, ES_EVENTS_FOR_JOB, job_id, evs, n);
}

int events_mark_delivered(struct queue *q, const int64_t *ids, size_t n)
{
	int64_t now;
	size_t i;
	int err;

	err = database_begin(q);
	if (err)
		return err;
	now = queue_now_ms(q); /* after begin(), as in events_add() */
	for (i = 0; i < n && !err; i++)
		err = database_exec(q, ES_EVENT_DELIVERED,
		                    "marking an event delivered", NULL,
		                    SQL_ARGS(SQL_INT(ids[i]), SQL_INT(now)));
	return database_end(q, err);
}

/* ES_CALLS_BY_HOUR's row. */
struct hour_count {
	int64_t hour;
	int64_t count;
};

static const struct sql_column hour_columns[] = {
    SQL_COLUMN(INT64, struct hour_count, hour),
    SQL_COLUMN(INT64, struct hour_count, count),
};

struct hours_walk {
	int64_t first_hour;
	int64_t *counts;
	size_t n;
};

static int hour_one(void *row, void *arg)
{
	const struct hour_count *h = row;
	struct hours_walk *w = arg;

	/* A clock that went back can give an hour after the range. */
	if (h->hour >= w->first_hour && h->hour - w->first_hour < (int64_t)w->n)
		w->counts[h->hour - w->first_hour] = h->count;
	return 0;
}

int events_calls_per_hour(struct queue *q, int64_t first_hour, int64_t *counts,
                          size_t n)
{
	struct hours_walk w = {first_hour, counts, n};

	return database_foreach(q, ES_CALLS_BY_HOUR, "counting calls by hour",
	                        false, SQL_COLUMNS(hour_columns),
	                        sizeof(struct hour_count), hour_one, &w,
	                        SQL_ARGS(SQL_INT(first_hour * 3600000)));
}
