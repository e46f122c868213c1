/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time-zone names (what a registration form may store) and conversions,
 * including that the process's own TZ survives them and that concurrent
 * conversions do not see each other's zone.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tz.h"

static const struct {
	const char *name;
	bool valid;
} names[] = {
    {"UTC", true},
    {"Europe/Paris", true},
    {"America/New_York", true},
    {"America/Argentina/Buenos_Aires", true},
    {"America/Port-au-Prince", true},
    {"Etc/GMT+5", true},
    {"Etc/GMT-14", true},
    {"Asia/Kolkata", true},
    {"europe/paris", false}, /* names are case-sensitive files */
    {"Europe/Nowhere", false},
    {"Europe", false}, /* a directory */
    {"../../etc/passwd", false},
    {"/etc/localtime", false},
    {"Europe//Paris", false},
    {"Europe/Paris/", false},
    {"Europe/./Paris", false},
    {"zone.tab", false},
    {"leapseconds", false}, /* a text file in the directory */
    {"right/Europe/Paris", false},
    {"posix/Europe/Paris", false},
    {"-Europe", false},
    {"Europe/Paris ", false},
    {"Europe/Paris\n", false},
    {"", false},
    {"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
     false}, /* 65 bytes */
};

static void test_valid(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (tz_valid(names[i].name) != names[i].valid)
			fprintf(stderr, "tz \"%s\"\n", names[i].name);
		CHECK(tz_valid(names[i].name) == names[i].valid);
	}
	CHECK(!tz_valid(NULL));
}

static void test_convert(void)
{
	/* 2024-07-01 12:00:00 UTC and 2024-01-15 12:00:00 UTC */
	const time_t summer = 1719835200, winter = 1705320000;
	struct tm tm;

	CHECK_INT(tz_local_time("Europe/Paris", summer, &tm), 0);
	CHECK_INT(tm.tm_hour, 14);
	CHECK_INT(tm.tm_isdst, 1);
	CHECK_INT(tz_local_time("Europe/Paris", winter, &tm), 0);
	CHECK_INT(tm.tm_hour, 13);
	CHECK_INT(tz_local_time("America/New_York", summer, &tm), 0);
	CHECK_INT(tm.tm_hour, 8);
	CHECK_INT(tz_local_time("Asia/Kolkata", winter, &tm), 0);
	CHECK_INT(tm.tm_hour, 17);
	CHECK_INT(tm.tm_min, 30);
	CHECK_INT(tz_local_time("UTC", summer, &tm), 0);
	CHECK_INT(tm.tm_hour, 12);
	CHECK_INT(tz_local_time(NULL, summer, &tm), 0);
	CHECK_INT(tm.tm_hour, 12);
	CHECK_INT(tm.tm_mday, 1);
	CHECK_INT(tm.tm_mon, 6);
	CHECK(tz_local_time("../../etc/passwd", summer, &tm) < 0);
	CHECK(tz_local_time("Europe/Paris", summer, NULL) < 0);

	/* the process's TZ is put back, set or not */
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	CHECK_INT(tz_local_time("Europe/Paris", summer, &tm), 0);
	CHECK_STR(getenv("TZ"), "Asia/Tokyo");
	localtime_r(&summer, &tm);
	CHECK_INT(tm.tm_hour, 21);
	unsetenv("TZ");
	tzset();
	CHECK_INT(tz_local_time("Europe/Paris", summer, &tm), 0);
	CHECK(getenv("TZ") == NULL);
}

/*
 * The end of the user's day (key 9 pauses a sender until then), across
 * DST changes and odd offsets. The expected instants were worked out
 * apart from glibc, with Python's zoneinfo over the same tzdata.
 */
static void test_next_midnight(void)
{
	static const struct {
		const char *zone;
		time_t t, want;
	} cases[] = {
	    /* Berlin: the 23-hour day of the spring change, from its
	     * first second, and the 25-hour day of the autumn one. */
	    {"Europe/Berlin", 1711839600, 1711922400},
	    {"Europe/Berlin", 1711800000, 1711839600},
	    {"Europe/Berlin", 1729980000, 1730070000},
	    {"Europe/Berlin", 1729944000, 1729980000},
	    /* New York: the spring day (22 h left at 02:00 EDT), and the
	     * last second before the autumn day begins. */
	    {"America/New_York", 1710050400, 1710129600},
	    {"America/New_York", 1730606399, 1730606400},
	    /* Havana and Santiago skip midnight: the day begins at 01:00. */
	    {"America/Havana", 1709985600, 1710046800},
	    {"America/Santiago", 1725710400, 1725768000},
	    /* +14:00, -02:30, +05:30, and Lord Howe's half-hour DST. */
	    {"Pacific/Kiritimati", 1719827999, 1719828000},
	    {"Pacific/Kiritimati", 1719828000, 1719914400},
	    {"America/St_Johns", 1719800999, 1719801000},
	    {"Australia/Lord_Howe", 1728129600, 1728135000},
	    {"Asia/Kolkata", 1735669799, 1735669800},
	    {"Asia/Kolkata", 1735669800, 1735756200},
	    /* UTC, by name and as NULL, over a leap day. */
	    {"UTC", 1709164799, 1709164800},
	    {NULL, 1709164800, 1709251200},
	};
	time_t got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = 0;
		CHECK_INT(tz_next_midnight(cases[i].zone, cases[i].t, &got), 0);
		if (got != cases[i].want)
			fprintf(stderr, "%s at %lld: %lld, want %lld\n",
			        cases[i].zone ? cases[i].zone : "(null)",
			        (long long)cases[i].t, (long long)got,
			        (long long)cases[i].want);
		CHECK_INT(got, cases[i].want);
	}
	CHECK(tz_next_midnight("Mars/Olympus", 0, &got) < 0);
	CHECK(tz_next_midnight("Europe/Paris", 0, NULL) < 0);
}

struct worker {
	const char *zone;
	int hour; /* expected at "summer" */
	int bad;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	const time_t summer = 1719835200;

	for (int i = 0; i < 2000; i++) {
		struct tm tm;

		if (tz_local_time(w->zone, summer, &tm) ||
		    tm.tm_hour != w->hour)
			w->bad++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct worker w[] = {
	    {"Europe/Paris", 14, 0},
	    {"America/New_York", 8, 0},
	    {"Asia/Tokyo", 21, 0},
	    {"UTC", 12, 0},
	};
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		CHECK_INT(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(w[i].bad, 0);
	}
}

int main(void)
{
	test_valid();
	test_convert();
	test_next_midnight();
	test_threads();
	return check_exit("test_tz");
}
