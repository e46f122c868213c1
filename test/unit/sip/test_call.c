/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The call's state machine (sip-bridge/call*.c) driven in-process, as
 * baresip's test/call.c drives its own against test/mock/: the call links
 * from rb_sipcall, and the seam around it (the SIP dialog ua_*, the RTP
 * stream rtp_stream_*, the queue writer dbw_*, the speech worker's submit,
 * the voices and the phrase cache's lookup, the metrics monitor_*) is a test
 * double here that records what the call did, in order. Everything else is
 * real: the prompts, the gate, the key stream (keys arrive as the SIP INFO path
 * does), the playlist, the recorder, sofia's timers (created, never due in
 * these tests). The audio is pulled 20 ms at a time through the stream's own
 * callbacks, as the media clock does. The integration tests (test_bridge_*)
 * keep real peers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge.h"
#include "check.h"
#include "monitor.h"
#include "prompts.h"
#include "queue_writer.h"
#include "tts_cache.h"
#include "tts_worker.h"
#include "voices.h"

/* ---- the seam's doubles ---------------------------------------------------
 */

/* What the call did, one line an action, in order. */
static char actions[8192];

static void act(const char *what, const char *arg)
{
	size_t n = strlen(actions);

	snprintf(actions + n, sizeof(actions) - n, "%s%s%s\n", what,
	         arg ? " " : "", arg ? arg : "");
}

/* Writes the call waits for (the confirmations' events), to commit. */
static struct {
	dbw_done_cb done;
	void *ctx;
	struct dbw_result r;
} waiting[8];
static int n_waiting;
static struct bridge *the_bridge;

/* Holds a write whose completion DONE the call waits for, until
 * commit_all: its result, to fill in, or NULL when nothing waits. */
static struct dbw_result *await_commit(dbw_done_cb done, enum dbw_op op,
                                       int64_t job_id, uint64_t tag)
{
	struct dbw_result *r;

	if (!done || n_waiting >= 8)
		return NULL;
	waiting[n_waiting].done = done;
	waiting[n_waiting].ctx = the_bridge;
	r = &waiting[n_waiting++].r;
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->job_id = job_id;
	r->tag = tag;
	return r;
}

void dbw_event_add(struct dbw *w, int64_t job_id, const char *owner,
                   enum queue_event_type type, const char *detail,
                   unsigned char *blob, size_t blob_len, dbw_done_cb done,
                   uint64_t tag)
{
	char line[160];

	(void)w;
	(void)owner;
	(void)blob_len;
	snprintf(line, sizeof(line), "event %s %s", queue_event_type_name(type),
	         detail ? detail : "");
	act(line, NULL);
	free(blob);
	await_commit(done, DBW_EVENT, job_id, tag);
}

void dbw_job_retry(struct dbw *w, int64_t job_id, const char *owner,
                   int64_t next_attempt_ms, const char *reason, unsigned notify,
                   dbw_done_cb done, uint64_t tag)
{
	(void)w;
	(void)job_id;
	(void)owner;
	(void)next_attempt_ms;
	(void)notify;
	(void)done;
	(void)tag;
	act("retry", reason);
}

void dbw_job_finish(struct dbw *w, int64_t job_id, const char *owner,
                    enum queue_job_state state, const char *reason,
                    dbw_done_cb done, uint64_t tag)
{
	(void)w;
	(void)job_id;
	(void)owner;
	(void)reason;
	(void)done;
	(void)tag;
	act("finish", queue_job_state_name(state));
}

/* The messages the next refresh reads (taken by it; NULL: none joined). */
static struct queue_job *joined;

void dbw_job_refresh_messages(struct dbw *w, int64_t job_id, int after_seq,
                              dbw_done_cb done, uint64_t tag)
{
	struct dbw_result *r = await_commit(done, DBW_REFRESH, job_id, tag);
	char line[32];

	(void)w;
	snprintf(line, sizeof(line), "refresh after %d", after_seq);
	act(line, NULL);
	if (r) {
		r->job = joined ? joined : calloc(1, sizeof(struct queue_job));
		joined = NULL;
	}
}

/* Key 9's pause and event, as the writer would run them together. */
void dbw_call(struct dbw *w, int (*fn)(struct queue *q, void *arg), void *arg,
              dbw_done_cb done, uint64_t tag)
{
	struct dbw_result *r = await_commit(done, DBW_CALL, 0, tag);

	(void)w;
	(void)fn;
	act("writer call", NULL);
	if (r)
		r->arg = arg;
	else
		free(arg);
}

