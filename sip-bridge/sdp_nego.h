/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SDP for a call: the offer the bridge sends (PCMU, PCMA, telephone-event,
 * 20 ms) and the choice it makes from the callee's answer, parsed with
 * sofia-sip's SDP parser. The answer decides the codec: the first of its
 * formats the bridge offered. Pure functions, unit-tested.
 */
#ifndef RB_SIP_SDP_NEGO_H
#define RB_SIP_SDP_NEGO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sdes.h"

enum sdp_codec {
	SDP_CODEC_NONE = -1,
	SDP_CODEC_PCMU = 0, /* payload type 0 */
	SDP_CODEC_PCMA = 8, /* payload type 8 */
};

/* A stream's direction as the peer wrote it (RFC 3264 a=sendonly...):
 * sofia's sdp_mode_t values. */
enum sdp_dir {
	SDP_DIR_INACTIVE = 0,
	SDP_DIR_SENDONLY = 1, /* the peer sends only: it holds the call */
	SDP_DIR_RECVONLY = 2,
	SDP_DIR_SENDRECV = 3,
};

struct sdp_answer {
	enum sdp_codec codec;
	int te_pt;        /* telephone-event payload type, -1 when none */
	char addr[64];    /* where to send RTP (IPv4 dotted) */
	int port;         /* 0: media refused */
	int ptime;        /* the answer's a=ptime, 0 when absent */
	int rtcp_port;    /* its a=rtcp port (RFC 3605), 0: port + 1 */
	enum sdp_dir dir; /* the stream's, as the peer wrote it */
	const char *why;  /* -EBADMSG: what sdp_check() refused (static) */
	/* SRTP (sdes.h): the stream's proto is RTP/SAVP or RTP/SAVPF; its
	 * first usable a=crypto line (of at most SDP_MAX_CRYPTO read), and
	 * why the first unusable one was not (static, NULL when none). */
	bool savp;
	bool has_crypto;
	struct sdes_crypto crypto;
	const char *crypto_why;
};

/* What our SDP says of SRTP: the proto, and the a=crypto lines (N of
 * them, our keys). A NULL one is plain RTP/AVP. */
struct sdp_srtp {
	bool savp;
	const struct sdes_crypto *crypto;
	int n;
};

/*
 * Bounds on SDP from the network. A real answer is 300-1500 bytes in
 * 10-40 lines with one or two m= lines; a video phone's offer has a few
 * dozen formats; the longest attributes seen are a=fingerprint and
 * a=crypto (under 200 bytes) and a=fmtp lines of H.264 (about 150).
 */
#define SDP_MAX_BYTES     8192
#define SDP_MAX_LINES     128
#define SDP_MAX_LINE      1024
#define SDP_MAX_ATTRIBUTE 512
#define SDP_MAX_MEDIA     8
#define SDP_MAX_FORMATS   64
#define SDP_MAX_TOKEN     32
/* a=crypto lines read in one m= section: a phone offers one to four. */
#define SDP_MAX_CRYPTO 8

/*
 * Checks LEN bytes of SDP against the bounds above and RFC 4566's line
 * grammar (<letter>=<value> lines, v=0 first, each m= line's media, port,
 * proto and fmt tokens) before sofia-sip parses it. 0, or -EBADMSG with
 * *WHY saying what is wrong in words (a static string).
 */
int sdp_check(const char *sdp, size_t len, const char **why);

/* Writes the offer into OUT (with SRTP's proto and keys unless SRTP is
 * NULL); returns its length or -ENOSPC. */
int sdp_offer_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id, const struct sdp_srtp *srtp);
/*
 * Checks (sdp_check) and parses the answer SDP (LEN bytes) and fills
 * *ANS. Returns 0, -EBADMSG (refused by sdp_check, ANS->why says why),
 * -EPROTO (does not parse, no audio stream, no address), or -ENOTSUP (no
 * codec in common: the caller ends the call and fails the attempt).
 */
int sdp_answer_pick(const char *sdp, size_t len, struct sdp_answer *ans);
const char *sdp_codec_name(enum sdp_codec c);

/*
 * An offer inside the call (re-INVITE, UPDATE), checked and parsed like an
 * answer; of its G.711 formats PREFER (the codec in use) wins when it is
 * there, else the offerer's first. Same returns as sdp_answer_pick().
 */
int sdp_offer_pick(const char *sdp, size_t len, enum sdp_codec prefer,
                   struct sdp_answer *ans);
/* Whether the peer wants our RTP (not sendonly, inactive or c=0.0.0.0). */
bool sdp_answer_sends(const struct sdp_answer *ans);
/*
 * Writes our answer to OFFER (its codec, its telephone-event type, the
 * direction mirrored: sendonly gets recvonly, inactive inactive) with the
 * o= line's SESSION_ID and VERSION, and SRTP's proto and key unless SRTP
 * is NULL; returns its length or -ENOSPC.
 */
int sdp_reply_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id, uint64_t version,
                    const struct sdp_answer *offer,
                    const struct sdp_srtp *srtp);

#endif
