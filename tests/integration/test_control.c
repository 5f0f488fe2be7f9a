/*
 * The control plane as an operator runs it: the real wsd, the real wsctl
 * on the real control socket; every implemented command one-shot and with
 * --json, restarts under client load, following events, the busy rule,
 * permissions, bad input on the socket, exit codes, the socket path rules,
 * and the shell in a pseudo-terminal and reading standard input.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "load.h"

#define BODY "controlled\n"
#define NOBODY 65534 /* Debian's nobody and nogroup */
#define OUTMAX 65536

static struct wsd w;
static struct load l;
static char out[OUTMAX];

/* ---- running wsctl ---- */

struct run {
	int as_nobody;
	const char *input; /* standard input (NULL: /dev/null) */
	int timeout_ms;
};

static void child_exec(const struct run *r, int in, int outfd, char **argv)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	dup2(in, 0);
	dup2(outfd, 1);
	dup2(outfd, 2);
	if (r->as_nobody && (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0))
		_exit(126);
	execv(WSCTL_BIN, argv);
	_exit(127);
}

/* wsctl -s w.sock ARGS...: its exit code, standard output and error in out. */
static int ctl_argv(const struct run *r, char **args)
{
	char *argv[32] = {WSCTL_BIN, "-s", w.sock};
	int i = 3, in[2], o[2], status = -1;
	size_t n = 0;
	ssize_t k;
	uint64_t end = h_now_ms() + (uint64_t)(r->timeout_ms ? r->timeout_ms : 20000);
	pid_t pid;

	while (*args && i < 31)
		argv[i++] = *args++;
	argv[i] = NULL;
	ck_assert_int_eq(pipe(in), 0);
	ck_assert_int_eq(pipe(o), 0);
	if ((pid = fork()) == 0) {
		close(in[1]);
		close(o[0]);
		child_exec(r, in[0], o[1], argv);
	}
	close(in[0]);
	close(o[1]);
	if (r->input)
		ck_assert_int_eq(
		    write(in[1], r->input, strlen(r->input)), (ssize_t)strlen(r->input));
	close(in[1]);
	for (;;) {
		struct pollfd p = {o[0], POLLIN, 0};

		if (poll(&p, 1, 50) > 0 && (k = read(o[0], out + n, OUTMAX - 1 - n)) > 0) {
			n += (size_t)k;
			continue;
		}
		if (waitpid(pid, &status, WNOHANG) == pid || h_now_ms() > end)
			break;
	}
	if (status == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("wsctl %s did not finish in time", argv[3]);
	}
	while (n < OUTMAX - 1 && (k = read(o[0], out + n, OUTMAX - 1 - n)) > 0)
		n += (size_t)k;
	out[n] = '\0';
	close(o[0]);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define CTL(r, ...) ctl_argv(r, (char *[]){__VA_ARGS__, NULL})
static const struct run plain = {0};
static const struct run nobody = {.as_nobody = 1};

#define HAS(s) ck_assert_msg(strstr(out, s) != NULL, "no \"%s\" in:\n%s", s, out)

/* A wsctl left running (events -f): its pid, its output on *fd. */
static pid_t ctl_spawn(int *fd, char **args)
{
	char *argv[16] = {WSCTL_BIN, "-s", w.sock};
	int i = 3, o[2], devnull = open("/dev/null", O_RDONLY);
	pid_t pid;

	while (*args && i < 15)
		argv[i++] = *args++;
	argv[i] = NULL;
	ck_assert_int_eq(pipe(o), 0);
	if ((pid = fork()) == 0) {
		close(o[0]);
		child_exec(&plain, devnull, o[1], argv);
	}
	close(o[1]);
	close(devnull);
	fcntl(o[0], F_SETFL, O_NONBLOCK);
	*fd = o[0];
	return pid;
}

struct stream {
	int fd;
	char buf[OUTMAX];
	size_t len;
	const char *needle;
};

static int stream_has(void *arg)
{
	struct stream *s = arg;
	ssize_t k;

	while (s->len < sizeof(s->buf) - 1 &&
	    (k = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len)) > 0)
		s->len += (size_t)k;
	s->buf[s->len] = '\0';
	return strstr(s->buf, s->needle) != NULL;
}

