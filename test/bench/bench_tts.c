/*
 * How fast prompts render through the worker, for kal (8 kHz) and slt
 * (16 kHz, resampled): prompts per second, real-time factor (seconds of
 * speech per second of wall time) and the latency from submit to result,
 * with a different text every time so nothing is cached. The same texts
 * rendered in process show what the worker's isolation costs. Prints
 * numbers; asserts nothing. Usage: bench_tts [PROMPTS]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tts.h"
#include "tts_worker.h"

#define BENCH_MAX_PROMPTS 10000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A message prompt as a call reads it, different for each I. */
static void bench_text(char *buf, size_t size, int i)
{
	static const char *const names[] = {"Alice Smith", "Bob Jones",
	                                    "Carol White", "Dave Brown"};
	static const char *const bodies[] = {
	    "are we still on for lunch at noon? Call me if anything changed.",
	    "the build is green again, I merged your branch.",
	    "running late, start the meeting without me.",
	    "can you send me the figures for the third quarter?",
	};

	snprintf(buf, size,
	         "At %d:%02d PM you have a message from %s. %s says: %s "
	         "This is message %d.",
	         1 + i % 12, i % 60, names[i % 4], names[i % 4],
	         bodies[(i / 4) % 4], i);
}

struct bench_run {
	double *submitted; /* per id: when it was submitted */
	double latency_sum, latency_max;
	size_t samples;
	int done, failed;
};

static void bench_done(uint64_t id, int err, int16_t *pcm, size_t n, void *arg)
{
	struct bench_run *run = arg;
	double latency = now_s() - run->submitted[id];

	run->done++;
	if (err) {
		run->failed++;
		fprintf(stderr, "prompt %llu: %s\n", (unsigned long long)id,
		        strerror(-err));
		return;
	}
	run->samples += n;
	run->latency_sum += latency;
	if (latency > run->latency_max)
		run->latency_max = latency;
	free(pcm);
}

static void bench_print(const char *what, int prompts, double wall,
                        size_t samples, double latency_mean, double latency_max)
{
	double audio = (double)samples / TTS_RATE;

	printf("%-16s %5d prompts %8.1f prompts/s %7.1fx real time "
	       "%6.1f s audio",
	       what, prompts, prompts / wall, audio / wall, audio);
	if (latency_max > 0)
		printf("  latency mean %.1f ms, max %.1f ms",
		       latency_mean * 1000, latency_max * 1000);
	printf("\n");
}

static int bench_worker(const char *voice, int prompts)
{
	struct bench_run run = {0};
	struct tts_worker *w;
	char text[512];
	int next = 0, err;
	double t0, wall;

	err = tts_worker_new(&w, &tts_engine_flite, voice);
	if (err) {
		fprintf(stderr, "tts_worker_new %s: %s\n", voice,
		        strerror(-err));
		return 1;
	}
	run.submitted = calloc((size_t)prompts, sizeof(double));
	if (!run.submitted) {
		tts_worker_free(w);
		return 1;
	}
	t0 = now_s();
	while (run.done < prompts) {
		struct pollfd p = {.fd = tts_worker_fd(w), .events = POLLIN};

		/* Keep the queue full, as a busy bridge would. */
		while (next < prompts) {
			bench_text(text, sizeof(text), next);
			run.submitted[next] = now_s();
			if (tts_worker_submit(w, (uint64_t)next, text))
				break;
			next++;
		}
		poll(&p, 1, 1000);
		tts_worker_collect(w, bench_done, &run);
	}
	wall = now_s() - t0;
	{
		char what[64];
		int ok = prompts - run.failed;

		snprintf(what, sizeof(what), "%s worker:", voice);
		/* Queued requests wait behind each other, so this latency
		 * grows with the queue; the in-process figure below is the
		 * time one rendering takes. */
		bench_print(what, prompts, wall, run.samples,
		            ok ? run.latency_sum / ok : 0, run.latency_max);
	}
	free(run.submitted);
	tts_worker_free(w);
	return run.failed ? 1 : 0;
}

static int bench_direct(const char *voice, int prompts)
{
	const struct tts_engine *e = &tts_engine_flite;
	char text[512], what[64];
	size_t samples = 0;
	double t0, one, max = 0, sum = 0;
	void *st;
	int err;

	err = e->open(&st, voice);
	if (err)
		return 1;
	t0 = now_s();
	for (int i = 0; i < prompts; i++) {
		int16_t *pcm;
		size_t n;

		bench_text(text, sizeof(text), i);
		one = now_s();
		err = e->render(st, text, &pcm, &n);
		one = now_s() - one;
		if (err)
			break;
		samples += n;
		sum += one;
		if (one > max)
			max = one;
		free(pcm);
	}
	snprintf(what, sizeof(what), "%s in process:", voice);
	bench_print(what, prompts, now_s() - t0, samples, sum / prompts, max);
	e->close(st);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	int prompts = argc > 1 ? atoi(argv[1]) : 200;
	int rc = 0;

	if (prompts < 1 || prompts > BENCH_MAX_PROMPTS) {
		fprintf(stderr, "usage: bench_tts [PROMPTS (1..%d)]\n",
		        BENCH_MAX_PROMPTS);
		return 2;
	}
	/* Workers first: they fork, and want a process that has not loaded
	 * a voice in the caller yet, as in the bridge. */
	rc |= bench_worker("kal", prompts);
	rc |= bench_worker("slt", prompts);
	rc |= bench_direct("kal", prompts);
	rc |= bench_direct("slt", prompts);
	return rc;
}
