/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Build-time generator: reads the translators' catalogs (po/LANG.po) with
 * GNU gettext's own PO parser, libgettextpo, and writes the C table that
 * i18n.c looks texts up in (i18n_catalog.h). It refuses what would go wrong
 * on a phone rather than in a review: a file that is not UTF-8, a
 * translation whose {placeholders} differ from its message id's, plural
 * forms and contexts (the bridge uses neither), invalid UTF-8, and whatever
 * gettext's own checks (those of msgfmt --check) find. Fuzzy and empty
 * translations are left out, so the English text is spoken instead.
 *
 * Usage: catalog_gen OUT.c FILE.po...
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gettext-po.h>

struct entry {
	const char *msgid, *msgstr;
};

static int gen_errors;
static const char *gen_file;

static void gen_xerror(int severity, po_message_t message, const char *filename,
                       size_t lineno, size_t column, int multiline_p,
                       const char *message_text)
{
	(void)message;
	(void)column;
	(void)multiline_p;
	fprintf(stderr, "%s:%zu: %s: %s\n", filename ? filename : gen_file,
	        lineno == (size_t)-1 ? 0 : lineno,
	        severity == PO_SEVERITY_WARNING ? "warning" : "error",
	        message_text);
	if (severity != PO_SEVERITY_WARNING)
		gen_errors++;
	if (severity == PO_SEVERITY_FATAL_ERROR)
		exit(1);
}

static void gen_xerror2(int severity, po_message_t message1,
                        const char *filename1, size_t lineno1, size_t column1,
                        int multiline_p1, const char *message_text1,
                        po_message_t message2, const char *filename2,
                        size_t lineno2, size_t column2, int multiline_p2,
                        const char *message_text2)
{
	gen_xerror(
	    severity == PO_SEVERITY_FATAL_ERROR ? PO_SEVERITY_ERROR : severity,
	    message1, filename1, lineno1, column1, multiline_p1, message_text1);
	gen_xerror(severity, message2, filename2, lineno2, column2,
	           multiline_p2, message_text2);
}

static const struct po_xerror_handler gen_handler = {gen_xerror, gen_xerror2};

static void gen_fail(const char *msgid, const char *why)
{
	fprintf(stderr, "%s: error: msgid \"%s\": %s\n", gen_file, msgid, why);
	gen_errors++;
}

static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		size_t len;
		uint32_t c;

		if (*s < 0x80) {
			s++;
			continue;
		}
		if (*s >= 0xc2 && *s <= 0xdf) {
			len = 2;
			c = *s & 0x1f;
		} else if (*s >= 0xe0 && *s <= 0xef) {
			len = 3;
			c = *s & 0x0f;
		} else if (*s >= 0xf0 && *s <= 0xf4) {
			len = 4;
			c = *s & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = (c << 6) | (s[i] & 0x3f);
		}
		if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		s += len;
	}
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The placeholders of S, "{name}" each, sorted and joined by spaces into
 * OUT; "{{" is a literal brace. Returns false when one is unterminated. */
static bool placeholders(const char *s, char *out, size_t outlen)
{
	char found[16][64];
	size_t n = 0, o = 0;

	for (; *s; s++) {
		const char *end;

		if (*s != '{')
			continue;
		if (s[1] == '{') {
			s++;
			continue;
		}
		end = strchr(s, '}');
		if (!end || (size_t)(end - s) >= sizeof(found[0]) || n == 16)
			return false;
		memcpy(found[n], s + 1, (size_t)(end - s - 1));
		found[n][end - s - 1] = '\0';
		n++;
		s = end;
	}
	qsort(found, n, sizeof(found[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(found[i]);

		if (o + l + 2 > outlen)
			return false;
		memcpy(out + o, found[i], l);
		o += l;
		out[o++] = ' ';
	}
	out[o] = '\0';
	return true;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->msgid,
	              ((const struct entry *)b)->msgid);
}

static void c_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\%03o", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

/* The language of PATH: its file name without ".po". */
static int lang_of(const char *path, char *out, size_t outlen)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len < 4 || strcmp(base + len - 3, ".po") || len - 3 >= outlen)
		return -EINVAL;
	memcpy(out, base, len - 3);
	out[len - 3] = '\0';
	for (char *p = out; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return -EINVAL;
	}
	return 0;
}

