/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0106 JID escaping, and the gateway addresses built on it
 * (ARCHITECTURE.md "How messages to offline users are caught"): the
 * localpart of an address at the component's domain names either a user,
 * "bob" or "bob\40example.org", or a number to dial, "+15551234567".
 */
#ifndef RB_JID_ESCAPE_H
#define RB_JID_ESCAPE_H

#include <stddef.h>

#include "config.h"
#include "phone.h"

/* RFC 7622: a localpart or domainpart is at most 1023 bytes. */
#define JIDESC_PART_MAX 1023
/* A bare JID "local@domain" with its terminating NUL. */
#define JIDESC_BARE_MAX (2 * JIDESC_PART_MAX + 2)

/*
 * Unescapes the localpart LOCAL into OUT (OUTLEN bytes): exactly the ten
 * sequences \20 \22 \26 \27 \2f \3a \3c \3e \40 \5c, lowercase hex only, in
 * one pass ("\5c27" gives "\27", not "'"); every other backslash stays.
 * Returns 0, -EINVAL for an empty LOCAL or one that starts or ends with
 * \20 (XEP-0106 forbids it), -ENOSPC when OUT is too small.
 */
int jidesc_unescape(const char *local, char *out, size_t outlen);

/*
 * Escapes IN (a user-visible name such as "d'artagnan" or "bob@example.org")
 * into a localpart in OUT: space " & ' / : < > @ become \20 \22 ...; a
 * backslash becomes \5c only where it is followed by one of the ten escape
 * sequences (XEP-0106 section 4.1 rule 7), so "c:\net" gives "c\3a\net".
 * Returns 0, -EINVAL for an empty IN, a leading or trailing space or a
 * control character, -ENAMETOOLONG when the result would exceed
 * JIDESC_PART_MAX bytes, -ENOSPC when OUT is too small.
 */
int jidesc_escape(const char *in, char *out, size_t outlen);

enum jidesc_kind {
	JIDESC_USER = 1,   /* a user of one of [xmpp] user_domains */
	JIDESC_NUMBER = 2, /* direct dialling: the caller checks the policy */
};

struct jidesc_target {
	enum jidesc_kind kind;
	char jid[JIDESC_BARE_MAX]; /* JIDESC_USER: bare JID, lowercase ASCII */
	char number[PHONE_MAX];    /* JIDESC_NUMBER: canonical E.164 */
};

/*
 * Parses LOCAL, the localpart of an address at the component's domain:
 * - "+15551234567" (anything starting with "+", through phone_normalise()):
 *   JIDESC_NUMBER;
 * - "bob": JIDESC_USER bob@<first of user_domains>;
 * - "bob\40example.org": JIDESC_USER bob@example.org; the text after the
 *   last \40 must be one of user_domains (else -EPERM), the text before it
 *   is the user's localpart as it is on the wire, so "d\27artagnan\40x.org"
 *   is the user d\27artagnan@x.org.
 * Returns 0 and fills OUT, -EPERM for a domain that is not served, -EINVAL
 * for anything else that is not a plausible address.
 */
int jidesc_gateway_parse(const char *local, const struct config *cfg,
                         struct jidesc_target *out);

#endif
