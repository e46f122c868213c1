/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The retry schedule and the round over a user's numbers (retry.h): pure,
 * so the unit tests check it. The position in the round is derived from
 * the job's attempts counter, which the queue increments at every claim,
 * so the job needs no column of its own and a bridge that dies mid-call
 * leaves a job that resumes at the next number.
 */
#include "retry.h"

int64_t retry_delay_ms(int backoff_s, int attempt)
{
	int shift = attempt - 1;

	if (shift < 0)
		shift = 0;
	if (shift > 20)
		shift = 20;
	return (int64_t)backoff_s * 1000 * ((int64_t)1 << shift);
}

int retry_number_index(int n_numbers, int attempt)
{
	if (n_numbers < 1)
		n_numbers = 1;
	if (attempt < 1)
		attempt = 1;
	return (attempt - 1) % n_numbers;
}

void retry_plan_next(int n_numbers, int attempt, int rounds, int backoff_s,
                     enum retry_outcome o, struct retry_plan *plan)
{
	if (n_numbers < 1)
		n_numbers = 1;
	if (attempt < 1)
		attempt = 1;
	plan->round = (attempt - 1) / n_numbers + 1;
	plan->index = (attempt - 1) % n_numbers;
	plan->delay_ms = 0;
	if (o == RETRY_OUTCOME_NEVER) {
		plan->action = RETRY_FAIL;
		return;
	}
	if (plan->index < n_numbers - 1) {
		plan->action = RETRY_NOW;
		return;
	}
	if (o == RETRY_OUTCOME_THIS_ROUND || plan->round >= rounds) {
		plan->action = RETRY_FAIL;
		return;
	}
	/* Between rounds the back-off counts rounds, as it counted calls
	 * when a user had one number: one number behaves as before. */
	plan->action = RETRY_LATER;
	plan->delay_ms = retry_delay_ms(backoff_s, plan->round);
}
