/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The media clock: one thread sends every call's RTP on a 20 ms schedule,
 * and the su_root loop prepares what it sends. A per-call su_timer did both
 * on the loop, with one loop wake-up per call and per packet (about 14,000
 * epoll_wait a second at 50 calls, and 1.6% of a core per call).
 *
 * How it works. The thread blocks on a timerfd that is periodic on
 * CLOCK_MONOTONIC from an absolute start, so its expirations are start +
 * k * 5 ms: no drift, and a late wake-up reports how many ticks it covers.
 * Each stream sends every 20 ms in one of the four 5 ms phases. A tick
 * sends the due streams' packets, already encoded, from a small ring each
 * (the RTP header is the thread's: should the loop fall behind past the
 * ring, the phone gets 20 ms of silence on time, counted, rather than late
 * audio); every fourth tick raises an eventfd registered in su_root. The
 * loop wakes once for all calls (rtp_tick): it refills every ring up to
 * MEDIA_AHEAD packets (each call's next 20 ms in G.711), reads what every
 * socket received (recvmmsg, a batch a system call) and feeds each call
 * 20 ms out of its jitter buffer. The loop can thus be busy for up to
 * (MEDIA_AHEAD - 1) * 20 ms (a burst of SIP, a recording being encoded,
 * the machine's load) without a packet leaving late; what it costs is
 * that a key cuts a prompt up to MEDIA_AHEAD * 20 ms later.
 * With [sip] realtime_priority the thread runs SCHED_FIFO: it only sends
 * prepared packets, so a SIP flood never runs at real-time priority.
 *
 * Every packet's lateness against its ideal time is counted in a histogram
 * (10 us bins up to 50 ms), logged by the loop every MEDIA_STATS_MS and
 * for the whole run at exit: the proof that packets leave on time.
 *
 * Threads: the ring's head is written by the loop only, its tail by the
 * thread only (C11 atomics, release/acquire); the array of streams and the
 * finished statistics are under one mutex (priority inheritance: the loop
 * holds it for a few instructions). A stream is freed only after it left
 * the array, so the thread never sees a freed one.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "bridge.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "monitor.h"
#include "rtp.h"

#define TAG "media"

#define TICK_NS (20 * 1000000LL)
/* The thread wakes every 5 ms and each stream sends in one of the four
 * phases, so one wake-up sends to a quarter of the calls: at 500 calls a
 * single pass over every stream took up to 9 ms on a loaded machine, and
 * the last streams of the pass were that late. */
#define SUBTICKS 4
#define SUB_NS   (TICK_NS / SUBTICKS)
/* Packets prepared ahead of the clock (see above). */
#define MEDIA_AHEAD 5
#define RING        8 /* a power of two above MEDIA_AHEAD */
/* A stream behind its schedule (the loop stalled longer than the ring
 * covers) catches up by up to this many packets a tick; further behind,
 * it goes on from now. */
#define MEDIA_BURST 3
/* How often the lateness of the last interval is logged. */
#define MEDIA_STATS_MS 10000
#define BIN_NS         10000
#define HIST_BINS      5000 /* 50 ms; later packets go to the last bin */

struct media_stats {
	uint64_t hist[HIST_BINS + 1];
	uint64_t packets, over_5ms, max_ns;
	uint64_t ticks, missed, fillins, streams_max;
	/* Where lateness comes from: the thread's wake-up (not scheduled in
	 * time), or the tick's own work (sending to every stream). */
	uint64_t wake_max_ns, work_max_ns;
};

struct media_stream {
	int fd;
	struct sockaddr_in peer;
	struct sdes *srtp; /* the call's; the thread alone protects with it */
	/* The header's fields, the thread's own once the stream is added. */
	uint8_t pt, silence;
	uint16_t seq;
	uint32_t ts, ssrc;
	atomic_bool closing; /* the last words are queued: no fill-ins */
	/* For RTCP's sender report (the thread writes, the loop reads):
	 * packets sent, and the last one's timestamp (high 32 bits) with its
	 * ideal time in ms on the monotonic clock (low 32). */
	_Atomic uint32_t packets;
	_Atomic uint64_t stamp;
	uint8_t ring[RING][RTP_PAYLOAD];
	_Atomic unsigned head; /* packets prepared (the loop) */
	_Atomic unsigned tail; /* packets sent (the thread) */
	int64_t due_ns;        /* the next packet's ideal time; 0: not yet */
	int phase;             /* its 5 ms slot within the 20 ms */
	int slot;              /* index in media.streams */
};

struct media {
	int tfd, efd;
	su_wait_t wait;
	int idx;
	pthread_t thread;
	bool running;
	atomic_bool stop;
	atomic_int want; /* sockets open: the loop wants the ticks */
	int priority;
	struct metric *lateness; /* ringbridge_rtp_send_lateness_seconds */

	pthread_mutex_t lock; /* streams, n, cap, done, done_ready */
	struct media_stream **streams;
	int n, cap;
	struct media_stats done; /* an interval finished, for the loop */
	bool done_ready;

	int next_phase;
	/* The thread's own. */
	int64_t due_ns, stats_ns;
	uint64_t sub; /* 5 ms ticks since the last 20 ms one */
	struct media_stats cur;
	/* The loop's own. */
	struct media_stats total;
};

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
	         "ms, %" PRIu64 " over 5 ms; %" PRIu64 " 5-ms ticks, %" PRIu64
	         " missed, %" PRIu64
	         " packets of silence for audio not ready; wake-up late by "
	         "up to %.2f ms, a tick's sending up to %.2f ms",
	         what, s->packets, s->streams_max, stats_pct(s, 0.5),
	         stats_pct(s, 0.99), (double)s->max_ns / 1e6, s->over_5ms,
	         s->ticks, s->missed, s->fillins, (double)s->wake_max_ns / 1e6,
	         (double)s->work_max_ns / 1e6);
}

