/* Integration harness: see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 15000
#define STOP_TIMEOUT_MS 20000
#define RECV_TIMEOUT_S 10

/*
 * LeakSanitizer checks the wsd processes under test (a report in their
 * stderr fails the test, see h_stop) and the unit tests; in an integration
 * test's own process - load threads cut off mid-request by a kill -9 - it
 * would only make the suite flaky.
 */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void) { return 1; }

uint64_t h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int h_wait_until(int (*pred)(void *), void *arg, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		if (pred(arg))
			return 1;
		if (h_now_ms() >= end)
			return 0;
		poll(NULL, 0, 5);
	}
}

void h_init(struct wsd *w)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/wsd-test-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(w->dir));
	ck_assert_int_eq(chmod(w->dir, 0755), 0);
	snprintf(w->root, sizeof(w->root), "%s/root", w->dir);
	snprintf(w->log, sizeof(w->log), "%s/wsd.log", w->dir);
	snprintf(w->conf, sizeof(w->conf), "%s/wsd.conf", w->dir);
	snprintf(w->sock, sizeof(w->sock), "%s/ctl.sock", w->dir);
	ck_assert_int_eq(mkdir(w->root, 0755), 0);
	/* Orphans of a crashed instance come to us, so none escapes the check. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
}

void h_write_file(struct wsd *w, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX * 2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", w->root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void h_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n + 4096 + 1 > cap && (buf = realloc(buf, cap = cap * 2 + 8192)) == NULL)
			abort();
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int h_log_has(struct wsd *w, const char *needle)
{
	char *s = slurp(w->log, NULL);
	int found = s && strstr(s, needle) != NULL;

	free(s);
	return found;
}

int h_log_count(struct wsd *w, const char *needle)
{
	char *s = slurp(w->log, NULL);
	int n = 0;

	for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(s);
	return n;
}

struct log_wait {
	struct wsd *w;
	const char *needle;
};

static int log_pred(void *arg)
{
	struct log_wait *lw = arg;
	return h_log_has(lw->w, lw->needle);
}

int h_wait_log(struct wsd *w, const char *needle, int timeout_ms)
{
	struct log_wait lw = {w, needle};
	return h_wait_until(log_pred, &lw, timeout_ms);
}

/* ---- processes ---- */

static pid_t ppid_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int ppid = -1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 2, "%*c %d", &ppid);
	fclose(f);
	return (pid_t)ppid;
}

static int cmdline_is(pid_t pid, const char *want)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static int descends_from(pid_t pid, pid_t root)
{
	for (int depth = 0; depth < 8 && pid > 1; depth++) {
		if (pid == root)
			return 1;
		pid = ppid_of(pid);
	}
	return 0;
}

static void remember(struct wsd *w, pid_t pid)
{
	for (int i = 0; i < w->nseen; i++)
		if (w->seen[i] == pid)
			return;
	if (w->nseen < H_MAXPROCS)
		w->seen[w->nseen++] = pid;
}

#define STRACE "/usr/bin/strace"

/* strace has attached: the traced process's TracerPid is set. */
static int strace_attached(void *arg)
{
	char path[64], line[256];
	int yes = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)*(pid_t *)arg);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "TracerPid:", 10) == 0)
			yes = atoi(line + 10) != 0;
	fclose(f);
	return yes;
}

long h_strace_calls(const char *path, const char *name)
{
	char line[512], last[64];
	long calls = 0, v[4];
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		double pct, secs;
		int n = sscanf(
		    line, "%lf %lf %ld %ld %ld %63s", &pct, &secs, &v[0], &v[1], &v[2], last);

		if (n == 6 && strcmp(last, name) == 0)
			calls = v[1]; /* usecs/call, calls, errors, name */
		else if (n == 4 && sscanf(line, "%*f %*f %ld %ld %63s", &v[0], &v[1], last) == 3 &&
		    strcmp(last, name) == 0)
			calls = v[1]; /* usecs/call, calls, name */
	}
	fclose(f);
	return calls;
}

