/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One a=crypto value from the network (sip-bridge/sdes.c), as the SDP of
 * a callee's answer or an offer in the call carries it: any bytes. The
 * parse returns 0, -EBADMSG or -ENOTSUP with a reason; a value it accepts
 * is written back by our own writer and reads back the same (tag, suite,
 * key); a refused one leaves no key behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sdes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdes_crypto c, back;
	const char *why = NULL;
	char line[SDES_VALUE_MAX];
	int rc, n;

	rc = sdes_crypto_parse((const char *)data, size, &c, &why);
	if (rc && rc != -EBADMSG && rc != -ENOTSUP)
		abort();
	if (rc) {
		if (!why || c.suite != SDES_SUITE_NONE || c.tag != 0)
			abort();
		return 0;
	}
	if (why || (c.suite != SDES_AES_CM_128_HMAC_SHA1_80 &&
	            c.suite != SDES_AES_CM_128_HMAC_SHA1_32))
		abort();
	n = sdes_crypto_format(line, sizeof(line), &c);
	/* "a=crypto:" ... "\r\n" around the value. */
	if (n < 11 ||
	    sdes_crypto_parse(line + 9, (size_t)n - 11, &back, &why) ||
	    back.tag != c.tag || back.suite != c.suite ||
	    memcmp(back.key, c.key, SDES_KEY_LEN))
		abort();
	return 0;
}
