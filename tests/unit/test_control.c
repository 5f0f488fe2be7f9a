/*
 * The control socket server, in-process: control runs on its own libevent
 * loop in a thread with a fake daemon (ops), and the test drives it with
 * real client sockets. Every read has a timeout.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "control.h"
#include "control_fake.h"
#include "jsonrpc.h"

static void push_event(void)
{
	cJSON *ev = cJSON_CreateObject();
	char *pad = malloc(fk.push_bytes + 1);

	memset(pad, 'x', fk.push_bytes);
	pad[fk.push_bytes] = '\0';
	cJSON_AddStringToObject(ev, "pad", pad);
	free(pad);
	if (control_push(fk.held, "event", ev) < 0) {
		control_reply_end(fk.held); /* closed for not reading */
		fk.held = NULL;
		return;
	}
	event_add(fk.later, &(struct timeval){0, 1000});
}

static void answer_later(evutil_socket_t fd, short what, void *arg)
{
	cJSON *o;

	if (fk.held == NULL)
		return;
	if (fk.following) {
		push_event();
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "old_pid", 1);
	cJSON_AddNumberToObject(o, "new_pid", 2);
	control_reply_result(fk.held, o); /* sends nothing if the client has gone */
	fk.held = NULL;
}

static int fake_call(void *ctx, const struct cmd *cmd, const cJSON *params, struct control_reply *r)
{
	cJSON *o = cJSON_CreateObject();

	fk.calls++;
	if (strcmp(cmd->name, "stop") == 0) {
		cJSON_Delete(o);
		return -1; /* not implemented */
	}
	cJSON_AddNumberToObject(o, "calls", fk.calls);
	cJSON_AddNumberToObject(o, "gone", fk.gone);
	cJSON_AddNumberToObject(o, "uid", control_reply_peer(r)->uid);
	if (strcmp(cmd->name, "restart") == 0) { /* deferred: answered 300 ms later */
		cJSON_Delete(o);
		fk.held = r, fk.following = 0;
		event_add(fk.later, &(struct timeval){0, 300000});
		return 0;
	}
	if (strcmp(cmd->name, "events") == 0 && cmd_get_bool(params, "follow", 0)) {
		if (control_reply_follow(r, o) == 0) {
			fk.held = r, fk.following = 1;
			event_add(fk.later, &(struct timeval){0, 1000});
		}
		return 0;
	}
	control_reply_result(r, o);
	return 0;
}

static void fake_gone(void *ctx, struct control_reply *r) { fk.gone++; }

static const struct control_ops ops = {fake_call, fake_gone, NULL};

static int cli_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct timeval tv = {WAIT_MS / 1000, 0};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static void cli_send(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "send: %s", strerror(errno));
		s += n, len -= (size_t)n;
	}
}

static void cli_sends(int fd, const char *s) { cli_send(fd, s, strlen(s)); }

/* One reply line, parsed; NULL on EOF. Fails the test on a timeout. */
static cJSON *cli_read(int fd)
{
	char buf[8192];
	size_t n = 0;
	cJSON *o;

	for (;;) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		ck_assert_msg(r >= 0 || errno == ECONNRESET, "recv: %s", strerror(errno));
		if (r <= 0)
			return NULL;
		if (buf[n] == '\n')
			break;
		ck_assert_uint_lt(++n, sizeof(buf) - 1);
	}
	buf[n] = '\0';
	o = cJSON_Parse(buf);
	ck_assert_msg(o != NULL, "not JSON: %s", buf);
	return o;
}

static cJSON *cli_call(int fd, const char *line)
{
	cli_send(fd, line, strlen(line));
	return cli_read(fd);
}

static int error_code(const cJSON *rep)
{
	const cJSON *e = cJSON_GetObjectItem(rep, "error");

	return e ? cJSON_GetObjectItem(e, "code")->valueint : 0;
}

static const char *error_message(const cJSON *rep)
{
	return cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "error"), "message")->valuestring;
}

static int result_int(const cJSON *rep, const char *name)
{
	const cJSON *res = cJSON_GetObjectItem(rep, "result");

	ck_assert_msg(res != NULL, "no result");
	return cJSON_GetObjectItem(res, name)->valueint;
}

