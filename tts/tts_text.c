/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tts_text_prepare() in three passes over a growing buffer. The first decodes
 * UTF-8 and decides per character: links, emoji, controls, spacing, quote
 * markers. The second works on the ASCII structure of that result (styling
 * markers, punctuation runs, whitespace and line ends, long words); bytes of
 * other scripts pass through as letters. The third cuts by characters.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tts_text.h"

struct text_buf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void buf_put(struct text_buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void buf_putc(struct text_buf *b, char c)
{
	buf_put(b, &c, 1);
}

static void buf_puts(struct text_buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static char buf_last(const struct text_buf *b)
{
	return b->len ? b->s[b->len - 1] : '\0';
}

/*
 * Decodes one UTF-8 character at S (N bytes available) into *CP and returns
 * its length, or 0 for an invalid sequence (overlong forms, surrogates and
 * values past U+10FFFF included).
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		c = s[0] & 0x1f;
		len = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		c = s[0] & 0x0f;
		len = 3;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		c = s[0] & 0x07;
		len = 4;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* ---- pass 1: characters ---- */

struct emoji_name {
	uint32_t cp;
	enum tts_text_emoji name;
};

/* Kept small on purpose: the faces and signs people send as a reply in
 * themselves. Everything else is decoration and is dropped. */
static const struct emoji_name emoji_names[] = {
    {0x263a, TTS_EMOJI_SMILEY},       {0x2639, TTS_EMOJI_SAD},
    {0x2764, TTS_EMOJI_HEART},        {0x1f44d, TTS_EMOJI_THUMBS_UP},
    {0x1f44e, TTS_EMOJI_THUMBS_DOWN}, {0x1f600, TTS_EMOJI_SMILEY},
    {0x1f602, TTS_EMOJI_LAUGHING},    {0x1f603, TTS_EMOJI_SMILEY},
    {0x1f604, TTS_EMOJI_SMILEY},      {0x1f609, TTS_EMOJI_WINK},
    {0x1f60a, TTS_EMOJI_SMILEY},      {0x1f622, TTS_EMOJI_CRYING},
    {0x1f641, TTS_EMOJI_SAD},         {0x1f642, TTS_EMOJI_SMILEY},
    {0x1f923, TTS_EMOJI_LAUGHING},
};

const struct tts_text_words tts_text_words_en = {
    .bare_letters = true,
    .link = "a link",
    .link_to = "a link to",
    .shortened = "message shortened.",
    .emoji =
        {
            [TTS_EMOJI_SMILEY] = "smiley",
            [TTS_EMOJI_SAD] = "sad face",
            [TTS_EMOJI_HEART] = "heart",
            [TTS_EMOJI_THUMBS_UP] = "thumbs up",
            [TTS_EMOJI_THUMBS_DOWN] = "thumbs down",
            [TTS_EMOJI_LAUGHING] = "laughing",
            [TTS_EMOJI_WINK] = "wink",
            [TTS_EMOJI_CRYING] = "crying",
        },
};

static const char *emoji_name_find(const struct tts_text_words *w, uint32_t cp)
{
	for (size_t i = 0; i < sizeof(emoji_names) / sizeof(emoji_names[0]);
	     i++) {
		if (emoji_names[i].cp == cp)
			return w->emoji[emoji_names[i].name];
	}
	return NULL;
}

enum char_class {
	CHAR_TEXT,
	CHAR_SPACE,
	CHAR_NEWLINE,
	CHAR_INVISIBLE, /* removed without a trace */
	CHAR_PICTURE,   /* removed, leaving a word break */
};

static enum char_class char_classify(uint32_t c)
{
	if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0x85 ||
	    c == 0x2028 || c == 0x2029)
		return CHAR_NEWLINE;
	if (c == ' ' || c == '\t' || c == 0xa0 || c == 0x1680 ||
	    (c >= 0x2000 && c <= 0x200a) || c == 0x202f || c == 0x205f ||
	    c == 0x3000)
		return CHAR_SPACE;
	/* Controls; soft hyphen; Arabic letter mark; Mongolian vowel
	 * separator; zero-width spaces, joiners and direction marks; bidi
	 * embeddings and isolates; word joiner and invisible operators; BOM;
	 * variation selectors; combining enclosing keycap; tags; skin
	 * tones. */
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0xad || c == 0x61c ||
	    c == 0x180e || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) ||
	    c == 0xfeff || (c >= 0xfe00 && c <= 0xfe0f) || c == 0x20e3 ||
	    (c >= 0xe0000 && c <= 0xe007f) || (c >= 0xe0100 && c <= 0xe01ef) ||
	    (c >= 0x1f3fb && c <= 0x1f3ff))
		return CHAR_INVISIBLE;
	/* Arrows, technical symbols (watch, hourglass), geometric shapes,
	 * miscellaneous symbols and dingbats, more arrows, stars and squares,
	 * wavy dash and the CJK emoji, all of the emoji planes (cards,
	 * regional-indicator flags, faces, pictographs), private use. */
	if ((c >= 0x2190 && c <= 0x21ff) || (c >= 0x2300 && c <= 0x23ff) ||
	    (c >= 0x25a0 && c <= 0x27bf) || (c >= 0x2900 && c <= 0x297f) ||
	    (c >= 0x2b00 && c <= 0x2bff) || c == 0x3030 || c == 0x303d ||
	    c == 0x3297 || c == 0x3299 || (c >= 0x1f000 && c <= 0x1fbff) ||
	    (c >= 0xe000 && c <= 0xf8ff) || c >= 0xf0000)
		return CHAR_PICTURE;
	return CHAR_TEXT;
}

