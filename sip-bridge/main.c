/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ringbridge-sip: claims call jobs from the queue and places the calls.
 * One su_root loop carries everything but the sending of RTP: nua, the
 * media clock's ticks (media.c: its thread sends every call's packets on
 * time, the loop prepares them and drains every socket), the queue's
 * wake-up socket (new jobs are claimed the moment they are queued; a
 * few-second timer is only the safety net), the TTS worker's descriptor,
 * the queue writer's eventfd (claims and every other queue commit run on
 * its thread, queue_writer.c) and a signalfd. SIGTERM stops claiming, lets
 * calls in progress finish for a bounded time, gives unfinished jobs back,
 * shuts nua down and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "cli.h"
#include "clock.h"
#include "health.h"
#include "log.h"
#include "monitor.h"
#include "presence.h"
#include "prompts.h"
#include "queue_writer.h"
#include "tts.h"
#include "tts_cache.h"
#include "tts_worker.h"
#include "voices.h"

#define TAG "bridge"

/* The heartbeat row (queue_bridge_status_put) is rewritten this often;
 * ringbridgectl check takes a row three beats old for a dead bridge. */
#define HEARTBEAT_MS 30000
/* How long calls in progress may go on after SIGTERM. */
#define DRAIN_MS 30000

int64_t bridge_now_ms(void)
{
	return clock_real_ms();
}

/*
 * Claiming goes through the queue writer in rounds: a round is a few
 * claims submitted together, so they share the writer's next commit (and
 * its fsync) instead of one commit each, which capped set-ups at one claim
 * per fsync (about 40 a second here). A round that found a job for every
 * claim is followed at once by one twice as large, up to CLAIM_ROUND_MAX; a
 * round that found nothing due goes back to a single claim, so an idle
 * bridge asks once per wake-up and a bridge next to others takes no more
 * than it keeps finding. Each result comes back to on_claimed. A wake-up
 * that arrives while a round is out is remembered, so a job queued just
 * after the writer looked is not left for the safety-net poll.
 */
#define CLAIM_ROUND_MAX 16
/*
 * Admission: with this many prompts queued or rendering, the bridge claims
 * nothing more until one is done (on_tts). Its speech workers are then
 * behind (the machine is short of CPU), and a call claimed now would ring
 * a phone whose message is not rendered yet, so the callee would hear
 * silence after the greeting; left in the queue, the job waits for this
 * bridge's next turn or is taken by another bridge. Sixteen prompts are
 * about 50 ms of kal on two idle renderers.
 */
#define CLAIM_RENDER_BACKLOG 16

static void on_claimed(void *ctx, struct dbw_result *r);

static void claim_more(struct bridge *b)
{
	int room, backlog, n, lease_ms;
	uint64_t tag;

	if (b->claims_out) {
		b->claim_again = true;
		return;
	}
	room = b->cfg->sip.max_calls - b->n_calls;
	if (b->stopping || room <= 0)
		return;
	backlog = CLAIM_RENDER_BACKLOG - (int)tts_worker_pending(b->tts);
	if (backlog <= 0) {
		if (!b->claims_held) {
			log_debug(TAG,
			          "claims held: %d prompts waiting for "
			          "the speech workers",
			          CLAIM_RENDER_BACKLOG - backlog);
			monitor_claims_held(b);
		}
		b->claims_held = true;
		return;
	}
	b->claims_held = false;
	if (room > backlog)
		room = backlog;
	if (b->claim_round < 1)
		b->claim_round = 1;
	n = b->claim_round < room ? b->claim_round : room;
	b->claims_out = n;
	b->round_sent = n;
	b->claim_again = false;
	b->round_failed = false;
	b->round_jobs = 0;
	/* The tag: when the lease began at the latest, by this host's
	 * monotonic clock (call_start). */
	tag = (uint64_t)clock_mono_ms();
	lease_ms = call_lease_ms(b->cfg);
	for (int i = 0; i < n; i++)
		dbw_job_claim(b->dbw, b->owner, lease_ms, on_claimed, tag);
}

/* The round's last result is in: size the next one, and send it at once
 * if every claim found a job or a wake-up came meanwhile. */
