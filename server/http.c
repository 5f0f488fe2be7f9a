/* HTTP/1.1 request heads (RFC 9112) and the small answers we build. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 token characters. */
static const unsigned char tchar[256] = {
    ['!'] = 1,
    ['#'] = 1,
    ['$'] = 1,
    ['%'] = 1,
    ['&'] = 1,
    ['\''] = 1,
    ['*'] = 1,
    ['+'] = 1,
    ['-'] = 1,
    ['.'] = 1,
    ['^'] = 1,
    ['_'] = 1,
    ['`'] = 1,
    ['|'] = 1,
    ['~'] = 1,
    ['0' ... '9'] = 1,
    ['A' ... 'Z'] = 1,
    ['a' ... 'z'] = 1,
};

static int is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

static int slice_is(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && strncasecmp(s.p, lit, n) == 0;
}

static enum http_method method_of(struct http_slice m)
{
	static const char *const refused[] = {
	    "POST", "PUT", "DELETE", "CONNECT", "TRACE", "PATCH", NULL};

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

/*
 * "HTTP/x.y": 0 and *minor set, -400 not a version, -505 another major.
 * An unknown HTTP/1.x minor is served as HTTP/1.1 (RFC 9110 2.5).
 */
static int parse_version(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 || p[6] != '.' || p[5] < '0' || p[5] > '9' ||
	    p[7] < '0' || p[7] > '9')
		return -400;
	if (p[5] != '1')
		return -505;
	*minor = p[7] == '0' ? 0 : 1;
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
		/* the scheme's own last '/': the slice stays inside buf */
		t->p += skip - 1;
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
	/* Set before judging the version: the access log shows what came. */
	r->method_name = (struct http_slice){p, (size_t)(sp1 - p)};
	r->method = method_of(r->method_name);
	r->target = (struct http_slice){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
	r->version = (struct http_slice){sp2 + 1, n - (size_t)(sp2 + 1 - p)};
	if ((rc = parse_version(r->version.p, r->version.len, &r->minor)))
		return rc;
	return reduce_target(&r->target, r->method);
}

/* Connection: a comma list of tokens; close wins over keep-alive. */
static void parse_connection(struct http_slice v, int *ka, int *close)
{
	const char *p = v.p, *end = v.p + v.len;

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
	if (*out >= 0)
		return -400; /* repeated, even with the same value: as the list form */
	*out = n;
	return 0;
}

/* A field that may appear once: a repeat is remembered, to be ignored. */
static void take_once(struct http_slice *dst, struct http_slice v, unsigned *repeated, unsigned bit)
{
	if (dst->p != NULL)
		*repeated |= bit;
	*dst = v;
}

struct field_state {
	int ka, close, te, hosts;
};

static int take_field(
    struct http_slice name, struct http_slice v, struct http_request *r, struct field_state *fs)
{
	if (slice_is(name, "host")) {
		r->has_host = 1;
		return ++fs->hosts > 1 ? -400 : 0;
	}
	if (slice_is(name, "connection"))
		parse_connection(v, &fs->ka, &fs->close);
	else if (slice_is(name, "content-length"))
		return parse_content_length(v, &r->content_length);
	else if (slice_is(name, "transfer-encoding"))
		fs->te = 1;
	else if (slice_is(name, "if-none-match"))
		r->if_none_match = v;
	else if (slice_is(name, "if-modified-since"))
		take_once(&r->if_modified_since, v, &r->repeated, HTTP_REP_IMS);
	else if (slice_is(name, "range"))
		take_once(&r->range, v, &r->repeated, HTTP_REP_RANGE);
	else if (slice_is(name, "if-range"))
		take_once(&r->if_range, v, &r->repeated, HTTP_REP_IF_RANGE);
	else if (slice_is(name, "user-agent"))
		r->user_agent = v;
	else if (slice_is(name, "referer"))
		r->referer = v;
	return 0;
}

/* name ":" OWS value OWS; no space before the colon, no folding, no CTLs. */
static int parse_field(const char *p, size_t n, struct http_request *r, struct field_state *fs)
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
	/* We take no bodies: on GET/HEAD/OPTIONS a body is refused outright;
	 * other methods are answered 405/501 and the connection closed. */
	if (r->content_length > 0 && r->method <= HTTP_M_OPTIONS)
		return -413;
	r->keepalive = fs->close ? 0 : r->minor == 1 ? 1 : fs->ka;
	return 0;
}

