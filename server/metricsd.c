/*
 * The metrics endpoint (metricsd.h): a tiny HTTP/1.1 server on the
 * daemon's loop. Each connection: read one request head (at most
 * HTTP_MAX_HEAD bytes, within http.header_timeout), answer it with
 * Connection: close, flush (within the timeout again), half-close, read
 * and drop what the client still sends for a moment (so a body we did not
 * read does not turn our close into a reset that loses the answer), close.
 */
#include "metricsd.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "clock.h"
#include "http.h"
#include "log.h"

#define LINGER_MS 1000        /* after the answer: how long we read and drop */
#define WARN_EVERY_MS 10000   /* refusals and accept errors: one log line at most this often */
#define ACCEPT_PAUSE_MS 1000  /* after an accept error (EMFILE): wait before accepting again */
#define OUT_MAX (1024 * 1024) /* an answer larger than this is a 500, never buffered */

struct mconn {
	struct metricsd *m;
	struct bufferevent *bev;
	struct event ev_deadline;
	int answered;
	struct mconn *prev, *next;
};

struct metricsd {
	struct event_base *base;
	struct evconnlistener *lev;
	struct event ev_resume;
	const uint32_t *header_timeout_ms;
	struct metricsd_hooks h;
	void *arg;
	struct mconn *conns;
	unsigned nconns;
	uint64_t refused, refused_logged, warned_ms;
	char addr[300];
};

/* ---- connections ---- */

static void conn_free(struct mconn *c)
{
	struct metricsd *m = c->m;

	event_del(&c->ev_deadline);
	bufferevent_free(c->bev); /* closes the socket */
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->nconns--;
	free(c);
}

static void deadline_in(struct mconn *c, uint32_t ms)
{
	struct timeval tv = clock_tv(ms);

	event_add(&c->ev_deadline, &tv);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *c = arg;

	if (!c->answered)
		log_debug("metrics: no complete request within http.header_timeout, closing");
	conn_free(c);
}

/*
 * One answer, whole: status line, our headers, the body (not for HEAD).
 * Flushed by the loop; on_written half-closes once it is out.
 */
static void answer(struct mconn *c, int status, const char *ctype, const char *extra,
    const char *body, size_t blen, int head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char head[512];
	int n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nServer: wsd\r\nDate: %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%sConnection: close\r\n\r\n",
	    status, http_reason(status), http_date_cached(time(NULL)), ctype, blen, extra);

	c->answered = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (n < 0 || (size_t)n >= sizeof(head) || evbuffer_add(out, head, (size_t)n) == -1 ||
	    (!head_only && evbuffer_add(out, body, blen) == -1)) {
		log_warnx("metrics: cannot queue a %d answer, closing", status);
		conn_free(c);
		return;
	}
	bufferevent_enable(c->bev, EV_WRITE);
	deadline_in(c, *c->m->header_timeout_ms);
}

static void answer_text(
    struct mconn *c, int status, const char *extra, const char *text, int head_only)
{
	answer(c, status, "text/plain; charset=utf-8", extra, text, strlen(text), head_only);
}

static void serve_metrics(struct mconn *c, int head_only)
{
	size_t len = 0;
	char *text = c->m->h.text(c->m->arg, &len);

	if (text == NULL || len > OUT_MAX) {
		log_warnx(
		    "metrics: %s, answering 500", text ? "exposition too large" : "out of memory");
		answer_text(c, 500, "", "internal error\n", head_only);
	} else
		answer(
		    c, 200, "text/plain; version=0.0.4; charset=utf-8", "", text, len, head_only);
	free(text);
}

static void serve_ready(struct mconn *c, int head_only)
{
	char why[160], line[170];

	if (c->m->h.ready(c->m->arg, why, sizeof(why))) {
		answer_text(c, 200, "", "ready\n", head_only);
		return;
	}
	if (snprintf(line, sizeof(line), "not ready: %s\n", why) < 0)
		line[0] = '\0';
	answer_text(c, 503, "", line, head_only);
}

/* The path of the target, without a query: "/metrics?x" is /metrics. */
static int path_is(const struct http_slice *t, const char *path)
{
	size_t n = strlen(path);

	return t->len >= n && memcmp(t->p, path, n) == 0 && (t->len == n || t->p[n] == '?');
}

static void route(struct mconn *c, const struct http_request *req)
{
	int head_only = req->method == HTTP_M_HEAD;

	if (req->method != HTTP_M_GET && req->method != HTTP_M_HEAD)
		answer_text(c, 405, "Allow: GET, HEAD\r\n", "method not allowed: GET or HEAD\n", 0);
	else if (path_is(&req->target, "/metrics"))
		serve_metrics(c, head_only);
	else if (path_is(&req->target, "/healthz"))
		answer_text(c, 200, "", "ok\n", head_only);
	else if (path_is(&req->target, "/readyz"))
		serve_ready(c, head_only);
	else
		answer_text(c, 404, "", "not found: /metrics, /healthz or /readyz\n", head_only);
}

/* A request the parser refused: 405 for a method we do not take, else its status. */
static void refuse(struct mconn *c, int status, const struct http_request *req)
{
	char text[64];

	if (req->version.len > 0 && req->method != HTTP_M_GET && req->method != HTTP_M_HEAD) {
		answer_text(c, 405, "Allow: GET, HEAD\r\n", "method not allowed: GET or HEAD\n", 0);
		return;
	}
	if (snprintf(text, sizeof(text), "%d %s\n", status, http_reason(status)) < 0)
		text[0] = '\0';
	answer_text(c, status, "", text, req->version.len > 0 && req->method == HTTP_M_HEAD);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct mconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in), take = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
	struct http_request req;
	int rc;

	if (c->answered) { /* lingering: drop it */
		evbuffer_drain(in, len);
		return;
	}
	memset(&req, 0, sizeof(req));
	rc = http_parse_request((const char *)evbuffer_pullup(in, (ev_ssize_t)take), take, &req);
	if (rc > 0)
		route(c, &req);
	else if (rc < 0)
		refuse(c, -rc, &req);
	else if (len >= HTTP_MAX_HEAD)
		answer_text(c, 431, "", "request head too large\n", 0);
}

