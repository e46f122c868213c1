/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The worker behind tts_worker.h: a supervisor process and up to
 * TTS_WORKER_RENDERERS_MAX long-lived renderers. The caller's process keeps
 * the queue and talks to the supervisor over a SOCK_SEQPACKET control
 * socket (a two-byte "spawn slot S" out; a status, a pid, the slot and a
 * descriptor back) and to each renderer over its own SOCK_STREAM data socket
 * carrying length-prefixed requests and replies, one request at a time per
 * renderer. Everything on the caller's side is non-blocking and gathered
 * under one epoll descriptor: control socket, data sockets, one timerfd per
 * renderer for its render deadline and an eventfd raised whenever results
 * wait.
 *
 * Wire format (one host, so native byte order): a request is struct
 * wire_req then LEN bytes of text; a reply is struct wire_reply then N
 * 16-bit samples, N being 0 when status is an error. A 10 s prompt is
 * 160 kB through the socket, about 30 us of copying against 13 ms of
 * synthesis (test/bench/README.md), so the PCM takes no shared memory.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include "clock.h"
#include "log.h"
#include "tts_worker.h"

/* How long tts_worker_free() lets the supervisor exit on its own before
 * killing it. It exits as soon as its control socket closes, in well under a
 * millisecond; the wait only matters if another fork kept a copy of it. */
#define WORKER_EXIT_WAIT_MS 2000

#define ZYGOTE_CMD_SPAWN 'S'

/* The caller's command: spawn a renderer for SLOT, replacing (killing and
 * reaping) the one the slot had. */
struct zygote_cmd {
	char op;
	uint8_t slot;
};

struct zygote_reply {
	int32_t status;    /* 0, or why no renderer was started */
	int32_t pid;       /* the renderer's, when status is 0 */
	int32_t slot;      /* the command's */
	uint32_t voice_ok; /* bit i: voice i opened in the supervisor */
};

struct wire_req {
	uint64_t id;
	uint32_t len;   /* bytes of text that follow, 1..TTS_TEXT_MAX */
	uint32_t voice; /* index into tts_worker_new_voices()'s list */
};

struct wire_reply {
	uint64_t id;
	int32_t status; /* 0 or a negative errno value */
	uint32_t n;     /* samples that follow */
};

struct tts_req {
	struct tts_req *next;
	uint64_t id;
	int err;
	int16_t *pcm;
	size_t n;
	int sends; /* renderers this request was offered to */
	size_t wire_len;
	unsigned char wire[]; /* struct wire_req, then the text */
};

struct req_list {
	struct tts_req *head, *tail;
	size_t count;
};

/* One renderer as the caller sees it. A slot without a process has
 * data -1; it is refilled by worker_kick(). */
struct renderer {
	int data;  /* to the renderer; -1 when none runs */
	int timer; /* fires at the render deadline */
	pid_t pid;
	bool out_watch;
	/* Refill this slot even with nothing queued: its renderer died or was
	 * dropped, and the supervisor reaps (or kills, if it hangs) the old
	 * process only when it starts the next one. Cleared when a spawn
	 * fails, so that a fork that keeps failing is not retried in a loop. */
	bool respawn;
	struct tts_req *inflight;
	size_t out_off;        /* bytes of inflight->wire sent */
	struct wire_reply hdr; /* the reply being read */
	size_t hdr_got;
	size_t pcm_got; /* bytes of inflight->pcm read */
	int64_t deadline_ms;
};

struct tts_worker {
	int epfd;
	int ctl;     /* to the supervisor; -1 once broken */
	int readyfd; /* eventfd: results wait in done */
	pid_t zygote;
	int zygote_pidfd;  /* -1 if the kernel has no pidfd_open() */
	int spawning;      /* the slot whose spawn awaits its reply, or -1 */
	bool broken;       /* the supervisor is gone: everything fails */
	unsigned voices;   /* voices asked for */
	uint32_t voice_ok; /* bit i: voice i loaded */
	int timeout_ms;
	unsigned count;        /* renderer slots in use */
	struct req_list queue; /* not yet sent */
	struct req_list done;  /* finished, callback not yet run */
	struct renderer r[TTS_WORKER_RENDERERS_MAX];
};

/* ---- shared helpers ---- */

static void req_list_push_front(struct req_list *l, struct tts_req *r)
{
	r->next = l->head;
	l->head = r;
	if (!l->tail)
		l->tail = r;
	l->count++;
}

