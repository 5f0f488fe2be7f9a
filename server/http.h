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
	HTTP_M_GET,
	HTTP_M_HEAD,
	HTTP_M_OPTIONS,
	HTTP_M_OTHER,  /* a method we know and do not allow (405) */
	HTTP_M_UNKNOWN /* a token we do not know (501) */
};

struct http_slice {
	const char *p;
	size_t len;
};

struct http_request {
	enum http_method method;
	struct http_slice method_name;
	struct http_slice target;  /* origin-form path (absolute form reduced) */
	struct http_slice version; /* as received: "HTTP/1.1", "HTTP/1.2", "HTTP/2.0" */
	int minor;                 /* HTTP/1.<minor>: 0 or 1 (an unknown 1.x is 1) */
	int keepalive;             /* what the client asked for, with defaults */
	int has_host;
	int64_t content_length; /* -1 when absent */
	struct http_slice if_none_match, if_modified_since, range, if_range;
	struct http_slice user_agent, referer;
	unsigned repeated; /* HTTP_REP_*: singleton fields sent twice */
};

/* Fields that must appear once; a repeat makes them invalid (ignored). */
#define HTTP_REP_IMS 0x1 /* If-Modified-Since */
#define HTTP_REP_RANGE 0x2
#define HTTP_REP_IF_RANGE 0x4

/*
 * Parse the request head at the start of buf. Returns the number of bytes
 * the head takes (> 0) when complete and valid, 0 when more bytes are
 * needed, or -STATUS (-400, -414, -431, -501, -505, ...) when the request
 * must be refused. Slices in *req point into buf. On a refusal,
 * method_name, method, target and version are still set (version.len > 0)
 * when the request line had its three parts, for the access log and for a
 * HEAD's answer without a body.
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
 * A complete small answer whose body is an HTML page naming the status
 * (the head only for HEAD): every error, and 301 and 416. extra holds
 * further header lines ("" for none: "Location: ...\r\n", "Content-Range:
 * ...\r\n"); a 405 carries Allow by itself. connection is the Connection
 * header line ("Connection: close\r\n", "Connection: keep-alive\r\n" or
 * ""). Returns the length, or 0 when it does not fit in len; *body_len
 * (if not NULL) gets the body's length.
 */
size_t http_status_response(char *out, size_t len, int status, const char *extra,
    const char *connection, int head_only, time_t now, size_t *body_len);

/* The Connection header line an answer carries. */
const char *http_connection_header(int keepalive, int minor);

/*
 * Validators and conditional requests (RFC 9110 8.8, 13).
 */

/* Longest entity-tag http_etag() writes, with its NUL. */
#define HTTP_ETAG_MAX 36

/*
 * Our strong entity-tag for a file: "<mtime hex>-<size hex>", quotes
 * included. Returns its length, or 0 (and out is "") when it does not fit.
 */
size_t http_etag(char *out, size_t len, time_t mtime, off_t size);

/*
 * An HTTP-date (RFC 9110 5.6.7) of exactly n bytes at p: IMF-fixdate
 * ("Sun, 06 Nov 1994 08:49:37 GMT") or the obsolete RFC 850
 * ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37
 * 1994") forms. Names are case-sensitive, no surrounding whitespace; the
 * day name is checked for spelling, not against the date; second 60 is
 * accepted (a leap second). An RFC 850 two-digit year is taken in the
 * current century unless that year is more than 50 ahead of this one
 * (then in the previous century), as 5.6.7 asks: the one use of the
 * clock here. Returns 0 and *out, or -1 when invalid.
 */
int http_parse_date(const char *p, size_t n, time_t *out);

/*
 * Must a GET or HEAD of a file with this entity-tag (as http_etag wrote
 * it) and mtime be answered 304? RFC 9110 13.2.2 order:
 *  - If-None-Match present: 1 when one of its entity-tags matches etag
 *    by weak comparison (W/ ignored on both sides), or it is "*" (the
 *    file exists). A malformed list never matches. If-Modified-Since is
 *    then not looked at, whatever If-None-Match said.
 *  - Otherwise If-Modified-Since: 1 when it is a valid HTTP-date and
 *    mtime <= it. Invalid or repeated: ignored.
 * Other methods: always 0 (the caller answers them before).
 */
int http_not_modified(const struct http_request *r, const char *etag, time_t mtime);

/*
 * Range of a GET (RFC 9110 14), to be asked after http_not_modified().
 * Returns:
 *  206  one satisfiable byte range: *start and *len (> 0) are set, and
 *       start + len <= size; also when it covers the whole file. "a-b" (b clamped to size - 1),
 * "a-", and the suffix "-n" (n clamped to size). 416  one range that cannot be satisfied: "a-" or
 * "a-b" with a >= size, or "-0". The answer carries the unsatisfied-range form of Content-Range
 * ("bytes *" then "/" and the size). 0    serve the whole file (200): no Range; not a GET; Range
 * malformed (a > b, not digits, a number overflowing off_t, junk) or repeated, both ignored as 14.2
 * allows; a unit other than "bytes"; more than one range (our choice: no multipart/byteranges, the
 *       whole file instead); If-Range present and false (an entity-tag:
 *       strong comparison, so W/ never matches; a date: equal to mtime to
 *       the second; anything else: false); or an empty file with a
 *       non-zero suffix (14.1.2 calls it satisfiable, but no
 *       Content-Range can describe zero bytes).
 * OWS is allowed around each range-spec and its commas; empty list
 * elements are skipped. *start and *len are left alone unless 206.
 */
int http_range(const struct http_request *r, off_t size, const char *etag, time_t mtime,
    off_t *start, off_t *len);

#endif