/* The answer is out: half-close, then read and drop for a moment before closing. */
static void write_cb(struct bufferevent *bev, void *arg)
{
	struct mconn *c = arg;

	if (!c->answered || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_disable(bev, EV_WRITE);
	bufferevent_enable(bev, EV_READ);
	deadline_in(c, LINGER_MS);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct mconn *c = arg;

	if ((what & BEV_EVENT_ERROR) && !c->answered)
		log_debug("metrics: connection error: %s", strerror(EVUTIL_SOCKET_ERROR()));
	conn_free(c); /* EOF or error: nothing more to do on it */
}

/* ---- accepting ---- */

static int warn_now(struct metricsd *m)
{
	uint64_t now = clock_now_ms();

	if (m->warned_ms != 0 && now - m->warned_ms < WARN_EVERY_MS)
		return 0;
	m->warned_ms = now;
	return 1;
}

static void refuse_conn(struct metricsd *m, evutil_socket_t fd)
{
	close(fd);
	m->refused++;
	if (!warn_now(m))
		return;
	log_warnx("metrics: %u connections open, closed %llu more since the last warning",
	    METRICSD_MAX_CONNS, (unsigned long long)(m->refused - m->refused_logged));
	m->refused_logged = m->refused;
}

/* Stop accepting; again after ms (0: at the loop's next turn). */
static void pause_accepting(struct metricsd *m, uint32_t ms)
{
	struct timeval tv = clock_tv(ms);

	evconnlistener_disable(m->lev);
	evtimer_add(&m->ev_resume, &tv);
}

static void accept_cb(
    struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct metricsd *m = arg;
	struct mconn *c;

	if (m->nconns >= METRICSD_MAX_CONNS) {
		refuse_conn(m, fd);
		/*
		 * libevent accepts until the backlog is empty: a flood of
		 * connections would hold the loop (heartbeats, the control
		 * socket). One refusal per turn of the loop.
		 */
		pause_accepting(m, 0);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->bev = bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("metrics: out of memory for a connection, closing it");
		free(c);
		close(fd);
		return;
	}
	c->m = m;
	c->next = m->conns;
	if (m->conns)
		m->conns->prev = c;
	m->conns = c;
	m->nconns++;
	evtimer_assign(&c->ev_deadline, m->base, deadline_cb, c);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_enable(c->bev, EV_READ);
	deadline_in(c, *m->header_timeout_ms);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct metricsd *m = arg;

	evconnlistener_enable(m->lev);
}

/* EMFILE and the like: pause accepting for a moment instead of spinning. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct metricsd *m = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (warn_now(m))
		log_warnx("metrics: accept: %s, pausing %d ms", strerror(err), ACCEPT_PAUSE_MS);
	pause_accepting(m, ACCEPT_PAUSE_MS);
}

/* ---- the listening socket ---- */

static int bind_at(
    const char *host, uint16_t port, char *addr, size_t addrlen, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                    .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
	                *res;
	struct sockaddr_storage ss;
	socklen_t slen = sizeof(ss);
	char p[8], h[NI_MAXHOST];
	int fd, one = 1, rc;

	snprintf(p, sizeof(p), "%u", port);
	if ((rc = getaddrinfo(host, p, &hints, &res)) != 0)
		return snprintf(err, errlen, "%s: %s", host, gai_strerror(rc)), -1;
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) == -1 || listen(fd, 64) == -1 ||
	    getsockname(fd, (struct sockaddr *)&ss, &slen) == -1) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s", host, p, strerror(errno));
		freeaddrinfo(res);
		if (fd != -1)
			close(fd);
		return -1;
	}
	freeaddrinfo(res);
	getnameinfo((struct sockaddr *)&ss, slen, h, sizeof(h), p, sizeof(p),
	    NI_NUMERICHOST | NI_NUMERICSERV);
	snprintf(addr, addrlen, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
	return fd;
}

struct metricsd *metricsd_open(struct event_base *base, const char *host, uint16_t port,
    const uint32_t *header_timeout_ms, const struct metricsd_hooks *h, void *arg, char *err,
    size_t errlen)
{
	struct metricsd *m = calloc(1, sizeof(*m));
	int fd;

	if (m == NULL)
		return snprintf(err, errlen, "out of memory"), NULL;
	*m = (struct metricsd){
	    .base = base, .header_timeout_ms = header_timeout_ms, .h = *h, .arg = arg};
	if ((fd = bind_at(host, port, m->addr, sizeof(m->addr), err, errlen)) == -1) {
		free(m);
		return NULL;
	}
	m->lev = evconnlistener_new(
	    base, accept_cb, m, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
	if (m->lev == NULL) {
		snprintf(err, errlen, "cannot watch the metrics socket");
		close(fd);
		free(m);
		return NULL;
	}
	evconnlistener_set_error_cb(m->lev, accept_error_cb);
	evtimer_assign(&m->ev_resume, base, resume_cb, m);
	return m;
}

const char *metricsd_address(const struct metricsd *m) { return m->addr; }

uint64_t metricsd_refused(const struct metricsd *m) { return m ? m->refused : 0; }

void metricsd_free(struct metricsd *m)
{
	if (m == NULL)
		return;
	while (m->conns)
		conn_free(m->conns);
	event_del(&m->ev_resume);
	evconnlistener_free(m->lev);
	free(m);
}
