/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's own media: a UDP socket per call from the configured port
 * range (RTP on the even port; the odd one is reserved for RTCP, which is
 * tolerated and ignored). The shared media clock (media.c) drives it:
 * rtp_produce() prepares the call's next packet, which media.c's thread
 * sends on time, and each 20 ms tick rtp_receive() reads what arrived with
 * recvmmsg, a batch a system call. Incoming packets
 * are checked (version, source address, negotiated payload type, length)
 * before G.711 decoding. Decoded audio goes into the call's jitter buffer
 * (jitter.c: reordering, adaptive delay, loss concealment, SSRC changes and
 * timestamp jumps), which rtp_play_received() drains 20 ms a tick into
 * call_rx_audio(); telephone-events skip it and go to call_rx_event() at
 * once. On an SRTP call (call_srtp.c) a packet is unprotected in place
 * before its header is read; media.c protects what is sent.
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
	/* The clock's ticks drain the socket (and drop what comes before
	 * the answer) from now on. */
	media_socket_open(b, true);
	return 0;
}

void rtp_close(struct call *c)
{
	c->media = false;
	media_stream_remove(c);
	call_srtp_close(c);
	if (c->fd >= 0) {
		media_socket_open(c->b, false);
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

void rtp_produce(struct call *c, uint8_t payload[RTP_PAYLOAD])
{
	int16_t pcm[FRAME];
	int i;

	call_next_frame(c, pcm);
	if (c->ans.codec == SDP_CODEC_PCMA)
		for (i = 0; i < FRAME; i++)
			payload[i] = linear_to_alaw(pcm[i]);
	else
		for (i = 0; i < FRAME; i++)
			payload[i] = linear_to_ulaw(pcm[i]);
}

uint8_t rtp_silence(const struct call *c)
{
	return c->ans.codec == SDP_CODEC_PCMA ? linear_to_alaw(0)
	                                      : linear_to_ulaw(0);
}

void rtp_play_received(struct call *c)
{
	int16_t pcm[JITTER_FRAME];
	size_t n;

	if (!c->jb)
		return;
	n = jitter_get(c->jb, pcm);
	/* No packets (a phone with silence suppression, or a stalled
	 * network) is silence on the line: the recorder's silence end and
	 * the in-band detector need every 20 ms, whether packets came or
	 * not. */
	if (n < JITTER_FRAME)
		memset(pcm + n, 0, (JITTER_FRAME - n) * sizeof(*pcm));
	call_rx_audio(c, pcm, JITTER_FRAME);
}

int rtp_start(struct call *c)
{
	if (!c->jb && jitter_new(&c->jb))
		return -ENOMEM;
	memset(&c->peer, 0, sizeof(c->peer));
	c->peer.sin_family = AF_INET;
	c->peer.sin_port = htons((uint16_t)c->ans.port);
	if (inet_pton(AF_INET, c->ans.addr, &c->peer.sin_addr) != 1)
		return -EINVAL;
	c->media = true;
	return media_stream_add(c);
}

int rtp_follow(struct call *c, bool send, bool changed)
{
	int64_t now = bridge_now_ms();
	struct in_addr a;

	if (changed && inet_pton(AF_INET, c->ans.addr, &a) != 1)
		return -EINVAL;
	if (c->stream && (!send || changed)) {
		media_stream_remove(c);
		c->held_ms = now;
	}
	if (changed) {
		c->peer.sin_port = htons((uint16_t)c->ans.port);
		c->peer.sin_addr = a;
	}
	if (!send || c->stream || !c->media)
		return 0;
	/* The timestamp counts the time the stream was stopped (RFC 3550
	 * 5.1: it follows the sampling clock), the sequence does not. */
	c->ts += (uint32_t)((now - c->held_ms) * 8);
	return media_stream_add(c);
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

static void rx_drop(struct call *c, enum rx_drop why,
                    const struct sockaddr_in *from)
{
	char addr[INET_ADDRSTRLEN] = "?";

	c->rx_dropped++;
	if (c->rx_logged & (1u << why))
		return;
	c->rx_logged |= 1u << why;
	inet_ntop(AF_INET, &from->sin_addr, addr, sizeof(addr));
	/* STUN is what phones behind NAT and ICE agents send to keep a
	 * binding open: expected, not a fault. */
	if (why == DROP_STUN)
		log_debug(TAG, "job %lld: dropping packets %s (from %s:%u)",
		          (long long)c->job->id, drop_words[why], addr,
		          (unsigned)ntohs(from->sin_port));
	else
		log_warn(TAG,
		         "job %lld: dropping RTP %s (from %s:%u; logged once a "
		         "call)",
		         (long long)c->job->id, drop_words[why], addr,
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
static void rx_packet(struct call *c, uint8_t *pkt, size_t n,
                      const struct sockaddr_in *from, int64_t now_ms)
{
	int16_t pcm[480];
	size_t hdr, plen;
	int pt;

	if (is_stun(pkt, n)) {
		rx_drop(c, DROP_STUN, from);
		return;
	}
	/* Only the answerer's address; ports vary with symmetric RTP and
	 * NAT, so the address decides. */
	if (!c->media) {
		rx_drop(c, DROP_EARLY, from);
		return;
	}
	if (from->sin_family != AF_INET ||
	    from->sin_addr.s_addr != c->peer.sin_addr.s_addr) {
		rx_drop(c, DROP_SOURCE, from);
		return;
	}
	if (n > RTP_MAX) {
		rx_drop(c, DROP_OVERSIZED, from);
		return;
	}
	if (n < 12 || (pkt[0] >> 6) != 2) {
		rx_drop(c, DROP_MALFORMED, from);
		return;
	}
	pt = pkt[1] & 0x7f;
	/* RTCP on the RTP port (rtcp-mux) has types 200-204. */
	if (pkt[1] >= 200 && pkt[1] <= 204)
		return;
	if (c->srtp) {
		int err = sdes_unprotect(c->srtp, pkt, &n);

		if (err) {
			rx_drop(c, err == -EALREADY ? DROP_SRTP_REPLAY
			                            : DROP_SRTP_AUTH,
			        from);
			return;
		}
	}
	hdr = 12 + 4 * (size_t)(pkt[0] & 0x0f);
	if (pkt[0] & 0x10) {
		if (n < hdr + 4) {
			rx_drop(c, DROP_MALFORMED, from);
			return;
		}
		hdr += 4 + 4 * (size_t)((pkt[hdr + 2] << 8) | pkt[hdr + 3]);
	}
	if (n < hdr) {
		rx_drop(c, DROP_MALFORMED, from);
		return;
	}
	plen = n - hdr;
	if ((pkt[0] & 0x20) && plen > 0) {
		size_t padding = pkt[n - 1];

		if (padding > plen) {
			rx_drop(c, DROP_MALFORMED, from);
			return;
		}
		plen -= padding;
	}
	c->rx_packets++;
	if (pt == c->ans.te_pt && c->ans.te_pt >= 0) {
		call_rx_event(c, pkt + hdr, plen, rtp_u32(pkt + 4),
		              (uint16_t)(pkt[2] << 8 | pkt[3]));
	} else if (pt == (int)c->ans.codec) {
		size_t i;

		if (plen < 80 || plen > 480) {
			rx_drop(c, DROP_LENGTH, from);
			return;
		}
		if (c->ans.codec == SDP_CODEC_PCMA)
			for (i = 0; i < plen; i++)
				pcm[i] = alaw_to_linear(pkt[hdr + i]);
		else
			for (i = 0; i < plen; i++)
				pcm[i] = ulaw_to_linear(pkt[hdr + i]);
		if (!c->jb || jitter_put(c->jb, rtp_u32(pkt + 8),
		                         rtp_u32(pkt + 4), pcm, plen, now_ms))
			rx_drop(c, DROP_JITTER, from);
	} else {
		rx_drop(c, DROP_PT, from);
	}
}

void rtp_receive(struct call *c, int64_t now_ms)
{
	/* One byte more than the longest packet accepted: a longer one
	 * arrives truncated to RTP_MAX + 1 and is dropped as too long. */
	static uint8_t buf[RX_BATCH][RTP_MAX + 1];
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_in from[RX_BATCH];
	int got = 0, n, i;

	while (got < RX_MAX && c->fd >= 0 && c->phase != PHASE_ENDED) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < RX_BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(c->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n && c->phase != PHASE_ENDED; i++)
			rx_packet(c, buf[i], msgs[i].msg_len, &from[i], now_ms);
		got += n;
		if (n < RX_BATCH)
			return;
	}
}
