/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Copying a whole queue into another, of any engine (ringbridgectl
 * migrate-queue: an operator who grows from SQLite to PostgreSQL). The
 * durable tables are copied row by row, ids kept so that messages and
 * events stay with their jobs, in one transaction on the target: a copy
 * that fails leaves the target as it was. What only running processes
 * mean (leases, the component's and bridges' status rows) is not copied.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "queue_internal.h"

#define TAG "queue"

/*
 * The schema the column lists below describe. A migration that adds a
 * column must add it here and raise this, or the copy refuses to run
 * rather than drop the column's values.
 */
#define COPY_SCHEMA_VERSION 12

struct copy_table {
	const char *name;
	const char *cols;
	const char *types; /* one per column: i(nteger), t(ext), b(lob) */
	const char *order;
	bool ids; /* an id column whose sequence must follow the copy */
};

/* In an order that keeps references whole: jobs before their children. */
static const struct copy_table copy_tables[] = {
    {"registrations",
     "jid, phone, verified, verify_code, verify_failures, tz, lang, "
     "call_when, quiet_start, quiet_end, roster_only, sip_presence, "
     "push_node, created_ms, updated_ms, gate, phone2, phone3, verified2, "
     "verified3, wait_minutes, ring_through, quiet_mode",
     "ttitittiiiittiiittiiiti", "jid", false},
    {"jobs",
     "id, kind, state, callee_jid, destination, tz, lang, sender_jid, "
     "sender_name, reply_from, verify_code, attempts, created_ms, "
     "not_before_ms, next_attempt_ms, lease_owner, lease_deadline_ms, "
     "last_reason, finished_ms, gate, destination2, destination3, "
     "seen_until_ms",
     "iiittttttttiiiititiitti", "id", true},
    {"job_messages",
     "id, job_id, seq, sender_jid, body, encrypted, heard, received_ms, "
     "idem_key",
     "iiittiiit", "id", true},
    {"events", "id, job_id, type, detail, blob, created_ms, delivered_ms",
     "iiitbii", "id", true},
    {"presence", "jid, source, state, status, updated_ms", "tttti",
     "jid, source", false},
    {"gateway_subscriptions", "contact, subscriber, user_jid, created_ms",
     "ttti", "contact, subscriber", false},
    {"archive_marks", "jid, end_id, end_ms, checked_ms", "ttii", "jid", false},
    /* Key 9's pauses: "no more calls today" survives a move. */
    {"sender_pauses", "callee_jid, sender_jid, until_ms, created_ms", "ttii",
     "callee_jid, sender_jid", false},
    /* The component's voice replies: links already sent keep working. */
    {"published_audio", "name, mime, bytes, created_ms, expires_ms", "ttbii",
     "name", false},
};

#define N_TABLES (sizeof(copy_tables) / sizeof(copy_tables[0]))

static size_t n_cols(const struct copy_table *t)
{
	size_t n = 1;

	for (const char *p = t->cols; *p; p++)
		n += *p == ',';
	return n;
}

/* Runs SQL on Q's engine to its first row; *V its first column if V. */
static int sql_int(struct queue *q, const char *sql, int64_t *v,
                   const char *what)
{
	struct engine_statement *st;
	bool row = false;
	int err;

	err = q->ops->statement_sql(q->engine, sql, &st);
	if (err)
		return err;
	err = q->ops->step(q->engine, st, &row, what);
	if (!err && v)
		*v = row ? q->ops->column_int(st, 0) : 0;
	q->ops->release(q->engine, st);
	return err;
}

static int target_rows(struct queue *to, int64_t *rows)
{
	char sql[128];
	int64_t n;
	int err = 0;

	*rows = 0;
	for (size_t i = 0; i < N_TABLES && !err; i++) {
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s",
		         copy_tables[i].name);
		err = sql_int(to, sql, &n, "counting the target's rows");
		*rows += n;
	}
	return err;
}