static void req_list_push(struct req_list *l, struct tts_req *r)
{
	r->next = NULL;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->count++;
}

static struct tts_req *req_list_pop(struct req_list *l)
{
	struct tts_req *r = l->head;

	if (!r)
		return NULL;
	l->head = r->next;
	if (!l->head)
		l->tail = NULL;
	l->count--;
	r->next = NULL;
	return r;
}

static void req_free(struct tts_req *r)
{
	if (!r)
		return;
	free(r->pcm);
	free(r);
}

static void req_list_clear(struct req_list *l)
{
	struct tts_req *r;

	while ((r = req_list_pop(l)))
		req_free(r);
}

/* Blocking full reads and writes, for the helper processes. */
static int fd_read_full(int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int fd_write_full(int fd, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	while (len) {
		ssize_t r = send(fd, p, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/* ---- the renderer ---- */

/*
 * An engine that calls exit() (flite does, on errors it cannot longjmp out
 * of) would run the atexit handlers the caller's process registered before
 * the fork: flushing its stdio buffers a second time, LeakSanitizer's report,
 * anything that removes files. Registered last, this one runs first and ends
 * the process on the spot.
 */
static void renderer_on_exit(int status, void *arg)
{
	(void)arg;
	_exit(status);
}

/* Sends the reply to RQ: ERR, or N samples of PCM (freed here). Ends the
 * process when the socket fails or the engine's state is damaged. */
static void renderer_reply(int fd, const struct wire_req *rq, int err,
                           int16_t *pcm, size_t n)
{
	struct wire_reply rp;

	if (!err && (!pcm || !n))
		err = -ENODATA;
	else if (!err && n > TTS_PCM_MAX)
		err = -EFBIG;
	if (err) {
		free(pcm);
		pcm = NULL;
		n = 0;
	}
	memset(&rp, 0, sizeof(rp));
	rp.id = rq->id;
	rp.status = err;
	rp.n = (uint32_t)n;
	if (fd_write_full(fd, &rp, sizeof(rp)) ||
	    (n && fd_write_full(fd, pcm, n * sizeof(*pcm))))
		_exit(0);
	free(pcm);
	/* The engine says its state is damaged: let the next request go to
	 * a fresh copy of the supervisor's. */
	if (err == -ENOTRECOVERABLE)
		_exit(0);
}

/*
 * Renders RQ for an engine whose output depends on what it said before
 * (fresh_state): in a child forked for this one text, so that every
 * rendering starts from the state open() left in the supervisor and the
 * same text always gives the same samples. The child replies itself; a
 * child that dies without replying ends this renderer too, so the caller
 * sees the request fail as with any renderer crash (-EPIPE).
 */
static void renderer_fresh(int fd, const struct wire_req *rq, const char *text,
                           const struct tts_voice *voice, void *state)
{
	pid_t self = getpid(), pid = fork();
	int status = 0;

	if (pid < 0) {
		renderer_reply(fd, rq, -errno, NULL, 0);
		return;
	}
	if (pid == 0) {
		int16_t *pcm = NULL;
		size_t n = 0;
		int err;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != self)
			_exit(1);
		err = voice->engine->render(state, text, &pcm, &n);
		renderer_reply(fd, rq, err, pcm, n);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		_exit(0);
}

static void __attribute__((noreturn))
renderer_run(int fd, pid_t zygote, const struct tts_voice *voices,
             void *const *states, unsigned n_voices)
{
	prctl(PR_SET_NAME, "rb-tts-render");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != zygote)
		_exit(0);
	on_exit(renderer_on_exit, NULL);

	for (;;) {
		struct wire_req rq;
		int16_t *pcm = NULL;
		size_t n = 0;
		char *text;
		int err;

		if (fd_read_full(fd, &rq, sizeof(rq)))
			_exit(0);
		if (!rq.len || rq.len > TTS_TEXT_MAX)
			_exit(2);
		text = malloc((size_t)rq.len + 1);
		if (!text)
			_exit(3);
		if (fd_read_full(fd, text, rq.len))
			_exit(0);
		text[rq.len] = '\0';

		/* A voice that did not load is refused, not a crash: the
		 * caller checks tts_worker_voice_ready() first. */
		if (rq.voice >= n_voices || !states[rq.voice]) {
			err = -ENOENT;
		} else if (voices[rq.voice].engine->fresh_state) {
			renderer_fresh(fd, &rq, text, &voices[rq.voice],
			               states[rq.voice]);
			free(text);
			continue;
		} else {
			err = voices[rq.voice].engine->render(states[rq.voice],
			                                      text, &pcm, &n);
		}
		free(text);
		renderer_reply(fd, &rq, err, pcm, n);
	}
}

/* ---- the supervisor ---- */

static void zygote_reap(pid_t *child)
{
	if (*child <= 0)
		return;
	kill(*child, SIGKILL);
	while (waitpid(*child, NULL, 0) < 0 && errno == EINTR)
		;
	*child = 0;
}

static int zygote_spawn(int ctl, const struct tts_voice *voices,
                        void *const *states, unsigned n_voices, pid_t *childp,
                        int *fdp)
{
	pid_t self = getpid(), pid;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		/* The control socket stays with the supervisor alone, so that
		 * its end of file tells the caller the supervisor is gone. */
		close(ctl);
		close(sv[0]);
		renderer_run(sv[1], self, voices, states, n_voices);
	}
	close(sv[1]);
	*childp = pid;
	*fdp = sv[0];
	return 0;
}

static void zygote_reply_send(int ctl, const struct zygote_reply *rep, int fd)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = {.iov_base = (void *)rep, .iov_len = sizeof(*rep)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	memset(&cbuf, 0, sizeof(cbuf));
	if (fd >= 0) {
		struct cmsghdr *c;

		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(ctl, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/*
 * Makes the forked copy of the caller's process harmless before it loads the
 * engine: it dies with its parent, keeps none of the caller's descriptors
 * (listening sockets, database files, RTP ports) and none of its signal
 * handlers, which would run the caller's code here. SIGINT is ignored so
 * that Ctrl-C in a terminal leaves speech working while the bridge shuts
 * down; the supervisor ends when the bridge closes its socket or dies.
 * PR_SET_PDEATHSIG fires when the thread that forked ends, not the process,
 * which is one reason tts_worker_new() belongs on the main thread.
 */
static int zygote_setup(int ctl, pid_t parent)
{
	struct sigaction sa;
	sigset_t all;

	prctl(PR_SET_NAME, "rb-tts-super");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);

	if (ctl < 3) {
		int moved = fcntl(ctl, F_DUPFD_CLOEXEC, 3);

		if (moved < 0)
			_exit(4);
		close(ctl);
		ctl = moved;
	}
	if (ctl > 3)
		close_range(3, (unsigned)ctl - 1, 0);
	close_range((unsigned)ctl + 1, ~0U, 0);

	for (int sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) < 0)
			continue;
		if (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			sigaction(sig, &sa, NULL);
		}
	}
	/* An ignored SIGCHLD would have the kernel reap renderers behind
	 * zygote_reap()'s back, leaving it a pid that may be reused. */
	signal(SIGCHLD, SIG_DFL);
	signal(SIGINT, SIG_IGN);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	return ctl;
}

static void __attribute__((noreturn))
zygote_run(int ctl, pid_t parent, const struct tts_voice *voices,
           unsigned n_voices)
{
	pid_t child[TTS_WORKER_RENDERERS_MAX] = {0};
	void *states[TTS_WORKER_VOICES_MAX] = {0};
	uint32_t voice_ok = 0;
	int open_err = 0;

	ctl = zygote_setup(ctl, parent);
	/* Every voice is loaded here once, before any renderer is forked, so
	 * each renderer starts with all of them (engines with one library
	 * state per process, espeak-ng's, get theirs initialised here and
	 * copied). The first voice must load; another that does not is
	 * reported in voice_ok and its requests refused. */
	for (unsigned i = 0; i < n_voices; i++) {
		int err = voices[i].engine->open(&states[i], voices[i].voice);

		if (!err)
			voice_ok |= 1u << i;
		else if (i == 0)
			open_err = err;
		else
			states[i] = NULL;
	}

	for (;;) {
		struct zygote_reply rep = {0, 0, 0, voice_ok};
		struct zygote_cmd cmd;
		int fd = -1;
		ssize_t r = recv(ctl, &cmd, sizeof(cmd), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(cmd) || cmd.op != ZYGOTE_CMD_SPAWN ||
		    cmd.slot >= TTS_WORKER_RENDERERS_MAX)
			break;
		/* A new renderer replaces the slot's old one, whether it
		 * died, hangs or merely broke the protocol. */
		zygote_reap(&child[cmd.slot]);
		rep.status = open_err;
		rep.slot = cmd.slot;
		if (!open_err)
			rep.status = zygote_spawn(ctl, voices, states, n_voices,
			                          &child[cmd.slot], &fd);
		rep.pid = child[cmd.slot];
		zygote_reply_send(ctl, &rep, fd);
		if (fd >= 0)
			close(fd);
		if (open_err)
			break;
	}
	for (int i = 0; i < TTS_WORKER_RENDERERS_MAX; i++)
		zygote_reap(&child[i]);
	for (unsigned i = 0; i < n_voices; i++) {
		if (states[i])
			voices[i].engine->close(states[i]);
	}
	_exit(0);
}

/* ---- the caller's side: control socket ---- */

static void worker_ready_raise(struct tts_worker *w)
{
	uint64_t one = 1;

	if (write(w->readyfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_err("tts", "worker: eventfd: %s", strerror(errno));
}

static void worker_finish(struct tts_worker *w, struct tts_req *r, int err,
                          int16_t *pcm, size_t n)
{
	if (err) {
		free(pcm);
		pcm = NULL;
		n = 0;
	}
	r->err = err;
	r->pcm = pcm;
	r->n = n;
	req_list_push(&w->done, r);
	worker_ready_raise(w);
}

static void worker_timer_set(struct renderer *rd, int ms)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000;
	timerfd_settime(rd->timer, 0, &its, NULL);
}

/* Forgets RD's renderer: its socket closes (so it ends if it still runs)
 * and the request it had fails with ERR. The supervisor reaps it when it
 * starts the slot's next one, which worker_kick() asks for. */
static void worker_renderer_drop(struct tts_worker *w, struct renderer *rd,
                                 int err)
{
	if (rd->data >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, rd->data, NULL);
		close(rd->data);
		rd->data = -1;
		rd->respawn = true;
	}
	rd->pid = 0;
	rd->out_watch = false;
	rd->hdr_got = 0;
	rd->pcm_got = 0;
	worker_timer_set(rd, 0);
	if (rd->inflight) {
		struct tts_req *r = rd->inflight;
		int16_t *partial = r->pcm;

		rd->inflight = NULL;
		r->pcm = NULL;
		worker_finish(w, r, err, partial, 0);
	}
}

static void worker_break(struct tts_worker *w)
{
	struct tts_req *r;

	if (w->broken)
		return;
	log_err("tts", "worker: the speech supervisor process is gone; "
	               "speech fails until restart");
	w->broken = true;
	w->spawning = -1;
	for (unsigned i = 0; i < w->count; i++)
		worker_renderer_drop(w, &w->r[i], -EPIPE);
	while ((r = req_list_pop(&w->queue)))
		worker_finish(w, r, -EPIPE, NULL, 0);
	if (w->ctl >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->ctl, NULL);
		close(w->ctl);
		w->ctl = -1;
	}
}

static void worker_spawn_request(struct tts_worker *w, unsigned slot)
{
	struct zygote_cmd cmd = {ZYGOTE_CMD_SPAWN, (uint8_t)slot};

	if (w->broken || w->spawning >= 0)
		return;
	if (send(w->ctl, &cmd, sizeof(cmd), MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)sizeof(cmd)) {
		worker_break(w);
		return;
	}
	w->spawning = (int)slot;
}

/* Receives one supervisor reply: 1 when one was read, 0 when none waits,
 * negative when the supervisor is gone. */
static int worker_ctl_recv(int ctl, struct zygote_reply *rep, int *fdp,
                           bool block)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cbuf;
	struct iovec iov = {.iov_base = rep, .iov_len = sizeof(*rep)};
	struct msghdr msg = {.msg_iov = &iov,
	                     .msg_iovlen = 1,
	                     .msg_control = cbuf.buf,
	                     .msg_controllen = sizeof(cbuf.buf)};
	struct cmsghdr *c;
	ssize_t r;

	*fdp = -1;
	do {
		r = recvmsg(ctl, &msg,
		            MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
	} while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	for (c = CMSG_FIRSTHDR(&msg); r >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)) && *fdp < 0)
			memcpy(fdp, CMSG_DATA(c), sizeof(int));
	}
	if (r != (ssize_t)sizeof(*rep) || (msg.msg_flags & MSG_CTRUNC) ||
	    (!rep->status && *fdp < 0)) {
		if (*fdp >= 0)
			close(*fdp);
		*fdp = -1;
		return -EPIPE;
	}
	return 1;
}

