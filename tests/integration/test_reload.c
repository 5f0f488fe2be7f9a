/*
 * Reload, end to end: the real wsd, the real wsctl. A bad file changes
 * nothing; a good one changes what it says (pool, timeouts, root, logs)
 * and says how; listen needs a restart; SIGHUP does the same; a reload
 * under load loses no request.
 */
#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "harness.h"
#include "load.h"

static struct wsd w;

/* The harness's own settings (as h_start writes them), with root, level and extra. */
static void write_conf(const char *root, const char *level, const char *extra)
{
	char text[4 * PATH_MAX + 1024];

	ck_assert_int_lt(snprintf(text, sizeof(text),
	                     "[server]\nlisten = 127.0.0.1:0\nroot = %s\nshutdown_timeout = 5s\n"
	                     "[log]\nfile = %s\nlevel = %s\n[control]\nsocket = %s\n%s\n%s",
	                     root, w.log, level, w.sock, extra ? extra : "", h_base_conf()),
	    (int)sizeof(text));
	h_write_text(w.conf, text);
}

/* wsctl -s SOCK args...: its exit status, its output in out. */
static int wsctl(char *out, size_t len, const char *a1, const char *a2)
{
	char *argv[] = {WSCTL_BIN, "-s", w.sock, (char *)a1, (char *)a2, NULL};
	int st = h_run(argv, out, len, 20000);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int status_has(const char *needle)
{
	char out[16384];

	ck_assert_int_eq(wsctl(out, sizeof(out), "status", NULL), 0);
	return strstr(out, needle) != NULL;
}

static int workers_are(void *arg)
{
	pid_t pids[64];

	return h_count_role(&w, "worker", pids, 64) == *(int *)arg;
}

static void get_expect(const char *path, int status, const char *body)
{
	struct h_response r;

	ck_assert_int_eq(h_get(&w, "GET", path, &r), 0);
	ck_assert_int_eq(r.status, status);
	if (body)
		ck_assert(r.body_len == strlen(body) && memcmp(r.body, body, r.body_len) == 0);
	h_response_free(&r);
}

START_TEST(test_bad_file_changes_nothing)
{
	char out[8192];

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, "[pool]\nmin = 1\nmax = 4\n");
	write_conf(w.root, "debug", "[pool]\nmin = x\nmax = 4\n[http]\nkeepalive_timeout = 7\n");
	ck_assert_int_eq(wsctl(out, sizeof(out), "reload", NULL), 1);
	/* Every error, each with file:line: key. */
	ck_assert_ptr_nonnull(strstr(out, "reload refused: 2 errors"));
	ck_assert_ptr_nonnull(strstr(out, ".conf:11: pool.min"));
	ck_assert_ptr_nonnull(strstr(out, ".conf:14: http.keepalive_timeout"));
	ck_assert(status_has("(generation 1); last reload refused"));
	ck_assert(status_has("min 1 max 4"));
	ck_assert(h_log_has(&w, "reload refused: "));
	get_expect("/a.txt", 200, "alpha\n");
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* The keep-alive timeout in effect, seen on a connection: closed within [lo, hi] ms. */
static void keepalive_closes_within(int lo, int hi)
{
	struct h_response r;
	uint64_t t0;
	char c;
	int fd = h_connect(&w);

	ck_assert_int_eq(h_send(fd, "GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
	ck_assert_int_eq(h_read_response(fd, &r, 0), 0);
	h_response_free(&r);
	t0 = h_now_ms();
	ck_assert_int_eq(recv(fd, &c, 1, 0), 0);
	ck_assert_uint_ge(h_now_ms() - t0, (uint64_t)lo);
	ck_assert_uint_le(h_now_ms() - t0, (uint64_t)hi);
	close(fd);
}

START_TEST(test_good_file_applied)
{
	char out[8192], root2[PATH_MAX + 16], alog1[PATH_MAX + 16], alog2[PATH_MAX + 16],
	    extra[3 * PATH_MAX];
	int three = 3;

	h_init(&w);
	snprintf(root2, sizeof(root2), "%s/root2", w.root);
	snprintf(alog1, sizeof(alog1), "%s/a1.log", w.dir);
	snprintf(alog2, sizeof(alog2), "%s/a2.log", w.dir);
	ck_assert_int_eq(mkdir(root2, 0755), 0);
	h_write_file(&w, "a.txt", "old root\n", 9);
	h_write_file(&w, "root2/b.txt", "new root\n", 9);
	snprintf(extra, sizeof(extra),
	    "[pool]\nmin = 1\nmax = 4\n[http]\nkeepalive_timeout = 15s\n[log]\naccess_log = %s\n",
	    alog1);
	h_start(&w, extra);
	get_expect("/b.txt", 404, NULL);
	snprintf(extra, sizeof(extra),
	    "[pool]\nmin = 3\nmax = 6\n[http]\nkeepalive_timeout = 300ms\n[log]\naccess_log = %s\n",
	    alog2);
	/* A [log] section twice: the level and file in the first, the access log in the second. */
	write_conf(root2, "info", extra);
	ck_assert_int_eq(wsctl(out, sizeof(out), "reload", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "reload applied (generation 2)"));
	ck_assert_ptr_nonnull(strstr(out, "live: root reopened"));
	ck_assert_ptr_nonnull(strstr(out, "pool.min"));
	ck_assert_ptr_nonnull(strstr(out, "http.keepalive_timeout  15s"));
	ck_assert_ptr_nonnull(strstr(out, "live: access log reopened"));
	ck_assert_ptr_nonnull(strstr(out, "log.level"));
	/* In effect: the pool, the root, the keep-alive timeout, the access log, the level. */
	ck_assert(h_wait_until(workers_are, &three, h_bound_ms(5000)));
	ck_assert(status_has("min 3 max 6 (configured 3..6)"));
	ck_assert(status_has("(generation 2); last reload applied"));
	get_expect("/b.txt", 200, "new root\n");
	keepalive_closes_within(200, h_bound_ms(3000));
	{
		struct wsd a = w;

		snprintf(a.log, sizeof(a.log), "%s", alog2);
		ck_assert(h_wait_log(&a, "GET /b.txt", h_bound_ms(3000)));
	}
	/* log.level info: the workers' "exiting" lines at debug are not written. */
	h_stop_begin(&w);
	ck_assert(h_wait_log(&w, "stop outcome:", h_bound_ms(10000)));
	ck_assert(h_log_has(&w, "configuration generation 2"));
	ck_assert(!h_log_has(&w, " debug worker["));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_listen_needs_restart)
{
	char out[8192];

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, NULL);
	write_conf(w.root, "debug", NULL);
	{
		/* The same file but another listen address. */
		char text[4 * PATH_MAX + 512];

		snprintf(text, sizeof(text),
		    "[server]\nlisten = 127.0.0.1:1\nroot = %s\nshutdown_timeout = 5s\n"
		    "[log]\nfile = %s\nlevel = debug\n[control]\nsocket = %s\n%s",
		    w.root, w.log, w.sock, h_base_conf());
		h_write_text(w.conf, text);
	}
	ck_assert_int_eq(wsctl(out, sizeof(out), "reload", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "reload unchanged (generation 1)"));
	ck_assert_ptr_nonnull(strstr(out, "server.listen"));
	ck_assert_ptr_nonnull(strstr(out, "no: needs a restart of wsd"));
	get_expect("/a.txt", 200, "alpha\n"); /* still on the old port */
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* SIGHUP, switching the access log on: a new manager whose workers write it. */
START_TEST(test_sighup_reloads)
{
	char extra[PATH_MAX + 128];
	int two = 2;
	struct wsd a;

	h_init(&w);
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, "[pool]\nmin = 1\nmax = 4\n");
	a = w;
	snprintf(a.log, sizeof(a.log), "%s/access.log", w.dir);
	snprintf(extra, sizeof(extra), "[pool]\nmin = 2\nmax = 4\n[log]\naccess_log = %s\n", a.log);
	write_conf(w.root, "debug", extra);
	ck_assert_int_eq(kill(w.pid, SIGHUP), 0);
	ck_assert(h_wait_log(&w, "reload (SIGHUP) applied, generation 2", h_bound_ms(5000)));
	ck_assert(h_log_has(&w, "reload: log.access_log off -> "));
	ck_assert(h_wait_until(workers_are, &two, h_bound_ms(5000)));
	get_expect("/a.txt", 200, "alpha\n");
	ck_assert(h_wait_log(&a, "GET /a.txt", h_bound_ms(3000)));
	ck_assert(status_has("(generation 2); last reload applied"));
	/* Nothing changed since: unchanged, the generation stays. */
	ck_assert_int_eq(kill(w.pid, SIGHUP), 0);
	ck_assert(h_wait_log(&w, "reload (SIGHUP) unchanged, generation 2", h_bound_ms(5000)));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

START_TEST(test_reload_under_load_loses_nothing)
{
	static const char *const pools[] = {
	    "[pool]\nmin = 2\nmax = 6\nlimit = 32\n[http]\nkeepalive_timeout = 2s\n",
	    "[pool]\nmin = 1\nmax = 4\nlimit = 16\n[http]\nkeepalive_timeout = 5s\n",
	};
	char out[8192], body[4096];
	struct load l;

	memset(body, 'x', sizeof(body));
	h_init(&w);
	h_write_file(&w, "x.bin", body, sizeof(body));
	h_start(&w, "[pool]\nmin = 1\nmax = 4\nlimit = 16\n");
	load_start(&l, w.port, "/x.bin", sizeof(body), 2, 2);
	ck_assert(load_wait_more(&l, 50, h_bound_ms(5000)));
	for (int i = 0; i < 4; i++) {
		write_conf(w.root, "debug", pools[i % 2]);
		ck_assert_int_eq(wsctl(out, sizeof(out), "reload", NULL), 0);
		/* pool.limit changes with each: the manager is replaced every time. */
		ck_assert_ptr_nonnull(strstr(out, "restarted manager"));
		ck_assert(load_wait_more(&l, 50, h_bound_ms(5000)));
	}
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_uint_eq(l.refused, 0);
	ck_assert(status_has("(generation 5)"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

#ifdef WSD_FAULTS
/* The new manager never gets ready: partial, and the old one serves on. */
START_TEST(test_failed_replacement_is_partial)
{
	char out[8192], fault[PATH_MAX + 16];

	h_init(&w);
	snprintf(fault, sizeof(fault), "%s/fault", w.dir);
	setenv("WSD_FAULT_FILE", fault, 1); /* the switch is off until the file names a role */
	h_write_file(&w, "a.txt", "alpha\n", 6);
	h_start(&w, "[pool]\nmin = 1\nmax = 4\nlimit = 16\n");
	unsetenv("WSD_FAULT_FILE");
	h_write_text(fault, "manager\n");
	write_conf(w.root, "debug", "[pool]\nmin = 1\nmax = 4\nlimit = 32\n");
	h_expect_lost(&w, 0, 1);
	wsctl(out, sizeof(out), "reload", NULL);
	ck_assert_msg(strstr(out, "reload partial (generation 2)") != NULL, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "failed: the replacement exited before it was ready"));
	unlink(fault);
	get_expect("/a.txt", 200, "alpha\n");
	ck_assert(status_has("last reload partial"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST
#endif

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bad_file_changes_nothing);
	tcase_add_test(tc, test_good_file_applied);
	tcase_add_test(tc, test_listen_needs_restart);
	tcase_add_test(tc, test_sighup_reloads);
	tcase_add_test(tc, test_reload_under_load_loses_nothing);
#ifdef WSD_FAULTS
	tcase_add_test(tc, test_failed_replacement_is_partial);
#endif
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reload_suite());

	return check_run(sr, CK_NORMAL);
}
