/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A call's SRTP policy ([sip] srtp, docs/sip.md "SRTP"): the keys the
 * offer carries, what the answer must hold (require: a usable a=crypto
 * line, else the call ends; offer: SRTP when the phone took it, plain RTP
 * when it did not), and what an offer inside the call may change (a new
 * key from the phone is followed; dropping SRTP, starting it mid-call or
 * changing its suite is refused with 488). The keys and the context
 * (sdes.h) live in struct call_srtp, which the call embeds and only this
 * file touches; rtp.c and media.c only call protect and unprotect.
 */
#include <errno.h>
#include <string.h>

#include "bridge.h"
#include "log.h"

#define TAG "srtp"

/* Our offered lines: tag 1 with the 80-bit tag (everyone's default), tag 2
 * with the 32-bit one (some phones prefer it: 6 bytes less a packet). */
static const enum sdes_suite offered_suites[CALL_SRTP_OFFERED] = {
    SDES_AES_CM_128_HMAC_SHA1_80,
    SDES_AES_CM_128_HMAC_SHA1_32,
};

int call_srtp_offer(struct call_srtp *s, enum config_srtp mode,
                    struct sdp_srtp *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	if (mode == CONFIG_SRTP_OFF)
		return 0;
	for (i = 0; i < CALL_SRTP_OFFERED; i++) {
		if (sdes_crypto_make(&s->offered[i], (uint32_t)i + 1,
		                     offered_suites[i]))
			return -EIO;
	}
	/* require: RTP/SAVP, which a plain phone refuses (488) rather
	 * than answering unprotected. offer: RTP/AVP with the keys, which
	 * a plain phone answers as plain RTP (RFC 3264: an attribute it
	 * does not know is ignored) and an SRTP phone with a key. */
	out->savp = mode == CONFIG_SRTP_REQUIRE;
	out->crypto = s->offered;
	out->n = CALL_SRTP_OFFERED;
	return 0;
}

/* Our offered line for the answer's tag and suite, or NULL. */
static const struct sdes_crypto *offered(const struct call_srtp *s,
                                         const struct sdes_crypto *answer)
{
	int i;

	for (i = 0; i < CALL_SRTP_OFFERED; i++) {
		if (s->offered[i].tag == answer->tag &&
		    s->offered[i].suite == answer->suite)
			return &s->offered[i];
	}
	return NULL;
}

int call_srtp_answer(struct call_srtp *s, enum config_srtp mode,
                     struct sdp_answer *ans, long long id, const char **reason)
{
	const struct sdes_crypto *mine = NULL;
	const char *why = NULL;
	int err;

	*reason = NULL;
	if (mode == CONFIG_SRTP_OFF)
		return 0;
	if (ans->has_crypto) {
		mine = offered(s, &ans->crypto);
		if (!mine)
			why = "its a=crypto names a tag or suite we did not "
			      "offer";
	} else {
		why = ans->crypto_why ? ans->crypto_why : "no a=crypto line";
	}
	if (mine) {
		err = sdes_new(&s->ctx, mine, &ans->crypto);
		sdes_crypto_clear(&ans->crypto);
		if (err) {
			log_warn(TAG, "job %lld: cannot set up SRTP: %s", id,
			         strerror(-err));
			*reason = "media failed";
			return err;
		}
		log_info(TAG, "job %lld: media is SRTP (%s, keys by SDES)", id,
		         sdes_suite_name(sdes_suite(s->ctx)));
		return 0;
	}
	if (mode == CONFIG_SRTP_OFFER && !ans->savp) {
		log_info(TAG,
		         "job %lld: the phone answered plain RTP (%s); SRTP "
		         "was offered, not required ([sip] srtp = offer)",
		         id, why);
		return 0;
	}
	log_warn(TAG,
	         "job %lld: hanging up: the answer has no usable SRTP key "
	         "(%s; answered %s) and [sip] srtp = %s",
	         id, why, ans->savp ? "RTP/SAVP" : "RTP/AVP",
	         mode == CONFIG_SRTP_REQUIRE ? "require" : "offer");
	*reason = mode == CONFIG_SRTP_REQUIRE
	              ? "the phone does not support encrypted media (SRTP "
	                "is required)"
	              : "the phone's encrypted media answer is unusable";
	return -EPROTO;
}

int call_srtp_reoffer(struct call_srtp *s, long long id, struct sdp_answer *o,
                      struct sdes_crypto *reply)
{
	const char *job_why = NULL;
	int i, err;

	memset(reply, 0, sizeof(*reply));
	if (!s->ctx) {
		/* Plain RTP: a key in an RTP/AVP offer is best-effort and
		 * ignored, but RTP/SAVP cannot be answered plain. */
		sdes_crypto_clear(&o->crypto);
		if (!o->savp)
			return 0;
		job_why = "it starts SRTP in a call that began plain";
	} else if (!o->has_crypto) {
		job_why = "it would drop SRTP";
	} else if (o->crypto.suite != sdes_suite(s->ctx)) {
		job_why = "it changes the SRTP suite";
	}
	if (job_why) {
		log_warn(TAG, "job %lld: offer in the call refused: %s", id,
		         job_why);
		sdes_crypto_clear(&o->crypto);
		return -EPROTO;
	}
	if (!sdes_remote_is(s->ctx, &o->crypto)) {
		/* RFC 4568 7.1.4: the phone re-keys its direction with a
		 * new offer; ours keeps its key. */
		err = sdes_rekey_remote(s->ctx, &o->crypto);
		if (err) {
			sdes_crypto_clear(&o->crypto);
			return err;
		}
		log_info(TAG, "job %lld: the phone re-keyed its SRTP", id);
	}
	for (i = 0; i < CALL_SRTP_OFFERED; i++) {
		if (s->offered[i].suite == o->crypto.suite)
			*reply = s->offered[i];
	}
	reply->tag = o->crypto.tag;
	sdes_crypto_clear(&o->crypto);
	return 0;
}

void call_srtp_close(struct call_srtp *s, struct sdp_answer *ans, long long id)
{
	uint64_t auth, replay, other;
	int i;

	if (s->ctx) {
		sdes_counts(s->ctx, &auth, &replay, &other);
		if (auth || replay || other)
			log_warn(TAG,
			         "job %lld: SRTP refused %llu packets that "
			         "failed authentication, %llu replayed, %llu "
			         "otherwise unusable",
			         id, (unsigned long long)auth,
			         (unsigned long long)replay,
			         (unsigned long long)other);
		sdes_free(s->ctx);
		s->ctx = NULL;
	}
	for (i = 0; i < CALL_SRTP_OFFERED; i++)
		sdes_crypto_clear(&s->offered[i]);
	sdes_crypto_clear(&ans->crypto);
}
