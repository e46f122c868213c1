/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Archive marks: per registered user, the end of the server's message
 * archive the component last looked at (schema 006), and what the queue
 * itself knows the component did for that user since (the newest caught
 * message, the newest outcome delivered). component/missed.c compares the
 * two after every reconnect to tell messages it missed from its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "queue_internal.h"

/* An XEP-0359 stable id: Prosody's are uuids (36), ejabberd's integers. */
#define ARCHIVE_ID_MAX 128

static const struct sql_column mark_columns[] = {
    SQL_COLUMN(TEXT, struct queue_archive_mark, end_id),
    SQL_COLUMN(INT64, struct queue_archive_mark, end_ms),
    SQL_COLUMN(INT64, struct queue_archive_mark, checked_ms),
};

static bool text_ok(const char *s, size_t max)
{
	return s && *s && strlen(s) <= max;
}

int queue_archive_mark_get(struct queue *q, const char *jid,
                           struct queue_archive_mark *out)
{
	if (!q || !out || !text_ok(jid, QUEUE_JID_MAX))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	return database_row(q, ES_MARK_GET, "reading an archive mark",
	                    SQL_COLUMNS(mark_columns), out,
	                    SQL_ARGS(SQL_TEXT(jid)));
}

int queue_archive_mark_put(struct queue *q, const char *jid, const char *end_id,
                           int64_t end_ms)
{
	if (!q || !text_ok(jid, QUEUE_JID_MAX) ||
	    !text_ok(end_id, ARCHIVE_ID_MAX) || end_ms < 0)
		return -EINVAL;
	return database_write(
	    q, ES_MARK_PUT, "storing an archive mark", 0, NULL,
	    SQL_ARGS(SQL_TEXT(jid), SQL_TEXT(end_id), SQL_INT(end_ms),
	             SQL_INT(queue_now_ms(q))));
}

void queue_archive_mark_clear(struct queue_archive_mark *m)
{
	if (!m)
		return;
	database_row_clear(SQL_COLUMNS(mark_columns), m);
}

int queue_archive_accounted(struct queue *q, const char *jid, int64_t *ms)
{
	int64_t v[2] = {0, 0};
	int err;

	if (!q || !ms || !text_ok(jid, QUEUE_JID_MAX))
		return -EINVAL;
	err = database_ints(q, ES_MARK_ACCOUNTED, "reading what was caught", v,
	                    2, SQL_ARGS(SQL_TEXT(jid)));
	if (err)
		return err;
	*ms = v[0] > v[1] ? v[0] : v[1];
	return 0;
}
