/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's metrics (docs/monitoring.md) and its /metrics listener on
 * [sip] metrics_listen. The hooks below are what the call_*.c files, media.c
 * and main.c call as things happen; each is a relaxed atomic update, cheap
 * enough for the media thread's every packet.
 */
#ifndef RB_SIP_MONITOR_H
#define RB_SIP_MONITOR_H

#include <stdint.h>

#include "queue.h"

struct bridge;
struct metric;

/* One per call attempt: how it ended. */
enum monitor_outcome {
	MONITOR_ANSWERED = 0,
	MONITOR_BUSY,
	MONITOR_NO_ANSWER,
	MONITOR_REJECTED,
	MONITOR_UNREACHABLE,
	MONITOR_FAILED, /* anything else: auth, codec, policy, local errors */
	MONITOR_OUTCOMES,
};

/* Registers the families into b->monitor; before any thread starts. */
int monitor_new(struct bridge *b);
/* Starts the /metrics listener when [sip] metrics_listen is set: after the
 * signals are blocked (libmicrohttpd's thread inherits the mask). */
int monitor_listen(struct bridge *b);
void monitor_free(struct bridge *b); /* the listener first, then the rest */

/* b->n_calls changed. */
void monitor_calls_active(struct bridge *b);
void monitor_call_outcome(struct bridge *b, enum monitor_outcome o);
/* A job this bridge ended, in STATE (notified or failed). */
void monitor_job_finished(struct bridge *b, enum queue_job_state state);
/* A key pressed: '0'-'9', '*', '#', 'A'-'D'. */
void monitor_key(struct bridge *b, char key);
void monitor_voice_reply(struct bridge *b);
/* From a job being due to its first INVITE, on the queue's clock. */
void monitor_enqueue_to_invite(struct bridge *b, int64_t ms);
/* A variable prompt took NS from submission to its PCM. */
void monitor_tts_render(struct bridge *b, int64_t ns);
/* The bridge began holding its claims (main.c's admission). */
void monitor_claims_held(struct bridge *b);
/* The media thread's send-lateness histogram (one writer), or NULL. */
struct metric *monitor_lateness(struct bridge *b);

#endif