static int worker_renderer_attach(struct tts_worker *w, struct renderer *rd,
                                  int fd, pid_t pid)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		log_err("tts", "worker: cannot watch the renderer: %s",
		        strerror(errno));
		close(fd);
		return err;
	}
	rd->data = fd;
	rd->pid = pid;
	rd->respawn = false;
	return 0;
}

static void worker_ctl_handle(struct tts_worker *w)
{
	struct zygote_reply rep;
	struct renderer *rd;
	int fd, r;

	while (!w->broken) {
		r = worker_ctl_recv(w->ctl, &rep, &fd, false);
		if (r == 0)
			return;
		if (r < 0 || w->spawning < 0 || rep.slot != w->spawning) {
			if (fd >= 0)
				close(fd);
			worker_break(w);
			return;
		}
		rd = &w->r[w->spawning];
		w->spawning = -1;
		if (rep.status) {
			struct tts_req *q = req_list_pop(&w->queue);

			/* Fail one request per failed spawn, so a fork that
			 * keeps failing drains the queue instead of spinning.
			 */
			log_err("tts", "worker: cannot start a renderer: %s",
			        strerror(-rep.status));
			rd->respawn = false;
			if (q)
				worker_finish(w, q, rep.status, NULL, 0);
			continue;
		}
		if (worker_renderer_attach(w, rd, fd, rep.pid))
			rd->respawn = false;
	}
}

