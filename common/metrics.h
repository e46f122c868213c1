/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Prometheus metrics for every ringbridge process: counters, gauges and
 * histograms with fixed buckets, registered once at start-up and exposed in
 * the text format 0.0.4 (docs/monitoring.md lists them). Updates are one
 * relaxed atomic operation on a cell of their own, so the loops and the
 * media thread pay nothing measurable; rendering reads the cells from any
 * thread.
 *
 * Personal data cannot get in: a label's values are a fixed table given at
 * registration and checked there (short lower-case words, no digit run that
 * could be a number), and an update names a value by its index in that
 * table, never by a string. A JID, phone number, address or message text has
 * no way into a name, a label or a value.
 */
#ifndef RB_METRICS_H
#define RB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct metrics; /* a registry: what one process exposes */
struct metric;  /* one family (a name, maybe with one label) */

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

/* Bounds of what a registry accepts. */
#define METRICS_FAMILIES_MAX 64
#define METRICS_VALUES_MAX   32 /* values of a family's label */
#define METRICS_BUCKETS_MAX  24 /* finite bucket bounds of a histogram */
#define METRICS_VALUE_LEN    24 /* longest label value */
#define METRICS_HELP_LEN     240

/* Called by metrics_render() on the rendering thread just before FAMILY is
 * read, so that it can refresh gauges computed on demand (a cached read of
 * the queue, say). It must not block for long: a scrape waits for it. */
typedef void (*metric_collect_cb)(struct metric *family, void *arg);

struct metric_desc {
	const char *name; /* [a-zA-Z_:][a-zA-Z0-9_:]*; counters end in _total */
	const char *help; /* one line, no backslash */
	enum metric_type type;
	const char *label; /* NULL: no label; else [a-zA-Z_][a-zA-Z0-9_]* */
	/* The label's values, indexed by the caller's enum: 1 to
	 * METRICS_VALUE_LEN characters of [a-z0-9_], distinct, and no run of
	 * more than two digits. Only the pointer is kept: a static table. */
	const char *const *values;
	size_t n_values;
	/* Histograms: the buckets' upper bounds in seconds, increasing and
	 * positive (+Inf is implied). Only the pointer is kept. */
	const double *bounds;
	size_t n_bounds;
	/* Only one thread ever updates this family (the media clock's): its
	 * updates are plain atomic stores, no locked instruction. */
	bool one_writer;
	metric_collect_cb collect; /* may be NULL */
	void *collect_arg;
};

/* An empty registry, freed with metrics_free() (NULL-safe). */
int metrics_new(struct metrics **regp);
void metrics_free(struct metrics *reg);

/*
 * Adds the family D describes and sets *FAMILY (owned by REG). Returns
 * -EINVAL when D breaks a rule above (logged with the reason), -EEXIST for
 * a name already registered, -ENOSPC past METRICS_FAMILIES_MAX. Register
 * everything before the first render from another thread.
 */
int metrics_add(struct metrics *reg, const struct metric_desc *d,
                struct metric **family);

/*
 * Updates. VALUE is the index of the label's value (0 without a label);
 * an index out of range is ignored. A NULL family is ignored too, so a
 * process without metrics runs the same code. Safe from any thread.
 */
void metrics_counter_add(struct metric *f, unsigned value, uint64_t n);
static inline void metrics_counter_inc(struct metric *f, unsigned value)
{
	metrics_counter_add(f, value, 1);
}
void metrics_gauge_set(struct metric *f, unsigned value, int64_t v);
/* An observation of NS nanoseconds (negative counts as 0). */
void metrics_histogram_observe_ns(struct metric *f, unsigned value, int64_t ns);

/* The current value of a counter or gauge cell, for tests. */
int64_t metrics_value(const struct metric *f, unsigned value);

/*
 * The text exposition format 0.0.4 of every family in registration order
 * (HELP, TYPE, then the series; every label value is shown, 0 included).
 * *TEXT is malloc'ed, NUL-terminated, *LEN bytes; the caller frees it.
 * Safe from any thread while others update; collect callbacks run here.
 */
int metrics_render(struct metrics *reg, char **text, size_t *len);

/* The Content-Type of what metrics_render() produces. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* CLOCK_MONOTONIC in nanoseconds: the clock durations are measured on. */
int64_t metrics_now_ns(void);

#endif
