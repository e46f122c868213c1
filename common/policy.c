/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The checks of ARCHITECTURE.md "Who may be phoned", as pure functions over
 * the loaded configuration. Destinations are matched only in their
 * canonical form (phone_normalise() is run again here, so a caller that
 * skipped it cannot slip a raw string past the policy), numbers by string
 * prefix, SIP hosts exactly or by a "*." wildcard for subdomains.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "phone.h"
#include "policy.h"

/* JIDs are at most 1023 bytes per part (RFC 7622). */
#define JID_PART_MAX 1023

/*
 * Finds the domain of JID (bare or full): between the first "@" before any
 * "/" and the "/". Sets *DOM and *DLEN and returns true when JID has a
 * localpart.
 */
static bool jid_split(const char *jid, const char **dom, size_t *dlen)
{
	size_t end = strcspn(jid, "/");
	const char *at = memchr(jid, '@', end);

	if (!at || at == jid)
		return false;
	*dom = at + 1;
	*dlen = end - (size_t)(at + 1 - jid);
	return *dlen > 0;
}

static bool list_contains_n(const struct config_list *l, const char *s,
                            size_t n)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strlen(l->v[i]) == n && !strncasecmp(l->v[i], s, n))
			return true;
	}
	return false;
}

/* Characters RFC 7622 (and PRECIS) keep out of a localpart. */
static bool localpart_char_ok(unsigned char c)
{
	return c > 0x20 && c != 0x7f && !strchr("\"&'/:<>@", c);
}

bool policy_bare_jid_valid(const char *jid)
{
	const char *at;
	char dom[JID_PART_MAX + 1];
	size_t llen, dlen;

	if (!jid)
		return false;
	at = strchr(jid, '@');
	if (!at || strchr(at + 1, '@') || strchr(jid, '/'))
		return false;
	llen = (size_t)(at - jid);
	dlen = strlen(at + 1);
	if (llen == 0 || llen > JID_PART_MAX || dlen == 0 ||
	    dlen > JID_PART_MAX)
		return false;
	for (size_t i = 0; i < llen; i++) {
		if (!localpart_char_ok((unsigned char)jid[i]))
			return false;
	}
	memcpy(dom, at + 1, dlen + 1);
	return phone_host_valid(dom);
}

static bool sip_domain_allowed(const struct config_list *l, const char *host)
{
	size_t hlen = strlen(host);

	for (size_t i = 0; i < l->n; i++) {
		const char *d = l->v[i];

		if (!strncmp(d, "*.", 2)) {
			size_t slen = strlen(d + 1); /* ".example.org" */

			if (hlen > slen &&
			    !strcasecmp(host + hlen - slen, d + 1))
				return true;
		} else if (!strcasecmp(host, d)) {
			return true;
		}
	}
	return false;
}

int policy_destination_check(const struct config *cfg, const char *dest,
                             const char **why)
{
	char canon[PHONE_MAX], host[PHONE_MAX];
	enum phone_kind kind;
	const char *dummy;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!cfg || !dest ||
	    phone_normalise(dest, canon, sizeof(canon), &kind, why) ||
	    strcmp(canon, dest)) {
		*why = "not a valid telephone number or SIP address";
		return -EPERM;
	}
	if (kind == PHONE_E164) {
		const struct config_list *l = &cfg->policy.allowed_prefixes;

		if (l->n == 0) {
			*why = "calls to telephone numbers are not enabled "
			       "on this service";
			return -EPERM;
		}
		for (size_t i = 0; i < l->n; i++) {
			if (!strncmp(dest, l->v[i], strlen(l->v[i])))
				return 0;
		}
		*why = "calls to this country or area are not allowed";
		return -EPERM;
	}
	if (phone_sip_domain(dest, host, sizeof(host))) {
		*why = "not a valid SIP address";
		return -EPERM;
	}
	if (cfg->policy.allowed_sip_domains.n == 0) {
		*why = "calls to SIP addresses are not enabled on this service";
		return -EPERM;
	}
	if (!sip_domain_allowed(&cfg->policy.allowed_sip_domains, host)) {
		*why = "calls to this SIP domain are not allowed";
		return -EPERM;
	}
	return 0;
}

bool policy_jid_is_local(const struct config *cfg, const char *bare_jid)
{
	const char *dom;
	size_t dlen;

	if (!cfg || !bare_jid || !jid_split(bare_jid, &dom, &dlen))
		return false;
	return list_contains_n(&cfg->xmpp.user_domains, dom, dlen);
}

bool policy_sender_allowed(const struct config *cfg, const char *sender)
{
	const char *dom;
	size_t dlen;

	if (!cfg || !sender || !jid_split(sender, &dom, &dlen))
		return false;
	return cfg->policy.external_senders ||
	       list_contains_n(&cfg->xmpp.user_domains, dom, dlen);
}

bool policy_direct_dial_allowed(const struct config *cfg, const char *sender)
{
	const struct config_list *l;
	const char *dom;
	size_t dlen;

	if (!cfg || !sender || !cfg->policy.direct_dial ||
	    !jid_split(sender, &dom, &dlen))
		return false;
	l = &cfg->policy.direct_dial_senders;
	/* the bare JID (a resource, if any, is ignored) or its domain */
	return list_contains_n(l, sender, (size_t)(dom - sender) + dlen) ||
	       list_contains_n(l, dom, dlen);
}

int policy_quiet_minutes_left(int start, int end, int now)
{
	if (!policy_in_quiet_hours(start, end, now))
		return 0;
	return (end - now + 1440) % 1440;
}

bool policy_sender_listed(const char *list, const char *sender)
{
	const char *at = sender ? strchr(sender, '@') : NULL;
	const char *domain = at ? at + 1 : sender;
	size_t slen = sender ? strlen(sender) : 0;
	size_t dlen = domain ? strlen(domain) : 0;

	if (!list || !sender || !*sender)
		return false;
	for (const char *p = list; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		/* An entry with '@' names one sender, one without a domain. */
		if (n && memchr(p, '@', n)
		        ? n == slen && !strncasecmp(p, sender, n)
		        : n && n == dlen && !strncasecmp(p, domain, n))
			return true;
		p += n;
		if (*p)
			p++;
	}
	return false;
}

bool policy_in_quiet_hours(int start, int end, int now)
{
	if (start < 0 || start > 1439 || end < 0 || end > 1439 || now < 0 ||
	    now > 1439 || start == end)
		return false;
	if (start < end)
		return now >= start && now < end;
	return now >= start || now < end; /* wraps past midnight */
}
