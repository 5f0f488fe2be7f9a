/*
 * JSON-RPC 2.0 framing and validation: requests are checked in the order
 * a reader would (bytes, JSON, shape, members), so the first problem found
 * is the one reported.
 */
#include "jsonrpc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_SAFE_INT 9007199254740992.0 /* 2^53: below it, integers are exact in a double */

static const struct {
	int code;
	const char *text;
} code_texts[] = {
    {RPC_PARSE_ERROR, "Parse error"},
    {RPC_INVALID_REQUEST, "Invalid request"},
    {RPC_METHOD_NOT_FOUND, "Method not found"},
    {RPC_INVALID_PARAMS, "Invalid params"},
    {RPC_INTERNAL, "Internal error"},
    {RPC_DENIED, "Permission denied"},
    {RPC_BUSY, "Busy"},
    {RPC_FAILED, "Operation failed"},
    {RPC_TIMEOUT, "Timed out"},
    {RPC_TOO_LONG, "Line too long"},
    {RPC_STOPPING, "Server stopping"},
    {RPC_UNAVAILABLE, "Not available"},
};

const char *rpc_code_text(int code)
{
	for (size_t i = 0; i < sizeof(code_texts) / sizeof(code_texts[0]); i++) {
		if (code_texts[i].code == code)
			return code_texts[i].text;
	}
	return "Error";
}

/* Bytes a sequence starting with lead takes and its smallest code point; 0 = invalid lead. */
static int utf8_lead(unsigned char lead, uint32_t *cp, uint32_t *min)
{
	if (lead < 0x80) {
		*cp = lead;
		return 1;
	}
	if (lead >= 0xc2 && lead <= 0xdf) {
		*cp = lead & 0x1f, *min = 0x80;
		return 2;
	}
	if (lead >= 0xe0 && lead <= 0xef) {
		*cp = lead & 0x0f, *min = 0x800;
		return 3;
	}
	if (lead >= 0xf0 && lead <= 0xf4) {
		*cp = lead & 0x07, *min = 0x10000;
		return 4;
	}
	return 0;
}

int rpc_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp = 0, min = 0;
		int n = utf8_lead(p[i], &cp, &min);

		if (n == 0 || len - i < (size_t)n)
			return 0;
		for (int k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (n > 1 && (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)))
			return 0;
		i += (size_t)n;
	}
	return 1;
}

int rpc_int(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	double d;
	int64_t v;

	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!isfinite(d) || d <= -JSON_SAFE_INT || d >= JSON_SAFE_INT)
		return -1;
	v = (int64_t)d;
	if ((double)v != d || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A member name that appears twice in obj, or NULL. */
static const char *json_duplicate(const cJSON *obj)
{
	for (const cJSON *a = obj->child; a != NULL; a = a->next) {
		for (const cJSON *b = a->next; b != NULL; b = b->next) {
			if (strcmp(a->string, b->string) == 0)
				return a->string;
		}
	}
	return NULL;
}

/* The id member, checked first so that later errors can be answered with it. */
static int request_id(struct rpc_request *req, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req->root, "id");

	req->notification = (id == NULL);
	if (id == NULL)
		return 0;
	if (!cJSON_IsNumber(id) && !cJSON_IsString(id) && !cJSON_IsNull(id)) {
		snprintf(err, errlen, "id must be a number, a string or null");
		return RPC_INVALID_REQUEST;
	}
	req->id = id;
	return 0;
}

static int request_member_ok(const char *name)
{
	static const char *const names[] = {"jsonrpc", "method", "params", "id"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0)
			return 1;
	}
	return 0;
}

/* The members of a request object, id already taken. */
static int request_members(struct rpc_request *req, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->root, "jsonrpc");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(req->root, "method");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(req->root, "params");

	for (const cJSON *c = req->root->child; c != NULL; c = c->next) {
		if (!request_member_ok(c->string)) {
			snprintf(err, errlen, "unknown member '%s'", c->string);
			return RPC_INVALID_REQUEST;
		}
	}
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
		snprintf(err, errlen, "jsonrpc must be \"2.0\"");
		return RPC_INVALID_REQUEST;
	}
	if (!cJSON_IsString(m)) {
		snprintf(err, errlen, "method must be a string");
		return RPC_INVALID_REQUEST;
	}
	if (p != NULL && !cJSON_IsObject(p)) {
		snprintf(err, errlen, "params must be an object (params by name)");
		return cJSON_IsArray(p) ? RPC_INVALID_PARAMS : RPC_INVALID_REQUEST;
	}
	req->method = m->valuestring;
	req->params = p;
	return 0;
}

