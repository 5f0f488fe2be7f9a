/*
 * The worker: serves many client connections at once on its own libevent
 * loop. Connections arrive from the manager over FD_PARENT (SCM_RIGHTS);
 * each one that ends is reported back so the manager knows our workload.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "clock.h"
#include "filecache.h"
#include "headbuf.h"
#include "heartbeat.h"
#include "accesslog.h"
#include "http.h"
#include "log.h"
#include "mime.h"
#include "msg.h"
#include "proc.h"
#include "proxyproto.h"
#include "resolve.h"
#include "roles.h"

#define SEND_TIMEOUT_MS 60000
#define LINGER_MS 2000
#define PARENT_GONE_GRACE_MS 1000
#define IDLE_GRACE_MS 1000 /* draining: how long an idle keep-alive connection may still send */
#define FORBIDDEN_LOG_PER_SEC 10 /* 403 lines in the error log, per worker */
#define SPARE_KEEP 64            /* freed conns kept for reuse while serving; more are unmapped */
#define SPARE_IDLE 4             /* kept once the worker holds no connection */
#define PARK_RETRY_MS 100        /* the listener channel was full: park again this much later */
#define TRIM_AFTER_MS 250        /* holding no connection this long: spares and heap pages go */
#define HEAD_MAX 1024            /* one response head */
#define PIPE_MAX 32              /* pipelined responses gathered into one write, */
#define PIPE_OUT 8192            /* their heads, */
#define PIPE_BYTES (128 * 1024)  /* and their bytes, heads and bodies from memory */

enum conn_state { C_READ, C_WRITE, C_LINGER };

struct worker;

/* A request as the access log and the figures need it; slices point into c->in. */
struct reqinfo {
	struct http_slice method, target, version, referer, user_agent;
	int minor; /* -1: no request line */
	int status;
	uint64_t body;  /* body bytes sent: from memory or by sendfile */
	size_t outbody; /* of its head in out[], the last outbody bytes are body (an error page) */
	time_t when;
	uint64_t start_us;
};

/*
 * A response ready to go, queued till written: its head in out[] ends at
 * head_end (and starts where the one before ends), then a body from
 * memory; only the last of a batch may have a file to send after them.
 */
struct resp {
	struct reqinfo req;
	size_t head_end;
	const char *mbody;
	size_t mleft;
	struct fc_entry *fent; /* the cache entry mbody or filefd belong to, held till done */
	int filefd;
};

struct conn {
	struct worker *w;
	struct conn *prev, *next; /* the open list, for draining */
	struct event ev;
	int fd;
	enum conn_state state;
	short armed;             /* what c->ev waits for, 0 = not assigned */
	int keepalive;           /* after this response */
	int proxy;               /* a PROXY v2 header must come first (server.proxy_from) */
	uint64_t deadline_ms;    /* header timeout of the request being read, or end of linger */
	uint64_t ka_deadline_ms; /* idle between requests: the keep-alive timeout; 0 = never idle */
	size_t inlen, consumed;  /* consumed: by the responses built so far (the batch) */
	/* The batch: responses built and queued, written together (conn_flush). */
	struct resp q[PIPE_MAX];
	unsigned qn, qi;       /* queued; the first not yet written whole */
	size_t qbytes;         /* their bytes */
	size_t outlen, outoff; /* the queued heads in out[]; written so far */
	off_t foff;            /* the last one's file: sent from, */
	size_t fleft;          /* and left */
	/* The response being built: its head at out + outlen, then queued. */
	size_t hlen;
	int filefd;
	struct fc_entry *fent;
	const char *mbody; /* a body from memory (a cached small file), sent with the head */
	size_t mleft;
	struct reqinfo req;
	char out[PIPE_OUT];
	struct sockaddr_storage peer;
	char in[HTTP_MAX_HEAD + 512];
};

struct worker {
	struct event_base *base;
	struct event ev_parent, ev_term, ev_drain_deadline, ev_flush, ev_report;
	struct event ev_trim; /* conn_trim, once idle for TRIM_AFTER_MS */
	struct heartbeat hb;
	struct msg_config cfg;
	int configured, draining;
	int retiring; /* draining, but parking: keep-alive stays on, no connection is closed */
	int last_conn_sent; /* the manager promised no more connections */
	int orphaned;       /* 1: our manager is gone (said once), 2: the daemon too */
	int rootfd;
	struct filecache *fc;
	uint64_t now_us; /* the clock as this loop round started (worker_round) */
	int in_round;    /* a callback of this round read it; worker_run reads the end */
	pid_t ppid;
	struct conn *open, *spare; /* spare: freed conns kept for reuse */
	unsigned nspare;
	int trim; /* conns were freed: give the memory back once we hold none */
	uint64_t nconns, accepted, requests, bytes;
	uint64_t resp_us, resp_hist[MSG_HIST_BUCKETS];
	uint64_t busy_us;                  /* in callbacks that did work, since start */
	uint64_t hb_at_us, hb_busy_us;     /* at the last heartbeat: the time and busy_us */
	unsigned done_pending;             /* ended connections not yet reported */
	uint64_t deadline_at;              /* when draining must end; 0 = not draining */
	uint64_t cut;                      /* connections closed at the drain deadline */
	uint64_t parked, park_waits;       /* handed to the listener; tries it could not take */
	time_t forbid_sec;                 /* the 403 log limit: this second, */
	unsigned forbid_n, forbid_dropped; /* lines in it, lines dropped */
	struct proxy_loglimit proxy_log;   /* refused PROXY headers, likewise */
};

static void conn_run(struct conn *c);
static void resp_account(struct conn *c, const struct reqinfo *r, uint64_t bytes);
static void conn_read_cb(evutil_socket_t fd, short what, void *arg);
static int conn_parkable(const struct conn *c, uint64_t now);
static int parking(const struct worker *w);
static void conn_park(struct conn *c);
static void conn_read(struct conn *c);
static void worker_maybe_exit(struct worker *w);

/* ---- the workload report to the manager ---- */

static void report_done_flush(struct worker *w)
{
	struct msg_conn_done d;

	if (w->done_pending > 0) {
		d.count = w->done_pending;
		if (msg_send(FD_PARENT, MSG_CONN_DONE, &d, sizeof(d), NULL, 0) == -1) {
			if (errno == EAGAIN)
				event_add(&w->ev_flush, NULL); /* again once there is room */
			else if (errno == EPIPE || errno == ECONNRESET)
				w->done_pending = 0; /* the manager is gone: nobody counts */
			else
				log_warn("conn-done to manager");
			return;
		}
		w->done_pending = 0;
	}
}

/*
 * Counted now, reported once the loop has run what is active: connections
 * that end in the same round cost the manager one message.
 */
static void report_done(struct worker *w)
{
	if (w->done_pending++ == 0)
		event_active(&w->ev_report, EV_TIMEOUT, 0);
}

static void report_cb(evutil_socket_t fd, short what, void *arg) { report_done_flush(arg); }

static void flush_cb(evutil_socket_t fd, short what, void *arg) { report_done_flush(arg); }

