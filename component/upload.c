/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0363 uploads (see upload.h). Discovery walks disco#items of the first
 * served domain and keeps the first item whose disco#info lists
 * urn:xmpp:http:upload:0, with its max-file-size. A slot request's reply
 * gives a PUT URL (with at most the Authorization, Cookie and Expires
 * headers XEP-0363 allows) and a GET URL; the PUT goes to the uploader's
 * worker (common/worker.h), one at a time, and completes on the loop. The
 * server's answer body is network text: it is counted and dropped, never
 * written anywhere, and a refusal is logged by its status code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <curl/curl.h>

#include "comp.h"
#include "log.h"
#include "upload.h"
#include "worker.h"

#define TAG              "upload"
#define NS_UPLOAD        "urn:xmpp:http:upload:0"
#define NS_DISCO_INFO    "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS   "http://jabber.org/protocol/disco#items"
#define URL_MAX          2048
#define PUT_TIMEOUT_S    60
#define PUTS_PENDING_MAX 64

struct put_job {
	struct worker_item link;
	char *put_url, *get_url, *mime;
	struct curl_slist *headers;
	unsigned char *bytes;
	size_t len;
	upload_done_cb done;
	void *arg;
	int err;
};

struct uploader {
	struct comp *c;
	char *service;      /* JID of the upload service, or NULL */
	long long max_size; /* 0: no limit announced */
	unsigned generation;
	struct worker *worker; /* runs the PUTs */
	bool closing;          /* upload_free: completions call nobody */
	int pending;
};

/* ---- the PUT thread ---- */

/* The reason phrases of the statuses an upload service answers (RFC 9110);
 * the server's own phrase is network text and is not logged. */
static const char *http_status_words(long code)
{
	switch (code) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 413:
		return "Content Too Large";
	case 415:
		return "Unsupported Media Type";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	if (code >= 300 && code < 400)
		return "a redirect, not followed";
	return code >= 500 ? "a server error" : "a client error";
}

/* What a refused PUT means to the caller (the outcome logs strerror). */
static int http_status_err(long code)
{
	switch (code) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
	case 410:
		return -ENOENT;
	case 408:
	case 504:
		return -ETIMEDOUT;
	case 413:
		return -EFBIG;
	case 429:
	case 503:
		return -EAGAIN;
	}
	return code >= 500 ? -EIO : -EPROTO;
}

/* libcurl's default writes the answer's body to stdout, which is the log:
 * the body (an error page, mostly) is counted and dropped instead. */
static size_t body_discard(char *data, size_t size, size_t n, void *arg)
{
	size_t *total = arg;

	(void)data;
	*total += size * n;
	return size * n;
}

static int do_put(struct put_job *j)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = j->headers;
	char ctype[160];
	long code = 0;
	size_t body_len = 0;
	CURLcode rc;
	FILE *body;

	if (!h)
		return -ENOMEM;
	body = fmemopen(j->bytes, j->len, "rb");
	if (!body) {
		curl_easy_cleanup(h);
		return -ENOMEM;
	}
	snprintf(ctype, sizeof(ctype), "Content-Type: %s", j->mime);
	hdrs = curl_slist_append(hdrs, ctype);
	j->headers = hdrs;
	curl_easy_setopt(h, CURLOPT_URL, j->put_url);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READDATA, body);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body_len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)PUT_TIMEOUT_S);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* Only the schemes XEP-0363 slots use; no redirects to elsewhere. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	fclose(body);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		log_warn(TAG, "PUT failed: %s", curl_easy_strerror(rc));
		return -EIO;
	}
	if (code < 200 || code > 299) {
		log_warn(TAG,
		         "PUT refused by the upload service: HTTP %ld (%s), "
		         "%zu bytes of answer dropped",
		         code, http_status_words(code), body_len);
		return http_status_err(code);
	}
	return 0;
}

/* On the worker's thread: one PUT per batch (batch_max 1). */
static void put_run(void *arg, struct worker_item *first)
{
	struct put_job *j = worker_container(first, struct put_job, link);

	(void)arg;
	j->err = do_put(j);
}

static void job_free(struct put_job *j)
{
	free(j->put_url);
	free(j->get_url);
	free(j->mime);
	curl_slist_free_all(j->headers);
	free(j->bytes);
	free(j);
}

/* On the loop: a PUT ran (ERR 0) or was dropped at shutdown. */
static void put_done(void *arg, struct worker_item *it, int err)
{
	struct uploader *u = arg;
	struct put_job *j = worker_container(it, struct put_job, link);

	u->pending--;
	/* Uploads not finished at shutdown are dropped: their events stay
	 * undelivered and are offered again at the next start. */
	if (!u->closing) {
		if (err)
			j->err = err;
		j->done(u->c, j->err, j->err ? NULL : j->get_url, j->arg);
	}
	job_free(j);
}

