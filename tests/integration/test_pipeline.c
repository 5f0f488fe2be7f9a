/*
 * Pipelining: the worker answers every complete request it has buffered
 * before writing, and gathers the responses into one write. Every kind of
 * answer in one pipeline (a cached small file, a file sent with sendfile,
 * HEAD, 404, a range, 304) comes whole and in order, nothing after one
 * that closes; a client that reads slowly (partial writes) gets all of a
 * long pipeline intact; the access log has one line per response. In the
 * optimised build, with strace: the writes a pipeline costs the worker,
 * and the epoll_ctl a Connection: close request does not.
 */
#include <check.h>

#include "check_run.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define HB "[heartbeat]\ninterval = 1s\nmisses = 20\n"
#define EOF_WAIT_MS 5000
#define BIG_SIZE ((1u << 20) + 4321) /* beyond the in-memory bound: sent with sendfile */
#define SLOW_N 100                   /* files, */
#define SLOW_REQS 1000               /* asked for in turn */

static struct wsd w;
static char alog[PATH_MAX + 16];

/* Deterministic content: byte i of file seed. */
static char *pattern(size_t n, unsigned seed)
{
	char *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + (i * 7 + seed) % 26);
	return p;
}

static void start_logged(const char *extra)
{
	char conf[PATH_MAX + 256];

	snprintf(alog, sizeof(alog), "%s/access.log", w.dir);
	snprintf(conf, sizeof(conf), "%s[log]\naccess_log = %s\n%s", HB, alog, extra ? extra : "");
	h_start(&w, conf);
}

/* Lines of the access log holding needle. */
static int alog_count(const char *needle)
{
	char line[2048];
	int n = 0;
	FILE *f = fopen(alog, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

static int alog_has_n(void *arg) { return alog_count("HTTP/1.1\" ") >= *(int *)arg; }

/* The ETag of /s.txt, asked on its own connection. */
static void etag_of(const char *target, char *etag, size_t len)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", target, &r), 0);
	ck_assert_int_eq(h_header(&r, "ETag", etag, len), 0);
	h_response_free(&r);
}

struct want {
	const char *req;  /* method and target, and extra header lines */
	int status;       /* expected */
	int head;         /* HEAD: no body */
	const char *body; /* expected body, or NULL: check length only */
	long len;
};

/*
 * 16 requests in one write: small cached files, a big file (sendfile ends
 * a batch), HEAD, 404, a range, 304; the 12th says Connection: close, so
 * the four after it are never answered.
 */
START_TEST(test_pipeline_mixed_16)
{
	char etag[128], extra[256], reqs[8192], *big = pattern(BIG_SIZE, 3);
	static const char small[] = "small cached file\n";
	struct h_response r;
	struct want wants[16];
	size_t off = 0;
	int fd, nw = 0, answered = 12;

	h_init(&w);
	h_write_file(&w, "s.txt", small, sizeof(small) - 1);
	h_write_file(&w, "big.bin", big, BIG_SIZE);
	start_logged(NULL);
	etag_of("/s.txt", etag, sizeof(etag)); /* also caches it */
	snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", etag);
#define W(rq, st, hd, bd, ln) wants[nw++] = (struct want){rq, st, hd, bd, ln}
	W("GET /s.txt HTTP/1.1\r\n", 200, 0, small, sizeof(small) - 1);
	W("GET /big.bin HTTP/1.1\r\n", 200, 0, NULL, BIG_SIZE);
	W("HEAD /s.txt HTTP/1.1\r\n", 200, 1, NULL, sizeof(small) - 1);
	W("GET /missing.txt HTTP/1.1\r\n", 404, 0, NULL, -1);
	W("GET /s.txt HTTP/1.1\r\nRange: bytes=6-11\r\n", 206, 0, "cached", 6);
	W("GET /s.txt HTTP/1.1\r\n", 304, 1, NULL, -1); /* extra added below */
	W("GET /s.txt HTTP/1.1\r\n", 200, 0, small, sizeof(small) - 1);
	W("GET /big.bin HTTP/1.1\r\nRange: bytes=1000-1999\r\n", 206, 0, big + 1000, 1000);
	W("HEAD /big.bin HTTP/1.1\r\n", 200, 1, NULL, BIG_SIZE);
	W("GET /big.bin HTTP/1.1\r\n", 200, 0, NULL, BIG_SIZE);
	W("GET /s.txt HTTP/1.1\r\n", 200, 0, small, sizeof(small) - 1);
	W("GET /s.txt HTTP/1.1\r\nConnection: close\r\n", 200, 0, small, sizeof(small) - 1);
	for (int i = 0; i < 4; i++)
		W("GET /s.txt HTTP/1.1\r\n", 200, 0, small, sizeof(small) - 1);
#undef W
	for (int i = 0; i < nw; i++)
		off += (size_t)snprintf(reqs + off, sizeof(reqs) - off, "%sHost: x\r\n%s\r\n",
		    wants[i].req, wants[i].status == 304 ? extra : "");
	ck_assert_uint_lt(off, sizeof(reqs));
	fd = h_connect(&w);
	h_send_all(fd, reqs, off); /* one write: all of them reach the server together */
	for (int i = 0; i < answered; i++) {
		const struct want *x = &wants[i];

		ck_assert_msg(h_read_response(fd, &r, x->head) == 0, "answer %d missing", i);
		ck_assert_msg(r.status == x->status, "answer %d: %d, want %d\n%s", i, r.status,
		    x->status, r.head);
		if (x->len >= 0)
			ck_assert_msg(r.content_length == x->len, "answer %d: length %ld, want %ld",
			    i, r.content_length, x->len);
		if (x->status == 200 && !x->head && x->len == BIG_SIZE)
			ck_assert_msg(
			    memcmp(r.body, big, BIG_SIZE) == 0, "answer %d: big body differs", i);
		if (x->body)
			ck_assert_msg(
			    r.body_len == (size_t)x->len && memcmp(r.body, x->body, x->len) == 0,
			    "answer %d: body differs", i);
		ck_assert_msg(r.closed == (i == answered - 1), "answer %d: Connection", i);
		h_response_free(&r);
	}
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0); /* nothing after the close */
	close(fd);
	/* One access-log line per answer, the 13th and later never answered. */
	ck_assert_msg(h_wait_until(alog_has_n, &(int){answered + 1}, h_bound_ms(5000)),
	    "%d access-log lines, want %d", alog_count("HTTP/1.1\" "), answered + 1);
	ck_assert_int_eq(alog_count("\"GET /missing.txt HTTP/1.1\" 404 "), 1);
	ck_assert_int_eq(alog_count("\"HEAD /s.txt HTTP/1.1\" 200 - "), 1);
	ck_assert_int_eq(alog_count("\"GET /big.bin HTTP/1.1\" 206 1000 "), 1);
	ck_assert_int_eq(alog_count("\"GET /s.txt HTTP/1.1\" 304 - "), 1);
	ck_assert_int_eq(alog_count("\"GET /s.txt HTTP/1.1\" 206 6 "), 1);
	ck_assert_int_eq(alog_count("HTTP/1.1\" "), answered + 1);
	ck_assert_int_eq(h_stop(&w), 0);
	free(big);
}
END_TEST

