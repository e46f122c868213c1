/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Keys sent as SIP INFO bodies (the legacy usage of RFC 6086, without an
 * Info Package): `application/dtmf-relay` (Cisco's `Signal=` and
 * `Duration=` lines) and `application/dtmf` (the key alone; linphone's
 * default). A pure parser, unit-tested; ua.c answers the INFO and call_menu.c
 * merges the key into the call's one key stream (dtmf/).
 */
#ifndef RB_SIP_INFO_H
#define RB_SIP_INFO_H

#include <stddef.h>

/* The longest INFO body read; a dtmf-relay body is about 25 bytes. */
#define INFO_BODY_MAX 256

/*
 * Reads the key in an INFO body of LEN bytes whose Content-Type is
 * CTYPE ("type/subtype", no parameters; NULL when there is none). Returns
 * 0 with *KEY one of DTMF_KEYS and *DURATION_MS (0 when not given);
 * -ENODATA for an empty body without a type (a keep-alive: answer 200);
 * -EMSGSIZE over INFO_BODY_MAX (413); -EPROTONOSUPPORT for another type
 * (415); -EBADMSG for a body of these types that holds no valid key (400).
 */
int info_dtmf_parse(const char *ctype, const char *body, size_t len, char *key,
                    int *duration_ms);

#endif
