/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Validation of user settings (see settings.h). Every check names the field
 * in its message, because that text goes back to the user's client as the
 * <text/> of a not-acceptable error. Values are copied only after all
 * fields passed, so a rejected form changes nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "phone.h"
#include "policy.h"
#include "settings.h"
#include "tz.h"

#define LANG_MAX 35

static int fail(char *why, size_t whylen, const char *field, const char *reason)
{
	snprintf(why, whylen, "%s: %s", field, reason);
	return -EINVAL;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "1") || !strcmp(s, "true")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false") || !*s) {
		*out = false;
		return true;
	}
	return false;
}

static int parse_hhmm(const char *s, int *minutes)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -EINVAL;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');

	if (h > 23 || m > 59)
		return -EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

int settings_quiet_parse(const char *s, int *start, int *end)
{
	if (!*s) {
		*start = *end = -1;
		return 0;
	}
	if (strlen(s) != 11 || s[5] != '-' || parse_hhmm(s, start) ||
	    parse_hhmm(s + 6, end) || *start == *end)
		return -EINVAL;
	return 0;
}

void settings_quiet_format(const struct queue_registration *reg, char *out,
                           size_t outlen)
{
	if (reg->quiet_start < 0) {
		snprintf(out, outlen, "%s", "");
		return;
	}
	snprintf(out, outlen, "%02d:%02d-%02d:%02d", reg->quiet_start / 60,
	         reg->quiet_start % 60, reg->quiet_end / 60,
	         reg->quiet_end % 60);
}

/* BCP 47, restricted to what the speech engine can say: English. */
static int check_lang(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n < 2 || n > LANG_MAX) {
		*why = "not a language tag such as en or en-GB";
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
			*why = "not a language tag such as en or en-GB";
			return -EINVAL;
		}
	}
	if (strncasecmp(s, "en", 2) != 0 || (n > 2 && s[2] != '-')) {
		*why = "only English (en) speech is available";
		return -EINVAL;
	}
	return 0;
}

const char *const settings_gate_options[] = {"default", "on", "off", NULL};

const char *settings_gate_name(int gate)
{
	return gate == QUEUE_GATE_ON    ? "on"
	       : gate == QUEUE_GATE_OFF ? "off"
	                                : "default";
}

/* "default" (or empty) follows the operator's [calls] gate; the booleans
 * are taken too, for clients that render the field as a check box. */
static bool parse_gate(const char *s, int *gate)
{
	if (!*s || !strcmp(s, "default"))
		*gate = QUEUE_GATE_DEFAULT;
	else if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "true"))
		*gate = QUEUE_GATE_ON;
	else if (!strcmp(s, "off") || !strcmp(s, "0") || !strcmp(s, "false"))
		*gate = QUEUE_GATE_OFF;
	else
		return false;
	return true;
}

const char *const settings_phone_more_fields[QUEUE_PHONES_MAX - 1] = {
    SETTINGS_PHONE2, SETTINGS_PHONE3};

const char *settings_unverified_phone(const struct queue_registration *reg)
{
	if (reg->phone && !reg->verified)
		return reg->phone;
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++)
		if (reg->phone_more[i] && !reg->verified_more[i])
			return reg->phone_more[i];
	return NULL;
}

void settings_phone_verified(struct queue_registration *reg, const char *number)
{
	if (reg->phone && !strcmp(reg->phone, number))
		reg->verified = true;
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++)
		if (reg->phone_more[i] && !strcmp(reg->phone_more[i], number))
			reg->verified_more[i] = true;
}

/*
 * The further numbers of IN checked into MORE (canonical, "" for none),
 * against the policy and against each other and FIRST (the first number
 * as it will be): a number given twice would only ring one phone twice.
 */
static int more_numbers_check(const struct config *cfg,
                              const struct settings_input *in,
                              const struct queue_registration *reg,
                              const char *first, char more[][PHONE_MAX],
                              char *why, size_t whylen)
{
	enum phone_kind kind;
	const char *reason;

	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++) {
		const char *field = settings_phone_more_fields[i];
		const char *v = in->phone_more[i]    ? in->phone_more[i]
		                : reg->phone_more[i] ? reg->phone_more[i]
		                                     : "";

		more[i][0] = '\0';
		if (!*v)
			continue;
		if (phone_normalise(v, more[i], PHONE_MAX, &kind, &reason))
			return fail(why, whylen, field, reason);
		if (policy_destination_check(cfg, more[i], &reason))
			return fail(why, whylen, field, reason);
		if (first && !strcmp(more[i], first))
			return fail(why, whylen, field,
			            "the same number as phone");
		for (size_t j = 0; j < i; j++)
			if (!strcmp(more[i], more[j]))
				return fail(why, whylen, field,
				            "the same number as phone2");
	}
	return 0;
}