/* ---- the caller's side: data sockets ---- */

static void worker_out_watch(struct tts_worker *w, struct renderer *rd, bool on)
{
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0),
	                         .data.fd = rd->data};

	if (rd->out_watch == on)
		return;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, rd->data, &ev);
	rd->out_watch = on;
}

static void worker_flush(struct tts_worker *w, struct renderer *rd)
{
	struct tts_req *r = rd->inflight;

	while (r && rd->data >= 0 && rd->out_off < r->wire_len) {
		ssize_t s = send(rd->data, r->wire + rd->out_off,
		                 r->wire_len - rd->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (s < 0 && errno == EINTR)
			continue;
		if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			worker_out_watch(w, rd, true);
			return;
		}
		if (s <= 0) {
			/*
			 * The renderer died before it had all of this request,
			 * so this text did not kill it: offer it to the next
			 * renderer, once more at most, in case renderers die
			 * for some other reason as soon as they start.
			 */
			if (r->sends < 2) {
				rd->inflight = NULL;
				req_list_push_front(&w->queue, r);
			}
			worker_renderer_drop(w, rd, -EPIPE);
			return;
		}
		rd->out_off += (size_t)s;
	}
	if (rd->data >= 0)
		worker_out_watch(w, rd, false);
}

/*
 * Hands queued requests to idle renderers, oldest first, and refills one
 * empty slot (one spawn is asked for at a time; its reply calls this
 * again): a slot whose renderer died is refilled at once, an empty one
 * whose spawn failed only when there is work.
 */
