/*
 * The pool policy on a real wsd: growth under load and shrink after it,
 * idle keep-alive connections that are not load, pool.max_requests
 * recycling a worker with nothing lost, and the decisions in
 * `wsctl status --json` and `wsctl events`.
 */
#include <check.h>

#include "check_run.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "load.h"

#define BODY "policy\n"
#define CTL_MAXARGS 12

static struct wsd w;
static struct load l;

/* Run wsctl -s SOCK args... (NULL-ended) to the end; its exit code, its output in out. */
static int ctl(char *out, size_t len, ...)
{
	char *argv[CTL_MAXARGS] = {WSCTL_BIN, "-s", w.sock};
	int n = 3, st;
	char *a;
	va_list ap;

	va_start(ap, len);
	while ((a = va_arg(ap, char *)) != NULL && n < CTL_MAXARGS - 1)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	st = h_run(argv, out, len, 30000);
	ck_assert_msg(WIFEXITED(st), "wsctl did not finish");
	return WEXITSTATUS(st);
}

struct count {
	const char *role;
	int want, at_least;
};

static int count_pred(void *arg)
{
	struct count *c = arg;
	int n = h_count_role(&w, c->role, NULL, 0);

	return c->at_least ? n >= c->want : n == c->want;
}

/*
 * Under these loads on a shared 2-core machine (and the sanitizers) a role
 * may miss 3 heartbeats without being hung: hang detection is not what is
 * tested here, so it is given more room.
 */
static void start(const char *pool)
{
	char extra[512];

	ck_assert_int_lt(snprintf(extra, sizeof(extra), "%s[heartbeat]\nmisses = 10\n", pool),
	    (int)sizeof(extra));
	h_init(&w);
	h_write_file(&w, "p.txt", BODY, strlen(BODY));
	h_start(&w, extra);
}

/* The last of status.pool.decisions: its event kind, or "" when none. */
static void last_decision(char *kind, size_t len)
{
	static char out[1 << 16];
	cJSON *st, *d, *last;

	ck_assert_int_eq(ctl(out, sizeof(out), "--json", "status", NULL), 0);
	ck_assert_ptr_nonnull(st = cJSON_Parse(out));
	d = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(st, "pool"), "decisions");
	ck_assert(cJSON_IsArray(d));
	ck_assert_int_le(cJSON_GetArraySize(d), 5);
	last = cJSON_GetArrayItem(d, cJSON_GetArraySize(d) - 1);
	snprintf(kind, len, "%s",
	    last ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "event")) : "");
	cJSON_Delete(st);
}

/* 16 busy connections with room for 2 each: the pool grows to 8, then back to 1. */
START_TEST(test_grows_under_load_and_shrinks_after)
{
	struct count c = {"worker", 8, 1};
	char out[1 << 16], kind[32];

	start("[pool]\nmin = 1\nmax = 8\nmax_workload = 2\nidle_timeout = 1s\n");
	load_start(&l, w.port, "/p.txt", (long)strlen(BODY), 16, 0);
	ck_assert_msg(
	    h_wait_until(count_pred, &c, h_bound_ms(15000)), "the pool did not grow to 8");
	ck_assert(h_log_has(&w, "scale up 1→"));
	ck_assert(load_wait_more(&l, l.ok + 200, 10000));
	last_decision(kind, sizeof(kind));
	ck_assert_str_eq(kind, "scale up");
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	c = (struct count){"worker", 1, 0};
	ck_assert_msg(h_wait_until(count_pred, &c, h_bound_ms(20000)), "the pool did not shrink");
	ck_assert(h_log_has(&w, "scale down 2→1: quiet for pool.idle_timeout"));
	last_decision(kind, sizeof(kind));
	ck_assert_str_eq(kind, "scale down");
	ck_assert_int_eq(ctl(out, sizeof(out), "events", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "scale up"));
	ck_assert_ptr_nonnull(strstr(out, "scale down"));
	ck_assert_int_eq(ctl(out, sizeof(out), "status", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "pool decisions:"));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* One worker with room for all, kept busy: its busy share (heartbeats) grows the pool. */
START_TEST(test_busy_share_grows)
{
	struct count c = {"worker", 2, 1};

	start("[pool]\nmin = 1\nmax = 3\n");
	load_start(&l, w.port, "/p.txt", (long)strlen(BODY), 16, 0);
	ck_assert_msg(h_wait_log(&w, ": workers busy (queue 0, busy 0.", h_bound_ms(15000)),
	    "no growth for the busy share");
	ck_assert(h_wait_until(count_pred, &c, 5000));
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* Connections that sit idle between requests hold room but are no load. */
START_TEST(test_idle_keepalive_does_not_grow)
{
	struct h_response r;
	int fds[6];

	start("[pool]\nmin = 1\nmax = 4\nmax_workload = 8\n");
	for (int i = 0; i < 6; i++) {
		fds[i] = h_connect(&w);
		ck_assert_int_eq(h_send(fds[i], "GET /p.txt HTTP/1.1\r\nHost: x\r\n\r\n"), 0);
		ck_assert_int_eq(h_read_response(fds[i], &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		h_response_free(&r);
	}
	/* Three ticks of the policy: no decision may come. */
	ck_assert(!h_wait_log(&w, "scale up", 3500));
	ck_assert_int_eq(h_count_role(&w, "worker", NULL, 0), 1);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

/* A worker that served pool.max_requests is replaced, and no request fails. */
START_TEST(test_max_requests_recycles)
{
	struct count c = {"worker", 1, 0};

	start("[pool]\nmin = 1\nmax = 1\nmax_requests = 200\n");
	load_start(&l, w.port, "/p.txt", (long)strlen(BODY), 4, 0);
	ck_assert_msg(h_wait_log(&w, "recycle: worker", h_bound_ms(20000)), "no worker recycled");
	/* The old one drains and exits cleanly; the one left serves. */
	ck_assert(h_wait_log(&w, "finished draining (exit 0)", h_bound_ms(10000)));
	ck_assert(load_wait_more(&l, l.ok + 300, 10000)); /* served on by the replacement */
	load_stop(&l);
	ck_assert_uint_eq(l.failed, 0);
	/* Recycling may be under way again: it ends with one worker (pool.max). */
	ck_assert(h_wait_until(count_pred, &c, h_bound_ms(10000)));
	ck_assert_int_eq(h_stop(&w), 0);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_grows_under_load_and_shrinks_after);
	tcase_add_test(tc, test_busy_share_grows);
	tcase_add_test(tc, test_idle_keepalive_does_not_grow);
	tcase_add_test(tc, test_max_requests_recycles);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(policy_suite());

	return check_run(sr, CK_NORMAL);
}
