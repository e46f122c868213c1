/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The worker primitive (see worker.h). Two FIFOs under one mutex: todo,
 * filled by the loop and emptied by the thread a batch at a time, and done,
 * filled by the thread and emptied by the loop. Only list splices happen
 * under the mutex; a batch runs without it, so the loop keeps submitting
 * while the thread works. The eventfd is written when done goes from empty
 * to non-empty and read when the loop empties it, both under the mutex, so
 * it is readable exactly while completions wait and a pass that finds
 * nothing never happens.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

#define TAG "worker"

struct worker {
	struct worker_params p;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work; /* the thread waits for todo */
	pthread_cond_t idle; /* worker_drain waits for the thread */
	int efd;
	bool started;
	/* under lock */
	bool quit;
	bool running; /* a batch is out of todo but not yet in done */
	struct worker_list todo;
	struct worker_list done;
};

void worker_list_append(struct worker_list *l, struct worker_item *it)
{
	it->next = NULL;
	if (!l->tail)
		l->tail = &l->first;
	*l->tail = it;
	l->tail = &it->next;
	l->n++;
}

struct worker_item *worker_list_take(struct worker_list *l)
{
	struct worker_item *first = l->first;

	l->first = NULL;
	l->tail = NULL;
	l->n = 0;
	return first;
}

/* Appends the chain FIRST..LAST of N items to L in O(1). */
static void list_splice(struct worker_list *l, struct worker_item *first,
                        struct worker_item *last, size_t n)
{
	if (!first)
		return;
	if (!l->tail)
		l->tail = &l->first;
	*l->tail = first;
	l->tail = &last->next;
	l->n += n;
}

/* Detaches up to MAX items (0: all) from the front of L; *LASTP and *NP
 * say where the chain ends and how long it is. */
static struct worker_item *list_take_front(struct worker_list *l, size_t max,
                                           struct worker_item **lastp,
                                           size_t *np)
{
	struct worker_item *first = l->first, *last;
	size_t n = l->n;

	if (!max || max >= n) {
		last = worker_container(l->tail, struct worker_item, next);
		worker_list_take(l);
	} else {
		last = first;
		for (size_t i = 1; i < max; i++)
			last = last->next;
		l->first = last->next;
		l->n -= max;
		last->next = NULL;
		n = max;
	}
	*lastp = last;
	*np = n;
	return first;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct worker_item *batch, *last;
		size_t n;

		while (!w->todo.first && !w->quit)
			pthread_cond_wait(&w->work, &w->lock);
		if (w->quit)
			break;
		batch = list_take_front(&w->todo, w->p.batch_max, &last, &n);
		w->running = true;
		pthread_mutex_unlock(&w->lock);

		w->p.run(w->p.arg, batch);

		pthread_mutex_lock(&w->lock);
		w->running = false;
		if (!w->done.first &&
		    write(w->efd, &one, sizeof(one)) != (ssize_t)sizeof(one))
			log_err(TAG, "%s: eventfd write: %s", w->p.name,
			        strerror(errno));
		list_splice(&w->done, batch, last, n);
		pthread_cond_broadcast(&w->idle);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int worker_new(struct worker **wp, const struct worker_params *p)
{
	struct worker *w;
	int err;

	if (!p->run || !p->done)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->p = *p;
	if (!w->p.name)
		w->p.name = "worker";
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		err = -errno;
		goto out;
	}
	err = -pthread_create(&w->thread, NULL, worker_main, w);
	if (err)
		goto out;
	w->started = true;
	/* Only a name longer than the kernel's 15 bytes fails: cosmetic. */
	pthread_setname_np(w->thread, w->p.name);
	*wp = w;
	return 0;
out:
	worker_free(w);
	return err;
}

void worker_free(struct worker *w)
{
	struct worker_item *it;

	if (!w)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		worker_complete(w);
	}
	/* The thread is gone: what is left never ran, and what these
	 * completions submit joins the end of todo. */
	while ((it = w->todo.first)) {
		w->todo.first = it->next;
		if (!w->todo.first)
			w->todo.tail = NULL;
		w->todo.n--;
		w->p.done(w->p.arg, it, -ECANCELED);
	}
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	free(w);
}

void worker_submit(struct worker *w, struct worker_item *it)
{
	pthread_mutex_lock(&w->lock);
	worker_list_append(&w->todo, it);
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

void worker_submit_list(struct worker *w, struct worker_list *l)
{
	struct worker_item *last;
	size_t n = l->n;

	if (!l->first)
		return;
	last = worker_container(l->tail, struct worker_item, next);
	pthread_mutex_lock(&w->lock);
	list_splice(&w->todo, worker_list_take(l), last, n);
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->lock);
}

int worker_fd(struct worker *w)
{
	return w->efd;
}

size_t worker_complete(struct worker *w)
{
	struct worker_item *list, *next;
	uint64_t v;
	size_t n = 0;

	pthread_mutex_lock(&w->lock);
	list = worker_list_take(&w->done);
	if (list && read(w->efd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		log_err(TAG, "%s: eventfd read: %s", w->p.name,
		        strerror(errno));
	pthread_mutex_unlock(&w->lock);
	for (; list; list = next, n++) {
		next = list->next;
		w->p.done(w->p.arg, list, 0);
	}
	return n;
}

bool worker_busy(struct worker *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->todo.first || w->running;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

bool worker_idle(struct worker *w)
{
	bool idle;

	pthread_mutex_lock(&w->lock);
	idle = !w->todo.first && !w->running && !w->done.first;
	pthread_mutex_unlock(&w->lock);
	return idle;
}

void worker_drain(struct worker *w)
{
	for (;;) {
		bool empty;

		pthread_mutex_lock(&w->lock);
		while (w->todo.first || w->running)
			pthread_cond_wait(&w->idle, &w->lock);
		empty = !w->done.first;
		pthread_mutex_unlock(&w->lock);
		if (empty)
			return;
		worker_complete(w);
	}
}
