/*
 * Unit tests for the bridge's pure pieces: SDP negotiation outcomes (the
 * answer decides the codec; no common codec is refused) and prompt
 * composition (time in the callee's zone, first name, encrypted messages,
 * later messages, the verification code).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "prompts.h"
#include "retry.h"
#include "sdp_nego.h"

#define SDP_HEAD                                                               \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"     \
	"t=0 0\r\n"

static void test_sdp(void)
{
	static const struct {
		const char *sdp;
		int err;
		enum sdp_codec codec;
		int te;
	} cases[] = {
	    {SDP_HEAD "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 "
	              "telephone-event/8000\r\n",
	     0, SDP_CODEC_PCMU, 101},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 8\r\n", 0, SDP_CODEC_PCMA, -1},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 8 0\r\n", 0, SDP_CODEC_PCMA, -1},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 96 100\r\na=rtpmap:96 PCMU/8000\r\n"
	              "a=rtpmap:100 telephone-event/8000\r\n",
	     -ENOTSUP, SDP_CODEC_NONE, 100},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 9\r\n", -ENOTSUP, SDP_CODEC_NONE,
	     -1},
	    {SDP_HEAD "m=audio 0 RTP/AVP 0\r\n", -EPROTO, SDP_CODEC_NONE, -1},
	    {SDP_HEAD "m=video 6000 RTP/AVP 31\r\n", -EPROTO, SDP_CODEC_NONE,
	     -1},
	    {"garbage", -EPROTO, SDP_CODEC_NONE, -1},
	};
	struct sdp_answer a;
	char offer[1024];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err =
		    sdp_answer_pick(cases[i].sdp, strlen(cases[i].sdp), &a);
		if (err != cases[i].err)
			fprintf(stderr, "case %zu: %d\n", i, err);
		CHECK(err == cases[i].err);
		if (err == 0) {
			CHECK(a.codec == cases[i].codec);
			CHECK(a.te_pt == cases[i].te);
			CHECK(a.port == 6000);
			CHECK(!strcmp(a.addr, "127.0.0.1"));
		}
	}
	CHECK(sdp_offer_build(offer, sizeof(offer), "127.0.0.1", 20000, 7) > 0);
	CHECK(strstr(offer, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL);
	CHECK(strstr(offer, "a=ptime:20") != NULL);
	CHECK(sdp_answer_pick(offer, strlen(offer), &a) == 0 &&
	      a.codec == SDP_CODEC_PCMU && a.te_pt == 101);
	CHECK(sdp_offer_build(offer, 10, "127.0.0.1", 20000, 7) == -ENOSPC);
}

static void test_prompts(void)
{
	struct queue_job_message m[2] = {
	    {.seq = 1, .body = "Lunch at noon?", .received_ms = 1700000000000},
	    {.seq = 2,
	     .body = "see https://www.example.org/x",
	     .received_ms = 0},
	};
	struct queue_job job = {.sender_name = "Alice Smith",
	                        .tz = "Europe/Paris",
	                        .messages = m,
	                        .n_messages = 2};
	char *s = NULL;

	/* 1700000000 is 22:13:20 UTC, 23:13 in Paris. */
	CHECK(prompt_messages(&job, 0, 500, &s) == 0);
	CHECK(s && !strcmp(s, "At 11:13 PM you have a message from Alice "
	                      "Smith. Alice says: Lunch at noon? Alice also "
	                      "wrote: see a link to example.org. "));
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	s = NULL;
	CHECK(prompt_messages(&job, 1, 500, &s) == 0);
	CHECK(s && !strncmp(s, "Alice also wrote:", 17));
	free(s);
	CHECK(prompt_messages(&job, 2, 500, &s) == -ENODATA);
	m[0].encrypted = true;
	s = NULL;
	CHECK(prompt_messages(&job, 0, 500, &s) == 0);
	CHECK(s && strstr(s, "Alice sent you an encrypted message.") != NULL);
	free(s);
	s = NULL;
	CHECK(prompt_verify("123456", &s) == 0);
	CHECK(s &&
	      !strcmp(s, "Your ringbridge verification code is 1, 2, 3, 4, "
	                 "5, 6. Again: 1, 2, 3, 4, 5, 6. Goodbye."));
	free(s);
}

/* retry_backoff after the first attempt, doubling after each further one. */
static void test_retry(void)
{
	CHECK(retry_delay_ms(60, 1) == 60000);
	CHECK(retry_delay_ms(60, 2) == 120000);
	CHECK(retry_delay_ms(60, 3) == 240000);
	CHECK(retry_delay_ms(1, 10) == 512000);
	CHECK(retry_delay_ms(1, 0) == 1000);
	/* Bounded: 86400 s (the largest backoff) times 2^20 fits. */
	CHECK(retry_delay_ms(86400, 21) == retry_delay_ms(86400, 100));
	CHECK(retry_delay_ms(86400, 100) == 86400LL * 1000 * (1LL << 20));
}

int main(void)
{
	test_sdp();
	test_retry();
	test_prompts();
	return check_exit("test_sip_bridge");
}
