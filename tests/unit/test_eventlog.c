/* The daemon's ring of events: numbering, order, wrap-around, followers. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <string.h>

#include "eventlog.h"

static struct elog l;

static void setup(void) { elog_init(&l); }

START_TEST(test_empty)
{
	ck_assert_ptr_null(elog_since(&l, 0));
	ck_assert_uint_eq(elog_first(&l), 1);
}
END_TEST

START_TEST(test_add_and_walk)
{
	const struct elog_rec *r;

	elog_add(&l, "started", "listener", 10, "pid %d", 10);
	elog_add(&l, "ready", "listener", 10, "%s", "");
	elog_add(&l, "exited", "manager", 11, "exit %d", 3);
	r = elog_since(&l, 0);
	ck_assert_uint_eq(r->seq, 1);
	ck_assert_str_eq(r->kind, "started");
	ck_assert_str_eq(r->detail, "pid 10");
	ck_assert_int_gt(r->time_ms, 1700000000000LL);
	r = elog_next(&l, r);
	ck_assert_str_eq(r->kind, "ready");
	r = elog_next(&l, r);
	ck_assert_str_eq(r->role, "manager");
	ck_assert_int_eq(r->pid, 11);
	ck_assert_str_eq(r->detail, "exit 3");
	ck_assert_ptr_null(elog_next(&l, r));
	/* since: from that seq on */
	ck_assert_uint_eq(elog_since(&l, 3)->seq, 3);
	ck_assert_ptr_null(elog_since(&l, 4));
}
END_TEST

START_TEST(test_wraps_oldest_first_out)
{
	const struct elog_rec *r;
	char d[16];
	uint64_t n = 0;

	for (int i = 1; i <= ELOG_CAP + 10; i++) {
		snprintf(d, sizeof(d), "%d", i);
		elog_add_at(&l, i, "tick", "daemon", 0, d);
	}
	ck_assert_uint_eq(elog_first(&l), 11);
	r = elog_since(&l, 1); /* gone: starts at the oldest held */
	ck_assert_uint_eq(r->seq, 11);
	ck_assert_str_eq(r->detail, "11");
	for (; r; r = elog_next(&l, r))
		n++;
	ck_assert_uint_eq(n, ELOG_CAP);
	ck_assert_str_eq(elog_since(&l, ELOG_CAP + 10)->detail, "522");
}
END_TEST

static int calls;
static uint64_t last_seq;

static void added(const struct elog_rec *r, void *arg)
{
	calls++;
	last_seq = r->seq;
	ck_assert_ptr_eq(arg, &l);
}

START_TEST(test_followers_told)
{
	l.added = added;
	l.arg = &l;
	elog_add(&l, "scale", "manager", 0, "2..16 -> %d..%d", 4, 8);
	ck_assert_int_eq(calls, 1);
	ck_assert_uint_eq(last_seq, 1);
}
END_TEST

START_TEST(test_long_detail_cut)
{
	char big[600];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_uint_eq(strlen(elog_add_at(&l, 1, "x", "y", 0, big)->detail),
	    sizeof(((struct elog_rec *)0)->detail) - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("eventlog");
	TCase *tc = tcase_create("ring");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_add_and_walk);
	tcase_add_test(tc, test_wraps_oldest_first_out);
	tcase_add_test(tc, test_followers_told);
	tcase_add_test(tc, test_long_detail_cut);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
