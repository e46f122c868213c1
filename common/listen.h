/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The HOST:PORT of a listening socket ([http] listen, [sip] metrics_listen)
 * resolved for bind(), shared by the component's HTTP listener and the
 * bridge's /metrics listener so that both read the key the same way.
 */
#ifndef RB_LISTEN_H
#define RB_LISTEN_H

#include <stddef.h>

struct addrinfo;

/*
 * Splits LISTEN ("HOST:PORT" or "[V6]:PORT") into HOST (brackets removed,
 * HOSTLEN bytes) and resolves it numerically-serviced for a passive TCP
 * socket into *AI, which the caller frees with freeaddrinfo(). Returns 0,
 * -EINVAL when LISTEN is not HOST:PORT, or -EADDRNOTAVAIL when it does not
 * resolve (*WHY, when not NULL, gets getaddrinfo's reason).
 */
int listen_resolve(const char *listen, char *host, size_t hostlen,
                   struct addrinfo **ai, const char **why);

#endif
