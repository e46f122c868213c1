/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's metrics (docs/monitoring.md): what it caught, whether
 * its XEP-0114 session is up, the queue's jobs by state, the outcomes it
 * delivered and how long a push takes to be committed. The functions below
 * are the hooks the other files call; each is a relaxed atomic update, and
 * each accepts a component without a monitor (unit tests build those).
 */
#ifndef RB_COMP_MONITOR_H
#define RB_COMP_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

struct comp;
struct config;
struct metrics;
struct comp_monitor;

/* Registers the families; frees with comp_monitor_free() (NULL-safe). */
int comp_monitor_new(struct comp_monitor **mp, const struct config *cfg);
void comp_monitor_free(struct comp_monitor *m);
/* What [http] listen serves at /metrics. */
struct metrics *comp_monitor_registry(struct comp_monitor *m);

/* A caught message reached the queue (a new job, or joined one). */
void comp_monitor_caught(struct comp *c);
/* The session is up (handshake done) or down. */
void comp_monitor_connected(struct comp *c, bool up);
/* This process holds the component lease and the session (ACTIVE), or
 * waits as a standby. */
void comp_monitor_role(struct comp *c, bool active);
/* N outcome events were confirmed by the server and marked delivered. */
void comp_monitor_delivered(struct comp *c, unsigned n);
/* A push notification that arrived at SINCE_NS (metrics_now_ns()) is now
 * committed to the queue. */
void comp_monitor_push_committed(struct comp *c, int64_t since_ns);

#endif
