/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * RTCP's packets and statistics (rtcp.h). The reception statistics follow
 * RFC 3550 appendix A.1 (sequence numbers, with its dropout and misorder
 * bounds but without the probation: the stream is the one the answer
 * negotiated and rtp.c checked its source), A.3 (loss) and A.8 (jitter).
 */
#include <errno.h>
#include <string.h>

#include "rtcp.h"

enum {
	PT_SR = 200,
	PT_RR = 201,
	PT_SDES = 202,
	PT_BYE = 203,
};

#define MAX_DROPOUT  3000
#define MAX_MISORDER 100
#define SEQ_MOD      (1u << 16)
/* A transit time that changes by more than 10 s of 8 kHz is a timestamp
 * jump (a new talk spurt of a broken phone, a restarted stream), not
 * jitter: it is left out of the estimate rather than ruin it. */
#define JITTER_JUMP (8000u * 10)

static void rx_init(struct rtcp_rx *rx, uint32_t ssrc, uint16_t seq)
{
	memset(rx, 0, sizeof(*rx));
	rx->seen = true;
	rx->ssrc = ssrc;
	rx->base_seq = seq;
	rx->max_seq = seq;
	rx->bad_seq = SEQ_MOD + 1;
}

/* A new stream (a new SSRC, or a jump two packets agree on); the phone's
 * last SR still counts: the SSRCs of RTP and RTCP need not change
 * together. */
static void rx_restart(struct rtcp_rx *rx, uint32_t ssrc, uint16_t seq)
{
	uint32_t lsr = rx->lsr, lsr_arrival = rx->lsr_arrival;

	rx_init(rx, ssrc, seq);
	rx->lsr = lsr;
	rx->lsr_arrival = lsr_arrival;
}

void rtcp_rx_rtp(struct rtcp_rx *rx, uint32_t ssrc, uint16_t seq, uint32_t ts,
                 uint32_t arrival)
{
	uint16_t udelta;
	uint32_t transit, d;
	bool first = false;

	if (!rx->seen || rx->ssrc != ssrc) {
		rx_restart(rx, ssrc, seq);
		first = true;
	} else {
		udelta = (uint16_t)(seq - rx->max_seq);
		if (udelta < MAX_DROPOUT) {
			if (seq < rx->max_seq)
				rx->cycles += SEQ_MOD;
			rx->max_seq = seq;
		} else if (udelta <= SEQ_MOD - MAX_MISORDER) {
			/* A big jump: believed once two packets agree. */
			if (seq != rx->bad_seq) {
				rx->bad_seq =
				    (uint32_t)(seq + 1) & (SEQ_MOD - 1);
				return;
			}
			rx_restart(rx, ssrc, seq);
			first = true;
		}
		/* else a duplicate or a late packet: counted, no max. */
	}
	rx->received++;
	transit = arrival - ts;
	if (!first) {
		d = transit - rx->transit;
		if (d & 0x80000000u)
			d = -d;
		if (d <= JITTER_JUMP)
			rx->jitter += d - ((rx->jitter + 8) >> 4);
	}
	rx->transit = transit;
}

static uint32_t ext_max(const struct rtcp_rx *rx)
{
	return rx->cycles + rx->max_seq;
}

uint32_t rtcp_rx_expected(const struct rtcp_rx *rx)
{
	return rx->seen ? ext_max(rx) - rx->base_seq + 1 : 0;
}

