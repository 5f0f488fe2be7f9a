/*
 * How connections flow under pressure: a stop serves what waits in the
 * kernel backlog, back-pressure from full channels loses nothing, and
 * descriptor limits (RLIMIT_NOFILE, descriptors in flight) lose nothing.
 * Many clients at once on one thread: non-blocking sockets and poll.
 */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define MAXCONN 2000
#define REQUEST "GET /f HTTP/1.1\r\nHost: flow\r\nConnection: close\r\n\r\n"
#define BODY "flow test body\n"

static struct wsd w;

/* ---- many clients at once ---- */

enum cstate { C_CONNECTING, C_SENT, C_OK, C_BAD, C_EMPTY, C_RESET };

struct client {
	int fd;
	enum cstate st;
	size_t len;
	char head[16]; /* the start of the answer: enough for the status line */
};

struct burst {
	int n;
	struct client c[MAXCONN];
	int count[C_RESET + 1];
};

static struct burst b;

static int dial(uint16_t port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
	return fd;
}

/* Connected: send the whole request (small, one send). */
static void client_send(struct client *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	ck_assert_int_eq(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
	ck_assert_msg(err == 0, "connect: %s", strerror(err));
	ck_assert_int_eq(send(c->fd, REQUEST, strlen(REQUEST), MSG_NOSIGNAL), strlen(REQUEST));
	c->st = C_SENT;
}

static void client_end(struct client *c, enum cstate st)
{
	close(c->fd);
	c->fd = -1;
	c->st = st;
	b.count[st]++;
}

/* Read what is there; at end of file, judge the answer. */
static void client_read(struct client *c)
{
	char buf[4096];
	ssize_t n;

	while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
		size_t k = (size_t)n < sizeof(c->head) - c->len ? (size_t)n :
		                                                  sizeof(c->head) - c->len;

		memcpy(c->head + c->len, buf, k);
		c->len += k;
	}
	if (n == -1 && errno == EAGAIN)
		return;
	if (n == -1)
		client_end(c, errno == ECONNRESET ? C_RESET : C_BAD);
	else if (c->len == 0)
		client_end(c, C_EMPTY);
	else
		client_end(c, memcmp(c->head, "HTTP/1.1 200 ", 13) == 0 ? C_OK : C_BAD);
}

/* One round of poll over every client in state st; 0 when none is left in it. */
static int burst_round(enum cstate st, int ms)
{
	static struct pollfd p[MAXCONN];
	static int idx[MAXCONN];
	int np = 0;

	for (int i = 0; i < b.n; i++)
		if (b.c[i].st == st) {
			p[np] = (struct pollfd){
			    b.c[i].fd, st == C_CONNECTING ? POLLOUT : POLLIN, 0};
			idx[np++] = i;
		}
	if (np == 0)
		return 0;
	ck_assert_int_ge(poll(p, (nfds_t)np, ms), 0);
	for (int k = 0; k < np; k++) {
		if (p[k].revents == 0)
			continue;
		if (st == C_CONNECTING)
			client_send(&b.c[idx[k]]);
		else
			client_read(&b.c[idx[k]]);
	}
	return 1;
}

/* Open n connections and send each its request; all connected and sent within the bound. */
static void burst_open(int n)
{
	uint64_t end = h_now_ms() + (uint64_t)h_bound_ms(10000);

	memset(&b, 0, sizeof(b));
	b.n = n;
	for (int i = 0; i < n; i++)
		b.c[i] = (struct client){.fd = dial(w.port), .st = C_CONNECTING};
	while (burst_round(C_CONNECTING, 50))
		ck_assert_msg(h_now_ms() < end, "not every client connected in time");
}

/* Until every client has its answer (or end of file), within timeout_ms. */
static void burst_collect(int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;

	while (burst_round(C_SENT, 50))
		if (h_now_ms() >= end)
			break;
	ck_assert_msg(b.count[C_SENT] == 0 && !burst_round(C_SENT, 0),
	    "clients still waiting: %d answered, %d bad, %d closed empty, %d reset", b.count[C_OK],
	    b.count[C_BAD], b.count[C_EMPTY], b.count[C_RESET]);
}

static void expect_all_answered(int n)
{
	ck_assert_msg(b.count[C_OK] == n, "%d of %d answered: %d bad, %d closed empty, %d reset",
	    b.count[C_OK], n, b.count[C_BAD], b.count[C_EMPTY], b.count[C_RESET]);
}