/* Commits every write the call waits for, in order. */
static void commit_all(void)
{
	int i, n = n_waiting;

	n_waiting = 0;
	for (i = 0; i < n; i++) {
		waiting[i].done(waiting[i].ctx, &waiting[i].r);
		/* What the completion did not take, as the writer does. */
		queue_job_free(waiting[i].r.job);
	}
}

static uint64_t submitted_id;
static char submitted_text[2048];

int tts_worker_submit_voice(struct tts_worker *w, uint64_t id, unsigned voice,
                            const char *text)
{
	(void)w;
	(void)voice;
	submitted_id = id;
	snprintf(submitted_text, sizeof(submitted_text), "%s", text);
	act("render", NULL);
	return 0;
}

int ua_invite(struct bridge *b, struct call *c, const char *to, const char *sdp)
{
	(void)b;
	(void)c;
	(void)sdp;
	act("invite", to);
	return 0;
}

void ua_cancel(struct ua_leg *l)
{
	l->cancelled = true;
	act("cancel", NULL);
}

void ua_bye(struct ua_leg *l)
{
	if (l->bye_sent)
		return;
	l->bye_sent = true;
	act("bye", NULL);
}

void ua_release(struct ua_leg *l)
{
	(void)l;
}

bool ua_tls_refused_recently(void)
{
	return false;
}

/* The one stream: its owner's callbacks, which the test calls as the
 * media clock would. */
static struct rtp_stream {
	const struct rtp_stream_ops *ops;
	void *arg;
	bool started;
} stream;

int rtp_stream_new(struct rtp_stream **out, struct bridge *b, long long id,
                   const struct rtp_stream_ops *ops, void *arg)
{
	(void)b;
	(void)id;
	stream.ops = ops;
	stream.arg = arg;
	stream.started = false;
	*out = &stream;
	return 0;
}

void rtp_stream_free(struct rtp_stream *s)
{
	s->started = false;
	s->ops = NULL;
}

int rtp_stream_port(const struct rtp_stream *s)
{
	(void)s;
	return 40000;
}

int rtp_stream_start(struct rtp_stream *s, const struct sdp_answer *ans,
                     struct sdes *srtp)
{
	(void)ans;
	(void)srtp;
	s->started = true;
	return 0;
}

int rtp_stream_follow(struct rtp_stream *s, const struct sdp_answer *ans,
                      bool send, bool changed)
{
	(void)s;
	(void)ans;
	(void)send;
	(void)changed;
	return 0;
}

/* Nothing is queued in a double: the drain is over at once. */
void rtp_stream_drain(struct rtp_stream *s)
{
	s->ops->drained(s->arg);
}

void bridge_call_gone(struct bridge *b)
{
	(void)b;
	act("gone", NULL);
}

void monitor_calls_active(struct bridge *b)
{
	(void)b;
}
void monitor_call_outcome(struct bridge *b, enum monitor_outcome o)
{
	(void)b;
	(void)o;
}
void monitor_job_finished(struct bridge *b, enum queue_job_state state)
{
	(void)b;
	(void)state;
}
void monitor_key(struct bridge *b, char key)
{
	(void)b;
	(void)key;
}
void monitor_voice_reply(struct bridge *b)
{
	(void)b;
}
void monitor_enqueue_to_invite(struct bridge *b, int64_t ms)
{
	(void)b;
	(void)ms;
}
void monitor_tts_render(struct bridge *b, int64_t ns)
{
	(void)b;
	(void)ns;
}

/* ---- the harness ----------------------------------------------------------
 */

static const char answer_sdp[] = "v=0\r\n"
                                 "o=phone 1 1 IN IP4 127.0.0.1\r\n"
                                 "s=-\r\n"
                                 "c=IN IP4 127.0.0.1\r\n"
                                 "t=0 0\r\n"
                                 "m=audio 30000 RTP/AVP 0 101\r\n"
                                 "a=rtpmap:0 PCMU/8000\r\n"
                                 "a=rtpmap:101 telephone-event/8000\r\n";

/* Each fixed phrase is 40 ms of a level of its own, so that what is heard
 * names the phrase. */
#define PHRASE_SAMPLES  320
#define MESSAGE_SAMPLES 480
#define MESSAGE_LEVEL   7777

static int16_t phrase_level(enum prompt_id id)
{
	return (int16_t)(1000 + 100 * (int)id);
}

static int16_t phrases[PROMPT_COUNT][PHRASE_SAMPLES];

