/*
 * The media clock: one timerfd, registered in su_root, ticks every 20 ms
 * for every call at once. Each tick first sends every call's due packet
 * (rtp_send), then reads what every socket received (rtp_receive, batched
 * with recvmmsg) and hands each answered call 20 ms out of its jitter
 * buffer. A per-call su_timer did the same with one loop wake-up per call
 * and per packet (about 14,000 epoll_wait a second at 50 calls, and 1.6%
 * of a core per call); one clock costs 50 wake-ups a second whatever the
 * number of calls, and the sockets need no registration of their own.
 *
 * The timerfd is periodic on CLOCK_MONOTONIC from an absolute start, so the
 * kernel's expirations are start + k * 20 ms: no drift, and a late wake-up
 * reports how many ticks it covers. Every packet's lateness against that
 * ideal schedule is counted in a histogram (10 us bins up to 50 ms) and
 * logged every MEDIA_STATS_MS, and for the whole run at exit: the proof
 * that every packet leaves within a few milliseconds of its time.
 *
 * Everything runs on the su_root thread, like the call state machine it
 * drives, so nothing here needs a lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "log.h"

#define TAG "media"

#define TICK_NS (20 * 1000000LL)
/* Ticks missed (a stalled loop) are caught up by up to this many packets
 * a call; beyond that the stream skips ahead (its timestamps too). */
#define MEDIA_BURST 3
/* How often the lateness of the last interval is logged. */
#define MEDIA_STATS_MS 10000
#define BIN_NS         10000
#define HIST_BINS      5000 /* 50 ms; later packets go to the last bin */

struct media_stats {
	uint64_t hist[HIST_BINS + 1];
	uint64_t packets, over_5ms, max_ns;
	uint64_t ticks, missed, calls_max;
	/* Where lateness comes from: the wake-up itself (the loop busy with
	 * something else, or the thread not scheduled), or the tick's own
	 * work (sending to every call, then receiving). */
	uint64_t wake_max_ns, work_max_ns;
};

struct media {
	int fd;
	su_wait_t wait;
	int idx;
	bool armed;
	int64_t due_ns; /* the next expiration on CLOCK_MONOTONIC */
	int64_t stats_ns;
	struct media_stats cur, total;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void stats_add(struct media_stats *s, int64_t late_ns)
{
	uint64_t ns = late_ns > 0 ? (uint64_t)late_ns : 0;
	uint64_t bin = ns / BIN_NS;

