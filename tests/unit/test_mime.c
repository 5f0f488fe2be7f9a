/* mime: parsing a mime.types file, the built-in table, and lookups. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mime.h"

#define OCTET "application/octet-stream"
#define UTF8 "; charset=utf-8"

static char path[32];

static const char sample[] =
    "# a comment line\n"
    "\n"
    "   \t \n"
    "text/html\t\thtml htm\n"
    "application/javascript js\n"
    "image/png PNG\n" /* keys are lowercased */
    "application/x-foo foo  # trailing comment bar\n"
    "text/plain\n" /* a type without extensions */
    "nonsense-without-slash bad\n"
    "/leading bad2\n"
    "trailing/ bad3\n"
    "a/b/c bad4\n"
    "application/json json\r\n" /* CRLF line */
    "image/svg+xml svg\n"
    "application/xml xml\n"
    "application/wasm wasm\n"
    "text/x-first dup\n"
    "text/x-second dup other\n"   /* first definition wins */
    "application/x-dots a.b .c\n" /* not usable as extensions */
    "application/x-long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa short\n"
    "application/x-nonl last"; /* no final newline */

static void write_file(const char *content)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL || fputs(content, fp) == EOF || fclose(fp) != 0) {
		perror(path);
		exit(2);
	}
}

static void setup(void)
{
	int fd;

	strcpy(path, "/tmp/wsd-mime.XXXXXX");
	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	close(fd);
}

static void teardown(void)
{
	unlink(path);
	mime_free();
}