/* ---- a server with a lower descriptor limit ---- */

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&s, &len, '\0', f) == -1) {
		free(s);
		s = NULL;
	}
	fclose(f);
	return s;
}

static char *slurp_log(void) { return slurp(w.log); }

static int port_in_log(void)
{
	char *s = slurp_log(), *p;
	int port = 0;

	if (s && (p = strstr(s, "ready: serving")) && (p = strstr(p, "http://127.0.0.1:")))
		port = atoi(p + strlen("http://127.0.0.1:"));
	free(s);
	return port;
}

static int ready(void *arg) { return port_in_log() > 0; }

/*
 * h_start with RLIMIT_NOFILE set in the child before exec (soft = hard:
 * the daemon's raise to the hard limit changes nothing). The configuration
 * is the harness's own plus extra.
 */
static void start_limits(const char *extra, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {soft, hard};
	char err[PATH_MAX + 32];
	FILE *f = fopen(w.conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
	    "[server]\nlisten = 127.0.0.1:0\nroot = %s\nshutdown_timeout = 5s\n"
	    "[log]\nfile = %s\nlevel = debug\n[control]\nsocket = %s\n%s\n",
	    w.root, w.log, w.sock, extra);
	fclose(f);
	snprintf(err, sizeof(err), "%s/stderr.txt", w.dir);
	if ((w.pid = fork()) == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(126);
		execl(WSD_BIN, "wsd", "-c", w.conf, (char *)NULL);
		_exit(127);
	}
	ck_assert_int_gt(w.pid, 0);
	ck_assert_msg(
	    h_wait_until(ready, NULL, 15000), "wsd did not become ready; log in %s", w.log);
	w.port = (uint16_t)port_in_log();
	h_count_role(&w, "", NULL, 0);
}

static void start_limited(const char *extra, rlim_t nofile) { start_limits(extra, nofile, nofile); }

static void setup_root(void)
{
	h_init(&w);
	h_write_file(&w, "f", BODY, strlen(BODY));
}

/* ---- stopping ---- */

static int exit_status = -1;

static int daemon_gone(void *arg) { return waitpid(w.pid, &exit_status, WNOHANG) == w.pid; }

/*
 * After our own SIGTERM: wait for the daemon's exit status and for every
 * process to be gone (h_stop would signal again, and a second SIGTERM in
 * the instant after the daemon's handlers are gone kills it).
 */
/* Client sockets the one worker holds: its sockets past its channels (fds 0..6). */
static int worker_clients(void *arg)
{
	pid_t pid;

	(void)arg;
	return h_count_role(&w, "worker", &pid, 1) == 1 && h_proc_sockets(pid, 6) > 0;
}

/* The hog's unfinished head is in the worker before anyone else connects. */
static int hog_connect(void)
{
	int hog = h_connect(&w);

	ck_assert_int_eq(h_send(hog, "GET /f HTTP/1.1\r\n"), 0);
	ck_assert_msg(h_wait_until(worker_clients, NULL, h_bound_ms(5000)),
	    "the hog never reached the worker");
	return hog;
}

static int wait_stopped(void)
{
	char path[PATH_MAX + 32], *err;

	ck_assert_msg(h_wait_until(daemon_gone, NULL, 20000), "wsd did not exit after SIGTERM");
	ck_assert_msg(h_all_gone(&w, 3000), "wsd left processes behind");
	ck_assert_msg(!h_log_has(&w, " fatal "), "fatal in log %s", w.log);
	snprintf(path, sizeof(path), "%s/stderr.txt", w.dir);
	err = slurp(path);
	ck_assert_msg(err == NULL || (!strstr(err, "Sanitizer") && !strstr(err, "runtime error")),
	    "sanitizer report in %s", path);
	free(err);
	return exit_status;
}

/* Stop, keeping the log for the checks that follow (then h_cleanup). */
static int stop_keep_log(void)
{
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	return wait_stopped();
}

/*
 * Every worker full, far more clients waiting than the listener channel
 * holds (the rest in the kernel backlog), all with their request sent
 * before the stop: every one of them is answered.
 */