/* ---- connection life ---- */

/*
 * The monotonic clock is read twice per loop round, not per callback or
 * request: by the round's first callback that works (here), and by
 * worker_run as the round ends, for the busy share. Everything in a round
 * uses its start: deadlines, and both ends of a response time, so a
 * response sent in the round its request was read in counts 0 µs (as
 * nginx's time, updated once per loop round, does).
 */
static void worker_round(struct worker *w)
{
	if (!w->in_round) {
		w->in_round = 1;
		w->now_us = clock_now_us();
	}
}

static uint64_t worker_now_ms(const struct worker *w) { return w->now_us / 1000; }

/* Wall-clock seconds for Date and the access log: libevent's time of this loop round. */
static time_t worker_wall(struct worker *w)
{
	struct timeval tv;

	if (event_base_gettimeofday_cached(w->base, &tv) == -1)
		return time(NULL);
	return tv.tv_sec;
}

static struct conn *conn_alloc(struct worker *w)
{
	struct conn *c = w->spare;

	if (c) {
		w->spare = c->next;
		w->nspare--;
	} else if ((c = malloc(sizeof(*c))) == NULL)
		return NULL;
	c->w = w;
	c->inlen = c->consumed = 0;
	c->qn = c->qi = 0;
	c->qbytes = c->outlen = c->outoff = c->hlen = 0;
	c->filefd = -1;
	c->fleft = 0;
	c->fent = NULL;
	c->mleft = 0;
	c->state = C_READ;
	c->prev = NULL;
	c->next = w->open;
	if (w->open)
		w->open->prev = c;
	w->open = c;
	return c;
}

/*
 * Keep some for reuse, free the rest: after a burst, parked connections
 * leave little behind in the worker. Each conn is a mapping of its own
 * (M_MMAP_THRESHOLD in worker_main), so a free gives its pages back at
 * once instead of leaving a fragmented heap.
 */
static void conn_free(struct worker *w, struct conn *c)
{
	if (w->nspare < SPARE_KEEP) {
		c->next = w->spare;
		w->spare = c;
		w->nspare++;
		return;
	}
	free(c);
	w->trim = 1;
}

/*
 * Holding no connection for TRIM_AFTER_MS: a few spares are enough, and
 * freed heap pages go back. Not at once: between two bursts of short
 * connections that would unmap and map a conn for each.
 */
static void trim_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct conn *c;

	if (w->nconns != 0)
		return;
	while (w->nspare > SPARE_IDLE && (c = w->spare) != NULL) {
		w->spare = c->next;
		w->nspare--;
		free(c);
		w->trim = 1;
	}
	if (w->trim) {
		w->trim = 0;
		malloc_trim(0);
	}
}

/* The last connection ended: trim once none has come and gone for TRIM_AFTER_MS (re-armed). */
static void conn_trim(struct worker *w)
{
	struct timeval tv = clock_tv(TRIM_AFTER_MS);

	if (w->nconns == 0 && (w->trim || w->nspare > SPARE_IDLE))
		evtimer_add(&w->ev_trim, &tv);
}

/* The file of the response being built goes back: to the cache, or closed. */
static void conn_file_done(struct conn *c)
{
	filecache_put(c->w->fc, c->fent, c->filefd);
	c->fent = NULL;
	c->filefd = -1;
	c->mleft = 0;
}

/* A queued response's file goes back. */
static void resp_file_done(struct conn *c, struct resp *p)
{
	filecache_put(c->w->fc, p->fent, p->filefd);
	p->fent = NULL;
	p->filefd = -1;
}

/* Body bytes of p's head in out[] (an error page's) that went out: p is the first unsent one. */
static uint64_t resp_outbody_sent(const struct conn *c, const struct resp *p)
{
	size_t bodyat = p->head_end - p->req.outbody;

	return c->outoff > bodyat ? c->outoff - bodyat : 0;
}

/*
 * Responses queued and not written whole: each is logged as far as it
 * went (the first may be partly sent, the rest not at all), files go back.
 */
static void conn_queue_drop(struct conn *c, int cut)
{
	for (; c->qi < c->qn; c->qi++) {
		struct resp *p = &c->q[c->qi];

		if (cut)
			resp_account(c, &p->req, p->req.body + resp_outbody_sent(c, p));
		resp_file_done(c, p);
		c->outoff = p->head_end; /* the next one has sent nothing */
	}
	c->qn = c->qi = 0;
	c->qbytes = c->outlen = c->outoff = c->hlen = 0;
	c->fleft = 0;
}

