/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The /status page of statuspage.h. A request is authenticated first (the
 * rate limit before the password, so a client over it learns nothing), then
 * the summary is gathered (or taken from the cache) and rendered into one
 * buffer that libmicrohttpd frees. Everything from the queue passes through
 * statuspage_html_escape(); the page has no script, no form that writes and
 * no link elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "statuspage.h"
#include "summary.h"

#define TAG "status"

/* Scrapes and reloads cost one summary every few seconds at most. */
#define CACHE_MS 3000

/* Nothing but the page itself: no script at all, styles only inline,
 * images only the inline SVG, no frame around it, forms only to itself. */
#define CSP                                                                    \
	"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "      \
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

struct auth_client {
	unsigned char addr[16]; /* IPv4 mapped into IPv6 */
	double tokens;          /* failures still allowed */
	int64_t seen_ms;        /* last failure, for refill and eviction */
};

struct statuspage {
	const struct config *cfg;
	unsigned char pw_hash[32]; /* SHA-256 of "admin:" + the password */

	pthread_mutex_t lock; /* MHD may run handlers on several threads */
	struct auth_client clients[STATUSPAGE_AUTH_CLIENTS];
	size_t n_clients;
	struct queue *q; /* this thread's, opened on first use */
	bool read_failed;
	struct summary cache;
	bool cached;
	int64_t cached_ms;
};

static void sha256(const char *a, const char *b, unsigned char out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 32;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, a, strlen(a)) ||
	    !EVP_DigestUpdate(ctx, ":", 1) ||
	    !EVP_DigestUpdate(ctx, b, strlen(b)) ||
	    !EVP_DigestFinal_ex(ctx, out, &len))
		/* A digest that matches nothing a client can send. */
		memset(out, 0xff, 32);
	EVP_MD_CTX_free(ctx);
}

/* ---- the password file ----------------------------------------------------
 */

static int password_read(const char *path, char *pw, size_t size)
{
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		err = -errno;
		log_err(TAG, "[http] admin_password_file %s: %s", path,
		        strerror(errno));
		return err;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		log_err(TAG, "[http] admin_password_file %s: not a file", path);
		err = -EINVAL;
		goto out;
	}
	if (st.st_mode & S_IROTH) {
		log_err(TAG,
		        "[http] admin_password_file %s is readable by every "
		        "user: chmod o-r it",
		        path);
		err = -EPERM;
		goto out;
	}
	n = read(fd, pw, size - 1);
	if (n < 0) {
		err = -errno;
		log_err(TAG, "[http] admin_password_file %s: %s", path,
		        strerror(errno));
		goto out;
	}
	pw[n] = '\0';
	len = strcspn(pw, "\r\n");
	if (len == 0 || len > STATUSPAGE_PASSWORD_MAX ||
	    (len == (size_t)n && (size_t)n == size - 1)) {
		log_err(TAG,
		        "[http] admin_password_file %s: the first line must "
		        "hold the password (1 to %d bytes)",
		        path, STATUSPAGE_PASSWORD_MAX);
		err = -EINVAL;
		goto out;
	}
	pw[len] = '\0';
out:
	close(fd);
	return err;
}

int statuspage_new(struct statuspage **spp, const struct config *cfg)
{
	char pw[STATUSPAGE_PASSWORD_MAX + 2];
	struct statuspage *sp;
	int err;

	*spp = NULL;
	if (!cfg->http.admin_password_file || !*cfg->http.admin_password_file)
		return 0;
	err = password_read(cfg->http.admin_password_file, pw, sizeof(pw));
	if (err)
		goto out;
	sp = calloc(1, sizeof(*sp));
	if (!sp) {
		err = -ENOMEM;
		goto out;
	}
	sp->cfg = cfg;
	sha256("admin", pw, sp->pw_hash);
	pthread_mutex_init(&sp->lock, NULL);
	*spp = sp;
out:
	explicit_bzero(pw, sizeof(pw));
	return err;
}