/* A worker "started" event after the first needle. */
static int started_after(void *arg)
{
	struct stream *s = arg;
	const char *p;

	stream_has(s);
	p = strstr(s->buf, s->needle);
	return p && strstr(p, "\"role\":\"worker\"") &&
	    strstr(strstr(p, "\"role\":\"worker\""), "\"event\":\"started\"");
}

static int stream_wait(struct stream *s, const char *needle, int timeout_ms)
{
	s->needle = needle;
	return h_wait_until(stream_has, s, timeout_ms);
}

/* A JSON integer member after "name": in text (first one after from). */
static long json_int(const char *text, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\":", name);
	if ((p = strstr(text, key)) == NULL)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == '\t')
		p++;
	return strtol(p, NULL, 10);
}

/* ---- the server ---- */

static void start(const char *extra)
{
	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, extra);
}

/* HTTP still answers, and another control client too. */
static void still_serving(void)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	ck_assert_int_eq(CTL(&plain, "version"), 0);
	HAS("control protocol 1");
}

static int running_as_root(void)
{
	if (geteuid() == 0)
		return 1;
	printf("skipped: needs root to run wsctl as another uid\n");
	return 0;
}

/* ---- every command ---- */

START_TEST(test_read_commands)
{
	start(NULL);
	ck_assert_int_eq(CTL(&plain, "status"), 0);
	HAS("listening on http://127.0.0.1:");
	HAS("listener");
	HAS("manager");
	HAS("worker");
	ck_assert_int_eq(CTL(&plain, "--json", "status"), 0);
	ck_assert_int_eq(json_int(out, "pid"), w.pid);
	HAS("\"roles\"");
	HAS("\"effective\"");
	ck_assert_int_eq(CTL(&plain, "events"), 0);
	HAS("started");
	HAS("ready");
	ck_assert_int_eq(CTL(&plain, "-j", "events", "--since", "2"), 0);
	HAS("\"last_seq\"");
	ck_assert_int_eq(json_int(out, "seq"), 3);
	ck_assert_int_eq(CTL(&plain, "version"), 0);
	HAS("wsd 0.1.0 (control protocol 1)");
	ck_assert_int_eq(CTL(&plain, "-j", "version"), 0);
	ck_assert_int_eq(json_int(out, "protocol"), 1);
	ck_assert_int_eq(CTL(&plain, "help"), 0);
	HAS("log-reopen");
	ck_assert_int_eq(CTL(&plain, "-j", "help", "restart"), 0);
	HAS("\"name\":\t\"restart\"");
	ck_assert_int_eq(CTL(&plain, "sta"), 0); /* a prefix */
	HAS("listening on");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_log_reopen)
{
	char moved[PATH_MAX + 32];

	start(NULL);
	snprintf(moved, sizeof(moved), "%s.1", w.log);
	ck_assert_int_eq(rename(w.log, moved), 0);
	ck_assert_int_eq(CTL(&plain, "log-reopen"), 0);
	HAS(w.log);
	ck_assert_int_eq(CTL(&plain, "-j", "log-reopen"), 0);
	HAS("\"reopened\"");
	HAS(w.log);
	/* The new file gets the lines (the daemon logs the call there). */
	ck_assert(h_wait_log(&w, "log-reopen", 5000));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* restart ROLE under load: no failed request, the new pid reported and running. */
static void restart_under_load(const char *role, int json)
{
	pid_t before[4], after[4];
	long newpid, oldpid;
	int rc;

	start(NULL);
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), 4, 2);
	ck_assert_msg(load_wait_more(&l, 200, 10000), "no load got through");
	ck_assert_int_eq(h_count_role(&w, role, before, 4), 1);
	rc = json ? CTL(&plain, "-j", "restart", (char *)role) :
	            CTL(&plain, "restart", (char *)role);
	ck_assert_msg(rc == 0, "restart %s: %d\n%s", role, rc, out);
	if (json) {
		oldpid = json_int(out, "old_pid");
		newpid = json_int(out, "new_pid");
		HAS("\"killed\":\tfalse");
	} else {
		char name[16];
		ck_assert_int_eq(
		    sscanf(strchr(out, '\n') + 1, "%15s %ld %ld", name, &oldpid, &newpid), 3);
		ck_assert_str_eq(name, role);
	}
	ck_assert_int_eq(oldpid, before[0]);
	ck_assert_int_eq(h_count_role(&w, role, after, 4), 1);
	ck_assert_int_eq(after[0], newpid);
	ck_assert_msg(load_wait_more(&l, 200, 10000), "no load after the restart");
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}