static void conn_close(struct conn *c)
{
	struct worker *w = c->w;

	conn_queue_drop(c, c->state == C_WRITE);
	if (c->armed)
		event_del(&c->ev); /* before close: epoll interest follows the file */
	close(c->fd);
	conn_file_done(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->open = c->next;
	if (c->next)
		c->next->prev = c->prev;
	conn_free(w, c);
	w->nconns--;
	report_done(w);
	conn_trim(w);
	worker_maybe_exit(w);
}

/*
 * Wait for what (EV_READ or EV_WRITE) with a timeout. The event persists,
 * so on a keep-alive connection only the timeout changes from one request
 * to the next: no epoll_ctl per request. Switching direction re-registers.
 */
static void conn_arm(struct conn *c, short what, uint64_t ms)
{
	struct timeval tv = clock_tv(ms);

	if (c->armed != what) {
		if (c->armed)
			event_del(&c->ev);
		event_assign(&c->ev, c->w->base, c->fd, what | EV_PERSIST, conn_read_cb, c);
		c->armed = what;
	}
	event_add(&c->ev, &tv);
}

/*
 * Idle between requests: how long to wait before the next step - the
 * keep-alive timeout, or, with parking on, http.park_after (then
 * conn_on_timeout parks the connection).
 */
static uint64_t conn_idle_wait(const struct conn *c, uint64_t now)
{
	const struct worker *w = c->w;
	uint64_t left = c->ka_deadline_ms > now ? c->ka_deadline_ms - now : 0;

	if (w->draining)
		return parking(w) ? 0 : IDLE_GRACE_MS; /* retiring: park it now */
	if (c->ka_deadline_ms == 0)
		return w->cfg.keepalive_timeout_ms;
	return w->cfg.park_after_ms > 0 && w->cfg.park_after_ms < left ? w->cfg.park_after_ms :
	                                                                 left;
}

/* Wait for the next request: idle keep-alive, or the rest of a head. */
static void conn_wait_request(struct conn *c)
{
	uint64_t now = worker_now_ms(c->w);

	if (c->inlen == 0 && !c->proxy)
		conn_arm(c, EV_READ, conn_idle_wait(c, now));
	else
		conn_arm(c, EV_READ, c->deadline_ms > now ? c->deadline_ms - now : 0);
}

/*
 * Half-close and drain what the client still sends, so our answer is not
 * lost to a RST. For LINGER_MS at most: an absolute deadline, since the
 * event's own timeout restarts with every byte that arrives.
 */
static void conn_linger(struct conn *c)
{
	c->state = C_LINGER;
	shutdown(c->fd, SHUT_WR);
	c->deadline_ms = worker_now_ms(c->w) + LINGER_MS;
	conn_arm(c, EV_READ, LINGER_MS);
}

static void conn_linger_read(struct conn *c)
{
	char sink[4096];
	uint64_t now;
	ssize_t n;

	while ((n = read(c->fd, sink, sizeof(sink))) > 0)
		;
	if (n == 0 || errno != EAGAIN || (now = worker_now_ms(c->w)) >= c->deadline_ms)
		conn_close(c);
	else
		conn_arm(c, EV_READ, c->deadline_ms - now);
}

/* ---- answers ---- */

/* Where the head of the response being built goes: after those queued, HEAD_MAX bytes free. */
static char *conn_head(struct conn *c) { return c->out + c->outlen; }

static const char *conn_header(const struct conn *c, const struct http_request *r)
{
	return http_connection_header(c->keepalive, r->minor);
}

/*
 * A small answer with an HTML body naming the status: errors, 301, 416.
 * close_conn: the connection can no longer be trusted, whatever was asked.
 * 0 when it does not fit our buffer.
 */
static int respond_status(
    struct conn *c, int status, const char *extra, int close_conn, int head_only)
{
	size_t n, body;

	if (close_conn)
		c->keepalive = 0;
	n = http_status_response(conn_head(c), HEAD_MAX, status, extra,
	    http_connection_header(c->keepalive, c->req.minor), head_only, c->req.when, &body);
	if (n == 0)
		return 0;
	c->req.status = status;
	c->req.outbody = body;
	c->hlen = n;
	return 1;
}

static void respond_error(struct conn *c, int status, int close_conn, int head_only)
{
	respond_status(c, status, "", close_conn, head_only); /* always fits */
}

/* The head just formatted at conn_head() (snprintf's n): 1 when it fit, else a 500 instead. */
static int out_fits(struct conn *c, int n)
{
	if (n >= 0 && n < HEAD_MAX) {
		c->hlen = (size_t)n;
		return 1;
	}
	log_warnx("a response head did not fit its buffer, answering 500");
	respond_error(c, 500, 1, 0);
	return 0;
}

static void respond_options(struct conn *c, const struct http_request *r)
{
	c->req.status = 200;
	out_fits(c,
	    snprintf(conn_head(c), HEAD_MAX,
	        "HTTP/1.1 200 OK\r\nServer: wsd\r\nDate: %s\r\n"
	        "Allow: GET, HEAD, OPTIONS\r\nContent-Length: 0\r\n%s\r\n",
	        http_date_cached(c->req.when), conn_header(c, r)));
}

static void respond_not_modified(
    struct conn *c, const struct http_request *r, const struct fc_validators *v)
{
	c->req.status = 304;
	out_fits(c,
	    snprintf(conn_head(c), HEAD_MAX,
	        "HTTP/1.1 304 Not Modified\r\nServer: wsd\r\nDate: %s\r\n"
	        "Last-Modified: %s\r\nETag: %s\r\n%s\r\n",
	        http_date_cached(c->req.when), v->lm, v->etag, conn_header(c, r)));
}

static void respond_unsatisfiable(struct conn *c, const struct http_request *r, off_t size)
{
	char range[64];

	snprintf(range, sizeof(range), "Content-Range: bytes */%lld\r\n", (long long)size);
	respond_status(c, 416, range, 0, r->method == HTTP_M_HEAD);
}

/*
 * The body of a response, kept till it is sent: a cached small file's
 * bytes go out with the head, anything else by sendfile from its own
 * offset (a cached descriptor is shared: never its file position).
 */
static void conn_take_body(struct conn *c, struct fc_file *f, off_t start, off_t len)
{
	c->fent = f->e;
	if (f->data) {
		c->mbody = f->data + start;
		c->mleft = (size_t)len;
		c->filefd = -1;
	} else {
		c->filefd = f->fd;
		c->foff = start;
		c->fleft = (size_t)len;
	}
	f->e = NULL;
	f->fd = -1;
}

static void head_range(struct headbuf *b, off_t start, off_t len, off_t size)
{
	hb_lit(b, "\r\nContent-Range: bytes ");
	hb_u64(b, (uint64_t)start);
	hb_lit(b, "-");
	hb_u64(b, (uint64_t)(start + len - 1));
	hb_lit(b, "/");
	hb_u64(b, (uint64_t)size);
}

/*
 * 200 with the whole file, or 206 with one range of it (even one that
 * covers the whole file: the client asked for a range). The head is built
 * in one buffer by appending (no format parsed per request), with the Date
 * of this second and the file's validators as the cache formatted them.
 */
static void respond_file(struct conn *c, const struct http_request *r, struct fc_file *f,
    const char *path, off_t start, off_t len, int partial)
{
	struct headbuf b;

	c->req.status = partial ? 206 : 200;
	hb_init(&b, conn_head(c), HEAD_MAX);
	hb_str(&b, partial ? "HTTP/1.1 206 Partial Content\r\n" : "HTTP/1.1 200 OK\r\n");
	hb_lit(&b, "Server: wsd\r\nDate: ");
	hb_str(&b, http_date_cached(c->req.when));
	hb_lit(&b, "\r\nContent-Type: ");
	hb_str(&b, mime_lookup(path));
	hb_lit(&b, "\r\nContent-Length: ");
	hb_u64(&b, (uint64_t)len);
	if (partial)
		head_range(&b, start, len, f->st->st_size);
	hb_lit(&b, "\r\nLast-Modified: ");
	hb_str(&b, f->v->lm);
	hb_lit(&b, "\r\nETag: ");
	hb_str(&b, f->v->etag);
	hb_lit(&b, "\r\nAccept-Ranges: bytes\r\n");
	hb_str(&b, conn_header(c, r));
	hb_lit(&b, "\r\n");
	if (!out_fits(c, hb_end(&b)) || r->method == HTTP_M_HEAD || len == 0) {
		filecache_release(c->w->fc, f);
		return;
	}
	conn_take_body(c, f, start, len);
}

/* Conditionals first (RFC 9110 13.2.2), then the range. */
static void respond_found(
    struct conn *c, const struct http_request *r, struct fc_file *f, const char *path)
{
	const struct stat *st = f->st;
	off_t start = 0, len = st->st_size;
	int partial = 0;

	if (http_not_modified(r, f->v->etag, st->st_mtime)) {
		respond_not_modified(c, r, f->v);
		filecache_release(c->w->fc, f);
		return;
	}
	switch (http_range(r, st->st_size, f->v->etag, st->st_mtime, &start, &len)) {
	case 416:
		respond_unsatisfiable(c, r, st->st_size);
		filecache_release(c->w->fc, f);
		return;
	case 206:
		partial = 1;
		break;
	default:
		start = 0;
		len = st->st_size;
	}
	respond_file(c, r, f, path, start, len, partial);
}

/* The target's raw query, '?' included, up to a '#'; empty when none. */
static struct http_slice target_query(const struct http_request *r)
{
	const char *p = r->target.p, *end = p + r->target.len, *q;

	while (p < end && *p != '?' && *p != '#')
		p++;
	if (p == end || *p == '#')
		return (struct http_slice){p, 0};
	for (q = p; q < end && *q != '#'; q++)
		;
	return (struct http_slice){p, (size_t)(q - p)};
}

/*
 * A directory asked for without its trailing slash: 301 to the same path
 * with it (query kept), as nginx does, so relative links in its index work.
 * The Location is built from the clean path, encoded again, never from the
 * raw target: "//evil.example/../sub" goes to "/sub/", not off-site.
 * 0 when it does not fit our buffer: the directory is answered as is.
 */
static int respond_slash_redirect(struct conn *c, const struct http_request *r, const char *path)
{
	char enc[HEAD_MAX], location[HEAD_MAX];
	struct http_slice q = target_query(r);
	int n;

	if (resolve_encode(path, enc, sizeof(enc)) == 0)
		return 0;
	n = snprintf(location, sizeof(location), "Location: /%s/%.*s\r\n", enc, (int)q.len, q.p);
	return n > 0 && (size_t)n < sizeof(location) &&
	    respond_status(c, 301, location, 0, r->method == HTTP_M_HEAD);
}

/*
 * Why a 403, in the error log at info, as nginx does: at most
 * FORBIDDEN_LOG_PER_SEC lines a second, the rest counted and the count
 * logged with the next line after that second. The path is the clean one,
 * percent-encoded: no raw client bytes reach the log.
 */
static void log_forbidden(struct worker *w, const char *path, time_t now)
{
	char enc[PATH_MAX * 3];

	if (now != w->forbid_sec) {
		if (w->forbid_dropped > 0)
			log_info("%u more forbidden lines suppressed", w->forbid_dropped);
		w->forbid_sec = now;
		w->forbid_n = w->forbid_dropped = 0;
	}
	if (w->forbid_n++ >= FORBIDDEN_LOG_PER_SEC) {
		w->forbid_dropped++;
		return;
	}
	if (resolve_encode(path, enc, sizeof(enc)) == 0)
		enc[0] = '\0'; /* the root itself */
	log_info("forbidden: /%s: %s", enc, resolve_why());
}

/*
 * The clean path is the cache's key: the lexical checks (hidden names,
 * "..") come first, and whatever the cache has not checked within
 * http.open_file_cache_valid goes through resolve_open_idx() again.
 */
static void respond_get(struct conn *c, const struct http_request *r)
{
	struct worker *w = c->w;
	char path[PATH_MAX];
	struct fc_file f;
	int status, rc, dir, head = r->method == HTTP_M_HEAD;

	status = resolve_target_dir(r->target.p, r->target.len, path, sizeof(path) - 16, &dir);
	if (status != 0) {
		respond_error(c, status, status == 400, head);
		return;
	}
	rc = filecache_open(w->fc, w->rootfd, path, worker_now_ms(w), &f, &status);
	/* a directory without its slash: redirected first, even when it has no index */
	if (f.isdir && !dir && respond_slash_redirect(c, r, path)) {
		filecache_release(w->fc, &f);
		return;
	}
	if (rc == -1) {
		if (status == 403)
			log_forbidden(w, path, c->req.when);
		respond_error(c, status, 0, head);
		return;
	}
	if (!f.isdir && dir) {
		/* "/file.txt/": a file is no directory (404, as nginx) */
		filecache_release(w->fc, &f);
		respond_error(c, 404, 0, head);
		return;
	}
	respond_found(c, r, &f, f.isdir ? RESOLVE_INDEX : path);
}

static void respond(struct conn *c, const struct http_request *r)
{
	c->keepalive = r->keepalive && (!c->w->draining || parking(c->w)) &&
	    c->w->cfg.keepalive_timeout_ms > 0;
	switch (r->method) {
	case HTTP_M_GET:
	case HTTP_M_HEAD:
		respond_get(c, r);
		break;
	case HTTP_M_OPTIONS:
		respond_options(c, r);
		break;
	case HTTP_M_OTHER: /* a body we will not read: close after the answer */
		respond_error(c, 405, r->content_length > 0, 0);
		break;
	case HTTP_M_UNKNOWN:
		respond_error(c, 501, r->content_length > 0, 0);
		break;
	}
}

/* ---- the state machine ---- */

/*
 * Remember what the access log and the figures need; slices point into
 * c->in. valid: the whole head parsed; a refused one keeps its request
 * line when it had one.
 */
static void conn_note_request(struct conn *c, const struct http_request *r, int valid)
{
	memset(&c->req, 0, sizeof(c->req));
	c->req.minor = r && r->version.len > 0 ? r->minor : -1;
	if (c->req.minor >= 0) {
		c->req.method = r->method_name;
		c->req.target = r->target;
		c->req.version = r->version;
	}
	if (valid) {
		c->req.referer = r->referer;
		c->req.user_agent = r->user_agent;
	}
	c->req.when = worker_wall(c->w);
	c->req.start_us = c->w->now_us;
}

/* The response just built joins the batch. */
static void conn_queue(struct conn *c)
{
	struct resp *p = &c->q[c->qn++];

	p->req = c->req;
	c->outlen += c->hlen;
	p->head_end = c->outlen;
	p->mbody = c->mbody;
	p->mleft = c->mleft;
	p->fent = c->fent;
	p->filefd = c->filefd;
	c->qbytes += c->hlen + c->mleft;
	c->hlen = c->mleft = 0;
	c->fent = NULL;
	c->filefd = -1;
}

/*
 * Another request may join the batch: more bytes are buffered, the last
 * response keeps the connection and has no file to send after it, and
 * there is room for one more (a head of HEAD_MAX at most).
 */
static int conn_batch_more(const struct conn *c)
{
	return c->keepalive && c->q[c->qn - 1].filefd < 0 && c->inlen > c->consumed &&
	    c->qn < PIPE_MAX && sizeof(c->out) - c->outlen >= HEAD_MAX && c->qbytes < PIPE_BYTES;
}

/* Parse what is buffered after the batch so far: 1 = a response is queued, 0 = need more bytes. */
static int conn_parse(struct conn *c)
{
	struct http_request req;
	int rc = http_parse_request(c->in + c->consumed, c->inlen - c->consumed, &req);

	if (rc == 0)
		return 0;
	conn_note_request(c, &req, rc > 0);
	if (rc < 0) {
		/* The request line may have parsed: a HEAD gets no body even now. */
		int head = req.method_name.len > 0 && req.method == HTTP_M_HEAD;

		c->consumed = c->inlen;
		respond_error(c, -rc, 1, head);
	} else {
		c->consumed += (size_t)rc;
		respond(c, &req);
	}
	conn_queue(c);
	return 1;
}

static const char *opt_ptr(struct http_slice s) { return s.len ? s.p : NULL; }

/*
 * One response, whole or cut short (by the client, a send timeout, the
 * drain deadline): the figures, and a line in the access log with the
 * status as sent and the body bytes that actually went out.
 */
static void resp_account(struct conn *c, const struct reqinfo *r, uint64_t bytes)
{
	struct worker *w = c->w;
	uint64_t us = w->now_us - r->start_us;
	struct accesslog_entry e = {
	    .peer = c->peer.ss_family ? (const struct sockaddr *)&c->peer : NULL,
	    .when = r->when,
	    .minor = r->minor,
	    .status = r->status,
	    .method = r->method.p,
	    .method_len = r->method.len,
	    .target = r->target.p,
	    .target_len = r->target.len,
	    .version = opt_ptr(r->version),
	    .version_len = r->version.len,
	    .referer = opt_ptr(r->referer),
	    .referer_len = r->referer.len,
	    .user_agent = opt_ptr(r->user_agent),
	    .user_agent_len = r->user_agent.len,
	    .bytes = bytes,
	    .usec = us,
	};

	w->requests++;
	w->resp_us += us;
	w->resp_hist[us < 1000 ? 0 : us < 10000 ? 1 : us < 100000 ? 2 : us < 1000000 ? 3 : 4]++;
	if (accesslog_active())
		accesslog_write(&e);
}

/* The first unsent response went out whole: logged, its file back. */
static void resp_done(struct conn *c)
{
	struct resp *p = &c->q[c->qi++];

	resp_account(c, &p->req, p->req.body + p->req.outbody);
	resp_file_done(c, p);
}

/* n bytes of the batch's heads and bodies from memory went out, in order. */
static void conn_sent(struct conn *c, size_t n)
{
	while (c->qi < c->qn) {
		struct resp *p = &c->q[c->qi];
		size_t h = p->head_end - c->outoff, b;

		h = n < h ? n : h;
		c->outoff += h;
		n -= h;
		b = n < p->mleft ? n : p->mleft;
		p->mbody += b;
		p->mleft -= b;
		p->req.body += b;
		n -= b;
		if (c->outoff < p->head_end || p->mleft > 0 || p->filefd >= 0)
			return; /* not whole yet, or its file comes next */
		resp_done(c);
	}
}

/* One iovec per head and per body from memory, from where the last write ended. */
static int conn_iov(struct conn *c, struct iovec *iov)
{
	size_t at = c->outoff;
	int n = 0;

	for (unsigned i = c->qi; i < c->qn; i++) {
		const struct resp *p = &c->q[i];

		if (p->head_end > at)
			iov[n++] = (struct iovec){c->out + at, p->head_end - at};
		if (p->mleft > 0)
			iov[n++] = (struct iovec){(void *)p->mbody, p->mleft};
		at = p->head_end;
	}
	return n;
}

/*
 * The batch's heads and bodies from memory, gathered into one sendmsg
 * (2 * PIPE_MAX iovecs at most, well under IOV_MAX): a cached small file
 * costs one write, and so do 16 pipelined ones. 1 all sent, 0 again
 * later, -1 error.
 */
static int conn_flush_out(struct conn *c)
{
	struct iovec iov[2 * PIPE_MAX];
	struct msghdr mh = {.msg_iov = iov};
	ssize_t n;

	while ((mh.msg_iovlen = (size_t)conn_iov(c, iov)) > 0) {
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | (c->fleft ? MSG_MORE : 0));
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->w->bytes += (uint64_t)n;
		conn_sent(c, (size_t)n);
	}
	return 1;
}

