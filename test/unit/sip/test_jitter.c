/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for the receive jitter buffer (jitter.c over spandsp's
 * playout and PLC): a simulated sender's packets arrive at given times and
 * a simulated 20 ms media timer drains the buffer. In order and reordered
 * packets come out in order and unchanged; a lost packet is concealed (not
 * silence) and what follows stays in place; 30 ms packets come out as
 * 20 ms frames; duplicates and late packets are dropped; an SSRC change
 * (with a backlog queued too), a timestamp jump either way and a pause
 * each start the stream afresh without losing audio or filling the gap.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "jitter.h"

#define MAX_OUT 80000

/* One packet as sent: its header fields, arrival time and the index of its
 * first sample in the test's reference signal. */
struct pkt {
	uint32_t ssrc, ts;
	int n;
	int64_t at_ms;
	int ref;
};

static int16_t ref[MAX_OUT];
static int16_t out[MAX_OUT];

/* Speech-like enough for the PLC: two tones, changing every 100 ms. */
static void make_ref(void)
{
	int k;

	for (k = 0; k < MAX_OUT; k++)
		ref[k] = (int16_t)lrint(
		    6000 * sin(2 * M_PI * (300 + 40 * (k / 800)) * k / 8000) +
		    3000 * sin(2 * M_PI * 1130 * k / 8000));
}

/* Delivers PKTS (in array order, each at its time) and runs the timer
 * every 20 ms until nothing has come out for a second; returns the
 * samples output, in OUT. */
static size_t run(struct jitter *j, const struct pkt *pkts, int n_pkts,
                  int *partial)
{
	size_t o = 0;
	int i = 0, quiet = 0;
	int64_t t;

	*partial = 0;
	for (t = 20; quiet < 50 || i < n_pkts; t += 20) {
		int16_t pcm[JITTER_FRAME];
		size_t got;

		for (; i < n_pkts && pkts[i].at_ms <= t; i++)
			CHECK(jitter_put(j, pkts[i].ssrc, pkts[i].ts,
			                 ref + pkts[i].ref, (size_t)pkts[i].n,
			                 pkts[i].at_ms) == 0);
		got = jitter_get(j, pcm);
		CHECK(got <= JITTER_FRAME);
		if (got > 0 && got < JITTER_FRAME)
			(*partial)++;
		if (o + got > MAX_OUT)
			break;
		memcpy(out + o, pcm, got * sizeof(*pcm));
		o += got;
		quiet = got ? 0 : quiet + 1;
	}
	return o;
}

/* A regular stream: N packets of LEN samples from reference sample R0,
 * timestamps from TS0, sent every LEN/8 ms from AT0. */
static int stream(struct pkt *p, int n, uint32_t ssrc, uint32_t ts0, int len,
                  int64_t at0, int r0)
{
	int i;

	for (i = 0; i < n; i++) {
		p[i].ssrc = ssrc;
		p[i].ts = ts0 + (uint32_t)(i * len);
		p[i].n = len;
		p[i].at_ms = at0 + i * len / 8;
		p[i].ref = r0 + i * len;
	}
	return n;
}

static int same(const int16_t *a, const int16_t *b, size_t n)
{
	return memcmp(a, b, n * sizeof(*a)) == 0;
}

static double rms(const int16_t *a, size_t n)
{
	double e = 0;
	size_t i;

	for (i = 0; i < n; i++)
		e += (double)a[i] * a[i];
	return sqrt(e / (double)n);
}

/* What may follow the last packet: PLC until the stream counts as idle. */
#define TAIL (JITTER_IDLE_MS * 8 + JITTER_MAX_PACKET)

static void test_in_order_across_wrap(void)
{
	struct pkt p[50];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	/* The RTP timestamp wraps in the middle. */
	stream(p, 50, 0x1111, 0xFFFFF000u, 160, 3, 0);
	o = run(j, p, 50, &partial);
	CHECK(o >= 50 * 160 && o <= 50 * 160 + TAIL);
	CHECK(same(out, ref, 50 * 160));
	CHECK(partial == 0);
	jitter_stats(j, &st);
	CHECK(st.packets == 50 && st.played == 50 && st.late == 0);
	CHECK(st.restarts == 1);
	jitter_free(j);
}

