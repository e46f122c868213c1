/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Who may be phoned and who may cause a call, over a configuration loaded
 * the way the binaries load it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "policy.h"

static struct config *load(const char *content)
{
	char path[] = "/tmp/rb-test-policy-XXXXXX", err[256] = "";
	struct config *c = NULL;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	fputs(content, f);
	fclose(f);
	if (config_load(&c, path, err, sizeof(err)))
		fprintf(stderr, "config: %s\n", err);
	unlink(path);
	return c;
}

static const struct {
	const char *dest;
	int rc;
} dests[] = {
    {"+15551234567", 0},
    {"+442079460958", 0},
    {"+4930123456", -EPERM},          /* +49 not listed */
    {"+1 555 123 4567", -EPERM},      /* not canonical */
    {"+15551234567&SIP/x/1", -EPERM}, /* not a destination at all */
    {"sip:bob@pbx.example.org", 0},
    {"sip:bob@PBX.example.org", -EPERM}, /* not canonical */
    {"sip:bob@a.corp.example", 0},
    {"sip:bob@a.b.corp.example", 0},
    {"sip:bob@corp.example", -EPERM},     /* "*." is subdomains only */
    {"sip:bob@evilcorp.example", -EPERM}, /* suffix on a label boundary */
    {"sip:bob@pbx.example.org.evil.net", -EPERM},
    {"sip:bob@192.0.2.7", 0},
    {"sip:bob@192.0.2.8", -EPERM},
    {"sips:bob@pbx.example.org:5061;transport=tls", 0},
    {"", -EPERM},
};

