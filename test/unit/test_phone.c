/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Destination normalisation: what users type, what is stored and dialled,
 * and everything that must never reach a dial string.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "phone.h"

struct phone_case {
	const char *in;
	int rc;
	const char *out; /* canonical form when rc == 0 */
	enum phone_kind kind;
};

static const struct phone_case cases[] = {
    /* E.164 */
    {"+15551234567", 0, "+15551234567", PHONE_E164},
    {"+1 (555) 123-4567", 0, "+15551234567", PHONE_E164},
    {"+44 20 7946 0958", 0, "+442079460958", PHONE_E164},
    {"+33.1.23.45.67.89", 0, "+33123456789", PHONE_E164},
    {"0049 30 1234567", 0, "+49301234567", PHONE_E164},
    {"  +4930123456  ", 0, "+4930123456", PHONE_E164},
    {"+6834002", 0, "+6834002", PHONE_E164}, /* Niue: 7 digits */
    {"+123456789012345", 0, "+123456789012345", PHONE_E164}, /* 15 */
    {"+1234567890123456", -EINVAL, NULL, 0},                 /* 16 */
    {"+123456", -EINVAL, NULL, 0},                           /* 6 */
    {"+44 (0)20 7946 0958", -EINVAL, NULL, 0},               /* trunk prefix */
    {"+0123456789", -EINVAL, NULL, 0},
    {"5551234567", -EINVAL, NULL, 0},
    {"015551234567", -EINVAL, NULL, 0},
    {"+1 555 123 4567 ext 2", -EINVAL, NULL, 0},
    {"+15551234567&SIP/itsp/14165551212", -EINVAL, NULL, 0},
    {"+15551234567,1234", -EINVAL, NULL, 0},
    {"+15551234567;ext=1", -EINVAL, NULL, 0},
    {"*72+15551234567", -EINVAL, NULL, 0},
    {"+1555123456#", -EINVAL, NULL, 0},
    {"+1555123456*", -EINVAL, NULL, 0},
    {"+1555w1234567", -EINVAL, NULL, 0},
    {"+1 (555 1234567", -EINVAL, NULL, 0},
    {"+1 555) 1234567", -EINVAL, NULL, 0},
    {"+1 ((555)) 1234567", -EINVAL, NULL, 0},
    {"+1 () 5551234567", -EINVAL, NULL, 0},
    {"++15551234567", -EINVAL, NULL, 0},
    {"+１５５５１２３４５６７", -EINVAL, NULL, 0}, /* full-width digits */
    {"+15551234567\n", -EINVAL, NULL, 0},
    {"", -EINVAL, NULL, 0},
    {"   ", -EINVAL, NULL, 0},
    {"+", -EINVAL, NULL, 0},

    /* SIP */
    {"sip:bob@pbx.example.org", 0, "sip:bob@pbx.example.org", PHONE_SIP},
    {"SIP:Bob@PBX.Example.ORG", 0, "sip:Bob@pbx.example.org", PHONE_SIP},
    {"sips:bob@example.org:5061", 0, "sips:bob@example.org:5061", PHONE_SIP},
    {"sip:+15551234567@trunk.example.net", 0,
     "sip:+15551234567@trunk.example.net", PHONE_SIP},
    {"sip:bob@pbx;transport=TCP", 0, "sip:bob@pbx;transport=tcp", PHONE_SIP},
    {"sip:1001@192.0.2.10:5060", 0, "sip:1001@192.0.2.10:5060", PHONE_SIP},
    {"sip:alice@[2001:DB8:0:0::1]:5060", 0, "sip:alice@[2001:db8::1]:5060",
     PHONE_SIP},
    {"sip:b%6Fb@example.org", 0, "sip:bob@example.org", PHONE_SIP},
    {"sip:first.last_1~x-y@example.org", 0, "sip:first.last_1~x-y@example.org",
     PHONE_SIP},
    {"sip:bob@example.org:05060", 0, "sip:bob@example.org:5060", PHONE_SIP},
    {"sip:example.org", -EINVAL, NULL, 0}, /* no user */
    {"sip:@example.org", -EINVAL, NULL, 0},
    {"sip:bob:secret@example.org", -EINVAL, NULL, 0},
    {"sip:*72@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:%2A72@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:bob%zz@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:#1@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:bob&x@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:bob,x@pbx.example.org", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org;transport=sctp", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org;lr", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org;user=phone", -EINVAL, NULL, 0},
    {"sip:bob@pbx;transport=udp;transport=tcp", -EINVAL, NULL, 0},
    {"sips:bob@pbx;transport=udp", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org?Subject=hi", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org:0", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org:65536", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org:", -EINVAL, NULL, 0},
    {"sip:bob@pbx..example.org", -EINVAL, NULL, 0},
    {"sip:bob@-pbx.example.org", -EINVAL, NULL, 0},
    {"sip:bob@pbx_1.example.org", -EINVAL, NULL, 0},
    {"sip:bob@pbx.example.org.", -EINVAL, NULL, 0},
    {"sip:bob@192.0.2.300", -EINVAL, NULL, 0},
    {"sip:bob@[2001:db8::1", -EINVAL, NULL, 0},
    {"sip:bob@[not:an:ip]", -EINVAL, NULL, 0},
    {"sip:bob@a@b.org", -EINVAL, NULL, 0},
    {"sip:bob@", -EINVAL, NULL, 0},
    {"sip:bob @example.org", -EINVAL, NULL, 0},
    {"tel:+15551234567", -EINVAL, NULL, 0},
    {"xmpp:bob@example.org", -EINVAL, NULL, 0},
};

static void test_normalise(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct phone_case *c = &cases[i];
		char out[PHONE_MAX];
		enum phone_kind kind = 0;
		const char *why = NULL;
		int rc = phone_normalise(c->in, out, sizeof(out), &kind, &why);

		if (rc != c->rc)
			fprintf(stderr, "case %zu: \"%s\"\n", i, c->in);
		CHECK_INT(rc, c->rc);
		if (c->rc == 0) {
			CHECK_STR(out, c->out);
			CHECK_INT(kind, c->kind);
			/* canonical forms are fixed points */
			char again[PHONE_MAX];
			CHECK_INT(phone_normalise(out, again, sizeof(again),
			                          &kind, &why),
			          0);
			CHECK_STR(again, out);
		} else {
			CHECK(why != NULL && why[0] != '\0');
			CHECK_STR(out, "");
		}
	}
}

