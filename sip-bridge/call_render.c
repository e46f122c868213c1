/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A call's variable prompt: the verification code, the gate's
 * announcement, or the messages, composed (prompts.c) and sent to the
 * speech worker as soon as the call is claimed, so that it renders while
 * the phone rings; a callee who answers first hears the cached greeting
 * meanwhile. A full worker queue makes the call wait for room
 * (call_render_resume, oldest call first); results come back through
 * call_tts_deliver, and how well the renders kept up is logged at exit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "call_internal.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "tts_worker.h"
#include "voices.h"

void call_render_submit(struct call *c)
{
	struct bridge *b = c->b;
	char *text = NULL;
	const char *lang;
	unsigned voice = voices_pick(b->voices, c->job->lang, &lang);
	int err, last = 0;
	size_t i;

	c->announcing = false;
	if (c->job->kind == QUEUE_JOB_VERIFY) {
		err = prompt_verify(
		    lang, c->job->verify_code ? c->job->verify_code : "",
		    &text);
	} else if (c->gate.state == GATE_CLOSED && !c->announce_pcm) {
		/* The gate's announcement first; the messages are rendered
		 * next, while it plays. */
		err = prompt_announce(c->job, lang, &text);
		c->announcing = true;
	} else {
		err = prompt_messages(c->job, lang, c->rendered_seq,
		                      b->cfg->tts.max_chars,
		                      c->gate.state == GATE_OFF, &text);
		for (i = 0; i < c->job->n_messages; i++)
			if (c->job->messages[i].seq > last)
				last = c->job->messages[i].seq;
	}
	if (err) {
		log_err(TAG, "job %lld: composing the prompt: %s",
		        (long long)c->job->id, strerror(-err));
		c->msg_failed = true;
		return;
	}
	c->tts_id = ++b->next_tts_id;
	c->pending_seq = last;
	/* A retry after -EBUSY keeps the first attempt's time. */
	if (!c->render_wait)
		c->render_ms = clock_mono_ms();
	/* Message texts are private: only at debug level. */
	log_debug(TAG, "job %lld: saying \"%s\"", (long long)c->job->id, text);
	c->tts_submitted_ns = metrics_now_ns();
	err = tts_worker_submit_voice(b->tts, c->tts_id, voice, text);
	free(text);
	/* More calls rendering at once than the worker queues (a burst of
	 * set-ups): this one waits for room, as the phone rings. */
	c->render_wait = err == -EBUSY;
	if (c->render_wait) {
		c->tts_id = 0;
		return;
	}
	if (err) {
		log_err(TAG, "job %lld: rendering: %s", (long long)c->job->id,
		        strerror(-err));
		c->tts_id = 0;
		c->msg_failed = true;
	}
}

void call_render_resume(struct bridge *b)
{
	struct call *c, *first;

	/* Oldest call first (the list is newest first); usually one slot
	 * came free, so this is one pass over the calls a completion. */
	for (;;) {
		first = NULL;
		for (c = b->calls; c; c = c->next)
			if (c->render_wait && c->phase != PHASE_ENDED &&
			    (!first || c->serial < first->serial))
				first = c;
		if (!first)
			return;
		call_render_submit(first);
		if (first->render_wait)
			return;
	}
}

static void render_stats_add(struct call *c, int err)
{
	struct render_stats *s = &c->b->render;
	int64_t ms = clock_mono_ms() - c->render_ms;
	int64_t bin = ms / 10;

	s->renders++;
	if (err)
		s->failed++;
	if (c->answered)
		s->late++;
	if (ms > s->max_ms)
		s->max_ms = ms;
	s->hist[bin < 0                  ? 0
	        : bin > RENDER_HIST_BINS ? RENDER_HIST_BINS
	                                 : bin]++;
}

static int64_t render_stats_pct(const struct render_stats *s, double p)
{
	uint64_t want = (uint64_t)(p * (double)s->renders), seen = 0;

	for (int i = 0; i <= RENDER_HIST_BINS; i++) {
		seen += s->hist[i];
		/* A bin's upper edge, but never past the largest seen. */
		if (seen > want)
			return (int64_t)(i + 1) * 10 < s->max_ms
			           ? (int64_t)(i + 1) * 10
			           : s->max_ms;
	}
	return s->max_ms;
}

void call_render_stats_log(const struct bridge *b)
{
	const struct render_stats *s = &b->render;

	log_info(TAG,
	         "speech totals: %llu prompts rendered (%llu failed), "
	         "submit-to-ready p50 %lld ms, p99 %lld ms, max %lld ms; %llu "
	         "ready only after the answer; %llu packets of silence waiting "
	         "for a prompt",
	         (unsigned long long)s->renders, (unsigned long long)s->failed,
	         (long long)render_stats_pct(s, 0.5),
	         (long long)render_stats_pct(s, 0.99), (long long)s->max_ms,
	         (unsigned long long)s->late,
	         (unsigned long long)s->silent_frames);
}

static void call_tts_done(struct call *c, int err, int16_t *pcm, size_t n)
{
	bool announced = c->announcing;

	c->tts_id = 0;
	if (!err)
		monitor_tts_render(c->b,
		                   metrics_now_ns() - c->tts_submitted_ns);
	render_stats_add(c, err);
	c->announcing = false;
	if (err) {
		log_err(TAG, "job %lld: the prompt did not render: %s",
		        (long long)c->job->id, strerror(-err));
		c->msg_failed = true;
		if (c->phase == PHASE_AWAITING_RENDER)
			call_hangup(c, "the message could not be spoken");
		return;
	}
	if (announced) {
		c->announce_pcm = pcm;
		c->announce_n = n;
		if (c->phase == PHASE_AWAITING_RENDER &&
		    c->gate.state == GATE_CLOSED)
			call_play_gate(c);
		if (c->phase != PHASE_ENDED)
			call_render_submit(c);
		return;
	}
	free(c->msg_pcm);
	c->msg_pcm = pcm;
	c->msg_n = n;
	c->rendered_seq = c->pending_seq;
	if (c->phase == PHASE_AWAITING_RENDER && gate_content_allowed(&c->gate))
		call_play_messages(c);
}

bool call_tts_deliver(struct bridge *b, uint64_t id, int err, int16_t *pcm,
                      size_t n)
{
	struct call *c;

	for (c = b->calls; c; c = c->next) {
		if (c->tts_id == id) {
			call_tts_done(c, err, pcm, n);
			return true;
		}
	}
	return false;
}