START_TEST(test_stop_serves_the_backlog)
{
	int n = 1000;

	setup_root();
	h_start(&w, "[server]\nbacklog = 2048\n[pool]\nmin = 1\nmax = 1\nmax_workload = 1\n");
	burst_open(n);
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	burst_collect(h_bound_ms(20000));
	expect_all_answered(n);
	ck_assert_int_eq(wait_stopped(), 0);
	ck_assert(!h_log_has(&w, "dropped"));
	h_cleanup(&w);
}
END_TEST

/*
 * The worker is held by a client that sends nothing; the others wait
 * with their requests sent. When shutdown_timeout passes, the waiting
 * ones are closed with a FIN, never a reset.
 */
START_TEST(test_stop_timeout_closes_cleanly)
{
	int n = 400, hog;

	setup_root();
	h_start(&w,
	    "[server]\nshutdown_timeout = 1s\n[http]\nheader_timeout = 60s\n"
	    "[pool]\nmin = 1\nmax = 1\nmax_workload = 1\n");
	/* In the worker before the others come: an unfinished head holds it. */
	hog = hog_connect();
	burst_open(n);
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	burst_collect(h_bound_ms(10000));
	ck_assert_msg(b.count[C_RESET] == 0 && b.count[C_BAD] == 0,
	    "%d reset, %d bad, %d closed cleanly", b.count[C_RESET], b.count[C_BAD],
	    b.count[C_EMPTY]);
	ck_assert_int_eq(b.count[C_EMPTY], n);
	close(hog);
	ck_assert_int_eq(wait_stopped(), 0);
	ck_assert(h_log_has(&w, "closed 400 queued connections no worker took in time"));
	h_cleanup(&w);
}
END_TEST

/* ---- back-pressure ---- */

/* The number before what in the log ("waited N times for room in ..."); -1 if absent. */
static long waited(const char *what)
{
	char *s = slurp_log(), *p = s, *e;
	long n = -1;

	while (p && (p = strstr(p, "waited ")) != NULL) {
		long v = strtol(p + 7, &e, 10);

		p = e;
		if (strncmp(e, " time", 5) == 0)
			e += 5 + (e[5] == 's'); /* "1 time", "2 times" */
		if (strncmp(e, " for room in ", 13) == 0 &&
		    strncmp(e + 13, what, strlen(what)) == 0)
			n = v;
	}
	free(s);
	return n;
}

/* The kernel's accept queue of our listening socket, from /proc/net/tcp. */
static long accept_queue(void)
{
	char line[512], want[16];
	unsigned long rx = 0;
	long n = -1;
	FILE *f = fopen("/proc/net/tcp", "r");

	ck_assert_ptr_nonnull(f);
	snprintf(want, sizeof(want), ":%04X ", w.port);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want) && strstr(line, " 0A ") &&
		    sscanf(strstr(line, " 0A ") + 4, "%*x:%lx", &rx) == 1)
			n = (long)rx;
	fclose(f);
	return n;
}

struct settle {
	long last;
	int same; /* readings in a row, 100 ms apart, that found it unchanged */
};

/* Some connections wait in the backlog, and none moved for 300 ms: every channel is full. */
static int backlog_settled(void *arg)
{
	struct settle *st = arg;
	long now = accept_queue();

	st->same = now > 0 && now == st->last ? st->same + 1 : 0;
	st->last = now;
	if (st->same < 3)
		poll(NULL, 0, 100);
	return st->same >= 3;
}

/*
 * One worker taking two connections at a time and many clients at once:
 * the listener channel fills (the listener holds a connection and leaves
 * the rest in the backlog), and every request is still answered.
 */
START_TEST(test_backpressure_loses_nothing)
{
	int n = 1000;

	setup_root();
	h_start(&w, "[server]\nbacklog = 2048\n[pool]\nmin = 1\nmax = 1\nmax_workload = 2\n");
	burst_open(n);
	burst_collect(h_bound_ms(20000));
	expect_all_answered(n);
	ck_assert_int_eq(stop_keep_log(), 0);
	ck_assert(!h_log_has(&w, "dropped"));
	ck_assert_int_gt(waited("the channel"), 0);
	h_cleanup(&w);
}
END_TEST

/*
 * A worker that may take many but does not read its channel for a while
 * (stopped): the manager fills that channel and waits for room, the
 * listener channel and the backlog fill behind it; once the worker runs
 * again every request is answered.
 */