int32_t rtcp_rx_lost(const struct rtcp_rx *rx)
{
	int64_t lost = (int64_t)rtcp_rx_expected(rx) - rx->received;

	/* 24 bits, signed, in the report block. */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	return (int32_t)lost;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return p + 4;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* A packet's first word: version 2, COUNT, TYPE, and its length in 32-bit
 * words minus one. */
static uint8_t *put_head(uint8_t *p, unsigned count, unsigned type,
                         size_t bytes)
{
	p[0] = (uint8_t)(0x80 | count);
	p[1] = (uint8_t)type;
	p[2] = (uint8_t)((bytes / 4 - 1) >> 8);
	p[3] = (uint8_t)(bytes / 4 - 1);
	return p + 4;
}

static uint8_t *put_block(uint8_t *p, struct rtcp_rx *rx, uint32_t ntp_mid)
{
	uint32_t expected = rtcp_rx_expected(rx);
	uint32_t exp_int = expected - rx->expected_prior;
	uint32_t rec_int = rx->received - rx->received_prior;
	int64_t lost_int = (int64_t)exp_int - rec_int;
	uint32_t fraction = 0;

	rx->expected_prior = expected;
	rx->received_prior = rx->received;
	if (exp_int && lost_int > 0)
		fraction = (uint32_t)((lost_int << 8) / exp_int);
	if (fraction > 255)
		fraction = 255;
	p = put32(p, rx->ssrc);
	p = put32(p, fraction << 24 | ((uint32_t)rtcp_rx_lost(rx) & 0xffffff));
	p = put32(p, ext_max(rx));
	p = put32(p, rx->jitter >> 4);
	p = put32(p, rx->lsr);
	/* The delay since the phone's SR, in 1/65536 s. */
	return put32(p, rx->lsr ? ntp_mid - rx->lsr_arrival : 0);
}

int rtcp_build(uint8_t *out, size_t cap, uint32_t ssrc,
               const struct rtcp_sender *snd, struct rtcp_rx *rx, uint64_t ntp,
               const char *cname, bool bye)
{
	uint32_t ntp_mid = (uint32_t)(ntp >> 16);
	size_t cn = cname ? strnlen(cname, RTCP_CNAME_MAX) : 0;
	unsigned blocks = rx && rx->seen ? 1 : 0;
	size_t report = (snd ? 28 : 8) + 24 * blocks;
	/* SDES: header, SSRC, CNAME item (type, length, text), then at
	 * least one zero octet ending the chunk, padded to a word. */
	size_t sdes = (4 + 4 + 2 + cn + 1 + 3) & ~(size_t)3;
	size_t total = report + sdes + (bye ? 8 : 0);
	uint8_t *p = out;

	if (cap < total || total > RTCP_OUT_MAX)
		return -ENOSPC;
	memset(out, 0, total);
	p = put_head(p, blocks, snd ? PT_SR : PT_RR, report);
	p = put32(p, ssrc);
	if (snd) {
		p = put32(p, (uint32_t)(ntp >> 32));
		p = put32(p, (uint32_t)ntp);
		p = put32(p, snd->rtp_ts);
		p = put32(p, snd->packets);
		p = put32(p, snd->octets);
	}
	if (blocks)
		p = put_block(p, rx, ntp_mid);
	p = put_head(p, 1, PT_SDES, sdes);
	p = put32(p, ssrc);
	p[0] = 1; /* CNAME */
	p[1] = (uint8_t)cn;
	if (cn)
		memcpy(p + 2, cname, cn);
	p = out + report + sdes; /* the rest of the chunk is zeros */
	if (bye) {
		p = put_head(p, 1, PT_BYE, 8);
		p = put32(p, ssrc);
	}
	return (int)(p - out);
}

bool rtcp_is(const uint8_t *p, size_t len)
{
	return len >= 8 && (p[0] >> 6) == 2 && p[1] >= 192 && p[1] <= 223;
}

/* The report blocks of an SR or RR (COUNT of them at P, within END). */
static void read_blocks(const uint8_t *p, unsigned count, uint32_t our_ssrc,
                        struct rtcp_report *out)
{
	unsigned i;

	for (i = 0; i < count; i++, p += 24) {
		uint32_t w = get32(p + 4);

		if (get32(p) != our_ssrc || out->block)
			continue;
		out->block = true;
		out->fraction_lost = (uint8_t)(w >> 24);
		/* 24-bit two's complement. */
		out->lost = (int32_t)(w & 0xffffff);
		if (out->lost & 0x800000)
			out->lost -= 0x1000000;
		out->ext_max_seq = get32(p + 8);
		out->jitter = get32(p + 12);
		out->lsr = get32(p + 16);
		out->dlsr = get32(p + 20);
	}
}

int rtcp_parse(const uint8_t *p, size_t len, uint32_t our_ssrc,
               struct rtcp_report *out)
{
	size_t off = 0;
	bool first = true;

	memset(out, 0, sizeof(*out));
	if (len < 8 || len > RTCP_MAX || len % 4)
		return -EBADMSG;
	/* A.2 wants an SR or RR first; a packet without (RFC 5506's reduced
	 * size, or baresip's lone APP packets) is read for what it holds.
	 * Every packet's SSRC comes first. */
	out->ssrc = get32(p + 4);
	while (off < len) {
		const uint8_t *h = p + off;
		unsigned count = h[0] & 0x1f, type = h[1];
		size_t plen, body;

		if (len - off < 4 || (h[0] >> 6) != 2)
			return -EBADMSG;
		plen = ((size_t)(h[2] << 8 | h[3]) + 1) * 4;
		if (plen > len - off)
			return -EBADMSG;
		body = plen;
		if (h[0] & 0x20) {
			/* Padding: only in the last packet, its count in the
			 * last octet. */
			if (off + plen != len || h[plen - 1] == 0 ||
			    h[plen - 1] > plen - 4)
				return -EBADMSG;
			body = plen - h[plen - 1];
		}
		if (type == PT_SR || type == PT_RR) {
			size_t fixed = type == PT_SR ? 28 : 8;

			if (body < fixed + 24 * (size_t)count)
				return -EBADMSG;
			if (first && type == PT_SR) {
				out->sr = true;
				out->sr_ntp_mid = get32(h + 10);
				out->sr_packets = get32(h + 20);
			}
			read_blocks(h + fixed, count, our_ssrc, out);
		} else if (type == PT_BYE) {
			unsigned i;

			if (body < 4 + 4 * (size_t)count)
				return -EBADMSG;
			for (i = 0; i < count; i++)
				if (get32(h + 4 + 4 * i) == out->ssrc)
					out->bye = true;
		}
		/* SDES, APP, XR and feedback: not used here. */
		first = false;
		off += plen;
	}
	return 0;
}

double rtcp_rtt_ms(uint32_t arrival_mid, uint32_t lsr, uint32_t dlsr)
{
	uint32_t rtt;

	if (!lsr)
		return -1;
	rtt = arrival_mid - lsr - dlsr;
	/* Rounding of the two clocks' readings can make a loopback round
	 * trip a unit below zero; more than that, or over a minute, is a
	 * block that does not answer our SR. */
	if (rtt & 0x80000000u)
		return -rtt <= 66 ? 0 : -1;
	if (rtt > 60u * 65536)
		return -1;
	return rtt * 1000.0 / 65536;
}

uint64_t rtcp_ntp(int64_t sec, long nsec)
{
	return (uint64_t)(sec + 2208988800LL) << 32 |
	       (((uint64_t)nsec << 32) / 1000000000u);
}
