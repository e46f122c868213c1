/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's metric families and their hooks (monitor.h). The one
 * gauge not updated by a hook is ringbridge_queue_jobs: the jobs by state
 * belong to the queue, so a scrape reads them, through a queue handle of the
 * scraping thread's own (libmicrohttpd's, never the event loop's), and keeps
 * the figures for JOBS_CACHE_NS so that scrapers, however many, cost the
 * database one grouped COUNT every few seconds and never a write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"

#define TAG "monitor"

#define JOBS_CACHE_NS (5 * 1000000000LL)

struct comp_monitor {
	struct metrics *reg;
	struct metric *caught, *connected, *jobs, *delivered, *push_commit;
	struct metric *role;
	/* The scraping thread's: its queue handle and when it last read. */
	pthread_mutex_t lock;
	char *url;
	struct queue *q;
	int64_t read_ns;
	bool read_failed; /* logged once until a read works again */
};

/* In the order of enum queue_job_state. */
static const char *const job_states[QUEUE_JOB_STATES] = {
    [QUEUE_JOB_QUEUED] = "queued",       [QUEUE_JOB_ACTIVE] = "active",
    [QUEUE_JOB_NOTIFIED] = "notified",   [QUEUE_JOB_FAILED] = "failed",
    [QUEUE_JOB_CANCELLED] = "cancelled",
};

/* ringbridge_component_role's label values, by comp_monitor_role's
 * ACTIVE. */
static const char *const roles[] = {"standby", "active"};

/* A push is answered within milliseconds on a quiet system; the group
 * commit and a busy disk can take it to seconds. */
static const double push_bounds[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static void jobs_collect(struct metric *f, void *arg)
{
	struct comp_monitor *m = arg;
	int64_t counts[QUEUE_JOB_STATES], now = metrics_now_ns();
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (m->read_ns && now - m->read_ns < JOBS_CACHE_NS)
		goto out;
	if (!m->q)
		err = queue_open(&m->q, m->url);
	if (!err)
		err = queue_jobs_count_by_state(m->q, counts);
	if (err) {
		/* The figures of the last read stay; the next scrape
		 * tries again, on a fresh handle. */
		if (!m->read_failed)
			log_warn(TAG, "cannot count the jobs for /metrics: %s",
			         strerror(-err));
		m->read_failed = true;
		queue_close(m->q);
		m->q = NULL;
		goto out;
	}
	m->read_failed = false;
	m->read_ns = now;
	for (unsigned i = 0; i < QUEUE_JOB_STATES; i++)
		metrics_gauge_set(f, i, counts[i]);
out:
	pthread_mutex_unlock(&m->lock);
}

int comp_monitor_new(struct comp_monitor **mp, const struct config *cfg)
{
	struct comp_monitor *m;
	const struct metric_desc descs[] = {
	    {.name = "ringbridge_messages_caught_total",
	     .help = "Messages to offline users put in the queue (a new job "
	             "or joined to one).",
	     .type = METRIC_COUNTER},
	    {.name = "ringbridge_xmpp_connected",
	     .help = "1 while the XEP-0114 session with the XMPP server is "
	             "up, 0 otherwise.",
	     .type = METRIC_GAUGE},
	    {.name = "ringbridge_queue_jobs",
	     .help = "Jobs in the queue by state (read every few seconds).",
	     .type = METRIC_GAUGE,
	     .label = "state",
	     .values = job_states,
	     .n_values = QUEUE_JOB_STATES},
	    {.name = "ringbridge_events_delivered_total",
	     .help = "Call events the server confirmed and the component "
	             "marked delivered.",
	     .type = METRIC_COUNTER},
	    {.name = "ringbridge_push_to_commit_seconds",
	     .help = "From a push notification's arrival to its message "
	             "being committed to the queue.",
	     .type = METRIC_HISTOGRAM,
	     .bounds = push_bounds,
	     .n_bounds = sizeof(push_bounds) / sizeof(push_bounds[0])},
	    {.name = "ringbridge_component_role",
	     .help = "1 for this process's role: active (it holds the "
	             "component lease and the XMPP session) or standby.",
	     .type = METRIC_GAUGE,
	     .label = "role",
	     .values = roles,
	     .n_values = 2},
	};
	struct metric **slots[6];
	int err;

	*mp = NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->url = strdup(cfg->queue.url);
	slots[0] = &m->caught;
	slots[1] = &m->connected;
	slots[2] = &m->jobs;
	slots[3] = &m->delivered;
	slots[4] = &m->push_commit;
	slots[5] = &m->role;
	err = m->url ? metrics_new(&m->reg) : -ENOMEM;
	for (size_t i = 0; !err && i < sizeof(descs) / sizeof(descs[0]); i++) {
		struct metric_desc d = descs[i];

		if (slots[i] == &m->jobs) {
			d.collect = jobs_collect;
			d.collect_arg = m;
		}
		err = metrics_add(m->reg, &d, slots[i]);
	}
	if (err) {
		comp_monitor_free(m);
		return err;
	}
	*mp = m;
	return 0;
}

void comp_monitor_free(struct comp_monitor *m)
{
	if (!m)
		return;
	queue_close(m->q);
	metrics_free(m->reg);
	pthread_mutex_destroy(&m->lock);
	free(m->url);
	free(m);
}

struct metrics *comp_monitor_registry(struct comp_monitor *m)
{
	return m ? m->reg : NULL;
}

void comp_monitor_caught(struct comp *c)
{
	if (c->monitor)
		metrics_counter_inc(c->monitor->caught, 0);
}

void comp_monitor_connected(struct comp *c, bool up)
{
	if (c->monitor)
		metrics_gauge_set(c->monitor->connected, 0, up);
}

void comp_monitor_role(struct comp *c, bool active)
{
	if (!c->monitor)
		return;
	metrics_gauge_set(c->monitor->role, 1, active);
	metrics_gauge_set(c->monitor->role, 0, !active);
}

void comp_monitor_delivered(struct comp *c, unsigned n)
{
	if (c->monitor)
		metrics_counter_add(c->monitor->delivered, 0, n);
}

void comp_monitor_push_committed(struct comp *c, int64_t since_ns)
{
	if (c->monitor)
		metrics_histogram_observe_ns(c->monitor->push_commit, 0,
		                             metrics_now_ns() - since_ns);
}
