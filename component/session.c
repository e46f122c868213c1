/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The XEP-0114 session and the process's one event loop. libstrophe owns
 * the socket but gives no call that returns it, so the socket-options
 * callback captures the descriptor; the loop then poll()s it together with
 * the store's completion fd, the queue's wake-up fd and a signalfd, sleeps
 * until the first of the component's timers (common/timer.h) is due, and
 * calls xmpp_run_once(ctx, 0) to let libstrophe read, write and run its
 * timers. Disconnects are followed by reconnects with exponential back-off
 * and jitter; a refused secret or an unknown component domain is fatal,
 * since retrying cannot fix configuration.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "comp.h"
#include "health.h"
#include "log.h"
#include "monitor.h"
#include "outcome.h"
#include "presence.h"
#include "store.h"
#include "timer.h"
#include "upload.h"
#include "xmppc.h"

#define TAG "xmpp"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
/* libstrophe runs its own timers (connect timeout, keepalive) inside
 * xmpp_run_once; waking four times a second is plenty for them. */
#define LOOP_MAX_WAIT_MS 250
/* How long to wait for the server's privilege advertisement before doing
 * the start-up work without it. */
#define ADVERT_WAIT_MS 3000
/* Safety net: re-read registrations even without a wake-up. */
#define REGISTRATION_POLL_MS 60000
/* After the privilege advertisement the server sends every online user's
 * presence at once; the "xmpp" rows are rebuilt when it has arrived. */
#define PRESENCE_SETTLE_MS 1500
/*
 * A session whose peer vanished (its host or the link to it) is given up
 * after this long: idle, after XMPP_KEEPIDLE_S of silence and
 * XMPP_KEEPCNT unanswered probes XMPP_KEEPINTVL_S apart (11 s); with data
 * unacknowledged, after XMPP_USER_TIMEOUT_MS (TCP_USER_TIMEOUT). Kernel
 * defaults would take hours or, with data in flight, some 15 minutes,
 * during which this process would hold the component lease for a session
 * that carries nothing (standby.c hands the lease on once it has had no
 * session for a while).
 */
#define XMPP_KEEPIDLE_S      5
#define XMPP_KEEPINTVL_S     2
#define XMPP_KEEPCNT         3
#define XMPP_USER_TIMEOUT_MS 12000

/* Work done every so often whatever happens (redis's run_with_period). */
struct periodic {
	struct timer t;
	struct comp *c;
	int64_t period_ms;
	void (*fn)(struct comp *c);
};

enum {
	PERIODIC_REGISTRATIONS,
	PERIODIC_RECHECK,
	PERIODIC_WATCHDOG,
	PERIODIC_N
};

/* The loop's own state: the socket, the reconnect back-off, the session's
 * start-up steps and the periodic work. */
struct session {
	int xmpp_fd; /* captured by the sockopt callback, or -1 */
	int signal_fd;
	int backoff_ms;
	bool ready_sent; /* READY=1 went to systemd (health.h) */
	bool active;     /* this process holds the component lease */
	struct timer reconnect;
	struct timer startup; /* the privileges' wait is over */
	struct timer settle;  /* the initial presence is in */
	struct periodic periodic[PERIODIC_N];
};

static struct comp *sockopt_comp; /* one component per process */

