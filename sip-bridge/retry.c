/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The retry schedule (retry.h): pure, so the unit tests check it.
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