START_TEST(test_full_worker_channel_loses_nothing)
{
	int n = 1500;
	struct settle st = {-1, 0};
	pid_t wpid;

	setup_root();
	h_start(&w,
	    "[server]\nbacklog = 2048\n[heartbeat]\ninterval = 2s\nmisses = 15\n"
	    "[pool]\nmin = 1\nmax = 1\nmax_workload = 5000\n");
	/* misses = 15: held for as long as a loaded machine takes, the worker is not judged hung.
	 */
	ck_assert_int_eq(h_count_role(&w, "worker", &wpid, 1), 1);
	ck_assert_int_eq(kill(wpid, SIGSTOP), 0);
	burst_open(n);
	ck_assert(h_wait_until(backlog_settled, &st, h_bound_ms(5000)));
	ck_assert_int_eq(kill(wpid, SIGCONT), 0);
	burst_collect(h_bound_ms(20000));
	expect_all_answered(n);
	ck_assert_int_eq(stop_keep_log(), 0);
	ck_assert(!h_log_has(&w, "dropped"));
	ck_assert(!h_log_has(&w, "lost child"));
	ck_assert_int_gt(waited("a worker's channel"), 0);
	h_cleanup(&w);
}
END_TEST

/* ---- descriptor limits ---- */

/*
 * At a limit of 256 descriptors, 400 clients at once: more descriptors in
 * flight than the limit allows (ETOOMANYREFS), more connections than a
 * worker may hold; nothing is lost.
 */
START_TEST(test_fd_limit_256_loses_nothing)
{
	int n = 400;

	setup_root();
	start_limited("[pool]\nmin = 1\nmax = 1\n", 256);
	ck_assert(h_log_has(&w, "descriptor limit 256"));
	ck_assert(h_log_has(&w, "pool.max_workload 512 lowered to 96"));
	for (int round = 0; round < 3; round++) {
		burst_open(n);
		burst_collect(h_bound_ms(20000));
		expect_all_answered(n);
	}
	ck_assert_int_eq(stop_keep_log(), 0);
	ck_assert(!h_log_has(&w, "dropped"));
	ck_assert(!h_log_has(&w, "malformed"));
	h_cleanup(&w);
}
END_TEST

/* Started at a soft limit below the hard one, the daemon (and so every child) runs at the hard one.
 */
START_TEST(test_daemon_raises_soft_limit)
{
	struct h_response r;

	setup_root();
	start_limits("[pool]\nmin = 1\nmax = 1\n", 256, 512);
	ck_assert(h_log_has(&w, "descriptor limit 512"));
	ck_assert(h_log_has(&w, "pool.max_workload 512 lowered to 224"));
	ck_assert_int_eq(h_get(&w, "GET", "/f", &r), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * A stop at a limit of 256 with 600 clients waiting: the manager, taking
 * everything, comes near its own limit, pauses and reads on as it gives
 * connections out; every one is answered.
 */
START_TEST(test_fd_limit_256_stop_serves_the_backlog)
{
	int n = 600;
	pid_t wpid;

	setup_root();
	start_limited("[server]\nbacklog = 1024\n[heartbeat]\ninterval = 2s\nmisses = 15\n"
	              "[pool]\nmin = 1\nmax = 1\nmax_workload = 1\n",
	    256);
	/* Held, the worker serves none before the stop: all 600 wait for it (misses = 15: not
	 * judged hung meanwhile, however slow the machine - killed, it would leave the backlog
	 * to be closed by the stop). */
	ck_assert_int_eq(h_count_role(&w, "worker", &wpid, 1), 1);
	ck_assert_int_eq(kill(wpid, SIGSTOP), 0);
	burst_open(n);
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	ck_assert(h_wait_log(&w, "near the descriptor limit 256", h_bound_ms(5000)));
	ck_assert_int_eq(kill(wpid, SIGCONT), 0);
	burst_collect(h_bound_ms(20000));
	expect_all_answered(n);
	ck_assert_int_eq(wait_stopped(), 0);
	ck_assert(h_log_has(&w, "near the descriptor limit 256"));
	ck_assert(!h_log_has(&w, "dropped"));
	ck_assert(!h_log_has(&w, "malformed"));
	h_cleanup(&w);
}
END_TEST

/*
 * The same at shutdown_timeout with the worker held: the manager near its
 * limit, connections left in the listener channel and in the backlog -
 * all are closed with a FIN, none reset.
 */
START_TEST(test_fd_limit_256_stop_timeout_closes_cleanly)
{
	int n = 600, hog;

	setup_root();
	start_limited("[server]\nbacklog = 1024\nshutdown_timeout = 1s\n[http]\nheader_timeout = "
	              "60s\n[pool]\nmin = 1\nmax = 1\nmax_workload = 1\n",
	    256);
	hog = hog_connect();
	burst_open(n);
	ck_assert_int_eq(kill(w.pid, SIGTERM), 0);
	burst_collect(h_bound_ms(10000));
	ck_assert_msg(b.count[C_RESET] == 0 && b.count[C_BAD] == 0,
	    "%d reset, %d bad, %d closed cleanly", b.count[C_RESET], b.count[C_BAD],
	    b.count[C_EMPTY]);
	ck_assert_int_eq(b.count[C_EMPTY], n);
	close(hog);
	ck_assert_int_eq(wait_stopped(), 0);
	ck_assert(h_log_has(&w, "near the descriptor limit 256"));
	ck_assert(h_log_has(&w, "connections the manager did not take"));
	h_cleanup(&w);
}
END_TEST

/* The lowest descriptor number pid has free: with the soft limit there, accept fails. */
static int lowest_free_fd(pid_t pid)
{
	char path[64];
	char used[1024] = {0};
	struct dirent *e;
	DIR *d;
	int fd = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	ck_assert_ptr_nonnull(d = opendir(path));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) < (int)sizeof(used))
			used[atoi(e->d_name)] = 1;
	closedir(d);
	while (used[fd])
		fd++;
	return fd;
}