static void test_reordered(void)
{
	struct pkt p[40], t;
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	stream(p, 40, 0x2222, 1000, 160, 1, 0);
	/* 3 before 2 (2 arrives 25 ms late), 11 before 10, and 21 after
	 * 22 and 23 (35 ms late). */
	t = p[2], p[2] = p[3], p[3] = t;
	p[3].at_ms = p[2].at_ms + 5;
	t = p[10], p[10] = p[11], p[11] = t;
	p[11].at_ms = p[10].at_ms + 1;
	t = p[21], p[21] = p[22], p[22] = p[23], p[23] = t;
	p[23].at_ms = p[22].at_ms + 2;
	o = run(j, p, 40, &partial);
	CHECK(o >= 40 * 160);
	CHECK(same(out, ref, 40 * 160));
	jitter_stats(j, &st);
	CHECK(st.played == 40 && st.late == 0);
	CHECK(st.concealed <= TAIL); /* only after the end */
	jitter_free(j);
}

static void test_loss_concealed(void)
{
	struct pkt p[40];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;
	double lost;

	CHECK(jitter_new(&j) == 0);
	stream(p, 40, 0x3333, 5000, 160, 7, 0);
	/* Packet 12 never comes. */
	memmove(p + 12, p + 13, 27 * sizeof(p[0]));
	o = run(j, p, 39, &partial);
	/* Nothing shifts: the same length, everything after in place. */
	CHECK(o >= 40 * 160 && o <= 40 * 160 + TAIL);
	CHECK(same(out, ref, 12 * 160));
	/* spandsp's PLC blends the first samples after a fill-in. */
	CHECK(same(out + 13 * 160 + 40, ref + 13 * 160 + 40, 27 * 160 - 40));
	/* No silence where the packet was: PLC continues the signal. */
	lost = rms(out + 12 * 160, 160);
	CHECK(lost > 0.3 * rms(ref + 12 * 160, 160));
	jitter_stats(j, &st);
	CHECK(st.played == 39);
	CHECK(st.concealed >= 160);
	jitter_free(j);
}

static void test_late_and_duplicate_dropped(void)
{
	struct pkt p[60];
	struct jitter *j;
	struct jitter_stats st;
	int partial, i;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	stream(p, 40, 0x4444, 77, 160, 2, 0);
	/* Every fifth packet twice; packet 20 again 300 ms later. */
	for (i = 0; i < 8; i++) {
		p[40 + i] = p[5 * i];
		p[40 + i].at_ms += 3;
	}
	p[48] = p[20];
	p[48].at_ms += 300;
	/* In arrival order. */
	for (i = 1; i < 49; i++) {
		struct pkt t = p[i];
		int k = i;

		while (k > 0 && p[k - 1].at_ms > t.at_ms) {
			p[k] = p[k - 1];
			k--;
		}
		p[k] = t;
	}
	o = run(j, p, 49, &partial);
	CHECK(o >= 40 * 160);
	CHECK(same(out, ref, 40 * 160));
	jitter_stats(j, &st);
	CHECK(st.played == 40 && st.late == 9);
	jitter_free(j);
}

static void test_30ms_packets(void)
{
	struct pkt p[30];
	struct jitter *j;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	/* As sipp's g711a.pcap: 240 samples a packet. */
	stream(p, 30, 0x5555, 123456, 240, 4, 0);
	o = run(j, p, 30, &partial);
	CHECK(o >= 30 * 240 && o <= 30 * 240 + TAIL);
	CHECK(same(out, ref, 30 * 240));
	CHECK(partial <= 1); /* at most where the stream ends */
	jitter_free(j);
}

