/* Control socket permissions: the pure decision. */
#include <check.h>

#include "check_run.h"

#include "ctlauth.h"

static const struct ctl_policy pol = {.self_uid = 999, .group = 50, .readonly_group = 60};

START_TEST(test_who_gets_what)
{
	gid_t sup_admin[] = {10, 50}, sup_ro[] = {60}, sup_none[] = {10, 20};
	struct ctl_peer root = {.uid = 0, .gid = 0};
	struct ctl_peer self = {.uid = 999, .gid = 999};
	struct ctl_peer admin = {.uid = 1000, .gid = 1000, .groups = sup_admin, .ngroups = 2};
	struct ctl_peer admin_primary = {.uid = 1001, .gid = 50};
	struct ctl_peer ro = {.uid = 1002, .gid = 1002, .groups = sup_ro, .ngroups = 1};
	struct ctl_peer ro_primary = {.uid = 1003, .gid = 60};
	struct ctl_peer other = {.uid = 1004, .gid = 1004, .groups = sup_none, .ngroups = 2};

	ck_assert_int_eq(ctlauth_access(&root, &pol), CTL_ACCESS_ALL);
	ck_assert_int_eq(ctlauth_access(&self, &pol), CTL_ACCESS_ALL);
	ck_assert_int_eq(ctlauth_access(&admin, &pol), CTL_ACCESS_ALL);
	ck_assert_int_eq(ctlauth_access(&admin_primary, &pol), CTL_ACCESS_ALL);
	ck_assert_int_eq(ctlauth_access(&ro, &pol), CTL_ACCESS_READONLY);
	ck_assert_int_eq(ctlauth_access(&ro_primary, &pol), CTL_ACCESS_READONLY);
	ck_assert_int_eq(ctlauth_access(&other, &pol), CTL_ACCESS_NONE);
}
END_TEST

START_TEST(test_no_groups_configured)
{
	struct ctl_policy none = {
	    .self_uid = 999, .group = CTLAUTH_NOGROUP, .readonly_group = CTLAUTH_NOGROUP};
	gid_t sup[] = {CTLAUTH_NOGROUP}; /* never matches "no group" */
	struct ctl_peer other = {.uid = 1000, .gid = CTLAUTH_NOGROUP, .groups = sup, .ngroups = 1};
	struct ctl_peer root = {.uid = 0, .gid = 0};

	ck_assert_int_eq(ctlauth_access(&other, &none), CTL_ACCESS_NONE);
	ck_assert_int_eq(ctlauth_access(&root, &none), CTL_ACCESS_ALL);
}
END_TEST

START_TEST(test_methods_by_access)
{
	size_t n;
	const struct cmd *t = cmd_table(&n);

	for (size_t i = 0; i < n; i++) {
		int ro = (t[i].flags & CMD_READONLY) != 0;

		ck_assert_int_eq(ctlauth_allows(CTL_ACCESS_ALL, &t[i]), 1);
		ck_assert_int_eq(ctlauth_allows(CTL_ACCESS_READONLY, &t[i]), ro);
		ck_assert_int_eq(ctlauth_allows(CTL_ACCESS_NONE, &t[i]), 0);
	}
	ck_assert(ctlauth_allows(CTL_ACCESS_READONLY, cmd_find("status")));
	ck_assert(!ctlauth_allows(CTL_ACCESS_READONLY, cmd_find("restart")));
	ck_assert_str_eq(ctlauth_name(CTL_ACCESS_READONLY), "read-only");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctlauth");
	TCase *tc = tcase_create("ctlauth");

	tcase_add_test(tc, test_who_gets_what);
	tcase_add_test(tc, test_no_groups_configured);
	tcase_add_test(tc, test_methods_by_access);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
