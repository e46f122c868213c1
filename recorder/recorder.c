/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A recording in progress: samples go through spandsp's power meter, which
 * tells speech from silence, and then into a libsndfile encoder that writes
 * through virtual I/O into a growing memory buffer (no temporary files).
 * Samples heard since the last speech are held back unencoded, so that
 * silence can still be trimmed when the recording ends, or encoded as a
 * pause when the caller speaks again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/power_meter.h>

#include "log.h"
#include "recorder.h"

#define TAG "recorder"

/*
 * Silence detection. The meter is a one-pole IIR over the squared samples;
 * a shift of 6 gives a time constant of 64 samples (8 ms), long enough to
 * smooth over one pitch period of most voices, short enough that the end of
 * speech is seen within about 50 ms (a fall of 26 dB takes 6 time
 * constants), well inside the ±0.1 s that a stop should land in.
 *
 * Levels: talk on a telephone line averages about -20 dBm0 (ITU-T P.56's
 * nominal active speech level of -26 dBov, plus the 6 dB between the two
 * scales), with quiet syllables 15 to 20 dB lower. An idle G.711 line
 * carries -60 to -70 dBm0 of noise, a mobile phone in the street about
 * -50. Speech starts at -40 dBm0, 20 dB under the average talker and 10 dB
 * over a noisy street; it ends only below -46 dBm0, so that noise or a
 * voice hovering at the threshold does not flap between the two.
 */
#define METER_SHIFT     6
#define SPEECH_ON_DBM0  -40.0f
#define SPEECH_OFF_DBM0 -46.0f

/*
 * A burst (a run of samples over the threshold, with the hysteresis above)
 * is speech once 120 ms of it reach the upper threshold; from then on all of
 * it counts, to its end. The meter's decay adds a tail to every sound (37 ms
 * from -20 to -40 dBm0, 74 ms from a 0 dBm0 knock), so a knock on the
 * handset or a click on the line stays under 120 ms, while a stressed
 * syllable (100 to 200 ms of vowel) passes.
 */
#define SPEECH_MIN_MS 120

/* Samples examined per step of recorder_feed: bounds what the held buffer
 * can grow by between two flushes, whatever the size of one call. */
#define FEED_BLOCK 1024

/*
 * The output's bound: 64 kbit/s (MPEG-2.5's highest bitrate, four times
 * the Opus target) plus room for headers. A working encoder stays far
 * below; the bound only keeps a broken one from eating the host's memory.
 */
#define OUT_BYTES_PER_SECOND 8000
#define OUT_HEADER_BYTES     65536
#define OUT_FIRST_CAP        16384

#define MS_TO_SAMPLES(ms) ((size_t)(ms)*RECORDER_SAMPLE_RATE / 1000)

/* The file being written: libsndfile's virtual I/O works on this. */
struct recorder_out {
	unsigned char *data;
	size_t len; /* bytes written so far (the end of the file) */
	size_t cap; /* bytes allocated */
	size_t pos; /* libsndfile's file position */
	size_t max; /* the bound above, for this recording's length */
	int err;    /* first failure of a write: -ENOMEM or -EFBIG */
};

struct recorder {
	const struct recorder_format *fmt;
	SNDFILE *sf;
	struct recorder_out out;

	power_meter_t meter;
	int32_t on_level;  /* power_meter reading of SPEECH_ON_DBM0 */
	int32_t off_level; /* and of SPEECH_OFF_DBM0 */
	bool voiced;       /* in a burst: over the threshold, with hysteresis */
	size_t voiced_run; /* samples in the current burst */
	size_t loud_run;   /* of which at or over SPEECH_ON_DBM0 */
	bool burst_speech; /* the current burst is speech */
	bool heard;        /* some speech was heard */
	size_t onset;      /* where the first speech began */
	size_t speech_end; /* one past the last sample of speech */

	size_t max_samples;     /* input cap: max_seconds */
	size_t silence_samples; /* silence after speech that ends it */
	size_t lead_samples;    /* silence with no speech that ends it */
	size_t fed;             /* samples taken so far */

	/* Samples taken but not encoded: [held_start, fed). */
	int16_t *held;
	size_t held_len;
	size_t held_cap;
	size_t held_start;
	size_t encoded; /* samples given to the encoder */

	enum recorder_state state;
	int err; /* sticky: once the encoder fails, the recording is lost */
	bool finished;
};

static sf_count_t out_get_filelen(void *user)
{
	struct recorder_out *o = user;

	return (sf_count_t)o->len;
}

static sf_count_t out_seek(sf_count_t offset, int whence, void *user)
{
	struct recorder_out *o = user;
	sf_count_t base;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = (sf_count_t)o->pos;
		break;
	case SEEK_END:
		base = (sf_count_t)o->len;
		break;
	default:
		return -1;
	}
	if (offset < -base || base + offset > (sf_count_t)o->max)
		return -1;
	o->pos = (size_t)(base + offset);
	return (sf_count_t)o->pos;
}

