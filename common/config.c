/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration file, read with libinih. Every key is one row of
 * config_keys[] (section, name, type, where it lives in struct config, its
 * default written as it would be in the file, its limits, a checker), so
 * defaults go through the same validation as the file and an unknown key
 * is simply one that has no row.
 *
 * Debian's libinih passes no line numbers to the handler and cuts values at
 * " ;" (inline comments). We therefore hand it lines through our own reader,
 * which counts them, keeps the current raw line and checks section headers
 * (inih says nothing about a section without keys); the handler takes the
 * value from that raw line itself, so that a value in double quotes may
 * contain " ;" and any length of line works. The reader also strips leading
 * whitespace, which turns off inih's continuation lines: an indented
 * "key = value" is a key, as operators expect.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "log.h"
#include "phone.h"
#include "policy.h"

/* Longest line accepted, and longest value of any key. */
#define CONFIG_LINE_MAX  8192
#define CONFIG_VALUE_MAX 4096
/* Longest [texts] entry: a sentence, not a letter. */
#define CONFIG_TEXT_MAX 1000

enum key_type {
	KT_STR,
	KT_INT,
	KT_BOOL,
	KT_LIST,
	KT_ENUM,
};

enum {
	KF_SECRET = 1 << 0,   /* the value never appears in a message */
	KF_NONEMPTY = 1 << 1, /* "" (or an empty list) is an error */
};

/*
 * Checks VALUE (a whole string, or one item of a list), possibly rewriting
 * it in place into its canonical form (lowercase domains). Returns NULL
 * when it is fine, else what is wrong, as a static string.
 */
typedef const char *(*config_check_fn)(char *value);

struct config_key {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off; /* offset of the field in struct config */
	const char *def;
	int min, max;             /* KT_INT */
	const char *const *names; /* KT_ENUM: names indexed by value */
	config_check_fn check;    /* KT_STR: the value; KT_LIST: each item */
	unsigned flags;
};

static const char *const rec_formats[] = {
    [CONFIG_REC_OPUS] = "opus",
    [CONFIG_REC_MP3] = "mp3",
    NULL,
};

static const char *const presence_modes[] = {
    [CONFIG_PRESENCE_OFF] = "off",
    [CONFIG_PRESENCE_PUBLISH] = "publish",
    [CONFIG_PRESENCE_AGENT] = "agent",
    NULL,
};

static const char *const srtp_modes[] = {
    [CONFIG_SRTP_OFF] = "off",
    [CONFIG_SRTP_OFFER] = "offer",
    [CONFIG_SRTP_REQUIRE] = "require",
    NULL,
};

_Static_assert(sizeof(enum config_rec_format) == sizeof(int) &&
                   sizeof(enum config_presence_mode) == sizeof(int) &&
                   sizeof(enum config_srtp) == sizeof(int),
               "enums are stored through an int pointer");

/* ---- checkers ---------------------------------------------------------- */

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static bool port_ok(const char *s)
{
	size_t n = strlen(s);
	long v;

	if (!all_digits(s, n) || n > 5)
		return false;
	v = strtol(s, NULL, 10);
	return v >= 1 && v <= 65535;
}

/* A host to connect to: a domain, an IPv4 or an IPv6 address (bracketed
 * or not, since getaddrinfo() wants it bare). */
static const char *check_host(char *v)
{
	char buf[300];

	lowercase(v);
	if (phone_host_valid(v))
		return NULL;
	if (strchr(v, ':') && strlen(v) < sizeof(buf) - 2) {
		snprintf(buf, sizeof(buf), "[%s]", v);
		if (phone_host_valid(buf))
			return NULL;
	}
	return "must be a host name or an IP address";
}

static const char *check_domain(char *v)
{
	lowercase(v);
	return phone_domain_valid(v) ? NULL
	                             : "must be a domain name such as "
	                               "example.org";
}

static const char *check_queue_url(char *v)
{
	if (!strncmp(v, "sqlite:", 7) && v[7])
		return NULL;
	if ((!strncmp(v, "postgresql://", 13) && v[13]) ||
	    (!strncmp(v, "postgres://", 11) && v[11]))
		return NULL;
	return "must be sqlite:PATH or postgresql://...";
}

static const char *check_sip_listen(char *v)
{
	const char *why;

	return phone_sip_server_check(v, true, &why) ? why : NULL;
}

static const char *check_sip_server(char *v)
{
	const char *why;

	if (!*v)
		return NULL;
	return phone_sip_server_check(v, false, &why) ? why : NULL;
}

