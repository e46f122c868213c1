/*
 * The offer is a fixed template; the answer goes through sofia-sip's SDP
 * parser (never our own string scanning), then the first audio stream's
 * formats are walked in the answerer's order of preference and the first
 * one we offered wins. A telephone-event format is remembered beside it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/sdp.h>

#include "sdp_nego.h"

int sdp_offer_build(char *out, size_t outlen, const char *ip, int port,
                    uint64_t session_id)
{
	int n;

	n = snprintf(out, outlen,
	             "v=0\r\n"
	             "o=ringbridge %llu %llu IN IP4 %s\r\n"
	             "s=ringbridge\r\n"
	             "c=IN IP4 %s\r\n"
	             "t=0 0\r\n"
	             "m=audio %d RTP/AVP 0 8 101\r\n"
	             "a=rtpmap:0 PCMU/8000\r\n"
	             "a=rtpmap:8 PCMA/8000\r\n"
	             "a=rtpmap:101 telephone-event/8000\r\n"
	             "a=fmtp:101 0-16\r\n"
	             "a=ptime:20\r\n"
	             "a=sendrecv\r\n",
	             (unsigned long long)session_id,
	             (unsigned long long)session_id, ip, ip, port);
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

int sdp_answer_pick(const char *sdp, size_t len, struct sdp_answer *ans)
{
	su_home_t home[1] = {SU_HOME_INIT(home)};
	sdp_parser_t *p;
	sdp_session_t *s;
	sdp_media_t *m;
	sdp_rtpmap_t *rm;
	sdp_connection_t *conn;
	sdp_attribute_t *a;
	int err = -EPROTO;

	memset(ans, 0, sizeof(*ans));
	ans->codec = SDP_CODEC_NONE;
	ans->te_pt = -1;
	if (!sdp || len == 0 || len > 8192)
		return -EPROTO;
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
	for (rm = m->m_rtpmaps; rm; rm = rm->rm_next) {
		enum sdp_codec cc = codec_of(rm);

		if (cc != SDP_CODEC_NONE && ans->codec == SDP_CODEC_NONE &&
		    rm->rm_pt == (unsigned)cc)
			ans->codec = cc;
		if (rm->rm_encoding &&
		    !strcasecmp(rm->rm_encoding, "telephone-event") &&
		    rm->rm_rate == 8000 && ans->te_pt < 0)
			ans->te_pt = rm->rm_pt;
	}
	for (a = m->m_attributes; a; a = a->a_next) {
		if (a->a_name && a->a_value && !strcasecmp(a->a_name, "ptime"))
			ans->ptime = atoi(a->a_value);
	}
	err = ans->codec == SDP_CODEC_NONE ? -ENOTSUP : 0;
out:
	if (p)
		sdp_parser_free(p);
	su_home_deinit(home);
	return err;
}
