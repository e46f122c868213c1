/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * ringbridgectl: the operator's command line over the queue. It registers
 * and unregisters users (an operator's registration counts as verified),
 * and lists users, jobs and calls. Every change goes through the queue
 * library and ends with a wake-up on QUEUE_CH_REGISTRATIONS, so a running
 * component picks it up at once. Exit status: 0 done, 1 refused or failed
 * (the reason on stderr), 2 bad usage, 78 a bad configuration file.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "config.h"
#include "log.h"
#include "phone.h"
#include "policy.h"
#include "queue.h"
#include "summary.h"

#define EXIT_FAIL  1
#define EXIT_USAGE CLI_EXIT_USAGE

/* How many finished calls "calls" shows. */
#define RECENT_CALLS 20

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ringbridgectl [-c|--config FILE] COMMAND [ARGS]\n"
	        "\n"
	        "commands:\n"
	        "  register JID PHONE [PHONE...]  register (or change) a "
	        "user's phones, up\n"
	        "                       to %d, tried in order, as verified; "
	        "PHONE is +E164\n"
	        "                       or a sip:/sips: URI\n"
	        "  unregister JID       remove a user and cancel their "
	        "pending calls\n"
	        "  users                list registered users\n"
	        "  jobs [--all] [JID]   list pending jobs (--all: finished "
	        "ones too)\n"
	        "  calls                calls in progress and the last %d "
	        "finished\n"
	        "  test-call [--gate on|off] [--lang TAG] [--then PHONE2]... "
	        "PHONE [TEXT]\n"
	        "                       queue a call to PHONE (then PHONE2...) "
	        "that reads\n"
	        "                       TEXT (to test the SIP side; the "
	        "policy applies);\n"
	        "                       --gate overrides [calls] gate for "
	        "this call,\n"
	        "                       --lang speaks it in language TAG;\n"
	        "                       PHONE - reads \"PHONE [TEXT]\" lines "
	        "from stdin,\n"
	        "                       one call each\n"
	        "  migrate-queue [--into-non-empty] FROM TO  copy the queue at "
	        "URL FROM\n"
	        "                       (sqlite:PATH or postgresql://...) into "
	        "TO, ids kept,\n"
	        "                       in one transaction; TO must be empty "
	        "unless told;\n"
	        "                       stop every ringbridge process first\n"
	        "  status [SEARCH]      the summary of the /status page: "
	        "session, bridges,\n"
	        "                       calls, jobs, outcomes, registrations "
	        "(SEARCH: whose\n"
	        "                       JID or phone contains it), calls "
	        "per hour\n"
	        "  check [--config-only]  check the configuration, the queue, "
	        "the XMPP\n"
	        "                       server (and what it granted) and the "
	        "SIP next hop\n"
	        "\n"
	        "options:\n"
	        "  -c, --config FILE    the configuration file (default: "
	        "built-in defaults)\n"
	        "  -h, --help           this text\n"
	        "  -V, --version        the version\n",
	        QUEUE_PHONES_MAX, RECENT_CALLS);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fputs("ringbridgectl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- tables ---------------------------------------------------------------
 */

/*
 * Rows are collected, then printed with columns as wide as their widest
 * cell. Cells hold text from the network (JIDs, reasons, names): control
 * characters are shown as '?' so nothing reaches the terminal as an escape.
 */
#define TABLE_COLS 10

struct table {
	size_t ncols;
	const char *head[TABLE_COLS];
	char **cells; /* nrows * ncols, owned */
	size_t nrows, cap;
	int err;
};

static char *cell_clean(const char *s)
{
	char *d = strdup(s ? s : "-");
	unsigned char *p;

	if (!d)
		return NULL;
	for (p = (unsigned char *)d; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return d;
}

/* Adds a row of T->ncols cells (NULL shows as "-"). */
static void table_row(struct table *t, ...)
{
	va_list ap;
	size_t i;

	if (t->err)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c) {
			t->err = -ENOMEM;
			return;
		}
		t->cells = c;
		t->cap = cap;
	}
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++) {
		char *c = cell_clean(va_arg(ap, const char *));

		if (!c)
			t->err = -ENOMEM;
		t->cells[t->nrows * t->ncols + i] = c;
	}
	va_end(ap);
	t->nrows++;
}

/* Byte width; good enough for the mostly-ASCII cells we print. */
static size_t width(const char *s)
{
	return s ? strlen(s) : 1;
}

/* A cell padded to W, or the last one of its line without padding. */
static void print_cell(const char *s, size_t w, bool last)
{
	if (last)
		printf("%s\n", s ? s : "-");
	else
		printf("%-*s  ", (int)w, s ? s : "-");
}

