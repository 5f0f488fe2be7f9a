/*
 * wsctl's printers. One per command's result, each reading only the
 * members it knows, plus an aligned-table helper. Missing members print
 * as "-" so an older or newer server never breaks the client.
 */
#include "output.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonrpc.h"

#define CELL 128
#define TABLE_MAXCOLS 12

#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_BOLD "\033[1m"
#define C_OFF "\033[0m"

struct cell {
	char text[CELL];
	const char *color;
};

struct table {
	const char *const *head;
	size_t ncols, nrows, cap;
	struct cell *cells;
};

void out_init(struct out *o, FILE *f, int json)
{
	const char *nc = getenv("NO_COLOR");

	o->f = f;
	o->json = json;
	o->color = !json && isatty(fileno(f)) && (nc == NULL || nc[0] == '\0');
}

static const char *jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *name, double *d)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v))
		return 0;
	*d = v->valuedouble;
	return 1;
}

static double jnum_or(const cJSON *o, const char *name, double def)
{
	double d;

	return jnum(o, name, &d) ? d : def;
}

void out_duration(double s, char *buf, size_t len)
{
	unsigned long t = (unsigned long)s;

	if (s < 1)
		snprintf(buf, len, "%.0fms", s * 1000);
	else if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 3600)
		snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%luh%02lum%02lus", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lud%02luh%02lum", t / 86400, t / 3600 % 24, t / 60 % 60);
}

void out_bytes(double n, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	size_t u = 0;

	while (n >= 1024 && u < sizeof(units) / sizeof(units[0]) - 1)
		n /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

static void table_init(struct table *t, const char *const *head, size_t ncols)
{
	*t = (struct table){.head = head, .ncols = ncols};
}

/* A new row of empty cells; NULL when out of memory. */
static struct cell *table_row(struct table *t)
{
	struct cell *row;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct cell *c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (c == NULL)
			return NULL;
		t->cells = c, t->cap = cap;
	}
	row = &t->cells[t->nrows++ * t->ncols];
	for (size_t i = 0; i < t->ncols; i++)
		row[i] = (struct cell){"-", NULL};
	return row;
}

static void cell_printf(struct cell *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cell_printf(struct cell *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->text, sizeof(c->text), fmt, ap);
	va_end(ap);
}

static void cell_num(struct cell *c, const cJSON *o, const char *name)
{
	double d;

	if (jnum(o, name, &d))
		cell_printf(c, "%.0f", d);
}

static void table_line(struct out *o, const struct table *t, const size_t *w, size_t r)
{
	for (size_t i = 0; i < t->ncols; i++) {
		const struct cell *c = &t->cells[r * t->ncols + i];
		int last = i + 1 == t->ncols;
		int color = o->color && c->color != NULL;

		fprintf(o->f, "%s%s%s%*s", color ? c->color : "", c->text, color ? C_OFF : "",
		    last ? 0 : (int)(w[i] - strlen(c->text) + 2), "");
	}
	fputc('\n', o->f);
}

/* Print with every column as wide as its widest cell, then free. */
static void table_print(struct out *o, struct table *t)
{
	size_t w[TABLE_MAXCOLS];

	for (size_t i = 0; i < t->ncols; i++) {
		w[i] = strlen(t->head[i]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t n = strlen(t->cells[r * t->ncols + i].text);

			w[i] = n > w[i] ? n : w[i];
		}
	}
	for (size_t i = 0; i < t->ncols; i++)
		fprintf(o->f, "%s%s%s%*s", o->color ? C_BOLD : "", t->head[i],
		    o->color ? C_OFF : "",
		    i + 1 == t->ncols ? 0 : (int)(w[i] - strlen(t->head[i]) + 2), "");
	fputc('\n', o->f);
	for (size_t r = 0; r < t->nrows; r++)
		table_line(o, t, w, r);
	free(t->cells);
	t->cells = NULL;
}

static const char *state_color(const char *state)
{
	if (state == NULL)
		return NULL;
	if (strcmp(state, "running") == 0)
		return C_GREEN;
	if (strcmp(state, "starting") == 0 || strcmp(state, "draining") == 0)
		return C_YELLOW;
	return C_RED;
}