/* One voice, English. */
unsigned voices_pick(struct voices *v, const char *tag, const char **langp)
{
	(void)v;
	(void)tag;
	*langp = "en";
	return 0;
}

const struct tts_cache *voices_cache(const struct voices *v, unsigned voice)
{
	(void)v;
	(void)voice;
	return NULL;
}

/* The phrase cache: each fixed phrase, by its text. */
int tts_cache_get(const struct tts_cache *c, const char *text,
                  const int16_t **pcmp, size_t *np)
{
	(void)c;
	for (int i = 0; i < PROMPT_COUNT; i++) {
		if (!strcmp(text, prompt_text("en", (enum prompt_id)i))) {
			*pcmp = phrases[i];
			*np = PHRASE_SAMPLES;
			return 0;
		}
	}
	return -ENOENT;
}

static struct bridge *bridge_make(bool gate)
{
	struct bridge *b = calloc(1, sizeof(*b));
	char err[256];
	size_t i;

	if (!b)
		abort();
	char path[] = "/tmp/test_sip_call.XXXXXX";
	int fd = mkstemp(path);
	static const char ini[] = "[policy]\nallowed_sip_domains = "
	                          "example.org\n";

	CHECK(fd >= 0);
	CHECK(write(fd, ini, sizeof(ini) - 1) == (ssize_t)(sizeof(ini) - 1));
	close(fd);
	CHECK_INT(config_load(&b->cfg, path, err, sizeof(err)), 0);
	unlink(path);
	b->cfg->calls.gate = gate;
	b->root = su_root_create(NULL);
	CHECK(b->root != NULL);
	for (i = 0; i < PROMPT_COUNT; i++)
		for (size_t k = 0; k < PHRASE_SAMPLES; k++)
			phrases[i][k] = phrase_level((enum prompt_id)i);
	snprintf(b->owner, sizeof(b->owner), "test");
	snprintf(b->local_ip, sizeof(b->local_ip), "127.0.0.1");
	the_bridge = b;
	actions[0] = '\0';
	n_waiting = 0;
	return b;
}

static void bridge_drop(struct bridge *b)
{
	su_root_destroy(b->root);
	config_free(b->cfg);
	free(b);
}

static struct queue_job *job_make(enum queue_job_kind kind)
{
	struct queue_job *j = calloc(1, sizeof(*j));

	CHECK(j != NULL);
	j->id = 42;
	j->kind = kind;
	j->attempts = 1;
	j->destination = strdup("sip:bob@example.org");
	j->tz = strdup("UTC");
	j->sender_jid = strdup("alice@example.org");
	j->sender_name = strdup("Alice");
	j->gate = QUEUE_GATE_DEFAULT;
	if (kind == QUEUE_JOB_VERIFY) {
		j->verify_code = strdup("1234");
		return j;
	}
	j->messages = calloc(1, sizeof(*j->messages));
	j->n_messages = 1;
	j->messages[0].seq = 1;
	j->messages[0].sender_jid = strdup("alice@example.org");
	j->messages[0].body = strdup("Hi there");
	j->messages[0].received_ms = 1700000000000LL;
	return j;
}

/* The speech worker's answer to the last request: a rendering of N
 * samples at LEVEL. */
static void render_done(struct bridge *b, int16_t level, size_t n)
{
	int16_t *pcm = malloc(n * sizeof(*pcm));

	for (size_t k = 0; k < n; k++)
		pcm[k] = level;
	CHECK(call_tts_deliver(b, submitted_id, 0, pcm, n));
}

/* Pulls FRAMES 20 ms frames; returns how many samples had LEVEL. */
static size_t pull(int frames, int16_t level)
{
	int16_t pcm[RTP_PAYLOAD];
	size_t hits = 0;

	for (int f = 0; f < frames && stream.ops; f++) {
		if (!stream.ops->live(stream.arg))
			break;
		stream.ops->next_frame(stream.arg, pcm);
		for (int k = 0; k < RTP_PAYLOAD; k++)
			hits += pcm[k] == level;
	}
	return hits;
}

/* A call claimed: the INVITE is out and the prompt is rendering. */
static struct call *call_claimed(struct bridge *b, enum queue_job_kind kind)
{
	struct call *c;

	CHECK_INT(call_start(b, job_make(kind), 0), 0);
	c = b->calls;
	if (!c) {
		fprintf(stderr, "the call did not start\n");
		abort();
	}
	return c;
}

/* A message call answered before its prompt was rendered. */
static struct call *call_answered_early(struct bridge *b)
{
	struct call *c = call_claimed(b, QUEUE_JOB_MESSAGE);