static int parse_fields(const char *buf, size_t len, size_t pos, struct http_request *r)
{
	struct field_state fs = {0};
	size_t head_start = pos, eol, next;
	int nfields = 0, rc;

	for (;;) {
		if ((rc = next_line(buf, len, pos, &eol, &next)) <= 0)
			return rc < 0 ? rc : len - head_start > HTTP_MAX_HEADER_SECTION ? -431 : 0;
		if (next - head_start > HTTP_MAX_HEADER_SECTION)
			return -431;
		if (eol == pos)
			break; /* the empty line ends the head */
		if (buf[pos] == ' ' || buf[pos] == '\t')
			return -400; /* obsolete line folding */
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
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 304:
		return "Not Modified";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 416:
		return "Range Not Satisfiable";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
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

const char *http_connection_header(int keepalive, int minor)
{
	if (!keepalive)
		return "Connection: close\r\n";
	return minor == 0 ? "Connection: keep-alive\r\n" : "";
}

size_t http_status_response(char *out, size_t len, int status, const char *extra,
    const char *connection, int head_only, time_t now, size_t *body_len)
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
	    "%s%s%s\r\n%s",
	    status, http_reason(status), http_date_cached(now), blen,
	    status == 405 ? "Allow: GET, HEAD, OPTIONS\r\n" : "", extra, connection,
	    head_only ? "" : body);
	if (n < 0 || (size_t)n >= len)
		return 0;
	if (body_len)
		*body_len = head_only ? 0 : (size_t)blen;
	return (size_t)n;
}

/* ---- validators, dates, conditionals and ranges (RFC 9110) ---- */

size_t http_etag(char *out, size_t len, time_t mtime, off_t size)
{
	int n = snprintf(
	    out, len, "\"%llx-%llx\"", (unsigned long long)mtime, (unsigned long long)size);

	if (n < 0 || (size_t)n >= len) {
		if (len > 0)
			out[0] = '\0';
		return 0;
	}
	return (size_t)n;
}

static const char *const months[12] = {
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const wdays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const wdays_long[7] = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};

/* Exactly n decimal digits at p, or -1. */
static int digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int month_at(const char *p)
{
	for (int i = 0; i < 12; i++)
		if (memcmp(p, months[i], 3) == 0)
			return i;
	return -1;
}

static int is_wday(const char *p, size_t n, const char *const names[7])
{
	for (int i = 0; i < 7; i++)
		if (strlen(names[i]) == n && memcmp(p, names[i], n) == 0)
			return 1;
	return 0;
}

/* "HH:MM:SS" into seconds of the day, or -1. 60 is a leap second. */
static int time_of_day(const char *p)
{
	int h = digits(p, 2), m = digits(p + 3, 2), s = digits(p + 6, 2);

	if (p[2] != ':' || p[5] != ':' || h < 0 || h > 23 || m < 0 || m > 59 || s < 0 || s > 60)
		return -1;
	return h * 3600 + m * 60 + s;
}

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* Days from 0000-01-01 to 1970-01-01, proleptic Gregorian. */
#define DAYS_TO_1970 719528

/*
 * y-m-d (m 0-11) at tod seconds into *out; -1 if the day is not in the
 * month. Leap years in [0, y) are counted as those in [400, y + 400), so
 * the divisions never see a negative number.
 */
static int civil(int y, int m, int d, int tod, time_t *out)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
	int64_t days, ly = (int64_t)y + 399;

	if (m < 0 || d < 1 || d > mdays[m] + (m == 1 && is_leap(y)))
		return -1;
	days = 365 * (int64_t)y + ly / 4 - ly / 100 + ly / 400 - 96 + before[m] +
	    (m > 1 && is_leap(y)) + d - 1 - DAYS_TO_1970;
	*out = (time_t)(days * 86400 + tod);
	return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int imf_fixdate(const char *p, time_t *out)
{
	int tod = time_of_day(p + 17);

	if (!is_wday(p, 3, wdays) || memcmp(p + 3, ", ", 2) != 0 || p[7] != ' ' || p[11] != ' ' ||
	    p[16] != ' ' || memcmp(p + 25, " GMT", 4) != 0 || tod < 0 || digits(p + 12, 4) < 0)
		return -1;
	return civil(digits(p + 12, 4), month_at(p + 8), digits(p + 5, 2), tod, out);
}

