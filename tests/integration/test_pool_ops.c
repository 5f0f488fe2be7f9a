/*
 * The pool operations, done to a real running wsd with the real wsctl:
 * scale (seen in status and in the processes, kept across a manager
 * restart), restart of one worker and of every worker under client load
 * (nothing lost), drain, the refusals, the busy rule, and a manager
 * killed while a restart waits (an error, never a hang).
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "load.h"

#define BODY "pooled\n"
#define BIG (48 << 20) /* far more than the socket buffers hold */
#define CTL_MAXARGS 16

static struct wsd w;
static struct load l;

/* argv for wsctl -s SOCK [--json] args... (NULL-ended va_list). */
static void ctl_argv(char **argv, int json, va_list ap)
{
	int n = 0;
	char *a;

	argv[n++] = WSCTL_BIN;
	argv[n++] = "-s";
	argv[n++] = w.sock;
	if (json)
		argv[n++] = "--json";
	while ((a = va_arg(ap, char *)) != NULL && n < CTL_MAXARGS - 1)
		argv[n++] = a;
	argv[n] = NULL;
}

/* Run wsctl to the end; its exit code, its output in out. */
static int ctl(char *out, size_t len, int json, ...)
{
	char *argv[CTL_MAXARGS];
	va_list ap;
	int st;

	va_start(ap, json);
	ctl_argv(argv, json, ap);
	va_end(ap);
	st = h_run(argv, out, len, 30000);
	ck_assert_msg(WIFEXITED(st), "wsctl %s did not finish", argv[4]);
	return WEXITSTATUS(st);
}

/* Start wsctl in the background, its output into path. */
static pid_t ctl_bg(const char *path, ...)
{
	char *argv[CTL_MAXARGS];
	va_list ap;
	pid_t pid;

	va_start(ap, path);
	ctl_argv(argv, 1, ap);
	va_end(ap);
	if ((pid = fork()) == 0) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	return pid;
}

/* Its exit code, or -1 if it had not finished within timeout_ms (then killed). */
static int ctl_bg_wait(pid_t pid, int timeout_ms)
{
	uint64_t end = h_now_ms() + (uint64_t)timeout_ms;
	int st;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (h_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		poll(NULL, 0, 10);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static cJSON *ctl_json(const char *what, ...)
{
	static char out[65536];
	char *argv[CTL_MAXARGS];
	cJSON *j;
	va_list ap;
	int st;

	va_start(ap, what);
	ctl_argv(argv, 1, ap);
	va_end(ap);
	st = h_run(argv, out, sizeof(out), 30000);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", what, out);
	ck_assert_ptr_nonnull(j = cJSON_Parse(out));
	return j;
}

static int num(const cJSON *o, const char *path)
{
	char buf[128], *save, *k;
	const cJSON *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = cJSON_GetObjectItemCaseSensitive(v, k);
	ck_assert_msg(cJSON_IsNumber(v) || cJSON_IsBool(v), "no %s", path);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : v->valueint;
}

static int workers(void) { return h_count_role(&w, "worker", NULL, 0); }

struct count {
	int want;
};

static int count_pred(void *arg) { return workers() == ((struct count *)arg)->want; }

static void wait_workers(int n)
{
	struct count c = {n};

	ck_assert_msg(h_wait_until(count_pred, &c, 15000), "%d workers, not %d", workers(), n);
}

static int is_worker(pid_t pid)
{
	pid_t pids[64];
	int n = h_count_role(&w, "worker", pids, 64);

	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return 1;
	return 0;
}

static void start(const char *extra)
{
	h_init(&w);
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, extra);
}

/* Scale up and down: the reply, status (configured and effective), the processes, the event. */
START_TEST(test_scale_up_and_down)
{
	char out[8192];
	cJSON *j;

	start("[pool]\nmin = 1\nmax = 2\nidle_timeout = 1h\n");
	wait_workers(1);
	j = ctl_json("scale", "scale", "--min", "3", "--max", "4", NULL);
	ck_assert_int_eq(num(j, "old.min"), 1);
	ck_assert_int_eq(num(j, "old.max"), 2);
	ck_assert_int_eq(num(j, "new.min"), 3);
	ck_assert_int_eq(num(j, "new.max"), 4);
	cJSON_Delete(j);
	/* Applied when the reply comes: the workers are forked (exec'd soon after). */
	wait_workers(3);
	j = ctl_json("status", "status", NULL);
	ck_assert_int_eq(num(j, "pool.configured.min"), 1);
	ck_assert_int_eq(num(j, "pool.configured.max"), 2);
	ck_assert_int_eq(num(j, "pool.effective.min"), 3);
	ck_assert_int_eq(num(j, "pool.effective.max"), 4);
	cJSON_Delete(j);
	/* One bound alone: the other keeps its value in effect. */
	j = ctl_json("scale", "scale", "--max", "6", NULL);
	ck_assert_int_eq(num(j, "new.min"), 3);
	ck_assert_int_eq(num(j, "new.max"), 6);
	cJSON_Delete(j);
	/* Down: retired by draining. */
	j = ctl_json("scale", "scale", "--min", "1", "--max", "2", NULL);
	cJSON_Delete(j);
	wait_workers(2);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "events", NULL), 0);
	ck_assert_msg(strstr(out, "1..2 -> 3..4") && strstr(out, "3..6 -> 1..2"), "%s", out);
	/* Out of bounds: refused, nothing changed. */
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "scale", "--max", "300", NULL), 1);
	ck_assert_msg(strstr(out, "pool.limit") != NULL, "%s", out);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "scale", "--min", "3", NULL), 1);
	j = ctl_json("status", "status", NULL);
	ck_assert_int_eq(num(j, "pool.effective.min"), 1);
	ck_assert_int_eq(num(j, "pool.effective.max"), 2);
	cJSON_Delete(j);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The daemon holds the bounds: a restarted manager starts with them. */
