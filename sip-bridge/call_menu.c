/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the answered call says and what its keys do: the phases after the
 * answer (enum call_phase). The call plays a list of pieces (playlist.c:
 * cached phrases, the rendered messages, a beep), and each piece's end can
 * write an event (HEARD the moment the message text has played, so a crash
 * afterwards does not phone again). Keys from either DTMF path cut the
 * current list (barge-in) and choose the next: 1-3 a canned reply, 7 a
 * voice reply recorded until 8, silence or the cap, 9 no more calls from
 * the sender today, 0 the messages again; a reply is confirmed aloud only
 * once its event is committed. With the voicemail gate (gate.h) the answer
 * first hears only who wrote and when, then "press any key": the messages
 * are read after a digit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "call_internal.h"
#include "clock.h"
#include "log.h"
#include "monitor.h"
#include "recorder.h"
#include "tts_cache.h"
#include "tz.h"
#include "voices.h"

void call_play_clear(struct call *c)
{
	playlist_clear(&c->play);
}

void call_play_fixed(struct call *c, enum prompt_id id)
{
	const char *lang;
	unsigned voice = voices_pick(c->b->voices, c->job->lang, &lang);
	const int16_t *pcm;
	size_t n;

	if (tts_cache_get(voices_cache(c->b->voices, voice),
	                  prompt_text(lang, id), &pcm, &n)) {
		log_warn(TAG, "phrase %d is not cached", (int)id);
		return;
	}
	playlist_add(&c->play, pcm, n, 0, false);
}

static void key_timer_stop(struct call *c)
{
	if (c->key_timer)
		su_timer_reset(c->key_timer);
}

/* The messages (as rendered so far), then the menu. */
void call_play_messages(struct call *c)
{
	call_play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_PLAYING;
	if (c->job->kind == QUEUE_JOB_VERIFY) {
		playlist_add(&c->play, c->msg_pcm, c->msg_n, 0, true);
		return;
	}
	playlist_add(&c->play, c->msg_pcm, c->msg_n, c->rendered_seq, false);
	call_play_fixed(c, PROMPT_MENU);
	call_play_fixed(c, PROMPT_MENU_9);
}

/* The gate: who wrote and when, "press any key"; then a wait. */
void call_play_gate(struct call *c)
{
	call_play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_GATE;
	playlist_add(&c->play, c->announce_pcm, c->announce_n, 0, false);
	call_play_fixed(c, PROMPT_GATE);
}

/* What the call says first, once it is rendered: the gate, or the
 * messages at once when there is no gate to pass. */
bool call_play_ready(const struct call *c)
{
	return c->gate.state == GATE_CLOSED ? c->announce_pcm != NULL
	                                    : c->msg_pcm != NULL;
}

void call_play_content(struct call *c)
{
	if (c->gate.state == GATE_CLOSED)
		call_play_gate(c);
	else
		call_play_messages(c);
}

static void closing(struct call *c, enum prompt_id id)
{
	call_play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_CLOSING;
	call_play_fixed(c, id);
}

static void on_key_timeout(struct bridge *b, su_timer_t *t, void *arg)
{
	struct call *c = arg;

	(void)b;
	(void)t;
	if (c->phase == PHASE_GATE) {
		if (gate_timeout(&c->gate)) {
			call_play_gate(c);
			return;
		}
		log_info(TAG,
		         "job %lld: no key at the gate, ending the call "
		         "without reading the message",
		         (long long)c->job->id);
		closing(c, PROMPT_GOODBYE);
		return;
	}
	if (c->phase != PHASE_WAITING)
		return;
	if (c->menu_repeats++ < 1) {
		call_play_clear(c);
		c->phase = PHASE_PLAYING;
		call_play_fixed(c, PROMPT_MENU);
		call_play_fixed(c, PROMPT_MENU_9);
		return;
	}
	log_info(TAG, "job %lld: no key, ending the call as heard",
	         (long long)c->job->id);
	closing(c, PROMPT_GOODBYE);
}

/* After the list: wait for a key (the menu has been heard). */
static void wait_for_key(struct call *c)
{
	c->phase = PHASE_WAITING;
	su_timer_set(c->key_timer, on_key_timeout, c);
}

