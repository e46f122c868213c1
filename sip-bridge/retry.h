/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The retry schedule of a job whose call failed with a retryable outcome
 * (busy, no answer, unreachable), and the round over a user's numbers
 * (issue 12): the job's numbers are tried in order, one call each, and a
 * failed call moves to the next number at once; [sip] attempts counts
 * rounds over the list, and [sip] retry_backoff seconds separate the end of
 * the first round from the next, doubling after each further one. Pure, so
 * the unit tests check it.
 */
#ifndef RB_SIP_RETRY_H
#define RB_SIP_RETRY_H

#include <stdint.h>

/* Milliseconds from the end of attempt ATTEMPT (1, 2, ...) to the next
 * one, for BACKOFF_S seconds; the doubling stops at 2^20. */
int64_t retry_delay_ms(int backoff_s, int attempt);

/* How a call ended, for the round. */
enum retry_outcome {
	/* Busy, no answer, unreachable...: the next number, then the next
	 * round. */
	RETRY_OUTCOME_AGAIN = 0,
	/* The voicemail gate unpassed with [calls] gate_retry off: the next
	 * number of this round, but no further round. */
	RETRY_OUTCOME_THIS_ROUND,
	/* Declined (603), or settled for good (no common codec...): the job
	 * ends here, whatever numbers are left. */
	RETRY_OUTCOME_NEVER,
};

enum retry_action {
	RETRY_NOW = 0, /* the next number, at once */
	RETRY_LATER,   /* the first number again, after DELAY_MS */
	RETRY_FAIL,    /* the job fails */
};

struct retry_plan {
	enum retry_action action;
	int64_t delay_ms; /* RETRY_LATER: from now; else 0 */
	int round;        /* the round the ended call belonged to (1, ...) */
	int index;        /* the number it dialled (0: the first) */
};

/*
 * Which number call ATTEMPT (the job's attempts counter: 1 for the first
 * call) dials among N_NUMBERS (1 to 3; anything below 1 counts as 1): the
 * calls of a job go round the list in order.
 */
int retry_number_index(int n_numbers, int attempt);

/*
 * What follows call ATTEMPT of a job with N_NUMBERS numbers, [sip]
 * attempts ROUNDS and [sip] retry_backoff BACKOFF_S, when it ended as O.
 */
void retry_plan_next(int n_numbers, int attempt, int rounds, int backoff_s,
                     enum retry_outcome o, struct retry_plan *plan);

#endif