static void test_ssrc_change_restarts(void)
{
	struct pkt p[40];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	/* A second source with the same timestamps, straight after the
	 * first (a phone playing one recording, then another): without a
	 * restart all of it would be late. */
	stream(p, 20, 0xAAAA, 9000, 160, 1, 0);
	stream(p + 20, 20, 0xBBBB, 9000, 160, 401, 20 * 160);
	o = run(j, p, 40, &partial);
	CHECK(o >= 40 * 160 && o <= 40 * 160 + TAIL);
	/* The first source's queued end is not lost, nor the second. */
	CHECK(same(out, ref, 40 * 160));
	jitter_stats(j, &st);
	CHECK(st.restarts == 2);
	CHECK(st.played == 40 && st.late == 0);
	jitter_free(j);
}

static void test_switch_with_backlog(void)
{
	struct pkt p[47];
	struct jitter *j;
	struct jitter_stats st;
	int partial, i;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	/* 140 ms of the first source in one burst (a sender catching up),
	 * then at once a second source, then a third with 30 ms packets:
	 * each change finds a queue well ahead, and loses none of it. */
	stream(p, 27, 0x1010, 700, 160, 1, 0);
	for (i = 20; i < 27; i++)
		p[i].at_ms = 401;
	stream(p + 27, 10, 0x2020, 700, 160, 402, 27 * 160);
	stream(p + 37, 10, 0x3030, 3, 240, 602, 37 * 160);
	o = run(j, p, 47, &partial);
	CHECK(o >= 37 * 160 + 10 * 240 && o <= 37 * 160 + 10 * 240 + TAIL);
	CHECK(same(out, ref, 37 * 160 + 10 * 240));
	jitter_stats(j, &st);
	CHECK(st.played == 47 && st.late == 0);
	jitter_free(j);
}

static void test_timestamp_jumps(void)
{
	struct pkt p[60];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	/* Same SSRC, sent without a pause: 10 s ahead, then back again to
	 * where it began. Neither 10 s of fill nor 20 packets late. */
	stream(p, 20, 0xCCCC, 40000, 160, 1, 0);
	stream(p + 20, 20, 0xCCCC, 40000 + 80000, 160, 401, 20 * 160);
	stream(p + 40, 20, 0xCCCC, 40000, 160, 801, 40 * 160);
	o = run(j, p, 60, &partial);
	CHECK(o >= 60 * 160 && o <= 60 * 160 + TAIL);
	CHECK(same(out, ref, 60 * 160));
	jitter_stats(j, &st);
	CHECK(st.restarts == 3);
	CHECK(st.played == 60);
	jitter_free(j);
}

/* Timestamps half the 32-bit space apart, in both directions and around
 * the signed limits: each jump is a new stream, nothing overflows (the
 * UBSan build aborts where it would) and all the audio comes out. */
static void test_half_wrap_jumps(void)
{
	static const uint32_t starts[][3] = {
	    {0x80000000u, 0, 0x80000000u},
	    {0, 0x80000000u, 0},
	    {0x7FFFFF00u, 0xFFFFFF00u, 0x7FFFFF00u},
	    {0xFFFFFF00u, 0x7FFFFF00u, 0x00000100u},
	    {0x80000001u, 1, 0x80000002u},
	};
	struct pkt p[60];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o, k;

	for (k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		CHECK(jitter_new(&j) == 0);
		stream(p, 20, 0xEEEE, starts[k][0], 160, 1, 0);
		stream(p + 20, 20, 0xEEEE, starts[k][1], 160, 401, 20 * 160);
		stream(p + 40, 20, 0xEEEE, starts[k][2], 160, 801, 40 * 160);
		o = run(j, p, 60, &partial);
		CHECK(o >= 60 * 160 && o <= 60 * 160 + TAIL);
		CHECK(same(out, ref, 60 * 160));
		jitter_stats(j, &st);
		CHECK(st.restarts == 3);
		CHECK(st.played == 60 && st.late == 0);
		jitter_free(j);
	}
	/* Every packet half a wrap from the last, before any has played
	 * (the start-up delay): each is its own stream. */
	CHECK(jitter_new(&j) == 0);
	for (k = 0; k < 8; k++) {
		p[k].ssrc = 0xEEEF;
		p[k].ts = (k & 1) ? 0 : 0x80000000u;
		p[k].n = 160;
		p[k].at_ms = 1 + 20 * (int64_t)k;
		p[k].ref = 160 * (int)k;
	}
	o = run(j, p, 8, &partial);
	CHECK(o >= 8 * 160 && o <= 8 * 160 + TAIL);
	CHECK(same(out, ref, 8 * 160));
	jitter_stats(j, &st);
	CHECK(st.restarts == 8 && st.played == 8 && st.late == 0);
	jitter_free(j);
}