/* Stores MORE (from more_numbers_check) in REG, moving the numbers up
 * over a removed one; a number REG had keeps its verified flag. */
static void more_numbers_store(struct queue_registration *reg,
                               char more[][PHONE_MAX])
{
	char *old[QUEUE_PHONES_MAX - 1];
	bool old_verified[QUEUE_PHONES_MAX - 1];
	size_t n = 0;

	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++) {
		old[i] = reg->phone_more[i];
		old_verified[i] = reg->verified_more[i];
		reg->phone_more[i] = NULL;
		reg->verified_more[i] = false;
	}
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++) {
		if (!more[i][0])
			continue;
		reg->phone_more[n] = strdup(more[i]);
		for (size_t j = 0; j < QUEUE_PHONES_MAX - 1; j++)
			if (old[j] && !strcmp(old[j], more[i]))
				reg->verified_more[n] = old_verified[j];
		n++;
	}
	for (size_t i = 0; i < QUEUE_PHONES_MAX - 1; i++)
		free(old[i]);
}

/* A whole number of minutes, 0 to QUEUE_WAIT_MINUTES_MAX ("" is 0). */
static bool parse_wait(const char *s, int *minutes)
{
	size_t n = strlen(s);
	int v = 0;

	if (n > 4)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > QUEUE_WAIT_MINUTES_MAX)
		return false;
	*minutes = v;
	return true;
}

const char *const settings_quiet_mode_options[] = {"later", "never", NULL};

/* One ring_through entry: a bare JID (one '@', a local part without
 * spaces or the characters XMPP forbids there) or an ASCII domain. */
static bool ring_through_entry_ok(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);
	size_t dstart = at ? (size_t)(at - s) + 1 : 0;

	if (n == 0 || n > SETTINGS_RING_THROUGH_LEN_MAX || dstart == 1 ||
	    dstart >= n)
		return false;
	for (size_t i = 0; i + 1 < dstart; i++)
		if (strchr("\"&'/:<>@", s[i]) || (unsigned char)s[i] <= ' ' ||
		    (unsigned char)s[i] >= 0x7f)
			return false;
	for (size_t i = dstart; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return s[dstart] != '.' && s[n - 1] != '.';
}

/* IN (entries separated by commas or white space) into OUT, one per line,
 * lower case; "" for none. */
static int ring_through_parse(const char *in, char *out, size_t outlen,
                              const char **reason)
{
	size_t len = 0;
	int count = 0;

	out[0] = '\0';
	for (const char *p = in; *p;) {
		size_t n;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		n = strcspn(p, ", \t\r\n");
		if (!n)
			break;
		if (!ring_through_entry_ok(p, n)) {
			*reason = "each entry must be an address such as "
			          "alice@example.org or a domain such as "
			          "example.org";
			return -EINVAL;
		}
		if (++count > SETTINGS_RING_THROUGH_MAX ||
		    len + n + 2 > outlen) {
			*reason = "at most 20 entries";
			return -EINVAL;
		}
		if (len)
			out[len++] = '\n';
		for (size_t i = 0; i < n; i++)
			out[len++] = (char)tolower((unsigned char)p[i]);
		out[len] = '\0';
		p += n;
	}
	return 0;
}

void settings_ring_through_format(const struct queue_registration *reg,
                                  char *out, size_t outlen)
{
	size_t len = 0;

	out[0] = '\0';
	for (const char *p = reg->ring_through; p && *p && len + 3 < outlen;
	     p++) {
		if (*p == '\n') {
			out[len++] = ',';
			out[len++] = ' ';
		} else {
			out[len++] = *p;
		}
		out[len] = '\0';
	}
}

static void replace(char **dst, const char *src)
{
	free(*dst);
	*dst = (src && *src) ? strdup(src) : NULL;
}

