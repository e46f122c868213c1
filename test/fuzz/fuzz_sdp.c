/*
 * The callee's answer SDP (sip-bridge/sdp.c, sofia-sip's parser behind the
 * bridge's own checks): any bytes as the answer. The pick either succeeds
 * with a codec the bridge offered and a usable address, or fails with
 * -EPROTO / -ENOTSUP; never a crash, a hang or a runaway allocation (the
 * fuzzer's -rss_limit_mb and -timeout catch those).
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
	    rc != -E2BIG && rc != -ENOMEM)
		abort();
	free(sdp);
	return 0;
}