static int count_in_log(const char *needle)
{
	char *s = slurp_log(), *p = s;
	int n = 0;

	while (p && (p = strstr(p, needle)) != NULL) {
		n++;
		p++;
	}
	free(s);
	return n;
}

static int paused_twice(void *arg) { return count_in_log("accept paused") >= 2; }

/* The listener out of descriptors says so once, not every 100 ms, then sums up. */
START_TEST(test_emfile_pause_logged_once)
{
	struct rlimit was, tight;
	struct h_response r;
	pid_t lpid;
	int fd;

	setup_root();
	/* Our own user, so that prlimit needs no CAP_SYS_RESOURCE. */
	h_start(&w, "[server]\nuser = root\n");
	ck_assert_int_eq(h_count_role(&w, "listener", &lpid, 1), 1);
	ck_assert_int_eq(prlimit(lpid, RLIMIT_NOFILE, NULL, &was), 0);
	tight = (struct rlimit){(rlim_t)lowest_free_fd(lpid), was.rlim_max};
	ck_assert_int_eq(prlimit(lpid, RLIMIT_NOFILE, &tight, NULL), 0);
	fd = h_connect(&w);
	ck_assert_int_eq(h_send(fd, REQUEST), 0);
	ck_assert(h_wait_log(&w, "accept paused", h_bound_ms(2000)));
	/* Several pauses of 100 ms pass: still one line. */
	ck_assert(!h_wait_until(paused_twice, NULL, 600));
	ck_assert_int_eq(prlimit(lpid, RLIMIT_NOFILE, &was, NULL), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	ck_assert_int_eq(r.status, 200);
	h_response_free(&r);
	close(fd);
	ck_assert(h_wait_log(&w, "accepting again after", h_bound_ms(2000)));
	ck_assert_int_eq(count_in_log("accept paused"), 1);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

Suite *flow_suite(void)
{
	Suite *s = suite_create("flow");
	TCase *tc = tcase_create("flow");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stop_serves_the_backlog);
	tcase_add_test(tc, test_stop_timeout_closes_cleanly);
	tcase_add_test(tc, test_backpressure_loses_nothing);
	tcase_add_test(tc, test_full_worker_channel_loses_nothing);
	tcase_add_test(tc, test_fd_limit_256_loses_nothing);
	tcase_add_test(tc, test_daemon_raises_soft_limit);
	tcase_add_test(tc, test_fd_limit_256_stop_serves_the_backlog);
	tcase_add_test(tc, test_fd_limit_256_stop_timeout_closes_cleanly);
	tcase_add_test(tc, test_emfile_pause_logged_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(flow_suite());

	return check_run(sr, CK_NORMAL);
}
