/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for RTCP (sip-bridge/rtcp.c): the reception statistics over
 * in-order, lost, duplicated, wrapping and jumping sequence numbers and a
 * known jitter; our compound packets read back by the parser as the phone
 * would; the parser's refusals (RFC 3550 A.2); the round trip and NTP
 * arithmetic.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "rtcp.h"

#define US   0x11111111u /* our SSRC */
#define PEER 0x22222222u /* the phone's */

/* N packets from SEQ on, 20 ms apart, each arriving OFFSET(i) after its
 * time. */
static void feed(struct rtcp_rx *rx, uint16_t seq, int n, uint32_t ssrc,
                 int jitter_step)
{
	int i;

	for (i = 0; i < n; i++) {
		uint32_t ts = 1000u + (uint32_t)(uint16_t)(seq + i) * 160u;
		uint32_t arrival = ts + 5000u + (i % 2 ? jitter_step : 0);

		rtcp_rx_rtp(rx, ssrc, (uint16_t)(seq + i), ts, arrival);
	}
}

static void test_stats(void)
{
	struct rtcp_rx rx = {0};
	int i;

	CHECK(rtcp_rx_expected(&rx) == 0 && rtcp_rx_lost(&rx) == 0);
	feed(&rx, 100, 100, PEER, 0);
	CHECK(rx.received == 100 && rtcp_rx_expected(&rx) == 100);
	CHECK(rtcp_rx_lost(&rx) == 0 && rx.jitter == 0);
	/* Five lost. */
	feed(&rx, 205, 10, PEER, 0);
	CHECK(rtcp_rx_expected(&rx) == 115 && rtcp_rx_lost(&rx) == 5);
	/* A duplicate and a late packet count as received, not as max. */
	rtcp_rx_rtp(&rx, PEER, 214, 0, 0);
	rtcp_rx_rtp(&rx, PEER, 201, 0, 0);
	CHECK(rx.max_seq == 214 && rtcp_rx_lost(&rx) == 3);

	/* Across the wrap of the 16-bit sequence number. */
	memset(&rx, 0, sizeof(rx));
	feed(&rx, 65530, 20, PEER, 0);
	CHECK(rx.cycles == 1u << 16 && rx.max_seq == 13);
	CHECK(rtcp_rx_expected(&rx) == 20 && rtcp_rx_lost(&rx) == 0);

	/* A jump beyond the dropout bound is believed once two packets in
	 * a row agree: the stream starts again there. */
	memset(&rx, 0, sizeof(rx));
	feed(&rx, 10, 10, PEER, 0);
	rtcp_rx_rtp(&rx, PEER, 30000, 0, 0);
	CHECK(rx.received == 10 && rx.max_seq == 19);
	rtcp_rx_rtp(&rx, PEER, 30001, 0, 0);
	CHECK(rx.received == 1 && rx.base_seq == 30001 && rx.max_seq == 30001);

	/* A new SSRC starts again; the phone's last SR is kept. */
	rx.lsr = 77;
	rx.lsr_arrival = 78;
	feed(&rx, 5, 3, PEER + 1, 0);
	CHECK(rx.ssrc == PEER + 1 && rx.received == 3 && rx.lsr == 77 &&
	      rx.lsr_arrival == 78);

	/* Every other packet 80 units (10 ms) late: A.8's estimate goes to
	 * 80. */
	memset(&rx, 0, sizeof(rx));
	feed(&rx, 0, 2000, PEER, 80);
	CHECK((rx.jitter >> 4) >= 78 && (rx.jitter >> 4) <= 80);
	/* A timestamp jump of minutes is not jitter. */
	i = (int)(rx.jitter >> 4);
	rtcp_rx_rtp(&rx, PEER, 2000, 123, 999999999u);
	CHECK((int)(rx.jitter >> 4) == i);
}

