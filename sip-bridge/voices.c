/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * voices.h: the table from catalog language to worker voice and cache. The
 * espeak-ng voice names are espeak-ng's own language names; a row here is
 * all a new language needs beside its po/LANG.po (docs/translating.md).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "log.h"
#include "prompts.h"
#include "tts.h"
#include "tts_cache.h"
#include "tts_worker.h"
#include "voices.h"

#define TAG "voices"

/* Tags already reported as spoken in English; more are not reported one by
 * one (an operator has seen the point by then). */
#define VOICES_WARN_MAX 32

/* The espeak-ng voice of each catalog language. European Portuguese for
 * "pt", as the catalog is written. */
static const struct {
	const char *lang, *voice;
} espeak_voices[] = {
    {"de", "de"}, {"fr", "fr"}, {"es", "es"},
    {"it", "it"}, {"nl", "nl"}, {"pt", "pt"},
};

struct voices {
	unsigned n;
	const char *lang[TTS_WORKER_VOICES_MAX]; /* by worker voice index */
	bool ready[TTS_WORKER_VOICES_MAX];
	struct tts_cache *cache[TTS_WORKER_VOICES_MAX];
	char warned[VOICES_WARN_MAX][16];
	unsigned n_warned;
};

static const char *espeak_voice_of(const char *lang)
{
	for (size_t i = 0; i < sizeof(espeak_voices) / sizeof(espeak_voices[0]);
	     i++) {
		if (!strcmp(espeak_voices[i].lang, lang))
			return espeak_voices[i].voice;
	}
	return NULL;
}

/* Renders voice I's fixed phrases, in its language, into its cache. */
static int voices_warm(struct voices *v, struct tts_worker *w, unsigned i)
{
	const char *texts[64];
	const char *const *fixed;
	size_t count;
	int err;

	fixed = prompt_fixed_all(&count);
	if (count > sizeof(texts) / sizeof(texts[0]))
		return -E2BIG;
	for (size_t k = 0; k < count; k++)
		texts[k] = i18n_text(v->lang[i], fixed[k]);
	err = tts_cache_new(&v->cache[i], TTS_CACHE_DEFAULT_BYTES);
	if (!err)
		err = tts_cache_warm_voice(v->cache[i], w, i, texts, count);
	return err;
}

int voices_new(struct voices **vp, struct tts_worker **wp,
               const char *flite_voice, unsigned renderers)
{
	struct tts_voice spec[TTS_WORKER_VOICES_MAX];
	const char *const *langs = i18n_langs();
	struct voices *v;
	int err;

	*vp = NULL;
	*wp = NULL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	spec[0].engine = &tts_engine_flite;
	spec[0].voice = flite_voice;
	v->lang[0] = I18N_DEFAULT;
	v->n = 1;
	for (size_t i = 0; langs[i] && v->n < TTS_WORKER_VOICES_MAX; i++) {
		const char *voice = espeak_voice_of(langs[i]);

		if (!strcmp(langs[i], I18N_DEFAULT))
			continue;
		if (!voice) {
			log_warn(TAG,
			         "language %s has a catalog but no voice: its "
			         "calls are spoken in English",
			         langs[i]);
			continue;
		}
		spec[v->n].engine = &tts_engine_espeak;
		spec[v->n].voice = voice;
		v->lang[v->n] = langs[i];
		v->n++;
	}
	err = tts_worker_new_voices(wp, spec, v->n, renderers);
	if (err)
		goto out;
	for (unsigned i = 0; i < v->n; i++) {
		v->ready[i] = tts_worker_voice_ready(*wp, i);
		if (!v->ready[i]) {
			log_warn(TAG,
			         "no %s voice (%s %s did not load): calls in "
			         "%s are spoken in English",
			         v->lang[i], spec[i].engine->name,
			         spec[i].voice, v->lang[i]);
			continue;
		}
		err = voices_warm(v, *wp, i);
		if (err && i == 0)
			goto out;
		if (err) {
			log_warn(TAG,
			         "the %s phrases did not render (%s): calls in "
			         "%s are spoken in English",
			         v->lang[i], strerror(-err), v->lang[i]);
			v->ready[i] = false;
			err = 0;
		}
	}
	*vp = v;
	v = NULL;
out:
	if (err) {
		log_err(TAG, "cannot start the speech worker: %s",
		        strerror(-err));
		tts_worker_free(*wp);
		*wp = NULL;
	}
	voices_free(v);
	return err;
}

void voices_free(struct voices *v)
{
	if (!v)
		return;
	for (unsigned i = 0; i < v->n; i++)
		tts_cache_free(v->cache[i]);
	free(v);
}

/* Logs once per TAG that it is spoken in English. */
static void voices_fallback_log(struct voices *v, const char *tag,
                                const char *why)
{
	for (unsigned i = 0; i < v->n_warned; i++) {
		if (!strcmp(v->warned[i], tag))
			return;
	}
	if (v->n_warned == VOICES_WARN_MAX)
		return;
	snprintf(v->warned[v->n_warned], sizeof(v->warned[0]), "%s", tag);
	v->n_warned++;
	log_warn(TAG,
	         "language \"%s\" has %s: its calls are spoken in English "
	         "(docs/translating.md says how to add a language)",
	         v->warned[v->n_warned - 1], why);
}

unsigned voices_pick(struct voices *v, const char *tag, const char **langp)
{
	const char *lang = i18n_lang_pick(tag);

	*langp = I18N_DEFAULT;
	if (!lang) {
		voices_fallback_log(v, tag, "no catalog");
		return 0;
	}
	for (unsigned i = 0; i < v->n; i++) {
		if (strcmp(v->lang[i], lang))
			continue;
		if (!v->ready[i]) {
			voices_fallback_log(v, lang, "no voice");
			return 0;
		}
		*langp = v->lang[i];
		return i;
	}
	if (strcmp(lang, I18N_DEFAULT))
		voices_fallback_log(v, lang, "no voice");
	return 0;
}

const struct tts_cache *voices_cache(const struct voices *v, unsigned voice)
{
	return voice < v->n && v->cache[voice] ? v->cache[voice] : v->cache[0];
}

unsigned voices_count(const struct voices *v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < v->n; i++)
		n += v->ready[i] ? 1 : 0;
	return n;
}
