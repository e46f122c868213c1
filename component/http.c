/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's own HTTP listener for voice replies. Files are stored in
 * the queue (queue_audio_put, schema 011) under names of 128 random bits
 * plus an extension, so every component sharing the queue serves every
 * link, a standby's included; libmicrohttpd serves them from its internal
 * thread on a queue handle of its own, so the component's event loop never
 * sees a socket or a read of ours. A request names a file only if its path
 * is exactly such a name, and expired files are refused before the hourly
 * sweep deletes their rows.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "config.h"
#include "http.h"
#include "listen.h"
#include "log.h"
#include "metrics_http.h"
#include "queue.h"
#include "statuspage.h"

#define TAG "http"

/* 128 random bits as lowercase hex: unguessable, and a name made only of
 * [0-9a-f] needs no escaping in a URL, a log line or a file system. */
#define NAME_BYTES 16
#define NAME_HEX   (2 * NAME_BYTES)

/* Longest extension of the table below, dot included. */
#define EXT_MAX 5

/* 64 connections is far above what voice replies need (a reply is fetched
 * once or twice per recipient device, in well under a second) and keeps
 * file descriptors bounded. One address may hold half of them, so one
 * greedy client cannot shut out the rest while a reverse proxy, which is a
 * single address, still gets 32 parallel downloads. */
#define CONN_LIMIT    64u
#define PER_IP_LIMIT  32u
#define CONN_TIMEOUT  30u /* seconds idle before a connection is closed */
#define SWEEP_SECONDS 3600
/* A file is read whole from the queue and held until its response is sent.
 * A voice reply is 2 kB a second in Opus (16 kbit/s) and 3 kB in MP3
 * (24 kbit/s, recorder/format.c): 120-180 kB for the default max_seconds
 * of 60, 1.2-1.8 MB at its limit of 600. 64 MiB in flight is 35 downloads
 * at once of the longest reply possible (hundreds of default ones), and
 * bounds what 64 connections fetching 16 MiB blobs (QUEUE_BLOB_MAX) could
 * pin otherwise; past it a request gets 503 with Retry-After. */
#define INFLIGHT_MAX (64u << 20)

struct http_type {
	const char *ext;
	const char *mime;
};

/* The extensions we publish and serve. Opus is audio/ogg, not audio/opus:
 * the type chat clients and browsers recognise for an Ogg file (see
 * recorder/format.c). */
static const struct http_type http_types[] = {
    {".oga", "audio/ogg"},
    {".opus", "audio/ogg"},
    {".mp3", "audio/mpeg"},
};

struct http_server {
	struct MHD_Daemon *mhd;
	char *queue_url;  /* [queue] url, for the handle below */
	char *base_url;   /* ends with '/' */
	char *base_path;  /* base_url's path, ends with '/' */
	int64_t expire_s; /* expire_days in seconds */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;       /* under lock */
	bool sweeping;       /* the sweep thread was started */
	atomic_bool serving; /* MHD started: its messages are clients' */
	pthread_t sweeper;
	/* The reads of MHD's thread and the sweep's deletes share one queue
	 * handle of their own (a handle is for one thread at a time), opened
	 * on first use and again after a failure. */
	pthread_mutex_t qlock;
	struct queue *q;    /* under qlock */
	bool read_failed;   /* under qlock: the last read failed (logged) */
	atomic_size_t held; /* bytes of files held by responses in flight */
	_Atomic(struct metrics *) metrics;   /* served at /metrics, or NULL */
	_Atomic(struct statuspage *) status; /* served at /status, or NULL */
};

static const struct http_type *http_type_find(const char *ext)
{
	for (size_t i = 0; i < sizeof(http_types) / sizeof(http_types[0]);
	     i++) {
		if (!strcmp(ext, http_types[i].ext))
			return &http_types[i];
	}
	return NULL;
}

