/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The /metrics listener and answer of metrics_http.h. The listener serves
 * one path and takes no request body; its connections are few and short
 * (a scraper every 15 s or so), so a small connection limit and timeout
 * keep a misbehaving client from holding descriptors. What libmicrohttpd
 * reports once serving is a client's doing and goes to debug.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "listen.h"
#include "log.h"
#include "metrics_http.h"

#define TAG "metrics"

#define CONN_LIMIT   16u
#define PER_IP_LIMIT 8u
#define CONN_TIMEOUT 10u /* seconds idle */

struct metrics_http {
	struct MHD_Daemon *mhd;
	struct metrics *reg;
	unsigned port;
	atomic_bool serving;
};

static enum MHD_Result respond_text(struct MHD_Connection *c,
                                    unsigned int status, const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	                                    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        "text/plain; charset=utf-8");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result metrics_http_answer(struct MHD_Connection *c,
                                    struct metrics *reg)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	char *text;
	size_t len;

	if (metrics_render(reg, &text, &len) != 0)
		return respond_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
		                    "cannot render the metrics\n");
	r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	                        METRICS_CONTENT_TYPE);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	struct metrics_http *h = cls;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (*upload_data_size)
		return respond_text(c, MHD_HTTP_CONTENT_TOO_LARGE,
		                    "no request body is accepted\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		                    "GET or HEAD\n");
	if (strcmp(url, "/metrics"))
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
	return metrics_http_answer(c, h->reg);
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_http *h = cls;
	bool serving = atomic_load(&h->serving);
	char msg[512];
	size_t n;

	if (serving && log_level_get() < LOG_LEVEL_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_write(serving ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERROR, TAG,
	          "libmicrohttpd: %s", msg);
}

int metrics_http_new(struct metrics_http **hp, const char *listen,
                     const char *key, struct metrics *reg)
{
	const union MHD_DaemonInfo *info;
	struct metrics_http *h;
	struct addrinfo *ai = NULL;
	const char *why;
	unsigned int flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	char host[256];
	int err;

	*hp = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->reg = reg;
	err = listen_resolve(listen, host, sizeof(host), &ai, &why);
	if (err) {
		log_err(TAG, "%s %s: %s", key, listen, why);
		free(h);
		return err;
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	h->mhd = MHD_start_daemon(
	    flags, 0, NULL, NULL, handle, h, MHD_OPTION_EXTERNAL_LOGGER,
	    mhd_log, h, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, PER_IP_LIMIT,
	    MHD_OPTION_CONNECTION_TIMEOUT, CONN_TIMEOUT, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->mhd) {
		err = errno ? -errno : -EIO;
		log_err(TAG, "cannot serve /metrics on %s %s: %s", key, listen,
		        strerror(-err));
		free(h);
		return err;
	}
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	atomic_store(&h->serving, true);
	log_info(TAG, "serving /metrics on %s, port %u", listen, h->port);
	*hp = h;
	return 0;
}

unsigned metrics_http_port(const struct metrics_http *h)
{
	return h ? h->port : 0;
}

void metrics_http_free(struct metrics_http *h)
{
	if (!h)
		return;
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	free(h);
}
