/*
 * wsctl's output: a command's result as JSON (--json) or for humans
 * (aligned tables; colour only on a terminal and never with NO_COLOR).
 * The human printers follow the result shapes in docs/control-protocol.md;
 * a member they do not know is left out, never a crash, and a result of
 * an unknown shape is printed as JSON.
 */
#ifndef WSD_OUTPUT_H
#define WSD_OUTPUT_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "cmd.h"

struct out {
	FILE *f;
	int json;
	int color;
};

/* Colour when f is a terminal, NO_COLOR is unset or empty, and not json. */
void out_init(struct out *o, FILE *f, int json);

/* The result of command c. */
void out_result(struct out *o, const struct cmd *c, const cJSON *result);

/* One event pushed while following (events -f). */
void out_event(struct out *o, const cJSON *event);

/* An error reply, on f (stderr): "wsctl: CMD: message" and its data. */
void out_error(FILE *f, const struct cmd *c, int code, const char *message, const cJSON *data);

/* --json: the error object of a reply, on o's stream, for scripts. */
void out_error_json(struct out *o, const cJSON *reply);

/* Help from the command table: every command, or one with its params. */
void out_help(FILE *f, const struct cmd *c);

/* "1h02m03s", "4.2s", "830ms" for a duration in seconds. */
void out_duration(double s, char *buf, size_t len);
/* "117.7 MiB" */
void out_bytes(double n, char *buf, size_t len);

#endif