void statuspage_free(struct statuspage *sp)
{
	if (!sp)
		return;
	summary_clear(&sp->cache);
	queue_close(sp->q);
	pthread_mutex_destroy(&sp->lock);
	explicit_bzero(sp->pw_hash, sizeof(sp->pw_hash));
	free(sp);
}

/* ---- authentication and its limit -----------------------------------------
 */

static void client_addr(struct MHD_Connection *c, unsigned char out[16])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	memset(out, 0, 16);
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else if (sa && sa->sa_family == AF_INET) {
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
	}
}

/* ADDR's entry with its tokens refilled, a new one (evicting the entry
 * quiet the longest) when it has none. Under the lock. */
static struct auth_client *
client_find(struct statuspage *sp, const unsigned char addr[16], int64_t now)
{
	struct auth_client *a = NULL, *oldest = NULL;

	for (size_t i = 0; i < sp->n_clients; i++) {
		if (!memcmp(sp->clients[i].addr, addr, 16))
			a = &sp->clients[i];
		if (!oldest || sp->clients[i].seen_ms < oldest->seen_ms)
			oldest = &sp->clients[i];
	}
	if (!a) {
		a = sp->n_clients < STATUSPAGE_AUTH_CLIENTS
		        ? &sp->clients[sp->n_clients++]
		        : oldest;
		memcpy(a->addr, addr, 16);
		a->tokens = STATUSPAGE_AUTH_BURST;
		a->seen_ms = now;
	}
	a->tokens +=
	    (double)(now - a->seen_ms) / (STATUSPAGE_AUTH_REFILL_S * 1000.0);
	if (a->tokens > STATUSPAGE_AUTH_BURST)
		a->tokens = STATUSPAGE_AUTH_BURST;
	a->seen_ms = now;
	return a;
}

enum auth { AUTH_OK, AUTH_FAILED, AUTH_LIMITED };

static enum auth auth_check(struct statuspage *sp, struct MHD_Connection *c)
{
	unsigned char addr[16], got[32];
	struct auth_client *a;
	char *user, *pass = NULL;
	enum auth res;
	int64_t now = clock_mono_ms();

	client_addr(c, addr);
	pthread_mutex_lock(&sp->lock);
	a = client_find(sp, addr, now);
	if (a->tokens < 1) {
		pthread_mutex_unlock(&sp->lock);
		return AUTH_LIMITED;
	}
	pthread_mutex_unlock(&sp->lock);

	/* libmicrohttpd parses the header (Basic, base64). Both parts are
	 * hashed together and the digests compared in constant time, so
	 * neither the length nor a prefix of the password shows in the
	 * time the answer takes. */
	user = MHD_basic_auth_get_username_password(c, &pass);
	sha256(user ? user : "", pass ? pass : "", got);
	res = user && pass && !CRYPTO_memcmp(got, sp->pw_hash, 32)
	          ? AUTH_OK
	          : AUTH_FAILED;
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	/* A request without credentials (a browser's first) guesses
	 * nothing and costs nothing. */
	if (res == AUTH_FAILED && user) {
		pthread_mutex_lock(&sp->lock);
		a = client_find(sp, addr, now);
		a->tokens -= 1;
		pthread_mutex_unlock(&sp->lock);
	}
	if (user)
		MHD_free(user);
	return res;
}

/* ---- answers ---------------------------------------------------------------
 */

static void headers_add(struct MHD_Response *r, const char *type)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "Content-Security-Policy", CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

static struct MHD_Response *text_response(const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	if (r)
		headers_add(r, "text/plain; charset=utf-8");
	return r;
}