/*
 * The letters of Latin-1 (U+00C0 to U+00FF) without their accents, in order;
 * '\0' where there is no letter (the multiplication and division signs).
 * flite's English lexicon skips accented letters ("Jos" for "José"), while
 * the bare letter is usually close to how an English reader says the name.
 */
static const char latin1_bare[] = "AAAAAAACEEEEIIIIDNOOOOO\0OUUUUYTs"
                                  "aaaaaaaceeeeiiiidnooooo\0ouuuuyty";

/* Writes C's bare letters to *BARE and returns their number; 0 when C is
 * not an accented Latin letter. */
static size_t latin_bare(uint32_t c, const char **bare)
{
	static const struct {
		uint32_t c;
		const char *s;
	} pairs[] = {
	    {0xc6, "Ae"},  {0xe6, "ae"},  {0xdf, "ss"},
	    {0x152, "Oe"}, {0x153, "oe"},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		if (pairs[i].c == c) {
			*bare = pairs[i].s;
			return 2;
		}
	}
	if (c >= 0xc0 && c <= 0xff && latin1_bare[c - 0xc0]) {
		*bare = &latin1_bare[c - 0xc0];
		return 1;
	}
	return 0;
}

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

static bool prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++) {
		char c = *s;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *prefix)
			return false;
	}
	return true;
}

/* Bytes a link runs over: printable ASCII but the delimiters RFC 3986
 * appendix C names for plain text. */
static bool url_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"';
}

/* Whether byte C, after the LEN bytes of a link at S, is punctuation of the
 * sentence rather than of the link. A closing bracket belongs to the link
 * when the link opened one (Wikipedia's "Foo_(bar)"). */
static bool url_trailing(const char *s, size_t len, char c)
{
	const char *pairs = ")(](}{";
	const char *p = strchr(pairs, c);
	int depth = 0;

	if (c && strchr(".,;:!?'*_~`", c))
		return true;
	if (!c || !p || (p - pairs) % 2)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == p[1])
			depth++;
		else if (s[i] == c)
			depth--;
	}
	return depth <= 0;
}

/*
 * If a link starts at S, writes its spoken form and returns the bytes it
 * took; otherwise 0. The host is whatever follows the scheme up to the path,
 * after any "user@" and before any ":port".
 */
static size_t url_take(const char *s, const struct tts_text_words *w,
                       struct text_buf *b)
{
	size_t start, len = 0, hs, he;

	if (prefix_nocase(s, "https://"))
		start = 8;
	else if (prefix_nocase(s, "http://"))
		start = 7;
	else if (prefix_nocase(s, "www.") && ascii_alnum((unsigned char)s[4]))
		start = 0;
	else
		return 0;