START_TEST(test_file)
{
	write_file(sample);
	/* html htm js png foo json svg xml wasm dup other short last */
	ck_assert_int_eq(mime_init(path), 13);
	ck_assert_str_eq(mime_lookup("index.html"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("a.htm"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("app.js"), "application/javascript" UTF8);
	ck_assert_str_eq(mime_lookup("data.json"), "application/json" UTF8);
	ck_assert_str_eq(mime_lookup("pic.svg"), "image/svg+xml" UTF8);
	ck_assert_str_eq(mime_lookup("feed.xml"), "application/xml" UTF8);
	ck_assert_str_eq(mime_lookup("m.wasm"), "application/wasm");
	ck_assert_str_eq(mime_lookup("x.png"), "image/png");
	ck_assert_str_eq(mime_lookup("x.foo"), "application/x-foo");
	ck_assert_str_eq(mime_lookup("x.bar"), OCTET); /* after '#' */
	ck_assert_str_eq(mime_lookup("x.dup"), "text/x-first" UTF8);
	ck_assert_str_eq(mime_lookup("x.other"), "text/x-second" UTF8);
	ck_assert_str_eq(mime_lookup("x.short"), "application/x-long");
	ck_assert_str_eq(mime_lookup("x.last"), "application/x-nonl");
	/* rejected lines and words */
	ck_assert_str_eq(mime_lookup("x.bad"), OCTET);
	ck_assert_str_eq(mime_lookup("x.bad2"), OCTET);
	ck_assert_str_eq(mime_lookup("x.bad3"), OCTET);
	ck_assert_str_eq(mime_lookup("x.bad4"), OCTET);
	ck_assert_str_eq(mime_lookup("x.c"), OCTET);
	ck_assert_str_eq(mime_lookup("x.b"), OCTET);
	/* a file replaces the built-in table, it does not add to it */
	ck_assert_str_eq(mime_lookup("x.css"), OCTET);
}
END_TEST

START_TEST(test_case)
{
	write_file(sample);
	ck_assert_int_gt(mime_init(path), 0);
	ck_assert_str_eq(mime_lookup("INDEX.HTML"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("a.HtM"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("x.png"), "image/png");
	ck_assert_str_eq(mime_lookup("x.PnG"), "image/png");
}
END_TEST

START_TEST(test_names)
{
	ck_assert_int_gt(mime_init(NULL), 0);
	ck_assert_str_eq(mime_lookup(""), OCTET);
	ck_assert_str_eq(mime_lookup("/"), OCTET);
	ck_assert_str_eq(mime_lookup("README"), OCTET);
	ck_assert_str_eq(mime_lookup("file."), OCTET);
	ck_assert_str_eq(mime_lookup("."), OCTET);
	ck_assert_str_eq(mime_lookup(".."), OCTET);
	ck_assert_str_eq(mime_lookup(".html"), OCTET); /* a dotfile, not an extension */
	ck_assert_str_eq(mime_lookup("..html"), OCTET);
	ck_assert_str_eq(mime_lookup("dir/.css"), OCTET);
	ck_assert_str_eq(mime_lookup(".hidden.css"), "text/css" UTF8);
	ck_assert_str_eq(mime_lookup("a.b/c"), OCTET); /* dots in directories */
	ck_assert_str_eq(mime_lookup("/a.b/c"), OCTET);
	ck_assert_str_eq(mime_lookup("/a.html/c"), OCTET);
	ck_assert_str_eq(mime_lookup("/a.b/c.png"), "image/png");
	ck_assert_str_eq(mime_lookup("a/b/c.d/index.html"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("a.tar.gz"), "application/gzip");
	ck_assert_str_eq(mime_lookup("x.html.bak"), OCTET);
	ck_assert_str_eq(mime_lookup("x.unknownext"), OCTET);
	ck_assert_str_eq(mime_lookup("x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), OCTET);
	ck_assert_str_eq(mime_lookup("x.ht ml"), OCTET);
	ck_assert_str_eq(mime_lookup("x.\xc3\xa9"), OCTET);
}
END_TEST

START_TEST(test_builtin)
{
	static const struct {
		const char *name, *type;
	} c[] = {
	    {"a.html", "text/html" UTF8},
	    {"a.css", "text/css" UTF8},
	    {"a.js", "text/javascript" UTF8},
	    {"a.mjs", "text/javascript" UTF8},
	    {"a.json", "application/json" UTF8},
	    {"a.txt", "text/plain" UTF8},
	    {"a.xml", "application/xml" UTF8},
	    {"a.svg", "image/svg+xml" UTF8},
	    {"a.md", "text/markdown" UTF8},
	    {"a.csv", "text/csv" UTF8},
	    {"a.png", "image/png"},
	    {"a.JPG", "image/jpeg"},
	    {"a.jpeg", "image/jpeg"},
	    {"a.gif", "image/gif"},
	    {"a.webp", "image/webp"},
	    {"a.avif", "image/avif"},
	    {"a.ico", "image/vnd.microsoft.icon"},
	    {"a.pdf", "application/pdf"},
	    {"a.wasm", "application/wasm"},
	    {"a.woff", "font/woff"},
	    {"a.woff2", "font/woff2"},
	    {"a.ttf", "font/ttf"},
	    {"a.otf", "font/otf"},
	    {"a.mp4", "video/mp4"},
	    {"a.webm", "video/webm"},
	    {"a.mp3", "audio/mpeg"},
	    {"a.ogg", "audio/ogg"},
	    {"a.wav", "audio/wav"},
	    {"a.zip", "application/zip"},
	    {"a.gz", "application/gzip"},
	    {"a.tar", "application/x-tar"},
	};

	/* a missing file, no file, and a file with no usable line */
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 0)
			ck_assert_int_gt(mime_init("/nonexistent/mime.types"), 30);
		else if (pass == 1)
			ck_assert_int_gt(mime_init(NULL), 30);
		else {
			write_file("# nothing\nbogus\n");
			ck_assert_int_gt(mime_init(path), 30);
		}
		for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++)
			ck_assert_str_eq(mime_lookup(c[k].name), c[k].type);
	}
}
END_TEST

START_TEST(test_reinit)
{
	const char *p1, *p2;

	write_file("text/x-one one\n");
	ck_assert_int_eq(mime_init(path), 1);
	p1 = mime_lookup("a.one");
	p2 = mime_lookup("b.ONE");
	ck_assert_ptr_eq(p1, p2); /* stable, stored once */
	ck_assert_str_eq(p1, "text/x-one" UTF8);
	write_file("text/x-two two\n");
	ck_assert_int_eq(mime_init(path), 1);
	ck_assert_str_eq(mime_lookup("a.one"), OCTET);
	ck_assert_str_eq(mime_lookup("a.two"), "text/x-two" UTF8);
	ck_assert_int_gt(mime_init(NULL), 0);
	ck_assert_str_eq(mime_lookup("a.two"), OCTET);
	mime_free();
	mime_free(); /* twice is harmless */
	/* after free, a lookup falls back on the built-in table */
	ck_assert_str_eq(mime_lookup("a.css"), "text/css" UTF8);
}
END_TEST

/* Enough entries to make the table grow several times; long lines too. */
START_TEST(test_many)
{
	FILE *fp = fopen(path, "w");
	char name[32], want[64];
	int k;

	ck_assert_ptr_nonnull(fp);
	for (k = 0; k < 5000; k++)
		fprintf(fp, "application/x-t%d e%d f%d\n", k, k, k);
	fprintf(fp, "application/x-wide");
	for (k = 0; k < 2000; k++)
		fprintf(fp, " w%d", k);
	fprintf(fp, "\n");
	fclose(fp);
	ck_assert_int_eq(mime_init(path), 12000);
	for (k = 0; k < 5000; k++) {
		snprintf(name, sizeof(name), "x.E%d", k);
		snprintf(want, sizeof(want), "application/x-t%d", k);
		ck_assert_str_eq(mime_lookup(name), want);
		snprintf(name, sizeof(name), "x.f%d", k);
		ck_assert_str_eq(mime_lookup(name), want);
	}
	ck_assert_str_eq(mime_lookup("x.w1999"), "application/x-wide");
	ck_assert_str_eq(mime_lookup("x.e5000"), OCTET);
}
END_TEST

/* The system's own file, when there is one. */
START_TEST(test_system)
{
	if (access("/etc/mime.types", R_OK) != 0)
		return;
	ck_assert_int_gt(mime_init("/etc/mime.types"), 100);
	ck_assert_str_eq(mime_lookup("index.html"), "text/html" UTF8);
	ck_assert_str_eq(mime_lookup("x.png"), "image/png");
	ck_assert_str_eq(mime_lookup("README"), OCTET);
}
END_TEST

static Suite *mime_suite(void)
{
	Suite *s = suite_create("mime");
	TCase *tc = tcase_create("mime");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_case);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_builtin);
	tcase_add_test(tc, test_reinit);
	tcase_add_test(tc, test_many);
	tcase_add_test(tc, test_system);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mime_suite());

	return check_run(sr, CK_NORMAL);
}
