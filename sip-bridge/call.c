/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One call, from claim to outcome. The INVITE goes out at once and the
 * variable prompt is rendered while the phone rings; on answer the call
 * plays a list of pieces (cached phrases, the rendered messages, a beep),
 * and each piece's end can write an event (HEARD the moment the message
 * text has played, so a crash afterwards does not phone again). Keys from
 * either DTMF path cut the current list (barge-in) and choose the next.
 * When nua reports the dialog terminated, the outcome is written to the
 * queue (notified, retried with back-off, or failed) and the call is freed.
 * With the voicemail gate (gate.h) the answer first hears only who wrote
 * and when, then "press any key": the messages are read after a digit,
 * and a call that ends without one is answered, not heard (UNHEARD).
 *
 * Every queue call goes through the writer thread (queue_writer.c), in order,
 * so nothing here waits for a commit. What order buys: HEARD is written before
 * the job is finished, so the finish (which moves messages not heard to a
 * new job) never phones the callee again for what they heard. What the call
 * does not wait for: HEARD, ANSWERED, CALLING, KEY 7 or 0 (and the lease
 * renewal of main.c); the call's next step does not depend on them being on
 * disk, and a crash before their commit costs what a crash just before the
 * event would have (a repeated call at worst). What it does wait for: the
 * confirmation that tells the callee their reply went out (keys 1-3, the
 * voice reply) is played only once that reply's event is committed, so the
 * bridge never says "sent" about something a crash or an error lost.
 * Completions find their call by serial: a call may have ended meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge.h"
#include "clock.h"
#include "dtmf.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "playlist.h"
#include "policy.h"
#include "prompts.h"
#include "queue_writer.h"
#include "recorder.h"
#include "retry.h"
#include "tts_cache.h"
#include "tts_worker.h"
#include "tz.h"
#include "voices.h"

#define TAG "call"

enum call_phase {
	PHASE_RINGING = 0,
	PHASE_PLAYING,       /* messages and menu */
	PHASE_GATE,          /* announcement and "press any key", then a wait */
	PHASE_WAITING,       /* menu played, waiting for a key */
	PHASE_RECORD_PROMPT, /* after 7: the prompt and the beep, keys ignored
	                      */
	PHASE_RECORDING,  /* then the recording, until 8, silence or the cap */
	PHASE_CONFIRMING, /* silent until the reply's event is committed */
	PHASE_CLOSING,    /* final prompt, then BYE */
	PHASE_ENDED,
};

struct call {
	struct bridge *b;
	struct call *next;
	uint64_t serial; /* names the call in queue completions */
	struct queue_job *job;
	/* When the variable prompt went to the worker (monitor.h). */
	int64_t tts_submitted_ns;
	uint64_t tts_id;   /* the variable prompt's request, 0 when none */
	int64_t render_ms; /* monotonic: when that request was first made */
	int16_t *msg_pcm;  /* rendered variable prompt (owned) */
	size_t msg_n;
	bool msg_failed;
	int rendered_seq;      /* messages covered by the rendering */
	struct gate gate;      /* the voicemail gate (gate.h) */
	int16_t *announce_pcm; /* the gate's rendered announcement (owned) */
	size_t announce_n;
	bool announcing; /* the render in flight is the announcement */

	struct ua_leg leg; /* ua.c's */
	bool answered;
	bool progressed;  /* a provisional response came (1xx, nua_r_invite) */
	char reason[128]; /* the outcome in words, "" while unknown */

	struct sdp_answer ans;
	struct rtp_stream *rtp; /* rtp.c's, from the claim to call_free */
	uint64_t sdp_version;   /* our o= version; the session id is job's */
	char sdp_last[1024];    /* the SDP we sent last */
	su_timer_t *ring_timer, *cap_timer, *key_timer;
	struct call_srtp srtp; /* call_srtp.c's */

	struct dtmf_keys *keys;
	struct recorder *rec;