static void print_server(struct out *o, const cJSON *s)
{
	const cJSON *lr = cJSON_GetObjectItemCaseSensitive(s, "last_reload");
	char up[32] = "-";
	double d;

	if (jnum(s, "uptime", &d))
		out_duration(d, up, sizeof(up));
	fprintf(o->f, "wsd %s, pid %.0f, up %s, listening on %s\n", jstr(s, "version") ?: "-",
	    jnum_or(s, "pid", 0), up, jstr(s, "listen") ?: "-");
	fprintf(o->f, "root %s; config %s (generation %.0f)", jstr(s, "root") ?: "-",
	    jstr(s, "config_file") ?: "none", jnum_or(s, "config_generation", 0));
	if (cJSON_IsObject(lr))
		fprintf(o->f, "; last reload %s at %s%s%s", jstr(lr, "result") ?: "-",
		    jstr(lr, "time") ?: "-", jstr(lr, "message") ? ": " : "",
		    jstr(lr, "message") ?: "");
	fputc('\n', o->f);
}

static void print_histogram(struct out *o, const cJSON *h)
{
	const cJSON *bounds = cJSON_GetObjectItemCaseSensitive(h, "bounds_ms");
	const cJSON *counts = cJSON_GetObjectItemCaseSensitive(h, "counts");
	int n = cJSON_GetArraySize(counts);

	if (!cJSON_IsArray(bounds) || !cJSON_IsArray(counts) || n == 0)
		return;
	fprintf(o->f, "response times:");
	for (int i = 0; i < n; i++) {
		const cJSON *b = cJSON_GetArrayItem(bounds, i), *c = cJSON_GetArrayItem(counts, i);

		if (cJSON_IsNumber(b))
			fprintf(o->f, " <=%gms %.0f", b->valuedouble, c ? c->valuedouble : 0);
		else
			fprintf(o->f, " more %.0f", c ? c->valuedouble : 0);
	}
	fputc('\n', o->f);
}

static void print_totals(struct out *o, const cJSON *t)
{
	char bytes[32];

	out_bytes(jnum_or(t, "bytes", 0), bytes, sizeof(bytes));
	fprintf(o->f,
	    "totals: %.0f connections (%.0f active), %.0f requests, %s, %.2f ms average\n",
	    jnum_or(t, "connections", 0), jnum_or(t, "active", 0), jnum_or(t, "requests", 0), bytes,
	    jnum_or(t, "avg_response_ms", 0));
	print_histogram(o, cJSON_GetObjectItemCaseSensitive(t, "histogram"));
}

/* The pool policy's last decisions, one line each: "  10:41:07 scale up 4→8: ...". */
static void print_decisions(struct out *o, const cJSON *a)
{
	const cJSON *e;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return;
	fprintf(o->f, "pool decisions:\n");
	cJSON_ArrayForEach(e, a)
	{
		const char *t = jstr(e, "time") ?: "";
		size_t tl = strlen(t);

		fprintf(o->f, "  %.8s %s %s\n", tl >= 19 ? t + 11 : t, jstr(e, "event") ?: "?",
		    jstr(e, "detail") ?: "");
	}
}

static void print_pool(struct out *o, const cJSON *p)
{
	const cJSON *eff = cJSON_GetObjectItemCaseSensitive(p, "effective");
	const cJSON *conf = cJSON_GetObjectItemCaseSensitive(p, "configured");

	fprintf(o->f,
	    "pool: %.0f workers, min %.0f max %.0f (configured %.0f..%.0f), limit %.0f; workload "
	    "%.0f (at most %.0f each), queue %.0f\n",
	    jnum_or(p, "current", 0), jnum_or(eff, "min", 0), jnum_or(eff, "max", 0),
	    jnum_or(conf, "min", 0), jnum_or(conf, "max", 0), jnum_or(p, "limit", 0),
	    jnum_or(p, "workload", 0), jnum_or(p, "max_workload", 0), jnum_or(p, "queue", 0));
	print_decisions(o, cJSON_GetObjectItemCaseSensitive(p, "decisions"));
}

