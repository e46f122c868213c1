/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Fallback bodies of encrypted messages, as real clients send them, and
 * ordinary messages that talk about encryption, which must be read aloud.
 */
#include "check.h"
#include "fallback.h"

static const char *const encrypted[] = {
    /* Conversations (with its typographic apostrophe) */
    "I sent you an OMEMO encrypted message but your client doesn\u2019t "
    "seem to support that. Find more information on "
    "https://conversations.im/omemo",
    "I sent you an OMEMO encrypted message but your client doesn't seem "
    "to support that. Find more information on "
    "https://conversations.im/omemo",
    /* Siskin, Monal */
    "I sent you an OMEMO encrypted message but your client doesn\u2019t "
    "seem to support that.",
    "I sent you an OMEMO encrypted message.",
    "I sent you an OMEMO encrypted message but your client does not "
    "support it.",
    /* Dino */
    "[This message is OMEMO encrypted]",
    "[This message is OMEMO encrypted.]",
    /* slixmpp-omemo and bots built on it */
    "This message is OMEMO encrypted.",
    "This message is OMEMO encrypted",
    "[This message was encrypted with OMEMO]",
    /* Profanity and others */
    "You received a message encrypted with OMEMO but your client doesn't "
    "support OMEMO.",
    /* Monal-based */
    "I sent you an encrypted message but your current version doesn\u2019t "
    "seem to support that. So please contact your administrator to "
    "update your version.",
    /* OpenPGP for XMPP */
    "[This message is *encrypted* with OpenPGP (See :XEP:`0373`]",
    "[This message is encrypted with OpenPGP for XMPP (XEP-0373/0374)]",
    "This message is encrypted with OpenPGP for XMPP.",
    "This message is encrypted using OpenPGP (signcrypt).",
    "This message is encrypted with OpenPGP (XEP-0373).",
    /* legacy OpenPGP */
    "I sent you a PGP encrypted message but your client doesn\u2019t seem "
    "to support that.",
    "[This message is *encrypted* (See :XEP:`27`]",
    "[This message is encrypted]",
    "This message is encrypted.",
    "This message is encrypted with OpenPGP.",
    "This message is encrypted using OpenPGP.",
    /* normalisation: case, white space, non-breaking spaces, dots */
    "  this   MESSAGE is\nomemo\tencrypted  ",
    "THIS\u00a0MESSAGE\u00a0IS\u00a0OMEMO\u00a0ENCRYPTED...",
    "\ufeffI sent you an OMEMO encrypted message",
};

static const char *const plain[] = {
    "",
    "Hi Bob, call me back please",
    "OMEMO",
    "Is this message OMEMO encrypted?",
    "This message is OMEMO encrypted, can you read it?",
    "I sent you an OMEMO encrypted message yesterday, did you get it?",
    "I sent you an OMEMO encrypted message but your client doesn't show "
    "it, can you check?",
    "I sent you an encrypted message but your phone was off",
    "This message is encrypted with love",
    "This message is encrypted. Just kidding, call me.",
    "Please enable OMEMO, this message is not encrypted",
    "Why is this message encrypted?",
    "[This message is OMEMO encrypted] <- that's what I see, help",
    "You received a message encrypted with OMEMO? I did not send one",
    "this message is omemo",
    "I sent you an OMEMO",
};

int main(void)
{
	char long_body[4096];

	for (size_t i = 0; i < sizeof(encrypted) / sizeof(encrypted[0]); i++) {
		if (!fallback_is_encrypted_body(encrypted[i]))
			fprintf(stderr, "not recognised: %s\n", encrypted[i]);
		CHECK(fallback_is_encrypted_body(encrypted[i]));
	}
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (fallback_is_encrypted_body(plain[i]))
			fprintf(stderr, "wrongly recognised: %s\n", plain[i]);
		CHECK(!fallback_is_encrypted_body(plain[i]));
	}
	CHECK(!fallback_is_encrypted_body(NULL));

	/* long bodies: a prefix text still matches, a whole one cannot */
	memset(long_body, 'x', sizeof(long_body) - 1);
	long_body[sizeof(long_body) - 1] = '\0';
	memcpy(long_body, "This message is encrypted", 25);
	CHECK(!fallback_is_encrypted_body(long_body));
	memcpy(long_body,
	       "I sent you an OMEMO encrypted message but your client "
	       "doesn't seem to support that. ",
	       84);
	CHECK(fallback_is_encrypted_body(long_body));
	memset(long_body, ' ', sizeof(long_body) - 1);
	CHECK(!fallback_is_encrypted_body(long_body));
	return check_exit("test_fallback");
}