	enum call_phase phase;
	struct playlist play; /* what is said now (playlist.c) */
	int menu_repeats;
	int heard_seq; /* last seq reported HEARD */
	int pending_seq;
	bool awaiting_render, msg_started, replied, no_retry;
	bool render_wait; /* the speech worker's queue was full: submit later */
	bool refreshing;  /* asked the queue for messages that joined */
	/*
	 * Monotonic ms until which the job's lease is surely this bridge's:
	 * the moment the claim or the last renewal that covered it was sent,
	 * plus the lease (the database's deadline can only be later).
	 */
	int64_t lease_until_ms;
	bool lease_lost; /* taken over or lapsed: nothing more is written */
};

#define FRAME 160

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
static void event_then(struct call *c, enum queue_event_type t,
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

static void event(struct call *c, enum queue_event_type t, const char *detail)
{
	event_then(c, t, detail, NULL, 0, NULL);
}

static void set_reason(struct call *c, const char *r)
{
	if (!c->reason[0])
		snprintf(c->reason, sizeof(c->reason), "%s", r);
}

/* ---- what is played ------------------------------------------------------ */

static void play_clear(struct call *c)
{
	playlist_clear(&c->play);
	/* Whatever was to follow a pending refresh is replaced by what the
	 * caller plays now (a pending confirmation, by the phase it sets). */
	c->refreshing = false;
}

static void play_fixed(struct call *c, enum prompt_id id)
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
static void play_messages(struct call *c)
{
	play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_PLAYING;
	c->msg_started = true;
	if (c->job->kind == QUEUE_JOB_VERIFY) {
		playlist_add(&c->play, c->msg_pcm, c->msg_n, 0, true);
		return;
	}
	playlist_add(&c->play, c->msg_pcm, c->msg_n, c->rendered_seq, false);
	play_fixed(c, PROMPT_MENU);
	play_fixed(c, PROMPT_MENU_9);
}

/* The gate: who wrote and when, "press any key"; then a wait. */
static void play_gate(struct call *c)
{
	play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_GATE;
	playlist_add(&c->play, c->announce_pcm, c->announce_n, 0, false);
	play_fixed(c, PROMPT_GATE);
}

/* What the call says first, once it is rendered: the gate, or the
 * messages at once when there is no gate to pass. */
static bool content_ready(const struct call *c)
{
	return c->gate.state == GATE_CLOSED ? c->announce_pcm != NULL
	                                    : c->msg_pcm != NULL;
}

static void play_content(struct call *c)
{
	if (c->gate.state == GATE_CLOSED)
		play_gate(c);
	else
		play_messages(c);
}

static void closing(struct call *c, enum prompt_id id)
{
	play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_CLOSING;
	play_fixed(c, id);
}

static void on_key_timeout(struct bridge *b, su_timer_t *t, void *arg)
{
	struct call *c = arg;

	(void)b;
	(void)t;
	if (c->phase == PHASE_GATE) {
		if (gate_timeout(&c->gate)) {
			play_gate(c);
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
		play_clear(c);
		c->phase = PHASE_PLAYING;
		play_fixed(c, PROMPT_MENU);
		play_fixed(c, PROMPT_MENU_9);
		return;
	}
	log_info(TAG, "job %lld: no key, ending the call as heard",
	         (long long)c->job->id);
	closing(c, PROMPT_GOODBYE);
}

static void submit_render(struct call *c);

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

	if (!c || !c->refreshing || c->phase != PHASE_PLAYING)
		return;
	c->refreshing = false;
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
			submit_render(c);
			if (c->tts_id || c->render_wait) {
				c->awaiting_render = true;
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
		event(c, QUEUE_EV_HEARD, d);
	}
	if (p->verify && c->heard_seq == 0) {
		c->heard_seq = 1;
		event(c, QUEUE_EV_VERIFY_SPOKEN, NULL);
	}
}

static void finish_recording(struct call *c, bool speak);

static void on_list_end(struct call *c)
{
	switch (c->phase) {
	case PHASE_RECORD_PROMPT:
		c->phase = PHASE_RECORDING;
		return;
	case PHASE_PLAYING:
		if (!c->msg_started) {
			/* The greeting bridged the gap; the gate, the
			 * messages (or the code) follow when rendered. */
			if (content_ready(c))
				play_content(c);
			else
				c->awaiting_render = true;
			return;
		}
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
			c->refreshing = true;
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

static void call_next_frame(void *arg, int16_t *pcm)
{
	struct call *c = arg;
	size_t o = playlist_read(&c->play, pcm, FRAME, on_played, c);

	if (o < FRAME) {
		memset(pcm + o, 0, (FRAME - o) * sizeof(*pcm));
		if (c->awaiting_render)
			c->b->render.silent_frames++;
	}
}

/* ---- keys and recording ---------------------------------------------------
 */

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
 * local midnight, and the key's event, on the writer's thread. Both or
 * neither is what the confirmation needs: a KEY 9 the component tells the
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
	play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_CONFIRMING;
}

static void finish_recording(struct call *c, bool speak)
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
		event_then(c, QUEUE_EV_VOICE, f->mime_type, bytes, len,
		           speak ? on_voice_saved : NULL);
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
	play_clear(c);
	key_timer_stop(c);
	c->phase = PHASE_RECORD_PROMPT;
	play_fixed(c, PROMPT_RECORD);
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

static void on_key(char key, enum dtmf_source src, int64_t now_ms, void *arg)
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
		if ((c->phase != PHASE_GATE && c->phase != PHASE_PLAYING) ||
		    !gate_key(&c->gate))
			return;
		log_info(TAG, "job %lld: the gate was passed",
		         (long long)c->job->id);
		if (c->msg_pcm) {
			play_messages(c);
		} else {
			play_clear(c);
			key_timer_stop(c);
			c->phase = PHASE_PLAYING;
			c->awaiting_render = true;
		}
		return;
	}
	switch (c->phase) {
	case PHASE_RECORDING:
		if (key == '8') {
			event(c, QUEUE_EV_KEY, d);
			finish_recording(c, true);
		}
		return;
	case PHASE_PLAYING:
	case PHASE_WAITING:
		break;
	default: /* the record prompt, a confirmation, the end */
		return;
	}
	/* A reply (1, 2, 3, 7) cuts the message short on purpose: the callee
	 * has taken it in, and must not be phoned for it again. */
	if (strchr("12379", key) && c->msg_started &&
	    c->rendered_seq > c->heard_seq) {
		char h[16];

		c->heard_seq = c->rendered_seq;
		snprintf(h, sizeof(h), "%d", c->heard_seq);
		event(c, QUEUE_EV_HEARD, h);
	}
	switch (key) {
	case '1':
	case '2':
	case '3':
		event_then(c, QUEUE_EV_KEY, d, NULL, 0,
		           key == '1'   ? on_key_1_saved
		           : key == '2' ? on_key_2_saved
		                        : on_key_3_saved);
		c->replied = true;
		confirm_after(c);
		break;
	case '7':
		event(c, QUEUE_EV_KEY, d);
		c->replied = true;
		start_recording(c);
		break;
	case '9':
		pause_sender(c);
		break;
	case '0':
		event(c, QUEUE_EV_KEY, d);
		c->menu_repeats = 0;
		if (c->msg_pcm)
			play_messages(c);
		break;
	default:
		break;
	}
}

