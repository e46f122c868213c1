/*
 * XEP-0363 uploads (see upload.h). Discovery walks disco#items of the first
 * served domain and keeps the first item whose disco#info lists
 * urn:xmpp:http:upload:0, with its max-file-size. A slot request's reply
 * gives a PUT URL (with at most the Authorization, Cookie and Expires
 * headers XEP-0363 allows) and a GET URL; the PUT goes to the uploader's
 * thread, which posts the result back through an eventfd.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include <curl/curl.h>

#include "comp.h"
#include "log.h"
#include "upload.h"

#define TAG              "upload"
#define NS_UPLOAD        "urn:xmpp:http:upload:0"
#define NS_DISCO_INFO    "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS   "http://jabber.org/protocol/disco#items"
#define URL_MAX          2048
#define PUT_TIMEOUT_S    60
#define PUTS_PENDING_MAX 64

struct put_job {
	struct put_job *next;
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
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int efd;
	bool quit;
	struct put_job *todo, *done_list;
	int pending;
};

/* ---- the PUT thread ---- */

static int do_put(struct put_job *j)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = j->headers;
	char ctype[160];
	long code = 0;
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
		log_warn(TAG, "PUT refused with HTTP %ld", code);
		return -EACCES;
	}
	return 0;
}

static void *put_main(void *arg)
{
	struct uploader *u = arg;

	pthread_mutex_lock(&u->lock);
	for (;;) {
		struct put_job *j;
		uint64_t one = 1;

		while (!u->todo && !u->quit)
			pthread_cond_wait(&u->cond, &u->lock);
		if (!u->todo)
			break;
		j = u->todo;
		u->todo = j->next;
		pthread_mutex_unlock(&u->lock);
		j->err = do_put(j);
		pthread_mutex_lock(&u->lock);
		j->next = u->done_list;
		u->done_list = j;
		if (write(u->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_err(TAG, "eventfd: %s", strerror(errno));
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
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

int upload_new(struct uploader **up, struct comp *c)
{
	struct uploader *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return -ENOMEM;
	u->c = c;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->cond, NULL);
	u->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (u->efd < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		err = -EIO;
		goto out;
	}
	err = -pthread_create(&u->thread, NULL, put_main, u);
	if (err) {
		curl_global_cleanup();
		goto out;
	}
	*up = u;
	return 0;
out:
	if (u->efd >= 0)
		close(u->efd);
	free(u);
	return err;
}

void upload_free(struct uploader *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	u->quit = true;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
	/* Uploads not finished are dropped: their events stay undelivered
	 * and are offered again at the next start. */
	while (u->todo) {
		struct put_job *j = u->todo;

		u->todo = j->next;
		job_free(j);
	}
	while (u->done_list) {
		struct put_job *j = u->done_list;

		u->done_list = j->next;
		job_free(j);
	}
	curl_global_cleanup();
	close(u->efd);
	g_free(u->service);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->cond);
	free(u);
}

int upload_fd(struct uploader *u)
{
	return u->efd;
}

void upload_complete(struct uploader *u)
{
	struct put_job *list, *j;
	uint64_t v;

	if (read(u->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_err(TAG, "eventfd: %s", strerror(errno));
	pthread_mutex_lock(&u->lock);
	list = u->done_list;
	u->done_list = NULL;
	pthread_mutex_unlock(&u->lock);
	while ((j = list)) {
		list = j->next;
		u->pending--;
		j->done(u->c, j->err, j->err ? NULL : j->get_url, j->arg);
		job_free(j);
	}
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
	pthread_mutex_lock(&u->lock);
	j->next = NULL;
	if (!u->todo) {
		u->todo = j;
	} else {
		struct put_job *t = u->todo;

		while (t->next)
			t = t->next;
		t->next = j;
	}
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
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
