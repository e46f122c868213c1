/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's shared state and the functions its modules call on one
 * another. One struct comp per process: the XEP-0114 session (session.c),
 * the IQ handlers (iq.c, register.c, adhoc.c), presence tracking
 * (presence.c), privileges granted by the server (privilege.c), catching
 * messages for offline users (push.c, gateway.c, catch.c) and the writer
 * thread that commits them (store.c). Everything runs on one thread except
 * the store's writer.
 */
#ifndef RB_COMP_H
#define RB_COMP_H

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>
#include <strophe.h>

#include "config.h"
#include "queue.h"
#include "timer.h"
#include "xmppc.h"

struct store;
struct presence_table;
struct presence_rows;
struct gwpres;
struct outcomes;
struct http_server;
struct uploader;
struct comp_monitor;
struct statuspage;
struct comp_standby;
struct session;
struct comp_status;
struct comp_iqs;
struct comp_push;
struct comp_gateway;
struct comp_catcher;

/* What the server granted through XEP-0356 (advertised after auth). */
struct comp_privileges {
	bool advertised; /* an advertisement arrived on this session */
	char ns[32];     /* urn:xmpp:privilege:1 or :2 */
	struct xmppc_grants grants; /* what the advertisement granted */
};

struct comp {
	struct config *cfg;
	const char *domain; /* cfg->xmpp.domain */

	xmpp_ctx_t *ctx;
	xmpp_conn_t *conn;       /* one object, reconnected after each loss */
	bool connected;          /* handshake done */
	int64_t connected_at_ms; /* wall clock, for the status row */
	int fatal;               /* non-zero: exit with this status */
	bool stopping;
	/* Every module's deadlines, run by the loop (session.c). */
	struct timers timers;
	struct session *session; /* the loop's own state (session.c) */

	struct queue *q;     /* main thread's handle: reads, rare writes */
	struct store *store; /* writer thread for caught messages */
	struct outcomes *outcomes; /* call outcomes back to the senders */
	struct uploader *uploader; /* XEP-0363 uploads of voice replies */
	struct http_server *http;  /* serves voice replies, or NULL */
	int wake_fd;               /* queue wake-ups (registrations, events) */
	/* The metrics (monitor.h), or NULL. */
	struct comp_monitor *monitor;
	/* The operators' /status page (statuspage.h), or NULL. */
	struct statuspage *statuspage;
	struct presence_table *presence;
	struct presence_rows *rows; /* the queue's "xmpp" rows */
	struct gwpres *gwpres;      /* gateway contacts' presence */
	/* one per [xmpp] user_domains entry, in the same order */
	struct comp_privileges *priv;
	struct comp_iqs *iqs;       /* IQs awaiting a reply (privilege.c) */
	struct comp_status *status; /* the status row (status.c) */
	bool startup_done; /* this session's post-connect work is done */

	struct comp_push *push;       /* push registrations (push.c) */
	struct comp_gateway *gateway; /* gateway address echoes (gateway.c) */
	struct comp_catcher *catcher; /* the catch path's state (catch.c) */
	struct comp_waits *waits;     /* callees in a wait (wait.c) */
	uint64_t receive_seq;         /* idempotency keys for pushes */
	char run_id[17];              /* random, distinguishes component runs */
	struct comp_missed *missed;   /* archive ends parked (missed.c) */
	struct comp_standby *standby; /* the component lease (standby.c) */
};

/* ---- comp.c: setting up and tearing down ---- */
/* Fills C (zeroed by the caller) for CFG, which must outlive it: opens the
 * queue, starts the writer thread and, when configured, the HTTP listener.
 * Block signals first (threads inherit the mask). Returns 0 or a negative
 * errno value after logging why; comp_fini() frees what was set up either
 * way. */
int comp_init(struct comp *c, struct config *cfg);
void comp_fini(struct comp *c);

/* ---- status.c: the status row ringbridgectl check reads ---- */
/* How often the row is rewritten while the component runs; check takes a
 * row older than three of these for a component that is not running. */
#define COMP_STATUS_HEARTBEAT_MS 30000
int comp_status_new(struct comp_status **sp, struct comp *c);
void comp_status_free(struct comp *c); /* after the store: NULL-safe */
/* Writes the row now (and again every heartbeat). */
void comp_status_write(struct comp *c);
/* The last write: the process is exiting. */
void comp_status_stop(struct comp *c);

/* ---- missed.c: messages archived while disconnected ---- */
/* After each (re)connect, as soon as the privileges are known: reads each
 * verified user's archive end (before pushes caught since the reconnect
 * move it); comp_missed_settle(), once presence has settled, phones a
 * notice for what arrived unseen. comp_missed_reset() drops what a lost
 * session left undecided (also at exit). */
