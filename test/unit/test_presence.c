/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The aggregation behind the queue's "xmpp" presence rows: a user's best
 * resource is the one with the highest priority, among those the most
 * available, among those the latest to change; resources come and go;
 * limits hold. Also the parsers for <show/>, <priority/> and the status
 * shortening that keeps UTF-8 whole.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "check.h"
#include "presence.h"

/* One step: a presence from FULL (available or not), then the aggregate
 * expected for bob@example.org (state "unavailable" when none). */
struct step {
	const char *full;
	bool available;
	const char *show;
	const char *priority;
	const char *status;
	const char *want_state;
	const char *want_status;
};

static const struct step steps[] = {
    /* One resource: its show and status. */
    {"bob@example.org/phone", true, NULL, NULL, "here", "available", "here"},
    {"bob@example.org/phone", true, "away", NULL, "lunch", "away", "lunch"},
    /* A second resource, more available, same priority: it wins. */
    {"bob@example.org/desk", true, "chat", NULL, NULL, "chat", NULL},
    /* Priority beats availability. */
    {"bob@example.org/phone", true, "xa", "5", "far", "xa", "far"},
    {"bob@example.org/desk", true, "dnd", "10", "busy", "dnd", "busy"},
    /* Negative priority still counts when it is the highest there is. */
    {"bob@example.org/desk", false, NULL, NULL, NULL, "xa", "far"},
    {"bob@example.org/laptop", true, NULL, "-1", NULL, "xa", "far"},
    {"bob@example.org/phone", false, NULL, NULL, "bye", "available", NULL},
    /* A tie on priority and show: the latest change. */
    {"bob@example.org/tablet", true, NULL, "-1", "new", "available", "new"},
    {"bob@example.org/laptop", true, NULL, "-1", "newer", "available", "newer"},
    /* Unavailable from the bare JID ends every resource. */
    {"bob@example.org", false, NULL, NULL, NULL, "unavailable", NULL},
    /* Garbage priorities count as 0; unknown shows as available. */
    {"bob@example.org/a", true, "sleeping", "999", NULL, "available", NULL},
    {"bob@example.org/b", true, "away", "1x", NULL, "available", NULL},
    {"bob@example.org/c", true, "xa", "1", NULL, "xa", NULL},
};

static void test_aggregate(void)
{
	struct presence_table *t = comp_presence_new();

	for (size_t i = 0; i < G_N_ELEMENTS(steps); i++) {
		const struct step *s = &steps[i];
		enum presence_show show;
		const char *status = NULL;
		const char *state = "unavailable";

		CHECK_INT(
		    comp_presence_set(t, s->full, s->available,
		                      comp_presence_show_parse(s->show),
		                      comp_presence_priority_parse(s->priority),
		                      s->status),
		    0);
		if (comp_presence_aggregate(t, "bob@example.org", &show,
		                            &status))
			state = comp_presence_show_name(show);
		else
			status = NULL;
		CHECK_STR(state, s->want_state);
		if (s->want_status)
			CHECK_STR(status, s->want_status);
		else
			CHECK(status == NULL);
	}
	/* Another user is separate. */
	{
		enum presence_show show;

		CHECK(!comp_presence_aggregate(t, "carol@example.org", &show,
		                               NULL));
	}
	comp_presence_clear(t);
	{
		enum presence_show show;

		CHECK(!comp_presence_aggregate(t, "bob@example.org", &show,
		                               NULL));
	}
	comp_presence_free(t);
}

static void test_limits(void)
{
	struct presence_table *t = comp_presence_new();
	char full[64];

	for (int i = 0; i < PRESENCE_RESOURCES_PER_USER_MAX; i++) {
		snprintf(full, sizeof(full), "bob@example.org/r%d", i);
		CHECK_INT(
		    comp_presence_set(t, full, true, PRESENCE_AWAY, 0, NULL),
		    0);
	}
	CHECK_INT(comp_presence_set(t, "bob@example.org/one-more", true,
	                            PRESENCE_CHAT, 0, NULL),
	          -E2BIG);
	/* An existing resource may still change. */
	CHECK_INT(comp_presence_set(t, "bob@example.org/r0", true,
	                            PRESENCE_CHAT, 0, NULL),
	          0);
	comp_presence_free(t);
}

static void count_cb(const char *bare, void *arg)
{
	GString *seen = arg;

	g_string_append_printf(seen, "%s;", bare);
}