	while (url_char((unsigned char)s[len]))
		len++;
	while (len > start && url_trailing(s, len - 1, s[len - 1]))
		len--;

	/* The authority ends at the path, query or fragment. */
	he = start;
	while (he < len && s[he] != '/' && s[he] != '?' && s[he] != '#')
		he++;
	hs = start;
	for (size_t i = start; i < he; i++) {
		if (s[i] == '@')
			hs = i + 1;
	}
	for (size_t i = hs; i < he; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!ascii_alnum(c) && c != '.' && c != '-') {
			he = i;
			break;
		}
	}
	if (he - hs > 4 && prefix_nocase(s + hs, "www."))
		hs += 4;
	while (he > hs && s[he - 1] == '.')
		he--;
	while (hs < he && s[hs] == '.')
		hs++;

	if (he > hs) {
		buf_puts(b, w->link_to);
		buf_putc(b, ' ');
	} else {
		buf_puts(b, w->link);
	}
	for (size_t i = hs; i < he; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		buf_putc(b, c);
	}
	return len ? len : 1;
}

static void text_pass_chars(const char *in, const struct tts_text_words *w,
                            struct text_buf *b)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), i = 0;
	const char *last_name = NULL;
	bool line_start = true;
	uint32_t prev = ' ';

	while (i < n) {
		uint32_t c;
		size_t len = utf8_decode(s + i, n - i, &c);
		enum char_class cls;
		const char *name, *bare;
		size_t bare_len;

		if (!len) {
			i++;
			continue;
		}
		cls = char_classify(c);
		if (cls == CHAR_INVISIBLE) {
			i += len;
			continue;
		}
		if (cls == CHAR_NEWLINE || cls == CHAR_SPACE) {
			buf_putc(b, cls == CHAR_NEWLINE ? '\n' : ' ');
			line_start = line_start || cls == CHAR_NEWLINE;
			prev = ' ';
			i += len;
			continue;
		}
		if (line_start && c == '>' &&
		    (s[i + 1] == ' ' || s[i + 1] == '>' || s[i + 1] == '\n' ||
		     !s[i + 1])) {
			/* A quote marker: the quoted text is read as text. */
			i++;
			continue;
		}
		line_start = false;

		name = emoji_name_find(w, c);
		if (name) {
			if (name != last_name) {
				buf_putc(b, ' ');
				buf_puts(b, name);
				buf_putc(b, ' ');
			}
			last_name = name;
			prev = ' ';
			i += len;
			continue;
		}
		if (cls == CHAR_PICTURE) {
			buf_putc(b, ' ');
			prev = ' ';
			i += len;
			continue;
		}
		last_name = NULL;

		/* A link starts a word: "xhttp://" and "a.www.b" are not. */
		if (c < 0x80 && !ascii_alnum((unsigned char)prev) &&
		    !strchr("./@-_:", (int)prev)) {
			size_t took = url_take(in + i, w, b);

			if (took) {
				i += took;
				prev = 'a';
				continue;
			}
		}
		bare_len = w->bare_letters ? latin_bare(c, &bare) : 0;
		if (bare_len)
			buf_put(b, bare, bare_len);
		else
			buf_put(b, in + i, len);
		prev = c < 0x80 ? c : 'a';
		i += len;
	}
}

/* ---- pass 2: structure ---- */

static bool is_marker(char c)
{
	return c == '*' || c == '_' || c == '~' || c == '`';
}

/* A character a marker or a symbol run may border without being part of a
 * word: space, end, or ASCII punctuation. */
static bool is_edge(char c)
{
	unsigned char u = (unsigned char)c;

	return !c || c == ' ' || c == '\n' || (u < 0x80 && !ascii_alnum(u));
}

/* Whether a line ending after C reads better with a full stop: after a word
 * or a closing bracket or quote, not after other punctuation. */
static bool wants_stop(char c)
{
	unsigned char u = (unsigned char)c;

	return u >= 0x80 || ascii_alnum(u) || (c && strchr(")]}\"'", c));
}

