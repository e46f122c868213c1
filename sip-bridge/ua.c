/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Everything that speaks to sofia-sip's nua: creating the user agent on
 * [sip] listen, placing, cancelling and ending calls, answering digest
 * challenges, and the one callback whose switch turns nua's events into
 * calls of the call's files (call.c; INFO keys go to call_menu.c). Tag lists
 * are unchecked varargs, so they live here and nowhere else. nua's own SDP
 * engine (soa) is switched off: the bridge writes its offer and reads the
 * answer itself (sdp.c), since it owns RTP, and answers the phone's offers
 * inside the call (re-INVITE, UPDATE) and its keys as INFO here too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bridge.h"
#include "clock.h"
#include "info.h"
#include "log.h"
#include "presence.h"

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/su_tag_io.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/tport_tag.h>

#define TAG "sip"

/*
 * sofia-sip's own diagnostics (su_log: every module's log falls back to
 * the default one's logger) as our lines, tagged "sofia": one line each,
 * escaped by log_write, since they quote what came from the network.
 * sofia may write a line in pieces; they are joined until its newline.
 * What it says about datagrams that are not SIP at all ("received
 * garbage", "Bad message") is debug: CRLF keep-alives (RFC 5626 3.5.1)
 * are that, and a stranger's noise is nothing an operator can act on.
 */
static char sofia_line[512];
static size_t sofia_len;
/* When sofia last refused a TLS peer (a name that does not match, a
 * handshake that failed on the chain): 0 never. Its transport reports
 * the dropped connection to the INVITE without saying why. */
static int64_t sofia_tls_refused_ms;

static void ua_sofia_log(void *stream, const char *fmt, va_list ap)
{
	bool quiet;
	size_t i;
	int n;

	(void)stream;
	n = vsnprintf(sofia_line + sofia_len, sizeof(sofia_line) - sofia_len,
	              fmt, ap);
	if (n < 0)
		return;
	sofia_len += (size_t)n;
	if (sofia_len >= sizeof(sofia_line))
		sofia_len = sizeof(sofia_line) - 1; /* cut: write it now */
	else if (sofia_len == 0 || sofia_line[sofia_len - 1] != '\n')
		return;
	while (sofia_len > 0 && (sofia_line[sofia_len - 1] == '\n' ||
	                         sofia_line[sofia_len - 1] == '\r'))
		sofia_len--;
	sofia_line[sofia_len] = '\0';
	for (i = 0; i < sofia_len; i++)
		if (sofia_line[i] == '\n' || sofia_line[i] == '\t')
			sofia_line[i] = ' ';
	if (strstr(sofia_line, "Peer Subject Mismatch") ||
	    strstr(sofia_line, "TLS setup failed"))
		sofia_tls_refused_ms = clock_mono_ms();
	quiet = strstr(sofia_line, "received garbage") ||
	        strstr(sofia_line, "Bad message");
	if (quiet)
		log_debug("sofia", "%s", sofia_line);
	else if (sofia_len)
		log_warn("sofia", "%s", sofia_line);
	sofia_len = 0;
}

void ua_log_redirect(void)
{
	su_log_redirect(NULL, ua_sofia_log, NULL);
}

bool ua_tls_refused_recently(void)
{
	/* The refusal and the INVITE's 503 come one loop turn apart; 2 s
	 * is far more than that and far less than a second attempt. */
	return sofia_tls_refused_ms &&
	       clock_mono_ms() - sofia_tls_refused_ms < 2000;
}

