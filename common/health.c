/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The sd_notify(3) messages of health.h. sd_notify() is one sendmsg() on a
 * datagram socket, and returns at once when NOTIFY_SOCKET is unset, so the
 * loops call it freely; a failure is logged once, since systemd then kills
 * the process for a missed ping or start-up and the operator needs to know
 * why.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "health.h"
#include "log.h"

#define TAG "health"

static void health_send(const char *msg)
{
	static bool failed;
	int rc = sd_notify(0, msg);

	if (rc < 0 && !failed) {
		failed = true;
		log_warn(TAG, "cannot tell systemd (%s): %s", msg,
		         strerror(-rc));
	}
}

static void health_send_status(const char *head, const char *status)
{
	char msg[256];

	if (status)
		snprintf(msg, sizeof(msg), "%sSTATUS=%s", head, status);
	else
		snprintf(msg, sizeof(msg), "%s", head);
	health_send(msg);
}

void health_ready(const char *status)
{
	health_send_status("READY=1\n", status);
}

void health_status(const char *status)
{
	health_send_status("", status);
}

void health_stopping(void)
{
	health_send("STOPPING=1");
}

int64_t health_watchdog_period_ms(void)
{
	uint64_t usec = 0;

	/* > 0: WATCHDOG_USEC is set (and WATCHDOG_PID, if set, is us). */
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	/* Half, as sd_watchdog_enabled(3) advises; at least 1 ms. */
	return usec / 2000 > 0 ? (int64_t)(usec / 2000) : 1;
}

void health_watchdog_ping(void)
{
	health_send("WATCHDOG=1");
}

void health_start_extend(int64_t ms)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%lld",
	         (long long)ms * 1000);
	health_send(msg);
}
