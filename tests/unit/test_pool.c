/* The pool policy: every rule over (workers, connections, busy share, lag, queue, time). */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "pool.h"

static const struct pool_params P = {.min = 1,
    .max = 16,
    .max_workload = 8,
    .scale_up_ppm = 750000,
    .scale_down_ppm = 250000,
    .spawn_rate_max = 8,
    .idle_timeout_ms = 10000};

/* n running workers alike. */
static struct pool_worker W[32];

static struct pool_input in_of(
    uint32_t n, uint32_t conns, uint32_t busy, uint32_t lag_us, uint32_t queue, uint64_t now)
{
	for (uint32_t i = 0; i < n; i++)
		W[i] = (struct pool_worker){conns, busy, lag_us};
	return (struct pool_input){.w = W, .nrunning = n, .queue = queue, .now_ms = now};
}

static enum pool_action tick(struct pool_state *st, struct pool_input in, struct pool_decision *d)
{
	return pool_decide(st, &P, &in, d);
}

START_TEST(test_queue_with_no_room_grows_after_a_whole_tick)
{
	struct pool_state st = {0};
	struct pool_decision d;

	ck_assert_int_eq(tick(&st, in_of(1, 8, 100000, 0, 0, 1000), &d), POOL_KEEP);
	/* 200 ms later the queue grows and the one worker is full: its clock starts. */
	ck_assert_int_eq(tick(&st, in_of(1, 8, 100000, 0, 37, 1200), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(1, 8, 100000, 0, 37, 2000), &d), POOL_KEEP);
	/* Non-empty a whole tick since: no waiting for the next tick either. */
	ck_assert_int_eq(tick(&st, in_of(1, 8, 100000, 0, 37, 2200), &d), POOL_GROW);
	ck_assert_uint_eq(d.from, 1);
	ck_assert_uint_eq(d.to, 3); /* the first tick starts two */
	ck_assert_ptr_nonnull(strstr(d.reason, "whole tick, no worker has room"));
	ck_assert_ptr_nonnull(strstr(d.reason, "queue 37"));
}
END_TEST

/*
 * Idle keep-alive connections arriving fast: a worker at max_workload (its
 * report of a parked one not yet read) and one connection in the channel,
 * seen at two samples a tick apart - but the queue was empty in between.
 * One sample of a queue is no load: the pool keeps its size.
 */