/* Messages that joined the job during the call, read off the loop. */
static void on_refreshed(void *ctx, struct dbw_result *r)
{
	struct call *c = call_find(ctx, r->tag);
	struct queue_job *job = c ? c->job : NULL;
	struct queue_job_message *m;
	size_t n;

	if (!c || c->phase != PHASE_REFRESHING)
		return;
	if (r->err)
		log_warn(TAG, "job %lld: reading new messages: %s",
		         (long long)job->id, strerror(-r->err));
	n = r->err ? 0 : r->job->n_messages;
	if (n > 0) {
		m = realloc(job->messages, (job->n_messages + n) * sizeof(*m));
		if (m) {
			/* The strings move over with the array entries. */
			memcpy(m + job->n_messages, r->job->messages,
			       n * sizeof(*m));
			job->messages = m;
			job->n_messages += n;
			r->job->n_messages = 0;
			call_render_submit(c);
			if (c->tts_id || c->render_wait) {
				c->phase = PHASE_AWAITING_RENDER;
				return;
			}
		}
	}
	wait_for_key(c);
}

static void on_piece_end(struct call *c, const struct piece *p)
{
	char d[16];

	if (p->heard_seq > c->heard_seq) {
		c->heard_seq = p->heard_seq;
		snprintf(d, sizeof(d), "%d", p->heard_seq);
		call_event_write(c, QUEUE_EV_HEARD, d);
	}
	if (p->verify && c->heard_seq == 0) {
		c->heard_seq = 1;
		call_event_write(c, QUEUE_EV_VERIFY_SPOKEN, NULL);
	}
}

static void on_list_end(struct call *c)
{
	switch (c->phase) {
	case PHASE_RECORD_PROMPT:
		c->phase = PHASE_RECORDING;
		return;
	case PHASE_GREETING:
		/* The greeting bridged the gap; the gate, the messages (or
		 * the code) follow when rendered. A rendering that failed
		 * meanwhile ends the call as one that failed before the
		 * answer does, after the greeting (call_on_answer). */
		if (call_play_ready(c)) {
			call_play_content(c);
		} else if (c->msg_failed) {
			call_reason_set(c, "the message could not be spoken");
			c->phase = PHASE_ENDED;
			rtp_stream_drain(c->rtp);
		} else {
			c->phase = PHASE_AWAITING_RENDER;
		}
		return;
	case PHASE_PLAYING:
		if (c->job->kind == QUEUE_JOB_VERIFY) {
			/* The code was read twice: nothing more to say. */
			c->phase = PHASE_ENDED;
			rtp_stream_drain(c->rtp);
			return;
		}
		/* Messages that joined during the call are read next; the
		 * line is silent while the writer looks (a read, but behind
		 * the call's own writes, so HEARD is already applied). */
		if (c->job->n_messages > 0) {
			c->phase = PHASE_REFRESHING;
			dbw_job_refresh_messages(c->b->dbw, c->job->id,
			                         c->rendered_seq, on_refreshed,
			                         c->serial);
			return;
		}
		wait_for_key(c);
		return;
	case PHASE_GATE:
		su_timer_set(c->key_timer, on_key_timeout, c);
		return;
	case PHASE_CLOSING:
		c->phase = PHASE_ENDED;
		rtp_stream_drain(c->rtp);
		return;
	default:
		return;
	}
}

/* A piece of the playlist ended (playlist_end_cb). */
static void on_played(void *arg, const struct piece *p, bool last)
{
	struct call *c = arg;

	on_piece_end(c, p);
	if (last)
		on_list_end(c);
}

void call_menu_frame(void *arg, int16_t *pcm)
{
	struct call *c = arg;
	size_t o = playlist_read(&c->play, pcm, FRAME, on_played, c);

	if (o < FRAME) {
		memset(pcm + o, 0, (FRAME - o) * sizeof(*pcm));
		if (c->phase == PHASE_AWAITING_RENDER)
			c->b->render.silent_frames++;
	}
}

/*
 * A reply's event was committed (or failed): now say so. Until then the
 * call is confirming with nothing to play, so the line is silent and keys
 * are ignored; a hang-up meanwhile simply drops this.
 */
static void confirm(struct call *c, struct dbw_result *r, enum prompt_id ok)
{
	if (!c || c->phase != PHASE_CONFIRMING)
		return;
	if (r->err) {
		log_err(TAG, "job %lld: the reply was not saved: %s",
		        (long long)c->job->id, strerror(-r->err));
		closing(c, PROMPT_GOODBYE);
		return;
	}
	closing(c, ok);
}

static void on_key_1_saved(void *ctx, struct dbw_result *r)
{
	confirm(call_find(ctx, r->tag), r, PROMPT_CONFIRM_1);
}

static void on_key_2_saved(void *ctx, struct dbw_result *r)
{
	confirm(call_find(ctx, r->tag), r, PROMPT_CONFIRM_2);
}

