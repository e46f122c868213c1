/* SPDX-License-Identifier: GPL-3.0-or-later */
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
#include "gate.h"
#include "info.h"
#include "prompts.h"
#include "retry.h"
#include "sdp_nego.h"

#define SDP_HEAD                                                               \
	"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"     \
	"t=0 0\r\n"

/* sdp_check(): what is refused before sofia parses, and what is not. */
static void test_sdp_check(void)
{
	static const struct {
		const char *sdp;
		const char *why; /* NULL: accepted */
	} cases[] = {
	    {SDP_HEAD "m=audio 6000 RTP/AVP 0 8 101\r\na=sendrecv\r\n", NULL},
	    /* LF alone, no final line end, a port count, a non-RTP proto. */
	    {"v=0\nm=audio 6000/2 RTP/AVP 0\nm=image 0 udptl t38", NULL},
	    {"v=0\r\nm=application 9 UDP/TLS/RTP/SAVPF webrtc-datachannel\r\n",
	     NULL},
	    {"v=0\r\nm=audio 9 X :\r\n", "m= line format is not a token"},
	    {"v=0\r\nm=audio 9 X 0 :\r\n", "m= line format is not a token"},
	    {"v=0\r\nm=audio 9 RTP/AVP\r\n", "m= line without a format"},
	    {"v=0\r\nm=audio 9 RTP/AVP \r\n", "m= line format is not a token"},
	    {"v=0\r\nm=audio 9 RTP/AVP  0\r\n",
	     "m= line format is not a token"},
	    {"v=0\r\nm=audio 9 RTP/AVP\t0\r\n",
	     "m= line protocol is not a token"},
	    {"v=0\r\nm=audio 9 RTP//AVP 0\r\n",
	     "m= line protocol is not a token"},
	    {"v=0\r\nm=audio 9 /AVP 0\r\n", "m= line protocol is not a token"},
	    {"v=0\r\nm=aud:io 9 RTP/AVP 0\r\n", "m= line without a port"},
	    {"v=0\r\nm= 9 RTP/AVP 0\r\n", "m= line media is not a token"},
	    {"v=0\r\nm=audio x RTP/AVP 0\r\n", "m= line port is not a number"},
	    {"v=0\r\nm=audio 65536 RTP/AVP 0\r\n", "m= line port out of range"},
	    {"v=0\r\nm=audio 123456 RTP/AVP 0\r\n",
	     "m= line port is not a number"},
	    {"v=0\r\nm=audio 9/ RTP/AVP 0\r\n",
	     "m= line port count is not a number"},
	    {"v=0\r\nm=audio 9\r\n", "m= line without a protocol"},
	    {"v=0\r\nm=audio\r\n", "m= line without a port"},
	    {"v=1\r\n", "SDP does not begin with v=0"},
	    {"o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
	     "SDP does not begin with v=0"},
	    {"v=0\r\nX=1\r\n", "SDP line is not <letter>=<value>"},
	    {"v=0\r\n\r\n", "SDP line is not <letter>=<value>"},
	    {"v=0\r\ns=a\rb\r\n", "SDP line holds a bare CR"},
	    {"", "no SDP"},
	};
	static char big[SDP_MAX_BYTES + 64];
	const char *why;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = sdp_check(cases[i].sdp, strlen(cases[i].sdp), &why);

		if (cases[i].why ? !why || strcmp(why, cases[i].why) : err != 0)
			fprintf(stderr, "case %zu: %d %s\n", i, err,
			        why ? why : "");
		CHECK(cases[i].why ? err == -EBADMSG : err == 0);
		CHECK(cases[i].why ? why && !strcmp(why, cases[i].why) : !why);
	}
	/* A NUL inside (strlen would stop there; the length does not). */
	CHECK(sdp_check("v=0\r\ns=\0\r\n", 9, &why) == -EBADMSG &&
	      !strcmp(why, "SDP holds a NUL byte"));

	/* The bounds, each just inside and just over. */
	n = (size_t)snprintf(big, sizeof(big), "v=0\r\n");
	for (i = 1; i < SDP_MAX_LINES; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x\r\n");
	CHECK(sdp_check(big, n, &why) == 0);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "a=x\r\n");
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "SDP has too many lines"));

	n = (size_t)snprintf(big, sizeof(big), "v=0\r\ns=");
	memset(big + n, 'x', SDP_MAX_LINE - 2);
	n += SDP_MAX_LINE - 2;
	CHECK(sdp_check(big, n, &why) == 0);
	big[n++] = 'x';
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "SDP line too long"));

	n = (size_t)snprintf(big, sizeof(big), "v=0\r\na=");
	memset(big + n, 'x', SDP_MAX_ATTRIBUTE - 2);
	n += SDP_MAX_ATTRIBUTE - 2;
	CHECK(sdp_check(big, n, &why) == 0);
	big[n++] = 'x';
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "SDP attribute too long"));

	n = (size_t)snprintf(big, sizeof(big), "v=0\r\n");
	for (i = 0; i < SDP_MAX_MEDIA; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
		                      "m=audio 0 RTP/AVP 0\r\n");
	CHECK(sdp_check(big, n, &why) == 0);
	n += (size_t)snprintf(big + n, sizeof(big) - n,
	                      "m=audio 0 RTP/AVP 0\r\n");
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "SDP has too many m= lines"));

	n = (size_t)snprintf(big, sizeof(big), "v=0\r\nm=audio 9 RTP/AVP");
	for (i = 0; i < SDP_MAX_FORMATS; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, " %zu", i);
	CHECK(sdp_check(big, n, &why) == 0);
	n += (size_t)snprintf(big + n, sizeof(big) - n, " 99");
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "m= line has too many formats"));

	n = (size_t)snprintf(big, sizeof(big), "v=0\r\nm=audio 9 X ");
	memset(big + n, 'f', SDP_MAX_TOKEN);
	n += SDP_MAX_TOKEN;
	CHECK(sdp_check(big, n, &why) == 0);
	big[n++] = 'f';
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "m= line format too long"));

	/* Size: lines of the longest allowed until just over the total. */
	n = (size_t)snprintf(big, sizeof(big), "v=0\r\n");
	while (n + 256 < SDP_MAX_BYTES)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "a=%0200d\r\n",
		                      0);
	big[n++] = 'a';
	big[n++] = '=';
	memset(big + n, 'x', SDP_MAX_BYTES - n);
	n = SDP_MAX_BYTES;
	CHECK(sdp_check(big, n, &why) == 0);
	big[n++] = 'x';
	CHECK(sdp_check(big, n, &why) == -EBADMSG &&
	      !strcmp(why, "SDP too large"));
}

