/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * How fast prompts render through the worker: prompts per second, real-time
 * factor (seconds of speech per second of wall time) and the latency from
 * submit to result (p50/p99/max), with a different text every time so
 * nothing is cached. Each voice runs three ways: flat out through a worker
 * of one renderer and through one of RENDERERS (default: one per core),
 * with the queue kept full as a burst of calls would; paced at RATE prompts
 * a second through the pool, where the latency is what a call waits; and
 * the same texts rendered in this process, one at a time, which is the
 * engine alone. Prints numbers; asserts nothing.
 * Usage: bench_tts [-v VOICE]... [-w RENDERERS] [-r RATE] [PROMPTS]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include "tts.h"
#include "tts_worker.h"

#define BENCH_MAX_PROMPTS 10000
#define BENCH_MAX_VOICES  8

/* CPU seconds of the reaped descendants: the renderers, once the worker
 * is freed (the supervisor reaps them, and this process the supervisor). */
static double children_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

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
	double *latency;   /* per finished prompt */
	size_t samples;
	int done, failed;
};

static void bench_done(uint64_t id, int err, int16_t *pcm, size_t n, void *arg)
{
	struct bench_run *run = arg;

	run->latency[run->done++] = now_s() - run->submitted[id];
	if (err) {
		run->failed++;
		fprintf(stderr, "prompt %llu: %s\n", (unsigned long long)id,
		        strerror(-err));
		return;
	}
	run->samples += n;
	free(pcm);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_print(const char *what, int prompts, double wall,
                        size_t samples, double *latency)
{
	double audio = (double)samples / TTS_RATE;

	qsort(latency, (size_t)prompts, sizeof(*latency), cmp_double);
	printf("%-24s %5d prompts %7.1f prompts/s %6.1fx real time "
	       "%6.1f s audio  latency p50 %.1f ms, p99 %.1f ms, max %.1f "
	       "ms\n",
	       what, prompts, prompts / wall, audio / wall, audio,
	       latency[prompts / 2] * 1000,
	       latency[prompts * 99 / 100 - (prompts >= 100 ? 1 : 0)] * 1000,
	       latency[prompts - 1] * 1000);
}

/*
 * Renders PROMPTS texts through a worker of RENDERERS processes. RATE 0
 * keeps the worker's queue full; otherwise prompt I is submitted at
 * I / RATE seconds (or as soon as the queue has room).
 */
static int bench_worker(const char *voice, unsigned renderers, double rate,
                        int prompts)
{
	struct bench_run run = {0};
	struct tts_worker *w;
	char text[512], what[64];
	int next = 0, err;
	double t0, wall, cpu0 = children_cpu_s(), cpu;

	err = tts_worker_new(&w, &tts_engine_flite, voice, renderers);
	if (err) {
		fprintf(stderr, "tts_worker_new %s: %s\n", voice,
		        strerror(-err));
		return 1;
	}
	run.submitted = calloc((size_t)prompts, sizeof(double));
	run.latency = calloc((size_t)prompts, sizeof(double));
	if (!run.submitted || !run.latency) {
		free(run.submitted);
		free(run.latency);
		tts_worker_free(w);
		return 1;
	}
	t0 = now_s();
	while (run.done < prompts) {
		struct pollfd p = {.fd = tts_worker_fd(w), .events = POLLIN};
		int wait_ms = 1000;

		while (next < prompts) {
			double due = rate > 0 ? t0 + next / rate : 0;
			double now = now_s();

			if (due > now) {
				wait_ms = (int)((due - now) * 1000) + 1;
				break;
			}
			bench_text(text, sizeof(text), next);
			run.submitted[next] = now;
			if (tts_worker_submit(w, (uint64_t)next, text))
				break;
			next++;
		}
		poll(&p, 1, wait_ms);
		tts_worker_collect(w, bench_done, &run);
	}
	wall = now_s() - t0;
	if (rate > 0)
		snprintf(what, sizeof(what), "%s %ux, %.0f/s offered:", voice,
		         tts_worker_renderers(w), rate);
	else
		snprintf(what, sizeof(what), "%s %ux, flat out:", voice,
		         tts_worker_renderers(w));
	bench_print(what, prompts, wall, run.samples, run.latency);
	free(run.submitted);
	free(run.latency);
	tts_worker_free(w);
	/* Whether the pool had the cores: busy cores on average, and the
	 * synthesis cost per prompt, whatever the machine's other load. */
	cpu = children_cpu_s() - cpu0;
	printf("%-24s renderers' CPU %.1f ms a prompt, %.2f cores busy on "
	       "average\n",
	       "", cpu * 1000 / prompts, cpu / wall);
	return run.failed ? 1 : 0;
}

static int bench_direct(const char *voice, int prompts)
{
	const struct tts_engine *e = &tts_engine_flite;
	char text[512], what[64];
	size_t samples = 0;
	double t0, *latency;
	void *st;
	int err;

	latency = calloc((size_t)prompts, sizeof(*latency));
	if (!latency)
		return 1;
	err = e->open(&st, voice);
	if (err) {
		free(latency);
		return 1;
	}
	t0 = now_s();
	for (int i = 0; i < prompts; i++) {
		int16_t *pcm;
		size_t n;
		double one;

		bench_text(text, sizeof(text), i);
		one = now_s();
		err = e->render(st, text, &pcm, &n);
		latency[i] = now_s() - one;
		if (err)
			break;
		samples += n;
		free(pcm);
	}
	snprintf(what, sizeof(what), "%s in process:", voice);
	if (!err)
		bench_print(what, prompts, now_s() - t0, samples, latency);
	e->close(st);
	free(latency);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *voices[BENCH_MAX_VOICES];
	int nvoices = 0, prompts = 200, rc = 0, opt;
	unsigned renderers = 0;
	double rate = 60;

	while ((opt = getopt(argc, argv, "v:w:r:")) != -1) {
		switch (opt) {
		case 'v':
			if (nvoices < BENCH_MAX_VOICES)
				voices[nvoices++] = optarg;
			break;
		case 'w':
			renderers = (unsigned)atoi(optarg);
			break;
		case 'r':
			rate = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (optind < argc)
		prompts = atoi(argv[optind]);
	if (prompts < 1 || prompts > BENCH_MAX_PROMPTS ||
	    renderers > TTS_WORKER_RENDERERS_MAX || rate < 0)
		goto usage;
	if (!nvoices) {
		voices[nvoices++] = "kal";
		voices[nvoices++] = "slt";
	}
	/* Workers first: they fork, and want a process that has not loaded
	 * a voice in the caller yet, as in the bridge. */
	for (int i = 0; i < nvoices; i++) {
		rc |= bench_worker(voices[i], 1, 0, prompts);
		rc |= bench_worker(voices[i], renderers, 0, prompts);
		if (rate > 0)
			rc |= bench_worker(voices[i], renderers, rate, prompts);
	}
	for (int i = 0; i < nvoices; i++)
		rc |= bench_direct(voices[i], prompts);
	return rc;
usage:
	fprintf(stderr,
	        "usage: bench_tts [-v VOICE]... [-w RENDERERS (0..%d, 0: one "
	        "per core)] [-r RATE (prompts/s, 0: none paced)] [PROMPTS "
	        "(1..%d)]\n",
	        TTS_WORKER_RENDERERS_MAX, BENCH_MAX_PROMPTS);
	return 2;
}
