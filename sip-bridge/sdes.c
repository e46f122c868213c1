/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SDES-keyed SRTP (sdes.h). The a=crypto value comes from the network and
 * is read by a small bounded scanner over RFC 4568 9.1's grammar (sofia-sip
 * hands us the attribute's value, not its parts); the key is base64 of
 * exactly 30 bytes, decoded with OpenSSL. The context is two libsrtp
 * sessions, one per direction, each with an any-SSRC template (RFC 3550
 * lets a phone change SSRC; libsrtp adds a stream only after a packet
 * authenticates, so a stranger cannot grow the list).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

#include "sdes.h"

/* Base64 of SDES_KEY_LEN bytes: 40 characters, no padding. */
#define KEY_B64 40

_Static_assert(SDES_TRAILER_MAX >= 10, "the 80-bit tag fits");

static const char *const suite_names[] = {
    [SDES_AES_CM_128_HMAC_SHA1_80] = "AES_CM_128_HMAC_SHA1_80",
    [SDES_AES_CM_128_HMAC_SHA1_32] = "AES_CM_128_HMAC_SHA1_32",
};

const char *sdes_suite_name(enum sdes_suite s)
{
	return s == SDES_AES_CM_128_HMAC_SHA1_80 ||
	               s == SDES_AES_CM_128_HMAC_SHA1_32
	           ? suite_names[s]
	           : "none";
}

/* ---- the a=crypto value ---------------------------------------------------
 */

static bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_alnum(char ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z');
}

static bool is_base64(char ch)
{
	return is_alnum(ch) || ch == '+' || ch == '/' || ch == '=';
}

/* RFC 4568 9.1 key-info: VCHAR without ";". */
static bool is_info_char(char ch)
{
	return ch > 0x20 && ch < 0x7f && ch != ';';
}

static size_t span(const char *s, const char *end, bool (*ok)(char))
{
	const char *t = s;

	while (t < end && ok(*t))
		t++;
	return (size_t)(t - s);
}

static bool all_digits(const char *s, size_t n)
{
	return n > 0 && span(s, s + n, is_digit) == n;
}

/* Whether S (N bytes) begins with the literal WORD; ABNF literals are
 * case-insensitive, the session parameters' names are written in capitals
 * and compared as such by everyone. */
static bool word_is(const char *s, size_t n, const char *word)
{
	size_t w = strlen(word);

	return n >= w && strncasecmp(s, word, w) == 0;
}

/* lifetime = ["2^"] 1*(DIGIT): at least one call's packets. The longest
 * call ([sip] max_call_seconds at most 3600) is 180,000 packets; a key
 * that expires sooner would need re-keying mid-call, which the phone
 * would have to start. */
static int lifetime_check(const char *s, size_t n, const char **why)
{
	unsigned long long v = 0;
	size_t i;

	if (n > 2 && s[0] == '2' && s[1] == '^') {
		if (!all_digits(s + 2, n - 2) || n - 2 > 2) {
			*why = "key lifetime is not a number";
			return -EBADMSG;
		}
		v = strtoull(s + 2, NULL, 10);
		if (v >= 18)
			return 0;
	} else {
		if (!all_digits(s, n) || n > 19) {
			*why = "key lifetime is not a number";
			return -EBADMSG;
		}
		for (i = 0; i < n; i++)
			v = v * 10 + (unsigned)(s[i] - '0');
		if (v >= 262144)
			return 0;
	}
	*why = "key lifetime shorter than a call";
	return -ENOTSUP;
}

/* "inline:" key-salt ["|" lifetime] ["|" mki], S..END the key-info. */
static int inline_parse(const char *s, const char *end, uint8_t *key,
                        const char **why)
{
	unsigned char raw[KEY_B64 / 4 * 3 + 4];
	const char *bar;
	size_t n;
	int err;

	n = span(s, end, is_base64);
	if (n != KEY_B64 || memchr(s, '=', n)) {
		*why = n == 0 ? "key is not base64" : "key is not 30 bytes";
		return -EBADMSG;
	}
	if (EVP_DecodeBlock(raw, (const unsigned char *)s, KEY_B64) !=
	    SDES_KEY_LEN) {
		*why = "key is not base64";
		return -EBADMSG;
	}
	memcpy(key, raw, SDES_KEY_LEN);
	OPENSSL_cleanse(raw, sizeof(raw));
	s += n;
	while (s < end) {
		if (*s++ != '|') {
			*why = "key is not base64";
			return -EBADMSG;
		}
		bar = memchr(s, '|', (size_t)(end - s));
		n = (size_t)((bar ? bar : end) - s);
		if (n == 0) {
			*why = "empty key lifetime or MKI";
			return -EBADMSG;
		}
		if (memchr(s, ':', n)) {
			*why = "key has an MKI (not supported)";
			return -ENOTSUP;
		}
		err = lifetime_check(s, n, why);
		if (err)
			return err;
		s += n;
	}
	return 0;
}

