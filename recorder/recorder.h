/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The recorder turns a caller's spoken reply (8 kHz 16-bit mono PCM, as it
 * comes off the phone line) into the bytes of an Ogg/Opus or MP3 file, in
 * memory, ready to travel inside a queue event. It stops itself after a
 * stretch of silence or at a length limit, and trims the silence at both
 * ends. It knows nothing of SIP, RTP or the queue: the bridge feeds it
 * samples and asks for the bytes at the end.
 *
 * Ownership: a recorder belongs to one caller at a time (no locking inside).
 * recorder_feed encodes as it goes: about 0.15 ms of CPU per 20 ms frame for
 * Opus (libsndfile runs libopus at complexity 10), 0.02 ms for MP3, and
 * recorder_finish about 2 ms (test/bench/bench_recorder.c). A few recordings
 * at once fit on the event loop; past that, feed them from a worker thread.
 */
#ifndef RB_RECORDER_H
#define RB_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include <sndfile.h>

/* The only input the recorder takes: the telephone's own rate and width. */
#define RECORDER_SAMPLE_RATE 8000

/* Bounds on recorder_new's arguments, so that a setting cannot ask for an
 * hour of audio in memory: 10 minutes of Opus is about 1.2 MB. */
#define RECORDER_MAX_SECONDS_LIMIT 600

/*
 * With no speech at all, recording stops after
 * max(silence_seconds, RECORDER_LEAD_SECONDS): someone who has just heard
 * the beep needs a moment to start talking, even when the pause allowed
 * between sentences is short.
 */
#define RECORDER_LEAD_SECONDS 5

/*
 * How much silence is kept before the first word and after the last one.
 * Half a second keeps soft word onsets and endings (which sit below the
 * detector's threshold) and still sounds like a clean cut.
 */
#define RECORDER_KEEP_MS 500

enum recorder_state {
	/* Still listening: feed more samples. */
	RECORDER_RUNNING = 0,
	/* silence_seconds of silence after speech, or no speech at all for
	 * max(silence_seconds, RECORDER_LEAD_SECONDS) from the start. */
	RECORDER_SILENCE = 1,
	/* max_seconds of input reached. */
	RECORDER_LIMIT = 2,
};

/*
 * A recording format: one container and codec that libsndfile writes, and
 * what a chat client needs to know to play the result. The two formats are
 * recorder_format_opus (the default) and recorder_format_mp3.
 */
struct recorder_format {
	/* Short name used in settings and logs: "opus" or "mp3". */
	const char *name;
	/* Media type for the upload and the attachment's metadata. */
	const char *mime_type;
	/* File name extension, dot included, for the uploaded file's name
	 * (clients guess the type from it, not from the media type). */
	const char *extension;
	/* libsndfile's SF_FORMAT_* container and codec bits; the recorder
	 * adds nothing (Opus and MP3 carry no sample-width bits). */
	int sf_format;
	/* Sets the codec's options (bitrate, bitrate mode) on a freshly
	 * opened encoder, before the first sample is written. Returns 0 or
	 * a negative errno value. */
	int (*tune)(SNDFILE *sf);
};

extern const struct recorder_format recorder_format_opus;
extern const struct recorder_format recorder_format_mp3;

/* Returns the format called name ("opus", "mp3"; case-insensitive), or
 * NULL for an unknown name. The result is static: never freed. */
const struct recorder_format *recorder_format_by_name(const char *name);

struct recorder;

/*
 * Creates a recorder that encodes to fmt (NULL: Opus), accepts at most
 * max_seconds (1..RECORDER_MAX_SECONDS_LIMIT) of input and stops after
 * silence_seconds (1..max_seconds) of silence following speech. On success
 * *rp owns a recorder to release with recorder_free. Returns 0, -EINVAL for
 * arguments out of range, -ENOMEM, or -EIO when libsndfile refuses the
 * format.
 */
int recorder_new(struct recorder **rp, const struct recorder_format *fmt,
                 int max_seconds, int silence_seconds);

/*
 * Takes n samples of 8 kHz mono PCM and sets *state. Once *state is not
 * RECORDER_RUNNING the recording is over: the samples after the exact point
 * where it ended, and those of any later call, are dropped. Returns 0, or
 * -EINVAL (NULL arguments, or called after recorder_finish), -ENOMEM, -EIO
 * (the encoder failed; the recording is lost), -EFBIG (the output grew past
 * its bound, which a working encoder never reaches).
 */
int recorder_feed(struct recorder *r, const int16_t *pcm, size_t n,
                  enum recorder_state *state);

/*
 * Ends the recording: keeps RECORDER_KEEP_MS of the trailing silence,
 * flushes the encoder and hands over the file. On success *bytes is a
 * malloc'd buffer of *len bytes that the caller owns (free()), and
 * *duration_ms (may be NULL) the length of the audio in it. Returns 0,
 * -ENODATA when no speech was heard (nothing fed, or only silence and line
 * noise: the caller reports "no reply" rather than sending noise), -EINVAL
 * when called twice, -EIO or -EFBIG as recorder_feed. On failure *bytes and
 * *len are left alone. Call recorder_free afterwards in every case.
 */
int recorder_finish(struct recorder *r, unsigned char **bytes, size_t *len,
                    int *duration_ms);

/* Releases the recorder and anything not yet handed over; NULL is fine. */
void recorder_free(struct recorder *r);

#endif
