/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The metrics registry (common/metrics.c): the exact text exposition of
 * each type, histogram buckets at and around their bounds, the rules that
 * keep personal data out of names and labels (a table of descriptions that
 * must be refused, and of label values that must be), and counts that stay
 * exact when two threads update at once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static const char *const outcomes[] = {"answered", "busy", "no_answer"};
static const double bounds[] = {0.001, 0.01, 0.1};

static char *render(struct metrics *reg)
{
	char *text = NULL;
	size_t len = 0;

	CHECK_INT(metrics_render(reg, &text, &len), 0);
	CHECK(text && strlen(text) == len);
	return text;
}

static void test_exposition(void)
{
	struct metrics *reg;
	struct metric *calls, *active, *lat, *again;
	struct metric_desc dc = {
	    .name = "rb_calls_total",
	    .help = "Calls by outcome.",
	    .type = METRIC_COUNTER,
	    .label = "outcome",
	    .values = outcomes,
	    .n_values = 3,
	};
	struct metric_desc dg = {.name = "rb_calls_active",
	                         .help = "Calls in progress.",
	                         .type = METRIC_GAUGE};
	struct metric_desc dh = {.name = "rb_wait_seconds",
	                         .help = "Waits.",
	                         .type = METRIC_HISTOGRAM,
	                         .bounds = bounds,
	                         .n_bounds = 3};
	char *text;

	CHECK_INT(metrics_new(&reg), 0);
	CHECK_INT(metrics_add(reg, &dc, &calls), 0);
	CHECK_INT(metrics_add(reg, &dg, &active), 0);
	CHECK_INT(metrics_add(reg, &dh, &lat), 0);
	CHECK_INT(metrics_add(reg, &dg, &again), -EEXIST);
	CHECK(again == NULL);

	metrics_counter_inc(calls, 0);
	metrics_counter_add(calls, 2, 5);
	metrics_counter_inc(calls, 3);   /* out of range: ignored */
	metrics_counter_inc(NULL, 0);    /* no family: ignored */
	metrics_gauge_set(calls, 0, 99); /* not a gauge: ignored */
	metrics_gauge_set(active, 0, -3);
	metrics_gauge_set(active, 0, 7);
	/* On a bound counts in that bucket (le is "less or equal"). */
	metrics_histogram_observe_ns(lat, 0, 1000000);
	metrics_histogram_observe_ns(lat, 0, 1000001);
	metrics_histogram_observe_ns(lat, 0, -5); /* counts as 0 */
	metrics_histogram_observe_ns(lat, 0, 2000000000);
	CHECK_INT(metrics_value(calls, 0), 1);
	CHECK_INT(metrics_value(calls, 1), 0);
	CHECK_INT(metrics_value(calls, 2), 5);
	CHECK_INT(metrics_value(active, 0), 7);

	text = render(reg);
	CHECK_STR(text, "# HELP rb_calls_total Calls by outcome.\n"
	                "# TYPE rb_calls_total counter\n"
	                "rb_calls_total{outcome=\"answered\"} 1\n"
	                "rb_calls_total{outcome=\"busy\"} 0\n"
	                "rb_calls_total{outcome=\"no_answer\"} 5\n"
	                "# HELP rb_calls_active Calls in progress.\n"
	                "# TYPE rb_calls_active gauge\n"
	                "rb_calls_active 7\n"
	                "# HELP rb_wait_seconds Waits.\n"
	                "# TYPE rb_wait_seconds histogram\n"
	                "rb_wait_seconds_bucket{le=\"0.001\"} 2\n"
	                "rb_wait_seconds_bucket{le=\"0.01\"} 3\n"
	                "rb_wait_seconds_bucket{le=\"0.1\"} 3\n"
	                "rb_wait_seconds_bucket{le=\"+Inf\"} 4\n"
	                "rb_wait_seconds_sum 2.002000001\n"
	                "rb_wait_seconds_count 4\n");
	free(text);
	metrics_free(reg);
}