void comp_missed_check(struct comp *c);
void comp_missed_settle(struct comp *c);
void comp_missed_reset(struct comp *c);

/* ---- standby.c: only the holder of the component lease connects ---- */
/* Prepares the lease's name and this process's owner id (standby until
 * the first comp_standby_tick() takes the lease). */
int comp_standby_new(struct comp *c);
/* Releases the lease if held, so a standby takes over at once. NULL-safe. */
void comp_standby_free(struct comp *c);
/* Each loop turn: takes, renews or gives up the lease when due; true while
 * this process may hold the XMPP session (always, without comp_standby). */
bool comp_standby_tick(struct comp *c);
/* Milliseconds until the next tick has work, -1 for none. */
int comp_standby_wait_ms(struct comp *c);
bool comp_standby_active(const struct comp *c);
/* The XMPP server answered without giving a session (it still holds a
 * dead one: a conflict): it is reachable, so the lease is not handed on
 * for want of a session. */
void comp_standby_server_answered(struct comp *c);

/* ---- session.c ---- */
/* Blocks SIGTERM, SIGINT and SIGHUP for this thread and those it starts
 * later; call before starting any thread. */
int comp_signals_block(void);
int comp_run(struct comp *c); /* the loop; returns the exit status */
/* True from the start-up work until the initial presence is in. */
bool comp_presence_settling(struct comp *c);
/* Sends STANZA (not released) if connected; false when not. */
bool comp_send(struct comp *c, xmpp_stanza_t *stanza);

/* ---- stanza.c: stanza helpers ---- */
/* Replies to IQ with an error of TYPE/CONDITION and an optional text. */
void comp_iq_error(struct comp *c, xmpp_stanza_t *iq, const char *type,
                   const char *condition, const char *text);
void comp_iq_result(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *child);
/* The error type RFC 6120 8.3.3 pairs with CONDITION. */
const char *comp_error_type(const char *condition);
/* A new element NAME in NS (NULL: none); caller releases. */
xmpp_stanza_t *comp_elem(struct comp *c, const char *name, const char *ns);
/* Adds <NAME>TEXT</NAME> to PARENT. */
void comp_add_text_child(struct comp *c, xmpp_stanza_t *parent,
                         const char *name, const char *text);
/* Text of child NAME (any ns), copied with g_strdup; NULL if absent. */
char *comp_child_text(xmpp_stanza_t *parent, const char *name);
/* The bare form of JID as a g_strdup'ed string, or NULL when invalid. */
char *comp_jid_bare(const char *jid);
/* True when JID is a syntactically valid JID within XMPP's limits. */
bool comp_jid_valid(const char *jid);
/* Makes an id unique to this run. */
void comp_new_id(struct comp *c, char *buf, size_t len);

/* Data forms (XEP-0004). */
struct comp_form;
/* Parses the first jabber:x:data child of PARENT; NULL if none. */
struct comp_form *comp_form_parse(xmpp_stanza_t *parent);
const char *comp_form_get(const struct comp_form *f, const char *var);
bool comp_form_has(const struct comp_form *f, const char *var);
const char *comp_form_type(const struct comp_form *f);
void comp_form_free(struct comp_form *f);
/* Builders: a form element of TYPE with TITLE and INSTRUCTIONS. */
xmpp_stanza_t *comp_form_new(struct comp *c, const char *type,
                             const char *title, const char *instructions);
/* Adds a field; OPTIONS is NULL or a NULL-terminated list for list-single. */
void comp_form_add_field(struct comp *c, xmpp_stanza_t *form, const char *var,
                         const char *type, const char *label, const char *value,
                         bool required, const char *const *options);

/* ---- privilege.c ---- */
void comp_privilege_reset(struct comp *c);
/* The privileges granted for the domain of JID (a served domain), or NULL. */
struct comp_privileges *comp_privileges_for(struct comp *c, const char *jid);
/* True once every served domain has advertised (or the wait is over). */
bool comp_privileges_all_advertised(struct comp *c);
/* Handles a <message/> carrying a privilege advertisement; true if it was. */
bool comp_privilege_handle_advert(struct comp *c, xmpp_stanza_t *msg);
/* Wraps PAYLOAD (moved in) in a privileged IQ of TYPE to user JID and sends
 * it; CB is called with the unwrapped reply (or NULL on error/timeout). */
typedef void (*comp_iq_cb)(struct comp *c, xmpp_stanza_t *reply, void *arg);
int comp_privileged_iq(struct comp *c, const char *user_jid, const char *type,
                       xmpp_stanza_t *payload, comp_iq_cb cb, void *arg);
