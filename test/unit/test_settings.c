/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Table-driven tests of the settings form validation (component/settings.c):
 * every accepted and refused value, and that a refusal names its field and
 * leaves the registration untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "settings.h"

static char *prefixes[] = {"+1", "+44"};
static char *domains[] = {"sip.example.org"};

struct apply_case {
	struct settings_input in;
	bool roster;
	int ok;            /* 1 accepted, 0 refused */
	const char *field; /* the field named in the refusal */
	bool phone_changed;
};

static const struct apply_case cases[] = {
    {{.phone = "+1 (555) 123-4567"}, false, 1, NULL, false},
    {{.phone = "+44 20 7946 0958"}, false, 1, NULL, true},
    {{.phone = "+33612345678"}, false, 0, "phone", false},
    {{.phone = "12345abc"}, false, 0, "phone", false},
    {{.phone = ""}, false, 0, "phone", false},
    {{.phone = "sip:bob@sip.example.org"}, false, 1, NULL, true},
    {{.phone = "sip:bob@evil.example.com"}, false, 0, "phone", false},
    {{.tz = "Europe/Paris"}, false, 1, NULL, false},
    {{.tz = "../../etc/passwd"}, false, 0, "tz", false},
    {{.tz = "Mars/Olympus"}, false, 0, "tz", false},
    {{.call_when = "away"}, false, 1, NULL, false},
    {{.call_when = "sometimes"}, false, 0, "call_when", false},
    {{.quiet_hours = "22:00-07:00"}, false, 1, NULL, false},
    {{.quiet_hours = ""}, false, 1, NULL, false},
    {{.quiet_hours = "25:00-07:00"}, false, 0, "quiet_hours", false},
    {{.quiet_hours = "22:00-22:00"}, false, 0, "quiet_hours", false},
    {{.quiet_hours = "22-7"}, false, 0, "quiet_hours", false},
    {{.lang = "en-GB"}, false, 1, NULL, false},
    {{.lang = "fr"}, false, 0, "lang", false},
    {{.lang = "e"}, false, 0, "lang", false},
    {{.roster_only = "true"}, true, 1, NULL, false},
    {{.roster_only = "true"}, false, 0, "roster_only", false},
    {{.roster_only = "maybe"}, true, 0, "roster_only", false},
    {{.sip_presence = "sip:bob@pbx.example.org"}, false, 1, NULL, false},
    {{.sip_presence = "+15551234567"}, false, 0, "sip_presence", false},
    {{.wait_minutes = "15"}, false, 1, NULL, false},
    {{.wait_minutes = "0"}, false, 1, NULL, false},
    {{.wait_minutes = ""}, false, 1, NULL, false},
    {{.wait_minutes = "1440"}, false, 1, NULL, false},
    {{.wait_minutes = "1441"}, false, 0, "wait_minutes", false},
    {{.wait_minutes = "-1"}, false, 0, "wait_minutes", false},
    {{.wait_minutes = "5 "}, false, 0, "wait_minutes", false},
    {{.wait_minutes = "99999"}, false, 0, "wait_minutes", false},
    {{.ring_through = "Alice@Example.org, example.net"}, false, 1, NULL, false},
    {{.ring_through = ""}, false, 1, NULL, false},
    {{.ring_through = "alice@example.org d/e"},
     false,
     0,
     "ring_through",
     false},
    {{.ring_through = "@example.org"}, false, 0, "ring_through", false},
    {{.ring_through = "alice@"}, false, 0, "ring_through", false},
    {{.ring_through = "a<b@example.org"}, false, 0, "ring_through", false},
    {{.ring_through = ".example.org"}, false, 0, "ring_through", false},
    {{.ring_through = "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u"},
     false,
     0,
     "ring_through",
     false},
    {{.quiet_mode = "never"}, false, 1, NULL, false},
    {{.quiet_mode = "later"}, false, 1, NULL, false},
    {{.quiet_mode = "sometimes"}, false, 0, "quiet_mode", false},
};

/* The gate field: what is taken, and what it sets (from the default). */
static const struct {
	const char *in;
	int ok;
	int gate;
} gate_cases[] = {
    {"on", 1, QUEUE_GATE_ON},
    {"off", 1, QUEUE_GATE_OFF},
    {"default", 1, QUEUE_GATE_DEFAULT},
    {"", 1, QUEUE_GATE_DEFAULT},
    {"true", 1, QUEUE_GATE_ON},
    {"0", 1, QUEUE_GATE_OFF},
    {"sometimes", 0, QUEUE_GATE_DEFAULT},
    {"On", 0, QUEUE_GATE_DEFAULT},
    {"off ", 0, QUEUE_GATE_DEFAULT},
};

