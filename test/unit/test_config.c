/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The configuration file: defaults, every kind of value, the exact error
 * messages (file, line, section, key), and that secrets never appear in
 * them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

static char path[64];

/* Writes CONTENT (LEN bytes, or a string when LEN is 0) to a fresh file. */
static void write_file(const char *content, size_t len)
{
	FILE *f;
	int fd;

	strcpy(path, "/tmp/rb-test-config-XXXXXX");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fwrite(content, 1, len ? len : strlen(content), f);
	fclose(f);
}

static int load(const char *content, struct config **cfg, char *err,
                size_t errlen)
{
	int rc;

	write_file(content, 0);
	rc = config_load(cfg, path, err, errlen);
	unlink(path);
	return rc;
}

static void check_defaults(const struct config *c)
{
	CHECK_STR(c->xmpp.host, "127.0.0.1");
	CHECK_INT(c->xmpp.port, 5347);
	CHECK_STR(c->xmpp.domain, "callgw.localhost");
	CHECK_STR(c->xmpp.secret, "ringbridge-demo-secret");
	CHECK_INT(c->xmpp.user_domains.n, 1);
	CHECK_STR(c->xmpp.user_domains.v[0], "localhost");
	CHECK_STR(c->queue.url, "sqlite:ringbridge.db");
	CHECK_STR(c->sip.listen, "sip:127.0.0.1:5080");
	CHECK_STR(c->sip.outbound_proxy, "");
	CHECK_STR(c->sip.trunk, "");
	CHECK_STR(c->sip.username, "");
	CHECK_STR(c->sip.password, "");
	CHECK_INT(c->sip.rtp_port_min, 20000);
	CHECK_INT(c->sip.rtp_port_max, 20999);
	CHECK_INT(c->sip.max_calls, 50);
	CHECK_INT(c->sip.ring_timeout, 30);
	CHECK_INT(c->sip.attempts, 3);
	CHECK_INT(c->sip.retry_backoff, 60);
	CHECK_INT(c->sip.max_call_seconds, 300);
	CHECK_INT(c->sip.realtime_priority, 0);
	CHECK_INT(c->sip.key_timeout, 10);
	CHECK_INT(c->sip.lease_seconds, 30);
	CHECK_INT(c->sip.poll_interval, 3);
	CHECK_STR(c->tts.voice, "kal");
	CHECK_INT(c->tts.max_chars, 1000);
	CHECK_INT(c->recordings.format, CONFIG_REC_OPUS);
	CHECK_INT(c->recordings.max_seconds, 60);
	CHECK_INT(c->recordings.silence_seconds, 5);
	CHECK_STR(c->recordings.dir, "");
	CHECK_STR(c->recordings.base_url, "");
	CHECK_INT(c->recordings.expire_days, 7);
	CHECK_STR(c->http.listen, "");
	CHECK_INT(c->policy.allowed_prefixes.n, 0);
	CHECK_INT(c->policy.allowed_sip_domains.n, 0);
	CHECK_INT(c->policy.calls_per_callee_per_hour, 10);
	CHECK_INT(c->policy.calls_per_sender_per_hour, 20);
	CHECK_INT(c->policy.coalesce_seconds, 120);
	CHECK(!c->policy.direct_dial);
	CHECK_INT(c->policy.direct_dial_senders.n, 0);
	CHECK(!c->policy.external_senders);
	CHECK_INT(c->policy.max_body_chars, 1000);
	CHECK_INT(c->presence.mode, CONFIG_PRESENCE_OFF);
	CHECK_STR(c->presence.server, "");
	CHECK_INT(c->presence.debounce_ms, 1500);
	CHECK_INT(c->presence.expires, 600);
	CHECK_STR(c->texts.heard, "☎ {callee} heard your message by phone.");
	CHECK_STR(c->texts.key1, "☎ {callee} heard your message by phone and "
	                         "will reply by chat.");
	CHECK_STR(c->texts.key2, "☎ {callee} heard your message by phone and "
	                         "will call you back.");
	CHECK_STR(c->texts.key3, "☎ {callee} heard your message by phone and "
	                         "will get back to you later.");
	CHECK_STR(c->texts.voice, "Voice reply from {callee}");
	CHECK_STR(c->texts.failed,
	          "☎ Could not reach {callee} by phone: {reason}.");
	CHECK_STR(c->texts.unheard,
	          "☎ {callee}'s phone answered, but nobody listened.");
	CHECK(c->calls.gate);
	CHECK(c->calls.gate_retry);
	CHECK_STR(c->log.level, "info");
}

