/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * How fast the recorder encodes, and how big its files are: 60 s of
 * synthetic speech (a 140 Hz voice with harmonics, four syllables a second,
 * with a 0.4 s pause every 3 s) fed in 20 ms frames, as RTP delivers them,
 * to each format. Prints times real time, the cost of one frame, and bytes
 * per second of audio; asserts nothing. Usage: bench_recorder [SECONDS]
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "recorder.h"

#define FRAME 160 /* 20 ms at 8 kHz */
#define PI    3.14159265358979323846

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int16_t speech_sample(size_t i)
{
	static const double harmonics[][2] = {
	    {140, 1.0},  {280, 0.7},  {420, 0.5},   {700, 0.4},
	    {1120, 0.3}, {1680, 0.2}, {2300, 0.15},
	};
	double t = (double)i / RECORDER_SAMPLE_RATE, v = 0;
	size_t k;

	/* A pause of 0.4 s every 3 s: shorter than any silence stop. */
	if (fmod(t, 3.0) >= 2.6)
		return 0;
	for (k = 0; k < sizeof harmonics / sizeof harmonics[0]; k++)
		v += harmonics[k][1] * sin(2 * PI * harmonics[k][0] * t);
	v *= 0.65 + 0.35 * sin(2 * PI * 4 * t);
	return (int16_t)(v * 2500);
}

static int run(const struct recorder_format *fmt, const int16_t *pcm, size_t n)
{
	struct recorder *r = NULL;
	enum recorder_state state = RECORDER_RUNNING;
	unsigned char *bytes = NULL;
	size_t len = 0, done, frames = 0;
	double t0, t1, t2, seconds;
	int ms = 0, err;

	err = recorder_new(&r, fmt, (int)(n / RECORDER_SAMPLE_RATE), 3);
	if (err)
		goto out;
	t0 = now_s();
	for (done = 0; done < n && state == RECORDER_RUNNING; done += FRAME) {
		err = recorder_feed(r, pcm + done, FRAME, &state);
		if (err)
			goto out;
		frames++;
	}
	t1 = now_s();
	err = recorder_finish(r, &bytes, &len, &ms);
	if (err)
		goto out;
	t2 = now_s();
	seconds = ms / 1000.0;
	printf("%-4s %6.1f s of audio: %8.1f x real time, %6.1f us per 20 ms "
	       "frame, finish %5.2f ms, %7zu bytes, %6.0f bytes/s "
	       "(%.1f kbit/s)\n",
	       fmt->name, seconds, seconds / (t2 - t0),
	       (t1 - t0) / (double)frames * 1e6, (t2 - t1) * 1e3, len,
	       (double)len / seconds, (double)len * 8 / seconds / 1000);
out:
	if (err)
		fprintf(stderr, "%s: %s\n", fmt->name, strerror(-err));
	free(bytes);
	recorder_free(r);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	long seconds = argc > 1 ? strtol(argv[1], NULL, 10) : 60;
	size_t n, i;
	int16_t *pcm;
	int fail = 0;

	if (seconds < 1 || seconds > RECORDER_MAX_SECONDS_LIMIT) {
		fprintf(stderr, "usage: bench_recorder [SECONDS (1..%d)]\n",
		        RECORDER_MAX_SECONDS_LIMIT);
		return 2;
	}
	n = (size_t)seconds * RECORDER_SAMPLE_RATE;
	pcm = malloc(n * sizeof *pcm);
	if (!pcm)
		return 1;
	for (i = 0; i < n; i++)
		pcm[i] = speech_sample(i);
	fail |= run(&recorder_format_opus, pcm, n);
	fail |= run(&recorder_format_mp3, pcm, n);
	free(pcm);
	return fail;
}
