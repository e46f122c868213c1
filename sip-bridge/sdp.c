/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The offer is a fixed template; the answer goes through sofia-sip's SDP
 * parser (never our own string scanning), then the first audio stream's
 * formats are walked in the answerer's order of preference and the first
 * one we offered wins. A telephone-event format is remembered beside it.
 * An offer inside the call (re-INVITE, UPDATE) is read the same way and
 * answered with one codec and the mirrored direction (sdp_reply_build).
 * Before sofia sees any SDP, sdp_check() holds it to bounds and to RFC
 * 4566's line and m= grammar: Debian 12's sofia-sip (a 2011 snapshot)
 * loops allocating on an m= line whose format is not a token. SRTP's
 * proto and a=crypto lines (sdes.c parses their values) are read and
 * written here too.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/sdp.h>

#include "sdp_nego.h"

/* RFC 4566 token-char; the same set as sofia's TOKEN (sdp_parse.c), so a
 * format passed here is one sofia's token() consumes. */
static bool is_token_char(unsigned char ch)
{
	return ch == 0x21 || (ch >= 0x23 && ch <= 0x27) || ch == 0x2A ||
	       ch == 0x2B || ch == 0x2D || ch == 0x2E ||
	       (ch >= 0x30 && ch <= 0x39) || (ch >= 0x41 && ch <= 0x5A) ||
	       (ch >= 0x5E && ch <= 0x7E);
}

/* The length of the token at S (up to END), 0 when there is none. */
static size_t token_len(const char *s, const char *end)
{
	const char *t = s;

	while (t < end && is_token_char((unsigned char)*t))
		t++;
	return (size_t)(t - s);
}

static size_t digits_len(const char *s, const char *end)
{
	const char *t = s;

	while (t < end && *t >= '0' && *t <= '9')
		t++;
	return (size_t)(t - s);
}

/*
 * media SP port ["/" integer] SP proto 1*(SP fmt), proto = token *("/"
 * token), single spaces (RFC 4566 5.14), S..END being what follows "m=".
 * NULL when it holds, else what is wrong.
 */
static const char *media_line_check(const char *s, const char *end)
{
	size_t n;
	int fmts = 0;
	unsigned long port;

	n = token_len(s, end);
	if (n == 0 || n > SDP_MAX_TOKEN)
		return "m= line media is not a token";
	s += n;
	if (s == end || *s++ != ' ')
		return "m= line without a port";
	n = digits_len(s, end);
	if (n == 0 || n > 5)
		return "m= line port is not a number";
	port = strtoul(s, NULL, 10);
	if (port > 65535)
		return "m= line port out of range";
	s += n;
	if (s < end && *s == '/') {
		s++;
		n = digits_len(s, end);
		if (n == 0 || n > 5)
			return "m= line port count is not a number";
		s += n;
	}
	if (s == end || *s++ != ' ')
		return "m= line without a protocol";
	for (;;) {
		n = token_len(s, end);
		if (n == 0 || n > SDP_MAX_TOKEN)
			return "m= line protocol is not a token";
		s += n;
		if (s == end || *s != '/')
			break;
		s++;
	}
	while (s < end) {
		if (*s++ != ' ')
			return "m= line protocol is not a token";
		n = token_len(s, end);
		if (n == 0)
			return "m= line format is not a token";
		if (n > SDP_MAX_TOKEN)
			return "m= line format too long";
		if (++fmts > SDP_MAX_FORMATS)
			return "m= line has too many formats";
		s += n;
	}
	return fmts ? NULL : "m= line without a format";
}

int sdp_check(const char *sdp, size_t len, const char **why)
{
	const char *s = sdp, *end = sdp + len, *eol, *stop;
	int lines = 0, media = 0;

	*why = NULL;
	if (!sdp || len == 0) {
		*why = "no SDP";
		return -EBADMSG;
	}
	if (len > SDP_MAX_BYTES) {
		*why = "SDP too large";
		return -EBADMSG;
	}
	if (memchr(sdp, '\0', len)) {
		*why = "SDP holds a NUL byte";
		return -EBADMSG;
	}
	while (s < end) {
		eol = memchr(s, '\n', (size_t)(end - s));
		stop = eol ? eol : end;
		/* CRLF, or LF alone (RFC 4566 5: parsers should accept it). */
		if (stop > s && stop[-1] == '\r')
			stop--;
		if (memchr(s, '\r', (size_t)(stop - s))) {
			*why = "SDP line holds a bare CR";
			return -EBADMSG;
		}
		if (++lines > SDP_MAX_LINES) {
			*why = "SDP has too many lines";
			return -EBADMSG;
		}
		if (stop - s < 2 || s[0] < 'a' || s[0] > 'z' || s[1] != '=') {
			*why = "SDP line is not <letter>=<value>";
			return -EBADMSG;
		}
		if ((size_t)(stop - s) > SDP_MAX_LINE) {
			*why = "SDP line too long";
			return -EBADMSG;
		}
		if (lines == 1 && (stop - s != 3 || s[2] != '0')) {
			*why = "SDP does not begin with v=0";
			return -EBADMSG;
		}
		if (s[0] == 'a' && (size_t)(stop - s) > SDP_MAX_ATTRIBUTE) {
			*why = "SDP attribute too long";
			return -EBADMSG;
		}
		if (s[0] == 'm') {
			if (++media > SDP_MAX_MEDIA) {
				*why = "SDP has too many m= lines";
				return -EBADMSG;
			}
			*why = media_line_check(s + 2, stop);
			if (*why)
				return -EBADMSG;
		}
		s = eol ? eol + 1 : end;
	}
	return 0;
}