static const char *const proc_head[] = {"ROLE", "PID", "STATE", "UPTIME", "HEARTBEAT", "MISSED",
    "RESTARTS", "CONNS", "REQUESTS", "BYTES", "LAST EXIT"};

static void process_row(struct table *t, const char *role, const cJSON *p)
{
	struct cell *c = table_row(t);
	double d;

	if (c == NULL)
		return;
	cell_printf(&c[0], "%s", role);
	cell_num(&c[1], p, "pid");
	cell_printf(&c[2], "%s", jstr(p, "state") ?: "-");
	c[2].color = state_color(jstr(p, "state"));
	if (jnum(p, "backoff_ms", &d) && d > 0)
		cell_printf(&c[2], "backoff %.0fms", d), c[2].color = C_RED;
	if (jnum(p, "uptime", &d))
		out_duration(d, c[3].text, sizeof(c[3].text));
	if (jnum(p, "heartbeat_age_ms", &d))
		cell_printf(&c[4], "%.0fms ago", d);
	cell_num(&c[5], p, "missed");
	cell_num(&c[6], p, "restarts");
	cell_num(&c[7], p, "connections");
	cell_num(&c[8], p, "requests");
	if (jnum(p, "bytes", &d))
		out_bytes(d, c[9].text, sizeof(c[9].text));
	cell_printf(&c[10], "%s", jstr(p, "last_exit") ?: "-");
}

static void print_roles(struct out *o, const cJSON *roles)
{
	struct table t;
	const cJSON *r, *p;

	table_init(&t, proc_head, sizeof(proc_head) / sizeof(proc_head[0]));
	cJSON_ArrayForEach(r, roles)
	{
		cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(r, "processes"))
		{
			process_row(&t, r->string, p);
		}
	}
	fputc('\n', o->f);
	table_print(o, &t);
}

static void print_status(struct out *o, const cJSON *res)
{
	print_server(o, cJSON_GetObjectItemCaseSensitive(res, "server"));
	print_totals(o, cJSON_GetObjectItemCaseSensitive(res, "totals"));
	print_pool(o, cJSON_GetObjectItemCaseSensitive(res, "pool"));
	print_roles(o, cJSON_GetObjectItemCaseSensitive(res, "roles"));
}

static void print_scale(struct out *o, const cJSON *res)
{
	const cJSON *old = cJSON_GetObjectItemCaseSensitive(res, "old");
	const cJSON *new = cJSON_GetObjectItemCaseSensitive(res, "new");

	fprintf(o->f, "pool min %.0f -> %.0f, max %.0f -> %.0f\n", jnum_or(old, "min", 0),
	    jnum_or(new, "min", 0), jnum_or(old, "max", 0), jnum_or(new, "max", 0));
}

static const char *const restart_head[] = {"ROLE", "OLD PID", "NEW PID", "TOOK", "KILLED"};

static void restart_row(struct table *t, const cJSON *r, const char *role)
{
	struct cell *c = table_row(t);
	const cJSON *k = cJSON_GetObjectItemCaseSensitive(r, "killed");
	double d;

	if (c == NULL)
		return;
	cell_printf(&c[0], "%s", jstr(r, "role") ?: role);
	cell_num(&c[1], r, "old_pid");
	cell_num(&c[2], r, "new_pid");
	if (jnum(r, "seconds", &d))
		out_duration(d, c[3].text, sizeof(c[3].text));
	cell_printf(&c[4], "%s", cJSON_IsTrue(k) ? "yes" : "no");
	c[4].color = cJSON_IsTrue(k) ? C_RED : NULL;
}

/* One row per replaced process ("replaced" for workers), or the result itself. */
static void print_restart(struct out *o, const cJSON *res)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(res, "replaced"), *r;
	const char *target = jstr(res, "target") ?: "-";
	struct table t;

	table_init(&t, restart_head, sizeof(restart_head) / sizeof(restart_head[0]));
	if (cJSON_IsArray(list)) {
		cJSON_ArrayForEach(r, list) { restart_row(&t, r, "worker"); }
	} else {
		restart_row(&t, res, target);
	}
	table_print(o, &t);
}

