/* The command line: flags, configuration errors, wsd -t, exit codes. */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char out[8192];

static int run(char *const argv[])
{
	int status = h_run(argv, out, sizeof(out), 10000);

	ck_assert_msg(WIFEXITED(status), "wsd did not exit by itself: %s", out);
	return WEXITSTATUS(status);
}

START_TEST(test_version_and_help)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-v", NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "wsd "));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-h", NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: wsd"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "--version", NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "wsd "));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "--help", NULL}), 0);
	/* The help tells the defaults, the signals and where the docs are. */
	ck_assert_ptr_nonnull(strstr(out, "usage: wsd"));
	ck_assert_ptr_nonnull(strstr(out, "127.0.0.1:8080"));
	ck_assert_ptr_nonnull(strstr(out, "the current directory"));
	ck_assert_ptr_nonnull(strstr(out, "USR1"));
	ck_assert_ptr_nonnull(strstr(out, "docs/configuration.md"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "--bogus", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "wsd: unknown option --bogus"));
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-x", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "wsd: unknown option -x"));
	ck_assert_ptr_nonnull(strstr(out, "usage:"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "stray", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "unexpected argument 'stray'"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-c", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "wsd: option -c needs a value"));
}
END_TEST

START_TEST(test_config_check)
{
	struct wsd w;

	h_init(&w);
	h_write_text(w.conf, "[server]\nlisten = 127.0.0.1:0\n\n[pool]\nmin = 2\nmax = 4\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "ok"));

	/* Errors name the file, the line and the key. */
	h_write_text(w.conf, "[server]\nlisten = 127.0.0.1:0\n[pool]\nmax = 99999\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:4:"));
	ck_assert_ptr_nonnull(strstr(out, "pool.max"));

	h_write_text(w.conf, "[server]\nbogus = 1\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:2:"));
	ck_assert_ptr_nonnull(strstr(out, "bogus"));

	h_write_text(w.conf, "[nosuch]\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "nosuch"));

	h_write_text(w.conf, "[http]\nkeepalive_timeout = 15\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "keepalive_timeout"));

	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", "/nonexistent/wsd.conf", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent/wsd.conf"));

	/* -t checks what the start would: a log file that cannot be opened. */
	h_write_text(w.conf, "[log]\nfile = /nonexistent-dir/wsd.log\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(
	    strstr(out, "wsd.conf:2: log.file: cannot open /nonexistent-dir/wsd.log"));
	if (geteuid() == 0) {
		h_write_text(w.conf, "[server]\nuser = nosuchuser-wsd\n");
		ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
		ck_assert_ptr_nonnull(
		    strstr(out, "wsd.conf:2: server.user: no such user 'nosuchuser-wsd'"));
	}
	h_cleanup(&w);
}
END_TEST

START_TEST(test_flag_errors_exit_1)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-p", "70000", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "-p 70000"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "8:2", NULL}), 1);
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "banana", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "-w banana"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-r", "/nonexistent-root", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent-root"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "2:4", "-p", "0", NULL}), 0);
}
END_TEST

START_TEST(test_busy_port_exit_3)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char port[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-p", port, "-r", "/tmp", NULL}), 3);
	ck_assert_ptr_nonnull(strstr(out, "cannot listen"));
	close(fd);
}
END_TEST

/* Every error of the file, each naming file:line:key, and the checks after parsing too. */
START_TEST(test_all_errors_reported)
{
	struct wsd w;

	h_init(&w);
	h_write_text(w.conf,
	    "[pool]\nmax = 0\n[http]\nheader_timeout = 1.5s\nkeepalive_timeout = "
	    "15 s\n[server]\nbacklog = 5\n  root = /tmp\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:2: pool.max: 0 is out of range"));
	ck_assert_ptr_nonnull(strstr(out,
	    "wsd.conf:4: http.header_timeout: '1.5s' has a fraction: "
	    "fractions are not supported, use 1500ms"));
	ck_assert_ptr_nonnull(strstr(out,
	    "wsd.conf:5: http.keepalive_timeout: '15 s' has a space: "
	    "no space between number and unit, write 15s"));
	ck_assert_ptr_nonnull(strstr(out,
	    "wsd.conf:8: this line is indented, so it would continue "
	    "the value of server.backlog (line 7)"));

	h_write_text(w.conf, "[pool]\nmin = 9\nmax = 3\n[server]\nroot = /nonexistent-root\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(
	    strstr(out, "wsd.conf:2: pool.min: 9 is greater than pool.max (3, from"));
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:5: server.root: /nonexistent-root: "));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, "-w", "8:2", NULL}), 1);
	ck_assert_ptr_nonnull(
	    strstr(out, "wsd: -w: pool.min: 8 is greater than pool.max (2, from -w)"));
	h_cleanup(&w);
}
END_TEST

