/*
 * The metrics endpoint (server/metricsd.c) on a private event loop: a
 * flood of connections at the cap cannot hold the loop, an accept error
 * (EMFILE) pauses instead of spinning and recovers, a client that
 * half-closes after its request still gets the whole answer, and freeing
 * with connections open in every phase leaks nothing (LeakSanitizer).
 */
#include <check.h>

#include "check_run.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "metricsd.h"

#define BODY "wsd_up 1\n"

static struct event_base *base;
static struct metricsd *m;
static uint32_t timeout_ms = 2000;
static struct sockaddr_in addr;

static size_t big; /* > 0: /metrics answers that many bytes */

static char *text(void *arg, size_t *len)
{
	char *t;

	if (big == 0) {
		*len = strlen(BODY);
		return strdup(BODY);
	}
	if ((t = malloc(big)) != NULL)
		memset(t, '#', big);
	*len = big;
	return t;
}

static int ready(void *arg, char *why, size_t len) { return 1; }

static const struct metricsd_hooks hooks = {.text = text, .ready = ready};

static void setup(void)
{
	char err[256];
	const char *a;

	ck_assert_ptr_nonnull(base = event_base_new());
	m = metricsd_open(base, "127.0.0.1", 0, &timeout_ms, &hooks, NULL, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	a = metricsd_address(m);
	addr = (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(strchr(a, ':') + 1))};
	inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
}

static void teardown(void)
{
	metricsd_free(m);
	event_base_free(base);
}

/* A connected client: the kernel completes the handshake into the backlog. */
static int client(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0); /* we turn the loop between reads */
	return fd;
}

