/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0106 escaping (the XEP's own examples) and gateway addresses: which
 * user or number an address at the component's domain names.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "jid_escape.h"

/* XEP-0106 section 5.1: what the user types and the escaped localpart. */
static const struct {
	const char *plain;
	const char *escaped;
} xep_examples[] = {
    {"space cadet", "space\\20cadet"},
    {"call me \"ishmael\"", "call\\20me\\20\\22ishmael\\22"},
    {"at&t guy", "at\\26t\\20guy"},
    {"d'artagnan", "d\\27artagnan"},
    {"/.fanboy", "\\2f.fanboy"},
    {"::foo::", "\\3a\\3afoo\\3a\\3a"},
    {"<foo>", "\\3cfoo\\3e"},
    {"user@host", "user\\40host"},
    /* example 12; examples 9 to 11 also escape a backslash that starts
     * no sequence, which rule 7 of section 4.1 does not ask for */
    {"c:\\5commas", "c\\3a\\5c5commas"},
    {"c:\\net", "c\\3a\\net"},
    {"c:\\cool stuff", "c\\3a\\cool\\20stuff"},
    {"here's_a_wild_&_/cr%zy/_address",
     "here\\27s_a_wild_\\26_\\2fcr%zy\\2f_address"},
    {"\\3and\\2is\\5cool", "\\5c3and\\2is\\5c5cool"},
    {"plain", "plain"},
};

static void test_escape_roundtrip(void)
{
	for (size_t i = 0; i < sizeof(xep_examples) / sizeof(xep_examples[0]);
	     i++) {
		char out[256];

		CHECK_INT(
		    jidesc_escape(xep_examples[i].plain, out, sizeof(out)), 0);
		CHECK_STR(out, xep_examples[i].escaped);
		CHECK_INT(
		    jidesc_unescape(xep_examples[i].escaped, out, sizeof(out)),
		    0);
		CHECK_STR(out, xep_examples[i].plain);
	}
}

static void test_unescape_rules(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *out;
	} t[] = {
	    /* section 4.3: partial and unknown sequences stay */
	    {"\\2plus\\2is\\4", 0, "\\2plus\\2is\\4"},
	    {"foo\\bar", 0, "foo\\bar"},
	    {"foob\\41r", 0, "foob\\41r"},
	    /* case matters */
	    {"a\\2Fb", 0, "a\\2Fb"},
	    /* one pass only */
	    {"\\5c27", 0, "\\27"},
	    {"\\5c5c", 0, "\\5c"},
	    {"a\\", 0, "a\\"},
	    {"a\\4", 0, "a\\4"},
	    /* \20 may be neither first nor last */
	    {"\\20bob", -EINVAL, NULL},
	    {"bob\\20", -EINVAL, NULL},
	    {"", -EINVAL, NULL},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = jidesc_unescape(t[i].in, out, sizeof(out));

		CHECK_INT(rc, t[i].rc);
		if (!t[i].rc)
			CHECK_STR(out, t[i].out);
	}
	CHECK_INT(jidesc_unescape("d\\27artagnan", out, 5), -ENOSPC);
	CHECK_INT(jidesc_unescape("abcd", out, 5), 0);
	CHECK_INT(jidesc_unescape("abcde", out, 5), -ENOSPC);
	CHECK_INT(jidesc_unescape(NULL, out, sizeof(out)), -EINVAL);
}

static void test_escape_rules(void)
{
	char out[2100], big[1100];

	CHECK_INT(jidesc_escape(" bob", out, sizeof(out)), -EINVAL);
	CHECK_INT(jidesc_escape("bob ", out, sizeof(out)), -EINVAL);
	CHECK_INT(jidesc_escape("", out, sizeof(out)), -EINVAL);
	CHECK_INT(jidesc_escape("a\nb", out, sizeof(out)), -EINVAL);
	CHECK_INT(jidesc_escape("j\xc3\xb6rg", out, sizeof(out)), 0);
	CHECK_STR(out, "j\xc3\xb6rg");
	CHECK_INT(jidesc_escape("a@b", out, 5), -ENOSPC);
	CHECK_INT(jidesc_escape("a@b", out, 6), 0);
	memset(big, 'a', 1023);
	big[1023] = '\0';
	CHECK_INT(jidesc_escape(big, out, sizeof(out)), 0);
	big[1022] = '@';
	CHECK_INT(jidesc_escape(big, out, sizeof(out)), -ENAMETOOLONG);
}

