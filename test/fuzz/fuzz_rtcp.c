/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * RTCP from the network (sip-bridge/rtcp.c), as a phone's RTCP port or an
 * rtcp-mux RTP port receives it: any bytes. The parser returns 0 or
 * -EBADMSG and reads nothing outside the datagram; the same bytes go
 * through SRTCP's unprotect (sdes.c, libsrtp2) with a fixed key, as on an
 * SRTP call, and what passes is parsed too. Then the bytes are read as RTP
 * arrivals (SSRC, sequence number, timestamp, arrival time) for the
 * reception statistics, and our report on them must parse back to the
 * same figures.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rtcp.h"
#include "sdes.h"

#define US   0x11111111u
#define PEER 0x22222222u

static struct sdes *srtcp(void)
{
	static struct sdes *s;
	struct sdes_crypto k = {.tag = 1,
	                        .suite = SDES_AES_CM_128_HMAC_SHA1_80};

	if (!s) {
		memset(k.key, 0x5a, sizeof(k.key));
		if (sdes_init() || sdes_new(&s, &k, &k))
			abort();
	}
	return s;
}

static uint32_t get(const uint8_t *p, int n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[RTCP_MAX + SDES_TRAILER_MAX], out[RTCP_OUT_MAX];
	struct rtcp_report r;
	struct rtcp_rx rx = {0};
	struct rtcp_sender snd = {.packets = 7, .octets = 1120, .rtp_ts = 9};
	size_t n, i;
	int rc;

	rc = rtcp_parse(data, size, US, &r);
	if (rc && rc != -EBADMSG)
		abort();
	if (size <= RTCP_MAX) {
		memcpy(buf, data, size);
		n = size;
		if (sdes_unprotect_rtcp(srtcp(), buf, &n) == 0 &&
		    (n > size || (rtcp_parse(buf, n, US, &r) &&
		                  rtcp_parse(buf, n, US, &r) != -EBADMSG)))
			abort();
	}
	/* 9 bytes an arrival: which of two SSRCs, sequence, timestamp, and
	 * the arrival's offset from it. */
	for (i = 0; i + 9 <= size; i += 9) {
		const uint8_t *p = data + i;
		uint32_t ts = get(p + 3, 4);

		rtcp_rx_rtp(&rx, PEER + (p[0] & 1), (uint16_t)get(p + 1, 2), ts,
		            ts + get(p + 7, 2));
	}
	rc = rtcp_build(out, sizeof(out), US, size & 1 ? &snd : NULL, &rx,
	                rtcp_ntp((int64_t)size, 0), "fuzz", size & 2);
	if (rc <= 0 || rtcp_parse(out, (size_t)rc, rx.ssrc, &r) ||
	    r.ssrc != US || r.sr != (size & 1) || r.bye != !!(size & 2) ||
	    r.block != rx.seen)
		abort();
	if (r.block && (r.lost != rtcp_rx_lost(&rx) ||
	                r.ext_max_seq != rx.cycles + rx.max_seq ||
	                r.jitter != rx.jitter >> 4))
		abort();
	return 0;
}