static void text_pass_structure(const char *a, size_t n, struct text_buf *b)
{
	bool pending_space = false, pending_stop = false;
	size_t word_chars = 0;

	for (size_t i = 0; i < n;) {
		char c = a[i];
		size_t j = i + 1;

		if (c == ' ' || c == '\n') {
			pending_space = true;
			pending_stop = pending_stop || c == '\n';
			i++;
			continue;
		}
		while (j < n && a[j] == c && (unsigned char)c < 0x80 &&
		       !ascii_alnum((unsigned char)c))
			j++;
		if (is_marker(c) &&
		    (is_edge(i ? a[i - 1] : '\0') || is_edge(a[j]))) {
			i = j;
			continue;
		}
		if (!is_marker(c) && (unsigned char)c < 0x80 &&
		    !ascii_alnum((unsigned char)c) && c != '.' && c != '!' &&
		    c != '?' && j - i >= 3) {
			/* A rule or a smear of one symbol. */
			pending_space = true;
			i = j;
			continue;
		}

		if (pending_space && b->len) {
			if (pending_stop && wants_stop(buf_last(b)))
				buf_putc(b, '.');
			buf_putc(b, ' ');
		}
		if (pending_space)
			word_chars = 0;
		pending_space = pending_stop = false;

		if (c == '!' || c == '?') {
			buf_putc(b, c);
			while (j < n && (a[j] == '!' || a[j] == '?'))
				j++;
			i = j;
			word_chars++;
			continue;
		}
		if (c == '.' && j - i >= 2) {
			buf_puts(b, "...");
			i = j;
			word_chars++;
			continue;
		}
		/* Copy the run, or one character of another script, counting
		 * characters (UTF-8 lead bytes) towards the word limit. */
		if ((unsigned char)c >= 0x80) {
			j = i + 1;
			while (j < n && ((unsigned char)a[j] & 0xc0) == 0x80)
				j++;
		}
		for (; i < j; i++) {
			if (((unsigned char)a[i] & 0xc0) != 0x80)
				word_chars++;
			if (word_chars <= TTS_TEXT_WORD_MAX)
				buf_putc(b, a[i]);
		}
	}
}

/* ---- pass 3: length ---- */

static void text_pass_shorten(struct text_buf *b, int max_chars,
                              const char *shortened)
{
	size_t chars = 0, cut = b->len, end;

	for (size_t i = 0; i < b->len; i++) {
		if (((unsigned char)b->s[i] & 0xc0) == 0x80)
			continue;
		if (chars == (size_t)max_chars) {
			cut = i;
			break;
		}
		chars++;
	}
	if (cut == b->len)
		return;

	/* A cut before a space or a punctuation mark is at a word's end. */
	end = cut;
	if (!strchr(" ,;:.!?", b->s[cut])) {
		while (end > 0 && b->s[end - 1] != ' ')
			end--;
		if (!end)
			end = cut; /* one long word: cut inside it */
	}
	while (end > 0 && strchr(" ,;:-", b->s[end - 1]))
		end--;
	b->len = end;
	b->s[end] = '\0';
	buf_puts(b, b->len ? " ... " : "... ");
	buf_puts(b, shortened);
}

int tts_text_prepare(const char *in, int max_chars, char **out)
{
	return tts_text_prepare_words(in, max_chars, &tts_text_words_en, out);
}

int tts_text_prepare_words(const char *in, int max_chars,
                           const struct tts_text_words *w, char **out)
{
	struct text_buf chars = {0}, text = {0};
	int err = 0;

	if (out)
		*out = NULL;
	if (!in || !out || !w || max_chars < 1)
		return -EINVAL;

	text_pass_chars(in, w, &chars);
	if (chars.oom) {
		err = -ENOMEM;
		goto out;
	}
	/* An empty buffer stays NULL; give the result a string to own. */
	buf_put(&text, "", 0);
	text_pass_structure(chars.s ? chars.s : "", chars.len, &text);
	text_pass_shorten(&text, max_chars, w->shortened);
	if (text.oom) {
		err = -ENOMEM;
		goto out;
	}
	*out = text.s;
	text.s = NULL;
out:
	free(chars.s);
	free(text.s);
	return err;
}
