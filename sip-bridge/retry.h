/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The retry schedule of a job whose call failed with a retryable outcome
 * (busy, no answer, unreachable): [sip] retry_backoff seconds after the
 * first attempt, doubling after each further one.
 */
#ifndef RB_SIP_RETRY_H
#define RB_SIP_RETRY_H

#include <stdint.h>

/* Milliseconds from the end of attempt ATTEMPT (1, 2, ...) to the next
 * one, for BACKOFF_S seconds; the doubling stops at 2^20. */
int64_t retry_delay_ms(int backoff_s, int attempt);

#endif
