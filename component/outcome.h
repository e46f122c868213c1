/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the sender sees: the bridge's events turned into exactly one chat
 * message per call outcome, from the address the sender wrote to
 * (ARCHITECTURE.md "What the sender sees"). Events are marked delivered only
 * once the server has answered a ping sent after their messages: XEP-0114 has
 * no acks and xmpp_send() only queues. A resend after a crash carries the same
 * id and XEP-0359 origin-id, so clients that dedupe show it once.
 */
#ifndef RB_OUTCOME_H
#define RB_OUTCOME_H

#include <stddef.h>

#include "queue.h"

struct comp;
struct outcomes;

/* Also arms the safety-net poll, every 5 s, on C's timers. */
int comp_outcomes_new(struct outcomes **op, struct comp *c);
void comp_outcomes_free(struct outcomes *o);

/* Looks for undelivered events and delivers the next batch, unless one is
 * already on its way. Called on wake-ups, after (re)connecting, and from
 * its own safety-net timer. */
void comp_outcomes_poll(struct outcomes *o);

/* Forgets what was in flight (the session ended): it is resent later. */
void comp_outcomes_reset(struct outcomes *o);

/*
 * Tells SENDER that MESSAGE_KEY's message to CALLEE was not phoned because
 * CALLEE pressed 9 for this sender today ([texts] paused), from REPLY_FROM
 * (the address the sender wrote to) as the outcomes come. Sent at once,
 * with no ping behind it: the message itself waits in the server's offline
 * store, so a text lost to a dropped session costs no message. Its id
 * derives from MESSAGE_KEY, so a resent push gives a resent, deduplicable
 * text.
 */
void comp_outcome_paused(struct comp *c, const char *callee, const char *sender,
                         const char *reply_from, const char *message_key);

/*
 * Fills template TMPL ("{callee}", "{reason}") into OUT (OUTLEN bytes);
 * unknown braces are copied as they are. Returns the length it needed.
 */
size_t outcome_text_format(const char *tmpl, const char *callee,
                           const char *reason, char *out, size_t outlen);

/* The closing text a job's ENDED event gives, if any. */
enum outcome_final {
	OUTCOME_FINAL_NONE = 0, /* a reply said it already, or not an end */
	OUTCOME_FINAL_HEARD,    /* [texts] heard */
	OUTCOME_FINAL_FAILED,   /* [texts] failed, with the last reason */
	OUTCOME_FINAL_UNHEARD,  /* [texts] unheard: the gate was not passed */
};

/*
 * Which closing text an ENDED event with DETAIL (the job's final state
 * name) gives, from the job's events EVS (N of them, in order). A failed
 * job whose last attempt (the events after its last CALLING) was answered
 * but not heard gets UNHEARD: the sender is told nobody listened, not that
 * the phone was unreachable. Pure; nothing is taken.
 */
enum outcome_final outcome_final_kind(const char *detail,
                                      const struct queue_event *evs, size_t n);

#endif
