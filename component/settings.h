/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A user's settings as typed into the registration form or the "settings"
 * ad-hoc command, validated field by field into a registration row. Pure
 * (no XMPP, no queue), so every rule is unit-tested from a table.
 */
#ifndef RB_SETTINGS_H
#define RB_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "queue.h"

/* Field names, shared by the forms and the error texts. */
#define SETTINGS_PHONE        "phone"
#define SETTINGS_TZ           "tz"
#define SETTINGS_CALL_WHEN    "call_when"
#define SETTINGS_QUIET        "quiet_hours"
#define SETTINGS_LANG         "lang"
#define SETTINGS_ROSTER_ONLY  "roster_only"
#define SETTINGS_SIP_PRESENCE "sip_presence"
#define SETTINGS_CODE         "code"
#define SETTINGS_GATE         "gate"
/* The further numbers, tried in order after phone (QUEUE_PHONES_MAX). */
#define SETTINGS_WAIT "wait_minutes"
#define SETTINGS_WAIT_LABEL                                                    \
	"Call me only if I have not come online within this many minutes "     \
	"(0: call at once)"
#define SETTINGS_RING_THROUGH "ring_through"
#define SETTINGS_RING_THROUGH_LABEL                                            \
	"Senders who may always ring, even in quiet hours (addresses or "      \
	"domains, separated by commas)"
#define SETTINGS_QUIET_MODE "quiet_mode"
#define SETTINGS_QUIET_MODE_LABEL                                              \
	"Messages from everyone else in quiet hours: call later (when quiet "  \
	"hours end) or never"
/* The quiet_mode field's values: QUEUE_QUIET_DEFER, QUEUE_QUIET_DROP. */
extern const char *const settings_quiet_mode_options[];
/* At most this many ring_through entries, each at most this long. */
#define SETTINGS_RING_THROUGH_MAX     20
#define SETTINGS_RING_THROUGH_LEN_MAX 200
#define SETTINGS_PHONE2               "phone2"
#define SETTINGS_PHONE3               "phone3"
extern const char *const settings_phone_more_fields[QUEUE_PHONES_MAX - 1];

/* The gate field's label and its values, in the forms' order. */
#define SETTINGS_GATE_LABEL                                                    \
	"Ask me to press a key before the message is read (protects "          \
	"against voicemail)"
extern const char *const settings_gate_options[];

/* REG's gate as the form shows it: "default", "on" or "off". */
const char *settings_gate_name(int gate);

/* Values as submitted; NULL means the field was not in the form (keep the
 * current value), "" means cleared. */
struct settings_input {
	const char *phone;
	const char *tz;
	const char *call_when;
	const char *quiet_hours;
	const char *lang;
	const char *roster_only;
	const char *sip_presence;
	const char *gate; /* "default", "on" or "off" ("" is default) */
	/* phone2, phone3: "" removes the number; the rest move up. */
	const char *phone_more[QUEUE_PHONES_MAX - 1];
	const char *wait_minutes; /* 0 to QUEUE_WAIT_MINUTES_MAX; "" is 0 */
	const char *ring_through; /* comma- or space-separated; "" clears */
	const char *quiet_mode;   /* "later" or "never" ("" is later) */
};

/* REG's ring_through as the form shows it ("a, b"), into OUT. */
void settings_ring_through_format(const struct queue_registration *reg,
                                  char *out, size_t outlen);

/*
 * Applies IN to REG (whose strings are malloc'ed and replaced as needed).
 * ROSTER_AVAILABLE says whether the server grants the roster privilege the
 * roster_only option needs. On success returns 0 and sets *PHONE_CHANGED
 * (the first number). A further number that is new or changed is stored
 * unverified; one that stays keeps its flag, wherever it moves in the list.
 * On a bad value returns -EINVAL and writes "FIELD: reason" into WHY.
 * REG is left unchanged on error.
 */
int settings_apply(const struct config *cfg, const struct settings_input *in,
                   bool roster_available, struct queue_registration *reg,
                   bool *phone_changed, char *why, size_t whylen);

/*
 * The number a verification code is for: the first unverified one of REG
 * (phone, then the further numbers in order), or NULL when all are
 * verified. The string stays REG's.
 */
const char *settings_unverified_phone(const struct queue_registration *reg);

/* Marks NUMBER (one of REG's) verified. */
void settings_phone_verified(struct queue_registration *reg,
                             const char *number);

/* Formats REG's quiet hours as "HH:MM-HH:MM", or "" when none. */
void settings_quiet_format(const struct queue_registration *reg, char *out,
                           size_t outlen);

/* Parses "HH:MM-HH:MM" into minutes of the day; "" gives -1/-1. */
int settings_quiet_parse(const char *s, int *start, int *end);

#endif
