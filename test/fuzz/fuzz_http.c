/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The component's HTTP request handling (component/http.c, statuspage.c,
 * common/metrics_http.c): the input is the raw bytes a client sends. The
 * listener is the daemon's own (http_server_new, libmicrohttpd's thread)
 * with /metrics, /status (password "fuzz<pw>", a SQLite queue holding one
 * registration) and one published recording in that queue, FILE_NAME
 * (schema 011, as http_server_publish stores one); each input is
 * sent, followed by an empty line, on a new loopback connection from a
 * new 127.x.y.z address (so the login limit of statuspage.c does not
 * answer every input after the fifth). Loopback, not a socketpair handed
 * over with MHD_add_connection: Debian's libmicrohttpd 0.9.75 never polls
 * a connection added that way to a daemon running its own epoll thread,
 * as http.c's does. Checked beyond "no crash, leak, hang": whatever comes
 * back is an HTTP/1.x response, never one that carries the password (it
 * holds a "<", which the page escapes even where it echoes the search),
 * and the listener still answers after an input it left unanswered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "fuzz_config.h"
#include "http.h"
#include "log.h"
#include "monitor.h"
#include "queue.h"
#include "statuspage.h"

#define PASSWORD  "fuzz<pw>"
#define FILE_NAME "0123456789abcdef0123456789abcdef.oga"
#define REC_BYTES "OggS fuzz recording bytes"
/* More than any answer: the page for one registration is a few kB. */
#define REPLY_MAX (256 * 1024)

static struct config *cfg;
static struct http_server *server;
static struct comp_monitor *monitor;
static struct statuspage *page;
static char dir[64];
static char *reply;
static uint32_t clients;
static int port;

static void http_file_write(const char *name, const char *text, mode_t mode)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static void http_cleanup(void)
{
	http_server_status_serve(server, NULL);
	http_server_free(server);
	statuspage_free(page);
	comp_monitor_free(monitor);
	config_free(cfg);
	free(reply);
	fuzz_dir_remove(dir);
}

/* A loopback port free a moment ago: [http] listen wants a real one, and
 * the listener must bind although every request arrives on a socketpair. */
static int http_port_free(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		abort();
	close(fd);
	return ntohs(a.sin_port);
}

static void http_setup(void)
{
	struct queue_registration r = {
	    .jid = "bob@example.org",
	    .phone = "+15551234567",
	    .verified = true,
	    .quiet_start = -1,
	    .push_node = "bobnode",
	    .gate = QUEUE_GATE_DEFAULT,
	};
	char text[768];
	struct queue *q;

	/* A reply cut short by a bug must fail the read, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* Each input logs what the daemon would: only errors, or the fuzzer
	 * spends its time writing to stderr (RB_FUZZ_LOG=1 to read it all
	 * when replaying one input). */
	if (!getenv("RB_FUZZ_LOG"))
		log_level_set(LOG_LEVEL_ERROR);
	strcpy(dir, "/tmp/rb-fuzz-http-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	http_file_write("password", PASSWORD "\n", 0600);
	snprintf(text, sizeof(text),
	         "[xmpp]\ndomain = callgw.example.org\n"
	         "user_domains = example.org\n"
	         "[queue]\nurl = sqlite:%s/queue.db\n"
	         "[http]\nlisten = 127.0.0.1:%d\n"
	         "admin_password_file = %s/password\n"
	         "[recordings]\nbase_url = https://example.org/voice/\n",
	         dir, port = http_port_free(), dir);
	fuzz_config_once(&cfg, text);
	if (queue_open(&q, cfg->queue.url))
		abort();
	if (queue_registration_put(q, &r) ||
	    queue_audio_put(q, FILE_NAME, "audio/ogg", REC_BYTES,
	                    strlen(REC_BYTES), 7 * 86400 * 1000LL))
		abort();
	queue_close(q);
	reply = malloc(REPLY_MAX + 1);
	if (!reply || http_server_new(&server, cfg) ||
	    comp_monitor_new(&monitor, cfg) || statuspage_new(&page, cfg))
		abort();
	http_server_metrics_serve(server, comp_monitor_registry(monitor));
	http_server_status_serve(server, page);
	atexit(http_cleanup);
}

/* After connect() failed on FD: 0 if it only was interrupted (libFuzzer's
 * SIGALRM, each second, has no SA_RESTART; seen on a loaded machine) and
 * the connection has come up since, else -1 with errno set. */
static int connect_finish(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	socklen_t len = sizeof(int);
	int err;

	if (errno != EINTR)
		return -1;
	while (poll(&p, 1, -1) < 0)
		if (errno != EINTR)
			return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -1;
	errno = err;
	return err ? -1 : 0;
}

/* A connection to the listener from 127.0.0.0/8 address ADDR. */
static int http_connect(uint32_t addr)
{
	struct sockaddr_in from = {.sin_family = AF_INET};
	struct sockaddr_in to = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	from.sin_addr.s_addr = htonl(addr);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	to.sin_port = htons((uint16_t)port);
	if (fd < 0 || bind(fd, (struct sockaddr *)&from, sizeof(from)) ||
	    (connect(fd, (struct sockaddr *)&to, sizeof(to)) &&
	     connect_finish(fd))) {
		fprintf(stderr, "fuzz_http: connecting from %08x: %s\n", addr,
		        strerror(errno));
		abort();
	}
	return fd;
}

static void http_send(int fd, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break; /* the listener closed early: a refusal */
		off += (size_t)w;
	}
	shutdown(fd, SHUT_WR);
}

