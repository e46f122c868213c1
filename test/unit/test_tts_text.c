/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Chat text to speakable text: links, emoji, controls, spacing, styling
 * markers and shortening, one table row per rule and per edge of it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tts_text.h"

struct text_case {
	const char *in;
	int max_chars;
	const char *out;
};

#define LONG 1000

static const struct text_case cases[] = {
    /* Plain text passes; spacing is collapsed and trimmed. */
    {"Press 1 to reply by chat", LONG, "Press 1 to reply by chat"},
    {"   lots    of \t  spaces  ", LONG, "lots of spaces"},
    {"", LONG, ""},
    {" \t\n ", LONG, ""},
    {"a\xc2\xa0"
     "b\xe2\x80\x83"
     "c\xe3\x80\x80"
     "d",
     LONG, "a b c d"},

    /* Line breaks end sentences, unless punctuation already does. */
    {"line one\nline two", LONG, "line one. line two"},
    {"ok!\nnext", LONG, "ok! next"},
    {"a,\r\nb", LONG, "a, b"},
    {"(see above)\nthen", LONG, "(see above). then"},
    {"one\n\n\n two", LONG, "one. two"},
    {"end\n", LONG, "end"},
    {"a\xe2\x80\xa8"
     "b",
     LONG, "a. b"}, /* U+2028 */

    /* Links become their host. */
    {"See https://www.Example.org/path?x=1.", LONG,
     "See a link to example.org."},
    {"http://example.org", LONG, "a link to example.org"},
    {"HTTPS://EXAMPLE.ORG/", LONG, "a link to example.org"},
    {"www.foo.bar/baz, ok", LONG, "a link to foo.bar, ok"},
    {"(http://user:pw@host.example.com:8080/a_(b))", LONG,
     "(a link to host.example.com)"},
    {"https://en.wikipedia.org/wiki/Foo_(bar).", LONG,
     "a link to en.wikipedia.org."},
    {"look: https://a.example/x?y#z!", LONG, "look: a link to a.example!"},
    {"two https://a.org and http://b.org", LONG,
     "two a link to a.org and a link to b.org"},
    {"http://", LONG, "a link"},
    {"https://[::1]/x", LONG, "a link"},
    {"*https://x.org*", LONG, "a link to x.org"},
    {"xhttp://a.b", LONG, "xhttp://a.b"}, /* not at a word start */
    {"www.", LONG, "www."},
    {"http://www.", LONG, "a link to www."},

    /* Common emoji are named, a run of one once; others are dropped. */
    {"Thanks \xf0\x9f\x91\x8d", LONG, "Thanks thumbs up"},
    {"\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d", LONG, "thumbs up"},
    {"\xf0\x9f\x91\x8d \xf0\x9f\x91\x8d", LONG, "thumbs up"},
    {"\xe2\x9d\xa4\xef\xb8\x8f you \xf0\x9f\x99\x82", LONG,
     "heart you smiley"}, /* U+2764 U+FE0F */
    {"\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd ok", LONG, "thumbs up ok"}, /* tone */
    {"\xf0\x9f\x98\x82\xf0\x9f\x98\x89", LONG, "laughing wink"},
    {"party \xf0\x9f\x8e\x89\xf0\x9f\x8e\x89 time", LONG, "party time"},
    {"hi\xf0\x9f\x8e\x89there", LONG, "hi there"},
    {"\xf0\x9f\x87\xab\xf0\x9f\x87\xb7 flag", LONG, "flag"}, /* FR */
    {"\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91"
     "\xa7 family",
     LONG, "family"}, /* ZWJ sequence */
    {"done \xe2\x9c\x85 \xe2\x9c\x94", LONG, "done"},
    {"1\xef\xb8\x8f\xe2\x83\xa3", LONG, "1"}, /* keycap one */
    {"a\xee\x80\x80z", LONG, "a z"},          /* private use */

    /* Controls, invisible formatting and invalid UTF-8 vanish. */
    {"a\x01"
     "b\x7f"
     "c\x1b[31m",
     LONG, "abc[31m"},
    {"a\xc2\x85"
     "b",
     LONG, "a. b"}, /* NEL is a line break */
    {"a\xc2\x9b"
     "b",
     LONG, "ab"}, /* C1 CSI */
    {"zero\xe2\x80\x8bwidth", LONG, "zerowidth"},
    {"\xe2\x80\xae"
     "evil\xe2\x80\xac",
     LONG, "evil"},                       /* bidi override */
    {"\xef\xbb\xbfhello", LONG, "hello"}, /* BOM */
    {"bad \xff\xfe utf8", LONG, "bad utf8"},
    {"over\xc0\xaflong", LONG, "overlong"},
    {"sur\xed\xa0\x80rogate", LONG, "surrogate"},
    {"cut \xe2\x82", LONG, "cut"},

    /* Accented Latin letters lose their accents; other scripts stay. */
    {"Jos\xc3\xa9 M\xc3\xbcller, Stra\xc3\x9f"
     "e",
     LONG, "Jose Muller, Strasse"},
    {"\xc3\x86sir \xc5\x93uvre 2\xc3\x97"
     "3",
     LONG,
     "Aesir oeuvre 2\xc3\x97"
     "3"},
    {"\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", LONG,
     "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"},

    /* Styling markers at word edges go; inside words they stay. */
    {"*bold* _it_ ~s~ `code`", LONG, "bold it s code"},
    {"**really** __sure__", LONG, "really sure"},
    {"```\nblock\n```", LONG, "block"},
    {"snake_case 2*3", LONG, "snake_case 2*3"},
    {"* item one\n* item two", LONG, "item one. item two"},
    {"(*aside*)", LONG, "(aside)"},

    /* Quote markers at line starts go; a comparison stays. */
    {"> quoted\n>> nested\n> > deep", LONG, "quoted. nested. deep"},
    {">5 people", LONG, ">5 people"},
    {"a > b", LONG, "a > b"},

    /* Punctuation runs. */
    {"Wait!!!! What?!?! Hmm..... ok..", LONG, "Wait! What? Hmm... ok..."},
    {"-----\n=====\na -- b", LONG, "a -- b"},
    {"hello-----world", LONG, "hello world"},
    {"#### Title ####", LONG, "Title"},
    {"a ~~~~ b", LONG, "a b"},
    {"#1 ok", LONG, "#1 ok"},

    /* Words past TTS_TEXT_WORD_MAX characters are cut. */
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaa end",
     LONG,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa end"},

    /* Shortening: at a word boundary, by characters, saying so. */
    {"Hello there, how are you", 15, "Hello there ... message shortened."},
    {"Hello there, how are you", 12, "Hello there ... message shortened."},
    {"Hello there, how are you", 11, "Hello there ... message shortened."},
    {"Hello there, how are you", 10, "Hello ... message shortened."},
    {"Hello there, how are you", 24, "Hello there, how are you"},
    {"Hello there, how are you", 23,
     "Hello there, how are ... message "
     "shortened."},
    {"Supercalifragilistic", 5, "Super ... message shortened."},
    {"ab cd", 1, "a ... message shortened."},
    /* Twelve characters of two bytes each: the cut counts characters. */
    {"\xc3\xa9\xc3\xa9\xc3\xa9 \xd0\xb6\xd0\xb6\xd0\xb6 \xd0\xb6\xd0\xb6", 8,
     "eee \xd0\xb6\xd0\xb6\xd0\xb6 ... message shortened."},
    {"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\xe3\x81\xae", 3,
     "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e ... message shortened."},
    /* The limit applies after links and emoji are replaced. */
    {"see https://a.example.org/very/long/path/that/is/not/spoken", 27,
     "see a link to a.example.org"},
    {"\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d", 9, "thumbs up"},
    {"\xf0\x9f\x91\x8d yes", 8, "thumbs ... message shortened."},
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct text_case *c = &cases[i];
		char *out = NULL;
		int rc = tts_text_prepare(c->in, c->max_chars, &out);

		CHECK_INT(rc, 0);
		CHECK_STR(out, c->out);
		if (!out || strcmp(out, c->out))
			fprintf(stderr, "  case %zu: \"%s\"\n", i, c->in);
		free(out);
	}
}

