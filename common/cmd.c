/*
 * The control command table and everything derived from it: lookup with
 * prefix matching, validation of a params object, wsctl's argument parser
 * and the help the server and wsctl print. A new command is one row here
 * (plus its handler in the daemon and its doc in docs/control-protocol.md).
 */
#include "cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

#define POOL_MAX 4096      /* CONFIG_POOL_LIMIT_MAX: the daemon checks pool.limit */
#define TIMEOUT_MAX 3600.0 /* seconds, as server.shutdown_timeout */
#define SEQ_MAX 9007199254740991.0
#define MAX_NAMES 32

static int check_scale(const cJSON *params, char *err, size_t errlen);
static int check_restart(const cJSON *params, char *err, size_t errlen);

static const char *const targets[] = {"listener", "manager", "workers", "worker", NULL};

#define P_TIMEOUT(what) \
	{ \
		"timeout", CMD_T_NUM, 0, 0, 0, 0, TIMEOUT_MAX, NULL, \
		    "seconds to wait for " what \
		    " before killing (default server.shutdown_timeout)" \
	}

static const struct cmd commands[] = {
    {"status", CMD_READONLY, "", "the server, its totals, the pool and every process", 5, {{0}},
        NULL},
    {"scale", CMD_ADMIN | CMD_ONE_PARAM, "[--min N] [--max N]",
        "set the worker pool's bounds, live (1 <= min <= max <= pool.limit)", 10,
        {{"min", CMD_T_INT, 0, 0, 0, 1, POOL_MAX, NULL, "fewest workers"},
            {"max", CMD_T_INT, 0, 0, 0, 1, POOL_MAX, NULL, "most workers"}},
        check_scale},
    {"restart", CMD_ADMIN, "listener|manager|workers|worker [PID] [--timeout S]",
        "replace a role gracefully; replies when the replacement is ready and the old one gone", 65,
        {{"target", CMD_T_ENUM, 1, 1, 0, 0, 0, targets, "what to restart"},
            {"pid", CMD_T_PID, 0, 1, 0, 1, CMD_PID_MAX, NULL, "the worker (target worker only)"},
            P_TIMEOUT("the old process")},
        check_restart},
    {"reload", CMD_ADMIN, "", "re-read the configuration file and apply what changed", 65, {{0}},
        NULL},
    {"metrics", CMD_READONLY, "",
        "the Prometheus exposition, as GET /metrics on [metrics] listen serves it", 5, {{0}}, NULL},
    {"events", CMD_READONLY, "[--since SEQ] [-f|--follow]",
        "recent supervision events; with follow, new ones as they happen", 5,
        {{"since", CMD_T_INT, 0, 0, 0, 0, SEQ_MAX, NULL, "only events after this sequence number"},
            {"follow", CMD_T_BOOL, 0, 0, 'f', 0, 0, NULL,
                "keep the connection and send new events"}},
        NULL},
    {"stop", CMD_ADMIN, "[--timeout S]", "stop the whole server gracefully", 65,
        {P_TIMEOUT("the processes")}, NULL},
    {"drain", CMD_ADMIN, "PID", "retire one worker without a replacement (never below pool min)",
        65, {{"pid", CMD_T_PID, 1, 1, 0, 1, CMD_PID_MAX, NULL, "the worker"}}, NULL},
    {"log-reopen", CMD_ADMIN, "", "reopen the log files, as SIGUSR1 does", 10, {{0}}, NULL},
    {"version", CMD_READONLY, "", "the server's version and protocol", 5, {{0}}, NULL},
    {"help", CMD_READONLY, "[COMMAND]", "the command table, or one command", 5,
        {{"command", CMD_T_STRING, 0, 1, 0, 0, 64, NULL, "one command's name"}}, NULL},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const struct cmd *cmd_table(size_t *n)
{
	*n = NCOMMANDS;
	return commands;
}

size_t cmd_choices(const struct cmd_param *p)
{
	size_t n = 0;

	while (p->choices != NULL && p->choices[n] != NULL)
		n++;
	return n;
}

const char *cmd_type_name(enum cmd_type t)
{
	static const char *const names[] = {
	    "integer", "pid", "number", "enum", "string", "boolean"};

	return names[t];
}

const struct cmd *cmd_find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* The name after prev (NULL: the first) in byte order among those starting with word. */
static const char *next_match(
    const char *word, const char *const *names, size_t n, const char *prev)
{
	const char *best = NULL;

	for (size_t i = 0; i < n; i++) {
		if (strncmp(names[i], word, strlen(word)) != 0)
			continue;
		if (prev != NULL && strcmp(names[i], prev) <= 0)
			continue;
		if (best == NULL || strcmp(names[i], best) < 0)
			best = names[i];
	}
	return best;
}

/* "a, b, c": the names that start with word, sorted. */
static void join_matches(
    const char *word, const char *const *names, size_t n, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (const char *m = next_match(word, names, n, NULL); m != NULL;
	     m = next_match(word, names, n, m)) {
		int r = snprintf(out + used, outlen - used, "%s%s", used ? ", " : "", m);

		if (r < 0 || (size_t)r >= outlen - used)
			return;
		used += (size_t)r;
	}
}

int cmd_match_word(const char *word, const char *const *names, size_t n, const char *what,
    char *err, size_t errlen)
{
	size_t wl = strlen(word), hits = 0;
	int found = -1;
	char list[CMD_ERRLEN];

	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], word) == 0)
			return (int)i;
		if (wl > 0 && strncmp(names[i], word, wl) == 0)
			hits++, found = (int)i;
	}
	if (hits == 1)
		return found;
	if (hits == 0) {
		snprintf(err, errlen, "unknown %s: %s", what, word);
		return -1;
	}
	join_matches(word, names, n, list, sizeof(list));
	snprintf(err, errlen, "ambiguous %s: %s, could be: %s", what, word, list);
	return -1;
}