/* HOST[:PORT] with HOST a domain, IPv4 or bracketed IPv6. */
static const char *check_hostport(char *v)
{
	char *colon;
	char host[300];
	size_t hlen;

	if (!*v)
		return NULL;
	if (v[0] == '[') {
		char *end = strchr(v, ']');

		colon = end && end[1] == ':' ? end + 1 : NULL;
		if (!end || (end[1] && !colon))
			return "must be HOST or HOST:PORT";
	} else {
		colon = strchr(v, ':');
	}
	hlen = colon ? (size_t)(colon - v) : strlen(v);
	if (hlen >= sizeof(host))
		return "must be HOST or HOST:PORT";
	memcpy(host, v, hlen);
	host[hlen] = '\0';
	lowercase(host);
	if (!phone_host_valid(host))
		return "must be HOST or HOST:PORT with a valid host name or "
		       "IP address";
	if (colon && !port_ok(colon + 1))
		return "the port must be a number from 1 to 65535";
	memcpy(v, host, hlen);
	return NULL;
}

/* HOST:PORT for a listening socket. */
static const char *check_listen_addr(char *v)
{
	const char *why;

	if (!*v)
		return NULL;
	if (!strrchr(v, ':') || (v[0] == '[' && !strstr(v, "]:")))
		return "must be HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
	why = check_hostport(v);
	return why;
}

static const char *check_http_url(char *v)
{
	const char *host;
	size_t hlen;

	if (!*v)
		return NULL;
	if (!strncasecmp(v, "https://", 8))
		host = v + 8;
	else if (!strncasecmp(v, "http://", 7))
		host = v + 7;
	else
		return "must be an http:// or https:// URL";
	hlen = strcspn(host, "/?#");
	if (hlen == 0)
		return "the URL has no host";
	for (const char *s = v; *s; s++) {
		if (*s == ' ' || *s == '"' || *s == '<' || *s == '>' ||
		    *s == '\\')
			return "the URL contains characters that need "
			       "%-escaping";
	}
	return NULL;
}

static const char *check_voice(char *v)
{
	if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	              "0123456789_./-") != strlen(v))
		return "must be a voice name (kal, slt, ...) or the path of a "
		       ".flitevox file";
	return NULL;
}

static const char *check_prefix(char *v)
{
	size_t n = strlen(v);

	if (n < 2 || n > 16 || v[0] != '+' || !all_digits(v + 1, n - 1) ||
	    v[1] == '0')
		return "must be \"+\" followed by 1 to 15 digits (a country "
		       "or area code)";
	return NULL;
}

static const char *check_sip_domain_pattern(char *v)
{
	lowercase(v);
	if (!strncmp(v, "*.", 2) && phone_domain_valid(v + 2))
		return NULL;
	if (phone_host_valid(v))
		return NULL;
	return "must be a domain, *.domain (its subdomains) or an IP address";
}

static const char *check_jid_or_domain(char *v)
{
	char *at = strchr(v, '@');

	lowercase(at ? at + 1 : v);
	if (at ? policy_bare_jid_valid(v) : phone_domain_valid(v))
		return NULL;
	return "must be a bare JID (user@example.org) or a domain";
}

static const char *check_log_level(char *v)
{
	enum log_level l;

	if (log_level_parse(v, &l))
		return "must be one of error, warn, info, debug";
	lowercase(v);
	return NULL;
}

/*
 * Texts may name placeholders in braces; an unknown one is most likely a
 * typo ("{calee}") that would reach every sender verbatim.
 */
static const char *check_text_with(char *v, bool reason)
{
	if (strlen(v) > CONFIG_TEXT_MAX)
		return "is longer than 1000 bytes";
	for (const char *s = strchr(v, '{'); s; s = strchr(s + 1, '{')) {
		size_t n = strspn(s + 1, "abcdefghijklmnopqrstuvwxyz_");

		if (n == 0 || s[1 + n] != '}')
			continue;
		if (n == 6 && !strncmp(s + 1, "callee", 6))
			continue;
		if (reason && n == 6 && !strncmp(s + 1, "reason", 6))
			continue;
		return reason ? "unknown placeholder; {callee} and {reason} "
		                "are known"
		              : "unknown placeholder; {callee} is known";
	}
	return NULL;
}

static const char *check_text(char *v)
{
	return check_text_with(v, false);
}

static const char *check_text_failed(char *v)
{
	return check_text_with(v, true);
}

/* ---- the table --------------------------------------------------------- */

#define F(field) offsetof(struct config, field)
#define K_STR(sec, key, field, def_, check_, flags_)                           \
	{                                                                      \
		.section = sec, .name = key, .type = KT_STR, .off = F(field),  \
		.def = def_, .check = check_, .flags = flags_                  \
	}
#define K_INT(sec, key, field, def_, min_, max_)                               \
	{                                                                      \
		.section = sec, .name = key, .type = KT_INT, .off = F(field),  \
		.def = def_, .min = min_, .max = max_                          \
	}
#define K_BOOL(sec, key, field, def_)                                          \
	{                                                                      \
		.section = sec, .name = key, .type = KT_BOOL, .off = F(field), \
		.def = def_                                                    \
	}
