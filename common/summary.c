/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * summary_gather(): a handful of read-only queue calls, each bounded, into
 * one structure both renderers share (summary.h). Strings are copied out of
 * the walks' rows, so the structure outlives the queue's statements and can
 * be cached by the caller.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "str.h"
#include "summary.h"

/* The lease the bridges pass around for the presence duty
 * (sip-bridge/presence.c). */
#define PRESENCE_LEASE "presence"

/* Grows *ARRAY of *N elements of SIZE by one zeroed element. */
static void *array_push(void **array, size_t *n, size_t size)
{
	char *a = realloc(*array, (*n + 1) * size);

	if (!a)
		return NULL;
	*array = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

static int bridge_cb(const struct queue_bridge_status *b, void *arg)
{
	struct summary *s = arg;
	struct summary_bridge *d;
	int err = 0;

	d = array_push((void **)&s->bridges, &s->n_bridges, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->owner = str_dup_or_null(b->owner, &err);
	d->host = str_dup_or_null(b->host, &err);
	d->pid = b->pid;
	d->started_ms = b->started_ms;
	d->heartbeat_ms = b->heartbeat_ms;
	d->calls = b->calls;
	d->presence_lease = b->presence_lease;
	return err;
}

static int call_cb(const struct queue_job *j, void *arg)
{
	struct summary *s = arg;
	struct summary_call *d;
	int err = 0;

	if (j->state != QUEUE_JOB_ACTIVE)
		return 0;
	d = array_push((void **)&s->calls, &s->n_calls, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->id = j->id;
	d->kind = j->kind;
	d->callee_jid = str_dup_or_null(j->callee_jid, &err);
	d->destination = str_dup_or_null(j->destination, &err);
	d->attempts = j->attempts;
	d->bridge = str_dup_or_null(j->lease_owner, &err);
	d->lease_deadline_ms = j->lease_deadline_ms;
	return err;
}

static int outcome_cb(const struct queue_job *j, void *arg)
{
	struct summary *s = arg;
	struct summary_outcome *d;
	int err = 0;

	d = array_push((void **)&s->outcomes, &s->n_outcomes, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->id = j->id;
	d->kind = j->kind;
	d->state = j->state;
	d->callee_jid = str_dup_or_null(j->callee_jid, &err);
	d->sender_jid = str_dup_or_null(j->sender_jid, &err);
	d->attempts = j->attempts;
	d->finished_ms = j->finished_ms;
	d->reason = str_dup_or_null(j->last_reason, &err);
	return err;
}

static int registration_cb(const struct queue_registration *r, void *arg)
{
	struct summary *s = arg;
	struct summary_registration *d;
	int err = 0;

	/* One more than is shown was asked for: it only says "more". */
	if (s->n_registrations == SUMMARY_REGISTRATIONS) {
		s->registrations_more = true;
		return 0;
	}
	d = array_push((void **)&s->registrations, &s->n_registrations,
	               sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->jid = str_dup_or_null(r->jid, &err);
	d->phone = str_dup_or_null(r->phone, &err);
	d->verified = r->verified;
	d->updated_ms = r->updated_ms;
	return err;
}

/* The served domains, each with its line of the privileges text ("DOMAIN
 * NS name=yes ..."). */
static int domains_fill(struct summary *s, const struct config *cfg)
{
	const char *priv = s->status.privileges;
	int err = 0;

	s->domains = calloc(cfg->xmpp.user_domains.n + 1, sizeof(*s->domains));
	if (!s->domains)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->xmpp.user_domains.n; i++) {
		const char *dom = cfg->xmpp.user_domains.v[i], *p = priv;
		size_t dlen = strlen(dom);
		struct summary_domain *d = &s->domains[s->n_domains++];

		d->domain = str_dup_or_null(dom, &err);
		while (p && *p) {
			size_t len = strcspn(p, "\n");

			if (len > dlen && !strncmp(p, dom, dlen) &&
			    p[dlen] == ' ') {
				d->grants =
				    strndup(p + dlen + 1, len - dlen - 1);
				if (!d->grants)
					err = -ENOMEM;
				break;
			}
			p += len;
			if (*p)
				p++;
		}
	}
	return err;
}

int summary_gather(struct summary *s, struct queue *q, const struct config *cfg,
                   const char *search)
{
	struct queue_job_filter f = {.unfinished_only = true,
	                             .limit = SUMMARY_ACTIVE_SCAN};
	int err = 0, e;

	memset(s, 0, sizeof(*s));
	s->now_ms = queue_now_ms(q);
	s->component = str_dup_or_null(cfg->xmpp.domain, &err);
	if (search && *search)
		s->search = str_dup_or_null(search, &err);
	if (err)
		return err;

	e = queue_component_status_get(q, cfg->xmpp.domain, &s->status);
	if (!e) {
		s->have_component = true;
		s->component_alive =
		    s->status.heartbeat_ms > 0 &&
		    s->now_ms - s->status.heartbeat_ms <= SUMMARY_STALE_MS;
	} else if (e != -ENOENT) {
		return e;
	}
	err = domains_fill(s, cfg);
	if (!err)
		err = queue_bridge_status_foreach(
		    q, s->now_ms - SUMMARY_STALE_MS, bridge_cb, s);
	if (!err)
		err = queue_job_foreach(q, &f, call_cb, s);
	if (!err)
		err = queue_jobs_count_by_state(q, s->jobs);
	if (!err) {
		f.unfinished_only = false;
		f.finished_only = true;
		f.limit = SUMMARY_OUTCOMES;
		err = queue_job_foreach(q, &f, outcome_cb, s);
	}
	/* queue_job_foreach() gives the newest last: the page wants them
	 * first. */
	for (size_t i = 0; !err && i < s->n_outcomes / 2; i++) {
		struct summary_outcome t = s->outcomes[i];

		s->outcomes[i] = s->outcomes[s->n_outcomes - 1 - i];
		s->outcomes[s->n_outcomes - 1 - i] = t;
	}
	if (!err)
		err = queue_registration_search(q, s->search,
		                                SUMMARY_REGISTRATIONS + 1,
		                                registration_cb, s);
	if (!err) {
		e = queue_lease_get(q, PRESENCE_LEASE, &s->lease_owner,
		                    &s->lease_deadline_ms);
		if (!e && s->lease_deadline_ms < s->now_ms) {
			free(s->lease_owner);
			s->lease_owner = NULL;
		}
		err = e == -ENOENT ? 0 : e;
	}
	if (!err) {
		s->first_hour = s->now_ms / 3600000 - (SUMMARY_HOURS - 1);
		err = queue_calls_per_hour(q, s->first_hour, s->calls_per_hour,
		                           SUMMARY_HOURS);
	}
	return err;
}

void summary_clear(struct summary *s)
{
	size_t i;

	if (!s)
		return;
	free(s->component);
	queue_component_status_clear(&s->status);
	for (i = 0; i < s->n_domains; i++) {
		free(s->domains[i].domain);
		free(s->domains[i].grants);
	}
	free(s->domains);
	for (i = 0; i < s->n_bridges; i++) {
		free(s->bridges[i].owner);
		free(s->bridges[i].host);
	}
	free(s->bridges);
	for (i = 0; i < s->n_calls; i++) {
		free(s->calls[i].callee_jid);
		free(s->calls[i].destination);
		free(s->calls[i].bridge);
	}
	free(s->calls);
	for (i = 0; i < s->n_outcomes; i++) {
		free(s->outcomes[i].callee_jid);
		free(s->outcomes[i].sender_jid);
		free(s->outcomes[i].reason);
	}
	free(s->outcomes);
	free(s->search);
	for (i = 0; i < s->n_registrations; i++) {
		free(s->registrations[i].jid);
		free(s->registrations[i].phone);
	}
	free(s->registrations);
	free(s->lease_owner);
	memset(s, 0, sizeof(*s));
}
