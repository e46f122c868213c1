/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Catalog lookup (a binary search in the generated table: a few dozen texts
 * per language, looked up a few times per call), placeholder expansion, and
 * the spoken time per language. The time rules are code, not catalog text:
 * where a language changes words with the hour ("a la una", "a las dos";
 * "à une heure", "à midi") a template could not say it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "i18n.h"
#include "i18n_catalog.h"

static const struct i18n_catalog *catalog_find(const char *lang,
                                               size_t lang_len)
{
	for (size_t i = 0; i < i18n_catalog_count; i++) {
		const char *l = i18n_catalogs[i].lang;

		if (strlen(l) == lang_len && !strncmp(l, lang, lang_len))
			return &i18n_catalogs[i];
	}
	return NULL;
}

/* The primary subtag of TAG, lower-cased into OUT; 0 when it is not 2 or 3
 * letters (BCP 47's language subtags). */
static size_t primary_subtag(const char *tag, char out[4])
{
	size_t n = 0;

	while (tag[n] && tag[n] != '-' && tag[n] != '_') {
		char c = tag[n];

		if (n == 3)
			return 0;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c < 'a' || c > 'z')
			return 0;
		out[n++] = c;
	}
	out[n] = '\0';
	return n >= 2 ? n : 0;
}

const char *i18n_lang_pick(const char *tag)
{
	const struct i18n_catalog *c;
	char sub[4];
	size_t n;

	if (!tag || !*tag)
		return I18N_DEFAULT;
	n = primary_subtag(tag, sub);
	if (!n)
		return NULL;
	if (!strcmp(sub, I18N_DEFAULT))
		return I18N_DEFAULT;
	c = catalog_find(sub, n);
	return c ? c->lang : NULL;
}

static int entry_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct i18n_entry *)elem)->msgid);
}

const char *i18n_text(const char *lang, const char *msgid)
{
	const struct i18n_catalog *c;
	const struct i18n_entry *e;

	lang = i18n_lang_pick(lang);
	if (!msgid || !lang || !strcmp(lang, I18N_DEFAULT))
		return msgid;
	c = catalog_find(lang, strlen(lang));
	if (!c || !c->n)
		return msgid;
	e = bsearch(msgid, c->entries, c->n, sizeof(*e), entry_cmp);
	return e ? e->msgstr : msgid;
}

const char *const *i18n_langs(void)
{
	/* English plus every catalog, built once: the table is constant. */
	static const char *langs[32];

	if (!langs[0]) {
		size_t n = 0;

		langs[n++] = I18N_DEFAULT;
		for (size_t i = 0; i < i18n_catalog_count && n + 1 < 32; i++) {
			if (i18n_catalogs[i].n &&
			    strcmp(i18n_catalogs[i].lang, I18N_DEFAULT))
				langs[n++] = i18n_catalogs[i].lang;
		}
		langs[n] = NULL;
	}
	return langs;
}

int i18n_expand(const char *template, const char *const *names,
                const char *const *values, size_t n, char **out)
{
	size_t cap = 0, len = 0;
	char *s = NULL;

	if (!template || !out || (n && (!names || !values)))
		return -EINVAL;
	*out = NULL;
	/* Two passes: measure, then write. */
	for (int pass = 0; pass < 2; pass++) {
		len = 0;
		for (const char *p = template; *p;) {
			const char *piece = p, *end;
			size_t piece_len = 1;

			if (p[0] == '{' && p[1] == '{') {
				p += 2;
			} else if (p[0] == '{' && (end = strchr(p, '}'))) {
				size_t i;

				piece_len = (size_t)(end - p) + 1;
				for (i = 0; i < n; i++) {
					if (strlen(names[i]) == piece_len - 2 &&
					    !strncmp(names[i], p + 1,
					             piece_len - 2))
						break;
				}
				p = end + 1;
				if (i < n) {
					piece = values[i] ? values[i] : "";
					piece_len = strlen(piece);
				}
			} else {
				p++;
			}
			if (pass)
				memcpy(s + len, piece, piece_len);
			len += piece_len;
		}
		if (!pass) {
			cap = len + 1;
			s = malloc(cap);
			if (!s)
				return -ENOMEM;
		}
	}
	s[len] = '\0';
	*out = s;
	return 0;
}

/* ---- the time, per language ---- */

typedef int time_say_fn(int h, int m, char *out, size_t len);

