/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * One call's life as a SIP dialog, from claim to free. call_start checks
 * the destination and sends the INVITE at once (the variable prompt renders
 * while the phone rings, call_render.c); ua.c hands over what the dialog
 * brings: ringing, a failure, the answer, an offer inside the call
 * (re-INVITE or UPDATE). The ring timer and the call's time limit end it,
 * call_hangup sends BYE or CANCEL, and when nua reports the dialog
 * terminated the outcome is written (call_outcome.c) and the call is freed.
 * What the answered call says and what its keys do is call_menu.c's; the
 * struct is call_internal.h's, private to the call_*.c files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call_internal.h"
#include "log.h"
#include "monitor.h"
#include "policy.h"
#include "recorder.h"
#include "retry.h"

int call_on_offer(struct call *c, const char *sdp, size_t len, char *out,
                  size_t outlen)
{
	struct bridge *b = c->b;
	struct sdp_answer o;
	struct sdes_crypto key;
	struct sdp_srtp srtp = {.crypto = &key};
	bool send, changed;
	int n, err;

	if (!c->answered || c->phase == PHASE_ENDED)
		return -ENOTCONN;
	if (!sdp || !len) {
		/* RFC 3264 5: ours is the offer, unchanged. */
		n = snprintf(out, outlen, "%s", c->sdp_last);
		return n > 0 && (size_t)n < outlen ? n : -ENOSPC;
	}
	err = sdp_offer_pick(sdp, len, c->ans.codec, &o);
	if (err) {
		log_info(TAG, "job %lld: offer in the call refused: %s",
		         (long long)c->job->id,
		         err == -EBADMSG   ? o.why
		         : err == -ENOTSUP ? "no common codec"
		                           : "no audio stream");
		return err;
	}
	if (call_srtp_reoffer(&c->srtp, (long long)c->job->id, &o, &key))
		return -EPROTO;
	srtp.savp = o.savp;
	srtp.n = key.suite != SDES_SUITE_NONE;
	n = sdp_reply_build(out, outlen, b->local_ip, rtp_stream_port(c->rtp),
	                    (uint64_t)c->job->id, c->sdp_version, &o, &srtp);
	if (n > 0 && strcmp(out, c->sdp_last)) {
		/* RFC 3264 8: the version goes up when our SDP changes. */
		n = sdp_reply_build(
		    out, outlen, b->local_ip, rtp_stream_port(c->rtp),
		    (uint64_t)c->job->id, ++c->sdp_version, &o, &srtp);
	}
	sdes_crypto_clear(&key);
	if (n < 0 || (size_t)n >= sizeof(c->sdp_last))
		return -ENOSPC;
	memcpy(c->sdp_last, out, (size_t)n + 1);
	send = sdp_answer_sends(&o);
	changed = o.codec != c->ans.codec || o.port != c->ans.port ||
	          strcmp(o.addr, c->ans.addr);
	log_info(TAG, "job %lld: offer in the call: %s, %s, RTP to %s:%d",
	         (long long)c->job->id, send ? "sending" : "on hold",
	         sdp_codec_name(o.codec), o.addr, o.port);
	o.ptime = c->ans.ptime;
	c->ans = o;
	err = rtp_stream_follow(c->rtp, &c->ans, send, changed);
	if (err) {
		call_reason_set(c, "media failed");
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	}
	return n;
}

static void on_ring_timeout(struct bridge *b, su_timer_t *t, void *arg)
{
	struct call *c = arg;

	(void)b;
	(void)t;
	if (c->answered)
		return;
	log_info(TAG, "job %lld: no answer within %d s", (long long)c->job->id,
	         c->b->cfg->sip.ring_timeout);
	/* A refused certificate ends the INVITE at once (ua.c's
	 * TPTAG_SDWN_ERROR, call_on_unavailable); a TLS peer that
	 * takes the connection and then stalls the handshake gets here. */
	if (!c->progressed && config_sip_tls(c->b->cfg))
		log_warn(TAG,
		         "job %lld: not even a ringing from the peer over TLS: "
		         "if sofia logged a certificate error (Peer Subject "
		         "Mismatch) just before, the peer's certificate does "
		         "not chain to [sip] tls_dir's cafile.pem or does not "
		         "name the host dialled",
		         (long long)c->job->id);
	call_reason_set(c, "no answer");
	ua_cancel(&c->leg);
}