pid_t h_strace_begin(struct wsd *w, char *out, size_t len)
{
	pid_t pids[1], st;
	int status;

	if (access(STRACE, X_OK) != 0) {
		fprintf(stderr, "no %s: syscall count not checked\n", STRACE);
		return 0;
	}
	ck_assert_int_eq(h_count_role(w, "worker", pids, 1), 1);
	snprintf(out, len, "%s/strace.out", w->dir);
	if ((st = fork()) == 0) {
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)pids[0]);
		execl(STRACE, STRACE, "-c", "-f", "-o", out, "-p", pid, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(st, 0);
	if (h_wait_until(strace_attached, &pids[0], h_bound_ms(5000)))
		return st;
	fprintf(stderr, "strace could not attach: syscall count not checked\n");
	kill(st, SIGKILL);
	waitpid(st, &status, 0);
	return 0;
}

void h_strace_end(pid_t st)
{
	int status;

	kill(st, SIGINT);
	ck_assert_int_eq(waitpid(st, &status, 0), st);
}

/* The metrics port the daemon logged ("metrics at http://127.0.0.1:PORT/metrics"). */
uint16_t h_metrics_port(struct wsd *w)
{
	FILE *f = fopen(w->log, "r");
	char line[1024];
	const char *p;
	int port = 0;

	ck_assert_ptr_nonnull(f);
	while (port == 0 && fgets(line, sizeof(line), f))
		if ((p = strstr(line, "metrics at http://127.0.0.1:")) != NULL)
			port = atoi(p + strlen("metrics at http://127.0.0.1:"));
	fclose(f);
	ck_assert_int_gt(port, 0);
	return (uint16_t)port;
}

