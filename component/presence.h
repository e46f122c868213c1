/*
 * Who is online: every local user's available resources and their <show>,
 * learnt from privileged presence (XEP-0356 managed_entity) or, where the
 * server grants none, from presence subscriptions to registered users. The
 * table is emptied on every (re)connect and rebuilt from what the server
 * sends, so a user who left during an outage is not taken for online.
 */
#ifndef RB_PRESENCE_H
#define RB_PRESENCE_H

#include <stdbool.h>

#include "queue.h"

struct comp;
struct presence_table;

enum presence_show {
	PRESENCE_CHAT = 0,
	PRESENCE_AVAILABLE = 1,
	PRESENCE_AWAY = 2,
	PRESENCE_XA = 3,
	PRESENCE_DND = 4,
};

struct presence_table *comp_presence_new(void);
void comp_presence_free(struct presence_table *t);
void comp_presence_clear(struct presence_table *t);

/* Records FULL_JID as available with SHOW, or gone when AVAILABLE is
 * false. Returns -E2BIG past the per-user resource limit. */
int comp_presence_update(struct presence_table *t, const char *full_jid,
                         bool available, enum presence_show show);

/* The most available show among BARE's resources; false when none. */
bool comp_presence_best(struct presence_table *t, const char *bare,
                        enum presence_show *show);

/* Parses a <show/> text; unknown or absent means available. */
enum presence_show comp_presence_show_parse(const char *s);

/* Where the server grants no presence privilege, subscribes to every
 * registered user of that domain (XEP-0100 style) and says so in the log. */
void comp_presence_subscribe_fallback(struct comp *c);

#endif
