/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The flite engine: Debian's flite 2.2 with its five US English voices.
 * open() registers the voice (flite keeps one instance per voice, shared by
 * reference count here), render() runs flite_text_to_wave() and brings the
 * wave to 8 kHz. flite's fatal errors longjmp back to render() through
 * cst_errjmp instead of calling exit(), which flite does when cst_errjmp is
 * NULL.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <cst_diphone.h>
#include <flite.h>

#include "log.h"
#include "tts.h"

/* The voice libraries export these but flite installs no header for them. */
cst_voice *register_cmu_us_kal(const char *voxdir);
void unregister_cmu_us_kal(cst_voice *v);
cst_voice *register_cmu_us_kal16(const char *voxdir);
void unregister_cmu_us_kal16(cst_voice *v);
cst_voice *register_cmu_us_awb(const char *voxdir);
void unregister_cmu_us_awb(cst_voice *v);
cst_voice *register_cmu_us_rms(const char *voxdir);
void unregister_cmu_us_rms(cst_voice *v);
cst_voice *register_cmu_us_slt(const char *voxdir);
void unregister_cmu_us_slt(cst_voice *v);

/*
 * kal keeps its diphones' residuals G.721-coded (895 kB) and flite decodes
 * every pitch period it uses afresh on every rendering (add_residual_g721):
 * over half of a kal prompt's CPU (perf of bench_tts). So the voice's whole
 * residual database is decoded once when it opens, with flite's own
 * decoder (1.6 MB; in the speech supervisor, before the renderers fork, so
 * they share the pages), and the voice is pointed at a copy of its diphone
 * database whose periods are those decoded bytes with no codec: flite then
 * copies each period as it does for uncompressed voices. Same bytes in,
 * so the same samples out (test_tts compares them with flite's own).
 * Decoding all 18,950 periods costs about 240 ms once, at open (the
 * decoding of some twenty prompts), against 10-15 ms of CPU saved per prompt.
 */
struct flite_unpacked {
	cst_diphone_db db; /* the voice's, with .sts = &list */
	cst_sts_list list; /* the voice's, with .sts = sts and no codec */
	cst_sts *sts;
	unsigned char *res;
	const cst_val *orig; /* the voice's own diphone_db value, kept */
};

struct flite_voice {
	const char *name;
	cst_voice *(*reg)(const char *voxdir);
	void (*unreg)(cst_voice *v);
	/* register_cmu_us_X() returns the same instance every time and
	 * unregister frees it, so opens are counted. */
	int refs;
	cst_voice *voice;
	struct flite_unpacked *unpacked; /* NULL: the voice as flite has it */
};

static struct flite_voice flite_voices[] = {
    {"kal", register_cmu_us_kal, unregister_cmu_us_kal, 0, NULL, NULL},
    {"kal16", register_cmu_us_kal16, unregister_cmu_us_kal16, 0, NULL, NULL},
    {"awb", register_cmu_us_awb, unregister_cmu_us_awb, 0, NULL, NULL},
    {"rms", register_cmu_us_rms, unregister_cmu_us_rms, 0, NULL, NULL},
    {"slt", register_cmu_us_slt, unregister_cmu_us_slt, 0, NULL, NULL},
};

#define FLITE_VOICE_COUNT (sizeof(flite_voices) / sizeof(flite_voices[0]))

static const char *const flite_voice_names[] = {
    "kal", "kal16", "awb", "rms", "slt", NULL,
};

/*
 * One lock for the voice table and for rendering: cst_errjmp is a single
 * global, so two renders at once in one process would catch each other's
 * errors. The bridge renders in a worker process one text at a time, so the
 * lock costs nothing there.
 */
static pthread_mutex_t flite_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t flite_once = PTHREAD_ONCE_INIT;

static void flite_init_once(void)
{
	flite_init();
}

static void flite_unpacked_free(struct flite_unpacked *u)
{
	if (!u)
		return;
	free(u->sts);
	free(u->res);
	free(u);
}

/* U's decoded residuals: period I is get_frame_size() samples, decoded
 * from get_sts_residual()'s (size + CST_G721_LEADIN + 1) / 2 bytes, of
 * which flite uses those after the lead-in (add_residual_g721). */
