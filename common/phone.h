/*
 * Destinations a user may register: an E.164 number ("+15551234567", spaces,
 * dots, dashes and parentheses accepted on input and removed) or a sip:/sips:
 * URI. Normalisation returns the canonical form stored in the queue and used
 * in dial strings, so nothing unchecked ever reaches the SIP side.
 */
#ifndef RB_PHONE_H
#define RB_PHONE_H

#include <stddef.h>

enum phone_kind {
	PHONE_E164 = 1,
	PHONE_SIP = 2,
};

/* The longest canonical destination accepted, in bytes. */
#define PHONE_MAX 256

/*
 * Normalises IN into OUT (OUTLEN bytes, at least PHONE_MAX). Returns 0 and
 * sets *KIND, or -EINVAL with a short reason for the user in *WHY (a static
 * string).
 */
int phone_normalise(const char *in, char *out, size_t outlen,
		    enum phone_kind *kind, const char **why);

/* The host part of a canonical sip:/sips: URI, copied into OUT. */
int phone_sip_domain(const char *uri, char *out, size_t outlen);

#endif
