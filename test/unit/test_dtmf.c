/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Key presses from RFC 4733 telephone-events, in-band tones and SIP INFO:
 * packet parsing and folding, spandsp's detector on generated tones, noise
 * and a synthetic voice, the pairing of one press sent several ways, and
 * the flood bound. Tones come from spandsp's own generators (dtmf_tx, dds,
 * noise), so the test needs no recordings and no libm.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#include <spandsp/dds.h>
#include <spandsp/noise.h>

#include "check.h"
#include "dtmf.h"

#define FRAME        160 /* 20 ms at 8 kHz */
#define FRAME_MS     20
#define MAX_KEYS     64
#define TICKS_PER_MS 8

struct got {
	char keys[MAX_KEYS + 1];
	enum dtmf_source src[MAX_KEYS];
	int64_t at[MAX_KEYS];
	size_t n;
};

static void got_key(char key, enum dtmf_source src, int64_t now_ms, void *arg)
{
	struct got *g = arg;

	CHECK(key != '\0' && strchr(DTMF_KEYS, key) != NULL);
	if (g->n < MAX_KEYS) {
		g->src[g->n] = src;
		g->at[g->n] = now_ms;
		g->keys[g->n++] = key;
		g->keys[g->n] = '\0';
	}
}

static struct dtmf_keys *keys_new(struct got *g)
{
	struct dtmf_keys *k = NULL;

	memset(g, 0, sizeof(*g));
	CHECK_INT(dtmf_keys_new(&k, got_key, g), 0);
	CHECK(k != NULL);
	return k;
}

static struct dtmf_keys_stats keys_stats(const struct dtmf_keys *k)
{
	struct dtmf_keys_stats s;

	dtmf_keys_stats_get(k, &s);
	return s;
}

/* ---- telephone-events ------------------------------------------------ */

static int event_code(char key)
{
	return (int)(strchr(DTMF_KEYS, key) - DTMF_KEYS);
}

/* One telephone-event packet as a phone would send it. */
struct pkt {
	int code;           /* event code; -1 ends the list */
	bool end;           /* E bit */
	uint16_t dur;       /* duration, ticks */
	uint32_t ts;        /* RTP timestamp */
	int64_t at;         /* arrival, ms */
	int rc;             /* expected return */
	uint8_t flags;      /* extra bits in the second byte (R bit, volume) */
	const uint8_t *raw; /* when set, sent instead, RAW_LEN bytes */
	size_t raw_len;
};

#define END                                                                    \
	{                                                                      \
		.code = -1                                                     \
	}
#define VOL  10 /* -10 dBm0, what phones send */
#define RBIT 0x40

static const uint8_t raw_7[7] = {1, 0x8a, 0, 160, 2, 0x0a, 0};
static const uint8_t raw_68[68] = {5, 0x0a};
/* '1' (ended, 100 ms) then '2', packed (RFC 4733 section 2.5.1.5). */
static const uint8_t raw_packed[8] = {1, 0x8a, 0x03, 0x20, 2, 0x0a, 0x01, 0x40};
/* The same, but '1' is not finished: the start of '2' is unknown. */
static const uint8_t raw_packed_open[8] = {1, 0x0a, 0x03, 0x20,
                                           2, 0x0a, 0x01, 0x40};

struct event_case {
	const char *name;
	struct pkt pkts[40];
	const char *keys;
	uint64_t malformed;
	uint64_t ignored;
};

/* A whole press of event CODE at TS, AT ms: start, two updates, three
 * ends, as section 2.5.1.4 has them. */
#define PRESS(code, ts_, at_)                                                  \
	{code, false, 0, ts_, at_, 0, VOL, NULL, 0},                           \
	    {code, false, 320, ts_, at_ + 40, 0, VOL, NULL, 0},                \
	    {code, false, 640, ts_, at_ + 80, 0, VOL, NULL, 0},                \
	    {code, true, 800, ts_, at_ + 100, 0, VOL, NULL, 0},                \
	    {code, true, 800, ts_, at_ + 100, 0, VOL, NULL, 0},                \
	{                                                                      \
		code, true, 800, ts_, at_ + 100, 0, VOL, NULL, 0               \
	}