static void table_print(struct table *t)
{
	size_t w[TABLE_COLS], r, c;

	for (c = 0; c < t->ncols; c++)
		w[c] = strlen(t->head[c]);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			size_t n = width(t->cells[r * t->ncols + c]);

			if (n > w[c])
				w[c] = n;
		}
	}
	for (c = 0; c < t->ncols; c++)
		print_cell(t->head[c], w[c], c + 1 == t->ncols);
	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++)
			print_cell(t->cells[r * t->ncols + c], w[c],
			           c + 1 == t->ncols);
	}
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- formatting -------------------------------------------------------------
 */

/* Local time "YYYY-MM-DD HH:MM:SS", or "-" for 0. */
static const char *fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || !localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		return "-";
	return buf;
}

static const char *fmt_int(long long v, char *buf, size_t len)
{
	snprintf(buf, len, "%lld", v);
	return buf;
}

/* "22:00-07:00", or "-" when none. */
static const char *fmt_quiet(int start, int end, char *buf, size_t len)
{
	if (start < 0 || end < 0 || start >= 1440 || end >= 1440)
		return "-";
	snprintf(buf, len, "%02d:%02d-%02d:%02d", (start / 60) % 24, start % 60,
	         (end / 60) % 24, end % 60);
	return buf;
}

/* ---- commands
 * ----------------------------------------------------------------- */

struct ctl {
	struct config *cfg;
	struct queue *q;
};

/* The JID as a registration key: lowercase ASCII (what servers send after
 * PRECIS case mapping), "local@domain" with no resource. Returns a new
 * string, or NULL with *WHY set. */
static char *jid_key(const char *in, const char **why)
{
	char *jid;
	size_t i;

	if (strlen(in) > QUEUE_JID_MAX) {
		*why = "too long";
		return NULL;
	}
	if (strchr(in, '/')) {
		*why = "give the bare JID (user@domain), without a resource";
		return NULL;
	}
	jid = strdup(in);
	if (!jid) {
		*why = "out of memory";
		return NULL;
	}
	for (i = 0; jid[i]; i++)
		jid[i] = (char)tolower((unsigned char)jid[i]);
	if (!policy_bare_jid_valid(jid)) {
		*why = "not a bare JID (user@domain)";
		free(jid);
		return NULL;
	}
	return jid;
}

/*
 * Opens the queue the first time a command needs it, after its arguments
 * were checked, so a refused command creates no database. The queue logs
 * its own failures; ours is one line naming the setting.
 */
static int ctl_open(struct ctl *c)
{
	int err;

	if (c->q)
		return 0;
	err = queue_password_file_set(c->cfg->queue.password_file);
	if (!err)
		err = queue_open(&c->q, c->cfg->queue.url);
	if (err)
		fail("cannot open the queue ([queue] url): %s", strerror(-err));
	return err;
}

/* Whether URL carries a password, which a command line shows to every
 * user of the host (ps): user:password@ or a password= parameter. */
static bool url_has_password(const char *url)
{
	const char *p = strstr(url, "://"), *at, *colon;

	if (strstr(url, "password="))
		return true;
	if (!p)
		return false;
	p += 3;
	at = strchr(p, '@');
	colon = strchr(p, ':');
	return at && colon && colon < at;
}

/* Opens the queue at URL for migrate-queue; SOURCE must exist already
 * (a mistyped SQLite path would otherwise be created, empty). */
static int migrate_open(struct ctl *c, const char *url, bool source,
                        struct queue **qp)
{
	int err;

	if (url_has_password(url)) {
		fail("%s names a password: put it in [queue] password_file or "
		     "libpq's PGPASSFILE instead",
		     source ? "FROM" : "TO");
		return -EINVAL;
	}
	if (source && !strncmp(url, "sqlite:", 7) &&
	    access(url + 7, R_OK) != 0) {
		fail("FROM: %s: %s", url + 7, strerror(errno));
		return -ENOENT;
	}
	err = queue_password_file_set(c->cfg->queue.password_file);
	if (!err)
		err = queue_open(qp, url);
	if (err)
		fail("cannot open the %s queue: %s", source ? "FROM" : "TO",
		     strerror(-err));
	return err;
}

