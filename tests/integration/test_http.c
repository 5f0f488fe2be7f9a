/*
 * HTTP/1.1 over real sockets: methods, keep-alive and pipelining, the
 * headers of an answer, strict parsing and its limits, timeouts and slow
 * clients, half-closed clients, a big file, and (TCase "conditional")
 * conditional requests and byte ranges.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define EOF_WAIT_MS 5000 /* a closing server closes well within this */
/*
 * Every instance here: heartbeats patient enough that a CPU-starved test
 * machine does not get healthy workers replaced (and our connections cut)
 * in the middle of a timing test.
 */
#define HB "[heartbeat]\ninterval = 1s\nmisses = 20\n"
#define FIXED_MTIME 1600000000 /* Sun, 13 Sep 2020 12:26:40 GMT */
#define BIG_SIZE ((1u << 20) + 12345)
#define HUGE_SIZE (256ll << 20) /* sparse: more than any socket buffers hold */
#define LINGER_MS 2000          /* the worker's lingering close */
/* How late a timeout may fire on a loaded machine: the harness's generous bound. */
#define LATE_MS h_bound_ms(2500)

static struct wsd w;

static const char alpha[] = "alpha\n";

/* ---- local helpers ---- */

static char *random_bytes(size_t n)
{
	char *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	srand((unsigned)n);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)(rand() & 0xff);
	return p;
}

static void set_mtime(const char *rel, time_t t)
{
	char path[PATH_MAX * 2];
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	snprintf(path, sizeof(path), "%s/%s", w.root, rel);
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Nothing arrives on fd for ms milliseconds (the connection stays quiet and open). */
static int quiet_for(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, ms) == 0;
}

/*
 * A timeout of want_ms, measured from before the server's clock for it
 * started: never early (10 ms for timer rounding), late by LATE_MS at most.
 */
static void expect_elapsed(const char *what, uint64_t dt, int want_ms)
{
	ck_assert_msg(dt + 10 >= (uint64_t)want_ms && dt <= (uint64_t)(want_ms + LATE_MS),
	    "%s after %llu ms, want %d (+ up to %d)", what, (unsigned long long)dt, want_ms,
	    LATE_MS);
}

static char *slurp_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = malloc(1 << 20);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* How many times needle is in the file at path. */
static int file_count(const char *path, const char *needle)
{
	char *buf = slurp_file(path), *p = buf;
	int n = 0;

	while (p && (p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(buf);
	return n;
}

struct file_wait {
	const char *path, *needle;
};

static int file_pred(void *arg)
{
	struct file_wait *fw = arg;

	return file_count(fw->path, fw->needle) > 0;
}

static void expect_header(const struct h_response *r, const char *name, const char *want)
{
	char v[512];

	ck_assert_msg(h_header(r, name, v, sizeof(v)) == 0, "no %s header in:\n%s", name, r->head);
	ck_assert_msg(strcmp(v, want) == 0, "%s: got '%s', want '%s'", name, v, want);
}

static int has_conn_close(const struct h_response *r)
{
	char v[128];

	return h_header(r, "Connection", v, sizeof(v)) == 0 && strcasecmp(v, "close") == 0;
}

/* A small HTML error page whose Content-Length is its exact length. */
static void expect_error_page(const char *what, const struct h_response *r)
{
	char v[128];

	ck_assert_msg(
	    h_header(r, "Content-Type", v, sizeof(v)) == 0 && strncmp(v, "text/html", 9) == 0,
	    "%s: error page not HTML:\n%s", what, r->head);
	ck_assert_msg(r->content_length > 0 && r->content_length < 1024,
	    "%s: error page Content-Length %ld", what, r->content_length);
	ck_assert_msg(r->body_len == (size_t)r->content_length, "%s: body %zu of %ld bytes", what,
	    r->body_len, r->content_length);
	ck_assert_msg(strstr(r->body, "<html") != NULL, "%s: body is not HTML: %s", what, r->body);
}

/*
 * One raw request (it may hold NULs) on a fresh connection; the answer
 * must be status, as a small HTML page.
 */
#define R_CLOSE 1  /* Connection: close, then the end of file */
#define R_FOLLOW 2 /* a valid request follows in the same write, never answered */

static void expect_refused(const char *what, const char *req, size_t len, int status, int flags)
{
	static const char follow[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	int must_close = flags & R_CLOSE;
	char *buf = malloc(len + sizeof(follow));
	struct h_response r;
	int fd = h_connect(&w);
	long rest;

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, req, len);
	memcpy(buf + len, follow, sizeof(follow) - 1);
	h_send_all(fd, buf, len + (flags & R_FOLLOW ? sizeof(follow) - 1 : 0));
	free(buf);
	ck_assert_msg(h_read_response(fd, &r, 0) == 0, "%s: no answer", what);
	ck_assert_msg(r.status == status, "%s: got %d, want %d", what, r.status, status);
	expect_error_page(what, &r);
	if (must_close) {
		ck_assert_msg(has_conn_close(&r), "%s: no Connection: close in:\n%s", what, r.head);
		rest = h_drain_to_eof(fd, EOF_WAIT_MS);
		ck_assert_msg(rest == 0,
		    "%s: after the answer: %ld (want end of file, nothing more)", what, rest);
	}
	h_response_free(&r);
	close(fd);
}

#define REFUSED(what, lit, status) \
	expect_refused(what, lit, sizeof(lit) - 1, status, R_CLOSE | R_FOLLOW)

/* A request built from parts; the answer on a fresh connection into *r. */
static int ask(const char *req, size_t len, int head_only, struct h_response *r)
{
	int fd = h_connect(&w), rc;

	h_send_all(fd, req, len);
	rc = h_read_response(fd, r, head_only);
	close(fd);
	return rc;
}

static void start_with_alpha(const char *extra)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "%s%s", HB, extra ? extra : "");
	h_init(&w);
	h_write_file(&w, "a.txt", alpha, sizeof(alpha) - 1);
	h_start(&w, conf);
}

/* ---- methods ---- */

