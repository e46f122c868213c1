/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's own media: one RTP stream object per call (rtp.h), with a
 * UDP socket pair from the configured port range (RTP on the even port,
 * RTCP on the odd one, RFC 3550 11). The shared
 * media clock (media.c) drives every stream through rtp_tick(): the
 * stream asks its call for the next 20 ms (ops->next_frame), encodes it
 * into the ring that media.c's thread sends on time, and reads what
 * arrived with recvmmsg, a batch a system call. Incoming packets are
 * checked (version, source address, negotiated payload type, length)
 * before G.711 decoding. Decoded audio goes into the stream's jitter
 * buffer (jitter.c: reordering, adaptive delay, loss concealment, SSRC
 * changes and timestamp jumps), drained 20 ms a tick into ops->rx_audio;
 * telephone-events skip it and go to ops->rx_event at once. On an SRTP
 * call (call_srtp.c) a packet is unprotected in place before its header
 * is read; media.c protects what is sent.
 *
 * RTCP (rtcp.c builds and parses it): every 5 s or so (RFC 3550 6.2's
 * minimum, randomised by half either way) the loop reads what the phone
 * sent to our RTCP port (its kernel arrival time, SO_TIMESTAMPNS, so that
 * the round trip does not count the wait) and sends our report to the
 * phone's (the answer's port + 1, or its a=rtcp): an SR while we send, an
 * RR while the call is held, with a report block on the phone's stream.
 * RTCP on the RTP port (rtcp-mux) is read too. A last report with BYE goes
 * when the stream ends, and one log line gives the call's quality as both
 * ends saw it. On an SRTP call both ways are SRTCP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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
#include "clock.h"
#include "jitter.h"
#include "rtcp.h"
#include "rtp.h"
#include "log.h"

#define TAG "rtp"

/* 20 ms of 8 kHz audio. */
#define FRAME 160
/* The longest packet accepted: 60 ms of G.711 and a full header. */
#define RTP_MAX (12 + 15 * 4 + 4 + 480)
/* Packets read by one recvmmsg, and at most a tick from one socket. */
#define RX_BATCH 8
#define RX_MAX   64
/* RTCP's reporting interval (RFC 3550 6.2: 5 s at least, the first after
 * half of it), randomised to 0.5-1.5 times; received RTCP read at most
 * this many datagrams a report (one is what a phone sends). */
#define RTCP_INTERVAL_MS 5000
#define RTCP_RX_MAX      8

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

/* One call's stream (rtp.h). */
struct rtp_stream {
	struct bridge *b;
	struct rtp_stream *next; /* b->rtp: every open stream, newest first */
	long long id;            /* the job, for log lines */
	const struct rtp_stream_ops *ops;
	void *arg;
	int fd, port;
	int rtcp_fd;              /* on port + 1 */
	bool started;             /* paced by the media clock (answered) */
	bool draining;            /* the last words are still queued */
	struct media_stream *out; /* what the clock's thread sends */
	struct sockaddr_in peer;  /* where RTP goes, from the answer */
	enum sdp_codec codec;
	int te_pt;
	struct sdes *srtp; /* the call's SRTP context, or NULL (not owned) */
	/* The header while no media_stream holds it (before the answer,
	 * on hold). */
	uint16_t seq;
	uint32_t ts, ssrc;
	int64_t held_ms;    /* when sending last stopped (hold) */
	unsigned rx_logged; /* drop kinds already logged */
	struct jitter *jb;  /* received audio, from the start to the free */
	/* RTCP: where it goes, what we received (for our reports), what we
	 * sent before the last hold, when the next report is due, and what
	 * the phone reported on our stream. */
	struct sockaddr_in rtcp_peer;
	struct rtcp_rx rx;
	uint32_t sent_before, seed;
	int64_t rtcp_due_ms;
	unsigned rtcp_out, rtcp_in, rtcp_dropped;
	bool have_block;
	struct rtcp_report block;
	double rtt_ms;
	char cname[17];
};