/* Returns the type of NAME if it is exactly one of our generated names
 * (NAME_HEX lowercase hex digits and a known extension), NULL otherwise.
 * Safe on any string: the scan stops at the first non-hex byte, NUL
 * included. */
static const struct http_type *http_name_match(const char *name)
{
	for (size_t i = 0; i < NAME_HEX; i++) {
		if (!(name[i] >= '0' && name[i] <= '9') &&
		    !(name[i] >= 'a' && name[i] <= 'f'))
			return NULL;
	}
	return http_type_find(name + NAME_HEX);
}

/* ---- Range (RFC 9110, section 14) ---- */

enum http_range {
	HTTP_RANGE_NONE,  /* no usable Range: send the whole file, 200 */
	HTTP_RANGE_PART,  /* send [first, last], 206 */
	HTTP_RANGE_UNSAT, /* 416 */
};

/* Parses decimal digits at *S, saturating at UINT64_MAX (a position past
 * any file is as good as the exact number). False if there are none. */
static bool http_range_num(const char **s, uint64_t *v)
{
	const char *p = *s;

	*v = 0;
	while (*p >= '0' && *p <= '9') {
		uint64_t d = (uint64_t)(*p - '0');

		*v = *v > (UINT64_MAX - d) / 10 ? UINT64_MAX : *v * 10 + d;
		p++;
	}
	if (p == *s)
		return false;
	*s = p;
	return true;
}

