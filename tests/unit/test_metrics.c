/* The Prometheus exposition built from a status view, and the restart counters. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

static struct status_proc procs[] = {
    {.role = "listener", .pid = 11, .state = "running", .hb_age_ms = 120},
    {.role = "manager", .pid = 12, .state = "running", .hb_age_ms = 80},
    {.role = "worker", .pid = 13, .state = "running", .hb_age_ms = 150, .is_worker = 1},
    {.role = "worker", .pid = 14, .state = "draining", .hb_age_ms = 1250, .is_worker = 1},
    {.role = "worker", .pid = 0, .state = "stopped", .hb_age_ms = 99999, .is_worker = 1},
};

static struct status_view view(void)
{
	return (struct status_view){.version = "1.2\"x",
	    .uptime_ms = 61500,
	    .config_generation = 3,
	    .reload_time_ms = 1795770000500LL,
	    .reload_result = "partial",
	    .accepted = 100,
	    .active = 4,
	    .requests = 90,
	    .bytes = 123456,
	    .resp_us = 2500000,
	    .hist = {50, 20, 10, 5, 5},
	    .eff_min = 2,
	    .eff_max = 8,
	    .limit = 64,
	    .current = 3,
	    .queue = 7,
	    .procs = procs,
	    .nprocs = sizeof(procs) / sizeof(procs[0])};
}

static char *text_of(const struct status_view *st, const struct metrics_restarts *r)
{
	struct metrics_view v = {.st = st,
	    .start_time_ms = 1795770000000LL,
	    .parked = 9,
	    .ready = 1,
	    .metrics_refused = 2,
	    .restarts = r};
	size_t len = 0;
	char *t = metrics_text(&v, &len);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	return t;
}

/* The sample line "name{labels} value" (labels as written), or NULL. */
static const char *sample(const char *text, const char *series)
{
	static char line[512];
	size_t n = strlen(series);

	for (const char *p = text; *p; p = strchr(p, '\n') + 1) {
		const char *e = strchr(p, '\n');

		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			snprintf(line, sizeof(line), "%.*s", (int)(e - p - n - 1), p + n + 1);
			return line;
		}
		if (e == NULL)
			break;
	}
	return NULL;
}

static double value(const char *text, const char *series)
{
	const char *v = sample(text, series);

	ck_assert_msg(v != NULL, "no sample %s", series);
	return strtod(v, NULL);
}

START_TEST(test_values)
{
	struct metrics_restarts r;
	struct status_view st = view();
	char *t;

	metrics_restarts_init(&r);
	r.n[MR_MANAGER][MC_CRASH] = 2;
	t = text_of(&st, &r);
	ck_assert_str_eq(sample(t, "wsd_build_info{version=\"1.2\\\"x\"}"), "1");
	ck_assert_double_eq_tol(value(t, "wsd_start_time_seconds"), 1795770000.0, 0.001);
	ck_assert_double_eq_tol(value(t, "wsd_uptime_seconds"), 61.5, 0.001);
	ck_assert_double_eq(value(t, "wsd_connections_accepted_total"), 100);
	ck_assert_double_eq(value(t, "wsd_connections_active"), 4);
	ck_assert_double_eq(value(t, "wsd_connections_parked"), 9);
	ck_assert_double_eq(value(t, "wsd_http_requests_total"), 90);
	ck_assert_double_eq(value(t, "wsd_http_sent_bytes_total"), 123456);
	ck_assert_double_eq(value(t, "wsd_pool_workers"), 3);
	ck_assert_double_eq(value(t, "wsd_pool_workers_min"), 2);
	ck_assert_double_eq(value(t, "wsd_pool_workers_max"), 8);
	ck_assert_double_eq(value(t, "wsd_pool_workers_limit"), 64);
	ck_assert_double_eq(value(t, "wsd_pool_queued_connections"), 7);
	ck_assert_double_eq(value(t, "wsd_metrics_connections_refused_total"), 2);
	ck_assert_double_eq(value(t, "wsd_ready"), 1);
	ck_assert_double_eq(value(t, "wsd_restarts_total{role=\"manager\",cause=\"crash\"}"), 2);
	ck_assert_double_eq(value(t, "wsd_restarts_total{role=\"worker\",cause=\"hung\"}"), 0);
	ck_assert_double_eq(value(t, "wsd_config_generation"), 3);
	ck_assert_double_eq(value(t, "wsd_config_last_reload{result=\"partial\"}"), 1);
	ck_assert_double_eq(value(t, "wsd_config_last_reload{result=\"applied\"}"), 0);
	ck_assert_double_eq_tol(
	    value(t, "wsd_config_last_reload_timestamp_seconds"), 1795770000.5, 0.001);
	free(t);
}
END_TEST

