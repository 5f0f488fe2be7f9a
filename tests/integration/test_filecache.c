/*
 * The worker's open-file cache, end to end: a file replaced on disk (by
 * rename, or rewritten in place with a new size) is served fresh within
 * http.open_file_cache_valid, a deleted one becomes 404 within it, a
 * cached small file answers HEAD, ranges and conditionals right, and a
 * reload that changes the root serves the new root at once. One worker,
 * so every request meets the same cache.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <check.h>

#include "check_run.h"
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define VALID_MS 300
#define ONE_WORKER "[pool]\nmin = 1\nmax = 1\n"

static struct wsd w;

struct expect {
	const char *path;
	int status;
	const char *body; /* NULL: any */
};

/* Is r's body exactly body? */
static int body_is(const struct h_response *r, const char *body)
{
	return r->body_len == strlen(body) && memcmp(r->body, body, r->body_len) == 0;
}

/* One GET on a fresh connection: does it answer as expected? */
static int answers(void *arg)
{
	const struct expect *e = arg;
	struct h_response r;
	int ok;

	if (h_get(&w, "GET", e->path, &r) != 0)
		return 0;
	ok = r.status == e->status && (e->body == NULL || body_is(&r, e->body));
	h_response_free(&r);
	return ok;
}

static void expect_now(const char *path, int status, const char *body)
{
	struct expect e = {path, status, body};

	ck_assert_msg(answers(&e), "GET %s: not %d %s", path, status, body ? body : "");
}

/* Served as expected within the cache's bound, generously: how long it took. */
static uint64_t expect_within(const char *path, int status, const char *body)
{
	struct expect e = {path, status, body};
	uint64_t t0 = h_now_ms();

	ck_assert_msg(h_wait_until(answers, &e, VALID_MS + h_bound_ms(3000)),
	    "GET %s: not %d %s within %d ms", path, status, body ? body : "", VALID_MS);
	return h_now_ms() - t0;
}

static void start(const char *http)
{
	char extra[512];

	snprintf(extra, sizeof(extra), ONE_WORKER "[http]\n%s", http);
	h_init(&w);
	h_start(&w, extra);
}

/* Start with http.open_file_cache_valid = valid and f.txt holding body, served as such. */
static void start_with_file(const char *valid, const char *body)
{
	char http[64];

	ck_assert_int_lt(
	    snprintf(http, sizeof(http), "open_file_cache_valid = %s\n", valid), (int)sizeof(http));
	start(http);
	h_write_file(&w, "f.txt", body, strlen(body));
	expect_now("/f.txt", 200, body);
}

/* Rename a new file over rel: another inode under the same name. */
static void rename_over(const char *rel, const char *text)
{
	char from[PATH_MAX * 2], to[PATH_MAX * 2];

	h_write_file(&w, "replacement.tmp", text, strlen(text));
	snprintf(from, sizeof(from), "%s/replacement.tmp", w.root);
	snprintf(to, sizeof(to), "%s/%s", w.root, rel);
	ck_assert_int_eq(rename(from, to), 0);
}

