/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Destination normalisation: the one place where a number or SIP URI typed
 * by a user (or an operator) becomes the canonical string that is stored,
 * checked against the policy and finally dialled. Everything is parsed by
 * an explicit whitelist, so characters a PBX or trunk could read as commands
 * (Asterisk's "&" and ",", feature codes with "*" and "#", URI parameters
 * and headers) never get through: see PERFORMANCE.md section 8.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "phone.h"

/*
 * E.164 allows at most 15 digits after the "+". The shortest numbers in
 * service are 7 digits including the country code (Niue, Saint Helena,
 * Tokelau: a 3-digit code and a 4-digit subscriber number); anything
 * shorter is a typo or a short code, never an international number.
 */
#define E164_MIN_DIGITS 7
#define E164_MAX_DIGITS 15

#define DOMAIN_MAX 253
#define LABEL_MAX  63

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A DNS name of N bytes at S: LDH labels, not all-numeric at the top. */
static bool domain_valid_n(const char *s, size_t n)
{
	size_t label = 0;
	bool numeric = true;

	if (n == 0 || n > DOMAIN_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			numeric = true;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (!is_digit(c))
			numeric = false;
		if (++label > LABEL_MAX)
			return false;
	}
	/* No empty last label (trailing dot), no hyphen at its end, and a top
	 * label that is not all digits, so "10.0.0.300" is no domain. */
	return label > 0 && s[n - 1] != '-' && !numeric;
}

bool phone_domain_valid(const char *name)
{
	return name && domain_valid_n(name, strlen(name));
}

/*
 * Checks the host at S (N bytes) and writes its canonical form (lowercase
 * domain, dotted IPv4, bracketed and compressed IPv6) into OUT.
 */
static bool host_canonical(const char *s, size_t n, char *out, size_t outlen)
{
	char tmp[INET6_ADDRSTRLEN + 2];
	unsigned char addr[sizeof(struct in6_addr)];

	if (n == 0 || n > DOMAIN_MAX + 2)
		return false;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(tmp))
			return false;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, addr) != 1)
			return false;
		if (!inet_ntop(AF_INET6, addr, tmp, sizeof(tmp)))
			return false;
		return (size_t)snprintf(out, outlen, "[%s]", tmp) < outlen;
	}
	if (strspn(s, "0123456789.") >= n) {
		if (n >= sizeof(tmp))
			return false;
		memcpy(tmp, s, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET, tmp, addr) != 1)
			return false;
		return (size_t)snprintf(out, outlen, "%s", tmp) < outlen;
	}
	if (!domain_valid_n(s, n) || n >= outlen)
		return false;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	return true;
}

bool phone_host_valid(const char *host)
{
	char out[DOMAIN_MAX + 1];

	return host && host_canonical(host, strlen(host), out, sizeof(out));
}

/* Parses PORT digits at S (N bytes) into *PORT: 1..65535. */
static bool port_parse(const char *s, size_t n, int *port)
{
	int v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return false;
	*port = v;
	return true;
}

/* Characters allowed in the user part of a SIP URI we dial (see below). */
static bool sip_user_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
	       c == '+';
}

enum {
	SIP_USER_REQUIRED = 1 << 0,
	SIP_ALLOW_LR = 1 << 1,       /* ";lr" (outbound proxies) */
	SIP_ALLOW_ANY_HOST = 1 << 2, /* "*" (listening addresses) */
};

struct sip_uri {
	bool sips;
	char user[PHONE_MAX];
	char host[DOMAIN_MAX + 1];
	int port;              /* 0: none given */
	const char *transport; /* "udp", "tcp", "tls" or NULL */
	bool lr;
};

/*
 * Parses IN as sip:/sips: [user@] host [:port] [;transport=x] [;lr].
 *
 * The user part is deliberately narrower than RFC 3261's: letters, digits
 * and "- _ . ~ +" only, and %XX escapes only of those. RFC 3261 also allows
 * "& = $ , ; ? /" and marks such as "*" and "'", but a PBX reads "*72..." as
 * a feature code (call forwarding) and dial plans have split on "&" and ","
 * (PERFORMANCE.md section 8): nothing a real extension or number needs.
 */