/* One session parameter (S, N bytes): those that change nothing for us
 * pass, those that weaken or change SRTP are refused. */
static int session_param_check(const char *s, size_t n, const char **why)
{
	if (word_is(s, n, "KDR=")) {
		if (!all_digits(s + 4, n - 4) || n - 4 > 2) {
			*why = "KDR is not a number";
			return -EBADMSG;
		}
		if (strtoul(s + 4, NULL, 10) != 0) {
			*why = "key derivation rate not supported";
			return -ENOTSUP;
		}
		return 0;
	}
	if (word_is(s, n, "WSH=")) {
		if (!all_digits(s + 4, n - 4) || n - 4 > 5) {
			*why = "WSH is not a number";
			return -EBADMSG;
		}
		if (strtoul(s + 4, NULL, 10) < 64) {
			*why = "replay window under 64";
			return -EBADMSG;
		}
		return 0;
	}
	/* UNENCRYPTED_SRTCP touches RTCP only: its reports (E bit clear)
	 * fail our policy and are dropped, counted, while the call's RTP is
	 * unharmed; ours stay encrypted. FEC is not used. */
	if ((n == 17 && word_is(s, n, "UNENCRYPTED_SRTCP")) ||
	    word_is(s, n, "FEC_ORDER=") || word_is(s, n, "FEC_KEY="))
		return 0;
	if ((n == 16 && word_is(s, n, "UNENCRYPTED_SRTP")) ||
	    (n == 20 && word_is(s, n, "UNAUTHENTICATED_SRTP"))) {
		*why = "unencrypted or unauthenticated SRTP";
		return -ENOTSUP;
	}
	*why = "unknown session parameter";
	return -ENOTSUP;
}

int sdes_crypto_parse(const char *value, size_t len, struct sdes_crypto *out,
                      const char **why)
{
	const char *s = value, *end = value + len, *info_end;
	size_t n, i;
	int err;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	err = -EBADMSG;
	if (!value || len == 0 || len > SDES_VALUE_MAX) {
		*why = len ? "crypto attribute too long" : "empty crypto";
		goto out;
	}
	for (i = 0; i < len; i++) {
		if ((unsigned char)value[i] < 0x20 && value[i] != '\t') {
			*why = "crypto attribute holds a control character";
			goto out;
		}
	}
	/* tag = 1*9DIGIT */
	n = span(s, end, is_digit);
	if (n == 0 || n > 9) {
		*why = "crypto tag is not a number";
		goto out;
	}
	for (i = 0; i < n; i++)
		out->tag = out->tag * 10 + (uint32_t)(s[i] - '0');
	s += n;
	if (span(s, end, is_wsp) == 0) {
		*why = "crypto without a suite";
		goto out;
	}
	s += span(s, end, is_wsp);
	/* crypto-suite = 1*(ALPHA / DIGIT / "_") */
	for (n = 0; s + n < end && (is_alnum(s[n]) || s[n] == '_'); n++)
		;
	if (n == 0 || (s + n < end && !is_wsp(s[n]))) {
		*why = "crypto suite is not a token";
		goto out;
	}
	if (n == 23 &&
	    !strncasecmp(s, suite_names[SDES_AES_CM_128_HMAC_SHA1_80], n))
		out->suite = SDES_AES_CM_128_HMAC_SHA1_80;
	else if (n == 23 &&
	         !strncasecmp(s, suite_names[SDES_AES_CM_128_HMAC_SHA1_32], n))
		out->suite = SDES_AES_CM_128_HMAC_SHA1_32;
	s += n;
	n = span(s, end, is_wsp);
	s += n;
	if (n == 0 || s == end) {
		*why = "crypto without key parameters";
		goto out;
	}
	/* key-params = key-param *(";" key-param): one is all we use. */
	for (n = 0; s + n < end && !is_wsp(s[n]); n++)
		;
	info_end = s + n;
	if (memchr(s, ';', n)) {
		*why = "more than one key (not supported)";
		err = -ENOTSUP;
		goto out;
	}
	for (i = 0; i < n && s[i] != ':'; i++) {
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
			break;
	}
	if (i == 0 || i == n || s[i] != ':' ||
	    span(s + i + 1, info_end, is_info_char) !=
	        (size_t)(info_end - (s + i + 1))) {
		*why = "key parameter is not method:info";
		goto out;
	}
	if (i != 6 || strncasecmp(s, "inline", 6)) {
		*why = "key method is not inline";
		err = -ENOTSUP;
		goto out;
	}
	err = inline_parse(s + 7, info_end, out->key, why);
	if (err)
		goto out;
	s = info_end;
	/* *(1*WSP session-param), and white space at the end. */
	while (s < end) {
		s += span(s, end, is_wsp);
		if (s == end)
			break;
		for (n = 0; s + n < end && !is_wsp(s[n]); n++)
			;
		err = session_param_check(s, n, why);
		if (err)
			goto out;
		s += n;
	}
	if (out->suite == SDES_SUITE_NONE) {
		/* Checked last: a line we cannot use is still parsed whole,
		 * so that a malformed one is called malformed. */
		*why = "crypto suite not supported";
		err = -ENOTSUP;
		goto out;
	}
	err = 0;
out:
	if (err)
		sdes_crypto_clear(out);
	return err;
}

