/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's own HTTP listener for voice replies, used when the XMPP
 * server offers no HTTP upload (XEP-0363). http_server_publish() stores the
 * audio in the queue (schema 011) under a name of 128 random bits and
 * returns its public URL; libmicrohttpd serves those names, and only those,
 * from its own thread and queue handle (GET and HEAD, byte ranges), until
 * they expire after expire_days. Any component sharing the queue serves
 * every link, so a standby taking over serves the dead one's.
 * The same listener serves the component's /metrics (monitor.h) and the
 * operators' /status page (statuspage.h).
 */
#ifndef RB_HTTP_H
#define RB_HTTP_H

#include <stddef.h>

struct config;
struct http_server;
struct metrics;
struct queue;
struct statuspage;

/*
 * Deletes expired voice replies from the queue at [queue] url (on a handle
 * of the listener's own, opened when first needed), starts listening on [http]
 * listen and starts an hourly expiry sweep. Both libmicrohttpd's thread and the
 * sweep's are started here and inherit the caller's signal mask: block signals
 * first.
 *
 * When [http] listen is empty there is no listener: returns 0 with *hp set
 * to NULL, and voice replies need the server's HTTP upload. Otherwise
 * returns 0 and a server the caller frees with http_server_free(), or a
 * negative errno value after logging why (bind, thread). [recordings] dir
 * is no longer used (logged when set).
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
 * NULL is allowed. Published files stay in the queue until they expire. */
void http_server_free(struct http_server *h);

/*
 * Stores LEN bytes (0 < LEN <= QUEUE_BLOB_MAX) in the queue through Q, the
 * caller's handle, under a new name, and sets *URL to its public URL,
 * malloc'ed, which the caller frees. EXT is the extension, dot included:
 * ".oga", ".opus" or ".mp3"; MIME, when not NULL, must be the media type the
 * listener will send for EXT ("audio/ogg", "audio/mpeg"), so that the
 * message's metadata and the served Content-Type agree. Inside a batch
 * (the component's store_call) the row is written with the batch's commit:
 * hand *URL out only after it. Returns 0, -EINVAL (extension, type, size),
 * -ENOTSUP (H is NULL: no listener) or the queue's error. Commits when
 * not in a batch: call it from the store's thread, not the event loop.
 * Safe to call from several threads at once, each with its own Q.
 */
int http_server_publish(struct http_server *h, struct queue *q,
                        const void *bytes, size_t len, const char *mime,
                        const char *ext, char **url);

/*
 * Deletes the published files whose expiry has come from the queue. The
 * sweep thread calls it hourly (every component sharing the queue does,
 * which is harmless); the listener refuses expired files on its own, so a
 * late sweep never serves one. Safe to call from any thread. NULL is
 * allowed.
 */
void http_server_expire(struct http_server *h);

#endif
