/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The espeak-ng engine: Debian's libespeak-ng in synchronous mode (no
 * thread of its own, so a process that initialised it can still fork), its
 * 22.05 kHz output collected through the synthesis callback and brought to
 * 8 kHz by libsoxr's one-shot resampler (a kept library's band-limited
 * filter, not one of ours). espeak-ng keeps one voice and one callback per
 * process: states are counted opens of that one library, and render()
 * switches the voice when the state's differs from the current one (a
 * dictionary load, about a millisecond). The bridge renders in
 * tts_worker's renderer processes, so the per-process library is
 * initialised once in the supervisor and copied into every renderer.
 *
 * Debian's build (USE_ASYNC) starts an idle queue thread in
 * espeak_Initialize() even in synchronous mode. Synchronous synthesis never
 * uses it, so a renderer forked without it synthesises as well; but
 * espeak_Terminate() waits for that thread (it hung here in test_tts), so
 * the library is initialised once per process and never terminated: the
 * process's end frees it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/speak_lib.h>
#include <soxr.h>

#include "log.h"
#include "tts.h"

struct espeak_voice {
	char name[32];
};

/* The synthesis of one render(), filled by the callback. */
struct espeak_take {
	int16_t *pcm;
	size_t n, cap, max;
	bool oom, too_long;
};

static const char *const espeak_voice_names[] = {
    "en", "de", "fr", "es", "it", "nl", "pt", NULL,
};

/* The library's one state: its rate, the voice it has loaded, how many
 * open states share it. One render at a time, as for flite. */
static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int espeak_refs;
static int espeak_rate; /* > 0 once initialised, in this process or the
                         * one it was forked from */
static char espeak_loaded[32];

static int espeak_collect(short *wav, int numsamples, espeak_EVENT *events)
{
	struct espeak_take *t = events ? events->user_data : NULL;

	if (!t || !wav || numsamples <= 0)
		return 0;
	if (t->n + (size_t)numsamples > t->max) {
		/* Over the bound: 1 stops the synthesis. */
		t->too_long = true;
		return 1;
	}
	if (t->n + (size_t)numsamples > t->cap) {
		size_t cap = t->cap ? t->cap : 32768;
		int16_t *p;

		while (cap < t->n + (size_t)numsamples)
			cap *= 2;
		p = realloc(t->pcm, cap * sizeof(*p));
		if (!p) {
			t->oom = true;
			return 1;
		}
		t->pcm = p;
		t->cap = cap;
	}
	memcpy(t->pcm + t->n, wav, (size_t)numsamples * sizeof(*wav));
	t->n += (size_t)numsamples;
	return 0;
}

/* Loads NAME unless it is the one loaded. Under espeak_lock. */
static int espeak_voice_load(const char *name)
{
	if (!strcmp(espeak_loaded, name))
		return 0;
	if (espeak_SetVoiceByName(name) != EE_OK) {
		espeak_loaded[0] = '\0';
		return -EINVAL;
	}
	snprintf(espeak_loaded, sizeof(espeak_loaded), "%s", name);
	return 0;
}

static int espeak_open(void **statep, const char *name)
{
	struct espeak_voice *v;
	int err = 0;

	*statep = NULL;
	if (!name)
		name = espeak_voice_names[0];
	if (strlen(name) >= sizeof(v->name)) {
		log_err("tts", "espeak-ng: voice name \"%s\" is too long",
		        name);
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	snprintf(v->name, sizeof(v->name), "%s", name);

	pthread_mutex_lock(&espeak_lock);
	if (espeak_rate <= 0) {
		/* DONT_EXIT: a missing data directory is an error returned,
		 * not the library ending the process. */
		espeak_rate =
		    espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL,
		                      espeakINITIALIZE_DONT_EXIT);
		if (espeak_rate <= 0) {
			log_err("tts", "espeak-ng: the library failed to "
			               "initialise (is espeak-ng-data "
			               "installed?)");
			err = -EIO;
			goto out;
		}
		espeak_SetSynthCallback(espeak_collect);
		espeak_loaded[0] = '\0';
	}
	err = espeak_voice_load(v->name);
	if (err) {
		log_err(
		    "tts",
		    "espeak-ng: no voice \"%s\" (espeak-ng-data has a voice "
		    "per language: en, de, fr, es, it, nl, pt, ...)",
		    v->name);
		goto out;
	}
	espeak_refs++;
	*statep = v;
	v = NULL;
out:
	pthread_mutex_unlock(&espeak_lock);
	free(v);
	return err;
}

static void espeak_close(void *state)
{
	if (!state)
		return;
	pthread_mutex_lock(&espeak_lock);
	/* No espeak_Terminate(): see the top of the file. */
	if (espeak_refs > 0)
		espeak_refs--;
	pthread_mutex_unlock(&espeak_lock);
	free(state);
}

/* Resamples the take to TTS_RATE into *PCMP (malloc'ed) with soxr's
 * high-quality filter. */
static int espeak_resample(const struct espeak_take *t, int rate,
                           int16_t **pcmp, size_t *np)
{
	soxr_io_spec_t io = soxr_io_spec(SOXR_INT16_I, SOXR_INT16_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	size_t cap = t->n * TTS_RATE / (size_t)rate + 64, done = 0;
	int16_t *out = malloc(cap * sizeof(*out));
	soxr_error_t e;

	if (!out)
		return -ENOMEM;
	e = soxr_oneshot(rate, TTS_RATE, 1, t->pcm, t->n, NULL, out, cap, &done,
	                 &io, &q, NULL);
	if (e || !done) {
		log_err("tts", "espeak-ng: resampling to %d Hz failed: %s",
		        TTS_RATE, e ? e : "no output");
		free(out);
		return -EIO;
	}
	*pcmp = out;
	*np = done;
	return 0;
}

static int espeak_render(void *state, const char *text, int16_t **pcmp,
                         size_t *np)
{
	struct espeak_voice *v = state;
	struct espeak_take t = {0};
	size_t len = strlen(text);
	espeak_ERROR e;
	int err, rate;

	*pcmp = NULL;
	*np = 0;
	if (!len)
		return -EINVAL;
	if (len > TTS_TEXT_MAX)
		return -EMSGSIZE;

	pthread_mutex_lock(&espeak_lock);
	rate = espeak_rate;
	t.max = TTS_PCM_MAX * (size_t)rate / TTS_RATE;
	err = espeak_voice_load(v->name);
	if (!err) {
		/* espeak-ng draws its noise from rand(): a fixed seed per
		 * rendering keeps a text's samples the same whatever else in
		 * the process used rand() (flite does). */
		srand(1);
		e = espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0,
		                 espeakCHARS_UTF8, NULL, &t);
		if (e != EE_OK && !t.too_long && !t.oom)
			err = -EIO;
	}
	pthread_mutex_unlock(&espeak_lock);

	if (err == -EINVAL) {
		log_err("tts", "espeak-ng: voice %s could not be loaded",
		        v->name);
		err = -ENOTRECOVERABLE;
	} else if (err) {
		log_err("tts", "espeak-ng: synthesis failed with voice %s",
		        v->name);
	} else if (t.oom) {
		err = -ENOMEM;
	} else if (t.too_long) {
		err = -EFBIG;
	} else if (!t.n) {
		err = -ENODATA;
	} else {
		err = espeak_resample(&t, rate, pcmp, np);
	}
	free(t.pcm);
	return err;
}

const struct tts_engine tts_engine_espeak = {
    .name = "espeak-ng",
    .voices = espeak_voice_names,
    .open = espeak_open,
    .render = espeak_render,
    .close = espeak_close,
    .fresh_state = true,
};
