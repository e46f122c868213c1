/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * PIDF/RPID and dialog-info with libxml2 (pidf.h). Building uses libxml2's
 * tree API, which escapes text, so a status note cannot break the document.
 * Reading first checks the size, then parses with XML_PARSE_NONET and
 * without XML_PARSE_NOENT/DTDLOAD, refuses any document that declares a
 * DTD at all, and walks the tree once checking depth and element count
 * before looking at the content, matching elements by namespace URI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "pidf.h"

#define NS_PIDF  "urn:ietf:params:xml:ns:pidf"
#define NS_DM    "urn:ietf:params:xml:ns:pidf:data-model"
#define NS_RPID  "urn:ietf:params:xml:ns:pidf:rpid"
#define NS_DINFO "urn:ietf:params:xml:ns:dialog-info"

static const char *const avail_names[] = {
    [PIDF_AVAILABLE] = "available",
    [PIDF_CHAT] = "chat",
    [PIDF_AWAY] = "away",
    [PIDF_XA] = "xa",
    [PIDF_DND] = "dnd",
    [PIDF_UNAVAILABLE] = "unavailable",
};

const char *pidf_avail_name(enum pidf_avail a)
{
	if ((unsigned)a >= sizeof(avail_names) / sizeof(avail_names[0]))
		return "unavailable";
	return avail_names[a];
}

int pidf_avail_parse(const char *name, enum pidf_avail *a)
{
	for (size_t i = 0; i < sizeof(avail_names) / sizeof(avail_names[0]);
	     i++) {
		if (name && !strcmp(name, avail_names[i])) {
			*a = (enum pidf_avail)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- building -------------------------------------------------------- */

int pidf_build(const char *entity, enum pidf_avail a, const char *note,
               char **doc, size_t *len)
{
	xmlDocPtr d = NULL;
	xmlNodePtr root, tuple, status, person, acts;
	xmlNsPtr dm, rpid;
	xmlChar *mem = NULL;
	int size = 0, err = -ENOMEM;
	bool open = a != PIDF_UNAVAILABLE;
	const char *activity = NULL;

	*doc = NULL;
	*len = 0;
	if (!entity || !*entity || (unsigned)a > PIDF_UNAVAILABLE)
		return -EINVAL;
	/* RFC 8048 sec. 7: away and xa are "away", dnd is "busy"; available
	 * and chat carry no activity; unavailable is a closed tuple. */
	if (a == PIDF_AWAY || a == PIDF_XA)
		activity = "away";
	else if (a == PIDF_DND)
		activity = "busy";

	d = xmlNewDoc(BAD_CAST "1.0");
	if (!d)
		goto out;
	root = xmlNewNode(NULL, BAD_CAST "presence");
	if (!root)
		goto out;
	xmlDocSetRootElement(d, root);
	if (!xmlNewNs(root, BAD_CAST NS_PIDF, NULL))
		goto out;
	dm = xmlNewNs(root, BAD_CAST NS_DM, BAD_CAST "dm");
	rpid = xmlNewNs(root, BAD_CAST NS_RPID, BAD_CAST "rpid");
	if (!dm || !rpid ||
	    !xmlNewProp(root, BAD_CAST "entity", BAD_CAST entity))
		goto out;
	xmlSetNs(root, root->nsDef);

	tuple = xmlNewChild(root, root->ns, BAD_CAST "tuple", NULL);
	if (!tuple || !xmlNewProp(tuple, BAD_CAST "id", BAD_CAST "xmpp"))
		goto out;
	status = xmlNewChild(tuple, root->ns, BAD_CAST "status", NULL);
	if (!status || !xmlNewChild(status, root->ns, BAD_CAST "basic",
	                            BAD_CAST(open ? "open" : "closed")))
		goto out;
	if (note && *note &&
	    !xmlNewTextChild(tuple, root->ns, BAD_CAST "note", BAD_CAST note))
		goto out;
	if (activity) {
		person = xmlNewChild(root, dm, BAD_CAST "person", NULL);
		if (!person ||
		    !xmlNewProp(person, BAD_CAST "id", BAD_CAST "user"))
			goto out;
		acts = xmlNewChild(person, rpid, BAD_CAST "activities", NULL);
		if (!acts || !xmlNewChild(acts, rpid, BAD_CAST activity, NULL))
			goto out;
		if (note && *note &&
		    !xmlNewTextChild(person, dm, BAD_CAST "note",
		                     BAD_CAST note))
			goto out;
	}
	xmlDocDumpMemoryEnc(d, &mem, &size, "UTF-8");
	if (!mem || size <= 0)
		goto out;
	*doc = malloc((size_t)size + 1);
	if (!*doc)
		goto out;
	memcpy(*doc, mem, (size_t)size);
	(*doc)[size] = '\0';
	*len = (size_t)size;
	err = 0;
out:
	xmlFree(mem);
	xmlFreeDoc(d);
	return err;
}

/* ---- reading --------------------------------------------------------- */

static bool is(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, ns) &&
	       !strcmp((const char *)n->name, name);
}

/* Depth and element count of the tree under N, within the limits? */
static int walk_limits(const xmlNode *n, int depth, int *count)
{
	for (; n; n = n->next) {
		if (n->type == XML_ENTITY_REF_NODE ||
		    n->type == XML_ENTITY_NODE || n->type == XML_DTD_NODE)
			return -EPROTO;
		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (depth > PIDF_MAX_DEPTH || ++*count > PIDF_MAX_ELEMENTS)
			return -EPROTO;
		if (walk_limits(n->children, depth + 1, count))
			return -EPROTO;
	}
	return 0;
}

/* Parses DOC into *DP after the size check; refuses DTDs and entities. */
static int read_doc(const char *doc, size_t len, xmlDocPtr *dp)
{
	xmlDocPtr d;
	int count = 0;

	*dp = NULL;
	if (!doc)
		return -EINVAL;
	if (len > PIDF_MAX_BYTES)
		return -EMSGSIZE;
	d = xmlReadMemory(doc, (int)len, NULL, NULL,
	                  XML_PARSE_NONET | XML_PARSE_NOERROR |
	                      XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!d)
		return -EPROTO;
	if (d->intSubset || d->extSubset || !xmlDocGetRootElement(d) ||
	    walk_limits(xmlDocGetRootElement(d), 1, &count)) {
		xmlFreeDoc(d);
		return -EPROTO;
	}
	*dp = d;
	return 0;
}

static xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, ns, name))
			return c;
	return NULL;
}