/* Our a=crypto lines into OUT ("" for plain RTP); 0 or -ENOSPC. */
static int crypto_lines(char *out, size_t outlen, const struct sdp_srtp *srtp)
{
	size_t used = 0;
	int i, n;

	out[0] = 0;
	for (i = 0; srtp && i < srtp->n; i++) {
		n = sdes_crypto_format(out + used, outlen - used,
		                       &srtp->crypto[i]);
		if (n < 0)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

static const char *proto_of(const struct sdp_srtp *srtp)
{
	return srtp && srtp->savp ? "RTP/SAVP" : "RTP/AVP";
}

int sdp_offer_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id, const struct sdp_srtp *srtp)
{
	char crypto[256];
	int n;

	if (crypto_lines(crypto, sizeof(crypto), srtp))
		return -ENOSPC;
	n = snprintf(out, outlen,
	             "v=0\r\n"
	             "o=ringbridge %llu %llu IN IP4 %s\r\n"
	             "s=ringbridge\r\n"
	             "c=IN IP4 %s\r\n"
	             "t=0 0\r\n"
	             "m=audio %d %s 0 8 101\r\n"
	             "a=rtpmap:0 PCMU/8000\r\n"
	             "a=rtpmap:8 PCMA/8000\r\n"
	             "a=rtpmap:101 telephone-event/8000\r\n"
	             "a=fmtp:101 0-16\r\n"
	             "a=ptime:20\r\n"
	             "%s"
	             "a=sendrecv\r\n",
	             (unsigned long long)session_id,
	             (unsigned long long)session_id, ip, ip, port,
	             proto_of(srtp), crypto);
	OPENSSL_cleanse(crypto, sizeof(crypto));
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return n;
}

const char *sdp_codec_name(enum sdp_codec c)
{
	switch (c) {
	case SDP_CODEC_PCMU:
		return "PCMU";
	case SDP_CODEC_PCMA:
		return "PCMA";
	default:
		return "none";
	}
}

/* The codec a payload type and its rtpmap name; static types may come
 * without an rtpmap (RFC 3551). */
static enum sdp_codec codec_of(const sdp_rtpmap_t *rm)
{
	if (!rm->rm_encoding || rm->rm_rate != 8000)
		return SDP_CODEC_NONE;
	if (!strcasecmp(rm->rm_encoding, "PCMU"))
		return SDP_CODEC_PCMU;
	if (!strcasecmp(rm->rm_encoding, "PCMA"))
		return SDP_CODEC_PCMA;
	return SDP_CODEC_NONE;
}

/* One a=crypto VALUE: kept when usable, else the first refusal's why. */
static void crypto_pick(struct sdp_answer *ans, const char *value)
{
	const char *why = NULL;

	if (!value)
		value = "";
	if (sdes_crypto_parse(value, strlen(value), &ans->crypto, &why) == 0)
		ans->has_crypto = true;
	else if (!ans->crypto_why)
		ans->crypto_why = why;
}

/* The answer's or an offer's first audio stream; PREFER, when the offer
 * has it, over the offerer's first choice (a re-INVITE keeps the codec). */
/* The port of an a=rtcp value (RFC 3605: "port [nettype addrtype
 * address]"; the address, when given, is the c= line's on every phone
 * seen), or 0 when it is not 1-65535 in digits. */
static int rtcp_port_of(const char *v)
{
	long port = 0;
	int i;

	for (i = 0; v[i] >= '0' && v[i] <= '9'; i++) {
		port = port * 10 + (v[i] - '0');
		if (port > 65535)
			return 0;
	}
	if (v[i] != '\0' && v[i] != ' ')
		return 0;
	return (int)port;
}

static int pick(const char *sdp, size_t len, enum sdp_codec prefer,
                struct sdp_answer *ans)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sdp_parser_t *p;
	sdp_session_t *s;
	sdp_media_t *m;
	sdp_rtpmap_t *rm;
	sdp_connection_t *conn;
	sdp_attribute_t *a;
	int err = -EPROTO, crypto_seen = 0;

	memset(ans, 0, sizeof(*ans));
	ans->codec = SDP_CODEC_NONE;
	ans->te_pt = -1;
	err = sdp_check(sdp, len, &ans->why);
	if (err)
		return err;
	err = -EPROTO;
	p = sdp_parse(home, sdp, (issize_t)len, sdp_f_config);
	s = sdp_session(p);
	if (!s)
		goto out;
	for (m = s->sdp_media; m; m = m->m_next) {
		if (m->m_type == sdp_media_audio && !m->m_rejected &&
		    m->m_port != 0)
			break;
	}
	if (!m)
		goto out;
	conn = m->m_connections ? m->m_connections : s->sdp_connection;
	if (!conn || !conn->c_address || conn->c_addrtype != sdp_addr_ip4 ||
	    strlen(conn->c_address) >= sizeof(ans->addr) || m->m_port > 65535)
		goto out;
	snprintf(ans->addr, sizeof(ans->addr), "%s", conn->c_address);
	ans->port = (int)m->m_port;
	/* Session-level direction attributes are folded in by sofia. */
	ans->dir = (enum sdp_dir)m->m_mode;
	for (rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
		enum sdp_codec cc = codec_of(rm);

		if (cc != SDP_CODEC_NONE && rm->rm_pt == (unsigned)cc &&
		    (ans->codec == SDP_CODEC_NONE || cc == prefer))
			ans->codec = cc;
		if (rm->rm_encoding &&
		    !strcasecmp(rm->rm_encoding, "telephone-event") &&
		    rm->rm_rate == 8000 && ans->te_pt < 0)
			ans->te_pt = rm->rm_pt;
	}
	ans->savp =
	    m->m_proto_name && (!strcasecmp(m->m_proto_name, "RTP/SAVP") ||
	                        !strcasecmp(m->m_proto_name, "RTP/SAVPF"));
	for (a = m->m_attributes; a; a = a->a_next) {
		if (a->a_name && a->a_value && !strcasecmp(a->a_name, "ptime"))
			ans->ptime = atoi(a->a_value);
		if (a->a_name && a->a_value && !strcasecmp(a->a_name, "rtcp"))
			ans->rtcp_port = rtcp_port_of(a->a_value);
		if (a->a_name && !strcasecmp(a->a_name, "crypto") &&
		    !ans->has_crypto && crypto_seen++ < SDP_MAX_CRYPTO)
			crypto_pick(ans, a->a_value);
	}
	err = ans->codec == SDP_CODEC_NONE ? -ENOTSUP : 0;
out:
	if (p)
		sdp_parser_free(p);
	su_home_deinit(home);
	return err;
}