static int sockopt_cb(xmpp_conn_t *conn, void *sock)
{
	static const struct {
		int level, name, value;
		const char *what;
	} opts[] = {
	    {SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"},
	    {IPPROTO_TCP, TCP_KEEPIDLE, XMPP_KEEPIDLE_S, "TCP_KEEPIDLE"},
	    {IPPROTO_TCP, TCP_KEEPINTVL, XMPP_KEEPINTVL_S, "TCP_KEEPINTVL"},
	    {IPPROTO_TCP, TCP_KEEPCNT, XMPP_KEEPCNT, "TCP_KEEPCNT"},
	    {IPPROTO_TCP, TCP_USER_TIMEOUT, XMPP_USER_TIMEOUT_MS,
	     "TCP_USER_TIMEOUT"},
	};
	int fd = *(int *)sock;

	(void)conn;
	if (sockopt_comp && sockopt_comp->session)
		sockopt_comp->session->xmpp_fd = fd;
	/* Not fatal: the session works without them, only a vanished peer
	 * is noticed later. */
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (setsockopt(fd, opts[i].level, opts[i].name, &opts[i].value,
		               sizeof(opts[i].value)) != 0)
			log_warn(TAG, "setsockopt %s: %s", opts[i].what,
			         strerror(errno));
	return 0;
}

bool comp_presence_settling(struct comp *c)
{
	return c->session && timer_armed(&c->session->settle);
}

bool comp_send(struct comp *c, xmpp_stanza_t *stanza)
{
	if (!c->conn || !c->connected)
		return false;
	xmpp_send(c->conn, stanza);
	return true;
}

static void schedule_reconnect(struct comp *c)
{
	struct session *s = c->session;
	uint32_t r = 0;
	int jitter;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)clock_mono_ns();
	/* +-25% so a fleet of components does not reconnect in step. */
	jitter =
	    (int)(r % (uint32_t)(s->backoff_ms / 2 + 1)) - s->backoff_ms / 4;
	timer_start(&c->timers, &s->reconnect, s->backoff_ms + jitter);
	log_info(TAG, "reconnecting to %s:%d in %d ms", c->cfg->xmpp.host,
	         c->cfg->xmpp.port, s->backoff_ms + jitter);
	s->backoff_ms *= 2;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
}

static void session_lost(struct comp *c)
{
	if (c->connected && !c->stopping)
		health_status("the XMPP session was lost: reconnecting");
	comp_monitor_connected(c, false);
	c->connected = false;
	c->session->xmpp_fd = -1;
	comp_presence_clear(c->presence);
	comp_pending_iq_clear(c);
	comp_missed_reset(c);
	comp_outcomes_reset(c->outcomes);
	upload_reset(c->uploader);
	comp_privilege_reset(c);
	comp_presence_rows_reset(c);
	timer_stop(&c->timers, &c->session->settle);
	timer_stop(&c->timers, &c->session->startup);
	c->startup_done = false;
	comp_status_write(c);
}

static void conn_handler(xmpp_conn_t *conn, xmpp_conn_event_t event, int error,
                         xmpp_stream_error_t *se, void *userdata)
{
	struct comp *c = userdata;

	if (event == XMPP_CONN_CONNECT) {
		c->connected = true;
		comp_monitor_connected(c, true);
		/* Shown by ringbridgectl check: the wall clock. */
		c->connected_at_ms = clock_real_ms();
		c->session->backoff_ms = BACKOFF_MIN_MS;
		/* Forget all presence: a user who left while we were away
		 * must not be taken for online. The server resends the
		 * presence of everyone online after the advertisement. */
		comp_presence_clear(c->presence);
		comp_presence_rows_reset(c);
		comp_privilege_reset(c);
		timer_stop(&c->timers, &c->session->settle);
		c->startup_done = false;
		timer_start(&c->timers, &c->session->startup, ADVERT_WAIT_MS);
		log_info(TAG, "connected to %s:%d as %s", c->cfg->xmpp.host,
		         c->cfg->xmpp.port, c->domain);
		comp_status_write(c);
		return;
	}
	if (event == XMPP_CONN_RAW_CONNECT)
		return;

	if (se && se->type == XMPP_SE_NOT_AUTHORIZED) {
		log_err(TAG,
		        "the server refused the component secret for %s: "
		        "check [xmpp] secret against the server's "
		        "component_secret",
		        c->domain);
		c->fatal = CLI_EXIT_CONFIG;
	} else if (se && (se->type == XMPP_SE_HOST_UNKNOWN ||
	                  se->type == XMPP_SE_IMPROPER_ADDR)) {
		log_err(TAG,
		        "the server does not know the component %s: add a "
		        "Component \"%s\" to its configuration, or fix [xmpp] "
		        "domain",
		        c->domain, c->domain);
		c->fatal = CLI_EXIT_CONFIG;
	} else if (se && se->type == XMPP_SE_CONFLICT) {
		log_err(TAG, "another component is connected as %s; retrying",
		        c->domain);
		/* The server answers and holds a session it will drop (a
		 * holder that vanished, its lease lapsed): the take-over
		 * comes one retry after that, so retries are not spread
		 * out. */
		c->session->backoff_ms = BACKOFF_MIN_MS;
		comp_standby_server_answered(c);
	} else if (se) {
		log_warn(TAG, "stream error from the server (%d%s%s)",
		         (int)se->type, se->text ? ": " : "",
		         se->text ? se->text : "");
	} else if (c->stopping) {
		log_info(TAG, "disconnected from %s:%d", c->cfg->xmpp.host,
		         c->cfg->xmpp.port);
	} else if (c->connected) {
		log_warn(TAG, "connection to %s:%d lost (%s)",
		         c->cfg->xmpp.host, c->cfg->xmpp.port,
		         error ? strerror(error) : "closed by the server");
	} else {
		log_warn(TAG, "cannot connect to %s:%d (%s)", c->cfg->xmpp.host,
		         c->cfg->xmpp.port,
		         error ? strerror(error) : "closed during handshake");
	}
	(void)conn; /* kept and reused for the next attempt */
	session_lost(c);
	if (!c->fatal && !c->stopping)
		schedule_reconnect(c);
}

