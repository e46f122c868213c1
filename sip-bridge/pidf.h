/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The presence documents the bridge speaks, built and read with libxml2:
 * PIDF (RFC 3863) with RPID activities (RFC 4480) for a user's XMPP
 * availability, mapped as RFC 8048 section 7 describes, and the dialog
 * event package's dialog-info (RFC 4235) for the user's phone. No sofia and
 * no queue here, so the unit test runs these alone.
 *
 * Input is untrusted: documents over PIDF_MAX_BYTES, deeper than
 * PIDF_MAX_DEPTH, with more than PIDF_MAX_ELEMENTS elements or
 * DIALOGINFO_MAX_DIALOGS dialogs, with a DTD (so no entity of any kind,
 * internal or external), or not well-formed are refused with -EPROTO
 * (-EMSGSIZE for size). libxml2 never touches the network (XML_PARSE_NONET).
 */
#ifndef RB_SIP_PIDF_H
#define RB_SIP_PIDF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PIDF_MAX_BYTES         (64 * 1024)
#define PIDF_MAX_DEPTH         16
#define PIDF_MAX_ELEMENTS      1024
#define DIALOGINFO_MAX_DIALOGS 64
/* A dialog id kept from dialog-info (longer ones are refused). */
#define DIALOGINFO_ID_MAX 255

/* The XMPP availability names the queue's "xmpp" rows carry. */
enum pidf_avail {
	PIDF_AVAILABLE = 0,
	PIDF_CHAT,
	PIDF_AWAY,
	PIDF_XA,
	PIDF_DND,
	PIDF_UNAVAILABLE,
};

/* "available"... from an enum; from a name, -EINVAL when unknown. */
const char *pidf_avail_name(enum pidf_avail a);
int pidf_avail_parse(const char *name, enum pidf_avail *a);

/*
 * A PIDF document for ENTITY (the SIP address, pres: or sip: URI) in
 * availability A with NOTE (may be NULL; escaped as text). *DOC (NUL
 * terminated, *LEN bytes) is the caller's, freed with free().
 */
int pidf_build(const char *entity, enum pidf_avail a, const char *note,
               char **doc, size_t *len);

/*
 * Reads a PIDF document: the first tuple's basic status and RPID
 * activities give *A (closed: unavailable; busy or on-the-phone: dnd;
 * away and the absence-like activities: away; otherwise available). *NOTE
 * is the first <note> (person's, else tuple's, else presence's) or NULL,
 * the caller's to free().
 */
int pidf_parse(const char *doc, size_t len, enum pidf_avail *a, char **note);

enum dialoginfo_state {
	DIALOGINFO_TRYING = 0,
	DIALOGINFO_PROCEEDING,
	DIALOGINFO_EARLY,
	DIALOGINFO_CONFIRMED,
	DIALOGINFO_TERMINATED,
};

struct dialoginfo_dialog {
	char id[DIALOGINFO_ID_MAX + 1];
	enum dialoginfo_state state;
};

struct dialoginfo {
	bool full; /* state="full": these are all the dialogs */
	uint32_t version;
	size_t n;
	struct dialoginfo_dialog dialogs[DIALOGINFO_MAX_DIALOGS];
};

/* Reads a dialog-info document into *DI (overwritten). */
int dialoginfo_parse(const char *doc, size_t len, struct dialoginfo *di);

#endif
