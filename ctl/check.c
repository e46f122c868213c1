/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * `ringbridgectl check -c FILE`: loads the configuration (the same loader
 * as the daemons), opens the queue, reaches the XMPP server and the SIP
 * next hop, and says what the server granted and what that means. It never
 * disturbs a running component: Prosody checks a second connection's
 * secret and then refuses it ("conflict"), or, with
 * component_conflict_resolve = "kick_old", drops the connected one. So when
 * the queue's status row (written by the component every 30 s) shows a live
 * component, check only exchanges stream headers and reads the privileges
 * from that row; only when none runs does it authenticate itself, read the
 * advertisements and leave. Output: one line per finding on stdout, the
 * problems again on stderr; exit 0 when nothing is missing, 1 otherwise.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "queue.h"

#define XMPP_TIMEOUT_MS 10000
#define SIP_TIMEOUT_MS  5000
/* The component rewrites its row every 30 s (COMP_STATUS_HEARTBEAT_MS);
 * three missed beats and it is taken for not running. */
#define STATUS_STALE_MS (3 * 30000)
/* Bridges beat every 30 s too (HEARTBEAT_MS in sip-bridge/main.c). */
#define BRIDGE_STALE_MS (3 * 30000)
/* Bridges named one by one on the "bridge:" line; more are counted. */
#define BRIDGES_NAMED 8
#define PROBLEMS_MAX  16

struct check {
	const struct config *cfg;
	char *problems[PROBLEMS_MAX];
	int n_problems, n_warnings;
};

/* Prints S with control characters shown as '?' (text from the network). */
static void put_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put_clean(stdout, buf);
	fputc('\n', stdout);
}

static void problem(struct check *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct check *k, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("FAIL %s", buf);
	if (k->n_problems < PROBLEMS_MAX)
		k->problems[k->n_problems] = strdup(buf);
	k->n_problems++;
}

static const char *yn(bool b)
{
	return b ? "yes" : "no";
}

/* Reads "DOMAIN NS name=yes ..." lines (status.c) into GRANTS. */
static int grants_parse(const char *text, struct check_grant *grants, int max)
{
	const char *line = text;
	int n = 0;

	while (line && *line && n < max) {
		const char *end = strchr(line, '\n');
		size_t len = end ? (size_t)(end - line) : strlen(line);
		char buf[1024], *save = NULL, *tok;
		struct check_grant *g = &grants[n];

		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
		memcpy(buf, line, len);
		buf[len] = '\0';
		memset(g, 0, sizeof(*g));
		tok = strtok_r(buf, " ", &save);
		if (tok)
			snprintf(g->domain, sizeof(g->domain), "%s", tok);
		tok = strtok_r(NULL, " ", &save);
		if (tok)
			snprintf(g->ns, sizeof(g->ns), "%s", tok);
		while ((tok = strtok_r(NULL, " ", &save))) {
			bool yes = strstr(tok, "=yes") != NULL;

			if (!strncmp(tok, "presence=", 9))
				g->grants.presence = yes;
			else if (!strncmp(tok, "message=", 8))
				g->grants.message = yes;
			else if (!strncmp(tok, "roster=", 7))
				g->grants.roster_get = yes;
			else if (!strncmp(tok, "push=", 5))
				g->grants.iq_push_set = yes;
			else if (!strncmp(tok, "pubsub=", 7))
				g->grants.iq_pubsub_set = yes;
		}
		if (g->domain[0])
			n++;
		line = end ? end + 1 : NULL;
	}
	return n;
}

/*
 * ejabberd 23.01 (the one server speaking urn:xmpp:privilege:1) routes a
 * push for a disconnected component to s2s, and mod_push deletes a
 * registration on any error but "wait": an unresolvable component domain
 * fails with remote-server-not-found (cancel), a resolvable one with a
 * refused connection, remote-server-timeout (wait). Looked up here, which
 * is the ejabberd host's answer only when both run on one host or share
 * DNS: said so in the line.
 */
static void report_outage_route(struct check *k, const char *server)
{
	const char *gw = k->cfg->xmpp.domain;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;

	if (getaddrinfo(gw, "5269", &hints, &ai) == 0) {
		freeaddrinfo(ai);
		say("outage: %s resolves here: if it does on the ejabberd "
		    "host too, pushes during a component outage bounce as "
		    "\"wait\" and %s keeps users' client-enabled push",
		    gw, server);
		return;
	}
	say("warn outage: %s does not resolve here: if not on the ejabberd "
	    "host either, the first push during a component outage makes %s "
	    "delete each client-enabled push registration it reaches (users "
	    "must enable push again); add \"127.0.0.1 %s\" to that host's "
	    "/etc/hosts (docs/ejabberd.md)",
	    gw, server, gw);
	k->n_warnings++;
}