/* The one connection object, created once and reconnected. */
static int make_conn(struct comp *c)
{
	xmpp_conn_t *conn = xmpp_conn_new(c->ctx);

	if (!conn)
		return -ENOMEM;
	if (xmppc_give_sm_state(c->ctx, conn) != 0) {
		log_err(TAG, "cannot prepare the XMPP connection (libstrophe "
		             "stream-management state)");
		xmpp_conn_release(conn);
		return -EIO;
	}
	xmpp_conn_set_jid(conn, c->domain);
	xmpp_conn_set_pass(conn, c->cfg->xmpp.secret);
	xmpp_conn_set_sockopt_callback(conn, sockopt_cb);
	xmpp_handler_add(conn, comp_iq_handler, NULL, "iq", NULL, c);
	xmpp_handler_add(conn, comp_message_handler, NULL, "message", NULL, c);
	xmpp_handler_add(conn, comp_presence_handler, NULL, "presence", NULL,
	                 c);
	c->conn = conn;
	return 0;
}

static void connect_now(struct comp *c)
{
	timer_stop(&c->timers, &c->session->reconnect);
	c->session->xmpp_fd = -1;
	if (xmpp_connect_component(c->conn, c->cfg->xmpp.host,
	                           (unsigned short)c->cfg->xmpp.port,
	                           conn_handler, c) != XMPP_EOK) {
		log_warn(TAG, "cannot start connecting to %s:%d",
		         c->cfg->xmpp.host, c->cfg->xmpp.port);
		schedule_reconnect(c);
	}
}

/* Work done once per session, after the privileges are known. */
static void startup_work(struct comp *c)
{
	struct session *s = c->session;

	timer_stop(&c->timers, &s->startup);
	c->startup_done = true;
	timer_start(&c->timers, &s->settle, PRESENCE_SETTLE_MS);
	comp_presence_rows_reload(c);
	/* What the server holds is not known after a reconnect (a node may
	 * have changed meanwhile): every node is sent again. */
	comp_push_reconcile(c, true);
	comp_presence_subscribe_fallback(c);
	comp_gwpres_session_start(c);
	comp_missed_check(c);
	upload_discover(c->uploader);
	comp_outcomes_poll(c->outcomes);
	/* Ready for systemd once, the first time there is a session and its
	 * start-up work is done: messages can be caught from now on. */
	if (!s->ready_sent)
		health_ready("connected, catching messages");
	else
		health_status("connected, catching messages");
	s->ready_sent = true;
}

/* Registrations may have changed outside this process (ringbridgectl,
 * another host): push nodes, presence rows and gateway contacts follow. */
static void registrations_reread(struct comp *c)
{
	if (!c->startup_done)
		return;
	comp_push_reconcile(c, false);
	comp_presence_rows_reload(c);
	comp_gwpres_all_changed(c);
}

void comp_registration_changed(struct comp *c, const char *bare)
{
	if (!c->startup_done)
		return;
	comp_presence_rows_reload(c);
	comp_gwpres_user_changed(c, bare);
}

static void handle_wake(struct comp *c)
{
	unsigned channels = 0;

	if (queue_wake_drain(c->q, &channels) != 0)
		return;
	if (channels & QUEUE_CH_REGISTRATIONS)
		registrations_reread(c);
	if (channels & QUEUE_CH_EVENTS)
		comp_outcomes_poll(c->outcomes);
	if ((channels & QUEUE_CH_PRESENCE) && c->startup_done)
		comp_gwpres_poll(c, false);
}