static void test_destinations(void)
{
	struct config *c =
	    load("[policy]\nallowed_prefixes = +1, +44\n"
	         "allowed_sip_domains = pbx.example.org, *.corp.example, "
	         "192.0.2.7\n");
	const char *why;

	if (!c) {
		CHECK(c != NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(dests) / sizeof(dests[0]); i++) {
		int rc = policy_destination_check(c, dests[i].dest, &why);

		if (rc != dests[i].rc)
			fprintf(stderr, "dest \"%s\"\n", dests[i].dest);
		CHECK_INT(rc, dests[i].rc);
		if (rc)
			CHECK(why != NULL && why[0] != '\0');
	}
	CHECK_INT(policy_destination_check(c, NULL, &why), -EPERM);
	CHECK_INT(policy_destination_check(c, "+15551234567", NULL), 0);
	config_free(c);

	/* the defaults allow nothing at all */
	c = load("");
	if (!c)
		return;
	CHECK_INT(policy_destination_check(c, "+15551234567", &why), -EPERM);
	CHECK(strstr(why, "not enabled") != NULL);
	CHECK_INT(policy_destination_check(c, "sip:bob@localhost", &why),
	          -EPERM);
	CHECK(strstr(why, "not enabled") != NULL);
	config_free(c);
}

static void test_senders(void)
{
	struct config *c = load("[xmpp]\nuser_domains = example.org, "
	                        "example.net\n"
	                        "[policy]\ndirect_dial = true\n"
	                        "direct_dial_senders = boss@example.org, "
	                        "partner.example\n");

	if (!c) {
		CHECK(c != NULL);
		return;
	}
	CHECK(policy_jid_is_local(c, "alice@example.org"));
	CHECK(policy_jid_is_local(c, "alice@EXAMPLE.NET"));
	CHECK(policy_jid_is_local(c, "alice@example.org/phone"));
	CHECK(!policy_jid_is_local(c, "alice@example.com"));
	CHECK(!policy_jid_is_local(c, "alice@sub.example.org"));
	CHECK(!policy_jid_is_local(c, "example.org")); /* a server */
	CHECK(!policy_jid_is_local(c, "@example.org"));
	CHECK(!policy_jid_is_local(c, "alice@"));
	CHECK(!policy_jid_is_local(c, NULL));
	/* a resource may hold "@": the domain ends at the first "/" */
	CHECK(!policy_jid_is_local(c, "mallory@evil.org/x@example.org"));

	CHECK(policy_sender_allowed(c, "alice@example.org"));
	CHECK(!policy_sender_allowed(c, "mallory@evil.org"));
	CHECK(!policy_sender_allowed(c, "evil.org"));

	CHECK(policy_direct_dial_allowed(c, "boss@example.org"));
	CHECK(policy_direct_dial_allowed(c, "BOSS@example.org/laptop"));
	CHECK(!policy_direct_dial_allowed(c, "alice@example.org"));
	CHECK(policy_direct_dial_allowed(c, "anyone@partner.example"));
	CHECK(!policy_direct_dial_allowed(c, "anyone@sub.partner.example"));
	CHECK(!policy_direct_dial_allowed(c, "partner.example"));
	CHECK(!policy_direct_dial_allowed(c, NULL));
	config_free(c);

	c = load("[xmpp]\nuser_domains = example.org\n"
	         "[policy]\nexternal_senders = true\n"
	         "direct_dial_senders = boss@example.org\n");
	if (!c)
		return;
	CHECK(policy_sender_allowed(c, "stranger@elsewhere.net"));
	/* listed, but direct_dial is off */
	CHECK(!policy_direct_dial_allowed(c, "boss@example.org"));
	config_free(c);
}

static void test_bare_jid(void)
{
	static const struct {
		const char *jid;
		bool ok;
	} t[] = {
	    {"alice@example.org", true},
	    {"d\\27artagnan@example.org", true},
	    {"alice@192.0.2.1", true},
	    {"alice@[::1]", true},
	    {"j\xc3\xb6rg@example.org", true},
	    {"alice", false},
	    {"example.org", false},
	    {"@example.org", false},
	    {"alice@", false},
	    {"alice@example.org/res", false},
	    {"a@b@example.org", false},
	    {"al ice@example.org", false},
	    {"d'artagnan@example.org", false},
	    {"a\"b@example.org", false},
	    {"a<b@example.org", false},
	    {"a:b@example.org", false},
	    {"a&b@example.org", false},
	    {"a\tb@example.org", false},
	    {"alice@exa mple.org", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (policy_bare_jid_valid(t[i].jid) != t[i].ok)
			fprintf(stderr, "jid \"%s\"\n", t[i].jid);
		CHECK(policy_bare_jid_valid(t[i].jid) == t[i].ok);
	}
	CHECK(!policy_bare_jid_valid(NULL));
}

/* Deferral until quiet hours end, and the senders who ring through. */
static void test_quiet_deferral(void)
{
	CHECK_INT(policy_quiet_minutes_left(-1, 0, 100), 0);
	CHECK_INT(policy_quiet_minutes_left(1320, 420, 1380), 480);
	CHECK_INT(policy_quiet_minutes_left(1320, 420, 60), 360);
	CHECK_INT(policy_quiet_minutes_left(1320, 420, 419), 1);
	CHECK_INT(policy_quiet_minutes_left(1320, 420, 420), 0);
	CHECK_INT(policy_quiet_minutes_left(540, 1020, 600), 420);
	CHECK_INT(policy_quiet_minutes_left(540, 1020, 1100), 0);

	static const char list[] = "alice@example.org\nexample.net";

	CHECK(policy_sender_listed(list, "alice@example.org"));
	CHECK(policy_sender_listed(list, "Alice@Example.ORG"));
	CHECK(policy_sender_listed(list, "bob@example.net"));
	CHECK(!policy_sender_listed(list, "bob@example.org"));
	CHECK(!policy_sender_listed(list, "alice@example.org.evil"));
	CHECK(!policy_sender_listed(list, "eve@sub.example.net"));
	CHECK(!policy_sender_listed(list, "alice@example.or"));
	CHECK(!policy_sender_listed(NULL, "alice@example.org"));
	CHECK(!policy_sender_listed("", "alice@example.org"));
	CHECK(!policy_sender_listed("\n\n", "alice@example.org"));
	CHECK(policy_sender_listed("example.net\n", "x@example.net"));
}

static void test_quiet_hours(void)
{
	static const struct {
		int start, end, now;
		bool quiet;
	} t[] = {
	    {-1, 0, 100, false},              /* no quiet hours */
	    {22 * 60, 7 * 60, 23 * 60, true}, /* wraps past midnight */
	    {22 * 60, 7 * 60, 0, true},
	    {22 * 60, 7 * 60, 6 * 60 + 59, true},
	    {22 * 60, 7 * 60, 7 * 60, false}, /* END is excluded */
	    {22 * 60, 7 * 60, 22 * 60, true}, /* START is included */
	    {22 * 60, 7 * 60, 12 * 60, false},
	    {13 * 60, 14 * 60, 13 * 60 + 30, true},
	    {13 * 60, 14 * 60, 14 * 60, false},
	    {13 * 60, 14 * 60, 12 * 60, false},
	    {600, 600, 600, false}, /* empty window */
	    {0, 1439, 1438, true},
	    {0, 1439, 1439, false},
	    {0, 2000, 100, false}, /* out of range */
	    {0, 100, 1440, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (policy_in_quiet_hours(t[i].start, t[i].end, t[i].now) !=
		    t[i].quiet)
			fprintf(stderr, "quiet case %zu\n", i);
		CHECK(policy_in_quiet_hours(t[i].start, t[i].end, t[i].now) ==
		      t[i].quiet);
	}
}

int main(void)
{
	test_destinations();
	test_senders();
	test_bare_jid();
	test_quiet_hours();
	test_quiet_deferral();
	return check_exit("test_policy");
}