static const struct event_case event_cases[] = {
    {"start, updates and three ends: one press",
     {PRESS(5, 1000, 0), END},
     "5",
     0,
     0},
    {"start lost: the first end packet reports it",
     {{5, true, 800, 1000, 100, 0, VOL, NULL, 0},
      {5, true, 800, 1000, 100, 0, VOL, NULL, 0},
      {5, true, 800, 1000, 100, 0, VOL, NULL, 0},
      END},
     "5",
     0,
     0},
    {"reported at the start, not at the end",
     {{7, false, 0, 1000, 0, 0, VOL, NULL, 0}, END},
     "7",
     0,
     0},
    {"new timestamp, same key: a new press",
     {PRESS(5, 1000, 0), PRESS(5, 3000, 250), END},
     "55",
     0,
     0},
    {"same timestamp replayed later: one press (sipp's fixed files)",
     {PRESS(5, 1000, 0), PRESS(5, 1000, 3000), END},
     "5",
     0,
     0},
    {"timestamps going backwards between presses (sipp's 0 then 1)",
     {PRESS(0, 17632, 0), PRESS(1, 13280, 500), END},
     "01",
     0,
     0},
    {"late end packet of the previous press",
     {{1, false, 0, 1000, 0, 0, VOL, NULL, 0},
      {2, false, 0, 3000, 250, 0, VOL, NULL, 0},
      {1, true, 800, 1000, 260, 0, VOL, NULL, 0},
      END},
     "12",
     0,
     0},
    {"same timestamp, other key: another press",
     {{1, false, 0, 1000, 0, 0, VOL, NULL, 0},
      {2, false, 0, 1000, 20, 0, VOL, NULL, 0},
      END},
     "12",
     0,
     0},
    {"every key",
     {{0, true, 800, 0, 0, 0, VOL, NULL, 0},
      {1, true, 800, 2000, 250, 0, VOL, NULL, 0},
      {2, true, 800, 4000, 500, 0, VOL, NULL, 0},
      {3, true, 800, 6000, 750, 0, VOL, NULL, 0},
      {4, true, 800, 8000, 1000, 0, VOL, NULL, 0},
      {5, true, 800, 10000, 1250, 0, VOL, NULL, 0},
      {6, true, 800, 12000, 1500, 0, VOL, NULL, 0},
      {7, true, 800, 14000, 1750, 0, VOL, NULL, 0},
      {8, true, 800, 16000, 2000, 0, VOL, NULL, 0},
      {9, true, 800, 18000, 2250, 0, VOL, NULL, 0},
      {10, true, 800, 20000, 2500, 0, VOL, NULL, 0},
      {11, true, 800, 22000, 2750, 0, VOL, NULL, 0},
      {12, true, 800, 24000, 3000, 0, VOL, NULL, 0},
      {13, true, 800, 26000, 3250, 0, VOL, NULL, 0},
      {14, true, 800, 28000, 3500, 0, VOL, NULL, 0},
      {15, true, 800, 30000, 3750, 0, VOL, NULL, 0},
      END},
     "0123456789*#ABCD",
     0,
     0},
    {"R bit and any volume: still a key",
     {{9, false, 0, 1000, 0, 0, RBIT | 63, NULL, 0},
      {3, false, 0, 5000, 500, 0, 0, NULL, 0},
      END},
     "93",
     0,
     0},
    {"events above 15 ignored (flash, answer tone, off-hook)",
     {{16, false, 0, 1000, 0, 0, VOL, NULL, 0},
      {16, true, 800, 1000, 100, 0, VOL, NULL, 0},
      {32, false, 0, 3000, 250, 0, 0, NULL, 0},
      {64, true, 800, 5000, 500, 0, 0, NULL, 0},
      {255, false, 0, 7000, 750, 0, 0, NULL, 0},
      {4, false, 0, 9000, 1000, 0, VOL, NULL, 0},
      END},
     "4",
     0,
     5},
    {"malformed lengths refused",
     {{0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 0},
      {0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 1},
      {0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 3},
      {0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 5},
      {0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 7},
      {0, false, 0, 1000, 0, -EINVAL, 0, raw_68, 68},
      END},
     "",
     6,
     0},
    {"a bad packet leaves the next one alone",
     {{0, false, 0, 1000, 0, -EINVAL, 0, raw_7, 5},
      {8, false, 0, 1000, 20, 0, VOL, NULL, 0},
      END},
     "8",
     1,
     0},
    {"two packed events: both keys, once",
     {{0, false, 0, 1000, 0, 0, 0, raw_packed, 8},
      {0, false, 0, 1000, 40, 0, 0, raw_packed, 8},
      {2, true, 480, 1800, 60, 0, VOL, NULL, 0},
      END},
     "12",
     0,
     0},
    {"packed after an unfinished event refused",
     {{0, false, 0, 1000, 0, -EINVAL, 0, raw_packed_open, 8}, END},
     "",
     1,
     0},
    {"a long event's segments are one press",
     {{9, false, 0, 1000, 0, 0, VOL, NULL, 0},
      {9, false, 65000, 1000, 8125, 0, VOL, NULL, 0},
      {9, false, 65535, 1000, 8190, 0, VOL, NULL, 0},
      {9, false, 65535, 1000, 8190, 0, VOL, NULL, 0},
      {9, false, 65535, 1000, 8190, 0, VOL, NULL, 0},
      {9, false, 160, 66535, 8210, 0, VOL, NULL, 0},
      {9, true, 8000, 66535, 9200, 0, VOL, NULL, 0},
      END},
     "9",
     0,
     0},
    {"segments with their last 42 ms lost",
     {{9, false, 0, 1000, 0, 0, VOL, NULL, 0},
      {9, false, 65200, 1000, 8150, 0, VOL, NULL, 0},
      {9, false, 800, 66535, 8290, 0, VOL, NULL, 0},
      END},
     "9",
     0,
     0},
    {"segments across the timestamp wrap",
     {{6, false, 0, 0xffffff00u, 0, 0, VOL, NULL, 0},
      {6, false, 65535, 0xffffff00u, 8190, 0, VOL, NULL, 0},
      {6, true, 800, 0xffffff00u + 65535u, 8290, 0, VOL, NULL, 0},
      END},
     "6",
     0,
     0},
    {"same key 50 ms after the end seen: a new press",
     {{3, true, 800, 1000, 0, 0, VOL, NULL, 0},
      {3, false, 0, 1000 + 800 + 400, 150, 0, VOL, NULL, 0},
      END},
     "33",
     0,
     0},
    {"same key 49.9 ms after the end seen: the same event",
     {{3, false, 800, 1000, 0, 0, VOL, NULL, 0},
      {3, false, 0, 1000 + 800 + 399, 150, 0, VOL, NULL, 0},
      END},
     "3",
     0,
     0},
};

