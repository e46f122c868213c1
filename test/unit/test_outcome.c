/*
 * The outcome texts of component/outcome.c: template filling with
 * {callee} and {reason}, truncation to the buffer, and braces left alone.
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

int main(void)
{
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