static void round_over(struct bridge *b)
{
	bool again = b->claim_again;

	if (b->round_jobs)
		log_debug(TAG, "claim round of %d: %d job%s", b->round_sent,
		          b->round_jobs, b->round_jobs == 1 ? "" : "s");
	b->claim_again = false;
	/* A claim found nothing due, or failed: start again from one. */
	if (b->round_jobs < b->round_sent) {
		b->claim_round = 1;
	} else {
		b->claim_round *= 2;
		if (b->claim_round > CLAIM_ROUND_MAX)
			b->claim_round = CLAIM_ROUND_MAX;
		again = true;
	}
	/* A claim that failed (not "nothing due") is retried by the poll. */
	if (again && !b->round_failed)
		claim_more(b);
}

static void stop_now(struct bridge *b)
{
	log_info(TAG, "stopping");
	ua_shutdown(b);
}

/* While stopping: shut down once no call, no claim and no ending
 * presence request is left. */
static void stop_when_idle(struct bridge *b)
{
	if (b->n_calls == 0 && !b->claims_out && !presence_ending(b))
		stop_now(b);
}

void bridge_stop_check(struct bridge *b)
{
	if (b->stopping)
		stop_when_idle(b);
}

static void on_claimed(void *ctx, struct dbw_result *r)
{
	struct bridge *b = ctx;

	b->claims_out--;
	if (r->err == 0 && b->stopping) {
		/* Claimed while SIGTERM arrived: give it straight back. The
		 * attempt the claim counted is lost, as for a call cut short
		 * by the drain (for each job of the round out then: up to
		 * CLAIM_ROUND_MAX, in the one commit a round takes). */
		dbw_job_retry(b->dbw, r->job->id, b->owner, queue_now_ms(b->q),
		              "the bridge stopped", QUEUE_CH_JOBS, NULL, 0);
		stop_when_idle(b);
		return;
	}
	if (r->err == 0) {
		struct queue_job *job = r->job;

		r->job = NULL;
		b->round_jobs++;
		call_start(b, job, (int64_t)r->tag);
	} else if (r->err != -EAGAIN) {
		log_err(TAG, "claiming a job: %s", strerror(-r->err));
		b->round_failed = true;
	}
	if (b->stopping)
		stop_when_idle(b);
	else if (!b->claims_out)
		round_over(b);
}

void bridge_call_gone(struct bridge *b)
{
	if (b->stopping) {
		stop_when_idle(b);
		return;
	}
	claim_more(b);
}

void bridge_tts_done(uint64_t id, int err, int16_t *pcm, size_t n, void *arg)
{
	struct bridge *b = arg;

	if (!call_tts_deliver(b, id, err, pcm, n))
		free(pcm);
}

static int on_wake(struct bridge *b, su_wait_t *w, void *arg)
{
	unsigned ch = 0;

	(void)w;
	(void)arg;
	queue_wake_drain(b->q, &ch);
	presence_wake(b, ch);
	claim_more(b);
	return 0;
}

static int on_dbw(struct bridge *b, su_wait_t *w, void *arg)
{
	(void)w;
	(void)arg;
	dbw_complete(b->dbw);
	return 0;
}

static int on_tts(struct bridge *b, su_wait_t *w, void *arg)
{
	(void)w;
	(void)arg;
	tts_worker_collect(b->tts, bridge_tts_done, b);
	call_render_resume(b);
	if (b->claims_held)
		claim_more(b);
	return 0;
}

static void on_poll(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	claim_more(b);
}

struct beat {
	struct queue_bridge_status st;
	char owner[128], host[64];
};

static int beat_run(struct queue *q, void *arg)
{
	struct beat *bt = arg;

	return queue_bridge_status_put(q, &bt->st);
}

static void beat_done(void *ctx, struct dbw_result *r)
{
	(void)ctx;
	if (r->err)
		log_warn(TAG, "writing the heartbeat row: %s",
		         strerror(-r->err));
	free(r->arg);
}

/* Writes this bridge's heartbeat row (docs/operations.md, check). */
static void heartbeat(struct bridge *b)
{
	struct beat *bt;

	if (b->stopping || !b->dbw)
		return;
	bt = calloc(1, sizeof(*bt));
	if (!bt)
		return;
	snprintf(bt->owner, sizeof(bt->owner), "%s", b->owner);
	snprintf(bt->host, sizeof(bt->host), "%s", b->host);
	bt->st.owner = bt->owner;
	bt->st.host = bt->host;
	bt->st.pid = (int64_t)getpid();
	bt->st.started_ms = b->started_ms;
	bt->st.calls = b->n_calls;
	bt->st.presence_lease = presence_leased(b);
	dbw_call(b->dbw, beat_run, bt, beat_done, 0);
}

