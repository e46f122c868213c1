/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Unit tests for pidf.c: every XMPP availability built as PIDF/RPID and read
 * back (both directions of the RFC 8048 mapping), the note escaped, PIDF
 * written by others (Kamailio's presence_xml style, older tuple notes),
 * dialog-info (RFC 4235) full and partial, and hostile input refused:
 * malformed, oversized, too deep, too many dialogs, DTDs and entities.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pidf.h"

static void test_build_parse_roundtrip(void)
{
	static const struct {
		enum pidf_avail in;
		const char *basic, *activity;
		enum pidf_avail back;
	} cases[] = {
	    {PIDF_AVAILABLE, "open", NULL, PIDF_AVAILABLE},
	    {PIDF_CHAT, "open", NULL, PIDF_AVAILABLE},
	    {PIDF_AWAY, "open", "<rpid:away/>", PIDF_AWAY},
	    {PIDF_XA, "open", "<rpid:away/>", PIDF_AWAY},
	    {PIDF_DND, "open", "<rpid:busy/>", PIDF_DND},
	    {PIDF_UNAVAILABLE, "closed", NULL, PIDF_UNAVAILABLE},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *doc = NULL, *note = NULL, want[64];
		size_t len = 0;
		enum pidf_avail a;

		CHECK(pidf_build("sip:alice@example.test", cases[i].in,
		                 "At lunch", &doc, &len) == 0);
		CHECK(doc && strlen(doc) == len);
		snprintf(want, sizeof(want), "<basic>%s</basic>",
		         cases[i].basic);
		CHECK(strstr(doc, want) != NULL);
		CHECK(strstr(doc, "entity=\"sip:alice@example.test\""));
		CHECK(strstr(doc, "urn:ietf:params:xml:ns:pidf"));
		if (cases[i].activity)
			CHECK(strstr(doc, cases[i].activity) != NULL);
		else
			CHECK(strstr(doc, "rpid:activities") == NULL);
		CHECK(pidf_parse(doc, len, &a, &note) == 0);
		CHECK(a == cases[i].back);
		CHECK(note && !strcmp(note, "At lunch"));
		free(note);
		free(doc);
	}
}

static void test_note_escaped(void)
{
	char *doc = NULL, *note = NULL;
	size_t len;
	enum pidf_avail a;
	const char *evil = "<b>&amp; \"quoted\" ]]> </note></tuple>";

	CHECK(pidf_build("sip:a@b", PIDF_DND, evil, &doc, &len) == 0);
	CHECK(strstr(doc, "</tuple></tuple>") == NULL);
	CHECK(strstr(doc, "&lt;b&gt;&amp;amp;"));
	CHECK(pidf_parse(doc, len, &a, &note) == 0);
	CHECK(a == PIDF_DND);
	CHECK(note && !strcmp(note, evil));
	free(note);
	free(doc);
	CHECK(pidf_build("sip:a@b", PIDF_AVAILABLE, NULL, &doc, &len) == 0);
	CHECK(strstr(doc, "note") == NULL);
	free(doc);
	CHECK(pidf_build("", PIDF_AVAILABLE, NULL, &doc, &len) == -EINVAL);
	CHECK(doc == NULL);
}

static void test_parse_foreign(void)
{
	static const struct {
		const char *doc;
		int err;
		enum pidf_avail a;
		const char *note;
	} cases[] = {
	    /* A phone's PUBLISH: on the phone, namespaced prefixes. */
	    {"<?xml version='1.0'?><p:presence "
	     "xmlns:p='urn:ietf:params:xml:ns:pidf' "
	     "xmlns:d='urn:ietf:params:xml:ns:pidf:data-model' "
	     "xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' entity='sip:x@y'>"
	     "<p:tuple id='t'><p:status><p:basic> open </p:basic></p:status>"
	     "</p:tuple><d:person id='p'><r:activities><r:on-the-phone/>"
	     "</r:activities><d:note>Talking</d:note></d:person>"
	     "</p:presence>",
	     0, PIDF_DND, "Talking"},
	    /* Tuple note only, closed. */
	    {"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:x@y'>"
	     "<tuple id='a'><status><basic>closed</basic></status>"
	     "<note>Gone</note></tuple></presence>",
	     0, PIDF_UNAVAILABLE, "Gone"},
	    /* Activities in the wrong namespace are not RPID. */
	    {"<presence xmlns='urn:ietf:params:xml:ns:pidf' "
	     "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
	     "entity='sip:x@y'><tuple id='a'><status><basic>open</basic>"
	     "</status></tuple><dm:person id='p'><activities "
	     "xmlns='urn:example'><busy/></activities></dm:person>"
	     "</presence>",
	     0, PIDF_AVAILABLE, NULL},
	    /* Not PIDF, no basic, a bad basic. */
	    {"<presence xmlns='urn:example'/>", -EPROTO, 0, NULL},
	    {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='a'/>"
	     "</presence>",
	     -EPROTO, 0, NULL},
	    {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='a'>"
	     "<status><basic>maybe</basic></status></tuple></presence>",
	     -EPROTO, 0, NULL},
	    /* Malformed. */
	    {"<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple>", -EPROTO,
	     0, NULL},
	    {"", -EPROTO, 0, NULL},
	    {"not xml at all", -EPROTO, 0, NULL},
	    /* Entities: internal (billion laughs seed) and external (XXE). */
	    {"<?xml version='1.0'?><!DOCTYPE p [<!ENTITY a 'aaaa'>"
	     "<!ENTITY b '&a;&a;&a;&a;'>]><presence "
	     "xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='x'><status>"
	     "<basic>open</basic></status><note>&b;</note></tuple>"
	     "</presence>",
	     -EPROTO, 0, NULL},
	    {"<?xml version='1.0'?><!DOCTYPE p [<!ENTITY x SYSTEM "
	     "'file:///etc/passwd'>]><presence "
	     "xmlns='urn:ietf:params:xml:ns:pidf'><tuple id='x'><status>"
	     "<basic>open</basic></status><note>&x;</note></tuple>"
	     "</presence>",
	     -EPROTO, 0, NULL},
	    {"<?xml version='1.0'?><!DOCTYPE p SYSTEM "
	     "'http://127.0.0.1:9/x.dtd'><presence "
	     "xmlns='urn:ietf:params:xml:ns:pidf'/>",
	     -EPROTO, 0, NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum pidf_avail a;
		char *note = NULL;
		int err =
		    pidf_parse(cases[i].doc, strlen(cases[i].doc), &a, &note);

		CHECK(err == cases[i].err);
		if (err) {
			CHECK(note == NULL);
			continue;
		}
		CHECK(a == cases[i].a);
		if (cases[i].note)
			CHECK(note && !strcmp(note, cases[i].note));
		else
			CHECK(note == NULL);
		free(note);
	}
}

static char *repeat(const char *head, const char *unit, size_t n,
                    const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;

	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static void test_limits(void)
{
	enum pidf_avail a;
	char *note = NULL, *doc;
	struct dialoginfo *di = malloc(sizeof(*di));

	/* Oversized: a valid document padded past 64 KiB. */
	doc = repeat("<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple "
	             "id='a'><status><basic>open</basic></status><note>",
	             "x", PIDF_MAX_BYTES, "</note></tuple></presence>");
	CHECK(pidf_parse(doc, strlen(doc), &a, &note) == -EMSGSIZE);
	free(doc);
	/* Just under the limit is fine. */
	doc = repeat("<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple "
	             "id='a'><status><basic>open</basic></status><note>",
	             "x", PIDF_MAX_BYTES - 200, "</note></tuple></presence>");
	CHECK(pidf_parse(doc, strlen(doc), &a, &note) == 0);
	CHECK(note && strlen(note) == PIDF_MAX_BYTES - 200);
	free(note);
	free(doc);
	/* Too deep. */
	doc = repeat("<presence xmlns='urn:ietf:params:xml:ns:pidf'>", "<x>",
	             PIDF_MAX_DEPTH + 2, "");
	{
		char *full =
		    malloc(strlen(doc) + 4 * (PIDF_MAX_DEPTH + 2) + 32);

		strcpy(full, doc);
		for (int i = 0; i < PIDF_MAX_DEPTH + 2; i++)
			strcat(full, "</x>");
		strcat(full, "</presence>");
		CHECK(pidf_parse(full, strlen(full), &a, &note) == -EPROTO);
		free(full);
	}
	free(doc);
	/* Too many elements (each small, all within the byte limit). */
	doc = repeat("<presence xmlns='urn:ietf:params:xml:ns:pidf'><tuple "
	             "id='a'><status><basic>open</basic></status></tuple>",
	             "<e/>", PIDF_MAX_ELEMENTS, "</presence>");
	CHECK(pidf_parse(doc, strlen(doc), &a, &note) == -EPROTO);
	free(doc);
	/* Too many dialogs. */
	doc = repeat("<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	             "version='1' state='full' entity='sip:a@b'>",
	             "<dialog id='d'><state>early</state></dialog>",
	             DIALOGINFO_MAX_DIALOGS + 1, "</dialog-info>");
	CHECK(dialoginfo_parse(doc, strlen(doc), di) == -EPROTO);
	CHECK(di->n == 0);
	free(doc);
	doc = repeat("<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	             "version='1' state='full' entity='sip:a@b'>",
	             "<dialog id='d'><state>early</state></dialog>",
	             DIALOGINFO_MAX_DIALOGS, "</dialog-info>");
	CHECK(dialoginfo_parse(doc, strlen(doc), di) == 0);
	CHECK(di->n == DIALOGINFO_MAX_DIALOGS);
	free(doc);
	free(di);
}

static void test_dialoginfo(void)
{
	static const struct {
		const char *doc;
		int err;
		bool full;
		uint32_t version;
		size_t n;
		enum dialoginfo_state st0;
	} cases[] = {
	    /* Kamailio's pua_dialoginfo: full, one confirmed dialog. */
	    {"<?xml version='1.0'?><dialog-info "
	     "xmlns='urn:ietf:params:xml:ns:dialog-info' version='3' "
	     "state='full' entity='sip:alice@example.test'><dialog "
	     "id='abc' call-id='c1' local-tag='1' remote-tag='2' "
	     "direction='initiator'><state>confirmed</state><local>"
	     "<identity>sip:alice@example.test</identity></local>"
	     "</dialog></dialog-info>",
	     0, true, 3, 1, DIALOGINFO_CONFIRMED},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='4' state='partial' entity='sip:a@b'><dialog id='x'>"
	     "<state event='rejected' code='486'> terminated </state>"
	     "</dialog></dialog-info>",
	     0, false, 4, 1, DIALOGINFO_TERMINATED},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='0' state='full' entity='sip:a@b'/>",
	     0, true, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='5' state='full'><dialog id='e'><state>early</state>"
	     "</dialog></dialog-info>",
	     0, true, 5, 1, DIALOGINFO_EARLY},
	    /* Refused: bad state, no version, negative or huge version, no
	     * dialog id, unknown dialog state, wrong namespace. */
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='1' state='some'/>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "state='full'/>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='-1' state='full'/>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='99999999999' state='full'/>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='1' state='full'><dialog><state>early</state>"
	     "</dialog></dialog-info>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='1' state='full'><dialog id='a'><state>ringing</state>"
	     "</dialog></dialog-info>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:example' version='1' state='full'/>",
	     -EPROTO, 0, 0, 0, 0},
	    {"<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info' "
	     "version='1' state='full'><dialog id='a'>",
	     -EPROTO, 0, 0, 0, 0},
	};
	struct dialoginfo *di = malloc(sizeof(*di));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err =
		    dialoginfo_parse(cases[i].doc, strlen(cases[i].doc), di);

		CHECK(err == cases[i].err);
		if (err)
			continue;
		CHECK(di->full == cases[i].full);
		CHECK(di->version == cases[i].version);
		CHECK(di->n == cases[i].n);
		if (di->n)
			CHECK(di->dialogs[0].state == cases[i].st0);
	}
	free(di);
}

static void test_avail_names(void)
{
	enum pidf_avail a;

	for (int i = PIDF_AVAILABLE; i <= PIDF_UNAVAILABLE; i++) {
		CHECK(pidf_avail_parse(pidf_avail_name(i), &a) == 0);
		CHECK((int)a == i);
	}
	CHECK(pidf_avail_parse("busy", &a) == -EINVAL);
	CHECK(pidf_avail_parse(NULL, &a) == -EINVAL);
}

int main(void)
{
	test_build_parse_roundtrip();
	test_note_escaped();
	test_parse_foreign();
	test_limits();
	test_dialoginfo();
	test_avail_names();
	return check_exit("pidf");
}
