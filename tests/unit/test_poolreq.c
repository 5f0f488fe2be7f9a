/* The daemon's pending requests to the manager: ids, parts, and failing them all when it dies. */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "jsonrpc.h"
#include "poolreq.h"

struct seen {
	int calls, code;
	char text[64];
	unsigned nitems;
	int64_t v0, item1;
};

static void record(void *arg, const struct poolreq_result *r)
{
	struct seen *s = arg;

	s->calls++;
	s->code = r->code;
	strncpy(s->text, r->text ? r->text : "", sizeof(s->text) - 1);
	s->nitems = r->nitems;
	s->v0 = r->values[0];
	s->item1 = r->nitems > 1 ? r->items[1].values[0] : -1;
}

static const int mgr_a = 1, mgr_b = 2; /* two manager processes, by address */

START_TEST(test_reply_by_id)
{
	struct poolreqs t = {0};
	struct seen s = {0};
	uint32_t id = poolreq_add(&t, &mgr_a, record, &s);
	struct msg_reply r = {.id = id, .values = {42}};

	ck_assert_uint_ne(id, 0);
	ck_assert_uint_eq(poolreq_pending(&t), 1);
	/* A reply from a process it was not sent to, or with another id, is ignored. */
	ck_assert_int_eq(poolreq_reply(&t, &mgr_b, &r), 0);
	r.id = id + 1;
	ck_assert_int_eq(poolreq_reply(&t, &mgr_a, &r), 0);
	ck_assert_int_eq(s.calls, 0);
	r.id = id;
	ck_assert_int_eq(poolreq_reply(&t, &mgr_a, &r), 1);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.code, 0);
	ck_assert_int_eq(s.v0, 42);
	ck_assert_uint_eq(poolreq_pending(&t), 0);
	/* Late: answered once only. */
	ck_assert_int_eq(poolreq_reply(&t, &mgr_a, &r), 0);
	ck_assert_int_eq(s.calls, 1);
}
END_TEST

START_TEST(test_parts_then_final)
{
	struct poolreqs t = {0};
	struct seen s = {0};
	uint32_t id = poolreq_add(&t, &mgr_a, record, &s);
	struct msg_reply r = {.id = id, .more = 1};

	for (int i = 0; i < 20; i++) { /* past the first allocation */
		r.values[0] = 100 + i;
		ck_assert_int_eq(poolreq_reply(&t, &mgr_a, &r), 1);
	}
	ck_assert_int_eq(s.calls, 0);
	r.more = 0;
	r.values[0] = 20;
	ck_assert_int_eq(poolreq_reply(&t, &mgr_a, &r), 1);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_uint_eq(s.nitems, 20);
	ck_assert_int_eq(s.item1, 101);
	ck_assert_int_eq(s.v0, 20);
}
END_TEST

START_TEST(test_owner_gone_fails_its_requests_only)
{
	struct poolreqs t = {0};
	struct seen a = {0}, b = {0};

	poolreq_add(&t, &mgr_a, record, &a);
	poolreq_add(&t, &mgr_b, record, &b);
	ck_assert_uint_eq(poolreq_fail(&t, &mgr_a, RPC_FAILED, "the manager exited"), 1);
	ck_assert_int_eq(a.calls, 1);
	ck_assert_int_eq(a.code, RPC_FAILED);
	ck_assert_str_eq(a.text, "the manager exited");
	ck_assert_int_eq(b.calls, 0);
	ck_assert_uint_eq(poolreq_pending(&t), 1);
	ck_assert_uint_eq(poolreq_fail(&t, &mgr_a, RPC_FAILED, "again"), 0);
}
END_TEST

START_TEST(test_full_and_cancel)
{
	struct poolreqs t = {0};
	struct seen s = {0};
	uint32_t ids[POOLREQ_MAX];

	for (int i = 0; i < POOLREQ_MAX; i++)
		ck_assert_uint_ne(ids[i] = poolreq_add(&t, &mgr_a, record, &s), 0);
	ck_assert_uint_eq(poolreq_add(&t, &mgr_a, record, &s), 0);
	poolreq_cancel(&t, ids[3]);
	ck_assert_uint_eq(poolreq_pending(&t), POOLREQ_MAX - 1);
	ck_assert_uint_ne(poolreq_add(&t, &mgr_a, record, &s), 0);
	ck_assert_uint_eq(poolreq_fail(&t, &mgr_a, RPC_FAILED, "x"), POOLREQ_MAX);
	ck_assert_int_eq(s.calls, POOLREQ_MAX); /* the cancelled one never called back */
}
END_TEST

/* A callback may start the next request: the slot it came from is free already. */
static struct poolreqs *chain_t;
static void chain(void *arg, const struct poolreq_result *r)
{
	*(uint32_t *)arg = poolreq_add(chain_t, &mgr_a, record, &(struct seen){0});
	(void)r;
}

START_TEST(test_callback_may_add)
{
	struct poolreqs t = {0};
	uint32_t next = 0;

	chain_t = &t;
	for (int i = 0; i < POOLREQ_MAX - 1; i++)
		poolreq_add(&t, &mgr_b, record, &(struct seen){0});
	poolreq_add(&t, &mgr_a, chain, &next);
	poolreq_fail(&t, &mgr_a, RPC_FAILED, "gone");
	ck_assert_uint_ne(next, 0);
	poolreq_cancel(&t, next);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("poolreq");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_reply_by_id);
	tcase_add_test(tc, test_parts_then_final);
	tcase_add_test(tc, test_owner_gone_fails_its_requests_only);
	tcase_add_test(tc, test_full_and_cancel);
	tcase_add_test(tc, test_callback_may_add);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
