/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The texts a call speaks. Fixed phrases are rendered once at start-up and
 * cached; the variable prompt is composed here from the job's snapshot:
 * "At 2:05 PM you have a message from Alice Smith. Alice says: ...", then
 * "Alice also wrote: ..." for each later message. With the voicemail gate
 * the announcement ("At 2:05 PM ... Alice Smith.") is a prompt of its own,
 * spoken before "Press any key", and the messages follow only after a key.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "i18n.h"
#include "prompts.h"
#include "tts_text.h"
#include "tz.h"

/* The English texts, which are also the catalogs' message ids
 * (po/ringbridge.pot is made from the N_() marks); prompt_text() looks up the
 * call's language. */
static const char *const fixed[PROMPT_COUNT] = {
    [PROMPT_GREETING] = N_("Hello, this is ringbridge."),
    [PROMPT_MENU] = N_("Press 1 to reply by chat, 2 if you will call back, 3 "
                       "if you will get back later, 7 to record a voice "
                       "reply, 0 to hear it again."),
    [PROMPT_CONFIRM_1] =
        N_("Thank you. They will know you will reply by chat."),
    [PROMPT_CONFIRM_2] = N_("Thank you. They will know you will call back."),
    [PROMPT_CONFIRM_3] =
        N_("Thank you. They will know you will get back to them later."),
    [PROMPT_RECORD] =
        N_("Record your reply after the tone. Press 8 when done."),
    [PROMPT_REPLY_SENT] = N_("Your reply was sent. Goodbye."),
    [PROMPT_NO_REPLY] = N_("Nothing was recorded. Goodbye."),
    [PROMPT_GOODBYE] = N_("Goodbye."),
    [PROMPT_GATE] = N_("Press any key to hear it."),
    /* Its own phrase after the menu, so the menu's translations stand. */
    [PROMPT_MENU_9] = N_("Press 9 for no more calls from them today."),
    [PROMPT_CONFIRM_9] =
        N_("Thank you. You will get no more calls from them today."),
};

const char *prompt_text(const char *lang, enum prompt_id id)
{
	return (unsigned)id < PROMPT_COUNT ? i18n_text(lang, fixed[id]) : "";
}

const char *const *prompt_fixed_all(size_t *count)
{
	*count = PROMPT_COUNT;
	return fixed;
}

/* The words a message's text gets from tts_text (links, emoji, the
 * shortening) in LANG; the English ones are tts_text_words_en's. */
static void text_words(const char *lang, struct tts_text_words *w)
{
	static const char *const emoji[TTS_EMOJI_COUNT] = {
	    [TTS_EMOJI_SMILEY] = N_("smiley"),
	    [TTS_EMOJI_SAD] = N_("sad face"),
	    [TTS_EMOJI_HEART] = N_("heart"),
	    [TTS_EMOJI_THUMBS_UP] = N_("thumbs up"),
	    [TTS_EMOJI_THUMBS_DOWN] = N_("thumbs down"),
	    [TTS_EMOJI_LAUGHING] = N_("laughing"),
	    [TTS_EMOJI_WINK] = N_("wink"),
	    [TTS_EMOJI_CRYING] = N_("crying"),
	};

	/* English is spoken by flite, which needs bare letters; the other
	 * voices need the accents. */
	w->bare_letters = !strcmp(lang ? lang : I18N_DEFAULT, I18N_DEFAULT);
	/* TRANSLATORS: a link in a message, read instead of its address
	 * when it has no host name. */
	w->link = i18n_text(lang, N_("a link"));
	/* TRANSLATORS: read before a link's host name ("a link to
	 * example.org"). */
	w->link_to = i18n_text(lang, N_("a link to"));
	/* TRANSLATORS: after a message cut at [tts] max_chars. */
	w->shortened = i18n_text(lang, N_("message shortened."));
	for (int i = 0; i < TTS_EMOJI_COUNT; i++)
		w->emoji[i] = i18n_text(lang, emoji[i]);
}

/* The first word of a display name, for "Alice says". */
static void first_name(const char *name, char *out, size_t outlen)
{
	size_t i = 0;

	while (name[i] && name[i] != ' ' && i + 1 < outlen) {
		out[i] = name[i];
		i++;
	}
	out[i] = '\0';
}

/* The full stop a sentence needs, unless it ends with its own mark. */
static const char *stop(const char *text)
{
	size_t n = strlen(text);

	return n && strchr(".!?", text[n - 1]) ? "" : ".";
}

struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL,
		              b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap : 256) * 2 + (size_t)n;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = true;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* Appends TEMPLATE translated into the job's language with its
 * placeholders filled, then a space. */
static void sb_say(struct sbuf *b, const char *lang, const char *template,
                   const char *const *names, const char *const *values,
                   size_t n)
{
	char *s = NULL;

	if (b->oom)
		return;
	if (i18n_expand(i18n_text(lang, template), names, values, n, &s)) {
		b->oom = true;
		return;
	}
	/* A sentence that starts with the time ("at 2:05 PM you ...") gets its
	 * capital; the voices do not need one, the logs read better. */
	if (s[0] >= 'a' && s[0] <= 'z')
		s[0] = (char)(s[0] - 'a' + 'A');
	sb_add(b, "%s ", s);
	free(s);
}