static void on_beat(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	heartbeat(b);
}

static void renewed(void *ctx, struct dbw_result *r)
{
	if (r->err) {
		log_warn(TAG, "renewing the calls' leases: %s",
		         strerror(-r->err));
		return;
	}
	call_leases_renewed(ctx, (int64_t)r->tag, r->held, r->n_held);
}

/*
 * Renews the leases of all the jobs this bridge calls, in one commit, at a
 * third of the lease: a bridge that dies (SIGKILL, a crash) lets its jobs go
 * after sip.lease_seconds, and another bridge retries them. A job taken over
 * meanwhile is not renewed, and this bridge's writes to it are refused (the
 * queue checks the owner on each one). Goes on while draining.
 */
static void on_renew(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	if (b->dbw && b->n_calls > 0)
		dbw_job_leases_renew(b->dbw, b->owner, call_lease_ms(b->cfg),
		                     renewed, (uint64_t)clock_mono_ms());
}

/*
 * A bridge cut off from the database cannot learn that another took its
 * jobs once their leases lapsed: it hangs each call up by its own deadline
 * instead (call_leases_check), so two bridges never talk to one callee for
 * one job. Checked this often, well inside call_outcome.c's
 * LEASE_MARGIN_MS.
 */
#define LEASE_CHECK_MS 250

static void on_lease_check(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	if (b->n_calls > 0)
		call_leases_check(b);
}

static void on_drain_timeout(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)t;
	(void)arg;
	log_warn(TAG, "%d call(s) still running after %d s: ending them",
	         b->n_calls, DRAIN_MS / 1000);
	call_hangup_all(b, "the bridge stopped");
}

/* From the loop itself: a loop that stops turning stops the pings. */
static void on_watchdog(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)b;
	(void)t;
	(void)arg;
	health_watchdog_ping();
}

static int on_signal(struct bridge *b, su_wait_t *w, void *arg)
{
	struct signalfd_siginfo si;

	(void)w;
	(void)arg;
	while (read(b->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (b->stopping)
			continue;
		b->stopping = true;
		health_stopping();
		presence_stop(b);
		log_info(TAG, "signal %u: no new calls; %d in progress",
		         si.ssi_signo, b->n_calls);
		if (b->n_calls == 0) {
			stop_when_idle(b);
		} else {
			b->drain_timer =
			    su_timer_create(su_root_task(b->root), DRAIN_MS);
			su_timer_set(b->drain_timer, on_drain_timeout, NULL);
		}
	}
	return 0;
}

static int register_fd(struct bridge *b, su_wait_t *w, int fd, su_wakeup_f f,
                       int *idx)
{
	if (su_wait_create(w, fd, SU_WAIT_IN))
		return -EIO;
	*idx = su_root_register(b->root, w, f, NULL, 0);
	return *idx < 0 ? -EIO : 0;
}

/* The host part of [sip] listen, for the SDP's address. */
static void local_ip(struct bridge *b)
{
	const char *s = b->cfg->sip.listen;
	size_t n;

	s += !strncmp(s, "sips:", 5) ? 5 : !strncmp(s, "sip:", 4) ? 4 : 0;
	n = strcspn(s, ":;>");
	if (n == 0 || n >= sizeof(b->local_ip) || !strncmp(s, "*", n) ||
	    !strncmp(s, "0.0.0.0", n))
		snprintf(b->local_ip, sizeof(b->local_ip), "127.0.0.1");
	else
		snprintf(b->local_ip, sizeof(b->local_ip), "%.*s", (int)n, s);
}

/*
 * Each call holds a socket, and sofia, the queue and the workers hold a
 * few dozen more: the soft limit (often 1024) is raised to the hard one so
 * that max_calls, not the descriptor table, caps the calls.
 */
static void raise_fd_limit(const struct bridge *b)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)b->cfg->sip.max_calls + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn(TAG,
		         "at most %llu open files: fewer than max_calls = %d "
		         "need",
		         (unsigned long long)rl.rlim_cur,
		         b->cfg->sip.max_calls);
}