static const char *http_ows_skip(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * One byte range of a file of SIZE bytes: "a-b", "a-" or "-n". Anything
 * malformed is ignored (the RFC allows it) and several ranges get the whole
 * file with 200, which the RFC also allows and which spares us multipart
 * bodies that no audio player asks for.
 */
static enum http_range http_range_parse(const char *hdr, uint64_t size,
                                        uint64_t *first, uint64_t *last)
{
	const char *s = http_ows_skip(hdr);
	uint64_t a, b;

	if (strncasecmp(s, "bytes=", 6))
		return HTTP_RANGE_NONE;
	s = http_ows_skip(s + 6);
	if (strchr(s, ','))
		return HTTP_RANGE_NONE;
	if (*s == '-') {
		s++;
		if (!http_range_num(&s, &b) || *http_ows_skip(s))
			return HTTP_RANGE_NONE;
		if (b == 0 || size == 0)
			return HTTP_RANGE_UNSAT;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return HTTP_RANGE_PART;
	}
	if (!http_range_num(&s, &a) || *s != '-')
		return HTTP_RANGE_NONE;
	s++;
	if (*s >= '0' && *s <= '9') {
		if (!http_range_num(&s, &b) || b < a)
			return HTTP_RANGE_NONE;
	} else {
		b = UINT64_MAX;
	}
	if (*http_ows_skip(s))
		return HTTP_RANGE_NONE;
	if (a >= size)
		return HTTP_RANGE_UNSAT;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return HTTP_RANGE_PART;
}

/* ---- Serving ---- */

/* A short text body for errors; the nosniff header goes on every reply. */
static struct MHD_Response *http_response_text(const char *text)
{
	struct MHD_Response *r;

	/* PERSISTENT: the string literal outlives the response, so MHD
	 * neither copies nor frees it (the cast only satisfies the API). */
	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/plain; charset=utf-8");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	return r;
}

static enum MHD_Result http_response_queue(struct MHD_Connection *c,
                                           unsigned int status,
                                           struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result http_error_send(struct MHD_Connection *c,
                                       unsigned int status, const char *text)
{
	return http_response_queue(c, status, http_response_text(text));
}

/* True if the request announces a body: none is accepted, and refusing on
 * the headers means the body is never read. */
static bool http_request_has_body(struct MHD_Connection *c)
{
	const char *cl, *te;

	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
	te = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                 MHD_HTTP_HEADER_TRANSFER_ENCODING);
	return te || (cl && strcmp(cl, "0"));
}

/* The published name URL asks for, or NULL. URL is the decoded path; it is
 * "/NAME", or base_url's path and NAME when the reverse proxy passes the
 * prefix through instead of stripping it. */
static const char *http_url_name(const struct http_server *h, const char *url)
{
	size_t plen = strlen(h->base_path);
	const char *name;

	if (plen > 1 && !strncmp(url, h->base_path, plen))
		name = url + plen;
	else if (url[0] == '/')
		name = url + 1;
	else
		return NULL;
	return http_name_match(name) ? name : NULL;
}

/* What a response holds of a file: its bytes, freed with the response. */
struct http_held {
	struct http_server *h;
	unsigned char *bytes;
	size_t len;
};

static void http_held_free(void *arg)
{
	struct http_held *held = arg;

	atomic_fetch_sub(&held->h->held, held->len);
	free(held->bytes);
	free(held);
}

/*
 * NAME's row, read on the handle of MHD's thread, and *TTL_S, its seconds
 * left. -ENOENT when it is not there or has expired, else the queue's
 * error (logged once until a read succeeds again).
 */
static int http_file_read(struct http_server *h, const char *name,
                          struct queue_audio *a, int64_t *ttl_s)
{
	int err = 0;

	pthread_mutex_lock(&h->qlock);
	if (!h->q) {
		err = queue_open(&h->q, h->queue_url);
		/* Not "no such file": the queue's own file may be missing. */
		if (err == -ENOENT)
			err = -EIO;
	}
	if (!err)
		err = queue_audio_get(h->q, name, a);
	if (err && err != -ENOENT) {
		if (!h->read_failed)
			log_warn(TAG,
			         "cannot read voice replies from the queue: "
			         "%s (answering 503 until it works again)",
			         strerror(-err));
		h->read_failed = true;
		queue_close(h->q);
		h->q = NULL;
	} else {
		if (h->read_failed)
			log_info(TAG, "voice replies are read again");
		h->read_failed = false;
		if (!err)
			*ttl_s = (a->expires_ms - queue_now_ms(h->q)) / 1000;
	}
	pthread_mutex_unlock(&h->qlock);
	return err;
}

static enum MHD_Result http_file_send(struct http_server *h,
                                      struct MHD_Connection *c,
                                      const char *name, const char *mime)
{
	struct MHD_Response *r;
	struct queue_audio a = {0};
	struct http_held *held;
	uint64_t size, first = 0, last = 0;
	enum http_range range = HTTP_RANGE_NONE;
	const char *hdr;
	char etag[NAME_HEX + EXT_MAX + 3], cr[96], cc[64];
	int64_t ttl = 0;
	int err;

	err = http_file_read(h, name, &a, &ttl);
	if (err == -ENOENT)
		return http_error_send(c, MHD_HTTP_NOT_FOUND, "not found\n");
	if (err)
		return http_error_send(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                       "try again later\n");
	if (atomic_fetch_add(&h->held, a.len) + a.len > INFLIGHT_MAX) {
		atomic_fetch_sub(&h->held, a.len);
		queue_audio_clear(&a);
		r = http_response_text("busy, try again shortly\n");
		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER,
			                        "1");
		log_debug(TAG, "%s: 503, %u MiB in flight", name,
		          INFLIGHT_MAX >> 20);
		return http_response_queue(c, MHD_HTTP_SERVICE_UNAVAILABLE, r);
	}
	held = malloc(sizeof(*held));
	if (!held) {
		atomic_fetch_sub(&h->held, a.len);
		queue_audio_clear(&a);
		return MHD_NO;
	}
	/* The bytes go to the response; the rest of the row is freed. */
	held->h = h;
	held->bytes = a.bytes;
	held->len = a.len;
	a.bytes = NULL;
	a.len = 0;
	queue_audio_clear(&a);
	size = (uint64_t)held->len;

	/* A file never changes under its name, so the name is a strong
	 * validator; If-Range with anything else (a date, another tag)
	 * gets the whole file, which is always correct. */
	snprintf(etag, sizeof(etag), "\"%s\"", name);
	hdr = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                  MHD_HTTP_HEADER_RANGE);
	if (hdr) {
		const char *ir = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);

		if (!ir || !strcmp(ir, etag))
			range = http_range_parse(hdr, size, &first, &last);
	}

	if (range == HTTP_RANGE_UNSAT) {
		http_held_free(held);
		r = http_response_text("range not satisfiable\n");
		if (!r)
			return MHD_NO;
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64, size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES,
		                        "bytes");
		log_debug(TAG, "%s: 416", name);
		return http_response_queue(c, MHD_HTTP_RANGE_NOT_SATISFIABLE,
		                           r);
	}
	if (range == HTTP_RANGE_NONE) {
		first = 0;
		last = size ? size - 1 : 0;
	}

	/* The response owns HELD from here on, and frees it when it is
	 * destroyed. HEAD gets the same response: MHD sends its headers,
	 * never its body. */
	r = MHD_create_response_from_buffer_with_free_callback_cls(
	    (size_t)(range == HTTP_RANGE_PART ? last - first + 1 : size),
	    held->bytes + first, http_held_free, held);
	if (!r) {
		http_held_free(held);
		return MHD_NO;
	}
	/* private: a shared cache must not keep someone's voice; max-age:
	 * a client may keep it until it expires here, not longer. */
	snprintf(cc, sizeof(cc), "private, max-age=%" PRId64, ttl);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, mime);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cc);
	MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (range == HTTP_RANGE_PART) {
		snprintf(cr, sizeof(cr),
		         "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
		         size);
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		log_debug(TAG, "%s: 206 %s", name, cr);
		return http_response_queue(c, MHD_HTTP_PARTIAL_CONTENT, r);
	}
	log_debug(TAG, "%s: 200, %" PRIu64 " bytes", name, size);
	return http_response_queue(c, MHD_HTTP_OK, r);
}