/*
 * Write the batch, then the last response's file with sendfile: 1 done,
 * 0 again later, -1 error.
 */
static int conn_flush(struct conn *c)
{
	struct resp *p;
	ssize_t n;
	int rc;

	if ((rc = conn_flush_out(c)) != 1 || c->qi == c->qn)
		return rc;
	p = &c->q[c->qi];
	while (c->fleft > 0) {
		n = sendfile(c->fd, p->filefd, &c->foff, c->fleft);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		if (n == 0)
			return -1; /* the file shrank under us */
		c->fleft -= (size_t)n;
		c->w->bytes += (uint64_t)n;
		p->req.body += (uint64_t)n;
	}
	resp_done(c);
	return 1;
}

/* The batch went out: keep the connection for the next request, or end it. */
static int conn_next_request(struct conn *c)
{
	int status = c->q[c->qn - 1].req.status;
	uint64_t now;

	conn_queue_drop(c, 0); /* all written: only the counts are reset */
	c->state = C_READ;     /* accounted: a close from here on is not a cut response */
	if (!c->keepalive) {
		/* Unread bytes, or a refused request: half-close so the answer is not lost to a
		 * RST. */
		if (c->inlen > c->consumed || status >= 400)
			conn_linger(c);
		else
			conn_close(c);
		return 0;
	}
	c->inlen -= c->consumed;
	memmove(c->in, c->in + c->consumed, c->inlen);
	c->consumed = 0;
	now = worker_now_ms(c->w);
	c->deadline_ms = now + c->w->cfg.header_timeout_ms;
	c->ka_deadline_ms = now + c->w->cfg.keepalive_timeout_ms; /* from the last request */
	return 1;
}

