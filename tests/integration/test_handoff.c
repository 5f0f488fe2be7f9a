/*
 * The hand-off in batches: connections that arrive together travel
 * listener -> manager -> worker several to a message (MSG_CONNS), and
 * none is lost. The figures come from the exit lines of the listener
 * and the manager (at info level: no switch of their own).
 */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define BODY "handoff test body\n"
#define BURSTS 20
#define BURST 50 /* BURSTS x BURST = 1,000 connections */

static struct wsd w;

/* The last log line with needle and also: what follows needle, in out. 1 found, else 0. */
static int log_after(const char *needle, const char *also, char *out, size_t len)
{
	char line[1024];
	const char *p;
	int found = 0;
	FILE *f = fopen(w.log, "r");

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if ((p = strstr(line, needle)) == NULL || strstr(line, also) == NULL)
			continue;
		snprintf(out, len, "%s", p + strlen(needle));
		found = 1;
	}
	fclose(f);
	return found;
}

/* One burst: every connection opened and its request sent before any answer is read. */
static void burst(int n)
{
	struct h_response r;
	int fd[BURST];

	for (int i = 0; i < n; i++) {
		fd[i] = h_connect(&w);
		ck_assert_int_eq(
		    h_send(fd[i], "GET /f HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"), 0);
	}
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(h_read_response(fd[i], &r, 0), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_uint_eq(r.body_len, strlen(BODY));
		ck_assert_int_eq(r.closed, 1);
		h_response_free(&r);
		close(fd[i]);
	}
}

/* 1,000 Connection: close requests in bursts: all answered, and batches really used. */
START_TEST(test_bursts_batched_no_loss)
{
	unsigned long long l[2] = {0}, m[5] = {0};
	char line[1024];

	h_init(&w);
	h_write_file(&w, "f", BODY, strlen(BODY));
	h_start(&w, "[pool]\nmin = 2\nmax = 2\n");
	for (int b = 0; b < BURSTS; b++)
		burst(BURST);
	h_stop_begin(&w);
	ck_assert(h_wait_log(&w, "hand-off: took ", h_bound_ms(10000)));
	ck_assert(h_wait_log(&w, " to the manager; ", h_bound_ms(10000)));
	ck_assert(log_after("hand-off: took ", "gave", line, sizeof(line)));
	ck_assert_int_eq(sscanf(line,
	                     "%llu connections in %llu messages over %llu reads, gave "
	                     "%llu in %llu",
	                     &m[0], &m[1], &m[2], &m[3], &m[4]),
	    5);
	ck_assert(log_after("exiting after ", " to the manager", line, sizeof(line)));
	ck_assert_int_eq(sscanf(line, "%llu connections in %llu messages", &l[0], &l[1]), 2);
	ck_assert_int_eq(h_stop(&w), 0);
	fprintf(stderr,
	    "listener: %llu connections in %llu messages; manager: took %llu in %llu "
	    "messages over %llu reads, gave %llu in %llu messages\n",
	    l[0], l[1], m[0], m[1], m[2], m[3], m[4]);
	/* every connection taken and given; fewer messages than connections both ways */
	ck_assert_uint_ge(m[0], BURSTS * BURST);
	ck_assert_uint_eq(m[3], m[0]);
	ck_assert_uint_eq(l[0], m[0]);
	ck_assert_uint_eq(l[1], m[1]);
	ck_assert_uint_lt(l[1], l[0]);
	ck_assert_uint_le(m[4], m[3]);
	ck_assert_uint_le(m[2], m[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("handoff");
	TCase *tc = tcase_create("handoff");
	SRunner *sr;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bursts_batched_no_loss);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
