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

#define EV(t, d)                                                               \
	{                                                                      \
		.type = QUEUE_EV_##t, .detail = (char *)(d)                    \
	}

static const struct queue_event ev_heard[] = {
    EV(CALLING, "1"), EV(ANSWERED, "PCMU"), EV(HEARD, "1"),
    EV(ENDED, "notified")};
static const struct queue_event ev_key2[] = {
    EV(CALLING, "1"), EV(ANSWERED, "PCMU"), EV(HEARD, "1"), EV(KEY, "2"),
    EV(ENDED, "notified")};
static const struct queue_event ev_key0[] = {
    EV(CALLING, "1"), EV(ANSWERED, "PCMU"), EV(HEARD, "1"), EV(KEY, "0"),
    EV(ENDED, "notified")};
static const struct queue_event ev_voice[] = {EV(CALLING, "1"), EV(KEY, "7"),
                                              EV(VOICE, "audio/ogg"),
                                              EV(ENDED, "notified")};
static const struct queue_event ev_gate[] = {
    EV(CALLING, "1"),
    EV(ANSWERED, "PCMU"),
    EV(UNHEARD, "gate"),
    EV(CALLING, "2"),
    EV(ANSWERED, "PCMU"),
    EV(UNHEARD, "gate"),
    EV(FAILED, "answered, but nobody listened after 2 attempts"),
    EV(ENDED, "failed")};
/* Voicemail first, then busy: the last attempt's outcome is told. */
static const struct queue_event ev_gate_then_busy[] = {
    EV(CALLING, "1"),
    EV(ANSWERED, "PCMU"),
    EV(UNHEARD, "gate"),
    EV(CALLING, "2"),
    EV(FAILED, "busy after 2 attempts"),
    EV(ENDED, "failed")};
static const struct queue_event ev_busy_then_gate[] = {
    EV(CALLING, "1"),
    EV(CALLING, "2"),
    EV(ANSWERED, "PCMU"),
    EV(UNHEARD, "gate"),
    EV(FAILED, "answered, but nobody listened"),
    EV(ENDED, "failed")};
/* Not heard at the gate, then heard on the retry. */
static const struct queue_event ev_gate_then_heard[] = {
    EV(CALLING, "1"),     EV(ANSWERED, "PCMU"), EV(UNHEARD, "gate"),
    EV(CALLING, "2"),     EV(ANSWERED, "PCMU"), EV(HEARD, "1"),
    EV(ENDED, "notified")};

#define N(a) (sizeof(a) / sizeof(a[0]))

static const struct {
	const char *detail;
	const struct queue_event *evs;
	size_t n;
	enum outcome_final want;
} finals[] = {
    {"notified", ev_heard, N(ev_heard), OUTCOME_FINAL_HEARD},
    {"notified", ev_key2, N(ev_key2), OUTCOME_FINAL_NONE},
    {"notified", ev_key0, N(ev_key0), OUTCOME_FINAL_HEARD},
    {"notified", ev_voice, N(ev_voice), OUTCOME_FINAL_NONE},
    {"failed", ev_gate, N(ev_gate), OUTCOME_FINAL_UNHEARD},
    {"failed", ev_gate_then_busy, N(ev_gate_then_busy), OUTCOME_FINAL_FAILED},
    {"failed", ev_busy_then_gate, N(ev_busy_then_gate), OUTCOME_FINAL_UNHEARD},
    {"notified", ev_gate_then_heard, N(ev_gate_then_heard),
     OUTCOME_FINAL_HEARD},
    {"failed", NULL, 0, OUTCOME_FINAL_FAILED},
    {"notified", NULL, 0, OUTCOME_FINAL_HEARD},
    {"cancelled", ev_gate, N(ev_gate), OUTCOME_FINAL_NONE},
    {NULL, ev_heard, N(ev_heard), OUTCOME_FINAL_NONE},
};

int main(void)
{
	for (size_t i = 0; i < N(finals); i++)
		CHECK_INT(outcome_final_kind(finals[i].detail, finals[i].evs,
		                             finals[i].n),
		          finals[i].want);

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
