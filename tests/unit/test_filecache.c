/*
 * filecache: hits, revalidation after the bound, replaced and rewritten
 * files, deletion, eviction (its descriptors closed), the entry and
 * descriptor bounds, entries detached while in use, and the cache off.
 * A real temporary tree as the document root; the clock is the test's.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filecache.h"

#define VALID 1000
#define BIG (FILECACHE_MEM_FILE + 1)

static char base[] = "/tmp/wsd-filecache.XXXXXX";
static int rootfd = -1;

/* name's path in the tree (valid until the next call). */
static const char *path_of(const char *name)
{
	static char p[256];

	ck_assert_int_lt(snprintf(p, sizeof(p), "%s/%s", base, name), (int)sizeof(p));
	return p;
}

static void put(const char *name, const char *content, size_t len)
{
	FILE *f;

	ck_assert_ptr_nonnull(f = fopen(path_of(name), "w"));
	ck_assert_uint_eq(fwrite(content, 1, len, f), len);
	fclose(f);
}

static void put_str(const char *name, const char *s) { put(name, s, strlen(s)); }

static void put_big(const char *name, char c)
{
	static char buf[BIG];

	memset(buf, c, sizeof(buf));
	put(name, buf, sizeof(buf));
}

/* Rename a new file over name: a new inode. */
static void replace(const char *name, const char *s)
{
	char from[256], to[256];

	put_str("tmp.new", s);
	snprintf(from, sizeof(from), "%s/tmp.new", base);
	snprintf(to, sizeof(to), "%s/%s", base, name);
	ck_assert_int_eq(rename(from, to), 0);
}

static void setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_ne(rootfd = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC), -1);
	put_str("small.txt", "AAAA");
	put_big("big.bin", 'b');
	put_big("big2.bin", 'c');
	put_big("big3.bin", 'd');
	ck_assert_int_eq(mkdir(path_of("dir"), 0755), 0);
	put_str("dir/index.html", "<p>index</p>");
	ck_assert_int_eq(symlink("/etc/passwd", path_of("out")), 0);
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(p);
}

static void teardown(void)
{
	close(rootfd);
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	strcpy(base, "/tmp/wsd-filecache.XXXXXX");
}

static int fd_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

static void must_open(struct filecache *fc, const char *path, uint64_t now, struct fc_file *f)
{
	int status = 0;

	ck_assert_msg(
	    filecache_open(fc, rootfd, path, now, f, &status) == 0, "%s: %d", path, status);
}

/* Open path and release it at once: the entry (if any) stays in the cache. */
static void visit(struct filecache *fc, const char *path, uint64_t now)
{
	struct fc_file f;

	must_open(fc, path, now, &f);
	filecache_release(fc, &f);
}

/* Opening path fails with this HTTP status. */
static void must_fail(struct filecache *fc, const char *path, uint64_t now, int status)
{
	struct fc_file f;
	int got = 0;

	ck_assert_int_eq(filecache_open(fc, rootfd, path, now, &f, &got), -1);
	ck_assert_int_eq(got, status);
}

/* path opens (at now) as content, held in memory. */
static void expect_data(struct filecache *fc, const char *path, uint64_t now, const char *content)
{
	size_t len = strlen(content);
	struct fc_file f;

	must_open(fc, path, now, &f);
	ck_assert_int_eq(f.st->st_size, (off_t)len);
	ck_assert_ptr_nonnull(f.data);
	ck_assert_mem_eq(f.data, content, len);
	filecache_release(fc, &f);
}

static struct filecache_stats stats_of(struct filecache *fc)
{
	struct filecache_stats s;

	filecache_stats(fc, &s);
	return s;
}

START_TEST(test_hit_from_memory)
{
	struct filecache *fc = filecache_new(16, 16, VALID);
	struct filecache_stats s;
	struct fc_file f, g;

	must_open(fc, "small.txt", 5000, &f);
	ck_assert_ptr_nonnull(f.e);
	ck_assert_ptr_nonnull(f.data);
	ck_assert_int_eq(f.fd, -1); /* in memory: no descriptor kept */
	ck_assert_mem_eq(f.data, "AAAA", 4);
	ck_assert_int_eq(f.st->st_size, 4);
	ck_assert_str_ne(f.v->etag, "");
	must_open(fc, "small.txt", 5000 + VALID - 1, &g);
	ck_assert_ptr_eq(g.e, f.e);
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.hits, 1);
	ck_assert_uint_eq(s.misses, 1);
	ck_assert_uint_eq(s.entries, 1);
	ck_assert_uint_eq(s.fds, 0);
	ck_assert_uint_eq(s.mem, 4);
	filecache_release(fc, &f);
	filecache_release(fc, &g);
	filecache_free(fc);
}
END_TEST