/* Sockets process pid holds at descriptors above min_fd (-1 if it is gone). */
int h_proc_sockets(pid_t pid, int min_fd)
{
	char path[64], link[320], target[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		ssize_t k;

		if (e->d_name[0] == '.' || atoi(e->d_name) <= min_fd)
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, e->d_name);
		if ((k = readlink(link, target, sizeof(target) - 1)) > 0) {
			target[k] = '\0';
			n += strncmp(target, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

int h_count_role(struct wsd *w, const char *role, pid_t *pids, int max)
{
	char want[64];
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	snprintf(want, sizeof(want), "wsd: %s", role);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(e->d_name);

		if (pid <= 0 || pid == w->pid || !descends_from(pid, w->pid))
			continue;
		remember(w, pid);
		if (!cmdline_is(pid, want))
			continue;
		if (pids && n < max)
			pids[n] = pid;
		n++;
	}
	closedir(d);
	return n;
}

/* ---- start and stop ---- */

const char *h_base_conf(void)
{
#ifdef WSD_OPTIMISED
	return "";
#else
	/*
	 * Under the sanitizers a process can be silent for more than the 600 ms
	 * of the default heartbeat bound on a loaded machine: allow 2 s, so a
	 * slow process is not killed as hung. A test's own settings follow.
	 */
	return "[heartbeat]\nmisses = 10\n";
#endif
}

void h_write_conf(struct wsd *w, const char *extra)
{
	FILE *f = fopen(w->conf, "w");

	ck_assert_ptr_nonnull(f);
	/* The base first: extra may go on with the [control] section. */
	fprintf(f,
	    "%s[server]\nlisten = 127.0.0.1:0\nroot = %s\nshutdown_timeout = 5s\n"
	    "[log]\nfile = %s\nlevel = debug\n[control]\nsocket = %s\n%s\n",
	    h_base_conf(), w->root, w->log, w->sock, extra ? extra : "");
	fclose(f);
}

static int parse_port(struct wsd *w)
{
	char *s = slurp(w->log, NULL), *p;
	int port = 0;

	if (s && (p = strstr(s, "ready: serving")) && (p = strstr(p, "http://127.0.0.1:")))
		port = atoi(p + strlen("http://127.0.0.1:"));
	free(s);
	return port;
}

static int ready_or_dead(void *arg)
{
	struct wsd *w = arg;
	return parse_port(w) > 0 || waitpid(w->pid, NULL, WNOHANG) == w->pid;
}

/* In the child: wsd -c conf, behind w->wrap when there is one (it must exec, keeping the pid). */
static void exec_wsd(struct wsd *w)
{
	char *argv[32];
	int n = 0;

	for (; w->wrap && w->wrap[n] && n < 28; n++)
		argv[n] = w->wrap[n];
	if (n == 0)
		execl(WSD_BIN, "wsd", "-c", w->conf, (char *)NULL);
	argv[n++] = WSD_BIN;
	argv[n++] = "-c";
	argv[n++] = w->conf;
	argv[n] = NULL;
	execvp(argv[0], argv);
	_exit(127);
}

void h_start(struct wsd *w, const char *extra)
{
	char err[PATH_MAX + 32];
	int fd;

	h_write_conf(w, extra);
	snprintf(err, sizeof(err), "%s/stderr.txt", w->dir);
	if ((w->pid = fork()) == 0) {
		/* If this test dies, so does its server; its own process group, so
		 * a test can stop the whole server as a machine stall would. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		exec_wsd(w);
	}
	ck_assert_int_gt(w->pid, 0);
	ck_assert_msg(h_wait_until(ready_or_dead, w, START_TIMEOUT_MS) && parse_port(w) > 0,
	    "wsd did not become ready; log in %s", w->log);
	w->port = (uint16_t)parse_port(w);
	h_count_role(w, "", NULL, 0); /* remember every process it has */
}

static int gone(pid_t pid)
{
	char path[64], buf[512], *p, state = '?';
	FILE *f;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		; /* reap orphans that came to us */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		state = p[2];
	fclose(f);
	return state == 'Z' || state == 'X';
}

static int all_gone(void *arg)
{
	struct wsd *w = arg;

	for (int i = 0; i < w->nseen; i++)
		if (!gone(w->seen[i]))
			return 0;
	return 1;
}

int h_all_gone(struct wsd *w, int timeout_ms) { return h_wait_until(all_gone, w, timeout_ms); }

int h_bound_ms(int optimised_ms)
{
#ifdef WSD_OPTIMISED
	return optimised_ms;
#else
	return optimised_ms * 5;
#endif
}

static int daemon_exited(void *arg)
{
	struct wsd *w = arg;
	int status;

	if (waitpid(w->pid, &status, WNOHANG) != w->pid)
		return 0;
	w->pid = -status - 1; /* keep the status; the pid is gone */
	return 1;
}

static void check_clean_stderr(struct wsd *w)
{
	char path[PATH_MAX + 32];
	char *s;

	snprintf(path, sizeof(path), "%s/stderr.txt", w->dir);
	s = slurp(path, NULL);
	ck_assert_msg(s == NULL || (!strstr(s, "Sanitizer") && !strstr(s, "runtime error")),
	    "sanitizer report in %s", path);
	free(s);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

void h_cleanup(struct wsd *w)
{
	if (w->dir[0])
		nftw(w->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	w->dir[0] = '\0';
}

void h_expect_lost(struct wsd *w, int min, int max)
{
	w->lost_min = min;
	w->lost_max = max;
}

static void check_lost(struct wsd *w)
{
	int n = h_log_count(w, "lost child:");

	ck_assert_msg(n >= w->lost_min && n <= w->lost_max,
	    "%d lost child lines in %s, expected %d..%d", n, w->log, w->lost_min, w->lost_max);
}

void h_stop_begin(struct wsd *w)
{
	h_count_role(w, "", NULL, 0);
	ck_assert_int_eq(kill(w->pid, SIGTERM), 0);
	w->term_sent = 1;
}

int h_stop(struct wsd *w)
{
	int status;

	/* One SIGTERM only: a second one could reach a daemon tearing down after its loop. */
	if (!w->term_sent)
		h_stop_begin(w);
	if (!h_wait_until(daemon_exited, w, STOP_TIMEOUT_MS)) {
		kill(w->pid, SIGKILL);
		ck_abort_msg("wsd did not exit within %d ms of SIGTERM", STOP_TIMEOUT_MS);
	}
	status = -w->pid - 1;
	ck_assert_msg(h_wait_until(all_gone, w, 3000), "wsd left processes behind");
	check_clean_stderr(w);
	ck_assert_msg(!h_log_has(w, " fatal "), "fatal in log %s", w->log);
	check_lost(w);
	h_cleanup(w); /* kept for inspection when an assertion failed */
	return status;
}

int h_run(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
	int p[2], status = -1;
	size_t n = 0;
	ssize_t r;
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = {p[0], POLLIN, 0};

		poll(&pfd, 1, 50);
		while (n + 1 < outlen && (r = read(p[0], out + n, outlen - n - 1)) > 0)
			n += (size_t)r;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (h_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
	}
	while (n + 1 < outlen && (r = read(p[0], out + n, outlen - n - 1)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(p[0]);
	return status;
}

/* ---- HTTP ---- */

int h_connect(struct wsd *w)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(w->port)};
	struct timeval tv = {RECV_TIMEOUT_S, 0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_msg(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect to port %u: %s", w->port, strerror(errno));
	return fd;
}

/* All len bytes, however many sends it takes: 0, or -1 with errno set. */
static int send_whole(int fd, const void *p, size_t len)
{
	const char *s = p;
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = send(fd, s + off, len - off, MSG_NOSIGNAL)) <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int h_send(int fd, const char *s) { return send_whole(fd, s, strlen(s)); }

void h_send_all(int fd, const void *p, size_t len)
{
	ck_assert_msg(send_whole(fd, p, len) == 0, "send: %s", strerror(errno));
}

long h_drain_to_eof(int fd, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	char buf[4096];
	long n = 0;
	ssize_t k;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		uint64_t now = h_now_ms();

		if (now >= end || poll(&p, 1, (int)(end - now)) <= 0)
			return -1;
		if ((k = recv(fd, buf, sizeof(buf), 0)) == 0)
			return n;
		if (k < 0)
			return errno == ECONNRESET ? -2 : -1;
		n += k;
	}
}

int h_header(const struct h_response *r, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;

			while (*v == ' ')
				v++;
			snprintf(out, len, "%.*s", (int)(end ? end - v : (long)strlen(v)), v);
			return 0;
		}
	}
	return -1;
}

/* Read until the head is complete; leftover body bytes are kept in r->body. */
static int read_head(int fd, struct h_response *r, size_t *have)
{
	size_t n = 0;
	char *end;
	ssize_t k;

	for (;;) {
		if (n + 1 >= sizeof(r->head))
			return -1;
		/* One byte at a time past the head would be slow; peek then take. */
		k = recv(fd, r->head + n, sizeof(r->head) - n - 1, MSG_PEEK);
		if (k <= 0)
			return -1;
		r->head[n + (size_t)k] = '\0';
		if ((end = strstr(r->head, "\r\n\r\n")) != NULL) {
			size_t want = (size_t)(end + 4 - r->head) - n;

			if (recv(fd, r->head + n, want, 0) != (ssize_t)want)
				return -1;
			n += want;
			r->head[n] = '\0';
			*have = n;
			return 0;
		}
		if (recv(fd, r->head + n, (size_t)k, 0) != k)
			return -1;
		n += (size_t)k;
	}
}

int h_read_response(int fd, struct h_response *r, int head_only)
{
	char v[64];
	size_t have;
	ssize_t k;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	if (read_head(fd, r, &have) == -1 || sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	if (h_header(r, "Content-Length", v, sizeof(v)) == 0)
		r->content_length = atol(v);
	r->closed = h_header(r, "Connection", v, sizeof(v)) == 0 && strcasecmp(v, "close") == 0;
	if (head_only || r->content_length <= 0)
		return 0;
	r->body = malloc((size_t)r->content_length + 1);
	while (r->body_len < (size_t)r->content_length) {
		k = recv(fd, r->body + r->body_len, (size_t)r->content_length - r->body_len, 0);
		if (k <= 0) {
			h_response_free(r); /* a failed read leaves nothing to free */
			return -1;
		}
		r->body_len += (size_t)k;
	}
	r->body[r->body_len] = '\0';
	return 0;
}

void h_response_free(struct h_response *r)
{
	free(r->body);
	r->body = NULL;
}

int h_get(struct wsd *w, const char *method, const char *target, struct h_response *r)
{
	char req[4096];
	int fd = h_connect(w), rc;

	snprintf(req, sizeof(req),
	    "%s %s HTTP/1.1\r\nHost: localhost\r\n"
	    "Connection: close\r\n\r\n",
	    method, target);
	rc = h_send(fd, req) == 0 ? h_read_response(fd, r, strcmp(method, "HEAD") == 0) : -1;
	close(fd);
	return rc;
}