static void call_rx_event(void *arg, const uint8_t *p, size_t len, uint32_t ts,
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

int call_on_offer(struct call *c, const char *sdp, size_t len, char *out,
                  size_t outlen)
{
	struct bridge *b = c->b;
	struct sdp_answer o;
	struct sdes_crypto key;
	struct sdp_srtp srtp = {.crypto = &key};
	bool send, changed;
	int n, err;

	if (!c->answered || c->phase == PHASE_ENDED)
		return -ENOTCONN;
	if (!sdp || !len) {
		/* RFC 3264 5: ours is the offer, unchanged. */
		n = snprintf(out, outlen, "%s", c->sdp_last);
		return n > 0 && (size_t)n < outlen ? n : -ENOSPC;
	}
	err = sdp_offer_pick(sdp, len, c->ans.codec, &o);
	if (err) {
		log_info(TAG, "job %lld: offer in the call refused: %s",
		         (long long)c->job->id,
		         err == -EBADMSG   ? o.why
		         : err == -ENOTSUP ? "no common codec"
		                           : "no audio stream");
		return err;
	}
	if (call_srtp_reoffer(&c->srtp, (long long)c->job->id, &o, &key))
		return -EPROTO;
	srtp.savp = o.savp;
	srtp.n = key.suite != SDES_SUITE_NONE;
	n = sdp_reply_build(out, outlen, b->local_ip, rtp_stream_port(c->rtp),
	                    (uint64_t)c->job->id, c->sdp_version, &o, &srtp);
	if (n > 0 && strcmp(out, c->sdp_last)) {
		/* RFC 3264 8: the version goes up when our SDP changes. */
		n = sdp_reply_build(
		    out, outlen, b->local_ip, rtp_stream_port(c->rtp),
		    (uint64_t)c->job->id, ++c->sdp_version, &o, &srtp);
	}
	sdes_crypto_clear(&key);
	if (n < 0 || (size_t)n >= sizeof(c->sdp_last))
		return -ENOSPC;
	memcpy(c->sdp_last, out, (size_t)n + 1);
	send = sdp_answer_sends(&o);
	changed = o.codec != c->ans.codec || o.port != c->ans.port ||
	          strcmp(o.addr, c->ans.addr);
	log_info(TAG, "job %lld: offer in the call: %s, %s, RTP to %s:%d",
	         (long long)c->job->id, send ? "sending" : "on hold",
	         sdp_codec_name(o.codec), o.addr, o.port);
	o.ptime = c->ans.ptime;
	c->ans = o;
	err = rtp_stream_follow(c->rtp, &c->ans, send, changed);
	if (err) {
		set_reason(c, "media failed");
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	}
	return n;
}

static void call_rx_audio(void *arg, const int16_t *pcm, size_t n)
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
			finish_recording(c, true);
	}
}