static int setup(struct bridge *b)
{
	char host[64] = "localhost";
	int64_t watchdog_ms;
	uint32_t r = 0;
	sigset_t set;
	int err;

	gethostname(host, sizeof(host) - 1);
	snprintf(b->host, sizeof(b->host), "%s", host);
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)time(NULL);
	snprintf(b->owner, sizeof(b->owner), "%s:%d:%08x", host, (int)getpid(),
	         r);
	local_ip(b);
	raise_fd_limit(b);
	err = monitor_new(b);
	if (err)
		return err;

	/* The TTS worker forks: before anything else starts threads. It
	 * speaks every language with a voice and renders their fixed
	 * phrases. */
	err = voices_new(&b->voices, &b->tts, b->cfg->tts.voice,
	                 (unsigned)b->cfg->tts.renderers);
	if (err)
		return err;
	log_info(TAG, "speaking %u languages", voices_count(b->voices));

	err = queue_password_file_set(b->cfg->queue.password_file);
	if (!err)
		err = queue_open(&b->q, b->cfg->queue.url);
	if (err) {
		/* Not the URL: it may hold a password. */
		log_err(TAG, "cannot open the queue ([queue] url): %s",
		        strerror(-err));
		return err;
	}
	err = queue_wake_listen(b->q, QUEUE_CH_JOBS | presence_channels(b->cfg),
	                        &b->wake_fd);
	if (err)
		return err;
	err = ports_init(&b->ports, b->cfg->sip.rtp_port_min,
	                 b->cfg->sip.rtp_port_max);
	if (err)
		return err;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	b->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (b->sig_fd < 0)
		return -errno;
	/* The writer's thread starts after the TTS worker forked and after
	 * the signals were blocked, so that it inherits the mask and SIGTERM
	 * reaches the signalfd rather than killing the process. */
	err = dbw_new(&b->dbw, b->cfg->queue.url, b);
	if (err) {
		log_err(TAG, "cannot start the queue writer: %s",
		        strerror(-err));
		return err;
	}

	ua_log_redirect();
	if (su_init() != 0)
		return -EIO;
	su_home_init(b->home);
	b->root = su_root_create(b);
	if (!b->root)
		return -ENOMEM;
	b->tts_fd = tts_worker_fd(b->tts);
	b->dbw_fd = dbw_fd(b->dbw);
	if (register_fd(b, &b->wake_wait, b->wake_fd, on_wake, &b->wake_idx) ||
	    register_fd(b, &b->sig_wait, b->sig_fd, on_signal, &b->sig_idx) ||
	    register_fd(b, &b->tts_wait, b->tts_fd, on_tts, &b->tts_idx) ||
	    register_fd(b, &b->dbw_wait, b->dbw_fd, on_dbw, &b->dbw_idx))
		return -EIO;
	err = media_new(b);
	if (err) {
		log_err(TAG, "cannot start the media clock: %s",
		        strerror(-err));
		return err;
	}
	if (b->cfg->sip.srtp != CONFIG_SRTP_OFF) {
		if (sdes_init()) {
			log_err(TAG, "cannot initialise libsrtp2");
			return -EIO;
		}
		/* SDES keys travel in the SDP: whoever reads the signalling
		 * can decrypt the media. */
		if (!config_sip_tls(b->cfg))
			log_warn(TAG,
			         "[sip] srtp = %s but [sip] listen is not TLS: "
			         "the SRTP keys travel in clear in the SDP "
			         "(use sips: or ;transport=tls)",
			         b->cfg->sip.srtp == CONFIG_SRTP_REQUIRE
			             ? "require"
			             : "offer");
	}
	err = ua_start(b);
	if (!err)
		err = presence_start(b);
	if (!err)
		err = monitor_listen(b);
	if (err)
		return err;
	watchdog_ms = health_watchdog_period_ms();
	if (watchdog_ms > 0) {
		b->watchdog_timer = su_timer_create(su_root_task(b->root),
		                                    (su_duration_t)watchdog_ms);
		if (!b->watchdog_timer ||
		    su_timer_set_for_ever(b->watchdog_timer, on_watchdog, NULL))
			return -ENOMEM;
	}
	/* The safety-net poll ([sip] poll_interval), for wake-ups lost or
	 * due times reached; new jobs come by the wake-up, not by this. */
	b->poll_timer = su_timer_create(su_root_task(b->root),
	                                b->cfg->sip.poll_interval * 1000);
	if (!b->poll_timer ||
	    su_timer_set_for_ever(b->poll_timer, on_poll, NULL))
		return -ENOMEM;
	b->started_ms = queue_now_ms(b->q);
	b->beat_timer = su_timer_create(su_root_task(b->root), HEARTBEAT_MS);
	if (!b->beat_timer ||
	    su_timer_set_for_ever(b->beat_timer, on_beat, NULL))
		return -ENOMEM;
	heartbeat(b);
	b->renew_timer =
	    su_timer_create(su_root_task(b->root), call_lease_ms(b->cfg) / 3);
	if (!b->renew_timer ||
	    su_timer_set_for_ever(b->renew_timer, on_renew, NULL))
		return -ENOMEM;
	b->lease_timer = su_timer_create(su_root_task(b->root), LEASE_CHECK_MS);
	if (!b->lease_timer ||
	    su_timer_set_for_ever(b->lease_timer, on_lease_check, NULL))
		return -ENOMEM;
	log_info(TAG, "listening on %s as %s, RTP %d-%d, up to %d calls",
	         b->cfg->sip.listen, b->owner, b->cfg->sip.rtp_port_min,
	         b->cfg->sip.rtp_port_max, b->cfg->sip.max_calls);
	return 0;
}

