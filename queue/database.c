/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shapes of database.h on top of any engine: the write frame (a
 * transaction alone, a savepoint inside a batch), one-line statements, and
 * the column-table row reader every table's rules share. Knows nothing of
 * SQL dialects; the engine gives the statements by id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "log.h"
#include "str.h"

#define TAG "queue"

/* ---- transactions -------------------------------------------------------- */

int database_begin(struct queue *q)
{
	if (q->in_batch) {
		/* An I/O error may have rolled the whole batch back. */
		if (!q->ops->in_transaction(q->engine)) {
			log_err(TAG, "the batch was rolled back by %s",
			        q->ops->name);
			return -EIO;
		}
		if (q->batch_bare) {
			q->call_dirty = false;
			return q->batch_err ? -ECANCELED : 0;
		}
		return q->ops->savepoint(q->engine);
	}
	return q->ops->begin(q->engine);
}

int database_end(struct queue *q, int err)
{
	int e2;

	if (q->in_batch && q->batch_bare) {
		/* Nothing undoes this call alone: the batch is run again, but
		 * only if there is something to undo (a refusal before any
		 * write, as a lease held by another, leaves the batch be). */
		if (err && q->call_dirty && !q->batch_err)
			q->batch_err = err;
		return err;
	}
	if (q->in_batch) {
		if (err && q->ops->in_transaction(q->engine))
			q->ops->savepoint_rollback(q->engine);
		if (q->ops->in_transaction(q->engine))
			q->ops->savepoint_release(q->engine);
		return err;
	}
	if (!err) {
		e2 = q->ops->commit(q->engine);
		if (!e2)
			return 0;
		err = e2;
	}
	q->ops->rollback(q->engine);
	return err;
}

/* ---- statements ---------------------------------------------------------- */

/* The engine's step(); a statement that fails marks the call dirty (on
 * PostgreSQL it aborted the transaction). */
static int step(struct queue *q, struct engine_statement *st, bool *row,
                const char *what)
{
	int err = q->ops->step(q->engine, st, row, what);

	if (err)
		q->call_dirty = true;
	return err;
}

/* Statement ID with ARGS bound; *STP NULL on error. */
static int prepare(struct queue *q, enum engine_statement_id id, bool own,
                   const struct sql_arg *args, size_t n_args,
                   struct engine_statement **stp)
{
	struct engine_statement *st;
	size_t i;
	int err;

	err = q->ops->statement(q->engine, id, own, stp);
	if (err)
		return err;
	st = *stp;
	for (i = 0; i < n_args; i++) {
		const struct sql_arg *a = &args[i];
		int n = (int)i + 1;

		switch (a->type) {
		case SQL_ARG_INT:
			q->ops->bind_int(st, n, a->i);
			break;
		case SQL_ARG_TEXT:
			q->ops->bind_text(st, n, a->text);
			break;
		case SQL_ARG_BLOB:
			q->ops->bind_blob(st, n, a->blob, a->len);
			break;
		}
	}
	return 0;
}

/* Runs statement ID to its first row and gives it back; *ROW: there was
 * one. */
static int run_once(struct queue *q, enum engine_statement_id id,
                    const char *what, const struct sql_arg *args, size_t n_args,
                    bool *row)
{
	struct engine_statement *st;
	int err;

	*row = false;
	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	err = step(q, st, row, what);
	q->ops->release(q->engine, st);
	return err;
}

int database_exec(struct queue *q, enum engine_statement_id id,
                  const char *what, int64_t *changes,
                  const struct sql_arg *args, size_t n_args)
{
	bool row;
	int err = run_once(q, id, what, args, n_args, &row);
	int64_t n = err ? 0 : q->ops->changes(q->engine);

	if (n > 0)
		q->call_dirty = true; /* a write a failure must undo */
	if (!err && changes)
		*changes = n;
	return err;
}

int database_write(struct queue *q, enum engine_statement_id id,
                   const char *what, unsigned channels, int64_t *changes,
                   const struct sql_arg *args, size_t n_args)
{
	int err = database_begin(q);

	if (err)
		return err;
	err = database_exec(q, id, what, changes, args, n_args);
	err = database_end(q, err);
	if (!err)
		queue_changed(q, channels);
	return err;
}

