/* The control command table: lookup, validation, wsctl's argument parser, help. */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "cmd.h"

static char err[CMD_ERRLEN];

/* Validate the JSON text s as cmd's params: 0 or -1 (err set). */
static int validate(const char *cmd, const char *s)
{
	cJSON *p = s ? cJSON_Parse(s) : NULL;
	int rc;

	ck_assert(s == NULL || p != NULL);
	err[0] = '\0';
	rc = cmd_validate(cmd_find(cmd), p, err, sizeof(err));
	cJSON_Delete(p);
	return rc;
}

/* Parse words (NULL-terminated) for cmd; the params as compact JSON, or NULL. */
static char *parse(const char *cmd, char **words)
{
	int n = 0;
	cJSON *p;
	char *s;

	while (words[n] != NULL)
		n++;
	err[0] = '\0';
	p = cmd_parse_args(cmd_find(cmd), n, words, err, sizeof(err));
	if (p == NULL)
		return NULL;
	s = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	return s;
}

static void parses_to(const char *cmd, char **words, const char *want)
{
	char *got = parse(cmd, words);

	ck_assert_msg(got != NULL, "%s: %s", cmd, err);
	ck_assert_str_eq(got, want);
	free(got);
}

static void parse_fails(const char *cmd, char **words, const char *msg)
{
	ck_assert_ptr_null(parse(cmd, words));
	ck_assert_msg(strstr(err, msg) != NULL, "'%s' not in '%s'", msg, err);
}

START_TEST(test_table_is_sane)
{
	size_t n;
	const struct cmd *t = cmd_table(&n);

	ck_assert_uint_ge(n, 10);
	for (size_t i = 0; i < n; i++) {
		/* Exactly one of read-only and admin; every param documented. */
		ck_assert_int_eq(!(t[i].flags & CMD_READONLY), !!(t[i].flags & CMD_ADMIN));
		ck_assert_ptr_nonnull(t[i].summary);
		for (size_t k = 0; k < CMD_MAXPARAMS && t[i].params[k].name; k++)
			ck_assert_ptr_nonnull(t[i].params[k].summary);
		ck_assert_ptr_eq(cmd_find(t[i].name), &t[i]);
	}
	ck_assert(cmd_find("status")->flags & CMD_READONLY);
	ck_assert(cmd_find("restart")->flags & CMD_ADMIN);
	ck_assert(cmd_find("events")->flags & CMD_READONLY);
	ck_assert_ptr_null(cmd_find("stat")); /* the daemon takes exact names only */
}
END_TEST

START_TEST(test_lookup_prefixes)
{
	ck_assert_ptr_null(cmd_lookup("st", err, sizeof(err)));
	ck_assert_str_eq(err, "ambiguous command: st, could be: status, stop");
	ck_assert_ptr_null(cmd_lookup("re", err, sizeof(err)));
	ck_assert_str_eq(err, "ambiguous command: re, could be: reload, restart");
	ck_assert_str_eq(cmd_lookup("sta", err, sizeof(err))->name, "status");
	ck_assert_str_eq(cmd_lookup("rel", err, sizeof(err))->name, "reload");
	ck_assert_str_eq(cmd_lookup("l", err, sizeof(err))->name, "log-reopen");
	ck_assert_str_eq(cmd_lookup("stop", err, sizeof(err))->name, "stop");
	ck_assert_ptr_null(cmd_lookup("bogus", err, sizeof(err)));
	ck_assert_str_eq(err, "unknown command: bogus");
	ck_assert_ptr_null(cmd_lookup("", err, sizeof(err)));
}
END_TEST

START_TEST(test_exact_match_wins)
{
	static const char *const names[] = {"workers", "worker"};

	ck_assert_int_eq(cmd_match_word("worker", names, 2, "target", err, sizeof(err)), 1);
	ck_assert_int_eq(cmd_match_word("workers", names, 2, "target", err, sizeof(err)), 0);
	ck_assert_int_eq(cmd_match_word("work", names, 2, "target", err, sizeof(err)), -1);
	ck_assert_str_eq(err, "ambiguous target: work, could be: worker, workers");
}
END_TEST

START_TEST(test_validate_ok)
{
	ck_assert_int_eq(validate("status", NULL), 0);
	ck_assert_int_eq(validate("status", "{}"), 0);
	ck_assert_int_eq(validate("scale", "{\"min\":2,\"max\":16}"), 0);
	ck_assert_int_eq(validate("scale", "{\"max\":1.0}"), 0); /* integral */
	ck_assert_int_eq(
	    validate("restart", "{\"target\":\"worker\",\"pid\":1234,\"timeout\":2.5}"), 0);
	ck_assert_int_eq(validate("restart", "{\"target\":\"listener\",\"timeout\":0}"), 0);
	ck_assert_int_eq(validate("events", "{\"since\":0,\"follow\":true}"), 0);
	ck_assert_int_eq(validate("drain", "{\"pid\":1}"), 0);
	ck_assert_int_eq(validate("help", "{\"command\":\"status\"}"), 0);
}
END_TEST

static void invalid(const char *cmd, const char *params, const char *msg)
{
	ck_assert_int_eq(validate(cmd, params), -1);
	ck_assert_msg(strcmp(err, msg) == 0, "%s %s: got '%s', want '%s'", cmd, params, err, msg);
}

