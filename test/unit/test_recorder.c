/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests of recorder/: synthetic "speech" (a harmonic mix with a syllable
 * rhythm), silence and line noise go in; the bytes that come out are checked
 * for their container's signature and decoded back with libsndfile to
 * measure their length. Stops on silence and on the length limit are checked
 * to land where they should, within 0.1 s.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "check.h"
#include "recorder.h"

#define RATE   RECORDER_SAMPLE_RATE
#define SEC(s) ((size_t)((s)*RATE))
#define PI     3.14159265358979323846

enum sound { VOICE, SILENCE, NOISE, KNOCK };

/*
 * One sample of the test sound at absolute position i. VOICE is a 140 Hz
 * voice with harmonics to 2.3 kHz, swelling and fading four times a second
 * between about -16 and -27 dBm0: always speech to the detector, never a
 * steady tone. NOISE is white noise at about -63 dBm0, an idle line.
 * KNOCK is a 1 kHz tone near full scale (+2.4 dBm0): fed for a few
 * milliseconds, the loudest click a handset can make.
 */
static int16_t sound_sample(enum sound s, size_t i)
{
	static const double harmonics[][2] = {
	    {140, 1.0},  {280, 0.7},  {420, 0.5},   {700, 0.4},
	    {1120, 0.3}, {1680, 0.2}, {2300, 0.15},
	};
	static uint32_t seed = 12345;
	double t = (double)i / RATE, v = 0;
	size_t k;

	switch (s) {
	case VOICE:
		for (k = 0; k < sizeof harmonics / sizeof harmonics[0]; k++)
			v +=
			    harmonics[k][1] * sin(2 * PI * harmonics[k][0] * t);
		v *= 0.65 + 0.35 * sin(2 * PI * 4 * t);
		return (int16_t)(v * 2500);
	case KNOCK:
		return (int16_t)(30000 * sin(2 * PI * 1000 * t));
	case NOISE:
		seed = seed * 1103515245u + 12345u;
		return (int16_t)((int)((seed >> 16) % 41) - 20);
	case SILENCE:
	default:
		return 0;
	}
}

/*
 * Feeds samples [from, from + n) of sound s in chunks of `chunk`. Returns the
 * position (samples from the start of the recording) of the end of the chunk
 * in which the state left RECORDER_RUNNING, or 0 if it did not.
 */
static size_t feed(struct recorder *r, enum sound s, size_t from, size_t n,
                   size_t chunk, enum recorder_state *state)
{
	int16_t *buf = malloc(chunk * sizeof *buf);
	size_t done = 0, m, i;

	*state = RECORDER_RUNNING;
	CHECK(buf != NULL);
	while (buf && done < n) {
		m = n - done < chunk ? n - done : chunk;
		for (i = 0; i < m; i++)
			buf[i] = sound_sample(s, from + done + i);
		CHECK_INT(recorder_feed(r, buf, m, state), 0);
		done += m;
		if (*state != RECORDER_RUNNING)
			break;
	}
	free(buf);
	return *state != RECORDER_RUNNING ? from + done : 0;
}

/* A read-only file in memory, for decoding through virtual I/O. */
struct mem {
	const unsigned char *p;
	size_t len, pos;
};

static sf_count_t mem_len(void *u)
{
	return (sf_count_t)((struct mem *)u)->len;
}

static sf_count_t mem_seek(sf_count_t off, int whence, void *u)
{
	struct mem *m = u;
	sf_count_t base = whence == SEEK_SET   ? 0
	                  : whence == SEEK_CUR ? (sf_count_t)m->pos
	                                       : (sf_count_t)m->len;

	if (base + off < 0 || base + off > (sf_count_t)m->len)
		return -1;
	m->pos = (size_t)(base + off);
	return (sf_count_t)m->pos;
}

static sf_count_t mem_read(void *ptr, sf_count_t count, void *u)
{
	struct mem *m = u;
	size_t n = m->len - m->pos;

	if ((sf_count_t)n > count)
		n = (size_t)count;
	if (n)
		memcpy(ptr, m->p + m->pos, n);
	m->pos += n;
	return (sf_count_t)n;
}

static sf_count_t mem_write(const void *ptr, sf_count_t count, void *u)
{
	(void)ptr;
	(void)count;
	(void)u;
	return 0;
}

static sf_count_t mem_tell(void *u)
{
	return (sf_count_t)((struct mem *)u)->pos;
}

/*
 * Decodes bytes with libsndfile, counting the frames actually read rather
 * than trusting the header. Sets *seconds and *rms (of the whole file, on
 * the 16-bit scale); returns 0 or -1.
 */