const struct cmd *cmd_lookup(const char *name, char *err, size_t errlen)
{
	const char *names[NCOMMANDS];
	int i;

	for (size_t k = 0; k < NCOMMANDS; k++)
		names[k] = commands[k].name;
	i = cmd_match_word(name, names, NCOMMANDS, "command", err, errlen);
	return i < 0 ? NULL : &commands[i];
}

const struct cmd_param *cmd_param(const struct cmd *c, const char *name)
{
	for (size_t i = 0; i < CMD_MAXPARAMS && c->params[i].name != NULL; i++) {
		if (strcmp(c->params[i].name, name) == 0)
			return &c->params[i];
	}
	return NULL;
}

/* What a JSON value is, for "got ..." in messages. */
static void describe(const cJSON *v, char *out, size_t outlen)
{
	if (cJSON_IsNumber(v))
		snprintf(out, outlen, "%.17g", v->valuedouble);
	else if (cJSON_IsString(v))
		snprintf(out, outlen, "a string");
	else if (cJSON_IsBool(v))
		snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNull(v))
		snprintf(out, outlen, "null");
	else
		snprintf(out, outlen, "%s", cJSON_IsArray(v) ? "an array" : "an object");
}

/* The expectation of p in words: "an integer from 1 to 4096". */
static void expectation(const struct cmd_param *p, char *out, size_t outlen)
{
	char list[CMD_ERRLEN / 2];

	switch (p->type) {
	case CMD_T_INT:
	case CMD_T_PID:
		snprintf(out, outlen, "an integer from %.0f to %.0f", p->min, p->max);
		break;
	case CMD_T_NUM:
		snprintf(out, outlen, "a number of seconds from %g to %g", p->min, p->max);
		break;
	case CMD_T_ENUM:
		join_matches("", p->choices, cmd_choices(p), list, sizeof(list));
		snprintf(out, outlen, "one of: %s", list);
		break;
	case CMD_T_STRING:
		snprintf(out, outlen, "a string of at most %.0f bytes", p->max);
		break;
	case CMD_T_BOOL:
		snprintf(out, outlen, "true or false");
		break;
	}
}