START_TEST(test_queue_seen_empty_between_samples_does_not_grow)
{
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in;

	ck_assert_int_eq(tick(&st, in_of(1, 8, 0, 380000, 1, 1000), &d), POOL_KEEP);
	in = in_of(1, 8, 0, 0, 1, 2000);
	in.emptied = 1;
	ck_assert_int_eq(pool_decide(&st, &P, &in, &d), POOL_KEEP);
	in = in_of(1, 8, 0, 0, 1, 2900);
	in.emptied = 1;
	ck_assert_int_eq(pool_decide(&st, &P, &in, &d), POOL_KEEP);
	/* A single sample, even at a full tick with no room: no growth. */
	ck_assert_int_eq(tick(&st, in_of(1, 8, 0, 0, 0, 3000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(1, 8, 0, 0, 1, 4000), &d), POOL_KEEP);
	/* Not seen empty since, a whole tick later: that is a queue. */
	ck_assert_int_eq(tick(&st, in_of(1, 8, 0, 0, 1, 5000), &d), POOL_GROW);
}
END_TEST

START_TEST(test_starting_workers_absorb_the_queue)
{
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in = in_of(1, 8, 0, 0, 16, 1000);

	in.nstarting = 2; /* room for 16 once they run */
	ck_assert_int_eq(pool_decide(&st, &P, &in, &d), POOL_KEEP);
	in.queue = 17; /* a whole tick later, one more than they will take */
	in.now_ms = 2000;
	ck_assert_int_eq(pool_decide(&st, &P, &in, &d), POOL_GROW);
	ck_assert_uint_eq(d.to - d.from, 1); /* just what the rest needs */
}
END_TEST

START_TEST(test_queue_a_whole_tick_grows_even_with_room)
{
	struct pool_state st = {0};
	struct pool_decision d;

	/* A worker has room but connections sit in the channel (a blocked worker). */
	ck_assert_int_eq(tick(&st, in_of(2, 4, 0, 0, 3, 1000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(2, 4, 0, 0, 3, 1500), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(2, 4, 0, 0, 3, 2000), &d), POOL_GROW);
	ck_assert_ptr_nonnull(strstr(d.reason, "whole tick"));
}
END_TEST

START_TEST(test_busy_grows_doubling_up_to_rate)
{
	struct pool_state st = {0};
	struct pool_decision d;
	uint32_t n = 1, steps[] = {2, 4, 8, 1};

	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(
		    tick(&st, in_of(n, 1, 910000, 0, 0, 1000 + 1000 * (uint64_t)i), &d), POOL_GROW);
		ck_assert_uint_eq(d.to - d.from, steps[i]);
		n = d.to;
	}
	ck_assert_uint_eq(n, 16); /* 1+2+4+8 = 15, then only 1 left below max */
	ck_assert_int_eq(tick(&st, in_of(16, 1, 990000, 0, 0, 6000), &d), POOL_KEEP); /* at max */
}
END_TEST

START_TEST(test_busy_waits_for_starting_workers)
{
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in = in_of(2, 1, 950000, 0, 0, 1000);

	in.nstarting = 2;
	ck_assert_int_eq(pool_decide(&st, &P, &in, &d), POOL_KEEP);
}
END_TEST

START_TEST(test_streak_resets)
{
	struct pool_state st = {0};
	struct pool_decision d;

	ck_assert_int_eq(tick(&st, in_of(2, 1, 900000, 0, 0, 1000), &d), POOL_GROW);
	ck_assert_int_eq(tick(&st, in_of(4, 1, 500000, 0, 0, 2000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(4, 1, 900000, 0, 0, 3000), &d), POOL_GROW);
	ck_assert_uint_eq(d.to - d.from, 2); /* not 4: the streak broke */
}
END_TEST

START_TEST(test_spawn_rate_max_caps)
{
	struct pool_params p = P;
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in = in_of(2, 1, 900000, 0, 0, 1000);

	p.spawn_rate_max = 1;
	ck_assert_int_eq(pool_decide(&st, &p, &in, &d), POOL_GROW);
	ck_assert_uint_eq(d.to - d.from, 1);
}
END_TEST

START_TEST(test_lag_must_stay_above_bound)
{
	struct pool_state st = {0};
	struct pool_decision d;

	ck_assert_int_eq(tick(&st, in_of(2, 1, 300000, 80000, 0, 1000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(2, 1, 300000, 1000, 0, 2000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(2, 1, 300000, 80000, 0, 3000), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(2, 1, 300000, 80000, 0, 4000), &d), POOL_GROW);
	ck_assert_ptr_nonnull(strstr(d.reason, "lag 80 ms"));
}
END_TEST

/* Idle workers whose loops run late: the machine stalls; neither grow nor keep the pool. */
START_TEST(test_lag_of_idle_workers_is_the_machine)
{
	struct pool_state st = {0};
	struct pool_decision d;
	uint64_t t = 1000;

	for (; t < 11000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(3, 0, 10000, 200000, 0, t), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(3, 0, 10000, 200000, 0, t), &d), POOL_SHRINK);
}
END_TEST

START_TEST(test_idle_connections_are_not_load)
{
	struct pool_state st = {0};
	struct pool_decision d;

	/* 4 workers each with 7 idle keep-alive connections: nothing to do. */
	for (uint64_t t = 1000; t < 30000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(4, 7, 10000, 0, 0, t), &d), POOL_KEEP);
}
END_TEST

START_TEST(test_shrink_after_idle_timeout_one_per_tick)
{
	struct pool_state st = {0};
	struct pool_decision d;
	uint64_t t = 1000;

	for (; t < 11000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(4, 0, 10000, 0, 0, t), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(4, 0, 10000, 0, 0, t), &d), POOL_SHRINK);
	ck_assert_uint_eq(d.to, 3);
	/* Sooner than a tick later: not again. */
	ck_assert_int_eq(tick(&st, in_of(3, 0, 10000, 0, 0, t + 100), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(3, 0, 10000, 0, 0, t + 1000), &d), POOL_SHRINK);
	ck_assert_int_eq(tick(&st, in_of(2, 0, 10000, 0, 0, t + 2000), &d), POOL_SHRINK);
	ck_assert_int_eq(tick(&st, in_of(1, 0, 10000, 0, 0, t + 3000), &d), POOL_KEEP); /* min */
}
END_TEST

START_TEST(test_load_resets_the_quiet)
{
	struct pool_state st = {0};
	struct pool_decision d;

	for (uint64_t t = 1000; t < 9000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(4, 0, 10000, 0, 0, t), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(4, 0, 400000, 0, 0, 9000), &d), POOL_KEEP);
	for (uint64_t t = 10000; t < 20000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(4, 0, 10000, 0, 0, t), &d), POOL_KEEP);
	ck_assert_int_eq(tick(&st, in_of(4, 0, 10000, 0, 0, 20000), &d), POOL_SHRINK);
}
END_TEST

START_TEST(test_shrink_only_if_the_rest_hold_the_connections)
{
	struct pool_state st = {0};
	struct pool_decision d;

	/* 3 workers with 6 connections each (idle keep-alive): 18 > 2 * 8. */
	for (uint64_t t = 1000; t < 40000; t += 1000)
		ck_assert_int_eq(tick(&st, in_of(3, 6, 10000, 0, 0, t), &d), POOL_KEEP);
}
END_TEST

