/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The operators' /status page (docs/monitoring.md): summary.h's figures as
 * one HTML page with a server-drawn SVG chart, no script and nothing
 * fetched from elsewhere (its Content-Security-Policy forbids both). HTTP
 * Basic with user "admin" and the password of [http] admin_password_file;
 * failed attempts are limited per client address. The page reads the queue
 * through a handle of its own from libmicrohttpd's thread, cached for a few
 * seconds, so the component's event loop never waits on it.
 */
#ifndef RB_STATUSPAGE_H
#define RB_STATUSPAGE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <microhttpd.h>

struct config;
struct summary;
struct statuspage;

/* Failed logins allowed per client address before 429: a burst of
 * STATUSPAGE_AUTH_BURST, then one more every STATUSPAGE_AUTH_REFILL_S
 * seconds. Up to STATUSPAGE_AUTH_CLIENTS addresses are remembered (the
 * longest quiet one is forgotten first). */
#define STATUSPAGE_AUTH_BURST    5
#define STATUSPAGE_AUTH_REFILL_S 12
#define STATUSPAGE_AUTH_CLIENTS  256
/* The longest search accepted (bytes); a longer one gets 400. */
#define STATUSPAGE_SEARCH_MAX 256
/* The longest password accepted in the file. */
#define STATUSPAGE_PASSWORD_MAX 1024

/*
 * Reads the password from [http] admin_password_file (its first line, 1 to
 * STATUSPAGE_PASSWORD_MAX bytes; the file must not be readable by others).
 * With the key empty returns 0 and *SPP NULL: no page. Otherwise 0 and a
 * page freed with statuspage_free(), or a negative errno value after
 * logging why. CFG must outlive the page.
 */
int statuspage_new(struct statuspage **spp, const struct config *cfg);
void statuspage_free(struct statuspage *sp);

/* Answers a GET or HEAD of /status on C (the method was checked by the
 * caller). Called from libmicrohttpd's thread. */
enum MHD_Result statuspage_answer(struct statuspage *sp,
                                  struct MHD_Connection *c);

/* ---- pure functions, for the renderer and its tests ---- */

/* Appends S (NULL: "-") to OUT with & < > " ' escaped and control
 * characters (other than none) shown as U+FFFD, so any text is safe in
 * element content and in quoted attribute values. */
void statuspage_html_escape(GString *out, const char *s);

/*
 * Appends an <svg> bar chart of COUNTS[0..N) calls, bar I being UTC hour
 * FIRST_HOUR + I (hours since the epoch), the last the current hour. Each
 * bar is <rect class="bar" data-hour="YYYY-MM-DDTHH" data-count="K"> with a
 * <title>; bars are scaled to the largest count.
 */
void statuspage_chart_svg(GString *out, const int64_t *counts, size_t n,
                          int64_t first_hour);

/* Appends the whole page for S. */
void statuspage_render(GString *out, const struct summary *s);

#endif
