/*
 * Supervision, done to a real running wsd under a real, bounded client
 * load: kill -9 and SIGSTOP each role, graceful restarts under wrk, the
 * daemon's own death, and a crash loop (debug builds with WSD_FAULTS).
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <dirent.h>
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
#include "load.h"

#define BODY "supervised\n"
#define NKEEP 4
#define NSHORT 2

static struct wsd w;
static struct load l;

/* The pool pinned at its default min of 2: the load must not make the policy grow it. */
#define POOL_PINNED "[pool]\nmin = 2\nmax = 2\n"

static void start_under_load(const char *extra)
{
	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, extra ? extra : POOL_PINNED);
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), NKEEP, NSHORT);
	ck_assert_msg(load_wait_more(&l, 200, 10000), "no load got through");
}

static pid_t pid_of(const char *role)
{
	pid_t pids[32];

	ck_assert_int_ge(h_count_role(&w, role, pids, 32), 1);
	return pids[0];
}

struct replaced {
	const char *role;
	pid_t old;
	int want;
};

/* The role has its full count again, none of them the old pid. */
static int replaced_pred(void *arg)
{
	struct replaced *r = arg;
	pid_t pids[32];
	int n = h_count_role(&w, r->role, pids, 32);

	for (int i = 0; i < n; i++)
		if (pids[i] == r->old)
			return 0;
	return n == r->want;
}

/*
 * Do sig to one process of role (old, or the first one found when 0) and
 * measure how long until it has been replaced and the server answers
 * again. Returns the failed requests.
 */
static unsigned long hit_pid(const char *role, pid_t old, int sig, int want)
{
	struct replaced r = {role, old ? old : pid_of(role), want};
	unsigned long failed0 = l.failed;
	uint64_t t0 = h_now_ms(), ms;

	ck_assert_int_eq(kill(r.old, sig), 0);
	ck_assert_msg(h_wait_until(replaced_pred, &r, 10000), "%s %d not replaced", role, r.old);
	ms = h_now_ms() - t0;
	ck_assert_msg(load_wait_more(&l, 100, 10000), "no answers after %s was replaced", role);
	printf("%s %s: replaced in %llu ms, %lu failed requests\n", role,
	    sig == SIGKILL     ? "kill -9" :
	        sig == SIGSTOP ? "SIGSTOP" :
	                         "SIGTERM",
	    (unsigned long long)ms, l.failed - failed0);
	fflush(stdout);
	/* The target is 1 s as a median (docs/operations.md); a test allows noise. */
	ck_assert_msg(ms <= (uint64_t)h_bound_ms(2000), "%s replaced in %llu ms", role,
	    (unsigned long long)ms);
	return l.failed - failed0;
}

static unsigned long hit(const char *role, int sig, int want)
{
	return hit_pid(role, 0, sig, want);
}

/* Client connections a worker holds: its sockets but its two channels (fds 5 and 6). */
static int client_sockets(pid_t pid)
{
	int n = h_proc_sockets(pid, 6);

	ck_assert_int_ge(n, 0);
	return n;
}

