/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The fixed phrases of a call (the menu, confirmations, "message
 * shortened"), rendered once and kept as PCM keyed by their exact text. One
 * cache per voice. Entries are never evicted: the phrases are a small set
 * known at start-up, and a never-evicted entry lets every call play it by
 * pointer with no reference counting on the media path. The bound protects
 * against a caller that would cache variable text: past it, put() refuses
 * and the caller plays its rendering uncached.
 *
 * Threads: the cache is not locked. Fill it at start-up; once filled,
 * concurrent get()s are safe (they only read).
 */
#ifndef RB_TTS_CACHE_H
#define RB_TTS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "tts_worker.h"

struct tts_cache;

/* A default bound: about six minutes of 8 kHz speech. */
#define TTS_CACHE_DEFAULT_BYTES (6u * 1024 * 1024)

/* A cache holding at most MAX_BYTES of PCM and text (> 0). */
int tts_cache_new(struct tts_cache **cp, size_t max_bytes);

/* Frees every entry; pointers from tts_cache_get() die with it. NULL-safe. */
void tts_cache_free(struct tts_cache *c);

/*
 * Looks TEXT up. On a hit (0) *pcmp points into the cache, valid until
 * tts_cache_free(): the caller must not free or change it. -ENOENT on a
 * miss.
 */
int tts_cache_get(const struct tts_cache *c, const char *text,
                  const int16_t **pcmp, size_t *np);

/*
 * Stores PCM (N > 0 samples, malloc'ed) under TEXT (copied). On success the
 * cache owns PCM; on error the caller still does. Errors: -EINVAL, -EEXIST
 * (TEXT is cached already: use that one), -ENOSPC (over the bound), -ENOMEM.
 */
int tts_cache_put(struct tts_cache *c, const char *text, int16_t *pcm,
                  size_t n);

/*
 * Renders through W each of the COUNT TEXTS not cached yet and stores them,
 * waiting until all are done (each is bounded by the worker's timeout). For
 * start-up: W must have nothing pending (-EBUSY otherwise), since this
 * collects W's results itself. Returns 0 or the first error met (a failed
 * rendering, -ENOSPC); the phrases that did render are cached either way.
 */
int tts_cache_warm(struct tts_cache *c, struct tts_worker *w,
                   const char *const *texts, size_t count);
/* The same in W's voice VOICE (tts_worker_submit_voice()). */
int tts_cache_warm_voice(struct tts_cache *c, struct tts_worker *w,
                         unsigned voice, const char *const *texts,
                         size_t count);

/* Entries and bytes held. */
size_t tts_cache_count(const struct tts_cache *c);
size_t tts_cache_bytes(const struct tts_cache *c);

#endif
