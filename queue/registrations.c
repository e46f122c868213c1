/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The registrations table's rules, once for every engine: the component's
 * own rows of users' phones and preferences (the bridge never reads them).
 * A write wakes the component's other handles (QUEUE_CH_REGISTRATIONS).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "database.h"
#include "queue_internal.h"

_Static_assert(sizeof(enum queue_call_when) == sizeof(int),
               "the column table reads call_when as int");

#define REG_FIELD(type, field)                                                 \
	SQL_COLUMN(type, struct queue_registration, field)

/* The engines' REG_COLS, in order. */
static const struct sql_column registration_columns[] = {
    REG_FIELD(TEXT, jid),
    REG_FIELD(TEXT, phone),
    REG_FIELD(BOOL, verified),
    REG_FIELD(TEXT, verify_code),
    REG_FIELD(INT, verify_failures),
    REG_FIELD(TEXT, tz),
    REG_FIELD(TEXT, lang),
    REG_FIELD(INT, call_when),
    REG_FIELD(INT, quiet_start),
    REG_FIELD(INT, quiet_end),
    REG_FIELD(BOOL, roster_only),
    REG_FIELD(TEXT, sip_presence),
    REG_FIELD(TEXT, push_node),
    REG_FIELD(INT64, created_ms),
    REG_FIELD(INT64, updated_ms),
    REG_FIELD(INT, gate),
    REG_FIELD(TEXT, phone_more[0]),
    REG_FIELD(TEXT, phone_more[1]),
    REG_FIELD(BOOL, verified_more[0]),
    REG_FIELD(BOOL, verified_more[1]),
    REG_FIELD(INT, wait_minutes),
    REG_FIELD(TEXT, ring_through),
    REG_FIELD(INT, quiet_mode),
};

_Static_assert(QUEUE_PHONES_MAX == 3, "the table has phone2 and phone3");

int registrations_put(struct queue *q, const struct queue_registration *r)
{
	int64_t now = queue_now_ms(q);

	return database_write(
	    q, ES_REG_PUT, "storing a registration", QUEUE_CH_REGISTRATIONS,
	    NULL,
	    SQL_ARGS(SQL_TEXT(r->jid), SQL_TEXT(r->phone), SQL_INT(r->verified),
	             SQL_TEXT(r->verify_code), SQL_INT(r->verify_failures),
	             SQL_TEXT(r->tz), SQL_TEXT(r->lang), SQL_INT(r->call_when),
	             SQL_INT(r->quiet_start), SQL_INT(r->quiet_end),
	             SQL_INT(r->roster_only), SQL_TEXT(r->sip_presence),
	             SQL_TEXT(r->push_node),
	             SQL_INT(r->created_ms > 0 ? r->created_ms : now),
	             SQL_INT(now), SQL_INT(r->gate), SQL_TEXT(r->phone_more[0]),
	             SQL_TEXT(r->phone_more[1]),
	             SQL_INT(r->phone_more[0] && r->verified_more[0]),
	             SQL_INT(r->phone_more[1] && r->verified_more[1]),
	             SQL_INT(r->wait_minutes), SQL_TEXT(r->ring_through),
	             SQL_INT(r->quiet_mode)));
}

int registrations_get(struct queue *q, const char *key, bool by_node,
                      struct queue_registration *out)
{
	return database_row(
	    q, by_node ? ES_REG_GET_NODE : ES_REG_GET, "reading a registration",
	    SQL_COLUMNS(registration_columns), out, SQL_ARGS(SQL_TEXT(key)));
}

int registrations_delete(struct queue *q, const char *jid)
{
	int64_t changed = 0;
	int err;

	err = database_begin(q);
	if (err)
		return err;
	err = database_exec(q, ES_REG_DELETE, "deleting a registration",
	                    &changed, SQL_ARGS(SQL_TEXT(jid)));
	if (!err && changed == 0)
		err = -ENOENT;
	err = database_end(q, err);
	if (!err)
		queue_changed(q, QUEUE_CH_REGISTRATIONS);
	return err;
}

struct walk {
	int (*cb)(const struct queue_registration *r, void *arg);
	void *arg;
};

static int walk_one(void *row, void *arg)
{
	struct walk *w = arg;

	return w->cb(row, w->arg);
}

/* A statement of its own, so the callback may use the handle freely. */
int registrations_foreach(struct queue *q,
                          int (*cb)(const struct queue_registration *r,
                                    void *arg),
                          void *arg)
{
	struct walk w = {cb, arg};

	return database_foreach(q, ES_REG_LIST, "listing registrations", true,
	                        SQL_COLUMNS(registration_columns),
	                        sizeof(struct queue_registration), walk_one, &w,
	                        SQL_NO_ARGS);
}

/* Read-only and bounded: the status page's search box. */
int registrations_search(struct queue *q, const char *needle, int limit,
                         int (*cb)(const struct queue_registration *r,
                                   void *arg),
                         void *arg)
{
	struct walk w = {cb, arg};

	return database_foreach(q, ES_REG_SEARCH, "searching registrations",
	                        true, SQL_COLUMNS(registration_columns),
	                        sizeof(struct queue_registration), walk_one, &w,
	                        SQL_ARGS(SQL_TEXT(needle), SQL_INT(limit)));
}

void queue_registration_clear(struct queue_registration *r)
{
	if (!r)
		return;
	database_row_clear(SQL_COLUMNS(registration_columns), r);
	memset(r, 0, sizeof(*r));
}

struct users_walk {
	int (*cb)(const char *jid, const char *sip_address, void *arg);
	void *arg;
};

static bool is_sip_uri(const char *s)
{
	return s && (!strncasecmp(s, "sip:", 4) || !strncasecmp(s, "sips:", 5));
}

/* A verified user's SIP presence address: the one given, else the phone
 * when it is a SIP URI; users without one are skipped. */
static int users_one(const struct queue_registration *r, void *arg)
{
	struct users_walk *u = arg;
	const char *addr = NULL;

	if (!r->verified)
		return 0;
	if (r->sip_presence && *r->sip_presence)
		addr = r->sip_presence;
	else if (is_sip_uri(r->phone))
		addr = r->phone;
	return addr ? u->cb(r->jid, addr, u->arg) : 0;
}

int registrations_presence_users(struct queue *q,
                                 int (*cb)(const char *jid,
                                           const char *sip_address, void *arg),
                                 void *arg)
{
	struct users_walk u = {cb, arg};

	return registrations_foreach(q, users_one, &u);
}