/* Call and expect an error code; the connection stays usable. */
static void expect_error(int fd, const char *line, int code, const char *msg)
{
	cJSON *rep = cli_call(fd, line);

	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(error_code(rep), code);
	if (msg != NULL)
		ck_assert_str_eq(error_message(rep), msg);
	cJSON_Delete(rep);
}

static void expect_ok(int fd)
{
	cJSON *rep = cli_call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":9}\n");

	ck_assert_ptr_nonnull(rep);
	ck_assert_int_eq(error_code(rep), 0);
	ck_assert_int_eq(cJSON_GetObjectItem(rep, "id")->valueint, 9);
	cJSON_Delete(rep);
}

/* The server closes fd within WAIT_MS: EOF (or a reset) after any pending bytes. */
static void expect_closed(int fd)
{
	char buf[65536];
	ssize_t r;

	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	ck_assert_msg(r == 0 || errno == ECONNRESET, "not closed: %s", strerror(errno));
}

START_TEST(test_bad_input_answered)
{
	int fd;

	server_start(&ops, answer_later);
	fd = cli_connect();
	expect_error(fd, "{\"jsonrpc\":\"2.0\",\n", RPC_PARSE_ERROR, "not one valid JSON value");
	expect_error(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"st\xc3\x28\",\"id\":1}\n",
	    RPC_PARSE_ERROR, "invalid UTF-8");
	expect_error(fd, "[{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}]\n",
	    RPC_INVALID_REQUEST, "batch requests are not supported: send one object per line");
	expect_error(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"bogus\",\"id\":1}\n",
	    RPC_METHOD_NOT_FOUND, NULL);
	expect_error(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"stat\",\"id\":1}\n",
	    RPC_METHOD_NOT_FOUND, NULL); /* no prefixes on the wire */
	expect_error(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"scale\",\"params\":{\"min\":\"2\"},\"id\":1}\n",
	    RPC_INVALID_PARAMS, "param 'min' must be an integer from 1 to 4096 (got a string)");
	expect_error(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"scale\",\"params\":{\"min\":1e300},\"id\":1}\n",
	    RPC_INVALID_PARAMS, NULL);
	expect_error(
	    fd, "{\"jsonrpc\":\"2.0\",\"method\":\"stop\",\"id\":1}\n", RPC_UNAVAILABLE, NULL);
	expect_ok(fd); /* still served */
	close(fd);
	server_stop();
	ck_assert_int_eq(fk.calls, 2); /* stop and status reached the daemon, nothing else */
}
END_TEST

START_TEST(test_notification_no_reply)
{
	int fd;
	cJSON *rep;

	server_start(&ops, answer_later);
	fd = cli_connect();
	cli_sends(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"log-reopen\"}\n");
	cli_sends(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"bogus\"}\n");
	rep = cli_call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":\"s\"}\n");
	/* The first line back answers status: the notifications got nothing. */
	ck_assert_str_eq(cJSON_GetObjectItem(rep, "id")->valuestring, "s");
	ck_assert_int_eq(result_int(rep, "calls"), 2); /* log-reopen ran */
	cJSON_Delete(rep);
	close(fd);
	server_stop();
}
END_TEST

START_TEST(test_help_version_builtin)
{
	int fd;
	cJSON *rep;
	const cJSON *res;

	server_start(&ops, answer_later);
	fd = cli_connect();
	rep = cli_call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}\n");
	res = cJSON_GetObjectItem(rep, "result");
	ck_assert_str_eq(cJSON_GetObjectItem(res, "version")->valuestring, WSD_VERSION);
	cJSON_Delete(rep);
	rep = cli_call(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"params\":{\"command\":"
	    "\"scale\"},\"id\":2}\n");
	res = cJSON_GetObjectItem(cJSON_GetObjectItem(rep, "result"), "commands");
	ck_assert_int_eq(cJSON_GetArraySize(res), 1);
	cJSON_Delete(rep);
	expect_error(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"params\":{\"command\":\"x\"},\"id\":3}\n",
	    RPC_INVALID_PARAMS, "unknown command: x");
	close(fd);
	server_stop();
	ck_assert_int_eq(fk.calls, 0);
}
END_TEST

