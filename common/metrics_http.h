/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * /metrics over HTTP with libmicrohttpd: a listener of its own for a
 * process that has no other (the bridge's [sip] metrics_listen), and the
 * answer a process that already serves HTTP gives on its own listener (the
 * component's [http] listen). Either way the scrape runs on libmicrohttpd's
 * thread and reads only the registry's atomics.
 */
#ifndef RB_METRICS_HTTP_H
#define RB_METRICS_HTTP_H

#include <microhttpd.h>

#include "metrics.h"

struct metrics_http;

/*
 * Starts serving REG at GET /metrics on LISTEN (HOST:PORT, [V6]:PORT) from
 * libmicrohttpd's own thread, which inherits the caller's signal mask:
 * block signals first. KEY names the configuration key in log lines.
 * Returns 0 and a listener freed with metrics_http_free(), or a negative
 * errno after logging why. REG must outlive the listener.
 */
int metrics_http_new(struct metrics_http **hp, const char *listen,
                     const char *key, struct metrics *reg);
void metrics_http_free(struct metrics_http *h); /* NULL-safe */
/* The port bound (useful with port 0). */
unsigned metrics_http_port(const struct metrics_http *h);

/* Queues the answer to a GET or HEAD of /metrics on C: 200 with the text
 * format, or 500 when rendering failed. For an access handler. */
enum MHD_Result metrics_http_answer(struct MHD_Connection *c,
                                    struct metrics *reg);

#endif
