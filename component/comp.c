/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The construction and teardown of struct comp: the tables, the queue and
 * its wake-ups, the writer thread, the outcome and upload machinery, the
 * metrics and, when configured, the HTTP listener and /status page. Kept
 * out of main.c so the stanza fuzz harness (test/fuzz/fuzz_stanza.c) runs
 * the handlers against exactly the state the daemon has.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "comp.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "monitor.h"
#include "outcome.h"
#include "presence.h"
#include "statuspage.h"
#include "store.h"
#include "upload.h"

static void strophe_log(void *userdata, xmpp_log_level_t level,
                        const char *area, const char *msg)
{
	(void)userdata;
	/* libstrophe's debug output includes every stanza: only at debug. */
	if (level == XMPP_LEVEL_ERROR)
		log_warn("strophe", "%s: %s", area, msg);
	else if (level >= XMPP_LEVEL_WARN)
		log_info("strophe", "%s: %s", area, msg);
	else if (log_level_get() >= LOG_LEVEL_DEBUG && level >= XMPP_LEVEL_INFO)
		log_debug("strophe", "%s: %s", area, msg);
}

int comp_init(struct comp *c, struct config *cfg)
{
	static xmpp_log_t logger = {strophe_log, NULL};
	unsigned char r[8];
	int err;

	c->cfg = cfg;
	c->domain = cfg->xmpp.domain;
	c->wake_fd = -1;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(c->run_id + 2 * i, "%02x", r[i]);
	c->priv = g_new0(struct comp_privileges, cfg->xmpp.user_domains.n);
	c->presence = comp_presence_new();
	c->rows = comp_presence_rows_new();
	c->gwpres = comp_gwpres_new(c);
	c->waits = comp_waits_new();
	err = comp_push_new(&c->push, c);
	if (!err)
		err = comp_gateway_new(&c->gateway);
	if (!err)
		err = comp_catch_new(&c->catcher);
	if (err)
		return err;
	err = queue_password_file_set(cfg->queue.password_file);
	if (!err)
		err = queue_open(&c->q, cfg->queue.url);
	if (err) {
		/* Not the URL: it may hold a password (the queue logged
		 * where it failed). */
		log_err("main", "cannot open the queue ([queue] url): %s",
		        strerror(-err));
		return err;
	}
	/* Not fatal: without it a wait begun before a restart ends in a
	 * call even if the user came online (logged). */
	(void)comp_wait_load(c);
	err = queue_wake_listen(
	    c->q, QUEUE_CH_REGISTRATIONS | QUEUE_CH_EVENTS | QUEUE_CH_PRESENCE,
	    &c->wake_fd);
	if (err)
		log_warn("main",
		         "no wake-ups from the queue (%s): registrations made "
		         "with ringbridgectl are noticed within a minute",
		         strerror(-err));
	err = store_new(&c->store, c, cfg->queue.url);
	if (err) {
		log_err("main", "cannot start the writer thread: %s",
		        strerror(-err));
		return err;
	}
	err = comp_iqs_new(&c->iqs, c);
	if (!err)
		err = comp_status_new(&c->status, c);
	if (!err)
		err = comp_outcomes_new(&c->outcomes, c);
	if (!err)
		err = upload_new(&c->uploader, c);
	if (!err)
		err = comp_monitor_new(&c->monitor, cfg);
	if (!err)
		err = comp_standby_new(c);
	if (err)
		return err;
	if (cfg->http.listen && *cfg->http.listen) {
		err = http_server_new(&c->http, cfg);
		if (err) {
			log_err("main", "cannot serve voice replies on %s: %s",
			        cfg->http.listen, strerror(-err));
			return err;
		}
		http_server_metrics_serve(c->http,
		                          comp_monitor_registry(c->monitor));
	}
	err = statuspage_new(&c->statuspage, cfg);
	if (err)
		return err;
	if (c->statuspage && !c->http)
		log_warn("main", "[http] admin_password_file is set but [http] "
		                 "listen is not: no /status page");
	http_server_status_serve(c->http, c->statuspage);
	xmpp_initialize();
	c->ctx = xmpp_ctx_new(NULL, &logger);
	return c->ctx ? 0 : -ENOMEM;
}

void comp_fini(struct comp *c)
{
	/* The store first: its last completions may still use the rest. */
	store_free(c->store);
	comp_status_free(c);
	comp_outcomes_free(c->outcomes);
	upload_free(c->uploader);
	http_server_free(c->http);
	statuspage_free(c->statuspage);
	comp_monitor_free(c->monitor);
	if (c->ctx) {
		xmpp_ctx_free(c->ctx);
		xmpp_shutdown();
	}
	comp_iqs_free(c);
	comp_push_free(c->push);
	comp_gateway_free(c->gateway);
	comp_catch_free(c->catcher);
	comp_waits_free(c->waits);
	comp_missed_reset(c);
	comp_presence_free(c->presence);
	comp_presence_rows_free(c->rows);
	comp_gwpres_free(c->gwpres);
	comp_standby_free(c);
	queue_close(c->q);
	g_free(c->priv);
}