/* A port on loopback that someone listens on: its number, and the fd to close. */
static int busy_port(char *port, size_t len)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	ck_assert_int_lt(snprintf(port, len, "%u", ntohs(sin.sin_port)), (int)len);
	return fd;
}

/* -t test-binds: in use is a warning naming the address, not on this machine an error. */
START_TEST(test_check_binds)
{
	struct wsd w;
	char port[16], want[128];
	int fd = busy_port(port, sizeof(port));

	h_init(&w);
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-p", port, "-r", w.root, NULL}), 0);
	snprintf(
	    want, sizeof(want), "wsd: warning: -p: server.listen: 127.0.0.1:%s is in use", port);
	ck_assert_ptr_nonnull(strstr(out, want));
	ck_assert_ptr_nonnull(strstr(out, "is ok"));
	close(fd);

	h_write_text(w.conf, "[server]\nlisten = 192.0.2.1:0\n"); /* TEST-NET-1 */
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, "-r", w.root, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:2: server.listen: cannot bind 192.0.2.1:0: "));
	ck_assert_ptr_nonnull(strstr(out, "(the address is not on this machine)"));
	h_cleanup(&w);
}
END_TEST

/* Run argv as nobody (fork, drop, exec); exit status, output in out. */
static int run_as_nobody(char *const argv[])
{
	struct passwd *pw = getpwnam("nobody");
	int p[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_ptr_nonnull(pw);
	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(p[1], 1);
		dup2(p[1], 2);
		if (setgroups(1, &pw->pw_gid) == 0 && setgid(pw->pw_gid) == 0 &&
		    setuid(pw->pw_uid) == 0)
			execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		struct pollfd pfd = {p[0], POLLIN, 0};

		ck_assert_int_eq(poll(&pfd, 1, 10000), 1); /* wsd -t is quick; bounded */
		if ((r = read(p[0], out + n, sizeof(out) - n - 1)) <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "wsd -t did not exit: %s", out);
	return WEXITSTATUS(status);
}

static int unprivileged_port_start(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	int n = 1024;

	if (f != NULL) {
		if (fscanf(f, "%d", &n) != 1)
			n = 1024;
		fclose(f);
	}
	return n;
}

/* As root: a privileged port as nobody, the root as server.user, user unused. */
START_TEST(test_check_as_users)
{
	struct wsd w;
	char priv[PATH_MAX + 16];

	if (geteuid() != 0) {
		fprintf(stderr, "test_check_as_users: SKIP: needs root to act as two users\n");
		return;
	}
	h_init(&w);
	if (unprivileged_port_start() > 80) {
		ck_assert_int_eq(
		    run_as_nobody((char *[]){WSD_BIN, "-t", "-p", "80", "-r", w.root, NULL}), 1);
		ck_assert_ptr_nonnull(
		    strstr(out, "wsd: -p: server.listen: cannot bind 127.0.0.1:80: "));
		ck_assert_ptr_nonnull(strstr(out, "needs root or CAP_NET_BIND_SERVICE"));
	}
	/* Not started as root, server.user would not be switched to: say so. */
	h_write_text(w.conf, "[server]\nuser = daemon\n");
	ck_assert_int_eq(
	    run_as_nobody((char *[]){WSD_BIN, "-t", "-p", "0", "-c", w.conf, "-r", w.root, NULL}),
	    0);
	ck_assert_ptr_nonnull(strstr(out, "wsd: warning: "));
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:2: server.user: 'daemon' is not used"));

	/* Started as root, the workers run as nobody: a root only root can search. */
	snprintf(priv, sizeof(priv), "%s/priv", w.dir);
	ck_assert_int_eq(mkdir(priv, 0700), 0);
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-p", "0", "-r", priv, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd: -r: server.root: user 'nobody' cannot search"));
	ck_assert_int_eq(chmod(priv, 0711), 0);
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-p", "0", "-r", priv, NULL}), 0);
	rmdir(priv);
	h_cleanup(&w);
}
END_TEST

