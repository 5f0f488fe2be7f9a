/*
 * The supervision table's I/O: entries and their channels, the channel's
 * supervision messages, start, the hang check and reaping - with trivial
 * forked children that exit or wait to be killed.
 */
#include <check.h>

#include "check_run.h"
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "msg.h"
#include "svtable.h"

/* An owner's entry: the table's first, then its own data. */
struct kid {
	struct sv_entry e;
	int mine;
};

static struct {
	int ready, draining, other, exited, restart, checked, released;
	enum svt_after answer;
	struct svt_exit last;
	int child_exit; /* -1: the child waits to be killed */
} seen;

static pid_t spawn(struct sv_entry *e, void *arg)
{
	pid_t pid = fork();

	if (pid == 0) {
		if (seen.child_exit < 0)
			pause();
		_exit(seen.child_exit);
	}
	return pid;
}

static void on_ready(struct sv_entry *e, void *arg) { seen.ready++; }
static void on_draining(struct sv_entry *e, void *arg)
{
	seen.draining++;
	e->sv.state = SV_DRAINING;
}
static void on_msg(struct sv_entry *e, struct msg *m, void *arg)
{
	seen.other++;
	msg_close_fds(m);
}
static enum svt_after on_exited(struct sv_entry *e, struct svt_exit *x, void *arg)
{
	seen.exited++;
	seen.last = *x;
	return seen.answer;
}
static void on_restart(struct sv_entry *e, void *arg) { seen.restart++; }
static void on_checked(uint64_t now, void *arg) { seen.checked++; }
static void on_release(struct sv_entry *e, void *arg) { seen.released++; }

static const struct svt_hooks hooks = {
    .spawn = spawn,
    .restart = on_restart,
    .ready = on_ready,
    .draining = on_draining,
    .msg = on_msg,
    .exited = on_exited,
    .checked = on_checked,
    .release = on_release,
};

static struct event_base *base;
static struct kid kids[3];
static struct svtable tab;
static struct msg_config mc = {.pool_min = 7};

static void setup(void)
{
	memset(&seen, 0, sizeof(seen));
	memset(kids, 0, sizeof(kids));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	event_base_priority_init(base, 2);
	svt_init(&tab, base, kids, sizeof(kids[0]), 3, &hooks, NULL, &mc);
}

static void teardown(void)
{
	SVT_FOREACH (&tab, e)
		if (e->sv.state != SV_FREE)
			svt_free(e);
	event_base_free(base);
}

/* Wait for the child of e, with a bound. */
static int reap(pid_t pid)
{
	int status = -1;

	for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	return status;
}

START_TEST(test_alloc_free_lookup)
{
	struct sv_entry *a = svt_alloc(&tab, "worker"), *b = svt_alloc(&tab, "worker");

	ck_assert_ptr_eq(a, &kids[0].e);
	ck_assert_ptr_eq(b, &kids[1].e);
	ck_assert_uint_eq(tab.end, 2);
	ck_assert_uint_eq(tab.nfds, 4);
	ck_assert_int_eq(a->sv.state, SV_STOPPED);
	ck_assert_int_ne(a->chan, a->peer);
	a->sv.pid = 4242;
	ck_assert_ptr_eq(svt_by_pid(&tab, 4242), a);
	svt_free(a);
	ck_assert_int_eq(seen.released, 1);
	ck_assert_int_eq(a->sv.state, SV_FREE);
	ck_assert_ptr_null(svt_by_pid(&tab, 4242));
	ck_assert_uint_eq(tab.nfds, 2);
	ck_assert_ptr_eq(svt_alloc(&tab, "worker"), a); /* reused; the end stays */
	ck_assert_uint_eq(tab.end, 2);
	ck_assert_ptr_nonnull(svt_alloc(&tab, "worker"));
	ck_assert_ptr_null(svt_alloc(&tab, "worker")); /* full */
	ck_assert_uint_eq(tab.end, 3);
}
END_TEST

