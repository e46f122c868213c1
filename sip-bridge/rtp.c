/*
 * The bridge's own media: a UDP socket per call from the configured port
 * range (RTP on the even port; the odd one is reserved for RTCP, which is
 * tolerated and ignored), registered in su_root. Outgoing audio is paced by
 * a su_timer set at absolute deadlines 20 ms apart, so scheduling delays do
 * not accumulate into drift. Incoming packets are checked (version, source
 * address, negotiated payload type, length) before G.711 decoding. Decoded
 * audio goes into the call's jitter buffer (jitter.c: reordering, adaptive
 * delay, loss concealment, SSRC changes and timestamp jumps), which the
 * same timer drains 20 ms at a time into call_rx_audio(); telephone-events
 * skip it and go to call_rx_event() at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/g711.h>

#include "bridge.h"
#include "jitter.h"
#include "log.h"

#define TAG "rtp"

/* 20 ms of 8 kHz audio. */
#define FRAME 160
/* The longest packet accepted: 60 ms of G.711 and a full header. */
#define RTP_MAX (12 + 15 * 4 + 4 + 480)
/* Behind by more than this: skip ahead instead of bursting. */
#define LATE_RESYNC_MS 200

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ports_init(struct ports *p, int min, int max)
{
	memset(p, 0, sizeof(*p));
	p->min = (min + 1) & ~1;
	p->max = max;
	p->n = (p->max - p->min + 1) / 2;
	if (p->n <= 0)
		return -EINVAL;
	p->used = calloc((size_t)p->n, 1);
	return p->used ? 0 : -ENOMEM;
}

void ports_fini(struct ports *p)
{
	free(p->used);
	p->used = NULL;
}

int ports_take(struct ports *p)
{
	int i;

	for (i = 0; i < p->n; i++) {
		int k = (p->next + i) % p->n;

		if (!p->used[k]) {
			p->used[k] = 1;
			p->next = (k + 1) % p->n;
			return p->min + 2 * k;
		}
	}
	return -EAGAIN;
}

void ports_give(struct ports *p, int port)
{
	int k = (port - p->min) / 2;

	if (port >= p->min && k < p->n)
		p->used[k] = 0;
}

static int on_readable(struct bridge *b, su_wait_t *w, void *arg);

int rtp_open(struct call *c)
{
	struct bridge *b = c->b;
	struct sockaddr_in sa = {0};
	int tries, port, fd;

	for (tries = 0; tries < b->ports.n; tries++) {
		port = ports_take(&b->ports);
		if (port < 0)
			return port;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            0);
		if (fd < 0)
			return -errno;
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, b->local_ip, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			c->fd = fd;
			c->rtp_port = port;
			break;
		}
		/* Taken by someone else: keep it marked and try the next. */
		close(fd);
	}
	if (c->fd < 0)
		return -EADDRINUSE;
	if (getrandom(&c->ssrc, sizeof(c->ssrc), 0) != sizeof(c->ssrc) ||
	    getrandom(&c->seq, sizeof(c->seq), 0) != sizeof(c->seq) ||
	    getrandom(&c->ts, sizeof(c->ts), 0) != sizeof(c->ts))
		c->ssrc = (uint32_t)rand();
	if (su_wait_create(&c->wait, c->fd, SU_WAIT_IN) ||
	    (c->wait_index =
	         su_root_register(b->root, &c->wait, on_readable, c, 0)) < 0) {
		log_err(TAG, "cannot register the RTP socket");
		return -EIO;
	}
	return 0;
}

void rtp_close(struct call *c)
{
	if (c->media_timer) {
		su_timer_destroy(c->media_timer);
		c->media_timer = NULL;
	}
	if (c->fd >= 0) {
		su_root_deregister(c->b->root, c->wait_index);
		close(c->fd);
		c->fd = -1;
		ports_give(&c->b->ports, c->rtp_port);
	}
	if (c->jb) {
		struct jitter_stats st;

		jitter_stats(c->jb, &st);
		log_debug(TAG,
		          "received %llu packets: %llu played, %llu late, "
		          "%llu ms concealed, %llu stream(s)",
		          (unsigned long long)st.packets,
		          (unsigned long long)st.played,
		          (unsigned long long)st.late,
		          (unsigned long long)(st.concealed / 8),
		          (unsigned long long)st.restarts);
		jitter_free(c->jb);
		c->jb = NULL;
	}
}

static void send_frame(struct call *c)
{
	struct sockaddr_in to = {0};
	uint8_t pkt[12 + FRAME];
	int16_t pcm[FRAME];
	int i;

	call_next_frame(c, pcm);
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)c->ans.codec;
	pkt[2] = (uint8_t)(c->seq >> 8);
	pkt[3] = (uint8_t)c->seq;
	pkt[4] = (uint8_t)(c->ts >> 24);
	pkt[5] = (uint8_t)(c->ts >> 16);
	pkt[6] = (uint8_t)(c->ts >> 8);
	pkt[7] = (uint8_t)c->ts;
	pkt[8] = (uint8_t)(c->ssrc >> 24);
	pkt[9] = (uint8_t)(c->ssrc >> 16);
	pkt[10] = (uint8_t)(c->ssrc >> 8);
	pkt[11] = (uint8_t)c->ssrc;
	for (i = 0; i < FRAME; i++)
		pkt[12 + i] = c->ans.codec == SDP_CODEC_PCMA
		                  ? linear_to_alaw(pcm[i])
		                  : linear_to_ulaw(pcm[i]);
	c->seq++;
	c->ts += FRAME;
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)c->ans.port);
	inet_pton(AF_INET, c->ans.addr, &to.sin_addr);
	if (sendto(c->fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to,
	           sizeof(to)) < 0)
		log_debug(TAG, "send: %s", strerror(errno));
}

