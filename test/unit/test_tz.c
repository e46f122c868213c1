/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Time-zone names (what a registration form may store) and conversions,
 * including that the process's own TZ survives them and that concurrent
 * conversions do not see each other's zone.
 */
#include <pthread.h>
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
	test_threads();
	return check_exit("test_tz");
}
