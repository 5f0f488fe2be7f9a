/* Supervision bookkeeping: hang detection, exit causes, restart back-off. */
#include <check.h>

#include "check_run.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"
#include "supervise.h"

static const struct sv_limits lim = {200, 3, 10000}; /* interval, misses, startup */

/* Wait statuses as waitpid(2) reports them. */
#define EXITED(code) ((code) << 8)
#define SIGNALED(sig) (sig)

START_TEST(test_hang_after_misses)
{
	struct sv_child c = {.role = "listener"};

	struct msg_heartbeat hb = {.seq = 1};

	sv_started(&c, 42, 900);
	ck_assert_int_eq(c.state, SV_STARTING);
	sv_heartbeat(&c, &hb, 1000);
	ck_assert_int_eq(sv_check(&c, 1600, &lim), SV_FINE); /* exactly 3 intervals: not yet */
	ck_assert_int_eq(sv_missed(&c, 1600, 200), 3);
	ck_assert_int_eq(sv_check(&c, 1601, &lim), SV_HUNG);
	ck_assert_int_eq(c.hung_ms, 601);
	ck_assert_int_eq(sv_check(&c, 1800, &lim), SV_FINE); /* reported once */
}
END_TEST

START_TEST(test_heartbeat_resets_silence)
{
	struct sv_child c = {.role = "worker"};
	struct msg_heartbeat hb = {.seq = 1, .requests = 7};

	sv_started(&c, 42, 0);
	sv_heartbeat(&c, &hb, 500);
	ck_assert_int_eq(sv_check(&c, 1000, &lim), 0);
	ck_assert_int_eq(sv_check(&c, 1101, &lim), 1);
	ck_assert_int_eq(c.figures.requests, 7);
}
END_TEST

START_TEST(test_stalled_supervisor_forgives)
{
	struct sv_child c = {.role = "manager"};
	struct msg_heartbeat hb = {.seq = 1};

	sv_started(&c, 42, 0);
	sv_heartbeat(&c, &hb, 0);
	/* The supervisor was itself stopped from 100 to 1100: 900 ms forgiven. */
	sv_forgive(&c, 900, 1100);
	ck_assert_int_eq(sv_check(&c, 1100, &lim), 0);
	ck_assert_int_eq(sv_check(&c, 1501, &lim), 1);
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
	sv_heartbeat(&c, &(struct msg_heartbeat){.seq = 1}, 0);
	ck_assert_int_eq(sv_check(&c, 900, &lim), SV_HUNG);
	sv_exited(&c, SIGNALED(SIGKILL), 900);
	ck_assert_str_eq(c.last_exit, "hung: no heartbeat for 900 ms");
}
END_TEST

/* Until its first heartbeat a child is judged by the start-up timeout, from the fork. */
START_TEST(test_startup_grace)
{
	struct sv_child c = {.role = "worker"};

	sv_started(&c, 42, 1000);
	/* Far past interval x misses (600 ms): still starting, not hung. */
	ck_assert_int_eq(sv_check(&c, 1601, &lim), SV_FINE);
	ck_assert_int_eq(sv_check(&c, 11000, &lim), SV_FINE);
	ck_assert_int_eq(sv_check(&c, 11001, &lim), SV_DID_NOT_START);
	ck_assert_int_eq(sv_check(&c, 11500, &lim), SV_FINE); /* reported once */
	sv_exited(&c, SIGNALED(SIGKILL), 11010);
	ck_assert_str_eq(c.last_exit, "did not start in 10001 ms");
	/* A start-up failure is a crash loop: the next one waits. */
	sv_started(&c, 43, 20000);
	ck_assert_int_eq(sv_check(&c, 30001, &lim), SV_DID_NOT_START);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGKILL), 30010), SV_BACKOFF_MIN_MS);
	/* Once heard, the heartbeat rule alone. */
	sv_started(&c, 44, 40000);
	sv_heartbeat(&c, &(struct msg_heartbeat){.seq = 1}, 45000);
	ck_assert_int_eq(sv_check(&c, 45600, &lim), SV_FINE);
	ck_assert_int_eq(sv_check(&c, 45601, &lim), SV_HUNG);
	sv_exited(&c, SIGNALED(SIGKILL), 45610);
	ck_assert_str_eq(c.last_exit, "hung: no heartbeat for 601 ms");
}
END_TEST

START_TEST(test_ready_is_recorded)
{
	struct sv_child c = {.role = "manager"};

	sv_started(&c, 42, 100);
	ck_assert_uint_eq(c.ready_ms, 0);
	sv_ready(&c, 250);
	ck_assert_int_eq(c.state, SV_RUNNING);
	ck_assert_uint_eq(c.ready_ms, 250);
	sv_ready(&c, 900); /* the first READY counts */
	ck_assert_uint_eq(c.ready_ms, 250);
	sv_started(&c, 43, 1000);
	ck_assert_uint_eq(c.ready_ms, 0);
}
END_TEST