	call_on_answer(c, answer_sdp, sizeof(answer_sdp) - 1);
	return c;
}

/* A call claimed, rendered while ringing and answered. */
static struct call *call_answered(struct bridge *b, enum queue_job_kind kind)
{
	struct call *c = call_claimed(b, kind);

	if (b->cfg->calls.gate && kind == QUEUE_JOB_MESSAGE) {
		/* The announcement first, then the messages. */
		render_done(b, 5555, MESSAGE_SAMPLES);
	}
	render_done(b, MESSAGE_LEVEL, MESSAGE_SAMPLES);
	call_on_answer(c, answer_sdp, sizeof(answer_sdp) - 1);
	return c;
}

static bool did(const char *line)
{
	char want[256];

	snprintf(want, sizeof(want), "%s\n", line);
	return strstr(actions, want) != NULL;
}

/* LINE A came before LINE B. */
static bool before(const char *a, const char *b)
{
	char wa[256], wb[256];
	const char *pa, *pb;

	snprintf(wa, sizeof(wa), "%s\n", a);
	snprintf(wb, sizeof(wb), "%s\n", b);
	pa = strstr(actions, wa);
	pb = strstr(actions, wb);
	return pa && pb && pa < pb;
}

/* The dialog ends (nua_i_terminated): LINE is among what the call did
 * (its outcome), and the call is gone. */
static void call_end(struct bridge *b, struct call *c, const char *line)
{
	call_on_terminated(c);
	CHECK(did(line));
	CHECK(b->calls == NULL);
	bridge_drop(b);
}

/* ---- the tests ------------------------------------------------------------
 */

/* The message plays, HEARD is written the moment it ends (before the
 * menu, long before the end), then key 1 confirms once its event is on
 * disk, and the job ends notified. */
static void test_key_1_heard_before_end(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);

	CHECK(did("invite <sip:bob@example.org>"));
	CHECK(did("event answered PCMU"));
	CHECK_INT((int)pull(3, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK(did("event heard 1"));
	CHECK(pull(2, phrase_level(PROMPT_MENU)) > 0);
	CHECK_INT(call_rx_signal_key(c, '1'), 0);
	CHECK(did("event key 1"));
	/* Silence until the reply is committed: "sent" is never said of a
	 * reply a crash could lose; another key meanwhile means nothing. */
	CHECK_INT((int)pull(2, phrase_level(PROMPT_CONFIRM_1)), 0);
	CHECK_INT(call_rx_signal_key(c, '2'), 0);
	CHECK(!did("event key 2"));
	commit_all();
	CHECK(pull(2, phrase_level(PROMPT_CONFIRM_1)) > 0);
	pull(3, 0);
	CHECK(did("bye"));
	call_on_terminated(c);
	CHECK(before("event heard 1", "event key 1"));
	CHECK(before("event key 1", "finish notified"));
	CHECK(did("event ended notified"));
	CHECK(b->calls == NULL);
	bridge_drop(b);
}

/* Key 9 (offered after the menu) pauses the sender: its own confirmation
 * once the pause and the key are written, then the call ends notified. */
static void test_key_9(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);

	CHECK_INT((int)pull(3, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK(pull(2, phrase_level(PROMPT_MENU)) > 0);
	CHECK(pull(2, phrase_level(PROMPT_MENU_9)) > 0);
	CHECK_INT(call_rx_signal_key(c, '9'), 0);
	CHECK(did("writer call"));
	CHECK_INT((int)pull(2, phrase_level(PROMPT_CONFIRM_9)), 0);
	commit_all();
	CHECK(pull(2, phrase_level(PROMPT_CONFIRM_9)) > 0);
	pull(3, 0);
	CHECK(did("bye"));
	call_on_terminated(c);
	CHECK(before("writer call", "finish notified"));
	CHECK(b->calls == NULL);
	bridge_drop(b);
}

/* Keys 2 and 3 confirm with their own phrase. */
static void test_keys_2_3(void)
{
	static const struct {
		char key;
		enum prompt_id confirm;
	} keys[] = {{'2', PROMPT_CONFIRM_2}, {'3', PROMPT_CONFIRM_3}};

	for (size_t i = 0; i < 2; i++) {
		struct bridge *b = bridge_make(false);
		struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);
		char line[32];

		pull(4, 0);
		CHECK_INT(call_rx_signal_key(c, keys[i].key), 0);
		snprintf(line, sizeof(line), "event key %c", keys[i].key);
		CHECK(did(line));
		commit_all();
		CHECK(pull(2, phrase_level(keys[i].confirm)) > 0);
		call_on_terminated(c);
		CHECK(did("finish notified"));
		bridge_drop(b);
	}
}

/* Barge-in: a reply key during the message cuts it, and counts it as
 * heard (the callee took it in), before the key's own event. */
static void test_barge_in(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);

	/* 20 ms of the 60 ms message. */
	CHECK_INT((int)pull(1, MESSAGE_LEVEL), RTP_PAYLOAD);
	CHECK(!did("event heard 1"));
	CHECK_INT(call_rx_signal_key(c, '2'), 0);
	CHECK(before("event heard 1", "event key 2"));
	/* The rest of the message is not played. */
	commit_all();
	CHECK_INT((int)pull(4, MESSAGE_LEVEL), 0);
	call_end(b, c, "finish notified");
}