/* Sends MSG (a jabber:client <message/> from a local bare JID) through the
 * message privilege. */
int comp_privileged_message(struct comp *c, xmpp_stanza_t *msg);
/* Sends an ordinary IQ and calls CB with the reply (NULL on timeout). */
int comp_send_iq(struct comp *c, xmpp_stanza_t *iq, comp_iq_cb cb, void *arg,
                 int timeout_ms);
/* Handles an IQ result/error for one of ours; true if it was ours. */
bool comp_pending_iq_handle(struct comp *c, xmpp_stanza_t *iq);
/* Ends every pending IQ as timed out (the session was lost). */
void comp_pending_iq_clear(struct comp *c);
/* How many IQs await a reply. */
size_t comp_pending_iq_count(struct comp *c);
/* The pending IQs' table and their timeout timer; free is NULL-safe. */
int comp_iqs_new(struct comp_iqs **ip, struct comp *c);
void comp_iqs_free(struct comp *c);

/* ---- iq.c ---- */
int comp_iq_handler(xmpp_conn_t *conn, xmpp_stanza_t *stanza, void *userdata);

/* ---- register.c / adhoc.c ---- */
void comp_register_handle(struct comp *c, xmpp_stanza_t *iq);
/* The outcome of one of the actions below, for the user. */
struct comp_action_result {
	int err;          /* 0, or a negative errno value */
	const char *cond; /* the stanza error condition, when ERR */
	char note[512];   /* for the user when not ERR ("": none) */
	char why[512];    /* when ERR: a text naming the field */
};
/* Called on the loop's thread once the action's writes committed (or
 * failed), or at once when it was refused before writing anything. */
typedef void (*comp_action_done_cb)(struct comp *c,
                                    const struct comp_action_result *res,
                                    void *arg);
/*
 * The actions both XEP-0077 and XEP-0050 offer, for the local user BARE.
 * The form is read and checked on the loop, the rows written on the
 * store's thread; DONE(C, RES, ARG) runs exactly once, possibly before the
 * call returns. FORM and the strings are not kept.
 */
void comp_settings_submit(struct comp *c, const char *bare,
                          const struct comp_form *form,
                          const char *legacy_phone, comp_action_done_cb done,
                          void *arg);
void comp_verify_submit(struct comp *c, const char *bare, const char *code,
                        comp_action_done_cb done, void *arg);
void comp_unregister(struct comp *c, const char *bare, comp_action_done_cb done,
                     void *arg);
/* The settings form (TYPE "form"), filled from R when not NULL. */
xmpp_stanza_t *comp_settings_form(struct comp *c,
                                  const struct queue_registration *r);
void comp_adhoc_items(struct comp *c, xmpp_stanza_t *iq);
void comp_adhoc_handle(struct comp *c, xmpp_stanza_t *iq);

/* ---- presence.c ---- */
int comp_presence_handler(xmpp_conn_t *conn, xmpp_stanza_t *stanza,
                          void *userdata);
/* True when bare JID should be phoned now under CALL_WHEN. */
bool comp_presence_unreachable(struct comp *c, const char *bare_jid,
                               enum queue_call_when call_when);
bool comp_presence_online(struct comp *c, const char *bare_jid);

/* wait.c: "call me only if I have not come online within N minutes". */
struct comp_waits *comp_waits_new(void);
void comp_waits_free(struct comp_waits *w);
/* BARE has a job in its wait until UNTIL_MS (0: none). */
void comp_wait_started(struct comp *c, const char *bare, int64_t until_ms,
                       enum queue_call_when call_when);
/* Rebuilds the set from the queue's unfinished jobs (at start). */
int comp_wait_load(struct comp *c);
/* BARE's resources changed: if BARE is online (by its call_when: a
 * resource, one not away), its waiting jobs are cancelled. */
void comp_wait_presence_changed(struct comp *c, const char *bare);

/* Presence addressed to a gateway contact (presence_gateway.c). */
void comp_gwpres_handle(struct comp *c, xmpp_stanza_t *stanza,
                        const char *contact);

/* ---- presence_gateway.c: the presence of gateway contacts ---- */
struct gwpres *comp_gwpres_new(struct comp *c);
void comp_gwpres_free(struct gwpres *g);
/* Reads the bridge's "sip" rows changed lately (FULL: all of them). */
void comp_gwpres_poll(struct comp *c, bool full);
/* Sends the broadcasts that are due at NOW (clock_mono_ms); those due
 * later wake the loop through a timer of their own. */