static void worker_kick(struct tts_worker *w)
{
	struct renderer *empty = NULL;

	for (unsigned i = 0; i < w->count && !w->broken; i++) {
		struct renderer *rd = &w->r[i];

		if (rd->data < 0) {
			if (!empty && (rd->respawn || w->queue.head))
				empty = rd;
			continue;
		}
		if (rd->inflight || !w->queue.head)
			continue;
		rd->inflight = req_list_pop(&w->queue);
		rd->inflight->sends++;
		rd->out_off = 0;
		rd->hdr_got = 0;
		rd->pcm_got = 0;
		rd->deadline_ms = clock_mono_ms() + w->timeout_ms;
		worker_timer_set(rd, w->timeout_ms);
		worker_flush(w, rd);
		/* A renderer found dead on sending gave its request back:
		 * look at this slot again as an empty one. */
		if (rd->data < 0)
			i--;
	}
	if (empty && !w->broken)
		worker_spawn_request(w, (unsigned)(empty - w->r));
}

static bool worker_reply_valid(const struct renderer *rd)
{
	const struct wire_reply *h = &rd->hdr;

	if (h->id != rd->inflight->id || h->status > 0)
		return false;
	if (h->status)
		return h->n == 0;
	return h->n > 0 && h->n <= TTS_PCM_MAX;
}

/* Reads what RD's renderer sent; returns once its socket would block or
 * the renderer was dropped. */
