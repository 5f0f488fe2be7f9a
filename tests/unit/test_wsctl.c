/*
 * The real wsctl binary against the control server run in-process with a
 * fake daemon: exit codes, human and JSON output, the socket path rules,
 * a deferred reply, a timeout, events -f.
 */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <grp.h>
#include <sys/stat.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>

#include "clock.h"
#include "control.h"
#include "control_fake.h"
#include "jsonrpc.h"
#include "shell.h"

#define RUN_MS 10000

static const char status_json[] =
    "{\"server\":{\"version\":\"0.1.0\",\"pid\":4100,\"uptime\":3723.5,\"listen\":\"127.0.0.1:"
    "8080\"},\"totals\":{\"connections\":5},\"pool\":{\"current\":1},"
    "\"roles\":{\"worker\":{\"count\":1,\"pids\":[4103],\"processes\":[{\"pid\":4103,"
    "\"state\":\"running\",\"uptime\":60}]}}}";

static int pushed;

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
	cJSON *ev;

	if (fk.held == NULL)
		return;
	if (!fk.following) {
		ev = cJSON_Parse(
		    "{\"target\":\"listener\",\"old_pid\":1,\"new_pid\":2,\"seconds\":0.3,"
		    "\"killed\":false}");
		control_reply_result(fk.held, ev);
		fk.held = NULL;
		return;
	}
	ev = cJSON_CreateObject();
	cJSON_AddNumberToObject(ev, "seq", ++pushed);
	cJSON_AddStringToObject(ev, "role", "worker");
	cJSON_AddStringToObject(ev, "event", "exited");
	if (control_push(fk.held, "event", ev) < 0 || pushed == 3) {
		control_reply_end(fk.held);
		fk.held = NULL;
		return;
	}
	event_add(fk.later, &(struct timeval){0, 10000});
}

static void busy(struct control_reply *r)
{
	cJSON *d = cJSON_CreateObject();

	cJSON_AddStringToObject(d, "operation", "restart");
	cJSON_AddStringToObject(d, "since", "2026-11-27T09:00:00.000Z");
	control_reply_error(r, RPC_BUSY, "busy: restart in progress", d);
}

static int wsctl_call(
    void *ctx, const struct cmd *cmd, const cJSON *params, struct control_reply *r)
{
	fk.calls++;
	if (strcmp(cmd->name, "status") == 0)
		control_reply_result(r, cJSON_Parse(status_json));
	else if (strcmp(cmd->name, "scale") == 0 || fk.held != NULL)
		busy(r); /* one operation at a time, as the daemon */
	else if (strcmp(cmd->name, "restart") == 0 || strcmp(cmd->name, "events") == 0) {
		fk.following = strcmp(cmd->name, "events") == 0;
		if (fk.following && control_reply_follow(r, cJSON_Parse("{\"events\":[]}")) < 0)
			return 0;
		fk.held = r;
		event_add(fk.later, &(struct timeval){0, fk.following ? 10000 : 300000});
	} else {
		return -1;
	}
	return 0;
}

static const struct control_ops wops = {wsctl_call, NULL, NULL};

static char out_path[128], err_path[128];

/* Read a whole small file (caller frees). */
static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *buf = calloc(1, 65536);

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_lt(fread(buf, 1, 65535, f), 65535);
	fclose(f);
	return buf;
}

static const char *stdin_path = "/dev/null";
static int as_nobody; /* run wsctl as uid/gid 65534 (tests running as root) */