/*
 * Pipelined requests already buffered are answered together: their
 * responses are queued, in order, and written at once when no complete
 * request is left, the batch is full, or one ends it (a file to send, a
 * connection to close).
 */
static void conn_run(struct conn *c)
{
	for (;;) {
		if (c->state == C_READ) {
			if (conn_parse(c)) {
				if (conn_batch_more(c))
					continue;
			} else if (c->qn == 0) {
				conn_wait_request(c);
				return;
			}
			c->state = C_WRITE;
		}
		switch (conn_flush(c)) {
		case 0:
			conn_arm(c, EV_WRITE, SEND_TIMEOUT_MS);
			return;
		case -1:
			conn_close(c);
			return;
		}
		if (!conn_next_request(c))
			return;
	}
}

static void conn_on_timeout(struct conn *c)
{
	if (conn_parkable(c, worker_now_ms(c->w))) {
		conn_park(c);
		return;
	}
	if (c->state == C_READ && c->inlen > 0) {
		struct http_request req;

		/* A request started and stalled: say so, then close. Its request
		 * line, when whole, still goes to the access log. */
		http_parse_request(c->in, c->inlen, &req);
		conn_note_request(c, &req, 0);
		respond_error(c, 408, 1, 0);
		conn_queue(c);
		c->state = C_WRITE;
		if (conn_flush(c) == 1) {
			conn_queue_drop(c, 0);
			conn_linger(c);
			return;
		}
	}
	conn_close(c); /* idle keep-alive, stalled send (accounted), or linger over */
}

/*
 * A peer in server.proxy_from: its PROXY v2 header comes first
 * (proxyproto.c). 1: taken, c->peer is now the client's, parse the
 * request that followed; 0: waiting for more, or refused with a 400.
 */