START_TEST(test_restart_listener_under_load) { restart_under_load("listener", 0); }
END_TEST

START_TEST(test_restart_manager_under_load) { restart_under_load("manager", 1); }
END_TEST

START_TEST(test_restart_json_and_text_forms)
{
	restart_under_load("listener", 1);
	restart_under_load("manager", 0);
}
END_TEST

START_TEST(test_events_follow_sees_kill9)
{
	struct stream s = {0};
	pid_t pids[8], follower;
	char needle[64];

	start(NULL);
	ck_assert_int_ge(h_count_role(&w, "worker", pids, 8), 1);
	follower = ctl_spawn(&s.fd, (char *[]){"-j", "events", "-f", NULL});
	ck_assert(stream_wait(&s, "\"last_seq\"", 5000)); /* the reply first */
	ck_assert_int_eq(kill(pids[0], SIGKILL), 0);
	h_expect_lost(&w, 0, 1);
	snprintf(needle, sizeof(needle), "\"pid\":%d,\"event\":\"exited\"", (int)pids[0]);
	ck_assert_msg(stream_wait(&s, needle, 5000), "no exited event:\n%s", s.buf);
	ck_assert_msg(strstr(strstr(s.buf, needle), "SIGKILL"), "%s", s.buf);
	/* ...then a replacement worker started after it. */
	s.needle = needle;
	ck_assert_msg(h_wait_until(started_after, &s, 5000), "no started after:\n%s", s.buf);
	kill(follower, SIGTERM);
	waitpid(follower, NULL, 0);
	close(s.fd);
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A download the client does not read: the old manager's worker cannot finish. */
START_TEST(test_busy_while_restart_runs)
{
	static char big[32 << 20];
	struct stream s = {0};
	int slow, status, small = 4096;
	char c;
	pid_t first;

	start(NULL);
	memset(big, 'b', sizeof(big));
	h_write_file(&w, "big.bin", big, sizeof(big));
	slow = h_connect(&w);
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(h_send(slow, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(recv(slow, &c, 1, MSG_PEEK), 1); /* the download has begun */
	first = ctl_spawn(&s.fd, (char *[]){"restart", "manager", "--timeout", "20", NULL});
	ck_assert(h_wait_log(&w, "restart {\"target\":\"manager\"", 5000));
	ck_assert_int_eq(CTL(&plain, "restart", "listener"), 1);
	HAS("busy");
	HAS("restart");
	ck_assert_int_eq(CTL(&plain, "-j", "restart", "listener"), 1);
	ck_assert_int_eq(json_int(out, "code"), -32001);
	/* Read-only calls are never busy. */
	ck_assert_int_eq(CTL(&plain, "status"), 0);
	close(slow); /* the download ends: the old manager can go */
	ck_assert(stream_wait(&s, "manager", 20000));
	ck_assert_int_eq(waitpid(first, &status, 0), first);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s", s.buf);
	close(s.fd);
	ck_assert_int_eq(CTL(&plain, "restart", "listener"), 0); /* the turn is free again */
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* An old manager still draining at the restart's timeout is killed; the reply says so. */
START_TEST(test_restart_timeout_kills_old)
{
	static char big[32 << 20];
	int slow, small = 4096;
	pid_t pids[4];
	char c;

	start(NULL);
	h_write_file(&w, "big.bin", big, sizeof(big));
	slow = h_connect(&w);
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(h_send(slow, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(recv(slow, &c, 1, MSG_PEEK), 1);
	ck_assert_int_eq(CTL(&plain, "-j", "restart", "manager", "--timeout", "0.5"), 0);
	HAS("\"killed\":\ttrue");
	ck_assert(h_log_has(&w, "still draining at the restart's timeout, killing it"));
	ck_assert_int_eq(h_count_role(&w, "manager", pids, 4), 1);
	ck_assert_int_eq(pids[0], json_int(out, "new_pid"));
	close(slow);
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_stop_replies_and_exits_clean)
{
	struct stat st;

	start(NULL);
	h_count_role(&w, "", NULL, 0); /* remember every process before it goes */
	ck_assert_int_eq(CTL(&plain, "stop"), 0);
	HAS("stopped: listener");
	HAS("manager");
	w.term_sent = 1; /* h_stop only waits */
	ck_assert_int_eq(h_stop(&w), 0);
	ck_assert_int_ne(stat(w.sock, &st), 0);
}
END_TEST

START_TEST(test_stop_json)
{
	start(NULL);
	h_count_role(&w, "", NULL, 0);
	ck_assert_int_eq(CTL(&plain, "-j", "stop"), 0);
	HAS("\"stopped\"");
	HAS("\"role\":\t\"listener\"");
	HAS("\"killed\":\t[]");
	w.term_sent = 1;
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- who may ---- */

START_TEST(test_refused_uid)
{
	if (!running_as_root())
		return;
	start("mode = 0666\n");
	ck_assert_int_eq(CTL(&nobody, "status"), 1);
	HAS("ermission denied");
	ck_assert_int_eq(CTL(&nobody, "-j", "restart", "listener"), 1);
	ck_assert_int_eq(json_int(out, "code"), -32000);
	ck_assert(h_wait_log(&w, "control: refused uid 65534", 2000));
	ck_assert_int_eq(CTL(&plain, "events"), 0); /* the refusal is an event too */
	HAS("client refused");
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The socket's mode keeps others out before the daemon sees them: said so, exit 3. */
START_TEST(test_socket_mode_keeps_out)
{
	if (!running_as_root())
		return;
	start(NULL); /* control.mode 0660, owned by root */
	ck_assert_int_eq(CTL(&nobody, "status"), 3);
	HAS(w.sock);
	HAS("Permission denied");
	HAS("may not reach the socket");
	ck_assert_ptr_null(strstr(out, "is wsd running"));
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_readonly_group)
{
	if (!running_as_root())
		return;
	start("mode = 0666\nreadonly_group = nogroup\n");
	ck_assert_int_eq(CTL(&nobody, "status"), 0);
	HAS("listening on");
	ck_assert_int_eq(CTL(&nobody, "events"), 0);
	ck_assert_int_eq(CTL(&nobody, "restart", "listener"), 1);
	HAS("ermission denied");
	ck_assert_int_eq(CTL(&nobody, "-j", "stop"), 1);
	ck_assert_int_eq(json_int(out, "code"), -32000);
	HAS("read-only");
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- bad input on the real socket ---- */

static int raw_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	struct timeval tv = {5, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_lt(
	    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path), (int)sizeof(a.sun_path));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Send len bytes, read one reply line into out: its length, or -1. */
static int raw_exchange(int fd, const char *req, size_t len)
{
	size_t n = 0;
	ssize_t k;

	ck_assert_int_eq(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
	while (n < OUTMAX - 1 && (k = recv(fd, out + n, 1, 0)) == 1)
		if (out[n++] == '\n')
			break;
	out[n] = '\0';
	return n ? (int)n : -1;
}

static void bad_line(const char *req, size_t len, const char *code)
{
	int fd = raw_connect(w.sock);

	ck_assert_int_gt(raw_exchange(fd, req, len), 0);
	HAS(code);
	close(fd);
	still_serving();
}

#define BAD(lit, code) bad_line(lit, sizeof(lit) - 1, code)

START_TEST(test_bad_lines)
{
	start(NULL);
	BAD("{nope\n", "\"code\":-32700");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"st\xff\",\"id\":1}\n", "\"code\":-32700");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}\0\n", "\"code\":-32700");
	BAD("[{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}]\n", "\"code\":-32600");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"events\",\"params\":{\"since\":\"x\"},\"id\":1}\n",
	    "\"code\":-32602");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"restart\",\"params\":{\"target\":\"moon\"},\"id\":1}\n",
	    "\"code\":-32602");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":7}\n", "\"code\":-32601");
	BAD("{\"jsonrpc\":\"2.0\",\"method\":\"sta\",\"id\":7}\n", "\"code\":-32601");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_line_too_long)
{
	size_t len = 70 * 1024;
	char *line = malloc(len);
	int fd;

	start(NULL);
	memset(line, 'x', len);
	line[0] = '"';
	line[len - 1] = '\n';
	fd = raw_connect(w.sock);
	ck_assert_int_gt(raw_exchange(fd, line, len), 0);
	HAS("\"code\":-32004");
	ck_assert_int_le(recv(fd, out, 1, 0), 0); /* then closed */
	close(fd);
	free(line);
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#define NMANY 100

/* 100 clients at once, and some silent: the newest still gets answers. */
START_TEST(test_many_and_silent_clients)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}\n";
	int fds[NMANY], answered = 0;

	start(NULL);
	for (int i = 0; i < NMANY; i++)
		fds[i] = raw_connect(w.sock);
	/* The last ones (room made by closing the idle longest) all answer. */
	for (int i = NMANY - 10; i < NMANY; i++)
		answered += raw_exchange(fds[i], req, sizeof(req) - 1) > 0 &&
		    strstr(out, "\"protocol\"");
	ck_assert_int_eq(answered, 10);
	ck_assert(h_wait_log(&w, "to make room", 2000));
	for (int i = 0; i < NMANY; i++)
		close(fds[i]);
	still_serving();
	ck_assert_int_eq(CTL(&plain, "status"), 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A client asking and never reading is closed at the output cap; others go on. */
START_TEST(test_client_that_stops_reading)
{
	static const char req[] = "{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"id\":1}\n";
	uint64_t end;
	int fd, closed = 0;

	start(NULL);
	fd = raw_connect(w.sock);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	end = h_now_ms() + 20000;
	while (!closed && h_now_ms() < end) {
		ssize_t k = send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL);

		if (k < 0 && (errno == EPIPE || errno == ECONNRESET))
			closed = 1;
		else if (k < 0)
			poll(NULL, 0, 10);
	}
	ck_assert(h_wait_log(&w, "bytes of replies unread", 2000));
	ck_assert_msg(closed, "the server kept a client that never reads");
	close(fd);
	still_serving();
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- exit codes ---- */

START_TEST(test_exit_codes)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char mute[PATH_MAX + 32], *saved;
	int lfd;

	start(NULL);
	ck_assert_int_eq(CTL(&plain, "version"), 0);
	ck_assert_int_eq(CTL(&plain, "drain", "1"), 1); /* refused by the server */
	HAS("wsctl: drain:");
	ck_assert_int_eq(CTL(&plain, "nonsense"), 2);
	ck_assert_int_eq(CTL(&plain, "restart", "moon"), 2);
	ck_assert_int_eq(CTL(&plain, "-t", "x", "status"), 2);
	/* 3: no server at the path, named. */
	saved = strdupa(w.sock);
	snprintf(w.sock, sizeof(w.sock), "%s/none.sock", w.dir);
	ck_assert_int_eq(CTL(&plain, "status"), 3);
	HAS(w.sock);
	/* 4: a server that accepts and never answers. */
	snprintf(mute, sizeof(mute), "%s/mute.sock", w.dir);
	ck_assert_int_lt(
	    snprintf(a.sun_path, sizeof(a.sun_path), "%s", mute), (int)sizeof(a.sun_path));
	ck_assert_int_ge(lfd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_lt(snprintf(w.sock, sizeof(w.sock), "%s", mute), (int)sizeof(w.sock));
	ck_assert_int_eq(CTL(&plain, "-t", "0.3", "status"), 4);
	close(lfd);
	ck_assert_int_lt(snprintf(w.sock, sizeof(w.sock), "%s", saved), (int)sizeof(w.sock));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- the socket path ---- */

START_TEST(test_stale_socket_replaced)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	ck_assert_int_lt(
	    snprintf(a.sun_path, sizeof(a.sun_path), "%s", w.sock), (int)sizeof(a.sun_path));
	ck_assert_int_ge(fd = socket(AF_UNIX, SOCK_STREAM, 0), 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd); /* a socket file nobody listens on: stale */
	h_start(&w, NULL);
	ck_assert_int_eq(CTL(&plain, "status"), 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_live_socket_and_long_path)
{
	char conf[PATH_MAX + 64], text[PATH_MAX * 3], longp[200], res[4096];
	int status;

	start(NULL);
	snprintf(conf, sizeof(conf), "%s/second.conf", w.dir);
	snprintf(text, sizeof(text),
	    "[server]\nlisten = 127.0.0.1:0\nroot = %s\n[control]\nsocket = %s\n", w.root, w.sock);
	h_write_text(conf, text);
	status = h_run((char *[]){WSD_BIN, "-c", conf, NULL}, res, sizeof(res), 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 3, "%s", res);
	ck_assert_ptr_nonnull(strstr(res, w.sock));
	ck_assert_int_eq(CTL(&plain, "status"), 0); /* the first one is untouched */
	memset(longp, 'p', sizeof(longp));
	memcpy(longp, "/tmp/", 5);
	longp[108] = '\0'; /* 108 bytes: one too many */
	snprintf(text, sizeof(text),
	    "[server]\nlisten = 127.0.0.1:0\nroot = %s\n[control]\nsocket = %s\n", w.root, longp);
	h_write_text(conf, text);
	status = h_run((char *[]){WSD_BIN, "-c", conf, NULL}, res, sizeof(res), 10000);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s", res);
	ck_assert_ptr_nonnull(strstr(res, "control.socket"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- status under load ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/*
 * A whole wsctl status process under load: the median within 200 ms, the
 * worst within a second (a stall of this shared machine is not wsd's).
 */
START_TEST(test_status_fast_under_load)
{
	uint64_t t0, ms[21];

	start(NULL);
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), 8, 4);
	ck_assert_msg(load_wait_more(&l, 500, 10000), "no load got through");
	for (int i = 0; i < 21; i++) {
		t0 = h_now_ms();
		ck_assert_int_eq(CTL(&plain, "status"), 0);
		ms[i] = h_now_ms() - t0;
	}
	load_stop(&l);
	qsort(ms, 21, sizeof(ms[0]), cmp_u64);
	printf("wsctl status under load: median %llu ms, worst %llu ms of 21\n",
	    (unsigned long long)ms[10], (unsigned long long)ms[20]);
#ifdef WSD_OPTIMISED
	ck_assert_uint_le(ms[10], 200);
	ck_assert_uint_le(ms[20], 1000);
#endif
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* ---- the shell ---- */

START_TEST(test_shell_from_stdin)
{
	struct run r = {.input = "version\nnonsense\n\nstatus\n"};

	start(NULL);
	ck_assert_int_eq(CTL(&r, "shell"), 1); /* one failed */
	HAS("control protocol 1");
	HAS("listening on");                   /* went on past the failure */
	ck_assert_ptr_null(strstr(out, "> ")); /* no prompt */
	r.input = "version\nstatus\n";
	ck_assert_int_eq(CTL(&r, "shell"), 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

struct pty {
	int fd;
	pid_t pid;
	struct stream s;
	char home[PATH_MAX]; /* HOME: the history, the inputrc */
};

static void pty_start(struct pty *p)
{
	char rc[PATH_MAX + 32];
	struct winsize ws = {.ws_row = 50, .ws_col = 200};

	snprintf(rc, sizeof(rc), "%s/inputrc", p->home);
	h_write_text(rc, "set enable-bracketed-paste off\n");
	if ((p->pid = forkpty(&p->fd, NULL, NULL, &ws)) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("TERM", "dumb", 1);
		setenv("HOME", p->home, 1);
		setenv("NO_COLOR", "1", 1);
		setenv("INPUTRC", rc, 1);
		execl(WSCTL_BIN, "wsctl", "-s", w.sock, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(p->pid, 0);
	fcntl(p->fd, F_SETFL, O_NONBLOCK);
	p->s.fd = p->fd;
}

/* Type text, wait for needle in what the terminal shows after it. */
static void pty_expect(struct pty *p, const char *text, const char *needle)
{
	p->s.len = 0;
	if (text)
		ck_assert_int_eq(write(p->fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_msg(stream_wait(&p->s, needle, 10000), "no \"%s\" after \"%s\":\n%s", needle,
	    text ? text : "", p->s.buf);
}

/* The shell is back at its prompt: the last thing on the terminal is "> ". */
static int at_prompt(void *arg)
{
	struct stream *s = arg;

	stream_has(s);
	return s->len >= 2 && memcmp(s->buf + s->len - 2, "> ", 2) == 0;
}

static int pty_exited(void *arg)
{
	struct pty *p = arg;
	int status;

	if (waitpid(p->pid, &status, WNOHANG) != p->pid)
		return 0;
	p->pid = WIFEXITED(status) ? -WEXITSTATUS(status) - 1 : -1000;
	return 1;
}

/*
 * Ctrl-D once readline reads again: typed while the shell still prints,
 * the end-of-file would reach the terminal in its cooked mode and could be
 * lost. The shell must then exit; its exit code, or -1.
 */
static int pty_end(struct pty *p)
{
	int code;

	ck_assert_msg(h_wait_until(at_prompt, &p->s, 10000), "no prompt:\n%s", p->s.buf);
	ck_assert_int_eq(write(p->fd, "\004", 1), 1); /* Ctrl-D */
	if (!h_wait_until(pty_exited, p, 10000)) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
		ck_abort_msg("the shell did not exit on Ctrl-D:\n%s", p->s.buf);
	}
	close(p->fd);
	code = -p->pid - 1;
	return code >= 0 && code < 256 ? code : -1;
}

/* The shell's home and the socket outside the server's temp dir, to outlive it. */
static void pty_home(struct pty *p)
{
	snprintf(p->home, sizeof(p->home), "/tmp/wsctl-shell-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->home));
}

static void pty_home_rm(struct pty *p)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/inputrc", p->home);
	unlink(path);
	snprintf(path, sizeof(path), "%s/.wsctl_history", p->home);
	unlink(path);
	ck_assert_int_eq(rmdir(p->home), 0);
}

static char *slurp_text(const char *path)
{
	static char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

START_TEST(test_shell_in_a_terminal)
{
	char hist[PATH_MAX + 32], *text;
	struct pty p;

	start(NULL);
	pty_home(&p);
	pty_start(&p);
	pty_expect(&p, NULL, "> ");
	pty_expect(&p, "sta\t", "status");         /* completion of a command */
	pty_expect(&p, "\n", "listening on");      /* its output */
	pty_expect(&p, "restart l\t", "listener"); /* and of an argument */
	pty_expect(&p, "\n", "OLD PID");
	pty_expect(&p, "ver\n", "control protocol 1");
	pty_expect(&p, "\033[A\033[A\n", "OLD PID"); /* history: up twice is the restart */
	pty_expect(&p, "events -f\n", "restarted");  /* following... */
	pty_expect(&p, "\003", "> ");                /* ...until Ctrl-C, back at the prompt */
	pty_expect(&p, "version\n", "control protocol 1");
	ck_assert_int_eq(pty_end(&p), 0);
	snprintf(hist, sizeof(hist), "%s/.wsctl_history", p.home);
	ck_assert_ptr_nonnull(text = slurp_text(hist));
	ck_assert_ptr_nonnull(strstr(text, "status"));
	ck_assert_ptr_nonnull(strstr(text, "restart listener"));
	/* The history comes back in the next shell. */
	pty_start(&p);
	pty_expect(&p, NULL, "> ");
	pty_expect(&p, "\033[A\033[A\033[A\033[A\033[A\033[A\n", "listening on");
	ck_assert_int_eq(pty_end(&p), 0);
	pty_home_rm(&p);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Ctrl-C while the shell waits for a long restart: said, back at the prompt. */
START_TEST(test_shell_interrupted_wait)
{
	static char big[32 << 20];
	int slow, small = 4096;
	struct pty p;
	char c;

	start(NULL);
	h_write_file(&w, "big.bin", big, sizeof(big));
	slow = h_connect(&w);
	setsockopt(slow, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(h_send(slow, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(recv(slow, &c, 1, MSG_PEEK), 1);
	pty_home(&p);
	pty_start(&p);
	pty_expect(&p, NULL, "> ");
	pty_expect(&p, "restart manager --timeout 20\n", "restart manager");
	ck_assert(h_wait_log(&w, "restart {\"target\":\"manager\"", 5000));
	pty_expect(&p, "\003", "interrupted (the operation may still be running)");
	pty_expect(&p, "restart listener\n", "busy"); /* the manager's restart goes on */
	close(slow);
	ck_assert(h_wait_log(&w, "restart: done", 20000));
	pty_expect(&p, "status\n", "listening on");
	ck_assert_int_eq(pty_end(&p), 0);
	pty_home_rm(&p);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_shell_reconnects)
{
	char sock[PATH_MAX + 16];
	struct pty p;

	pty_home(&p);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", p.home);
	h_init(&w);
	ck_assert_int_lt(snprintf(w.sock, sizeof(w.sock), "%s", sock), (int)sizeof(w.sock));
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	pty_start(&p);
	pty_expect(&p, NULL, "> ");
	pty_expect(&p, "version\n", "control protocol 1");
	ck_assert_int_eq(h_stop(&w), 0); /* wsd goes away... */
	pty_expect(&p, "version\n", "not connected");
	ck_assert_ptr_null(strstr(p.s.buf, "control protocol"));
	h_init(&w);
	ck_assert_int_lt(snprintf(w.sock, sizeof(w.sock), "%s", sock), (int)sizeof(w.sock));
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL); /* ...and comes back on the same socket */
	pty_expect(&p, "version\n", "control protocol 1");
	ck_assert_int_eq(pty_end(&p), 0);
	ck_assert_int_eq(h_stop(&w), 0);
	unlink(strcat(sock, ".lock"));
	pty_home_rm(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");
	SRunner *sr;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_read_commands);
	tcase_add_test(tc, test_log_reopen);
	tcase_add_test(tc, test_restart_listener_under_load);
	tcase_add_test(tc, test_restart_manager_under_load);
	tcase_add_test(tc, test_restart_json_and_text_forms);
	tcase_add_test(tc, test_events_follow_sees_kill9);
	tcase_add_test(tc, test_busy_while_restart_runs);
	tcase_add_test(tc, test_restart_timeout_kills_old);
	tcase_add_test(tc, test_stop_replies_and_exits_clean);
	tcase_add_test(tc, test_stop_json);
	tcase_add_test(tc, test_refused_uid);
	tcase_add_test(tc, test_socket_mode_keeps_out);
	tcase_add_test(tc, test_readonly_group);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_many_and_silent_clients);
	tcase_add_test(tc, test_client_that_stops_reading);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_stale_socket_replaced);
	tcase_add_test(tc, test_live_socket_and_long_path);
	tcase_add_test(tc, test_status_fast_under_load);
	tcase_add_test(tc, test_shell_from_stdin);
	tcase_add_test(tc, test_shell_in_a_terminal);
	tcase_add_test(tc, test_shell_interrupted_wait);
	tcase_add_test(tc, test_shell_reconnects);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
