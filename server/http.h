/*
 * HTTP/1.1 request parsing and response heads. Pure functions over
 * buffers: no I/O, no allocation, so the parser is unit-tested and fuzzed
 * on its own.
 */
#ifndef WSD_HTTP_H
#define WSD_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define HTTP_MAX_REQUEST_LINE 8192
#define HTTP_MAX_HEADER_SECTION 8192
#define HTTP_MAX_FIELDS 100
/* What a connection buffers at most for one request head. */
#define HTTP_MAX_HEAD (HTTP_MAX_REQUEST_LINE + HTTP_MAX_HEADER_SECTION)

enum http_method {
	HTTP_M_GET, HTTP_M_HEAD, HTTP_M_OPTIONS,
	HTTP_M_OTHER,    /* a method we know and do not allow (405) */
	HTTP_M_UNKNOWN   /* a token we do not know (501) */
};

struct http_slice {
	const char *p;
	size_t len;
};

struct http_request {
	enum http_method method;
	struct http_slice method_name;
	struct http_slice target;     /* origin-form path (absolute form reduced) */
	int minor;                    /* HTTP/1.<minor>: 0 or 1 */
	int keepalive;                /* what the client asked for, with defaults */
	int has_host;
	int64_t content_length;       /* -1 when absent */
	struct http_slice if_none_match, if_modified_since, range, if_range;
	struct http_slice user_agent, referer;
};

/*
 * Parse the request head at the start of buf. Returns the number of bytes
 * the head takes (> 0) when complete and valid, 0 when more bytes are
 * needed, or -STATUS (-400, -414, -431, -501, -505, ...) when the request
 * must be refused. Slices in *req point into buf.
 */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* Reason phrase for a status code. */
const char *http_reason(int status);

/* RFC 9110 IMF-fixdate for t into out (at least 30 bytes). */
size_t http_date(time_t t, char *out, size_t len);

/*
 * The Date header value, formatted at most once a second. now is passed in
 * so callers that already know the time avoid a syscall.
 */
const char *http_date_cached(time_t now);

/*
 * A complete small error answer (head and HTML body) into out. Returns its
 * length. close_conn adds "Connection: close".
 */
size_t http_error_response(char *out, size_t len, int status, int close_conn,
    int head_only, time_t now);

#endif
