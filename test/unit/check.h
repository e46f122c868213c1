/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The smallest test harness that does the job: CHECK() records a failure
 * with file and line and carries on, so one run reports every broken case of
 * a table; check_exit() prints the summary line and gives main's status.
 */
#ifndef RB_CHECK_H
#define RB_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
	do {                                                                   \
		check_count++;                                                 \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			        __LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *check_a_ = (a), *check_b_ = (b);                   \
		check_count++;                                                 \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_)) {    \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, \
			        __LINE__, check_a_ ? check_a_ : "(null)",      \
			        check_b_ ? check_b_ : "(null)");               \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long check_a_ = (long long)(a),                           \
		          check_b_ = (long long)(b);                           \
		check_count++;                                                 \
		if (check_a_ != check_b_) {                                    \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n",  \
			        __FILE__, __LINE__, #a, check_a_, check_b_);   \
		}                                                              \
	} while (0)

static inline int check_exit(const char *name)
{
	printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif
