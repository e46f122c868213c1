/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The metrics registry and its text exposition (metrics.h). Each family's
 * cells are one array of 64-bit atomics, allocated on cache lines of their
 * own so that the media thread's histogram and the loop's counters never
 * share a line. A histogram keeps one cell per bucket (not cumulative) plus
 * the sum in nanoseconds; rendering adds the buckets up, so +Inf and _count
 * always agree within a scrape, and every cell only grows.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

#define TAG  "metrics"
#define LINE 64 /* bytes of a cache line */

struct metric {
	struct metric_desc d;
	int64_t bounds_ns[METRICS_BUCKETS_MAX];
	size_t series; /* label values, or 1 */
	size_t stride; /* cells a series: 1, or buckets + 1 + the sum */
	_Atomic uint64_t *cells;
};

struct metrics {
	struct metric *families[METRICS_FAMILIES_MAX];
	size_t n;
};

int64_t metrics_now_ns(void)
{
	return clock_mono_ns();
}

int metrics_new(struct metrics **regp)
{
	*regp = calloc(1, sizeof(**regp));
	return *regp ? 0 : -ENOMEM;
}

void metrics_free(struct metrics *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++) {
		free(reg->families[i]->cells);
		free(reg->families[i]);
	}
	free(reg);
}

/* ---- the rules ----------------------------------------------------------- */