int database_int(struct queue *q, enum engine_statement_id id, const char *what,
                 int64_t def, int64_t *v, const struct sql_arg *args,
                 size_t n_args)
{
	struct engine_statement *st;
	bool row;
	int err;

	*v = def;
	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	err = step(q, st, &row, what);
	if (!err && row && !q->ops->column_null(st, 0))
		*v = q->ops->column_int(st, 0);
	q->ops->release(q->engine, st);
	return err;
}

int database_ints(struct queue *q, enum engine_statement_id id,
                  const char *what, int64_t *v, size_t n,
                  const struct sql_arg *args, size_t n_args)
{
	struct engine_statement *st;
	bool row;
	size_t i;
	int err;

	memset(v, 0, n * sizeof(*v));
	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	err = step(q, st, &row, what);
	if (!err && !row)
		err = -ENOENT;
	for (i = 0; !err && i < n; i++)
		v[i] = q->ops->column_int(st, (int)i);
	q->ops->release(q->engine, st);
	return err;
}

int database_exists(struct queue *q, enum engine_statement_id id,
                    const char *what, const struct sql_arg *args, size_t n_args)
{
	bool row;
	int err = run_once(q, id, what, args, n_args, &row);

	return !err && !row ? -ENOENT : err;
}

int64_t database_last_insert_id(struct queue *q)
{
	return q->ops->last_insert_id(q->engine);
}

/* ---- rows ---------------------------------------------------------------- */

/* Fills ROW from the current row of ST by COLS. BORROW: text points into
 * the statement. *SKIP: a required column is NULL. */
static int row_read_from(struct queue *q, struct engine_statement *st,
                         size_t first, const struct sql_column *cols,
                         size_t n_cols, void *row, bool borrow, bool *skip)
{
	char *base = row;
	size_t i;
	int err = 0;

	*skip = false;
	for (i = 0; i < n_cols; i++) {
		const struct sql_column *c = &cols[i];
		void *f = base + c->offset;
		int col = (int)(first + i);

		if (c->required && q->ops->column_null(st, col))
			*skip = true;
		switch (c->type) {
		case SQL_COL_INT64:
			*(int64_t *)f = q->ops->column_int(st, col);
			break;
		case SQL_COL_INT:
			*(int *)f = (int)q->ops->column_int(st, col);
			break;
		case SQL_COL_BOOL:
			*(bool *)f = q->ops->column_int(st, col) != 0;
			break;
		case SQL_COL_TEXT: {
			const char *t = q->ops->column_text(st, col);

			*(char **)f =
			    borrow ? (char *)t : str_dup_or_null(t, &err);
			break;
		}
		case SQL_COL_BLOB: {
			size_t len = 0;
			const void *b = q->ops->column_blob(st, col, &len);
			unsigned char *d = NULL;

			if (b && len > 0 && borrow) {
				d = (unsigned char *)b;
			} else if (b && len > 0) {
				d = malloc(len);
				if (d)
					memcpy(d, b, len);
				else
					err = -ENOMEM;
			}
			*(unsigned char **)f = d;
			*(size_t *)(base + c->len_offset) = d ? len : 0;
			break;
		}
		}
	}
	return err;
}

/* Fills ROW from the current row of ST, its columns from the first on. */
static int row_read(struct queue *q, struct engine_statement *st,
                    const struct sql_column *cols, size_t n_cols, void *row,
                    bool borrow, bool *skip)
{
	return row_read_from(q, st, 0, cols, n_cols, row, borrow, skip);
}

void database_row_clear(const struct sql_column *cols, size_t n_cols, void *row)
{
	char *base = row;
	size_t i;

	for (i = 0; i < n_cols; i++) {
		void **f = (void **)(base + cols[i].offset);

		if (cols[i].type != SQL_COL_TEXT &&
		    cols[i].type != SQL_COL_BLOB)
			continue;
		free(*f);
		*f = NULL;
		if (cols[i].type == SQL_COL_BLOB)
			*(size_t *)(base + cols[i].len_offset) = 0;
	}
}

int database_row(struct queue *q, enum engine_statement_id id, const char *what,
                 const struct sql_column *cols, size_t n_cols, void *row,
                 const struct sql_arg *args, size_t n_args)
{
	struct engine_statement *st;
	bool found, skip;
	int err;

	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	err = step(q, st, &found, what);
	if (!err && !found)
		err = -ENOENT;
	if (!err) {
		err = row_read(q, st, cols, n_cols, row, false, &skip);
		if (err)
			database_row_clear(cols, n_cols, row);
	}
	q->ops->release(q->engine, st);
	return err;
}