/* The trimmed text of N, or NULL; the caller frees. */
static char *text_of(const xmlNode *n)
{
	xmlChar *t;
	char *s, *p;
	size_t k;

	if (!n)
		return NULL;
	t = xmlNodeGetContent(n);
	if (!t)
		return NULL;
	p = (char *)t + strspn((char *)t, " \t\r\n");
	k = strlen(p);
	while (k && strchr(" \t\r\n", p[k - 1]))
		k--;
	s = k ? strndup(p, k) : NULL;
	xmlFree(t);
	return s;
}

int pidf_parse(const char *doc, size_t len, enum pidf_avail *a, char **note)
{
	xmlDocPtr d;
	xmlNode *root, *tuple, *basic, *n, *act, *nt = NULL;
	char *b = NULL;
	int err;

	*a = PIDF_UNAVAILABLE;
	*note = NULL;
	err = read_doc(doc, len, &d);
	if (err)
		return err;
	err = -EPROTO;
	root = xmlDocGetRootElement(d);
	if (!is(root, NS_PIDF, "presence"))
		goto out;
	tuple = child(root, NS_PIDF, "tuple");
	basic = child(child(tuple, NS_PIDF, "status"), NS_PIDF, "basic");
	b = text_of(basic);
	if (!b || (strcmp(b, "open") && strcmp(b, "closed")))
		goto out;
	err = 0;
	if (!strcmp(b, "closed")) {
		*a = PIDF_UNAVAILABLE;
	} else {
		*a = PIDF_AVAILABLE;
		/* RPID activities sit in a dm:person (RFC 4479), or in the
		 * tuple's status in older documents. */
		for (n = root->children; n; n = n->next) {
			xmlNode *acts = NULL;

			if (is(n, NS_DM, "person"))
				acts = child(n, NS_RPID, "activities");
			if (!acts)
				continue;
			for (act = acts->children; act; act = act->next) {
				if (is(act, NS_RPID, "busy") ||
				    is(act, NS_RPID, "on-the-phone") ||
				    is(act, NS_RPID, "meeting"))
					*a = PIDF_DND;
				else if (*a == PIDF_AVAILABLE &&
				         (is(act, NS_RPID, "away") ||
				          is(act, NS_RPID, "vacation") ||
				          is(act, NS_RPID,
				             "permanent-absence") ||
				          is(act, NS_RPID, "sleeping")))
					*a = PIDF_AWAY;
			}
			if (!nt)
				nt = child(n, NS_DM, "note");
		}
	}
	if (!nt)
		nt = child(tuple, NS_PIDF, "note");
	if (!nt)
		nt = child(root, NS_PIDF, "note");
	*note = text_of(nt);
out:
	free(b);
	xmlFreeDoc(d);
	return err;
}

