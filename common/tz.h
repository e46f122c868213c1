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

/*
 * The first instant of the local day after the one T falls in, in zone NAME
 * (UTC when NULL): the end of "today" for someone living there. A day is
 * 23, 24 or 25 hours long across a DST change, and where a change skips
 * midnight itself (America/Havana, America/Santiago, formerly Sao Paulo) the
 * day begins at 01:00. *OUT is always later than T. Returns 0, -EINVAL (a
 * zone tz_valid() refuses), -EOVERFLOW.
 */
int tz_next_midnight(const char *name, time_t t, time_t *out);

#endif
