/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "xmppc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static bool is(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

static void read_namespaces(struct xmppc_grants *g, xmpp_stanza_t *e)
{
	for (xmpp_stanza_t *ch = xmpp_stanza_get_children(e); ch;
	     ch = xmpp_stanza_get_next(ch)) {
		const char *ns, *type;
		bool set, get;

		if (!is(xmpp_stanza_get_name(ch), "namespace"))
			continue;
		ns = xmpp_stanza_get_attribute(ch, "ns");
		type = xmpp_stanza_get_attribute(ch, "type");
		set = is(type, "set") || is(type, "both");
		get = is(type, "get") || is(type, "both");
		if (get && is(ns, "urn:xmpp:mam:2"))
			g->iq_mam_get = true;
		if (set && is(ns, "urn:xmpp:push:0"))
			g->iq_push_set = true;
		if (set && is(ns, "http://jabber.org/protocol/pubsub"))
			g->iq_pubsub_set = true;
		read_namespaces(g, ch);
	}
}

void xmppc_grants_read(xmpp_stanza_t *priv, struct xmppc_grants *out)
{
	memset(out, 0, sizeof(*out));
	for (xmpp_stanza_t *perm = xmpp_stanza_get_children(priv); perm;
	     perm = xmpp_stanza_get_next(perm)) {
		const char *access = xmpp_stanza_get_attribute(perm, "access");
		const char *type = xmpp_stanza_get_attribute(perm, "type");

		if (!is(xmpp_stanza_get_name(perm), "perm") || !access)
			continue;
		if (is(access, "presence") &&
		    (is(type, "managed_entity") || is(type, "roster")))
			out->presence = true;
		else if (is(access, "message") && is(type, "outgoing"))
			out->message = true;
		else if (is(access, "roster") &&
		         (is(type, "get") || is(type, "both")))
			out->roster_get = true;
		else if (is(access, "iq"))
			read_namespaces(out, perm);
	}
}

static void ignore_events(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                          xmpp_stream_error_t *se, void *userdata)
{
	(void)conn, (void)event, (void)error, (void)se, (void)userdata;
}

int xmppc_give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	xmpp_conn_t *tmp = NULL;
	xmpp_sm_state_t *st = NULL;
	int64_t deadline = clock_mono_ms() + 2000;
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
	                        ignore_events, NULL) != XMPP_EOK)
		goto out;
	while (!xmpp_conn_is_disconnected(tmp) && clock_mono_ms() < deadline)
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