	s->hist[bin < HIST_BINS ? bin : HIST_BINS]++;
	s->packets++;
	if (ns > 5000000)
		s->over_5ms++;
	if (ns > s->max_ns)
		s->max_ns = ns;
}

/* The lateness below which a share P of the packets lie, in ms. */
static double stats_pct(const struct media_stats *s, double p)
{
	uint64_t want = (uint64_t)(p * (double)s->packets), seen = 0;
	int i;

	for (i = 0; i <= HIST_BINS; i++) {
		seen += s->hist[i];
		if (seen > want)
			return (i + 1) * (BIN_NS / 1e6);
	}
	return HIST_BINS * (BIN_NS / 1e6);
}

static void stats_log(const char *what, const struct media_stats *s)
{
	if (!s->packets)
		return;
	log_info(TAG,
	         "%s: %" PRIu64 " packets, up to %" PRIu64
	         " calls; send lateness p50 %.2f ms, p99 %.2f ms, max %.2f "
	         "ms, %" PRIu64 " over 5 ms; %" PRIu64 " ticks, %" PRIu64
	         " missed; wake-up late by up to %.2f ms, a tick's work up to "
	         "%.2f ms",
	         what, s->packets, s->calls_max, stats_pct(s, 0.5),
	         stats_pct(s, 0.99), (double)s->max_ns / 1e6, s->over_5ms,
	         s->ticks, s->missed, (double)s->wake_max_ns / 1e6,
	         (double)s->work_max_ns / 1e6);
}

static void merge(struct media_stats *into, const struct media_stats *s)
{
	int i;

	for (i = 0; i <= HIST_BINS; i++)
		into->hist[i] += s->hist[i];
	into->packets += s->packets;
	into->over_5ms += s->over_5ms;
	if (s->max_ns > into->max_ns)
		into->max_ns = s->max_ns;
	into->ticks += s->ticks;
	into->missed += s->missed;
	if (s->calls_max > into->calls_max)
		into->calls_max = s->calls_max;
	if (s->wake_max_ns > into->wake_max_ns)
		into->wake_max_ns = s->wake_max_ns;
	if (s->work_max_ns > into->work_max_ns)
		into->work_max_ns = s->work_max_ns;
}

static void stats_roll(struct media *m, int64_t now)
{
	stats_log("last interval", &m->cur);
	merge(&m->total, &m->cur);
	memset(&m->cur, 0, sizeof(m->cur));
	m->stats_ns = now;
}

static int arm(struct media *m, bool on)
{
	struct itimerspec it = {0};

	if (on) {
		m->due_ns = mono_ns() + TICK_NS;
		it.it_value.tv_sec = m->due_ns / 1000000000LL;
		it.it_value.tv_nsec = m->due_ns % 1000000000LL;
		it.it_interval.tv_nsec = TICK_NS;
	}
	if (timerfd_settime(m->fd, on ? TFD_TIMER_ABSTIME : 0, &it, NULL))
		return -errno;
	m->armed = on;
	return 0;
}

static int on_tick(struct bridge *b, su_wait_t *w, void *arg)
{
	struct media *m = b->media;
	struct call *c, *next;
	uint64_t exp = 0;
	int64_t last, now, woke = mono_ns();
	int frames, k, calls = 0;

	(void)w;
	(void)arg;
	if (read(m->fd, &exp, sizeof(exp)) != sizeof(exp) || exp == 0)
		return 0;
	/* The deadline of the latest expiration this wake-up covers. */
	last = m->due_ns + (int64_t)(exp - 1) * TICK_NS;
	m->due_ns += (int64_t)exp * TICK_NS;
	m->cur.ticks += exp;
	m->cur.missed += exp - 1;
	if (woke - last > (int64_t)m->cur.wake_max_ns)
		m->cur.wake_max_ns = (uint64_t)(woke - last);
	frames = exp > MEDIA_BURST ? MEDIA_BURST : (int)exp;

	/* Sending first: its timing is what the phone hears. */
	for (c = b->calls; c; c = next) {
		next = c->next;
		if (!c->media || c->fd < 0)
			continue;
		calls++;
		if (exp > MEDIA_BURST)
			rtp_skip(c, (int)(exp - MEDIA_BURST));
		for (k = frames - 1; k >= 0 && c->media; k--) {
			int64_t sent = rtp_send(c);

			stats_add(&m->cur, sent - (last - k * TICK_NS));
			if (c->phase == PHASE_ENDED)
				break;
		}
	}
	if ((uint64_t)calls > m->cur.calls_max)
		m->cur.calls_max = (uint64_t)calls;

	/* Then what arrived, and 20 ms a frame sent out of each jitter
	 * buffer into the key detectors and the recorder. */
	now = mono_ns();
	for (c = b->calls; c; c = next) {
		next = c->next;
		if (c->fd < 0)
			continue;
		rtp_receive(c, now / 1000000);
		for (k = 0; k < frames && c->media && c->phase != PHASE_ENDED;
		     k++)
			rtp_play_received(c);
	}
	if (mono_ns() - woke > (int64_t)m->cur.work_max_ns)
		m->cur.work_max_ns = (uint64_t)(mono_ns() - woke);
	if (now - m->stats_ns >= MEDIA_STATS_MS * 1000000LL)
		stats_roll(m, now);
	/* Nothing to pace or drain: stop ticking until a socket opens. */
	for (c = b->calls; c; c = c->next)
		if (c->fd >= 0)
			return 0;
	arm(m, false);
	return 0;
}

int media_new(struct bridge *b)
{
	struct media *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->fd < 0) {
		int err = -errno;

		free(m);
		return err;
	}
	if (su_wait_create(&m->wait, m->fd, SU_WAIT_IN) ||
	    (m->idx = su_root_register(b->root, &m->wait, on_tick, NULL, 0)) <
	        0) {
		close(m->fd);
		free(m);
		return -EIO;
	}
	m->stats_ns = mono_ns();
	b->media = m;
	return 0;
}

int media_wake(struct bridge *b)
{
	struct media *m = b->media;

	if (!m)
		return -EINVAL;
	return m->armed ? 0 : arm(m, true);
}

void media_free(struct bridge *b)
{
	struct media *m = b->media;

	if (!m)
		return;
	merge(&m->total, &m->cur);
	stats_log("totals", &m->total);
	su_root_deregister(b->root, m->idx);
	close(m->fd);
	free(m);
	b->media = NULL;
}
