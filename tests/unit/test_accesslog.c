/* accesslog: the line format, escaping, and the writer thread. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "log.h"

#define WHEN 971186136 /* 10/Oct/2000:13:55:36 UTC */
#define NPROC 4
#define NTHREAD 4
#define PER 3000
#define PREFIX "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] \"GET /"

static struct sockaddr_in sin4;
static char tmpl[64];
static int logfd = -1; /* the error log, captured */

static void setup(void)
{
	strcpy(tmpl, "/tmp/wsd-alog.XXXXXX");
	if ((logfd = mkstemp(tmpl)) == -1) {
		perror("mkstemp");
		exit(2);
	}
	unlink(tmpl);
	log_init(logfd, LOG_LVL_WARN);
	sin4.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin4.sin_addr);
}

static void teardown(void)
{
	log_init(2, LOG_LVL_WARN);
	close(logfd);
}

static void entry(struct accesslog_entry *e, const char *target)
{
	memset(e, 0, sizeof(*e));
	e->peer = (struct sockaddr *)&sin4;
	e->when = WHEN;
	e->method = "GET";
	e->method_len = 3;
	e->target = target;
	e->target_len = strlen(target);
	e->minor = 1;
	e->status = 200;
	e->bytes = 2326;
	e->referer = "http://example.com/";
	e->referer_len = strlen(e->referer);
	e->user_agent = "Mozilla/5.0 (X11)";
	e->user_agent_len = strlen(e->user_agent);
	e->usec = 1234;
}

static const char *fmt(const struct accesslog_entry *e)
{
	static char line[ACCESSLOG_LINE_MAX + 1];
	size_t n = accesslog_format(e, line);

	ck_assert_uint_le(n, ACCESSLOG_LINE_MAX);
	ck_assert_int_eq(line[n - 1], '\n');
	line[n] = '\0';
	ck_assert_ptr_eq(strchr(line, '\n'), line + n - 1);
	return line;
}

