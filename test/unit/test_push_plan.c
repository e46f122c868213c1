/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The reconcile diff behind push registrations that follow the
 * registrations table: which nodes are enabled and disabled on the server
 * for each way a registration can change.
 */
#include <string.h>

#include "check.h"
#include "push_plan.h"

/* One user's case: node enabled, node in the table, force, and the steps
 * as "D:node" / "E:node" joined by spaces. */
static const struct {
	const char *enabled;
	const char *wanted;
	bool force;
	const char *steps;
} user_cases[] = {
    {NULL, NULL, false, ""},
    {NULL, NULL, true, ""},
    {NULL, "n1", false, "E:n1"},        /* new registration */
    {"n1", "n1", false, ""},            /* unchanged */
    {"n1", "n1", true, "E:n1"},         /* after a reconnect */
    {"n1", NULL, false, "D:n1"},        /* unregistered */
    {"n1", NULL, true, "D:n1"},         /* unregistered while away */
    {"n1", "n2", false, "D:n1 E:n2"},   /* re-registered */
    {"n1", "n2", true, "D:n1 E:n2"},    /* the same after reconnect */
    {"n1", "n10", false, "D:n1 E:n10"}, /* prefix is not equal */
};

static void steps_text(const struct push_step *s, int n, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		used += (size_t)snprintf(
		    out + used, len - used, "%s%c:%s", i ? " " : "",
		    s[i].kind == PUSH_STEP_DISABLE ? 'D' : 'E', s[i].node);
}

static void test_user(void)
{
	for (size_t i = 0; i < sizeof(user_cases) / sizeof(user_cases[0]);
	     i++) {
		struct push_step s[2];
		char text[64];
		int n = push_plan_user("bob@localhost", user_cases[i].enabled,
		                       user_cases[i].wanted,
		                       user_cases[i].force, s);

		steps_text(s, n, text, sizeof(text));
		CHECK_STR(text, user_cases[i].steps);
		for (int k = 0; k < n; k++)
			CHECK_STR(s[k].jid, "bob@localhost");
	}
}

static GHashTable *table(const char *const *pairs)
{
	GHashTable *t =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	for (; pairs && pairs[0]; pairs += 2)
		g_hash_table_insert(t, g_strdup(pairs[0]), g_strdup(pairs[1]));
	return t;
}

static char *diff_text(GHashTable *enabled, GHashTable *wanted, bool force)
{
	GArray *steps = push_plan_diff(enabled, wanted, force);
	GString *out = g_string_new("");

	for (guint i = 0; i < steps->len; i++) {
		struct push_step *s =
		    &g_array_index(steps, struct push_step, i);

		g_string_append_printf(out, "%s%s %c:%s", i ? ", " : "", s->jid,
		                       s->kind == PUSH_STEP_DISABLE ? 'D' : 'E',
		                       s->node);
	}
	push_plan_free(steps);
	return g_string_free(out, FALSE);
}

static void test_diff(void)
{
	const char *enabled[] = {"alice@x", "a1",     "bob@x", "b1", "carol@x",
	                         "c1",      "dave@x", "d1",    NULL};
	/* bob re-registered, carol unregistered, erin is new, alice and dave
	 * unchanged. */
	const char *wanted[] = {"alice@x", "a1",     "bob@x", "b2", "dave@x",
	                        "d1",      "erin@x", "e1",    NULL};
	GHashTable *e = table(enabled), *w = table(wanted), *none = table(NULL);
	char *t;

	t = diff_text(e, w, false);
	CHECK_STR(t, "bob@x D:b1, bob@x E:b2, carol@x D:c1, erin@x E:e1");
	g_free(t);
	t = diff_text(e, w, true);
	CHECK_STR(t, "alice@x E:a1, bob@x D:b1, bob@x E:b2, carol@x D:c1, "
	             "dave@x E:d1, erin@x E:e1");
	g_free(t);
	/* The tables are left alone, so a second pass gives the same. */
	CHECK_INT(g_hash_table_size(e), 4);
	CHECK_INT(g_hash_table_size(w), 4);
	t = diff_text(w, w, false);
	CHECK_STR(t, "");
	g_free(t);
	/* An empty table disables everything; nothing enabled enables all. */
	t = diff_text(e, none, false);
	CHECK_STR(t, "alice@x D:a1, bob@x D:b1, carol@x D:c1, dave@x D:d1");
	g_free(t);
	t = diff_text(none, w, false);
	CHECK_STR(t, "alice@x E:a1, bob@x E:b2, dave@x E:d1, erin@x E:e1");
	g_free(t);
	push_plan_free(NULL);
	g_hash_table_destroy(e);
	g_hash_table_destroy(w);
	g_hash_table_destroy(none);
}

int main(void)
{
	test_user();
	test_diff();
	return check_exit("push_plan");
}