static pid_t spawn(char *const argv[], const char *env_socket, int out_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int in = open(stdin_path, O_RDONLY);

		dup2(in, 0);

		if (out_fd < 0)
			out_fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(out_fd, 1), dup2(err, 2);
		if (env_socket != NULL)
			setenv("WSD_SOCKET", env_socket, 1);
		else
			unsetenv("WSD_SOCKET");
		setenv("XDG_RUNTIME_DIR", dir, 1); /* the default: nothing there */
		if (as_nobody && (setgroups(0, NULL) < 0 || setgid(65534) < 0 || setuid(65534) < 0))
			_exit(126);
		execv(WSCTL_BIN, argv);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* Run wsctl to its end (bounded); its exit code, stdout and stderr. */
static int run(char *const argv[], const char *env_socket, char **out, char **err)
{
	pid_t pid = spawn(argv, env_socket, -1);
	uint64_t t0 = clock_now_ms();
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (clock_now_ms() - t0 > RUN_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			ck_abort_msg("wsctl %s did not end", argv[1]);
		}
		usleep(5000);
	}
	ck_assert(WIFEXITED(st));
	*out = slurp(out_path);
	*err = slurp(err_path);
	return WEXITSTATUS(st);
}

static void wsetup(void)
{
	setup();
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	snprintf(err_path, sizeof(err_path), "%s/err", dir);
}

static void wteardown(void)
{
	unlink(out_path), unlink(err_path);
	teardown();
}

#define RUN(want, ...) \
	do { \
		char *argv_[] = {"wsctl", __VA_ARGS__, NULL}; \
		ck_assert_int_eq(run(argv_, NULL, &out, &err), want); \
	} while (0)

START_TEST(test_status_and_json)
{
	char *out, *err;
	cJSON *j;

	server_start(&wops, later_cb);
	RUN(0, "-s", path, "status");
	ck_assert_ptr_nonnull(strstr(out, "wsd 0.1.0, pid 4100"));
	ck_assert_ptr_nonnull(strstr(out, "worker  4103  running"));
	free(out), free(err);
	RUN(0, "-s", path, "--json",
	    "st"
	    "a");
	j = cJSON_Parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "server"), "pid")->valueint, 4100);
	cJSON_Delete(j);
	free(out), free(err);
	{ /* WSD_SOCKET names the socket when -s does not */
		char *argv[] = {"wsctl", "version", NULL};

		ck_assert_int_eq(run(argv, path, &out, &err), 0);
		ck_assert_str_eq(out, "wsd " WSD_VERSION " (control protocol 1)\n");
		free(out), free(err);
	}
	server_stop();
}
END_TEST

START_TEST(test_exit_codes)
{
	char *out, *err;

	server_start(&wops, later_cb);
	RUN(1, "-s", path, "scale", "--max", "8"); /* refused: busy */
	ck_assert_ptr_nonnull(strstr(err, "busy: restart in progress (Busy, -32001)"));
	ck_assert_ptr_nonnull(strstr(err, "operation: restart"));
	free(out), free(err);
	RUN(1, "-s", path, "stop"); /* the fake does not implement it */
	free(out), free(err);
	RUN(2, "-s", path, "re");
	ck_assert_ptr_nonnull(strstr(err, "ambiguous command: re, could be: reload, restart"));
	free(out), free(err);
	RUN(2, "-s", path, "scale", "--min", "0");
	ck_assert_ptr_nonnull(strstr(err, "usage: wsctl scale"));
	free(out), free(err);
	RUN(2, "-t", "x", "status");
	free(out), free(err);
	RUN(4, "-s", path, "-t", "0.1", "restart", "listener"); /* answered after 300 ms */
	ck_assert_ptr_nonnull(strstr(err, "no reply within 0.1 s"));
	free(out), free(err);
	/* Busy until the restart wsctl gave up on has been answered (bounded). */
	for (int tries = 0;; tries++) {
		char *argv[] = {"wsctl", "-s", path, "restart", "listener", NULL};
		int rc = run(argv, NULL, &out, &err);

		if (rc != 1) {
			ck_assert_int_eq(rc, 0);
			break;
		}
		ck_assert_ptr_nonnull(strstr(err, "Busy"));
		ck_assert_int_lt(tries, 100);
		free(out), free(err);
	}
	ck_assert_ptr_nonnull(strstr(out, "listener  1        2        300ms  no"));
	free(out), free(err);
	server_stop();
	RUN(3, "-s", path, "status");
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "is wsd running?"));
	free(out), free(err);
}
END_TEST

