/*
 * JSON-RPC 2.0 over a stream, one object per line: the control socket's
 * wire, for the daemon (requests in, replies out) and wsctl (the reverse).
 * cJSON does not validate UTF-8, saturates valueint and accepts trailing
 * bytes unless told not to: this module does all three checks itself.
 */
#ifndef WSD_JSONRPC_H
#define WSD_JSONRPC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define RPC_ERRLEN 256
#define RPC_MAX_LINE (64 * 1024) /* a request line longer than this is refused */
#define RPC_PROTOCOL 1           /* bumped when a method changes incompatibly */

/* Error codes. The first five are JSON-RPC's; ours start at -32000. */
enum rpc_code {
	RPC_PARSE_ERROR = -32700,      /* not JSON, invalid UTF-8, a NUL byte, trailing bytes */
	RPC_INVALID_REQUEST = -32600,  /* not an object, a batch, bad jsonrpc/method/id/params */
	RPC_METHOD_NOT_FOUND = -32601, /* data: {"method"} */
	RPC_INVALID_PARAMS = -32602,   /* message says which param and why */
	RPC_INTERNAL = -32603,         /* a bug or out of memory on the server's side */
	RPC_DENIED = -32000,   /* this uid may not run this method; data: {"uid", "method"} */
	RPC_BUSY = -32001,     /* another mutating operation runs; data: {"operation", "since"} */
	RPC_FAILED = -32002,   /* the operation was tried and failed; data: details */
	RPC_TIMEOUT = -32003,  /* the operation did not finish in time; data: details */
	RPC_TOO_LONG = -32004, /* a line over RPC_MAX_LINE bytes; the connection closes */
	RPC_STOPPING = -32005, /* the server is stopping and takes no new operation */
	RPC_UNAVAILABLE = -32006, /* not available in this server (yet); data: {"method"} */
};

/* A short fixed message per code ("Parse error", "Permission denied", ...). */
const char *rpc_code_text(int code);

/* 1 when s[0..len) is well-formed UTF-8 (no overlong forms, surrogates or > U+10FFFF). */
int rpc_utf8_valid(const char *s, size_t len);

/* An integral JSON number within [min, max] (|x| < 2^53) into *out: 0, else -1. */
int rpc_int(const cJSON *item, int64_t min, int64_t max, int64_t *out);

struct rpc_request {
	cJSON *root;         /* owns the rest; NULL when the line did not parse */
	const char *method;  /* NULL on an invalid request */
	const cJSON *id;     /* number, string or null; NULL = a notification */
	const cJSON *params; /* an object, or NULL when absent */
	int notification;    /* no id member: run it, reply nothing */
};

/*
 * One line (without its '\n'; line[len] must be '\0') into a request. 0 when valid; otherwise the
 * error code (RPC_PARSE_ERROR or RPC_INVALID_REQUEST) with the reason in
 * err: reply with req->id, which is NULL (reply id null) unless a valid id
 * was found. rpc_request_free() in every case.
 */
int rpc_parse_request(
    const char *line, size_t len, struct rpc_request *req, char *err, size_t errlen);
void rpc_request_free(struct rpc_request *req);

/*
 * Reply lines, '\n'-terminated, malloc'd, with their length in *len.
 * result and data are consumed (NULL: result null, no data). id NULL
 * means id null. NULL only when out of memory.
 */
char *rpc_result_line(const cJSON *id, cJSON *result, size_t *len);
char *rpc_error_line(const cJSON *id, int code, const char *message, cJSON *data, size_t *len);
/* A notification line {"jsonrpc","method","params"} (params consumed). */
char *rpc_notify_line(const char *method, cJSON *params, size_t *len);
/* A request line with an integer id (params consumed; NULL = none). */
char *rpc_request_line(int64_t id, const char *method, cJSON *params, size_t *len);

struct rpc_reply {
	cJSON *root;
	const cJSON *id;     /* NULL on a notification */
	const char *method;  /* notifications: the method */
	const cJSON *params; /* notifications: the params */
	const cJSON *result; /* replies: the result, or NULL on an error */
	int code;            /* replies: 0, or the error code */
	const char *message; /* error message */
	const cJSON *data;   /* error data, or NULL */
};

/* wsctl: one line from the server (line[len] == '\0'). 0, or -1 with the reason in err. */
int rpc_parse_reply(const char *line, size_t len, struct rpc_reply *rep, char *err, size_t errlen);
void rpc_reply_free(struct rpc_reply *rep);

#endif
