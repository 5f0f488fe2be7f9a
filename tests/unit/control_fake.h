/*
 * The control server in-process for tests: control_open() on a socket in a
 * temp dir, control_new() on a libevent base run by a thread, a fake
 * daemon (ops) given by the test. The fake's state is touched only on the
 * server thread while it runs; the test reads it after server_stop().
 */
#ifndef WSD_CONTROL_FAKE_H
#define WSD_CONTROL_FAKE_H

#include <check.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"

#define WAIT_MS 5000

/* The fake daemon: used only on the server thread; counters read after it stops. */
struct fake {
	struct event_base *base;
	struct control *ctl;
	struct control_reply *held; /* a deferred restart, or an events follower */
	int following;
	struct event *later, *stop;
	int calls, gone;
	size_t push_bytes; /* each push's size (events follow) */
};

static struct fake fk;
static struct control_settings set;
static char dir[64], path[80];
static pthread_t thread;
static int stop_pipe[2];

static void stop_cb(evutil_socket_t fd, short what, void *arg) { event_base_loopbreak(fk.base); }

static void *server_main(void *arg)
{
	event_base_dispatch(fk.base);
	return NULL;
}

/* Open and start control with the settings as the test left them. */
static void server_start(const struct control_ops *ops, event_callback_fn later)
{
	char err[256];
	int fd = control_open(&set, err, sizeof(err));

	ck_assert_msg(fd >= 0, "control_open: %s", err);
	fk.base = event_base_new();
	fk.ctl = control_new(fk.base, fd, &set, ops, NULL);
	ck_assert_ptr_nonnull(fk.ctl);
	fk.later = evtimer_new(fk.base, later, NULL);
	ck_assert_int_eq(pipe2(stop_pipe, O_CLOEXEC), 0);
	fk.stop = event_new(fk.base, stop_pipe[0], EV_READ, stop_cb, NULL);
	event_add(fk.stop, NULL);
	ck_assert_int_eq(pthread_create(&thread, NULL, server_main, NULL), 0);
}

static void server_stop(void)
{
	ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
	pthread_join(thread, NULL);
	if (fk.held != NULL)
		control_reply_end(fk.held);
	control_free(fk.ctl);
	event_free(fk.later);
	event_free(fk.stop);
	event_base_free(fk.base);
	close(stop_pipe[0]), close(stop_pipe[1]);
}

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	memset(&fk, 0, sizeof(fk));
	snprintf(dir, sizeof(dir), "/tmp/wsd-control-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/c.sock", dir);
	control_settings_defaults(&set, path);
}

static void teardown(void)
{
	char lock[160];

	snprintf(lock, sizeof(lock), "%s.lock", path);
	unlink(path), unlink(lock), rmdir(dir);
}

#endif