static void test_limits(void)
{
	char in[PHONE_MAX + 16], out[PHONE_MAX];
	const char *why;

	/* a user part that makes the URI exactly too long */
	memset(in, 'a', sizeof(in));
	memcpy(in, "sip:", 4);
	strcpy(in + PHONE_MAX - 12, "@example.org");
	CHECK_INT(phone_normalise(in, out, sizeof(out), NULL, &why), -EINVAL);
	CHECK_INT(phone_normalise(NULL, out, sizeof(out), NULL, &why), -EINVAL);
	/* a short output buffer is an error, not an overflow */
	CHECK(phone_normalise("+15551234567", out, 8, NULL, &why) < 0);
	CHECK(phone_normalise("sip:bob@example.org", out, 8, NULL, &why) < 0);
	/* why may be NULL */
	CHECK_INT(phone_normalise("junk", out, sizeof(out), NULL, NULL),
	          -EINVAL);
}

static void test_sip_domain(void)
{
	char host[PHONE_MAX];

	CHECK_INT(phone_sip_domain("sip:bob@pbx.example.org:5060;transport=tcp",
	                           host, sizeof(host)),
	          0);
	CHECK_STR(host, "pbx.example.org");
	CHECK_INT(
	    phone_sip_domain("sips:bob@[2001:db8::1]", host, sizeof(host)), 0);
	CHECK_STR(host, "[2001:db8::1]");
	CHECK_INT(phone_sip_domain("sip:bob@192.0.2.1", host, sizeof(host)), 0);
	CHECK_STR(host, "192.0.2.1");
	CHECK_INT(phone_sip_domain("+15551234567", host, sizeof(host)),
	          -EINVAL);
	CHECK_INT(phone_sip_domain("sip:bob@pbx.example.org", host, 4),
	          -ENOSPC);
}

static void test_hosts(void)
{
	static const struct {
		const char *s;
		bool domain, host;
	} t[] = {
	    {"example.org", true, true},
	    {"localhost", true, true},
	    {"a-b.c0.example", true, true},
	    {"xn--bcher-kva.example", true, true},
	    {"EXAMPLE.ORG", true, true},
	    {"192.0.2.1", false, true},
	    {"[::1]", false, true},
	    {"::1", false, false},
	    {"1.2.3", false, false},
	    {"example.123", false, false},
	    {"-a.org", false, false},
	    {"a-.org", false, false},
	    {"a..org", false, false},
	    {".a.org", false, false},
	    {"a.org.", false, false},
	    {"under_score.org", false, false},
	    {"b\xc3\xbc"
	     "cher.example",
	     false, false},
	    {"", false, false},
	    {"*", false, false},
	};
	char label64[80];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (phone_domain_valid(t[i].s) != t[i].domain ||
		    phone_host_valid(t[i].s) != t[i].host)
			fprintf(stderr, "host case \"%s\"\n", t[i].s);
		CHECK(phone_domain_valid(t[i].s) == t[i].domain);
		CHECK(phone_host_valid(t[i].s) == t[i].host);
	}
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".org");
	CHECK(!phone_domain_valid(label64));
	CHECK(phone_domain_valid(label64 + 1));
	CHECK(!phone_domain_valid(NULL));
}

static void test_server_check(void)
{
	const char *why;

	CHECK_INT(phone_sip_server_check("sip:127.0.0.1:5080", true, &why), 0);
	CHECK_INT(
	    phone_sip_server_check("sip:*:5080;transport=udp", true, &why), 0);
	CHECK_INT(phone_sip_server_check("sip:[::]:5080", true, &why), 0);
	CHECK_INT(phone_sip_server_check("sip:bob@127.0.0.1", true, &why),
	          -EINVAL);
	CHECK_INT(phone_sip_server_check("sip:*:5080", false, &why), -EINVAL);
	CHECK_INT(
	    phone_sip_server_check("sip:proxy.example.org;lr", false, &why), 0);
	CHECK_INT(
	    phone_sip_server_check("sip:proxy.example.org;lr", true, &why),
	    -EINVAL);
	CHECK_INT(
	    phone_sip_server_check("sip:presence@example.org", false, &why), 0);
	CHECK_INT(phone_sip_server_check("http://example.org", false, &why),
	          -EINVAL);
	CHECK(why != NULL);
}

int main(void)
{
	test_normalise();
	test_limits();
	test_sip_domain();
	test_hosts();
	test_server_check();
	return check_exit("test_phone");
}
