/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The fallback bodies of encrypted messages. The body is first normalised
 * (ASCII lowercase, typographic apostrophes and quotes made plain, every
 * run of white space one space, a final full stop dropped) and then
 * compared with one table of the texts clients are known to send. Short,
 * generic sentences must equal the whole body; long, distinctive ones need
 * only start it, since clients append links or details to them.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "fallback.h"

enum fallback_match {
	FALLBACK_WHOLE,  /* the body is exactly this */
	FALLBACK_PREFIX, /* the body starts with this */
};

struct fallback_text {
	enum fallback_match match;
	const char *text; /* normalised: lowercase, plain apostrophes */
	const char *who;  /* where it comes from, for the reader */
};

static const struct fallback_text fallback_texts[] = {
    /* OMEMO (XEP-0384) */
    {FALLBACK_PREFIX,
     "i sent you an omemo encrypted message but your client doesn't "
     "seem to support",
     "Conversations and its forks, Siskin, Monal"},
    {FALLBACK_WHOLE,
     "i sent you an omemo encrypted message but your client doesn't "
     "support it",
     "web clients"},
    {FALLBACK_WHOLE,
     "i sent you an omemo encrypted message but your client does not "
     "support it",
     "web clients"},
    {FALLBACK_WHOLE, "i sent you an omemo encrypted message",
     "short form of the Conversations text"},
    {FALLBACK_WHOLE, "[this message is omemo encrypted]", "Dino"},
    {FALLBACK_WHOLE, "[this message is omemo encrypted.]", "Dino forks"},
    {FALLBACK_WHOLE, "this message is omemo encrypted",
     "slixmpp-omemo, Gajim and others"},
    {FALLBACK_WHOLE, "[this message was encrypted with omemo]",
     "older clients"},
    {FALLBACK_PREFIX,
     "you received a message encrypted with omemo but your client",
     "Profanity, Converse.js-based and .NET clients"},
    {FALLBACK_PREFIX,
     "i sent you an encrypted message but your current version doesn't "
     "seem to support",
     "Monal-based clients"},

    /* OpenPGP for XMPP (XEP-0373/0374) */
    {FALLBACK_PREFIX, "[this message is *encrypted* with openpgp",
     "Gajim (OX)"},
    {FALLBACK_PREFIX, "[this message is encrypted with openpgp for xmpp",
     "Dino (OX)"},
    {FALLBACK_WHOLE, "this message is encrypted with openpgp for xmpp",
     "libpurple and others (OX)"},
    {FALLBACK_WHOLE, "this message is encrypted using openpgp for xmpp",
     "XEP-0374 wording"},
    {FALLBACK_PREFIX, "this message is encrypted using openpgp (",
     "Smack-based clients"},
    {FALLBACK_WHOLE, "this message is encrypted with openpgp (xep-0373)",
     "emacs-jabber (OX)"},

    /* legacy OpenPGP (XEP-0027) */
    {FALLBACK_PREFIX,
     "i sent you a pgp encrypted message but your client doesn't seem "
     "to support",
     "Conversations"},
    {FALLBACK_PREFIX, "[this message is *encrypted* (see :xep:`27`", "Gajim"},
    {FALLBACK_PREFIX, "[this message is *encrypted* (see :jep:`27`",
     "old Gajim"},
    {FALLBACK_WHOLE, "[this message is encrypted]", "old Gajim"},
    {FALLBACK_WHOLE, "this message is encrypted", "XEP-0027 example"},
    {FALLBACK_WHOLE, "this message is encrypted with openpgp",
     "emacs-jabber, Psi and others"},
    {FALLBACK_WHOLE, "this message is encrypted using openpgp",
     "Matrix-based and other clients"},
};

/*
 * Longest normalised body compared. Every text above is far shorter; a
 * longer body can still match a FALLBACK_PREFIX entry by its beginning.
 */
#define FALLBACK_NORM_MAX 256

/* UTF-8 sequences replaced during normalisation ("" drops them). */
static const struct {
	const char *from;
	const char *to;
} fallback_map[] = {
    {"\u2019", "'"}, /* right single quotation mark, Conversations' */
    {"\u2018", "'"},  {"\u02bc", "'"},   {"\u2032", "'"}, {"\u201c", "\""},
    {"\u201d", "\""}, {"\u2026", "..."}, {"\u00a0", " "}, {"\u202f", " "},
    {"\u2009", " "},  {"\u200b", ""},    {"\ufeff", ""},
};

/*
 * Writes the normalised form of IN into OUT (CAP bytes). Returns false when
 * IN did not fit, in which case OUT holds its beginning.
 */
static bool fallback_normalise(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	bool space = false;

	while (*in) {
		const char *rep = NULL;
		size_t skip = 1;
		char one[2] = {0, 0};

		for (size_t i = 0;
		     i < sizeof(fallback_map) / sizeof(fallback_map[0]); i++) {
			size_t len = strlen(fallback_map[i].from);

			if (!strncmp(in, fallback_map[i].from, len)) {
				rep = fallback_map[i].to;
				skip = len;
				break;
			}
		}
		if (!rep) {
			char c = *in;

			if (c >= 'A' && c <= 'Z')
				c = (char)(c - 'A' + 'a');
			one[0] = c;
			rep = one;
		}
		in += skip;
		for (; *rep; rep++) {
			if (*rep == ' ' || *rep == '\t' || *rep == '\n' ||
			    *rep == '\r' || *rep == '\v' || *rep == '\f') {
				space = n > 0;
				continue;
			}
			if (n + (space ? 2 : 1) >= cap) {
				out[n] = '\0';
				return false;
			}
			if (space)
				out[n++] = ' ';
			space = false;
			out[n++] = *rep;
		}
	}
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
	return true;
}

bool fallback_is_encrypted_body(const char *body)
{
	char norm[FALLBACK_NORM_MAX];
	bool whole;

	if (!body)
		return false;
	whole = fallback_normalise(body, norm, sizeof(norm));
	for (size_t i = 0;
	     i < sizeof(fallback_texts) / sizeof(fallback_texts[0]); i++) {
		const struct fallback_text *f = &fallback_texts[i];

		if (f->match == FALLBACK_WHOLE) {
			if (whole && !strcmp(norm, f->text))
				return true;
		} else if (!strncmp(norm, f->text, strlen(f->text))) {
			return true;
		}
	}
	return false;
}
