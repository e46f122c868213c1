/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The one INI configuration file read by ringbridge-component,
 * ringbridge-sip and ringbridgectl. Every key has an embedded default (so an
 * empty file is a working local set-up), every value is validated when the
 * file is loaded, and an error names the file, the line, the key and what is
 * wrong. Keys and defaults are documented in docs/configuration.md.
 */
#ifndef RB_CONFIG_H
#define RB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* A comma-separated list, split and trimmed. */
struct config_list {
	char **v;
	size_t n;
};

enum config_rec_format {
	CONFIG_REC_OPUS = 0,
	CONFIG_REC_MP3 = 1,
};

/* [sip] srtp: SRTP (SDES) for the call's media. */
enum config_srtp {
	CONFIG_SRTP_OFF = 0,
	CONFIG_SRTP_OFFER = 1, /* offered; plain RTP when the phone wants it */
	CONFIG_SRTP_REQUIRE =
	    2, /* RTP/SAVP only; a plain answer ends the call */
};

enum config_presence_mode {
	CONFIG_PRESENCE_OFF = 0,
	CONFIG_PRESENCE_PUBLISH = 1,
	CONFIG_PRESENCE_AGENT = 2,
};

struct config {
	char *path; /* the file loaded, or NULL for the embedded defaults */

	struct {
		char *host; /* XMPP server to connect to, default 127.0.0.1 */
		int port;   /* component port, default 5347 */
		char
		    *domain; /* the component's JID, default callgw.localhost */
		char *secret;      /* never logged */
		char *secret_file; /* read into secret at load, if set */
		struct config_list user_domains; /* default "localhost" */
	} xmpp;

	struct {
		char *url; /* "sqlite:PATH" or "postgresql://...",
		              default sqlite:ringbridge.db */
		/* PostgreSQL's password when the URL has none; "" for
		 * none (libpq's PGPASSFILE then) */
		char *password_file;
	} queue;

	struct {
		char *listen; /* default sip:127.0.0.1:5080 */
		char *outbound_proxy;
		char *trunk;
		char *username;
		char *password; /* never logged */
		int rtp_port_min, rtp_port_max;
		int max_calls;
		int ring_timeout;  /* seconds */
		int attempts;      /* calls per job at most */
		int retry_backoff; /* seconds before the first retry */
		int max_call_seconds;
		int lease_seconds; /* a claimed job's lease, renewed at 1/3 */
		int realtime_priority; /* 0: normal scheduling */
		int key_timeout;       /* seconds of silence after the menu */
		int poll_interval;     /* seconds between safety-net claims */
		char *metrics_listen;  /* HOST:PORT of /metrics; empty: none */
		/* agent.pem (certificate and key) and cafile.pem for
		 * sofia's TLS transport; empty: no TLS. */
		char *tls_dir;
		enum config_srtp srtp;
	} sip;

	struct {
		/* The voicemail gate: announce sender and time only, and read
		 * the message once a key is pressed. */
		bool gate;
		/* An unpassed gate ("answered, not heard") is retried like no
		 * answer; false: the job fails at once. */
		bool gate_retry;
	} calls;

	struct {
		char *voice; /* default kal */
		int max_chars;
		int renderers; /* speech processes; 0: one per core */
	} tts;

	struct {
		enum config_rec_format format;
		int max_seconds;
		int silence_seconds;
		char *dir;
		char *base_url;
		int expire_days;
	} recordings;

	struct {
		char *listen; /* empty: no HTTP listener */
		/* The /status page's password (user admin) is this file's
		 * first line, read by the component; empty: no page. */
		char *admin_password_file;
	} http;

	struct {
		struct config_list allowed_prefixes;    /* "+1", "+44"... */
		struct config_list allowed_sip_domains; /* "pbx.example.org" */
		int calls_per_callee_per_hour;
		int calls_per_sender_per_hour;
		int coalesce_seconds;
		bool direct_dial;
		struct config_list
		    direct_dial_senders; /* bare JIDs or domains */
		bool external_senders;   /* senders outside user_domains */
		int max_body_chars;      /* longer bodies are shortened */
	} policy;

	struct {
		enum config_presence_mode mode;
		char *server;
		int debounce_ms;
		int expires; /* seconds asked for PUBLISH and SUBSCRIBE */
	} presence;

	struct {
		char *heard;
		char *key1;
		char *key2;
		char *key3;
		char *voice;
		char *failed;
		char *unheard; /* answered, but the gate was not passed */
		char *key9;    /* key 9: heard, and no more calls today */
		char *paused;  /* a message not phoned: key 9 holds today */
	} texts;

	struct {
		char *level; /* error | warn | info | debug */
	} log;
};

/*
 * Loads PATH (or only the embedded defaults when PATH is NULL) into a newly
 * allocated config the caller frees with config_free(). On error returns a
 * negative errno-style code and writes a one-line message naming the file,
 * line and key into ERR (ERRLEN bytes).
 */
int config_load(struct config **cfgp, const char *path, char *err,
                size_t errlen);
void config_free(struct config *cfg);

/* True when S is listed in L (case-insensitive, for domains). */
/* Whether [sip] listen is sips: or ;transport=tls. */
bool config_sip_tls(const struct config *c);
bool config_list_contains(const struct config_list *l, const char *s);

#endif
