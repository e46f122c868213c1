/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for SRTP keyed by SDES (sip-bridge/sdes.c) and its SDP
 * (sdp.c): the a=crypto parser over a table of well-formed, unusable and
 * malformed values; our lines read back by our own parser; protect and
 * unprotect between two contexts with crossed keys, with tampering,
 * replays, plain RTP and a re-key; SRTCP both ways beside SRTP; the
 * offer, the pick (a=rtcp too) and the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rtcp.h"
#include "sdes.h"
#include "sdp_nego.h"

/* RFC 4568's own example key (40 base64 characters, 30 bytes). */
#define KEY  "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
#define S80  "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY
#define LONG "1 AES_CM_128_HMAC_SHA1_80 inline:" KEY " WSH=64 WSH=64 WSH=64"

static void test_parse(void)
{
	static const struct {
		const char *value;
		int err;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {S80, 0, NULL},
	    {"2 AES_CM_128_HMAC_SHA1_32 inline:" KEY, 0, NULL},
	    {"1 aes_cm_128_hmac_sha1_80 inline:" KEY, 0, NULL},
	    {"1  AES_CM_128_HMAC_SHA1_80\tinline:" KEY "  ", 0, NULL},
	    {S80 "|2^20", 0, NULL},
	    {S80 "|2^31", 0, NULL},
	    {S80 "|1048576", 0, NULL},
	    {S80 " KDR=0", 0, NULL},
	    {S80 " UNENCRYPTED_SRTCP WSH=128 FEC_ORDER=FEC_SRTP", 0, NULL},
	    {"999999999 AES_CM_128_HMAC_SHA1_80 inline:" KEY, 0, NULL},
	    /* Well formed, not usable here. */
	    {S80 "|2^20|1:32", -ENOTSUP, "key has an MKI (not supported)"},
	    {S80 "|1:4", -ENOTSUP, "key has an MKI (not supported)"},
	    {S80 "|2^10", -ENOTSUP, "key lifetime shorter than a call"},
	    {S80 "|1000", -ENOTSUP, "key lifetime shorter than a call"},
	    {S80 ";inline:" KEY, -ENOTSUP, "more than one key (not supported)"},
	    {"1 AES_256_CM_HMAC_SHA1_80 inline:" KEY, -ENOTSUP,
	     "crypto suite not supported"},
	    {"1 F8_128_HMAC_SHA1_80 inline:" KEY, -ENOTSUP,
	     "crypto suite not supported"},
	    {"1 AES_CM_128_HMAC_SHA1_80 uri:http://x/", -ENOTSUP,
	     "key method is not inline"},
	    {S80 " KDR=1", -ENOTSUP, "key derivation rate not supported"},
	    {S80 " UNENCRYPTED_SRTP", -ENOTSUP,
	     "unencrypted or unauthenticated SRTP"},
	    {S80 " UNAUTHENTICATED_SRTP", -ENOTSUP,
	     "unencrypted or unauthenticated SRTP"},
	    {S80 " FOO=1", -ENOTSUP, "unknown session parameter"},
	    {S80 " UNENCRYPTED_SRTPX", -ENOTSUP, "unknown session parameter"},
	    /* Malformed. */
	    {"", -EBADMSG, "empty crypto"},
	    {"x AES_CM_128_HMAC_SHA1_80 inline:" KEY, -EBADMSG,
	     "crypto tag is not a number"},
	    {"1234567890 AES_CM_128_HMAC_SHA1_80 inline:" KEY, -EBADMSG,
	     "crypto tag is not a number"},
	    {"1", -EBADMSG, "crypto without a suite"},
	    {"1AES_CM_128_HMAC_SHA1_80 inline:" KEY, -EBADMSG,
	     "crypto without a suite"},
	    {"1 AES-CM inline:" KEY, -EBADMSG, "crypto suite is not a token"},
	    {"1 AES_CM_128_HMAC_SHA1_80", -EBADMSG,
	     "crypto without key parameters"},
	    {"1 AES_CM_128_HMAC_SHA1_80 ", -EBADMSG,
	     "crypto without key parameters"},
	    {"1 AES_CM_128_HMAC_SHA1_80 inline", -EBADMSG,
	     "key parameter is not method:info"},
	    {"1 AES_CM_128_HMAC_SHA1_80 :" KEY, -EBADMSG,
	     "key parameter is not method:info"},
	    {"1 AES_CM_128_HMAC_SHA1_80 inline:", -EBADMSG,
	     "key is not base64"},
	    {"1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ=", -EBADMSG,
	     "key is not 30 bytes"},
	    {"1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "QQ", -EBADMSG,
	     "key is not 30 bytes"},
	    {"1 AES_CM_128_HMAC_SHA1_80 "
	     "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVB=",
	     -EBADMSG, "key is not 30 bytes"},
	    {"1 AES_CM_128_HMAC_SHA1_80 inline:" KEY "!", -EBADMSG,
	     "key is not base64"},
	    {S80 "|", -EBADMSG, "empty key lifetime or MKI"},
	    {S80 "||1:4", -EBADMSG, "empty key lifetime or MKI"},
	    {S80 "|2^x", -EBADMSG, "key lifetime is not a number"},
	    {S80 "|2^123", -EBADMSG, "key lifetime is not a number"},
	    {S80 "|12345678901234567890", -EBADMSG,
	     "key lifetime is not a number"},
	    {S80 " KDR=x", -EBADMSG, "KDR is not a number"},
	    {S80 " WSH=10", -EBADMSG, "replay window under 64"},
	    {S80 "\r", -EBADMSG, "crypto attribute holds a control character"},
	    {S80 "\n a=x", -EBADMSG,
	     "crypto attribute holds a control character"},
	    /* A well-formed line we cannot use is still checked whole. */
	    {"1 AES_256_CM_HMAC_SHA1_80 inline:x", -EBADMSG,
	     "key is not 30 bytes"},
	};
	struct sdes_crypto c;
	const char *why;
	char big[SDES_VALUE_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = sdes_crypto_parse(cases[i].value,
		                            strlen(cases[i].value), &c, &why);

		if (err != cases[i].err)
			fprintf(stderr, "case %zu: %s\n", i, cases[i].value);
		CHECK_INT(err, cases[i].err);
		if (cases[i].why)
			CHECK_STR(why, cases[i].why);
		else
			CHECK(why == NULL);
		if (err)
			CHECK(c.suite == SDES_SUITE_NONE && c.key[0] == 0);
	}
	CHECK(sdes_crypto_parse(S80, strlen(S80), &c, &why) == 0);
	CHECK(c.tag == 1 && c.suite == SDES_AES_CM_128_HMAC_SHA1_80);
	/* "PS1u" is 0x3d 0x2d 0x6e. */
	CHECK(c.key[0] == 0x3d && c.key[1] == 0x2d && c.key[2] == 0x6e);
	/* Bounded: one byte over the limit, or within the length passed. */
	memset(big, 'A', sizeof(big));
	memcpy(big, LONG, strlen(LONG));
	CHECK(sdes_crypto_parse(big, SDES_VALUE_MAX + 1, &c, &why) ==
	          -EBADMSG &&
	      !strcmp(why, "crypto attribute too long"));
	CHECK(sdes_crypto_parse(S80 "XYZ", strlen(S80), &c, &why) == 0);
}

