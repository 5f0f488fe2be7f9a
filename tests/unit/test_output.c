/* wsctl's printers: the status tables from the documented result shape, durations, sizes. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* The status result documented in docs/control-protocol.md (abridged). */
static const char status_json[] =
    "{\"server\":{\"version\":\"0.1.0\",\"pid\":4100,\"uptime\":3723.5,\"listen\":\"127.0.0.1:"
    "8080\",\"root\":\"/srv/www\",\"config_file\":\"/etc/wsd.conf\",\"config_generation\":3,"
    "\"last_reload\":null},"
    "\"totals\":{\"connections\":12345,\"active\":12,\"requests\":67890,\"bytes\":123456789,"
    "\"avg_response_ms\":0.82},"
    "\"pool\":{\"configured\":{\"min\":2,\"max\":16},\"effective\":{\"min\":4,\"max\":32},"
    "\"limit\":64,\"current\":2,\"max_workload\":1024,\"workload\":12,\"queue\":0,"
    "\"decisions\":[{\"seq\":40,\"time\":\"2026-11-27T08:59:58.120Z\",\"role\":\"manager\","
    "\"pid\":4102,\"event\":\"scale up\",\"detail\":\"1→2: workers busy (queue 0, busy 0.91, "
    "lag 3 ms)\"}]},"
    "\"roles\":{\"listener\":{\"count\":1,\"pids\":[4101],\"processes\":[{\"pid\":4101,"
    "\"state\":\"running\",\"uptime\":3723.4,\"heartbeat_age_ms\":120,\"missed\":0,\"restarts\":0,"
    "\"last_exit\":null,\"backoff_ms\":0}]},"
    "\"worker\":{\"count\":2,\"pids\":[4103,4104],\"processes\":[{\"pid\":4103,\"state\":"
    "\"running\",\"uptime\":60,\"heartbeat_age_ms\":30,\"missed\":0,\"restarts\":0,"
    "\"connections\":7,\"requests\":40000,\"bytes\":100000000},{\"pid\":4104,\"state\":"
    "\"starting\",\"uptime\":0.25,\"backoff_ms\":400,\"last_exit\":\"exit 3\"}]}}}";

/* Print result as cmd would, into a string (caller frees). */
static char *render(const char *cmd, const char *json, int as_json)
{
	cJSON *res = cJSON_Parse(json);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out o;

	ck_assert_ptr_nonnull(res);
	out_init(&o, f, as_json);
	ck_assert_int_eq(o.color, 0); /* not a terminal */
	out_result(&o, cmd_find(cmd), res);
	fclose(f);
	cJSON_Delete(res);
	return buf;
}

START_TEST(test_status_human)
{
	char *s = render("status", status_json, 0);
	const char *hdr, *row;

	ck_assert_ptr_nonnull(
	    strstr(s, "wsd 0.1.0, pid 4100, up 1h02m03s, listening on 127.0.0.1:8080"));
	ck_assert_ptr_nonnull(strstr(s,
	    "totals: 12345 connections (12 active), 67890 requests, "
	    "117.7 MiB, 0.82 ms average"));
	ck_assert_ptr_nonnull(strstr(s, "pool: 2 workers, min 4 max 32 (configured 2..16)"));
	ck_assert_ptr_nonnull(strstr(s,
	    "pool decisions:\n  08:59:58 scale up 1→2: workers busy (queue 0, busy 0.91, lag 3 ms)\n"));
	hdr = strstr(s, "ROLE      PID   STATE");
	ck_assert_ptr_nonnull(hdr);
	/* Aligned: every row's PID starts in the header's PID column. */
	row = strstr(s, "\nworker    4104  backoff 400ms");
	ck_assert_ptr_nonnull(row);
	ck_assert_ptr_nonnull(strstr(s, "listener  4101  running"));
	ck_assert_ptr_nonnull(strstr(row, "exit 3"));
	ck_assert_ptr_null(strstr(s, "\033[")); /* no colour off a terminal */
	free(s);
}
END_TEST

START_TEST(test_json_and_unknown_shapes)
{
	char *s = render("status", "{\"future\":1}", 1);

	ck_assert_ptr_nonnull(strstr(s, "\"future\":"));
	free(s);
	s = render("status", "{}", 0); /* nothing known: dashes, no crash */
	ck_assert_ptr_nonnull(strstr(s, "wsd -, pid 0"));
	free(s);
	s = render("help", "{\"commands\":[]}", 0); /* no human printer: JSON */
	ck_assert_ptr_nonnull(strstr(s, "\"commands\""));
	free(s);
}
END_TEST

START_TEST(test_other_printers)
{
	char *s = render(
	    "scale", "{\"old\":{\"min\":1,\"max\":4},\"new\":{\"min\":2,\"max\":8}}", 0);

	ck_assert_str_eq(s, "pool min 1 -> 2, max 4 -> 8\n");
	free(s);
	s = render("restart",
	    "{\"target\":\"listener\",\"old_pid\":10,\"new_pid\":20,\"seconds\":0.5,\"killed\":false}",
	    0);
	ck_assert_str_eq(s,
	    "ROLE      OLD PID  NEW PID  TOOK   KILLED\n"
	    "listener  10       20       500ms  no\n");
	free(s);
	s = render("events",
	    "{\"events\":[{\"seq\":7,\"time\":\"2026-11-27T09:00:00.000Z\",\"role\":\"worker\","
	    "\"pid\":42,\"event\":\"exited\",\"detail\":\"crash: SIGSEGV\"}]}",
	    0);
	ck_assert_ptr_nonnull(strstr(s,
	    "7    2026-11-27T09:00:00.000Z  worker  42   exited  crash: "
	    "SIGSEGV"));
	free(s);
	s = render("log-reopen", "{\"reopened\":[\"/var/log/a.log\",\"/var/log/b.log\"]}", 0);
	ck_assert_str_eq(s, "reopened: /var/log/a.log /var/log/b.log\n");
	free(s);
	/* Logging to standard error only: say so, not an empty list. */
	s = render("log-reopen", "{\"reopened\":[]}", 0);
	ck_assert_str_eq(s, "reopened: no log file (logging to standard error)\n");
	free(s);
}
END_TEST

START_TEST(test_units)
{
	char b[32];

	out_duration(0.25, b, sizeof(b));
	ck_assert_str_eq(b, "250ms");
	out_duration(4.25, b, sizeof(b));
	ck_assert_str_eq(b, "4.2s");
	out_duration(125, b, sizeof(b));
	ck_assert_str_eq(b, "2m05s");
	out_duration(90061, b, sizeof(b));
	ck_assert_str_eq(b, "1d01h01m");
	out_bytes(512, b, sizeof(b));
	ck_assert_str_eq(b, "512 B");
	out_bytes(1536, b, sizeof(b));
	ck_assert_str_eq(b, "1.5 KiB");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("output");

	tcase_add_test(tc, test_status_human);
	tcase_add_test(tc, test_json_and_unknown_shapes);
	tcase_add_test(tc, test_other_printers);
	tcase_add_test(tc, test_units);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