int upload_new(struct uploader **up, struct comp *c)
{
	struct uploader *u = calloc(1, sizeof(*u));
	struct worker_params p = {
	    .name = "rb-upload", .run = put_run, .done = put_done, .arg = u};
	int err;

	if (!u)
		return -ENOMEM;
	u->c = c;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		free(u);
		return -EIO;
	}
	p.batch_max = 1;
	err = worker_new(&u->worker, &p);
	if (err) {
		curl_global_cleanup();
		free(u);
		return err;
	}
	*up = u;
	return 0;
}

void upload_free(struct uploader *u)
{
	if (!u)
		return;
	/* Waits for the PUT under way (at most PUT_TIMEOUT_S). */
	u->closing = true;
	worker_free(u->worker);
	curl_global_cleanup();
	g_free(u->service);
	free(u);
}

int upload_fd(struct uploader *u)
{
	return worker_fd(u->worker);
}

void upload_complete(struct uploader *u)
{
	worker_complete(u->worker);
}

/* ---- discovery ---- */

struct disco_ctx {
	struct uploader *u;
	unsigned generation;
	char *jid;
};

static void info_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct disco_ctx *d = arg;
	struct uploader *u = d->u;
	xmpp_stanza_t *q = NULL;
	bool has = false;
	long long max = 0;

	(void)c;
	if (reply && d->generation == u->generation && !u->service &&
	    !strcmp(xmpp_stanza_get_type(reply), "result"))
		q = xmpp_stanza_get_child_by_name_and_ns(reply, "query",
		                                         NS_DISCO_INFO);
	for (xmpp_stanza_t *ch = q ? xmpp_stanza_get_children(q) : NULL; ch;
	     ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch);
		const char *var = xmpp_stanza_get_attribute(ch, "var");

		if (name && !strcmp(name, "feature") && var &&
		    !strcmp(var, NS_UPLOAD))
			has = true;
		if (name && !strcmp(name, "x")) {
			for (xmpp_stanza_t *f = xmpp_stanza_get_children(ch); f;
			     f = xmpp_stanza_get_next(f)) {
				const char *v =
				    xmpp_stanza_get_attribute(f, "var");
				char *t;

				if (!v || strcmp(v, "max-file-size") != 0)
					continue;
				t = comp_child_text(f, "value");
				max = t ? atoll(t) : 0;
				g_free(t);
			}
		}
	}
	if (has) {
		u->service = g_strdup(d->jid);
		u->max_size = max > 0 ? max : 0;
		log_info(TAG,
		         "voice replies go to %s (XEP-0363, max %lld "
		         "bytes)",
		         u->service, u->max_size);
	}
	g_free(d->jid);
	g_free(d);
}

static void ask_info(struct uploader *u, const char *jid)
{
	struct comp *c = u->c;
	xmpp_stanza_t *iq = xmpp_iq_new(c->ctx, "get", NULL);
	struct disco_ctx *d = g_new0(struct disco_ctx, 1);

	d->u = u;
	d->generation = u->generation;
	d->jid = g_strdup(jid);
	xmpp_stanza_set_to(iq, jid);
	xmpp_stanza_add_child_ex(iq, comp_elem(c, "query", NS_DISCO_INFO), 0);
	if (comp_send_iq(c, iq, info_reply, d, 10000) != 0) {
		g_free(d->jid);
		g_free(d);
	}
	xmpp_stanza_release(iq);
}

static void items_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct disco_ctx *d = arg;
	struct uploader *u = d->u;
	xmpp_stanza_t *q = NULL;
	int n = 0;

	(void)c;
	if (reply && d->generation == u->generation &&
	    !strcmp(xmpp_stanza_get_type(reply), "result"))
		q = xmpp_stanza_get_child_by_name_and_ns(reply, "query",
		                                         NS_DISCO_ITEMS);
	for (xmpp_stanza_t *it = q ? xmpp_stanza_get_children(q) : NULL;
	     it && n < 32; it = xmpp_stanza_get_next(it)) {
		const char *jid = xmpp_stanza_get_attribute(it, "jid");

		if (jid && comp_jid_valid(jid) && !strchr(jid, '@')) {
			ask_info(u, jid);
			n++;
		}
	}
	g_free(d->jid);
	g_free(d);
}

