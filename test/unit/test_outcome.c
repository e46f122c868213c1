/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The outcome texts of component/outcome.c: template filling with
 * {callee} and {reason}, truncation to the buffer, and braces left alone;
 * which closing text a job's end gives (heard, failed, or answered but not
 * heard at the voicemail gate).
 */
#include <string.h>

#include "check.h"
#include "outcome.h"

static const struct {
	const char *tmpl, *callee, *reason, *want;
} cases[] = {
    {"☎ {callee} heard your message by phone.", "Bob", NULL,
     "☎ Bob heard your message by phone."},
    {"☎ Could not reach {callee} by phone: {reason}.", "Bob",
     "no answer after 3 attempts",
     "☎ Could not reach Bob by phone: no answer after 3 attempts."},
    {"{callee}{callee}", "A", NULL, "AA"},
    {"{reason} only", NULL, NULL, " only"},
    {"{unknown} {callee", "Bob", NULL, "{unknown} {callee"},
    {"", "Bob", NULL, ""},
};

/*
 * A job's events as letters: C calling, A answered, H heard, U answered
 * but not heard (the gate), V voice, F failed, E ended, a digit a KEY.
 */
static size_t events_of(const char *letters, struct queue_event *evs)
{
	static char keys[16][2];
	size_t n = 0;

	for (const char *l = letters; *l && n < 16; l++, n++) {
		struct queue_event *e = &evs[n];

		memset(e, 0, sizeof(*e));
		e->type = *l == 'C'   ? QUEUE_EV_CALLING
		          : *l == 'A' ? QUEUE_EV_ANSWERED
		          : *l == 'H' ? QUEUE_EV_HEARD
		          : *l == 'U' ? QUEUE_EV_UNHEARD
		          : *l == 'V' ? QUEUE_EV_VOICE
		          : *l == 'F' ? QUEUE_EV_FAILED
		          : *l == 'E' ? QUEUE_EV_ENDED
		                      : QUEUE_EV_KEY;
		if (e->type == QUEUE_EV_KEY) {
			keys[n][0] = *l;
			e->detail = keys[n];
		}
	}
	return n;
}

static const struct {
	const char *detail, *events;
	enum outcome_final want;
} finals[] = {
    {"notified", "CAHE", OUTCOME_FINAL_HEARD},
    {"notified", "CAH2E", OUTCOME_FINAL_NONE},  /* key 2 said it */
    {"notified", "CAH0E", OUTCOME_FINAL_HEARD}, /* 0 is no reply */
    {"notified", "CAH9E", OUTCOME_FINAL_NONE},  /* key 9 said it */
    {"notified", "CA7VE", OUTCOME_FINAL_NONE},  /* the voice reply */
    {"failed", "CAUCAUFE", OUTCOME_FINAL_UNHEARD},
    /* Voicemail, then busy: the last attempt's outcome is told. */
    {"failed", "CAUCFE", OUTCOME_FINAL_FAILED},
    {"failed", "CCAUFE", OUTCOME_FINAL_UNHEARD},
    /* Not heard at the gate, then heard on the retry. */
    {"notified", "CAUCAHE", OUTCOME_FINAL_HEARD},
    {"failed", "", OUTCOME_FINAL_FAILED},
    {"notified", "", OUTCOME_FINAL_HEARD},
    {"cancelled", "CAUE", OUTCOME_FINAL_NONE},
    {NULL, "CAHE", OUTCOME_FINAL_NONE},
};

int main(void)
{
	for (size_t i = 0; i < sizeof(finals) / sizeof(finals[0]); i++) {
		struct queue_event evs[16];
		size_t n = events_of(finals[i].events, evs);

		CHECK_INT(outcome_final_kind(finals[i].detail, evs, n),
		          finals[i].want);
	}

	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n =
		    outcome_text_format(cases[i].tmpl, cases[i].callee,
		                        cases[i].reason, out, sizeof(out));

		CHECK_STR(out, cases[i].want);
		CHECK_INT(n, strlen(cases[i].want));
	}
	/* Truncated to the buffer, still terminated, full length reported. */
	{
		char small[8];
		size_t n = outcome_text_format("{callee} heard it", "Robert",
		                               NULL, small, sizeof(small));

		CHECK_STR(small, "Robert ");
		CHECK_INT(n, strlen("Robert heard it"));
	}
	return check_exit("test_outcome");
}
