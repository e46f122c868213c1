/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * XEP-0106 escaping and gateway addresses. Escaping works on the ten
 * sequences of the XEP and nothing else (section 4.3: partial or unknown
 * sequences are left alone). A gateway address is taken apart on its wire
 * form: the last \40 separates the user's localpart, kept exactly as the
 * user's JID has it, from a domain that must be one we serve, so no
 * unescaping can turn an address into a JID outside [xmpp] user_domains.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "jid_escape.h"
#include "policy.h"

/* The escaped characters, in the order of the XEP's table. */
static const struct {
	char c;
	char hex[3];
} jidesc_seqs[] = {
    {' ', "20"}, {'"', "22"}, {'&', "26"}, {'\'', "27"}, {'/', "2f"},
    {':', "3a"}, {'<', "3c"}, {'>', "3e"}, {'@', "40"},  {'\\', "5c"},
};

#define NSEQS (sizeof(jidesc_seqs) / sizeof(jidesc_seqs[0]))

/*
 * When S starts with one of the ten escape sequences, returns the character
 * it stands for, else 0. Case matters: "\2F" is no escape.
 */
static char jidesc_seq_at(const char *s)
{
	if (s[0] != '\\' || !s[1] || !s[2])
		return 0;
	for (size_t i = 0; i < NSEQS; i++) {
		if (s[1] == jidesc_seqs[i].hex[0] &&
		    s[2] == jidesc_seqs[i].hex[1])
			return jidesc_seqs[i].c;
	}
	return 0;
}

static const char *jidesc_hex_of(char c)
{
	for (size_t i = 0; i < NSEQS; i++) {
		if (jidesc_seqs[i].c == c)
			return jidesc_seqs[i].hex;
	}
	return NULL;
}

int jidesc_unescape(const char *local, char *out, size_t outlen)
{
	size_t n = 0, len;

	if (!local || !out || !*local)
		return -EINVAL;
	len = strlen(local);
	if (!strncmp(local, "\\20", 3) ||
	    (len >= 3 && !strcmp(local + len - 3, "\\20")))
		return -EINVAL;
	while (*local) {
		char c = jidesc_seq_at(local);

		if (n + 1 >= outlen)
			return -ENOSPC;
		if (c) {
			out[n++] = c;
			local += 3;
		} else {
			out[n++] = *local++;
		}
	}
	out[n] = '\0';
	return 0;
}

int jidesc_escape(const char *in, char *out, size_t outlen)
{
	size_t n = 0, len;

	if (!in || !out || !*in)
		return -EINVAL;
	len = strlen(in);
	if (in[0] == ' ' || in[len - 1] == ' ')
		return -EINVAL;
	for (; *in; in++) {
		unsigned char c = (unsigned char)*in;
		const char *hex = NULL;
		size_t need;

		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
		if (c == '\\') {
			if (jidesc_seq_at(in))
				hex = "5c";
		} else {
			hex = jidesc_hex_of((char)c);
		}
		need = hex ? 3 : 1;
		if (n + need > JIDESC_PART_MAX)
			return -ENAMETOOLONG;
		if (n + need >= outlen)
			return -ENOSPC;
		if (hex) {
			out[n++] = '\\';
			out[n++] = hex[0];
			out[n++] = hex[1];
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return 0;
}

/* A localpart as it travels: no character XEP-0106 exists to escape. */
static bool jidesc_wire_local_ok(const char *s, size_t n)
{
	if (n == 0 || n > JIDESC_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || strchr("\"&'/:<>@", c))
			return false;
	}
	/* XEP-0106: \20 neither first nor last */
	return strncmp(s, "\\20", 3) &&
	       (n < 3 || strncmp(s + n - 3, "\\20", 3));
}

int jidesc_gateway_parse(const char *local, const struct config *cfg,
                         struct jidesc_target *out)
{
	const char *sep = NULL, *dom;
	char domain[JIDESC_PART_MAX + 1];
	size_t len, ulen, dlen;
	size_t i;

	if (!local || !cfg || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	len = strlen(local);
	if (!jidesc_wire_local_ok(local, len))
		return -EINVAL;

	if (local[0] == '+') {
		enum phone_kind kind;
		const char *why;

		if (phone_normalise(local, out->number, sizeof(out->number),
		                    &kind, &why) ||
		    kind != PHONE_E164) {
			out->number[0] = '\0';
			return -EINVAL;
		}
		out->kind = JIDESC_NUMBER;
		return 0;
	}

	/* the last \40 that is a sequence of its own ("\5c40" is not one) */
	for (i = 0; i < len;) {
		char c = jidesc_seq_at(local + i);

		if (c == '@')
			sep = local + i;
		i += c ? 3 : 1;
	}
	if (sep) {
		ulen = (size_t)(sep - local);
		dom = sep + 3;
	} else {
		if (cfg->xmpp.user_domains.n == 0)
			return -EINVAL;
		ulen = len;
		dom = cfg->xmpp.user_domains.v[0];
	}
	dlen = strlen(dom);
	if (!jidesc_wire_local_ok(local, ulen) || dlen == 0 ||
	    dlen > JIDESC_PART_MAX)
		return -EINVAL;
	for (i = 0; i < dlen; i++)
		domain[i] = (char)tolower((unsigned char)dom[i]);
	domain[dlen] = '\0';
	if (!phone_domain_valid(domain))
		return -EINVAL;
	if (!config_list_contains(&cfg->xmpp.user_domains, domain))
		return -EPERM;

	for (i = 0; i < ulen; i++)
		out->jid[i] = (char)tolower((unsigned char)local[i]);
	out->jid[ulen] = '@';
	memcpy(out->jid + ulen + 1, domain, dlen + 1);
	if (!policy_bare_jid_valid(out->jid)) {
		out->jid[0] = '\0';
		return -EINVAL;
	}
	out->kind = JIDESC_USER;
	return 0;
}
