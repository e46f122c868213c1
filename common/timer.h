/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One list of timers for a process that runs its own poll() (the
 * component): each module embeds the struct timer it needs and arms it; the
 * loop asks timers_wait_ms() how long poll() may sleep and calls
 * timers_run() after it. redis's serverCron and libstrophe's timed handlers
 * are the model; libstrophe's own do not fit, since its loop is not ours.
 *
 * Deadlines are clock_mono_ms() values (common/clock.h): setting the wall
 * clock neither fires nor delays a timer. The list is kept sorted (insertion
 * is O(n): a process has about ten timers), ties fire in the order they were
 * armed. Everything runs on the loop's thread; a callback may arm or stop
 * any timer, itself included. The caller owns each struct timer and must
 * stop it (or let it fire) before freeing it.
 */
#ifndef RB_TIMER_H
#define RB_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef void (*timer_fn)(void *arg);

struct timer {
	int64_t due_ms; /* when armed: the clock_mono_ms() it fires at */
	timer_fn fn;
	void *arg;
	/* the list's own */
	struct timer *next;
	uint64_t seq; /* arming order: a timer armed while running waits */
	bool armed;
};

struct timers {
	struct timer *first; /* the earliest */
	uint64_t seq;
};

/* Prepares T (not armed) to call FN(ARG). */
void timer_init(struct timer *t, timer_fn fn, void *arg);
/* Arms T to fire at DUE_MS (re-arms it when armed already). */
void timer_start_at(struct timers *ts, struct timer *t, int64_t due_ms);
/* Arms T to fire DELAY_MS from now. */
void timer_start(struct timers *ts, struct timer *t, int64_t delay_ms);
/* Arms T at DUE_MS unless it is armed to fire sooner already. */
void timer_start_by(struct timers *ts, struct timer *t, int64_t due_ms);
/* Disarms T; nothing when it is not armed. */
void timer_stop(struct timers *ts, struct timer *t);
static inline bool timer_armed(const struct timer *t)
{
	return t->armed;
}

/* Milliseconds from NOW_MS until the first timer fires, at most MAX_MS
 * (0: one is due). */
int timers_wait_ms(const struct timers *ts, int64_t now_ms, int max_ms);
/* Fires every timer due at NOW_MS, earliest first, each disarmed before
 * its callback; one armed by a callback waits for the next call, even when
 * due already. Returns how many fired. */
size_t timers_run(struct timers *ts, int64_t now_ms);

#endif