static void test_events(void)
{
	for (size_t c = 0; c < sizeof(event_cases) / sizeof(event_cases[0]);
	     c++) {
		const struct event_case *tc = &event_cases[c];
		struct got g;
		struct dtmf_keys *k = keys_new(&g);
		struct dtmf_keys_stats s;
		uint16_t seq = 100;

		for (const struct pkt *p = tc->pkts; p->code >= 0; p++) {
			uint8_t b[4] = {
			    (uint8_t)p->code,
			    (uint8_t)((p->end ? 0x80 : 0) | p->flags),
			    (uint8_t)(p->dur >> 8), (uint8_t)(p->dur & 0xff)};
			const uint8_t *payload = p->raw ? p->raw : b;
			size_t len = p->raw ? p->raw_len : sizeof(b);
			int rc = dtmf_keys_event(k, payload, len, p->ts, seq++,
			                         p->at);

			if (rc != p->rc)
				fprintf(stderr, "case \"%s\", packet %zu:\n",
				        tc->name, (size_t)(p - tc->pkts));
			CHECK_INT(rc, p->rc);
		}
		s = keys_stats(k);
		if (strcmp(g.keys, tc->keys))
			fprintf(stderr, "case \"%s\":\n", tc->name);
		CHECK_STR(g.keys, tc->keys);
		CHECK_INT(s.presses, strlen(tc->keys));
		CHECK_INT(s.malformed, tc->malformed);
		CHECK_INT(s.ignored, tc->ignored);
		CHECK_INT(s.dropped, 0);
		for (size_t i = 0; i < g.n; i++)
			CHECK_INT(g.src[i], DTMF_SOURCE_RFC4733);
		dtmf_keys_free(k);
	}
}

static void test_args(void)
{
	struct dtmf_keys *k = NULL;
	struct got g;
	uint8_t b[4] = {1, 0, 0, 0};

	CHECK_INT(dtmf_keys_new(&k, NULL, NULL), -EINVAL);
	CHECK_INT(dtmf_keys_new(NULL, got_key, &g), -EINVAL);
	dtmf_keys_free(NULL);

	k = keys_new(&g);
	CHECK_INT(dtmf_keys_event(k, NULL, 4, 0, 0, 0), -EINVAL);
	CHECK_INT(dtmf_keys_event(NULL, b, 4, 0, 0, 0), -EINVAL);
	CHECK_INT(dtmf_keys_audio(k, NULL, 160, 0), -EINVAL);
	CHECK_INT(dtmf_keys_audio(k, NULL, 0, 0), 0);
	CHECK_INT(dtmf_keys_audio(NULL, NULL, 0, 0), -EINVAL);
	CHECK_INT(g.n, 0);
	CHECK_INT(keys_stats(k).malformed, 1);
	dtmf_keys_free(k);
}

/* ---- in-band tones --------------------------------------------------- */

/* Two signals added, clipped as a codec would. */
static int16_t mix(int16_t a, int16_t b)
{
	int32_t sum = (int32_t)a + b;

	if (sum > INT16_MAX)
		return INT16_MAX;
	if (sum < INT16_MIN)
		return INT16_MIN;
	return (int16_t)sum;
}

/*
 * Feeds PCM that starts at T0 in 20 ms frames, each at the time its last
 * sample is in, as packets arrive.
 */
static void feed(struct dtmf_keys *k, const int16_t *pcm, size_t n, int64_t t0)
{
	for (size_t i = 0; i < n; i += FRAME) {
		size_t m = n - i < FRAME ? n - i : FRAME;
		int64_t t = t0 + (int64_t)((i + m) / TICKS_PER_MS);

		CHECK_INT(dtmf_keys_audio(k, pcm + i, m, t), 0);
	}
}

