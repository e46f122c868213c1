/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The phrase cache: a GLib hash table from the text to its PCM, and a byte
 * count checked on every insertion. Warming submits the missing phrases to
 * a worker and polls its descriptor until every one has come back.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "log.h"
#include "tts_cache.h"

struct cache_entry {
	int16_t *pcm;
	size_t n;
};

struct tts_cache {
	GHashTable *table; /* char * -> struct cache_entry * */
	size_t bytes, max_bytes;
};

static void cache_entry_free(gpointer p)
{
	struct cache_entry *e = p;

	free(e->pcm);
	free(e);
}

int tts_cache_new(struct tts_cache **cp, size_t max_bytes)
{
	struct tts_cache *c;

	*cp = NULL;
	if (!max_bytes)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->table = g_hash_table_new_full(g_str_hash, g_str_equal, free,
	                                 cache_entry_free);
	c->max_bytes = max_bytes;
	*cp = c;
	return 0;
}

void tts_cache_free(struct tts_cache *c)
{
	if (!c)
		return;
	g_hash_table_destroy(c->table);
	free(c);
}

int tts_cache_get(const struct tts_cache *c, const char *text,
                  const int16_t **pcmp, size_t *np)
{
	const struct cache_entry *e =
	    text ? g_hash_table_lookup(c->table, text) : NULL;

	*pcmp = NULL;
	*np = 0;
	if (!e)
		return -ENOENT;
	*pcmp = e->pcm;
	*np = e->n;
	return 0;
}

int tts_cache_put(struct tts_cache *c, const char *text, int16_t *pcm, size_t n)
{
	struct cache_entry *e;
	size_t cost;
	char *key;

	if (!text || !*text || !pcm || !n || n > TTS_PCM_MAX)
		return -EINVAL;
	if (g_hash_table_contains(c->table, text))
		return -EEXIST;
	cost = n * sizeof(*pcm) + strlen(text) + 1;
	if (cost > c->max_bytes - c->bytes)
		return -ENOSPC;
	e = malloc(sizeof(*e));
	key = strdup(text);
	if (!e || !key) {
		free(e);
		free(key);
		return -ENOMEM;
	}
	e->pcm = pcm;
	e->n = n;
	g_hash_table_insert(c->table, key, e);
	c->bytes += cost;
	return 0;
}

struct cache_warm {
	struct tts_cache *cache;
	const char *const *texts;
	size_t count, done;
	int err;
};

static void cache_warm_done(uint64_t id, int err, int16_t *pcm, size_t n,
                            void *arg)
{
	struct cache_warm *cw = arg;
	const char *text;

	if (id >= cw->count)
		return; /* not ours: cannot happen on an idle worker */
	cw->done++;
	text = cw->texts[id];
	if (!err) {
		err = tts_cache_put(cw->cache, text, pcm, n);
		if (!err)
			return;
		free(pcm);
		/* The same phrase twice in the list: the first is kept. */
		if (err == -EEXIST)
			return;
	}
	log_err("tts", "cache: cannot cache \"%s\": %s", text, strerror(-err));
	if (!cw->err)
		cw->err = err;
}

int tts_cache_warm(struct tts_cache *c, struct tts_worker *w,
                   const char *const *texts, size_t count)
{
	return tts_cache_warm_voice(c, w, 0, texts, count);
}

int tts_cache_warm_voice(struct tts_cache *c, struct tts_worker *w,
                         unsigned voice, const char *const *texts, size_t count)
{
	struct cache_warm cw = {c, texts, count, 0, 0};
	size_t next = 0, sent = 0;

	if (tts_worker_pending(w))
		return -EBUSY;
	while (cw.done < sent || next < count) {
		struct pollfd p = {.fd = tts_worker_fd(w), .events = POLLIN};

		/* Fill the worker's queue, skipping what is cached. */
		while (next < count) {
			const int16_t *pcm;
			size_t n;
			int err;

			if (!tts_cache_get(c, texts[next], &pcm, &n)) {
				next++;
				continue;
			}
			err = tts_worker_submit_voice(w, next, voice,
			                              texts[next]);
			if (err == -EBUSY)
				break;
			if (err) {
				log_err("tts",
				        "cache: cannot render \"%s\": %s",
				        texts[next], strerror(-err));
				if (!cw.err)
					cw.err = err;
				next++;
				continue;
			}
			next++;
			sent++;
		}
		if (cw.done == sent)
			continue;
		/* Each request ends within the worker's timeout, so the
		 * wait is bounded; the poll timeout only paces retries. */
		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			return -errno;
		tts_worker_collect(w, cache_warm_done, &cw);
	}
	return cw.err;
}

size_t tts_cache_count(const struct tts_cache *c)
{
	return g_hash_table_size(c->table);
}

size_t tts_cache_bytes(const struct tts_cache *c)
{
	return c->bytes;
}