/* A stream longer than JITTER_REBASE_SAMPLES is restarted on a packet
 * before its offsets from the first one reach spandsp's int range (at
 * 2^31 samples, 74 hours); the audio goes on whole. The normal build's
 * bound is never reached here; test_sip_jitter_rebase builds the buffer
 * with a 1 s bound to see the restarts. */
static void test_long_stream_rebased(void)
{
	static struct pkt p[250];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o;

	CHECK(jitter_new(&j) == 0);
	stream(p, 250, 0xF0F0, 0x7FFFF000u, 160, 1, 0);
	o = run(j, p, 250, &partial);
	CHECK(o >= 250 * 160 && o <= 250 * 160 + TAIL);
	CHECK(same(out, ref, 250 * 160));
	jitter_stats(j, &st);
	CHECK(st.played == 250 && st.late == 0);
	CHECK(st.restarts == 1 + (249 * 160) / JITTER_REBASE_SAMPLES);
	jitter_free(j);
}

static void test_pause_not_filled(void)
{
	struct pkt p[40];
	struct jitter *j;
	struct jitter_stats st;
	int partial;
	size_t o, k, at = (size_t)-1;

	CHECK(jitter_new(&j) == 0);
	/* 2 s without packets (timestamps running on), then more. */
	stream(p, 20, 0xDDDD, 0, 160, 1, 0);
	stream(p + 20, 20, 0xDDDD, 20 * 160 + 16000, 160, 2401, 20 * 160);
	o = run(j, p, 40, &partial);
	/* The pause itself is not played: the first part, its PLC tail, the
	 * second part whole and its tail. */
	CHECK(o >= 40 * 160 && o <= 40 * 160 + 2 * TAIL);
	CHECK(same(out, ref, 20 * 160));
	for (k = 20 * 160; k + 20 * 160 <= o; k++)
		if (same(out + k, ref + 20 * 160, 20 * 160)) {
			at = k;
			break;
		}
	CHECK(at != (size_t)-1);
	CHECK(at - 20 * 160 <= JITTER_IDLE_MS * 8 + JITTER_FRAME);
	jitter_stats(j, &st);
	CHECK(st.restarts == 2);
	CHECK(st.played == 40);
	jitter_free(j);
}

static void test_bad_lengths(void)
{
	struct jitter *j;

	CHECK(jitter_new(&j) == 0);
	CHECK(jitter_put(j, 1, 0, ref, 79, 0) < 0);
	CHECK(jitter_put(j, 1, 0, ref, JITTER_MAX_PACKET + 1, 0) < 0);
	CHECK(jitter_put(j, 1, 0, ref, 80, 0) == 0);
	CHECK(jitter_put(j, 1, 80, ref, JITTER_MAX_PACKET, 0) == 0);
	/* Freed with frames still queued (sanitizers check the leak). */
	jitter_free(j);
	jitter_free(NULL);
}

int main(void)
{
	make_ref();
	test_in_order_across_wrap();
	test_reordered();
	test_loss_concealed();
	test_late_and_duplicate_dropped();
	test_30ms_packets();
	test_ssrc_change_restarts();
	test_switch_with_backlog();
	test_timestamp_jumps();
	test_pause_not_filled();
	test_half_wrap_jumps();
	test_long_stream_rebased();
	test_bad_lengths();
	return check_exit("test_sip_jitter");
}
