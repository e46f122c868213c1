/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The speech-text normaliser (tts/tts_text.c) that every message body goes
 * through before synthesis: any bytes as the body, with a bound taken from
 * the first byte. The result is valid UTF-8 without control characters and
 * within the bound (plus the "shortened" notice).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tts_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in, *out = NULL;
	int max;

	if (size < 1)
		return 0;
	max = 1 + data[0] * 4;
	in = malloc(size);
	if (!in)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = 0;
	if (tts_text_prepare(in, max, &out) == 0) {
		for (const unsigned char *p = (const unsigned char *)out; *p;
		     p++)
			if (*p < 0x20)
				abort();
		free(out);
	}
	free(in);
	return 0;
}
