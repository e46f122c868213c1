/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ringbridge-sip's shared declarations: the process (struct bridge), one
 * call (struct call, opaque: its fields are the call_*.c files'), and the
 * functions the files of sip-bridge/ offer each other. sofia-sip's context
 * types are fixed here, before any sofia header, so that every callback
 * receives a typed pointer instead of a void *.
 *
 * Files: main.c (process, loop, claiming, shutdown), ua.c (every nua call
 * and tag list), call.c (one call's life as a SIP dialog), call_menu.c
 * (what it says, its keys), call_render.c (its variable prompt),
 * call_outcome.c (its events, lease and outcome; call_internal.h),
 * playlist.c (what a call plays, playlist.h), rtp.c (one stream object a
 * call: ports, socket, G.711; rtp.h), media.c (the one 20 ms clock, a thread
 * that sends every call's packets), jitter.c (the receive jitter buffer),
 * sdp.c (offer and answer), sdes.c and call_srtp.c (SRTP), prompts.c (the
 * texts), queue_writer.c (the thread that does the queue's writes), presence*.c
 * and pidf.c (SIP presence, docs/presence.md: one file per SIP usage,
 * presence_internal.h).
 */
#ifndef RB_SIP_BRIDGE_H
#define RB_SIP_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct bridge;
struct call;

#define SU_ROOT_MAGIC_T struct bridge
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T  void
#define NUA_MAGIC_T     struct bridge
#define NUA_HMAGIC_T    struct call

#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/nua.h>

#include "config.h"
#include "gate.h"
#include "playlist.h"
#include "queue.h"
#include "rtp.h"
#include "sdp_nego.h"

struct tts_worker;
struct voices;
struct dbw;
struct dtmf_keys;
struct recorder;
struct presence;
struct jitter;
struct media;
struct media_stream;
struct monitor;

/* RTP ports handed out in even/odd pairs from [sip] rtp_port_min..max. */
struct ports {
	int min, max;  /* even min, the last usable even port */
	uint8_t *used; /* one flag per pair */
	int n, next;
};

int ports_init(struct ports *p, int min, int max);
void ports_fini(struct ports *p);
/* An even port, or -EAGAIN when every pair is taken. */
int ports_take(struct ports *p);
void ports_give(struct ports *p, int port);

/* a=crypto lines in our offer (call_srtp.c). */
#define CALL_SRTP_OFFERED 2

/* A call's SRTP state (call_srtp.c's): the keys we offered; the context
 * once the answer took one (NULL: plain RTP). */
struct call_srtp {
	struct sdes_crypto offered[CALL_SRTP_OFFERED];
	struct sdes *ctx;
};

/* A call's INVITE dialog (ua.c's): nua's handle and what was sent on it. */
struct ua_leg {
	nua_handle_t *nh;
	bool invited, cancelled, bye_sent;
	bool auth_tried; /* a challenge was answered (ua_auth_answer) */
};

/* 10 ms bins of submit-to-ready time for the variable prompts, up to 10 s. */
#define RENDER_HIST_BINS 1000

/*
 * How the variable prompts kept up, logged at exit (call_render_stats_log):
 * a callee who answers before the prompt is ready hears the cached greeting
 * first, and silence after it until the prompt arrives.
 */
struct render_stats {
	uint64_t renders, failed;
	uint64_t late;          /* ready only after the callee answered */
	uint64_t silent_frames; /* 20 ms frames of silence waiting for one */
	int64_t max_ms;
	uint32_t hist[RENDER_HIST_BINS + 1];
};

struct bridge {
	struct config *cfg;
	struct queue *q; /* the loop's handle: wake-ups and the clock only */
	struct dbw *dbw; /* every queue read and write, off the loop */
	su_home_t home[1];
	su_root_t *root;
	nua_t *nua;
	su_timer_t *poll_timer, *drain_timer, *beat_timer, *renew_timer;
	su_timer_t *lease_timer; /* main.c's on_lease_check */
	int wake_fd, sig_fd, tts_fd, dbw_fd;
	su_wait_t wake_wait, sig_wait, tts_wait, dbw_wait;
	int wake_idx, sig_idx, tts_idx, dbw_idx;
	struct tts_worker *tts;
	struct voices *voices; /* per language: worker voice, cached phrases */
	struct media *media;   /* the shared 20 ms clock */
	/* Metrics and /metrics (monitor.h); systemd's watchdog pings. */
	struct monitor *monitor;
	su_timer_t *watchdog_timer;
	struct ports ports;
	struct rtp_stream *rtp; /* rtp.c's open streams */
	struct call *calls;
	int n_calls;
	bool stopping, shutdown_sent;
	/* Claim rounds (main.c): claims_out claims are with the writer;
	 * claim_round is how many the next round sends; the round out sent
	 * round_sent and round_jobs of them found a job so far. */
	int claims_out, claim_round, round_sent, round_jobs;
	bool claim_again, round_failed;
	bool claims_held; /* by the speech backlog, until a prompt is done */
	uint64_t next_call_serial;
	struct presence *pres; /* presence.c, NULL when off */
	char owner[128];
	char host[64];
	int64_t started_ms; /* wall clock, for the heartbeat row */
	char local_ip[64];
	uint64_t next_tts_id;
	struct render_stats render;
};

/* main.c */
int64_t bridge_now_ms(void);
/* A call ended and was freed: claim more, or finish stopping. */
void bridge_call_gone(struct bridge *b);
/* Something a stop waits for has ended: finish stopping if it was the
 * last (a no-op unless stopping). */
void bridge_stop_check(struct bridge *b);
/* Called when the TTS worker has something. */
void bridge_tts_done(uint64_t id, int err, int16_t *pcm, size_t n, void *arg);

/* ua.c */
/* sofia-sip's diagnostics into our log ("sofia"); before su_init(). */
void ua_log_redirect(void);
/* True when sofia refused a TLS peer's certificate (or the handshake) in
 * the last moment: what a transport failure of an INVITE then means. */
bool ua_tls_refused_recently(void);
int ua_start(struct bridge *b);
/* A digest challenge (401/407 in SIP) to a request on NH, answered with
 * [sip] username and password: NONE when SIP is no challenge or there are
 * no credentials; ANSWERED (nua_authenticate called, *TRIED set); REFUSED
 * when *TRIED was set already: the same credentials were challenged again.
 * The caller clears *TRIED when the request succeeds. REALM (REALM_SIZE
 * bytes, may be 0) receives the challenge's realm, for log lines. */
enum ua_auth { UA_AUTH_NONE, UA_AUTH_ANSWERED, UA_AUTH_REFUSED };
enum ua_auth ua_auth_answer(struct bridge *b, nua_handle_t *nh, int status,
                            const sip_t *sip, bool *tried, char *realm,
                            size_t realm_size);
/* Sends the INVITE for C with SDP; 0 or a negative errno. */
int ua_invite(struct bridge *b, struct call *c, const char *to,
              const char *sdp);
/* CANCEL, BYE, and letting go of the handle: each once, NULL handle safe. */
void ua_cancel(struct ua_leg *l);
void ua_bye(struct ua_leg *l);
void ua_release(struct ua_leg *l);
void ua_shutdown(struct bridge *b);
void ua_destroy(struct bridge *b);

/* The call (call.c, call_menu.c, call_render.c, call_outcome.c): struct
 * call is theirs (call_internal.h); other files hold a pointer. */
/* CLAIM_SENT_MS: monotonic, when the claim that got JOB was sent. */
int call_start(struct bridge *b, struct queue_job *job, int64_t claim_sent_ms);
/* The call with SERIAL, or NULL when it has ended since. */
struct call *call_find(struct bridge *b, uint64_t serial);
/* Hands the speech worker's result for request ID to its call; false (PCM
 * not taken) when no call waits for it any more. */
bool call_tts_deliver(struct bridge *b, uint64_t id, int err, int16_t *pcm,
                      size_t n);
/* call_hangup() for every call (the drain timer at shutdown). */
void call_hangup_all(struct bridge *b, const char *reason);
/* For ua.c: the call's INVITE dialog, and its job's id for log lines. */
struct ua_leg *call_leg(struct call *c);
long long call_job_id(const struct call *c);
/*
 * A renewal sent at SENT_MS (monotonic) came back: the calls whose jobs
 * are in HELD (by id) keep their lease until SENT_MS + the lease; any other
 * call's job was taken over (or cancelled) and the call is hung up.
 */
void call_leases_renewed(struct bridge *b, int64_t sent_ms, const int64_t *held,
                         size_t n_held);
/* Hangs up every call whose lease is about to run out unrenewed. */
void call_leases_check(struct bridge *b);
void call_on_progress(struct call *c, int status);
void call_on_answer(struct call *c, const char *sdp, size_t len);
void call_on_failure(struct call *c, int status, const char *phrase);
/* A 503 to the INVITE: the callee's, or nta's own when the transport
 * failed before any reply; over TLS, with sofia refusing the peer's
 * certificate a moment before, the certificate (chain or name), which
 * sofia's own log line names. */
void call_on_unavailable(struct call *c, const char *phrase);
void call_on_terminated(struct call *c);
/* The speech worker has room again: renders that found it full go now. */
void call_render_resume(struct bridge *b);
/* Logs the variable prompts' render_stats for the whole run. */
void call_render_stats_log(const struct bridge *b);
/* Ends the call now (stopping, cap); REASON for a job not heard yet. */
void call_hangup(struct call *c, const char *reason);
/* A claim of the job's lease in ms. */
int call_lease_ms(const struct config *cfg);

/* call_srtp.c: [sip] srtp (MODE) for one call (docs/sip.md, "SRTP"); ID
 * names the job in log lines. */
/* Fills *OUT for the offer (new keys in S->offered); 0 or -EIO. */
int call_srtp_offer(struct call_srtp *s, enum config_srtp mode,
                    struct sdp_srtp *out);
/* After the answer ANS: 0 (SRTP set up in S->ctx, or plain RTP is
 * allowed), or a negative errno with *REASON the job's outcome in words
 * (the caller hangs up, not retried). */
int call_srtp_answer(struct call_srtp *s, enum config_srtp mode,
                     struct sdp_answer *ans, long long id, const char **reason);
/* An offer inside the call, O: 0 with *REPLY our a=crypto line for the
 * answer (tag 0 when plain), re-keying the received direction when the
 * phone's key changed; -EPROTO when it must be refused (488). */
int call_srtp_reoffer(struct call_srtp *s, long long id, struct sdp_answer *o,
                      struct sdes_crypto *reply);
/* Logs the call's refused packets and frees the context and keys (and
 * ANS's key, wiped). */
void call_srtp_close(struct call_srtp *s, struct sdp_answer *ans, long long id);

/* media.c: the clock that paces and drains every call's RTP (rtp.c's
 * streams; rtp.h). */
int media_new(struct bridge *b);
/* Stops the clock's thread and logs the run's send-lateness totals. */
void media_free(struct bridge *b);
/* What the clock's thread sends for one stream: its socket, peer and the
 * header's fields, which are the thread's while the stream is added. */
struct media_stream_params {
	int fd;
	struct sockaddr_in peer;
	struct sdes
	    *srtp; /* the call's, or NULL: the thread protects with it */
	uint8_t pt, silence;
	uint16_t seq;
	uint32_t ts, ssrc;
};
/* A stream joins the clock (rtp.c); *OUT until media_stream_remove. 0 or
 * -errno. */
int media_stream_add(struct media *m, const struct media_stream_params *p,
                     struct media_stream **out);
/* It leaves it (before its socket closes) and frees S; *SEQ and *TS get
 * the header's fields, to go on from after a hold, and the packets it sent
 * are added to *PACKETS. */
void media_stream_remove(struct media *m, struct media_stream *s, uint16_t *seq,
                         uint32_t *ts, uint32_t *packets);
/* For RTCP's sender report: the packets S has sent and the RTP timestamp
 * at NOW_MS (monotonic); false when it has sent none yet. */
bool media_stream_sender(const struct media_stream *s, int64_t now_ms,
                         uint32_t *packets, uint32_t *ts);
/* Tops S's ring up: PRODUCE fills one payload and returns false when no
 * more should follow (the call is over). */
void media_stream_fill(struct media_stream *s,
                       bool (*produce)(void *arg, uint8_t *payload), void *arg);
/* Every packet prepared has been sent. */
bool media_stream_sent(const struct media_stream *s);
/* No silence fill-ins once the ring is empty: the last words are queued. */
void media_stream_close(struct media_stream *s);
/* A call's socket opened or closed: the loop wants ticks while any is. */
void media_socket_open(struct bridge *b, bool open);

/* A key the signalling carried (SIP INFO) into the call's key stream; KEY
 * 0 only asks whether the call takes keys. 0, or -ENOTCONN when the call
 * is not answered or is over, -EINVAL for a KEY not in DTMF_KEYS. */
int call_rx_signal_key(struct call *c, char key);
/*
 * An offer inside the call (re-INVITE or UPDATE; SDP NULL for a re-INVITE
 * without one): writes our SDP for the 200 into OUT and follows the
 * offer (hold, resume, a new address or codec). Its length, or -ENOTCONN
 * (not answered, or over), -EBADMSG/-EPROTO/-ENOTSUP (refused: 488, the
 * session goes on as it was), -ENOSPC.
 */
int call_on_offer(struct call *c, const char *sdp, size_t len, char *out,
                  size_t outlen);

#endif