static void test_errors(void)
{
	char *out = (char *)"untouched";

	CHECK_INT(tts_text_prepare(NULL, 10, &out), -EINVAL);
	CHECK(out == NULL);
	CHECK_INT(tts_text_prepare("x", 10, NULL), -EINVAL);
	CHECK_INT(tts_text_prepare("x", 0, &out), -EINVAL);
	CHECK_INT(tts_text_prepare("x", -1, &out), -EINVAL);
	CHECK(out == NULL);
}

/* Every output is valid UTF-8 with no control characters, and within the
 * limit plus the notice, whatever bytes come in. */
static void test_garbage(void)
{
	unsigned int seed = 12345;
	char in[512];

	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand_r(&seed) % (sizeof(in) - 1));
		int max = 1 + rand_r(&seed) % 200;
		size_t chars = 0;
		char *out = NULL;
		bool ok = true;

		for (size_t i = 0; i < len; i++) {
			/* Mostly text and UTF-8 lead bytes, some anything. */
			int r = rand_r(&seed) % 10;

			if (r < 5)
				in[i] = (char)(' ' + rand_r(&seed) % 95);
			else if (r < 7)
				in[i] = "\xf0\x9f\x91\x8d\xe2\x80\x8b\n"
				    [rand_r(&seed) % 8];
			else
				in[i] = (char)(1 + rand_r(&seed) % 255);
		}
		in[len] = '\0';
		CHECK_INT(tts_text_prepare(in, max, &out), 0);
		if (!out)
			continue;
		for (const unsigned char *p = (const unsigned char *)out; *p;
		     p++) {
			if (*p < 0x20 || *p == 0x7f)
				ok = false;
			if ((*p & 0xc0) != 0x80)
				chars++;
		}
		CHECK(ok);
		CHECK(chars <= (size_t)max + strlen(TTS_TEXT_SHORTENED));
		CHECK(!*out || (out[0] != ' ' && out[strlen(out) - 1] != ' '));
		CHECK(!strstr(out, "  "));
		free(out);
	}
}