static struct config *load(const char *content)
{
	char path[] = "/tmp/rb-test-jidesc-XXXXXX", err[256] = "";
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
	const char *local;
	int rc;
	enum jidesc_kind kind;
	const char *result;
} gateway[] = {
    {"bob", 0, JIDESC_USER, "bob@example.org"},
    {"Bob", 0, JIDESC_USER, "bob@example.org"},
    {"bob\\40example.org", 0, JIDESC_USER, "bob@example.org"},
    {"bob\\40example.net", 0, JIDESC_USER, "bob@example.net"},
    {"bob\\40EXAMPLE.NET", 0, JIDESC_USER, "bob@example.net"},
    {"d\\27artagnan", 0, JIDESC_USER, "d\\27artagnan@example.org"},
    {"d\\27artagnan\\40example.net", 0, JIDESC_USER,
     "d\\27artagnan@example.net"},
    {"a\\40b\\40example.net", 0, JIDESC_USER, "a\\40b@example.net"},
    /* "\5c40" is an escaped backslash, then "40": no separator */
    {"bob\\5c40example.net", 0, JIDESC_USER,
     "bob\\5c40example.net@example.org"},
    {"j\xc3\xb6rg", 0, JIDESC_USER, "j\xc3\xb6rg@example.org"},
    {"+15551234567", 0, JIDESC_NUMBER, "+15551234567"},
    {"+44(20)79460958", 0, JIDESC_NUMBER, "+442079460958"},
    {"bob\\40evil.org", -EPERM, 0, NULL},
    {"bob\\40sub.example.org", -EPERM, 0, NULL},
    {"bob\\40example.org\\40evil.org", -EPERM, 0, NULL},
    {"\\40example.org", -EINVAL, 0, NULL},
    {"bob\\40", -EINVAL, 0, NULL},
    {"bob\\40exa_mple.org", -EINVAL, 0, NULL},
    {"bob\\40example.org\\2fres", -EINVAL, 0, NULL},
    {"bob\\20\\40example.org", -EINVAL, 0, NULL},
    {"\\20bob", -EINVAL, 0, NULL},
    {"+1555", -EINVAL, 0, NULL},
    {"+15551234567\\26x", -EINVAL, 0, NULL},
    {"+1555123456#", -EINVAL, 0, NULL},
    {"+sip:bob@x", -EINVAL, 0, NULL},
    {"bob@example.org", -EINVAL, 0, NULL},
    {"bob/x", -EINVAL, 0, NULL},
    {"bob's", -EINVAL, 0, NULL},
    {"bo b", -EINVAL, 0, NULL},
    {"", -EINVAL, 0, NULL},
};

static void test_gateway(void)
{
	struct config *c = load("[xmpp]\ndomain = callgw.example.org\n"
	                        "user_domains = example.org, example.net\n");
	struct jidesc_target t;
	char big[1100];

	if (!c) {
		CHECK(c != NULL);
		return;
	}
	for (size_t i = 0; i < sizeof(gateway) / sizeof(gateway[0]); i++) {
		int rc = jidesc_gateway_parse(gateway[i].local, c, &t);

		if (rc != gateway[i].rc)
			fprintf(stderr, "gateway \"%s\"\n", gateway[i].local);
		CHECK_INT(rc, gateway[i].rc);
		if (rc)
			continue;
		CHECK_INT(t.kind, gateway[i].kind);
		CHECK_STR(t.kind == JIDESC_USER ? t.jid : t.number,
		          gateway[i].result);
	}
	memset(big, 'a', 1023);
	big[1023] = '\0';
	CHECK_INT(jidesc_gateway_parse(big, c, &t), 0);
	big[1023] = 'a';
	big[1024] = '\0';
	CHECK_INT(jidesc_gateway_parse(big, c, &t), -EINVAL);
	CHECK_INT(jidesc_gateway_parse(NULL, c, &t), -EINVAL);
	CHECK_INT(jidesc_gateway_parse("bob", NULL, &t), -EINVAL);
	config_free(c);
}

int main(void)
{
	test_escape_roundtrip();
	test_unescape_rules();
	test_escape_rules();
	test_gateway();
	return check_exit("test_jid_escape");
}