static const char *const reload_head[] = {"KEY", "OLD", "NEW", "APPLIED"};

static void print_reload(struct out *o, const cJSON *res)
{
	const cJSON *ch, *changes = cJSON_GetObjectItemCaseSensitive(res, "changes");
	struct table t;

	fprintf(o->f, "reload %s (generation %.0f)\n", jstr(res, "result") ?: "-",
	    jnum_or(res, "generation", 0));
	if (cJSON_GetArraySize(changes) == 0)
		return;
	table_init(&t, reload_head, sizeof(reload_head) / sizeof(reload_head[0]));
	cJSON_ArrayForEach(ch, changes)
	{
		struct cell *c = table_row(&t);

		if (c == NULL)
			break;
		cell_printf(&c[0], "%s", jstr(ch, "key") ?: "-");
		cell_printf(&c[1], "%s", jstr(ch, "old") ?: "-");
		cell_printf(&c[2], "%s", jstr(ch, "new") ?: "-");
		cell_printf(&c[3], "%s", jstr(ch, "applied") ?: "-");
	}
	table_print(o, &t);
}

static const char *const event_head[] = {"SEQ", "TIME", "ROLE", "PID", "EVENT", "DETAIL"};

static void event_row(struct table *t, const cJSON *e)
{
	struct cell *c = table_row(t);

	if (c == NULL)
		return;
	cell_num(&c[0], e, "seq");
	cell_printf(&c[1], "%s", jstr(e, "time") ?: "-");
	cell_printf(&c[2], "%s", jstr(e, "role") ?: "-");
	cell_num(&c[3], e, "pid");
	cell_printf(&c[4], "%s", jstr(e, "event") ?: "-");
	cell_printf(&c[5], "%s", jstr(e, "detail") ?: "-");
}

static void print_events(struct out *o, const cJSON *res)
{
	const cJSON *e;
	struct table t;

	table_init(&t, event_head, sizeof(event_head) / sizeof(event_head[0]));
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(res, "events")) { event_row(&t, e); }
	table_print(o, &t);
}

void out_event(struct out *o, const cJSON *event)
{
	char *s;

	if (o->json) {
		if ((s = cJSON_PrintUnformatted(event)) != NULL)
			fprintf(o->f, "%s\n", s);
		free(s);
	} else {
		fprintf(o->f, "%-6.0f  %-24s  %-8s  %-7.0f  %-10s  %s\n", jnum_or(event, "seq", 0),
		    jstr(event, "time") ?: "-", jstr(event, "role") ?: "-",
		    jnum_or(event, "pid", 0), jstr(event, "event") ?: "-",
		    jstr(event, "detail") ?: "");
	}
	fflush(o->f);
}

static void print_pids(struct out *o, const char *what, const cJSON *list)
{
	const cJSON *p;

	if (cJSON_GetArraySize(list) == 0)
		return;
	fprintf(o->f, "%s:", what);
	cJSON_ArrayForEach(p, list)
	{
		fprintf(o->f, " %s %.0f", jstr(p, "role") ?: "-", jnum_or(p, "pid", 0));
	}
	fputc('\n', o->f);
}

static void print_stop(struct out *o, const cJSON *res)
{
	char took[32];

	out_duration(jnum_or(res, "seconds", 0), took, sizeof(took));
	fprintf(o->f, "stopped in %s\n", took);
	print_pids(o, "stopped", cJSON_GetObjectItemCaseSensitive(res, "stopped"));
	print_pids(o, "killed", cJSON_GetObjectItemCaseSensitive(res, "killed"));
}

static void print_drain(struct out *o, const cJSON *res)
{
	char took[32];

	out_duration(jnum_or(res, "seconds", 0), took, sizeof(took));
	fprintf(o->f, "worker %.0f drained in %s%s\n", jnum_or(res, "pid", 0), took,
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "killed")) ? " (killed)" : "");
}

