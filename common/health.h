/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Health for systemd: each daemon says when it is ready (READY=1) and pings
 * the watchdog from its one event loop (WATCHDOG=1), so that a loop that
 * wedges stops the pings and systemd restarts the process (Type=notify and
 * WatchdogSec= in deploy/systemd). Built on sd_notify(3) from libsystemd;
 * without NOTIFY_SOCKET (not started by systemd) every call does nothing.
 */
#ifndef RB_HEALTH_H
#define RB_HEALTH_H

#include <stdint.h>

/* READY=1, with STATUS (may be NULL) as the line systemctl status shows. */
void health_ready(const char *status);
/* STATUS=... only: what the process is doing now. */
void health_status(const char *status);
/* STOPPING=1: the process has begun to shut down. */
void health_stopping(void);

/* How often the loop should ping: half the WatchdogSec= systemd gave this
 * process, in ms; 0 when there is no watchdog. Read once at start-up. */
int64_t health_watchdog_period_ms(void);
/* WATCHDOG=1. Call it from the loop itself, never from a thread of its
 * own: a ping must mean the loop turns. */
void health_watchdog_ping(void);
/* EXTEND_TIMEOUT_USEC: a process still starting (not READY) asks for MS
 * more; sent from the loop, it keeps a slow start alive while a loop that
 * wedges during start-up still times out. */
void health_start_extend(int64_t ms);

#endif