static int cmd_migrate_queue(struct ctl *c, const char *from_url,
                             const char *to_url, bool into_non_empty)
{
	struct queue_copy_count counts[QUEUE_COPY_TABLES];
	struct queue *from = NULL, *to = NULL;
	size_t n = QUEUE_COPY_TABLES;
	int64_t copied = 0, skipped = 0;
	int err;

	err = migrate_open(c, from_url, true, &from);
	if (!err)
		err = migrate_open(c, to_url, false, &to);
	if (!err)
		err = queue_copy(from, to, into_non_empty, counts, &n);
	if (err == -ENOTEMPTY)
		fail("TO already holds a queue: nothing copied (add "
		     "--into-non-empty to add what it lacks)");
	else if (err == -EPROTO)
		fail("the two queues' schemas are not the one this build "
		     "copies: nothing copied");
	else if (err && from && to)
		fail("copying the queue: %s: nothing copied", strerror(-err));
	for (size_t i = 0; !err && i < n; i++) {
		printf("%-22s %8lld copied %8lld already there\n",
		       counts[i].table, (long long)counts[i].copied,
		       (long long)counts[i].skipped);
		copied += counts[i].copied;
		skipped += counts[i].skipped;
	}
	if (!err)
		printf("%-22s %8lld copied %8lld already there\n", "total",
		       (long long)copied, (long long)skipped);
	queue_close(from);
	queue_close(to);
	return err ? EXIT_FAIL : 0;
}