/* ---- rendering ------------------------------------------------------------
 */

static void submit_render(struct call *c)
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
		submit_render(first);
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
		if (c->answered && c->awaiting_render)
			call_hangup(c, "the message could not be spoken");
		return;
	}
	if (announced) {
		c->announce_pcm = pcm;
		c->announce_n = n;
		if (c->answered && c->awaiting_render &&
		    c->gate.state == GATE_CLOSED) {
			c->awaiting_render = false;
			play_gate(c);
		}
		if (c->phase != PHASE_ENDED)
			submit_render(c);
		return;
	}
	free(c->msg_pcm);
	c->msg_pcm = pcm;
	c->msg_n = n;
	c->rendered_seq = c->pending_seq;
	if (c->answered && c->awaiting_render &&
	    gate_content_allowed(&c->gate)) {
		c->awaiting_render = false;
		play_messages(c);
	}
}

/* ---- the call's life ------------------------------------------------------
 */

static void on_ring_timeout(struct bridge *b, su_timer_t *t, void *arg)
{
	struct call *c = arg;

	(void)b;
	(void)t;
	if (c->answered)
		return;
	log_info(TAG, "job %lld: no answer within %d s", (long long)c->job->id,
	         c->b->cfg->sip.ring_timeout);
	/* A refused certificate ends the INVITE at once (ua.c's
	 * TPTAG_SDWN_ERROR, call_on_unavailable); a TLS peer that
	 * takes the connection and then stalls the handshake gets here. */
	if (!c->progressed && config_sip_tls(c->b->cfg))
		log_warn(TAG,
		         "job %lld: not even a ringing from the peer over TLS: "
		         "if sofia logged a certificate error (Peer Subject "
		         "Mismatch) just before, the peer's certificate does "
		         "not chain to [sip] tls_dir's cafile.pem or does not "
		         "name the host dialled",
		         (long long)c->job->id);
	set_reason(c, "no answer");
	ua_cancel(&c->leg);
}

static void on_cap(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)b;
	(void)t;
	call_hangup(arg, "the call reached its time limit");
}