static int flite_unpack_periods(struct flite_unpacked *u,
                                const cst_sts_list *sl)
{
	size_t total = 0, off = 0;

	for (int i = 0; i < sl->num_sts; i++) {
		int size = get_frame_size(sl, i);

		if (size <= 0)
			return -EPROTO;
		total += (size_t)size;
	}
	u->sts = calloc((size_t)sl->num_sts, sizeof(*u->sts));
	u->res = malloc(total);
	if (!u->sts || !u->res)
		return -ENOMEM;
	for (int i = 0; i < sl->num_sts; i++) {
		int size = get_frame_size(sl, i), got = 0;
		unsigned char *dec =
		    cst_g721_decode(&got, (size + CST_G721_LEADIN + 1) / 2,
		                    get_sts_residual(sl, i));
		/* cst_sts's members are const: written once, whole. */
		cst_sts one = {get_sts_frame(sl, i), size, u->res + off};

		if (!dec || got < size + CST_G721_LEADIN) {
			cst_free(dec);
			return -EPROTO;
		}
		memcpy(u->res + off, dec + CST_G721_LEADIN, (size_t)size);
		cst_free(dec);
		memcpy(&u->sts[i], &one, sizeof(one));
		off += (size_t)size;
	}
	return 0;
}

/* FV's voice with its residuals decoded (above), when they are G.721;
 * any other voice, or one this cannot unpack, stays as it is. */
static void flite_unpack(struct flite_voice *fv)
{
	const cst_val *orig = feat_val(fv->voice->features, "diphone_db");
	const cst_diphone_db *db = orig ? val_diphone_db(orig) : NULL;
	const cst_sts_list *sl = db ? db->sts : NULL;
	struct flite_unpacked *u;
	int err;

	if (!sl || !sl->codec || strcmp(sl->codec, "g721") || sl->num_sts <= 0)
		return;
	u = calloc(1, sizeof(*u));
	if (!u)
		return;
	err = flite_unpack_periods(u, sl);
	if (err) {
		log_warn("tts",
		         "flite: voice %s: its residuals could not be decoded "
		         "ahead (%s): it renders as flite has it, more slowly",
		         fv->name, strerror(-err));
		flite_unpacked_free(u);
		return;
	}
	u->list = *sl;
	u->list.sts = u->sts;
	u->list.sts_paged = NULL;
	u->list.codec = NULL; /* flite's default: plain u-law periods */
	u->db = *db;
	u->db.sts = &u->list;
	u->orig = val_inc_refcount(orig);
	feat_set(fv->voice->features, "diphone_db", diphone_db_val(&u->db));
	fv->unpacked = u;
}

/* Gives FV's voice its own diphone database back (before unregistering). */
static void flite_unpack_undo(struct flite_voice *fv)
{
	struct flite_unpacked *u = fv->unpacked;

	if (!u)
		return;
	feat_set(fv->voice->features, "diphone_db", u->orig);
	delete_val((cst_val *)u->orig);
	flite_unpacked_free(u);
	fv->unpacked = NULL;
}

static int flite_open(void **statep, const char *name)
{
	struct flite_voice *fv = NULL;
	int err = 0;

	*statep = NULL;
	if (!name)
		name = flite_voice_names[0];
	for (size_t i = 0; i < FLITE_VOICE_COUNT; i++) {
		if (!strcmp(flite_voices[i].name, name)) {
			fv = &flite_voices[i];
			break;
		}
	}
	if (!fv) {
		log_err(
		    "tts",
		    "flite: unknown voice \"%s\"; available: kal (default), "
		    "kal16, awb, rms, slt",
		    name);
		return -EINVAL;
	}

	pthread_once(&flite_once, flite_init_once);
	pthread_mutex_lock(&flite_lock);
	if (!fv->refs) {
		fv->voice = fv->reg(NULL);
		if (!fv->voice) {
			log_err("tts", "flite: voice %s failed to load",
			        fv->name);
			err = -EIO;
			goto out;
		}
		flite_unpack(fv);
	}
	fv->refs++;
	*statep = fv;
out:
	pthread_mutex_unlock(&flite_lock);
	return err;
}