/* A two-digit year within 50 years ahead of this one, else a century back. */
static int full_year(int yy)
{
	time_t now = time(NULL);
	struct tm tm;
	int cur, y;

	gmtime_r(&now, &tm);
	cur = tm.tm_year + 1900;
	y = cur - cur % 100 + yy;
	return y > cur + 50 ? y - 100 : y;
}

/* "Sunday, 06-Nov-94 08:49:37 GMT": day name, ',', then 23 fixed bytes. */
static int rfc850_date(const char *p, size_t n, time_t *out)
{
	const char *q;
	int tod, yy;

	if (n < 25 || p[n - 24] != ',' || !is_wday(p, n - 24, wdays_long))
		return -1;
	q = p + n - 23;
	tod = time_of_day(q + 11);
	yy = digits(q + 8, 2);
	if (q[0] != ' ' || q[3] != '-' || q[7] != '-' || q[10] != ' ' ||
	    memcmp(q + 19, " GMT", 4) != 0 || tod < 0 || yy < 0)
		return -1;
	return civil(full_year(yy), month_at(q + 4), digits(q + 1, 2), tod, out);
}

/* "Sun Nov  6 08:49:37 1994": the day is 2DIGIT or SP DIGIT. */
static int asctime_date(const char *p, time_t *out)
{
	int tod = time_of_day(p + 11);
	int d = p[8] == ' ' ? digits(p + 9, 1) : digits(p + 8, 2);

	if (!is_wday(p, 3, wdays) || p[3] != ' ' || p[7] != ' ' || p[10] != ' ' || p[19] != ' ' ||
	    tod < 0 || d < 0 || digits(p + 20, 4) < 0)
		return -1;
	return civil(digits(p + 20, 4), month_at(p + 4), d, tod, out);
}

int http_parse_date(const char *p, size_t n, time_t *out)
{
	if (n == 29 && p[3] == ',')
		return imf_fixdate(p, out);
	if (n == 24)
		return asctime_date(p, out);
	return rfc850_date(p, n, out);
}

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* To the next element of a comma list, past OWS and empty elements; 0 at its end. */
static int list_next(const char **pp, const char *end)
{
	const char *p = *pp;

	while (p < end && (is_ows(*p) || *p == ','))
		p++;
	*pp = p;
	return p < end;
}

/* After an element: OWS, then a comma or the end. -1 when something else. */
static int list_sep(const char **pp, const char *end)
{
	const char *p = *pp;

	while (p < end && is_ows(*p))
		p++;
	if (p < end && *p != ',')
		return -1;
	*pp = p;
	return 0;
}

/* etagc: any visible byte but DQUOTE, and obs-text. */
static int is_etagc(unsigned char c) { return c == 0x21 || (c >= 0x23 && c != 0x7f); }

/*
 * One entity-tag at *pp: *weak and the opaque-tag with its quotes; *pp
 * moves past it. -1 when there is none. A comma may sit inside the quotes,
 * so lists are walked tag by tag, never split on commas.
 */
static int etag_take(const char **pp, const char *end, int *weak, struct http_slice *tag)
{
	const char *p = *pp;

	*weak = end - p >= 2 && p[0] == 'W' && p[1] == '/';
	if (*weak)
		p += 2;
	if (p == end || *p != '"')
		return -1;
	tag->p = p++;
	while (p < end && *p != '"')
		if (!is_etagc((unsigned char)*p++))
			return -1;
	if (p == end)
		return -1;
	tag->len = (size_t)(++p - tag->p);
	*pp = p;
	return 0;
}

static int own_etag(const char *etag, int *weak, struct http_slice *tag)
{
	return etag_take(&etag, etag + strlen(etag), weak, tag);
}

static int same_tag(struct http_slice a, struct http_slice b)
{
	return a.len == b.len && memcmp(a.p, b.p, a.len) == 0;
}

/* If-None-Match: weak comparison against every listed tag. */
static int none_match_hits(struct http_slice v, const char *etag)
{
	struct http_slice mine, tag;
	const char *p = v.p, *end = v.p + v.len;
	int weak, hit = 0;

	if (v.len == 1 && v.p[0] == '*')
		return 1;
	if (own_etag(etag, &weak, &mine) == -1)
		return 0;
	while (list_next(&p, end)) {
		if (etag_take(&p, end, &weak, &tag) == -1 || list_sep(&p, end) == -1)
			return 0; /* malformed: no element counts */
		hit |= same_tag(tag, mine);
	}
	return hit;
}