void upload_discover(struct uploader *u)
{
	struct comp *c = u->c;
	xmpp_stanza_t *iq;
	struct disco_ctx *d;

	upload_reset(u);
	if (!c->cfg->xmpp.user_domains.n)
		return;
	iq = xmpp_iq_new(c->ctx, "get", NULL);
	d = g_new0(struct disco_ctx, 1);
	d->u = u;
	d->generation = u->generation;
	xmpp_stanza_set_to(iq, c->cfg->xmpp.user_domains.v[0]);
	xmpp_stanza_add_child_ex(iq, comp_elem(c, "query", NS_DISCO_ITEMS), 0);
	if (comp_send_iq(c, iq, items_reply, d, 10000) != 0)
		g_free(d);
	xmpp_stanza_release(iq);
}

void upload_reset(struct uploader *u)
{
	u->generation++;
	g_free(u->service);
	u->service = NULL;
	u->max_size = 0;
}

bool upload_available(struct uploader *u, size_t size)
{
	return u->service && (!u->max_size || (long long)size <= u->max_size) &&
	       u->pending < PUTS_PENDING_MAX;
}

/* ---- a slot, then the PUT ---- */

static bool url_ok(const char *url)
{
	return url && strlen(url) < URL_MAX &&
	       (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7));
}

static void slot_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct put_job *j = arg;
	struct uploader *u = c->uploader;
	xmpp_stanza_t *slot = NULL, *put, *get;
	const char *put_url = NULL, *get_url = NULL;

	if (reply && !strcmp(xmpp_stanza_get_type(reply), "result"))
		slot = xmpp_stanza_get_child_by_name_and_ns(reply, "slot",
		                                            NS_UPLOAD);
	put = slot ? xmpp_stanza_get_child_by_name(slot, "put") : NULL;
	get = slot ? xmpp_stanza_get_child_by_name(slot, "get") : NULL;
	if (put)
		put_url = xmpp_stanza_get_attribute(put, "url");
	if (get)
		get_url = xmpp_stanza_get_attribute(get, "url");
	if (!url_ok(put_url) || !url_ok(get_url)) {
		log_warn(TAG, "no upload slot from %s%s",
		         u->service ? u->service : "the server",
		         reply ? "" : " (no answer)");
		u->pending--;
		j->done(c, -EIO, NULL, j->arg);
		job_free(j);
		return;
	}
	j->put_url = strdup(put_url);
	j->get_url = strdup(get_url);
	for (xmpp_stanza_t *h = xmpp_stanza_get_children(put); h;
	     h = xmpp_stanza_get_next(h)) {
		const char *name = xmpp_stanza_get_attribute(h, "name");
		char line[1024], *value;

		if (!name || (g_ascii_strcasecmp(name, "Authorization") &&
		              g_ascii_strcasecmp(name, "Cookie") &&
		              g_ascii_strcasecmp(name, "Expires")))
			continue; /* XEP-0363 allows only these three */
		value = xmpp_stanza_get_text(h);
		if (value && !strpbrk(value, "\r\n") &&
		    strlen(value) < sizeof(line) - 64) {
			snprintf(line, sizeof(line), "%s: %s", name, value);
			j->headers = curl_slist_append(j->headers, line);
		}
		if (value)
			xmpp_free(c->ctx, value);
	}
	worker_submit(u->worker, &j->link);
}

int upload_start(struct uploader *u, const void *bytes, size_t len,
                 const char *mime, const char *ext, upload_done_cb done,
                 void *arg)
{
	struct comp *c = u->c;
	struct put_job *j;
	xmpp_stanza_t *iq, *req;
	unsigned char r[8];
	char name[64], size[32];
	int err;

	if (!upload_available(u, len))
		return -ENOTSUP;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->bytes = malloc(len);
	j->mime = strdup(mime);
	if (!j->bytes || !j->mime) {
		job_free(j);
		return -ENOMEM;
	}
	memcpy(j->bytes, bytes, len);
	j->len = len;
	j->done = done;
	j->arg = arg;
	snprintf(name, sizeof(name),
	         "voice-reply-%02x%02x%02x%02x%02x%02x%02x%02x%s", r[0], r[1],
	         r[2], r[3], r[4], r[5], r[6], r[7], ext);
	snprintf(size, sizeof(size), "%zu", len);
	iq = xmpp_iq_new(c->ctx, "get", NULL);
	xmpp_stanza_set_to(iq, u->service);
	req = comp_elem(c, "request", NS_UPLOAD);
	xmpp_stanza_set_attribute(req, "filename", name);
	xmpp_stanza_set_attribute(req, "size", size);
	xmpp_stanza_set_attribute(req, "content-type", mime);
	xmpp_stanza_add_child_ex(iq, req, 0);
	err = comp_send_iq(c, iq, slot_reply, j, 15000);
	xmpp_stanza_release(iq);
	if (err) {
		job_free(j);
		return err;
	}
	u->pending++;
	return 0;
}
