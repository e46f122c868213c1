/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a call writes to the queue: its events, its hold on the job's
 * lease, and the job's outcome when it ends (notified, retried with
 * back-off on the next number or round, or failed; a call answered but
 * never past the gate is UNHEARD). Every write goes through the writer
 * thread (queue_writer.c), in order, so nothing here waits for a commit.
 *
 * What order buys: HEARD is written before the job is finished, so the
 * finish (which moves messages not heard to a new job) never phones the
 * callee again for what they heard. What the call does not wait for:
 * HEARD, ANSWERED, CALLING, KEY 7 or 0 (and the lease renewal of main.c);
 * the call's next step does not depend on them being on disk, and a crash
 * before their commit costs what a crash just before the event would have
 * (a repeated call at worst). What it does wait for: the confirmation that
 * tells the callee their reply went out (keys 1-3, the voice reply) is
 * played only once that reply's event is committed (call_menu.c), so the
 * bridge never says "sent" about something a crash or an error lost.
 * Completions find their call by serial: a call may have ended meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_internal.h"
#include "clock.h"
#include "log.h"
#include "monitor.h"
#include "retry.h"

int call_lease_ms(const struct config *cfg)
{
	return cfg->sip.lease_seconds * 1000;
}

/*
 * Hung up, the call writes nothing more: the job belongs to whoever holds
 * its lease now. Should the lease simply have lapsed (the database was out
 * of reach) the job stays active until another bridge claims it again,
 * which turns the HEARD events already written into "notified".
 */
static void lease_lost(struct call *c, const char *why)
{
	if (c->lease_lost)
		return;
	c->lease_lost = true;
	log_warn(TAG,
	         "job %lld: %s: hanging up, the job is no longer this "
	         "bridge's",
	         (long long)c->job->id, why);
	call_hangup(c, why);
}

/* A failed write logged once, for writes the call does not wait for. */
static void on_written(void *ctx, struct dbw_result *r)
{
	struct call *c;

	if (!r->err)
		return;
	if (r->err == -EPERM) {
		log_warn(TAG,
		         "job %lld: lease lost, a write was refused (another "
		         "bridge took the job over)",
		         (long long)r->job_id);
		c = call_find(ctx, r->tag);
		if (c && c->job->id == r->job_id)
			lease_lost(c, "another bridge took the job over");
	} else
		log_err(TAG, "job %lld: writing to the queue (%d): %s",
		        (long long)r->job_id, (int)r->op, strerror(-r->err));
}

/* Queues an event; BLOB (may be NULL) is taken. DONE NULL: not waited for. */
void call_event_write_then(struct call *c, enum queue_event_type t,
                           const char *detail, unsigned char *blob, size_t len,
                           dbw_done_cb done)
{
	if (c->lease_lost) {
		free(blob);
		return;
	}
	dbw_event_add(c->b->dbw, c->job->id, c->b->owner, t, detail, blob, len,
	              done ? done : on_written, c->serial);
}

void call_event_write(struct call *c, enum queue_event_type t,
                      const char *detail)
{
	call_event_write_then(c, t, detail, NULL, 0, NULL);
}

