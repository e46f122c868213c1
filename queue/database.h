/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The few shapes every rule is made of, once, on top of the engine: the
 * transaction frame of a write call, one statement run with its arguments in
 * one line (fossil's db_int/db_exists are the model), and rows read into a
 * struct through a column table, one loop for every table. The rules files
 * use these and never the engine's step/column calls themselves.
 */
#ifndef RB_QUEUE_DATABASE_H
#define RB_QUEUE_DATABASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "queue_internal.h"

/* ---- arguments ----------------------------------------------------------- */

enum sql_arg_type {
	SQL_ARG_INT,
	SQL_ARG_TEXT, /* NULL binds NULL */
	SQL_ARG_BLOB, /* length 0 binds NULL */
};

/* One parameter of a statement, in order: ?1 (or $1) first. */
struct sql_arg {
	enum sql_arg_type type;
	int64_t i;
	const char *text;
	const void *blob;
	size_t len;
};

#define SQL_INT(v)                                                             \
	{                                                                      \
		.type = SQL_ARG_INT, .i = (int64_t)(v)                         \
	}
#define SQL_TEXT(v)                                                            \
	{                                                                      \
		.type = SQL_ARG_TEXT, .text = (v)                              \
	}
#define SQL_BLOB(p, n)                                                         \
	{                                                                      \
		.type = SQL_ARG_BLOB, .blob = (p), .len = (n)                  \
	}
/* The argument list of a call: SQL_ARGS(SQL_TEXT(jid), SQL_INT(now)). */
#define SQL_ARGS(...)                                                          \
	(const struct sql_arg[]){__VA_ARGS__},                                 \
	    sizeof((const struct sql_arg[]){__VA_ARGS__}) /                    \
	        sizeof(struct sql_arg)
#define SQL_NO_ARGS NULL, 0

/* ---- column tables --------------------------------------------------------
 */

enum sql_column_type {
	SQL_COL_INT64, /* int64_t */
	SQL_COL_INT,   /* int, or an enum (asserted int-sized where used) */
	SQL_COL_BOOL,  /* bool: non-zero */
	SQL_COL_TEXT,  /* char *: copied, or borrowed in walks; NULL stays */
	SQL_COL_BLOB,  /* unsigned char * at OFFSET, size_t at LEN_OFFSET */
};

/*
 * Column I of a row (in the order of the statement's SELECT list) goes to
 * the field at OFFSET of the row struct. REQUIRED: a row with NULL here is
 * skipped by walks (text columns the schema says NOT NULL).
 */
struct sql_column {
	enum sql_column_type type;
	size_t offset;
	size_t len_offset;
	bool required;
};

/* The column of FIELD in STRUCT_TYPE; SQL_COLUMN_REQUIRED: see above. */
#define SQL_COLUMN(type, struct_type, field)                                   \
	{                                                                      \
		SQL_COL_##type, offsetof(struct_type, field), 0, false         \
	}
#define SQL_COLUMN_REQUIRED(type, struct_type, field)                          \
	{                                                                      \
		SQL_COL_##type, offsetof(struct_type, field), 0, true          \
	}

#define SQL_COLUMNS(table) table, sizeof(table) / sizeof((table)[0])

/* ---- transactions -------------------------------------------------------- */

/*
 * Every write call runs between database_begin() and database_end(). Alone
 * it is its own transaction; inside a batch it is a savepoint, so a call that
 * fails is undone without undoing the rest of the batch (in a replayable
 * batch on an engine with dear savepoints, none: a call that fails fails the
 * batch, which its caller runs again call by call). database_end()
 * commits when ERR is 0, else rolls back, and returns the result.
 */
int database_begin(struct queue *q);
int database_end(struct queue *q, int err);

/* ---- one statement ------------------------------------------------------- */

/* Runs statement ID (no row wanted) inside the caller's transaction;
 * *CHANGES (may be NULL) gets the rows it changed. */
int database_exec(struct queue *q, enum engine_statement_id id,
                  const char *what, int64_t *changes,
                  const struct sql_arg *args, size_t n_args);

/* The write frame of a call made of one statement: begin, run, end, and on
 * success mark CHANNELS changed (0: none). */
int database_write(struct queue *q, enum engine_statement_id id,
                   const char *what, unsigned channels, int64_t *changes,
                   const struct sql_arg *args, size_t n_args);

/* The first column of the first row as an integer; DEF when there is no
 * row or the value is NULL. */
int database_int(struct queue *q, enum engine_statement_id id, const char *what,
                 int64_t def, int64_t *v, const struct sql_arg *args,
                 size_t n_args);

/* The first N columns of the first row as integers (NULL: 0); -ENOENT
 * when there is no row. */
int database_ints(struct queue *q, enum engine_statement_id id,
                  const char *what, int64_t *v, size_t n,
                  const struct sql_arg *args, size_t n_args);

/* 0 when statement ID returns a row, -ENOENT when it returns none. */
int database_exists(struct queue *q, enum engine_statement_id id,
                    const char *what, const struct sql_arg *args,
                    size_t n_args);

/* ---- rows ---------------------------------------------------------------- */

/* The first row into ROW (text copied; free what it holds
 * with database_row_clear()); -ENOENT when there is none. */
int database_row(struct queue *q, enum engine_statement_id id, const char *what,
                 const struct sql_column *cols, size_t n_cols, void *row,
                 const struct sql_arg *args, size_t n_args);

/* As database_row() for a write with RETURNING (a conditional write that
 * says what it wrote, in one round trip): a row back means a row written,
 * which a failure later in the same call must undo; -ENOENT when the
 * condition matched nothing. */
int database_write_returning(struct queue *q, enum engine_statement_id id,
                             const char *what, const struct sql_column *cols,
                             size_t n_cols, void *row,
                             const struct sql_arg *args, size_t n_args);

/*
 * As database_write_returning() for a write whose RETURNING is joined with
 * the rows of another table (one statement instead of two: a CTE and a
 * LEFT JOIN): the first N_COLS columns of the first row into ROW by COLS,
 * the columns after them of every row appended to *ARRAY by MORE (as
 * database_rows does), except a row whose required MORE column is NULL
 * (nothing joined). On error the caller frees ROW and the array as usual.
 */
int database_write_returning_joined(
    struct queue *q, enum engine_statement_id id, const char *what,
    const struct sql_column *cols, size_t n_cols, void *row,
    const struct sql_column *more, size_t n_more, size_t row_size, void **array,
    size_t *n, const struct sql_arg *args, size_t n_args);

/* A table of one column, a bare int64_t id (a row is the id itself), for
 * lists of ids and a RETURNING id. */
extern const struct sql_column database_id_columns[1];

/* Frees the text and blob fields COLS name in ROW and zeroes them. */
void database_row_clear(const struct sql_column *cols, size_t n_cols,
                        void *row);

/*
 * Every row into a growing array of ROW_SIZE elements at *ARRAY, *N of them
 * (appended to what is there: the array must have been grown by this
 * function only). On error the rows read so far stay, for the caller to
 * free as usual.
 */
int database_rows(struct queue *q, enum engine_statement_id id,
                  const char *what, const struct sql_column *cols,
                  size_t n_cols, size_t row_size, void **array, size_t *n,
                  const struct sql_arg *args, size_t n_args);

/*
 * Calls CB for every row, read into a ROW_SIZE struct whose text borrows
 * from the statement (valid during the call only); a non-zero return stops
 * and is returned. OWN: a statement of the walk's own, so CB may use the
 * handle freely (even start another walk).
 */
int database_foreach(struct queue *q, enum engine_statement_id id,
                     const char *what, bool own, const struct sql_column *cols,
                     size_t n_cols, size_t row_size,
                     int (*cb)(void *row, void *arg), void *arg,
                     const struct sql_arg *args, size_t n_args);

/* The id the last insert made. */
int64_t database_last_insert_id(struct queue *q);

#endif