/* Every change, through whatever path, is reported once per user. */
static void test_changed(void)
{
	struct presence_table *t = comp_presence_new();
	GString *seen = g_string_new(NULL);

	comp_presence_changed_drain(t, count_cb, seen);
	CHECK_STR(seen->str, "");
	CHECK_INT(
	    comp_presence_update(t, "bob@example.org/a", true, PRESENCE_AWAY),
	    0);
	CHECK_INT(
	    comp_presence_update(t, "bob@example.org/b", true, PRESENCE_CHAT),
	    0);
	comp_presence_changed_drain(t, count_cb, seen);
	CHECK_STR(seen->str, "bob@example.org;");
	g_string_truncate(seen, 0);
	comp_presence_changed_drain(t, count_cb, seen);
	CHECK_STR(seen->str, "");
	/* Forgetting a resource (as a recheck does) counts too. */
	CHECK_INT(comp_presence_update(t, "bob@example.org/a", false,
	                               PRESENCE_AVAILABLE),
	          0);
	comp_presence_changed_drain(t, count_cb, seen);
	CHECK_STR(seen->str, "bob@example.org;");
	g_string_truncate(seen, 0);
	/* So does emptying the table on a reconnect. */
	comp_presence_clear(t);
	comp_presence_changed_drain(t, count_cb, seen);
	CHECK_STR(seen->str, "bob@example.org;");
	g_string_free(seen, TRUE);
	comp_presence_free(t);
}

static void test_parsers(void)
{
	static const struct {
		const char *in;
		int want;
	} prios[] = {
	    {NULL, 0},      {"", 0},      {"5", 5},           {" 7\n", 7},
	    {"-128", -128}, {"127", 127}, {"128", 0},         {"-129", 0},
	    {"1x", 0},      {"x", 0},     {"99999999999", 0},
	};
	char *s;

	for (size_t i = 0; i < G_N_ELEMENTS(prios); i++)
		CHECK_INT(comp_presence_priority_parse(prios[i].in),
		          prios[i].want);
	CHECK_STR(comp_presence_show_name(comp_presence_show_parse("dnd")),
	          "dnd");
	CHECK_STR(comp_presence_show_name(comp_presence_show_parse(NULL)),
	          "available");
	CHECK(comp_presence_status_copy(NULL, 10) == NULL);
	s = comp_presence_status_copy("short", 10);
	CHECK_STR(s, "short");
	g_free(s);
	/* "caf\xc3\xa9" cut at 4 bytes would split the e-acute. */
	s = comp_presence_status_copy("caf\xc3\xa9!", 4);
	CHECK_STR(s, "caf");
	g_free(s);
	s = comp_presence_status_copy("caf\xc3\xa9!", 5);
	CHECK_STR(s, "caf\xc3\xa9");
	g_free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What the ejabberd recheck (presence_recheck.c) asks: every resource, as a
 * full JID (a resource-less entry as the bare JID), and nothing once all
 * are gone. */
static void test_resources(void)
{
	struct presence_table *t = comp_presence_new();
	char **r;

	CHECK(comp_presence_resources(t, "bob@example.org") == NULL);
	comp_presence_update(t, "bob@example.org/phone", true,
	                     PRESENCE_AVAILABLE);
	comp_presence_update(t, "bob@example.org/desk", true, PRESENCE_AWAY);
	comp_presence_update(t, "alice@example.org/x", true,
	                     PRESENCE_AVAILABLE);
	r = comp_presence_resources(t, "bob@example.org");
	CHECK(r != NULL);
	if (r) {
		CHECK_INT((int)g_strv_length(r), 2);
		qsort(r, g_strv_length(r), sizeof(*r), cmp_str);
		CHECK_STR(r[0], "bob@example.org/desk");
		CHECK_STR(r[1], "bob@example.org/phone");
		g_strfreev(r);
	}
	comp_presence_update(t, "bob@example.org/phone", false,
	                     PRESENCE_AVAILABLE);
	r = comp_presence_resources(t, "bob@example.org");
	CHECK(r != NULL && g_strv_length(r) == 1 &&
	      !strcmp(r[0], "bob@example.org/desk"));
	g_strfreev(r);
	comp_presence_update(t, "bob@example.org/desk", false,
	                     PRESENCE_AVAILABLE);
	CHECK(comp_presence_resources(t, "bob@example.org") == NULL);
	comp_presence_update(t, "carol@example.org", true, PRESENCE_AVAILABLE);
	r = comp_presence_resources(t, "carol@example.org");
	CHECK(r != NULL && g_strv_length(r) == 1 &&
	      !strcmp(r[0], "carol@example.org"));
	g_strfreev(r);
	comp_presence_free(t);
}

int main(void)
{
	test_aggregate();
	test_limits();
	test_changed();
	test_parsers();
	test_resources();
	return check_exit("test_presence");
}
