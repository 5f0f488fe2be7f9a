/* The status and event JSON the control plane answers with. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>

#include "status.h"

static const cJSON *at(const cJSON *o, const char *path)
{
	char buf[128], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save))
		o = cJSON_GetObjectItemCaseSensitive(o, tok);
	ck_assert_msg(o != NULL, "no %s", path);
	return o;
}

static double num(const cJSON *o, const char *path) { return at(o, path)->valuedouble; }

START_TEST(test_time_format)
{
	char buf[32];

	status_time(1795770000123LL, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2026-11-27T09:00:00.123Z");
	status_time(0, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(test_status_shape)
{
	struct status_proc procs[] = {
	    {.role = "listener", .pid = 11, .state = "running", .uptime_ms = 2500},
	    {.role = "manager",
	        .pid = 12,
	        .state = "running",
	        .restarts = 1,
	        .last_exit = "crash: SIGSEGV"},
	    {.role = "worker",
	        .pid = 13,
	        .state = "running",
	        .is_worker = 1,
	        .connections = 7,
	        .busy_ppm = 910000,
	        .lag_us = 3000,
	        .requests = 40,
	        .bytes = 1000},
	    {.role = "worker", .pid = 0, .state = "stopped", .is_worker = 1, .backoff_ms = 400},
	};
	struct status_view v = {.version = "0.1.0",
	    .pid = 10,
	    .uptime_ms = 61500,
	    .listen = "127.0.0.1:8080",
	    .root = "/srv",
	    .config_generation = 2,
	    .accepted = 100,
	    .active = 7,
	    .requests = 90,
	    .bytes = 5000,
	    .resp_us = 45000,
	    .hist = {80, 10, 0, 0, 0},
	    .cfg_min = 2,
	    .cfg_max = 16,
	    .eff_min = 4,
	    .eff_max = 8,
	    .limit = 64,
	    .current = 2,
	    .max_workload = 1024,
	    .workload = 7,
	    .queue = 3,
	    .procs = procs,
	    .nprocs = 4};
	cJSON *s = status_json(&v);

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(at(s, "server.version")->valuestring, "0.1.0");
	ck_assert_double_eq(num(s, "server.uptime"), 61.5);
	ck_assert(cJSON_IsNull(at(s, "server.config_file")));
	ck_assert(cJSON_IsNull(at(s, "server.last_reload")));
	ck_assert_double_eq(num(s, "totals.requests"), 90);
	ck_assert_double_eq(num(s, "totals.avg_response_ms"), 0.5); /* 45 ms over 90 */
	ck_assert_int_eq(cJSON_GetArraySize(at(s, "totals.histogram.counts")), MSG_HIST_BUCKETS);
	ck_assert_int_eq(
	    cJSON_GetArraySize(at(s, "totals.histogram.bounds_ms")), MSG_HIST_BUCKETS - 1);
	ck_assert_double_eq(num(s, "pool.effective.min"), 4);
	ck_assert_double_eq(num(s, "pool.configured.max"), 16);
	ck_assert_double_eq(num(s, "pool.queue"), 3);
	ck_assert_double_eq(num(s, "roles.listener.count"), 1);
	ck_assert_str_eq(
	    cJSON_GetArrayItem(at(s, "roles.manager.processes"), 0)->child->next->valuestring,
	    "running");
	/* A stopped worker is listed but not counted, and shows its back-off. */
	ck_assert_double_eq(num(s, "roles.worker.count"), 1);
	ck_assert_int_eq(cJSON_GetArraySize(at(s, "roles.worker.pids")), 1);
	ck_assert_int_eq(cJSON_GetArraySize(at(s, "roles.worker.processes")), 2);
	ck_assert_double_eq(
	    num(cJSON_GetArrayItem(at(s, "roles.worker.processes"), 1), "backoff_ms"), 400);
	ck_assert_double_eq(
	    num(cJSON_GetArrayItem(at(s, "roles.worker.processes"), 0), "connections"), 7);
	ck_assert_double_eq_tol(
	    num(cJSON_GetArrayItem(at(s, "roles.worker.processes"), 0), "busy"), 0.91, 1e-9);
	ck_assert_double_eq(
	    num(cJSON_GetArrayItem(at(s, "roles.worker.processes"), 0), "lag_ms"), 3);
	/* Only workers carry figures. */
	ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetArrayItem(at(s, "roles.listener.processes"), 0), "requests"));
	cJSON_Delete(s);
}
END_TEST