/* Bytes before JSON: no NUL (cJSON would stop there), valid UTF-8. */
static int line_bytes_ok(const char *line, size_t len, char *err, size_t errlen)
{
	if (memchr(line, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in the line");
		return -1;
	}
	if (!rpc_utf8_valid(line, len)) {
		snprintf(err, errlen, "invalid UTF-8");
		return -1;
	}
	return 0;
}

int rpc_parse_request(
    const char *line, size_t len, struct rpc_request *req, char *err, size_t errlen)
{
	const char *dup;
	int rc;

	memset(req, 0, sizeof(*req));
	if (line_bytes_ok(line, len, err, errlen) < 0)
		return RPC_PARSE_ERROR;
	req->root = cJSON_ParseWithOpts(line, NULL, 1);
	if (req->root == NULL) {
		snprintf(err, errlen, "not one valid JSON value");
		return RPC_PARSE_ERROR;
	}
	if (cJSON_IsArray(req->root)) {
		snprintf(err, errlen, "batch requests are not supported: send one object per line");
		return RPC_INVALID_REQUEST;
	}
	if (!cJSON_IsObject(req->root)) {
		snprintf(err, errlen, "a request must be a JSON object");
		return RPC_INVALID_REQUEST;
	}
	if ((dup = json_duplicate(req->root)) != NULL) {
		snprintf(err, errlen, "member '%s' given twice", dup);
		return RPC_INVALID_REQUEST;
	}
	if ((rc = request_id(req, err, errlen)) != 0)
		return rc;
	return request_members(req, err, errlen);
}

void rpc_request_free(struct rpc_request *req)
{
	cJSON_Delete(req->root);
	memset(req, 0, sizeof(*req));
}

/* obj as one '\n'-terminated line; obj is deleted. */
static char *json_line(cJSON *obj, size_t *len)
{
	char *s = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
	char *line;
	size_t n;

	cJSON_Delete(obj);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (line == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*len = n + 1;
	return line;
}

/* {"jsonrpc":"2.0"} plus the reply's id, or NULL (value consumed on failure). */
static cJSON *reply_object(const cJSON *id, const char *name, cJSON *value)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *idc = id != NULL ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();

	if (o == NULL || idc == NULL || cJSON_AddStringToObject(o, "jsonrpc", "2.0") == NULL) {
		cJSON_Delete(o), cJSON_Delete(idc), cJSON_Delete(value);
		return NULL;
	}
	cJSON_AddItemToObject(o, name, value);
	cJSON_AddItemToObject(o, "id", idc);
	return o;
}

char *rpc_result_line(const cJSON *id, cJSON *result, size_t *len)
{
	if (result == NULL && (result = cJSON_CreateNull()) == NULL)
		return NULL;
	return json_line(reply_object(id, "result", result), len);
}

char *rpc_error_line(const cJSON *id, int code, const char *message, cJSON *data, size_t *len)
{
	cJSON *e = cJSON_CreateObject();

	if (e == NULL || cJSON_AddNumberToObject(e, "code", code) == NULL ||
	    cJSON_AddStringToObject(e, "message", message) == NULL) {
		cJSON_Delete(e), cJSON_Delete(data);
		return NULL;
	}
	if (data != NULL)
		cJSON_AddItemToObject(e, "data", data);
	return json_line(reply_object(id, "error", e), len);
}

/* {"jsonrpc":"2.0","method":m} with params and id when given. */
static cJSON *call_object(const char *method, cJSON *params, cJSON *id)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "jsonrpc", "2.0") == NULL ||
	    cJSON_AddStringToObject(o, "method", method) == NULL) {
		cJSON_Delete(o), cJSON_Delete(params), cJSON_Delete(id);
		return NULL;
	}
	if (params != NULL)
		cJSON_AddItemToObject(o, "params", params);
	if (id != NULL)
		cJSON_AddItemToObject(o, "id", id);
	return o;
}

char *rpc_notify_line(const char *method, cJSON *params, size_t *len)
{
	return json_line(call_object(method, params, NULL), len);
}

char *rpc_request_line(int64_t id, const char *method, cJSON *params, size_t *len)
{
	cJSON *idn = cJSON_CreateNumber((double)id);

	if (idn == NULL) {
		cJSON_Delete(params);
		return NULL;
	}
	return json_line(call_object(method, params, idn), len);
}

/* The error member of a reply. */
static int reply_error(struct rpc_reply *rep, const cJSON *e, char *err, size_t errlen)
{
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	int64_t c;

	if (!cJSON_IsObject(e) || rpc_int(code, INT32_MIN, -1, &c) < 0 || !cJSON_IsString(msg)) {
		snprintf(err, errlen, "malformed error in the reply");
		return -1;
	}
	rep->code = (int)c;
	rep->message = msg->valuestring;
	rep->data = cJSON_GetObjectItemCaseSensitive(e, "data");
	return 0;
}

/* The members of a reply or a notification from the server. */
static int reply_members(struct rpc_reply *rep, char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(rep->root, "method");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(rep->root, "error");

	if (cJSON_IsString(m)) {
		rep->method = m->valuestring;
		rep->params = cJSON_GetObjectItemCaseSensitive(rep->root, "params");
		return 0;
	}
	rep->id = cJSON_GetObjectItemCaseSensitive(rep->root, "id");
	rep->result = cJSON_GetObjectItemCaseSensitive(rep->root, "result");
	if (rep->id == NULL || (rep->result == NULL) == (e == NULL)) {
		snprintf(err, errlen, "a reply needs an id and one of result or error");
		return -1;
	}
	return e != NULL ? reply_error(rep, e, err, errlen) : 0;
}

int rpc_parse_reply(const char *line, size_t len, struct rpc_reply *rep, char *err, size_t errlen)
{
	const cJSON *v;

	memset(rep, 0, sizeof(*rep));
	if (line_bytes_ok(line, len, err, errlen) < 0)
		return -1;
	rep->root = cJSON_ParseWithOpts(line, NULL, 1);
	if (!cJSON_IsObject(rep->root)) {
		snprintf(err, errlen, "the server sent something that is not a JSON object");
		return -1;
	}
	v = cJSON_GetObjectItemCaseSensitive(rep->root, "jsonrpc");
	if (!cJSON_IsString(v) || strcmp(v->valuestring, "2.0") != 0) {
		snprintf(err, errlen, "the server's reply is not JSON-RPC 2.0");
		return -1;
	}
	return reply_members(rep, err, errlen);
}

void rpc_reply_free(struct rpc_reply *rep)
{
	cJSON_Delete(rep->root);
	memset(rep, 0, sizeof(*rep));
}
