/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Delivery of call outcomes (see outcome.h). The rules for "exactly one
 * message per call": keys 1/2/3 and a voice reply each give their message
 * as they happen; the end of a notified call gives "heard" only when
 * neither came before; the end of a failed job gives the failure with its
 * last reason. Everything else (calling, answered, other keys) is kept
 * from the sender's chat.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comp.h"
#include "http.h"
#include "jid_escape.h"
#include "log.h"
#include "monitor.h"
#include "outcome.h"
#include "policy.h"
#include "store.h"
#include "upload.h"

#define TAG             "outcome"
#define BATCH_MAX       32
#define PING_TIMEOUT_MS 15000

struct outcomes {
	struct comp *c;
	bool busy;           /* a batch awaits its uploads and its ping */
	int uploads;         /* voice replies of the batch still uploading */
	unsigned generation; /* bumped by reset: late replies are ignored */
	GArray *ids;         /* int64_t event ids of the batch in flight */
	bool marking;        /* the writer is marking a batch delivered */
	struct timer poll;   /* the safety net's next read */
};

/* Safety net for lost wake-ups: an outcome is delayed by seconds, not
 * forever. */
#define EVENT_POLL_MS 5000

static void on_poll(void *arg)
{
	struct outcomes *o = arg;

	timer_start(&o->c->timers, &o->poll, EVENT_POLL_MS);
	comp_outcomes_poll(o);
}

size_t outcome_text_format(const char *tmpl, const char *callee,
                           const char *reason, char *out, size_t outlen)
{
	size_t n = 0;

	for (const char *p = tmpl; *p; p++) {
		const char *put = NULL;
		size_t skip = 0;

		if (!strncmp(p, "{callee}", 8)) {
			put = callee ? callee : "";
			skip = 8;
		} else if (!strncmp(p, "{reason}", 8)) {
			put = reason ? reason : "";
			skip = 8;
		}
		if (put) {
			for (const char *q = put; *q; q++, n++)
				if (n + 1 < outlen)
					out[n] = *q;
			p += skip - 1;
			continue;
		}
		if (n + 1 < outlen)
			out[n] = *p;
		n++;
	}
	if (outlen)
		out[n < outlen ? n : outlen - 1] = '\0';
	return n;
}

int comp_outcomes_new(struct outcomes **op, struct comp *c)
{
	struct outcomes *o = g_new0(struct outcomes, 1);

	o->c = c;
	o->ids = g_array_new(FALSE, FALSE, sizeof(int64_t));
	timer_init(&o->poll, on_poll, o);
	timer_start(&c->timers, &o->poll, EVENT_POLL_MS);
	*op = o;
	return 0;
}

void comp_outcomes_free(struct outcomes *o)
{
	if (!o)
		return;
	timer_stop(&o->c->timers, &o->poll);
	g_array_free(o->ids, TRUE);
	g_free(o);
}

void comp_outcomes_reset(struct outcomes *o)
{
	o->generation++;
	o->busy = false;
	o->uploads = 0;
	g_array_set_size(o->ids, 0);
}

/* "Bob": his vCard name when known, else his capitalised local part. */
static char *callee_name(struct comp *c, const char *jid)
{
	const char *cached = comp_name_cached(c, jid);
	const char *at = strchr(jid, '@');
	char *name;

	if (cached)
		return g_strdup(cached);
	name = at ? g_strndup(jid, (size_t)(at - jid)) : g_strdup(jid);
	if (name[0] >= 'a' && name[0] <= 'z')
		name[0] = (char)(name[0] - 'a' + 'A');
	return name;
}

/* Where the callee's gateway address is, for when no privilege allows
 * writing as the callee himself. */
static char *gateway_address(struct comp *c, const char *jid)
{
	const char *at = strchr(jid, '@');
	char esc[JIDESC_BARE_MAX * 3];

	if (at && c->cfg->xmpp.user_domains.n &&
	    !g_ascii_strcasecmp(at + 1, c->cfg->xmpp.user_domains.v[0]))
		return g_strdup_printf("%.*s@%s", (int)(at - jid), jid,
		                       c->domain);
	if (jidesc_escape(jid, esc, sizeof(esc)) != 0)
		return NULL;
	return g_strdup_printf("%s@%s", esc, c->domain);
}

