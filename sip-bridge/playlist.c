/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A call's playout list (playlist.h): pieces of 8 kHz PCM, or a generated
 * beep (spandsp's tone generator), read out in order. The end of each
 * piece is reported as it passes, so that HEARD is written the moment the
 * message text has played rather than when the call ends.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/tone_generate.h>

#include "playlist.h"

/* The beep before recording: 1 kHz for 300 ms. */
#define BEEP_SAMPLES 2400

void playlist_init(struct playlist *pl)
{
	memset(pl, 0, sizeof(*pl));
}

void playlist_fini(struct playlist *pl)
{
	if (pl->tone)
		tone_gen_free(pl->tone);
	playlist_init(pl);
}

void playlist_clear(struct playlist *pl)
{
	/* A beep cut short keeps its generator, which the next beep goes
	 * on from: as before the list became an object. */
	memset(pl->pieces, 0, sizeof(pl->pieces));
	pl->n = pl->cur = 0;
	pl->pos = 0;
}

int playlist_add(struct playlist *pl, const int16_t *pcm, size_t n,
                 int heard_seq, bool verify)
{
	struct piece *p;

	if (pl->n >= PLAYLIST_MAX)
		return -ENOSPC;
	p = &pl->pieces[pl->n++];
	p->pcm = pcm;
	p->n = n;
	p->heard_seq = heard_seq;
	p->verify = verify;
	return 0;
}

int playlist_add_beep(struct playlist *pl)
{
	if (pl->n >= PLAYLIST_MAX)
		return -ENOSPC;
	pl->pieces[pl->n].beep = true;
	pl->pieces[pl->n].n = BEEP_SAMPLES;
	pl->n++;
	return 0;
}

/* K samples of the beep; silence if spandsp cannot make it. */
static void beep(struct playlist *pl, int16_t *pcm, size_t k)
{
	if (!pl->tone) {
		tone_gen_descriptor_t *d = tone_gen_descriptor_init(
		    NULL, 1000, -10, 0, 0, 300, 0, 0, 0, 0);

		pl->tone = tone_gen_init(NULL, d);
		tone_gen_descriptor_free(d);
	}
	if (!pl->tone || tone_gen(pl->tone, pcm, (int)k) != (int)k)
		memset(pcm, 0, k * sizeof(*pcm));
}

size_t playlist_read(struct playlist *pl, int16_t *pcm, size_t n,
                     playlist_end_cb end, void *arg)
{
	size_t o = 0;

	while (o < n && pl->cur < pl->n) {
		struct piece *p = &pl->pieces[pl->cur];
		size_t k = p->n - pl->pos;

		if (k > n - o)
			k = n - o;
		if (p->beep)
			beep(pl, pcm + o, k);
		else if (p->pcm)
			memcpy(pcm + o, p->pcm + pl->pos, k * sizeof(*pcm));
		else
			memset(pcm + o, 0, k * sizeof(*pcm));
		o += k;
		pl->pos += k;
		if (pl->pos >= p->n) {
			struct piece done = *p;

			if (p->beep && pl->tone) {
				tone_gen_free(pl->tone);
				pl->tone = NULL;
			}
			pl->cur++;
			pl->pos = 0;
			end(arg, &done, pl->cur >= pl->n);
		}
	}
	return o;
}
