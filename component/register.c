/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * In-band registration (XEP-0077) of a user's phone, with a data form
 * (XEP-0004) and the legacy <phone/> field, plus the actions the ad-hoc
 * commands share. A new or changed number is unverified: the bridge phones
 * it and speaks a six-digit code the user enters here. With further numbers
 * (phone2, phone3) one code is pending at a time, for the first unverified
 * number in order; entering it calls the next unverified one. The form is read
 * and checked on the loop; the rows are written on the store's thread
 * (store_call) like every other commit, and the user is answered when the
 * write is done.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "comp.h"
#include "log.h"
#include "policy.h"
#include "settings.h"
#include "store.h"

#define TAG                   "register"
#define NS_REGISTER           "jabber:iq:register"
#define VERIFY_FAILURES_MAX   5
#define VERIFY_CALLS_PER_HOUR 3
#define CODE_LEN              6

static const char *const call_when_options[] = {"offline", "away", NULL};

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];

	if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	for (size_t i = 0; i < bytes; i++)
		sprintf(out + 2 * i, "%02x", r[i]);
	return 0;
}

static int random_code(char *out)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	/* 2^32 % 10^6 is negligible bias for a code tried 5 times. */
	snprintf(out, CODE_LEN + 1, "%06u", r % 1000000u);
	return 0;
}

/*
 * Where the server does not let the component enable push for the user
 * (ejabberd 23.01 grants no IQ privilege), messages to the user's own JID
 * are caught only if the user's client enables push to the component
 * itself. The form then shows a verified user the exact stanza to send
 * from a client's XML console (docs/ejabberd.md), with the user's own node.
 */
static void push_self_help(struct comp *c, xmpp_stanza_t *x,
                           const struct queue_registration *r)
{
	struct comp_privileges *p;
	char *stanza;

	if (!r || !r->verified || !r->push_node)
		return;
	p = comp_privileges_for(c, r->jid);
	if (!p || !p->advertised || p->grants.iq_push_set)
		return;
	/* The node is hex and a domain has no quotes: nothing to escape
	 * here (the text is escaped once, as XML character data). */
	stanza =
	    g_strdup_printf("<iq type='set' id='ringbridge-push'><enable "
	                    "xmlns='urn:xmpp:push:0' jid='%s' node='%s'/></iq>",
	                    c->domain, r->push_node);
	comp_form_add_field(
	    c, x, "push-help", "fixed", NULL,
	    "Your server does not let ringbridge catch messages written to "
	    "your own address, only those written to your gateway address. "
	    "To have those phoned too, send this from your client's XML "
	    "console once; it stays enabled after you log out:",
	    false, NULL);
	comp_form_add_field(c, x, "push-enable", "fixed", NULL, stanza, false,
	                    NULL);
	g_free(stanza);
}