static void test_format(void)
{
	struct sdes_crypto a, b;
	const char *why;
	char line[128];
	int n;

	CHECK(sdes_crypto_make(&a, 7, SDES_AES_CM_128_HMAC_SHA1_32) == 0);
	n = sdes_crypto_format(line, sizeof(line), &a);
	CHECK(n == (int)strlen("a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:") +
	               40 + 2);
	CHECK(!strncmp(line, "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:", 42));
	/* What we write, we read back: the same tag, suite and key. */
	CHECK(sdes_crypto_parse(line + 9, (size_t)n - 11, &b, &why) == 0);
	CHECK(b.tag == 7 && b.suite == a.suite &&
	      !memcmp(a.key, b.key, SDES_KEY_LEN));
	/* Two keys are not the same key. */
	CHECK(sdes_crypto_make(&b, 7, SDES_AES_CM_128_HMAC_SHA1_32) == 0);
	CHECK(memcmp(a.key, b.key, SDES_KEY_LEN));
	CHECK(sdes_crypto_format(line, 20, &a) == -ENOSPC);
	a.suite = SDES_SUITE_NONE;
	CHECK(sdes_crypto_format(line, sizeof(line), &a) == -EINVAL);
	sdes_crypto_clear(&b);
	CHECK(b.suite == SDES_SUITE_NONE && b.key[5] == 0);
}

