/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The "one at a time" and "who is alive" tables' rules, once for every
 * engine: named leases (the presence duty moves between bridges by them),
 * the component's status row and the bridges' heartbeats, which
 * ringbridgectl status reads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"
#include "queue_internal.h"

/* Rows of bridges silent for a day are deleted at every write. */
#define BRIDGE_STATUS_KEEP_MS (24 * 3600 * 1000LL)

/* ---- named leases -------------------------------------------------------- */

/* ES_LEASE_GET's row. */
struct lease {
	char *owner;
	int64_t deadline_ms;
};

static const struct sql_column lease_columns[] = {
    SQL_COLUMN(TEXT, struct lease, owner),
    SQL_COLUMN(INT64, struct lease, deadline_ms),
};

/* *HELD: the lease row exists and belongs to someone else, unexpired. */
static int lease_other(struct queue *q, const char *name, const char *owner,
                       int64_t now, bool *held, bool *exists)
{
	struct lease l = {0};
	int err;

	*held = *exists = false;
	err = database_row(q, ES_LEASE_GET, "reading a lease",
	                   SQL_COLUMNS(lease_columns), &l,
	                   SQL_ARGS(SQL_TEXT(name)));
	if (err)
		return err == -ENOENT ? 0 : err;
	*exists = true;
	*held = l.owner && strcmp(l.owner, owner) && l.deadline_ms >= now;
	free(l.owner);
	return 0;
}

int leases_acquire(struct queue *q, const char *name, const char *owner,
                   int lease_ms)
{
	int64_t now = queue_now_ms(q);
	bool held, exists;
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err = lease_other(q, name, owner, now, &held, &exists);
	if (!err && held)
		err = -EPERM;
	if (!err)
		err = database_exec(q, ES_LEASE_PUT, "taking a lease", NULL,
		                    SQL_ARGS(SQL_TEXT(name), SQL_TEXT(owner),
		                             SQL_INT(now + lease_ms)));
	return database_end(q, err);
}

int leases_get(struct queue *q, const char *name, char **owner,
               int64_t *deadline_ms)
{
	struct lease l = {0};
	int err;

	err = database_row(q, ES_LEASE_GET, "reading a lease",
	                   SQL_COLUMNS(lease_columns), &l,
	                   SQL_ARGS(SQL_TEXT(name)));
	if (err)
		return err;
	*owner = l.owner;
	*deadline_ms = l.deadline_ms;
	return 0;
}

int leases_release(struct queue *q, const char *name, const char *owner)
{
	int64_t changed = 0;
	bool held, exists;
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err = database_exec(q, ES_LEASE_DELETE, "releasing a lease", &changed,
	                    SQL_ARGS(SQL_TEXT(name), SQL_TEXT(owner)));
	if (!err && changed == 0) {
		err = lease_other(q, name, owner, INT64_MIN, &held, &exists);
		if (!err)
			err = exists ? -EPERM : -ENOENT;
	}
	return database_end(q, err);
}

/* ---- the component's status row ------------------------------------------ */

#define COMPONENT_FIELD(type, field)                                           \
	SQL_COLUMN(type, struct queue_component_status, field)

/* ES_STATUS_GET, in order. */
static const struct sql_column component_columns[] = {
    COMPONENT_FIELD(TEXT, owner),
    COMPONENT_FIELD(INT64, connected_ms),
    COMPONENT_FIELD(INT64, heartbeat_ms),
    COMPONENT_FIELD(TEXT, privileges),
};

void queue_component_status_clear(struct queue_component_status *s)
{
	if (!s)
		return;
	free(s->component);
	database_row_clear(SQL_COLUMNS(component_columns), s);
	memset(s, 0, sizeof(*s));
}

int component_status_put(struct queue *q,
                         const struct queue_component_status *s)
{
	return database_write(
	    q, ES_STATUS_PUT, "storing the component status", 0, NULL,
	    SQL_ARGS(SQL_TEXT(s->component), SQL_TEXT(s->owner),
	             SQL_INT(s->connected_ms),
	             SQL_INT(s->stopped ? 0 : queue_now_ms(q)),
	             SQL_TEXT(s->privileges)));
}

int component_status_get(struct queue *q, const char *component,
                         struct queue_component_status *out)
{
	int err;

	err = database_row(q, ES_STATUS_GET, "reading the component status",
	                   SQL_COLUMNS(component_columns), out,
	                   SQL_ARGS(SQL_TEXT(component)));
	if (err)
		return err;
	out->component = strdup(component);
	if (!out->component) {
		queue_component_status_clear(out);
		return -ENOMEM;
	}
	return 0;
}

/* ---- the bridges' status rows -------------------------------------------- */

/* ES_BRIDGE_LIST, in order. */
static const struct sql_column bridge_columns[] = {
    SQL_COLUMN_REQUIRED(TEXT, struct queue_bridge_status, owner),
    SQL_COLUMN_REQUIRED(TEXT, struct queue_bridge_status, host),
    SQL_COLUMN(INT64, struct queue_bridge_status, pid),
    SQL_COLUMN(INT64, struct queue_bridge_status, started_ms),
    SQL_COLUMN(INT64, struct queue_bridge_status, heartbeat_ms),
    SQL_COLUMN(INT, struct queue_bridge_status, calls),
    SQL_COLUMN(BOOL, struct queue_bridge_status, presence_lease),
};

int bridge_status_put(struct queue *q, const struct queue_bridge_status *s)
{
	int64_t now = queue_now_ms(q);
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err =
	    database_exec(q, ES_BRIDGE_EXPIRE, "expiring bridge status rows",
	                  NULL, SQL_ARGS(SQL_INT(now - BRIDGE_STATUS_KEEP_MS)));
	if (!err)
		err = database_exec(
		    q, ES_BRIDGE_PUT, "storing the bridge status", NULL,
		    SQL_ARGS(SQL_TEXT(s->owner), SQL_TEXT(s->host),
		             SQL_INT(s->pid), SQL_INT(s->started_ms),
		             SQL_INT(now), SQL_INT(s->calls),
		             SQL_INT(s->presence_lease ? 1 : 0)));
	return database_end(q, err);
}

int bridge_status_remove(struct queue *q, const char *owner)
{
	return database_write(q, ES_BRIDGE_REMOVE, "removing the bridge status",
	                      0, NULL, SQL_ARGS(SQL_TEXT(owner)));
}

struct bridge_walk {
	int (*cb)(const struct queue_bridge_status *s, void *arg);
	void *arg;
};

static int bridge_one(void *row, void *arg)
{
	struct bridge_walk *w = arg;

	return w->cb(row, w->arg);
}

int bridge_status_foreach(struct queue *q, int64_t since_ms,
                          int (*cb)(const struct queue_bridge_status *s,
                                    void *arg),
                          void *arg)
{
	struct bridge_walk w = {cb, arg};

	return database_foreach(q, ES_BRIDGE_LIST, "reading the bridge status",
	                        false, SQL_COLUMNS(bridge_columns),
	                        sizeof(struct queue_bridge_status), bridge_one,
	                        &w, SQL_ARGS(SQL_INT(since_ms)));
}
