/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Key 9's pauses (schema 010): a callee's "no more calls from this sender
 * today", one row per pair with the instant it ends. The bridge writes it
 * from the call's job; jobs.c reads it when a message is caught and when a
 * job is finished, so while it holds nothing of that pair is phoned.
 */
#include <errno.h>
#include <string.h>

#include "database.h"
#include "queue_internal.h"

int queue_pause_add(struct queue *q, int64_t job_id, int64_t until_ms)
{
	int64_t now, changes = 0;
	int err;

	if (!q)
		return -EINVAL;
	now = queue_now_ms(q);
	if (until_ms <= now)
		return -EINVAL;
	err = database_begin(q);
	if (err)
		return err;
	/* Expired rows go as new ones come: the table holds about one row
	 * per pair paused today, never a history. */
	err = database_exec(q, ES_PAUSE_EXPIRE, "dropping old pauses", NULL,
	                    SQL_ARGS(SQL_INT(now)));
	if (!err)
		err = database_exec(
		    q, ES_PAUSE_PUT, "pausing a sender", &changes,
		    SQL_ARGS(SQL_INT(job_id), SQL_INT(until_ms), SQL_INT(now)));
	if (!err && changes == 0)
		err = -ENOENT;
	return database_end(q, err);
}

int queue_pause_until(struct queue *q, const char *callee_jid,
                      const char *sender_jid, int64_t *until_ms)
{
	if (!q || !until_ms || !callee_jid || !*callee_jid ||
	    strlen(callee_jid) > QUEUE_JID_MAX || !sender_jid || !*sender_jid ||
	    strlen(sender_jid) > QUEUE_JID_MAX)
		return -EINVAL;
	return database_int(q, ES_PAUSE_UNTIL, "looking up a pause", 0,
	                    until_ms,
	                    SQL_ARGS(SQL_TEXT(callee_jid), SQL_TEXT(sender_jid),
	                             SQL_INT(queue_now_ms(q))));
}