/* The whole of a file or pipe, NUL-terminated. */
static char *slurp(int fd, size_t *lenp)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	for (;;) {
		if (cap - len < 4096 && (buf = realloc(buf, cap *= 2)) == NULL)
			ck_abort_msg("realloc");
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

static char *slurp_log(void)
{
	lseek(logfd, 0, SEEK_SET);
	return slurp(logfd, NULL);
}

static int tmpfile_fd(int flags)
{
	char path[] = "/tmp/wsd-alog.XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	if (flags != O_RDWR) {
		close(fd);
		fd = open(path, flags);
		ck_assert_int_ge(fd, 0);
	}
	unlink(path);
	return fd;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- format ---- */

START_TEST(test_ipv4)
{
	struct accesslog_entry e;

	entry(&e, "/index.html?q=1");
	ck_assert_str_eq(fmt(&e),
	    "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "
	    "\"GET /index.html?q=1 HTTP/1.1\" 200 2326 \"http://example.com/\" "
	    "\"Mozilla/5.0 (X11)\" 1234\n");
	e.minor = 0;
	e.method = "HEAD";
	e.method_len = 4;
	e.status = 304;
	e.bytes = 0;
	e.usec = 0;
	ck_assert_str_eq(fmt(&e),
	    "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "
	    "\"HEAD /index.html?q=1 HTTP/1.0\" 304 - \"http://example.com/\" "
	    "\"Mozilla/5.0 (X11)\" 0\n");
	/* The version as received, escaped and cut like any client bytes. */
	e.version = "HTTP/2.0";
	e.version_len = 8;
	e.status = 505;
	ck_assert(strstr(fmt(&e), "\"HEAD /index.html?q=1 HTTP/2.0\" 505 ") != NULL);
	e.version = "HTTP/1.1\"x\x01yyyyyyyyyyyyyyyyyyyy";
	e.version_len = strlen(e.version);
	ck_assert(strstr(fmt(&e), "\"HEAD /index.html?q=1 HTTP/1.1\\\"x...\" 505 ") != NULL);
}
END_TEST

START_TEST(test_peers)
{
	struct accesslog_entry e;
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *rest = " - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\"";
	char want[256];

	entry(&e, "/");
	e.peer = (struct sockaddr *)&sin6;
	inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
	snprintf(want, sizeof(want), "2001:db8::1%s", rest);
	ck_assert_int_eq(strncmp(fmt(&e), want, strlen(want)), 0);

	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &sin6.sin6_addr);
	snprintf(want, sizeof(want), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%s", rest);
	ck_assert_int_eq(strncmp(fmt(&e), want, strlen(want)), 0);

	/* A dual-stack socket's IPv4 client reads as IPv4. */
	inet_pton(AF_INET6, "::ffff:198.51.100.9", &sin6.sin6_addr);
	snprintf(want, sizeof(want), "198.51.100.9%s", rest);
	ck_assert_int_eq(strncmp(fmt(&e), want, strlen(want)), 0);

	e.peer = NULL;
	snprintf(want, sizeof(want), "-%s", rest);
	ck_assert_int_eq(strncmp(fmt(&e), want, strlen(want)), 0);

	e.peer = (struct sockaddr *)&sun;
	ck_assert_int_eq(strncmp(fmt(&e), want, strlen(want)), 0);
}
END_TEST

START_TEST(test_dashes)
{
	struct accesslog_entry e;

	entry(&e, "/");
	e.peer = NULL;
	e.minor = -1; /* unparseable request line */
	e.status = 400;
	e.bytes = 0;
	e.referer = NULL;
	e.user_agent = NULL;
	e.usec = 17;
	ck_assert_str_eq(
	    fmt(&e), "- - - [10/Oct/2000:13:55:36 +0000] \"-\" 400 - \"-\" \"-\" 17\n");

	/* Sent but empty is not the same as absent. */
	e.referer = "";
	e.referer_len = 0;
	e.user_agent = "x";
	e.user_agent_len = 0;
	e.status = 0;
	ck_assert_str_eq(fmt(&e), "- - - [10/Oct/2000:13:55:36 +0000] \"-\" 0 - \"\" \"\" 17\n");
}
END_TEST

/* Quotes outside escapes, so what a log parser would split on. */
static int bare_quotes(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1] != '\0')
			s++;
		else if (*s == '"')
			n++;
	}
	return n;
}

START_TEST(test_escape)
{
	static const char target[] = "/a\"b\\c\nd\x01"
	                             "e\x7f\xff\t ";
	static const char forged[] =
	    "x\"\n6.6.6.6 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200";
	struct accesslog_entry e;
	const char *line;

	entry(&e, target);
	e.target_len = sizeof(target) - 1;
	e.method = "G\"T";
	e.method_len = 3;
	e.referer = "\\\r\n";
	e.referer_len = 3;
	ck_assert_str_eq(fmt(&e),
	    "192.0.2.7 - - [10/Oct/2000:13:55:36 +0000] "
	    "\"G\\\"T /a\\\"b\\\\c\\x0ad\\x01e\\x7f\\xff\\x09  HTTP/1.1\" 200 2326 "
	    "\"\\\\\\x0d\\x0a\" \"Mozilla/5.0 (X11)\" 1234\n");

	/* An embedded NUL is data too, not an end. */
	e.target = "/a\0b";
	e.target_len = 4;
	ck_assert_ptr_nonnull(strstr(fmt(&e), " /a\\x00b HTTP/1.1\""));

	/* A client cannot start a line of its own, nor add a field. */
	e.user_agent = forged;
	e.user_agent_len = sizeof(forged) - 1;
	line = fmt(&e);
	ck_assert_int_eq(bare_quotes(line), 6);
	ck_assert_ptr_null(strstr(line, "\n6.6"));
}
END_TEST