/* For the voices of other languages the accents stay; the rest of the
 * preparation is the same. */
static void test_letters(void)
{
	char *out = NULL;

	struct tts_text_words de = {
	    .link = "ein Link",
	    .link_to = "ein Link zu",
	    .shortened = "Nachricht gekürzt.",
	    .emoji =
	        {[TTS_EMOJI_SMILEY] = "Smiley", [TTS_EMOJI_HEART] = "Herz"},
	};

	for (int i = 0; i < TTS_EMOJI_COUNT; i++) {
		if (!de.emoji[i])
			de.emoji[i] = "?";
	}
	CHECK_INT(
	    tts_text_prepare_words("Grüße aus Köln, José! "
	                           "https://www.example.org/x \xe2\x9d\xa4",
	                           500, &de, &out),
	    0);
	CHECK_STR(out, "Grüße aus Köln, José! ein Link zu example.org Herz");
	free(out);
	CHECK_INT(
	    tts_text_prepare_words("Zu lang für diesen Anruf", 10, &de, &out),
	    0);
	CHECK_STR(out, "Zu lang ... Nachricht gekürzt.");
	free(out);
	CHECK_INT(tts_text_prepare_words("http://", 10, &de, &out), 0);
	CHECK_STR(out, "ein Link");
	free(out);
	CHECK_INT(tts_text_prepare_words("Grüße, José", 500, &tts_text_words_en,
	                                 &out),
	          0);
	CHECK_STR(out, "Grusse, Jose");
	free(out);
	CHECK_INT(tts_text_prepare_words("x", 500, NULL, &out), -EINVAL);
}

int main(void)
{
	test_letters();
	test_table();
	test_errors();
	test_garbage();
	return check_exit("test_tts_text");
}
