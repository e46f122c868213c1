/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PIDF/RPID and dialog-info documents (sip-bridge/pidf.c over libxml2):
 * any bytes as the body of a NOTIFY, read both ways. Input limits (size,
 * depth, elements, dialogs, no DTD) must hold for whatever arrives.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "pidf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum pidf_avail a;
	struct dialoginfo di;
	char *note = NULL;

	if (pidf_parse((const char *)data, size, &a, &note) == 0)
		free(note);
	dialoginfo_parse((const char *)data, size, &di);
	if (di.n > DIALOGINFO_MAX_DIALOGS)
		abort();
	return 0;
}