static void on_key_3_saved(void *ctx, struct dbw_result *r)
{
	confirm(call_find(ctx, r->tag), r, PROMPT_CONFIRM_3);
}

static void on_voice_saved(void *ctx, struct dbw_result *r)
{
	confirm(call_find(ctx, r->tag), r, PROMPT_REPLY_SENT);
}

/*
 * Key 9: the sender's calls to this callee paused until the callee's next
 * local midnight, and the key's call_event_write, on the writer's thread. Both
 * or neither is what the confirmation needs: a KEY 9 the component tells the
 * sender about while no pause holds would be a lie, so the event is only
 * written once the pause is.
 */
struct pause_write {
	int64_t job_id, until_ms;
	char owner[]; /* the bridge's: the key's event is written as held */
};

static int pause_run(struct queue *q, void *arg)
{
	const struct pause_write *p = arg;
	int err = queue_pause_add(q, p->job_id, p->until_ms);

	return err ? err
	           : queue_event_add_held(q, p->job_id, p->owner, QUEUE_EV_KEY,
	                                  "9", NULL, 0, NULL);
}

static void on_key_9_saved(void *ctx, struct dbw_result *r)
{
	free(r->arg);
	r->arg = NULL;
	confirm(call_find(ctx, r->tag), r, PROMPT_CONFIRM_9);
}

/* Silence until DONE (one of the above) plays the confirmation. */
static void confirm_after(struct call *c)
{
	call_play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_CONFIRMING;
}

void call_recording_finish(struct call *c, bool speak)
{
	unsigned char *bytes = NULL;
	size_t len = 0;
	int ms = 0, err;

	if (!c->rec)
		return;
	err = recorder_finish(c->rec, &bytes, &len, &ms);
	recorder_free(c->rec);
	c->rec = NULL;
	if (err == 0) {
		const struct recorder_format *f =
		    c->b->cfg->recordings.format == CONFIG_REC_MP3
		        ? &recorder_format_mp3
		        : &recorder_format_opus;

		log_info(TAG, "job %lld: voice reply of %d ms, %zu bytes",
		         (long long)c->job->id, ms, len);
		/* The audio goes to the writer as it is, without a copy. */
		call_event_write_then(c, QUEUE_EV_VOICE, f->mime_type, bytes,
		                      len, speak ? on_voice_saved : NULL);
		monitor_voice_reply(c->b);
		c->replied = true;
		if (speak)
			confirm_after(c);
		return;
	}
	log_info(TAG, "job %lld: no voice reply (%s)", (long long)c->job->id,
	         strerror(-err));
	if (speak)
		closing(c, PROMPT_NO_REPLY);
}

static void start_recording(struct call *c)
{
	const struct recorder_format *f =
	    c->b->cfg->recordings.format == CONFIG_REC_MP3
	        ? &recorder_format_mp3
	        : &recorder_format_opus;
	int err;

	err = recorder_new(&c->rec, f, c->b->cfg->recordings.max_seconds,
	                   c->b->cfg->recordings.silence_seconds);
	if (err) {
		log_err(TAG, "job %lld: cannot record: %s",
		        (long long)c->job->id, strerror(-err));
		closing(c, PROMPT_NO_REPLY);
		return;
	}
	call_play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_RECORD_PROMPT;
	call_play_fixed(c, PROMPT_RECORD);
	playlist_add_beep(&c->play);
}

/* Key 9: "no more calls from them today", today being the callee's, in
 * the job's zone (the registration's, or UTC), on the queue's clock. */
static void pause_sender(struct call *c)
{
	size_t owner_len = strlen(c->b->owner) + 1;
	struct pause_write *p = calloc(1, sizeof(*p) + owner_len);
	time_t now = (time_t)(queue_now_ms(c->b->q) / 1000), midnight;
	int err;

	err = p ? tz_next_midnight(c->job->tz, now, &midnight) : -ENOMEM;
	if (err == -EINVAL) {
		/* A zone that tzdata no longer has (the registration checked
		 * it): a pause to UTC midnight is nearer what was asked than
		 * none. */
		log_warn(TAG,
		         "job %lld: time zone %s unknown here (is tzdata "
		         "installed?); pausing until midnight UTC",
		         (long long)c->job->id, c->job->tz);
		err = tz_next_midnight(NULL, now, &midnight);
	}
	if (err) {
		log_err(TAG, "job %lld: cannot pause the sender: %s",
		        (long long)c->job->id, strerror(-err));
		free(p);
		closing(c, PROMPT_GOODBYE);
		return;
	}
	p->job_id = c->job->id;
	p->until_ms = (int64_t)midnight * 1000;
	memcpy(p->owner, c->b->owner, owner_len);
	log_info(TAG, "job %lld: calls from %s paused until %lld",
	         (long long)c->job->id, c->job->sender_jid,
	         (long long)p->until_ms);
	dbw_call(c->b->dbw, pause_run, p, on_key_9_saved, c->serial);
	c->replied = true;
	confirm_after(c);
}

