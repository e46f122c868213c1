/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The inside of one call, split by concern as sofia splits a session
 * across nua_session.c and its usages (nua_stack.h): call.c (the call's
 * life as a SIP dialog: the INVITE, the answer, offers inside the call,
 * the hang-up and the free), call_menu.c (what the answered call says and
 * what its keys do), call_render.c (the variable prompt, rendered while
 * the phone rings) and call_outcome.c (the events, the lease and the
 * job's outcome written to the queue). Nothing outside these files
 * includes this header: the rest of sip-bridge/ holds a struct call *
 * and uses bridge.h.
 */
#ifndef RB_SIP_CALL_INTERNAL_H
#define RB_SIP_CALL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge.h"
#include "dtmf.h"
#include "prompts.h"
#include "queue_writer.h"

#define TAG "call"

/*
 * Where the call is: what it plays and what a key does now. A phase ends
 * only when the next is set, so a completion that comes late (a
 * rendering, the writer's read of new messages, a commit) checks the phase
 * it was waiting in and changes nothing once the call moved on.
 */
enum call_phase {
	PHASE_RINGING = 0,
	/* Answered before the prompt was ready: the cached greeting. */
	PHASE_GREETING,
	/* Silent until the prompt is rendered (after the greeting, the gate
	 * passed, messages that joined). */
	PHASE_AWAITING_RENDER,
	PHASE_PLAYING, /* messages and menu */
	/* Menu played; silent while the writer reads messages that joined
	 * during the call. */
	PHASE_REFRESHING,
	PHASE_GATE,    /* announcement and "press any key", then a wait */
	PHASE_WAITING, /* menu played, waiting for a key */
	/* After 7: the prompt and the beep, keys ignored. */
	PHASE_RECORD_PROMPT,
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
	/* A prompt could not be composed or rendered. Not a phase: it often
	 * fails while the phone rings, and the outcome still reads it after
	 * the call ended. */
	bool msg_failed;
	int rendered_seq;      /* messages covered by the rendering */
	struct gate gate;      /* the voicemail gate (gate.h) */
	int16_t *announce_pcm; /* the gate's rendered announcement (owned) */
	size_t announce_n;
	bool announcing; /* the render in flight is the announcement */

	struct ua_leg leg; /* ua.c's */
	/* The answer was taken. Not a phase: every phase after RINGING but
	 * ENDED implies it, and the outcome and the hang-up need it once the
	 * call is ENDED, which an answered call and a failed one share. */
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
	bool replied, no_retry;
	bool render_wait; /* the speech worker's queue was full: submit later */
	/*
	 * Monotonic ms until which the job's lease is surely this bridge's:
	 * the moment the claim or the last renewal that covered it was sent,
	 * plus the lease (the database's deadline can only be later).
	 */
	int64_t lease_until_ms;
	bool lease_lost; /* taken over or lapsed: nothing more is written */
};

#define FRAME 160

/* ---- the queue (call_outcome.c) ----------------------------------------- */

/* Queues an event; BLOB (may be NULL) is taken. DONE NULL: not waited for,
 * a failure is logged. Nothing is written once the lease is lost. */
void call_event_write_then(struct call *c, enum queue_event_type t,
                           const char *detail, unsigned char *blob, size_t len,
                           dbw_done_cb done);
void call_event_write(struct call *c, enum queue_event_type t,
                      const char *detail);
/* The outcome in words: the first reason set wins. */
void call_reason_set(struct call *c, const char *r);
/* The job's end for this attempt (notified, retried or failed), once, as
 * the call ends; the caller frees the call afterwards. */
void call_outcome_write(struct call *c);

/* ---- what is said and the keys (call_menu.c) ---------------------------- */

/* Empties the playlist (what it pointed at stays the call's). */
void call_play_clear(struct call *c);
/* Appends the cached phrase ID in the call's language. */
void call_play_fixed(struct call *c, enum prompt_id id);
/* The messages (as rendered so far), then the menu. */
void call_play_messages(struct call *c);
/* The gate: who wrote and when, "press any key"; then a wait. */
void call_play_gate(struct call *c);
/* What the call says first, once it is rendered: the gate, or the
 * messages at once when there is no gate to pass. */
bool call_play_ready(const struct call *c);
void call_play_content(struct call *c);
/* Ends a recording in progress and queues the voice reply; SPEAK: the
 * call goes on to confirm it (or to say there was none). */
void call_recording_finish(struct call *c, bool speak);
/* The key stream's callback (dtmf_keys_new). */
void call_menu_key(char key, enum dtmf_source src, int64_t now_ms, void *arg);
/* The stream's callbacks (rtp_stream_ops): the next 20 ms to send, audio
 * and RFC 4733 events received. */
void call_menu_frame(void *arg, int16_t *pcm);
void call_menu_audio(void *arg, const int16_t *pcm, size_t n);
void call_menu_event(void *arg, const uint8_t *p, size_t len, uint32_t ts,
                     uint16_t seq);

/* ---- the variable prompt (call_render.c) -------------------------------- */

/* Composes what the call has to say next (the code, the gate's
 * announcement, or the messages) and sends it to the speech worker; a
 * full worker queue leaves it for call_render_resume. */
void call_render_submit(struct call *c);

#endif
