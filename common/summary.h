/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What an operator glances at, gathered from the queue in one go: the
 * component's session and privileges per served domain, the bridges alive,
 * calls in progress, jobs by state, the last outcomes, registrations, the
 * presence lease and calls per hour over the last day. The component's
 * /status page (component/statuspage.c) and `ringbridgectl status` both
 * render this one structure, so the two can never disagree. Every read is
 * read-only and bounded (SUMMARY_* below).
 */
#ifndef RB_SUMMARY_H
#define RB_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

struct config;

/* The bounds of what is read: a page and a terminal show no more. */
#define SUMMARY_OUTCOMES      20  /* finished jobs, newest first */
#define SUMMARY_ACTIVE_SCAN   500 /* unfinished jobs looked at for calls */
#define SUMMARY_REGISTRATIONS 50  /* registrations listed */
#define SUMMARY_HOURS         24  /* the chart's hours, the current last */
/* A status row whose heartbeat is older than three beats (30 s each) is a
 * process that died. */
#define SUMMARY_STALE_MS (3 * 30000)

struct summary_call {
	int64_t id;
	enum queue_job_kind kind;
	char *callee_jid;
	char *destination;
	int attempts;
	char *bridge; /* lease owner */
	int64_t lease_deadline_ms;
};

struct summary_outcome {
	int64_t id;
	enum queue_job_kind kind;
	enum queue_job_state state;
	char *callee_jid;
	char *sender_jid;
	int attempts;
	int64_t finished_ms;
	char *reason;
};

struct summary_registration {
	char *jid;
	char *phone;
	bool verified;
	int64_t updated_ms;
};

struct summary_bridge {
	char *owner;
	char *host;
	int64_t pid;
	int64_t started_ms;
	int64_t heartbeat_ms;
	int calls;
	bool presence_lease;
};

/* A served domain and what its server granted (privileges_text's line). */
struct summary_domain {
	char *domain;
	char *grants; /* "NS presence=yes ...", NULL until advertised */
};

struct summary {
	int64_t now_ms; /* the queue's clock when gathered */

	/* The component's row: HAVE_COMPONENT false when none was written;
	 * COMPONENT_ALIVE when its heartbeat is recent. */
	char *component;
	bool have_component, component_alive;
	struct queue_component_status status;
	struct summary_domain *domains;
	size_t n_domains;

	struct summary_bridge *bridges; /* alive only */
	size_t n_bridges;

	/* Active jobs among the newest SUMMARY_ACTIVE_SCAN unfinished ones:
	 * jobs[QUEUE_JOB_ACTIVE] is the exact count. */
	struct summary_call *calls;
	size_t n_calls;

	int64_t jobs[QUEUE_JOB_STATES];

	struct summary_outcome *outcomes; /* newest first */
	size_t n_outcomes;

	char *search; /* the registrations' filter, NULL: none */
	struct summary_registration *registrations;
	size_t n_registrations;
	bool registrations_more; /* more matched than are listed */

	char *lease_owner; /* the "presence" lease, NULL when nobody holds it */
	int64_t lease_deadline_ms;

	/* calls_per_hour[i]: UTC hour first_hour + i (hours since epoch). */
	int64_t first_hour;
	int64_t calls_per_hour[SUMMARY_HOURS];
};

/*
 * Fills *S from Q for the component of CFG (its domain and served domains).
 * SEARCH (NULL or "": every registration) filters the registrations, as a
 * plain substring of the JID or phone. Only reads. Returns 0, or the first
 * queue error (S then holds what was read before it); summary_clear()
 * frees S in both cases.
 */
int summary_gather(struct summary *s, struct queue *q, const struct config *cfg,
                   const char *search);
void summary_clear(struct summary *s);

#endif
