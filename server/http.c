/* HTTP/1.1 request heads (RFC 9112) and the small answers we build. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters. */
static const unsigned char tchar[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

static int is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static int slice_is(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

static enum http_method method_of(struct http_slice m)
{
	static const char *const refused[] = {"POST", "PUT", "DELETE",
	    "CONNECT", "TRACE", "PATCH", NULL};

	if (m.len == 3 && memcmp(m.p, "GET", 3) == 0)
		return HTTP_M_GET;
	if (m.len == 4 && memcmp(m.p, "HEAD", 4) == 0)
		return HTTP_M_HEAD;
	if (m.len == 7 && memcmp(m.p, "OPTIONS", 7) == 0)
		return HTTP_M_OPTIONS;
	for (int i = 0; refused[i]; i++)
		if (m.len == strlen(refused[i]) && memcmp(m.p, refused[i], m.len) == 0)
			return HTTP_M_OTHER;
	return HTTP_M_UNKNOWN;
}

/* "HTTP/x.y": 0 and *minor set, -400 not a version, -505 another version. */
static int parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' ||
	    p[5] < '0' || p[5] > '9' || p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return -505;
	*minor = p[7] - '0';
	return 0;
}

/* Absolute form "http://host/path" is served as "/path" (RFC 9112 3.2.2). */
static int reduce_target(struct http_slice *t, enum http_method m)
{
	const char *slash;
	size_t skip;

	if (t->len == 1 && t->p[0] == '*')
		return m == HTTP_M_OPTIONS ? 0 : -400;
	if (t->p[0] == '/')
		return 0;
	if (t->len > 7 && strncasecmp(t->p, "http://", 7) == 0)
		skip = 7;
	else if (t->len > 8 && strncasecmp(t->p, "https://", 8) == 0)
		skip = 8;
	else
		return -400;
	slash = memchr(t->p + skip, '/', t->len - skip);
	if (slash == NULL) {
		t->p = "/";
		t->len = 1;
	} else {
		t->len -= (size_t)(slash - t->p);
		t->p = slash;
	}
	return 0;
}

/* method SP target SP version; line excludes the line ending. */
static int parse_request_line(const char *p, size_t n, struct http_request *r)
{
	const char *sp1, *sp2;
	int rc;

	if ((sp1 = memchr(p, ' ', n)) == NULL || sp1 == p)
		return -400;
	for (const char *q = p; q < sp1; q++)
		if (!tchar[(unsigned char)*q])
			return -400;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
	if (sp2 == NULL || sp2 == sp1 + 1)
		return -400;
	for (const char *q = sp1 + 1; q < sp2; q++)
		if (is_ctl((unsigned char)*q))
			return -400;
	if ((rc = parse_version(sp2 + 1, n - (size_t)(sp2 + 1 - p), &r->minor)))
		return rc;
	r->method_name = (struct http_slice){p, (size_t)(sp1 - p)};
	r->method = method_of(r->method_name);
	r->target = (struct http_slice){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	return reduce_target(&r->target, r->method);
}

/* Connection: a comma list of tokens; close wins over keep-alive. */
static void parse_connection(struct http_slice v, struct http_request *r, int *ka, int *close)
{
	const char *p = v.p, *end = v.p + v.len;

	(void)r;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		struct http_slice tok;

		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		tok.p = p;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		tok.len = (size_t)(e - p);
		if (slice_is(tok, "close"))
			*close = 1;
		else if (slice_is(tok, "keep-alive"))
			*ka = 1;
		p = comma ? comma + 1 : end;
	}
}

static int parse_content_length(struct http_slice v, int64_t *out)
{
	int64_t n = 0;

	if (v.len == 0 || v.len > 18)
		return -400;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return -400;
		n = n * 10 + (v.p[i] - '0');
	}
	if (*out >= 0 && *out != n)
		return -400;   /* repeated with another value */
	*out = n;
	return 0;
}

struct field_state {
	int ka, close, te, hosts;
};

static int take_field(struct http_slice name, struct http_slice v,
    struct http_request *r, struct field_state *fs)
{
	if (slice_is(name, "host")) {
		r->has_host = 1;
		return ++fs->hosts > 1 ? -400 : 0;
	}
	if (slice_is(name, "connection"))
		parse_connection(v, r, &fs->ka, &fs->close);
	else if (slice_is(name, "content-length"))
		return parse_content_length(v, &r->content_length);
	else if (slice_is(name, "transfer-encoding"))
		fs->te = 1;
	else if (slice_is(name, "if-none-match"))
		r->if_none_match = v;
	else if (slice_is(name, "if-modified-since"))
		r->if_modified_since = v;
	else if (slice_is(name, "range"))
		r->range = v;
	else if (slice_is(name, "if-range"))
		r->if_range = v;
	else if (slice_is(name, "user-agent"))
		r->user_agent = v;
	else if (slice_is(name, "referer"))
		r->referer = v;
	return 0;
}

