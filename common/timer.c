/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The timer list of timer.h: a singly linked list sorted by deadline, then
 * by arming order.
 */
#include "timer.h"

#include "clock.h"

void timer_init(struct timer *t, timer_fn fn, void *arg)
{
	*t = (struct timer){.fn = fn, .arg = arg};
}

void timer_stop(struct timers *ts, struct timer *t)
{
	struct timer **pp;

	if (!t->armed)
		return;
	for (pp = &ts->first; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	}
	t->next = NULL;
	t->armed = false;
}

void timer_start_at(struct timers *ts, struct timer *t, int64_t due_ms)
{
	struct timer **pp;

	timer_stop(ts, t);
	t->due_ms = due_ms;
	t->seq = ts->seq++;
	t->armed = true;
	for (pp = &ts->first; *pp && (*pp)->due_ms <= due_ms; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
}

void timer_start(struct timers *ts, struct timer *t, int64_t delay_ms)
{
	timer_start_at(ts, t, clock_mono_ms() + delay_ms);
}

void timer_start_by(struct timers *ts, struct timer *t, int64_t due_ms)
{
	if (!t->armed || t->due_ms > due_ms)
		timer_start_at(ts, t, due_ms);
}

int timers_wait_ms(const struct timers *ts, int64_t now_ms, int max_ms)
{
	int64_t wait;

	if (!ts->first)
		return max_ms;
	wait = ts->first->due_ms - now_ms;
	if (wait < 0)
		return 0;
	return wait < max_ms ? (int)wait : max_ms;
}

size_t timers_run(struct timers *ts, int64_t now_ms)
{
	/* Timers armed from here on (by the callbacks) wait: a callback
	 * that re-arms itself with no delay cannot spin this loop. They
	 * sort after every older due timer, since their deadline is at
	 * least NOW_MS. */
	uint64_t limit = ts->seq;
	size_t n = 0;

	while (ts->first && ts->first->due_ms <= now_ms &&
	       ts->first->seq < limit) {
		struct timer *t = ts->first;

		ts->first = t->next;
		t->next = NULL;
		t->armed = false;
		t->fn(t->arg);
		n++;
	}
	return n;
}
