/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One stream of key presses from three paths. Telephone-events are folded
 * into presses by remembering the last few events by (timestamp, code);
 * spandsp's Goertzel detector turns audio into keys; keys from SIP INFO come
 * whole. Each press from any path is then matched against recent presses
 * from the others by its estimated start time, and a press that is new passes a
 * sliding-window flood bound before it reaches the callback.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The few spandsp headers dtmf.h needs, after the standard ones they
 * assume: <spandsp.h> would pull in libtiff's headers for the fax code. */
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>

#include "dtmf.h"
#include "log.h"

#define TAG "dtmf"

/* RFC 4733 timestamps and durations count 8 kHz samples for G.711. */
#define TICKS_PER_MS 8

/* Event code, E/R/volume, duration: RFC 4733 section 2.3. */
#define EVENT_BLOCK   4
#define EVENT_KEY_MAX 15
#define EVENT_END_BIT 0x80

/*
 * Events remembered for folding repeats. The three end packets come within
 * about 150 ms of each other, so a few would do; 32 also catches a whole
 * event replayed after up to 31 other presses (sipp plays its recorded
 * key files this way), for 384 bytes per call.
 */
#define EVENT_HISTORY 32

/*
 * A later segment of one long event (RFC 4733 section 2.5.1.3) carries a
 * new timestamp, the previous segment's start plus its duration. A new
 * press of the same key cannot start that close: Q.24 wants 50 ms of
 * silence between keys, and the duration we saw is never more than the
 * real one. So the same code starting less than 50 ms after the end we saw
 * continues the event; starting later, it is a new press.
 */
#define SEGMENT_GAP_TICKS (50 * TICKS_PER_MS)

/*
 * spandsp confirms a key on the second of two agreeing 102-sample blocks:
 * 25.5 to 38 ms after the tone starts. The middle is the best guess of the
 * start, for pairing with a telephone-event whose start is known.
 */
#define INBAND_LATENCY_MS 32

/*
 * Presses remembered for pairing. Only those within DTMF_MERGE_WINDOW_MS
 * either side matter, 6 at the flood bound; but dropped presses are kept
 * too (their other half must not come back as a press), so 32.
 */
#define PRESS_HISTORY 32

/* spandsp takes an int count; hand it at most one second at a time. */
#define AUDIO_CHUNK 8000

struct dtmf_event {
	bool used;
	uint8_t code;
	uint32_t ts;
	uint32_t duration; /* the longest seen, in ticks */
};

struct dtmf_press {
	bool used;
	char key;
	uint8_t sources; /* 1 << enum dtmf_source, for each path seen */
	int64_t start_ms;
};

struct dtmf_keys {
	dtmf_key_cb cb;
	void *arg;
	dtmf_rx_state_t *detector;
	/* now_ms of the dtmf_keys_audio() call that spandsp calls back from. */
	int64_t audio_now_ms;

	struct dtmf_event events[EVENT_HISTORY];
	unsigned events_next;
	struct dtmf_press presses[PRESS_HISTORY];
	unsigned presses_next;
	/* When the last DTMF_RATE_MAX presses were let through, a ring. */
	int64_t passed[DTMF_RATE_MAX];
	unsigned passed_next;
	unsigned passed_count;
	uint64_t flood_dropped; /* in the flood in progress, for its log line */

	struct dtmf_keys_stats stats;
};

static int64_t ms_distance(int64_t a, int64_t b)
{
	return a > b ? a - b : b - a;
}

/* Lets a press through unless DTMF_RATE_MAX already went in the window. */
static bool dtmf_rate_admit(struct dtmf_keys *k, int64_t now_ms)
{
	if (k->passed_count == DTMF_RATE_MAX &&
	    now_ms - k->passed[k->passed_next] < DTMF_RATE_WINDOW_MS)
		return false;
	k->passed[k->passed_next] = now_ms;
	k->passed_next = (k->passed_next + 1) % DTMF_RATE_MAX;
	if (k->passed_count < DTMF_RATE_MAX)
		k->passed_count++;
	return true;
}

/*
 * One report of KEY from path SRC, the press estimated to have started at
 * START_MS. Of the recent presses of the same key, within the window and
 * not yet seen on this path, the one that started first takes it; only a
 * report that pairs with none is a new press. First, not closest: when one
 * path lags the other by a steady 100 ms (a jitter buffer) and one key is
 * pressed every 100 ms, the closest earlier press is the wrong one, and
 * the last report would find no partner and count twice.
 */
