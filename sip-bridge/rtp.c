/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's own media: one RTP stream object per call (rtp.h), with a
 * UDP socket from the configured port range (RTP on the even port; the odd
 * one is reserved for RTCP, which is tolerated and ignored). The shared
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
#include "jitter.h"
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
};

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
	s->fd = -1;
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
			s->fd = fd;
			s->port = port;
			break;
		}
		/* Taken by someone else: keep it marked and try the next. */
		close(fd);
	}
	if (s->fd < 0) {
		free(s);
		return -EADDRINUSE;
	}
	if (getrandom(&s->ssrc, sizeof(s->ssrc), 0) != sizeof(s->ssrc) ||
	    getrandom(&s->seq, sizeof(s->seq), 0) != sizeof(s->seq) ||
	    getrandom(&s->ts, sizeof(s->ts), 0) != sizeof(s->ts))
		s->ssrc = (uint32_t)rand();
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
	media_stream_remove(s->b->media, s->out, &s->seq, &s->ts);
	s->out = NULL;
}

void rtp_stream_free(struct rtp_stream *s)
{
	struct rtp_stream **pp;

	if (!s)
		return;
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
	DROP_SRTP_REPLAY, /* SRTP replayed, or too old for the window */
	DROP_KINDS
};

static const char *const drop_words[DROP_KINDS] = {
    [DROP_EARLY] = "before the answer",
    [DROP_SOURCE] = "from an unexpected address",
    [DROP_MALFORMED] = "malformed",
    [DROP_OVERSIZED] = "oversized",
    [DROP_PT] = "with a payload type not negotiated",
    [DROP_LENGTH] = "with audio not 10-60 ms long",
    [DROP_JITTER] = "refused by the jitter buffer",
    [DROP_STUN] = "that is STUN (the bridge does no ICE)",
    [DROP_SRTP_AUTH] = "that fails SRTP authentication",
    [DROP_SRTP_REPLAY] = "that SRTP refuses as replayed",
};

static void rx_drop(struct rtp_stream *s, enum rx_drop why,
                    const struct sockaddr_in *from)
{
	char addr[INET_ADDRSTRLEN] = "?";

	if (s->rx_logged & (1u << why))
		return;
	s->rx_logged |= 1u << why;
	inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	/* STUN is what phones behind NAT and ICE agents send to keep a
	 * binding open: expected, not a fault. */
	if (why == DROP_STUN)
		log_debug(TAG, "job %lld: dropping packets %s (from %s:%u)",
		          s->id, drop_words[why], addr,
		          (unsigned)ntohs(from->sin_port));
	else
		log_warn(TAG,
		         "job %lld: dropping RTP %s (from %s:%u; logged once a "
		         "call)",
		         s->id, drop_words[why], addr,
		         (unsigned)ntohs(from->sin_port));
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

/* One received datagram of N bytes from FROM. */
static void rx_packet(struct rtp_stream *s, uint8_t *pkt, size_t n,
                      const struct sockaddr_in *from, int64_t now_ms)
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
	/* RTCP on the RTP port (rtcp-mux) has types 200-204. */
	if (pkt[1] >= 200 && pkt[1] <= 204)
		return;
	if (s->srtp) {
		int err = sdes_unprotect(s->srtp, pkt, &n);

		if (err) {
			rx_drop(s,
			        err == -EALREADY ? DROP_SRTP_REPLAY
			                         : DROP_SRTP_AUTH,
			        from);
			return;
		}
	}
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
		}
		n = recvmmsg(s->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n && s->ops->live(s->arg); i++)
			rx_packet(s, buf[i], msgs[i].msg_len, &from[i], now_ms);
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
		for (k = 0; k < frames && s->started && s->ops->live(s->arg);
		     k++)
			stream_play_received(s);
	}
}