static void call_free(struct call *c)
{
	struct bridge *b = c->b;
	struct call **pp;

	for (pp = &b->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			b->n_calls--;
			monitor_calls_active(b);
			break;
		}
	}
	rtp_stream_free(c->rtp);
	/* After the stream left the media thread, which protects with it. */
	call_srtp_close(&c->srtp, &c->ans, (long long)c->job->id);
	su_timer_destroy(c->ring_timer);
	su_timer_destroy(c->cap_timer);
	su_timer_destroy(c->key_timer);
	ua_release(&c->leg);
	play_clear(c);
	if (c->keys) {
		struct dtmf_keys_stats ks;

		/* What a phone that sends keys several ways did. */
		dtmf_keys_stats_get(c->keys, &ks);
		if (ks.presses || ks.duplicates || ks.dropped)
			log_info(TAG,
			         "job %lld: keys: %llu pressed, %llu second "
			         "reports folded, %llu dropped (flood)",
			         (long long)c->job->id,
			         (unsigned long long)ks.presses,
			         (unsigned long long)ks.duplicates,
			         (unsigned long long)ks.dropped);
	}
	dtmf_keys_free(c->keys);
	recorder_free(c->rec);
	playlist_fini(&c->play);
	free(c->msg_pcm);
	free(c->announce_pcm);
	queue_job_free(c->job);
	free(c);
}

/* The number this attempt of JOB dials: its numbers go round in order. */
static const char *dialled(const struct queue_job *job)
{
	int n = queue_job_destinations(job);

	return queue_job_destination_at(job,
	                                retry_number_index(n, job->attempts));
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
	event(c, QUEUE_EV_FAILED, words);
	dbw_job_finish(b->dbw, job->id, b->owner, QUEUE_JOB_FAILED, words,
	               on_written, c->serial);
	event(c, QUEUE_EV_ENDED, queue_job_state_name(QUEUE_JOB_FAILED));
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

static void outcome(struct call *c)
{
	struct bridge *b = c->b;

	if (!c->answered)
		set_reason(c, "unreachable");
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
		event(c, QUEUE_EV_ENDED,
		      queue_job_state_name(QUEUE_JOB_NOTIFIED));
		return;
	}
	if (c->answered && gate_unheard(&c->gate) && !c->msg_failed) {
		/* Nothing private was read. A bridge stopping mid-gate gives
		 * the job back whatever [calls] gate_retry says. */
		event(c, QUEUE_EV_UNHEARD, "gate");
		set_reason(c, "answered, but nobody listened");
		retry_or_fail(c, c->reason,
		              !c->no_retry &&
		                  (b->cfg->calls.gate_retry || b->stopping));
		return;
	}
	if (c->answered)
		set_reason(c, "the call ended before the message was heard");
	retry_or_fail(c, c->reason, !c->no_retry);
}

void call_on_terminated(struct call *c)
{
	finish_recording(c, false);
	c->phase = PHASE_ENDED;
	outcome(c);
	struct bridge *b = c->b;
	call_free(c);
	bridge_call_gone(b);
}

void call_on_progress(struct call *c, int status)
{
	c->progressed = true;
	log_debug(TAG, "job %lld: %d", (long long)c->job->id, status);
}

void call_on_failure(struct call *c, int status, const char *phrase)
{
	const char *r;

	log_info(TAG, "job %lld: %d %s", (long long)c->job->id, status,
	         phrase ? phrase : "");
	switch (status) {
	case 486:
	case 600:
		r = "busy";
		break;
	case 603:
		r = "rejected";
		c->no_retry = true;
		break;
	case 480:
	case 487:
		r = "no answer";
		break;
	case 401:
	case 407:
		r = "authentication failed";
		break;
	case 488:
	case 606:
		/* The phone will not learn G.711 by the next attempt. */
		r = "no common codec";
		c->no_retry = true;
		break;
	default:
		r = "unreachable";
		break;
	}
	set_reason(c, r);
}

void call_on_unavailable(struct call *c, const char *phrase)
{
	/* nua hands nta's own 503 over like a callee's (a status line, no
	 * sign of where it came from): a peer that rang sent it itself. */
	if (c->progressed || !config_sip_tls(c->b->cfg) ||
	    !ua_tls_refused_recently()) {
		call_on_failure(c, 503, phrase);
		return;
	}
	log_warn(TAG,
	         "job %lld: the callee's TLS certificate was refused (sofia's "
	         "line just before says why): it must chain to [sip] "
	         "tls_dir's cafile.pem and name the host dialled",
	         (long long)c->job->id);
	set_reason(c, "TLS certificate refused");
	/* The same certificate will be shown next time. */
	c->no_retry = true;
}