/* KEYS through spandsp's generator, then 200 ms of silence. */
static size_t tones_make(int16_t *buf, size_t max, const char *keys, int level,
                         int on_ms, int off_ms)
{
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	size_t n = 0;
	int got;

	CHECK(tx != NULL);
	if (!tx)
		return 0;
	dtmf_tx_set_level(tx, level, 0);
	dtmf_tx_set_timing(tx, on_ms, off_ms);
	dtmf_tx_put(tx, keys, -1);
	while (n < max && (got = dtmf_tx(tx, buf + n, (int)(max - n))) > 0)
		n += (size_t)got;
	dtmf_tx_free(tx);
	for (size_t i = 0; i < 200 * TICKS_PER_MS && n < max; i++)
		buf[n++] = 0;
	return n;
}

struct tone_case {
	const char *keys;
	int level; /* dBm0 of the low tone */
	int on_ms;
	int off_ms;
};

static const struct tone_case tone_cases[] = {
    {"123#", -10, 50, 55},
    {"0*D9", -10, 100, 100},
    {"147", -10, 40, 50},  /* Q.24's shortest tone and pause */
    {"ABCD", -30, 60, 60}, /* 20 dB down the line */
    {"5555", -10, 60, 60}, /* one key, four presses */
    {"0123456789*#ABCD", -10, 50, 55},
};

static void test_tones(void)
{
	static int16_t pcm[8000 * 4];

	for (size_t c = 0; c < sizeof(tone_cases) / sizeof(tone_cases[0]);
	     c++) {
		const struct tone_case *tc = &tone_cases[c];
		struct got g;
		struct dtmf_keys *k = keys_new(&g);
		size_t n =
		    tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), tc->keys,
		               tc->level, tc->on_ms, tc->off_ms);

		feed(k, pcm, n, 0);
		if (strcmp(g.keys, tc->keys))
			fprintf(stderr, "tones \"%s\" at %d dBm0:\n", tc->keys,
			        tc->level);
		CHECK_STR(g.keys, tc->keys);
		for (size_t i = 0; i < g.n; i++)
			CHECK_INT(g.src[i], DTMF_SOURCE_INBAND);
		dtmf_keys_free(k);
	}
}

/* The same tones cut into odd-sized pieces: block edges do not matter. */
static void test_tones_pieces(void)
{
	static int16_t pcm[8000 * 2];
	struct got g;
	struct dtmf_keys *k = keys_new(&g);
	size_t n =
	    tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), "96#", -10, 50, 55);
	size_t sizes[] = {1, 37, 101, 240, 480, 7};
	size_t i = 0;

	for (size_t off = 0; off < n; i++) {
		size_t m = sizes[i % 6] < n - off ? sizes[i % 6] : n - off;

		off += m;
		CHECK_INT(dtmf_keys_audio(k, pcm + off - m, m,
		                          (int64_t)(off / TICKS_PER_MS)),
		          0);
	}
	CHECK_STR(g.keys, "96#");
	dtmf_keys_free(k);
}

/*
 * A voice-like signal: a pitch gliding 100-200 Hz with its harmonics up to
 * 3.4 kHz, shaped by two formants that move from vowel to vowel every
 * 120 ms, in 200 ms syllables with short gaps. Its harmonics sweep across
 * every DTMF frequency; what keeps them from being keys is spandsp's
 * relative-peak and total-energy tests, as with real speech.
 */
static void voice_make(int16_t *buf, size_t n)
{
	static const int formants[][2] = {
	    {730, 1090}, {270, 2290}, {530, 1840}, {300, 870}, {660, 1720}};
	uint32_t phase[40] = {0};
	int16_t scale = dds_scaling_dbm0(-22.0f);

	for (size_t i = 0; i < n; i++) {
		size_t ms = i / TICKS_PER_MS;
		/* A triangle from 100 to 200 Hz and back, every 700 ms. */
		int tri = (int)(ms % 700);
		float f0 =
		    100.0f + (tri < 350 ? tri : 700 - tri) * 100.0f / 350;
		const int *fm = formants[(ms / 120) % 5];
		int32_t acc = 0;

		if (ms % 250 >= 200) {
			buf[i] = 0;
			continue;
		}
		for (int h = 1; h < 40 && h * f0 < 3400.0f; h++) {
			float f = h * f0;
			float d1 = (f - fm[0]) / 90.0f;
			float d2 = (f - fm[1]) / 120.0f;
			float w = 1.0f / (1.0f + d1 * d1) +
			          0.6f / (1.0f + d2 * d2) + 0.05f;

			acc += dds_mod(&phase[h], dds_phase_rate(f),
			               (int16_t)(scale * w), 0);
		}
		if (acc > INT16_MAX)
			acc = INT16_MAX;
		if (acc < INT16_MIN)
			acc = INT16_MIN;
		buf[i] = (int16_t)acc;
	}
}