/* Sends TEXT (or OOB_URL, described by OOB_DESC) to TO from FROM, the
 * address the sender wrote to (NULL: the component), with stanza id ID. */
static void send_text(struct comp *c, const char *to, const char *from,
                      const char *id, const char *text, const char *oob_url,
                      const char *oob_desc)
{
	xmpp_stanza_t *m, *oid, *hint;
	int err = -EPERM;

	m = xmpp_message_new(c->ctx, "chat", to, id);
	xmpp_message_set_body(m, oob_url ? oob_url : text);
	oid = comp_elem(c, "origin-id", "urn:xmpp:sid:0");
	xmpp_stanza_set_attribute(oid, "id", id);
	xmpp_stanza_add_child_ex(m, oid, 0);
	hint = comp_elem(c, "store", "urn:xmpp:hints");
	xmpp_stanza_add_child_ex(m, hint, 0);
	if (oob_url) {
		xmpp_stanza_t *x = comp_elem(c, "x", "jabber:x:oob");

		comp_add_text_child(c, x, "url", oob_url);
		comp_add_text_child(c, x, "desc", oob_desc);
		xmpp_stanza_add_child_ex(m, x, 0);
	}
	if (from && policy_jid_is_local(c->cfg, from)) {
		/* The push path: from Bob himself, into Alice's thread. */
		xmpp_stanza_set_from(m, from);
		err = comp_privileged_message(c, m);
		if (err) {
			char *gw = gateway_address(c, from);

			log_warn(TAG,
			         "no message privilege for %s: the outcome "
			         "comes from %s instead",
			         from, gw ? gw : c->domain);
			xmpp_stanza_set_from(m, gw ? gw : c->domain);
			g_free(gw);
		}
	} else {
		xmpp_stanza_set_from(m, from ? from : c->domain);
	}
	if (err)
		comp_send(c, m);
	xmpp_stanza_release(m);
}

static void send_outcome(struct outcomes *o, const struct queue_event *e,
                         const char *text, const char *oob_url,
                         const char *oob_desc)
{
	struct comp *c = o->c;
	char id[128];

	snprintf(id, sizeof(id), "rb-%s-ev%lld", c->domain, (long long)e->id);
	send_text(c, e->sender_jid, e->reply_from, id, text, oob_url, oob_desc);
	log_info(TAG, "job %lld: told %s: %s", (long long)e->job_id,
	         e->sender_jid, oob_url ? "voice reply" : text);
}

void comp_outcome_paused(struct comp *c, const char *callee, const char *sender,
                         const char *reply_from, const char *message_key)
{
	char text[2048], full[160], *id, *name;

	if (!sender || !strchr(sender, '@') || !comp_jid_valid(sender))
		return;
	name = callee_name(c, callee);
	outcome_text_format(c->cfg->texts.paused, name, NULL, text,
	                    sizeof(text));
	/* A stable id per message, hashed: keys hold JIDs and can be long. */
	id = g_compute_checksum_for_string(G_CHECKSUM_SHA256, message_key, -1);
	snprintf(full, sizeof(full), "rb-%s-paused-%.32s", c->domain, id);
	send_text(c, sender, reply_from, full, text, NULL, NULL);
	log_info(TAG, "told %s that %s paused their calls: %s", sender, callee,
	         text);
	g_free(id);
	g_free(name);
}

enum outcome_final outcome_final_kind(const char *detail,
                                      const struct queue_event *evs, size_t n)
{
	bool had_reply = false, unheard = false;

	if (!detail)
		return OUTCOME_FINAL_NONE;
	for (size_t i = 0; i < n; i++) {
		const char *d = evs[i].detail;

		if (evs[i].type == QUEUE_EV_CALLING)
			unheard = false; /* only the last attempt counts */
		else if (evs[i].type == QUEUE_EV_UNHEARD)
			unheard = true;
		else if (evs[i].type == QUEUE_EV_VOICE ||
		         (evs[i].type == QUEUE_EV_KEY && d &&
		          (!strcmp(d, "1") || !strcmp(d, "2") ||
		           !strcmp(d, "3") || !strcmp(d, "9"))))
			had_reply = true;
	}
	if (!strcmp(detail, "notified"))
		return had_reply ? OUTCOME_FINAL_NONE : OUTCOME_FINAL_HEARD;
	if (!strcmp(detail, "failed"))
		return unheard ? OUTCOME_FINAL_UNHEARD : OUTCOME_FINAL_FAILED;
	return OUTCOME_FINAL_NONE;
}