void call_on_answer(struct call *c, const char *sdp, size_t len)
{
	struct bridge *b = c->b;
	char why[96];
	const char *srtp_why = NULL;
	int err;

	if (c->answered)
		return;
	su_timer_reset(c->ring_timer);
	err = sdp_answer_pick(sdp, len, &c->ans);
	if (!err &&
	    (err = call_srtp_answer(&c->srtp, b->cfg->sip.srtp, &c->ans,
	                            (long long)c->job->id, &srtp_why))) {
		/* The phone's settled answer: retrying gets the same. */
		set_reason(c, srtp_why);
		c->no_retry = true;
	}
	if (err == -EBADMSG) {
		/* Refused before sofia parsed it: the same phone would send
		 * the same again (and it may be an attack on the parser). */
		snprintf(why, sizeof(why), "answer SDP refused: %s",
		         c->ans.why);
		set_reason(c, why);
		c->no_retry = true;
	}
	if (err || c->leg.cancelled || b->stopping) {
		set_reason(c, err == -ENOTSUP ? "no common codec"
		              : err           ? "bad answer SDP"
		                              : "bridge stopping");
		/* An answer without G.711 is the phone's settled choice. */
		if (err == -ENOTSUP)
			c->no_retry = true;
		log_info(TAG, "job %lld: answered, but %s",
		         (long long)c->job->id, c->reason);
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
		return;
	}
	c->answered = true;
	log_info(TAG, "job %lld: answered, %s, RTP to %s:%d",
	         (long long)c->job->id, sdp_codec_name(c->ans.codec),
	         c->ans.addr, c->ans.port);
	event(c, QUEUE_EV_ANSWERED, sdp_codec_name(c->ans.codec));
	su_timer_set(c->cap_timer, on_cap, c);
	if (content_ready(c)) {
		play_content(c);
	} else {
		c->phase = PHASE_PLAYING;
		play_fixed(c, PROMPT_GREETING);
		if (c->msg_failed) {
			set_reason(c, "the message could not be spoken");
			c->phase = PHASE_CLOSING;
		}
	}
	if (rtp_stream_start(c->rtp, &c->ans, c->srtp.ctx)) {
		set_reason(c, "media failed");
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	}
}

void call_hangup(struct call *c, const char *reason)
{
	set_reason(c, reason);
	if (c->answered) {
		finish_recording(c, false);
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	} else if (c->leg.invited) {
		ua_cancel(&c->leg);
	}
}

struct call *call_find(struct bridge *b, uint64_t serial)
{
	struct call *c;