static int sip_parse(const char *in, unsigned flags, struct sip_uri *u,
                     const char **why)
{
	const char *p, *at, *end, *hend;
	size_t ulen = 0;

	memset(u, 0, sizeof(*u));
	if (!strncasecmp(in, "sips:", 5)) {
		u->sips = true;
		p = in + 5;
	} else if (!strncasecmp(in, "sip:", 4)) {
		p = in + 4;
	} else {
		*why = "a SIP address starts with sip: or sips:";
		return -EINVAL;
	}
	if (strchr(p, '?')) {
		*why = "headers (?...) are not accepted in a SIP address";
		return -EINVAL;
	}
	end = p + strcspn(p, ";");
	at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		for (const char *q = p; q < at; q++) {
			char c = *q;

			if (c == '%') {
				int hi = hex_value(q[1]), lo = -1;

				if (hi >= 0)
					lo = hex_value(q[2]);
				if (lo < 0) {
					*why = "bad %-escape in the user part";
					return -EINVAL;
				}
				c = (char)(hi * 16 + lo);
				q += 2;
				if (!sip_user_char(c)) {
					*why = "the user part may contain only "
					       "letters, digits and - _ . ~ +";
					return -EINVAL;
				}
			} else if (c == ':') {
				*why = "passwords are not accepted in a SIP "
				       "address";
				return -EINVAL;
			} else if (!sip_user_char(c)) {
				*why = "the user part may contain only "
				       "letters, digits and - _ . ~ +";
				return -EINVAL;
			}
			if (ulen + 1 >= sizeof(u->user)) {
				*why = "the SIP address is too long";
				return -EINVAL;
			}
			u->user[ulen++] = c;
		}
		u->user[ulen] = '\0';
		if (ulen == 0) {
			*why = "the user part before @ is empty";
			return -EINVAL;
		}
		p = at + 1;
	} else if (flags & SIP_USER_REQUIRED) {
		*why = "a SIP address looks like sip:user@host";
		return -EINVAL;
	}

	/* host [":" port]; an IPv6 literal is bracketed */
	if (*p == '[') {
		hend = memchr(p, ']', (size_t)(end - p));
		if (!hend) {
			*why = "the host is not a valid domain name or IP "
			       "address";
			return -EINVAL;
		}
		hend++;
	} else {
		hend = memchr(p, ':', (size_t)(end - p));
		if (!hend)
			hend = end;
	}
	if ((flags & SIP_ALLOW_ANY_HOST) && hend - p == 1 && *p == '*') {
		strcpy(u->host, "*");
	} else if (!host_canonical(p, (size_t)(hend - p), u->host,
	                           sizeof(u->host))) {
		*why = "the host is not a valid domain name or IP address";
		return -EINVAL;
	}
	if (hend < end) {
		if (*hend != ':' ||
		    !port_parse(hend + 1, (size_t)(end - hend - 1), &u->port)) {
			*why = "the port must be a number from 1 to 65535";
			return -EINVAL;
		}
	}

	/* parameters: ";transport=udp|tcp|tls" and, where allowed, ";lr" */
	p = end;
	while (*p == ';') {
		const char *param = p + 1;
		size_t plen = strcspn(param, ";");

		if (plen > 10 && !strncasecmp(param, "transport=", 10) &&
		    !u->transport) {
			const char *v = param + 10;
			size_t vlen = plen - 10;

			if (vlen == 3 && !strncasecmp(v, "udp", 3))
				u->transport = "udp";
			else if (vlen == 3 && !strncasecmp(v, "tcp", 3))
				u->transport = "tcp";
			else if (vlen == 3 && !strncasecmp(v, "tls", 3))
				u->transport = "tls";
			else {
				*why = "transport must be udp, tcp or tls";
				return -EINVAL;
			}
		} else if (plen == 2 && !strncasecmp(param, "lr", 2) &&
		           (flags & SIP_ALLOW_LR) && !u->lr) {
			u->lr = true;
		} else {
			*why = (flags & SIP_ALLOW_LR)
			           ? "only the ;transport= and ;lr "
			             "parameters are accepted"
			           : "only the ;transport= parameter is "
			             "accepted";
			return -EINVAL;
		}
		p = param + plen;
	}
	if (u->sips && u->transport && !strcmp(u->transport, "udp")) {
		*why = "sips: needs TLS, not transport=udp";
		return -EINVAL;
	}
	return 0;
}

/* Writes U in canonical form into OUT. */
static int sip_format(const struct sip_uri *u, char *out, size_t outlen,
                      const char **why)
{
	char port[8] = "";
	int n;

	if (u->port)
		snprintf(port, sizeof(port), ":%d", u->port);
	n = snprintf(out, outlen, "%s:%s%s%s%s%s%s%s", u->sips ? "sips" : "sip",
	             u->user, u->user[0] ? "@" : "", u->host, port,
	             u->transport ? ";transport=" : "",
	             u->transport ? u->transport : "", u->lr ? ";lr" : "");
	if (n < 0 || (size_t)n >= outlen || (size_t)n >= PHONE_MAX) {
		*why = "the SIP address is too long";
		return -EINVAL;
	}
	return 0;
}

/*
 * "+", or the international prefix "00", then digits with the separators
 * people write: spaces, dots, dashes and parentheses. "(0)", the national
 * trunk prefix some write after the country code ("+44 (0)20 ..."), is
 * refused rather than guessed at: dropping or keeping it silently would
 * dial a wrong number either way.
 */