static void on_cap(struct bridge *b, su_timer_t *t, void *arg)
{
	(void)b;
	(void)t;
	call_hangup(arg, "the call reached its time limit");
}

static void call_free(struct call *c)
{
	struct bridge *b = c->b;
	struct call **pp;

	for (pp = &b->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			b->n_calls--;
			monitor_calls_active(b);
			break;
		}
	}
	rtp_stream_free(c->rtp);
	/* After the stream left the media thread, which protects with it. */
	call_srtp_close(&c->srtp, &c->ans, (long long)c->job->id);
	su_timer_destroy(c->ring_timer);
	su_timer_destroy(c->cap_timer);
	su_timer_destroy(c->key_timer);
	ua_release(&c->leg);
	call_play_clear(c);
	if (c->keys) {
		struct dtmf_keys_stats ks;

		/* What a phone that sends keys several ways did. */
		dtmf_keys_stats_get(c->keys, &ks);
		if (ks.presses || ks.duplicates || ks.dropped)
			log_info(TAG,
			         "job %lld: keys: %llu pressed, %llu second "
			         "reports folded, %llu dropped (flood)",
			         (long long)c->job->id,
			         (unsigned long long)ks.presses,
			         (unsigned long long)ks.duplicates,
			         (unsigned long long)ks.dropped);
	}
	dtmf_keys_free(c->keys);
	recorder_free(c->rec);
	playlist_fini(&c->play);
	free(c->msg_pcm);
	free(c->announce_pcm);
	queue_job_free(c->job);
	free(c);
}

/* The number this attempt of JOB dials: its numbers go round in order. */
static const char *dialled(const struct queue_job *job)
{
	int n = queue_job_destinations(job);

	return queue_job_destination_at(job,
	                                retry_number_index(n, job->attempts));
}

void call_on_terminated(struct call *c)
{
	call_recording_finish(c, false);
	c->phase = PHASE_ENDED;
	call_outcome_write(c);
	struct bridge *b = c->b;
	call_free(c);
	bridge_call_gone(b);
}

void call_on_progress(struct call *c, int status)
{
	c->progressed = true;
	log_debug(TAG, "job %lld: %d", (long long)c->job->id, status);
}

void call_on_failure(struct call *c, int status, const char *phrase)
{
	const char *r;

	log_info(TAG, "job %lld: %d %s", (long long)c->job->id, status,
	         phrase ? phrase : "");
	switch (status) {
	case 486:
	case 600:
		r = "busy";
		break;
	case 603:
		r = "rejected";
		c->no_retry = true;
		break;
	case 480:
	case 487:
		r = "no answer";
		break;
	case 401:
	case 407:
		r = "authentication failed";
		break;
	case 488:
	case 606:
		/* The phone will not learn G.711 by the next attempt. */
		r = "no common codec";
		c->no_retry = true;
		break;
	default:
		r = "unreachable";
		break;
	}
	call_reason_set(c, r);
}

void call_on_unavailable(struct call *c, const char *phrase)
{
	/* nua hands nta's own 503 over like a callee's (a status line, no
	 * sign of where it came from): a peer that rang sent it itself. */
	if (c->progressed || !config_sip_tls(c->b->cfg) ||
	    !ua_tls_refused_recently()) {
		call_on_failure(c, 503, phrase);
		return;
	}
	log_warn(TAG,
	         "job %lld: the callee's TLS certificate was refused (sofia's "
	         "line just before says why): it must chain to [sip] "
	         "tls_dir's cafile.pem and name the host dialled",
	         (long long)c->job->id);
	call_reason_set(c, "TLS certificate refused");
	/* The same certificate will be shown next time. */
	c->no_retry = true;
}

