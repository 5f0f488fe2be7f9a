/*
 * Parking: idle keep-alive connections leave their worker for the listener
 * and come back when they speak again (docs/architecture.md, "Parking").
 * What the listener holds is counted in /proc: its sockets.
 */
#include <check.h>

#include "check_run.h"
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdarg.h>
#include <sys/wait.h>

#include "harness.h"
#include "load.h"

#define BODY "parked\n"
#define MANY 1000

static struct wsd w;

static void setup(const char *extra)
{
	h_init(&w);
	h_write_file(&w, "f", BODY, strlen(BODY));
	h_start(&w, extra);
}

/* Sockets a role's process holds now (its channels, and the clients it holds). */
static int role_sockets(const char *role)
{
	pid_t pid;

	ck_assert_int_eq(h_count_role(&w, role, &pid, 1), 1);
	return h_proc_sockets(pid, -1);
}

struct count_arg {
	const char *role;
	int want;
};

static int sockets_are(void *arg)
{
	struct count_arg *a = arg;

	return role_sockets(a->role) == a->want;
}

static int sockets_at_least(void *arg)
{
	struct count_arg *a = arg;

	return role_sockets(a->role) >= a->want;
}

/* Wait until the role holds exactly want sockets. */
static void wait_sockets(const char *role, int want, int timeout_ms)
{
	struct count_arg a = {role, want};

	ck_assert_msg(h_wait_until(sockets_are, &a, timeout_ms), "%s holds %d sockets, not %d",
	    role, role_sockets(role), want);
}