/* name ":" OWS value OWS; no space before the colon, no folding, no CTLs. */
static int parse_field(const char *p, size_t n, struct http_request *r,
    struct field_state *fs)
{
	const char *colon = memchr(p, ':', n);
	const char *v, *e = p + n;

	if (colon == NULL || colon == p)
		return -400;
	for (const char *q = p; q < colon; q++)
		if (!tchar[(unsigned char)*q])
			return -400;
	for (v = colon + 1; v < e && (*v == ' ' || *v == '\t'); v++)
		;
	while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	for (const char *q = v; q < e; q++)
		if (is_ctl((unsigned char)*q) && *q != '\t')
			return -400;
	return take_field((struct http_slice){p, (size_t)(colon - p)},
	    (struct http_slice){v, (size_t)(e - v)}, r, fs);
}

/* Next line [*start, eol) without its ending; 0 = incomplete, -400 = bare CR. */
static int next_line(const char *buf, size_t len, size_t start, size_t *eol, size_t *next)
{
	const char *nl = memchr(buf + start, '\n', len - start);
	size_t e;

	if (nl == NULL)
		return 0;
	e = (size_t)(nl - buf);
	*next = e + 1;
	if (e > start && buf[e - 1] == '\r')
		e--;
	if (memchr(buf + start, '\r', e - start) || memchr(buf + start, '\0', e - start))
		return -400;
	*eol = e;
	return 1;
}

static int finish_request(struct http_request *r, struct field_state *fs)
{
	if (fs->te)
		return r->content_length >= 0 ? -400 : -501;
	if (r->minor == 1 && !r->has_host)
		return -400;
	if (r->content_length > 0)
		return -413;
	r->keepalive = fs->close ? 0 : r->minor == 1 ? 1 : fs->ka;
	return 0;
}

static int parse_fields(const char *buf, size_t len, size_t pos,
    struct http_request *r)
{
	struct field_state fs = {0};
	size_t head_start = pos, eol, next;
	int nfields = 0, rc;

	for (;;) {
		if ((rc = next_line(buf, len, pos, &eol, &next)) <= 0)
			return rc < 0 ? rc :
			    len - head_start > HTTP_MAX_HEADER_SECTION ? -431 : 0;
		if (next - head_start > HTTP_MAX_HEADER_SECTION)
			return -431;
		if (eol == pos)
			break;   /* the empty line ends the head */
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return -400;   /* obsolete line folding */
		if (++nfields > HTTP_MAX_FIELDS)
			return -431;
		if ((rc = parse_field(buf + pos, eol - pos, r, &fs)) < 0)
			return rc;
		pos = next;
	}
	if ((rc = finish_request(r, &fs)) < 0)
		return rc;
	return (int)next;
}

int http_parse_request(const char *buf, size_t len, struct http_request *r)
{
	size_t pos = 0, eol, next;
	int rc;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	/* RFC 9112 2.2: ignore a few empty lines before the request line. */
	while (pos < len && pos < 4 && (buf[pos] == '\r' || buf[pos] == '\n'))
		pos++;
	rc = next_line(buf, len, pos, &eol, &next);
	if (rc == 0)
		return len - pos > HTTP_MAX_REQUEST_LINE ? -414 : 0;
	if (rc < 0)
		return rc;
	if (eol - pos > HTTP_MAX_REQUEST_LINE)
		return -414;
	if ((rc = parse_request_line(buf + pos, eol - pos, r)) < 0)
		return rc;
	return parse_fields(buf, len, next, r);
}

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

size_t http_date(time_t t, char *out, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	return strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

const char *http_date_cached(time_t now)
{
	static char buf[40];
	static time_t last = -1;

	if (now != last) {
		http_date(now, buf, sizeof(buf));
		last = now;
	}
	return buf;
}

size_t http_error_response(char *out, size_t len, int status, int close_conn,
    int head_only, time_t now)
{
	char body[256];
	int blen, n;

	blen = snprintf(body, sizeof(body),
	    "<html><head><title>%d %s</title></head>"
	    "<body><h1>%d %s</h1></body></html>\n",
	    status, http_reason(status), status, http_reason(status));
	n = snprintf(out, len,
	    "HTTP/1.1 %d %s\r\nServer: wsd\r\nDate: %s\r\n"
	    "Content-Type: text/html; charset=utf-8\r\nContent-Length: %d\r\n"
	    "%s%s\r\n%s",
	    status, http_reason(status), http_date_cached(now), blen,
	    status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : "",
	    close_conn ? "Connection: close\r\n" : "",
	    head_only ? "" : body);
	return n < 0 ? 0 : (size_t)n >= len ? len - 1 : (size_t)n;
}
