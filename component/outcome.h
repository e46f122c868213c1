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

struct comp;
struct outcomes;

int comp_outcomes_new(struct outcomes **op, struct comp *c);
void comp_outcomes_free(struct outcomes *o);

/* Looks for undelivered events and delivers the next batch, unless one is
 * already on its way. Called on wake-ups, after (re)connecting, and from
 * the loop's safety-net timer. */
void comp_outcomes_poll(struct outcomes *o);

/* Forgets what was in flight (the session ended): it is resent later. */
void comp_outcomes_reset(struct outcomes *o);

/*
 * Fills template TMPL ("{callee}", "{reason}") into OUT (OUTLEN bytes);
 * unknown braces are copied as they are. Returns the length it needed.
 */
size_t outcome_text_format(const char *tmpl, const char *callee,
                           const char *reason, char *out, size_t outlen);

#endif
