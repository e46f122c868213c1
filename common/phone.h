/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Destinations a user may register: an E.164 number ("+15551234567", spaces,
 * dots, dashes and parentheses accepted on input and removed) or a sip:/sips:
 * URI. Normalisation returns the canonical form stored in the queue and used
 * in dial strings, so nothing unchecked ever reaches the SIP side.
 */
#ifndef RB_PHONE_H
#define RB_PHONE_H

#include <stdbool.h>
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
 * string); KIND and WHY may be NULL.
 *
 * E.164: "+" or "00", then 7 to 15 digits, the first not 0 (7 is the
 * shortest number in service: Niue, Saint Helena); spaces, dots, dashes and
 * balanced parentheses are dropped, "(0)" is refused. Canonical: "+" digits.
 * SIP: "sip:" or "sips:", a user part of letters, digits and "- _ . ~ +"
 * (%-escapes of those are decoded), "@", a domain, IPv4 or [IPv6] host, an
 * optional port and an optional ";transport=udp|tcp|tls"; nothing else.
 * Canonical: lowercase scheme, host and transport, user part as given.
 */
int phone_normalise(const char *in, char *out, size_t outlen,
                    enum phone_kind *kind, const char **why);

/*
 * The host part of a canonical sip:/sips: URI, copied into OUT: a lowercase
 * domain, a dotted IPv4 address or a bracketed IPv6 address ("[2001:db8::1]").
 * Returns 0, -EINVAL when URI does not parse, -ENOSPC when OUT is too small.
 */
int phone_sip_domain(const char *uri, char *out, size_t outlen);

/*
 * True when NAME is a DNS host name: dot-separated labels of letters, digits
 * and inner hyphens, each at most 63 bytes, 253 in all, no trailing dot, and
 * a last label that is not all digits. Internationalised names are written
 * in their xn-- form.
 */
bool phone_domain_valid(const char *name);

/* True when HOST is a domain name, a dotted IPv4 or a bracketed IPv6. */
bool phone_host_valid(const char *host);

/*
 * Checks a SIP URI that names a server rather than a callee ([sip] listen,
 * outbound_proxy, [presence] server): sip:/sips:, an optional user part
 * (none when LISTEN), host, optional port, and only the ;transport= (and,
 * unless LISTEN, ;lr) parameters. LISTEN also allows the host "*" (all
 * interfaces). Returns 0 or -EINVAL with a static reason in *WHY.
 */
int phone_sip_server_check(const char *uri, bool listen, const char **why);

#endif