/* An RTP packet of PCMU with SEQ, the payload a known pattern. */
static size_t rtp_packet(uint8_t *p, uint16_t seq)
{
	int i;

	memset(p, 0, 12);
	p[0] = 0x80;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	p[8] = 0x12; /* SSRC */
	for (i = 0; i < 160; i++)
		p[12 + i] = (uint8_t)(i * 7);
	return 172;
}

static void test_protect(enum sdes_suite suite, size_t tag_len)
{
	struct sdes_crypto ka, kb, kc;
	struct sdes *alice, *bob, *carol;
	uint8_t pkt[172 + SDES_TRAILER_MAX], plain[172], copy[sizeof(pkt)];
	uint64_t auth, replay, other;
	size_t n, sent;

	CHECK(sdes_crypto_make(&ka, 1, suite) == 0);
	CHECK(sdes_crypto_make(&kb, 1, suite) == 0);
	CHECK(sdes_new(&alice, &ka, &kb) == 0);
	CHECK(sdes_new(&bob, &kb, &ka) == 0);
	CHECK(sdes_suite(alice) == suite);
	CHECK(sdes_remote_is(bob, &ka) && !sdes_remote_is(bob, &kb));

	n = rtp_packet(pkt, 100);
	memcpy(plain, pkt, n);
	CHECK(sdes_protect(alice, pkt, &n, 172) == -EINVAL); /* no room */
	CHECK(sdes_protect(alice, pkt, &n, sizeof(pkt)) == 0);
	CHECK(n == 172 + tag_len);
	/* The header stays, the payload is not the plaintext. */
	CHECK(!memcmp(pkt, plain, 12) && memcmp(pkt + 12, plain + 12, 160));
	sent = n;
	memcpy(copy, pkt, sent);
	CHECK(sdes_unprotect(bob, pkt, &n) == 0);
	CHECK(n == 172 && !memcmp(pkt, plain, 172));
	/* The same packet again is a replay. */
	n = sent;
	memcpy(pkt, copy, sent);
	CHECK(sdes_unprotect(bob, pkt, &n) == -EALREADY);
	/* A flipped payload bit fails authentication. */
	n = rtp_packet(pkt, 101);
	CHECK(sdes_protect(alice, pkt, &n, sizeof(pkt)) == 0);
	pkt[40] ^= 1;
	CHECK(sdes_unprotect(bob, pkt, &n) == -EACCES);
	/* So does plain RTP, and a packet under a header's length. */
	n = rtp_packet(pkt, 102);
	CHECK(sdes_unprotect(bob, pkt, &n) == -EACCES);
	n = 8;
	CHECK(sdes_unprotect(bob, pkt, &n) == -EBADMSG);
	sdes_counts(bob, &auth, &replay, &other);
	CHECK(auth == 2 && replay == 1 && other == 1);

	/* Re-keying: the sender's new key (carol's), a fresh window. */
	CHECK(sdes_crypto_make(&kc, 3, suite) == 0);
	CHECK(sdes_new(&carol, &kc, &kb) == 0);
	n = rtp_packet(pkt, 200);
	CHECK(sdes_protect(carol, pkt, &n, sizeof(pkt)) == 0);
	memcpy(copy, pkt, n);
	sent = n;
	CHECK(sdes_unprotect(bob, pkt, &n) == -EACCES);
	CHECK(sdes_rekey_remote(bob, &kc) == 0);
	CHECK(sdes_remote_is(bob, &kc));
	n = sent;
	memcpy(pkt, copy, sent);
	CHECK(sdes_unprotect(bob, pkt, &n) == 0 &&
	      !memcmp(pkt + 12, plain + 12, 160));

	/* Keys of two suites do not make one context. */
	kc.suite = suite == SDES_AES_CM_128_HMAC_SHA1_80
	               ? SDES_AES_CM_128_HMAC_SHA1_32
	               : SDES_AES_CM_128_HMAC_SHA1_80;
	sdes_free(alice);
	CHECK(sdes_new(&alice, &ka, &kc) == -EINVAL);
	CHECK(alice == NULL);
	CHECK(sdes_rekey_remote(bob, &kc) == -EINVAL);
	sdes_free(bob);
	sdes_free(carol);
	sdes_free(NULL);
}