static uint32_t rtp_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Why a received packet was dropped; each is logged once per call. */
enum rx_drop {
	DROP_EARLY,     /* before the answer */
	DROP_SOURCE,    /* not from the answer's address */
	DROP_MALFORMED, /* not RTP version 2, short, bad extension or padding */
	DROP_OVERSIZED, /* longer than 60 ms of G.711 with a full header */
	DROP_PT,        /* a payload type the answer did not negotiate */
	DROP_LENGTH,    /* audio outside 10-60 ms */
	DROP_JITTER,    /* the jitter buffer refused it (too late, too far) */
	DROP_STUN,      /* STUN (ICE checks, NAT keep-alives): no ICE here */
	DROP_SRTP_AUTH, /* SRTP that fails authentication (or plain RTP) */
	DROP_SRTP_REPLAY,    /* SRTP replayed, or too old for the window */
	DROP_RTCP_SOURCE,    /* RTCP not from the answer's address */
	DROP_RTCP_MALFORMED, /* RTCP that A.2's checks refuse */
	DROP_SRTCP_AUTH,     /* SRTCP that fails authentication (or plain) */
	DROP_SRTCP_REPLAY,   /* SRTCP replayed */
	DROP_KINDS
};

static const char *const drop_words[DROP_KINDS] = {
    [DROP_EARLY] = "RTP before the answer",
    [DROP_SOURCE] = "RTP from an unexpected address",
    [DROP_MALFORMED] = "RTP malformed",
    [DROP_OVERSIZED] = "RTP oversized",
    [DROP_PT] = "RTP with a payload type not negotiated",
    [DROP_LENGTH] = "RTP with audio not 10-60 ms long",
    [DROP_JITTER] = "RTP refused by the jitter buffer",
    [DROP_STUN] = "packets that are STUN (the bridge does no ICE)",
    [DROP_SRTP_AUTH] = "RTP that fails SRTP authentication",
    [DROP_SRTP_REPLAY] = "RTP that SRTP refuses as replayed",
    [DROP_RTCP_SOURCE] = "RTCP from an unexpected address",
    [DROP_RTCP_MALFORMED] = "RTCP malformed",
    [DROP_SRTCP_AUTH] = "RTCP that fails SRTCP authentication",
    [DROP_SRTCP_REPLAY] = "RTCP that SRTCP refuses as replayed",
};

static void rx_drop(struct rtp_stream *s, enum rx_drop why,
                    const struct sockaddr_in *from)
{
	char addr[INET_ADDRSTRLEN] = "?";

	if (why >= DROP_RTCP_SOURCE)
		s->rtcp_dropped++;
	if (s->rx_logged & (1u << why))
		return;
	s->rx_logged |= 1u << why;
	inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	/* STUN is what phones behind NAT and ICE agents send to keep a
	 * binding open: expected, not a fault. Refused RTCP costs a report,
	 * never audio (baresip sends a plain APP packet first on SRTP
	 * calls): counted in the call's quality line. */
	if (why == DROP_STUN || why >= DROP_RTCP_SOURCE)
		log_debug(TAG, "job %lld: dropping %s (from %s:%u)", s->id,
		          drop_words[why], addr,
		          (unsigned)ntohs(from->sin_port));
	else
		log_warn(
		    TAG,
		    "job %lld: dropping %s (from %s:%u; logged once a call)",
		    s->id, drop_words[why], addr,
		    (unsigned)ntohs(from->sin_port));
}

/* ---- RTCP ---------------------------------------------------------------- */

/* The media clock's time base (rtp_tick's NOW_MS). */
static int64_t mono_ms(void)
{
	return clock_mono_ns() / 1000000;
}

static uint64_t ntp_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return rtcp_ntp(t.tv_sec, t.tv_nsec);
}

/* The NTP time's middle 32 bits (1/65536 s), as LSR and DLSR count. */
static uint32_t ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

/* A datagram's kernel arrival time (SO_TIMESTAMPNS) as an NTP timestamp,
 * or now when the kernel gave none. */
static uint64_t arrival_of(struct msghdr *mh)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec t;

			memcpy(&t, CMSG_DATA(c), sizeof(t));
			return rtcp_ntp(t.tv_sec, t.tv_nsec);
		}
	}
	return ntp_now();
}