xmpp_stanza_t *comp_settings_form(struct comp *c,
                                  const struct queue_registration *r)
{
	xmpp_stanza_t *x = comp_form_new(
	    c, "form", "Phone calls for messages you miss",
	    "When someone writes to you while you are offline, ringbridge "
	    "phones you and reads the message. Enter your phone as an "
	    "international number (+15551234567) or a SIP address "
	    "(sip:you@pbx.example.org). A new number gets a call with a "
	    "code: enter it in the code field.");
	char quiet[16] = "", wait[16];
	char ring[SETTINGS_RING_THROUGH_MAX *
	          (SETTINGS_RING_THROUGH_LEN_MAX + 2)] = "";

	if (r)
		settings_quiet_format(r, quiet, sizeof(quiet));
	comp_form_add_field(c, x, "FORM_TYPE", "hidden", NULL, NS_REGISTER,
	                    false, NULL);
	comp_form_add_field(c, x, SETTINGS_PHONE, "text-single",
	                    "Phone number or SIP address", r ? r->phone : NULL,
	                    true, NULL);
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++) {
		bool have = r && r->phone_more[i];

		comp_form_add_field(
		    c, x, settings_phone_more_fields[i], "text-single",
		    !have ? (i ? "Third number, tried after the second "
		                 "(optional)"
		               : "Second number, tried at once if the first "
		                 "does not answer (optional)")
		    : r->verified_more[i]
		        ? (i ? "Third number (verified)"
		             : "Second number (verified)")
		        : (i ? "Third number (not verified yet)"
		             : "Second number (not verified "
		               "yet)"),
		    have ? r->phone_more[i] : "", false, NULL);
	}
	comp_form_add_field(c, x, SETTINGS_CODE, "text-single",
	                    "Verification code (from the call)", NULL, false,
	                    NULL);
	comp_form_add_field(c, x, SETTINGS_TZ, "text-single",
	                    "Time zone (e.g. Europe/Paris)",
	                    r && r->tz ? r->tz : "UTC", false, NULL);
	comp_form_add_field(
	    c, x, SETTINGS_CALL_WHEN, "list-single", "Call me when I am",
	    r && r->call_when == QUEUE_CALL_AWAY ? "away" : "offline", false,
	    call_when_options);
	comp_form_add_field(c, x, SETTINGS_QUIET, "text-single",
	                    "Quiet hours, no calls (HH:MM-HH:MM)", quiet, false,
	                    NULL);
	comp_form_add_field(c, x, SETTINGS_LANG, "text-single", "Language",
	                    r && r->lang ? r->lang : "en", false, NULL);
	comp_form_add_field(c, x, SETTINGS_ROSTER_ONLY, "boolean",
	                    "Only for messages from my contacts",
	                    r && r->roster_only ? "1" : "0", false, NULL);
	comp_form_add_field(c, x, SETTINGS_SIP_PRESENCE, "text-single",
	                    "SIP address for presence (optional)",
	                    r && r->sip_presence ? r->sip_presence : "", false,
	                    NULL);
	snprintf(wait, sizeof(wait), "%d", r ? r->wait_minutes : 0);
	comp_form_add_field(c, x, SETTINGS_WAIT, "text-single",
	                    SETTINGS_WAIT_LABEL, wait, false, NULL);
	if (r)
		settings_ring_through_format(r, ring, sizeof(ring));
	comp_form_add_field(c, x, SETTINGS_RING_THROUGH, "text-single",
	                    SETTINGS_RING_THROUGH_LABEL, ring, false, NULL);
	comp_form_add_field(
	    c, x, SETTINGS_QUIET_MODE, "list-single", SETTINGS_QUIET_MODE_LABEL,
	    r && r->quiet_mode == QUEUE_QUIET_DROP ? "never" : "later", false,
	    settings_quiet_mode_options);
	comp_form_add_field(
	    c, x, SETTINGS_GATE, "list-single", SETTINGS_GATE_LABEL,
	    settings_gate_name(r ? r->gate : QUEUE_GATE_DEFAULT), false,
	    settings_gate_options);
	push_self_help(c, x, r);
	return x;
}

static void register_get(struct comp *c, xmpp_stanza_t *iq, const char *bare)
{
	struct queue_registration r = {0};
	bool have = queue_registration_get(c->q, bare, &r) == 0;
	xmpp_stanza_t *q = comp_elem(c, "query", NS_REGISTER);

	if (have)
		xmpp_stanza_add_child_ex(q, comp_elem(c, "registered", NULL),
		                         0);
	comp_add_text_child(c, q, "instructions",
	                    "Use the form to register the phone ringbridge "
	                    "calls when you miss a message.");
	comp_add_text_child(c, q, "phone", have ? r.phone : "");
	xmpp_stanza_add_child_ex(q, comp_settings_form(c, have ? &r : NULL), 0);
	comp_iq_result(c, iq, q);
	xmpp_stanza_release(q);
	queue_registration_clear(&r);
}

static void enable_push_if_ready(struct comp *c,
                                 const struct queue_registration *r)
{
	/* Also disables: a changed number is unverified until its code. */
	comp_push_sync(c, r->jid, r);
	comp_registration_changed(c, r->jid);
}

/* ---- the writes, on the store's thread ---- */

enum reg_kind { REG_SETTINGS, REG_VERIFY, REG_UNREGISTER };

/* What the writer's thread decided, for the loop to word. */
enum reg_verdict {
	REG_DONE = 0,
	REG_NOT_REGISTERED, /* VERIFY, UNREGISTER: no row */
	REG_READ_FAILED,    /* VERIFY, UNREGISTER: the row cannot be read */
	REG_TOO_MANY_CALLS, /* SETTINGS: verification calls this hour */
	REG_ALREADY,        /* VERIFY: verified before */
	REG_LOCKED,         /* VERIFY: too many wrong codes */
	REG_NO_CODE,        /* VERIFY: a further number awaits its code call */
	REG_WRONG_CODE,     /* VERIFY */
};