static void merge(struct media_stats *into, const struct media_stats *s)
{
	int i;

	for (i = 0; i <= HIST_BINS; i++)
		into->hist[i] += s->hist[i];
	into->packets += s->packets;
	into->over_5ms += s->over_5ms;
	into->ticks += s->ticks;
	into->missed += s->missed;
	into->fillins += s->fillins;
#define MAX_OF(f)                                                              \
	if (s->f > into->f)                                                    \
		into->f = s->f;
	MAX_OF(max_ns)
	MAX_OF(streams_max)
	MAX_OF(wake_max_ns)
	MAX_OF(work_max_ns)
#undef MAX_OF
}

/* ---- the thread ---------------------------------------------------------- */

/* Sends what STREAM has due by LAST, the tick's deadline. */
static void stream_send(struct media *m, struct media_stream *s, int64_t last)
{
	int sent = 0;

	if (s->due_ns == 0)
		s->due_ns = last + s->phase * SUB_NS;
	if (s->due_ns + MEDIA_BURST * TICK_NS <= last)
		s->due_ns = last - (MEDIA_BURST - 1) * TICK_NS;
	while (s->due_ns <= last && sent < MEDIA_BURST) {
		unsigned tail =
		    atomic_load_explicit(&s->tail, memory_order_relaxed);
		bool ready = tail != atomic_load_explicit(&s->head,
		                                          memory_order_acquire);
		uint8_t pkt[12 + RTP_PAYLOAD + SDES_TRAILER_MAX];
		size_t len = 12 + RTP_PAYLOAD;
		int64_t late;

		if (!ready && atomic_load(&s->closing))
			return;
		pkt[0] = 0x80;
		pkt[1] = s->pt;
		pkt[2] = (uint8_t)(s->seq >> 8);
		pkt[3] = (uint8_t)s->seq;
		pkt[4] = (uint8_t)(s->ts >> 24);
		pkt[5] = (uint8_t)(s->ts >> 16);
		pkt[6] = (uint8_t)(s->ts >> 8);
		pkt[7] = (uint8_t)s->ts;
		pkt[8] = (uint8_t)(s->ssrc >> 24);
		pkt[9] = (uint8_t)(s->ssrc >> 16);
		pkt[10] = (uint8_t)(s->ssrc >> 8);
		pkt[11] = (uint8_t)s->ssrc;
		if (ready) {
			memcpy(pkt + 12, s->ring[tail % RING], RTP_PAYLOAD);
			atomic_store_explicit(&s->tail, tail + 1,
			                      memory_order_release);
		} else {
			/* The loop is behind (stalled past the ring): the
			 * phone hears 20 ms of silence on time rather than
			 * late audio, and the prompt goes on after it. */
			memset(pkt + 12, s->silence, RTP_PAYLOAD);
			m->cur.fillins++;
		}
		/* A failed send (the peer's port unreachable) is the
		 * network's loss, like any other; a packet SRTP could not
		 * protect is not sent at all. */
		if (!s->srtp ||
		    !sdes_protect(s->srtp, pkt, &len, sizeof(pkt))) {
			(void)sendto(s->fd, pkt, len, 0,
			             (struct sockaddr *)&s->peer,
			             sizeof(s->peer));
			atomic_store_explicit(
			    &s->packets,
			    atomic_load_explicit(&s->packets,
			                         memory_order_relaxed) +
			        1,
			    memory_order_relaxed);
			atomic_store_explicit(
			    &s->stamp,
			    (uint64_t)s->ts << 32 |
			        (uint32_t)(s->due_ns / 1000000),
			    memory_order_relaxed);
		}
		late = clock_mono_ns() - s->due_ns;
		stats_add(&m->cur, late);
		/* The thread is its only writer: plain atomic stores. */
		metrics_histogram_observe_ns(m->lateness, 0, late);
		s->seq++;
		s->ts += RTP_PAYLOAD;
		s->due_ns += TICK_NS;
		sent++;
	}
}