START_TEST(test_replaced_by_rename)
{
	start_with_file("300ms", "old\n");
	rename_over("f.txt", "the new content\n");
	expect_within("/f.txt", 200, "the new content\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_rewritten_in_place)
{
	start_with_file("300ms", "old\n");
	h_write_file(&w, "f.txt", "rewritten, longer\n", 18); /* O_TRUNC: the same inode */
	expect_within("/f.txt", 200, "rewritten, longer\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_deleted_becomes_404)
{
	char path[PATH_MAX * 2];

	start_with_file("300ms", "here\n");
	snprintf(path, sizeof(path), "%s/f.txt", w.root);
	ck_assert_int_eq(unlink(path), 0);
	expect_within("/f.txt", 404, NULL);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * The cache is there: with a long bound, a file renamed over stays the old
 * one (an uncached server would serve the new one at once).
 */
START_TEST(test_cached_within_bound)
{
	start_with_file("1h", "old\n");
	rename_over("f.txt", "new\n");
	expect_now("/f.txt", 200, "old\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_off_serves_fresh)
{
	start_with_file("0s", "old\n");
	rename_over("f.txt", "new\n");
	expect_now("/f.txt", 200, "new\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static void request(int fd, const char *req, struct h_response *r, int head)
{
	ck_assert_int_eq(h_send(fd, req), 0);
	ck_assert_int_eq(h_read_response(fd, r, head), 0);
}

/* One request on fd answered with status and (unless NULL) exactly body. */
static void ask(int fd, const char *req, int head, int status, const char *body)
{
	struct h_response r;

	request(fd, req, &r, head);
	ck_assert_int_eq(r.status, status);
	if (body != NULL)
		ck_assert_msg(body_is(&r, body), "%s: not the body %s", req, body);
	h_response_free(&r);
}

/* HEAD, a range, an unsatisfiable one, a conditional: from memory, on one connection. */
START_TEST(test_small_file_answers)
{
	struct h_response r;
	char etag[128], req[512];
	int fd;

	start("open_file_cache_valid = 1h\n");
	h_write_file(&w, "s.txt", "0123456789", 10);
	fd = h_connect(&w);
	for (int i = 0; i < 2; i++) { /* a miss, then a hit */
		request(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", &r, 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert(body_is(&r, "0123456789"));
		ck_assert_int_eq(h_header(&r, "ETag", etag, sizeof(etag)), 0);
		h_response_free(&r);
	}
	request(fd, "HEAD /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", &r, 1);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, 10);
	h_response_free(&r);
	ask(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=2-5\r\n\r\n", 0, 206, "2345");
	ask(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=20-\r\n\r\n", 0, 416, NULL);
	snprintf(
	    req, sizeof(req), "GET /s.txt HTTP/1.1\r\nHost: x\r\nIf-None-Match: %s\r\n\r\n", etag);
	ask(fd, req, 1, 304, NULL);
	/* and the next one is whole again */
	ask(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200, "0123456789");
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The harness's settings with another root. */
static void write_conf_root(const char *root)
{
	char text[4 * PATH_MAX + 1024];

	ck_assert_int_lt(snprintf(text, sizeof(text),
	                     "%s[server]\nlisten = 127.0.0.1:0\nroot = %s\nshutdown_timeout = 5s\n"
	                     "[log]\nfile = %s\nlevel = debug\n[control]\nsocket = %s\n" ONE_WORKER
	                     "[http]\nopen_file_cache_valid = 1h\n",
	                     h_base_conf(), root, w.log, w.sock),
	    (int)sizeof(text));
	h_write_text(w.conf, text);
}

/* A new root: nothing resolved beneath the old one is served from the cache. */
START_TEST(test_reload_new_root)
{
	char root2[PATH_MAX + 16], out[4096];
	char *argv[] = {WSCTL_BIN, "-s", w.sock, "reload", NULL};

	start_with_file("1h", "old root\n");
	snprintf(root2, sizeof(root2), "%s/root2", w.root);
	ck_assert_int_eq(mkdir(root2, 0755), 0);
	h_write_file(&w, "root2/f.txt", "new root\n", 9);
	write_conf_root(root2);
	ck_assert_int_eq(h_run(argv, out, sizeof(out), 20000), 0);
	ck_assert_ptr_nonnull(strstr(out, "root reopened"));
	expect_within("/f.txt", 200, "new root\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#ifdef WSD_OPTIMISED
#define REQUESTS 500
#define BURSTS 20
#define BURST 8

/*
 * A cached small file on one keep-alive connection costs the worker its
 * epoll_wait, its read and one sendmsg: 3 calls a request (7 before the
 * cache: openat2, fstat, sendto, sendfile and close too). Bound: 4.
 */
START_TEST(test_syscalls_per_request)
{
	char out[PATH_MAX + 32];
	struct h_response r;
	pid_t st;
	long calls;
	int fd;

	start("open_file_cache_valid = 1h\npark_after = 0s\n");
	h_write_file(&w, "s.txt", "0123456789", 10);
	fd = h_connect(&w);
	request(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", &r, 0); /* cached now */
	h_response_free(&r);
	if ((st = h_strace_begin(&w, out, sizeof(out))) != 0) {
		for (int i = 0; i < REQUESTS; i++)
			ask(fd, "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200, NULL);
		h_strace_end(st);
		calls = h_strace_calls(out, "total");
		ck_assert_msg(calls > 0 && calls <= 4 * REQUESTS, "%ld syscalls for %d requests",
		    calls, REQUESTS);
	}
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Sockets the one worker holds. */
static int worker_sockets(void)
{
	pid_t pid;

	ck_assert_int_eq(h_count_role(&w, "worker", &pid, 1), 1);
	return h_proc_sockets(pid, -1);
}

static int sockets_back_to(void *arg) { return worker_sockets() == *(int *)arg; }

/*
 * Bursts of connections, each burst closed before the next comes: the
 * worker keeps its spare connection structures between them. It used to
 * unmap all but 4 whenever it held no connection, and map them again for
 * the next burst: 8 calls a burst of 8 (159 in all); now about 4 in all.
 * Bound: 2 a burst, so a stall of the machine between bursts (the worker
 * then trims, as it should) does not fail it.
 */
START_TEST(test_bursts_map_nothing)
{
	char out[PATH_MAX + 32];
	int fd[BURST], base;
	long maps;
	pid_t st;

	start("park_after = 0s\n");
	h_write_file(&w, "s.txt", "0123456789", 10);
	if ((st = h_strace_begin(&w, out, sizeof(out))) != 0) {
		base = worker_sockets();
		for (int b = 0; b < BURSTS; b++) {
			for (int i = 0; i < BURST; i++)
				fd[i] = h_connect(&w);
			for (int i = 0; i < BURST; i++) /* all 8 held by the worker */
				ask(fd[i], "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200, NULL);
			for (int i = 0; i < BURST; i++)
				close(fd[i]);
			ck_assert(h_wait_until(sockets_back_to, &base, h_bound_ms(5000)));
		}
		h_strace_end(st);
		maps = h_strace_calls(out, "mmap") + h_strace_calls(out, "munmap");
		ck_assert_msg(h_strace_calls(out, "total") > 0, "strace counted nothing");
		ck_assert_msg(maps <= 2 * BURSTS, "%ld mmap + munmap for %d bursts", maps, BURSTS);
	}
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST
#endif

static Suite *filecache_suite(void)
{
	Suite *s = suite_create("filecache");
	TCase *tc = tcase_create("fresh");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_replaced_by_rename);
	tcase_add_test(tc, test_rewritten_in_place);
	tcase_add_test(tc, test_deleted_becomes_404);
	tcase_add_test(tc, test_cached_within_bound);
	tcase_add_test(tc, test_off_serves_fresh);
	tcase_add_test(tc, test_small_file_answers);
	tcase_add_test(tc, test_reload_new_root);
#ifdef WSD_OPTIMISED
	tcase_add_test(tc, test_syscalls_per_request);
	tcase_add_test(tc, test_bursts_map_nothing);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(filecache_suite());

	return check_run(sr, CK_NORMAL);
}
