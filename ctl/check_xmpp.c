/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The XMPP half of `ringbridgectl check`, with libstrophe. PROBE opens a
 * raw TCP stream to the component port, sends an XEP-0114 stream header to
 * the component's name and waits for the server's header (and a moment for
 * a stream error such as host-unknown): that proves the server is there and
 * answers for the name without authenticating, so a connected component is
 * not disturbed. AUTH does the XEP-0114 handshake, collects the XEP-0356
 * advertisements the server sends right after it, and disconnects; it is
 * used only when no component is running (check.c decides).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <strophe.h>

#include "check.h"
#include "clock.h"
#include "xmppc.h"

#define NS_PRIV1 "urn:xmpp:privilege:1"
#define NS_PRIV2 "urn:xmpp:privilege:2"
/* After the server's stream header, how long a stream error may take. */
#define PROBE_SETTLE_MS 1000
/* After the handshake, how long to wait for every domain's advertisement. */
#define ADVERT_WAIT_MS 3000

struct xstate {
	const struct config *cfg;
	struct check_xmpp_result *res;
	xmpp_ctx_t *ctx;
	enum check_xmpp_mode mode;
	bool connected;    /* header received (PROBE) or handshake done */
	bool disconnected; /* the connection has ended */
	bool error_seen;   /* res->why holds the reason */
	long long connected_ms;
};

static void why(struct xstate *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void why(struct xstate *x, const char *fmt, ...)
{
	va_list ap;

	if (x->error_seen)
		return;
	x->error_seen = true;
	va_start(ap, fmt);
	vsnprintf(x->res->why, sizeof(x->res->why), fmt, ap);
	va_end(ap);
}

static int message_handler(xmpp_conn_t *conn, xmpp_stanza_t *msg, void *ud)
{
	struct xstate *x = ud;
	struct check_xmpp_result *r = x->res;
	const char *from = xmpp_stanza_get_from(msg);
	const char *ns = NS_PRIV2;
	xmpp_stanza_t *priv;
	struct check_grant *g;

	(void)conn;
	priv = xmpp_stanza_get_child_by_name_and_ns(msg, "privilege", NS_PRIV2);
	if (!priv) {
		priv = xmpp_stanza_get_child_by_name_and_ns(msg, "privilege",
		                                            NS_PRIV1);
		ns = NS_PRIV1;
	}
	/* Only a domain itself may grant privileges for its users. */
	if (!priv || !from || strchr(from, '@') || strchr(from, '/') ||
	    strlen(from) >= sizeof(g->domain) ||
	    r->n_grants >= CHECK_DOMAINS_MAX)
		return 1;
	g = &r->grants[r->n_grants++];
	memset(g, 0, sizeof(*g));
	snprintf(g->domain, sizeof(g->domain), "%s", from);
	snprintf(g->ns, sizeof(g->ns), "%s", ns);
	xmppc_grants_read(priv, &g->grants);
	return 1;
}

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *se, void *ud)
{
	struct xstate *x = ud;
	const struct config *cfg = x->cfg;
	char hp[300];

	snprintf(hp, sizeof(hp), "%s:%d", cfg->xmpp.host, cfg->xmpp.port);
	if (event == XMPP_CONN_RAW_CONNECT) {
		/* PROBE: our header, as a component would send it. */
		char *attrs[] = {
		    "to",           cfg->xmpp.domain,
		    "xmlns",        "jabber:component:accept",
		    "xmlns:stream", "http://etherx.jabber.org/streams",
		};

		if (xmpp_conn_open_stream(conn, attrs,
		                          sizeof(attrs) / sizeof(attrs[0])) !=
		    XMPP_EOK)
			why(x, "%s: cannot open a stream", hp);
		return;
	}
	if (event == XMPP_CONN_CONNECT) {
		x->connected = true;
		x->connected_ms = clock_mono_ms();
		return;
	}
	/* XMPP_CONN_DISCONNECT or XMPP_CONN_FAIL */
	x->disconnected = true;
	if (se && se->type == XMPP_SE_NOT_AUTHORIZED)
		why(x,
		    "the server refused the component secret for %s: make "
		    "[xmpp] secret equal to the server's component_secret",
		    cfg->xmpp.domain);
	else if (se && (se->type == XMPP_SE_HOST_UNKNOWN ||
	                se->type == XMPP_SE_IMPROPER_ADDR))
		why(x,
		    "the server at %s does not know the component %s: add it "
		    "to the server's configuration or fix [xmpp] domain",
		    hp, cfg->xmpp.domain);
	else if (se && se->type == XMPP_SE_CONFLICT) {
		x->res->conflict = true;
		why(x,
		    "the secret is right, but another component is already "
		    "connected as %s",
		    cfg->xmpp.domain);
	} else if (se)
		why(x, "the server at %s closed the stream with an error%s%s",
		    hp, se->text ? ": " : "", se->text ? se->text : "");
	else if (!x->connected)
		why(x, "cannot reach the XMPP server at %s: %s", hp,
		    error ? strerror(error)
		          : "refused, or closed before the handshake");
}

