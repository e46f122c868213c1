/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Small stanza helpers the component's modules share: error and result
 * replies, child text, JID checks, and XEP-0004 data forms (parsed into a
 * flat var -> first value table, which is all our forms need).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "comp.h"

#define JID_PART_MAX 1023

xmpp_stanza_t *comp_elem(struct comp *c, const char *name, const char *ns)
{
	xmpp_stanza_t *e = xmpp_stanza_new(c->ctx);

	xmpp_stanza_set_name(e, name);
	if (ns)
		xmpp_stanza_set_ns(e, ns);
	return e;
}

void comp_add_text_child(struct comp *c, xmpp_stanza_t *parent,
                         const char *name, const char *text)
{
	xmpp_stanza_t *e = comp_elem(c, name, NULL);
	xmpp_stanza_t *t = xmpp_stanza_new(c->ctx);

	xmpp_stanza_set_text(t, text ? text : "");
	xmpp_stanza_add_child_ex(e, t, 0);
	xmpp_stanza_add_child_ex(parent, e, 0);
}

char *comp_child_text(xmpp_stanza_t *parent, const char *name)
{
	xmpp_stanza_t *child = xmpp_stanza_get_child_by_name(parent, name);
	char *s, *copy;

	if (!child)
		return NULL;
	s = xmpp_stanza_get_text(child);
	if (!s)
		return g_strdup("");
	copy = g_strdup(s);
	xmpp_free(xmpp_stanza_get_context(parent), s);
	return copy;
}

void comp_iq_error(struct comp *c, xmpp_stanza_t *iq, const char *type,
                   const char *condition, const char *text)
{
	xmpp_stanza_t *reply, *err, *cond;

	/* xmpp_stanza_reply_error() copies the offending payload back, which
	 * for an oversized request would echo it: build the reply by hand. */
	reply = xmpp_iq_new(c->ctx, "error", xmpp_stanza_get_id(iq));
	if (xmpp_stanza_get_from(iq))
		xmpp_stanza_set_to(reply, xmpp_stanza_get_from(iq));
	if (xmpp_stanza_get_to(iq))
		xmpp_stanza_set_from(reply, xmpp_stanza_get_to(iq));
	err = comp_elem(c, "error", NULL);
	xmpp_stanza_set_type(err, type);
	cond = comp_elem(c, condition, "urn:ietf:params:xml:ns:xmpp-stanzas");
	xmpp_stanza_add_child_ex(err, cond, 0);
	if (text) {
		xmpp_stanza_t *t =
		    comp_elem(c, "text", "urn:ietf:params:xml:ns:xmpp-stanzas");
		xmpp_stanza_t *body = xmpp_stanza_new(c->ctx);

		xmpp_stanza_set_attribute(t, "xml:lang", "en");
		xmpp_stanza_set_text(body, text);
		xmpp_stanza_add_child_ex(t, body, 0);
		xmpp_stanza_add_child_ex(err, t, 0);
	}
	xmpp_stanza_add_child_ex(reply, err, 0);
	comp_send(c, reply);
	xmpp_stanza_release(reply);
}

const char *comp_error_type(const char *condition)
{
	static const struct {
		const char *cond, *type;
	} table[] = {
	    {"bad-request", "modify"},       {"not-acceptable", "modify"},
	    {"jid-malformed", "modify"},     {"internal-server-error", "wait"},
	    {"resource-constraint", "wait"}, {"registration-required", "auth"},
	    {"forbidden", "auth"},           {"not-authorized", "auth"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(table); i++)
		if (!strcmp(table[i].cond, condition))
			return table[i].type;
	return "cancel";
}

void comp_iq_result(struct comp *c, xmpp_stanza_t *iq, xmpp_stanza_t *child)
{
	xmpp_stanza_t *reply =
	    xmpp_iq_new(c->ctx, "result", xmpp_stanza_get_id(iq));

	if (xmpp_stanza_get_from(iq))
		xmpp_stanza_set_to(reply, xmpp_stanza_get_from(iq));
	if (xmpp_stanza_get_to(iq))
		xmpp_stanza_set_from(reply, xmpp_stanza_get_to(iq));
	if (child)
		xmpp_stanza_add_child(reply, child);
	comp_send(c, reply);
	xmpp_stanza_release(reply);
}

static bool part_ok(const char *s, size_t n, const char *forbidden)
{
	if (n == 0 || n > JID_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= 0x20 || ch == 0x7f || strchr(forbidden, ch))
			return false;
	}
	return true;
}

