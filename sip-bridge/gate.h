/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The voicemail gate's rules, apart from the call so that they are tested
 * alone. A call with the gate closed says only who wrote and when, then
 * "Press any key to hear it."; any digit opens it, and only an open gate
 * lets a message's text be played. No digit after the prompt and one
 * repeat: the gate gives up, and the call ends as answered, not heard.
 */
#ifndef RB_SIP_GATE_H
#define RB_SIP_GATE_H

#include <stdbool.h>

enum gate_state {
	GATE_OFF = 0,  /* [calls] gate = off, or not a message call */
	GATE_CLOSED,   /* announcing, or waiting for a digit */
	GATE_OPEN,     /* a digit came: the messages may be read */
	GATE_UNPASSED, /* no digit after the prompt and its repeat */
};

struct gate {
	enum gate_state state;
	int repeats; /* times the prompt was played again */
};

/* ON: the call is a message call and [calls] gate is on. */
void gate_init(struct gate *g, bool on);
/* Whether a message's text may be played now. */
bool gate_content_allowed(const struct gate *g);
/* A digit came. True when it opened the gate: the digit did only that. */
bool gate_key(struct gate *g);
/* No digit in the wait after the prompt. True: play the prompt again;
 * false: give up (the state is GATE_UNPASSED, or the gate was not closed). */
bool gate_timeout(struct gate *g);
/* An answered call ended without the gate opening: "answered, not heard". */
bool gate_unheard(const struct gate *g);

#endif