int settings_apply(const struct config *cfg, const struct settings_input *in,
                   bool roster_available, struct queue_registration *reg,
                   bool *phone_changed, char *why, size_t whylen)
{
	char phone[PHONE_MAX], sip[PHONE_MAX];
	char more[QUEUE_PHONES_MAX - 1][PHONE_MAX];
	enum phone_kind kind;
	const char *reason;
	int qs = reg->quiet_start, qe = reg->quiet_end;
	enum queue_call_when call_when = reg->call_when;
	bool roster_only = reg->roster_only;
	int gate = reg->gate;
	int wait = reg->wait_minutes;
	int quiet_mode = reg->quiet_mode;
	char ring[SETTINGS_RING_THROUGH_MAX *
	          (SETTINGS_RING_THROUGH_LEN_MAX + 1)];

	*phone_changed = false;
	if (in->phone) {
		if (!*in->phone)
			return fail(
			    why, whylen, SETTINGS_PHONE,
			    "a phone number or SIP address is required");
		if (phone_normalise(in->phone, phone, sizeof(phone), &kind,
		                    &reason))
			return fail(why, whylen, SETTINGS_PHONE, reason);
		if (policy_destination_check(cfg, phone, &reason))
			return fail(why, whylen, SETTINGS_PHONE, reason);
	} else if (!reg->phone) {
		return fail(why, whylen, SETTINGS_PHONE,
		            "a phone number or SIP address is required");
	}
	if (more_numbers_check(cfg, in, reg, in->phone ? phone : reg->phone,
	                       more, why, whylen))
		return -EINVAL;
	if (in->tz && *in->tz && !tz_valid(in->tz))
		return fail(why, whylen, SETTINGS_TZ,
		            "not a time zone name such as Europe/Paris or "
		            "America/New_York");
	if (in->call_when) {
		if (!strcmp(in->call_when, "offline") || !*in->call_when)
			call_when = QUEUE_CALL_OFFLINE;
		else if (!strcmp(in->call_when, "away"))
			call_when = QUEUE_CALL_AWAY;
		else
			return fail(why, whylen, SETTINGS_CALL_WHEN,
			            "must be offline or away");
	}
	if (in->quiet_hours && settings_quiet_parse(in->quiet_hours, &qs, &qe))
		return fail(why, whylen, SETTINGS_QUIET,
		            "must be HH:MM-HH:MM (for example 22:00-07:00) "
		            "or empty");
	if (in->lang && *in->lang && check_lang(in->lang, &reason))
		return fail(why, whylen, SETTINGS_LANG, reason);
	if (in->roster_only) {
		if (!parse_bool(in->roster_only, &roster_only))
			return fail(why, whylen, SETTINGS_ROSTER_ONLY,
			            "must be true or false");
		if (roster_only && !roster_available)
			return fail(why, whylen, SETTINGS_ROSTER_ONLY,
			            "the server grants ringbridge no roster "
			            "access, so calls cannot be limited to "
			            "contacts (ask the administrator to grant "
			            "roster = \"get\")");
	}
	if (in->sip_presence && *in->sip_presence) {
		if (phone_normalise(in->sip_presence, sip, sizeof(sip), &kind,
		                    &reason) ||
		    kind != PHONE_SIP)
			return fail(why, whylen, SETTINGS_SIP_PRESENCE,
			            "must be a sip: address such as "
			            "sip:bob@pbx.example.org");
	}
	if (in->gate && !parse_gate(in->gate, &gate))
		return fail(why, whylen, SETTINGS_GATE,
		            "must be default, on or off");
	if (in->wait_minutes && !parse_wait(in->wait_minutes, &wait))
		return fail(why, whylen, SETTINGS_WAIT,
		            "must be a whole number of minutes from 0 to "
		            "1440");
	if (in->ring_through &&
	    ring_through_parse(in->ring_through, ring, sizeof(ring), &reason))
		return fail(why, whylen, SETTINGS_RING_THROUGH, reason);
	if (in->quiet_mode) {
		if (!*in->quiet_mode || !strcmp(in->quiet_mode, "later"))
			quiet_mode = QUEUE_QUIET_DEFER;
		else if (!strcmp(in->quiet_mode, "never"))
			quiet_mode = QUEUE_QUIET_DROP;
		else
			return fail(why, whylen, SETTINGS_QUIET_MODE,
			            "must be later or never");
	}

	/* Everything passed: apply. */
	if (in->phone && (!reg->phone || strcmp(reg->phone, phone) != 0)) {
		replace(&reg->phone, phone);
		*phone_changed = true;
	}
	more_numbers_store(reg, more);
	if (in->tz)
		replace(&reg->tz, in->tz);
	if (in->lang)
		replace(&reg->lang, in->lang);
	if (in->sip_presence)
		replace(&reg->sip_presence,
		        *in->sip_presence ? sip : in->sip_presence);
	reg->call_when = call_when;
	reg->quiet_start = qs;
	reg->quiet_end = qe;
	reg->roster_only = roster_only;
	reg->gate = gate;
	reg->wait_minutes = wait;
	reg->quiet_mode = quiet_mode;
	if (in->ring_through)
		replace(&reg->ring_through, ring);
	return 0;
}
