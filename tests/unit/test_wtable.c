/* The daemon's worker table: generations swap in whole, or not at all. */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "wtable.h"

static struct msg_worker_page page(
    uint32_t gen, uint16_t pg, uint16_t pages, uint32_t n, int32_t pid0)
{
	struct msg_worker_page p;

	memset(&p, 0, sizeof(p));
	p.generation = gen;
	p.page = pg;
	p.pages = pages;
	p.n = n;
	for (uint32_t i = 0; i < n; i++)
		p.entries[i].pid = pid0 + (int32_t)i;
	return p;
}

START_TEST(test_pages_count)
{
	ck_assert_uint_eq(wtable_pages(0), 1);
	ck_assert_uint_eq(wtable_pages(1), 1);
	ck_assert_uint_eq(wtable_pages(MSG_WORKER_PAGE_N), 1);
	ck_assert_uint_eq(wtable_pages(MSG_WORKER_PAGE_N + 1), 2);
}
END_TEST

START_TEST(test_single_page)
{
	struct wtable t = {0};
	struct msg_worker_page p = page(7, 0, 1, 3, 100);

	ck_assert_int_eq(wtable_page(&t, &p, 5), 1);
	ck_assert_int_eq(t.valid, 1);
	ck_assert_uint_eq(t.ncur, 3);
	ck_assert_uint_eq(t.gen, 7);
	ck_assert_int_eq(t.cur[2].pid, 102);
	wtable_free(&t);
}
END_TEST

START_TEST(test_multi_page_swaps_only_when_complete)
{
	struct wtable t = {0};
	struct msg_worker_page p0 = page(1, 0, 1, 2, 10);
	struct msg_worker_page a = page(2, 0, 2, MSG_WORKER_PAGE_N, 1000);
	struct msg_worker_page b = page(2, 1, 2, 5, 2000);

	ck_assert_int_eq(wtable_page(&t, &p0, 1), 1);
	ck_assert_int_eq(wtable_page(&t, &a, 2), 0);
	/* Half a generation is never shown. */
	ck_assert_uint_eq(t.gen, 1);
	ck_assert_uint_eq(t.ncur, 2);
	ck_assert_int_eq(wtable_page(&t, &b, 3), 1);
	ck_assert_uint_eq(t.gen, 2);
	ck_assert_uint_eq(t.ncur, MSG_WORKER_PAGE_N + 5);
	ck_assert_int_eq(t.cur[0].pid, 1000);
	ck_assert_int_eq(t.cur[MSG_WORKER_PAGE_N + 4].pid, 2004);
	/* And again, reusing the buffers. */
	ck_assert_int_eq(wtable_page(&t, &p0, 4), 1);
	ck_assert_uint_eq(t.ncur, 2);
	ck_assert_int_eq(t.cur[1].pid, 11);
	wtable_free(&t);
}
END_TEST

START_TEST(test_out_of_sequence_dropped)
{
	struct wtable t = {0};
	struct msg_worker_page a = page(3, 0, 3, MSG_WORKER_PAGE_N, 1);
	struct msg_worker_page c = page(3, 2, 3, 1, 3);
	struct msg_worker_page other = page(4, 1, 3, MSG_WORKER_PAGE_N, 9);

	ck_assert_int_eq(wtable_page(&t, &a, 1), 0);
	ck_assert_int_eq(wtable_page(&t, &c, 1), -1); /* page 1 missing */
	ck_assert_int_eq(t.valid, 0);
	ck_assert_int_eq(wtable_page(&t, &a, 1), 0);
	ck_assert_int_eq(wtable_page(&t, &other, 1), -1); /* another generation */
	ck_assert_int_eq(t.valid, 0);
	wtable_free(&t);
}
END_TEST

START_TEST(test_malformed_pages)
{
	struct wtable t = {0};
	struct msg_worker_page bad = page(1, 0, 0, 1, 1);    /* no pages */
	struct msg_worker_page past = page(1, 2, 2, 1, 1);   /* page >= pages */
	struct msg_worker_page over = page(1, 0, 1, 1, 1);   /* n too large */
	struct msg_worker_page short0 = page(1, 0, 2, 3, 1); /* non-last page not full */

	over.n = MSG_WORKER_PAGE_N + 1;
	ck_assert_int_eq(wtable_page(&t, &bad, 1), -1);
	ck_assert_int_eq(wtable_page(&t, &past, 1), -1);
	ck_assert_int_eq(wtable_page(&t, &over, 1), -1);
	ck_assert_int_eq(wtable_page(&t, &short0, 1), -1);
	ck_assert_int_eq(t.valid, 0);
	wtable_free(&t);
}
END_TEST

START_TEST(test_clear)
{
	struct wtable t = {0};
	struct msg_worker_page p = page(1, 0, 1, 2, 10);

	ck_assert_int_eq(wtable_page(&t, &p, 1), 1);
	wtable_clear(&t);
	ck_assert_int_eq(t.valid, 0);
	ck_assert_uint_eq(t.ncur, 0);
	wtable_free(&t);
}
END_TEST

/* A new manager: the old table stays until the new one's first complete generation. */
START_TEST(test_carry_until_the_new_table)
{
	struct wtable t = {0};
	struct msg_worker_page old = page(9, 0, 1, 2, 10);
	struct msg_worker_page a = page(1, 0, 2, MSG_WORKER_PAGE_N, 1000);
	struct msg_worker_page b = page(1, 1, 2, 1, 2000);

	ck_assert_int_eq(wtable_page(&t, &old, 1), 1);
	wtable_carry(&t);
	ck_assert_int_eq(t.valid, 1);
	ck_assert_int_eq(t.carried, 1);
	ck_assert_uint_eq(t.ncur, 2);
	ck_assert_int_eq(wtable_page(&t, &a, 2), 0);
	ck_assert_int_eq(t.cur[0].pid, 10); /* half of the new one is not shown */
	ck_assert_int_eq(wtable_page(&t, &b, 3), 1);
	ck_assert_int_eq(t.carried, 0);
	ck_assert_uint_eq(t.ncur, MSG_WORKER_PAGE_N + 1);
	ck_assert_int_eq(t.cur[0].pid, 1000);
	wtable_free(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("wtable");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_pages_count);
	tcase_add_test(tc, test_single_page);
	tcase_add_test(tc, test_multi_page_swaps_only_when_complete);
	tcase_add_test(tc, test_out_of_sequence_dropped);
	tcase_add_test(tc, test_malformed_pages);
	tcase_add_test(tc, test_clear);
	tcase_add_test(tc, test_carry_until_the_new_table);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
