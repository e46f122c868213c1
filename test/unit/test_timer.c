/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The timer list (common/timer.c): timers fire in deadline order (ties in
 * arming order), not before their deadline, once per arming; re-arming and
 * stopping take effect; the wait poll() is given is capped and never
 * negative; a callback that re-arms itself with no delay waits for the next
 * run instead of spinning.
 */
#include "check.h"
#include "timer.h"

struct fired {
	int order[16];
	int n;
};

struct tt {
	struct timer t;
	struct fired *f;
	struct timers *ts;
	int id;
	int rearm_delay; /* >= 0: the callback re-arms itself */
};

static void on_fire(void *arg)
{
	struct tt *x = arg;

	if (x->f->n < 16)
		x->f->order[x->f->n++] = x->id;
	if (x->rearm_delay >= 0)
		timer_start_at(x->ts, &x->t, 1000 + x->rearm_delay);
}

static void tt_init(struct tt *x, struct timers *ts, struct fired *f, int id)
{
	x->f = f;
	x->ts = ts;
	x->id = id;
	x->rearm_delay = -1;
	timer_init(&x->t, on_fire, x);
}

static void test_order(void)
{
	struct timers ts = {0};
	struct fired f = {0};
	struct tt a, b, c, d;

	tt_init(&a, &ts, &f, 1);
	tt_init(&b, &ts, &f, 2);
	tt_init(&c, &ts, &f, 3);
	tt_init(&d, &ts, &f, 4);
	CHECK_INT(timers_wait_ms(&ts, 0, 250), 250);
	timer_start_at(&ts, &a.t, 300);
	timer_start_at(&ts, &b.t, 100);
	timer_start_at(&ts, &c.t, 300); /* ties with a: after it */
	timer_start_at(&ts, &d.t, 200);
	CHECK_INT(timers_wait_ms(&ts, 0, 250), 100);
	CHECK_INT(timers_wait_ms(&ts, 0, 50), 50);
	CHECK_INT(timers_wait_ms(&ts, 150, 250), 0);
	CHECK_INT((int)timers_run(&ts, 99), 0);
	CHECK_INT((int)timers_run(&ts, 200), 2);
	CHECK_INT(f.n, 2);
	CHECK_INT(f.order[0], 2);
	CHECK_INT(f.order[1], 4);
	CHECK(!timer_armed(&b.t));
	CHECK(timer_armed(&a.t));
	CHECK_INT((int)timers_run(&ts, 1000), 2);
	CHECK_INT(f.order[2], 1);
	CHECK_INT(f.order[3], 3);
	CHECK_INT((int)timers_run(&ts, 2000), 0);
	CHECK_INT(timers_wait_ms(&ts, 0, 250), 250);
}

static void test_rearm_stop(void)
{
	struct timers ts = {0};
	struct fired f = {0};
	struct tt a, b;

	tt_init(&a, &ts, &f, 1);
	tt_init(&b, &ts, &f, 2);
	timer_start_at(&ts, &a.t, 100);
	timer_start_at(&ts, &b.t, 200);
	timer_start_at(&ts, &a.t, 300); /* re-armed: once, later */
	timer_stop(&ts, &b.t);
	timer_stop(&ts, &b.t); /* twice is nothing */
	CHECK_INT((int)timers_run(&ts, 250), 0);
	CHECK_INT((int)timers_run(&ts, 300), 1);
	CHECK_INT(f.order[0], 1);
	/* start_by moves a timer earlier only. */
	timer_start_by(&ts, &a.t, 500);
	timer_start_by(&ts, &a.t, 700);
	CHECK_INT(timers_wait_ms(&ts, 0, 1000), 500);
	timer_start_by(&ts, &a.t, 400);
	CHECK_INT(timers_wait_ms(&ts, 0, 1000), 400);
	timer_stop(&ts, &a.t);
	CHECK(!timer_armed(&a.t));
	CHECK_INT(timers_wait_ms(&ts, 0, 1000), 1000);
	/* Stopping the last and a middle timer keeps the rest linked. */
	timer_start_at(&ts, &a.t, 10);
	timer_start_at(&ts, &b.t, 20);
	timer_stop(&ts, &b.t);
	CHECK_INT((int)timers_run(&ts, 30), 1);
	CHECK(!ts.first);
}

static void test_self_rearm(void)
{
	struct timers ts = {0};
	struct fired f = {0};
	struct tt a;

	tt_init(&a, &ts, &f, 1);
	a.rearm_delay = 0; /* due at 1000 again: the same run's now */
	timer_start_at(&ts, &a.t, 1000);
	CHECK_INT((int)timers_run(&ts, 1000), 1);
	CHECK(timer_armed(&a.t));
	CHECK_INT(timers_wait_ms(&ts, 1000, 250), 0);
	CHECK_INT((int)timers_run(&ts, 1000), 1);
	a.rearm_delay = -1;
	CHECK_INT((int)timers_run(&ts, 1000), 1);
	CHECK(!timer_armed(&a.t));
	CHECK_INT(f.n, 3);
}

/* timer_start() reads the monotonic clock: due within its delay. */
static void test_start_now(void)
{
	struct timers ts = {0};
	struct fired f = {0};
	struct tt a;

	tt_init(&a, &ts, &f, 1);
	timer_start(&ts, &a.t, 60000);
	CHECK(timers_wait_ms(&ts, a.t.due_ms - 60000, 120000) == 60000);
	timer_stop(&ts, &a.t);
}

int main(void)
{
	test_order();
	test_rearm_stop();
	test_self_rearm();
	test_start_now();
	return check_exit("test_timer");
}