#define K_LIST(sec, key, field, def_, check_, flags_)                          \
	{                                                                      \
		.section = sec, .name = key, .type = KT_LIST, .off = F(field), \
		.def = def_, .check = check_, .flags = flags_                  \
	}
#define K_ENUM(sec, key, field, def_, names_)                                  \
	{                                                                      \
		.section = sec, .name = key, .type = KT_ENUM, .off = F(field), \
		.def = def_, .names = names_                                   \
	}

static const struct config_key config_keys[] = {
    K_STR("xmpp", "host", xmpp.host, "127.0.0.1", check_host, KF_NONEMPTY),
    K_INT("xmpp", "port", xmpp.port, "5347", 1, 65535),
    K_STR("xmpp", "domain", xmpp.domain, "callgw.localhost", check_domain,
          KF_NONEMPTY),
    K_STR("xmpp", "secret", xmpp.secret, "ringbridge-demo-secret", NULL,
          KF_SECRET | KF_NONEMPTY),
    K_STR("xmpp", "secret_file", xmpp.secret_file, "", NULL, 0),
    K_LIST("xmpp", "user_domains", xmpp.user_domains, "localhost", check_domain,
           KF_NONEMPTY),

    /* a PostgreSQL URL may carry a password: treated as a secret */
    K_STR("queue", "url", queue.url, "sqlite:ringbridge.db", check_queue_url,
          KF_SECRET | KF_NONEMPTY),
    /* read by the queue library at every connect (engine_pg.c) */
    K_STR("queue", "password_file", queue.password_file, "", NULL, 0),

    K_STR("sip", "listen", sip.listen, "sip:127.0.0.1:5080", check_sip_listen,
          KF_NONEMPTY),
    K_STR("sip", "outbound_proxy", sip.outbound_proxy, "", check_sip_server, 0),
    K_STR("sip", "trunk", sip.trunk, "", check_hostport, 0),
    K_STR("sip", "username", sip.username, "", NULL, 0),
    K_STR("sip", "password", sip.password, "", NULL, KF_SECRET),
    K_INT("sip", "rtp_port_min", sip.rtp_port_min, "20000", 1024, 65535),
    K_INT("sip", "rtp_port_max", sip.rtp_port_max, "20999", 1024, 65535),
    K_INT("sip", "max_calls", sip.max_calls, "50", 1, 10000),
    K_INT("sip", "ring_timeout", sip.ring_timeout, "30", 5, 300),
    K_INT("sip", "attempts", sip.attempts, "3", 1, 10),
    K_INT("sip", "retry_backoff", sip.retry_backoff, "60", 1, 86400),
    K_INT("sip", "max_call_seconds", sip.max_call_seconds, "300", 10, 3600),
    K_INT("sip", "realtime_priority", sip.realtime_priority, "0", 0, 99),
    K_INT("sip", "key_timeout", sip.key_timeout, "10", 2, 60),
    K_INT("sip", "lease_seconds", sip.lease_seconds, "30", 3, 600),
    K_INT("sip", "poll_interval", sip.poll_interval, "3", 1, 300),
    K_STR("sip", "metrics_listen", sip.metrics_listen, "", check_listen_addr,
          0),
    K_STR("sip", "tls_dir", sip.tls_dir, "", NULL, 0),
    K_ENUM("sip", "srtp", sip.srtp, "off", srtp_modes),

    K_BOOL("calls", "gate", calls.gate, "on"),
    K_BOOL("calls", "gate_retry", calls.gate_retry, "on"),

    K_STR("tts", "voice", tts.voice, "kal", check_voice, KF_NONEMPTY),
    K_INT("tts", "max_chars", tts.max_chars, "1000", 1, 10000),
    K_INT("tts", "renderers", tts.renderers, "0", 0, 8),

    K_ENUM("recordings", "format", recordings.format, "opus", rec_formats),
    K_INT("recordings", "max_seconds", recordings.max_seconds, "60", 1, 600),
    K_INT("recordings", "silence_seconds", recordings.silence_seconds, "5", 1,
          60),
    /* No longer used (voice replies live in the queue, schema 011): still
     * accepted so that old configurations load; http.c logs it. */
    K_STR("recordings", "dir", recordings.dir, "", NULL, 0),
    K_STR("recordings", "base_url", recordings.base_url, "", check_http_url, 0),
    K_INT("recordings", "expire_days", recordings.expire_days, "7", 1, 3650),

    K_STR("http", "listen", http.listen, "", check_listen_addr, 0),
    K_STR("http", "admin_password_file", http.admin_password_file, "", NULL, 0),

    K_LIST("policy", "allowed_prefixes", policy.allowed_prefixes, "",
           check_prefix, 0),
    K_LIST("policy", "allowed_sip_domains", policy.allowed_sip_domains, "",
           check_sip_domain_pattern, 0),
    K_INT("policy", "calls_per_callee_per_hour",
          policy.calls_per_callee_per_hour, "10", 1, 1000),
    K_INT("policy", "calls_per_sender_per_hour",
          policy.calls_per_sender_per_hour, "20", 1, 1000),
    K_INT("policy", "coalesce_seconds", policy.coalesce_seconds, "120", 0,
          3600),
    K_BOOL("policy", "direct_dial", policy.direct_dial, "false"),
    K_LIST("policy", "direct_dial_senders", policy.direct_dial_senders, "",
           check_jid_or_domain, 0),
    K_BOOL("policy", "external_senders", policy.external_senders, "false"),
    K_INT("policy", "max_body_chars", policy.max_body_chars, "1000", 1, 10000),

    K_ENUM("presence", "mode", presence.mode, "off", presence_modes),
    K_STR("presence", "server", presence.server, "", check_sip_server, 0),
    K_INT("presence", "debounce_ms", presence.debounce_ms, "1500", 0, 60000),
    K_INT("presence", "expires", presence.expires, "600", 10, 86400),

    K_STR("texts", "heard", texts.heard,
          "\u260e {callee} heard your message by phone.", check_text,
          KF_NONEMPTY),
    K_STR("texts", "key1", texts.key1,
          "\u260e {callee} heard your message by phone and will reply by "
          "chat.",
          check_text, KF_NONEMPTY),
    K_STR("texts", "key2", texts.key2,
          "\u260e {callee} heard your message by phone and will call you "
          "back.",
          check_text, KF_NONEMPTY),
    K_STR("texts", "key3", texts.key3,
          "\u260e {callee} heard your message by phone and will get back "
          "to you later.",
          check_text, KF_NONEMPTY),
    K_STR("texts", "voice", texts.voice, "Voice reply from {callee}",
          check_text, KF_NONEMPTY),
    K_STR("texts", "failed", texts.failed,
          "\u260e Could not reach {callee} by phone: {reason}.",
          check_text_failed, KF_NONEMPTY),
    K_STR("texts", "unheard", texts.unheard,
          "\u260e {callee}'s phone answered, but nobody listened.",
          check_text_failed, KF_NONEMPTY),
    K_STR("texts", "key9", texts.key9,
          "\u260e {callee} heard your message by phone and has paused calls "
          "from you until tomorrow.",
          check_text, KF_NONEMPTY),
    K_STR("texts", "paused", texts.paused,
          "\u260e {callee} has paused calls from you until tomorrow; your "
          "message waits for them.",
          check_text, KF_NONEMPTY),

    K_STR("log", "level", log.level, "info", check_log_level, KF_NONEMPTY),
};