START_TEST(test_local_help_needs_no_server)
{
	char *out, *err;

	RUN(0, "help");
	ck_assert_ptr_nonnull(strstr(out, "restart"));
	free(out), free(err);
	RUN(0, "help", "sc");
	ck_assert_ptr_nonnull(strstr(out, "usage: wsctl scale [--min N] [--max N]"));
	free(out), free(err);
	RUN(0, "--version");
	ck_assert_str_eq(out, "wsctl " WSD_VERSION "\n");
	free(out), free(err);
	RUN(2, "help", "bogus");
	free(out), free(err);
}
END_TEST

START_TEST(test_default_path_then_system)
{
	char *out, *err, want[160];

	struct stat st;

	if (stat(CTLPATH_SYSTEM, &st) == 0)
		return;             /* a real wsd's socket here: not ours to probe */
	as_nobody = geteuid() == 0; /* root has one default only */
	RUN(3, "status");
	as_nobody = 0;
	snprintf(want, sizeof(want), "cannot connect to %s/wsd/wsd.sock", dir);
	ck_assert_ptr_nonnull(strstr(err, want));
	ck_assert_ptr_nonnull(strstr(err, "cannot connect to /run/wsd/wsd.sock"));
	free(out), free(err);
}
END_TEST

START_TEST(test_events_follow)
{
	char *argv[] = {"wsctl", "-s", path, "events", "-f", NULL};
	char buf[4096];
	size_t n = 0;
	int p[2], st, lines = 0;
	pid_t pid;
	uint64_t t0 = clock_now_ms();

	server_start(&wops, later_cb);
	ck_assert_int_eq(pipe(p), 0);
	pid = spawn(argv, NULL, p[1]);
	close(p[1]);
	while (lines < 3 && clock_now_ms() - t0 < RUN_MS) {
		struct pollfd pf = {p[0], POLLIN, 0};
		ssize_t r;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		if ((r = read(p[0], buf + n, sizeof(buf) - n - 1)) <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		lines = 0;
		for (char *s = strstr(buf, "exited"); s; s = strstr(s + 1, "exited"))
			lines++;
	}
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	close(p[0]);
	server_stop();
	ck_assert_int_eq(lines, 3);
	ck_assert_ptr_nonnull(strstr(buf, "SEQ  TIME  ROLE  PID  EVENT  DETAIL"));
}
END_TEST

/* Write s to a file in the temp dir and make it wsctl's standard input. */
static void stdin_from(const char *s)
{
	static char p[128];
	FILE *f;

	snprintf(p, sizeof(p), "%s/in", dir);
	f = fopen(p, "w");
	fputs(s, f);
	fclose(f);
	stdin_path = p;
}

START_TEST(test_shell_from_stdin)
{
	char *out, *err;

	server_start(&wops, later_cb);
	/* One connection for all; a failed command does not stop the rest; exit 1. */
	stdin_from("version\nbogus\n  'vers'ion  \n\nscale --max 3\nstatus\n");
	RUN(1, "-s", path);
	ck_assert_ptr_nonnull(strstr(out,
	    "wsd " WSD_VERSION " (control protocol 1)\n"
	    "wsd " WSD_VERSION " (control protocol 1)\n"));
	ck_assert_ptr_nonnull(strstr(out, "worker  4103  running"));
	ck_assert_ptr_nonnull(strstr(err, "unknown command: bogus"));
	ck_assert_ptr_nonnull(strstr(err, "Busy"));
	free(out), free(err);
	stdin_from("version\nquit\nbogus\n");
	RUN(0, "-s", path, "shell");
	free(out), free(err);
	server_stop();
	ck_assert_int_eq(fk.calls, 2); /* status, scale: version is the server's own */
	unlink(stdin_path);
	stdin_path = "/dev/null";
}
END_TEST

START_TEST(test_shell_split)
{
	char line[] = " restart  'wor'ker \"1 2\"\t--timeout=5\n", bad[] = "a 'b", *w[8];

	ck_assert_int_eq(shell_split(line, w, 8), 4);
	ck_assert_str_eq(w[0], "restart");
	ck_assert_str_eq(w[1], "worker");
	ck_assert_str_eq(w[2], "1 2");
	ck_assert_str_eq(w[3], "--timeout=5");
	ck_assert_int_eq(shell_split(bad, w, 8), -1);
	ck_assert_int_eq(shell_split(line, w, 0), -1); /* too many words */
}
END_TEST

/* The terminal's output so far, and wait until it holds want (bounded). */
static char tty_out[65536];
static size_t tty_len;

static int tty_wait(int fd, const char *want)
{
	uint64_t t0 = clock_now_ms();

	while (strstr(tty_out, want) == NULL && clock_now_ms() - t0 < RUN_MS) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t r;

		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((r = read(fd, tty_out + tty_len, sizeof(tty_out) - tty_len - 1)) <= 0)
			break;
		tty_len += (size_t)r;
		tty_out[tty_len] = '\0';
	}
	return strstr(tty_out, want) != NULL;
}