	for (c = b->calls; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
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

void call_hangup_all(struct bridge *b, const char *reason)
{
	struct call *c, *next;

	for (c = b->calls; c; c = next) {
		next = c->next;
		call_hangup(c, reason);
	}
}

struct ua_leg *call_leg(struct call *c)
{
	return &c->leg;
}

long long call_job_id(const struct call *c)
{
	return (long long)c->job->id;
}

static bool call_live(void *arg)
{
	const struct call *c = arg;

	return c->phase != PHASE_ENDED;
}

/* The last words have been sent. */
static void call_drained(void *arg)
{
	struct call *c = arg;

	ua_bye(&c->leg);
}

static const struct rtp_stream_ops call_rtp_ops = {
    .next_frame = call_next_frame,
    .rx_audio = call_rx_audio,
    .rx_event = call_rx_event,
    .live = call_live,
    .drained = call_drained,
};

/* Where to send the INVITE: the URI itself, or the number at the trunk. */
static int target(const struct config *cfg, const char *dest, char *out,
                  size_t outlen)
{
	int n;

	if (!strncmp(dest, "sip:", 4) || !strncmp(dest, "sips:", 5))
		n = snprintf(out, outlen, "<%s>", dest);
	else if (dest[0] == '+' && cfg->sip.trunk && *cfg->sip.trunk)
		n = snprintf(out, outlen, "<sip:%s@%s;user=phone>", dest,
		             cfg->sip.trunk);
	else
		return -EINVAL;
	return n > 0 && (size_t)n < outlen ? 0 : -ENOSPC;
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

int call_start(struct bridge *b, struct queue_job *job, int64_t claim_sent_ms)
{
	struct call *c;
	const char *why = NULL;
	char to[512], sdp[1024], d[16];
	struct sdp_srtp srtp;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c) {
		dbw_job_retry(b->dbw, job->id, b->owner,
		              queue_now_ms(b->q) + 1000, "out of memory", 0,
		              NULL, 0);
		queue_job_free(job);
		return -ENOMEM;
	}
	c->b = b;
	playlist_init(&c->play);
	c->serial = ++b->next_call_serial;
	c->job = job;
	c->lease_until_ms = claim_sent_ms + call_lease_ms(b->cfg);
	gate_init(&c->gate,
	          job->kind == QUEUE_JOB_MESSAGE &&
	              (job->gate == QUEUE_GATE_ON ||
	               (job->gate != QUEUE_GATE_OFF && b->cfg->calls.gate)));
	c->next = b->calls;
	b->calls = c;
	b->n_calls++;
	monitor_calls_active(b);
	log_info(TAG, "job %lld: attempt %d to %s", (long long)job->id,
	         job->attempts, dialled(job));

	/* A second line of defence: the policy may have changed since. */
	if (policy_destination_check(b->cfg, dialled(job), &why)) {
		set_reason(c, "the destination is not allowed");
		c->no_retry = true;
		goto fail;
	}
	if (target(b->cfg, dialled(job), to, sizeof(to))) {
		set_reason(c, "no trunk for telephone numbers");
		c->no_retry = true;
		goto fail;
	}
	c->ring_timer = su_timer_create(su_root_task(b->root),
	                                b->cfg->sip.ring_timeout * 1000);
	c->cap_timer = su_timer_create(su_root_task(b->root),
	                               b->cfg->sip.max_call_seconds * 1000);
	/* No key this long after the menu: repeat it once, then end. */
	c->key_timer = su_timer_create(su_root_task(b->root),
	                               b->cfg->sip.key_timeout * 1000);
	if (!c->ring_timer || !c->cap_timer || !c->key_timer ||
	    dtmf_keys_new(&c->keys, on_key, c)) {
		set_reason(c, "out of memory");
		goto fail;
	}
	err = rtp_stream_new(&c->rtp, b, (long long)job->id, &call_rtp_ops, c);
	if (err) {
		log_warn(TAG, "job %lld: no RTP port: %s", (long long)job->id,
		         strerror(-err));
		set_reason(c, "no free RTP port");
		goto fail;
	}
	c->sdp_version = (uint64_t)job->id;
	if (call_srtp_offer(&c->srtp, b->cfg->sip.srtp, &srtp) ||
	    sdp_offer_build(sdp, sizeof(sdp), b->local_ip,
	                    rtp_stream_port(c->rtp), (uint64_t)job->id,
	                    srtp.n ? &srtp : NULL) < 0 ||
	    ua_invite(b, c, to, sdp)) {
		set_reason(c, "cannot send the INVITE");
		goto fail;
	}
	snprintf(c->sdp_last, sizeof(c->sdp_last), "%s", sdp);
	if (job->attempts == 1) {
		/* Due at its creation, or at the end of its coalescing
		 * window; both times are the queue's clock, as is now. */
		int64_t due = job->not_before_ms > job->created_ms
		                  ? job->not_before_ms
		                  : job->created_ms;

		monitor_enqueue_to_invite(b, queue_now_ms(b->q) - due);
	}
	snprintf(d, sizeof(d), "%d", job->attempts);
	event(c, QUEUE_EV_CALLING, d);
	su_timer_set(c->ring_timer, on_ring_timeout, c);
	/* Rendered while the phone rings. */
	submit_render(c);
	return 0;
fail:
	c->phase = PHASE_ENDED;
	outcome(c);
	call_free(c);
	return -EIO;
}