static void noise_make(int16_t *buf, size_t n, int class_of_noise, float level)
{
	noise_state_t *ns =
	    noise_init_dbm0(NULL, 1234567, level, class_of_noise, 7);

	CHECK(ns != NULL);
	for (size_t i = 0; i < n; i++)
		buf[i] = ns ? noise(ns) : 0;
	if (ns)
		noise_free(ns);
}

/* Mean power of PCM, against that of a sine at LEVEL dBm0: above it? */
static bool louder_than(const int16_t *pcm, size_t n, float level)
{
	int64_t a = dds_scaling_dbm0(level);
	int64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (int64_t)pcm[i] * pcm[i];
	return sum / (int64_t)n > a * a / 2;
}

enum signal { SILENCE, HOTH, AWGN, VOICE };

static void signal_make(int16_t *pcm, size_t n, enum signal sig)
{
	switch (sig) {
	case SILENCE:
		memset(pcm, 0, n * sizeof(*pcm));
		break;
	case HOTH:
		noise_make(pcm, n, NOISE_CLASS_HOTH, -15.0f);
		break;
	case AWGN:
		noise_make(pcm, n, NOISE_CLASS_AWGN, -15.0f);
		break;
	case VOICE:
		voice_make(pcm, n);
		break;
	}
}

static const struct {
	const char *name;
	enum signal sig;
} no_key_cases[] = {
    {"silence", SILENCE},
    {"Hoth (speech-spectrum) noise at -15 dBm0", HOTH},
    {"white noise at -15 dBm0", AWGN},
    {"synthetic voice", VOICE},
};

/*
 * Ten seconds of each: no key. Then the same with one key mixed in at
 * -10 dBm0, which must be heard, so a silent detector cannot pass.
 */
static void test_no_keys(void)
{
	static int16_t pcm[8000 * 10];
	static int16_t tone[8000];
	size_t n = sizeof(pcm) / sizeof(pcm[0]);
	size_t nt =
	    tones_make(tone, sizeof(tone) / sizeof(tone[0]), "5", -10, 80, 80);

	for (size_t c = 0; c < sizeof(no_key_cases) / sizeof(no_key_cases[0]);
	     c++) {
		struct got g;
		struct dtmf_keys *k = keys_new(&g);

		signal_make(pcm, n, no_key_cases[c].sig);
		if (no_key_cases[c].sig != SILENCE)
			CHECK(louder_than(pcm, n, -25.0f));
		feed(k, pcm, n, 0);
		if (g.n)
			fprintf(stderr, "%s:\n", no_key_cases[c].name);
		CHECK_STR(g.keys, "");
		dtmf_keys_free(k);

		/* 5 s in, during a syllable of the voice. */
		k = keys_new(&g);
		for (size_t i = 0; i < nt; i++)
			pcm[5 * 8000 + 8 * 50 + i] =
			    mix(pcm[5 * 8000 + 8 * 50 + i], tone[i]);
		feed(k, pcm, n, 0);
		if (strcmp(g.keys, "5"))
			fprintf(stderr, "%s with a key:\n",
			        no_key_cases[c].name);
		CHECK_STR(g.keys, "5");
		dtmf_keys_free(k);
	}
}

/* Keys over Hoth noise 20 dB below them: still heard. */
static void test_tones_in_noise(void)
{
	static int16_t pcm[8000 * 2];
	static int16_t hiss[8000 * 2];
	size_t n =
	    tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), "2580", -10, 60, 60);
	struct got g;
	struct dtmf_keys *k = keys_new(&g);

	noise_make(hiss, n, NOISE_CLASS_HOTH, -30.0f);
	for (size_t i = 0; i < n; i++)
		pcm[i] = mix(pcm[i], hiss[i]);
	feed(k, pcm, n, 0);
	CHECK_STR(g.keys, "2580");
	dtmf_keys_free(k);
}

/* ---- both paths ------------------------------------------------------ */

enum { BY_EVENT = 1, BY_TONE = 2, BY_BOTH = 3 };

struct press {
	char key;
	int64_t start_ms;
	int on_ms;
	int by;
};

static const int dtmf_row_hz[4] = {697, 770, 852, 941};
static const int dtmf_col_hz[4] = {1209, 1336, 1477, 1633};

/*
 * A phone: for each press it sends telephone-events every 20 ms from the
 * start (three end packets at the end) and/or the tone in its audio; the
 * audio reaches the detector AUDIO_DELAY_MS late, as through a jitter
 * buffer. Times are those of the 20 ms ticks of the bridge's loop.
 */