static void finish(void)
{
	load_stop(&l);
	ck_assert_uint_eq(l.refused, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}

/*
 * What the design promises: a kill -9 of the listener or the manager loses
 * at most what that process alone held at the instant - the connections of
 * one accept round the listener has not handed over yet, or one read of
 * the manager's not given out yet (docs/operations.md): with NSHORT new
 * connections at a time, at most NSHORT, and nearly always none; the
 * manager's workers finish theirs. A kill -9 of a worker loses only the
 * connections it held.
 */
START_TEST(test_kill9_each_role)
{
	pid_t worker;
	int held;

	start_under_load(NULL);
	h_expect_lost(&w, 3, 3);
	ck_assert_uint_le(hit("listener", SIGKILL, 1), NSHORT);
	ck_assert_uint_le(hit("manager", SIGKILL, 1), NSHORT);
	/* Stopped first, so what it holds is counted before it dies. */
	worker = pid_of("worker");
	ck_assert_int_eq(kill(worker, SIGSTOP), 0);
	held = client_sockets(worker);
	ck_assert_uint_le(hit_pid("worker", worker, SIGKILL, 2), (unsigned long)held);
	ck_assert(h_log_has(&w, "listener (killed: SIGKILL)"));
	ck_assert(h_log_has(&w, "manager (killed: SIGKILL)"));
	ck_assert(h_log_has(&w, "worker (killed: SIGKILL)"));
	finish();
}
END_TEST

START_TEST(test_sigstop_each_role)
{
	start_under_load(NULL);
	h_expect_lost(&w, 3, 3);
	ck_assert_uint_le(hit("listener", SIGSTOP, 1), NSHORT); /* as a kill -9 */
	ck_assert_uint_le(hit("worker", SIGSTOP, 2), NKEEP + NSHORT);
	ck_assert_uint_le(hit("manager", SIGSTOP, 1), NKEEP + NSHORT);
	ck_assert(h_log_has(&w, "listener (hung: no heartbeat for"));
	ck_assert(h_log_has(&w, "worker (hung: no heartbeat for"));
	ck_assert(h_log_has(&w, "manager (hung: no heartbeat for"));
	finish();
}
END_TEST

/* Run wrk in the background; its output goes to a file in the test dir. */
static pid_t start_wrk(const char *out, int seconds)
{
	char url[64], dur[16];
	pid_t pid;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/a.txt", w.port);
	snprintf(dur, sizeof(dur), "%ds", seconds);
	if ((pid = fork()) == 0) {
		FILE *f = freopen(out, "w", stdout);

		(void)f;
		dup2(1, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("wrk", "wrk", "-t1", "-c8", "-d", dur, url, (char *)NULL);
		printf("cannot run wrk: install Debian's wrk package\n");
		_exit(127);
	}
	return pid;
}

static char *slurp_file(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

START_TEST(test_graceful_restarts_under_wrk_lose_nothing)
{
	char out[PATH_MAX + 16], line[3][96];
	const char *roles[3] = {"listener", "manager", "worker"};
	const char *text;
	int status;
	pid_t wrk;

	start_under_load(NULL);
	snprintf(out, sizeof(out), "%s/wrk.txt", w.dir);
	wrk = start_wrk(out, 8);
	for (int i = 0; i < 3; i++) {
		pid_t old = pid_of(roles[i]);

		ck_assert_uint_eq(hit_pid(roles[i], old, SIGTERM, i == 2 ? 2 : 1), 0);
		snprintf(line[i], sizeof(line[i]), "%s %d finished draining (exit 0)", roles[i],
		    (int)old);
	}
	ck_assert_int_eq(waitpid(wrk, &status, 0), wrk);
	text = slurp_file(out);
	printf("wrk during graceful restarts:\n%s", text);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "wrk failed: %s", text);
	ck_assert_ptr_nonnull(strstr(text, "Requests/sec"));
	ck_assert_msg(strstr(text, "Socket errors") == NULL, "wrk saw socket errors");
	ck_assert_msg(strstr(text, "Non-2xx") == NULL, "wrk saw non-2xx answers");
	ck_assert_uint_eq(l.failed, 0);
	/* Each old process drained and exited cleanly (the worker's once its clients left). */
	for (int i = 0; i < 3; i++)
		ck_assert_msg(h_wait_log(&w, line[i], 10000), "no '%s'", line[i]);
	finish();
}
END_TEST

START_TEST(test_kill9_daemon_leaves_nothing)
{
	char extra[64];
	uint16_t port;

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	port = w.port;
	ck_assert_int_eq(kill(w.pid, SIGKILL), 0);
	ck_assert_msg(h_all_gone(&w, 2000), "descendants still alive 2 s after the daemon died");
	h_cleanup(&w);
	/* A new wsd binds the same port at once. */
	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	snprintf(extra, sizeof(extra), "[server]\nlisten = 127.0.0.1:%u\n", port);
	h_start(&w, extra);
	ck_assert_uint_eq(w.port, port);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * The whole server stalls at once (the machine was busy, or someone
 * pressed Ctrl-Z): when it runs again, no healthy process is taken for hung.
 */
START_TEST(test_whole_server_stall_kills_nothing)
{
	start_under_load(NULL);
	ck_assert_int_eq(kill(-w.pid, SIGSTOP), 0);
	poll(NULL, 0, 1200); /* the stall itself: twice the hang threshold */
	ck_assert_int_eq(kill(-w.pid, SIGCONT), 0);
	ck_assert(load_wait_more(&l, 200, 10000));
	ck_assert_uint_eq(l.failed, 0);
	finish();
}
END_TEST

/* Send a request on each of n new connections; no answer is read yet. */
static void send_waiting(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = h_connect(&w);
		ck_assert_int_eq(h_send(fds[i],
		                     "GET /a.txt HTTP/1.1\r\nHost: x\r\n"
		                     "Connection: close\r\n\r\n"),
		    0);
	}
}

static void expect_answered(int *fds, int n)
{
	struct h_response r;

	for (int i = 0; i < n; i++) {
		ck_assert_msg(h_read_response(fds[i], &r, 0) == 0, "waiting request %d lost", i);
		ck_assert_int_eq(r.status, 200);
		ck_assert_str_eq(r.body, BODY);
		h_response_free(&r);
		close(fds[i]);
	}
}

/* One worker, and not *arg (the old manager's, which drains and exits). */
static int one_new_worker(void *arg)
{
	pid_t pid;

	return h_count_role(&w, "worker", &pid, 1) == 1 && pid != *(pid_t *)arg;
}

/*
 * Connections that wait - in the listener channel while every worker is
 * full, or in the channel of a worker that dies - survive a graceful
 * manager restart and a worker crash.
 */
START_TEST(test_waiting_connections_survive)
{
	struct h_response r;
	int busy, fds[3];
	pid_t worker, old;

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, "[pool]\nmin = 1\nmax = 1\nmax_workload = 1\n");
	/* The killed worker; under the sanitizers, also the old manager's draining worker
	 * when LeakSanitizer's exit scan keeps it silent past the hang threshold. */
	h_expect_lost(&w, 1, h_bound_ms(1) == 1 ? 1 : 2);
	/* One keep-alive connection fills the only worker. */
	busy = h_connect(&w);
	ck_assert_int_eq(h_send(busy, "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(busy, &r, 0), 0);
	h_response_free(&r);
	send_waiting(fds, 3);
	old = pid_of("worker");
	ck_assert_int_eq(kill(pid_of("manager"), SIGTERM), 0);
	expect_answered(fds, 3);
	close(busy);

	/* Now requests queued to a worker that is stopped, then killed: the new manager's. */
	ck_assert_msg(h_wait_until(one_new_worker, &old, 10000), "the old worker did not exit");
	worker = pid_of("worker");
	ck_assert_int_eq(kill(worker, SIGSTOP), 0);
	send_waiting(fds, 1);
	ck_assert_int_eq(kill(worker, SIGKILL), 0);
	expect_answered(fds, 1);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* One GET on a new connection: 1 when it is answered 200 with the body. */
static int get_ok(void)
{
	struct h_response r;
	int ok = h_get(&w, "GET", "/a.txt", &r) == 0 && r.status == 200 && r.body &&
	    strcmp(r.body, BODY) == 0;

	h_response_free(&r);
	return ok;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * A manager that had been serving is replaced at once, however often it is
 * killed: the back-off is for crash loops. Each kill is timed to the first
 * 200 on a new connection; each manager serves over a second first.
 */
START_TEST(test_manager_kills_recover_fast)
{
	uint64_t ms[8], t0;

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	h_expect_lost(&w, 8, 8);
	for (int i = 0; i < 8; i++) {
		/* Served for more than SV_SERVED_MS (1 s) since it was READY. */
		poll(NULL, 0, 1200);
		ck_assert_int_eq(kill(pid_of("manager"), SIGKILL), 0);
		t0 = h_now_ms();
		while (!get_ok())
			ck_assert_msg(h_now_ms() - t0 < 10000, "no answer after kill %d", i + 1);
		ms[i] = h_now_ms() - t0;
		ck_assert_msg(ms[i] <= (uint64_t)h_bound_ms(1000),
		    "kill %d: first 200 after %llu ms", i + 1, (unsigned long long)ms[i]);
	}
	ck_assert(h_log_has(&w, "restarting manager in 0 ms (restart 8)"));
	qsort(ms, 8, sizeof(ms[0]), cmp_u64);
	printf("manager kill -9, 8 times: first 200 after %llu ms median, %llu ms max\n",
	    (unsigned long long)(ms[3] + ms[4]) / 2, (unsigned long long)ms[7]);
	fflush(stdout);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#define BIG (48 << 20) /* far more than the socket buffers hold */

/* A file of BIG bytes, each byte its offset's low bits, so a gap shows. */
static void write_big(void)
{
	char *buf = malloc(BIG);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (char)(i * 7 + (i >> 12));
	h_write_file(&w, "big.bin", buf, BIG);
	free(buf);
}

/* Connect with a small receive buffer, ask for big.bin, read its head and some body. */
static int start_download(void)
{
	char buf[65536];
	int fd, small = 65536;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(w.port)};
	struct timeval tv = {10, 0};

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(h_send(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_gt(recv(fd, buf, sizeof(buf), MSG_WAITALL), 0);
	return fd;
}

/* Bytes read until EOF or error, the head included. */
static size_t read_rest(int fd)
{
	static char buf[1 << 20];
	size_t total = 0;
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		total += (size_t)n;
	return total;
}

/*
 * A manager crash cuts no download: its workers, re-parented to the
 * daemon, finish within server.shutdown_timeout (5 s here), not 1 s.
 */
START_TEST(test_manager_crash_keeps_downloads)
{
	int fd;

	h_init(&w);
	write_big();
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	h_expect_lost(&w, 1, 1);
	fd = start_download();
	ck_assert_int_eq(kill(pid_of("manager"), SIGKILL), 0);
	ck_assert(h_wait_log(&w, "manager is gone, finishing in-flight requests", 5000));
	poll(NULL, 0, 1500); /* the client stalls past the old 1 s grace */
	ck_assert_uint_ge(read_rest(fd) + 65536, (size_t)BIG);
	ck_assert(h_log_has(&w, "manager is gone, finishing in-flight requests within 5000 ms"));
	close(fd);
	ck_assert(get_ok());
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static int pids_gone(void *arg)
{
	const pid_t *p = arg;

	for (; *p > 0; p++)
		if (kill(*p, 0) == 0 || errno != ESRCH)
			return 0;
	return 1;
}

/*
 * A manager killed: each of its workers learns it twice (PR_SET_PDEATHSIG's
 * SIGTERM and end-of-file on the channel) and says it once. A download
 * keeps one of them alive long enough to see both.
 */
START_TEST(test_manager_gone_said_once)
{
	pid_t old[3] = {0};
	char line[96];
	int fd;

	h_init(&w);
	write_big();
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, POOL_PINNED);
	h_expect_lost(&w, 1, 1);
	ck_assert_int_eq(h_count_role(&w, "worker", old, 2), 2);
	fd = start_download();
	ck_assert_int_eq(kill(pid_of("manager"), SIGKILL), 0);
	ck_assert(h_wait_log(&w, "manager is gone, finishing in-flight requests", 5000));
	poll(NULL, 0, 300); /* the download holds its worker: both notices reach it */
	ck_assert_uint_ge(read_rest(fd) + 65536, (size_t)BIG);
	close(fd);
	ck_assert_msg(h_wait_until(pids_gone, old, h_bound_ms(10000)), "old workers still run");
	for (int i = 0; i < 2; i++) {
		snprintf(line, sizeof(line), "worker[%d]: manager is gone", (int)old[i]);
		ck_assert_msg(h_log_count(&w, line) == 1, "'%s' %d times in %s", line,
		    h_log_count(&w, line), w.log);
	}
	ck_assert(get_ok());
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Stop the daemon and wait for its outcome line; the log stays for the test to read. */
static void stop_and_wait_outcome(void)
{
	h_stop_begin(&w);
	ck_assert_msg(h_wait_log(&w, "stop outcome:", 20000), "no stop outcome in %s", w.log);
}

/*
 * A client holding a download past server.shutdown_timeout: its worker
 * closes it at the drain deadline, and the stop outcome says so.
 */
START_TEST(test_stop_counts_cut_downloads)
{
	int fd;

	h_init(&w);
	write_big();
	h_start(&w, "[server]\nshutdown_timeout = 1s\n");
	fd = start_download();
	stop_and_wait_outcome();
	ck_assert_uint_lt(read_rest(fd), (size_t)BIG);
	close(fd);
	/* Under the sanitizers exiting is slow: the manager may end after SIGTERM. */
	ck_assert(h_log_has(&w, "(exit 0), 1 connection closed at the drain deadline"));
	ck_assert(h_log_has(&w, "0 killed, 0 failed; 1 connection closed at the drain deadline"));
	ck_assert(h_log_has(&w, "drain deadline passed with 1 connection open, closing it"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * A role that cannot drain (stopped; hang detection set far off): SIGTERM
 * after server.shutdown_timeout, SIGKILL a second later, and the stop ends.
 */
START_TEST(test_stop_escalates_to_sigkill)
{
	char line[96];
	pid_t manager;

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, "[server]\nshutdown_timeout = 1s\n[heartbeat]\ninterval = 1s\nmisses = 30\n");
	manager = pid_of("manager");
	ck_assert_int_eq(kill(manager, SIGSTOP), 0);
	stop_and_wait_outcome();
	ck_assert(h_log_has(&w, "shutdown_timeout passed: SIGTERM to what is left"));
	ck_assert(h_log_has(&w, "children still running after SIGTERM: SIGKILL"));
	snprintf(
	    line, sizeof(line), "manager %d stopped by SIGKILL (killed: SIGKILL)", (int)manager);
	ck_assert_msg(h_log_has(&w, line), "no '%s'", line);
	ck_assert(h_log_has(&w,
	    "stop outcome: 1 stopped gracefully, 0 after SIGTERM, 1 killed, "
	    "0 failed; 0 connections closed at the drain deadline"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* SIGUSR2: the daemon logs its table, a row per role. */
START_TEST(test_sigusr2_logs_table)
{
	char row[2][96];

	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	/* As daemon.c's log_table writes them. */
	snprintf(row[0], sizeof(row[0]), "%-9s %6d  %-8s ", "listener", (int)pid_of("listener"),
	    "running");
	snprintf(row[1], sizeof(row[1]), "%-9s %6d  %-8s ", "manager", (int)pid_of("manager"),
	    "running");
	ck_assert_int_eq(kill(w.pid, SIGUSR2), 0);
	ck_assert(h_wait_log(&w, "role       pid     state     up(s)  last-hb(ms)", 5000));
	for (int i = 0; i < 2; i++)
		ck_assert_msg(h_wait_log(&w, row[i], 2000), "no row '%s'", row[i]);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#ifdef WSD_FAULTS
/* Workers that take 1.5 s to start - over interval x misses - are not taken for hung. */
START_TEST(test_slow_start_is_not_a_hang)
{
	char fault[PATH_MAX + 16];

	h_init(&w);
	snprintf(fault, sizeof(fault), "%s/fault", w.dir);
	setenv("WSD_FAULT_FILE", fault, 1);
	h_write_text(fault, "worker slow 1500\n");
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	ck_assert(get_ok());
	unlink(fault);
	unsetenv("WSD_FAULT_FILE");
	ck_assert_int_eq(h_stop(&w), 0); /* and no lost child */
}
END_TEST

/* Past heartbeat.startup_timeout: "did not start", and the start-up failures back off. */
START_TEST(test_no_start_is_a_startup_failure)
{
	char fault[PATH_MAX + 16];

	h_init(&w);
	snprintf(fault, sizeof(fault), "%s/fault", w.dir);
	setenv("WSD_FAULT_FILE", fault, 1);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, "[pool]\nmin = 1\n[heartbeat]\nstartup_timeout = 1s\n");
	h_expect_lost(&w, 2, 100);
	h_write_text(fault, "worker slow 30000\n");
	ck_assert_int_eq(kill(pid_of("worker"), SIGKILL), 0);
	ck_assert(h_wait_log(&w, "worker (did not start: no heartbeat", 10000));
	ck_assert(h_wait_log(&w, "restarting worker in 100 ms", 10000));
	unlink(fault);
	while (!get_ok())
		poll(NULL, 0, 50);
	unsetenv("WSD_FAULT_FILE");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_crash_loop_backs_off_and_recovers)
{
	static const char *const steps[] = {
	    "restarting listener in 0 ms (restart 1)",
	    "restarting listener in 100 ms (restart 2)",
	    "restarting listener in 200 ms (restart 3)",
	    "restarting listener in 400 ms (restart 4)",
	    "restarting listener in 800 ms (restart 5)",
	};
	char fault[PATH_MAX + 16];

	h_init(&w);
	snprintf(fault, sizeof(fault), "%s/fault", w.dir);
	setenv("WSD_FAULT_FILE", fault, 1);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, NULL);
	h_expect_lost(&w, 5, 1000);
	h_write_text(fault, "listener\n");
	ck_assert_int_eq(kill(pid_of("listener"), SIGKILL), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		ck_assert_msg(h_wait_log(&w, steps[i], 10000), "no '%s'", steps[i]);
	ck_assert(h_log_has(&w, "listener (crash: SIGABRT"));
	/* Remove the fault: the next restart sticks and the server answers. */
	unlink(fault);
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), 1, 0);
	ck_assert_msg(load_wait_more(&l, 50, 15000), "no recovery after the fault was removed");
	unsetenv("WSD_FAULT_FILE");
	finish();
}
END_TEST
#endif

int main(void)
{
	Suite *s = suite_create("supervise");
	TCase *tc = tcase_create("supervise");
	SRunner *sr;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_kill9_each_role);
	tcase_add_test(tc, test_sigstop_each_role);
	tcase_add_test(tc, test_graceful_restarts_under_wrk_lose_nothing);
	tcase_add_test(tc, test_kill9_daemon_leaves_nothing);
	tcase_add_test(tc, test_waiting_connections_survive);
	tcase_add_test(tc, test_whole_server_stall_kills_nothing);
	tcase_add_test(tc, test_manager_kills_recover_fast);
	tcase_add_test(tc, test_manager_crash_keeps_downloads);
	tcase_add_test(tc, test_manager_gone_said_once);
	tcase_add_test(tc, test_stop_counts_cut_downloads);
	tcase_add_test(tc, test_stop_escalates_to_sigkill);
	tcase_add_test(tc, test_sigusr2_logs_table);
#ifdef WSD_FAULTS
	tcase_add_test(tc, test_slow_start_is_not_a_hang);
	tcase_add_test(tc, test_no_start_is_a_startup_failure);
	tcase_add_test(tc, test_crash_loop_backs_off_and_recovers);
#endif
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_VERBOSE);
}