int sdp_answer_pick(const char *sdp, size_t len, struct sdp_answer *ans)
{
	return pick(sdp, len, SDP_CODEC_NONE, ans);
}

int sdp_offer_pick(const char *sdp, size_t len, enum sdp_codec prefer,
                   struct sdp_answer *ans)
{
	return pick(sdp, len, prefer, ans);
}

bool sdp_answer_sends(const struct sdp_answer *ans)
{
	/* RFC 3264 8.4: the peer receives unless it said sendonly or
	 * inactive; c=0.0.0.0 is RFC 2543's way of saying the same. */
	return (ans->dir & SDP_DIR_RECVONLY) && strcmp(ans->addr, "0.0.0.0");
}

int sdp_reply_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id, uint64_t version,
                    const struct sdp_answer *offer, const struct sdp_srtp *srtp)
{
	static const char *const dirs[] = {"inactive", "recvonly", "sendonly",
	                                   "sendrecv"};
	char te[96] = "", te_pt[16] = "", crypto[256];
	int n;

	if (crypto_lines(crypto, sizeof(crypto), srtp))
		return -ENOSPC;
	if (offer->te_pt >= 0) {
		snprintf(te_pt, sizeof(te_pt), " %d", offer->te_pt);
		snprintf(te, sizeof(te),
		         "a=rtpmap:%d telephone-event/8000\r\n"
		         "a=fmtp:%d 0-15\r\n",
		         offer->te_pt, offer->te_pt);
	}
	/* Our direction mirrors the offer's (sendonly is answered
	 * recvonly): sdp_dir counts the offerer's send bit first. */
	n = snprintf(
	    out, outlen,
	    "v=0\r\n"
	    "o=ringbridge %llu %llu IN IP4 %s\r\n"
	    "s=ringbridge\r\n"
	    "c=IN IP4 %s\r\n"
	    "t=0 0\r\n"
	    "m=audio %d %s %d%s\r\n"
	    "a=rtpmap:%d %s/8000\r\n"
	    "%s"
	    "a=ptime:20\r\n"
	    "%s"
	    "a=%s\r\n",
	    (unsigned long long)session_id, (unsigned long long)version, ip, ip,
	    port, proto_of(srtp), (int)offer->codec, te_pt, (int)offer->codec,
	    sdp_codec_name(offer->codec), te, crypto, dirs[offer->dir & 3]);
	OPENSSL_cleanse(crypto, sizeof(crypto));
	if (n < 0 || (size_t)n >= outlen)
		return -ENOSPC;
	return n;
}
