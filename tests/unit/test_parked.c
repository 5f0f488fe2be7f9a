/* The listener's parked set: deadlines in order, removal anywhere, the cap, the peek verdict. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <stdlib.h>

#include "parked.h"

#define N 1000

/* Pop everything by deadline: never out of order. */
static void assert_drains_in_order(struct parked_set *s, size_t expect)
{
	uint64_t last = 0;
	size_t n = 0;
	struct parked *p;

	while ((p = parked_nearest(s)) != NULL) {
		ck_assert_uint_ge(p->deadline_ms, last);
		last = p->deadline_ms;
		parked_remove(s, p);
		n++;
	}
	ck_assert_uint_eq(n, expect);
}

START_TEST(test_deadline_order)
{
	static struct parked e[N];
	struct parked_set s;

	parked_init(&s, N);
	srand(7);
	for (int i = 0; i < N; i++) {
		e[i].deadline_ms = (uint64_t)(rand() % 5000);
		ck_assert_int_eq(parked_add(&s, &e[i]), 0);
	}
	ck_assert(parked_full(&s));
	assert_drains_in_order(&s, N);
	parked_free(&s);
}
END_TEST

/* A client leaving (or speaking) takes its entry out from anywhere in the heap. */
START_TEST(test_remove_anywhere)
{
	static struct parked e[N];
	struct parked_set s;

	parked_init(&s, 2 * N);
	for (int i = 0; i < N; i++) {
		e[i].deadline_ms = (uint64_t)((i * 7919) % N);
		parked_add(&s, &e[i]);
	}
	for (int i = 0; i < N; i += 3)
		parked_remove(&s, &e[i]);
	assert_drains_in_order(&s, N - (N + 2) / 3);
	parked_free(&s);
}
END_TEST

/* Only a deadline that has passed expires; equal counts as passed. */
START_TEST(test_expiry)
{
	struct parked a = {.deadline_ms = 100}, b = {.deadline_ms = 50};
	struct parked_set s;

	parked_init(&s, 10);
	ck_assert_ptr_null(parked_expired(&s, 1000));
	parked_add(&s, &a);
	parked_add(&s, &b);
	ck_assert_ptr_null(parked_expired(&s, 49));
	ck_assert_ptr_eq(parked_expired(&s, 50), &b);
	parked_remove(&s, &b);
	ck_assert_ptr_null(parked_expired(&s, 99));
	ck_assert_ptr_eq(parked_expired(&s, 100), &a);
	parked_free(&s);
}
END_TEST

/* At the cap the one nearest its deadline is what the listener closes. */
START_TEST(test_cap)
{
	struct parked e[3] = {{.deadline_ms = 300}, {.deadline_ms = 100}, {.deadline_ms = 200}};
	struct parked_set s;

	parked_init(&s, 3);
	for (int i = 0; i < 2; i++)
		parked_add(&s, &e[i]);
	ck_assert(!parked_full(&s));
	parked_add(&s, &e[2]);
	ck_assert(parked_full(&s));
	ck_assert_ptr_eq(parked_nearest(&s), &e[1]);
	s.max = 1; /* a reload lowered park_max */
	ck_assert(parked_full(&s));
	parked_free(&s);
}
END_TEST

/* Readiness beats expiry: bytes are a return whatever the deadline; EOF and errors close. */
START_TEST(test_verdict)
{
	ck_assert_int_eq(parked_verdict(1, 0), PARKED_RETURN);
	ck_assert_int_eq(parked_verdict(0, 0), PARKED_CLOSE);
	ck_assert_int_eq(parked_verdict(-1, EAGAIN), PARKED_IDLE);
	ck_assert_int_eq(parked_verdict(-1, EINTR), PARKED_IDLE);
	ck_assert_int_eq(parked_verdict(-1, ECONNRESET), PARKED_CLOSE);
}
END_TEST

START_TEST(test_default_max)
{
	ck_assert_uint_eq(parked_default_max(20000), 20000 - 256);
	ck_assert_uint_eq(parked_default_max(1024), 1024 - 256);
	ck_assert_uint_eq(parked_default_max(300), 150);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("parked");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_deadline_order);
	tcase_add_test(tc, test_remove_anywhere);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_cap);
	tcase_add_test(tc, test_verdict);
	tcase_add_test(tc, test_default_max);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