static void phone_run(struct dtmf_keys *k, const struct press *p, size_t np,
                      int audio_delay_ms, int64_t until_ms)
{
	size_t total = (size_t)until_ms * TICKS_PER_MS;
	int16_t *pcm = calloc(total, sizeof(*pcm));
	int16_t lo = dds_scaling_dbm0(-10.0f);
	int16_t hi = dds_scaling_dbm0(-8.0f);

	CHECK(pcm != NULL);
	if (!pcm)
		return;
	for (size_t i = 0; i < np; i++) {
		int code = (int)(strchr("123A456B789C*0#D", p[i].key) -
		                 "123A456B789C*0#D");
		uint32_t plo = 0, phi = 0;
		int32_t rlo = dds_phase_rate((float)dtmf_row_hz[code / 4]);
		int32_t rhi = dds_phase_rate((float)dtmf_col_hz[code % 4]);
		size_t from = (size_t)p[i].start_ms * TICKS_PER_MS;
		size_t to = from + (size_t)p[i].on_ms * TICKS_PER_MS;

		if (!(p[i].by & BY_TONE))
			continue;
		for (size_t s = from; s < to && s < total; s++)
			pcm[s] = (int16_t)(dds_mod(&plo, rlo, lo, 0) +
			                   dds_mod(&phi, rhi, hi, 0));
	}

	for (int64_t t = 0; t < until_ms; t += FRAME_MS) {
		/* The 20 ms of audio that ends AUDIO_DELAY_MS before now. */
		int64_t a = t - audio_delay_ms - FRAME_MS;

		for (size_t i = 0; i < np; i++) {
			const struct press *q = &p[i];
			uint32_t ts = 5000 + (uint32_t)q->start_ms * 8;
			uint8_t b[4] = {(uint8_t)event_code(q->key), VOL, 0, 0};
			int64_t end = q->start_ms + q->on_ms;

			if (!(q->by & BY_EVENT) || t < q->start_ms ||
			    t > end + 2 * FRAME_MS)
				continue;
			if (t >= end)
				b[1] |= 0x80;
			else
				end = t;
			b[2] = (uint8_t)((end - q->start_ms) * 8 >> 8);
			b[3] = (uint8_t)((end - q->start_ms) * 8);
			CHECK_INT(dtmf_keys_event(k, b, 4, ts, 0, t), 0);
		}
		if (a >= 0 && (size_t)a * TICKS_PER_MS + FRAME <= total)
			CHECK_INT(
			    dtmf_keys_audio(k, pcm + (size_t)a * TICKS_PER_MS,
			                    FRAME, t),
			    0);
	}
	free(pcm);
}

struct both_case {
	const char *name;
	struct press presses[8];
	size_t n;
	int audio_delay_ms;
	const char *keys;
	uint64_t duplicates;
};

static const struct both_case both_cases[] = {
    {"one press both ways counts once",
     {{'5', 100, 100, BY_BOTH}},
     1,
     0,
     "5",
     1},
    {"1212 both ways",
     {{'1', 100, 100, BY_BOTH},
      {'2', 350, 100, BY_BOTH},
      {'1', 600, 100, BY_BOTH},
      {'2', 850, 100, BY_BOTH}},
     4,
     0,
     "1212",
     4},
    {"1212 both ways, audio 150 ms behind",
     {{'1', 100, 100, BY_BOTH},
      {'2', 350, 100, BY_BOTH},
      {'1', 600, 100, BY_BOTH},
      {'2', 850, 100, BY_BOTH}},
     4,
     150,
     "1212",
     4},
    {"one key twice fast, both ways: two presses",
     {{'5', 100, 60, BY_BOTH}, {'5', 220, 60, BY_BOTH}},
     2,
     0,
     "55",
     2},
    {"one key three times at Q.24's limit, audio 100 ms behind",
     {{'8', 100, 40, BY_BOTH},
      {'8', 200, 40, BY_BOTH},
      {'8', 300, 40, BY_BOTH}},
     3,
     100,
     "888",
     3},
    {"long press both ways: once", {{'0', 100, 2000, BY_BOTH}}, 1, 60, "0", 1},
    {"different keys in quick succession both count",
     {{'1', 100, 40, BY_BOTH}, {'2', 190, 40, BY_BOTH}},
     2,
     0,
     "12",
     2},
    {"different keys, one each way, at once",
     {{'1', 100, 60, BY_EVENT}, {'2', 100, 60, BY_TONE}},
     2,
     0,
     "12",
     0},
    {"tones only",
     {{'4', 100, 80, BY_TONE}, {'4', 300, 80, BY_TONE}},
     2,
     0,
     "44",
     0},
    {"events only",
     {{'4', 100, 80, BY_EVENT}, {'4', 300, 80, BY_EVENT}},
     2,
     0,
     "44",
     0},
};