START_TEST(test_last_reload)
{
	struct status_view v = {.version = "x",
	    .listen = "l",
	    .root = "r",
	    .config_file = "/etc/wsd.conf",
	    .reload_time_ms = 1000,
	    .reload_result = "applied",
	    .reload_message = "2 keys changed"};
	cJSON *s = status_json(&v);

	ck_assert_str_eq(at(s, "server.config_file")->valuestring, "/etc/wsd.conf");
	ck_assert_str_eq(at(s, "server.last_reload.result")->valuestring, "applied");
	ck_assert_str_eq(at(s, "server.last_reload.time")->valuestring, "1970-01-01T00:00:01.000Z");
	ck_assert_double_eq(num(s, "totals.avg_response_ms"), 0); /* nothing answered yet */
	cJSON_Delete(s);
}
END_TEST

START_TEST(test_event_json)
{
	struct elog l;
	cJSON *e;

	elog_init(&l);
	e = status_event_json(elog_add_at(&l, 1500, "exited", "worker", 42, "crash: SIGSEGV"));
	ck_assert_double_eq(num(e, "seq"), 1);
	ck_assert_str_eq(at(e, "time")->valuestring, "1970-01-01T00:00:01.500Z");
	ck_assert_str_eq(at(e, "event")->valuestring, "exited");
	ck_assert_str_eq(at(e, "role")->valuestring, "worker");
	ck_assert_double_eq(num(e, "pid"), 42);
	ck_assert_str_eq(at(e, "detail")->valuestring, "crash: SIGSEGV");
	cJSON_Delete(e);
	e = status_event_json(elog_add_at(&l, 1, "scale", "daemon", 0, "2..16 -> 4..8"));
	ck_assert(cJSON_IsNull(at(e, "pid")));
	cJSON_Delete(e);
}
END_TEST

/* pool.decisions: the policy's last five decisions from the event log, oldest first. */
START_TEST(test_pool_decisions)
{
	static struct elog l;
	struct status_view v = {.version = "x", .listen = "l", .root = "r", .events = &l};
	char d[16];
	cJSON *s;
	const cJSON *a;

	elog_init(&l);
	s = status_json(&v);
	ck_assert_int_eq(cJSON_GetArraySize(at(s, "pool.decisions")), 0);
	cJSON_Delete(s);
	for (int i = 0; i < 7; i++) {
		elog_add_at(&l, 1000 + i, "started", "worker", 100 + i, "");
		snprintf(d, sizeof(d), "%d", i);
		elog_add_at(&l, 1000 + i, i % 2 ? "scale down" : "scale up", "manager", 9, d);
	}
	elog_add_at(&l, 2000, "recycle", "worker", 42, "worker 42 served 10 requests");
	s = status_json(&v);
	a = at(s, "pool.decisions");
	ck_assert_int_eq(cJSON_GetArraySize(a), STATUS_DECISIONS);
	for (int i = 0; i < 4; i++) {
		snprintf(d, sizeof(d), "%d", i + 3);
		ck_assert_str_eq(at(cJSON_GetArrayItem(a, i), "detail")->valuestring, d);
	}
	ck_assert_str_eq(at(cJSON_GetArrayItem(a, 4), "event")->valuestring, "recycle");
	cJSON_Delete(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_time_format);
	tcase_add_test(tc, test_status_shape);
	tcase_add_test(tc, test_last_reload);
	tcase_add_test(tc, test_event_json);
	tcase_add_test(tc, test_pool_decisions);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