static int decode(const unsigned char *bytes, size_t len, int sf_format,
                  double *seconds, double *rms)
{
	SF_VIRTUAL_IO io = {mem_len, mem_seek, mem_read, mem_write, mem_tell};
	struct mem m = {bytes, len, 0};
	SF_INFO info = {0};
	SNDFILE *sf;
	short buf[4096];
	sf_count_t got, frames = 0, i;
	double energy = 0;

	sf = sf_open_virtual(&io, SFM_READ, &info, &m);
	if (!sf) {
		fprintf(stderr, "decode: %s\n", sf_strerror(NULL));
		return -1;
	}
	CHECK_INT(info.format & (SF_FORMAT_TYPEMASK | SF_FORMAT_SUBMASK),
	          sf_format);
	CHECK_INT(info.channels, 1);
	while ((got = sf_readf_short(sf, buf, 4096)) > 0) {
		for (i = 0; i < got; i++)
			energy += (double)buf[i] * buf[i];
		frames += got;
	}
	sf_close(sf);
	*seconds = (double)frames / info.samplerate;
	*rms = frames ? sqrt(energy / (double)frames) : 0;
	return 0;
}

static int near(double a, double b, double tolerance)
{
	return fabs(a - b) <= tolerance;
}

static void test_formats(void)
{
	CHECK(recorder_format_by_name("opus") == &recorder_format_opus);
	CHECK(recorder_format_by_name("MP3") == &recorder_format_mp3);
	CHECK(recorder_format_by_name("wav") == NULL);
	CHECK(recorder_format_by_name("") == NULL);
	CHECK(recorder_format_by_name(NULL) == NULL);
	CHECK_STR(recorder_format_opus.mime_type, "audio/ogg");
	CHECK_STR(recorder_format_opus.extension, ".oga");
	CHECK_STR(recorder_format_mp3.mime_type, "audio/mpeg");
	CHECK_STR(recorder_format_mp3.extension, ".mp3");
}

static void test_arguments(void)
{
	static const struct {
		int max, silence, want;
	} cases[] = {
	    {0, 1, -EINVAL},  {-5, 1, -EINVAL}, {601, 3, -EINVAL},
	    {60, 0, -EINVAL}, {5, 6, -EINVAL},  {1, 1, 0},
	    {600, 600, 0},    {60, 3, 0},
	};
	struct recorder *r;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = NULL;
		CHECK_INT(
		    recorder_new(&r, NULL, cases[i].max, cases[i].silence),
		    cases[i].want);
		CHECK((r != NULL) == (cases[i].want == 0));
		recorder_free(r);
	}
	CHECK_INT(recorder_new(NULL, NULL, 60, 3), -EINVAL);
	recorder_free(NULL);
}

/* 3 s of speech in one format: signature, duration, decoded length. */
static void test_encode(const struct recorder_format *fmt, size_t chunk)
{
	struct recorder *r = NULL;
	enum recorder_state state;
	unsigned char *bytes = NULL;
	size_t len = 0;
	int ms = 0;
	double seconds = 0, rms = 0;

	CHECK_INT(recorder_new(&r, fmt, 60, 2), 0);
	if (!r)
		return;
	CHECK_INT(feed(r, VOICE, 0, SEC(3), chunk, &state), 0);
	CHECK_INT(state, RECORDER_RUNNING);
	CHECK_INT(recorder_finish(r, &bytes, &len, &ms), 0);
	recorder_free(r);
	if (!bytes)
		return;
	CHECK_INT(ms, 3000);
	if (fmt == &recorder_format_opus) {
		CHECK(len > 36 && !memcmp(bytes, "OggS", 4));
		CHECK(memmem(bytes, len, "OpusHead", 8) != NULL);
	} else {
		CHECK(len > 3 &&
		      (!memcmp(bytes, "ID3", 3) ||
		       (bytes[0] == 0xff && (bytes[1] & 0xe0) == 0xe0)));
	}
	CHECK_INT(decode(bytes, len, fmt->sf_format, &seconds, &rms), 0);
	CHECK(near(seconds, 3.0, 0.1));
	/* The voice's RMS is about 2000: what comes back is sound. */
	CHECK(rms > 1000);
	printf("%s: 3 s of speech -> %zu bytes, decodes to %.3f s, rms %.0f\n",
	       fmt->name, len, seconds, rms);
	free(bytes);
}

/* Speech, then silence (or line noise): stops silence_seconds later, and
 * the file keeps half a second of it. */