static void reg_init(struct queue_registration *r)
{
	memset(r, 0, sizeof(*r));
	r->jid = strdup("bob@localhost");
	r->phone = strdup("+15551234567");
	r->quiet_start = r->quiet_end = -1;
	r->gate = QUEUE_GATE_DEFAULT;
}

int main(void)
{
	struct config *cfg;
	char err[256], why[256];

	CHECK_INT(config_load(&cfg, NULL, err, sizeof(err)), 0);
	cfg->policy.allowed_prefixes.v = prefixes;
	cfg->policy.allowed_prefixes.n = 2;
	cfg->policy.allowed_sip_domains.v = domains;
	cfg->policy.allowed_sip_domains.n = 1;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct apply_case *t = &cases[i];
		struct queue_registration r;
		bool changed = false;
		int rc;

		reg_init(&r);
		why[0] = '\0';
		rc = settings_apply(cfg, &t->in, t->roster, &r, &changed, why,
		                    sizeof(why));
		/* Cases without a gate leave it as it was. */
		CHECK_INT(r.gate, QUEUE_GATE_DEFAULT);
		if (t->ok) {
			CHECK_INT(rc, 0);
			CHECK_INT(changed, t->phone_changed);
		} else {
			CHECK(rc < 0);
			CHECK(strncmp(why, t->field, strlen(t->field)) == 0);
			CHECK(why[strlen(t->field)] == ':');
			/* A refusal changes nothing. */
			CHECK_STR(r.phone, "+15551234567");
			CHECK(r.tz == NULL && r.lang == NULL);
			CHECK_INT(r.quiet_start, -1);
		}
		if (t->ok && t->in.quiet_hours && *t->in.quiet_hours) {
			char q[16];

			settings_quiet_format(&r, q, sizeof(q));
			CHECK_STR(q, t->in.quiet_hours);
		}
		if (t->ok && t->in.wait_minutes)
			CHECK_INT(r.wait_minutes, atoi(t->in.wait_minutes));
		if (!t->ok)
			CHECK(r.wait_minutes == 0 && r.ring_through == NULL &&
			      r.quiet_mode == QUEUE_QUIET_DEFER);
		if (t->ok && t->in.ring_through && *t->in.ring_through) {
			char shown[256];

			CHECK_STR(r.ring_through,
			          "alice@example.org\nexample.net");
			settings_ring_through_format(&r, shown, sizeof(shown));
			CHECK_STR(shown, "alice@example.org, example.net");
		}
		if (t->ok && t->in.quiet_mode)
			CHECK_INT(r.quiet_mode,
			          strcmp(t->in.quiet_mode, "never")
			              ? QUEUE_QUIET_DEFER
			              : QUEUE_QUIET_DROP);
		if (t->ok && t->in.phone &&
		    !strcmp(t->in.phone, "+44 20 7946 0958"))
			CHECK_STR(r.phone, "+442079460958");
		queue_registration_clear(&r);
	}

	for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]);
	     i++) {
		struct queue_registration r;
		struct settings_input in = {.gate = gate_cases[i].in};
		bool changed;
		int rc;

		reg_init(&r);
		why[0] = '\0';
		rc = settings_apply(cfg, &in, false, &r, &changed, why,
		                    sizeof(why));
		CHECK_INT(rc, gate_cases[i].ok ? 0 : -EINVAL);
		CHECK_INT(r.gate, gate_cases[i].gate);
		if (!gate_cases[i].ok)
			CHECK(strncmp(why, "gate: ", 6) == 0);
		queue_registration_clear(&r);
	}

	/* A refused field elsewhere in the form leaves the gate alone. */
	{
		struct queue_registration r;
		struct settings_input in = {.gate = "off",
		                            .tz = "Mars/Olympus"};
		bool changed;

		reg_init(&r);
		CHECK(settings_apply(cfg, &in, false, &r, &changed, why,
		                     sizeof(why)) < 0);
		CHECK(strncmp(why, "tz:", 3) == 0);
		CHECK_INT(r.gate, QUEUE_GATE_DEFAULT);
		queue_registration_clear(&r);
	}

	/* A form without the field keeps the user's choice; the form shows
	 * each value by its name. */
	{
		struct queue_registration r;
		struct settings_input in = {.tz = "UTC"};
		bool changed;

		reg_init(&r);
		r.gate = QUEUE_GATE_OFF;
		CHECK_INT(settings_apply(cfg, &in, false, &r, &changed, why,
		                         sizeof(why)),
		          0);
		CHECK_INT(r.gate, QUEUE_GATE_OFF);
		CHECK_STR(settings_gate_name(r.gate), "off");
		CHECK_STR(settings_gate_name(QUEUE_GATE_ON), "on");
		CHECK_STR(settings_gate_name(QUEUE_GATE_DEFAULT), "default");
		queue_registration_clear(&r);
	}

	/* A new registration without a phone is refused. */
	{
		struct queue_registration r = {0};
		struct settings_input in = {.tz = "UTC"};
		bool changed;

		r.quiet_start = r.quiet_end = -1;
		CHECK(settings_apply(cfg, &in, false, &r, &changed, why,
		                     sizeof(why)) < 0);
		CHECK(strncmp(why, "phone:", 6) == 0);
	}

	/* Further numbers: checked like phone, each refusal naming its
	 * field; a number given twice is refused. */
	{
		static const struct {
			const char *p2, *p3;
			const char *field; /* NULL: accepted */
		} more_cases[] = {
		    {"+44 20 7946 0958", NULL, NULL},
		    {"sip:bob@sip.example.org", "+15557654321", NULL},
		    {"+33612345678", NULL, "phone2"},
		    {NULL, "sip:bob@evil.example.com", "phone3"},
		    {"+1 555 123 4567", NULL, "phone2"},
		    {"+15557654321", "+1 (555) 765-4321", "phone3"},
		    {"12345abc", NULL, "phone2"},
		};

		for (size_t i = 0;
		     i < sizeof(more_cases) / sizeof(more_cases[0]); i++) {
			struct queue_registration r;
			struct settings_input in = {
			    .phone_more = {more_cases[i].p2, more_cases[i].p3}};
			bool changed;
			int rc;

			reg_init(&r);
			why[0] = '\0';
			rc = settings_apply(cfg, &in, false, &r, &changed, why,
			                    sizeof(why));
			if (!more_cases[i].field) {
				CHECK_INT(rc, 0);
				CHECK(!changed);
				CHECK(r.phone_more[0] != NULL);
				CHECK(!r.verified_more[0]);
			} else {
				size_t n = strlen(more_cases[i].field);

				CHECK_INT(rc, -EINVAL);
				CHECK(strncmp(why, more_cases[i].field, n) ==
				          0 &&
				      why[n] == ':');
				CHECK(r.phone_more[0] == NULL);
			}
			queue_registration_clear(&r);
		}
	}

	/* Removing phone2 moves phone3 up with its verified flag; a changed
	 * number is unverified; the code goes to the first unverified one. */
	{
		struct queue_registration r;
		struct settings_input in = {.phone_more = {"", NULL}};
		bool changed;

		reg_init(&r);
		r.verified = true;
		r.phone_more[0] = strdup("+15557654321");
		r.phone_more[1] = strdup("sip:bob@sip.example.org");
		r.verified_more[1] = true;
		CHECK_STR(settings_unverified_phone(&r), "+15557654321");
		CHECK_INT(settings_apply(cfg, &in, false, &r, &changed, why,
		                         sizeof(why)),
		          0);
		CHECK_STR(r.phone_more[0], "sip:bob@sip.example.org");
		CHECK(r.verified_more[0]);
		CHECK(r.phone_more[1] == NULL && !r.verified_more[1]);
		CHECK(settings_unverified_phone(&r) == NULL);

		in.phone_more[0] = "sip:bob@sip.example.org";
		in.phone_more[1] = "+44 20 7946 0958";
		CHECK_INT(settings_apply(cfg, &in, false, &r, &changed, why,
		                         sizeof(why)),
		          0);
		CHECK(r.verified_more[0] && !r.verified_more[1]);
		CHECK_STR(settings_unverified_phone(&r), "+442079460958");
		settings_phone_verified(&r, "+442079460958");
		CHECK(r.verified_more[1]);
		CHECK(settings_unverified_phone(&r) == NULL);
		r.verified = false;
		CHECK_STR(settings_unverified_phone(&r), "+15551234567");
		queue_registration_clear(&r);
	}

	cfg->policy.allowed_prefixes.v = NULL;
	cfg->policy.allowed_prefixes.n = 0;
	cfg->policy.allowed_sip_domains.v = NULL;
	cfg->policy.allowed_sip_domains.n = 0;
	config_free(cfg);
	return check_exit("test_settings");
}