START_TEST(test_line_too_long)
{
	size_t len = 64 * 1024 + 10;
	char *big = malloc(len);
	cJSON *rep;
	int fd;

	memset(big, ' ', len);
	server_start(&ops, answer_later);
	fd = cli_connect();
	cli_send(fd, big, len); /* no newline yet: refused on size alone */
	rep = cli_read(fd);
	ck_assert_int_eq(error_code(rep), RPC_TOO_LONG);
	cJSON_Delete(rep);
	expect_closed(fd);
	close(fd);
	/* A complete line just over the limit, in one piece, too. */
	fd = cli_connect();
	big[len - 1] = '\n';
	cli_send(fd, big, len);
	rep = cli_read(fd);
	ck_assert_int_eq(error_code(rep), RPC_TOO_LONG);
	cJSON_Delete(rep);
	expect_closed(fd);
	close(fd);
	free(big);
	server_stop();
}
END_TEST

START_TEST(test_idle_timeout)
{
	uint64_t t0;
	int fd, waiting;
	cJSON *rep;

	set.idle_ms = 200;
	server_start(&ops, answer_later);
	fd = cli_connect();
	t0 = clock_now_ms();
	expect_closed(fd);
	ck_assert_uint_ge(clock_now_ms() - t0, 150);
	close(fd);
	/* Waiting for a deferred reply (300 ms) is not idle. */
	waiting = cli_connect();
	rep = cli_call(waiting,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"restart\",\"params\":{\"target\":"
	    "\"listener\"},\"id\":5}\n");
	ck_assert_int_eq(result_int(rep, "new_pid"), 2);
	cJSON_Delete(rep);
	close(waiting);
	server_stop();
}
END_TEST

START_TEST(test_deferred_reply_outlives_client)
{
	int fd;
	cJSON *rep;

	server_start(&ops, answer_later);
	fd = cli_connect();
	cli_sends(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"restart\",\"params\":{\"target\":\"manager\"},\"id\":1}\n");
	close(fd); /* gone before the answer, 300 ms later */
	fd = cli_connect();
	for (uint64_t t0 = clock_now_ms(); clock_now_ms() - t0 < WAIT_MS;) {
		int gone;

		rep = cli_call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":2}\n");
		gone = result_int(rep, "gone");
		cJSON_Delete(rep);
		if (gone == 1)
			break;
		usleep(10000);
	}
	usleep(400000); /* the answer to nobody has been given by now: must not crash */
	expect_ok(fd);
	close(fd);
	server_stop();
	ck_assert_int_eq(fk.gone, 1);
	ck_assert_ptr_null(fk.held); /* and answered */
}
END_TEST

START_TEST(test_half_closed_client_answered)
{
	int fd;
	cJSON *rep;

	server_start(&ops, answer_later);
	fd = cli_connect();
	cli_sends(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":4}\n");
	shutdown(fd, SHUT_WR); /* as socat does at the end of its input */
	rep = cli_read(fd);
	ck_assert_int_eq(cJSON_GetObjectItem(rep, "id")->valueint, 4);
	cJSON_Delete(rep);
	expect_closed(fd);
	close(fd);
	server_stop();
}
END_TEST

START_TEST(test_client_limit_evicts_idle_longest)
{
	int fds[100];
	cJSON *rep;

	server_start(&ops, answer_later);
	for (int i = 0; i < 64; i++)
		fds[i] = cli_connect();
	usleep(20000);
	expect_ok(fds[0]); /* 0 is now the most recently active */
	usleep(20000);
	for (int i = 64; i < 100; i++)
		fds[i] = cli_connect();
	expect_ok(fds[99]);
	expect_ok(fds[0]);
	for (int i = 1; i <= 36; i++) /* the 36 idle longest made room */
		expect_closed(fds[i]);
	for (int i = 37; i < 100; i++) {
		rep = cli_call(fds[i], "{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}\n");
		ck_assert_msg(rep != NULL && error_code(rep) == 0, "client %d", i);
		cJSON_Delete(rep);
	}
	for (int i = 0; i < 100; i++)
		close(fds[i]);
	server_stop();
}
END_TEST