static void test_silence_stop(enum sound quiet, int silence_seconds)
{
	struct recorder *r = NULL;
	enum recorder_state state;
	unsigned char *bytes = NULL;
	size_t len = 0, stop;
	int ms = 0;
	double seconds = 0, rms = 0;

	CHECK_INT(recorder_new(&r, NULL, 60, silence_seconds), 0);
	if (!r)
		return;
	CHECK_INT(feed(r, VOICE, 0, SEC(1), 80, &state), 0);
	stop = feed(r, quiet, SEC(1), SEC(silence_seconds + 2), 80, &state);
	CHECK_INT(state, RECORDER_SILENCE);
	CHECK(near((double)stop / RATE, 1.0 + silence_seconds, 0.1));
	printf("silence: stopped at %.3f s (speech ended at 1 s, "
	       "silence_seconds %d)\n",
	       (double)stop / RATE, silence_seconds);

	/* Past the stop nothing more is taken, and the state stays. */
	CHECK_INT(feed(r, VOICE, stop, SEC(1), 160, &state), stop + 160);
	CHECK_INT(state, RECORDER_SILENCE);

	CHECK_INT(recorder_finish(r, &bytes, &len, &ms), 0);
	recorder_free(r);
	CHECK(near(ms / 1000.0, 1.5, 0.1));
	if (!bytes)
		return;
	CHECK_INT(
	    decode(bytes, len, recorder_format_opus.sf_format, &seconds, &rms),
	    0);
	CHECK(near(seconds, 1.5, 0.1));
	free(bytes);
}

static void test_limit(void)
{
	struct recorder *r = NULL;
	enum recorder_state state;
	unsigned char *bytes = NULL;
	size_t len = 0;
	int ms = 0;
	double seconds = 0, rms = 0;

	CHECK_INT(recorder_new(&r, &recorder_format_mp3, 2, 1), 0);
	if (!r)
		return;
	CHECK_INT(feed(r, VOICE, 0, SEC(5), 160, &state), SEC(2));
	CHECK_INT(state, RECORDER_LIMIT);
	CHECK_INT(recorder_finish(r, &bytes, &len, &ms), 0);
	recorder_free(r);
	CHECK_INT(ms, 2000);
	if (bytes) {
		CHECK_INT(decode(bytes, len, recorder_format_mp3.sf_format,
		                 &seconds, &rms),
		          0);
		CHECK(near(seconds, 2.0, 0.1));
	}
	free(bytes);

	/* A limit inside a chunk: the cut is exact to the sample. */
	r = NULL;
	CHECK_INT(recorder_new(&r, NULL, 1, 1), 0);
	if (!r)
		return;
	CHECK_INT(feed(r, VOICE, 0, SEC(2), 333, &state), 333 * 25);
	CHECK_INT(state, RECORDER_LIMIT);
	bytes = NULL;
	CHECK_INT(recorder_finish(r, &bytes, &len, &ms), 0);
	CHECK_INT(ms, 1000);
	free(bytes);
	recorder_free(r);
}

/*
 * No speech at all: recording stops after max(silence_seconds,
 * RECORDER_LEAD_SECONDS), and there is nothing to send.
 */
static void test_only_silence(enum sound quiet, int silence_seconds)
{
	struct recorder *r = NULL;
	enum recorder_state state;
	unsigned char *bytes = NULL;
	size_t len = 0, stop;
	int ms = -1;
	double want = silence_seconds > RECORDER_LEAD_SECONDS
	                  ? silence_seconds
	                  : RECORDER_LEAD_SECONDS;

	CHECK_INT(recorder_new(&r, NULL, 60, silence_seconds), 0);
	if (!r)
		return;
	stop = feed(r, quiet, 0, SEC(want + 2), 160, &state);
	CHECK_INT(state, RECORDER_SILENCE);
	CHECK(near((double)stop / RATE, want, 0.1));
	CHECK_INT(recorder_finish(r, &bytes, &len, &ms), -ENODATA);
	CHECK(bytes == NULL);
	CHECK_INT(ms, -1);
	recorder_free(r);
}

/*
 * Short sounds between stretches of line noise: a click or a knock is not
 * speech, a short word is.
 */
