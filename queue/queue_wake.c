/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Wake-ups between processes for back ends that have no notification of
 * their own (SQLite): a directory "<dbpath>.wake/" (mode 0700) beside the
 * database, where each listening handle binds a non-blocking AF_UNIX
 * datagram socket named "<mask-hex>-<pid>-<random>.sock". A notifier lists
 * the directory and sends a 4-byte channel mask to every socket whose mask
 * shares a channel, never blocking: a full receive queue (EAGAIN) means the
 * listener is already awake, and a socket nobody holds any more
 * (ECONNREFUSED) is a crashed listener's leftover, unlinked on the spot.
 * Costs one readdir and one sendto per listener, which is fine for the few
 * processes that share a queue; a lost wake-up is covered by the
 * listener's safety-net poll.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "queue_internal.h"

#define TAG "queue"

int queue_wakedir_init(struct queue_wakedir *w, const char *dbpath)
{
	memset(w, 0, sizeof(*w));
	w->listen_fd = -1;
	w->send_fd = -1;
	if (asprintf(&w->dir, "%s.wake", dbpath) < 0) {
		w->dir = NULL;
		return -ENOMEM;
	}
	return 0;
}

void queue_wakedir_close(struct queue_wakedir *w)
{
	if (w->sock_name && w->dir) {
		char *path;

		if (asprintf(&path, "%s/%s", w->dir, w->sock_name) >= 0) {
			unlink(path);
			free(path);
		}
	}
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	if (w->send_fd >= 0)
		close(w->send_fd);
	free(w->sock_name);
	free(w->dir);
	memset(w, 0, sizeof(*w));
	w->listen_fd = -1;
	w->send_fd = -1;
}

/*
 * The address of socket NAME in the directory. sun_path holds 108 bytes;
 * when the database's path is longer, go through the directory's open
 * descriptor DFD instead (/proc/self/fd/N/NAME), which Linux resolves.
 */
static int addr_of(const struct queue_wakedir *w, int dfd, const char *name,
                   struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", w->dir, name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
		if (dfd < 0)
			return -ENAMETOOLONG;
		n = snprintf(sa->sun_path, sizeof(sa->sun_path),
		             "/proc/self/fd/%d/%s", dfd, name);
		if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
			return -ENAMETOOLONG;
	}
	*len =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
	return 0;
}

/* Creates the directory (0700) unless it is there; refuses anything but a
 * directory of our own (a symlink planted there, for one). */
static int dir_ensure(const struct queue_wakedir *w)
{
	struct stat st;

	if (!mkdir(w->dir, 0700))
		return 0;
	if (errno != EEXIST) {
		log_err(TAG, "%s: %s", w->dir, strerror(errno));
		return -errno;
	}
	if (lstat(w->dir, &st) < 0) {
		log_err(TAG, "%s: %s", w->dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err(TAG, "%s: not a directory", w->dir);
		return -ENOTDIR;
	}
	/* Another user's directory could swallow or forge our wake-ups. */
	if (st.st_uid != geteuid()) {
		log_err(TAG, "%s: owned by another user", w->dir);
		return -EPERM;
	}
	return 0;
}

static uint32_t random32(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	return (uint32_t)clock_mono_ns() ^ ((uint32_t)getpid() << 16);
}

static char *sock_name_new(unsigned mask)
{
	char *name;

	if (asprintf(&name, "%x-%ld-%08x.sock", mask, (long)getpid(),
	             random32()) < 0)
		return NULL;
	return name;
}

/* Gives our socket a name with a wider mask; the descriptor stays. */
static int listen_widen(struct queue_wakedir *w, unsigned mask)
{
	char *name = sock_name_new(mask);
	int dfd, err = 0;

	if (!name)
		return -ENOMEM;
	dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || renameat(dfd, w->sock_name, dfd, name) < 0) {
		err = -errno;
		log_err(TAG, "%s: renaming %s: %s", w->dir, w->sock_name,
		        strerror(errno));
		free(name);
	} else {
		free(w->sock_name);
		w->sock_name = name;
		w->mask = mask;
	}
	if (dfd >= 0)
		close(dfd);
	return err;
}

