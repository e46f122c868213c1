/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Active and standby components: any number of ringbridge-component
 * processes may run with one configuration (on several hosts), and only
 * the holder of the queue lease "component:DOMAIN" opens the XEP-0114
 * session. The holder renews the lease every third of its length; the
 * others try to take it every STANDBY_TRY_MS and, when one does, it
 * connects and redoes the start-up work of every reconnect (presence
 * rebuilt, push nodes re-enabled, missed messages looked for). A holder
 * that cannot renew (the database is out of reach) drops its session by its
 * own deadline, a second before the lease can go to another, so two never
 * hold sessions at once: ejabberd would share the domain's stanzas between
 * them, Prosody would refuse the second. A holder that cannot reach the
 * XMPP server (its link to it is down, the database's is not) hands the
 * lease on after STANDBY_UNREACHED_MS without a session, since renewing it
 * would keep every standby out for as long as that lasts. The lease's
 * reads and writes run on the store's thread (store_call), never on the
 * loop: a slow database delays the answer, and the holder's own deadline
 * still holds on the loop's clock. docs/scale-out.md has the design.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "comp.h"
#include "log.h"
#include "monitor.h"
#include "store.h"

#define TAG "standby"

/*
 * The lease's length. A standby takes over at most this long after the
 * holder died (plus one STANDBY_TRY_MS), which keeps the take-over inside
 * the 10 s issue 11 asks for once the server has dropped the dead session.
 */
#define STANDBY_LEASE_MS 6000
#define STANDBY_TRY_MS   1000
/* A holder gives its session up this long before its lease could lapse:
 * the disconnect must reach the server before a standby connects. */
#define STANDBY_MARGIN_MS 1500
/*
 * A holder with no XMPP session for this long releases the lease and
 * leaves it alone for STANDBY_SITOUT_MS, so that a standby whose link to
 * the server works takes it (a standby tries every STANDBY_TRY_MS). When
 * the server is down for everyone the lease merely changes hands.
 */
#define STANDBY_UNREACHED_MS 6000
#define STANDBY_SITOUT_MS    3000

struct comp_standby {
	char name[320];  /* "component:" + the component's JID */
	char owner[384]; /* "host:pid:kernel" */
	char host[256];
	char kernel[9]; /* this kernel and pid namespace, hashed */
	bool active;
	int64_t next_try_ms;    /* monotonic */
	int64_t lease_until_ms; /* monotonic: surely ours until then */
	char *holder;           /* who holds it, as last logged */
	/* A try on the store's thread is out (sent at sent_ms); what it
	 * found, for the loop: the holder when another has the lease. */
	bool pending;
	int64_t sent_ms;
	char *seen_holder;
	bool released_dead; /* it gave a dead holder's lease up */
	/* Monotonic: since when the holder has had no XMPP session, or 0. */
	int64_t unreached_since_ms;
	/* The hand-on was logged in this outage (a lone component hands the
	 * lease on and takes it back every few seconds while the server is
	 * down: one line says so, the rest are debug). */
	bool handed_on_logged;
};

/* FNV-1a over S, folded into H. */
static uint32_t hash_str(uint32_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/*
 * This kernel's boot and this process's pid namespace, hashed: two owners
 * with the same host name and these eight digits see the same pids, so one
 * may tell whether the other's pid still runs (a restart after SIGKILL then
 * takes over at once instead of waiting for the lease).
 */
static void kernel_id(char out[9])
{
	char boot[64] = "", ns[64] = "";
	uint32_t h = 2166136261u;
	ssize_t n;
	int fd;

	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, boot, sizeof(boot) - 1);
		boot[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	n = readlink("/proc/self/ns/pid", ns, sizeof(ns) - 1);
	ns[n > 0 ? n : 0] = '\0';
	h = hash_str(hash_str(h, boot), ns);
	snprintf(out, 9, "%08x", h);
}

int comp_standby_new(struct comp *c)
{
	struct comp_standby *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (gethostname(s->host, sizeof(s->host) - 1) != 0)
		snprintf(s->host, sizeof(s->host), "?");
	/* ':' separates the owner's fields. */
	for (char *p = s->host; *p; p++)
		if (*p == ':')
			*p = '_';
	kernel_id(s->kernel);
	snprintf(s->name, sizeof(s->name), "component:%s", c->domain);
	snprintf(s->owner, sizeof(s->owner), "%s:%d:%s", s->host, (int)getpid(),
	         s->kernel);
	c->standby = s;
	comp_monitor_role(c, false);
	return 0;
}

void comp_standby_free(struct comp *c)
{
	struct comp_standby *s = c->standby;

	if (!s)
		return;
	/* Handed on at once, not after the lease: a clean stop (SIGTERM, a
	 * package upgrade) costs a standby one try. */
	if (s->active && c->q)
		queue_lease_release(c->q, s->name, s->owner);
	free(s->holder);
	free(s->seen_holder);
	free(s);
	c->standby = NULL;
}

/*
 * When the lease's holder is a process of this host and pid namespace that
 * no longer runs, gives its lease up for it (on the store's thread, with
 * its handle Q); true if it did.
 */
static bool dead_holder_released(struct queue *q, struct comp_standby *s,
                                 const char *holder)
{
	char host[256], kernel[16];
	int pid = 0;

	if (sscanf(holder, "%255[^:]:%d:%15s", host, &pid, kernel) != 3 ||
	    strcmp(host, s->host) || strcmp(kernel, s->kernel) || pid <= 0 ||
	    pid == (int)getpid())
		return false;
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return false;
	return queue_lease_release(q, s->name, holder) == 0;
}

/* The store's thread: one try at the lease; when another holds it, who
 * (and a dead holder of this host is released, so the next try wins).
 * Only S's fields the loop leaves alone while pending are touched. */
static int try_run(struct queue *q, void *arg)
{
	struct comp_standby *s = arg;
	int64_t deadline = 0;
	int err = queue_lease_acquire(q, s->name, s->owner, STANDBY_LEASE_MS);

	if (err != -EPERM)
		return err;
	if (queue_lease_get(q, s->name, &s->seen_holder, &deadline) == 0 &&
	    s->seen_holder && dead_holder_released(q, s, s->seen_holder))
		s->released_dead = true;
	return err;
}

/* The store's thread: the lease handed on by a holder that cannot reach
 * the XMPP server. */
static int hand_on_run(struct queue *q, void *arg)
{
	struct comp_standby *s = arg;

	return queue_lease_release(q, s->name, s->owner);
}

static void hand_on_done(struct comp *c, int err, void *arg)
{
	struct comp_standby *s = arg;

	(void)c;
	s->pending = false;
	/* Not released (the database went too): the lease lapses by
	 * itself, and this process no longer renews it. */
	if (err)
		log_warn(TAG, "cannot release the component lease: %s",
		         strerror(-err));
}

/*
 * While active: true once the XMPP session has been missing for
 * STANDBY_UNREACHED_MS (a connect that fails or hangs, a session lost and
 * not regained), counted from when this process took the lease or lost
 * its session.
 */
static bool xmpp_unreached(struct comp *c, struct comp_standby *s, int64_t now)
{
	if (c->connected) {
		s->unreached_since_ms = 0;
		s->handed_on_logged = false;
		return false;
	}
	if (!s->unreached_since_ms)
		s->unreached_since_ms = now;
	return now - s->unreached_since_ms >= STANDBY_UNREACHED_MS;
}

/* Logs who holds the lease, once per holder. */
static void holder_note(struct comp *c, struct comp_standby *s)
{
	char *holder = s->seen_holder;

	s->seen_holder = NULL;
	if (s->released_dead) {
		log_info(TAG,
		         "the lease's holder %s no longer runs: taking over",
		         holder);
		free(holder);
		s->released_dead = false;
		s->next_try_ms = 0;
		return;
	}
	if (holder && (!s->holder || strcmp(holder, s->holder)))
		log_info(TAG,
		         "standby: %s holds the session of %s; taking over "
		         "when its lease lapses",
		         holder, c->domain);
	free(s->holder);
	s->holder = holder;
}

/* The loop: what the try found. The lease runs from when the try was sent,
 * never from when the answer came back. */
static void try_done(struct comp *c, int err, void *arg)
{
	struct comp_standby *s = arg;
	int64_t now = clock_mono_ms();

	s->pending = false;
	if (!err) {
		free(s->seen_holder);
		s->seen_holder = NULL;
		s->lease_until_ms = s->sent_ms + STANDBY_LEASE_MS;
		s->next_try_ms = s->sent_ms + STANDBY_LEASE_MS / 3;
		if (s->lease_until_ms - STANDBY_MARGIN_MS <= now) {
			/* Answered too late to count: the deadline check
			 * gives the session up. */
			return;
		}
		if (!s->active) {
			log_info(TAG, "active: holding the session of %s as %s",
			         c->domain, s->owner);
			s->unreached_since_ms = 0;
		}
		s->active = true;
		comp_monitor_role(c, true);
		return;
	}
	s->next_try_ms = now + STANDBY_TRY_MS;
	if (err == -EPERM) {
		if (s->active)
			log_err(TAG, "another process took the component "
			             "lease: giving up the XMPP session");
		s->active = false;
		comp_monitor_role(c, false);
		holder_note(c, s);
	} else if (!s->active) {
		log_warn(TAG, "cannot read the component lease: %s",
		         strerror(-err));
	}
}

bool comp_standby_tick(struct comp *c)
{
	struct comp_standby *s = c->standby;
	int64_t now = clock_mono_ms();

	if (!s)
		return true;
	if (s->active && now + STANDBY_MARGIN_MS >= s->lease_until_ms) {
		log_err(TAG,
		        "the component lease could not be renewed in time: "
		        "giving up the XMPP session so that a standby may "
		        "take it");
		s->active = false;
		comp_monitor_role(c, false);
	}
	if (s->active && !s->pending && xmpp_unreached(c, s, now)) {
		if (!s->handed_on_logged)
			log_warn(
			    TAG,
			    "no XMPP session for %d s: handing the component "
			    "lease on to any standby that reaches the server, "
			    "trying again every %d s (logged once until "
			    "connected)",
			    STANDBY_UNREACHED_MS / 1000,
			    STANDBY_SITOUT_MS / 1000);
		else
			log_debug(
			    TAG, "no XMPP session: handing the component lease "
			         "on again");
		s->handed_on_logged = true;
		s->active = false;
		comp_monitor_role(c, false);
		s->next_try_ms = now + STANDBY_SITOUT_MS;
		s->pending = true;
		store_call(c->store, hand_on_run, s, hand_on_done);
		return false;
	}
	if (s->pending || now < s->next_try_ms)
		return s->active;
	s->pending = true;
	s->sent_ms = now;
	store_call(c->store, try_run, s, try_done);
	return s->active;
}

int comp_standby_wait_ms(struct comp *c)
{
	struct comp_standby *s = c->standby;
	int64_t now = clock_mono_ms(), due;

	if (!s)
		return -1;
	/* A try that is out ends with the store's fd. */
	due = s->pending ? INT64_MAX : s->next_try_ms;
	if (s->active && s->lease_until_ms - STANDBY_MARGIN_MS < due)
		due = s->lease_until_ms - STANDBY_MARGIN_MS;
	if (s->active && !s->pending && s->unreached_since_ms &&
	    s->unreached_since_ms + STANDBY_UNREACHED_MS < due)
		due = s->unreached_since_ms + STANDBY_UNREACHED_MS;
	if (due == INT64_MAX)
		return -1;
	return due <= now ? 0 : (int)(due - now);
}

void comp_standby_server_answered(struct comp *c)
{
	/* Counted again from the next tick: a holder whose server refuses it
	 * while dropping a dead session would hand the lease on, and sit out
	 * while the server became free. */
	if (c->standby)
		c->standby->unreached_since_ms = 0;
}

bool comp_standby_active(const struct comp *c)
{
	return !c->standby || c->standby->active;
}
