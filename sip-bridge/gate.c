/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The voicemail gate (gate.h). A voicemail box answers like a person and
 * records whatever it hears, so nothing private may be spoken before a key
 * shows that someone is listening; no SIP signal tells the two apart.
 */
#include "gate.h"

/* The prompt is played once more after the first wait, as the menu is:
 * one repeat covers a listener who missed it, and bounds what a
 * voicemail box records to two announcements. */
#define GATE_REPEATS 1

void gate_init(struct gate *g, bool on)
{
	g->state = on ? GATE_CLOSED : GATE_OFF;
	g->repeats = 0;
}

bool gate_content_allowed(const struct gate *g)
{
	return g->state == GATE_OFF || g->state == GATE_OPEN;
}

bool gate_key(struct gate *g)
{
	if (g->state != GATE_CLOSED)
		return false;
	g->state = GATE_OPEN;
	return true;
}

bool gate_timeout(struct gate *g)
{
	if (g->state != GATE_CLOSED)
		return false;
	if (g->repeats < GATE_REPEATS) {
		g->repeats++;
		return true;
	}
	g->state = GATE_UNPASSED;
	return false;
}

bool gate_unheard(const struct gate *g)
{
	return g->state == GATE_CLOSED || g->state == GATE_UNPASSED;
}