static enum MHD_Result text_send(struct MHD_Connection *c, unsigned status,
                                 const char *text, const char *hdr,
                                 const char *value)
{
	struct MHD_Response *r = text_response(text);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (hdr)
		MHD_add_response_header(r, hdr, value);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The summary for SEARCH, from the cache when it is fresh and for the same
 * search. Under the lock; false when the queue cannot be read. */
static bool summary_fresh(struct statuspage *sp, const char *search)
{
	int64_t now = clock_mono_ms();
	const char *had = sp->cache.search ? sp->cache.search : "";
	int err = 0;

	if (sp->cached && now - sp->cached_ms < CACHE_MS &&
	    !strcmp(had, search))
		return true;
	summary_clear(&sp->cache);
	sp->cached = false;
	if (!sp->q)
		err = queue_open(&sp->q, sp->cfg->queue.url);
	if (!err)
		err = summary_gather(&sp->cache, sp->q, sp->cfg, search);
	if (err) {
		if (!sp->read_failed)
			log_warn(TAG, "cannot read the queue for /status: %s",
			         strerror(-err));
		sp->read_failed = true;
		summary_clear(&sp->cache);
		queue_close(sp->q);
		sp->q = NULL;
		return false;
	}
	sp->read_failed = false;
	sp->cached = true;
	sp->cached_ms = now;
	return true;
}

enum MHD_Result statuspage_answer(struct statuspage *sp,
                                  struct MHD_Connection *c)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *search;
	GString *page;
	char retry[16];
	size_t len;

	switch (auth_check(sp, c)) {
	case AUTH_LIMITED:
		snprintf(retry, sizeof(retry), "%d", STATUSPAGE_AUTH_REFILL_S);
		return text_send(c, MHD_HTTP_TOO_MANY_REQUESTS,
		                 "too many failed logins from your address\n",
		                 MHD_HTTP_HEADER_RETRY_AFTER, retry);
	case AUTH_FAILED:
		r = text_response("the password of user admin is needed\n");
		if (!r)
			return MHD_NO;
		ret = MHD_queue_basic_auth_fail_response(c, "ringbridge", r);
		MHD_destroy_response(r);
		return ret;
	case AUTH_OK:
		break;
	}

	search = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "q");
	if (!search)
		search = "";
	if (strlen(search) > STATUSPAGE_SEARCH_MAX)
		return text_send(c, MHD_HTTP_BAD_REQUEST,
		                 "the search is too long\n", NULL, NULL);

	pthread_mutex_lock(&sp->lock);
	if (!summary_fresh(sp, search)) {
		pthread_mutex_unlock(&sp->lock);
		return text_send(c, MHD_HTTP_SERVICE_UNAVAILABLE,
		                 "cannot read the queue (see the component's "
		                 "log)\n",
		                 NULL, NULL);
	}
	page = g_string_sized_new(16384);
	statuspage_render(page, &sp->cache);
	pthread_mutex_unlock(&sp->lock);

	len = page->len;
	r = MHD_create_response_from_buffer(len, g_string_free(page, FALSE),
	                                    MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO;
	headers_add(r, "text/html; charset=utf-8");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- rendering (pure) ------------------------------------------------------
 */

void statuspage_html_escape(GString *out, const char *s)
{
	if (!s)
		s = "-";
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		switch (ch) {
		case '&':
			g_string_append(out, "&amp;");
			break;
		case '<':
			g_string_append(out, "&lt;");
			break;
		case '>':
			g_string_append(out, "&gt;");
			break;
		case '"':
			g_string_append(out, "&quot;");
			break;
		case '\'':
			g_string_append(out, "&#39;");
			break;
		default:
			if (ch < 0x20 || ch == 0x7f)
				g_string_append(out, "\xef\xbf\xbd");
			else
				g_string_append_c(out, (char)ch);
		}
	}
}

