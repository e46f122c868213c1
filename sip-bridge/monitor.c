/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The bridge's metric families (monitor.h) and its /metrics listener.
 * The listener is libmicrohttpd on a thread of its own rather than
 * descriptors registered in su_root: a scrape then never takes a turn of the
 * loop that prepares every call's audio, and since rendering reads only
 * atomics there is nothing the two would need to share; inside su_root, MHD
 * would need its descriptor set and timeout re-registered after every
 * request. Label values are the fixed tables below, indexed by enums.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "monitor.h"

#define TAG "monitor"

enum fam {
	F_ACTIVE,
	F_CALLS,
	F_FINISHED,
	F_KEYS,
	F_VOICE,
	F_LATENESS,
	F_INVITE,
	F_TTS,
	F_HELD,
	F_COUNT,
};

struct monitor {
	struct metrics *reg;
	struct metric *f[F_COUNT];
	struct metrics_http *http;
};

static const char *const outcomes[MONITOR_OUTCOMES] = {
    [MONITOR_ANSWERED] = "answered",       [MONITOR_BUSY] = "busy",
    [MONITOR_NO_ANSWER] = "no_answer",     [MONITOR_REJECTED] = "rejected",
    [MONITOR_UNREACHABLE] = "unreachable", [MONITOR_FAILED] = "failed",
};

/* The states a bridge ends jobs in (cancelling is the component's). */
enum { FIN_NOTIFIED, FIN_FAILED, FIN_COUNT };
static const char *const finished[FIN_COUNT] = {"notified", "failed"};

/* DTMF keys as label values: * and # spelt out (no escaping anywhere). */
static const char *const keys[] = {"0", "1", "2", "3", "4",    "5",
                                   "6", "7", "8", "9", "star", "pound",
                                   "a", "b", "c", "d"};

/* Packets leave within tens of microseconds of their time on a quiet
 * machine; 20 ms late is a whole packet. */
static const double lateness_bounds[] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05};
/* From wake-up and claim (milliseconds) to a job that waited for a busy
 * bridge or a callee on the phone (minutes). */
static const double invite_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                       2.5,  5,     10,   30,  60,   300, 1800};
/* flite's kal renders a message in tens of milliseconds; a loaded machine
 * or a long text takes seconds. */
static const double tts_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25,
                                    0.5,  1,     2.5,  5,   10};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct metric_desc descs[F_COUNT] = {
    [F_ACTIVE] = {.name = "ringbridge_calls_active",
                  .help = "Calls in progress on this bridge.",
                  .type = METRIC_GAUGE},
    [F_CALLS] = {.name = "ringbridge_calls_total",
                 .help = "Call attempts by how they ended.",
                 .type = METRIC_COUNTER,
                 .label = "outcome",
                 .values = outcomes,
                 .n_values = MONITOR_OUTCOMES},
    [F_FINISHED] = {.name = "ringbridge_jobs_finished_total",
                    .help = "Jobs this bridge ended, by final state.",
                    .type = METRIC_COUNTER,
                    .label = "state",
                    .values = finished,
                    .n_values = FIN_COUNT},
    [F_KEYS] = {.name = "ringbridge_keys_total",
                .help = "Keys pressed during calls (each press once).",
                .type = METRIC_COUNTER,
                .label = "key",
                .values = keys,
                .n_values = N(keys)},
    [F_VOICE] = {.name = "ringbridge_voice_replies_total",
                 .help = "Voice replies recorded and handed to the queue.",
                 .type = METRIC_COUNTER},
    [F_LATENESS] = {.name = "ringbridge_rtp_send_lateness_seconds",
                    .help = "How late each RTP packet left against its "
                            "ideal time on the media clock.",
                    .type = METRIC_HISTOGRAM,
                    .bounds = lateness_bounds,
                    .n_bounds = N(lateness_bounds),
                    .one_writer = true},
    [F_INVITE] = {.name = "ringbridge_enqueue_to_invite_seconds",
                  .help = "From a job being due to its first INVITE, on "
                          "the queue's clock.",
                  .type = METRIC_HISTOGRAM,
                  .bounds = invite_bounds,
                  .n_bounds = N(invite_bounds)},
    [F_TTS] = {.name = "ringbridge_tts_render_seconds",
               .help = "From a variable prompt's submission to the speech "
                       "worker to its audio.",
               .type = METRIC_HISTOGRAM,
               .bounds = tts_bounds,
               .n_bounds = N(tts_bounds)},
    [F_HELD] = {.name = "ringbridge_claims_held_total",
                .help = "Times the bridge stopped claiming jobs because "
                        "its speech workers were behind (main.c's "
                        "CLAIM_RENDER_BACKLOG prompts waiting).",
                .type = METRIC_COUNTER},
};

int monitor_new(struct bridge *b)
{
	struct monitor *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	b->monitor = m;
	err = metrics_new(&m->reg);
	for (int i = 0; !err && i < F_COUNT; i++)
		err = metrics_add(m->reg, &descs[i], &m->f[i]);
	return err;
}

int monitor_listen(struct bridge *b)
{
	const char *listen = b->cfg->sip.metrics_listen;

	if (!b->monitor || !listen || !*listen)
		return 0;
	return metrics_http_new(&b->monitor->http, listen,
	                        "[sip] metrics_listen", b->monitor->reg);
}

void monitor_free(struct bridge *b)
{
	struct monitor *m = b->monitor;

	if (!m)
		return;
	metrics_http_free(m->http);
	metrics_free(m->reg);
	free(m);
	b->monitor = NULL;
}

static struct metric *fam(struct bridge *b, enum fam f)
{
	return b->monitor ? b->monitor->f[f] : NULL;
}

void monitor_calls_active(struct bridge *b)
{
	metrics_gauge_set(fam(b, F_ACTIVE), 0, b->n_calls);
}

void monitor_call_outcome(struct bridge *b, enum monitor_outcome o)
{
	metrics_counter_inc(fam(b, F_CALLS), (unsigned)o);
}

void monitor_job_finished(struct bridge *b, enum queue_job_state state)
{
	if (state == QUEUE_JOB_NOTIFIED)
		metrics_counter_inc(fam(b, F_FINISHED), FIN_NOTIFIED);
	else if (state == QUEUE_JOB_FAILED)
		metrics_counter_inc(fam(b, F_FINISHED), FIN_FAILED);
}

void monitor_key(struct bridge *b, char key)
{
	unsigned i;

	if (key >= '0' && key <= '9')
		i = (unsigned)(key - '0');
	else if (key == '*')
		i = 10;
	else if (key == '#')
		i = 11;
	else if (key >= 'A' && key <= 'D')
		i = 12 + (unsigned)(key - 'A');
	else
		return;
	metrics_counter_inc(fam(b, F_KEYS), i);
}

void monitor_voice_reply(struct bridge *b)
{
	metrics_counter_inc(fam(b, F_VOICE), 0);
}

void monitor_enqueue_to_invite(struct bridge *b, int64_t ms)
{
	metrics_histogram_observe_ns(fam(b, F_INVITE), 0, ms * 1000000);
}

void monitor_tts_render(struct bridge *b, int64_t ns)
{
	metrics_histogram_observe_ns(fam(b, F_TTS), 0, ns);
}

void monitor_claims_held(struct bridge *b)
{
	metrics_counter_inc(fam(b, F_HELD), 0);
}

struct metric *monitor_lateness(struct bridge *b)
{
	return fam(b, F_LATENESS);
}
