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

#include "prompts.h"
#include "tts_text.h"
#include "tz.h"

static const char *const fixed[PROMPT_COUNT] = {
    [PROMPT_GREETING] = "Hello, this is ringbridge.",
    [PROMPT_MENU] = "Press 1 to reply by chat, 2 if you will call back, 3 if "
                    "you will get back later, 7 to record a voice reply, 0 "
                    "to hear it again.",
    [PROMPT_CONFIRM_1] = "Thank you. They will know you will reply by chat.",
    [PROMPT_CONFIRM_2] = "Thank you. They will know you will call back.",
    [PROMPT_CONFIRM_3] =
        "Thank you. They will know you will get back to them later.",
    [PROMPT_RECORD] = "Record your reply after the tone. Press 8 when done.",
    [PROMPT_REPLY_SENT] = "Your reply was sent. Goodbye.",
    [PROMPT_NO_REPLY] = "Nothing was recorded. Goodbye.",
    [PROMPT_GOODBYE] = "Goodbye.",
    [PROMPT_GATE] = "Press any key to hear it.",
};

const char *prompt_text(enum prompt_id id)
{
	return (unsigned)id < PROMPT_COUNT ? fixed[id] : "";
}

const char *const *prompt_fixed_all(size_t *count)
{
	*count = PROMPT_COUNT;
	return fixed;
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

/* "At 2:05 PM you have a message from Alice Smith. ", from the first
 * message's received time in the callee's zone. */
static void announce_add(struct sbuf *b, const struct queue_job *job,
                         const struct queue_job_message *m, const char *name)
{
	struct tm tm;
	time_t t = (time_t)(m->received_ms / 1000);
	char when[32];

	if (tz_local_time(job->tz, t, &tm) ||
	    !strftime(when, sizeof(when), "%I:%M %p", &tm))
		snprintf(when, sizeof(when), "an unknown time");
	/* "02:05 PM" is read "oh two"; drop the zero. */
	sb_add(b, "At %s you have a message from %s. ",
	       when[0] == '0' ? when + 1 : when, name);
}

static const char *sender_name(const struct queue_job *job)
{
	return job->sender_name && *job->sender_name ? job->sender_name
	                                             : "someone";
}

int prompt_announce(const struct queue_job *job, char **out)
{
	struct sbuf b = {0};

	if (job->n_messages == 0)
		return -ENODATA;
	announce_add(&b, job, &job->messages[0], sender_name(job));
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}

int prompt_messages(const struct queue_job *job, int after_seq, int max_chars,
                    bool announce, char **out)
{
	struct sbuf b = {0};
	const char *name = sender_name(job);
	char first[128];
	size_t i;
	bool any = false;

	first_name(name, first, sizeof(first));
	for (i = 0; i < job->n_messages; i++) {
		const struct queue_job_message *m = &job->messages[i];
		char *text = NULL;

		if (m->seq <= after_seq)
			continue;
		if (!m->encrypted && tts_text_prepare(m->body ? m->body : "",
		                                      max_chars, &text)) {
			free(b.s);
			return -ENOMEM;
		}
		if (!any && after_seq == 0) {
			if (announce)
				announce_add(&b, job, m, name);
			if (m->encrypted)
				sb_add(&b, "%s sent you an encrypted message. ",
				       first);
			else
				sb_add(&b, "%s says: %s%s ", first,
				       *text ? text : "nothing",
				       stop(*text ? text : "nothing"));
		} else if (m->encrypted) {
			sb_add(&b, "%s also sent an encrypted message. ",
			       first);
		} else {
			sb_add(&b, "%s also wrote: %s%s ", first,
			       *text ? text : "nothing",
			       stop(*text ? text : "nothing"));
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

int prompt_verify(const char *code, char **out)
{
	struct sbuf b = {0};
	char digits[128];
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
	sb_add(&b,
	       "Your ringbridge verification code is %s. Again: %s. "
	       "Goodbye.",
	       digits, digits);
	if (b.oom) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}
