/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The schema migrations embedded into the library at build time
 * (embed_schema.cmake generates the definitions from schemas/<back end>/).
 * A back end applies, in order, every migration above the version its
 * database records, inside one transaction.
 */
#ifndef RB_QUEUE_SCHEMA_H
#define RB_QUEUE_SCHEMA_H

#include <stddef.h>

struct queue_schema_migration {
	int version;              /* 1, 2, ...: the file's NNN prefix */
	const char *name;         /* the file name, for log lines */
	const unsigned char *sql; /* the file's text, NUL-terminated */
};

/* schemas/sqlite/, in version order; versions run 1..n without gaps. */
extern const struct queue_schema_migration queue_schema_sqlite[];
extern const size_t queue_schema_sqlite_n;

/* schemas/postgresql/, likewise. */
extern const struct queue_schema_migration queue_schema_pg[];
extern const size_t queue_schema_pg_n;

#endif