void call_on_answer(struct call *c, const char *sdp, size_t len)
{
	struct bridge *b = c->b;
	char why[96];
	const char *srtp_why = NULL;
	int err;

	if (c->answered)
		return;
	su_timer_reset(c->ring_timer);
	err = sdp_answer_pick(sdp, len, &c->ans);
	if (!err &&
	    (err = call_srtp_answer(&c->srtp, b->cfg->sip.srtp, &c->ans,
	                            (long long)c->job->id, &srtp_why))) {
		/* The phone's settled answer: retrying gets the same. */
		call_reason_set(c, srtp_why);
		c->no_retry = true;
	}
	if (err == -EBADMSG) {
		/* Refused before sofia parsed it: the same phone would send
		 * the same again (and it may be an attack on the parser). */
		snprintf(why, sizeof(why), "answer SDP refused: %s",
		         c->ans.why);
		call_reason_set(c, why);
		c->no_retry = true;
	}
	if (err || c->leg.cancelled || b->stopping) {
		call_reason_set(c, err == -ENOTSUP ? "no common codec"
		                   : err           ? "bad answer SDP"
		                                   : "bridge stopping");
		/* An answer without G.711 is the phone's settled choice. */
		if (err == -ENOTSUP)
			c->no_retry = true;
		log_info(TAG, "job %lld: answered, but %s",
		         (long long)c->job->id, c->reason);
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
		return;
	}
	c->answered = true;
	log_info(TAG, "job %lld: answered, %s, RTP to %s:%d",
	         (long long)c->job->id, sdp_codec_name(c->ans.codec),
	         c->ans.addr, c->ans.port);
	call_event_write(c, QUEUE_EV_ANSWERED, sdp_codec_name(c->ans.codec));
	su_timer_set(c->cap_timer, on_cap, c);
	if (call_play_ready(c)) {
		call_play_content(c);
	} else {
		c->phase = PHASE_GREETING;
		call_play_fixed(c, PROMPT_GREETING);
		if (c->msg_failed) {
			call_reason_set(c, "the message could not be spoken");
			c->phase = PHASE_CLOSING;
		}
	}
	if (rtp_stream_start(c->rtp, &c->ans, c->srtp.ctx)) {
		call_reason_set(c, "media failed");
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	}
}

void call_hangup(struct call *c, const char *reason)
{
	call_reason_set(c, reason);
	if (c->answered) {
		call_recording_finish(c, false);
		c->phase = PHASE_ENDED;
		ua_bye(&c->leg);
	} else if (c->leg.invited) {
		ua_cancel(&c->leg);
	}
}

struct call *call_find(struct bridge *b, uint64_t serial)
{
	struct call *c;