/* MHD's access handler. Every answer is given on the first call, when the
 * headers are in: no request of ours has a body to wait for. */
static enum MHD_Result http_request_handle(void *cls, struct MHD_Connection *c,
                                           const char *url, const char *method,
                                           const char *version,
                                           const char *upload_data,
                                           size_t *upload_data_size,
                                           void **req_cls)
{
	struct http_server *h = cls;
	const struct http_type *type;
	const char *name;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;

	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD)) {
		struct MHD_Response *r = http_response_text("GET or HEAD\n");

		if (r)
			MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
			                        "GET, HEAD");
		return http_response_queue(c, MHD_HTTP_METHOD_NOT_ALLOWED, r);
	}
	if (http_request_has_body(c))
		return http_error_send(c, MHD_HTTP_CONTENT_TOO_LARGE,
		                       "no request body is accepted\n");
	if (!strcmp(url, "/metrics") && atomic_load(&h->metrics))
		return metrics_http_answer(c, atomic_load(&h->metrics));
	if (!strcmp(url, "/status") && atomic_load(&h->status))
		return statuspage_answer(atomic_load(&h->status), c);
	name = http_url_name(h, url);
	type = name ? http_name_match(name) : NULL;
	if (!type)
		return http_error_send(c, MHD_HTTP_NOT_FOUND, "not found\n");
	return http_file_send(h, c, name, type->mime);
}

/* Once serving, what MHD reports is nearly always a client's doing (a
 * request too big, a reset connection): debug, so that nobody can fill the
 * log from outside. Before, it is why the listener could not start. */
__attribute__((format(printf, 2, 0))) static void
http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *h = cls;
	char msg[512];
	size_t n;

	if (atomic_load(&h->serving) && log_level_get() < LOG_LEVEL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_write(atomic_load(&h->serving) ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR,
	          TAG, "libmicrohttpd: %s", msg);
}

static uint16_t http_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return ntohs(((const struct sockaddr_in *)sa)->sin_port);
}