/* Offers inside the call: the direction read (session or media level,
 * c=0.0.0.0), the codec in use kept, and our reply mirroring them. */
static void test_offer(void)
{
	static const struct {
		const char *sdp;
		enum sdp_codec prefer;
		int err;
		enum sdp_codec codec;
		enum sdp_dir dir;
		int sends;
		const char *reply_dir;
	} cases[] = {
	    {SDP_HEAD "m=audio 6000 RTP/AVP 0 8\r\n", SDP_CODEC_PCMA, 0,
	     SDP_CODEC_PCMA, SDP_DIR_SENDRECV, 1, "a=sendrecv"},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 0 8\r\n", SDP_CODEC_NONE, 0,
	     SDP_CODEC_PCMU, SDP_DIR_SENDRECV, 1, "a=sendrecv"},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 8\r\na=sendonly\r\n",
	     SDP_CODEC_PCMU, 0, SDP_CODEC_PCMA, SDP_DIR_SENDONLY, 0,
	     "a=recvonly"},
	    {SDP_HEAD "a=inactive\r\nm=audio 6000 RTP/AVP 0\r\n",
	     SDP_CODEC_PCMU, 0, SDP_CODEC_PCMU, SDP_DIR_INACTIVE, 0,
	     "a=inactive"},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 0\r\na=recvonly\r\n",
	     SDP_CODEC_PCMU, 0, SDP_CODEC_PCMU, SDP_DIR_RECVONLY, 1,
	     "a=sendonly"},
	    {"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 "
	     "0.0.0.0\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
	     SDP_CODEC_PCMU, 0, SDP_CODEC_PCMU, SDP_DIR_SENDRECV, 0,
	     "a=sendrecv"},
	    {SDP_HEAD "m=audio 6000 RTP/AVP 18\r\n", SDP_CODEC_PCMU, -ENOTSUP,
	     SDP_CODEC_NONE, 0, 0, NULL},
	    {"v=0\r\nm=audio 9 X :\r\n", SDP_CODEC_PCMU, -EBADMSG,
	     SDP_CODEC_NONE, 0, 0, NULL},
	};
	static const char te_offer[] = SDP_HEAD
	    "m=audio 6000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
	struct sdp_answer o;
	char reply[512], o_line[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = sdp_offer_pick(cases[i].sdp, strlen(cases[i].sdp),
		                         cases[i].prefer, &o);

		if (err != cases[i].err)
			fprintf(stderr, "offer case %zu: %d\n", i, err);
		CHECK(err == cases[i].err);
		if (err)
			continue;
		CHECK(o.codec == cases[i].codec);
		CHECK(o.dir == cases[i].dir);
		CHECK(sdp_answer_sends(&o) == cases[i].sends);
		CHECK(sdp_reply_build(reply, sizeof(reply), "127.0.0.1", 20000,
		                      7, 9, &o, NULL) > 0);
		CHECK(strstr(reply, cases[i].reply_dir) != NULL);
		snprintf(o_line, sizeof(o_line), "m=audio 20000 RTP/AVP %d\r\n",
		         (int)o.codec);
		CHECK(strstr(reply, o_line) != NULL);
		CHECK(strstr(reply, "o=ringbridge 7 9 IN IP4 127.0.0.1\r\n"));
		/* Our reply passes our own check, and parses as an answer. */
		CHECK(sdp_answer_pick(reply, strlen(reply), &o) == 0);
	}
	/* The offer's telephone-event type is answered with its number. */
	CHECK(sdp_offer_pick(te_offer, strlen(te_offer), SDP_CODEC_PCMU, &o) ==
	      0);
	CHECK(o.te_pt == 96);
	CHECK(sdp_reply_build(reply, sizeof(reply), "127.0.0.1", 20000, 7, 9,
	                      &o, NULL) > 0);
	CHECK(strstr(reply, "m=audio 20000 RTP/AVP 0 96\r\n") &&
	      strstr(reply, "a=rtpmap:96 telephone-event/8000\r\n"));
	CHECK(sdp_reply_build(reply, 40, "127.0.0.1", 20000, 7, 9, &o, NULL) ==
	      -ENOSPC);
}