/* File i of the slow test: all under the in-memory bound (16 KiB), so all go out by sendmsg. */
static size_t slow_size(int i) { return 2000 + (size_t)i * 140; }

/* What we hold unread stopped growing for 200 ms: the server is blocked on a full socket. */
static int stalled(void *arg)
{
	int fd = *(int *)arg, have = 0;
	static int last = -1;
	static uint64_t since;

	ck_assert_int_eq(ioctl(fd, FIONREAD, &have), 0);
	if (have != last) {
		last = have;
		since = h_now_ms();
		return 0;
	}
	return have > 0 && h_now_ms() - since >= 200;
}

/*
 * 1000 pipelined requests (9 MB of answers: more than the socket buffers
 * hold), the client reading nothing till the server is blocked on a full
 * socket, then one response at a time: partial writes resume exactly where
 * they stopped, in the middle of a head or a body, every response intact
 * and in order, one access-log line each.
 */
START_TEST(test_pipeline_slow_reader)
{
	char name[32], *reqs = malloc(SLOW_REQS * 64), *files[SLOW_N];
	struct h_response r;
	size_t off = 0;
	int fd;

	ck_assert_ptr_nonnull(reqs);
	h_init(&w);
	for (int i = 0; i < SLOW_N; i++) {
		files[i] = pattern(slow_size(i), (unsigned)i);
		snprintf(name, sizeof(name), "f%03d.txt", i);
		h_write_file(&w, name, files[i], slow_size(i));
	}
	start_logged(NULL);
	for (int i = 0; i < SLOW_REQS; i++)
		off += (size_t)snprintf(reqs + off, SLOW_REQS * 64 - off,
		    "GET /f%03d.txt HTTP/1.1\r\nHost: x\r\n\r\n", i % SLOW_N);
	fd = h_connect(&w);
	h_send_all(fd, reqs, off); /* 37 KB: the socket buffers hold them */
	ck_assert_msg(h_wait_until(stalled, &fd, h_bound_ms(10000)), "the server never stalled");
	for (int i = 0; i < SLOW_REQS; i++) {
		int f = i % SLOW_N;

		ck_assert_msg(h_read_response(fd, &r, 0) == 0, "answer %d missing", i);
		ck_assert_msg(r.status == 200, "answer %d: status %d", i, r.status);
		ck_assert_msg(
		    r.body_len == slow_size(f) && memcmp(r.body, files[f], r.body_len) == 0,
		    "answer %d: body differs (%zu bytes, want %zu)", i, r.body_len, slow_size(f));
		h_response_free(&r);
	}
	for (int i = 0; i < SLOW_N; i++)
		free(files[i]);
	ck_assert_msg(h_wait_until(alog_has_n, &(int){SLOW_REQS}, h_bound_ms(5000)),
	    "%d access-log lines, want %d", alog_count("HTTP/1.1\" "), SLOW_REQS);
	close(fd);
	free(reqs);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#ifdef WSD_OPTIMISED
#define ROUNDS 100
#define DEPTH 16

#define ONE_WORKER \
	HB "[pool]\nmin = 1\nmax = 1\n[http]\nopen_file_cache_valid = 1h\npark_after = 0s\n"

/*
 * 16 pipelined requests for a cached small file, 100 times over: the
 * worker writes each 16 together, one sendmsg (16 before gathering).
 * Bound: 2 a round, for a write cut short by a busy loopback.
 */
START_TEST(test_pipeline_one_write)
{
	char out[PATH_MAX + 32], reqs[DEPTH * 40];
	struct h_response r;
	size_t off = 0;
	pid_t st;
	long calls;
	int fd;

	h_init(&w);
	h_write_file(&w, "s.txt", "0123456789", 10);
	h_start(&w, ONE_WORKER);
	for (int i = 0; i < DEPTH; i++)
		off += (size_t)snprintf(
		    reqs + off, sizeof(reqs) - off, "GET /s.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	fd = h_connect(&w);
	if ((st = h_strace_begin(&w, out, sizeof(out))) == 0) {
		close(fd);
		ck_assert_int_eq(h_stop(&w), 0);
		return;
	}
	for (int k = 0; k < ROUNDS; k++) {
		h_send_all(fd, reqs, off);
		for (int i = 0; i < DEPTH; i++) {
			ck_assert_msg(h_read_response(fd, &r, 0) == 0, "round %d answer %d", k, i);
			ck_assert_int_eq(r.status, 200);
			h_response_free(&r);
		}
	}
	h_strace_end(st);
	calls = h_strace_calls(out, "sendmsg");
	ck_assert_msg(calls > 0 && calls <= 2 * ROUNDS, "%ld sendmsg for %d rounds of %d", calls,
	    ROUNDS, DEPTH);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * Connection: close, one request per connection: the request is read as
 * the connection arrives, the socket never registered with epoll (2
 * epoll_ctl a connection before). Bound: 1 in 4 connections may find its
 * request not there yet on a loaded machine.
 */
START_TEST(test_close_no_epoll_ctl)
{
	char out[PATH_MAX + 32];
	struct h_response r;
	pid_t st;
	long calls;

	h_init(&w);
	h_write_file(&w, "s.txt", "0123456789", 10);
	h_start(&w, ONE_WORKER);
	ck_assert_int_eq(h_get(&w, "GET", "/s.txt", &r), 0); /* cached now */
	h_response_free(&r);
	if ((st = h_strace_begin(&w, out, sizeof(out))) == 0) {
		ck_assert_int_eq(h_stop(&w), 0);
		return;
	}
	for (int i = 0; i < ROUNDS; i++) {
		ck_assert_int_eq(h_get(&w, "GET", "/s.txt", &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, "0123456789");
		h_response_free(&r);
	}
	h_strace_end(st);
	calls = h_strace_calls(out, "epoll_ctl");
	ck_assert_msg(h_strace_calls(out, "read") >= ROUNDS, "strace counted no reads");
	ck_assert_msg(calls <= ROUNDS / 2, "%ld epoll_ctl for %d connections", calls, ROUNDS);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST
#endif

Suite *pipeline_suite(void)
{
	Suite *s = suite_create("pipeline");
	TCase *tc = tcase_create("pipeline");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pipeline_mixed_16);
	tcase_add_test(tc, test_pipeline_slow_reader);
#ifdef WSD_OPTIMISED
	tcase_add_test(tc, test_pipeline_one_write);
	tcase_add_test(tc, test_close_no_epoll_ctl);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pipeline_suite());

	return check_run(sr, CK_NORMAL);
}