/* SRTCP (RFC 3711 3.4): our report protected by alice's RTCP session and
 * read by bob's; tampering, replays and plain RTCP refused; SRTP in the
 * same contexts goes on unharmed. */
static void test_srtcp(void)
{
	struct sdes_crypto ka, kb;
	struct sdes *alice, *bob;
	struct rtcp_rx rx = {0};
	struct rtcp_report r;
	uint8_t pkt[RTCP_OUT_MAX + SDES_TRAILER_MAX], plain[RTCP_OUT_MAX];
	uint8_t copy[sizeof(pkt)], rtp[172 + SDES_TRAILER_MAX];
	uint64_t auth, replay, other;
	size_t n, len, sent;

	CHECK(sdes_crypto_make(&ka, 1, SDES_AES_CM_128_HMAC_SHA1_32) == 0);
	CHECK(sdes_crypto_make(&kb, 1, SDES_AES_CM_128_HMAC_SHA1_32) == 0);
	CHECK(sdes_new(&alice, &ka, &kb) == 0);
	CHECK(sdes_new(&bob, &kb, &ka) == 0);
	rtcp_rx_rtp(&rx, 0x12, 1, 160, 5000);
	len = (size_t)rtcp_build(pkt, sizeof(pkt), 0x34, NULL, &rx,
	                         rtcp_ntp(1, 0), "alice", false);
	memcpy(plain, pkt, len);
	n = len;
	CHECK(sdes_protect_rtcp(alice, pkt, &n, len) == -EINVAL);
	CHECK(sdes_protect_rtcp(alice, pkt, &n, sizeof(pkt)) == 0);
	/* The E bit and index, and the 80-bit tag whatever the suite
	 * (RFC 4568 6.2.2); the body is encrypted. */
	CHECK(n == len + 4 + 10);
	CHECK(!memcmp(pkt, plain, 8) && memcmp(pkt + 8, plain + 8, len - 8));
	sent = n;
	memcpy(copy, pkt, sent);
	CHECK(sdes_unprotect_rtcp(bob, pkt, &n) == 0);
	CHECK(n == len && !memcmp(pkt, plain, len));
	CHECK(rtcp_parse(pkt, n, 0x12, &r) == 0 && r.ssrc == 0x34 && r.block);
	n = sent;
	memcpy(pkt, copy, sent);
	CHECK(sdes_unprotect_rtcp(bob, pkt, &n) == -EALREADY);
	n = len;
	memcpy(pkt, plain, len);
	CHECK(sdes_protect_rtcp(alice, pkt, &n, sizeof(pkt)) == 0);
	pkt[12] ^= 4;
	CHECK(sdes_unprotect_rtcp(bob, pkt, &n) == -EACCES);
	/* Plain RTCP: its last bytes read as an index and a tag (here an
	 * unencrypted one, which our policy does not allow): refused. */
	n = len;
	memcpy(pkt, plain, len);
	CHECK(sdes_unprotect_rtcp(bob, pkt, &n) < 0);
	n = 10;
	CHECK(sdes_unprotect_rtcp(bob, pkt, &n) == -EBADMSG);
	sdes_counts(bob, &auth, &replay, &other);
	/* Counted by the caller, not as RTP's. */
	CHECK(auth == 0 && replay == 0 && other == 0);
	/* RTP through the same contexts. */
	n = rtp_packet(rtp, 9);
	CHECK(sdes_protect(alice, rtp, &n, sizeof(rtp)) == 0);
	CHECK(sdes_unprotect(bob, rtp, &n) == 0 && n == 172);
	sdes_free(alice);
	sdes_free(bob);
}

#define SDP_HEAD                                                               \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"     \
	"t=0 0\r\n"