static void test_info(void)
{
	static const struct {
		const char *ctype;
		const char *body;
		int err;
		char key;
		int ms;
	} cases[] = {
	    {"application/dtmf-relay", "Signal=2\r\nDuration=160\r\n", 0, '2',
	     160},
	    {"Application/DTMF-Relay", "signal= 5\nduration = 250", 0, '5',
	     250},
	    {"application/dtmf-relay", "Signal=*\r\n", 0, '*', 0},
	    {"application/dtmf-relay", "Signal=10\r\nDuration=100\r\n", 0, '*',
	     100},
	    {"application/dtmf-relay", "Signal=11\r\n", 0, '#', 0},
	    {"application/dtmf-relay", "Signal=d\r\n", 0, 'D', 0},
	    {"application/dtmf-relay", "Volume=10\r\nSignal=#\r\n\r\n", 0, '#',
	     0},
	    {"application/dtmf-relay", "Duration=160\r\n", -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "Signal=\r\n", -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "Signal=22\r\n", -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "Signal=E\r\n", -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nSignal=2\r\n", -EBADMSG, 0,
	     0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=x\r\n", -EBADMSG,
	     0, 0},
	    {"application/dtmf-relay", "Signal=1\r\nDuration=999999\r\n",
	     -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "Signal 1\r\n", -EBADMSG, 0, 0},
	    {"application/dtmf-relay", "", -EBADMSG, 0, 0},
	    {"application/dtmf-relay",
	     "a=1\nb=1\nc=1\nd=1\ne=1\nf=1\ng=1\nh=1\nSignal=1\n", -EBADMSG, 0,
	     0},
	    {"application/dtmf", "2", 0, '2', 0},
	    {"application/dtmf", " 7\r\n", 0, '7', 0},
	    {"application/dtmf", "#", 0, '#', 0},
	    {"application/dtmf", "", -EBADMSG, 0, 0},
	    {"application/dtmf", "12", -EBADMSG, 0, 0},
	    {"application/dtmf", "x", -EBADMSG, 0, 0},
	    {"application/sdp", "v=0\r\n", -EPROTONOSUPPORT, 0, 0},
	    {NULL, "Signal=1", -EPROTONOSUPPORT, 0, 0},
	    {NULL, "", -ENODATA, 0, 0},
	};
	static char big[INFO_BODY_MAX + 2];
	size_t i;
	char key;
	int ms, err;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		key = 0;
		err = info_dtmf_parse(cases[i].ctype, cases[i].body,
		                      strlen(cases[i].body), &key, &ms);
		if (err != cases[i].err)
			fprintf(stderr, "info case %zu: %d\n", i, err);
		CHECK(err == cases[i].err);
		if (!err)
			CHECK(key == cases[i].key && ms == cases[i].ms);
	}
	/* A NUL inside, and the size bound. */
	CHECK(info_dtmf_parse("application/dtmf", "1\0", 2, &key, &ms) ==
	      -EBADMSG);
	memset(big, ' ', sizeof(big));
	memcpy(big, "Signal=1", 8);
	CHECK(info_dtmf_parse("application/dtmf-relay", big, INFO_BODY_MAX,
	                      &key, &ms) == 0 &&
	      key == '1');
	CHECK(info_dtmf_parse("application/dtmf-relay", big, INFO_BODY_MAX + 1,
	                      &key, &ms) == -EMSGSIZE);
}

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
	    {"garbage", -EBADMSG, SDP_CODEC_NONE, -1},
	    /* Passes sdp_check, but sofia finds no session in it. */
	    {"v=0\r\n", -EPROTO, SDP_CODEC_NONE, -1},
	    /* The 20 bytes sofia 1.12.11 loops on, refused before it. */
	    {"v=0\r\nm=audio 9 X :\r\n", -EBADMSG, SDP_CODEC_NONE, -1},
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
	CHECK(sdp_offer_build(offer, sizeof(offer), "127.0.0.1", 20000, 7,
	                      NULL) > 0);
	CHECK(strstr(offer, "m=audio 20000 RTP/AVP 0 8 101\r\n") != NULL);
	CHECK(strstr(offer, "a=ptime:20") != NULL);
	CHECK(sdp_answer_pick(offer, strlen(offer), &a) == 0 &&
	      a.codec == SDP_CODEC_PCMU && a.te_pt == 101);
	CHECK(sdp_offer_build(offer, 10, "127.0.0.1", 20000, 7, NULL) ==
	      -ENOSPC);
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
	CHECK(prompt_messages(&job, NULL, 0, 500, true, &s) == 0);
	CHECK(s && !strcmp(s, "At 11:13 PM you have a message from Alice "
	                      "Smith. Alice says: Lunch at noon? Alice also "
	                      "wrote: see a link to example.org. "));
	if (s)
		fprintf(stderr, "%s\n", s);
	free(s);
	s = NULL;
	CHECK(prompt_messages(&job, NULL, 1, 500, true, &s) == 0);
	CHECK(s && !strncmp(s, "Alice also wrote:", 17));
	free(s);
	CHECK(prompt_messages(&job, NULL, 2, 500, true, &s) == -ENODATA);
	/* The gate: the announcement alone, then the messages without it. */
	CHECK(prompt_announce(&job, NULL, &s) == 0);
	CHECK(s && !strcmp(s, "At 11:13 PM you have a message from Alice "
	                      "Smith. "));
	CHECK(s && !strstr(s, "Lunch"));
	free(s);
	s = NULL;
	CHECK(prompt_messages(&job, NULL, 0, 500, false, &s) == 0);
	CHECK(s && !strcmp(s, "Alice says: Lunch at noon? Alice also "
	                      "wrote: see a link to example.org. "));
	free(s);
	s = NULL;
	CHECK(!strcmp(prompt_text(NULL, PROMPT_GATE),
	              "Press any key to hear it."));
	/* Key 9 is offered after the menu, and confirmed by a phrase of
	 * its own. */
	CHECK(!strcmp(prompt_text(NULL, PROMPT_MENU_9),
	              "Press 9 for no more calls from them today."));
	CHECK(
	    !strcmp(prompt_text(NULL, PROMPT_CONFIRM_9),
	            "Thank you. You will get no more calls from them today."));
	job.n_messages = 0;
	CHECK(prompt_announce(&job, NULL, &s) == -ENODATA);
	job.n_messages = 2;
	m[0].encrypted = true;
	s = NULL;
	CHECK(prompt_messages(&job, NULL, 0, 500, true, &s) == 0);
	CHECK(s && strstr(s, "Alice sent you an encrypted message.") != NULL);
	free(s);
	s = NULL;
	CHECK(prompt_verify(NULL, "123456", &s) == 0);
	CHECK(s &&
	      !strcmp(s, "Your ringbridge verification code is 1, 2, 3, 4, "
	                 "5, 6. Again: 1, 2, 3, 4, 5, 6. Goodbye."));
	free(s);
}

