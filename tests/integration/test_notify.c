/*
 * The service manager's protocol without a service manager: the test binds
 * a datagram socket of its own, points NOTIFY_SOCKET at it and reads what
 * wsd says - READY=1 with a STATUS=, STATUS= refreshed, RELOADING=1 then
 * READY=1 around a reload, WATCHDOG=1 while the daemon's loop runs (and
 * none while it is stopped), STOPPING=1 - all from the daemon's pid, and
 * no child started with NOTIFY_SOCKET or WATCHDOG_* in its environment.
 */
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check_run.h"
#include "harness.h"

static struct wsd w;
static int nsock = -1;

/* Bind dir/notify and point NOTIFY_SOCKET (and a 1 s watchdog) at it. */
static void notify_listen(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int one = 1;

	ck_assert_int_lt(snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", w.dir),
	    (int)sizeof(sa.sun_path));
	nsock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(nsock, 0);
	ck_assert_int_eq(setsockopt(nsock, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	ck_assert_int_eq(bind(nsock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
}

static void notify_unset(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	close(nsock);
}

/* One datagram within timeout_ms into buf (its sender must be the daemon): 1, or 0. */
static int notify_read(char *buf, size_t len, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {buf, len - 1};
	struct msghdr mh = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct pollfd pfd = {nsock, POLLIN, 0};
	struct cmsghdr *c;
	struct ucred uc;
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	n = recvmsg(nsock, &mh, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	c = CMSG_FIRSTHDR(&mh);
	ck_assert_msg(c && c->cmsg_type == SCM_CREDENTIALS, "no credentials with '%s'", buf);
	memcpy(&uc, CMSG_DATA(c), sizeof(uc));
	ck_assert_msg(
	    uc.pid == w.pid, "'%s' from pid %d, not the daemon %d", buf, (int)uc.pid, (int)w.pid);
	return 1;
}

/* Read until a datagram contains needle: 1, or 0 after timeout_ms. Others are skipped. */
static int notify_wait(const char *needle, char *buf, size_t len, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	while (h_now_ms() < end)
		if (notify_read(buf, len, (int)(end - h_now_ms())) && strstr(buf, needle))
			return 1;
	return 0;
}

/* No process of the instance has one of the service manager's variables. */
static void check_child_env(const char *role)
{
	pid_t pids[16];
	int n = h_count_role(&w, role, pids, 16);

	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		char path[64], env[16384];
		int fd;
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/environ", (int)pids[i]);
		ck_assert_int_ge(fd = open(path, O_RDONLY | O_CLOEXEC), 0);
		len = read(fd, env, sizeof(env) - 1);
		close(fd);
		ck_assert_int_gt(len, 0);
		for (ssize_t j = 0; j < len; j += (ssize_t)strlen(env + j) + 1)
			ck_assert_msg(strncmp(env + j, "NOTIFY_SOCKET=", 14) != 0 &&
			        strncmp(env + j, "WATCHDOG_", 9) != 0,
			    "%s %d has %s", role, (int)pids[i], env + j);
	}
}

START_TEST(test_ready_status_reload_stopping)
{
	char buf[512];

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	notify_listen();
	h_start(&w, "[pool]\nmin = 2\nmax = 4\n");
	ck_assert_msg(notify_wait("READY=1", buf, sizeof(buf), h_bound_ms(5000)), "no READY=1");
	ck_assert_msg(strstr(buf, "STATUS=2 workers, 0.0 requests/s, serving http://127.0.0.1:"),
	    "READY without the status line: '%s'", buf);
	check_child_env("listener");
	check_child_env("manager");
	check_child_env("worker");
	/* Requests change the line: it is refreshed (at most every 2 s). */
	for (int i = 0; i < 20; i++) {
		struct h_response r;

		ck_assert_int_eq(h_get(&w, "GET", "/a.txt", &r), 0);
		h_response_free(&r);
	}
	ck_assert_msg(notify_wait("STATUS=2 workers, ", buf, sizeof(buf), h_bound_ms(6000)),
	    "no refreshed STATUS=");
	ck_assert_msg(!strstr(buf, " 0.0 requests/s"), "the rate did not move: '%s'", buf);
	/* A reload: RELOADING=1, then READY=1. */
	ck_assert_int_eq(kill(w.pid, SIGHUP), 0);
	ck_assert_msg(
	    notify_wait("RELOADING=1", buf, sizeof(buf), h_bound_ms(5000)), "no RELOADING");
	ck_assert_msg(
	    strstr(buf, "MONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC: '%s'", buf);
	ck_assert_msg(
	    notify_wait("READY=1", buf, sizeof(buf), h_bound_ms(5000)), "no READY after reload");
	h_stop_begin(&w);
	ck_assert_msg(
	    notify_wait("STOPPING=1", buf, sizeof(buf), h_bound_ms(5000)), "no STOPPING=1");
	ck_assert_int_eq(h_stop(&w), 0);
	notify_unset();
}
END_TEST

/* Drain what was sent so far. */
static void notify_drain(void)
{
	char buf[512];

	while (notify_read(buf, sizeof(buf), 0))
		;
}

START_TEST(test_watchdog_stops_with_the_loop)
{
	char buf[512];

	h_init(&w);
	notify_listen();
	h_start(&w, "[pool]\nmin = 1\nmax = 2\n");
	/* WATCHDOG_USEC=1000000: a ping at least every second, from the heartbeat check. */
	ck_assert_msg(notify_wait("WATCHDOG=1", buf, sizeof(buf), h_bound_ms(3000)), "no ping");
	ck_assert_msg(notify_wait("WATCHDOG=1", buf, sizeof(buf), h_bound_ms(3000)), "no 2nd ping");
	ck_assert_int_eq(kill(w.pid, SIGSTOP), 0);
	usleep(200 * 1000); /* a ping sent just before the stop lands meanwhile */
	notify_drain();
	/* Stopped: 2.5 watchdog intervals without a word. */
	ck_assert_msg(!notify_wait("WATCHDOG=1", buf, sizeof(buf), 2500), "a ping while stopped");
	ck_assert_int_eq(kill(w.pid, SIGCONT), 0);
	ck_assert_msg(
	    notify_wait("WATCHDOG=1", buf, sizeof(buf), h_bound_ms(3000)), "no ping after SIGCONT");
	ck_assert_int_eq(h_stop(&w), 0);
	notify_unset();
}
END_TEST

/* server.drain_delay: STOPPING=1 when the delay begins, not when it ends. */
START_TEST(test_stopping_at_the_start_of_the_drain_delay)
{
	char buf[512];

	h_init(&w);
	notify_listen();
	h_start(&w, "[server]\ndrain_delay = 3s\n");
	ck_assert_msg(notify_wait("READY=1", buf, sizeof(buf), h_bound_ms(5000)), "no READY=1");
	h_stop_begin(&w);
	ck_assert_msg(
	    notify_wait("STOPPING=1", buf, sizeof(buf), h_bound_ms(2000)), "no STOPPING=1");
	ck_assert(h_log_has(&w, "draining for 3000 ms (server.drain_delay)"));
	ck_assert(!h_log_has(&w, "drain delay over"));
	ck_assert_int_eq(h_stop(&w), 0);
	notify_unset();
}
END_TEST

Suite *notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_ready_status_reload_stopping);
	tcase_add_test(tc, test_watchdog_stops_with_the_loop);
	tcase_add_test(tc, test_stopping_at_the_start_of_the_drain_delay);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
#ifndef WSD_SYSTEMD
	printf("integration_notify: skipped: wsd built without libsystemd (WSD_SYSTEMD=OFF)\n");
	return 0;
#endif
	SRunner *sr = srunner_create(notify_suite());

	return check_run(sr, CK_NORMAL);
}
