/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who may be phoned and who may cause a call: the checks of
 * ARCHITECTURE.md "Who may be phoned", shared by the component, ringbridgectl
 * and (as a second line of defence) the SIP bridge. Pure functions over the
 * loaded configuration, so they are unit-tested with tables.
 */
#ifndef RB_POLICY_H
#define RB_POLICY_H

#include <stdbool.h>

#include "config.h"

/*
 * 0 when the canonical destination DEST (from phone_normalise) matches
 * [policy] allowed_prefixes (E.164) or allowed_sip_domains (SIP URIs);
 * otherwise -EPERM with a reason for the user in *WHY.
 */
int policy_destination_check(const struct config *cfg, const char *dest,
                             const char **why);

/*
 * True when JID is a plausible bare JID "local@domain": a localpart of 1 to
 * 1023 bytes without spaces, control characters or any of " & ' / : < > @
 * (RFC 7622), and a domain name or IP address. Used for configuration and
 * for addresses taken apart by the gateway.
 */
bool policy_bare_jid_valid(const char *jid);

/* True when bare JID's domain is one of [xmpp] user_domains. */
bool policy_jid_is_local(const struct config *cfg, const char *bare_jid);

/* True when a message from SENDER (bare JID) may cause a call at all. */
bool policy_sender_allowed(const struct config *cfg, const char *sender);

/* True when SENDER may use direct dialling (+E164@component). */
bool policy_direct_dial_allowed(const struct config *cfg, const char *sender);

/*
 * True when minute-of-day NOW (0..1439) falls in the quiet window
 * [START, END) which may wrap past midnight; START < 0 means none, and
 * START == END is an empty window. Out-of-range values give false.
 */
bool policy_in_quiet_hours(int start, int end, int now);

/*
 * Minutes from minute-of-day NOW until the quiet window [START, END) ends
 * (1..1439), or 0 when NOW is not in it: how long a deferred call waits.
 */
int policy_quiet_minutes_left(int start, int end, int now);

/*
 * True when SENDER (a bare JID) is one of LIST's entries, one per line:
 * a bare JID ("alice@example.org": that sender) or a domain
 * ("example.org": every sender of it), compared ASCII case-insensitively.
 * NULL or empty LIST: nobody.
 */
bool policy_sender_listed(const char *list, const char *sender);

#endif