static pid_t spawn_tty(int *master)
{
	char inputrc[128];
	FILE *f;
	pid_t pid;

	snprintf(inputrc, sizeof(inputrc), "%s/inputrc", dir);
	f = fopen(inputrc, "w");
	fputs("set enable-bracketed-paste off\n", f);
	fclose(f);
	if ((pid = forkpty(master, NULL, NULL, NULL)) == 0) {
		setenv("TERM", "dumb", 1), setenv("HOME", dir, 1), setenv("NO_COLOR", "1", 1);
		setenv("INPUTRC", inputrc, 1);
		execl(WSCTL_BIN, "wsctl", "-s", path, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	tty_len = 0, tty_out[0] = '\0';
	return pid;
}

static void tty_type(int fd, const char *s)
{
	ck_assert_int_eq(write(fd, s, strlen(s)), strlen(s));
}

START_TEST(test_shell_on_a_terminal)
{
	char want[160], hist[128], *h;
	int master, st;
	pid_t pid;

	server_start(&wops, later_cb);
	pid = spawn_tty(&master);
	snprintf(want, sizeof(want), "wsd %s> ", path);
	ck_assert_msg(tty_wait(master, want), "no prompt: %s", tty_out);
	tty_type(master, "vers\t\n"); /* a command completed */
	ck_assert_msg(tty_wait(master, "(control protocol 1)"), "%s", tty_out);
	tty_type(master, "restart l\t\n"); /* a role completed; the deferred reply */
	ck_assert_msg(tty_wait(master, "listener  1        2"), "%s", tty_out);
	server_stop(); /* wsd goes away and comes back: the shell reconnects by itself */
	server_start(&wops, later_cb);
	tty_len = 0, tty_out[0] = '\0';
	tty_type(master, "version\n");
	ck_assert_msg(tty_wait(master, "protocol 1)\r\nwsd /"), "%s", tty_out);
	ck_assert_ptr_null(strstr(tty_out, "wsctl:")); /* no error on the way */
	tty_type(master, "drain \t");                  /* a worker pid from the live table */
	ck_assert_msg(tty_wait(master, "drain 4103"), "%s", tty_out);
	tty_type(master, "\n\004"); /* Ctrl-D ends it */
	ck_assert_msg(tty_wait(master, "Not available"), "%s", tty_out);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(master);
	server_stop();
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(hist, sizeof(hist), "%s/.wsctl_history", dir);
	h = slurp(hist);
	ck_assert_str_eq(h, "version \nrestart listener \nversion\ndrain 4103 \n");
	free(h);
	unlink(hist);
	snprintf(hist, sizeof(hist), "%s/inputrc", dir);
	unlink(hist);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wsctl");
	TCase *tc = tcase_create("wsctl");

	tcase_add_checked_fixture(tc, wsetup, wteardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_status_and_json);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_local_help_needs_no_server);
	tcase_add_test(tc, test_default_path_then_system);
	tcase_add_test(tc, test_events_follow);
	tcase_add_test(tc, test_shell_from_stdin);
	tcase_add_test(tc, test_shell_split);
	tcase_add_test(tc, test_shell_on_a_terminal);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