/* Within the bound nothing is asked of the disk: a deleted file is still served. */
START_TEST(test_deleted_within_then_after_bound)
{
	struct filecache *fc = filecache_new(16, 16, VALID);

	visit(fc, "small.txt", 0);
	ck_assert_int_eq(unlink(path_of("small.txt")), 0);
	visit(fc, "small.txt", VALID - 1);
	must_fail(fc, "small.txt", VALID, 404);
	ck_assert_uint_eq(stats_of(fc).entries, 0);
	filecache_free(fc);
}
END_TEST

START_TEST(test_revalidated_same_file)
{
	struct filecache *fc = filecache_new(16, 16, VALID);
	struct filecache_stats s;
	struct fc_file f, g;

	must_open(fc, "big.bin", 0, &f);
	must_open(fc, "big.bin", VALID, &g);
	ck_assert_ptr_eq(g.e, f.e); /* checked again, and kept */
	ck_assert_int_eq(g.fd, f.fd);
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.revalidated, 1);
	ck_assert_uint_eq(s.fds, 1);
	filecache_release(fc, &f);
	filecache_release(fc, &g);
	filecache_free(fc);
}
END_TEST

START_TEST(test_replaced_by_rename)
{
	struct filecache *fc = filecache_new(16, 16, VALID);

	visit(fc, "small.txt", 0);
	replace("small.txt", "BBBBBB");
	expect_data(fc, "small.txt", 10, "AAAA"); /* within the bound: the old one */
	expect_data(fc, "small.txt", 10 + VALID, "BBBBBB");
	ck_assert_uint_eq(stats_of(fc).replaced, 1);
	ck_assert_uint_eq(stats_of(fc).mem, 6);
	filecache_free(fc);
}
END_TEST

/* The same inode written again with another size. */
START_TEST(test_rewritten_in_place)
{
	struct filecache *fc = filecache_new(16, 16, VALID);

	visit(fc, "small.txt", 0);
	put_str("small.txt", "CCCCCCCCC");
	expect_data(fc, "small.txt", VALID, "CCCCCCCCC");
	filecache_free(fc);
}
END_TEST

/* A small file grows past the memory bound: served by descriptor from then on. */
START_TEST(test_grows_past_memory)
{
	struct filecache *fc = filecache_new(16, 16, VALID);
	struct fc_file f;

	visit(fc, "small.txt", 0);
	put_big("small.txt", 'z');
	must_open(fc, "small.txt", VALID, &f);
	ck_assert_ptr_null(f.data);
	ck_assert_int_ge(f.fd, 0);
	ck_assert_int_eq(f.st->st_size, BIG);
	filecache_release(fc, &f);
	filecache_free(fc);
}
END_TEST

START_TEST(test_eviction_closes_fds)
{
	struct filecache *fc = filecache_new(2, 16, VALID);
	struct filecache_stats s;
	struct fc_file f;
	int first, third;

	must_open(fc, "big.bin", 0, &f);
	first = f.fd;
	filecache_release(fc, &f);
	visit(fc, "big2.bin", 1);
	ck_assert(fd_open(first));
	must_open(fc, "big3.bin", 2, &f); /* the least recently used goes: closed */
	third = f.fd;
	filecache_release(fc, &f);
	ck_assert(!fd_open(first));
	ck_assert(fd_open(third)); /* still cached */
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.entries, 2);
	ck_assert_uint_eq(s.fds, 2);
	ck_assert_uint_eq(s.evicted, 1);
	filecache_free(fc);
}
END_TEST

/* Many paths through a small cache: never more entries than its bound. */
START_TEST(test_entry_bound)
{
	struct filecache *fc = filecache_new(3, 16, VALID);
	const char *names[] = {
	    "small.txt", "big.bin", "big2.bin", "big3.bin", "dir", "dir/index.html"};

	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			visit(fc, names[i], (uint64_t)round);
			ck_assert_uint_le(stats_of(fc).entries, 3);
		}
	filecache_free(fc);
}
END_TEST