/* 20 ms of what the phone sent, out of the jitter buffer. */
static void play_received(struct call *c)
{
	int16_t pcm[JITTER_FRAME];
	size_t n;

	if (!c->jb)
		return;
	n = jitter_get(c->jb, pcm);
	if (n > 0)
		call_rx_audio(c, pcm, n);
}

static void on_tick(struct bridge *b, su_timer_t *t, void *arg)
{
	struct call *c = arg;
	su_time_t now = su_now();
	long late;
	int burst = 0;

	(void)b;
	/* Each deadline is the last one plus 20 ms, whatever the timer's
	 * own lateness; far behind (a stalled loop), start afresh. */
	late = (long)su_duration(now, c->next_send);
	if (late > LATE_RESYNC_MS)
		c->next_send = now;
	while (su_duration(now, c->next_send) >= 0 && burst++ < 3 &&
	       c->fd >= 0) {
		send_frame(c);
		c->next_send = su_time_add(c->next_send, 20);
		if (c->phase == PHASE_ENDED)
			return;
		play_received(c);
		if (c->phase == PHASE_ENDED)
			return;
	}
	if (c->media_timer == t)
		su_timer_set_at(t, on_tick, c, c->next_send);
}

int rtp_start(struct call *c)
{
	if (!c->jb && jitter_new(&c->jb))
		return -ENOMEM;
	c->media_timer = su_timer_create(su_root_task(c->b->root), 20);
	if (!c->media_timer)
		return -ENOMEM;
	c->next_send = su_now();
	return su_timer_set_at(c->media_timer, on_tick, c, c->next_send) ? -EIO
	                                                                 : 0;
}

static uint32_t rtp_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int on_readable(struct bridge *b, su_wait_t *w, void *arg)
{
	struct call *c = arg;
	uint8_t pkt[2048];
	int16_t pcm[480];
	struct sockaddr_in from;
	socklen_t flen;
	struct in_addr want;
	int loops;

	(void)b;
	(void)w;
	inet_pton(AF_INET, c->ans.addr, &want);
	for (loops = 0; loops < 64 && c->fd >= 0; loops++) {
		ssize_t n;
		size_t hdr, plen;
		int pt;

		flen = sizeof(from);
		n = recvfrom(c->fd, pkt, sizeof(pkt), 0,
		             (struct sockaddr *)&from, &flen);
		if (n < 0)
			break;
		/* Only the answerer's address; ports vary with symmetric
		 * RTP and NAT, so the address decides. */
		if (!c->answered || from.sin_addr.s_addr != want.s_addr ||
		    n < 12 || n > RTP_MAX || (pkt[0] >> 6) != 2) {
			c->rx_dropped++;
			continue;
		}
		pt = pkt[1] & 0x7f;
		/* RTCP on the RTP port (rtcp-mux) has types 200-204. */
		if (pkt[1] >= 200 && pkt[1] <= 204)
			continue;
		hdr = 12 + 4 * (size_t)(pkt[0] & 0x0f);
		if (pkt[0] & 0x10) {
			if ((size_t)n < hdr + 4) {
				c->rx_dropped++;
				continue;
			}
			hdr += 4 +
			       4 * (size_t)((pkt[hdr + 2] << 8) | pkt[hdr + 3]);
		}
		if ((size_t)n < hdr) {
			c->rx_dropped++;
			continue;
		}
		plen = (size_t)n - hdr;
		if ((pkt[0] & 0x20) && plen > 0) {
			size_t padding = pkt[n - 1];

			if (padding > plen) {
				c->rx_dropped++;
				continue;
			}
			plen -= padding;
		}
		c->rx_packets++;
		if (pt == c->ans.te_pt && c->ans.te_pt >= 0) {
			call_rx_event(c, pkt + hdr, plen, rtp_u32(pkt + 4),
			              (uint16_t)(pkt[2] << 8 | pkt[3]));
		} else if (pt == (int)c->ans.codec && plen >= 80 &&
		           plen <= 480) {
			size_t i;

			for (i = 0; i < plen; i++)
				pcm[i] = c->ans.codec == SDP_CODEC_PCMA
				             ? alaw_to_linear(pkt[hdr + i])
				             : ulaw_to_linear(pkt[hdr + i]);
			if (!c->jb ||
			    jitter_put(c->jb, rtp_u32(pkt + 8),
			               rtp_u32(pkt + 4), pcm, plen, mono_ms()))
				c->rx_dropped++;
		} else {
			c->rx_dropped++;
		}
		if (c->phase == PHASE_ENDED)
			break;
	}
	return 0;
}