static void *media_main(void *arg)
{
	struct media *m = arg;
	sigset_t all;

	/* Signals belong to the loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	m->stats_ns = clock_mono_ns();
	while (!atomic_load(&m->stop)) {
		uint64_t exp = 0, ticks;
		int64_t last, woke, end;
		int i;

		if (read(m->tfd, &exp, sizeof(exp)) != sizeof(exp) || exp == 0)
			continue;
		woke = clock_mono_ns();
		last = m->due_ns + (int64_t)(exp - 1) * SUB_NS;
		m->due_ns += (int64_t)exp * SUB_NS;
		m->sub += exp;
		ticks = m->sub / SUBTICKS;
		m->sub %= SUBTICKS;
		m->cur.ticks += exp;
		m->cur.missed += exp - 1;
		if (woke - last > (int64_t)m->cur.wake_max_ns)
			m->cur.wake_max_ns = (uint64_t)(woke - last);

		pthread_mutex_lock(&m->lock);
		for (i = 0; i < m->n; i++)
			stream_send(m, m->streams[i], last);
		if ((uint64_t)m->n > m->cur.streams_max)
			m->cur.streams_max = (uint64_t)m->n;
		end = clock_mono_ns();
		if (end - woke > (int64_t)m->cur.work_max_ns)
			m->cur.work_max_ns = (uint64_t)(end - woke);
		if (end - m->stats_ns >= MEDIA_STATS_MS * 1000000LL &&
		    !m->done_ready) {
			m->done = m->cur;
			m->done_ready = true;
			memset(&m->cur, 0, sizeof(m->cur));
			m->stats_ns = end;
		}
		pthread_mutex_unlock(&m->lock);

		/* The loop refills and receives once per 20 ms. */
		if (ticks && atomic_load(&m->want) > 0 &&
		    write(m->efd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
			break;
	}
	return NULL;
}

/* ---- the loop ------------------------------------------------------------ */

void media_stream_fill(struct media_stream *s,
                       bool (*produce)(void *arg, uint8_t *payload), void *arg)
{
	unsigned head = atomic_load_explicit(&s->head, memory_order_relaxed);

	while (head - atomic_load_explicit(&s->tail, memory_order_acquire) <
	       MEDIA_AHEAD) {
		bool more = produce(arg, s->ring[head % RING]);

		atomic_store_explicit(&s->head, ++head, memory_order_release);
		if (!more)
			break;
	}
}

bool media_stream_sent(const struct media_stream *s)
{
	return atomic_load_explicit(&s->head, memory_order_relaxed) ==
	       atomic_load_explicit(&s->tail, memory_order_acquire);
}

void media_stream_close(struct media_stream *s)
{
	atomic_store(&s->closing, true);
}

static int on_ticks(struct bridge *b, su_wait_t *w, void *arg)
{
	struct media *m = b->media;
	struct media_stats done;
	uint64_t ticks = 0;
	int frames;
	bool roll = false;

	(void)w;
	(void)arg;
	if (read(m->efd, &ticks, sizeof(ticks)) != sizeof(ticks) || !ticks)
		return 0;
	frames = ticks > MEDIA_BURST ? MEDIA_BURST : (int)ticks;
	rtp_tick(b, frames, clock_mono_ns() / 1000000);
	pthread_mutex_lock(&m->lock);
	if (m->done_ready) {
		done = m->done;
		m->done_ready = false;
		roll = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (roll) {
		stats_log("last interval", &done);
		merge(&m->total, &done);
	}
	return 0;
}

int media_stream_add(struct media *m, const struct media_stream_params *p,
                     struct media_stream **out)
{
	struct media_stream *s;
	int err = 0;

	*out = NULL;
	if (!m)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = p->fd;
	s->peer = p->peer;
	s->srtp = p->srtp;
	s->pt = p->pt;
	s->silence = p->silence;
	s->seq = p->seq;
	s->ts = p->ts;
	s->ssrc = p->ssrc;
	pthread_mutex_lock(&m->lock);
	if (m->n == m->cap) {
		int cap = m->cap ? 2 * m->cap : 64;
		struct media_stream **a =
		    realloc(m->streams, (size_t)cap * sizeof(*a));

		if (a) {
			m->streams = a;
			m->cap = cap;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err) {
		s->phase = m->next_phase;
		m->next_phase = (m->next_phase + 1) % SUBTICKS;
		s->slot = m->n;
		m->streams[m->n++] = s;
	}
	pthread_mutex_unlock(&m->lock);
	if (err) {
		free(s);
		return err;
	}
	*out = s;
	return 0;
}

bool media_stream_sender(const struct media_stream *s, int64_t now_ms,
                         uint32_t *packets, uint32_t *ts)
{
	uint64_t stamp = atomic_load_explicit(&s->stamp, memory_order_relaxed);

	*packets = atomic_load_explicit(&s->packets, memory_order_relaxed);
	if (!*packets)
		return false;
	/* The timestamp follows the sampling clock from the last packet's
	 * ideal time to now. */
	*ts =
	    (uint32_t)(stamp >> 32) + 8 * ((uint32_t)now_ms - (uint32_t)stamp);
	return true;
}

void media_stream_remove(struct media *m, struct media_stream *s, uint16_t *seq,
                         uint32_t *ts, uint32_t *packets)
{
	pthread_mutex_lock(&m->lock);
	m->streams[s->slot] = m->streams[--m->n];
	m->streams[s->slot]->slot = s->slot;
	pthread_mutex_unlock(&m->lock);
	/* Out of the array, the header's fields are the caller's again. */
	*seq = s->seq;
	*ts = s->ts;
	*packets += atomic_load(&s->packets);
	free(s);
}

void media_socket_open(struct bridge *b, bool open)
{
	if (b->media)
		atomic_fetch_add(&b->media->want, open ? 1 : -1);
}

static void media_stop(struct media *m)
{
	if (m->running) {
		atomic_store(&m->stop, true);
		pthread_join(m->thread, NULL);
		m->running = false;
	}
}

int media_new(struct bridge *b)
{
	struct media *m = calloc(1, sizeof(*m));
	struct itimerspec it = {0};
	pthread_mutexattr_t ma;
	int err;

	if (!m)
		return -ENOMEM;
	m->tfd = m->efd = -1;
	m->lateness = monitor_lateness(b);
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setprotocol(&ma, PTHREAD_PRIO_INHERIT);
	pthread_mutex_init(&m->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	b->media = m;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->tfd < 0 || m->efd < 0)
		return -errno;
	if (su_wait_create(&m->wait, m->efd, SU_WAIT_IN))
		return -EIO;
	m->idx = su_root_register(b->root, &m->wait, on_ticks, NULL, 0);
	if (m->idx < 0)
		return -EIO;
	/* A relative first expiry: the same instant as due_ns, within the
	 * microseconds between the two calls. libfaketime (the skewed-clock
	 * test) shifts an absolute one by its offset even with the monotonic
	 * clock unfaked: 2 h behind, the clock never ticked; 2 h ahead, on a
	 * host up for less, timerfd_settime failed with EINVAL. */
	it.it_value.tv_nsec = SUB_NS;
	it.it_interval.tv_nsec = SUB_NS;
	m->due_ns = clock_mono_ns() + SUB_NS;
	if (timerfd_settime(m->tfd, 0, &it, NULL))
		return -errno;
	err = -pthread_create(&m->thread, NULL, media_main, m);
	if (err)
		return err;
	m->running = true;
	m->priority = b->cfg->sip.realtime_priority;
	if (m->priority > 0) {
		struct sched_param sp = {.sched_priority = m->priority};

		err = pthread_setschedparam(m->thread, SCHED_FIFO, &sp);
		if (err)
			log_warn(TAG,
			         "cannot run the media thread SCHED_FIFO at "
			         "priority %d: %s",
			         m->priority, strerror(err));
		else
			log_info(TAG,
			         "media thread runs SCHED_FIFO at priority %d",
			         m->priority);
	}
	return 0;
}

void media_free(struct bridge *b)
{
	struct media *m = b->media;

	if (!m)
		return;
	media_stop(m);
	if (m->done_ready)
		merge(&m->total, &m->done);
	merge(&m->total, &m->cur);
	stats_log("totals", &m->total);
	if (m->idx > 0)
		su_root_deregister(b->root, m->idx);
	if (m->tfd >= 0)
		close(m->tfd);
	if (m->efd >= 0)
		close(m->efd);
	pthread_mutex_destroy(&m->lock);
	free(m->streams);
	free(m);
	b->media = NULL;
}