static void test_bursts(void)
{
	static const struct {
		enum sound sound;
		double seconds;
		int heard;
	} cases[] = {
	    {VOICE, 0.03, 0}, {KNOCK, 0.005, 0}, {KNOCK, 0.02, 0},
	    {VOICE, 0.2, 1},  {VOICE, 0.3, 1},
	};
	struct recorder *r;
	enum recorder_state state;
	unsigned char *bytes;
	size_t len, i;
	int ms;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = NULL;
		bytes = NULL;
		ms = 0;
		CHECK_INT(recorder_new(&r, NULL, 60, 2), 0);
		if (!r)
			continue;
		feed(r, NOISE, 0, SEC(1), 80, &state);
		feed(r, cases[i].sound, SEC(1), SEC(cases[i].seconds), 80,
		     &state);
		feed(r, NOISE, SEC(1 + cases[i].seconds), SEC(6), 80, &state);
		CHECK_INT(state, RECORDER_SILENCE);
		CHECK_INT(recorder_finish(r, &bytes, &len, &ms),
		          cases[i].heard ? 0 : -ENODATA);
		if (cases[i].heard)
			CHECK(near(ms / 1000.0, 1.0 + cases[i].seconds, 0.1));
		free(bytes);
		recorder_free(r);
	}
}

static void test_empty(void)
{
	struct recorder *r = NULL;
	enum recorder_state state;
	unsigned char *bytes = NULL;
	size_t len = 7;

	CHECK_INT(recorder_new(&r, &recorder_format_mp3, 60, 3), 0);
	if (!r)
		return;
	CHECK_INT(recorder_feed(r, NULL, 0, &state), 0);
	CHECK_INT(state, RECORDER_RUNNING);
	CHECK_INT(recorder_finish(r, &bytes, &len, NULL), -ENODATA);
	CHECK(bytes == NULL);
	CHECK_INT(len, 7);
	/* Finished is finished. */
	CHECK_INT(recorder_finish(r, &bytes, &len, NULL), -EINVAL);
	CHECK_INT(recorder_feed(r, NULL, 0, &state), -EINVAL);
	recorder_free(r);
}

/*
 * Silence at the ends is cut to half a second; a pause between two
 * stretches of speech is kept whole.
 */
static void test_trim(void)
{
	static const struct {
		const char *name;
		double lead, speech1, pause, speech2, tail, want;
	} cases[] = {
	    {"trailing", 0, 1, 0, 0, 2.5, 1.5},
	    {"leading", 3, 1, 0, 0, 0, 1.5},
	    {"both", 4, 1, 0, 0, 1.8, 2.0},
	    {"pause kept", 0, 1, 1.5, 1, 0, 3.5},
	    {"pause and tail", 0.2, 1, 1.5, 1, 2.5, 4.2},
	};
	struct recorder *r;
	enum recorder_state state;
	unsigned char *bytes;
	size_t len, at, i;
	int ms;
	double seconds, rms;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		r = NULL;
		bytes = NULL;
		ms = 0;
		seconds = 0;
		CHECK_INT(recorder_new(&r, NULL, 60, 3), 0);
		if (!r)
			continue;
		at = 0;
		feed(r, NOISE, at, SEC(cases[i].lead), 160, &state);
		at += SEC(cases[i].lead);
		feed(r, VOICE, at, SEC(cases[i].speech1), 160, &state);
		at += SEC(cases[i].speech1);
		feed(r, SILENCE, at, SEC(cases[i].pause), 160, &state);
		at += SEC(cases[i].pause);
		feed(r, VOICE, at, SEC(cases[i].speech2), 160, &state);
		at += SEC(cases[i].speech2);
		feed(r, NOISE, at, SEC(cases[i].tail), 160, &state);
		CHECK_INT(state, RECORDER_RUNNING);
		CHECK_INT(recorder_finish(r, &bytes, &len, &ms), 0);
		recorder_free(r);
		if (!near(ms / 1000.0, cases[i].want, 0.1))
			fprintf(stderr, "trim %s: %d ms, want %.1f s\n",
			        cases[i].name, ms, cases[i].want);
		CHECK(near(ms / 1000.0, cases[i].want, 0.1));
		if (!bytes)
			continue;
		CHECK_INT(decode(bytes, len, recorder_format_opus.sf_format,
		                 &seconds, &rms),
		          0);
		CHECK(near(seconds, cases[i].want, 0.1));
		free(bytes);
	}
}

int main(void)
{
	test_formats();
	test_arguments();
	test_encode(&recorder_format_opus, 160);
	test_encode(&recorder_format_mp3, 160);
	/* One call with everything, and chunks of odd sizes. */
	test_encode(&recorder_format_opus, SEC(3));
	test_encode(&recorder_format_mp3, 1023);
	test_silence_stop(SILENCE, 2);
	test_silence_stop(NOISE, 3);
	test_silence_stop(NOISE, 1);
	test_limit();
	test_only_silence(SILENCE, 2);
	test_only_silence(NOISE, 8);
	test_bursts();
	test_empty();
	test_trim();
	return check_exit("test_recorder");
}