static int e164_parse(const char *s, size_t n, char *out, size_t outlen,
                      const char **why)
{
	char digits[E164_MAX_DIGITS + 1];
	size_t nd = 0, i, group_digits = 0;
	bool in_group = false, group_zero = false;

	if (n >= 1 && s[0] == '+') {
		i = 1;
	} else if (n >= 2 && s[0] == '0' && s[1] == '0') {
		i = 2;
	} else {
		*why = "enter the number in international format: + and the "
		       "country code";
		return -EINVAL;
	}
	for (; i < n; i++) {
		char c = s[i];

		if (is_digit(c)) {
			if (nd >= E164_MAX_DIGITS) {
				*why = "the number is too long (at most 15 "
				       "digits after +)";
				return -EINVAL;
			}
			if (in_group) {
				group_zero = group_digits == 0 && c == '0';
				group_digits++;
			}
			digits[nd++] = c;
		} else if (c == ' ' || c == '.' || c == '-') {
			continue;
		} else if (c == '(' && !in_group) {
			in_group = true;
			group_digits = 0;
			group_zero = false;
		} else if (c == ')' && in_group) {
			if (group_digits == 0) {
				*why = "empty parentheses in the number";
				return -EINVAL;
			}
			if (group_digits == 1 && group_zero) {
				*why = "leave out the (0): write the number as "
				       "+, country code, then the rest";
				return -EINVAL;
			}
			in_group = false;
		} else if (c == '(' || c == ')') {
			*why = "unbalanced parentheses in the number";
			return -EINVAL;
		} else {
			*why = "a telephone number may contain only digits, "
			       "spaces and . - ( )";
			return -EINVAL;
		}
	}
	if (in_group) {
		*why = "unbalanced parentheses in the number";
		return -EINVAL;
	}
	if (nd == 0 || digits[0] == '0') {
		*why = nd ? "country codes do not start with 0"
		          : "no digits in the number";
		return -EINVAL;
	}
	if (nd < E164_MIN_DIGITS) {
		*why = "the number is too short for an international number";
		return -EINVAL;
	}
	if (nd + 2 > outlen) {
		*why = "the number is too long";
		return -EINVAL;
	}
	out[0] = '+';
	memcpy(out + 1, digits, nd);
	out[nd + 1] = '\0';
	return 0;
}

int phone_normalise(const char *in, char *out, size_t outlen,
                    enum phone_kind *kind, const char **why)
{
	const char *dummy;
	size_t n;
	int err;

	if (!why)
		why = &dummy;
	*why = NULL;
	if (!in || !out || outlen == 0) {
		*why = "no number or SIP address given";
		return -EINVAL;
	}
	out[0] = '\0';
	while (*in == ' ' || *in == '\t')
		in++;
	n = strlen(in);
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n == 0) {
		*why = "no number or SIP address given";
		return -EINVAL;
	}
	if (n >= PHONE_MAX) {
		*why = "too long";
		return -EINVAL;
	}

	if (!strncasecmp(in, "sip:", 4) || !strncasecmp(in, "sips:", 5)) {
		char buf[PHONE_MAX];
		struct sip_uri u;

		memcpy(buf, in, n);
		buf[n] = '\0';
		err = sip_parse(buf, SIP_USER_REQUIRED, &u, why);
		if (!err)
			err = sip_format(&u, out, outlen, why);
		if (err) {
			out[0] = '\0';
			return err;
		}
		if (kind)
			*kind = PHONE_SIP;
		return 0;
	}
	err = e164_parse(in, n, out, outlen, why);
	if (err) {
		out[0] = '\0';
		return err;
	}
	if (kind)
		*kind = PHONE_E164;
	return 0;
}

int phone_sip_domain(const char *uri, char *out, size_t outlen)
{
	struct sip_uri u;
	const char *why;
	size_t n;

	if (!uri || !out || outlen == 0)
		return -EINVAL;
	if (strlen(uri) >= PHONE_MAX)
		return -EINVAL;
	if (sip_parse(uri, SIP_ALLOW_LR, &u, &why))
		return -EINVAL;
	n = strlen(u.host);
	if (n >= outlen)
		return -ENOSPC;
	memcpy(out, u.host, n + 1);
	return 0;
}

int phone_sip_server_check(const char *uri, bool listen, const char **why)
{
	const char *dummy;
	struct sip_uri u;
	int err;

	if (!why)
		why = &dummy;
	if (!uri || strlen(uri) >= PHONE_MAX) {
		*why = "not a SIP URI of at most 255 bytes";
		return -EINVAL;
	}
	err =
	    sip_parse(uri, listen ? SIP_ALLOW_ANY_HOST : SIP_ALLOW_LR, &u, why);
	if (err)
		return err;
	if (listen && u.user[0]) {
		*why = "a listening address has no user part";
		return -EINVAL;
	}
	return 0;
}
