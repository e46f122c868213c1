/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * RFC 4733 telephone-event payloads (dtmf/dtmf.c): the input is a series of
 * packets, each a 1-byte length, a 4-byte RTP timestamp, a 2-byte sequence
 * number and the payload, run through one receiver as a call would. The
 * receiver must stay within its bounds (DTMF_EVENT_PAYLOAD_MAX, the flood
 * limit) whatever arrives, and the counters must add up.
 */
#include <stdlib.h>

#include "dtmf.h"
#include "fuzz.h"

static void on_key(char key, enum dtmf_source src, int64_t now_ms, void *arg)
{
	size_t *n = arg;

	(void)key;
	(void)src;
	(void)now_ms;
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dtmf_keys *k = NULL;
	struct dtmf_keys_stats st;
	size_t keys = 0, i = 0;
	int64_t now = 0;

	if (dtmf_keys_new(&k, on_key, &keys))
		return 0;
	while (i + 7 <= size) {
		size_t len = data[i];
		uint32_t ts = (uint32_t)data[i + 1] << 24 |
		              (uint32_t)data[i + 2] << 16 |
		              (uint32_t)data[i + 3] << 8 | data[i + 4];
		uint16_t seq = (uint16_t)(data[i + 5] << 8 | data[i + 6]);

		i += 7;
		if (len > size - i)
			len = size - i;
		dtmf_keys_event(k, data + i, len, ts, seq, now);
		i += len;
		now += 20;
	}
	dtmf_keys_stats_get(k, &st);
	if (st.presses != keys)
		abort();
	dtmf_keys_free(k);
	return 0;
}
