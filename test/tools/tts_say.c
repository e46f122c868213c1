/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A test tool: renders TEXT with the engine and voice the bridge uses and
 * writes the 8 kHz 16-bit little-endian PCM to stdout, so an integration
 * test can compare what the phone received with what was synthesised.
 * VOICE is a flite voice ("kal"), or "espeak:NAME" for an espeak-ng voice
 * ("espeak:de"), as the bridge speaks every language but English.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tts.h"

int main(int argc, char **argv)
{
	const struct tts_engine *e = &tts_engine_flite;
	const char *voice;
	void *st = NULL;
	int16_t *pcm = NULL;
	size_t n = 0;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: sip_tts_say VOICE|espeak:VOICE TEXT\n");
		return 2;
	}
	voice = argv[1];
	if (!strncmp(voice, "espeak:", 7)) {
		e = &tts_engine_espeak;
		voice += 7;
	}
	err = e->open(&st, voice);
	if (!err)
		err = e->render(st, argv[2], &pcm, &n);
	if (!err && fwrite(pcm, sizeof(*pcm), n, stdout) != n)
		err = -1;
	free(pcm);
	e->close(st);
	return err ? 1 : 0;
}