static int random_hex(char *out, size_t bytes)
{
	unsigned char r[32];
	size_t i;

	if (bytes > sizeof(r) || getrandom(r, bytes, 0) != (ssize_t)bytes)
		return -EIO;
	for (i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* PHONE in canonical form into CANON (PHONE_MAX bytes), if the policy
 * allows it; the refusal is printed. */
static int phone_check(struct ctl *c, const char *phone, char *canon)
{
	enum phone_kind kind;
	const char *why = NULL;

	if (phone_normalise(phone, canon, PHONE_MAX, &kind, &why)) {
		fail("%s: %s", phone, why ? why : "not a valid phone number");
		return -EINVAL;
	}
	if (policy_destination_check(c->cfg, canon, &why)) {
		fail("%s: %s (see [policy] %s)", canon,
		     why ? why : "not allowed",
		     kind == PHONE_E164 ? "allowed_prefixes"
		                        : "allowed_sip_domains");
		return -EPERM;
	}
	return 0;
}

/* PHONES[0..N) checked into CANON[], refusing a number given twice. */
static int phones_check(struct ctl *c, char *const *phones, int n,
                        char canon[][PHONE_MAX])
{
	for (int i = 0; i < n; i++) {
		if (phone_check(c, phones[i], canon[i]))
			return -EINVAL;
		for (int j = 0; j < i; j++) {
			if (!strcmp(canon[i], canon[j])) {
				fail("%s: given twice", canon[i]);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Registers JID_IN with PHONES[0..N) (1 to QUEUE_PHONES_MAX), tried in
 * that order, all verified: the operator vouches for them. */
static int cmd_register(struct ctl *c, const char *jid_in, char *const *phones,
                        int n)
{
	struct queue_registration r = {0};
	char canon[QUEUE_PHONES_MAX][PHONE_MAX], node[33];
	const char *why = NULL;
	char *jid;
	bool existed;
	int err, status = EXIT_FAIL;

	jid = jid_key(jid_in, &why);
	if (!jid) {
		fail("%s: %s", jid_in, why);
		return EXIT_FAIL;
	}
	if (!policy_jid_is_local(c->cfg, jid)) {
		fail("%s: its domain is not one of [xmpp] user_domains", jid);
		goto out;
	}
	if (phones_check(c, phones, n, canon))
		goto out;

	if (ctl_open(c))
		goto out;
	err = queue_registration_get(c->q, jid, &r);
	if (err && err != -ENOENT) {
		fail("reading the registration of %s: %s", jid, strerror(-err));
		goto out;
	}
	existed = err == 0;
	if (!existed) {
		r.jid = strdup(jid);
		r.quiet_start = r.quiet_end = -1;
		r.gate = QUEUE_GATE_DEFAULT;
		if (!r.jid)
			goto nomem;
	}
	free(r.phone);
	r.phone = strdup(canon[0]);
	if (!r.phone)
		goto nomem;
	for (int i = 1; i < QUEUE_PHONES_MAX; i++) {
		free(r.phone_more[i - 1]);
		r.phone_more[i - 1] = i < n ? strdup(canon[i]) : NULL;
		r.verified_more[i - 1] = i < n;
		if (i < n && !r.phone_more[i - 1])
			goto nomem;
	}
	r.verified = true;
	free(r.verify_code);
	r.verify_code = NULL;
	r.verify_failures = 0;
	if (!r.push_node) {
		if (random_hex(node, 16)) {
			fail("no randomness for a push node");
			goto out;
		}
		r.push_node = strdup(node);
		if (!r.push_node)
			goto nomem;
	}

	/* One commit, one wake-up for the component. */
	err = queue_batch_begin(c->q);
	if (!err)
		err = queue_registration_put(c->q, &r);
	if (!err)
		err = queue_notify(c->q, QUEUE_CH_REGISTRATIONS);
	if (!err)
		err = queue_batch_commit(c->q);
	if (err) {
		queue_batch_rollback(c->q);
		fail("saving the registration of %s: %s", jid, strerror(-err));
		goto out;
	}
	printf("%s %s: %s", existed ? "updated" : "registered", jid, canon[0]);
	for (int i = 1; i < n; i++)
		printf(", then %s", canon[i]);
	printf(" (verified)\n");
	status = 0;
	goto out;
nomem:
	fail("out of memory");
out:
	queue_registration_clear(&r);
	free(jid);
	return status;
}

/* A language tag as the registration form accepts it: letters, digits and
 * hyphens, a letter first, at most 35 characters (BCP 47's longest
 * common form). */
static bool lang_tag_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 35 || !((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-'))
			return false;
	}
	return true;
}

/* Queues one message job to PHONE, as if "ringbridge" had written TEXT;
 * the sender is the operator tool, so no chat outcome goes anywhere. */
static int cmd_test_call(struct ctl *c, char *const *phones, int n,
                         const char *text, int gate, const char *lang)
{
	struct queue_message_in m = {0};
	enum queue_enqueue_result res;
	char canon[QUEUE_PHONES_MAX][PHONE_MAX], idem[64] = "test-call:";
	int64_t id = 0;
	int err;

	if (phones_check(c, phones, n, canon))
		return EXIT_FAIL;
	if (random_hex(idem + strlen(idem), 16) || ctl_open(c))
		return EXIT_FAIL;
	m.callee_jid = canon[0];
	m.sender_jid = "ringbridgectl";
	m.sender_name = "ringbridge test";
	m.body = text ? text : "This is a test call.";
	m.received_ms = queue_now_ms(c->q);
	m.idem_key = idem;
	m.destination = canon[0];
	for (int i = 1; i < n; i++)
		m.destination_more[i - 1] = canon[i];
	m.gate = gate;
	m.lang = lang;
	err = queue_message_enqueue(c->q, &m, NULL, &id, &res);
	if (!err)
		queue_notify(c->q, QUEUE_CH_JOBS);
	if (err) {
		fail("queueing the call: %s", strerror(-err));
		return EXIT_FAIL;
	}
	printf("job %lld queued (%s) to %s", (long long)id,
	       queue_enqueue_result_name(res), canon[0]);
	for (int i = 1; i < n; i++)
		printf(", then %s", canon[i]);
	printf("\n");
	return 0;
}

/* A line of test-call's standard input: a phone, a space, the text. */
#define TEST_CALL_LINE_MAX (PHONE_MAX + QUEUE_BODY_MAX + 2)

/* Reads one line of F into LINE (up to TEST_CALL_LINE_MAX bytes, its
 * newline and a trailing CR dropped); a longer one is read to its end.
 * Returns its length, -1 at the end of F, -2 when it was too long, -3
 * when it held a NUL. */
static long test_call_line(FILE *f, char *line)
{
	long len = 0;
	bool nul = false;
	int ch;

	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (ch == '\0')
			nul = true;
		if (len < TEST_CALL_LINE_MAX)
			line[len] = (char)ch;
		len++;
	}
	if (ch == EOF && len == 0)
		return -1;
	if (len > TEST_CALL_LINE_MAX)
		return -2;
	if (nul)
		return -3;
	if (len && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	return len;
}

/*
 * test-call with "-" for PHONE: one call per line of standard input,
 * "PHONE TEXT" (TEXT optional), each queued and committed as it is read,
 * as the component queues messages, and its "job N queued" line flushed
 * at once, so a script (test/bench/bench_bridge.py) can feed one
 * long-lived process instead of starting one per call. A bad line (too
 * long, holding a NUL, a number the policy refuses) is reported with its
 * number and skipped; the exit status says whether any was.
 */
static int cmd_test_calls(struct ctl *c, int gate, const char *lang)
{
	static char line[TEST_CALL_LINE_MAX + 1];
	char *phone, *text;
	long len, no = 0;
	int status = 0;

	while ((len = test_call_line(stdin, line)) != -1) {
		no++;
		if (len == -2 || len == -3) {
			fail("line %ld: %s", no,
			     len == -2 ? "longer than the longest text allowed"
			               : "holds a NUL byte");
			status = EXIT_FAIL;
			continue;
		}
		if (len == 0)
			continue;
		phone = line;
		text = strchr(line, ' ');
		if (text)
			*text++ = '\0';
		if (cmd_test_call(c, &phone, 1, text && *text ? text : NULL,
		                  gate, lang)) {
			fail("line %ld: not queued", no);
			status = EXIT_FAIL;
		}
		fflush(stdout);
	}
	if (ferror(stdin)) {
		fail("reading standard input: %s", strerror(errno));
		status = EXIT_FAIL;
	}
	return status;
}

static int cmd_unregister(struct ctl *c, const char *jid_in)
{
	const char *why = NULL;
	char *jid;
	int n = 0, err;

	/* Any domain: an operator may clean up after a user_domains change. */
	jid = jid_key(jid_in, &why);
	if (!jid) {
		fail("%s: %s", jid_in, why);
		return EXIT_FAIL;
	}
	if (ctl_open(c)) {
		free(jid);
		return EXIT_FAIL;
	}
	err = queue_batch_begin(c->q);
	if (!err)
		err = queue_registration_delete(c->q, jid);
	if (!err)
		err = queue_job_cancel_for(c->q, jid, &n);
	if (!err)
		err = queue_notify(c->q, QUEUE_CH_REGISTRATIONS);
	if (!err)
		err = queue_batch_commit(c->q);
	if (err) {
		queue_batch_rollback(c->q);
		if (err == -ENOENT)
			fail("%s is not registered", jid);
		else
			fail("unregistering %s: %s", jid, strerror(-err));
		free(jid);
		return EXIT_FAIL;
	}
	printf("unregistered %s; %d pending job%s cancelled\n", jid, n,
	       n == 1 ? "" : "s");
	free(jid);
	return 0;
}

static int users_row(const struct queue_registration *r, void *arg)
{
	struct table *t = arg;
	char quiet[16], then[2 * (QUEUE_TOKEN_MAX + 8)] = "";

	/* The further numbers, in order, each marked when unverified. */
	for (int i = 0; i < QUEUE_PHONES_MAX - 1 && r->phone_more[i]; i++)
		snprintf(then + strlen(then), sizeof(then) - strlen(then),
		         "%s%s%s", i ? "," : "", r->phone_more[i],
		         r->verified_more[i] ? "" : "(unverified)");
	table_row(t, r->jid, r->phone, r->verified ? "yes" : "no",
	          r->tz ? r->tz : "UTC",
	          r->call_when == QUEUE_CALL_AWAY ? "away" : "offline",
	          fmt_quiet(r->quiet_start, r->quiet_end, quiet, sizeof(quiet)),
	          then[0] ? then : "-");
	return t->err;
}

static int cmd_users(struct ctl *c)
{
	struct table t = {
	    .ncols = 7,
	    .head = {"JID", "PHONE", "VERIFIED", "TZ", "CALL WHEN",
	             "QUIET HOURS", "THEN"},
	};
	int err;

	if (ctl_open(c))
		return EXIT_FAIL;
	err = queue_registration_foreach(c->q, users_row, &t);
	if (err) {
		fail("listing users: %s", strerror(-err));
		table_free(&t);
		return EXIT_FAIL;
	}
	if (t.nrows)
		table_print(&t);
	else
		printf("no users registered\n");
	table_free(&t);
	return 0;
}

static int jobs_row(const struct queue_job *j, void *arg)
{
	struct table *t = arg;
	char id[24], n[24], att[24], next[32];

	table_row(t, fmt_int(j->id, id, sizeof(id)),
	          queue_job_kind_name(j->kind), queue_job_state_name(j->state),
	          j->callee_jid, j->sender_jid,
	          fmt_int((long long)j->n_messages, n, sizeof(n)),
	          fmt_int(j->attempts, att, sizeof(att)),
	          j->state == QUEUE_JOB_QUEUED
	              ? fmt_time(j->next_attempt_ms > j->not_before_ms
	                             ? j->next_attempt_ms
	                             : j->not_before_ms,
	                         next, sizeof(next))
	              : "-",
	          j->last_reason);
	return t->err;
}

static int cmd_jobs(struct ctl *c, bool all, const char *jid_in)
{
	struct table t = {
	    .ncols = 9,
	    .head = {"ID", "KIND", "STATE", "CALLEE", "SENDER", "MESSAGES",
	             "ATTEMPTS", "NEXT ATTEMPT", "LAST REASON"},
	};
	struct queue_job_filter f = {
	    .unfinished_only = !all,
	    .limit = 1000,
	};
	char *jid = NULL;
	int err;

	if (ctl_open(c))
		return EXIT_FAIL;
	if (jid_in) {
		jid = strdup(jid_in);
		if (!jid) {
			fail("out of memory");
			return EXIT_FAIL;
		}
		/* Gateway addresses are callees too: only fold the case. */
		for (char *p = jid; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		f.callee_jid = jid;
	}
	err = queue_job_foreach(c->q, &f, jobs_row, &t);
	free(jid);
	if (err) {
		fail("listing jobs: %s", strerror(-err));
		table_free(&t);
		return EXIT_FAIL;
	}
	if (t.nrows)
		table_print(&t);
	else
		printf("no %sjobs\n", all ? "" : "pending ");
	table_free(&t);
	return 0;
}

static int calls_active_row(const struct queue_job *j, void *arg)
{
	struct table *t = arg;
	char id[24], att[24], until[32];

	if (j->state != QUEUE_JOB_ACTIVE)
		return 0;
	table_row(t, fmt_int(j->id, id, sizeof(id)),
	          queue_job_kind_name(j->kind), j->callee_jid, j->destination,
	          fmt_int(j->attempts, att, sizeof(att)), j->lease_owner,
	          fmt_time(j->lease_deadline_ms, until, sizeof(until)));
	return t->err;
}

static int calls_done_row(const struct queue_job *j, void *arg)
{
	struct table *t = arg;
	char id[24], att[24], at[32];

	table_row(t, fmt_int(j->id, id, sizeof(id)),
	          queue_job_kind_name(j->kind), j->callee_jid, j->sender_jid,
	          queue_job_state_name(j->state),
	          fmt_int(j->attempts, att, sizeof(att)),
	          fmt_time(j->finished_ms, at, sizeof(at)), j->last_reason);
	return t->err;
}

static int cmd_calls(struct ctl *c)
{
	struct table active = {
	    .ncols = 7,
	    .head = {"ID", "KIND", "CALLEE", "DESTINATION", "ATTEMPT", "BRIDGE",
	             "LEASE UNTIL"},
	};
	struct table done_ = {
	    .ncols = 8,
	    .head = {"ID", "KIND", "CALLEE", "SENDER", "OUTCOME", "ATTEMPTS",
	             "FINISHED", "REASON"},
	};
	struct queue_job_filter f = {.unfinished_only = true, .limit = 10000};
	int err, status = EXIT_FAIL;

	if (ctl_open(c))
		return EXIT_FAIL;
	err = queue_job_foreach(c->q, &f, calls_active_row, &active);
	if (!err) {
		f.unfinished_only = false;
		f.finished_only = true;
		f.limit = RECENT_CALLS;
		err = queue_job_foreach(c->q, &f, calls_done_row, &done_);
	}
	if (err) {
		fail("listing calls: %s", strerror(-err));
		goto out;
	}
	printf("Calls in progress:\n");
	if (active.nrows)
		table_print(&active);
	else
		printf("none\n");
	printf("\nLast %d finished:\n", RECENT_CALLS);
	if (done_.nrows)
		table_print(&done_);
	else
		printf("none\n");
	status = 0;
out:
	table_free(&active);
	table_free(&done_);
	return status;
}

/* ---- status: summary.h, as the /status page shows it ------------------------
 */

static void status_component(const struct summary *s)
{
	char at[32];
	struct table t = {.ncols = 2, .head = {"DOMAIN", "PRIVILEGES"}};
	char *name = cell_clean(s->component);

	printf("Component %s: ", name ? name : "?");
	free(name);
	if (!s->have_component)
		printf("no status row yet\n");
	else if (!s->component_alive)
		printf("not running (last heartbeat %s)\n",
		       fmt_time(s->status.heartbeat_ms, at, sizeof(at)));
	else if (s->status.connected_ms > 0)
		printf("connected since %s\n",
		       fmt_time(s->status.connected_ms, at, sizeof(at)));
	else
		printf("disconnected\n");
	for (size_t i = 0; i < s->n_domains; i++)
		table_row(&t, s->domains[i].domain,
		          s->domains[i].grants ? s->domains[i].grants
		                               : "none advertised");
	table_print(&t);
	table_free(&t);
}

static void status_bridges(const struct summary *s)
{
	struct table t = {.ncols = 6,
	                  .head = {"HOST", "PID", "STARTED", "HEARTBEAT",
	                           "CALLS", "PRESENCE LEASE"}};
	char pid[24], st[32], hb[32], calls[24], until[32];

	printf("\nBridges alive: %zu\n", s->n_bridges);
	for (size_t i = 0; i < s->n_bridges; i++) {
		const struct summary_bridge *b = &s->bridges[i];

		table_row(&t, b->host, fmt_int(b->pid, pid, sizeof(pid)),
		          fmt_time(b->started_ms, st, sizeof(st)),
		          fmt_time(b->heartbeat_ms, hb, sizeof(hb)),
		          fmt_int(b->calls, calls, sizeof(calls)),
		          b->presence_lease ? "yes" : "no");
	}
	if (t.nrows)
		table_print(&t);
	table_free(&t);
	if (s->lease_owner) {
		char *owner = cell_clean(s->lease_owner);

		printf("Presence lease: %s until %s\n", owner ? owner : "?",
		       fmt_time(s->lease_deadline_ms, until, sizeof(until)));
		free(owner);
	} else {
		printf("Presence lease: nobody\n");
	}
}

static void status_jobs(const struct summary *s)
{
	struct table calls = {.ncols = 7,
	                      .head = {"ID", "KIND", "CALLEE", "DESTINATION",
	                               "ATTEMPT", "BRIDGE", "LEASE UNTIL"}};
	struct table done_ = {.ncols = 8,
	                      .head = {"ID", "KIND", "CALLEE", "SENDER",
	                               "OUTCOME", "ATTEMPTS", "FINISHED",
	                               "REASON"}};
	char id[24], att[24], at[32];

	printf("\nJobs:");
	for (int i = 0; i < QUEUE_JOB_STATES; i++)
		printf(" %s %lld", queue_job_state_name(i),
		       (long long)s->jobs[i]);
	printf("\n\nCalls in progress: %lld",
	       (long long)s->jobs[QUEUE_JOB_ACTIVE]);
	if ((int64_t)s->n_calls < s->jobs[QUEUE_JOB_ACTIVE])
		printf(" (%zu listed)", s->n_calls);
	printf("\n");
	for (size_t i = 0; i < s->n_calls; i++) {
		const struct summary_call *c = &s->calls[i];

		table_row(&calls, fmt_int(c->id, id, sizeof(id)),
		          queue_job_kind_name(c->kind), c->callee_jid,
		          c->destination,
		          fmt_int(c->attempts, att, sizeof(att)), c->bridge,
		          fmt_time(c->lease_deadline_ms, at, sizeof(at)));
	}
	if (calls.nrows)
		table_print(&calls);
	printf("\nLast outcomes (newest first): %zu\n", s->n_outcomes);
	for (size_t i = 0; i < s->n_outcomes; i++) {
		const struct summary_outcome *o = &s->outcomes[i];

		table_row(&done_, fmt_int(o->id, id, sizeof(id)),
		          queue_job_kind_name(o->kind), o->callee_jid,
		          o->sender_jid, queue_job_state_name(o->state),
		          fmt_int(o->attempts, att, sizeof(att)),
		          fmt_time(o->finished_ms, at, sizeof(at)), o->reason);
	}
	if (done_.nrows)
		table_print(&done_);
	table_free(&calls);
	table_free(&done_);
}

static void status_registrations(const struct summary *s)
{
	struct table t = {.ncols = 4,
	                  .head = {"JID", "PHONE", "VERIFIED", "UPDATED"}};
	char at[32];

	printf("\nRegistrations: %zu%s\n", s->n_registrations,
	       s->registrations_more ? " (more match: narrow the search)" : "");
	for (size_t i = 0; i < s->n_registrations; i++) {
		const struct summary_registration *r = &s->registrations[i];

		table_row(&t, r->jid, r->phone, r->verified ? "yes" : "no",
		          fmt_time(r->updated_ms, at, sizeof(at)));
	}
	if (t.nrows)
		table_print(&t);
	table_free(&t);
}

static int cmd_status(struct ctl *c, const char *search)
{
	struct summary s;
	int64_t total = 0;
	int err;

	if (search && strlen(search) > QUEUE_TOKEN_MAX) {
		fail("the search is too long");
		return EXIT_FAIL;
	}
	if (ctl_open(c))
		return EXIT_FAIL;
	err = summary_gather(&s, c->q, c->cfg, search);
	if (err) {
		fail("reading the queue: %s", strerror(-err));
		summary_clear(&s);
		return EXIT_FAIL;
	}
	status_component(&s);
	status_bridges(&s);
	status_jobs(&s);
	status_registrations(&s);
	for (size_t i = 0; i < SUMMARY_HOURS; i++)
		total += s.calls_per_hour[i];
	printf("\nCalls per hour (UTC), last %d hours, oldest first: %lld "
	       "in all\n",
	       SUMMARY_HOURS, (long long)total);
	for (size_t i = 0; i < SUMMARY_HOURS; i++) {
		time_t t = (time_t)((s.first_hour + (int64_t)i) * 3600);
		struct tm tm;

		gmtime_r(&t, &tm);
		printf("%s%02d:%lld", i ? " " : "", tm.tm_hour,
		       (long long)s.calls_per_hour[i]);
	}
	printf("\n");
	summary_clear(&s);
	return 0;
}

/* ---- main -------------------------------------------------------------------
 */

/* The command and its number of arguments (min, max). */
static const struct {
	const char *name;
	int min, max;
} commands[] = {
    {"register", 2, 1 + QUEUE_PHONES_MAX},
    {"unregister", 1, 1},
    {"users", 0, 0},
    {"jobs", 0, 2},
    {"calls", 0, 0},
    {"test-call", 1, 10},
    {"check", 0, 1},
    {"status", 0, 1},
    {"migrate-queue", 2, 3},
};

static int run(struct ctl *c, const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "register"))
		return cmd_register(c, argv[0], argv + 1, argc - 1);
	if (!strcmp(cmd, "unregister"))
		return cmd_unregister(c, argv[0]);
	if (!strcmp(cmd, "users"))
		return cmd_users(c);
	if (!strcmp(cmd, "calls"))
		return cmd_calls(c);
	if (!strcmp(cmd, "status"))
		return cmd_status(c, argc ? argv[0] : NULL);
	if (!strcmp(cmd, "test-call")) {
		int gate = QUEUE_GATE_DEFAULT;

		if (argc >= 2 && !strcmp(argv[0], "--gate")) {
			if (!strcmp(argv[1], "on"))
				gate = QUEUE_GATE_ON;
			else if (!strcmp(argv[1], "off"))
				gate = QUEUE_GATE_OFF;
			else
				argc = 0; /* usage below */
			argc -= 2;
			argv += 2;
		}
		/* --lang TAG: the callee's language, as a user's lang. */
		const char *lang = NULL;

		if (argc >= 2 && !strcmp(argv[0], "--lang")) {
			if (lang_tag_valid(argv[1]))
				lang = argv[1];
			else
				argc = 0; /* usage below */
			argc -= 2;
			argv += 2;
		}
		/* --then PHONE (up to twice): numbers tried after PHONE. */
		char *order[QUEUE_PHONES_MAX];
		int n = 1;

		while (argc >= 2 && !strcmp(argv[0], "--then") &&
		       n < QUEUE_PHONES_MAX) {
			order[n++] = argv[1];
			argc -= 2;
			argv += 2;
		}
		if (argc == 1 && n == 1 && !strcmp(argv[0], "-"))
			return cmd_test_calls(c, gate, lang);
		if (argc < 1 || argc > 2 || argv[0][0] == '-') {
			usage(stderr);
			return EXIT_USAGE;
		}
		order[0] = argv[0];
		return cmd_test_call(c, order, n, argc > 1 ? argv[1] : NULL,
		                     gate, lang);
	}
	if (!strcmp(cmd, "check")) {
		if (argc == 1 && strcmp(argv[0], "--config-only") != 0) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return check_run(c->cfg, argc == 1);
	}
	if (!strcmp(cmd, "migrate-queue")) {
		bool force = argc == 3 && !strcmp(argv[0], "--into-non-empty");

		if (argc == 3 && !force) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return cmd_migrate_queue(c, argv[argc - 2], argv[argc - 1],
		                         force);
	}
	if (!strcmp(cmd, "jobs")) {
		const char *jid = NULL;
		bool all = false;
		int i;

		for (i = 0; i < argc; i++) {
			if (!strcmp(argv[i], "--all") && !all) {
				all = true;
			} else if (argv[i][0] != '-' && !jid) {
				jid = argv[i];
			} else {
				usage(stderr);
				return EXIT_USAGE;
			}
		}
		return cmd_jobs(c, all, jid);
	}
	usage(stderr);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct ctl c = {0};
	const char *path, *cmd;
	size_t i;
	int nargs, status;

	/* Options stop at the command, whose own come after it. */
	status = cli_options(argc, argv, "ringbridgectl", true, usage, &path);
	if (status >= 0)
		return status;
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(cmd, commands[i].name))
			break;
	}
	if (i == sizeof(commands) / sizeof(commands[0])) {
		fail("unknown command \"%s\"", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (nargs < commands[i].min || nargs > commands[i].max) {
		usage(stderr);
		return EXIT_USAGE;
	}

	status = cli_config("ringbridgectl", path, &c.cfg);
	if (status)
		return status;
	status = run(&c, cmd, nargs, argv + optind + 1);
	queue_close(c.q);
	config_free(c.cfg);
	return status;
}
