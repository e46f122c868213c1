/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The shape of the table catalog_gen writes from po/LANG.po (the generated
 * i18n_catalog.c in the build tree), read only by i18n.c. Each catalog's
 * entries are sorted by msgid in strcmp() order, for bsearch().
 */
#ifndef RB_I18N_CATALOG_H
#define RB_I18N_CATALOG_H

#include <stddef.h>

struct i18n_entry {
	const char *msgid;
	const char *msgstr;
};

struct i18n_catalog {
	const char *lang; /* the .po file's name: "de" for po/de.po */
	const struct i18n_entry *entries;
	size_t n;
};

extern const struct i18n_catalog i18n_catalogs[];
extern const size_t i18n_catalog_count;

#endif