/* The gate's rules, as a voicemail box and a person meet them. */
static void test_gate(void)
{
	struct gate g;

	/* Off: content at once; keys and waits do nothing to it. */
	gate_init(&g, false);
	CHECK(g.state == GATE_OFF && gate_content_allowed(&g));
	CHECK(!gate_key(&g) && !gate_timeout(&g) && !gate_unheard(&g));
	CHECK(g.state == GATE_OFF);

	/* A voicemail box: no digit, the prompt once more, then give up. */
	gate_init(&g, true);
	CHECK(!gate_content_allowed(&g) && gate_unheard(&g));
	CHECK(gate_timeout(&g));
	CHECK(g.state == GATE_CLOSED && !gate_content_allowed(&g));
	CHECK(!gate_timeout(&g));
	CHECK(g.state == GATE_UNPASSED && gate_unheard(&g));
	CHECK(!gate_content_allowed(&g));
	/* A digit after giving up (the goodbye plays) opens nothing. */
	CHECK(!gate_key(&g) && g.state == GATE_UNPASSED);

	/* A person: a digit during the repeat opens it, once. */
	gate_init(&g, true);
	CHECK(gate_timeout(&g));
	CHECK(gate_key(&g));
	CHECK(g.state == GATE_OPEN && gate_content_allowed(&g));
	CHECK(!gate_unheard(&g));
	CHECK(!gate_key(&g)); /* later digits are the menu's */
	CHECK(!gate_timeout(&g) && g.state == GATE_OPEN);

	/* Hung up while announcing: answered, not heard. */
	gate_init(&g, true);
	CHECK(gate_unheard(&g));
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

/* The round over a user's numbers: a row per ended call, from one number
 * (today's behaviour: a retry per attempt, the same back-off) to three. */
static void test_retry_rounds(void)
{
	static const struct {
		int n, attempt, rounds;
		enum retry_outcome o;
		enum retry_action action;
		int64_t delay_ms;
		int round, index;
	} rows[] = {
	    /* One number: as before numbers were added. */
	    {1, 1, 3, RETRY_OUTCOME_AGAIN, RETRY_LATER, 60000, 1, 0},
	    {1, 2, 3, RETRY_OUTCOME_AGAIN, RETRY_LATER, 120000, 2, 0},
	    {1, 3, 3, RETRY_OUTCOME_AGAIN, RETRY_FAIL, 0, 3, 0},
	    {1, 1, 3, RETRY_OUTCOME_THIS_ROUND, RETRY_FAIL, 0, 1, 0},
	    {1, 1, 3, RETRY_OUTCOME_NEVER, RETRY_FAIL, 0, 1, 0},
	    /* Two numbers, two rounds: the second at once, then back-off. */
	    {2, 1, 2, RETRY_OUTCOME_AGAIN, RETRY_NOW, 0, 1, 0},
	    {2, 2, 2, RETRY_OUTCOME_AGAIN, RETRY_LATER, 60000, 1, 1},
	    {2, 3, 2, RETRY_OUTCOME_AGAIN, RETRY_NOW, 0, 2, 0},
	    {2, 4, 2, RETRY_OUTCOME_AGAIN, RETRY_FAIL, 0, 2, 1},
	    /* The gate unpassed without gate_retry: on through this round. */
	    {2, 1, 2, RETRY_OUTCOME_THIS_ROUND, RETRY_NOW, 0, 1, 0},
	    {2, 2, 2, RETRY_OUTCOME_THIS_ROUND, RETRY_FAIL, 0, 1, 1},
	    /* Declined on the first of three: the job ends there. */
	    {3, 1, 3, RETRY_OUTCOME_NEVER, RETRY_FAIL, 0, 1, 0},
	    {3, 2, 3, RETRY_OUTCOME_AGAIN, RETRY_NOW, 0, 1, 1},
	    {3, 3, 3, RETRY_OUTCOME_AGAIN, RETRY_LATER, 60000, 1, 2},
	    {3, 6, 3, RETRY_OUTCOME_AGAIN, RETRY_LATER, 120000, 2, 2},
	    {3, 9, 3, RETRY_OUTCOME_AGAIN, RETRY_FAIL, 0, 3, 2},
	    /* Out-of-range inputs count as one number, first call. */
	    {0, 0, 1, RETRY_OUTCOME_AGAIN, RETRY_FAIL, 0, 1, 0},
	};
	struct retry_plan p;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		retry_plan_next(rows[i].n, rows[i].attempt, rows[i].rounds, 60,
		                rows[i].o, &p);
		CHECK(p.action == rows[i].action);
		CHECK(p.delay_ms == rows[i].delay_ms);
		CHECK(p.round == rows[i].round);
		CHECK(p.index == rows[i].index);
		CHECK(retry_number_index(rows[i].n, rows[i].attempt) ==
		      rows[i].index);
	}
}

int main(void)
{
	test_sdp_check();
	test_info();
	test_offer();
	test_sdp();
	test_retry();
	test_retry_rounds();
	test_prompts();
	test_gate();
	return check_exit("test_sip_bridge");
}