/* The closing text's kind for job JOB_ID's end; read failures count as
 * no reply and no gate, as before the gate existed. */
static enum outcome_final final_kind(struct comp *c, int64_t job_id,
                                     const char *detail)
{
	struct queue_event *evs = NULL;
	size_t n = 0;
	enum outcome_final k;

	if (queue_event_fetch_for_job(c->q, job_id, &evs, &n) != 0) {
		evs = NULL;
		n = 0;
	}
	k = outcome_final_kind(detail, evs, n);
	queue_event_array_free(evs, n);
	return k;
}

static const char *voice_extension(const char *mime)
{
	if (mime && !strncmp(mime, "audio/mpeg", 10))
		return ".mp3";
	return ".oga";
}

static void send_ping(struct outcomes *o);

/* What a voice reply's message needs once its upload, or its publishing
 * in the queue for our own listener, is done. */
struct voice_ctx {
	struct outcomes *o;
	struct http_server *http; /* read on the store's thread */
	unsigned generation;
	int64_t id, job_id;
	char *sender_jid, *reply_from, *text, *heard_text, *mime;
	unsigned char *blob;
	size_t blob_len;
	char
	    *url; /* the published URL (malloc'ed), set on the store's thread */
};

/* TEXT is the voice reply's message, HEARD the one sent if it cannot be
 * offered. */
static struct voice_ctx *voice_ctx_new(struct outcomes *o,
                                       const struct queue_event *e,
                                       const char *mime, const char *text,
                                       const char *heard)
{
	struct voice_ctx *v = g_new0(struct voice_ctx, 1);

	v->o = o;
	v->http = o->c->http;
	v->generation = o->generation;
	v->id = e->id;
	v->job_id = e->job_id;
	v->sender_jid = g_strdup(e->sender_jid);
	v->reply_from = g_strdup(e->reply_from);
	v->text = g_strdup(text);
	v->heard_text = g_strdup(heard);
	v->mime = g_strdup(mime);
	v->blob = g_memdup2(e->blob, e->blob_len);
	v->blob_len = e->blob_len;
	return v;
}

static void voice_ctx_free(struct voice_ctx *v)
{
	g_free(v->sender_jid);
	g_free(v->reply_from);
	g_free(v->text);
	g_free(v->heard_text);
	g_free(v->mime);
	g_free(v->blob);
	free(v->url);
	g_free(v);
}

/* Sends V's message (the voice reply at URL, or "heard" when URL is NULL),
 * frees V, and pings once the batch's last voice reply is done. */
static void voice_finish(struct voice_ctx *v, const char *url)
{
	struct outcomes *o = v->o;
	struct queue_event e = {
	    .id = v->id,
	    .job_id = v->job_id,
	    .sender_jid = v->sender_jid,
	    .reply_from = v->reply_from,
	};

	if (v->generation != o->generation) {
		voice_ctx_free(v); /* the session ended: offered again later */
		return;
	}
	if (url)
		send_outcome(o, &e, v->text, url, v->text);
	else
		send_outcome(o, &e, v->heard_text, NULL, NULL);
	voice_ctx_free(v);
	if (--o->uploads == 0)
		send_ping(o);
}

/* On the store's thread: the audio into the queue, for our listener and
 * every other component's sharing the queue. */
static int voice_publish_run(struct queue *q, void *arg)
{
	struct voice_ctx *v = arg;

	/* A batch that must be replayed runs this again: the first name's
	 * row was rolled back with it. */
	free(v->url);
	v->url = NULL;
	return http_server_publish(v->http, q, v->blob, v->blob_len, v->mime,
	                           voice_extension(v->mime), &v->url);
}

