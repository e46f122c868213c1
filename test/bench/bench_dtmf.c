/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What key detection costs per call: microseconds per 20 ms frame (160
 * samples) for spandsp's dtmf_rx alone and through dtmf_keys_audio(), over
 * speech-spectrum noise and over a stream of keys, and per telephone-event
 * packet. The best of five runs is printed, so other work on the machine
 * does not inflate it. Prints numbers; asserts nothing.
 * Usage: bench_dtmf [FRAMES]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#include <spandsp/noise.h>

#include "dtmf.h"

#define FRAME 160
#define RUNS  5
/* One minute of audio, cycled: big enough to leave the caches honest. */
#define SIGNAL (8000 * 60)

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_key(char key, enum dtmf_source src, int64_t now_ms, void *arg)
{
	(void)key;
	(void)src;
	(void)now_ms;
	(*(long *)arg)++;
}

/* Hoth noise at -15 dBm0, or keys (60 ms on, 60 ms off) over it. */
static void signal_make(int16_t *pcm, size_t n, int with_keys)
{
	noise_state_t *ns =
	    noise_init_dbm0(NULL, 4711, -15.0f, NOISE_CLASS_HOTH, 7);
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	size_t done = 0;

	for (size_t i = 0; i < n; i++)
		pcm[i] = noise(ns) / 8; /* -33 dBm0 under keys */
	if (!with_keys) {
		for (size_t i = 0; i < n; i++)
			pcm[i] = (int16_t)(pcm[i] * 8);
		goto out;
	}
	dtmf_tx_set_timing(tx, 60, 60);
	while (done < n) {
		int16_t buf[FRAME];
		int got;

		if (dtmf_tx_put(tx, "0123456789*#ABCD", -1) < 0)
			break;
		while (done < n && (got = dtmf_tx(tx, buf, FRAME)) > 0) {
			for (int i = 0; i < got && done < n; i++, done++)
				pcm[done] = (int16_t)(pcm[done] + buf[i]);
		}
	}
out:
	dtmf_tx_free(tx);
	noise_free(ns);
}

/* Best µs per frame of RUNS passes over FRAMES frames. */
static double time_spandsp(const int16_t *pcm, long frames)
{
	double best = 1e30;

	for (int r = 0; r < RUNS; r++) {
		dtmf_rx_state_t *rx = dtmf_rx_init(NULL, NULL, NULL);
		double t0 = now_s(), t;

		for (long f = 0; f < frames; f++)
			dtmf_rx(rx, pcm + (f * FRAME) % SIGNAL, FRAME);
		t = (now_s() - t0) * 1e6 / (double)frames;
		if (t < best)
			best = t;
		dtmf_rx_free(rx);
	}
	return best;
}

static double time_keys(const int16_t *pcm, long frames, long *keys)
{
	double best = 1e30;

	for (int r = 0; r < RUNS; r++) {
		struct dtmf_keys *k;
		double t0, t;

		*keys = 0;
		if (dtmf_keys_new(&k, on_key, keys))
			exit(1);
		t0 = now_s();
		for (long f = 0; f < frames; f++)
			dtmf_keys_audio(k, pcm + (f * FRAME) % SIGNAL, FRAME,
			                (int64_t)f * 20);
		t = (now_s() - t0) * 1e6 / (double)frames;
		if (t < best)
			best = t;
		dtmf_keys_free(k);
	}
	return best;
}

/* A press every 200 ms, as a phone sends it: 12 packets a press. */
static double time_events(long packets)
{
	double best = 1e30;
	long keys = 0;

	for (int r = 0; r < RUNS; r++) {
		struct dtmf_keys *k;
		double t0, t;

		if (dtmf_keys_new(&k, on_key, &keys))
			exit(1);
		t0 = now_s();
		for (long p = 0; p < packets; p++) {
			long press = p / 12, i = p % 12;
			uint16_t dur = (uint16_t)(i < 9 ? i * 160 : 8 * 160);
			uint8_t b[4] = {(uint8_t)(press % 16),
			                (uint8_t)(i < 9 ? 10 : 0x8a),
			                (uint8_t)(dur >> 8), (uint8_t)dur};

			dtmf_keys_event(k, b, 4, (uint32_t)press * 1600,
			                (uint16_t)p, press * 200 + i * 20);
		}
		t = (now_s() - t0) * 1e9 / (double)packets;
		if (t < best)
			best = t;
		dtmf_keys_free(k);
	}
	return best;
}

int main(int argc, char **argv)
{
	long frames = argc > 1 ? atol(argv[1]) : 500000;
	int16_t *pcm = malloc((SIGNAL + FRAME) * sizeof(*pcm));
	double us;
	long keys = 0;

	if (frames <= 0 || !pcm) {
		fprintf(stderr, "usage: bench_dtmf [FRAMES]\n");
		return 2;
	}
	printf("DTMF detection, 160-sample frames, best of %d runs of %ld "
	       "frames\n",
	       RUNS, frames);

	signal_make(pcm, SIGNAL, 0);
	us = time_spandsp(pcm, frames);
	printf("%-34s %7.3f us/frame %9.0f channels/core\n",
	       "spandsp dtmf_rx, noise", us, 20000.0 / us);
	us = time_keys(pcm, frames, &keys);
	printf("%-34s %7.3f us/frame %9.0f channels/core  (%ld keys)\n",
	       "dtmf_keys_audio, noise", us, 20000.0 / us, keys);

	signal_make(pcm, SIGNAL, 1);
	us = time_spandsp(pcm, frames);
	printf("%-34s %7.3f us/frame %9.0f channels/core\n",
	       "spandsp dtmf_rx, keys", us, 20000.0 / us);
	us = time_keys(pcm, frames, &keys);
	printf("%-34s %7.3f us/frame %9.0f channels/core  (%ld keys)\n",
	       "dtmf_keys_audio, keys", us, 20000.0 / us, keys);

	printf("%-34s %7.1f ns/packet\n", "dtmf_keys_event, 12 packets/press",
	       time_events(frames));
	free(pcm);
	return 0;
}