int queue_wakedir_listen(struct queue_wakedir *w, unsigned mask, int *fd)
{
	struct sockaddr_un sa;
	socklen_t len;
	char *name = NULL;
	int s = -1, dfd = -1, err, tries;

	if (w->listen_fd >= 0) {
		if (mask & ~w->mask) {
			err = listen_widen(w, w->mask | mask);
			if (err)
				return err;
		}
		*fd = w->listen_fd;
		return 0;
	}
	err = dir_ensure(w);
	if (err)
		return err;
	dfd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		err = -errno;
		log_err(TAG, "%s: %s", w->dir, strerror(errno));
		goto out;
	}
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		err = -errno;
		log_err(TAG, "wake-up socket: %s", strerror(errno));
		goto out;
	}
	for (tries = 0; tries < 8; tries++) {
		free(name);
		name = sock_name_new(mask);
		if (!name) {
			err = -ENOMEM;
			goto out;
		}
		err = addr_of(w, dfd, name, &sa, &len);
		if (err) {
			log_err(TAG, "%s: path too long for a socket", w->dir);
			goto out;
		}
		if (!bind(s, (struct sockaddr *)&sa, len)) {
			err = 0;
			break;
		}
		err = -errno;
		if (errno != EADDRINUSE)
			break;
	}
	if (err) {
		log_err(TAG, "%s: binding a wake-up socket: %s", w->dir,
		        strerror(-err));
		goto out;
	}
	w->listen_fd = s;
	w->sock_name = name;
	w->mask = mask;
	s = -1;
	name = NULL;
	*fd = w->listen_fd;
out:
	if (s >= 0)
		close(s);
	if (dfd >= 0)
		close(dfd);
	free(name);
	return err;
}

int queue_wakedir_drain(struct queue_wakedir *w, unsigned *channels)
{
	unsigned char buf[16];
	uint32_t m;
	ssize_t n;

	*channels = 0;
	if (w->listen_fd < 0)
		return 0;
	for (;;) {
		n = recv(w->listen_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			log_err(TAG, "reading wake-ups: %s", strerror(errno));
			return -EIO;
		}
		if (n >= (ssize_t)sizeof(m)) {
			memcpy(&m, buf, sizeof(m));
		} else if (n > 0) {
			m = buf[0];
		} else {
			/* An empty datagram: wake for anything. */
			m = w->mask;
		}
		*channels |= m & w->mask;
	}
}

/* Parses "<mask-hex>-....sock"; false for anything else in the directory. */
static bool parse_name(const char *name, unsigned *mask)
{
	size_t len = strlen(name);
	unsigned long v;
	char *end;

	if (len < 6 || strcmp(name + len - 5, ".sock"))
		return false;
	errno = 0;
	v = strtoul(name, &end, 16);
	if (errno || end == name || *end != '-' || v > UINT32_MAX)
		return false;
	*mask = (unsigned)v;
	return true;
}

int queue_wakedir_notify(struct queue_wakedir *w, unsigned channels)
{
	struct sockaddr_un sa;
	struct dirent *de;
	socklen_t len;
	unsigned mask;
	uint32_t m;
	DIR *d;
	int dfd;

	d = opendir(w->dir);
	if (!d) {
		/* Nobody has ever listened: nobody to tell. */
		if (errno == ENOENT)
			return 0;
		log_warn(TAG, "%s: %s", w->dir, strerror(errno));
		return -errno;
	}
	dfd = dirfd(d);
	if (w->send_fd < 0) {
		w->send_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (w->send_fd < 0) {
			int err = -errno;

			log_warn(TAG, "wake-up socket: %s", strerror(errno));
			closedir(d);
			return err;
		}
	}
	while ((de = readdir(d)) != NULL) {
		if (!parse_name(de->d_name, &mask) || !(mask & channels))
			continue;
		/* Our own writes need no wake-up. */
		if (w->sock_name && !strcmp(de->d_name, w->sock_name))
			continue;
		if (addr_of(w, dfd, de->d_name, &sa, &len))
			continue;
		m = channels & mask;
		if (sendto(w->send_fd, &m, sizeof(m),
		           MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
		           len) >= 0)
			continue;
		if (errno == ECONNREFUSED || errno == ENOENT) {
			/* A listener that died without queue_close(). */
			unlinkat(dfd, de->d_name, 0);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			log_debug(TAG, "waking %s: %s", de->d_name,
			          strerror(errno));
		}
	}
	closedir(d);
	return 0;
}
