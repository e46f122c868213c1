/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who is online: every local user's available resources with their <show>,
 * priority and status, learnt from privileged presence (XEP-0356
 * managed_entity) or, where the server grants none, from presence
 * subscriptions to registered users. The table is emptied on every
 * (re)connect and rebuilt from what the server sends, so a user who left
 * during an outage is not taken for online.
 *
 * For registered users with a SIP address the component also keeps the
 * queue's "xmpp" presence row (ARCHITECTURE.md "Presence in both
 * directions"): the state of the user's best resource (highest priority,
 * then most available, then the latest), written only when it changes, in
 * one transaction per pass of the loop, and rebuilt after a reconnect once
 * the server's initial presence has arrived.
 */
#ifndef RB_PRESENCE_H
#define RB_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

struct comp;
struct presence_table;

/* From most to least available: the order of "most available". */
enum presence_show {
	PRESENCE_CHAT = 0,
	PRESENCE_AVAILABLE = 1,
	PRESENCE_AWAY = 2,
	PRESENCE_XA = 3,
	PRESENCE_DND = 4,
};

/* A status text longer than this (bytes) is shortened at a UTF-8 boundary. */
#define PRESENCE_STATUS_MAX             1000
#define PRESENCE_RESOURCES_PER_USER_MAX 64

struct presence_table *comp_presence_new(void);
void comp_presence_free(struct presence_table *t);
void comp_presence_clear(struct presence_table *t);

/* Records FULL_JID as available with SHOW, PRIORITY and STATUS (copied,
 * NULL: none), or gone when AVAILABLE is false (from a bare JID: every
 * resource). Returns -E2BIG past the per-user resource or user limits. */
int comp_presence_set(struct presence_table *t, const char *full_jid,
                      bool available, enum presence_show show, int priority,
                      const char *status);
/* Calls CB once for each bare JID whose resources changed (through any
 * path: the handler, a recheck) since the last call, and forgets them. */
void comp_presence_changed_drain(struct presence_table *t,
                                 void (*cb)(const char *bare, void *arg),
                                 void *arg);
/* The same with priority 0 and no status. */
int comp_presence_update(struct presence_table *t, const char *full_jid,
                         bool available, enum presence_show show);

/* The most available show among BARE's resources; false when none. */
bool comp_presence_best(struct presence_table *t, const char *bare,
                        enum presence_show *show);

/*
 * BARE's aggregate: the resource with the highest priority, among those the
 * most available, among those the one that changed last. False when BARE
 * has no available resource. *STATUS (may be NULL) points into the table,
 * valid until the next change.
 */
bool comp_presence_aggregate(struct presence_table *t, const char *bare,
                             enum presence_show *show, const char **status);

/* The full JIDs of BARE's available resources (g_strfreev), or NULL. */
char **comp_presence_resources(struct presence_table *t, const char *bare);

/* Parses a <show/> text; unknown or absent means available. */
enum presence_show comp_presence_show_parse(const char *s);
/* "chat", "available", "away", "xa" or "dnd": the queue row's state. */
const char *comp_presence_show_name(enum presence_show s);
/* Parses a <priority/> text (RFC 6121: -128..127); absent or invalid: 0. */
int comp_presence_priority_parse(const char *s);
/* A copy of TEXT shortened to at most MAX bytes without splitting a UTF-8
 * sequence; NULL for NULL. Caller frees with g_free. */
char *comp_presence_status_copy(const char *text, size_t max);

/* Where the server grants no presence privilege, subscribes to every
 * registered user of that domain (XEP-0100 style) and says so in the log. */
void comp_presence_subscribe_fallback(struct comp *c);

/* ---- the queue's "xmpp" rows ---- */
struct presence_rows;
struct presence_rows *comp_presence_rows_new(void);
void comp_presence_rows_free(struct presence_rows *r);
/* Re-reads which registered users take part (a SIP address for presence). */
void comp_presence_rows_reload(struct comp *c);
/* The session was (re)established: forget what was written, hold writes
 * until comp_presence_rows_settle(), then rebuild every participant's row. */
void comp_presence_rows_reset(struct comp *c);
void comp_presence_rows_settle(struct comp *c);
/* Writes the rows that changed during this pass (one transaction). */
void comp_presence_rows_flush(struct comp *c);
/* Where the server does not report session ends (ejabberd 23.01), asks
 * each online participant's resources whether they are still there
 * (presence_recheck.c), so a row does not stay "available" after a
 * dropped session. Called every PRESENCE_RECHECK_MS. */
#define PRESENCE_RECHECK_MS 30000
void comp_presence_rows_recheck(struct comp *c);
/* The SIP address a registration takes part in presence with, or NULL. */
const char *comp_presence_sip_address(const struct queue_registration *r);

#endif
