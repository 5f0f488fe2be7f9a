/* The default control socket path and its directory checks. */
#include <check.h>

#include "check_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctlpath.h"

static char err[256];

START_TEST(test_default)
{
	char p[CTLPATH_MAX + 1], longdir[200];

	ck_assert_int_eq(ctlpath_default(0, "/run/user/0", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/run/wsd/wsd.sock");
	ck_assert_int_eq(ctlpath_default(1000, "/run/user/1000", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/run/user/1000/wsd/wsd.sock");
	ck_assert_int_eq(ctlpath_default(1000, NULL, p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/tmp/wsd-1000/wsd.sock");
	ck_assert_int_eq(ctlpath_default(1000, "", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/tmp/wsd-1000/wsd.sock");
	memset(longdir, 'a', sizeof(longdir) - 1);
	longdir[0] = '/', longdir[sizeof(longdir) - 1] = '\0';
	ck_assert_int_eq(ctlpath_default(1000, longdir, p, sizeof(p)), -1);
}
END_TEST

START_TEST(test_candidates)
{
	char out[2][CTLPATH_MAX + 1], big[150];

	ck_assert_int_eq(ctlpath_candidates(1000, "/x.sock", "/env.sock", NULL, out, err, 256), 1);
	ck_assert_str_eq(out[0], "/x.sock");
	ck_assert_int_eq(ctlpath_candidates(1000, NULL, "/env.sock", NULL, out, err, 256), 1);
	ck_assert_str_eq(out[0], "/env.sock");
	ck_assert_int_eq(ctlpath_candidates(1000, NULL, NULL, "/run/user/1000", out, err, 256), 2);
	ck_assert_str_eq(out[0], "/run/user/1000/wsd/wsd.sock");
	ck_assert_str_eq(out[1], "/run/wsd/wsd.sock");
	ck_assert_int_eq(ctlpath_candidates(0, NULL, "", NULL, out, err, 256), 1);
	ck_assert_str_eq(out[0], "/run/wsd/wsd.sock");
	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(ctlpath_candidates(0, big, NULL, NULL, out, err, 256), 0);
	ck_assert_ptr_nonnull(strstr(err, "too long (149 bytes, at most 107)"));
}
END_TEST

START_TEST(test_prepare_dir)
{
	char tmp[] = "/tmp/wsd-ctlpath-XXXXXX", sock[160], dir[128];
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(dir, sizeof(dir), "%s/wsd", tmp);
	snprintf(sock, sizeof(sock), "%s/wsd.sock", dir);
	ck_assert_int_eq(ctlpath_prepare_dir(sock, 0700, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(ctlpath_prepare_dir(sock, 0700, err, sizeof(err)), 0); /* exists: fine */
	chmod(dir, 0777);
	ck_assert_int_eq(ctlpath_prepare_dir(sock, 0700, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "writable by no one else"));
	rmdir(dir);
	ck_assert_int_eq(symlink("/tmp", dir), 0); /* a symlink is refused */
	ck_assert_int_eq(ctlpath_prepare_dir(sock, 0700, err, sizeof(err)), -1);
	unlink(dir);
	if (geteuid() == 0) { /* someone else's directory */
		ck_assert_int_eq(mkdir(dir, 0700), 0);
		ck_assert_int_eq(chown(dir, 65534, 65534), 0);
		ck_assert_int_eq(ctlpath_prepare_dir(sock, 0700, err, sizeof(err)), -1);
		rmdir(dir);
	}
	rmdir(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctlpath");
	TCase *tc = tcase_create("ctlpath");

	tcase_add_test(tc, test_default);
	tcase_add_test(tc, test_candidates);
	tcase_add_test(tc, test_prepare_dir);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
