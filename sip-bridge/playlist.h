/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What a call plays: a short list of pieces (cached phrases, the rendered
 * messages, the beep before recording) read out one after another, 20 ms
 * at a time, by the media clock. The list reports each piece's end to its
 * owner, which may replace the list from inside that report (barge-in,
 * the next menu): the read goes on with the new list in the same frame.
 *
 * Ownership: a playlist is embedded in its call; its fields are
 * playlist.c's. Pieces point at PCM they do not own (the cache's, or the
 * call's renderings), which must outlive them (playlist_clear).
 */
#ifndef RB_SIP_PLAYLIST_H
#define RB_SIP_PLAYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tone_gen_state_s tone_gen_state_t;

/* One piece, and what its end means to the call. */
struct piece {
	const int16_t *pcm; /* not owned; NULL plays silence */
	size_t n;
	int heard_seq; /* > 0: the messages up to this seq have been heard */
	bool verify;   /* the verification code has been spoken */
	bool beep;     /* a generated 1 kHz tone, not PCM */
};

#define PLAYLIST_MAX 16

struct playlist {
	struct piece pieces[PLAYLIST_MAX];
	int n, cur;
	size_t pos;             /* samples of pieces[cur] played */
	tone_gen_state_t *tone; /* the beep's generator while it plays */
};

/* Called as a piece ends: P is a copy of it; LAST when it was the list's
 * last. The callee may clear and refill the list. */
typedef void (*playlist_end_cb)(void *arg, const struct piece *p, bool last);

void playlist_init(struct playlist *pl);
/* Frees the tone generator; the list is empty afterwards. */
void playlist_fini(struct playlist *pl);
/* Empties the list; what it pointed at is the owner's to free. */
void playlist_clear(struct playlist *pl);
/* Appends N samples of PCM (a full list drops it); the piece's end
 * reports HEARD_SEQ and VERIFY. 0 or -ENOSPC. */
int playlist_add(struct playlist *pl, const int16_t *pcm, size_t n,
                 int heard_seq, bool verify);
/* Appends the beep before recording (300 ms at 1 kHz). 0 or -ENOSPC. */
int playlist_add_beep(struct playlist *pl);
/* Fills up to N samples of PCM from the list, calling END as each piece
 * ends; returns how many were filled (fewer once the list ran out). */
size_t playlist_read(struct playlist *pl, int16_t *pcm, size_t n,
                     playlist_end_cb end, void *arg);

#endif