static int conn_proxy(struct conn *c)
{
	struct proxy_hdr h;
	int rc = proxy_parse(c->in, c->inlen, sizeof(c->in), &h);
	uint64_t now;

	if (rc == 0) {
		conn_wait_request(c);
		return 0;
	}
	c->proxy = 0;
	if (rc < 0) {
		proxy_log_refused(&c->w->proxy_log, &c->peer, rc, time(NULL));
		conn_note_request(c, NULL, 0);
		respond_error(c, 400, 1, 0);
		conn_queue(c);
		c->consumed = c->inlen;
		c->state = C_WRITE;
		conn_run(c);
		return 0;
	}
	if ((c->inlen = proxy_apply(c->in, c->inlen, (size_t)rc, &h, &c->peer)) > 0)
		return 1;
	now = worker_now_ms(c->w); /* the request still has the header timeout */
	conn_arm(c, EV_READ, c->deadline_ms > now ? c->deadline_ms - now : 0);
	return 0;
}

static void conn_read(struct conn *c)
{
	ssize_t n;

	if (c->state == C_LINGER) {
		conn_linger_read(c);
		return;
	}
	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		conn_close(c);
		return;
	}
	if (n > 0) {
		if (c->inlen == 0)
			c->deadline_ms = worker_now_ms(c->w) + c->w->cfg.header_timeout_ms;
		c->inlen += (size_t)n;
	}
	if (c->proxy && !conn_proxy(c))
		return;
	conn_run(c);
}

/* ---- parking: idle keep-alive connections to the listener (docs/architecture.md) ---- */

/* Parking on (http.park_after > 0), and we serve on or retire (scale down, restarts). */
static int parking(const struct worker *w)
{
	return w->cfg.park_after_ms > 0 && (!w->draining || w->retiring);
}

/*
 * The deadline a parked connection keeps: the keep-alive timeout from its
 * last request; retiring, a connection yet to send its first request
 * keeps its header timeout. 0: it cannot be parked.
 */
static uint64_t conn_park_deadline(const struct conn *c)
{
	if (c->ka_deadline_ms != 0)
		return c->keepalive ? c->ka_deadline_ms : 0;
	return c->w->retiring ? c->deadline_ms : 0;
}

/* Between requests, nothing buffered, no file open, keep-alive on, before its deadline. */
static int conn_parkable(const struct conn *c, uint64_t now)
{
	return parking(c->w) && c->state == C_READ && c->inlen == 0 && c->filefd < 0 &&
	    c->fent == NULL && !c->proxy && conn_park_deadline(c) > now;
}

static uint32_t peer_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    ss->ss_family == AF_INET6   ? sizeof(struct sockaddr_in6) :
	                                  0;
}

/*
 * Hand an idle connection to the listener. Bytes or an end-of-file that
 * came meanwhile are read here instead. Ownership passes when sendmsg
 * succeeds: then our registration goes (epoll interest belongs to the
 * open file, which lives on in flight), our copy closes and the manager
 * counts it done. A full channel or too many descriptors in flight: keep
 * it and try again shortly; never drop it.
 */
static void conn_park(struct conn *c)
{
	struct worker *w = c->w;
	struct msg_park mp;
	uint64_t now;
	char b;

	if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != -1 || errno != EAGAIN) {
		conn_read(c);
		return;
	}
	memset(&mp, 0, sizeof(mp));
	mp.deadline_ms = conn_park_deadline(c);
	mp.conn.peerlen = peer_len(&c->peer);
	memcpy(&mp.conn.peer, &c->peer, mp.conn.peerlen);
	if (msg_send(FD_TO_LISTENER, MSG_PARK, &mp, sizeof(mp), &c->fd, 1) == 0) {
		w->parked++;
		conn_close(c);
		return;
	}
	if (w->park_waits++ == 0 || !msg_send_again(errno))
		log_warn("parking a connection, keeping it for now");
	now = worker_now_ms(w);
	conn_arm(c, EV_READ,
	    mp.deadline_ms - now < PARK_RETRY_MS ? mp.deadline_ms - now : PARK_RETRY_MS);
}

/* At max_workload: the connection idle longest goes to the listener, so new ones never queue. */
static void park_oldest_idle(struct worker *w)
{
	struct conn *oldest = NULL;
	uint64_t now = worker_now_ms(w);

	for (struct conn *c = w->open; c; c = c->next)
		if (conn_parkable(c, now) &&
		    (!oldest || c->ka_deadline_ms < oldest->ka_deadline_ms))
			oldest = c;
	if (oldest)
		conn_park(oldest);
}

static void conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct worker *w = c->w; /* c may be freed below */

	(void)fd;
	worker_round(w);
	if (what & EV_TIMEOUT)
		conn_on_timeout(c);
	else if (c->state == C_WRITE)
		conn_run(c);
	else
		conn_read(c);
}

/*
 * A new connection's request is usually there already (sent with the
 * connect, before the hand-off came): read it at once and wait in epoll
 * only when it is not. A request answered and closed right away then
 * costs no epoll_ctl at all (2 before); one that is not there yet costs a
 * read answering EAGAIN. Draining, it waits as before (the idle grace).
 */
static void conn_begin(struct conn *c)
{
	struct worker *w = c->w;
	ssize_t n;

	if (w->draining) {
		conn_arm(c, EV_READ,
		    c->proxy       ? w->cfg.header_timeout_ms :
		        parking(w) ? 0 :
		                     IDLE_GRACE_MS);
		return;
	}
	n = read(c->fd, c->in, sizeof(c->in));
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		conn_arm(c, EV_READ, w->cfg.header_timeout_ms);
		return;
	}
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->inlen = (size_t)n;
	if (c->proxy && !conn_proxy(c))
		return;
	conn_run(c);
}

static void conn_start(struct worker *w, int fd, const struct msg_conn *mc)
{
	struct conn *c;

	/*
	 * Even while draining: the manager may have sent it before it heard
	 * we drain. Its first request is answered with Connection: close.
	 */
	if ((c = conn_alloc(w)) == NULL) {
		log_warn("no memory for a connection");
		close(fd);
		report_done(w);
		return;
	}
	c->fd = fd;
	memset(&c->peer, 0, sizeof(c->peer));
	if (mc && mc->peerlen > 0 && mc->peerlen <= sizeof(c->peer))
		memcpy(&c->peer, &mc->peer, mc->peerlen);
	w->nconns++;
	w->accepted++;
	c->armed = 0;
	c->keepalive = 0;
	/* Checked on the address we have: no syscall for a peer not listed. A returning
	 * parked connection sent its header when it first came (c->peer is the client's). */
	c->proxy = !(mc && (mc->flags & MSG_CONN_RETURNING)) &&
	    proxy_from_match(w->cfg.proxy_from, w->cfg.proxy_from_n, (struct sockaddr *)&c->peer);
	c->ka_deadline_ms = 0; /* not idle between requests until it had one */
	/* A connection that never sends a byte ends at the header timeout. */
	worker_round(w); /* whichever callback received it */
	c->deadline_ms = worker_now_ms(w) + w->cfg.header_timeout_ms;
	/* First: the oldest idle one parked below could be this very connection. */
	if (mc && (mc->flags & MSG_CONN_RETURNING)) {
		conn_arm(c, EV_READ, w->cfg.header_timeout_ms);
		conn_read(c); /* a parked client spoke: its bytes are there */
	} else
		conn_begin(c);
	if (w->nconns >= w->cfg.max_workload && w->cfg.park_after_ms > 0)
		park_oldest_idle(w);
}

