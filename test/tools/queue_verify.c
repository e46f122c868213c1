/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * For the integration tests: queues a verification call (a job of kind
 * verify, as the component queues when a user registers a phone) and wakes
 * the bridges, then prints "job ID". Usage: sip_queue_verify QUEUE_URL JID
 * DESTINATION CODE.
 */
#include <stdio.h>
#include <string.h>

#include "queue.h"

int main(int argc, char **argv)
{
	struct queue *q = NULL;
	int64_t id = 0;
	int err;

	if (argc != 5) {
		fprintf(stderr, "usage: sip_queue_verify QUEUE_URL JID "
		                "DESTINATION CODE\n");
		return 2;
	}
	err = queue_open(&q, argv[1]);
	if (!err)
		err = queue_verify_enqueue(q, argv[2], argv[3], argv[4], NULL,
		                           &id);
	if (!err)
		err = queue_notify(q, QUEUE_CH_JOBS);
	queue_close(q);
	if (err) {
		fprintf(stderr, "sip_queue_verify: %s\n", strerror(-err));
		return 1;
	}
	printf("job %lld\n", (long long)id);
	return 0;
}