/* 0 plays the message again; 7 records after the prompt and the beep; 8
 * ends the recording, and the voice reply is confirmed once committed. */
static void test_keys_0_7_8(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);

	pull(6, 0);
	CHECK_INT(call_rx_signal_key(c, '0'), 0);
	CHECK(did("event key 0"));
	CHECK_INT((int)pull(3, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK_INT(call_rx_signal_key(c, '7'), 0);
	CHECK(did("event key 7"));
	/* Keys wait for the recording: the prompt and the beep first. */
	CHECK_INT(call_rx_signal_key(c, '1'), 0);
	CHECK(!did("event key 1"));
	CHECK(pull(2, phrase_level(PROMPT_RECORD)) > 0);
	/* The beep (300 ms), then the recording: 8 ends it. */
	pull(20, 0);
	for (int f = 0; f < 25; f++) {
		int16_t pcm[RTP_PAYLOAD];

		for (int k = 0; k < RTP_PAYLOAD; k++)
			pcm[k] = (int16_t)((k % 16) * 500 - 4000);
		stream.ops->rx_audio(stream.arg, pcm, RTP_PAYLOAD);
	}
	CHECK_INT(call_rx_signal_key(c, '8'), 0);
	CHECK(did("event key 8"));
	CHECK(strstr(actions, "event voice audio/") != NULL);
	commit_all();
	CHECK(pull(2, phrase_level(PROMPT_REPLY_SENT)) > 0);
	call_end(b, c, "finish notified");
}

/* The gate: no digit, the call is answered but not heard (the message is
 * never played); a digit opens it and the message body plays. */
static void test_gate(void)
{
	struct bridge *b = bridge_make(true);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);

	CHECK(pull(3, 5555) > 0); /* the announcement */
	CHECK(pull(2, phrase_level(PROMPT_GATE)) > 0);
	pull(5, 0);
	CHECK_INT((int)pull(10, MESSAGE_LEVEL), 0);
	call_on_terminated(c);
	CHECK(!did("event heard 1"));
	CHECK(did("event answered, not heard gate"));
	CHECK(!did("finish notified"));
	bridge_drop(b);

	b = bridge_make(true);
	c = call_answered(b, QUEUE_JOB_MESSAGE);
	CHECK(pull(2, 5555) > 0);
	CHECK_INT(call_rx_signal_key(c, '5'), 0);
	CHECK_INT((int)pull(4, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK(did("event heard 1"));
	call_on_terminated(c);
	CHECK(did("finish notified"));
	CHECK(!did("event answered, not heard gate"));
	bridge_drop(b);
}

/* A verification call reads the code, writes VERIFY_SPOKEN, takes no
 * keys, and hangs up by itself. */
static void test_verify(void)
{
	struct bridge *b = bridge_make(true);
	struct call *c = call_answered(b, QUEUE_JOB_VERIFY);

	CHECK(strstr(submitted_text, "1") != NULL);
	CHECK_INT(call_rx_signal_key(c, '1'), 0);
	CHECK(!did("event key 1"));
	CHECK_INT((int)pull(4, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK(did("event verify spoken "));
	CHECK(did("bye"));
	call_end(b, c, "finish notified");
}

/* Answered before the prompt was ready: the cached greeting bridges the
 * gap, then silence (counted) until the rendering arrives, then the
 * message. */
static void test_greeting(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered_early(b);

	CHECK_INT((int)pull(2, phrase_level(PROMPT_GREETING)), PHRASE_SAMPLES);
	CHECK_INT((int)pull(2, 0), 2 * RTP_PAYLOAD);
	CHECK_INT((int)b->render.silent_frames, 2);
	render_done(b, MESSAGE_LEVEL, MESSAGE_SAMPLES);
	CHECK_INT((int)pull(3, MESSAGE_LEVEL), MESSAGE_SAMPLES);
	CHECK(did("event heard 1"));
	call_end(b, c, "finish notified");
}

/* The rendering fails while the greeting plays: the greeting is said
 * whole, then the call ends (rather than stay silent until its time
 * limit), and the job is given back. */
static void test_render_fails_in_greeting(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered_early(b);

	CHECK(call_tts_deliver(b, submitted_id, -EIO, NULL, 0));
	CHECK(!did("bye"));
	CHECK_INT((int)pull(3, phrase_level(PROMPT_GREETING)), PHRASE_SAMPLES);
	CHECK(did("bye"));
	call_end(b, c, "retry the message could not be spoken");
}

/* A reply key in the silence after the greeting, before the message is
 * ready: the rendering that arrives meanwhile is neither played over the
 * confirmation nor counted heard, and the wait for the commit is not
 * counted as waiting for a prompt. */
static void test_key_before_render(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered_early(b);

	pull(3, 0);
	CHECK_INT(call_rx_signal_key(c, '1'), 0);
	CHECK(did("event key 1"));
	render_done(b, MESSAGE_LEVEL, MESSAGE_SAMPLES);
	CHECK_INT((int)pull(3, MESSAGE_LEVEL), 0);
	CHECK_INT((int)b->render.silent_frames, 1);
	commit_all();
	CHECK(pull(2, phrase_level(PROMPT_CONFIRM_1)) > 0);
	pull(3, 0);
	CHECK(did("bye"));
	call_on_terminated(c);
	CHECK(!did("event heard 1"));
	CHECK(did("finish notified"));
	bridge_drop(b);
}

/* A message that joined the job during the call is read after the menu:
 * silence while the writer looks, then while it renders, then the new
 * message and its HEARD. A key while the writer looks is taken, and the
 * read that comes back after it changes nothing. */
static void test_joined(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_answered(b, QUEUE_JOB_MESSAGE);
	struct queue_job_message *m;

	joined = calloc(1, sizeof(*joined));
	m = calloc(1, sizeof(*m));
	CHECK(joined && m);
	m->seq = 2;
	m->sender_jid = strdup("carol@example.org");
	m->body = strdup("And me");
	m->received_ms = 1700000060000LL;
	joined->messages = m;
	joined->n_messages = 1;
	/* The message and the menu (its two phrases), whole. */
	pull(3 + 2 * PHRASE_SAMPLES / RTP_PAYLOAD, 0);
	CHECK(did("refresh after 1"));
	submitted_text[0] = '\0';
	commit_all();
	CHECK(strstr(submitted_text, "And me") != NULL);
	CHECK_INT((int)pull(2, 0), 2 * RTP_PAYLOAD);
	CHECK_INT((int)b->render.silent_frames, 2);
	render_done(b, 6666, MESSAGE_SAMPLES);
	CHECK_INT((int)pull(3, 6666), MESSAGE_SAMPLES);
	CHECK(did("event heard 2"));
	call_on_terminated(c);
	bridge_drop(b);

	b = bridge_make(false);
	c = call_answered(b, QUEUE_JOB_MESSAGE);
	pull(3 + 2 * PHRASE_SAMPLES / RTP_PAYLOAD, 0);
	CHECK(did("refresh after 1"));
	CHECK_INT(call_rx_signal_key(c, '2'), 0);
	CHECK(did("event key 2"));
	commit_all();
	CHECK(pull(2, phrase_level(PROMPT_CONFIRM_2)) > 0);
	call_end(b, c, "finish notified");
}

/* A key before the answer is refused (SIP INFO gets 481). */
static void test_key_before_answer(void)
{
	struct bridge *b = bridge_make(false);
	struct call *c = call_claimed(b, QUEUE_JOB_MESSAGE);

	CHECK_INT(call_rx_signal_key(c, '1'), -ENOTCONN);
	call_on_failure(c, 486, "Busy Here");
	call_end(b, c, "retry busy");
}

int main(void)
{
	su_init();
	test_key_1_heard_before_end();
	test_keys_2_3();
	test_key_9();
	test_barge_in();
	test_keys_0_7_8();
	test_gate();
	test_verify();
	test_key_before_answer();
	test_greeting();
	test_key_before_render();
	test_render_fails_in_greeting();
	test_joined();
	su_deinit();
	return check_exit("call");
}