/* The next report: INTERVAL ms from NOW_MS, times 0.5-1.5 (xorshift). */
static void rtcp_schedule(struct rtp_stream *s, int64_t now_ms, int interval)
{
	s->seed ^= s->seed << 13;
	s->seed ^= s->seed >> 17;
	s->seed ^= s->seed << 5;
	s->rtcp_due_ms =
	    now_ms + interval / 2 + (int64_t)(s->seed % (uint32_t)interval);
}

/* Where our RTCP goes: the answer's a=rtcp port, else its port + 1. */
static void rtcp_peer_set(struct rtp_stream *s, const struct sdp_answer *ans)
{
	int port = ans->rtcp_port ? ans->rtcp_port : ans->port + 1;

	s->rtcp_peer = s->peer;
	s->rtcp_peer.sin_port = port <= 65535 ? htons((uint16_t)port) : 0;
}

/* On an SRTP call, a received packet (RTCP when RTCP) authenticated and
 * decrypted in place, *N its plain length; false (dropped, logged once)
 * when SRTP refuses it. True at once on a plain call. */
static bool srtp_open(struct rtp_stream *s, uint8_t *pkt, size_t *n,
                      const struct sockaddr_in *from, bool rtcp)
{
	int err;

	if (!s->srtp)
		return true;
	err = rtcp ? sdes_unprotect_rtcp(s->srtp, pkt, n)
	           : sdes_unprotect(s->srtp, pkt, n);
	if (!err)
		return true;
	if (err == -EALREADY)
		rx_drop(s, rtcp ? DROP_SRTCP_REPLAY : DROP_SRTP_REPLAY, from);
	else
		rx_drop(s, rtcp ? DROP_SRTCP_AUTH : DROP_SRTP_AUTH, from);
	return false;
}

/* One received RTCP datagram (on either port) that came at ARRIVAL. */
static void rtcp_received(struct rtp_stream *s, uint8_t *pkt, size_t n,
                          const struct sockaddr_in *from, uint64_t arrival)
{
	struct rtcp_report r;
	double rtt;

	if (!s->started)
		return;
	if (from->sin_family != AF_INET ||
	    from->sin_addr.s_addr != s->peer.sin_addr.s_addr) {
		rx_drop(s, DROP_RTCP_SOURCE, from);
		return;
	}
	if (!srtp_open(s, pkt, &n, from, true))
		return;
	if (rtcp_parse(pkt, n, s->ssrc, &r)) {
		rx_drop(s, DROP_RTCP_MALFORMED, from);
		return;
	}
	s->rtcp_in++;
	if (r.sr) {
		s->rx.lsr = r.sr_ntp_mid;
		s->rx.lsr_arrival = ntp_mid(arrival);
	}
	if (r.block) {
		s->have_block = true;
		s->block = r;
		rtt = rtcp_rtt_ms(ntp_mid(arrival), r.lsr, r.dlsr);
		if (rtt >= 0)
			s->rtt_ms = rtt;
	}
}

/* Reads what came to the RTCP port, a few datagrams at most. */
static void rtcp_poll(struct rtp_stream *s)
{
	uint8_t buf[RTCP_MAX + 1];
	union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl;
	struct sockaddr_in from;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	int i;

	for (i = 0; i < RTCP_RX_MAX; i++) {
		struct msghdr mh = {
		    .msg_name = &from,
		    .msg_namelen = sizeof(from),
		    .msg_iov = &iov,
		    .msg_iovlen = 1,
		    .msg_control = ctl.b,
		    .msg_controllen = sizeof(ctl.b),
		};
		ssize_t n = recvmsg(s->rtcp_fd, &mh, MSG_DONTWAIT);

		if (n < 0)
			return;
		if ((size_t)n > RTCP_MAX) {
			rx_drop(s, DROP_RTCP_MALFORMED, &from);
			continue;
		}
		rtcp_received(s, buf, (size_t)n, &from, arrival_of(&mh));
	}
}

/* Sends our report (with BYE when BYE): an SR while the clock sends our
 * RTP, an RR while the call is held. */