/* "YYYY-MM-DD HH:MM:SS" UTC of MS, "-" for none. */
static void time_append(GString *out, int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	char buf[32];

	if (ms <= 0 || !gmtime_r(&t, &tm)) {
		g_string_append(out, "-");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
	g_string_append(out, buf);
}

/* Chart geometry, in SVG user units. */
#define CH_W     480
#define CH_H     150
#define CH_TOP   10
#define CH_BASE  120 /* the bars' base line */
#define CH_LEFT  30
#define CH_BAR_W 16

void statuspage_chart_svg(GString *out, const int64_t *counts, size_t n,
                          int64_t first_hour)
{
	int64_t max = 0;
	double step;

	for (size_t i = 0; i < n; i++)
		if (counts[i] > max)
			max = counts[i];
	step = n ? (double)(CH_W - CH_LEFT) / (double)n : 0;
	g_string_append_printf(
	    out,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"calls-chart\" "
	    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" "
	    "aria-label=\"Calls per hour, last %zu hours (UTC)\">\n"
	    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#888\"/>\n"
	    "<text x=\"0\" y=\"%d\" font-size=\"10\">%" PRId64 "</text>\n"
	    "<text x=\"0\" y=\"%d\" font-size=\"10\">0</text>\n",
	    CH_W, CH_H, CH_W, CH_H, n, CH_LEFT, CH_BASE, CH_W, CH_BASE,
	    CH_TOP + 8, max, CH_BASE);
	for (size_t i = 0; i < n; i++) {
		time_t t = (time_t)((first_hour + (int64_t)i) * 3600);
		double h =
		    max ? (double)counts[i] * (CH_BASE - CH_TOP) / (double)max
		        : 0;
		double x = CH_LEFT + (double)i * step + (step - CH_BAR_W) / 2;
		char hour[24], label[8];
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(hour, sizeof(hour), "%Y-%m-%dT%H", &tm);
		strftime(label, sizeof(label), "%H", &tm);
		g_string_append_printf(
		    out,
		    "<rect class=\"bar\" data-hour=\"%s\" data-count=\"%" PRId64
		    "\" x=\"%.1f\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
		    "fill=\"#3a6ea5\"><title>%s:00 UTC: %" PRId64
		    " call%s</title></rect>\n",
		    hour, counts[i], x, CH_BASE - h, CH_BAR_W, h, hour + 11,
		    counts[i], counts[i] == 1 ? "" : "s");
		if (i % 6 == 0 || i + 1 == n)
			g_string_append_printf(out,
			                       "<text x=\"%.1f\" y=\"%d\" "
			                       "font-size=\"10\">%s</text>\n",
			                       x, CH_BASE + 14, label);
	}
	g_string_append(out, "</svg>\n");
}

static void cell(GString *out, const char *s)
{
	g_string_append(out, "<td>");
	statuspage_html_escape(out, s);
	g_string_append(out, "</td>");
}

static void cell_time(GString *out, int64_t ms)
{
	g_string_append(out, "<td>");
	time_append(out, ms);
	g_string_append(out, "</td>");
}

static void cell_int(GString *out, int64_t v)
{
	g_string_append_printf(out, "<td>%" PRId64 "</td>", v);
}

static void table_head(GString *out, const char *id, const char *const *cols)
{
	g_string_append_printf(out, "<table id=\"%s\"><thead><tr>", id);
	for (; *cols; cols++)
		g_string_append_printf(out, "<th>%s</th>", *cols);
	g_string_append(out, "</tr></thead><tbody>\n");
}

static void table_end(GString *out, size_t rows, size_t ncols)
{
	if (!rows)
		g_string_append_printf(
		    out, "<tr><td colspan=\"%zu\">none</td></tr>", ncols);
	g_string_append(out, "</tbody></table>\n");
}

static const char *const job_state_names[QUEUE_JOB_STATES] = {
    "queued", "active", "notified", "failed", "cancelled"};

static void render_component(GString *out, const struct summary *s)
{
	static const char *const cols[] = {"Domain", "Privileges", NULL};

	g_string_append(out, "<h2>Component</h2>\n<p id=\"component\">");
	statuspage_html_escape(out, s->component);
	if (!s->have_component) {
		g_string_append(out, ": <span class=\"bad\">no status row "
		                     "yet</span>");
	} else if (!s->component_alive) {
		g_string_append(out, ": <span class=\"bad\">not running "
		                     "(last heartbeat ");
		time_append(out, s->status.heartbeat_ms);
		g_string_append(out, ")</span>");
	} else if (s->status.connected_ms > 0) {
		g_string_append(out, ": <span class=\"ok\">connected</span> "
		                     "since ");
		time_append(out, s->status.connected_ms);
	} else {
		g_string_append(out, ": <span class=\"bad\">disconnected"
		                     "</span>");
	}
	if (s->have_component) {
		g_string_append(out, ", process ");
		statuspage_html_escape(out, s->status.owner);
	}
	g_string_append(out, "</p>\n");
	table_head(out, "domains", cols);
	for (size_t i = 0; i < s->n_domains; i++) {
		g_string_append(out, "<tr>");
		cell(out, s->domains[i].domain);
		cell(out, s->domains[i].grants ? s->domains[i].grants
		                               : "none advertised");
		g_string_append(out, "</tr>\n");
	}
	table_end(out, s->n_domains, 2);
}

static void render_bridges(GString *out, const struct summary *s)
{
	static const char *const cols[] = {
	    "Host",           "PID", "Started", "Heartbeat", "Calls",
	    "Presence lease", NULL};

	g_string_append_printf(out, "<h2>Bridges alive: %zu</h2>\n",
	                       s->n_bridges);
	table_head(out, "bridges", cols);
	for (size_t i = 0; i < s->n_bridges; i++) {
		const struct summary_bridge *b = &s->bridges[i];

		g_string_append(out, "<tr>");
		cell(out, b->host);
		cell_int(out, b->pid);
		cell_time(out, b->started_ms);
		cell_time(out, b->heartbeat_ms);
		cell_int(out, b->calls);
		cell(out, b->presence_lease ? "yes" : "no");
		g_string_append(out, "</tr>\n");
	}
	table_end(out, s->n_bridges, 6);
	g_string_append(out, "<p id=\"lease\">Presence lease: ");
	if (s->lease_owner) {
		statuspage_html_escape(out, s->lease_owner);
		g_string_append(out, " until ");
		time_append(out, s->lease_deadline_ms);
	} else {
		g_string_append(out, "nobody");
	}
	g_string_append(out, "</p>\n");
}

static void render_jobs(GString *out, const struct summary *s)
{
	static const char *const calls[] = {"Job",         "Kind",    "Callee",
	                                    "Destination", "Attempt", "Bridge",
	                                    "Lease until", NULL};
	static const char *const outcomes[] = {
	    "Job",      "Kind",     "Callee", "Sender", "Outcome",
	    "Attempts", "Finished", "Reason", NULL};

	g_string_append(out, "<h2>Jobs by state</h2>\n<table id=\"jobs\">"
	                     "<tr>");
	for (int i = 0; i < QUEUE_JOB_STATES; i++)
		g_string_append_printf(out, "<th>%s</th>", job_state_names[i]);
	g_string_append(out, "</tr><tr>");
	for (int i = 0; i < QUEUE_JOB_STATES; i++)
		cell_int(out, s->jobs[i]);
	g_string_append(out, "</tr></table>\n");

	/* The count is exact; the list only looks at the newest unfinished
	 * jobs (SUMMARY_ACTIVE_SCAN), which a large backlog can exceed. */
	g_string_append_printf(out, "<h2>Calls in progress: %" PRId64,
	                       s->jobs[QUEUE_JOB_ACTIVE]);
	if ((int64_t)s->n_calls < s->jobs[QUEUE_JOB_ACTIVE])
		g_string_append_printf(out, " (%zu listed)", s->n_calls);
	g_string_append(out, "</h2>\n");
	table_head(out, "calls", calls);
	for (size_t i = 0; i < s->n_calls; i++) {
		const struct summary_call *c = &s->calls[i];

		g_string_append(out, "<tr>");
		cell_int(out, c->id);
		cell(out, queue_job_kind_name(c->kind));
		cell(out, c->callee_jid);
		cell(out, c->destination);
		cell_int(out, c->attempts);
		cell(out, c->bridge);
		cell_time(out, c->lease_deadline_ms);
		g_string_append(out, "</tr>\n");
	}
	table_end(out, s->n_calls, 7);

	g_string_append_printf(out, "<h2>Last %d outcomes</h2>\n",
	                       SUMMARY_OUTCOMES);
	table_head(out, "outcomes", outcomes);
	for (size_t i = 0; i < s->n_outcomes; i++) {
		const struct summary_outcome *o = &s->outcomes[i];

		g_string_append_printf(out, "<tr data-job=\"%" PRId64 "\">",
		                       o->id);
		cell_int(out, o->id);
		cell(out, queue_job_kind_name(o->kind));
		cell(out, o->callee_jid);
		cell(out, o->sender_jid);
		g_string_append_printf(out, "<td class=\"%s\">%s</td>",
		                       o->state == QUEUE_JOB_NOTIFIED ? "ok"
		                                                      : "bad",
		                       queue_job_state_name(o->state));
		cell_int(out, o->attempts);
		cell_time(out, o->finished_ms);
		cell(out, o->reason);
		g_string_append(out, "</tr>\n");
	}
	table_end(out, s->n_outcomes, 8);
}

static void render_registrations(GString *out, const struct summary *s)
{
	static const char *const cols[] = {"JID", "Phone", "Verified",
	                                   "Updated", NULL};

	/* GET to this page only: the search changes nothing. */
	g_string_append(out, "<h2>Registrations</h2>\n<form method=\"get\" "
	                     "action=\"\"><input type=\"search\" name=\"q\" "
	                     "maxlength=\"256\" value=\"");
	if (s->search)
		statuspage_html_escape(out, s->search);
	g_string_append(out, "\" placeholder=\"JID or phone contains\"> "
	                     "<button>Search</button></form>\n");
	table_head(out, "registrations", cols);
	for (size_t i = 0; i < s->n_registrations; i++) {
		const struct summary_registration *r = &s->registrations[i];

		g_string_append(out, "<tr>");
		cell(out, r->jid);
		cell(out, r->phone);
		cell(out, r->verified ? "yes" : "no");
		cell_time(out, r->updated_ms);
		g_string_append(out, "</tr>\n");
	}
	table_end(out, s->n_registrations, 4);
	if (s->registrations_more)
		g_string_append_printf(out,
		                       "<p>More match: only the first %d are "
		                       "shown; narrow the search.</p>\n",
		                       SUMMARY_REGISTRATIONS);
}

void statuspage_render(GString *out, const struct summary *s)
{
	int64_t total = 0;

	for (size_t i = 0; i < SUMMARY_HOURS; i++)
		total += s->calls_per_hour[i];
	g_string_append(
	    out,
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"referrer\" content=\"no-referrer\">"
	    "<title>ringbridge status</title>\n<style>"
	    "body{font-family:sans-serif;margin:1em 2em;color:#222}"
	    "table{border-collapse:collapse;margin-bottom:1em}"
	    "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;"
	    "font-size:90%}th{background:#eee}"
	    ".ok{color:#060}.bad{color:#a00}h2{font-size:110%;margin-top:1.2em}"
	    "</style></head><body>\n<h1>ringbridge status</h1>\n<p>At ");
	time_append(out, s->now_ms);
	g_string_append(out, " UTC</p>\n");
	render_component(out, s);
	render_bridges(out, s);
	render_jobs(out, s);
	g_string_append_printf(out,
	                       "<h2>Calls per hour (UTC), last %d hours: "
	                       "%" PRId64 "</h2>\n",
	                       SUMMARY_HOURS, total);
	statuspage_chart_svg(out, s->calls_per_hour, SUMMARY_HOURS,
	                     s->first_hour);
	render_registrations(out, s);
	g_string_append(out, "</body></html>\n");
}