/* The request field for a target of n copies of c, as formatted. */
static const char *request_of(int c, size_t n)
{
	static char req[ACCESSLOG_LINE_MAX];
	struct accesslog_entry e;
	char *target = malloc(n + 1), *p, *q;
	const char *line;

	ck_assert_ptr_nonnull(target);
	memset(target, c, n);
	target[n] = '\0';
	entry(&e, target);
	line = fmt(&e);
	free(target);
	p = strstr(line, "\"GET ");
	q = strstr(line, " HTTP/1.1\"");
	ck_assert(p && q && q > p);
	p += 5;
	memcpy(req, p, (size_t)(q - p));
	req[q - p] = '\0';
	return req;
}

static void check_cut(const char *got, const char *unit, size_t units, int cut)
{
	size_t ul = strlen(unit), i;

	ck_assert_uint_eq(strlen(got), ul * units + (cut ? 3 : 0));
	for (i = 0; i < units; i++)
		ck_assert_int_eq(memcmp(got + i * ul, unit, ul), 0);
	if (cut)
		ck_assert_str_eq(got + ul * units, "...");
}

START_TEST(test_truncate)
{
	check_cut(request_of('a', ACCESSLOG_MAX_TARGET), "a", ACCESSLOG_MAX_TARGET, 0);
	check_cut(request_of('a', ACCESSLOG_MAX_TARGET + 1), "a", ACCESSLOG_MAX_TARGET - 3, 1);
	check_cut(request_of('a', 100000), "a", ACCESSLOG_MAX_TARGET - 3, 1);
	/* Escapes are never cut in half. */
	check_cut(request_of('"', ACCESSLOG_MAX_TARGET / 2), "\\\"", ACCESSLOG_MAX_TARGET / 2, 0);
	check_cut(request_of('"', 5000), "\\\"", (ACCESSLOG_MAX_TARGET - 3) / 2, 1);
	check_cut(request_of(0xff, 5000), "\\xff", (ACCESSLOG_MAX_TARGET - 3) / 4, 1);
}
END_TEST

/* Every field at its worst still makes one bounded line. */
START_TEST(test_longest)
{
	struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
	struct accesslog_entry e;
	char *junk = malloc(20000);
	const char *line;

	ck_assert_ptr_nonnull(junk);
	memset(junk, 0xff, 20000);
	inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &sin6.sin6_addr);
	entry(&e, "/");
	e.peer = (struct sockaddr *)&sin6;
	e.method = e.target = e.referer = e.user_agent = junk;
	e.method_len = e.target_len = e.referer_len = e.user_agent_len = 20000;
	e.minor = INT_MAX;
	e.status = INT_MAX;
	e.bytes = UINT64_MAX;
	e.usec = UINT64_MAX;
	e.when = (time_t)INT64_MAX; /* no calendar year */
	line = fmt(&e);
	free(junk);
	ck_assert_int_eq(bare_quotes(line), 6);
	ck_assert_ptr_nonnull(strstr(line, " - - [00/Jan/1900:00:00:00 +0000] \""));
	ck_assert_ptr_nonnull(strstr(line,
	    " HTTP/1.2147483647\" 2147483647 "
	    "18446744073709551615 \""));
	ck_assert_ptr_nonnull(strstr(line, "...\" 18446744073709551615\n"));
}
END_TEST

