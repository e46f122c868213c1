/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The inside of SIP presence, one file per SIP usage as sofia's nua_publish.c
 * and nua_notifier.c: presence.c (the lease, the snapshot and the user
 * registry, and the hooks of presence.h), presence_publish.c (PUBLISH),
 * presence_notify.c (the presence agent: incoming SUBSCRIBE, NOTIFY out) and
 * presence_subscribe.c (the dialog subscription and the "sip" rows). Each
 * usage keeps its state in its own struct, private to its file, that a user
 * points to. Nothing outside these files includes this header.
 */
#ifndef RB_SIP_PRESENCE_INTERNAL_H
#define RB_SIP_PRESENCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "pidf.h"
#include "presence.h"

#define TAG       "presence"
#define PIDF_TYPE "application/pidf+xml"

struct presence {
	struct bridge *b;
	const struct config *cfg;
	su_home_t home[1];
	bool leased, snapping, snap_again, stopping;
	su_timer_t *tick;
	su_timer_t *stop_timer; /* the ending usages' deadline */
	struct puser *users;
	struct dying *dying; /* handles given up (presence.c) */
	int n_watchers;      /* over all users (presence_notify.c) */
	char route[600];     /* <server;lr>, "" without a server */
};

/* The usages' own state, each private to its file; NULL until used. */
struct presence_publication;
struct presence_watchers;
struct presence_subscription;

/* A user with a SIP address, as the last snapshot gave it (presence.c). */
struct puser {
	struct puser *next;
	struct presence *p;
	char *jid, *addr;
	char *user, *host; /* of addr, to match a SUBSCRIBE's request URI */

	/* The user's "xmpp" row: what is published and told. */
	bool have_xmpp;
	enum pidf_avail avail;
	char *status;

	struct presence_publication *pub;   /* presence_publish.c */
	struct presence_watchers *watchers; /* presence_notify.c */
	struct presence_subscription *sub;  /* presence_subscribe.c */
};

/* ---- shared by the usages (presence.c) ------------------------------- */

/* Whether A and B are both NULL or the same string. */
bool presence_str_eq(const char *a, const char *b);
/* Replaces *DST with a copy of SRC (NULL allowed); -ENOMEM keeps *DST. */
int presence_str_set(char **dst, const char *src);
/* Keeps NH until its final response (presence_nua_event destroys it). */
void presence_handle_gone(struct presence *p, nua_handle_t *nh);
/* The PIDF for U's current XMPP availability (closed without a row); the
 * caller frees *DOC. */
int presence_user_pidf(const struct puser *u, char **doc, size_t *len);
/* The next back-off of a failed PUBLISH or SUBSCRIBE after MS (0: none). */
int presence_backoff_next(int ms);
/*
 * A response STATUS to U's PUBLISH or SUBSCRIBE (WHAT) on handle NH, as far
 * as authentication goes. A 401/407, or nua's restart of the request with
 * the credentials it keeps (reported as 100), is answered with [sip]
 * username and password once per success (*TRIED). Returns 1 when the
 * request goes on (a challenge answered, or another provisional response),
 * -1 when a challenge failed: the same credentials were challenged again
 * (logged once, with the realm, until a success: *LOGGED) or the bridge
 * has none; 0 for a final response that is not a challenge.
 */
int presence_auth_response(struct puser *u, nua_handle_t *nh, const char *what,
                           int status, const char *phrase, const sip_t *sip,
                           bool *tried, bool *logged);

/*
 * Each usage: _sync brings it in line with the user's row after a
 * snapshot; _event takes a nua event on one of its handles (true when NH
 * is its own); _end ends it (GRACEFUL: unPUBLISH, unSUBSCRIBE, watchers
 * told) and frees its state.
 */

/* ---- PUBLISH (presence_publish.c) ------------------------------------- */

void presence_publish_sync(struct puser *u);
bool presence_publish_event(struct puser *u, nua_event_t event, int status,
                            const char *phrase, nua_handle_t *nh,
                            const sip_t *sip);
void presence_publish_end(struct puser *u, bool graceful);

/* ---- the presence agent (presence_notify.c) --------------------------- */

void presence_notify_sync(struct puser *u);
bool presence_notify_event(struct puser *u, nua_event_t event, int status,
                           nua_handle_t *nh, tagi_t tags[]);
void presence_notify_end(struct puser *u, bool graceful);
/* A SUBSCRIBE on a new handle NH: a watcher for one of the users, or
 * refused (the handle is then destroyed). */
void presence_notify_subscribe(struct presence *p, nua_handle_t *nh, int status,
                               const sip_t *sip);

/* ---- the dialog subscription (presence_subscribe.c) ------------------- */

void presence_subscribe_sync(struct puser *u);
bool presence_subscribe_event(struct puser *u, nua_event_t event, int status,
                              const char *phrase, nua_handle_t *nh,
                              const sip_t *sip, tagi_t tags[]);
void presence_subscribe_end(struct puser *u, bool graceful);
/* U leaves presence: a "sip" row saying on the phone is set back to idle. */
void presence_subscribe_leave(struct puser *u);

#endif
