/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The comparison behind push registrations that follow the registrations
 * table (push_plan.h). A user's steps are decided by push_plan_user() alone,
 * so the one-user path (a registration changed in this process) and the
 * full reconciliation (wake-ups, the periodic pass, reconnects) cannot
 * disagree.
 */
#include <string.h>

#include "push_plan.h"

int push_plan_user(const char *jid, const char *enabled, const char *wanted,
                   bool force, struct push_step out[2])
{
	int n = 0;

	if (enabled && wanted && !strcmp(enabled, wanted)) {
		if (force)
			out[n++] = (struct push_step){
			    PUSH_STEP_ENABLE, (char *)jid, (char *)wanted};
		return n;
	}
	/* The old node first: the server then never holds two nodes for
	 * the user longer than the two IQs take. */
	if (enabled)
		out[n++] = (struct push_step){PUSH_STEP_DISABLE, (char *)jid,
		                              (char *)enabled};
	if (wanted)
		out[n++] = (struct push_step){PUSH_STEP_ENABLE, (char *)jid,
		                              (char *)wanted};
	return n;
}

static void add_steps(GArray *steps, const char *jid, const char *enabled,
                      const char *wanted, bool force)
{
	struct push_step s[2];
	int n = push_plan_user(jid, enabled, wanted, force, s);

	for (int i = 0; i < n; i++) {
		s[i].jid = g_strdup(s[i].jid);
		s[i].node = g_strdup(s[i].node);
		g_array_append_val(steps, s[i]);
	}
}

static gint step_cmp(gconstpointer a, gconstpointer b)
{
	const struct push_step *x = a, *y = b;
	int d = strcmp(x->jid, y->jid);

	return d ? d : (int)x->kind - (int)y->kind;
}

GArray *push_plan_diff(GHashTable *enabled, GHashTable *wanted, bool force)
{
	GArray *steps = g_array_new(FALSE, FALSE, sizeof(struct push_step));
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, wanted);
	while (g_hash_table_iter_next(&it, &k, &v))
		add_steps(steps, k, g_hash_table_lookup(enabled, k), v, force);
	g_hash_table_iter_init(&it, enabled);
	while (g_hash_table_iter_next(&it, &k, &v))
		if (!g_hash_table_contains(wanted, k))
			add_steps(steps, k, v, NULL, force);
	/* Stable order for logs and tests; a user's steps stay paired. */
	g_array_sort(steps, step_cmp);
	return steps;
}

void push_plan_free(GArray *steps)
{
	if (!steps)
		return;
	for (guint i = 0; i < steps->len; i++) {
		struct push_step *s =
		    &g_array_index(steps, struct push_step, i);

		g_free(s->jid);
		g_free(s->node);
	}
	g_array_free(steps, TRUE);
}