static int dialog_state(const char *s, enum dialoginfo_state *st)
{
	static const char *const names[] = {
	    [DIALOGINFO_TRYING] = "trying",
	    [DIALOGINFO_PROCEEDING] = "proceeding",
	    [DIALOGINFO_EARLY] = "early",
	    [DIALOGINFO_CONFIRMED] = "confirmed",
	    [DIALOGINFO_TERMINATED] = "terminated",
	};

	/* RFC 4235 spells them in lower case; Kamailio sends "Trying". */
	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcasecmp(s, names[i])) {
			*st = (enum dialoginfo_state)i;
			return 0;
		}
	}
	return -EPROTO;
}

int dialoginfo_parse(const char *doc, size_t len, struct dialoginfo *di)
{
	xmlDocPtr d;
	xmlNode *root, *n;
	xmlChar *state = NULL, *version = NULL;
	char *end = NULL;
	unsigned long v;
	int err;

	memset(di, 0, sizeof(*di));
	err = read_doc(doc, len, &d);
	if (err)
		return err;
	err = -EPROTO;
	root = xmlDocGetRootElement(d);
	if (!is(root, NS_DINFO, "dialog-info"))
		goto out;
	state = xmlGetNoNsProp(root, BAD_CAST "state");
	version = xmlGetNoNsProp(root, BAD_CAST "version");
	if (!state || !version ||
	    (strcmp((char *)state, "full") && strcmp((char *)state, "partial")))
		goto out;
	di->full = !strcmp((char *)state, "full");
	errno = 0;
	v = strtoul((char *)version, &end, 10);
	if (errno || end == (char *)version || *end || v > UINT32_MAX ||
	    ((char *)version)[0] == '-')
		goto out;
	di->version = (uint32_t)v;
	for (n = root->children; n; n = n->next) {
		struct dialoginfo_dialog *dl;
		xmlChar *id;
		char *st;

		if (!is(n, NS_DINFO, "dialog"))
			continue;
		if (di->n >= DIALOGINFO_MAX_DIALOGS)
			goto out;
		dl = &di->dialogs[di->n];
		id = xmlGetNoNsProp(n, BAD_CAST "id");
		if (!id || !*id || strlen((char *)id) > DIALOGINFO_ID_MAX) {
			xmlFree(id);
			goto out;
		}
		strcpy(dl->id, (char *)id);
		xmlFree(id);
		st = text_of(child(n, NS_DINFO, "state"));
		if (dialog_state(st, &dl->state)) {
			free(st);
			goto out;
		}
		free(st);
		di->n++;
	}
	err = 0;
out:
	if (err)
		memset(di, 0, sizeof(*di));
	xmlFree(state);
	xmlFree(version);
	xmlFreeDoc(d);
	return err;
}