static void test_build_parse(void)
{
	struct rtcp_rx rx = {0};
	struct rtcp_sender snd = {
	    .packets = 250, .octets = 40000, .rtp_ts = 0xdeadbeef};
	struct rtcp_report r;
	uint8_t pkt[RTCP_OUT_MAX];
	uint64_t ntp = rtcp_ntp(1700000000, 250000000);
	char cname[100];
	int n;

	/* What the phone sent us: 100, of which 10 lost. */
	feed(&rx, 1, 50, PEER, 0);
	feed(&rx, 61, 40, PEER, 0);
	rx.lsr = 0x12345678;
	rx.lsr_arrival = (uint32_t)(ntp >> 16) - 6554; /* 100 ms ago */
	n = rtcp_build(pkt, sizeof(pkt), US, &snd, &rx, ntp, "abcdef", true);
	CHECK(n > 0 && n % 4 == 0);
	CHECK(pkt[0] == 0x81 && pkt[1] == 200);
	/* The phone reads it: our SSRC, SR, the block on its stream, BYE. */
	CHECK(rtcp_parse(pkt, (size_t)n, PEER, &r) == 0);
	CHECK(r.ssrc == US && r.sr && r.sr_packets == 250);
	CHECK(r.sr_ntp_mid == (uint32_t)(ntp >> 16));
	CHECK(r.block && r.lost == 10 && r.ext_max_seq == 100);
	CHECK_INT(r.fraction_lost, 10 * 256 / 100);
	CHECK(r.lsr == 0x12345678 && r.dlsr == 6554);
	CHECK(r.bye);
	/* The next report counts from here: nothing lost since. */
	feed(&rx, 101, 10, PEER, 0);
	n = rtcp_build(pkt, sizeof(pkt), US, NULL, &rx, ntp, "abcdef", false);
	CHECK(n > 0 && pkt[1] == 201);
	CHECK(rtcp_parse(pkt, (size_t)n, PEER, &r) == 0);
	CHECK(!r.sr && r.block && r.fraction_lost == 0 && r.lost == 10 &&
	      !r.bye);
	/* A block on another SSRC is not ours. */
	CHECK(rtcp_parse(pkt, (size_t)n, PEER + 5, &r) == 0 && !r.block);

	/* Nothing received yet: an RR without a block, SDES still. */
	memset(&rx, 0, sizeof(rx));
	n = rtcp_build(pkt, sizeof(pkt), US, NULL, &rx, ntp, "x", false);
	CHECK(n == 8 + 12 && pkt[0] == 0x80);
	CHECK(rtcp_parse(pkt, (size_t)n, PEER, &r) == 0 && !r.block);
	/* The CNAME is cut at its bound; the packet still fits. */
	memset(cname, 'c', sizeof(cname) - 1);
	cname[sizeof(cname) - 1] = '\0';
	feed(&rx, 1, 5, PEER, 0);
	n = rtcp_build(pkt, sizeof(pkt), US, &snd, &rx, ntp, cname, true);
	CHECK(n > 0 && n <= RTCP_OUT_MAX);
	CHECK(pkt[28 + 24 + 9] == RTCP_CNAME_MAX);
	CHECK(rtcp_build(pkt, 40, US, &snd, &rx, ntp, "x", false) == -ENOSPC);
	CHECK(rtcp_is(pkt, (size_t)n) && !rtcp_is(pkt, 4));
}

