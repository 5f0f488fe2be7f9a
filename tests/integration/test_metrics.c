/*
 * The daemon's metrics endpoint on a real wsd: /metrics matches what was
 * served and passes promtool, equals wsctl metrics, /healthz and /readyz,
 * readiness during server.drain_delay (and a second stop cutting it
 * short), counters that never go back across role restarts, bad input
 * (garbage, POST, a slow head, a huge head, the 17th connection) that
 * never disturbs the daemon, and wsd -t binding the address.
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define METRICS_ON "[metrics]\nlisten = 127.0.0.1:0\n"
#define PROMTOOL "/usr/bin/promtool"
#define MAXRESP (1 << 20)
#define METRICS_MAX 16 /* METRICSD_MAX_CONNS */

static struct wsd w;

static uint16_t mport(void) { return h_metrics_port(&w); }

static int mconnect(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {10, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "connect %u: %s",
	    port, strerror(errno));
	return fd;
}

/* Everything until the server closes: its length, or -1 on a timeout or an error. */
static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return r == 0 || n == len - 1 ? (ssize_t)n : -1;
}

/* Send raw, read the whole answer into resp (MAXRESP): the status, or -1. */
static int raw(uint16_t port, const char *req, char *resp)
{
	int fd = mconnect(port), status = -1;

	ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	if (read_all(fd, resp, MAXRESP) > 0)
		sscanf(resp, "HTTP/1.1 %d", &status);
	close(fd);
	return status;
}

static char *resp_buf(void)
{
	static char *b;

	if (b == NULL)
		b = malloc(MAXRESP);
	ck_assert_ptr_nonnull(b);
	return b;
}

static int mget(uint16_t port, const char *method, const char *path, char **body)
{
	char req[256], *r = resp_buf(), *b;
	int st;

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\n\r\n", method, path);
	st = raw(port, req, r);
	b = strstr(r, "\r\n\r\n");
	if (body)
		*body = b ? b + 4 : r;
	return st;
}

