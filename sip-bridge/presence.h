/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SIP presence in ringbridge-sip (docs/presence.md): XMPP availability out
 * to SIP (PUBLISH to [presence] server, or the bridge as presence agent
 * answering SUBSCRIBE), and the phone's dialog state in (a dialog event
 * subscription per user at the server, debounced into "sip" rows). One
 * bridge at a time does it, holding the queue lease "presence". The hooks
 * the rest of the bridge calls are these few.
 */
#ifndef RB_SIP_PRESENCE_H
#define RB_SIP_PRESENCE_H

#include "bridge.h"

/* Starts presence when [presence] mode is not off (after ua_start). */
int presence_start(struct bridge *b);
/* Queue wake-up channels arrived (QUEUE_CH_PRESENCE/REGISTRATIONS). */
void presence_wake(struct bridge *b, unsigned channels);
/* The channels presence listens on, 0 when it is off. */
unsigned presence_channels(const struct config *cfg);
/*
 * The SIP methods presence takes in, for the Allow list (ua.c): ", SUBSCRIBE"
 * as presence agent, ", NOTIFY" when it subscribes to dialog state at a
 * [presence] server, both, or "" when it is off. A static string.
 */
const char *presence_methods(const struct config *cfg);
/*
 * Gives a nua event to presence first: true when it was presence's (one of
 * its handles, or an incoming SUBSCRIBE/PUBLISH), false for ua.c to handle.
 */
bool presence_nua_event(struct bridge *b, nua_event_t event, int status,
                        const char *phrase, nua_handle_t *nh, const sip_t *sip,
                        tagi_t tags[]);
/*
 * SIGTERM: gives the lease back and ends the usages (unPUBLISH,
 * unSUBSCRIBE, the watchers' last NOTIFY), giving up within a few seconds
 * what is not answered. The bridge calls nua_shutdown only once
 * presence_ending() is false: from then on nua drops every
 * nua_handle_destroy(), so a handle destroyed later would be leaked.
 * presence.c calls bridge_stop_check() when the last has ended.
 */
void presence_stop(struct bridge *b);
/* True while a usage presence_stop() ended is still unanswered. */
bool presence_ending(const struct bridge *b);
/* Whether this bridge holds the "presence" lease now (the heartbeat). */
bool presence_leased(const struct bridge *b);
/* Frees what is left (after nua is destroyed). NULL-safe. */
void presence_free(struct bridge *b);

#endif
