/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The two INFO bodies phones use for keys. application/dtmf-relay is a
 * list of `name=value` lines (Signal is the key, Duration its length in
 * ms; names are matched without case and other lines are skipped, since
 * senders add their own); application/dtmf is the key by itself. Both are
 * read within INFO_BODY_MAX and without copying.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "dtmf.h"
#include "info.h"

#define RELAY_LINES_MAX 8

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* S..END without the blanks around it. */
static void trim(const char **s, const char **end)
{
	while (*s < *end && is_blank(**s))
		(*s)++;
	while (*end > *s && is_blank((*end)[-1]))
		(*end)--;
}

/*
 * One key's text: a character of DTMF_KEYS (A-D either case), or 10 and
 * 11 for * and # (RFC 4733's event codes, which some gateways send).
 */
static int key_of(const char *s, const char *end, char *key)
{
	const char *k;
	size_t n = (size_t)(end - s);

	if (n == 2 && s[0] == '1' && (s[1] == '0' || s[1] == '1')) {
		*key = s[1] == '0' ? '*' : '#';
		return 0;
	}
	if (n != 1 || s[0] == '\0')
		return -EBADMSG;
	k = strchr(DTMF_KEYS, s[0] >= 'a' && s[0] <= 'd' ? s[0] - 32 : s[0]);
	if (!k)
		return -EBADMSG;
	*key = *k;
	return 0;
}

/* Duration=: 1 to 5 digits, in ms. */
static int duration_of(const char *s, const char *end, int *ms)
{
	int v = 0;

	if (s == end || end - s > 5)
		return -EBADMSG;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -EBADMSG;
		v = v * 10 + (*s - '0');
	}
	*ms = v;
	return 0;
}

static int relay_parse(const char *body, size_t len, char *key, int *ms)
{
	const char *s = body, *end = body + len, *eol, *stop, *eq, *v;
	bool have_key = false;
	int lines = 0, err;

	while (s < end) {
		eol = memchr(s, '\n', (size_t)(end - s));
		stop = eol ? eol : end;
		if (stop > s && stop[-1] == '\r')
			stop--;
		if (++lines > RELAY_LINES_MAX)
			return -EBADMSG;
		trim(&s, &stop);
		if (s < stop) {
			eq = memchr(s, '=', (size_t)(stop - s));
			if (!eq)
				return -EBADMSG;
			v = eq + 1;
			while (eq > s && is_blank(eq[-1]))
				eq--;
			while (v < stop && is_blank(*v))
				v++;
			if (eq - s == 6 && !strncasecmp(s, "Signal", 6)) {
				if (have_key)
					return -EBADMSG;
				err = key_of(v, stop, key);
				if (err)
					return err;
				have_key = true;
			} else if (eq - s == 8 &&
			           !strncasecmp(s, "Duration", 8)) {
				err = duration_of(v, stop, ms);
				if (err)
					return err;
			}
		}
		s = eol ? eol + 1 : end;
	}
	return have_key ? 0 : -EBADMSG;
}

int info_dtmf_parse(const char *ctype, const char *body, size_t len, char *key,
                    int *duration_ms)
{
	const char *end;

	*duration_ms = 0;
	if (len > INFO_BODY_MAX)
		return -EMSGSIZE;
	if (!ctype || !*ctype)
		return len == 0 ? -ENODATA : -EPROTONOSUPPORT;
	if (len && memchr(body, '\0', len))
		return -EBADMSG;
	if (!strcasecmp(ctype, "application/dtmf-relay"))
		return relay_parse(body, len, key, duration_ms);
	if (strcasecmp(ctype, "application/dtmf"))
		return -EPROTONOSUPPORT;
	end = body + len;
	while (end > body && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	trim(&body, &end);
	return key_of(body, end, key);
}