static sf_count_t out_read(void *ptr, sf_count_t count, void *user)
{
	struct recorder_out *o = user;
	size_t n;

	if (count <= 0 || o->pos >= o->len)
		return 0;
	n = o->len - o->pos;
	if ((sf_count_t)n > count)
		n = (size_t)count;
	memcpy(ptr, o->data + o->pos, n);
	o->pos += n;
	return (sf_count_t)n;
}

static sf_count_t out_write(const void *ptr, sf_count_t count, void *user)
{
	struct recorder_out *o = user;
	size_t n, end, cap;
	unsigned char *p;

	if (count <= 0)
		return 0;
	n = (size_t)count;
	if (n > o->max || o->pos > o->max - n) {
		if (!o->err)
			o->err = -EFBIG;
		return 0;
	}
	end = o->pos + n;
	if (end > o->cap) {
		cap = o->cap ? o->cap : OUT_FIRST_CAP;
		while (cap < end)
			cap *= 2;
		if (cap > o->max)
			cap = o->max;
		p = realloc(o->data, cap);
		if (!p) {
			if (!o->err)
				o->err = -ENOMEM;
			return 0;
		}
		o->data = p;
		o->cap = cap;
	}
	/* A seek past the end leaves a gap that reads as zeros. */
	if (o->pos > o->len)
		memset(o->data + o->len, 0, o->pos - o->len);
	memcpy(o->data + o->pos, ptr, n);
	o->pos = end;
	if (end > o->len)
		o->len = end;
	return count;
}

static sf_count_t out_tell(void *user)
{
	struct recorder_out *o = user;

	return (sf_count_t)o->pos;
}

static SF_VIRTUAL_IO out_io = {
    .get_filelen = out_get_filelen,
    .seek = out_seek,
    .read = out_read,
    .write = out_write,
    .tell = out_tell,
};

/* Gives n held samples, from the front, to the encoder. */
static int recorder_encode(struct recorder *r, size_t n)
{
	sf_count_t done;

	if (!n)
		return 0;
	done = sf_write_short(r->sf, r->held, (sf_count_t)n);
	if (r->out.err)
		return r->out.err;
	if (done != (sf_count_t)n) {
		log_err(TAG, "%s: encoder wrote %lld of %zu samples: %s",
		        r->fmt->name, (long long)done, n, sf_strerror(r->sf));
		return -EIO;
	}
	r->encoded += n;
	return 0;
}

/* Drops n held samples from the front. */
static void recorder_held_drop(struct recorder *r, size_t n)
{
	if (n < r->held_len)
		memmove(r->held, r->held + n,
		        (r->held_len - n) * sizeof *r->held);
	r->held_len -= n;
	r->held_start += n;
}

static int recorder_held_add(struct recorder *r, const int16_t *pcm, size_t n)
{
	size_t cap;
	int16_t *p;

	if (r->held_len + n > r->held_cap) {
		cap = r->held_cap ? r->held_cap : FEED_BLOCK;
		while (cap < r->held_len + n)
			cap *= 2;
		p = realloc(r->held, cap * sizeof *p);
		if (!p)
			return -ENOMEM;
		r->held = p;
		r->held_cap = cap;
	}
	memcpy(r->held + r->held_len, pcm, n * sizeof *pcm);
	r->held_len += n;
	return 0;
}

/*
 * Encodes the held samples up to the end of the last speech. Before the
 * first word, only the last RECORDER_KEEP_MS of the silence is kept: until
 * then nothing older than that before the current burst can ever be needed,
 * so the held buffer stays small during a long wait for the first word.
 */
static int recorder_held_flush(struct recorder *r)
{
	size_t keep = MS_TO_SAMPLES(RECORDER_KEEP_MS);
	size_t lookback = keep + r->voiced_run;
	size_t n;
	int err;

	if (!r->heard) {
		if (r->held_len > lookback)
			recorder_held_drop(r, r->held_len - lookback);
		return 0;
	}
	if (r->speech_end <= r->held_start)
		return 0;
	if (!r->encoded && r->onset > keep && r->onset - keep > r->held_start)
		recorder_held_drop(r, r->onset - keep - r->held_start);
	n = r->speech_end - r->held_start;
	err = recorder_encode(r, n);
	if (err)
		return err;
	recorder_held_drop(r, n);
	return 0;
}

/*
 * Runs the detector over up to n samples and returns how many it took: all
 * of them, or those up to and including the one that ended the recording.
 */