START_TEST(test_validate_errors)
{
	invalid("scale", "{\"min\":0}", "param 'min' must be an integer from 1 to 4096 (got 0)");
	invalid(
	    "scale", "{\"min\":1.5}", "param 'min' must be an integer from 1 to 4096 (got 1.5)");
	invalid("scale", "{\"min\":\"2\"}",
	    "param 'min' must be an integer from 1 to 4096 (got a string)");
	invalid("scale", "{\"min\":1e300}",
	    "param 'min' must be an integer from 1 to 4096 (got 1.0000000000000001e+300)");
	invalid(
	    "scale", "{\"min\":4097}", "param 'min' must be an integer from 1 to 4096 (got 4097)");
	invalid("scale", "{\"min\":8,\"max\":4}", "min (8) must not exceed max (4)");
	invalid("scale", "{}", "scale needs at least one param");
	invalid("scale", "{\"mni\":2}", "unknown param 'mni' for scale");
	invalid("scale", "{\"min\":2,\"min\":3}", "param 'min' given twice");
	invalid("scale", "[1]", "params must be an object");
	invalid("restart", "{}", "missing param 'target' for restart");
	invalid("restart", "{\"target\":\"all\"}",
	    "param 'target' must be one of: listener, manager, worker, workers (got a string)");
	invalid("restart", "{\"target\":\"worker\"}", "restart worker needs the worker's pid");
	invalid(
	    "restart", "{\"target\":\"manager\",\"pid\":5}", "a pid is only for restart worker");
	invalid("restart", "{\"target\":\"listener\",\"timeout\":-1}",
	    "param 'timeout' must be a number of seconds from 0 to 3600 (got -1)");
	invalid("drain", "{\"pid\":0}", "param 'pid' must be an integer from 1 to 4194304 (got 0)");
	invalid("drain", "{\"pid\":4194305}",
	    "param 'pid' must be an integer from 1 to 4194304 (got 4194305)");
	invalid("events", "{\"follow\":1}", "param 'follow' must be true or false (got 1)");
	invalid("status", "{\"x\":null}", "unknown param 'x' for status");
}
END_TEST

START_TEST(test_parse_args)
{
	char *scale[] = {"--min", "2", "--max=16", NULL};
	char *restart[] = {"worker", "1234", "--timeout", "5", NULL};
	char *restart_prefix[] = {"l", "--timeout=1.5s", NULL};
	char *events[] = {"-f", NULL};
	char *events_long[] = {"--since", "10", "--follow=false", NULL};
	char *drain[] = {"77", NULL};
	char *dashdash[] = {"--", "status", NULL};

	parses_to("scale", scale, "{\"min\":2,\"max\":16}");
	parses_to("restart", restart, "{\"target\":\"worker\",\"pid\":1234,\"timeout\":5}");
	parses_to("restart", restart_prefix, "{\"target\":\"listener\",\"timeout\":1.5}");
	parses_to("events", events, "{\"follow\":true}");
	parses_to("events", events_long, "{\"since\":10,\"follow\":false}");
	parses_to("drain", drain, "{\"pid\":77}");
	parses_to("help", dashdash, "{\"command\":\"status\"}");
}
END_TEST

START_TEST(test_parse_args_errors)
{
	char *unknown[] = {"--mni", "2", NULL};
	char *novalue[] = {"--min", NULL};
	char *notint[] = {"--min", "two", NULL};
	char *extra[] = {"listener", "12", "x", NULL};
	char *pid_not_worker[] = {"listener", "12", NULL};
	char *twice[] = {"--min", "2", "--min=3", NULL};
	char *ambiguous[] = {"work", "12", NULL};
	char *negative[] = {"-5", NULL};
	char *none[] = {NULL};
	char *range[] = {"--max", "0", NULL};

	parse_fails("scale", unknown, "unknown option for scale: --mni");
	parse_fails("scale", novalue, "option --min needs a value");
	parse_fails("scale", notint, "min: not an integer: two");
	parse_fails("restart", pid_not_worker, "a pid is only for restart worker");
	parse_fails("restart", extra, "unexpected argument for restart: x");
	parse_fails("scale", twice, "min given twice");
	parse_fails("restart", ambiguous, "ambiguous target: work, could be: worker, workers");
	parse_fails("drain", negative, "param 'pid' must be an integer from 1 to 4194304 (got -5)");
	parse_fails("drain", none, "missing param 'pid' for drain");
	parse_fails("scale", range, "param 'max' must be an integer from 1 to 4096 (got 0)");
	parse_fails("status", extra, "unexpected argument for status: listener");
}
END_TEST

START_TEST(test_help_json)
{
	cJSON *all = cmd_help_json(NULL), *one = cmd_help_json(cmd_find("restart"));
	const cJSON *cmds = cJSON_GetObjectItem(all, "commands"), *r, *p;
	size_t n;

	cmd_table(&n);
	ck_assert_int_eq(cJSON_GetArraySize(cmds), (int)n);
	cmds = cJSON_GetObjectItem(one, "commands");
	ck_assert_int_eq(cJSON_GetArraySize(cmds), 1);
	r = cJSON_GetArrayItem(cmds, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(r, "name")->valuestring, "restart");
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(r, "readonly")));
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "params"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(p, "type")->valuestring, "enum");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "choices")), 4);
	p = cJSON_GetArrayItem(cJSON_GetObjectItem(r, "params"), 1);
	ck_assert_double_eq(cJSON_GetObjectItem(p, "max")->valuedouble, CMD_PID_MAX);
	cJSON_Delete(all);
	cJSON_Delete(one);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmd");
	TCase *tc = tcase_create("cmd");

	tcase_add_test(tc, test_table_is_sane);
	tcase_add_test(tc, test_lookup_prefixes);
	tcase_add_test(tc, test_exact_match_wins);
	tcase_add_test(tc, test_validate_ok);
	tcase_add_test(tc, test_validate_errors);
	tcase_add_test(tc, test_parse_args);
	tcase_add_test(tc, test_parse_args_errors);
	tcase_add_test(tc, test_help_json);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