/* Exits before READY, or less than a second after it: the back-off grows. */
START_TEST(test_crash_loop_backs_off)
{
	struct sv_child c = {.role = "listener"};
	uint32_t want[] = {0, 100, 200, 400, 800, 1600, 3200, 5000, 5000};
	uint64_t now = 0;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		sv_started(&c, 42, now);
		now += 10; /* a quick failure */
		if (i % 2)
			sv_ready(&c, now - 5); /* READY, then dead 5 ms later */
		ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now), want[i]);
	}
	/* READY 999 ms before the end: still a crash loop. */
	sv_started(&c, 42, now);
	sv_ready(&c, now + 1);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now + 1000), 5000);
}
END_TEST

/* A process that had been serving is replaced at once, however often it is killed. */
START_TEST(test_served_restarts_at_once)
{
	struct sv_child c = {.role = "manager"};
	uint64_t now = 0;

	for (int i = 0; i < 8; i++) {
		sv_started(&c, 42 + i, now);
		sv_ready(&c, now + 30);
		now += 1030; /* served exactly SV_SERVED_MS */
		ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGKILL), now), 0);
	}
	/* Then a crash loop starts from the shortest delay. */
	sv_started(&c, 50, now);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now + 5), SV_BACKOFF_MIN_MS);
	sv_started(&c, 51, now);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGSEGV), now + 5), 2 * SV_BACKOFF_MIN_MS);
	/* Hung after serving: at once too. */
	sv_started(&c, 52, now);
	sv_ready(&c, now);
	sv_heartbeat(&c, &(struct msg_heartbeat){.seq = 1}, now + 2000);
	ck_assert_int_eq(sv_check(&c, now + 2601, &lim), SV_HUNG);
	ck_assert_uint_eq(sv_exited(&c, SIGNALED(SIGKILL), now + 2610), 0);
}
END_TEST

struct pids {
	pid_t got[4096];
	int n;
};

static void collect(pid_t pid, void *arg)
{
	struct pids *p = arg;

	if (p->n < 4096)
		p->got[p->n++] = pid;
}

/* A children list longer than one read: every pid whole, none cut in two. */
START_TEST(test_pid_list_read_to_end)
{
	char path[] = "/tmp/wsd-pids-XXXXXX";
	static struct pids p;
	int fd = mkstemp(path);
	FILE *f = fdopen(dup(fd), "w");

	ck_assert_int_ge(fd, 0);
	unlink(path);
	fprintf(f, "0 1 ");            /* never a process group, never init */
	for (int i = 0; i < 1500; i++) /* 12000 bytes: far more than one 4 KiB read */
		fprintf(f, "%d ", 4000000 + i * 7);
	fprintf(f, "123\n"); /* the last one, without a trailing space */
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(proc_each_pid(fd, collect, &p), 1501);
	ck_assert_int_eq(p.n, 1501);
	for (int i = 0; i < 1500; i++)
		ck_assert_int_eq(p.got[i], 4000000 + i * 7);
	ck_assert_int_eq(p.got[1500], 123);
	close(fd);
}
END_TEST

/* The real list: our own children, exactly. */
START_TEST(test_children_listed)
{
	static struct pids p;
	pid_t kids[3];

	for (int i = 0; i < 3; i++)
		if ((kids[i] = fork()) == 0) {
			pause();
			_exit(0);
		}
	memset(&p, 0, sizeof(p));
	ck_assert_int_eq(proc_each_child(collect, &p), 3);
	for (int i = 0; i < 3; i++) {
		int found = 0;

		for (int j = 0; j < p.n; j++)
			found |= p.got[j] == kids[i];
		ck_assert_msg(found, "child %d not listed", (int)kids[i]);
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}
END_TEST

/* Asking whether a child is left reaps none: its exit status stays for its owner. */
START_TEST(test_has_children_reaps_nothing)
{
	siginfo_t si;
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(7);
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0); /* a zombie now */
	ck_assert_int_eq(proc_has_children(), 1);
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 7);
	ck_assert_int_eq(proc_has_children(), 0);
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
	tcase_add_test(tc, test_startup_grace);
	tcase_add_test(tc, test_ready_is_recorded);
	tcase_add_test(tc, test_crash_loop_backs_off);
	tcase_add_test(tc, test_served_restarts_at_once);
	tcase_add_test(tc, test_pid_list_read_to_end);
	tcase_add_test(tc, test_children_listed);
	tcase_add_test(tc, test_has_children_reaps_nothing);
	tcase_add_test(tc, test_state_names);
	tcase_add_test(tc, test_retired_figures_never_go_backwards);
	tcase_add_test(tc, test_restart_due_time);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