static void worker_data_handle(struct tts_worker *w, struct renderer *rd)
{
	while (rd->data >= 0) {
		struct tts_req *r = rd->inflight;
		unsigned char *dst;
		size_t want;
		ssize_t got;

		if (r && rd->out_off < r->wire_len) {
			worker_flush(w, rd);
			if (rd->data < 0 || rd->out_off < r->wire_len)
				return;
		}
		if (r && rd->hdr_got < sizeof(rd->hdr)) {
			dst = (unsigned char *)&rd->hdr + rd->hdr_got;
			want = sizeof(rd->hdr) - rd->hdr_got;
		} else if (r) {
			dst = (unsigned char *)r->pcm + rd->pcm_got;
			want =
			    (size_t)rd->hdr.n * sizeof(int16_t) - rd->pcm_got;
		} else {
			/* Between requests only an end of file is expected;
			 * read one byte to tell it from garbage. */
			dst = (unsigned char *)&rd->hdr;
			want = 1;
		}
		got = recv(rd->data, dst, want, MSG_DONTWAIT);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (got <= 0) {
			if (r)
				log_warn("tts",
				         "worker: renderer %d died while "
				         "rendering request %llu",
				         (int)rd->pid,
				         (unsigned long long)r->id);
			worker_renderer_drop(w, rd, -EPIPE);
			return;
		}
		if (!r) {
			log_err("tts", "worker: renderer sent data unasked");
			worker_renderer_drop(w, rd, -EPROTO);
			return;
		}
		if (rd->hdr_got < sizeof(rd->hdr)) {
			rd->hdr_got += (size_t)got;
			if (rd->hdr_got < sizeof(rd->hdr))
				continue;
			if (!worker_reply_valid(rd)) {
				log_err("tts",
				        "worker: malformed reply for "
				        "request %llu",
				        (unsigned long long)r->id);
				worker_renderer_drop(w, rd, -EPROTO);
				return;
			}
			/* Rendering is over; the transfer is not timed. */
			worker_timer_set(rd, 0);
			if (rd->hdr.n) {
				r->pcm =
				    malloc((size_t)rd->hdr.n * sizeof(int16_t));
				if (!r->pcm) {
					worker_renderer_drop(w, rd, -ENOMEM);
					return;
				}
				continue;
			}
		} else {
			rd->pcm_got += (size_t)got;
			if (rd->pcm_got < (size_t)rd->hdr.n * sizeof(int16_t))
				continue;
		}
		rd->inflight = NULL;
		worker_finish(w, r, rd->hdr.status, r->pcm, rd->hdr.n);
		/* The renderer exits after this reply; sending it the next
		 * request would race with that exit and fail an innocent
		 * text. */
		if (rd->hdr.status == -ENOTRECOVERABLE)
			worker_renderer_drop(w, rd, 0);
		worker_kick(w);
	}
}

static void worker_timer_handle(struct tts_worker *w, struct renderer *rd)
{
	uint64_t expirations;

	while (read(rd->timer, &expirations, sizeof(expirations)) > 0)
		;
	if (!rd->inflight || rd->hdr_got >= sizeof(rd->hdr) ||
	    clock_mono_ms() < rd->deadline_ms)
		return;
	log_warn(
	    "tts", "worker: request %llu took over %d ms; killing renderer %d",
	    (unsigned long long)rd->inflight->id, w->timeout_ms, (int)rd->pid);
	worker_renderer_drop(w, rd, -ETIMEDOUT);
}

/* ---- the public functions ---- */

