/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Voice replies through the server's own file sharing (XEP-0363 HTTP File
 * Upload), so the URL the sender gets is the server's, with its TLS, its
 * quotas and its expiry. On each session the domain's items are asked
 * for an upload service; a slot is requested with an IQ, and the PUT runs
 * on a thread of its own (libcurl), so the event loop never waits on HTTP.
 */
#ifndef RB_UPLOAD_H
#define RB_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

struct comp;
struct uploader;

/* ERR 0 with the download URL (valid during the call), or negative. */
typedef void (*upload_done_cb)(struct comp *c, int err, const char *get_url,
                               void *arg);

int upload_new(struct uploader **up, struct comp *c);
void upload_free(struct uploader *u);

/* Readable when finished uploads wait for upload_complete(). */
int upload_fd(struct uploader *u);
void upload_complete(struct uploader *u);

/* Looks for the service (call once per session) / forgets it. */
void upload_discover(struct uploader *u);
void upload_reset(struct uploader *u);

/* True when a service was found and accepts SIZE bytes. */
bool upload_available(struct uploader *u, size_t size);

/*
 * Uploads LEN bytes (copied) as a file with extension EXT and type MIME;
 * DONE runs exactly once on the loop's thread. Returns 0, or a negative
 * code when nothing was started (DONE is then not called).
 */
int upload_start(struct uploader *u, const void *bytes, size_t len,
                 const char *mime, const char *ext, upload_done_cb done,
                 void *arg);

#endif