	for (c = b->calls; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

void call_hangup_all(struct bridge *b, const char *reason)
{
	struct call *c, *next;

	for (c = b->calls; c; c = next) {
		next = c->next;
		call_hangup(c, reason);
	}
}

struct ua_leg *call_leg(struct call *c)
{
	return &c->leg;
}

long long call_job_id(const struct call *c)
{
	return (long long)c->job->id;
}

static bool call_live(void *arg)
{
	const struct call *c = arg;

	return c->phase != PHASE_ENDED;
}

/* The last words have been sent. */
static void call_drained(void *arg)
{
	struct call *c = arg;

	ua_bye(&c->leg);
}

static const struct rtp_stream_ops call_rtp_ops = {
    .next_frame = call_menu_frame,
    .rx_audio = call_menu_audio,
    .rx_event = call_menu_event,
    .live = call_live,
    .drained = call_drained,
};

/* Where to send the INVITE: the URI itself, or the number at the trunk. */
static int target(const struct config *cfg, const char *dest, char *out,
                  size_t outlen)
{
	int n;

	if (!strncmp(dest, "sip:", 4) || !strncmp(dest, "sips:", 5))
		n = snprintf(out, outlen, "<%s>", dest);
	else if (dest[0] == '+' && cfg->sip.trunk && *cfg->sip.trunk)
		n = snprintf(out, outlen, "<sip:%s@%s;user=phone>", dest,
		             cfg->sip.trunk);
	else
		return -EINVAL;
	return n > 0 && (size_t)n < outlen ? 0 : -ENOSPC;
}

int call_start(struct bridge *b, struct queue_job *job, int64_t claim_sent_ms)
{
	struct call *c;
	const char *why = NULL;
	char to[512], sdp[1024], d[16];
	struct sdp_srtp srtp;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c) {
		dbw_job_retry(b->dbw, job->id, b->owner,
		              queue_now_ms(b->q) + 1000, "out of memory", 0,
		              NULL, 0);
		queue_job_free(job);
		return -ENOMEM;
	}
	c->b = b;
	playlist_init(&c->play);
	c->serial = ++b->next_call_serial;
	c->job = job;
	c->lease_until_ms = claim_sent_ms + call_lease_ms(b->cfg);
	gate_init(&c->gate,
	          job->kind == QUEUE_JOB_MESSAGE &&
	              (job->gate == QUEUE_GATE_ON ||
	               (job->gate != QUEUE_GATE_OFF && b->cfg->calls.gate)));
	c->next = b->calls;
	b->calls = c;
	b->n_calls++;
	monitor_calls_active(b);
	log_info(TAG, "job %lld: attempt %d to %s", (long long)job->id,
	         job->attempts, dialled(job));

	/* A second line of defence: the policy may have changed since. */
	if (policy_destination_check(b->cfg, dialled(job), &why)) {
		call_reason_set(c, "the destination is not allowed");
		c->no_retry = true;
		goto fail;
	}
	if (target(b->cfg, dialled(job), to, sizeof(to))) {
		call_reason_set(c, "no trunk for telephone numbers");
		c->no_retry = true;
		goto fail;
	}
	c->ring_timer = su_timer_create(su_root_task(b->root),
	                                b->cfg->sip.ring_timeout * 1000);
	c->cap_timer = su_timer_create(su_root_task(b->root),
	                               b->cfg->sip.max_call_seconds * 1000);
	/* No key this long after the menu: repeat it once, then end. */
	c->key_timer = su_timer_create(su_root_task(b->root),
	                               b->cfg->sip.key_timeout * 1000);
	if (!c->ring_timer || !c->cap_timer || !c->key_timer ||
	    dtmf_keys_new(&c->keys, call_menu_key, c)) {
		call_reason_set(c, "out of memory");
		goto fail;
	}
	err = rtp_stream_new(&c->rtp, b, (long long)job->id, &call_rtp_ops, c);
	if (err) {
		log_warn(TAG, "job %lld: no RTP port: %s", (long long)job->id,
		         strerror(-err));
		call_reason_set(c, "no free RTP port");
		goto fail;
	}
	c->sdp_version = (uint64_t)job->id;
	if (call_srtp_offer(&c->srtp, b->cfg->sip.srtp, &srtp) ||
	    sdp_offer_build(sdp, sizeof(sdp), b->local_ip,
	                    rtp_stream_port(c->rtp), (uint64_t)job->id,
	                    srtp.n ? &srtp : NULL) < 0 ||
	    ua_invite(b, c, to, sdp)) {
		call_reason_set(c, "cannot send the INVITE");
		goto fail;
	}
	snprintf(c->sdp_last, sizeof(c->sdp_last), "%s", sdp);
	if (job->attempts == 1) {
		/* Due at its creation, or at the end of its coalescing
		 * window; both times are the queue's clock, as is now. */
		int64_t due = job->not_before_ms > job->created_ms
		                  ? job->not_before_ms
		                  : job->created_ms;

		monitor_enqueue_to_invite(b, queue_now_ms(b->q) - due);
	}
	snprintf(d, sizeof(d), "%d", job->attempts);
	call_event_write(c, QUEUE_EV_CALLING, d);
	su_timer_set(c->ring_timer, on_ring_timeout, c);
	/* Rendered while the phone rings. */
	call_render_submit(c);
	return 0;
fail:
	c->phase = PHASE_ENDED;
	call_outcome_write(c);
	call_free(c);
	return -EIO;
}