/* One keep-alive request on fd: answered 200 with the body, connection kept. */
static void ka_get(int fd)
{
	struct h_response r;

	ck_assert_int_eq(h_send(fd, "GET /f HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.closed, 0);
	ck_assert_uint_eq(r.body_len, strlen(BODY));
	h_response_free(&r);
}

/* The server closed fd (end-of-file) within ms: 1, else 0. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char b;

	return poll(&p, 1, ms) == 1 && recv(fd, &b, 1, MSG_DONTWAIT) == 0;
}

/* Idle connections go to the listener; each is answered when it speaks again, then parks again. */
START_TEST(test_parked_answered)
{
	int fd[3], base;

	setup("[http]\npark_after = 100ms\nkeepalive_timeout = 30s\n");
	base = role_sockets("listener");
	for (int i = 0; i < 3; i++) {
		fd[i] = h_connect(&w);
		ka_get(fd[i]);
	}
	wait_sockets("listener", base + 3, h_bound_ms(3000));
	for (int i = 0; i < 3; i++)
		ka_get(fd[i]);
	wait_sockets("listener", base + 3, h_bound_ms(3000));
	ka_get(fd[1]);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	wait_sockets("listener", base, h_bound_ms(3000)); /* EOF while parked: closed there */
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Parking does not extend the keep-alive timeout: counted from the last request. */
START_TEST(test_parked_keepalive_timeout)
{
	uint64_t t0, dt;
	int fd, base;

	setup("[http]\npark_after = 100ms\nkeepalive_timeout = 1s\n");
	base = role_sockets("listener");
	fd = h_connect(&w);
	ka_get(fd);
	t0 = h_now_ms();
	wait_sockets("listener", base + 1, h_bound_ms(900));
	ck_assert(closed_within(fd, h_bound_ms(3000)));
	dt = h_now_ms() - t0;
	ck_assert_uint_ge(dt, 900);
	ck_assert_uint_le(dt, (uint64_t)h_bound_ms(1500));
	close(fd);
	wait_sockets("listener", base, h_bound_ms(1000));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * The race of a request sent while the connection is in flight, or just
 * as the worker parks it: every request is answered, nothing is lost.
 */
START_TEST(test_speaks_while_parking)
{
	int fd;

	setup("[http]\npark_after = 20ms\nkeepalive_timeout = 30s\n");
	fd = h_connect(&w);
	for (int i = 0; i < 150; i++) {
		ka_get(fd);
		usleep((useconds_t)(15000 + (i % 11) * 1000)); /* around park_after */
	}
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* At http.park_max the listener closes the parked connection nearest its deadline. */
START_TEST(test_park_max)
{
	int fd[3], base;

	setup("[http]\npark_after = 50ms\npark_max = 2\nkeepalive_timeout = 30s\n");
	base = role_sockets("listener");
	for (int i = 0; i < 3; i++) {
		fd[i] = h_connect(&w);
		ka_get(fd[i]);
		wait_sockets("listener", base + (i < 2 ? i + 1 : 2), h_bound_ms(3000));
	}
	ck_assert(closed_within(fd[0], h_bound_ms(2000)));
	ka_get(fd[1]);
	ka_get(fd[2]);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Descriptors for MANY clients in this process. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_uint_ge(rl.rlim_cur, MANY + 64);
}

/* 1,000 idle connections parked: the workers hold none, the pool stays at min, all answered. */
START_TEST(test_many_parked_pool_at_min)
{
	static int fd[MANY];
	int base, wbase;

	raise_fd_limit();
	/*
	 * The 1,000 first requests are real work: busy share alone must not grow
	 * the pool here (a loaded machine stretches the worker's callbacks), so
	 * what is tested is that idle connections do not hold workers.
	 */
	setup("[pool]\nmin = 1\nmax = 4\nmax_workload = 64\nscale_up_at = 1\n"
	      "[http]\npark_after = 100ms\nkeepalive_timeout = 60s\n");
	base = role_sockets("listener");
	wbase = role_sockets("worker");
	for (int i = 0; i < MANY; i++) {
		fd[i] = h_connect(&w);
		ka_get(fd[i]);
	}
	wait_sockets("listener", base + MANY, h_bound_ms(10000));
	wait_sockets("worker", wbase, h_bound_ms(2000));
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 1);
	for (int i = 0; i < MANY; i++)
		ka_get(fd[i]);
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 1);
	for (int i = 0; i < MANY; i++)
		close(fd[i]);
	wait_sockets("listener", base, h_bound_ms(10000));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* park_after = 0: nothing is parked; the worker keeps its idle connections. */
START_TEST(test_park_off)
{
	int fd, base;

	setup("[http]\npark_after = 0s\nkeepalive_timeout = 30s\n");
	base = role_sockets("listener");
	fd = h_connect(&w);
	ka_get(fd);
	usleep(300000); /* what must not happen: given time to happen */
	ck_assert_int_eq(role_sockets("listener"), base);
	ka_get(fd);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* wsctl -s SOCK args... to its end: 0 when it succeeded. */
static int ctl(const char *first, ...)
{
	char *argv[16] = {WSCTL_BIN, "-s", w.sock, (char *)first};
	char out[4096];
	int n = 4, st;
	va_list ap;

	va_start(ap, first);
	while (n < 15 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	st = h_run(argv, out, sizeof(out), 60000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "wsctl %s: %s", first, out);
	return 0;
}

struct role_n {
	const char *role;
	int n;
};

static int role_count_is(void *arg)
{
	struct role_n *r = arg;

	return h_count_role(&w, r->role, NULL, 0) == r->n;
}

static void wait_workers(int n)
{
	struct role_n r = {"worker", n};

	ck_assert_msg(h_wait_until(role_count_is, &r, h_bound_ms(10000)), "%d workers, not %d",
	    h_count_role(&w, "worker", NULL, 0), n);
}

/* Busy and idle keep-alive clients: 4 of each; idle ones wait 150 ms, parked after 50 ms. */
static struct load l;

static void load_up(const char *pool)
{
	char extra[256];

	snprintf(
	    extra, sizeof(extra), "%s[http]\npark_after = 50ms\nkeepalive_timeout = 30s\n", pool);
	setup(extra);
	load_start_idle(&l, w.port, "/f", (long)strlen(BODY), 4, 4, 150);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
}

/* Retiring is not stopping: nothing failed, not one connection closed by the server. */
static void load_done(void)
{
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_uint_eq(l.server_closed, 0);
	ck_assert_uint_eq(l.refused, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}

START_TEST(test_scale_down_closes_nothing)
{
	load_up("[pool]\nmin = 4\nmax = 4\n");
	ctl("scale", "--min", "1", "--max", "1", NULL);
	wait_workers(1);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	ctl("scale", "--min", "3", "--max", "3", NULL);
	wait_workers(3);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	ctl("scale", "--min", "2", "--max", "2", NULL);
	wait_workers(2);
	load_done();
}
END_TEST

START_TEST(test_restart_workers_closes_nothing)
{
	load_up("[pool]\nmin = 2\nmax = 2\n");
	ctl("restart", "workers", NULL);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	ctl("restart", "workers", NULL);
	load_done();
}
END_TEST

/* Recycling (pool.max_requests) retires too: the worker's connections are parked, not closed. */
START_TEST(test_recycling_closes_nothing)
{
	load_up("[pool]\nmin = 2\nmax = 2\nmax_requests = 300\n");
	ck_assert(h_wait_log(&w, "recycle: worker", h_bound_ms(20000)));
	ck_assert(h_wait_log(&w, "retiring, parking", h_bound_ms(10000)));
	load_done();
}
END_TEST

START_TEST(test_restart_manager_closes_nothing)
{
	load_up("[pool]\nmin = 2\nmax = 2\n");
	ctl("restart", "manager", NULL);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	ctl("restart", "manager", NULL);
	load_done();
}
END_TEST

/* A manager killed: its orphaned workers retire too, parking their connections. */
START_TEST(test_manager_killed_closes_nothing)
{
	pid_t m;

	load_up("[pool]\nmin = 2\nmax = 2\n");
	ck_assert_int_eq(h_count_role(&w, "manager", &m, 1), 1);
	h_expect_lost(&w, 1, 1);
	ck_assert_int_eq(kill(m, SIGKILL), 0);
	ck_assert(load_wait_more(&l, 200, h_bound_ms(10000)));
	load_done();
}
END_TEST

static int listener_is_not(void *arg)
{
	pid_t pid;

	return h_count_role(&w, "listener", &pid, 1) == 1 && pid != *(pid_t *)arg;
}

/* The listener replaced (how = 0: wsctl restart listener; 1: SIGTERM to its pid). */
static void replace_listener(int how)
{
	pid_t old;

	ck_assert_int_eq(h_count_role(&w, "listener", &old, 1), 1);
	if (how == 0)
		ctl("restart", "listener", NULL);
	else
		ck_assert_int_eq(kill(old, SIGTERM), 0);
	ck_assert(h_wait_until(listener_is_not, &old, h_bound_ms(10000)));
}

#define HANDED 240 /* parked through a listener restart: 15 full MSG_PARKS of 16 */

/*
 * A graceful listener restart hands the parked connections to its
 * replacement, 16 to a message (MSG_PARKS): each retiring listener says so.
 */
START_TEST(test_listener_restart_keeps_parked)
{
	static int fd[HANDED];
	int base;

	raise_fd_limit();
	setup("[http]\npark_after = 50ms\nkeepalive_timeout = 30s\n");
	base = role_sockets("listener");
	for (int i = 0; i < HANDED; i++) {
		fd[i] = h_connect(&w);
		ka_get(fd[i]);
	}
	wait_sockets("listener", base + HANDED, h_bound_ms(5000));
	for (int how = 0; how < 2; how++) {
		replace_listener(how);
		wait_sockets("listener", base + HANDED, h_bound_ms(5000));
		for (int i = 0; i < HANDED; i++)
			ka_get(fd[i]);
		wait_sockets("listener", base + HANDED, h_bound_ms(5000));
	}
	ck_assert_int_eq(
	    h_log_count(&w, "handed 240 parked connections to our replacement in 15 messages"), 2);
	for (int i = 0; i < HANDED; i++)
		close(fd[i]);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* CPU time (utime + stime, clock ticks) a role's process used so far. */
static long role_cpu_ticks(const char *role)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	pid_t pid;
	FILE *f;

	ck_assert_int_eq(h_count_role(&w, role, &pid, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	/* after "(comm)": state, then fields 4..13, then utime and stime */
	ck_assert_int_eq(
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/*
 * Enough to fill the listener channel (about 280 messages; a batch carries
 * up to 16 connections, so how many fit depends on how accepts group).
 */
#define QUEUED_MAX 5000

/*
 * A parked connection speaks while the manager channel is full: the
 * listener takes it out of epoll (no spinning on a level-triggered fd),
 * puts it back once the channel drains, and it is answered.
 */
START_TEST(test_speaks_while_manager_channel_full)
{
	static int q[QUEUED_MAX];
	int a, s1, s2, base, wbase, nq = 0;
	struct count_arg held;
	struct h_response r;
	long cpu;

	raise_fd_limit();
	setup("[pool]\nmin = 1\nmax = 1\nmax_workload = 2\n"
	      "[http]\npark_after = 50ms\nkeepalive_timeout = 60s\nheader_timeout = 60s\n");
	base = role_sockets("listener");
	wbase = role_sockets("worker");
	a = h_connect(&w);
	ka_get(a);
	wait_sockets("listener", base + 1, h_bound_ms(3000));
	s1 = h_connect(&w); /* silent: they fill the only worker */
	s2 = h_connect(&w);
	wait_sockets("worker", wbase + 2, h_bound_ms(3000));
	/* until the channel is full: the listener holds connections besides the parked one
	 * (each 50 given up to 100 ms to show there before 50 more come) */
	held.role = "listener";
	held.want = base + 2;
	while (!h_wait_until(sockets_at_least, &held, 100)) {
		ck_assert_int_lt(nq, QUEUED_MAX);
		for (int i = 0; i < 50; i++, nq++) {
			q[nq] = h_connect(&w);
			ck_assert_int_eq(
			    h_send(
			        q[nq], "GET /f HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"),
			    0);
		}
	}
	cpu = role_cpu_ticks("listener");
	ck_assert_int_eq(h_send(a, "GET /f HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	usleep(500000); /* a spinning listener would burn these 500 ms */
	ck_assert_int_le(role_cpu_ticks("listener") - cpu, 10);
	close(s1);
	close(s2);
	ck_assert_int_eq(h_read_response(a, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.closed, 0);
	h_response_free(&r);
	for (int i = 0; i < nq; i++) {
		ck_assert_int_eq(h_read_response(q[i], &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
		close(q[i]);
	}
	close(a);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static pid_t listener_pid(void)
{
	pid_t pid;

	ck_assert_int_eq(h_count_role(&w, "listener", &pid, 1), 1);
	return pid;
}

/* Bytes that arrive while the connection is in flight to the listener show at registration. */
START_TEST(test_speaks_in_flight)
{
	int fd, wbase;
	pid_t lpid;

	setup("[pool]\nmin = 1\nmax = 1\n[http]\npark_after = 50ms\nkeepalive_timeout = 30s\n"
	      "[heartbeat]\nmisses = 100\n");
	wbase = role_sockets("worker");
	lpid = listener_pid();
	fd = h_connect(&w);
	ka_get(fd);
	ck_assert_int_eq(kill(lpid, SIGSTOP), 0);
	wait_sockets("worker", wbase, h_bound_ms(3000)); /* parked: in the channel, unread */
	ck_assert_int_eq(h_send(fd, "GET /f HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	ck_assert_int_eq(kill(lpid, SIGCONT), 0);
	{
		struct h_response r;

		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	ka_get(fd);
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Readiness beats expiry: bytes and a passed deadline in the same round: served, not closed. */
START_TEST(test_speaks_at_deadline)
{
	int fd, base;
	pid_t lpid;
	uint64_t t0;

	setup("[http]\npark_after = 50ms\nkeepalive_timeout = 1s\n"
	      "[heartbeat]\nmisses = 100\n");
	base = role_sockets("listener");
	lpid = listener_pid();
	fd = h_connect(&w);
	ka_get(fd);
	t0 = h_now_ms();
	wait_sockets("listener", base + 1, h_bound_ms(900));
	ck_assert_int_eq(kill(lpid, SIGSTOP), 0);
	while (h_now_ms() < t0 + 1300) /* the deadline passes while it cannot look */
		usleep(10000);
	ck_assert_int_eq(h_send(fd, "GET /f HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
	ck_assert_int_eq(kill(lpid, SIGCONT), 0);
	{
		struct h_response r;

		ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("park");
	TCase *tc = tcase_create("park");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_parked_answered);
	tcase_add_test(tc, test_parked_keepalive_timeout);
	tcase_add_test(tc, test_speaks_while_parking);
	tcase_add_test(tc, test_park_max);
	tcase_add_test(tc, test_many_parked_pool_at_min);
	tcase_add_test(tc, test_park_off);
	tcase_add_test(tc, test_scale_down_closes_nothing);
	tcase_add_test(tc, test_restart_workers_closes_nothing);
	tcase_add_test(tc, test_recycling_closes_nothing);
	tcase_add_test(tc, test_restart_manager_closes_nothing);
	tcase_add_test(tc, test_manager_killed_closes_nothing);
	tcase_add_test(tc, test_listener_restart_keeps_parked);
	tcase_add_test(tc, test_speaks_while_manager_channel_full);
	tcase_add_test(tc, test_speaks_in_flight);
	tcase_add_test(tc, test_speaks_at_deadline);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