/* Reads the listener's answer until it closes the connection, or until
 * it has said nothing for QUIET_MS (then *STALLED). */
static size_t http_reply_read(int fd, int quiet_ms, bool *stalled)
{
	size_t n = 0;

	*stalled = false;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got;
		int ready;

		/* libFuzzer's own timer (SIGALRM, each second) interrupts. */
		ready = poll(&p, 1, quiet_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready == 0) {
			*stalled = true;
			break;
		}
		if (ready != 1)
			abort();
		got = read(fd, reply + n, REPLY_MAX - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n == REPLY_MAX)
			abort();
	}
	reply[n] = 0;
	return n;
}

/* Closes with a reset, which the listener notices at once. */
static void http_reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * After an input the listener did not finish answering: it must still
 * answer a plain request. libmicrohttpd 0.9.75 sometimes misses the
 * client's half-close (an edge-triggered read that took the last bytes
 * before the FIN came) and waits for more of a request, or for the next
 * one on a kept-alive connection, until its 30 s connection timeout:
 * waiting is no finding, a listener that no longer answers (a handler
 * stuck on its thread) is, and the fuzzer's -timeout reports it here.
 */
static void http_alive_check(void)
{
	static const char probe[] = "GET /metrics HTTP/1.0\r\n\r\n";
	int fd = http_connect(0x7ffffffeu); /* 127.255.255.254 */
	bool stalled;
	size_t n;

	http_send(fd, probe, sizeof(probe) - 1);
	n = http_reply_read(fd, 60000, &stalled);
	close(fd);
	if (stalled || n < 12 || strncmp(reply + 8, " 200", 4)) {
		fprintf(stderr,
		        "fuzz_http: the listener no longer answers "
		        "(%s, %zu bytes: %.40s)\n",
		        stalled ? "silent" : "closed", n, reply);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool stalled;
	size_t n;
	char *buf;
	int fd;

	if (!server)
		http_setup();
	/* 127.x.y.z, a new one for each input (never 127.0.0.1 itself, nor
	 * the probe's 127.255.255.254). */
	fd = http_connect(0x7f000000u | (1u + ++clients % 0xfffffdu));
	/* An end of headers after every input, so that most of them are
	 * complete requests and answered at once; any byte sequence can
	 * still come before it. */
	buf = malloc(size + 4);
	if (!buf)
		abort();
	memcpy(buf, data, size);
	memcpy(buf + size, "\r\n\r\n", 4);
	http_send(fd, buf, size + 4);
	free(buf);
	/* Loopback answers take a few milliseconds. A reply slower than
	 * 25 ms (a loaded machine) only sends this input down the stalled
	 * path. Waiting 250 ms, the listener's rare missed half-close
	 * (http_alive_check) took most of the harness's time: 374 inputs/s
	 * on 11% of a core, against 2,500 inputs/s on 35% at 25 ms. */
	n = http_reply_read(fd, 25, &stalled);
	if (n && strncmp(reply, "HTTP/1.", 7)) {
		fprintf(stderr, "fuzz_http: not an HTTP answer: %.40s\n",
		        reply);
		abort();
	}
	if (n && memmem(reply, n, PASSWORD, strlen(PASSWORD))) {
		fprintf(stderr, "fuzz_http: the answer carries the password\n");
		abort();
	}
	if (stalled) {
		http_reset(fd);
		http_alive_check();
	} else {
		close(fd);
	}
	return 0;
}