#define NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const config_sections[] = {
    "xmpp", "queue",  "sip",      "calls", "tts", "recordings",
    "http", "policy", "presence", "texts", "log",
};

/* ---- parsing state and errors ------------------------------------------ */

struct config_parse {
	struct config *cfg;
	const char *file; /* for messages */
	FILE *fp;
	char *line; /* the current line as read */
	size_t cap;
	char *text; /* the current line without leading blanks and EOL */
	int lineno;
	int keyline[NKEYS]; /* where each key was set; 0: the default */
	char *err;
	size_t errlen;
	int errline; /* first error's line, 0 when none (or none yet) */
	bool failed;
};

static void config_err(struct config_parse *p, int line, const char *section,
                       const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Records "FILE:LINE: [section] key: what", the first error only. LINE 0 is
 * for values that are not on any line (defaults, missing keys).
 */
static void config_err(struct config_parse *p, int line, const char *section,
                       const char *key, const char *fmt, ...)
{
	char what[512], where[64] = "";
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	p->errline = line;
	if (!p->err || p->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(where, sizeof(where), ":%d", line);
	if (section && key)
		snprintf(p->err, p->errlen, "%s%s: [%s] %s: %s", p->file, where,
		         section, key, what);
	else if (section)
		snprintf(p->err, p->errlen, "%s%s: [%s]: %s", p->file, where,
		         section, what);
	else if (key)
		snprintf(p->err, p->errlen, "%s%s: %s: %s", p->file, where, key,
		         what);
	else
		snprintf(p->err, p->errlen, "%s%s: %s", p->file, where, what);
}

/* ---- values ------------------------------------------------------------ */

/*
 * Well-formed UTF-8 without C0/C1 control characters or DEL: values end up
 * in stanzas, SIP headers and log lines.
 */
static bool value_text_ok(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	while (*u) {
		uint32_t c;
		size_t len, i;

		if (*u < 0x80) {
			if (*u < 0x20 || *u == 0x7f)
				return false;
			u++;
			continue;
		}
		if ((*u & 0xe0) == 0xc0) {
			len = 2;
			c = *u & 0x1f;
		} else if ((*u & 0xf0) == 0xe0) {
			len = 3;
			c = *u & 0x0f;
		} else if ((*u & 0xf8) == 0xf0) {
			len = 4;
			c = *u & 0x07;
		} else {
			return false;
		}
		for (i = 1; i < len; i++) {
			if ((u[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (u[i] & 0x3f);
		}
		if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) ||
		    (len == 4 && c < 0x10000) || c > 0x10ffff ||
		    (c >= 0xd800 && c <= 0xdfff) || (c >= 0x80 && c <= 0x9f))
			return false;
		u += len;
	}
	return true;
}

static int parse_int(const char *s, int min, int max, int *out)
{
	size_t n = strlen(s), i = 0;
	long long v = 0;

	if (n > 0 && s[0] == '-')
		i = 1;
	if (!all_digits(s + i, n - i) || n - i > 10)
		return -EINVAL;
	for (; i < n; i++)
		v = v * 10 + (s[i] - '0');
	if (s[0] == '-')
		v = -v;
	if (v < min || v > max)
		return -ERANGE;
	*out = (int)v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static void list_clear(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Splits VALUE at commas into L, trimming blanks and checking each item.
 * Returns 0, or -EINVAL after reporting the problem.
 */
static int list_parse(struct config_parse *p, const struct config_key *k,
                      int line, const char *value, struct config_list *l)
{
	const char *s = value;
	bool secret = k->flags & KF_SECRET;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return 0;
	for (;;) {
		size_t n = strcspn(s, ","), m = n;
		const char *why;
		char **v, *item;

		while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
			m--;
		if (m == 0) {
			config_err(p, line, k->section, k->name,
			           "empty item in the comma-separated list");
			return -EINVAL;
		}
		item = strndup(s, m);
		if (!item) {
			config_err(p, line, k->section, k->name,
			           "out of memory");
			return -ENOMEM;
		}
		why = k->check ? k->check(item) : NULL;
		if (!why && config_list_contains(l, item))
			why = "listed twice";
		if (why) {
			if (secret)
				config_err(p, line, k->section, k->name, "%s",
				           why);
			else
				config_err(p, line, k->section, k->name,
				           "\"%.80s\": %s", item, why);
			free(item);
			return -EINVAL;
		}
		v = realloc(l->v, (l->n + 1) * sizeof(*v));
		if (!v) {
			free(item);
			config_err(p, line, k->section, k->name,
			           "out of memory");
			return -ENOMEM;
		}
		l->v = v;
		l->v[l->n++] = item;
		s += n;
		if (!*s)
			return 0;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
	}
}

/* Sets key K from VALUE (already unquoted), found on LINE. */
static int key_set(struct config_parse *p, const struct config_key *k, int line,
                   const char *value)
{
	void *field = (char *)p->cfg + k->off;
	const char *why;

	if (strlen(value) > CONFIG_VALUE_MAX) {
		config_err(p, line, k->section, k->name,
		           "is longer than %d bytes", CONFIG_VALUE_MAX);
		return -EINVAL;
	}
	if (!value_text_ok(value)) {
		config_err(p, line, k->section, k->name,
		           "must be UTF-8 text without control characters");
		return -EINVAL;
	}
	if ((k->flags & KF_NONEMPTY) && !*value) {
		config_err(p, line, k->section, k->name, "must not be empty");
		return -EINVAL;
	}

	switch (k->type) {
	case KT_STR: {
		char **dst = field, *v = strdup(value);

		if (!v) {
			config_err(p, line, k->section, k->name,
			           "out of memory");
			return -ENOMEM;
		}
		why = k->check ? k->check(v) : NULL;
		if (why) {
			config_err(p, line, k->section, k->name, "%s", why);
			free(v);
			return -EINVAL;
		}
		free(*dst);
		*dst = v;
		return 0;
	}
	case KT_INT: {
		int v, err = parse_int(value, k->min, k->max, &v);

		if (err) {
			config_err(p, line, k->section, k->name,
			           "must be an integer from %d to %d", k->min,
			           k->max);
			return -EINVAL;
		}
		*(int *)field = v;
		return 0;
	}
	case KT_BOOL:
		if (parse_bool(value, field)) {
			config_err(p, line, k->section, k->name,
			           "must be true or false (yes/no, on/off "
			           "and 1/0 work too)");
			return -EINVAL;
		}
		return 0;
	case KT_ENUM: {
		char names[128] = "";

		for (int i = 0; k->names[i]; i++) {
			if (!strcasecmp(value, k->names[i])) {
				*(int *)field = i;
				return 0;
			}
			if (i)
				strncat(names, ", ",
				        sizeof(names) - strlen(names) - 1);
			strncat(names, k->names[i],
			        sizeof(names) - strlen(names) - 1);
		}
		config_err(p, line, k->section, k->name, "must be one of %s",
		           names);
		return -EINVAL;
	}
	case KT_LIST: {
		struct config_list l = {NULL, 0};
		int err = list_parse(p, k, line, value, &l);

		if (!err && (k->flags & KF_NONEMPTY) && l.n == 0) {
			config_err(p, line, k->section, k->name,
			           "must list at least one entry");
			err = -EINVAL;
		}
		if (err) {
			list_clear(&l);
			return err;
		}
		list_clear(field);
		*(struct config_list *)field = l;
		return 0;
	}
	}
	return -EINVAL;
}

/* True when S (N bytes) is printable ASCII, safe to echo in a message. */
static bool printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	}
	return true;
}

static const struct config_key *key_find(const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (!strcasecmp(config_keys[i].section, section) &&
		    !strcasecmp(config_keys[i].name, name))
			return &config_keys[i];
	}
	return NULL;
}

static bool section_known(const char *s, size_t n)
{
	for (size_t i = 0;
	     i < sizeof(config_sections) / sizeof(config_sections[0]); i++) {
		if (strlen(config_sections[i]) == n &&
		    !strncasecmp(config_sections[i], s, n))
			return true;
	}
	return false;
}

/* ---- the reader and the handler ---------------------------------------- */

/*
 * Takes the value after "=" (or ":") of the raw line TEXT: in double quotes
 * (with \" and \\ as the only escapes) or bare, where a ";" after a blank
 * starts a comment, as inih has it. Writes it into OUT (at least as large as
 * TEXT). Returns NULL or what is wrong.
 */
static const char *value_extract(const char *text, char *out)
{
	const char *s = text + strcspn(text, "=:");
	size_t n = 0;

	if (*s)
		s++;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '"') {
		for (s++;; s++) {
			if (!*s)
				return "the closing double quote is missing";
			if (*s == '"')
				break;
			if (*s == '\\') {
				if (s[1] != '"' && s[1] != '\\')
					return "in double quotes only \\\" and "
					       "\\\\ are escapes";
				s++;
			}
			out[n++] = *s;
		}
		out[n] = '\0';
		for (s++; *s == ' ' || *s == '\t'; s++)
			;
		if (*s && *s != ';')
			return "unexpected text after the closing double "
			       "quote";
		return NULL;
	}
	for (; *s; s++) {
		if (*s == ';' && (s[-1] == ' ' || s[-1] == '\t'))
			break;
		out[n++] = *s;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
	return NULL;
}

static int config_handler(void *user, const char *section, const char *name,
                          const char *inih_value)
{
	struct config_parse *p = user;
	const struct config_key *k;
	const char *why;
	char *value;
	size_t idx;

	(void)inih_value; /* cut at " ;" and at inih's line length */
	if (!*section) {
		config_err(p, p->lineno, NULL,
		           printable(name, strlen(name)) ? name : "(a key)",
		           "set before any [section]");
		return 0;
	}
	k = key_find(section, name);
	if (!k) {
		if (section_known(section, strlen(section)))
			config_err(p, p->lineno, section,
			           printable(name, strlen(name)) ? name
			                                         : "(a key)",
			           "unknown key");
		return 0; /* an unknown section is reported by the reader */
	}
	idx = (size_t)(k - config_keys);
	if (p->keyline[idx] > 0) {
		config_err(p, p->lineno, k->section, k->name,
		           "set twice (first on line %d)", p->keyline[idx]);
		return 0;
	}
	p->keyline[idx] = p->lineno;

	value = malloc(strlen(p->text) + 1);
	if (!value) {
		config_err(p, p->lineno, k->section, k->name, "out of memory");
		return 0;
	}
	why = value_extract(p->text, value);
	if (why) {
		config_err(p, p->lineno, k->section, k->name, "%s", why);
		free(value);
		return 0;
	}
	key_set(p, k, p->lineno, value);
	/* a secret leaves no copy behind in freed memory */
	explicit_bzero(value, strlen(value));
	free(value);
	return p->failed ? 0 : 1;
}

/* Checks a "[section]" line: a known name, nothing after but a comment. */
static void section_check(struct config_parse *p, const char *t)
{
	const char *end = strchr(t, ']');
	const char *rest;
	size_t len;

	if (!end)
		return; /* inih reports the syntax error */
	len = (size_t)(end - t - 1);
	if (!section_known(t + 1, len)) {
		if (len <= 40 && printable(t + 1, len))
			config_err(p, p->lineno, NULL, NULL,
			           "[%.*s]: unknown section", (int)len, t + 1);
		else
			config_err(p, p->lineno, NULL, NULL, "unknown section");
		return;
	}
	for (rest = end + 1; *rest == ' ' || *rest == '\t'; rest++)
		;
	if (*rest && *rest != ';' && *rest != '#')
		config_err(p, p->lineno, NULL, NULL,
		           "unexpected text after the section name");
}

static char *config_reader(char *str, int num, void *stream)
{
	struct config_parse *p = stream;
	ssize_t n = getline(&p->line, &p->cap, p->fp);
	size_t len;
	char *t;

	if (n < 0)
		return NULL;
	p->lineno++;
	len = (size_t)n;
	if (strlen(p->line) != len) {
		config_err(p, p->lineno, NULL, NULL,
		           "the line contains a NUL "
		           "byte");
		p->line[0] = '\0';
		len = 0;
	}
	while (len > 0 &&
	       (p->line[len - 1] == '\n' || p->line[len - 1] == '\r'))
		p->line[--len] = '\0';
	t = p->line;
	if (p->lineno == 1 && !strncmp(t, "\xef\xbb\xbf", 3))
		t += 3; /* UTF-8 byte order mark */
	while (*t == ' ' || *t == '\t')
		t++;
	p->text = t;
	if (strlen(t) > CONFIG_LINE_MAX)
		config_err(p, p->lineno, NULL, NULL,
		           "the line is longer than %d bytes", CONFIG_LINE_MAX);
	if (*t == '[')
		section_check(p, t);

	/* inih only needs the section names and the key names: a long value
	 * may be cut here, the handler reads the value from p->text. */
	len = strlen(t);
	if (num < 2)
		return NULL;
	if (len > (size_t)num - 1)
		len = (size_t)num - 1;
	memcpy(str, t, len);
	str[len] = '\0';
	return str;
}

/* ---- checks across keys ------------------------------------------------ */

static int line_of(const struct config_parse *p, const char *section,
                   const char *name)
{
	const struct config_key *k = key_find(section, name);

	return k ? p->keyline[k - config_keys] : 0;
}

/*
 * [xmpp] secret_file: the secret is the file's first line (without its
 * line end), so that it can live in a file only the service may read (a
 * Docker secret, a systemd credential) rather than in the configuration.
 */
static void secret_file_read(struct config_parse *p)
{
	struct config *c = p->cfg;
	int line = line_of(p, "xmpp", "secret_file");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *f;

	if (!*c->xmpp.secret_file)
		return;
	if (line_of(p, "xmpp", "secret")) {
		config_err(p, line, "xmpp", "secret_file",
		           "set secret or secret_file, not both");
		return;
	}
	f = fopen(c->xmpp.secret_file, "re");
	if (!f) {
		config_err(p, line, "xmpp", "secret_file", "%s: %s",
		           c->xmpp.secret_file, strerror(errno));
		return;
	}
	n = getline(&buf, &cap, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n <= 0 || n > CONFIG_VALUE_MAX) {
		config_err(p, line, "xmpp", "secret_file",
		           "%s: the first line must hold the secret (1 to %d "
		           "bytes)",
		           c->xmpp.secret_file, CONFIG_VALUE_MAX);
	} else {
		explicit_bzero(c->xmpp.secret, strlen(c->xmpp.secret));
		free(c->xmpp.secret);
		c->xmpp.secret = strdup(buf);
		if (!c->xmpp.secret)
			config_err(p, line, "xmpp", "secret_file",
			           "out of memory");
	}
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
}

/* [sip] tls_dir: sofia-sip reads agent.pem (certificate and private key)
 * and cafile.pem (the CAs that peers' certificates must chain to) from
 * it, and without them silently runs no TLS transport at all. */
static int tls_dir_check(struct config_parse *p, const char *dir)
{
	static const char *const files[] = {"agent.pem", "cafile.pem"};
	char path[4096];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		if (access(path, R_OK)) {
			config_err(p, line_of(p, "sip", "tls_dir"), "sip",
			           "tls_dir", "cannot read %s: %s", path,
			           strerror(errno));
			return -ENOENT;
		}
	}
	return 0;
}

static void config_check_all(struct config_parse *p)
{
	const struct config *c = p->cfg;
	int lmin = line_of(p, "sip", "rtp_port_min");
	int lmax = line_of(p, "sip", "rtp_port_max");
	int pairs;

	if (c->sip.rtp_port_min % 2) {
		config_err(p, lmin, "sip", "rtp_port_min",
		           "must be even (RTP on even ports, RTCP on the odd "
		           "port above)");
		return;
	}
	if (c->sip.rtp_port_min >= c->sip.rtp_port_max) {
		config_err(p, lmax > lmin ? lmax : lmin, "sip",
		           lmax > lmin ? "rtp_port_max" : "rtp_port_min",
		           "rtp_port_min must be below rtp_port_max");
		return;
	}
	pairs = (c->sip.rtp_port_max - c->sip.rtp_port_min + 1) / 2;
	if (c->sip.max_calls > pairs) {
		int lcalls = line_of(p, "sip", "max_calls");

		config_err(p, lcalls, "sip", "max_calls",
		           "each call needs two RTP ports, and rtp_port_min.."
		           "rtp_port_max holds %d pairs",
		           pairs);
		return;
	}
	/* The recorder refuses such a pair: without this check the bridge
	 * would start, then fail every voice reply at key 7. */
	if (c->recordings.silence_seconds > c->recordings.max_seconds) {
		int ls = line_of(p, "recordings", "silence_seconds");
		int lm = line_of(p, "recordings", "max_seconds");

		config_err(p, ls > lm ? ls : lm, "recordings",
		           ls > lm ? "silence_seconds" : "max_seconds",
		           "silence_seconds (%d) must not be more than "
		           "max_seconds (%d)",
		           c->recordings.silence_seconds,
		           c->recordings.max_seconds);
		return;
	}
	if (config_list_contains(&c->xmpp.user_domains, c->xmpp.domain)) {
		config_err(p, line_of(p, "xmpp", "domain"), "xmpp", "domain",
		           "the component needs its own domain, not one of "
		           "user_domains");
		return;
	}
	if (config_sip_tls(c) && !*c->sip.tls_dir) {
		config_err(p, line_of(p, "sip", "listen"), "sip", "tls_dir",
		           "must be set when listen is sips: or transport=tls "
		           "(a directory with agent.pem and cafile.pem)");
		return;
	}
	if (*c->sip.tls_dir && tls_dir_check(p, c->sip.tls_dir))
		return;
	/* The SDES keys are only as private as the signalling: over TLS the
	 * unset default is offer (an SRTP phone gets SRTP, a plain one still
	 * works), over UDP/TCP it stays off (keys in clear buy nothing). */
	if (!line_of(p, "sip", "srtp") && config_sip_tls(c))
		p->cfg->sip.srtp = CONFIG_SRTP_OFFER;
	if (c->presence.mode == CONFIG_PRESENCE_PUBLISH &&
	    !*c->presence.server) {
		config_err(p, line_of(p, "presence", "mode"), "presence",
		           "server", "must be set when mode is publish");
		return;
	}
	secret_file_read(p);
}

/* ---- public ------------------------------------------------------------ */

bool config_sip_tls(const struct config *c)
{
	const char *l = c->sip.listen;

	return l &&
	       (!strncasecmp(l, "sips:", 5) || strcasestr(l, ";transport=tls"));
}

bool config_list_contains(const struct config_list *l, const char *s)
{
	if (!l || !s)
		return false;
	for (size_t i = 0; i < l->n; i++) {
		if (!strcasecmp(l->v[i], s))
			return true;
	}
	return false;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		void *field = (char *)cfg + k->off;

		if (k->type == KT_STR) {
			char **s = field;

			if (*s && (k->flags & KF_SECRET))
				explicit_bzero(*s, strlen(*s));
			free(*s);
		} else if (k->type == KT_LIST) {
			list_clear(field);
		}
	}
	free(cfg->path);
	free(cfg);
}