/* Back on the loop: the row committed with its batch (ERR 0), or not. */
static void voice_published(struct comp *c, int err, void *arg)
{
	struct voice_ctx *v = arg;

	(void)c;
	if (err) {
		log_err(TAG,
		        "job %lld: the voice reply cannot be offered (%s): "
		        "the queue refused it; configure an XEP-0363 upload "
		        "service or check the queue",
		        (long long)v->job_id, strerror(-err));
		voice_finish(v, NULL);
		return;
	}
	voice_finish(v, v->url);
}

/* Publishes V through the store's thread; voice_published() finishes. */
static void voice_publish(struct comp *c, struct voice_ctx *v)
{
	store_call(c->store, voice_publish_run, v, voice_published);
}

static void voice_uploaded(struct comp *c, int err, const char *get_url,
                           void *arg)
{
	struct voice_ctx *v = arg;

	if (!err || v->generation != v->o->generation) {
		voice_finish(v, err ? NULL : get_url);
		return;
	}
	log_warn(TAG, "job %lld: voice reply upload failed: %s",
	         (long long)v->job_id, strerror(-err));
	if (c->http) {
		voice_publish(c, v);
		return;
	}
	voice_finish(v, NULL);
}

static bool deliver(struct outcomes *o, const struct queue_event *e)
{
	struct comp *c = o->c;
	char text[2048];
	char *callee;

	bool deferred = false;

	/* Operator test calls (ringbridgectl test-call) have no chat. */
	if (e->job_kind != QUEUE_JOB_MESSAGE || !e->sender_jid ||
	    !strchr(e->sender_jid, '@') || !comp_jid_valid(e->sender_jid))
		return false;
	callee = callee_name(c, e->callee_jid);
	switch (e->type) {
	case QUEUE_EV_KEY: {
		const char *tmpl = NULL;

		if (e->detail && !strcmp(e->detail, "1"))
			tmpl = c->cfg->texts.key1;
		else if (e->detail && !strcmp(e->detail, "2"))
			tmpl = c->cfg->texts.key2;
		else if (e->detail && !strcmp(e->detail, "3"))
			tmpl = c->cfg->texts.key3;
		else if (e->detail && !strcmp(e->detail, "9"))
			tmpl = c->cfg->texts.key9;
		if (tmpl) {
			outcome_text_format(tmpl, callee, NULL, text,
			                    sizeof(text));
			send_outcome(o, e, text, NULL, NULL);
		}
		break;
	}
	case QUEUE_EV_VOICE: {
		char heard[2048];
		const char *mime = e->detail ? e->detail : "audio/ogg";
		struct voice_ctx *v;

		outcome_text_format(c->cfg->texts.voice, callee, NULL, text,
		                    sizeof(text));
		outcome_text_format(c->cfg->texts.heard, callee, NULL, heard,
		                    sizeof(heard));
		if (!e->blob_len || (!c->http && !c->uploader)) {
			log_err(TAG,
			        "job %lld: the voice reply cannot be offered: "
			        "configure [http] listen or an XEP-0363 upload "
			        "service",
			        (long long)e->job_id);
			send_outcome(o, e, heard, NULL, NULL);
			break;
		}
		/* The server's own file sharing first, else our listener. */
		v = voice_ctx_new(o, e, mime, text, heard);
		if (c->uploader && upload_available(c->uploader, e->blob_len) &&
		    upload_start(c->uploader, e->blob, e->blob_len, mime,
		                 voice_extension(mime), voice_uploaded,
		                 v) == 0) {
			deferred = true;
			break;
		}
		if (c->http) {
			/* Written with the store's next commit, never on the
			 * loop; the link goes out once it is durable. */
			voice_publish(c, v);
			deferred = true;
			break;
		}
		log_err(TAG,
		        "job %lld: the voice reply cannot be offered: the "
		        "server's upload service is unavailable and [http] "
		        "listen is not set",
		        (long long)e->job_id);
		voice_ctx_free(v);
		send_outcome(o, e, heard, NULL, NULL);
		break;
	}
	case QUEUE_EV_ENDED: {
		enum outcome_final k = final_kind(c, e->job_id, e->detail);

		if (k == OUTCOME_FINAL_HEARD) {
			outcome_text_format(c->cfg->texts.heard, callee, NULL,
			                    text, sizeof(text));
			send_outcome(o, e, text, NULL, NULL);
		} else if (k == OUTCOME_FINAL_FAILED ||
		           k == OUTCOME_FINAL_UNHEARD) {
			struct queue_job *job = NULL;

			queue_job_get(c->q, e->job_id, &job);
			outcome_text_format(
			    k == OUTCOME_FINAL_UNHEARD ? c->cfg->texts.unheard
			                               : c->cfg->texts.failed,
			    callee,
			    job && job->last_reason ? job->last_reason
			                            : "the call failed",
			    text, sizeof(text));
			send_outcome(o, e, text, NULL, NULL);
			queue_job_free(job);
		}
		break;
	}
	default:
		break;
	}
	g_free(callee);
	return deferred;
}