START_TEST(test_follow_and_output_cap)
{
	int fd;
	cJSON *rep;
	char buf[4096];
	size_t got = 0;
	ssize_t r;

	set.max_output = 256 * 1024;
	server_start(&ops, answer_later);
	fk.push_bytes = 8000; /* every ms: 8 MB/s */
	fd = cli_connect();
	rep = cli_call(fd,
	    "{\"jsonrpc\":\"2.0\",\"method\":\"events\",\"params\":{\"follow\":true},"
	    "\"id\":1}\n");
	ck_assert_int_eq(error_code(rep), 0);
	cJSON_Delete(rep);
	rep = cli_read(fd); /* a pushed notification */
	ck_assert_str_eq(cJSON_GetObjectItem(rep, "method")->valuestring, "event");
	cJSON_Delete(rep);
	/* Stop reading: the server closes us once 256 KiB are pending. */
	usleep(1000000);
	while ((r = recv(fd, buf, sizeof(buf), 0)) > 0 && got < 8 * 1024 * 1024)
		got += (size_t)r;
	ck_assert_msg(r == 0 || errno == ECONNRESET, "not closed: %s", strerror(errno));
	ck_assert_uint_gt(got, 0);
	close(fd);
	fd = cli_connect();
	expect_ok(fd); /* everyone else is served */
	close(fd);
	server_stop();
	ck_assert_int_ge(fk.calls, 2);
	ck_assert_ptr_null(fk.held); /* the follower was released */
}
END_TEST

START_TEST(test_requests_without_reading)
{
	static const char drain[] = "{\"jsonrpc\":\"2.0\",\"method\":\"help\",\"id\":1}\n";
	int fd;

	set.max_output = 512 * 1024;
	server_start(&ops, answer_later);
	fd = cli_connect();
	/* help is ~3 KiB a reply: 1000 of them unread is far past the cap. */
	for (int i = 0; i < 1000; i++) {
		if (send(fd, drain, sizeof(drain) - 1, MSG_NOSIGNAL) < 0)
			break; /* closed already */
	}
	expect_closed(fd);
	close(fd);
	fd = cli_connect();
	expect_ok(fd);
	close(fd);
	server_stop();
}
END_TEST

