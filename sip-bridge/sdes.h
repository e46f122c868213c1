/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SRTP for a call's media, keyed by SDES (RFC 4568 a=crypto lines in the
 * SDP): the parser and writer of one a=crypto value, our keys (OpenSSL's
 * RAND_bytes), and a protect/unprotect context over Debian's libsrtp2.
 * Only AES_CM_128_HMAC_SHA1_80 and _32 with one inline key and no MKI:
 * what Asterisk, FreeSWITCH and baresip offer by default.
 *
 * Threads: a context holds three libsrtp sessions, RTP out, RTCP out and
 * everything in, so that the media clock's thread (sdes_protect) and the
 * loop (sdes_protect_rtcp, the unprotects, sdes_rekey_remote) never share
 * one.
 */
#ifndef RB_SIP_SDES_H
#define RB_SIP_SDES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sdes_suite {
	SDES_SUITE_NONE = 0,
	SDES_AES_CM_128_HMAC_SHA1_80,
	SDES_AES_CM_128_HMAC_SHA1_32,
};

/* A master key (16 bytes) and salt (14) of the AES_CM_128 suites. */
#define SDES_KEY_LEN 30
/* An a=crypto value this long is not one we can use: ours are about 70
 * characters, a line with a lifetime, an MKI and session parameters under
 * 200. */
#define SDES_VALUE_MAX 256
/* Bytes sdes_protect adds to a packet (the 80-bit tag), or
 * sdes_protect_rtcp (the tag and SRTCP's 4-byte E bit and index). */
#define SDES_TRAILER_MAX 16

/* One parsed a=crypto line. The key is secret: never logged. */
struct sdes_crypto {
	uint32_t tag; /* 1..999999999 */
	enum sdes_suite suite;
	uint8_t key[SDES_KEY_LEN];
};

/*
 * Parses LEN bytes of one a=crypto value (what follows "a=crypto:").
 * 0; -EBADMSG when it is not RFC 4568's grammar; -ENOTSUP when it is
 * well formed but not usable here (another suite or key method, an MKI,
 * more than one key, a key derivation rate, unencrypted or
 * unauthenticated SRTP, an unknown session parameter). *WHY says which
 * (a static string). *OUT is cleared unless 0 is returned.
 */
int sdes_crypto_parse(const char *value, size_t len, struct sdes_crypto *out,
                      const char **why);
/* Writes "a=crypto:TAG SUITE inline:KEY\r\n" into OUT; its length or
 * -ENOSPC. */
int sdes_crypto_format(char *out, size_t outlen, const struct sdes_crypto *c);
/* A new random key for TAG and SUITE (RAND_bytes); 0 or -EIO. */
int sdes_crypto_make(struct sdes_crypto *c, uint32_t tag,
                     enum sdes_suite suite);
/* Wipes a key from memory (OPENSSL_cleanse). */
void sdes_crypto_clear(struct sdes_crypto *c);
const char *sdes_suite_name(enum sdes_suite s);

/* libsrtp's one-time set-up, before the first sdes_new; 0 or -EIO. */
int sdes_init(void);

struct sdes;

/*
 * A context that protects what we send with LOCAL's key and unprotects
 * what we receive with REMOTE's (both of one suite). 0, -EINVAL (suites
 * differ), -ENOMEM or -EIO; the caller owns *OUT (sdes_free).
 */
int sdes_new(struct sdes **out, const struct sdes_crypto *local,
             const struct sdes_crypto *remote);
/* The received direction's new key (a re-INVITE re-keying, RFC 4568
 * 7.1.4): a fresh session and replay window. The loop only; 0 or -EIO. */
int sdes_rekey_remote(struct sdes *s, const struct sdes_crypto *remote);
/* Whether REMOTE is the key the context receives with now. */
bool sdes_remote_is(const struct sdes *s, const struct sdes_crypto *remote);
enum sdes_suite sdes_suite(const struct sdes *s);
/* Protects the RTP packet of *LEN bytes at PKT in place (CAP bytes there,
 * at least *LEN + SDES_TRAILER_MAX). The media thread only; 0 or -EIO. */
int sdes_protect(struct sdes *s, uint8_t *pkt, size_t *len, size_t cap);
/* Unprotects a received SRTP packet in place, *LEN set to the RTP
 * packet's. 0; -EACCES (authentication failed), -EALREADY (a replay),
 * -EBADMSG (otherwise refused). Each is counted (sdes_counts). */
int sdes_unprotect(struct sdes *s, uint8_t *pkt, size_t *len);
/* The same for RTCP (SRTCP, RFC 3711 3.4): the loop only. Protect adds
 * the E bit and index and the 80-bit tag (at most SDES_TRAILER_MAX);
 * unprotect's refusals are not in sdes_counts (RTP's alone). */
int sdes_protect_rtcp(struct sdes *s, uint8_t *pkt, size_t *len, size_t cap);
int sdes_unprotect_rtcp(struct sdes *s, uint8_t *pkt, size_t *len);
/* Received packets refused: failed authentication, replayed, other. */
void sdes_counts(const struct sdes *s, uint64_t *auth, uint64_t *replay,
                 uint64_t *other);
/* NULL-safe; wipes the keys. */
void sdes_free(struct sdes *s);

#endif