void check_xmpp(const struct config *cfg, enum check_xmpp_mode mode,
                int timeout_ms, struct check_xmpp_result *res)
{
	struct xstate x = {.cfg = cfg, .res = res, .mode = mode};
	xmpp_conn_t *conn = NULL;
	long long deadline = clock_mono_ms() + timeout_ms;
	bool closing = false;
	int rc;

	memset(res, 0, sizeof(*res));
	xmpp_initialize();
	x.ctx =
	    xmpp_ctx_new(NULL, getenv("RB_XMPP_DEBUG")
	                           ? xmpp_get_default_logger(XMPP_LEVEL_DEBUG)
	                           : NULL);
	if (x.ctx)
		conn = xmpp_conn_new(x.ctx);
	if (!conn || xmppc_give_sm_state(x.ctx, conn) != 0) {
		snprintf(res->why, sizeof(res->why),
		         "cannot prepare an XMPP connection (libstrophe)");
		goto out;
	}
	if (mode == CHECK_XMPP_AUTH) {
		xmpp_conn_set_jid(conn, cfg->xmpp.domain);
		xmpp_conn_set_pass(conn, cfg->xmpp.secret);
		xmpp_handler_add(conn, message_handler, NULL, "message", NULL,
		                 &x);
		rc = xmpp_connect_component(conn, cfg->xmpp.host,
		                            (unsigned short)cfg->xmpp.port,
		                            conn_handler, &x);
	} else {
		/* libstrophe takes the stream's domain from the JID. */
		xmpp_conn_set_jid(conn, cfg->xmpp.domain);
		rc = xmpp_connect_raw(conn, cfg->xmpp.host,
		                      (unsigned short)cfg->xmpp.port,
		                      conn_handler, &x);
	}
	if (rc != XMPP_EOK) {
		snprintf(res->why, sizeof(res->why), "cannot connect to %s:%d",
		         cfg->xmpp.host, cfg->xmpp.port);
		goto out;
	}
	while (!x.disconnected && clock_mono_ms() < deadline) {
		xmpp_run_once(x.ctx, 50);
		if (!x.connected || closing)
			continue;
		if (mode == CHECK_XMPP_PROBE &&
		    clock_mono_ms() - x.connected_ms < PROBE_SETTLE_MS)
			continue;
		if (mode == CHECK_XMPP_AUTH &&
		    res->n_grants < (int)cfg->xmpp.user_domains.n &&
		    clock_mono_ms() - x.connected_ms < ADVERT_WAIT_MS)
			continue;
		/* Seen what we came for: a polite goodbye. */
		res->ok = !x.error_seen;
		closing = true;
		xmpp_disconnect(conn);
	}
	if (!closing && !x.error_seen)
		snprintf(res->why, sizeof(res->why),
		         "the XMPP server at %s:%d did not answer within %d s",
		         cfg->xmpp.host, cfg->xmpp.port, timeout_ms / 1000);
	if (x.error_seen)
		res->ok = false;
out:
	if (conn)
		xmpp_conn_release(conn);
	if (x.ctx)
		xmpp_ctx_free(x.ctx);
	xmpp_shutdown();
}