START_TEST(test_channel_messages)
{
	struct sv_entry *e = svt_alloc(&tab, "listener");
	struct msg_heartbeat hb = {.seq = 1, .requests = 5};
	struct msg_conn_done done = {.count = 1};

	sv_started(&e->sv, 4242, clock_now_ms());
	ck_assert_int_eq(msg_send(e->peer, MSG_HEARTBEAT, &hb, sizeof(hb), NULL, 0), 0);
	ck_assert_int_eq(msg_send(e->peer, MSG_READY, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(msg_send(e->peer, MSG_DRAINING, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(msg_send(e->peer, MSG_DRAINING, NULL, 0, NULL, 0), 0);
	ck_assert_int_eq(msg_send(e->peer, MSG_CONN_DONE, &done, sizeof(done), NULL, 0), 0);
	ck_assert_int_eq(send(e->peer, "junk", 4, 0), 4); /* malformed: logged, dropped */
	ck_assert_int_eq(msg_send(e->peer, MSG_READY, NULL, 0, NULL, 0), 0);
	svt_read(e);
	svt_read(e); /* what follows a malformed message */
	ck_assert(e->sv.heard);
	ck_assert_uint_eq(e->sv.figures.requests, 5);
	ck_assert_uint_ne(e->sv.ready_ms, 0);
	ck_assert_int_eq(seen.ready, 2);
	ck_assert_int_eq(seen.draining, 1); /* once: the second found it draining */
	ck_assert_int_eq(e->sv.state, SV_DRAINING);
	ck_assert_int_eq(seen.other, 1);
}
END_TEST

START_TEST(test_start_exit_restart)
{
	struct sv_entry *e = svt_alloc(&tab, "listener");
	struct msg m;
	pid_t pid;

	seen.child_exit = 3;
	seen.answer = SVT_RESTART;
	ck_assert_int_eq(svt_start(e), 0);
	pid = e->sv.pid;
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(e->sv.state, SV_STARTING);
	ck_assert_int_eq(msg_recv(e->peer, &m), 1); /* the configuration went first */
	ck_assert_int_eq(m.hdr.type, MSG_CONFIG);
	ck_assert_uint_eq(m.u.config.pool_min, 7);
	ck_assert_int_eq(svt_reaped(&tab, pid + 100000, 0), 0); /* not ours */
	ck_assert_int_eq(svt_reaped(&tab, pid, reap(pid)), 1);
	ck_assert_int_eq(seen.exited, 1);
	ck_assert_int_eq(seen.last.pid, pid);
	ck_assert_int_eq(seen.last.was, SV_STARTING);
	ck_assert_uint_eq(seen.last.delay_ms, 0); /* the first crash: at once */
	ck_assert_str_eq(e->sv.last_exit, "exit 3");
	ck_assert_int_eq(e->sv.state, SV_STOPPED);
	ck_assert_uint_eq(e->sv.restarts, 1);
	ck_assert(evtimer_pending(&e->ev_restart, NULL));
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(seen.restart, 1);
}
END_TEST

START_TEST(test_finished_frees)
{
	struct sv_entry *e = svt_alloc(&tab, "manager");
	pid_t pid;

	seen.answer = SVT_FINISHED;
	ck_assert_int_eq(svt_start(e), 0);
	pid = e->sv.pid;
	e->sv.state = SV_DRAINING;
	ck_assert_int_eq(svt_reaped(&tab, pid, reap(pid)), 1);
	ck_assert_int_eq(seen.last.was, SV_DRAINING);
	ck_assert_int_eq(e->sv.state, SV_FREE);
	ck_assert_uint_eq(tab.nfds, 0);
	ck_assert_uint_eq(e->sv.restarts, 0); /* not lost: no restart counted */
}
END_TEST

START_TEST(test_check_kills_what_did_not_start)
{
	struct sv_limits lim = {1000, 3, 10};
	struct sv_entry *e = svt_alloc(&tab, "worker");
	int status;

	seen.child_exit = -1;
	seen.answer = SVT_FREE;
	ck_assert_int_eq(svt_start(e), 0);
	svt_watch(&tab, &lim);
	e->sv.last_hb_ms -= 50; /* forked 50 ms ago, no heartbeat since */
	svt_check(&tab);
	ck_assert_int_eq(seen.checked, 1);
	ck_assert(e->sv.not_started);
	status = reap(e->sv.pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(svt_reaped(&tab, e->sv.pid, status), 1);
	ck_assert_int_eq(strncmp(e->sv.last_exit, "did not start in ", 17), 0);
	ck_assert_int_eq(e->sv.state, SV_FREE);
	ck_assert_uint_eq(e->sv.restarts, 1);
}
END_TEST

START_TEST(test_our_own_stall_is_forgiven)
{
	struct sv_limits lim = {200, 3, 10000};
	struct sv_entry *e = svt_alloc(&tab, "worker");
	struct msg_heartbeat hb = {.seq = 1};
	uint64_t now = clock_now_ms();
	pid_t pid;

	seen.child_exit = -1;
	ck_assert_int_eq(svt_start(e), 0);
	pid = e->sv.pid;
	svt_watch(&tab, &lim);
	sv_heartbeat(&e->sv, &hb, now - 3000); /* silent 3 s ... */
	tab.last_check_ms = now - 3000;        /* ... because we did not run either */
	svt_check(&tab);
	ck_assert_uint_eq(e->sv.hung_ms, 0);
	ck_assert_int_eq(waitpid(pid, NULL, WNOHANG), 0); /* alive */
	e->sv.last_hb_ms = clock_now_ms() - 1000;         /* now really silent */
	svt_check(&tab);
	ck_assert_uint_ge(e->sv.hung_ms, 1000);
	ck_assert(WIFSIGNALED(reap(pid)));
}
END_TEST

START_TEST(test_stop_and_logs_go_down_the_channel)
{
	struct sv_entry *e = svt_alloc(&tab, "worker"), *idle = svt_alloc(&tab, "worker");
	struct msg m;
	int fd = dup(2);

	seen.child_exit = -1;
	ck_assert_int_eq(svt_start(e), 0);
	ck_assert_int_eq(msg_recv(e->peer, &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_CONFIG);
	svt_send_log(&tab, MSG_LOG_ERROR, fd);
	svt_stop(e);
	ck_assert_int_eq(e->sv.state, SV_DRAINING);
	ck_assert_int_eq(msg_recv(e->peer, &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_LOG_ERROR);
	ck_assert_int_eq(m.nfds, 1);
	msg_close_fds(&m);
	ck_assert_int_eq(msg_recv(e->peer, &m), 1);
	ck_assert_int_eq(m.hdr.type, MSG_SHUTDOWN);
	ck_assert_int_eq(msg_recv(idle->peer, &m), -1); /* no process there: nothing sent */
	close(fd);
	kill(e->sv.pid, SIGKILL);
	ck_assert(WIFSIGNALED(reap(e->sv.pid)));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("svtable");
	TCase *tc = tcase_create("svtable");
	SRunner *sr;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_alloc_free_lookup);
	tcase_add_test(tc, test_channel_messages);
	tcase_add_test(tc, test_start_exit_restart);
	tcase_add_test(tc, test_finished_frees);
	tcase_add_test(tc, test_check_kills_what_did_not_start);
	tcase_add_test(tc, test_our_own_stall_is_forgiven);
	tcase_add_test(tc, test_stop_and_logs_go_down_the_channel);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
