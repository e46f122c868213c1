/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two clocks every process reads, as integers: CLOCK_MONOTONIC for
 * durations, timeouts and deadlines (it never jumps when the wall clock is
 * set), CLOCK_REALTIME for times that are stored or shown (queue rows,
 * stanza stamps). Static inline: a few nanoseconds per read on the hot
 * paths (the media clock reads it every 20 ms per call).
 */
#ifndef RB_CLOCK_H
#define RB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline int64_t clock_mono_us(void)
{
	return clock_mono_ns() / 1000;
}

static inline int64_t clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

/* Milliseconds since the epoch. */
static inline int64_t clock_real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