START_TEST(test_timezone)
{
	struct accesslog_entry e;
	static const char *const names[] = {
	    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm = {.tm_mday = 15, .tm_year = 121};
	char want[64];

	entry(&e, "/");
	setenv("TZ", "XST-5:30", 1);
	tzset();
	e.when = WHEN + 1;
	ck_assert_int_eq(strncmp(strchr(fmt(&e), '['), "[10/Oct/2000:19:25:37 +0530]", 28), 0);
	setenv("TZ", "YST8", 1);
	tzset();
	e.when = WHEN + 2;
	ck_assert_int_eq(strncmp(strchr(fmt(&e), '['), "[10/Oct/2000:05:55:38 -0800]", 28), 0);
	setenv("TZ", "UTC0", 1);
	tzset();
	for (int m = 0; m < 12; m++) {
		tm.tm_mon = m;
		e.when = timegm(&tm);
		snprintf(want, sizeof(want), "[15/%s/2021:00:00:00 +0000]", names[m]);
		ck_assert_int_eq(strncmp(strchr(fmt(&e), '['), want, strlen(want)), 0);
	}
}
END_TEST

/* ---- the writer ---- */

START_TEST(test_inactive)
{
	struct accesslog_entry e;
	int fd = tmpfile_fd(O_RDWR);

	entry(&e, "/");
	ck_assert_int_eq(accesslog_active(), 0);
	accesslog_write(&e);
	accesslog_close();
	ck_assert_uint_eq(accesslog_dropped(), 0);
	errno = 0;
	ck_assert_int_eq(accesslog_open(-1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(accesslog_open(fd, 0), 0);
	ck_assert_int_eq(accesslog_active(), 1);
	ck_assert_int_eq(accesslog_open(fd, 0), -1);
	ck_assert_int_eq(errno, EBUSY);
	accesslog_close();
	ck_assert_int_eq(accesslog_active(), 0);
	/* Reopening after a close works. */
	ck_assert_int_eq(accesslog_open(fd, 0), 0);
	accesslog_write(&e);
	accesslog_close();
	ck_assert_int_eq(lseek(fd, 0, SEEK_END), (off_t)strlen(fmt(&e)));
	close(fd);
}
END_TEST

/* One line of tag/k as write_range() makes it: 0, or -1 when malformed. */
static int parse_line(const char *line, int *t, int *k)
{
	char want[64];

	if (strncmp(line, PREFIX, strlen(PREFIX)) != 0 ||
	    sscanf(line + strlen(PREFIX), "%d/%d HTTP/1.1\"", t, k) != 2)
		return -1;
	snprintf(want, sizeof(want), "\"Mozilla/5.0 (X11)\" %d", *k);
	return strstr(line, want) ? 0 : -1;
}

/*
 * Lines of one writer: whole and in order, some maybe dropped. Returns how
 * many. (Plain checks per line: each ck_assert costs Check a write(2).)
 */
static size_t check_lines(char *buf, int tag, int n)
{
	char *line, *save = NULL;
	size_t i = 0;
	int t, k, prev = -1;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (parse_line(line, &t, &k) == -1 || t != tag || k <= prev || k >= n)
			ck_abort_msg("line %zu after %d: %s", i, prev, line);
		prev = k;
		i++;
	}
	return i;
}

/* Lines with targets /tag/from .. /tag/to-1, and as many µs. */
static void write_range(int tag, int from, int to)
{
	struct accesslog_entry e;
	char target[64];

	for (int i = from; i < to; i++) {
		snprintf(target, sizeof(target), "/%d/%d", tag, i);
		entry(&e, target);
		e.usec = (uint64_t)i;
		accesslog_write(&e);
	}
}

static void write_n(int tag, int n) { write_range(tag, 0, n); }

START_TEST(test_file)
{
	int fd = tmpfile_fd(O_WRONLY | O_APPEND);
	int rfd;
	char *buf, path[64];
	size_t len;

	/* Big enough a buffer that nothing can be dropped. */
	ck_assert_int_eq(accesslog_open(fd, 4 << 20), 0);
	write_n(0, 20000);
	accesslog_close();
	ck_assert_uint_eq(accesslog_dropped(), 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ck_assert_int_ge(rfd = open(path, O_RDONLY), 0);
	buf = slurp(rfd, &len);
	ck_assert_int_eq(buf[len - 1], '\n');
	ck_assert_uint_eq(check_lines(buf, 0, 20000), 20000);
	free(buf);
	close(rfd);
	close(fd);
}
END_TEST

/* A quiet server's lines still show up soon, without a close. */
START_TEST(test_prompt)
{
	int fd = tmpfile_fd(O_WRONLY | O_APPEND);
	double t0;

	ck_assert_int_eq(accesslog_open(fd, 0), 0);
	write_n(0, 1);
	t0 = now_s();
	while (lseek(fd, 0, SEEK_END) == 0 && now_s() - t0 < 3)
		usleep(5000);
	ck_assert_int_gt(lseek(fd, 0, SEEK_END), 0);
	ck_assert_double_lt(now_s() - t0, 1.0);
	/* And again, after the writer went idle. */
	usleep(300000);
	write_n(0, 1);
	t0 = now_s();
	while (lseek(fd, 0, SEEK_END) < 200 && now_s() - t0 < 3)
		usleep(5000);
	ck_assert_double_lt(now_s() - t0, 1.0);
	accesslog_close();
	close(fd);
}
END_TEST

struct reader {
	int fd;
	char *buf;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->buf = slurp(r->fd, NULL);
	return NULL;
}

/* Sum of N over "access log: N line(s) dropped" in the error log. */
static unsigned long long logged_drops(const char *log)
{
	unsigned long long sum = 0, n;
	const char *p = log;
	char *e;

	while ((p = strstr(p, "access log: ")) != NULL) {
		p += 12;
		n = strtoull(p, &e, 10);
		if (e != p &&
		    (strncmp(e, " lines dropped (disk too slow)", 30) == 0 ||
		        strncmp(e, " line dropped (disk too slow)", 29) == 0))
			sum += n;
	}
	return sum;
}

/* The disk (here a pipe no one reads) stalls; the loop must not. */
START_TEST(test_drop)
{
	struct reader r = {0};
	pthread_t th;
	int p[2];
	double t;
	uint64_t dropped;
	char *log;

	ck_assert_int_eq(pipe(p), 0);
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	ck_assert_int_eq(accesslog_open(p[1], 512), 0);
	t = now_s();
	write_n(0, 10000);
	t = now_s() - t;
	dropped = accesslog_dropped();
	ck_assert_double_lt(t, 2.0);
	ck_assert_uint_gt(dropped, 0);
	/* Let the writer finish: read the pipe while it flushes. */
	r.fd = p[0];
	ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
	accesslog_close();
	close(p[1]);
	pthread_join(th, NULL);
	close(p[0]);
	ck_assert_uint_eq(accesslog_dropped(), dropped);
	ck_assert_uint_eq(check_lines(r.buf, 0, 10000), 10000 - dropped);
	free(r.buf);
	log = slurp_log();
	ck_assert_uint_eq(logged_drops(log), dropped);
	free(log);
}
END_TEST

/* A failing write costs its lines, and says so. */
START_TEST(test_write_error)
{
	int fd = tmpfile_fd(O_RDONLY);
	char *log;

	ck_assert_int_eq(accesslog_open(fd, 0), 0);
	write_n(0, 10);
	accesslog_close();
	log = slurp_log();
	ck_assert_msg(
	    strstr(log, "access log: 10 lines lost: Bad file descriptor"), "log: %s", log);
	free(log);
	close(fd);
}
END_TEST

/* A log pipe whose reader went away: lines lost, no SIGPIPE death. */
START_TEST(test_broken_pipe)
{
	int p[2];
	char *log;

	signal(SIGPIPE, SIG_DFL);
	ck_assert_int_eq(pipe(p), 0);
	close(p[0]);
	ck_assert_int_eq(accesslog_open(p[1], 0), 0);
	write_n(0, 7);
	accesslog_close();
	close(p[1]);
	log = slurp_log();
	ck_assert_msg(strstr(log, "access log: 7 lines lost: Broken pipe"), "log: %s", log);
	free(log);
}
END_TEST

static void *producer_main(void *arg)
{
	write_n((int)(intptr_t)arg, PER);
	return NULL;
}

/*
 * Lines from many writers, tagged 0..ntags-1: each whole, each writer's in
 * order, PER of each but for the ones dropped[t] says were dropped.
 */
static void check_tags(const char *all, int ntags, const uint64_t *dropped)
{
	char *copy, *line, *save = NULL;
	int t, k, next[NPROC + NTHREAD] = {0}, count[NPROC + NTHREAD] = {0};

	ck_assert_ptr_nonnull(copy = strdup(all));
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (parse_line(line, &t, &k) == -1 || t < 0 || t >= ntags || k < next[t] ||
		    k >= PER)
			ck_abort_msg("bad line: %s", line);
		next[t] = k + 1;
		count[t]++;
	}
	for (t = 0; t < ntags; t++)
		ck_assert_int_eq(count[t], PER - (int)dropped[t]);
	free(copy);
}

START_TEST(test_threads)
{
	int fd = tmpfile_fd(O_RDWR | O_APPEND);
	pthread_t th[NTHREAD];
	uint64_t dropped[NTHREAD] = {0};
	char *buf;

	/* Room for everything: with one drop count, no way to tell whose. */
	ck_assert_int_eq(accesslog_open(fd, 8 << 20), 0);
	for (int i = 0; i < NTHREAD; i++)
		ck_assert_int_eq(
		    pthread_create(&th[i], NULL, producer_main, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NTHREAD; i++)
		pthread_join(th[i], NULL);
	accesslog_close();
	ck_assert_uint_eq(accesslog_dropped(), 0);
	lseek(fd, 0, SEEK_SET);
	buf = slurp(fd, NULL);
	check_tags(buf, NTHREAD, dropped);
	free(buf);
	close(fd);
}
END_TEST

/* Workers share one O_APPEND file: no line is torn or mixed. */
START_TEST(test_processes)
{
	int fd = tmpfile_fd(O_RDWR | O_APPEND), st;
	pid_t pid[NPROC];
	uint64_t *dropped;
	char *buf;

	dropped = mmap(NULL, sizeof(*dropped) * NPROC, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(dropped, MAP_FAILED);
	for (int i = 0; i < NPROC; i++) {
		if ((pid[i] = fork()) == 0) {
			/* Small buffers: many writes, many chances to tear. */
			if (accesslog_open(fd, 16384) == -1)
				_exit(3);
			for (int k = 0; k < PER; k += 50) {
				write_range(i, k, k + 50);
				usleep(1000);
			}
			accesslog_close();
			dropped[i] = accesslog_dropped();
			_exit(0);
		}
		ck_assert_int_gt(pid[i], 0);
	}
	for (int i = 0; i < NPROC; i++) {
		ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: %d", i, st);
	}
	lseek(fd, 0, SEEK_SET);
	buf = slurp(fd, NULL);
	check_tags(buf, NPROC, dropped);
	free(buf);
	munmap(dropped, sizeof(*dropped) * NPROC);
	close(fd);
}
END_TEST

static Suite *accesslog_suite(void)
{
	Suite *s = suite_create("accesslog");
	TCase *tf = tcase_create("format");
	TCase *tw = tcase_create("writer");

	tcase_add_checked_fixture(tf, setup, teardown);
	tcase_add_test(tf, test_ipv4);
	tcase_add_test(tf, test_peers);
	tcase_add_test(tf, test_dashes);
	tcase_add_test(tf, test_escape);
	tcase_add_test(tf, test_truncate);
	tcase_add_test(tf, test_longest);
	tcase_add_test(tf, test_timezone);
	suite_add_tcase(s, tf);

	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 60);
	tcase_add_test(tw, test_inactive);
	tcase_add_test(tw, test_file);
	tcase_add_test(tw, test_prompt);
	tcase_add_test(tw, test_drop);
	tcase_add_test(tw, test_write_error);
	tcase_add_test(tw, test_broken_pipe);
	tcase_add_test(tw, test_threads);
	tcase_add_test(tw, test_processes);
	suite_add_tcase(s, tw);
	return s;
}

int main(void)
{
	SRunner *sr;

	setenv("TZ", "UTC0", 1);
	tzset();
	sr = srunner_create(accesslog_suite());
	return check_run(sr, CK_NORMAL);
}
