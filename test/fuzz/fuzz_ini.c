/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The INI configuration (common/config.c over libinih): any bytes as the
 * file. Either it loads, or config_load() refuses it with a message; it
 * must never crash, leak or read past what it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "fuzz_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	struct config *cfg;

	if (size > 64 * 1024)
		return 0;
	text = fuzz_string(data, size);
	if (!text)
		return 0;
	cfg = fuzz_config_load(text);
	config_free(cfg);
	free(text);
	return 0;
}