START_TEST(test_methods)
{
	static const char *const refused[] = {"POST", "PUT", "DELETE", "PATCH", "TRACE", NULL};
	static const char *const unknown[] = {"FOO", "BREW", "get", NULL};
	static const char star[] = "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n";
	struct h_response r;
	char req[256];

	start_with_alpha(NULL);

	ck_assert_int_eq(ask(star, sizeof(star) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	expect_header(&r, "Allow", "GET, HEAD, OPTIONS");
	h_response_free(&r);

	ck_assert_int_eq(h_get(&w, "OPTIONS", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	expect_header(&r, "Allow", "GET, HEAD, OPTIONS");
	h_response_free(&r);

	ck_assert_int_eq(h_get(&w, "HEAD", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.content_length, 6);
	h_response_free(&r);

	for (int i = 0; refused[i]; i++) {
		ck_assert_int_eq(h_get(&w, refused[i], "/a.txt", &r), 0);
		ck_assert_msg(r.status == 405, "%s: got %d, want 405", refused[i], r.status);
		expect_header(&r, "Allow", "GET, HEAD, OPTIONS");
		expect_error_page(refused[i], &r);
		h_response_free(&r);
	}
	for (int i = 0; unknown[i]; i++) {
		int n = snprintf(req, sizeof(req),
		    "%s /a.txt HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n",
		    unknown[i]);

		ck_assert_int_eq(ask(req, (size_t)n, 0, &r), 0);
		ck_assert_msg(r.status == 501, "%s: got %d, want 501", unknown[i], r.status);
		expect_error_page(unknown[i], &r);
		h_response_free(&r);
	}
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A POST with a body is still a known method we refuse: 405 (not 413). */
START_TEST(test_post_with_body_is_405)
{
	static const char req[] =
	    "POST /a.txt HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n"
	    "Connection: close\r\n\r\na=1";
	struct h_response r;

	start_with_alpha(NULL);
	ck_assert_int_eq(ask(req, sizeof(req) - 1, 0, &r), 0);
	ck_assert_msg(r.status == 405, "POST with a body: got %d, want 405", r.status);
	expect_header(&r, "Allow", "GET, HEAD, OPTIONS");
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- keep-alive ---- */

START_TEST(test_keepalive_rules)
{
	struct h_response r;
	int fd;

	start_with_alpha(NULL);

	/* HTTP/1.1: persistent by default. */
	fd = h_connect(&w);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, alpha);
		ck_assert_msg(!has_conn_close(&r), "1.1 default closed:\n%s", r.head);
		h_response_free(&r);
	}
	ck_assert(quiet_for(fd, 100));
	/* Connection: close is honoured: said so, then end of file. */
	ck_assert_int_eq(
	    h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	expect_header(&r, "Connection", "close");
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);

	/* HTTP/1.0 keeps the connection only when asked, and says so. */
	fd = h_connect(&w);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(
		    h_send(fd, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, alpha);
		expect_header(&r, "Connection", "keep-alive");
		h_response_free(&r);
	}
	ck_assert(quiet_for(fd, 100));
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	ck_assert_msg(has_conn_close(&r), "1.0 without keep-alive:\n%s", r.head);
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static char *pipe_body(int i, size_t *len)
{
	static char b[2048];
	size_t n = 0;

	for (int k = 0; k <= i; k++)
		n += (size_t)snprintf(b + n, sizeof(b) - n, "pipelined body %02d\n", i);
	*len = n;
	return b;
}

START_TEST(test_pipeline_50_in_one_write)
{
	enum { N = 50 };
	char *reqs = malloc(N * 128), name[32];
	struct h_response r;
	size_t off = 0, len;
	int fd;

	h_init(&w);
	for (int i = 0; i < N; i++) {
		char *b = pipe_body(i, &len);

		snprintf(name, sizeof(name), "p%02d.txt", i);
		h_write_file(&w, name, b, len);
	}
	h_start(&w, HB);
	for (int i = 0; i < N; i++)
		off += (size_t)snprintf(reqs + off, N * 128 - off,
		    "GET /p%02d.txt HTTP/1.1\r\nHost: x\r\n%s\r\n", i,
		    i == N - 1 ? "Connection: close\r\n" : "");
	fd = h_connect(&w);
	/* One write: all 50 requests reach the server together. */
	ck_assert_int_eq(send(fd, reqs, off, MSG_NOSIGNAL), (ssize_t)off);
	free(reqs);
	for (int i = 0; i < N; i++) {
		char *b = pipe_body(i, &len);

		ck_assert_msg(h_read_response(fd, &r, 0) == 0, "answer %d missing", i);
		ck_assert_msg(r.status == 200, "answer %d: status %d", i, r.status);
		ck_assert_msg(r.body_len == len && memcmp(r.body, b, len) == 0,
		    "answer %d has another body (%zu bytes, want %zu)", i, r.body_len, len);
		ck_assert_msg(has_conn_close(&r) == (i == N - 1), "answer %d: Connection", i);
		h_response_free(&r);
	}
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Several kinds of answer in one pipeline; a bad request ends it there. */
START_TEST(test_pipeline_mixed_then_bad)
{
	static const char reqs[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "GET /missing.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "DELETE /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	                           "GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"
	                           "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n";
	static const int want[] = {200, 200, 404, 200, 405, 200, 400};
	struct h_response r;
	int fd;

	start_with_alpha(NULL);
	fd = h_connect(&w);
	ck_assert_int_eq(send(fd, reqs, sizeof(reqs) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(reqs) - 1);
	for (int i = 0; i < 7; i++) {
		ck_assert_msg(h_read_response(fd, &r, i == 1) == 0, "answer %d missing", i);
		ck_assert_msg(r.status == want[i], "answer %d: %d, want %d", i, r.status, want[i]);
		if (i == 0 || i == 5)
			ck_assert_str_eq(r.body, alpha);
		if (i == 1)
			ck_assert_int_eq(r.content_length, 6);
		h_response_free(&r);
	}
	/* The request after the bad one is not answered. */
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- the headers of a 200 ---- */

static time_t http_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return end && *end == '\0' ? timegm(&tm) : (time_t)-1;
}

static void expect_200_headers(const struct h_response *r, long len, const char *type)
{
	char v[256], etag[256];
	time_t now = time(NULL), t;
	size_t n;

	ck_assert_int_eq(r->status, 200);
	ck_assert_msg(h_header(r, "Date", v, sizeof(v)) == 0, "no Date:\n%s", r->head);
	t = http_time(v);
	ck_assert_msg(t != (time_t)-1 && t >= now - 5 && t <= now + 5, "Date '%s'", v);
	ck_assert_msg(h_header(r, "Server", v, sizeof(v)) == 0 && v[0], "no Server:\n%s", r->head);
	ck_assert_int_eq(r->content_length, len);
	expect_header(r, "Content-Type", type);
	ck_assert_msg(
	    h_header(r, "Last-Modified", v, sizeof(v)) == 0, "no Last-Modified:\n%s", r->head);
	ck_assert_msg(http_time(v) == FIXED_MTIME, "Last-Modified '%s' is not the file's", v);
	ck_assert_msg(h_header(r, "ETag", etag, sizeof(etag)) == 0, "no ETag:\n%s", r->head);
	n = strlen(etag);
	ck_assert_msg(n >= 2 && etag[n - 1] == '"' &&
	        (etag[0] == '"' || (n >= 4 && strncmp(etag, "W/\"", 3) == 0)),
	    "ETag '%s' is not an entity-tag", etag);
	expect_header(r, "Accept-Ranges", "bytes");
}

START_TEST(test_200_headers)
{
	static const char png[] = "\x89PNG\r\n\x1a\n0000";
	struct h_response r, h;
	char e1[256], e2[256];

	h_init(&w);
	h_write_file(&w, "a.txt", alpha, sizeof(alpha) - 1);
	h_write_file(&w, "i.png", png, sizeof(png) - 1);
	set_mtime("a.txt", FIXED_MTIME);
	set_mtime("i.png", FIXED_MTIME);
	h_start(&w, HB);

	ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
	expect_200_headers(&r, 6, "text/plain; charset=utf-8");
	ck_assert_str_eq(r.body, alpha);
	ck_assert_int_eq(h_get(&w, "HEAD", "/a.txt", &h), 0);
	expect_200_headers(&h, 6, "text/plain; charset=utf-8");
	ck_assert_int_eq(h_header(&r, "ETag", e1, sizeof(e1)), 0);
	ck_assert_int_eq(h_header(&h, "ETag", e2, sizeof(e2)), 0);
	ck_assert_str_eq(e1, e2);
	h_response_free(&r);
	h_response_free(&h);

	ck_assert_int_eq(h_get(&w, "GET", "/i.png", &r), 0);
	expect_200_headers(&r, (long)sizeof(png) - 1, "image/png");
	ck_assert_int_eq(h_header(&r, "ETag", e2, sizeof(e2)), 0);
	ck_assert_str_ne(e1, e2);
	h_response_free(&r);

	/* Error answers: small HTML with Content-Length. */
	ck_assert_int_eq(h_get(&w, "GET", "/missing.txt", &r), 0);
	ck_assert_int_eq(r.status, 404);
	expect_error_page("404", &r);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- strictness ---- */

START_TEST(test_strict_head)
{
	start_with_alpha(NULL);
	REFUSED("1.1 without Host", "GET /a.txt HTTP/1.1\r\n\r\n", 400);
	REFUSED("two Host", "GET /a.txt HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n", 400);
	REFUSED("space before colon", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", 400);
	REFUSED("tab before colon", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A\t: b\r\n\r\n", 400);
	REFUSED("space before Host colon", "GET /a.txt HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	REFUSED("obs-fold", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400);
	REFUSED("obs-fold tab", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\r\n\tc\r\n\r\n", 400);
	REFUSED("CTL in name", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX\001A: b\r\n\r\n", 400);
	REFUSED("CTL in value", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\001c\r\n\r\n", 400);
	REFUSED("DEL in value", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\177c\r\n\r\n", 400);
	REFUSED("bare CR in value", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\rc\r\n\r\n", 400);
	REFUSED("ESC in Host", "GET /a.txt HTTP/1.1\r\nHost: x\033y\r\n\r\n", 400);
	REFUSED("bad escape %zz", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("bad escape %g0", "GET /a%g0.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("short escape", "GET /a.txt%2 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("escape at end", "GET /a.txt% HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("NUL in path", "GET /a\0.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("NUL in method", "G\0ET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("NUL in version", "GET /a.txt HTTP/1.1\0\r\nHost: x\r\n\r\n", 400);
	REFUSED("NUL in name", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX\0A: b\r\n\r\n", 400);
	REFUSED("NUL in value", "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\n\r\n", 400);
	REFUSED("NUL in Host", "GET /a.txt HTTP/1.1\r\nHost: x\0\r\n\r\n", 400);
	REFUSED("NUL line", "GET /a.txt HTTP/1.1\r\nHost: x\r\n\0\r\n\r\n", 400);
	REFUSED("NUL first", "\0GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_strict_body_framing)
{
	struct h_response r;
	static const char cl0[] = "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
	                          "Connection: close\r\n\r\n";

	start_with_alpha(NULL);
	REFUSED("CL negative", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
	REFUSED("CL not a number", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
	    400);
	REFUSED("CL trailing junk", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n",
	    400);
	REFUSED(
	    "CL plus sign", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n", 400);
	REFUSED("CL empty", "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", 400);
	REFUSED("CL repeated, another value",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
	    400);
	REFUSED("CL repeated, same value",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	    400);
	REFUSED("CL list, same value",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 0\r\n\r\n", 400);
	REFUSED("TE then CL",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n0\r\n\r\n",
	    400);
	REFUSED("CL then TE",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	    400);
	/* Any Transfer-Encoding: 501; the body framing is unknown, so closed too. */
	REFUSED("TE chunked",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n0\r\n\r\n",
	    501);
	REFUSED(
	    "TE gzip", "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501);
	REFUSED("GET with a body",
	    "GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
	    "\r\n0123456789",
	    413);
	/* Content-Length: 0 is no body at all. */
	ck_assert_int_eq(ask(cl0, sizeof(cl0) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* HEAD answers carry no body, errors included (RFC 9110 9.3.2). */
START_TEST(test_head_error_has_no_body)
{
	static const char *const reqs[] = {
	    "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
	    "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
	    "HEAD /a.txt HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",
	    "HEAD /missing.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", NULL};
	static const int want[] = {413, 400, 400, 404};
	char bad[1024] = "";
	struct h_response r;

	start_with_alpha(NULL);
	for (int i = 0; reqs[i]; i++) {
		int fd = h_connect(&w);
		long rest;

		ck_assert_int_eq(h_send(fd, reqs[i]), 0);
		ck_assert_msg(h_read_response(fd, &r, 1) == 0, "HEAD %d: no answer", i);
		ck_assert_msg(
		    r.status == want[i], "HEAD %d: got %d, want %d", i, r.status, want[i]);
		ck_assert_msg(r.content_length > 0, "HEAD %d: no Content-Length", i);
		rest = h_drain_to_eof(fd, EOF_WAIT_MS);
		if (rest != 0)
			snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad),
			    " [HEAD %d -> %d: %ld body bytes after the head]", i, want[i], rest);
		close(fd);
	}
	ck_assert_msg(bad[0] == '\0', "HEAD answers with a body:%s", bad);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * Errors that leave the connection sound (404, 405, 501) follow the same
 * connection rules as a 200: Connection: close is honoured and said, an
 * HTTP/1.0 keep-alive is kept and said.
 */
START_TEST(test_error_answers_keep_connection_rules)
{
	static const char *const lines[] = {
	    "GET /missing.txt", "DELETE /a.txt", "BREW /a.txt", NULL};
	static const int want[] = {404, 405, 501};
	struct h_response r;
	char req[256], bad[2048] = "";
	int fd;

#define BAD(...) snprintf(bad + strlen(bad), sizeof(bad) - strlen(bad), __VA_ARGS__)
	start_with_alpha(NULL);
	for (int i = 0; lines[i]; i++) {
		/* HTTP/1.1 with Connection: close. */
		fd = h_connect(&w);
		snprintf(req, sizeof(req), "%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		    lines[i]);
		ck_assert_int_eq(h_send(fd, req), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, want[i]);
		if (!has_conn_close(&r))
			BAD("\n  '%s HTTP/1.1' + Connection: close: %d without Connection: close",
			    lines[i], r.status);
		h_response_free(&r);
		ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
		close(fd);

		/* HTTP/1.0 with keep-alive: kept, and said so; then a 200 on it. */
		fd = h_connect(&w);
		snprintf(req, sizeof(req),
		    "%s HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		    "GET /a.txt HTTP/1.0\r\n\r\n",
		    lines[i]);
		ck_assert_int_eq(h_send(fd, req), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, want[i]);
		if (h_header(&r, "Connection", req, sizeof(req)) != 0 ||
		    strcasecmp(req, "keep-alive") != 0)
			BAD("\n  '%s HTTP/1.0' + Connection: keep-alive: %d without "
			    "Connection: keep-alive",
			    lines[i], r.status);
		h_response_free(&r);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, alpha);
		h_response_free(&r);
		close(fd);

		/* HTTP/1.0 without keep-alive: closed, and said so. */
		fd = h_connect(&w);
		snprintf(req, sizeof(req), "%s HTTP/1.0\r\n\r\n", lines[i]);
		ck_assert_int_eq(h_send(fd, req), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, want[i]);
		if (!has_conn_close(&r))
			BAD("\n  '%s HTTP/1.0': %d without Connection: close", lines[i], r.status);
		h_response_free(&r);
		ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
		close(fd);
	}
#undef BAD
	ck_assert_msg(bad[0] == '\0', "error answers break the connection rules:%s", bad);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* "GET /a.txt?qqq... HTTP/1.1": a request line of exactly n bytes. */
static char *long_line_request(size_t n, size_t *len)
{
	static const char pre[] = "GET /a.txt?", post[] = " HTTP/1.1";
	static const char tail[] = "\r\nHost: x\r\nConnection: close\r\n\r\n";
	size_t q = n - (sizeof(pre) - 1) - (sizeof(post) - 1);
	char *s = malloc(n + sizeof(tail));

	ck_assert_ptr_nonnull(s);
	memcpy(s, pre, sizeof(pre) - 1);
	memset(s + sizeof(pre) - 1, 'q', q);
	memcpy(s + sizeof(pre) - 1 + q, post, sizeof(post) - 1);
	memcpy(s + n, tail, sizeof(tail));
	*len = n + sizeof(tail) - 1;
	return s;
}

/* Host and nfields - 1 more fields "X-NNN: vvv" with vlen-byte values. */
static char *header_request(int nfields, size_t vlen, size_t *len)
{
	size_t cap = (size_t)nfields * (vlen + 16) + 256, n;
	char *s = malloc(cap);

	ck_assert_ptr_nonnull(s);
	n = (size_t)snprintf(s, cap, "GET /a.txt HTTP/1.1\r\nHost: x\r\n");
	for (int i = 1; i < nfields; i++) {
		n += (size_t)snprintf(s + n, cap - n, "X-%03d: ", i);
		memset(s + n, 'v', vlen);
		n += vlen;
		n += (size_t)snprintf(s + n, cap - n, "\r\n");
	}
	n += (size_t)snprintf(s + n, cap - n, "Connection: close\r\n\r\n");
	*len = n;
	return s;
}

START_TEST(test_limits)
{
	struct h_response r;
	size_t len;
	char *s;

	start_with_alpha(NULL);
	/* Request line: 8192 bytes are served, 8193 are 414. */
	s = long_line_request(8192, &len);
	ck_assert_int_eq(ask(s, len, 0, &r), 0);
	ck_assert_msg(r.status == 200, "8192-byte request line: %d", r.status);
	h_response_free(&r);
	free(s);
	s = long_line_request(8193, &len);
	expect_refused("8193-byte request line", s, len, 414, R_CLOSE | R_FOLLOW);
	free(s);
	s = long_line_request(12000, &len);
	expect_refused("12000-byte request line", s, len, 414, R_CLOSE | R_FOLLOW);
	/* A request line that never ends: 414 without waiting for its end. */
	expect_refused("unterminated request line", s, 12000 - 9, 414, R_CLOSE);
	free(s);

	/* Header section: 7 KiB are served, over 8 KiB are 431. */
	s = header_request(2, 7 * 1024, &len);
	ck_assert_int_eq(ask(s, len, 0, &r), 0);
	ck_assert_msg(r.status == 200, "7 KiB header section: %d", r.status);
	h_response_free(&r);
	free(s);
	s = header_request(2, 9 * 1024, &len);
	expect_refused("one 9 KiB header field", s, len, 431, R_CLOSE | R_FOLLOW);
	free(s);
	s = header_request(60, 150, &len); /* 60 fields, over 8 KiB in all */
	ck_assert_uint_gt(len, 9000);
	expect_refused("60 fields of 9 KiB in all", s, len, 431, R_CLOSE | R_FOLLOW);
	/* The same without its end: 431 without waiting for it. */
	expect_refused("unterminated 9 KiB header section", s, len - 4, 431, R_CLOSE);
	free(s);

	/* Fields: 100 are served, 101 are 431. */
	s = header_request(99, 1, &len); /* with Connection: close, 100 */
	ck_assert_int_eq(ask(s, len, 0, &r), 0);
	ck_assert_msg(r.status == 200, "100 header fields: %d", r.status);
	h_response_free(&r);
	free(s);
	s = header_request(100, 1, &len);
	expect_refused("101 header fields", s, len, 431, R_CLOSE | R_FOLLOW);
	free(s);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_versions_and_forms)
{
	static const char abs_req[] = "GET http://localhost/a.txt HTTP/1.1\r\nHost: localhost\r\n"
	                              "Connection: close\r\n\r\n";
	static const char v10_no_host[] = "GET /a.txt HTTP/1.0\r\n\r\n";
	struct h_response r;

	start_with_alpha(NULL);
	REFUSED("HTTP/2.0", "GET /a.txt HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	/* An unknown HTTP/1.x is HTTP/1.1 (RFC 9110 2.5): Host needed, persistent. */
	REFUSED("HTTP/1.2 without Host", "GET /a.txt HTTP/1.2\r\n\r\n", 400);
	{
		int fd = h_connect(&w);

		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.2\r\nHost: x\r\n\r\n"), 0);
			ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
			ck_assert_msg(r.status == 200, "HTTP/1.2: got %d, want 200", r.status);
			ck_assert_str_eq(r.body, alpha);
			ck_assert(strncmp(r.head, "HTTP/1.1 200 ", 13) == 0);
			ck_assert_msg(!has_conn_close(&r), "HTTP/1.2 not persistent:\n%s", r.head);
			h_response_free(&r);
		}
		close(fd);
	}
	REFUSED("HTTP/3.0", "GET /a.txt HTTP/3.0\r\nHost: x\r\n\r\n", 505);
	REFUSED("HTTP/0.9", "GET /a.txt HTTP/0.9\r\nHost: x\r\n\r\n", 505);
	REFUSED("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);
	REFUSED("FOO/1.1", "GET /a.txt FOO/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("HTTP/1", "GET /a.txt HTTP/1\r\nHost: x\r\n\r\n", 400);
	REFUSED("lower-case http", "GET /a.txt http/1.1\r\nHost: x\r\n\r\n", 400);
	REFUSED("no version", "GET /a.txt\r\nHost: x\r\n\r\n", 400);
	REFUSED("junk line", "hello\r\n\r\n", 400);

	ck_assert_int_eq(ask(abs_req, sizeof(abs_req) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	h_response_free(&r);
	/* HTTP/1.0 needs no Host. */
	ck_assert_int_eq(ask(v10_no_host, sizeof(v10_no_host) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- which file: redirects, symlinks, hidden names, 403 reasons ---- */

static void mkdir_root(const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", w.root, rel);
	ck_assert_msg(mkdir(p, 0755) == 0, "mkdir %s: %s", p, strerror(errno));
}

static void link_root(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", w.root, rel);
	ck_assert_msg(symlink(target, p) == 0, "symlink %s: %s", p, strerror(errno));
}

static void expect_get(const char *target, int status, const char *body)
{
	struct h_response r;

	ck_assert_msg(h_get(&w, "GET", target, &r) == 0, "%s: no answer", target);
	ck_assert_msg(r.status == status, "%s: got %d, want %d", target, r.status, status);
	if (body)
		ck_assert_msg(r.body && strcmp(r.body, body) == 0, "%s: body %s", target, r.body);
	h_response_free(&r);
}

/* A 301 to want; every Location wsd sends is a path: ^/[^/\\]. */
static void expect_location(const char *method, const char *target, const char *want)
{
	struct h_response r;
	char v[1024];

	ck_assert_msg(h_get(&w, method, target, &r) == 0, "%s: no answer", target);
	ck_assert_msg(r.status == 301, "%s: got %d, want 301", target, r.status);
	ck_assert_msg(h_header(&r, "Location", v, sizeof(v)) == 0, "%s: no Location", target);
	ck_assert_msg(strcmp(v, want) == 0, "%s: Location %s, want %s", target, v, want);
	ck_assert_msg(v[0] == '/' && v[1] != '/' && v[1] != '\\', "%s: Location %s", target, v);
	h_response_free(&r);
}

START_TEST(test_redirect_stays_on_site)
{
	static const char abs_req[] = "GET http://h//evil.example/../sub HTTP/1.1\r\nHost: h\r\n"
	                              "Connection: close\r\n\r\n";
	struct h_response r;
	char v[256];

	h_init(&w);
	h_write_file(&w, "index.html", "ROOT\n", 5);
	mkdir_root("sub");
	h_write_file(&w, "sub/index.html", "SUB\n", 4);
	mkdir_root("evil.example");
	mkdir_root("evil.example/sub");
	h_write_file(&w, "evil.example/sub/index.html", "EVIL\n", 5);
	mkdir_root("sp ace");
	h_write_file(&w, "sp ace/index.html", "SPACE\n", 6);
	h_start(&w, HB);

	expect_location("GET", "//evil.example/../sub", "/sub/");
	expect_location("GET", "/%2F%2Fevil.example/sub", "/evil.example/sub/");
	expect_location("GET", "/\\evil.example/../sub", "/sub/");
	expect_location("HEAD", "//evil.example/../sub?q=1&r=%2F", "/sub/?q=1&r=%2F");
	expect_location("GET", "/sp%20ace", "/sp%20ace/");
	expect_location("GET", "/sub?x=1", "/sub/?x=1");
	/* The root is never redirected: "//x/.." names it with its slash. */
	expect_get("//x/..", 200, "ROOT\n");
	expect_get("//evil.example/../sub/", 200, "SUB\n");
	ck_assert_int_eq(ask(abs_req, sizeof(abs_req) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 301);
	ck_assert_int_eq(h_header(&r, "Location", v, sizeof(v)), 0);
	ck_assert_str_eq(v, "/sub/");
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* "/file/" is 404 (nginx); a directory without an index: 301, then 403 with a reason. */
START_TEST(test_slash_rules)
{
	start_with_alpha(NULL);
	mkdir_root("noindex");
	h_write_file(&w, "noindex/x.txt", "x", 1);
	mkdir_root("odd \"dir");

	expect_get("/a.txt", 200, alpha);
	expect_get("/a.txt/", 404, NULL);
	expect_get("/a.txt/.", 404, NULL);
	expect_get("/a.txt/?q", 404, NULL);
	expect_location("GET", "/noindex", "/noindex/");
	expect_get("/noindex/", 403, NULL);
	expect_get("/noindex/x.txt", 200, "x");
	ck_assert(h_wait_log(&w, "forbidden: /noindex: directory without index", 5000));
	/* Logged as the clean path, encoded: no raw client bytes in the log. */
	expect_get("/odd%20%22dir/", 403, NULL);
	ck_assert(h_wait_log(&w, "forbidden: /odd%20%22dir: directory without index", 5000));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_symlinks_and_hidden)
{
	char target[PATH_MAX * 2];

	start_with_alpha(NULL);
	mkdir_root(".git");
	h_write_file(&w, ".git/config", "SECRET\n", 7);
	h_write_file(&w, ".env", "SECRET\n", 7);
	mkdir_root("releases");
	mkdir_root("releases/42");
	h_write_file(&w, "releases/42/index.html", "R42\n", 4);
	h_write_file(&w, "releases/42/f.txt", "F42\n", 4);
	mkdir_root(".well-known");
	mkdir_root(".well-known/acme-challenge");
	h_write_file(&w, ".well-known/acme-challenge/tok", "TOKEN\n", 6);
	h_write_text(strcat(strcpy(target, w.dir), "/outside.txt"), "OUTSIDE\n");

	link_root(".git/config", "x");
	link_root(".git", "gitdir");
	link_root(".env", "env");
	link_root("releases/42/f.txt", "rel");
	snprintf(target, sizeof(target), "%s/releases/42", w.root);
	link_root(target, "current"); /* absolute, as deployment tools make them */
	snprintf(target, sizeof(target), "%s/.git/config", w.root);
	link_root(target, "absgit");
	snprintf(target, sizeof(target), "%s/outside.txt", w.dir);
	link_root(target, "outabs");
	link_root("../outside.txt", "outrel");
	link_root("/nonexistent-wsd/x", "outdangling");

	/* A link does not reach a hidden file: the path opened is judged. */
	expect_get("/x", 404, NULL);
	expect_get("/gitdir/config", 404, NULL);
	expect_get("/env", 404, NULL);
	expect_get("/absgit", 404, NULL);
	expect_get("/.git/config", 404, NULL);
	/* Links inside the root are served, relative or absolute. */
	expect_get("/rel", 200, "F42\n");
	expect_get("/current/", 200, "R42\n");
	expect_get("/current/f.txt", 200, "F42\n");
	expect_location("GET", "/current", "/current/");
	/* Links out of the root are 403, and say why. */
	expect_get("/outabs", 403, NULL);
	expect_get("/outrel", 403, NULL);
	expect_get("/outdangling", 403, NULL); /* out, whether or not its target exists */
	ck_assert(h_wait_log(&w, "forbidden: /outabs: symlink leaves the root", 5000));
	ck_assert(h_wait_log(&w, "forbidden: /outrel: symlink leaves the root", 5000));
	/* .well-known first (ACME HTTP-01), and nowhere else. */
	expect_get("/.well-known/acme-challenge/tok", 200, "TOKEN\n");
	expect_get("/releases/.well-known/x", 404, NULL);
	expect_get("/.env", 404, NULL);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* At most a few 403 lines a second per worker; the rest are counted. */
START_TEST(test_forbidden_log_rate_limited)
{
	enum { N = 100 };
	static const char one[] = "GET /noindex/ HTTP/1.1\r\nHost: x\r\n\r\n";
	char *burst = malloc(N * (sizeof(one) - 1));
	struct h_response r;
	int fd, logged;
	uint64_t end;

	ck_assert_ptr_nonnull(burst);
	start_with_alpha(NULL);
	mkdir_root("noindex");
	for (int i = 0; i < N; i++)
		memcpy(burst + i * (sizeof(one) - 1), one, sizeof(one) - 1);
	fd = h_connect(&w);
	h_send_all(fd, burst, N * (sizeof(one) - 1));
	free(burst);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 403);
		h_response_free(&r);
	}
	logged = file_count(w.log, "forbidden: /noindex: directory without index");
	ck_assert_msg(logged >= 1 && logged < N / 2, "%d of %d forbidden lines logged", logged, N);
	/* In a later second, the next 403 says how many were left out. */
	end = h_now_ms() + 5000;
	while (!h_log_has(&w, "more forbidden lines suppressed") && h_now_ms() < end) {
		ck_assert_int_eq(h_send(fd, one), 0);
		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		h_response_free(&r);
		quiet_for(fd, 200); /* pacing: a few requests a second */
	}
	ck_assert(h_log_has(&w, "more forbidden lines suppressed"));
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- the access log ---- */

static char alog[PATH_MAX + 16];

static void start_logged(const char *extra)
{
	char conf[PATH_MAX + 256];

	h_init(&w);
	h_write_file(&w, "a.txt", alpha, sizeof(alpha) - 1);
	snprintf(alog, sizeof(alog), "%s/access.log", w.dir);
	snprintf(conf, sizeof(conf), "%s[log]\naccess_log = %s\n%s", HB, alog, extra ? extra : "");
	h_start(&w, conf);
}

static void wait_alog(const char *needle)
{
	struct file_wait fw = {alog, needle};

	ck_assert_msg(
	    h_wait_until(file_pred, &fw, h_bound_ms(5000)), "no access log line with %s", needle);
}

/* A request refused for a header or its version keeps its request line. */
START_TEST(test_access_log_refused_keeps_line)
{
	static const char nohost[] = "GET /nohost HTTP/1.1\r\n\r\n";
	static const char v2[] = "GET /v2 HTTP/2.0\r\nHost: x\r\n\r\n";
	static const char body[] =
	    "GET /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
	struct h_response r;

	start_logged(NULL);
	ck_assert_int_eq(ask(nohost, sizeof(nohost) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 400);
	h_response_free(&r);
	ck_assert_int_eq(ask(v2, sizeof(v2) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 505);
	h_response_free(&r);
	ck_assert_int_eq(ask(body, sizeof(body) - 1, 0, &r), 0);
	ck_assert_int_eq(r.status, 413);
	h_response_free(&r);
	wait_alog("\"GET /nohost HTTP/1.1\" 400 ");
	wait_alog("\"GET /v2 HTTP/2.0\" 505 ");
	wait_alog("\"GET /body HTTP/1.1\" 413 ");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A head that stalls after its request line: 408, and the line is still logged. */
START_TEST(test_access_log_timeout_keeps_line)
{
	static const char part[] = "GET /stalled HTTP/1.1\r\nHost: x\r\n";
	struct h_response r;
	int fd;

	start_logged("[http]\nheader_timeout = 300ms\n");
	fd = h_connect(&w);
	h_send_all(fd, part, sizeof(part) - 1);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 408);
	h_response_free(&r);
	close(fd);
	wait_alog("\"GET /stalled HTTP/1.1\" 408 ");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static void make_huge(void)
{
	char p[PATH_MAX * 2];
	int fd;

	snprintf(p, sizeof(p), "%s/huge.bin", w.root);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
	ck_assert_int_eq(ftruncate(fd, HUGE_SIZE), 0);
	close(fd);
}

/* GET /huge.bin and read the start of the answer: a response begun. */
static int begin_huge(void)
{
	static const char req[] = "GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	char buf[4096];
	int fd = h_connect(&w);
	ssize_t n;

	h_send_all(fd, req, sizeof(req) - 1);
	n = recv(fd, buf, sizeof(buf), 0);
	ck_assert_msg(n > 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0, "no 200 for /huge.bin");
	return fd;
}

/* The body bytes of the access-log line for /huge.bin: sent, and fewer than all. */
static void expect_huge_cut(void)
{
	static const char needle[] = "\"GET /huge.bin HTTP/1.1\" 200 ";
	char *log, *p;
	long long bytes;

	wait_alog(needle);
	log = slurp_file(alog);
	ck_assert_ptr_nonnull(log);
	p = strstr(log, needle) + sizeof(needle) - 1;
	bytes = strtoll(p, NULL, 10);
	ck_assert_msg(bytes > 0 && bytes < HUGE_SIZE, "cut response logged with %lld bytes", bytes);
	free(log);
}

/* A response cut short by the client: a line, with the bytes that went out. */
START_TEST(test_access_log_client_cut)
{
	int fd;

	start_logged(NULL);
	make_huge();
	fd = begin_huge();
	close(fd); /* with unread data: a reset */
	expect_huge_cut();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A response cut by the drain deadline of a worker told to stop: a line too. */
START_TEST(test_access_log_drain_cut)
{
	pid_t pids[16];
	int fd, n;

	start_logged("[server]\nshutdown_timeout = 1s\n");
	make_huge();
	fd = begin_huge();
	n = h_count_role(&w, "worker", pids, 16);
	ck_assert_int_ge(n, 1);
	for (int i = 0; i < n && i < 16; i++)
		ck_assert_int_eq(kill(pids[i], SIGTERM), 0);
	expect_huge_cut();
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- half-closed clients and a big file ---- */

START_TEST(test_half_close_and_big_file)
{
	char *data = random_bytes(BIG_SIZE);
	struct h_response r;
	int fd;

	h_init(&w);
	h_write_file(&w, "a.txt", alpha, sizeof(alpha) - 1);
	h_write_file(&w, "big.bin", data, BIG_SIZE);
	h_start(&w, HB);

	/* The request, then SHUT_WR: the answer still comes whole, then the end. */
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, alpha);
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);

	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.body_len, BIG_SIZE);
	ck_assert(memcmp(r.body, data, BIG_SIZE) == 0);
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);

	/* The big file twice on one connection, HEAD in between: framing exact. */
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd,
	                     "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	                     "HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	                     "GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
	    0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(h_read_response(fd, &r, i == 1), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_int_eq(r.content_length, BIG_SIZE);
		if (i != 1) {
			ck_assert_int_eq(r.body_len, BIG_SIZE);
			ck_assert(memcmp(r.body, data, BIG_SIZE) == 0);
		}
		h_response_free(&r);
	}
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
	close(fd);
	free(data);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- timeouts ---- */

START_TEST(test_keepalive_idle_closed_silently)
{
	struct h_response r;
	uint64_t t0, dt;
	int fd;

	start_with_alpha("[http]\nkeepalive_timeout = 500ms\nheader_timeout = 10s\n");
	fd = h_connect(&w);
	/* t0 before the request: the server's idle clock starts after its answer. */
	t0 = h_now_ms();
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	/* End of file with no bytes: no 408 for an idle connection. */
	ck_assert_int_eq(h_drain_to_eof(fd, 500 + LATE_MS + 1000), 0);
	dt = h_now_ms() - t0;
	expect_elapsed("idle close", dt, 500);
	close(fd);

	/* The same for an HTTP/1.0 keep-alive connection. */
	fd = h_connect(&w);
	t0 = h_now_ms();
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	expect_header(&r, "Connection", "keep-alive");
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, 500 + LATE_MS + 1000), 0);
	dt = h_now_ms() - t0;
	expect_elapsed("1.0 idle close", dt, 500);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static void expect_408(int fd, uint64_t t0, const char *what)
{
	struct h_response r;
	uint64_t dt;

	ck_assert_msg(h_read_response(fd, &r, 0) == 0, "%s: no answer", what);
	dt = h_now_ms() - t0;
	ck_assert_msg(r.status == 408, "%s: got %d, want 408", what, r.status);
	expect_elapsed(what, dt, 500);
	expect_error_page(what, &r);
	ck_assert_msg(has_conn_close(&r), "%s: 408 without Connection: close", what);
	h_response_free(&r);
	ck_assert_int_eq(h_drain_to_eof(fd, EOF_WAIT_MS), 0);
}

START_TEST(test_header_timeout)
{
	struct h_response r;
	uint64_t t0, dt;
	int fd;

	start_with_alpha("[http]\nheader_timeout = 500ms\nkeepalive_timeout = 30s\n");

	/* Part of a request, then nothing: 408 and close. */
	fd = h_connect(&w);
	t0 = h_now_ms();
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n"), 0);
	expect_408(fd, t0, "stalled head");
	close(fd);

	/* Not a byte: closed at the same timeout, with no answer at all. */
	fd = h_connect(&w);
	t0 = h_now_ms();
	ck_assert_int_eq(h_drain_to_eof(fd, 500 + LATE_MS + 1000), 0);
	dt = h_now_ms() - t0;
	expect_elapsed("silent connection closed", dt, 500);
	close(fd);

	/*
	 * On a keep-alive connection the clock starts with the next request:
	 * idle a while (under keepalive_timeout), then stall a request.
	 */
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	ck_assert_msg(quiet_for(fd, 700), "idle keep-alive connection not left alone");
	t0 = h_now_ms();
	ck_assert_int_eq(h_send(fd, "GET /a.txt HTT"), 0);
	expect_408(fd, t0, "stalled second request");
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * After a refused request the server lingers, reading what still comes,
 * for LINGER_MS at most: a client trickling bytes does not hold it longer.
 */
START_TEST(test_linger_ends)
{
	static const char bad[] = "BAD\r\n\r\n";
	struct h_response r;
	uint64_t t0, dt;
	int fd, closed = 0;

	start_with_alpha(NULL);
	fd = h_connect(&w);
	h_send_all(fd, bad, sizeof(bad) - 1);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 400);
	h_response_free(&r);
	t0 = h_now_ms();
	while (!closed && h_now_ms() - t0 < (uint64_t)(LINGER_MS + LATE_MS + 1000)) {
		struct pollfd p = {fd, 0, 0}; /* only errors: the server's FIN came long ago */

		if (send(fd, "x", 1, MSG_NOSIGNAL) == -1)
			closed = errno == EPIPE || errno == ECONNRESET;
		else if (poll(&p, 1, 100) == 1)
			closed = 1; /* a reset: the server closed for good */
	}
	dt = h_now_ms() - t0;
	ck_assert_msg(
	    closed, "still lingering after %llu ms of a byte every 100 ms", (unsigned long long)dt);
	ck_assert_msg(dt <= (uint64_t)(LINGER_MS + LATE_MS), "linger ended after %llu ms",
	    (unsigned long long)dt);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_slowloris)
{
	enum { NSLOW = 6, TICK_MS = 100, TIMEOUT_MS = 2000, PROMPT_MS = 1000 };
	static char slowreq[512];
	int slow[NSLOW], status[NSLOW], done = 0, normal = 0;
	uint64_t t0[NSLOW], tans[NSLOW], start, next;
	size_t sent[NSLOW];
	struct h_response r;

	snprintf(slowreq, sizeof(slowreq), "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: ");
	memset(slowreq + strlen(slowreq), 'z', sizeof(slowreq) - strlen(slowreq) - 1);
	start_with_alpha("[http]\nheader_timeout = 2s\nkeepalive_timeout = 30s\n");
	for (int i = 0; i < NSLOW; i++) {
		slow[i] = h_connect(&w);
		status[i] = 0;
		sent[i] = 0;
	}
	start = next = h_now_ms();
	while (done < NSLOW && h_now_ms() - start < (uint64_t)(TIMEOUT_MS + LATE_MS + 1000)) {
		uint64_t a, dt;

		/* One more header byte on every slow connection still waiting. */
		for (int i = 0; i < NSLOW; i++) {
			if (status[i] != 0 || sent[i] + 1 >= sizeof(slowreq))
				continue;
			if (sent[i] == 0)
				t0[i] = h_now_ms();
			if (send(slow[i], slowreq + sent[i], 1, MSG_NOSIGNAL) == 1)
				sent[i]++;
		}
		/* Meanwhile a normal client is served promptly. */
		a = h_now_ms();
		ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, alpha);
		h_response_free(&r);
		dt = h_now_ms() - a;
		/* Well under the header timeout the slow ones hold their connections for. */
		ck_assert_msg(dt < (uint64_t)h_bound_ms(PROMPT_MS),
		    "normal request took %llu ms among slow clients", (unsigned long long)dt);
		normal++;
		/* Until the next tick, take the answers the slow ones get. */
		next += TICK_MS;
		for (uint64_t now; (now = h_now_ms()) < next;) {
			struct pollfd p[NSLOW];
			int idx[NSLOW], n = 0;

			for (int i = 0; i < NSLOW; i++)
				if (status[i] == 0) {
					p[n] = (struct pollfd){slow[i], POLLIN, 0};
					idx[n++] = i;
				}
			if (n == 0 || poll(p, (nfds_t)n, (int)(next - now)) <= 0)
				continue;
			for (int k = 0; k < n; k++) {
				int i = idx[k];

				if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				tans[i] = h_now_ms();
				ck_assert_msg(h_read_response(slow[i], &r, 0) == 0,
				    "slow client %d: closed without an answer", i);
				status[i] = r.status;
				ck_assert_msg(has_conn_close(&r), "slow client %d: not closed", i);
				h_response_free(&r);
				done++;
			}
		}
	}
	ck_assert_msg(done == NSLOW,
	    "only %d of %d slow clients timed out within the header timeout and then some "
	    "(is the header timeout reset by each byte?)",
	    done, NSLOW);
	for (int i = 0; i < NSLOW; i++) {
		uint64_t dt = tans[i] - t0[i];

		ck_assert_msg(status[i] == 408, "slow client %d: %d, want 408", i, status[i]);
		ck_assert_msg(dt + 10 >= TIMEOUT_MS && dt <= (uint64_t)(TIMEOUT_MS + LATE_MS),
		    "slow client %d: 408 after %llu ms (%zu bytes sent), want %d (+ up to %d)", i,
		    (unsigned long long)dt, sent[i], TIMEOUT_MS, LATE_MS);
		ck_assert_uint_ge(sent[i], 5);
		ck_assert_int_eq(h_drain_to_eof(slow[i], EOF_WAIT_MS), 0);
		close(slow[i]);
	}
	ck_assert_int_ge(normal, 5); /* served throughout, even on a loaded machine */
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- conditional requests and ranges ---- */

static char *big_data;

static void start_big(void)
{
	big_data = random_bytes(BIG_SIZE);
	h_init(&w);
	h_write_file(&w, "big.bin", big_data, BIG_SIZE);
	set_mtime("big.bin", FIXED_MTIME);
	h_start(&w, HB);
}

static void stop_big(void)
{
	ck_assert_int_eq(h_stop(&w), 0);
	free(big_data);
}

/*
 * GET /big.bin with extra header lines and Connection: close; the answer
 * must have status want, and nothing may follow it (so a 304 has no body,
 * and every Content-Length is exact).
 */
static void cond_get(const char *extra, int want, struct h_response *r)
{
	char req[1024];
	int n = snprintf(req, sizeof(req),
	    "GET /big.bin HTTP/1.1\r\nHost: x\r\n%s"
	    "Connection: close\r\n\r\n",
	    extra);
	int fd = h_connect(&w);
	char what[600];
	long rest;

	/* The header lines on one line, for messages. */
	snprintf(what, sizeof(what), "%s", extra);
	for (char *p = what; (p = strstr(p, "\r\n")) != NULL;)
		memcpy(p, p[2] ? "; " : "\0", 2);
	h_send_all(fd, req, (size_t)n);
	ck_assert_msg(h_read_response(fd, r, want == 304) == 0, "[%s]: no answer", what);
	ck_assert_msg(r->status == want, "[%s]: got %d, want %d", what, r->status, want);
	rest = h_drain_to_eof(fd, EOF_WAIT_MS);
	ck_assert_msg(rest == 0, "[%s]: %ld bytes after the answer, want none", what, rest);
	close(fd);
}

static void current_etag(char *etag, size_t len)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "HEAD", "/big.bin", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(h_header(&r, "ETag", etag, len), 0);
	ck_assert_msg(etag[0] == '"', "strong ETag expected, got %s", etag);
}

static void expect_whole(const char *extra)
{
	struct h_response r;

	cond_get(extra, 200, &r);
	ck_assert_msg(r.body_len == BIG_SIZE && memcmp(r.body, big_data, BIG_SIZE) == 0,
	    "[%s]: not the whole file", extra);
	ck_assert_msg(h_header(&r, "Content-Range", (char[8]){0}, 8) == -1,
	    "[%s]: a 200 with Content-Range", extra);
	h_response_free(&r);
}

static void expect_range(const char *extra, size_t first, size_t last)
{
	struct h_response r;
	char want[128];

	cond_get(extra, 206, &r);
	snprintf(want, sizeof(want), "bytes %zu-%zu/%u", first, last, BIG_SIZE);
	expect_header(&r, "Content-Range", want);
	ck_assert_int_eq(r.content_length, (long)(last - first + 1));
	ck_assert_msg(
	    r.body_len == last - first + 1 && memcmp(r.body, big_data + first, r.body_len) == 0,
	    "[%s]: wrong bytes", extra);
	h_response_free(&r);
}

START_TEST(test_if_none_match)
{
	char etag[256], extra[600];
	struct h_response r;

	start_big();
	current_etag(etag, sizeof(etag));

	snprintf(extra, sizeof(extra), "If-None-Match: %s\r\n", etag);
	cond_get(extra, 304, &r);
	ck_assert_int_eq(r.body_len, 0);
	snprintf(extra, sizeof(extra), "If-None-Match: \"nope\", %s, \"other\"\r\n", etag);
	cond_get(extra, 304, &r);
	snprintf(extra, sizeof(extra), "If-None-Match: W/%s\r\n", etag);
	cond_get(extra, 304, &r);
	cond_get("If-None-Match: *\r\n", 304, &r);

	expect_whole("If-None-Match: \"nope\"\r\n");
	expect_whole("If-None-Match: \"nope\", W/\"other\"\r\n");
	stop_big();
}
END_TEST

START_TEST(test_if_modified_since)
{
	char lm[64], older[64], extra[256];
	struct h_response r;
	time_t t = FIXED_MTIME - 86400;
	struct tm tm;

	start_big();
	ck_assert_int_eq(h_get(&w, "HEAD", "/big.bin", &r), 0);
	ck_assert_int_eq(h_header(&r, "Last-Modified", lm, sizeof(lm)), 0);
	gmtime_r(&t, &tm);
	strftime(older, sizeof(older), "%a, %d %b %Y %H:%M:%S GMT", &tm);

	snprintf(extra, sizeof(extra), "If-Modified-Since: %s\r\n", lm);
	cond_get(extra, 304, &r);
	ck_assert_int_eq(r.body_len, 0);
	snprintf(extra, sizeof(extra), "If-Modified-Since: %s\r\n", older);
	expect_whole(extra);
	/* If-None-Match present: If-Modified-Since is not looked at (RFC 9110 13.1.3). */
	snprintf(extra, sizeof(extra), "If-None-Match: \"nope\"\r\nIf-Modified-Since: %s\r\n", lm);
	expect_whole(extra);
	stop_big();
}
END_TEST

START_TEST(test_ranges)
{
	char extra[128];
	struct h_response r;

	start_big();
	expect_range("Range: bytes=0-99\r\n", 0, 99);
	expect_range("Range: bytes=100-\r\n", 100, BIG_SIZE - 1);
	expect_range("Range: bytes=-100\r\n", BIG_SIZE - 100, BIG_SIZE - 1);
	/* A range that covers the whole file is still a range: 206 (RFC 9110 14). */
	expect_range("Range: bytes=0-\r\n", 0, BIG_SIZE - 1);
	snprintf(extra, sizeof(extra), "Range: bytes=-%u\r\n", BIG_SIZE);
	expect_range(extra, 0, BIG_SIZE - 1);
	snprintf(extra, sizeof(extra), "Range: bytes=0-%u\r\n", BIG_SIZE - 1);
	expect_range(extra, 0, BIG_SIZE - 1);
	/* A last position past the end means the end (RFC 9110 14.1.2). */
	snprintf(extra, sizeof(extra), "Range: bytes=1000-%u\r\n", 10 * BIG_SIZE);
	expect_range(extra, 1000, BIG_SIZE - 1);

	snprintf(extra, sizeof(extra), "Range: bytes=%u-\r\n", BIG_SIZE);
	cond_get(extra, 416, &r);
	snprintf(extra, sizeof(extra), "bytes */%u", BIG_SIZE);
	expect_header(&r, "Content-Range", extra);
	h_response_free(&r);

	/* Several ranges: the whole file. */
	expect_whole("Range: bytes=0-9,20-29\r\n");
	/* Malformed: ignored, the whole file. */
	expect_whole("Range: bytes=abc\r\n");
	expect_whole("Range: bytes=\r\n");
	expect_whole("Range: bytes 0-99\r\n");
	expect_whole("Range: bytes=0-99x\r\n");
	stop_big();
}
END_TEST

START_TEST(test_if_range)
{
	char etag[256], extra[600];

	start_big();
	current_etag(etag, sizeof(etag));
	snprintf(extra, sizeof(extra), "If-Range: %s\r\nRange: bytes=0-99\r\n", etag);
	expect_range(extra, 0, 99);
	expect_whole("If-Range: \"another\"\r\nRange: bytes=0-99\r\n");
	stop_big();
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("http");
	TCase *tt = tcase_create("timeouts");
	TCase *tcond = tcase_create("conditional");
	TCase *tp = tcase_create("paths");
	TCase *ta = tcase_create("accesslog");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_post_with_body_is_405);
	tcase_add_test(tc, test_keepalive_rules);
	tcase_add_test(tc, test_pipeline_50_in_one_write);
	tcase_add_test(tc, test_pipeline_mixed_then_bad);
	tcase_add_test(tc, test_200_headers);
	tcase_add_test(tc, test_strict_head);
	tcase_add_test(tc, test_strict_body_framing);
	tcase_add_test(tc, test_head_error_has_no_body);
	tcase_add_test(tc, test_error_answers_keep_connection_rules);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_versions_and_forms);
	tcase_add_test(tc, test_half_close_and_big_file);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tp, 60);
	tcase_add_test(tp, test_redirect_stays_on_site);
	tcase_add_test(tp, test_slash_rules);
	tcase_add_test(tp, test_symlinks_and_hidden);
	tcase_add_test(tp, test_forbidden_log_rate_limited);
	suite_add_tcase(s, tp);

	tcase_set_timeout(ta, 60);
	tcase_add_test(ta, test_access_log_refused_keeps_line);
	tcase_add_test(ta, test_access_log_timeout_keeps_line);
	tcase_add_test(ta, test_access_log_client_cut);
	tcase_add_test(ta, test_access_log_drain_cut);
	suite_add_tcase(s, ta);

	tcase_set_timeout(tt, 60);
	tcase_add_test(tt, test_keepalive_idle_closed_silently);
	tcase_add_test(tt, test_header_timeout);
	tcase_add_test(tt, test_linger_ends);
	tcase_add_test(tt, test_slowloris);
	suite_add_tcase(s, tt);

	/* Conditional requests and byte ranges. */
	tcase_set_timeout(tcond, 60);
	tcase_add_test(tcond, test_if_none_match);
	tcase_add_test(tcond, test_if_modified_since);
	tcase_add_test(tcond, test_ranges);
	tcase_add_test(tcond, test_if_range);
	suite_add_tcase(s, tcond);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http_suite());

	return check_run(sr, CK_NORMAL);
}