static void rtcp_send(struct rtp_stream *s, bool bye)
{
	uint8_t pkt[RTCP_OUT_MAX + SDES_TRAILER_MAX];
	struct rtcp_sender snd = {0};
	uint32_t cur = 0;
	bool sending;
	size_t len;
	int n;

	if (!s->rtcp_peer.sin_port)
		return;
	/* The SR's RTP timestamp and NTP time name the same instant. */
	sending =
	    s->out && media_stream_sender(s->out, mono_ms(), &cur, &snd.rtp_ts);
	snd.packets = s->sent_before + cur;
	snd.octets = snd.packets * RTP_PAYLOAD;
	n = rtcp_build(pkt, sizeof(pkt), s->ssrc, sending ? &snd : NULL, &s->rx,
	               ntp_now(), s->cname, bye);
	if (n < 0)
		return;
	len = (size_t)n;
	if (s->srtp && sdes_protect_rtcp(s->srtp, pkt, &len, sizeof(pkt)))
		return;
	if (sendto(s->rtcp_fd, pkt, len, 0, (struct sockaddr *)&s->rtcp_peer,
	           sizeof(s->rtcp_peer)) == (ssize_t)len)
		s->rtcp_out++;
}

/* The call's quality as both ends saw it: one line when the stream ends. */
static void rtcp_log(const struct rtp_stream *s)
{
	char theirs[160] = "the phone sent no report on our stream";
	char rtt[48] = "";

	if (s->have_block)
		snprintf(theirs, sizeof(theirs),
		         "the phone reported %.1f%% lost lately (%ld in all), "
		         "jitter %.1f ms",
		         s->block.fraction_lost * 100.0 / 256,
		         (long)s->block.lost, s->block.jitter / 8.0);
	if (s->rtt_ms >= 0)
		snprintf(rtt, sizeof(rtt), ", round trip %.1f ms", s->rtt_ms);
	log_info(TAG,
	         "job %lld: call quality: received %lu of %lu packets (%ld "
	         "lost), jitter %.1f ms; %s%s; RTCP: %u sent, %u received, "
	         "%u refused",
	         s->id, (unsigned long)s->rx.received,
	         (unsigned long)rtcp_rx_expected(&s->rx),
	         (long)rtcp_rx_lost(&s->rx), (s->rx.jitter >> 4) / 8.0, theirs,
	         rtt, s->rtcp_out, s->rtcp_in, s->rtcp_dropped);
}

/* 8 kHz units of an NTP time (RTP's clock for G.711), for A.8's jitter. */
static uint32_t ntp_8k(uint64_t ntp)
{
	return (uint32_t)((ntp >> 32) * 8000 +
	                  (((ntp & 0xffffffffu) * 8000) >> 32));
}

int rtp_stream_new(struct rtp_stream **out, struct bridge *b, long long id,
                   const struct rtp_stream_ops *ops, void *arg)
{
	struct sockaddr_in sa = {0};
	struct rtp_stream *s;
	int tries, port, fd;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->b = b;
	s->id = id;
	s->ops = ops;
	s->arg = arg;
	s->fd = s->rtcp_fd = -1;
	s->rtt_ms = -1;
	for (tries = 0; tries < b->ports.n; tries++) {
		port = ports_take(&b->ports);
		if (port < 0) {
			free(s);
			return port;
		}
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            0);
		if (fd < 0) {
			free(s);
			return -errno;
		}
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, b->local_ip, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			int rfd = socket(
			    AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    0);

			sa.sin_port = htons((uint16_t)(port + 1));
			if (rfd >= 0 && bind(rfd, (struct sockaddr *)&sa,
			                     sizeof(sa)) == 0) {
				s->fd = fd;
				s->rtcp_fd = rfd;
				s->port = port;
				break;
			}
			if (rfd >= 0)
				close(rfd);
		}
		/* Either is taken by someone else: keep the pair marked and
		 * try the next. */
		close(fd);
	}
	if (s->fd < 0) {
		free(s);
		return -EADDRINUSE;
	}
	/* The kernel's arrival time of each packet, for RTCP's jitter and
	 * round trip (RFC 3550 6.4.1, A.8). */
	(void)setsockopt(s->fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){1},
	                 sizeof(int));
	(void)setsockopt(s->rtcp_fd, SOL_SOCKET, SO_TIMESTAMPNS, &(int){1},
	                 sizeof(int));
	if (getrandom(&s->ssrc, sizeof(s->ssrc), 0) != sizeof(s->ssrc) ||
	    getrandom(&s->seq, sizeof(s->seq), 0) != sizeof(s->seq) ||
	    getrandom(&s->ts, sizeof(s->ts), 0) != sizeof(s->ts) ||
	    getrandom(&s->seed, sizeof(s->seed), 0) != sizeof(s->seed))
		s->ssrc = (uint32_t)rand();
	/* RFC 7022: a random CNAME per stream. */
	snprintf(s->cname, sizeof(s->cname), "%08x%08x", s->seed, s->ssrc);
	s->next = b->rtp;
	b->rtp = s;
	/* The clock's ticks drain the socket (and drop what comes before
	 * the answer) from now on. */
	media_socket_open(b, true);
	*out = s;
	return 0;
}