static void test_defaults(void)
{
	struct config *c = NULL;
	char err[256];

	CHECK_INT(config_load(&c, NULL, err, sizeof(err)), 0);
	CHECK(c && c->path == NULL);
	if (c)
		check_defaults(c);
	config_free(c);

	CHECK_INT(load("", &c, err, sizeof(err)), 0);
	CHECK(c && c->path != NULL);
	if (c)
		check_defaults(c);
	config_free(c);

	/* comments, blank lines and empty sections change nothing */
	CHECK_INT(load("; comment\n# comment\n\n[xmpp]\n[sip] ; empty\n", &c,
	               err, sizeof(err)),
	          0);
	if (c)
		check_defaults(c);
	config_free(c);
	config_free(NULL);
}

static void test_values(void)
{
	static const char file[] =
	    "\xef\xbb\xbf; every key, with the odd spellings allowed\r\n"
	    "[xmpp]\r\n"
	    "host = xmpp.example.org\n"
	    "port=5348\n"
	    "  domain = CallGW.Example.org   ; indented, mixed case\n"
	    "secret = \"s3cr;t ;with \\\"quotes\\\" and \\\\\" ; comment\n"
	    "user_domains = example.org , Example.NET,corp.example\n"
	    "[queue]\n"
	    "url = postgresql://rb@db.example.org/ringbridge\n"
	    "[SIP]\n"
	    "listen = sip:*:5060;transport=udp\n"
	    "outbound_proxy = sip:proxy.example.org;lr\n"
	    "trunk = trunk.example.net:5060\n"
	    "username = rb user\n"
	    "password = p;a;s;s\n"
	    "rtp_port_min = 30000\n"
	    "rtp_port_max = 30199\n"
	    "max_calls = 100\n"
	    "ring_timeout = 25\n"
	    "attempts = 5\n"
	    "retry_backoff = 120\n"
	    "max_call_seconds = 600\n"
	    "[calls]\n"
	    "gate = off\n"
	    "gate_retry = no\n"
	    "[tts]\n"
	    "voice = slt\n"
	    "max_chars = 500\n"
	    "[recordings]\n"
	    "format = MP3\n"
	    "max_seconds = 90\n"
	    "silence_seconds = 3\n"
	    "dir = /var/lib/ringbridge/recordings\n"
	    "base_url = https://files.example.org/rb/\n"
	    "expire_days = 30\n"
	    "[http]\n"
	    "listen = [::1]:8080\n"
	    "[policy]\n"
	    "allowed_prefixes = +1, +44\n"
	    "allowed_sip_domains = pbx.example.org, *.corp.example\n"
	    "calls_per_callee_per_hour = 5\n"
	    "calls_per_sender_per_hour = 6\n"
	    "coalesce_seconds = 0\n"
	    "direct_dial = yes\n"
	    "direct_dial_senders = alice@example.org, example.net\n"
	    "external_senders = on\n"
	    "max_body_chars = 2000\n"
	    "[presence]\n"
	    "mode = publish\n"
	    "server = sip:presence.example.org\n"
	    "debounce_ms = 0\n"
	    "expires = 30\n"
	    "[texts]\n"
	    "heard = {callee} a entendu votre message.\n"
	    "key1 = k1 {callee}\n"
	    "key2 = k2\n"
	    "key3 = \"k3 ; with a semicolon\"\n"
	    "voice = Sprachantwort von {callee}\n"
	    "failed = {callee}: {reason}\n"
	    "unheard = {callee}: {reason}, nobody listened\n"
	    "[log]\n"
	    "level = DEBUG\n";
	struct config *c = NULL;
	char err[256] = "";

	CHECK_INT(load(file, &c, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "%s\n", err);
	if (!c)
		return;
	CHECK_STR(c->xmpp.host, "xmpp.example.org");
	CHECK_INT(c->xmpp.port, 5348);
	CHECK_STR(c->xmpp.domain, "callgw.example.org");
	CHECK_STR(c->xmpp.secret, "s3cr;t ;with \"quotes\" and \\");
	CHECK_INT(c->xmpp.user_domains.n, 3);
	CHECK_STR(c->xmpp.user_domains.v[1], "example.net");
	CHECK_STR(c->xmpp.user_domains.v[2], "corp.example");
	CHECK(config_list_contains(&c->xmpp.user_domains, "EXAMPLE.org"));
	CHECK(!config_list_contains(&c->xmpp.user_domains, "example"));
	CHECK_STR(c->queue.url, "postgresql://rb@db.example.org/ringbridge");
	CHECK_STR(c->sip.listen, "sip:*:5060;transport=udp");
	CHECK_STR(c->sip.outbound_proxy, "sip:proxy.example.org;lr");
	CHECK_STR(c->sip.trunk, "trunk.example.net:5060");
	CHECK_STR(c->sip.username, "rb user");
	CHECK_STR(c->sip.password, "p;a;s;s");
	CHECK_INT(c->sip.rtp_port_min, 30000);
	CHECK_INT(c->sip.rtp_port_max, 30199);
	CHECK_INT(c->sip.max_calls, 100);
	CHECK_INT(c->sip.ring_timeout, 25);
	CHECK_INT(c->sip.attempts, 5);
	CHECK_INT(c->sip.retry_backoff, 120);
	CHECK_INT(c->sip.max_call_seconds, 600);
	CHECK_STR(c->tts.voice, "slt");
	CHECK_INT(c->tts.max_chars, 500);
	CHECK_INT(c->recordings.format, CONFIG_REC_MP3);
	CHECK_INT(c->recordings.max_seconds, 90);
	CHECK_INT(c->recordings.silence_seconds, 3);
	CHECK_STR(c->recordings.dir, "/var/lib/ringbridge/recordings");
	CHECK_STR(c->recordings.base_url, "https://files.example.org/rb/");
	CHECK_INT(c->recordings.expire_days, 30);
	CHECK_STR(c->http.listen, "[::1]:8080");
	CHECK_INT(c->policy.allowed_prefixes.n, 2);
	CHECK_STR(c->policy.allowed_prefixes.v[1], "+44");
	CHECK_INT(c->policy.allowed_sip_domains.n, 2);
	CHECK_STR(c->policy.allowed_sip_domains.v[1], "*.corp.example");
	CHECK_INT(c->policy.calls_per_callee_per_hour, 5);
	CHECK_INT(c->policy.calls_per_sender_per_hour, 6);
	CHECK_INT(c->policy.coalesce_seconds, 0);
	CHECK(c->policy.direct_dial);
	CHECK_INT(c->policy.direct_dial_senders.n, 2);
	CHECK(c->policy.external_senders);
	CHECK_INT(c->policy.max_body_chars, 2000);
	CHECK_INT(c->presence.mode, CONFIG_PRESENCE_PUBLISH);
	CHECK_STR(c->presence.server, "sip:presence.example.org");
	CHECK_INT(c->presence.debounce_ms, 0);
	CHECK_INT(c->presence.expires, 30);
	CHECK_STR(c->texts.heard, "{callee} a entendu votre message.");
	CHECK_STR(c->texts.key3, "k3 ; with a semicolon");
	CHECK_STR(c->texts.failed, "{callee}: {reason}");
	CHECK_STR(c->texts.unheard, "{callee}: {reason}, nobody listened");
	CHECK(!c->calls.gate);
	CHECK(!c->calls.gate_retry);
	CHECK_STR(c->log.level, "debug");
	config_free(c);
}

static void test_long_line(void)
{
	/* inih's own line limit is 200 bytes; ours is far larger */
	char file[1200], text[901];
	struct config *c = NULL;
	char err[256];

	memset(text, 'x', 900);
	text[900] = '\0';
	memcpy(text + 400, " ; {callee} ", 12);
	snprintf(file, sizeof(file),
	         "[texts]\nheard = \"%s\"\n[tts]\nvoice = rms\n", text);
	CHECK_INT(load(file, &c, err, sizeof(err)), 0);
	if (c) {
		CHECK_STR(c->texts.heard, text);
		CHECK_STR(c->tts.voice, "rms");
	}
	config_free(c);
}

struct err_case {
	const char *file;
	const char *msg; /* expected after "PATH" */
};

static const struct err_case errors[] = {
    {"[sip]\nport = 1\n", ":2: [sip] port: unknown key"},
    {"[sip]\n\n\n\nrtp_port_min = 80\n",
     ":5: [sip] rtp_port_min: must be an integer from 1024 to 65535"},
    {"[sip]\nrtp_port_min = 20001\n",
     ":2: [sip] rtp_port_min: must be even (RTP on even ports, RTCP on "
     "the odd port above)"},
    {"[sip]\nrtp_port_max = 20000\n",
     ":2: [sip] rtp_port_max: rtp_port_min must be below rtp_port_max"},
    {"[sip]\nrtp_port_max = 20019\nrtp_port_min = 20040\n",
     ":3: [sip] rtp_port_min: rtp_port_min must be below rtp_port_max"},
    {"[sip]\nrtp_port_max = 20019\n",
     ": [sip] max_calls: each call needs two RTP ports, and "
     "rtp_port_min..rtp_port_max holds 10 pairs"},
    {"[recordings]\nmax_seconds = 4\n",
     ":2: [recordings] max_seconds: silence_seconds (5) must not be more "
     "than max_seconds (4)"},
    {"[recordings]\nmax_seconds = 20\nsilence_seconds = 30\n",
     ":3: [recordings] silence_seconds: silence_seconds (30) must not be "
     "more than max_seconds (20)"},
    {"[xmpp]\nport = 70000\n",
     ":2: [xmpp] port: must be an integer from 1 to 65535"},
    {"[xmpp]\nport = 53x\n",
     ":2: [xmpp] port: must be an integer from 1 to 65535"},
    {"[xmpp]\nport = \n",
     ":2: [xmpp] port: must be an integer from 1 to 65535"},
    {"[xmpp]\nport = 99999999999999999999\n",
     ":2: [xmpp] port: must be an integer from 1 to 65535"},
    {"[xmpp]\nport = -5347\n",
     ":2: [xmpp] port: must be an integer from 1 to 65535"},
    {"[xmpp]\nport = 5347\nport = 5348\n",
     ":3: [xmpp] port: set twice (first on line 2)"},
    {"[xmpp]\nhost = not a host\n",
     ":2: [xmpp] host: must be a host name or an IP address"},
    {"[xmpp]\ndomain = callgw..example.org\n",
     ":2: [xmpp] domain: must be a domain name such as example.org"},
    {"[xmpp]\ndomain = localhost\n",
     ":2: [xmpp] domain: the component needs its own domain, not one of "
     "user_domains"},
    {"[xmpp]\nuser_domains =\n", ":2: [xmpp] user_domains: must not be empty"},
    {"[xmpp]\nuser_domains = a.org,,b.org\n",
     ":2: [xmpp] user_domains: empty item in the comma-separated list"},
    {"[xmpp]\nuser_domains = a.org, b.org,\n",
     ":2: [xmpp] user_domains: empty item in the comma-separated list"},
    {"[xmpp]\nuser_domains = a.org, A.org\n",
     ":2: [xmpp] user_domains: \"a.org\": listed twice"},
    {"[xmpp]\nuser_domains = a.org, b_c.org\n",
     ":2: [xmpp] user_domains: \"b_c.org\": must be a domain name such as "
     "example.org"},
    {"[queue]\nurl = mysql://db\n",
     ":2: [queue] url: must be sqlite:PATH or postgresql://..."},
    {"[queue]\nurl = sqlite:\n",
     ":2: [queue] url: must be sqlite:PATH or postgresql://..."},
    {"[sip]\nlisten = 127.0.0.1:5080\n",
     ":2: [sip] listen: a SIP address starts with sip: or sips:"},
    {"[sip]\nlisten = sip:bob@127.0.0.1:5080\n",
     ":2: [sip] listen: a listening address has no user part"},
    {"[sip]\nlisten = sips:127.0.0.1:5061\n",
     ":2: [sip] tls_dir: must be set when listen is sips: or transport=tls "
     "(a directory with agent.pem and cafile.pem)"},
    {"[sip]\nlisten = sip:127.0.0.1:5061;transport=TLS\n",
     ":2: [sip] tls_dir: must be set when listen is sips: or transport=tls "
     "(a directory with agent.pem and cafile.pem)"},
    {"[sip]\n\ntls_dir = /nonexistent/rb\n",
     ":3: [sip] tls_dir: cannot read /nonexistent/rb/agent.pem: No such "
     "file or directory"},
    {"[sip]\noutbound_proxy = sip:proxy;maddr=1.2.3.4\n",
     ":2: [sip] outbound_proxy: only the ;transport= and ;lr parameters "
     "are accepted"},
    {"[sip]\ntrunk = trunk.example.net:0\n",
     ":2: [sip] trunk: the port must be a number from 1 to 65535"},
    {"[sip]\ntrunk = sip:trunk.example.net\n",
     ":2: [sip] trunk: the port must be a number from 1 to 65535"},
    {"[sip]\nmax_calls = 0\n",
     ":2: [sip] max_calls: must be an integer from 1 to 10000"},
    {"[sip]\nattempts = 11\n",
     ":2: [sip] attempts: must be an integer from 1 to 10"},
    {"[tts]\nvoice = kal; rm -rf /\n",
     ":2: [tts] voice: must be a voice name (kal, slt, ...) or the path "
     "of a .flitevox file"},
    {"[recordings]\nformat = wav\n",
     ":2: [recordings] format: must be one of opus, mp3"},
    {"[recordings]\nbase_url = files.example.org\n",
     ":2: [recordings] base_url: must be an http:// or https:// URL"},
    {"[http]\nlisten = 8080\n",
     ":2: [http] listen: must be HOST:PORT, e.g. 127.0.0.1:8080 or "
     "[::1]:8080"},
    {"[policy]\nallowed_prefixes = +1, 44\n",
     ":2: [policy] allowed_prefixes: \"44\": must be \"+\" followed by 1 "
     "to 15 digits (a country or area code)"},
    {"[policy]\nallowed_prefixes = +1234567890123456\n",
     ":2: [policy] allowed_prefixes: \"+1234567890123456\": must be \"+\" "
     "followed by 1 to 15 digits (a country or area code)"},
    {"[policy]\nallowed_prefixes = +\n",
     ":2: [policy] allowed_prefixes: \"+\": must be \"+\" followed by 1 "
     "to 15 digits (a country or area code)"},
    {"[policy]\nallowed_sip_domains = *example.org\n",
     ":2: [policy] allowed_sip_domains: \"*example.org\": must be a "
     "domain, *.domain (its subdomains) or an IP address"},
    {"[policy]\ndirect_dial = maybe\n",
     ":2: [policy] direct_dial: must be true or false (yes/no, on/off and "
     "1/0 work too)"},
    {"[policy]\ndirect_dial_senders = alice@@example.org\n",
     ":2: [policy] direct_dial_senders: \"alice@@example.org\": must be a "
     "bare JID (user@example.org) or a domain"},
    {"[policy]\ndirect_dial_senders = alice@example.org/phone\n",
     ":2: [policy] direct_dial_senders: \"alice@example.org/phone\": must "
     "be a bare JID (user@example.org) or a domain"},
    {"[presence]\nmode = on\n",
     ":2: [presence] mode: must be one of off, publish, agent"},
    {"[presence]\nmode = publish\n",
     ":2: [presence] server: must be set when mode is publish"},
    {"[presence]\nexpires = 5\n",
     ":2: [presence] expires: must be an integer from 10 to 86400"},
    {"[texts]\nheard = {calee} heard it\n",
     ":2: [texts] heard: unknown placeholder; {callee} is known"},
    {"[texts]\nkey1 = {reason}\n",
     ":2: [texts] key1: unknown placeholder; {callee} is known"},
    {"[texts]\nfailed = {callee} {reasons}\n",
     ":2: [texts] failed: unknown placeholder; {callee} and {reason} are "
     "known"},
    {"[texts]\nvoice =\n", ":2: [texts] voice: must not be empty"},
    {"[texts]\nheard = caf\xe9\n",
     ":2: [texts] heard: must be UTF-8 text without control characters"},
    {"[texts]\nheard = a\x1b[31mb\n",
     ":2: [texts] heard: must be UTF-8 text without control characters"},
    {"[log]\nlevel = verbose\n",
     ":2: [log] level: must be one of error, warn, info, debug"},
    {"[sipp]\nport = 1\n", ":1: [sipp]: unknown section"},
    {"[sip]\n[polcy]\n", ":2: [polcy]: unknown section"},
    {"[sip] junk\n", ":1: unexpected text after the section name"},
    {"[si\x1bp]\n", ":1: unknown section"},
    {"[sip]\npo\x1brt = 1\n", ":2: [sip] (a key): unknown key"},
    {"\x1bport = 1\n", ":1: (a key): set before any [section]"},
    {"port = 1\n", ":1: port: set before any [section]"},
    {"[sip]\nthis line has no equals sign\n",
     ":2: syntax error: expected [section], key = value, a comment or a "
     "blank line"},
    {"[sip\nport = 1\n",
     ":1: syntax error: expected [section], key = value, a comment or a "
     "blank line"},
    {"[texts]\nheard = \"unterminated\n",
     ":2: [texts] heard: the closing double quote is missing"},
    {"[texts]\nheard = \"a\" b\n",
     ":2: [texts] heard: unexpected text after the closing double quote"},
    {"[texts]\nheard = \"a\\nb\"\n",
     ":2: [texts] heard: in double quotes only \\\" and \\\\ are escapes"},
};

static void test_errors(void)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct config *c = (struct config *)1;
		char err[512] = "", want[512];
		int rc;

		write_file(errors[i].file, 0);
		rc = config_load(&c, path, err, sizeof(err));
		snprintf(want, sizeof(want), "%s%s", path, errors[i].msg);
		unlink(path);
		CHECK_INT(rc, -EINVAL);
		CHECK(c == NULL);
		CHECK_STR(err, want);
	}
}