/* The value of one series ("name" or "name{labels}") in an exposition, or -1 when absent. */
static double series(const char *text, const char *s)
{
	size_t n = strlen(s);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, s, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

struct want {
	uint16_t port;
	const char *series;
	double value;
};

static int has_value(void *arg)
{
	struct want *x = arg;
	char *body;

	return mget(x->port, "GET", "/metrics", &body) == 200 &&
	    series(body, x->series) == x->value;
}

static void wait_value(uint16_t port, const char *s, double v)
{
	struct want x = {port, s, v};
	char *body;

	if (h_wait_until(has_value, &x, h_bound_ms(5000)))
		return;
	mget(port, "GET", "/metrics", &body);
	ck_abort_msg("%s never became %g; last:\n%s", s, v, body);
}

/* Run sh -c cmd; its exit status, its stdout in out. */
static int sh(char *out, size_t len, const char *cmd)
{
	int st = h_run((char *[]){"/bin/sh", "-c", (char *)cmd, NULL}, out, len, 30000);

	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void promtool_check(const char *text)
{
	char path[PATH_MAX + 32], cmd[2 * PATH_MAX], out[4096];

	if (access(PROMTOOL, X_OK) != 0) {
		fprintf(stderr,
		    "SKIP part: %s absent (Debian package prometheus): "
		    "the exposition is not linted\n",
		    PROMTOOL);
		return;
	}
	snprintf(path, sizeof(path), "%s/metrics.txt", w.dir);
	h_write_text(path, text);
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s 2>&1", PROMTOOL, path);
	ck_assert_msg(sh(out, sizeof(out), cmd) == 0, "promtool check metrics: %s", out);
}

/* The exposition without the lines that move by themselves (ages, uptime). */
static void strip_timing(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (const char *p = in; *p;) {
		const char *e = strchr(p, '\n');
		size_t l = e ? (size_t)(e - p + 1) : strlen(p);

		if (strncmp(p, "wsd_uptime_seconds ", 19) != 0 &&
		    strncmp(p, "wsd_heartbeat_age_seconds{", 26) != 0 && n + l < len) {
			memcpy(out + n, p, l);
			n += l;
		}
		p += l;
	}
	out[n] = '\0';
}

static int wsctl_metrics_equal(uint16_t port)
{
	static char a[MAXRESP], b[MAXRESP], ctl[MAXRESP];
	char cmd[2 * PATH_MAX], *body;

	snprintf(cmd, sizeof(cmd), "%s -s %s metrics", WSCTL_BIN, w.sock);
	ck_assert_int_eq(sh(ctl, sizeof(ctl), cmd), 0);
	ck_assert_int_eq(mget(port, "GET", "/metrics", &body), 200);
	strip_timing(body, a, sizeof(a));
	strip_timing(ctl, b, sizeof(b));
	return strcmp(a, b) == 0;
}

START_TEST(test_scrape_matches_what_was_served)
{
	struct h_response r;
	uint16_t port;
	char *body, hdr[2 * PATH_MAX];
	int equal = 0;

	h_init(&w);
	h_write_file(&w, "index.html", "metrics\n", 8);
	h_start(&w, METRICS_ON);
	port = mport();
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(h_get(&w, "GET", "/index.html", &r), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	/* The listener's and the manager's heartbeats come apart: wait for both. */
	wait_value(port, "wsd_http_requests_total", 5);
	wait_value(port, "wsd_connections_accepted_total", 5);
	ck_assert_int_eq(mget(port, "GET", "/metrics", &body), 200);
	ck_assert_ptr_nonnull(strstr(resp_buf(), "Content-Type: text/plain; version=0.0.4"));
	ck_assert_double_eq(series(body, "wsd_connections_accepted_total"), 5);
	ck_assert_double_eq(series(body, "wsd_http_response_duration_seconds_count"), 5);
	ck_assert_double_eq(
	    series(body, "wsd_http_response_duration_seconds_bucket{le=\"+Inf\"}"), 5);
	ck_assert(series(body, "wsd_http_sent_bytes_total") > 5 * 8);
	ck_assert_double_eq(series(body, "wsd_ready"), 1);
	ck_assert_double_eq(series(body, "wsd_processes{role=\"worker\",state=\"running\"}"), 2);
	ck_assert_ptr_nonnull(strstr(body, "wsd_build_info{version=\"" WSD_VERSION "\"} 1"));
	promtool_check(body);
	/* HEAD: the head only; health and readiness. */
	ck_assert_int_eq(mget(port, "HEAD", "/metrics", &body), 200);
	ck_assert_str_eq(body, "");
	ck_assert_int_eq(mget(port, "GET", "/healthz", &body), 200);
	ck_assert_int_eq(mget(port, "GET", "/readyz", &body), 200);
	ck_assert_str_eq(body, "ready\n");
	/* wsctl metrics is the same text, but for what moves by itself. */
	for (int i = 0; i < 3 && !equal; i++)
		equal = wsctl_metrics_equal(port);
	ck_assert_msg(equal, "wsctl metrics differs from GET /metrics");
	snprintf(hdr, sizeof(hdr), "%s -s %s --json metrics", WSCTL_BIN, w.sock);
	ck_assert_int_eq(sh(resp_buf(), MAXRESP, hdr), 0);
	ck_assert_ptr_nonnull(strstr(resp_buf(), "\"content_type\""));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Is the connection closed by the server (EOF) within ms? */
static int closed_within(int fd, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	char buf[512];
	ssize_t r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		;
	return r == 0 || (r == -1 && errno == ECONNRESET);
}

static void served_still(void)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", "/index.html", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
}

START_TEST(test_bad_input)
{
	char *big = malloc(40000), *resp = resp_buf(), *body;
	int fds[METRICS_MAX], fd;
	uint16_t port;
	uint64_t t0;

	h_init(&w);
	h_write_file(&w, "index.html", "x\n", 2);
	h_start(&w, "[http]\nheader_timeout = 2s\n" METRICS_ON);
	port = mport();
	ck_assert_int_eq(raw(port, "\x01\x02garbage\r\n\r\n", resp), 400);
	ck_assert_int_eq(
	    raw(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", resp),
	    405);
	ck_assert_ptr_nonnull(strstr(resp, "Allow: GET, HEAD\r\n"));
	ck_assert_int_eq(mget(port, "DELETE", "/metrics", NULL), 405);
	ck_assert_int_eq(mget(port, "BREW", "/metrics", NULL), 405);
	ck_assert_int_eq(mget(port, "GET", "/nosuch", NULL), 404);
	ck_assert_int_eq(mget(port, "GET", "/metricsx", NULL), 404);
	ck_assert_int_eq(mget(port, "GET", "/readyz?verbose", &body), 200);
	ck_assert_int_eq(raw(port, "GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n", resp) / 100, 5);
	/* A head larger than any request may have. */
	memset(big, 'a', 39999);
	big[39999] = '\0';
	memcpy(big, "GET /", 5);
	ck_assert_int_eq(raw(port, big, resp) / 100, 4);
	free(big);
	/* A head that never ends: closed at http.header_timeout. */
	fd = mconnect(port);
	ck_assert_int_eq(write(fd, "GET /metrics HTTP/1.1\r\n", 23), 23);
	t0 = h_now_ms();
	ck_assert(closed_within(fd, h_bound_ms(6000)));
	ck_assert_int_ge(h_now_ms() - t0, 1500);
	close(fd);
	/* 16 connections at most: the 17th is closed at once, counted and logged. */
	for (int i = 0; i < METRICS_MAX; i++)
		fds[i] = mconnect(port);
	fd = mconnect(port);
	t0 = h_now_ms();
	ck_assert(closed_within(fd, h_bound_ms(1500)));
	ck_assert_int_lt(h_now_ms() - t0, h_bound_ms(1500));
	close(fd);
	ck_assert(h_wait_log(&w, "metrics: 16 connections open", h_bound_ms(2000)));
	served_still();
	for (int i = 0; i < METRICS_MAX; i++)
		close(fds[i]);
	wait_value(port, "wsd_metrics_connections_refused_total", 1);
	served_still();
	ck_assert_int_eq(mget(port, "GET", "/healthz", NULL), 200);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

struct ready_want {
	uint16_t port;
	int status;
	const char *body; /* and this answer, if set */
};

static int ready_is(void *arg)
{
	struct ready_want *x = arg;
	char *body;

	return mget(x->port, "GET", "/readyz", &body) == x->status &&
	    (x->body == NULL || strcmp(body, x->body) == 0);
}

START_TEST(test_readyz_during_drain_delay)
{
	struct ready_want x = {0};
	char *body;
	uint64_t t0;

	h_init(&w);
	h_write_file(&w, "index.html", "x\n", 2);
	h_start(&w, "[server]\ndrain_delay = 3s\n" METRICS_ON);
	x.port = mport();
	ck_assert_int_eq(mget(x.port, "GET", "/readyz", NULL), 200);
	t0 = h_now_ms();
	h_stop_begin(&w);
	x.status = 503;
	ck_assert(h_wait_until(ready_is, &x, h_bound_ms(2000)));
	ck_assert_int_eq(mget(x.port, "GET", "/readyz", &body), 503);
	ck_assert_str_eq(body, "not ready: draining for a stop (server.drain_delay)\n");
	ck_assert_int_eq(mget(x.port, "GET", "/healthz", NULL), 200);
	ck_assert_int_eq(mget(x.port, "GET", "/metrics", &body), 200);
	ck_assert_double_eq(series(body, "wsd_ready"), 0);
	/* Still accepting and serving while the balancer takes us out. */
	for (int i = 0; i < 5; i++)
		served_still();
	if (h_now_ms() - t0 < 2500) /* a slow run may reach the end of the delay: no false alarm */
		ck_assert(!h_log_has(&w, "drain delay over"));
	ck_assert_int_eq(h_stop(&w), 0);
	ck_assert_int_ge(h_now_ms() - t0, 2900);
}
END_TEST

START_TEST(test_second_stop_skips_drain_delay)
{
	struct ready_want x = {0};
	char out[4096], cmd[2 * PATH_MAX];
	uint64_t t0;

	h_init(&w);
	h_start(&w, "[server]\ndrain_delay = 1h\n" METRICS_ON);
	x = (struct ready_want){mport(), 503, NULL};
	t0 = h_now_ms();
	h_stop_begin(&w);
	ck_assert(h_wait_until(ready_is, &x, h_bound_ms(2000)));
	snprintf(cmd, sizeof(cmd), "%s -s %s stop", WSCTL_BIN, w.sock);
	ck_assert_int_eq(sh(out, sizeof(out), cmd), 0);
	ck_assert_int_eq(h_stop(&w), 0);
	ck_assert_int_lt(h_now_ms() - t0, h_bound_ms(15000));
}
END_TEST

START_TEST(test_counters_survive_restarts)
{
	struct h_response r;
	char out[8192], cmd[2 * PATH_MAX], *body;
	pid_t mgr, wrk;
	uint16_t port;

	h_init(&w);
	h_write_file(&w, "index.html", "x\n", 2);
	h_start(&w, METRICS_ON);
	port = mport();
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(h_get(&w, "GET", "/index.html", &r), 0);
		h_response_free(&r);
	}
	wait_value(port, "wsd_http_requests_total", 3);
	wait_value(port, "wsd_connections_accepted_total", 3);
	snprintf(cmd, sizeof(cmd), "%s -s %s restart manager", WSCTL_BIN, w.sock);
	ck_assert_int_eq(sh(out, sizeof(out), cmd), 0);
	wait_value(port, "wsd_restarts_total{role=\"manager\",cause=\"replaced\"}", 1);
	ck_assert_int_eq(mget(port, "GET", "/metrics", &body), 200);
	ck_assert_double_eq(series(body, "wsd_http_requests_total"), 3);
	ck_assert_double_eq(series(body, "wsd_connections_accepted_total"), 3);
	/* A manager killed: lost, restarted, counted; the totals stay. */
	h_expect_lost(&w, 1, 1);
	ck_assert_int_eq(h_count_role(&w, "manager", &mgr, 1), 1);
	ck_assert_int_eq(kill(mgr, SIGKILL), 0);
	wait_value(port, "wsd_restarts_total{role=\"manager\",cause=\"killed\"}", 1);
	ck_assert_int_eq(mget(port, "GET", "/metrics", &body), 200);
	ck_assert_double_eq(series(body, "wsd_http_requests_total"), 3);
	ck_assert_double_eq(series(body, "wsd_connections_accepted_total"), 3);
	served_still();
	wait_value(port, "wsd_http_requests_total", 4);
	/* A worker killed: its manager's events carry its pid to the daemon, counted by cause. */
	h_expect_lost(&w, 2, 2);
	ck_assert_int_ge(h_count_role(&w, "worker", &wrk, 1), 1);
	ck_assert_int_eq(kill(wrk, SIGKILL), 0);
	wait_value(port, "wsd_restarts_total{role=\"worker\",cause=\"killed\"}", 1);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * Metrics connections open in every phase (idle, half a head, answered and
 * lingering) hold neither a stop nor anything after it: wsd exits long
 * before http.header_timeout, and h_stop finds its stderr clean (no leak
 * report under LeakSanitizer).
 */
START_TEST(test_stop_with_metrics_connections_open)
{
	int idle, partial, done;
	uint16_t port;
	uint64_t t0;
	char buf[256];

	h_init(&w);
	h_start(&w, "[http]\nheader_timeout = 60s\n" METRICS_ON);
	port = mport();
	idle = mconnect(port);
	partial = mconnect(port);
	done = mconnect(port);
	ck_assert_int_eq(write(partial, "GET /metrics HTTP/1.1\r\n", 23), 23);
	ck_assert_int_eq(write(done, "GET /healthz HTTP/1.0\r\n\r\n", 25), 25);
	ck_assert_int_gt(read(done, buf, sizeof(buf)), 0); /* answered: it lingers now */
	ck_assert_int_eq(mget(port, "GET", "/healthz", NULL), 200);
	t0 = h_now_ms();
	ck_assert_int_eq(h_stop(&w), 0);
	ck_assert_int_lt(h_now_ms() - t0, h_bound_ms(5000));
	close(idle);
	close(partial);
	close(done);
}
END_TEST

/* wsd as h_start runs it, without waiting for its READY. */
static void start_unready(const char *extra)
{
	char err[PATH_MAX + 32];
	int fd;

	h_write_conf(&w, extra);
	snprintf(err, sizeof(err), "%s/stderr.txt", w.dir);
	if ((w.pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(WSD_BIN, "wsd", "-c", w.conf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(w.pid, 0);
}

/*
 * /readyz is 503 "starting" until the daemon is ready (32 workers to start
 * make that a window of a few hundred ms), then 200. The log line is written
 * before the loop answers again: a 200 after it, a "starting" before it.
 */
START_TEST(test_readyz_while_starting)
{
	int starting = 0, st = 0, before, after;
	uint64_t end;
	uint16_t port;
	char *body;

	h_init(&w);
	start_unready("[pool]\nmin = 32\nmax = 32\n" METRICS_ON);
	ck_assert(h_wait_log(&w, "metrics at http://", h_bound_ms(10000)));
	port = mport();
	end = h_now_ms() + (uint64_t)h_bound_ms(15000);
	while (st != 200 && h_now_ms() < end) {
		before = h_log_has(&w, "ready: serving");
		st = mget(port, "GET", "/readyz", &body);
		after = h_log_has(&w, "ready: serving");
		if (st == 503) {
			ck_assert_str_eq(body, "not ready: starting\n");
			ck_assert_msg(!before, "503 after the ready line");
			starting++;
		} else
			ck_assert_msg(st == 200 && after, "status %d, ready line %d", st, after);
		ck_assert_int_eq(mget(port, "GET", "/healthz", NULL), 200);
	}
	ck_assert_int_eq(st, 200);
	ck_assert_int_gt(starting, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* wsd -t binds the metrics address too; the daemon will not start without it. */
START_TEST(test_preflight_and_busy_port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t slen = sizeof(sin);
	char conf[PATH_MAX + 300], out[4096];
	int busy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), st;

	h_init(&w);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert_int_eq(bind(busy, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(busy, 1), 0);
	getsockname(busy, (struct sockaddr *)&sin, &slen);
	snprintf(conf, sizeof(conf),
	    "[server]\nlisten = 127.0.0.1:0\nroot = %s\n[control]\nsocket = off\n"
	    "[metrics]\nlisten = 127.0.0.1:%u\n",
	    w.root, ntohs(sin.sin_port));
	h_write_text(w.conf, conf);
	st = h_run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}, out, sizeof(out), 10000);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	st = h_run((char *[]){"/bin/sh", "-c", "\"$0\" -t -c \"$1\" 2>&1", WSD_BIN, w.conf, NULL},
	    out, sizeof(out), 10000);
	ck_assert_msg(strstr(out, "metrics.listen") && strstr(out, "is in use"), "%s", out);
	/* A start fails, saying why. */
	st = h_run((char *[]){"/bin/sh", "-c", "\"$0\" -c \"$1\" 2>&1", WSD_BIN, w.conf, NULL}, out,
	    sizeof(out), 10000);
	ck_assert_int_eq(WEXITSTATUS(st), 3);
	ck_assert_msg(strstr(out, "metrics.listen: cannot listen on"), "%s", out);
	close(busy);
	h_write_text(w.conf, "[control]\nsocket = off\n[metrics]\nlisten = 192.0.2.1:9145\n");
	h_run((char *[]){"/bin/sh", "-c", "\"$0\" -t -c \"$1\" 2>&1", WSD_BIN, w.conf, NULL}, out,
	    sizeof(out), 10000);
	ck_assert_msg(strstr(out, "metrics.listen: cannot bind 192.0.2.1:9145"), "%s", out);
	h_cleanup(&w);
}
END_TEST

#ifdef WSD_FAULTS
#define NO_WORKER "not ready: no worker is running (all are restarting)\n"

/* /readyz over about 1.5 s: how many probes answered 200. */
static int ready_probes_ok(uint16_t port)
{
	int ok = 0;

	for (int i = 0; i < 30; i++) {
		ok += mget(port, "GET", "/readyz", NULL) == 200;
		poll(NULL, 0, 50);
	}
	return ok;
}

/*
 * Every worker dead and restarting - crashing at start, or hanging there
 * until heartbeat.startup_timeout - is 503 until one runs again: a restart
 * that is starting does not count, though a crash loop is mostly that.
 */
START_TEST(test_readyz_without_workers)
{
	struct ready_want x = {.status = 503, .body = NO_WORKER};
	char fault[PATH_MAX + 16];
	pid_t pids[4];

	h_init(&w);
	snprintf(fault, sizeof(fault), "%s/fault", w.dir);
	setenv("WSD_FAULT_FILE", fault, 1);
	h_write_file(&w, "index.html", "x\n", 2);
	h_start(&w, "[pool]\nmin = 1\nmax = 1\n[heartbeat]\nstartup_timeout = 1s\n" METRICS_ON);
	h_expect_lost(&w, 1, 1000);
	x.port = mport();
	ck_assert_int_eq(mget(x.port, "GET", "/readyz", NULL), 200);
	h_write_text(fault, "worker\n");
	ck_assert_int_eq(h_count_role(&w, "worker", pids, 4), 1);
	ck_assert_int_eq(kill(pids[0], SIGKILL), 0);
	ck_assert(h_wait_until(ready_is, &x, h_bound_ms(5000)));
	ck_assert_int_eq(mget(x.port, "GET", "/healthz", NULL), 200);
	/* Restarts that hang at start: still not ready, at every probe. */
	h_write_text(fault, "worker slow 30000\n");
	ck_assert(h_wait_log(&w, "starting 30000 ms late on purpose", h_bound_ms(10000)));
	ck_assert_int_eq(ready_probes_ok(x.port), 0);
	unlink(fault);
	x = (struct ready_want){.port = x.port, .status = 200, .body = "ready\n"};
	ck_assert(h_wait_until(ready_is, &x, h_bound_ms(15000)));
	unsetenv("WSD_FAULT_FILE");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scrape_matches_what_was_served);
	tcase_add_test(tc, test_bad_input);
	tcase_add_test(tc, test_readyz_while_starting);
	tcase_add_test(tc, test_readyz_during_drain_delay);
	tcase_add_test(tc, test_second_stop_skips_drain_delay);
	tcase_add_test(tc, test_counters_survive_restarts);
	tcase_add_test(tc, test_stop_with_metrics_connections_open);
	tcase_add_test(tc, test_preflight_and_busy_port);
#ifdef WSD_FAULTS
	tcase_add_test(tc, test_readyz_without_workers);
#endif
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