void comp_gwpres_run(struct comp *c, int64_t now);
/* BARE's registration changed / registrations were re-read. */
void comp_gwpres_user_changed(struct comp *c, const char *bare);
void comp_gwpres_all_changed(struct comp *c);
/* After each (re)connect, once the privileges are known. */
void comp_gwpres_session_start(struct comp *c);
/* A registration changed in this process: BARE's rows and contact. */
void comp_registration_changed(struct comp *c, const char *bare);

/* ---- presence_recheck.c ---- */
/* True where the server does not tell when a session ends (ejabberd 23.01,
 * urn:xmpp:privilege:1): the presence table may list resources long gone. */
bool comp_session_ends_unreported(struct comp *c, const char *user);
/* There, asks each of USER's resources whether it is still connected,
 * forgets those that are not, then calls DONE(C, ARG) once. Returns false
 * (DONE not called) when there is nothing to ask. */
typedef void (*comp_recheck_cb)(struct comp *c, void *arg);
bool comp_presence_recheck(struct comp *c, const char *user,
                           comp_recheck_cb done, void *arg);

/* ---- push.c ---- */
/* At most this many stale nodes are remembered, each logged at most once
 * per PUSH_STALE_LOG_MS. */
#define PUSH_STALE_MAX    512
#define PUSH_STALE_LOG_MS (3600 * 1000)
/* Also arms the periodic reconcile pass. */
int comp_push_new(struct comp_push **pp, struct comp *c);
void comp_push_free(struct comp_push *p); /* NULL-safe */
/*
 * Brings the server's push registrations in step with the registrations
 * table: enables the node of every verified registration, disables a node
 * that changed or whose registration is gone or unverified. RECONNECTED
 * (a new session) also re-enables unchanged nodes and asks again for the
 * disables the server did not confirm. Reads the whole table: for
 * wake-ups, the periodic pass and reconnects, not for one user's change.
 * Returns 0 or the queue's error (then nothing was changed).
 */
int comp_push_reconcile(struct comp *c, bool reconnected);
/* The same for JID alone, whose row is R (NULL: no registration), after a
 * change made in this process. */
void comp_push_sync(struct comp *c, const char *jid,
                    const struct queue_registration *r);
/* Handles a pubsub publish from the server's push service. */
void comp_push_handle(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *pubsub);

/* ---- gateway.c ---- */
int comp_gateway_new(struct comp_gateway **gp);
void comp_gateway_free(struct comp_gateway *g); /* NULL-safe */
/* Forgets the echoes expected (the fuzz harness, between inputs). */
void comp_gateway_forget(struct comp_gateway *g);
int comp_message_handler(xmpp_conn_t *conn, xmpp_stanza_t *stanza,
                         void *userdata);
/* True (and forgets it) when a push for CALLEE from SENDER with BODY echoes
 * a gateway message already caught. */
bool comp_echo_consume(struct comp *c, const char *callee, const char *sender,
                       const char *body);

/* ---- catch.c ---- */
/* Why a message was caught or not, for logs and tests. */
enum catch_verdict {
	CATCH_QUEUED = 0,
	CATCH_NOT_REGISTERED,
	CATCH_NOT_VERIFIED,
	CATCH_ONLINE,
	CATCH_QUIET_HOURS,
	CATCH_SENDER_REFUSED,
	CATCH_NOT_IN_ROSTER,
	CATCH_EMPTY,
	CATCH_POLICY,
	CATCH_ERROR,
};

struct catch_request {
	const char *callee;     /* bare JID of the registered user */
	const char *sender;     /* full or bare JID of who wrote */
	const char *reply_from; /* address the sender wrote to */
	const char *body;
	bool encrypted; /* an encrypted payload was present */
	const char *idem_key;
	const char *destination; /* direct dialling: no registration */
	/* Set: a notice from the component itself (missed.c), spoken as
	 * from this name; no sender policy, roster or vCard look-up. */
	const char *notice_from;
};

/* Called on the main thread when the catch has been decided (and, when
 * queued, committed): ERR 0 or negative. */
typedef void (*catch_done_cb)(struct comp *c, enum catch_verdict v,
                              enum queue_enqueue_result r, int err, void *arg);

int comp_catch_new(struct comp_catcher **cp);
void comp_catch_free(struct comp_catcher *k); /* NULL-safe */
/* Forgets the display names learnt (the fuzz harness, between inputs). */
void comp_catch_names_forget(struct comp_catcher *k);
/* Decides and (when due) queues R; DONE runs exactly once. */
void comp_catch(struct comp *c, const struct catch_request *r,
                catch_done_cb done, void *arg);
const char *catch_verdict_name(enum catch_verdict v);
/* A display name learnt from JID's vCard, or NULL when none is known. */
const char *comp_name_cached(struct comp *c, const char *jid);

#endif
