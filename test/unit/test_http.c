/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Tests of the component's own HTTP listener (component/http.c) over real
 * sockets: a server on 127.0.0.1 and a port the kernel picks, files
 * published into a SQLite queue in a temporary directory (the rows are the
 * same on PostgreSQL: test_queue's conformance suite), and a tiny HTTP/1.1
 * client that
 * sends raw requests, so malformed and hostile ones can be written as they
 * would arrive. One table of requests; then publishing, expiry and limits.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "http.h"
#include "queue.h"

#define SIZE 1000

/* A reply as the client saw it; status 0 when the connection closed
 * without one. */
struct reply {
	int status;
	char *raw;
	size_t rawlen;
	const char *body;
	size_t bodylen;
};

static unsigned char data[SIZE];
/* The test's own handle on the server's queue: the component publishes on
 * its store thread's handle, never the listener's. */
static struct queue *tq;
static char queue_url[96];

static void reply_free(struct reply *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Sends REQ (LEN bytes) to 127.0.0.1:PORT and reads until the server
 * closes (every request says Connection: close). */
static void http_get_raw(int port, const char *req, size_t len, struct reply *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 5};
	size_t cap = 1 << 16, off = 0;
	ssize_t n;
	char *end;
	int fd;

	memset(r, 0, sizeof(*r));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (off < len) {
		n = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break; /* the server may refuse before reading it all */
		off += (size_t)n;
	}
	r->raw = malloc(cap + 1);
	off = 0;
	while (r->raw && (n = recv(fd, r->raw + off, cap - off, 0)) > 0) {
		off += (size_t)n;
		if (off == cap) {
			char *p = realloc(r->raw, 2 * cap + 1);

			if (!p)
				break;
			r->raw = p;
			cap *= 2;
		}
	}
	close(fd);
	if (!r->raw)
		return;
	r->raw[off] = '\0';
	r->rawlen = off;
	end = strstr(r->raw, "\r\n\r\n");
	if (!end || sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		return;
	r->body = end + 4;
	r->bodylen = off - (size_t)(r->body - r->raw);
}

static void http_get(int port, const char *req, struct reply *r)
{
	http_get_raw(port, req, strlen(req), r);
}

/* The value of header NAME in R, copied into BUF; NULL if absent. */
static const char *reply_header(const struct reply *r, const char *name,
                                char *buf, size_t buflen)
{
	size_t nlen = strlen(name);
	const char *p;

	if (!r->body)
		return NULL;
	for (p = strstr(r->raw, "\r\n"); p && p + 2 < r->body;
	     p = strstr(p + 2, "\r\n")) {
		const char *h = p + 2, *v, *e;

		if (strncasecmp(h, name, nlen) || h[nlen] != ':')
			continue;
		v = h + nlen + 1;
		while (*v == ' ')
			v++;
		e = strstr(v, "\r\n");
		snprintf(buf, buflen, "%.*s", (int)(e - v), v);
		return buf;
	}
	return NULL;
}

/* A request of the table: "@" in PATH stands for the published name. */
struct req_case {
	const char *method;
	const char *path;
	const char *headers; /* extra header lines, each ending in CRLF */
	int status;
	long first, last;          /* file bytes expected as the body;
	                              first -1: body not checked */
	const char *content_range; /* NULL: must be absent */
};

static const struct req_case req_cases[] = {
    {"GET", "/@", "", 200, 0, SIZE - 1, NULL},
    {"HEAD", "/@", "", 200, -1, -1, NULL},
    {"GET", "/@?x=1", "", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: bytes=0-99\r\n", 206, 0, 99, "bytes 0-99/1000"},
    {"GET", "/@", "Range: bytes=10-10\r\n", 206, 10, 10, "bytes 10-10/1000"},
    {"GET", "/@", "Range: bytes=990-\r\n", 206, 990, 999, "bytes 990-999/1000"},
    {"GET", "/@", "Range: bytes=-10\r\n", 206, 990, 999, "bytes 990-999/1000"},
    {"GET", "/@", "Range: bytes=500-99999\r\n", 206, 500, 999,
     "bytes 500-999/1000"},
    {"GET", "/@", "Range: bytes=-5000\r\n", 206, 0, 999, "bytes 0-999/1000"},
    {"GET", "/@", "Range: BYTES = 1-2\r\n", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: bytes=1-2 \r\n", 206, 1, 2, "bytes 1-2/1000"},
    {"GET", "/@", "Range: bytes=99999999999999999999999-\r\n", 416, -1, -1,
     "bytes */1000"},
    {"GET", "/@", "Range: bytes=-99999999999999999999999\r\n", 206, 0, 999,
     "bytes 0-999/1000"},
    {"HEAD", "/@", "Range: bytes=0-99\r\n", 206, -1, -1, "bytes 0-99/1000"},
    {"GET", "/@", "Range: bytes=1000-\r\n", 416, -1, -1, "bytes */1000"},
    {"GET", "/@", "Range: bytes=1000-2000\r\n", 416, -1, -1, "bytes */1000"},
    {"GET", "/@", "Range: bytes=-0\r\n", 416, -1, -1, "bytes */1000"},
    /* Several ranges, malformed ones, other units: the whole file. */
    {"GET", "/@", "Range: bytes=0-1,5-6\r\n", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: bytes=5-1\r\n", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: bytes=a-b\r\n", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: bytes=-\r\n", 200, 0, SIZE - 1, NULL},
    {"GET", "/@", "Range: items=0-1\r\n", 200, 0, SIZE - 1, NULL},
    /* If-Range: our tag honours the range, anything else does not. */
    {"GET", "/@", "Range: bytes=0-9\r\nIf-Range: \"@\"\r\n", 206, 0, 9,
     "bytes 0-9/1000"},
    {"GET", "/@", "Range: bytes=0-9\r\nIf-Range: \"other\"\r\n", 200, 0,
     SIZE - 1, NULL},
    {"GET", "/@",
     "Range: bytes=0-9\r\nIf-Range: Tue, 01 Jan 2030 00:00:00 GMT\r\n", 200, 0,
     SIZE - 1, NULL},
    /* Names that are not published ones. */
    {"GET", "/", "", 404, -1, -1, NULL},
    {"GET", "/00000000000000000000000000000000.oga", "", 404, -1, -1, NULL},
    {"GET", "/@x", "", 404, -1, -1, NULL},
    {"GET", "/x@", "", 404, -1, -1, NULL},
    {"GET", "/@/", "", 404, -1, -1, NULL},
    {"GET", "//@", "", 404, -1, -1, NULL},
    {"GET", "/.@.tmp", "", 404, -1, -1, NULL},
    {"GET", "/../etc/passwd", "", 404, -1, -1, NULL},
    {"GET", "/%2e%2e/%2e%2e/etc/passwd", "", 404, -1, -1, NULL},
    {"GET", "/%2e%2e/", "", 404, -1, -1, NULL},
    {"GET", "/..%2f..%2fetc%2fpasswd", "", 404, -1, -1, NULL},
    {"GET", "/@/../@", "", 404, -1, -1, NULL},
    {"GET", "/rb/@", "", 404, -1, -1, NULL},
    {"GET", "/%00@", "", 404, -1, -1, NULL},
    /* Methods and bodies. */
    {"POST", "/@", "Content-Length: 3\r\n\r\nabc", 405, -1, -1, NULL},
    {"PUT", "/@", "Content-Length: 3\r\n\r\nabc", 405, -1, -1, NULL},
    {"DELETE", "/@", "", 405, -1, -1, NULL},
    {"OPTIONS", "/@", "", 405, -1, -1, NULL},
    {"GET", "/@", "Content-Length: 3\r\n\r\nabc", 413, -1, -1, NULL},
    {"GET", "/@", "Content-Length: 0\r\n", 200, 0, SIZE - 1, NULL},
};

/* PATH with every "@" replaced by NAME. */
static void path_expand(char *out, size_t outlen, const char *path,
                        const char *name)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 1 < outlen; p++) {
		if (*p == '@') {
			o += (size_t)snprintf(out + o, outlen - o, "%s", name);
			if (o >= outlen)
				o = outlen - 1;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void req_case_run(size_t i, int port, const char *name)
{
	const struct req_case *c = &req_cases[i];
	char path[256], headers[256], req[1024], v[256];
	struct reply r;
	size_t want;

	path_expand(path, sizeof(path), c->path, name);
	path_expand(headers, sizeof(headers), c->headers, name);
	snprintf(req, sizeof(req),
	         "%s %s HTTP/1.1\r\nHost: localhost\r\n"
	         "Connection: close\r\n%s%s",
	         c->method, path, headers,
	         strstr(headers, "\r\n\r\n") ? "" : "\r\n");
	http_get(port, req, &r);
	if (r.status != c->status)
		fprintf(stderr, "case %zu: %s %s %s-> %d\n", i, c->method, path,
		        headers, r.status);
	CHECK_INT(r.status, c->status);
	CHECK(reply_header(&r, "X-Content-Type-Options", v, sizeof(v)) &&
	      !strcmp(v, "nosniff"));
	if (c->content_range)
		CHECK_STR(reply_header(&r, "Content-Range", v, sizeof(v)),
		          c->content_range);
	else
		CHECK(!reply_header(&r, "Content-Range", v, sizeof(v)));
	if (c->status == 405)
		CHECK_STR(reply_header(&r, "Allow", v, sizeof(v)), "GET, HEAD");
	if (c->status == 416)
		CHECK_STR(reply_header(&r, "Accept-Ranges", v, sizeof(v)),
		          "bytes");
	if (c->status != 200 && c->status != 206) {
		reply_free(&r);
		return;
	}
	CHECK_STR(reply_header(&r, "Content-Type", v, sizeof(v)), "audio/ogg");
	CHECK_STR(reply_header(&r, "Accept-Ranges", v, sizeof(v)), "bytes");
	CHECK(reply_header(&r, "Cache-Control", v, sizeof(v)) &&
	      !strncmp(v, "private, max-age=", 17) &&
	      atol(v + 17) > 6 * 86400 && atol(v + 17) <= 7 * 86400);
	want = c->status == 206 ? (size_t)(c->last - c->first + 1) : SIZE;
	if (c->status == 206 && c->first < 0) {
		/* HEAD of a range: the length of the range, no body. */
		long a, b;

		CHECK(sscanf(c->content_range, "bytes %ld-%ld", &a, &b) == 2);
		want = (size_t)(b - a + 1);
	}
	CHECK(reply_header(&r, "Content-Length", v, sizeof(v)) &&
	      (size_t)atol(v) == want);
	if (c->first >= 0) {
		CHECK_INT(r.bodylen, want);
		CHECK(r.bodylen == want &&
		      !memcmp(r.body, data + c->first, want));
	} else {
		CHECK_INT(r.bodylen, 0); /* HEAD */
	}
	reply_free(&r);
}

/* The port and name of a URL "http://127.0.0.1:PORT/NAME". */
static int url_split(const char *url, int *port, char *name, size_t len)
{
	const char *p = strrchr(url, '/');

	if (sscanf(url, "http://127.0.0.1:%d/", port) != 1 || !p)
		return -1;
	snprintf(name, len, "%s", p + 1);
	return 0;
}

/* A clock a given number of seconds behind the real one, for publishing
 * files that have already expired. */
static int64_t clock_behind(void *arg)
{
	return (int64_t)time(NULL) * 1000 - *(const long *)arg * 1000;
}

/* Publishes SIZE bytes as if SECONDS ago, on a handle of its own. */
static int publish_back(struct http_server *h, long seconds, char **url)
{
	struct queue *q = NULL;
	int err = queue_open(&q, queue_url);

	if (err)
		return err;
	queue_clock_set(q, clock_behind, &seconds);
	err = http_server_publish(h, q, data, SIZE, NULL, ".oga", url);
	queue_close(q);
	return err;
}

/* Whether NAME's row is still in the queue, as seen SECONDS ago (so an
 * expired row that the sweep has not deleted yet is found). */
static bool row_exists(const char *name, long seconds)
{
	struct queue_audio a = {0};
	struct queue *q = NULL;
	int err = queue_open(&q, queue_url);

	if (!err) {
		queue_clock_set(q, clock_behind, &seconds);
		err = queue_audio_get(q, name, &a);
	}
	queue_audio_clear(&a);
	queue_close(q);
	return err == 0;
}

static int status_of(int port, const char *method, const char *name)
{
	char req[512];
	struct reply r;
	int status;

	snprintf(req, sizeof(req),
	         "%s /%s HTTP/1.1\r\nHost: localhost\r\n"
	         "Connection: close\r\n\r\n",
	         method, name);
	http_get(port, req, &r);
	status = r.status;
	reply_free(&r);
	return status;
}

static struct config *config_make(const char *url, const char *listen,
                                  const char *base_url)
{
	char err[256];
	struct config *cfg;

	if (config_load(&cfg, NULL, err, sizeof(err)))
		return NULL;
	free(cfg->queue.url);
	cfg->queue.url = strdup(url);
	free(cfg->http.listen);
	cfg->http.listen = strdup(listen);
	free(cfg->recordings.base_url);
	cfg->recordings.base_url = strdup(base_url);
	return cfg;
}

static void test_requests(struct http_server *h)
{
	char url_name[128], *url = NULL, *url2 = NULL, v[64];
	struct queue_audio a = {0};
	struct reply r;
	int port = 0;

	CHECK_INT(
	    http_server_publish(h, tq, data, SIZE, "audio/ogg", ".oga", &url),
	    0);
	CHECK(url && url_split(url, &port, url_name, sizeof(url_name)) == 0);
	if (!url || !port)
		return;
	CHECK_INT(strlen(url_name), 32 + 4);
	CHECK_INT(strspn(url_name, "0123456789abcdef"), 32);
	/* The row holds the bytes, the type and an expiry expire_days on. */
	CHECK_INT(queue_audio_get(tq, url_name, &a), 0);
	CHECK(a.len == SIZE && a.bytes && !memcmp(a.bytes, data, SIZE));
	CHECK_STR(a.mime, "audio/ogg");
	CHECK_INT(a.expires_ms - a.created_ms, 7 * 86400 * 1000LL);
	queue_audio_clear(&a);

	for (size_t i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++)
		req_case_run(i, port, url_name);

	/* Long names: never a file; MHD may refuse an over-long request
	 * line before we see it, with a 4xx or by closing. */
	{
		size_t n = 100000;
		char *req = malloc(n + 128), *p = req;
		int st2;

		p += sprintf(p, "GET /");
		memset(p, 'a', 2000);
		p += 2000;
		p += sprintf(p, ".oga HTTP/1.1\r\nConnection: close\r\n\r\n");
		http_get_raw(port, req, (size_t)(p - req), &r);
		CHECK_INT(r.status, 404);
		reply_free(&r);
		p = req + sprintf(req, "GET /");
		memset(p, 'a', n);
		p += n;
		p += sprintf(p, " HTTP/1.1\r\nConnection: close\r\n\r\n");
		http_get_raw(port, req, (size_t)(p - req), &r);
		st2 = r.status;
		CHECK(st2 == 0 || (st2 >= 400 && st2 < 500));
		reply_free(&r);
		free(req);
	}

	/* A well-formed name that was never published. */
	CHECK_INT(
	    status_of(port, "GET", "0123456789abcdef0123456789abcdef.oga"),
	    404);

	/* MP3 and .opus get their own types; names differ each time. */
	CHECK_INT(http_server_publish(h, tq, data, 10, NULL, ".mp3", &url2), 0);
	if (url2 && url_split(url2, &port, url_name, sizeof(url_name)) == 0) {
		char req[256];

		snprintf(req, sizeof(req),
		         "GET /%s HTTP/1.1\r\nHost: x\r\nConnection: "
		         "close\r\n\r\n",
		         url_name);
		http_get(port, req, &r);
		CHECK_INT(r.status, 200);
		CHECK_STR(reply_header(&r, "Content-Type", v, sizeof(v)),
		          "audio/mpeg");
		reply_free(&r);
	}
	CHECK(url2 && strcmp(url, url2));
	free(url2);
	url2 = NULL;
	CHECK_INT(
	    http_server_publish(h, tq, data, 10, "audio/ogg", ".opus", &url2),
	    0);
	if (url2 && url_split(url2, &port, url_name, sizeof(url_name)) == 0) {
		char req[256];

		snprintf(req, sizeof(req),
		         "HEAD /%s HTTP/1.1\r\nHost: x\r\nConnection: "
		         "close\r\n\r\n",
		         url_name);
		http_get(port, req, &r);
		CHECK_INT(r.status, 200);
		CHECK_STR(reply_header(&r, "Content-Type", v, sizeof(v)),
		          "audio/ogg");
		reply_free(&r);
	}
	free(url2);
	free(url);
}

/* A client that hangs up in the middle of a large file must cost nothing
 * but that connection: no SIGPIPE for the process, no stuck listener. */
static void test_hangup(struct http_server *h)
{
	size_t big = 8u << 20;
	unsigned char *buf = calloc(1, big);
	char *url = NULL, name[128], req[256], got[4096];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int port = 0, fd;

	if (!buf || http_server_publish(h, tq, buf, big, NULL, ".oga", &url) ||
	    url_split(url, &port, name, sizeof(name))) {
		CHECK(0);
		goto out;
	}
	for (int round = 0; round < 3; round++) {
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fd >= 0 &&
		      !connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
		snprintf(req, sizeof(req),
		         "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", name);
		CHECK(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
		CHECK(recv(fd, got, sizeof(got), 0) > 0);
		/* A reset rather than a close: the server's next write fails
		 * with EPIPE/ECONNRESET at once. */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	usleep(100 * 1000);
	CHECK_INT(status_of(port, "HEAD", name), 200);
out:
	free(url);
	free(buf);
}

/* Files held by responses in flight are bounded (64 MiB, http.c's
 * INFLIGHT_MAX): four slow readers of a 16 MiB file hold it all, a fifth
 * request is told to come back (503, Retry-After), and once the readers
 * go the file is served again. */
static void test_held_limit(struct http_server *h)
{
	size_t big = QUEUE_BLOB_MAX;
	unsigned char *buf = calloc(1, big);
	char *url = NULL, name[128], req[256], got[512];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int port = 0, fds[4], n = 0;
	struct reply r;
	char v[16];

	if (!buf || http_server_publish(h, tq, buf, big, NULL, ".oga", &url) ||
	    url_split(url, &port, name, sizeof(name))) {
		CHECK(0);
		goto out;
	}
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", name);
	for (n = 0; n < 4; n++) {
		fds[n] = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(fds[n] >= 0 &&
		      !connect(fds[n], (struct sockaddr *)&sa, sizeof(sa)));
		CHECK(send(fds[n], req, strlen(req), MSG_NOSIGNAL) > 0);
		/* The headers are out: the response holds the file. */
		CHECK(recv(fds[n], got, sizeof(got), 0) > 0);
	}
	snprintf(req, sizeof(req),
	         "GET /%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	         name);
	http_get(port, req, &r);
	CHECK_INT(r.status, 503);
	CHECK_STR(reply_header(&r, "Retry-After", v, sizeof(v)), "1");
	reply_free(&r);
	while (n > 0) {
		n--;
		setsockopt(fds[n], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fds[n]);
	}
	usleep(200 * 1000);
	CHECK_INT(status_of(port, "HEAD", name), 200);
out:
	free(url);
	free(buf);
}

/* What publish refuses. */
struct publish_case {
	const char *mime, *ext;
	size_t len;
	int err;
};

static const struct publish_case publish_cases[] = {
    {"audio/ogg", ".oga", 1, 0},
    {"AUDIO/OGG", ".oga", 1, 0},
    {NULL, ".opus", 1, 0},
    {"audio/mpeg", ".mp3", 1, 0},
    {"audio/mpeg", ".oga", 1, -EINVAL},
    {"audio/ogg", ".wav", 1, -EINVAL},
    {"audio/ogg", "oga", 1, -EINVAL},
    {"audio/ogg", ".oga/../x", 1, -EINVAL},
    {"audio/ogg", ".oga", 0, -EINVAL},
    {"audio/ogg", ".oga", (size_t)QUEUE_BLOB_MAX + 1, -EINVAL},
};

static void test_publish(struct http_server *h)
{
	char *url = NULL;

	for (size_t i = 0; i < sizeof(publish_cases) / sizeof(publish_cases[0]);
	     i++) {
		const struct publish_case *c = &publish_cases[i];

		url = NULL;
		CHECK_INT(http_server_publish(h, tq, data, c->len, c->mime,
		                              c->ext, &url),
		          c->err);
		CHECK(c->err ? url == NULL : url != NULL);
		free(url);
	}
	url = (char *)"untouched";
	CHECK_INT(http_server_publish(NULL, tq, data, 1, NULL, ".oga", &url),
	          -ENOTSUP);
	CHECK_INT(http_server_publish(h, NULL, data, 1, NULL, ".oga", &url),
	          -EINVAL);
}

/* Expiry is the queue's: a row past it is refused at once, and the sweep
 * deletes such rows and only those. */
static void test_expiry(struct http_server *h)
{
	char *url = NULL, *url2 = NULL, name[128], name2[128];
	int port = 0;
	long old = 7 * 86400 + 60, recent = 6 * 86400, before = 30 * 86400;

	CHECK_INT(publish_back(h, old, &url), 0);
	CHECK_INT(publish_back(h, recent, &url2), 0);
	if (!url || !url2 || url_split(url, &port, name, sizeof(name)) ||
	    url_split(url2, &port, name2, sizeof(name2))) {
		CHECK(0);
		goto out;
	}
	/* Refused at once, before any sweep. */
	CHECK(row_exists(name, before));
	CHECK_INT(status_of(port, "GET", name), 404);
	CHECK_INT(status_of(port, "HEAD", name), 404);
	CHECK_INT(status_of(port, "GET", name2), 200);

	http_server_expire(h);
	CHECK(!row_exists(name, before));
	CHECK(row_exists(name2, 0));
	CHECK_INT(status_of(port, "GET", name), 404);
	CHECK_INT(status_of(port, "GET", name2), 200);
	http_server_expire(NULL);
out:
	free(url);
	free(url2);
}

static int port_free(void);

/* A queue the listener cannot read: 503, not 404 (the link may work again)
 * and not a crash. */
static void test_queue_down(const char *root)
{
	struct http_server *h = NULL;
	struct config *cfg;
	char url[160], listen[64];
	int port = port_free();

	snprintf(url, sizeof(url), "sqlite:%s/missing/dir/q.db", root);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	cfg = config_make(url, listen, "");
	CHECK(cfg && http_server_new(&h, cfg) == 0 && h);
	if (h)
		CHECK_INT(status_of(port, "GET",
		                    "0123456789abcdef0123456789abcdef.oga"),
		          503);
	http_server_free(h);
	config_free(cfg);
}

/* A free port on 127.0.0.1, for a server whose URLs do not carry it. */
static int port_free(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &len))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* base_url with a path: the URL carries it, and the listener answers with
 * the prefix stripped by the proxy or passed through. */
static void test_base_url(void)
{
	struct http_server *h = NULL;
	struct config *cfg;
	char listen[64], *url = NULL;
	const char *name;
	int port = port_free();

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	cfg = config_make(queue_url, listen, "https://callgw.example.org/rb");
	CHECK(cfg && http_server_new(&h, cfg) == 0 && h);
	if (!h)
		goto out;
	CHECK_INT(http_server_publish(h, tq, data, 5, NULL, ".oga", &url), 0);
	CHECK(url && !strncmp(url, "https://callgw.example.org/rb/", 30));
	if (url) {
		char rb[128];

		name = url + 30;
		snprintf(rb, sizeof(rb), "rb/%s", name);
		CHECK_INT(status_of(port, "GET", name), 200);
		CHECK_INT(status_of(port, "GET", rb), 200);
	}
out:
	free(url);
	http_server_free(h);
	config_free(cfg);
}

static void test_listen(void)
{
	struct http_server *h = (struct http_server *)&h;
	struct config *cfg;
	char *url = NULL;

	/* No listener configured: no server, and that is not an error. */
	cfg = config_make(queue_url, "", "");
	CHECK(cfg && http_server_new(&h, cfg) == 0 && h == NULL);
	config_free(cfg);

	/* IPv6, when the host has it. */
	cfg = config_make(queue_url, "[::1]:0", "");
	if (cfg && http_server_new(&h, cfg) == 0) {
		CHECK(http_server_publish(h, tq, data, 1, NULL, ".oga", &url) ==
		          0 &&
		      !strncmp(url, "http://[::1]:", 13));
		free(url);
		http_server_free(h);
	}
	config_free(cfg);

	/* A port in use is an error, not a silent second server. */
	{
		struct http_server *a = NULL, *b = NULL;
		char listen[64];

		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port_free());
		cfg = config_make(queue_url, listen, "");
		CHECK(cfg && http_server_new(&a, cfg) == 0 && a);
		CHECK(cfg && http_server_new(&b, cfg) < 0 && b == NULL);
		http_server_free(a);
		config_free(cfg);
	}
	http_server_free(NULL);
}

static int fds_count(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && (de = readdir(d)) != NULL)
		n++;
	if (d)
		closedir(d);
	return n;
}

int main(void)
{
	char root[] = "/tmp/rb-http-XXXXXX", path[96];
	struct http_server *h = NULL;
	struct config *cfg;
	int fds = fds_count();

	for (size_t i = 0; i < SIZE; i++)
		data[i] = (unsigned char)(i * 7 + 3);
	if (!mkdtemp(root))
		return 1;
	snprintf(queue_url, sizeof(queue_url), "sqlite:%s/queue.db", root);
	CHECK_INT(queue_open(&tq, queue_url), 0);

	cfg = config_make(queue_url, "127.0.0.1:0", "");
	CHECK(cfg && http_server_new(&h, cfg) == 0 && h);
	if (h && tq) {
		test_requests(h);
		test_hangup(h);
		test_held_limit(h);
		test_publish(h);
		test_expiry(h);
	}
	http_server_free(h);
	config_free(cfg);
	if (tq) {
		test_base_url();
		test_listen();
	}
	test_queue_down(root);
	queue_close(tq);
	/* Every file and socket the servers opened is closed again. */
	CHECK_INT(fds_count(), fds);

	snprintf(path, sizeof(path), "%s/queue.db", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/queue.db-wal", root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/queue.db-shm", root);
	unlink(path);
	CHECK_INT(rmdir(root), 0);
	return check_exit("test_http");
}
