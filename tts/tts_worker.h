/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Rendering out of harm's way, for an event loop. A worker keeps a speech
 * engine in helper processes, so a text that makes the engine exit, abort,
 * crash or spin ends that one prompt and not the bridge. Requests are queued
 * here and handed to a small pool of long-lived renderers (one per core by
 * default), one request at a time each; results come back as PCM over each
 * renderer's socket, and one file descriptor tells the caller's loop when to
 * collect. No process is created per prompt: a renderer serves prompts until
 * it dies.
 *
 * How it works: tts_worker_new() forks a small supervisor process (call it
 * at start-up, from the main thread, before creating threads: it is the only
 * fork from the caller's process). The supervisor opens the engine, then
 * forks a renderer from itself for each slot of the pool and hands the
 * renderer's end of a fresh socketpair back over SCM_RIGHTS. A renderer that
 * dies, stops answering (a per-request timeout) or breaks the protocol is
 * replaced this way at once, from a single-threaded process with the voice
 * already loaded, while the caller's process never forks again.
 *
 * Failures a callback can see: -EPIPE (the renderer died while rendering
 * this request, or the worker is broken), -ETIMEDOUT (it took longer than
 * the timeout and was killed), -EPROTO (it sent a malformed reply), and any
 * error the engine's render() returns (-EFBIG, -ENODATA, -EIO, ...). Only
 * the request being rendered fails, and it is not retried: a text that
 * kills renderers kills one. Queued requests and those on the other
 * renderers go on.
 *
 * Threads: a worker is used from one thread (the event loop's).
 */
#ifndef RB_TTS_WORKER_H
#define RB_TTS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tts.h"

struct tts_worker;

/* Requests queued or being rendered, at most; tts_worker_submit() refuses
 * more with -EBUSY. Sixty-four prompts are seconds of work for kal. */
#define TTS_WORKER_QUEUE_MAX 64

/* The most voices one worker holds (one per language spoken). */
#define TTS_WORKER_VOICES_MAX 16

/* One voice of a worker: an engine and one of its voices (NULL: the
 * engine's default). */
struct tts_voice {
	const struct tts_engine *engine;
	const char *voice;
};

/* The most renderers a worker runs. */
#define TTS_WORKER_RENDERERS_MAX 8

/* The default time one rendering may take before its renderer is killed.
 * kal renders a 17 s prompt in about 25 ms and slt in about 200 ms. */
#define TTS_WORKER_TIMEOUT_MS 5000

/*
 * Called by tts_worker_collect() once per finished request. On success err
 * is 0 and PCM holds N > 0 samples at TTS_RATE; the buffer is malloc'ed and
 * becomes the callback's: keep it (a cache, a call's playout) or free() it.
 * On failure err is a negative errno value, PCM is NULL and N is 0. The
 * callback may call tts_worker_submit() but not tts_worker_free().
 */
typedef void tts_worker_done_fn(uint64_t id, int err, int16_t *pcm, size_t n,
                                void *arg);

/*
 * Starts a worker rendering with ENGINE's VOICE (NULL: the engine's default)
 * in RENDERERS processes (0: one per online core, at most
 * TTS_WORKER_RENDERERS_MAX) and waits until the voice is loaded and every
 * renderer runs. ENGINE must stay valid (engines are static). Errors:
 * -EINVAL (unknown voice, logged; RENDERERS over the maximum), -ENOMEM, or
 * the errno of a failed fork() or socket call. See above for when to call
 * it.
 */
int tts_worker_new(struct tts_worker **wp, const struct tts_engine *engine,
                   const char *voice, unsigned renderers);

/*
 * The same with N_VOICES voices (1..TTS_WORKER_VOICES_MAX), each opened
 * once in the supervisor before any renderer is forked, so every renderer
 * holds them all and a request names the one it needs
 * (tts_worker_submit_voice()). VOICES[0] must load (its error is returned,
 * as above); a later one that does not is logged by its engine and left
 * out: tts_worker_voice_ready() says which did. VOICES is read in the
 * supervisor's copy of the caller's memory: the caller may free it once
 * this returns.
 */
int tts_worker_new_voices(struct tts_worker **wp,
                          const struct tts_voice *voices, unsigned n_voices,
                          unsigned renderers);

/* Whether voice VOICE (an index into tts_worker_new_voices()'s list) loaded;
 * voice 0 always did in a worker that started. */
bool tts_worker_voice_ready(const struct tts_worker *w, unsigned voice);

/*
 * Stops the helper processes and frees the worker. Requests not yet
 * collected are dropped: their callbacks never run. NULL-safe.
 */
void tts_worker_free(struct tts_worker *w);

/*
 * A descriptor that polls readable when tts_worker_collect() has something to
 * do (a result, a timeout, a replacement renderer). It stays the same for the
 * worker's life; do not read it or close it.
 */
int tts_worker_fd(const struct tts_worker *w);

/*
 * Queues TEXT (UTF-8, 1..TTS_TEXT_MAX bytes, copied) under the caller's ID;
 * the result arrives through tts_worker_collect(). Never blocks. Errors:
 * -EINVAL (empty), -EMSGSIZE (too long), -EBUSY (TTS_WORKER_QUEUE_MAX
 * requests pending), -EPIPE (the worker is broken: its supervisor died),
 * -ENOMEM.
 */
int tts_worker_submit(struct tts_worker *w, uint64_t id, const char *text);

/* tts_worker_submit() with voice VOICE; -ENOENT when that voice did not
 * load (tts_worker_voice_ready()). */
int tts_worker_submit_voice(struct tts_worker *w, uint64_t id, unsigned voice,
                            const char *text);

/*
 * Does the pending socket work without blocking and calls CB for each
 * request that finished, in the order they finished: the order of
 * submission with one renderer, not with several (a short text overtakes a
 * long one). Returns the number of callbacks made.
 */
int tts_worker_collect(struct tts_worker *w, tts_worker_done_fn *cb, void *arg);

/* Requests submitted whose callback has not run yet. */
size_t tts_worker_pending(const struct tts_worker *w);

/* Sets the per-request render timeout (milliseconds, > 0); it applies from
 * the next request sent to a renderer. */
void tts_worker_timeout_set(struct tts_worker *w, int timeout_ms);

/* The number of renderer slots. */
unsigned tts_worker_renderers(const struct tts_worker *w);

/* The process id of the renderer in SLOT (0..tts_worker_renderers() - 1),
 * 0 when none runs there: for diagnostics and tests. It is a child of the
 * supervisor, not of the caller. */
pid_t tts_worker_renderer_pid(const struct tts_worker *w, unsigned slot);

#endif
