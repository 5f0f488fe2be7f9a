/* The request parser: every rule with a good and a bad case. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"

static struct http_request req;

static int parse(const char *s) { return http_parse_request(s, strlen(s), &req); }

/* A full, valid request around one header line. */
static int parse_with(const char *header)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", header);
	return parse(buf);
}

START_TEST(test_simple_get)
{
	const char *s = "GET /index.html HTTP/1.1\r\nHost: example\r\n\r\n";

	ck_assert_int_eq(parse(s), (int)strlen(s));
	ck_assert_int_eq(req.method, HTTP_M_GET);
	ck_assert_int_eq(req.target.len, 11);
	ck_assert(memcmp(req.target.p, "/index.html", 11) == 0);
	ck_assert_int_eq(req.minor, 1);
	ck_assert_int_eq(req.keepalive, 1);
	ck_assert_int_eq(req.content_length, -1);
}
END_TEST

START_TEST(test_incomplete_needs_more)
{
	ck_assert_int_eq(parse(""), 0);
	ck_assert_int_eq(parse("GET / HT"), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n"), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\r\n\r"), 0);
}
END_TEST

START_TEST(test_bare_lf_and_leading_empty_lines)
{
	ck_assert_int_gt(parse("GET / HTTP/1.1\nHost: x\n\n"), 0);
	ck_assert_int_gt(parse("\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	/* A bare CR inside a line is not a line ending. */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: x\ry\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_pipelined_consumes_one)
{
	const char *one = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
	char two[256];

	snprintf(two, sizeof(two), "%s%s", one, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_int_eq(parse(two), (int)strlen(one));
	ck_assert(memcmp(req.target.p, "/a", 2) == 0);
}
END_TEST

START_TEST(test_methods)
{
	ck_assert_int_gt(parse("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.method, HTTP_M_HEAD);
	ck_assert_int_gt(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.method, HTTP_M_OPTIONS);
	ck_assert_int_gt(parse("DELETE /x HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.method, HTTP_M_OTHER);
	ck_assert_int_gt(parse("BREW /x HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.method, HTTP_M_UNKNOWN);
	/* Methods are case-sensitive tokens; a non-token is a bad request. */
	ck_assert_int_gt(parse("get / HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.method, HTTP_M_UNKNOWN);
	ck_assert_int_eq(parse("G(T / HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
	/* "*" only with OPTIONS. */
	ck_assert_int_eq(parse("GET * HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_request_line_shape)
{
	ck_assert_int_eq(parse("GET  / HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET /\r\n\r\n"), -400);
	ck_assert_int_eq(parse(" GET / HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET / HTTP/1.1 \r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET relative HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
}
END_TEST

/* A refused request keeps its request line when it had one, for the access log. */
START_TEST(test_refused_keeps_request_line)
{
	static const struct {
		const char *in;
		int rc;
		const char *method, *target, *version;
	} c[] = {
	    {"GET /a HTTP/1.1\r\n\r\n", -400, "GET", "/a", "HTTP/1.1"},
	    {"HEAD /b HTTP/2.0\r\nHost: x\r\n\r\n", -505, "HEAD", "/b", "HTTP/2.0"},
	    {"GET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", -413, "GET", "/c",
	        "HTTP/1.1"},
	    {"GET /d HTTP/1.1\r\nHost: x\r\nbad line\r\n\r\n", -400, "GET", "/d", "HTTP/1.1"},
	    {"GET /e HTTX/1.1\r\n\r\n", -400, "GET", "/e", "HTTX/1.1"},
	};

	for (size_t k = 0; k < sizeof(c) / sizeof(c[0]); k++) {
		ck_assert_int_eq(parse(c[k].in), c[k].rc);
		ck_assert(req.method_name.len == strlen(c[k].method) &&
		    memcmp(req.method_name.p, c[k].method, req.method_name.len) == 0);
		ck_assert(req.target.len == strlen(c[k].target) &&
		    memcmp(req.target.p, c[k].target, req.target.len) == 0);
		ck_assert(req.version.len == strlen(c[k].version) &&
		    memcmp(req.version.p, c[k].version, req.version.len) == 0);
	}
	ck_assert_int_eq(req.method, HTTP_M_GET);
	ck_assert_int_eq(parse("GET  / HTTP/1.1\r\n\r\n"), -400);
	ck_assert_uint_eq(req.version.len, 0);
	ck_assert_int_eq(parse("GET /\r\n\r\n"), -400);
	ck_assert_uint_eq(req.version.len, 0);
}
END_TEST

START_TEST(test_versions)
{
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(req.minor, 0);
	ck_assert_int_eq(req.keepalive, 0);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), -505);
	/* An unknown 1.x minor is served as 1.1 (RFC 9110 2.5); another major is not. */
	ck_assert_int_gt(parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.minor, 1);
	ck_assert_int_eq(req.keepalive, 1);
	ck_assert_int_eq(parse("GET / HTTP/1.9\r\n\r\n"), -400); /* as 1.1: Host needed */
	ck_assert_int_eq(parse("GET / HTTP/3.0\r\nHost: x\r\n\r\n"), -505);
	ck_assert_int_eq(parse("GET / HTTP/0.9\r\nHost: x\r\n\r\n"), -505);
	ck_assert_int_eq(parse("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -505);
	ck_assert_int_eq(parse("GET / HTTX/1.1\r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET / HTTP/11\r\nHost: x\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET / http/1.1\r\nHost: x\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_absolute_form)
{
	ck_assert_int_gt(parse("GET http://example.com/a/b?q HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(req.target.len, 6);
	ck_assert(memcmp(req.target.p, "/a/b?q", 6) == 0);
	ck_assert_int_gt(parse("GET HTTP://example.com HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert(req.target.len == 1 && req.target.p[0] == '/');
	ck_assert_int_eq(parse("GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n"), -400);
}
END_TEST

START_TEST(test_host_rules)
{
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n"), -400);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), -400);
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_gt(parse("GET / HTTP/1.1\r\nhOsT: a\r\n\r\n"), 0);
	ck_assert_int_eq(req.has_host, 1);
}
END_TEST

START_TEST(test_field_syntax)
{
	ck_assert_int_gt(parse_with("X-Ok:  value with spaces \t"), 0);
	ck_assert_int_eq(parse_with("X-Bad : v"), -400); /* space before colon */
	ck_assert_int_eq(parse_with("X Bad: v"), -400);
	ck_assert_int_eq(parse_with(": v"), -400);
	ck_assert_int_eq(parse_with("NoColon"), -400);
	ck_assert_int_eq(parse_with("X-A: a\r\n folded"), -400); /* obs-fold */
	ck_assert_int_eq(parse_with("X-A: a\x01"
	                            "b"),
	    -400); /* control char */
	ck_assert_int_eq(parse_with("X-A: a\x7f"), -400);
	ck_assert_int_gt(parse_with("X-A: caf\xc3\xa9"), 0); /* obs-text is fine */
	ck_assert_int_gt(parse_with("X-A:"), 0);             /* empty value */
}
END_TEST

START_TEST(test_nul_anywhere)
{
	char buf[] = "GET / HTTP/1.1\r\nHost: x\r\nX: a?b\r\n\r\n";

	*strchr(buf, '?') = '\0';
	ck_assert_int_eq(http_parse_request(buf, sizeof(buf) - 1, &req), -400);
	memcpy(buf, "GET /?", 6);
	buf[5] = '\0';
	ck_assert_int_eq(http_parse_request(buf, sizeof(buf) - 1, &req), -400);
}
END_TEST

START_TEST(test_connection)
{
	ck_assert_int_gt(parse_with("Connection: close"), 0);
	ck_assert_int_eq(req.keepalive, 0);
	ck_assert_int_gt(parse_with("Connection: Keep-Alive, Upgrade"), 0);
	ck_assert_int_eq(req.keepalive, 1);
	ck_assert_int_gt(parse_with("Connection: keep-alive , CLOSE"), 0);
	ck_assert_int_eq(req.keepalive, 0);
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 0);
	ck_assert_int_eq(req.keepalive, 1);
}
END_TEST

START_TEST(test_content_length)
{
	ck_assert_int_gt(parse_with("Content-Length: 0"), 0);
	ck_assert_int_eq(req.content_length, 0);
	/* Twice, even with the same value: refused, as the list form "0, 0" is. */
	ck_assert_int_eq(parse_with("Content-Length: 0\r\nContent-Length: 0"), -400);
	ck_assert_int_eq(parse_with("Content-Length: 0, 0"), -400);
	ck_assert_int_eq(parse_with("Content-Length: -1"), -400);
	ck_assert_int_eq(parse_with("Content-Length: abc"), -400);
	ck_assert_int_eq(parse_with("Content-Length: 1 2"), -400);
	ck_assert_int_eq(parse_with("Content-Length:"), -400);
	ck_assert_int_eq(parse_with("Content-Length: 5\r\nContent-Length: 6"), -400);
	ck_assert_int_eq(parse_with("Content-Length: 5"), -413);
	ck_assert_int_eq(parse_with("Content-Length: 99999999999999999999"), -400);
}
END_TEST

START_TEST(test_transfer_encoding)
{
	ck_assert_int_eq(parse_with("Transfer-Encoding: chunked"), -501);
	ck_assert_int_eq(parse_with("Transfer-Encoding: chunked\r\nContent-Length: 0"), -400);
	ck_assert_int_eq(parse_with("Content-Length: 3\r\nTransfer-Encoding: gzip"), -400);
}
END_TEST

START_TEST(test_interesting_headers_kept)
{
	ck_assert_int_gt(
	    parse_with("If-None-Match: \"abc\"\r\nRange: bytes=0-1\r\n"
	               "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Range: \"abc\"\r\n"
	               "User-Agent: t/1\r\nReferer: http://r/"),
	    0);
	ck_assert_int_eq(req.if_none_match.len, 5);
	ck_assert(memcmp(req.range.p, "bytes=0-1", 9) == 0);
	ck_assert_int_eq(req.if_modified_since.len, 29);
	ck_assert_int_eq(req.if_range.len, 5);
	ck_assert(memcmp(req.user_agent.p, "t/1", 3) == 0);
	ck_assert_int_eq(req.referer.len, 9);
}
END_TEST

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);

	memset(p, c, n);
	p[n] = '\0';
	return p;
}

START_TEST(test_limits)
{
	char *longpath = repeat('a', HTTP_MAX_REQUEST_LINE);
	char *buf = malloc(HTTP_MAX_HEAD * 2);
	char *value = repeat('v', 100);
	int n;

	/* Request line over 8 KiB: 414 even before its end arrives. */
	n = sprintf(buf, "GET /%s", longpath);
	ck_assert_int_eq(http_parse_request(buf, (size_t)n, &req), -414);
	sprintf(buf, "GET /%s HTTP/1.1\r\nHost: x\r\n\r\n", longpath);
	ck_assert_int_eq(parse(buf), -414);
	/* Just under the limit is fine. */
	sprintf(buf, "GET /%.*s HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_MAX_REQUEST_LINE - 20, longpath);
	ck_assert_int_gt(parse(buf), 0);

	/* 100 fields are fine, 101 are not. */
	n = sprintf(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 99; i++)
		n += sprintf(buf + n, "X-%d: 1\r\n", i);
	sprintf(buf + n, "\r\n");
	ck_assert_int_gt(parse(buf), 0);
	sprintf(buf + n, "X-last: 1\r\n\r\n");
	ck_assert_int_eq(parse(buf), -431);

	/* A header section over 8 KiB: 431, complete or not. */
	n = sprintf(buf, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; n < HTTP_MAX_HEADER_SECTION + 200; i++)
		n += sprintf(buf + n, "X-%d: %s\r\n", i % 50, value);
	ck_assert_int_eq(http_parse_request(buf, (size_t)n, &req), -431);
	free(longpath);
	free(value);
	free(buf);
}
END_TEST

START_TEST(test_error_response)
{
	char out[1024];
	size_t blen = 0;
	size_t n = http_status_response(
	    out, sizeof(out), 404, "", "Connection: close\r\n", 0, 0, &blen);
	const char *body;
	int clen;

	ck_assert_int_gt(n, 0);
	ck_assert(strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
	body = strstr(out, "\r\n\r\n") + 4;
	ck_assert_int_eq(sscanf(strstr(out, "Content-Length: "), "Content-Length: %d", &clen), 1);
	ck_assert_int_eq((size_t)clen, strlen(body));
	ck_assert_uint_eq(blen, strlen(body));
	n = http_status_response(out, sizeof(out), 405, "", "", 1, 0, &blen);
	ck_assert_uint_eq(blen, 0);
	ck_assert_ptr_nonnull(strstr(out, "Allow: GET, HEAD, OPTIONS\r\n"));
	ck_assert_ptr_null(strstr(out, "Connection: close"));
	ck_assert(
	    out[n - 1] == '\n' && out[n - 2] == '\r' && out[n - 3] == '\n'); /* HEAD: no body */
	n = http_status_response(out, sizeof(out), 301, "Location: /d/\r\n", "", 0, 0, NULL);
	ck_assert(strncmp(out, "HTTP/1.1 301 Moved Permanently\r\n", 32) == 0);
	ck_assert_ptr_nonnull(strstr(out, "\r\nLocation: /d/\r\n"));
	/* What does not fit is not sent cut short. */
	ck_assert_uint_eq(http_status_response(out, 64, 404, "", "", 0, 0, NULL), 0);
}
END_TEST

/* ---- validators, dates, conditionals, ranges ---- */

/* The file every conditional test asks about. */
#define MTIME 784111777         /* Sun, 06 Nov 1994 08:49:37 GMT */
#define ETAG "\"2ebc98a1-4d2\"" /* http_etag(MTIME, 1234) */

static time_t date_of(const char *s)
{
	time_t t = 0;

	return http_parse_date(s, strlen(s), &t) == 0 ? t : (time_t)-12345;
}

static int bad_date(const char *s)
{
	time_t t;

	return http_parse_date(s, strlen(s), &t) == -1;
}

START_TEST(test_etag_format)
{
	char out[HTTP_ETAG_MAX];

	ck_assert_int_eq(http_etag(out, sizeof(out), MTIME, 1234), strlen(ETAG));
	ck_assert_str_eq(out, ETAG);
	ck_assert_int_eq(http_etag(out, sizeof(out), 0, 0), 5);
	ck_assert_str_eq(out, "\"0-0\"");
	/* The widest one fits HTTP_ETAG_MAX exactly. */
	ck_assert_int_eq(http_etag(out, sizeof(out), (time_t)-1, INT64_MAX), 35);
	ck_assert_str_eq(out, "\"ffffffffffffffff-7fffffffffffffff\"");
	/* Too small: nothing, and an empty string. */
	ck_assert_int_eq(http_etag(out, 5, MTIME, 1234), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(test_date_imf_fixdate)
{
	ck_assert_int_eq(date_of("Sun, 06 Nov 1994 08:49:37 GMT"), MTIME);
	ck_assert_int_eq(date_of("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
	ck_assert_int_eq(date_of("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
	ck_assert_int_eq(date_of("Thu, 29 Feb 2024 12:00:00 GMT"), 1709208000);
	ck_assert_int_eq(date_of("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
	ck_assert_int_eq(date_of("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799LL);
	ck_assert_int_eq(date_of("Mon, 01 Jan 0001 00:00:00 GMT"), -62135596800LL);
	ck_assert_int_eq(date_of("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
	/* The day name is checked for spelling only. */
	ck_assert_int_eq(date_of("Mon, 06 Nov 1994 08:49:37 GMT"), MTIME);
}
END_TEST

START_TEST(test_date_obsolete_forms)
{
	ck_assert_int_eq(date_of("Sunday, 06-Nov-94 08:49:37 GMT"), MTIME);
	ck_assert_int_eq(date_of("Friday, 01-Jan-21 00:00:00 GMT"), 1609459200);
	ck_assert_int_eq(date_of("Wednesday, 31-Dec-69 23:59:59 GMT") > 0, 1);
	ck_assert_int_eq(date_of("Sun Nov  6 08:49:37 1994"), MTIME);
	ck_assert_int_eq(date_of("Sun Nov 06 08:49:37 1994"), MTIME);
	ck_assert_int_eq(date_of("Tue Feb 29 00:00:00 2000"), 951782400);
}
END_TEST

/* Two-digit years: 5.6.7's 50-year window around the current year. */
START_TEST(test_date_two_digit_year)
{
	time_t now = time(NULL), t;
	struct tm tm;
	char s[64];
	int cur, ahead;

	gmtime_r(&now, &tm);
	cur = tm.tm_year + 1900;
	/* 50 years ahead is still this century's reading, 51 is not. */
	ahead = (cur + 50) % 100;
	snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", ahead);
	ck_assert_int_eq(http_parse_date(s, strlen(s), &t), 0);
	gmtime_r(&t, &tm);
	ck_assert_int_eq(tm.tm_year + 1900, cur + 50);
	snprintf(s, sizeof(s), "Monday, 01-Jan-%02d 00:00:00 GMT", (ahead + 1) % 100);
	ck_assert_int_eq(http_parse_date(s, strlen(s), &t), 0);
	gmtime_r(&t, &tm);
	ck_assert_int_eq(tm.tm_year + 1900, cur + 51 - 100);
}
END_TEST

START_TEST(test_date_invalid)
{
	time_t t = 42;

	ck_assert(http_parse_date(NULL, 0, &t) == -1);
	ck_assert(bad_date(""));
	ck_assert(bad_date("Sun, 06 Nov 1994 08:49:37 UTC"));
	ck_assert(bad_date("Sun, 06 Nov 1994 08:49:37 gmt"));
	ck_assert(bad_date("sun, 06 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nev 1994 08:49:37 GMT"));
	ck_assert(bad_date("Xyz, 06 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 6 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 1994 8:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 94 08:49:37 GMT"));
	ck_assert(bad_date("Sun,  06 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date(" Sun, 06 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 1994 08:49:37 GMT "));
	ck_assert(bad_date("Sun, 06 Nov 1994 24:00:00 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 1994 23:60:00 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 1994 23:59:61 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 1994 08-49-37 GMT"));
	ck_assert(bad_date("Sun, 00 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 31 Nov 1994 08:49:37 GMT"));
	ck_assert(bad_date("Wed, 29 Feb 2023 08:49:37 GMT"));
	ck_assert(bad_date("Mon, 29 Feb 2100 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nov 19x4 08:49:37 GMT"));
	ck_assert(bad_date("Sun, 06 Nov +994 08:49:37 GMT"));
	/* n is the whole field value: a NUL after a date is not a date. */
	ck_assert(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", 30, &t) == -1);
	ck_assert(http_parse_date("Sun, 06 Nov 1994 08:49:37 GMT", 28, &t) == -1);
	/* RFC 850 */
	ck_assert(bad_date("Sun, 06-Nov-94 08:49:37 GMT"));
	ck_assert(bad_date("sunday, 06-Nov-94 08:49:37 GMT"));
	ck_assert(bad_date("Sunday, 06-Nov-1994 08:49:37 GMT"));
	ck_assert(bad_date("Sunday, 06 Nov 94 08:49:37 GMT"));
	ck_assert(bad_date("Sunday, 31-Apr-94 08:49:37 GMT"));
	ck_assert(bad_date("Sunday,06-Nov-94 08:49:37 GMT"));
	ck_assert(bad_date(", 06-Nov-94 08:49:37 GMT"));
	/* asctime */
	ck_assert(bad_date("Sun Nov 6 08:49:37 1994"));
	ck_assert(bad_date("Sun Nov  6 08:49:37 94"));
	ck_assert(bad_date("Sun Nov 6  08:49:37 1994"));
	ck_assert(bad_date("Sun Nov  0 08:49:37 1994"));
	ck_assert(bad_date("Sunday Nov  6 08:49:37 1994"));
	ck_assert_int_eq(t, 42); /* untouched on failure */
}
END_TEST

/* A GET of one file with extra header lines: the parse must succeed. */
static void get_with(const char *headers) { ck_assert_int_gt(parse_with(headers), 0); }

static int not_modified(const char *headers)
{
	get_with(headers);
	return http_not_modified(&req, ETAG, MTIME);
}

START_TEST(test_none_match)
{
	ck_assert_int_eq(not_modified("X: none"), 0);
	ck_assert_int_eq(not_modified("If-None-Match: " ETAG), 1);
	ck_assert_int_eq(not_modified("If-None-Match: W/" ETAG), 1); /* weak comparison */
	ck_assert_int_eq(not_modified("If-None-Match: \"other\""), 0);
	ck_assert_int_eq(not_modified("If-None-Match: *"), 1);
	ck_assert_int_eq(not_modified("If-None-Match: \"a\", " ETAG), 1);
	ck_assert_int_eq(not_modified("If-None-Match: \"a\",W/" ETAG " ,\"b\""), 1);
	ck_assert_int_eq(not_modified("If-None-Match: ,\t\"a\" ,, " ETAG ","), 1);
	ck_assert_int_eq(not_modified("If-None-Match: \"a\", \"b\""), 0);
	/* A comma inside the quotes belongs to the tag. */
	ck_assert_int_eq(not_modified("If-None-Match: \"2ebc98a1,4d2\""), 0);
	ck_assert_int_eq(not_modified("If-None-Match: \"x,\"," ETAG), 1);
	/* Case matters in tags, and in the weak prefix. */
	ck_assert_int_eq(not_modified("If-None-Match: \"2EBC98A1-4D2\""), 0);
	ck_assert_int_eq(not_modified("If-None-Match: w/" ETAG), 0);
	/* Malformed lists match nothing. */
	ck_assert_int_eq(not_modified("If-None-Match: 2ebc98a1-4d2"), 0);
	ck_assert_int_eq(not_modified("If-None-Match: " ETAG " junk"), 0);
	ck_assert_int_eq(not_modified("If-None-Match: " ETAG ", \"unterminated"), 0);
	ck_assert_int_eq(not_modified("If-None-Match: \"a b\", " ETAG), 0);
	ck_assert_int_eq(not_modified("If-None-Match: *, " ETAG), 0);
	ck_assert_int_eq(not_modified("If-None-Match:"), 0);
	ck_assert_int_eq(not_modified("If-None-Match: W/"), 0);
	/* Our own tag, weak or not, compares the same way. */
	get_with("If-None-Match: " ETAG);
	ck_assert_int_eq(http_not_modified(&req, "W/" ETAG, MTIME), 1);
	ck_assert_int_eq(http_not_modified(&req, "garbage", MTIME), 0);
}
END_TEST

START_TEST(test_modified_since)
{
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"), 1);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun, 06 Nov 1994 08:49:38 GMT"), 1);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun, 06 Nov 1994 08:49:36 GMT"), 0);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sunday, 06-Nov-94 08:49:37 GMT"), 1);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun Nov  6 08:49:37 1994"), 1);
	/* Invalid or repeated: ignored. */
	ck_assert_int_eq(not_modified("If-Modified-Since: yesterday"), 0);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT, x"), 0);
	ck_assert_int_eq(not_modified("If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
	                              "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"),
	    0);
	ck_assert_int_eq(req.repeated, HTTP_REP_IMS);
}
END_TEST

START_TEST(test_precondition_order)
{
	/* If-None-Match present: If-Modified-Since is not looked at. */
	ck_assert_int_eq(not_modified("If-None-Match: \"other\"\r\n"
	                              "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"),
	    0);
	ck_assert_int_eq(not_modified("If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
	                              "If-None-Match: " ETAG),
	    1);
	ck_assert_int_eq(not_modified("If-None-Match: bad\r\n"
	                              "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT"),
	    0);
	/* Only GET and HEAD. */
	ck_assert_int_gt(parse("HEAD / HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"), 0);
	ck_assert_int_eq(http_not_modified(&req, ETAG, MTIME), 1);
	ck_assert_int_gt(parse("OPTIONS * HTTP/1.1\r\nHost: x\r\nIf-None-Match: *\r\n\r\n"), 0);
	ck_assert_int_eq(http_not_modified(&req, ETAG, MTIME), 0);
}
END_TEST

static off_t rstart, rlen;

static int range_of(const char *headers, off_t size)
{
	get_with(headers);
	rstart = rlen = -7;
	return http_range(&req, size, ETAG, MTIME, &rstart, &rlen);
}

#define ck_range(h, size, status, s, l) \
	do { \
		ck_assert_int_eq(range_of(h, size), status); \
		ck_assert_int_eq(rstart, s); \
		ck_assert_int_eq(rlen, l); \
	} while (0)

START_TEST(test_range_forms)
{
	ck_range("X: no range", 100, 0, -7, -7);
	ck_range("Range: bytes=0-9", 100, 206, 0, 10);
	ck_range("Range: bytes=10-10", 100, 206, 10, 1);
	ck_range("Range: bytes=90-", 100, 206, 90, 10);
	ck_range("Range: bytes=0-", 100, 206, 0, 100);
	ck_range("Range: bytes=-10", 100, 206, 90, 10);
	ck_range("Range: bytes=99-99", 100, 206, 99, 1);
	ck_range("Range: BYTES=1-2", 100, 206, 1, 2); /* the unit is case-insensitive */
	/* OWS around the range-spec and commas; empty elements skipped. */
	ck_range("Range: bytes= 1-2 ", 100, 206, 1, 2);
	ck_range("Range: bytes=\t1-2\t,", 100, 206, 1, 2);
	ck_range("Range: bytes=, ,1-2", 100, 206, 1, 2);
}
END_TEST

START_TEST(test_range_clamping)
{
	ck_range("Range: bytes=50-1000", 100, 206, 50, 50);
	ck_range("Range: bytes=0-99", 100, 206, 0, 100);
	ck_range("Range: bytes=0-9223372036854775807", 100, 206, 0, 100);
	ck_range("Range: bytes=-100", 100, 206, 0, 100);
	ck_range("Range: bytes=-1000", 100, 206, 0, 100); /* suffix bigger than the file */
	ck_range("Range: bytes=-9223372036854775807", 100, 206, 0, 100);
	ck_range("Range: bytes=0-0", 1, 206, 0, 1);
	ck_range("Range: bytes=-1", 1, 206, 0, 1);
}
END_TEST

START_TEST(test_range_unsatisfiable)
{
	ck_range("Range: bytes=100-", 100, 416, -7, -7);
	ck_range("Range: bytes=100-200", 100, 416, -7, -7);
	ck_range("Range: bytes=9223372036854775807-", 100, 416, -7, -7);
	ck_range("Range: bytes=-0", 100, 416, -7, -7);
	/* An empty file: no int-range fits, -0 neither... */
	ck_range("Range: bytes=0-", 0, 416, -7, -7);
	ck_range("Range: bytes=0-0", 0, 416, -7, -7);
	ck_range("Range: bytes=-0", 0, 416, -7, -7);
	/* ...a non-zero suffix would be zero bytes: the whole (empty) file. */
	ck_range("Range: bytes=-5", 0, 0, -7, -7);
}
END_TEST

START_TEST(test_range_ignored)
{
	/* Malformed: ignored, the whole file. */
	ck_range("Range: bytes=5-4", 100, 0, -7, -7);
	ck_range("Range: bytes=", 100, 0, -7, -7);
	ck_range("Range: bytes=,", 100, 0, -7, -7);
	ck_range("Range: bytes=-", 100, 0, -7, -7);
	ck_range("Range: bytes=--5", 100, 0, -7, -7);
	ck_range("Range: bytes=a-b", 100, 0, -7, -7);
	ck_range("Range: bytes=1-2x", 100, 0, -7, -7);
	ck_range("Range: bytes=+1-2", 100, 0, -7, -7);
	ck_range("Range: bytes=1 -2", 100, 0, -7, -7);
	ck_range("Range: bytes=1- 2", 100, 0, -7, -7);
	ck_range("Range: bytes=0x10-", 100, 0, -7, -7);
	ck_range("Range: bytes = 1-2", 100, 0, -7, -7);
	ck_range("Range: bytes=1-2;x", 100, 0, -7, -7);
	ck_range("Range: bytes", 100, 0, -7, -7);
	ck_range("Range: bytes=0-9223372036854775808", 100, 0, -7, -7); /* overflow */
	ck_range("Range: bytes=99999999999999999999-", 100, 0, -7, -7);
	ck_range("Range: bytes=-99999999999999999999", 100, 0, -7, -7);
	/* Another unit. */
	ck_range("Range: items=0-1", 100, 0, -7, -7);
	ck_range("Range: bytesx=0-1", 100, 0, -7, -7);
	/* Several ranges: our choice is the whole file, satisfiable or not. */
	ck_range("Range: bytes=0-1,5-6", 100, 0, -7, -7);
	ck_range("Range: bytes=0-0, -1", 100, 0, -7, -7);
	ck_range("Range: bytes=200-300, 400-", 100, 0, -7, -7);
	/* Repeated Range: invalid, ignored. */
	ck_range("Range: bytes=0-1\r\nRange: bytes=0-1", 100, 0, -7, -7);
	/* Range is for GET only. */
	ck_assert_int_gt(parse("HEAD / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\r\n"), 0);
	ck_assert_int_eq(http_range(&req, 100, ETAG, MTIME, &rstart, &rlen), 0);
}
END_TEST

START_TEST(test_if_range)
{
	/* Strong comparison with our strong tag. */
	ck_range("Range: bytes=0-1\r\nIf-Range: " ETAG, 100, 206, 0, 2);
	ck_range("Range: bytes=0-1\r\nIf-Range: \"other\"", 100, 0, -7, -7);
	ck_range("Range: bytes=0-1\r\nIf-Range: W/" ETAG, 100, 0, -7, -7);
	ck_range("Range: bytes=0-1\r\nIf-Range: " ETAG ", \"b\"", 100, 0, -7, -7);
	/* A date: exactly our mtime. */
	ck_range("Range: bytes=0-1\r\nIf-Range: Sun, 06 Nov 1994 08:49:37 GMT", 100, 206, 0, 2);
	ck_range("Range: bytes=0-1\r\nIf-Range: Sun, 06 Nov 1994 08:49:38 GMT", 100, 0, -7, -7);
	ck_range("Range: bytes=0-1\r\nIf-Range: Sun, 06 Nov 1994 08:49:36 GMT", 100, 0, -7, -7);
	ck_range("Range: bytes=0-1\r\nIf-Range: Wed, 06 Nov 1994 08:49:37 GMT", 100, 206, 0, 2);
	/* Neither: false. */
	ck_range("Range: bytes=0-1\r\nIf-Range: soon", 100, 0, -7, -7);
	ck_range("Range: bytes=0-1\r\nIf-Range:", 100, 0, -7, -7);
	/* False If-Range wins over a 416. */
	ck_range("Range: bytes=500-\r\nIf-Range: \"other\"", 100, 0, -7, -7);
	ck_range("Range: bytes=500-\r\nIf-Range: " ETAG, 100, 416, -7, -7);
	/* Repeated If-Range: ignored with its Range. */
	ck_range("Range: bytes=0-1\r\nIf-Range: " ETAG "\r\nIf-Range: " ETAG, 100, 0, -7, -7);
	/* Our tag weak (should it ever be): no strong match possible. */
	get_with("Range: bytes=0-1\r\nIf-Range: " ETAG);
	ck_assert_int_eq(http_range(&req, 100, "W/" ETAG, MTIME, &rstart, &rlen), 0);
}
END_TEST

START_TEST(test_absolute_form_stays_in_buffer)
{
	const char *s = "GET http://example.com HTTP/1.1\r\nHost: x\r\n\r\n";

	ck_assert_int_gt(parse(s), 0);
	ck_assert(req.target.p >= s && req.target.p + req.target.len <= s + strlen(s));
	ck_assert(req.target.len == 1 && req.target.p[0] == '/');
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("parser");
	SRunner *sr;

	tcase_add_test(tc, test_simple_get);
	tcase_add_test(tc, test_incomplete_needs_more);
	tcase_add_test(tc, test_bare_lf_and_leading_empty_lines);
	tcase_add_test(tc, test_pipelined_consumes_one);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_request_line_shape);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_refused_keeps_request_line);
	tcase_add_test(tc, test_absolute_form);
	tcase_add_test(tc, test_host_rules);
	tcase_add_test(tc, test_field_syntax);
	tcase_add_test(tc, test_nul_anywhere);
	tcase_add_test(tc, test_connection);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_transfer_encoding);
	tcase_add_test(tc, test_interesting_headers_kept);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_error_response);
	tcase_add_test(tc, test_absolute_form_stays_in_buffer);
	suite_add_tcase(s, tc);

	tc = tcase_create("validators");
	tcase_add_test(tc, test_etag_format);
	tcase_add_test(tc, test_date_imf_fixdate);
	tcase_add_test(tc, test_date_obsolete_forms);
	tcase_add_test(tc, test_date_two_digit_year);
	tcase_add_test(tc, test_date_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("conditionals");
	tcase_add_test(tc, test_none_match);
	tcase_add_test(tc, test_modified_since);
	tcase_add_test(tc, test_precondition_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("ranges");
	tcase_add_test(tc, test_range_forms);
	tcase_add_test(tc, test_range_clamping);
	tcase_add_test(tc, test_range_unsatisfiable);
	tcase_add_test(tc, test_range_ignored);
	tcase_add_test(tc, test_if_range);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