START_TEST(test_histogram_cumulative)
{
	struct status_view st = view();
	char *t = text_of(&st, NULL);
	const char *les[] = {"0.001", "0.01", "0.1", "1", "+Inf"};
	double want[] = {50, 70, 80, 85, 90}, prev = 0;
	char series[128];

	for (int i = 0; i < 5; i++) {
		snprintf(series, sizeof(series),
		    "wsd_http_response_duration_seconds_bucket{le=\"%s\"}", les[i]);
		ck_assert_double_eq(value(t, series), want[i]);
		ck_assert(value(t, series) >= prev);
		prev = value(t, series);
	}
	ck_assert_double_eq(value(t, "wsd_http_response_duration_seconds_count"), 90);
	ck_assert_double_eq_tol(value(t, "wsd_http_response_duration_seconds_sum"), 2.5, 1e-6);
	free(t);
}
END_TEST

START_TEST(test_processes_bounded)
{
	struct status_view st = view();
	char *t = text_of(&st, NULL);

	ck_assert_double_eq(value(t, "wsd_processes{role=\"worker\",state=\"running\"}"), 1);
	ck_assert_double_eq(value(t, "wsd_processes{role=\"worker\",state=\"draining\"}"), 1);
	ck_assert_double_eq(value(t, "wsd_processes{role=\"worker\",state=\"stopped\"}"), 1);
	ck_assert_double_eq(value(t, "wsd_processes{role=\"listener\",state=\"starting\"}"), 0);
	/* The oldest live one; a stopped one (pid 0) has no heartbeat to age. */
	ck_assert_double_eq_tol(value(t, "wsd_heartbeat_age_seconds{role=\"worker\"}"), 1.25, 1e-9);
	ck_assert_double_eq_tol(
	    value(t, "wsd_heartbeat_age_seconds{role=\"listener\"}"), 0.12, 1e-9);
	ck_assert_ptr_null(strstr(t, "pid"));
	free(t);
}
END_TEST

/* A role with no live process (lost, backing off): its age keeps growing, never vanishes. */
START_TEST(test_heartbeat_age_role_gone)
{
	struct status_proc gone[] = {
	    {.role = "listener", .pid = 0, .state = "stopped", .hb_age_ms = 7000},
	    {.role = "manager", .pid = 12, .state = "running", .hb_age_ms = 80},
	};
	struct status_view st = view();
	char *t;

	st.procs = gone;
	st.nprocs = 2;
	t = text_of(&st, NULL);
	ck_assert_double_eq_tol(value(t, "wsd_heartbeat_age_seconds{role=\"listener\"}"), 7, 1e-9);
	ck_assert_double_eq_tol(
	    value(t, "wsd_heartbeat_age_seconds{role=\"manager\"}"), 0.08, 1e-9);
	/* No worker at all (a new manager's table not in yet): no series to make up. */
	ck_assert_ptr_null(sample(t, "wsd_heartbeat_age_seconds{role=\"worker\"}"));
	free(t);
}
END_TEST

/* Every sample's family has one HELP and one TYPE before it; counters end in _total; no sign. */
START_TEST(test_format)
{
	struct status_view st = view();
	char *t = text_of(&st, NULL), *save = NULL, *copy = strdup(t);
	char family[128] = "", type[16] = "";
	int helps = 0, types = 0;

	ck_assert(t[strlen(t) - 1] == '\n');
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[128];

		if (sscanf(l, "# HELP %127s", family) == 1) {
			helps++;
			continue;
		}
		if (sscanf(l, "# TYPE %127s %15s", name, type) == 2) {
			ck_assert_str_eq(name, family);
			types++;
			continue;
		}
		ck_assert_msg(strncmp(l, family, strlen(family)) == 0, "%s outside %s", l, family);
		ck_assert_msg(strchr(l, '-') == NULL, "negative or odd value: %s", l);
		if (strcmp(type, "counter") == 0)
			ck_assert_msg(strstr(family, "_total") != NULL, "counter %s", family);
		else
			ck_assert_msg(strstr(family, "_total") == NULL, "%s %s", type, family);
	}
	ck_assert_int_eq(helps, types);
	ck_assert_int_ge(helps, 20);
	free(copy);
	free(t);
}
END_TEST

