/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * String helpers more than one folder needs. Static inline: each is a few
 * lines, and a header keeps common/ free of a file per helper.
 */
#ifndef RB_STR_H
#define RB_STR_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* strdup() of S, passing NULL through; records -ENOMEM in *ERR when the
 * copy fails (then returns NULL), so a run of copies is checked once. The
 * caller frees the result. */
static inline char *str_dup_or_null(const char *s, int *err)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*err = -ENOMEM;
	return d;
}

#endif
