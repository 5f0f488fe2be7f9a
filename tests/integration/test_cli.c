/* The command line: flags, configuration errors and exit codes. */
#include <arpa/inet.h>
#include <check.h>

#include "check_run.h"
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char out[8192];

static int run(char *const argv[])
{
	int status = h_run(argv, out, sizeof(out), 10000);

	ck_assert_msg(WIFEXITED(status), "wsd did not exit by itself: %s", out);
	return WEXITSTATUS(status);
}

START_TEST(test_version_and_help)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-v", NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "wsd "));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-h", NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: wsd"));
}
END_TEST

START_TEST(test_usage_errors_exit_2)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-x", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "wsd: unknown option -x"));
	ck_assert_ptr_nonnull(strstr(out, "usage:"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "stray", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "unexpected argument 'stray'"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-c", NULL}), 2);
	ck_assert_ptr_nonnull(strstr(out, "wsd: option -c needs a value"));
}
END_TEST

START_TEST(test_config_check)
{
	struct wsd w;

	h_init(&w);
	h_write_text(w.conf, "[server]\nlisten = 127.0.0.1:0\n\n[pool]\nmin = 2\nmax = 4\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 0);
	ck_assert_ptr_nonnull(strstr(out, "ok"));

	/* Errors name the file, the line and the key. */
	h_write_text(w.conf, "[server]\nlisten = 127.0.0.1:0\n[pool]\nmax = 99999\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:4:"));
	ck_assert_ptr_nonnull(strstr(out, "pool.max"));

	h_write_text(w.conf, "[server]\nbogus = 1\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "wsd.conf:2:"));
	ck_assert_ptr_nonnull(strstr(out, "bogus"));

	h_write_text(w.conf, "[nosuch]\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "nosuch"));

	h_write_text(w.conf, "[http]\nkeepalive_timeout = 15\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "keepalive_timeout"));

	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", "/nonexistent/wsd.conf", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent/wsd.conf"));

	/* -t checks what the start would: a log file that cannot be opened. */
	h_write_text(w.conf, "[log]\nfile = /nonexistent-dir/wsd.log\n");
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "log.file: cannot open /nonexistent-dir/wsd.log"));
	if (geteuid() == 0) {
		h_write_text(w.conf, "[server]\nuser = nosuchuser-wsd\n");
		ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-c", w.conf, NULL}), 1);
		ck_assert_ptr_nonnull(strstr(out, "no such user 'nosuchuser-wsd'"));
	}
	h_cleanup(&w);
}
END_TEST

START_TEST(test_flag_errors_exit_1)
{
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-p", "70000", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "-p 70000"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "8:2", NULL}), 1);
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "banana", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "-w banana"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-r", "/nonexistent-root", NULL}), 1);
	ck_assert_ptr_nonnull(strstr(out, "/nonexistent-root"));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-t", "-w", "2:4", "-p", "0", NULL}), 0);
}
END_TEST

START_TEST(test_busy_port_exit_3)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	char port[16];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 1), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
	ck_assert_int_eq(run((char *[]){WSD_BIN, "-p", port, "-r", "/tmp", NULL}), 3);
	ck_assert_ptr_nonnull(strstr(out, "cannot listen"));
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");
	SRunner *sr;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_version_and_help);
	tcase_add_test(tc, test_usage_errors_exit_2);
	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_flag_errors_exit_1);
	tcase_add_test(tc, test_busy_port_exit_3);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	return check_run(sr, CK_NORMAL);
}
