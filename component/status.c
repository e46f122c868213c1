/*
 * The component's status row in the queue (queue_component_status_put):
 * whether it is connected, since when, and what each served domain
 * granted, rewritten at connect, after each privilege advertisement, after
 * a disconnect and every STATUS_HEARTBEAT_MS. `ringbridgectl check` reads it
 * instead of opening a second XEP-0114 session, which the server would
 * refuse or (Prosody with component_conflict_resolve = "kick_old") answer by
 * dropping ours. One small commit every 30 s on the main thread's handle is
 * a few milliseconds of the loop: not worth a trip to the writer thread.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "comp.h"
#include "log.h"

#define TAG "status"

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
		    p->presence ? "yes" : "no", p->message ? "yes" : "no",
		    p->roster_get ? "yes" : "no", p->iq_push_set ? "yes" : "no",
		    p->iq_pubsub_set ? "yes" : "no");
	}
	return s;
}

void comp_status_write(struct comp *c)
{
	struct queue_component_status st = {0};
	char host[256] = "", owner[320];
	GString *priv;
	int err;

	if (!c->q)
		return;
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(owner, sizeof(owner), "%s:%ld", host, (long)getpid());
	priv = privileges_text(c);
	st.component = (char *)c->domain;
	st.owner = owner;
	st.connected_ms = c->connected ? c->connected_at_ms : 0;
	st.privileges = priv->len ? priv->str : NULL;
	st.stopped = c->status_stopped;
	err = queue_component_status_put(c->q, &st);
	if (err && !c->status_failed)
		log_warn(TAG,
		         "cannot record the component's status in the queue "
		         "(%s): ringbridgectl check will not see it",
		         strerror(-err));
	c->status_failed = err != 0;
	c->status_due_ms = comp_now_ms() + COMP_STATUS_HEARTBEAT_MS;
	g_string_free(priv, TRUE);
}
