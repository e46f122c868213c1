/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Keys pressed on the far phone, from every way a phone sends them: RFC 4733
 * telephone-events (dtmf_keys_event), in-band tones in the decoded audio
 * (dtmf_keys_audio, through spandsp's detector) and keys the signalling
 * carries (dtmf_keys_signal: SIP INFO). All feed one stream in which each
 * press counts once: RFC 4733 repeats are folded by timestamp, and a press
 * that arrives more than one way is paired across the paths when their
 * start times lie within DTMF_MERGE_WINDOW_MS. A flood bound caps what
 * any one call can push through. Nothing here knows of SIP, RTP sockets or
 * the queue: the caller hands in payloads, samples and the time.
 *
 * The names are dtmf_keys_*, not dtmf_rx_*: spandsp owns dtmf_rx_init(),
 * dtmf_rx_free() and friends, and a second dtmf_rx_free() with another type
 * would not compile next to spandsp's header (and would interpose spandsp's
 * own symbol at link time).
 *
 * Ownership: the caller owns every buffer passed in, for the call only.
 * dtmf_keys_new() gives an object the caller frees with dtmf_keys_free().
 * One thread at a time. Times are milliseconds on one monotonic clock.
 */
#ifndef RB_DTMF_H
#define RB_DTMF_H

#include <stddef.h>
#include <stdint.h>

struct dtmf_keys;

/* The keys, in RFC 4733 event-code order (event 0 is '0', 10 '*', 15 'D'). */
#define DTMF_KEYS "0123456789*#ABCD"

/*
 * Two reports of one key, one from each path, are one press when their
 * estimated start times are at most this far apart. The estimates differ
 * by any buffering one path has and the other has not (audio run through
 * a jitter buffer before the detector, events not: up to about 150 ms), by
 * the packet interval at which a sender notices and stamps events (20-50
 * ms), and by the error of the in-band estimate (spandsp decides per
 * 102-sample block: +-13 ms): about 215 ms at worst, so 250 ms. A longer
 * window costs little, because each press pairs with at most one report
 * from the other path, so a fast repeat of one key stays two presses; too
 * short a window counts a press twice.
 */
#define DTMF_MERGE_WINDOW_MS 250

/*
 * At most DTMF_RATE_MAX presses in any DTMF_RATE_WINDOW_MS; more are
 * dropped and counted. ITU-T Q.24's fastest keying, 40 ms on and 50 ms
 * off, puts 12 presses in a second (at 0, 90, ... 990 ms), and 12 still
 * fits when each report is up to 40 ms early or late; a phone that keeps
 * to the rules loses no key, while forged telephone-events cannot run a
 * menu much faster. (spandsp's "10 digits a second" is its nominal rate.)
 */
#define DTMF_RATE_MAX       12
#define DTMF_RATE_WINDOW_MS 1000

/*
 * The longest telephone-event payload accepted, in bytes: 16 events packed
 * into one packet (RFC 4733 section 2.5.1.5). Real senders put one.
 */
#define DTMF_EVENT_PAYLOAD_MAX 64

enum dtmf_source {
	DTMF_SOURCE_RFC4733 = 0, /* a telephone-event packet */
	DTMF_SOURCE_INBAND = 1,  /* tones detected in the audio */
	DTMF_SOURCE_SIGNAL = 2,  /* a key sent as such (SIP INFO) */
};

/* "RFC 4733", "in-band" or "INFO", for log lines. */
const char *dtmf_source_name(enum dtmf_source src);

/*
 * Called once per press, with KEY one of DTMF_KEYS, the path that reported
 * it first and the now_ms of the call that reported it. It runs inside
 * dtmf_keys_event() or dtmf_keys_audio() and must not free the object.
 */
typedef void (*dtmf_key_cb)(char key, enum dtmf_source src, int64_t now_ms,
                            void *arg);

struct dtmf_keys_stats {
	uint64_t presses;    /* keys passed to the callback */
	uint64_t dropped;    /* presses refused by the flood bound */
	uint64_t duplicates; /* second reports of a press, by the other path */
	uint64_t malformed;  /* telephone-event payloads refused (-EINVAL) */
	uint64_t ignored;    /* telephone-events above 15: not keys */
};

/* Creates a receiver; returns 0, -EINVAL (no callback) or -ENOMEM. */
int dtmf_keys_new(struct dtmf_keys **kp, dtmf_key_cb cb, void *arg);
/* Frees the receiver; NULL is a no-op. */
void dtmf_keys_free(struct dtmf_keys *k);

/*
 * Takes the payload of one telephone-event RTP packet (RFC 4733 section
 * 2.3: event, E bit, volume, duration; several such blocks when events are
 * packed) with the packet's RTP timestamp and sequence number. A press is
 * reported at the first packet that arrives for it, not at its end; later
 * packets of the same event (updates, the three end packets, network
 * duplicates, and the segments of an event longer than 8 s) report
 * nothing, whatever order they come in. An event with a new timestamp is a
 * new press. Event codes above 15 are counted and ignored. SEQ only goes
 * into debug logs: repeated end packets may carry the same sequence number
 * or new ones (sipp's recordings repeat it), so the timestamp decides.
 * Returns 0, or -EINVAL for a payload whose length is not a whole number
 * of 4-byte blocks, is over DTMF_EVENT_PAYLOAD_MAX, or packs an unfinished
 * event before another; such a packet changes nothing but the statistics.
 */
int dtmf_keys_event(struct dtmf_keys *k, const uint8_t *payload, size_t len,
                    uint32_t rtp_ts, uint16_t seq, int64_t now_ms);

/*
 * One key the signalling reported (a SIP INFO), KEY one of DTMF_KEYS, at
 * NOW_MS: senders send it as the key goes down, so that is its start. It
 * pairs like the other two paths (a phone that sends INFO and RFC 4733 or
 * tones for one press counts once) and passes the same flood bound.
 * Returns 0, or -EINVAL for a KEY not in DTMF_KEYS.
 */
int dtmf_keys_signal(struct dtmf_keys *k, char key, int64_t now_ms);

/*
 * Runs N samples of 8 kHz 16-bit linear PCM (decoded G.711, say) through
 * spandsp's DTMF detector; keys it hears are reported as they are
 * confirmed, about 26-38 ms after the tone starts. Feed the audio in order
 * and without gaps, with NOW_MS the time the last of these samples came
 * in (a packet's arrival). Returns 0 or -EINVAL.
 */
int dtmf_keys_audio(struct dtmf_keys *k, const int16_t *pcm, size_t n,
                    int64_t now_ms);

/* Copies the counters so far. */
void dtmf_keys_stats_get(const struct dtmf_keys *k,
                         struct dtmf_keys_stats *out);

#endif