/* Binds column I of the source's row to parameter I + 1 of INS. */
static void bind_column(struct queue *from, struct engine_statement *row,
                        struct queue *to, struct engine_statement *ins, int i,
                        char type)
{
	const void *blob;
	size_t len;

	if (from->ops->column_null(row, i)) {
		to->ops->bind_text(ins, i + 1, NULL);
		return;
	}
	switch (type) {
	case 'i':
		to->ops->bind_int(ins, i + 1, from->ops->column_int(row, i));
		break;
	case 'b':
		blob = from->ops->column_blob(row, i, &len);
		to->ops->bind_blob(ins, i + 1, blob, len);
		break;
	default:
		to->ops->bind_text(ins, i + 1, from->ops->column_text(row, i));
	}
}

static int table_copy(struct queue *from, struct queue *to,
                      const struct copy_table *t,
                      struct queue_copy_count *count)
{
	struct engine_statement *sel = NULL, *ins = NULL;
	char sql[1024], params[160] = "";
	size_t n = n_cols(t), k = 0;
	bool row;
	int err;

	if (strlen(t->types) != n) {
		log_err(TAG, "copying %s: %zu columns but %zu types", t->name,
		        n, strlen(t->types));
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(params + k, sizeof(params) - k, "%s$%zu",
		                      i ? ", " : "", i + 1);
	snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", t->cols,
	         t->name, t->order);
	err = from->ops->statement_sql(from->engine, sql, &sel);
	if (err)
		return err;
	/* A row already there is left as it is: a copy into a target that
	 * holds part of the source (a copy run again) adds the rest. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING",
	         t->name, t->cols, params);
	for (;;) {
		err = from->ops->step(from->engine, sel, &row, "reading rows");
		if (err || !row)
			break;
		err = to->ops->statement_sql(to->engine, sql, &ins);
		if (err)
			break;
		for (size_t i = 0; i < n; i++)
			bind_column(from, sel, to, ins, (int)i, t->types[i]);
		err = to->ops->step(to->engine, ins, &row, "copying a row");
		if (!err) {
			if (to->ops->changes(to->engine) > 0)
				count->copied++;
			else
				count->skipped++;
		}
		to->ops->release(to->engine, ins);
		if (err)
			break;
	}
	from->ops->release(from->engine, sel);
	if (!err && t->ids && to->ops->ids_follow)
		err = to->ops->ids_follow(to->engine, t->name);
	return err;
}

int queue_copy(struct queue *from, struct queue *to, bool into_non_empty,
               struct queue_copy_count *counts, size_t *n_counts)
{
	int vf = 0, vt = 0, err;
	int64_t rows = 0;

	_Static_assert(N_TABLES == QUEUE_COPY_TABLES, "queue.h's count");
	if (!from || !to || !counts || !n_counts || *n_counts < N_TABLES)
		return -EINVAL;
	memset(counts, 0, sizeof(*counts) * N_TABLES);
	err = from->ops->schema_version(from->engine, &vf);
	if (!err)
		err = to->ops->schema_version(to->engine, &vt);
	if (err)
		return err;
	if (vf != COPY_SCHEMA_VERSION || vt != COPY_SCHEMA_VERSION) {
		log_err(TAG,
		        "cannot copy: this build copies queues at schema %d; "
		        "the source is at %d, the target at %d",
		        COPY_SCHEMA_VERSION, vf, vt);
		return -EPROTO;
	}
	/* The source in a transaction too: one consistent view, and on
	 * SQLite no writer between the tables. */
	err = from->ops->begin(from->engine);
	if (err)
		return err;
	err = to->ops->begin(to->engine);
	if (err)
		goto out_from;
	err = target_rows(to, &rows);
	if (!err && rows && !into_non_empty) {
		log_err(TAG,
		        "the target queue is not empty (%lld rows): nothing "
		        "copied",
		        (long long)rows);
		err = -ENOTEMPTY;
	}
	for (size_t i = 0; i < N_TABLES && !err; i++) {
		counts[i].table = copy_tables[i].name;
		err = table_copy(from, to, &copy_tables[i], &counts[i]);
	}
	if (!err)
		err = to->ops->commit(to->engine);
	else
		to->ops->rollback(to->engine);
out_from:
	from->ops->rollback(from->engine);
	if (!err)
		*n_counts = N_TABLES;
	return err;
}