static void dtmf_press_report(struct dtmf_keys *k, char key,
                              enum dtmf_source src, int64_t start_ms,
                              int64_t now_ms)
{
	uint8_t bit = (uint8_t)(1u << src);
	struct dtmf_press *best = NULL;
	struct dtmf_press *p;

	for (unsigned i = 0; i < PRESS_HISTORY; i++) {
		p = &k->presses[i];
		if (!p->used || p->key != key || (p->sources & bit))
			continue;
		if (ms_distance(p->start_ms, start_ms) > DTMF_MERGE_WINDOW_MS)
			continue;
		if (!best || p->start_ms < best->start_ms)
			best = p;
	}
	if (best) {
		best->sources |= bit;
		k->stats.duplicates++;
		log_debug(TAG, "key %c by %s paired with another path", key,
		          dtmf_source_name(src));
		return;
	}

	p = &k->presses[k->presses_next];
	k->presses_next = (k->presses_next + 1) % PRESS_HISTORY;
	*p = (struct dtmf_press){
	    .used = true, .key = key, .sources = bit, .start_ms = start_ms};

	if (!dtmf_rate_admit(k, now_ms)) {
		if (k->flood_dropped++ == 0)
			log_warn(TAG,
			         "more than %d keys in %d ms: dropping keys "
			         "until the rate falls",
			         DTMF_RATE_MAX, DTMF_RATE_WINDOW_MS);
		k->stats.dropped++;
		return;
	}
	if (k->flood_dropped) {
		log_info(TAG, "key flood over: %llu keys dropped",
		         (unsigned long long)k->flood_dropped);
		k->flood_dropped = 0;
	}
	k->stats.presses++;
	k->cb(key, src, now_ms, k->arg);
}

const char *dtmf_source_name(enum dtmf_source src)
{
	switch (src) {
	case DTMF_SOURCE_RFC4733:
		return "RFC 4733";
	case DTMF_SOURCE_INBAND:
		return "in-band";
	case DTMF_SOURCE_SIGNAL:
		return "INFO";
	}
	return "?";
}

int dtmf_keys_signal(struct dtmf_keys *k, char key, int64_t now_ms)
{
	if (!k || key == '\0' || !strchr(DTMF_KEYS, key))
		return -EINVAL;
	dtmf_press_report(k, key, DTMF_SOURCE_SIGNAL, now_ms, now_ms);
	return 0;
}

static struct dtmf_event *dtmf_event_find(struct dtmf_keys *k, uint32_t ts,
                                          uint8_t code)
{
	for (unsigned i = 0; i < EVENT_HISTORY; i++) {
		struct dtmf_event *e = &k->events[i];

		if (e->used && e->ts == ts && e->code == code)
			return e;
	}
	return NULL;
}

/* The event with CODE added last, or NULL. */
static struct dtmf_event *dtmf_event_latest(struct dtmf_keys *k, uint8_t code)
{
	for (unsigned n = 1; n <= EVENT_HISTORY; n++) {
		unsigned i =
		    (k->events_next + EVENT_HISTORY - n) % EVENT_HISTORY;
		struct dtmf_event *e = &k->events[i];

		if (e->used && e->code == code)
			return e;
	}
	return NULL;
}

/*
 * One 4-byte event block whose event started at TS, START_MS by our clock
 * (the packet's arrival less the time the events in it have lasted, even
 * if the first packets were lost: what the other path is compared with).
 */
static void dtmf_event_block(struct dtmf_keys *k, const uint8_t *b, uint32_t ts,
                             int64_t start_ms, uint16_t seq, int64_t now_ms)
{
	uint8_t code = b[0];
	uint32_t duration = (uint32_t)b[2] << 8 | b[3];
	struct dtmf_event *e;
	struct dtmf_event *prev;
	bool segment;

	if (code > EVENT_KEY_MAX) {
		k->stats.ignored++;
		return;
	}
	e = dtmf_event_find(k, ts, code);
	if (e) {
		if (duration > e->duration)
			e->duration = duration;
		return;
	}

	/* Unsigned: a timestamp before the previous event's is far away. */
	prev = dtmf_event_latest(k, code);
	segment = prev && ts != prev->ts &&
	          ts - prev->ts < prev->duration + SEGMENT_GAP_TICKS;

	e = &k->events[k->events_next];
	k->events_next = (k->events_next + 1) % EVENT_HISTORY;
	*e = (struct dtmf_event){
	    .used = true, .code = code, .ts = ts, .duration = duration};
	if (segment) {
		log_debug(TAG, "event %u ts %u seq %u continues ts %u", code,
		          ts, seq, prev->ts);
		return;
	}
	log_debug(TAG, "event %u ts %u seq %u duration %u", code, ts, seq,
	          duration);
	dtmf_press_report(k, DTMF_KEYS[code], DTMF_SOURCE_RFC4733, start_ms,
	                  now_ms);
}