int http_not_modified(const struct http_request *r, const char *etag, time_t mtime)
{
	struct http_slice ims = r->if_modified_since;
	time_t t;

	if (r->method != HTTP_M_GET && r->method != HTTP_M_HEAD)
		return 0;
	if (r->if_none_match.p != NULL)
		return none_match_hits(r->if_none_match, etag);
	if (ims.p == NULL || (r->repeated & HTTP_REP_IMS) ||
	    http_parse_date(ims.p, ims.len, &t) == -1)
		return 0;
	return mtime <= t;
}

/* If-Range: one strong entity-tag compared strongly, or our exact mtime. */
static int if_range_holds(struct http_slice v, const char *etag, time_t mtime)
{
	struct http_slice mine, tag;
	const char *p = v.p, *end = v.p + v.len;
	int weak, myweak;
	time_t t;

	if (v.len > 0 && (v.p[0] == '"' || (v.len > 1 && v.p[0] == 'W' && v.p[1] == '/'))) {
		if (etag_take(&p, end, &weak, &tag) == -1 || p != end || weak ||
		    own_etag(etag, &myweak, &mine) == -1 || myweak)
			return 0;
		return same_tag(tag, mine);
	}
	return http_parse_date(v.p, v.len, &t) == 0 && t == mtime;
}

#define OFF_T_MAX ((off_t)((UINT64_C(1) << (sizeof(off_t) * 8 - 1)) - 1))

/* Digits only into *v; the end of them, or NULL when none or off_t overflows. */
static const char *pos_take(const char *p, const char *end, off_t *v)
{
	const char *s = p;
	off_t n = 0;

	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (n > (OFF_T_MAX - (*p - '0')) / 10)
			return NULL;
		n = n * 10 + (*p - '0');
	}
	if (p == s)
		return NULL;
	*v = n;
	return p;
}

/* first -1: a suffix of last bytes; last -1: to the end. */
struct range_spec {
	off_t first, last;
};

/* "a-b", "a-" or "-n"; the end of it, or NULL when malformed (a > b too). */
static const char *spec_take(const char *p, const char *end, struct range_spec *s)
{
	s->first = s->last = -1;
	if (p < end && *p == '-')
		return pos_take(p + 1, end, &s->last);
	if ((p = pos_take(p, end, &s->first)) == NULL || p == end || *p != '-')
		return NULL;
	if (++p < end && *p >= '0' && *p <= '9' &&
	    ((p = pos_take(p, end, &s->last)) == NULL || s->last < s->first))
		return NULL;
	return p;
}

static int satisfy(const struct range_spec *s, off_t size, off_t *start, off_t *len)
{
	if (s->first < 0) {
		if (s->last == 0)
			return 416;
		if (size == 0)
			return 0; /* satisfiable, yet zero bytes: the whole (empty) file */
		*len = s->last < size ? s->last : size;
		*start = size - *len;
		return 206;
	}
	if (s->first >= size)
		return 416;
	*start = s->first;
	*len = (s->last < 0 || s->last >= size ? size - 1 : s->last) - s->first + 1;
	return 206;
}

int http_range(const struct http_request *r, off_t size, const char *etag, time_t mtime,
    off_t *start, off_t *len)
{
	const char *p = r->range.p, *end;
	struct range_spec s;
	int n = 0;

	if (r->method != HTTP_M_GET || p == NULL || size < 0 ||
	    (r->repeated & (HTTP_REP_RANGE | HTTP_REP_IF_RANGE)))
		return 0;
	end = p + r->range.len;
	/* If-Range first: when false the Range is ignored, even a bad one. */
	if (r->if_range.p != NULL && !if_range_holds(r->if_range, etag, mtime))
		return 0;
	if (r->range.len < 6 || strncasecmp(p, "bytes=", 6) != 0)
		return 0;
	for (p += 6; list_next(&p, end); n++) {
		if (n == 1)
			return 0; /* several ranges: the whole file */
		if ((p = spec_take(p, end, &s)) == NULL || list_sep(&p, end) == -1)
			return 0;
	}
	return n == 1 ? satisfy(&s, size, start, len) : 0;
}