static int worker_watch(struct tts_worker *w, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* One online core, one renderer: synthesis is all CPU, so more would only
 * queue on the same cores (and the bridge's loop wants a share too). */
static unsigned worker_renderers_default(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < 1)
		return 1;
	if (cores > TTS_WORKER_RENDERERS_MAX)
		return TTS_WORKER_RENDERERS_MAX;
	return (unsigned)cores;
}

/* Start-up waits for each renderer in turn: for the voice to load (the
 * first reply also reports an unknown voice) and for the fork. */
static int worker_renderers_start(struct tts_worker *w)
{
	for (unsigned i = 0; i < w->count; i++) {
		struct zygote_cmd cmd = {ZYGOTE_CMD_SPAWN, (uint8_t)i};
		struct zygote_reply rep;
		int fd = -1, err;

		if (send(w->ctl, &cmd, sizeof(cmd), MSG_NOSIGNAL) !=
		        (ssize_t)sizeof(cmd) ||
		    worker_ctl_recv(w->ctl, &rep, &fd, true) != 1 ||
		    rep.slot != (int32_t)i) {
			if (fd >= 0)
				close(fd);
			log_err("tts",
			        "worker: the speech supervisor did not start");
			return -EPIPE;
		}
		if (rep.status) {
			if (rep.status != -EINVAL)
				log_err("tts",
				        "worker: cannot start a renderer: %s",
				        strerror(-rep.status));
			return rep.status;
		}
		w->voice_ok = rep.voice_ok;
		err = worker_renderer_attach(w, &w->r[i], fd, rep.pid);
		if (err)
			return err;
	}
	return 0;
}

int tts_worker_new(struct tts_worker **wp, const struct tts_engine *engine,
                   const char *voice, unsigned renderers)
{
	struct tts_voice v = {engine, voice};

	return tts_worker_new_voices(wp, &v, 1, renderers);
}

int tts_worker_new_voices(struct tts_worker **wp,
                          const struct tts_voice *voices, unsigned n_voices,
                          unsigned renderers)
{
	struct tts_worker *w;
	int sv[2] = {-1, -1}, err = 0;
	pid_t parent = getpid();

	*wp = NULL;
	if (!voices || !n_voices || n_voices > TTS_WORKER_VOICES_MAX ||
	    renderers > TTS_WORKER_RENDERERS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < n_voices; i++) {
		const struct tts_engine *e = voices[i].engine;

		if (!e || !e->open || !e->render || !e->close)
			return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->epfd = w->ctl = w->readyfd = -1;
	w->zygote_pidfd = -1;
	w->spawning = -1;
	w->timeout_ms = TTS_WORKER_TIMEOUT_MS;
	w->voices = n_voices;
	w->count = renderers ? renderers : worker_renderers_default();
	for (unsigned i = 0; i < TTS_WORKER_RENDERERS_MAX; i++)
		w->r[i].data = w->r[i].timer = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		log_err("tts", "worker: socketpair: %s", strerror(errno));
		goto out;
	}
	/* Output still buffered here would be written again by the copy. */
	fflush(NULL);
	w->zygote = fork();
	if (w->zygote < 0) {
		err = -errno;
		log_err("tts", "worker: fork: %s", strerror(errno));
		goto out;
	}
	if (w->zygote == 0) {
		/* The supervisor never returns here: the parent's handle is
		 * not its to keep. */
		free(w);
		close(sv[0]);
		zygote_run(sv[1], parent, voices, n_voices);
	}
	close(sv[1]);
	sv[1] = -1;
	w->ctl = sv[0];
	sv[0] = -1;
	w->zygote_pidfd = pidfd_open(w->zygote, 0);

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->readyfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->readyfd < 0) {
		err = -errno;
		log_err("tts", "worker: %s", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < w->count && !err; i++) {
		w->r[i].timer =
		    timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		err =
		    w->r[i].timer < 0 ? -errno : worker_watch(w, w->r[i].timer);
	}
	if (!err)
		err = worker_watch(w, w->readyfd);
	if (err) {
		log_err("tts", "worker: %s", strerror(-err));
		goto out;
	}
	/* The one place that waits. */
	err = worker_renderers_start(w);
	if (err)
		goto out;
	if (fcntl(w->ctl, F_SETFL, O_NONBLOCK) < 0) {
		err = -errno;
		goto out;
	}
	err = worker_watch(w, w->ctl);
	if (err)
		goto out;
	*wp = w;
	w = NULL;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	tts_worker_free(w);
	return err;
}

static void worker_zygote_wait(struct tts_worker *w)
{
	if (w->zygote <= 0)
		return;
	/* The supervisor leaves when its control socket closes; give it the
	 * time to kill and reap its renderers, then insist. The pidfd makes
	 * the kill safe against a reused pid. */
	if (w->zygote_pidfd >= 0) {
		struct pollfd p = {.fd = w->zygote_pidfd, .events = POLLIN};

		if (poll(&p, 1, WORKER_EXIT_WAIT_MS) == 0) {
			log_warn("tts",
			         "worker: supervisor %d lingers; "
			         "killing it",
			         (int)w->zygote);
			pidfd_send_signal(w->zygote_pidfd, SIGKILL, NULL, 0);
		}
	}
	while (waitpid(w->zygote, NULL, 0) < 0 && errno == EINTR)
		;
	w->zygote = 0;
}

void tts_worker_free(struct tts_worker *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i < TTS_WORKER_RENDERERS_MAX; i++)
		if (w->r[i].data >= 0)
			close(w->r[i].data);
	if (w->ctl >= 0)
		close(w->ctl);
	worker_zygote_wait(w);
	if (w->zygote_pidfd >= 0)
		close(w->zygote_pidfd);
	for (unsigned i = 0; i < TTS_WORKER_RENDERERS_MAX; i++) {
		if (w->r[i].timer >= 0)
			close(w->r[i].timer);
		req_free(w->r[i].inflight);
	}
	if (w->readyfd >= 0)
		close(w->readyfd);
	if (w->epfd >= 0)
		close(w->epfd);
	req_list_clear(&w->queue);
	req_list_clear(&w->done);
	free(w);
}

