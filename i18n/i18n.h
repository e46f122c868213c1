/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The translated texts a call speaks, and the time said the way each
 * language says it. The texts come from the catalogs in po/ (one .po file
 * per language, edited by translators without touching C), turned into a C
 * table at build time by i18n/catalog_gen.c; each lookup names its language,
 * since every call of the bridge has its own. Pure: no I/O, no locale.
 */
#ifndef RB_I18N_H
#define RB_I18N_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* Marks an English text as a catalog message id for xgettext (the .pot is
 * made from these marks) without changing it. */
#define N_(s) s

/* The language every catalog translates from, and the one used when a
 * language, or one of its texts, is missing. */
#define I18N_DEFAULT "en"

/*
 * The shipped language a BCP 47 TAG asks for: its primary subtag in lower
 * case when a catalog exists for it ("de" for "de-AT"; "en" itself), else
 * NULL. NULL or "" asks for I18N_DEFAULT. The returned string is static.
 */
const char *i18n_lang_pick(const char *tag);

/*
 * MSGID's translation in LANG (as i18n_lang_pick() returns it, or a tag it
 * accepts); MSGID itself when LANG has no catalog or no translation for it.
 * Never NULL for a non-NULL MSGID; the string is static or MSGID.
 */
const char *i18n_text(const char *lang, const char *msgid);

/* The languages with a catalog, English first, NULL-terminated. */
const char *const *i18n_langs(void);

/*
 * Fills TEMPLATE's placeholders, "{name}", with the values of the N NAMES
 * (VALUES[i] for "{NAMES[i]}") into *OUT, malloc'ed and the caller's to
 * free(). "{{" writes "{". A placeholder not named is kept as it is; the
 * build refuses a translation whose placeholders differ from its message
 * id's, so that cannot happen with a shipped catalog. Returns 0, -EINVAL or
 * -ENOMEM.
 */
int i18n_expand(const char *template, const char *const *names,
                const char *const *values, size_t n, char **out);

/*
 * The moment TM (local time, as tz_local_time() gives it) as LANG says it
 * after a preposition, in words and digits the language's voice reads
 * naturally: "at 2:05 PM", "um 14 Uhr 5", "à 14 heures 5", "a las 14 y 5",
 * "alle 14 e 5", "om 14 uur 5", "às 14 horas e 5". Written into OUT (LEN
 * bytes, NUL-terminated, cut if short). A language without its own rule
 * (none today: every shipped catalog has one) uses English's. Returns 0 or
 * -ENOSPC (OUT was too small).
 */
int i18n_time_say(const char *lang, const struct tm *tm, char *out, size_t len);

#endif
