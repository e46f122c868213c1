/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The receive side's jitter buffer: decoded G.711 audio in, one 20 ms frame
 * out per tick of the bridge's paced media timer, in timestamp order, with
 * lost packets concealed. It wraps spandsp's playout buffer (playout.h,
 * adaptive between JITTER_MIN_MS and JITTER_MAX_MS) and its packet-loss
 * concealment (plc.h). Telephone-events do not come here: they are keyed
 * by their own timestamps and go straight to the DTMF module.
 *
 * Streams: a new SSRC, a new packet length, a timestamp that jumps more
 * than the buffer can hold (forward past JITTER_AHEAD_MS, or back more
 * than JITTER_BACK_MS), a stream older than JITTER_REBASE_SAMPLES, or
 * a packet after the stream went idle (nothing
 * queued for JITTER_IDLE_MS) restarts the buffer on that packet, after
 * what the old stream still had queued (nothing is lost). Gaps between
 * streams are not filled: the consumers (DTMF detector, recorder) see the
 * audio that was sent, not the sender's pauses.
 *
 * Ownership: jitter_new() gives an object freed with jitter_free(); the
 * caller's buffers are copied. One thread at a time. Times are
 * milliseconds on one monotonic clock.
 */
#ifndef RB_SIP_JITTER_H
#define RB_SIP_JITTER_H

#include <stddef.h>
#include <stdint.h>

/* What jitter_get() gives per tick: 20 ms at 8 kHz. */
#define JITTER_FRAME 160
/* The longest packet accepted: 60 ms (RFC 3551's G.711 range is 10-60). */
#define JITTER_MAX_PACKET 480

/*
 * spandsp's adaptive range. 40 ms is the start: two 20 ms packets, or one
 * 30 ms packet and 10 ms of slack, which covers LAN and most trunk jitter
 * without a late packet. The buffer grows a packet at a time while more
 * than 1% arrive late, up to 120 ms: beyond that a reply would lag, and
 * in-band keys would drift out of DTMF_MERGE_WINDOW_MS (it allows about
 * 150 ms of buffering against the unbuffered telephone-events).
 */
#define JITTER_MIN_MS 40
#define JITTER_MAX_MS 120
/* A packet further ahead of the play-out point than this is a jump or a
 * stall of our loop: restart on it rather than fill or lag (the 150 ms
 * the DTMF merge window allows). */
#define JITTER_AHEAD_MS 150
/* Further behind than this is the sender's timestamp going back, not a
 * late packet (those are dropped). */
#define JITTER_BACK_MS 1000
/* Nothing queued for this long: the sender stopped (end of a recording,
 * hold, silence suppression). Concealment up to here also covers a burst
 * of lost packets longer than the buffer. */
#define JITTER_IDLE_MS 100
/* spandsp's timestamps are ints: a stream is restarted (as for a jump)
 * on the packet that is this many samples after its first, 2^30 (37
 * hours), far from where the offsets it is given would overflow. A build
 * may set a smaller bound to test it. */
#ifndef JITTER_REBASE_SAMPLES
#define JITTER_REBASE_SAMPLES (1 << 30)
#endif

struct jitter;

struct jitter_stats {
	uint64_t packets;   /* accepted by jitter_put() */
	uint64_t played;    /* packets that came out */
	uint64_t late;      /* dropped: behind the play-out point, or twice */
	uint64_t concealed; /* samples made up by PLC */
	uint64_t restarts;  /* streams begun: first, new SSRC, jump, idle */
};

int jitter_new(struct jitter **jp);
void jitter_free(struct jitter *j);

/*
 * Queues N samples (80..JITTER_MAX_PACKET) with the packet's SSRC and RTP
 * timestamp, received at NOW_MS. 0, or -EINVAL for a bad length, -ENOMEM.
 */
int jitter_put(struct jitter *j, uint32_t ssrc, uint32_t ts, const int16_t *pcm,
               size_t n, int64_t now_ms);

/*
 * The next 20 ms: fills PCM and returns JITTER_FRAME, or fewer (0 while
 * the buffer fills after a restart or when the stream is idle; a part
 * frame where a stream starts or ends).
 */
size_t jitter_get(struct jitter *j, int16_t pcm[JITTER_FRAME]);

void jitter_stats(const struct jitter *j, struct jitter_stats *st);

#endif
