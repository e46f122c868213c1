/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The voice replies the component serves itself (schema 011): one row per
 * published name with its type, its bytes and when it expires. Kept in the
 * queue, not on one host's disk, so that any component sharing the queue
 * (a standby on another host included) serves every link handed out; the
 * expiry is on the queue's clock, so hosts with skewed clocks agree on it.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "database.h"
#include "queue_internal.h"

/* ES_AUDIO_GET, in order. */
static const struct sql_column audio_columns[] = {
    SQL_COLUMN_REQUIRED(TEXT, struct queue_audio, mime),
    {SQL_COL_BLOB, offsetof(struct queue_audio, bytes),
     offsetof(struct queue_audio, len), true},
    SQL_COLUMN(INT64, struct queue_audio, created_ms),
    SQL_COLUMN(INT64, struct queue_audio, expires_ms),
};

static bool audio_name_ok(const char *name)
{
	return name && *name && strlen(name) <= QUEUE_AUDIO_NAME_MAX;
}

int queue_audio_put(struct queue *q, const char *name, const char *mime,
                    const void *bytes, size_t len, int64_t ttl_ms)
{
	int64_t now;

	if (!q || !audio_name_ok(name) || !mime || !*mime ||
	    strlen(mime) > QUEUE_AUDIO_MIME_MAX || !bytes || !len ||
	    len > QUEUE_BLOB_MAX || ttl_ms <= 0)
		return -EINVAL;
	now = queue_now_ms(q);
	return database_write(
	    q, ES_AUDIO_PUT, "publishing a voice reply", 0, NULL,
	    SQL_ARGS(SQL_TEXT(name), SQL_TEXT(mime), SQL_BLOB(bytes, len),
	             SQL_INT(now), SQL_INT(now + ttl_ms)));
}

int queue_audio_get(struct queue *q, const char *name, struct queue_audio *out)
{
	int err;

	if (!q || !out || !audio_name_ok(name))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	err = database_row(q, ES_AUDIO_GET, "reading a voice reply",
	                   SQL_COLUMNS(audio_columns), out,
	                   SQL_ARGS(SQL_TEXT(name), SQL_INT(queue_now_ms(q))));
	if (!err && (!out->mime || !out->bytes)) {
		queue_audio_clear(out);
		err = -ENOENT; /* a row the schema forbids: never served */
	}
	return err;
}

void queue_audio_clear(struct queue_audio *a)
{
	if (a)
		database_row_clear(SQL_COLUMNS(audio_columns), a);
}

int queue_audio_expire(struct queue *q, int *deleted)
{
	int64_t changes = 0;
	int err;

	if (!q)
		return -EINVAL;
	err =
	    database_write(q, ES_AUDIO_EXPIRE, "deleting expired voice replies",
	                   0, &changes, SQL_ARGS(SQL_INT(queue_now_ms(q))));
	if (deleted)
		*deleted = err ? 0 : (int)changes;
	return err;
}