static void test_both(void)
{
	for (size_t c = 0; c < sizeof(both_cases) / sizeof(both_cases[0]);
	     c++) {
		const struct both_case *tc = &both_cases[c];
		struct got g;
		struct dtmf_keys *k = keys_new(&g);
		struct dtmf_keys_stats s;

		phone_run(k, tc->presses, tc->n, tc->audio_delay_ms, 3000);
		s = keys_stats(k);
		if (strcmp(g.keys, tc->keys) || s.duplicates != tc->duplicates)
			fprintf(stderr, "case \"%s\":\n", tc->name);
		CHECK_STR(g.keys, tc->keys);
		CHECK_INT(s.presses, strlen(tc->keys));
		CHECK_INT(s.duplicates, tc->duplicates);
		dtmf_keys_free(k);
	}
}

/*
 * The window's edges. A tone is fed from 1000 ms; a telephone-event whose
 * start is DTMF_MERGE_WINDOW_MS (+1) before or after the tone's estimated
 * start pairs with it (or does not). The estimate is found first by
 * running the tone alone.
 */
static int64_t tone_alone(const int16_t *pcm, size_t n)
{
	struct got g;
	struct dtmf_keys *k = keys_new(&g);
	int64_t at;

	feed(k, pcm, n, 1000);
	CHECK_INT(g.n, 1);
	at = g.n ? g.at[0] : 0;
	dtmf_keys_free(k);
	return at;
}

static void test_window(void)
{
	static int16_t pcm[8000];
	size_t n =
	    tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), "7", -10, 80, 80);
	int64_t heard = tone_alone(pcm, n);
	/* What dtmf.c takes for the tone's start: 32 ms before it is heard. */
	int64_t start = heard - 32;
	static const struct {
		int64_t offset;
		size_t presses;
	} edges[] = {
	    {-DTMF_MERGE_WINDOW_MS, 1},
	    {-DTMF_MERGE_WINDOW_MS - 1, 2},
	    {DTMF_MERGE_WINDOW_MS, 1},
	    {DTMF_MERGE_WINDOW_MS + 1, 2},
	    {0, 1},
	};
	uint8_t b[4] = {7, VOL, 0, 0};

	CHECK(heard >= 1000 + 25 && heard <= 1000 + 60);
	for (size_t e = 0; e < sizeof(edges) / sizeof(edges[0]); e++) {
		struct got g;
		struct dtmf_keys *k = keys_new(&g);
		int64_t at = start + edges[e].offset;

		if (edges[e].offset <= 0) {
			CHECK_INT(dtmf_keys_event(k, b, 4, 100, 1, at), 0);
			feed(k, pcm, n, 1000);
		} else {
			feed(k, pcm, n, 1000);
			CHECK_INT(dtmf_keys_event(k, b, 4, 100, 1, at), 0);
		}
		if (g.n != edges[e].presses)
			fprintf(stderr, "window edge %+lld ms:\n",
			        (long long)edges[e].offset);
		CHECK_INT(g.n, edges[e].presses);
		dtmf_keys_free(k);
	}

	/* The event's start is its arrival less its duration: an end packet
	 * arriving 2 s after the tone (its start lost) is the same press. */
	{
		struct got g;
		struct dtmf_keys *k = keys_new(&g);
		uint8_t end[4] = {7, 0x80 | VOL, 2000 * 8 >> 8,
		                  (uint8_t)(2000 * 8)};

		feed(k, pcm, n, 1000);
		CHECK_INT(dtmf_keys_event(k, end, 4, 100, 1, start + 2000), 0);
		CHECK_STR(g.keys, "7");
		CHECK_INT(keys_stats(k).duplicates, 1);
		dtmf_keys_free(k);
	}
}

/* ---- keys from the signalling (SIP INFO) ----------------------------- */

/*
 * A key from INFO alone is a press; with the same press as a
 * telephone-event or a tone within the window it counts once, whichever
 * comes first; outside the window, or another key, it is a press of its
 * own; a fast repeat from INFO alone is two presses.
 */