int config_load(struct config **cfgp, const char *path, char *err,
                size_t errlen)
{
	struct config_parse p = {0};
	int rc = 0;

	if (err && errlen)
		err[0] = '\0';
	if (!cfgp)
		return -EINVAL;
	*cfgp = NULL;
	p.err = err;
	p.errlen = errlen;
	p.file = "(built-in defaults)";
	p.cfg = calloc(1, sizeof(*p.cfg));
	if (!p.cfg) {
		config_err(&p, 0, NULL, NULL, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < NKEYS && !p.failed; i++)
		key_set(&p, &config_keys[i], 0, config_keys[i].def);
	if (p.failed) {
		rc = -EINVAL;
		goto out;
	}

	if (path) {
		int ini_rc;

		p.file = path;
		p.cfg->path = strdup(path);
		if (!p.cfg->path) {
			config_err(&p, 0, NULL, NULL, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		p.fp = fopen(path, "re");
		if (!p.fp) {
			rc = -errno;
			config_err(&p, 0, NULL, NULL, "cannot open: %s",
			           strerror(errno));
			goto out;
		}
		ini_rc =
		    ini_parse_stream(config_reader, &p, config_handler, &p);
		if (ferror(p.fp)) {
			rc = -EIO;
			p.failed = false;
			config_err(&p, 0, NULL, NULL, "cannot read: %s",
			           strerror(errno));
			goto out;
		}
		if (ini_rc == -2) {
			p.failed = false;
			config_err(&p, 0, NULL, NULL, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		/* inih's own complaint came first: a line that is neither a
		 * section, a key, a comment nor blank. */
		if (ini_rc > 0 && (!p.failed || ini_rc < p.errline)) {
			p.failed = false;
			config_err(&p, ini_rc, NULL, NULL,
			           "syntax error: expected [section], "
			           "key = value, a comment or a blank line");
		}
		if (p.failed) {
			rc = -EINVAL;
			goto out;
		}
	}
	config_check_all(&p);
	if (p.failed)
		rc = -EINVAL;
out:
	if (p.fp)
		fclose(p.fp);
	if (p.line) {
		explicit_bzero(p.line, p.cap);
		free(p.line);
	}
	if (rc) {
		config_free(p.cfg);
		return rc;
	}
	*cfgp = p.cfg;
	return 0;
}
