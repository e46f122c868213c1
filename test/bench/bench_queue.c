/*
 * How many caught messages the queue commits durably per second, one per
 * commit and in group commits of 10 and 100, on a fresh SQLite file in the
 * directory given (default: the current one). Prints numbers; asserts
 * nothing. Usage: bench_queue [DIR] [MESSAGES]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *dir, int total, int batch)
{
	char path[4096], url[4200], callee[64], key[64];
	struct queue *q;
	struct queue_enqueue_limits lim = {0};
	double t0, t1;
	int err;

	snprintf(path, sizeof(path), "%s/bench-queue-%d-%d.db", dir,
	         (int)getpid(), batch);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	err = queue_open(&q, url);
	if (err) {
		fprintf(stderr, "queue_open %s: %s\n", url, strerror(-err));
		return 1;
	}
	t0 = now_s();
	for (int i = 0; i < total; i += batch) {
		if (batch > 1 && (err = queue_batch_begin(q)))
			break;
		for (int j = i; j < i + batch && j < total; j++) {
			struct queue_message_in m = {
			    .callee_jid = callee,
			    .sender_jid = "alice@localhost",
			    .sender_name = "Alice",
			    .reply_from = callee,
			    .body = "Are we still on for lunch at noon? "
			            "Call me if anything changed.",
			    .received_ms = 0,
			    .idem_key = key,
			    .destination = "+15551234567",
			};
			enum queue_enqueue_result r;
			int64_t id;

			/* A callee per message: every enqueue makes a job. */
			snprintf(callee, sizeof(callee), "user%d@localhost", j);
			snprintf(key, sizeof(key), "bench:%d", j);
			err = queue_message_enqueue(q, &m, &lim, &id, &r);
			if (err)
				break;
		}
		if (err)
			break;
		if (batch > 1 && (err = queue_batch_commit(q)))
			break;
	}
	t1 = now_s();
	queue_close(q);
	for (int k = 0; k < 3; k++) {
		static const char *const sfx[] = {"", "-wal", "-shm"};
		char p2[4200];

		snprintf(p2, sizeof(p2), "%s%s", path, sfx[k]);
		unlink(p2);
	}
	if (err) {
		fprintf(stderr, "enqueue failed: %s\n", strerror(-err));
		return 1;
	}
	printf("%-28s %8d messages %10.0f messages/s %8.3f ms/commit\n",
	       batch == 1    ? "one per commit:"
	       : batch == 10 ? "group commit of 10:"
	                     : "group commit of 100:",
	       total, total / (t1 - t0),
	       (t1 - t0) * 1000.0 / ((total + batch - 1) / batch));
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int n = argc > 2 ? atoi(argv[2]) : 5000;

	if (n <= 0) {
		fprintf(stderr, "usage: bench_queue [DIR] [MESSAGES]\n");
		return 2;
	}
	printf("SQLite queue, WAL, synchronous=FULL, in %s\n", dir);
	return run(dir, n, 1) || run(dir, n * 4, 10) || run(dir, n * 10, 100);
}