START_TEST(test_scale_kept_across_manager_restart)
{
	pid_t old[4];
	cJSON *j;

	start("[pool]\nmin = 1\nmax = 2\nidle_timeout = 1h\n");
	cJSON_Delete(ctl_json("scale", "scale", "--min", "3", "--max", "5", NULL));
	wait_workers(3);
	ck_assert_int_eq(h_count_role(&w, "manager", old, 4), 1);
	j = ctl_json("restart", "restart", "manager", NULL);
	ck_assert_int_eq(num(j, "old_pid"), old[0]);
	cJSON_Delete(j);
	ck_assert(h_wait_log(&w, "pool ready: 3 workers", 10000));
	wait_workers(3);
	j = ctl_json("status", "status", NULL);
	ck_assert_int_eq(num(j, "pool.effective.min"), 3);
	ck_assert_int_eq(num(j, "pool.effective.max"), 5);
	cJSON_Delete(j);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/*
 * A reload keeps the bounds of a scale unless the file's own [pool] min or
 * max changed: then the file's apply.
 */
START_TEST(test_scale_kept_across_reload)
{
	static const char pool[] = "[pool]\nmin = 1\nmax = 2\nidle_timeout = 1h\n";
	char out[8192];
	cJSON *j;

	start(pool);
	cJSON_Delete(ctl_json("scale", "scale", "--min", "3", "--max", "5", NULL));
	wait_workers(3);
	h_write_conf(&w,
	    "[pool]\nmin = 1\nmax = 2\nidle_timeout = 1h\n"
	    "[http]\nkeepalive_timeout = 20s\n");
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "reload", NULL), 0);
	j = ctl_json("status", "status", NULL);
	ck_assert_int_eq(num(j, "pool.effective.min"), 3);
	ck_assert_int_eq(num(j, "pool.effective.max"), 5);
	cJSON_Delete(j);
	wait_workers(3);
	h_write_conf(&w,
	    "[pool]\nmin = 2\nmax = 4\nidle_timeout = 1h\n"
	    "[http]\nkeepalive_timeout = 20s\n");
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "reload", NULL), 0);
	j = ctl_json("status", "status", NULL);
	ck_assert_int_eq(num(j, "pool.configured.min"), 2);
	ck_assert_int_eq(num(j, "pool.effective.min"), 2);
	ck_assert_int_eq(num(j, "pool.effective.max"), 4);
	cJSON_Delete(j);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static void pid_str(char *buf, size_t len, pid_t pid) { snprintf(buf, len, "%d", (int)pid); }

