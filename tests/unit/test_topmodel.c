/* wsctl top's model: a status result read, rates between two, sorting, columns that fit. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topmodel.h"

/* A status result as docs/control-protocol.md shows it; %d: worker 4103's requests. */
static const char status_fmt[] =
    "{\"server\":{\"version\":\"0.1.0\",\"pid\":4100,\"uptime\":%d,\"listen\":\"http://"
    "127.0.0.1:8080/\"},"
    "\"totals\":{\"connections\":12345,\"active\":12,\"requests\":%d,\"bytes\":%d},"
    "\"pool\":{\"configured\":{\"min\":2,\"max\":16},\"effective\":{\"min\":4,\"max\":32},"
    "\"limit\":64,\"current\":2,\"max_workload\":1024,\"workload\":12,\"queue\":0%s},"
    "\"roles\":{\"listener\":{\"count\":1,\"processes\":[{\"pid\":4101,"
    "\"state\":\"running\",\"uptime\":3723.4,\"heartbeat_age_ms\":120,\"restarts\":0}]},"
    "\"manager\":{\"count\":1,\"processes\":[{\"pid\":4102,\"state\":\"running\",\"uptime\":61,"
    "\"heartbeat_age_ms\":80,\"restarts\":1}]},"
    "\"worker\":{\"count\":2,\"processes\":[{\"pid\":4103,\"state\":\"running\",\"uptime\":60,"
    "\"heartbeat_age_ms\":30,\"restarts\":0,\"connections\":7,\"requests\":%d,\"bytes\":1},"
    "{\"pid\":4104,\"state\":\"draining\",\"uptime\":12.25,\"heartbeat_age_ms\":210,"
    "\"restarts\":2,\"connections\":9,\"requests\":27890,\"bytes\":2}]}}}";

static struct top_snap a, b;

static void snap(struct top_snap *s, uint64_t at, int uptime, int requests, int bytes,
    int w_requests, const char *pool_extra)
{
	char text[4096];
	cJSON *j;

	snprintf(text, sizeof(text), status_fmt, uptime, requests, bytes, pool_extra, w_requests);
	ck_assert_ptr_nonnull(j = cJSON_Parse(text));
	ck_assert_int_eq(top_snap_parse(j, at, s), 0);
	cJSON_Delete(j);
}

static const struct top_row *row(const struct top_snap *s, long pid)
{
	for (int i = 0; i < s->nrows; i++) {
		if (s->rows[i].pid == pid)
			return &s->rows[i];
	}
	ck_abort_msg("no row for pid %ld", pid);
	return NULL;
}

START_TEST(test_parse_documented_status)
{
	snap(&a, 1000, 3723, 67890, 123456789, 40000, "");
	ck_assert_str_eq(a.version, "0.1.0");
	ck_assert_int_eq(a.nrows, 4);
	ck_assert_str_eq(a.rows[0].role, "listener");
	ck_assert_double_eq(a.pool_min, 4);
	ck_assert_double_eq(a.pool_max, 32);
	ck_assert_double_eq(a.active, 12);
	/* Absent: no parked count, no decisions, no rate yet; never a failure. */
	ck_assert_double_lt(a.parked, 0);
	ck_assert_int_eq(a.ndecisions, 0);
	ck_assert_double_lt(a.req_rate, 0);
	ck_assert_double_lt(row(&a, 4101)->conns, 0);
	ck_assert_double_eq(row(&a, 4104)->conns, 9);
}
END_TEST

START_TEST(test_parked_and_decisions_when_present)
{
	snap(&a, 1000, 10, 1, 1, 1,
	    ",\"parked\":5,\"decisions\":[\"a\",\"b\",{\"action\":\"grow\",\"to\":3},"
	    "{\"reason\":\"queue\"}]");
	ck_assert_double_eq(a.parked, 5);
	ck_assert_int_eq(a.ndecisions, 3); /* the last three */
	ck_assert_str_eq(a.decisions[0], "b");
	ck_assert_str_eq(a.decisions[1], "grow to 3");
	ck_assert_str_eq(a.decisions[2], "queue");
}
END_TEST

START_TEST(test_not_a_status)
{
	cJSON *j = cJSON_Parse("{\"version\":\"0.1.0\"}");

	ck_assert_int_eq(top_snap_parse(j, 1, &a), -1);
	cJSON_Delete(j);
}
END_TEST

START_TEST(test_rates_from_two_results)
{
	snap(&a, 1000, 100, 1000, 5000, 400, "");
	snap(&b, 3000, 102, 1300, 9000, 500, "");
	top_rates(&a, &b);
	ck_assert_double_eq_tol(b.req_rate, 150, 1e-9);
	ck_assert_double_eq_tol(b.byte_rate, 2000, 1e-9);
	ck_assert_double_eq_tol(row(&b, 4103)->rate, 50, 1e-9);
	ck_assert_double_eq_tol(row(&b, 4104)->rate, 0, 1e-9);
	ck_assert_double_lt(row(&b, 4101)->rate, 0); /* not a worker: no requests */
	/* No previous result: unknown, not zero. */
	snap(&b, 3000, 102, 1300, 9000, 500, "");
	top_rates(NULL, &b);
	ck_assert_double_lt(b.req_rate, 0);
}
END_TEST