START_TEST(test_exit_causes)
{
	ck_assert_int_eq(metrics_exit_cause("crash: SIGSEGV (core dumped)"), MC_CRASH);
	ck_assert_int_eq(metrics_exit_cause("killed: SIGKILL"), MC_KILLED);
	ck_assert_int_eq(metrics_exit_cause("hung: no heartbeat for 812 ms"), MC_HUNG);
	ck_assert_int_eq(metrics_exit_cause("did not start in 10000 ms"), MC_HUNG);
	ck_assert_int_eq(metrics_exit_cause("exit 3"), MC_EXIT);
	ck_assert_int_eq(metrics_exit_cause(""), MC_EXIT);
}
END_TEST

START_TEST(test_restart_events)
{
	struct metrics_restarts r;

	metrics_restarts_init(&r);
	/* An exit with no restart after it (a drain, a scale down) counts nothing. */
	metrics_note_event(&r, "exited", "worker", 101, "exit 0");
	metrics_note_event(&r, "exited", "worker", 102, "crash: SIGSEGV");
	metrics_note_event(&r, "restarting", "worker", 102, "in 0 ms (restart 1)");
	metrics_note_event(&r, "exited", "manager", 20, "killed: SIGKILL");
	metrics_note_event(&r, "backing off", "manager", 20, "in 400 ms (restart 2)");
	/* A "restarting" with no exit noted before it is not counted twice. */
	metrics_note_event(&r, "restarting", "manager", 20, "in 0 ms");
	metrics_note_event(&r, "restarted", "listener", 11, "replaced 10 in 5 ms");
	metrics_note_event(&r, "recycle", "manager", 20, "worker 5 served 100 requests");
	metrics_note_event(&r, "scale up", "manager", 20, "2 -> 3");
	metrics_note_event(&r, "exited", "nosuchrole", 30, "crash: SIGBUS");
	ck_assert_uint_eq(r.n[MR_WORKER][MC_CRASH], 1);
	ck_assert_uint_eq(r.n[MR_WORKER][MC_EXIT], 0);
	ck_assert_uint_eq(r.n[MR_MANAGER][MC_KILLED], 1);
	ck_assert_uint_eq(r.n[MR_LISTENER][MC_REPLACED], 1);
	ck_assert_uint_eq(r.n[MR_WORKER][MC_RECYCLED], 1);
	ck_assert_uint_eq(r.n[MR_MANAGER][MC_RECYCLED], 0);
	ck_assert_uint_eq(r.n[MR_MANAGER][MC_EXIT], 0);
}
END_TEST

/*
 * Two managers at once (one replacing the other): the old one's worker
 * exits between the new one's worker's exit and its restart. Each restart
 * counts the cause of its own pid's exit.
 */
START_TEST(test_restart_events_interleaved)
{
	struct metrics_restarts r;

	metrics_restarts_init(&r);
	metrics_note_event(&r, "exited", "worker", 201, "crash: SIGSEGV");
	metrics_note_event(&r, "exited", "worker", 301, "exit 0"); /* drained, never restarted */
	metrics_note_event(&r, "restarting", "worker", 201, "in 0 ms (restart 1)");
	ck_assert_uint_eq(r.n[MR_WORKER][MC_CRASH], 1);
	ck_assert_uint_eq(r.n[MR_WORKER][MC_EXIT], 0);
	/* Many exits never restarted fill the pending slots; a later one still counts. */
	for (int32_t pid = 400; pid < 400 + 3 * METRICS_PENDING_EXITS; pid++)
		metrics_note_event(&r, "exited", "worker", pid, "exit 0");
	metrics_note_event(&r, "exited", "worker", 999, "hung: no heartbeat for 900 ms");
	metrics_note_event(&r, "backing off", "worker", 999, "in 100 ms (restart 2)");
	ck_assert_uint_eq(r.n[MR_WORKER][MC_HUNG], 1);
	ck_assert_uint_eq(r.n[MR_WORKER][MC_EXIT], 0);
}
END_TEST

START_TEST(test_no_reload_yet)
{
	struct status_view st = view();
	char *t;

	st.reload_result = NULL;
	t = text_of(&st, NULL);
	ck_assert_double_eq(value(t, "wsd_config_last_reload{result=\"partial\"}"), 0);
	ck_assert_double_eq(value(t, "wsd_config_last_reload_timestamp_seconds"), 0);
	free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_histogram_cumulative);
	tcase_add_test(tc, test_processes_bounded);
	tcase_add_test(tc, test_heartbeat_age_role_gone);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_exit_causes);
	tcase_add_test(tc, test_restart_events);
	tcase_add_test(tc, test_restart_events_interleaved);
	tcase_add_test(tc, test_no_reload_yet);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