/* restart worker PID, then restart workers, under load: the new pids reported, nothing lost. */
START_TEST(test_restarts_under_load_lose_nothing)
{
	pid_t pids[8];
	char arg[16], want[64], out[16384];
	cJSON *j, *list;

	start("[pool]\nmin = 2\nmax = 2\nidle_timeout = 1h\n");
	wait_workers(2);
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), 3, 2);
	ck_assert_msg(load_wait_more(&l, 200, 10000), "no load got through");
	ck_assert_int_eq(h_count_role(&w, "worker", pids, 8), 2);
	pid_str(arg, sizeof(arg), pids[0]);
	j = ctl_json("restart worker", "restart", "worker", arg, NULL);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "target")->valuestring, "worker");
	ck_assert_int_eq(num(j, "old_pid"), pids[0]);
	ck_assert(is_worker(num(j, "new_pid")));
	ck_assert(!is_worker(pids[0])); /* replied once the old one has exited */
	ck_assert_int_eq(num(j, "killed"), 0);
	cJSON_Delete(j);
	ck_assert_msg(load_wait_more(&l, 100, 10000), "no answers after the restart");
	snprintf(want, sizeof(want), "replaced %d in", (int)pids[0]);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "events", NULL), 0);
	ck_assert_msg(strstr(out, want), "%s", out);
	ck_assert_int_eq(h_count_role(&w, "worker", pids, 8), 2);
	for (int round = 0; round < 3; round++) {
		ck_assert_int_eq(h_count_role(&w, "worker", pids, 8), 2);
		j = ctl_json("restart workers", "restart", "workers", NULL);
		list = cJSON_GetObjectItem(j, "replaced");
		ck_assert_int_eq(cJSON_GetArraySize(list), 2);
		for (int i = 0; i < 2; i++) {
			const cJSON *r = cJSON_GetArrayItem(list, i);

			ck_assert(num(r, "old_pid") == pids[0] || num(r, "old_pid") == pids[1]);
			ck_assert(!is_worker(num(r, "old_pid")));
			ck_assert(is_worker(num(r, "new_pid")));
		}
		cJSON_Delete(j);
		ck_assert_msg(
		    load_wait_more(&l, 100, 10000), "no answers after the rolling restart");
	}
	load_stop(&l);
	ck_assert_msg(l.failed == 0, "%lu requests failed (%lu ok)", (unsigned long)l.failed,
	    (unsigned long)l.ok);
	ck_assert_int_eq(workers(), 2);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* drain PID: gone without a replacement, refused at min and for a pid not in the pool. */
START_TEST(test_drain_and_refusals)
{
	pid_t pids[8], lpid;
	char arg[16], out[4096];
	cJSON *j;

	start("[pool]\nmin = 1\nmax = 3\nidle_timeout = 1h\n");
	cJSON_Delete(ctl_json("scale", "scale", "--min", "2", NULL));
	wait_workers(2);
	cJSON_Delete(ctl_json("scale", "scale", "--min", "1", NULL));
	ck_assert_int_eq(h_count_role(&w, "worker", pids, 8), 2);
	pid_str(arg, sizeof(arg), pids[0]);
	j = ctl_json("drain", "drain", arg, NULL);
	ck_assert_int_eq(num(j, "pid"), pids[0]);
	ck_assert_int_eq(num(j, "killed"), 0);
	cJSON_Delete(j);
	ck_assert(!is_worker(pids[0]));
	ck_assert_int_eq(workers(), 1);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "events", NULL), 0);
	ck_assert_msg(strstr(out, "drained") && strstr(out, "asked, in"), "%s", out);
	/* At min: refused, the worker serves on. */
	pid_str(arg, sizeof(arg), pids[1]);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "drain", arg, NULL), 1);
	ck_assert_msg(strstr(out, "-32002") && strstr(out, "pool min"), "%s", out);
	ck_assert(is_worker(pids[1]));
	/* A pid that is not in the pool table: the listener's. */
	ck_assert_int_eq(h_count_role(&w, "listener", &lpid, 1), 1);
	pid_str(arg, sizeof(arg), lpid);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "restart", "worker", arg, NULL), 1);
	ck_assert_msg(strstr(out, "not a running worker"), "%s", out);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "drain", arg, NULL), 1);
	ck_assert_msg(strstr(out, "not a running worker"), "%s", out);
	ck_assert_int_eq(h_count_role(&w, "listener", NULL, 0), 1);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static void write_big(void)
{
	char *buf = malloc(BIG);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < BIG; i++)
		buf[i] = (char)(i * 7 + (i >> 12));
	h_write_file(&w, "big.bin", buf, BIG);
	free(buf);
}