int dtmf_keys_event(struct dtmf_keys *k, const uint8_t *payload, size_t len,
                    uint32_t rtp_ts, uint16_t seq, int64_t now_ms)
{
	size_t blocks;
	uint32_t ts = rtp_ts;
	uint32_t total = 0; /* ticks from the first event's start to now */
	int err = 0;

	if (!k)
		return -EINVAL;
	if (!payload || len == 0 || len % EVENT_BLOCK ||
	    len > DTMF_EVENT_PAYLOAD_MAX) {
		err = -EINVAL;
		goto out;
	}
	/*
	 * Packed events must be consecutive and finished but for the last
	 * (section 2.5.1.5); otherwise the start of the next is unknown.
	 * Check them all before acting on any.
	 */
	blocks = len / EVENT_BLOCK;
	for (size_t i = 0; i < blocks; i++) {
		const uint8_t *b = payload + i * EVENT_BLOCK;

		if (i + 1 < blocks && !(b[1] & EVENT_END_BIT)) {
			err = -EINVAL;
			goto out;
		}
		total += (uint32_t)b[2] << 8 | b[3];
	}
	for (size_t i = 0; i < blocks; i++) {
		const uint8_t *b = payload + i * EVENT_BLOCK;
		uint32_t duration = (uint32_t)b[2] << 8 | b[3];

		dtmf_event_block(k, b, ts, now_ms - total / TICKS_PER_MS, seq,
		                 now_ms);
		ts += duration;
		total -= duration;
	}
out:
	if (err) {
		k->stats.malformed++;
		log_debug(TAG, "telephone-event of %zu bytes, seq %u, refused",
		          len, seq);
	}
	return err;
}

/* spandsp's digits callback: each char is a key it has just confirmed. */
static void dtmf_inband_digits(void *user_data, const char *digits, int len)
{
	struct dtmf_keys *k = user_data;

	for (int i = 0; i < len; i++) {
		char key = digits[i];

		if (key == '\0' || !strchr(DTMF_KEYS, key))
			continue;
		dtmf_press_report(k, key, DTMF_SOURCE_INBAND,
		                  k->audio_now_ms - INBAND_LATENCY_MS,
		                  k->audio_now_ms);
	}
}

int dtmf_keys_audio(struct dtmf_keys *k, const int16_t *pcm, size_t n,
                    int64_t now_ms)
{
	if (!k || (!pcm && n))
		return -EINVAL;
	k->audio_now_ms = now_ms;
	while (n) {
		int chunk = n > AUDIO_CHUNK ? AUDIO_CHUNK : (int)n;

		dtmf_rx(k->detector, pcm, chunk);
		pcm += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

void dtmf_keys_stats_get(const struct dtmf_keys *k, struct dtmf_keys_stats *out)
{
	*out = k->stats;
}

int dtmf_keys_new(struct dtmf_keys **kp, dtmf_key_cb cb, void *arg)
{
	struct dtmf_keys *k = NULL;
	int err = 0;

	if (!kp || !cb)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k) {
		err = -ENOMEM;
		goto out;
	}
	k->cb = cb;
	k->arg = arg;
	/* spandsp's defaults are Q.24's: -42 dBm0, twist 8 dB / 4 dB. The
	 * dial-tone notch stays off: a called phone sends no dial tone. */
	k->detector = dtmf_rx_init(NULL, dtmf_inband_digits, k);
	if (!k->detector) {
		err = -ENOMEM;
		goto out;
	}
out:
	if (err) {
		log_err(TAG, "cannot create a key receiver: %s",
		        strerror(-err));
		dtmf_keys_free(k);
		k = NULL;
	}
	*kp = k;
	return err;
}

void dtmf_keys_free(struct dtmf_keys *k)
{
	if (!k)
		return;
	if (k->detector)
		dtmf_rx_free(k->detector);
	free(k);
}
