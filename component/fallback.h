/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Recognises the plaintext <body> that end-to-end encrypting clients put
 * beside the ciphertext (OMEMO, OpenPGP for XMPP, legacy XEP-0027) for
 * clients that cannot decrypt. A push notification carries only the body,
 * so this text is all the component sees of an encrypted message; reading
 * it aloud ("I sent you an OMEMO encrypted message but...") would be
 * useless, so callers announce an encrypted message instead.
 */
#ifndef RB_FALLBACK_H
#define RB_FALLBACK_H

#include <stdbool.h>

/*
 * True when BODY (UTF-8, may be NULL) is one of the known fallback texts.
 * Case, curly apostrophes, runs of white space and a final full stop do not
 * matter; an ordinary message that merely mentions OMEMO does not match.
 */
bool fallback_is_encrypted_body(const char *body);

#endif