/* -t beside a running server: its control socket answers; a second start would refuse. */
START_TEST(test_check_live_control_socket)
{
	struct wsd w;
	char conf[PATH_MAX + 64];

	h_init(&w);
	h_start(&w, NULL);
	snprintf(conf, sizeof(conf), "[control]\nsocket = %s\n", w.sock);
	h_write_text(w.conf, conf);
	ck_assert_int_eq(
	    run((char *[]){WSD_BIN, "-t", "-p", "0", "-r", w.root, "-c", w.conf, NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "wsd: warning: "));
	ck_assert_ptr_nonnull(strstr(out, "control.socket: a wsd already answers on"));
	/* And a start there refuses, naming the socket: exit 3. */
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-p", "0", "-r", w.root, "-c", w.conf, NULL}), 3);
	ck_assert_ptr_nonnull(strstr(out, w.sock));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

struct file_wait {
	const char *path, *needle;
};

static int file_has(void *arg)
{
	struct file_wait *fw = arg;
	char buf[8192];
	ssize_t n;
	int fd = open(fw->path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, fw->needle) != NULL;
}

/* access_log = stderr is the daemon's stderr, as log.file = stderr is, not a file. */
START_TEST(test_access_log_stderr)
{
	struct wsd w;
	struct h_response r;
	char errpath[PATH_MAX + 32], cwdfile[PATH_MAX + 16], cwd[PATH_MAX];
	struct file_wait fw = {errpath, "\"GET /a.txt HTTP/1.1\" 200 "};

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(cwdfile, sizeof(cwdfile), "%s/stderr", cwd);
	unlink(cwdfile);
	h_init(&w);
	h_write_file(&w, "a.txt", "hello\n", 6);
	h_start(&w, "[log]\naccess_log = stderr\n");
	snprintf(errpath, sizeof(errpath), "%s/stderr.txt", w.dir);
	ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	ck_assert_msg(h_wait_until(file_has, &fw, h_bound_ms(3000)), "no access line on stderr");
	ck_assert_msg(access(cwdfile, F_OK) == -1, "a file named stderr was created");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static int have_ipv6_loopback(void)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int v6_port(struct wsd *w)
{
	char buf[16384], *p;
	ssize_t n;
	int fd = open(w->log, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((p = strstr(buf, "ready: serving")) == NULL || (p = strstr(p, "http://[::1]:")) == NULL)
		return 0;
	return atoi(p + strlen("http://[::1]:"));
}

static int v6_ready(void *arg) { return v6_port(arg) > 0; }

/* h_start() waits for an IPv4 address: start on [::1] the same way, here. */
static void start_v6(struct wsd *w)
{
	char text[PATH_MAX * 4 + 256], errpath[PATH_MAX + 32];
	int fd;

	snprintf(text, sizeof(text),
	    "[server]\nlisten = [::1]:0\nroot = %s\nshutdown_timeout = 5s\n"
	    "[log]\nfile = %s\nlevel = debug\n[control]\nsocket = %s\n",
	    w->root, w->log, w->sock);
	h_write_text(w->conf, text);
	snprintf(errpath, sizeof(errpath), "%s/stderr.txt", w->dir);
	if ((w->pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		fd = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(WSD_BIN, "wsd", "-c", w->conf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(w->pid, 0);
	ck_assert_msg(
	    h_wait_until(v6_ready, w, h_bound_ms(5000)), "not ready on [::1]; log %s", w->log);
	w->port = (uint16_t)v6_port(w);
	h_count_role(w, "", NULL, 0);
}

START_TEST(test_serve_ipv6)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	struct timeval tv = {5, 0};
	struct h_response r;
	struct wsd w;
	int fd;

	if (!have_ipv6_loopback()) {
		fprintf(stderr, "test_serve_ipv6: SKIP: this machine has no IPv6 loopback (::1)\n");
		return;
	}
	h_init(&w);
	h_write_file(&w, "six.txt", "over ipv6\n", 10);
	h_write_text(w.conf, "[server]\nlisten = [::1]:0\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-r", w.root, "-c", w.conf, NULL}), 0);
	start_v6(&w);
	a.sin6_port = htons(w.port);
	ck_assert_int_ge(fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(
	    h_send(fd, "GET /six.txt HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	close(fd);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 10);
	ck_assert_mem_eq(r.body, "over ipv6\n", 10);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	SRunner *sr;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_version_and_help);
	tcase_add_test(tc, test_usage_errors_exit_2);
	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_flag_errors_exit_1);
	tcase_add_test(tc, test_busy_port_exit_3);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_check_binds);
	tcase_add_test(tc, test_check_as_users);
	tcase_add_test(tc, test_check_live_control_socket);
	tcase_add_test(tc, test_access_log_stderr);
	tcase_add_test(tc, test_serve_ipv6);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