static void test_signal(void)
{
	static int16_t pcm[8000];
	size_t n =
	    tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), "2", -10, 80, 80);
	uint8_t b2[4] = {2, VOL, 0, 0}, b3[4] = {3, VOL, 0, 0};
	struct got g;
	struct dtmf_keys *k;

	k = keys_new(&g);
	CHECK_INT(dtmf_keys_signal(k, '2', 1000), 0);
	CHECK_STR(g.keys, "2");
	CHECK_INT(g.src[0], DTMF_SOURCE_SIGNAL);
	CHECK_INT(dtmf_keys_signal(k, 'x', 1000), -EINVAL);
	CHECK_INT(dtmf_keys_signal(k, '\0', 1000), -EINVAL);
	CHECK_INT(dtmf_keys_signal(NULL, '2', 1000), -EINVAL);
	/* Q.24's fastest: 90 ms later the same key is a new press. */
	CHECK_INT(dtmf_keys_signal(k, '2', 1090), 0);
	CHECK_STR(g.keys, "22");
	dtmf_keys_free(k);

	/* INFO, then RFC 4733 at the same moment, then its end packets. */
	k = keys_new(&g);
	CHECK_INT(dtmf_keys_signal(k, '2', 1000), 0);
	CHECK_INT(dtmf_keys_event(k, b2, 4, 100, 1, 1010), 0);
	b2[1] |= 0x80;
	b2[3] = 160;
	CHECK_INT(dtmf_keys_event(k, b2, 4, 100, 2, 1030), 0);
	CHECK_STR(g.keys, "2");
	CHECK_INT(keys_stats(k).duplicates, 1);
	dtmf_keys_free(k);

	/* RFC 4733 first, INFO after; a tone of the same press too. */
	k = keys_new(&g);
	b2[1] = VOL;
	b2[3] = 0;
	CHECK_INT(dtmf_keys_event(k, b2, 4, 100, 1, 1000), 0);
	CHECK_INT(dtmf_keys_signal(k, '2', 1040), 0);
	feed(k, pcm, n, 1000);
	CHECK_STR(g.keys, "2");
	CHECK_INT(g.src[0], DTMF_SOURCE_RFC4733);
	CHECK_INT(keys_stats(k).duplicates, 2);
	dtmf_keys_free(k);

	/* Another key, and the same key outside the window: presses. */
	k = keys_new(&g);
	CHECK_INT(dtmf_keys_event(k, b3, 4, 100, 1, 1000), 0);
	CHECK_INT(dtmf_keys_signal(k, '2', 1000), 0);
	CHECK_INT(dtmf_keys_signal(k, '3', 1000 + DTMF_MERGE_WINDOW_MS + 1), 0);
	CHECK_STR(g.keys, "323");
	dtmf_keys_free(k);

	CHECK_STR(dtmf_source_name(DTMF_SOURCE_SIGNAL), "INFO");
	CHECK_STR(dtmf_source_name(DTMF_SOURCE_RFC4733), "RFC 4733");
	CHECK_STR(dtmf_source_name(DTMF_SOURCE_INBAND), "in-band");
}

/* ---- the flood bound ------------------------------------------------- */

static void test_flood(void)
{
	struct got g;
	struct dtmf_keys *k = keys_new(&g);
	struct dtmf_keys_stats s;
	static int16_t pcm[8000];
	size_t n;

	/* 30 forged presses 20 ms apart: 12 pass in the first second. */
	for (int i = 0; i < 30; i++) {
		uint8_t b[4] = {(uint8_t)(i % 10), 0x80 | VOL, 0, 0};

		CHECK_INT(dtmf_keys_event(k, b, 4, 1000u + (uint32_t)i * 1000,
		                          (uint16_t)i, i * 20),
		          0);
	}
	s = keys_stats(k);
	CHECK_STR(g.keys, "012345678901");
	CHECK_INT(s.presses, DTMF_RATE_MAX);
	CHECK_INT(s.dropped, 30 - DTMF_RATE_MAX);

	/* A dropped press's tone does not come back as a press. The last
	 * forged press was '9' at 580 ms; its tone is heard at ~620 ms. */
	n = tones_make(pcm, sizeof(pcm) / sizeof(pcm[0]), "9", -10, 60, 60);
	feed(k, pcm, n, 580);
	s = keys_stats(k);
	CHECK_INT(s.presses, DTMF_RATE_MAX);
	CHECK_INT(s.duplicates, 1);

	/* A second after the first key, keys pass again. */
	{
		uint8_t b[4] = {(uint8_t)event_code('#'), VOL, 0, 0};

		CHECK_INT(dtmf_keys_event(k, b, 4, 900000, 99, 999), 0);
		CHECK_INT(keys_stats(k).dropped, 30 - DTMF_RATE_MAX + 1);
		CHECK_INT(dtmf_keys_event(k, b, 4, 901000, 100, 1000), 0);
	}
	s = keys_stats(k);
	CHECK_STR(g.keys, "012345678901#");
	CHECK_INT(s.presses, DTMF_RATE_MAX + 1);
	CHECK_INT(s.dropped, 30 - DTMF_RATE_MAX + 1);
	dtmf_keys_free(k);

	/* Q.24's fastest keying, a press every 90 ms, each report up to
	 * 20 ms early or late: nothing is dropped. */
	k = keys_new(&g);
	for (int i = 0; i < 60; i++) {
		uint8_t b[4] = {(uint8_t)(i % 16), 0x80 | VOL, 0, 0};
		int64_t at = 1000 + i * 90 + (i % 3 - 1) * 20;

		CHECK_INT(dtmf_keys_event(k, b, 4, (uint32_t)i * 720,
		                          (uint16_t)i, at),
		          0);
	}
	s = keys_stats(k);
	CHECK_INT(s.presses, 60);
	CHECK_INT(s.dropped, 0);
	dtmf_keys_free(k);
}

int main(void)
{
	test_args();
	test_events();
	test_tones();
	test_tones_pieces();
	test_no_keys();
	test_tones_in_noise();
	test_both();
	test_window();
	test_signal();
	test_flood();
	return check_exit("test_dtmf");
}
