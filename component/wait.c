/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * "Wait, then call, unless already seen" (issue 12): a user may ask to be
 * called only if they have not come online within N minutes. The job is in
 * the queue from the start (not_before at the wait's end, so a restart
 * loses nothing); this file remembers which callees have a job in its wait
 * and, when one of them comes online (any available resource), cancels
 * those jobs on the store's thread, silently. "Online" is what the
 * user's call_when makes it: any available resource, or, for a user
 * called when away, one that is not away. The set is rebuilt from the
 * queue at start, so a wait begun before a restart is still honoured.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "clock.h"
#include "comp.h"
#include "log.h"
#include "store.h"

#define TAG "wait"

/* The set's values: the latest seen_until_ms of a callee's waiting
 * jobs, and what counts as online for the callee. */
struct wait_entry {
	int64_t until_ms;
	enum queue_call_when call_when;
};

/* This module's state: callee -> struct wait_entry. */
struct comp_waits {
	GHashTable *by_callee;
};

struct comp_waits *comp_waits_new(void)
{
	struct comp_waits *w = g_new0(struct comp_waits, 1);

	w->by_callee =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return w;
}

void comp_waits_free(struct comp_waits *w)
{
	if (!w)
		return;
	g_hash_table_destroy(w->by_callee);
	g_free(w);
}

static void remember(struct comp *c, const char *bare, int64_t until_ms,
                     enum queue_call_when call_when)
{
	struct wait_entry *old = g_hash_table_lookup(c->waits->by_callee, bare);
	struct wait_entry *v;

	if (old && old->until_ms >= until_ms)
		return;
	v = g_new(struct wait_entry, 1);
	v->until_ms = until_ms;
	v->call_when = call_when;
	g_hash_table_replace(c->waits->by_callee, g_strdup(bare), v);
}

void comp_wait_started(struct comp *c, const char *bare, int64_t until_ms,
                       enum queue_call_when call_when)
{
	if (until_ms > 0)
		remember(c, bare, until_ms, call_when);
}

static int load_one(const struct queue_job *j, void *arg)
{
	struct comp *c = arg;
	struct queue_registration r = {0};
	enum queue_call_when call_when = QUEUE_CALL_OFFLINE;

	if (j->kind != QUEUE_JOB_MESSAGE || j->state != QUEUE_JOB_QUEUED ||
	    j->seen_until_ms <= clock_real_ms())
		return 0;
	/* Gone since: its jobs were cancelled with it. */
	if (queue_registration_get(c->q, j->callee_jid, &r) == 0)
		call_when = r.call_when;
	queue_registration_clear(&r);
	remember(c, j->callee_jid, j->seen_until_ms, call_when);
	return 0;
}

int comp_wait_load(struct comp *c)
{
	/* Every unfinished job: a few per user at most, read once. */
	struct queue_job_filter f = {.unfinished_only = true, .limit = INT_MAX};
	int err = queue_job_foreach(c->q, &f, load_one, c);

	if (err)
		log_err(TAG, "reading the jobs in a wait: %s", strerror(-err));
	else if (g_hash_table_size(c->waits->by_callee))
		log_info(TAG,
		         "%u users have a call waiting to see if they "
		         "come online",
		         g_hash_table_size(c->waits->by_callee));
	return err;
}

static int cancel_run(struct queue *q, void *arg)
{
	int n = 0;
	int err = queue_job_cancel_seen(q, arg, &n);

	if (!err && n)
		log_info(TAG, "%s came online: %d waiting call%s cancelled",
		         (const char *)arg, n, n == 1 ? "" : "s");
	return err;
}

static void cancel_done(struct comp *c, int err, void *arg)
{
	(void)c;
	if (err)
		log_err(TAG,
		        "cancelling the waiting calls of %s: %s; they "
		        "are made when their wait ends",
		        (const char *)arg, strerror(-err));
	g_free(arg);
}

void comp_wait_presence_changed(struct comp *c, const char *bare)
{
	struct wait_entry *w = g_hash_table_lookup(c->waits->by_callee, bare);

	if (!w || comp_presence_unreachable(c, bare, w->call_when))
		return;
	/* Past its wait the job is being called: coming online now does
	 * not take it back (the queue checks again, on its own clock). */
	if (w->until_ms > clock_real_ms())
		store_call(c->store, cancel_run, g_strdup(bare), cancel_done);
	g_hash_table_remove(c->waits->by_callee, bare);
}
