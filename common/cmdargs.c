/*
 * What wsctl and help derive from the command table: the command line's
 * words into a params object (then validated exactly as the daemon will),
 * and the table as JSON.
 */
#include "cmd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAFE_INT 9007199254740992.0

static int word_int(const char *w, double *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(w, &end, 10);
	if (errno != 0 || end == w || *end != '\0' || fabs((double)v) > SAFE_INT)
		return -1;
	*out = (double)v;
	return 0;
}

/* Seconds: "5", "1.5", "5s". */
static int word_num(const char *w, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(w, &end);
	if (errno != 0 || end == w || !isfinite(*out))
		return -1;
	return (*end == '\0' || (end[0] == 's' && end[1] == '\0')) ? 0 : -1;
}

static int word_bool(const char *w, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"},
	                         *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(w, yes[i]) == 0 || strcmp(w, no[i]) == 0) {
			*out = strcmp(w, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* One word as the JSON value param p takes, or NULL with err. */
static cJSON *word_value(const struct cmd_param *p, const char *w, char *err, size_t errlen)
{
	double d;
	int b, i;

	switch (p->type) {
	case CMD_T_INT:
	case CMD_T_PID:
		if (word_int(w, &d) == 0)
			return cJSON_CreateNumber(d);
		break;
	case CMD_T_NUM:
		if (word_num(w, &d) == 0)
			return cJSON_CreateNumber(d);
		break;
	case CMD_T_ENUM:
		i = cmd_match_word(w, p->choices, cmd_choices(p), p->name, err, errlen);
		return i < 0 ? NULL : cJSON_CreateString(p->choices[i]);
	case CMD_T_STRING:
		return cJSON_CreateString(w);
	case CMD_T_BOOL:
		if (word_bool(w, &b) == 0)
			return cJSON_CreateBool(b);
		break;
	}
	snprintf(err, errlen, "%s: not %s: %s", p->name,
	    p->type == CMD_T_NUM      ? "a number of seconds" :
	        p->type == CMD_T_BOOL ? "true or false" :
	                                "an integer",
	    w);
	return NULL;
}

static int add_value(
    cJSON *params, const struct cmd_param *p, const char *w, char *err, size_t errlen)
{
	cJSON *v;

	if (cJSON_GetObjectItemCaseSensitive(params, p->name) != NULL) {
		snprintf(err, errlen, "%s given twice", p->name);
		return -1;
	}
	if ((v = word_value(p, w, err, errlen)) == NULL)
		return -1;
	cJSON_AddItemToObject(params, p->name, v);
	return 0;
}

/* A word that is an option rather than a value: "-f", "--min", not "-5". */
static int is_option(const char *w)
{
	return w[0] == '-' && w[1] != '\0' && !(w[1] >= '0' && w[1] <= '9') && w[1] != '.';
}

static const struct cmd_param *option_param(
    const struct cmd *c, const char *w, char *name, size_t namelen)
{
	const char *eq;

	if (w[1] != '-') {
		for (size_t i = 0; w[2] == '\0' && i < CMD_MAXPARAMS && c->params[i].name; i++) {
			if (c->params[i].flag == w[1])
				return &c->params[i];
		}
		return NULL;
	}
	eq = strchr(w, '=');
	snprintf(name, namelen, "%.*s", (int)(eq ? (size_t)(eq - w - 2) : strlen(w + 2)), w + 2);
	return cmd_param(c, name);
}

/* An option at argv[*i] (and its value); *i moves past what it used. */
static int parse_option(const struct cmd *c, cJSON *params, int argc, char *const argv[], int *i,
    char *err, size_t errlen)
{
	const char *w = argv[*i], *eq = w[1] == '-' ? strchr(w, '=') : NULL;
	char name[64];
	const struct cmd_param *p = option_param(c, w, name, sizeof(name));

	if (p == NULL) {
		snprintf(err, errlen, "unknown option for %s: %s", c->name, w);
		return -1;
	}
	if (eq != NULL)
		return add_value(params, p, eq + 1, err, errlen);
	if (p->type == CMD_T_BOOL)
		return add_value(params, p, "true", err, errlen);
	if (*i + 1 >= argc) {
		snprintf(err, errlen, "option %s needs a value", w);
		return -1;
	}
	return add_value(params, p, argv[++*i], err, errlen);
}

/* The next positional param not given yet, or NULL. */
static const struct cmd_param *next_positional(const struct cmd *c, const cJSON *params)
{
	for (size_t i = 0; i < CMD_MAXPARAMS && c->params[i].name != NULL; i++) {
		if (c->params[i].positional &&
		    cJSON_GetObjectItemCaseSensitive(params, c->params[i].name) == NULL)
			return &c->params[i];
	}
	return NULL;
}

static int parse_words(
    const struct cmd *c, cJSON *params, int argc, char *const argv[], char *err, size_t errlen)
{
	int options = 1;

	for (int i = 0; i < argc; i++) {
		const struct cmd_param *p;

		if (options && strcmp(argv[i], "--") == 0) {
			options = 0;
			continue;
		}
		if (options && is_option(argv[i])) {
			if (parse_option(c, params, argc, argv, &i, err, errlen) < 0)
				return -1;
			continue;
		}
		if ((p = next_positional(c, params)) == NULL) {
			snprintf(err, errlen, "unexpected argument for %s: %s", c->name, argv[i]);
			return -1;
		}
		if (add_value(params, p, argv[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

cJSON *cmd_parse_args(const struct cmd *c, int argc, char *const argv[], char *err, size_t errlen)
{
	cJSON *params = cJSON_CreateObject();

	if (params == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (parse_words(c, params, argc, argv, err, errlen) < 0 ||
	    cmd_validate(c, params, err, errlen) < 0) {
		cJSON_Delete(params);
		return NULL;
	}
	return params;
}

/* Bounds, choices or length of one param. */
static void help_bounds(cJSON *o, const struct cmd_param *p)
{
	cJSON *ch;

	switch (p->type) {
	case CMD_T_INT:
	case CMD_T_PID:
	case CMD_T_NUM:
		cJSON_AddNumberToObject(o, "min", p->min);
		cJSON_AddNumberToObject(o, "max", p->max);
		break;
	case CMD_T_ENUM:
		ch = cJSON_CreateStringArray(p->choices, (int)cmd_choices(p));
		if (ch != NULL)
			cJSON_AddItemToObject(o, "choices", ch);
		break;
	case CMD_T_STRING:
		cJSON_AddNumberToObject(o, "max_length", p->max);
		break;
	case CMD_T_BOOL:
		break;
	}
}

static cJSON *help_param(const struct cmd_param *p)
{
	cJSON *o = cJSON_CreateObject();
	char flag[2] = {p->flag, '\0'};

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "type", cmd_type_name(p->type));
	cJSON_AddBoolToObject(o, "required", p->required);
	cJSON_AddBoolToObject(o, "positional", p->positional);
	if (p->flag != 0)
		cJSON_AddStringToObject(o, "flag", flag);
	help_bounds(o, p);
	cJSON_AddStringToObject(o, "summary", p->summary);
	return o;
}

static cJSON *help_command(const struct cmd *c)
{
	cJSON *o = cJSON_CreateObject(), *ps = cJSON_CreateArray();

	if (o == NULL || ps == NULL) {
		cJSON_Delete(o), cJSON_Delete(ps);
		return NULL;
	}
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddBoolToObject(o, "readonly", (c->flags & CMD_READONLY) != 0);
	cJSON_AddStringToObject(o, "usage", c->usage);
	cJSON_AddStringToObject(o, "summary", c->summary);
	for (size_t i = 0; i < CMD_MAXPARAMS && c->params[i].name != NULL; i++)
		cJSON_AddItemToArray(ps, help_param(&c->params[i]));
	cJSON_AddItemToObject(o, "params", ps);
	return o;
}

cJSON *cmd_help_json(const struct cmd *c)
{
	cJSON *o = cJSON_CreateObject(), *list = cJSON_CreateArray();
	size_t n;
	const struct cmd *t = cmd_table(&n);

	if (o == NULL || list == NULL) {
		cJSON_Delete(o), cJSON_Delete(list);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (c == NULL || c == &t[i])
			cJSON_AddItemToArray(list, help_command(&t[i]));
	}
	cJSON_AddItemToObject(o, "commands", list);
	return o;
}