int comp_signals_block(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* Threads inherit the mask: blocked here, before any is started,
	 * the signals reach only the signalfd the loop reads. */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -EINVAL;
	return 0;
}

static int open_signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

static void handle_signal(struct comp *c)
{
	struct signalfd_siginfo si;

	while (read(c->session->signal_fd, &si, sizeof(si)) ==
	       (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			log_info("main", "SIGHUP: re-reading registrations");
			registrations_reread(c);
			continue;
		}
		log_info("main",
		         "signal %u: finishing pending work and "
		         "stopping",
		         si.ssi_signo);
		if (!c->stopping)
			health_stopping();
		c->stopping = true;
	}
}

/* Lets libstrophe write what is queued and close the stream cleanly. */
static void shutdown_session(struct comp *c)
{
	int64_t deadline = clock_mono_ms() + 2000;

	if (!c->conn)
		return;
	c->stopping = true;
	if (c->connected) {
		while (xmpp_conn_send_queue_len(c->conn) > 0 &&
		       clock_mono_ms() < deadline)
			xmpp_run_once(c->ctx, 50);
		xmpp_disconnect(c->conn);
		while (!xmpp_conn_is_disconnected(c->conn) &&
		       clock_mono_ms() < deadline)
			xmpp_run_once(c->ctx, 50);
	}
	xmpp_conn_release(c->conn);
	c->conn = NULL;
}

/* ---- timers ---- */

static void on_reconnect(void *arg)
{
	struct comp *c = arg;

	if (c->session->active && !c->connected)
		connect_now(c);
}

/*
 * Follows the component lease (standby.c): connects when this process
 * takes it, drops the session when it loses it. A stopping process takes
 * no session it does not have.
 */
static void active_follow(struct comp *c)
{
	struct session *s = c->session;
	bool now_active = comp_standby_tick(c) && !c->stopping;

	if (now_active && !s->active) {
		if (xmpp_conn_is_disconnected(c->conn))
			connect_now(c);
		else
			timer_start(&c->timers, &s->reconnect, 0);
	} else if (!now_active && s->active && !c->stopping) {
		timer_stop(&c->timers, &s->reconnect);
		if (!xmpp_conn_is_disconnected(c->conn))
			xmpp_disconnect(c->conn);
	}
	s->active = now_active || (s->active && c->stopping);
}

/* The privilege advertisement did not come (or not from every domain):
 * the start-up work goes ahead without it. */
static void on_startup(void *arg)
{
	struct comp *c = arg;

	if (c->connected && !c->startup_done)
		startup_work(c);
}

static void on_settle(void *arg)
{
	struct comp *c = arg;

	comp_presence_rows_settle(c);
	comp_missed_settle(c);
}

static void on_periodic(void *arg)
{
	struct periodic *p = arg;

	timer_start(&p->c->timers, &p->t, p->period_ms);
	p->fn(p->c);
}

static void every_registrations(struct comp *c)
{
	registrations_reread(c);
	/* Safety net for lost presence wake-ups. */
	if (c->startup_done)
		comp_gwpres_poll(c, true);
}

static void every_recheck(struct comp *c)
{
	if (c->connected && c->startup_done)
		comp_presence_rows_recheck(c);
}

/* The watchdog is pinged from this loop, so that a loop that stops turning
 * stops the pings and systemd restarts the process. */
static void every_watchdog(struct comp *c)
{
	health_watchdog_ping();
	/* Not ready while the server is unreachable: starting for as long
	 * as that lasts, a period at a time (three periods: a late turn is
	 * not a wedge). */
	if (!c->session->ready_sent)
		health_start_extend(
		    3 * c->session->periodic[PERIODIC_WATCHDOG].period_ms);
}

static void periodic_start(struct comp *c, int i, int64_t period_ms,
                           void (*fn)(struct comp *c))
{
	struct periodic *p = &c->session->periodic[i];

	p->c = c;
	p->period_ms = period_ms;
	p->fn = fn;
	timer_init(&p->t, on_periodic, p);
	if (period_ms > 0)
		timer_start(&c->timers, &p->t,
		            i == PERIODIC_WATCHDOG ? 0 : period_ms);
}