START_TEST(test_victim_has_fewest_connections)
{
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in;

	for (uint64_t t = 1000; t <= 11000; t += 1000) {
		in = in_of(3, 2, 0, 0, 0, t);
		W[1].conns = 0;
		pool_decide(&st, &P, &in, &d);
	}
	ck_assert_int_eq(d.action, POOL_SHRINK);
	ck_assert_uint_eq(d.victim, 1);
}
END_TEST

/* Load sitting at either threshold never makes the pool go up and down. */
START_TEST(test_no_flapping_at_thresholds)
{
	struct pool_state st = {0};
	struct pool_decision d;
	uint32_t n = 4, total = 4 * 750000; /* the work: 4 workers exactly at scale_up_at */
	int changes = 0;

	for (uint64_t t = 1000; t < 120000; t += 1000) {
		if (tick(&st, in_of(n, 1, total / n, 0, 0, t), &d) != POOL_KEEP) {
			n = d.to;
			changes++;
		}
	}
	ck_assert_int_eq(changes, 0);
	/* Just above: it grows once, and the spread load stays put. */
	total = 4 * 760000;
	for (uint64_t t = 120000; t < 240000; t += 1000) {
		if (tick(&st, in_of(n, 1, total / n, 0, 0, t), &d) != POOL_KEEP) {
			n = d.to;
			changes++;
		}
	}
	ck_assert_int_eq(changes, 1);
	/* Just below scale_down_at in total for 2: it shrinks to where the rest stays below. */
	total = 2 * 240000;
	changes = 0;
	for (uint64_t t = 240000; t < 400000; t += 1000) {
		enum pool_action a = tick(&st, in_of(n, 0, total / n, 0, 0, t), &d);

		if (a == POOL_GROW)
			ck_abort_msg("grew while shrinking");
		if (a == POOL_SHRINK) {
			n = d.to;
			changes++;
		}
	}
	ck_assert_uint_eq(n, 1); /* 0.48 on one worker: below scale_up_at, no regrowth */
}
END_TEST

START_TEST(test_bounds)
{
	struct pool_params p = P;
	struct pool_state st = {0};
	struct pool_decision d;
	struct pool_input in = in_of(3, 8, 990000, 0, 50, 1000);

	p.max = 3;
	ck_assert_int_eq(pool_decide(&st, &p, &in, &d), POOL_KEEP);
	p.max = 16;
	p.min = 3;
	for (uint64_t t = 2000; t < 30000; t += 1000) {
		in = in_of(3, 0, 0, 0, 0, t);
		ck_assert_int_eq(pool_decide(&st, &p, &in, &d), POOL_KEEP);
	}
}
END_TEST

START_TEST(test_parse_share)
{
	uint32_t v;

	ck_assert_int_eq(pool_parse_share("0.75", &v), 0);
	ck_assert_uint_eq(v, 750000);
	ck_assert_int_eq(pool_parse_share(".25", &v), 0);
	ck_assert_uint_eq(v, 250000);
	ck_assert_int_eq(pool_parse_share("1", &v), 0);
	ck_assert_uint_eq(v, 1000000);
	ck_assert_int_eq(pool_parse_share("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(pool_parse_share("0.123456", &v), 0);
	ck_assert_uint_eq(v, 123456);
	ck_assert_int_eq(pool_parse_share("1.5", &v), -1);
	ck_assert_int_eq(pool_parse_share("75%", &v), -1);
	ck_assert_int_eq(pool_parse_share("0.", &v), -1);
	ck_assert_int_eq(pool_parse_share("", &v), -1);
	ck_assert_int_eq(pool_parse_share("0.1234567", &v), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;

	tcase_add_test(tc, test_queue_with_no_room_grows_after_a_whole_tick);
	tcase_add_test(tc, test_queue_seen_empty_between_samples_does_not_grow);
	tcase_add_test(tc, test_starting_workers_absorb_the_queue);
	tcase_add_test(tc, test_queue_a_whole_tick_grows_even_with_room);
	tcase_add_test(tc, test_busy_grows_doubling_up_to_rate);
	tcase_add_test(tc, test_busy_waits_for_starting_workers);
	tcase_add_test(tc, test_streak_resets);
	tcase_add_test(tc, test_spawn_rate_max_caps);
	tcase_add_test(tc, test_lag_must_stay_above_bound);
	tcase_add_test(tc, test_lag_of_idle_workers_is_the_machine);
	tcase_add_test(tc, test_idle_connections_are_not_load);
	tcase_add_test(tc, test_shrink_after_idle_timeout_one_per_tick);
	tcase_add_test(tc, test_load_resets_the_quiet);
	tcase_add_test(tc, test_shrink_only_if_the_rest_hold_the_connections);
	tcase_add_test(tc, test_victim_has_fewest_connections);
	tcase_add_test(tc, test_no_flapping_at_thresholds);
	tcase_add_test(tc, test_bounds);
	tcase_add_test(tc, test_parse_share);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