/* A client that holds its worker: asks for big.bin and stops reading. */
static int start_download(void)
{
	char buf[65536];
	int fd, small = 65536;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(w.port)};

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(h_send(fd, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_gt(recv(fd, buf, sizeof(buf), MSG_WAITALL), 0);
	return fd;
}

/* A worker that does not finish draining in time is killed, and the reply says so. */
START_TEST(test_restart_kills_at_timeout)
{
	pid_t pid;
	char arg[16];
	cJSON *j;
	int fd;

	h_init(&w);
	write_big();
	h_start(&w, "[pool]\nmin = 1\nmax = 1\n");
	fd = start_download();
	ck_assert_int_eq(h_count_role(&w, "worker", &pid, 1), 1);
	pid_str(arg, sizeof(arg), pid);
	j = ctl_json("restart worker", "restart", "worker", arg, "--timeout", "1", NULL);
	ck_assert_int_eq(num(j, "old_pid"), pid);
	ck_assert_int_eq(num(j, "killed"), 1);
	ck_assert(cJSON_GetObjectItem(j, "seconds")->valuedouble >= 0.9);
	cJSON_Delete(j);
	ck_assert(!is_worker(pid));
	close(fd);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static int manager_ready(void *arg)
{
	struct h_response r;
	int ok = h_get(&w, "GET", "/a.txt", &r) == 0 && r.status == 200;

	if (ok)
		h_response_free(&r);
	return ok;
}

/*
 * A long restart (a slow client holds the old worker) makes another
 * operation busy; the manager killed meanwhile ends the restart with an
 * error at once, never a hang.
 */
START_TEST(test_busy_then_manager_killed)
{
	char path[PATH_MAX + 16], out[4096];
	pid_t bg, mgr;
	FILE *f;
	size_t n;
	int fd;

	h_init(&w);
	write_big();
	h_write_file(&w, "a.txt", BODY, strlen(BODY));
	h_start(&w, "[pool]\nmin = 1\nmax = 1\n");
	h_expect_lost(&w, 1, 1);
	fd = start_download();
	snprintf(path, sizeof(path), "%s/restart.out", w.dir);
	bg = ctl_bg(path, "restart", "workers", "--timeout", "20", NULL);
	ck_assert(h_wait_log(&w, "ready, draining", 10000));
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "scale", "--max", "2", NULL), 1);
	ck_assert_msg(strstr(out, "-32001") && strstr(out, "restart"), "%s", out);
	ck_assert_int_eq(ctl(out, sizeof(out), 0, "drain", "1", NULL), 1);
	ck_assert_msg(strstr(out, "-32001"), "%s", out);
	ck_assert_int_eq(waitpid(bg, NULL, WNOHANG), 0); /* still waiting for the old worker */
	ck_assert_int_eq(h_count_role(&w, "manager", &mgr, 1), 1);
	ck_assert_int_eq(kill(mgr, SIGKILL), 0);
	ck_assert_int_eq(ctl_bg_wait(bg, h_bound_ms(3000)), 1);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	fclose(f);
	ck_assert_msg(strstr(out, "manager exited"), "%s", out);
	close(fd);
	/* The server goes on, and takes the next operation. */
	ck_assert(h_wait_until(manager_ready, NULL, 10000));
	cJSON_Delete(ctl_json("scale", "scale", "--max", "2", NULL));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Workers in one status: the worker rows with a pid, and pool.current (the smaller). */
static int status_workers(void)
{
	cJSON *j = ctl_json("status", "status", NULL);
	int rows = num(j, "roles.worker.count"), cur = num(j, "pool.current");

	cJSON_Delete(j);
	return rows < cur ? rows : cur;
}

static int status_shows_2(void *arg) { return status_workers() == 2; }

/*
 * An operator watching status during wsctl restart manager never sees the
 * pool vanish: the retiring manager's workers show until the new manager's
 * first table (docs/operations.md).
 */
START_TEST(test_status_shows_workers_through_manager_restart)
{
	char path[PATH_MAX + 32];
	uint64_t end = 0, limit;
	int polls = 0, n, st;
	pid_t bg;

	start("[pool]\nmin = 2\nmax = 2\nidle_timeout = 1h\n");
	ck_assert(h_wait_until(status_shows_2, NULL, h_bound_ms(10000)));
	load_start(&l, w.port, "/a.txt", (long)strlen(BODY), 1, 1);
	ck_assert_msg(load_wait_more(&l, 50, 10000), "no load got through");
	snprintf(path, sizeof(path), "%s/restart.out", w.dir);
	bg = ctl_bg(path, "restart", "manager", NULL);
	limit = h_now_ms() + 30000;
	/* Until 2 s after the restart's reply: the new manager's first table comes by then. */
	while (end == 0 || h_now_ms() < end) {
		n = status_workers();
		polls++;
		ck_assert_msg(n > 0, "status shows %d workers at poll %d", n, polls);
		if (end == 0 && waitpid(bg, &st, WNOHANG) == bg) {
			ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			end = h_now_ms() + 2000;
		}
		ck_assert_msg(h_now_ms() < limit, "the restart did not end");
	}
	ck_assert(h_wait_until(status_shows_2, NULL, h_bound_ms(5000)));
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool_ops");
	TCase *tc = tcase_create("pool_ops");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scale_up_and_down);
	tcase_add_test(tc, test_scale_kept_across_manager_restart);
	tcase_add_test(tc, test_scale_kept_across_reload);
	tcase_add_test(tc, test_restarts_under_load_lose_nothing);
	tcase_add_test(tc, test_drain_and_refusals);
	tcase_add_test(tc, test_restart_kills_at_timeout);
	tcase_add_test(tc, test_busy_then_manager_killed);
	tcase_add_test(tc, test_status_shows_workers_through_manager_restart);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_VERBOSE);
}