START_TEST(test_open_refuses_and_replaces)
{
	char err[256], longp[200];
	struct control_settings s;
	struct stat st;
	int fd, stale;

	/* A live server: refused. */
	server_start(&ops, answer_later);
	control_settings_defaults(&s, path);
	ck_assert_int_eq(control_open(&s, err, sizeof(err)), CONTROL_ELIVE);
	ck_assert_ptr_nonnull(strstr(err, "already running"));
	server_stop();
	/* A stale socket (nobody listening): replaced, with the mode asked for. */
	stale = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		ck_assert_int_eq(bind(stale, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(stale);
	}
	s.mode = 0600;
	fd = control_open(&s, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	close(fd);
	/* Not a socket: never unlinked. */
	unlink(path);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	ck_assert_int_eq(control_open(&s, err, sizeof(err)), CONTROL_ECONFIG);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	unlink(path);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/', longp[sizeof(longp) - 1] = '\0';
	s.path = longp;
	ck_assert_int_eq(control_open(&s, err, sizeof(err)), CONTROL_ECONFIG);
}
END_TEST

/* CPU seconds this process has used. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

START_TEST(test_out_of_descriptors_pauses)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct rlimit old, low;
	int fd, spare;
	double cpu;

	server_start(&ops, answer_later);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	/* No descriptor left for accept(): EMFILE. */
	spare = dup(0);
	close(spare);
	getrlimit(RLIMIT_NOFILE, &old);
	low = (struct rlimit){(rlim_t)spare, old.rlim_max};
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	cpu = cpu_s();
	usleep(500000);
	/* Paused, not spinning on a listening socket that stays readable. */
	ck_assert_double_lt(cpu_s() - cpu, 0.25);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	{
		struct timeval tv = {WAIT_MS / 1000, 0};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	expect_ok(fd); /* accepted once descriptors are back */
	close(fd);
	server_stop();
}
END_TEST

START_TEST(test_open_lock_and_default_dir)
{
	char err[256], lock[160], sub[96], sock[128];
	struct control_settings s;
	struct stat st;
	int lfd, fd;

	/* Another daemon between its probe and its bind holds the lock: refused. */
	snprintf(lock, sizeof(lock), "%s.lock", path);
	lfd = open(lock, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(flock(lfd, LOCK_EX), 0);
	control_settings_defaults(&s, path);
	ck_assert_int_eq(control_open(&s, err, sizeof(err)), CONTROL_ELIVE);
	ck_assert_ptr_nonnull(strstr(err, "another wsd is starting"));
	close(lfd);
	/* A default path: its directory made 0700, ours. */
	snprintf(sub, sizeof(sub), "%s/wsd", dir);
	snprintf(sock, sizeof(sock), "%s/wsd.sock", sub);
	control_settings_defaults(&s, sock);
	s.default_path = 1;
	fd = control_open(&s, err, sizeof(err));
	ck_assert_msg(fd >= 0, "%s", err);
	close(fd);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	if (geteuid() == 0) { /* with a control group: 0710 and that group, to reach the socket */
		s.group = 65534;
		fd = control_open(&s, err, sizeof(err));
		ck_assert_msg(fd >= 0, "%s", err);
		close(fd);
		ck_assert_int_eq(stat(sub, &st), 0);
		ck_assert_int_eq(st.st_mode & 0777, 0710);
		ck_assert_int_eq(st.st_gid, 65534);
		ck_assert_int_eq(stat(sock, &st), 0);
		ck_assert_int_eq(st.st_gid, 65534);
		ck_assert_int_eq(st.st_mode & 0777, 0660);
	}
	chmod(sub, 0777); /* writable by others: refused */
	ck_assert_int_eq(control_open(&s, err, sizeof(err)), CONTROL_ECONFIG);
	unlink(sock);
	snprintf(lock, sizeof(lock), "%s.lock", sock);
	unlink(lock);
	rmdir(sub);
}
END_TEST

/* In a child as uid/gid 65534 (nobody/nogroup): status and restart, the error codes back. */
static int as_nobody(int *status_code)
{
	int p[2], codes[2] = {-1, -1}, st;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		int fd;
		cJSON *rep;

		if (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0)
			_exit(2);
		fd = cli_connect();
		rep = cli_call(fd, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}\n");
		codes[0] = rep ? error_code(rep) : 1;
		rep = cli_call(fd,
		    "{\"jsonrpc\":\"2.0\",\"method\":\"restart\",\"params\":{"
		    "\"target\":\"listener\"},\"id\":2}\n");
		codes[1] = rep ? error_code(rep) : 1;
		_exit(write(p[1], codes, sizeof(codes)) == sizeof(codes) ? 0 : 3);
	}
	close(p[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(st, 0);
	ck_assert_int_eq(read(p[0], codes, sizeof(codes)), sizeof(codes));
	close(p[0]);
	*status_code = codes[0];
	return codes[1];
}

START_TEST(test_refused_uid_real)
{
	int status_code;

	if (geteuid() != 0)
		return; /* the pure decision is tested in test_ctlauth */
	chmod(dir, 0755);
	set.mode = 0666;
	server_start(&ops, answer_later);
	ck_assert_int_eq(as_nobody(&status_code), RPC_DENIED);
	ck_assert_int_eq(status_code, RPC_DENIED);
	server_stop();
	/* In the read-only group: status yes, restart no. */
	set.readonly_group = 65534;
	server_start(&ops, answer_later);
	ck_assert_int_eq(as_nobody(&status_code), RPC_DENIED);
	ck_assert_int_eq(status_code, 0);
	server_stop();
	ck_assert_int_eq(fk.calls, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("control");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bad_input_answered);
	tcase_add_test(tc, test_notification_no_reply);
	tcase_add_test(tc, test_help_version_builtin);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_deferred_reply_outlives_client);
	tcase_add_test(tc, test_half_closed_client_answered);
	tcase_add_test(tc, test_client_limit_evicts_idle_longest);
	tcase_add_test(tc, test_follow_and_output_cap);
	tcase_add_test(tc, test_requests_without_reading);
	tcase_add_test(tc, test_open_refuses_and_replaces);
	tcase_add_test(tc, test_out_of_descriptors_pauses);
	tcase_add_test(tc, test_open_lock_and_default_dir);
	tcase_add_test(tc, test_refused_uid_real);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
