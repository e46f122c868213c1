/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's status row in the queue (queue_component_status_put):
 * whether it is connected, since when, and what each served domain
 * granted, rewritten at connect, after each privilege advertisement, after
 * a disconnect and every STATUS_HEARTBEAT_MS. `ringbridgectl check` reads it
 * instead of opening a second XEP-0114 session, which the server would
 * refuse or (Prosody with component_conflict_resolve = "kick_old") answer by
 * dropping ours. The row goes to the writer thread (store_call) like
 * every other commit of the component: a write costs an fsync, and the
 * loop never waits for one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "comp.h"
#include "log.h"
#include "store.h"

#define TAG "status"

struct comp_status {
	struct comp *c;
	struct timer heartbeat;
	bool failed;  /* the last write failed (logged) */
	bool stopped; /* the last write: the process is exiting */
};

/* One line per advertised domain, "DOMAIN NS presence=yes ...". */
static GString *privileges_text(struct comp *c)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; i < c->cfg->xmpp.user_domains.n; i++) {
		const struct comp_privileges *p = &c->priv[i];

		if (!p->advertised)
			continue;
		g_string_append_printf(
		    s,
		    "%s%s %s presence=%s message=%s roster=%s push=%s "
		    "pubsub=%s",
		    s->len ? "\n" : "", c->cfg->xmpp.user_domains.v[i], p->ns,
		    p->grants.presence ? "yes" : "no",
		    p->grants.message ? "yes" : "no",
		    p->grants.roster_get ? "yes" : "no",
		    p->grants.iq_push_set ? "yes" : "no",
		    p->grants.iq_pubsub_set ? "yes" : "no");
	}
	return s;
}

static void status_free(struct queue_component_status *st)
{
	g_free(st->component);
	g_free(st->owner);
	g_free(st->privileges);
	g_free(st);
}

/* On the store's thread. */
static int status_put(struct queue *q, void *arg)
{
	return queue_component_status_put(q, arg);
}

static void status_done(struct comp *c, int err, void *arg)
{
	status_free(arg);
	if (err && !c->status->failed)
		log_warn(TAG,
		         "cannot record the component's status in the queue "
		         "(%s): ringbridgectl check will not see it",
		         strerror(-err));
	c->status->failed = err != 0;
}

void comp_status_write(struct comp *c)
{
	struct queue_component_status *st;
	char host[256] = "";
	GString *priv;

	if (!c->q || !c->store || !c->status)
		return;
	/* Again after a heartbeat, whether written now or not. */
	if (!c->status->stopped)
		timer_start(&c->timers, &c->status->heartbeat,
		            COMP_STATUS_HEARTBEAT_MS);
	/* The row is the session's, so the active process's alone. */
	if (!comp_standby_active(c))
		return;
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	priv = privileges_text(c);
	st = g_new0(struct queue_component_status, 1);
	st->component = g_strdup(c->domain);
	st->owner = g_strdup_printf("%s:%ld", host, (long)getpid());
	st->connected_ms = c->connected ? c->connected_at_ms : 0;
	st->privileges = priv->len ? g_strdup(priv->str) : NULL;
	st->stopped = c->status->stopped;
	g_string_free(priv, TRUE);
	store_call(c->store, status_put, st, status_done);
}

void comp_status_stop(struct comp *c)
{
	if (!c->status)
		return;
	c->status->stopped = true;
	timer_stop(&c->timers, &c->status->heartbeat);
	comp_status_write(c);
}

static void on_heartbeat(void *arg)
{
	comp_status_write(arg);
}

int comp_status_new(struct comp_status **sp, struct comp *c)
{
	struct comp_status *s = g_new0(struct comp_status, 1);

	s->c = c;
	timer_init(&s->heartbeat, on_heartbeat, c);
	*sp = s;
	return 0;
}

void comp_status_free(struct comp *c)
{
	if (!c->status)
		return;
	timer_stop(&c->timers, &c->status->heartbeat);
	g_free(c->status);
	c->status = NULL;
}