bool comp_jid_valid(const char *jid)
{
	const char *at, *slash, *domain;
	size_t dlen;

	if (!jid || !*jid || strlen(jid) > 3 * JID_PART_MAX + 2)
		return false;
	slash = strchr(jid, '/');
	at = strchr(jid, '@');
	if (at && slash && at > slash)
		at = NULL; /* an '@' in the resource */
	if (at && !part_ok(jid, (size_t)(at - jid), "\"&'/:<>@"))
		return false;
	domain = at ? at + 1 : jid;
	dlen = slash ? (size_t)(slash - domain) : strlen(domain);
	if (!part_ok(domain, dlen, "\"&'/<>@\\"))
		return false;
	if (slash) {
		size_t rlen = strlen(slash + 1);

		if (rlen == 0 || rlen > JID_PART_MAX)
			return false;
	}
	return true;
}

char *comp_jid_bare(const char *jid)
{
	const char *slash;

	if (!comp_jid_valid(jid))
		return NULL;
	slash = strchr(jid, '/');
	return slash ? g_strndup(jid, (size_t)(slash - jid)) : g_strdup(jid);
}

void comp_new_id(struct comp *c, char *buf, size_t len)
{
	unsigned char r[6];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0, sizeof(r));
	snprintf(buf, len, "rb-%s-%02x%02x%02x%02x%02x%02x", c->run_id, r[0],
	         r[1], r[2], r[3], r[4], r[5]);
}

/* ---- data forms ---- */

#define FORM_FIELDS_MAX 64
#define FORM_VALUE_MAX  4096

struct comp_form {
	char *type;
	GHashTable *values; /* var -> first value (owned) */
};

struct comp_form *comp_form_parse(xmpp_stanza_t *parent)
{
	xmpp_stanza_t *x, *field;
	struct comp_form *f;
	int n = 0;

	x = xmpp_stanza_get_child_by_name_and_ns(parent, "x", "jabber:x:data");
	if (!x)
		return NULL;
	f = g_new0(struct comp_form, 1);
	f->type =
	    g_strdup(xmpp_stanza_get_type(x) ? xmpp_stanza_get_type(x) : "");
	f->values =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	for (field = xmpp_stanza_get_children(x); field;
	     field = xmpp_stanza_get_next(field)) {
		const char *var, *name = xmpp_stanza_get_name(field);
		char *value;

		if (!name || strcmp(name, "field") != 0)
			continue;
		var = xmpp_stanza_get_attribute(field, "var");
		if (!var || strlen(var) > 64 || ++n > FORM_FIELDS_MAX)
			continue;
		value = comp_child_text(field, "value");
		if (value && strlen(value) > FORM_VALUE_MAX)
			value[FORM_VALUE_MAX] = '\0';
		g_hash_table_replace(f->values, g_strdup(var),
		                     value ? value : g_strdup(""));
	}
	return f;
}

const char *comp_form_get(const struct comp_form *f, const char *var)
{
	return f ? g_hash_table_lookup(f->values, var) : NULL;
}

bool comp_form_has(const struct comp_form *f, const char *var)
{
	return f && g_hash_table_contains(f->values, var);
}

const char *comp_form_type(const struct comp_form *f)
{
	return f ? f->type : NULL;
}

void comp_form_free(struct comp_form *f)
{
	if (!f)
		return;
	g_hash_table_destroy(f->values);
	g_free(f->type);
	g_free(f);
}

xmpp_stanza_t *comp_form_new(struct comp *c, const char *type,
                             const char *title, const char *instructions)
{
	xmpp_stanza_t *x = comp_elem(c, "x", "jabber:x:data");

	xmpp_stanza_set_type(x, type);
	if (title)
		comp_add_text_child(c, x, "title", title);
	if (instructions)
		comp_add_text_child(c, x, "instructions", instructions);
	return x;
}

void comp_form_add_field(struct comp *c, xmpp_stanza_t *form, const char *var,
                         const char *type, const char *label, const char *value,
                         bool required, const char *const *options)
{
	xmpp_stanza_t *field = comp_elem(c, "field", NULL);

	xmpp_stanza_set_attribute(field, "var", var);
	if (type)
		xmpp_stanza_set_attribute(field, "type", type);
	if (label)
		xmpp_stanza_set_attribute(field, "label", label);
	if (required) {
		xmpp_stanza_t *req = comp_elem(c, "required", NULL);

		xmpp_stanza_add_child_ex(field, req, 0);
	}
	for (; options && *options; options++) {
		xmpp_stanza_t *opt = comp_elem(c, "option", NULL);

		xmpp_stanza_set_attribute(opt, "label", *options);
		comp_add_text_child(c, opt, "value", *options);
		xmpp_stanza_add_child_ex(field, opt, 0);
	}
	if (value)
		comp_add_text_child(c, field, "value", value);
	xmpp_stanza_add_child_ex(form, field, 0);
}