static int say(size_t len, int n)
{
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* "at 2:05 PM", "at 12:00 AM": the twelve-hour clock, as flite reads it
 * (it says "two oh five P M"). */
static int time_en(int h, int m, char *out, size_t len)
{
	return say(len,
	           snprintf(out, len, "at %d:%02d %s", h % 12 ? h % 12 : 12, m,
	                    h < 12 ? "AM" : "PM"));
}

/* "um 14 Uhr 5", "um 9 Uhr": German says the hour, "Uhr", then the
 * minutes. */
static int time_de(int h, int m, char *out, size_t len)
{
	return say(len, m ? snprintf(out, len, "um %d Uhr %d", h, m)
	                  : snprintf(out, len, "um %d Uhr", h));
}

/* "à 14 heures 5", "à une heure", "à midi 10", "à minuit": "une" because
 * "heure" is feminine (the voice would say "un"). */
static int time_fr(int h, int m, char *out, size_t len)
{
	char hour[32];

	if (h == 0)
		snprintf(hour, sizeof(hour), "minuit");
	else if (h == 12)
		snprintf(hour, sizeof(hour), "midi");
	else if (h == 1)
		snprintf(hour, sizeof(hour), "une heure");
	else
		snprintf(hour, sizeof(hour), "%d heures", h);
	return say(len, m ? snprintf(out, len, "\xc3\xa0 %s %d", hour, m)
	                  : snprintf(out, len, "\xc3\xa0 %s", hour));
}

/* "a las 14 y 5", "a la una", "a las 9 en punto": one o'clock is singular
 * and feminine ("la una"); the full hour is "en punto". */
static int time_es(int h, int m, char *out, size_t len)
{
	const char *at = h == 1 ? "a la una" : "a las";

	if (h == 1)
		return say(len, m ? snprintf(out, len, "%s y %d", at, m)
		                  : snprintf(out, len, "%s en punto", at));
	return say(len, m ? snprintf(out, len, "%s %d y %d", at, h, m)
	                  : snprintf(out, len, "%s %d en punto", at, h));
}

/* "alle 14 e 5", "all'una", "a mezzogiorno", "a mezzanotte". */
static int time_it(int h, int m, char *out, size_t len)
{
	char hour[32];

	if (h == 0)
		snprintf(hour, sizeof(hour), "a mezzanotte");
	else if (h == 12)
		snprintf(hour, sizeof(hour), "a mezzogiorno");
	else if (h == 1)
		snprintf(hour, sizeof(hour), "all'una");
	else
		snprintf(hour, sizeof(hour), "alle %d", h);
	return say(len, m ? snprintf(out, len, "%s e %d", hour, m)
	                  : snprintf(out, len, "%s", hour));
}

/* "om 14 uur 5", "om 9 uur": the Dutch reading of "14.05 uur". */
static int time_nl(int h, int m, char *out, size_t len)
{
	return say(len, m ? snprintf(out, len, "om %d uur %d", h, m)
	                  : snprintf(out, len, "om %d uur", h));
}

/* "às 14 horas e 5", "à uma hora", "ao meio-dia", "à meia-noite": the
 * article agrees with the hour ("à uma", "às duas"). */
static int time_pt(int h, int m, char *out, size_t len)
{
	char hour[32];

	if (h == 0)
		snprintf(hour, sizeof(hour), "\xc3\xa0 meia-noite");
	else if (h == 12)
		snprintf(hour, sizeof(hour), "ao meio-dia");
	else if (h == 1)
		snprintf(hour, sizeof(hour), "\xc3\xa0 uma hora");
	else
		snprintf(hour, sizeof(hour), "\xc3\xa0s %d horas", h);
	return say(len, m ? snprintf(out, len, "%s e %d", hour, m)
	                  : snprintf(out, len, "%s", hour));
}

static const struct {
	const char *lang;
	time_say_fn *fn;
} time_rules[] = {
    {"en", time_en}, {"de", time_de}, {"fr", time_fr}, {"es", time_es},
    {"it", time_it}, {"nl", time_nl}, {"pt", time_pt},
};

int i18n_time_say(const char *lang, const struct tm *tm, char *out, size_t len)
{
	time_say_fn *fn = time_en;
	int err;

	if (!len)
		return -ENOSPC;
	lang = i18n_lang_pick(lang);
	for (size_t i = 0;
	     lang && i < sizeof(time_rules) / sizeof(time_rules[0]); i++) {
		if (!strcmp(time_rules[i].lang, lang))
			fn = time_rules[i].fn;
	}
	err = fn(tm->tm_hour % 24, tm->tm_min % 60, out, len);
	if (err)
		out[0] = '\0';
	return err;
}