void call_reason_set(struct call *c, const char *r)
{
	if (!c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", r);
}

/* What the round makes of a call that did not notify: declined (603) ends
 * the job; a failure settled for this number (no common codec, refused
 * SDP, the policy) and the gate unpassed without gate_retry leave the
 * rest of this round; anything else goes on round after round. */
static enum retry_outcome round_outcome(const struct call *c, bool retry)
{
	if (!strcmp(c->reason, "rejected"))
		return RETRY_OUTCOME_NEVER;
	return retry && !c->no_retry ? RETRY_OUTCOME_AGAIN
	                             : RETRY_OUTCOME_THIS_ROUND;
}

/* Gives the job back for the next number or round, or fails it for good. */
static void retry_or_fail(struct call *c, const char *reason, bool retry)
{
	struct bridge *b = c->b;
	struct queue_job *job = c->job;
	enum retry_outcome o = round_outcome(c, retry);
	int n = queue_job_destinations(job);
	struct retry_plan plan;
	char words[256];

	if (b->stopping && o == RETRY_OUTCOME_AGAIN) {
		dbw_job_retry(b->dbw, job->id, b->owner, queue_now_ms(b->q),
		              reason, QUEUE_CH_JOBS, on_written, c->serial);
		return;
	}
	retry_plan_next(n, job->attempts, b->cfg->sip.attempts,
	                b->cfg->sip.retry_backoff, o, &plan);
	if (plan.action == RETRY_NOW) {
		/* At once, and told to every bridge: this one claims it
		 * again as the call goes, behind this write on its FIFO. */
		log_info(TAG, "job %lld: %s; number %d of %d now",
		         (long long)job->id, reason, plan.index + 2, n);
		dbw_job_retry(b->dbw, job->id, b->owner, queue_now_ms(b->q),
		              reason, QUEUE_CH_JOBS, on_written, c->serial);
		return;
	}
	if (plan.action == RETRY_LATER) {
		log_info(TAG, "job %lld: %s; round %d in %lld s",
		         (long long)job->id, reason, plan.round + 1,
		         (long long)(plan.delay_ms / 1000));
		dbw_job_retry(b->dbw, job->id, b->owner,
		              queue_now_ms(b->q) + plan.delay_ms, reason, 0,
		              on_written, c->serial);
		return;
	}
	/* The sender learns what the last number tried gave, never the
	 * numbers themselves. */
	if (o == RETRY_OUTCOME_NEVER || (n == 1 && o != RETRY_OUTCOME_AGAIN))
		snprintf(words, sizeof(words), "%s", reason);
	else if (n == 1)
		snprintf(words, sizeof(words), "%s after %d attempt%s", reason,
		         plan.round, plan.round == 1 ? "" : "s");
	else if (o != RETRY_OUTCOME_AGAIN)
		snprintf(words, sizeof(words), "%s on the last of %d numbers",
		         reason, n);
	else
		snprintf(words, sizeof(words),
		         "%s on the last of %d numbers after %d round%s",
		         reason, n, plan.round, plan.round == 1 ? "" : "s");
	log_info(TAG, "job %lld: failed: %s", (long long)job->id, words);
	monitor_job_finished(b, QUEUE_JOB_FAILED);
	/* In this order on the writer's one FIFO. */
	call_event_write(c, QUEUE_EV_FAILED, words);
	dbw_job_finish(b->dbw, job->id, b->owner, QUEUE_JOB_FAILED, words,
	               on_written, c->serial);
	call_event_write(c, QUEUE_EV_ENDED,
	                 queue_job_state_name(QUEUE_JOB_FAILED));
}

/* What the attempt counts as in ringbridge_calls_total: the first reason
 * set wins, and these are the words call_on_failure and the ring timeout
 * give the SIP failures that are the callee's doing. */
static enum monitor_outcome outcome_kind(const struct call *c)
{
	static const struct {
		const char *reason;
		enum monitor_outcome o;
	} kinds[] = {
	    {"busy", MONITOR_BUSY},
	    {"no answer", MONITOR_NO_ANSWER},
	    {"rejected", MONITOR_REJECTED},
	    {"unreachable", MONITOR_UNREACHABLE},
	};

	if (c->answered)
		return MONITOR_ANSWERED;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(c->reason, kinds[i].reason))
			return kinds[i].o;
	return MONITOR_FAILED;
}

void call_outcome_write(struct call *c)
{
	struct bridge *b = c->b;

	if (!c->answered)
		call_reason_set(c, "unreachable");
	monitor_call_outcome(b, outcome_kind(c));
	if (c->lease_lost)
		return;
	if (c->answered && (c->heard_seq > 0 || c->replied)) {
		monitor_job_finished(b, QUEUE_JOB_NOTIFIED);
		/* Behind the call's HEARD, KEY and VOICE events on the
		 * writer's FIFO: finished only after they were written. */
		dbw_job_finish(b->dbw, c->job->id, b->owner, QUEUE_JOB_NOTIFIED,
		               NULL, on_written, c->serial);
		log_info(TAG, "job %lld: notified", (long long)c->job->id);
		call_event_write(c, QUEUE_EV_ENDED,
		                 queue_job_state_name(QUEUE_JOB_NOTIFIED));
		return;
	}
	if (c->answered && gate_unheard(&c->gate) && !c->msg_failed) {
		/* Nothing private was read. A bridge stopping mid-gate gives
		 * the job back whatever [calls] gate_retry says. */
		call_event_write(c, QUEUE_EV_UNHEARD, "gate");
		call_reason_set(c, "answered, but nobody listened");
		retry_or_fail(c, c->reason,
		              !c->no_retry &&
		                  (b->cfg->calls.gate_retry || b->stopping));
		return;
	}
	if (c->answered)
		call_reason_set(c,
		                "the call ended before the message was heard");
	retry_or_fail(c, c->reason, !c->no_retry);
}

/* What the last lease check may leave: a BYE needs a moment to leave, and
 * the next check comes LEASE_CHECK_MS later (main.c). */
#define LEASE_MARGIN_MS 1000

void call_leases_renewed(struct bridge *b, int64_t sent_ms, const int64_t *held,
                         size_t n_held)
{
	struct call *c, *next;
	size_t i;

	for (c = b->calls; c; c = next) {
		next = c->next;
		for (i = 0; i < n_held && held[i] != c->job->id; i++)
			;
		if (i < n_held)
			c->lease_until_ms = sent_ms + call_lease_ms(b->cfg);
		else if (c->phase != PHASE_ENDED)
			lease_lost(c, "another bridge took the job over");
	}
}

void call_leases_check(struct bridge *b)
{
	int64_t now = clock_mono_ms();
	struct call *c, *next;

	for (c = b->calls; c; c = next) {
		next = c->next;
		if (c->phase != PHASE_ENDED &&
		    now + LEASE_MARGIN_MS >= c->lease_until_ms)
			lease_lost(c, "the queue was out of reach until the "
			              "job's lease ran out");
	}
}
