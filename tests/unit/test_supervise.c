/* Supervision bookkeeping: hang detection, exit causes, restart back-off. */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "supervise.h"

/* Wait statuses as waitpid(2) reports them. */
#define EXITED(code) ((code) << 8)
#define SIGNALED(sig) (sig)

START_TEST(test_hang_after_misses)
{
	struct sv_child c = {.role = "listener"};

	sv_started(&c, 42, 1000);
	ck_assert_int_eq(c.state, SV_STARTING);
	ck_assert_int_eq(sv_check(&c, 1600, 200, 3), 0); /* exactly 3 intervals: not yet */
	ck_assert_int_eq(sv_missed(&c, 1600, 200), 3);
	ck_assert_int_eq(sv_check(&c, 1601, 200, 3), 1);
	ck_assert_int_eq(c.hung_ms, 601);
	ck_assert_int_eq(sv_check(&c, 1800, 200, 3), 0); /* reported once */
}
END_TEST

START_TEST(test_heartbeat_resets_silence)
{
	struct sv_child c = {.role = "worker"};
	struct msg_heartbeat hb = {.seq = 1, .requests = 7};

	sv_started(&c, 42, 0);
	sv_heartbeat(&c, &hb, 500);
	ck_assert_int_eq(sv_check(&c, 1000, 200, 3), 0);
	ck_assert_int_eq(sv_check(&c, 1101, 200, 3), 1);
	ck_assert_int_eq(c.figures.requests, 7);
}
END_TEST

START_TEST(test_stalled_supervisor_forgives)
{
	struct sv_child c = {.role = "manager"};

	sv_started(&c, 42, 0);
	/* The supervisor was itself stopped from 100 to 1100: 900 ms forgiven. */
	sv_forgive(&c, 900, 1100);
	ck_assert_int_eq(sv_check(&c, 1100, 200, 3), 0);
	ck_assert_int_eq(sv_check(&c, 1501, 200, 3), 1);
	/* Never forgiven past now. */
	sv_started(&c, 43, 2000);
	sv_forgive(&c, 5000, 2100);
	ck_assert_uint_eq(c.last_hb_ms, 2100);
}
END_TEST

START_TEST(test_exit_causes)
{
	struct sv_child c = {.role = "manager"};

	sv_started(&c, 42, 0);
	sv_exited(&c, EXITED(3), 10);
	ck_assert_str_eq(c.last_exit, "exit 3");
	ck_assert_int_eq(c.state, SV_STOPPED);
	ck_assert_int_eq(c.pid, 0);
	sv_started(&c, 43, 0);
	sv_exited(&c, SIGNALED(SIGSEGV), 10);
	ck_assert_str_eq(c.last_exit, "crash: SIGSEGV");
	sv_started(&c, 44, 0);
	sv_exited(&c, SIGNALED(SIGKILL), 10);
	ck_assert_str_eq(c.last_exit, "killed: SIGKILL");
	sv_started(&c, 45, 0);
	ck_assert_int_eq(sv_check(&c, 900, 200, 3), 1);
	sv_exited(&c, SIGNALED(SIGKILL), 900);
	ck_assert_str_eq(c.last_exit, "hung: no heartbeat for 900 ms");
}
END_TEST

START_TEST(test_backoff_doubles_and_resets)
{
	struct sv_child c = {.role = "listener"};
	uint32_t want[] = {0, 100, 200, 400, 800, 1600, 3200, 5000, 5000};
	uint64_t now = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sv_started(&c, 42, now);
		now += 10; /* a quick failure */
		ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now), want[i]);
	}
	/* A minute of stable running resets the back-off. */
	sv_started(&c, 42, now);
	now += SV_STABLE_MS;
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now), 0);
	sv_started(&c, 42, now);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now + 5), 100);
}
END_TEST

START_TEST(test_state_names)
{
	ck_assert_str_eq(sv_state_name(SV_STARTING), "starting");
	ck_assert_str_eq(sv_state_name(SV_RUNNING), "running");
	ck_assert_str_eq(sv_state_name(SV_DRAINING), "draining");
	ck_assert_str_eq(sv_state_name(SV_STOPPED), "stopped");
	ck_assert_str_eq(sv_state_name((enum sv_state)99), "?");
}
END_TEST

START_TEST(test_retired_figures_never_go_backwards)
{
	struct sv_child c = {.role = "worker"};
	struct msg_heartbeat retired = {0}, hb = {.accepted = 3, .requests = 10, .bytes = 500};

	hb.resp_hist[1] = 4;
	sv_started(&c, 42, 0);
	sv_heartbeat(&c, &hb, 1);
	sv_retire_figures(&c, &retired);
	ck_assert_uint_eq(retired.requests, 10);
	ck_assert_uint_eq(retired.bytes, 500);
	ck_assert_uint_eq(retired.accepted, 3);
	ck_assert_uint_eq(retired.resp_hist[1], 4);
	ck_assert_uint_eq(c.figures.requests, 0); /* not counted twice */
	sv_retire_figures(&c, &retired);
	ck_assert_uint_eq(retired.requests, 10);
}
END_TEST

START_TEST(test_restart_due_time)
{
	struct sv_child c = {.role = "worker"};
	uint32_t delay;

	sv_started(&c, 42, 1000);
	sv_exited(&c, 0, 1010); /* first failure: at once */
	ck_assert_uint_eq(c.restart_at_ms, 1010);
	sv_started(&c, 43, 1010);
	delay = sv_exited(&c, 0, 1020);
	ck_assert_uint_gt(delay, 0);
	ck_assert_uint_eq(c.restart_at_ms, 1020 + delay);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("supervise");
	TCase *tc = tcase_create("supervise");
	SRunner *sr;

	tcase_add_test(tc, test_hang_after_misses);
	tcase_add_test(tc, test_heartbeat_resets_silence);
	tcase_add_test(tc, test_exit_causes);
	tcase_add_test(tc, test_stalled_supervisor_forgives);
	tcase_add_test(tc, test_backoff_doubles_and_resets);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_retired_figures_never_go_backwards);
	tcase_add_test(tc, test_restart_due_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
