/* The request parser: every rule with a good and a bad case. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static struct http_request req;

static int parse(const char *s)
{
	return http_parse_request(s, strlen(s), &req);
}

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

START_TEST(test_versions)
{
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n"), 0);
	ck_assert_int_eq(req.minor, 0);
	ck_assert_int_eq(req.keepalive, 0);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r\nHost: x\r\n\r\n"), -505);
	ck_assert_int_eq(parse("GET / HTTP/1.2\r\nHost: x\r\n\r\n"), -505);
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
	ck_assert_int_eq(parse_with("X-Bad : v"), -400);       /* space before colon */
	ck_assert_int_eq(parse_with("X Bad: v"), -400);
	ck_assert_int_eq(parse_with(": v"), -400);
	ck_assert_int_eq(parse_with("NoColon"), -400);
	ck_assert_int_eq(parse_with("X-A: a\r\n folded"), -400);  /* obs-fold */
	ck_assert_int_eq(parse_with("X-A: a\x01" "b"), -400);      /* control char */
	ck_assert_int_eq(parse_with("X-A: a\x7f"), -400);
	ck_assert_int_gt(parse_with("X-A: caf\xc3\xa9"), 0);       /* obs-text is fine */
	ck_assert_int_gt(parse_with("X-A:"), 0);                  /* empty value */
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
	ck_assert_int_gt(parse_with("Content-Length: 0\r\nContent-Length: 0"), 0);
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
	ck_assert_int_gt(parse_with("If-None-Match: \"abc\"\r\nRange: bytes=0-1\r\n"
	    "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-Range: \"abc\"\r\n"
	    "User-Agent: t/1\r\nReferer: http://r/"), 0);
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
	size_t n = http_error_response(out, sizeof(out), 404, 1, 0, 0);
	const char *body;
	int clen;

	ck_assert_int_gt(n, 0);
	ck_assert(strncmp(out, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	ck_assert_ptr_nonnull(strstr(out, "Connection: close\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
	body = strstr(out, "\r\n\r\n") + 4;
	ck_assert_int_eq(sscanf(strstr(out, "Content-Length: "), "Content-Length: %d", &clen), 1);
	ck_assert_int_eq((size_t)clen, strlen(body));
	n = http_error_response(out, sizeof(out), 405, 0, 1, 0);
	ck_assert_ptr_nonnull(strstr(out, "Allow: GET, HEAD, OPTIONS\r\n"));
	ck_assert_ptr_null(strstr(out, "Connection: close"));
	ck_assert(out[n - 1] == '\n' && out[n - 2] == '\r' && out[n - 3] == '\n');  /* HEAD: no body */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("parser");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_simple_get);
	tcase_add_test(tc, test_incomplete_needs_more);
	tcase_add_test(tc, test_bare_lf_and_leading_empty_lines);
	tcase_add_test(tc, test_pipelined_consumes_one);
	tcase_add_test(tc, test_methods);
	tcase_add_test(tc, test_request_line_shape);
	tcase_add_test(tc, test_versions);
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
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
