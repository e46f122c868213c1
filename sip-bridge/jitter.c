/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What does it do? Holds received audio long enough to put reordered
 * packets back in order and to ride out arrival jitter, then hands out
 * exactly 20 ms per tick of the media timer, with spandsp's packet-loss
 * concealment standing in for packets that never came.
 *
 * How does it work? Each packet is copied and queued in spandsp's playout
 * buffer under its timestamp relative to the stream's first packet (so
 * RTP's 32-bit wrap never meets spandsp's int timestamps; the stream is
 * restarted long before those offsets would reach INT_MAX). spandsp plays
 * out by sender timestamp: every playout_get() advances the expected
 * timestamp by one packet and returns the queued frame that is due, asks
 * for a fill-in when there is none, or reports a late one to drop. Its
 * start offset (the minimum length) is the priming delay; the fill-ins
 * before the first real frame are that delay and produce no output. Frames
 * may be 10-60 ms, so what comes out goes through a small FIFO from which
 * each tick takes 160 samples: with 30 ms packets, two packets are taken
 * every three ticks. Every real frame also trains the PLC (plc_rx), and
 * each fill-in is synthesised from it (plc_fillin), fading to silence past
 * about 50 ms.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <spandsp/telephony.h>
#include <spandsp/playout.h>
#include <spandsp/plc.h>

#include "jitter.h"

#define SAMPLES_PER_MS 8
/* Room for what is left of a tick plus a whole queue moved out at a
 * restart (at most JITTER_AHEAD_MS ahead, plus the last packet and the
 * fill-ins before it), twice over. */
#define FIFO_LEN                                                               \
	(2 * (JITTER_FRAME + (JITTER_AHEAD_MS * SAMPLES_PER_MS) +              \
	      2 * JITTER_MAX_PACKET))

struct jitter {
	playout_state_t *po;
	plc_state_t *plc;
	bool active;   /* a stream is queued or playing */
	bool started;  /* a real frame has come out since the restart */
	uint32_t ssrc; /* the stream's */
	size_t len;    /* and its packets' length */
	uint32_t ts0;  /* its first packet's RTP timestamp */
	int64_t t0_ms; /* and when that arrived */
	int queued;    /* frames in po */
	int empty;     /* samples filled in with nothing queued */
	int head;      /* start-up delay the old stream's rest already gives */
	int16_t fifo[FIFO_LEN];
	size_t fifo_n;
	struct jitter_stats st;
};

static void flush(struct jitter *j)
{
	playout_frame_t *f;

	while ((f = playout_get_unconditional(j->po)) != NULL)
		free(f->data);
	j->queued = 0;
}

/*
 * spandsp 0.0.6's plc_fillin() first rotates its history ring to start at
 * 0 with a memcpy whose ranges overlap whenever the write position is in
 * the ring's first half: undefined behaviour (AddressSanitizer stops on
 * it). The same rotation done here with memmove leaves it nothing to do.
 */
static void conceal(plc_state_t *plc, int16_t *amp, int len)
{
	int16_t tmp[PLC_HISTORY_LEN];
	int k = plc->buf_ptr;

	if (k > 0 && k < PLC_HISTORY_LEN) {
		memcpy(tmp, plc->history, (size_t)k * sizeof(*tmp));
		memmove(plc->history, plc->history + k,
		        (size_t)(PLC_HISTORY_LEN - k) * sizeof(*tmp));
		memcpy(plc->history + PLC_HISTORY_LEN - k, tmp,
		       (size_t)k * sizeof(*tmp));
		plc->buf_ptr = 0;
	}
	plc_fillin(plc, amp, len);
}

/* One step of spandsp's play-out into the FIFO: 1 when samples were
 * added (a frame, or PLC for a missing one), 0 for a fill-in of the
 * start-up delay (nothing to play yet), 2 for one that the old stream's
 * audio still in the FIFO already covers, -1 when spandsp has nothing. */
static int step(struct jitter *j)
{
	playout_frame_t f;
	int r, len;

	for (;;) {
		r = playout_get(j->po, &f, 0);
		if (r != PLAYOUT_DROP)
			break;
		/* Late, or a duplicate: spandsp wants the same time again. */
		free(f.data);
		j->queued--;
		j->st.late++;
	}
	if (r == PLAYOUT_OK) {
		len = f.sender_len;
		memcpy(j->fifo + j->fifo_n, f.data, (size_t)len * 2);
		free(f.data);
		j->queued--;
		/* Trains the PLC, and smooths the join after a fill-in. */
		plc_rx(j->plc, j->fifo + j->fifo_n, len);
		j->fifo_n += (size_t)len;
		j->started = true;
		j->empty = 0;
		j->st.played++;
		return 1;
	}
	if (r != PLAYOUT_FILLIN)
		return -1;
	if (!j->started) {
		/* Without this, each restart would add its delay to what
		 * the last stream left, and the backlog would grow. */
		if (j->head <= 0)
			return 0;
		j->head -= j->po->last_speech_sender_len;
		return 2;
	}
	/* Lost, or later than the buffer: PLC for what spandsp skipped. */
	len = j->po->last_speech_sender_len;
	if (len <= 0 || len > JITTER_MAX_PACKET)
		len = JITTER_FRAME;
	conceal(j->plc, j->fifo + j->fifo_n, len);
	j->fifo_n += (size_t)len;
	j->st.concealed += (uint64_t)len;
	if (j->queued == 0)
		j->empty += len;
	return 1;
}

/* Moves what the old stream still has queued into the FIFO, in order and
 * with its gaps concealed, so that a new stream loses none of it; the
 * ticks play it out while the new stream's buffer fills. */
