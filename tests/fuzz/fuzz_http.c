/*
 * libFuzzer: arbitrary bytes as a request head, through everything the
 * worker does with one before it opens a file: parse, conditionals,
 * range, target cleaning. ASan catches any read outside the input (the
 * fuzzer hands it over in an allocation of exactly its size); the checks
 * below catch answers that are in bounds but wrong.
 * The same bytes are also fed straight to the date, list and range
 * grammars, so they are explored without first building a valid head.
 */
#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "fuzz_check.h"
#include "http.h"
#include "resolve.h"

#define MTIME 784111777
#define OFF_MAX INT64_MAX

static const char *buf_lo, *buf_hi;

static void check_slice(struct http_slice s)
{
	uintptr_t p = (uintptr_t)s.p;

	if (s.p == NULL) {
		CHECK(s.len == 0);
		return;
	}
	CHECK(p >= (uintptr_t)buf_lo && p <= (uintptr_t)buf_hi);
	CHECK(s.len <= (uintptr_t)buf_hi - p);
}

/* A date that parses formats back (4-digit years) and parses again the same. */
static void check_date(const char *p, size_t n)
{
	char again[64];
	struct tm tm;
	time_t t, t2;

	if (http_parse_date(p, n, &t) == -1)
		return;
	CHECK(gmtime_r(&t, &tm) != NULL);
	if (tm.tm_year + 1900 < 1000 || tm.tm_year + 1900 > 9999)
		return;
	n = http_date(t, again, sizeof(again));
	CHECK(n == 29);
	CHECK(http_parse_date(again, n, &t2) == 0 && t2 == t);
}

static void check_range(const struct http_request *r, const char *etag)
{
	static const off_t sizes[] = {0, 1, 2, 100, 4096, OFF_MAX};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		off_t size = sizes[i], start = -7, len = -7;
		int rc = http_range(r, size, etag, MTIME, &start, &len);

		CHECK(rc == 0 || rc == 206 || rc == 416);
		if (rc == 206) {
			CHECK(start >= 0 && len > 0 && len <= size);
			CHECK(start <= size - len);
		} else {
			CHECK(start == -7 && len == -7);
		}
	}
}

static void check_conditionals(const struct http_request *r)
{
	char etag[HTTP_ETAG_MAX];

	CHECK(http_etag(etag, sizeof(etag), MTIME, 1234) > 0);
	CHECK((unsigned)http_not_modified(r, etag, MTIME) <= 1);
	CHECK((unsigned)http_not_modified(r, "W/\"x\"", 0) <= 1);
	check_range(r, etag);
	check_slice(r->if_modified_since);
	check_date(r->if_modified_since.p, r->if_modified_since.len);
}

static void check_target(struct http_slice t)
{
	char out[PATH_MAX - 16];

	if (resolve_target(t.p, t.len, out, sizeof(out)) == 0)
		check_clean_path(out, sizeof(out));
}

/* The refusal the worker would send: one whole head, and a body. */
static void check_refusal(int status)
{
	char out[1024];
	size_t n = http_status_response(
	    out, sizeof(out), status, "", "Connection: close\r\n", 0, 0, NULL);

	CHECK(n > 0 && n < sizeof(out) && out[n] == '\0');
	CHECK(memcmp(out, "HTTP/1.1 ", 9) == 0);
	CHECK(strcmp(http_reason(status), "Unknown") != 0);
	CHECK(strstr(out, "\r\n\r\n") != NULL);
}

static void check_parsed(const char *data, size_t size, int rc, const struct http_request *r)
{
	if (rc <= 0) {
		CHECK(rc == 0 || rc == -400 || rc == -413 || rc == -414 || rc == -431 ||
		    rc == -501 || rc == -505);
		if (rc < 0)
			check_refusal(-rc);
		return;
	}
	CHECK((size_t)rc <= size);
	CHECK(data[rc - 1] == '\n');
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(r->keepalive == 0 || r->keepalive == 1);
	CHECK(r->minor == 0 || r->has_host);
	/* A body is accepted only on methods we refuse (405/501, then close). */
	CHECK(r->content_length <= 0 || r->method == HTTP_M_OTHER || r->method == HTTP_M_UNKNOWN);
	CHECK(r->method_name.len > 0 && r->target.len > 0);
	check_slice(r->method_name);
	check_slice(r->target);
	check_slice(r->if_none_match);
	check_slice(r->range);
	check_slice(r->if_range);
	check_slice(r->user_agent);
	check_slice(r->referer);
	check_conditionals(r);
	if (r->target.p[0] == '/')
		check_target(r->target);
}

/* The bytes as one field value, for each grammar on its own. */
static void check_values(const char *data, size_t size)
{
	struct http_slice v = {data, size};
	struct http_request r = {.method = HTTP_M_GET, .content_length = -1};

	check_date(data, size);
	r.if_none_match = v;
	check_conditionals(&r);
	r.if_none_match = (struct http_slice){NULL, 0};
	r.range = v;
	check_conditionals(&r);
	r.range = (struct http_slice){"bytes=0-1", 9};
	r.if_range = v;
	check_conditionals(&r);
	r.if_range = (struct http_slice){NULL, 0};
	r.if_modified_since = v;
	check_conditionals(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct http_request r;
	int rc;

	buf_lo = p;
	buf_hi = p + size;
	rc = http_parse_request(p, size, &r);
	check_parsed(p, size, rc, &r);
	check_values(p, size);
	return 0;
}
