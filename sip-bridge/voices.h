/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The languages the bridge speaks: one voice per language with a catalog
 * (English on flite with [tts] voice, as before; every other language on
 * its espeak-ng voice), all held by one speech worker, and the fixed
 * phrases of each rendered once into a cache of that voice. A call asks
 * voices_pick() for its callee's language and gets the voice to render
 * with and the language its texts must be in: a language without a catalog
 * or without a voice is spoken in English, which the log says once per
 * language.
 */
#ifndef RB_SIP_VOICES_H
#define RB_SIP_VOICES_H

#include <stddef.h>
#include <stdint.h>

struct voices;
struct tts_worker;
struct tts_cache;

/*
 * Starts the speech worker (*WP, the caller's to free after voices_free())
 * with FLITE_VOICE for English (NULL: flite's default) and an espeak-ng
 * voice for every other shipped catalog, in RENDERERS processes (0: one per
 * core), then renders every fixed phrase in every language that loaded. A
 * language whose voice did not load is logged and left out. Forks: call it
 * before threads start (tts_worker.h). Errors: those of tts_worker_new()
 * and tts_cache_warm() for English; -ENOMEM.
 */
int voices_new(struct voices **vp, struct tts_worker **wp,
               const char *flite_voice, unsigned renderers);
/* Frees the caches (pointers from voices_cache() die). NULL-safe. */
void voices_free(struct voices *v);

/*
 * The voice for a callee's language TAG (BCP 47; NULL: English). Returns
 * the worker's voice index and sets *LANGP to the language the call's
 * texts are to be in (static): TAG's catalog language, or "en" when TAG has
 * no catalog or no voice, logged the first time each such TAG is seen.
 */
unsigned voices_pick(struct voices *v, const char *tag, const char **langp);

/* The cache of voice VOICE's fixed phrases, keyed by their text in that
 * voice's language. */
const struct tts_cache *voices_cache(const struct voices *v, unsigned voice);

/* The number of languages that have a voice. */
unsigned voices_count(const struct voices *v);

#endif