int sdes_crypto_format(char *out, size_t outlen, const struct sdes_crypto *c)
{
	char b64[KEY_B64 + 1];
	size_t need;

	if (c->suite != SDES_AES_CM_128_HMAC_SHA1_80 &&
	    c->suite != SDES_AES_CM_128_HMAC_SHA1_32)
		return -EINVAL;
	if (EVP_EncodeBlock((unsigned char *)b64, c->key, SDES_KEY_LEN) !=
	    KEY_B64)
		return -EIO;
	need = (size_t)snprintf(out, outlen, "a=crypto:%u %s inline:%s\r\n",
	                        (unsigned)c->tag, suite_names[c->suite], b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	if (need >= outlen) {
		if (outlen)
			OPENSSL_cleanse(out, outlen);
		return -ENOSPC;
	}
	return (int)need;
}

int sdes_crypto_make(struct sdes_crypto *c, uint32_t tag, enum sdes_suite suite)
{
	c->tag = tag;
	c->suite = suite;
	return RAND_bytes(c->key, SDES_KEY_LEN) == 1 ? 0 : -EIO;
}

void sdes_crypto_clear(struct sdes_crypto *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}

/* ---- the context ----------------------------------------------------------
 */

struct sdes {
	/* RTP out (the media thread's), RTCP out (the loop's: one session
	 * each, so that no two threads share one; the same master key gives
	 * both the same SRTCP keys, and only rtcp_tx ever uses them), and
	 * everything in (the loop's). */
	srtp_t tx, rtcp_tx, rx;
	enum sdes_suite suite;
	uint8_t remote_key[SDES_KEY_LEN];
	uint64_t auth, replay, other;
};

int sdes_init(void)
{
	static bool done;

	if (done)
		return 0;
	if (srtp_init() != srtp_err_status_ok)
		return -EIO;
	done = true;
	return 0;
}

static int session_new(srtp_t *out, enum sdes_suite suite, const uint8_t *key,
                       srtp_ssrc_type_t dir)
{
	srtp_policy_t p;
	uint8_t k[SDES_KEY_LEN];
	srtp_err_status_t st;

	memset(&p, 0, sizeof(p));
	if (suite == SDES_AES_CM_128_HMAC_SHA1_32)
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
	else
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
	/* RFC 4568 6.2.2: SRTCP keeps the 80-bit tag whatever the suite. */
	srtp_crypto_policy_set_rtcp_default(&p.rtcp);
	memcpy(k, key, sizeof(k));
	p.key = k;
	p.ssrc.type = dir;
	p.window_size = 128;
	st = srtp_create(out, &p);
	OPENSSL_cleanse(k, sizeof(k));
	if (st == srtp_err_status_alloc_fail)
		return -ENOMEM;
	return st == srtp_err_status_ok ? 0 : -EIO;
}

int sdes_new(struct sdes **out, const struct sdes_crypto *local,
             const struct sdes_crypto *remote)
{
	struct sdes *s;
	int err;

	*out = NULL;
	if (local->suite != remote->suite || local->suite == SDES_SUITE_NONE)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->suite = local->suite;
	err = session_new(&s->tx, s->suite, local->key, ssrc_any_outbound);
	if (!err)
		err = session_new(&s->rtcp_tx, s->suite, local->key,
		                  ssrc_any_outbound);
	if (!err)
		err = sdes_rekey_remote(s, remote);
	if (err) {
		sdes_free(s);
		return err;
	}
	*out = s;
	return 0;
}

int sdes_rekey_remote(struct sdes *s, const struct sdes_crypto *remote)
{
	srtp_t rx;
	int err;

	if (remote->suite != s->suite)
		return -EINVAL;
	err = session_new(&rx, s->suite, remote->key, ssrc_any_inbound);
	if (err)
		return err;
	if (s->rx)
		srtp_dealloc(s->rx);
	s->rx = rx;
	memcpy(s->remote_key, remote->key, SDES_KEY_LEN);
	return 0;
}

bool sdes_remote_is(const struct sdes *s, const struct sdes_crypto *remote)
{
	return remote->suite == s->suite &&
	       CRYPTO_memcmp(remote->key, s->remote_key, SDES_KEY_LEN) == 0;
}

enum sdes_suite sdes_suite(const struct sdes *s)
{
	return s->suite;
}

int sdes_protect(struct sdes *s, uint8_t *pkt, size_t *len, size_t cap)
{
	int n = (int)*len;

	if (*len < 12 || cap < *len + SDES_TRAILER_MAX)
		return -EINVAL;
	if (srtp_protect(s->tx, pkt, &n) != srtp_err_status_ok)
		return -EIO;
	*len = (size_t)n;
	return 0;
}

int sdes_protect_rtcp(struct sdes *s, uint8_t *pkt, size_t *len, size_t cap)
{
	int n = (int)*len;

	if (*len < 8 || cap < *len + SDES_TRAILER_MAX)
		return -EINVAL;
	if (srtp_protect_rtcp(s->rtcp_tx, pkt, &n) != srtp_err_status_ok)
		return -EIO;
	*len = (size_t)n;
	return 0;
}

/* What libsrtp said of a received packet, counted when COUNT (RTP's; rtp.c
 * counts RTCP's). */
static int unprotected(struct sdes *s, srtp_err_status_t st, bool count)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
		s->auth += count;
		return -EACCES;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		s->replay += count;
		return -EALREADY;
	default:
		s->other += count;
		return -EBADMSG;
	}
}

