/*
 * SDP for a call: the offer the bridge sends (PCMU, PCMA, telephone-event,
 * 20 ms) and the choice it makes from the callee's answer, parsed with
 * sofia-sip's SDP parser. The answer decides the codec: the first of its
 * formats the bridge offered. Pure functions, unit-tested.
 */
#ifndef RB_SIP_SDP_NEGO_H
#define RB_SIP_SDP_NEGO_H

#include <stddef.h>
#include <stdint.h>

enum sdp_codec {
	SDP_CODEC_NONE = -1,
	SDP_CODEC_PCMU = 0, /* payload type 0 */
	SDP_CODEC_PCMA = 8, /* payload type 8 */
};

struct sdp_answer {
	enum sdp_codec codec;
	int te_pt;     /* telephone-event payload type, -1 when none */
	char addr[64]; /* where to send RTP (IPv4 dotted) */
	int port;      /* 0: media refused */
	int ptime;     /* the answer's a=ptime, 0 when absent */
};

/* Writes the offer into OUT; returns its length or -ENOSPC. */
int sdp_offer_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id);
/*
 * Parses the answer SDP (LEN bytes) and fills *ANS. Returns 0, -EPROTO
 * (does not parse, no audio stream, no address), or -ENOTSUP (no codec in
 * common: the caller ends the call and fails the attempt).
 */
int sdp_answer_pick(const char *sdp, size_t len, struct sdp_answer *ans);
const char *sdp_codec_name(enum sdp_codec c);

#endif