static void print_log_reopen(struct out *o, const cJSON *res)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(res, "reopened"), *f;

	fprintf(o->f, "reopened:");
	/* An empty list: wsd has no log file, it logs to standard error. */
	if (cJSON_GetArraySize(list) == 0)
		fprintf(o->f, " no log file (logging to standard error)");
	cJSON_ArrayForEach(f, list)
	{
		fprintf(o->f, " %s", cJSON_IsString(f) ? f->valuestring : "?");
	}
	fputc('\n', o->f);
}

static void print_version(struct out *o, const cJSON *res)
{
	fprintf(o->f, "wsd %s (control protocol %.0f)\n", jstr(res, "version") ?: "-",
	    jnum_or(res, "protocol", 0));
}

/* The exposition text as it is, for a scraper's eyes or a pipe. */
static void print_metrics(struct out *o, const cJSON *res) { fputs(jstr(res, "text") ?: "", o->f); }

static void print_json(struct out *o, const cJSON *res)
{
	char *s = cJSON_Print(res);

	fprintf(o->f, "%s\n", s != NULL ? s : "null");
	free(s);
}

static const struct printer {
	const char *cmd;
	void (*print)(struct out *, const cJSON *);
} printers[] = {
    {"status", print_status},
    {"scale", print_scale},
    {"restart", print_restart},
    {"reload", print_reload},
    {"events", print_events},
    {"stop", print_stop},
    {"drain", print_drain},
    {"log-reopen", print_log_reopen},
    {"version", print_version},
    {"metrics", print_metrics},
};

void out_result(struct out *o, const struct cmd *c, const cJSON *result)
{
	if (!o->json && cJSON_IsObject(result)) {
		for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++) {
			if (strcmp(printers[i].cmd, c->name) == 0) {
				printers[i].print(o, result);
				return;
			}
		}
	}
	print_json(o, result);
}

void out_error_json(struct out *o, const cJSON *reply)
{
	print_json(o, cJSON_GetObjectItemCaseSensitive(reply, "error"));
}

void out_error(FILE *f, const struct cmd *c, int code, const char *message, const cJSON *data)
{
	const cJSON *d;
	char *s;

	fprintf(f, "wsctl: %s: %s (%s, %d)\n", c->name, message, rpc_code_text(code), code);
	if (cJSON_IsObject(data)) {
		cJSON_ArrayForEach(d, data)
		{
			s = cJSON_IsString(d) ? NULL : cJSON_PrintUnformatted(d);
			fprintf(f, "  %s: %s\n", d->string, s ? s : d->valuestring);
			free(s);
		}
	} else if (data != NULL && (s = cJSON_PrintUnformatted(data)) != NULL) {
		fprintf(f, "  %s\n", s);
		free(s);
	}
}

static void help_param(FILE *f, const struct cmd_param *p)
{
	char flag[8] = "";

	if (p->flag)
		snprintf(flag, sizeof(flag), "-%c, ", p->flag);
	if (p->positional)
		fprintf(f, "  %-22s %s", p->name, p->summary);
	else
		fprintf(f, "  %s--%-*s %s", flag, (int)(20 - strlen(flag)), p->name, p->summary);
	if (p->type == CMD_T_INT || p->type == CMD_T_NUM)
		fprintf(f, " (%g to %g%s)", p->min, p->max, p->type == CMD_T_NUM ? " s" : "");
	fputc('\n', f);
}

void out_help(FILE *f, const struct cmd *c)
{
	size_t n;
	const struct cmd *t = cmd_table(&n);

	if (c != NULL) {
		fprintf(f, "usage: wsctl %s %s\n%s%s\n", c->name, c->usage, c->summary,
		    (c->flags & CMD_READONLY) ? " (read-only)" : "");
		for (size_t i = 0; i < CMD_MAXPARAMS && c->params[i].name != NULL; i++)
			help_param(f, &c->params[i]);
		return;
	}
	fprintf(f, "commands (any unambiguous prefix will do):\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-11s %s\n", t[i].name, t[i].summary);
}