enum ua_auth ua_auth_answer(struct bridge *b, nua_handle_t *nh, int status,
                            const sip_t *sip, bool *tried, char *realm,
                            size_t realm_size)
{
	const msg_auth_t *au = NULL;
	const char *user = b->cfg->sip.username, *r;
	char cred[1024];
	int n;

	if (realm_size)
		*realm = 0;
	if (sip && status == 401)
		au = sip->sip_www_authenticate;
	else if (sip && status == 407)
		au = sip->sip_proxy_authenticate;
	if (!au || !au->au_scheme)
		return UA_AUTH_NONE;
	r = msg_params_find(au->au_params, "realm=");
	if (realm_size)
		snprintf(realm, realm_size, "%s", r ? r : "\"\"");
	if (*tried)
		return UA_AUTH_REFUSED;
	if (!user || !*user)
		return UA_AUTH_NONE;
	n = snprintf(cred, sizeof(cred), "%s:%s:%s:%s", au->au_scheme,
	             r ? r : "\"\"", user,
	             b->cfg->sip.password ? b->cfg->sip.password : "");
	if (n <= 0 || (size_t)n >= sizeof(cred))
		return UA_AUTH_NONE;
	*tried = true;
	nua_authenticate(nh, NUTAG_AUTH(cred), TAG_END());
	return UA_AUTH_ANSWERED;
}

static void on_r_invite(struct bridge *b, struct call *c, nua_handle_t *nh,
                        int status, const char *phrase, const sip_t *sip)
{
	if (!c)
		return;
	if (status < 200) {
		call_on_progress(c, status);
		return;
	}
	if (status < 300) {
		const char *body = NULL;
		size_t len = 0;

		/* From now on the phone's refreshes are answered with the
		 * session timer (ua_start). */
		nua_set_hparams(nh, SIPTAG_SUPPORTED_STR("timer, 100rel"),
		                TAG_END());
		if (sip && sip->sip_payload) {
			body = sip->sip_payload->pl_data;
			len = sip->sip_payload->pl_len;
		}
		call_on_answer(c, body, len);
		return;
	}
	if (ua_auth_answer(b, nh, status, sip, &call_leg(c)->auth_tried, NULL,
	                   0) == UA_AUTH_ANSWERED) {
		log_info(TAG, "job %lld: %d challenge, authenticating",
		         call_job_id(c), status);
		return;
	}
	if (status == 503)
		/* Also what nta answers itself when the transport fails. */
		call_on_unavailable(c, phrase);
	else
		call_on_failure(c, status, phrase);
	/* A challenge not answered (again, or no credentials) leaves nua's
	 * call waiting for nua_authenticate(): the INVITE is complete, so
	 * the call ends here. */
	if (status == 401 || status == 407)
		call_on_terminated(c);
}

static void on_i_state(struct bridge *b, struct call *c, nua_handle_t *nh,
                       tagi_t tags[])
{
	int state = nua_callstate_init;

	tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
	if (state != nua_callstate_terminated)
		return;
	if (c) {
		call_on_terminated(c);
	} else {
		(void)b;
		nua_handle_destroy(nh);
	}
}