/* Turns of the loop (without waiting) until cond holds; 0 after ms. */
static int turn_until(int (*cond)(void *), void *arg, uint32_t ms)
{
	uint64_t end = clock_now_ms() + ms;

	while (!cond(arg)) {
		if (clock_now_ms() > end)
			return 0;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return 1;
}

static int refused_at_least(void *arg) { return metricsd_refused(m) >= *(uint64_t *)arg; }

/* What the server sent, until it closed: appended to buf; 1 when it closed. */
static int read_some(int fd, char *buf, size_t len)
{
	size_t n = strlen(buf);
	ssize_t r = -1;

	while (n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return r == 0;
}

struct answer {
	int fd;
	char buf[1024];
};

static int answered(void *arg)
{
	struct answer *a = arg;

	return read_some(a->fd, a->buf, sizeof(a->buf));
}

/* 16 connections open, then 40 more in the backlog: one turn refuses one, not all. */
START_TEST(test_flood_at_cap_yields)
{
	int open[METRICSD_MAX_CONNS], more[40];
	uint64_t want = 40;

	for (int i = 0; i < METRICSD_MAX_CONNS; i++)
		open[i] = client();
	for (int i = 0; i < 3; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(metricsd_refused(m), 0);
	for (int i = 0; i < 40; i++)
		more[i] = client();
	event_base_loop(base, EVLOOP_ONCE);
	ck_assert_msg(metricsd_refused(m) <= 1, "one turn refused %llu connections",
	    (unsigned long long)metricsd_refused(m));
	/* Every one is refused in the end, and the 16 are still served. */
	ck_assert(turn_until(refused_at_least, &want, 5000));
	for (int i = 0; i < 40; i++)
		close(more[i]);
	for (int i = 0; i < METRICSD_MAX_CONNS; i++) {
		struct answer a = {.fd = open[i]};

		ck_assert_int_eq(write(open[i], "GET /healthz HTTP/1.0\r\n\r\n", 25), 25);
		ck_assert(turn_until(answered, &a, 5000));
		ck_assert_ptr_nonnull(strstr(a.buf, "HTTP/1.1 200 "));
		close(open[i]);
	}
}
END_TEST

/* No descriptor left to accept with: pause (no busy loop), then serve again. */
START_TEST(test_emfile_pauses_and_recovers)
{
	struct answer a = {.fd = client()};
	struct rlimit rl, was;
	struct rusage r0, r1;
	struct timeval stop = {0, 400 * 1000};
	int fds[64], n = 0;
	long cpu_ms;

	ck_assert_int_eq(write(a.fd, "GET /metrics HTTP/1.0\r\n\r\n", 25), 25);
	getrlimit(RLIMIT_NOFILE, &was);
	rl = was;
	rl.rlim_cur = (rlim_t)dup(a.fd) + 1; /* this one, then nothing more */
	close((int)rl.rlim_cur - 1);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while (n < 64 && (fds[n] = dup(a.fd)) >= 0)
		n++;
	ck_assert_int_eq(errno, EMFILE);
	getrusage(RUSAGE_SELF, &r0);
	event_base_loopexit(base, &stop);
	event_base_dispatch(base);
	getrusage(RUSAGE_SELF, &r1);
	cpu_ms = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec + r1.ru_stime.tv_sec -
	             r0.ru_stime.tv_sec) *
	        1000 +
	    (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec + r1.ru_stime.tv_usec -
	        r0.ru_stime.tv_usec) /
	        1000;
	ck_assert_msg(cpu_ms < 200, "%ld ms of CPU in 400 ms at EMFILE: spinning", cpu_ms);
	while (n > 0)
		close(fds[--n]);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert(turn_until(answered, &a, 5000));
	ck_assert_ptr_nonnull(strstr(a.buf, "HTTP/1.1 200 "));
	ck_assert_ptr_nonnull(strstr(a.buf, BODY));
	close(a.fd);
}
END_TEST

/* A client that sends its request and shuts its side: the whole answer still comes. */
START_TEST(test_half_close_gets_answer)
{
	struct answer a = {.fd = client()};

	ck_assert_int_eq(write(a.fd, "GET /metrics HTTP/1.0\r\n\r\n", 25), 25);
	ck_assert_int_eq(shutdown(a.fd, SHUT_WR), 0);
	ck_assert(turn_until(answered, &a, 5000));
	ck_assert_ptr_nonnull(strstr(a.buf, "Content-Length: 9\r\n"));
	ck_assert_ptr_nonnull(strstr(a.buf, "\r\n\r\n" BODY));
	close(a.fd);
}
END_TEST

/* Reset by the server (data sent to a socket it closed), seen without reading. */
static int reset(void *arg)
{
	struct pollfd p = {*(int *)arg, 0, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR));
}

static int always(void *arg) { return 0; }

/*
 * A client that asks for a large answer and never reads it: closed within
 * the deadline and the linger, so more bytes from it get a reset.
 */
START_TEST(test_never_reading_client_closed)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;

	timeout_ms = 300;
	big = 900 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(write(fd, "GET /metrics HTTP/1.0\r\n\r\n", 25), 25);
	turn_until(always, NULL, 1500); /* 300 ms to take the answer, 1 s of linger at most */
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert(turn_until(reset, &fd, 2000));
	close(fd);
}
END_TEST

/* Freed with a connection in each phase: reading a head, writing, lingering. */
START_TEST(test_free_with_connections_open)
{
	int idle = client(), partial = client(), done = client();

	ck_assert_int_eq(write(partial, "GET /metrics HTTP/1.1\r\n", 23), 23);
	ck_assert_int_eq(write(done, "GET /readyz HTTP/1.0\r\n\r\n", 24), 24);
	turn_until(always, NULL, 100);
	metricsd_free(m);
	m = NULL;
	/* Every connection is closed by the free (libevent finishes a bufferevent at its next
	 * turn). */
	event_base_loop(base, EVLOOP_NONBLOCK);
	for (int fd, i = 0; i < 3; i++) {
		char buf[512] = "";

		fd = i == 0 ? idle : i == 1 ? partial : done;
		ck_assert(
		    read_some(fd, buf, sizeof(buf)) || (errno != EAGAIN && errno != EWOULDBLOCK));
		close(fd);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metricsd");
	TCase *tc = tcase_create("metricsd");

	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_flood_at_cap_yields);
	tcase_add_test(tc, test_emfile_pauses_and_recovers);
	tcase_add_test(tc, test_half_close_gets_answer);
	tcase_add_test(tc, test_never_reading_client_closed);
	tcase_add_test(tc, test_free_with_connections_open);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