const struct sql_column database_id_columns[1] = {
    {SQL_COL_INT64, 0, 0, false},
};

int database_write_returning(struct queue *q, enum engine_statement_id id,
                             const char *what, const struct sql_column *cols,
                             size_t n_cols, void *row,
                             const struct sql_arg *args, size_t n_args)
{
	int err = database_row(q, id, what, cols, n_cols, row, args, n_args);

	/* A row that could not be read was still written. */
	if (err != -ENOENT)
		q->call_dirty = true;
	return err;
}

/* The capacity an array of N grown by database_rows() has: 4, 8, 16... */
static size_t rows_cap(size_t n)
{
	size_t cap = 4;

	while (cap < n)
		cap *= 2;
	return cap;
}

/* Reads ST's current row, from column FIRST on, as a new element at the
 * end of *ARRAY (see database_rows); ONLY_COMPLETE: a row whose required
 * column is NULL (a LEFT JOIN's missing side) is not kept. */
static int rows_append(struct queue *q, struct engine_statement *st,
                       size_t first, const struct sql_column *cols,
                       size_t n_cols, size_t row_size, void **array, size_t *n,
                       bool only_complete)
{
	char *a = *array;
	bool skip;
	int err;

	if (!a || *n == rows_cap(*n)) {
		size_t cap = a ? rows_cap(*n) * 2 : rows_cap(*n);

		a = realloc(a, cap * row_size);
		if (!a)
			return -ENOMEM;
		*array = a;
	}
	memset(a + *n * row_size, 0, row_size);
	(*n)++;
	err = row_read_from(q, st, first, cols, n_cols, a + (*n - 1) * row_size,
	                    false, &skip);
	if (!err && skip && only_complete) {
		database_row_clear(cols, n_cols, a + (*n - 1) * row_size);
		(*n)--;
	}
	return err;
}

int database_rows(struct queue *q, enum engine_statement_id id,
                  const char *what, const struct sql_column *cols,
                  size_t n_cols, size_t row_size, void **array, size_t *n,
                  const struct sql_arg *args, size_t n_args)
{
	struct engine_statement *st;
	bool row;
	int err;

	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	for (;;) {
		err = step(q, st, &row, what);
		if (err || !row)
			break;
		err = rows_append(q, st, 0, cols, n_cols, row_size, array, n,
		                  false);
		if (err)
			break;
	}
	q->ops->release(q->engine, st);
	return err;
}

int database_write_returning_joined(
    struct queue *q, enum engine_statement_id id, const char *what,
    const struct sql_column *cols, size_t n_cols, void *row,
    const struct sql_column *more, size_t n_more, size_t row_size, void **array,
    size_t *n, const struct sql_arg *args, size_t n_args)
{
	struct engine_statement *st;
	bool found, skip, any = false;
	int err;

	err = prepare(q, id, false, args, n_args, &st);
	if (err)
		return err;
	for (;;) {
		err = step(q, st, &found, what);
		if (err || !found)
			break;
		if (!any) {
			any = true;
			/* A row back means a row written. */
			q->call_dirty = true;
			err = row_read(q, st, cols, n_cols, row, false, &skip);
			if (err)
				break;
		}
		err = rows_append(q, st, n_cols, more, n_more, row_size, array,
		                  n, true);
		if (err)
			break;
	}
	q->ops->release(q->engine, st);
	if (!err && !any)
		err = -ENOENT;
	return err;
}

int database_foreach(struct queue *q, enum engine_statement_id id,
                     const char *what, bool own, const struct sql_column *cols,
                     size_t n_cols, size_t row_size,
                     int (*cb)(void *row, void *arg), void *arg,
                     const struct sql_arg *args, size_t n_args)
{
	struct engine_statement *st;
	bool row, skip;
	void *r;
	int err;

	r = malloc(row_size);
	if (!r)
		return -ENOMEM;
	err = prepare(q, id, own, args, n_args, &st);
	if (err) {
		free(r);
		return err;
	}
	for (;;) {
		err = step(q, st, &row, what);
		if (err || !row)
			break;
		memset(r, 0, row_size);
		err = row_read(q, st, cols, n_cols, r, true, &skip);
		if (err)
			break;
		if (skip)
			continue;
		err = cb(r, arg);
		if (err)
			break;
	}
	q->ops->release(q->engine, st);
	free(r);
	return err;
}
