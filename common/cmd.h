/*
 * The control commands: one table shared by the daemon (validation and
 * dispatch of JSON-RPC methods) and wsctl (argument parsing, help,
 * completion). A command is one row: name, read-only or admin, its params
 * with their types and bounds, usage and summary.
 *
 * Every function writes a human-readable reason into the caller's buffer
 * on failure and never logs: the caller decides what to do with it.
 */
#ifndef WSD_CMD_H
#define WSD_CMD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define CMD_ERRLEN 256
#define CMD_MAXPARAMS 4
#define CMD_PID_MAX 4194304 /* PID_MAX_LIMIT on 64-bit Linux */

/* Read-only commands may be run by members of control.readonly_group. */
enum cmd_flag {
	CMD_READONLY = 1 << 0,
	CMD_ADMIN = 1 << 1,    /* changes the server: logged with the caller */
	CMD_ONE_PARAM = 1 << 2 /* at least one param must be given */
};

enum cmd_type {
	CMD_T_INT,    /* integral JSON number in [min, max] */
	CMD_T_PID,    /* integral JSON number in [1, CMD_PID_MAX] */
	CMD_T_NUM,    /* finite JSON number in [min, max]: durations, in seconds */
	CMD_T_ENUM,   /* JSON string, one of choices */
	CMD_T_STRING, /* JSON string, UTF-8, at most max bytes */
	CMD_T_BOOL    /* JSON true or false; on wsctl's command line, a flag */
};

struct cmd_param {
	const char *name;
	enum cmd_type type;
	int required;
	int positional;             /* wsctl: may be given as a bare word, in table order */
	char flag;                  /* wsctl: short option letter, or 0 */
	double min, max;            /* INT, NUM: bounds; STRING: max is the byte length */
	const char *const *choices; /* ENUM: NULL-terminated */
	const char *summary;
};

struct cmd {
	const char *name;
	int flags;
	const char *usage; /* arguments as wsctl takes them, after the name */
	const char *summary;
	/* wsctl: seconds to wait for the reply when no -t and no timeout param */
	unsigned wait_s;
	struct cmd_param params[CMD_MAXPARAMS]; /* unused rows have name == NULL */
	/* Cross-param rules (min <= max, pid only for a worker); NULL = none. */
	int (*check)(const cJSON *params, char *err, size_t errlen);
};

/* Every command, in table order, and how many. */
const struct cmd *cmd_table(size_t *n);

/* Exactly this name, or NULL: what the daemon dispatches on. */
const struct cmd *cmd_find(const char *name);

/*
 * A name or an unambiguous prefix of one (an exact name always wins), as
 * wsctl takes it. NULL with "unknown command: x" or "ambiguous command: re,
 * could be: reload, restart" in err.
 */
const struct cmd *cmd_lookup(const char *name, char *err, size_t errlen);

/* The param row called name, or NULL. */
const struct cmd_param *cmd_param(const struct cmd *c, const char *name);

/*
 * Check a params object (NULL = absent = empty) against the table: an
 * object, no unknown or repeated param, each of the right type and within
 * bounds, every required one present, then the command's own rules.
 * 0, or -1 with a precise reason in err ("scale: param 'min': must be an
 * integer from 1 to 4096, got 0").
 */
int cmd_validate(const struct cmd *c, const cJSON *params, char *err, size_t errlen);

/*
 * wsctl: the words after the command name ("--min 2 --max=16",
 * "worker 1234 --timeout 5", "-f") into a params object, validated as
 * the daemon will. Returns a new object, or NULL with the reason in err.
 */
cJSON *cmd_parse_args(const struct cmd *c, int argc, char *const argv[], char *err, size_t errlen);

/*
 * The table as JSON: {"commands": [{"name", "readonly", "usage", "summary",
 * "params": [{"name", "type", "required", ...}]}]}; only command c when
 * not NULL. NULL only when out of memory.
 */
cJSON *cmd_help_json(const struct cmd *c);

/* Type-checked reads of a validated params object (def when absent). */
int64_t cmd_get_int(const cJSON *params, const char *name, int64_t def);
double cmd_get_num(const cJSON *params, const char *name, double def);
const char *cmd_get_str(const cJSON *params, const char *name, const char *def);
int cmd_get_bool(const cJSON *params, const char *name, int def);

/*
 * Index of word among names[0..n): exact, or the only name it prefixes;
 * -1 with "unknown WHAT: x" or "ambiguous WHAT: x, could be: a, b" in err.
 */
int cmd_match_word(const char *word, const char *const *names, size_t n, const char *what,
    char *err, size_t errlen);

/* How many choices an ENUM param has. */
size_t cmd_choices(const struct cmd_param *p);

/* "integer", "pid", "number", "enum", "string", "boolean". */
const char *cmd_type_name(enum cmd_type t);

#endif
