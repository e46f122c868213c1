/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's own HTTP listener for voice replies, used when the XMPP
 * server offers no HTTP upload (XEP-0363). http_server_publish() stores the
 * audio under a name of 128 random bits in [recordings] dir and returns its
 * public URL; libmicrohttpd serves those names, and only those, from its own
 * thread (GET and HEAD, byte ranges), until they expire after expire_days.
 * The same listener serves the component's /metrics (monitor.h) and the
 * operators' /status page (statuspage.h).
 */
#ifndef RB_HTTP_H
#define RB_HTTP_H

#include <stddef.h>

struct config;
struct http_server;
struct metrics;
struct statuspage;

/*
 * Opens (creating it if missing) [recordings] dir, deletes expired
 * recordings, starts listening on [http] listen and starts an hourly expiry
 * sweep. Both libmicrohttpd's thread and the sweep's are started here and
 * inherit the caller's signal mask: block signals first.
 *
 * When [http] listen is empty there is no listener: returns 0 with *hp set
 * to NULL, and voice replies need the server's HTTP upload. Otherwise
 * returns 0 and a server the caller frees with http_server_free(), or a
 * negative errno value after logging why (directory, bind, thread).
 *
 * URLs are [recordings] base_url followed by the name; an empty base_url
 * means "http://HOST:PORT/" from [http] listen, with the port actually bound
 * (so port 0 works in tests).
 */
int http_server_new(struct http_server **hp, const struct config *cfg);

/* From now on, also answers GET and HEAD of /metrics with REG's text
 * exposition (REG must outlive H; NULL stops it). Safe while serving. */
void http_server_metrics_serve(struct http_server *h, struct metrics *reg);

/* From now on, also answers GET and HEAD of /status with SP's page (SP
 * must outlive H, or be unset with NULL before it is freed; without it
 * /status is 404). Safe while serving. */
void http_server_status_serve(struct http_server *h, struct statuspage *sp);

/* Stops the listener (open connections are closed) and the sweep; frees H.
 * NULL is allowed. Published files stay until they expire. */
void http_server_free(struct http_server *h);

/*
 * Stores LEN bytes (LEN > 0) as a new file and sets *URL to its public URL,
 * malloc'ed, which the caller frees. EXT is the extension, dot included:
 * ".oga", ".opus" or ".mp3"; MIME, when not NULL, must be the media type the
 * listener will send for EXT ("audio/ogg", "audio/mpeg"), so that the
 * message's metadata and the served Content-Type agree. The file is written
 * to a temporary name, synced and renamed, so the listener never serves a
 * partial file. Returns 0, -EINVAL (extension or type), -ENOTSUP (H is NULL:
 * no listener) or the negative errno of the failed file operation. Blocks
 * on the disk (fsync): call it from a worker thread, not the event loop.
 * Safe to call from several threads at once.
 */
int http_server_publish(struct http_server *h, const void *bytes, size_t len,
                        const char *mime, const char *ext, char **url);

/*
 * Deletes the published files (and temporary files left by a crash) whose
 * modification time is expire_days old or older, and nothing else in the
 * directory. The sweep thread calls it hourly; the listener refuses expired
 * files on its own, so a late sweep never serves one. Safe to call from any
 * thread. NULL is allowed.
 */
void http_server_expire(struct http_server *h);

#endif
