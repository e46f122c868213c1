/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * listen_resolve() of listen.h: the port must be numeric (AI_NUMERICSERV),
 * so nothing in the key is looked up in /etc/services, and the host goes to
 * getaddrinfo() with AI_PASSIVE, as bind() wants it.
 */
#include <errno.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>

#include "listen.h"

int listen_resolve(const char *listen, char *host, size_t hostlen,
                   struct addrinfo **ai, const char **why)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	const char *colon = listen ? strrchr(listen, ':') : NULL;
	const char *h = listen;
	size_t n;
	int gai;

	*ai = NULL;
	if (why)
		*why = "not HOST:PORT";
	if (!colon || !colon[1])
		return -EINVAL;
	n = (size_t)(colon - listen);
	if (listen[0] == '[') {
		if (n < 2 || listen[n - 1] != ']')
			return -EINVAL;
		h++;
		n -= 2;
	}
	if (n == 0 || n >= hostlen)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	gai = getaddrinfo(host, colon + 1, &hints, ai);
	if (gai) {
		*ai = NULL;
		if (why)
			*why = gai_strerror(gai);
		return -EADDRNOTAVAIL;
	}
	return 0;
}