static void teardown(struct bridge *b)
{
	/* Writes still queued (the last calls' outcomes) are committed
	 * before anything their completions might touch goes away; a claim
	 * that completes now is given back, not started. */
	b->stopping = true;
	/* Out of sofia's loop before the writer closes its fd, or epoll
	 * is asked to drop a closed descriptor (EPOLL_CTL_DEL: EBADF). The
	 * drain below runs the completions itself. */
	if (b->root && b->dbw_idx > 0)
		su_root_deregister(b->root, b->dbw_idx);
	b->dbw_idx = 0;
	dbw_free(b->dbw);
	b->dbw = NULL;
	/* Gone: ringbridgectl check no longer counts this bridge. */
	if (b->q && b->started_ms) {
		int err = queue_bridge_status_remove(b->q, b->owner);

		if (err)
			log_warn(TAG, "removing the heartbeat row: %s",
			         strerror(-err));
	}
	presence_free(b);
	ua_destroy(b);
	call_render_stats_log(b);
	media_free(b);
	/* After the media thread, which updates one of its histograms. */
	monitor_free(b);
	if (b->poll_timer)
		su_timer_destroy(b->poll_timer);
	if (b->drain_timer)
		su_timer_destroy(b->drain_timer);
	if (b->beat_timer)
		su_timer_destroy(b->beat_timer);
	if (b->renew_timer)
		su_timer_destroy(b->renew_timer);
	if (b->lease_timer)
		su_timer_destroy(b->lease_timer);
	if (b->watchdog_timer)
		su_timer_destroy(b->watchdog_timer);
	if (b->root) {
		if (b->wake_idx > 0)
			su_root_deregister(b->root, b->wake_idx);
		if (b->sig_idx > 0)
			su_root_deregister(b->root, b->sig_idx);
		if (b->tts_idx > 0)
			su_root_deregister(b->root, b->tts_idx);
		su_root_destroy(b->root);
		su_home_deinit(b->home);
		su_deinit();
	}
	if (b->sig_fd > 0)
		close(b->sig_fd);
	ports_fini(&b->ports);
	queue_close(b->q);
	voices_free(b->voices);
	tts_worker_free(b->tts);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ringbridge-sip [-c|--config FILE]\n");
}

int main(int argc, char **argv)
{
	struct bridge b = {0};
	const char *path;
	int status;

	status = cli_options(argc, argv, "ringbridge-sip", false, usage, &path);
	if (status >= 0)
		return status;
	if (optind != argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	status = cli_config("ringbridge-sip", path, &b.cfg);
	if (status)
		return status;
	status = 1;
	b.sig_fd = -1;
	b.wake_fd = -1;
	if (setup(&b) == 0) {
		/* SIP listens, the queue and the workers are up: ready. */
		health_ready("listening, placing calls");
		claim_more(&b);
		su_root_run(b.root);
		status = 0;
		log_info(TAG, "stopped");
	}
	teardown(&b);
	config_free(b.cfg);
	return status;
}
