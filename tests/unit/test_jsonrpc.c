/* JSON-RPC 2.0 lines: UTF-8, integers, request validation, reply building and parsing. */
#include <check.h>

#include "check_run.h"
#include <string.h>

#include "jsonrpc.h"

static char err[RPC_ERRLEN];

/* Parse s as a request line; returns the code, req filled. */
static int req_of(const char *s, struct rpc_request *req)
{
	err[0] = '\0';
	return rpc_parse_request(s, strlen(s), req, err, sizeof(err));
}

static void refused(const char *s, int code, const char *msg, const char *id)
{
	struct rpc_request req;
	char *idtext;

	ck_assert_int_eq(req_of(s, &req), code);
	ck_assert_msg(strcmp(err, msg) == 0, "%s: '%s' != '%s'", s, err, msg);
	if (id == NULL) {
		ck_assert_ptr_null(req.id);
	} else {
		idtext = cJSON_PrintUnformatted(req.id);
		ck_assert_str_eq(idtext, id);
		free(idtext);
	}
	rpc_request_free(&req);
}

START_TEST(test_utf8)
{
	ck_assert(rpc_utf8_valid("plain", 5));
	ck_assert(rpc_utf8_valid("\xc3\xa9t\xc3\xa9", 6)); /* été */
	ck_assert(rpc_utf8_valid("\xe2\x82\xac", 3));      /* € */
	ck_assert(rpc_utf8_valid("\xf0\x9f\x98\x80", 4));  /* U+1F600 */
	ck_assert(rpc_utf8_valid("\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
	ck_assert(!rpc_utf8_valid("\xff", 1));             /* never valid */
	ck_assert(!rpc_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	ck_assert(!rpc_utf8_valid("\xe0\x80\xaf", 3));     /* overlong */
	ck_assert(!rpc_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	ck_assert(!rpc_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	ck_assert(!rpc_utf8_valid("\xe2\x82", 2));         /* truncated */
	ck_assert(!rpc_utf8_valid("\x80", 1));             /* lone continuation */
	ck_assert(!rpc_utf8_valid("\xc3\x28", 2));         /* bad continuation */
}
END_TEST

START_TEST(test_int)
{
	cJSON *a = cJSON_Parse("[3, 3.0, 3.5, 1e300, -1, 9007199254740993, \"3\"]");
	int64_t v;

	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 0), 0, 10, &v), 0);
	ck_assert_int_eq(v, 3);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 1), 0, 10, &v), 0);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 2), 0, 10, &v), -1);
	/* cJSON saturates valueint to INT_MAX here: we look at the double. */
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 3), 0, INT64_MAX, &v), -1);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 4), 0, 10, &v), -1);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 4), -1, 10, &v), 0);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 5), 0, INT64_MAX, &v), -1);
	ck_assert_int_eq(rpc_int(cJSON_GetArrayItem(a, 6), 0, 10, &v), -1);
	cJSON_Delete(a);
}
END_TEST

START_TEST(test_request_ok)
{
	struct rpc_request req;

	ck_assert_int_eq(
	    req_of(
	        "{\"jsonrpc\":\"2.0\",\"method\":\"scale\",\"params\":{\"min\":2},\"id\":7}", &req),
	    0);
	ck_assert_str_eq(req.method, "scale");
	ck_assert_int_eq(req.id->valuedouble, 7);
	ck_assert(!req.notification);
	ck_assert_int_eq(cJSON_GetObjectItem(req.params, "min")->valueint, 2);
	rpc_request_free(&req);
	ck_assert_int_eq(
	    req_of(" {\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":\"a\"} \r", &req), 0);
	ck_assert_ptr_null(req.params);
	ck_assert_str_eq(req.id->valuestring, "a");
	rpc_request_free(&req);
	ck_assert_int_eq(
	    req_of("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":null}", &req), 0);
	ck_assert(cJSON_IsNull(req.id));
	ck_assert(!req.notification);
	rpc_request_free(&req);
	ck_assert_int_eq(req_of("{\"jsonrpc\":\"2.0\",\"method\":\"log-reopen\"}", &req), 0);
	ck_assert(req.notification);
	ck_assert_ptr_null(req.id);
	rpc_request_free(&req);
}
END_TEST

START_TEST(test_request_refused)
{
	refused("{\"jsonrpc\":\"2.0\",", RPC_PARSE_ERROR, "not one valid JSON value", NULL);
	refused("", RPC_PARSE_ERROR, "not one valid JSON value", NULL);
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1} x", RPC_PARSE_ERROR,
	    "not one valid JSON value", NULL);
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"st\xff\",\"id\":1}", RPC_PARSE_ERROR,
	    "invalid UTF-8", NULL);
	refused("[{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":1}]", RPC_INVALID_REQUEST,
	    "batch requests are not supported: send one object per line", NULL);
	refused("42", RPC_INVALID_REQUEST, "a request must be a JSON object", NULL);
	refused("{\"jsonrpc\":\"1.0\",\"method\":\"status\",\"id\":3}", RPC_INVALID_REQUEST,
	    "jsonrpc must be \"2.0\"", "3");
	refused("{\"jsonrpc\":\"2.0\",\"method\":5,\"id\":\"x\"}", RPC_INVALID_REQUEST,
	    "method must be a string", "\"x\"");
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":[1]}", RPC_INVALID_REQUEST,
	    "id must be a number, a string or null", NULL);
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"params\":[1],\"id\":4}",
	    RPC_INVALID_PARAMS, "params must be an object (params by name)", "4");
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"params\":1,\"id\":4}",
	    RPC_INVALID_REQUEST, "params must be an object (params by name)", "4");
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"extra\":1,\"id\":4}",
	    RPC_INVALID_REQUEST, "unknown member 'extra'", "4");
	refused("{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"method\":\"stop\",\"id\":4}",
	    RPC_INVALID_REQUEST, "member 'method' given twice", NULL);
}
END_TEST