static void flite_close(void *state)
{
	struct flite_voice *fv = state;

	if (!fv)
		return;
	pthread_mutex_lock(&flite_lock);
	if (fv->refs > 0 && --fv->refs == 0) {
		flite_unpack_undo(fv);
		fv->unreg(fv->voice);
		fv->voice = NULL;
	}
	pthread_mutex_unlock(&flite_lock);
}

/*
 * Runs flite with cst_errjmp armed. Kept apart from the copying so that no
 * local of the caller lives across setjmp(). On a longjmp the utterance
 * flite was building is leaked and its globals may be half-updated, hence
 * -ENOTRECOVERABLE.
 */
static int flite_synth(cst_voice *voice, const char *text, cst_wave **wavep)
{
	cst_wave *wave;
	jmp_buf env;

	*wavep = NULL;
	cst_errjmp = &env;
	if (setjmp(env)) {
		/* Whatever flite was working on is abandoned, not freed. */
		cst_errjmp = NULL;
		*wavep = NULL;
		return -ENOTRECOVERABLE;
	}
	wave = flite_text_to_wave(text, voice);
	*wavep = wave;
	if (wave && cst_wave_sample_rate(wave) != TTS_RATE &&
	    cst_wave_num_samples(wave) > 0) {
		/*
		 * cst_wave_resample() delays the signal by its filter's
		 * half-length (about 75 samples from 16 kHz) and appends 2048
		 * samples of filter tail. Keeping the first n * 8000 / rate
		 * samples gives the true duration; what it drops is the end
		 * of the trailing pause every flite utterance has.
		 */
		size_t want = (size_t)cst_wave_num_samples(wave) * TTS_RATE /
		              (size_t)cst_wave_sample_rate(wave);
		/*
		 * The rate converter moves the tail of its input block to the
		 * front with memcpy(); when the last block is shorter than
		 * the filter, source and destination overlap (undefined, and
		 * fatal under AddressSanitizer). Its blocks are 162 taps times
		 * down/up samples (324 from 16 kHz): padding the wave with
		 * silence to whole blocks keeps every copy apart. The padding
		 * lies past WANT.
		 */
		int block = 162 * (cst_wave_sample_rate(wave) / 1000) /
		            (TTS_RATE / 1000);
		int n = cst_wave_num_samples(wave);

		if (block > 0 && n % block)
			cst_wave_resize(wave, n + block - n % block, 1);
		cst_wave_resample(wave, TTS_RATE);
		if ((size_t)cst_wave_num_samples(wave) > want)
			cst_wave_set_num_samples(wave, (int)want);
	}
	cst_errjmp = NULL;
	return 0;
}

static int flite_render(void *state, const char *text, int16_t **pcmp,
                        size_t *np)
{
	struct flite_voice *fv = state;
	cst_wave *wave = NULL;
	int16_t *pcm = NULL;
	size_t len = strlen(text), n = 0;
	int err;

	*pcmp = NULL;
	*np = 0;
	if (!len)
		return -EINVAL;
	if (len > TTS_TEXT_MAX)
		return -EMSGSIZE;

	pthread_mutex_lock(&flite_lock);
	err = flite_synth(fv->voice, text, &wave);
	pthread_mutex_unlock(&flite_lock);
	if (err) {
		/* flite has printed its reason to stderr already. */
		log_err("tts", "flite: synthesis failed with voice %s",
		        fv->name);
		goto out;
	}
	if (!wave || cst_wave_num_channels(wave) != 1 ||
	    cst_wave_sample_rate(wave) != TTS_RATE) {
		log_err("tts", "flite: unexpected wave from voice %s",
		        fv->name);
		err = -EIO;
		goto out;
	}
	n = (size_t)cst_wave_num_samples(wave);
	if (!n) {
		err = -ENODATA;
		goto out;
	}
	if (n > TTS_PCM_MAX) {
		err = -EFBIG;
		goto out;
	}
	pcm = malloc(n * sizeof(*pcm));
	if (!pcm) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(pcm, cst_wave_samples(wave), n * sizeof(*pcm));
	*pcmp = pcm;
	*np = n;
out:
	if (wave)
		delete_wave(wave);
	return err;
}

const struct tts_engine tts_engine_flite = {
    .name = "flite",
    .voices = flite_voice_names,
    .open = flite_open,
    .render = flite_render,
    .close = flite_close,
};
