/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The SIP half of `ringbridgectl check`: one OPTIONS request with sofia-sip's
 * nua, as the bridge would send its INVITEs, from an ephemeral port on the
 * bridge's own address (the bridge may be running and holding its port).
 * Any response from the network proves the next hop is there, 401/407 and
 * 405 included; a response sofia-sip makes up itself (timeout, transport
 * error: 408, 503) counts as no answer, as does a real 503.
 * Every sofia tag list of ringbridgectl is in this file.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/nta_tag.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_wait.h>

#include "check.h"

struct sstate {
	su_root_t *root;
	int status; /* of a real response; 0 none */
	int local;  /* a status sofia made up (408, 503...) */
	char phrase[128];
	bool options_done, shutdown_done;
};

/* sofia-sip's own log lines (ICMP errors, transaction failures) would repeat
 * on stderr what check reports in its own words: they are dropped. */
static void sip_log_drop(void *arg, char const *fmt, va_list ap)
{
	(void)arg;
	(void)fmt;
	(void)ap;
}

static void sip_callback(nua_event_t event, int status, char const *phrase,
                         nua_t *nua, nua_magic_t *magic, nua_handle_t *nh,
                         nua_hmagic_t *hmagic, sip_t const *sip, tagi_t tags[])
{
	struct sstate *s = (struct sstate *)magic;

	(void)nua;
	(void)hmagic;
	(void)tags;
	switch (event) {
	case nua_r_options:
		if (status < 200)
			break;
		/* sofia-sip answers a timeout (408) and a transport error
		 * (503, e.g. ICMP port unreachable) itself, with a response
		 * that looks like one from the wire (To tag included). So
		 * 408 and 503 count as no answer, whoever sent them: a hop
		 * that says 503 is not usable either. */
		if (sip && status != 408 && status != 503)
			s->status = status;
		else
			s->local = status;
		snprintf(s->phrase, sizeof(s->phrase), "%s",
		         phrase ? phrase : "");
		s->options_done = true;
		nua_handle_destroy(nh);
		break;
	case nua_r_shutdown:
		if (status >= 200) {
			s->shutdown_done = true;
			su_root_break(s->root);
		}
		break;
	default:
		break;
	}
}

/* "sip:HOST:*" for the host of [sip] listen ("sip:127.0.0.1:5080"). */
static void local_url(const char *listen, char *out, size_t len)
{
	url_t *u;
	su_home_t home[1] = {SU_HOME_INIT(home)};

	u = url_hdup(home, (url_t *)listen);
	if (u && u->url_host)
		snprintf(out, len, "sip:%s:*", u->url_host);
	else
		snprintf(out, len, "sip:*:*");
	su_home_deinit(home);
}

int check_sip_options(const struct config *cfg, const char *target,
                      int timeout_ms, char *why, size_t whylen, char *phrase,
                      size_t phraselen)
{
	struct sstate s = {0};
	nua_t *nua = NULL;
	nua_handle_t *nh;
	char url[300];
	int status = 0;

	su_log_redirect(NULL, sip_log_drop, NULL);
	if (su_init() != 0) {
		snprintf(why, whylen, "sofia-sip did not initialise");
		return 0;
	}
	s.root = su_root_create(&s);
	if (!s.root) {
		snprintf(why, whylen, "sofia-sip did not initialise");
		goto out;
	}
	local_url(cfg->sip.listen, url, sizeof(url));
	/* T1x64 bounds the transaction: the default is 32 s. */
	nua = nua_create(s.root, sip_callback, (nua_magic_t *)&s,
	                 NUTAG_URL(url), NTATAG_SIP_T1X64(timeout_ms),
	                 SIPTAG_USER_AGENT_STR("ringbridgectl/" RB_VERSION),
	                 TAG_END());
	if (!nua) {
		snprintf(why, whylen, "cannot open a SIP socket on %s", url);
		goto out;
	}
	nh = nua_handle(nua, NULL, SIPTAG_TO_STR(target), TAG_END());
	if (!nh) {
		snprintf(why, whylen, "%s is not a SIP address", target);
		goto shutdown;
	}
	nua_options(nh, TAG_END());
	while (!s.options_done)
		su_root_step(s.root, 100);
	if (s.status) {
		status = s.status;
		snprintf(phrase, phraselen, "%s", s.phrase);
	} else {
		snprintf(why, whylen, "no answer from %s to OPTIONS (%d %s)",
		         target, s.local, s.phrase);
	}
shutdown:
	nua_shutdown(nua);
	/* nua answers a shutdown within seconds; 10 s bounds it anyway. */
	for (int i = 0; i < 100 && !s.shutdown_done; i++)
		su_root_step(s.root, 100);
	nua_destroy(nua);
out:
	if (s.root)
		su_root_destroy(s.root);
	su_deinit();
	return status;
}