START_TEST(test_request_nul_byte)
{
	static const char line[] = "{\"jsonrpc\":\"2.0\",\"method\":\"status\"}\0{\"x\":1}";
	struct rpc_request req;

	ck_assert_int_eq(
	    rpc_parse_request(line, sizeof(line) - 1, &req, err, sizeof(err)), RPC_PARSE_ERROR);
	ck_assert_str_eq(err, "NUL byte in the line");
	rpc_request_free(&req);
}
END_TEST

START_TEST(test_reply_lines)
{
	cJSON *id = cJSON_CreateNumber(7), *res = cJSON_CreateObject(),
	      *data = cJSON_CreateObject();
	size_t len;
	char *line;

	cJSON_AddNumberToObject(res, "pid", 42);
	line = rpc_result_line(id, res, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"result\":{\"pid\":42},\"id\":7}\n");
	ck_assert_uint_eq(len, strlen(line));
	free(line);
	cJSON_AddStringToObject(data, "operation", "restart");
	line = rpc_error_line(NULL, RPC_BUSY, "Busy", data, &len);
	ck_assert_str_eq(line,
	    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32001,\"message\":\"Busy\","
	    "\"data\":{\"operation\":\"restart\"}},\"id\":null}\n");
	free(line);
	line = rpc_result_line(id, NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"result\":null,\"id\":7}\n");
	free(line);
	line = rpc_notify_line("event", NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"method\":\"event\"}\n");
	free(line);
	line = rpc_request_line(3, "status", NULL, &len);
	ck_assert_str_eq(line, "{\"jsonrpc\":\"2.0\",\"method\":\"status\",\"id\":3}\n");
	free(line);
	cJSON_Delete(id);
	ck_assert_str_eq(rpc_code_text(RPC_TOO_LONG), "Line too long");
}
END_TEST

START_TEST(test_parse_reply)
{
	static const char ok[] = "{\"jsonrpc\":\"2.0\",\"result\":{\"a\":1},\"id\":1}";
	static const char bad[] =
	    "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32602,\"message\":\"no\","
	    "\"data\":\"d\"},\"id\":1}";
	static const char note[] = "{\"jsonrpc\":\"2.0\",\"method\":\"event\",\"params\":{}}";
	static const char both[] = "{\"jsonrpc\":\"2.0\",\"result\":1,\"error\":{},\"id\":1}";
	struct rpc_reply r;

	ck_assert_int_eq(rpc_parse_reply(ok, strlen(ok), &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.code, 0);
	ck_assert(cJSON_IsObject(r.result));
	rpc_reply_free(&r);
	ck_assert_int_eq(rpc_parse_reply(bad, strlen(bad), &r, err, sizeof(err)), 0);
	ck_assert_int_eq(r.code, RPC_INVALID_PARAMS);
	ck_assert_str_eq(r.message, "no");
	ck_assert_str_eq(r.data->valuestring, "d");
	rpc_reply_free(&r);
	ck_assert_int_eq(rpc_parse_reply(note, strlen(note), &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r.method, "event");
	rpc_reply_free(&r);
	ck_assert_int_eq(rpc_parse_reply(both, strlen(both), &r, err, sizeof(err)), -1);
	rpc_reply_free(&r);
	ck_assert_int_eq(rpc_parse_reply("[]", 2, &r, err, sizeof(err)), -1);
	rpc_reply_free(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonrpc");
	TCase *tc = tcase_create("jsonrpc");

	tcase_add_test(tc, test_utf8);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_request_ok);
	tcase_add_test(tc, test_request_refused);
	tcase_add_test(tc, test_request_nul_byte);
	tcase_add_test(tc, test_reply_lines);
	tcase_add_test(tc, test_parse_reply);
	suite_add_tcase(s, tc);
	return check_run(srunner_create(s), CK_NORMAL);
}
