/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One call's RTP stream, owned by rtp.c: the socket and its port, the
 * peer, the sending header (sequence, timestamp, SSRC), the receive jitter
 * buffer and the drop log. The call never touches these; the stream asks
 * it for audio and hands it what arrived through struct rtp_stream_ops,
 * the way baresip's stream.c reports to audio.c through its handlers.
 * media.c's clock drives every open stream through rtp_tick().
 */
#ifndef RB_SIP_RTP_H
#define RB_SIP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bridge;
struct sdp_answer;
struct sdes;
struct rtp_stream;

/* An outgoing RTP packet's payload: 20 ms of G.711. */
#define RTP_PAYLOAD 160

/* What the stream asks of its owner (the call); ARG is rtp_stream_new's. */
struct rtp_stream_ops {
	/* Fills RTP_PAYLOAD samples of what is said now. */
	void (*next_frame)(void *arg, int16_t *pcm);
	/* Received audio, decoded and out of the jitter buffer (20 ms). */
	void (*rx_audio)(void *arg, const int16_t *pcm, size_t n);
	/* A telephone-event packet's payload (RFC 4733), as it arrives. */
	void (*rx_event)(void *arg, const uint8_t *p, size_t len, uint32_t ts,
	                 uint16_t seq);
	/* False once the call is over: nothing more is read or prepared. */
	bool (*live)(void *arg);
	/* Everything rtp_stream_drain() waited for has been sent. */
	void (*drained)(void *arg);
};

/*
 * Opens a socket on a free even port of B's range (the odd one stays free
 * for RTCP, which is ignored) and joins the clock's receive pass: packets
 * that come before rtp_stream_start() are read and dropped. ID names the
 * job in log lines. *OUT is freed with rtp_stream_free(). 0, -EAGAIN (no
 * port free), -EADDRINUSE, -ENOMEM or another -errno.
 */
int rtp_stream_new(struct rtp_stream **out, struct bridge *b, long long id,
                   const struct rtp_stream_ops *ops, void *arg);
/* Stops sending, closes the socket and gives the port back; NULL-safe. */
void rtp_stream_free(struct rtp_stream *s);
/* The stream's local (even) port, for the SDP. */
int rtp_stream_port(const struct rtp_stream *s);
/* Starts sending to the answer's address in its codec, through SRTP
 * (call_srtp.c's context, NULL for plain RTP; the caller frees it after
 * rtp_stream_free) when given; 0 or -errno. */
int rtp_stream_start(struct rtp_stream *s, const struct sdp_answer *ans,
                     struct sdes *srtp);
/*
 * After an offer in the call (ANS is what was agreed): sends to its
 * address and codec when SEND, stops sending (the prompt waits where it
 * was) when not; CHANGED when the address, port or codec did. 0 or -errno.
 */
int rtp_stream_follow(struct rtp_stream *s, const struct sdp_answer *ans,
                      bool send, bool changed);
/* The packets already prepared are sent, then ops->drained (at once when
 * the stream is not sending). */
void rtp_stream_drain(struct rtp_stream *s);

/* media.c's 20 ms tick: tops every sending stream's ring up, then reads
 * every socket and feeds FRAMES (1-3) frames of each jitter buffer; NOW_MS
 * on the monotonic clock. */
void rtp_tick(struct bridge *b, int frames, int64_t now_ms);

#endif