static void on_i_invite(nua_handle_t *nh)
{
	/* The bridge places calls; it does not take them. */
	nua_respond(nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
}

/*
 * A key as SIP INFO (info.c reads the body). Only inside an answered call:
 * nua hands an INFO outside any dialog to us on a new handle (it allows
 * INFO outside dialogs), which gets 481 and is let go. The key goes into
 * the call's key stream, where an RFC 4733 or in-band copy of the same
 * press is folded into it.
 */
static void on_i_info(nua_t *nua, struct call *c, nua_handle_t *nh,
                      const sip_t *sip)
{
	const char *ctype = NULL, *body = "";
	size_t len = 0;
	char key;
	int ms, err;

	if (!c) {
		nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(nua),
		            TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	if (sip && sip->sip_content_type)
		ctype = sip->sip_content_type->c_type;
	if (sip && sip->sip_payload) {
		body = sip->sip_payload->pl_data;
		len = sip->sip_payload->pl_len;
	}
	err = info_dtmf_parse(ctype, body, len, &key, &ms);
	if (err == 0)
		err = call_rx_signal_key(c, key);
	else if (err == -ENODATA && !call_rx_signal_key(c, 0))
		err = 0; /* an empty INFO: a keep-alive of the dialog */
	switch (err) {
	case 0:
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	case -EMSGSIZE:
		nua_respond(nh, SIP_413_REQUEST_TOO_LARGE, NUTAG_WITH_THIS(nua),
		            TAG_END());
		break;
	case -EPROTONOSUPPORT:
		nua_respond(nh, SIP_415_UNSUPPORTED_MEDIA,
		            SIPTAG_ACCEPT_STR(
		                "application/dtmf-relay, application/dtmf"),
		            NUTAG_WITH_THIS(nua), TAG_END());
		break;
	case -EBADMSG:
		nua_respond(nh, 400, "Bad DTMF Body", NUTAG_WITH_THIS(nua),
		            TAG_END());
		break;
	default: /* not answered yet, or over */
		nua_respond(nh, SIP_481_NO_TRANSACTION, NUTAG_WITH_THIS(nua),
		            TAG_END());
		break;
	}
	log_info(TAG, "job %lld: INFO (%s, %zu bytes) refused: %s",
	         call_job_id(c), ctype ? ctype : "no type", len,
	         err == -EMSGSIZE          ? "body too large"
	         : err == -EPROTONOSUPPORT ? "not a DTMF type"
	         : err == -EBADMSG         ? "no key in the body"
	                                   : "the call is not up");
}

/*
 * An offer inside a call: a re-INVITE (hold, resume, a new address or
 * codec, a session refresh) or an UPDATE (RFC 3311; RFC 4028 refreshes,
 * often without SDP). nua's SDP engine is off, so the answer is the
 * bridge's (call_on_offer); nua adds the session timer's Session-Expires
 * and Require to the 2xx itself (the phone is the refresher: ua_start). A
 * refused offer gets 488 and the session goes on as it was (RFC 3261
 * 14.2).
 */
static void on_i_offer(nua_t *nua, struct call *c, nua_handle_t *nh,
                       nua_event_t event, const sip_t *sip)
{
	const char *body = NULL, *ctype = NULL;
	size_t len = 0;
	char sdp[1024];
	int n;

	if (sip && sip->sip_payload && sip->sip_payload->pl_len) {
		body = sip->sip_payload->pl_data;
		len = sip->sip_payload->pl_len;
	}
	if (sip && sip->sip_content_type)
		ctype = sip->sip_content_type->c_type;
	if (body && (!ctype || strcasecmp(ctype, "application/sdp"))) {
		nua_respond(nh, SIP_415_UNSUPPORTED_MEDIA,
		            SIPTAG_ACCEPT_STR("application/sdp"),
		            NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	if (event == nua_i_update && !body) {
		/* A refresh: nothing to negotiate. */
		nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua), TAG_END());
		return;
	}
	n = call_on_offer(c, body, len, sdp, sizeof(sdp));
	if (n == -ENOTCONN) {
		nua_respond(nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_THIS(nua),
		            TAG_END());
		return;
	}
	if (n < 0) {
		nua_respond(nh, SIP_488_NOT_ACCEPTABLE, NUTAG_WITH_THIS(nua),
		            TAG_END());
		return;
	}
	nua_respond(nh, SIP_200_OK, NUTAG_WITH_THIS(nua),
	            SIPTAG_CONTENT_TYPE_STR("application/sdp"),
	            SIPTAG_PAYLOAD_STR(sdp), TAG_END());
}

static void ua_callback(nua_event_t event, int status, const char *phrase,
                        nua_t *nua, struct bridge *b, nua_handle_t *nh,
                        struct call *c, const sip_t *sip, tagi_t tags[])
{
	if (!c && presence_nua_event(b, event, status, phrase, nh, sip, tags))
		return;
	switch (event) {
	case nua_r_invite:
		on_r_invite(b, c, nh, status, phrase, sip);
		break;
	case nua_i_state:
		on_i_state(b, c, nh, tags);
		break;
	case nua_i_invite:
		if (!c)
			on_i_invite(nh);
		else
			on_i_offer(nua, c, nh, event, sip);
		break;
	case nua_i_update:
		if (c) {
			on_i_offer(nua, c, nh, event, sip);
		} else {
			nua_respond(nh, SIP_481_NO_TRANSACTION,
			            NUTAG_WITH_THIS(nua), TAG_END());
			nua_handle_destroy(nh);
		}
		break;
	case nua_i_info:
		on_i_info(nua, c, nh, sip);
		break;
	case nua_i_bye:
		if (c)
			log_info(TAG, "job %lld: the callee hung up",
			         call_job_id(c));
		break;
	case nua_r_bye:
	case nua_r_cancel:
	case nua_i_ack:
	case nua_i_active:
	case nua_i_terminated:
		break;
	case nua_r_shutdown:
		if (status >= 200)
			su_root_break(b->root);
		break;
	case nua_i_error:
		log_warn(TAG, "nua error %d %s", status, phrase);
		break;
	default:
		if (status >= 300)
			log_debug(TAG, "%s: %d %s", nua_event_name(event),
			          status, phrase);
		/* A request nua answered itself (OPTIONS) leaves a handle
		 * that nobody uses. Requests it refused never get here:
		 * nua reports only what it accepted, and the Allow list
		 * above keeps it from accepting what has usages of its own
		 * (REFER, whose handle destroyed here while nua's NOTIFY
		 * was pending crashed sofia's timer). */
		if (nh && !c && event > nua_i_error && event < nua_r_set_params)
			nua_handle_destroy(nh);
		break;
	}
}

int ua_start(struct bridge *b)
{
	const char *proxy = b->cfg->sip.outbound_proxy;
	const char *tls_dir = b->cfg->sip.tls_dir;
	char allow[128];

	/*
	 * TLS: sofia reads agent.pem and cafile.pem from tls_dir. The policy
	 * checks the certificate chain of every peer we connect to against
	 * cafile.pem and its name (subjectAltName DNS/IP or CN) against the
	 * host we dialled (SUBJECTS_OUT); a peer connecting to us is asked for
	 * a certificate but not refused without one (phones rarely have
	 * one: RFC 5630 expects the server side to be authenticated).
	 */
	b->nua = nua_create(
	    b->root, ua_callback, b, NUTAG_URL(b->cfg->sip.listen),
	    TAG_IF(*tls_dir, TPTAG_CERTIFICATE(tls_dir)),
	    TAG_IF(*tls_dir,
	           TPTAG_TLS_VERIFY_POLICY(TPTLS_VERIFY_SUBJECTS_OUT)),
	    TAG_IF(*tls_dir, TPTAG_TLS_VERIFY_DEPTH(4)),
	    /* A refused certificate makes sofia close the connection and
	     * drop the INVITE queued on it without a word, so the call
	     * waited for the 32 s transaction timeout. With SDWN_ERROR the
	     * close is reported to the pending request, which nta ends at
	     * once with its own 503 (call_on_unavailable). */
	    TAG_IF(*tls_dir, TPTAG_SDWN_ERROR(1)),
	    TAG_IF(proxy && *proxy, NUTAG_PROXY(proxy)), NUTAG_MEDIA_ENABLE(0),
	    NUTAG_AUTOACK(1), NUTAG_AUTOANSWER(0),
	    /* RFC 5626 3.5.1: a CRLF CRLF ping on TCP is answered CRLF. */
	    TPTAG_PONG2PING(1), SIPTAG_USER_AGENT_STR("ringbridge/" RB_VERSION),
	    TAG_END());
	if (!b->nua) {
		log_err(TAG, "cannot listen on %s", b->cfg->sip.listen);
		return -EADDRNOTAVAIL;
	}
	/*
	 * Only what the bridge implements. NUTAG_ALLOW would add to nua's
	 * default list, which has REFER, MESSAGE, PRACK, UPDATE, SUBSCRIBE
	 * and NOTIFY: nua then accepts a stranger's out-of-dialog REFER
	 * (202, and NOTIFYs to whatever address the REFER names) and
	 * MESSAGE (200) on its own. SIPTAG_ALLOW_STR replaces the list, so
	 * nta_check_method answers any other known method 405 with this
	 * Allow and an unknown one 501, before nua creates a handle, a
	 * dialog or a timer; in-dialog requests outside any dialog get 481
	 * from nua, a stray ACK nothing. OPTIONS advertises the same list.
	 */
	snprintf(allow, sizeof(allow),
	         "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE%s",
	         presence_methods(b->cfg));
	/*
	 * INFO and UPDATE are answered here (on_i_info, on_i_offer), not by
	 * nua's automatic 200.
	 *
	 * Session timers (RFC 4028): the phone refreshes, never the bridge.
	 * With nua's default Supported ("timer, 100rel") on the INVITE, the
	 * phone may name the bridge the refresher in its answer (RFC 4028
	 * 9); nua then sends an UPDATE half-way through the interval
	 * whether or not the phone allows UPDATE, and hangs up at once on
	 * any refusal (a phone without UPDATE answers 501). Refreshing with
	 * a re-INVITE instead would resend the first INVITE's offer, whose
	 * o= version is behind the SDP sent since, and its answer would
	 * reach on_r_invite as a new one. Without "timer" on the INVITE, a
	 * phone that wants a session timer must refresh itself
	 * (refresher=uas) and notices a bridge that has gone at its next
	 * refresh. Once the call is answered the handle supports "timer"
	 * again (on_r_invite), since nua answers a refresh with
	 * Session-Expires only then; should a phone's own refresh name us
	 * refresher, UPDATE_REFRESH keeps nua on UPDATE, which that phone
	 * has just shown it implements.
	 */
	nua_set_params(b->nua, SIPTAG_ALLOW_STR(allow),
	               SIPTAG_SUPPORTED_STR("100rel"),
	               NUTAG_APPL_METHOD("INFO"), NUTAG_APPL_METHOD("UPDATE"),
	               NUTAG_UPDATE_REFRESH(1), TAG_END());
	return 0;
}

int ua_invite(struct bridge *b, struct call *c, const char *to, const char *sdp)
{
	const struct config *cfg = b->cfg;
	struct ua_leg *l = call_leg(c);
	char from[512] = "";

	if (cfg->sip.username && *cfg->sip.username && cfg->sip.trunk &&
	    *cfg->sip.trunk)
		snprintf(from, sizeof(from), "<sip:%s@%s>", cfg->sip.username,
		         cfg->sip.trunk);
	l->nh = nua_handle(b->nua, c, SIPTAG_TO_STR(to),
	                   TAG_IF(*from, SIPTAG_FROM_STR(from)), TAG_END());
	if (!l->nh)
		return -ENOMEM;
	nua_invite(l->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
	           SIPTAG_PAYLOAD_STR(sdp), TAG_END());
	l->invited = true;
	return 0;
}

void ua_cancel(struct ua_leg *l)
{
	if (l->nh && !l->cancelled) {
		l->cancelled = true;
		nua_cancel(l->nh, TAG_END());
	}
}

void ua_bye(struct ua_leg *l)
{
	if (l->nh && !l->bye_sent) {
		l->bye_sent = true;
		nua_bye(l->nh, TAG_END());
	}
}

void ua_release(struct ua_leg *l)
{
	if (l->nh) {
		nua_handle_bind(l->nh, NULL);
		nua_handle_destroy(l->nh);
		l->nh = NULL;
	}
}

void ua_shutdown(struct bridge *b)
{
	if (b->nua && !b->shutdown_sent) {
		b->shutdown_sent = true;
		nua_shutdown(b->nua);
	}
}

void ua_destroy(struct bridge *b)
{
	if (b->nua) {
		nua_destroy(b->nua);
		b->nua = NULL;
	}
}