int tts_worker_fd(const struct tts_worker *w)
{
	return w->epfd;
}

static size_t worker_inflight(const struct tts_worker *w)
{
	size_t n = 0;

	for (unsigned i = 0; i < w->count; i++)
		n += w->r[i].inflight ? 1 : 0;
	return n;
}

int tts_worker_submit(struct tts_worker *w, uint64_t id, const char *text)
{
	return tts_worker_submit_voice(w, id, 0, text);
}

bool tts_worker_voice_ready(const struct tts_worker *w, unsigned voice)
{
	return voice < w->voices && (w->voice_ok & (1u << voice));
}

int tts_worker_submit_voice(struct tts_worker *w, uint64_t id, unsigned voice,
                            const char *text)
{
	struct wire_req hdr;
	struct tts_req *r;
	size_t len = text ? strlen(text) : 0;

	if (!len)
		return -EINVAL;
	if (len > TTS_TEXT_MAX)
		return -EMSGSIZE;
	if (!tts_worker_voice_ready(w, voice))
		return -ENOENT;
	if (w->broken)
		return -EPIPE;
	if (w->queue.count + worker_inflight(w) >= TTS_WORKER_QUEUE_MAX)
		return -EBUSY;
	r = calloc(1, sizeof(*r) + sizeof(hdr) + len);
	if (!r)
		return -ENOMEM;
	memset(&hdr, 0, sizeof(hdr));
	hdr.id = id;
	hdr.len = (uint32_t)len;
	hdr.voice = voice;
	r->id = id;
	r->wire_len = sizeof(hdr) + len;
	memcpy(r->wire, &hdr, sizeof(hdr));
	memcpy(r->wire + sizeof(hdr), text, len);
	req_list_push(&w->queue, r);
	worker_kick(w);
	return 0;
}

int tts_worker_collect(struct tts_worker *w, tts_worker_done_fn *cb, void *arg)
{
	struct req_list done;
	struct tts_req *r;
	uint64_t count;
	int calls = 0;

	/* Data first: a reply already in a socket counts even if its
	 * renderer or the supervisor has died since, or the deadline passed
	 * while nobody collected. */
	for (unsigned i = 0; i < w->count; i++)
		worker_data_handle(w, &w->r[i]);
	if (!w->broken)
		worker_ctl_handle(w);
	for (unsigned i = 0; i < w->count; i++)
		worker_timer_handle(w, &w->r[i]);
	worker_kick(w);

	/* Take the finished list first: callbacks may submit, and a failure
	 * inside that submit lands in a fresh list and raises the eventfd
	 * again for the next collect. */
	if (read(w->readyfd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_err("tts", "worker: eventfd: %s", strerror(errno));
	done = w->done;
	memset(&w->done, 0, sizeof(w->done));
	while ((r = req_list_pop(&done))) {
		int16_t *pcm = r->pcm;

		r->pcm = NULL;
		cb(r->id, r->err, pcm, r->n, arg);
		req_free(r);
		calls++;
	}
	return calls;
}

size_t tts_worker_pending(const struct tts_worker *w)
{
	return w->queue.count + worker_inflight(w) + w->done.count;
}

void tts_worker_timeout_set(struct tts_worker *w, int timeout_ms)
{
	if (timeout_ms > 0)
		w->timeout_ms = timeout_ms;
}

unsigned tts_worker_renderers(const struct tts_worker *w)
{
	return w->count;
}

pid_t tts_worker_renderer_pid(const struct tts_worker *w, unsigned slot)
{
	return slot < w->count ? w->r[slot].pid : 0;
}