static bool name_ok(const char *s, bool colon)
{
	if (!s || !*s || strlen(s) > 200)
		return false;
	for (const char *p = s; *p; p++) {
		bool alpha = (*p >= 'a' && *p <= 'z') ||
		             (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		             (colon && *p == ':');

		if (!alpha && !(p > s && *p >= '0' && *p <= '9'))
			return false;
	}
	return true;
}

/* Short lower-case words: a JID needs '@' or '.', an address '.' or ':',
 * a number more than two digits in a row, a message spaces. */
static bool value_ok(const char *v)
{
	size_t len = v ? strlen(v) : 0, digits = 0;

	if (len == 0 || len > METRICS_VALUE_LEN)
		return false;
	for (const char *p = v; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (++digits > 2)
				return false;
			continue;
		}
		digits = 0;
		if (!(*p >= 'a' && *p <= 'z') && *p != '_')
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n >= t && !strcmp(s + n - t, tail);
}

/* Why D cannot be registered, or NULL. */
static const char *desc_why(const struct metric_desc *d, int64_t *bounds_ns)
{
	if (!name_ok(d->name, true))
		return "the name is not [a-zA-Z_:][a-zA-Z0-9_:]*";
	if (d->type == METRIC_COUNTER && !ends_with(d->name, "_total"))
		return "a counter's name ends in _total";
	if (d->type != METRIC_COUNTER && ends_with(d->name, "_total"))
		return "only a counter's name ends in _total";
	if (!d->help || !*d->help || strlen(d->help) > METRICS_HELP_LEN ||
	    strpbrk(d->help, "\\\n\r"))
		return "the help text must be one line without a backslash";
	if (d->type != METRIC_COUNTER && d->type != METRIC_GAUGE &&
	    d->type != METRIC_HISTOGRAM)
		return "unknown type";
	if (d->label) {
		if (!name_ok(d->label, false) || !strncmp(d->label, "__", 2))
			return "the label name is not [a-zA-Z_][a-zA-Z0-9_]*";
		if (d->type == METRIC_HISTOGRAM && !strcmp(d->label, "le"))
			return "a histogram cannot have a label \"le\"";
		if (!d->values || d->n_values == 0 ||
		    d->n_values > METRICS_VALUES_MAX)
			return "a label needs 1 to 32 values";
		for (size_t i = 0; i < d->n_values; i++) {
			if (!value_ok(d->values[i]))
				return "a label value is not a short word of "
				       "[a-z0-9_] without a number in it";
			for (size_t j = 0; j < i; j++)
				if (!strcmp(d->values[i], d->values[j]))
					return "label values repeat";
		}
	} else if (d->values || d->n_values) {
		return "values without a label";
	}
	if (d->type != METRIC_HISTOGRAM)
		return d->bounds || d->n_bounds ? "buckets on a non-histogram"
		                                : NULL;
	if (!d->bounds || d->n_bounds == 0 || d->n_bounds > METRICS_BUCKETS_MAX)
		return "a histogram needs 1 to 24 bucket bounds";
	for (size_t i = 0; i < d->n_bounds; i++) {
		double b = d->bounds[i];

		if (!isfinite(b) || b <= 0 || b > 1e6)
			return "a bucket bound is not a positive number of "
			       "seconds";
		bounds_ns[i] = llround(b * 1e9);
		if (bounds_ns[i] < 1 ||
		    (i > 0 && bounds_ns[i] <= bounds_ns[i - 1]))
			return "bucket bounds must increase";
	}
	return NULL;
}

int metrics_add(struct metrics *reg, const struct metric_desc *d,
                struct metric **family)
{
	struct metric *f;
	const char *why;
	size_t bytes;

	*family = NULL;
	if (!reg || !d)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	why = desc_why(d, f->bounds_ns);
	if (why) {
		log_err(TAG, "cannot register %s: %s", d->name ? d->name : "?",
		        why);
		free(f);
		return -EINVAL;
	}
	for (size_t i = 0; i < reg->n; i++) {
		if (!strcmp(reg->families[i]->d.name, d->name)) {
			free(f);
			return -EEXIST;
		}
	}
	if (reg->n == METRICS_FAMILIES_MAX) {
		free(f);
		return -ENOSPC;
	}
	f->d = *d;
	f->series = d->label ? d->n_values : 1;
	f->stride = d->type == METRIC_HISTOGRAM ? d->n_bounds + 2 : 1;
	bytes = f->series * f->stride * sizeof(f->cells[0]);
	bytes = (bytes + LINE - 1) / LINE * LINE;
	f->cells = aligned_alloc(LINE, bytes);
	if (!f->cells) {
		free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < bytes / sizeof(f->cells[0]); i++)
		atomic_init(&f->cells[i], 0);
	reg->families[reg->n++] = f;
	*family = f;
	return 0;
}

/* ---- updates ------------------------------------------------------------- */

static void cell_add(const struct metric *f, _Atomic uint64_t *cell, uint64_t n)
{
	if (f->d.one_writer)
		atomic_store_explicit(
		    cell, atomic_load_explicit(cell, memory_order_relaxed) + n,
		    memory_order_relaxed);
	else
		atomic_fetch_add_explicit(cell, n, memory_order_relaxed);
}

void metrics_counter_add(struct metric *f, unsigned value, uint64_t n)
{
	if (!f || f->d.type != METRIC_COUNTER || value >= f->series)
		return;
	cell_add(f, &f->cells[value], n);
}

void metrics_gauge_set(struct metric *f, unsigned value, int64_t v)
{
	if (!f || f->d.type != METRIC_GAUGE || value >= f->series)
		return;
	atomic_store_explicit(&f->cells[value], (uint64_t)v,
	                      memory_order_relaxed);
}

void metrics_histogram_observe_ns(struct metric *f, unsigned value, int64_t ns)
{
	_Atomic uint64_t *s;
	size_t b = 0;

	if (!f || f->d.type != METRIC_HISTOGRAM || value >= f->series)
		return;
	if (ns < 0)
		ns = 0;
	/* A dozen bounds at most: a linear search is as quick as any. */
	while (b < f->d.n_bounds && ns > f->bounds_ns[b])
		b++;
	s = &f->cells[value * f->stride];
	cell_add(f, &s[b], 1);
	cell_add(f, &s[f->d.n_bounds + 1], (uint64_t)ns);
}

int64_t metrics_value(const struct metric *f, unsigned value)
{
	if (!f || f->d.type == METRIC_HISTOGRAM || value >= f->series)
		return 0;
	return (int64_t)atomic_load_explicit(&f->cells[value],
	                                     memory_order_relaxed);
}

/* ---- exposition ---------------------------------------------------------- */

static uint64_t cell_get(const struct metric *f, size_t i)
{
	return atomic_load_explicit(&f->cells[i], memory_order_relaxed);
}

/* `{label="value"` and, when MORE, a comma for what follows. */
static void label_open(FILE *o, const struct metric *f, size_t s, bool more)
{
	if (f->d.label)
		fprintf(o, "{%s=\"%s\"%s", f->d.label, f->d.values[s],
		        more ? "," : "}");
	else if (more)
		fputc('{', o);
}

/* NS as seconds, exactly: no float rounds a sum of nanoseconds. */
static void seconds_print(FILE *o, uint64_t ns)
{
	char frac[16];
	int n;

	n = snprintf(frac, sizeof(frac), "%09llu",
	             (unsigned long long)(ns % 1000000000u));
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	fprintf(o, " %llu%s%s\n", (unsigned long long)(ns / 1000000000u),
	        n ? "." : "", frac);
}

static void histogram_render(FILE *o, const struct metric *f, size_t s)
{
	uint64_t cum = 0;
	size_t b;

	for (b = 0; b <= f->d.n_bounds; b++) {
		cum += cell_get(f, s * f->stride + b);
		fprintf(o, "%s_bucket", f->d.name);
		label_open(o, f, s, true);
		if (b < f->d.n_bounds)
			fprintf(o, "le=\"%g\"} %llu\n", f->d.bounds[b],
			        (unsigned long long)cum);
		else
			fprintf(o, "le=\"+Inf\"} %llu\n",
			        (unsigned long long)cum);
	}
	fprintf(o, "%s_sum", f->d.name);
	label_open(o, f, s, false);
	seconds_print(o, cell_get(f, s * f->stride + f->d.n_bounds + 1));
	fprintf(o, "%s_count", f->d.name);
	label_open(o, f, s, false);
	fprintf(o, " %llu\n", (unsigned long long)cum);
}

static const char *type_name(enum metric_type t)
{
	return t == METRIC_COUNTER ? "counter"
	       : t == METRIC_GAUGE ? "gauge"
	                           : "histogram";
}

int metrics_render(struct metrics *reg, char **text, size_t *len)
{
	FILE *o;

	*text = NULL;
	*len = 0;
	if (!reg)
		return -EINVAL;
	o = open_memstream(text, len);
	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < reg->n; i++) {
		struct metric *f = reg->families[i];

		if (f->d.collect)
			f->d.collect(f, f->d.collect_arg);
		fprintf(o, "# HELP %s %s\n# TYPE %s %s\n", f->d.name, f->d.help,
		        f->d.name, type_name(f->d.type));
		for (size_t s = 0; s < f->series; s++) {
			if (f->d.type == METRIC_HISTOGRAM) {
				histogram_render(o, f, s);
				continue;
			}
			fputs(f->d.name, o);
			label_open(o, f, s, false);
			if (f->d.type == METRIC_GAUGE)
				fprintf(o, " %lld\n",
				        (long long)(int64_t)cell_get(f, s));
			else
				fprintf(o, " %llu\n",
				        (unsigned long long)cell_get(f, s));
		}
	}
	if (fclose(o) != 0 || !*text) {
		free(*text);
		*text = NULL;
		*len = 0;
		return -ENOMEM;
	}
	return 0;
}