/* ---- draining and exit ---- */

/* Exit once drained - and only once no connection can still be on its way to us. */
static void worker_maybe_exit(struct worker *w)
{
	if (w->draining && w->last_conn_sent && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

/* Close what is left, and tell the manager how many (a last heartbeat) before exiting. */
static void drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t n = 0;

	worker_round(w); /* the responses cut short are timed */
	for (struct conn *c = w->open; c; c = c->next)
		n += c->state != C_LINGER; /* a lingering one has had its answer */
	log_warnx("drain deadline passed with %llu connection%s open, closing %s",
	    (unsigned long long)w->nconns, log_s(w->nconns), w->nconns == 1 ? "it" : "them");
	w->cut += n;
	while (w->open)
		conn_close(w->open);
	report_done_flush(w);
	heartbeat_send(&w->hb);
	event_base_loopexit(w->base, NULL);
}

/* The drain deadline is ms from now, unless it was already sooner. */
static void drain_deadline_set(struct worker *w, uint32_t ms)
{
	uint64_t at = clock_now_ms() + ms;
	struct timeval tv = clock_tv(ms);

	if (w->deadline_at && at >= w->deadline_at)
		return;
	w->deadline_at = at;
	evtimer_add(&w->ev_drain_deadline, &tv);
}

/*
 * Stop taking work. Busy connections finish their answer, sent with
 * "Connection: close"; an idle keep-alive connection may still send one
 * request within a short grace (it is answered and closed): its request
 * may already be on its way. hurry: our manager is gone, so the deadline
 * may come sooner even if we were already draining (never later).
 */
static void worker_drain(struct worker *w, uint32_t deadline_ms, int hurry)
{
	struct conn *c, *next;

	if (!w->draining) {
		w->draining = 1;
		log_info("%s %llu connection%s", w->retiring ? "retiring, parking" : "draining",
		    (unsigned long long)w->nconns, log_s(w->nconns));
		drain_deadline_set(w, deadline_ms);
	} else if (hurry)
		drain_deadline_set(w, deadline_ms);
	else {
		worker_maybe_exit(w); /* the manager's go-ahead may be what we waited for */
		return;
	}
	for (c = w->open; c; c = next) {
		next = c->next;
		if (c->state == C_READ && c->inlen == 0)
			conn_wait_request(c); /* re-armed with the idle grace */
	}
	worker_maybe_exit(w);
}

/*
 * Retiring is not stopping (scale down, restarts, recycling, a manager
 * replaced or gone): answers keep keep-alive, each connection parks in the
 * listener once idle, and we exit when none is left. With parking off,
 * the same as a drain.
 */
static void worker_retire(struct worker *w)
{
	if (!w->draining)
		w->retiring = 1;
	worker_drain(w, w->cfg.shutdown_timeout_ms, 0);
}

static int parent_read(struct worker *w);

/*
 * Our manager is gone: SIGTERM from PR_SET_PDEATHSIG, or end-of-file on
 * its channel. Whatever it sent is already in the channel: take it first.
 * While the daemon lives - we were re-parented to it, the subreaper (or
 * are about to be: the manager's channel closes before it is reaped) -
 * our clients get the whole server.shutdown_timeout; once the daemon is
 * gone too, only a short grace, so nothing outlives it by more than 2 s.
 * A later SIGTERM (the daemon dying too) may only shorten the deadline.
 */
static void worker_orphaned(struct worker *w)
{
	int daemon_lives = proc_daemon_alive() || getppid() == w->ppid;
	uint32_t grace = daemon_lives ? w->cfg.shutdown_timeout_ms : PARENT_GONE_GRACE_MS;

	parent_read(w);
	/* PR_SET_PDEATHSIG and end-of-file both tell it: act and say it once per loss. */
	if (w->orphaned >= (daemon_lives ? 1 : 2))
		return;
	w->orphaned = daemon_lives ? 1 : 2;
	log_warnx("%s is gone, finishing in-flight requests within %u ms",
	    daemon_lives ? "manager" : "daemon", grace);
	w->last_conn_sent = 1;
	if (daemon_lives && !w->draining)
		w->retiring = 1; /* the listener lives on: park what we hold */
	worker_drain(w, grace, 1);
}

static void sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	struct worker *w = arg;

	worker_round(w);
	if (getppid() != w->ppid) {
		worker_orphaned(w);
		return;
	}
	/* Told to stop by pid: the manager starts our replacement now. */
	if (!w->draining && msg_send(FD_PARENT, MSG_DRAINING, NULL, 0, NULL, 0) == -1)
		log_warn("draining notice to manager");
	worker_retire(w);
}

/* ---- the manager channel ---- */

/*
 * The pool policy's load figures: the share of the interval since the last
 * heartbeat our callbacks took (the clock read around each), and how much
 * later than its period this heartbeat fired (the loop was busy).
 */
static void busy_fill(struct worker *w, struct msg_heartbeat *hb)
{
	uint64_t now = clock_now_us(), wall = now - w->hb_at_us;
	uint64_t period = (uint64_t)w->cfg.heartbeat_interval_ms * 1000;
	uint64_t busy = w->busy_us - w->hb_busy_us;

	if (w->hb_at_us != 0 && wall > 0) {
		hb->busy_ppm = busy >= wall ? 1000000 : (uint32_t)(busy * 1000000 / wall);
		hb->lag_us = wall > period ?
		    (uint32_t)(wall - period < UINT32_MAX ? wall - period : UINT32_MAX) :
		    0;
	}
	w->hb_at_us = now;
	w->hb_busy_us = w->busy_us;
}

static void heartbeat_fill(void *arg, struct msg_heartbeat *hb)
{
	struct worker *w = arg;

	hb->connections = w->nconns;
	hb->accepted = w->accepted;
	hb->requests = w->requests;
	hb->bytes = w->bytes;
	hb->resp_us = w->resp_us;
	hb->cut = w->cut;
	memcpy(hb->resp_hist, w->resp_hist, sizeof(hb->resp_hist));
	busy_fill(w, hb);
}

/*
 * The open-file cache's descriptors count against ours: each connection
 * may hold a socket and a file of its own first (as the manager's
 * max_workload clamp reckons), MSG_FD_RESERVE stays free.
 */
static unsigned filecache_fd_budget(const struct msg_config *cfg)
{
	long room = msg_fd_limit() - MSG_FD_RESERVE - 2 * (long)cfg->max_workload;

	if (room < 0)
		room = 0;
	return room < (long)cfg->open_file_cache_max ? (unsigned)room : cfg->open_file_cache_max;
}

/* (Re)build the cache from the configuration; without one, files are opened per request. */
static void worker_filecache(struct worker *w)
{
	const struct msg_config *cfg = &w->cfg;
	unsigned fds = filecache_fd_budget(cfg);

	if (w->fc == NULL && (w->fc = filecache_new(0, 0, 0)) == NULL) {
		log_warn("open file cache off");
		return;
	}
	/* a failure is logged, and leaves it off */
	filecache_configure(w->fc, cfg->open_file_cache_max, fds, cfg->open_file_cache_valid_ms);
}

