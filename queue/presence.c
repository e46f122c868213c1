/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The presence and gateway_subscriptions tables' rules, once for every
 * engine: the presence rows each side writes ("sip" from the bridge: on the
 * phone or not; the component's own), and who subscribed to which gateway
 * contact, so the component knows whom to tell.
 */
#include <errno.h>
#include <stdlib.h>

#include "database.h"
#include "queue_internal.h"

/* ES_PRES_LIST, in order; ES_PRES_GET is its last three. */
static const struct sql_column presence_columns[] = {
    SQL_COLUMN_REQUIRED(TEXT, struct queue_presence, jid),
    SQL_COLUMN_REQUIRED(TEXT, struct queue_presence, source),
    SQL_COLUMN_REQUIRED(TEXT, struct queue_presence, state),
    SQL_COLUMN(TEXT, struct queue_presence, status),
    SQL_COLUMN(INT64, struct queue_presence, updated_ms),
};

int presence_row_set(struct queue *q, const char *jid, const char *source,
                     const char *state, const char *status)
{
	return database_write(
	    q, ES_PRES_SET, "storing presence", QUEUE_CH_PRESENCE, NULL,
	    SQL_ARGS(SQL_TEXT(jid), SQL_TEXT(source), SQL_TEXT(state),
	             SQL_TEXT(status), SQL_INT(queue_now_ms(q))));
}

int presence_row_get(struct queue *q, const char *jid, const char *source,
                     char **state, char **status, int64_t *updated_ms)
{
	struct queue_presence p = {0};
	int err;

	err = database_row(q, ES_PRES_GET, "reading presence",
	                   presence_columns + 2, 3, &p,
	                   SQL_ARGS(SQL_TEXT(jid), SQL_TEXT(source)));
	if (err)
		return err;
	if (state)
		*state = p.state;
	else
		free(p.state);
	if (status)
		*status = p.status;
	else
		free(p.status);
	if (updated_ms)
		*updated_ms = p.updated_ms;
	return 0;
}

struct presence_walk {
	int (*cb)(const struct queue_presence *p, void *arg);
	void *arg;
};

static int presence_one(void *row, void *arg)
{
	struct presence_walk *w = arg;

	return w->cb(row, w->arg);
}

/* A statement of its own: a listing runs rarely and may nest a callback
 * that uses the handle's statements. */
int presence_row_foreach(struct queue *q, const char *source, int64_t since_ms,
                         int (*cb)(const struct queue_presence *p, void *arg),
                         void *arg)
{
	struct presence_walk w = {cb, arg};

	return database_foreach(q, ES_PRES_LIST, "listing presence", true,
	                        SQL_COLUMNS(presence_columns),
	                        sizeof(struct queue_presence), presence_one, &w,
	                        SQL_ARGS(SQL_TEXT(source), SQL_INT(since_ms)));
}

/* ---- gateway-contact subscriptions --------------------------------------- */

int gateway_subscription_add(struct queue *q, const char *contact,
                             const char *subscriber, const char *user_jid)
{
	return database_write(
	    q, ES_GWSUB_ADD, "storing a subscription", 0, NULL,
	    SQL_ARGS(SQL_TEXT(contact), SQL_TEXT(subscriber),
	             SQL_TEXT(user_jid), SQL_INT(queue_now_ms(q))));
}

int gateway_subscription_remove(struct queue *q, const char *contact,
                                const char *subscriber)
{
	int64_t changed = 0;
	int err;

	err = database_write(q, ES_GWSUB_REMOVE, "removing a subscription", 0,
	                     &changed,
	                     SQL_ARGS(SQL_TEXT(contact), SQL_TEXT(subscriber)));
	return !err && changed == 0 ? -ENOENT : err;
}

int gateway_subscription_exists(struct queue *q, const char *contact,
                                const char *subscriber)
{
	return database_exists(
	    q, ES_GWSUB_EXISTS, "reading a subscription",
	    SQL_ARGS(SQL_TEXT(contact), SQL_TEXT(subscriber)));
}

int gateway_subscription_count(struct queue *q, const char *contact, int *count)
{
	int64_t n = 0;
	int err;

	err = database_int(q, ES_GWSUB_COUNT, "counting subscriptions", 0, &n,
	                   SQL_ARGS(SQL_TEXT(contact)));
	*count = (int)n;
	return err;
}

/* ES_GWSUB_LIST's row. */
struct subscription {
	char *contact;
	char *subscriber;
	char *user_jid;
};

static const struct sql_column subscription_columns[] = {
    SQL_COLUMN_REQUIRED(TEXT, struct subscription, contact),
    SQL_COLUMN_REQUIRED(TEXT, struct subscription, subscriber),
    SQL_COLUMN_REQUIRED(TEXT, struct subscription, user_jid),
};

struct subscription_walk {
	int (*cb)(const char *contact, const char *subscriber,
	          const char *user_jid, void *arg);
	void *arg;
};

static int subscription_one(void *row, void *arg)
{
	struct subscription_walk *w = arg;
	struct subscription *s = row;

	return w->cb(s->contact, s->subscriber, s->user_jid, w->arg);
}

int gateway_subscription_foreach(struct queue *q, const char *user_jid,
                                 int (*cb)(const char *contact,
                                           const char *subscriber,
                                           const char *user_jid, void *arg),
                                 void *arg)
{
	struct subscription_walk w = {cb, arg};

	return database_foreach(q, ES_GWSUB_LIST, "listing subscriptions", true,
	                        SQL_COLUMNS(subscription_columns),
	                        sizeof(struct subscription), subscription_one,
	                        &w, SQL_ARGS(SQL_TEXT(user_jid)));
}
