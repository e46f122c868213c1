/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Speech synthesis for phone prompts: text in, 8 kHz mono 16-bit PCM out,
 * ready for G.711. An engine is a const vtable (flite for English, espeak-ng
 * for the other languages),
 * so callers never include an engine's headers. Engines may end the process
 * on bad input (flite's error path calls exit()): the bridge renders through
 * tts_worker.h, which keeps the engine in helper processes.
 *
 * Ownership: a rendering is malloc'ed by the engine and belongs to the caller,
 * who frees it with free(). Nothing here knows about SIP or the queue.
 */
#ifndef RB_TTS_H
#define RB_TTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every rendering is mono, 16-bit native-endian, at this rate. */
#define TTS_RATE 8000

/*
 * The longest text an engine or worker accepts, in bytes without the NUL.
 * tts_text_prepare() keeps user content well below it; a longer text is
 * refused with -EMSGSIZE rather than shortened, since shortening is the
 * caller's decision (and says so aloud).
 */
#define TTS_TEXT_MAX (16 * 1024)

/*
 * The longest rendering accepted, in samples: five minutes, 4.8 MB. A text
 * of TTS_TEXT_MAX bytes reads in about 15 minutes, so this bound is what
 * stops a pathological text from filling memory; over it, -EFBIG.
 */
#define TTS_PCM_MAX ((size_t)TTS_RATE * 300)

struct tts_engine {
	/* Short name for logs and configuration: "flite". */
	const char *name;
	/* The voices open() accepts, NULL-terminated; the first is the
	 * default, used when open() is given NULL. */
	const char *const *voices;
	/*
	 * Loads VOICE (NULL: the default) and returns the engine's state for
	 * it in *statep. An unknown voice is refused with -EINVAL and a log
	 * line naming the available ones. Call before creating threads if the
	 * engine is to be shared with a forked worker.
	 */
	int (*open)(void **statep, const char *voice);
	/*
	 * Renders UTF-8 TEXT (1..TTS_TEXT_MAX bytes) to TTS_RATE PCM. On
	 * success *pcmp is malloc'ed, non-NULL and the caller's to free(),
	 * and *np > 0. Errors: -EINVAL (empty text), -EMSGSIZE (text too
	 * long), -ENODATA (the engine produced no audio), -EFBIG (over
	 * TTS_PCM_MAX), -ENOMEM, -EIO (the engine failed), -ENOTRECOVERABLE
	 * (the engine failed and its state can no longer be trusted: close it
	 * or, in a worker, end the process). One call at a time per state.
	 */
	int (*render)(void *state, const char *text, int16_t **pcmp,
	              size_t *np);
	/* Releases what open() took. NULL-safe. */
	void (*close)(void *state);
	/*
	 * True when a rendering depends on what the engine rendered before
	 * (espeak-ng's does: the same text twice in one process differs,
	 * about 3 dB SNR apart). tts_worker then renders each text in a
	 * child forked from the renderer, from the state open() left, so a
	 * text always sounds the same (the phrase cache and the tests rely
	 * on it). A fork of a renderer costs well under a millisecond
	 * against tens of milliseconds of synthesis.
	 */
	bool fresh_state;
};

/*
 * flite 2.2 with Debian's US English voices: kal (8 kHz diphone, the
 * default: about 800 times real time and natively at the phone's rate),
 * kal16 (16 kHz diphone), awb, rms and slt (16 kHz, about 85 times real
 * time). 16 kHz renderings are resampled to 8 kHz with flite's own
 * cst_wave_resample(). flite's fatal errors are turned into -ENOTRECOVERABLE
 * instead of exit(), but a crash inside flite still takes the process down.
 */
extern const struct tts_engine tts_engine_flite;

/*
 * espeak-ng 1.51 (Debian's libespeak-ng, GPL-3.0-or-later) with the voices
 * of espeak-ng-data, one per language, named as espeak-ng names them ("de",
 * "fr", "pt", "en-gb", ...; open() accepts any it knows, the list above
 * names the ones ringbridge ships catalogs for; default "en"). Synchronous
 * mode; 22.05 kHz output resampled to 8 kHz with libsoxr. The library holds
 * one voice per process: states share it, render() reloads the state's
 * voice when another was used last.
 */
extern const struct tts_engine tts_engine_espeak;

#endif
