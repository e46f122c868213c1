/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the component and ringbridgectl check share about an XEP-0114
 * connection through libstrophe: reading the privileges a server grants
 * (XEP-0356) and the libstrophe 0.12.2 stream-management work-around.
 */
#ifndef RB_XMPPC_H
#define RB_XMPPC_H

#include <stdbool.h>
#include <strophe.h>

/* The permissions one <privilege/> element grants. */
struct xmppc_grants {
	bool presence;      /* presence managed_entity (or roster) */
	bool message;       /* message outgoing */
	bool roster_get;    /* roster get or both */
	bool iq_push_set;   /* iq urn:xmpp:push:0 set (or both) */
	bool iq_pubsub_set; /* iq http://jabber.org/protocol/pubsub set */
	bool iq_mam_get;    /* iq urn:xmpp:mam:2 get (or both) */
};

/*
 * Reads the <perm/> children of PRIV, a <privilege/> of urn:xmpp:privilege:1
 * or :2, including the nested <namespace/> elements of the iq permission
 * (Debian 12's mod_privilege nests them). Unknown permissions are ignored.
 */
void xmppc_grants_read(xmpp_stanza_t *priv, struct xmppc_grants *out);

/*
 * libstrophe 0.12.2 (Debian 12) reads conn->sm_state after every received
 * stanza, but only xmpp_connect_client() allocates it, so a component
 * connection crashes on its first stanza. The public API can move a state
 * from one connection to another: a client connection to a loopback port
 * that is bound but not listening is refused at once, and its (empty,
 * disabled) stream-management state is handed to CONN, which keeps it for
 * every reconnect. Newer libstrophe releases do not need this; it is
 * harmless there. Returns 0, or -1 when no state could be handed over
 * within 2 s.
 */
int xmppc_give_sm_state(xmpp_ctx_t *ctx, xmpp_conn_t *conn);

#endif