START_TEST(test_rates_after_a_new_wsd)
{
	/* wsd restarted between the two: counts went back, so no rate. */
	snap(&a, 1000, 100, 1000, 5000, 400, "");
	snap(&b, 2000, 1, 10, 50, 10, "");
	top_rates(&a, &b);
	ck_assert_double_lt(b.req_rate, 0);
	ck_assert_double_lt(row(&b, 4103)->rate, 0);
}
END_TEST

START_TEST(test_rate_for_a_new_pid_is_unknown)
{
	snap(&a, 1000, 100, 1000, 5000, 400, "");
	snap(&b, 2000, 101, 1100, 5000, 450, "");
	b.rows[2].pid = 5000;
	top_rates(&a, &b);
	ck_assert_double_lt(row(&b, 5000)->rate, 0);
}
END_TEST

START_TEST(test_sort_keys)
{
	snap(&a, 1000, 100, 1000, 5000, 400, "");
	snap(&b, 2000, 101, 1100, 5000, 450, "");
	top_rates(&a, &b);
	top_sort(&b, TOP_SORT_PID); /* largest first */
	ck_assert_int_eq(b.rows[0].pid, 4104);
	ck_assert_int_eq(b.rows[3].pid, 4101);
	top_sort(&b, TOP_SORT_ROLE); /* listener, manager, workers by pid */
	ck_assert_int_eq(b.rows[0].pid, 4101);
	ck_assert_int_eq(b.rows[1].pid, 4102);
	ck_assert_int_eq(b.rows[2].pid, 4103);
	top_sort(&b, TOP_SORT_RATE);
	ck_assert_int_eq(b.rows[0].pid, 4103); /* 50/s */
	top_sort(&b, TOP_SORT_CONNS);
	ck_assert_int_eq(b.rows[0].pid, 4104);
	top_sort(&b, TOP_SORT_UPTIME);
	ck_assert_int_eq(b.rows[0].pid, 4101);
	top_sort(&b, TOP_SORT_RESTARTS);
	ck_assert_int_eq(b.rows[0].pid, 4104);
	ck_assert_str_eq(top_sort_name(TOP_SORT_PID), "pid");
}
END_TEST

START_TEST(test_columns_fit_the_width)
{
	int all = 0;

	for (int i = 0; i < TOP_NCOLS; i++)
		all += top_col_width(i) + (i ? 1 : 0);
	ck_assert_int_eq(top_cols_fit(all), TOP_NCOLS);
	ck_assert_int_eq(top_cols_fit(all - 1), TOP_NCOLS - 1);
	ck_assert_int_eq(top_cols_fit(40), 4);
	ck_assert_int_eq(top_cols_fit(3), 2); /* role and pid always */
	ck_assert_str_eq(top_col_name(0), "ROLE");
}
END_TEST

START_TEST(test_cells)
{
	char buf[32];

	snap(&a, 1000, 100, 1000, 5000, 400, "");
	top_cell(row(&a, 4104), 2, buf, sizeof(buf));
	ck_assert_str_eq(buf, "draining");
	top_cell(row(&a, 4104), 4, buf, sizeof(buf));
	ck_assert_str_eq(buf, "210ms");
	top_cell(row(&a, 4101), 5, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-");
	top_cell(row(&a, 4103), 6, buf, sizeof(buf));
	ck_assert_str_eq(buf, "-"); /* no rate from one result */
	top_cell(row(&a, 4102), 7, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1");
}
END_TEST

START_TEST(test_lines_align_with_the_header)
{
	char head[256], line[256];
	int all = 0;

	for (int i = 0; i < TOP_NCOLS; i++)
		all += top_col_width(i) + (i ? 1 : 0);
	snap(&a, 1000, 100, 1000, 5000, 400, "");
	top_line(NULL, TOP_NCOLS, head, sizeof(head));
	top_line(row(&a, 4104), TOP_NCOLS, line, sizeof(line));
	ck_assert_int_eq((int)strlen(head), all);
	ck_assert_int_eq((int)strlen(line), all);
	ck_assert(strncmp(head, "ROLE ", 5) == 0);
	ck_assert(strncmp(line, "worker ", 7) == 0);
	/* Each number ends where its header ends: PID right-aligned under PID. */
	ck_assert(strncmp(head + 10, "     PID ", 9) == 0);
	ck_assert(strncmp(line + 10, "    4104 ", 9) == 0);
	top_line(row(&a, 4104), top_cols_fit(40), line, sizeof(line));
	ck_assert_int_le((int)strlen(line), 40);
	ck_assert_ptr_null(strstr(line, "210ms"));    /* HB dropped */
	top_line(row(&a, 4104), TOP_NCOLS, line, 12); /* a short buffer: cut, never overrun */
	ck_assert_int_le((int)strlen(line), 11);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("topmodel");
	TCase *tc = tcase_create("topmodel");

	tcase_add_test(tc, test_parse_documented_status);
	tcase_add_test(tc, test_parked_and_decisions_when_present);
	tcase_add_test(tc, test_not_a_status);
	tcase_add_test(tc, test_rates_from_two_results);
	tcase_add_test(tc, test_rates_after_a_new_wsd);
	tcase_add_test(tc, test_rate_for_a_new_pid_is_unknown);
	tcase_add_test(tc, test_sort_keys);
	tcase_add_test(tc, test_columns_fit_the_width);
	tcase_add_test(tc, test_cells);
	tcase_add_test(tc, test_lines_align_with_the_header);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