static void test_nul_byte(void)
{
	static const char file[] = "[sip]\nusername = a\0b\n";
	struct config *c = NULL;
	char err[256], want[256];

	write_file(file, sizeof(file) - 1);
	CHECK_INT(config_load(&c, path, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: the line contains a NUL byte",
	         path);
	unlink(path);
	CHECK_STR(err, want);
}

/* Errors about secret values say what is wrong, never what the value is. */
static void test_secrets(void)
{
	static const char *const files[] = {
	    "[xmpp]\nsecret = \"Hunter2Secret\n",
	    "[xmpp]\nsecret = \"Hunter2Secret\" trailing\n",
	    "[xmpp]\nsecret = \"Hunter2\\Secret\"\n",
	    "[xmpp]\nsecret = Hunter2Secret\x01\n",
	    "[xmpp]\nsecret = Hunter2Secret\nsecret = Hunter2Secret\n",
	    "[sip]\npassword = Hunter2Secret\x7f\n",
	    "[queue]\nurl = mysql://rb:Hunter2Secret@db/rb\n",
	    "[xmpp]\nsecret = Hunter2Secret\nport = x\n",
	    "[sip]\npassword = \"Hunter2Secret\nport=1\n",
	    "[xmpp]\nsecret Hunter2Secret\n",
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct config *c = NULL;
		char err[512] = "";

		CHECK_INT(load(files[i], &c, err, sizeof(err)), -EINVAL);
		CHECK(err[0] != '\0');
		if (strstr(err, "Hunter2"))
			fprintf(stderr, "secret leaked: %s\n", err);
		CHECK(strstr(err, "Hunter2") == NULL);
		config_free(c);
	}
}

/* [xmpp] secret_file: the first line of the file, never in messages. */
static void test_secret_file(void)
{
	char sf[96], text[256], err[512] = "";
	struct config *c = NULL;
	FILE *f;

	snprintf(sf, sizeof(sf), "%s.secret", path);
	f = fopen(sf, "w");
	CHECK(f != NULL);
	fputs("Hunter2 ;from-file\r\nsecond line\n", f);
	fclose(f);
	snprintf(text, sizeof(text), "[xmpp]\nsecret_file = %s\n", sf);
	CHECK_INT(load(text, &c, err, sizeof(err)), 0);
	CHECK_STR(c->xmpp.secret, "Hunter2 ;from-file");
	config_free(c);
	c = NULL;

	/* Both set, an empty file, a missing one: errors naming the key. */
	snprintf(text, sizeof(text),
	         "[xmpp]\nsecret = Hunter2x\nsecret_file = %s\n", sf);
	CHECK_INT(load(text, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, ":3: [xmpp] secret_file: set secret or") != NULL);
	CHECK(strstr(err, "Hunter2") == NULL);
	f = fopen(sf, "w");
	CHECK(f != NULL);
	fclose(f);
	snprintf(text, sizeof(text), "[xmpp]\nsecret_file = %s\n", sf);
	CHECK_INT(load(text, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "the first line must hold the secret") != NULL);
	unlink(sf);
	CHECK_INT(load(text, &c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "No such file") != NULL);
	CHECK(c == NULL);
}

static void test_misc(void)
{
	struct config *c = NULL;
	char err[256], small[16];

	CHECK_INT(
	    config_load(&c, "/nonexistent/ringbridge.ini", err, sizeof(err)),
	    -ENOENT);
	CHECK_STR(err,
	          "/nonexistent/ringbridge.ini: cannot open: No such file or "
	          "directory");
	CHECK(config_load(&c, "/tmp", err, sizeof(err)) < 0);
	CHECK(c == NULL);
	/* a short error buffer is cut, not overrun; a NULL one is fine */
	CHECK_INT(load("[x]\n", &c, small, sizeof(small)), -EINVAL);
	CHECK_INT(strlen(small), sizeof(small) - 1);
	CHECK_INT(load("[x]\n", &c, NULL, 0), -EINVAL);
	CHECK_INT(config_load(NULL, NULL, err, sizeof(err)), -EINVAL);

	/* booleans in all their spellings; unquoted " ;" starts a comment */
	CHECK_INT(load("[policy]\ndirect_dial = On\nexternal_senders = 1\n"
	               "[sip]\npassword = abc ;def\nusername = a;b\n"
	               "[xmpp]\nsecret = x ; y\nhost = ::1\n",
	               &c, err, sizeof(err)),
	          0);
	if (c) {
		CHECK(c->policy.direct_dial);
		CHECK(c->policy.external_senders);
		CHECK_STR(c->sip.password, "abc");
		CHECK_STR(c->sip.username, "a;b");
		CHECK_STR(c->xmpp.secret, "x");
		CHECK_STR(c->xmpp.host, "::1");
	}
	config_free(c);
	CHECK_INT(load("[policy]\ndirect_dial = OFF\nexternal_senders = no\n"
	               "[presence]\nmode = agent\n[sip]\npassword = \"\"\n",
	               &c, err, sizeof(err)),
	          0);
	if (c) {
		CHECK(!c->policy.direct_dial);
		CHECK(!c->policy.external_senders);
		CHECK_INT(c->presence.mode, CONFIG_PRESENCE_AGENT);
		CHECK_STR(c->sip.password, "");
	}
	config_free(c);
}

/* [sip] srtp's default follows the signalling: offer over TLS (the keys
 * are then private), off otherwise; a value in the file always wins. */
static void test_srtp_default(void)
{
	char dir[] = "/tmp/rb-test-tls-XXXXXX", f[128], text[512], err[256];
	struct config *c = NULL;

	CHECK(mkdtemp(dir) != NULL);
	for (int i = 0; i < 2; i++) {
		FILE *fp;

		snprintf(f, sizeof(f), "%s/%s", dir,
		         i ? "cafile.pem" : "agent.pem");
		fp = fopen(f, "w");
		CHECK(fp != NULL);
		fclose(fp);
	}
	CHECK_INT(load("[sip]\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c ? (int)c->sip.srtp : -1, CONFIG_SRTP_OFF);
	config_free(c);
	snprintf(text, sizeof(text),
	         "[sip]\nlisten = sips:127.0.0.1:5061\ntls_dir = %s\n", dir);
	CHECK_INT(load(text, &c, err, sizeof(err)), 0);
	CHECK_INT(c ? (int)c->sip.srtp : -1, CONFIG_SRTP_OFFER);
	config_free(c);
	snprintf(text, sizeof(text),
	         "[sip]\nlisten = sip:127.0.0.1:5061;transport=tls\n"
	         "tls_dir = %s\nsrtp = off\n",
	         dir);
	CHECK_INT(load(text, &c, err, sizeof(err)), 0);
	CHECK_INT(c ? (int)c->sip.srtp : -1, CONFIG_SRTP_OFF);
	config_free(c);
	CHECK_INT(load("[sip]\nsrtp = require\n", &c, err, sizeof(err)), 0);
	CHECK_INT(c ? (int)c->sip.srtp : -1, CONFIG_SRTP_REQUIRE);
	config_free(c);
	for (int i = 0; i < 2; i++) {
		snprintf(f, sizeof(f), "%s/%s", dir,
		         i ? "cafile.pem" : "agent.pem");
		unlink(f);
	}
	rmdir(dir);
}

int main(void)
{
	test_defaults();
	test_values();
	test_long_line();
	test_errors();
	test_nul_byte();
	test_secrets();
	test_secret_file();
	test_misc();
	test_srtp_default();
	return check_exit("test_config");
}