/*
 * One action on its way through the writer's thread. The writer decides
 * and writes in one step, so two submissions in one batch see each other
 * (a wrong code counts once per try, a rate limit sees the call queued
 * just before). Between store_call and reg_done it belongs to the writer.
 */
struct reg_op {
	enum reg_kind kind;
	char *bare;
	/* SETTINGS: the row to write; VERIFY: the row read on the writer */
	struct queue_registration r;
	bool existed, changed; /* SETTINGS */
	/* SETTINGS: a code call to TARGET is queued with the row; VERIFY:
	 * TARGET is the number the code verified, NEXT the number called
	 * next with a fresh code (NULL: none) */
	bool call;
	char *target, *next;
	char *code;       /* VERIFY: entered; SETTINGS: to check once saved */
	int64_t since_ms; /* the rate limit's window start */
	/* results */
	enum reg_verdict verdict;
	int cancelled; /* UNREGISTER: pending calls cancelled */
	struct comp_action_result res;
	comp_action_done_cb done;
	void *arg;
};

static void reg_op_free(struct reg_op *op)
{
	queue_registration_clear(&op->r);
	g_free(op->bare);
	g_free(op->code);
	g_free(op->target);
	g_free(op->next);
	g_free(op);
}

/* Whether another verification call for OP's user stays within the
 * hourly limit. */
static bool verify_call_allowed(struct queue *q, const struct reg_op *op)
{
	int recent = 0;
	int err =
	    queue_jobs_created_since(q, op->bare, NULL, op->since_ms, &recent);

	return err || recent < VERIFY_CALLS_PER_HOUR;
}

/* A fresh code in R; false when no randomness is to be had. */
static bool verify_code_fresh(struct queue_registration *r)
{
	char fresh[CODE_LEN + 1];

	if (random_code(fresh))
		return false;
	r->verify_failures = 0;
	free(r->verify_code);
	r->verify_code = strdup(fresh);
	return r->verify_code != NULL;
}

/* The form field that holds NUMBER, one of R's numbers. */
static const char *phone_field(const struct queue_registration *r,
                               const char *number)
{
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++)
		if (number && r->phone_more[i] &&
		    !strcmp(r->phone_more[i], number))
			return settings_phone_more_fields[i];
	return SETTINGS_PHONE;
}

static int settings_run(struct queue *q, struct reg_op *op)
{
	int err;

	if (op->call && !verify_call_allowed(q, op)) {
		op->verdict = REG_TOO_MANY_CALLS;
		return 0;
	}
	err = queue_registration_put(q, &op->r);
	if (!err && op->call)
		err = queue_verify_enqueue(q, op->bare, op->target,
		                           op->r.verify_code, op->r.lang, NULL);
	return err;
}

static int verify_run(struct queue *q, struct reg_op *op)
{
	struct queue_registration *r = &op->r;
	int err = queue_registration_get(q, op->bare, r);
	const char *target, *next;

	if (err) {
		op->verdict =
		    err == -ENOENT ? REG_NOT_REGISTERED : REG_READ_FAILED;
		return 0;
	}
	target = settings_unverified_phone(r);
	if (!target) {
		op->verdict = REG_ALREADY;
		return 0;
	}
	if (!r->verify_code) {
		/* Its call was over the hourly limit (verify_run below). */
		op->verdict = REG_NO_CODE;
		op->target = g_strdup(target);
		return 0;
	}
	if (r->verify_failures >= VERIFY_FAILURES_MAX) {
		op->verdict = REG_LOCKED;
		return 0;
	}
	if (strlen(op->code) != CODE_LEN ||
	    CRYPTO_memcmp(op->code, r->verify_code, CODE_LEN) != 0) {
		r->verify_failures++;
		op->verdict = REG_WRONG_CODE;
		/* Counted if it can be; the answer is "wrong" either way. */
		(void)queue_registration_put(q, r);
		return 0;
	}
	op->target = g_strdup(target);
	settings_phone_verified(r, op->target);
	r->verify_failures = 0;
	free(r->verify_code);
	r->verify_code = NULL;
	/* The next unverified number gets its code call now; over the
	 * hourly limit it waits for the form to be sent again. */
	next = settings_unverified_phone(r);
	if (next && verify_call_allowed(q, op) && verify_code_fresh(r))
		op->next = g_strdup(next);
	err = queue_registration_put(q, r);
	if (!err && op->next)
		err = queue_verify_enqueue(q, op->bare, op->next,
		                           r->verify_code, r->lang, NULL);
	return err;
}