/*
 * A newer generation (a reload): timeouts, the log level, the heartbeat
 * period. Connections take the new timeouts at their next wait. Whether
 * there is an access log stays as at start (the manager is replaced when
 * that changes).
 */
static void worker_reconfigure(struct worker *w, const struct msg_config *cfg)
{
	uint32_t has_access_log = w->cfg.has_access_log;

	if (cfg->generation <= w->cfg.generation)
		return;
	w->cfg = *cfg;
	w->cfg.has_access_log = has_access_log;
	log_setlevel((enum log_level)cfg->log_level);
	worker_filecache(w); /* a reload: files are checked afresh */
	log_debug("configuration generation %u", cfg->generation); /* at the new level */
	heartbeat_interval(&w->hb, cfg->heartbeat_interval_ms);
}

/* The new document root: requests under way keep the files they opened. */
static void worker_root(struct worker *w, int fd)
{
	if (dup2(fd, FD_ROOT) == -1)
		log_warn("new document root");
	close(fd);
	filecache_flush(w->fc); /* every entry was resolved beneath the old root */
}

static void worker_configure(struct worker *w, const struct msg_config *cfg)
{
	if (w->configured) {
		worker_reconfigure(w, cfg);
		return;
	}
	w->cfg = *cfg;
	log_setlevel((enum log_level)cfg->log_level);
	w->rootfd = FD_ROOT;
	worker_filecache(w);
	/* The writer thread starts here, after exec: never a fork after it. */
	if (cfg->has_access_log && accesslog_open(FD_ACCESS, 0) == -1)
		log_warnx("access log off");
	w->configured = 1;
	if (msg_send(FD_PARENT, MSG_READY, NULL, 0, NULL, 0) == -1)
		fatal("ready to manager");
	heartbeat_start(&w->hb, w->base, FD_PARENT, cfg->heartbeat_interval_ms, heartbeat_fill, w);
}

/* A connection from the manager (MSG_CONN, or one of a MSG_CONNS). */
static void conn_take(struct worker *w, int fd, const struct msg_conn *mc)
{
	if (w->configured) {
		conn_start(w, fd, mc);
		return;
	}
	/* The manager configures a worker before giving it work. */
	log_warnx("connection before configuration, closed");
	close(fd);
	report_done(w);
}

static void parent_msg(struct worker *w, struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_CONFIG:
		worker_configure(w, &m->u.config);
		break;
	case MSG_CONN:
		conn_take(w, m->fds[0], &m->u.conn);
		break;
	case MSG_CONNS: /* several at once: each with its own entry */
		for (int i = 0; i < m->nfds; i++)
			conn_take(w, m->fds[i], &m->u.conns.conn[i]);
		break;
	case MSG_LOG_ERROR:
	case MSG_LOG_ACCESS:
		proc_adopt_log(m->hdr.type, m->fds[0]);
		break;
	case MSG_ROOT:
		worker_root(w, m->fds[0]);
		break;
	case MSG_SHUTDOWN:
		/* Channel order: no connection follows this message. */
		w->last_conn_sent = 1;
		worker_drain(w, w->cfg.shutdown_timeout_ms, 0);
		break;
	case MSG_RETIRE:
		/* Likewise, but the server goes on: our connections park in the listener. */
		w->last_conn_sent = 1;
		worker_retire(w);
		break;
	default:
		log_warnx("unexpected %s message from manager", msg_type_name(m->hdr.type));
		msg_close_fds(m);
	}
}

#define PARENT_READ_MSGS 4 /* messages per read (recvmmsg) of the manager channel */

/*
 * Everything queued in the manager channel, PARENT_READ_MSGS a read; a
 * short read found it empty, so we stop without reading once more for
 * EAGAIN. Returns msg_recv_many's last result (-1 with EAGAIN: empty).
 */
static int parent_read(struct worker *w)
{
	struct msg m[PARENT_READ_MSGS];
	unsigned bad;
	int rc;

	do {
		bad = 0;
		rc = msg_recv_many(FD_PARENT, m, PARENT_READ_MSGS, &bad);
		if (bad) {
			int err = errno; /* EBADMSG is no sign the manager is gone */

			log_warnx("%u malformed message%s from manager, dropped", bad, log_s(bad));
			errno = err;
		}
		for (int i = 0; i < rc; i++)
			parent_msg(w, &m[i]);
	} while ((rc > 0 ? rc : 0) + (int)bad == PARENT_READ_MSGS);
	if (rc > 0) {
		errno = EAGAIN; /* short: nothing more now */
		rc = -1;
	}
	return rc;
}

static void parent_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	int rc;

	worker_round(w);
	rc = parent_read(w);
	if (msg_peer_gone(rc)) {
		event_del(&w->ev_parent);
		log_warnx("manager channel closed");
		worker_orphaned(w);
	}
}

/*
 * The loop, one round at a time: the time a round's callbacks took (from
 * the clock read by its first one) is the busy share's figure.
 */
static void worker_run(struct worker *w)
{
	int rc;

	do {
		rc = event_base_loop(w->base, EVLOOP_ONCE);
		if (w->in_round) {
			w->busy_us += clock_now_us() - w->now_us;
			w->in_round = 0;
		}
	} while (rc == 0 && !event_base_got_exit(w->base) && !event_base_got_break(w->base));
	if (rc == -1)
		log_warnx("event loop failed");
}

int worker_main(void)
{
	struct worker w = {.rootfd = -1};

	proc_child_init("worker");
	/* A conn (its buffers) is mapped on its own: freed, it leaves no page behind. */
	mallopt(M_MMAP_THRESHOLD, (int)sizeof(struct conn));
	w.ppid = getppid();
	mime_init("/etc/mime.types");
	if ((w.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	heartbeat_base_init(w.base);
	event_assign(&w.ev_parent, w.base, FD_PARENT, EV_READ | EV_PERSIST, parent_cb, &w);
	event_assign(&w.ev_flush, w.base, FD_PARENT, EV_WRITE, flush_cb, &w);
	evtimer_assign(&w.ev_report, w.base, report_cb, &w);
	evtimer_assign(&w.ev_drain_deadline, w.base, drain_deadline_cb, &w);
	evtimer_assign(&w.ev_trim, w.base, trim_cb, &w);
	event_add(&w.ev_parent, NULL);
	evsignal_assign(&w.ev_term, w.base, SIGTERM, sigterm_cb, &w);
	evsignal_add(&w.ev_term, NULL);
	worker_run(&w);
	log_debug("exiting after %llu requests, %llu connections parked",
	    (unsigned long long)w.requests, (unsigned long long)w.parked);
	while (w.open)
		conn_close(w.open);
	accesslog_close();
	for (struct conn *c; (c = w.spare) != NULL; free(c))
		w.spare = c->next;
	event_base_free(w.base);
	filecache_free(w.fc);
	mime_free();
	return 0;
}