void call_menu_key(char key, enum dtmf_source src, int64_t now_ms, void *arg)
{
	struct call *c = arg;
	char d[2] = {key, '\0'};

	(void)now_ms;
	log_info(TAG, "job %lld: key %c (%s)", (long long)c->job->id, key,
	         dtmf_source_name(src));
	monitor_key(c->b, key);
	if (c->job->kind != QUEUE_JOB_MESSAGE)
		return;
	if (c->gate.state == GATE_CLOSED) {
		/* Any digit, during the greeting or the gate, shows someone
		 * listens; it opens the gate and means nothing more. */
		if ((c->phase != PHASE_GATE && c->phase != PHASE_GREETING &&
		     c->phase != PHASE_AWAITING_RENDER) ||
		    !gate_key(&c->gate))
			return;
		log_info(TAG, "job %lld: the gate was passed",
		         (long long)c->job->id);
		if (c->msg_pcm) {
			call_play_messages(c);
		} else {
			call_play_clear(c);
			key_timer_stop(c);
			c->phase = PHASE_AWAITING_RENDER;
		}
		return;
	}
	switch (c->phase) {
	case PHASE_RECORDING:
		if (key == '8') {
			call_event_write(c, QUEUE_EV_KEY, d);
			call_recording_finish(c, true);
		}
		return;
	case PHASE_GREETING:
	case PHASE_AWAITING_RENDER:
	case PHASE_PLAYING:
	case PHASE_REFRESHING:
	case PHASE_WAITING:
		break;
	default: /* the record prompt, a confirmation, the end */
		return;
	}
	/* A reply (1, 2, 3, 7) cuts the message short on purpose: the callee
	 * has taken it in, and must not be phoned for it again. Not during the
	 * greeting, before the messages began; in the other phases that take
	 * keys, rendered_seq is ahead of heard_seq only while that rendering
	 * plays (one that arrives while the call waits for it plays at once).
	 */
	if (strchr("12379", key) && c->phase != PHASE_GREETING &&
	    c->rendered_seq > c->heard_seq) {
		char h[16];

		c->heard_seq = c->rendered_seq;
		snprintf(h, sizeof(h), "%d", c->heard_seq);
		call_event_write(c, QUEUE_EV_HEARD, h);
	}
	switch (key) {
	case '1':
	case '2':
	case '3':
		call_event_write_then(c, QUEUE_EV_KEY, d, NULL, 0,
		                      key == '1'   ? on_key_1_saved
		                      : key == '2' ? on_key_2_saved
		                                   : on_key_3_saved);
		c->replied = true;
		confirm_after(c);
		break;
	case '7':
		call_event_write(c, QUEUE_EV_KEY, d);
		c->replied = true;
		start_recording(c);
		break;
	case '9':
		pause_sender(c);
		break;
	case '0':
		call_event_write(c, QUEUE_EV_KEY, d);
		c->menu_repeats = 0;
		if (c->msg_pcm)
			call_play_messages(c);
		break;
	default:
		break;
	}
}

void call_menu_event(void *arg, const uint8_t *p, size_t len, uint32_t ts,
                     uint16_t seq)
{
	struct call *c = arg;

	if (c->keys && c->phase != PHASE_ENDED)
		dtmf_keys_event(c->keys, p, len, ts, seq, clock_mono_ms());
}

int call_rx_signal_key(struct call *c, char key)
{
	if (!c->answered || c->phase == PHASE_ENDED || !c->keys)
		return -ENOTCONN;
	return key ? dtmf_keys_signal(c->keys, key, clock_mono_ms()) : 0;
}

void call_menu_audio(void *arg, const int16_t *pcm, size_t n)
{
	struct call *c = arg;

	if (c->phase == PHASE_ENDED)
		return;
	if (c->keys)
		dtmf_keys_audio(c->keys, pcm, n, clock_mono_ms());
	if (c->rec && c->phase == PHASE_RECORDING) {
		enum recorder_state st = RECORDER_RUNNING;

		if (recorder_feed(c->rec, pcm, n, &st) ||
		    st != RECORDER_RUNNING)
			call_recording_finish(c, true);
	}
}
