/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The translations: the language a tag picks, catalog lookup with its
 * fallback to English (a missing language, a missing text), placeholder
 * expansion, and the time as each shipped language says it. The catalog is
 * the one built from po/, so a lost or broken translation fails here.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "i18n.h"

static void test_lang_pick(void)
{
	CHECK_STR(i18n_lang_pick(NULL), "en");
	CHECK_STR(i18n_lang_pick(""), "en");
	CHECK_STR(i18n_lang_pick("en-GB"), "en");
	CHECK_STR(i18n_lang_pick("de"), "de");
	CHECK_STR(i18n_lang_pick("de-AT"), "de");
	CHECK_STR(i18n_lang_pick("DE_ch"), "de");
	CHECK_STR(i18n_lang_pick("pt-BR"), "pt");
	CHECK(i18n_lang_pick("ja") == NULL);
	CHECK(i18n_lang_pick("x") == NULL);
	CHECK(i18n_lang_pick("deutsch") == NULL);
	CHECK(i18n_lang_pick("d3") == NULL);
}

static void test_langs(void)
{
	const char *const want[] = {"en", "de", "es", "fr", "it", "nl", "pt"};
	const char *const *langs = i18n_langs();
	size_t n = 0;

	while (langs[n])
		n++;
	CHECK_INT(n, 7);
	for (size_t i = 0; i < 7 && i < n; i++)
		CHECK_STR(langs[i], want[i]);
}

static void test_lookup(void)
{
	static const struct {
		const char *lang, *msgid, *want;
	} cases[] = {
	    {"de", "Goodbye.", "Auf Wiederhören."},
	    {"de-AT", "Press any key to hear it.",
	     "Drücken Sie eine beliebige Taste, um sie zu hören."},
	    {"fr", "Goodbye.", "Au revoir."},
	    {"fr", "{name} says: {text}", "{name} écrit : {text}"},
	    {"es", "Goodbye.", "Adiós."},
	    {"it", "Goodbye.", "Arrivederci."},
	    {"nl", "Goodbye.", "Tot ziens."},
	    {"pt", "Nothing was recorded. Goodbye.",
	     "Não foi gravado nada. Adeus."},
	    {"de", "a link to", "ein Link zu"},
	    {"fr", "heart", "cœur"},
	    /* English is the message id itself. */
	    {"en", "Goodbye.", "Goodbye."},
	    {NULL, "Goodbye.", "Goodbye."},
	    /* A language without a catalog: English. */
	    {"ja", "Goodbye.", "Goodbye."},
	    {"not a tag", "Goodbye.", "Goodbye."},
	    /* A text the catalog lacks (a phrase added after the
	     * translation): English. */
	    {"de", "A phrase no catalog has.", "A phrase no catalog has."},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK_STR(i18n_text(cases[i].lang, cases[i].msgid),
		          cases[i].want);
	CHECK(i18n_text("de", NULL) == NULL);
}

static void test_expand(void)
{
	const char *const names[] = {"name", "text"};
	const char *const values[] = {"Alice", "Hi {name}"};
	char *s = NULL;

	CHECK_INT(i18n_expand("{name} says: {text}", names, values, 2, &s), 0);
	/* A value is not expanded again. */
	CHECK_STR(s, "Alice says: Hi {name}");
	free(s);
	CHECK_INT(i18n_expand("{text} ({name})", names, values, 2, &s), 0);
	CHECK_STR(s, "Hi {name} (Alice)");
	free(s);
	CHECK_INT(i18n_expand("{{name}} {other} {", names, values, 2, &s), 0);
	CHECK_STR(s, "{name}} {other} {");
	free(s);
	CHECK_INT(i18n_expand("", NULL, NULL, 0, &s), 0);
	CHECK_STR(s, "");
	free(s);
	CHECK_INT(i18n_expand(NULL, names, values, 2, &s), -EINVAL);
}

static void test_time(void)
{
	static const struct {
		const char *lang;
		int h, m;
		const char *want;
	} cases[] = {
	    {"en", 14, 5, "at 2:05 PM"},
	    {"en", 0, 0, "at 12:00 AM"},
	    {"en", 12, 30, "at 12:30 PM"},
	    {NULL, 23, 13, "at 11:13 PM"},
	    {"de", 14, 5, "um 14 Uhr 5"},
	    {"de", 9, 0, "um 9 Uhr"},
	    {"de", 0, 30, "um 0 Uhr 30"},
	    {"fr", 14, 5, "à 14 heures 5"},
	    {"fr", 1, 0, "à une heure"},
	    {"fr", 12, 10, "à midi 10"},
	    {"fr", 0, 0, "à minuit"},
	    {"es", 14, 5, "a las 14 y 5"},
	    {"es", 1, 20, "a la una y 20"},
	    {"es", 9, 0, "a las 9 en punto"},
	    {"it", 14, 5, "alle 14 e 5"},
	    {"it", 1, 0, "all'una"},
	    {"it", 12, 15, "a mezzogiorno e 15"},
	    {"it", 0, 0, "a mezzanotte"},
	    {"nl", 14, 5, "om 14 uur 5"},
	    {"nl", 9, 0, "om 9 uur"},
	    {"pt", 14, 5, "às 14 horas e 5"},
	    {"pt", 1, 0, "à uma hora"},
	    {"pt", 12, 0, "ao meio-dia"},
	    {"pt", 0, 45, "à meia-noite e 45"},
	    /* No rule of its own (no catalog): English's. */
	    {"ja", 14, 5, "at 2:05 PM"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tm tm = {.tm_hour = cases[i].h, .tm_min = cases[i].m};

		CHECK_INT(i18n_time_say(cases[i].lang, &tm, out, sizeof(out)),
		          0);
		CHECK_STR(out, cases[i].want);
	}
	{
		struct tm tm = {.tm_hour = 14, .tm_min = 5};

		CHECK_INT(i18n_time_say("de", &tm, out, 6), -ENOSPC);
		CHECK_STR(out, "");
	}
}

int main(void)
{
	test_lang_pick();
	test_langs();
	test_lookup();
	test_expand();
	test_time();
	return check_exit("test_i18n");
}