/* The stream leaves the clock's thread; its header is ours again, so a
 * stream added later (after a hold) goes on from it. */
static void stream_unpace(struct rtp_stream *s)
{
	if (!s->out)
		return;
	media_stream_remove(s->b->media, s->out, &s->seq, &s->ts,
	                    &s->sent_before);
	s->out = NULL;
}

void rtp_stream_free(struct rtp_stream *s)
{
	struct rtp_stream **pp;

	if (!s)
		return;
	if (s->started) {
		/* What the phone said last, and our BYE (RFC 3550 6.6). */
		rtcp_poll(s);
		rtcp_send(s, true);
		rtcp_log(s);
	}
	s->started = false;
	stream_unpace(s);
	for (pp = &s->b->rtp; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	media_socket_open(s->b, false);
	close(s->fd);
	close(s->rtcp_fd);
	ports_give(&s->b->ports, s->port);
	if (s->jb) {
		struct jitter_stats st;

		jitter_stats(s->jb, &st);
		log_debug(TAG,
		          "received %llu packets: %llu played, %llu late, "
		          "%llu ms concealed, %llu stream(s)",
		          (unsigned long long)st.packets,
		          (unsigned long long)st.played,
		          (unsigned long long)st.late,
		          (unsigned long long)(st.concealed / 8),
		          (unsigned long long)st.restarts);
		jitter_free(s->jb);
	}
	free(s);
}

int rtp_stream_port(const struct rtp_stream *s)
{
	return s->port;
}

/* The call's next 20 ms as G.711 into a ring slot of the clock's; false
 * once the call is over. */
static bool stream_produce(void *arg, uint8_t *payload)
{
	struct rtp_stream *s = arg;
	int16_t pcm[FRAME];
	int i;

	s->ops->next_frame(s->arg, pcm);
	if (s->codec == SDP_CODEC_PCMA)
		for (i = 0; i < FRAME; i++)
			payload[i] = linear_to_alaw(pcm[i]);
	else
		for (i = 0; i < FRAME; i++)
			payload[i] = linear_to_ulaw(pcm[i]);
	return s->ops->live(s->arg);
}

/* Tops the ring up, or finishes a drain once the ring is empty. */
static void stream_fill(struct rtp_stream *s)
{
	if (s->draining) {
		/* Nothing more to say: done when the ring is empty. */
		if (media_stream_sent(s->out))
			s->ops->drained(s->arg);
		return;
	}
	media_stream_fill(s->out, stream_produce, s);
}

/* Adds the stream to the clock's thread with its header; 0 or -errno. */
static int stream_pace(struct rtp_stream *s)
{
	struct media_stream_params p = {
	    .fd = s->fd,
	    .peer = s->peer,
	    .srtp = s->srtp,
	    .pt = (uint8_t)s->codec,
	    .silence = s->codec == SDP_CODEC_PCMA ? linear_to_alaw(0)
	                                          : linear_to_ulaw(0),
	    .seq = s->seq,
	    .ts = s->ts,
	    .ssrc = s->ssrc,
	};
	int err;

	err = media_stream_add(s->b->media, &p, &s->out);
	if (err)
		return err;
	/* The first packets go at the next tick. */
	stream_fill(s);
	return 0;
}

/* 20 ms out of the jitter buffer into ops->rx_audio. */
static void stream_play_received(struct rtp_stream *s)
{
	int16_t pcm[JITTER_FRAME];
	size_t n;

	if (!s->jb)
		return;
	n = jitter_get(s->jb, pcm);
	/* No packets (a phone with silence suppression, or a stalled
	 * network) is silence on the line: the recorder's silence end and
	 * the in-band detector need every 20 ms, whether packets came or
	 * not. */
	if (n < JITTER_FRAME)
		memset(pcm + n, 0, (JITTER_FRAME - n) * sizeof(*pcm));
	s->ops->rx_audio(s->arg, pcm, JITTER_FRAME);
}

int rtp_stream_start(struct rtp_stream *s, const struct sdp_answer *ans,
                     struct sdes *srtp)
{
	if (!s->jb && jitter_new(&s->jb))
		return -ENOMEM;
	s->codec = ans->codec;
	s->te_pt = ans->te_pt;
	s->srtp = srtp;
	memset(&s->peer, 0, sizeof(s->peer));
	s->peer.sin_family = AF_INET;
	s->peer.sin_port = htons((uint16_t)ans->port);
	if (inet_pton(AF_INET, ans->addr, &s->peer.sin_addr) != 1)
		return -EINVAL;
	rtcp_peer_set(s, ans);
	rtcp_schedule(s, mono_ms(), RTCP_INTERVAL_MS / 2);
	s->started = true;
	return stream_pace(s);
}

int rtp_stream_follow(struct rtp_stream *s, const struct sdp_answer *ans,
                      bool send, bool changed)
{
	int64_t now = bridge_now_ms();
	struct in_addr a;

	if (changed && inet_pton(AF_INET, ans->addr, &a) != 1)
		return -EINVAL;
	s->codec = ans->codec;
	s->te_pt = ans->te_pt;
	if (s->out && (!send || changed)) {
		stream_unpace(s);
		s->held_ms = now;
	}
	if (changed) {
		s->peer.sin_port = htons((uint16_t)ans->port);
		s->peer.sin_addr = a;
		rtcp_peer_set(s, ans);
	}
	if (!send || s->out || !s->started)
		return 0;
	/* The timestamp counts the time the stream was stopped (RFC 3550
	 * 5.1: it follows the sampling clock), the sequence does not. */
	s->ts += (uint32_t)((now - s->held_ms) * 8);
	return stream_pace(s);
}

void rtp_stream_drain(struct rtp_stream *s)
{
	if (s->out && s->started) {
		s->draining = true;
		media_stream_close(s->out);
	} else {
		s->ops->drained(s->arg);
	}
}

/* RFC 5389 6: the top two bits zero, a length that is a multiple of 4 and
 * exactly the rest of the datagram, and the magic cookie. RTP's version
 * bits are 2, so the two never meet. */
static bool is_stun(const uint8_t *p, size_t n)
{
	return n >= 20 && (p[0] & 0xc0) == 0 && (p[3] & 3) == 0 &&
	       (size_t)(p[2] << 8 | p[3]) + 20 == n &&
	       rtp_u32(p + 4) == 0x2112a442;
}

/* ---- receiving ------------------------------------------------------------
 */

/* One received datagram of N bytes from FROM that came at ARRIVAL (an NTP
 * timestamp). */
static void rx_packet(struct rtp_stream *s, uint8_t *pkt, size_t n,
                      const struct sockaddr_in *from, int64_t now_ms,
                      uint64_t arrival)
{
	int16_t pcm[480];
	size_t hdr, plen;
	int pt;

	if (is_stun(pkt, n)) {
		rx_drop(s, DROP_STUN, from);
		return;
	}
	/* Only the answerer's address; ports vary with symmetric RTP and
	 * NAT, so the address decides. */
	if (!s->started) {
		rx_drop(s, DROP_EARLY, from);
		return;
	}
	if (from->sin_family != AF_INET ||
	    from->sin_addr.s_addr != s->peer.sin_addr.s_addr) {
		rx_drop(s, DROP_SOURCE, from);
		return;
	}
	if (n > RTP_MAX) {
		rx_drop(s, DROP_OVERSIZED, from);
		return;
	}
	if (n < 12 || (pkt[0] >> 6) != 2) {
		rx_drop(s, DROP_MALFORMED, from);
		return;
	}
	pt = pkt[1] & 0x7f;
	/* RTCP on the RTP port (rtcp-mux): types 192-223 (RFC 5761 4). */
	if (rtcp_is(pkt, n) && pt != s->te_pt) {
		rtcp_received(s, pkt, n, from, arrival);
		return;
	}
	if (!srtp_open(s, pkt, &n, from, false))
		return;
	hdr = 12 + 4 * (size_t)(pkt[0] & 0x0f);
	if (pkt[0] & 0x10) {
		if (n < hdr + 4) {
			rx_drop(s, DROP_MALFORMED, from);
			return;
		}
		hdr += 4 + 4 * (size_t)((pkt[hdr + 2] << 8) | pkt[hdr + 3]);
	}
	if (n < hdr) {
		rx_drop(s, DROP_MALFORMED, from);
		return;
	}
	plen = n - hdr;
	if ((pkt[0] & 0x20) && plen > 0) {
		size_t padding = pkt[n - 1];

		if (padding > plen) {
			rx_drop(s, DROP_MALFORMED, from);
			return;
		}
		plen -= padding;
	}
	if ((pt == s->te_pt && s->te_pt >= 0) || pt == (int)s->codec)
		rtcp_rx_rtp(&s->rx, rtp_u32(pkt + 8),
		            (uint16_t)(pkt[2] << 8 | pkt[3]), rtp_u32(pkt + 4),
		            ntp_8k(arrival));
	if (pt == s->te_pt && s->te_pt >= 0) {
		s->ops->rx_event(s->arg, pkt + hdr, plen, rtp_u32(pkt + 4),
		                 (uint16_t)(pkt[2] << 8 | pkt[3]));
	} else if (pt == (int)s->codec) {
		size_t i;

		if (plen < 80 || plen > 480) {
			rx_drop(s, DROP_LENGTH, from);
			return;
		}
		if (s->codec == SDP_CODEC_PCMA)
			for (i = 0; i < plen; i++)
				pcm[i] = alaw_to_linear(pkt[hdr + i]);
		else
			for (i = 0; i < plen; i++)
				pcm[i] = ulaw_to_linear(pkt[hdr + i]);
		if (!s->jb || jitter_put(s->jb, rtp_u32(pkt + 8),
		                         rtp_u32(pkt + 4), pcm, plen, now_ms))
			rx_drop(s, DROP_JITTER, from);
	} else {
		rx_drop(s, DROP_PT, from);
	}
}

static void stream_receive(struct rtp_stream *s, int64_t now_ms)
{
	/* One byte more than the longest packet accepted: a longer one
	 * arrives truncated to RTP_MAX + 1 and is dropped as too long. */
	static uint8_t buf[RX_BATCH][RTP_MAX + 1];
	static union {
		char b[CMSG_SPACE(sizeof(struct timespec))];
		struct cmsghdr align;
	} ctl[RX_BATCH];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_in from[RX_BATCH];
	int got = 0, n, i;

	while (got < RX_MAX && s->ops->live(s->arg)) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_control = ctl[i].b;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].b);
		}
		n = recvmmsg(s->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n && s->ops->live(s->arg); i++)
			rx_packet(s, buf[i], msgs[i].msg_len, &from[i], now_ms,
			          arrival_of(&msgs[i].msg_hdr));
		got += n;
		if (n < RX_BATCH)
			return;
	}
}

void rtp_tick(struct bridge *b, int frames, int64_t now_ms)
{
	struct rtp_stream *s, *next;
	int k;

	for (s = b->rtp; s; s = next) {
		next = s->next;
		if (s->started && s->out)
			stream_fill(s);
	}
	/* What arrived, and 20 ms a tick out of each jitter buffer into the
	 * key detectors and the recorder. */
	for (s = b->rtp; s; s = next) {
		next = s->next;
		stream_receive(s, now_ms);
		if (s->started && now_ms >= s->rtcp_due_ms &&
		    s->ops->live(s->arg)) {
			rtcp_poll(s);
			rtcp_send(s, false);
			rtcp_schedule(s, now_ms, RTCP_INTERVAL_MS);
		}
		for (k = 0; k < frames && s->started && s->ops->live(s->arg);
		     k++)
			stream_play_received(s);
	}
}
