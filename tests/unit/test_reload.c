/* reload.c: how each changed key is applied, and what a reload leaves. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "reload.h"
#include "check_run.h"

static struct config_change change(
    const char *key, const char *from, const char *to, enum config_apply apply)
{
	struct config_change c = {.apply = apply};

	snprintf(c.key, sizeof(c.key), "%s", key);
	snprintf(c.from, sizeof(c.from), "%s", from);
	snprintf(c.to, sizeof(c.to), "%s", to);
	return c;
}

START_TEST(test_how_each_key)
{
	struct config_change c;

	c = change("pool.max", "4", "6", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_LIVE);
	c = change("server.listen", "a:1", "a:2", CONFIG_RESTART);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_KEEP);
	c = change("pool.limit", "16", "32", CONFIG_ROLES);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_MANAGER);
	c = change("server.root", "/a", "/b", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_ROOT);
	c = change("server.backlog", "511", "64", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_BACKLOG);
	c = change("log.file", "stderr", "/x", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_LOG);
}
END_TEST

/* The access log moved is reopened; switched on or off, the manager is replaced. */
START_TEST(test_access_log)
{
	struct config_change c;

	c = change("log.access_log", "/a", "/b", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_ACCESS);
	c = change("log.access_log", "off", "/b", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_MANAGER);
	c = change("log.access_log", "stderr", "off", CONFIG_LIVE);
	ck_assert_int_eq(reload_how_of(&c), RELOAD_MANAGER);
}
END_TEST

START_TEST(test_plan)
{
	struct config_change ch[3] = {
	    change("pool.min", "1", "2", CONFIG_LIVE),
	    change("log.level", "info", "debug", CONFIG_LIVE),
	    change("pool.limit", "16", "32", CONFIG_ROLES),
	};
	struct reload_plan p;

	reload_plan(ch, 2, &p);
	ck_assert_int_eq(p.restart_manager, 0);
	reload_plan(ch, 3, &p);
	ck_assert_int_eq(p.restart_manager, 1);
	ck_assert_int_eq(p.how[2], RELOAD_MANAGER);
	ck_assert_str_eq(reload_how_text(RELOAD_KEEP), "no: needs a restart of wsd");
	ck_assert_str_eq(reload_how_text(RELOAD_MANAGER), "restarted manager");
}
END_TEST

/* listen, user, control.* and metrics.listen stay; the rest comes from the file. */
START_TEST(test_keep_fixed)
{
	struct wsd_config cur, next;

	config_defaults(&cur);
	config_defaults(&next);
	snprintf(next.listen_host, sizeof(next.listen_host), "::1");
	next.listen_port = 9;
	snprintf(next.user, sizeof(next.user), "www");
	snprintf(next.control_socket, sizeof(next.control_socket), "/x.sock");
	next.control_mode = 0600;
	next.metrics_on = 1;
	snprintf(next.metrics_host, sizeof(next.metrics_host), "127.0.0.1");
	next.metrics_port = 9145;
	next.pool_max = cur.pool_max + 1;
	reload_keep_fixed(&next, &cur);
	ck_assert_int_eq(next.metrics_on, 0);
	ck_assert_str_eq(next.listen_host, cur.listen_host);
	ck_assert_int_eq(next.listen_port, cur.listen_port);
	ck_assert_str_eq(next.user, cur.user);
	ck_assert_str_eq(next.control_socket, cur.control_socket);
	ck_assert_uint_eq(next.control_mode, cur.control_mode);
	ck_assert_uint_eq(next.pool_max, cur.pool_max + 1);
	ck_assert_int_eq(config_diff(&cur, &next, NULL, 0), 1);
}
END_TEST

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, test_how_each_key);
	tcase_add_test(tc, test_access_log);
	tcase_add_test(tc, test_plan);
	tcase_add_test(tc, test_keep_fixed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reload_suite());

	return check_run(sr, CK_NORMAL);
}
