/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests of the /status page's pure pieces (component/statuspage.c): the
 * HTML escaping every queue string goes through, the SVG chart builder, and
 * a whole page rendered from a summary holding hostile text, checked for
 * raw markup. The HTTP side (auth, 401/429/404) is tested through the real
 * component in test/integration/test_status_page.py.
 */
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "check.h"
#include "statuspage.h"
#include "summary.h"

static void test_escape(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain text", "plain text"},
	    {NULL, "-"},
	    {"", ""},
	    {"<script>alert(1)</script>",
	     "&lt;script&gt;alert(1)&lt;/script&gt;"},
	    {"a&b", "a&amp;b"},
	    {"\"quoted\" 'single'", "&quot;quoted&quot; &#39;single&#39;"},
	    {"x\ny\x1b[31m\x7f", "x\xef\xbf\xbdy\xef\xbf\xbd[31m\xef\xbf\xbd"},
	    {"caf\xc3\xa9 \xe2\x98\x8e", "caf\xc3\xa9 \xe2\x98\x8e"},
	    {"&amp;", "&amp;amp;"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		GString *g = g_string_new(NULL);

		statuspage_html_escape(g, cases[i].in);
		CHECK_STR(g->str, cases[i].out);
		g_string_free(g, TRUE);
	}
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* Hour 491,520 since the epoch is 2026-01-27T00 UTC. */
#define HOUR0 491520

static void test_chart(void)
{
	int64_t counts[24] = {0};
	GString *g = g_string_new(NULL);

	counts[0] = 2;
	counts[23] = 4;
	statuspage_chart_svg(g, counts, 24, HOUR0);
	CHECK(g_str_has_prefix(g->str, "<svg xmlns=\"http://www.w3.org/2000/"
	                               "svg\""));
	CHECK(g_str_has_suffix(g->str, "</svg>\n"));
	CHECK_INT(count(g->str, "<rect class=\"bar\""), 24);
	CHECK(strstr(g->str, "data-hour=\"2026-01-27T00\" data-count=\"2\""));
	CHECK(strstr(g->str, "data-hour=\"2026-01-27T23\" data-count=\"4\""));
	CHECK(strstr(g->str, "data-hour=\"2026-01-27T05\" data-count=\"0\""));
	/* The largest bar is full height (110 units), the other half. */
	CHECK(strstr(g->str, "data-count=\"4\" x=\"462.6\" y=\"10.0\" "
	                     "width=\"16\" height=\"110.0\""));
	CHECK(strstr(g->str, "y=\"65.0\" width=\"16\" height=\"55.0\""));
	CHECK(strstr(g->str, "<title>23:00 UTC: 4 calls</title>"));
	g_string_truncate(g, 0);

	/* No calls: every bar flat, nothing divided by zero. */
	memset(counts, 0, sizeof(counts));
	statuspage_chart_svg(g, counts, 24, HOUR0);
	CHECK_INT(count(g->str, "height=\"0.0\""), 24);
	CHECK(!strstr(g->str, "nan"));
	g_string_truncate(g, 0);

	counts[0] = 1;
	statuspage_chart_svg(g, counts, 1, HOUR0);
	CHECK_INT(count(g->str, "<rect"), 1);
	CHECK(strstr(g->str, "<title>00:00 UTC: 1 call</title>"));
	g_string_free(g, TRUE);
}

static void test_page(void)
{
	struct summary_outcome o = {
	    .id = 7,
	    .kind = QUEUE_JOB_MESSAGE,
	    .state = QUEUE_JOB_FAILED,
	    .callee_jid = "bob@example.org",
	    .sender_jid = "\"><script>alert(2)</script>@evil.example",
	    .attempts = 1,
	    .finished_ms = 1700000000000LL,
	    .reason = "<script>alert(1)</script>",
	};
	struct summary_registration r = {.jid = "<img src=x onerror=alert(3)>",
	                                 .phone = "+15551234567"};
	struct summary_domain d = {.domain = "example.org", .grants = NULL};
	struct summary s = {
	    .now_ms = 1700000000000LL,
	    .component = "callgw.example.org",
	    .domains = &d,
	    .n_domains = 1,
	    .outcomes = &o,
	    .n_outcomes = 1,
	    .registrations = &r,
	    .n_registrations = 1,
	    .search = "\"><b>",
	    .first_hour = HOUR0,
	};
	GString *g = g_string_new(NULL);

	s.calls_per_hour[23] = 1;
	s.jobs[QUEUE_JOB_ACTIVE] = 3; /* more than the list holds */
	statuspage_render(g, &s);
	CHECK(g_str_has_prefix(g->str, "<!DOCTYPE html>"));
	CHECK(!strstr(g->str, "<script"));
	CHECK(!strstr(g->str, "<img"));
	CHECK(!strstr(g->str, "<b>"));
	CHECK(strstr(g->str, "&lt;script&gt;alert(1)&lt;/script&gt;"));
	CHECK(strstr(g->str, "value=\"&quot;&gt;&lt;b&gt;\""));
	CHECK(strstr(g->str, "<tr data-job=\"7\">"));
	CHECK(strstr(g->str, "none advertised"));
	CHECK(strstr(g->str, "no status row yet"));
	CHECK(strstr(g->str, "last 24 hours: 1</h2>"));
	CHECK(strstr(g->str, "Calls in progress: 3 (0 listed)</h2>"));
	CHECK_INT(count(g->str, "<svg"), 1);
	g_string_free(g, TRUE);
}

int main(void)
{
	test_escape();
	test_chart();
	test_page();
	return check_exit("test_statuspage");
}