/* ---- Files ---- */

void http_server_expire(struct http_server *h)
{
	int deleted = 0, err = 0;

	if (!h)
		return;
	pthread_mutex_lock(&h->qlock);
	if (!h->q)
		err = queue_open(&h->q, h->queue_url);
	if (!err)
		err = queue_audio_expire(h->q, &deleted);
	if (err) {
		log_warn(TAG,
		         "cannot delete expired voice replies: %s (tried "
		         "again in an hour; they are refused meanwhile)",
		         strerror(-err));
		queue_close(h->q);
		h->q = NULL;
	}
	pthread_mutex_unlock(&h->qlock);
	if (deleted)
		log_info(TAG, "deleted %d expired voice replies", deleted);
}

static int http_name_random(char *hex)
{
	unsigned char b[NAME_BYTES];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(hex + 2 * i, 3, "%02x", b[i]);
	return 0;
}

int http_server_publish(struct http_server *h, struct queue *q,
                        const void *bytes, size_t len, const char *mime,
                        const char *ext, char **url)
{
	const struct http_type *type;
	char name[NAME_HEX + EXT_MAX + 1];
	const char *op = NULL;
	int err;

	if (!h)
		return -ENOTSUP;
	if (!q || !bytes || !len || len > QUEUE_BLOB_MAX || !ext || !url)
		return -EINVAL;
	*url = NULL;
	type = http_type_find(ext);
	if (!type || (mime && strcasecmp(mime, type->mime)))
		return -EINVAL;

	op = "getrandom";
	err = http_name_random(name);
	if (err)
		goto out;
	snprintf(name + NAME_HEX, sizeof(name) - NAME_HEX, "%s", ext);
	/* The URL goes out in a message only after the caller's commit:
	 * the bytes are durable before anyone learns the name. */
	op = "queue";
	err = queue_audio_put(q, name, type->mime, bytes, len,
	                      h->expire_s * 1000);
	if (err)
		goto out;
	op = "allocate";
	if (asprintf(url, "%s%s", h->base_url, name) < 0) {
		*url = NULL;
		err = -ENOMEM;
		goto out;
	}
	log_debug(TAG, "published %s, %zu bytes", name, len);
out:
	if (err)
		log_warn(TAG, "cannot publish a recording: %s: %s", op,
		         strerror(-err));
	return err;
}

/* ---- Life cycle ---- */