static int value_ok(const struct cmd_param *p, const cJSON *v)
{
	int64_t i;

	switch (p->type) {
	case CMD_T_INT:
	case CMD_T_PID:
		return rpc_int(v, (int64_t)p->min, (int64_t)p->max, &i) == 0;
	case CMD_T_NUM:
		return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= p->min &&
		    v->valuedouble <= p->max;
	case CMD_T_ENUM:
		for (size_t k = 0; cJSON_IsString(v) && p->choices[k] != NULL; k++) {
			if (strcmp(v->valuestring, p->choices[k]) == 0)
				return 1;
		}
		return 0;
	case CMD_T_STRING:
		return cJSON_IsString(v) && strlen(v->valuestring) <= (size_t)p->max;
	case CMD_T_BOOL:
		return cJSON_IsBool(v);
	}
	return 0;
}

static int check_member(const struct cmd *c, const cJSON *v, char *err, size_t errlen)
{
	const struct cmd_param *p = cmd_param(c, v->string);
	char want[CMD_ERRLEN], got[64];

	if (p == NULL) {
		snprintf(err, errlen, "unknown param '%s' for %s", v->string, c->name);
		return -1;
	}
	if (value_ok(p, v))
		return 0;
	expectation(p, want, sizeof(want));
	describe(v, got, sizeof(got));
	snprintf(err, errlen, "param '%s' must be %s (got %s)", p->name, want, got);
	return -1;
}

static int check_required(const struct cmd *c, const cJSON *params, char *err, size_t errlen)
{
	for (size_t i = 0; i < CMD_MAXPARAMS && c->params[i].name != NULL; i++) {
		if (c->params[i].required &&
		    cJSON_GetObjectItemCaseSensitive(params, c->params[i].name) == NULL) {
			snprintf(
			    err, errlen, "missing param '%s' for %s", c->params[i].name, c->name);
			return -1;
		}
	}
	if ((c->flags & CMD_ONE_PARAM) && (params == NULL || params->child == NULL)) {
		snprintf(err, errlen, "%s needs at least one param", c->name);
		return -1;
	}
	return 0;
}

int cmd_validate(const struct cmd *c, const cJSON *params, char *err, size_t errlen)
{
	if (params != NULL && !cJSON_IsObject(params)) {
		snprintf(err, errlen, "params must be an object");
		return -1;
	}
	for (const cJSON *v = params ? params->child : NULL; v != NULL; v = v->next) {
		for (const cJSON *w = v->next; w != NULL; w = w->next) {
			if (strcmp(v->string, w->string) == 0) {
				snprintf(err, errlen, "param '%s' given twice", v->string);
				return -1;
			}
		}
		if (check_member(c, v, err, errlen) < 0)
			return -1;
	}
	if (check_required(c, params, err, errlen) < 0)
		return -1;
	return c->check != NULL ? c->check(params, err, errlen) : 0;
}

static int check_scale(const cJSON *params, char *err, size_t errlen)
{
	int64_t min = cmd_get_int(params, "min", 0), max = cmd_get_int(params, "max", 0);

	if (min > 0 && max > 0 && min > max) {
		snprintf(err, errlen, "min (%lld) must not exceed max (%lld)", (long long)min,
		    (long long)max);
		return -1;
	}
	return 0;
}

static int check_restart(const cJSON *params, char *err, size_t errlen)
{
	int worker = strcmp(cmd_get_str(params, "target", ""), "worker") == 0;
	int pid = cJSON_GetObjectItemCaseSensitive(params, "pid") != NULL;

	if (worker && !pid) {
		snprintf(err, errlen, "restart worker needs the worker's pid");
		return -1;
	}
	if (!worker && pid) {
		snprintf(err, errlen, "a pid is only for restart worker");
		return -1;
	}
	return 0;
}

int64_t cmd_get_int(const cJSON *params, const char *name, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

double cmd_get_num(const cJSON *params, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

const char *cmd_get_str(const cJSON *params, const char *name, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);

	return cJSON_IsString(v) ? v->valuestring : def;
}

int cmd_get_bool(const cJSON *params, const char *name, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, name);

	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}
