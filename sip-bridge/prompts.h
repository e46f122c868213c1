/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Everything a call says, in one table whose English texts are the message
 * ids of the translators' catalogs (po/, looked up through i18n.h in the
 * job's language), and the composition of the variable prompts (time,
 * sender, texts). Pure: the caller renders the strings.
 */
#ifndef RB_SIP_PROMPTS_H
#define RB_SIP_PROMPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

enum prompt_id {
	PROMPT_GREETING = 0, /* bridges the gap when rendering is late */
	PROMPT_MENU,
	PROMPT_CONFIRM_1,
	PROMPT_CONFIRM_2,
	PROMPT_CONFIRM_3,
	PROMPT_RECORD,
	PROMPT_REPLY_SENT,
	PROMPT_NO_REPLY,
	PROMPT_GOODBYE,
	PROMPT_GATE,   /* after the announcement: "Press any key to hear it." */
	PROMPT_MENU_9, /* after the menu: key 9 */
	PROMPT_CONFIRM_9, /* key 9: the sender's calls paused until midnight */
	PROMPT_COUNT,
};

/* The fixed phrase ID in LANG (a BCP 47 tag; NULL: English), English where
 * the catalog lacks it. The string is static. */
const char *prompt_text(const char *lang, enum prompt_id id);
/* Every fixed phrase in English, in prompt_id order, for warming the cache
 * (map each through i18n_text() for another language). */
const char *const *prompt_fixed_all(size_t *count);

/*
 * The variable prompt for JOB's messages with seq > AFTER_SEQ, each body
 * prepared by tts_text_prepare with MAX_CHARS, time spoken in the job's
 * zone, everything in LANG (a catalog language, as voices_pick() gives:
 * the job's own may have no voice). ANNOUNCE: the first message (AFTER_SEQ 0)
 * opens with who wrote and when; false when the gate has said that already.
 * *OUT is malloc'ed. Returns 0, -ENODATA (no such message), -ENOMEM.
 */
int prompt_messages(const struct queue_job *job, const char *lang,
                    int after_seq, int max_chars, bool announce, char **out);
/*
 * The voicemail gate's announcement: "At 2:05 PM you have a message from
 * Alice Smith." (no body, nothing private beyond the sender's name). *OUT
 * is malloc'ed. Returns 0, -ENODATA (no message), -ENOMEM.
 */
int prompt_announce(const struct queue_job *job, const char *lang, char **out);
/* The verification code spoken twice, digit by digit, in LANG. */
int prompt_verify(const char *lang, const char *code, char **out);

#endif