static int catalog_write(FILE *f, const char *path, size_t index)
{
	po_file_t file;
	po_message_iterator_t it;
	po_message_t m;
	const char *header;
	char *charset = NULL;
	struct entry *entries = NULL;
	size_t n = 0, cap = 0;
	char lang[16];

	gen_file = path;
	if (lang_of(path, lang, sizeof(lang))) {
		fprintf(stderr, "%s: error: not named LANG.po\n", path);
		return -EINVAL;
	}
	file = po_file_read(path, &gen_handler);
	if (!file)
		return -EIO;
	po_file_check_all(file, &gen_handler);
	header = po_file_domain_header(file, NULL);
	if (header)
		charset = po_header_field(header, "Content-Type");
	if (!charset || !strstr(charset, "charset=UTF-8")) {
		fprintf(stderr,
		        "%s: error: Content-Type must say charset=UTF-8\n",
		        path);
		gen_errors++;
	}
	free(charset);

	it = po_message_iterator(file, NULL);
	while ((m = po_next_message(it))) {
		const char *id = po_message_msgid(m);
		const char *str = po_message_msgstr(m);
		char want[1024], got[1024];

		if (!*id || po_message_is_obsolete(m))
			continue; /* the header, or a retired text */
		if (po_message_msgctxt(m) || po_message_msgid_plural(m)) {
			gen_fail(id, "contexts and plural forms are not used");
			continue;
		}
		if (!*str || po_message_is_fuzzy(m))
			continue; /* untranslated: English is spoken */
		if (!utf8_valid(id) || !utf8_valid(str)) {
			gen_fail(id, "not valid UTF-8");
			continue;
		}
		if (!placeholders(id, want, sizeof(want)) ||
		    !placeholders(str, got, sizeof(got)) || strcmp(want, got)) {
			gen_fail(id, "the translation's {placeholders} differ "
			             "from the message id's");
			continue;
		}
		if (n == cap) {
			struct entry *e;

			cap = cap ? cap * 2 : 32;
			e = realloc(entries, cap * sizeof(*e));
			if (!e) {
				fprintf(stderr, "catalog_gen: out of memory\n");
				exit(1);
			}
			entries = e;
		}
		entries[n].msgid = id;
		entries[n].msgstr = str;
		n++;
	}
	qsort(entries, n, sizeof(*entries), entry_cmp);
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(entries[i - 1].msgid, entries[i].msgid))
			gen_fail(entries[i].msgid, "translated twice");
	}

	fprintf(f, "\n/* %s: %zu translations */\n", lang, n);
	fprintf(f, "static const struct i18n_entry catalog_%zu[] = {\n", index);
	for (size_t i = 0; i < n; i++) {
		fputs("    {", f);
		c_string(f, entries[i].msgid);
		fputs(",\n     ", f);
		c_string(f, entries[i].msgstr);
		fputs("},\n", f);
	}
	if (!n)
		fputs("    {\"\", \"\"},\n", f);
	fputs("};\n", f);
	fprintf(f, "#define CATALOG_%zu {\"%s\", catalog_%zu, %zu}\n", index,
	        lang, index, n);

	po_message_iterator_free(it);
	free(entries);
	po_file_free(file);
	return 0;
}

int main(int argc, char **argv)
{
	FILE *f;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: catalog_gen OUT.c FILE.po...\n");
		return 2;
	}
	f = fopen(argv[1], "w");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	fputs("/* Generated by i18n/catalog_gen from po/LANG.po: do not edit. "
	      "*/\n"
	      "#include \"i18n_catalog.h\"\n",
	      f);
	for (i = 2; i < argc; i++) {
		if (catalog_write(f, argv[i], (size_t)(i - 2)))
			gen_errors++;
	}
	fputs("\nconst struct i18n_catalog i18n_catalogs[] = {\n", f);
	for (i = 2; i < argc; i++)
		fprintf(f, "    CATALOG_%d,\n", i - 2);
	if (argc == 2)
		fputs("    {\"\", 0, 0},\n", f);
	fprintf(f, "};\n\nconst size_t i18n_catalog_count = %d;\n", argc - 2);
	if (fclose(f) || gen_errors) {
		fprintf(stderr, "catalog_gen: %d error(s); %s not written\n",
		        gen_errors, argv[1]);
		remove(argv[1]);
		return 1;
	}
	return 0;
}
