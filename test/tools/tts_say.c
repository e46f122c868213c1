/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A test tool: renders TEXT with the engine and voice the bridge uses and
 * writes the 8 kHz 16-bit little-endian PCM to stdout, so an integration
 * test can compare what the phone received with what was synthesised.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tts.h"

int main(int argc, char **argv)
{
	void *st = NULL;
	int16_t *pcm = NULL;
	size_t n = 0;
	int err;

	if (argc != 3) {
		fprintf(stderr, "usage: sip_tts_say VOICE TEXT\n");
		return 2;
	}
	err = tts_engine_flite.open(&st, argv[1]);
	if (!err)
		err = tts_engine_flite.render(st, argv[2], &pcm, &n);
	if (!err && fwrite(pcm, sizeof(*pcm), n, stdout) != n)
		err = -1;
	free(pcm);
	tts_engine_flite.close(st);
	return err ? 1 : 0;
}