static size_t recorder_detect(struct recorder *r, const int16_t *pcm, size_t n)
{
	size_t speech_min = MS_TO_SAMPLES(SPEECH_MIN_MS);
	size_t i, pos;
	int32_t level;

	for (i = 0; i < n; i++) {
		level = power_meter_update(&r->meter, pcm[i]);
		if (level >= r->on_level)
			r->voiced = true;
		else if (level < r->off_level)
			r->voiced = false;
		if (r->voiced) {
			r->voiced_run++;
			if (level >= r->on_level)
				r->loud_run++;
		} else {
			r->voiced_run = r->loud_run = 0;
			r->burst_speech = false;
		}

		pos = r->fed + i + 1;
		if (r->loud_run >= speech_min && !r->burst_speech) {
			r->burst_speech = true;
			if (!r->heard) {
				r->heard = true;
				r->onset = pos - r->voiced_run;
			}
		}
		if (r->burst_speech)
			r->speech_end = pos;

		if (pos >= r->max_samples)
			r->state = RECORDER_LIMIT;
		else if (r->heard && pos - r->speech_end >= r->silence_samples)
			r->state = RECORDER_SILENCE;
		else if (!r->heard && pos >= r->lead_samples)
			r->state = RECORDER_SILENCE;
		if (r->state != RECORDER_RUNNING)
			return i + 1;
	}
	return n;
}

int recorder_new(struct recorder **rp, const struct recorder_format *fmt,
                 int max_seconds, int silence_seconds)
{
	struct recorder *r = NULL;
	SF_INFO info = {0};
	int lead, err;

	if (!rp || max_seconds < 1 ||
	    max_seconds > RECORDER_MAX_SECONDS_LIMIT || silence_seconds < 1 ||
	    silence_seconds > max_seconds)
		return -EINVAL;
	if (!fmt)
		fmt = &recorder_format_opus;

	r = calloc(1, sizeof *r);
	if (!r) {
		err = -ENOMEM;
		goto out;
	}
	r->fmt = fmt;
	r->max_samples = MS_TO_SAMPLES(max_seconds * 1000);
	r->silence_samples = MS_TO_SAMPLES(silence_seconds * 1000);
	lead = silence_seconds > RECORDER_LEAD_SECONDS ? silence_seconds
	                                               : RECORDER_LEAD_SECONDS;
	r->lead_samples = MS_TO_SAMPLES(lead * 1000);
	r->out.max =
	    OUT_HEADER_BYTES + (size_t)max_seconds * OUT_BYTES_PER_SECOND;

	power_meter_init(&r->meter, METER_SHIFT);
	r->on_level = power_meter_level_dbm0(SPEECH_ON_DBM0);
	r->off_level = power_meter_level_dbm0(SPEECH_OFF_DBM0);

	info.samplerate = RECORDER_SAMPLE_RATE;
	info.channels = 1;
	info.format = fmt->sf_format;
	r->sf = sf_open_virtual(&out_io, SFM_WRITE, &info, &r->out);
	if (!r->sf) {
		log_err(TAG, "%s: libsndfile cannot write it: %s", fmt->name,
		        sf_strerror(NULL));
		err = r->out.err ? r->out.err : -EIO;
		goto out;
	}
	err = fmt->tune ? fmt->tune(r->sf) : 0;
	if (err)
		goto out;

	*rp = r;
	r = NULL;
out:
	recorder_free(r);
	return err;
}

int recorder_feed(struct recorder *r, const int16_t *pcm, size_t n,
                  enum recorder_state *state)
{
	size_t block, took;
	int err = 0;

	if (!r || !state || (!pcm && n) || r->finished)
		return -EINVAL;
	if (r->err) {
		err = r->err;
		goto out;
	}
	while (n && r->state == RECORDER_RUNNING) {
		block = n < FEED_BLOCK ? n : FEED_BLOCK;
		took = recorder_detect(r, pcm, block);
		err = recorder_held_add(r, pcm, took);
		if (err)
			break;
		r->fed += took;
		err = recorder_held_flush(r);
		if (err)
			break;
		pcm += took;
		n -= took;
	}
	if (err)
		r->err = err;
out:
	*state = r->state;
	return err;
}

int recorder_finish(struct recorder *r, unsigned char **bytes, size_t *len,
                    int *duration_ms)
{
	size_t keep = MS_TO_SAMPLES(RECORDER_KEEP_MS);
	int err;

	if (!r || !bytes || !len || r->finished)
		return -EINVAL;
	r->finished = true;
	err = r->err;
	if (err)
		goto out;
	if (!r->heard) {
		err = -ENODATA;
		goto out;
	}
	/* Everything held now is silence after the last word. */
	err = recorder_encode(r, r->held_len < keep ? r->held_len : keep);
	if (err)
		goto out;
	if (sf_close(r->sf)) {
		log_err(TAG, "%s: closing the encoder failed", r->fmt->name);
		err = r->out.err ? r->out.err : -EIO;
	}
	r->sf = NULL;
	if (!err && r->out.err)
		err = r->out.err;
	if (err)
		goto out;

	*bytes = r->out.data;
	*len = r->out.len;
	if (duration_ms)
		*duration_ms = (int)(r->encoded * 1000 / RECORDER_SAMPLE_RATE);
	r->out.data = NULL;
	r->out.len = r->out.cap = 0;
out:
	return err;
}

void recorder_free(struct recorder *r)
{
	if (!r)
		return;
	if (r->sf)
		sf_close(r->sf);
	free(r->out.data);
	free(r->held);
	free(r);
}