/* "At 2:05 PM you have a message from Alice Smith. ", from the first
 * message's received time in the callee's zone, said in the callee's
 * language (i18n_time_say). */
static void announce_add(struct sbuf *b, const struct queue_job *job,
                         const char *lang, const struct queue_job_message *m,
                         const char *name)
{
	static const char *const names[] = {"time", "sender"};
	struct tm tm;
	time_t t = (time_t)(m->received_ms / 1000);
	char when[64];
	const char *values[] = {when, name};

	if (tz_local_time(job->tz, t, &tm) ||
	    i18n_time_say(lang, &tm, when, sizeof(when)))
		snprintf(when, sizeof(when), "%s",
		         i18n_text(lang, N_("at an unknown time")));
	/* TRANSLATORS: {time} is the time with its preposition, as
	 * i18n_time_say() says it in your language ("at 2:05 PM", "um 14 Uhr
	 * 5"); {sender} the sender's display name. */
	sb_say(b, lang, N_("{time} you have a message from {sender}."), names,
	       values, 2);
}

static const char *sender_name(const struct queue_job *job, const char *lang)
{
	return job->sender_name && *job->sender_name
	           ? job->sender_name
	           /* TRANSLATORS: one word, standing for a sender without
	            * a name both after "from" and before "says". */
	           : i18n_text(lang, N_("someone"));
}

int prompt_announce(const struct queue_job *job, const char *lang, char **out)
{
	struct sbuf b = {0};

	if (job->n_messages == 0)
		return -ENODATA;
	announce_add(&b, job, lang, &job->messages[0], sender_name(job, lang));
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}

/* "Alice says: TEXT." or "Alice also wrote: TEXT.", the body prepared for
 * speech, a full stop added unless it ends with its own mark. */
static void body_add(struct sbuf *b, const char *lang, const char *template,
                     const char *first, const char *text)
{
	static const char *const names[] = {"name", "text"};
	const char *body = *text ? text : i18n_text(lang, N_("nothing"));
	size_t len = strlen(body) + 2;
	char *said = malloc(len);
	const char *values[] = {first, said};

	if (!said) {
		b->oom = true;
		return;
	}
	snprintf(said, len, "%s%s", body, stop(body));
	sb_say(b, lang, template, names, values, 2);
	free(said);
}

int prompt_messages(const struct queue_job *job, const char *lang,
                    int after_seq, int max_chars, bool announce, char **out)
{
	static const char *const names[] = {"name"};
	struct sbuf b = {0};
	const char *name = sender_name(job, lang);
	struct tts_text_words words;
	char first[128];
	const char *values[] = {first};
	size_t i;
	bool any = false;

	first_name(name, first, sizeof(first));
	text_words(lang, &words);
	for (i = 0; i < job->n_messages; i++) {
		const struct queue_job_message *m = &job->messages[i];
		char *text = NULL;

		if (m->seq <= after_seq)
			continue;
		if (!m->encrypted &&
		    tts_text_prepare_words(m->body ? m->body : "", max_chars,
		                           &words, &text)) {
			free(b.s);
			return -ENOMEM;
		}
		if (!any && after_seq == 0) {
			if (announce)
				announce_add(&b, job, lang, m, name);
			if (m->encrypted)
				sb_say(&b, lang,
				       N_("{name} sent you an encrypted "
				          "message."),
				       names, values, 1);
			else
				body_add(&b, lang, N_("{name} says: {text}"),
				         first, text);
		} else if (m->encrypted) {
			sb_say(&b, lang,
			       N_("{name} also sent an encrypted message."),
			       names, values, 1);
		} else {
			body_add(&b, lang, N_("{name} also wrote: {text}"),
			         first, text);
		}
		free(text);
		any = true;
	}
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	if (!any) {
		free(b.s);
		return -ENODATA;
	}
	*out = b.s;
	return 0;
}

int prompt_verify(const char *lang, const char *code, char **out)
{
	static const char *const names[] = {"code"};
	struct sbuf b = {0};
	char digits[128];
	const char *values[] = {digits};
	size_t i, o = 0;

	/* "1, 2, 3": the commas make the voice pause after each digit, so
	 * the code is read slowly enough to be written down. */
	for (i = 0; code[i] && o + 4 < sizeof(digits); i++) {
		if (code[i] < '0' || code[i] > '9')
			continue;
		if (o) {
			digits[o++] = ',';
			digits[o++] = ' ';
		}
		digits[o++] = code[i];
	}
	digits[o] = '\0';
	if (!o)
		return -EINVAL;
	sb_say(&b, lang,
	       N_("Your ringbridge verification code is {code}. Again: "
	          "{code}. Goodbye."),
	       names, values, 1);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	/* The prompt is one sentence group: no trailing space. */
	if (b.len && b.s[b.len - 1] == ' ')
		b.s[--b.len] = '\0';
	*out = b.s;
	return 0;
}