static int unregister_run(struct queue *q, struct reg_op *op)
{
	int err = queue_registration_get(q, op->bare, &op->r);

	if (err) {
		op->verdict =
		    err == -ENOENT ? REG_NOT_REGISTERED : REG_READ_FAILED;
		return 0;
	}
	err = queue_registration_delete(q, op->bare);
	if (!err)
		err = queue_job_cancel_for(q, op->bare, &op->cancelled);
	return err;
}

static int reg_run(struct queue *q, void *arg)
{
	struct reg_op *op = arg;

	op->verdict = REG_DONE;
	switch (op->kind) {
	case REG_SETTINGS:
		return settings_run(q, op);
	case REG_VERIFY:
		return verify_run(q, op);
	case REG_UNREGISTER:
		return unregister_run(q, op);
	}
	return -EINVAL;
}

/* ---- the answers, back on the loop ---- */

static void result_fail(struct comp_action_result *res, int err,
                        const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void result_fail(struct comp_action_result *res, int err,
                        const char *cond, const char *fmt, ...)
{
	va_list ap;

	res->err = err;
	res->cond = cond;
	va_start(ap, fmt);
	vsnprintf(res->why, sizeof(res->why), fmt, ap);
	va_end(ap);
}

static void settings_done(struct reg_op *op, int err)
{
	struct comp_action_result *res = &op->res;

	if (!err && op->verdict == REG_TOO_MANY_CALLS) {
		result_fail(res, -EAGAIN, "resource-constraint",
		            "%s: too many calls to verify numbers in the "
		            "last hour; try again later",
		            phone_field(&op->r, op->target));
		return;
	}
	if (err) {
		result_fail(res, err, "internal-server-error",
		            "the registration could not be saved");
		log_err(TAG, "saving the registration of %s failed: %s",
		        op->bare, strerror(-err));
		return;
	}
	log_info(TAG, "%s %s, phone %s%s%s", op->bare,
	         op->existed ? "changed settings" : "registered", op->r.phone,
	         op->call ? "; verification call queued to " : "",
	         op->call ? op->target : "");
	if (op->call)
		snprintf(res->note, sizeof(res->note),
		         "Settings saved. ringbridge is calling %s now to "
		         "give you a code: enter it in the code field.",
		         op->target);
}

static void verify_done(struct comp *c, struct reg_op *op, int err)
{
	struct comp_action_result *res = &op->res;
	struct queue_registration *r = &op->r;

	switch (err ? REG_DONE : op->verdict) {
	case REG_NOT_REGISTERED:
	case REG_READ_FAILED:
		result_fail(res, -ENOENT,
		            op->verdict == REG_NOT_REGISTERED
		                ? "registration-required"
		                : "internal-server-error",
		            "%s: register a phone first", SETTINGS_CODE);
		return;
	case REG_ALREADY:
		return;
	case REG_LOCKED:
		result_fail(res, -EPERM, "not-allowed",
		            "%s: too many wrong codes; submit your phone "
		            "number again to get a new call",
		            SETTINGS_CODE);
		return;
	case REG_NO_CODE:
		result_fail(res, -EAGAIN, "not-allowed",
		            "%s: no code was sent to %s yet (too many calls "
		            "this hour); send the form again later to get "
		            "the call",
		            SETTINGS_CODE, op->target);
		return;
	case REG_WRONG_CODE:
		result_fail(res, -EINVAL, "not-acceptable",
		            "%s: wrong verification code (%d tries left)",
		            SETTINGS_CODE,
		            VERIFY_FAILURES_MAX - r->verify_failures);
		log_info(TAG, "%s entered a wrong verification code", op->bare);
		return;
	default:
		break;
	}
	if (err) {
		result_fail(res, err, "internal-server-error",
		            "the registration could not be saved");
		return;
	}
	log_info(TAG, "%s verified %s%s%s", op->bare, op->target,
	         op->next ? "; verification call queued to " : "",
	         op->next ? op->next : "");
	if (!op->next && settings_unverified_phone(r))
		log_info(TAG,
		         "%s: no code call to %s yet (hourly limit); the "
		         "form sent again makes it",
		         op->bare, settings_unverified_phone(r));
	enable_push_if_ready(c, r);
}

static void unregister_done(struct comp *c, struct reg_op *op, int err)
{
	struct comp_action_result *res = &op->res;

	if (!err && op->verdict != REG_DONE) {
		result_fail(res, -ENOENT,
		            op->verdict == REG_NOT_REGISTERED
		                ? "item-not-found"
		                : "internal-server-error",
		            "not registered");
		return;
	}
	if (err) {
		result_fail(res, err, "internal-server-error",
		            "the registration could not be removed");
		return;
	}
	comp_push_sync(c, op->bare, NULL);
	comp_registration_changed(c, op->bare);
	log_info(TAG, "%s unregistered (%d pending calls cancelled)", op->bare,
	         op->cancelled);
}

/* A settings form that also carried a code (and kept the number): the
 * code is checked once the settings are saved. */
static void settings_then_verify(struct comp *c,
                                 const struct comp_action_result *res,
                                 void *arg)
{
	struct reg_op *op = arg;

	op->res = *res;
	if (!res->err)
		snprintf(op->res.note, sizeof(op->res.note),
		         "Settings saved and phone verified.");
	op->done(c, &op->res, op->arg);
	reg_op_free(op);
}

static void reg_done(struct comp *c, int err, void *arg)
{
	struct reg_op *op = arg;

	switch (op->kind) {
	case REG_SETTINGS:
		settings_done(op, err);
		if (!op->res.err && !op->call && op->code && *op->code) {
			/* The first op waits for the second, then answers. */
			comp_verify_submit(c, op->bare, op->code,
			                   settings_then_verify, op);
			return;
		}
		if (!op->res.err)
			enable_push_if_ready(c, &op->r);
		break;
	case REG_VERIFY:
		verify_done(c, op, err);
		break;
	case REG_UNREGISTER:
		unregister_done(c, op, err);
		break;
	}
	op->done(c, &op->res, op->arg);
	reg_op_free(op);
}

static struct reg_op *reg_op_new(enum reg_kind kind, const char *bare,
                                 comp_action_done_cb done, void *arg)
{
	struct reg_op *op = g_new0(struct reg_op, 1);

	op->kind = kind;
	op->bare = g_strdup(bare);
	op->done = done;
	op->arg = arg;
	op->res.cond = "bad-request";
	return op;
}

/* Answers OP at once (nothing to write) and frees it. */
static void reg_op_answer(struct comp *c, struct reg_op *op)
{
	op->done(c, &op->res, op->arg);
	reg_op_free(op);
}

void comp_settings_submit(struct comp *c, const char *bare,
                          const struct comp_form *form,
                          const char *legacy_phone, comp_action_done_cb done,
                          void *arg)
{
	struct reg_op *op = reg_op_new(REG_SETTINGS, bare, done, arg);
	struct queue_registration *r = &op->r;
	struct comp_action_result *res = &op->res;
	struct settings_input in = {0};
	struct comp_privileges *p = comp_privileges_for(c, bare);
	const char *target;
	char *pending = NULL;
	int err;

	snprintf(res->note, sizeof(res->note), "%s", "Settings saved.");
	err = queue_registration_get(c->q, bare, r);
	if (err && err != -ENOENT) {
		result_fail(res, err, "internal-server-error",
		            "the queue cannot be read");
		reg_op_answer(c, op);
		return;
	}
	op->existed = err == 0;
	if (!op->existed) {
		r->jid = strdup(bare);
		r->quiet_start = r->quiet_end = -1;
		r->gate = QUEUE_GATE_DEFAULT;
	}
	in.phone = form ? comp_form_get(form, SETTINGS_PHONE) : legacy_phone;
	in.tz = comp_form_get(form, SETTINGS_TZ);
	in.call_when = comp_form_get(form, SETTINGS_CALL_WHEN);
	in.quiet_hours = comp_form_get(form, SETTINGS_QUIET);
	in.lang = comp_form_get(form, SETTINGS_LANG);
	in.roster_only = comp_form_get(form, SETTINGS_ROSTER_ONLY);
	in.sip_presence = comp_form_get(form, SETTINGS_SIP_PRESENCE);
	in.gate = comp_form_get(form, SETTINGS_GATE);
	in.wait_minutes = comp_form_get(form, SETTINGS_WAIT);
	in.ring_through = comp_form_get(form, SETTINGS_RING_THROUGH);
	in.quiet_mode = comp_form_get(form, SETTINGS_QUIET_MODE);
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++)
		in.phone_more[i] =
		    comp_form_get(form, settings_phone_more_fields[i]);
	/* The number a code already pending is for: another code is sent
	 * only when that changes. */
	if (r->verify_code && settings_unverified_phone(r))
		pending = g_strdup(settings_unverified_phone(r));
	/* A form that repeats the current number is not a change. */
	err = settings_apply(c->cfg, &in, p && p->grants.roster_get, r,
	                     &op->changed, res->why, sizeof(res->why));
	if (err) {
		res->err = err;
		res->cond = "not-acceptable";
		g_free(pending);
		reg_op_answer(c, op);
		return;
	}
	if (!r->push_node) {
		char node[33];

		if (random_hex(node, 16) == 0)
			r->push_node = strdup(node);
	}
	if (op->changed)
		r->verified = false;
	target = settings_unverified_phone(r);
	op->call = target && (!pending || strcmp(pending, target) != 0);
	g_free(pending);
	if (op->call) {
		if (!verify_code_fresh(r)) {
			result_fail(res, -EIO, "internal-server-error",
			            "no randomness for a code");
			reg_op_answer(c, op);
			return;
		}
		op->target = g_strdup(target);
		/* The rate limit's window is the queue's wall clock. */
		op->since_ms = clock_real_ms() - 3600 * 1000;
	}
	op->code = g_strdup(comp_form_get(form, SETTINGS_CODE));
	store_call(c->store, reg_run, op, reg_done);
}

