/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The callee's answer SDP (sip-bridge/sdp.c, sofia-sip's parser behind the
 * bridge's own checks): any bytes as the answer, and as an offer inside
 * the call. The pick either succeeds with a codec the bridge offered and a
 * usable address, or fails with -EBADMSG (sdp_check, saying why) /
 * -EPROTO / -ENOTSUP; the reply to an accepted offer passes our own check
 * and parses as an answer; never a crash, a hang or a runaway allocation
 * (the fuzzer's -rss_limit_mb and -timeout catch those).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sdp_nego.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp_answer ans;
	char *sdp;
	int rc;

	sdp = malloc(size + 1);
	if (!sdp)
		return 0;
	memcpy(sdp, data, size);
	sdp[size] = 0;
	rc = sdp_answer_pick(sdp, size, &ans);
	if (rc == 0 && ans.codec != SDP_CODEC_PCMU &&
	    ans.codec != SDP_CODEC_PCMA)
		abort();
	if (rc && rc != -EPROTO && rc != -ENOTSUP && rc != -EINVAL &&
	    rc != -E2BIG && rc != -ENOMEM && rc != -EBADMSG)
		abort();
	if (rc == -EBADMSG && !ans.why)
		abort();
	rc = sdp_offer_pick(sdp, size, SDP_CODEC_PCMA, &ans);
	if (rc == 0) {
		struct sdp_answer back;
		char reply[512];
		int n = sdp_reply_build(reply, sizeof(reply), "127.0.0.1",
		                        20000, 1, 2, &ans, NULL);

		if (n <= 0 || sdp_answer_pick(reply, (size_t)n, &back) ||
		    back.codec != ans.codec)
			abort();
	}
	free(sdp);
	return 0;
}