/* A histogram with a label, updated by one writer. */
static void test_labelled_histogram(void)
{
	static const char *const kinds[] = {"message", "verify"};
	struct metrics *reg;
	struct metric *h;
	struct metric_desc d = {.name = "rb_render_seconds",
	                        .help = "Renders.",
	                        .type = METRIC_HISTOGRAM,
	                        .label = "kind",
	                        .values = kinds,
	                        .n_values = 2,
	                        .bounds = bounds,
	                        .n_bounds = 1,
	                        .one_writer = true};
	char *text;

	CHECK_INT(metrics_new(&reg), 0);
	CHECK_INT(metrics_add(reg, &d, &h), 0);
	metrics_histogram_observe_ns(h, 1, 500000);
	metrics_histogram_observe_ns(h, 1, 500000);
	text = render(reg);
	CHECK(strstr(text, "rb_render_seconds_bucket{kind=\"message\","
	                   "le=\"0.001\"} 0\n"));
	CHECK(strstr(text, "rb_render_seconds_bucket{kind=\"verify\","
	                   "le=\"0.001\"} 2\n"));
	CHECK(strstr(text, "rb_render_seconds_bucket{kind=\"verify\","
	                   "le=\"+Inf\"} 2\n"));
	CHECK(strstr(text, "rb_render_seconds_sum{kind=\"verify\"} 0.001\n"));
	CHECK(strstr(text, "rb_render_seconds_count{kind=\"verify\"} 2\n"));
	free(text);
	metrics_free(reg);
}

