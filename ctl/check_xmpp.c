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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <strophe.h>

#include "check.h"

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

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* Walks nested <namespace/> elements (bookworm's mod_privilege nests). */
static void read_namespaces(struct check_grant *g, xmpp_stanza_t *e)
{
	for (xmpp_stanza_t *ch = xmpp_stanza_get_children(e); ch;
	     ch = xmpp_stanza_get_next(ch)) {
		const char *name = xmpp_stanza_get_name(ch);
		const char *ns, *type;
		bool set;

		if (!name || strcmp(name, "namespace") != 0)
			continue;
		ns = xmpp_stanza_get_attribute(ch, "ns");
		type = xmpp_stanza_get_attribute(ch, "type");
		set = type && (!strcmp(type, "set") || !strcmp(type, "both"));
		if (ns && set && !strcmp(ns, "urn:xmpp:push:0"))
			g->push = true;
		if (ns && set &&
		    !strcmp(ns, "http://jabber.org/protocol/pubsub"))
			g->pubsub = true;
		read_namespaces(g, ch);
	}
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
	for (xmpp_stanza_t *perm = xmpp_stanza_get_children(priv); perm;
	     perm = xmpp_stanza_get_next(perm)) {
		const char *name = xmpp_stanza_get_name(perm);
		const char *access = xmpp_stanza_get_attribute(perm, "access");
		const char *type = xmpp_stanza_get_attribute(perm, "type");

		if (!name || strcmp(name, "perm") != 0 || !access)
			continue;
		if (!strcmp(access, "presence") && type &&
		    (!strcmp(type, "managed_entity") ||
		     !strcmp(type, "roster")))
			g->presence = true;
		else if (!strcmp(access, "message") && type &&
		         !strcmp(type, "outgoing"))
			g->message = true;
		else if (!strcmp(access, "roster") && type &&
		         (!strcmp(type, "get") || !strcmp(type, "both")))
			g->roster = true;
		else if (!strcmp(access, "iq"))
			read_namespaces(g, perm);
	}
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
		x->connected_ms = now_ms();
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

static void dummy_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *se, void *userdata)
{
	(void)conn, (void)event, (void)error, (void)se, (void)userdata;
}

/*
 * libstrophe 0.12.2 (Debian 12) reads conn->sm_state on every received
 * stanza and on failure, but only xmpp_connect_client() allocates it: the
 * component's session.c explains the work-around used there and here (a
 * client connection refused by a bound, non-listening loopback port hands
 * its empty stream-management state over).
 */
static int give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	xmpp_conn_t *tmp = NULL;
	xmpp_sm_state_t *st = NULL;
	long long deadline = now_ms() + 2000;
	int fd, err = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		goto out;
	tmp = xmpp_conn_new(ctx);
	if (!tmp)
		goto out;
	xmpp_conn_set_jid(tmp, "sm-state@127.0.0.1");
	if (xmpp_connect_client(tmp, "127.0.0.1", ntohs(sa.sin_port),
	                        dummy_handler, NULL) != XMPP_EOK)
		goto out;
	while (!xmpp_conn_is_disconnected(tmp) && now_ms() < deadline)
		xmpp_run_once(ctx, 10);
	st =
	    xmpp_conn_is_disconnected(tmp) ? xmpp_conn_get_sm_state(tmp) : NULL;
	if (st && xmpp_conn_set_sm_state(conn, st) == XMPP_EOK)
		err = 0;
	else if (st)
		xmpp_free_sm_state(st);
out:
	if (tmp)
		xmpp_conn_release(tmp);
	if (fd >= 0)
		close(fd);
	return err;
}

void check_xmpp(const struct config *cfg, enum check_xmpp_mode mode,
                int timeout_ms, struct check_xmpp_result *res)
{
	struct xstate x = {.cfg = cfg, .res = res, .mode = mode};
	xmpp_conn_t *conn = NULL;
	long long deadline = now_ms() + timeout_ms;
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
	if (!conn || give_sm_state(x.ctx, conn) != 0) {
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
	while (!x.disconnected && now_ms() < deadline) {
		xmpp_run_once(x.ctx, 50);
		if (!x.connected || closing)
			continue;
		if (mode == CHECK_XMPP_PROBE &&
		    now_ms() - x.connected_ms < PROBE_SETTLE_MS)
			continue;
		if (mode == CHECK_XMPP_AUTH &&
		    res->n_grants < (int)cfg->xmpp.user_domains.n &&
		    now_ms() - x.connected_ms < ADVERT_WAIT_MS)
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