static void *http_sweep_run(void *arg)
{
	struct http_server *h = arg;
	struct timespec at;

	clock_gettime(CLOCK_MONOTONIC, &at);
	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		at.tv_sec += SWEEP_SECONDS;
		while (!h->stopping &&
		       pthread_cond_timedwait(&h->wake, &h->lock, &at) !=
		           ETIMEDOUT)
			;
		if (h->stopping)
			break;
		pthread_mutex_unlock(&h->lock);
		http_server_expire(h);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

/* Sets base_path, the path of [recordings] base_url ending in '/' ("/"
 * when base_url is empty or has no path). Set before MHD starts: the
 * handler reads it from MHD's thread. */
static int http_base_path_set(struct http_server *h, const char *b)
{
	const char *p = b && *b ? strstr(b, "://") : NULL;
	size_t n;

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		p = "/";
	n = strcspn(p, "?#");
	if (asprintf(&h->base_path, "%.*s%s", (int)n, p,
	             p[n - 1] == '/' ? "" : "/") < 0) {
		h->base_path = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Sets base_url, with a final '/': [recordings] base_url, or one made of
 * [http] listen's host and the port bound. */
static int http_base_url_set(struct http_server *h, const struct config *cfg,
                             const char *host, uint16_t port)
{
	const char *b = cfg->recordings.base_url;
	int n;

	if (b && *b) {
		n = asprintf(&h->base_url, "%s%s", b,
		             b[strlen(b) - 1] == '/' ? "" : "/");
	} else {
		if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::"))
			log_warn(TAG, "[http] listen is a wildcard address: "
			              "set [recordings] base_url, or links "
			              "will not reach this host");
		n = asprintf(&h->base_url,
		             strchr(host, ':') ? "http://[%s]:%u/"
		                               : "http://%s:%u/",
		             host, (unsigned)port);
	}
	if (n < 0) {
		h->base_url = NULL;
		return -ENOMEM;
	}
	return 0;
}

int http_server_new(struct http_server **hp, const struct config *cfg)
{
	struct http_server *h;
	struct addrinfo *ai = NULL;
	const union MHD_DaemonInfo *info;
	pthread_condattr_t ca;
	const char *why;
	char host[256];
	unsigned int flags;
	int err;

	*hp = NULL;
	if (!cfg->http.listen || !*cfg->http.listen)
		return 0;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->expire_s = (int64_t)cfg->recordings.expire_days * 86400;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->qlock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->wake, &ca);
	pthread_condattr_destroy(&ca);

	h->queue_url = strdup(cfg->queue.url);
	if (!h->queue_url) {
		err = -ENOMEM;
		goto out;
	}
	/* Before schema 011 files lived in [recordings] dir; the key is
	 * still accepted so that old configurations load. */
	if (cfg->recordings.dir && *cfg->recordings.dir)
		log_info(TAG,
		         "[recordings] dir = %s is no longer used: voice "
		         "replies are kept in the queue (files left there are "
		         "not served; remove the key and the directory)",
		         cfg->recordings.dir);

	err = http_base_path_set(h, cfg->recordings.base_url);
	if (err)
		goto out;
	err = listen_resolve(cfg->http.listen, host, sizeof(host), &ai, &why);
	if (err) {
		log_err(TAG, "[http] listen %s: %s", cfg->http.listen, why);
		goto out;
	}
	flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	/* The port argument only names the port in MHD's messages: the
	 * address to bind is SOCK_ADDR. The logger goes first so that MHD
	 * prints nothing on its own. */
	h->mhd = MHD_start_daemon(
	    flags, http_sockaddr_port(ai->ai_addr), NULL, NULL,
	    http_request_handle, h, MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
	    CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT, MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? -errno : -EIO;
		log_err(TAG,
		        "cannot listen on %s (libmicrohttpd said why "
		        "above)",
		        cfg->http.listen);
		goto out;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	err = http_base_url_set(h, cfg, host, info ? info->port : 0);
	if (err)
		goto out;

	atomic_store(&h->serving, true);
	http_server_expire(h);
	err = -pthread_create(&h->sweeper, NULL, http_sweep_run, h);
	if (err) {
		log_err(TAG, "cannot start the expiry thread: %s",
		        strerror(-err));
		goto out;
	}
	h->sweeping = true;
	log_info(TAG, "serving voice replies on %s, port %u, as %s",
	         cfg->http.listen, info ? (unsigned)info->port : 0u,
	         h->base_url);
out:
	if (ai)
		freeaddrinfo(ai);
	if (err) {
		http_server_free(h);
		return err;
	}
	*hp = h;
	return 0;
}

void http_server_metrics_serve(struct http_server *h, struct metrics *reg)
{
	if (h)
		atomic_store(&h->metrics, reg);
}

void http_server_status_serve(struct http_server *h, struct statuspage *sp)
{
	if (h)
		atomic_store(&h->status, sp);
}

void http_server_free(struct http_server *h)
{
	if (!h)
		return;
	if (h->sweeping) {
		pthread_mutex_lock(&h->lock);
		h->stopping = true;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->sweeper, NULL);
	}
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	queue_close(h->q);
	pthread_mutex_destroy(&h->qlock);
	free(h->queue_url);
	pthread_cond_destroy(&h->wake);
	pthread_mutex_destroy(&h->lock);
	free(h->base_url);
	free(h->base_path);
	free(h);
}