/* Label values that must be refused, whatever else the family says. */
static void test_label_values(void)
{
	static const struct {
		const char *value;
		bool ok;
	} cases[] = {
	    {"answered", true},
	    {"no_answer", true},
	    {"2", true},
	    {"star", true},
	    {"http2", true},
	    {"alice@example.org", false}, /* a JID */
	    {"example_org", true},        /* a word, not an address */
	    {"+15551234567", false},      /* a number */
	    {"15551234567", false},
	    {"555", false},          /* a digit run that could be one */
	    {"a555b", false},        /* hidden inside a word too */
	    {"bob smith", false},    /* text */
	    {"hello, world", false}, /* text */
	    {"127_0_0_1", false},    /* an address spelt with _ */
	    {"v4_to_v6", true},      /* short digit runs are words */
	    {"192.0.2.1", false},    /* an address */
	    {"sip:bob", false},      /* a URI */
	    {"Answered", false},     /* upper case: not our words */
	    {"", false},
	    {"abcdefghijklmnopqrstuvwxy", false}, /* 25 characters */
	    {"abcdefghijklmnopqrstuvwx", true},   /* 24 */
	    {"caf\xc3\xa9", false},               /* not ASCII */
	    {"a\"b", false},                      /* would need escaping */
	    {"a\\b", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const values[] = {cases[i].value};
		struct metric_desc d = {.name = "rb_x_total",
		                        .help = "x.",
		                        .type = METRIC_COUNTER,
		                        .label = "v",
		                        .values = values,
		                        .n_values = 1};
		struct metrics *reg;
		struct metric *f;
		int err;

		CHECK_INT(metrics_new(&reg), 0);
		err = metrics_add(reg, &d, &f);
		if ((err == 0) != cases[i].ok)
			fprintf(stderr, "label value \"%s\": %d\n",
			        cases[i].value, err);
		CHECK_INT(err, cases[i].ok ? 0 : -EINVAL);
		CHECK((f != NULL) == cases[i].ok);
		metrics_free(reg);
	}
}

/* Descriptions that must be refused. */
static void test_desc_rules(void)
{
	static const char *const dup[] = {"a", "a"};
	static const char *const one[] = {"a"};
	static const double down[] = {0.1, 0.01};
	static const double neg[] = {-1};
	static const struct metric_desc bad[] = {
	    {.name = "rb_calls", .help = "h", .type = METRIC_COUNTER},
	    {.name = "rb_calls_total", .help = "h", .type = METRIC_GAUGE},
	    {.name = "rb-calls_total", .help = "h", .type = METRIC_COUNTER},
	    {.name = "9rb_total", .help = "h", .type = METRIC_COUNTER},
	    {.name = "rb_alice@example_total",
	     .help = "h",
	     .type = METRIC_COUNTER},
	    {.name = "", .help = "h", .type = METRIC_GAUGE},
	    {.name = NULL, .help = "h", .type = METRIC_GAUGE},
	    {.name = "rb_g", .help = "two\nlines", .type = METRIC_GAUGE},
	    {.name = "rb_g", .help = "back\\slash", .type = METRIC_GAUGE},
	    {.name = "rb_g", .help = "", .type = METRIC_GAUGE},
	    {.name = "rb_g", .help = "h", .type = METRIC_GAUGE, .label = "v"},
	    {.name = "rb_g",
	     .help = "h",
	     .type = METRIC_GAUGE,
	     .values = one,
	     .n_values = 1},
	    {.name = "rb_g",
	     .help = "h",
	     .type = METRIC_GAUGE,
	     .label = "v",
	     .values = dup,
	     .n_values = 2},
	    {.name = "rb_g",
	     .help = "h",
	     .type = METRIC_GAUGE,
	     .label = "__v",
	     .values = one,
	     .n_values = 1},
	    {.name = "rb_g",
	     .help = "h",
	     .type = METRIC_GAUGE,
	     .label = "a-b",
	     .values = one,
	     .n_values = 1},
	    {.name = "rb_g",
	     .help = "h",
	     .type = METRIC_GAUGE,
	     .bounds = bounds,
	     .n_bounds = 1},
	    {.name = "rb_h", .help = "h", .type = METRIC_HISTOGRAM},
	    {.name = "rb_h",
	     .help = "h",
	     .type = METRIC_HISTOGRAM,
	     .bounds = down,
	     .n_bounds = 2},
	    {.name = "rb_h",
	     .help = "h",
	     .type = METRIC_HISTOGRAM,
	     .bounds = neg,
	     .n_bounds = 1},
	    {.name = "rb_h",
	     .help = "h",
	     .type = METRIC_HISTOGRAM,
	     .label = "le",
	     .values = one,
	     .n_values = 1,
	     .bounds = bounds,
	     .n_bounds = 1},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct metrics *reg;
		struct metric *f = (struct metric *)1;

		CHECK_INT(metrics_new(&reg), 0);
		CHECK_INT(metrics_add(reg, &bad[i], &f), -EINVAL);
		CHECK(f == NULL);
		metrics_free(reg);
	}
}

static void test_families_max(void)
{
	struct metrics *reg;
	struct metric *f;
	char names[METRICS_FAMILIES_MAX + 1][32];

	CHECK_INT(metrics_new(&reg), 0);
	for (int i = 0; i <= METRICS_FAMILIES_MAX; i++) {
		struct metric_desc d = {
		    .name = names[i], .help = "h", .type = METRIC_GAUGE};

		snprintf(names[i], sizeof(names[i]), "rb_g%d", i);
		CHECK_INT(metrics_add(reg, &d, &f),
		          i < METRICS_FAMILIES_MAX ? 0 : -ENOSPC);
	}
	metrics_free(reg);
}

/* The collect callback runs on each render, before its family is read. */
static void collect(struct metric *f, void *arg)
{
	int *calls = arg;

	metrics_gauge_set(f, 0, ++*calls * 10);
}

static void test_collect(void)
{
	struct metrics *reg;
	struct metric *f;
	int calls = 0;
	struct metric_desc d = {.name = "rb_jobs",
	                        .help = "h",
	                        .type = METRIC_GAUGE,
	                        .collect = collect,
	                        .collect_arg = &calls};
	char *text;

	CHECK_INT(metrics_new(&reg), 0);
	CHECK_INT(metrics_add(reg, &d, &f), 0);
	free(render(reg));
	text = render(reg);
	CHECK(strstr(text, "\nrb_jobs 20\n") != NULL);
	CHECK_INT(calls, 2);
	free(text);
	metrics_free(reg);
}

#define THREAD_INCS 200000

static void *incs(void *arg)
{
	for (int i = 0; i < THREAD_INCS; i++) {
		metrics_counter_inc(arg, 0);
		metrics_counter_inc(arg, 1);
	}
	return NULL;
}

/* Two threads at once on the same cells lose no update. */
static void test_threads(void)
{
	static const char *const two[] = {"a", "b"};
	struct metrics *reg;
	struct metric *f;
	struct metric_desc d = {.name = "rb_n_total",
	                        .help = "h",
	                        .type = METRIC_COUNTER,
	                        .label = "v",
	                        .values = two,
	                        .n_values = 2};
	pthread_t t1, t2;

	CHECK_INT(metrics_new(&reg), 0);
	CHECK_INT(metrics_add(reg, &d, &f), 0);
	pthread_create(&t1, NULL, incs, f);
	pthread_create(&t2, NULL, incs, f);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK_INT(metrics_value(f, 0), 2 * THREAD_INCS);
	CHECK_INT(metrics_value(f, 1), 2 * THREAD_INCS);
	metrics_free(reg);
}

int main(void)
{
	test_exposition();
	test_labelled_histogram();
	test_label_values();
	test_desc_rules();
	test_families_max();
	test_collect();
	test_threads();
	return check_exit("metrics");
}