static int session_new(struct comp *c)
{
	struct session *s = g_new0(struct session, 1);

	s->xmpp_fd = -1;
	s->backoff_ms = BACKOFF_MIN_MS;
	s->signal_fd = open_signal_fd();
	if (s->signal_fd < 0) {
		log_err("main", "signalfd: %s", strerror(errno));
		g_free(s);
		return -errno;
	}
	timer_init(&s->reconnect, on_reconnect, c);
	timer_init(&s->startup, on_startup, c);
	timer_init(&s->settle, on_settle, c);
	c->session = s;
	periodic_start(c, PERIODIC_REGISTRATIONS, REGISTRATION_POLL_MS,
	               every_registrations);
	periodic_start(c, PERIODIC_RECHECK, PRESENCE_RECHECK_MS, every_recheck);
	/* 0 when systemd does not watch: never armed. */
	periodic_start(c, PERIODIC_WATCHDOG, health_watchdog_period_ms(),
	               every_watchdog);
	return 0;
}

static void session_free(struct comp *c)
{
	struct session *s = c->session;

	if (!s)
		return;
	timer_stop(&c->timers, &s->reconnect);
	timer_stop(&c->timers, &s->startup);
	timer_stop(&c->timers, &s->settle);
	for (int i = 0; i < PERIODIC_N; i++)
		timer_stop(&c->timers, &s->periodic[i].t);
	close(s->signal_fd);
	g_free(s);
	c->session = NULL;
}

int comp_run(struct comp *c)
{
	struct session *s;
	int status = 1;

	if (session_new(c) != 0)
		return 1;
	s = c->session;
	sockopt_comp = c;
	if (make_conn(c) != 0)
		goto out;
	/* Connected by active_follow once the lease is ours. */

	while (!c->fatal) {
		struct pollfd pfd[5];
		int n = 0, si, ui, wi = -1;

		int wait, standby_wait;

		if (c->stopping && store_idle(c->store))
			break;
		active_follow(c);
		/* Not a deadline: the advertisement may end the wait early. */
		if (c->connected && !c->startup_done &&
		    comp_privileges_all_advertised(c))
			startup_work(c);
		timers_run(&c->timers, clock_mono_ms());

		pfd[n].fd = s->signal_fd;
		pfd[n++].events = POLLIN;
		si = n;
		pfd[n].fd = store_fd(c->store);
		pfd[n++].events = POLLIN;
		ui = n;
		pfd[n].fd = upload_fd(c->uploader);
		pfd[n++].events = POLLIN;
		if (c->wake_fd >= 0) {
			wi = n;
			pfd[n].fd = c->wake_fd;
			pfd[n++].events = POLLIN;
		}
		if (s->xmpp_fd >= 0 && !xmpp_conn_is_disconnected(c->conn)) {
			pfd[n].fd = s->xmpp_fd;
			pfd[n].events = POLLIN;
			if (xmpp_conn_is_connecting(c->conn) ||
			    xmpp_conn_send_queue_len(c->conn) > 0)
				pfd[n].events |= POLLOUT;
			n++;
		}
		/* libstrophe's own timers (connect timeout, keepalive) run
		 * in xmpp_run_once: the wait is capped for them. */
		wait = timers_wait_ms(&c->timers, clock_mono_ms(),
		                      LOOP_MAX_WAIT_MS);
		standby_wait = comp_standby_wait_ms(c);
		if (standby_wait >= 0 && standby_wait < wait)
			wait = standby_wait;
		if (poll(pfd, (nfds_t)n, wait) < 0 && errno != EINTR) {
			log_err("main", "poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents)
			handle_signal(c);
		if (pfd[si].revents)
			store_complete(c->store);
		if (pfd[ui].revents)
			upload_complete(c->uploader);
		if (wi >= 0 && pfd[wi].revents)
			handle_wake(c);
		/* Reads what arrived, runs the handlers (which queue catches
		 * in the store), writes what is queued, runs timers. */
		xmpp_run_once(c->ctx, 0);
		/* Presence changes of this pass: one transaction, and the
		 * gateway contacts' broadcasts that are due. */
		comp_presence_rows_flush(c);
		comp_gwpres_run(c, clock_mono_ms());
		/* Group commit: everything caught in this pass goes to the
		 * writer as one transaction once it is free. */
		store_flush(c->store);
	}
	store_drain(c->store);
	store_complete(c->store);
	shutdown_session(c);
	comp_status_stop(c);
	status = c->fatal;
	if (!c->fatal)
		log_info("main", "stopped");
out:
	sockopt_comp = NULL;
	session_free(c);
	return status;
}