static void drain(struct jitter *j)
{
	while (j->queued > 0 && j->fifo_n + 2 * JITTER_MAX_PACKET <= FIFO_LEN)
		if (step(j) < 0)
			break;
	flush(j);
}

/* A new stream starting with a packet of N samples and TS at NOW_MS.
 * What the old one left comes out first. */
static void restart(struct jitter *j, uint32_t ssrc, uint32_t ts, size_t n,
                    int64_t now_ms)
{
	int len = (int)n;
	/* spandsp plays out on a grid of whole packets from the first one,
	 * starting the minimum length early: a minimum that is not a whole
	 * number of packets would put every frame off the grid, and late. */
	int min = (JITTER_MIN_MS * SAMPLES_PER_MS + len - 1) / len * len;
	int max = JITTER_MAX_MS * SAMPLES_PER_MS;

	drain(j);
	j->head = (int)j->fifo_n;
	playout_restart(j->po, min, max > min ? max : min);
	plc_init(j->plc);
	j->active = true;
	j->started = false;
	j->empty = 0;
	j->ssrc = ssrc;
	j->len = n;
	j->ts0 = ts;
	j->t0_ms = now_ms;
	j->st.restarts++;
}

/*
 * spandsp 0.0.6's playout_put() walks back from the newest frame to place
 * one that came out of order, but stops at the oldest without comparing
 * it: a frame that belongs second goes first, and the one it overtook is
 * then never due in time. Only the first two can be out of order, so put
 * them back.
 */
static void unswap_head(playout_state_t *po)
{
	playout_frame_t *a = po->first_frame;
	playout_frame_t *b = a ? a->later : NULL;

	if (!b || a->sender_stamp <= b->sender_stamp)
		return;
	a->later = b->later;
	if (b->later)
		b->later->earlier = a;
	else
		po->last_frame = a;
	a->earlier = b;
	b->later = a;
	b->earlier = NULL;
	po->first_frame = b;
}

int jitter_new(struct jitter **jp)
{
	struct jitter *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->po = playout_init(JITTER_MIN_MS * SAMPLES_PER_MS,
	                     JITTER_MAX_MS * SAMPLES_PER_MS);
	j->plc = plc_init(NULL);
	if (!j->po || !j->plc) {
		jitter_free(j);
		return -ENOMEM;
	}
	*jp = j;
	return 0;
}

void jitter_free(struct jitter *j)
{
	if (!j)
		return;
	if (j->po) {
		flush(j);
		playout_free(j->po);
	}
	if (j->plc)
		plc_free(j->plc);
	free(j);
}

int jitter_put(struct jitter *j, uint32_t ssrc, uint32_t ts, const int16_t *pcm,
               size_t n, int64_t now_ms)
{
	int16_t *copy;
	int64_t rel, ahead, since;

	if (n < 80 || n > JITTER_MAX_PACKET)
		return -EINVAL;
	if (!j->active || ssrc != j->ssrc || n != j->len) {
		restart(j, ssrc, ts, n, now_ms);
	} else {
		/* How far ahead of what plays next this packet starts; before
		 * the stream plays (a FIFO left by the last one may delay
		 * that), ahead of the time since its first packet. In 64 bits:
		 * a timestamp half the 32-bit space away (0x80000000, then 0)
		 * is INT32_MIN here, and subtracting from it overflowed. */
		rel = (int32_t)(ts - j->ts0);
		since = (now_ms - j->t0_ms) * SAMPLES_PER_MS;
		ahead =
		    j->started ? rel - playout_next_due(j->po) : rel - since;
		if (ahead > JITTER_AHEAD_MS * SAMPLES_PER_MS ||
		    ahead < -JITTER_BACK_MS * SAMPLES_PER_MS ||
		    rel >= JITTER_REBASE_SAMPLES ||
		    since >= JITTER_REBASE_SAMPLES)
			restart(j, ssrc, ts, n, now_ms);
	}
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, pcm, n * sizeof(*copy));
	if (playout_put(j->po, copy, PLAYOUT_TYPE_SPEECH, (timestamp_t)n,
	                (timestamp_t)(int32_t)(ts - j->ts0),
	                (timestamp_t)((now_ms - j->t0_ms) * SAMPLES_PER_MS)) !=
	    PLAYOUT_OK) {
		free(copy);
		return -ENOMEM;
	}
	unswap_head(j->po);
	j->queued++;
	j->st.packets++;
	return 0;
}

/* Adds the next packet's worth to the FIFO; false when there is none to
 * add yet (the start-up delay) or any more (idle). */
static bool pull(struct jitter *j)
{
	if (!j->active)
		return false;
	if (j->started && j->queued == 0 &&
	    j->empty >= JITTER_IDLE_MS * SAMPLES_PER_MS) {
		/* The sender stopped: wait for it without filling. */
		flush(j);
		j->active = false;
		return false;
	}
	return step(j) > 0;
}

size_t jitter_get(struct jitter *j, int16_t pcm[JITTER_FRAME])
{
	size_t n;

	while (j->fifo_n < JITTER_FRAME && pull(j))
		;
	n = j->fifo_n < JITTER_FRAME ? j->fifo_n : JITTER_FRAME;
	memcpy(pcm, j->fifo, n * sizeof(*pcm));
	j->fifo_n -= n;
	memmove(j->fifo, j->fifo + n, j->fifo_n * sizeof(*pcm));
	return n;
}

void jitter_stats(const struct jitter *j, struct jitter_stats *st)
{
	*st = j->st;
}