/* The descriptor bound: an entry in use is not closed; the new file goes uncached. */
START_TEST(test_fd_bound)
{
	struct filecache *fc = filecache_new(16, 1, VALID);
	struct filecache_stats s;
	struct fc_file f, g, h;

	must_open(fc, "big.bin", 0, &f);
	must_open(fc, "big2.bin", 0, &g);
	ck_assert_ptr_null(g.e); /* no room: the caller's own */
	ck_assert(fd_open(f.fd));
	filecache_release(fc, &g);
	filecache_release(fc, &f);
	must_open(fc, "big2.bin", 1, &h); /* f is free now: it makes room */
	ck_assert_ptr_nonnull(h.e);
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.fds, 1);
	filecache_release(fc, &h);
	/* small files need no descriptor: cached even with none to spare */
	must_open(fc, "small.txt", 1, &h);
	ck_assert_ptr_nonnull(h.e);
	filecache_release(fc, &h);
	filecache_free(fc);
}
END_TEST

START_TEST(test_flush_keeps_in_use)
{
	struct filecache *fc = filecache_new(16, 16, VALID);
	struct filecache_stats s;
	struct fc_file f, g;
	int fd;

	must_open(fc, "big.bin", 0, &f);
	must_open(fc, "small.txt", 0, &g);
	fd = f.fd;
	filecache_flush(fc); /* a new root */
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert(fd_open(fd));
	ck_assert_mem_eq(g.data, "AAAA", 4);
	filecache_release(fc, &f);
	filecache_release(fc, &g);
	ck_assert(!fd_open(fd));
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.fds, 0);
	ck_assert_uint_eq(s.mem, 0);
	filecache_free(fc);
}
END_TEST

START_TEST(test_failures_not_cached)
{
	struct filecache *fc = filecache_new(16, 16, VALID);

	must_fail(fc, "missing", 0, 404);
	must_fail(fc, "out", 0, 403); /* a symlink out of the root */
	ck_assert_uint_eq(stats_of(fc).entries, 0);
	put_str("missing", "now");
	visit(fc, "missing", 1);
	filecache_free(fc);
}
END_TEST

/* A file replaced by a symlink out of the root: refused at the next check. */
START_TEST(test_replaced_by_escaping_symlink)
{
	struct filecache *fc = filecache_new(16, 16, VALID);

	visit(fc, "small.txt", 0);
	ck_assert_int_eq(unlink(path_of("small.txt")), 0);
	ck_assert_int_eq(symlink("/etc/passwd", path_of("small.txt")), 0);
	must_fail(fc, "small.txt", VALID, 403);
	filecache_free(fc);
}
END_TEST

START_TEST(test_directory_index)
{
	struct filecache *fc = filecache_new(16, 16, VALID);
	struct fc_file f;

	must_open(fc, "dir", 0, &f);
	ck_assert_int_eq(f.isdir, 1);
	ck_assert_mem_eq(f.data, "<p>index</p>", 12);
	filecache_release(fc, &f);
	must_open(fc, "dir", 1, &f);
	ck_assert_int_eq(f.isdir, 1);
	filecache_release(fc, &f);
	filecache_free(fc);
}
END_TEST

START_TEST(test_off)
{
	struct filecache *fc = filecache_new(16, 16, 0);
	struct filecache_stats s;
	struct fc_file f;
	int fd;

	must_open(fc, "small.txt", 0, &f);
	ck_assert_ptr_null(f.e);
	ck_assert_ptr_null(f.data);
	ck_assert_int_ge(fd = f.fd, 0);
	ck_assert_int_eq(f.st->st_size, 4);
	filecache_release(fc, &f);
	ck_assert(!fd_open(fd));
	filecache_stats(fc, &s);
	ck_assert_uint_eq(s.entries, 0);
	ck_assert_int_eq(filecache_configure(fc, 4, 4, VALID), 0);
	must_open(fc, "small.txt", 0, &f);
	ck_assert_ptr_nonnull(f.e);
	filecache_release(fc, &f);
	filecache_free(fc);
}
END_TEST

static Suite *filecache_suite(void)
{
	Suite *s = suite_create("filecache");
	TCase *tc = tcase_create("cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hit_from_memory);
	tcase_add_test(tc, test_deleted_within_then_after_bound);
	tcase_add_test(tc, test_revalidated_same_file);
	tcase_add_test(tc, test_replaced_by_rename);
	tcase_add_test(tc, test_rewritten_in_place);
	tcase_add_test(tc, test_grows_past_memory);
	tcase_add_test(tc, test_eviction_closes_fds);
	tcase_add_test(tc, test_entry_bound);
	tcase_add_test(tc, test_fd_bound);
	tcase_add_test(tc, test_flush_keeps_in_use);
	tcase_add_test(tc, test_failures_not_cached);
	tcase_add_test(tc, test_replaced_by_escaping_symlink);
	tcase_add_test(tc, test_directory_index);
	tcase_add_test(tc, test_off);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filecache_suite());

	return check_run(sr, CK_NORMAL);
}