static void report_grants(struct check *k, const struct check_grant *grants,
                          int n)
{
	const struct config *cfg = k->cfg;

	for (size_t i = 0; i < cfg->xmpp.user_domains.n; i++) {
		const char *d = cfg->xmpp.user_domains.v[i];
		const struct check_grant *g = NULL;

		for (int j = 0; j < n; j++)
			if (!strcasecmp(grants[j].domain, d))
				g = &grants[j];
		if (!g) {
			problem(k,
			        "privileges: %s granted none: enable "
			        "\"privilege\" on the server and list %s in "
			        "the domain's privileged entities "
			        "(docs/prosody.md)",
			        d, cfg->xmpp.domain);
			continue;
		}
		say("privileges: %s grants %s: presence %s, message %s, "
		    "roster %s, push %s, pubsub %s",
		    d, g->ns, yn(g->grants.presence), yn(g->grants.message),
		    yn(g->grants.roster_get), yn(g->grants.iq_push_set),
		    yn(g->grants.iq_pubsub_set));
		if (g->grants.iq_push_set) {
			say("push: granted on %s, offline messages will be "
			    "caught",
			    d);
		} else {
			say("push: not granted on %s, only gateway addresses "
			    "work (user@%s)",
			    d, cfg->xmpp.domain);
			k->n_warnings++;
		}
		if (!strcmp(g->ns, "urn:xmpp:privilege:1"))
			report_outage_route(k, d);
		if (!g->grants.presence) {
			say("warn presence: not granted on %s: the component "
			    "asks each user for a subscription instead",
			    d);
			k->n_warnings++;
		}
		if (!g->grants.message) {
			say("warn message: not granted on %s: outcomes cannot "
			    "come from the recipient's own address",
			    d);
			k->n_warnings++;
		}
	}
}

static void fmt_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "?");
}

struct bridges {
	int n;
	size_t len;
	char text[900];
};

static int bridge_cb(const struct queue_bridge_status *s, void *arg)
{
	struct bridges *bs = arg;
	char at[32];
	int w;

	if (bs->n++ >= BRIDGES_NAMED)
		return 0;
	fmt_time(s->started_ms, at, sizeof(at));
	w = snprintf(bs->text + bs->len, sizeof(bs->text) - bs->len,
	             "%s%s pid %lld since %s, %d call%s%s", bs->len ? "; " : "",
	             s->host, (long long)s->pid, at, s->calls,
	             s->calls == 1 ? "" : "s",
	             s->presence_lease ? ", presence lease" : "");
	if (w > 0 && (size_t)w < sizeof(bs->text) - bs->len)
		bs->len += (size_t)w;
	return 0;
}

/* The bridges' heartbeat rows on the open queue Q: without a live one the
 * component still catches messages, but no call is placed. */
static void check_bridges(struct check *k, struct queue *q)
{
	struct bridges bs = {0};
	int err = queue_bridge_status_foreach(
	    q, queue_now_ms(q) - BRIDGE_STALE_MS, bridge_cb, &bs);

	if (err) {
		problem(k, "queue: cannot read the bridges' status: %s",
		        strerror(-err));
		return;
	}
	if (!bs.n) {
		problem(k, "bridge: none running — caught messages will wait "
		           "in the queue");
		return;
	}
	say("bridge: %d running (%s%s)", bs.n, bs.text,
	    bs.n > BRIDGES_NAMED ? "; ..." : "");
}

/*
 * Opens the queue and reads the component's row. *LIVE: a component wrote
 * it recently; *ST filled when a row exists. Does not create a database
 * that is not there yet: the services create it, as their own user.
 */
