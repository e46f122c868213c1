/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The steps that bring the push registrations the component made on the
 * server in step with the registrations table: a pure comparison of two
 * maps (bare JID -> push node), kept apart from push.c, which sends the
 * IQs, so that it can be tested without a server.
 */
#ifndef RB_PUSH_PLAN_H
#define RB_PUSH_PLAN_H

#include <stdbool.h>

#include <glib.h>

enum push_step_kind {
	PUSH_STEP_DISABLE = 1, /* <disable jid=COMPONENT node=NODE/> */
	PUSH_STEP_ENABLE = 2,  /* <enable jid=COMPONENT node=NODE/> */
};

struct push_step {
	enum push_step_kind kind;
	char *jid;  /* bare JID of the user, owned by the step */
	char *node; /* owned by the step */
};

/*
 * For one user: ENABLED is the node the component enabled on the server
 * (NULL: none), WANTED the node the table holds for a registration that
 * should be pushed (NULL: none). A changed node gives a disable of the
 * old one, then an enable of the new one; FORCE also re-enables an
 * unchanged node (after a reconnect, when the server's state is not known).
 * Fills OUT[0..1] with borrowed pointers (jid, enabled, wanted) and returns
 * how many steps it holds.
 */
int push_plan_user(const char *jid, const char *enabled, const char *wanted,
                   bool force, struct push_step out[2]);

/*
 * For every user: ENABLED and WANTED map bare JID -> node (char *).
 * Returns the steps, sorted by JID, a user's disable before its enable;
 * the caller owns the array and frees it with push_plan_free(). Neither
 * table is changed, so the caller may apply the steps to ENABLED.
 */
GArray *push_plan_diff(GHashTable *enabled, GHashTable *wanted, bool force);
void push_plan_free(GArray *steps);

#endif
