/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time zones by IANA name ("Europe/Paris"). glibc only converts through the
 * TZ variable, so conversions are serialised by a mutex; callers use them a
 * few times per message, not per packet.
 */
#ifndef RB_TZ_H
#define RB_TZ_H

#include <stdbool.h>
#include <time.h>

/* True when NAME is a syntactically safe zone name that exists in tzdata. */
bool tz_valid(const char *name);

/*
 * Converts T into local broken-down time in zone NAME (UTC when NULL). Not
 * named tz_localtime(): libspandsp exports a function of that name, and the
 * link order would decide which one a caller gets.
 */
int tz_local_time(const char *name, time_t t, struct tm *out);

#endif