static void check_queue(struct check *k, struct queue_component_status *st,
                        bool *live)
{
	const char *url = k->cfg->queue.url;
	struct queue *q = NULL;
	struct stat sb;
	int64_t now;
	int err, v = 0, n = 0;

	*live = false;
	if (!strncmp(url, "sqlite:", 7) && stat(url + 7, &sb) != 0) {
		say("queue: %s does not exist yet (the services create it at "
		    "their first start)",
		    url + 7);
		say("component: not running (no queue yet)");
		problem(k, "bridge: none running — caught messages will wait "
		           "in the queue");
		return;
	}
	err = queue_password_file_set(k->cfg->queue.password_file);
	if (!err)
		err = queue_open(&q, url);
	if (err) {
		problem(k, "queue: cannot open it ([queue] url): %s",
		        strerror(-err));
		return;
	}
	queue_schema_version(q, &v);
	say("queue: open, schema version %d", v);
	/* Every statement the services may run, prepared now: a schema
	 * changed by hand (or a database restored from an older dump) shows
	 * here rather than in the middle of a call. */
	err = queue_statements_check(q, &n);
	if (err)
		problem(k,
		        "queue: statement %d of the services does not fit the "
		        "database's schema (the line above says why): %s",
		        n + 1, strerror(-err));
	else
		say("queue: all %d statements of the services prepare", n);
	check_bridges(k, q);
	err = queue_component_status_get(q, k->cfg->xmpp.domain, st);
	now = queue_now_ms(q);
	queue_close(q);
	if (err == -ENOENT) {
		say("component: not running (it never ran with this queue)");
		return;
	}
	if (err) {
		problem(k, "queue: cannot read the component's status: %s",
		        strerror(-err));
		return;
	}
	if (st->heartbeat_ms <= 0 || now - st->heartbeat_ms > STATUS_STALE_MS) {
		char at[32];

		fmt_time(st->heartbeat_ms > 0 ? st->heartbeat_ms : 0, at,
		         sizeof(at));
		say("component: not running (%s %s)",
		    st->heartbeat_ms > 0 ? "last seen" : "stopped",
		    st->heartbeat_ms > 0 ? at : "cleanly");
		return;
	}
	*live = true;
	if (st->connected_ms > 0) {
		char at[32];

		fmt_time(st->connected_ms, at, sizeof(at));
		say("component: running (%s), connected since %s", st->owner,
		    at);
	} else {
		problem(k,
		        "component: running (%s) but not connected to the "
		        "XMPP server: its log says why",
		        st->owner);
	}
}

static void check_sip(struct check *k)
{
	const struct config *cfg = k->cfg;
	char target[512], why[512] = "", phrase[128] = "";
	int status;

	if (cfg->sip.outbound_proxy && *cfg->sip.outbound_proxy)
		snprintf(target, sizeof(target), "%s", cfg->sip.outbound_proxy);
	else if (cfg->sip.trunk && *cfg->sip.trunk)
		snprintf(target, sizeof(target), "sip:%s", cfg->sip.trunk);
	else {
		say("sip: no [sip] outbound_proxy or trunk: calls go straight "
		    "to each registered SIP address, nothing to test");
		return;
	}
	status = check_sip_options(cfg, target, SIP_TIMEOUT_MS, why,
	                           sizeof(why), phrase, sizeof(phrase));
	if (status > 0)
		say("sip: %s answered OPTIONS with %d %s", target, status,
		    phrase);
	else
		problem(k, "sip: %s", why);
}

int check_run(const struct config *cfg, bool config_only)
{
	struct check k = {.cfg = cfg};
	struct queue_component_status st = {0};
	struct check_xmpp_result *xr;
	struct check_grant grants[CHECK_DOMAINS_MAX];
	bool live;
	int n = 0;

	say("configuration: %s: ok", cfg->path ? cfg->path : "(defaults)");
	if (config_only)
		return 0;
	check_queue(&k, &st, &live);

	xr = calloc(1, sizeof(*xr));
	if (!xr) {
		queue_component_status_clear(&st);
		return 1;
	}
	check_xmpp(cfg, live ? CHECK_XMPP_PROBE : CHECK_XMPP_AUTH,
	           XMPP_TIMEOUT_MS, xr);
	if (!xr->ok && xr->conflict && !live) {
		problem(&k,
		        "xmpp: %s; it does not write to this configuration's "
		        "queue ([queue] url): is it running with another "
		        "configuration?",
		        xr->why);
	} else if (!xr->ok) {
		problem(&k, "xmpp: %s", xr->why);
	} else if (live) {
		say("xmpp: %s:%d answers for %s (not authenticating: the "
		    "running component holds the session)",
		    cfg->xmpp.host, cfg->xmpp.port, cfg->xmpp.domain);
		if (st.connected_ms > 0)
			n = grants_parse(st.privileges, grants,
			                 CHECK_DOMAINS_MAX);
		if (st.connected_ms > 0)
			report_grants(&k, grants, n);
	} else {
		say("xmpp: %s:%d accepted the component secret for %s",
		    cfg->xmpp.host, cfg->xmpp.port, cfg->xmpp.domain);
		report_grants(&k, xr->grants, xr->n_grants);
	}
	free(xr);
	queue_component_status_clear(&st);

	check_sip(&k);

	if (!k.n_problems) {
		say("check: ok%s",
		    k.n_warnings ? " (see the notes above)" : "");
		return 0;
	}
	fprintf(stderr, "ringbridgectl: check failed:\n");
	for (int i = 0; i < k.n_problems && i < PROBLEMS_MAX; i++) {
		fputs("  ", stderr);
		put_clean(stderr, k.problems[i] ? k.problems[i] : "?");
		fputc('\n', stderr);
		free(k.problems[i]);
	}
	return 1;
}