void comp_verify_submit(struct comp *c, const char *bare, const char *code,
                        comp_action_done_cb done, void *arg)
{
	struct reg_op *op = reg_op_new(REG_VERIFY, bare, done, arg);

	op->code = g_strdup(code ? code : "");
	/* For the next number's code call, if there is one. */
	op->since_ms = clock_real_ms() - 3600 * 1000;
	store_call(c->store, reg_run, op, reg_done);
}

void comp_unregister(struct comp *c, const char *bare, comp_action_done_cb done,
                     void *arg)
{
	store_call(c->store, reg_run,
	           reg_op_new(REG_UNREGISTER, bare, done, arg), reg_done);
}

/* ---- XEP-0077 ---- */

/* The IQ being answered, held until its action is done. */
static void iq_answer(struct comp *c, const struct comp_action_result *res,
                      void *arg)
{
	xmpp_stanza_t *iq = arg;

	if (res->err)
		comp_iq_error(c, iq, comp_error_type(res->cond), res->cond,
		              res->why);
	else
		comp_iq_result(c, iq, NULL);
	xmpp_stanza_release(iq);
}

void comp_register_handle(struct comp *c, xmpp_stanza_t *iq)
{
	const char *type = xmpp_stanza_get_type(iq);
	char *bare = comp_jid_bare(xmpp_stanza_get_from(iq));
	xmpp_stanza_t *q =
	    xmpp_stanza_get_child_by_name_and_ns(iq, "query", NS_REGISTER);
	struct comp_form *form = NULL;
	char *legacy = NULL;

	if (!bare || !policy_jid_is_local(c->cfg, bare)) {
		comp_iq_error(c, iq, "cancel", "forbidden",
		              "only users of this server's domains may "
		              "register");
		goto out;
	}
	if (!strcmp(type, "get")) {
		register_get(c, iq, bare);
		goto out;
	}
	if (xmpp_stanza_get_child_by_name(q, "remove")) {
		comp_unregister(c, bare, iq_answer, xmpp_stanza_clone(iq));
		goto out;
	}
	form = comp_form_parse(q);
	if (form && strcmp(comp_form_type(form), "submit") != 0) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "the data form must be of type submit");
		goto out;
	}
	legacy = form ? NULL : comp_child_text(q, "phone");
	if (!form && !legacy) {
		comp_iq_error(c, iq, "modify", "bad-request",
		              "phone: missing (send the data form or a "
		              "<phone/> element)");
		goto out;
	}
	if (form && !comp_form_has(form, SETTINGS_PHONE) &&
	    comp_form_get(form, SETTINGS_CODE)) {
		/* Only a code: the verification step. */
		comp_verify_submit(c, bare, comp_form_get(form, SETTINGS_CODE),
		                   iq_answer, xmpp_stanza_clone(iq));
		goto out;
	}
	comp_settings_submit(c, bare, form, legacy, iq_answer,
	                     xmpp_stanza_clone(iq));
out:
	comp_form_free(form);
	g_free(legacy);
	g_free(bare);
}
