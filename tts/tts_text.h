/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Chat text made fit to be read aloud on the phone. Messages arrive with
 * links, emoji, styling markers and stray control characters that a speech
 * engine would spell out, read as noise or choke on; this turns them into
 * plain sentences and shortens what is too long, saying so. Pure: no engine,
 * no I/O.
 */
#ifndef RB_TTS_TEXT_H
#define RB_TTS_TEXT_H

#include <stdbool.h>

/* A word longer than this many characters (a hash, a key held down) is cut
 * to it: flite's time grows faster than linearly with word length, and such
 * a word is noise read aloud anyway. */
#define TTS_TEXT_WORD_MAX 64

/* What follows a text cut at max_chars. */
#define TTS_TEXT_SHORTENED " ... message shortened."

/*
 * Prepares UTF-8 text IN for speech into *OUT (malloc'ed, the caller's to
 * free(); possibly "" when nothing speakable is left):
 * - http://, https:// and www. links become "a link to HOST" (lowercase,
 *   "www." and any user or port dropped), or "a link" without a usable host;
 *   punctuation after a link stays.
 * - a few common emoji are named ("smiley", "wink", "laughing", "sad face",
 *   "crying", "thumbs up", "thumbs down", "heart"; a run of the same one is
 *   named once) and every other pictograph, symbol-arrow, flag or private-use
 *   character is dropped, with its modifiers, joiners and variation
 *   selectors.
 * - control and invisible formatting characters (bidi, zero-width) and
 *   invalid UTF-8 are removed; whitespace runs become one space, a line break
 *   after a word becomes the end of a sentence (". "), and the ends are
 *   trimmed.
 * - styling markers (*bold*, _it_, ~strike~, `code`) at word edges and "> "
 *   quote markers at line starts are removed, "!!!" and "?!" become one mark,
 *   ".." and longer become "...", other runs of three or more of the same
 *   symbol ("-----", "=====") are removed, and words longer than
 *   TTS_TEXT_WORD_MAX characters are cut.
 * - if more than MAX_CHARS characters (code points, not bytes) remain, the
 *   text is cut at the last word boundary within them, trailing ",;:-" go,
 *   and TTS_TEXT_SHORTENED is appended (on top of MAX_CHARS).
 * Returns 0, -EINVAL (NULL argument, MAX_CHARS < 1) or -ENOMEM.
 */
int tts_text_prepare(const char *in, int max_chars, char **out);

/* The emoji that are named rather than dropped. */
enum tts_text_emoji {
	TTS_EMOJI_SMILEY,
	TTS_EMOJI_SAD,
	TTS_EMOJI_HEART,
	TTS_EMOJI_THUMBS_UP,
	TTS_EMOJI_THUMBS_DOWN,
	TTS_EMOJI_LAUGHING,
	TTS_EMOJI_WINK,
	TTS_EMOJI_CRYING,
	TTS_EMOJI_COUNT,
};

/* The words tts_text_prepare_words() inserts, in the call's language (the
 * caller fills them from its catalog; tts/ knows no language). */
struct tts_text_words {
	/* Accented Latin letters made bare ("Jose" for "José"): flite's
	 * English lexicon needs it; a German or French voice reads "Grüße"
	 * and "déjà" only with their accents. */
	bool bare_letters;
	const char *link;      /* "a link" */
	const char *link_to;   /* "a link to", the host follows */
	const char *shortened; /* "message shortened.", after " ... " */
	const char *emoji[TTS_EMOJI_COUNT]; /* "smiley", "sad face", ... */
};

/* English, as tts_text_prepare() speaks. */
extern const struct tts_text_words tts_text_words_en;

/* tts_text_prepare() with the words of W (all non-NULL). */
int tts_text_prepare_words(const char *in, int max_chars,
                           const struct tts_text_words *w, char **out);

#endif