struct ping_ctx {
	struct outcomes *o;
	unsigned generation;
};

/* On the store's thread: the batch's ids (a GArray of int64_t). */
static int mark_run(struct queue *q, void *arg)
{
	GArray *ids = arg;

	return queue_event_mark_delivered(q, (int64_t *)(void *)ids->data,
	                                  ids->len);
}

static void mark_done(struct comp *c, int err, void *arg)
{
	struct outcomes *o = c->outcomes;
	GArray *ids = arg;

	/* Not marked: delivered again, with the same ids, later. */
	if (err)
		log_err(TAG, "cannot mark %u events delivered: %s", ids->len,
		        strerror(-err));
	else
		comp_monitor_delivered(c, ids->len);
	g_array_free(ids, TRUE);
	o->marking = false;
	comp_outcomes_poll(o);
}

static void ping_reply(struct comp *c, xmpp_stanza_t *reply, void *arg)
{
	struct ping_ctx *p = arg;
	struct outcomes *o = p->o;
	bool current = p->generation == o->generation;

	g_free(p);
	if (!current)
		return;
	o->busy = false;
	if (!reply) {
		/* Not confirmed: delivered again, with the same ids, later. */
		g_array_set_size(o->ids, 0);
		return;
	}
	/* The writer marks them, off the loop; the next batch is fetched
	 * once that committed, so nothing marked is fetched again. */
	o->marking = true;
	store_call(c->store, mark_run, g_array_copy(o->ids), mark_done);
	g_array_set_size(o->ids, 0);
}

static void send_ping(struct outcomes *o)
{
	struct comp *c = o->c;
	struct ping_ctx *p;
	xmpp_stanza_t *iq;

	if (!o->ids->len) {
		o->busy = false;
		return;
	}
	/* The server handles a component's stanzas in order: its answer to
	 * this ping means it has taken every message sent before it. */
	iq = xmpp_iq_new(c->ctx, "get", NULL);
	xmpp_stanza_set_to(iq, c->cfg->xmpp.user_domains.v[0]);
	xmpp_stanza_add_child_ex(iq, comp_elem(c, "ping", "urn:xmpp:ping"), 0);
	p = g_new0(struct ping_ctx, 1);
	p->o = o;
	p->generation = o->generation;
	if (comp_send_iq(c, iq, ping_reply, p, PING_TIMEOUT_MS) != 0) {
		g_free(p);
		o->busy = false;
		g_array_set_size(o->ids, 0);
	}
	xmpp_stanza_release(iq);
}

void comp_outcomes_poll(struct outcomes *o)
{
	struct comp *c = o->c;
	struct queue_event *evs = NULL;
	size_t n = 0;

	if (o->busy || o->marking || !c->connected || !c->startup_done)
		return;
	if (queue_event_fetch_undelivered(c->q, BATCH_MAX, &evs, &n) != 0 || !n)
		return;
	o->busy = true;
	for (size_t i = 0; i < n; i++) {
		g_array_append_val(o->ids, evs[i].id);
		if (deliver(o, &evs[i]))
			o->uploads++;
	}
	queue_event_array_free(evs, n);
	if (!o->uploads)
		send_ping(o);
}