static void test_sdp(void)
{
	struct sdes_crypto keys[2];
	struct sdp_srtp srtp = {.savp = true, .crypto = keys, .n = 2};
	struct sdp_answer o;
	char sdp[1024], want[128];
	int n;

	CHECK(sdes_crypto_make(&keys[0], 1, SDES_AES_CM_128_HMAC_SHA1_80) == 0);
	CHECK(sdes_crypto_make(&keys[1], 2, SDES_AES_CM_128_HMAC_SHA1_32) == 0);
	n = sdp_offer_build(sdp, sizeof(sdp), "127.0.0.1", 20000, 7, &srtp);
	CHECK(n > 0);
	CHECK(strstr(sdp, "m=audio 20000 RTP/SAVP 0 8 101\r\n") != NULL);
	CHECK(strstr(sdp, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
	CHECK(strstr(sdp, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"));
	/* Our offer read as a peer reads it: SAVP, the first line. */
	CHECK(sdp_offer_pick(sdp, (size_t)n, SDP_CODEC_PCMU, &o) == 0);
	CHECK(o.savp && o.has_crypto && o.crypto.tag == 1 &&
	      !memcmp(o.crypto.key, keys[0].key, SDES_KEY_LEN));
	srtp.savp = false;
	CHECK(sdp_offer_build(sdp, sizeof(sdp), "127.0.0.1", 20000, 7, &srtp) >
	      0);
	CHECK(strstr(sdp, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL);
	CHECK(sdp_offer_build(sdp, sizeof(sdp), "127.0.0.1", 20000, 7, NULL) >
	      0);
	CHECK(!strstr(sdp, "crypto"));

	/* An answer: an unusable line first, then a usable one. */
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/SAVP 0\r\n"
	                  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY
	                  "|2^20|1:32\r\n"
	                  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY
	                  "\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0);
	CHECK(o.savp && o.has_crypto && o.crypto.tag == 2 &&
	      o.crypto.suite == SDES_AES_CM_128_HMAC_SHA1_32);
	CHECK_STR(o.crypto_why, "key has an MKI (not supported)");
	/* RTP/AVP with a malformed line only: plain, and why. */
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=crypto:x\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0);
	CHECK(!o.savp && !o.has_crypto);
	CHECK_STR(o.crypto_why, "crypto tag is not a number");
	snprintf(sdp, sizeof(sdp), SDP_HEAD "m=audio 6000 RTP/SAVP 0\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0);
	CHECK(o.savp && !o.has_crypto && o.crypto_why == NULL);
	CHECK(o.rtcp_port == 0);
	/* a=rtcp (RFC 3605): its port, with or without an address; not
	 * numbers, or out of range, are as if absent. */
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=rtcp:6101 IN IP4 "
	                  "127.0.0.1\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0 &&
	      o.rtcp_port == 6101);
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=rtcp:6103\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0 &&
	      o.rtcp_port == 6103);
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=rtcp:70000\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0 && o.rtcp_port == 0);
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=rtcp:61x\r\n");
	CHECK(sdp_answer_pick(sdp, strlen(sdp), &o) == 0 && o.rtcp_port == 0);

	/* The reply to an SRTP offer carries our key under its tag. */
	snprintf(sdp, sizeof(sdp),
	         SDP_HEAD "m=audio 6000 RTP/SAVP 0\r\n"
	                  "a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:" KEY
	                  "\r\n");
	CHECK(sdp_offer_pick(sdp, strlen(sdp), SDP_CODEC_PCMU, &o) == 0);
	keys[0].tag = 5;
	srtp.savp = o.savp;
	srtp.n = 1;
	n = sdp_reply_build(sdp, sizeof(sdp), "127.0.0.1", 20000, 7, 9, &o,
	                    &srtp);
	CHECK(n > 0 && strstr(sdp, "m=audio 20000 RTP/SAVP 0\r\n"));
	CHECK(sdes_crypto_format(want, sizeof(want), &keys[0]) > 0);
	CHECK(strstr(sdp, want) != NULL);
	CHECK(sdp_answer_pick(sdp, (size_t)n, &o) == 0 && o.has_crypto &&
	      o.crypto.tag == 5);
	sdes_crypto_clear(&keys[0]);
	sdes_crypto_clear(&keys[1]);
}

int main(void)
{
	if (sdes_init()) {
		fprintf(stderr, "srtp_init failed\n");
		return 1;
	}
	test_parse();
	test_format();
	test_protect(SDES_AES_CM_128_HMAC_SHA1_80, 10);
	test_protect(SDES_AES_CM_128_HMAC_SHA1_32, 4);
	test_srtcp();
	test_sdp();
	return check_exit("test_sdes");
}