int sdes_unprotect_rtcp(struct sdes *s, uint8_t *pkt, size_t *len)
{
	int n = (int)*len, err;

	/* A header, the sender's SSRC, the E bit and index, and a tag. */
	if (*len < 8 + 4 + 4 || *len > 65535)
		return -EBADMSG;
	err = unprotected(s, srtp_unprotect_rtcp(s->rx, pkt, &n), false);
	if (!err)
		*len = (size_t)n;
	return err;
}

int sdes_unprotect(struct sdes *s, uint8_t *pkt, size_t *len)
{
	int n = (int)*len, err;

	if (*len < 12 || *len > 65535) {
		s->other++;
		return -EBADMSG;
	}
	err = unprotected(s, srtp_unprotect(s->rx, pkt, &n), true);
	if (!err)
		*len = (size_t)n;
	return err;
}

void sdes_counts(const struct sdes *s, uint64_t *auth, uint64_t *replay,
                 uint64_t *other)
{
	*auth = s->auth;
	*replay = s->replay;
	*other = s->other;
}

void sdes_free(struct sdes *s)
{
	if (!s)
		return;
	if (s->tx)
		srtp_dealloc(s->tx);
	if (s->rtcp_tx)
		srtp_dealloc(s->rtcp_tx);
	if (s->rx)
		srtp_dealloc(s->rx);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}