static void test_refused(void)
{
	struct rtcp_rx rx = {0};
	struct rtcp_report r;
	uint8_t good[RTCP_OUT_MAX], p[RTCP_OUT_MAX + 8];
	int n;

	feed(&rx, 1, 5, PEER, 0);
	n = rtcp_build(good, sizeof(good), US, NULL, &rx, 0, "abc", true);
	CHECK(n == 8 + 24 + 16 + 8);
	CHECK(rtcp_parse(good, (size_t)n, PEER, &r) == 0);
	CHECK(rtcp_parse(good, 4, PEER, &r) == -EBADMSG);
	CHECK(rtcp_parse(good, (size_t)n - 2, PEER, &r) == -EBADMSG);
	/* Lengths that do not add up to the datagram. */
	CHECK(rtcp_parse(good, (size_t)n - 4, PEER, &r) == -EBADMSG);
	memcpy(p, good, (size_t)n);
	memset(p + n, 0, 4);
	CHECK(rtcp_parse(p, (size_t)n + 4, PEER, &r) == -EBADMSG);
	/* Version 1; padding in the first of several packets. */
	memcpy(p, good, (size_t)n);
	p[0] = (uint8_t)((p[0] & 0x3f) | 0x40);
	CHECK(rtcp_parse(p, (size_t)n, PEER, &r) == -EBADMSG);
	memcpy(p, good, (size_t)n);
	p[0] |= 0x20;
	CHECK(rtcp_parse(p, (size_t)n, PEER, &r) == -EBADMSG);
	/* A report count beyond the packet's length. */
	memcpy(p, good, (size_t)n);
	p[0] = 0x82;
	CHECK(rtcp_parse(p, (size_t)n, PEER, &r) == -EBADMSG);
	/* A BYE naming more sources than it holds; a second packet of the
	 * wrong version. */
	memcpy(p, good, (size_t)n);
	p[n - 8] = 0x83;
	CHECK(rtcp_parse(p, (size_t)n, PEER, &r) == -EBADMSG);
	memcpy(p, good, (size_t)n);
	p[32] = 0x01;
	CHECK(rtcp_parse(p, (size_t)n, PEER, &r) == -EBADMSG);
	/* Padding in the last packet is fine when its count fits. */
	memcpy(p, good, (size_t)n);
	p[n - 8] |= 0x20;
	p[n - 7 + 0] = 203;
	p[n - 6] = 0;
	p[n - 5] = 2; /* BYE of 12 bytes: SSRC, then 4 of padding */
	memset(p + n, 0, 4);
	p[n + 3] = 4;
	CHECK(rtcp_parse(p, (size_t)n + 4, PEER, &r) == 0 && r.bye);
	p[n + 3] = 0;
	CHECK(rtcp_parse(p, (size_t)n + 4, PEER, &r) == -EBADMSG);
	p[n + 3] = 13;
	CHECK(rtcp_parse(p, (size_t)n + 4, PEER, &r) == -EBADMSG);
	/* SDES and BYE without a report first (reduced size): read, no
	 * block; baresip's lone APP packet too. */
	CHECK(rtcp_parse(good + 32, (size_t)n - 32, PEER, &r) == 0);
	CHECK(!r.block && !r.sr && r.ssrc == US && r.bye);
	memcpy(p, "\x80\xcc\x00\x03\x5b\x9c\xe0\x9dPINGPONG", 16);
	CHECK(rtcp_parse(p, 16, PEER, &r) == 0 && !r.block && !r.bye);
	/* Over the bound. */
	CHECK(rtcp_parse(good, RTCP_MAX + 4, PEER, &r) == -EBADMSG);
}

static void test_time(void)
{
	uint64_t t = rtcp_ntp(0, 500000000);
	double ms;

	CHECK(t >> 32 == 2208988800u && (uint32_t)t == 0x80000000u);
	/* 10 ms of round trip after 100 ms at the phone. */
	ms = rtcp_rtt_ms(1000000 + 6554 + 655, 1000000, 6554);
	CHECK(ms > 9.9 && ms < 10.1);
	CHECK(rtcp_rtt_ms(5, 0, 0) == -1);
	CHECK(rtcp_rtt_ms(1000, 1001, 0) == 0);
	CHECK(rtcp_rtt_ms(1000, 5000, 0) == -1);
	CHECK(rtcp_rtt_ms(100u * 65536, 1, 0) == -1);
	/* Across the wrap of the middle 32 bits. */
	ms = rtcp_rtt_ms(100, 0xffffff00u, 0);
	CHECK(ms > 5.3 && ms < 5.5);
}

int main(void)
{
	test_stats();
	test_build_parse();
	test_refused();
	test_time();
	return check_exit("test_rtcp");
}
